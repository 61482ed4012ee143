//! ansible.builtin's `unarchive` through the real binary on this machine
//! (`ansible_connection=local`), with archives made by `tar` and `zip` in a temporary directory.
//! Needs GNU tar, `zip` and `unzip` (`scripts/install-prereqs tests`). Differential: the counts,
//! registered values, modes and the files left are what ansible-core 2.19 gave for the same
//! playbook on the same archives (recorded here: CI has no Ansible).

use crate::util::Work;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::Path;
use std::process::Command;

const SITE: &str = r#"- hosts: all
  gather_facts: false
  tasks:
    - name: tgz from the controller
      unarchive: {src: app.tar.gz, dest: "{{ root }}/tgz", list_files: true}
      register: r1
    - name: zip on the target
      ansible.builtin.unarchive: {src: "{{ root }}/app.zip", dest: "{{ root }}/zip", remote_src: true}
      register: r2
    - name: xz with a mode
      unarchive: {src: app.tar.xz, dest: "{{ root }}/xz", mode: "u=rwX,g=rX,o="}
      register: r3
    - name: creates
      unarchive: {src: app.tar.gz, dest: "{{ root }}/tgz", creates: "{{ root }}/tgz/top/a.txt"}
      register: r4
    - name: hostile members
      unarchive: {src: evil.tar, dest: "{{ root }}/evil"}
      register: r5
      ignore_errors: true
    - name: missing dest
      unarchive: {src: app.tar.gz, dest: "{{ root }}/nope"}
      register: r6
      ignore_errors: true
    - name: as ansible.builtin.unarchive registered them
      assert:
        that:
          - r1.files == ['top/', 'top/link', 'top/sub/', 'top/sub/b.txt', 'top/a.txt'] and r1.handler == 'TgzArchive'
          - r1.state == 'directory' and r1.dest == root ~ '/tgz' and r1.mode == '0755'
          - r2.handler == 'ZipArchive' and r2.src == root ~ '/app.zip' and r3.handler == 'TarArchive'
          - r4.skipped and r4.msg == 'skipped, since ' ~ root ~ '/tgz/top/a.txt exists'
          - r6.failed and r6.msg == "dest '" ~ root ~ "/nope' must be an existing dir"
          - r5.failed and r5.msg is search('^failed to unpack ') and r5.extract_results.rc == 2
          - r5.extract_results.err is search("escape.txt. Member name contains '[.][.]'")
"#;

fn sh(dir: &Path, script: &str) {
    let out = Command::new("sh").arg("-c").arg(script).current_dir(dir).output().expect("sh runs");
    assert!(out.status.success(), "{script}: {}", String::from_utf8_lossy(&out.stderr));
}

/// Every path under `dir`, relative, sorted.
fn tree(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(dir).expect("read_dir").flatten() {
            let p = e.path();
            out.push(p.strip_prefix(base).expect("under base").display().to_string());
            if p.is_dir() && !p.is_symlink() {
                walk(base, &p, out);
            }
        }
    }
    walk(dir, dir, &mut out);
    out.sort();
    out
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).expect("stat").permissions().mode() & 0o7777
}

#[test]
fn unarchive_unpacks_tar_and_zip_once_and_contains_hostile_members_as_ansible_does() {
    let w = Work::new(&[("site.yml", SITE)]);
    let dir = w.root().parent().expect("the work directory").to_path_buf();
    let src = dir.join("src/top/sub");
    std::fs::create_dir_all(&src).expect("mkdir");
    std::fs::write(dir.join("src/top/a.txt"), "hello\n").expect("a");
    std::fs::write(src.join("b.txt"), "world\n").expect("b");
    std::fs::set_permissions(src.join("b.txt"), std::fs::Permissions::from_mode(0o600)).expect("chmod");
    symlink("a.txt", dir.join("src/top/link")).expect("symlink");
    for d in ["tgz", "zip", "xz", "evil"] {
        std::fs::create_dir(w.root().join(d)).expect("dest");
    }
    std::fs::create_dir(dir.join("sub")).expect("sub");
    std::fs::write(dir.join("sub/ok.txt"), "ok\n").expect("ok");
    std::fs::write(dir.join("escape.txt"), "esc\n").expect("escape");
    std::fs::write(dir.join("abs.txt"), "abs\n").expect("abs");
    // The same member order as the archives Ansible was run on: tar and zip list `top/` first.
    sh(
        &dir,
        "tar czf app.tar.gz -C src top && tar cJf app.tar.xz -C src top && (cd src && zip -qry ../root/app.zip top)",
    );
    // `../escape.txt` and an absolute member, kept as written (-P).
    sh(&dir.join("sub"), "tar -cPf ../evil.tar ok.txt ../escape.txt \"$(dirname \"$PWD\")/abs.txt\"");

    let r = w.run("site.yml", &["--check"]);
    assert_eq!(r.code, 2, "the assert fails: check mode registers nothing\n{}", r.text);
    assert_eq!(tree(&w.root().join("tgz")), Vec::<String>::new(), "check mode unpacked");
    assert_eq!(tree(&w.root().join("zip")), Vec::<String>::new(), "check mode unpacked");

    let r = w.run("site.yml", &[]);
    assert_eq!((r.code, r.counts()), (0, (6, 3)), "ansible: ok=6 changed=3 skipped=1 ignored=2\n{}", r.text);
    let unpacked = ["top", "top/a.txt", "top/link", "top/sub", "top/sub/b.txt"];
    for d in ["tgz", "zip", "xz"] {
        assert_eq!(tree(&w.root().join(d)), unpacked, "{d}");
    }
    assert_eq!(std::fs::read_to_string(w.root().join("zip/top/sub/b.txt")).expect("b"), "world\n");
    assert_eq!(mode(&w.root().join("tgz/top/sub/b.txt")), 0o600);
    let xz = w.root().join("xz/top");
    assert_eq!((mode(&xz), mode(&xz.join("a.txt")), mode(&xz.join("sub/b.txt"))), (0o750, 0o640, 0o640));
    // GNU tar refuses the `..` member (the task fails) and puts the absolute one under dest.
    let abs = dir.join("abs.txt");
    let inside = format!("{}", abs.display());
    let mut evil = vec!["ok.txt".to_string()];
    let mut acc = String::new();
    for part in inside.trim_start_matches('/').split('/') {
        acc = if acc.is_empty() { part.to_string() } else { format!("{acc}/{part}") };
        evil.push(acc.clone());
    }
    evil.sort();
    assert_eq!(tree(&w.root().join("evil")), evil);
    assert!(!w.root().join("escape.txt").exists() && std::fs::read_to_string(&abs).expect("abs") == "abs\n");

    let r = w.run("site.yml", &[]);
    assert_eq!((r.code, r.counts()), (0, (6, 0)), "second run changes nothing: ansible ok=6 changed=0\n{}", r.text);
    let r = w.run("site.yml", &["--check"]);
    // ansible-core skips every tar archive in check mode: ok=2 changed=0 failed=1 skipped=4.
    assert_eq!(r.counts(), (2, 0), "nor does check mode\n{}", r.text);
}

const OPTIONS: &str = r#"- hosts: all
  gather_facts: false
  tasks:
    - unarchive: {src: app.tar.gz, dest: "{{ root }}/strip", extra_opts: [--strip-components=1], list_files: true}
      register: r1
    - unarchive: {src: app.tar.xz, dest: "{{ root }}/excl", exclude: [top/sub/], list_files: true}
      register: r2
    - unarchive: {src: app.tar, dest: "{{ root }}/incl", include: [top/a.txt], list_files: true}
      register: r3
    - unarchive: {src: "{{ root }}/app.zip", dest: "{{ root }}/zexcl", exclude: ["top/sub/*"], list_files: true, remote_src: true}
      register: r4
    - unarchive: {src: "{{ root }}/app.zip", dest: "{{ root }}/zincl", include: ["top/a.txt"], list_files: true, copy: false}
      register: r5
    - unarchive: {src: "{{ root }}/app.zip", dest: "{{ root }}/own", owner: nobody, mode: "0640", remote_src: true}
      register: r6
    - name: what ansible-core 2.19 listed
      assert:
        that:
          - r1.files == ['', 'link', 'sub/', 'sub/b.txt', 'a.txt'] and r2.files == ['top/', 'top/link', 'top/a.txt']
          - r3.files == ['top/a.txt'] and r4.files == ['top/', 'top/link', 'top/a.txt'] and r5.files == ['top/a.txt']
"#;

#[test]
fn unarchive_options_list_and_extract_what_ansible_does() {
    let w = Work::new(&[("options.yml", OPTIONS)]);
    let dir = w.root().parent().expect("the work directory").to_path_buf();
    std::fs::create_dir_all(dir.join("src/top/sub")).expect("mkdir");
    std::fs::write(dir.join("src/top/a.txt"), "hello\n").expect("a");
    std::fs::write(dir.join("src/top/sub/b.txt"), "world\n").expect("b");
    symlink("a.txt", dir.join("src/top/link")).expect("symlink");
    for d in ["strip", "excl", "incl", "zexcl", "zincl", "own"] {
        std::fs::create_dir(w.root().join(d)).expect("dest");
    }
    sh(
        &dir,
        "tar czf app.tar.gz -C src top && tar cJf app.tar.xz -C src top && tar cf app.tar -C src top \
         && (cd src && zip -qry ../root/app.zip top)",
    );
    let r = w.run("options.yml", &[]);
    assert_eq!((r.code, r.counts()), (0, (7, 6)), "ansible: ok=7 changed=6\n{}", r.text);
    let t = |d: &str| tree(&w.root().join(d));
    assert_eq!(t("strip"), ["a.txt", "link", "sub", "sub/b.txt"]);
    assert_eq!(t("excl"), ["top", "top/a.txt", "top/link"]);
    assert_eq!(t("incl"), ["top", "top/a.txt"]);
    assert_eq!(t("zexcl"), ["top", "top/a.txt", "top/link"]);
    assert_eq!(t("zincl"), ["top", "top/a.txt"]);
    let own = w.root().join("own/top");
    assert_eq!((mode(&own), mode(&own.join("a.txt")), mode(&own.join("sub/b.txt"))), (0o640, 0o640, 0o640));
    use std::os::unix::fs::MetadataExt;
    let nobody = std::fs::metadata(own.join("a.txt")).expect("stat").uid();
    assert_ne!(nobody, 0, "owned by nobody");
    let r = w.run("options.yml", &[]);
    assert_eq!((r.code, r.counts()), (0, (7, 0)), "second run: ansible ok=7 changed=0\n{}", r.text);
}
