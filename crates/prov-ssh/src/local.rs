//! `ansible_connection: local`: commands run on the controller through `sh -c`, files are
//! written directly. Used for `localhost` and for tests that need no SSH.

use async_trait::async_trait;
use prov_core::connection::{Become, Connection, ConnectionError, ExecOutput, ExecRequest};
use std::path::Path;
use std::process::Stdio;
use tokio::io::AsyncWriteExt;

/// Runs everything on this machine.
#[derive(Debug, Clone)]
pub struct LocalConnection {
    host: String,
}

impl LocalConnection {
    /// A local connection reported under the inventory name `host`.
    pub fn new(host: impl Into<String>) -> Self {
        LocalConnection { host: host.into() }
    }

    fn transfer(&self, path: &str, e: impl std::fmt::Display) -> ConnectionError {
        ConnectionError::Transfer { host: self.host.clone(), path: path.to_string(), reason: e.to_string() }
    }
}

#[async_trait]
impl Connection for LocalConnection {
    async fn exec(&self, req: ExecRequest) -> Result<ExecOutput, ConnectionError> {
        let line = req.shell_line();
        let mut child = tokio::process::Command::new("sh")
            .arg("-c")
            .arg(&line)
            .stdin(if req.stdin.is_some() { Stdio::piped() } else { Stdio::null() })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| ConnectionError::Unreachable {
                host: self.host.clone(),
                reason: format!("cannot run sh: {e}"),
            })?;
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
                Err(_) => return Err(ConnectionError::Timeout { host: self.host.clone(), secs: t.as_secs() }),
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
        let p = Path::new(path);
        let name = p.file_name().ok_or_else(|| self.transfer(path, "not a file path"))?.to_string_lossy().into_owned();
        let tmp = p.with_file_name(format!(".{name}.prov-tmp"));
        tokio::fs::write(&tmp, data).await.map_err(|e| self.transfer(path, e))?;
        if let Some(m) = mode {
            use std::os::unix::fs::PermissionsExt;
            tokio::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(m))
                .await
                .map_err(|e| self.transfer(path, e))?;
        } else if let Ok(meta) = tokio::fs::metadata(p).await {
            // Keep the mode of the file being replaced.
            let _ = tokio::fs::set_permissions(&tmp, meta.permissions()).await;
        }
        tokio::fs::rename(&tmp, p).await.map_err(|e| self.transfer(path, e))
    }

    async fn get(&self, path: &str, _become: Option<&Become>) -> Result<Option<Vec<u8>>, ConnectionError> {
        match tokio::fs::read(path).await {
            Ok(d) => Ok(Some(d)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(self.transfer(path, e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
