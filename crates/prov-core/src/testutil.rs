//! Test doubles shared by the crates' unit tests: a scripted [`FakeConnection`] and friends.

use crate::connection::{Become, Connection, ConnectionError, ExecOutput, ExecRequest};
use crate::module::{FactCache, FileSource, ModuleCtx, RunMode, Vars};
use async_trait::async_trait;
use minijinja::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;

/// Files of a fake host: path → (content, mode).
pub type FakeFiles = BTreeMap<String, (Vec<u8>, Option<u32>)>;

/// One scripted answer: a command prefix and what it returns.
#[derive(Debug, Clone)]
pub struct Canned {
    /// The command must start with (or equal) this.
    pub prefix: String,
    /// What it returns.
    pub out: ExecOutput,
}

/// A connection that answers commands from a script and keeps an in-memory file system.
/// Every call is recorded, so tests assert exactly which commands a module sends.
#[derive(Default)]
pub struct FakeConnection {
    canned: Mutex<Vec<Canned>>,
    /// Files on the fake host.
    pub files: Mutex<FakeFiles>,
    /// Commands run, in order (`exec` shell lines; `put PATH` / `get PATH` for transfers).
    pub log: Mutex<Vec<String>>,
}

impl FakeConnection {
    /// An empty host: every command exits 0 with no output unless scripted.
    pub fn new() -> Self {
        Self::default()
    }

    /// Scripts the answer for commands starting with `prefix` (first match wins, reusable).
    pub fn on(self, prefix: &str, rc: i32, stdout: &str) -> Self {
        self.canned.lock().expect("test lock").push(Canned {
            prefix: prefix.to_string(),
            out: ExecOutput { rc, stdout: stdout.as_bytes().to_vec(), stderr: Vec::new() },
        });
        self
    }

    /// Puts a file on the fake host.
    pub fn with_file(self, path: &str, content: &str) -> Self {
        self.files.lock().expect("test lock").insert(path.to_string(), (content.as_bytes().to_vec(), None));
        self
    }

    /// The recorded calls.
    pub fn calls(&self) -> Vec<String> {
        self.log.lock().expect("test lock").clone()
    }
}

#[async_trait]
impl Connection for FakeConnection {
    async fn exec(&self, req: ExecRequest) -> Result<ExecOutput, ConnectionError> {
        let line = req.shell_line();
        self.log.lock().expect("test lock").push(line.clone());
        let canned = self.canned.lock().expect("test lock");
        Ok(canned.iter().find(|c| req.command.starts_with(&c.prefix)).map(|c| c.out.clone()).unwrap_or_default())
    }

    async fn put(
        &self,
        path: &str,
        data: &[u8],
        mode: Option<u32>,
        _b: Option<&Become>,
    ) -> Result<(), ConnectionError> {
        self.log.lock().expect("test lock").push(format!("put {path}"));
        self.files.lock().expect("test lock").insert(path.to_string(), (data.to_vec(), mode));
        Ok(())
    }

    async fn get(&self, path: &str, _b: Option<&Become>) -> Result<Option<Vec<u8>>, ConnectionError> {
        self.log.lock().expect("test lock").push(format!("get {path}"));
        Ok(self.files.lock().expect("test lock").get(path).map(|(d, _)| d.clone()))
    }
}

/// Files found in one directory.
pub struct DirFiles(pub PathBuf);

impl FileSource for DirFiles {
    fn find(&self, _kind: &str, name: &str) -> Result<PathBuf, String> {
        let p = self.0.join(name);
        if p.exists() {
            Ok(p)
        } else {
            Err(format!("{} not found", p.display()))
        }
    }
}

/// Variables from a map, rendered with a plain minijinja environment.
pub struct MapVars(pub Value);

impl Vars for MapVars {
    fn render(&self, template: &str) -> Result<String, String> {
        let env = minijinja::Environment::new();
        env.render_str(template, self.0.clone()).map_err(|e| e.to_string())
    }
    fn eval(&self, expr: &str) -> Result<Value, String> {
        let env = minijinja::Environment::new();
        let e = env.compile_expression(expr).map_err(|e| e.to_string())?;
        e.eval(self.0.clone()).map_err(|e| e.to_string())
    }
}

/// Owns what a [`ModuleCtx`] borrows, for tests: a connection (the scripted fake by
/// default) and controller-side files, variables, facts and flags.
pub struct TestHost<C: Connection = FakeConnection> {
    /// The connection.
    pub conn: C,
    /// Controller files.
    pub files: DirFiles,
    /// Variables.
    pub vars: MapVars,
    /// Fact cache.
    pub facts: FactCache,
    /// Check/diff.
    pub mode: RunMode,
}

impl<C: Connection> TestHost<C> {
    /// A host with the given connection, files under the current directory, no variables.
    pub fn new(conn: C) -> Self {
        TestHost {
            conn,
            files: DirFiles(PathBuf::from(".")),
            vars: MapVars(Value::from(())),
            facts: FactCache::default(),
            mode: RunMode::default(),
        }
    }

    /// The context modules get.
    pub fn ctx(&self) -> ModuleCtx<'_> {
        ModuleCtx {
            host: "test",
            delegate_to: None,
            conn: &self.conn,
            host_conn: None,
            become_: None,
            env: Vec::new(),
            mode: self.mode,
            files: &self.files,
            vars: &self.vars,
            facts: &self.facts,
            timeout: None,
            progress: None,
        }
    }
}
