//! Tests against a real swarm manager: a connection that runs everything through
//! `docker exec -i CONTAINER sh -c ...` (set `PROV_TEST_SWARM=provdev-m1` to run the ignored tests).

use async_trait::async_trait;
use prov_core::connection::{shell_quote, Become, Connection, ConnectionError, ExecOutput, ExecRequest};
use std::sync::Mutex;

/// A container with a docker CLI, reached with `docker exec`.
pub(crate) struct DockerExecConn {
    container: String,
    inner: prov_ssh::LocalConnection,
    /// Commands run.
    pub log: Mutex<Vec<String>>,
}

impl DockerExecConn {
    /// The manager named by `PROV_TEST_SWARM`, if set.
    pub(crate) fn from_env() -> Option<Self> {
        let c = std::env::var("PROV_TEST_SWARM").ok().filter(|s| !s.is_empty())?;
        Some(DockerExecConn { container: c, inner: prov_ssh::LocalConnection::new("swarm"), log: Mutex::default() })
    }

    async fn run(&self, line: &str, stdin: Option<Vec<u8>>) -> Result<ExecOutput, ConnectionError> {
        let cmd = format!("docker exec -i {} sh -c {}", shell_quote(&self.container), shell_quote(line));
        self.inner.exec(ExecRequest { stdin, ..ExecRequest::new(cmd) }).await
    }

    pub(crate) fn calls(&self) -> Vec<String> {
        self.log.lock().expect("lock").clone()
    }
}

#[async_trait]
impl Connection for DockerExecConn {
    async fn exec(&self, req: ExecRequest) -> Result<ExecOutput, ConnectionError> {
        let line = req.shell_line();
        self.log.lock().expect("lock").push(line.clone());
        self.run(&line, req.stdin).await
    }

    async fn put(
        &self,
        path: &str,
        data: &[u8],
        mode: Option<u32>,
        _b: Option<&Become>,
    ) -> Result<(), ConnectionError> {
        self.log.lock().expect("lock").push(format!("put {path}"));
        let p = shell_quote(path);
        let chmod = mode.map(|m| format!(" && chmod {m:o} {p}")).unwrap_or_default();
        let out = self.run(&format!("cat > {p}{chmod}"), Some(data.to_vec())).await?;
        assert_eq!(out.rc, 0, "put {path}: {}", out.stderr_str());
        Ok(())
    }

    async fn get(&self, path: &str, _b: Option<&Become>) -> Result<Option<Vec<u8>>, ConnectionError> {
        self.log.lock().expect("lock").push(format!("get {path}"));
        let p = shell_quote(path);
        let out = self.run(&format!("if [ -f {p} ]; then cat {p}; else exit 3; fi"), None).await?;
        Ok((out.rc == 0).then_some(out.stdout))
    }
}
