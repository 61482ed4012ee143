//! ansible.builtin modules through the real binary, on two SSH hosts of a loopback [`Lab`] and
//! this machine over `ansible_connection=local`, in one inventory. Each scenario that changes
//! files runs in check mode first (nothing changes), then twice (the second run changes
//! nothing). The playbooks' `assert` tasks hold what ansible-core 2.19 registered for the same
//! tasks (`ansible-playbook -c local`, same files).

use crate::util::{json_events, prov};
use prov_testkit::Lab;
use serde_json::Value as Json;
use std::path::{Path, PathBuf};

/// Two lab hosts (`h01`, `h02`) and `local`, each with its own `host_root`.
struct Hosts {
    lab: Lab,
    work: tempfile::TempDir,
}

struct Run {
    code: i32,
    events: Vec<Json>,
    text: String,
}

impl Run {
    fn changed(&self) -> u64 {
        crate::util::recap_changed(&self.events)
    }

    fn of(&self, task: &str) -> Vec<&Json> {
        self.events.iter().filter(|e| e["event"] == "host_result" && e["name"] == task).collect()
    }
}

impl Hosts {
    /// Starts the lab and writes `site.yml` and the inventory.
    fn new(site: &str) -> Hosts {
        let lab = Lab::start(2).expect("lab (needs openssh-server)");
        let work = tempfile::tempdir().expect("tempdir");
        let local = work.path().join("local-root");
        std::fs::create_dir_all(&local).expect("mkdir");
        let inv = format!("[t]\n{}local ansible_connection=local host_root={}\n", lab.host_lines(), local.display());
        std::fs::write(work.path().join("hosts.ini"), inv).expect("inventory");
        std::fs::write(work.path().join("site.yml"), site).expect("playbook");
        Hosts { lab, work }
    }

    /// Every host's root directory.
    fn roots(&self) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = self.lab.hosts.iter().map(|h| h.root.clone()).collect();
        v.push(self.work.path().join("local-root"));
        v
    }

    /// Writes `name` under every host's root.
    fn put(&self, name: &str, body: &str) {
        for r in self.roots() {
            let p = r.join(name);
            std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
            std::fs::write(p, body).expect("write");
        }
    }

    fn dir(&self) -> &Path {
        self.work.path()
    }

    fn run(&self, extra: &[&str]) -> Run {
        let kh = self.lab.known_hosts().display().to_string();
        let mut args = vec!["apply", "site.yml", "-i", "hosts.ini", "--known-hosts", &kh, "--output", "json"];
        args.extend_from_slice(extra);
        let (code, events, text) = json_events(&prov(self.dir(), &args));
        Run { code, events, text }
    }

    /// The same file on every host.
    fn read(&self, name: &str) -> String {
        let all: Vec<String> =
            self.roots().iter().map(|r| std::fs::read_to_string(r.join(name)).unwrap_or_default()).collect();
        assert!(all.windows(2).all(|w| w[0] == w[1]), "{name} differs between hosts: {all:?}");
        all[0].clone()
    }
}

#[test]
fn ping_and_slurp_read_and_raw_runs() {
    let h = Hosts::new(
        r#"- hosts: all
  gather_facts: false
  tasks:
    - name: ping
      ansible.builtin.ping:
      register: p
    - name: slurp
      slurp: src={{ host_root }}/in.txt
      register: s
    - name: slurp missing
      slurp: path={{ host_root }}/nope
      register: m
      ignore_errors: true
    - name: raw
      raw: printf 'ran\n' >> {{ host_root }}/raw.log; echo done
      register: rw
    - name: as ansible-core registered them
      assert:
        that:
          - p.ping == 'pong'
          - not p.changed
          - s.content == 'aGVsbG8Kd29ybGQK'
          - s.encoding == 'base64'
          - s.source == host_root ~ '/in.txt'
          - s.content | b64decode == 'hello\nworld\n'
          - m.failed
          - "m.msg == 'File not found: ' ~ host_root ~ '/nope'"
    - name: raw as ansible-core registered it
      assert:
        that:
          - rw.changed
          - rw.rc == 0
          - rw.stdout == 'done\n'
          - rw.stdout_lines == ['done']
      when: not ansible_check_mode
"#,
    );
    h.put("in.txt", "hello\nworld\n");
    let r = h.run(&["--check"]);
    assert_eq!(r.code, 0, "{}", r.text);
    assert_eq!(r.changed(), 0, "{}", r.text);
    assert!(r.of("raw").iter().all(|e| e["status"] == "skipped"), "{}", r.text);
    assert!(!h.roots()[0].join("raw.log").exists(), "check mode ran raw");
    for round in 1..=2 {
        let r = h.run(&[]);
        assert_eq!(r.code, 0, "{}", r.text);
        assert_eq!(r.changed(), 3, "only raw changes, once per host: {}", r.text);
        assert_eq!(h.read("raw.log").lines().count(), round);
    }
}

const BLOCK_SITE: &str = r##"- hosts: all
  gather_facts: false
  tasks:
    - name: block
      blockinfile:
        path: "{{ host_root }}/etc/app.conf"
        block: |
          listen 8080
          workers 4
        backup: true
      register: b
    - name: second block before the first line
      blockinfile:
        dest: "{{ host_root }}/etc/app.conf"
        marker: "<!-- {mark} -->"
        content: "z"
        insertbefore: "^x"
        mode: "0600"
      register: b2
    - name: drop the old block
      blockinfile:
        path: "{{ host_root }}/etc/app.conf"
        marker: "# {mark} OLD"
        state: absent
    - name: new file
      blockinfile:
        path: "{{ host_root }}/new/f"
        block: k=v
        create: true
      register: c
    - name: missing file
      blockinfile:
        path: "{{ host_root }}/nope"
        block: k=v
      register: m
      ignore_errors: true
    - name: as ansible-core registered them
      assert:
        that:
          - m.failed
          - m.msg == 'Path ' ~ host_root ~ '/nope does not exist !'
          - m.rc == 257
    - name: first run as ansible-core registered it
      assert:
        that:
          - b.msg == 'Block inserted'
          - b.backup_file is defined
          - b2.msg == 'Block inserted and ownership, perms or SE linux context changed'
          - c.msg == 'File created'
      when: b.changed and not ansible_check_mode
"##;

#[test]
fn blockinfile_inserts_updates_and_removes_blocks_once() {
    let h = Hosts::new(BLOCK_SITE);
    let before =
        "x\n# BEGIN OLD\nold\n# END OLD\n# BEGIN ANSIBLE MANAGED BLOCK\nlisten 80\n# END ANSIBLE MANAGED BLOCK\ny\n";
    h.put("etc/app.conf", before);
    let r = h.run(&["--check", "--diff"]);
    assert_eq!(r.code, 0, "{}", r.text);
    assert_eq!(r.changed(), 12, "four changes on each of three hosts: {}", r.text);
    assert_eq!(h.read("etc/app.conf"), before, "check mode changed the file");
    assert!(!h.roots()[0].join("new").exists());
    let d = &r.of("block")[0]["diff"][0];
    assert_eq!(d["before"], before);
    assert!(d["after"].as_str().unwrap_or_default().contains("listen 8080\nworkers 4\n"), "{d}");
    let r = h.run(&[]);
    assert_eq!(r.code, 0, "{}", r.text);
    assert_eq!(r.changed(), 12, "{}", r.text);
    // What ansible-core 2.19 wrote from the same file with the same tasks.
    let want = "<!-- BEGIN -->\nz\n<!-- END -->\nx\n# BEGIN ANSIBLE MANAGED BLOCK\nlisten 8080\nworkers 4\n\
                # END ANSIBLE MANAGED BLOCK\ny\n";
    assert_eq!(h.read("etc/app.conf"), want);
    assert_eq!(h.read("new/f"), "# BEGIN ANSIBLE MANAGED BLOCK\nk=v\n# END ANSIBLE MANAGED BLOCK\n");
    use std::os::unix::fs::PermissionsExt;
    for root in h.roots() {
        let mode = std::fs::metadata(root.join("etc/app.conf")).expect("stat").permissions().mode();
        assert_eq!(mode & 0o7777, 0o600);
        let backups = std::fs::read_dir(root.join("etc")).expect("dir").count();
        assert_eq!(backups, 2, "the file and one backup");
    }
    let r = h.run(&["--diff"]);
    assert_eq!(r.code, 0, "{}", r.text);
    assert_eq!(r.changed(), 0, "{}", r.text);
}

const REPLACE_SITE: &str = r##"- hosts: all
  gather_facts: false
  tasks:
    - name: port
      replace:
        path: "{{ host_root }}/app.conf"
        regexp: '^port=\d+$'
        replace: port=8080
        mode: "0600"
      register: p
    - name: only between the markers
      replace:
        path: "{{ host_root }}/app.conf"
        after: '\[web\]'
        before: '\[db\]'
        regexp: '^(\s*)host=.*$'
        replace: '\1host=0.0.0.0'
      register: s
    - name: no section
      replace:
        path: "{{ host_root }}/app.conf"
        after: nomatch
        regexp: x
      register: n
    - name: as ansible-core registered them
      assert:
        that:
          - "n.msg == 'Pattern for before/after params did not match the given file: nomatch(?P<subsection>.*)'"
          - not n.changed
          - n.rc == 0
    - name: first run as ansible-core registered it
      assert:
        that:
          - p.msg == '1 replacements made and ownership, perms or SE linux context changed'
          - s.msg == '1 replacements made'
          - p.rc == 0
      when: p.changed and not ansible_check_mode
"##;

#[test]
fn replace_replaces_within_sections_once() {
    let h = Hosts::new(REPLACE_SITE);
    let before = "port=80\n[web]\n  host=127.0.0.1\n[db]\nhost=127.0.0.1\n";
    h.put("app.conf", before);
    let r = h.run(&["--check", "--diff"]);
    assert_eq!(r.code, 0, "{}", r.text);
    assert_eq!(r.changed(), 6, "{}", r.text);
    assert_eq!(h.read("app.conf"), before);
    let r = h.run(&[]);
    assert_eq!(r.code, 0, "{}", r.text);
    assert_eq!(r.changed(), 6, "{}", r.text);
    assert_eq!(h.read("app.conf"), "port=8080\n[web]\n  host=0.0.0.0\n[db]\nhost=127.0.0.1\n");
    let r = h.run(&[]);
    assert_eq!(r.code, 0, "{}", r.text);
    assert_eq!(r.changed(), 0, "{}", r.text);
}

const FETCH_SITE: &str = r##"- hosts: all
  gather_facts: false
  tasks:
    - name: tree
      fetch: {src: "{{ host_root }}/t", dest: fetched}
      register: f
    - name: flat
      fetch: {src: "{{ host_root }}/t", dest: "flat/{{ inventory_hostname }}/", flat: true}
      register: g
    - name: missing
      fetch: {src: "{{ host_root }}/nope", dest: fetched, fail_on_missing: false}
      register: m
    - name: as ansible-core registered them
      assert:
        that:
          - "m.msg == 'the remote file does not exist, not transferring, ignored'"
          - not m.changed
          - f.checksum == '17fe9e250f7d8d1c041407713494224516c5f410'
          - f.md5sum is defined
          - f.dest.endswith('/fetched/' ~ inventory_hostname ~ host_root ~ '/t')
          - g.dest.endswith('/flat/' ~ inventory_hostname ~ '/t')
      when: not ansible_check_mode
"##;

#[test]
fn fetch_copies_each_hosts_file_to_the_controller_once() {
    let h = Hosts::new(FETCH_SITE);
    h.put("t", "token-1\n");
    let r = h.run(&["--check"]);
    assert_eq!(r.code, 0, "{}", r.text);
    assert_eq!(r.changed(), 0, "{}", r.text);
    assert!(r.of("tree").iter().all(|e| e["status"] == "skipped"), "skipped in check mode, as in Ansible: {}", r.text);
    assert!(!h.dir().join("fetched").exists() && !h.dir().join("flat").exists());
    let r = h.run(&[]);
    assert_eq!(r.code, 0, "{}", r.text);
    assert_eq!(r.changed(), 6, "{}", r.text);
    let mut names: Vec<String> = h.lab.hosts.iter().map(|x| x.name.clone()).collect();
    names.push("local".into());
    for (name, root) in names.iter().zip(h.roots()) {
        let tree = h.dir().join("fetched").join(name).join(root.strip_prefix("/").expect("absolute")).join("t");
        assert_eq!(std::fs::read_to_string(&tree).unwrap_or_default(), "token-1\n", "{}", tree.display());
        assert_eq!(std::fs::read_to_string(h.dir().join("flat").join(name).join("t")).unwrap_or_default(), "token-1\n");
    }
    let r = h.run(&[]);
    assert_eq!(r.code, 0, "{}", r.text);
    assert_eq!(r.changed(), 0, "{}", r.text);
}

#[test]
fn tempfile_creates_a_new_private_path_each_run() {
    let h = Hosts::new(
        r##"- hosts: all
  gather_facts: false
  tasks:
    - name: temp
      tempfile: {path: "{{ host_root }}/tmp", suffix: .x}
      register: t
    - name: temp dir
      ansible.builtin.tempfile: {path: "{{ host_root }}/tmp", state: directory, prefix: p-}
      register: d
    - name: as ansible-core registered them
      assert:
        that:
          - t.changed
          - t.mode == '0600'
          - t.state == 'file'
          - t.size == 0
          - t.path.startswith(host_root ~ '/tmp/ansible.')
          - t.path.endswith('.x')
          - d.mode == '0700'
          - d.state == 'directory'
          - d.path.startswith(host_root ~ '/tmp/p-')
      when: not ansible_check_mode
"##,
    );
    h.put("tmp/.keep", "");
    let r = h.run(&["--check"]);
    assert_eq!(r.code, 0, "{}", r.text);
    assert!(r.of("temp").iter().all(|e| e["status"] == "skipped"), "skipped in check mode, as in Ansible: {}", r.text);
    for round in 1..=2 {
        let r = h.run(&[]);
        assert_eq!(r.code, 0, "{}", r.text);
        assert_eq!(r.changed(), 6, "always changed, as in Ansible: {}", r.text);
        for root in h.roots() {
            assert_eq!(std::fs::read_dir(root.join("tmp")).expect("dir").count(), 1 + 2 * round);
        }
    }
}

#[test]
fn script_runs_a_controller_script_once_with_creates() {
    let h = Hosts::new(
        r##"- hosts: all
  gather_facts: false
  tasks:
    - name: script
      script: setup.sh "{{ host_root }}/done" 'two words'
      args:
        creates: "{{ host_root }}/done"
      register: s
    - name: as ansible-core registered it
      assert:
        that:
          - s.changed
          - s.rc == 0
          - s.stdout == 'args:2 two words\n'
          - s.stdout_lines == ['args:2 two words']
          - s.stderr == 'note\n'
      when: s.changed and not ansible_check_mode
    - name: skipped as ansible-core registered it
      assert:
        that:
          - s.skipped
          - "s.msg == host_root ~ '/done exists, matching creates option'"
      when: not s.changed and not ansible_check_mode
"##,
    );
    std::fs::write(h.dir().join("setup.sh"), "#!/bin/sh\necho \"args:$# $2\"; echo note >&2; echo ok > \"$1\"\n")
        .expect("script");
    let r = h.run(&["--check"]);
    assert_eq!(r.code, 0, "{}", r.text);
    assert_eq!(r.changed(), 3, "with creates, check mode says it would run, as Ansible does: {}", r.text);
    assert!(!h.roots()[0].join("done").exists(), "check mode ran the script");
    let r = h.run(&[]);
    assert_eq!(r.code, 0, "{}", r.text);
    assert_eq!(r.changed(), 3, "{}", r.text);
    assert_eq!(h.read("done"), "ok\n");
    let r = h.run(&[]);
    assert_eq!(r.code, 0, "{}", r.text);
    assert_eq!(r.changed(), 0, "{}", r.text);
}

#[test]
fn what_the_new_modules_do_not_support_is_refused_before_connecting() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("hosts.ini"), "[all]\nh ansible_host=192.0.2.1\n").expect("inventory");
    std::fs::write(
        dir.path().join("site.yml"),
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - raw: echo hi creates=/x\n    - blockinfile: {path: /x, block: a, attributes: \"+i\"}\n    - replace: {path: /x, regexp: \"(?<=a+)b\"}\n    - tempfile: {prefix: a/b}\n",
    )
    .expect("playbook");
    let out = prov(dir.path(), &["apply", "site.yml", "-i", "hosts.ini"]);
    let (o, e) = crate::util::text(&out);
    assert_eq!(out.status.code(), Some(4), "{o}\n{e}");
    for want in [
        "site.yml:4:12: error: module `raw` has no argument `creates`",
        "site.yml:5:41: error: module `blockinfile` has no argument `attributes`",
        "site.yml:6:7: error: invalid arguments for `replace`: `regexp` is not a valid regular expression",
        "site.yml:7:7: error: invalid arguments for `tempfile`: prefix must be a valid file name component, got 'a/b'",
    ] {
        assert!(e.contains(want) || o.contains(want), "missing {want:?} in:\n{o}\n{e}");
    }
}

/// `..` in fetch's `dest` and `src` resolved as text; ansible-core 2.19 (`-c local`, playbook in
/// `pb/`) wrote `dest: ../out` to `out/HOST/SRC`, a flat `{{ playbook_dir }}/../keys/` to
/// `keys/t`, and `src: DIR/x/../x/t` to `o3/HOST/DIR/x/t`. A src that climbs out of dest fails
/// the task (ansible-core wrote outside dest) and names `src`.
const FETCH_DOTDOT_SITE: &str = r##"- hosts: all
  gather_facts: false
  tasks:
    - fetch: {src: "{{ host_root }}/x/t", dest: ../out}
      register: a
    - fetch: {src: "{{ host_root }}/x/t", dest: "{{ playbook_dir }}/../keys/", flat: true}
      register: b
    - fetch: {src: "{{ host_root }}/x/../x/t", dest: ../o3}
      register: c
    - name: escape
      fetch: {src: "/../..{{ host_root }}/x/t", dest: ../o4}
      ignore_errors: true
      register: d
    - assert:
        that:
          - a.dest == playbook_dir | dirname ~ '/out/' ~ inventory_hostname ~ host_root ~ '/x/t'
          - b.dest == playbook_dir | dirname ~ '/keys/t'
          - c.dest == playbook_dir | dirname ~ '/o3/' ~ inventory_hostname ~ host_root ~ '/x/t'
          - d.failed
          - d.msg is search('^src `/../..')
"##;

#[test]
fn fetch_resolves_dot_dot_in_dest_and_src_as_ansible_does() {
    let work = tempfile::tempdir().expect("tempdir");
    let root = work.path().join("root");
    std::fs::create_dir_all(root.join("x")).expect("mkdir");
    std::fs::write(root.join("x/t"), "t\n").expect("write");
    std::fs::create_dir_all(work.path().join("pb")).expect("mkdir");
    std::fs::write(work.path().join("pb/site.yml"), FETCH_DOTDOT_SITE).expect("playbook");
    let inv = format!("local ansible_connection=local host_root={}\n", root.display());
    std::fs::write(work.path().join("hosts.ini"), inv).expect("inventory");
    for want in [3, 0] {
        let args = ["apply", "pb/site.yml", "-i", "hosts.ini", "--output", "json"];
        let (code, events, text) = json_events(&prov(work.path(), &args));
        assert_eq!(code, 0, "{text}");
        assert_eq!(crate::util::recap_changed(&events), want, "{text}");
    }
    let tree = |d: &str| work.path().join(d).join("local").join(root.strip_prefix("/").expect("absolute")).join("x/t");
    assert_eq!(std::fs::read_to_string(tree("out")).unwrap_or_default(), "t\n");
    assert_eq!(std::fs::read_to_string(tree("o3")).unwrap_or_default(), "t\n");
    assert_eq!(std::fs::read_to_string(work.path().join("keys/t")).unwrap_or_default(), "t\n");
    assert!(!work.path().join("o4").exists(), "nothing written for the escaping src");
}

/// Ansible's `path` arguments: `~`, `~user`, `$VAR` and `${VAR}` are expanded on the target
/// with the environment the module runs with (here the play's `environment:` sets HOME); an
/// unset variable and an unknown user stay as written. Before, `~/d` made a directory named
/// `~` in the current directory.
#[test]
fn path_arguments_expand_tilde_and_variables_on_the_target() {
    let h = Hosts::new(
        r#"- hosts: all
  gather_facts: false
  environment:
    HOME: "{{ host_root }}/home"
    PROV_T: "{{ host_root }}/v"
  tasks:
    - name: file
      file: {path: ~/d, state: directory}
      register: a
    - name: copy
      copy: {content: "x\n", dest: "$PROV_T/c"}
      register: b
    - name: lineinfile
      lineinfile: {path: "${HOME}/l", line: a, create: true}
    - name: link
      file: {path: ~/lnk, src: ~/l, state: link}
      when: not ansible_check_mode
    - name: stats
      stat: {path: "{{ item }}"}
      register: st
      loop: ["$NO_SUCH_PROV_VAR/x", "~root", "~no-such-user-prov/x", "~/lnk"]
    - name: ls
      command: {cmd: ls, chdir: "~"}
      register: ls
      changed_when: false
    - name: as ansible-core registered them
      assert:
        that:
          - a.path == host_root ~ '/home/d'
          - b.dest == host_root ~ '/v/c'
          - st.results | map(attribute='stat.exists') | list == [false, true, false, true]
          - ls.stdout_lines == ['d', 'l', 'lnk']
      when: not ansible_check_mode
"#,
    );
    h.put("home/.keep", "");
    h.put("v/.keep", "");
    let r = h.run(&["--check"]);
    assert_eq!(r.code, 0, "{}", r.text);
    assert!(!h.roots()[0].join("home/d").exists(), "check mode made a directory");
    for changed in [12, 0] {
        let r = h.run(&[]);
        assert_eq!((r.code, r.changed()), (0, changed), "{}", r.text);
    }
    for root in h.roots() {
        assert_eq!(std::fs::read_link(root.join("home/lnk")).expect("link"), root.join("home/l"));
        assert_eq!(std::fs::read_to_string(root.join("v/c")).expect("copy"), "x\n");
    }
    assert!(!h.dir().join("~").exists(), "a directory named `~` was made");
}

const KEYS_SITE: &str = r##"- hosts: all
  gather_facts: false
  environment:
    HOME: "{{ host_root }}/home"
  tasks:
    - name: apt key from data
      apt_key: {data: "{{ lookup('file', keys ~ '/one.asc') }}", keyring: "{{ host_root }}/k.gpg"}
    - name: apt key from a file of the host
      apt_key: {file: "{{ host_root }}/two.gpg", keyring: "{{ host_root }}/k.gpg"}
    - name: rpm key from a file of the host
      rpm_key: {key: "{{ host_root }}/one.asc", fingerprint: 54D3A79F0AE8A38BF0B713B70F62D5DD3BAA6F0F}
"##;

/// `apt_key` and `rpm_key` over SSH (and locally), each host with its own keyring and RPM
/// database (`.rpmmacros` in its `HOME`): nothing in check mode, the keys once, then nothing.
#[test]
fn apt_key_and_rpm_key_add_keys_once() {
    let keys = crate::util::fixtures().join("keys");
    let h = Hosts::new(KEYS_SITE);
    h.put("two.gpg", "");
    h.put("one.asc", &std::fs::read_to_string(keys.join("one.asc")).expect("key"));
    h.put("home/.rpmmacros", "%_dbpath %{getenv:HOME}/rpmdb\n");
    for r in h.roots() {
        std::fs::copy(keys.join("two.gpg"), r.join("two.gpg")).expect("copy");
    }
    let keys_var = format!("keys={}", keys.display());
    let r = h.run(&["--check", "-e", &keys_var]);
    assert_eq!(r.code, 0, "{}", r.text);
    assert_eq!(r.changed(), 9, "{}", r.text);
    // Listing the keys leaves an empty keyring and database behind (ansible-core's module runs
    // the same commands): no key is in them.
    for root in h.roots() {
        assert_eq!(std::fs::metadata(root.join("k.gpg")).map(|m| m.len()).unwrap_or(0), 0, "check mode added a key");
        let q = std::process::Command::new("rpm")
            .args(["-q", "gpg-pubkey"])
            .env("HOME", root.join("home"))
            .output()
            .expect("rpm");
        assert!(!q.status.success(), "check mode imported a key: {}", String::from_utf8_lossy(&q.stdout));
    }
    let r = h.run(&["-e", &keys_var]);
    assert_eq!(r.code, 0, "{}", r.text);
    assert_eq!(r.changed(), 9, "{}", r.text);
    let r = h.run(&["-e", &keys_var]);
    assert_eq!(r.code, 0, "{}", r.text);
    assert_eq!(r.changed(), 0, "{}", r.text);
}

const DHPARAM_SITE: &str = r##"- hosts: all
  gather_facts: false
  tasks:
    - name: dh
      community.crypto.openssl_dhparam: {path: "{{ host_root }}/dh.pem", size: 512, mode: "0640"}
"##;

/// `openssl_dhparam` over SSH (and locally): nothing in check mode, the file once (0640), then
/// nothing.
#[test]
fn openssl_dhparam_makes_parameters_once() {
    let h = Hosts::new(DHPARAM_SITE);
    let r = h.run(&["--check"]);
    assert_eq!(r.code, 0, "{}", r.text);
    assert_eq!(r.changed(), 3, "{}", r.text);
    assert!(h.roots().iter().all(|r| !r.join("dh.pem").exists()), "check mode wrote");
    let r = h.run(&[]);
    assert_eq!(r.code, 0, "{}", r.text);
    assert_eq!(r.changed(), 3, "{}", r.text);
    use std::os::unix::fs::PermissionsExt;
    for root in h.roots() {
        let m = std::fs::metadata(root.join("dh.pem")).expect("dh.pem");
        assert_eq!(m.permissions().mode() & 0o777, 0o640);
    }
    let r = h.run(&[]);
    assert_eq!(r.code, 0, "{}", r.text);
    assert_eq!(r.changed(), 0, "{}", r.text);
}

const FIRE_AND_FORGET_SITE: &str = r##"- hosts: all
  gather_facts: false
  environment:
    HOME: "{{ host_root }}"
  tasks:
    - name: start
      shell: sleep 1; echo done > "{{ host_root }}/done"
      async: 20
      poll: 0
      register: job
    - name: wait
      async_status: {jid: "{{ job.ansible_job_id }}"}
      register: st
      until: st.finished
      retries: 20
      delay: 1
"##;

/// A fire-and-forget `shell` over SSH (and locally): it goes on after the task's channel closed,
/// `async_status` sees it finish, and its file is there.
#[test]
fn fire_and_forget_commands_run_on_after_their_task() {
    let h = Hosts::new(FIRE_AND_FORGET_SITE);
    let r = h.run(&[]);
    assert_eq!(r.code, 0, "{}", r.text);
    for e in r.of("wait") {
        assert_eq!((&e["status"], &e["changed"]), (&Json::from("changed"), &Json::from(true)), "{e}");
    }
    assert_eq!(h.read("done"), "done\n");
}

const NPM_SITE: &str = r##"- hosts: all
  gather_facts: false
  environment:
    NPM_CONFIG_PREFIX: "{{ host_root }}/prefix"
    npm_config_cache: "{{ host_root }}/cache"
    NPM_CONFIG_AUDIT: "false"
  tasks:
    - name: global
      community.general.npm: {name: hello-prov, version: "1.0.0", global: true, registry: "{{ reg }}"}
    - name: project
      npm: {name: hello-prov, path: "{{ host_root }}/app", registry: "{{ reg }}", state: latest}
"##;

/// `npm` over SSH (and locally), against a registry on loopback: nothing in check mode, each
/// package once, then nothing.
#[test]
fn npm_installs_packages_once() {
    let www = tempfile::tempdir().expect("tempdir");
    let server = crate::get_url::Server::start(www.path());
    crate::npm::registry(www.path(), server.1);
    let reg = format!("reg=http://127.0.0.1:{}", server.1);
    let h = Hosts::new(NPM_SITE);
    let r = h.run(&["--check", "-e", &reg]);
    assert_eq!(r.code, 0, "{}", r.text);
    assert_eq!(r.changed(), 6, "{}", r.text);
    for root in h.roots() {
        assert!(!root.join("prefix/lib/node_modules/hello-prov").exists(), "check mode installed");
    }
    let r = h.run(&["-e", &reg]);
    assert_eq!(r.code, 0, "{}", r.text);
    assert_eq!(r.changed(), 6, "{}", r.text);
    for root in h.roots() {
        assert!(root.join("prefix/bin/hello-prov").exists(), "global command");
        let m = std::fs::read_to_string(root.join("app/node_modules/hello-prov/package.json")).expect("project");
        assert!(m.contains("\"1.1.0\""), "latest is 1.1.0: {m}");
    }
    let r = h.run(&["-e", &reg]);
    assert_eq!(r.code, 0, "{}", r.text);
    assert_eq!(r.changed(), 0, "{}", r.text);
}

const DOCKER_LOGIN_SITE: &str = r##"- hosts: all
  gather_facts: false
  tasks:
    - name: login
      community.docker.docker_login:
        registry_url: "{{ reg }}"
        username: tester
        password: s3cret
        config_path: "{{ host_root }}/docker/config.json"
"##;

/// `docker_login` over SSH (and locally), each host logging the local Docker Engine into a
/// registry on loopback: nothing written in check mode, the credentials once (a file of mode
/// 0600 that does not hold the password in clear), then nothing.
#[test]
fn docker_login_writes_credentials_once() {
    let registry = crate::docker_login::Registry::start();
    let reg = format!("reg=127.0.0.1:{}", registry.port);
    let h = Hosts::new(DOCKER_LOGIN_SITE);
    let r = h.run(&["--check", "-e", &reg]);
    assert_eq!(r.code, 0, "{}", r.text);
    assert_eq!(r.changed(), 3, "{}", r.text);
    assert!(h.roots().iter().all(|r| !r.join("docker/config.json").exists()), "check mode wrote");
    let r = h.run(&["-e", &reg]);
    assert_eq!(r.code, 0, "{}", r.text);
    assert_eq!(r.changed(), 3, "{}", r.text);
    assert!(!r.text.contains("s3cret"), "the password was shown: {}", r.text);
    use std::os::unix::fs::PermissionsExt;
    for root in h.roots() {
        let p = root.join("docker/config.json");
        assert_eq!(std::fs::metadata(&p).expect("config").permissions().mode() & 0o777, 0o600);
        let text = std::fs::read_to_string(&p).expect("config");
        assert!(text.contains("dGVzdGVyOnMzY3JldA==") && !text.contains("s3cret"), "{text}");
    }
    let r = h.run(&["-e", &reg]);
    assert_eq!(r.code, 0, "{}", r.text);
    assert_eq!(r.changed(), 0, "{}", r.text);
}

const GIT_SITE: &str = r##"- hosts: all
  gather_facts: false
  tasks:
    - name: main
      git: {repo: "{{ repos }}/bare.git", dest: "{{ host_root }}/app"}
    - name: tag
      git: {repo: "{{ repos }}/bare.git", dest: "{{ host_root }}/old", version: v1.0, depth: 1}
"##;

/// `git` over SSH (and locally): nothing cloned in check mode, each checkout once (at the
/// commit asked for), then nothing.
#[test]
fn git_clones_once() {
    let repos = tempfile::tempdir().expect("tempdir");
    let [c1, c2, _] = crate::git::repos(repos.path());
    let var = format!("repos={}", repos.path().display());
    let h = Hosts::new(GIT_SITE);
    let r = h.run(&["--check", "-e", &var]);
    assert_eq!(r.code, 0, "{}", r.text);
    assert_eq!(r.changed(), 6, "{}", r.text);
    assert!(h.roots().iter().all(|r| !r.join("app").exists()), "check mode cloned");
    let r = h.run(&["-e", &var]);
    assert_eq!(r.code, 0, "{}", r.text);
    assert_eq!(r.changed(), 6, "{}", r.text);
    let head = |p: &Path| {
        let o = std::process::Command::new("git").arg("-C").arg(p).args(["rev-parse", "HEAD"]).output().expect("git");
        String::from_utf8_lossy(&o.stdout).trim().to_string()
    };
    for root in h.roots() {
        assert_eq!(head(&root.join("app")), c2);
        assert_eq!(head(&root.join("old")), c1);
    }
    let r = h.run(&["-e", &var]);
    assert_eq!(r.code, 0, "{}", r.text);
    assert_eq!(r.changed(), 0, "{}", r.text);
}

const DOCKER_VOLUME_SITE: &str = r##"- hosts: all
  gather_facts: false
  tasks:
    - name: volume
      community.docker.docker_volume:
        name: "{{ prefix }}_{{ inventory_hostname }}"
        labels: {app: web}
"##;

/// `docker_volume` over SSH (and locally), each host making its own volume on the local Docker
/// Engine: nothing in check mode, the volume once, then nothing.
#[test]
fn docker_volume_creates_volumes_once() {
    docker_objects_once(DOCKER_VOLUME_SITE, "volume");
}

/// Runs `site` (which makes one docker `kind` named `PREFIX_HOST` per host) in check mode, then
/// twice: nothing made in check mode, one object per host, then no change. Removes them.
fn docker_objects_once(site: &str, kind: &str) {
    let prefix = format!("provtest_{}_{kind}", std::process::id());
    let var = format!("prefix={prefix}");
    let h = Hosts::new(site);
    let names: Vec<String> = ["h01", "h02", "local"].iter().map(|n| format!("{prefix}_{n}")).collect();
    let exists = |n: &str| {
        std::process::Command::new("docker").args([kind, "inspect", n]).output().is_ok_and(|o| o.status.success())
    };
    let r = h.run(&["--check", "-e", &var]);
    assert_eq!(r.code, 0, "{}", r.text);
    assert_eq!(r.changed(), 3, "{}", r.text);
    assert!(names.iter().all(|n| !exists(n)), "check mode made a {kind}");
    let r = h.run(&["-e", &var]);
    let second = h.run(&["-e", &var]);
    let made: Vec<bool> = names.iter().map(|n| exists(n)).collect();
    let mut rm = vec![kind, "rm"];
    rm.extend(names.iter().map(String::as_str));
    let _ = std::process::Command::new("docker").args(&rm).output();
    assert_eq!(r.code, 0, "{}", r.text);
    assert_eq!(r.changed(), 3, "{}", r.text);
    assert_eq!(made, [true, true, true], "{}", r.text);
    assert_eq!(second.code, 0, "{}", second.text);
    assert_eq!(second.changed(), 0, "{}", second.text);
}

const DOCKER_NETWORK_SITE: &str = r##"- hosts: all
  gather_facts: false
  tasks:
    - name: network
      community.docker.docker_network:
        name: "{{ prefix }}_{{ inventory_hostname }}"
        labels: {app: web}
        internal: true
"##;

/// `docker_network` over SSH (and locally), each host making its own network on the local
/// Docker Engine: nothing in check mode, the network once, then nothing.
#[test]
fn docker_network_creates_networks_once() {
    docker_objects_once(DOCKER_NETWORK_SITE, "network");
}

const KNOWN_HOSTS_SITE: &str = r##"- hosts: all
  gather_facts: false
  tasks:
    - name: key
      known_hosts:
        name: git.example.com
        key: "git.example.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHAhghpWkCDo8TQ7isnp+Uvm25ol156oSDZNavZjW+P+"
        path: "{{ host_root }}/known_hosts"
    - name: hashed
      known_hosts:
        name: other.example.com
        key: "other.example.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB5kOzodoOYbTcftXlKSSZ1znH87E0mdOHVmAA6xkDmh"
        path: "{{ host_root }}/known_hosts"
        hash_host: true
"##;

/// `known_hosts` over SSH (and locally): nothing written in check mode, each key once (one
/// hashed), then nothing.
#[test]
fn known_hosts_adds_keys_once() {
    let h = Hosts::new(KNOWN_HOSTS_SITE);
    let r = h.run(&["--check"]);
    assert_eq!(r.code, 0, "{}", r.text);
    assert_eq!(r.changed(), 6, "{}", r.text);
    assert!(h.roots().iter().all(|r| !r.join("known_hosts").exists()), "check mode wrote");
    let r = h.run(&[]);
    assert_eq!(r.code, 0, "{}", r.text);
    assert_eq!(r.changed(), 6, "{}", r.text);
    for root in h.roots() {
        let text = std::fs::read_to_string(root.join("known_hosts")).expect("known_hosts");
        assert!(text.starts_with("git.example.com ssh-ed25519 "), "{text}");
        assert!(text.lines().nth(1).is_some_and(|l| l.starts_with("|1|")), "hashed: {text}");
    }
    let r = h.run(&[]);
    assert_eq!(r.code, 0, "{}", r.text);
    assert_eq!(r.changed(), 0, "{}", r.text);
}

/// `copy` of a controller directory over SSH and on the local host: check mode makes nothing,
/// the first run makes the tree (directories, files with their mode, `directory_mode`), the
/// second changes nothing.
#[test]
fn copy_of_a_directory_makes_the_tree_once() {
    let h = Hosts::new(
        r#"- hosts: all
  gather_facts: false
  tasks:
    - copy: {src: conf/, dest: "{{ host_root }}/etc/app", directory_mode: "0750", mode: "0640"}
"#,
    );
    for (name, body) in
        [("conf/app.ini", "[main]\nport=80\n"), ("conf/sites/a.conf", "a\n"), ("conf/sites/b.conf", "b\n")]
    {
        let p = h.dir().join("files").join(name);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, body).expect("write");
    }
    let r = h.run(&["--check"]);
    assert_eq!((r.code, r.changed()), (0, 3), "{}", r.text);
    assert!(!h.roots()[0].join("etc/app").exists(), "check mode made the tree");
    for (round, changed) in [(1, 3), (2, 0)] {
        let r = h.run(&[]);
        assert_eq!((r.code, r.changed()), (0, changed), "round {round}: {}", r.text);
    }
    assert_eq!(h.read("etc/app/sites/b.conf"), "b\n");
    use std::os::unix::fs::PermissionsExt;
    for root in h.roots() {
        let mode = |p: &str| std::fs::metadata(root.join(p)).expect("made").permissions().mode() & 0o7777;
        assert_eq!((mode("etc/app"), mode("etc/app/sites"), mode("etc/app/app.ini")), (0o750, 0o750, 0o640));
    }
}

/// `copy` of a directory on the target (`remote_src`) over SSH and on the local host: check
/// mode copies nothing, the first run copies the tree and sets the owner on all of it, the
/// second changes nothing; a file changed in the source is copied again.
#[test]
fn copy_remote_src_of_a_directory_copies_the_tree_once() {
    let h = Hosts::new(
        r#"- hosts: all
  gather_facts: false
  tasks:
    - copy: {src: "{{ host_root }}/src/", dest: "{{ host_root }}/etc/app", remote_src: true, owner: root, mode: "0750"}
"#,
    );
    for root in h.roots() {
        std::fs::create_dir_all(root.join("etc")).expect("mkdir");
        for (name, body) in [("src/app.ini", "[main]\nport=80\n"), ("src/sites/a.conf", "a\n")] {
            let p = root.join(name);
            std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
            std::fs::write(p, body).expect("write");
        }
    }
    let r = h.run(&["--check"]);
    assert_eq!((r.code, r.changed()), (0, 3), "{}", r.text);
    assert!(!h.roots()[0].join("etc/app").exists(), "check mode made the tree");
    for (round, changed) in [(1, 3), (2, 0)] {
        let r = h.run(&[]);
        assert_eq!((r.code, r.changed()), (0, changed), "round {round}: {}", r.text);
    }
    assert_eq!(h.read("etc/app/sites/a.conf"), "a\n");
    std::fs::write(h.roots()[1].join("src/sites/a.conf"), "changed\n").expect("write");
    let r = h.run(&[]);
    assert_eq!((r.code, r.changed()), (0, 1), "{}", r.text);
    assert_eq!(std::fs::read_to_string(h.roots()[1].join("etc/app/sites/a.conf")).expect("copied"), "changed\n");
    use std::os::unix::fs::PermissionsExt;
    for root in h.roots() {
        let mode = std::fs::metadata(root.join("etc/app")).expect("made").permissions().mode() & 0o7777;
        assert_eq!(mode, 0o750);
    }
}

/// `capabilities` over SSH and on the local host: check mode sets nothing, the first run sets
/// `cap_net_raw=ep`, the second changes nothing.
#[test]
fn capabilities_sets_a_file_capability_once() {
    let h = Hosts::new(
        r#"- hosts: all
  gather_facts: false
  tasks:
    - community.general.capabilities: {path: "{{ host_root }}/tool", capability: cap_net_raw=ep}
"#,
    );
    h.put("tool", "");
    let getcap = |root: &Path| {
        let out = std::process::Command::new("getcap").arg(root.join("tool")).output().expect("getcap");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    let r = h.run(&["--check"]);
    assert_eq!((r.code, r.changed()), (0, 3), "{}", r.text);
    assert!(h.roots().iter().all(|root| getcap(root).is_empty()), "check mode set a capability");
    for (round, changed) in [(1, 3), (2, 0)] {
        let r = h.run(&[]);
        assert_eq!((r.code, r.changed()), (0, changed), "round {round}: {}", r.text);
    }
    for root in h.roots() {
        assert!(getcap(&root).ends_with("cap_net_raw=ep"), "{}", getcap(&root));
    }
}

/// `acl` over SSH and on the local host: check mode sets nothing, the first run adds the
/// entry (recursively, `X` for the directory), the second changes nothing.
#[test]
fn acl_adds_an_entry_once() {
    let h = Hosts::new(
        r#"- hosts: all
  gather_facts: false
  tasks:
    - ansible.posix.acl: {path: "{{ host_root }}/share", entity: nobody, etype: user, permissions: rX, recursive: true, state: present}
"#,
    );
    h.put("share/doc.txt", "x\n");
    let getfacl = |root: &Path| {
        let out = std::process::Command::new("getfacl")
            .args(["-R", "--omit-header", "--absolute-names"])
            .arg(root.join("share"))
            .output();
        String::from_utf8_lossy(&out.expect("getfacl").stdout).to_string()
    };
    let r = h.run(&["--check"]);
    assert_eq!((r.code, r.changed()), (0, 3), "{}", r.text);
    assert!(h.roots().iter().all(|root| !getfacl(root).contains("user:nobody")), "check mode set an entry");
    for (round, changed) in [(1, 3), (2, 0)] {
        let r = h.run(&[]);
        assert_eq!((r.code, r.changed()), (0, changed), "round {round}: {}", r.text);
    }
    for root in h.roots() {
        let acl = getfacl(&root);
        assert_eq!(acl.matches("user:nobody:r-x").count() + acl.matches("user:nobody:r--").count(), 2, "{acl}");
    }
}

const DOCKER_INFO_SITE: &str = r##"- hosts: all
  gather_facts: false
  tasks:
    - community.docker.docker_host_info: {}
      register: engine
    - community.docker.docker_network_info: {name: bridge}
      register: bridge
    - community.docker.docker_volume_info: {name: provtest_nosuch_volume}
      register: volume
    - community.docker.docker_container_info: {name: provtest_nosuch_container}
      register: container
    - community.docker.docker_image_info: {name: provtest-nosuch-image}
      register: image
    - assert:
        that:
          - engine.can_talk_to_docker
          - engine.host_info.ID | length > 0
          - bridge.exists and bridge.network.Driver == 'bridge'
          - not volume.exists and volume.volume is none
          - not container.exists
          - image.images == []
"##;

/// community.docker's info modules over SSH (and locally) on the local Docker Engine: they
/// read in check mode as in a run, and change nothing.
#[test]
fn docker_info_modules_read_over_ssh_and_change_nothing() {
    let h = Hosts::new(DOCKER_INFO_SITE);
    for args in [&["--check"][..], &[], &[]] {
        let r = h.run(args);
        assert_eq!(r.code, 0, "{}", r.text);
        assert_eq!(r.changed(), 0, "{}", r.text);
        assert_eq!(r.text.matches("All assertions passed").count(), 3, "{}", r.text);
    }
}

const DOCKER_CONTAINER_SITE: &str = r##"- hosts: all
  gather_facts: false
  tasks:
    - community.docker.docker_container:
        name: "pdcssh_{{ inventory_hostname }}"
        image: provtest-dcssh:1
        command: [/bin/sleep, "300"]
        env: {HOST: "{{ inventory_hostname }}"}
        labels: {test: pdcssh}
        restart_policy: unless-stopped
      register: made
    - assert:
        that:
          - ansible_check_mode or made.container.Config.Env is contains('HOST=' ~ inventory_hostname)
"##;

/// `docker_container` over SSH (and locally), each host its own container on the local
/// Docker Engine: check mode creates nothing, the first run creates and starts them, the
/// second changes nothing.
#[test]
fn docker_container_runs_over_ssh_in_check_mode_and_twice() {
    let names = || {
        let out = std::process::Command::new("docker")
            .args(["ps", "-a", "--filter", "label=test=pdcssh", "--format", "{{.Names}} {{.State}}"])
            .output()
            .expect("docker ps");
        let mut v: Vec<String> = String::from_utf8_lossy(&out.stdout).lines().map(str::to_string).collect();
        v.sort();
        v
    };
    let rm = || {
        for n in names() {
            let name = n.split(' ').next().unwrap_or_default().to_string();
            let _ = std::process::Command::new("docker").args(["rm", "-f", &name]).output();
        }
    };
    crate::docker_container::image("provtest-dcssh:1", false, &[]);
    rm();
    let h = Hosts::new(DOCKER_CONTAINER_SITE);
    let r = h.run(&["--check"]);
    assert_eq!((r.code, r.changed()), (0, 3), "{}", r.text);
    assert!(names().is_empty(), "check mode created {:?}", names());
    let r = h.run(&[]);
    assert_eq!((r.code, r.changed()), (0, 3), "{}", r.text);
    assert_eq!(names(), ["pdcssh_h01 running", "pdcssh_h02 running", "pdcssh_local running"]);
    let r = h.run(&[]);
    assert_eq!((r.code, r.changed()), (0, 0), "{}", r.text);
    rm();
}

const DOCKER_IMAGE_SITE: &str = r##"- hosts: all
  gather_facts: false
  tasks:
    - community.docker.docker_image:
        name: "pdissh-{{ inventory_hostname }}"
        tag: "1"
        source: build
        build: {path: "{{ host_root }}/ctx", args: {WHO: "{{ inventory_hostname }}"}}
      register: built
    - community.docker.docker_image:
        name: "pdissh-{{ inventory_hostname }}:1"
        repository: "pdissh-{{ inventory_hostname }}:copy"
        source: local
      register: tagged
      when: not ansible_check_mode
    - assert:
        that:
          - ansible_check_mode or built.image.Config.Labels.who == inventory_hostname
"##;

/// `docker_image` over SSH (and locally): each host builds its own image from a context on
/// that host and tags it; check mode builds nothing, the first run builds and tags, the
/// second changes nothing (tagging needs the built image, so check mode skips it).
#[test]
fn docker_image_builds_over_ssh_in_check_mode_and_twice() {
    let images = || {
        let out = std::process::Command::new("docker")
            .args(["images", "--filter", "reference=pdissh-*", "--format", "{{.Repository}}:{{.Tag}}"])
            .output()
            .expect("docker images");
        let mut v: Vec<String> = String::from_utf8_lossy(&out.stdout).lines().map(str::to_string).collect();
        v.sort();
        v
    };
    let rm = || {
        for i in images() {
            let _ = std::process::Command::new("docker").args(["rmi", "-f", &i]).output();
        }
    };
    crate::docker_container::image("provtest-dissh-base:1", false, &[]);
    rm();
    let h = Hosts::new(DOCKER_IMAGE_SITE);
    h.put("ctx/Dockerfile", "FROM provtest-dissh-base:1\nARG WHO\nLABEL who=$WHO\n");
    let r = h.run(&["--check"]);
    assert_eq!((r.code, r.changed()), (0, 3), "{}", r.text);
    assert!(images().is_empty(), "check mode built {:?}", images());
    let r = h.run(&[]);
    assert_eq!((r.code, r.changed()), (0, 6), "{}", r.text);
    assert_eq!(images().len(), 6, "{:?}", images());
    let r = h.run(&[]);
    assert_eq!((r.code, r.changed()), (0, 0), "{}", r.text);
    rm();
}

const POSTGRESQL_SITE: &str = r##"- hosts: all
  gather_facts: false
  vars:
    c: &c {login_host: 127.0.0.1, login_port: "{{ pgport }}", login_password: pgpass}
  tasks:
    - community.postgresql.postgresql_user:
        <<: *c
        name: "pussh_{{ inventory_hostname }}"
        password: "pw-{{ inventory_hostname }}"
        role_attr_flags: CREATEDB
    - community.postgresql.postgresql_db:
        <<: *c
        name: "pdbssh_{{ inventory_hostname }}"
        owner: "pussh_{{ inventory_hostname }}"
    - community.postgresql.postgresql_schema:
        <<: *c
        login_db: "pdbssh_{{ inventory_hostname }}"
        name: app
        owner: "pussh_{{ inventory_hostname }}"
      when: not ansible_check_mode
    - community.postgresql.postgresql_ext:
        <<: *c
        login_db: "pdbssh_{{ inventory_hostname }}"
        name: hstore
        schema: app
      when: not ansible_check_mode
    - community.postgresql.postgresql_privs:
        <<: *c
        login_db: "pdbssh_{{ inventory_hostname }}"
        type: schema
        objs: app
        privs: USAGE
        roles: PUBLIC
      when: not ansible_check_mode
"##;

/// `postgresql_user`, `postgresql_db`, `postgresql_schema`, `postgresql_ext` and
/// `postgresql_privs` over SSH (and locally), each host its own role, database, schema,
/// extension and grant on a private server:
/// check mode creates nothing (the rest needs the database, so it skips them),
/// the first run creates them, the second changes nothing.
#[test]
fn postgresql_modules_run_over_ssh_in_check_mode_and_twice() {
    let pg = crate::postgresql::PgServer::start();
    let h = Hosts::new(POSTGRESQL_SITE);
    let port = pg.port.to_string();
    let count = || {
        let out = std::process::Command::new("psql")
            .env("PGPASSWORD", "pgpass")
            .args(["-X", "-A", "-t", "-h", "127.0.0.1", "-p", &port, "-U", "postgres", "-d", "postgres", "-c"])
            .arg("SELECT (SELECT count(*) FROM pg_roles WHERE rolname LIKE 'pussh_%') + (SELECT count(*) FROM pg_database WHERE datname LIKE 'pdbssh_%')")
            .output()
            .expect("psql");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    let arg = format!("pgport={port}");
    let r = h.run(&["--check", "-e", &arg]);
    assert_eq!((r.code, r.changed()), (0, 6), "{}", r.text);
    assert_eq!(count(), "0", "check mode created something");
    let r = h.run(&["-e", &arg]);
    assert_eq!((r.code, r.changed()), (0, 15), "{}", r.text);
    assert_eq!(count(), "6");
    let r = h.run(&["-e", &arg]);
    assert_eq!((r.code, r.changed()), (0, 0), "{}", r.text);
}

/// A symbolic mode that leaves a class out keeps that class's bits (`u=rw,g=r` on a 0666
/// file gives 0646; a new file starts from 0644, a new directory from 0755), as ansible-core
/// 2.19.14 gives (f 646, n 644, t 644, d 755); prov read such a mode as absolute (0640).
#[test]
fn a_symbolic_mode_keeps_the_classes_it_does_not_name() {
    use std::os::unix::fs::PermissionsExt;
    let site = "- hosts: local\n  gather_facts: false\n  tasks:\n    - copy: {content: \"x\\n\", dest: \"{{ root }}/f\", mode: \"u=rw,g=r\"}\n    - copy: {content: \"y\\n\", dest: \"{{ root }}/n\", mode: \"u=rw,g=r\"}\n    - file: {path: \"{{ root }}/t\", state: touch, mode: \"u=rw,g=r\"}\n    - file: {path: \"{{ root }}/d\", state: directory, mode: \"u=rwx,g=rx\"}\n";
    let w = crate::util::Work::new(&[("site.yml", site)]);
    std::fs::write(w.root().join("f"), "old\n").expect("write");
    std::fs::set_permissions(w.root().join("f"), std::fs::Permissions::from_mode(0o666)).expect("chmod");
    let mode = |n: &str| std::fs::metadata(w.root().join(n)).map(|m| m.permissions().mode() & 0o7777).unwrap_or(0);
    let check = w.run("site.yml", &["--check"]);
    assert_eq!(check.code, 0, "{}", check.text);
    assert_eq!(mode("f"), 0o666);
    let first = w.run("site.yml", &[]);
    assert_eq!(first.code, 0, "{}", first.text);
    assert_eq!([mode("f"), mode("n"), mode("t"), mode("d")], [0o646, 0o644, 0o644, 0o755], "{}", first.text);
    let second = w.run("site.yml", &[]);
    // `state: touch` changes on every run, as in ansible-core.
    assert_eq!(second.counts().1, 1, "{}", second.text);
}

/// `file: state=directory` gives every directory it creates on the way the task's mode (and
/// owner, group), as ansible-core 2.19.14; directories that were there keep theirs. prov made
/// the parents with `mkdir -p` (0755 under the usual umask).
#[test]
fn a_new_directory_s_created_parents_get_its_mode() {
    use std::os::unix::fs::PermissionsExt;
    let site = "- hosts: local\n  gather_facts: false\n  tasks:\n    - file: {path: \"{{ root }}/w/a/b/c\", state: directory, mode: \"0700\"}\n    - file: {path: \"{{ root }}/w/x/y\", state: directory, mode: \"u=rwx,g=rx\"}\n    - file: {path: \"{{ root }}/w/q/r\", state: directory, mode: \"0750\", recurse: true}\n";
    let w = crate::util::Work::new(&[("site.yml", site)]);
    std::fs::create_dir_all(w.root().join("w")).expect("mkdir");
    std::fs::set_permissions(w.root().join("w"), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let mode = |n: &str| std::fs::metadata(w.root().join(n)).map(|m| m.permissions().mode() & 0o7777).unwrap_or(0);
    let check = w.run("site.yml", &["--check"]);
    assert_eq!(check.code, 0, "{}", check.text);
    assert!(!w.root().join("w/a").exists());
    let first = w.run("site.yml", &[]);
    assert_eq!(first.code, 0, "{}", first.text);
    let got = ["w", "w/a", "w/a/b", "w/a/b/c", "w/x", "w/x/y", "w/q", "w/q/r"].map(mode);
    assert_eq!(got, [0o755, 0o700, 0o700, 0o700, 0o755, 0o755, 0o750, 0o750], "{}", first.text);
    let second = w.run("site.yml", &[]);
    assert_eq!(second.counts().1, 0, "{}", second.text);
}

/// Under `ansible_connection: local` commands run in the playbook's directory and relative
/// paths start there, whatever directory prov was started from (ansible-core 2.19.14: `pwd`
/// prints the playbook's directory, a relative `dest` lands beside the playbook). prov ran them
/// where it was started.
#[test]
fn a_local_connection_works_in_the_playbook_s_directory() {
    let site = "- hosts: local\n  gather_facts: false\n  tasks:\n    - command: pwd\n      register: here\n      changed_when: false\n    - copy: {content: \"x\\n\", dest: rel.txt}\n    - copy: {content: \"{{ here.stdout }}\", dest: \"{{ root }}/pwd\"}\n";
    let w = crate::util::Work::new(&[]);
    let top = w.root().parent().expect("work dir").to_path_buf();
    std::fs::create_dir_all(top.join("pb")).expect("mkdir");
    std::fs::write(top.join("pb/site.yml"), site).expect("write");
    let first = w.run("pb/site.yml", &[]);
    assert_eq!(first.code, 0, "{}", first.text);
    let pb = std::fs::canonicalize(top.join("pb")).expect("pb");
    assert_eq!(std::fs::canonicalize(w.read("pwd")).ok(), Some(pb.clone()), "{}", first.text);
    assert_eq!(std::fs::read_to_string(pb.join("rel.txt")).ok().as_deref(), Some("x\n"));
    assert!(!top.join("rel.txt").exists());
    let second = w.run("pb/site.yml", &[]);
    assert_eq!(second.counts().1, 0, "{}", second.text);
}

/// Registered keys as ansible-core 2.19.14 returns them: lineinfile with `state: absent`
/// registers `found` (the lines that matched), replace registers `rc` in check mode too, and
/// `file` on a link without `state` is a link task (`dest` and the link's `src`, not `path`).
#[test]
fn registered_keys_of_lineinfile_absent_replace_in_check_mode_and_file_on_a_link() {
    let site = r#"- hosts: local
  gather_facts: false
  tasks:
    - copy: {content: "a\nb\na2\n", dest: "{{ root }}/f"}
    - file: {src: "{{ root }}/f", dest: "{{ root }}/lnk", state: link}
    - lineinfile: {path: "{{ root }}/f", regexp: "^a", state: absent}
      register: removed
    - lineinfile: {path: "{{ root }}/f", regexp: "^zz", state: absent}
      register: none_removed
    - replace: {path: "{{ root }}/f", regexp: "b", replace: "c"}
      check_mode: true
      register: would_replace
    - file: {path: "{{ root }}/lnk", mode: "0600"}
      register: through
    - copy:
        dest: "{{ root }}/out.json"
        content: "{{ {'removed': removed, 'none_removed': none_removed, 'would_replace': would_replace, 'through': through} | to_json }}"
"#;
    let w = crate::util::Work::new(&[("site.yml", site)]);
    let r = w.run("site.yml", &[]);
    assert_eq!(r.code, 0, "{}", r.text);
    let got: serde_json::Value = serde_json::from_str(&w.read("out.json")).expect("JSON");
    let root = w.root().display().to_string();
    assert_eq!(
        (&got["removed"]["found"], &got["removed"]["msg"]),
        (&serde_json::json!(2), &serde_json::json!("2 line(s) removed"))
    );
    assert_eq!(
        (&got["none_removed"]["found"], &got["none_removed"]["changed"]),
        (&serde_json::json!(0), &serde_json::json!(false))
    );
    assert_eq!(
        (&got["would_replace"]["rc"], &got["would_replace"]["changed"]),
        (&serde_json::json!(0), &serde_json::json!(true))
    );
    assert_eq!(got["through"]["dest"], serde_json::json!(format!("{root}/lnk")), "{}", got["through"]);
    assert_eq!(got["through"]["src"], serde_json::json!(format!("{root}/f")));
    assert_eq!((&got["through"]["state"], got["through"].get("path")), (&serde_json::json!("link"), None));
}

/// copy and template onto a symbolic link, as ansible-core 2.19.14: with `follow: true` the
/// file the link points to is written (and registered as `dest`), also with `remote_src`;
/// without it the link is replaced; a link to a directory receives the file inside that
/// directory. prov ignored `follow` and replaced a link to a directory by the file.
#[test]
fn copy_and_template_follow_links_as_ansible_core() {
    let site = r#"- hosts: local
  gather_facts: false
  tasks:
    - copy: {content: "new\n", dest: "{{ root }}/l1", follow: true}
      register: followed
    - copy: {content: "new\n", dest: "{{ root }}/l2"}
    - template: {src: t.j2, dest: "{{ root }}/l3", follow: true}
    - copy: {src: "{{ root }}/src.txt", dest: "{{ root }}/l4", remote_src: true, follow: true}
      register: remote
    - copy: {src: s.txt, dest: "{{ root }}/ld"}
      register: into_dir
    - copy:
        dest: "{{ root }}/out.json"
        content: "{{ [followed.dest, remote.dest, into_dir.dest] | to_json }}"
"#;
    let w = crate::util::Work::new(&[("site.yml", site), ("t.j2", "tpl\n"), ("s.txt", "s\n")]);
    let root = w.root();
    for (n, body) in [("t1", "t1\n"), ("t2", "t2\n"), ("t3", "t3\n"), ("t4", "t4\n"), ("src.txt", "remote\n")] {
        std::fs::write(root.join(n), body).expect("write");
    }
    std::fs::create_dir(root.join("d")).expect("mkdir");
    for (l, t) in [("l1", "t1"), ("l2", "t2"), ("l3", "t3"), ("l4", "t4"), ("ld", "d")] {
        std::os::unix::fs::symlink(root.join(t), root.join(l)).expect("symlink");
    }
    let first = w.run("site.yml", &[]);
    assert_eq!(first.code, 0, "{}", first.text);
    let is_link = |n: &str| std::fs::symlink_metadata(root.join(n)).is_ok_and(|m| m.file_type().is_symlink());
    assert_eq!(
        [is_link("l1"), is_link("l2"), is_link("l3"), is_link("l4"), is_link("ld")],
        [true, false, true, true, true]
    );
    let read = |n: &str| w.read(n);
    assert_eq!(
        [read("t1"), read("t2"), read("l2"), read("t3"), read("t4"), read("d/s.txt")],
        ["new\n", "t2\n", "new\n", "tpl\n", "remote\n", "s\n"]
    );
    let r = root.display();
    let want = serde_json::json!([format!("{r}/t1"), format!("{r}/t4"), format!("{r}/ld/s.txt")]);
    assert_eq!(serde_json::from_str::<serde_json::Value>(&read("out.json")).ok(), Some(want));
    let second = w.run("site.yml", &[]);
    // The last copy writes the registered paths again, unchanged.
    assert_eq!(second.counts().1, 0, "{}", second.text);
}

/// `file: recurse: true` goes through the links below as ansible-core 2.19.14 does with the
/// default `follow: true` (what a link points to gets the attributes, a linked directory is
/// walked) and not with `follow: false`; a second run changes nothing. prov never followed
/// them and, finding the links' own 0777, reported a change on every run.
#[test]
fn recurse_goes_through_links_with_follow() {
    use std::os::unix::fs::PermissionsExt;
    let site = "- hosts: local\n  gather_facts: false\n  tasks:\n    - file: {path: \"{{ root }}/top\", state: directory, mode: \"u=rwX,g=rX,o=\", recurse: true}\n    - file: {path: \"{{ root }}/top2\", state: directory, mode: \"0750\", recurse: true, follow: false}\n";
    let w = crate::util::Work::new(&[("site.yml", site)]);
    let root = w.root();
    for d in ["top", "top2", "outside", "outside2"] {
        std::fs::create_dir(root.join(d)).expect("mkdir");
    }
    for f in ["top/f", "outside/g", "outfile", "outside2/g"] {
        std::fs::write(root.join(f), "x\n").expect("write");
        std::fs::set_permissions(root.join(f), std::fs::Permissions::from_mode(0o644)).expect("chmod");
    }
    for (l, t) in [("top/ln", "outfile"), ("top/lnd", "outside"), ("top2/lnd", "outside2")] {
        std::os::unix::fs::symlink(root.join(t), root.join(l)).expect("symlink");
    }
    let mode = |n: &str| std::fs::metadata(root.join(n)).map(|m| m.permissions().mode() & 0o7777).unwrap_or(0);
    let first = w.run("site.yml", &[]);
    assert_eq!(first.code, 0, "{}", first.text);
    let got = ["top", "top/f", "outfile", "outside", "outside/g", "top2", "outside2", "outside2/g"].map(mode);
    assert_eq!(got, [0o750, 0o640, 0o640, 0o750, 0o640, 0o750, 0o755, 0o644], "{}", first.text);
    let second = w.run("site.yml", &[]);
    assert_eq!(second.counts().1, 0, "{}", second.text);
}

/// `file: state=link` to a `src` that does not exist fails without `force`, with
/// ansible-core's message (2.19.14); a relative `src` is looked for from the link's directory.
/// prov made a dangling link and reported a change.
#[test]
fn a_link_to_a_missing_src_needs_force() {
    let site = "- hosts: local\n  gather_facts: false\n  tasks:\n    - name: dangling\n      file: {src: \"{{ root }}/nonexist\", dest: \"{{ root }}/dang\", state: link}\n      ignore_errors: true\n    - name: relative\n      file: {src: ../real, dest: \"{{ root }}/sub/up\", state: link}\n    - name: forced\n      file: {src: nonexist, dest: \"{{ root }}/forced\", state: link, force: true}\n";
    let w = crate::util::Work::new(&[("site.yml", site)]);
    std::fs::create_dir_all(w.root().join("sub")).expect("mkdir");
    std::fs::write(w.root().join("real"), "").expect("write");
    let r = w.run("site.yml", &[]);
    assert_eq!(r.code, 0, "{}", r.text);
    let dangling = r.events.iter().find(|e| e["event"] == "host_result" && e["name"] == "dangling").expect("dangling");
    assert_eq!(dangling["status"], "ignored", "{}", r.text);
    let want = format!(
        "src file does not exist, use 'force=yes' if you really want to create the link: {}/nonexist",
        w.root().display()
    );
    assert_eq!(dangling["msg"], want.as_str(), "{}", r.text);
    assert!(std::fs::symlink_metadata(w.root().join("dang")).is_err());
    assert_eq!(std::fs::read_link(w.root().join("sub/up")).ok(), Some("../real".into()));
    assert_eq!(std::fs::read_link(w.root().join("forced")).ok(), Some("nonexist".into()));
}

/// `template` into a directory writes the template's own file name, `.j2` included, as
/// ansible-core 2.19.14 does (`d/s.j2`); prov wrote `d/s`.
#[test]
fn a_template_into_a_directory_keeps_its_file_name() {
    let site =
        "- hosts: local\n  gather_facts: false\n  tasks:\n    - template: {src: s.j2, dest: \"{{ root }}/d/\"}\n";
    let w = crate::util::Work::new(&[("site.yml", site), ("s.j2", "hi {{ 1 }}\n")]);
    std::fs::create_dir_all(w.root().join("d")).expect("mkdir");
    let r = w.run("site.yml", &[]);
    assert_eq!(r.code, 0, "{}", r.text);
    assert_eq!(std::fs::read_to_string(w.root().join("d/s.j2")).unwrap_or_default(), "hi 1\n", "{}", r.text);
    assert_eq!(w.run("site.yml", &[]).counts().1, 0);
}

/// `template`'s `lstrip_blocks` and `trim_blocks`, and a `#jinja2:` first line setting them
/// (not output), as ansible-core 2.19.14 renders them (`X\n`, `\nX\n`, `\nY\n`); prov ignored
/// them and wrote the header line. Other newline sequences and encodings are refused.
#[test]
fn template_whitespace_settings_and_the_jinja2_header_apply() {
    let site = "- hosts: local\n  gather_facts: false\n  tasks:\n    - template: {src: ls.j2, dest: \"{{ root }}/ls\", lstrip_blocks: true}\n    - template: {src: tb.j2, dest: \"{{ root }}/tb\", trim_blocks: false}\n    - template: {src: hd.j2, dest: \"{{ root }}/hd\"}\n    - template: {src: tb.j2, dest: \"{{ root }}/plain\"}\n";
    let w = crate::util::Work::new(&[
        ("site.yml", site),
        ("ls.j2", "  {% if true %}\nX\n  {% endif %}\n"),
        ("tb.j2", "{% if true %}\nX\n{% endif %}\n"),
        ("hd.j2", "#jinja2: lstrip_blocks: True, trim_blocks: False\n  {% if true %}\nY\n  {% endif %}\n"),
    ]);
    let r = w.run("site.yml", &[]);
    assert_eq!(r.code, 0, "{}", r.text);
    let read = |n: &str| std::fs::read_to_string(w.root().join(n)).unwrap_or_default();
    assert_eq!([read("ls"), read("tb"), read("hd"), read("plain")], ["X\n", "\nX\n", "\nY\n", "X\n"], "{}", r.text);
    assert_eq!(w.run("site.yml", &[]).counts().1, 0);
    let bad = "- hosts: local\n  gather_facts: false\n  tasks:\n    - template: {src: tb.j2, dest: \"{{ root }}/x\", newline_sequence: \"\\r\\n\"}\n";
    std::fs::write(w.root().join("../bad.yml"), bad).expect("write");
    // Refused when the task runs (its arguments are templates: checked once rendered).
    let r = w.run("bad.yml", &[]);
    assert_eq!(r.code, 2, "{}", r.text);
    assert!(r.text.contains("newline_sequence other than"), "{}", r.text);
    assert!(!w.root().join("x").exists());
}

/// lineinfile on a symbolic link writes the file the link points to and leaves the link, as
/// ansible-core 2.19.14 does (its write goes to the real path); prov replaced the link by a
/// regular file. Twice: the second run changes nothing.
#[test]
fn lineinfile_writes_through_a_symbolic_link() {
    let site = r#"- hosts: local
  gather_facts: false
  tasks:
    - lineinfile: {path: "{{ root }}/lnk", line: b}
"#;
    let w = crate::util::Work::new(&[("site.yml", site)]);
    std::fs::write(w.root().join("real"), "a\n").expect("real");
    std::os::unix::fs::symlink("real", w.root().join("lnk")).expect("link");
    let first = w.run("site.yml", &[]);
    assert_eq!(first.code, 0, "{}", first.text);
    assert!(std::fs::symlink_metadata(w.root().join("lnk")).expect("lnk").file_type().is_symlink());
    assert_eq!(w.read("real"), "a\nb\n");
    let second = w.run("site.yml", &[]);
    assert_eq!(second.counts().1, 0, "{}", second.text);
}
