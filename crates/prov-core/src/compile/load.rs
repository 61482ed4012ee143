//! Pass 1: read playbooks, task files and roles into [`CompiledPlay`]s. Checks every keyword,
//! module, argument, template and role before anything connects, and collects all problems.

use super::keywords;
use super::model::*;
use super::scan;
use crate::connection::{Become, BecomeMethod};
use crate::diag::{did_you_mean, DiagKind, Diagnostic, Diagnostics, Severity};
use crate::inventory::{HostPattern, Inventory};
use crate::module::{Registry, RunsOn};
use crate::source::{SourceMap, Span};
use crate::template::{has_template, is_template, Templar, Tmpl};
use crate::vars::{Layer, Scope, VarMap};
use crate::yaml::{self, Node, NodeKind};
use minijinja::Value;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// What the command line adds to compilation.
#[derive(Debug, Clone, Default)]
pub struct CompileOptions {
    /// `--tags`.
    pub tags: Vec<String>,
    /// `--skip-tags`.
    pub skip_tags: Vec<String>,
    /// `-e` variables.
    pub extra_vars: Arc<VarMap>,
    /// When not empty, only tasks of these modules (and handlers) are selected, on top of
    /// the tag rules (`prov rollback` keeps the `release` tasks).
    pub only_modules: Vec<String>,
    /// Defaults of the plays (ansible.cfg, `ANSIBLE_*`).
    pub defaults: PlayDefaults,
    /// Asks a play's `vars_prompt` questions on a terminal; `None` (no terminal): as
    /// ansible-core not in interactive mode, the answer is the default (else the text `None`).
    pub prompter: Option<Prompter>,
    /// Standard input is a terminal: where ansible-core would wait for an answer (a `pause`
    /// without a duration), which prov does not do.
    pub interactive: bool,
}

/// One `vars_prompt` question.
#[derive(Debug, Clone)]
pub struct PromptRequest {
    /// The question (`prompt`, else the variable's name).
    pub prompt: String,
    /// The answer when the user gives none.
    pub default: Option<String>,
    /// Not echoed (`private`, default true).
    pub private: bool,
    /// Asked twice, the answers must match.
    pub confirm: bool,
}

/// Asks one question: the answer (the default already applied), or why there is none.
pub type Ask = dyn Fn(&PromptRequest) -> Result<String, String> + Send + Sync;

/// Asks `vars_prompt` questions.
#[derive(Clone)]
pub struct Prompter(pub Arc<Ask>);

impl std::fmt::Debug for Prompter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Prompter")
    }
}

/// What ansible.cfg sets for every play that does not say otherwise.
#[derive(Debug, Clone, Default)]
pub struct PlayDefaults {
    /// Roles are looked for in `roles/` next to the playbook, then here, then next to the
    /// playbook itself (Ansible's `roles_path`).
    pub roles_path: Vec<PathBuf>,
    /// Where collections are looked for (Ansible's `collections_path`), after the
    /// `collections/` directory beside the playbook: each holds `ansible_collections/NS/COLL`.
    pub collections_path: Vec<PathBuf>,
    /// `[privilege_escalation] become`.
    pub become_: Option<bool>,
    /// `[privilege_escalation] become_user` (else `root`).
    pub become_user: Option<String>,
    /// `[privilege_escalation] become_method` (else `sudo`).
    pub become_method: Option<BecomeMethod>,
    /// `[defaults] strategy` (else prov's `dag`).
    pub strategy: Option<String>,
    /// `[defaults] gathering`: `implicit` (`None`, the default), `explicit` or `smart`.
    pub gathering: Option<String>,
    /// `[defaults] force_handlers` or `--force-handlers`: the default of the play keyword.
    pub force_handlers: bool,
}

/// Inherited task attributes (from play, role, include, block).
#[derive(Clone, Default)]
struct Inherit {
    /// Inside the file of a looped include (where `run_once` is refused).
    looped: bool,
    /// Inside a dynamic include that may not run: it has a `when`, or its file name is a
    /// template (the file is chosen when it runs).
    guarded: bool,
    tags: BTreeSet<String>,
    when: Vec<Cond>,
    become_: Option<Option<Become>>,
    /// The nearest `become` written as a template (see [`TaskDef::become_if`]).
    become_if: Option<Tmpl>,
    /// The nearest `become_user` written, for a `become: true` below.
    become_user: Option<String>,
    /// The `become_method` set on the way here (else ansible.cfg's, else sudo): it applies
    /// wherever `become` is switched on below, as a keyword of its own.
    become_method: Option<BecomeMethod>,
    /// Role vars (`vars/main.yml`), then the vars of blocks, role entries and imports: a role's
    /// own vars rank below every `vars:` around its tasks (ansible-core's `Role.get_vars`,
    /// then the blocks' and the task's).
    vars: Vec<Arc<VarMap>>,
    /// How many of `vars` are role vars (the first ones).
    role_vars_at: usize,
    /// The `vars` of the dynamic includes on the way here (see `TaskDef::params`).
    params: Vec<Arc<VarMap>>,
    role: Option<Arc<RoleCtx>>,
    /// For the roles a role's `meta/main.yml` depends on: that role (their dependency chain
    /// goes on through it).
    depender: Option<Arc<RoleCtx>>,
    /// The `module_defaults` entries on the way here, outermost first.
    module_defaults: Vec<ModuleDefaults>,
    environment: Option<Value>,
    ignore_errors: Option<Flag>,
    delegate_to: Option<Tmpl>,
    /// The nearest `remote_user` of a block or import (see [`TaskDef::remote_user`]).
    remote_user: Option<Tmpl>,
    /// A block's `delegate_facts`, for its tasks that set none.
    delegate_facts: Option<Flag>,
    run_once: Option<Flag>,
    no_log: Option<Flag>,
    /// `ignore_unreachable`.
    ignore_unreachable: Option<bool>,
    search_dirs: Arc<Vec<PathBuf>>,
    /// The collections a short role or module name is looked for in, in order (the play's
    /// `collections`; in a role, its own collection and its `meta/main.yml` ones).
    collections: Arc<Vec<String>>,
    /// Directory include paths are relative to.
    dir: PathBuf,
    handler: bool,
    /// Roles loaded here expose their defaults and vars to the whole play (`roles:`,
    /// `import_role`), as in Ansible without `private_role_vars`; not under `include_role`
    /// or `include_tasks`, which Ansible loads only when they run.
    role_public: bool,
    /// A block's `notify`, for its tasks that name none.
    notify: Vec<(String, Span)>,
    /// A block's `check_mode`, for its tasks that set none.
    check_mode: Option<bool>,
    /// The play's, a block's or an import's `any_errors_fatal`, for its tasks that set none.
    any_errors_fatal: Option<bool>,
    /// Inside a block of the handlers, where another block is refused (as in ansible-core).
    handler_block: bool,
    /// Tasks of a file a handler includes: they run when the include is notified, and are
    /// not handlers of their own names (ansible-core: "handler ... was not found").
    handler_file: bool,
    /// The tags of the dynamic includes on the way here (see `TaskDef::gates`).
    gates: Vec<BTreeSet<String>>,
    /// For the role `load_role` loads next: its `Step::Role` key (a `roles:` entry or a
    /// dependency); `None` under include_role and import_role.
    role_key: Option<Arc<str>>,
}

/// Compiles a playbook file against an inventory. Warnings come back with the result.
pub fn compile_playbook(
    path: &Path,
    sources: &SourceMap,
    templar: &Templar,
    registry: &Registry,
    inventory: &Inventory,
    opts: &CompileOptions,
) -> Result<(CompiledPlaybook, Vec<Diagnostic>), Diagnostics> {
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let dir = if dir.as_os_str().is_empty() { PathBuf::from(".") } else { dir };
    let mut l = Loader {
        sources,
        templar,
        registry,
        inventory,
        opts,
        diags: Diagnostics::default(),
        playbook_dir: dir.clone(),
        file_stack: Vec::new(),
        imports: Vec::new(),
        role_stack: Vec::new(),
        known: HashSet::new(),
        unknown_names: false,
        var_templates: HashMap::new(),
        collection_roots: collection_roots(&dir, &opts.defaults.collections_path),
        collection_modules: HashMap::new(),
    };
    l.collect_inventory_names();
    let mut plays = Vec::new();
    l.load_playbook_file(path, Span::NONE, &mut plays);
    if l.diags.has_errors() {
        return Err(l.diags);
    }
    l.check_undefined(&plays);
    if l.diags.has_errors() {
        return Err(l.diags);
    }
    Ok((CompiledPlaybook { path: path.to_path_buf(), dir, plays }, l.diags.0))
}

struct Loader<'a> {
    sources: &'a SourceMap,
    templar: &'a Templar,
    registry: &'a Registry,
    inventory: &'a Inventory,
    opts: &'a CompileOptions,
    diags: Diagnostics,
    playbook_dir: PathBuf,
    file_stack: Vec<PathBuf>,
    /// The `import_playbook` entries the plays being read come through, outermost first:
    /// their `vars` and `tags` go to each play (see [`Loader::import_into`]).
    imports: Vec<(VarMap, BTreeSet<String>)>,
    role_stack: Vec<String>,
    /// Every variable name defined anywhere (for the undefined-variable check).
    known: HashSet<String>,
    /// Some task defines names that cannot be known before the run (`include_vars` of a
    /// templated file or a directory): the undefined-variable check is not made.
    unknown_names: bool,
    /// Template strings inside each variable's definitions (for transitive hostvars reads).
    var_templates: HashMap<String, Vec<String>>,
    /// The directories holding `ansible_collections/`, in Ansible's search order.
    collection_roots: Vec<PathBuf>,
    /// The module names each collection directory answers (see [`Loader::collection_modules`]).
    collection_modules: HashMap<PathBuf, Arc<HashSet<String>>>,
}

/// A role found by name.
struct FoundRole {
    path: PathBuf,
    /// The collection it lives in, for a role found through one.
    collection: Option<String>,
}

/// The directories ansible-core looks for collections in: `collections/` beside the
/// playbook, then `collections_path`. A path that names its `ansible_collections`
/// directory stands for its parent; paths without one are left out.
fn collection_roots(playbook_dir: &Path, configured: &[PathBuf]) -> Vec<PathBuf> {
    let mut roots: Vec<PathBuf> = Vec::new();
    for p in std::iter::once(playbook_dir.join("collections")).chain(configured.iter().cloned()) {
        let p = if p.file_name().is_some_and(|n| n == "ansible_collections") {
            p.parent().map(Path::to_path_buf).unwrap_or(p)
        } else {
            p
        };
        if !roots.contains(&p) && p.join("ansible_collections").is_dir() {
            roots.push(p);
        }
    }
    roots
}

/// `NS.COLL` of a collection name, when it is one: two Python names that are no Python
/// keywords (ansible-core's rule).
fn collection_name(name: &str) -> Option<(&str, &str)> {
    let (ns, coll) = name.split_once('.')?;
    (collection_part(ns) && collection_part(coll)).then_some((ns, coll))
}

fn collection_part(s: &str) -> bool {
    const PYTHON_KEYWORDS: &[&str] = &[
        "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class", "continue", "def", "del",
        "elif", "else", "except", "finally", "for", "from", "global", "if", "import", "in", "is", "lambda", "nonlocal",
        "not", "or", "pass", "raise", "return", "try", "while", "with", "yield",
    ];
    is_python_name(s) && !PYTHON_KEYWORDS.contains(&s)
}

/// The collections ansible-core leaves out of a role search: they hold no roles.
fn holds_no_roles(collection: &str) -> bool {
    matches!(collection, "ansible.builtin" | "ansible.legacy")
}

/// How a notification reaches a handler.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HandlerKey {
    /// By the handler's name: only the last handler of that name runs.
    Name,
    /// By a `listen` topic: every listener runs (one per handler name).
    Listen,
    /// By the name of an `include_tasks`/`import_tasks` handler: every task of its file runs.
    File,
    /// By a `listen` topic of an `include_tasks`/`import_tasks` handler: every task of its
    /// file runs, beside a handler that has the topic as its name.
    FileListen,
}

/// A play under construction.
/// One entry of `module_defaults`: arguments for a module or for an action group.
#[derive(Clone, Debug)]
struct ModuleDefaults {
    /// `group/` and the group's fully qualified name, or the module's name in the registry
    /// (a module prov does not have keeps its name as written, and no task matches it).
    key: String,
    args: Arc<Vec<(String, Value, Span)>>,
    /// Where the entry's key is written.
    span: Span,
}

/// The modules ansible-core's `package`, `service` and `gather_facts` actions run, whose
/// module_defaults it applies to them there (package.py, service.py, gather_facts.py).
const BACKENDS: &[(&str, &[&str])] = &[
    ("package", &["apt", "dnf", "dnf5", "yum", "zypper", "pacman", "apk", "pkgng", "portage", "openbsd_pkg"]),
    ("service", &["systemd", "systemd_service", "sysvinit", "openrc", "runit"]),
    ("gather_facts", &["setup"]),
];

/// The action groups (`module_defaults: {group/NAME: ...}`) that hold a module, by the
/// module's home collection: every module prov has of these collections is in their groups
/// (read from the `action_groups` of their meta/runtime.yml in `ansible` 12.3.0 and of
/// ansible-core's builtin runtime, whose `aws`, `docker` and `gcp` extend them).
fn action_groups(m: &dyn crate::module::DynModule) -> &'static [&'static str] {
    match (m.collections().first().copied(), m.name()) {
        (Some("community.docker"), _) => &["community.docker.docker", "ansible.builtin.docker"],
        (Some("amazon.aws"), _) => &["amazon.aws.aws", "ansible.builtin.aws"],
        (Some("google.cloud"), _) => &["google.cloud.gcp", "ansible.builtin.gcp"],
        (Some("community.postgresql"), _) => &["community.postgresql.all"],
        (Some("ansible.builtin"), "ping") => &["ansible.builtin.testgroup"],
        _ => &[],
    }
}

/// The play's variables that templated tags render with (see [`Loader::render_tags`]),
/// below -e: the public roles' defaults, the play's vars and vars_files, the public roles' vars.
struct PlayLayers {
    defaults: Arc<VarMap>,
    vars: Arc<VarMap>,
    role_vars: Arc<VarMap>,
}

struct PlayBuild {
    tasks: Vec<Arc<TaskDef>>,
    /// What each handler answers to: its name (also as `role : name`) and its `listen` topics.
    handler_names: Vec<(String, TaskId, HandlerKey)>,
    /// The block of the handlers each handler is in (ansible-core makes one of each run of
    /// bare handlers, and one of each `block:`), counted as they are read.
    handler_blocks: HashMap<TaskId, usize>,
    /// The block of handlers being read (see `handler_blocks`).
    handler_block: usize,
    /// See `Play::handler_files`.
    handler_files: HashMap<TaskId, Vec<TaskId>>,
    pending_notify: Vec<(TaskId, String, Span)>,
    /// Roles loaded in this play so far (a bound on repeated dependencies).
    role_loads: usize,
    /// Task files loaded in this play so far (a bound on includes that fan out).
    file_loads: usize,
    templates: Vec<(String, Span)>,
    /// Handlers of roles pulled in by `import_role` (Ansible appends them to the play's
    /// handlers when it parses the play).
    imported_handlers: Vec<TaskId>,
    /// Handlers of roles pulled in by `include_role` (Ansible appends them when the include
    /// runs, after all imported ones).
    included_handlers: Vec<TaskId>,
    /// The play's vars and vars_files (what a templated loop variable name may use, with
    /// the roles' and the task's).
    play_vars: Arc<VarMap>,
    /// Defaults of the play's public roles, merged in load order.
    public_defaults: VarMap,
    /// `vars/main.yml` of the play's public roles, merged in load order.
    public_vars: VarMap,
    /// What a templated handler name is rendered with: the play's vars and `-e`.
    name_ctx: Value,
}

impl<'a> Loader<'a> {
    fn err(&mut self, kind: DiagKind, span: Span, msg: impl Into<String>) -> &mut Diagnostic {
        self.diags.push(Diagnostic::error(kind, span, msg));
        self.diags.0.last_mut().expect("just pushed")
    }

    fn collect_inventory_names(&mut self) {
        let mut names = Vec::new();
        for h in self.inventory.hosts() {
            names.extend(self.inventory.host_vars(&h.name).keys().cloned());
        }
        // Hosts that add_host makes, and groups group_by fills, get the groups' variables
        // (also those of `group_vars/` files of groups not made yet) and `host_vars/` files.
        names.extend(self.inventory.group_var_names().map(|(_, k)| k.to_string()));
        names.extend(self.inventory.host_var_names().map(|(_, k)| k.to_string()));
        for k in self.opts.extra_vars.keys() {
            names.push(k.clone());
        }
        self.known.extend(names);
        for m in keywords::MAGIC {
            self.known.insert((*m).to_string());
        }
    }

    fn note_vars(&mut self, vars: &VarMap) {
        for (k, v) in vars {
            self.known.insert(k.clone());
            let mut strings = Vec::new();
            collect_strings(v, &mut strings);
            self.var_templates.entry(k.clone()).or_default().extend(strings.into_iter().filter(|s| is_template(s)));
        }
    }

    fn read_yaml(&mut self, path: &Path, span: Span) -> Option<Node> {
        match self.sources.load(path) {
            Err(e) => {
                self.err(DiagKind::Missing, span, format!("cannot read {}: {e}", path.display()));
                None
            }
            Ok((id, text)) => match yaml::parse_one(id, &text) {
                Err(d) => {
                    self.diags.push(d);
                    None
                }
                Ok((node, warnings)) => {
                    self.diags.0.extend(warnings);
                    Some(node)
                }
            },
        }
    }

    fn load_playbook_file(&mut self, path: &Path, span: Span, plays: &mut Vec<CompiledPlay>) {
        let canon = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
        if self.file_stack.contains(&canon) {
            let chain = self.file_stack.iter().chain([&canon]).map(|p| p.display().to_string()).collect::<Vec<_>>();
            self.err(DiagKind::Cycle, span, format!("import cycle: {}", chain.join(" → ")));
            return;
        }
        let Some(root) = self.read_yaml(path, span) else { return };
        // Ansible refuses a playbook without plays (exit 4) rather than doing nothing.
        let Some(items) = root.as_seq() else {
            let msg = match root.kind {
                NodeKind::Null => format!("empty playbook, nothing to do: {}", path.display()),
                _ => format!("a playbook must be a list of plays, found a {}", root.type_name()),
            };
            self.err(DiagKind::Invalid, root.span, msg).help = Some("start each play with `- hosts: ...`".into());
            return;
        };
        if items.is_empty() {
            self.err(
                DiagKind::Invalid,
                root.span,
                format!("a playbook must contain at least one play: {}", path.display()),
            )
            .help = Some("start each play with `- hosts: ...`".into());
            return;
        }
        self.file_stack.push(canon);
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("."));
        let dir = if dir.as_os_str().is_empty() { PathBuf::from(".") } else { dir };
        // The plays of an imported playbook find their roles, vars_files and other relative
        // paths from its directory, which is their `playbook_dir` (ansible-core sets the
        // loader's basedir to it).
        let outer_dir = std::mem::replace(&mut self.playbook_dir, dir.clone());
        for item in items {
            if let Some(target) = item.get("import_playbook") {
                match target.as_str() {
                    Some(p) => {
                        let p = dir.join(p);
                        let import = self.import_keywords(item);
                        self.imports.push(import);
                        self.load_playbook_file(&p, target.span, plays);
                        self.imports.pop();
                    }
                    None => {
                        self.err(DiagKind::Invalid, target.span, "import_playbook takes a file name");
                    }
                }
                continue;
            }
            if let Some(p) = self.load_play(item, &dir) {
                plays.push(p);
            }
        }
        self.playbook_dir = outer_dir;
        self.file_stack.pop();
    }

    /// `async` and `poll`: with `poll` above 0 (ansible-core's default is 15) the task waits for
    /// the module, at most `async` seconds; `async: 0` is an ordinary task. Fire-and-forget
    /// (`poll: 0`, to be checked with `async_status`) is for `command` and `shell` (without
    /// `creates`, `removes` or `stdin`); the second value says it is one.
    fn async_keywords(&mut self, node: &Node, module: &str, margs: &Node) -> (Option<u64>, bool) {
        let number = |this: &mut Self, key: &str| -> Option<i64> {
            let n = node.get(key)?;
            let v = match &n.kind {
                NodeKind::Int(i) => Some(*i),
                NodeKind::Str(s) if !is_template(s) => s.trim().parse::<i64>().ok(),
                _ => None,
            };
            match v {
                Some(i) if i >= 0 => Some(i),
                _ => {
                    this.err(DiagKind::Unsupported, n.span, format!("`{key}` must be a whole number of seconds"))
                        .help = Some("prov reads it when it compiles the play: write a number, not a template".into());
                    None
                }
            }
        };
        let secs = number(self, "async");
        let poll = number(self, "poll");
        let short = module.rsplit('.').next().unwrap_or(module);
        let guarded = ["creates", "removes", "stdin"].into_iter().find(|k| margs.get(k).is_some());
        match (secs, poll) {
            (Some(s), Some(0)) if s > 0 && matches!(short, "command" | "shell") && guarded.is_none() => {
                (Some(s as u64), true)
            }
            (Some(s), Some(0)) if s > 0 => {
                let at = node.get("poll").map_or(node.span, |n| n.span);
                let what = match guarded {
                    Some(k) => format!("fire-and-forget `async` (`poll: 0`) with `{k}` is not supported by prov yet"),
                    None => format!("fire-and-forget `async` (`poll: 0`) of `{module}` is not supported by prov yet"),
                };
                self.err(DiagKind::Unsupported, at, what).help = Some(
                    "prov starts command and shell in the background; give `poll` a number of seconds for other modules: the task then waits for the module's end"
                        .into(),
                );
                (None, false)
            }
            (Some(s), _) if s > 0 && NO_ASYNC.contains(&module) => {
                // ansible-core's action plugins of these modules refuse it when they run.
                let at = node.get("async").map_or(node.span, |n| n.span);
                self.err(DiagKind::Invalid, at, format!("This action ({module}) does not support async."));
                (None, false)
            }
            (Some(s), _) if s > 0 => (Some(s as u64), false),
            _ => (None, false),
        }
    }

    /// A play's `vars_prompt`, as ansible-core asks it when the play starts: a variable `-e`
    /// gives is not asked; without a terminal, nothing is asked (with ansible-core's warning) and
    /// the answer is the default, else the text `None`. The answers (always text) become play
    /// variables.
    fn vars_prompt(&mut self, node: &Node, vars: &mut VarMap) {
        let Some(items) = node.as_seq() else {
            if !matches!(node.kind, NodeKind::Null) {
                self.err(DiagKind::Invalid, node.span, "`vars_prompt` must be a list of questions");
            }
            return;
        };
        let mut warned = false;
        for item in items {
            let Some(entries) = item.as_map() else {
                self.err(DiagKind::Invalid, item.span, "a `vars_prompt` question must be a mapping with `name`");
                continue;
            };
            let text = |k: &str| item.get(k).and_then(Node::scalar_text);
            for (k, _) in entries {
                match k.as_str() {
                    Some("name" | "prompt" | "default" | "private" | "confirm" | "unsafe") => {}
                    Some(key @ ("encrypt" | "salt" | "salt_size")) => {
                        self.err(
                            DiagKind::Unsupported,
                            k.span,
                            format!("vars_prompt `{key}` is not supported by prov yet"),
                        )
                        .help = Some("give the hashed value with -e, or hash it with `password_hash` in a task".into());
                    }
                    Some(key) => {
                        self.err(DiagKind::Unknown, k.span, format!("unknown vars_prompt key `{key}`")).help =
                            Some("keys: name, prompt, default, private, confirm, unsafe".into());
                    }
                    None => {}
                }
            }
            let Some(name) = text("name") else {
                self.err(DiagKind::Invalid, item.span, "a `vars_prompt` question needs `name`");
                continue;
            };
            self.known.insert(name.clone());
            if self.opts.extra_vars.contains_key(&name) {
                continue;
            }
            let flag = |k: &str, default: bool| match item.get(k).map(|n| &n.kind) {
                Some(NodeKind::Bool(b)) => *b,
                Some(NodeKind::Str(s)) => crate::args::parse_bool(s).unwrap_or(default),
                _ => default,
            };
            let req = PromptRequest {
                prompt: text("prompt").unwrap_or_else(|| name.clone()),
                default: text("default"),
                private: flag("private", true),
                confirm: flag("confirm", false),
            };
            // `unsafe: true`: the answer is not templated (as a `!unsafe` string).
            let unsafe_ = flag("unsafe", false);
            let wrap = |a: String| if unsafe_ { Value::from_safe_string(a) } else { Value::from(a) };
            let answer = match &self.opts.prompter {
                Some(p) => match (p.0)(&req) {
                    Ok(a) => wrap(a),
                    Err(e) => {
                        self.err(DiagKind::Invalid, item.span, format!("vars_prompt `{name}`: {e}"));
                        continue;
                    }
                },
                None => {
                    if !warned {
                        self.diags
                            .push(Diagnostic::warning(item.span, "Not prompting as we are not in interactive mode"));
                        warned = true;
                    }
                    // ansible-core makes the answer text: no default is the string "None".
                    wrap(req.default.unwrap_or_else(|| "None".into()))
                }
            };
            vars.insert(name, answer);
        }
    }

    fn check_keys(&mut self, node: &Node, allowed: &[&str], unsupported: &[&str], what: &str) -> bool {
        let mut ok = true;
        for (k, v) in node.as_map().unwrap_or(&[]) {
            let Some(key) = k.as_str() else {
                self.err(DiagKind::Invalid, k.span, format!("{what} keys must be strings"));
                ok = false;
                continue;
            };
            if allowed.contains(&key) {
                continue;
            }
            // An unsupported keyword left empty (`vars_prompt: null`, `[]`) asks for nothing.
            let empty = match &v.kind {
                NodeKind::Null => true,
                NodeKind::Seq(items) => items.is_empty(),
                NodeKind::Map(entries) => entries.is_empty(),
                _ => false,
            };
            if empty && unsupported.contains(&key) {
                continue;
            }
            ok = false;
            if unsupported.contains(&key) {
                self.err(
                    DiagKind::Unsupported,
                    k.span,
                    format!("{what} keyword `{key}` is not supported by prov yet"),
                )
                .help = Some("remove it; see docs/src/language.md, \"Not supported yet\"".into());
            } else {
                let hint = did_you_mean(key, allowed.iter().copied());
                self.err(DiagKind::Unknown, k.span, format!("unknown {what} keyword `{key}`")).help =
                    hint.or_else(|| Some(format!("valid keywords: {}", allowed.join(", "))));
            }
        }
        ok
    }

    /// The `vars` and `tags` of an `import_playbook` entry, which ansible-core gives each play
    /// of the imported playbook (`when` is refused: prov does not carry it to the plays).
    fn import_keywords(&mut self, item: &Node) -> (VarMap, BTreeSet<String>) {
        let mut vars = VarMap::new();
        for (k, v) in item.as_map().unwrap_or(&[]) {
            match k.as_str().unwrap_or_default() {
                "import_playbook" | "name" => {}
                "vars" => self.map_into(v, &mut vars, "vars"),
                "tags" => {}
                "when" => {
                    self.err(DiagKind::Unsupported, k.span, "`when` on import_playbook is not supported by prov yet")
                        .help = Some("put the condition on the imported plays' tasks".into());
                }
                other => {
                    self.err(
                        DiagKind::Unsupported,
                        k.span,
                        format!("import_playbook keyword `{other}` is not supported by prov"),
                    )
                    .help = Some("import_playbook takes `vars`, `tags` and `name` here".into());
                }
            }
        }
        self.note_vars(&vars);
        let tags = self.tags_of(item.get("tags"));
        (vars, tags)
    }

    /// A play's vars and tags with those of the `import_playbook` entries it came through:
    /// an import's vars replace the play's own of the same name (the outer import's last; a
    /// variable named `tags` is dropped, as ansible-core pops it and its tags come to
    /// nothing), and their tags are added.
    fn import_into(&self, vars: &mut VarMap, tags: &mut BTreeSet<String>) {
        for (ivars, itags) in self.imports.iter().rev() {
            for (k, v) in ivars {
                vars.insert(k.clone(), v.clone());
            }
            vars.shift_remove("tags");
            tags.extend(itags.iter().cloned());
        }
    }

    fn load_play(&mut self, node: &Node, dir: &Path) -> Option<CompiledPlay> {
        if node.as_map().is_none() {
            self.err(DiagKind::Invalid, node.span, format!("a play must be a mapping, found a {}", node.type_name()));
            return None;
        }
        self.check_keys(node, keywords::PLAY, keywords::PLAY_UNSUPPORTED, "play");
        let name = node.get("name").and_then(Node::scalar_text).unwrap_or_default();
        let (hosts, hosts_span) = match node.get("hosts") {
            Some(h) => {
                let text = match &h.kind {
                    NodeKind::Seq(items) => items.iter().filter_map(Node::scalar_text).collect::<Vec<_>>().join(":"),
                    _ => h.scalar_text().unwrap_or_default(),
                };
                (text, h.span)
            }
            None => {
                self.err(DiagKind::Invalid, node.span, "play has no `hosts`").help =
                    Some("add `hosts: all` or a group name".into());
                (String::new(), node.span)
            }
        };
        // Play vars and vars_files.
        let mut vars = VarMap::new();
        if let Some(v) = node.get("vars") {
            self.map_into(v, &mut vars, "vars");
        }
        let mut import_tags = BTreeSet::new();
        self.import_into(&mut vars, &mut import_tags);
        if let Some(vp) = node.get("vars_prompt") {
            self.vars_prompt(vp, &mut vars);
        }
        // A templated `hosts` is rendered with the play's vars and `-e` (`hosts: "{{ target }}"`
        // with `-e target=web`), as ansible-core renders it when the play starts.
        let hosts = if is_template(&hosts) {
            let layers = vec![Layer::source(Arc::new(vars.clone())), Layer::source(self.opts.extra_vars.clone())];
            let templar = Arc::new(self.templar.sibling());
            let ctx = Scope::new(templar, Arc::new(VarMap::new()), layers).into_value();
            match self.templar.render_str(&hosts, &ctx) {
                Ok(v) if v.kind() == minijinja::value::ValueKind::Seq => {
                    v.try_iter().map(|it| it.map(|h| h.to_string()).collect::<Vec<_>>().join(":")).unwrap_or_default()
                }
                Ok(v) => v.to_string(),
                Err(e) => {
                    self.err(DiagKind::Template, hosts_span, format!("hosts: {e}")).help =
                        Some("a play's hosts may use the play's vars and -e, not host variables".into());
                    String::new()
                }
            }
        } else {
            hosts
        };
        if !hosts.is_empty() {
            match HostPattern::parse(&hosts) {
                Err(e) => {
                    self.err(DiagKind::Pattern, hosts_span, format!("bad host pattern `{hosts}`: {e}")).help = Some(
                        "patterns look like `all`, `web`, `web:db`, `web:&prod`, `web:!db`, `web*`, `~re`, `web[0:2]`"
                            .into(),
                    );
                }
                Ok(p) => {
                    if self.inventory.select(&p).is_empty() {
                        let groups: Vec<String> = self.inventory.groups().map(|g| g.name.clone()).collect();
                        let hint = p.names().iter().find_map(|n| did_you_mean(n, groups.iter().map(String::as_str)));
                        self.diags.push(
                            Diagnostic::warning(hosts_span, format!("host pattern `{hosts}` matches no host"))
                                .with_opt_help(hint),
                        );
                    }
                }
            }
        }
        let mut host_vars_files = HashMap::new();
        if let Some(vf) = node.get("vars_files") {
            let entries = seq_or_one(vf);
            let per_host = entries.iter().any(|f| f.as_seq().is_some() || f.as_str().is_some_and(is_template));
            if per_host {
                host_vars_files = self.vars_files_per_host(&entries, &vars, dir, &hosts);
            } else {
                for f in entries {
                    match f.as_str() {
                        Some(p) => {
                            if let Some(n) = self.read_yaml(&dir.join(p), f.span) {
                                self.vars_file_into(&n, &mut vars);
                            }
                        }
                        None => {
                            self.err(DiagKind::Invalid, f.span, "a vars_files entry is a file name or a list of them");
                        }
                    }
                }
            }
        }
        self.note_vars(&vars);
        let vars = Arc::new(vars);
        let mut play_tags = self.tags_of(node.get("tags"));
        play_tags.extend(import_tags);
        let mut inherit = Inherit {
            tags: play_tags,
            vars: Vec::new(),
            params: Vec::new(),
            search_dirs: Arc::new(vec![dir.to_path_buf()]),
            dir: dir.to_path_buf(),
            role_public: true,
            ..Default::default()
        };
        let mut collections = self.collections_of(node.get("collections"));
        if !collections.is_empty() && !collections.iter().any(|c| holds_no_roles(c)) {
            collections.push("ansible.legacy".into());
        }
        inherit.collections = Arc::new(collections);
        self.module_defaults_into(node.get("module_defaults"), &mut inherit.module_defaults);
        inherit.become_method = self.opts.defaults.become_method;
        let cfg_become = match self.opts.defaults.become_ {
            Some(true) => Some(Some(Become {
                user: self.default_become_user(),
                method: inherit.become_method.unwrap_or(BecomeMethod::Sudo),
            })),
            _ => None,
        };
        inherit.become_ = self.become_of(
            node,
            cfg_become,
            &mut inherit.become_method,
            &mut inherit.become_if,
            &mut inherit.become_user,
        );
        if inherit.become_if.is_some() {
            // It would decide fact gathering too (which runs before any task).
            let at = node.get("become").map_or(node.span, |n| n.span);
            self.err(DiagKind::Unsupported, at, "a templated `become` on a play is not supported by prov yet").help =
                Some("put it on the play's tasks or on a block".into());
        }
        let play_become = inherit.become_.clone().flatten();
        inherit.environment = node.get("environment").map(Node::to_value);
        inherit.no_log = self.no_log_flag(node.get("no_log"));
        let mut pb = PlayBuild {
            tasks: Vec::new(),
            handler_names: Vec::new(),
            handler_blocks: HashMap::new(),
            handler_block: 0,
            handler_files: HashMap::new(),
            pending_notify: Vec::new(),
            role_loads: 0,
            file_loads: 0,
            templates: Vec::new(),
            imported_handlers: Vec::new(),
            included_handlers: Vec::new(),
            play_vars: vars.clone(),
            public_defaults: VarMap::new(),
            public_vars: VarMap::new(),
            name_ctx: {
                let mut ctx = (*vars).clone();
                ctx.extend(self.opts.extra_vars.iter().map(|(k, v)| (k.clone(), v.clone())));
                Value::from_pairs(ctx)
            },
        };
        inherit.ignore_errors = self.opt_flag(node.get("ignore_errors"), &mut pb);
        inherit.ignore_unreachable = self.opt_bool(node.get("ignore_unreachable"));
        inherit.check_mode = self.opt_bool(node.get("check_mode"));
        inherit.any_errors_fatal = self.opt_bool(node.get("any_errors_fatal"));
        let mut program = Vec::new();
        // The play's handler order is Ansible's: those of `roles:`, the play's own, those of
        // imported roles, those of included roles.
        let mut play_handlers = Vec::new();
        let mut handlers = Vec::new();
        // Handlers first so that notify can be resolved; roles add theirs while loading.
        if let Some(h) = node.get("handlers") {
            let mut hi = inherit.clone();
            hi.handler = true;
            let steps = self.task_list(h, &hi, &mut pb);
            flatten_steps(&steps, &mut play_handlers);
        }
        // Each section ends by running the notified handlers. Under `force_handlers` (as in
        // ansible-core) a section is a block whose `always` runs them, so that a host that
        // failed in it runs them too.
        let force_handlers = self.opt_bool(node.get("force_handlers")).unwrap_or(self.opts.defaults.force_handlers);
        let section = |program: &mut Vec<Step>, steps: Vec<Step>| {
            if force_handlers {
                program.push(Step::Block { body: steps, rescue: Vec::new(), always: vec![Step::FlushHandlers] });
            } else {
                program.extend(steps);
                program.push(Step::FlushHandlers);
            }
        };
        if let Some(t) = node.get("pre_tasks") {
            let steps = self.task_list(t, &inherit, &mut pb);
            section(&mut program, steps);
        }
        let mut main = Vec::new();
        if let Some(r) = node.get("roles") {
            for role_ref in seq_or_one(r) {
                main.extend(self.role_ref(role_ref, &inherit, &mut pb, &mut handlers));
            }
        }
        if let Some(t) = node.get("tasks") {
            main.extend(self.task_list(t, &inherit, &mut pb));
        }
        section(&mut program, main);
        if let Some(t) = node.get("post_tasks") {
            let steps = self.task_list(t, &inherit, &mut pb);
            section(&mut program, steps);
        }
        handlers.extend(play_handlers);
        handlers.extend(std::mem::take(&mut pb.imported_handlers));
        handlers.extend(std::mem::take(&mut pb.included_handlers));
        // Resolve notify.
        let mut notify: HashMap<TaskId, Vec<TaskId>> = HashMap::new();
        let rank: HashMap<TaskId, usize> = handlers.iter().enumerate().map(|(i, h)| (*h, i)).collect();
        let mut missing = Vec::new();
        // A templated name is rendered per host when the task runs (ansible-core templates
        // `notify` with the task's variables, the loop item's too).
        let mut notify_templates: HashMap<TaskId, Vec<(String, Span)>> = HashMap::new();
        for (task, name, span) in std::mem::take(&mut pb.pending_notify) {
            if is_template(&name) {
                notify_templates.entry(task).or_default().push((name, span));
                continue;
            }
            let ids = notified_handlers(&pb, &rank, &name);
            if ids.is_empty() {
                missing.push((task, name.clone(), span));
            }
            notify.entry(task).or_default().extend(ids);
        }
        let mut notify_index = HashMap::new();
        if !notify_templates.is_empty() {
            for (name, _, _) in &pb.handler_names {
                if !notify_index.contains_key(name) {
                    notify_index.insert(name.clone(), notified_handlers(&pb, &rank, name));
                }
            }
        }
        let (pb_defaults, pb_vars) = (std::mem::take(&mut pb.public_defaults), std::mem::take(&mut pb.public_vars));
        let mut tasks = pb.tasks;
        let handler_files = std::mem::take(&mut pb.handler_files);
        for (id, ids) in notify {
            if let Some(t) = tasks.get_mut(id).and_then(Arc::get_mut) {
                t.notify = ids;
            }
        }
        for (id, names) in notify_templates {
            let compiled: Vec<(String, Tmpl)> = names
                .iter()
                .filter_map(|(s, span)| match self.templar.compile(s) {
                    Ok(t) => Some((s.clone(), t)),
                    Err(e) => {
                        self.err(DiagKind::Template, *span, format!("template error: {e}"));
                        None
                    }
                })
                .collect();
            if let Some(t) = tasks.get_mut(id).and_then(Arc::get_mut) {
                t.notify_templates = compiled;
                // Read after `when`, like the arguments: checked for undefined names and
                // counted among the task's reads the same way.
                t.arg_templates.extend(names.iter().cloned());
            }
            pb.templates.extend(names);
        }
        let play_layers = PlayLayers {
            defaults: Arc::new(pb_defaults.clone()),
            vars: vars.clone(),
            role_vars: Arc::new(pb_vars.clone()),
        };
        self.render_tags(&mut tasks, &play_layers);
        self.select_tags(&mut tasks);
        // A notify naming no handler is an error for the tasks that may run (ansible-core
        // fails such a task when it notifies); tasks left out by tags do not count.
        for (task, name, span) in missing {
            if tasks.get(task).is_some_and(|t| t.selected) {
                let names: Vec<&str> = pb.handler_names.iter().map(|(n, _, _)| n.as_str()).collect();
                self.err(DiagKind::Missing, span, format!("notify: no handler named `{name}` in this play")).help =
                    did_you_mean(&name, names)
                        .or_else(|| Some("define it under `handlers:` or in a role's handlers/main.yml".into()));
            }
        }
        self.check_reads_after_refresh(&program, &handlers, &tasks);
        let program = prune(&program, &tasks);
        for (s, span) in pb.templates {
            if let Err(e) = self.templar.compile(&s) {
                self.err(DiagKind::Template, span, format!("template error: {e}"));
                continue;
            }
            for msg in self.templar.unknown_names(&s) {
                self.err(DiagKind::Template, span, format!("{msg} in `{s}`")).help =
                    Some("docs/src/language.md lists the filters, lookups and tests prov has".into());
            }
        }
        // A templated strategy is rendered with the play's variables and `-e`, as
        // ansible-core renders it when the play starts (no host's variables).
        let written = node.get("strategy").and_then(Node::as_str);
        let rendered = match written.filter(|s| is_template(s)) {
            Some(s) => {
                let mut ctx = (*vars).clone();
                ctx.extend(self.opts.extra_vars.iter().map(|(k, v)| (k.clone(), v.clone())));
                match self.templar.compile(s).and_then(|t| self.templar.render_defined(&t, &Value::from_pairs(ctx))) {
                    Ok(v) => Some(v.to_string()),
                    Err(e) => {
                        let span = node.get("strategy").map(|n| n.span).unwrap_or(node.span);
                        self.err(DiagKind::Template, span, format!("strategy: {e}")).help =
                            Some("a play's strategy may use the play's vars and -e, not host variables".into());
                        None
                    }
                }
            }
            None => None,
        };
        let effective = if written.is_some_and(is_template) { rendered.as_deref() } else { written };
        let strategy = match effective.or(self.opts.defaults.strategy.as_deref()) {
            // Ansible's default: every host of the batch finishes a task before any starts the
            // next. prov's dataflow walk is the opt-in `dag`.
            None | Some("linear") => Strategy::Linear,
            Some("dag") => Strategy::Dag,
            Some("free") => Strategy::Free,
            Some(other) => {
                let span = node.get("strategy").map(|n| n.span).unwrap_or(node.span);
                self.err(DiagKind::Invalid, span, format!("unknown strategy `{other}`")).help =
                    Some("use `linear` (default), `free` or `dag`".into());
                Strategy::Linear
            }
        };
        let serial = node.get("serial").map(|s| self.serial_of(s, &vars)).unwrap_or_default();
        let said = match node.get("gather_facts").map(|n| &n.kind) {
            None => None,
            Some(NodeKind::Bool(b)) => Some(*b),
            Some(_) => {
                let span = node.get("gather_facts").map(|n| n.span).unwrap_or(node.span);
                self.err(DiagKind::Invalid, span, "gather_facts must be true or false");
                Some(false)
            }
        };
        // ansible-core's play iterator: `implicit` gathers unless the play says false,
        // `explicit` only when it says true, `smart` as implicit on hosts without facts yet.
        let implied = said != Some(false);
        let mut gather_facts = match self.opts.defaults.gathering.as_deref() {
            Some("explicit") if said == Some(true) => GatherFacts::Yes,
            Some("explicit") => GatherFacts::No,
            Some("smart") if implied => GatherFacts::Smart,
            _ if implied => GatherFacts::Yes,
            _ => GatherFacts::No,
        };
        // The gathering task is tagged `always`, or with the play's tags when it has any.
        let setup_tags = match &inherit.tags {
            t if t.is_empty() => BTreeSet::from(["always".to_string()]),
            t => t.clone(),
        };
        if gather_facts != GatherFacts::No && setup_tags.iter().any(|t| is_template(t)) {
            // ansible-core renders them (with the play's variables) to choose the gathering
            // task too; prov chooses it with the tags as written.
            let at = node.get("tags").map_or(node.span, |n| n.span);
            self.err(
                DiagKind::Unsupported,
                at,
                "a templated tag on a play that gathers facts is not supported by prov yet",
            )
            .help = Some("write the play's tags out, or gather with a `setup` task (gather_facts: false)".into());
        }
        if !self.tags_selected(&setup_tags) {
            gather_facts = GatherFacts::No;
        }
        // ansible-core's gather_facts action takes the play's module_defaults for `setup`.
        let for_setup = |d: &ModuleDefaults| {
            matches!(
                d.key.as_str(),
                "setup" | "gather_facts" | "ansible.builtin.gather_facts" | "ansible.legacy.gather_facts"
            )
        };
        if gather_facts != GatherFacts::No && inherit.module_defaults.iter().any(for_setup) {
            let at = node.get("module_defaults").map_or(node.span, |n| n.span);
            self.err(
                DiagKind::Unsupported,
                at,
                "module_defaults for `setup` on a play that gathers facts is not supported by prov yet",
            )
            .help = Some("set gather_subset and the like on the play, or gather with a `setup` task".into());
        }
        let gather_subset = node.get("gather_subset").map(|n| self.gather_subset(n));
        let gather_timeout = match node.get("gather_timeout") {
            None => None,
            Some(n) => match n.kind {
                NodeKind::Int(i) if i > 0 => Some(i as u64),
                _ => {
                    self.err(DiagKind::Invalid, n.span, "gather_timeout must be a number of seconds");
                    None
                }
            },
        };
        let max_fail_percentage = match node.get("max_fail_percentage").map(|n| &n.kind) {
            None => None,
            Some(NodeKind::Int(i)) => Some(*i as f64),
            Some(NodeKind::Float(f)) => Some(*f),
            Some(_) => {
                self.err(DiagKind::Invalid, node.span, "max_fail_percentage must be a number");
                None
            }
        };
        // A templated name is rendered with the play's vars and -e, as ansible-core names the
        // play (`ansible_play_name`, the PLAY line); one that cannot be rendered stays as written.
        let name = match is_template(&name) {
            true => {
                let mut ctx = (*vars).clone();
                ctx.extend(self.opts.extra_vars.iter().map(|(k, v)| (k.clone(), v.clone())));
                let rendered =
                    self.templar.compile(&name).and_then(|t| self.templar.render_defined(&t, &Value::from_pairs(ctx)));
                rendered.map(|v| v.to_string()).unwrap_or(name)
            }
            false => name,
        };
        Some(CompiledPlay {
            dir: self.playbook_dir.clone(),
            name: if name.is_empty() { hosts.clone() } else { name },
            span: node.span,
            hosts,
            hosts_span,
            vars,
            gather_facts,
            gather_subset,
            gather_timeout,
            become_: play_become,
            strategy,
            serial,
            max_fail_percentage,
            any_errors_fatal: self.opt_bool(node.get("any_errors_fatal")).unwrap_or(false),
            ignore_unreachable: self.opt_bool(node.get("ignore_unreachable")).unwrap_or(false),
            order: self.play_order(node),
            tasks,
            program,
            handlers,
            handler_files,
            notify_index,
            connection: self.play_connection(node),
            remote_user: self.play_remote_user(node),
            environment: node.get("environment").map(Node::to_value),
            role_defaults: Arc::new(pb_defaults),
            role_vars: Arc::new(pb_vars),
            host_vars_files,
        })
    }

    /// The play's `order`; a value ansible-core would refuse when the play starts is refused.
    fn play_order(&mut self, node: &Node) -> HostOrder {
        let Some(n) = node.get("order") else { return HostOrder::Inventory };
        match n.scalar_text().as_deref() {
            Some("inventory") => HostOrder::Inventory,
            Some("reverse_inventory") => HostOrder::ReverseInventory,
            Some("sorted") => HostOrder::Sorted,
            Some("reverse_sorted") => HostOrder::ReverseSorted,
            Some("shuffle") => HostOrder::Shuffle,
            other => {
                let what = other.map_or_else(|| "a mapping or a list".to_string(), |o| format!("`{o}`"));
                self.err(DiagKind::Invalid, n.span, format!("invalid `order` {what}")).help =
                    Some("use inventory, reverse_inventory, sorted, reverse_sorted or shuffle".into());
                HostOrder::Inventory
            }
        }
    }

    /// The play's `connection`: `local` or `ssh` (`smart` and `paramiko` are ssh here).
    fn play_connection(&mut self, node: &Node) -> Option<String> {
        let n = node.get("connection")?;
        let c = n.scalar_text()?;
        match c.as_str() {
            "local" => Some(c),
            "ssh" | "smart" | "paramiko" => Some("ssh".into()),
            _ => {
                self.err(DiagKind::Unsupported, n.span, format!("connection `{c}` is not supported by prov")).help =
                    Some("prov connects with `ssh` or `local`".into());
                None
            }
        }
    }

    /// The play's `remote_user`, or its older name `user` (ansible-core refuses both at once).
    fn play_remote_user(&mut self, node: &Node) -> Option<String> {
        match (node.get("remote_user"), node.get("user")) {
            (Some(_), Some(u)) => {
                self.err(
                    DiagKind::Invalid,
                    u.span,
                    "both 'user' and 'remote_user' are set for this play; 'user' is the deprecated name",
                )
                .help = Some("keep `remote_user`".into());
                None
            }
            (Some(n), None) | (None, Some(n)) => n.scalar_text(),
            (None, None) => None,
        }
    }

    /// `vars_files` whose names are templates or lists of candidates (the first that exists
    /// wins), read per host as ansible-core reads them: each name rendered with the host's
    /// inventory variables, the play's `vars` and `-e`. An entry whose template reads an
    /// undefined name is skipped (ansible-core skips it too); one with no existing candidate
    /// is an error. Every entry of the play is read per host, so that their order holds.
    fn vars_files_per_host(
        &mut self,
        entries: &[&Node],
        play_vars: &VarMap,
        dir: &Path,
        pattern: &str,
    ) -> HashMap<String, Arc<VarMap>> {
        // The play's hosts (every host when its pattern is a template or does not parse).
        let hosts: Vec<String> = match HostPattern::parse(pattern) {
            Ok(p) if !is_template(pattern) => self.inventory.select(&p),
            _ => self.inventory.hosts().map(|h| h.name.clone()).collect(),
        };
        let mut out = HashMap::new();
        let mut warned = HashSet::new();
        let templar = Arc::new(self.templar.sibling());
        let play_vars = Arc::new(play_vars.clone());
        let extra_vars = self.opts.extra_vars.clone();
        for host in hosts {
            let mut magic = VarMap::new();
            magic.insert("inventory_hostname".into(), Value::from(host.clone()));
            magic.insert("inventory_hostname_short".into(), Value::from(host.split('.').next().unwrap_or(&host)));
            magic.insert("group_names".into(), Value::from(self.inventory.group_names_var(&host)));
            magic.insert("playbook_dir".into(), Value::from(self.playbook_dir.display().to_string()));
            let layers = vec![
                Layer::source(Arc::new(self.inventory.host_vars(&host))),
                Layer::source(play_vars.clone()),
                Layer::source(extra_vars.clone()),
            ];
            let ctx = Scope::new(templar.clone(), Arc::new(magic), layers).into_value();
            let mut loaded = VarMap::new();
            'entry: for f in entries {
                let candidates: Vec<&Node> = match f.as_seq() {
                    Some(items) => items.iter().collect(),
                    None => vec![*f],
                };
                let mut names = Vec::new();
                for c in candidates {
                    let Some(written) = c.as_str() else {
                        self.err(DiagKind::Invalid, c.span, "a vars_files entry is a file name or a list of them");
                        continue 'entry;
                    };
                    match self.templar.render_str(written, &ctx) {
                        Ok(v) => names.push(v.to_string()),
                        Err(e) if e.contains("undefined") => {
                            if warned.insert(f.span) {
                                self.diags.push(Diagnostic::warning(
                                    f.span,
                                    "skipping vars_files item due to an undefined variable",
                                ));
                            }
                            continue 'entry;
                        }
                        Err(e) => {
                            self.err(DiagKind::Template, c.span, format!("vars_files: {e}"));
                            continue 'entry;
                        }
                    }
                }
                match names.iter().map(|n| dir.join(n)).find(|p| p.is_file()) {
                    Some(p) => {
                        if let Some(n) = self.read_yaml(&p, f.span) {
                            let mut m = VarMap::new();
                            self.vars_file_into(&n, &mut m);
                            self.note_vars(&m);
                            loaded.extend(m);
                        }
                    }
                    None => {
                        self.err(
                            DiagKind::Missing,
                            f.span,
                            format!("vars file {} was not found (host {host})", names.join(", ")),
                        );
                    }
                }
            }
            out.insert(host, Arc::new(loaded));
        }
        out
    }

    /// A play's `serial`. A template is rendered with the play's `vars` and `-e` when the
    /// playbook compiles, as ansible-core renders it when the play starts (no host's
    /// variables); `omit` is no serial.
    fn serial_of(&mut self, n: &Node, play_vars: &Arc<VarMap>) -> Vec<BatchSize> {
        let mut out = Vec::new();
        for item in seq_or_one(n) {
            let rendered;
            let item = match &item.kind {
                NodeKind::Str(s) if is_template(s) => {
                    let layers = vec![Layer::source(play_vars.clone()), Layer::source(self.opts.extra_vars.clone())];
                    let templar = Arc::new(self.templar.sibling());
                    let ctx = Scope::new(templar, Arc::new(VarMap::new()), layers).into_value();
                    let v = match self.templar.render_str(s, &ctx) {
                        Ok(v) => v,
                        Err(e) => {
                            self.err(DiagKind::Template, item.span, format!("serial: {e}")).help =
                                Some("a play's serial may use the play's vars and -e, not host variables".into());
                            continue;
                        }
                    };
                    if v.as_str() == Some(crate::template::OMIT) {
                        continue;
                    }
                    let text = v.to_string();
                    let kind = match text.trim().parse::<i64>() {
                        Ok(i) => NodeKind::Int(i),
                        Err(_) => NodeKind::Str(text),
                    };
                    rendered = Node { span: item.span, kind };
                    &rendered
                }
                _ => item,
            };
            match &item.kind {
                NodeKind::Int(i) if *i > 0 => out.push(BatchSize::Count(*i as usize)),
                NodeKind::Str(s) if s.ends_with('%') => match s.trim_end_matches('%').trim().parse::<f64>() {
                    Ok(p) if p > 0.0 => out.push(BatchSize::Percent(p)),
                    _ => {
                        self.err(DiagKind::Invalid, item.span, format!("bad serial percentage `{s}`"));
                    }
                },
                _ => {
                    self.err(
                        DiagKind::Invalid,
                        item.span,
                        "serial takes a positive number, a percentage or a list of them",
                    );
                }
            }
        }
        out
    }

    fn map_into(&mut self, node: &Node, out: &mut VarMap, what: &str) {
        match &node.kind {
            NodeKind::Map(entries) => {
                for (k, v) in entries {
                    let key = k.scalar_text().unwrap_or_default();
                    if !is_identifier(&key) {
                        self.err(DiagKind::Invalid, k.span, format!("`{key}` is not a valid variable name")).help =
                            Some("variable names are letters, digits and `_`, not starting with a digit".into());
                    }
                    out.insert(key, v.to_value());
                }
            }
            NodeKind::Null => {}
            _ => {
                self.err(
                    DiagKind::Invalid,
                    node.span,
                    format!("{what} must be a mapping, found a {}", node.type_name()),
                );
            }
        }
    }

    /// A vars file: a mapping, or (as ansible-core reads it) a list of mappings merged in
    /// order; anything else is ansible-core's "Invalid variable file contents".
    fn vars_file_into(&mut self, node: &Node, out: &mut VarMap) {
        let items: Vec<&Node> = match &node.kind {
            NodeKind::Seq(items) => items.iter().collect(),
            _ => vec![node],
        };
        for item in items {
            if matches!(item.kind, NodeKind::Map(_) | NodeKind::Null) {
                self.map_into(item, out, "vars file");
            } else {
                self.err(DiagKind::Invalid, item.span, "invalid variable file contents").help = Some(
                    "variable files must contain either a dictionary of variables, or a list of dictionaries".into(),
                );
            }
        }
    }

    /// `tags` as ansible-core's `_load_tags` reads them: one string is split at commas and each
    /// part stripped (an empty part is a tag too: `tags: ""` makes a task tagged); a list keeps
    /// its items as written (`["a,b"]` is the one tag `a,b`). A templated tag is rendered
    /// later, by [`Loader::render_tags`].
    fn tags_of(&mut self, n: Option<&Node>) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        let Some(n) = n else { return out };
        if let NodeKind::Str(s) | NodeKind::Unsafe(s) = &n.kind {
            out.extend(s.split(',').map(|t| t.trim().to_string()));
            return out;
        }
        let NodeKind::Seq(items) = &n.kind else {
            if !matches!(n.kind, NodeKind::Null) {
                // ansible-core's words.
                self.err(DiagKind::Invalid, n.span, "tags must be specified as a list");
            }
            return out;
        };
        for item in items {
            match (&item.kind, item.scalar_text()) {
                (NodeKind::Str(_) | NodeKind::Unsafe(_), Some(s)) => {
                    out.insert(s);
                }
                (NodeKind::Int(_), Some(s)) => {
                    // ansible-core keeps an integer tag as an integer, which no tag of the
                    // command line (text) ever matches; prov would match it as text, so it
                    // refuses one when --tags or --skip-tags choose tasks (without them the
                    // tag changes nothing).
                    if !self.opts.tags.is_empty() || !self.opts.skip_tags.is_empty() {
                        self.err(
                            DiagKind::Invalid,
                            item.span,
                            "an integer tag never matches --tags or --skip-tags in ansible-core; prov refuses it when they \
                             choose tasks: quote it to make it a tag",
                        );
                    }
                    out.insert(s);
                }
                _ => {
                    self.err(DiagKind::Invalid, item.span, "tags must be strings");
                }
            }
        }
        out
    }

    /// A play's `gather_subset`, checked as `setup` checks its own. A list keyword of a play is
    /// not split at commas: ansible-core makes one string one subset (`"network,!hardware"`
    /// is a subset it does not know), and wants strings for the items.
    fn gather_subset(&mut self, n: &Node) -> Vec<String> {
        let mut items = Vec::new();
        for i in seq_or_one(n) {
            match &i.kind {
                NodeKind::Str(s) | NodeKind::Unsafe(s) => items.push(s.clone()),
                k => {
                    let ty = match k {
                        NodeKind::Null => "NoneType",
                        NodeKind::Bool(_) => "bool",
                        NodeKind::Int(_) => "int",
                        NodeKind::Float(_) => "float",
                        NodeKind::Seq(_) => "list",
                        _ => "dict",
                    };
                    self.err(
                        DiagKind::Invalid,
                        i.span,
                        format!("Keyword 'gather_subset' items must be of type 'str', not '{ty}'."),
                    );
                }
            }
        }
        if let Some(t) = items.iter().find(|i| is_template(i)) {
            self.err(DiagKind::Invalid, n.span, format!("gather_subset: `{t}`: prov needs the subsets written out"));
            return items;
        }
        if let Some(m) = self.registry.get("setup") {
            let args =
                minijinja::Value::from_pairs([("gather_subset".to_string(), minijinja::Value::from(items.clone()))]);
            if let Err(e) = m.validate(&args) {
                self.err(DiagKind::Invalid, n.span, format!("gather_subset: {e}"));
            }
        }
        items
    }

    /// A yes/no keyword that may be a template, rendered per host at run time.
    fn opt_flag(&mut self, n: Option<&Node>, pb: &mut PlayBuild) -> Option<Flag> {
        let n = n?;
        if let NodeKind::Str(s) = &n.kind {
            if is_template(s) {
                pb.templates.push((s.clone(), n.span));
                return self.tmpl(n).map(Flag::Template);
            }
        }
        self.opt_bool(Some(n)).map(Flag::Fixed)
    }

    /// `no_log`: a boolean, or a template read per host when the task starts (ansible-core
    /// templates it as it templates the task).
    fn no_log_flag(&mut self, n: Option<&Node>) -> Option<Flag> {
        let node = n?;
        match &node.kind {
            NodeKind::Str(s) if is_template(s) => self.tmpl(node).map(Flag::Template),
            _ => self.opt_bool(Some(node)).map(Flag::Fixed),
        }
    }

    /// Like [`Loader::opt_flag`], but a string that is no boolean is read at run time, where
    /// ansible-core fails the task with it ("The value 'yes.' could not be converted to 'bool'").
    fn runtime_flag(&mut self, n: Option<&Node>, pb: &mut PlayBuild) -> Option<Flag> {
        let node = n?;
        if let NodeKind::Str(s) = &node.kind {
            if !is_template(s) && crate::args::parse_bool(s).is_none() {
                return self.tmpl(node).map(Flag::Template);
            }
        }
        self.opt_flag(n, pb)
    }

    fn opt_bool(&mut self, n: Option<&Node>) -> Option<bool> {
        let n = n?;
        match &n.kind {
            NodeKind::Bool(b) => Some(*b),
            NodeKind::Str(s) => match crate::args::parse_bool(s) {
                Some(b) if !is_template(s) => Some(b),
                _ => {
                    self.err(DiagKind::Invalid, n.span, format!("expected true or false, found `{s}`"));
                    None
                }
            },
            _ => {
                self.err(DiagKind::Invalid, n.span, format!("expected true or false, found a {}", n.type_name()));
                None
            }
        }
    }

    /// The user `become: true` escalates to when no `become_user` says: ansible.cfg's, else root.
    fn default_become_user(&self) -> String {
        self.opts.defaults.become_user.clone().unwrap_or_else(|| "root".into())
    }

    /// `become`/`become_user` of a play, block, role or task on top of what it inherits:
    /// `Some(Some(b))` escalate, `Some(None)` explicitly not, `None` unset.
    /// `method` is the inherited `become_method`, updated with this node's.
    fn become_of(
        &mut self,
        node: &Node,
        inherited: Option<Option<Become>>,
        method: &mut Option<BecomeMethod>,
        cond: &mut Option<Tmpl>,
        user_slot: &mut Option<String>,
    ) -> Option<Option<Become>> {
        if let Some(m) = node.get("become_method") {
            match m.as_str().and_then(BecomeMethod::parse) {
                Some(parsed) => *method = Some(parsed),
                None => {
                    let shown = m.scalar_text().unwrap_or_else(|| m.type_name().to_string());
                    self.err(
                        DiagKind::Unsupported,
                        m.span,
                        format!("become_method `{shown}` is not supported (prov supports {})", BecomeMethod::SUPPORTED),
                    );
                }
            }
        }
        let user = node.get("become_user").and_then(Node::scalar_text);
        // A `become_user` applies to the tasks below that turn `become` on, even where this
        // level does not (a play's `become_user` with a task's `become: true`).
        if let Some(u) = &user {
            *user_slot = Some(u.clone());
        }
        let user = user.or_else(|| user_slot.clone());
        // A templated `become` is decided per host when the task runs: here it counts as on.
        let written = match node.get("become") {
            Some(n @ Node { kind: NodeKind::Str(text), .. }) if is_template(text) => {
                *cond = self.tmpl(n);
                Some(true)
            }
            Some(n) => {
                *cond = None;
                self.opt_bool(Some(n))
            }
            None => None,
        };
        let r = match written {
            Some(true) => {
                let user =
                    user.or_else(|| inherited.flatten().map(|b| b.user)).unwrap_or_else(|| self.default_become_user());
                Some(Some(Become { user, method: BecomeMethod::Sudo }))
            }
            Some(false) => Some(None),
            None => match (inherited, user) {
                (Some(Some(b)), Some(u)) => Some(Some(Become { user: u, ..b })),
                (inherited, _) => inherited,
            },
        };
        r.map(|b| b.map(|b| Become { method: method.unwrap_or(b.method), ..b }))
    }

    fn conds(&mut self, n: &Node, pb: &mut PlayBuild) -> Vec<Cond> {
        let mut out = Vec::new();
        for item in seq_or_one(n) {
            let boolean = match item.kind {
                NodeKind::Bool(b) => Some(b),
                _ => None,
            };
            let source = match &item.kind {
                NodeKind::Bool(b) => (if *b { "true" } else { "false" }).to_string(),
                NodeKind::Str(s) => s.clone(),
                NodeKind::Int(i) => i.to_string(),
                _ => {
                    self.err(DiagKind::Invalid, item.span, "a condition must be an expression string or a boolean");
                    continue;
                }
            };
            // `when: "{{ x == 1 }}"`: ansible-core 2.19 evaluates the inner expression (and a
            // string it gives as a condition in turn), with a deprecation warning; a template
            // inside a string constant is rendered first (see `compile_condition`); delimiters
            // anywhere else are refused.
            match self.templar.compile_condition(&source) {
                Ok(expr) => {
                    if expr.wrapped {
                        self.diags.push(Diagnostic::warning(
                            item.span,
                            "conditionals should not be surrounded by templating delimiters such as {{ }} (deprecated in ansible-core, to be removed in 2.23)",
                        ));
                    }
                    if !expr.embedded.is_empty() {
                        self.diags.push(Diagnostic::warning(
                            item.span,
                            "a string constant of this condition holds a template, which is rendered first (deprecated in ansible-core, off by default from 2.23): write the expression inline, `'{{ x }}' == 'a'` as `x == 'a'`",
                        ));
                    }
                    let cond = Cond { source, expr, span: item.span, boolean };
                    pb.templates.extend(cond.templates().map(|t| (t, item.span)));
                    out.push(cond)
                }
                Err(e) if crate::template::is_template(&source) && e.contains("delimiters") => {
                    self.err(
                        DiagKind::Unsupported,
                        item.span,
                        "a condition is an expression; template delimiters go around the whole of it or inside a string constant, not elsewhere",
                    )
                    .help = Some("write the bare expression: `when: x == 1`".into());
                }
                Err(e) => {
                    self.err(DiagKind::Template, item.span, format!("bad expression `{source}`: {e}"));
                }
            }
        }
        out
    }

    fn tmpl(&mut self, n: &Node) -> Option<Tmpl> {
        let s = n.scalar_text()?;
        match self.templar.compile(&s) {
            Ok(t) => Some(t),
            Err(e) => {
                self.err(DiagKind::Template, n.span, format!("template error: {e}"));
                None
            }
        }
    }

    fn task_list(&mut self, node: &Node, inh: &Inherit, pb: &mut PlayBuild) -> Vec<Step> {
        let mut steps = Vec::new();
        pb.handler_block += 1;
        match &node.kind {
            NodeKind::Seq(items) => {
                for item in items {
                    steps.extend(self.task_item(item, inh, pb));
                }
            }
            NodeKind::Null => {}
            _ => {
                self.err(
                    DiagKind::Invalid,
                    node.span,
                    format!("expected a list of tasks, found a {}", node.type_name()),
                );
            }
        }
        steps
    }

    fn task_item(&mut self, node: &Node, inh: &Inherit, pb: &mut PlayBuild) -> Vec<Step> {
        if node.as_map().is_none() {
            self.err(DiagKind::Invalid, node.span, format!("a task must be a mapping, found a {}", node.type_name()))
                .help = Some("write `- name: ...` followed by a module, e.g. `copy: {dest: /x, content: y}`".into());
            return Vec::new();
        }
        if node.get("block").is_some() {
            let steps = self.block(node, inh, pb);
            // The bare handlers after a block are a block of their own.
            pb.handler_block += 1;
            return steps;
        }
        for key in ["include_tasks", "import_tasks"] {
            if let Some((written, target)) = action_entry(node, key) {
                return self.include_tasks(node, target, key, &written, inh, pb);
            }
        }
        for key in ["include_role", "import_role"] {
            if let Some((written, target)) = action_entry(node, key) {
                if key == "include_role" {
                    self.check_dynamic_include_keys(node, &written, inh.handler);
                } else {
                    self.check_keys_except(node, keywords::INCLUDE, &written);
                }
                let mut inner = self.child_inherit(node, inh, pb);
                if key == "include_role" {
                    inner.role_public = false;
                    gate(&mut inner, inh);
                }
                let mut apply = None;
                if target.as_map().is_some() {
                    // ansible-core: "Invalid options for include_role: vars" (`vars` belong
                    // on the task).
                    let mut options = ROLE_INCLUDE_OPTIONS.to_vec();
                    if key == "include_role" {
                        options.push("apply");
                        let Ok(a) = self.apply_keywords(target) else { return Vec::new() };
                        apply = a;
                    }
                    self.check_keys(target, &options, ROLE_INCLUDE_UNSUPPORTED, key);
                }
                let (name, from) = match &target.kind {
                    NodeKind::Map(_) => (target.get("name").and_then(Node::scalar_text), {
                        let get = |k: &str| target.get(k).and_then(Node::scalar_text);
                        RoleFrom {
                            tasks: get("tasks_from"),
                            vars: get("vars_from"),
                            defaults: get("defaults_from"),
                            handlers: get("handlers_from"),
                        }
                    }),
                    // `include_role: name=r tasks_from=x`.
                    NodeKind::Str(s) if s.contains('=') => match super::kv::parse_kv(s, false) {
                        Ok((pairs, _)) => {
                            let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
                            if let Some((bad, _)) =
                                pairs.iter().find(|(k, _)| !ROLE_INCLUDE_OPTIONS.contains(&k.as_str()))
                            {
                                self.err(
                                    DiagKind::Unsupported,
                                    target.span,
                                    format!("{key}: `{bad}=` is not supported"),
                                );
                                return Vec::new();
                            }
                            (
                                get("name"),
                                RoleFrom {
                                    tasks: get("tasks_from"),
                                    vars: get("vars_from"),
                                    defaults: get("defaults_from"),
                                    handlers: get("handlers_from"),
                                },
                            )
                        }
                        Err(e) => {
                            self.err(DiagKind::Invalid, target.span, e);
                            return Vec::new();
                        }
                    },
                    // ansible-core: "'name' is a required field for include_role".
                    _ => {
                        self.err(DiagKind::Invalid, target.span, format!("{key} needs `name`")).help = Some(format!(
                            "write `{key}: {{name: {}}}`; ansible-core refuses a bare role name too",
                            target.scalar_text().unwrap_or_default()
                        ));
                        return Vec::new();
                    }
                };
                let Some(name) = name else {
                    self.err(DiagKind::Invalid, target.span, format!("{key} needs `name`"));
                    return Vec::new();
                };
                let mut handlers = Vec::new();
                let dynamic = key == "include_role" && !inh.handler;
                let own = inner.clone();
                let looped = if dynamic { self.include_loop(node, pb, &name_layers(&inner)) } else { None };
                inner.looped |= looped.is_some();
                if dynamic && self.find_role(&name, &inh.collections).is_none() {
                    // ansible-core fails the host that reaches it, whatever its
                    // `ignore_errors`; before the run, a warning.
                    self.diags.push(Diagnostic::warning(
                        target.span,
                        format!("role `{name}` not found: a host that reaches this include_role fails"),
                    ));
                    let Some(id) = self.include_task(node, &written, &own, pb, MetaAction::Include, ("file", &name))
                    else {
                        return Vec::new();
                    };
                    // The directories ansible-core names in its message.
                    let mut searched = vec![self.playbook_dir.join("roles")];
                    searched.extend(self.opts.defaults.roles_path.iter().cloned());
                    searched.push(self.playbook_dir.clone());
                    let searched = searched
                        .iter()
                        .map(|p| {
                            let p = std::path::absolute(p).unwrap_or_else(|_| p.clone());
                            // `/x/.` as `/x`, as ansible-core prints it.
                            let p = if p.ends_with(".") { p.parent().map(Path::to_path_buf).unwrap_or(p) } else { p };
                            p.display().to_string()
                        })
                        .collect::<Vec<_>>()
                        .join(":");
                    if let Some(t) = Arc::get_mut(&mut pb.tasks[id]) {
                        t.args = Value::from_pairs(vec![
                            ("file".to_string(), Value::from(name.clone())),
                            ("missing_role".to_string(), Value::from(searched)),
                        ]);
                    }
                    return vec![Step::Include { task: id, bases: Vec::new(), options: Vec::new() }];
                }
                if dynamic {
                    not_passed_down(&mut inner, inh);
                }
                if let Some(a) = apply {
                    inner = self.child_inherit(a, &inner, pb);
                }
                let steps = self.load_role(&name, target.span, &from, &inner, pb, &mut handlers);
                match key {
                    "import_role" => pb.imported_handlers.extend(handlers),
                    _ => pb.included_handlers.extend(handlers),
                }
                if !dynamic {
                    return steps;
                }
                let Some(id) = self.include_task(node, &written, &own, pb, MetaAction::Include, ("file", &name)) else {
                    return Vec::new();
                };
                if let Some(t) = Arc::get_mut(&mut pb.tasks[id]) {
                    t.loop_ = looped;
                }
                return vec![Step::Include {
                    task: id,
                    bases: Vec::new(),
                    options: vec![(PathBuf::from(&name), steps)],
                }];
            }
        }
        match self.task(node, inh, pb) {
            Some(id) => vec![Step::Task(id)],
            None => Vec::new(),
        }
    }

    fn check_keys_except(&mut self, node: &Node, allowed: &[&str], extra: &str) {
        let mut all: Vec<&str> = allowed.to_vec();
        all.push(extra);
        // Loops over an include or import are not supported yet.
        let mut unsupported: Vec<&str> = keywords::TASK_UNSUPPORTED.to_vec();
        unsupported
            .extend(keywords::TASK.iter().filter(|k| **k == "loop" || k.starts_with("with_") || **k == "loop_control"));
        self.check_keys(node, &all, &unsupported, "include");
    }

    /// The keys of an `include_tasks` or `include_role` (`written`): those ansible-core
    /// refuses are refused with its reason, those prov does not support yet as such. False
    /// when one was refused.
    fn check_dynamic_include_keys(&mut self, node: &Node, written: &str, handler: bool) -> bool {
        let mut ok = true;
        for (k, _) in node.as_map().unwrap_or(&[]) {
            let Some(key) = k.as_str() else {
                self.err(DiagKind::Invalid, k.span, "include keys must be strings");
                ok = false;
                continue;
            };
            let is_loop = key == "loop" || key == "loop_control" || key.starts_with("with_");
            // `args: {apply: ...}`: the older way of writing `apply` (ansible-core reads both).
            let args_apply = key == "args"
                && written.ends_with("include_tasks")
                && node
                    .get("args")
                    .and_then(Node::as_map)
                    .is_some_and(|m| m.iter().all(|(k, _)| k.as_str() == Some("apply")));
            if args_apply
                || key == written
                || keywords::DYNAMIC_INCLUDE.contains(&key)
                || (handler && key == "listen")
                || (is_loop && !handler)
            {
                continue;
            }
            ok = false;
            if is_loop || keywords::DYNAMIC_INCLUDE_VALID.contains(&key) {
                self.err(DiagKind::Unsupported, k.span, format!("`{key}` on {written} is not supported by prov yet"))
                    .help = Some(if is_loop {
                    "move the loop onto the tasks inside the file (prov loops includes, not handlers' includes)".into()
                } else {
                    "remove it; see docs/src/language.md, \"Not supported yet\"".into()
                });
            } else {
                self.err(DiagKind::Invalid, k.span, format!("`{key}` is not a valid keyword of {written}")).help =
                    Some(format!(
                        "ansible-core refuses it too (\"'{key}' is not a valid attribute\"): an include passes no \
                         keywords down; set it on the tasks of the file, on a block around the include, or use the \
                         import form"
                    ));
            }
        }
        ok
    }

    /// Attributes a block/include passes down to its tasks.
    /// The `apply` of an `include_tasks` or `include_role`, checked: keywords ansible-core
    /// makes a block of around the tasks it includes. `Err` after an error.
    fn apply_keywords<'n>(&mut self, target: &'n Node) -> Result<Option<&'n Node>, ()> {
        let Some(a) = target.get("apply") else { return Ok(None) };
        if a.as_map().is_none() {
            self.err(DiagKind::Invalid, a.span, "`apply` is a mapping of block keywords");
            return Err(());
        }
        let allowed: Vec<&str> =
            keywords::BLOCK.iter().copied().filter(|k| !["block", "rescue", "always", "name"].contains(k)).collect();
        if !self.check_keys(a, &allowed, keywords::TASK_UNSUPPORTED, "apply") {
            return Err(());
        }
        Ok(Some(a))
    }

    fn child_inherit(&mut self, node: &Node, inh: &Inherit, pb: &mut PlayBuild) -> Inherit {
        let mut c = inh.clone();
        c.tags.extend(self.tags_of(node.get("tags")));
        if let Some(w) = node.get("when") {
            c.when.extend(self.conds(w, pb));
        }
        c.become_ = self.become_of(node, c.become_.clone(), &mut c.become_method, &mut c.become_if, &mut c.become_user);
        if let Some(v) = node.get("vars") {
            let mut m = VarMap::new();
            self.map_into(v, &mut m, "vars");
            self.note_vars(&m);
            c.vars.push(Arc::new(m));
        }
        if let Some(e) = node.get("environment") {
            c.environment = env_chain(c.environment.take(), Some(e.to_value()));
        }
        if let Some(f) = self.opt_flag(node.get("ignore_errors"), pb) {
            c.ignore_errors = Some(f);
        }
        if let Some(f) = self.opt_flag(node.get("run_once"), pb) {
            c.run_once = Some(f);
        }
        if let Some(b) = self.opt_bool(node.get("ignore_unreachable")) {
            c.ignore_unreachable = Some(b);
        }
        if let Some(f) = self.no_log_flag(node.get("no_log")) {
            c.no_log = Some(f);
        }
        if let Some(d) = node.get("delegate_to") {
            c.delegate_to = self.tmpl(d);
        }
        if let Some(u) = node.get("remote_user") {
            c.remote_user = self.tmpl(u);
        }
        if let Some(f) = self.opt_flag(node.get("delegate_facts"), pb) {
            c.delegate_facts = Some(f);
        }
        if let Some(n) = node.get("notify") {
            c.notify = seq_or_one(n).iter().filter_map(|i| i.scalar_text().map(|s| (s, i.span))).collect();
        }
        if let Some(b) = self.opt_bool(node.get("check_mode")) {
            c.check_mode = Some(b);
        }
        if let Some(b) = self.opt_bool(node.get("any_errors_fatal")) {
            c.any_errors_fatal = Some(b);
        }
        self.module_defaults_into(node.get("module_defaults"), &mut c.module_defaults);
        c
    }

    /// `module_defaults` (a mapping, or a list of them) on a play, block, import, role entry
    /// or task, after what is inherited: ansible-core puts the parent's first, and an entry
    /// for the same module or group replaces an earlier one as a whole. A short name is the
    /// module's (`apt` is `ansible.builtin.apt`), a short group name ansible.builtin's.
    fn module_defaults_into(&mut self, n: Option<&Node>, out: &mut Vec<ModuleDefaults>) {
        let Some(n) = n else { return };
        let dicts: Vec<&Node> = match &n.kind {
            NodeKind::Null => return,
            NodeKind::Seq(items) => items.iter().collect(),
            _ => vec![n],
        };
        for d in dicts {
            let Some(entries) = d.as_map() else {
                // ansible-core's words.
                self.err(
                    DiagKind::Invalid,
                    d.span,
                    "The field 'module_defaults' is supposed to be a dictionary or list of dictionaries, the keys of \
                     which must be static action, module, or group names",
                );
                continue;
            };
            for (k, v) in entries {
                let written = k.scalar_text().unwrap_or_default();
                let key = match written.strip_prefix("group/") {
                    Some(g) if g.split('.').count() < 3 => format!("group/ansible.builtin.{g}"),
                    Some(g) => format!("group/{g}"),
                    None => {
                        let short = written
                            .strip_prefix("ansible.builtin.")
                            .or_else(|| written.strip_prefix("ansible.legacy."))
                            .unwrap_or(&written);
                        match self.registry.get(short) {
                            Some(m) if short != written || self.registry.get(&written).is_some() => {
                                m.name().to_string()
                            }
                            _ => written.clone(),
                        }
                    }
                };
                let args = match &v.kind {
                    NodeKind::Null => Vec::new(),
                    NodeKind::Map(items) => items
                        .iter()
                        .map(|(ak, av)| (ak.scalar_text().unwrap_or_default(), av.to_value(), ak.span))
                        .collect(),
                    NodeKind::Str(t) if is_template(t) => {
                        self.err(
                            DiagKind::Unsupported,
                            v.span,
                            format!("module_defaults for `{written}` as a template is not supported by prov yet"),
                        )
                        .help = Some(
                            "prov merges module_defaults when it compiles the play: write the arguments as a mapping"
                                .into(),
                        );
                        continue;
                    }
                    _ => {
                        self.err(
                            DiagKind::Invalid,
                            v.span,
                            format!("module_defaults for `{written}` must be a mapping of arguments"),
                        );
                        continue;
                    }
                };
                out.push(ModuleDefaults { key, args: Arc::new(args), span: k.span });
            }
        }
    }

    /// The arguments `module_defaults` give a task of module `m` that it does not set itself,
    /// as ansible-core's `_get_action_arg_defaults` merges them: its groups' entries in order,
    /// then its own.
    fn apply_module_defaults(
        &mut self,
        m: &dyn crate::module::DynModule,
        defaults: &[ModuleDefaults],
        args: &mut indexmap::IndexMap<String, (Value, Span)>,
    ) {
        if defaults.is_empty() {
            return;
        }
        let mut merged: indexmap::IndexMap<&str, &ModuleDefaults> = indexmap::IndexMap::new();
        for d in defaults {
            merged.insert(&d.key, d);
        }
        // ansible-core applies a backend's entry to the task that runs it (`apt`'s to a
        // `package` task on Debian); prov does not choose the backend when it compiles.
        let backends = BACKENDS.iter().find(|(front, _)| *front == m.name()).map_or(&[][..], |(_, b)| *b);
        let short = |k: &str| k.rsplit('.').next().unwrap_or(k).to_string();
        if let Some(d) = merged.values().find(|d| backends.contains(&short(&d.key).as_str())) {
            self.err(
                DiagKind::Unsupported,
                d.span,
                format!("module_defaults for `{}` on a `{}` task are not supported by prov yet", d.key, m.name()),
            )
            .help = Some(format!(
                "ansible-core gives them to the module `{}` runs; call that module directly, or give `{}` its own entry",
                m.name(),
                m.name()
            ));
        }
        let groups = action_groups(m);
        let mut given: indexmap::IndexMap<String, (Value, Span)> = indexmap::IndexMap::new();
        let in_groups = merged.iter().filter(|(k, _)| k.strip_prefix("group/").is_some_and(|g| groups.contains(&g)));
        for (_, d) in in_groups.chain(merged.get_key_value(m.name())) {
            for (a, v, span) in d.args.iter() {
                given.insert(a.clone(), (v.clone(), *span));
            }
        }
        for (k, v) in given {
            args.entry(k).or_insert(v);
        }
    }

    fn block(&mut self, node: &Node, inh: &Inherit, pb: &mut PlayBuild) -> Vec<Step> {
        self.check_keys(node, keywords::BLOCK, keywords::TASK_UNSUPPORTED, "block");
        if inh.handler && inh.handler_block {
            self.err(DiagKind::Invalid, node.span, "using a block as a handler is not supported").help =
                Some("a handler may be a block of tasks, not a block inside one".into());
            return Vec::new();
        }
        let mut c = self.child_inherit(node, inh, pb);
        c.handler_block = inh.handler;
        let body = node.get("block").map(|b| self.task_list(b, &c, pb)).unwrap_or_default();
        let rescue = node.get("rescue").map(|b| self.task_list(b, &c, pb)).unwrap_or_default();
        let always = node.get("always").map(|b| self.task_list(b, &c, pb)).unwrap_or_default();
        vec![Step::Block { body, rescue, always }]
    }

    /// `key` is the short name of the action, `written` the key as the task spells it
    /// (`ansible.builtin.include_tasks`).
    fn include_tasks(
        &mut self,
        node: &Node,
        target: &Node,
        key: &str,
        written: &str,
        inh: &Inherit,
        pb: &mut PlayBuild,
    ) -> Vec<Step> {
        if key == "include_tasks" {
            if !self.check_dynamic_include_keys(node, written, inh.handler) {
                return Vec::new();
            }
        } else {
            self.check_keys_except(node, keywords::INCLUDE, written);
            for lk in keywords::TASK.iter().filter(|k| **k == "loop" || k.starts_with("with_")) {
                if let Some(l) = node.get(lk) {
                    self.err(DiagKind::Unsupported, l.span, format!("`{lk}` on {key} is not supported yet")).help =
                        Some("move the loop onto the tasks inside the file".into());
                    return Vec::new();
                }
            }
        }
        // ansible-core: "Invalid options for include_tasks: ...".
        let options: &[&str] = if key == "include_tasks" { &["file", "apply"] } else { &["file"] };
        if target.as_map().is_some() && !self.check_keys(target, options, &["apply", "_raw_params"], key) {
            return Vec::new();
        }
        let apply_in =
            if target.get("apply").is_none() { node.get("args").filter(|a| a.get("apply").is_some()) } else { None };
        let Ok(apply) = self.apply_keywords(apply_in.unwrap_or(target)) else { return Vec::new() };
        let file = match &target.kind {
            NodeKind::Map(_) => target.get("file").and_then(Node::scalar_text),
            _ => target.scalar_text(),
        };
        let Some(file) = file.filter(|f| !f.is_empty()) else {
            // ansible-core's words.
            self.err(DiagKind::Invalid, target.span, format!("No file specified for {written}"));
            return Vec::new();
        };
        let dynamic = key == "include_tasks" && !inh.handler;
        if is_template(&file) && !dynamic {
            self.err(
                DiagKind::Unsupported,
                target.span,
                format!("{key} with a templated file name is not supported"),
            )
            .help = Some("name the file literally".into());
            return Vec::new();
        }
        let mut c = self.child_inherit(node, inh, pb);
        if key == "include_tasks" {
            c.role_public = false;
            gate(&mut c, inh);
        }
        if dynamic {
            return self.dynamic_include(node, written, &file, target.span, &c, inh, pb);
        }
        // The tasks a handler's include_tasks brings run when the include is notified; those
        // an import_tasks brings into the handlers are handlers of their own names.
        let handler_include = inh.handler && key == "include_tasks";
        c.handler_file |= handler_include;
        // The include itself, which evaluates its own `when` once (its tasks do not).
        let own = c.clone();
        if handler_include {
            not_passed_down(&mut c, inh);
        } else if key == "include_tasks" {
            vars_as_params(&mut c, inh);
        }
        if let Some(a) = apply {
            c = self.child_inherit(a, &c, pb);
        }
        // ansible-core's search: in a role, its `tasks/` directory first (after the
        // handlers' own directory for a handler), then the including file's directory, then
        // the playbook's.
        let mut candidates = Vec::new();
        if let Some(role) = &c.role {
            if c.handler {
                candidates.push(c.dir.join(&file));
            }
            candidates.push(role.path.join("tasks").join(&file));
        }
        candidates.push(c.dir.join(&file));
        let path = candidates.into_iter().find(|p| p.exists()).unwrap_or_else(|| self.playbook_dir.join(&file));
        let (first_diag, first_task) = (self.diags.0.len(), pb.tasks.len());
        let mut steps = self.load_task_file(&path, target.span, &c, pb);
        if key == "include_tasks" {
            let first = (first_diag, first_task, usize::MAX);
            if let Some(step) = self.defer_errors(node, written, &path, &c, pb, first, false) {
                steps = vec![step];
            }
        }
        if handler_include {
            // Notifying the include runs it, then every task of the file, in order.
            let shown = path.canonicalize().unwrap_or_else(|_| path.clone()).display().to_string();
            let Some(marker) = self.include_task(node, written, &own, pb, MetaAction::Include, ("file", &shown)) else {
                return Vec::new();
            };
            let mut ids = Vec::new();
            flatten_steps(&steps, &mut ids);
            pb.handler_files.insert(marker, ids.clone());
            ids.insert(0, marker);
            steps.insert(0, Step::Task(marker));
            let mut names: Vec<String> = node.get("name").and_then(Node::scalar_text).into_iter().collect();
            if let (Some(n), Some(r)) = (names.first().cloned(), &c.role) {
                names.push(format!("{} : {n}", r.name));
            }
            for n in names {
                pb.handler_names.extend(ids.iter().map(|id| (n.clone(), *id, HandlerKey::File)));
            }
            let topics = node.get("listen").map(seq_or_one).unwrap_or_default();
            for n in topics.iter().filter_map(|n| n.scalar_text()) {
                pb.handler_names.extend(ids.iter().map(|id| (n.clone(), *id, HandlerKey::FileListen)));
            }
        }
        steps
    }

    /// A non-handler `include_tasks` (see [`Step::Include`]). `c` is what the include
    /// passes on (its vars, tags as gates), `inh` what it inherited: its tasks get the
    /// latter's `when`, not the include's own.
    #[allow(clippy::too_many_arguments)]
    fn dynamic_include(
        &mut self,
        node: &Node,
        written: &str,
        file: &str,
        span: Span,
        c: &Inherit,
        inh: &Inherit,
        pb: &mut PlayBuild,
    ) -> Vec<Step> {
        let mut inner = c.clone();
        not_passed_down(&mut inner, inh);
        let apply =
            node.get(written).and_then(|t| t.get("apply")).or_else(|| node.get("args").and_then(|a| a.get("apply")));
        if let Some(a) = apply {
            inner = self.child_inherit(a, &inner, pb);
        }
        let looped = self.include_loop(node, pb, &name_layers(&inner));
        inner.looped |= looped.is_some();
        // ansible-core's search: in a role, its `tasks/` directory first, then the including
        // file's directory, then the playbook's.
        let mut bases: Vec<PathBuf> = Vec::new();
        if let Some(role) = &c.role {
            bases.push(role.path.join("tasks"));
        }
        bases.push(c.dir.clone());
        bases.push(self.playbook_dir.clone());
        bases.dedup();
        let templated = is_template(file);
        inner.guarded |= templated || c.when.len() > inh.when.len();
        let paths = if templated {
            match include_candidates(file, &bases) {
                Ok(p) => p,
                Err(e) => {
                    self.err(DiagKind::Unsupported, span, e).help =
                        Some("name the file literally, or keep the task files in a directory of their own".into());
                    return Vec::new();
                }
            }
        } else {
            match bases.iter().map(|b| b.join(file)).find(|p| p.is_file()) {
                Some(found) => vec![found],
                None => {
                    // ansible-core fails the host that reaches it ("Could not find or
                    // access"), and so does prov; before the run, a warning.
                    self.diags.push(Diagnostic::warning(
                        span,
                        format!("task file {file} does not exist: a host that reaches this include fails"),
                    ));
                    Vec::new()
                }
            }
        };
        let mut options = Vec::new();
        let mut not_lists = Vec::new();
        for path in paths {
            if self.not_a_task_list(&path) {
                let canon = path.canonicalize().unwrap_or(path);
                not_lists.push(Value::from(canon.display().to_string()));
                options.push((canon, Vec::new()));
                continue;
            }
            let first = (self.diags.0.len(), pb.tasks.len(), pb.templates.len());
            let mut steps = self.load_task_file(&path, span, &inner, pb);
            if let Some(step) = self.defer_errors(node, written, &path, &inner, pb, first, templated) {
                steps = vec![step];
            }
            if templated {
                // A file no host may ever include is not checked for unknown filters here;
                // a host that includes it fails on them when it runs, as in ansible-core.
                pb.templates.truncate(first.2);
            }
            options.push((path.canonicalize().unwrap_or(path), steps));
        }
        let Some(id) = self.include_task(node, written, c, pb, MetaAction::Include, ("file", file)) else {
            return Vec::new();
        };
        if let Some(t) = Arc::get_mut(&mut pb.tasks[id]) {
            t.loop_ = looped;
        }
        if !not_lists.is_empty() {
            if let Some(t) = Arc::get_mut(&mut pb.tasks[id]) {
                t.args = Value::from_pairs(vec![
                    ("file".to_string(), Value::from(file)),
                    ("not_task_lists".to_string(), Value::from(not_lists)),
                ]);
            }
        }
        if templated {
            pb.templates.push((file.to_string(), span));
        }
        vec![Step::Include { task: id, bases, options }]
    }

    /// Whether `path`, a file `include_tasks` pulls in, holds no list of tasks (a string, a
    /// mapping): ansible-core reads it only when the include runs, and fails the host that
    /// reaches it then ("included task files must contain a list of tasks"); the include's
    /// `not_task_lists` argument names such files for the run.
    fn not_a_task_list(&mut self, path: &Path) -> bool {
        let Ok((id, text)) = self.sources.load(path) else { return false };
        let Ok((root, _)) = yaml::parse_one(id, &text) else { return false };
        !matches!(root.kind, NodeKind::Seq(_) | NodeKind::Null)
    }

    /// A file that `include_tasks` pulls in is read by ansible-core only when the include
    /// runs: an error there (a module it cannot resolve, for one) stops the run then (exit
    /// 4), and not at all when the include is skipped (Windows-only files of a role, for
    /// instance). The errors the loading of `path` added since `first` (diagnostics, tasks,
    /// templates) are taken back, and the file becomes one task that stops the run where
    /// the include would read it. Without `all`, only when every error is an unknown module
    /// (others are refused before the run), with a warning; with `all` (a file a templated
    /// name may or may not render to), any error, silently.
    #[allow(clippy::too_many_arguments)]
    fn defer_errors(
        &mut self,
        node: &Node,
        written: &str,
        path: &Path,
        c: &Inherit,
        pb: &mut PlayBuild,
        (first_diag, first_task, first_template): (usize, TaskId, usize),
        all: bool,
    ) -> Option<Step> {
        let new = &self.diags.0[first_diag..];
        let unknown = |d: &Diagnostic| {
            d.kind == DiagKind::Unknown
                && (d.message.starts_with("unknown module") || d.message.starts_with("unknown task keyword"))
        };
        let deferred = |d: &Diagnostic| d.severity == Severity::Error && (all || unknown(d));
        let first = new.iter().find(|d| deferred(d))?;
        if new.iter().any(|d| d.severity == Severity::Error && !deferred(d)) {
            return None;
        }
        let loc = self.sources.location(first.span);
        let msg = if unknown(first) {
            let name = first.message.split('`').nth(1).unwrap_or_default().to_string();
            format!(
                "couldn't resolve module/action '{name}' ({loc}): prov has no module of that name, and ansible-core stops the run when it reaches this include"
            )
        } else {
            format!("{} cannot be included: {loc}: {}", path.display(), first.message)
        };
        let kept: Vec<Diagnostic> = self.diags.0.drain(first_diag..).filter(|d| !deferred(d)).collect();
        self.diags.0.extend(kept);
        if !all {
            self.diags.push(Diagnostic::warning(
                node.span,
                format!("{msg}; prov does the same (exit 4) if the include runs"),
            ));
        }
        pb.tasks.truncate(first_task);
        pb.templates.truncate(first_template);
        pb.handler_names.retain(|(_, id, _)| *id < first_task);
        pb.pending_notify.retain(|(id, _, _)| *id < first_task);
        pb.imported_handlers.retain(|id| *id < first_task);
        pb.included_handlers.retain(|id| *id < first_task);
        pb.handler_files.retain(|id, _| *id < first_task);
        let id = self.include_task(node, written, c, pb, MetaAction::Unresolved, ("msg", &msg))?;
        Some(Step::Task(id))
    }

    /// A task that stands for the include `node` (its name, or the action as written): a meta
    /// task of `action` with one argument. `c` is what the include passes on: the include is
    /// selected by its own tags (and those it inherited), not gated by them.
    fn include_task(
        &mut self,
        node: &Node,
        written: &str,
        c: &Inherit,
        pb: &mut PlayBuild,
        action: MetaAction,
        (arg, value): (&str, &str),
    ) -> Option<TaskId> {
        let mut own = c.clone();
        if let Some(g) = own.gates.pop() {
            own.tags.extend(g);
        }
        let key = |k: &str| Node::synthetic(NodeKind::Str(k.into()));
        let name = node.get("name").cloned().unwrap_or_else(|| key(written));
        let mut entries = vec![(key("meta"), key("noop")), (key("name"), name)];
        if let Some(r) = node.get("register") {
            entries.push((key("register"), r.clone()));
        }
        let synthetic = Node { span: node.span, kind: NodeKind::Map(entries) };
        let id = self.task(&synthetic, &own, pb)?;
        let t = Arc::get_mut(&mut pb.tasks[id])?;
        t.meta = Some(action);
        t.args = Value::from_pairs(vec![(arg.to_string(), Value::from(value))]);
        Some(id)
    }

    fn load_task_file(&mut self, path: &Path, span: Span, inh: &Inherit, pb: &mut PlayBuild) -> Vec<Step> {
        let canon = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
        if self.file_stack.contains(&canon) {
            let chain = self.file_stack.iter().chain([&canon]).map(|p| p.display().to_string()).collect::<Vec<_>>();
            self.err(DiagKind::Cycle, span, format!("include cycle: {}", chain.join(" → ")));
            return Vec::new();
        }
        if !path.exists() {
            self.err(DiagKind::Missing, span, format!("task file {} does not exist", path.display()));
            return Vec::new();
        }
        // Every include of a file compiles it again where it is included: includes that
        // include several files each multiply. A bound keeps compiling finite.
        pb.file_loads += 1;
        if pb.file_loads > MAX_FILE_LOADS {
            if pb.file_loads == MAX_FILE_LOADS + 1 {
                self.err(
                    DiagKind::Unsupported,
                    span,
                    format!("more than {MAX_FILE_LOADS} task files in one play, counting each include where it is"),
                )
                .help = Some(
                    "prov compiles every file an include may name, at each place it is included; \
                     includes that each name many files multiply (ansible-core reads them only when they run)"
                        .into(),
                );
            }
            return Vec::new();
        }
        let Some(root) = self.read_yaml(path, span) else { return Vec::new() };
        self.file_stack.push(canon);
        let mut c = inh.clone();
        c.dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let steps = self.task_list(&root, &c, pb);
        self.file_stack.pop();
        steps
    }

    fn role_ref(&mut self, node: &Node, inh: &Inherit, pb: &mut PlayBuild, handlers: &mut Vec<TaskId>) -> Vec<Step> {
        let (name, span, c, mut param_text) = match &node.kind {
            NodeKind::Str(s) => (s.clone(), node.span, inh.clone(), Vec::new()),
            NodeKind::Map(entries) => {
                // Keys that are no role keyword are role params (ansible-core's).
                let mut params = VarMap::new();
                let mut param_text = Vec::new();
                for (k, v) in entries {
                    let key = k.scalar_text().unwrap_or_default();
                    if keywords::ROLE_REF.contains(&key.as_str()) {
                        continue;
                    }
                    if keywords::ROLE_REF_UNSUPPORTED.contains(&key.as_str()) {
                        self.err(
                            DiagKind::Unsupported,
                            k.span,
                            format!("role keyword `{key}` is not supported by prov yet"),
                        )
                        .help = Some("remove it; see docs/src/language.md, \"Not supported yet\"".into());
                        continue;
                    }
                    if !is_identifier(&key) {
                        self.err(
                            DiagKind::Invalid,
                            k.span,
                            format!("`{key}` is not a valid variable name for a role param"),
                        );
                        continue;
                    }
                    param_text.push(format!("{}:{}", canonical(k), canonical(v)));
                    params.insert(key, v.to_value());
                }
                let Some(n) = node.get("role").or_else(|| node.get("name")) else {
                    self.err(DiagKind::Invalid, node.span, "role entry needs `role: NAME`");
                    return Vec::new();
                };
                let mut c = self.child_inherit(node, inh, pb);
                if !params.is_empty() {
                    self.note_vars(&params);
                    c.params.push(Arc::new(params));
                }
                (n.scalar_text().unwrap_or_default(), n.span, c, param_text)
            }
            _ => {
                self.err(DiagKind::Invalid, node.span, "a role entry is a name or a mapping with `role:`");
                return Vec::new();
            }
        };
        // ansible-core tells roles apart by name, path, params, `when`, `tags` and `vars` of
        // the entry (the path follows from the name).
        let mut key = name.clone();
        // The same short name can be two roles, found through two collections.
        if let Some(found) = self.find_role(&name, &c.collections) {
            key.push('\u{1f}');
            key.push_str(&found.path.to_string_lossy());
            // `allow_duplicates: true` in its meta/main.yml: every entry runs, even the same.
            if self.allows_duplicates(&found.path) {
                key.push_str(&format!("\u{1f}#{}", pb.role_loads));
            }
        }
        for k in ["when", "tags", "vars"] {
            key.push('\u{1f}');
            if let Some(v) = node.get(k) {
                key.push_str(&canonical(v));
            }
        }
        param_text.sort();
        key.push('\u{1f}');
        key.push_str(&param_text.join(","));
        let key: Arc<str> = key.into();
        let mut c = c;
        c.role_key = Some(key.clone());
        let steps = self.load_role(&name, span, &RoleFrom::default(), &c, pb, handlers);
        if steps.is_empty() {
            return steps;
        }
        vec![Step::Role { key, steps }]
    }

    /// Whether a role's `meta/main.yml` says `allow_duplicates: true` (ansible-core then runs
    /// the role each time it is listed, where it otherwise runs it once per play).
    /// The file is read again by `load_role`, which reports what is wrong with it.
    fn allows_duplicates(&self, role: &Path) -> bool {
        let Some(meta) = ["main.yml", "main.yaml"].iter().map(|f| role.join("meta").join(f)).find(|p| p.is_file())
        else {
            return false;
        };
        let Some((n, _)) =
            std::fs::read_to_string(meta).ok().and_then(|t| yaml::parse_one(crate::source::FileId(u32::MAX), &t).ok())
        else {
            return false;
        };
        n.get("allow_duplicates")
            .and_then(|v| v.scalar_text())
            .and_then(|t| crate::args::parse_bool(&t))
            .unwrap_or(false)
    }

    /// The directory of collection `NS.COLL`: the first root that has it.
    fn collection_dir(&self, name: &str) -> Option<PathBuf> {
        let (ns, coll) = collection_name(name)?;
        self.collection_roots.iter().map(|r| r.join("ansible_collections").join(ns).join(coll)).find(|d| d.is_dir())
    }

    /// Where role `name` lives, in ansible-core's order: a fully qualified `NS.COLL.ROLE` in
    /// its collection; a short name in each of `collections`; then the role directories.
    fn find_role(&self, name: &str, collections: &[String]) -> Option<FoundRole> {
        let in_collection = |coll: &str, role: &str| {
            let path = self.collection_dir(coll)?.join("roles").join(role);
            path.is_dir().then(|| FoundRole { path, collection: Some(coll.to_string()) })
        };
        let qualified =
            name.rsplit_once('.').filter(|(coll, role)| collection_name(coll).is_some() && collection_part(role));
        if let Some(found) = qualified.and_then(|(coll, role)| in_collection(coll, role)) {
            return Some(found);
        }
        if let Some(found) = collections.iter().filter(|c| !holds_no_roles(c)).find_map(|c| in_collection(c, name)) {
            return Some(found);
        }
        self.role_dirs()
            .iter()
            .map(|d| d.join(name))
            .find(|p| p.is_dir())
            .map(|path| FoundRole { path, collection: None })
    }

    /// The modules collection directory `dir` has under a short name, which shadow prov's
    /// in its roles: its `plugins/modules` and `plugins/action` files and the modules its
    /// `meta/runtime.yml` routes.
    fn collection_modules(&mut self, dir: &Path) -> Arc<HashSet<String>> {
        if let Some(known) = self.collection_modules.get(dir) {
            return known.clone();
        }
        let mut names = HashSet::new();
        for sub in ["plugins/modules", "plugins/action"] {
            for e in std::fs::read_dir(dir.join(sub)).into_iter().flatten().flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if let Some((stem, _)) =
                    name.split_once('.').filter(|(stem, _)| !stem.is_empty() && *stem != "__init__")
                {
                    names.insert(stem.to_string());
                }
            }
        }
        let runtime = dir.join("meta/runtime.yml");
        if runtime.is_file() {
            if let Some(doc) = self.read_yaml(&runtime, Span::NONE) {
                let routed = doc.get("plugin_routing").and_then(|r| r.get("modules")).and_then(Node::as_map);
                names.extend(routed.into_iter().flatten().filter_map(|(k, _)| k.scalar_text()));
            }
        }
        let names = Arc::new(names);
        self.collection_modules.insert(dir.to_path_buf(), names.clone());
        names
    }

    /// A task's short module name as ansible-core resolves it through `collections`: the
    /// first of them that has a module of that name makes it `NS.COLL.NAME`.
    fn qualified_module(&mut self, name: &str, collections: &[String]) -> Option<String> {
        if name.contains('.') || keywords::TASK.contains(&name) || is_meta_key(name) {
            return None;
        }
        for c in collections.iter().filter(|c| !holds_no_roles(c)) {
            let Some(dir) = self.collection_dir(c) else { continue };
            if self.collection_modules(&dir).contains(name) {
                return Some(format!("{c}.{name}"));
            }
        }
        None
    }

    /// The names of a `collections` keyword.
    fn collections_of(&mut self, node: Option<&Node>) -> Vec<String> {
        let Some(node) = node else { return Vec::new() };
        let mut out = Vec::new();
        for n in seq_or_one(node) {
            match n.as_str() {
                Some(c) if collection_name(c).is_some() => out.push(c.to_string()),
                _ => {
                    self.err(
                        DiagKind::Invalid,
                        n.span,
                        "a `collections` entry is a collection name, `NAMESPACE.COLLECTION`",
                    );
                }
            }
        }
        out
    }

    fn role_dirs(&self) -> Vec<PathBuf> {
        // Ansible's order: `roles/` beside the playbook, `roles_path`, the playbook's own
        // directory. prov also looks in `../roles` and `./roles` last, where Ansible would
        // refuse the play (role not found).
        let mut dirs = vec![self.playbook_dir.join("roles")];
        dirs.extend(self.opts.defaults.roles_path.iter().cloned());
        dirs.push(self.playbook_dir.clone());
        dirs.push(self.playbook_dir.join("..").join("roles"));
        dirs.push(PathBuf::from("roles"));
        dirs
    }

    #[allow(clippy::too_many_arguments)]
    fn load_role(
        &mut self,
        name: &str,
        span: Span,
        from: &RoleFrom,
        inh: &Inherit,
        pb: &mut PlayBuild,
        handlers: &mut Vec<TaskId>,
    ) -> Vec<Step> {
        let Some(found) = self.find_role(name, &inh.collections) else {
            let dirs = self.role_dirs();
            let mut available: Vec<String> = Vec::new();
            for d in &dirs {
                if let Ok(rd) = std::fs::read_dir(d) {
                    available.extend(
                        rd.flatten()
                            .filter(|e| e.path().is_dir())
                            .map(|e| e.file_name().to_string_lossy().into_owned()),
                    );
                }
            }
            let searched = inh
                .collections
                .iter()
                .filter(|c| !holds_no_roles(c))
                .cloned()
                .chain(dirs.iter().map(|d| d.display().to_string()))
                .collect::<Vec<_>>()
                .join(", ");
            let help = match name.rsplit_once('.').filter(|(c, _)| collection_name(c).is_some()) {
                Some((c, _)) if self.collection_dir(c).is_none() => Some(format!(
                    "collection `{c}` is not in `collections/` beside the playbook nor in collections_path ({})",
                    self.opts
                        .defaults
                        .collections_path
                        .iter()
                        .map(|p| p.display().to_string())
                        .collect::<Vec<_>>()
                        .join(":")
                )),
                _ => did_you_mean(name, available.iter().map(String::as_str)),
            };
            self.err(DiagKind::Missing, span, format!("role `{name}` not found (searched {searched})")).help = help;
            return Vec::new();
        };
        let path = found.path;
        let short_name = match &found.collection {
            Some(c) => name.strip_prefix(c.as_str()).and_then(|n| n.strip_prefix('.')).unwrap_or(name),
            None => name,
        };
        let full_name = match &found.collection {
            Some(c) => format!("{c}.{short_name}"),
            None => name.to_string(),
        };
        let name = full_name.as_str();
        let short_name = short_name.to_string();
        if self.role_stack.iter().any(|r| r == name) {
            let chain = self.role_stack.iter().map(String::as_str).chain([name]).collect::<Vec<_>>().join(" → ");
            self.err(DiagKind::Cycle, span, format!("role dependency cycle: {chain}"));
            return Vec::new();
        }
        pb.role_loads += 1;
        if pb.role_loads > MAX_ROLE_LOADS {
            if pb.role_loads == MAX_ROLE_LOADS + 1 {
                self.err(
                    DiagKind::Invalid,
                    span,
                    format!(
                        "more than {MAX_ROLE_LOADS} roles in one play, counting each dependency where it is pulled in"
                    ),
                )
                .help = Some("role dependencies repeat too often; list shared roles once in `roles:`".into());
            }
            return Vec::new();
        }
        self.role_stack.push(name.to_string());
        let main = |sub: &str| -> Option<PathBuf> {
            ["main.yml", "main.yaml"].iter().map(|f| path.join(sub).join(f)).find(|p| p.exists())
        };
        // `*_from`: another file of the role's directory instead of `main`.
        let files = |this: &mut Self, sub: &str, chosen: &Option<String>| -> Vec<PathBuf> {
            match chosen {
                None => role_var_files(&path, sub),
                Some(f) => match role_file(&path, sub, f) {
                    Some(p) => vec![p],
                    None => {
                        this.err(DiagKind::Missing, span, format!("Could not find specified file in role: {sub}/{f}"));
                        Vec::new()
                    }
                },
            }
        };
        let defaults_files = files(self, "defaults", &from.defaults);
        let vars_files = files(self, "vars", &from.vars);
        let mut defaults = VarMap::new();
        for p in defaults_files {
            if let Some(n) = self.read_yaml(&p, span).filter(|n| !matches!(n.kind, NodeKind::Null)) {
                self.map_into(&n, &mut defaults, "role defaults");
            }
        }
        self.note_vars(&defaults);
        let mut role_vars = VarMap::new();
        for p in vars_files {
            if let Some(n) = self.read_yaml(&p, span).filter(|n| !matches!(n.kind, NodeKind::Null)) {
                self.map_into(&n, &mut role_vars, "role vars");
            }
        }
        self.note_vars(&role_vars);
        // Ansible names the parents of a role pulled in from another role's tasks (and of its
        // dependencies): the including role first.
        let parents = match &inh.role {
            Some(p) => std::iter::once((p.name.clone(), p.path.clone())).chain(p.parents.iter().cloned()).collect(),
            None => Vec::new(),
        };
        // A role pulled in by another role sees that role's defaults under its own (ansible-core's
        // dep chain: the parents' defaults, then the role's).
        let mut effective = inh.role.as_ref().map(|p| (*p.defaults).clone()).unwrap_or_default();
        effective.extend(defaults);
        let chain = std::iter::once(path.clone())
            .chain(inh.depender.as_ref().or(inh.role.as_ref()).into_iter().flat_map(|r| r.chain.iter().cloned()))
            .collect();
        let role = Arc::new(RoleCtx {
            name: name.to_string(),
            short_name,
            path: path.clone(),
            defaults: Arc::new(effective),
            parents,
            chain,
            key: inh.role_key.clone(),
        });
        let role_vars_public = Arc::new(role_vars);
        let mut c = inh.clone();
        c.role_key = None;
        c.depender = None;
        c.role = Some(role.clone());
        c.vars.insert(c.role_vars_at.min(c.vars.len()), role_vars_public.clone());
        c.role_vars_at += 1;
        let mut search = vec![path.clone()];
        search.extend(inh.search_dirs.iter().cloned());
        c.search_dirs = Arc::new(search);
        c.dir = path.join("tasks");
        let mut steps = Vec::new();
        let meta = main("meta").and_then(|p| self.read_yaml(&p, span));
        // A role does not inherit the collections of what pulls it in: its names resolve in its
        // own collection, then in those its meta/main.yml lists, then in ansible.builtin
        // (ansible.legacy for a role outside collections).
        let mut collections: Vec<String> = found.collection.iter().cloned().collect();
        for c in self.collections_of(meta.as_ref().and_then(|m| m.get("collections"))) {
            if !collections.contains(&c) {
                collections.push(c);
            }
        }
        if !collections.is_empty() && !collections.iter().any(|c| holds_no_roles(c)) {
            collections.push(if found.collection.is_some() { "ansible.builtin" } else { "ansible.legacy" }.into());
        }
        c.collections = Arc::new(collections);
        // Dependencies first.
        if let Some(deps) = meta.as_ref().and_then(|m| m.get("dependencies")) {
            for d in seq_or_one(deps) {
                let mut dep_inh = inh.clone();
                dep_inh.depender = Some(role.clone());
                dep_inh.tags = c.tags.clone();
                dep_inh.collections = c.collections.clone();
                steps.extend(self.role_ref(d, &dep_inh, pb, handlers));
            }
        }
        if inh.role_public {
            pb.public_defaults.extend(role.defaults.iter().map(|(k, v)| (k.clone(), v.clone())));
            pb.public_vars.extend(role_vars_public.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        let handlers_file = match &from.handlers {
            Some(f) => files(self, "handlers", &Some(f.clone())).into_iter().next(),
            None => main("handlers"),
        };
        if let Some(p) = handlers_file {
            let mut hc = c.clone();
            hc.handler = true;
            hc.dir = path.join("handlers");
            let hs = self.load_task_file(&p, span, &hc, pb);
            flatten_steps(&hs, handlers);
        }
        let tasks_file = match from.tasks.as_deref() {
            Some(f) => {
                let f = if f.ends_with(".yml") || f.ends_with(".yaml") { f.to_string() } else { format!("{f}.yml") };
                Some(path.join("tasks").join(f))
            }
            None => main("tasks"),
        };
        if let Some(p) = tasks_file {
            steps.extend(self.load_task_file(&p, span, &c, pb));
        }
        self.role_stack.pop();
        steps
    }

    /// A task written with `action:` (`action: copy src=a dest=b`, or the deprecated mapping
    /// `action: {module: copy, src: a}`) as the same task written with its module key; `None`
    /// when the task has no `action`, `Some(None)` after an error.
    fn action_keyword(&mut self, entries: &[(Node, Node)], span: Span) -> Option<Option<Node>> {
        let (ak, av) = entries.iter().find(|(k, _)| matches!(k.as_str(), Some("action" | "local_action")))?;
        let keyword = ak.as_str().unwrap_or("action");
        // `local_action` is `action` with `delegate_to: localhost`; ansible-core refuses it
        // together with `action` or `delegate_to`.
        if keyword == "local_action" {
            if let Some((other, _)) = entries.iter().find(|(k, _)| matches!(k.as_str(), Some("action" | "delegate_to")))
            {
                let other = other.as_str().unwrap_or_default();
                self.err(DiagKind::Invalid, ak.span, format!("`local_action` and `{other}` are mutually exclusive"))
                    .help = Some("keep `local_action`, or write the module with `delegate_to: localhost`".into());
                return Some(None);
            }
        }
        if let Some((other, _)) = entries.iter().find(|(k, _)| {
            k.as_str().is_some_and(|n| n != keyword && (self.registry.get(n).is_some() || is_meta_key(n)))
        }) {
            self.err(
                DiagKind::Invalid,
                other.span,
                format!("conflicting action statements: `{keyword}` and `{}`", other.as_str().unwrap_or_default()),
            )
            .help = Some(format!("a task has one module: keep `{keyword}` or the module key"));
            return Some(None);
        }
        let (name, args) = match &av.kind {
            NodeKind::Str(text) => {
                let text = text.trim_start();
                let (name, rest) = text.split_once(char::is_whitespace).unwrap_or((text, ""));
                let args = if rest.trim().is_empty() {
                    Node { span: av.span, kind: NodeKind::Null }
                } else {
                    Node { span: av.span, kind: NodeKind::Str(rest.trim().to_string()) }
                };
                (name.to_string(), args)
            }
            NodeKind::Map(m) => {
                let Some(name) = m.iter().find(|(k, _)| k.as_str() == Some("module")).and_then(|(_, v)| v.as_str())
                else {
                    self.err(DiagKind::Invalid, av.span, format!("`{keyword}` as a mapping needs a `module` key"))
                        .help = Some("write `action: MODULE key=value ...`".into());
                    return Some(None);
                };
                // The mapping's other keys are arguments; an `args` mapping inside it too.
                let mut rest: Vec<(Node, Node)> = Vec::new();
                for (k, v) in m.iter().filter(|(k, _)| k.as_str() != Some("module")) {
                    match (k.as_str(), v.as_map()) {
                        (Some("args"), Some(inner)) => rest.extend(inner.iter().cloned()),
                        _ => rest.push((k.clone(), v.clone())),
                    }
                }
                (name.to_string(), Node { span: av.span, kind: NodeKind::Map(rest) })
            }
            _ => {
                self.err(
                    DiagKind::Invalid,
                    av.span,
                    format!("`{keyword}` must be a string: `{keyword}: MODULE key=value ...`"),
                );
                return Some(None);
            }
        };
        if name.is_empty() || name.contains("{{") || is_template(&name) {
            self.err(
                DiagKind::Unsupported,
                av.span,
                format!("a templated module name in `{keyword}` is not supported by prov yet"),
            )
            .help = Some("write the module's name".into());
            return Some(None);
        }
        let mut out: Vec<(Node, Node)> = entries
            .iter()
            .map(|(k, v)| {
                if k.as_str() == Some(keyword) {
                    (Node { span: ak.span, kind: NodeKind::Str(name.clone()) }, args.clone())
                } else {
                    (k.clone(), v.clone())
                }
            })
            .collect();
        if keyword == "local_action" {
            out.push((
                Node { span: ak.span, kind: NodeKind::Str("delegate_to".into()) },
                Node { span: ak.span, kind: NodeKind::Str("localhost".into()) },
            ));
        }
        Some(Some(Node { span, kind: NodeKind::Map(out) }))
    }

    fn task(&mut self, node: &Node, inh: &Inherit, pb: &mut PlayBuild) -> Option<TaskId> {
        let without_omitted = without_omitted_keywords(node);
        let node = without_omitted.as_ref().unwrap_or(node);
        let entries = node.as_map()?;
        if let Some(rewritten) = self.action_keyword(entries, node.span) {
            return self.task(&rewritten?, inh, pb);
        }
        // A short module name that one of the collections in scope has is that collection's
        // module (a collection's role calls its own `ping` before ansible.builtin's).
        if !inh.collections.is_empty() {
            let qualified = entries.iter().enumerate().find_map(|(i, (k, _))| {
                let key = k.as_str().filter(|k| !keywords::TASK_UNSUPPORTED.contains(k))?;
                Some((i, self.qualified_module(key, &inh.collections)?))
            });
            if let Some((i, name)) = qualified {
                let mut entries = entries.to_vec();
                entries[i].0 = Node { span: entries[i].0.span, kind: NodeKind::Str(name) };
                return self.task(&Node { span: node.span, kind: NodeKind::Map(entries) }, inh, pb);
            }
        }
        // Find the module key: the one key that is not a task keyword.
        let mut module: Option<(&Node, &Node)> = None;
        let mut ok = true;
        for (k, v) in entries {
            let Some(key) = k.as_str() else { continue };
            if keywords::TASK.contains(&key) || LoopKeyword::other_lookup(key).is_some() {
                continue;
            }
            if let Some(name) =
                key.strip_prefix("with_").filter(|_| module.is_some() || entries_have_module(entries, self.registry))
            {
                self.err(DiagKind::Unsupported, k.span, format!("`{key}`: prov has no lookup plugin `{name}`")).help =
                    Some(format!("the lookups prov has: {}", crate::template::filters::supported_lookups()));
                ok = false;
                continue;
            }
            if keywords::TASK_UNSUPPORTED.contains(&key) {
                self.err(DiagKind::Unsupported, k.span, format!("task keyword `{key}` is not supported by prov yet"));
                ok = false;
                continue;
            }
            if self.registry.get(key).is_some() || is_meta_key(key) {
                if let Some((prev, _)) = module {
                    self.err(
                        DiagKind::Invalid,
                        k.span,
                        format!("task has two modules: `{}` and `{key}`", prev.scalar_text().unwrap_or_default()),
                    )
                    .help = Some("split it into two tasks".into());
                    ok = false;
                }
                module = Some((k, v));
                continue;
            }
            ok = false;
            let kw_hint = did_you_mean(key, keywords::TASK.iter().copied());
            let mod_hint = did_you_mean(key, self.registry.names());
            if module.is_none()
                && (mod_hint.is_some() || kw_hint.is_none())
                && !entries_have_module(entries, self.registry)
            {
                let own = key.rsplit_once('.').and_then(|(c, short)| {
                    let dir = self.collection_dir(c)?;
                    self.collection_modules(&dir).contains(short).then(|| {
                        format!(
                            "collection `{c}` ({}) has a module `{short}` of its own, which Ansible runs here",
                            dir.display()
                        )
                    })
                });
                self.err(DiagKind::Unknown, k.span, format!("unknown module `{key}`")).help = own
                    .or_else(|| self.registry.hint(key))
                    .or(mod_hint)
                    .or_else(|| Some("docs/src/language.md lists the modules prov has".into()));
            } else {
                self.err(DiagKind::Unknown, k.span, format!("unknown task keyword `{key}`")).help =
                    kw_hint.or_else(|| Some(format!("valid keywords: {}", keywords::TASK.join(", "))));
            }
        }
        let Some((mkey, margs)) = module else {
            if ok {
                self.err(DiagKind::Invalid, node.span, "task has no module").help =
                    Some("add a module such as `command: ...` or `copy: {...}`".into());
            }
            return None;
        };
        let mname = mkey.as_str().unwrap_or_default().to_string();
        let id = pb.tasks.len();
        let mut meta = None;
        let (module_key, dynm) = if is_meta_key(&mname) {
            meta = self.meta_of(margs);
            match meta {
                Some(action) => self.check_meta_task(node, action, inh),
                None => ok = false,
            }
            ("meta", None)
        } else {
            let m = self.registry.get(&mname)?;
            (m.name(), Some(m))
        };
        // A meta task's value is its action, not arguments.
        let mut args = match dynm {
            Some(m) => self.module_args(margs, m.free_form()),
            None => Some(indexmap::IndexMap::new()),
        };
        if let Some(extra) = node.get("args") {
            if let (Some(a), Some(map)) = (args.as_mut(), extra.as_map()) {
                for (k, v) in map {
                    a.insert(k.scalar_text().unwrap_or_default(), (v.to_value(), k.span));
                }
            }
        }
        let mut args = args.unwrap_or_default();
        if let Some(m) = dynm {
            let mut defaults = inh.module_defaults.clone();
            self.module_defaults_into(node.get("module_defaults"), &mut defaults);
            self.apply_module_defaults(m, &defaults, &mut args);
        }
        for (k, (_, span)) in args.iter().filter(|(k, _)| k.starts_with("_ansible_")) {
            // ansible-core's own words.
            self.err(
                DiagKind::Invalid,
                *span,
                format!(
                    "Invalid parameter specified beginning with keyword '_ansible_' for action '{mname}': '{k}'. The prefix '_ansible_' is reserved for internal use only."
                ),
            );
            ok = false;
        }
        if let Some(m) = dynm {
            let names = m.arg_names();
            for (k, (v, span)) in &args {
                // `email: "{{ x | default(omit) }}"` is no argument when it renders to omit, as
                // ansible-core removes it before checking: the run checks what remains.
                let may_be_omitted = v.as_str().is_some_and(|s| is_template(s) && s.contains("omit"));
                if !names.is_empty() && !names.contains(&k.as_str()) && !may_be_omitted {
                    // Arguments ansible-core removed: its own words say so at run time.
                    let removed = match (m.name(), k.as_str()) {
                        ("command" | "shell", "warn") => {
                            Some("ansible-core 2.14 removed `warn` (\"Unsupported parameters\" since); remove it")
                        }
                        _ => None,
                    };
                    self.err(DiagKind::Unknown, *span, format!("module `{}` has no argument `{k}`", m.name())).help =
                        removed
                            .map(str::to_string)
                            .or_else(|| did_you_mean(k, names.iter().copied()))
                            .or_else(|| Some(format!("its arguments are: {}", names.join(", "))));
                    ok = false;
                }
            }
        }
        let args_value = Value::from_pairs(args.iter().map(|(k, (v, _))| {
            // assert's `that` holds conditions, not templates: ansible-core renders it only when
            // it is one template as a whole (a list of conditions, or one); each condition is
            // evaluated by the module, its embedded templates with it.
            let v = if module_key == "assert" && k == "that" { raw_conditions(v) } else { v.clone() };
            (k.clone(), v)
        }));
        let mut arg_templates = Vec::new();
        for (_, (v, span)) in &args {
            let mut found = Vec::new();
            collect_strings(v, &mut found);
            arg_templates.extend(found.into_iter().filter(|s| is_template(s)).map(|s| (s, *span)));
        }
        // `run_once` is read on every host before `when` (by the strategy).
        let mut keyword_templates = Vec::new();
        if let Some(n @ Node { kind: NodeKind::Str(s), .. }) = node.get("run_once") {
            if is_template(s) {
                keyword_templates.push((s.to_string(), n.span));
            }
        }
        let mut strings = Vec::new();
        collect_strings(&args_value, &mut strings);
        for s in strings.iter().filter(|s| is_template(s)) {
            pb.templates.push((s.clone(), margs.span));
        }
        if ok && !has_template(&args_value) {
            if let Some(m) = dynm {
                if let Err(e) = m.validate(&args_value) {
                    self.err(DiagKind::Invalid, mkey.span, format!("invalid arguments for `{}`: {e}", m.name()));
                    ok = false;
                }
            }
        }
        let mut c = inh.clone();
        c.tags.extend(self.tags_of(node.get("tags")));
        let mut when = c.when.clone();
        if let Some(w) = node.get("when") {
            when.extend(self.conds(w, pb));
        }
        let mut vars = c.vars.clone();
        if let Some(v) = node.get("vars") {
            let mut m = VarMap::new();
            self.map_into(v, &mut m, "vars");
            self.note_vars(&m);
            vars.push(Arc::new(m));
        }
        let mut become_if = c.become_if.clone();
        let become_ = self
            .become_of(
                node,
                c.become_.clone(),
                &mut c.become_method.clone(),
                &mut become_if,
                &mut c.become_user.clone(),
            )
            .flatten();
        let become_if = become_if.filter(|_| become_.is_some());
        let run_once =
            self.opt_flag(node.get("run_once"), pb).or_else(|| c.run_once.clone()).unwrap_or(Flag::Fixed(false));
        if c.looped && !matches!(run_once, Flag::Fixed(false)) {
            let at = node.get("run_once").map_or(node.span, |n| n.span);
            self.err(DiagKind::Unsupported, at, "`run_once` inside a looped include is not supported by prov yet")
                .help = Some("run the task once before or after the looped include".into());
        }
        let mut layers = name_layers(&c);
        if let Some(own) = vars.get(c.vars.len()) {
            layers.push(own.clone());
        }
        let loop_ = self.loop_of(node, pb, &layers);
        if let Some(l) = &loop_ {
            self.known.insert(l.loop_var.clone());
            self.known.insert("ansible_loop_var".into());
            if let Some(i) = &l.index_var {
                self.known.insert(i.clone());
                self.known.insert("ansible_index_var".into());
            }
        }
        let register = node.get("register").and_then(|r| {
            let s = r.scalar_text().unwrap_or_default();
            if is_identifier(&s) {
                self.known.insert(s.clone());
                Some(s)
            } else {
                self.err(DiagKind::Invalid, r.span, format!("`{s}` is not a valid variable name for register"));
                None
            }
        });
        if module_key == "set_fact" {
            for k in args.keys() {
                if is_template(k) {
                    // Which name it sets is known only at run time.
                    self.unknown_names = true;
                } else {
                    self.known.insert(k.clone());
                }
            }
        }
        // Facts modules whose facts are variables under their own names.
        match module_key {
            "package_facts" => {
                self.known.insert("packages".into());
            }
            "service_facts" => {
                self.known.insert("services".into());
            }
            "getent" => match args.get("database").and_then(|(v, _)| v.as_str().map(str::to_string)) {
                Some(db) if !is_template(&db) => {
                    self.known.insert(format!("getent_{db}"));
                }
                _ => self.unknown_names = true,
            },
            _ => {}
        }
        if module_key == "add_host" {
            // The variables it gives the host it adds are read in later plays.
            if args.is_empty() {
                self.unknown_names = true;
            }
            for k in args.keys() {
                if is_template(k) {
                    self.unknown_names = true;
                } else if !matches!(k.as_str(), "name" | "host" | "hostname" | "groups" | "groupname" | "group") {
                    self.known.insert(k.clone());
                }
            }
        }
        if module_key == "pause"
            && self.opts.interactive
            && !["seconds", "minutes"].iter().any(|k| args.contains_key(*k))
        {
            self.err(
                DiagKind::Unsupported,
                node.span,
                "a `pause` without `seconds` or `minutes` waits for an answer on the terminal, which prov does not read",
            )
            .help = Some("give `seconds` or `minutes`; without a terminal (CI) prov goes on as ansible-core does".into());
        }
        if module_key == "include_vars" {
            self.note_included_names(&args_value, &c);
            let set = |d: &&Node| matches!(&d.kind, NodeKind::Bool(true)) || d.as_str().is_some_and(is_template);
            let inherited = !matches!(c.delegate_facts, None | Some(Flag::Fixed(false)));
            let at = match node.get("delegate_facts") {
                Some(d) => Some(d).filter(set),
                None => inherited.then_some(node),
            };
            if let Some(d) = at {
                self.err(
                    DiagKind::Unsupported,
                    d.span,
                    "`include_vars` with `delegate_facts` is not supported by prov yet",
                )
                .help = Some("run the include_vars on the host that needs the variables".into());
            }
        }
        if let Some(n) = node.get("notify") {
            for item in seq_or_one(n) {
                if let Some(s) = item.scalar_text() {
                    pb.pending_notify.push((id, s, item.span));
                }
            }
        } else {
            pb.pending_notify.extend(c.notify.iter().map(|(s, span)| (id, s.clone(), *span)));
        }
        let changed_when = node.get("changed_when").map(|n| self.conds(n, pb));
        let failed_when = node.get("failed_when").map(|n| self.conds(n, pb));
        let until = self.until_of(node, pb);
        let delegate_to = match node.get("delegate_to") {
            Some(d) => self.tmpl(d),
            None => c.delegate_to.clone(),
        };
        let name = node.get("name").and_then(Node::scalar_text).unwrap_or_else(|| module_key.to_string());
        if is_template(&name) {
            pb.templates.push((name.clone(), node.span));
        }
        if inh.handler && !inh.handler_file {
            let handler_name = node.get("name").and_then(Node::scalar_text).and_then(|n| {
                if !is_template(&n) {
                    return Some(n);
                }
                // Rendered once, with the play's vars and -e (ansible-core: no host's
                // variables); a name that does not render leaves the handler unusable.
                match self.templar.compile(&n).and_then(|t| self.templar.render_defined(&t, &pb.name_ctx)) {
                    Ok(v) => Some(v.to_string()),
                    Err(e) => {
                        self.diags.push(Diagnostic::warning(
                            node.get("name").map_or(node.span, |x| x.span),
                            format!("handler `{n}` is unusable: its name does not render ({e})"),
                        ));
                        None
                    }
                }
            });
            pb.handler_blocks.insert(id, pb.handler_block);
            if let Some(n) = handler_name {
                if let Some(r) = &c.role {
                    pb.handler_names.push((format!("{} : {n}", r.name), id, HandlerKey::Name));
                }
                pb.handler_names.push((n, id, HandlerKey::Name));
            }
            if let Some(l) = node.get("listen") {
                for topic in seq_or_one(l).iter().filter_map(|n| n.scalar_text()) {
                    pb.handler_names.push((topic, id, HandlerKey::Listen));
                }
            }
        }
        let (async_secs, fire_and_forget) = self.async_keywords(node, module_key, margs);
        let timeout = node.get("timeout").and_then(|t| match t.kind {
            NodeKind::Int(i) if i > 0 => Some(i as u64),
            _ => None,
        });
        let throttle = node.get("throttle").and_then(|t| {
            let n = match &t.kind {
                NodeKind::Int(i) => Some(*i),
                NodeKind::Str(s) if !is_template(s) => s.trim().parse::<i64>().ok(),
                _ => None,
            };
            match n {
                Some(0) => None,
                Some(i) if i > 0 => Some(i as usize),
                _ => {
                    self.err(DiagKind::Unsupported, t.span, "throttle must be a whole number of hosts").help =
                        Some("prov reads throttle when it compiles the play: write a number, not a template".into());
                    None
                }
            }
        });
        let environment = env_chain(c.environment.clone(), node.get("environment").map(Node::to_value));
        if let Some(e) = &environment {
            let mut s = Vec::new();
            collect_strings(e, &mut s);
            pb.templates.extend(s.into_iter().filter(|x| is_template(x)).map(|x| (x, node.span)));
        }
        let _ = RunsOn::Target;
        let mut def = TaskDef {
            id,
            name,
            named: node.get("name").is_some_and(|n| n.scalar_text().is_some()),
            span: node.span,
            module: module_key,
            args: args_value,
            arg_templates,
            keyword_templates,
            guarded: c.guarded,
            when,
            loop_,
            register,
            notify: Vec::new(),
            notify_templates: Vec::new(),
            tags: c.tags.clone(),
            gates: c.gates.clone(),
            become_,
            become_if,
            delegate_to,
            remote_user: match node.get("remote_user") {
                Some(u) => self.tmpl(u),
                None => c.remote_user.clone(),
            },
            delegate_facts: self
                .opt_flag(node.get("delegate_facts"), pb)
                .or_else(|| c.delegate_facts.clone())
                .unwrap_or(Flag::Fixed(false)),
            run_once: matches!(run_once, Flag::Fixed(true)),
            run_once_if: match run_once {
                Flag::Template(tm) => Some(tm),
                Flag::Fixed(_) => None,
            },
            // ansible-core's BYPASS_HOST_LOOP actions: add_host and pause run once, on the first
            // host, whose result alone they are.
            bypass_host_loop: {
                let bypass = matches!(module_key, "add_host" | "pause");
                if bypass && c.looped {
                    self.err(
                        DiagKind::Unsupported,
                        node.span,
                        format!("`{module_key}` inside a looped include is not supported by prov yet"),
                    )
                    .help = Some(format!("run `{module_key}` before or after the looped include"));
                }
                bypass
            },
            ignore_errors: self
                .opt_flag(node.get("ignore_errors"), pb)
                .or(c.ignore_errors.clone())
                .unwrap_or(Flag::Fixed(false)),
            changed_when,
            failed_when,
            until,
            environment,
            no_log: self.no_log_flag(node.get("no_log")).or(c.no_log.clone()).unwrap_or(Flag::Fixed(false)),
            ignore_unreachable: self.opt_bool(node.get("ignore_unreachable")).or(c.ignore_unreachable).unwrap_or(false),
            check_mode: self.opt_bool(node.get("check_mode")).or(c.check_mode),
            any_errors_fatal: self.opt_bool(node.get("any_errors_fatal")).or(c.any_errors_fatal).unwrap_or(false),
            diff: self.runtime_flag(node.get("diff"), pb),
            vars,
            params: c.params.clone(),
            role: c.role.clone(),
            handler: inh.handler,
            meta,
            search_dirs: c.search_dirs.clone(),
            search_path_var: self.search_path_var(&c),
            timeout,
            async_secs,
            fire_and_forget,
            throttle,
            hostvars_reads: Vec::new(),
            selected: true,
        };
        def.hostvars_reads = hostvars_reads_of(&def, &strings);
        pb.tasks.push(Arc::new(def));
        // Ids stay dense even for tasks with errors: errors stop the run before it starts.
        let _ = ok;
        Some(id)
    }

    /// A task's `ansible_search_path` (see [`TaskDef::search_path_var`]), absolute with `.`
    /// and `..` resolved as written, as ansible-core's loader gives paths.
    fn search_path_var(&self, c: &Inherit) -> Arc<VarMap> {
        let roles = c.role.iter().flat_map(|r| r.chain.iter());
        let mut dirs: Vec<String> = Vec::new();
        for d in roles.chain([&c.dir, &self.playbook_dir]) {
            let d = normalized(d).display().to_string();
            if !dirs.contains(&d) {
                dirs.push(d);
            }
        }
        let mut m = VarMap::new();
        m.insert("ansible_search_path".into(), Value::from(dirs));
        Arc::new(m)
    }

    /// `until`, `retries` and `delay` as ansible-core's task executor reads them: `retries`
    /// alone retries until the task does not fail; `until` alone retries 3 times; a negative
    /// `retries` is 0 and a negative `delay` 1. A number written as a template is refused
    /// (prov reads them when it compiles).
    fn until_of(&mut self, node: &Node, pb: &mut PlayBuild) -> Option<Until> {
        // An empty list is no `until` (ansible-core tests it for truth).
        let conds = node.get("until").map(|n| self.conds(n, pb)).filter(|c| !c.is_empty());
        let mut number = |key: &str| -> Option<f64> {
            let n = node.get(key)?;
            let v = match &n.kind {
                NodeKind::Int(i) => Some(*i as f64),
                NodeKind::Float(f) if key == "delay" => Some(*f),
                NodeKind::Str(s) => s.trim().parse::<i64>().ok().map(|i| i as f64),
                _ => None,
            };
            if v.is_none() {
                self.err(DiagKind::Unsupported, n.span, format!("`{key}` must be a number")).help =
                    Some(format!("prov reads `{key}` when it compiles the play: write a number, not a template"));
            }
            v
        };
        let retries = number("retries");
        let delay = number("delay");
        if conds.is_none() && retries.is_none() {
            return None;
        }
        Some(Until {
            conds: conds.unwrap_or_default(),
            retries: retries.map_or(3, |r| r.max(0.0) as u32),
            delay: delay.map_or(5.0, |d| if d < 0.0 { 1.0 } else { d }),
        })
    }

    fn meta_of(&mut self, n: &Node) -> Option<MetaAction> {
        const ACTIONS: [&str; 10] = [
            "flush_handlers",
            "refresh_inventory",
            "end_host",
            "end_play",
            "end_batch",
            "noop",
            "clear_facts",
            "clear_host_errors",
            "reset_connection",
            "end_role",
        ];
        let s = n.scalar_text().unwrap_or_default();
        Some(match s.trim() {
            "flush_handlers" => MetaAction::FlushHandlers,
            "refresh_inventory" => MetaAction::RefreshInventory,
            "end_host" => MetaAction::EndHost,
            "end_play" => MetaAction::EndPlay,
            "end_batch" => MetaAction::EndBatch,
            "noop" => MetaAction::Noop,
            "clear_facts" => MetaAction::ClearFacts,
            "clear_host_errors" => MetaAction::ClearHostErrors,
            "reset_connection" => MetaAction::ResetConnection,
            "end_role" => MetaAction::EndRole,
            _ => {
                self.err(DiagKind::Unknown, n.span, format!("unknown meta action `{s}`")).help =
                    did_you_mean(&s, ACTIONS).or_else(|| Some(format!("use one of {}", ACTIONS.join(", "))));
                return None;
            }
        })
    }

    /// The keywords of a meta task that prov cannot honour as Ansible does.
    fn check_meta_task(&mut self, node: &Node, action: MetaAction, inh: &Inherit) {
        for key in LoopKeyword::ALL.iter().map(|(k, _)| *k).chain(["args"]) {
            if let Some(k) = node.as_map().and_then(|m| m.iter().find(|(k, _)| k.as_str() == Some(key))) {
                self.err(DiagKind::Unsupported, k.0.span, format!("`{key}` on a meta task is not supported")).help =
                    Some("a meta task acts once per host; remove it".into());
            }
        }
        if action == MetaAction::FlushHandlers && inh.handler {
            self.err(DiagKind::Invalid, node.span, "`meta: flush_handlers` cannot be used as a handler");
        }
        if action == MetaAction::EndRole {
            // ansible-core's errors, before the run here.
            if inh.handler {
                self.err(DiagKind::Invalid, node.span, "Cannot execute 'end_role' from a handler");
            } else if inh.role.is_none() {
                self.err(DiagKind::Invalid, node.span, "Cannot execute 'end_role' from outside of a role");
            } else if inh.role.as_ref().is_some_and(|r| r.key.is_none()) {
                self.err(
                    DiagKind::Unsupported,
                    node.span,
                    "`meta: end_role` in a role of include_role or import_role is not supported by prov yet",
                )
                .help = Some("it works in the roles of `roles:` and their dependencies".into());
            }
        }
        if matches!(action, MetaAction::Noop | MetaAction::RefreshInventory | MetaAction::ResetConnection) {
            if let Some(w) = node.get("when") {
                self.diags.push(Diagnostic::warning(
                    w.span,
                    "`when` has no effect on this meta task (Ansible ignores it too, with a warning)",
                ));
            }
        }
    }

    /// The loop of a dynamic include, read before the tasks it includes are: they see the
    /// loop's variables.
    fn include_loop(&mut self, node: &Node, pb: &mut PlayBuild, layers: &[Arc<VarMap>]) -> Option<LoopDef> {
        let l = self.loop_of(node, pb, layers)?;
        self.known.insert(l.loop_var.clone());
        self.known.insert("ansible_loop_var".into());
        if let Some(i) = &l.index_var {
            self.known.insert(i.clone());
            self.known.insert("ansible_index_var".into());
        }
        Some(l)
    }

    /// The task's loop. `layers`: the task's variables below the play's (see [`name_layers`]),
    /// for a templated `loop_var` or `index_var`.
    fn loop_of(&mut self, node: &Node, pb: &mut PlayBuild, layers: &[Arc<VarMap>]) -> Option<LoopDef> {
        let (key, n, keyword, lookup) =
            LoopKeyword::ALL.iter().find_map(|(k, w)| node.get(k).map(|n| (*k, n, *w, None))).or_else(|| {
                node.as_map()?.iter().find_map(|(k, v)| {
                    let key = k.as_str()?;
                    let name = LoopKeyword::other_lookup(key)?;
                    Some((key, v, LoopKeyword::WithLookup, Some(name.to_string())))
                })
            })?;
        let items = match &n.kind {
            NodeKind::Str(s) => {
                pb.templates.push((s.clone(), n.span));
                match self.templar.compile(s) {
                    Ok(t) => LoopItems::Template(t),
                    Err(e) => {
                        self.err(DiagKind::Template, n.span, format!("template error in {key}: {e}"));
                        return None;
                    }
                }
            }
            NodeKind::Seq(_) if key != "with_dict" => LoopItems::List(n.to_value()),
            NodeKind::Seq(_) => {
                // Terms for the `dict` lookup, rendered when the task runs.
                let mut def = self.loop_control(node, LoopItems::List(n.to_value()), keyword, pb, layers);
                def.dict_terms = true;
                return Some(def);
            }
            NodeKind::Map(_) if key == "with_dict" => LoopItems::List(n.to_value()),
            // One mapping term (`with_first_found: {files: [...], paths: [...]}`).
            NodeKind::Map(_) if keyword.lookup().is_some() || lookup.is_some() => {
                LoopItems::List(Value::from(vec![n.to_value()]))
            }
            _ => {
                self.err(
                    DiagKind::Invalid,
                    n.span,
                    format!("`{key}` takes a list or a template, found a {}", n.type_name()),
                );
                return None;
            }
        };
        let items = if key == "with_dict" {
            match items {
                LoopItems::Template(_) | LoopItems::List(_) => {
                    let src = match n.scalar_text() {
                        Some(s) => s,
                        None => {
                            // literal mapping: turn into a dict2items expression over a literal
                            let v = n.to_value();
                            let list: Vec<Value> = v
                                .try_iter()
                                .map(|it| {
                                    it.map(|k| {
                                        Value::from_pairs([
                                            ("key".to_string(), k.clone()),
                                            ("value".to_string(), v.get_item(&k).unwrap_or_default()),
                                        ])
                                    })
                                    .collect()
                                })
                                .unwrap_or_default();
                            return Some(self.loop_control(
                                node,
                                LoopItems::List(Value::from(list)),
                                keyword,
                                pb,
                                layers,
                            ));
                        }
                    };
                    // The rendered value's terms go to the `dict` lookup when the task runs, as
                    // in ansible-core (a list of mappings is read mapping by mapping).
                    let _ = src;
                    let mut def = self.loop_control(node, items, keyword, pb, layers);
                    def.dict_terms = true;
                    return Some(def);
                }
            }
        } else {
            items
        };
        let mut def = self.loop_control(node, items, keyword, pb, layers);
        def.lookup = lookup;
        Some(def)
    }

    fn loop_control(
        &mut self,
        node: &Node,
        items: LoopItems,
        keyword: LoopKeyword,
        pb: &mut PlayBuild,
        layers: &[Arc<VarMap>],
    ) -> LoopDef {
        let flatten = keyword == LoopKeyword::WithItems;
        let mut def = LoopDef {
            items,
            loop_var: "item".into(),
            index_var: None,
            label: None,
            pause: 0.0,
            extended: false,
            extended_allitems: true,
            flatten,
            keyword,
            dict_terms: false,
            lookup: None,
            break_when: Vec::new(),
        };
        if let Some(lc) = node.get("loop_control") {
            self.check_keys(
                lc,
                &["loop_var", "index_var", "label", "pause", "extended", "extended_allitems", "break_when"],
                &[],
                "loop_control",
            );
            for (key, slot) in [("extended", &mut def.extended), ("extended_allitems", &mut def.extended_allitems)] {
                let Some(v) = lc.get(key) else { continue };
                match v.scalar_text().as_deref().and_then(crate::args::parse_bool) {
                    Some(b) => *slot = b,
                    None => {
                        self.err(DiagKind::Unsupported, v.span, format!("loop_control.{key} must be a boolean")).help =
                            Some(format!("prov reads loop_control.{key} when it compiles the play: write true or false, not a template"));
                    }
                }
            }
            if let Some(v) = lc.get("loop_var") {
                if let Some(name) = self.loop_name(v, "loop_var", pb, layers) {
                    def.loop_var = name;
                }
            }
            def.index_var = lc.get("index_var").and_then(|v| self.loop_name(v, "index_var", pb, layers));
            if let Some(b) = lc.get("break_when") {
                def.break_when = self.conds(b, pb);
            }
            def.label = lc.get("label").and_then(|l| self.tmpl(l));
            if let Some(p) = lc.get("pause") {
                let secs = match &p.kind {
                    NodeKind::Int(i) => Some(*i as f64),
                    NodeKind::Float(f) => Some(*f),
                    _ => p.scalar_text().and_then(|t| t.trim().parse::<f64>().ok()),
                };
                match secs {
                    Some(s) if s.is_finite() && s >= 0.0 => def.pause = s,
                    _ => {
                        self.err(DiagKind::Unsupported, p.span, "loop_control.pause must be a number of seconds")
                            .help = Some(
                            "prov reads loop_control.pause when it compiles the play: write a number, not a template"
                                .into(),
                        );
                    }
                }
            }
        }
        def
    }

    /// A `loop_var` or `index_var`: a name, or a template rendered now with the play's, the
    /// roles' and the task's variables and -e (ansible-core renders it when the task runs,
    /// with the host's too: one that needs them is refused here).
    fn loop_name(&mut self, v: &Node, key: &str, pb: &PlayBuild, layers: &[Arc<VarMap>]) -> Option<String> {
        let written = v.scalar_text()?;
        if !is_template(&written) {
            return Some(written);
        }
        let mut all = vec![Layer::source(Arc::new(pb.public_defaults.clone())), Layer::source(pb.play_vars.clone())];
        all.push(Layer::source(Arc::new(pb.public_vars.clone())));
        all.extend(layers.iter().map(|l| Layer::source(l.clone())));
        all.push(Layer::source(self.opts.extra_vars.clone()));
        let templar = Arc::new(self.templar.sibling());
        let ctx = Scope::new(templar.clone(), Arc::new(VarMap::new()), all).into_value();
        match templar.compile(&written).and_then(|t| templar.render_defined(&t, &ctx)) {
            Ok(name) if name.as_str().is_some_and(is_identifier) => name.as_str().map(str::to_string),
            Ok(name) => {
                self.err(
                    DiagKind::Invalid,
                    v.span,
                    format!("loop_control.{key} `{written}` renders `{name}`, which is not a variable name"),
                );
                None
            }
            Err(e) => {
                self.err(DiagKind::Unsupported, v.span, format!("loop_control.{key} `{written}`: {e}")).help = Some(
                    "prov names the loop variable when it compiles the play, from the play's, roles' and task's vars \
                     and -e; ansible-core also sees host variables and facts there"
                        .into(),
                );
                None
            }
        }
    }

    /// Module arguments as (name → (value, span)); `None` when malformed (already reported).
    fn module_args(
        &mut self,
        n: &Node,
        free_form: Option<&'static str>,
    ) -> Option<indexmap::IndexMap<String, (Value, Span)>> {
        let mut out = indexmap::IndexMap::new();
        match &n.kind {
            NodeKind::Null => {}
            NodeKind::Map(entries) => {
                for (k, v) in entries {
                    out.insert(k.scalar_text().unwrap_or_default(), (v.to_value(), k.span));
                }
            }
            NodeKind::Str(_) | NodeKind::Unsafe(_) | NodeKind::Int(_) | NodeKind::Float(_) | NodeKind::Bool(_) => {
                let s = n.scalar_text().unwrap_or_default();
                // `command: !unsafe "echo {{ x }}"`: every value read from it stays literal.
                let unsafe_ = matches!(n.kind, NodeKind::Unsafe(_));
                let value = |v: String| if unsafe_ { Value::from_safe_string(v) } else { Value::from(v) };
                match super::kv::parse_kv(&s, free_form.is_some()) {
                    Ok((pairs, rest)) => {
                        for (k, v) in pairs {
                            out.insert(k, (value(v), n.span));
                        }
                        if let Some(rest) = rest.filter(|r| !r.is_empty()) {
                            match free_form {
                                Some(ff) => {
                                    out.insert(ff.to_string(), (value(rest.to_string()), n.span));
                                }
                                None => {
                                    self.err(
                                        DiagKind::Invalid,
                                        n.span,
                                        format!("cannot read `{rest}` as key=value arguments"),
                                    )
                                    .help = Some("write arguments as a mapping or as `key=value key2=value2`".into());
                                    return None;
                                }
                            }
                        }
                    }
                    Err(e) => {
                        self.err(DiagKind::Invalid, n.span, e);
                        return None;
                    }
                }
            }
            NodeKind::Seq(_) => {
                self.err(DiagKind::Invalid, n.span, "module arguments must be a mapping or a `key=value` string");
                return None;
            }
        }
        Some(out)
    }

    /// Whether a task with these tags runs under `--tags`/`--skip-tags`, as ansible-core's
    /// `evaluate_tags` decides: no `--tags` is `--tags all`; an untagged task has the tag
    /// `untagged`; `always` runs unless skipped, `never` only when asked for by a tag the task
    /// has; `--skip-tags all` skips all but `always` (unless that is skipped too). The command
    /// line's tags are stripped, as ansible-core strips them (`--tags "a, b"`).
    fn tags_selected(&self, tags: &BTreeSet<String>) -> bool {
        let mut only: BTreeSet<&str> = self.opts.tags.iter().map(|t| t.trim()).collect();
        if only.is_empty() {
            only.insert("all");
        }
        let skip: BTreeSet<&str> = self.opts.skip_tags.iter().map(|t| t.trim()).collect();
        let tags: BTreeSet<&str> =
            if tags.is_empty() { BTreeSet::from(["untagged"]) } else { tags.iter().map(String::as_str).collect() };
        let untagged = tags.len() == 1 && tags.contains("untagged");
        let meets = |set: &BTreeSet<&str>| tags.iter().any(|t| set.contains(t));
        let run = tags.contains("always")
            || (only.contains("all") && !tags.contains("never"))
            || meets(&only)
            || (only.contains("tagged") && !untagged && !tags.contains("never"));
        if !run || skip.is_empty() {
            return run;
        }
        if skip.contains("all") {
            return tags.contains("always") && !skip.contains("always");
        }
        !(meets(&skip) || (skip.contains("tagged") && !untagged))
    }

    /// Renders the templated tags of the play's tasks (and of the dynamic includes they come
    /// through), as ansible-core's `evaluate_tags` does before it chooses: with the play's
    /// variables (public role defaults, play vars and vars_files, public role vars, -e), and
    /// for a task a dynamic include brings in, the include's role and vars too; never with the
    /// host's variables or facts, which are undefined there (ansible-core fails the play). A
    /// template that renders a list gives each item as a tag. Handlers are not chosen by tags,
    /// and ansible-core does not render theirs.
    fn render_tags(&mut self, tasks: &mut [Arc<TaskDef>], play: &PlayLayers) {
        let selecting = !self.opts.tags.is_empty() || !self.opts.skip_tags.is_empty();
        let templar = Arc::new(self.templar.sibling());
        let mut reported = HashSet::new();
        for t in tasks.iter_mut() {
            let templated = |set: &BTreeSet<String>| set.iter().any(|s| is_template(s));
            if t.handler || !(templated(&t.tags) || t.gates.iter().any(templated)) {
                continue;
            }
            let Some(td) = Arc::get_mut(t) else { continue };
            let mut layers = vec![Layer::source(play.defaults.clone())];
            let included = !td.gates.is_empty();
            if let (true, Some(role)) = (included, &td.role) {
                layers.push(Layer::source(role.defaults.clone()));
            }
            layers.push(Layer::source(play.vars.clone()));
            layers.push(Layer::source(play.role_vars.clone()));
            if included {
                layers.extend(td.vars.iter().chain(&td.params).map(|v| Layer::source(v.clone())));
            }
            layers.push(Layer::source(self.opts.extra_vars.clone()));
            let ctx = Scope::new(templar.clone(), Arc::new(VarMap::new()), layers).into_value();
            let span = td.span;
            let mut render = |set: &BTreeSet<String>, diags: &mut Vec<Diagnostic>| -> BTreeSet<String> {
                let mut out = BTreeSet::new();
                for tag in set {
                    if !is_template(tag) {
                        out.insert(tag.clone());
                        continue;
                    }
                    let rendered = templar.compile(tag).and_then(|c| templar.render_defined(&c, &ctx));
                    let v = match rendered {
                        Ok(v) => v,
                        Err(e) => {
                            if reported.insert((tag.clone(), e.clone())) {
                                let mut d = Diagnostic::error(DiagKind::Template, span, format!("tag `{tag}`: {e}"));
                                d.help = Some(
                                    "ansible-core renders tags before the play runs, with the play's vars, role defaults \
                                     and -e (and an include's vars), not with host variables or facts"
                                        .into(),
                                );
                                diags.push(d);
                            }
                            continue;
                        }
                    };
                    let items: Vec<Value> = match v.kind() {
                        minijinja::value::ValueKind::Seq => v.try_iter().map(Iterator::collect).unwrap_or_default(),
                        _ => vec![v],
                    };
                    for item in items {
                        if let Some(text) = item.as_str() {
                            out.insert(text.to_string());
                            continue;
                        }
                        // ansible-core keeps a tag that is not text as it is, and no tag of the
                        // command line (text) matches it: refused when tags choose, as an
                        // integer tag written out is.
                        if selecting && reported.insert((tag.clone(), String::new())) {
                            diags.push(Diagnostic::error(
                                DiagKind::Invalid,
                                span,
                                format!(
                                    "tag `{tag}` renders a Python {}, which never matches --tags or --skip-tags in \
                                     ansible-core; prov refuses it when they choose tasks",
                                    crate::template::python_type(&item)
                                ),
                            ));
                        }
                        out.insert(crate::template::filters::py_str(&item));
                    }
                }
                out
            };
            let mut diags = Vec::new();
            td.gates = td.gates.iter().map(|g| render(g, &mut diags)).collect();
            // The tasks of an include that is not chosen are never rendered in ansible-core.
            if diags.is_empty() && td.gates.iter().all(|g| self.tags_selected(g)) {
                td.tags = render(&td.tags, &mut diags);
            }
            for d in diags {
                self.diags.push(d);
            }
        }
    }

    /// Marks the tasks `--tags`/`--skip-tags` (and `--only-modules`) select.
    fn select_tags(&self, tasks: &mut [Arc<TaskDef>]) {
        let by_tags = |tags: &BTreeSet<String>| self.tags_selected(tags);
        for t in tasks.iter_mut() {
            let selected = t.handler
                || (t.gates.iter().all(&by_tags)
                    && by_tags(&t.tags)
                    && (self.opts.only_modules.is_empty() || self.opts.only_modules.iter().any(|m| m == t.module)));
            if let Some(td) = Arc::get_mut(t) {
                td.selected = selected;
            }
        }
    }

    /// The names an `include_vars` task defines, when they can be known before the run: its
    /// `name`, or the top-level keys of a literal file found where the task will look.
    fn note_included_names(&mut self, args: &Value, c: &Inherit) {
        let arg = |k: &str| args.get_attr(k).ok().and_then(|v| v.as_str().map(str::to_string));
        if let Some(n) = arg("name") {
            self.known.insert(n);
            return;
        }
        let Some(file) = arg("_raw_params").or_else(|| arg("file")).filter(|f| !is_template(f)) else {
            self.unknown_names = true;
            return;
        };
        let found = c
            .search_dirs
            .iter()
            .flat_map(|d| [d.join("vars").join(&file), d.join(&file)])
            .chain([PathBuf::from(&file)])
            .find(|p| p.is_file());
        let keys = found.and_then(|p| std::fs::read_to_string(p).ok()).and_then(|text| {
            let (docs, _) = yaml::parse(crate::source::FileId(u32::MAX), &text).ok()?;
            let doc = docs.into_iter().next()?;
            Some(doc.as_map()?.iter().filter_map(|(k, _)| k.scalar_text()).collect::<Vec<_>>())
        });
        match keys {
            Some(keys) => self.known.extend(keys),
            None => self.unknown_names = true,
        }
    }

    /// Reports variables that no inventory, play, role, task, register, set_fact or `-e` defines.
    fn check_undefined(&mut self, plays: &[CompiledPlay]) {
        if self.unknown_names {
            return;
        }
        for play in plays {
            for t in &play.tasks {
                // (text, where, read only when the task runs past its `when`)
                let mut strings: Vec<(String, Span, bool)> =
                    t.arg_templates.iter().map(|(s, p)| (s.clone(), *p, true)).collect();
                strings.extend(t.when.iter().flat_map(|c| c.templates().map(|s| (s, c.span, false))));
                strings.extend(t.keyword_templates.iter().map(|(s, p)| (s.clone(), *p, false)));
                // `when: x is defined` (or `undefined`, `not defined`) guards the whole task.
                let guarded: std::collections::BTreeSet<String> = t
                    .when
                    .iter()
                    .filter(|c| c.source.contains("defined"))
                    .flat_map(|c| c.templates())
                    .filter_map(|s| self.templar.referenced(&s).ok())
                    .flatten()
                    .collect();
                let mut reported = std::collections::BTreeSet::new();
                for (s, span, after_when) in strings.iter().filter(|(s, _, _)| is_template(s)) {
                    if s.contains("is defined")
                        || s.contains("is not defined")
                        || s.contains("is undefined")
                        || s.contains("default(")
                        || s.contains("d(")
                        || s.contains("| default")
                        || s.contains("|default")
                    {
                        continue;
                    }
                    let Ok(names) = self.templar.referenced(s) else { continue };
                    for n in names {
                        if self.known.contains(&n)
                            || guarded.contains(&n)
                            || n.starts_with("ansible_")
                            || t.vars.iter().chain(&t.params).any(|v| v.contains_key(&n))
                        {
                            continue;
                        }
                        if t.role.as_ref().is_some_and(|r| r.defaults.contains_key(&n))
                            || play.vars.contains_key(&n)
                            || !reported.insert(n.clone())
                        {
                            continue;
                        }
                        let known: Vec<&str> = self.known.iter().map(String::as_str).collect();
                        let at = if span.is_real() { *span } else { t.span };
                        // A task with a condition may never run, and ansible-core fails only a
                        // task that runs: a warning, and the task fails there if it does.
                        if (!t.when.is_empty() || t.guarded) && *after_when {
                            self.diags.push(Diagnostic::warning(
                                at,
                                format!(
                                    "undefined variable `{n}` in task `{}`: the task is under a condition, and fails if it runs",
                                    t.name
                                ),
                            ));
                            continue;
                        }
                        self.diags.push(
                            Diagnostic::error(
                                DiagKind::Undefined,
                                at,
                                format!("undefined variable `{n}` in task `{}`", t.name),
                            )
                            .with_opt_help(did_you_mean(&n, known).or_else(|| {
                                Some(
                                    "define it in vars, group_vars/host_vars, a role's defaults, or pass it with -e"
                                        .into(),
                                )
                            })),
                        );
                    }
                }
            }
        }
    }

    /// Ansible re-reads the inventory at `meta: refresh_inventory` and changes it at `add_host`
    /// and `group_by` at once; prov when the play ends. A later task of the same play that reads
    /// what the change could alter would see the old inventory, so it is refused: `groups`,
    /// `group_names`, `hostvars`, the variables of groups (a host that joins a group gets them;
    /// after a refresh, every inventory variable), through play and role variables that read
    /// them too, and any `template` task (its file may read them).
    fn check_reads_after_refresh(&mut self, program: &[Step], handlers: &[TaskId], tasks: &[Arc<TaskDef>]) {
        let mut order = Vec::new();
        flatten_steps(program, &mut order);
        order.extend(handlers.iter().copied());
        let changes_inventory = |t: &TaskDef| {
            t.selected && (t.meta == Some(MetaAction::RefreshInventory) || matches!(t.module, "add_host" | "group_by"))
        };
        let Some(first) = order.iter().position(|&t| tasks.get(t).is_some_and(|t| changes_inventory(t))) else {
            return;
        };
        let refresh_span = tasks[order[first]].span;
        let refresh = tasks[order[first]].meta == Some(MetaAction::RefreshInventory);
        let what = match tasks[order[first]].module {
            m @ ("add_host" | "group_by") => format!("`{m}`"),
            _ => "`meta: refresh_inventory`".to_string(),
        };
        let mut sensitive: BTreeSet<String> = ["groups", "group_names", "hostvars"].map(String::from).into();
        let group_vars = self.inventory.group_var_names();
        sensitive.extend(
            group_vars.filter(|(g, _)| refresh || !matches!(*g, "all" | "ungrouped")).map(|(_, k)| k.to_string()),
        );
        // The variables add_host gives a host (one of this play's, perhaps) change at once in
        // ansible-core; keys that are not known (a templated argument) could be any.
        let mut any_host_var = false;
        for &id in &order[first..] {
            let t = &tasks[id];
            if t.module != "add_host" {
                continue;
            }
            // A host the inventory does not have yet is none of this play's: its variables
            // change nothing here.
            let name =
                ["name", "hostname", "host"].iter().find_map(|k| t.args.get_attr(k).ok().filter(|v| !v.is_undefined()));
            if let Some(n) = name.as_ref().and_then(|n| n.as_str()) {
                let host = n.split(':').next().unwrap_or(n);
                if !is_template(n) && self.inventory.host(host).is_none() {
                    continue;
                }
            }
            match t.args.try_iter() {
                Ok(keys) => {
                    for k in keys.filter_map(|k| k.as_str().map(str::to_string)) {
                        if !matches!(k.as_str(), "name" | "hostname" | "groupname" | "groups" | "_raw_params") {
                            sensitive.insert(k);
                        }
                    }
                    if t.args.get_attr("_raw_params").is_ok_and(|v| !v.is_undefined()) {
                        any_host_var = true;
                    }
                }
                Err(_) => any_host_var = true,
            }
        }
        // After a refresh every inventory variable may differ.
        if refresh || any_host_var {
            sensitive.extend(self.inventory.host_var_names().map(|(_, k)| k.to_string()));
        }
        // A connection variable (`ansible_become`, `ansible_user`, ...) that could change
        // changes how every later task runs: all of them are refused.
        let connection = sensitive.iter().find(|n| n.starts_with("ansible_")).cloned();
        // Play and role variables read lazily: one that reads a sensitive name is one too.
        loop {
            let more: Vec<String> = self
                .var_templates
                .iter()
                .filter(|(k, _)| !sensitive.contains(*k))
                .filter(|(_, ts)| {
                    ts.iter().filter_map(|s| self.templar.referenced(s).ok()).flatten().any(|n| sensitive.contains(&n))
                })
                .map(|(k, _)| k.clone())
                .collect();
            if more.is_empty() {
                break;
            }
            sensitive.extend(more);
        }
        for &id in &order[first + 1..] {
            let t = &tasks[id];
            let mut strings: Vec<String> = t.arg_templates.iter().map(|(s, _)| s.clone()).collect();
            let conds = t.when.iter().chain(t.changed_when.iter().flatten()).chain(t.failed_when.iter().flatten());
            strings.extend(conds.chain(t.until.iter().flat_map(|u| &u.conds)).flat_map(|c| c.templates()));
            if let Some(LoopDef { items: LoopItems::Template(tm), .. }) = &t.loop_ {
                if let crate::template::Tmpl::Expr(_, src) = tm.inner() {
                    strings.push(format!("{{{{ {src} }}}}"));
                }
            }
            // Bare expressions: assert's `that`, debug's `var`.
            let bare = match t.module {
                "assert" => t.args.get_attr("that").ok(),
                "debug" => t.args.get_attr("var").ok(),
                _ => None,
            };
            if let Some(v) = bare {
                let list: Vec<minijinja::Value> = match v.as_str() {
                    Some(_) => vec![v.clone()],
                    None => v.try_iter().map(|it| it.collect()).unwrap_or_default(),
                };
                strings.extend(list.iter().filter_map(|e| e.as_str()).map(|e| format!("{{{{ {e} }}}}")));
            }
            for vs in t.vars.iter().flat_map(|m| m.values()) {
                let mut found = Vec::new();
                collect_strings(vs, &mut found);
                strings.extend(found);
            }
            let read = strings
                .iter()
                .filter_map(|s| self.templar.referenced(s).ok())
                .flatten()
                .find(|n| sensitive.contains(n))
                .map(|n| format!("reads `{n}`"))
                .or_else(|| connection.as_ref().map(|c| format!("may run with another `{c}`")))
                .or_else(|| (t.module == "template").then(|| "renders a template (it may read them)".to_string()));
            if let Some(read) = read {
                let at = self.sources.location(refresh_span);
                self.err(
                    DiagKind::Unsupported,
                    t.span,
                    format!("task `{}` {read} after {what} ({at}) in the same play", t.name),
                )
                .help = Some(
                    "prov changes the inventory when the play ends (Ansible at once), so groups, group variables and \
                     hostvars keep their old values in this play: move this task to a following play"
                        .into(),
                );
            }
        }
    }

    /// Template strings inside the definitions of `name` (for data-edge analysis).
    #[allow(dead_code)]
    fn templates_of_var(&self, name: &str) -> &[String] {
        self.var_templates.get(name).map(Vec::as_slice).unwrap_or(&[])
    }
}

/// The handlers a notification runs, as in Ansible: the last handler (in the play's handler
/// order) with that name, and every handler listening to it (the last one of each name).
fn notified_handlers(pb: &PlayBuild, rank: &HashMap<TaskId, usize>, name: &str) -> Vec<TaskId> {
    let mut matching: Vec<(TaskId, HandlerKey)> =
        pb.handler_names.iter().filter(|(n, _, _)| n == name).map(|(_, id, k)| (*id, *k)).collect();
    matching.sort_by_key(|(id, _)| rank.get(id).copied().unwrap_or(usize::MAX));
    // ansible-core looks through the handler blocks from the last and takes the first handler
    // of that name in the block it finds one in.
    let by_name: Vec<TaskId> = matching.iter().filter(|(_, k)| *k == HandlerKey::Name).map(|(id, _)| *id).collect();
    let block = |id: &TaskId| pb.handler_blocks.get(id).copied();
    let last_block = by_name.last().and_then(block);
    let mut out: Vec<TaskId> = by_name.iter().find(|id| block(id) == last_block).copied().into_iter().collect();
    if out.is_empty() {
        out.extend(matching.iter().filter(|(_, k)| *k == HandlerKey::File).map(|(id, _)| *id));
    }
    for (id, _) in matching.iter().filter(|(_, k)| *k == HandlerKey::FileListen) {
        if !out.contains(id) {
            out.push(*id);
        }
    }
    let mut seen = HashSet::new();
    for (id, _) in matching.iter().rev().filter(|(_, k)| *k == HandlerKey::Listen) {
        let handler_name = pb.tasks.get(*id).map(|t| t.name.clone()).unwrap_or_default();
        if seen.insert(handler_name) && !out.contains(id) {
            out.push(*id);
        }
    }
    out
}

/// The `include_role`/`import_role` options prov supports.
const ROLE_INCLUDE_OPTIONS: &[&str] = &["name", "tasks_from", "vars_from", "defaults_from", "handlers_from"];

/// Which files of a role `include_role`/`import_role` load instead of `main` (`tasks_from`,
/// `vars_from`, `defaults_from`, `handlers_from`).
#[derive(Debug, Clone, Default)]
struct RoleFrom {
    tasks: Option<String>,
    vars: Option<String>,
    defaults: Option<String>,
    handlers: Option<String>,
}

/// A role's file `sub/name` as ansible-core finds it: the name as written, else with `.yml`,
/// `.yaml` or `.json`.
fn role_file(role: &Path, sub: &str, name: &str) -> Option<PathBuf> {
    let base = role.join(sub);
    ["", ".yml", ".yaml", ".json"].iter().map(|ext| base.join(format!("{name}{ext}"))).find(|p| p.is_file())
}

/// Ansible's `include_role`/`import_role` options prov does not support yet.
const ROLE_INCLUDE_UNSUPPORTED: &[&str] = &["role", "public", "allow_duplicates", "rolespec_validate"];

fn entries_have_module(entries: &[(Node, Node)], registry: &Registry) -> bool {
    entries.iter().any(|(k, _)| k.as_str().is_some_and(|s| registry.get(s).is_some() || is_meta_key(s)))
}

/// The entry of an action that the compiler handles itself (`include_tasks`, ...), under its
/// short name or with the `ansible.builtin.` / `ansible.legacy.` prefix Ansible accepts:
/// the key as written and its value.
fn action_entry<'n>(node: &'n Node, short: &str) -> Option<(String, &'n Node)> {
    [short.to_string(), format!("ansible.builtin.{short}"), format!("ansible.legacy.{short}")]
        .into_iter()
        .find_map(|k| node.get(&k).map(|v| (k, v)))
}

/// `meta`, and its names with a collection prefix.
fn is_meta_key(key: &str) -> bool {
    matches!(key, "meta" | "ansible.builtin.meta" | "ansible.legacy.meta")
}

/// A valid variable name, as ansible-core's `validate_variable_name` decides: a Python
/// identifier of ASCII letters, digits and `_`, and not a name Jinja reserves (`true`,
/// `none`, `not`...).
pub fn is_identifier(s: &str) -> bool {
    is_python_name(s) && !["true", "false", "none", "True", "False", "None", "not"].contains(&s)
}

/// A Python identifier of ASCII letters, digits and `_` (what ansible-core takes as an
/// extra var's name, where it does not check for Jinja's reserved names).
pub fn is_python_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn seq_or_one(n: &Node) -> Vec<&Node> {
    match &n.kind {
        NodeKind::Seq(items) => items.iter().collect(),
        NodeKind::Null => Vec::new(),
        _ => vec![n],
    }
}

/// A task's `environment` over its block's and play's: ansible-core keeps all of them, outer
/// first, and the inner ones win key by key when the task runs (a list, read in order).
fn env_chain(outer: Option<Value>, inner: Option<Value>) -> Option<Value> {
    match (outer, inner) {
        (Some(o), Some(i)) => Some(Value::from(vec![o, i])),
        (o, i) => i.or(o),
    }
}

/// assert's `that` as the module evaluates it: condition strings kept as written (never
/// rendered as templates before), unless the whole value is one template.
fn raw_conditions(v: &Value) -> Value {
    if let Some(s) = v.as_str() {
        return if v.is_safe() || crate::template::single_expression(s.trim()).is_some() {
            v.clone()
        } else {
            Value::from_safe_string(s.to_string())
        };
    }
    match v.try_iter() {
        Ok(items) if v.kind() == minijinja::value::ValueKind::Seq => Value::from(
            items
                .map(|i| if i.as_str().is_some() && !i.is_safe() { Value::from_safe_string(i.to_string()) } else { i })
                .collect::<Vec<_>>(),
        ),
        _ => v.clone(),
    }
}

/// The `hostvars[...]` reads of a task (`args`: its argument strings): in its arguments,
/// conditions (`when`, `changed_when`, `failed_when`, `until`), loop, `vars`, `environment`
/// and templated keywords, and in the file a `template` task renders (found where the task
/// will look for it, when its name is no template).
fn hostvars_reads_of(t: &TaskDef, args: &[String]) -> Vec<HostvarsRead> {
    let mut strings: Vec<String> = args.to_vec();
    strings.extend(t.keyword_templates.iter().map(|(s, _)| s.clone()));
    let conds = t.when.iter().chain(t.changed_when.iter().flatten()).chain(t.failed_when.iter().flatten());
    strings.extend(conds.chain(t.until.iter().flat_map(|u| &u.conds)).map(|c| c.source.to_string()));
    match t.loop_.as_ref().map(|l| &l.items) {
        Some(LoopItems::Template(tm)) => match tm.inner() {
            crate::template::Tmpl::Expr(_, src) => strings.push(src.to_string()),
            crate::template::Tmpl::Text(tm) => strings.push(tm.source().to_string()),
            _ => {}
        },
        Some(LoopItems::List(v)) => collect_strings(v, &mut strings),
        _ => {}
    }
    for v in t.vars.iter().flat_map(|m| m.values()).chain(t.environment.as_ref()) {
        collect_strings(v, &mut strings);
    }
    if t.module == "template" {
        let src = t.args.get_attr("src").ok().and_then(|v| v.as_str().map(str::to_string));
        let file = src.filter(|f| !is_template(f)).and_then(|f| {
            t.search_dirs
                .iter()
                .flat_map(|d| [d.join("templates").join(&f), d.join(&f)])
                .chain([PathBuf::from(&f)])
                .find(|p| p.is_file())
        });
        if let Some(text) = file.and_then(|p| std::fs::read_to_string(p).ok()) {
            strings.push(text);
        }
    }
    let mut reads = Vec::new();
    for s in &strings {
        scan::hostvars_reads(s, &mut reads);
    }
    reads
}

/// Every string inside a value.
pub fn collect_strings(v: &Value, out: &mut Vec<String>) {
    if let Some(s) = v.as_str() {
        out.push(s.to_string());
        return;
    }
    match v.kind() {
        minijinja::value::ValueKind::Seq | minijinja::value::ValueKind::Map => {
            let is_map = v.kind() == minijinja::value::ValueKind::Map;
            if let Ok(it) = v.try_iter() {
                for item in it {
                    if is_map {
                        if let Some(k) = item.as_str() {
                            out.push(k.to_string());
                        }
                        if let Ok(val) = v.get_item(&item) {
                            collect_strings(&val, out);
                        }
                    } else {
                        collect_strings(&item, out);
                    }
                }
            }
        }
        _ => {}
    }
}

/// A role's `defaults`/`vars` files: `main.yml` (or `.yaml`, `.json`, no extension), or
/// every YAML/JSON file under a `main/` directory in name order, as ansible-core reads them.
fn role_var_files(role: &Path, sub: &str) -> Vec<PathBuf> {
    let base = role.join(sub);
    let dir = base.join("main");
    if dir.is_dir() {
        let mut files = Vec::new();
        let mut stack = vec![dir];
        while let Some(d) = stack.pop() {
            let Ok(rd) = std::fs::read_dir(&d) else { continue };
            for e in rd.flatten() {
                let p = e.path();
                if p.is_dir() {
                    stack.push(p);
                } else if p.extension().is_some_and(|x| x == "yml" || x == "yaml" || x == "json") {
                    files.push(p);
                }
            }
        }
        files.sort();
        return files;
    }
    ["main.yml", "main.yaml", "main.json", "main"]
        .iter()
        .map(|f| base.join(f))
        .filter(|p| p.is_file())
        .take(1)
        .collect()
}

/// `p` absolute, with `.` dropped and `..` taking off the part before it (without reading
/// links: Python's `os.path.normpath`).
fn normalized(p: &Path) -> PathBuf {
    let p = if p.as_os_str().is_empty() { Path::new(".") } else { p };
    let abs = std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    let mut out = PathBuf::new();
    for part in abs.components() {
        match part {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// The variables of a task below the play's, lowest first: its role's defaults, then the vars
/// of its role, blocks and includes.
fn name_layers(c: &Inherit) -> Vec<Arc<VarMap>> {
    let defaults = c.role.iter().map(|r| r.defaults.clone());
    defaults.chain(c.vars.iter().cloned()).chain(c.params.iter().cloned()).collect()
}

/// A dynamic include: its tags (its own and inherited) decide whether it runs, and the
/// tasks it brings in inherit only what the include inherited, not its own tags.
fn gate(c: &mut Inherit, outer: &Inherit) {
    c.gates.push(c.tags.clone());
    c.tags = outer.tags.clone();
}

/// The task keywords a task may set to `{{ omit }}`, which ansible-core reads as not set
/// (the value is inherited from the block or play). On a block or play the same value fails
/// the task ("could not be converted to 'bool'"), which prov refuses at compile time.
const OMITTABLE: &[&str] = &["become", "check_mode", "ignore_errors", "no_log", "run_once", "delegate_facts"];

/// `node` without its [`OMITTABLE`] keywords whose value is `{{ omit }}`; `None` when it has none.
fn without_omitted_keywords(node: &Node) -> Option<Node> {
    let is_omit =
        |v: &Node| v.as_str().and_then(crate::template::single_expression).is_some_and(|e| e.trim() == "omit");
    let entries = node.as_map()?;
    let omitted = |(k, v): &&(Node, Node)| k.as_str().is_some_and(|k| OMITTABLE.contains(&k)) && is_omit(v);
    if !entries.iter().any(|e| omitted(&e)) {
        return None;
    }
    let kept = entries.iter().filter(|e| !omitted(e)).cloned().collect();
    Some(Node { span: node.span, kind: NodeKind::Map(kept) })
}

/// What a dynamic include (`include_tasks`, `include_role`) keeps for itself, as ansible-core
/// does: its own `when` is evaluated once, when it is reached, and its `ignore_errors` and
/// `no_log` are about the include; the tasks it brings keep what the include inherited.
fn not_passed_down(inner: &mut Inherit, outer: &Inherit) {
    inner.when = outer.when.clone();
    inner.ignore_errors = outer.ignore_errors.clone();
    inner.no_log = outer.no_log.clone();
    vars_as_params(inner, outer);
}

/// The `vars` an include added on top of what it inherited are include params for the
/// tasks it brings in: above `set_fact` and `include_vars` (ansible-core's precedence).
fn vars_as_params(inner: &mut Inherit, outer: &Inherit) {
    let own: Vec<_> = inner.vars.drain(outer.vars.len().min(inner.vars.len())..).collect();
    inner.params.extend(own);
}

/// The most roles one play loads, each dependency counted where it is pulled in (they
/// repeat: a role that many roles depend on is loaded under each).
const MAX_ROLE_LOADS: usize = 4096;

/// Modules whose ansible-core action plugin does not support `async` ("This action (X) does
/// not support async.").
const NO_ASYNC: &[&str] = &[
    "copy",
    "template",
    "fetch",
    "unarchive",
    "script",
    "raw",
    "debug",
    "set_fact",
    "assert",
    "fail",
    "include_vars",
    "add_host",
    "group_by",
    "pause",
    "reboot",
    "wait_for_connection",
];

/// The most task files one play loads, each include counted where it is.
const MAX_FILE_LOADS: usize = 2048;

/// A YAML value as text that is the same for equal values (mapping keys sorted), to tell
/// role entries apart as ansible-core compares them.
fn canonical(n: &Node) -> String {
    match &n.kind {
        NodeKind::Map(entries) => {
            let mut parts: Vec<String> =
                entries.iter().map(|(k, v)| format!("{}:{}", canonical(k), canonical(v))).collect();
            parts.sort();
            format!("{{{}}}", parts.join(","))
        }
        NodeKind::Seq(items) => format!("[{}]", items.iter().map(canonical).collect::<Vec<_>>().join(",")),
        _ => format!("{:?}", n.to_value()),
    }
}

/// The most files a templated include name may stand for.
const MAX_INCLUDE_CANDIDATES: usize = 64;

/// The task files a templated `include_tasks` name may render to. Its literal text before the
/// first template (`prefix`) and after the last (`suffix`) must fit: under each of `bases`
/// (and a role's own directory, for `{{ role_path }}/tasks/x.yml`), the files whose path
/// starts with the prefix and ends with the suffix, as deep as those parts have
/// directories plus one. Without an extension in the suffix, only `.yml` and `.yaml` files.
fn include_candidates(file: &str, bases: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let open = ["{{", "{%", "{#"].iter().filter_map(|m| file.find(m)).min().unwrap_or(0);
    let close = ["}}", "%}", "#}"].iter().filter_map(|m| file.rfind(m).map(|i| i + 2)).max().unwrap_or(file.len());
    let (prefix, suffix) = (&file[..open], &file[close..]);
    let (mut roots, rel_prefix) = match prefix.rfind('/') {
        Some(i) if prefix.starts_with('/') => (vec![PathBuf::from(&prefix[..=i])], &prefix[i + 1..]),
        _ => (bases.to_vec(), prefix),
    };
    if !prefix.starts_with('/') {
        // `{{ role_path }}/tasks/x.yml`: the role's directory is the parent of `tasks/`.
        if let Some(role) = bases.first().filter(|b| b.ends_with("tasks")).and_then(|b| b.parent()) {
            roots.push(role.to_path_buf());
        }
    }
    let depth = 2 + rel_prefix.matches('/').count() + suffix.matches('/').count();
    let want_ext = !suffix.rsplit('/').next().unwrap_or_default().contains('.');
    let mut out: Vec<PathBuf> = Vec::new();
    let mut seen = HashSet::new();
    for root in roots {
        let mut found = Vec::new();
        walk_files(&root, "", depth, &mut found);
        for rel in found {
            let slashed = format!("/{rel}");
            let fits = rel.starts_with(rel_prefix) && (rel.ends_with(suffix) || slashed.ends_with(suffix));
            let ext_ok = !want_ext || rel.ends_with(".yml") || rel.ends_with(".yaml");
            if !fits || !ext_ok {
                continue;
            }
            let path = root.join(&rel);
            if seen.insert(path.canonicalize().unwrap_or_else(|_| path.clone())) {
                out.push(path);
            }
        }
    }
    if out.len() > MAX_INCLUDE_CANDIDATES {
        return Err(format!(
            "`{file}` may name any of {} files (prov compiles them all before the run; at most {MAX_INCLUDE_CANDIDATES})",
            out.len()
        ));
    }
    Ok(out)
}

/// The files under `dir`, as paths relative to it (`rel` so far), down to `depth` levels;
/// hidden entries left out, in name order.
fn walk_files(dir: &Path, rel: &str, depth: usize, out: &mut Vec<String>) {
    if depth == 0 {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let mut names: Vec<(String, bool)> = entries
        .filter_map(Result::ok)
        .filter_map(|e| Some((e.file_name().into_string().ok()?, e.path().is_dir())))
        .filter(|(n, _)| !n.starts_with('.'))
        .collect();
    names.sort();
    for (name, is_dir) in names {
        let path = if rel.is_empty() { name.clone() } else { format!("{rel}/{name}") };
        if is_dir {
            walk_files(&dir.join(&name), &path, depth - 1, out);
        } else {
            out.push(path);
        }
    }
}

/// Drops unselected tasks and empty blocks.
fn prune(steps: &[Step], tasks: &[Arc<TaskDef>]) -> Vec<Step> {
    let mut out = Vec::new();
    for s in steps {
        match s {
            Step::Task(id) => {
                if tasks.get(*id).is_some_and(|t| t.selected) {
                    out.push(Step::Task(*id));
                }
            }
            Step::Block { body, rescue, always } => {
                let (b, r, a) = (prune(body, tasks), prune(rescue, tasks), prune(always, tasks));
                if !(b.is_empty() && a.is_empty()) {
                    out.push(Step::Block { body: b, rescue: r, always: a });
                }
            }
            Step::Include { task, bases, options } => {
                // Left out by tags, the include does not run, nor anything in its file.
                if tasks.get(*task).is_some_and(|t| t.selected) {
                    let options = options.iter().map(|(p, steps)| (p.clone(), prune(steps, tasks))).collect();
                    out.push(Step::Include { task: *task, bases: bases.clone(), options });
                }
            }
            Step::FlushHandlers => {
                if out.last().is_none_or(|l| !matches!(l, Step::FlushHandlers)) {
                    out.push(Step::FlushHandlers);
                }
            }
            Step::Role { key, steps } => {
                let steps = prune(steps, tasks);
                if !steps.is_empty() {
                    out.push(Step::Role { key: key.clone(), steps });
                }
            }
        }
    }
    out
}
