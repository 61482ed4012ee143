//! The compiled form of a playbook: flat task tables plus a small program per play.

use crate::connection::Become;
use crate::source::Span;
use crate::template::Tmpl;
use crate::vars::VarMap;
use minijinja::Value;
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;

/// A whole playbook, compiled (host-independent).
#[derive(Debug)]
pub struct CompiledPlaybook {
    /// Playbook file.
    pub path: PathBuf,
    /// Directory of the playbook (`playbook_dir`).
    pub dir: PathBuf,
    /// Plays in order.
    pub plays: Vec<CompiledPlay>,
}

/// How hosts move through a play.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// prov's dataflow walk, opt-in (`strategy: dag`): each host runs its tasks as fast as
    /// it can; only data dependencies, `run_once`, `delegate_to` and `serial` make hosts wait.
    Dag,
    /// Like `Dag` (Ansible's `free`).
    Free,
    /// Every task waits for the previous task on all hosts of the batch (Ansible's default
    /// `linear`, and prov's).
    Linear,
}

/// `serial:` batch sizes.
#[derive(Debug, Clone, PartialEq)]
pub enum BatchSize {
    /// A number of hosts.
    Count(usize),
    /// A percentage of the play's hosts.
    Percent(f64),
}

/// One play.
#[derive(Debug)]
pub struct CompiledPlay {
    /// Display name.
    pub name: String,
    /// The directory of the playbook file the play is in (an imported playbook's own):
    /// `playbook_dir` and where relative paths start, as ansible-core's loader basedir.
    pub dir: std::path::PathBuf,
    /// Where the play starts.
    pub span: Span,
    /// Host pattern (already validated).
    pub hosts: String,
    /// Span of the pattern.
    pub hosts_span: Span,
    /// Play vars + vars_files, merged.
    pub vars: Arc<VarMap>,
    /// Gather facts before the first task.
    pub gather_facts: GatherFacts,
    /// `gather_subset` (checked against `setup`'s subsets at compile time); `None`: `all`.
    pub gather_subset: Option<Vec<String>>,
    /// `gather_timeout` in seconds.
    pub gather_timeout: Option<u64>,
    /// The play's own escalation (`become` of the play or ansible.cfg), which fact gathering
    /// uses, as in Ansible.
    pub become_: Option<Become>,
    /// Strategy.
    pub strategy: Strategy,
    /// `serial` batches (empty = all hosts at once).
    pub serial: Vec<BatchSize>,
    /// `max_fail_percentage`.
    pub max_fail_percentage: Option<f64>,
    /// `any_errors_fatal`.
    pub any_errors_fatal: bool,
    /// The play's `ignore_unreachable`, which fact gathering takes as every task does.
    pub ignore_unreachable: bool,
    /// `order`.
    pub order: HostOrder,
    /// Every task and handler of the play, after expansion; indices are [`TaskId`]s.
    pub tasks: Vec<Arc<TaskDef>>,
    /// What each host runs.
    pub program: Vec<Step>,
    /// Handler task ids, in definition order.
    pub handlers: Vec<TaskId>,
    /// A handler's `include_tasks` (a meta task whose `file` is the path) and the tasks of its
    /// file, which follow it among the handlers and run when it is notified and its `when`
    /// holds, as ansible-core runs the include (reported `included:`, counted once).
    pub handler_files: std::collections::HashMap<TaskId, Vec<TaskId>>,
    /// What each name a handler answers to (its name, role-prefixed name, `listen` topic)
    /// notifies, for the `notify` names rendered at run time (empty when no task has one).
    pub notify_index: std::collections::HashMap<String, Vec<TaskId>>,
    /// The play's `connection` (`local` or `ssh`): for hosts whose inventory sets no
    /// `ansible_connection`.
    pub connection: Option<String>,
    /// The play's `remote_user` (or `user`), maybe a template: for hosts whose inventory sets
    /// no `ansible_user`.
    pub remote_user: Option<String>,
    /// The play's `environment`, which fact gathering runs with.
    pub environment: Option<Value>,
    /// Defaults of the roles of `roles:` and `import_role` (with their dependencies): every
    /// task of the play sees them, below everything else (Ansible without
    /// `private_role_vars`).
    pub role_defaults: Arc<VarMap>,
    /// `vars/main.yml` of the same roles: every task of the play sees them, above play vars.
    pub role_vars: Arc<VarMap>,
    /// `vars_files` read per host (templated names, lists of candidates), by host name: above
    /// the play's `vars`, as ansible-core has them. Empty when every entry is a plain name
    /// (those are in `vars`).
    pub host_vars_files: std::collections::HashMap<String, Arc<VarMap>>,
}

/// The play's `order`: how its hosts are ordered for running (batches, `run_once`'s host,
/// `ansible_play_batch`); `ansible_play_hosts` and `ansible_play_hosts_all` keep the
/// pattern's order, as in ansible-core.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HostOrder {
    /// The pattern's order (`inventory`, the default).
    #[default]
    Inventory,
    /// `reverse_inventory`.
    ReverseInventory,
    /// `sorted`: by name.
    Sorted,
    /// `reverse_sorted`.
    ReverseSorted,
    /// `shuffle`: a random order for each run.
    Shuffle,
}

/// Whether a play gathers facts before its first task, as ansible-core decides it from the
/// play's `gather_facts`, ansible.cfg's `gathering` and the tags asked for (the gathering task
/// is tagged `always`, or with the play's own tags when it has some).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GatherFacts {
    /// On every host of the play (`gathering = implicit`, the default, unless the play says
    /// `gather_facts: false`; `explicit` when it says `true`).
    Yes,
    /// Not at all.
    No,
    /// `gathering = smart`: on the hosts that have no facts from an earlier play of the run.
    Smart,
}

/// Index of a task in [`CompiledPlay::tasks`].
pub type TaskId = usize;

/// The control flow a host follows.
#[derive(Debug, Clone)]
pub enum Step {
    /// Run one task.
    Task(TaskId),
    /// block / rescue / always.
    Block {
        /// The block's tasks.
        body: Vec<Step>,
        /// Run when a task of the body failed.
        rescue: Vec<Step>,
        /// Run in any case.
        always: Vec<Step>,
    },
    /// Run the notified handlers now (`meta: flush_handlers`, and at the end of each section).
    FlushHandlers,
    /// `include_tasks`, which ansible-core evaluates when it reaches it, once per host: its
    /// own `when` decides whether the file runs (the file's tasks do not inherit it), and a
    /// templated file name is rendered then. prov compiles before the run every file the name
    /// can render to (the one named, or the task files beside it whose names fit the
    /// template's literal parts); each host runs the one its rendering names.
    Include {
        /// The include itself (`MetaAction::Include`; `args.file` is the file as written).
        task: TaskId,
        /// Where a relative file name is looked up, in order.
        bases: Vec<PathBuf>,
        /// Each file the name may render to (canonical path) and its compiled tasks.
        options: Vec<(PathBuf, Vec<Step>)>,
    },
    /// A role of `roles:` or a role dependency: its dependencies (nested `Role` steps), then
    /// its tasks. As in ansible-core (roles without `allow_duplicates`), a host that has
    /// completed a role of the same `key` in this play (reached its end after a task of it
    /// ran, not skipped) passes over its tasks silently; each dependency is decided on its
    /// own. ansible-core tells roles apart by name, `vars`, `when` and `tags` of the entry.
    Role {
        /// What tells this role apart from others (see [`RoleCtx::key`]).
        key: Arc<str>,
        /// Its dependencies' `Role` steps, then its tasks.
        steps: Vec<Step>,
    },
}

/// What a `meta:` task does. `when` is evaluated per host for `flush_handlers` and
/// `end_host`; for `end_play`, `end_batch`, `clear_facts` and `clear_host_errors` only by the
/// first host of the batch still in the play that reaches the task, and its answer holds for
/// the batch (Ansible's linear strategy runs these once); `noop` and `refresh_inventory`
/// ignore `when`, as Ansible does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetaAction {
    /// Run the notified handlers now.
    FlushHandlers,
    /// Re-read the inventory sources after this play (the play's own hosts do not change,
    /// as in Ansible).
    RefreshInventory,
    /// Stop this host for the rest of the play, without failing it.
    EndHost,
    /// Stop the play for every host, without failing them.
    EndPlay,
    /// Stop the current `serial` batch (the whole play without `serial`).
    EndBatch,
    /// Nothing.
    Noop,
    /// Close the host's connection; the next task opens a new one (`when` is ignored, as
    /// ansible-core ignores it, with a warning).
    ResetConnection,
    /// Forget the gathered facts of the play's hosts.
    ClearFacts,
    /// Failed and unreachable hosts of the play take part in the following plays again.
    ClearHostErrors,
    /// The rest of the current role is skipped for this host, which completes the role.
    EndRole,
    /// Not written by users: the include of a [`Step::Include`] (counted ok when it runs,
    /// skipped when its `when` is false, as in Ansible).
    Include,
    /// Not written by users: stands for a dynamically included file that names a module
    /// prov does not have. Reached on a host whose `when` holds, it stops the run with exit
    /// 4, the message in `args.msg` (ansible-core stops there: `couldn't resolve
    /// module/action`).
    Unresolved,
}

/// A yes/no keyword that may be a template (`ignore_errors: "{{ ansible_check_mode }}"`),
/// rendered per host when the task runs, as ansible-core does.
#[derive(Debug, Clone)]
pub enum Flag {
    /// Written as a boolean.
    Fixed(bool),
    /// A template, whose result is read as a boolean.
    Template(Tmpl),
}

impl Flag {
    /// The value, when it is not a template.
    pub fn fixed(&self) -> Option<bool> {
        match self {
            Flag::Fixed(b) => Some(*b),
            Flag::Template(_) => None,
        }
    }
}

/// Where loop items come from.
#[derive(Debug, Clone)]
pub enum LoopItems {
    /// `loop: "{{ expr }}"`.
    Template(Tmpl),
    /// `loop: [a, b]` (each item templated when used).
    List(Value),
}

/// How a task loops.
#[derive(Debug, Clone)]
pub struct LoopDef {
    /// The items.
    pub items: LoopItems,
    /// Name of the loop variable (`item`).
    pub loop_var: String,
    /// `loop_control.index_var`.
    pub index_var: Option<String>,
    /// `loop_control.label` (shown instead of the item).
    pub label: Option<Tmpl>,
    /// `loop_control.pause` seconds.
    pub pause: f64,
    /// `loop_control.extended`: `ansible_loop` is defined (with every field) only then.
    pub extended: bool,
    /// `loop_control.extended_allitems` (default true): `ansible_loop.allitems` too.
    pub extended_allitems: bool,
    /// `with_items` flattens one level.
    pub flatten: bool,
    /// The keyword that asked for the loop.
    pub keyword: LoopKeyword,
    /// `with_dict` written as a list of terms: each (a mapping once rendered) gives its
    /// key/value items, as ansible-core's `dict` lookup does.
    pub dict_terms: bool,
    /// `with_<lookup>` for a lookup without a keyword of its own
    /// (`with_community.general.flattened`): the plugin the rendered terms go to.
    pub lookup: Option<String>,
    /// `loop_control.break_when`: after each item, the loop ends when every condition holds
    /// (they see the item and, under the task's `register` name, the item's result).
    pub break_when: Vec<Cond>,
}

/// The keyword of a loop: they differ on values that are not lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoopKeyword {
    /// `loop`: anything but a list fails the task.
    Loop,
    /// `with_items`: a value that is not a list is one item.
    WithItems,
    /// `with_list`: a value that is not a list is one item.
    WithList,
    /// `with_dict`: a mapping, as `key`/`value` items.
    WithDict,
    /// `with_nested`: the `nested` lookup over the terms.
    WithNested,
    /// `with_subelements`: the `subelements` lookup over the terms.
    WithSubelements,
    /// `with_first_found`: the `first_found` lookup over the terms.
    WithFirstFound,
    /// `with_fileglob`: the `fileglob` lookup over the terms.
    WithFileglob,
    /// `with_sequence`: the `sequence` lookup over the terms.
    WithSequence,
    /// `with_together`: the `together` lookup over the terms.
    WithTogether,
    /// `with_indexed_items`: the `indexed_items` lookup over the terms.
    WithIndexedItems,
    /// `with_lines`: the `lines` lookup (commands run on the controller) over the terms.
    WithLines,
    /// `with_<lookup>` of any other lookup prov has ([`LoopDef::lookup`] names it).
    WithLookup,
}

impl LoopKeyword {
    /// Every loop keyword of a task, by its key.
    pub const ALL: &'static [(&'static str, LoopKeyword)] = &[
        ("loop", LoopKeyword::Loop),
        ("with_items", LoopKeyword::WithItems),
        ("with_list", LoopKeyword::WithList),
        ("with_dict", LoopKeyword::WithDict),
        ("with_nested", LoopKeyword::WithNested),
        ("with_subelements", LoopKeyword::WithSubelements),
        ("with_first_found", LoopKeyword::WithFirstFound),
        ("with_fileglob", LoopKeyword::WithFileglob),
        ("with_sequence", LoopKeyword::WithSequence),
        ("with_together", LoopKeyword::WithTogether),
        ("with_indexed_items", LoopKeyword::WithIndexedItems),
        ("with_lines", LoopKeyword::WithLines),
    ];

    /// The lookup plugin of a `with_<lookup>` key that has no keyword of its own, when prov has
    /// that plugin (`with_community.general.flattened`).
    pub fn other_lookup(key: &str) -> Option<&str> {
        let name = key.strip_prefix("with_")?;
        (!Self::ALL.iter().any(|(k, _)| *k == key) && crate::template::filters::lookup_supported(name)).then_some(name)
    }

    /// The lookup plugin a `with_<lookup>` loop queries with its (templated) terms.
    pub fn lookup(self) -> Option<&'static str> {
        match self {
            LoopKeyword::WithNested => Some("nested"),
            LoopKeyword::WithSubelements => Some("subelements"),
            LoopKeyword::WithFirstFound => Some("first_found"),
            LoopKeyword::WithFileglob => Some("fileglob"),
            LoopKeyword::WithSequence => Some("sequence"),
            LoopKeyword::WithTogether => Some("together"),
            LoopKeyword::WithIndexedItems => Some("indexed_items"),
            LoopKeyword::WithLines => Some("lines"),
            _ => None,
        }
    }
}

/// A compiled condition with its source text for messages.
#[derive(Debug, Clone)]
pub struct Cond {
    /// The condition as written (`x == 1`, or `{{ x == 1 }}`).
    pub source: String,
    /// A YAML boolean written as the condition (reported as one in `false_condition`).
    pub boolean: Option<bool>,
    /// Compiled.
    pub expr: crate::template::Condition,
    /// Where.
    pub span: Span,
}

impl Cond {
    /// The templates the condition renders, for the checks that read names: the expression
    /// (as `{{ source }}`, or as written when it is one template) and each embedded template.
    pub fn templates(&self) -> impl Iterator<Item = String> + '_ {
        let whole = if self.expr.wrapped { self.source.clone() } else { format!("{{{{ {} }}}}", self.source) };
        std::iter::once(whole).chain(self.expr.embedded.iter().map(|e| e.text.clone()))
    }
}

/// The role a task comes from.
#[derive(Debug)]
pub struct RoleCtx {
    /// Role name as Ansible shows it (`ansible_role_name`): `NS.COLL.ROLE` for a role of a
    /// collection.
    pub name: String,
    /// The name without its collection (`role_name`).
    pub short_name: String,
    /// Role directory.
    pub path: PathBuf,
    /// `defaults/main.yml`.
    pub defaults: Arc<VarMap>,
    /// The roles whose tasks imported or included this one, nearest first (name, directory):
    /// `ansible_parent_role_names` / `ansible_parent_role_paths`.
    pub parents: Vec<(String, PathBuf)>,
    /// The role's directory, then those of the roles that pulled it in (as a dependency or
    /// from their tasks), nearest first: ansible-core's dependency chain, reversed, as
    /// `ansible_search_path` lists it.
    pub chain: Vec<PathBuf>,
    /// For a role of `roles:` or a dependency, the key of its [`Step::Role`]: a task of it
    /// that runs (not skipped) on a host marks the role as run there. `None` under
    /// `include_role`/`import_role`, which always run their role.
    pub key: Option<Arc<str>>,
}

/// A task's `until`, `retries` and `delay`, as ansible-core's task executor reads them.
#[derive(Debug, Clone)]
pub struct Until {
    /// Every condition must hold; none (`retries` without `until`) is "the task did not fail".
    pub conds: Vec<Cond>,
    /// Runs after the first: `retries`, else 3 with `until`; 0 runs once and checks nothing.
    pub retries: u32,
    /// Seconds between runs (`delay`, 5 by default).
    pub delay: f64,
}

/// One task, with everything inherited from its blocks, role, includes and play.
#[derive(Debug)]
pub struct TaskDef {
    /// Index in the play.
    pub id: TaskId,
    /// Display name (`module` when unnamed).
    pub name: String,
    /// Whether the task has a `name` (an unnamed task's `ansible_failed_task.name` is empty).
    pub named: bool,
    /// Where the task is written.
    pub span: Span,
    /// Module key (short form).
    pub module: &'static str,
    /// Arguments, templated per host at run time.
    pub args: Value,
    /// Template strings of the arguments with the span of the argument they are in.
    pub arg_templates: Vec<(String, Span)>,
    /// Templates of keywords read whenever a host reaches the task, before `when` (`run_once`).
    pub keyword_templates: Vec<(String, Span)>,
    /// The task is in a dynamic include that may not run (it has a `when`, or its file name is
    /// a template): an undefined name in its arguments only fails it if it runs.
    pub guarded: bool,
    /// Conditions (all must hold).
    pub when: Vec<Cond>,
    /// Loop.
    pub loop_: Option<LoopDef>,
    /// `register`.
    pub register: Option<String>,
    /// Handlers notified (task ids).
    pub notify: Vec<TaskId>,
    /// `notify` names written as templates: rendered per host and item when the task runs
    /// (after `when`, as ansible-core's post-validation), and looked up in
    /// [`CompiledPlay::notify_index`]. They may name any handler, as far as scheduling knows.
    pub notify_templates: Vec<(String, Tmpl)>,
    /// Effective tags (inherited).
    pub tags: BTreeSet<String>,
    /// The tags of each dynamic include (`include_tasks`, `include_role`) the task comes
    /// through, with what those inherit: the include must be selected too, as in Ansible,
    /// where an include's own tags are not the included tasks'.
    pub gates: Vec<BTreeSet<String>>,
    /// Escalation.
    pub become_: Option<Become>,
    /// `become` written as a template: `become_` applies where it renders true (per host and
    /// item, as ansible-core templates the keyword).
    pub become_if: Option<Tmpl>,
    /// `delegate_to` (host name template).
    pub delegate_to: Option<Tmpl>,
    /// `delegate_facts`: the facts the task sets go to the delegated host (a template is
    /// read on each host when the task starts).
    pub delegate_facts: Flag,
    /// `run_once`.
    pub run_once: bool,
    /// `run_once` written as a template: read on each host of the batch, in order, when it
    /// reaches the task; the first host where it is true runs the task for the hosts after it,
    /// and its result replaces what the hosts before it registered (as in ansible-core).
    pub run_once_if: Option<Tmpl>,
    /// The module runs once for the play's batch, on its first host, whose result it is alone
    /// (ansible-core's `BYPASS_HOST_LOOP`: `add_host`); the other hosts register nothing.
    pub bypass_host_loop: bool,
    /// `ignore_errors`.
    pub ignore_errors: Flag,
    /// `remote_user` of the task (or of a block or import above it): the SSH user of this
    /// task where no variable names one (`ansible_user`, `ansible_ssh_user`).
    pub remote_user: Option<crate::template::Tmpl>,
    /// `changed_when` (any true → changed; `false` literal makes it never changed).
    pub changed_when: Option<Vec<Cond>>,
    /// `failed_when`.
    pub failed_when: Option<Vec<Cond>>,
    /// `until` and `retries`: the task runs again until the conditions hold.
    pub until: Option<Until>,
    /// `environment`.
    pub environment: Option<Value>,
    /// `no_log` (a template is read per host when the task starts).
    pub no_log: Flag,
    /// `ignore_unreachable`: an unreachable result counts ok and ignored, and the host goes on.
    pub ignore_unreachable: bool,
    /// `diff: true|false` (maybe a template) turns diff mode on or off for this task.
    pub diff: Option<Flag>,
    /// `check_mode: true|false` forces check mode on or off for this task.
    pub check_mode: Option<bool>,
    /// `any_errors_fatal` (the task's, else its block's, import's or play's): when the task
    /// fails here (not ignored), the other hosts of the batch are failed after it.
    pub any_errors_fatal: bool,
    /// Variables from role vars, blocks and the task, outermost first.
    pub vars: Vec<Arc<VarMap>>,
    /// The `vars` of the `include_tasks`/`include_role` this task came in by, outermost
    /// first: include params, which rank above `set_fact` and `include_vars` (and below
    /// extra vars), where block and task vars rank below them.
    pub params: Vec<Arc<VarMap>>,
    /// The role, if any.
    pub role: Option<Arc<RoleCtx>>,
    /// Is a handler.
    pub handler: bool,
    /// `meta:` action.
    pub meta: Option<MetaAction>,
    /// Where `src` files and templates are searched (role dirs first, then the playbook's dir).
    pub search_dirs: Arc<Vec<PathBuf>>,
    /// `ansible_search_path`, as ansible-core's task executor sets it (above every other
    /// variable): the role chain's directories, the directory of the task's file, the
    /// playbook's directory, each once.
    pub search_path_var: Arc<VarMap>,
    /// Per-task timeout in seconds.
    pub timeout: Option<u64>,
    /// `async` seconds (with `poll` above 0: the task waits for its end, at most that long).
    pub async_secs: Option<u64>,
    /// `poll: 0` with `async`: the command starts on the target in the background, to be
    /// checked with `async_status` (command and shell only).
    pub fire_and_forget: bool,
    /// `throttle`: at most this many hosts run the task at once.
    pub throttle: Option<usize>,
    /// Variables this task's templates read through `hostvars` (for data edges), `*` if unknown.
    pub hostvars_reads: Vec<HostvarsRead>,
    /// Selected by `--tags`/`--skip-tags`.
    pub selected: bool,
}

/// One `hostvars[...]` read found in a task's templates.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct HostvarsRead {
    /// Host name when written literally (`hostvars['m1']`), `None` when computed.
    pub host: Option<String>,
    /// Variable read, `None` when it cannot be told.
    pub var: Option<String>,
    /// A computed host of the form `groups['G'][N]`: group and index, resolved when the
    /// play is bound to the inventory.
    pub group_index: Option<(String, i64)>,
}

impl TaskDef {
    /// Names this task defines on its host (register, set_fact keys).
    pub fn defines(&self) -> Vec<String> {
        let mut v = Vec::new();
        if let Some(r) = &self.register {
            v.push(r.clone());
        }
        if self.module == "set_fact" {
            if let Ok(keys) = self.args.try_iter() {
                v.extend(keys.map(|k| k.to_string()));
            }
        }
        v
    }
}

/// The tasks of `steps` in program order (an include's own task before its files' tasks).
pub fn flatten_steps(steps: &[Step], out: &mut Vec<TaskId>) {
    for s in steps {
        match s {
            Step::Task(t) => out.push(*t),
            Step::Block { body, rescue, always } => {
                flatten_steps(body, out);
                flatten_steps(rescue, out);
                flatten_steps(always, out);
            }
            Step::Include { task, options, .. } => {
                out.push(*task);
                for (_, steps) in options {
                    flatten_steps(steps, out);
                }
            }
            Step::Role { steps, .. } => flatten_steps(steps, out),
            Step::FlushHandlers => {}
        }
    }
}
