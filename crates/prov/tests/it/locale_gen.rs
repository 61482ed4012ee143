//! community.general's `locale_gen` on this machine (`/etc/locale.gen` and `locale-gen`, from
//! Debian's `locales`): check mode, two locales made, again (no change), removed, a locale that
//! does not exist, and `C.UTF-8` in both spellings. ansible-core 2.19.14 with community.general
//! from ansible 12.3.0 registered the same results (the literals here). The machine's
//! `/etc/locale.gen` and locales are put back afterwards.

use crate::language::apply;
use serde_json::json;

/// Puts `/etc/locale.gen` back as it was and regenerates the locales, whatever the test did.
struct Restore(String);

impl Drop for Restore {
    fn drop(&mut self) {
        let now = std::fs::read_to_string("/etc/locale.gen").unwrap_or_default();
        if now != self.0 {
            let _ = std::fs::write("/etc/locale.gen", &self.0);
            let _ = std::process::Command::new("locale-gen").output();
        }
    }
}

#[test]
fn locale_gen_makes_and_removes_locales_as_community_general() {
    let _restore = Restore(std::fs::read_to_string("/etc/locale.gen").expect("/etc/locale.gen (package locales)"));
    let site = r#"- hosts: a
  gather_facts: false
  tasks:
    - community.general.locale_gen: {name: fr_FR.UTF-8}
      register: l1
      check_mode: true
    - community.general.locale_gen: {name: [fr_FR.UTF-8, de_DE.UTF-8]}
      register: l2
    - community.general.locale_gen: {name: fr_FR.UTF-8}
      register: l3
    - command: locale -a
      register: la
    - community.general.locale_gen: {name: [fr_FR.UTF-8, de_DE.UTF-8], state: absent}
      register: l4
    - community.general.locale_gen: {name: de_DE.UTF-8, state: absent}
      register: l5
    - community.general.locale_gen: {name: xx_YY.UTF-8}
      register: l6
      ignore_errors: true
    - community.general.locale_gen: {name: C.UTF-8}
      register: l7
    - locale_gen: {name: C.utf8}
      register: l8
    - debug: msg="{{ [l1, l2, l3, la.stdout_lines, l4, l5, l6, l7, l8] | to_json }}"
"#;
    let (_d, r) = apply(&[("site.yml", site)], &[]);
    assert_eq!(r.code, 0, "{}", r.dump());
    let mut got: Vec<serde_json::Value> =
        serde_json::from_str(r.of("debug")[0]["msg"].as_str().expect("msg")).expect("JSON");
    got[6].as_object_mut().expect("result").remove("exception");
    // `locale -a` lists the machine's other locales too.
    let listed: Vec<&str> = got[3].as_array().expect("list").iter().filter_map(|v| v.as_str()).collect();
    assert!(listed.contains(&"de_DE.utf8") && listed.contains(&"fr_FR.utf8"), "{listed:?}");
    got[3] = json!(null);
    let res = |changed: bool, names: &[&str]| json!({"changed": changed, "name": names, "ubuntu_mode": false, "mechanism": "glibc", "failed": false});
    let both = ["fr_FR.UTF-8", "de_DE.UTF-8"];
    let vars = json!({"name": ["xx_YY.UTF-8"], "ubuntu_mode": false, "mechanism": "glibc"});
    let want = vec![
        res(false, &["fr_FR.UTF-8"]),
        res(true, &both),
        res(false, &["fr_FR.UTF-8"]),
        json!(null),
        res(true, &both),
        res(false, &["de_DE.UTF-8"]),
        json!({"output": vars, "vars": vars, "name": ["xx_YY.UTF-8"], "ubuntu_mode": false, "mechanism": "glibc",
            "failed": true, "changed": false,
            "msg": "The following locales you have entered are not available on your system: xx_YY.UTF-8"}),
        res(false, &["C.UTF-8"]),
        res(false, &["C.utf8"]),
    ];
    assert_eq!(got.len(), want.len());
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        assert_eq!(g, w, "result {}", i + 1);
    }
}
