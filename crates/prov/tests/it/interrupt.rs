//! Ctrl-C: no new tasks start, running commands end, the recap is printed, exit 99. The
//! second Ctrl-C, SIGTERM and `--timeout` kill the running commands with their children, on
//! SSH hosts and local ones alike.

use crate::faults::assert_no_sessions_left;
use prov_testkit::processes_with;
use serde_json::Value as Json;
use std::io::BufRead;
use std::process::{Command, Stdio};

#[test]
fn ctrl_c_lets_running_commands_end_then_stops_with_99() {
    let work = tempfile::tempdir().expect("tempdir");
    let marker = work.path().join("second-task-ran");
    let sleep = format!("sleep 1.{:03}", std::process::id() % 1000);
    std::fs::write(work.path().join("hosts.ini"), "a ansible_connection=local\nb ansible_connection=local\n")
        .expect("inventory");
    std::fs::write(
        work.path().join("pb.yml"),
        format!(
            "- hosts: all\n  gather_facts: false\n  tasks:\n    - name: long\n      command: {sleep}\n    - name: never\n      command: touch {}\n",
            marker.display()
        ),
    )
    .expect("playbook");
    let mut child = apply_json(work.path(), &[]);
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = Vec::new();
    let mut sent = false;
    let mut started = 0;
    for line in std::io::BufReader::new(stdout).lines() {
        let line = line.expect("line");
        let v: Json = serde_json::from_str(&line).expect("json event");
        if v["event"] == "task_start" && v["name"] == "long" {
            started += 1;
        }
        if !sent && started == 2 {
            // Both commands really run (a task starts a moment before its command does).
            wait_for_sleeps(&sleep, 2, 20);
            let st = Command::new("kill").args(["-INT", &child.id().to_string()]).status().expect("kill");
            assert!(st.success());
            sent = true;
        }
        lines.push(v);
    }
    let status = child.wait().expect("exit");
    assert!(sent, "the long task never started");
    assert_eq!(status.code(), Some(99), "{lines:?}");
    let recap = lines.iter().rev().find(|e| e["event"] == "recap").expect("recap printed");
    assert_eq!(recap["interrupted"], true);
    assert!(!marker.exists(), "a task started after Ctrl-C");
    let long_done = lines.iter().filter(|e| e["event"] == "host_result" && e["name"] == "long").count();
    assert_eq!(long_done, 2, "the running command was let finish: {lines:?}");
}

/// `prov apply pb.yml -i hosts.ini --output json ARGS` in `dir`, its stdout piped.
fn apply_json(dir: &std::path::Path, args: &[&str]) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_prov"))
        .args(["apply", "pb.yml", "-i", "hosts.ini", "--output", "json"])
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("prov starts")
}

/// Waits until `n` processes run exactly `sleep` (a command line such as `sleep 4123.1`).
fn wait_for_sleeps(sleep: &str, n: usize, within_secs: u64) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(within_secs);
    while processes_with(sleep).iter().filter(|c| c.trim() == sleep).count() < n {
        assert!(std::time::Instant::now() < deadline, "the commands never all ran: {:?}", processes_with(sleep));
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// Starts `prov apply` of a long task on two SSH hosts (one with `become`) and one local
/// host; once the three run it, sends `signals` (a short pause between each) and returns
/// the lab, the exit code and the JSON events.
fn interrupted_run(marker: &str, signals: &[&str]) -> (prov_testkit::Lab, Option<i32>, Vec<Json>) {
    let lab = prov_testkit::Lab::start(2).expect("lab (needs openssh-server)");
    let work = tempfile::tempdir().expect("tempdir");
    let mut inv = std::fs::read_to_string(lab.inventory()).expect("inventory");
    inv.push_str("\nlocal1 ansible_connection=local\n[sudo]\nh02\n[sudo:vars]\nansible_become=true\n");
    std::fs::write(work.path().join("hosts.ini"), inv).expect("inventory");
    std::fs::write(
        work.path().join("pb.yml"),
        format!(
            "- hosts: all\n  gather_facts: false\n  tasks:\n    - name: long\n      shell: \"sh -c '{marker}' & {marker}\"\n"
        ),
    )
    .expect("playbook");
    let kh = lab.known_hosts().display().to_string();
    let mut child = apply_json(work.path(), &["--known-hosts", &kh]);
    let stdout = child.stdout.take().expect("stdout");
    let reader = std::thread::spawn(move || {
        std::io::BufReader::new(stdout)
            .lines()
            .map(|l| serde_json::from_str::<Json>(&l.expect("line")).expect("json event"))
            .collect::<Vec<Json>>()
    });
    // Two sleeps on each of the three hosts.
    wait_for_sleeps(marker, 6, 60);
    // The check for sessions left afterwards sees the run's commands while they run.
    let running = lab.session_processes();
    assert!(running.iter().filter(|p| p.contains(marker)).count() >= 4, "{running:?}");
    std::thread::sleep(std::time::Duration::from_millis(300));
    for (i, sig) in signals.iter().enumerate() {
        if i > 0 {
            std::thread::sleep(std::time::Duration::from_millis(300));
        }
        let st = Command::new("kill").args([*sig, &child.id().to_string()]).status().expect("kill");
        assert!(st.success());
    }
    let lines = reader.join().expect("reader");
    let status = child.wait().expect("exit");
    (lab, status.code(), lines)
}

fn assert_killed_with_recap(lab: &prov_testkit::Lab, marker: &str, code: Option<i32>, lines: &[Json]) {
    assert_eq!(code, Some(99), "{lines:?}");
    let recap = lines.iter().rev().find(|e| e["event"] == "recap").expect("recap printed");
    assert_eq!(recap["interrupted"], true);
    assert_eq!(recap["hosts"].as_array().map(Vec::len), Some(3), "{recap}");
    // Each host's one task was killed: it failed, and nothing else counts.
    for h in recap["hosts"].as_array().into_iter().flatten() {
        let c = |k: &str| h[k].as_u64().unwrap_or(u64::MAX);
        assert_eq!(
            (c("ok"), c("changed"), c("failed"), c("unreachable"), c("skipped")),
            (0, 0, 1, 0, 0),
            "{}: {recap}",
            h["host"]
        );
    }
    // prov waited for the kill of every job; a killed sudo may still be closing its session.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !processes_with(marker).is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(processes_with(marker), Vec::<String>::new(), "left running on the targets");
    // Nor anything else of the run in a session on the SSH targets (a sudo, a shell).
    assert_no_sessions_left(lab, "after the interrupt");
}

#[test]
fn a_second_ctrl_c_kills_the_running_commands_then_prints_the_recap_and_exits_99() {
    let marker = format!("sleep 4{}.1", std::process::id() % 1000);
    let (lab, code, lines) = interrupted_run(&marker, &["-INT", "-INT"]);
    assert_killed_with_recap(&lab, &marker, code, &lines);
}

#[test]
fn sigterm_kills_the_running_commands_then_prints_the_recap_and_exits_99() {
    let marker = format!("sleep 4{}.2", std::process::id() % 1000);
    let (lab, code, lines) = interrupted_run(&marker, &["-TERM"]);
    assert_killed_with_recap(&lab, &marker, code, &lines);
}

#[test]
fn a_task_timeout_fails_the_task_and_kills_its_command() {
    let lab = prov_testkit::Lab::start(1).expect("lab (needs openssh-server)");
    let work = tempfile::tempdir().expect("tempdir");
    std::fs::copy(lab.inventory(), work.path().join("hosts.ini")).expect("inventory");
    let marker = format!("sleep 4{}.3", std::process::id() % 1000);
    std::fs::write(
        work.path().join("pb.yml"),
        format!("- hosts: all\n  gather_facts: false\n  tasks:\n    - shell: \"sh -c '{marker}' & {marker}\"\n"),
    )
    .expect("playbook");
    let kh = lab.known_hosts().display().to_string();
    let out = crate::util::prov(
        work.path(),
        &["apply", "pb.yml", "-i", "hosts.ini", "--known-hosts", &kh, "--timeout", "1", "--output", "json"],
    );
    let (o, e) = crate::util::text(&out);
    assert_eq!(out.status.code(), Some(2), "{o}\n{e}");
    assert!(o.contains("timed out"), "{o}");
    let recap: Json = o
        .lines()
        .rev()
        .filter_map(|l| serde_json::from_str::<Json>(l).ok())
        .find(|e| e["event"] == "recap")
        .expect("recap");
    let h = &recap["hosts"][0];
    assert_eq!(
        (h["ok"].as_u64(), h["changed"].as_u64(), h["failed"].as_u64(), h["unreachable"].as_u64()),
        (Some(0), Some(0), Some(1), Some(0)),
        "{recap}"
    );
    assert_eq!(processes_with(&marker), Vec::<String>::new(), "left running after the timeout");
    assert_no_sessions_left(&lab, "after the timeout");
}

#[test]
fn an_async_task_past_its_seconds_fails_and_its_command_is_killed_over_ssh() {
    let lab = prov_testkit::Lab::start(1).expect("lab (needs openssh-server)");
    let work = tempfile::tempdir().expect("tempdir");
    std::fs::copy(lab.inventory(), work.path().join("hosts.ini")).expect("inventory");
    let marker = format!("sleep 4{}.4", std::process::id() % 1000);
    std::fs::write(
        work.path().join("pb.yml"),
        format!(
            "- hosts: all\n  gather_facts: false\n  tasks:\n    - shell: \"sh -c '{marker}' & {marker}\"\n      async: 1\n      poll: 1\n"
        ),
    )
    .expect("playbook");
    let kh = lab.known_hosts().display().to_string();
    let out = crate::util::prov(
        work.path(),
        &["apply", "pb.yml", "-i", "hosts.ini", "--known-hosts", &kh, "--output", "json"],
    );
    let (o, e) = crate::util::text(&out);
    assert_eq!(out.status.code(), Some(2), "{o}\n{e}");
    assert!(o.contains("async task did not complete within the requested time - 1s"), "{o}");
    assert_eq!(processes_with(&marker), Vec::<String>::new(), "left running after the async limit");
    assert_no_sessions_left(&lab, "after the async limit");
}

/// Ctrl-C while a task waits between its `until` attempts (or between loop items with
/// `loop_control.pause`): no attempt or item starts after it, and the run stops with 99 at
/// once. prov slept out the whole delay (100 s here) before it looked at the interrupt.
#[test]
fn ctrl_c_during_a_retry_delay_or_a_loop_pause_stops_at_once() {
    for task in [
        "    - name: wait\n      command: \"true\"\n      retries: 100\n      delay: 100\n      until: false\n",
        "    - name: wait\n      command: \"true\"\n      loop: [1, 2, 3]\n      loop_control: {pause: 100}\n",
    ] {
        let work = tempfile::tempdir().expect("tempdir");
        std::fs::write(work.path().join("hosts.ini"), "a ansible_connection=local\n").expect("inventory");
        std::fs::write(work.path().join("pb.yml"), format!("- hosts: all\n  gather_facts: false\n  tasks:\n{task}"))
            .expect("playbook");
        let mut child = apply_json(work.path(), &[]);
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = Vec::new();
        let mut sent = false;
        let began = std::time::Instant::now();
        for line in std::io::BufReader::new(stdout).lines() {
            let v: Json = serde_json::from_str(&line.expect("line")).expect("json event");
            // The first attempt (or item) ran: the task now waits out its delay.
            if !sent && (v["event"] == "apply_end" || v["event"] == "item_result") {
                std::thread::sleep(std::time::Duration::from_millis(300));
                let st = Command::new("kill").args(["-INT", &child.id().to_string()]).status().expect("kill");
                assert!(st.success());
                sent = true;
            }
            lines.push(v);
        }
        let status = child.wait().expect("exit");
        assert!(sent, "the task never ran: {lines:?}");
        assert_eq!(status.code(), Some(99), "{task}: {lines:?}");
        assert!(began.elapsed() < std::time::Duration::from_secs(60), "{task}: the delay was slept out");
        let recap = lines.iter().rev().find(|e| e["event"] == "recap").expect("recap printed");
        assert_eq!(recap["interrupted"], true);
    }
}

/// A wait that would never end (`wait_for` a closed port for an hour, on two hosts, one over
/// SSH): a second Ctrl-C, or SIGTERM, stops it at once with the recap and 99, and nothing of
/// the wait is left on the hosts.
#[test]
fn a_second_ctrl_c_or_sigterm_during_a_wait_that_never_ends_stops_it_at_once() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = closed.local_addr().expect("addr").port();
    drop(closed);
    for signals in [&["-INT", "-INT"][..], &["-TERM"]] {
        let lab = prov_testkit::Lab::start(1).expect("lab (needs openssh-server)");
        let work = tempfile::tempdir().expect("tempdir");
        let mut inv = std::fs::read_to_string(lab.inventory()).expect("inventory");
        inv.push_str("\nlocal1 ansible_connection=local\n");
        std::fs::write(work.path().join("hosts.ini"), inv).expect("inventory");
        std::fs::write(
            work.path().join("pb.yml"),
            format!("- hosts: all\n  gather_facts: false\n  tasks:\n    - name: wait\n      wait_for: {{port: {port}, timeout: 3600}}\n    - name: never\n      command: \"true\"\n"),
        )
        .expect("playbook");
        let kh = lab.known_hosts().display().to_string();
        let mut child = apply_json(work.path(), &["--known-hosts", &kh]);
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = Vec::new();
        let mut started = 0;
        let mut sent_at = None;
        for line in std::io::BufReader::new(stdout).lines() {
            let v: Json = serde_json::from_str(&line.expect("line")).expect("json event");
            if v["event"] == "task_start" && v["name"] == "wait" {
                started += 1;
            }
            if sent_at.is_none() && started == 2 {
                // Both hosts are in the wait.
                std::thread::sleep(std::time::Duration::from_secs(2));
                for (i, sig) in signals.iter().enumerate() {
                    if i > 0 {
                        std::thread::sleep(std::time::Duration::from_millis(300));
                    }
                    let st = Command::new("kill").args([*sig, &child.id().to_string()]).status().expect("kill");
                    assert!(st.success());
                }
                sent_at = Some(std::time::Instant::now());
            }
            lines.push(v);
        }
        let status = child.wait().expect("exit");
        let sent_at = sent_at.expect("the wait never started");
        // A guard against a hang, not a timing: the wait itself is an hour.
        assert!(sent_at.elapsed() < std::time::Duration::from_secs(60), "{signals:?}: prov went on waiting");
        assert_eq!(status.code(), Some(99), "{signals:?}: {lines:?}");
        let recap = lines.iter().rev().find(|e| e["event"] == "recap").expect("recap printed");
        assert_eq!(recap["interrupted"], true);
        assert_eq!(recap["hosts"].as_array().map(Vec::len), Some(2), "{recap}");
        assert!(!lines.iter().any(|e| e["event"] == "task_start" && e["name"] == "never"), "{lines:?}");
        assert_no_sessions_left(&lab, "after the interrupted wait");
    }
}
