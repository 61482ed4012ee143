//! [`SshConnection`] against a real sshd ([`prov_testkit::Lab`]): the `Connection` contract
//! over remote shells, and what happens around them (timeouts, concurrency, sudo).

use super::*;
use prov_core::connection::BecomeMethod;
use prov_testkit::{processes_with, Lab};

async fn open(lab: &Lab) -> SshConnection {
    let h = &lab.hosts[0];
    let target = SshTarget {
        host: h.addr.to_string(),
        port: lab.port,
        user: std::env::var("USER").unwrap_or_else(|_| "root".into()),
        identity_files: vec![lab.client_key()],
        display_name: h.name.clone(),
    };
    let opts = SshOptions { known_hosts: vec![lab.known_hosts()], ..Default::default() };
    connect(&target, &opts).await.expect("connects to the lab host")
}

/// The pid of the shell that runs commands (`$$` is the parent shell's pid in a subshell).
async fn shell_pid(c: &SshConnection) -> String {
    c.exec(ExecRequest::new("echo $$")).await.expect("runs").stdout_str()
}

#[tokio::test]
async fn commands_share_one_remote_shell_and_keep_the_contract() {
    let lab = Lab::start(1).expect("lab (needs openssh-server)");
    let c = open(&lab).await;
    let first = shell_pid(&c).await;
    let out = c.exec(ExecRequest::new("printf 'a\\377'; echo err >&2; exit 4")).await.expect("runs");
    assert_eq!((out.rc, out.stdout.as_slice(), out.stderr_str().as_str()), (4, &b"a\xff"[..], "err\n"));
    let data: Vec<u8> = (0..=255u8).cycle().take(300_000).collect();
    let out = c.exec(ExecRequest::new("cat").with_stdin(data.clone())).await.expect("runs");
    assert!(out.stdout == data, "stdin and stdout byte for byte ({} bytes back)", out.stdout.len());
    let out = c.exec(ExecRequest::new("cat; echo after")).await.expect("runs");
    assert_eq!(out.stdout_str(), "after\n", "no input means end of file at once");
    let mut req = ExecRequest::new("echo \"$GREETING\"");
    req.env.push(("GREETING".into(), "hi there".into()));
    assert_eq!(c.exec(req).await.expect("runs").stdout_str(), "hi there\n");
    let out = c.exec(ExecRequest::new("head -c 2000000 /dev/zero")).await.expect("runs");
    assert_eq!(out.stdout.len(), 2_000_000);
    assert_eq!(shell_pid(&c).await, first, "every command ran in the same remote shell");
    // Input too large for the shell goes through an exec channel, streamed.
    let big = vec![b'y'; MAX_INLINE_STDIN + 10];
    let out = c.exec(ExecRequest::new("wc -c").with_stdin(big)).await.expect("runs");
    assert_eq!(out.stdout_str().trim(), (MAX_INLINE_STDIN + 10).to_string());
    assert_eq!(shell_pid(&c).await, first);
}

#[tokio::test]
async fn a_timeout_ends_that_shell_and_the_next_command_gets_a_new_one() {
    let lab = Lab::start(1).expect("lab (needs openssh-server)");
    let c = open(&lab).await;
    let first = shell_pid(&c).await;
    let mut req = ExecRequest::new("echo started; sleep 5");
    req.timeout = Some(Duration::from_millis(300));
    assert!(matches!(c.exec(req).await, Err(ConnectionError::Timeout { .. })));
    let out = c.exec(ExecRequest::new("echo fresh")).await.expect("runs after a timeout");
    assert_eq!(out.stdout_str(), "fresh\n", "no leftovers of the timed-out command");
    assert_ne!(shell_pid(&c).await, first, "the timed-out shell is not reused");
}

#[tokio::test]
async fn a_timed_out_command_is_killed_with_its_children_with_and_without_become() {
    let lab = Lab::start(1).expect("lab (needs openssh-server)");
    let c = open(&lab).await;
    for (n, b) in [None, Some(Become { user: "root".into(), method: BecomeMethod::Sudo })].into_iter().enumerate() {
        let marker = format!("sleep 6{}.{n}", std::process::id() % 1000);
        let mut req = ExecRequest::new(format!("sh -c '{marker}; echo' & {marker}")).with_become(b);
        req.timeout = Some(Duration::from_millis(500));
        assert!(matches!(c.exec(req).await, Err(ConnectionError::Timeout { .. })));
        assert_eq!(processes_with(&marker), Vec::<String>::new(), "left running on the target");
    }
}

/// Starts `n` commands at once that each leave 3 processes named after `marker` (`marker` is
/// a `sleep` of thousands of seconds) until they are killed.
fn spawn_sleepers(
    c: &Arc<SshConnection>,
    marker: &str,
    n: usize,
) -> Vec<tokio::task::JoinHandle<Result<ExecOutput, ConnectionError>>> {
    (0..n)
        .map(|_| {
            let (c, m) = (c.clone(), marker.to_string());
            tokio::spawn(async move { c.exec(ExecRequest::new(format!("sh -c '{m}; echo' & {m}"))).await })
        })
        .collect()
}

#[tokio::test]
async fn cancel_kills_what_is_running_and_the_commands_return() {
    let lab = Lab::start(1).expect("lab (needs openssh-server)");
    let c = Arc::new(open(&lab).await);
    let marker = format!("sleep 5{}.9", std::process::id() % 1000);
    let runs = spawn_sleepers(&c, &marker, 3);
    while processes_with(&marker).len() < 6 {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    c.cancel().await;
    for r in runs {
        let out = r.await.expect("joins").expect("a result, not a lost host");
        assert_ne!(out.rc, 0);
    }
    assert_eq!(processes_with(&marker), Vec::<String>::new(), "left running on the target");
    assert_eq!(c.exec(ExecRequest::new("echo alive")).await.expect("runs").stdout_str(), "alive\n");
}

#[tokio::test]
async fn concurrent_commands_on_one_host() {
    let lab = Lab::start(1).expect("lab (needs openssh-server)");
    let c = open(&lab).await;
    // More at once than there are shells: the rest get exec channels.
    let runs = (0..12).map(|i| {
        let c = &c;
        async move { c.exec(ExecRequest::new(format!("sleep 0.2; echo {i}"))).await }
    });
    let outs = futures_util::future::join_all(runs).await;
    for (i, out) in outs.into_iter().enumerate() {
        let out = out.expect("runs");
        assert_eq!((out.rc, out.stdout_str()), (0, format!("{i}\n")));
    }
    assert!(c.live.load(Ordering::SeqCst) <= MAX_SHELLS);
    assert_eq!(c.exec(ExecRequest::new("echo ok")).await.expect("runs").stdout_str(), "ok\n");
}

#[tokio::test]
async fn a_shell_that_dies_during_a_command_is_replaced() {
    let lab = Lab::start(1).expect("lab (needs openssh-server)");
    let c = open(&lab).await;
    let out = c.exec(ExecRequest::new("echo before; kill -9 $$")).await.expect("not an error");
    // What the shell wrote just before it died may or may not have left sshd before the
    // channel closed (a race on the server); nothing else may appear.
    assert_eq!(out.rc, -1);
    assert!(matches!(out.stdout_str().as_str(), "" | "before\n"), "{:?}", out.stdout_str());
    assert!(out.stderr_str().contains("remote shell ended"), "{}", out.stderr_str());
    assert_eq!(c.exec(ExecRequest::new("echo again")).await.expect("runs").stdout_str(), "again\n");
}

#[tokio::test]
async fn become_through_the_shell() {
    let lab = Lab::start(1).expect("lab (needs openssh-server)");
    let c = open(&lab).await;
    let b = Become { user: "nobody".into(), method: BecomeMethod::Sudo };
    let out = c.exec(ExecRequest::new("id -un").with_become(Some(b.clone()))).await.expect("runs");
    assert_eq!((out.rc, out.stdout_str().as_str()), (0, "nobody\n"), "{}", out.stderr_str());
    let root = Become { user: "root".into(), method: BecomeMethod::Sudo };
    let path = lab.hosts[0].root.join("by-sudo");
    let path = path.to_str().expect("utf-8");
    c.put(path, b"\x00binary\xff", Some(0o600), Some(&root)).await.expect("writes through sudo");
    assert_eq!(c.get(path, Some(&root)).await.expect("reads").as_deref(), Some(&b"\x00binary\xff"[..]));
    assert_eq!(c.get(&format!("{path}.absent"), Some(&root)).await.expect("reads"), None);
}

#[test]
fn handshakes_are_throttled_per_server() {
    let t = ServerThrottle::new(2);
    let a = t.server("10.0.0.1", 22);
    assert!(Arc::ptr_eq(&a, &t.server("10.0.0.1", 22)), "one semaphore per server");
    assert!(!Arc::ptr_eq(&a, &t.server("10.0.0.1", 2222)), "the port is part of the server");
    assert!(!Arc::ptr_eq(&a, &t.server("10.0.0.2", 22)));
    let _held = (a.try_acquire().expect("first"), a.try_acquire().expect("second"));
    assert!(a.try_acquire().is_err(), "at most 2 at once to one server");
    assert!(t.server("10.0.0.2", 22).try_acquire().is_ok(), "another server is not held up");
}

#[tokio::test]
async fn put_writes_privately_leaves_no_temporary_file_and_removes_stale_ones() {
    use std::os::unix::fs::PermissionsExt;
    let lab = Lab::start(1).expect("lab (needs openssh-server)");
    let c = open(&lab).await;
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    // Left by a run killed mid-transfer, readable by everyone as the old names were.
    let stale = dir.path().join(".secret.prov-tmp-0123456789abcdef");
    std::fs::write(&stale, "partial").expect("write");
    let f = dir.path().join("secret");
    let fs = f.to_str().expect("utf-8");
    c.put(fs, b"s3cret", Some(0o600), None).await.expect("put over SFTP");
    let names = |d: &std::path::Path| -> Vec<String> {
        let mut v: Vec<String> =
            std::fs::read_dir(d).expect("ls").map(|e| e.expect("entry").file_name().to_string_lossy().into()).collect();
        v.sort();
        v
    };
    assert_eq!(names(dir.path()), ["secret"]);
    assert_eq!(std::fs::metadata(&f).expect("meta").permissions().mode() & 0o777, 0o600);
    assert_eq!(std::fs::read(&f).expect("read"), b"s3cret");
    // The same through `become` (sudo, the streamed path).
    std::fs::write(&stale, "partial").expect("write");
    let b = Become { user: "root".into(), method: BecomeMethod::Sudo };
    c.put(fs, b"again", Some(0o640), Some(&b)).await.expect("put with become");
    assert_eq!(names(dir.path()), ["secret"]);
    assert_eq!(std::fs::metadata(&f).expect("meta").permissions().mode() & 0o777, 0o640);
    // A destination that is a symbolic link is replaced, not written through.
    let outside = dir.path().join("outside");
    std::fs::write(&outside, "keep").expect("write");
    let link = dir.path().join("link");
    std::os::unix::fs::symlink(&outside, &link).expect("symlink");
    c.put(link.to_str().expect("utf-8"), b"new", Some(0o666), None).await.expect("put");
    assert_eq!(std::fs::read_to_string(&outside).expect("read"), "keep");
    assert!(!std::fs::symlink_metadata(&link).expect("meta").file_type().is_symlink());
}

// As a module Ansible runs (umask 022 here, sshd's default): a new file without `mode` is 0644
// over SFTP and through `become`; a replaced file keeps its mode (0640).
#[tokio::test]
async fn put_without_a_mode_gives_a_new_file_the_umask_default_and_keeps_an_old_files_mode() {
    use std::os::unix::fs::PermissionsExt;
    let lab = Lab::start(1).expect("lab (needs openssh-server)");
    let c = open(&lab).await;
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let mode = |p: &std::path::Path| std::fs::metadata(p).expect("meta").permissions().mode() & 0o777;
    let b = Become { user: "root".into(), method: BecomeMethod::Sudo };
    for (name, become_) in [("sftp", None), ("sudo", Some(&b))] {
        let new = dir.path().join(format!("new-{name}"));
        c.put(new.to_str().expect("utf-8"), b"n", None, become_).await.expect("put");
        assert_eq!(mode(&new), 0o644, "{name}");
        let old = dir.path().join(format!("old-{name}"));
        std::fs::write(&old, "o").expect("write");
        std::fs::set_permissions(&old, std::fs::Permissions::from_mode(0o640)).expect("chmod");
        c.put(old.to_str().expect("utf-8"), b"p", None, become_).await.expect("put");
        assert_eq!(mode(&old), 0o640, "{name}");
        assert_eq!(std::fs::read(&old).expect("read"), b"p");
    }
}

#[tokio::test]
async fn a_command_cancelled_before_its_pid_is_known_is_killed_once_it_is() {
    let lab = Lab::start(1).expect("lab (needs openssh-server)");
    let c = Arc::new(open(&lab).await);
    let marker = format!("sleep 7{}.8", std::process::id() % 1000);
    let runs = spawn_sleepers(&c, &marker, 3);
    // Registered, but (most likely) not yet started: no pid is known when cancel comes.
    while c.running.lock().expect("lock").len() < 3 {
        tokio::task::yield_now().await;
    }
    c.cancel().await;
    // A bound so that a command cancel missed fails the test instead of hanging it.
    let all = futures_util::future::join_all(runs);
    let outs = tokio::time::timeout(Duration::from_secs(120), all).await.expect("every command returns after cancel");
    for r in outs {
        assert_ne!(r.expect("joins").expect("a result, not a lost host").rc, 0);
    }
    assert_eq!(processes_with(&marker), Vec::<String>::new(), "left running on the target");
}

/// `exec_stream`: input streamed in while output streams out (a conversation: each line
/// written is answered, on stdout and stderr, before the next is sent), and the exit status.
/// (Within one answer, sshd may read the command's stderr before its stdout.)
#[tokio::test]
async fn exec_stream_holds_a_conversation() {
    let lab = Lab::start(1).expect("lab (needs openssh-server)");
    let c = open(&lab).await;
    let (mut to_cmd, mut stdin) = tokio::io::duplex(1024);
    let (tx, mut rx) = tokio::sync::mpsc::channel(4);
    let script = "while read -r l; do [ \"$l\" = end ] && break; echo \"got $l\"; echo \"e $l\" >&2; done; exit 3";
    let talk = async {
        let mut seen = Vec::new();
        for word in ["one", "two"] {
            to_cmd.write_all(format!("{word}\n").as_bytes()).await.expect("write");
            // The answer arrives before the next line is sent.
            let mut round = vec![rx.recv().await.expect("a chunk"), rx.recv().await.expect("a chunk")];
            round.sort_by_key(|c| matches!(c, Chunk::Stderr(_)));
            seen.extend(round);
        }
        to_cmd.write_all(b"end\n").await.expect("write");
        drop(to_cmd);
        seen
    };
    let (rc, seen) = tokio::join!(c.exec_stream(script, &mut stdin, &tx), talk);
    assert_eq!(rc.expect("runs"), 3);
    assert_eq!(
        seen,
        [
            Chunk::Stdout(b"got one\n".to_vec()),
            Chunk::Stderr(b"e one\n".to_vec()),
            Chunk::Stdout(b"got two\n".to_vec()),
            Chunk::Stderr(b"e two\n".to_vec()),
        ]
    );
}
