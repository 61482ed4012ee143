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

/// This machine through prov-ssh's [`prov_ssh::LocalConnection`], recording what is run.
pub(crate) struct LocalConn {
    inner: prov_ssh::LocalConnection,
    /// Commands run (`put PATH` / `get PATH` for transfers).
    pub log: Mutex<Vec<String>>,
}

impl Default for LocalConn {
    fn default() -> Self {
        LocalConn { inner: prov_ssh::LocalConnection::new("local"), log: Mutex::default() }
    }
}

#[async_trait]
impl Connection for LocalConn {
    async fn exec(&self, req: ExecRequest) -> Result<ExecOutput, ConnectionError> {
        self.log.lock().expect("lock").push(req.shell_line());
        self.inner.exec(req).await
    }

    async fn put(&self, path: &str, data: &[u8], mode: Option<u32>, b: Option<&Become>) -> Result<(), ConnectionError> {
        self.log.lock().expect("lock").push(format!("put {path}"));
        self.inner.put(path, data, mode, b).await
    }

    async fn get(&self, path: &str, b: Option<&Become>) -> Result<Option<Vec<u8>>, ConnectionError> {
        self.log.lock().expect("lock").push(format!("get {path}"));
        self.inner.get(path, b).await
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
