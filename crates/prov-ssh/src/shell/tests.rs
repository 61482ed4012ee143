//! The framing, parsed from canned bytes and run against a local `sh` through pipes (the
//! same scripts a remote shell gets; `tests/` drives them over real SSH).

use super::*;
use prov_testkit::processes_with;
use std::process::Stdio;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, ChildStderr, ChildStdin, ChildStdout};

fn frame_with(token: &str) -> Frame {
    Protocol { token: token.into() }.frame()
}

#[test]
fn frame_ends_at_both_trailers_even_when_split() {
    let mut f = frame_with("TOK");
    f.push_stdout(b"hello wor").unwrap();
    f.push_stdout(b"ldT").unwrap();
    f.push_stdout(b"O").unwrap();
    assert!(!f.done());
    f.push_stdout(b"K 3").unwrap();
    assert!(!f.done(), "the status is complete only at its newline");
    f.push_stdout(b"\n").unwrap();
    assert!(!f.done(), "stderr's trailer is still missing");
    f.push_stderr(b"oops\nTO");
    f.push_stderr(b"K\n");
    assert!(f.done());
    let out = f.into_output();
    assert_eq!((out.rc, &out.stdout[..], &out.stderr[..]), (3, &b"hello world"[..], &b"oops\n"[..]));
}

#[test]
fn the_job_pid_is_taken_out_of_the_error_output_wherever_it_falls() {
    let mut f = frame_with("TOK");
    f.push_stderr(b"partial line TO");
    assert_eq!(f.pid(), None);
    f.push_stderr(b"Kpid 4");
    f.push_stderr(b"2\nrest\nTOK\n");
    f.push_stdout(b"TOK 0\n").unwrap();
    assert_eq!(f.pid(), Some(42));
    assert!(f.done());
    assert_eq!(f.into_output().stderr, b"partial line rest\n");
}

#[tokio::test]
async fn a_killed_command_takes_its_whole_process_tree_with_it() {
    for (n, argv) in shells().into_iter().enumerate() {
        let mut sh = LocalShell::start_with(argv).await;
        let marker = format!("{}.{n}", 86400 + std::process::id() % 1000);
        let cmd = format!("sh -c 'sleep {marker}; echo child done' & sleep {marker}; echo never");
        let script = sh.proto.script(&ExecRequest::new(cmd), Base64::Missing).expect("a script");
        let pid = AtomicI32::new(0);
        let killer = async {
            while pid.load(Ordering::SeqCst) == 0 {
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
            // Let the tree grow, then kill it the way the connection does.
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            assert_eq!(processes_with(&format!("sleep {marker}")).len(), 3, "{argv:?}: sh -c, its sleep, the sleep");
            let st = tokio::process::Command::new("sh")
                .args(["-c", &kill_tree_script(pid.load(Ordering::SeqCst), 1)])
                .status()
                .await
                .expect("sh");
            assert!(st.success());
        };
        let (out, ()) = tokio::join!(sh.exchange(script, Some(&pid)), killer);
        let out = out.expect("the frame ends when the job is killed");
        assert_ne!(out.rc, 0, "{argv:?}");
        assert!(!out.stdout_str().contains("never") && !out.stdout_str().contains("child done"), "{argv:?}");
        assert_eq!(processes_with(&format!("sleep {marker}")), Vec::<String>::new(), "{argv:?}: left running");
        // The shell goes on with the next command.
        assert_eq!(sh.run(ExecRequest::new("echo next")).await.stdout_str(), "next\n");
    }
}

#[test]
fn frame_keeps_any_bytes_and_drops_what_follows_the_trailer() {
    let mut f = frame_with("TOK");
    f.push_stdout(b"\xff\x00no newline at the endTOK 0\nlate output").unwrap();
    f.push_stdout(b"more late output").unwrap();
    f.push_stderr(b"TOK\n");
    let out = f.into_output();
    assert_eq!(out.stdout, b"\xff\x00no newline at the end");
    assert_eq!(out.rc, 0);
    let mut f = frame_with("TOK");
    assert!(f.push_stdout(b"TOK what\n").is_err(), "a status that is not a number is an error");
}

#[test]
fn base64_matches_the_rfc_vectors() {
    for (plain, enc) in [
        ("", ""),
        ("f", "Zg=="),
        ("fo", "Zm8="),
        ("foo", "Zm9v"),
        ("foob", "Zm9vYg=="),
        ("fooba", "Zm9vYmE="),
        ("foobar", "Zm9vYmFy"),
    ] {
        assert_eq!(encode_base64(plain.as_bytes()), enc);
    }
}

#[test]
fn tokens_differ_and_names_are_checked() {
    assert_ne!(random_token(), random_token());
    assert!(is_name("PATH") && is_name("_x1") && !is_name("1x") && !is_name("A-B") && !is_name(""));
}

#[test]
fn what_cannot_go_through_a_shell() {
    let p = Protocol::new();
    assert!(p.script(&ExecRequest::new("echo a\0b"), Base64::Present).is_none());
    let with_input = ExecRequest::new("cat").with_stdin(b"x".to_vec());
    assert!(p.script(&with_input, Base64::Missing).is_none());
    assert!(p.script(&with_input, Base64::Present).is_some());
    let big = ExecRequest::new("cat").with_stdin(vec![b'x'; MAX_INLINE_STDIN + 1]);
    assert!(p.script(&big, Base64::Present).is_none());
}

/// A local `sh` fed the same scripts as a remote one.
struct LocalShell {
    _child: Child,
    stdin: ChildStdin,
    stdout: ChildStdout,
    stderr: ChildStderr,
    proto: Protocol,
    base64: Base64,
}

impl LocalShell {
    async fn start_with(argv: &[&str]) -> LocalShell {
        let mut child = tokio::process::Command::new(argv[0])
            .args(&argv[1..])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("sh runs");
        let mut s = LocalShell {
            stdin: child.stdin.take().expect("piped"),
            stdout: child.stdout.take().expect("piped"),
            stderr: child.stderr.take().expect("piped"),
            _child: child,
            proto: Protocol::new(),
            base64: Base64::Missing,
        };
        let hello = s.proto.hello();
        let out = s.exchange(hello, None).await.expect("greeting");
        s.base64 = if out.rc == 0 { Base64::Present } else { Base64::Missing };
        s
    }

    async fn run(&mut self, req: ExecRequest) -> ExecOutput {
        let script = self.proto.script(&req, self.base64).expect("goes through the shell");
        self.exchange(script, None).await.expect("a complete frame")
    }

    async fn exchange(&mut self, script: Vec<u8>, pid: Option<&AtomicI32>) -> Option<ExecOutput> {
        self.stdin.write_all(&script).await.ok()?;
        let mut f = self.proto.frame();
        let (mut a, mut b) = (vec![0u8; 65536], vec![0u8; 65536]);
        while !f.done() {
            tokio::select! {
                n = self.stdout.read(&mut a) => match n.ok()? { 0 => return None, n => f.push_stdout(&a[..n]).ok()? },
                n = self.stderr.read(&mut b) => match n.ok()? { 0 => return None, n => f.push_stderr(&b[..n]) },
            }
            if let (Some(slot), Some(p)) = (pid, f.pid()) {
                slot.store(p, Ordering::SeqCst);
            }
        }
        Some(f.into_output())
    }
}

#[tokio::test]
async fn status_output_and_errors_of_many_commands_on_one_shell() {
    for argv in shells() {
        many_commands(&mut LocalShell::start_with(argv).await).await;
    }
}

/// `sh`, and the other shells a target's `sh` may be where this machine has them (bash reads
/// a script from a pipe in blocks and seeks back where it can; dash reads it byte by byte).
fn shells() -> Vec<&'static [&'static str]> {
    let all: [&[&str]; 3] = [&["sh"], &["bash", "--posix"], &["busybox", "sh"]];
    all.into_iter()
        .filter(|argv| {
            std::process::Command::new(argv[0])
                .args(&argv[1..])
                .args(["-c", "true"])
                .status()
                .is_ok_and(|s| s.success())
        })
        .collect()
}

async fn many_commands(sh: &mut LocalShell) {
    let out = sh.run(ExecRequest::new("echo out; echo err >&2; exit 3")).await;
    assert_eq!((out.rc, out.stdout_str().as_str(), out.stderr_str().as_str()), (3, "out\n", "err\n"));
    // `exit`, `cd`, variables and `set -e` stay in the command's subshell.
    let out = sh.run(ExecRequest::new("cd /; X=1; set -e; false; echo never")).await;
    assert_eq!((out.rc, out.stdout_str().as_str()), (1, ""));
    let out = sh.run(ExecRequest::new("pwd; echo \"x=${X:-unset}\"")).await;
    assert_ne!(out.stdout_str().lines().next(), Some("/"));
    assert!(out.stdout_str().ends_with("x=unset\n"), "{}", out.stdout_str());
    // A syntax error fails that command only.
    let out = sh.run(ExecRequest::new("if then fi (")).await;
    assert_ne!(out.rc, 0);
    assert!(!out.stderr.is_empty());
    // Quotes, newlines and a here-document inside the command.
    let out = sh.run(ExecRequest::new("cat <<'EOT'\nit's \"$HOME\"\nEOT\nprintf '%s\\n' 'a\nb'")).await;
    assert_eq!(out.stdout_str(), "it's \"$HOME\"\na\nb\n");
    let out = sh.run(ExecRequest::new("echo ok")).await;
    assert_eq!((out.rc, out.stdout_str().as_str()), (0, "ok\n"));
}

#[tokio::test]
async fn commands_that_read_stdin_do_not_eat_the_next_command() {
    for argv in shells() {
        reads_stdin(&mut LocalShell::start_with(argv).await).await;
    }
}

async fn reads_stdin(sh: &mut LocalShell) {
    // No input: stdin is /dev/null, so `cat` ends at once and `read` fails.
    let out = sh.run(ExecRequest::new("cat; read x || echo eof")).await;
    assert_eq!((out.rc, out.stdout_str().as_str()), (0, "eof\n"));
    assert_eq!(sh.run(ExecRequest::new("echo next")).await.stdout_str(), "next\n");
    // Input: any bytes, exactly, then end of file.
    let data: Vec<u8> = (0..=255u8).cycle().take(200_000).collect();
    let out = sh.run(ExecRequest::new("cat; echo done >&2").with_stdin(data.clone())).await;
    assert_eq!(out.rc, 0);
    assert!(out.stdout == data, "stdin arrives byte for byte ({} of {} bytes)", out.stdout.len(), data.len());
    assert_eq!(out.stderr_str(), "done\n");
    let out = sh.run(ExecRequest::new("head -c 1 >/dev/null; echo read one").with_stdin(b"abc".to_vec())).await;
    assert_eq!(out.stdout_str(), "read one\n");
    let out = sh.run(ExecRequest::new("wc -c").with_stdin(Vec::new())).await;
    assert_eq!(out.stdout_str().trim(), "0");
    assert_eq!(sh.run(ExecRequest::new("echo still framed")).await.stdout_str(), "still framed\n");
}

#[tokio::test]
async fn binary_and_large_output() {
    let mut sh = LocalShell::start_with(&["sh"]).await;
    let out = sh.run(ExecRequest::new("printf '\\377\\000\\376'; printf '\\001' >&2")).await;
    assert_eq!((out.stdout.as_slice(), out.stderr.as_slice()), (&b"\xff\x00\xfe"[..], &b"\x01"[..]));
    let out = sh.run(ExecRequest::new("head -c 3000000 /dev/zero | tr '\\000' x; head -c 100000 /dev/zero >&2")).await;
    assert_eq!((out.rc, out.stdout.len(), out.stderr.len()), (0, 3_000_000, 100_000));
    assert!(out.stdout.iter().all(|&b| b == b'x') && out.stderr.iter().all(|&b| b == 0));
}

#[tokio::test]
async fn environment_is_applied_per_command() {
    let mut sh = LocalShell::start_with(&["sh"]).await;
    let mut req = ExecRequest::new("echo \"$A|$B_2\"; sh -c 'echo $A'");
    req.env = vec![("A".into(), "1 'two'".into()), ("B_2".into(), "$x".into())];
    assert_eq!(sh.run(req).await.stdout_str(), "1 'two'|$x\n1 'two'\n");
    assert_eq!(sh.run(ExecRequest::new("echo \"${A-unset}\"")).await.stdout_str(), "unset\n");
    // A name `export` cannot take goes through `env ... sh -c` (as `shell_line` builds it).
    let mut req = ExecRequest::new("echo ran");
    req.env = vec![("A-B".into(), "v".into())];
    let script = String::from_utf8(sh.proto.script(&req, Base64::Present).expect("a script")).expect("text");
    assert!(script.contains("env A-B=v sh -c"), "{script}");
    assert_eq!(sh.run(req).await.stdout_str(), "ran\n");
}

/// With `become` through sudo, the command and its environment reach sudo on its standard
/// input: sudo's arguments (what `ps` and sudo's log show) are only the user and a fixed
/// reader. Run here with a stand-in `sudo` that drops its options and runs the rest.
#[tokio::test]
async fn sudo_gets_the_command_on_its_input_not_in_its_arguments() {
    use prov_core::connection::{Become, BecomeMethod};
    let p = Protocol::new();
    let mut req = ExecRequest::new("printf '%s' \"$SECRET\"")
        .with_become(Some(Become { user: "root".into(), method: BecomeMethod::Sudo }));
    req.env = vec![("SECRET".into(), "s3cr3t".into())];
    let script = String::from_utf8(p.script(&req, Base64::Present).expect("a script")).expect("text");
    let sudo_line = script.lines().find(|l| l.contains("sudo ")).expect("a sudo line");
    assert!(sudo_line.contains("sudo -n -H -u root -- sh -c 'eval \"$(cat)\"' <<"), "{sudo_line}");
    assert!(!sudo_line.contains("s3cr3t") && !sudo_line.contains("printf"), "{sudo_line}");

    let dir = tempfile::tempdir().expect("tempdir");
    let fake = dir.path().join("sudo");
    std::fs::write(&fake, "#!/bin/sh\nwhile [ \"$1\" != -- ]; do shift; done; shift; exec \"$@\"\n")
        .expect("fake sudo");
    std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755)).expect("chmod");
    let path = format!("PATH={}:/usr/bin:/bin", dir.path().display());
    let mut sh = LocalShell::start_with(&["env", &path, "sh"]).await;
    assert_eq!(sh.run(req).await.stdout_str(), "s3cr3t");
}
