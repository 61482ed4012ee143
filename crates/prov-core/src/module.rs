//! The [`Module`] contract, the erased [`DynModule`] the engine calls, and the [`Registry`].
//!
//! A module reads state in [`Module::plan`] (no side effects) and makes it so in
//! [`Module::apply`]. Check mode is `plan` alone. Arguments are a serde struct with
//! `#[serde(deny_unknown_fields)]`; its field list is read from serde itself, so argument names
//! are checked at compile time without a second hand-kept list.

use crate::connection::{Become, Connection, ConnectionError, ExecOutput, ExecRequest};
use async_trait::async_trait;
use indexmap::IndexMap;
use minijinja::Value;
use serde::de::DeserializeOwned;
use std::any::Any;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// Where a module does its work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunsOn {
    /// Needs a connection to the host.
    Target,
    /// Runs in prov itself (debug, set_fact, assert, ...): no connection is opened for it.
    Controller,
}

/// Check mode / diff flags of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RunMode {
    /// `--check`: plan only.
    pub check: CheckMode,
    /// `--diff`: show diffs.
    pub diff: DiffMode,
}

/// Whether changes are made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CheckMode {
    /// Make changes.
    #[default]
    Apply,
    /// Only report what would change.
    Check,
}

/// Whether diffs are reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DiffMode {
    /// No diffs.
    #[default]
    Off,
    /// Report before/after.
    On,
}

/// Before/after text of one changed thing.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Diff {
    /// What the texts are of (a path, "state", a package name).
    pub header: String,
    /// Old content.
    pub before: String,
    /// New content.
    pub after: String,
    /// Why the texts are not shown (`destination file appears to be binary`, ...); when
    /// there are reasons, `before` and `after` are not compared.
    pub skipped: Vec<String>,
}

/// What kind of change a plan makes, for `prov plan`'s summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Action {
    /// Something new (`+`).
    Create,
    /// Something changed (`~`).
    Modify,
    /// A number of replicas changed (`~` in rows; "N services scaled" in the summary).
    Scale,
    /// Something removed (`-`).
    Delete,
    /// A command run (`!`): its effect is unknown.
    Run,
}

/// One item of a plan summary: `+ file /etc/motd`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planned {
    /// Kind of change.
    pub action: Action,
    /// Resource category (file, package, service, vm, user, command, ...).
    pub resource: &'static str,
    /// Which one (path, package, name).
    pub name: String,
}

/// The result of one module run on one host (one loop item).
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// Whether something changed (or would, in check mode).
    pub changed: bool,
    /// Whether the task failed (modules report failures here, with data, so `failed_when` can look).
    pub failed: bool,
    /// Whether the module decided not to run (e.g. `command` in check mode).
    pub skipped: bool,
    /// A failure `ignore_errors` does not ignore (an include whose file or role does not
    /// exist fails the host whatever the include says, as in ansible-core).
    pub fatal: bool,
    /// Human message.
    pub msg: Option<String>,
    /// A line to show for the result instead of `msg`, not registered (`debug: var=`).
    pub shown: Option<String>,
    /// Fields visible through `register` (rc, stdout, stat, ...).
    pub data: IndexMap<String, Value>,
    /// Variables to set on the host (`set_fact`).
    pub facts: Vec<(String, Value)>,
    /// Variables `include_vars` sets on the host: above task, role and play vars, below
    /// `set_fact` and registered values, templated when read (ansible-core's precedence).
    pub included_vars: Vec<(String, Value)>,
    /// Facts to merge into the host's `ansible_facts` (names without `ansible_`; each is also
    /// `ansible_<name>`), as a module's `ansible_facts` return does in Ansible (`setup`). A
    /// name made by [`plain_fact`] is a variable under that name instead (`set_fact`'s
    /// `cacheable: true` of a name without the prefix).
    pub host_facts: Vec<(String, Value)>,
    /// Diffs, for `--diff` and `prov plan`.
    pub diffs: Vec<Diff>,
    /// What was (or would be) changed, for `prov plan`.
    pub planned: Vec<Planned>,
    /// The module created or removed hosts: reload the inventory before the next play.
    pub refresh_inventory: bool,
    /// Changes to the run's inventory (`add_host`, `group_by`); the runner makes them and
    /// decides `changed` by them.
    pub inventory: Vec<crate::inventory::InventoryEdit>,
}

/// The key in [`Outcome::host_facts`] of a fact whose variable is its own name, not
/// `ansible_<name>` (ansible-core injects facts under the names they were set with; only
/// `ansible_facts` drops the prefix).
pub fn plain_fact(name: &str) -> String {
    format!("{PLAIN_MARK}{name}")
}

/// The name of a fact key made by [`plain_fact`].
pub fn plain_fact_name(key: &str) -> Option<&str> {
    key.strip_prefix(PLAIN_MARK)
}

/// Marks a [`plain_fact`] key (no variable name holds it).
const PLAIN_MARK: char = '\u{0}';

impl Outcome {
    /// Nothing changed.
    pub fn ok() -> Self {
        Outcome::default()
    }

    /// A failure with a message.
    pub fn failed(msg: impl Into<String>) -> Self {
        Outcome { failed: true, msg: Some(msg.into()), ..Default::default() }
    }

    /// Adds a registered field.
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.data.insert(key.to_string(), value.into());
        self
    }

    /// Adds a warning: registered in `warnings` (a list, as Ansible's modules return it) and
    /// shown as `[WARNING]` after the task's result.
    pub fn warn(mut self, message: impl Into<String>) -> Self {
        let mut list: Vec<Value> =
            self.data.get("warnings").and_then(|w| w.try_iter().ok()).map(|it| it.collect()).unwrap_or_default();
        list.push(Value::from(message.into()));
        self.data.insert("warnings".into(), Value::from(list));
        self
    }

    /// Adds the standard command fields (rc, stdout, stderr and their `_lines`).
    pub fn with_exec(mut self, out: &ExecOutput) -> Self {
        let stdout = out.stdout_str();
        let stderr = out.stderr_str();
        let stdout = stdout.strip_suffix('\n').unwrap_or(&stdout).to_string();
        let stderr = stderr.strip_suffix('\n').unwrap_or(&stderr).to_string();
        self.data.insert("rc".into(), Value::from(out.rc));
        self.data.insert("stdout_lines".into(), Value::from(stdout.lines().map(str::to_string).collect::<Vec<_>>()));
        self.data.insert("stderr_lines".into(), Value::from(stderr.lines().map(str::to_string).collect::<Vec<_>>()));
        self.data.insert("stdout".into(), Value::from(stdout));
        self.data.insert("stderr".into(), Value::from(stderr));
        self
    }
}

/// What `plan` found.
pub enum Plan<P> {
    /// The state is already right; here is the result.
    Ok(Outcome),
    /// Something must change.
    Change(Change<P>),
}

impl<P> Plan<P> {
    /// The same plan with its change's data turned into another type (a module with several
    /// kinds of plans wraps each in its own enum).
    pub fn map<Q>(self, f: impl FnOnce(P) -> Q) -> Plan<Q> {
        match self {
            Plan::Ok(o) => Plan::Ok(o),
            Plan::Change(c) => Plan::Change(Change {
                plan: f(c.plan),
                diffs: c.diffs,
                planned: c.planned,
                in_check: c.in_check,
                msg: c.msg,
                data: c.data,
            }),
        }
    }
}

/// A change `apply` will make.
pub struct Change<P> {
    /// Data `apply` needs (what plan read).
    pub plan: P,
    /// Diffs to show (`--diff`).
    pub diffs: Vec<Diff>,
    /// Summary items (`prov plan`).
    pub planned: Vec<Planned>,
    /// What check mode reports.
    pub in_check: InCheck,
    /// A message for check mode (what would happen), when the summary item says too little.
    pub msg: Option<String>,
    /// Fields check mode registers (what the Ansible module returns without changing anything).
    pub data: IndexMap<String, Value>,
}

/// How a planned change shows in check mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InCheck {
    /// As `changed` (the plan is exact).
    Changed,
    /// As `skipped` (a command: its effect cannot be predicted).
    Skipped,
}

impl<P> Change<P> {
    /// A change with one summary item and no diff.
    pub fn new(plan: P, action: Action, resource: &'static str, name: impl Into<String>) -> Self {
        Change {
            plan,
            diffs: Vec::new(),
            planned: vec![Planned { action, resource, name: name.into() }],
            in_check: InCheck::Changed,
            msg: None,
            data: IndexMap::new(),
        }
    }

    /// Adds a field check mode registers.
    pub fn with_data(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.data.insert(key.to_string(), value.into());
        self
    }

    /// Sets the check-mode message.
    pub fn with_msg(mut self, msg: impl Into<String>) -> Self {
        self.msg = Some(msg.into());
        self
    }

    /// Adds a diff.
    pub fn with_diff(mut self, header: impl Into<String>, before: impl Into<String>, after: impl Into<String>) -> Self {
        self.diffs.push(Diff {
            header: header.into(),
            before: before.into(),
            after: after.into(),
            skipped: Vec::new(),
        });
        self
    }

    /// Adds a diff that is not shown, with the reasons (as ansible-core's `diff skipped: ...`).
    pub fn with_skipped_diff(mut self, header: impl Into<String>, reasons: Vec<String>) -> Self {
        self.diffs.push(Diff { header: header.into(), skipped: reasons, ..Diff::default() });
        self
    }
}

/// Why a module could not run (as opposed to a failed task, which is an [`Outcome`]).
#[derive(Debug, Clone, thiserror::Error)]
pub enum ModuleError {
    /// The host cannot be reached: it becomes unreachable.
    #[error(transparent)]
    Connection(#[from] ConnectionError),
    /// The arguments are wrong (found at run time, after templating).
    #[error("invalid arguments: {0}")]
    Args(String),
    /// Anything else: fails the task with this message.
    #[error("{0}")]
    Failed(String),
}

impl From<crate::cmd::WordError> for ModuleError {
    fn from(e: crate::cmd::WordError) -> ModuleError {
        ModuleError::Args(e.to_string())
    }
}

/// Files on the controller a task may refer to (`copy: src=`, `template: src=`).
pub trait FileSource: Send + Sync {
    /// Finds `name` for a task: `kind` is `files` or `templates`; searched in the task's role
    /// directory, then next to the playbook. Returns the path or the list of places searched.
    fn find(&self, kind: &str, name: &str) -> Result<PathBuf, String>;

    /// Where `{% include %}`/`{% import %}` of a template look, as Ansible's template module
    /// sets Jinja's search path: each of the task's directories (role, then playbook), with its
    /// `kind` subdirectory first.
    fn search_path(&self, _kind: &str) -> Vec<PathBuf> {
        Vec::new()
    }
}

/// The task's variables, for modules that evaluate expressions on the controller.
pub trait Vars: Send + Sync {
    /// Renders a template string with the task's variables.
    fn render(&self, template: &str) -> Result<String, String>;
    /// Renders a template file's text; `{% include 'x.j2' %}` finds `x.j2` in `search`.
    fn render_file(&self, template: &str, search: &[PathBuf]) -> Result<String, String> {
        let _ = search;
        self.render(template)
    }
    /// [`Vars::render_file`] with the `template` module's Jinja settings.
    fn render_file_with(
        &self,
        template: &str,
        search: &[PathBuf],
        o: &crate::template::FileOverrides,
    ) -> Result<String, String> {
        let _ = o;
        self.render_file(template, search)
    }
    /// Evaluates a bare expression (`when`-style).
    fn eval(&self, expr: &str) -> Result<Value, String>;
    /// Evaluates an expression for `debug: var=`: when it is undefined, or fails by reading
    /// something undefined (`d.missing`, `[1][5]`), the result is `Ok(Err(why))` ("'x' is
    /// undefined"), which `debug` shows instead of failing, as ansible-core does; other errors
    /// (`1/0`, a failed `mandatory`) are `Err`.
    fn eval_or_undefined(&self, expr: &str) -> Result<Result<Value, String>, String> {
        self.eval(expr).map(|v| if v.is_undefined() { Err(format!("`{expr}` is undefined")) } else { Ok(v) })
    }
    /// Evaluates a conditional (`assert`'s `that`): as [`Vars::eval`], with the templates
    /// inside its string constants rendered first, as ansible-core 2.19 does.
    fn eval_condition(&self, expr: &str) -> Result<Value, String> {
        self.eval(expr)
    }
}

/// A typed, read-only probe of host state: a command and a pure parse of its output.
/// Results are cached per host per run until a module changes the host.
pub trait Fact: Send + Sync {
    /// Parsed result.
    type Output: Clone + Send + Sync + 'static;
    /// Command that reads the state (one round trip).
    fn command(&self) -> String;
    /// Turns the command's output into the fact; no I/O.
    fn parse(&self, out: &ExecOutput) -> Result<Self::Output, String>;
}

/// Per-host fact cache (owned by that host's worker).
#[derive(Default)]
pub struct FactCache {
    entries: Mutex<HashMap<String, Arc<dyn Any + Send + Sync>>>,
}

impl FactCache {
    fn get<T: Clone + 'static>(&self, key: &str) -> Option<T> {
        let map = self.entries.lock().ok()?;
        map.get(key).and_then(|v| v.downcast_ref::<T>()).cloned()
    }

    fn put<T: Send + Sync + 'static>(&self, key: String, v: T) {
        if let Ok(mut map) = self.entries.lock() {
            map.insert(key, Arc::new(v));
        }
    }

    /// Forgets everything (after a change on the host).
    pub fn clear(&self) {
        if let Ok(mut map) = self.entries.lock() {
            map.clear();
        }
    }
}

/// Everything a module may use while running on one host.
pub struct ModuleCtx<'a> {
    /// Inventory name of the host.
    pub host: &'a str,
    /// The host the task is delegated to (`delegate_to`, rendered), if any.
    pub delegate_to: Option<&'a str>,
    /// The way to the host (to the delegate, for a delegated task).
    pub conn: &'a dyn Connection,
    /// The host's own connection when the task is delegated (`delegate_to`): `synchronize`
    /// delegated to the controller still reaches the host, as Ansible's does. `None` when the
    /// task is not delegated (`conn` is the host's) or the host has no connection.
    pub host_conn: Option<&'a dyn Connection>,
    /// Escalation for this task.
    pub become_: Option<Become>,
    /// `environment:` of the task.
    pub env: Vec<(String, String)>,
    /// Check / diff flags.
    pub mode: RunMode,
    /// Controller-side files.
    pub files: &'a dyn FileSource,
    /// The task's variables.
    pub vars: &'a dyn Vars,
    /// This host's fact cache.
    pub facts: &'a FactCache,
    /// Per-command timeout.
    pub timeout: Option<std::time::Duration>,
    /// Told when the module starts and ends applying what it planned (live output).
    pub progress: Option<&'a dyn Progress>,
}

/// Hears when a module applies the changes it planned: the long part of a task ("creating
/// worker3"). Called from the module's host task; must not block.
pub trait Progress: Send + Sync {
    /// The module starts applying `planned` (never empty).
    fn applying(&self, planned: &[Planned]);
    /// It ended (done or failed) applying `planned`.
    fn applied(&self, planned: &[Planned]);
}

impl ModuleCtx<'_> {
    /// Runs a command with the task's `become` and `environment`.
    pub async fn exec(&self, command: impl Into<String>) -> Result<ExecOutput, ModuleError> {
        let req = ExecRequest {
            command: command.into(),
            stdin: None,
            become_: self.become_.clone(),
            env: self.env.clone(),
            timeout: self.timeout,
        };
        Ok(self.conn.exec(req).await?)
    }

    /// Runs a command feeding `stdin`.
    pub async fn exec_stdin(&self, command: impl Into<String>, stdin: Vec<u8>) -> Result<ExecOutput, ModuleError> {
        let req = ExecRequest {
            command: command.into(),
            stdin: Some(stdin),
            become_: self.become_.clone(),
            env: self.env.clone(),
            timeout: self.timeout,
        };
        Ok(self.conn.exec(req).await?)
    }

    /// Writes a file on the target with the task's `become`.
    pub async fn put(&self, path: &str, data: &[u8], mode: Option<u32>) -> Result<(), ModuleError> {
        Ok(self.conn.put(path, data, mode, self.become_.as_ref()).await?)
    }

    /// Writes the controller file `local` on the target with the task's `become`, streamed
    /// (see [`Connection::put_file`]).
    pub async fn put_file(&self, path: &str, local: &std::path::Path, mode: Option<u32>) -> Result<(), ModuleError> {
        Ok(self.conn.put_file(path, local, mode, self.become_.as_ref()).await?)
    }

    /// Reads a file on the target with the task's `become`.
    pub async fn get(&self, path: &str) -> Result<Option<Vec<u8>>, ModuleError> {
        Ok(self.conn.get(path, self.become_.as_ref()).await?)
    }

    /// Reads a fact, from the cache when this host already read it since its last change.
    pub async fn fact<F: Fact>(&self, fact: &F) -> Result<F::Output, ModuleError> {
        let cmd = fact.command();
        if let Some(v) = self.facts.get::<F::Output>(&cmd) {
            return Ok(v);
        }
        let out = self.exec(cmd.clone()).await?;
        let v = fact.parse(&out).map_err(ModuleError::Failed)?;
        self.facts.put(cmd, v.clone());
        Ok(v)
    }

    /// Ansible's `path` argument type on this host: `$VAR`, `${VAR}`, `~` and `~user` as the
    /// module's own process would expand them (the task's `become` user and `environment:`),
    /// with Python's rules (see [`crate::paths`]). A path with none of them costs nothing;
    /// otherwise one read-only round trip per lookup.
    pub async fn expand_path(&self, p: &str) -> Result<String, ModuleError> {
        let env = if crate::paths::needs_env(p) {
            let out = self.exec(crate::cmd::Cmd::new("env").flag("-0").build().as_str()).await?;
            if out.rc != 0 {
                let err = String::from_utf8_lossy(&out.stderr);
                return Err(ModuleError::Failed(format!(
                    "cannot read the environment to expand `{p}`: {}",
                    err.trim()
                )));
            }
            crate::paths::parse_env0(&String::from_utf8_lossy(&out.stdout))
        } else {
            Vec::new()
        };
        let lookup = |name: &str| env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        let p = crate::paths::expand_vars(p, lookup);
        if !p.starts_with('~') {
            return Ok(p);
        }
        let home = match (crate::paths::tilde_user(&p), lookup("HOME")) {
            (None, Some(h)) => Some(h),
            (None, None) => self.passwd_home(None).await?,
            (Some(_), _) => None,
        };
        let user = match crate::paths::tilde_user(&p) {
            Some(u) => self.passwd_home(Some(u)).await?,
            None => None,
        };
        Ok(crate::paths::expand_user(&p, home.as_deref(), |_| user.clone()))
    }

    /// The home directory of `user` (or of the user the task runs as) from the passwd database.
    async fn passwd_home(&self, user: Option<&str>) -> Result<Option<String>, ModuleError> {
        let cmd = match user {
            Some(u) => crate::cmd::Cmd::new("getent").flag("passwd").operand(u).build(),
            None => crate::cmd::Sh::lit("getent passwd \"$(id -u)\""),
        };
        let out = self.exec(cmd.as_str()).await?;
        Ok(if out.rc == 0 { crate::paths::passwd_home(&String::from_utf8_lossy(&out.stdout)) } else { None })
    }

    /// Whether this is a check run.
    pub fn is_check(&self) -> bool {
        self.mode.check == CheckMode::Check
    }
}

/// A built-in module. Implement this; register the type once in `prov-modules`' registry macro.
///
/// Contract: `plan` only reads (it may run read-only commands); everything that changes the host
/// happens in `apply`, which gets what `plan` found. A task failure is `Ok(Outcome{failed: true})`
/// (with data for `failed_when`); `Err` is for arguments and connections.
#[async_trait]
pub trait Module: Send + Sync + 'static {
    /// The module key, snake_case, the same as its file name.
    const NAME: &'static str;
    /// The argument that a free-form string (`command: echo hi`) goes to, if any.
    const FREE_FORM: Option<&'static str> = None;
    /// Where it runs.
    const RUNS_ON: RunsOn = RunsOn::Target;
    /// The collections through which Ansible reaches the module of this name, its home first,
    /// so that those fully qualified names resolve (`ansible.builtin.copy`,
    /// `community.docker.docker_swarm`) and others do not. A module that ansible-core redirects
    /// from its builtin names (`ansible.builtin.docker_swarm` works in Ansible) lists
    /// `ansible.builtin` after its home. prov's own modules (no Ansible counterpart) have none:
    /// only `prov.NAME` and the short name reach them.
    const COLLECTIONS: &'static [&'static str] = &["ansible.builtin"];
    /// The arguments (with their aliases) that Ansible declares of type `path`: on a target
    /// they are expanded as [`ModuleCtx::expand_path`] says before the module sees them.
    const PATH_ARGS: &'static [&'static str] = &[];
    /// The arguments Ansible declares `type: list, elements: path`: a string is split at commas
    /// first (as the list type splits it), then each item is expanded as a path argument is.
    const LIST_PATH_ARGS: &'static [&'static str] = &[];
    /// Whether the items of a loop over this module run at once instead of one after
    /// another (e.g. `vm`: creating eight VMs should not take eight times as long).
    const PARALLEL_ITEMS: bool = false;
    /// Whether ansible-core runs it from its action plugin as `ansible.legacy.NAME` (copy,
    /// unarchive), the name its argument errors then show.
    const RUN_BY_ACTION_PLUGIN: bool = false;
    /// Arguments: a serde struct with `deny_unknown_fields`.
    type Args: DeserializeOwned + Send + Sync + 'static;
    /// What `apply` needs from `plan`.
    type Plan: Send + 'static;

    /// Reads the arguments from their rendered value: a serde struct by default. A module whose
    /// arguments are variables' values (`set_fact`) may keep them whole (a `datetime` stays one).
    fn args_of(args: &Value) -> Result<Self::Args, String> {
        args_from_value(args)
    }

    /// The command line to start in the background for `async` with `poll: 0` (command and
    /// shell): `None` for modules that cannot run so.
    fn background(_args: &Self::Args) -> Option<Result<Background, String>> {
        None
    }

    /// Checks that need no host (mutually exclusive arguments, ...).
    fn check_args(_args: &Self::Args) -> Result<(), String> {
        Ok(())
    }

    /// Reads the host's state and decides what to do.
    async fn plan(&self, args: &Self::Args, cx: &ModuleCtx<'_>) -> Result<Plan<Self::Plan>, ModuleError>;

    /// Makes the planned change.
    async fn apply(&self, args: &Self::Args, plan: Self::Plan, cx: &ModuleCtx<'_>) -> Result<Outcome, ModuleError>;
}

/// A command a fire-and-forget `async` task starts on the target (see [`Module::background`]).
#[derive(Debug, Clone)]
pub struct Background {
    /// The shell command line, as the module would run it.
    pub line: String,
    /// What the result's `cmd` shows.
    pub shown: Value,
    /// ansible-core's `strip_empty_ends` for the output.
    pub strip_empty_ends: bool,
}

/// A module with its types erased, as the engine and the compiler see it.
#[async_trait]
pub trait DynModule: Send + Sync {
    /// Module key.
    fn name(&self) -> &'static str;
    /// Accepted argument names (from serde).
    fn arg_names(&self) -> &'static [&'static str];
    /// Free-form argument name.
    fn free_form(&self) -> Option<&'static str>;
    /// Where it runs.
    fn runs_on(&self) -> RunsOn;
    /// Collections whose FQCN reaches it (see [`Module::COLLECTIONS`]).
    fn collections(&self) -> &'static [&'static str];
    /// Whether loop items run concurrently.
    fn parallel_items(&self) -> bool;
    /// Full check of arguments that contain no templates (compile time).
    fn validate(&self, args: &Value) -> Result<(), String>;
    /// Plan, then (unless check mode) apply.
    async fn run(&self, args: &Value, cx: &ModuleCtx<'_>) -> Result<Outcome, ModuleError>;
    /// The command a fire-and-forget `async` task starts (see [`Module::background`]).
    async fn background(&self, args: &Value, cx: &ModuleCtx<'_>) -> Result<Option<Background>, ModuleError>;
}

/// ansible-core's failure for arguments the module does not have (left at run time: an
/// argument whose template may render to `omit` is only known then): "Unsupported parameters
/// for (NAME) module: x. Supported parameters include: a, b." The module is named as
/// ansible-core names it for a task that calls it by its short name: `stat`, a collection's
/// `community.docker.docker_volume`, and `ansible.legacy.copy` for the modules its action
/// plugins run under that name ([`Module::RUN_BY_ACTION_PLUGIN`]). The supported names are
/// prov's (aliases among them), where ansible-core lists its own with the aliases apart.
fn unsupported_parameters<M: Module>(args: &Value, names: &[&str]) -> Option<String> {
    if names.is_empty() {
        return None;
    }
    let mut unknown: Vec<String> = args
        .try_iter()
        .ok()?
        .filter_map(|k| k.as_str().map(str::to_string))
        .filter(|k| !names.contains(&k.as_str()))
        .collect();
    if unknown.is_empty() {
        return None;
    }
    unknown.sort();
    let mut supported: Vec<&str> = names.to_vec();
    supported.sort_unstable();
    let name = M::NAME;
    let shown = match M::COLLECTIONS.first() {
        Some(&"ansible.builtin") | None if M::RUN_BY_ACTION_PLUGIN => format!("ansible.legacy.{name}"),
        Some(&"ansible.builtin") | None => name.to_string(),
        Some(c) => format!("{c}.{name}"),
    };
    Some(format!(
        "Unsupported parameters for ({shown}) module: {}. Supported parameters include: {}.",
        unknown.join(", "),
        supported.join(", ")
    ))
}

/// Erases a [`Module`] type.
pub struct Erased<M: Module>(pub M, pub &'static [&'static str]);

impl<M: Module> Erased<M> {
    /// Wraps a module, reading its argument names from serde.
    pub fn new(m: M) -> Self {
        let names: &'static [&'static str] = crate::serde_fields::struct_fields::<M::Args>();
        Erased(m, names)
    }
}

/// Deserializes module arguments from a template value.
pub fn args_from_value<T: DeserializeOwned>(v: &Value) -> Result<T, String> {
    T::deserialize(crate::args::Coerce(v.clone())).map_err(|e| e.to_string())
}

#[async_trait]
impl<M: Module> DynModule for Erased<M> {
    fn name(&self) -> &'static str {
        M::NAME
    }
    fn arg_names(&self) -> &'static [&'static str] {
        self.1
    }
    fn free_form(&self) -> Option<&'static str> {
        M::FREE_FORM
    }
    fn runs_on(&self) -> RunsOn {
        M::RUNS_ON
    }
    fn collections(&self) -> &'static [&'static str] {
        M::COLLECTIONS
    }
    fn parallel_items(&self) -> bool {
        M::PARALLEL_ITEMS
    }
    fn validate(&self, args: &Value) -> Result<(), String> {
        let a: M::Args = M::args_of(args)?;
        M::check_args(&a)
    }
    async fn background(&self, args: &Value, cx: &ModuleCtx<'_>) -> Result<Option<Background>, ModuleError> {
        let expanded = expand_path_args(args, M::PATH_ARGS, M::LIST_PATH_ARGS, cx).await?;
        let a: M::Args = M::args_of(expanded.as_ref().unwrap_or(args)).map_err(ModuleError::Args)?;
        M::check_args(&a).map_err(ModuleError::Args)?;
        M::background(&a).transpose().map_err(ModuleError::Args)
    }
    async fn run(&self, args: &Value, cx: &ModuleCtx<'_>) -> Result<Outcome, ModuleError> {
        if let Some(msg) = unsupported_parameters::<M>(args, self.1) {
            return Ok(Outcome::failed(msg));
        }
        let expanded = expand_path_args(args, M::PATH_ARGS, M::LIST_PATH_ARGS, cx).await?;
        let a: M::Args = M::args_of(expanded.as_ref().unwrap_or(args)).map_err(ModuleError::Args)?;
        M::check_args(&a).map_err(ModuleError::Args)?;
        match self.0.plan(&a, cx).await? {
            Plan::Ok(o) => Ok(o),
            Plan::Change(ch) => {
                if cx.is_check() {
                    let skipped = ch.in_check == InCheck::Skipped;
                    return Ok(Outcome {
                        changed: !skipped,
                        skipped,
                        msg: ch.msg,
                        diffs: ch.diffs,
                        planned: ch.planned,
                        data: ch.data,
                        ..Default::default()
                    });
                }
                let progress = cx.progress.filter(|_| !ch.planned.is_empty());
                if let Some(p) = progress {
                    p.applying(&ch.planned);
                }
                let applied = self.0.apply(&a, ch.plan, cx).await;
                if let Some(p) = progress {
                    p.applied(&ch.planned);
                }
                let mut o = applied?;
                cx.facts.clear();
                if o.diffs.is_empty() {
                    o.diffs = ch.diffs;
                }
                if o.planned.is_empty() {
                    o.planned = ch.planned;
                }
                Ok(o)
            }
        }
    }
}

/// `args` with its `path` arguments expanded on the target, or `None` when none needs it.
async fn expand_path_args(
    args: &Value,
    names: &[&str],
    list_names: &[&str],
    cx: &ModuleCtx<'_>,
) -> Result<Option<Value>, ModuleError> {
    let needs_text = |s: &str| s.contains('$') || s.starts_with('~');
    let needs = |v: &Value| v.as_str().is_some_and(needs_text);
    let parts = |v: &Value| -> Vec<Value> {
        match v.as_str() {
            Some(s) => s.split(',').map(Value::from).collect(),
            None => v.try_iter().map(|it| it.collect()).unwrap_or_default(),
        }
    };
    let any = names.iter().any(|n| args.get_attr(n).is_ok_and(|v| needs(&v)))
        || list_names.iter().any(|n| args.get_attr(n).is_ok_and(|v| parts(&v).iter().any(needs)));
    if !any {
        return Ok(None);
    }
    let mut out = std::collections::BTreeMap::new();
    for key in args.try_iter().map_err(|e| ModuleError::Args(e.to_string()))? {
        let v = args.get_item(&key).map_err(|e| ModuleError::Args(e.to_string()))?;
        let v = match (key.as_str(), v.as_str()) {
            (Some(k), _) if list_names.contains(&k) && parts(&v).iter().any(needs) => {
                let mut items = Vec::new();
                for item in parts(&v) {
                    items.push(match item.as_str() {
                        Some(s) if needs_text(s) => Value::from(cx.expand_path(s).await?),
                        _ => item,
                    });
                }
                Value::from(items)
            }
            (Some(k), Some(s)) if names.contains(&k) && needs(&v) => Value::from(cx.expand_path(s).await?),
            _ => v,
        };
        out.insert(key.to_string(), v);
    }
    Ok(Some(Value::from(out)))
}

/// All modules prov knows, by name.
pub struct Registry {
    modules: Vec<Box<dyn DynModule>>,
}

/// Modules Ansible removed or renamed whose short names users still write: each with what to
/// write instead, so the refusal says more than "unknown module".
const RETIRED: &[(&str, &str)] = &[
    (
        "docker_service",
        "`docker_service` was an old name of docker_compose, which Ansible removed; for a swarm service write \
         `docker_swarm_service` (community.docker.docker_swarm_service), for compose `docker_compose_v2`",
    ),
    (
        "include",
        "ansible-core removed `include` (2.16: \"The 'ansible.builtin.include' action plugin has been removed\"); \
         use include_tasks or import_tasks",
    ),
];

impl Registry {
    /// A registry of the given modules.
    pub fn new(modules: Vec<Box<dyn DynModule>>) -> Self {
        Registry { modules }
    }

    /// Looks a module up by its short name (`copy`) or a fully qualified name: `prov.NAME`
    /// reaches every module, any other collection only the modules Ansible reaches through it
    /// (`ansible.builtin.copy`, not `community.docker.copy`); `ansible.legacy` resolves as
    /// `ansible.builtin` does.
    pub fn get(&self, name: &str) -> Option<&dyn DynModule> {
        let (collection, short) = split_fqcn(name);
        let m = self.modules.iter().find(|m| m.name() == short)?;
        match collection {
            None | Some("prov") => Some(m.as_ref()),
            Some("ansible.legacy") if m.collections().contains(&"ansible.builtin") => Some(m.as_ref()),
            Some(c) if m.collections().contains(&c) => Some(m.as_ref()),
            Some(_) => None,
        }
    }

    /// Why `name` is not a module when a near miss explains it: a module of that short name in
    /// another collection, or a module Ansible retired.
    pub fn hint(&self, name: &str) -> Option<String> {
        let (collection, short) = split_fqcn(name);
        if let Some((_, why)) = RETIRED.iter().find(|(n, _)| *n == short) {
            return Some((*why).to_string());
        }
        let m = self.modules.iter().find(|m| m.name() == short)?;
        let c = collection?;
        Some(match m.collections().first() {
            Some(home) => format!("`{short}` is not in `{c}`: write `{home}.{short}` (or `{short}`)"),
            None => format!("`{short}` is prov's own module, not in `{c}`: write `prov.{short}` (or `{short}`)"),
        })
    }

    /// All module names.
    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.modules.iter().map(|m| m.name())
    }
}

/// Splits `ansible.builtin.copy` into (`ansible.builtin`, `copy`); a short name has no collection.
fn split_fqcn(name: &str) -> (Option<&str>, &str) {
    match name.rsplit_once('.') {
        Some((c, short)) => (Some(c), short),
        None => (None, name),
    }
}
