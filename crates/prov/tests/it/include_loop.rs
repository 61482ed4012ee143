//! Loops on `include_tasks` and `include_role`, against ansible-core 2.19's behaviour: the
//! values below are what its `ansible-playbook` printed for the same plays on local hosts.

use crate::language::apply;
use serde_json::json;
use serde_json::Value as Json;

fn shown(r: &crate::language::Run, task: &str, host: &str) -> Json {
    let res = r.of(task);
    let hit = res.iter().find(|e| e["host"] == host).unwrap_or_else(|| panic!("no {task} on {host}\n{}", r.dump()));
    serde_json::from_str(hit["msg"].as_str().expect("msg")).expect("JSON message")
}

/// ansible-core: `skipping: [a]`, skipped=1, and the registered value names no items.
#[test]
fn an_empty_loop_skips_the_task_and_registers_no_items() {
    let site = r#"- hosts: a
  gather_facts: false
  tasks:
    - name: empty
      debug: msg=x
      loop: []
      register: r
    - name: show
      debug:
        msg: "{{ r | to_json }}"
"#;
    let (_d, r) = apply(&[("site.yml", site)], &[]);
    assert_eq!(r.code, 0, "{}", r.dump());
    assert_eq!(
        shown(&r, "show", "a"),
        json!({"changed": false, "results": [], "skipped": true, "skipped_reason": "No items in the list"})
    );
    assert_eq!(r.of("empty").len(), 1, "{}", r.dump());
    assert_eq!(r.of("empty")[0]["status"], "skipped");
    assert_eq!((r.recap("a", "ok"), r.recap("a", "skipped")), (1, 1), "{}", r.dump());
}

/// Each host includes the file once per item whose `when` holds; the item, the index
/// variable and the include's vars are seen by the included tasks; every included item counts
/// as ok (ansible-core's recap: a ok=11, b ok=8, no skip).
#[test]
fn include_tasks_runs_the_file_once_per_item() {
    let inner = r#"- name: inner
  debug: msg="{{ item }} {{ ansible_loop_var }} {{ idx }} {{ x }}"
- set_fact:
    acc: "{{ acc | default([]) + [item] }}"
"#;
    let site = r#"- hosts: g1
  gather_facts: false
  tasks:
    - name: inc
      include_tasks: inner.yml
      loop: [1, 2, 3]
      loop_control: {index_var: idx}
      when: item != 2 or inventory_hostname == 'a'
      vars: {x: "X{{ item }}"}
      register: r
    - name: acc
      debug:
        msg: "{{ acc | to_json }}"
    - name: reg
      debug:
        msg: "{{ r | to_json }}"
"#;
    let (_d, r) = apply(&[("site.yml", site), ("inner.yml", inner)], &[]);
    assert_eq!(r.code, 0, "{}", r.dump());
    let msgs = |h: &str| -> Vec<String> {
        r.of("inner").iter().filter(|e| e["host"] == h).map(|e| e["msg"].as_str().unwrap_or("").to_string()).collect()
    };
    assert_eq!(msgs("a"), ["1 item 0 X1", "2 item 1 X2", "3 item 2 X3"]);
    assert_eq!(msgs("b"), ["1 item 0 X1", "3 item 2 X3"]);
    assert_eq!(shown(&r, "acc", "a"), json!([1, 2, 3]));
    assert_eq!(shown(&r, "acc", "b"), json!([1, 3]));
    let item = |i: u64, idx: u64| {
        json!({"ansible_index_var": "idx", "ansible_loop_var": "item", "idx": idx, "include": "inner.yml",
               "include_args": {}, "item": i})
    };
    assert_eq!(
        shown(&r, "reg", "b"),
        json!({"changed": false, "msg": "All items completed", "skipped": false, "results": [
            item(1, 0),
            {"ansible_index_var": "idx", "ansible_loop_var": "item", "changed": false,
             "false_condition": "item != 2 or inventory_hostname == 'a'", "idx": 1, "item": 2,
             "skip_reason": "Conditional result was False", "skipped": true},
            item(3, 2)]}),
        "{}",
        r.dump()
    );
    assert_eq!((r.recap("a", "ok"), r.recap("a", "skipped")), (11, 0), "{}", r.dump());
    assert_eq!((r.recap("b", "ok"), r.recap("b", "skipped")), (8, 0), "{}", r.dump());
}

/// A looped include whose items are all skipped, or that has no items, is skipped once
/// (skipped=2 below); one of its files missing fails the host before any item's tasks run,
/// the items included before it counted (ansible-core: ok=2 failed=1 skipped=2,
/// `ignore_errors` does not help).
#[test]
fn looped_include_skips_and_fails_as_ansible() {
    let site = r#"- hosts: a
  gather_facts: false
  tasks:
    - name: none
      include_tasks: inner.yml
      loop: [1, 2]
      when: false
      register: r1
    - name: empty
      include_tasks: inner.yml
      loop: []
    - name: show
      debug:
        msg: "{{ r1 | to_json }}"
    - name: missing
      include_tasks: "{{ item }}"
      loop: [inner.yml, nope.yml]
      ignore_errors: true
    - name: after
      debug: msg=after
"#;
    let inner = "- name: inner\n  debug: msg=in\n";
    let (_d, r) = apply(&[("site.yml", site), ("inner.yml", inner)], &[]);
    assert_eq!(r.code, 2, "{}", r.dump());
    let skip = |i: u64| {
        json!({"ansible_loop_var": "item", "changed": false, "false_condition": false, "item": i,
               "skip_reason": "Conditional result was False", "skipped": true})
    };
    assert_eq!(
        shown(&r, "show", "a"),
        json!({"changed": false, "msg": "All items skipped", "results": [skip(1), skip(2)], "skipped": true})
    );
    assert!(r.of("inner").is_empty(), "{}", r.dump());
    assert!(r.of("after").is_empty(), "{}", r.dump());
    let counts: Vec<u64> = ["ok", "failed", "skipped"].iter().map(|f| r.recap("a", f)).collect();
    assert_eq!(counts, [2, 1, 2], "{}", r.dump());
}

/// A file name that does not render fails its item only: with `ignore_errors` the other items'
/// files run (ansible-core: ok=3 ignored=1, the included tasks ran twice); without, none does
/// (ok=2 failed=1).
#[test]
fn a_looped_include_item_that_fails_fails_alone() {
    let site = |ignore: bool| {
        format!(
            r#"- hosts: a
  gather_facts: false
  tasks:
    - name: inc
      include_tasks:
        file: "{{{{ item }}}}{{{{ '' if item == 'inner.yml' else undefined_x }}}}"
      loop: [inner.yml, other.yml, inner.yml]
      ignore_errors: {ignore}
"#
        )
    };
    let inner = "- name: inner
  debug: msg=in
";
    let (_d, r) = apply(&[("site.yml", &site(true)), ("inner.yml", inner)], &[]);
    assert_eq!(r.code, 0, "{}", r.dump());
    assert_eq!(r.of("inner").len(), 2, "{}", r.dump());
    let counts: Vec<u64> = ["ok", "failed", "ignored"].iter().map(|f| r.recap("a", f)).collect();
    assert_eq!(counts, [5, 0, 1], "{}", r.dump());
    let (_d, r) = apply(&[("site.yml", &site(false)), ("inner.yml", inner)], &[]);
    assert_eq!(r.code, 2, "{}", r.dump());
    assert!(r.of("inner").is_empty(), "{}", r.dump());
    let counts: Vec<u64> = ["ok", "failed", "ignored"].iter().map(|f| r.recap("a", f)).collect();
    assert_eq!(counts, [2, 1, 0], "{}", r.dump());
}

/// As ansible-core's linear strategy, the hosts run an included file item by item together:
/// no host starts the tasks of item 2 before every host is done with item 1, even when one
/// host is slower (here b checks, when it starts item 2, that a finished item 1).
#[test]
fn hosts_run_a_looped_include_item_by_item_together() {
    let inner = r#"- name: check
  command: test -e {{ root }}/done-a-{{ item - 1 }}
  when: item > 1 and inventory_hostname == 'b'
- name: mark
  shell: sleep {{ '1' if inventory_hostname == 'a' else '0' }} && touch {{ root }}/done-{{ inventory_hostname }}-{{ item }}
"#;
    let site = r#"- hosts: g1
  gather_facts: false
  tasks:
    - include_tasks: inner.yml
      loop: [1, 2]
"#;
    let (_d, r) = apply(&[("site.yml", site), ("inner.yml", inner)], &[]);
    assert_eq!(r.code, 0, "{}", r.dump());
    assert_eq!(r.of("check").iter().filter(|e| e["status"] == "changed").count(), 1, "{}", r.dump());
}

/// `loop_control.extended` on an include: the included tasks see `ansible_loop` (the
/// loop_control target's extended.yml); `include_role` loops the same way.
#[test]
fn looped_include_sees_ansible_loop_and_include_role_loops() {
    let site = r#"- hosts: a
  gather_facts: false
  tasks:
    - name: inc
      include_tasks: inner.yml
      loop: [first, second, third]
      loop_control:
        extended: true
    - name: role
      include_role:
        name: r
      loop: [x, y]
      loop_control:
        loop_var: thing
"#;
    let inner = "- name: inner\n  debug: msg=\"{{ item }} {{ ansible_loop.index }} {{ ansible_loop.last }} {{ ansible_loop.allitems | length }}\"\n";
    let role = "- name: in role\n  debug: msg=\"{{ thing }}\"\n";
    let (_d, r) = apply(&[("site.yml", site), ("inner.yml", inner), ("roles/r/tasks/main.yml", role)], &[]);
    assert_eq!(r.code, 0, "{}", r.dump());
    let msgs: Vec<&str> = r.of("inner").iter().map(|e| e["msg"].as_str().unwrap_or("")).collect();
    assert_eq!(msgs, ["first 1 False 3", "second 2 False 3", "third 3 True 3"]);
    let msgs: Vec<&str> = r.of("in role").iter().map(|e| e["msg"].as_str().unwrap_or("")).collect();
    assert_eq!(msgs, ["x", "y"]);
}

/// A looped task sees `ansible_loop_var` and `ansible_index_var` (ansible-core: "item idx").
#[test]
fn a_loop_sets_ansible_loop_var_and_ansible_index_var() {
    let site = r#"- hosts: a
  gather_facts: false
  tasks:
    - name: names
      debug: msg="{{ ansible_loop_var }} {{ ansible_index_var }}"
      loop: [1]
      loop_control: {index_var: idx}
"#;
    let (_d, r) = apply(&[("site.yml", site)], &[]);
    assert_eq!(r.code, 0, "{}", r.dump());
    assert_eq!(r.of("names")[0]["msg"], "item idx", "{}", r.dump());
}

/// `any_errors_fatal` in a looped include: the failure in item 2 ends the play after that
/// task on every host; no host runs a later task of item 2 or item 3 (ansible-core: a ok=4
/// failed=1 skipped=1, b ok=4 skipped=2).
#[test]
fn any_errors_fatal_in_a_looped_include_stops_the_later_items() {
    let inner = r#"- name: boom
  fail: msg=boom
  when: inventory_hostname == 'a' and item == 2
- name: after boom
  debug: msg="x{{ item }}"
"#;
    let site = r#"- hosts: g1
  gather_facts: false
  any_errors_fatal: true
  tasks:
    - name: inc
      include_tasks: inner.yml
      loop: [1, 2, 3]
    - name: last
      debug: msg=last
"#;
    let (_d, r) = apply(&[("site.yml", site), ("inner.yml", inner)], &[]);
    assert_eq!(r.code, 2, "{}", r.dump());
    let msgs: Vec<&str> = r.of("after boom").iter().map(|e| e["msg"].as_str().unwrap_or("")).collect();
    assert_eq!(msgs, ["x1", "x1"], "{}", r.dump());
    assert!(r.of("last").is_empty(), "{}", r.dump());
    let counts = |h: &str| -> Vec<u64> { ["ok", "failed", "skipped"].iter().map(|f| r.recap(h, f)).collect() };
    assert_eq!((counts("a"), counts("b")), (vec![4, 1, 1], vec![4, 0, 2]), "{}", r.dump());
}
