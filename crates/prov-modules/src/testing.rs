//! Test helpers: JSON arguments, running a module, and a real local connection in a temp dir.

use async_trait::async_trait;
use minijinja::Value;
use prov_core::connection::{Become, Connection, ConnectionError, ExecOutput, ExecRequest};
use prov_core::module::{CheckMode, DiffMode, DynModule, Erased, Module, ModuleCtx, Outcome, RunMode};
use prov_core::testutil::{DirFiles, FakeConnection, TestHost};
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

/// Runs a module with an argument it does not have: the failed result's message (ansible-core's
/// "Unsupported parameters for (NAME) module: ...").
pub(crate) async fn unsupported<M: Module + Default>(args: serde_json::Value, cx: &ModuleCtx<'_>) -> String {
    let o = run::<M>(args, cx).await;
    assert!(o.failed, "expected a failed result, got {o:?}");
    o.msg.unwrap_or_default()
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

/// A host that is this machine, with a temp dir for files (and for controller files).
pub(crate) struct LocalHost {
    host: TestHost<LocalConn>,
    pub dir: tempfile::TempDir,
}

impl LocalHost {
    pub(crate) fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut host = TestHost::new(LocalConn::default());
        host.files = DirFiles(dir.path().to_path_buf());
        host.mode = RunMode { check: CheckMode::Apply, diff: DiffMode::On };
        LocalHost { host, dir }
    }

    /// A path in the temp dir.
    pub(crate) fn path(&self, name: &str) -> String {
        self.dir.path().join(name).to_string_lossy().into_owned()
    }
}

impl std::ops::Deref for LocalHost {
    type Target = TestHost<LocalConn>;
    fn deref(&self) -> &Self::Target {
        &self.host
    }
}

impl std::ops::DerefMut for LocalHost {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.host
    }
}

/// A path under `/tmp` unique to this test process and `name`: the file a hostile value creates
/// if a module ever lets the shell run it.
pub(crate) fn pwned_marker(name: &str) -> String {
    format!("/tmp/prov-pwned-{}-{name}", std::process::id())
}

/// Values that would be options or shell syntax if a module put them into a command unquoted or
/// before `--`; those that are shell syntax create `marker` when run.
pub(crate) fn hostile_values(marker: &str) -> Vec<String> {
    vec![
        "-delete".into(),
        "-rf".into(),
        "--help".into(),
        format!("$(touch {marker})"),
        format!("`touch {marker}`"),
        format!("x; touch {marker}"),
        format!("x\ntouch {marker}"),
        "ends with a newline\n".into(),
        format!("x'; touch {marker}; '"),
        format!("x\" && touch {marker} && \""),
    ]
}

/// The names of a result's registered fields, sorted.
pub(crate) fn data_keys(o: &prov_core::module::Outcome) -> Vec<String> {
    let mut k: Vec<String> = o.data.keys().cloned().collect();
    k.sort();
    k
}
