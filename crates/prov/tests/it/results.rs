//! Registered results of the file modules, compared with what ansible-core 2.19.14 registered for
//! the same plays (`results/*.yml`; its results, recorded with `ansible-playbook` on a local host,
//! are `results/*.json` and, under `--diff`, `results/*.diff.json`). Values that cannot be the
//! same are left out of both: the temporary `src` of copy and template, the times in a touch's
//! diff, a removed directory's `path_content`.

use crate::language::apply;
use serde_json::{json, Value as Json};

/// The registered values the play's `show` task printed, with the temporary directory written
/// `ROOT` and the values that cannot match removed.
fn shown(files: &[(&str, &str)], args: &[&str]) -> Json {
    let (dir, r) = apply(files, args);
    assert_eq!(r.code, 0, "{}", r.dump());
    let root = dir.path().display().to_string();
    let msg = r.of("show")[0]["msg"].as_str().expect("msg").replace(&root, "ROOT");
    clean(serde_json::from_str(&msg).expect("the results as JSON"))
}

fn clean(v: Json) -> Json {
    match v {
        Json::Object(m) => Json::Object(
            m.into_iter()
                .filter(|(k, _)| !["failed", "mtime", "atime", "path_content", "warnings"].contains(&k.as_str()))
                .map(|(k, v)| match (k.as_str(), v) {
                    ("after_header", Json::String(s)) if s.ends_with("templates/t.j2") => (k, "TEMPLATE".into()),
                    (_, v) => (k, clean(v)),
                })
                .collect(),
        ),
        Json::Array(a) => Json::Array(a.into_iter().map(clean).collect()),
        v => v,
    }
}

/// Compares one registered value at a time, so that a failure names the task.
fn same(got: &Json, want: &str) {
    let want: Json = serde_json::from_str(want).expect("recorded JSON");
    for (task, w) in want.as_object().expect("an object") {
        assert_eq!(&got[task], w, "registered `{task}` differs from ansible-core's");
    }
    assert_eq!(got.as_object().map(|m| m.len()), want.as_object().map(|m| m.len()));
}

const TEMPLATE: (&str, &str) = ("templates/t.j2", "x={{ 1 }}\n");

#[test]
fn copy_and_template_register_what_ansible_core_registers() {
    let files = [("site.yml", include_str!("results/copy.yml")), TEMPLATE];
    same(&shown(&files, &[]), include_str!("results/copy.json"));
}

#[test]
fn copy_and_template_register_their_diff_under_diff_mode() {
    let files = [("site.yml", include_str!("results/copy.yml")), TEMPLATE];
    same(&shown(&files, &["--diff"]), include_str!("results/copy.diff.json"));
}

#[test]
fn file_registers_the_path_and_its_attributes_as_ansible_core() {
    same(&shown(&[("site.yml", include_str!("results/file.yml"))], &[]), include_str!("results/file.json"));
}

#[test]
fn file_registers_its_diff_under_diff_mode() {
    same(
        &shown(&[("site.yml", include_str!("results/file.yml"))], &["--diff"]),
        include_str!("results/file.diff.json"),
    );
}

#[test]
fn lineinfile_blockinfile_and_replace_register_what_ansible_core_registers() {
    same(&shown(&[("site.yml", include_str!("results/edit.yml"))], &[]), include_str!("results/edit.json"));
}

#[test]
fn lineinfile_blockinfile_and_replace_register_their_diff_under_diff_mode() {
    same(
        &shown(&[("site.yml", include_str!("results/edit.yml"))], &["--diff"]),
        include_str!("results/edit.diff.json"),
    );
}

#[test]
fn command_accepts_executable_and_warns_as_ansible_core() {
    let site = r#"- hosts: a
  gather_facts: false
  tasks:
    - command: echo hi
      args:
        executable: /bogus
      register: r
    - name: show
      debug: {msg: "{{ r.warnings | to_json }}"}
"#;
    let want = "As of Ansible 2.4, the parameter 'executable' is no longer supported with the 'command' module. Not using '/bogus'.";
    let (_d, r) = apply(&[("site.yml", site)], &[]);
    assert_eq!(r.code, 0, "{}", r.dump());
    let shown: Json = serde_json::from_str(r.of("show")[0]["msg"].as_str().expect("msg")).expect("a list");
    assert_eq!(shown, serde_json::json!([want]));
    let event = &r.of("command")[0];
    assert_eq!(event["warnings"], serde_json::json!([want]), "the result event carries the warning");
    // The human output shows it before the result, as ansible-playbook.
    let (dir, _) = apply(&[("site.yml", site)], &[]);
    let out = crate::util::prov(dir.path(), &["apply", "site.yml", "-i", "hosts.ini"]);
    let text = String::from_utf8_lossy(&out.stdout);
    let at = text.find(&format!("[WARNING]: {want}")).unwrap_or_else(|| panic!("no warning in:\n{text}"));
    assert!(text[at..].contains("changed: [a]"), "{text}");
}

#[test]
fn debug_registers_null_messages_and_var_results_as_ansible_core() {
    let site = r#"- hosts: a
  gather_facts: false
  tasks:
    - debug: {msg: {a: 1, b: [1, 2]}}
      register: r1
    - debug: {msg: null}
      register: r2
    - debug: {var: "[1, 2]"}
      register: r3
    - name: show
      debug: {msg: "{{ [r1, r2, r3] | to_json }}"}
"#;
    let got = shown(&[("site.yml", site)], &[]);
    // ansible-playbook 2.19.14 registered these (`msg: null` is null, not "Hello world!"; a
    // `var` result has no `msg`).
    assert_eq!(
        got,
        serde_json::json!([
            {"msg": {"a": 1, "b": [1, 2]}, "changed": false},
            {"msg": null, "changed": false},
            {"[1, 2]": [1, 2], "changed": false}
        ])
    );
}

/// `local_action` is the task's module with `delegate_to: localhost` (ansible-core 2.19.14
/// registered the same values); with `delegate_to` too it is refused, as ansible-core does.
#[test]
fn local_action_runs_its_module_delegated_to_localhost() {
    let site = r#"- hosts: a
  gather_facts: false
  tasks:
    - local_action: command echo "{{ inventory_hostname }}"
      register: r1
    - local_action:
        module: shell
        cmd: echo hi
      register: r2
    - name: show
      debug: {msg: "{{ [r1.stdout, r2.stdout, r1.cmd] | to_json }}"}
"#;
    assert_eq!(shown(&[("site.yml", site)], &[]), serde_json::json!(["a", "hi", ["echo", "a"]]));
    let bad = "- hosts: a\n  gather_facts: false\n  tasks:\n    - local_action: command true\n      delegate_to: b\n";
    let (_d, r) = apply(&[("site.yml", bad)], &[]);
    assert_eq!(r.code, 4, "{}", r.dump());
    assert!(
        r.stderr.contains("site.yml:4:7")
            && r.stderr.contains("`local_action` and `delegate_to` are mutually exclusive"),
        "{}",
        r.stderr
    );
}

/// Without a terminal ansible-core 2.19.14 asks nothing: "Not prompting as we are not in
/// interactive mode", each answer is its default, else the text `None`; `-e` answers first.
#[test]
fn vars_prompt_without_a_terminal_takes_the_defaults_as_ansible_core() {
    let site = r#"- hosts: a
  gather_facts: false
  vars_prompt:
    - name: color
      prompt: Color?
      default: red
      private: false
    - name: size
      prompt: Size?
  tasks:
    - name: show
      debug: {msg: "{{ [color, size] | to_json }}"}
"#;
    let (_d, r) = apply(&[("site.yml", site)], &[]);
    assert_eq!(r.code, 0, "{}", r.dump());
    assert_eq!(r.of("show")[0]["msg"], "[\"red\", \"None\"]");
    assert!(r.stderr.contains("Not prompting as we are not in interactive mode"), "{}", r.stderr);
    let (_d, r) = apply(&[("site.yml", site)], &["-e", "size=9"]);
    assert_eq!(r.of("show")[0]["msg"], "[\"red\", \"9\"]", "{}", r.dump());
}

/// `async` with `poll` above 0: the task waits for the module, and registers what
/// ansible-core 2.19.14 registers (`started`, `finished`, `ansible_job_id`); after its `async`
/// seconds it fails with ansible-core's message and `async_result`, and the command is gone.
/// Fire-and-forget (`poll: 0`) of other modules is refused before the run.
#[test]
fn async_with_poll_waits_and_fails_after_its_seconds_as_ansible_core() {
    let site = r#"- hosts: a
  gather_facts: false
  tasks:
    - command: echo hi
      async: 10
      poll: 1
      register: r1
    - command: sleep 7.4321
      async: 1
      poll: 1
      register: r2
      ignore_errors: true
    - name: show
      debug: {msg: "{{ [r1, r2] | to_json }}"}
"#;
    let got = shown(&[("site.yml", site)], &[]);
    let r1 = &got[0];
    assert_eq!(
        (&r1["stdout"], &r1["started"], &r1["finished"]),
        (&Json::from("hi"), &Json::from(true), &Json::from(true))
    );
    assert!(r1["ansible_job_id"].as_str().is_some_and(|j| j.starts_with('j')), "{r1}");
    let r2 = &got[1];
    assert_eq!(r2["msg"], "async task did not complete within the requested time - 1s");
    assert_eq!((&r2["changed"], &r2["async_result"]["finished"]), (&Json::from(false), &Json::from(false)));
    let left = std::process::Command::new("pgrep").args(["-f", "sleep 7.4321"]).output().expect("pgrep");
    assert!(left.stdout.is_empty(), "the timed-out command still runs: {}", String::from_utf8_lossy(&left.stdout));
    let bad = "- hosts: a\n  gather_facts: false\n  tasks:\n    - file: {path: /tmp/x, state: touch}\n      async: 5\n      poll: 0\n";
    let (_d, r) = apply(&[("site.yml", bad)], &[]);
    assert_eq!(r.code, 4, "{}", r.dump());
    assert!(r.stderr.contains("site.yml:6:13") && r.stderr.contains("`poll: 0`) of `file`"), "{}", r.stderr);
}

/// `async` with `poll: 0` starts command and shell in the background on the target, and
/// `async_status` reports them as ansible-core 2.19.14 did for the same play: running, then
/// the command's result (a failure for its status 3), `cleanup`, an unknown job, and a job
/// stopped after its `async` seconds (its command is gone). Job ids, times and `child_pid`
/// differ by run; the literals are ansible-core's otherwise.
#[test]
fn fire_and_forget_async_and_async_status_as_ansible_core() {
    let home = tempfile::tempdir().expect("tempdir");
    let h = home.path().display().to_string();
    let site = format!(
        r#"- hosts: a
  gather_facts: false
  environment:
    HOME: "{h}"
  tasks:
    - command: sh -c 'sleep 2; echo out; echo err >&2; exit 3'
      async: 30
      poll: 0
      register: j
    - async_status: {{jid: "{{{{ j.ansible_job_id }}}}"}}
      register: s0
    - async_status: {{jid: "{{{{ j.ansible_job_id }}}}"}}
      register: s
      until: s.finished
      retries: 10
      delay: 1
      ignore_errors: true
    - shell: echo hi
      async: 30
      poll: 0
      register: j2
    - async_status: {{jid: "{{{{ j2.ansible_job_id }}}}"}}
      register: s2
      until: s2.finished
      retries: 10
      delay: 1
    - async_status: {{jid: "{{{{ j2.ansible_job_id }}}}", mode: cleanup}}
      register: c2
    - async_status: {{jid: "{{{{ j2.ansible_job_id }}}}"}}
      register: s3
      ignore_errors: true
    - async_status: {{jid: "j123"}}
      register: s4
      ignore_errors: true
    - command: sleep 5.4321
      async: 1
      poll: 0
      register: j5
    - pause: {{seconds: 3}}
    - async_status: {{jid: "{{{{ j5.ansible_job_id }}}}"}}
      register: s5
      ignore_errors: true
    - name: show
      debug: {{msg: "{{{{ [j, s0, s, j2, s2, c2, s3, s4, j5, s5] | to_json }}}}"}}
"#
    );
    let (_d, r) = apply(&[("site.yml", &site)], &[]);
    assert_eq!(r.code, 0, "{}", r.dump());
    let got: Vec<Json> = serde_json::from_str(r.of("show")[0]["msg"].as_str().expect("msg")).expect("JSON");
    let id = |v: &Json| v["ansible_job_id"].as_str().unwrap_or_default().to_string();
    let (j1, j2, j5) = (id(&got[0]), id(&got[3]), id(&got[8]));
    let file = |j: &str| format!("{h}/.ansible_async/{j}");
    let started = |j: &str| json!({"changed": true, "failed": false, "started": true, "finished": false, "ansible_job_id": j, "results_file": file(j)});
    let empty = |started: bool, finished: bool, j: &str| json!({"started": started, "finished": finished, "stdout": "", "stderr": "", "stdout_lines": [], "stderr_lines": [], "ansible_job_id": j});
    let with = |mut v: Json, extra: Json| {
        for (k, x) in extra.as_object().expect("map") {
            v[k] = x.clone();
        }
        v
    };
    let mut got = got;
    for v in got.iter_mut().filter_map(|v| v.as_object_mut()) {
        v.remove("exception");
        for k in ["start", "end", "delta", "attempts", "child_pid"] {
            if v.contains_key(k) {
                v.insert(k.into(), json!(k));
            }
        }
    }
    let want = vec![
        started(&j1),
        with(empty(true, false, &j1), json!({"results_file": file(&j1), "changed": false, "failed": false})),
        json!({"started": true, "finished": true, "stdout": "out", "stderr": "err", "stdout_lines": ["out"], "stderr_lines": ["err"],
            "ansible_job_id": j1, "results_file": file(&j1), "changed": true, "rc": 3, "cmd": ["sh", "-c", "sleep 2; echo out; echo err >&2; exit 3"],
            "start": "start", "end": "end", "delta": "delta", "failed": true, "msg": "non-zero return code", "attempts": "attempts"}),
        started(&j2),
        json!({"started": true, "finished": true, "stdout": "hi", "stderr": "", "stdout_lines": ["hi"], "stderr_lines": [],
            "ansible_job_id": j2, "results_file": file(&j2), "changed": true, "rc": 0, "cmd": "echo hi",
            "start": "start", "end": "end", "delta": "delta", "msg": "", "failed": false, "attempts": "attempts"}),
        with(empty(false, false, &j2), json!({"erased": file(&j2), "failed": false, "changed": false})),
        with(
            empty(true, true, &j2),
            json!({"results_file": file(&j2), "failed": true, "msg": "could not find job", "changed": false}),
        ),
        with(
            empty(true, true, "j123"),
            json!({"results_file": file("j123"), "failed": true, "msg": "could not find job", "changed": false}),
        ),
        started(&j5),
        with(
            empty(true, true, &j5),
            json!({"results_file": file(&j5), "msg": "Timeout exceeded", "failed": true, "child_pid": "child_pid", "changed": false}),
        ),
    ];
    assert_eq!(got.len(), want.len());
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        assert_eq!(g, w, "result {}", i + 1);
    }
    let left = std::process::Command::new("pgrep").args(["-f", "sleep 5.4321"]).output().expect("pgrep");
    assert!(left.stdout.is_empty(), "the timed-out job still runs: {}", String::from_utf8_lossy(&left.stdout));
}

/// `no_log` may be a template, rendered per host when the task starts (ansible-core censors
/// the result when it is true); prov refused it.
#[test]
fn templated_no_log_is_rendered_per_host() {
    let site = r#"- hosts: g1
  gather_facts: false
  tasks:
    - name: secret
      command: echo secret-{{ inventory_hostname }}
      no_log: "{{ inventory_hostname == 'a' }}"
"#;
    let (_d, r) = apply(&[("site.yml", site)], &[]);
    assert_eq!(r.code, 0, "{}", r.dump());
    let on = |h: &str| r.of("secret").into_iter().find(|e| e["host"] == h).cloned().expect("result");
    assert_eq!((on("a")["stdout"].clone(), on("a")["msg"].clone()), (Json::Null, Json::from("output hidden: no_log")));
    assert_eq!(on("b")["stdout"], "secret-b");
    assert!(!r.dump().contains("secret-a"), "{}", r.dump());
}

/// `failed_when` registers `failed_when_result`; a `changed_when`/`failed_when` that errs fails
/// the task, keeps the module's `msg` and registers the error (ansible-core 2.19.14's values).
#[test]
fn conditions_on_results_register_their_value_or_their_error() {
    let site = r#"- hosts: a
  gather_facts: false
  tasks:
    - command: echo hi
      failed_when: false
      register: r1
    - command: echo hi
      changed_when: false
      register: r2
    - command: echo hi
      changed_when: boomboomboom
      register: r3
      ignore_errors: true
    - command: echo hi
      failed_when: boomboomboom
      register: r4
      ignore_errors: true
    - name: show
      debug: {msg: "{{ [r1.failed_when_result | default('U'), r2.changed_when_result | default('U'), r3.msg, r3.changed_when_result, r3 is failed, r4.failed_when_result] | to_json }}"}
"#;
    let err = "Error while evaluating conditional: 'boomboomboom' is undefined";
    assert_eq!(shown(&[("site.yml", site)], &[]), serde_json::json!([false, "U", "", err, true, err]));
}

/// Found in review, against ansible-core 2.19.14: `async` on an action that does not support it
/// is refused ("This action (copy) does not support async."); a templated `become` on a play is
/// refused (it would decide fact gathering); a `no_log` that cannot be rendered masks the output
/// with ansible-core's warning and the task goes on (prov failed it).
#[test]
fn async_on_copy_and_play_become_templates_are_refused_and_a_bad_no_log_masks() {
    let copy = "- hosts: a\n  gather_facts: false\n  tasks:\n    - copy: {content: x, dest: \"{{ root }}/x\"}\n      async: 10\n      poll: 1\n";
    let (_d, r) = apply(&[("site.yml", copy)], &[]);
    assert_eq!(r.code, 4, "{}", r.dump());
    assert!(r.stderr.contains("This action (copy) does not support async."), "{}", r.stderr);
    let play = "- hosts: a\n  become: \"{{ esc }}\"\n  vars: {esc: false}\n  tasks:\n    - meta: noop\n";
    let (_d, r) = apply(&[("site.yml", play)], &[]);
    assert_eq!(r.code, 4, "{}", r.dump());
    assert!(r.stderr.contains("a templated `become` on a play is not supported"), "{}", r.stderr);
    let nolog = "- hosts: a\n  gather_facts: false\n  tasks:\n    - name: masked\n      debug: {msg: x}\n      when: false\n      no_log: \"{{ nope }}\"\n    - name: after\n      debug: {msg: y}\n";
    let (_d, r) = apply(&[("site.yml", nolog)], &[]);
    assert_eq!(r.code, 0, "{}", r.dump());
    assert_eq!(r.of("masked")[0]["status"], "skipped");
    assert_eq!(r.of("after").len(), 1);
}

/// `mode: preserve` gives copy's destination the source's mode (the controller's file, the
/// target's with `remote_src`, 0600 for `content`, ansible-core's private temporary file) and
/// template's the template's; a second run changes nothing. Modes as ansible-core 2.19.14 set
/// and registered them for the same play.
#[test]
fn mode_preserve_takes_the_sources_mode_as_ansible_core() {
    use std::os::unix::fs::PermissionsExt;
    let d = tempfile::tempdir().expect("tempdir");
    let root = d.path().display().to_string();
    let put = |name: &str, text: &str, mode: u32| {
        std::fs::write(d.path().join(name), text).expect("write");
        std::fs::set_permissions(d.path().join(name), std::fs::Permissions::from_mode(mode)).expect("chmod");
    };
    put("src.txt", "hi\n", 0o741);
    put("t.j2", "x {{ 1 }}\n", 0o705);
    put("hosts.ini", "h ansible_connection=local\n", 0o644);
    let site = format!(
        r#"- hosts: h
  gather_facts: false
  tasks:
    - copy: {{src: src.txt, dest: "{root}/out1", mode: preserve}}
      register: r1
    - copy: {{content: "abc\n", dest: "{root}/out2", mode: preserve}}
      register: r2
    - copy: {{src: "{root}/src.txt", remote_src: true, dest: "{root}/out3", mode: preserve}}
      register: r3
    - template: {{src: t.j2, dest: "{root}/out4", mode: preserve}}
      register: r4
    - name: show
      debug: {{msg: "{{{{ [r1.mode, r2.mode, r3.mode, r4.mode] }}}}"}}
"#
    );
    put("site.yml", &site, 0o644);
    for changed in ["changed=4", "changed=0"] {
        let out = crate::util::prov(d.path(), &["apply", "site.yml", "-i", "hosts.ini"]);
        let (stdout, stderr) = crate::util::text(&out);
        assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
        assert!(stdout.contains(r#"ok: [h] => ["0741","0600","0741","0705"]"#), "{stdout}");
        assert!(stdout.contains(changed), "{changed}: {stdout}");
    }
    let modes: Vec<u32> = ["out1", "out2", "out3", "out4"]
        .iter()
        .map(|f| std::fs::metadata(d.path().join(f)).expect("written").permissions().mode() & 0o7777)
        .collect();
    assert_eq!(modes, [0o741, 0o600, 0o741, 0o705]);
}

/// ansible-core 2.19.14 registers `exception: "(traceback unavailable)"` with every failed
/// result (a module's, an action's, `failed_when`'s, each failed loop item), not with the loop's
/// own result nor a failure that `failed_when: false` turns into success, which registers
/// `failed_when_suppressed_exception` instead.
#[test]
fn failed_results_register_exception_as_ansible_core() {
    let (_d, r) = apply(
        &[(
            "site.yml",
            "- hosts: a\n  gather_facts: false\n  tasks:\n    - command: \"true\"\n      register: c\n      failed_when: true\n      ignore_errors: true\n    - command: \"{{ item }}\"\n      loop: [\"false\", \"true\"]\n      register: l\n      ignore_errors: true\n    - command: \"false\"\n      register: c2\n      failed_when: false\n    - assert: {that: false}\n      register: a\n      ignore_errors: true\n    - debug: msg=\"{{ [c, l, l.results[0], l.results[1], c2, a] | map(attribute='exception', default='NONE') | list }}\"\n    - debug: msg=\"{{ [c2, c] | map(attribute='failed_when_suppressed_exception', default='NONE') | list }}\"\n",
        )],
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.dump());
    let t = "(traceback unavailable)";
    assert_eq!(
        r.of("debug")[0]["msg"],
        serde_json::json!([t, "NONE", t, "NONE", "NONE", t]).to_string(),
        "{}",
        r.dump()
    );
    // A failure that `failed_when: false` suppressed keeps a trace of it.
    assert_eq!(r.of("debug")[1]["msg"], serde_json::json!([t, "NONE"]).to_string(), "{}", r.dump());
}

/// `pause` without a terminal, as ansible-core 2.19.14 registered it: a prompt is not waited for
/// (a warning), a pause of 0 seconds lasts one second.
#[test]
fn pause_without_a_terminal_goes_on_as_ansible_core() {
    let (_d, r) = apply(
        &[(
            "site.yml",
            "- hosts: a\n  gather_facts: false\n  tasks:\n    - pause: prompt=Continue?\n      register: p\n    - pause: seconds=0\n      register: p2\n    - debug: msg=\"{{ [p, p2] | to_json }}\"\n",
        )],
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.dump());
    let shown: Json = serde_json::from_str(r.of("debug")[0]["msg"].as_str().expect("msg")).expect("JSON");
    fn keys(v: &Json) -> Vec<&str> {
        let mut k: Vec<&str> = v.as_object().map(|m| m.keys().map(String::as_str).collect()).unwrap_or_default();
        k.sort_unstable();
        k
    }
    assert_eq!(
        keys(&shown[0]),
        ["changed", "delta", "echo", "failed", "rc", "start", "stderr", "stdout", "stop", "user_input", "warnings"]
    );
    assert_eq!(shown[0]["stdout"], "Paused for 0.0 minutes");
    assert_eq!(
        shown[0]["warnings"],
        serde_json::json!(["Not waiting for response to prompt as stdin is not interactive"])
    );
    assert_eq!(
        (&shown[1]["stdout"], &shown[1]["delta"], &shown[1]["user_input"]),
        (&Json::from("Paused for 1.0 seconds"), &Json::from(1), &Json::from(""))
    );
}

/// On a terminal, ansible-core would wait for an answer to a pause without a duration; prov
/// refuses it before the run (the terminal is `script`'s pseudo-terminal).
#[test]
fn a_pause_prompt_on_a_terminal_is_refused_before_the_run() {
    let d = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        d.path().join("site.yml"),
        "- hosts: localhost\n  gather_facts: false\n  tasks:\n    - pause: prompt=Continue?\n",
    )
    .expect("playbook");
    let cmd = format!("{} validate site.yml", env!("CARGO_BIN_EXE_prov"));
    let out = std::process::Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .current_dir(d.path())
        .output()
        .expect("script (util-linux) runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("site.yml:4:7: error: a `pause` without `seconds` or `minutes` waits for an answer"),
        "{text}"
    );
}
