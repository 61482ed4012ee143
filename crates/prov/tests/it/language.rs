//! The playbook language through the real binary, on `ansible_connection=local` hosts:
//! serial, run_once, until/retries, includes and roles, tags, --limit, no_log,
//! max_fail_percentage, any_errors_fatal, vars_files, pre/post tasks, loops.

use crate::util::{prov, prov_within, text};
use serde_json::Value as Json;
use std::path::Path;

pub(crate) struct Run {
    pub(crate) code: i32,
    pub(crate) events: Vec<Json>,
    pub(crate) stderr: String,
}

impl Run {
    pub(crate) fn results(&self) -> Vec<&Json> {
        self.events.iter().filter(|e| e["event"] == "host_result").collect()
    }

    pub(crate) fn of(&self, task: &str) -> Vec<&Json> {
        self.results().into_iter().filter(|r| r["name"] == task).collect()
    }

    /// The hosts the recap lists, in its order.
    pub(crate) fn recap_hosts(&self) -> Vec<&str> {
        let r = self.events.iter().rev().find(|e| e["event"] == "recap").expect("recap");
        r["hosts"].as_array().expect("hosts").iter().filter_map(|h| h["host"].as_str()).collect()
    }

    /// A host's count in the recap; 0 for a host the recap leaves out (nothing happened on
    /// it, as ansible-core's recap leaves it out).
    pub(crate) fn recap(&self, host: &str, field: &str) -> u64 {
        let r = self.events.iter().rev().find(|e| e["event"] == "recap").expect("recap");
        let h = r["hosts"].as_array().expect("hosts").iter().find(|h| h["host"] == host);
        h.map_or(0, |h| h[field].as_u64().expect("counter"))
    }

    pub(crate) fn dump(&self) -> String {
        format!("{}\n{}", self.events.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n"), self.stderr)
    }
}

/// Writes `files` into a fresh directory with a 4-host local inventory (a, b in `g1`; c, d
/// in `g2`; `root` = the directory) and runs `prov apply site.yml` there.
pub(crate) fn apply(files: &[(&str, &str)], args: &[&str]) -> (tempfile::TempDir, Run) {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().display().to_string();
    let inv = format!("[g1]\na\nb\n[g2]\nc\nd\n[all:vars]\nansible_connection=local\nroot={root}\n");
    std::fs::write(dir.path().join("hosts.ini"), inv).expect("inventory");
    for (name, body) in files {
        let p = dir.path().join(name);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, body).expect("write");
    }
    let run = run_in(dir.path(), args);
    (dir, run)
}

fn run_in(dir: &Path, args: &[&str]) -> Run {
    let mut all = vec!["apply", "site.yml", "-i", "hosts.ini", "--output", "json"];
    all.extend_from_slice(args);
    // No run of these plays takes long; one still running after this waits forever.
    let out = prov_within(dir, &all, std::time::Duration::from_secs(300));
    let (stdout, stderr) = text(&out);
    let events = stdout
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON line ({e}): {l}\n{stderr}")))
        .collect();
    Run { code: out.status.code().unwrap_or(-1), events, stderr }
}

#[test]
fn serial_batches_finish_before_the_next_batch_starts() {
    let (_d, r) = apply(
        &[("site.yml", "- hosts: all\n  serial: 2\n  gather_facts: false\n  tasks:\n    - name: one\n      command: \"true\"\n    - name: two\n      command: \"true\"\n")],
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.dump());
    let order: Vec<(String, String)> = r
        .results()
        .iter()
        .map(|x| {
            (x["host"].as_str().unwrap_or_default().to_string(), x["name"].as_str().unwrap_or_default().to_string())
        })
        .collect();
    let last_first_batch = order.iter().rposition(|(h, _)| h == "a" || h == "b").expect("batch 1");
    let first_second_batch = order.iter().position(|(h, _)| h == "c" || h == "d").expect("batch 2");
    assert!(last_first_batch < first_second_batch, "batches overlap: {order:?}");
}

#[test]
fn run_once_runs_on_one_host_and_registers_for_all() {
    let (_d, r) = apply(
        &[(
            "site.yml",
            "- hosts: all\n  gather_facts: false\n  tasks:\n    - name: once\n      shell: echo from-{{ inventory_hostname }}\n      run_once: true\n      register: o\n    - name: use\n      assert:\n        that: o.stdout == 'from-a'\n",
        )],
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.dump());
    let once: Vec<_> = r.of("once").into_iter().filter(|x| x["status"] != "skipped").collect();
    assert_eq!(once.len(), 1, "{}", r.dump());
    assert_eq!(r.of("use").len(), 4);
}

#[test]
fn until_retries_until_the_condition_holds() {
    let (d, r) = apply(
        &[(
            "site.yml",
            "- hosts: a\n  gather_facts: false\n  tasks:\n    - name: count\n      shell: n=$(cat {{ root }}/n 2>/dev/null || echo 0); n=$((n+1)); echo $n > {{ root }}/n; echo $n\n      register: c\n      until: c.stdout == '3'\n      retries: 5\n      delay: 0\n",
        )],
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.dump());
    assert_eq!(std::fs::read_to_string(d.path().join("n")).expect("n").trim(), "3");
    let (_d2, r2) = apply(
        &[(
            "site.yml",
            "- hosts: a\n  gather_facts: false\n  tasks:\n    - name: never\n      command: \"false\"\n      register: c\n      until: c.rc == 0\n      retries: 2\n      delay: 0\n",
        )],
        &[],
    );
    assert_eq!(r2.code, 2, "{}", r2.dump());
}

/// `retries` without `until` retries until the task does not fail; out of attempts,
/// `attempts` is the number of retries (one less than the runs); `retries: 0` runs once and
/// checks nothing; every condition of an `until` list must hold. ansible-core 2.19, same play:
/// [3, 0, 2, true, "none", true, 1, true, false].
#[test]
fn retries_and_until_count_attempts_as_ansible_core() {
    let site = r#"- hosts: a
  gather_facts: false
  tasks:
    - name: retries alone
      shell: "n=$(cat {{ root }}/c 2>/dev/null||echo 0); n=$((n+1)); echo $n>{{ root }}/c; [ $n -ge 3 ]"
      register: r1
      retries: 5
      delay: 0
    - {name: exhausted, command: "false", register: r2, until: r2.rc == 0, retries: 2, delay: 0, ignore_errors: true}
    - {name: zero retries, command: "false", register: r3, until: r3.rc == 0, retries: 0, ignore_errors: true}
    - name: list until
      command: echo x
      register: r4
      until: [r4.rc == 0, r4.stdout == 'y']
      retries: 1
      delay: 0
      ignore_errors: true
    - name: show
      debug:
        msg: "{{ [r1.attempts, r1.rc, r2.attempts, r2.failed, r3.attempts | default('none'), r3.failed, r4.attempts, r4.failed, 'retries' in r2] }}"
"#;
    let (_d, r) = apply(&[("site.yml", site)], &[]);
    assert_eq!(r.code, 0, "{}", r.dump());
    assert_eq!(r.of("show")[0]["msg"], r#"[3,0,2,true,"none",true,1,true,false]"#, "{}", r.dump());
}

/// `import_playbook` with `vars` and `tags`: ansible-core 2.19 gives the vars to each imported
/// play above its own (a var named `tags` is dropped) and adds the tags (same playbooks under
/// ansible-playbook: "imported o", then "UNDEFINED" in the importing play; `--tags imp` runs
/// the imported play's tasks, `--tags x` nothing). prov ignored both.
#[test]
fn import_playbook_vars_and_tags_go_to_the_imported_plays() {
    let site = "- import_playbook: p2.yml\n  vars: {pv: imported, tags: \"x,y\"}\n  tags: [imp]\n- hosts: a\n  gather_facts: false\n  tasks:\n    - {name: after, debug: {msg: \"{{ pv | default('UNDEFINED') }}\"}}\n";
    let p2 = "- hosts: a\n  gather_facts: false\n  vars: {pv: play, other: o}\n  tasks:\n    - {name: in, debug: {msg: \"{{ pv }} {{ other }}\"}}\n    - {name: t, debug: {msg: t}, tags: [t]}\n";
    let run = |args: &[&str]| {
        let (_d, r) = apply(&[("site.yml", site), ("p2.yml", p2)], args);
        assert_eq!(r.code, 0, "{}", r.dump());
        r.results().iter().filter_map(|x| x["msg"].as_str().map(str::to_string)).collect::<Vec<_>>()
    };
    assert_eq!(run(&[]), ["imported o", "t", "UNDEFINED"]);
    assert_eq!(run(&["--tags", "imp"]), ["imported o", "t"]);
    assert!(run(&["--tags", "x"]).is_empty());
}

/// Each attempt of an `until` is judged by `changed_when`/`failed_when` first, as ansible-core's
/// task executor does; out of attempts the result says failed while a `failed_when` that held
/// false keeps the task's status (same play under ansible-core 2.19.14: the values below and
/// ok=5 changed=3 ignored=2).
#[test]
fn until_sees_the_result_as_changed_when_and_failed_when_judge_it() {
    let site = r#"- hosts: a
  gather_facts: false
  tasks:
    - {name: u1, command: echo y, register: r1, until: "r1.stdout == 'x'", retries: 1, delay: 0, failed_when: false, ignore_errors: true}
    - {name: u2, command: "false", register: r2, retries: 2, delay: 0, failed_when: false}
    - {name: u3, command: echo ERR, register: r3, retries: 2, delay: 0, failed_when: "'ERR' in r3.stdout", ignore_errors: true}
    - {name: u4, command: echo x, register: r4, until: r4 is changed, retries: 1, delay: 0, changed_when: false, ignore_errors: true}
    - name: show
      debug:
        msg: "{{ [r1.failed, r1.attempts, r2.failed, r2.attempts, r3.failed, r3.attempts, r4.failed, r4.attempts] }}"
"#;
    let (_d, r) = apply(&[("site.yml", site)], &[]);
    assert_eq!(r.code, 0, "{}", r.dump());
    assert_eq!(r.of("show")[0]["msg"], "[true,1,false,1,true,2,true,1]", "{}", r.dump());
    let recap = r.events.iter().rev().find(|e| e["event"] == "recap").expect("recap");
    let a = &recap["hosts"][0];
    assert_eq!(
        (a["ok"].as_u64(), a["changed"].as_u64(), a["ignored"].as_u64()),
        (Some(5), Some(3), Some(2)),
        "{}",
        r.dump()
    );
}

/// `allow_duplicates: true` in a role's meta runs the role each time it is listed (ansible-core
/// 2.19, same play: dup, dup, one); prov ran it once.
#[test]
fn allow_duplicates_in_a_roles_meta_runs_it_each_time() {
    let files = [
        ("site.yml", "- hosts: a\n  gather_facts: false\n  roles: [dup, dup, one, one]\n"),
        ("roles/dup/meta/main.yml", "allow_duplicates: true\n"),
        ("roles/dup/tasks/main.yml", "- {name: d, debug: {msg: dup}}\n"),
        ("roles/one/tasks/main.yml", "- {name: o, debug: {msg: one}}\n"),
    ];
    let (_d, r) = apply(&files, &[]);
    assert_eq!(r.code, 0, "{}", r.dump());
    let msgs: Vec<&str> = r.results().iter().filter_map(|x| x["msg"].as_str()).collect();
    assert_eq!(msgs, ["dup", "dup", "one"], "{}", r.dump());
}

/// `pause` bypasses the host loop as add_host does: it runs once, on the first host, whose
/// result alone it is (ansible-core 2.19, same play on three hosts: `p is defined` only on the
/// first, ok=2 there and ok=1 on the others); prov paused on every host.
#[test]
fn pause_runs_once_for_the_play_on_its_first_host() {
    let site = "- hosts: all\n  gather_facts: false\n  tasks:\n    - {name: p, pause: {seconds: 0}, register: p}\n    - {name: d, debug: {msg: \"{{ p is defined }}\"}}\n";
    let (_d, r) = apply(&[("site.yml", site)], &[]);
    assert_eq!(r.code, 0, "{}", r.dump());
    assert_eq!(r.of("p").len(), 1, "{}", r.dump());
    let defined: Vec<String> = r.of("d").iter().map(|x| x["msg"].to_string()).collect();
    assert_eq!(defined.iter().filter(|m| m.contains("true")).count(), 1, "{defined:?}");
    assert!(defined.len() > 1, "{defined:?}");
}

/// `meta: end_host` inside a block ends the host's play without the block's `always`
/// (ansible-core 2.19, same play: nothing printed); prov ran the `always`.
#[test]
fn end_host_in_a_block_skips_its_always() {
    let site = "- hosts: a\n  gather_facts: false\n  tasks:\n    - block:\n        - meta: end_host\n      always:\n        - {name: al, debug: {msg: always-ran}}\n    - {name: after, debug: {msg: after}}\n";
    let (_d, r) = apply(&[("site.yml", site)], &[]);
    assert_eq!(r.code, 0, "{}", r.dump());
    assert!(r.of("al").is_empty() && r.of("after").is_empty(), "{}", r.dump());
}

/// Of two handlers of one name, ansible-core notifies the first of the last handler block
/// holding one (a run of bare handlers is one block, each `block:` another): same plays under
/// ansible-core 2.19, dup-first and bare-after; prov took the last handler.
#[test]
fn a_notified_name_picks_the_first_handler_of_the_last_block_holding_it() {
    let s1 = "- hosts: a\n  gather_facts: false\n  handlers:\n    - {name: dupname, debug: {msg: dup-first}}\n    - {name: dupname, debug: {msg: dup-second}}\n  tasks: [{command: echo, notify: dupname}]\n";
    let s2 = "- hosts: a\n  gather_facts: false\n  handlers:\n    - block:\n        - {name: dupname, debug: {msg: in-block}}\n    - {name: dupname, debug: {msg: bare-after}}\n    - {name: dupname, debug: {msg: bare-after-2}}\n  tasks: [{command: echo, notify: dupname}]\n";
    for (site, want) in [(s1, "dup-first"), (s2, "bare-after")] {
        let (_d, r) = apply(&[("site.yml", site)], &[]);
        assert_eq!(r.code, 0, "{}", r.dump());
        let msgs: Vec<&str> = r.results().iter().filter_map(|x| x["msg"].as_str()).filter(|m| !m.is_empty()).collect();
        assert_eq!(msgs, [want], "{}", r.dump());
    }
}

/// A play's `vars_files` names may use the host's `group_names` and `inventory_hostname_short`
/// (ansible-core templates them with the host's variables); prov skipped such an entry as
/// undefined.
#[test]
fn vars_files_names_may_use_group_names() {
    let site = "- hosts: a:c\n  gather_facts: false\n  vars_files:\n    - \"vars_{{ group_names[0] }}.yml\"\n    - [\"vars_{{ inventory_hostname_short }}.yml\", none.yml]\n  tasks:\n    - {name: v, debug: {msg: \"{{ v }} {{ w | default('none') }}\"}}\n";
    let files = [
        ("site.yml", site),
        ("vars_g1.yml", "v: one\n"),
        ("vars_g2.yml", "v: two\n"),
        ("vars_a.yml", "w: short\n"),
        ("none.yml", "{}\n"),
    ];
    let (_d, r) = apply(&files, &[]);
    assert_eq!(r.code, 0, "{}", r.dump());
    let mut msgs: Vec<String> = r.of("v").iter().map(|x| format!("{} {}", x["host"], x["msg"])).collect();
    msgs.sort();
    assert_eq!(msgs, [r#""a" "one short""#, r#""c" "two none""#], "{}", r.dump());
}

const TAGGED: &str = r#"- hosts: a
  gather_facts: false
  tasks:
    - name: plain
      command: "true"
    - name: tagged
      command: "true"
      tags: [t1]
    - name: always runs
      command: "true"
      tags: [always]
    - name: only on request
      command: "true"
      tags: [never, debug]
    - name: included
      include_tasks: inc.yml
      tags: [t2]
    - import_role:
        name: r
      tags: [t1]
"#;

const TAGGED_FILES: [(&str, &str); 3] = [
    ("inc.yml", "- name: inside include\n  command: \"true\"\n"),
    ("roles/r/tasks/main.yml", "- name: role task\n  debug:\n    msg: \"{{ role_var }}\"\n"),
    ("roles/r/defaults/main.yml", "role_var: from-defaults\n"),
];

fn names(r: &Run) -> Vec<String> {
    let mut v: Vec<String> = r
        .results()
        .iter()
        .filter(|x| x["status"] != "skipped")
        .map(|x| x["name"].as_str().unwrap_or_default().to_string())
        .collect();
    v.dedup();
    v
}

#[test]
fn tags_select_inherit_and_honour_always_and_never() {
    let files = |pb: &'static str| {
        let mut v = vec![("site.yml", pb)];
        v.extend(TAGGED_FILES);
        v
    };
    let (_d, all) = apply(&files(TAGGED), &[]);
    assert_eq!(all.code, 0, "{}", all.dump());
    // The include is a result of its own, as ansible-core's "included: ..." line.
    assert_eq!(names(&all), ["plain", "tagged", "always runs", "included", "inside include", "role task"]);
    let (_d, t1) = apply(&files(TAGGED), &["--tags", "t1"]);
    assert_eq!(names(&t1), ["tagged", "always runs", "role task"], "{}", t1.dump());
    let (_d, dbg) = apply(&files(TAGGED), &["--tags", "debug"]);
    assert_eq!(names(&dbg), ["always runs", "only on request"], "{}", dbg.dump());
    let (_d, skip) = apply(&files(TAGGED), &["--skip-tags", "t1,always"]);
    assert_eq!(names(&skip), ["plain", "included", "inside include"], "{}", skip.dump());
}

/// ansible-core 2.19 (same play, same options): a string of tags is split at commas and each
/// part stripped, an empty one kept (`tags: ""` makes a task tagged); a list keeps its items as
/// written (`["a,b"]` is the one tag `a,b`).
#[test]
fn tags_are_split_only_when_given_as_one_string() {
    const PB: &str = "- hosts: a\n  gather_facts: false\n  tasks:\n    - {name: t1, debug: {msg: t1}, tags: [\"a,b\"]}\n    - {name: t2, debug: {msg: t2}, tags: \"c, d\"}\n    - {name: t3, debug: {msg: t3}, tags: \"\"}\n    - {name: t4, debug: {msg: t4}}\n";
    for (tags, want) in [
        ("a", &[][..]),
        ("a,b", &[]),
        ("d", &["t2"]),
        ("x, d", &["t2"]),
        ("tagged", &["t1", "t2", "t3"]),
        ("untagged", &["t4"]),
    ] {
        let (_d, r) = apply(&[("site.yml", PB)], &["--tags", tags]);
        assert_eq!(r.code, 0, "{}", r.dump());
        assert_eq!(names(&r), want, "--tags {tags}: {}", r.dump());
    }
}

/// ansible-core 2.19's evaluate_tags (same play, same options): `never` runs when asked for by
/// a tag the task has (`--tags never` too), `always` wins over `never`, `--skip-tags all` keeps
/// only `always`, a task tagged `untagged` is untagged.
#[test]
fn tags_are_evaluated_as_ansible_core_evaluates_them() {
    const PB: &str = "- hosts: a\n  gather_facts: false\n  tasks:\n    - {name: n1, debug: {msg: n1}, tags: [never]}\n    - {name: n2, debug: {msg: n2}, tags: [always, never]}\n    - {name: n3, debug: {msg: n3}, tags: [always]}\n    - {name: n4, debug: {msg: n4}, tags: [x]}\n    - {name: n5, debug: {msg: n5}}\n    - {name: n6, debug: {msg: n6}, tags: [untagged]}\n    - {name: n7, debug: {msg: n7}, tags: [never, x]}\n";
    for (args, want) in [
        (&[][..], &["n2", "n3", "n4", "n5", "n6"][..]),
        (&["--tags", "never"], &["n1", "n2", "n3", "n7"]),
        (&["--skip-tags", "all"], &["n2", "n3"]),
        (&["--skip-tags", "all,always"], &[]),
        (&["--tags", "tagged"], &["n2", "n3", "n4"]),
        (&["--tags", "untagged"], &["n2", "n3", "n5", "n6"]),
        (&["--skip-tags", "untagged"], &["n2", "n3", "n4"]),
        (&["--tags", "x", "--skip-tags", "never"], &["n3", "n4"]),
        (&["--tags", "all"], &["n2", "n3", "n4", "n5", "n6"]),
    ] {
        let (_d, r) = apply(&[("site.yml", PB)], args);
        assert_eq!(r.code, 0, "{}", r.dump());
        assert_eq!(names(&r), want, "{args:?}: {}", r.dump());
    }
}

/// ansible-core 2.19 renders templated tags before it chooses tasks, with the play's variables
/// (public role defaults, play vars, -e; for a task a dynamic include brings in, the include's
/// vars and role too), never the host's: a tag rendering to `never` skips the task without
/// --tags, `--tags deploy` runs a task tagged "{{ mytag }}" with mytag: deploy, a list renders
/// to several tags, and a host variable or fact is undefined there (ansible-core fails the
/// play: prov refuses it before connecting). Same playbooks run under ansible-playbook.
#[test]
fn templated_tags_render_with_the_plays_variables_before_tasks_are_chosen() {
    const PB: &str = "- hosts: a\n  gather_facts: false\n  vars: {mytag: deploy, nv: never, lt: [x, never]}\n  roles: [r]\n  tasks:\n    - {name: t1, debug: {msg: t1}, tags: \"{{ mytag }}\"}\n    - {name: t2, debug: {msg: t2}, tags: \"{{ nv }}\"}\n    - {name: t3, debug: {msg: t3}, tags: \"{{ lt }}\"}\n    - {name: t4, debug: {msg: t4}, tags: [\"{{ ev | default('y') }}\"]}\n    - include_tasks: inc.yml\n      vars: {it: never}\n";
    const INC: &str = "- {name: i1, debug: {msg: i1}, tags: \"{{ it }}\"}\n- {name: i2, debug: {msg: i2}}\n";
    const ROLE: &str = "- {name: r1, debug: {msg: r1}, tags: \"{{ rt }}\"}\n";
    let files = [
        ("site.yml", PB),
        ("inc.yml", INC),
        ("roles/r/tasks/main.yml", ROLE),
        ("roles/r/defaults/main.yml", "rt: never\n"),
    ];
    for (args, want) in [
        (&[][..], &["t1", "t4", "include_tasks", "i2"][..]),
        (&["--tags", "deploy"], &["t1"]),
        (&["--tags", "x"], &["t3"]),
        (&["--tags", "never"], &["r1", "t2", "t3"]),
        (&["-e", "ev=never"], &["t1", "include_tasks", "i2"]),
        (&["--skip-tags", "deploy"], &["t4", "include_tasks", "i2"]),
    ] {
        let (_d, r) = apply(&files, args);
        assert_eq!(r.code, 0, "{args:?}: {}", r.dump());
        assert_eq!(names(&r), want, "{args:?}: {}", r.dump());
    }
    // A fact (here set by set_fact) is undefined where tags render.
    const HV: &str = "- hosts: a\n  gather_facts: false\n  tasks:\n    - set_fact: {sv: never}\n    - {name: t1, debug: {msg: t1}, tags: \"{{ sv }}\"}\n";
    let (_d, r) = apply(&[("site.yml", HV)], &[]);
    assert_eq!(r.code, 4, "{}", r.dump());
    assert!(r.dump().contains("'sv' is undefined"), "{}", r.dump());
    assert!(!r.events.iter().any(|e| e["event"] == "host_result"), "{}", r.dump());
    // The tasks of an include that tags leave out are not rendered (ansible-core neither).
    const INC_SV: &str = "- hosts: a\n  gather_facts: false\n  tasks:\n    - include_tasks: sv.yml\n    - {name: t2, debug: {msg: t2}, tags: [z]}\n";
    let sv = "- {name: s1, debug: {msg: s1}, tags: \"{{ sv }}\"}\n";
    let (_d, r) = apply(&[("site.yml", INC_SV), ("sv.yml", sv)], &["--tags", "z"]);
    assert_eq!((r.code, names(&r)), (0, vec!["t2".to_string()]), "{}", r.dump());
    let (_d, r) = apply(&[("site.yml", INC_SV), ("sv.yml", sv)], &[]);
    assert_eq!(r.code, 4, "{}", r.dump());
}

/// `ansible_search_path`, as ansible-core 2.19's task executor sets it (same layout run under
/// ansible-playbook): the role's directory and those of the roles that pulled it in (a
/// dependency lists its depender), then the directory of the task's file (`..` resolved),
/// then the playbook's directory, each once.
#[test]
fn ansible_search_path_lists_the_role_chain_the_task_file_dir_and_the_playbook_dir() {
    let site = "- hosts: a\n  gather_facts: false\n  roles: [p]\n  tasks:\n    - {name: play, debug: {msg: \"{{ sp }}\"}}\n    - include_tasks: sub/inc.yml\n    - include_role: {name: d}\n";
    let show = "- {name: show, debug: {msg: \"{{ sp }}\"}}\n";
    let files = [
        ("site.yml", site),
        ("group_vars/all.yml", "sp: \"{{ ansible_search_path | map('replace', playbook_dir, 'P') | join(' ') }}\"\n"),
        ("sub/inc.yml", show),
        ("roles/p/tasks/main.yml", show),
        ("roles/p/meta/main.yml", "dependencies: [d]\n"),
        (
            "roles/d/tasks/main.yml",
            "- {name: show, debug: {msg: \"{{ sp }}\"}}\n- include_tasks: ../../../sub/inc.yml\n",
        ),
    ];
    let (_d, r) = apply(&files, &[]);
    assert_eq!(r.code, 0, "{}", r.dump());
    let msgs: Vec<&str> = r.results().iter().filter_map(|x| x["msg"].as_str()).filter(|m| m.starts_with('P')).collect();
    assert_eq!(
        msgs,
        [
            "P/roles/d P/roles/p P/roles/d/tasks P",
            "P/roles/d P/roles/p P/sub P",
            "P/roles/p P/roles/p/tasks P",
            "P",
            "P/sub P",
            "P/roles/d P/roles/d/tasks P",
            "P/roles/d P/sub P",
        ],
        "{}",
        r.dump()
    );
}

/// A templated `loop_var` or `index_var` names the loop's variables (ansible-core 2.19, same
/// play: "apple 0", "pear 1", the include's "value", "x"); prov used the template text as
/// the name. One that needs host variables is refused before connecting.
#[test]
fn templated_loop_var_and_index_var_name_the_loop_variables() {
    let site = "- hosts: a\n  gather_facts: false\n  vars: {lvn: fruit}\n  tasks:\n    - name: plain\n      debug: {msg: \"{{ fruit }} {{ i }}\"}\n      loop: [apple, pear]\n      loop_control: {loop_var: \"{{ lvn }}\", index_var: \"{{ 'i' }}\"}\n    - include_tasks: inc.yml\n      loop: [value]\n      loop_control: {loop_var: \"{{ name }}\"}\n      vars: {name: templated}\n    - name: own vars\n      debug: {msg: \"{{ tv }}\"}\n      loop: [x]\n      loop_control: {loop_var: \"{{ n2 }}\"}\n      vars: {n2: tv}\n";
    let inc = "- {name: inc, debug: {msg: \"{{ templated }}\"}}\n";
    let (_d, r) = apply(&[("site.yml", site), ("inc.yml", inc)], &[]);
    assert_eq!(r.code, 0, "{}", r.dump());
    let msgs: Vec<&str> =
        ["plain", "inc", "own vars"].iter().flat_map(|t| r.of(t)).filter_map(|x| x["msg"].as_str()).collect();
    assert_eq!(msgs, ["apple 0", "pear 1", "value", "x"], "{}", r.dump());
    let facts = "- hosts: a\n  gather_facts: false\n  tasks:\n    - debug: {msg: hi}\n      loop: [1]\n      loop_control: {loop_var: \"{{ ansible_hostname }}\"}\n";
    let (_d, r) = apply(&[("site.yml", facts)], &[]);
    assert_eq!(r.code, 4, "{}", r.dump());
    assert!(r.dump().contains("loop_control.loop_var"), "{}", r.dump());
}

/// Inside a loop, ansible-core 2.19 registers each item's result as it comes: the next item
/// sees it under the `register` name (its `when`, its arguments), and `loop_control.label` is
/// rendered after the item ran, with the item's own result; a label that cannot be rendered
/// fails the item ("Failed to template loop_control.label: ..."). Same play under
/// ansible-playbook: b skipped, labels x-x and y-y, the second item of the last task failed.
#[test]
fn loop_items_see_the_result_registered_by_the_item_before_and_labels_their_own() {
    let site = r#"- hosts: a
  gather_facts: false
  tasks:
    - name: echo
      command: "echo {{ item }}"
      register: r
      loop: [a, b, c]
      when: r is not defined or r.stdout | default('') != 'a'
    - name: labels
      debug: {msg: "{{ item }}"}
      loop: [x, y]
      register: r3
      loop_control: {label: "{{ r3.msg }}-{{ r3.item }}"}
    - name: bad label
      command: "echo {{ item }}"
      register: r4
      loop: [changed, skipped]
      loop_control: {label: "{{ r4.stdout }}"}
      when: item == "changed"
      ignore_errors: true
    - name: after
      debug: {msg: "{{ r4.msg }} {{ r4.results[1].failed }} {{ r4.results[1].msg }}"}
"#;
    let (_d, r) = apply(&[("site.yml", site)], &[]);
    assert_eq!(r.code, 0, "{}", r.dump());
    let status: Vec<&str> = r.of("echo").iter().filter_map(|x| x["status"].as_str()).collect();
    assert_eq!(status, ["changed", "skipped", "changed"], "{}", r.dump());
    let labels: Vec<&str> = r.of("labels").iter().filter_map(|x| x["item"].as_str()).collect();
    assert_eq!(labels, ["x-x", "y-y"], "{}", r.dump());
    let bad: Vec<(&str, &str)> = r
        .of("bad label")
        .iter()
        .map(|x| (x["status"].as_str().unwrap_or(""), x["item"].as_str().unwrap_or("")))
        .collect();
    assert_eq!(bad, [("changed", "changed"), ("ignored", "skipped")], "{}", r.dump());
    assert_eq!(
        r.of("after")[0]["msg"],
        "One or more items failed True Failed to template loop_control.label: object of type 'dict' has no attribute 'stdout'",
        "{}",
        r.dump()
    );
}

/// `module_defaults` on a play, a block and a task, as ansible-core 2.19 applies them (same play
/// under ansible-playbook: "/tmp /etc /usr grouped own"): arguments a task does not set come
/// from the innermost entry for its module (short, ansible.builtin. or ansible.legacy. names
/// alike; an inner entry replaces an outer one whole) and from the action groups that hold it,
/// the module's own entry last.
#[test]
fn module_defaults_give_the_arguments_a_task_does_not_set() {
    let site = r#"- hosts: a
  gather_facts: false
  module_defaults:
    command: {chdir: /tmp}
    ansible.builtin.debug: {msg: from-play}
  tasks:
    - {name: a, command: pwd, register: a}
    - {name: d1, debug: }
    - {name: d2, debug: {msg: own}}
    - block:
        - {name: b, command: pwd, register: b}
        - {name: d3, debug: }
      module_defaults:
        ansible.builtin.command: {chdir: /etc}
        debug: {}
    - name: c
      command: pwd
      register: c
      module_defaults:
        ansible.legacy.command: {chdir: /usr}
    - name: p
      ping:
      register: p
      module_defaults:
        group/testgroup: {data: grouped}
    - name: p2
      ping:
      register: p2
      module_defaults:
        group/testgroup: {data: grouped}
        ping: {data: own}
    - name: all
      debug: {msg: "{{ a.stdout }} {{ b.stdout }} {{ c.stdout }} {{ p.ping }} {{ p2.ping }}"}
"#;
    let (_d, r) = apply(&[("site.yml", site)], &[]);
    assert_eq!(r.code, 0, "{}", r.dump());
    let msg = |t: &str| r.of(t).first().map(|x| x["msg"].clone()).unwrap_or_default();
    assert_eq!(
        (msg("d1"), msg("d2"), msg("d3")),
        ("from-play".into(), "own".into(), "Hello world!".into()),
        "{}",
        r.dump()
    );
    assert_eq!(msg("all"), "/tmp /etc /usr grouped own", "{}", r.dump());
}

/// ansible-core keeps an integer tag as an integer, which no --tags ever matches: without
/// --tags the task runs (as all do); with --tags prov refuses it rather than match it as text.
#[test]
fn integer_tags_run_and_are_refused_only_when_tags_choose() {
    const PB: &str = "- hosts: a\n  gather_facts: false\n  tasks:\n    - {name: t1, debug: {msg: t1}, tags: [2024]}\n";
    let (_d, r) = apply(&[("site.yml", PB)], &[]);
    assert_eq!((r.code, names(&r)), (0, vec!["t1".to_string()]), "{}", r.dump());
    let (_d, r) = apply(&[("site.yml", PB)], &["--tags", "2024"]);
    assert_eq!(r.code, 4, "{}", r.dump());
    assert!(r.dump().contains("integer tag"), "{}", r.dump());
}

#[test]
fn limit_restricts_hosts() {
    let (_d, r) = apply(
        &[("site.yml", "- hosts: all\n  gather_facts: false\n  tasks:\n    - name: t\n      command: \"true\"\n")],
        &["--limit", "g2:!d"],
    );
    assert_eq!(r.code, 0, "{}", r.dump());
    let hosts: Vec<&str> = r.results().iter().filter_map(|x| x["host"].as_str()).collect();
    assert_eq!(hosts, ["c"]);
}

#[test]
fn no_log_hides_output_and_messages() {
    let (_d, r) = apply(
        &[(
            "site.yml",
            "- hosts: a\n  gather_facts: false\n  tasks:\n    - name: secret\n      shell: echo s3cr3t; echo s3cr3t >&2; exit 1\n      no_log: true\n",
        )],
        &[],
    );
    assert_eq!(r.code, 2);
    let all = r.events.iter().map(|e| e.to_string()).collect::<String>();
    assert!(!all.contains("s3cr3t"), "no_log leaked: {all}");
}

#[test]
fn max_fail_percentage_and_any_errors_fatal_stop_the_play() {
    // 2 of 4 hosts fail (50 % > 25 %): nobody runs the next task. In lockstep (linear) this
    // is exact; in the default DAG strategy hosts that are ahead have already run it.
    let (_d, r) = apply(
        &[(
            "site.yml",
            "- hosts: all\n  gather_facts: false\n  strategy: linear\n  max_fail_percentage: 25\n  tasks:\n    - name: fail on g1\n      command: \"false\"\n      when: \"'g1' in group_names\"\n    - name: next\n      command: \"true\"\n",
        )],
        &[],
    );
    assert_eq!(r.code, 2, "{}", r.dump());
    assert!(r.of("next").is_empty(), "{}", r.dump());
    // any_errors_fatal: one failure stops everyone.
    let (_d, r) = apply(
        &[(
            "site.yml",
            "- hosts: all\n  gather_facts: false\n  strategy: linear\n  any_errors_fatal: true\n  tasks:\n    - name: fail on a\n      command: \"false\"\n      when: inventory_hostname == 'a'\n    - name: next\n      command: \"true\"\n",
        )],
        &[],
    );
    assert_eq!(r.code, 2, "{}", r.dump());
    assert!(r.of("next").is_empty(), "{}", r.dump());
}

#[test]
fn vars_files_pre_post_tasks_handlers_and_loops() {
    let (d, r) = apply(
        &[
            ("vars/main.yml", "words: [x, y]\n"),
            (
                "site.yml",
                r#"- hosts: a
  gather_facts: false
  vars_files: [vars/main.yml]
  pre_tasks:
    - name: pre
      shell: echo pre >> {{ root }}/order
  tasks:
    - name: loop
      shell: echo {{ w }} >> {{ root }}/order
      loop: "{{ words }}"
      loop_control:
        loop_var: w
      notify: h
    - meta: flush_handlers
    - name: with_items
      shell: echo item-{{ item }} >> {{ root }}/order
      with_items: [1, 2]
    - name: ignored failure
      command: "false"
      ignore_errors: true
    - name: failed_when
      command: "true"
      register: fw
      failed_when: fw.rc == 0
      ignore_errors: true
  post_tasks:
    - name: post
      shell: echo post >> {{ root }}/order
  handlers:
    - name: h
      shell: echo handler >> {{ root }}/order
"#,
            ),
        ],
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.dump());
    let order = std::fs::read_to_string(d.path().join("order")).expect("order");
    assert_eq!(order, "pre\nx\ny\nhandler\nitem-1\nitem-2\npost\n");
    assert_eq!(r.recap("a", "ignored"), 2, "{}", r.dump());
}

/// Results of `task` on `host`.
fn on<'r>(r: &'r Run, task: &str, host: &str) -> Vec<&'r Json> {
    r.of(task).into_iter().filter(|x| x["host"] == host).collect()
}

// Ansible 2.19: a loop over an undefined name fails the task on that host
// ("'only_b' is undefined"); with a false `when` the task is skipped instead.
#[test]
fn loop_over_an_undefined_name_fails_the_task() {
    let (_d, r) = apply(
        &[(
            "site.yml",
            r#"- hosts: g1
  gather_facts: false
  tasks:
    - name: define on b only
      set_fact:
        only_b: [1, 2]
      when: inventory_hostname == 'b'
    - name: skipped by when
      debug: msg="{{ item }}"
      loop: "{{ only_b }}"
      when: inventory_hostname == 'nobody'
    - name: with_items
      debug: msg="{{ item }}"
      with_items: "{{ only_b }}"
      ignore_errors: true
    - name: list item
      debug: msg="{{ item }}"
      loop: [0, "{{ only_b }}"]
      ignore_errors: true
    - name: loop
      debug: msg="{{ item }}"
      loop: "{{ only_b }}"
    - name: after
      debug: msg=after
"#,
        )],
        &[],
    );
    assert_eq!(r.code, 2, "{}", r.dump());
    for task in ["with_items", "list item", "loop"] {
        let a = on(&r, task, "a");
        assert_eq!(a.len(), 1, "{task}: {}", r.dump());
        let want = if task == "loop" { "failed" } else { "ignored" };
        assert_eq!(a[0]["status"], want, "{task}: {}", r.dump());
        let msg = a[0]["msg"].as_str().unwrap_or_default();
        assert!(msg.contains("'only_b' is undefined"), "{task}: {msg}");
        assert!(on(&r, task, "b").iter().all(|x| x["status"] == "ok"), "{task}: {}", r.dump());
    }
    assert_eq!(on(&r, "skipped by when", "a")[0]["status"], "skipped", "{}", r.dump());
    assert_eq!(on(&r, "loop", "b").len(), 2, "{}", r.dump());
    assert!(on(&r, "after", "a").is_empty(), "{}", r.dump());
    assert_eq!(on(&r, "after", "b").len(), 1, "{}", r.dump());
    assert_eq!(r.recap("a", "failed"), 1, "{}", r.dump());
    assert_eq!(r.recap("a", "ignored"), 2, "{}", r.dump());
}

// Ansible 2.19: "Finalization of task args for 'ansible.builtin.debug' failed: Error while
// resolving value for 'msg': 'only_b' is undefined", the same for key=value and mapping
// arguments; an undefined name in `when` fails too ("Error while evaluating conditional").
#[test]
fn undefined_name_in_key_value_arguments_fails_the_task() {
    let (d, r) = apply(
        &[(
            "site.yml",
            r#"- hosts: g1
  gather_facts: false
  tasks:
    - name: define on b only
      set_fact:
        only_b: b-value
      when: inventory_hostname == 'b'
    - name: debug kv
      debug: msg="{{ only_b }}"
      ignore_errors: true
    - name: debug map
      debug:
        msg: "{{ only_b }}"
      ignore_errors: true
    - name: set_fact kv
      set_fact: copied="{{ only_b }}"
      ignore_errors: true
    - name: command kv
      command: touch {{ root }}/{{ inventory_hostname }} chdir="{{ only_b }}"
      ignore_errors: true
    - name: copy kv
      copy: content="{{ only_b }}" dest={{ root }}/copy-{{ inventory_hostname }}
      ignore_errors: true
    - name: when
      debug: msg=hi
      when: only_b
      ignore_errors: true
"#,
        )],
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.dump());
    for task in ["debug kv", "debug map", "set_fact kv", "command kv", "copy kv", "when"] {
        let a = on(&r, task, "a");
        assert_eq!(a.len(), 1, "{task}: {}", r.dump());
        assert_eq!(a[0]["status"], "ignored", "{task}: {}", r.dump());
        let msg = a[0]["msg"].as_str().unwrap_or_default();
        assert!(msg.contains("'only_b' is undefined"), "{task}: {msg}");
    }
    assert_eq!(on(&r, "debug kv", "b")[0]["msg"], "b-value", "{}", r.dump());
    assert!(!d.path().join("copy-a").exists() && !d.path().join("a").exists());
    assert_eq!(r.recap("a", "ignored"), 6, "{}", r.dump());
}

/// Names of the tasks `host` ran (not skipped), in order.
fn ran(r: &Run, host: &str) -> Vec<String> {
    r.results()
        .iter()
        .filter(|x| x["host"] == host && x["status"] != "skipped")
        .map(|x| x["name"].as_str().unwrap_or_default().to_string())
        .collect()
}

// Ansible 2.19 (linear): `end_play`'s `when` is evaluated on the first host still in the play
// only ("end_play when b" is skipped for a and the play goes on); `end_host` is per host;
// a play that ends runs no pending handler; the next play runs on every host. Meta tasks are
// not counted in the recap (a: ok=3, c: ok=2).
#[test]
fn meta_end_play_and_end_host_follow_ansible() {
    let (_d, r) = apply(
        &[(
            "site.yml",
            r#"- hosts: all
  gather_facts: false
  tasks:
    - name: notify
      command: "true"
      changed_when: true
      notify: h
    - name: end_play when b
      meta: end_play
      when: inventory_hostname == 'b'
    - name: end_host on c
      ansible.builtin.meta: end_host
      when: inventory_hostname == 'c'
    - name: after
      debug: msg=after
    - name: end_play when a
      meta: end_play
      when: inventory_hostname == 'a'
    - name: never
      debug: msg=never
  handlers:
    - name: h
      debug: msg=handler
- hosts: all
  gather_facts: false
  tasks:
    - name: second play
      debug: msg=second
"#,
        )],
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.dump());
    for h in ["a", "b", "d"] {
        assert_eq!(ran(&r, h), ["notify", "after", "second play"], "{h}: {}", r.dump());
    }
    assert_eq!(ran(&r, "c"), ["notify", "second play"], "{}", r.dump());
    assert_eq!((r.recap("a", "ok"), r.recap("a", "skipped")), (3, 0), "{}", r.dump());
    assert_eq!((r.recap("c", "ok"), r.recap("c", "skipped")), (2, 0), "{}", r.dump());
}

// Ansible 2.19: with `serial: 2`, `end_batch` is decided by the first live host of each batch
// (b, then c) and ends that batch only; the failed host a sits out the next play (exit 2).
#[test]
fn meta_end_batch_ends_each_batch() {
    let (_d, r) = apply(
        &[(
            "site.yml",
            r#"- hosts: all
  gather_facts: false
  serial: 2
  tasks:
    - name: fail on a
      command: "false"
      when: inventory_hostname == 'a'
    - name: end_batch
      meta: end_batch
      when: inventory_hostname in ['b', 'c']
    - name: after end_batch
      debug: msg=after
- hosts: all
  gather_facts: false
  tasks:
    - name: second play
      debug: msg=second
"#,
        )],
        &[],
    );
    assert_eq!(r.code, 2, "{}", r.dump());
    assert!(r.of("after end_batch").is_empty(), "{}", r.dump());
    let second: Vec<&str> = r.of("second play").iter().filter_map(|x| x["host"].as_str()).collect();
    assert_eq!(second, ["b", "c", "d"], "{}", r.dump());
}

// Ansible 2.19: `clear_host_errors` (decided by b, the first live host) lets the failed host a
// back into the next play but not into the rest of this one, and the run exits 0 although the
// recap still counts a's failure; `noop` and `refresh_inventory` ignore `when` (with a warning);
// `flush_handlers` honours `when` per host.
#[test]
fn meta_clear_host_errors_noop_and_flush_handlers_with_when() {
    let (_d, r) = apply(
        &[(
            "site.yml",
            r#"- hosts: all
  gather_facts: false
  tasks:
    - name: fail on a
      command: "false"
      when: inventory_hostname == 'a'
    - name: notify
      command: "true"
      changed_when: true
      notify: h
    - name: flush on b
      meta: flush_handlers
      when: inventory_hostname == 'b'
    - name: noop
      meta: noop
      when: false
    - name: clear_host_errors when d
      meta: clear_host_errors
      when: inventory_hostname == 'd'
    - name: clear_host_errors
      ansible.builtin.meta: clear_host_errors
    - name: after
      debug: msg=after
  handlers:
    - name: h
      debug: msg=handler
- hosts: all
  gather_facts: false
  tasks:
    - name: second play
      debug: msg=second
"#,
        )],
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.dump());
    assert_eq!(ran(&r, "a"), ["fail on a", "second play"], "{}", r.dump());
    assert_eq!(ran(&r, "b"), ["notify", "h", "after", "second play"], "{}", r.dump());
    assert_eq!(ran(&r, "c"), ["notify", "after", "h", "second play"], "{}", r.dump());
    assert_eq!(r.recap("a", "failed"), 1, "{}", r.dump());
}

const ROLE_HANDLER_FILES: [(&str, &str); 6] = [
    ("roles/r1/handlers/main.yml", "- name: h_r1\n  debug: msg=h_r1\n"),
    ("roles/r1/tasks/main.yml", "- name: t_r1\n  command: \"true\"\n  changed_when: true\n  notify: h_r1\n"),
    ("roles/r2/handlers/main.yml", "- name: h_r2\n  debug: msg=h_r2\n"),
    ("roles/r2/tasks/main.yml", "- name: t_r2\n  command: \"true\"\n  changed_when: true\n  notify: h_r2\n"),
    ("roles/r3/handlers/main.yml", "- name: h_r3\n  debug: msg=h_r3\n"),
    ("roles/r3/tasks/main.yml", "- name: t_r3\n  command: \"true\"\n  changed_when: true\n  notify: h_r3\n"),
];

// Ansible 2.19 runs the handlers of included and imported roles, in the play's handler order:
// handlers of `roles:` first, then the play's own, then imported roles', then included roles'.
#[test]
fn handlers_of_included_and_imported_roles_run() {
    let mut files = vec![(
        "site.yml",
        r#"- hosts: a
  gather_facts: false
  roles: [r1]
  tasks:
    - include_role: {name: r2}
    - import_role: {name: r3}
    - name: t_play
      command: "true"
      changed_when: true
      notify: h_play
  handlers:
    - name: h_play
      debug: msg=h_play
"#,
    )];
    files.extend(ROLE_HANDLER_FILES);
    let (_d, r) = apply(&files, &[]);
    assert_eq!(r.code, 0, "{}", r.dump());
    // The include is a result of its own ("included: r2 for a").
    assert_eq!(
        ran(&r, "a"),
        ["t_r1", "include_role", "t_r2", "t_r3", "t_play", "h_r1", "h_play", "h_r3", "h_r2"],
        "{}",
        r.dump()
    );
}

const ROLE_VAR_FILES: [(&str, &str); 8] = [
    ("roles/rv/defaults/main.yml", "rv_default: from-rv-defaults\nshared: rv-default\n"),
    ("roles/rv/vars/main.yml", "rv_var: from-rv-vars\n"),
    ("roles/rv/tasks/main.yml", "- name: in rv\n  debug: msg=\"{{ shared }}\"\n"),
    ("roles/rw/defaults/main.yml", "shared: rw-default\n"),
    ("roles/rw/tasks/main.yml", "- name: in rw\n  debug: msg=\"{{ shared }}\"\n"),
    ("roles/ri/defaults/main.yml", "ri_default: from-ri-defaults\n"),
    ("roles/ri/vars/main.yml", "ri_var: from-ri-vars\n"),
    ("roles/ri/tasks/main.yml", "- name: in ri\n  debug: msg=ri\n"),
];

// Ansible 2.19 (private_role_vars off): the defaults and vars of the roles in `roles:` and of
// imported roles are visible to every task of the play, even before the role runs; play vars
// beat role defaults; an included role's are not visible outside it; nothing crosses plays.
#[test]
fn play_tasks_see_defaults_and_vars_of_the_plays_roles() {
    let mut files = vec![(
        "site.yml",
        r#"- hosts: a
  gather_facts: false
  pre_tasks:
    - name: pre
      debug: msg="{{ rv_default }} {{ rv_var }} {{ ri_default }} {{ ri_var }}"
  roles: [rv, rw]
  tasks:
    - name: task
      debug: msg="{{ rv_default }} {{ rv_var }} {{ shared }}"
    - import_role: {name: ri}
- hosts: a
  gather_facts: false
  vars:
    shared: play-var
  roles: [rv]
  tasks:
    - name: play var wins
      debug: msg="{{ shared }}"
    - include_role: {name: ri}
    - name: not from included
      debug: msg="{{ ri_default | default('UNDEF') }} {{ ri_var | default('UNDEF') }}"
- hosts: a
  gather_facts: false
  tasks:
    - name: next play
      debug: msg="{{ rv_default | default('UNDEF') }} {{ rv_var | default('UNDEF') }}"
"#,
    )];
    files.extend(ROLE_VAR_FILES);
    let (_d, r) = apply(&files, &[]);
    assert_eq!(r.code, 0, "{}", r.dump());
    let msg = |task: &str, i: usize| r.of(task).get(i).map(|x| x["msg"].clone()).unwrap_or_default();
    assert_eq!(msg("pre", 0), "from-rv-defaults from-rv-vars from-ri-defaults from-ri-vars", "{}", r.dump());
    assert_eq!(msg("in rv", 0), "rv-default");
    assert_eq!(msg("in rw", 0), "rw-default");
    assert_eq!(msg("task", 0), "from-rv-defaults from-rv-vars rw-default");
    assert_eq!(msg("in rv", 1), "play-var");
    assert_eq!(msg("play var wins", 0), "play-var");
    assert_eq!(msg("not from included", 0), "UNDEF UNDEF");
    assert_eq!(msg("next play", 0), "UNDEF UNDEF");
}

// Ansible 2.19: a notification by name runs only the last handler of that name in the play's
// handler order (roles d1 and d2 and the play all define `restart`: only the play's runs);
// `role : name` picks a role's handler; every `listen`er of a topic runs.
#[test]
fn notify_runs_the_last_handler_of_a_name_and_every_listener() {
    let (_d, r) = apply(
        &[
            ("roles/d1/handlers/main.yml", "- name: restart\n  debug: msg=d1\n"),
            ("roles/d1/tasks/main.yml", "- name: t1\n  debug: msg=t\n"),
            ("roles/d2/handlers/main.yml", "- name: restart\n  debug: msg=d2\n"),
            ("roles/d2/tasks/main.yml", "- name: t2\n  debug: msg=t\n"),
            (
                "site.yml",
                r#"- hosts: a
  gather_facts: false
  roles: [d1, d2]
  tasks:
    - name: n
      command: "true"
      changed_when: true
      notify: [restart, "d1 : restart", topic]
  handlers:
    - name: restart
      debug: msg=play
    - name: l1
      debug: msg=l1
      listen: topic
    - name: l2
      debug: msg=l2
      listen: topic
"#,
            ),
        ],
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.dump());
    let msgs: Vec<&str> = r.of("restart").iter().filter_map(|x| x["msg"].as_str()).collect();
    assert_eq!(msgs, ["d1", "play"], "{}", r.dump());
    assert_eq!(ran(&r, "a"), ["t1", "t2", "n", "restart", "restart", "l1", "l2"], "{}", r.dump());
}

// Ansible 2.19 with `--limit 'all:!d' --skip-tags y`, b failed before: the values below
// (ansible_play_hosts, ansible_play_batch and play_hosts leave failed hosts out;
// inventory_file/dir are absolute; ansible_run_tags is ['all'] without --tags), and in a role
// imported from another role's tasks, ansible_parent_role_names / _paths name the parent.
#[test]
fn magic_variables_have_ansibles_values() {
    let (d, r) = apply(
        &[
            (
                "roles/outer/tasks/main.yml",
                "- name: outer parents\n  debug: msg=\"{{ ansible_parent_role_names | default('UNDEF') }}\"\n- include_role: {name: inner}\n",
            ),
            (
                "roles/inner/tasks/main.yml",
                r#"- name: inner
  debug:
    msg:
      parents: "{{ ansible_parent_role_names }}"
      parent_paths: "{{ ansible_parent_role_paths }}"
      role_name: "{{ role_name }}"
      role_path: "{{ role_path }}"
      ansible_role_name: "{{ ansible_role_name }}"
"#,
            ),
            (
                "site.yml",
                r#"- hosts: all
  gather_facts: false
  strategy: linear
  tasks:
    - name: snapshot
      set_fact:
        before: "{{ ansible_play_hosts }}"
    - name: fail b
      command: "false"
      when: inventory_hostname == 'b'
    - name: magic
      debug:
        msg:
          limit: "{{ ansible_limit }}"
          play_hosts: "{{ ansible_play_hosts }}"
          batch: "{{ ansible_play_batch }}"
          all: "{{ ansible_play_hosts_all }}"
          old: "{{ play_hosts }}"
          inventory_dir: "{{ inventory_dir }}"
          inventory_file: "{{ inventory_file }}"
          check: "{{ ansible_check_mode }}"
          run_tags: "{{ ansible_run_tags }}"
          skip_tags: "{{ ansible_skip_tags }}"
          version: "{{ ansible_version.full }} {{ ansible_version.major + 0 }}"
          play_name: "{{ ansible_play_name }}"
          role_name: "{{ role_name | default('UNDEF') }}"
          before: "{{ before }}"
      when: inventory_hostname == 'a'
    - import_role: {name: outer}
      when: inventory_hostname == 'a'
"#,
            ),
        ],
        &["--limit", "all:!d", "--skip-tags", "y"],
    );
    assert_eq!(r.code, 2, "{}", r.dump());
    let dir = d.path().canonicalize().expect("canonical").display().to_string();
    let magic = r.of("magic").into_iter().find(|x| x["host"] == "a").expect("magic on a").clone();
    let msg: Json = serde_json::from_str(magic["msg"].as_str().expect("JSON msg")).expect("msg is JSON");
    let want = serde_json::json!({
        "limit": "all:!d",
        "play_hosts": ["a", "c"],
        "batch": ["a", "c"],
        "all": ["a", "b", "c"],
        "old": ["a", "c"],
        "inventory_dir": dir,
        "inventory_file": format!("{dir}/hosts.ini"),
        "check": false,
        "run_tags": ["all"],
        "skip_tags": ["y"],
        "version": "2.19.14 2",
        "play_name": "all",
        "role_name": "UNDEF",
        "before": ["a", "b", "c"],
    });
    assert_eq!(msg, want, "{}", r.dump());
    assert_eq!(on(&r, "outer parents", "a")[0]["msg"], "UNDEF", "{}", r.dump());
    let inner: Json = serde_json::from_str(on(&r, "inner", "a")[0]["msg"].as_str().expect("JSON msg")).expect("JSON");
    let want = serde_json::json!({
        "parents": ["outer"],
        "parent_paths": [format!("{dir}/roles/outer")],
        "role_name": "inner",
        "role_path": format!("{dir}/roles/inner"),
        "ansible_role_name": "inner",
    });
    assert_eq!(inner, want, "{}", r.dump());
}

// Ansible 2.19: `loop` must resolve to a list ("The `loop` value must resolve to a 'list',
// not 'dict'", also for none); with_items/with_list take any other value as one item.
#[test]
fn loop_over_a_value_that_is_not_a_list() {
    let (_d, r) = apply(
        &[(
            "site.yml",
            r#"- hosts: a
  gather_facts: false
  vars:
    d: {k1: 1, k2: 2}
  tasks:
    - name: loop dict
      debug: msg="{{ item }}"
      loop: "{{ d }}"
      ignore_errors: true
    - name: loop none
      debug: msg="{{ item }}"
      loop: "{{ none }}"
      ignore_errors: true
    - name: with_items dict
      debug: msg="{{ item.k1 }}"
      with_items: "{{ d }}"
    - name: with_list string
      debug: msg="{{ item }}"
      with_list: "{{ 'abc' }}"
"#,
        )],
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.dump());
    for task in ["loop dict", "loop none"] {
        let x = r.of(task);
        assert_eq!(x.len(), 1, "{task}: {}", r.dump());
        assert_eq!(x[0]["status"], "ignored", "{task}: {}", r.dump());
    }
    let msgs = |task: &str| r.of(task).iter().map(|x| x["msg"].to_string()).collect::<Vec<_>>();
    assert_eq!(msgs("with_items dict"), ["\"1\""], "{}", r.dump());
    assert_eq!(msgs("with_list string"), ["\"abc\""], "{}", r.dump());
}

// Ansible 2.19: a meta task whose `when` cannot be evaluated ends the whole run
// ("[ERROR]: Error while evaluating conditional: 'only_b' is undefined", exit 1): no host
// runs the next task, and no later play runs.
#[test]
fn meta_condition_error_stops_the_run() {
    let (_d, r) = apply(
        &[(
            "site.yml",
            r#"- hosts: g1
  gather_facts: false
  strategy: linear
  tasks:
    - name: define on b
      set_fact: {only_b: true}
      when: inventory_hostname == 'b'
    - name: end_host on undefined
      meta: end_host
      when: only_b
    - name: after
      debug: msg=after
- hosts: g1
  gather_facts: false
  tasks:
    - name: second play
      debug: msg=second
"#,
        )],
        &[],
    );
    assert_eq!(r.code, 1, "{}", r.dump());
    assert!(r.of("after").is_empty() && r.of("second play").is_empty(), "{}", r.dump());
    assert!(r.stderr.contains("'only_b' is undefined"), "{}", r.dump());
}

/// `!unsafe` values are literals, never templated, as in ansible-core 2.19: on a scalar, on
/// a collection (every string inside), in free-form arguments; a number under it stays a
/// number. (prov used to template them, and `{% raw %}` inside one failed the task.)
#[test]
fn unsafe_tagged_values_are_never_templated() {
    let site = r#"- hosts: a
  gather_facts: false
  vars:
    v: AAA
    x: !unsafe "{{ v }} and {% raw %}"
    y: "{{ x }}"
    l: !unsafe ["{{ v }}", 5, {k: "{{ v }}"}]
    n: !unsafe 123
  tasks:
    - { name: x, debug: { msg: "{{ x }}" } }
    - { name: y-length, debug: { msg: "{{ y | length }}" } }
    - { name: literal-arg, debug: { msg: !unsafe "{{ v }}" } }
    - { name: list, debug: { msg: "{{ l[0] }}|{{ l[1] + 1 }}|{{ l[2].k }}" } }
    - { name: number, debug: { msg: "{{ n + 1 }}" } }
    - name: free-form
      command: !unsafe "echo {{ v }}"
      register: r
    - { name: free-form-out, debug: { msg: "{{ r.stdout }}-{{ v }}" } }
"#;
    let (_d, r) = apply(&[("site.yml", site)], &[]);
    assert_eq!(r.code, 0, "{}", r.dump());
    let msg = |t: &str| r.of(t)[0]["msg"].as_str().unwrap_or_default().to_string();
    assert_eq!(msg("x"), "{{ v }} and {% raw %}");
    assert_eq!(msg("y-length"), "21");
    assert_eq!(msg("literal-arg"), "{{ v }}");
    assert_eq!(msg("list"), "{{ v }}|6|{{ v }}");
    assert_eq!(msg("number"), "124");
    assert_eq!(msg("free-form-out"), "{{ v }}-AAA");
}

/// `become_user` is a template like the other keywords (prov passed `{{ u }}` to sudo as
/// it was written). Needs sudo, as every `become` test (CI installs it).
#[test]
fn become_user_is_templated_per_host() {
    let site = "- hosts: a\n  gather_facts: false\n  vars:\n    u: nobody\n  tasks:\n    - name: who\n      command: id -un\n      become: true\n      become_user: \"{{ u }}\"\n      register: r\n    - { name: show, debug: { msg: \"{{ r.stdout }}\" } }\n    - name: undefined user\n      command: id -un\n      become: true\n      become_user: \"{{ nobody_defined_this }}\"\n";
    let (_d, r) = apply(&[("site.yml", site)], &[]);
    assert_eq!(r.of("show")[0]["msg"], "nobody", "{}", r.dump());
    let undefined = &r.of("undefined user")[0];
    assert_eq!(undefined["status"], "failed", "{}", r.dump());
    assert!(undefined["msg"].as_str().unwrap_or_default().contains("nobody_defined_this"), "{}", r.dump());
}

/// ansible-core 2.19: a conditional must evaluate to a boolean; a string, number, list or
/// none fails the task (prov used its truthiness: a task ran or was skipped where Ansible
/// fails). `when: "{{ expr }}"` still works, with a deprecation warning.
#[test]
fn non_boolean_conditionals_fail_the_task() {
    let site = r#"- hosts: a
  gather_facts: false
  vars: { s: hello, e: "", n: 0, l: [1], t: "true" }
  tasks:
    - { name: str, debug: { msg: ran }, when: s, ignore_errors: true }
    - { name: empty, debug: { msg: ran }, when: e, ignore_errors: true }
    - { name: int, debug: { msg: ran }, when: n, ignore_errors: true }
    - { name: list, debug: { msg: ran }, when: l, ignore_errors: true }
    - { name: truestr, debug: { msg: ran }, when: t, ignore_errors: true }
    - { name: changed, command: "true", changed_when: s, ignore_errors: true }
    - { name: compare, debug: { msg: ran }, when: n == 0 }
    - { name: filtered, debug: { msg: ran }, when: t | bool }
    - { name: braces, debug: { msg: ran }, when: "{{ n == 0 }}" }
    - { name: assert-str, assert: { that: s }, ignore_errors: true }
    - { name: assert-braces, assert: { that: ["{{ n == 0 }}", "l | length == 1"] } }
"#;
    let (_d, r) = apply(&[("site.yml", site)], &[]);
    assert_eq!(r.code, 0, "{}", r.dump());
    for (task, kind) in
        [("str", "str"), ("empty", "str"), ("int", "int"), ("list", "list"), ("truestr", "str"), ("changed", "str")]
    {
        let res = &r.of(task)[0];
        assert_eq!(res["status"], "ignored", "{task}: {}", r.dump());
        let msg = res["msg"].as_str().unwrap_or_default();
        assert!(
            msg.contains(&format!("of type '{kind}'")) && msg.contains("must have a boolean result"),
            "{task}: {msg}"
        );
    }
    for task in ["compare", "filtered", "braces", "assert-braces"] {
        assert_eq!(r.of(task)[0]["status"], "ok", "{task}: {}", r.dump());
    }
    assert!(r.stderr.contains("should not be surrounded by templating delimiters"), "{}", r.stderr);
}

/// ansible-core 2.19 renders a template written inside a string constant of a conditional
/// (`when: "'{{ x }}' == 'a'"`, an old idiom of many roles) before evaluating it, with a
/// deprecation warning; a `{{ n }}` alone in the constant gives the native value (`'{{ n }}' ==
/// 3` is true). prov refused every such condition. Expected outcomes read from
/// ansible-playbook 2.19.14 running the same tasks. (An undefined name inside one fails the
/// task there; prov's check of undefined names refuses it before connecting, as any other.)
#[test]
fn embedded_templates_in_condition_strings_render_first_as_ansible_core_2_19() {
    let site = r#"- hosts: a
  gather_facts: false
  vars: { x: a, n: 3, lst: [a, b] }
  tasks:
    - { name: one, debug: { msg: one }, when: "'{{ x }}' == 'a'" }
    - { name: two, debug: { msg: two }, when: "'{{ x }}' in lst" }
    - { name: three, debug: { msg: three }, when: "x == \"{{ x }}\"" }
    - { name: six, debug: { msg: six }, when: "'{{ x }}{{ n }}' == 'a3'" }
    - { name: seven, debug: { msg: seven }, when: "'{{ x }}' == 'b'" }
    - { name: eight, debug: { msg: eight }, when: "'{{ x|upper }}' == 'A'" }
    - { name: eleven, debug: { msg: eleven }, when: "'{{ n }}' == 3" }
    - { name: twelve, debug: { msg: twelve }, when: "'{{ n }}' | int == 3" }
    - { name: thirteen, debug: { msg: thirteen }, when: "'{{ n }}' == '3'" }
    - { name: fourteen, debug: { msg: fourteen }, when: "'{{ lst }}' == \"['a', 'b']\"" }
    - { name: sixteen, debug: { msg: sixteen }, when: ["'{{ x }}' == 'a'", "n == 3"] }
    - { name: a1, assert: { that: ["'{{ x }}' == 'a'", "n == 3"] } }
    - { name: a2, assert: { that: "'{{ x }}' == 'b'" }, ignore_errors: true, register: ra2 }
    - { name: a2-assertion, debug: { msg: "{{ ra2.assertion }}" } }
    - name: u1
      command: "sh -c 'exit 3'"
      register: out
      ignore_errors: true
      retries: 1
      delay: 0
      until: ("{{ out.rc }} == 0") or ("{{ out.rc }} == 7")
    - { name: c1, command: "echo hi", register: o2, changed_when: "'{{ o2.rc }}' == 0" }
    - { name: f1, command: "echo hi", register: o3, failed_when: "'{{ o3.rc }}' == 0", ignore_errors: true }
    - { name: l1, debug: { msg: "{{ item }}" }, loop: [a, b], when: "'{{ item }}' == 'b'" }
    - { name: s1, debug: { msg: "{{ 'yes' if '{{ x }}' == 'a' else 'no' }}" } }
"#;
    let (_d, r) = apply(&[("site.yml", site)], &[]);
    assert_eq!(r.code, 0, "{}", r.dump());
    for task in ["one", "two", "three", "six", "eight", "eleven", "twelve", "sixteen"] {
        assert_eq!(r.of(task)[0]["msg"], task, "{task}: {}", r.dump());
    }
    for task in ["seven", "thirteen", "fourteen"] {
        assert_eq!(r.of(task)[0]["status"], "skipped", "{task}: {}", r.dump());
    }
    assert_eq!(r.of("a1")[0]["msg"], "All assertions passed", "{}", r.dump());
    assert_eq!(r.of("a2")[0]["status"], "ignored", "{}", r.dump());
    // `assertion` is the condition as written, as ansible-core registers it. (A template that
    // reads it gets it as it is; ansible-core renders it once more, the text being the
    // playbook's own: a known difference, docs/src/language.md.)
    assert_eq!(r.of("a2-assertion")[0]["msg"], "'{{ x }}' == 'b'", "{}", r.dump());
    // The constants render to non-empty strings: the condition is a string, which fails.
    let u1 = &r.of("u1")[0];
    assert_eq!(u1["status"], "ignored", "{}", r.dump());
    assert!(u1["msg"].as_str().unwrap_or_default().contains("of type 'str'"), "{}", r.dump());
    assert_eq!(r.of("c1")[0]["status"], "changed", "{}", r.dump());
    assert_eq!(r.of("f1")[0]["status"], "ignored", "{}", r.dump());
    let l1 = r.of("l1");
    assert_eq!(
        l1.iter().map(|i| i["status"].as_str().unwrap_or_default()).collect::<Vec<_>>(),
        ["skipped", "ok"],
        "{}",
        r.dump()
    );
    // Only conditionals render them: elsewhere the constant stays text.
    assert_eq!(r.of("s1")[0]["msg"], "no", "{}", r.dump());
    assert!(r.stderr.contains("holds a template, which is rendered first"), "{}", r.stderr);
}

/// A condition written as one template whose value is a string is that string evaluated as a
/// condition (ansible-core 2.19: `when: "{{ check }}"` with `check: "n == 3"` runs the task;
/// prov failed it as a string result), and assert's `that` is never rendered as a template
/// before it is evaluated (`'{{ n }}' == 3` is true: prov compared the text '3'), except a
/// `that` that is one template as a whole, which gives the list of conditions. Outcomes read
/// from ansible-playbook 2.19.14.
#[test]
fn conditions_written_as_one_template_evaluate_a_string_value_again() {
    let site = r#"- hosts: a
  gather_facts: false
  vars: { n: 3, one: "n == 3", two: "n == 4", s: hello, conds: ["1 == 1", "2 == 3"] }
  tasks:
    - { name: w1, debug: { msg: ran }, when: "{{ one }}" }
    - { name: w2, debug: { msg: ran }, when: "{{ two }}" }
    - { name: w3, debug: { msg: ran }, when: "{{ s }}", ignore_errors: true }
    - { name: w4, debug: { msg: ran }, when: one, ignore_errors: true }
    - { name: a1, assert: { that: "'{{ n }}' == 3" } }
    - { name: a2, assert: { that: "{{ conds }}" }, ignore_errors: true, register: ra2 }
    - { name: a2-assertion, debug: { var: ra2.assertion } }
    - { name: a3, assert: { that: "{{ one }}" } }
    - { name: a4, assert: { that: ["{{ one }}", "n == 3"] } }
"#;
    let (_d, r) = apply(&[("site.yml", site)], &[]);
    assert_eq!(r.code, 0, "{}", r.dump());
    assert_eq!(r.of("w1")[0]["msg"], "ran", "{}", r.dump());
    assert_eq!(r.of("w2")[0]["status"], "skipped", "{}", r.dump());
    assert!(r.of("w3")[0]["msg"].as_str().unwrap_or_default().contains("'hello' is undefined"), "{}", r.dump());
    assert!(r.of("w4")[0]["msg"].as_str().unwrap_or_default().contains("must have a boolean result"), "{}", r.dump());
    for task in ["a1", "a3", "a4"] {
        assert_eq!(r.of(task)[0]["msg"], "All assertions passed", "{task}: {}", r.dump());
    }
    assert_eq!(r.of("a2")[0]["status"], "ignored", "{}", r.dump());
    assert!(r.dump().contains("2 == 3"), "{}", r.dump());
}

/// An `until` condition that cannot be evaluated (here: a string, not a boolean) fails the task
/// at once with the reason and a result of its own, as in ansible-core (prov took it as false
/// and retried, then reported "still false" with the command's result).
#[test]
fn until_condition_errors_fail_the_task_at_once() {
    let site = r#"- hosts: a
  gather_facts: false
  tasks:
    - { name: u, command: "echo x", register: out, until: out.stdout, retries: 3, delay: 0, ignore_errors: true }
    - { name: show, debug: { msg: "{{ out.keys() | sort }}" } }
"#;
    let (_d, r) = apply(&[("site.yml", site)], &[]);
    assert_eq!(r.code, 0, "{}", r.dump());
    let u = &r.of("u")[0];
    assert_eq!(u["status"], "ignored", "{}", r.dump());
    assert!(u["msg"].as_str().unwrap_or_default().contains("must have a boolean result"), "{}", r.dump());
    // ansible-core 2.19.14: ['changed', 'exception', 'failed', 'msg']
    assert_eq!(r.of("show")[0]["msg"], r#"["changed","exception","failed","msg"]"#, "{}", r.dump());
}

/// `when: s > n` with a string and a number (or none, or two mappings, or a sort of mixed
/// items) fails the task in ansible-core 2.19, as Python cannot order them; prov ordered them by
/// kind and ran or skipped the task silently. Outcomes read from ansible-playbook 2.19.14.
#[test]
fn ordering_values_python_cannot_order_fails_the_task() {
    let site = r#"- hosts: a
  gather_facts: false
  vars: { s: "12", n: 10, nn: null }
  tasks:
    - { name: str-int-when, debug: { msg: ran }, when: s > n, ignore_errors: true }
    - { name: none-int, debug: { msg: "{{ nn < n }}" }, ignore_errors: true }
    - { name: sort-mixed, debug: { msg: "{{ [1, 'a'] | sort }}" }, ignore_errors: true }
    - { name: int-when, debug: { msg: ran }, when: s | int > n }
"#;
    let (_d, r) = apply(&[("site.yml", site)], &[]);
    assert_eq!(r.code, 0, "{}", r.dump());
    for (task, msg) in [
        ("str-int-when", "'>' not supported between instances of 'str' and 'int'"),
        ("none-int", "'<' not supported between instances of 'NoneType' and 'int'"),
        ("sort-mixed", "'<' not supported between instances of 'str' and 'int'"),
    ] {
        let res = &r.of(task)[0];
        assert_eq!(res["status"], "ignored", "{task}: {}", r.dump());
        assert!(res["msg"].as_str().unwrap_or_default().contains(msg), "{task}: {}", r.dump());
    }
    assert_eq!(r.of("int-when")[0]["msg"], "ran", "{}", r.dump());
}

/// Template delimiters in a condition outside a string constant, not around the whole of it,
/// are a syntax error under ansible-core 2.19 (the task fails): prov refuses the playbook
/// before connecting.
#[test]
fn template_delimiters_inside_a_condition_expression_are_refused_before_connecting() {
    let site = "- hosts: a\n  gather_facts: false\n  tasks:\n    - debug: { msg: x }\n      when: \"{{ n }} > 2 and x == 'a'\"\n";
    let (_d, r) = apply(&[("site.yml", site)], &[]);
    assert_eq!(r.code, 4, "{}", r.dump());
    assert!(r.stderr.contains("site.yml:5:13") && r.stderr.contains("template delimiters"), "{}", r.stderr);
}

/// `{% include %}` in a template file finds its file as Ansible's template module does: in
/// the role's `templates/`, the playbook's `templates/`, and beside the template (it was
/// "not found"); `..` is not followed.
#[test]
fn template_includes_resolve_from_role_and_playbook_template_dirs() {
    let site = "- hosts: a\n  gather_facts: false\n  vars: { v: V }\n  roles: [r]\n  tasks:\n    - template: { src: top.j2, dest: \"{{ root }}/top.txt\" }\n    - name: escape\n      template: { src: escape.j2, dest: \"{{ root }}/escape.txt\" }\n      ignore_errors: true\n";
    let files = [
        ("site.yml", site),
        ("templates/top.j2", "top\n{% include 'shared.j2' %}\n"),
        ("templates/shared.j2", "shared {{ v }}\n"),
        ("templates/escape.j2", "{% include '../site.yml' %}\n"),
        ("roles/r/tasks/main.yml", "- template: { src: main.j2, dest: \"{{ root }}/role.txt\" }\n"),
        ("roles/r/templates/main.j2", "role\n{% include 'part.j2' %}\n"),
        ("roles/r/templates/part.j2", "part {{ v }}\n"),
    ];
    let (d, r) = apply(&files, &[]);
    assert_eq!(r.recap("a", "failed"), 0, "{}", r.dump());
    assert_eq!(std::fs::read_to_string(d.path().join("role.txt")).expect("role.txt"), "role\npart V\n");
    assert_eq!(std::fs::read_to_string(d.path().join("top.txt")).expect("top.txt"), "top\nshared V\n");
    assert_eq!(r.of("escape")[0]["status"], "ignored", "{}", r.dump());
    assert!(!d.path().join("escape.txt").exists());
}

/// run_once runs on the first host of the batch still in the play, as in Ansible: when the
/// first host failed earlier, the next one runs it and every host gets its set_fact (prov
/// ran it nowhere and left the fact undefined).
#[test]
fn run_once_runs_on_the_first_host_still_in_the_play() {
    let site = "- hosts: g1\n  gather_facts: false\n  tasks:\n    - { name: boom, fail: { msg: boom }, when: inventory_hostname == 'a' }\n    - { name: once, command: \"echo once on {{ inventory_hostname }}\", run_once: true, register: o }\n    - { name: fact, set_fact: { x: 1 }, run_once: true }\n    - { name: show, debug: { msg: \"{{ o.stdout }} x={{ x }}\" } }\n";
    let (_d, r) = apply(&[("site.yml", site)], &[]);
    let once: Vec<&str> = r.of("once").iter().filter_map(|x| x["host"].as_str()).collect();
    assert_eq!(once, ["b"], "{}", r.dump());
    assert_eq!(r.of("show")[0]["msg"], "once on b x=1", "{}", r.dump());
    assert_eq!(r.recap("b", "failed"), 0, "{}", r.dump());
}

/// An undefined name in the arguments of a task with a condition: ansible-core fails the task
/// only if the condition lets it run (skipped, then "'nope2' is undefined" when it runs), so
/// prov warns before the run and fails the task there, where it refused the playbook (which
/// stopped ovirt.ovirt's engine_setup, whose `when: ovirt_engine_setup_use_remote_answer_file`
/// guards a role input). In a `when` or a templated `run_once` it is still refused.
#[test]
fn an_undefined_name_under_a_condition_fails_only_the_task_that_runs() {
    let site = r#"- hosts: a
  gather_facts: false
  vars:
    go: false
  tasks:
    - name: guarded
      debug: msg="{{ nope }}"
      when: go | bool
    - name: runs
      debug: msg="{{ nope2 }}"
      when: not go
      ignore_errors: true
"#;
    let (_d, r) = apply(&[("site.yml", site)], &[]);
    assert_eq!(r.code, 0, "{}", r.dump());
    assert!(
        r.stderr.contains(
            "warning: undefined variable `nope` in task `guarded`: the task is under a condition, and fails if it runs"
        ),
        "{}",
        r.dump()
    );
    assert_eq!(r.of("guarded")[0]["status"], "skipped", "{}", r.dump());
    assert_eq!(r.of("runs")[0]["status"], "ignored", "{}", r.dump());
    // The same inside a file that a templated include_tasks picks, or a conditional one (as
    // ansistrano.deploy's update-code/{{ ansistrano_deploy_via }}.yml reads its mode's inputs).
    let site = "- hosts: a\n  gather_facts: false\n  vars:\n    mode: b\n  tasks:\n    - include_tasks: \"m-{{ mode }}.yml\"\n    - include_tasks: m-a.yml\n      when: mode == 'a'\n";
    let a = "- name: in a\n  debug: msg=\"{{ only_for_a }}\"\n";
    let b = "- name: in b\n  debug: msg=b\n";
    let (_d, r) = apply(&[("site.yml", site), ("m-a.yml", a), ("m-b.yml", b)], &[]);
    assert_eq!(r.code, 0, "{}", r.dump());
    assert_eq!(r.of("in b")[0]["msg"], "b", "{}", r.dump());
    assert!(r.of("in a").is_empty(), "{}", r.dump());
    let refused = "- hosts: a\n  gather_facts: false\n  tasks:\n    - debug: msg=hi\n      when: nope3 | bool\n";
    let (_d, r) = apply(&[("site.yml", refused)], &[]);
    assert_eq!(r.code, 4, "{}", r.dump());
}

/// `include_tasks` with `args: {apply: ...}` (the older way to write `apply`, as
/// dev-sec's ssh_hardening does): the included tasks get the applied keywords, as ansible-core
/// 2.19.14 showed ("v=1", then "v=2" for the `apply` inside the include). prov refused `args`.
#[test]
fn include_tasks_reads_apply_from_args_too() {
    let site = "- hosts: a\n  gather_facts: false\n  tasks:\n    - include_tasks: inc.yml\n      args:\n        apply:\n          vars: {v: 1}\n    - include_tasks:\n        file: inc.yml\n        apply: {vars: {v: 2}}\n";
    let inc = "- name: shown\n  debug: msg=\"v={{ v | default(0) }}\"\n";
    let (_d, r) = apply(&[("site.yml", site), ("inc.yml", inc)], &[]);
    let msgs: Vec<&str> = r.of("shown").iter().filter_map(|x| x["msg"].as_str()).collect();
    assert_eq!(msgs, ["v=1", "v=2"], "{}", r.dump());
}

/// `file: state=touch` with `modification_time: preserve` and `access_time: preserve` (how
/// geerlingguy.mysql and dev-sec's os_hardening make sure a file exists with its mode): created
/// once, then changed only when the mode changes, as ansible-core 2.19.14 reported (true,
/// false, true, false); `preserve` with `state: file` is accepted too.
#[test]
fn touch_with_preserved_times_changes_only_what_else_changes() {
    let t = |mode: &str| {
        format!("    - file: {{path: \"{{{{ root }}}}/tf\", state: touch, mode: \"{mode}\", modification_time: preserve, access_time: preserve}}\n      register: r\n    - debug: msg=\"{{{{ r.changed }}}}\"\n")
    };
    let site = format!(
        "- hosts: a\n  gather_facts: false\n  tasks:\n{}{}{}    - file: {{path: \"{{{{ root }}}}/tf\", state: file, modification_time: preserve}}\n      register: r\n    - debug: msg=\"{{{{ r.changed }}}}\"\n",
        t("0640"),
        t("0640"),
        t("0600")
    );
    let (d, r) = apply(&[("site.yml", &site)], &["--limit", "a"]);
    let shown: Vec<&str> = r.of("debug").iter().filter_map(|x| x["msg"].as_str()).collect();
    assert_eq!(shown, ["true", "false", "true", "false"], "{}", r.dump());
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(d.path().join("tf")).expect("tf").permissions().mode() & 0o777, 0o600);
}

/// `with_dict` given a list of mappings (each may be a template that renders to one): their
/// key/value items in order, as ansible-core 2.19.14's `dict` lookup gives them ("file=f.tar",
/// "b=2", "c="); a term that is no mapping fails the task. prov refused the list ("`with_dict`
/// takes a list or a template, found a list"), which stopped ovirt.ovirt's engine_setup.
#[test]
fn with_dict_takes_a_list_of_mappings_as_ansible_core() {
    let site = r#"- hosts: a
  gather_facts: false
  vars:
    extra: {b: 2, c: ""}
  tasks:
    - name: pairs
      debug: msg="{{ item.key }}={{ item.value }}"
      with_dict:
        - file: "{{ 'f.tar' }}"
        - "{{ extra | default({}) }}"
    - name: bad
      debug: msg="{{ item }}"
      with_dict: ["notadict"]
      ignore_errors: true
"#;
    let (_d, r) = apply(&[("site.yml", site)], &[]);
    let msgs: Vec<&str> = r.of("pairs").iter().filter_map(|x| x["msg"].as_str()).collect();
    assert_eq!(msgs, ["file=f.tar", "b=2", "c="], "{}", r.dump());
    assert_eq!(r.of("bad")[0]["status"], "ignored", "{}", r.dump());
}

/// `run_once` written as a template, as ansible-core 2.19.14 runs it on hosts a, b, c, d: each
/// host in order reads it; the hosts before the first where it is true run the task as usual,
/// that host runs it for itself and the rest, and its result replaces what every host
/// registered ("a b True" on all four); only the hosts that ran it are counted in the recap. A
/// template that is no boolean fails the task on the first host, and the later hosts do not run
/// it. prov refused the template ("expected true or false").
#[test]
fn templated_run_once_runs_on_the_first_host_where_it_is_true() {
    let site = r#"- hosts: all
  gather_facts: false
  tasks:
    - name: cmd
      command: echo {{ inventory_hostname }}
      register: r
      run_once: "{{ inventory_hostname in ['b', 'c'] }}"
    - name: show
      debug: msg="{{ inventory_hostname }} {{ r.stdout }} {{ r.changed }}"
    - name: fact
      set_fact:
        x: "{{ inventory_hostname }}"
      run_once: "{{ inventory_hostname == 'c' }}"
    - name: showx
      debug: msg="{{ x | default('none') }}"
    - name: never
      debug: msg=hi
      run_once: "{{ flag }}"
      vars:
        flag: false
    - name: bad
      debug: msg=hi
      run_once: "{{ 'maybe' }}"
      ignore_errors: true
"#;
    let (_d, r) = apply(&[("site.yml", site)], &[]);
    let hosts = |name: &str| -> Vec<String> {
        let mut h: Vec<String> = r.of(name).iter().filter_map(|x| x["host"].as_str().map(String::from)).collect();
        h.sort();
        h
    };
    assert_eq!(hosts("cmd"), ["a", "b"], "{}", r.dump());
    let msgs: Vec<String> = r.of("show").iter().map(|x| x["msg"].as_str().unwrap_or_default().to_string()).collect();
    let mut msgs = msgs;
    msgs.sort();
    assert_eq!(msgs, ["a b True", "b b True", "c b True", "d b True"], "{}", r.dump());
    assert_eq!(hosts("fact"), ["a", "b", "c"], "{}", r.dump());
    assert!(r.of("showx").iter().all(|x| x["msg"] == "c"), "{}", r.dump());
    assert_eq!(hosts("never"), ["a", "b", "c", "d"], "{}", r.dump());
    let bad = r.of("bad");
    assert_eq!(
        bad[0]["msg"],
        "Task failed: Error processing keyword 'run_once': The value 'maybe' could not be converted to 'bool'.",
        "{}",
        r.dump()
    );
    // `bad` fails (ignored) on a; b, c and d do not run it.
    assert_eq!(hosts("bad"), ["a"], "{}", r.dump());
    assert_eq!((r.recap("a", "ok"), r.recap("a", "changed"), r.recap("a", "ignored")), (6, 1, 1), "{}", r.dump());
    assert_eq!((r.recap("b", "ok"), r.recap("c", "ok"), r.recap("c", "changed")), (5, 4, 0), "{}", r.dump());
    assert_eq!(r.recap("d", "ok"), 3, "{}", r.dump());
}

// ansible-core 2.19: `debug: var=` of an undefined name, a missing key or a missing index is
// ok and shows `<< error 1 - ... >>` in place of the value (with a warning), also in the
// registered result; `1/0` and a failed `mandatory` fail the task.
#[test]
fn debug_var_of_something_undefined_is_ok_and_says_so() {
    let (_d, r) = apply(
        &[(
            "site.yml",
            r#"- hosts: a
  gather_facts: false
  vars:
    d: {k: 1}
  tasks:
    - name: undefined
      debug: var=nope
      register: shown
    - name: missing key
      debug: var=d.missing.deeper
    - name: missing index
      debug: var="[1][5]"
    - name: defaulted
      debug: var="nope.x | default(7)"
    - name: registered
      assert:
        that: shown.nope == "<< error 1 - 'nope' is undefined >>"
    - name: division
      debug: var="1/0"
      ignore_errors: true
    - name: mandatory
      debug: var="nope | mandatory"
      ignore_errors: true
"#,
        )],
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.dump());
    for task in ["undefined", "missing key", "missing index", "defaulted", "registered"] {
        assert_eq!(on(&r, task, "a")[0]["status"], "ok", "{task}: {}", r.dump());
    }
    for task in ["division", "mandatory"] {
        assert_eq!(on(&r, task, "a")[0]["status"], "ignored", "{task}: {}", r.dump());
    }
    let shown = on(&r, "undefined", "a")[0]["msg"].as_str().unwrap_or_default().to_string();
    assert!(shown.contains("<< error 1 - 'nope' is undefined >>"), "{shown}");
    let defaulted = on(&r, "defaulted", "a")[0]["msg"].as_str().unwrap_or_default().to_string();
    assert!(defaulted.ends_with(": 7"), "{defaulted}");
}

// ansible-core 2.19's package module picks the backend from `use`, else the pkg_mgr fact,
// gathering it when facts were not gathered; on this Debian machine that is apt. An installed
// package is ok and unchanged; a backend prov lacks fails the task and says which.
#[test]
fn package_uses_the_hosts_package_manager() {
    let (_d, r) = apply(
        &[(
            "site.yml",
            r#"- hosts: a
  gather_facts: false
  tasks:
    - name: installed
      package: name=bash,coreutils state=present
      register: r
    - name: other backend
      package: {name: bash, state: present, use: dnf}
      ignore_errors: true
"#,
        )],
        &["--check"],
    );
    assert_eq!(r.code, 0, "{}", r.dump());
    assert_eq!(on(&r, "installed", "a")[0]["status"], "ok", "{}", r.dump());
    let other = on(&r, "other backend", "a");
    assert_eq!(other[0]["status"], "ignored", "{}", r.dump());
    assert!(other[0]["msg"].as_str().unwrap_or_default().contains("`dnf`"), "{}", r.dump());
}

// What ansible-core 2.19 registered for the same tasks (`ansible-playbook -c local`): a loop's
// items carry the item itself (not its label), `ansible_loop_var`, the index variable and,
// with `extended`, `ansible_loop`; the loop's own result says `msg` and `skipped`; a skipped
// task has `skipped`, `skip_reason` and `false_condition` and no `failed`; a task that ran has
// no `skipped`; command has `start`, `end` and an empty `msg`.
#[test]
fn registered_results_have_the_shape_ansible_gives_them() {
    let (_d, r) = apply(
        &[(
            "site.yml",
            r#"- hosts: a
  gather_facts: false
  tasks:
    - command: echo {{ item.a }}
      loop: [{a: 1}, {a: 2}]
      loop_control: {index_var: idx, label: "{{ item.a }}", extended: true}
      register: lp
      when: item.a == 1
    - command: "false"
      loop: [1]
      register: lf
      ignore_errors: true
    - command: echo x
      when: 1 == 2
      register: sk
    - command: echo {{ item }}
      loop: [3]
      register: plain
    - name: as ansible-core registered them
      assert:
        that:
          - lp.changed and lp.msg == 'All items completed' and not lp.skipped and lp.failed is undefined
          - lp.results[0].item == dict(a=1)
          - lp.results[0].ansible_loop_var == 'item'
          - lp.results[0].ansible_index_var == 'idx' and lp.results[0].idx == 0
          - lp.results[0].ansible_loop.revindex == 2 and lp.results[0].ansible_loop.nextitem == dict(a=2)
          - lp.results[0].ansible_loop.allitems | length == 2
          - lp.results[0].skipped is undefined and not lp.results[0].failed
          - lp.results[0].msg == '' and lp.results[0].start is string and lp.results[0].end is string
          - lp.results[1].skipped and lp.results[1].failed is undefined
          - lp.results[1].skip_reason == 'Conditional result was False'
          - lp.results[1].false_condition == 'item.a == 1'
          - lp.results[1].ansible_loop.previtem == dict(a=1) and lp.results[1].ansible_loop.last
          - lf.failed and lf.msg == 'One or more items failed' and not lf.skipped
          - lf.results[0].item == 1 and lf.results[0].msg == 'non-zero return code'
          - sk.skipped and sk.failed is undefined and sk.false_condition == '1 == 2'
          - plain.results[0].item == 3 and plain.results[0].ansible_loop is undefined
          - plain.results[0].ansible_index_var is undefined
    - name: ansible_loop is only there with extended
      assert:
        that: ansible_loop is undefined
      loop: [1]
"#,
        )],
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.dump());
}

#[test]
fn loop_control_values_prov_cannot_read_at_compile_time_are_refused() {
    let (d, _) = apply(&[("site.yml", "- hosts: a\n  gather_facts: false\n  tasks: []\n")], &[]);
    for (lc, want) in [
        ("{pause: \"{{ p }}\"}", "loop_control.pause must be a number"),
        ("{extended: \"{{ e }}\"}", "loop_control.extended must be a boolean"),
    ] {
        let site = format!(
            "- hosts: a\n  gather_facts: false\n  tasks:\n    - debug: msg=x\n      loop: [1]\n      loop_control: {lc}\n"
        );
        std::fs::write(d.path().join("site.yml"), site).expect("write");
        let out = prov(d.path(), &["validate", "site.yml", "-i", "hosts.ini"]);
        let (o, e) = text(&out);
        assert_eq!(out.status.code(), Some(4), "{o}\n{e}");
        assert!(e.contains(want) && e.contains("site.yml:6:"), "{o}\n{e}");
    }
    // A number given as a string is a number.
    let site = "- hosts: a\n  gather_facts: false\n  tasks:\n    - debug: msg=x\n      loop: [1]\n      loop_control: {pause: \"0.01\", extended: yes}\n";
    std::fs::write(d.path().join("site.yml"), site).expect("write");
    let out = prov(d.path(), &["validate", "site.yml", "-i", "hosts.ini"]);
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
}

/// `include_tasks` in a role's handler (or in one of its task files) names a file of the
/// role's `tasks/` directory, as ansible-core resolves it (its own test roles rely on this:
/// setup_remote_tmp_dir's cleanup handler). prov looked beside the playbook and refused.
#[test]
fn include_tasks_in_a_role_handler_finds_the_roles_task_file() {
    let site = "- hosts: a\n  gather_facts: false\n  roles: [r]\n";
    let handlers = "- name: cleanup\n  include_tasks: cleanup.yml\n";
    let tasks = "- name: notify\n  command: 'true'\n  changed_when: true\n  notify: cleanup\n- name: nested\n  include_tasks: sub/one.yml\n";
    let cleanup = "- name: cleaned\n  debug: msg=cleaned\n";
    let one = "- name: from sub\n  include_tasks: two.yml\n";
    let two = "- name: two\n  debug: msg=two\n";
    let (_d, r) = apply(
        &[
            ("site.yml", site),
            ("roles/r/handlers/main.yml", handlers),
            ("roles/r/tasks/main.yml", tasks),
            ("roles/r/tasks/cleanup.yml", cleanup),
            ("roles/r/tasks/sub/one.yml", one),
            ("roles/r/tasks/two.yml", two),
        ],
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.dump());
    assert_eq!(r.of("cleaned")[0]["msg"], "cleaned", "{}", r.dump());
    assert_eq!(r.of("two")[0]["msg"], "two", "{}", r.dump());
}

/// A rescue sees `ansible_failed_task` and `ansible_failed_result` (they stay defined after
/// it), and the failure it took over counts as rescued, not failed, even when the rescue
/// fails too: ansible-core 2.19 prints `boom|command|1|True`, then `boom` in the always
/// section, and recaps ok=2 failed=1 rescued=1. prov left both undefined and counted failed=2.
#[test]
fn rescue_sees_the_failed_task_and_counts_it_as_rescued() {
    let site = r#"- hosts: a
  gather_facts: false
  tasks:
    - block:
        - name: boom
          command: /bin/false
      rescue:
        - name: seen
          debug:
            msg: "{{ ansible_failed_task.name }}|{{ ansible_failed_task.action }}|{{ ansible_failed_result.rc }}|{{ ansible_failed_result.failed }}"
        - name: rescue fails too
          fail: msg=again
      always:
        - name: after
          debug: msg="{{ ansible_failed_task.name }}"
"#;
    let (_d, r) = apply(&[("site.yml", site)], &[]);
    assert_eq!(r.of("seen")[0]["msg"], "boom|command|1|True", "{}", r.dump());
    assert_eq!(r.of("after")[0]["msg"], "boom", "{}", r.dump());
    let recap = r.events.iter().rev().find(|e| e["event"] == "recap").expect("recap");
    let a = recap["hosts"].as_array().expect("hosts").iter().find(|h| h["host"] == "a").expect("a");
    assert_eq!(
        (a["ok"].as_u64(), a["failed"].as_u64(), a["rescued"].as_u64()),
        (Some(2), Some(1), Some(1)),
        "{}",
        r.dump()
    );
}

/// A role's vars/main.yml ranks below the `vars:` around its tasks: on its `roles:` entry, on
/// `import_role`, on an enclosing block (ansible-core 2.19.14 wrote these values; prov let
/// the role's vars win, silently). An include's vars and set_fact rank above it too.
#[test]
fn role_vars_rank_below_the_vars_around_the_role() {
    let role_vars = "c: from_role_vars_main\n";
    let role_tasks = "- name: \"shown {{ tag }}\"\n  debug: {msg: \"{{ c }}\"}\n";
    let site = r#"- hosts: a
  gather_facts: false
  roles:
    - role: rp
      vars: {c: from_role_entry_vars, tag: entry}
  tasks:
    - import_role: {name: rp}
      vars: {c: from_import_vars, tag: import}
    - block:
        - include_role: {name: rp}
      vars: {c: from_block_vars, tag: block}
    - include_role: {name: rp}
      vars: {tag: plain}
    - set_fact: {c: from_set_fact}
    - include_role: {name: rp}
      vars: {tag: after}
"#;
    let (_d, r) = apply(
        &[("site.yml", site), ("roles/rp/vars/main.yml", role_vars), ("roles/rp/tasks/main.yml", role_tasks)],
        &[],
    );
    // In the order of the tags: entry, import, block, plain, after.
    let got: Vec<serde_json::Value> = r.of("shown {{ tag }}").iter().map(|e| e["msg"].clone()).collect();
    let want = ["from_role_entry_vars", "from_import_vars", "from_block_vars", "from_role_vars_main", "from_set_fact"];
    assert_eq!(got, want.map(serde_json::Value::from), "{}", r.dump());
}

/// A handler that includes a file and listens on another handler's name runs beside that
/// handler, as ansible-core 2.19.14 ran h2, then h4's include and its task (ok=4 changed=2).
/// prov ran h2 alone: a topic of an include handler counted only when no handler had it
/// as its name.
#[test]
fn an_include_handler_listening_on_a_handler_s_name_runs_too() {
    let site = r#"- hosts: a
  gather_facts: false
  tasks:
    - command: echo a
      notify: h2
  handlers:
    - name: h2
      command: echo h2
    - name: h4
      include_tasks: htasks.yml
      listen: h2
"#;
    let (_d, r) = apply(&[("site.yml", site), ("htasks.yml", "- name: included\n  debug: {msg: inc}\n")], &[]);
    assert_eq!(r.of("included").len(), 1, "{}", r.dump());
    assert_eq!((r.recap("a", "ok"), r.recap("a", "changed")), (4, 2), "{}", r.dump());
}

/// A templated play name is rendered with the play's vars and -e (ansible-core 2.19.14 printed
/// `PLAY [Deploy web E]` and `ansible_play_name` "Deploy web E"); prov kept it as written.
#[test]
fn a_templated_play_name_is_rendered() {
    let site = r#"- hosts: a
  name: "Deploy {{ app }} {{ ext }}"
  gather_facts: false
  vars: {app: web}
  tasks:
    - name: shown
      debug: {msg: "{{ ansible_play_name }}"}
"#;
    let (_d, r) = apply(&[("site.yml", site)], &["-e", "ext=E"]);
    assert_eq!(r.of("shown")[0]["msg"], "Deploy web E", "{}", r.dump());
}

/// `ansible_failed_task.name` is the task's name rendered with the host's variables (the
/// task's `vars`, facts set earlier), each `{{ }}` that fails written `<< error N - why >>`
/// (the loop variable is not among them): ansible-core 2.19.14 printed these four lines. prov
/// gave the name as written.
#[test]
fn the_failed_task_s_name_is_rendered_for_the_rescue() {
    let site = r#"- hosts: a
  gather_facts: false
  vars: {x: 1, d: {k: 1}}
  tasks:
    - set_fact: {y: 5}
    - block:
        - name: "do {{ x }} {{ y }} {{ tv }} {{ inventory_hostname }}"
          fail: {msg: boom}
          vars: {tv: 3}
      rescue:
        - name: plain
          debug: {msg: "[{{ ansible_failed_task.name }}]"}
    - block:
        - name: "loop {{ item }}"
          fail: {msg: boom}
          loop: [p, q]
      rescue:
        - name: looped
          debug: {msg: "[{{ ansible_failed_task.name }}]"}
    - block:
        - name: "two {{ a1 }} {{ d.nope }} {{ d.k }}"
          fail: {msg: boom}
      rescue:
        - name: broken
          debug: {msg: "[{{ ansible_failed_task.name }}]"}
"#;
    let (_d, r) = apply(&[("site.yml", site)], &[]);
    assert_eq!(r.of("plain")[0]["msg"], "[do 1 5 3 a]", "{}", r.dump());
    assert_eq!(r.of("looped")[0]["msg"], "[loop << error 1 - 'item' is undefined >>]", "{}", r.dump());
    assert_eq!(
        r.of("broken")[0]["msg"],
        "[two << error 1 - 'a1' is undefined >> << error 2 - object of type 'dict' has no attribute 'nope' >> 1]",
        "{}",
        r.dump()
    );
}

/// `with_sequence`, `with_together` and `with_indexed_items` loop as in ansible-core 2.19
/// (same playbook there: n01 n02 n03 / 1-x 2-y 3- / 0=x 1=y); prov refused them.
#[test]
fn with_sequence_together_and_indexed_items_loop_as_in_ansible() {
    let site = r#"- hosts: a
  gather_facts: false
  vars:
    letters: [x, y]
  tasks:
    - name: seq
      debug: msg="{{ item }}"
      with_sequence: start=1 end={{ letters | length + 1 }} format=n%02d
    - name: together
      debug: msg="{{ item.0 }}-{{ item.1 }}"
      with_together:
        - [1, 2, 3]
        - "{{ letters }}"
    - name: indexed
      debug: msg="{{ item.0 }}={{ item.1 }}"
      with_indexed_items: "{{ letters }}"
"#;
    let (_d, r) = apply(&[("site.yml", site)], &[]);
    assert_eq!(r.code, 0, "{}", r.dump());
    let msgs = |t: &str| r.of(t).iter().map(|e| e["msg"].as_str().unwrap_or_default().to_string()).collect::<Vec<_>>();
    assert_eq!(msgs("seq"), ["n01", "n02", "n03"], "{}", r.dump());
    assert_eq!(msgs("together"), ["1-x", "2-y", "3-"], "{}", r.dump());
    assert_eq!(msgs("indexed"), ["0=x", "1=y"], "{}", r.dump());
}

/// `with_<lookup>` works for any lookup prov has, under its collection's name too:
/// community.general's `flattened` (also `with_flattened`, as ansible-core routes it) flattens
/// at every depth, a list of one stands for its item, the string `None` or `null` ends its
/// list, and a string term stays a string. ansible-core 2.19.14 with community.general from
/// ansible 12.3.0 gave these lists; prov refused `with_community.general.flattened` (a
/// dev-sec hardening role uses it).
#[test]
fn with_any_lookup_loops_over_the_lookup_of_its_terms() {
    let site = r#"- hosts: a
  gather_facts: false
  vars:
    paths: [/a, [/b, [/c]]]
    more: [[[/d]]]
    varname: paths
  tasks:
    - debug: msg="{{ item }}"
      with_community.general.flattened:
        - "{{ paths }}"
        - "{{ more }}"
        - plain
      register: r1
    - debug: msg="{{ item }}"
      with_flattened: [[1, [2, 3]], [[4]], x, None, y]
      register: r2
    - debug: msg="{{ item }}"
      with_community.general.flattened: [a, [null, b], c]
      register: r3
    - debug: msg="{{ item }}"
      with_community.general.flattened: "{{ paths }}"
      register: r4
    - debug: msg="{{ lookup('community.general.flattened', [1, [2]], [[3]]) }}"
      register: r5
    - debug: msg="{{ query('community.general.flattened', 'paths') }}"
      register: r6
    - debug: msg="{{ item }}"
      with_community.general.flattened: ["{{ varname }}", 'null', z]
      register: r7
    - name: all
      debug: msg="{{ [r1.results|map(attribute='item'), r2.results|map(attribute='item'), r3.results|map(attribute='item'), r4.results|map(attribute='item'), r5.msg, r6.msg, r7.results|map(attribute='item')] | to_json }}"
"#;
    let (_d, r) = apply(&[("site.yml", site)], &[]);
    assert_eq!(r.code, 0, "{}", r.dump());
    let got: serde_json::Value = serde_json::from_str(r.of("all")[0]["msg"].as_str().expect("msg")).expect("JSON");
    let want = serde_json::json!([
        ["/a", "/b", "/c", "/d", "plain"],
        [1, 2, 3, 4, "x"],
        ["a", null, "b", "c"],
        ["/a", "/b", "/c"],
        [1, 2, 3],
        ["paths"],
        ["paths"]
    ]);
    assert_eq!(got, want);
}

/// `to_datetime` and `now()` give Python datetimes that `set_fact` keeps as such: `x.year`
/// works, text prints `2024-01-02 03:04:05`, JSON has the ISO form, and a whole-expression
/// `timedelta` cannot be stored (ansible-core 2.19.14's message). ansible-core printed these
/// for the same play; prov refused `now` and `to_datetime`.
#[test]
fn datetimes_are_kept_printed_and_serialized_as_ansible_does() {
    let site = r#"- hosts: a
  gather_facts: false
  tasks:
    - set_fact: {x: "{{ '2024-01-02 03:04:05' | to_datetime }}", started: "{{ now() }}"}
    - name: usex
      debug: msg="{{ x.year }} {{ x }} {{ x | to_json }} {{ started.year > 2020 }}"
    - name: shown
      debug: msg="{{ x }}"
    - name: delta
      debug: msg="{{ x - ('2023-12-31 23:00:00' | to_datetime) }}"
      ignore_errors: true
    - name: delta text
      debug: msg="d={{ x - ('2023-12-31 23:00:00' | to_datetime) }}"
"#;
    let (_d, r) = apply(&[("site.yml", site)], &[]);
    assert_eq!(r.code, 0, "{}", r.dump());
    assert_eq!(r.of("usex")[0]["msg"], "2024 2024-01-02 03:04:05 \"2024-01-02T03:04:05\" True");
    assert_eq!(r.of("shown")[0]["msg"], "2024-01-02T03:04:05");
    let failed = r.of("delta")[0]["msg"].as_str().unwrap_or_default().to_string();
    assert!(failed.contains("Type 'timedelta' is unsupported for variable storage."), "{failed}");
    assert_eq!(r.of("delta text")[0]["msg"], "d=1 day, 4:04:05");
}

/// A `with_<name>` of a lookup prov does not have is refused before the run, with the
/// lookups it has (ansible-core fails the task when it runs).
#[test]
fn with_an_unknown_lookup_is_refused_before_the_run() {
    let site =
        "- hosts: a\n  gather_facts: false\n  tasks:\n    - debug: msg=x\n      with_community.general.nosuch: [1]\n";
    let (_d, r) = apply(&[("site.yml", site)], &[]);
    assert_eq!(r.code, 4, "{}", r.dump());
    assert!(r.stderr.contains("site.yml:5:7: error: `with_community.general.nosuch`: prov has no lookup plugin `community.general.nosuch`"), "{}", r.stderr);
}

/// A block's `notify` and `check_mode` reach its tasks (a task's own `notify` wins), as in
/// ansible-core 2.19: the same play there reports touch changed without creating the file,
/// and runs both handlers. prov refused both keywords on a block.
#[test]
fn block_notify_and_check_mode_reach_its_tasks() {
    let site = r#"- hosts: a
  gather_facts: false
  tasks:
    - name: outer
      notify: hello
      check_mode: true
      block:
        - name: touch
          file:
            path: "{{ root }}/should-not-exist"
            state: touch
        - name: own notify wins
          debug: msg=x
          changed_when: true
          notify: other
  handlers:
    - name: hello
      debug: msg=hello-ran
    - name: other
      debug: msg=other-ran
"#;
    let (d, r) = apply(&[("site.yml", site)], &[]);
    assert_eq!(r.code, 0, "{}", r.dump());
    assert_eq!(r.of("touch")[0]["changed"], true, "{}", r.dump());
    assert!(!d.path().join("should-not-exist").exists(), "check_mode of the block was not applied");
    assert_eq!(r.of("hello")[0]["msg"], "hello-ran", "{}", r.dump());
    assert_eq!(r.of("other")[0]["msg"], "other-ran", "{}", r.dump());
}

/// A templated `strategy` is rendered with the play's vars and `-e` when the play starts, as
/// ansible-core does (its own tests pass `-e test_strategy=free`); prov refused the template
/// as an unknown strategy.
#[test]
fn a_templated_strategy_is_rendered_with_play_vars_and_extra_vars() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("hosts.ini"), "a ansible_connection=local\n").expect("inventory");
    let site = "- hosts: a\n  gather_facts: false\n  strategy: \"{{ s | default(fallback) }}\"\n  vars:\n    fallback: linear\n  tasks:\n    - debug: msg=x\n";
    std::fs::write(dir.path().join("site.yml"), site).expect("playbook");
    let graph = |extra: &[&str]| {
        let mut args = vec!["graph", "site.yml", "-i", "hosts.ini"];
        args.extend_from_slice(extra);
        let out = prov(dir.path(), &args);
        let (o, e) = text(&out);
        (out.status.code(), format!("{o}{e}"))
    };
    let (code, out) = graph(&["-e", "s=free"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("strategy free"), "{out}");
    let (code, out) = graph(&[]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("strategy linear"), "{out}");
    let (code, out) = graph(&["-e", "s=fastest"]);
    assert_eq!(code, Some(4), "{out}");
    assert!(out.contains("unknown strategy `fastest`"), "{out}");
}

/// A handler's templated name is rendered with the play's vars and -e, and a notify that
/// names no handler only counts for tasks the tags select (ansible-core's handlers target,
/// 58841.yml: with `-e test_var=myvar` the handler `handler name with {{ test_var }}` runs;
/// with `--tags lazy` the other task's missing handler does not matter).
#[test]
fn templated_handler_names_and_notify_of_unselected_tasks_follow_ansible() {
    let site = r#"- hosts: a
  gather_facts: false
  tasks:
    - name: notify templated
      debug: msg=x
      changed_when: true
      notify: handler name with myvar
      tags: [eval]
    - name: notify plain
      debug: msg=y
      changed_when: true
      notify: handler name
      tags: [lazy]
  handlers:
    - name: handler name with {{ test_var }}
      debug: msg=templated-ran
    - name: handler name
      debug: msg=plain-ran
"#;
    let (_d, r) = apply(&[("site.yml", site)], &["-e", "test_var=myvar", "--tags", "eval"]);
    assert_eq!(r.code, 0, "{}", r.dump());
    let ran = |r: &Run, msg: &str| r.events.iter().any(|e| e["event"] == "host_result" && e["msg"] == msg);
    assert!(ran(&r, "templated-ran"), "{}", r.dump());
    let (_d, r) = apply(&[("site.yml", site)], &["--tags", "lazy"]);
    assert_eq!(r.code, 0, "{}", r.dump());
    assert!(ran(&r, "plain-ran") && !ran(&r, "templated-ran"), "{}", r.dump());
    let (_d, r) = apply(&[("site.yml", site)], &["--tags", "eval"]);
    assert_eq!(r.code, 4, "{}", r.dump());
    assert!(r.stderr.contains("no handler named `handler name with myvar`"), "{}", r.dump());
}

/// A role imported from the tasks of an included role sees the including role's vars and
/// defaults (ansible-core's roles target, role_dep_chain.yml); prov left the defaults out.
#[test]
fn a_role_imported_by_an_included_role_sees_its_defaults_and_vars() {
    let site = "- hosts: a\n  gather_facts: false\n  tasks:\n    - include_role:\n        name: outer\n";
    let (_d, r) = apply(
        &[
            ("site.yml", site),
            ("roles/outer/tasks/main.yml", "- import_role:\n    name: inner\n"),
            ("roles/outer/vars/main.yml", "inherit_var: var\n"),
            ("roles/outer/defaults/main.yml", "inherit_default: default\nshadowed: outer\n"),
            ("roles/inner/defaults/main.yml", "shadowed: inner\n"),
            (
                "roles/inner/tasks/main.yml",
                "- name: seen\n  debug: msg=\"{{ inherit_var }} {{ inherit_default }} {{ shadowed }}\"\n",
            ),
        ],
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.dump());
    assert_eq!(r.of("seen")[0]["msg"], "var default inner", "{}", r.dump());
}

/// any_errors_fatal: the other hosts finish the task that failed (their skip counts), then
/// the play ends and so does the run: ansible-core 2.19 runs no later play and recaps h2 with
/// skipped=1. prov let h2 race ahead uncounted and ran the second play on it.
#[test]
fn any_errors_fatal_ends_the_run_after_the_failed_task_as_ansible_does() {
    let site = r#"- hosts: a:b
  gather_facts: false
  any_errors_fatal: true
  tasks:
    - fail:
      when: inventory_hostname == 'a'
    - name: after
      debug: msg=after
- hosts: all
  gather_facts: false
  tasks:
    - name: second play
      debug: msg=second
"#;
    for _ in 0..3 {
        let (_d, r) = apply(&[("site.yml", site)], &[]);
        assert_eq!(r.code, 2, "{}", r.dump());
        assert!(r.of("after").is_empty() && r.of("second play").is_empty(), "{}", r.dump());
        let recap = r.events.iter().rev().find(|e| e["event"] == "recap").expect("recap");
        let b = recap["hosts"].as_array().expect("hosts").iter().find(|h| h["host"] == "b").expect("b");
        assert_eq!(
            (b["ok"].as_u64(), b["skipped"].as_u64(), b["failed"].as_u64()),
            (Some(0), Some(1), Some(0)),
            "{}",
            r.dump()
        );
    }
}

/// The tasks of a file a handler includes run when the include is notified but are no
/// handlers of their own: ansible-core 2.19 fails the play with "The requested handler
/// 'handler_from_include' was not found" (handlers target, test_notify_included.yml).
#[test]
fn tasks_of_an_included_handler_file_are_not_handlers_themselves() {
    let site = "- hosts: a\n  gather_facts: false\n  tasks:\n    - command: echo\n      notify: include_handler\n    - meta: flush_handlers\n    - command: echo\n      notify: handler_from_include\n  handlers:\n    - name: include_handler\n      include_tasks: h.yml\n";
    let h = "- name: handler_from_include\n  debug: msg=included\n";
    let (_d, r) = apply(&[("site.yml", site), ("h.yml", h)], &[]);
    assert_eq!(r.code, 4, "{}", r.dump());
    assert!(r.stderr.contains("no handler named `handler_from_include`"), "{}", r.dump());
}

/// A handler's `include_tasks` is a task of its own, as in ansible-core: reported and counted
/// once (`included:`), and its `when` decides once whether its file runs (a false one is one
/// skip, the file's tasks are not reported). ansible-core 2.19.14 recaps `ok=4 changed=2
/// skipped=1` for this play; prov counted neither the include nor its skip (`ok=3`,
/// `skipped=2`).
#[test]
fn a_handlers_include_tasks_is_counted_and_its_when_decides_once() {
    let site = "- hosts: a\n  gather_facts: false\n  tasks:\n    - command: /bin/true\n      notify: [hoff, hon]\n  handlers:\n    - name: hoff\n      include_tasks: h.yml\n      when: false\n    - name: hon\n      include_tasks: h.yml\n      vars: {x: 1}\n";
    let h = "- name: inside\n  debug: msg=\"{{ x | default('none') }}\"\n- command: /bin/true\n";
    let (_d, r) = apply(&[("site.yml", site), ("h.yml", h)], &[]);
    assert_eq!(r.code, 0, "{}", r.dump());
    let counts: Vec<u64> = ["ok", "changed", "skipped"].iter().map(|f| r.recap("a", f)).collect();
    assert_eq!(counts, [4, 2, 1], "{}", r.dump());
    let inside: Vec<&Json> = r.of("inside");
    assert_eq!(inside.len(), 1, "{}", r.dump());
    assert_eq!(inside[0]["msg"], "1", "{}", r.dump());
}

/// Hosts that failed in an earlier play keep their place in a later play's `serial` batches
/// (they sit out, but count in the batch): ansible-core 2.19.14 runs batches `['b']` and
/// `['c', 'd']` here; prov left them out first and made `['b', 'c']` and `['d']`.
#[test]
fn hosts_failed_in_an_earlier_play_keep_their_place_in_serial_batches() {
    let site = "- hosts: all\n  gather_facts: false\n  tasks:\n    - fail: msg=x\n      when: inventory_hostname == 'a'\n- hosts: all\n  gather_facts: false\n  serial: 2\n  tasks:\n    - name: batch\n      debug: msg=\"{{ ansible_play_batch | join(',') }} {{ ansible_play_hosts | join(',') }}\"\n      run_once: true\n";
    let (_d, r) = apply(&[("site.yml", site)], &[]);
    assert_eq!(r.code, 2, "{}", r.dump());
    let msgs: Vec<&Json> = r.of("batch").iter().map(|e| &e["msg"]).collect();
    assert_eq!(msgs, ["b b,c,d", "c,d b,c,d"], "{}", r.dump());
}

/// `max_fail_percentage` divides by the batch's size counting the hosts that sit out after
/// failing in an earlier play: 1 of 4 is 25 %, not above 30 %, and ansible-core 2.19.14 goes
/// on (`next` on c and d); prov divided by 3 and stopped the play.
#[test]
fn max_fail_percentage_counts_the_hosts_sitting_out_in_the_batch() {
    let site = "- hosts: all\n  gather_facts: false\n  tasks:\n    - fail: msg=x\n      when: inventory_hostname == 'a'\n- hosts: all\n  gather_facts: false\n  max_fail_percentage: 30\n  tasks:\n    - fail: msg=y\n      when: inventory_hostname == 'b'\n    - name: next\n      debug: msg=next\n";
    let (_d, r) = apply(&[("site.yml", site)], &[]);
    assert_eq!(r.code, 2, "{}", r.dump());
    let mut hosts: Vec<&str> = r.of("next").iter().map(|e| e["host"].as_str().unwrap_or_default()).collect();
    hosts.sort_unstable();
    assert_eq!(hosts, ["c", "d"], "{}", r.dump());
}

/// `meta: clear_host_errors` clears the hosts of its batch that failed in earlier plays too:
/// they run the later plays and no longer fail the run (ansible-core 2.19.14: a runs `fourth`,
/// exit 0). prov kept a out and exited 2.
#[test]
fn clear_host_errors_brings_back_hosts_failed_in_earlier_plays() {
    let site = "- hosts: all\n  gather_facts: false\n  tasks:\n    - fail: msg=x\n      when: inventory_hostname == 'a'\n- hosts: all\n  gather_facts: false\n  tasks:\n    - meta: clear_host_errors\n    - name: third\n      debug: msg=third\n- hosts: all\n  gather_facts: false\n  tasks:\n    - name: fourth\n      debug: msg=fourth\n";
    let (_d, r) = apply(&[("site.yml", site)], &[]);
    assert_eq!(r.code, 0, "{}", r.dump());
    let mut third: Vec<&str> = r.of("third").iter().map(|e| e["host"].as_str().unwrap_or_default()).collect();
    third.sort_unstable();
    assert_eq!(third, ["b", "c", "d"], "{}", r.dump());
    let mut fourth: Vec<&str> = r.of("fourth").iter().map(|e| e["host"].as_str().unwrap_or_default()).collect();
    fourth.sort_unstable();
    assert_eq!(fourth, ["a", "b", "c", "d"], "{}", r.dump());
    assert_eq!(r.recap("a", "failed"), 1, "{}", r.dump());
}

/// `meta: clear_host_errors` clears the hosts of its own `serial` batch only: a failed in the
/// first batch stays failed when the second batch clears (ansible-core 2.19.14: exit 2, a
/// does not run the next play). prov cleared it.
#[test]
fn clear_host_errors_clears_only_its_own_batch() {
    let site = "- hosts: all\n  gather_facts: false\n  serial: 2\n  tasks:\n    - fail: msg=x\n      when: inventory_hostname == 'a'\n    - meta: clear_host_errors\n      when: inventory_hostname == 'c'\n- hosts: all\n  gather_facts: false\n  tasks:\n    - name: later\n      debug: msg=later\n";
    let (_d, r) = apply(&[("site.yml", site)], &[]);
    assert_eq!(r.code, 2, "{}", r.dump());
    let mut later: Vec<&str> = r.of("later").iter().map(|e| e["host"].as_str().unwrap_or_default()).collect();
    later.sort_unstable();
    assert_eq!(later, ["b", "c", "d"], "{}", r.dump());
}

/// The plays of an imported playbook in another directory find their roles, vars_files,
/// lookups, templates, files and task files from that directory, which is their
/// `playbook_dir` and `ansible_search_path` (ansible-core 2.19.14 prints `inner @/sub
/// ['@/sub'] from-sub`, `sub subtmpl`, `inc-sub`, then `top @`). prov refused the role and
/// would have read the top directory's files.
#[test]
fn an_imported_playbook_finds_files_from_its_own_directory() {
    let site = "- import_playbook: sub/inner.yml\n- hosts: a\n  gather_facts: false\n  tasks:\n    - name: top\n      debug: msg=\"top {{ playbook_dir }}\"\n";
    let inner = "- hosts: a\n  gather_facts: false\n  vars_files: [vars.yml]\n  roles: [r]\n  tasks:\n    - name: inner\n      debug: msg=\"inner {{ playbook_dir }} {{ ansible_search_path }} {{ x }}\"\n    - name: lookups\n      debug: msg=\"{{ lookup('file', 'f.txt') }} {{ lookup('template', 't.j2') | trim }}\"\n    - template: {src: t.j2, dest: \"{{ root }}/out.txt\"}\n    - copy: {src: c.txt, dest: \"{{ root }}/out2.txt\"}\n    - include_tasks: inc.yml\n";
    let files = [
        ("site.yml", site),
        ("sub/inner.yml", inner),
        ("sub/roles/r/tasks/main.yml", "- name: role\n  debug: msg=role-r\n"),
        ("sub/templates/t.j2", "subtmpl\n"),
        ("templates/t.j2", "toptmpl\n"),
        ("sub/files/c.txt", "subcopy\n"),
        ("files/c.txt", "topcopy\n"),
        ("sub/f.txt", "sub\n"),
        ("f.txt", "top\n"),
        ("sub/vars.yml", "x: from-sub\n"),
        ("vars.yml", "x: from-top\n"),
        ("sub/inc.yml", "- name: inc\n  debug: msg=inc-sub\n"),
        ("inc.yml", "- name: inc\n  debug: msg=inc-top\n"),
    ];
    let (d, r) = apply(&files, &["--limit", "a"]);
    assert_eq!(r.code, 0, "{}", r.dump());
    let root = d.path().canonicalize().expect("root").display().to_string();
    let msg = |name: &str| {
        r.of(name).first().map(|e| e["msg"].as_str().unwrap_or_default().replace(&root, "@")).unwrap_or_default()
    };
    assert_eq!(msg("role"), "role-r", "{}", r.dump());
    assert_eq!(msg("inner"), "inner @/sub ['@/sub'] from-sub", "{}", r.dump());
    assert_eq!(msg("lookups"), "sub subtmpl", "{}", r.dump());
    assert_eq!(msg("inc"), "inc-sub", "{}", r.dump());
    assert_eq!(msg("top"), "top @", "{}", r.dump());
    assert_eq!(std::fs::read_to_string(d.path().join("out.txt")).unwrap_or_default(), "subtmpl\n");
    assert_eq!(std::fs::read_to_string(d.path().join("out2.txt")).unwrap_or_default(), "subcopy\n");
}

/// A `run_once` task that fails on the host that runs it fails the other hosts of the batch
/// too, as ansible-core 2.19.14 does (its `run_once` counts as `any_errors_fatal`): they do
/// not run it, show and count nothing, and the run exits 2. prov ran the task again on each
/// next host (four runs here).
#[test]
fn a_failed_run_once_task_fails_the_other_hosts_without_running_it() {
    let site = "- hosts: all\n  gather_facts: false\n  tasks:\n    - name: once\n      shell: echo ran >> {{ root }}/ran; exit 1\n      run_once: true\n    - name: after\n      debug: msg=after\n- hosts: all\n  gather_facts: false\n  tasks:\n    - name: play2\n      debug: msg=play2\n";
    let (d, r) = apply(&[("site.yml", site)], &[]);
    assert_eq!(r.code, 2, "{}", r.dump());
    assert_eq!(std::fs::read_to_string(d.path().join("ran")).unwrap_or_default(), "ran\n", "{}", r.dump());
    let once: Vec<&str> = r.of("once").iter().map(|e| e["host"].as_str().unwrap_or_default()).collect();
    assert_eq!(once, ["a"], "{}", r.dump());
    assert!(r.of("after").is_empty() && r.of("play2").is_empty(), "{}", r.dump());
    assert_eq!(r.recap_hosts(), ["a"], "{}", r.dump());
}

/// In a block, the hosts a failed `run_once` task fails run no rescue, and run the `always`
/// only when the block has a rescue (ansible-core 2.19.14: b and c show `always` and nothing
/// else; a is rescued and goes on; exit 2).
#[test]
fn hosts_failed_by_a_run_once_task_skip_the_rescue() {
    let site = "- hosts: a,b,c\n  gather_facts: false\n  tasks:\n    - block:\n        - fail: msg=boom\n          run_once: true\n      rescue:\n        - name: rescue\n          debug: msg=rescue\n      always:\n        - name: always\n          debug: msg=always\n    - name: after\n      debug: msg=after\n";
    let (_d, r) = apply(&[("site.yml", site)], &[]);
    assert_eq!(r.code, 2, "{}", r.dump());
    let hosts = |name: &str| {
        let mut h: Vec<&str> = r.of(name).iter().map(|e| e["host"].as_str().unwrap_or_default()).collect();
        h.sort_unstable();
        h
    };
    assert_eq!(hosts("rescue"), ["a"], "{}", r.dump());
    assert_eq!(hosts("always"), ["a", "b", "c"], "{}", r.dump());
    assert_eq!(hosts("after"), ["a"], "{}", r.dump());
    assert_eq!((r.recap("a", "rescued"), r.recap("b", "failed"), r.recap("b", "ok")), (1, 0, 1), "{}", r.dump());
}

/// Under `any_errors_fatal`, the other hosts of the batch are failed after the task that
/// failed, inside its block: a rescue takes them over (uncounted) and they go on, an
/// `always` runs for all (ansible-core 2.19.14: `rescue` and `after` on a, b and c, exit 0; and
/// `always` on a, b and c, nothing after, exit 2). prov ran neither.
#[test]
fn any_errors_fatal_fails_the_others_inside_the_block() {
    let rescue = "- hosts: a,b,c\n  gather_facts: false\n  any_errors_fatal: true\n  tasks:\n    - block:\n        - fail: msg=boom\n          when: inventory_hostname == 'a'\n      rescue:\n        - name: rescue\n          debug: msg=rescue\n    - name: after\n      debug: msg=after\n";
    let (_d, r) = apply(&[("site.yml", rescue)], &[]);
    assert_eq!(r.code, 0, "{}", r.dump());
    let hosts = |r: &Run, name: &str| {
        let mut h: Vec<String> =
            r.of(name).iter().map(|e| e["host"].as_str().unwrap_or_default().to_string()).collect();
        h.sort_unstable();
        h
    };
    assert_eq!(hosts(&r, "rescue"), ["a", "b", "c"], "{}", r.dump());
    assert_eq!(hosts(&r, "after"), ["a", "b", "c"], "{}", r.dump());
    assert_eq!((r.recap("a", "rescued"), r.recap("b", "rescued"), r.recap("b", "ok")), (1, 0, 2), "{}", r.dump());
    let always = "- hosts: a,b,c\n  gather_facts: false\n  any_errors_fatal: true\n  tasks:\n    - block:\n        - fail: msg=boom\n          when: inventory_hostname == 'a'\n        - name: in-block\n          debug: msg=in\n      always:\n        - name: always\n          debug: msg=always\n    - name: after\n      debug: msg=after\n- hosts: all\n  gather_facts: false\n  tasks:\n    - name: play2\n      debug: msg=p2\n";
    let (_d, r) = apply(&[("site.yml", always)], &[]);
    assert_eq!(r.code, 2, "{}", r.dump());
    assert_eq!(hosts(&r, "always"), ["a", "b", "c"], "{}", r.dump());
    assert!(r.of("in-block").is_empty() && r.of("after").is_empty() && r.of("play2").is_empty(), "{}", r.dump());
    assert_eq!((r.recap("b", "failed"), r.recap("b", "ok"), r.recap("b", "skipped")), (0, 1, 1), "{}", r.dump());
}

/// `any_errors_fatal` on a block (or task) applies to its tasks only (ansible-core
/// 2.19.14: c's failure in the block ends the play for all; a's later failure would not).
#[test]
fn any_errors_fatal_on_a_block_applies_to_its_tasks() {
    let site = "- hosts: all\n  gather_facts: false\n  tasks:\n    - name: other\n      fail: msg=other\n      when: inventory_hostname == 'a'\n    - name: next\n      debug: msg=next\n    - block:\n        - fail: msg=boom\n          when: inventory_hostname == 'c'\n      any_errors_fatal: true\n    - name: after\n      debug: msg=after\n";
    let (_d, r) = apply(&[("site.yml", site)], &[]);
    assert_eq!(r.code, 2, "{}", r.dump());
    let mut next: Vec<&str> = r.of("next").iter().map(|e| e["host"].as_str().unwrap_or_default()).collect();
    next.sort_unstable();
    assert_eq!(next, ["b", "c", "d"], "{}", r.dump());
    assert!(r.of("after").is_empty(), "{}", r.dump());
}

/// `debug` with a `verbosity` above the run's (`ansible_verbosity`, 0) is skipped, as in
/// ansible-core 2.19.14 (`skipped_reason: Verbosity threshold not met.`, recap ok=1
/// skipped=1 here); prov showed the message and counted it ok.
#[test]
fn debug_above_the_verbosity_is_skipped() {
    let site = "- hosts: a\n  gather_facts: false\n  tasks:\n    - debug: {msg: hidden, verbosity: 1}\n      register: r\n    - name: seen\n      debug: msg=\"{{ r.skipped }} {{ r.skipped_reason }} {{ r.failed }}\"\n";
    let (_d, r) = apply(&[("site.yml", site)], &["--limit", "a"]);
    assert_eq!(r.code, 0, "{}", r.dump());
    assert_eq!(r.of("seen")[0]["msg"], "True Verbosity threshold not met. False", "{}", r.dump());
    assert_eq!((r.recap("a", "ok"), r.recap("a", "skipped")), (1, 1), "{}", r.dump());
}

/// `omit` inside a list or a mapping is left out of the value, at any depth, as ansible-core
/// 2.19.14 finalizes it (`[1, 2]` in the file, length 1, `{"a": 1}`; `to_json` of it fails);
/// prov wrote its placeholder text into the file and the values.
#[test]
fn omit_inside_lists_and_mappings_is_left_out() {
    let site = "- hosts: a\n  gather_facts: false\n  tasks:\n    - copy: {dest: \"{{ root }}/omit.txt\", content: \"{{ [1, omit, 2] }}\"}\n    - set_fact:\n        l: \"{{ [1, omit] }}\"\n        m: {a: 1, b: \"{{ omit }}\", c: [\"{{ omit }}\", {d: \"{{ omit }}\"}]}\n    - name: seen\n      debug: msg=\"{{ l | length }} {{ m | to_json }}\"\n    - name: json\n      debug: msg=\"{{ ['x', omit] | to_json }}\"\n      ignore_errors: true\n";
    let (d, r) = apply(&[("site.yml", site)], &["--limit", "a"]);
    assert_eq!(r.code, 0, "{}", r.dump());
    assert_eq!(std::fs::read_to_string(d.path().join("omit.txt")).unwrap_or_default(), "[1, 2]", "{}", r.dump());
    assert_eq!(r.of("seen")[0]["msg"], r#"1 {"a": 1, "c": [{}]}"#, "{}", r.dump());
    assert_eq!(r.of("json")[0]["status"], "ignored", "{}", r.dump());
}

/// `groups` lists `all` and `ungrouped` first, then the inventory's groups in order, and
/// `first_found`/`fileglob` give absolute paths from a playbook named by a relative path, as
/// ansible-core 2.19.14 does (`["all", "ungrouped", "g1", "g2"]`, `@/vars/b.yml`); prov put
/// `ungrouped` first and gave `./vars/b.yml`.
#[test]
fn groups_order_and_lookup_paths_follow_ansible() {
    let site = "- hosts: a\n  gather_facts: false\n  tasks:\n    - name: groups\n      debug: msg=\"{{ groups | list }}\"\n    - name: found\n      debug: msg=\"{{ lookup('first_found', ['vars/none.yml', 'vars/b.yml']) }} {{ query('fileglob', 'vars/*.yml') | first }}\"\n";
    let (d, r) = apply(&[("site.yml", site), ("vars/b.yml", "x: 1\n")], &["--limit", "a"]);
    assert_eq!(r.code, 0, "{}", r.dump());
    assert_eq!(r.of("groups")[0]["msg"], r#"["all","ungrouped","g1","g2"]"#, "{}", r.dump());
    let root = d.path().canonicalize().expect("root").display().to_string();
    let found = r.of("found")[0]["msg"].as_str().unwrap_or_default().replace(&root, "@");
    assert_eq!(found, "@/vars/b.yml @/vars/b.yml", "{}", r.dump());
}

/// `hostvars` of a host outside the play has its magic variables (not the play's), as
/// ansible-core 2.19.14 gives them (`['g2'] c True U False`); prov had `group_names` and the
/// others undefined there.
#[test]
fn hostvars_of_a_host_outside_the_play_has_its_magic_variables() {
    let site = "- hosts: a\n  gather_facts: false\n  tasks:\n    - name: seen\n      debug: msg=\"{{ hostvars['c'].group_names }} {{ hostvars['c'].inventory_hostname_short }} {{ hostvars['c'].playbook_dir == playbook_dir }} {{ hostvars['c'].ansible_play_hosts | default('U') }} {{ hostvars['c'].ansible_check_mode }}\"\n";
    let (_d, r) = apply(&[("site.yml", site)], &[]);
    assert_eq!(r.code, 0, "{}", r.dump());
    assert_eq!(r.of("seen")[0]["msg"], "['g2'] c True U False", "{}", r.dump());
}

/// A role's `defaults/main/` (or `vars/main/`) may be a directory of files, read in name
/// order, empty ones included (ansible-core's roles target, data_integrity.yml); prov read
/// only main.yml and left the variable undefined.
#[test]
fn role_defaults_and_vars_may_be_directories_of_files() {
    let site = "- hosts: a\n  gather_facts: false\n  roles: [data]\n";
    let (_d, r) = apply(
        &[
            ("site.yml", site),
            ("roles/data/defaults/main/00.yml", "defined_var: 1\nover: default\n"),
            ("roles/data/defaults/main/01.yml", ""),
            ("roles/data/vars/main/a.yml", "from_vars: a\n"),
            ("roles/data/vars/main/b.yml", "from_vars: b\n"),
            (
                "roles/data/tasks/main.yml",
                "- name: seen\n  debug: msg=\"{{ defined_var }} {{ over }} {{ from_vars }}\"\n",
            ),
        ],
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.dump());
    assert_eq!(r.of("seen")[0]["msg"], "1 default b", "{}", r.dump());
}

/// A task sees `ansible_host` as the host's name where the inventory sets none, while
/// `hostvars` does not show it: ansible-core 2.19 prints `h1` and `UNDEF UNDEF False` (its
/// lookup_vars target reads `lookup("vars", "ansible_host")`). prov had it undefined.
#[test]
fn ansible_host_defaults_to_the_hosts_name_in_a_task() {
    let site = "- hosts: a\n  gather_facts: false\n  tasks:\n    - name: own\n      debug: msg=\"{{ ansible_host }} {{ lookup('vars', 'ansible_host') }}\"\n    - name: others\n      debug: msg=\"{{ hostvars['b'].ansible_host | default('UNDEF') }} {{ 'ansible_host' in hostvars['a'] }}\"\n";
    let (_d, r) = apply(&[("site.yml", site)], &[]);
    assert_eq!(r.of("own")[0]["msg"], "a a", "{}", r.dump());
    assert_eq!(r.of("others")[0]["msg"], "UNDEF False", "{}", r.dump());
}

/// `ansible_verbosity` is defined (0, as ansible-playbook without -v); ansible-core's
/// delegate_to target builds a command line from it. prov had it undefined.
#[test]
fn ansible_verbosity_is_defined() {
    let site = "- hosts: a\n  gather_facts: false\n  tasks:\n    - name: v\n      debug: msg=\"[{{ '' if not ansible_verbosity else '-' ~ ('v' * ansible_verbosity) }}]\"\n";
    let (_d, r) = apply(&[("site.yml", site)], &[]);
    assert_eq!(r.of("v")[0]["msg"], "[]", "{}", r.dump());
}

/// `throttle: 1` runs the task on one host at a time (each host takes a lock directory that
/// another host's run would find taken); prov refused the keyword.
#[test]
fn throttle_runs_a_task_on_that_many_hosts_at_once() {
    let site = r#"- hosts: all
  gather_facts: false
  tasks:
    - name: one at a time
      shell: "mkdir {{ root }}/lock && sleep 0.3 && rmdir {{ root }}/lock"
      throttle: 1
    - name: zero means no limit
      command: "true"
      throttle: 0
"#;
    let (_d, r) = apply(&[("site.yml", site)], &[]);
    assert_eq!(r.code, 0, "{}", r.dump());
    assert_eq!(r.of("one at a time").len(), 4, "{}", r.dump());
}

/// An include's own tags decide whether the include runs, not whether its tasks do: with
/// `include_tasks: inc.yml` tagged `a`, ansible-core 2.19 runs only the included task tagged
/// `a` under `--tags a`, nothing under `--tags c`, and everything without tags (an import's
/// tags are inherited). prov gave the include's tags to every included task.
#[test]
fn an_includes_tags_gate_the_include_and_are_not_inherited() {
    let site = "- hosts: a\n  gather_facts: false\n  tasks:\n    - include_tasks: inc.yml\n      tags: [a]\n    - import_tasks: inc2.yml\n      tags: [b]\n";
    let inc = "- name: inner untagged\n  debug: msg=u\n- name: inner tagged a\n  debug: msg=ta\n  tags: [a]\n- name: inner tagged c\n  debug: msg=tc\n  tags: [c]\n";
    let inc2 = "- name: imported untagged\n  debug: msg=iu\n";
    let ran = |args: &[&str]| {
        let (_d, r) = apply(&[("site.yml", site), ("inc.yml", inc), ("inc2.yml", inc2)], args);
        assert_eq!(r.code, 0, "{}", r.dump());
        r.events
            .iter()
            .filter(|e| e["event"] == "host_result")
            .map(|e| e["name"].as_str().unwrap_or_default().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(ran(&["--tags", "a"]), ["include_tasks", "inner tagged a"]);
    assert!(ran(&["--tags", "c"]).is_empty());
    assert_eq!(ran(&["--tags", "b"]), ["imported untagged"]);
    assert_eq!(ran(&[]), ["include_tasks", "inner untagged", "inner tagged a", "inner tagged c", "imported untagged"]);
}

/// `--tags` naming a tag no task has: ansible-core 2.19 prints the play and an empty recap
/// and exits 0 (no warning); so does prov, and nothing runs.
#[test]
fn a_tag_no_task_has_runs_nothing_and_exits_0_as_ansible_core() {
    let site = "- hosts: a\n  gather_facts: false\n  tasks:\n    - debug: msg=hi\n      tags: [x]\n    - debug: msg=untagged\n";
    let (_d, r) = apply(&[("site.yml", site)], &["--tags", "nosuchtag"]);
    assert_eq!(r.code, 0, "{}", r.dump());
    assert!(!r.events.iter().any(|e| e["event"] == "host_result"), "{}", r.dump());
}

/// ansible-core 2.19 evaluates an `include_tasks`' `when` once, when it reaches the include:
/// the file's tasks do not inherit it. With `when: not done` and a file that sets `done`,
/// both tasks of the file run (ok=3: the include counts). prov gave the `when` to every task
/// of the file and skipped the second.
#[test]
fn include_tasks_when_is_evaluated_once_and_not_inherited_by_the_file() {
    let site = "- hosts: a\n  gather_facts: false\n  vars: {done: false}\n  tasks:\n    - include_tasks: x.yml\n      when: not done\n";
    let x = "- set_fact: done=true\n- name: second\n  debug: msg=second\n";
    let (_d, r) = apply(&[("site.yml", site), ("x.yml", x)], &[]);
    assert_eq!(r.code, 0, "{}", r.dump());
    assert_eq!(on(&r, "second", "a")[0]["status"], "ok", "{}", r.dump());
    assert_eq!((r.recap("a", "ok"), r.recap("a", "skipped")), (3, 0), "{}", r.dump());
}

/// A templated `include_tasks` name is rendered per host when the include runs. Same playbook
/// under ansible-core 2.19 (four hosts, a role): `{{ group_names[0] }}.yml` runs g1.yml on a
/// and b, g2.yml on c and d; `lookup('first_found', ...)` finds the role's `tasks/common.yml`;
/// a name that renders to a missing file fails that host ("Could not find or access
/// '<playbook dir>/missing.yml' on the Ansible Controller."), the others skip it. Recap:
/// a, b, c ok=5 skipped=1; d ok=4 failed=1.
#[test]
fn include_tasks_with_a_templated_name_runs_the_file_each_host_renders() {
    let main = r#"- name: by group
  include_tasks: "{{ group_names[0] }}.yml"
- name: first found
  include_tasks: "{{ lookup('first_found', ['nope.yml', 'common.yml']) }}"
- name: missing
  include_tasks: "{{ 'missing' }}.yml"
  when: inventory_hostname == 'd'
"#;
    let files = [
        (
            "site.yml",
            "- hosts: all\n  gather_facts: false\n  roles: [r]\n  tasks:\n    - name: after\n      debug: msg=after\n",
        ),
        ("roles/r/tasks/main.yml", main),
        ("roles/r/tasks/g1.yml", "- name: in g1\n  debug: msg=\"g1 {{ inventory_hostname }}\"\n"),
        ("roles/r/tasks/g2.yml", "- name: in g2\n  debug: msg=\"g2 {{ inventory_hostname }}\"\n"),
        ("roles/r/tasks/common.yml", "- name: in common\n  debug: msg=common\n"),
    ];
    let (d, r) = apply(&files, &[]);
    assert_eq!(r.code, 2, "{}", r.dump());
    let hosts = |task: &str| {
        let mut h: Vec<String> = r
            .of(task)
            .iter()
            .filter(|x| x["status"] == "ok")
            .map(|x| x["host"].as_str().unwrap_or_default().to_string())
            .collect();
        h.sort();
        h
    };
    assert_eq!(hosts("in g1"), ["a", "b"], "{}", r.dump());
    assert_eq!(hosts("in g2"), ["c", "d"], "{}", r.dump());
    assert_eq!(hosts("in common"), ["a", "b", "c", "d"], "{}", r.dump());
    assert_eq!(hosts("after"), ["a", "b", "c"], "{}", r.dump());
    let missing = format!("Could not find or access '{}/missing.yml' on the Ansible Controller.", d.path().display());
    let msg = on(&r, "missing", "d")[0]["msg"].as_str().unwrap_or_default().to_string();
    assert!(msg.starts_with(&missing), "{msg}");
    for h in ["a", "b", "c"] {
        assert_eq!((r.recap(h, "ok"), r.recap(h, "skipped"), r.recap(h, "failed")), (5, 1, 0), "{h}: {}", r.dump());
    }
    assert_eq!((r.recap("d", "ok"), r.recap("d", "failed")), (4, 1), "{}", r.dump());
}

/// ansible-core reads an included file when the include runs: a module it cannot resolve
/// there stops the run (`couldn't resolve module/action`, exit 4) only if the include is
/// reached, whether its name is literal or templated. Skipped, the file does not matter
/// (Windows-only files in roles). prov refused the playbook before the run.
#[test]
fn include_of_a_file_with_an_unknown_module_stops_the_run_only_when_reached() {
    let bad = "- name: before\n  debug: msg=before\n- no_such_module: {}\n";
    let site = |when: &str| {
        format!(
            "- hosts: a\n  gather_facts: false\n  tasks:\n    - include_tasks: bad.yml\n      when: {when}\n    - include_tasks: \"{{{{ 'bad' }}}}.yml\"\n      when: {when}\n    - name: after\n      debug: msg=after\n"
        )
    };
    let skipped = site("false");
    let (_d, r) = apply(&[("site.yml", &skipped), ("bad.yml", bad)], &[]);
    assert_eq!(r.code, 0, "{}", r.dump());
    assert!(r.stderr.contains("couldn't resolve module/action 'no_such_module'"), "{}", r.stderr);
    assert_eq!((r.recap("a", "ok"), r.recap("a", "skipped")), (1, 2), "{}", r.dump());
    let reached = site("true");
    let (_d, r) = apply(&[("site.yml", &reached), ("bad.yml", bad)], &[]);
    assert_eq!(r.code, 4, "{}", r.dump());
    assert!(r.of("before").is_empty() && r.of("after").is_empty(), "{}", r.dump());
}

/// `loop: "{{ la + lb }}"` (two lists joined) loops over the joined list, as in ansible-core
/// 2.19 (three items); prov failed the task: "the value must be a list, not a iterator".
#[test]
fn loop_over_two_joined_lists_loops_over_their_items() {
    let site = "- hosts: a\n  gather_facts: false\n  vars: {la: [1, 2], lb: [3]}\n  tasks:\n    - name: joined\n      debug: msg=\"{{ item }}\"\n      loop: \"{{ la + lb }}\"\n      register: r\n    - name: count\n      assert:\n        that: r.results | map(attribute='item') | list == [1, 2, 3]\n";
    let (_d, r) = apply(&[("site.yml", site)], &[]);
    assert_eq!(r.code, 0, "{}", r.dump());
    assert_eq!(on(&r, "count", "a")[0]["status"], "ok", "{}", r.dump());
}

/// `include_vars`, as ansible-core 2.19 runs the same playbook (hosts a, b; every assertion
/// passes there; recap a ok=13, b ok=12): the registered result has `ansible_facts` and
/// `ansible_included_var_files`; a `set_fact` of the same name wins over the file (its
/// precedence is higher); `name:` nests the variables; a templated file name is rendered per
/// host and the file's own templates when they are read (`who` is set after the include);
/// `dir:` loads its files in name order (the last one wins); in a role, the file is looked
/// for in the role's `vars/`; the variables stay for later plays and show in `hostvars`. An
/// `include_role` under `when: not role_done` runs the whole role although the role sets
/// `role_done`: the include's `when` is evaluated once. prov refused `include_vars`.
#[test]
fn include_vars_loads_files_with_ansibles_precedence_and_lifetime() {
    let files = [
        (
            "site.yml",
            r#"- hosts: g1
  gather_facts: false
  vars: {role_done: false}
  tasks:
    - set_fact: x=from_set_fact
    - include_vars: vars/v.yml
      register: r
    - name: shape
      assert:
        that:
          - "r.ansible_facts == {'x': 'from_file', 'y': 2}"
          - r.ansible_included_var_files == [playbook_dir ~ '/vars/v.yml']
          - x == 'from_set_fact'
          - y == 2
    - include_vars:
        file: v.yml
        name: ns
    - include_vars: "{{ inventory_hostname }}.yml"
    - set_fact: who=you
    - include_vars:
        dir: vars/d
    - name: values
      assert:
        that:
          - "ns == {'x': 'from_file', 'y': 2}"
          - greeting == ('hi you' if inventory_hostname == 'a' else 'yo you')
          - d1 == 1 and d2 == 2 and shared == 'second'
    - include_role: name=r
      when: not role_done
- hosts: a
  gather_facts: false
  tasks:
    - name: later play
      assert:
        that:
          - y == 2 and z == 'role_z'
          - hostvars['b'].greeting == 'yo you'
"#,
        ),
        (
            "vars/v.yml",
            r#"x: from_file
y: 2
"#,
        ),
        (
            "vars/a.yml",
            r#"greeting: "hi {{ who }}"
"#,
        ),
        (
            "vars/b.yml",
            r#"greeting: "yo {{ who }}"
"#,
        ),
        (
            "vars/d/1.yml",
            r#"d1: 1
shared: first
"#,
        ),
        (
            "vars/d/2.yaml",
            r#"d2: 2
shared: second
"#,
        ),
        (
            "roles/r/vars/extra.yml",
            r#"z: role_z
"#,
        ),
        (
            "roles/r/tasks/main.yml",
            r#"- include_vars: extra.yml
- set_fact: role_done=true
- name: role second
  debug: var=z
"#,
        ),
    ];
    let (_d, r) = apply(&files, &[]);
    assert_eq!(r.code, 0, "{}", r.dump());
    assert_eq!((r.recap("a", "ok"), r.recap("b", "ok")), (13, 12), "{}", r.dump());
    for (task, host) in [("shape", "a"), ("values", "b"), ("role second", "a"), ("later play", "a")] {
        assert_eq!(on(&r, task, host)[0]["status"], "ok", "{task}: {}", r.dump());
    }
}

/// An `include_tasks` of a file that does not exist fails the host that reaches it, as
/// ansible-core 2.19 does ("Could not find or access '<dir>/gone.yml' on the Ansible
/// Controller", recap ok=0 failed=1 skipped=1); skipped by `when`, it does not matter. prov
/// refused the playbook before the run.
#[test]
fn include_tasks_of_a_missing_file_fails_the_host_that_reaches_it() {
    let site = "- hosts: a\n  gather_facts: false\n  tasks:\n    - include_tasks: gone.yml\n      when: false\n    - include_tasks: gone.yml\n    - name: after\n      debug: msg=after\n";
    let (d, r) = apply(&[("site.yml", site)], &[]);
    assert_eq!(r.code, 2, "{}", r.dump());
    let want = format!("Could not find or access '{}/gone.yml' on the Ansible Controller.", d.path().display());
    let failed: Vec<&Json> = r.results().into_iter().filter(|x| x["status"] == "failed").collect();
    assert!(failed[0]["msg"].as_str().unwrap_or_default().starts_with(&want), "{}", r.dump());
    assert_eq!((r.recap("a", "ok"), r.recap("a", "failed"), r.recap("a", "skipped")), (0, 1, 1), "{}", r.dump());
    assert!(r.of("after").is_empty(), "{}", r.dump());
}

/// A `run_once` task in a file that only some hosts include runs on the first host that
/// reaches it: ansible-core 2.19 prints "once on b" when only b includes the file. prov took
/// the result of a, which had gone past the file, and ran it nowhere. A `run_once`
/// `include_vars` sets the variables on every host of the batch, templated per host
/// (ansible-core: iv-a on a, iv-b on b); prov set them on the first host only.
#[test]
fn run_once_in_an_include_runs_on_a_host_that_reaches_it_and_include_vars_reach_all() {
    let site = "- hosts: g1\n  gather_facts: false\n  tasks:\n    - include_tasks: ro.yml\n      when: inventory_hostname == 'b'\n    - include_vars: v.yml\n      run_once: true\n    - name: iv\n      debug: msg=\"iv={{ iv | default('UNDEF') }}\"\n";
    let ro = "- name: once\n  debug: msg=\"once on {{ inventory_hostname }}\"\n  run_once: true\n";
    let v = "iv: \"{{ 'iv-' ~ inventory_hostname }}\"\n";
    let (_d, r) = apply(&[("site.yml", site), ("ro.yml", ro), ("v.yml", v)], &[]);
    assert_eq!(r.code, 0, "{}", r.dump());
    let once: Vec<&str> = r.of("once").iter().filter_map(|x| x["msg"].as_str()).collect();
    assert_eq!(once, ["once on b"], "{}", r.dump());
    for h in ["a", "b"] {
        assert_eq!(on(&r, "iv", h)[0]["msg"], format!("iv=iv-{h}"), "{}", r.dump());
    }
}

/// `ignore_errors: true` on an `include_tasks` is about the include, not its tasks:
/// ansible-core 2.19 fails the host on the file's failing task (recap ok=1 failed=1) and runs
/// nothing after it. prov ignored the failure and went on.
#[test]
fn ignore_errors_on_an_include_is_not_passed_to_its_tasks() {
    let site = "- hosts: a\n  gather_facts: false\n  tasks:\n    - include_tasks: f.yml\n      ignore_errors: true\n    - name: outer after\n      debug: msg=outer\n";
    let f = "- name: inner fail\n  command: 'false'\n- name: inner after\n  debug: msg=inner\n";
    let (_d, r) = apply(&[("site.yml", site), ("f.yml", f)], &[]);
    assert_eq!(r.code, 2, "{}", r.dump());
    assert_eq!((r.recap("a", "ok"), r.recap("a", "failed"), r.recap("a", "ignored")), (1, 1, 0), "{}", r.dump());
    assert!(r.of("inner after").is_empty() && r.of("outer after").is_empty(), "{}", r.dump());
}

// ansible-core 2.19.14 on the same playbook: the `vars:` of an include_tasks or include_role
// are include params, above set_fact and include_vars for every task the include brings in
// (the inner include's over the outer's); the vars of a block and of an import_tasks are task
// vars, below them.
#[test]
fn vars_of_a_dynamic_include_rank_above_set_fact_and_include_vars() {
    let inc = r#"- set_fact: {seen: "{{ seen + [v] }}"}
- set_fact: {v: from_set_fact}
- include_vars: "{{ playbook_dir }}/iv.yml"
- set_fact: {seen: "{{ seen + [v] }}"}
"#;
    let (_d, r) = apply(
        &[
            (
                "site.yml",
                r#"- hosts: a
  gather_facts: false
  vars: {seen: []}
  tasks:
    - set_fact: {v: sf}
    - include_tasks: {file: inc.yml}
      vars: {v: incvar}
    - set_fact: {seen: "{{ seen + ['out:' ~ v] }}"}
    - include_role: {name: r}
      vars: {v: rolevar}
    - block:
        - include_tasks: inc.yml
      vars: {v: blockvar}
    - import_tasks: inc.yml
      vars: {v: importvar}
    - include_tasks: outer.yml
      vars: {v: outer}
    - name: seen
      debug: var=seen
"#,
            ),
            ("inc.yml", inc),
            ("roles/r/tasks/main.yml", inc),
            ("iv.yml", "v: from_iv\n"),
            (
                "outer.yml",
                r#"- set_fact: {seen: "{{ seen + ['outer:' ~ v] }}"}
- include_tasks: inc.yml
  vars: {v: inner}
- set_fact: {seen: "{{ seen + ['outer-after:' ~ v] }}"}
"#,
            ),
        ],
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.dump());
    let ansible = [
        "incvar",
        "incvar",
        "out:from_set_fact",
        "rolevar",
        "rolevar",
        "from_set_fact",
        "from_set_fact",
        "from_set_fact",
        "from_set_fact",
        "outer:outer",
        "inner",
        "inner",
        "outer-after:outer",
    ];
    let want = format!("seen: {}", serde_json::json!(ansible));
    assert_eq!(r.of("seen")[0]["msg"], want.as_str(), "{}", r.dump());
    assert_eq!(r.recap("a", "ok"), 30, "{}", r.dump());
}

// ansible-core 2.19.14 refuses every keyword on include_tasks and include_role outside its
// short list ("'become' is not a valid attribute for a TaskInclude"), and an include_role or
// import_role without `name` ("'name' is a required field for include_role").
#[test]
fn keywords_ansible_refuses_on_a_dynamic_include_are_refused_before_the_run() {
    for (task, key) in [
        ("include_tasks: inc.yml\n      become: true", "become"),
        ("include_tasks: inc.yml\n      become_user: root", "become_user"),
        ("include_role: {name: r}\n      become: true", "become"),
        ("include_tasks: inc.yml\n      environment: {A: b}", "environment"),
        ("include_role: {name: r}\n      check_mode: true", "check_mode"),
        ("include_tasks: inc.yml\n      delegate_to: b", "delegate_to"),
        ("include_role: r", "name"),
        ("import_role: r", "name"),
        ("import_tasks:\n        file: inc.yml\n        nope: 1", "nope"),
        ("include_role:\n        name: r\n        vars: {v: 1}", "vars"),
        ("import_role:\n        name: r\n        vars: {v: 1}", "vars"),
    ] {
        let site = format!("- hosts: a\n  gather_facts: false\n  tasks:\n    - {task}\n");
        let (d, r) = apply(
            &[
                ("site.yml", &site),
                ("inc.yml", "- file: path={{ root }}/touched state=touch\n"),
                ("roles/r/tasks/main.yml", "- file: path={{ root }}/touched state=touch\n"),
            ],
            &[],
        );
        assert_eq!(r.code, 4, "{task}: {}", r.dump());
        assert!(["4", "5", "6"].iter().any(|l| r.stderr.contains(&format!("site.yml:{l}:"))), "{task}: {}", r.stderr);
        assert!(r.stderr.contains(&format!("`{key}`")), "{task}: {}", r.stderr);
        assert!(!d.path().join("touched").exists(), "{task}");
    }
}

/// The messages of the debug tasks that ran on `host`, in order.
fn said_on(r: &Run, host: &str) -> Vec<String> {
    let tail = format!(" on {host}");
    r.results()
        .into_iter()
        .filter(|e| e["host"] == host && e["status"] == "ok")
        .filter_map(|e| e["msg"].as_str().filter(|m| m.ends_with(&tail)).map(str::to_string))
        .collect()
}

/// Roles x and y depend on common; each role's one task says its name.
fn roles_xy_common() -> Vec<(&'static str, &'static str)> {
    vec![
        ("roles/x/tasks/main.yml", "- debug: msg=\"x on {{ inventory_hostname }}\"\n"),
        ("roles/y/tasks/main.yml", "- debug: msg=\"y on {{ inventory_hostname }}\"\n"),
        ("roles/common/tasks/main.yml", "- debug: msg=\"common on {{ inventory_hostname }}\"\n"),
        ("roles/x/meta/main.yml", "dependencies: [common]\n"),
        ("roles/y/meta/main.yml", "dependencies: [common]\n"),
        ("roles/u/tasks/main.yml", "- debug: msg=\"user {{ uname }} on {{ inventory_hostname }}\"\n"),
    ]
}

// ansible-core 2.19.14 on the same playbooks: a role runs once per play and host, and only
// where a task of it ran (a role whose tasks a host skipped runs again for that host when
// another role depends on it); a role entry with other `vars`, `when` or `tags` is another
// role and runs again; include_role and import_role always run their role.
#[test]
fn a_role_is_deduplicated_per_host_and_per_entry_as_ansible_does() {
    let mut files = roles_xy_common();
    files.push((
        "site.yml",
        r#"- hosts: a
  gather_facts: false
  roles:
    - {role: u, vars: {uname: alice}}
    - {role: u, vars: {uname: bob}}
    - {role: u, vars: {uname: bob}}
    - {role: u, tags: [t], vars: {uname: bob}}
    - {role: u, when: true, vars: {uname: bob}}
- hosts: g1
  gather_facts: false
  roles:
    - {role: x, when: inventory_hostname == 'a'}
    - y
- hosts: g1
  gather_facts: false
  tasks:
    - include_role: {name: common}
      when: inventory_hostname == 'a'
    - include_role: {name: y}
    - include_role: {name: x}
- hosts: g1
  gather_facts: false
  tasks:
    - include_role: {name: x}
      when: inventory_hostname == 'a'
    - include_role: {name: y}
    - include_role: {name: common}
- hosts: g1
  gather_facts: false
  roles: [x, y]
  tasks:
    - import_role: {name: common}
    - include_role: {name: common}
"#,
    ));
    let (_d, r) = apply(&files, &[]);
    assert_eq!(r.code, 0, "{}", r.dump());
    let users: Vec<String> = said_on(&r, "a").into_iter().filter(|m| m.starts_with("user")).collect();
    assert_eq!(users, ["user alice on a", "user bob on a", "user bob on a", "user bob on a"], "{}", r.dump());
    let ansible_a = [
        "common on a",
        "x on a",
        "y on a", // roles x (when a), y
        "common on a",
        "common on a",
        "y on a",
        "x on a", // include common (a), y, x
        "common on a",
        "x on a",
        "y on a",
        "common on a", // include x (a), y, common
        "common on a",
        "x on a",
        "y on a",
        "common on a",
        "common on a", // roles x, y; import, include
    ];
    let ansible_b = [
        "common on b",
        "y on b", // roles x (skipped on b), y
        "common on b",
        "y on b",
        "x on b", // include common (skipped on b), y, x
        "common on b",
        "y on b",
        "common on b", // include x (skipped on b), y, common
        "common on b",
        "x on b",
        "y on b",
        "common on b",
        "common on b",
    ];
    let said_a: Vec<String> = said_on(&r, "a").into_iter().filter(|m| !m.starts_with("user")).collect();
    assert_eq!(said_a, ansible_a, "{}", r.dump());
    assert_eq!(said_on(&r, "b"), ansible_b, "{}", r.dump());
    // ansible-core's recap: a ok=27, b ok=18 skipped=4.
    assert_eq!((r.recap("a", "ok"), r.recap("b", "ok"), r.recap("b", "skipped")), (27, 18, 4), "{}", r.dump());
}

/// A mapping's keys are not templates in ansible-core 2.19.14: in play vars, in set_fact's
/// values, in module arguments and an include's vars they stay as written (its output for this
/// play); only set_fact's own variable names are rendered. prov rendered every key.
#[test]
fn mapping_keys_stay_as_written() {
    let site = r#"- hosts: a
  gather_facts: false
  vars:
    k: dynkey
    dk: {"{{ k }}": 1, other: "{{ k }}"}
  tasks:
    - set_fact: {"{{ k }}": 3, tk: {"{{ k }}": 2}}
    - name: shown
      debug: {msg: "{{ [dk, tk, dynkey] | to_json }}"}
    - name: argument
      debug: {msg: {"{{ k }}": 1}}
"#;
    let (_d, r) = apply(&[("site.yml", site)], &[]);
    assert_eq!(r.of("shown")[0]["msg"], r#"[{"{{ k }}": 1, "other": "dynkey"}, {"{{ k }}": 2}, 3]"#, "{}", r.dump());
    assert_eq!(r.of("argument")[0]["msg"], r#"{"{{ k }}":1}"#, "{}", r.dump());
}

// ansible-core 2.19.14: set_fact templates its keys (also in the key=value form, whose
// keys may be templates), registers `ansible_facts`, and fails on a key that renders to an
// invalid name ("Task failed: Invalid variable name 'not valid'.").
#[test]
fn set_fact_templates_its_keys_and_registers_ansible_facts() {
    let (_d, r) = apply(
        &[(
            "site.yml",
            r#"- hosts: a
  gather_facts: false
  tasks:
    - set_fact: "{{ item }}=moo"
      loop: [foo, bar]
    - set_fact: {"{{ k }}": v}
      vars: {k: templated}
      register: r
    - name: check
      assert:
        that: [foo == 'moo', bar == 'moo', templated == 'v', "r.ansible_facts == {'templated': 'v'}"]
    - name: bad
      set_fact: {"{{ bad }}": 1}
      vars: {bad: "not valid"}
      ignore_errors: true
    - name: reserved
      set_fact: {"{{ 'true' }}": 1}
      ignore_errors: true
"#,
        )],
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.dump());
    assert_eq!(r.of("check")[0]["status"], "ok", "{}", r.dump());
    let bad = r.of("bad");
    assert_eq!(bad[0]["status"], "ignored", "{}", r.dump());
    assert_eq!(bad[0]["msg"], "Task failed: Invalid variable name 'not valid'.", "{}", r.dump());
    assert_eq!(r.of("reserved")[0]["msg"], "Task failed: Invalid variable name 'true'.", "{}", r.dump());
    // ansible-core: ok=6 ignored=1 with two debug tasks more and without `reserved`.
    assert_eq!((r.recap("a", "ok"), r.recap("a", "ignored")), (5, 2), "{}", r.dump());
}

// ansible-core 2.19.14 refuses a module argument named `_ansible_...` before the run.
#[test]
fn an_argument_named_with_the_reserved_ansible_prefix_is_refused_before_the_run() {
    let (_d, r) = apply(
        &[("site.yml", "- hosts: a\n  gather_facts: false\n  tasks:\n    - set_fact:\n        _ansible_foo: bar\n      ignore_errors: true\n")],
        &[],
    );
    assert_eq!(r.code, 4, "{}", r.dump());
    assert!(r.stderr.contains("site.yml:5:9"), "{}", r.stderr);
    assert!(r.stderr.contains("The prefix '_ansible_' is reserved for internal use only."), "{}", r.stderr);
}

// ansible-core 2.19.14 on the same playbook: the keys of a role entry that are not role
// keywords are role params. They rank above set_fact inside the role (below extra vars),
// reach the role's dependencies, end with the role, and tell role entries apart (the same
// params twice run the role once).
#[test]
fn role_params_rank_above_set_fact_reach_dependencies_and_tell_roles_apart() {
    let files = [
        (
            "roles/p/tasks/main.yml",
            r#"- set_fact: {seen: "{{ seen + [pv] }}"}
- set_fact: {pv: from_set_fact}
- set_fact: {seen: "{{ seen + [pv] }}"}
"#,
        ),
        ("roles/q/meta/main.yml", "dependencies: [{role: p, pv: dep_param}]\n"),
        ("roles/q/tasks/main.yml", "- set_fact: {seen: \"{{ seen + ['q:' ~ qv] }}\"}\n"),
        ("roles/d/meta/main.yml", "dependencies: [p]\n"),
        ("roles/d/tasks/main.yml", "- set_fact: {seen: \"{{ seen + ['d:' ~ pv] }}\"}\n"),
        (
            "site.yml",
            r#"- hosts: a
  gather_facts: false
  vars: {seen: []}
  roles:
    - {role: p, pv: one}
    - {role: p, pv: one}
    - {role: p, pv: two}
    - {role: q, qv: x}
    - {role: d, pv: from_parent}
  tasks:
    - name: seen
      debug: var=seen
    - name: after
      debug: msg="{{ pv }}"
"#,
        ),
    ];
    let (d, r) = apply(&files, &[]);
    assert_eq!(r.code, 0, "{}", r.dump());
    let ansible =
        r#"seen: ["one","one","two","two","dep_param","dep_param","q:x","from_parent","from_parent","d:from_parent"]"#;
    assert_eq!(r.of("seen")[0]["msg"], ansible, "{}", r.dump());
    assert_eq!(r.of("after")[0]["msg"], "from_set_fact", "{}", r.dump());
    assert_eq!(r.recap("a", "ok"), 16, "{}", r.dump());
    let r = run_in(d.path(), &["-e", "pv=extra"]);
    let ansible = r#"seen: ["extra","extra","extra","extra","extra","extra","q:x","extra","extra","d:extra"]"#;
    assert_eq!(r.of("seen")[0]["msg"], ansible, "{}", r.dump());
}

// ansible-core 2.19.14 on the same playbook: under `force_handlers` (the play keyword, or
// --force-handlers for every play) a host that fails still runs the handlers it notified
// before failing; without it, it does not.
#[test]
fn force_handlers_runs_the_handlers_of_a_host_that_failed() {
    let site = r#"- hosts: g1
  gather_facts: false
  force_handlers: true
  pre_tasks:
    - command: echo pre
      notify: h
  tasks:
    - command: echo hi
      notify: h2
    - fail: msg=boom
      when: inventory_hostname == 'a'
    - debug: msg="after on {{ inventory_hostname }}"
  handlers:
    - name: h
      debug: msg="h on {{ inventory_hostname }}"
    - name: h2
      debug: msg="h2 on {{ inventory_hostname }}"
- hosts: g2
  gather_facts: false
  tasks:
    - command: echo hi
      notify: h2
    - fail: msg=boom
      when: inventory_hostname == 'c'
  handlers:
    - name: h2
      debug: msg="h2 on {{ inventory_hostname }}"
"#;
    let (d, r) = apply(&[("site.yml", site)], &[]);
    assert_eq!(r.code, 2, "{}", r.dump());
    assert_eq!(said_on(&r, "a"), ["h on a", "h2 on a"], "{}", r.dump());
    assert_eq!(said_on(&r, "b"), ["h on b", "after on b", "h2 on b"], "{}", r.dump());
    assert!(said_on(&r, "c").is_empty(), "{}", r.dump());
    assert_eq!(said_on(&r, "d"), ["h2 on d"], "{}", r.dump());
    let recap =
        |r: &Run, h: &str| (r.recap(h, "ok"), r.recap(h, "changed"), r.recap(h, "failed"), r.recap(h, "skipped"));
    assert_eq!(recap(&r, "a"), (4, 2, 1, 0), "{}", r.dump());
    assert_eq!(recap(&r, "b"), (5, 2, 0, 1), "{}", r.dump());
    assert_eq!(recap(&r, "c"), (1, 1, 1, 0), "{}", r.dump());
    assert_eq!(recap(&r, "d"), (2, 1, 0, 1), "{}", r.dump());
    let r = run_in(d.path(), &["--force-handlers"]);
    assert_eq!(said_on(&r, "c"), ["h2 on c"], "{}", r.dump());
    assert_eq!(recap(&r, "c"), (2, 1, 1, 0), "{}", r.dump());
    assert_eq!(recap(&r, "a"), (4, 2, 1, 0), "{}", r.dump());
}

// ansible-core 2.19.14: the tasks an import_tasks brings into the handlers are handlers of
// their own names (notifying one runs that one only); the import's own name is none
// ("The requested handler 'imp' was not found").
#[test]
fn tasks_imported_into_the_handlers_are_handlers_of_their_own_names() {
    let h = "- name: test handler\n  debug: msg=\"handler called on {{ inventory_hostname }}\"\n- name: second\n  debug: msg=\"second called on {{ inventory_hostname }}\"\n";
    let site = |notify: &str| {
        format!("- hosts: a\n  gather_facts: false\n  tasks:\n    - command: echo\n      notify: {notify}\n  handlers:\n    - name: imp\n      import_tasks: h.yml\n")
    };
    let (_d, r) = apply(&[("site.yml", &site("test handler")), ("h.yml", h)], &[]);
    assert_eq!(r.code, 0, "{}", r.dump());
    assert_eq!(said_on(&r, "a"), ["handler called on a"], "{}", r.dump());
    let (_d, r) = apply(&[("site.yml", &site("imp")), ("h.yml", h)], &[]);
    assert_eq!(r.code, 4, "{}", r.dump());
    assert!(r.stderr.contains("`imp`"), "{}", r.stderr);
}

// ansible-core 2.19.14: an include whose file or role does not exist fails the host that
// reaches it even under ignore_errors (k4/k5: ok=0 failed=1, the next task does not run);
// a role that no host reaches does not matter.
#[test]
fn a_missing_include_file_or_role_fails_the_host_despite_ignore_errors() {
    let (d, r) = apply(
        &[(
            "site.yml",
            "- hosts: a\n  gather_facts: false\n  tasks:\n    - include_role: {name: nope}\n      when: false\n    - include_role: {name: nope}\n      ignore_errors: true\n    - debug: msg=\"after on {{ inventory_hostname }}\"\n",
        )],
        &[],
    );
    assert_eq!(r.code, 2, "{}", r.dump());
    let root = d.path().canonicalize().expect("canonical").display().to_string();
    let failed = r.results().into_iter().find(|e| e["status"] == "failed").expect("a failure").clone();
    let msg = failed["msg"].as_str().expect("msg");
    assert!(msg.starts_with(&format!("the role 'nope' was not found in {root}/roles:")), "{msg}");
    assert!(said_on(&r, "a").is_empty(), "{}", r.dump());
    assert_eq!((r.recap("a", "ok"), r.recap("a", "failed"), r.recap("a", "skipped")), (0, 1, 1), "{}", r.dump());
    let (_d, r) = apply(
        &[("site.yml", "- hosts: a\n  gather_facts: false\n  tasks:\n    - include_tasks: nope.yml\n      ignore_errors: true\n    - debug: msg=\"after on {{ inventory_hostname }}\"\n")],
        &[],
    );
    assert_eq!(r.code, 2, "{}", r.dump());
    assert!(said_on(&r, "a").is_empty(), "{}", r.dump());
    assert_eq!((r.recap("a", "ok"), r.recap("a", "failed"), r.recap("a", "ignored")), (0, 1, 0), "{}", r.dump());
}

// ansible-core 2.19.14 on the same playbook: a templated ignore_errors is rendered per host
// when the task runs; a value that is no boolean fails the task, and that failure is ignored
// (ansible-core's own behaviour). Recap ok=4 failed=1 ignored=4.
#[test]
fn a_templated_ignore_errors_is_rendered_when_the_task_runs() {
    let (_d, r) = apply(
        &[(
            "site.yml",
            r#"- hosts: a
  gather_facts: false
  vars: {t: true, s: "yes", f: false}
  tasks:
    - name: one
      fail: msg=one
      ignore_errors: "{{ t }}"
    - name: two
      fail: msg=two
      ignore_errors: "{{ s }}"
    - name: three
      fail: msg=three
      ignore_errors: "{{ not ansible_check_mode }}"
    - name: bad
      fail: msg=bad
      ignore_errors: "{{ 'maybe' }}"
    - name: four
      fail: msg=four
      ignore_errors: "{{ f }}"
    - name: never
      debug: msg=never
"#,
        )],
        &[],
    );
    assert_eq!(r.code, 2, "{}", r.dump());
    for t in ["one", "two", "three", "bad"] {
        assert_eq!(r.of(t)[0]["status"], "ignored", "{t}: {}", r.dump());
    }
    assert_eq!(
        r.of("bad")[0]["msg"],
        "Task failed: Error processing keyword 'ignore_errors': The value 'maybe' could not be converted to 'bool'.",
        "{}",
        r.dump()
    );
    assert_eq!(r.of("four")[0]["status"], "failed", "{}", r.dump());
    assert!(r.of("never").is_empty(), "{}", r.dump());
    assert_eq!((r.recap("a", "ok"), r.recap("a", "failed"), r.recap("a", "ignored")), (4, 1, 4), "{}", r.dump());
    // Rendered before the task runs: what it registers does not count (ansible-core: ok=0
    // failed=1).
    let (_d, r) = apply(
        &[(
            "site.yml",
            "- hosts: a\n  gather_facts: false\n  tasks:\n    - name: reg\n      fail: msg=x\n      register: r\n      ignore_errors: \"{{ r is defined }}\"\n    - name: never\n      debug: msg=after\n",
        )],
        &[],
    );
    assert_eq!((r.code, r.recap("a", "failed"), r.of("never").len()), (2, 1, 0), "{}", r.dump());
}

/// `action:` names the module in its value; ansible-core 2.19 ran these four tasks with
/// msg "hi", "there", ping's "pong" and refused a task with both `action` and `debug`
/// ("conflicting action statements").
#[test]
fn action_keyword_names_the_module() {
    let (_d, r) = apply(
        &[(
            "site.yml",
            r#"- hosts: a
  gather_facts: false
  tasks:
    - name: one
      action: debug msg=hi
    - name: two
      action: {module: debug, msg: there}
    - name: three
      action: ping
      register: p
    - name: four
      action: debug
      args: {msg: "{{ p.ping }}"}
    - name: five
      action:
        module: ansible.legacy.debug
        args: {msg: inner}
"#,
        )],
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.dump());
    let msgs: Vec<String> = ["one", "two", "four", "five"]
        .iter()
        .map(|t| r.of(t)[0]["msg"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(msgs, ["hi", "there", "pong", "inner"], "{}", r.dump());
    let (_d, r) = apply(
        &[("site.yml", "- hosts: a\n  gather_facts: false\n  tasks:\n    - action: debug msg=x\n      debug: msg=y\n")],
        &[],
    );
    assert_eq!(r.code, 4, "{}", r.dump());
    assert!(r.stderr.contains("conflicting action statements"), "{}", r.dump());
}

/// A vars file may be a list of mappings, merged in order; ansible-core 2.19 printed "1 2"
/// for this one and refused a list of numbers ("Invalid variable file contents").
#[test]
fn a_vars_file_may_be_a_list_of_mappings() {
    let play = "- hosts: a\n  gather_facts: false\n  vars_files:\n    - vars/l.yml\n  tasks:\n    - name: both\n      debug: msg=\"{{ a }} {{ b }}\"\n";
    let (_d, r) = apply(&[("site.yml", play), ("vars/l.yml", "- a: 1\n  b: 1\n- b: 2\n")], &[]);
    assert_eq!(r.code, 0, "{}", r.dump());
    assert_eq!(r.of("both")[0]["msg"], "1 2", "{}", r.dump());
    let (_d, r) = apply(&[("site.yml", play), ("vars/l.yml", "- 1\n")], &[]);
    assert_eq!(r.code, 4, "{}", r.dump());
    assert!(r.stderr.contains("invalid variable file contents"), "{}", r.dump());
}

/// A task's `timeout`: ansible-core 2.19 fails it with "Task failed: Timed out after 1
/// second(s)." and a `timedout` field whose `period` is the limit.
#[test]
fn task_timeout_fails_with_ansible_cores_message() {
    let (_d, r) = apply(
        &[(
            "site.yml",
            "- hosts: a\n  gather_facts: false\n  tasks:\n    - name: slow\n      shell: sleep 30\n      timeout: 1\n      ignore_errors: true\n      register: time\n    - name: check\n      assert:\n        that:\n          - time is failed\n          - time.msg is contains 'Timed out after'\n          - \"'timedout' in time\"\n          - time.timedout.period == 1\n",
        )],
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.dump());
    assert_eq!(r.of("slow")[0]["msg"], "Task failed: Timed out after 1 second(s).", "{}", r.dump());
}

/// The task keyword `diff` turns diff mode on for its task only; a value that is no boolean
/// fails the task as ansible-core 2.19 does ("Error processing keyword 'diff': The value 'yes.'
/// could not be converted to 'bool'."). An empty `vars_prompt` asks for nothing (ansible-core
/// runs the play).
#[test]
fn diff_keyword_and_an_empty_vars_prompt() {
    let (d, r) = apply(
        &[(
            "site.yml",
            "- hosts: a\n  gather_facts: false\n  vars_prompt: null\n  tasks:\n    - name: first\n      copy: {dest: \"{{ root }}/f\", content: \"one\\n\"}\n    - name: second\n      copy: {dest: \"{{ root }}/f\", content: \"two\\n\"}\n      diff: true\n    - name: third\n      copy: {dest: \"{{ root }}/f\", content: \"three\\n\"}\n    - name: bad\n      debug: msg=x\n      diff: yes.\n      ignore_errors: true\n",
        )],
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.dump());
    let has_diff = |t: &str| r.of(t)[0]["diff"].as_array().is_some_and(|d| !d.is_empty());
    assert_eq!((has_diff("first"), has_diff("second"), has_diff("third")), (false, true, false), "{}", r.dump());
    assert_eq!(
        r.of("bad")[0]["msg"],
        "Task failed: Error processing keyword 'diff': The value 'yes.' could not be converted to 'bool'.",
        "{}",
        r.dump()
    );
    assert_eq!(std::fs::read_to_string(d.path().join("f")).unwrap(), "three\n");
}

/// A play's `check_mode` reaches its tasks (a task's own wins), and a task's
/// `check_mode`/`become` of `{{ omit }}` is not set, as in ansible-core 2.19, whose run of the
/// same play gives these values (`ansible_check_mode` stays the command line's). prov refused
/// the play keyword and the omitted values.
#[test]
fn play_check_mode_and_omitted_task_keywords() {
    let site = r#"- hosts: a
  gather_facts: false
  check_mode: true
  tasks:
    - name: play
      command: echo ran
      register: r1
    - name: omitted
      command: echo ran
      check_mode: "{{ omit }}"
      become: "{{ omit }}"
      register: r2
    - name: task wins
      command: echo ran
      check_mode: false
      register: r3
    - name: show
      debug:
        msg: "{{ [r1.msg, r2.msg, r3.stdout, ansible_check_mode] }}"
"#;
    let (_d, r) = apply(&[("site.yml", site)], &[]);
    assert_eq!(r.code, 0, "{}", r.dump());
    let would = "Command would have run if not in check mode";
    let shown: Json = serde_json::from_str(r.of("show")[0]["msg"].as_str().expect("msg")).expect("a list");
    assert_eq!(shown, serde_json::json!([would, would, "ran", false]), "{}", r.dump());
    assert_eq!(r.recap("a", "changed"), 1, "{}", r.dump());
    assert_eq!(r.recap("a", "skipped"), 2, "{}", r.dump());
}

/// `vars_files` entries that are templates or lists of candidates are read per host, the
/// first candidate that exists winning, and an entry reading an undefined name is skipped, as
/// in ansible-core 2.19 (its run of the same play: a `[1, true]`, b `[1, false]`). prov
/// refused every entry that was not a plain file name. Host c is outside the play: its
/// missing file does not matter.
#[test]
fn vars_files_templated_names_and_first_found_lists() {
    let site = r#"- hosts: all:!out
  gather_facts: false
  vars:
    names: ['vars/{{ foo }}.yml', 'vars/defaults.yml']
  vars_files:
    - vars/common.yml
    - ["vars/{{ foo }}.yml", vars/defaults.yml]
    - "vars/{{ nowhere_defined }}.yml"
    - "{{ lookup('first_found', names) }}"
  tasks:
    - name: show
      debug:
        msg: "{{ [common, is_bar] }}"
"#;
    let files = [
        ("site.yml", site),
        ("hosts.ini", "a foo=bar ansible_connection=local\nb foo=baz ansible_connection=local\n[out]\nc foo=nofile\n"),
        ("vars/bar.yml", "is_bar: yes\n"),
        ("vars/defaults.yml", "is_bar: no\n"),
        ("vars/common.yml", "common: 1\n"),
    ];
    let (_d, r) = apply(&files, &[]);
    assert_eq!(r.code, 0, "{}", r.dump());
    let msg = |h: &str| r.of("show").iter().find(|e| e["host"] == h).map(|e| e["msg"].clone());
    assert_eq!(msg("a"), Some(Json::from("[1,true]")), "{}", r.dump());
    assert_eq!(msg("b"), Some(Json::from("[1,false]")), "{}", r.dump());
    assert!(r.stderr.contains("skipping vars_files item due to an undefined variable"), "{}", r.dump());
}

/// A file `include_tasks` pulls in that is no list of tasks fails the host that reaches the
/// include, and only then: ansible-core 2.19 runs `before`, fails the include ("included
/// task files must contain a list of tasks"), exits 2 with ok=1 failed=1 skipped=1. An include of it
/// inside a dynamically included file that a failing task stops first is never reached
/// (ansible-core's include_when_parent_is_dynamic). prov refused the playbook.
#[test]
fn an_included_file_that_is_no_task_list_fails_when_reached() {
    let site = r#"- hosts: a
  gather_facts: false
  tasks:
    - name: before
      debug: msg=before
    - name: nested
      include_tasks: outer.yml
      when: false
    - include_tasks: bad.yml
    - name: after
      debug: msg=after
"#;
    let files =
        [("site.yml", site), ("bad.yml", "intentional syntax error\n"), ("outer.yml", "- include_tasks: bad.yml\n")];
    let (_d, r) = apply(&files, &[]);
    assert_eq!(r.code, 2, "{}", r.dump());
    assert_eq!(r.recap("a", "ok"), 1, "{}", r.dump());
    assert_eq!(r.recap("a", "failed"), 1, "{}", r.dump());
    assert_eq!(r.recap("a", "skipped"), 1, "{}", r.dump());
    assert!(r.of("after").is_empty(), "{}", r.dump());
    assert!(r.dump().contains("included task files must contain a list of tasks"), "{}", r.dump());
}

/// `loop_control.break_when` ends a loop after the first item for which it holds; it sees
/// the item and the item's result under the `register` name, also for a skipped item.
/// ansible-core 2.19's run of the same play shows `[["n1","n2"],["m1","m2","m3"],2]`; prov
/// refused the keyword.
#[test]
fn loop_control_break_when_ends_the_loop() {
    let site = r#"- hosts: a
  gather_facts: false
  tasks:
    - name: loop
      debug: msg="n{{ item }}"
      loop: [1, 2, 3, 4]
      loop_control:
        break_when:
          - item >= 2
      register: r
    - name: by result
      debug: msg="m{{ item }}"
      loop: [1, 2, 3, 4]
      loop_control:
        break_when: res.msg == 'm3'
      register: res
    - name: skipped items
      debug: msg="s{{ item }}"
      loop: [1, 2, 3, 4]
      when: item > 5
      loop_control:
        break_when: item == 2
      register: sk
    - name: show
      debug:
        msg: "{{ [r.results | map(attribute='msg'), res.results | map(attribute='msg'), sk.results | length] }}"
"#;
    let (_d, r) = apply(&[("site.yml", site)], &[]);
    assert_eq!(r.code, 0, "{}", r.dump());
    let shown: Json = serde_json::from_str(r.of("show")[0]["msg"].as_str().expect("msg")).expect("a list");
    assert_eq!(shown, serde_json::json!([["n1", "n2"], ["m1", "m2", "m3"], 2]), "{}", r.dump());
}

/// A templated `serial` is rendered with the play's vars when the play starts, and `omit` is
/// no serial, as in ansible-core 2.19 (its omit target's 48673.yml): its run of the same
/// plays shows batches `[a]`, `[b]`, then `[a, b]` on both hosts. prov refused the template.
#[test]
fn templated_serial_and_omitted_serial() {
    let site = r#"- hosts: g1
  gather_facts: false
  vars:
    n: 1
  serial: "{{ n }}"
  tasks:
    - name: batch
      debug:
        msg: "{{ ansible_play_batch }}"
- hosts: g1
  gather_facts: false
  serial: "{{ nothing | default(omit) }}"
  tasks:
    - name: whole
      debug:
        msg: "{{ ansible_play_batch }}"
"#;
    let (_d, r) = apply(&[("site.yml", site)], &[]);
    assert_eq!(r.code, 0, "{}", r.dump());
    let msg = |task: &str, h: &str| r.of(task).iter().find(|e| e["host"] == h).map(|e| e["msg"].clone());
    assert_eq!(msg("batch", "a"), Some(Json::from(r#"["a"]"#)), "{}", r.dump());
    assert_eq!(msg("batch", "b"), Some(Json::from(r#"["b"]"#)), "{}", r.dump());
    assert_eq!(msg("whole", "a"), Some(Json::from(r#"["a","b"]"#)), "{}", r.dump());
    assert_eq!(msg("whole", "b"), Some(Json::from(r#"["a","b"]"#)), "{}", r.dump());
}

/// `environment` of a play, block and task add up (the inner winning key by key), and a list
/// of mappings is merged with omitted entries and values left out: ansible-core 2.19 printed
/// "play task block task" and "IAMHERE = hello; NOTHERE = ; ANOTHER = stillhere". prov used
/// only the innermost mapping, and read a list as no environment at all.
#[test]
fn environment_of_play_block_and_task_add_up_and_lists_merge() {
    let site = r#"- hosts: a
  gather_facts: false
  environment: {P: play, Q: play}
  tasks:
    - block:
        - name: nested
          shell: echo "$P $Q $B $T"
          environment: {T: task, Q: task}
      environment: {B: block}
    - name: list
      shell: echo "IAMHERE = $IAMHERE; NOTHERE = $NOTHERE; ANOTHER = $ANOTHER"
      environment:
        - NOTHERE: '{{ omit }}'
          IAMHERE: hello
        - '{{ omit }}'
        - ANOTHER: stillhere
"#;
    let (_d, r) = apply(&[("site.yml", site)], &[]);
    assert_eq!(r.code, 0, "{}", r.dump());
    assert_eq!(r.of("nested")[0]["stdout"], "play task block task", "{}", r.dump());
    assert_eq!(r.of("list")[0]["stdout"], "IAMHERE = hello; NOTHERE = ; ANOTHER = stillhere", "{}", r.dump());
}

/// A templated `hosts` is rendered with the play's vars and `-e` (ansible-core's hosts_field
/// target: `hosts: "{{ target_kv }}"` with `-e target_kv=42`); prov read it as a pattern and
/// refused the `{`.
#[test]
fn templated_hosts_render_with_play_vars_and_extra_vars() {
    let site = r#"- hosts: "{{ target }}"
  gather_facts: false
  tasks:
    - name: one
      debug: msg=x
- hosts: "{{ both }}"
  gather_facts: false
  vars:
    both: [a, c]
  tasks:
    - name: two
      debug: msg=y
"#;
    let (_d, r) = apply(&[("site.yml", site)], &["-e", "target=b"]);
    assert_eq!(r.code, 0, "{}", r.dump());
    let hosts = |t: &str| r.of(t).iter().map(|e| e["host"].as_str().unwrap_or("").to_string()).collect::<Vec<_>>();
    assert_eq!(hosts("one"), ["b"]);
    assert_eq!(hosts("two"), ["a", "c"]);
}

/// Under `--diff`, `copy` shows neither side of a file larger than ansible-core's
/// `max_diff_size` (104448 bytes) or holding a NUL byte (for the destination: in its first
/// 8 KiB), and registers why. The literals are ansible-core 2.19's registered diffs for the
/// same files; prov registered and printed both whole files.
#[test]
fn copy_diff_leaves_out_large_and_binary_sides_as_ansible_core() {
    let site = r#"- hosts: a
  gather_facts: false
  tasks:
    - {name: r1, copy: {src: big.txt, dest: "{{ root }}/out/big.txt"}, register: r1}
    - {name: r2, copy: {src: bin.dat, dest: "{{ root }}/out/bin.dat"}, register: r2}
    - {name: r3, copy: {src: small.txt, dest: "{{ root }}/out/big.txt"}, register: r3}
    - {name: r4, copy: {src: big.txt, dest: "{{ root }}/out/bin.dat"}, register: r4}
    - {name: show, debug: {msg: "{{ [r1.diff, r2.diff, r3.diff, r4.diff] }}"}}
"#;
    let (dir, _) = apply(&[("site.yml", site), ("small.txt", "small\n")], &["--check"]);
    let root = dir.path().display().to_string();
    std::fs::create_dir(dir.path().join("out")).expect("mkdir");
    std::fs::write(dir.path().join("big.txt"), "0123456789abcdef\n".repeat(12_000)).expect("write");
    std::fs::write(dir.path().join("bin.dat"), b"head\0tail\n").expect("write");
    let r = run_in(dir.path(), &["--diff"]);
    assert_eq!(r.code, 0, "{}", r.dump());
    let want = serde_json::json!([
        [{"before": "", "src_larger": 104448}],
        [{"before": "", "src_binary": 1}],
        [{"after": "small\n", "after_header": format!("{root}/small.txt"), "dst_larger": 104448}],
        [{"dst_binary": 1, "src_larger": 104448}],
    ]);
    let got: Json = serde_json::from_str(r.of("show")[0]["msg"].as_str().expect("msg")).expect("json");
    assert_eq!(got, want, "{}", r.dump());
    let shown = |t: &str| r.of(t)[0]["diff"][0]["skipped"].clone();
    assert_eq!(shown("r1"), serde_json::json!(["source file size is greater than 104448"]));
    assert_eq!(shown("r2"), serde_json::json!(["source file appears to be binary"]));
    assert_eq!(shown("r3"), serde_json::json!(["destination file size is greater than 104448"]));
    assert_eq!(
        shown("r4"),
        serde_json::json!(["destination file appears to be binary", "source file size is greater than 104448"])
    );
}

/// `copy` and `template` register the SHA-1 of the file as `checksum`, changed or not
/// (ansible-core 2.19: f572d396... for "hello\n"); prov registered its SHA-256.
#[test]
fn copy_and_template_register_the_sha1_checksum() {
    let site = r#"- hosts: a
  gather_facts: false
  tasks:
    - copy: {content: "hello\n", dest: "{{ root }}/c1"}
      register: c
    - template: {src: t.j2, dest: "{{ root }}/c2"}
      register: t
    - copy: {content: "hello\n", dest: "{{ root }}/c1"}
      register: c2
    - name: show
      debug:
        msg: "{{ [c.checksum, t.checksum, c2.checksum] | to_json }}"
"#;
    let (_d, r) = apply(&[("site.yml", site), ("templates/t.j2", "hello\n")], &[]);
    assert_eq!(r.code, 0, "{}", r.dump());
    let want = "f572d396fae9206628714fb2ce00f72e94f2258f";
    let shown: Json = serde_json::from_str(r.of("show")[0]["msg"].as_str().expect("msg")).expect("a list");
    assert_eq!(shown, serde_json::json!([want, want, want]), "{}", r.dump());
}

/// `meta: end_role` (ansible-core 2.18+): the rest of the role, its `always` too, is skipped
/// for the host, which completes the role (a second `roles:` entry of it does not run again);
/// recaps as ansible-core 2.19.14 gave them for the same play.
#[test]
fn end_role_skips_the_rest_of_the_role_for_the_host() {
    let role = r#"- debug: {msg: "first on {{ inventory_hostname }}"}
- block:
    - meta: end_role
      when: inventory_hostname == 'a'
  always:
    - name: always
      debug: {msg: "always on {{ inventory_hostname }}"}
- name: after
  debug: {msg: "after on {{ inventory_hostname }}"}
"#;
    let site =
        "- hosts: g1\n  gather_facts: false\n  roles: [r, r]\n  tasks:\n    - name: play\n      debug: {msg: play}\n";
    let files = [
        ("site.yml", site),
        ("roles/r/tasks/main.yml", role),
        ("roles/r/meta/main.yml", "dependencies: [dep]\n"),
        ("roles/dep/tasks/main.yml", "- debug: {msg: dep}\n"),
    ];
    let (_d, r) = apply(&files, &[]);
    assert_eq!(r.code, 0, "{}", r.dump());
    let hosts =
        |task: &str| r.of(task).iter().map(|e| e["host"].as_str().unwrap_or("").to_string()).collect::<Vec<_>>();
    assert_eq!((hosts("always"), hosts("after")), (vec!["b".to_string()], vec!["b".to_string()]));
    assert_eq!(hosts("play").len(), 2);
    assert_eq!((r.recap("a", "ok"), r.recap("b", "ok"), r.recap("b", "skipped")), (3, 5, 0));
}

/// A run where a host was unreachable exits 4, as ansible-playbook does, also when another
/// host failed (ansible-core 2.19.14 gave 4 for this play and inventory; prov gave 2, and 3
/// without the failure).
#[test]
fn unreachable_hosts_exit_4_even_beside_failures() {
    let site = "- hosts: a:bad\n  gather_facts: false\n  tasks:\n    - command: /bin/false\n      when: inventory_hostname == 'a'\n    - command: echo hi\n";
    let extra = "bad ansible_host=127.0.0.1 ansible_port=9 ansible_connection=ssh\n";
    let (_d, r) = apply(&[("site.yml", site), ("extra.ini", extra)], &["-i", "extra.ini"]);
    assert_eq!(r.code, 4, "{}", r.dump());
    assert_eq!((r.recap("a", "failed"), r.recap("bad", "unreachable")), (1, 1), "{}", r.dump());
}

/// `ignore_unreachable` (task, block or play): an unreachable result counts ok and ignored and
/// the host goes on; it registers `unreachable: true` without `failed`. Recaps as
/// ansible-core 2.19.14 gave them for the same play (a closed port on loopback).
#[test]
fn ignore_unreachable_counts_ok_and_ignored_and_the_host_goes_on() {
    let site = r#"- hosts: a:bad
  gather_facts: false
  tasks:
    - name: try
      command: echo hi
      ignore_unreachable: true
      register: r
    - name: show
      debug: {msg: "{{ [r is unreachable, r is failed, r.changed] | to_json }}"}
    - name: again
      command: echo again
- hosts: a:bad
  gather_facts: false
  ignore_unreachable: true
  tasks:
    - name: p2
      command: echo p2
"#;
    let extra = "bad ansible_host=127.0.0.1 ansible_port=9 ansible_connection=ssh\n";
    let (_d, r) = apply(&[("site.yml", site), ("extra.ini", extra)], &["-i", "extra.ini"]);
    assert_eq!(r.code, 4, "{}", r.dump());
    let on_bad = r.of("show").into_iter().find(|e| e["host"] == "bad").cloned().expect("show on bad");
    assert_eq!(on_bad["msg"], "[true, false, false]");
    let recap = |h: &str| ["ok", "unreachable", "ignored"].map(|f| r.recap(h, f));
    assert_eq!((recap("a"), recap("bad")), ([4, 0, 0], [2, 1, 1]));
    assert!(r.of("p2").iter().all(|e| e["host"] == "a"), "an unreachable host sits out the later plays");
}

/// A play's `ignore_unreachable` covers its fact gathering too: ansible-core 2.19.14 shows
/// the unreachable gathering as ignored, runs the play's tasks and the next play on the host,
/// and recaps `ok=3 unreachable=0 ignored=1`.
#[test]
fn a_plays_ignore_unreachable_covers_fact_gathering() {
    let site = r#"- hosts: bad
  ignore_unreachable: true
  gather_facts: true
  tasks:
    - name: after
      debug: {msg: after}
- hosts: bad
  gather_facts: false
  tasks:
    - name: second
      debug: {msg: second}
"#;
    let extra = "bad ansible_host=127.0.0.1 ansible_port=9 ansible_connection=ssh\n";
    let (_d, r) = apply(&[("site.yml", site), ("extra.ini", extra)], &["-i", "extra.ini"]);
    assert_eq!(r.code, 0, "{}", r.dump());
    assert_eq!((r.of("after").len(), r.of("second").len()), (1, 1), "{}", r.dump());
    let recap = ["ok", "unreachable", "ignored"].map(|f| r.recap("bad", f));
    assert_eq!(recap, [3, 0, 1], "{}", r.dump());
}

/// Fact gathering is the play's first task for `any_errors_fatal`: a host that cannot gather
/// ends the play before any host runs a task, and the run (ansible-core 2.19.14: `a` ok=1,
/// the unreachable host unreachable=1, no task and no later play ran).
#[test]
fn a_host_that_cannot_gather_under_any_errors_fatal_ends_the_run() {
    let site = r#"- hosts: a:bad
  any_errors_fatal: true
  tasks:
    - name: after
      debug: {msg: after}
- hosts: a
  gather_facts: false
  tasks:
    - name: next play
      debug: {msg: p2}
"#;
    let extra = "bad ansible_host=127.0.0.1 ansible_port=9 ansible_connection=ssh\n";
    let (_d, r) = apply(&[("site.yml", site), ("extra.ini", extra)], &["-i", "extra.ini"]);
    assert_ne!(r.code, 0, "{}", r.dump());
    assert_eq!((r.of("after").len(), r.of("next play").len()), (0, 0), "{}", r.dump());
    assert_eq!([r.recap("a", "ok"), r.recap("bad", "unreachable")], [1, 1], "{}", r.dump());
}

/// As ansible-core: a batch whose hosts all failed or became unreachable ends the run (no
/// later batch, no later play), `max_fail_percentage` counts failed hosts and not unreachable
/// ones, and the recap lists the hosts something happened on, sorted. Recaps as ansible-core
/// 2.19.14 gave them for the same plays.
#[test]
fn a_batch_that_all_failed_ends_the_run_and_unreachable_hosts_are_no_failures() {
    let extra = "bad1 ansible_host=127.0.0.1 ansible_port=9 ansible_connection=ssh\n\
                 bad2 ansible_host=127.0.0.1 ansible_port=9 ansible_connection=ssh\n";
    let run = |site: &str| apply(&[("site.yml", site), ("extra.ini", extra)], &["-i", "extra.ini"]).1;
    // serial 1, the first host unreachable: nothing else runs.
    let r = run("- hosts: bad1:a:b\n  serial: 1\n  gather_facts: false\n  tasks:\n    - command: 'true'\n- hosts: a\n  gather_facts: false\n  tasks:\n    - name: p2\n      debug: {msg: p2}\n");
    assert_eq!(r.recap("bad1", "unreachable"), 1, "{}", r.dump());
    assert!(r.results().iter().all(|e| e["host"] == "bad1"), "{}", r.dump());
    assert_eq!(r.recap_hosts(), ["bad1"], "ansible-core lists only the host that ran");
    // Every host of the only batch failed: the next play does not run.
    let r = run("- hosts: a\n  gather_facts: false\n  tasks:\n    - fail: {msg: x}\n- hosts: b\n  gather_facts: false\n  tasks:\n    - name: p2\n      debug: {msg: p2}\n");
    assert_eq!((r.recap("a", "failed"), r.of("p2").len()), (1, 0), "{}", r.dump());
    // Half unreachable under max_fail_percentage 25: the others go on, the next play runs.
    let r = run("- hosts: a:b:bad1:bad2\n  max_fail_percentage: 25\n  gather_facts: false\n  tasks:\n    - command: 'true'\n    - name: after\n      debug: {msg: after}\n- hosts: a\n  gather_facts: false\n  tasks:\n    - name: p2\n      debug: {msg: p2}\n");
    assert_eq!((r.of("after").len(), r.of("p2").len()), (2, 1), "{}", r.dump());
    assert_eq!(r.recap_hosts(), ["a", "b", "bad1", "bad2"], "sorted, as ansible-core's recap");
}

/// An `until` condition sees the attempts so far (`r.attempts`), and an unnamed task that
/// failed is `ansible_failed_task` with an empty name: ansible-core 2.19.14 printed `2` and
/// `rescued boom b ` for the same play (prov retried until the end, and named it `fail`).
#[test]
fn until_sees_the_attempts_and_an_unnamed_failed_task_has_no_name() {
    let site = r#"- hosts: a:b
  gather_facts: false
  tasks:
    - shell: "echo {{ inventory_hostname }}"
      register: r
      until: r.attempts >= 2
      retries: 3
      delay: 0
      changed_when: false
    - name: attempts
      debug: {msg: "{{ r.attempts }}"}
    - block:
        - fail: {msg: "boom {{ inventory_hostname }}"}
          when: inventory_hostname == 'b'
      rescue:
        - name: rescued
          debug: {msg: "rescued {{ ansible_failed_result.msg }} {{ ansible_failed_task.name | default('') }}"}
"#;
    let (_d, r) = apply(&[("site.yml", site)], &[]);
    assert_eq!(r.code, 0, "{}", r.dump());
    let msgs = |task: &str| r.of(task).iter().map(|e| e["msg"].to_string()).collect::<Vec<_>>();
    assert_eq!(msgs("attempts"), ["\"2\"", "\"2\""], "{}", r.dump());
    assert_eq!(msgs("rescued"), ["\"rescued boom b \""], "{}", r.dump());
}

/// An ignored failure that changed something counts `changed` too, and a later play's
/// `ansible_play_hosts_all` still names a host that failed before (ansible-core 2.19.14:
/// recap a ok=3 changed=1 ignored=1, b failed=1; `['a', 'b', 'c'] ['a', 'c']`).
#[test]
fn an_ignored_change_counts_and_play_hosts_all_keeps_failed_hosts() {
    let site = r#"- hosts: a:b:c
  gather_facts: false
  tasks:
    - command: "echo {{ inventory_hostname }}"
      register: out
      failed_when: inventory_hostname == 'a'
      ignore_errors: true
    - command: "false"
      when: inventory_hostname == 'b'
    - name: end
      debug: {msg: end}
- hosts: a:b:c
  gather_facts: false
  tasks:
    - name: p2
      debug: {msg: "{{ ansible_play_hosts_all }} {{ ansible_play_hosts }}"}
      run_once: true
"#;
    let (_d, r) = apply(&[("site.yml", site)], &[]);
    assert_eq!(r.code, 2, "{}", r.dump());
    let counts = |h: &str| ["ok", "changed", "ignored", "failed"].map(|f| r.recap(h, f));
    assert_eq!((counts("a"), counts("b")), ([3, 1, 1, 0], [1, 1, 0, 1]), "{}", r.dump());
    assert_eq!(r.of("p2")[0]["msg"], "['a', 'b', 'c'] ['a', 'c']", "{}", r.dump());
}

/// A host that ran `meta: end_host` leaves `ansible_play_hosts` as a failed one does
/// (ansible-core 2.19.14 printed `['b']` where c failed and a ended; prov kept a).
#[test]
fn a_host_that_ended_leaves_the_play_hosts() {
    let site = r#"- hosts: a:b:c
  gather_facts: false
  tasks:
    - fail: {msg: x}
      when: inventory_hostname == 'c'
    - meta: end_host
      when: inventory_hostname == 'a'
    - name: three
      debug: {msg: "{{ ansible_play_hosts }} {{ ansible_play_batch }}"}
"#;
    let (_d, r) = apply(&[("site.yml", site)], &[]);
    assert_eq!(r.code, 2, "{}", r.dump());
    let three: Vec<_> = r.of("three").iter().map(|e| (e["host"].clone(), e["msg"].clone())).collect();
    assert_eq!(three, [("b".into(), "['b'] ['b']".into())], "{}", r.dump());
}

/// `include_role`/`import_role` with `tasks_from`, `vars_from`, `defaults_from` and
/// `handlers_from` load those files of the role instead of `main` (as ansible-core 2.19.14 ran
/// the same play: `alt v=other d=other`, the h2 handler, then `main v=other d=main`).
#[test]
fn role_files_from_options_replace_main() {
    let site = "- hosts: a\n  gather_facts: false\n  tasks:\n    - include_role: {name: r, tasks_from: alt, vars_from: other, defaults_from: other, handlers_from: h2}\n- hosts: a\n  gather_facts: false\n  tasks:\n    - import_role: {name: r, vars_from: other.yml, handlers_from: h2.yml}\n";
    let task = |name: &str| {
        format!("- name: {name}\n  debug: {{msg: \"{name} v={{{{ v }}}} d={{{{ d }}}}\"}}\n  changed_when: true\n  notify: h\n")
    };
    let (main, alt) = (task("main"), task("alt"));
    let files = [
        ("site.yml", site),
        ("roles/r/tasks/main.yml", main.as_str()),
        ("roles/r/tasks/alt.yml", alt.as_str()),
        ("roles/r/vars/main.yml", "v: main\n"),
        ("roles/r/vars/other.yml", "v: other\n"),
        ("roles/r/defaults/main.yml", "d: main\n"),
        ("roles/r/defaults/other.yaml", "d: other\n"),
        ("roles/r/handlers/main.yml", "- name: h\n  debug: {msg: main handler}\n"),
        ("roles/r/handlers/h2.yml", "- name: h\n  debug: {msg: h2 handler}\n"),
    ];
    let (_d, r) = apply(&files, &[]);
    assert_eq!(r.code, 0, "{}", r.dump());
    let msgs: Vec<String> = r.results().iter().filter_map(|e| e["msg"].as_str().map(str::to_string)).collect();
    assert_eq!(
        msgs,
        ["included: r", "alt v=other d=other", "h2 handler", "main v=other d=main", "h2 handler"],
        "{}",
        r.dump()
    );
    assert_eq!((r.recap("a", "ok"), r.recap("a", "changed")), (5, 2));
    let missing = "- hosts: a\n  gather_facts: false\n  tasks:\n    - include_role: {name: r, vars_from: nope}\n";
    let (_d, r) = apply(&[("site.yml", missing), ("roles/r/tasks/main.yml", "- meta: noop\n")], &[]);
    assert_eq!(r.code, 4, "{}", r.dump());
    assert!(r.stderr.contains("Could not find specified file in role: vars/nope"), "{}", r.stderr);
}

/// A play's `become_user` applies to a task that turns `become` on, and `become` may be a
/// template, rendered per host and item (ansible-core 2.19.14 printed the same users for the
/// same play: prov dropped the play's `become_user` and refused the templates).
#[test]
fn templated_become_and_a_play_become_user_apply_as_ansible_core() {
    let site = r#"- hosts: a
  gather_facts: false
  become_user: nobody
  vars:
    yes_please: "{{ 1 == 1 }}"
    nope: false
  tasks:
    - raw: id -un
      become: true
      register: r0
    - raw: id -un
      become: "{{ yes_please }}"
      register: r1
    - raw: id -un
      become: "{{ nope }}"
      register: r2
    - block:
        - raw: id -un
          register: r3
      become: "{{ yes_please }}"
    - raw: id -un
      become: "{{ item }}"
      loop: [true, false]
      register: r4
    - name: show
      debug: {msg: "{{ [r0.stdout | trim, r1.stdout | trim, r2.stdout | trim, r3.stdout | trim, r4.results | map(attribute='stdout') | map('trim') | list] | to_json }}"}
"#;
    let (_d, r) = apply(&[("site.yml", site)], &[]);
    assert_eq!(r.code, 0, "{}", r.dump());
    assert_eq!(r.of("show")[0]["msg"], r#"["nobody", "nobody", "root", "nobody", ["nobody", "root"]]"#);
}

/// `include_tasks` with `apply`: its keywords make a block around the included tasks, so
/// `--tags` reaches them through it. ansible-core 2.19.14 printed these messages for the same
/// files.
#[test]
fn include_tasks_apply_gives_its_keywords_to_the_included_tasks() {
    let files = [
        (
            "site.yml",
            "- hosts: a\n  gather_facts: false\n  tasks:\n    - include_tasks:\n        file: inc.yml\n        apply:\n          tags: [inst]\n          vars: {who: applied}\n          when: go | default(true)\n      tags: [inst]\n    - include_tasks: inc.yml\n      vars: {who: plain}\n    - debug: msg=after\n",
        ),
        ("inc.yml", "- debug: msg=\"inner {{ who }}\"\n- debug: msg=\"tagged other {{ who }}\"\n  tags: [other]\n"),
    ];
    let msgs = |args: &[&str]| {
        let (_d, r) = apply(&files, args);
        let m: Vec<String> = r.of("debug").iter().filter_map(|x| x["msg"].as_str().map(str::to_string)).collect();
        (r.code, m, r.dump())
    };
    let (code, m, dump) = msgs(&[]);
    assert_eq!(code, 0, "{dump}");
    assert_eq!(m, ["inner applied", "tagged other applied", "inner plain", "tagged other plain", "after"], "{dump}");
    let (code, m, dump) = msgs(&["--tags", "inst"]);
    assert_eq!(code, 0, "{dump}");
    assert_eq!(m, ["inner applied", "tagged other applied"], "{dump}");
    let (_, m, dump) = msgs(&["--tags", "other"]);
    assert!(m.is_empty(), "{dump}");
    let (_d, r) = apply(&files, &["-e", "go=false"]);
    assert_eq!(r.code, 2, "{}", r.dump());
    let failed = r.results().into_iter().find(|x| x["status"] == "failed").cloned().expect("failed");
    assert!(failed["msg"].as_str().unwrap_or_default().contains("Conditionals must have a boolean result"), "{failed}");
}

#[test]
fn include_tasks_apply_takes_block_keywords_only() {
    let (_d, r) = apply(
        &[
            ("site.yml", "- hosts: a\n  gather_facts: false\n  tasks:\n    - include_tasks:\n        file: inc.yml\n        apply: {loop: [1]}\n"),
            ("inc.yml", "- debug: msg=x\n"),
        ],
        &[],
    );
    assert_eq!(r.code, 4, "{}", r.dump());
    assert!(r.stderr.contains("site.yml:6:17"), "{}", r.stderr);
}

/// `include_role` with `apply`: the role's tasks and handlers get its keywords (ansible-core
/// 2.19.14 ran the task and the handler with `--tags x`, and printed these messages).
#[test]
fn include_role_apply_reaches_the_roles_tasks_and_handlers() {
    let files = [
        (
            "site.yml",
            "- hosts: a\n  gather_facts: false\n  tasks:\n    - include_role:\n        name: r\n        apply:\n          tags: [x]\n          vars: {who: applied}\n      tags: [x]\n    - debug: msg=after\n",
        ),
        ("roles/r/tasks/main.yml", "- debug: msg=\"role {{ who }}\"\n  changed_when: true\n  notify: h\n"),
        ("roles/r/handlers/main.yml", "- name: h\n  debug: msg=\"handler {{ who }}\"\n"),
    ];
    for (args, want) in [
        (&[][..], &["role applied", "after", "handler applied"][..]),
        (&["--tags", "x"][..], &["role applied", "handler applied"][..]),
    ] {
        let (_d, r) = apply(&files, args);
        assert_eq!(r.code, 0, "{}", r.dump());
        let m: Vec<&str> =
            r.results().iter().filter(|x| x["module"] == "debug").filter_map(|x| x["msg"].as_str()).collect();
        assert_eq!(m, want, "{args:?}: {}", r.dump());
    }
}

/// Facts a task delegates (`delegate_facts`) reach the delegated host before its next task,
/// also when that host skipped the task and got there first; a templated `delegate_facts` is
/// read when the task runs, one that renders to `omit` is false. ansible-core 2.19.14 printed
/// the same for these plays.
#[test]
fn delegated_facts_reach_the_delegate_and_delegate_facts_may_be_a_template() {
    let play = |df: &str, flag: bool| {
        format!(
            "- hosts: a,b\n  gather_facts: false\n  vars:\n    flag: {flag}\n  tasks:\n    - setup: {{filter: ansible_hostname, gather_subset: \"!all\"}}\n      delegate_to: b\n      delegate_facts: {df}\n      when: inventory_hostname == 'a'\n    - debug: msg=\"{{{{ ansible_facts.hostname is defined }}}}\"\n"
        )
    };
    for (df, flag, on_a, on_b) in [
        ("true", true, "false", "true"),
        ("\"{{ flag }}\"", false, "true", "false"),
        ("\"{{ flag }}\"", true, "false", "true"),
        ("\"{{ true if flag else omit }}\"", false, "true", "false"),
        ("\"{{ true if flag else omit }}\"", true, "false", "true"),
    ] {
        let (_d, r) = apply(&[("site.yml", &play(df, flag))], &[]);
        assert_eq!(r.code, 0, "{}", r.dump());
        let shown = |h: &str| {
            r.of("debug").iter().find(|x| x["host"] == h).map(|x| x["msg"].as_str().unwrap_or_default().to_string())
        };
        assert_eq!(
            (shown("a").as_deref(), shown("b").as_deref()),
            (Some(on_a), Some(on_b)),
            "{df} {flag}: {}",
            r.dump()
        );
    }
}

/// `delegate_facts` on a block reaches its tasks, and `hostvars['localhost']` names the
/// implicit localhost, as in ansible-core's `delegate_to/delegate_facts_block.yml`.
#[test]
fn delegate_facts_on_a_block_and_hostvars_of_the_implicit_localhost() {
    let (_d, r) = apply(
        &[(
            "site.yml",
            "- hosts: a\n  gather_facts: false\n  tasks:\n    - set_fact: qq1=333\n      delegate_facts: true\n      delegate_to: localhost\n    - block:\n        - set_fact: qq2=333\n      delegate_facts: true\n      delegate_to: localhost\n    - assert:\n        that:\n          - qq1 is undefined and qq2 is undefined\n          - \"'qq1' in hostvars['localhost'] and hostvars['localhost'].qq2 == '333'\"\n",
        )],
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.dump());
}

/// Fact gathering runs with the play's `environment`, leaving out a variable that reads
/// `ansible_env` (which gathering makes), as ansible-core's `environment/test_environment.yml`
/// expects; ansible-core 2.19.14 printed these for the same play.
#[test]
fn fact_gathering_runs_with_the_plays_environment_but_not_what_reads_ansible_env() {
    let (_d, r) = apply(
        &[(
            "site.yml",
            "- hosts: a\n  gather_facts: false\n  tasks:\n    - command: echo $PATH\n      register: target_path\n- hosts: a\n  environment:\n    PATH: '{{ansible_env.PATH + \":/lola\"}}'\n    lola: 'ido'\n  tasks:\n    - debug: msg=\"{{ target_path.stdout == ansible_env.PATH }} {{ '/lola' not in ansible_env.PATH }} {{ ansible_env.lola }}\"\n    - command: printenv lola\n      register: l\n    - debug: msg=\"{{ l.stdout }}\"\n",
        )],
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.dump());
    let shown: Vec<&str> = r.of("debug").iter().filter_map(|x| x["msg"].as_str()).collect();
    assert_eq!(shown, ["True True ido", "ido"], "{}", r.dump());
}

/// An `include_tasks` without a file name is an error with ansible-core's words ("No file
/// specified for ..."), also in a file another include brings in.
#[test]
fn an_include_without_a_file_name_is_refused_with_ansible_cores_words() {
    let (_d, r) = apply(
        &[
            ("site.yml", "- hosts: a\n  gather_facts: false\n  tasks:\n    - ansible.builtin.include_tasks:\n        file: inc.yml\n"),
            ("inc.yml", "- ping:\n- name: invalid include_task definition\n  ansible.builtin.include_tasks:\n"),
        ],
        &[],
    );
    assert_eq!(r.code, 4, "{}", r.dump());
    assert!(r.stderr.contains("No file specified for ansible.builtin.include_tasks"), "{}", r.stderr);
    assert!(r.results().is_empty(), "{}", r.dump());
}

/// An undefined value met through a variable defined by a template names the innermost
/// undefined variable, as ansible-core does (its `template/lazy_eval.yml`).
#[test]
fn an_undefined_message_names_the_innermost_undefined_variable() {
    let (_d, r) = apply(
        &[(
            "site.yml",
            "- hosts: a\n  gather_facts: false\n  vars:\n    deep_undefined: \"{{ nested_undefined_variable }}\"\n  tasks:\n    - raw: \"{{ deep_undefined }}\"\n      ignore_errors: true\n      register: res\n    - raw: \"echo {{ deep_undefined }}\"\n      ignore_errors: true\n      register: res2\n    - assert:\n        that:\n          - res.msg is contains(\"'nested_undefined_variable' is undefined\")\n          - res2.msg is contains(\"'nested_undefined_variable' is undefined\")\n",
        )],
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.dump());
}

/// Ansible's `vars`: every variable of the task's scope by name, also in `delegate_to`;
/// ansible-core 2.19.14 printed the same.
#[test]
fn vars_names_every_variable_of_the_scope() {
    let (_d, r) = apply(
        &[(
            "site.yml",
            "- hosts: a\n  gather_facts: false\n  vars:\n    app_x: 1\n    server_name: b\n  tasks:\n    - debug: msg=\"{{ vars['app_' + 'x'] }} {{ 'app_x' in vars }} {{ 'nope' in vars }} {{ vars.app_x }} {{ vars.inventory_hostname }}\"\n    - command: echo delegated\n      delegate_to: \"{{ vars['server_name'] }}\"\n",
        )],
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.dump());
    assert_eq!(r.of("debug")[0]["msg"], "1 True False 1 a", "{}", r.dump());
}

/// `lookup('template', ...)`: the file from `templates/`, rendered with the task's variables
/// (`template_vars` over them), an `{% include %}` found beside it (without its own trailing
/// line break);
/// ansible-core 2.19.14 gave the same strings.
#[test]
fn the_template_lookup_renders_a_file_with_the_tasks_variables() {
    let (_d, r) = apply(
        &[
            (
                "site.yml",
                "- hosts: a\n  gather_facts: false\n  vars:\n    who: world\n  tasks:\n    - debug: msg=\"{{ lookup('template', 't.j2') | to_json }}\"\n    - debug: msg=\"{{ lookup('template', 't.j2', template_vars=dict(who='tv')) | to_json }}\"\n    - debug: msg=\"{{ query('template', 't.j2') | length }}\"\n",
            ),
            ("templates/t.j2", "hello {{ who }}\n{% include 'inc.j2' %}"),
            ("templates/inc.j2", "line2\n"),
        ],
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.dump());
    let shown: Vec<&str> = r.of("debug").iter().filter_map(|x| x["msg"].as_str()).collect();
    // The included file's own trailing line break goes, as Jinja loads it in Ansible.
    assert_eq!(shown, [r#""hello world\nline2""#, r#""hello tv\nline2""#, "1"], "{}", r.dump());
}

/// A template the `template` module's template includes loses its own trailing line break, as
/// Jinja loads it in Ansible (ansible-core 2.19.14 wrote `hello world\nline2`, no final line
/// break, for these files); the top template keeps its own.
#[test]
fn an_included_template_loses_its_trailing_line_break_as_in_ansible() {
    let (d, r) = apply(
        &[
            ("site.yml", "- hosts: a\n  gather_facts: false\n  vars:\n    who: world\n  tasks:\n    - template: src=t.j2 dest={{ root }}/out.txt\n    - template: src=inc.j2 dest={{ root }}/top.txt\n"),
            ("templates/t.j2", "hello {{ who }}\n{% include 'inc.j2' %}"),
            ("templates/inc.j2", "line2\n"),
        ],
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.dump());
    assert_eq!(std::fs::read_to_string(d.path().join("out.txt")).expect("out"), "hello world\nline2");
    assert_eq!(std::fs::read_to_string(d.path().join("top.txt")).expect("top"), "line2\n");
}

/// ansible-core leaves out an argument whose value renders to `omit` before it checks the
/// module's arguments, so a role may pass one the module no longer has (nickjj.docker passes
/// docker_login's removed `email` that way): the task runs. When the value is not omitted, the
/// task fails at run time, as in ansible-core (whose message lists the supported parameters).
#[test]
fn an_unknown_argument_that_renders_to_omit_is_left_out() {
    let site = r#"- hosts: a
  gather_facts: false
  tasks:
    - stat: {path: /tmp, nosuch: "{{ undefined_x | default(omit) }}"}
      register: s1
    - stat: {path: /tmp, nosuch: "{{ 'x' | default(omit) }}"}
      register: s2
      ignore_errors: true
    - debug: {msg: "{{ [s1.stat.exists, s2.failed, s2.msg] | to_json }}"}
"#;
    let (_d, r) = apply(&[("site.yml", site)], &[]);
    assert_eq!(r.code, 0, "{}", r.dump());
    let shown = r.of("debug").last().and_then(|x| x["msg"].as_str()).expect("debug").to_string();
    let shown: Vec<serde_json::Value> = serde_json::from_str(&shown).expect("JSON");
    assert_eq!(shown[0], true);
    assert_eq!(shown[1], true);
    // ansible-core 2.19's words (its list of supported parameters is its own).
    let msg = shown[2].as_str().unwrap_or_default();
    assert!(
        msg.starts_with("Unsupported parameters for (stat) module: nosuch. Supported parameters include: "),
        "{shown:?}"
    );
    let (_d, r) =
        apply(&[("site.yml", "- hosts: a\n  tasks:\n    - stat: {path: /tmp, nosuch: \"{{ 'x' }}\"}\n")], &[]);
    assert_eq!(r.code, 4, "a value that cannot be omit is still refused before the run: {}", r.dump());
}

/// A module that skips itself (`command` in check mode, `wait_for_connection` in check mode)
/// registers `skipped: true` and `failed: false`, as ansible-core's executor adds `failed` to
/// every module result (ansible-core 2.19.14 registered both).
#[test]
fn a_module_that_skips_itself_registers_failed_false() {
    let site = r#"- hosts: a
  gather_facts: false
  tasks:
    - command: "true"
      register: c
      check_mode: true
    - wait_for_connection:
      register: w
      check_mode: true
    - debug: {msg: "{{ [c.skipped, c.failed, w.skipped, w.failed] | to_json }}"}
"#;
    let (_d, r) = apply(&[("site.yml", site)], &[]);
    assert_eq!(r.code, 0, "{}", r.dump());
    let shown = r.of("debug").last().and_then(|x| x["msg"].as_str()).expect("debug").to_string();
    assert_eq!(shown, "[true, false, true, false]");
}

/// `command` and `shell` in check mode, and stopped by `creates`/`removes`, register what
/// ansible-core 2.19.14 registered (the literals): the command, `rc` 0, empty output and null
/// times; with `creates` or `removes` that did not stop it, the task counts as changed in check
/// mode (not skipped), and a stop in check mode says "Would not run".
#[test]
fn command_results_in_check_mode_are_ansible_cores() {
    let site = r#"- hosts: a
  gather_facts: false
  tasks:
    - command: echo hi there
      register: c1
      check_mode: true
    - shell: echo hi | cat
      register: c2
      check_mode: true
    - command: echo x
      args: {creates: /tmp}
      register: c3
    - command: echo x
      args: {creates: /nonexist}
      register: c4
      check_mode: true
    - shell: echo x
      args: {removes: /nonexist}
      register: c5
      check_mode: true
    - debug: {msg: "{{ [c1,c2,c3,c4,c5] | to_json }}"}
"#;
    let (_d, r) = apply(&[("site.yml", site)], &[]);
    assert_eq!(r.code, 0, "{}", r.dump());
    let shown = r.of("debug").last().and_then(|x| x["msg"].as_str()).expect("debug").to_string();
    let got: serde_json::Value = serde_json::from_str(&shown).expect("JSON");
    let base = |cmd: serde_json::Value, stdout: &str, msg: &str| {
        let lines: Vec<&str> = stdout.lines().collect();
        serde_json::json!({"changed": false, "stdout": stdout, "stderr": "", "rc": 0, "cmd": cmd, "start": null,
            "end": null, "delta": null, "msg": msg, "stdout_lines": lines, "stderr_lines": [], "failed": false})
    };
    let would = "Command would have run if not in check mode";
    let mut c1 = base(serde_json::json!(["echo", "hi", "there"]), "", would);
    c1["skipped"] = true.into();
    let mut c2 = base(serde_json::json!("echo hi | cat"), "", would);
    c2["skipped"] = true.into();
    let c3 =
        base(serde_json::json!(["echo", "x"]), "skipped, since /tmp exists", "Did not run command since '/tmp' exists");
    let mut c4 = base(serde_json::json!(["echo", "x"]), "", would);
    c4["changed"] = true.into();
    let c5 = base(
        serde_json::json!("echo x"),
        "skipped, since /nonexist does not exist",
        "Would not run command since '/nonexist' does not exist",
    );
    assert_eq!(got, serde_json::json!([c1, c2, c3, c4, c5]));
}

/// `reboot` on a local connection fails (it would reboot the controller), in check mode too,
/// with what ansible-core 2.19 registers for it.
#[test]
fn reboot_refuses_the_local_connection_as_ansible_core() {
    let site = "- hosts: a\n  gather_facts: false\n  tasks:\n    - {name: r1, reboot: {}, register: r1, ignore_errors: true}\n    - {name: r2, reboot: {}, register: r2, ignore_errors: true, check_mode: true}\n    - {name: show, debug: {msg: \"{{ [r1, r2] | to_json }}\"}}\n";
    let (_d, r) = apply(&[("site.yml", site)], &[]);
    assert_eq!(r.code, 0, "{}", r.dump());
    let mut got: Json = serde_json::from_str(r.of("show")[0]["msg"].as_str().expect("msg")).expect("json");
    for x in got.as_array_mut().expect("list") {
        x.as_object_mut().expect("result").remove("exception");
    }
    let one = serde_json::json!({"changed": false, "elapsed": 0, "failed": true, "msg": "Running reboot with local connection would reboot the control node.", "rebooted": false});
    assert_eq!(got, serde_json::json!([one, one]));
}

/// With `serial`, a read of `hostvars` of a host of a later batch sees what that host has now
/// (nothing yet), as in ansible-core: `default` gives its value and a plain read fails the
/// task as undefined. Before, the host waited for the later batch, which waited for it: the
/// run never ended. The messages and recap are ansible-core 2.19's on the same play.
#[test]
fn serial_hostvars_read_of_a_later_batch_does_not_wait_for_it() {
    let play = |last: &str| {
        format!(
            "- hosts: all\n  gather_facts: false\n  serial: 2\n  tasks:\n    - set_fact:\n        x: \"{{{{ inventory_hostname }}}}\"\n    - name: soft\n      debug:\n        msg: \"{{{{ hostvars['c'].x | default('none') }}}}\"\n{last}"
        )
    };
    let (_d, r) = apply(&[("site.yml", &play(""))], &[]);
    assert_eq!(r.code, 0, "{}", r.dump());
    let said: Vec<(String, String)> = r
        .of("soft")
        .iter()
        .map(|x| (x["host"].as_str().unwrap_or_default().into(), x["msg"].as_str().unwrap_or_default().into()))
        .collect();
    let mut said = said;
    said.sort();
    let want = [("a", "none"), ("b", "none"), ("c", "c"), ("d", "c")];
    assert_eq!(said, want.map(|(h, m)| (h.to_string(), m.to_string())), "{}", r.dump());

    let (_d, r) =
        apply(&[("site.yml", &play("    - name: hard\n      debug:\n        msg: \"{{ hostvars['c'].x }}\"\n"))], &[]);
    assert_eq!(r.code, 2, "{}", r.dump());
    assert_eq!(r.recap_hosts(), ["a", "b"], "the second batch never starts: {}", r.dump());
    for h in ["a", "b"] {
        assert_eq!(r.recap(h, "failed"), 1, "{}", r.dump());
        let hard = r.of("hard").into_iter().find(|x| x["host"] == h).expect("hard ran");
        let msg = hard["msg"].as_str().unwrap_or_default();
        assert!(msg.contains("has no attribute 'x'"), "{msg}");
    }
}

/// A handler that reads `hostvars` of a variable set by a task after the flush sees what is
/// there when it runs (here nothing: `default`), as in ansible-core. Before, under the default
/// linear strategy the handler waited for the other host to reach the task that sets it, which
/// waited for the handler's host at the task after the flush: the run never ended. Under
/// `free` and prov's `dag`, hosts go their own pace and the run ends too.
#[test]
fn handler_reading_hostvars_set_after_the_flush_does_not_wait_forever() {
    for strategy in ["linear", "free", "dag"] {
        let site = format!(
            "- hosts: all\n  gather_facts: false\n  strategy: {strategy}\n  tasks:\n    - command: \"true\"\n      changed_when: true\n      notify: h\n    - meta: flush_handlers\n    - set_fact:\n        x: set\n    - name: after\n      debug:\n        msg: after\n  handlers:\n    - name: h\n      debug:\n        msg: \"{{{{ hostvars['b'].x | default('none') }}}}\"\n"
        );
        let (_d, r) = apply(&[("site.yml", &site)], &[]);
        assert_eq!(r.code, 0, "{strategy}: {}", r.dump());
        let said: Vec<&str> = r.of("h").iter().filter_map(|x| x["msg"].as_str()).collect();
        if strategy != "linear" {
            // Each host goes its own pace (ansible-core's free strategy too; prov's dag waits
            // only for data a task reads, and a handler reads none of later tasks): b may have
            // set it by the time another host's handler reads it.
            assert_eq!(said.len(), 4, "{}", r.dump());
            assert!(said.iter().all(|m| ["none", "set"].contains(m)), "{said:?}");
        } else {
            assert_eq!(said, ["none"; 4], "{strategy}: {}", r.dump());
        }
        for h in ["a", "b", "c", "d"] {
            assert_eq!(r.recap(h, "ok"), 4, "{strategy}: {}", r.dump());
            assert_eq!(r.recap(h, "changed"), 1, "{strategy}: {}", r.dump());
        }
    }
}

/// Under prov's `dag` strategy a host waits for the task that sets what it reads of another
/// host through `hostvars` wherever the read is: a loop, the task's `vars`, `changed_when`,
/// `failed_when`, `until`, `environment`, or the file a `template` task renders. Before, only
/// the arguments and `when` were read for it, and a waits-for-nothing host read too early (the
/// variable undefined, the task failed).
#[test]
fn dag_waits_for_hostvars_read_in_loops_vars_conditions_and_template_files() {
    let slow = "    - command: sleep 1\n      when: inventory_hostname == 'b'\n      changed_when: false\n    - set_fact:\n        x: [1, 2]\n";
    let reads = [
        "    - debug: msg=\"{{ item }}\"\n      loop: \"{{ hostvars['b'].x }}\"\n",
        "    - debug: msg=\"{{ y }}\"\n      vars:\n        y: \"{{ hostvars['b'].x }}\"\n",
        "    - command: \"true\"\n      changed_when: hostvars['b'].x | length == 2\n",
        "    - command: \"true\"\n      failed_when: hostvars['b'].x | length != 2\n",
        "    - command: \"true\"\n      register: r\n      until: hostvars['b'].x | length == 2\n      retries: 0\n",
        "    - command: printenv X\n      environment:\n        X: \"{{ hostvars['b'].x }}\"\n",
        "    - template:\n        src: t.j2\n        dest: \"{{ root }}/{{ inventory_hostname }}.txt\"\n",
    ];
    for read in reads {
        let site = format!("- hosts: g1\n  gather_facts: false\n  strategy: dag\n  tasks:\n{slow}{read}");
        let (_d, r) = apply(&[("site.yml", &site), ("t.j2", "{{ hostvars['b'].x }}\n")], &[]);
        assert_eq!(r.code, 0, "{read}\n{}", r.dump());
        assert_eq!(r.recap("a", "failed"), 0, "{read}");
    }
}

/// A handler that reads through `hostvars` what the task that notified it registered on
/// another host finds it, under every strategy: it waits for that task on that host (here b is
/// slower), as ansible-core's handlers run after the task on every host of the batch.
#[test]
fn handler_reading_what_its_notifier_registered_on_another_host_finds_it() {
    for strategy in ["linear", "free", "dag"] {
        let site = format!(
            "- hosts: g1\n  gather_facts: false\n  strategy: {strategy}\n  tasks:\n    - shell: \"sleep {{{{ 1 if inventory_hostname == 'b' else 0 }}}}; echo {{{{ inventory_hostname }}}}\"\n      register: r\n      changed_when: true\n      notify: h\n  handlers:\n    - name: h\n      debug:\n        msg: \"{{{{ hostvars['b'].r.stdout }}}}\"\n"
        );
        let (_d, r) = apply(&[("site.yml", &site)], &[]);
        assert_eq!(r.code, 0, "{strategy}: {}", r.dump());
        let said: Vec<&str> = r.of("h").iter().filter_map(|x| x["msg"].as_str()).collect();
        assert_eq!(said, ["b", "b"], "{strategy}: {}", r.dump());
    }
}

/// A templated `notify` is rendered on each host, with each item's variables (one result per
/// item below), when the task
/// runs; once the task changed, every item's name notifies (ansible-core 2.19.14 ran
/// restart foo-x and foo-y on a, bar-x and bar-y on b, though only item y changed, and a
/// whole `notify: "{{ list }}"` names several handlers and topics). prov refused the play
/// ("no handler named `restart {{ svc }}-{{ item }}`").
#[test]
fn a_templated_notify_is_rendered_per_host_and_item() {
    let site = r#"- hosts: g1
  gather_facts: false
  tasks:
    - name: n
      command: "true"
      loop: [x, y]
      changed_when: item == 'y'
      notify: "restart {{ svc }}-{{ item }}"
    - name: t
      command: "true"
      notify: "{{ topics }}"
      vars:
        topics: [topic, "restart {{ svc }}-x"]
  handlers:
    - {name: restart foo-x, debug: {msg: foo-x}}
    - {name: restart foo-y, debug: {msg: foo-y}}
    - {name: restart bar-x, debug: {msg: bar-x}}
    - {name: restart bar-y, debug: {msg: bar-y}}
    - {name: l, debug: {msg: "l {{ svc }}"}, listen: topic}
"#;
    let files = [("site.yml", site), ("host_vars/a.yml", "svc: foo\n"), ("host_vars/b.yml", "svc: bar\n")];
    let (_d, r) = apply(&files, &[]);
    assert_eq!(r.code, 0, "{}", r.dump());
    assert_eq!(ran(&r, "a"), ["n", "n", "t", "restart foo-x", "restart foo-y", "l"], "{}", r.dump());
    assert_eq!(ran(&r, "b"), ["n", "n", "t", "restart bar-x", "restart bar-y", "l"], "{}", r.dump());
    assert_eq!((r.recap("a", "ok"), r.recap("a", "changed")), (5, 2), "{}", r.dump());
}

/// A rendered `notify` that names no handler stops the whole run, as ansible-core 2.19.14
/// does ("ERROR! The requested handler 'restart bar' was not found in either the main
/// handlers list nor in the listening handlers list", exit 1): no later task runs.
#[test]
fn a_templated_notify_naming_no_handler_stops_the_run() {
    let site = r#"- hosts: a
  gather_facts: false
  tasks:
    - name: n
      command: "true"
      notify: "restart {{ svc }}"
    - name: after
      debug: {msg: after}
  handlers:
    - {name: restart foo, debug: {msg: foo}}
"#;
    let (_d, r) = apply(&[("site.yml", site)], &["-e", "svc=bar"]);
    assert_eq!(r.code, 1, "{}", r.dump());
    assert!(r.stderr.contains("The requested handler 'restart bar' was not found"), "{}", r.dump());
    assert!(r.of("after").is_empty(), "{}", r.dump());
}

/// The classic role pattern `include_vars: "{{ item }}"` with `with_first_found` finds the
/// role's vars/Debian.yml, as ansible-core 2.19.14 does (its first_found looks in the
/// directory of the task's action: vars/ here, templates/ for template). prov looked in
/// files/ and failed the task ("No file was found when using first_found").
#[test]
fn with_first_found_looks_in_the_directory_of_the_task_s_action() {
    let tasks = r#"- name: os vars
  include_vars: "{{ item }}"
  with_first_found: ["Nope.yml", "Debian.yml"]
- name: shown
  debug: {msg: "{{ osvar }}"}
- name: rendered
  template: {src: "{{ item }}", dest: "{{ root }}/out.txt"}
  with_first_found: ["x.j2"]
"#;
    let files = [
        ("site.yml", "- hosts: a\n  gather_facts: false\n  roles: [r]\n"),
        ("roles/r/tasks/main.yml", tasks),
        ("roles/r/vars/Debian.yml", "osvar: debian\n"),
        ("roles/r/templates/x.j2", "x\n"),
    ];
    let (d, r) = apply(&files, &[]);
    assert_eq!(r.code, 0, "{}", r.dump());
    assert_eq!(r.of("shown")[0]["msg"], "debian", "{}", r.dump());
    assert_eq!(std::fs::read_to_string(d.path().join("out.txt")).expect("out.txt"), "x\n");
}

/// A play host's own hostvars leave out the play's variables and `omit`, as ansible-core
/// 2.19.14's do ("False ... True" below); prov had them there.
#[test]
fn hostvars_leave_out_the_play_s_variables_and_omit() {
    let names = [
        "ansible_play_hosts",
        "ansible_play_batch",
        "play_hosts",
        "ansible_play_hosts_all",
        "ansible_play_name",
        "omit",
    ];
    let checks: Vec<String> = names.iter().map(|n| format!("{{{{ hostvars['a']['{n}'] is defined }}}}")).collect();
    let site = format!(
        "- hosts: a\n  gather_facts: false\n  tasks:\n    - name: seen\n      debug:\n        msg: \"{} {{{{ ansible_play_hosts is defined }}}} {{{{ hostvars['a'].group_names }}}}\"\n",
        checks.join(" ")
    );
    let (_d, r) = apply(&[("site.yml", &site)], &[]);
    assert_eq!(r.code, 0, "{}", r.dump());
    assert_eq!(r.of("seen")[0]["msg"], "False False False False False False True ['g1']", "{}", r.dump());
}
