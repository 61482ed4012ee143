//! Ctrl-C: no new tasks start, running commands end, the recap is printed, exit 99.

use serde_json::Value as Json;
use std::io::BufRead;
use std::process::{Command, Stdio};

#[test]
fn ctrl_c_lets_running_commands_end_then_stops_with_99() {
    let work = tempfile::tempdir().expect("tempdir");
    let marker = work.path().join("second-task-ran");
    std::fs::write(work.path().join("hosts.ini"), "a ansible_connection=local\nb ansible_connection=local\n")
        .expect("inventory");
    std::fs::write(
        work.path().join("pb.yml"),
        format!(
            "- hosts: all\n  gather_facts: false\n  tasks:\n    - name: long\n      command: sleep 1\n    - name: never\n      command: touch {}\n",
            marker.display()
        ),
    )
    .expect("playbook");
    let mut child = Command::new(env!("CARGO_BIN_EXE_prov"))
        .args(["apply", "pb.yml", "-i", "hosts.ini", "--output", "json"])
        .current_dir(work.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("prov starts");
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
