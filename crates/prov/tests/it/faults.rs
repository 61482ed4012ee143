//! Fault injection over real SSH (issue 14): a revoked host key, and `kill -9` of prov in the
//! middle of a large `copy`. Each ends with what is left on the target.

use crate::util::{json_events, prov, recap_changed};
use prov_testkit::Lab;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The lab's host key as `ALGO KEY`.
fn host_key(lab: &Lab) -> String {
    let public = std::fs::read_to_string(lab.dir().join("ssh_host_ed25519_key.pub")).expect("host key");
    public.split_whitespace().take(2).collect::<Vec<_>>().join(" ")
}

#[test]
fn a_revoked_host_key_is_refused_naming_its_line_and_is_never_learned() {
    let lab = Lab::start(2).expect("lab (needs openssh-server)");
    let work = tempfile::tempdir().expect("tempdir");
    std::fs::copy(lab.inventory(), work.path().join("hosts.ini")).expect("inventory");
    // h01 is known; h02's key (the same key: one per lab) is revoked for h02 only, and h02
    // has no other line, so accept-new would learn it if it ignored the mark.
    let (key, port) = (host_key(&lab), lab.port);
    let (a1, a2) = (lab.hosts[0].addr, lab.hosts[1].addr);
    let kh = work.path().join("known_hosts");
    let recorded = format!("[{a1}]:{port} {key}\n@revoked [{a2}]:{port} {key}\n");
    std::fs::write(&kh, &recorded).expect("known_hosts");
    let kh_s = kh.display().to_string();
    for checking in ["strict", "accept-new"] {
        let out = prov(
            work.path(),
            &[
                "run",
                "all",
                "-i",
                "hosts.ini",
                "--known-hosts",
                &kh_s,
                "--host-key-checking",
                checking,
                "--output",
                "json",
                "--",
                "true",
            ],
        );
        let (code, events, all) = json_events(&out);
        assert_eq!(code, 4, "{checking}: a revoked key makes its host unreachable:\n{all}");
        let line = all
            .lines()
            .find(|l| l.contains("is revoked"))
            .unwrap_or_else(|| panic!("{checking}: no message about the revoked key:\n{all}"));
        assert!(line.contains("h02") && line.contains(&format!("{kh_s}:2")), "{checking}: {line}");
        let recap = events.iter().rev().find(|e| e["event"] == "recap").expect("recap");
        let host = |name: &str| {
            recap["hosts"].as_array().expect("hosts").iter().find(|h| h["host"] == name).cloned().expect("in recap")
        };
        assert_eq!(host("h02")["unreachable"], 1, "{checking}: {recap}");
        assert_eq!((host("h01")["unreachable"].as_u64(), host("h01")["failed"].as_u64()), (Some(0), Some(0)));
        assert_eq!(std::fs::read_to_string(&kh).expect("known_hosts"), recorded, "{checking}: the key was learned");
    }
}

/// Waits (up to 10 s) until the lab's sshd processes serve no session: nothing of a run is
/// left in a session on the targets.
pub(crate) fn assert_no_sessions_left(lab: &Lab, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left = lab.session_processes();
        if left.is_empty() {
            return;
        }
        assert!(Instant::now() < deadline, "{what}: processes left on the target: {left:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The `.NAME.prov-tmp-*` files in `dir`, with their modes.
fn temp_files(dir: &Path) -> Vec<(PathBuf, u32)> {
    std::fs::read_dir(dir)
        .expect("dir")
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains(".prov-tmp-"))
        .map(|e| (e.path(), e.metadata().expect("metadata").permissions().mode() & 0o7777))
        .collect()
}

#[test]
fn kill_9_during_a_large_copy_leaves_only_a_private_temp_file_that_the_next_run_removes() {
    interrupted_copy(&["-KILL"]);
}

/// SIGTERM, or a second Ctrl-C, in the middle of a large copy: prov stops the transfer,
/// removes its temporary file, prints the recap (the copy failed) and exits 99; the next run
/// makes the copy and the one after changes nothing.
#[test]
fn sigterm_or_a_second_ctrl_c_during_a_large_copy_leaves_no_temp_file() {
    interrupted_copy(&["-TERM"]);
    interrupted_copy(&["-INT", "-INT"]);
}

/// A large `copy` to a lab host interrupted by `signals` once its temporary file holds some
/// bytes; then what is left on the host, and two more runs (the copy made, then nothing).
fn interrupted_copy(signals: &[&str]) {
    let lab = Lab::start(1).expect("lab (needs openssh-server)");
    let work = tempfile::tempdir().expect("tempdir");
    std::fs::copy(lab.inventory(), work.path().join("hosts.ini")).expect("inventory");
    // 96 MiB that do not compress, written in 1 MiB pieces of a cheap generator.
    let big = work.path().join("big.bin");
    {
        use std::io::Write;
        let mut f = std::io::BufWriter::new(std::fs::File::create(&big).expect("big file"));
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15 ^ u64::from(std::process::id());
        let mut buf = vec![0u8; 1 << 20];
        for _ in 0..96 {
            for chunk in buf.chunks_mut(8) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                chunk.copy_from_slice(&x.to_le_bytes());
            }
            f.write_all(&buf).expect("write");
        }
    }
    let dest_dir = lab.hosts[0].root.join("srv");
    std::fs::create_dir_all(&dest_dir).expect("dest dir");
    std::fs::write(
        work.path().join("pb.yml"),
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - name: secret copy\n      copy:\n        src: big.bin\n        dest: \"{{ host_root }}/srv/secret.bin\"\n        mode: \"0640\"\n",
    )
    .expect("playbook");
    let kh = lab.known_hosts().display().to_string();
    let args = ["apply", "pb.yml", "-i", "hosts.ini", "--known-hosts", &kh, "--output", "json"];

    // Run 1: interrupted once the temp file has some of the bytes.
    let mut child = Command::new(env!("CARGO_BIN_EXE_prov"))
        .args(args)
        .current_dir(work.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("prov starts");
    let stdout = child.stdout.take().expect("stdout");
    let reader = std::thread::spawn(move || std::io::read_to_string(stdout).unwrap_or_default());
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let partial = temp_files(&dest_dir).iter().any(|(p, _)| std::fs::metadata(p).is_ok_and(|m| m.len() > 0));
        if partial {
            break;
        }
        assert!(child.try_wait().expect("wait").is_none(), "the copy ended before prov could be killed");
        assert!(Instant::now() < deadline, "the temp file never appeared");
        std::thread::sleep(Duration::from_millis(2));
    }
    assert!(!lab.session_processes().is_empty(), "the check for sessions left sees the transfer's");
    for (i, sig) in signals.iter().enumerate() {
        if i > 0 {
            std::thread::sleep(Duration::from_millis(200));
        }
        let st = Command::new("kill").args([*sig, &child.id().to_string()]).status().expect("kill");
        assert!(st.success());
    }
    let status = child.wait().expect("reaped");
    let out = reader.join().expect("reader");
    assert_no_sessions_left(&lab, &format!("after kill {signals:?}"));
    let left = temp_files(&dest_dir);
    if signals == ["-KILL"] {
        assert!(!left.is_empty(), "the killed transfer left no temp file (nothing was tested)");
        for (p, mode) in &left {
            assert_eq!(mode & 0o077, 0, "{} is readable by others: {mode:o}", p.display());
        }
    } else {
        assert_eq!(status.code(), Some(99), "{signals:?}: {out}");
        assert!(out.contains("\"interrupted\":true"), "{signals:?}: no recap: {out}");
        assert_eq!(left, Vec::<(PathBuf, u32)>::new(), "{signals:?}: the interrupted transfer left its temp file");
    }
    assert!(!dest_dir.join("secret.bin").exists(), "a partial copy reached the destination");

    // Run 2: the copy is made and the dead run's temp file is gone.
    let out = prov(work.path(), &args);
    let (code, events, all) = json_events(&out);
    assert_eq!(code, 0, "{all}");
    assert_eq!(recap_changed(&events), 1, "{all}");
    assert_eq!(temp_files(&dest_dir), Vec::<(PathBuf, u32)>::new(), "stale temp files stay");
    let written = std::fs::metadata(dest_dir.join("secret.bin")).expect("copied");
    assert_eq!(written.len(), 96 << 20);
    assert_eq!(written.permissions().mode() & 0o7777, 0o640);
    assert!(std::fs::read(dest_dir.join("secret.bin")).expect("read") == std::fs::read(&big).expect("read"));

    // Run 3: converged.
    let out = prov(work.path(), &args);
    let (code, events, all) = json_events(&out);
    assert_eq!(code, 0, "{all}");
    assert_eq!(recap_changed(&events), 0, "{all}");
    assert_no_sessions_left(&lab, "after the last run");
}

/// `environment:` values of a task with `become` (sudo) never appear on a command line of the
/// target (`ps`, sudo's log), as in ansible-core, where they travel inside the module's file:
/// prov's remote shell hands sudo its command on standard input. Without `become` they are
/// exported inside the remote shell, never in argv either.
#[test]
fn environment_values_never_reach_a_command_line_with_or_without_become() {
    let lab = Lab::start(1).expect("lab (needs openssh-server)");
    let work = tempfile::tempdir().expect("tempdir");
    let mut inv = std::fs::read_to_string(lab.inventory()).expect("inventory");
    inv.push_str("\n[lab:vars]\nansible_become_method=sudo\n");
    std::fs::write(work.path().join("hosts.ini"), inv).expect("inventory");
    let secret = format!("s3cr3t-{}", std::process::id());
    let marker = format!("sleep 3.{:03}", std::process::id() % 1000);
    std::fs::write(
        work.path().join("pb.yml"),
        format!(
            "- hosts: all\n  gather_facts: false\n  tasks:\n    - shell: \"{marker}; printf %s \\\"$TOKEN\\\" > {{{{ host_root }}}}/with-become\"\n      become: true\n      environment: {{TOKEN: {secret}}}\n    - shell: \"{marker}; printf %s \\\"$TOKEN\\\" > {{{{ host_root }}}}/without\"\n      environment: {{TOKEN: {secret}}}\n"
        ),
    )
    .expect("playbook");
    let kh = lab.known_hosts().display().to_string();
    let mut child = Command::new(env!("CARGO_BIN_EXE_prov"))
        .args(["apply", "pb.yml", "-i", "hosts.ini", "--known-hosts", &kh, "--output", "json"])
        .current_dir(work.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("prov starts");
    let stdout = child.stdout.take().expect("stdout");
    let reader = std::thread::spawn(move || std::io::read_to_string(stdout).unwrap_or_default());
    // Every process's command line, sampled while the two commands run.
    let mut seen = std::collections::BTreeSet::new();
    let mut ran = 0;
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().expect("wait").is_none() {
        assert!(Instant::now() < deadline, "the run did not end");
        let all = prov_testkit::processes_with("");
        if all.iter().any(|c| c.contains(&marker)) {
            ran += 1;
        }
        seen.extend(all.into_iter().filter(|c| c.contains(&secret)));
        std::thread::sleep(Duration::from_millis(5));
    }
    let out = reader.join().expect("reader");
    assert!(ran > 0, "the commands were never seen running: {out}");
    assert!(out.contains("\"changed\":2"), "{out}");
    for f in ["with-become", "without"] {
        let got = std::fs::read_to_string(lab.hosts[0].root.join(f)).expect("the task's file");
        assert_eq!(got, secret, "{f}: the command saw the variable");
    }
    assert_eq!(seen, std::collections::BTreeSet::new(), "the secret was on a command line");
}
