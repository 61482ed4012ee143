//! Compiler tests on small playbooks (load.rs is too long to hold them).

use super::*;
use crate::diag::Severity;
use crate::inventory::Inventory;
use crate::module::Registry;
use crate::source::SourceMap;
use crate::template::Templar;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A fresh directory holding `files` (`site.yml` is the playbook).
fn project(files: &[(&str, &str)]) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir =
        std::env::temp_dir().join(format!("prov-compile-{}-{}", std::process::id(), N.fetch_add(1, Ordering::SeqCst)));
    let _ = std::fs::remove_dir_all(&dir);
    for (name, text) in files {
        let p = dir.join(name);
        std::fs::create_dir_all(p.parent().expect("has a parent")).expect("mkdir");
        std::fs::write(p, text).expect("write");
    }
    dir
}

/// Compiles `site.yml` of `files` against hosts a, b (no modules: meta tasks only).
fn compile(files: &[(&str, &str)]) -> Result<(CompiledPlaybook, Vec<String>), Vec<String>> {
    compile_with(files, &CompileOptions::default())
}

/// [`compile`] with options (ansible.cfg's play defaults, ...).
fn compile_with(files: &[(&str, &str)], opts: &CompileOptions) -> Result<(CompiledPlaybook, Vec<String>), Vec<String>> {
    let dir = project(files);
    let sources = SourceMap::new();
    let templar = Templar::new(vec![dir.clone()]);
    let registry = Registry::new(Vec::new());
    let mut inv = Inventory::new();
    inv.add_to_group("g", "a");
    inv.add_to_group("g", "b");
    let show = |d: &crate::diag::Diagnostic| {
        let sev = if d.severity == Severity::Error { "error" } else { "warning" };
        format!("{}:{} {sev}: {}", d.span.line, d.span.col, d.message)
    };
    let r = compile_playbook(&dir.join("site.yml"), &sources, &templar, &registry, &inv, opts);
    let _ = std::fs::remove_dir_all(&dir);
    match r {
        Ok((pb, warnings)) => Ok((pb, warnings.iter().map(show).collect())),
        Err(d) => Err(d.0.iter().map(show).collect()),
    }
}

#[test]
fn meta_actions_compile_in_both_forms_with_when() {
    let actions = [
        ("flush_handlers", MetaAction::FlushHandlers),
        ("end_play", MetaAction::EndPlay),
        ("end_host", MetaAction::EndHost),
        ("end_batch", MetaAction::EndBatch),
        ("noop", MetaAction::Noop),
        ("refresh_inventory", MetaAction::RefreshInventory),
        ("clear_facts", MetaAction::ClearFacts),
        ("clear_host_errors", MetaAction::ClearHostErrors),
        ("reset_connection", MetaAction::ResetConnection),
    ];
    let mut yaml = String::from("- hosts: all\n  gather_facts: false\n  tasks:\n");
    for (name, _) in actions {
        yaml.push_str(&format!("    - meta: {name}\n      when: inventory_hostname == 'a'\n"));
        yaml.push_str(&format!("    - ansible.builtin.meta: {name}\n      when: inventory_hostname == 'a'\n"));
    }
    let (pb, warnings) = compile(&[("site.yml", &yaml)]).expect("compiles");
    let got: Vec<Option<MetaAction>> = pb.plays[0].tasks.iter().map(|t| t.meta).collect();
    let want: Vec<Option<MetaAction>> = actions.iter().flat_map(|(_, a)| [Some(*a), Some(*a)]).collect();
    assert_eq!(got, want);
    assert!(pb.plays[0].tasks.iter().all(|t| t.when.len() == 1 && t.module == "meta"));
    // noop, refresh_inventory and reset_connection ignore `when`, as Ansible does (with a
    // warning).
    assert_eq!(warnings.len(), 6, "{warnings:?}");
    assert!(warnings.iter().all(|w| w.contains("`when` has no effect")), "{warnings:?}");
}

#[test]
fn meta_tasks_prov_cannot_run_faithfully_are_refused_with_their_location() {
    let mut errors = compile(&[(
        "site.yml",
        r#"- hosts: all
  gather_facts: false
  tasks:
    - meta: reset_connection
      loop: [1]
    - ansible.builtin.meta: end_role
    - meta: end_plya
    - meta: noop
      loop: [1, 2]
  handlers:
    - name: h
      meta: flush_handlers
"#,
    )])
    .expect_err("refused");
    errors.sort();
    let want = [
        "11:7 error: `meta: flush_handlers` cannot be used as a handler",
        "5:7 error: `loop` on a meta task is not supported",
        "6:7 error: Cannot execute 'end_role' from outside of a role",
        "7:13 error: unknown meta action `end_plya`",
        "9:7 error: `loop` on a meta task is not supported",
    ];
    assert_eq!(errors, want);
}

#[test]
fn end_role_is_refused_in_a_handler_and_in_roles_of_include_role() {
    let mut errors = compile(&[
        ("site.yml", "- hosts: all\n  gather_facts: false\n  roles: [r]\n  tasks:\n    - include_role: {name: r}\n"),
        ("roles/r/tasks/main.yml", "- meta: end_role\n"),
        ("roles/r/handlers/main.yml", "- name: h\n  meta: end_role\n"),
    ])
    .expect_err("refused");
    errors.sort();
    errors.dedup();
    assert_eq!(
        errors,
        [
            "1:3 error: Cannot execute 'end_role' from a handler",
            "1:3 error: `meta: end_role` in a role of include_role or import_role is not supported by prov yet",
        ]
    );
}

#[test]
fn role_include_options_prov_does_not_support_are_refused() {
    let errors = compile(&[
        ("roles/r/tasks/main.yml", "- meta: noop\n"),
        (
            "site.yml",
            "- hosts: all\n  gather_facts: false\n  tasks:\n    - include_role:\n        name: r\n        public: true\n    - import_role:\n        name: r\n        allow_duplicates: true\n",
        ),
    ])
    .expect_err("refused");
    assert_eq!(
        errors,
        [
            "6:9 error: include_role keyword `public` is not supported by prov yet",
            "9:9 error: import_role keyword `allow_duplicates` is not supported by prov yet",
        ]
    );
}

#[test]
fn play_collects_defaults_and_vars_of_roles_and_imported_roles_but_not_included_ones() {
    let (pb, _) = compile(&[
        ("roles/dep/defaults/main.yml", "from_dep: d\nshared: dep\n"),
        ("roles/r/meta/main.yml", "dependencies: [dep]\n"),
        ("roles/r/defaults/main.yml", "shared: r\n"),
        ("roles/r/vars/main.yml", "r_var: v\n"),
        ("roles/r/tasks/main.yml", "- meta: noop\n"),
        ("roles/imp/defaults/main.yml", "imp_default: i\n"),
        ("roles/imp/tasks/main.yml", "- meta: noop\n"),
        ("roles/inc/defaults/main.yml", "inc_default: x\n"),
        ("roles/inc/vars/main.yml", "inc_var: x\n"),
        ("roles/inc/tasks/main.yml", "- meta: noop\n"),
        (
            "site.yml",
            "- hosts: all\n  gather_facts: false\n  roles: [r]\n  tasks:\n    - include_role: {name: inc}\n    - import_role: {name: imp}\n",
        ),
    ])
    .expect("compiles");
    let play = &pb.plays[0];
    let keys = |m: &crate::vars::VarMap| m.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>();
    assert_eq!(keys(&play.role_defaults), ["from_dep=d", "shared=r", "imp_default=i"]);
    assert_eq!(keys(&play.role_vars), ["r_var=v"]);
}

#[test]
fn reading_the_inventory_after_refresh_inventory_in_the_same_play_is_refused() {
    let errors = compile(&[(
        "site.yml",
        r#"- hosts: all
  gather_facts: false
  tasks:
    - meta: end_host
      when: groups['g'] | length > 0
    - meta: refresh_inventory
    - name: reads groups
      meta: end_host
      when: "'new' in groups"
- hosts: all
  gather_facts: false
  tasks:
    - meta: end_host
      when: groups['g'] | length > 0
"#,
    )])
    .expect_err("refused");
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].starts_with("7:7 error: task `reads groups` reads `groups` after `meta: refresh_inventory` ("),
        "{errors:?}"
    );
}

#[test]
fn ansible_cfg_become_defaults_apply_where_the_play_does_not_say() {
    let opts = CompileOptions {
        defaults: PlayDefaults { become_: Some(true), become_user: Some("deploy".into()), ..Default::default() },
        ..Default::default()
    };
    let yaml = "- hosts: all\n  gather_facts: false\n  tasks:\n    - meta: noop\n    - meta: noop\n      become: false\n    - meta: noop\n      become_user: app\n";
    let (pb, _) = compile_with(&[("site.yml", yaml)], &opts).expect("compiles");
    let users: Vec<Option<String>> = pb.plays[0]
        .tasks
        .iter()
        .filter(|t| t.module == "meta")
        .map(|t| t.become_.as_ref().map(|b| b.user.clone()))
        .collect();
    assert_eq!(users, [Some("deploy".to_string()), None, Some("app".to_string())]);
    // `become: true` in the play with no user: ansible.cfg's become_user, not root.
    let opts = CompileOptions {
        defaults: PlayDefaults { become_user: Some("deploy".into()), ..Default::default() },
        ..Default::default()
    };
    let yaml = "- hosts: all\n  gather_facts: false\n  become: true\n  tasks:\n    - meta: noop\n";
    let (pb, _) = compile_with(&[("site.yml", yaml)], &opts).expect("compiles");
    assert_eq!(pb.plays[0].tasks[0].become_.as_ref().map(|b| b.user.as_str()), Some("deploy"));
}

#[test]
fn include_and_import_actions_accept_the_builtin_and_legacy_prefixes() {
    // As ansible-core 2.19 does: each of these runs the file's or the role's tasks.
    let (pb, warnings) = compile(&[
        ("inc.yml", "- name: from inc\n  meta: noop\n"),
        ("roles/r/tasks/main.yml", "- name: from r\n  ansible.legacy.meta: noop\n"),
        (
            "site.yml",
            "- hosts: all\n  gather_facts: false\n  tasks:\n    - ansible.builtin.include_tasks: inc.yml\n    - ansible.legacy.include_tasks: {file: inc.yml}\n    - ansible.builtin.import_tasks: inc.yml\n      vars: {x: 2}\n    - ansible.legacy.import_tasks: inc.yml\n    - ansible.builtin.include_role: {name: r}\n    - ansible.legacy.import_role: {name: r}\n      tags: [t]\n",
        ),
    ])
    .expect("compiles");
    assert_eq!(warnings, Vec::<String>::new());
    let names: Vec<&str> = pb.plays[0].tasks.iter().map(|t| t.name.as_str()).collect();
    // A dynamic include is a task of its own (named after the action as written), after
    // its file's tasks.
    assert_eq!(
        names,
        [
            "from inc",
            "ansible.builtin.include_tasks",
            "from inc",
            "ansible.legacy.include_tasks",
            "from inc",
            "from inc",
            "from r",
            "ansible.builtin.include_role",
            "from r"
        ]
    );
}

// ansible-core 2.19 (handlers target, test_block_as_handler*.yml): a handler may be a block,
// but a block inside it is "Using a block as a handler is not supported", here or in a file
// a handler includes. prov ran it.
#[test]
fn a_block_inside_a_handler_block_is_refused_as_in_ansible() {
    let handlers = "- name: handler\n  block:\n    - name: fine\n      meta: noop\n    - name: nested\n      block:\n        - meta: noop\n";
    let errors = compile(&[(
        "site.yml",
        &format!("- hosts: all\n  gather_facts: false\n  tasks:\n    - meta: noop\n  handlers:\n{}", indent(handlers)),
    )])
    .expect_err("refused");
    assert_eq!(errors, ["10:11 error: using a block as a handler is not supported"]);
    let errors = compile(&[
        ("site.yml", "- hosts: all\n  gather_facts: false\n  tasks:\n    - meta: noop\n  handlers:\n    - name: handler\n      include_tasks: h.yml\n"),
        ("h.yml", handlers),
    ])
    .expect_err("refused");
    assert_eq!(errors, ["5:7 error: using a block as a handler is not supported"]);
    compile(&[(
        "site.yml",
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - block:\n        - block:\n            - meta: noop\n  handlers:\n    - name: h\n      block:\n        - meta: noop\n",
    )])
    .expect("blocks in tasks and a block as a handler compile");
}

fn indent(s: &str) -> String {
    s.lines().map(|l| format!("    {l}\n")).collect()
}

#[test]
fn run_once_inside_a_looped_include_is_refused() {
    let errors = compile(&[
        ("inner.yml", "- meta: noop\n  run_once: true\n- block:\n    - meta: noop\n  run_once: true\n"),
        ("roles/r/tasks/main.yml", "- meta: noop\n  run_once: true\n"),
        (
            "site.yml",
            "- hosts: all\n  gather_facts: false\n  tasks:\n    - include_tasks: inner.yml\n      loop: [1]\n    - include_role:\n        name: r\n      loop: [1]\n    - include_tasks: inner.yml\n",
        ),
    ])
    .expect_err("refused");
    let mut errors = errors;
    errors.sort();
    let want = [
        "2:13 error: `run_once` inside a looped include is not supported by prov yet",
        "2:13 error: `run_once` inside a looped include is not supported by prov yet",
        "4:7 error: `run_once` inside a looped include is not supported by prov yet",
    ];
    assert_eq!(errors, want);
}

/// ansible-core reads a templated `run_once` on every host before the task's `when`, and an
/// undefined name in it ends the run ("'nope' is undefined", at 5:17): refused before connecting.
#[test]
fn templated_run_once_with_an_undefined_name_is_refused() {
    let errors = compile(&[(
        "site.yml",
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - meta: noop\n      run_once: \"{{ nope }}\"\n      when: false\n",
    )])
    .expect_err("refused");
    assert!(errors.iter().any(|e| e.starts_with("5:17 error: undefined variable `nope`")), "{errors:?}");
}

#[test]
fn become_method_su_is_inherited_from_play_block_and_ansible_cfg() {
    use crate::connection::BecomeMethod;
    let methods = |pb: &CompiledPlaybook| -> Vec<Option<BecomeMethod>> {
        pb.plays[0].tasks.iter().filter(|t| t.module == "meta").map(|t| t.become_.as_ref().map(|b| b.method)).collect()
    };
    // The play's `become_method` applies where a task only says `become: true`; a block or a
    // task says otherwise for itself.
    let yaml = "- hosts: all\n  gather_facts: false\n  become_method: su\n  tasks:\n    - meta: noop\n      become: true\n    - block:\n        - meta: noop\n          become: true\n      become_method: sudo\n    - meta: noop\n      become: true\n      become_user: nobody\n    - meta: noop\n";
    let (pb, _) = compile(&[("site.yml", yaml)]).expect("compiles");
    assert_eq!(methods(&pb), [Some(BecomeMethod::Su), Some(BecomeMethod::Sudo), Some(BecomeMethod::Su), None]);
    assert_eq!(pb.plays[0].tasks[2].become_.as_ref().map(|b| b.user.as_str()), Some("nobody"));
    // A task's method under a play that escalates.
    let yaml = "- hosts: all\n  gather_facts: false\n  become: true\n  tasks:\n    - meta: noop\n      become_method: su\n    - meta: noop\n";
    let (pb, _) = compile(&[("site.yml", yaml)]).expect("compiles");
    assert_eq!(methods(&pb), [Some(BecomeMethod::Su), Some(BecomeMethod::Sudo)]);
    // ansible.cfg's `[privilege_escalation] become_method`.
    let opts = CompileOptions {
        defaults: PlayDefaults { become_: Some(true), become_method: Some(BecomeMethod::Su), ..Default::default() },
        ..Default::default()
    };
    let yaml = "- hosts: all\n  gather_facts: false\n  tasks:\n    - meta: noop\n    - meta: noop\n      become_method: sudo\n";
    let (pb, _) = compile_with(&[("site.yml", yaml)], &opts).expect("compiles");
    assert_eq!(methods(&pb), [Some(BecomeMethod::Su), Some(BecomeMethod::Sudo)]);
}

#[test]
fn become_methods_prov_does_not_support_are_refused_naming_the_supported_ones() {
    let yaml = "- hosts: all\n  gather_facts: false\n  tasks:\n    - meta: noop\n      become: true\n      become_method: doas\n";
    let errors = compile(&[("site.yml", yaml)]).expect_err("refused");
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].starts_with("6:22 error: become_method `doas` is not supported (prov supports sudo, su)"),
        "{errors:?}"
    );
}

#[test]
fn a_name_a_when_tests_for_definition_is_not_reported_undefined() {
    let site = "- hosts: all\n  gather_facts: false\n  tasks:\n    - meta: noop\n      when: x is defined and x.y | length > 0\n    - block:\n        - meta: noop\n          when: z != ''\n      when: z is not undefined\n";
    compile(&[("site.yml", site)]).expect("x and z are guarded by their when");
}

/// Includes that each include the next file twice (2^20 loads unbounded) are refused at the
/// bound, quickly, instead of compiling for ever (prov hung on a role of the corpus).
#[test]
fn include_fan_out_is_bounded() {
    let mut files: Vec<(String, String)> = (0..20)
        .map(|i| (format!("f{i}.yml"), format!("- include_tasks: f{n}.yml\n- include_tasks: f{n}.yml\n", n = i + 1)))
        .collect();
    files.push(("f20.yml".into(), "- meta: noop\n".into()));
    files.push((
        "site.yml".into(),
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - include_tasks: f0.yml\n".into(),
    ));
    let refs: Vec<(&str, &str)> = files.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    let errors = compile(&refs).expect_err("refused");
    assert!(errors.iter().any(|e| e.contains("more than 2048 task files in one play")), "{errors:?}");
}

/// Binds the first play of `site` to hosts a and b.
fn bound_waits(site: &str, check: impl FnOnce(&mut BoundPlay)) {
    let (pb, _) = compile(&[("site.yml", site)]).expect("compiles");
    let mut inv = Inventory::new();
    inv.add_to_group("g", "a");
    inv.add_to_group("g", "b");
    let mut bp = bind(&pb.plays[0], &inv, None).expect("binds");
    check(&mut bp);
}

/// A task that waits for another that waits for it in turn is found by the graph check and
/// named with its host; the waits `bind` makes have none.
#[test]
fn a_wait_cycle_names_both_tasks() {
    let site = "- hosts: all\n  strategy: dag\n  gather_facts: false\n  tasks:\n    - meta: noop\n    - meta: noop\n    - meta: noop\n";
    bound_waits(site, |bp| {
        assert_eq!(bp.check_waits(), Ok(()));
        let (first, last) = (bp.order[0], bp.order[2]);
        // a's first task waits for b's last, which waits for a's first.
        // A forward wait alone makes no cycle.
        bp.waits[first] = vec![vec![Wait::Host { host: 1, pos: 2, why: WaitReason::Delegate }], Vec::new()];
        assert_eq!(bp.check_waits(), Ok(()));
        bp.waits[last] = vec![Vec::new(), vec![Wait::Host { host: 0, pos: 0, why: WaitReason::Delegate }]];
        let cycle = bp.check_waits().expect_err("a cycle");
        assert_eq!(cycle.waiter, (last, "b".to_string()));
        assert_eq!(cycle.waited, (first, "a".to_string()));
    });
    // Through a linear barrier: b waits at the second task for every host to pass the first,
    // and a's first task waits for b's second.
    let linear = site.replace("strategy: dag", "strategy: linear");
    bound_waits(&linear, |bp| {
        assert_eq!(bp.check_waits(), Ok(()));
        let first = bp.order[0];
        bp.waits[first] = vec![vec![Wait::Host { host: 1, pos: 1, why: WaitReason::Delegate }], Vec::new()];
        assert!(bp.check_waits().is_err());
    });
}

/// Under `serial`, a host waits for nobody of another batch: `delegate_to` a host of the next
/// batch makes no wait (that host has not started; ansible-core runs the task all the same).
#[test]
fn waits_stay_inside_the_serial_batch() {
    let site = "- hosts: all\n  serial: 1\n  strategy: dag\n  gather_facts: false\n  tasks:\n    - meta: noop\n    - meta: noop\n      delegate_to: b\n";
    bound_waits(site, |bp| {
        let second = bp.order[1];
        assert!(bp.waits[second].iter().all(|w| w.is_empty()), "{:?}", bp.waits[second]);
        assert_eq!(bp.check_waits(), Ok(()));
    });
    let together = site.replace("  serial: 1\n", "");
    bound_waits(&together, |bp| {
        let second = bp.order[1];
        assert_eq!(bp.waits[second][0], vec![Wait::Host { host: 1, pos: 0, why: WaitReason::Delegate }]);
    });
}
