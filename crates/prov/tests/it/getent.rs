//! `getent` on a local host: its fact is a variable under its own name (`getent_passwd`, not
//! `ansible_getent_passwd`) and under `ansible_facts`, and a missing key fails unless
//! `fail_key: false`, as ansible-core 2.19.14 did for the same tasks.

use crate::language::apply;

#[test]
fn getent_sets_its_fact_under_its_own_name_as_ansible_core() {
    let site = "- hosts: a\n  gather_facts: false\n  tasks:\n    - getent: database=passwd key=root\n      register: g\n    - debug: msg=\"{{ g | to_json }} | {{ getent_passwd is defined }} {{ ansible_getent_passwd is defined }} {{ ansible_facts.getent_passwd is defined }}\"\n    - getent: database=passwd key=nosuchuser fail_key=false\n      register: g2\n    - debug: msg=\"{{ g2.ansible_facts | to_json }} {{ g2.msg }}\"\n    - getent: database=passwd key=nosuchuser\n      ignore_errors: true\n      register: g3\n    - debug: msg=\"{{ g3.msg }}\"\n";
    let (_d, r) = apply(&[("site.yml", site)], &[]);
    assert_eq!(r.code, 0, "{}", r.dump());
    let shown: Vec<&str> = r.of("debug").iter().filter_map(|x| x["msg"].as_str()).collect();
    let root = std::fs::read_to_string("/etc/passwd").expect("passwd");
    let fields: Vec<&str> = root.lines().find(|l| l.starts_with("root:")).expect("root").split(':').skip(1).collect();
    let want =
        serde_json::json!({"changed": false, "failed": false, "ansible_facts": {"getent_passwd": {"root": fields}}});
    let (json, rest) = shown[0].split_once(" | ").expect("two parts");
    assert_eq!(serde_json::from_str::<serde_json::Value>(json).expect("JSON"), want, "{}", r.dump());
    assert_eq!(rest, "True False True");
    assert_eq!(
        shown[1],
        r#"{"getent_passwd": {"nosuchuser": null}} One or more supplied key could not be found in the database."#
    );
    assert_eq!(shown[2], "One or more supplied key could not be found in the database.");
}
