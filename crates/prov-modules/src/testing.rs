//! Test helpers: JSON arguments, running a module, and a real local connection in a temp dir.

use async_trait::async_trait;
use minijinja::Value;
use prov_core::connection::{Become, Connection, ConnectionError, ExecOutput, ExecRequest};
use prov_core::module::{CheckMode, DiffMode, DynModule, Erased, FactCache, Module, ModuleCtx, Outcome, RunMode};
use prov_core::testutil::{DirFiles, FakeConnection, MapVars, TestHost};
use std::sync::Mutex;

/// Module arguments from JSON.
pub(crate) fn j(v: serde_json::Value) -> Value {
    Value::from(minijinja::value::Serde(v))
}

/// Runs a module, panicking on a module error.
pub(crate) async fn run<M: Module + Default>(args: serde_json::Value, cx: &ModuleCtx<'_>) -> Outcome {
    match Erased::new(M::default()).run(&j(args), cx).await {
        Ok(o) => o,
        Err(e) => panic!("module error: {e}"),
    }
}

/// Runs a module, returning its error.
pub(crate) async fn run_err<M: Module + Default>(args: serde_json::Value, cx: &ModuleCtx<'_>) -> String {
    match Erased::new(M::default()).run(&j(args), cx).await {
        Ok(o) => panic!("expected an error, got {o:?}"),
        Err(e) => e.to_string(),
    }
}

/// A fake host with diff on.
pub(crate) fn fake(conn: FakeConnection) -> TestHost {
    let mut h = TestHost::new(conn);
    h.mode.diff = DiffMode::On;
    h
}

/// A fake host in check mode (diff on).
pub(crate) fn fake_check(conn: FakeConnection) -> TestHost {
    let mut h = fake(conn);
    h.mode.check = CheckMode::Check;
    h
}

/// Runs commands with the local `sh` and files with `std::fs`.
#[derive(Default)]
pub(crate) struct LocalConn {
    /// Commands run.
    pub log: Mutex<Vec<String>>,
}

#[async_trait]
impl Connection for LocalConn {
    async fn exec(&self, req: ExecRequest) -> Result<ExecOutput, ConnectionError> {
        use tokio::io::AsyncWriteExt;
        let line = req.shell_line();
        self.log.lock().expect("lock").push(line.clone());
        let mut child = tokio::process::Command::new("sh")
            .arg("-c")
            .arg(&line)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn sh");
        if let Some(mut stdin) = child.stdin.take() {
            if let Some(data) = &req.stdin {
                stdin.write_all(data).await.expect("stdin");
            }
        }
        let out = child.wait_with_output().await.expect("wait");
        Ok(ExecOutput { rc: out.status.code().unwrap_or(-1), stdout: out.stdout, stderr: out.stderr })
    }

    async fn put(
        &self,
        path: &str,
        data: &[u8],
        mode: Option<u32>,
        _b: Option<&Become>,
    ) -> Result<(), ConnectionError> {
        use std::os::unix::fs::PermissionsExt;
        self.log.lock().expect("lock").push(format!("put {path}"));
        let tmp = format!("{path}.prov-tmp");
        std::fs::write(&tmp, data).expect("write");
        if let Some(m) = mode {
            std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(m)).expect("chmod");
        } else if let Ok(meta) = std::fs::metadata(path) {
            std::fs::set_permissions(&tmp, meta.permissions()).expect("chmod");
        }
        std::fs::rename(&tmp, path).expect("rename");
        Ok(())
    }

    async fn get(&self, path: &str, _b: Option<&Become>) -> Result<Option<Vec<u8>>, ConnectionError> {
        self.log.lock().expect("lock").push(format!("get {path}"));
        Ok(std::fs::read(path).ok())
    }
}

/// A host that is this machine, with a temp dir for files.
pub(crate) struct LocalHost {
    pub conn: LocalConn,
    pub files: DirFiles,
    pub vars: MapVars,
    pub facts: FactCache,
    pub mode: RunMode,
    pub dir: tempfile::TempDir,
}

impl LocalHost {
    pub(crate) fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        LocalHost {
            conn: LocalConn::default(),
            files: DirFiles(dir.path().to_path_buf()),
            vars: MapVars(Value::from(())),
            facts: FactCache::default(),
            mode: RunMode { check: CheckMode::Apply, diff: DiffMode::On },
            dir,
        }
    }

    /// A path in the temp dir.
    pub(crate) fn path(&self, name: &str) -> String {
        self.dir.path().join(name).to_string_lossy().into_owned()
    }

    pub(crate) fn ctx(&self) -> ModuleCtx<'_> {
        ModuleCtx {
            host: "local",
            conn: &self.conn,
            become_: None,
            env: Vec::new(),
            mode: self.mode,
            files: &self.files,
            vars: &self.vars,
            facts: &self.facts,
            timeout: None,
        }
    }
}
