//! ansible.builtin's `systemd_service` (and its `systemd` name) through the real binary on this
//! machine (`ansible_connection=local`), on a throwaway unit written under `/run/systemd/system`
//! (gone at reboot, removed after the test). Needs root on a host whose PID 1 is systemd, which
//! the machines these tests were written on are not: the module's decisions are checked against
//! `systemctl` output shapes in its unit tests, and this test is ignored unless run by hand
//! (`cargo test -p prov --test it systemd -- --ignored`). The counts below follow from
//! ansible-core 2.19's systemd_service (reload first and no change for it; enable before start;
//! `restarted` always changes), not from a recorded Ansible run.

use crate::util::Work;
use std::path::Path;

const UNIT: &str = "prov-e2e-sleep.service";

const SITE: &str = r#"- hosts: all
  gather_facts: false
  tasks:
    - name: unit started and enabled
      systemd_service: {name: prov-e2e-sleep, state: started, enabled: true, daemon_reload: true}
      register: r1
    - name: reloaded is a restart here
      ansible.builtin.systemd: {name: prov-e2e-sleep.service, state: restarted}
      when: bounce | default(false) | bool
    - name: as ansible registers them
      assert:
        that:
          - r1.name == 'prov-e2e-sleep' and r1.state == 'started' and r1.enabled
          - r1.status.LoadState == 'loaded' and r1.status.Id == 'prov-e2e-sleep.service'
"#;

const DOWN: &str = r#"- hosts: all
  gather_facts: false
  tasks:
    - systemd: {name: prov-e2e-sleep, state: stopped, enabled: false}
    - systemd: {name: prov-e2e-sleep, masked: true}
"#;

/// Removes the unit when dropped.
struct Unit;

impl Drop for Unit {
    fn drop(&mut self) {
        let _ = std::process::Command::new("systemctl").args(["unmask", UNIT]).output();
        let _ = std::process::Command::new("systemctl").args(["disable", "--now", UNIT]).output();
        let _ = std::fs::remove_file(Path::new("/run/systemd/system").join(UNIT));
        let _ = std::process::Command::new("systemctl").arg("daemon-reload").output();
    }
}

fn active() -> String {
    let out = std::process::Command::new("systemctl").args(["is-active", UNIT]).output().expect("systemctl");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
#[ignore = "needs a host running systemd"]
fn systemd_service_starts_enables_stops_and_masks_a_unit_once() {
    assert!(Path::new("/run/systemd/system").is_dir(), "PID 1 is not systemd here");
    let _unit = Unit;
    std::fs::write(
        Path::new("/run/systemd/system").join(UNIT),
        "[Unit]\nDescription=prov e2e\n[Service]\nExecStart=/bin/sleep 600\n[Install]\nWantedBy=multi-user.target\n",
    )
    .expect("write the unit");
    let w = Work::new(&[("site.yml", SITE), ("down.yml", DOWN)]);
    let r = w.run("site.yml", &["--check"]);
    assert_eq!(active(), "inactive", "check mode started it\n{}", r.text);
    let r = w.run("site.yml", &[]);
    assert_eq!((r.code, r.counts()), (0, (2, 1)), "{}", r.text);
    assert_eq!(active(), "active");
    let r = w.run("site.yml", &[]);
    assert_eq!((r.code, r.counts()), (0, (2, 0)), "second run changes nothing\n{}", r.text);
    let r = w.run("site.yml", &["-e", "bounce=true"]);
    assert_eq!(r.counts().1, 1, "restarted always changes\n{}", r.text);
    let r = w.run("down.yml", &[]);
    assert_eq!((r.code, r.counts()), (0, (2, 2)), "{}", r.text);
    assert_eq!(active(), "inactive");
    let r = w.run("down.yml", &[]);
    assert_eq!((r.code, r.counts()), (0, (2, 0)), "{}", r.text);
}
