//! `add_host` and `group_by` change the inventory for the plays that follow, and the
//! `group_vars/`/`host_vars/` next to a playbook apply over the inventory's: values recorded
//! from ansible-core 2.19.14 on the same plays.

use crate::language::apply;
use crate::util::{prov, text};
use serde_json::Value as Json;

const SITE: &str = r#"- hosts: g1
  gather_facts: false
  tasks:
    - add_host:
        name: new1
        groups: [fresh, other]
        ansible_connection: local
        color: blue
      register: ah
    - add_host: {name: new1, groups: fresh}
      register: ah2
    - add_host: {hostname: "new2", groups: "fresh, third", ansible_connection: local}
      register: ah3
    - group_by: {key: "by {{ inventory_hostname }}", parents: [parent]}
      register: gb
    - group_by: {key: "by {{ inventory_hostname }}", parents: [parent]}
      register: gb2
    - name: show
      debug: {msg: "{{ {'ah': ah | default('undef'), 'ah2': ah2 | default('undef'), 'ah3': ah3 | default('undef'), 'gb': gb, 'gb2': gb2} | to_json }}"}
- hosts: fresh
  gather_facts: false
  tasks:
    - name: fresh
      debug: {msg: "{{ [inventory_hostname, color | default('none'), group_names, groups['by-a'] | default('nop')] | to_json }}"}
"#;

fn msg(r: &crate::language::Run, task: &str, host: &str) -> Json {
    let e =
        r.of(task).into_iter().find(|e| e["host"] == host).unwrap_or_else(|| panic!("{task} on {host}\n{}", r.dump()));
    serde_json::from_str(e["msg"].as_str().expect("msg")).expect("JSON")
}

#[test]
fn add_host_and_group_by_change_the_inventory_for_later_plays() {
    let (_d, r) = apply(&[("site.yml", SITE)], &[]);
    assert_eq!(r.code, 0, "{}", r.dump());
    let a = msg(&r, "show", "a");
    let strip = |mut v: Json| {
        v.as_object_mut().map(|m| m.remove("failed"));
        v
    };
    assert_eq!(
        strip(a["ah"].clone()),
        serde_json::json!({"changed": true, "add_host": {"host_name": "new1", "groups": ["fresh", "other"],
            "host_vars": {"ansible_connection": "local", "color": "blue"}}})
    );
    assert_eq!(
        strip(a["ah2"].clone()),
        serde_json::json!({"changed": false, "add_host": {"host_name": "new1", "groups": ["fresh"], "host_vars": {}}})
    );
    assert_eq!(strip(a["ah3"].clone())["changed"], true);
    assert_eq!(strip(a["ah3"].clone())["add_host"]["groups"], serde_json::json!(["fresh", "third"]));
    assert_eq!(
        strip(a["gb"].clone()),
        serde_json::json!({"changed": true, "add_group": "by-a", "parent_groups": ["parent"]})
    );
    assert_eq!(strip(a["gb2"].clone())["changed"], false);
    // add_host ran once, on the first host: the others register nothing.
    let b = msg(&r, "show", "b");
    assert_eq!((b["ah"].clone(), b["gb"]["add_group"].clone()), (Json::from("undef"), Json::from("by-b")));
    assert_eq!(r.of("add_host").iter().filter(|e| e["host"] == "b").count(), 0, "{}", r.dump());
    assert_eq!(msg(&r, "fresh", "new1"), serde_json::json!(["new1", "blue", ["fresh", "other"], ["a"]]));
    assert_eq!(msg(&r, "fresh", "new2"), serde_json::json!(["new2", "none", ["fresh", "third"], ["a"]]));
    let recap: Vec<(u64, u64)> =
        ["a", "b", "new1", "new2"].iter().map(|h| (r.recap(h, "ok"), r.recap(h, "changed"))).collect();
    assert_eq!(recap, [(6, 3), (3, 1), (1, 0), (1, 0)]);
}

#[test]
fn reading_groups_after_add_host_in_the_same_play_is_refused() {
    let site = "- hosts: a\n  gather_facts: false\n  tasks:\n    - add_host: {name: n, groups: g}\n    - debug: {msg: \"{{ groups['g'] }}\"}\n";
    let (_d, r) = apply(&[("site.yml", site)], &[]);
    assert_eq!(r.code, 4, "{}", r.dump());
    assert!(
        r.stderr.contains("site.yml:5:7") && r.stderr.contains("reads `groups` after `add_host` (site.yml:4:7)"),
        "{}",
        r.stderr
    );
    assert!(r.results().is_empty(), "nothing ran");
}

#[test]
fn playbook_group_vars_and_host_vars_apply_over_the_inventorys() {
    let dir = tempfile::tempdir().expect("tempdir");
    let files = [
        ("inv/hosts", "[web]\nw1 ansible_connection=local\n"),
        ("inv/group_vars/all.yml", "x: inv_all\ny: inv_all\nz: inv_all\nh: inv_all\n"),
        ("inv/group_vars/web.yml", "y: inv_web\n"),
        ("inv/host_vars/w1.yml", "h: inv_host\n"),
        ("pb/group_vars/all.yml", "x: pb_all\ny: pb_all\nz: pb_all\n"),
        ("pb/group_vars/web.yml", "z: pb_web\n"),
        ("pb/host_vars/w1.yml", "h: pb_host\n"),
        ("pb/site.yml", "- hosts: all\n  gather_facts: no\n  tasks:\n    - debug: {msg: \"x={{ x }} y={{ y }} z={{ z }} h={{ h }}\"}\n"),
    ];
    for (name, body) in files {
        let p = dir.path().join(name);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, body).expect("write");
    }
    let out = prov(dir.path(), &["apply", "pb/site.yml", "-i", "inv/hosts"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    // ansible-playbook 2.19: playbook group_vars over the inventory's for the same group, a
    // more specific group over both, playbook host_vars over the inventory's.
    assert!(stdout.contains("ok: [w1] => x=pb_all y=inv_web z=pb_web h=pb_host"), "{stdout}");
}

/// In ansible-core a host that joins a group gets the group's variables in the same play;
/// prov changes the inventory when the play ends, so every later read that could differ is
/// refused before the run: group variables (directly or through play vars), `group_names` in
/// an assert's bare condition, a template file.
#[test]
fn reads_a_group_by_could_change_in_the_same_play_are_refused() {
    let site = r#"- hosts: g1
  gather_facts: false
  vars:
    via: "{{ tres }}"
  tasks:
    - group_by: {key: "k_{{ inventory_hostname }}", parents: g2}
    - debug: {msg: "{{ root }}"}
    - debug: {msg: "{{ tres }}"}
    - debug: {msg: "{{ via }}"}
    - assert: {that: "'g2' in group_names"}
    - template: {src: t.j2, dest: "{{ root }}/t"}
"#;
    let files = [("site.yml", site), ("group_vars/g2.yml", "tres: three\n"), ("templates/t.j2", "x\n")];
    let (_d, r) = apply(&files, &[]);
    assert_eq!(r.code, 4, "{}", r.dump());
    for (line, what) in
        [(8, "reads `tres`"), (9, "reads `via`"), (10, "reads `group_names`"), (11, "renders a template")]
    {
        assert!(r.stderr.contains(&format!("site.yml:{line}:7: error: task")), "line {line}: {}", r.stderr);
        assert!(r.stderr.contains(what), "{what}: {}", r.stderr);
    }
    assert!(!r.stderr.contains("site.yml:7:7"), "reading `root` (group all) is fine: {}", r.stderr);
    assert!(r.results().is_empty(), "nothing ran");
}

/// Found in review, each checked against ansible-core 2.19.14: `group_by` into a group the host
/// is already in, under `all`, changes nothing (prov said changed); a variable `add_host` sets
/// on a host of the play is read stale, and a connection variable a new group could bring
/// changes how later tasks run, so both are refused before the run.
#[test]
fn group_by_into_its_own_group_is_no_change_and_stale_reads_are_refused() {
    let site = "- hosts: a\n  gather_facts: false\n  tasks:\n    - group_by: {key: g1}\n      register: r1\n    - group_by: {key: g1}\n      register: r2\n- hosts: a\n  gather_facts: false\n  tasks:\n    - name: show\n      debug: {msg: \"{{ [r1.changed, r2.changed] }}\"}\n";
    let (_d, r) = apply(&[("site.yml", site)], &[]);
    assert_eq!(r.code, 0, "{}", r.dump());
    assert_eq!(r.of("show")[0]["msg"], "[false,false]");
    let stale = "- hosts: a\n  gather_facts: false\n  tasks:\n    - add_host: {name: a, color: blue}\n    - debug: {msg: \"{{ color }}\"}\n";
    let (_d, r) = apply(&[("site.yml", stale)], &[]);
    assert_eq!(r.code, 4, "{}", r.dump());
    assert!(r.stderr.contains("site.yml:5:7") && r.stderr.contains("reads `color` after `add_host`"), "{}", r.stderr);
    let conn = "- hosts: a\n  gather_facts: false\n  tasks:\n    - group_by: {key: g9}\n    - command: id -un\n";
    let (_d, r) = apply(&[("site.yml", conn), ("group_vars/g9.yml", "ansible_become: true\n")], &[]);
    assert_eq!(r.code, 4, "{}", r.dump());
    assert!(
        r.stderr.contains("site.yml:5:7") && r.stderr.contains("may run with another `ansible_become`"),
        "{}",
        r.stderr
    );
}
