//! ansible.posix's `authorized_key` and community.general's `ini_file` through the real binary on
//! this machine (`ansible_connection=local`), against files in a temporary directory and a user
//! created for the test. Differential: every expected file and counter below is what
//! ansible-core 2.19 with the collections of ansible 12.3 gave for the same playbooks on the
//! same files (recorded here: CI has no Ansible).

use crate::util::{json_events, prov};
use serde_json::Value as Json;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

struct Run {
    code: i32,
    events: Vec<Json>,
    text: String,
}

impl Run {
    /// `(ok, changed)` of host `local` in the recap.
    fn counts(&self) -> (u64, u64) {
        let r = self.events.iter().rev().find(|e| e["event"] == "recap").expect("recap");
        let h = r["hosts"].as_array().expect("hosts").iter().find(|h| h["host"] == "local").expect("local");
        (h["ok"].as_u64().expect("ok"), h["changed"].as_u64().expect("changed"))
    }
}

/// A work directory with `root/` (the host's files), the inventory and the playbooks.
struct Work {
    dir: tempfile::TempDir,
}

impl Work {
    fn new(files: &[(&str, &str)]) -> Work {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().join("root");
        std::fs::create_dir_all(&root).expect("mkdir");
        let inv = format!("local ansible_connection=local root={}\n", root.display());
        std::fs::write(dir.path().join("hosts.ini"), inv).expect("inventory");
        for (name, body) in files {
            std::fs::write(dir.path().join(name), body).expect("write");
        }
        Work { dir }
    }

    fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    fn run(&self, playbook: &str, extra: &[&str]) -> Run {
        let mut args = vec!["apply", playbook, "-i", "hosts.ini", "--output", "json"];
        args.extend_from_slice(extra);
        let (code, events, text) = json_events(&prov(self.dir.path(), &args));
        Run { code, events, text }
    }

    fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.root().join(name)).unwrap_or_default()
    }
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).expect("stat").permissions().mode() & 0o7777
}

const K1: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIC+8J4yQkRPU6EIFP2xoCemzOdopsUTB3hmgJV1CXLvj k1@host";
const K2: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMg9MReWQycuaR3s+Ov3U1QLUGds9WKGOrhC+T2TyFvT k2 c";

const KEYS_SITE: &str = r#"- hosts: all
  gather_facts: false
  vars:
    k1: ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIC+8J4yQkRPU6EIFP2xoCemzOdopsUTB3hmgJV1CXLvj k1@host
    k2: ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMg9MReWQycuaR3s+Ov3U1QLUGds9WKGOrhC+T2TyFvT k2 c
  tasks:
    - name: a key added to a file with comments and options
      authorized_key: {user: root, key: "{{ k1 }}", path: "{{ root }}/shared_keys"}
      register: added
    - name: options changed move the key last
      ansible.posix.authorized_key: {user: root, key: "{{ k2 }}", path: "{{ root }}/shared_keys", key_options: 'no-pty,from="10.0.0.1"'}
    - name: an old key removed
      authorized_key: {user: root, key: "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC0dupe", path: "{{ root }}/shared_keys", state: absent}
    - name: two keys in a new directory, exclusively
      authorized_key:
        user: root
        path: "{{ root }}/ssh/keys"
        key: "{{ k2 }}\n{{ k1 }}"
        exclusive: true
        comment: deploy
    - name: exclusive drops the others
      authorized_key: {user: root, key: "{{ k1 }}", path: "{{ root }}/only", exclusive: true}
    - name: as ansible registered it
      assert:
        that:
          - added.keyfile == root ~ '/shared_keys'
          - added.path == root ~ '/shared_keys'
          - added.user == 'root'
          - added.key == k1
          - added.exclusive == false
          - added.manage_dir
          - added.mode == '0600'
          - added.owner == 'root'
          - added.state == 'file'
      when: not ansible_check_mode
"#;

const SHARED_KEYS: &str = "# header comment\n\ncommand=\"echo hi\",no-agent-forwarding   ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMg9MReWQycuaR3s+Ov3U1QLUGds9WKGOrhC+T2TyFvT k2 c\n  \nssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC0dupe   old   key\n";

#[test]
fn authorized_key_adds_moves_removes_and_keeps_only_the_keys_as_ansible_does() {
    let w = Work::new(&[("site.yml", KEYS_SITE)]);
    let root = w.root();
    let only = format!("# c\n{K2}\n");
    std::fs::write(root.join("shared_keys"), SHARED_KEYS).expect("write");
    std::fs::write(root.join("only"), &only).expect("write");
    let r = w.run("site.yml", &["--check"]);
    assert_eq!((r.code, r.counts()), (0, (5, 5)), "ansible: ok=5 changed=5 in check mode\n{}", r.text);
    assert_eq!(w.read("shared_keys"), SHARED_KEYS, "check mode wrote");
    assert!(!root.join("ssh").exists(), "check mode made the directory");
    let r = w.run("site.yml", &[]);
    assert_eq!((r.code, r.counts()), (0, (6, 5)), "ansible: ok=6 changed=5\n{}", r.text);
    let k2 = K2.replace("k2 c", "deploy");
    let k1 = K1.replace("k1@host", "deploy");
    assert_eq!(w.read("shared_keys"), format!("# header comment\n\n  \n{K1}\nno-pty,from=\"10.0.0.1\" {K2}\n"));
    assert_eq!(w.read("ssh/keys"), format!("{k2}\n{k1}\n"));
    assert_eq!(w.read("only"), format!("{K1}\n"));
    for f in ["shared_keys", "ssh/keys", "only"] {
        assert_eq!(mode(&root.join(f)), 0o600, "{f}");
    }
    assert_eq!(mode(&root.join("ssh")), 0o700);
    let r = w.run("site.yml", &[]);
    assert_eq!((r.code, r.counts()), (0, (6, 0)), "second run changes nothing\n{}", r.text);
}

const KEYS_USER: &str = r#"- hosts: all
  gather_facts: false
  tasks:
    - name: a key for a new user, its .ssh created
      authorized_key:
        user: "{{ who }}"
        key: ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIC+8J4yQkRPU6EIFP2xoCemzOdopsUTB3hmgJV1CXLvj k1@host
      register: r
    - name: as ansible registered it (no path, so no file state)
      assert:
        that:
          - r.keyfile == '/home/' ~ who ~ '/.ssh/authorized_keys'
          - r.path is none
          - r.mode is undefined
          - r.state == 'present'
"#;

/// Removes the test's user (and its home) whatever happens.
struct DelUser(&'static str);

impl Drop for DelUser {
    fn drop(&mut self) {
        let _ = Command::new("userdel").args(["-r", "--", self.0]).output();
    }
}

#[test]
fn authorized_key_creates_the_users_ssh_directory_owned_by_the_user_as_ansible_does() {
    let who = "provkeys1";
    let _ = Command::new("userdel").args(["-r", "--", who]).output();
    let made = Command::new("useradd").args(["-m", "-s", "/bin/sh", "--", who]).output().expect("useradd runs");
    assert!(made.status.success(), "useradd (needs root): {}", String::from_utf8_lossy(&made.stderr));
    let _guard = DelUser(who);
    let w = Work::new(&[("user.yml", KEYS_USER)]);
    let r = w.run("user.yml", &["-e", &format!("who={who}")]);
    assert_eq!((r.code, r.counts()), (0, (2, 1)), "ansible: ok=2 changed=1\n{}", r.text);
    let dir = PathBuf::from(format!("/home/{who}/.ssh"));
    let file = dir.join("authorized_keys");
    assert_eq!(std::fs::read_to_string(&file).expect("written"), format!("{K1}\n"));
    assert_eq!((mode(&dir), mode(&file)), (0o700, 0o600));
    let home_uid = std::fs::metadata(format!("/home/{who}")).expect("home").uid();
    for p in [&dir, &file] {
        let m = std::fs::metadata(p).expect("stat");
        assert_eq!(m.uid(), home_uid, "{} owned by the user", p.display());
        assert_ne!(m.uid(), 0);
    }
    let r = w.run("user.yml", &["-e", &format!("who={who}")]);
    assert_eq!((r.code, r.counts()), (0, (2, 0)), "second run changes nothing\n{}", r.text);
}

const KEYS_LINK: &str = r#"- hosts: all
  gather_facts: false
  tasks:
    - name: a key added through a link, which is replaced
      authorized_key:
        user: root
        path: "{{ root }}/link"
        key: ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIC+8J4yQkRPU6EIFP2xoCemzOdopsUTB3hmgJV1CXLvj k1@host
    - name: a key added through a link that is followed
      authorized_key:
        user: root
        path: "{{ root }}/followed"
        follow: true
        key: ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIC+8J4yQkRPU6EIFP2xoCemzOdopsUTB3hmgJV1CXLvj k1@host
"#;

#[test]
fn authorized_key_replaces_a_link_unless_follow_as_ansible_does() {
    let w = Work::new(&[("link.yml", KEYS_LINK)]);
    let root = w.root();
    for (real, link) in [("real", "link"), ("real2", "followed")] {
        std::fs::write(root.join(real), format!("{K2}\n")).expect("write");
        std::os::unix::fs::symlink(real, root.join(link)).expect("symlink");
    }
    let r = w.run("link.yml", &[]);
    assert_eq!((r.code, r.counts()), (0, (2, 2)), "ansible: ok=2 changed=2\n{}", r.text);
    let both = format!("{K2}\n{K1}\n");
    assert!(!root.join("link").is_symlink(), "the link was replaced");
    assert_eq!((w.read("link"), w.read("real")), (both.clone(), format!("{K2}\n")));
    assert!(root.join("followed").is_symlink(), "the followed link stays");
    assert_eq!(w.read("real2"), both);
    let r = w.run("link.yml", &[]);
    assert_eq!((r.code, r.counts()), (0, (2, 0)), "second run changes nothing\n{}", r.text);
}
