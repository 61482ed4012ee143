//! ansible.posix's `synchronize` over real SSH: a [`Lab`] host (a private sshd on loopback),
//! rsync run from the controller with prov as its remote shell. Differential: the playbook's
//! registered results are compared, task by task, with those ansible-playbook registered
//! (ansible-core 2.19.14, ansible.posix of `ansible` 12.3.0, OpenSSH as rsync's remote
//! shell) on a lab of its own, recorded in `results/synchronize.json`, with the work
//! directory written `@ROOT@` and the `--rsh=...` of `cmd` (Ansible's ssh command, prov's
//! bridge) written `@RSH@` (also in the line rsync's `-vv` prints about it), and OpenSSH's
//! "Permanently added" notice left out of `msg`. To record again: `PROV_ORACLE_ANSIBLE_PLAYBOOK=/venv/bin/ansible-playbook`
//! and `ANSIBLE_COLLECTIONS_PATH` (a directory with ansible_collections/ansible/posix).

use prov_testkit::Lab;
use serde_json::Value as Json;
use std::path::Path;
use std::process::Command;

const PLAYBOOK: &str = r##"- hosts: h01
  gather_facts: false
  tasks:
    - name: push_check
      ansible.posix.synchronize: {src: site/, dest: "{{ r }}/www", rsync_opts: ["--exclude=*.log"]}
      check_mode: true
      register: push_check
    - name: push
      ansible.posix.synchronize: {src: site/, dest: "{{ r }}/www", rsync_opts: ["--exclude=*.log"]}
      register: push
    - name: push_again
      synchronize: {src: site/, dest: "{{ r }}/www", rsync_opts: ["--exclude=*.log"]}
      register: push_again
    - name: pull
      synchronize: {mode: pull, src: "{{ r }}/www/index.html", dest: "{{ w }}/pulled.html"}
      register: pull
    - name: mirror
      synchronize: {src: site/, dest: "{{ r }}/mirror/", delete: true, rsync_opts: ["--exclude=*.log"]}
      register: mirror
    - name: as_root
      synchronize: {src: site/index.html, dest: "{{ r }}/as_root.html", checksum: true}
      become: true
      register: as_root
    - name: on_host
      synchronize: {src: "{{ r }}/www/", dest: "{{ r }}/on_host", archive: false, recursive: true}
      delegate_to: "{{ inventory_hostname }}"
      register: on_host
    - name: delegated
      # Delegated to localhost, Ansible's ssh command has localhost's key (none): the
      # host's key is given.
      synchronize: {src: site/sub/, dest: "{{ r }}/delegated", private_key: "{{ ansible_ssh_private_key_file }}"}
      delegate_to: localhost
      register: delegated
    - name: no_user
      synchronize: {src: site/index.html, dest: "{{ r }}/no_user.html", set_remote_user: false}
      register: no_user
    - name: copy_links
      synchronize: {src: site/link.html, dest: "{{ r }}/copied_link.html", copy_links: true}
      register: copy_links
    - name: link_dest
      synchronize: {src: site/, dest: "{{ r }}/snap", link_dest: ["{{ r }}/www"], rsync_opts: "--exclude=*.log,--exclude=link.html"}
      register: link_dest
    - name: existing_only
      synchronize: {src: site/, dest: "{{ r }}/www", existing_only: true, checksum: true}
      register: existing_only
    - name: dirs_only
      synchronize: {src: site/, dest: "{{ r }}/dirs_only", archive: false, dirs: true, times: true}
      register: dirs_only
    - name: missing
      synchronize: {src: nope/, dest: "{{ r }}/nope"}
      register: missing
      ignore_errors: true
- hosts: h02
  gather_facts: false
  tasks:
    # rsync on h01, to h02 (Ansible's ssh command there: both are this machine).
    - name: between_hosts
      synchronize: {src: "{{ r }}/www/", dest: "{{ r }}/from_h01", rsync_opts: ["--exclude=link.html"]}
      delegate_to: h01
      register: between_hosts
- hosts: h01
  gather_facts: false
  tasks:
    - name: dump
      copy:
        dest: "{{ w }}/results.json"
        content: "{{ {'between_hosts': hostvars['h02'].between_hosts, 'push_check': push_check, 'push': push, 'push_again': push_again, 'pull': pull, 'mirror': mirror, 'as_root': as_root, 'on_host': on_host, 'delegated': delegated, 'no_user': no_user, 'copy_links': copy_links, 'link_dest': link_dest, 'existing_only': existing_only, 'dirs_only': dirs_only, 'missing': missing} | to_nice_json }}"
      delegate_to: localhost
"##;

/// Runs the playbook with prov (`oracle` false) or ansible-playbook on a lab of two hosts;
/// the registered results, normalized, and the files the host ends with.
fn run(tool: &Path, oracle: bool) -> (Json, Vec<(String, String)>) {
    let lab = Lab::start(2).expect("lab");
    let work = tempfile::tempdir().expect("tempdir");
    let w = work.path().canonicalize().expect("work dir");
    let site = w.join("files/site");
    std::fs::create_dir_all(site.join("sub")).expect("site");
    std::fs::write(site.join("index.html"), "hello\n").expect("file");
    std::fs::write(site.join("sub/a.txt"), "a\n").expect("file");
    std::fs::write(site.join("debug.log"), "log\n").expect("file");
    std::os::unix::fs::symlink("index.html", site.join("link.html")).expect("symlink");
    std::fs::write(w.join("site.yml"), PLAYBOOK).expect("playbook");
    std::fs::copy(lab.inventory(), w.join("hosts.ini")).expect("inventory");
    let remote = w.join("remote");
    std::fs::create_dir_all(remote.join("mirror")).expect("remote");
    std::fs::write(remote.join("mirror/stale.txt"), "old\n").expect("stale file");
    let (r, wv) = (format!("r={}", remote.display()), format!("w={}", w.display()));
    let mut c = Command::new(tool);
    if oracle {
        let python = tool.with_file_name("python");
        c.args(["-e", &format!("ansible_python_interpreter={}", python.display())]);
        c.env("ANSIBLE_HOST_KEY_CHECKING", "False");
    } else {
        c.args(["apply", "--known-hosts", &lab.known_hosts().display().to_string()]);
    }
    c.args(["site.yml", "-i", "hosts.ini", "-e", &r, "-e", &wv]).current_dir(&w);
    let o = c.output().expect("the tool runs");
    let (stdout, stderr) = (String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    assert_eq!(o.status.code(), Some(0), "{stdout}\n{stderr}");
    for want in ["ok=15", "changed=12", "failed=0", "ignored=1"] {
        assert!(stdout.contains(want), "recap {want} expected:\n{stdout}");
    }
    let text = std::fs::read_to_string(w.join("results.json")).expect("results dumped");
    // Delegated to another host, rsync's remote shell there is Ansible's ssh command, word
    // for word (the comparison below masks every `--rsh`).
    let raw: Json = serde_json::from_str(&text).expect("JSON");
    let ssh = format!(
        "--rsh='/usr/bin/ssh -S none -i {} -o Port={} -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null'",
        lab.client_key().display(),
        lab.port
    );
    let cmd = raw["between_hosts"]["cmd"].as_str().expect("cmd");
    assert!(cmd.contains(&ssh), "{cmd}");
    let rsh = regex::Regex::new(r#"--rsh='(?:[^']|'"'"')*'"#).expect("regex");
    let text = rsh.replace_all(&text.replace(&w.display().to_string(), "@ROOT@"), "--rsh=@RSH@").into_owned();
    // OpenSSH's own notice on its stderr (Ansible's ssh has `UserKnownHostsFile=/dev/null`).
    let notice = regex::Regex::new(r"Warning: Permanently added [^\\]*\\r\\n").expect("regex");
    let text = notice.replace_all(&text, "").into_owned();
    // rsync's `-vv` (with `link_dest`) names its remote shell and counts its words.
    let opening = regex::Regex::new(r"opening connection using: .*? -l ").expect("regex");
    let text = opening.replace_all(&text, "opening connection using: @RSH@ -l ").into_owned();
    let words = regex::Regex::new(r"  \(\d+ args\)").expect("regex");
    let text = words.replace_all(&text, "  (@N@ args)").into_owned();
    // ... and the bytes it sent (the remote shell's words are among them) and the speed.
    let stats = regex::Regex::new(r"sent \d+ bytes  received \d+ bytes  [\d.]+ bytes/sec").expect("regex");
    let text = stats.replace_all(&text, "sent @ bytes  received @ bytes  @ bytes/sec").into_owned();
    let speedup = regex::Regex::new(r"speedup is [\d.]+").expect("regex");
    let text = speedup.replace_all(&text, "speedup is @").into_owned();
    let got: Json = serde_json::from_str(&text).expect("JSON");
    let mut files = Vec::new();
    for entry in walk(&remote) {
        let rel = entry.strip_prefix(&remote).expect("under").display().to_string();
        let content = if entry.is_dir() { "/".to_string() } else { std::fs::read_to_string(&entry).expect("file") };
        files.push((rel, content));
    }
    files.push(("pulled.html".into(), std::fs::read_to_string(w.join("pulled.html")).expect("pulled")));
    files.sort();
    (crate::util::strip_registered(&got), files)
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).expect("dir") {
        let p = e.expect("entry").path();
        if p.is_dir() {
            out.extend(walk(&p));
        }
        out.push(p);
    }
    out
}

#[test]
fn synchronize_registers_what_ansible_posix_registers_over_ssh() {
    let (got, files) = run(Path::new(env!("CARGO_BIN_EXE_prov")), false);
    let oracle = std::env::var_os("PROV_ORACLE_ANSIBLE_PLAYBOOK").map(|bin| {
        let (o, oracle_files) = run(Path::new(&bin), true);
        assert_eq!(files, oracle_files, "the host's files after prov's run and after ansible-playbook's");
        o
    });
    crate::util::compare_with_recorded("tests/it/results/synchronize.json", &got, oracle);
    let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "as_root.html",
            "copied_link.html",
            "delegated",
            "delegated/a.txt",
            "dirs_only",
            "dirs_only/debug.log",
            "dirs_only/index.html",
            "dirs_only/sub",
            "from_h01",
            "from_h01/index.html",
            "from_h01/sub",
            "from_h01/sub/a.txt",
            "mirror",
            "mirror/index.html",
            "mirror/link.html",
            "mirror/sub",
            "mirror/sub/a.txt",
            "no_user.html",
            "on_host",
            "on_host/index.html",
            "on_host/sub",
            "on_host/sub/a.txt",
            "pulled.html",
            "snap",
            "snap/index.html",
            "snap/sub",
            "snap/sub/a.txt",
            "www",
            "www/index.html",
            "www/link.html",
            "www/sub",
            "www/sub/a.txt",
        ]
    );
}

const CONVERGE: &str = r##"- hosts: all
  gather_facts: false
  tasks:
    - synchronize: {src: site/, dest: "{{ r }}/{{ inventory_hostname }}/www"}
    - synchronize: {src: site/, dest: "{{ r }}/{{ inventory_hostname }}/mirror/", delete: true}
    - synchronize: {src: site/index.html, dest: "{{ r }}/{{ inventory_hostname }}/as_root.html"}
      become: true
    - synchronize: {mode: pull, src: "{{ r }}/{{ inventory_hostname }}/www/sub", dest: "{{ w }}/pulled-{{ inventory_hostname }}"}
"##;

/// A lab host over SSH and this machine through `ansible_connection=local`: the first run
/// copies, the second changes nothing; after a source file changes, a check run reports the
/// changes and makes none, and the next run makes them.
#[test]
fn synchronize_converges_and_check_mode_changes_nothing() {
    let lab = Lab::start(1).expect("lab");
    let work = tempfile::tempdir().expect("tempdir");
    let w = work.path().canonicalize().expect("work dir");
    std::fs::create_dir_all(w.join("files/site/sub")).expect("site");
    std::fs::write(w.join("files/site/index.html"), "hello\n").expect("file");
    std::fs::write(w.join("files/site/sub/a.txt"), "a\n").expect("file");
    std::fs::write(w.join("site.yml"), CONVERGE).expect("playbook");
    let inventory = format!("[lab]\n{}local1 ansible_connection=local\n", lab.host_lines());
    std::fs::write(w.join("hosts.ini"), inventory).expect("inventory");
    let remote = w.join("remote");
    for h in ["h01", "local1"] {
        // rsync makes the last directory of `dest`, not its parents.
        std::fs::create_dir_all(remote.join(h)).expect("host dir");
    }
    let (r, wv) = (format!("r={}", remote.display()), format!("w={}", w.display()));
    let kh = lab.known_hosts().display().to_string();
    let apply = |extra: &[&str]| {
        let mut args = vec!["apply", "site.yml", "-i", "hosts.ini", "--known-hosts", &kh, "-e", &r, "-e", &wv];
        args.extend_from_slice(extra);
        let o = crate::util::prov(&w, &args);
        let (stdout, stderr) = crate::util::text(&o);
        assert_eq!(o.status.code(), Some(0), "{stdout}\n{stderr}");
        stdout
    };
    let out = apply(&[]);
    assert_eq!(recap_changed(&out, "h01"), 4, "{out}");
    assert_eq!(recap_changed(&out, "local1"), 4, "{out}");
    for h in ["h01", "local1"] {
        let d = remote.join(h);
        assert_eq!(std::fs::read_to_string(d.join("www/sub/a.txt")).expect("pushed"), "a\n");
        assert_eq!(std::fs::read_to_string(d.join("as_root.html")).expect("pushed"), "hello\n");
        assert_eq!(std::fs::read_to_string(w.join(format!("pulled-{h}/sub/a.txt"))).expect("pulled"), "a\n");
    }
    let out = apply(&[]);
    assert_eq!(recap_changed(&out, "h01"), 0, "{out}");
    assert_eq!(recap_changed(&out, "local1"), 0, "{out}");
    std::fs::write(w.join("files/site/index.html"), "hello again\n").expect("file");
    let out = apply(&["--check"]);
    assert_eq!(recap_changed(&out, "h01"), 3, "{out}");
    assert_eq!(recap_changed(&out, "local1"), 3, "{out}");
    for h in ["h01", "local1"] {
        let d = remote.join(h);
        for f in ["www/index.html", "mirror/index.html", "as_root.html"] {
            assert_eq!(std::fs::read_to_string(d.join(f)).expect("file"), "hello\n", "{h} {f} after --check");
        }
    }
    let out = apply(&[]);
    assert_eq!(recap_changed(&out, "h01"), 3, "{out}");
    assert_eq!(recap_changed(&out, "local1"), 3, "{out}");
    for h in ["h01", "local1"] {
        let d = remote.join(h);
        for f in ["www/index.html", "mirror/index.html", "as_root.html"] {
            assert_eq!(std::fs::read_to_string(d.join(f)).expect("file"), "hello again\n", "{h} {f}");
        }
    }
}

/// `changed=` of `host`'s line in the recap.
fn recap_changed(out: &str, host: &str) -> u64 {
    let line = out
        .lines()
        .rev()
        .find(|l| l.split_whitespace().next() == Some(host) && l.contains("changed="))
        .unwrap_or_else(|| panic!("no recap line for {host}:\n{out}"));
    let n = line.split("changed=").nth(1).and_then(|r| r.split_whitespace().next()).expect("changed=");
    n.parse().expect("a number")
}
