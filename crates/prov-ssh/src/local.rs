//! `ansible_connection: local`: commands run on the controller through `sh -c`, files are
//! written directly. Used for `localhost` and for tests that need no SSH.

use crate::upload::Upload;
use async_trait::async_trait;
use prov_core::connection::{Become, Connection, ConnectionError, ExecOutput, ExecRequest};
use std::collections::HashSet;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use tokio::io::AsyncWriteExt;

/// Runs everything on this machine. Each command runs in a process group of its own: a
/// Ctrl-C at the terminal reaches prov only (which decides what stops), and a command that
/// times out or is cancelled is killed with everything it started.
#[derive(Debug, Clone)]
pub struct LocalConnection {
    host: String,
    /// Where commands run and relative paths start: the playbook's directory, as in
    /// ansible-core (its local connection works in the loader's base directory).
    dir: Option<std::path::PathBuf>,
    /// Process groups of the commands running now.
    running: Arc<Mutex<HashSet<u32>>>,
}

/// Forgets a process group when its command's future ends or is dropped.
struct GroupGuard<'a>(&'a LocalConnection, Option<u32>);

impl Drop for GroupGuard<'_> {
    fn drop(&mut self) {
        if let (Some(pg), Ok(mut r)) = (self.1, self.0.running.lock()) {
            r.remove(&pg);
        }
    }
}

/// Sends SIGTERM to process group `pg`, and SIGKILL when it is still there after a grace time.
async fn kill_group(pg: u32) {
    let signal = |sig: &'static str| {
        tokio::process::Command::new("kill")
            .args([sig, "--", &format!("-{pg}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
    };
    if !signal("-TERM").await.is_ok_and(|s| s.success()) {
        return;
    }
    for _ in 0..10 {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        if !signal("-0").await.is_ok_and(|s| s.success()) {
            return;
        }
    }
    let _ = signal("-KILL").await;
}

impl LocalConnection {
    /// A local connection reported under the inventory name `host`.
    pub fn new(host: impl Into<String>) -> Self {
        LocalConnection { host: host.into(), dir: None, running: Arc::default() }
    }

    /// The same, with commands run in `dir` and relative paths read from it.
    pub fn in_dir(mut self, dir: impl Into<std::path::PathBuf>) -> Self {
        self.dir = Some(dir.into());
        self
    }

    /// `path`, from [`LocalConnection::in_dir`]'s directory when it is relative.
    fn resolve(&self, path: &str) -> std::path::PathBuf {
        match &self.dir {
            Some(d) => d.join(path),
            None => path.into(),
        }
    }

    fn transfer(&self, path: &str, e: impl std::fmt::Display) -> ConnectionError {
        ConnectionError::Transfer { host: self.host.clone(), path: path.to_string(), reason: e.to_string() }
    }

    /// Writes `src` to `path` through a fresh private temporary file beside it.
    async fn write(&self, path: &str, src: Upload<'_>, mode: Option<u32>) -> Result<(), ConnectionError> {
        let full = self.resolve(path);
        let p = full.as_path();
        if p.file_name().is_none() {
            return Err(self.transfer(path, "not a file path"));
        }
        let t = crate::tmpfile::temp_for(&p.to_string_lossy()).map_err(|e| self.transfer(path, e))?;
        let keep_mode = match mode {
            Some(m) => Some(m),
            // Keep the mode of the file being replaced; a new file gets what the umask gives
            // it, as a file a module creates does.
            None => Some(match tokio::fs::metadata(p).await {
                Ok(m) => {
                    use std::os::unix::fs::PermissionsExt;
                    m.permissions().mode()
                }
                Err(_) => 0o666 & !umask().await,
            }),
        };
        let tmp = std::path::PathBuf::from(&t.tmp);
        let written = write_new_private(&tmp, src, keep_mode).await;
        // Renamed only once written whole: a failed write (an unreadable source, a full disk)
        // leaves the destination as it was.
        let moved = match written {
            Ok(()) => tokio::fs::rename(&tmp, p).await,
            Err(e) => Err(e),
        };
        if let Err(e) = moved {
            let _ = tokio::fs::remove_file(&tmp).await;
            return Err(self.transfer(path, e));
        }
        // Temporary files of this destination left by killed runs.
        if let Ok(mut dir) = tokio::fs::read_dir(tmp.parent().unwrap_or(Path::new("."))).await {
            while let Ok(Some(e)) = dir.next_entry().await {
                if e.file_name().to_string_lossy().starts_with(&t.prefix) {
                    let _ = tokio::fs::remove_file(e.path()).await;
                }
            }
        }
        Ok(())
    }
}

#[async_trait]
impl Connection for LocalConnection {
    async fn exec(&self, req: ExecRequest) -> Result<ExecOutput, ConnectionError> {
        let line = req.shell_line();
        let mut cmd = tokio::process::Command::new("sh");
        if let Some(d) = &self.dir {
            cmd.current_dir(d);
        }
        let mut child = cmd
            .arg("-c")
            .arg(&line)
            .stdin(if req.stdin.is_some() { Stdio::piped() } else { Stdio::null() })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| ConnectionError::Unreachable {
                host: self.host.clone(),
                reason: format!("cannot run sh: {e}"),
            })?;
        let pg = child.id();
        if let (Some(pg), Ok(mut r)) = (pg, self.running.lock()) {
            r.insert(pg);
        }
        let _guard = GroupGuard(self, pg);
        if let (Some(data), Some(mut stdin)) = (req.stdin, child.stdin.take()) {
            // A command that does not read its input closes the pipe early; that is fine.
            let _ = stdin.write_all(&data).await;
            drop(stdin);
        }
        let wait = child.wait_with_output();
        let out = match req.timeout {
            None => wait.await,
            Some(t) => match tokio::time::timeout(t, wait).await {
                Ok(r) => r,
                Err(_) => {
                    if let Some(pg) = pg {
                        kill_group(pg).await;
                    }
                    return Err(ConnectionError::Timeout { host: self.host.clone(), secs: t.as_secs() });
                }
            },
        }
        .map_err(|e| ConnectionError::Unreachable { host: self.host.clone(), reason: e.to_string() })?;
        Ok(ExecOutput { rc: out.status.code().unwrap_or(-1), stdout: out.stdout, stderr: out.stderr })
    }

    async fn put(
        &self,
        path: &str,
        data: &[u8],
        mode: Option<u32>,
        _become: Option<&Become>,
    ) -> Result<(), ConnectionError> {
        self.write(path, Upload::Bytes(data), mode).await
    }

    fn is_local(&self) -> bool {
        true
    }

    async fn put_file(
        &self,
        path: &str,
        local: &Path,
        mode: Option<u32>,
        _become: Option<&Become>,
    ) -> Result<(), ConnectionError> {
        self.write(path, Upload::File(local), mode).await
    }

    async fn cancel(&self) {
        let groups: Vec<u32> = match self.running.lock() {
            Ok(r) => r.iter().copied().collect(),
            Err(_) => return,
        };
        futures_util::future::join_all(groups.into_iter().map(kill_group)).await;
    }

    async fn get(&self, path: &str, _become: Option<&Become>) -> Result<Option<Vec<u8>>, ConnectionError> {
        match tokio::fs::read(self.resolve(path)).await {
            Ok(d) => Ok(Some(d)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(self.transfer(path, e)),
        }
    }
}

/// Creates `tmp` exclusively (never through a symbolic link) with mode 0600, writes `data`,
/// then gives it `mode`.
/// This process's umask, from `/proc/self/status` (reading it with umask(2) would change it
/// for every thread for a moment); 022 where the kernel does not say.
async fn umask() -> u32 {
    let status = tokio::fs::read_to_string("/proc/self/status").await.unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("Umask:"))
        .and_then(|v| u32::from_str_radix(v.trim(), 8).ok())
        .unwrap_or(0o022)
}

async fn write_new_private(tmp: &Path, src: Upload<'_>, mode: Option<u32>) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mut f = tokio::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(tmp).await?;
    src.send(&mut f).await?;
    f.flush().await?;
    if let Some(m) = mode {
        f.set_permissions(std::fs::Permissions::from_mode(m)).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_temporary_file_is_never_created_through_a_symbolic_link() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let outside = dir.path().join("outside");
        std::fs::write(&outside, "keep").expect("write");
        std::fs::set_permissions(&outside, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        let link = dir.path().join(".f.prov-tmp-guess");
        std::os::unix::fs::symlink(&outside, &link).expect("symlink");
        assert!(write_new_private(&link, Upload::Bytes(b"secret"), Some(0o666)).await.is_err());
        assert_eq!(std::fs::read_to_string(&outside).expect("read"), "keep");
        let mode = std::fs::metadata(&outside).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    #[tokio::test]
    async fn put_file_copies_a_controller_file_larger_than_one_chunk() {
        use std::os::unix::fs::PermissionsExt;
        let c = LocalConnection::new("localhost");
        let dir = tempfile::tempdir().expect("tempdir");
        let src = dir.path().join("src");
        let data: Vec<u8> = (0..crate::upload::UPLOAD_CHUNK * 3 + 7).map(|i| (i % 253) as u8).collect();
        std::fs::write(&src, &data).expect("write");
        let dest = dir.path().join("dest");
        c.put_file(dest.to_str().expect("utf-8"), &src, Some(0o604), None).await.expect("copies");
        assert!(std::fs::read(&dest).expect("read") == data);
        assert_eq!(std::fs::metadata(&dest).expect("meta").permissions().mode() & 0o777, 0o604);
        let gone = c.put_file(dest.to_str().expect("utf-8"), &dir.path().join("nope"), None, None).await;
        assert!(gone.expect_err("no source").to_string().contains("nope"));
        assert!(std::fs::read(&dest).expect("read") == data, "a failed copy leaves the file alone");
    }

    #[tokio::test]
    async fn put_leaves_no_temporary_file_and_removes_stale_ones() {
        use std::os::unix::fs::PermissionsExt;
        let c = LocalConnection::new("localhost");
        let dir = tempfile::tempdir().expect("tempdir");
        // What a run killed mid-transfer left behind.
        std::fs::write(dir.path().join(".f.prov-tmp-0123456789abcdef"), "partial secret").expect("write");
        std::fs::write(dir.path().join(".other.prov-tmp-0123"), "another file's").expect("write");
        let f = dir.path().join("f");
        c.put(f.to_str().expect("utf-8"), b"data", Some(0o640), None).await.expect("writes");
        let mut names: Vec<String> = std::fs::read_dir(dir.path())
            .expect("ls")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into())
            .collect();
        names.sort();
        assert_eq!(names, [".other.prov-tmp-0123", "f"]);
        assert_eq!(std::fs::metadata(&f).expect("meta").permissions().mode() & 0o777, 0o640);
    }

    // ansible-core 2.19 (`copy: content=`, `lineinfile: create=true`, umask 022): a new file
    // without `mode` is 0644, what the umask leaves of 0666; a replaced file keeps its mode.
    #[tokio::test]
    async fn put_without_a_mode_gives_a_new_file_the_umask_default_and_keeps_an_old_files_mode() {
        use std::os::unix::fs::PermissionsExt;
        let c = LocalConnection::new("localhost");
        let dir = tempfile::tempdir().expect("tempdir");
        let new = dir.path().join("new");
        c.put(new.to_str().expect("utf-8"), b"n", None, None).await.expect("writes");
        let want = 0o666 & !umask().await;
        assert_eq!(std::fs::metadata(&new).expect("meta").permissions().mode() & 0o777, want);
        let old = dir.path().join("old");
        std::fs::write(&old, "o").expect("write");
        std::fs::set_permissions(&old, std::fs::Permissions::from_mode(0o640)).expect("chmod");
        c.put(old.to_str().expect("utf-8"), b"p", None, None).await.expect("writes");
        assert_eq!(std::fs::metadata(&old).expect("meta").permissions().mode() & 0o777, 0o640);
    }

    #[tokio::test]
    async fn a_timed_out_or_cancelled_command_leaves_no_process_behind() {
        let c = LocalConnection::new("localhost");
        let marker = format!("sleep 7{}.5", std::process::id() % 1000);
        let mut req = ExecRequest::new(format!("sh -c '{marker}; echo' & {marker}"));
        req.timeout = Some(std::time::Duration::from_millis(300));
        assert!(matches!(c.exec(req).await, Err(ConnectionError::Timeout { .. })));
        assert_eq!(prov_testkit::processes_with(&marker), Vec::<String>::new(), "left running after the timeout");
        let (c2, m) = (c.clone(), marker.clone());
        let run = tokio::spawn(async move { c2.exec(ExecRequest::new(format!("sh -c '{m}; echo' & {m}"))).await });
        while prov_testkit::processes_with(&marker).len() < 2 {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        c.cancel().await;
        let out = run.await.expect("joins").expect("a result");
        assert_ne!(out.rc, 0);
        assert_eq!(prov_testkit::processes_with(&marker), Vec::<String>::new(), "left running after cancel");
    }

    #[tokio::test]
    async fn exec_put_get() {
        let c = LocalConnection::new("localhost");
        let out = c.exec(ExecRequest::new("echo hi; echo err >&2; exit 3")).await.expect("runs");
        assert_eq!((out.rc, out.stdout_str().as_str(), out.stderr_str().as_str()), (3, "hi\n", "err\n"));
        let out = c.exec(ExecRequest::new("cat").with_stdin(b"abc".to_vec())).await.expect("runs");
        assert_eq!(out.stdout, b"abc");
        let dir = tempfile::tempdir().expect("tempdir");
        let f = dir.path().join("f");
        let f = f.to_str().expect("utf-8");
        assert_eq!(c.get(f, None).await.expect("reads"), None);
        c.put(f, b"data", Some(0o600), None).await.expect("writes");
        assert_eq!(c.get(f, None).await.expect("reads").as_deref(), Some(&b"data"[..]));
        let mut req = ExecRequest::new("sleep 5");
        req.timeout = Some(std::time::Duration::from_millis(100));
        assert!(matches!(c.exec(req).await, Err(ConnectionError::Timeout { .. })));
    }
}
