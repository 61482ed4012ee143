//! `timezone` (community.general) on this machine, which has no systemd: /etc/timezone edited,
//! /etc/localtime linked and `dpkg-reconfigure tzdata` run, twice, in check mode, and a zone
//! that does not exist. community.general 11 (the `ansible` 12.3.0 package) registered the same
//! results for the same tasks here; the machine's zone is put back after.

use crate::language::apply;

/// Puts /etc/timezone and /etc/localtime back as they were.
struct Restore(Option<String>, Option<std::path::PathBuf>);

impl Drop for Restore {
    fn drop(&mut self) {
        if let Some(t) = &self.0 {
            let _ = std::fs::write("/etc/timezone", t);
        }
        if let Some(l) = &self.1 {
            let _ = std::fs::remove_file("/etc/localtime");
            let _ = std::os::unix::fs::symlink(l, "/etc/localtime");
        }
    }
}

#[test]
fn timezone_sets_the_zone_once_as_community_general() {
    let _turn = crate::ssh::DPKG.lock().unwrap_or_else(|e| e.into_inner());
    let _restore = Restore(std::fs::read_to_string("/etc/timezone").ok(), std::fs::read_link("/etc/localtime").ok());
    let site = r#"- hosts: a
  gather_facts: false
  tasks:
    - timezone: {name: Etc/UTC}
    - timezone: {name: Europe/Paris}
      register: t1
    - timezone: {name: Europe/Paris}
      register: t2
    - community.general.timezone: {name: Asia/Tokyo}
      register: t3
      check_mode: true
    - timezone: {name: Nowhere/Land}
      register: t4
      ignore_errors: true
    - timezone: {name: Etc/UTC}
      register: t5
    - debug: msg="{{ [t1, t2, t3, t4, t5] | to_json }}"
"#;
    let (_d, r) = apply(&[("site.yml", site)], &[]);
    assert_eq!(r.code, 0, "{}", r.dump());
    let got: Vec<serde_json::Value> =
        serde_json::from_str(r.of("debug")[0]["msg"].as_str().expect("msg")).expect("JSON");
    let diff = |a: &str, b: &str| serde_json::json!({"before": {"name": a}, "after": {"name": b}});
    let edited = "Added 1 line and deleted 1 line(s) on /etc/timezone";
    assert_eq!(
        got[0],
        serde_json::json!({"changed": true, "failed": false, "diff": diff("Etc/UTC", "Europe/Paris"), "msg": edited})
    );
    assert_eq!(
        got[1],
        serde_json::json!({"changed": false, "failed": false, "diff": diff("Europe/Paris", "Europe/Paris")})
    );
    assert_eq!(
        got[2],
        serde_json::json!({"changed": true, "failed": false, "diff": diff("Europe/Paris", "Asia/Tokyo")})
    );
    assert_eq!(got[3]["msg"], "Error message:\ngiven timezone \"Nowhere/Land\" is not available");
    assert_eq!(
        got[4],
        serde_json::json!({"changed": true, "failed": false, "diff": diff("Europe/Paris", "Etc/UTC"), "msg": edited})
    );
    assert_eq!(std::fs::read_to_string("/etc/timezone").expect("timezone"), "Etc/UTC\n");
}
