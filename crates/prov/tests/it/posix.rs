//! ansible.posix's `mount` and `sysctl` through the real binary on this machine
//! (`ansible_connection=local`), against a temporary fstab and sysctl file. Differential: every
//! expected file, counter and registered value below is what ansible-core 2.19 with the
//! collections of ansible 12.3 gave for the same playbooks on the same files (recorded here:
//! CI has no Ansible). Mounting needs root, as it does for Ansible: a tmpfs under a temporary
//! directory, unmounted at the end whatever happens.

use crate::util::Work;
use serde_json::Value as Json;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Unmounts what a test may have left mounted under its directory.
struct Unmount(PathBuf);

impl Drop for Unmount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("--").arg(&self.0).output();
    }
}

const MOUNT_SITE: &str = r#"- hosts: all
  gather_facts: false
  vars:
    fstab: "{{ root }}/fstab"
    size: 1m
  tasks:
    - name: an entry with a space in its path
      ansible.posix.mount:
        path: "{{ root }}/srv/a b"
        src: /dev/disk/by-label/data
        fstype: ext4
        opts: noatime
        state: present
        fstab: "{{ fstab }}"
      register: pr
    - name: a tmpfs mounted
      mount: {path: "{{ root }}/mnt/t", src: tmpfs, fstype: tmpfs, opts: "size={{ size }}", state: mounted, fstab: "{{ fstab }}"}
      register: mo
    - name: not mounted at boot
      ansible.builtin.mount: {name: "{{ root }}/srv/nb", src: /dev/sdz8, fstype: xfs, boot: false, dump: 1, passno: 2, state: present, fstab: "{{ fstab }}"}
      register: nb
    - name: an old entry removed
      mount: {path: /srv/old, state: absent, fstab: "{{ fstab }}"}
      register: ab
    - name: the mount as the kernel has it
      command: findmnt -n -o FSTYPE,OPTIONS --mountpoint "{{ root }}/mnt/t"
      register: fm
      changed_when: false
      when: not ansible_check_mode
    - name: as ansible-core registered them
      assert:
        that:
          - pr.name == root ~ '/srv/a b'
          - pr.src == '/dev/disk/by-label/data'
          - pr.opts == 'noatime'
          - pr.boot == 'yes'
          - pr.dump == '0' and pr.passno == '0'
          - pr.fstab == fstab
          - pr.backup_file == ''
          - mo.fstype == 'tmpfs'
          - nb.opts == 'defaults,noauto'
          - nb.boot == 'no'
          - nb.dump == '1' and nb.passno == '2'
          - ab.opts == 'defaults'
          - ab.src is not defined
          - fm.stdout is search('^tmpfs +rw,relatime,size=' ~ (size | replace('m', '') | int * 1024) ~ 'k$')
      when: not ansible_check_mode
"#;

const MOUNT_TEARDOWN: &str = r#"- hosts: all
  gather_facts: false
  tasks:
    - name: the tmpfs unmounted, its entry and mount point gone
      mount: {path: "{{ root }}/mnt/t", state: absent, fstab: "{{ root }}/fstab"}
      register: t
    - name: the entry with a space removed from fstab only
      mount: {path: "{{ root }}/srv/a b", state: absent_from_fstab, fstab: "{{ root }}/fstab"}
    - name: as ansible-core registered it
      assert:
        that:
          - t.name == root ~ '/mnt/t'
          - t.opts == 'defaults'
"#;

const FSTAB: &str = "# /etc/fstab: static file system information.\nUUID=1234 / ext4 errors=remount-ro 0 1\n/dev/sdz7\t/srv/old  ext4 defaults 0 2\n/dev/sdz8 /srv/keep ext4 defaults 0 0 # kept\n";

fn is_mounted(p: &Path) -> bool {
    let out = Command::new("findmnt").arg("--mountpoint").arg(p).output().expect("findmnt runs");
    out.status.success()
}

#[test]
fn mount_writes_fstab_mounts_remounts_and_removes_as_ansible_does() {
    let w = Work::new(&[("site.yml", MOUNT_SITE), ("teardown.yml", MOUNT_TEARDOWN)]);
    let root = w.root();
    let _guard = Unmount(root.join("mnt/t"));
    std::fs::write(root.join("fstab"), FSTAB).expect("fstab");
    let r = w.run("site.yml", &["--check"]);
    assert_eq!((r.code, r.counts()), (0, (4, 4)), "ansible: ok=4 changed=4 in check mode\n{}", r.text);
    assert_eq!(w.read("fstab"), FSTAB, "check mode wrote fstab");
    assert!(!root.join("mnt").exists(), "check mode made the mount point");
    let r = w.run("site.yml", &[]);
    assert_eq!((r.code, r.counts()), (0, (6, 4)), "ansible: ok=6 changed=4\n{}", r.text);
    let root_s = root.display();
    let written = format!(
        "# /etc/fstab: static file system information.\nUUID=1234 / ext4 errors=remount-ro 0 1\n\
         /dev/sdz8 /srv/keep ext4 defaults 0 0 # kept\n\
         /dev/disk/by-label/data {root_s}/srv/a\\040b ext4 noatime 0 0\n\
         tmpfs {root_s}/mnt/t tmpfs size=1m 0 0\n\
         /dev/sdz8 {root_s}/srv/nb xfs defaults,noauto 1 2\n"
    );
    assert_eq!(w.read("fstab"), written, "the bytes ansible.posix.mount wrote");
    assert!(is_mounted(&root.join("mnt/t")));
    let r = w.run("site.yml", &[]);
    assert_eq!((r.code, r.counts()), (0, (6, 0)), "second run changes nothing\n{}", r.text);
    let r = w.run("site.yml", &["-e", "size=2m"]);
    assert_eq!((r.code, r.counts()), (0, (6, 1)), "ansible: the new option remounts, changed=1\n{}", r.text);
    assert_eq!(w.read("fstab"), written.replace("size=1m", "size=2m"));
    let r = w.run("site.yml", &["-e", "size=2m"]);
    assert_eq!((r.code, r.counts()), (0, (6, 0)), "{}", r.text);
    let r = w.run("teardown.yml", &[]);
    assert_eq!((r.code, r.counts()), (0, (3, 2)), "ansible: ok=3 changed=2\n{}", r.text);
    let left = format!(
        "# /etc/fstab: static file system information.\nUUID=1234 / ext4 errors=remount-ro 0 1\n\
         /dev/sdz8 /srv/keep ext4 defaults 0 0 # kept\n\
         /dev/sdz8 {root_s}/srv/nb xfs defaults,noauto 1 2\n"
    );
    assert_eq!(w.read("fstab"), left);
    assert!(!is_mounted(&root.join("mnt/t")), "still mounted");
    assert!(!root.join("mnt/t").exists() && root.join("mnt").is_dir(), "Ansible removes the mount point only");
    let r = w.run("teardown.yml", &[]);
    assert_eq!((r.code, r.counts()), (0, (3, 0)), "{}", r.text);
}

const MOUNT_FAIL: &str = r#"- hosts: all
  gather_facts: false
  tasks:
    - name: an unknown filesystem
      mount: {path: "{{ root }}/mnt/p/q", src: tmpfs, fstype: nosuchfs, state: mounted, fstab: "{{ root }}/fstab"}
      register: m
      ignore_errors: true
    - name: as ansible-core registered it
      assert:
        that:
          - m.failed
          - not m.changed
          - "m.msg is search('^Error mounting ' ~ root ~ '/mnt/p/q: mount: ')"
          - "'unknown filesystem type' in m.msg"
"#;

#[test]
fn a_failed_mount_leaves_fstab_and_no_mount_point_as_ansible_does() {
    let w = Work::new(&[("fail.yml", MOUNT_FAIL)]);
    let _guard = Unmount(w.root().join("mnt/p/q"));
    std::fs::write(w.root().join("fstab"), "# only this\n").expect("fstab");
    let r = w.run("fail.yml", &[]);
    let ignored = r.events.iter().rev().find(|e| e["event"] == "recap").map(|e| e["hosts"][0]["ignored"].clone());
    assert_eq!(
        (r.code, r.counts().1, ignored),
        (0, 0, Some(Json::from(1))),
        "ansible: changed=0 ignored=1\n{}",
        r.text
    );
    assert_eq!(w.read("fstab"), "# only this\n", "fstab put back");
    assert!(!w.root().join("mnt").exists(), "the directories made for the mount point are removed");
}

const MOUNT_EPHEMERAL: &str = r#"- hosts: all
  gather_facts: false
  tasks:
    - name: mounted without fstab
      ansible.posix.mount: {path: "{{ root }}/eph", src: tmpfs, fstype: tmpfs, state: ephemeral, fstab: "{{ root }}/fstab"}
      register: e1
    - name: remounted with an option
      ansible.posix.mount: {path: "{{ root }}/eph", src: tmpfs, fstype: tmpfs, opts: size=2m, state: ephemeral}
    - name: another source refused
      ansible.posix.mount: {path: "{{ root }}/eph", src: other, fstype: tmpfs, state: ephemeral}
      register: e3
      ignore_errors: true
    - name: the mount as the kernel has it
      command: findmnt -n -o SOURCE,OPTIONS --mountpoint "{{ root }}/eph"
      register: fm
      changed_when: false
    - name: unmounted
      ansible.posix.mount: {path: "{{ root }}/eph", state: unmounted, fstab: "{{ root }}/fstab"}
    - name: as ansible-core registered them
      assert:
        that:
          - e1.opts == 'defaults'
          - e1.fstab == root ~ '/fstab'
          - e3.failed
          - e3.msg is search('^Ephemeral mount point is already mounted with a different source')
          - fm.stdout is search('^tmpfs +rw,relatime,size=2048k$')
"#;

#[test]
fn ephemeral_mounts_and_remounts_without_fstab_and_refuses_another_source_as_ansible_does() {
    let w = Work::new(&[("eph.yml", MOUNT_EPHEMERAL)]);
    let _guard = Unmount(w.root().join("eph"));
    std::fs::write(w.root().join("fstab"), "# untouched\n").expect("fstab");
    for round in 1..=2 {
        let r = w.run("eph.yml", &[]);
        let ignored = r.events.iter().rev().find(|e| e["event"] == "recap").map(|e| e["hosts"][0]["ignored"].clone());
        let got = (r.code, r.counts(), ignored);
        assert_eq!(
            got,
            (0, (6, 3), Some(Json::from(1))),
            "round {round}: ansible: ok=6 changed=3 ignored=1\n{}",
            r.text
        );
        assert_eq!(w.read("fstab"), "# untouched\n");
        assert!(!is_mounted(&w.root().join("eph")) && w.root().join("eph").is_dir(), "unmounted, mount point kept");
    }
}

const MOUNT_REMOUNTED: &str = r#"- hosts: all
  gather_facts: false
  tasks:
    - name: mounted with a backup of fstab
      mount: {path: "{{ root }}/r", src: tmpfs, fstype: tmpfs, opts: size=1m, state: mounted, backup: true, fstab: "{{ root }}/fstab"}
      register: m
    - name: remounted from fstab
      mount: {path: "{{ root }}/r", state: remounted, fstab: "{{ root }}/fstab"}
      register: r1
    - name: remounted with an option fstab does not have
      mount: {path: "{{ root }}/r", state: remounted, opts: size=3m, fstab: "{{ root }}/fstab"}
    - name: the mount as the kernel has it
      command: findmnt -n -o OPTIONS --mountpoint "{{ root }}/r"
      register: fm
      changed_when: false
    - name: unmounted
      mount: {path: "{{ root }}/r", state: unmounted, fstab: "{{ root }}/fstab"}
    - name: remounted when not mounted
      mount: {path: "{{ root }}/r", state: remounted, fstab: "{{ root }}/fstab"}
      register: r2
      ignore_errors: true
    - name: as ansible-core registered them
      assert:
        that:
          - m.backup_file == '' or (m.backup_file is search('/fstab\.[0-9]+\.[0-9]{4}-[0-9]{2}-[0-9]{2}@[0-9]{2}:[0-9]{2}:[0-9]{2}~$') and lookup('file', m.backup_file) == '# before')
          - r1.opts == 'defaults'
          - fm.stdout == 'rw,relatime,size=3072k'
          - r2.failed
          - "r2.msg is search('^Error remounting ' ~ root ~ '/r: umount: ')"
"#;

#[test]
fn remounted_backup_and_unmounted_as_ansible_does() {
    let w = Work::new(&[("rem.yml", MOUNT_REMOUNTED)]);
    let _guard = Unmount(w.root().join("r"));
    std::fs::write(w.root().join("fstab"), "# before\n").expect("fstab");
    for round in 1..=2 {
        let r = w.run("rem.yml", &[]);
        let ignored = r.events.iter().rev().find(|e| e["event"] == "recap").map(|e| e["hosts"][0]["ignored"].clone());
        let got = (r.code, r.counts(), ignored);
        assert_eq!(
            got,
            (0, (7, 4), Some(Json::from(1))),
            "round {round}: ansible: ok=7 changed=4 ignored=1\n{}",
            r.text
        );
        assert!(!is_mounted(&w.root().join("r")));
    }
    let backups = std::fs::read_dir(w.root())
        .expect("read_dir")
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("fstab."))
        .count();
    assert_eq!(backups, 1, "as Ansible: one backup, of the one run that wrote fstab");
}

const SYSCTL_SITE: &str = r#"- hosts: all
  gather_facts: false
  vars:
    f: "{{ root }}/sysctl.conf"
  tasks:
    - name: the domain name set and written
      ansible.posix.sysctl: {name: kernel.domainname, value: prov-e2e, sysctl_set: true, ignoreerrors: true, sysctl_file: "{{ f }}"}
    - name: a key only in the file
      sysctl: {key: prov.test.flag, val: "yes", reload: false, sysctl_file: "{{ f }}"}
    - name: a key removed
      ansible.builtin.sysctl: {name: prov.test.old, state: absent, reload: false, sysctl_file: "{{ f }}"}
    - name: the running value
      command: sysctl -n kernel.domainname
      register: live
      changed_when: false
      when: not ansible_check_mode
    - name: set in the running kernel
      assert:
        that:
          - live.stdout == 'prov-e2e'
      when: not ansible_check_mode
"#;

const SYSCTL_CONF: &str =
    "# kernel parameters\n  prov.test.keep = a  b\nkernel.domainname = before\nprov.test.old=1\n\n";

/// A UTS namespace of its own (a `sleep` started by `unshare --uts`), so that setting
/// `kernel.domainname` changes nothing outside the test; killed when dropped.
struct Uts(std::process::Child);

impl Uts {
    fn new() -> Uts {
        let uts =
            Uts(Command::new("unshare").args(["--uts", "sleep", "600"]).spawn().expect("unshare runs (needs root)"));
        let ns = |pid: &str| std::fs::read_link(format!("/proc/{pid}/ns/uts")).ok();
        let pid = uts.pid();
        for _ in 0..100 {
            if ns(&pid).is_some() && ns(&pid) != ns("self") {
                return uts;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        panic!("unshare --uts made no namespace");
    }

    fn pid(&self) -> String {
        self.0.id().to_string()
    }
}

impl Drop for Uts {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn sysctl_rewrites_the_file_and_sets_the_running_value_as_ansible_does() {
    let w = Work::new(&[("site.yml", SYSCTL_SITE)]);
    std::fs::write(w.root().join("sysctl.conf"), SYSCTL_CONF).expect("sysctl.conf");
    let uts = Uts::new();
    let pid = uts.pid();
    let ns = ["nsenter", "-t", pid.as_str(), "-u"];
    let r = w.run_in(&ns, "site.yml", &["--check"]);
    assert_eq!((r.code, r.counts()), (0, (3, 3)), "ansible: ok=3 changed=3 in check mode\n{}", r.text);
    assert_eq!(w.read("sysctl.conf"), SYSCTL_CONF, "check mode wrote the file");
    let r = w.run_in(&ns, "site.yml", &[]);
    assert_eq!((r.code, r.counts()), (0, (5, 3)), "ansible: ok=5 changed=3\n{}", r.text);
    assert_eq!(
        w.read("sysctl.conf"),
        "# kernel parameters\nprov.test.keep=a  b\nkernel.domainname=prov-e2e\n\nprov.test.flag=1\n",
        "the bytes ansible.posix.sysctl wrote"
    );
    let r = w.run_in(&ns, "site.yml", &[]);
    assert_eq!((r.code, r.counts()), (0, (5, 0)), "second run changes nothing\n{}", r.text);
    let here = Command::new("sysctl").args(["-n", "kernel.domainname"]).output().expect("sysctl runs");
    assert_ne!(String::from_utf8_lossy(&here.stdout).trim(), "prov-e2e", "the test's namespace leaked");
}

const SYSCTL_ERRORS: &str = r#"- hosts: all
  gather_facts: false
  tasks:
    - name: an unknown key reloaded
      sysctl: {name: prov.no.such.key, value: "1", sysctl_file: "{{ root }}/sysctl.conf"}
      register: s1
      ignore_errors: true
    - name: an unknown key set
      sysctl: {name: prov.no.such.other, value: "1", sysctl_set: true, sysctl_file: "{{ root }}/sysctl.conf"}
      register: s2
      ignore_errors: true
    - name: as ansible-core registered them
      assert:
        that:
          - s1.failed and not s1.changed
          - "s1.msg == 'Failed to reload sysctl: sysctl: cannot stat /proc/sys/prov/no/such/key: No such file or directory\n'"
          - s2.failed and not s2.changed
          - "s2.msg == 'setting prov.no.such.other failed: sysctl: cannot stat /proc/sys/prov/no/such/other: No such file or directory\n'"
"#;

#[test]
fn sysctl_reports_a_failed_reload_and_a_failed_set_as_ansible_does() {
    let w = Work::new(&[("bad.yml", SYSCTL_ERRORS)]);
    for round in 1..=2 {
        let r = w.run("bad.yml", &[]);
        let ignored = r.events.iter().rev().find(|e| e["event"] == "recap").map(|e| e["hosts"][0]["ignored"].clone());
        let got = (r.code, r.counts(), ignored);
        assert_eq!(
            got,
            (0, (3, 0), Some(Json::from(2))),
            "round {round}: ansible: ok=3 changed=0 ignored=2\n{}",
            r.text
        );
        assert_eq!(w.read("sysctl.conf"), "prov.no.such.key=1\n", "the file made and kept, the failed set not written");
    }
}
