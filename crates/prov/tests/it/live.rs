//! Live output of long work: what a host waits for, and what a task is applying, as JSON
//! events and as `-v` lines (the status line needs a terminal; its words are unit-tested in
//! `output.rs`).

use crate::util::text;
use std::path::Path;
use std::process::Output;

/// Two local hosts under `strategy: dag`: `b` reads `hostvars['a'].token`, which `a` sets
/// after a command of `nap` seconds; then both create a directory.
fn project() -> tempfile::TempDir {
    let d = tempfile::tempdir().expect("tempdir");
    std::fs::write(d.path().join("hosts.ini"), "a ansible_connection=local\nb ansible_connection=local\n")
        .expect("write");
    std::fs::write(
        d.path().join("site.yml"),
        "- hosts: a,b\n  strategy: dag\n  gather_facts: false\n  tasks:\n    - name: slow\n      command: \"sleep {{ nap }}\"\n      when: inventory_hostname == 'a'\n    - name: token\n      set_fact:\n        token: \"t-{{ inventory_hostname }}\"\n      when: inventory_hostname == 'a'\n    - name: read\n      debug:\n        msg: \"{{ hostvars['a'].token }}\"\n      when: inventory_hostname == 'b'\n    - name: dir\n      file:\n        path: \"{{ playbook_dir }}/out-{{ inventory_hostname }}\"\n        state: directory\n",
    )
    .expect("write");
    d
}

fn apply(dir: &Path, nap: u32, extra: &[&str]) -> Output {
    let nap = format!("nap={nap}");
    let mut args = vec!["apply", "site.yml", "-i", "hosts.ini", "-e", &nap];
    args.extend_from_slice(extra);
    crate::util::prov(dir, &args)
}

#[test]
fn json_events_say_which_host_waits_for_which_and_what_is_applied() {
    let p = project();
    let (code, events, all) = crate::util::json_events(&apply(p.path(), 2, &["--output", "json"]));
    assert_eq!(code, 0, "{all}");
    let waits: Vec<&serde_json::Value> = events.iter().filter(|e| e["event"] == "waiting").collect();
    assert_eq!(waits.len(), 1, "{all}");
    assert_eq!(
        (&waits[0]["host"], &waits[0]["on"], &waits[0]["reason"], &waits[0]["var"], &waits[0]["name"]),
        (&"b".into(), &"a".into(), &"hostvars".into(), &"token".into(), &"read".into()),
        "{all}"
    );
    // The wait comes before `read` starts on b, and after b got past `token`.
    let at = |pred: &dyn Fn(&serde_json::Value) -> bool| events.iter().position(pred).expect("an event");
    let wait = at(&|e| e["event"] == "waiting");
    assert!(wait < at(&|e| e["event"] == "task_start" && e["host"] == "b" && e["name"] == "read"), "{all}");
    // Each host's directory: one apply_start and one apply_end, naming the change.
    for host in ["a", "b"] {
        for kind in ["apply_start", "apply_end"] {
            let applies: Vec<&serde_json::Value> =
                events.iter().filter(|e| e["event"] == kind && e["host"] == host && e["name"] == "dir").collect();
            assert_eq!(applies.len(), 1, "{kind} on {host}: {all}");
            assert_eq!(applies[0]["changes"][0]["action"], "create", "{all}");
            assert!(applies[0]["changes"][0]["name"].as_str().is_some_and(|n| n.ends_with(&format!("out-{host}"))));
        }
    }
}

#[test]
fn verbose_lines_name_the_host_waited_for_and_the_task_still_running() {
    let p = project();
    // Past the 10 s after which `-v` names long work.
    let out = apply(p.path(), 12, &["-v"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("\n  b waiting for a: hostvars read of token [1"), "{stdout}");
    assert!(stdout.contains("\n  still running: slow on a [1"), "{stdout}");
}

/// On a terminal (a pseudo-terminal from util-linux's `script`), the status line names the
/// task that runs long and, beside it, the host waiting for it and why.
#[test]
fn status_line_on_a_terminal_names_the_host_waited_for() {
    let p = project();
    let log = p.path().join("tty.log");
    let prov = env!("CARGO_BIN_EXE_prov");
    assert!(!prov.contains('\''), "{prov}");
    let out = std::process::Command::new("script")
        .arg("-qec")
        .arg(format!("'{prov}' apply site.yml -i hosts.ini -e nap=4"))
        .arg(&log)
        .current_dir(p.path())
        .env("TERM", "xterm")
        .env("NO_COLOR", "1")
        .env_remove("PROV_INVENTORY")
        .env_remove("ANSIBLE_CONFIG")
        .env_remove("ANSIBLE_INVENTORY")
        .output()
        .expect("script (util-linux) runs");
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
    let tty = String::from_utf8_lossy(&std::fs::read(&log).expect("the terminal's log")).into_owned();
    // `still running: slow on a [2s] · b waiting for a: hostvars read of token [1s]` (the
    // seconds of each as the tick found them).
    let wait = " · b waiting for a: hostvars read of token [";
    let beside = tty.match_indices(wait).any(|(i, _)| {
        let before = &tty[..i];
        before.rsplit(" · ").next().is_some_and(|s| s.starts_with("still running: slow on a ["))
    });
    assert!(beside, "{tty}");
}

/// Under the default `linear` strategy a host that is ahead waits for the batch: the event
/// names the first host it waits for.
#[test]
fn a_host_ahead_in_a_linear_play_says_it_waits_for_the_batch() {
    let p = project();
    std::fs::write(
        p.path().join("linear.yml"),
        "- hosts: a,b\n  gather_facts: false\n  tasks:\n    - name: slow\n      command: sleep 2\n      when: inventory_hostname == 'a'\n    - name: next\n      command: \"true\"\n",
    )
    .expect("write");
    let out = crate::util::prov(p.path(), &["apply", "linear.yml", "-i", "hosts.ini", "--output", "json"]);
    let (code, events, all) = crate::util::json_events(&out);
    assert_eq!(code, 0, "{all}");
    let waits: Vec<(&str, &str, &str, &str)> = events
        .iter()
        .filter(|e| e["event"] == "waiting")
        .map(|e| {
            let s = |k: &str| e[k].as_str().unwrap_or("");
            (s("host"), s("on"), s("reason"), s("name"))
        })
        .collect();
    assert_eq!(waits, [("b", "a", "linear", "next")], "{all}");
}
