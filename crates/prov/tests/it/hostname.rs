//! ansible.builtin's `hostname` through the real binary on this machine
//! (`ansible_connection=local`), without touching the machine's name: prov runs in its own
//! mount and UTS namespaces (`unshare -mu`), with `/etc` an overlay whose changes land in a
//! temporary directory. Differential: the file, counters, diff and registered values are what
//! ansible-core 2.19 gave in the same namespaces on this Debian machine without systemd (the
//! `/etc/hostname` strategy). On a host that systemd runs, the module would set the name through
//! `hostnamectl` and systemd-hostnamed, which a namespace does not isolate: the test fails there
//! (saying so) rather than rename the machine. Needs root.

use crate::util::Work;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

const SITE: &str = r#"- hosts: all
  gather_facts: false
  tasks:
    - name: set
      hostname: {name: prov-test.example.org}
      register: h1
    - name: systemd
      ansible.builtin.hostname: {name: other, use: systemd}
      register: h2
      ignore_errors: true
    - name: as ansible.builtin.hostname registered them
      assert:
        that:
          - h1.name == 'prov-test.example.org' and ansible_hostname == 'prov-test'
          - h1.ansible_facts.ansible_hostname == 'prov-test'
          - h1.ansible_facts.ansible_nodename == 'prov-test.example.org'
          - ansible_facts.nodename == 'prov-test.example.org'
          - h2.failed and h2.msg is search('^Command failed rc=1, out=, err=')
      when: not ansible_check_mode
"#;

#[test]
fn hostname_writes_etc_hostname_on_debian_without_systemd_as_ansible_does() {
    // Not a silent skip: on a host that systemd runs this test cannot run safely, and says so.
    assert!(
        !Path::new("/run/systemd/system").exists(),
        "systemd runs this host: hostnamectl would rename it; run the suite with `--skip hostname::` here"
    );
    let w = Work::new(&[("site.yml", SITE)]);
    let (upper, work) = (w.root().join("upper"), w.root().join("work"));
    std::fs::create_dir_all(&upper).expect("upper");
    std::fs::create_dir_all(&work).expect("work");
    let mount = format!(
        "mount -t overlay overlay -o lowerdir=/etc,upperdir={},workdir={} /etc && exec \"$@\"",
        upper.display(),
        work.display()
    );
    let pre = ["unshare", "-mu", "sh", "-c", mount.as_str(), "sh"];
    let before = std::fs::read("/etc/hostname").ok();
    let mode = std::fs::metadata("/etc/hostname").map(|m| m.permissions().mode() & 0o7777).unwrap_or(0o644);

    let r = w.run_in(&pre, "site.yml", &["--check", "--diff"]);
    assert_eq!((r.code, r.counts()), (0, (2, 1)), "ansible: ok=2 changed=1 ignored=1 skipped=1\n{}", r.text);
    assert!(!upper.join("hostname").exists(), "check mode wrote /etc/hostname");
    let set = r.events.iter().find(|e| e["event"] == "host_result" && e["name"] == "set").expect("set");
    let old = String::from_utf8_lossy(before.as_deref().unwrap_or_default()).trim().to_string();
    assert_eq!(set["diff"][0]["before"], format!("hostname = {old}\n"));
    assert_eq!(set["diff"][0]["after"], "hostname = prov-test.example.org\n");

    let r = w.run_in(&pre, "site.yml", &[]);
    assert_eq!((r.code, r.counts()), (0, (3, 1)), "ansible: ok=3 changed=1 ignored=1\n{}", r.text);
    let file = upper.join("hostname");
    assert_eq!(std::fs::read_to_string(&file).expect("the new /etc/hostname"), "prov-test.example.org\n");
    let new_mode = std::fs::metadata(&file).expect("file").permissions().mode() & 0o7777;
    assert_eq!(new_mode, mode, "the file keeps its mode, as Ansible's write in place does");
    let r = w.run_in(&pre, "site.yml", &[]);
    assert_eq!((r.code, r.counts()), (0, (3, 0)), "second run changes nothing\n{}", r.text);
    assert_eq!(std::fs::read("/etc/hostname").ok(), before, "the machine's own /etc/hostname is untouched");
}
