//! The concurrent walk of one bound play: one worker per host, each owning its state.
//!
//! Workers publish their progress and variables on a `watch` channel; a (task, host) node
//! that waits for another host reads that host's channel. Nothing else is shared.

use crate::event::{Event, EventSink, HostRecap, WaitFor};
use crate::task::run_task;
use futures_util::stream::{FuturesUnordered, StreamExt};
use minijinja::Value;
use prov_core::compile::{BoundPlay, MetaAction, Step, Strategy, TaskId, Wait, WaitReason};
use prov_core::connection::Connection;
use prov_core::inventory::Inventory;
use prov_core::module::{FactCache, Registry, RunMode};
use prov_core::template::Templar;
use prov_core::vars::{HostVars, HostVarsSource, Layer, Scope, VarMap};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{watch, Semaphore};

/// Opens connections to hosts. Connecting is lazy: the returned connection dials on first use,
/// so a run that fails validation, or a play of controller-only tasks, opens none.
pub trait Connector: Send + Sync {
    /// The connection for `host`, whose merged inventory variables are `vars`.
    fn connection(&self, host: &str, vars: &VarMap) -> Result<Arc<dyn Connection>, String>;
}

/// Settings of a run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Check / diff.
    pub mode: RunMode,
    /// Hosts working at once.
    pub forks: usize,
    /// `-e` variables.
    pub extra_vars: Arc<VarMap>,
    /// Per-command timeout.
    pub task_timeout: Option<Duration>,
    /// `--tags` (for `ansible_run_tags`).
    pub tags: Vec<String>,
    /// `--skip-tags` (for `ansible_skip_tags`).
    pub skip_tags: Vec<String>,
    /// `--limit` as given (for `ansible_limit`).
    pub limit: Option<String>,
}

/// The ansible-core release whose behaviour prov follows and was checked against
/// (`ansible_version`).
pub const ANSIBLE_VERSION: (u32, u32, u32) = (2, 19, 14);

/// `ansible_version` as Ansible shows it.
fn ansible_version() -> Value {
    let (major, minor, revision) = ANSIBLE_VERSION;
    let full = format!("{major}.{minor}.{revision}");
    Value::from_pairs([
        ("full".to_string(), Value::from(full.clone())),
        ("major".to_string(), Value::from(major)),
        ("minor".to_string(), Value::from(minor)),
        ("revision".to_string(), Value::from(revision)),
        ("string".to_string(), Value::from(full)),
    ])
}

/// A list of the play's hosts that leaves out those that failed or became unreachable so far
/// (`ansible_play_hosts`, `ansible_play_batch`, `play_hosts`).
#[derive(Debug)]
pub(crate) struct HostsLeft {
    names: Vec<String>,
    /// Indices into `names` (and `rx`) of the hosts the list is about.
    members: Vec<usize>,
    rx: Vec<watch::Receiver<Snapshot>>,
}

impl HostsLeft {
    fn current(&self) -> Vec<Value> {
        self.members
            .iter()
            .filter(|&&i| {
                let s = self.rx[i].borrow();
                !s.dead && !s.ended
            })
            .map(|&i| Value::from(self.names[i].clone()))
            .collect()
    }
}

impl minijinja::value::Object for HostsLeft {
    fn repr(self: &Arc<Self>) -> minijinja::value::ObjectRepr {
        minijinja::value::ObjectRepr::Seq
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let i = usize::try_from(key.clone()).ok()?;
        self.current().get(i).cloned()
    }

    fn enumerate(self: &Arc<Self>) -> minijinja::value::Enumerator {
        minijinja::value::Enumerator::Values(self.current())
    }
}

/// Ctrl-C state: 0 running, 1 stop launching work, 2 kill what runs.
#[derive(Clone)]
pub struct Interrupt(pub watch::Receiver<u8>);

impl Interrupt {
    /// Never interrupted.
    pub fn never() -> Interrupt {
        let (tx, rx) = watch::channel(0);
        std::mem::forget(tx);
        Interrupt(rx)
    }

    /// Current level.
    pub fn level(&self) -> u8 {
        *self.0.borrow()
    }
}

/// What a host carries from play to play (facts and `set_fact`/`register` values).
#[derive(Debug, Clone, Default)]
pub struct HostPersist {
    /// Registered values and set_fact.
    pub runtime: Arc<VarMap>,
    /// What `include_vars` set (below `runtime`, templated when read).
    pub included: Arc<VarMap>,
    /// Gathered facts (`None`: not gathered yet).
    pub facts: Option<Arc<VarMap>>,
    /// The fact collectors gathered so far (a later play asking for no more gathers nothing).
    pub gathered: BTreeSet<prov_core::facts::Collector>,
}

/// Everything a play run needs from the outside.
pub struct PlayEnv<'a> {
    /// Shared templar.
    pub templar: Arc<Templar>,
    /// Modules.
    pub registry: &'a Registry,
    /// Inventory (as of this play).
    pub inventory: &'a Inventory,
    /// Connections.
    pub connector: Arc<dyn Connector>,
    /// Settings.
    pub opts: &'a RunOptions,
    /// Events out.
    pub events: &'a dyn EventSink,
    /// Ctrl-C.
    pub interrupt: Interrupt,
    /// `playbook_dir`.
    pub playbook_dir: PathBuf,
    /// Source files, for task locations in events.
    pub sources: prov_core::source::SourceMap,
}

/// An error that ends the whole run before its end (Ansible's `ERROR!`).
#[derive(Debug, Clone)]
pub struct Fatal {
    /// What went wrong, with its location.
    pub message: String,
    /// The input was at fault (exit 4, as for a refused playbook); otherwise exit 1.
    pub bad_input: bool,
}

/// How a play ended.
#[derive(Debug, Default)]
pub struct PlayResult {
    /// Counts per host (play order).
    pub recaps: Vec<HostRecap>,
    /// A task asked to re-read the inventory.
    pub refresh_inventory: bool,
    /// The inventory after the play's `add_host`/`group_by` tasks, and their edits in order
    /// (made again on an inventory read anew); `None` when none ran.
    pub inventory: Option<(prov_core::inventory::Inventory, Vec<prov_core::inventory::InventoryEdit>)>,
    /// State to carry into the next play, per host.
    pub persist: HashMap<String, HostPersist>,
    /// Hosts that failed or were unreachable (they sit out later plays, as in Ansible).
    pub dead: BTreeSet<String>,
    /// Hosts whose failure `meta: clear_host_errors` cleared: they take part in later plays
    /// and, as in Ansible, their failure no longer makes the run fail (the recap still
    /// counts it).
    pub cleared: BTreeSet<String>,
    /// The run was interrupted.
    pub interrupted: bool,
    /// An error that ends the whole run, as Ansible's `ERROR!` does (a meta task's `when`
    /// that cannot be evaluated): no later play runs.
    pub fatal: Option<Fatal>,
    /// `any_errors_fatal` or `max_fail_percentage` stopped the play, which also ends the run
    /// (ansible-core's RUN_FAILED_BREAK_PLAY): no later play runs.
    pub break_run: bool,
}

/// A meta task's decision for a batch: batch, task, and the items of the looped includes
/// the task is in.
type DecisionKey = (usize, TaskId, Vec<(TaskId, usize)>);

/// Where a task with `any_errors_fatal` failed: batch, position, looped-include items, and
/// the hosts (indices) it failed on.
type FatalMark = (usize, usize, Vec<(TaskId, usize)>, Vec<usize>);

/// What a host publishes for others.
#[derive(Debug, Clone)]
pub(crate) struct Snapshot {
    /// Positions passed: the task at position p is done when `progress > p`.
    pub progress: usize,
    /// The host stopped early (failed, unreachable, interrupted).
    pub dead: bool,
    /// The host ran `meta: end_host`: not dead, but out of `ansible_play_hosts`.
    pub ended: bool,
    /// Where a dead host stopped: the position of the task it failed at (`usize::MAX` while
    /// it has not stopped). `progress` is `usize::MAX` once a host is done either way.
    pub stopped_at: usize,
    /// Registered values and set_fact.
    pub runtime: Arc<VarMap>,
    /// What `include_vars` set.
    pub included: Arc<VarMap>,
    /// Facts layer.
    pub facts: Arc<VarMap>,
    /// The looped includes the host is in, outermost first.
    pub iters: Arc<Vec<Iter>>,
}

/// A host inside a looped include: the include, the index of the item whose run of the
/// file it is in, the positions it passed in that run, and where the include's tasks end.
#[derive(Debug, Clone)]
pub(crate) struct Iter {
    pub task: TaskId,
    pub index: usize,
    pub progress: usize,
    pub end: usize,
}

impl Snapshot {
    /// Whether the host is past position `q`, as a host inside the looped includes `mine` sees
    /// it: where both run the same item of every include of `mine` that holds `q`, by the
    /// positions passed in that item's run; otherwise by which item, or which include, the
    /// host is in (ansible-core runs a looped include's files item by item for all hosts).
    pub(crate) fn past(&self, q: usize, mine: &[Iter], pos: &[usize]) -> bool {
        if self.progress == usize::MAX {
            return true;
        }
        let depth = mine.iter().take_while(|m| q >= pos[m.task] && q < m.end).count();
        for (i, m) in mine[..depth].iter().enumerate() {
            match self.iters.get(i) {
                Some(e) if e.task == m.task => match e.index.cmp(&m.index) {
                    std::cmp::Ordering::Greater => return true,
                    std::cmp::Ordering::Less => return false,
                    std::cmp::Ordering::Equal => {}
                },
                Some(e) => return pos[e.task] > pos[m.task],
                // Not in the include: before it, or done with all its items.
                None => return self.level(i) > pos[m.task],
            }
        }
        match self.iters.get(depth) {
            Some(e) => pos[e.task] >= q,
            None => self.level(depth) > q,
        }
    }

    /// The positions passed at looped-include depth `i` (0: outside any).
    fn level(&self, i: usize) -> usize {
        if i == 0 {
            self.progress
        } else {
            self.iters[i - 1].progress
        }
    }
}

/// `hostvars` during a play: inventory vars plus what each host has published.
#[derive(Debug)]
pub(crate) struct LiveHostVars {
    pub names: Vec<String>,
    pub index: HashMap<String, usize>,
    pub inv_vars: Vec<Arc<VarMap>>,
    pub magic: Vec<Arc<VarMap>>,
    pub rx: Vec<watch::Receiver<Snapshot>>,
    pub templar: Arc<Templar>,
    pub extra: Arc<VarMap>,
    /// Inventory hosts outside the play: their inventory vars.
    pub others: HashMap<String, Arc<VarMap>>,
    /// What hosts outside the play carry from earlier plays (facts, set_fact).
    pub others_persist: HashMap<String, HostPersist>,
    /// The magic variables a host outside the play has too (those not about the play).
    pub others_magic: Arc<VarMap>,
    /// `group_names` of the hosts outside the play.
    pub others_group_names: HashMap<String, Vec<String>>,
    /// Facts and variables set on hosts by `delegate_facts`, not yet taken in.
    pub delegated: Arc<crate::facts::Delegated>,
}

impl HostVarsSource for LiveHostVars {
    fn hosts(&self) -> Vec<String> {
        let mut v = self.names.clone();
        v.extend(self.others.keys().cloned());
        v
    }

    fn host_scope(&self, host: &str) -> Option<Arc<Scope>> {
        // Under the lock of what is pending, so that an entry is seen either pending or taken in.
        let (inv, magic, facts, runtime, included) = self.delegated.with(host, false, |pending| {
            let (inv, magic, mut facts, mut runtime, included) = match self.index.get(host) {
                Some(&i) => {
                    let snap = self.rx[i].borrow().clone();
                    let (inv, magic) = (self.inv_vars[i].clone(), self.magic[i].clone());
                    (inv, magic, Some(snap.facts), Some(snap.runtime), Some(snap.included))
                }
                None => {
                    // ansible-core makes the implicit localhost when it is named.
                    let inv = match self.others.get(host) {
                        Some(v) => v.clone(),
                        None if matches!(host, "localhost" | "127.0.0.1" | "::1") => {
                            Arc::new(VarMap::from_iter([("ansible_connection".to_string(), Value::from("local"))]))
                        }
                        None => return None,
                    };
                    // ansible-core's hostvars of a host outside the play: its magic
                    // variables, those of the play left out.
                    let mut m = (*self.others_magic).clone();
                    m.insert("inventory_hostname".into(), Value::from(host));
                    m.insert(
                        "inventory_hostname_short".into(),
                        Value::from(host.split('.').next().unwrap_or(host).to_string()),
                    );
                    m.insert(
                        "group_names".into(),
                        Value::from(self.others_group_names.get(host).cloned().unwrap_or_default()),
                    );
                    let p = self.others_persist.get(host);
                    let facts = p.and_then(|p| p.facts.as_deref()).map(|f| Arc::new(crate::facts::layer(f)));
                    (inv, Arc::new(m), facts, p.map(|p| p.runtime.clone()), p.map(|p| p.included.clone()))
                }
            };
            if let Some(p) = pending {
                let raw = facts.as_deref().map(crate::facts::unlayer);
                facts = Some(Arc::new(crate::facts::layer(&crate::facts::merge(raw.as_ref(), &p.facts))));
                let mut r = runtime.as_deref().cloned().unwrap_or_default();
                r.extend(p.vars);
                runtime = Some(Arc::new(r));
            }
            Some((inv, magic, facts, runtime, included))
        })?;
        let mut layers = vec![Layer::source(inv)];
        if let Some(f) = facts {
            layers.push(Layer::literal(f));
        }
        if let Some(i) = included {
            layers.push(Layer::source(i));
        }
        if let Some(r) = runtime {
            layers.push(Layer::literal(r));
        }
        layers.push(Layer::source(self.extra.clone()));
        Some(Arc::new(Scope::new(self.templar.clone(), magic, layers)))
    }
}

/// Flow of control out of a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flow {
    Continue,
    /// A task failed (rescuable).
    Failed,
    Unreachable,
    /// `meta: end_host` or a dependency died: stop quietly.
    Stop,
    EndPlay,
    /// `meta: end_role`: the rest of the role is skipped here (the role catches it).
    EndRole,
    Interrupted,
}

/// What a templated `run_once` rendered on a host.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OnceMark {
    /// True: the host runs the task once for the batch.
    Runs,
    /// False: the host runs the task for itself.
    Not,
    /// Not a boolean: the task fails there, and the hosts after it do not run it.
    Broken,
}

/// What the meta tasks of a play share between its hosts.
#[derive(Debug)]
pub(crate) struct MetaShared {
    /// Answers of the meta tasks one host decides for its batch: (batch, task) → ran.
    /// By batch, task and the items of the looped includes it is in.
    decisions: Mutex<HashMap<DecisionKey, bool>>,
    /// Per batch, the position of an `end_play`/`end_batch` that ran (`usize::MAX`: none):
    /// hosts of the batch stop before any task after it.
    end_at: Vec<AtomicUsize>,
    /// Per batch, the looped-include items the host that set `end_at` was in.
    end_items: Mutex<HashMap<usize, Vec<(TaskId, usize)>>>,
    /// `end_play` ran: later batches do not start.
    end_play: AtomicBool,
    /// (batch, position) of each `clear_host_errors` that ran.
    cleared: Mutex<Vec<(usize, usize)>>,
    /// The first error that ends the run.
    fatal: Mutex<Option<Fatal>>,
    /// `any_errors_fatal` or `max_fail_percentage` stopped the play: as in ansible-core,
    /// no later play runs either.
    break_run: AtomicBool,
    /// One semaphore per task with `throttle`: the hosts running it at once.
    throttles: HashMap<TaskId, Semaphore>,
    /// Per host, the tasks of included files it went past without running them (the files
    /// other hosts included, or all of them when it skipped the include): such a host is
    /// not the one a `run_once` task there runs on.
    passed_over: Mutex<HashMap<usize, BTreeSet<TaskId>>>,
    /// What a `run_once` `include_vars` set on the host that ran it, for the others.
    run_once_vars: Mutex<HashMap<TaskId, Vec<(String, Value)>>>,
    /// The `run_once` tasks that failed on the host that ran them (by batch, task and
    /// looped-include items): the other hosts of the batch fail with it.
    once_failed: Mutex<HashSet<DecisionKey>>,
    /// Per batch, where a task with `any_errors_fatal` failed (position and looped-include
    /// items): the other hosts of the batch are failed after that task ([`Mark::Fatal`]).
    fatal_marks: Mutex<Vec<FatalMark>>,
    /// Some task of the play has `any_errors_fatal` (marks are possible at all).
    any_fatal: bool,
    /// `run_once` written as a template: what it rendered on each host that reached the task
    /// (task, host) → runs it once for the batch.
    once_if: Mutex<HashMap<(TaskId, usize), OnceMark>>,
    /// The inventory with the play's `add_host`/`group_by` edits (a copy made at the first),
    /// and the edits in order.
    inventory: Mutex<Option<(prov_core::inventory::Inventory, Vec<prov_core::inventory::InventoryEdit>)>>,
    /// Per batch, its size and how many of its hosts are done with fact gathering (or will
    /// not gather), and how many of those failed: under the linear strategy no host starts the
    /// first task before all are, as ansible-core runs gathering as the play's first task.
    gathered: Vec<(usize, watch::Sender<(usize, usize)>)>,
    /// Per batch, its hosts that ended failed (for `max_fail_percentage`, which does not count
    /// unreachable hosts) and failed or unreachable (a batch that all did ends the run).
    batch_failed: Vec<AtomicUsize>,
    batch_dead: Vec<AtomicUsize>,
}

impl MetaShared {
    /// Records the error that ends the whole run (the first one wins).
    pub(crate) fn stop_run(&self, message: String, bad_input: bool) {
        if let Ok(mut f) = self.fatal.lock() {
            f.get_or_insert_with(|| Fatal { message, bad_input });
        }
    }

    fn new(batches: &[Vec<usize>], tasks: &[Arc<prov_core::compile::TaskDef>]) -> MetaShared {
        let gathered = batches.iter().map(|b| (b.len(), watch::channel((0, 0)).0)).collect();
        let batches = batches.len();
        MetaShared {
            gathered,
            batch_failed: (0..batches).map(|_| AtomicUsize::new(0)).collect(),
            batch_dead: (0..batches).map(|_| AtomicUsize::new(0)).collect(),
            throttles: tasks.iter().filter_map(|t| t.throttle.map(|n| (t.id, Semaphore::new(n)))).collect(),
            decisions: Mutex::new(HashMap::new()),
            end_at: (0..batches).map(|_| AtomicUsize::new(usize::MAX)).collect(),
            end_items: Mutex::new(HashMap::new()),
            end_play: AtomicBool::new(false),
            cleared: Mutex::new(Vec::new()),
            fatal: Mutex::new(None),
            break_run: AtomicBool::new(false),
            passed_over: Mutex::new(HashMap::new()),
            run_once_vars: Mutex::new(HashMap::new()),
            once_failed: Mutex::new(HashSet::new()),
            fatal_marks: Mutex::new(Vec::new()),
            any_fatal: tasks.iter().any(|t| t.any_errors_fatal),
            once_if: Mutex::new(HashMap::new()),
            inventory: Mutex::new(None),
        }
    }

    /// Makes `add_host`/`group_by` edits on the play's copy of the inventory (`base` until the
    /// first); whether they changed it.
    pub(crate) fn edit_inventory(
        &self,
        base: &prov_core::inventory::Inventory,
        edits: &[prov_core::inventory::InventoryEdit],
    ) -> bool {
        let Ok(mut guard) = self.inventory.lock() else {
            return false;
        };
        let (inv, log) = guard.get_or_insert_with(|| (base.clone(), Vec::new()));
        let mut changed = false;
        for e in edits {
            changed |= inv.apply(e);
            log.push(e.clone());
        }
        changed
    }

    pub(crate) fn set_run_once_vars(&self, task: TaskId, vars: Vec<(String, Value)>) {
        if let Ok(mut m) = self.run_once_vars.lock() {
            m.insert(task, vars);
        }
    }

    /// Records that a `run_once` task failed on the host that ran it.
    pub(crate) fn set_once_failed(&self, key: DecisionKey) {
        if let Ok(mut m) = self.once_failed.lock() {
            m.insert(key);
        }
    }

    /// Whether a `run_once` task failed on the host that ran it.
    pub(crate) fn once_failed(&self, key: &DecisionKey) -> bool {
        self.once_failed.lock().is_ok_and(|m| m.contains(key))
    }

    /// Records that a task with `any_errors_fatal` failed on `host` at position `at` of `batch`.
    fn add_fatal_mark(&self, batch: usize, at: usize, items: Vec<(TaskId, usize)>, host: usize) {
        if let Ok(mut m) = self.fatal_marks.lock() {
            match m.iter_mut().find(|(b, p, i, _)| *b == batch && *p == at && *i == items) {
                Some(mark) => mark.3.push(host),
                None => m.push((batch, at, items, vec![host])),
            }
        }
    }

    /// Whether a fatal mark of `batch` (from index `from` on) before position `next` (in the
    /// looped-include items `items`) fails `host`, which did not fail there itself; and how
    /// many marks there are.
    fn fatal_marks_before(
        &self,
        (batch, host): (usize, usize),
        from: usize,
        next: usize,
        items: &[(TaskId, usize)],
        pos: &[usize],
    ) -> (bool, usize) {
        let Ok(m) = self.fatal_marks.lock() else { return (false, from) };
        let hit = m.iter().skip(from).any(|(b, at, at_items, failed)| {
            *b == batch && (next == usize::MAX || after((items, next), (at_items, *at), pos)) && !failed.contains(&host)
        });
        (hit, m.len())
    }

    pub(crate) fn run_once_vars(&self, task: TaskId) -> Option<Vec<(String, Value)>> {
        self.run_once_vars.lock().ok().and_then(|m| m.get(&task).cloned())
    }

    pub(crate) fn set_once_if(&self, task: TaskId, host: usize, once: OnceMark) {
        if let Ok(mut m) = self.once_if.lock() {
            m.insert((task, host), once);
        }
    }

    /// What a templated `run_once` rendered on `host` (`None`: it has not reached the task).
    pub(crate) fn once_if(&self, task: TaskId, host: usize) -> Option<OnceMark> {
        self.once_if.lock().ok().and_then(|m| m.get(&(task, host)).copied())
    }

    /// Records that `host` went past the tasks of `steps` without running them.
    fn pass_over(&self, host: usize, steps: &[Step]) {
        let mut skipped = Vec::new();
        prov_core::compile::flatten_steps(steps, &mut skipped);
        if let Ok(mut p) = self.passed_over.lock() {
            p.entry(host).or_default().extend(skipped);
        }
    }

    /// Whether `host` went past `task` in an include without running it.
    pub(crate) fn passed_over(&self, host: usize, task: TaskId) -> bool {
        self.passed_over.lock().is_ok_and(|p| p.get(&host).is_some_and(|s| s.contains(&task)))
    }

    fn decision(&self, key: &DecisionKey) -> Option<bool> {
        self.decisions.lock().ok().and_then(|d| d.get(key).copied())
    }

    fn end_at(&self, batch: usize) -> usize {
        self.end_at.get(batch).map_or(usize::MAX, |a| a.load(Ordering::SeqCst))
    }

    /// Ends `batch` at position `at` in the looped-include items `items`, unless it already
    /// ends earlier.
    fn end_batch(&self, batch: usize, at: usize, items: Vec<(TaskId, usize)>, pos: &[usize]) {
        let Some(end) = self.end_at.get(batch) else { return };
        let Ok(mut paths) = self.end_items.lock() else { return };
        let cur = end.load(Ordering::SeqCst);
        let cur_items = paths.get(&batch).cloned().unwrap_or_default();
        if cur == usize::MAX || after((&cur_items, cur), (&items, at), pos) {
            end.store(at, Ordering::SeqCst);
            paths.insert(batch, items);
        }
    }

    /// Whether position `next` in the looped-include items `items` comes after where `batch`
    /// ends.
    fn ended(&self, batch: usize, next: usize, items: &[(TaskId, usize)], pos: &[usize]) -> bool {
        let end = self.end_at(batch);
        if end == usize::MAX || next == usize::MAX {
            return false;
        }
        let end_items = self.end_items.lock().ok().and_then(|p| p.get(&batch).cloned()).unwrap_or_default();
        after((items, next), (&end_items, end), pos)
    }

    /// Whether a host that failed at position `failed_at` of batch `batch` was cleared.
    fn clears(&self, batch: usize, failed_at: usize) -> bool {
        let cleared = match self.cleared.lock() {
            Ok(c) => c,
            Err(_) => return false,
        };
        cleared.iter().any(|&(b, pos)| batch == b && failed_at < pos)
    }

    /// Whether a `meta: clear_host_errors` ran in batch `batch` (which clears the hosts that
    /// sit out there too).
    fn cleared_in(&self, batch: usize) -> bool {
        self.cleared.lock().is_ok_and(|c| c.iter().any(|&(b, _)| b == batch))
    }
}

/// Why a host was failed without a failure of its own, as ansible-core marks hosts failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mark {
    /// A `run_once` task failed on the host that ran it: in a block, no rescue runs, and the
    /// `always` only of a block that has a rescue (ansible-core 2.19's).
    Once,
    /// A task with `any_errors_fatal` failed on another host of the batch: the host fails as
    /// if at its next task (a rescue takes it over, uncounted; an `always` runs).
    Fatal,
}

/// One host's worker; owns that host's state for the play.
pub(crate) struct Worker<'a> {
    pub env: &'a PlayEnv<'a>,
    pub bp: &'a BoundPlay<'a>,
    pub play_index: usize,
    pub idx: usize,
    pub host: String,
    pub inv_vars: Arc<VarMap>,
    pub magic: Arc<VarMap>,
    pub runtime: Arc<VarMap>,
    /// What `include_vars` set (below `runtime`, templated when read).
    pub included: Arc<VarMap>,
    pub facts: Arc<VarMap>,
    pub facts_raw: Option<Arc<VarMap>>,
    /// The fact collectors gathered on this host so far.
    pub gathered: BTreeSet<prov_core::facts::Collector>,
    /// Facts and variables other hosts' tasks set on hosts with `delegate_facts`.
    pub delegated: Arc<crate::facts::Delegated>,
    pub notified: BTreeSet<TaskId>,
    pub publish: watch::Sender<Snapshot>,
    pub peers: &'a [watch::Receiver<Snapshot>],
    pub recap: HostRecap,
    pub conn: Option<Arc<dyn Connection>>,
    pub fact_cache: FactCache,
    pub forks: &'a Semaphore,
    pub abort: &'a AtomicBool,
    pub refresh: &'a AtomicBool,
    pub meta: &'a MetaShared,
    pub progress: usize,
    /// The looped includes this host is in (see [`Snapshot::past`]) and the variables of
    /// their items, outermost first.
    pub iters: Vec<Iter>,
    pub loop_vars: Vec<Arc<VarMap>>,
    /// Position of the last task that failed on this host (what `clear_host_errors` compares).
    pub failed_at: usize,
    /// The task that failed last and its result: `ansible_failed_task` and
    /// `ansible_failed_result` once a rescue starts.
    pub last_failure: Option<(Value, Value)>,
    /// This host ran `meta: end_host` (see [`Snapshot::ended`]).
    pub ended: bool,
    /// The host was failed without a failure of its own (ansible-core marks it failed: no
    /// result, no count; see `run_steps` for blocks).
    pub marked: Option<Mark>,
    /// How many of the batch's fatal marks this host has looked at.
    pub marks_seen: usize,
    /// The roles ([`Step::Role`] keys) of which a task ran on this host in this play.
    pub roles_ran: HashSet<Arc<str>>,
    /// The roles this host has completed in this play: their tasks run no more here.
    pub roles_done: HashSet<Arc<str>>,
    /// The task running now and its `ignore_errors`, rendered before it ran.
    pub ignore_errors_now: Option<(TaskId, bool)>,
    /// The task running now and its `delegate_facts`, rendered before it ran.
    pub delegate_facts_now: Option<(TaskId, bool)>,
    /// The running task's `diff` keyword, rendered before it ran (`None`: the run's mode).
    pub diff_now: Option<bool>,
    /// The task running now and its `no_log`, rendered before it ran.
    pub no_log_now: Option<(TaskId, bool)>,
}

/// The variables that say how to reach a host (ansible-core's connection variables that prov
/// reads; see the connector).
const CONNECTION_VARS: [&str; 11] = [
    "ansible_connection",
    "ansible_host",
    "ansible_ssh_host",
    "ansible_port",
    "ansible_ssh_port",
    "ansible_user",
    "ansible_ssh_user",
    "ansible_ssh_private_key_file",
    "ansible_private_key_file",
    "ansible_ssh_timeout",
    "ansible_timeout",
];

/// Whether a task's own variables (or its includes') name a connection setting: it then
/// connects with them ([`Worker::connection_as`]).
pub(crate) fn task_names_connection(t: &prov_core::compile::TaskDef) -> bool {
    t.vars.iter().chain(&t.params).any(|m| CONNECTION_VARS.iter().any(|n| m.contains_key(*n)))
}

/// A `remote_user` keyword: the task's (a template) or the play's (text, maybe a template).
enum Keyword<'k> {
    Task(&'k prov_core::template::Tmpl),
    Play(&'k str),
}

impl<'a> Worker<'a> {
    pub(crate) fn connection(&mut self) -> Result<Arc<dyn Connection>, String> {
        if let Some(c) = &self.conn {
            return Ok(c.clone());
        }
        let vars = self.with_playbook_dir(self.connection_vars(None)?);
        let c = self.env.connector.connection(&self.host, &vars)?;
        self.conn = Some(c.clone());
        Ok(c)
    }

    /// `vars` with the play's `playbook_dir`: a local connection runs its commands there, as
    /// ansible-core's does.
    fn with_playbook_dir(&self, mut vars: Arc<VarMap>) -> Arc<VarMap> {
        let dir = std::path::absolute(&self.env.playbook_dir).unwrap_or_else(|_| self.env.playbook_dir.clone());
        Arc::make_mut(&mut vars).insert("playbook_dir".into(), Value::from(dir.display().to_string()));
        vars
    }

    /// The connection of a task with its own `remote_user` or connection variables: the
    /// host's, with them (variables win over keywords, as in ansible-core). `target` is the
    /// delegate a delegated task connects to (its name and inventory variables; `-e` and the
    /// task's `remote_user` apply to it too).
    pub(crate) fn connection_as(
        &self,
        t: &prov_core::compile::TaskDef,
        target: Option<(&str, &VarMap)>,
    ) -> Result<Arc<dyn Connection>, String> {
        let Some((host, inv)) = target else {
            return self.env.connector.connection(&self.host, &self.with_playbook_dir(self.connection_vars(Some(t))?));
        };
        // The play's and the task's variables reach the delegate's connection too (above its
        // inventory's, as in ansible-core); this host's `set_fact` values do not.
        let layers = self.layers_above_inventory(Some(t), false);
        let ctx = self.scope(t.id, Vec::new());
        let mut vars = inv.clone();
        for n in CONNECTION_VARS {
            if let Some(v) = layers.iter().find_map(|l| l.get(n)) {
                vars.insert(n.into(), self.render_text(v, &ctx)?);
            }
        }
        if let Some(tm) = &t.remote_user {
            if !vars.contains_key("ansible_user") && !vars.contains_key("ansible_ssh_user") {
                let u = self.env.templar.render_defined(tm, &ctx)?.to_string();
                vars.insert("ansible_user".into(), Value::from(u));
            }
        }
        self.env.connector.connection(host, &self.with_playbook_dir(Arc::new(vars)))
    }

    /// The variables above the inventory, highest first: `-e`, `set_fact` (with `runtime`),
    /// the task's and its includes' (role vars among them), the play's.
    fn layers_above_inventory<'s>(
        &'s self,
        task: Option<&'s prov_core::compile::TaskDef>,
        runtime: bool,
    ) -> Vec<&'s VarMap> {
        let mut layers: Vec<&VarMap> = vec![&self.env.opts.extra_vars];
        if runtime {
            layers.push(&self.runtime);
        }
        if let Some(t) = task {
            layers.extend(t.params.iter().rev().map(|m| &**m));
            layers.extend(t.vars.iter().rev().map(|m| &**m));
        }
        layers.push(&self.bp.play.vars);
        layers
    }

    /// A variable's value as a connection setting: a string rendered (it may be a template).
    fn render_text(&self, v: &Value, ctx: &Value) -> Result<Value, String> {
        match v.as_str() {
            Some(s) if prov_core::template::is_template(s) => {
                let tm = self.env.templar.compile(s)?;
                Ok(Value::from(self.env.templar.render_defined(&tm, ctx)?.to_string()))
            }
            _ => Ok(v.clone()),
        }
    }

    /// The host's connection variables: the inventory's, under those a variable above it
    /// names (`-e`, `set_fact`, the task's with `task`, the play's; templates rendered), with
    /// the `connection` and `remote_user` keywords (the task's `remote_user` over the play's)
    /// where no variable sets the connection or the user (`ansible_connection`;
    /// `ansible_user` or `ansible_ssh_user`): variables win over keywords, as in ansible-core.
    /// Templates are rendered in the task's scope (without `task`: the running task's; before
    /// any task, as facts are gathered: the play's).
    fn connection_vars(&self, task: Option<&prov_core::compile::TaskDef>) -> Result<Arc<VarMap>, String> {
        let play = &self.bp.play;
        let layers = self.layers_above_inventory(task, true);
        let over: Vec<(&str, &Value)> =
            CONNECTION_VARS.iter().filter_map(|n| layers.iter().find_map(|l| l.get(*n)).map(|v| (*n, v))).collect();
        let set_by_vars =
            |names: &[&str]| names.iter().any(|n| self.inv_vars.contains_key(*n) || over.iter().any(|(o, _)| o == n));
        let conn = play.connection.as_ref().filter(|_| !set_by_vars(&["ansible_connection"]));
        // The task's `remote_user` over the play's; a variable naming the user over both.
        let keyword = match task.and_then(|t| t.remote_user.as_ref()) {
            Some(tm) => Some(Keyword::Task(tm)),
            None => play.remote_user.as_deref().map(Keyword::Play),
        };
        let user = keyword.filter(|_| !set_by_vars(&["ansible_user", "ansible_ssh_user"]));
        if conn.is_none() && user.is_none() && over.is_empty() {
            return Ok(self.inv_vars.clone());
        }
        let ctx = match (task, self.ignore_errors_now) {
            (Some(t), _) => self.scope(t.id, Vec::new()),
            (None, Some((t, _))) if t < play.tasks.len() => self.scope(t, Vec::new()),
            _ => self.play_scope(),
        };
        let render = |s: &str| self.render_text(&Value::from(s), &ctx).map(|v| v.to_string());
        let mut vars = (*self.inv_vars).clone();
        if let Some(c) = conn {
            vars.insert("ansible_connection".into(), Value::from(c.as_str()));
        }
        match user {
            Some(Keyword::Play(u)) => {
                vars.insert("ansible_user".into(), Value::from(render(u)?));
            }
            Some(Keyword::Task(tm)) => {
                vars.insert("ansible_user".into(), Value::from(self.env.templar.render_defined(tm, &ctx)?.to_string()));
            }
            None => {}
        }
        for (name, v) in over {
            vars.insert(name.into(), self.render_text(v, &ctx)?);
        }
        Ok(Arc::new(vars))
    }

    pub(crate) fn publish(&mut self, dead: bool) {
        let snap = Snapshot {
            iters: Arc::new(self.iters.clone()),
            progress: self.progress,
            dead,
            ended: self.ended,
            stopped_at: if dead { self.failed_at } else { usize::MAX },
            runtime: self.runtime.clone(),
            included: self.included.clone(),
            facts: self.facts.clone(),
        };
        self.publish.send_replace(snap);
    }

    /// Sets facts on this host (a module's `ansible_facts`): merged into what it has.
    pub(crate) fn add_facts(&mut self, new: &[(String, Value)]) {
        let merged = Arc::new(crate::facts::merge(self.facts_raw.as_deref(), new));
        self.facts = Arc::new(crate::facts::layer(&merged));
        self.facts_raw = Some(merged);
    }

    /// Takes in what other hosts' tasks set on this one with `delegate_facts`.
    fn take_delegated(&mut self) {
        let delegated = self.delegated.clone();
        let host = self.host.clone();
        delegated.with(&host, true, |p| {
            if let Some(p) = p {
                self.add_facts(&p.facts);
                let rt = Arc::make_mut(&mut self.runtime);
                for (k, v) in p.vars {
                    rt.insert(k, v);
                }
                self.publish(false);
            }
        });
    }

    pub(crate) fn pass(&mut self, upto: usize) {
        let mut moved = false;
        if let Some(top) = self.iters.last_mut() {
            if upto > top.progress {
                top.progress = upto;
                moved = true;
            }
        }
        if upto > self.progress {
            self.progress = upto;
            moved = true;
        }
        if moved {
            self.publish(false);
        }
    }

    /// What the play's own tasks see before any of them (fact gathering's scope): the play's
    /// roles' defaults, the host's inventory variables, its facts, the play's variables, what
    /// earlier plays registered or set on the host, `-e`.
    pub(crate) fn play_scope(&self) -> Value {
        let play = &self.bp.play;
        let mut layers = vec![
            Layer::source(play.role_defaults.clone()),
            Layer::source(self.inv_vars.clone()),
            Layer::literal(self.facts.clone()),
            Layer::source(play.vars.clone()),
        ];
        if let Some(v) = play.host_vars_files.get(&self.host) {
            layers.push(Layer::source(v.clone()));
        }
        layers.push(Layer::source(play.role_vars.clone()));
        layers.push(Layer::source(self.included.clone()));
        layers.push(Layer::literal(self.runtime.clone()));
        layers.push(Layer::source(self.env.opts.extra_vars.clone()));
        Scope::new(self.env.templar.clone(), self.magic.clone(), layers).into_value()
    }

    /// A scope for a task of this host with extra layers on top (loop item, registered result).
    pub(crate) fn scope(&self, task: TaskId, extra: Vec<Layer>) -> Value {
        let t = &self.bp.play.tasks[task];
        let mut layers = Vec::with_capacity(11 + extra.len());
        // A task sees `ansible_host` even where the inventory sets none: the host's name (as
        // in ansible-core; `hostvars` does not show it).
        if !self.inv_vars.contains_key("ansible_host") {
            let mut m = VarMap::new();
            m.insert("ansible_host".into(), Value::from(self.host.clone()));
            layers.push(Layer::literal(Arc::new(m)));
        }
        // The play's roles' defaults, then the task's own role's (Ansible's order).
        layers.push(Layer::source(self.bp.play.role_defaults.clone()));
        if let Some(r) = &t.role {
            layers.push(Layer::source(r.defaults.clone()));
        }
        layers.push(Layer::source(self.inv_vars.clone()));
        layers.push(Layer::literal(self.facts.clone()));
        layers.push(Layer::source(self.bp.play.vars.clone()));
        if let Some(v) = self.bp.play.host_vars_files.get(&self.host) {
            layers.push(Layer::source(v.clone()));
        }
        layers.push(Layer::source(self.bp.play.role_vars.clone()));
        // A looped include's item: below the vars of the tasks it includes (ansible-core
        // sets it on the include, their parent).
        if !t.handler {
            for v in &self.loop_vars {
                layers.push(Layer::literal(v.clone()));
            }
        }
        for v in &t.vars {
            layers.push(Layer::source(v.clone()));
        }
        if let Some(r) = &t.role {
            let abs =
                |p: &std::path::Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf()).display().to_string();
            let mut m = VarMap::new();
            m.insert("role_path".into(), Value::from(abs(&r.path)));
            m.insert("role_name".into(), Value::from(r.short_name.clone()));
            m.insert("ansible_role_name".into(), Value::from(r.name.clone()));
            if !r.parents.is_empty() {
                let names: Vec<Value> = r.parents.iter().map(|(n, _)| Value::from(n.clone())).collect();
                let paths: Vec<Value> = r.parents.iter().map(|(_, p)| Value::from(abs(p))).collect();
                m.insert("ansible_parent_role_names".into(), Value::from(names));
                m.insert("ansible_parent_role_paths".into(), Value::from(paths));
            }
            layers.push(Layer::literal(Arc::new(m)));
        }
        layers.push(Layer::source(self.included.clone()));
        layers.push(Layer::literal(self.runtime.clone()));
        for p in &t.params {
            layers.push(Layer::source(p.clone()));
        }
        layers.extend(extra);
        layers.push(Layer::source(self.env.opts.extra_vars.clone()));
        // Set by ansible-core's task executor on top of every variable.
        layers.push(Layer::literal(t.search_path_var.clone()));
        Scope::new(self.env.templar.clone(), self.magic.clone(), layers).into_value()
    }

    /// Waits until the hosts `task` waits for got past the tasks it waits on. A wait that does
    /// not hold yet is told as [`Event::Waiting`]: on the host for data or a delegation; on the
    /// first host of the batch not there yet for `linear` and `serial` (one event, not one per
    /// host of a large batch).
    async fn wait_for(&self, task: &prov_core::compile::TaskDef, waits: &[Wait]) -> Result<(), String> {
        for w in waits {
            let mut told = false;
            let (hosts, pos): (Vec<usize>, usize) = match w {
                // Which host runs a run_once task is decided when it is reached (the first of
                // the batch still in the play): see `task::run_once_runner`.
                Wait::Host { why: WaitReason::RunOnce, .. } => continue,
                Wait::Host { host, pos, .. } => (vec![*host], *pos),
                Wait::Batch { pos } => (self.bp.batches[self.bp.batch_of[self.idx]].clone(), *pos),
                Wait::PrevBatch { batch } => (self.bp.batches[*batch].clone(), usize::MAX - 1),
            };
            for h in hosts {
                if h == self.idx {
                    continue;
                }
                let mut rx = self.peers[h].clone();
                let ready = {
                    let s = rx.borrow();
                    s.dead || s.past(pos, &self.iters, &self.bp.pos)
                };
                let reason = match w {
                    Wait::Host { why: WaitReason::Data(var), .. } => Some(WaitFor::Hostvars { var: var.clone() }),
                    Wait::Host { why: WaitReason::Delegate, .. } => Some(WaitFor::DelegateTo),
                    Wait::Host { why: WaitReason::RunOnce, .. } => None,
                    Wait::Batch { .. } => Some(WaitFor::Linear),
                    Wait::PrevBatch { .. } => Some(WaitFor::Serial),
                };
                if let (false, false, Some(reason)) = (ready, told, reason) {
                    told = true;
                    self.env.events.emit(Event::Waiting {
                        play: self.play_index,
                        task: task.id,
                        name: task.name.clone(),
                        host: self.host.clone(),
                        on: self.bp.hosts[h].clone(),
                        reason,
                    });
                }
                let snap = rx
                    .wait_for(|s| s.dead || s.past(pos, &self.iters, &self.bp.pos))
                    .await
                    .map_err(|e| e.to_string())?
                    .clone();
                if snap.dead && matches!(w, Wait::Host { .. }) && !snap.past(pos, &self.iters, &self.bp.pos) {
                    let t = self.bp.order.get(pos).copied().unwrap_or(0);
                    return Err(format!("waits for t{t} on {} which stopped", self.bp.hosts[h]));
                }
            }
        }
        Ok(())
    }

    pub(crate) fn run_steps<'s>(&'s mut self, steps: &'s [Step]) -> futures_util::future::BoxFuture<'s, Flow> {
        Box::pin(async move {
            for s in steps {
                if self.env.interrupt.level() > 0 {
                    return Flow::Interrupted;
                }
                if self.abort.load(Ordering::SeqCst) {
                    return Flow::EndPlay;
                }
                // An `end_play`/`end_batch` another host ran: stop before anything after it.
                let next = match s {
                    Step::Task(t) | Step::Include { task: t, .. } => self.bp.pos[*t],
                    _ => self.iters.last().map_or(self.progress, |i| i.progress),
                };
                if self.ended_before(next) {
                    return Flow::EndPlay;
                }
                let flow = match s {
                    Step::Task(t) => self.task(*t, false).await,
                    Step::FlushHandlers => self.flush_handlers().await,
                    Step::Include { task, bases, options } => {
                        let flow = self.include(*task, bases, options).await;
                        self.pass(max_pos(self.bp, std::slice::from_ref(s)));
                        flow
                    }
                    Step::Role { key, steps } => self.role(key, steps).await,
                    Step::Block { body, rescue, always } => {
                        let mut flow = self.run_steps(body).await;
                        if flow == Flow::Continue && !(rescue.is_empty() && always.is_empty()) && self.fatal_possible()
                        {
                            // Another host's fatal error in the block's last task fails this
                            // host inside the block (its rescue or always takes it over).
                            let end = max_pos(self.bp, body);
                            self.wait_batch_past(end.saturating_sub(1)).await;
                            if self.fatal_mark(end) {
                                flow = Flow::Failed;
                            }
                        }
                        self.pass(max_pos(self.bp, body));
                        if flow == Flow::Failed && self.marked == Some(Mark::Once) {
                            // Marked failed by a `run_once` task that failed elsewhere:
                            // ansible-core 2.19 runs no rescue, and the `always` only of a
                            // block that has a rescue.
                            self.pass(max_pos(self.bp, rescue));
                            if !rescue.is_empty() {
                                let _ = self.run_steps(always).await;
                            }
                            self.pass(max_pos(self.bp, always));
                            return Flow::Failed;
                        }
                        if flow == Flow::Failed && !rescue.is_empty() && self.marked == Some(Mark::Fatal) {
                            // Failed by another host's fatal error: the rescue takes it over,
                            // with nothing counted (ansible-core has no result of it).
                            self.marked = None;
                            flow = self.run_steps(rescue).await;
                        } else if flow == Flow::Failed && !rescue.is_empty() {
                            // As ansible-core, for the rest of the run (not only the rescue).
                            if let Some((task, result)) = self.last_failure.take() {
                                let rt = Arc::make_mut(&mut self.runtime);
                                rt.insert("ansible_failed_task".into(), task);
                                rt.insert("ansible_failed_result".into(), result);
                            }
                            // A failure a rescue takes over counts as rescued, not failed,
                            // whatever the rescue does next (ansible-core's recap).
                            self.recap.failed = self.recap.failed.saturating_sub(1);
                            self.recap.rescued += 1;
                            flow = self.run_steps(rescue).await;
                        }
                        self.pass(max_pos(self.bp, rescue));
                        // `end_role` skips the rest of the role, its `always` too; `end_host`
                        // ends the host's play there, without its `always` (ansible-core).
                        let ended_host = flow == Flow::Stop && self.ended;
                        if !matches!(flow, Flow::Unreachable | Flow::Interrupted | Flow::EndRole) && !ended_host {
                            let a = self.run_steps(always).await;
                            if flow == Flow::Continue {
                                flow = a;
                            }
                        }
                        self.pass(max_pos(self.bp, always));
                        flow
                    }
                };
                if flow != Flow::Continue {
                    return flow;
                }
            }
            Flow::Continue
        })
    }

    /// What identifies task `t` for this host's batch (with the looped-include items it is in).
    pub(crate) fn decision_key(&self, t: TaskId) -> DecisionKey {
        (self.bp.batch_of[self.idx], t, self.items())
    }

    /// The looped-include items this host is in: (include, item index), outermost first.
    fn items(&self) -> Vec<(TaskId, usize)> {
        self.iters.iter().map(|i| (i.task, i.index)).collect()
    }

    /// Whether position `next`, here, comes after where an `end_play`/`end_batch` or
    /// `any_errors_fatal` ended this host's batch.
    fn ended_before(&self, next: usize) -> bool {
        self.meta.ended(self.bp.batch_of[self.idx], next, &self.items(), &self.bp.pos)
    }

    /// A [`Step::Role`] on this host: its steps, unless the host has completed a role of the
    /// same key in this play; then only its dependencies, each decided on its own, and the
    /// role's own tasks are passed over silently (as ansible-core skips them).
    async fn role(&mut self, key: &Arc<str>, steps: &[Step]) -> Flow {
        if !self.roles_done.contains(key) {
            let flow = self.run_steps(steps).await;
            if flow == Flow::EndRole {
                // The rest of the role is passed over, up to its `role_complete`, which runs.
                self.meta.pass_over(self.idx, steps);
                self.pass(max_pos(self.bp, steps));
                self.roles_done.insert(key.clone());
                return Flow::Continue;
            }
            // ansible-core's implicit `role_complete` at the end of the role.
            if flow == Flow::Continue && self.roles_ran.contains(key) {
                self.roles_done.insert(key.clone());
            }
            return flow;
        }
        for s in steps {
            if let Step::Role { .. } = s {
                let flow = self.run_steps(std::slice::from_ref(s)).await;
                if flow != Flow::Continue {
                    return flow;
                }
                continue;
            }
            self.meta.pass_over(self.idx, std::slice::from_ref(s));
            self.pass(max_pos(self.bp, std::slice::from_ref(s)));
        }
        Flow::Continue
    }

    /// Notes that a task of `t`'s role ran here (not skipped): the role completes at its end.
    pub(crate) fn role_ran(&mut self, t: &prov_core::compile::TaskDef) {
        if let Some(key) = t.role.as_ref().and_then(|r| r.key.clone()) {
            self.roles_ran.insert(key);
        }
    }

    fn flush_handlers(&mut self) -> futures_util::future::BoxFuture<'_, Flow> {
        Box::pin(async move {
            let handlers = self.bp.play.handlers.clone();
            for h in handlers {
                if self.notified.remove(&h) {
                    if let Some(file) = self.bp.play.handler_files.get(&h) {
                        match self.handler_include(h).await {
                            Ok(true) => {}
                            Ok(false) => {
                                for id in file {
                                    self.notified.remove(id);
                                }
                            }
                            Err(f) => return f,
                        }
                        continue;
                    }
                    let f = self.task(h, true).await;
                    if f != Flow::Continue {
                        return f;
                    }
                }
            }
            Flow::Continue
        })
    }

    /// What every task does first: takes the facts delegated to this host, and waits for
    /// the hosts the task reads. `Err` is how the host goes on when that ends its play.
    async fn before_task(&mut self, t: TaskId, task: &prov_core::compile::TaskDef) -> Result<(), Flow> {
        self.take_delegated();
        if let Some(waits) = self.bp.waits.get(t).and_then(|w| w.get(self.idx)) {
            if let Err(why) = self.wait_for(task, waits).await {
                crate::task::emit_quiet_skip(self, task, &why);
                return Err(Flow::Stop);
            }
            // The hosts waited for may have ended the play meanwhile (an abort, or an end
            // of the batch before this task: `end_play`, `any_errors_fatal`).
            if self.abort.load(Ordering::SeqCst) || self.ended_before(self.bp.pos[t]) {
                return Err(Flow::EndPlay);
            }
            // What the hosts waited for delegated here meanwhile.
            self.take_delegated();
        }
        // A handler runs at a flush: what failed before that point counts.
        let next = if task.handler { self.progress } else { self.bp.pos[t] };
        if self.fatal_possible() && self.fatal_mark(next) {
            return Err(Flow::Failed);
        }
        Ok(())
    }

    /// Whether a host of the batch may fail the others (a task with `any_errors_fatal`, under
    /// a strategy that runs the batch's hosts in step).
    fn fatal_possible(&self) -> bool {
        self.bp.play.strategy == Strategy::Linear && self.meta.any_fatal
    }

    /// Waits until every other host of the batch has passed position `pos` or stopped.
    async fn wait_batch_past(&self, pos: usize) {
        for h in self.bp.batches[self.bp.batch_of[self.idx]].clone() {
            if h != self.idx {
                let mut rx = self.peers[h].clone();
                let _ =
                    rx.wait_for(|s| s.dead || s.progress == usize::MAX || s.past(pos, &self.iters, &self.bp.pos)).await;
            }
        }
    }

    /// Whether another host's fatal error (`any_errors_fatal`) before position `next` fails
    /// this host now ([`Mark::Fatal`]); a host that failed at that task itself is not marked.
    fn fatal_mark(&mut self, next: usize) -> bool {
        let key = (self.bp.batch_of[self.idx], self.idx);
        let (hit, seen) = self.meta.fatal_marks_before(key, self.marks_seen, next, &self.items(), &self.bp.pos);
        if !hit {
            return false;
        }
        self.marks_seen = seen;
        self.marked = Some(Mark::Fatal);
        // Failed before the task at `next` (what `clear_host_errors` compares).
        self.failed_at = next.min(self.bp.order.len());
        true
    }

    /// A handler's `include_tasks` on this host (see `Play::handler_files`): `Ok(true)` when
    /// its `when` holds and the tasks of its file run next.
    async fn handler_include(&mut self, t: TaskId) -> Result<bool, Flow> {
        let task = self.bp.play.tasks[t].clone();
        self.before_task(t, &task).await?;
        let r = crate::task::run_handler_include(self, &task);
        if r.is_err() {
            self.failed_at = self.bp.pos[t];
        }
        r
    }

    /// A [`Step::Include`] on this host: the include, then the file it names.
    async fn include(&mut self, t: TaskId, bases: &[PathBuf], options: &[(PathBuf, Vec<Step>)]) -> Flow {
        let task = self.bp.play.tasks[t].clone();
        if let Err(flow) = self.before_task(t, &task).await {
            return flow;
        }
        if task.loop_.is_some() {
            return self.include_loop(&task, bases, options).await;
        }
        let picked = crate::task::run_include(self, &task, bases, options);
        // Recorded before the peers see this host past those tasks (`run_once`).
        for (j, (_, steps)) in options.iter().enumerate() {
            if !matches!(picked, Ok(Some(i)) if i == j) {
                self.meta.pass_over(self.idx, steps);
            }
        }
        if let Err(Flow::Failed) = picked {
            // Decided before the peers waiting on this include wake up.
            self.failed_at = self.bp.pos[t];
            if task.any_errors_fatal {
                self.errors_are_fatal();
            }
        }
        self.pass(self.bp.pos[t].saturating_add(1));
        match picked {
            Ok(Some(i)) => {
                // The files before this one are other hosts' (each file runs in turn, as
                // ansible-core runs the hosts of each included file together).
                let before = options[..i].iter().map(|(_, steps)| max_pos(self.bp, steps)).max().unwrap_or(0);
                self.pass(before);
                self.run_steps(&options[i].1).await
            }
            Ok(None) => Flow::Continue,
            Err(flow) => flow,
        }
    }

    /// A looped [`Step::Include`] on this host: the items are decided, then the file of each
    /// included item runs in turn with the item's variables, in step with the other hosts of
    /// the batch (see [`Snapshot::past`]).
    async fn include_loop(
        &mut self,
        task: &Arc<prov_core::compile::TaskDef>,
        bases: &[PathBuf],
        options: &[(PathBuf, Vec<Step>)],
    ) -> Flow {
        let t = task.id;
        let runs = crate::task::run_include_loop(self, task, bases, options);
        for (j, (_, steps)) in options.iter().enumerate() {
            if !matches!(&runs, Ok(r) if r.iter().any(|(_, i, _)| *i == j)) {
                self.meta.pass_over(self.idx, steps);
            }
        }
        if let Err(Flow::Failed) = runs {
            self.failed_at = self.bp.pos[t];
            if task.any_errors_fatal {
                self.errors_are_fatal();
            }
        }
        let start = self.bp.pos[t].saturating_add(1);
        let end = options.iter().map(|(_, steps)| max_pos(self.bp, steps)).max().unwrap_or(0).max(start);
        let runs = match runs {
            Ok(r) => r,
            Err(flow) => {
                self.pass(start);
                return flow;
            }
        };
        self.pass(start);
        let mut flow = Flow::Continue;
        for (index, i, vars) in runs {
            self.iters.push(Iter { task: t, index, progress: start, end });
            if self.ended_before(start) {
                self.iters.pop();
                flow = Flow::EndPlay;
                break;
            }
            self.loop_vars.push(vars);
            self.publish(false);
            // The files before this one are other hosts' (see `include`).
            let before = options[..i].iter().map(|(_, steps)| max_pos(self.bp, steps)).max().unwrap_or(0);
            self.pass(before);
            flow = self.run_steps(&options[i].1).await;
            self.loop_vars.pop();
            self.iters.pop();
            if flow != Flow::Continue {
                break;
            }
        }
        self.pass(end);
        self.publish(false);
        flow
    }

    async fn task(&mut self, t: TaskId, handler: bool) -> Flow {
        let task = self.bp.play.tasks[t].clone();
        if let Err(flow) = self.before_task(t, &task).await {
            return flow;
        }
        if let Some(action) = task.meta {
            let flow = self.meta_task(&task, action, handler).await;
            if !handler {
                self.pass(self.bp.pos[t].saturating_add(1));
            }
            return flow;
        }
        // A templated `run_once` is read in host order before the task (and its throttle slot).
        let once = crate::task::once_if_start(self, &task).await;
        let broken = matches!(once, crate::task::OnceIf::Broken(_));
        let flow = {
            // `throttle`: the slot is held for the host's whole task (every item and retry).
            let _slot = match self.meta.throttles.get(&t) {
                Some(s) => s.acquire().await.ok(),
                None => None,
            };
            Flow::from(run_task(self, &task, once).await)
        };
        if matches!(flow, Flow::Failed | Flow::Unreachable) {
            self.failed_at = self.bp.pos[t];
            if task.run_once && self.marked.is_none() {
                // Before the peers waiting on this host wake up.
                self.meta.set_once_failed(self.decision_key(t));
            }
            // Decided before the peers waiting on this task wake up. A `run_once` that cannot
            // be read ends the play and the run, as the error does in ansible-core's strategy.
            if broken {
                self.ends_play_and_run();
            } else if task.any_errors_fatal && self.marked.is_none() {
                self.errors_are_fatal();
            }
        } else if flow == Flow::Continue {
            crate::task::once_if_end(self, &task).await;
        }
        if !handler && self.bp.pos[t] != usize::MAX {
            self.pass(self.bp.pos[t] + 1);
        }
        flow
    }

    /// `any_errors_fatal` after a failure here: as in ansible-core's linear strategy, the other
    /// hosts of the batch finish the task that failed (a skip is still counted), then are
    /// failed ([`Mark::Fatal`]); a batch whose hosts all end failed ends the run. Under
    /// `strategy: free`, the play and the run end.
    fn errors_are_fatal(&self) {
        match self.bp.play.strategy {
            Strategy::Free => {
                self.abort.store(true, Ordering::SeqCst);
                self.meta.break_run.store(true, Ordering::SeqCst);
            }
            // Hosts do not go task by task together: they start no new task.
            Strategy::Dag => self.ends_play_and_run(),
            Strategy::Linear => {
                self.meta.add_fatal_mark(self.bp.batch_of[self.idx], self.failed_at, self.items(), self.idx)
            }
        }
    }

    /// After an error ansible-core stops on (a `run_once` that cannot be read): the other hosts
    /// of the batch finish the task, then the play and the run end.
    fn ends_play_and_run(&self) {
        match (self.bp.play.strategy, self.meta.end_at.get(self.bp.batch_of[self.idx])) {
            (Strategy::Free, _) | (_, None) => self.abort.store(true, Ordering::SeqCst),
            (_, Some(_)) => {
                self.meta.end_batch(self.bp.batch_of[self.idx], self.failed_at, self.items(), &self.bp.pos);
                self.meta.end_play.store(true, Ordering::SeqCst);
            }
        }
        self.meta.break_run.store(true, Ordering::SeqCst);
    }

    /// A meta task on this host (see [`MetaAction`] for who evaluates `when`).
    async fn meta_task(&mut self, t: &Arc<prov_core::compile::TaskDef>, action: MetaAction, handler: bool) -> Flow {
        let ran = match action {
            MetaAction::Noop | MetaAction::RefreshInventory | MetaAction::ResetConnection => Ok(true),
            MetaAction::FlushHandlers
            | MetaAction::EndHost
            | MetaAction::EndRole
            | MetaAction::Unresolved
            | MetaAction::Include => crate::task::meta_condition(self, t),
            MetaAction::EndPlay | MetaAction::EndBatch | MetaAction::ClearFacts | MetaAction::ClearHostErrors => {
                // Ansible's free strategy runs meta tasks per host.
                if handler || self.bp.play.strategy == Strategy::Free {
                    crate::task::meta_condition(self, t)
                } else {
                    self.decide(t).await
                }
            }
        };
        let ran = match ran {
            Ok(r) => r,
            Err(e) => {
                // Ansible stops the whole run here (`ERROR!`, exit 1), on every host.
                self.failed_at = self.bp.pos[t.id];
                let loc = self.env.sources.location(t.span);
                self.meta.stop_run(format!("{loc}: meta task `{}`: {e}", t.name), false);
                self.abort.store(true, Ordering::SeqCst);
                return crate::task::meta_failed(self, t, e);
            }
        };
        if !ran {
            crate::task::emit_meta_skip(self, t);
            if action == MetaAction::Unresolved {
                // It stands for an include, whose skip Ansible counts.
                self.recap.skipped += 1;
            }
            return Flow::Continue;
        }
        let batch = self.bp.batch_of[self.idx];
        let pos = self.bp.pos[t.id];
        match action {
            // An include runs through `include`; reached here, it has no file to run.
            MetaAction::Noop | MetaAction::Include => Flow::Continue,
            MetaAction::ResetConnection => {
                // The host's session closes (the connection lasts the run otherwise); the next
                // task connects again.
                if let Some(c) = self.conn.take() {
                    c.reconnect().await;
                }
                Flow::Continue
            }
            MetaAction::RefreshInventory => {
                self.refresh.store(true, Ordering::SeqCst);
                Flow::Continue
            }
            MetaAction::FlushHandlers => self.flush_handlers().await,
            MetaAction::EndHost => {
                self.ended = true;
                Flow::Stop
            }
            MetaAction::EndRole => Flow::EndRole,
            MetaAction::EndPlay | MetaAction::EndBatch => {
                if action == MetaAction::EndPlay {
                    self.meta.end_play.store(true, Ordering::SeqCst);
                }
                if self.bp.play.strategy == Strategy::Free {
                    // Every host stops where it is.
                    self.abort.store(true, Ordering::SeqCst);
                } else {
                    self.meta.end_batch(batch, pos, self.items(), &self.bp.pos);
                }
                if action == MetaAction::EndPlay {
                    Flow::EndPlay
                } else {
                    Flow::Stop
                }
            }
            MetaAction::ClearFacts => {
                self.facts = Arc::new(crate::facts::layer(&VarMap::new()));
                self.facts_raw = None;
                self.gathered.clear();
                self.publish(false);
                Flow::Continue
            }
            MetaAction::Unresolved => {
                let msg = t.args.get_attr("msg").map(|m| m.to_string()).unwrap_or_default();
                let loc = self.env.sources.location(t.span);
                self.meta.stop_run(format!("{loc}: {msg}"), true);
                self.abort.store(true, Ordering::SeqCst);
                crate::task::meta_failed(self, t, msg)
            }
            MetaAction::ClearHostErrors => {
                if let Ok(mut c) = self.meta.cleared.lock() {
                    c.push((batch, pos));
                }
                Flow::Continue
            }
        }
    }

    /// The answer of a meta task that one host decides for its batch: the first host of the
    /// batch that reaches the task (in inventory order) evaluates `when`; the others wait for
    /// the hosts before them to reach it or stop, and take that answer.
    async fn decide(&mut self, t: &prov_core::compile::TaskDef) -> Result<bool, String> {
        let batch = self.bp.batch_of[self.idx];
        let pos = self.bp.pos[t.id];
        let members = self.bp.batches[batch].clone();
        let key = (batch, t.id, self.iters.iter().map(|i| (i.task, i.index)).collect::<Vec<_>>());
        for j in members {
            if j == self.idx {
                break;
            }
            let mut rx = self.peers[j].clone();
            let _ = rx.wait_for(|s| s.dead || s.past(pos, &self.iters, &self.bp.pos)).await;
            if let Some(d) = self.meta.decision(&key) {
                return Ok(d);
            }
        }
        let d = crate::task::meta_condition(self, t)?;
        if let Ok(mut m) = self.meta.decisions.lock() {
            m.insert(key, d);
        }
        Ok(d)
    }
}

fn max_pos(bp: &BoundPlay<'_>, steps: &[Step]) -> usize {
    let mut m = 0;
    for s in steps {
        match s {
            Step::Task(t) => {
                if bp.pos[*t] != usize::MAX {
                    m = m.max(bp.pos[*t] + 1)
                }
            }
            Step::Block { body, rescue, always } => {
                m = m.max(max_pos(bp, body)).max(max_pos(bp, rescue)).max(max_pos(bp, always));
            }
            Step::Include { task, options, .. } => {
                if bp.pos[*task] != usize::MAX {
                    m = m.max(bp.pos[*task] + 1);
                }
                for (_, steps) in options {
                    m = m.max(max_pos(bp, steps));
                }
            }
            Step::Role { steps, .. } => m = m.max(max_pos(bp, steps)),
            Step::FlushHandlers => {}
        }
    }
    m
}

/// Whether point `a` of a host's run comes strictly after point `b`: each point is the
/// looped-include items it is in (include, item index; outermost first) and a position in the
/// innermost one's file (or in the play, outside any).
fn after(a: (&[(TaskId, usize)], usize), b: (&[(TaskId, usize)], usize), pos: &[usize]) -> bool {
    let (ai, ap) = a;
    let (bi, bp) = b;
    for i in 0.. {
        match (ai.get(i), bi.get(i)) {
            (Some(x), Some(y)) if x.0 == y.0 => {
                if x.1 != y.1 {
                    return x.1 > y.1;
                }
            }
            (Some(x), Some(y)) => return pos[x.0] > pos[y.0],
            (Some(x), None) => return pos[x.0] >= bp,
            (None, Some(y)) => return ap > pos[y.0],
            (None, None) => return ap > bp,
        }
    }
    false
}

/// Runs one bound play to the end. `persist` carries host state in from earlier plays.
pub async fn run_play(
    bp: &BoundPlay<'_>,
    play_index: usize,
    env: &PlayEnv<'_>,
    mut persist: HashMap<String, HostPersist>,
) -> PlayResult {
    env.events.emit(Event::PlayStart { play: play_index, name: bp.play.name.clone(), hosts: bp.hosts.clone() });
    let n = bp.hosts.len();
    let groups = Value::from_pairs(env.inventory.groups_map().into_iter().map(|(k, v)| (k, Value::from(v))));
    let play_hosts_all = Value::from(bp.hosts_all.clone());
    let inv_vars: Vec<Arc<VarMap>> = bp.hosts.iter().map(|h| Arc::new(inventory_vars(env.inventory, h))).collect();
    let mut txs = Vec::with_capacity(n);
    let mut rxs = Vec::with_capacity(n);
    let mut states = Vec::with_capacity(n);
    for h in &bp.hosts {
        let p = persist.remove(h).unwrap_or_default();
        // Without gathered facts `ansible_facts` is still there, empty, as in Ansible.
        let facts = Arc::new(crate::facts::layer(p.facts.as_deref().unwrap_or(&VarMap::new())));
        let (tx, rx) = watch::channel(Snapshot {
            iters: Arc::new(Vec::new()),
            progress: 0,
            dead: false,
            ended: false,
            stopped_at: usize::MAX,
            runtime: p.runtime.clone(),
            included: p.included.clone(),
            facts: facts.clone(),
        });
        txs.push(tx);
        rxs.push(rx);
        states.push((p, facts));
    }
    let delegated = Arc::new(crate::facts::Delegated::default());
    let index: HashMap<String, usize> = bp.hosts.iter().enumerate().map(|(i, h)| (h.clone(), i)).collect();
    let outside = || env.inventory.hosts().filter(|h| !index.contains_key(&h.name));
    let others: HashMap<String, Arc<VarMap>> =
        outside().map(|h| (h.name.clone(), Arc::new(inventory_vars(env.inventory, &h.name)))).collect();
    let others_group_names: HashMap<String, Vec<String>> =
        outside().map(|h| (h.name.clone(), env.inventory.group_names_var(&h.name))).collect();
    let mut live = LiveHostVars {
        names: bp.hosts.clone(),
        index,
        inv_vars: inv_vars.clone(),
        magic: Vec::new(),
        rx: rxs.clone(),
        templar: env.templar.clone(),
        extra: env.opts.extra_vars.clone(),
        others,
        others_persist: persist.clone(),
        others_magic: Arc::new(VarMap::new()),
        others_group_names,
        delegated: delegated.clone(),
    };
    // Magic variables are the same for every task of a host in this play.
    let mut magic_base = VarMap::new();
    magic_base.insert("groups".into(), groups);
    let hosts_left =
        |members: Vec<usize>| Value::from_object(HostsLeft { names: bp.hosts.clone(), members, rx: rxs.clone() });
    // The play's hosts in the pattern's order (`hosts` runs in the play's `order`).
    let pattern_order: Vec<usize> = bp.hosts_all.iter().filter_map(|h| live.index.get(h).copied()).collect();
    magic_base.insert("ansible_play_hosts".into(), hosts_left(pattern_order));
    magic_base.insert("ansible_play_hosts_all".into(), play_hosts_all);
    magic_base.insert("ansible_play_name".into(), Value::from(bp.play.name.clone()));
    magic_base.insert("ansible_version".into(), ansible_version());
    if let Some(l) = &env.opts.limit {
        magic_base.insert("ansible_limit".into(), Value::from(l.clone()));
    }
    // Absolute, as in Ansible: templates build paths from it (`{{ playbook_dir }}/../files`).
    let playbook_dir = std::path::absolute(&env.playbook_dir).unwrap_or_else(|_| env.playbook_dir.clone());
    magic_base.insert("playbook_dir".into(), Value::from(playbook_dir.display().to_string()));
    magic_base
        .insert("ansible_check_mode".into(), Value::from(env.opts.mode.check == prov_core::module::CheckMode::Check));
    magic_base.insert("ansible_diff_mode".into(), Value::from(env.opts.mode.diff == prov_core::module::DiffMode::On));
    // Without --tags, Ansible's run tags are ['all'].
    let run_tags = if env.opts.tags.is_empty() { vec!["all".to_string()] } else { env.opts.tags.clone() };
    magic_base.insert("ansible_run_tags".into(), Value::from(run_tags));
    magic_base.insert("ansible_skip_tags".into(), Value::from(env.opts.skip_tags.clone()));
    // ansible-playbook's -v count; prov's own -v names slow tasks and is not a level.
    magic_base.insert("ansible_verbosity".into(), Value::from(0));
    magic_base.insert("omit".into(), Value::from(prov_core::template::OMIT));
    // ansible-core's hostvars leave out the play's variables and `omit` (a host's own
    // `hostvars[inventory_hostname]` too).
    const NOT_IN_HOSTVARS: [&str; 6] = [
        "ansible_play_hosts",
        "ansible_play_hosts_all",
        "ansible_play_name",
        "ansible_play_batch",
        "play_hosts",
        "omit",
    ];
    let not_in_hostvars = |m: &VarMap| {
        let mut m = m.clone();
        for k in NOT_IN_HOSTVARS {
            m.shift_remove(k);
        }
        m
    };
    live.others_magic = Arc::new(not_in_hostvars(&magic_base));
    let mut magics = Vec::with_capacity(n);
    for (i, h) in bp.hosts.iter().enumerate() {
        let mut m = magic_base.clone();
        m.insert("inventory_hostname".into(), Value::from(h.clone()));
        m.insert("inventory_hostname_short".into(), Value::from(h.split('.').next().unwrap_or(h).to_string()));
        m.insert("group_names".into(), Value::from(env.inventory.group_names_var(h)));
        let batch = hosts_left(bp.batches[bp.batch_of[i]].clone());
        m.insert("ansible_play_batch".into(), batch.clone());
        // Deprecated in Ansible: the batch, not the play's hosts.
        m.insert("play_hosts".into(), batch);
        magics.push(m);
    }
    live.magic = magics.iter().map(|m| Arc::new(not_in_hostvars(m))).collect();
    let hostvars = Value::from_object(HostVars(Arc::new(live)));
    let magics: Vec<Arc<VarMap>> = magics
        .into_iter()
        .map(|mut m| {
            m.insert("hostvars".into(), hostvars.clone());
            Arc::new(m)
        })
        .collect();
    let forks = Semaphore::new(env.opts.forks.max(1));
    let abort = AtomicBool::new(false);
    let refresh = AtomicBool::new(false);
    let meta = MetaShared::new(&bp.batches, &bp.play.tasks);
    let gather = needs_facts(bp);
    let mut futs = FuturesUnordered::new();
    for (i, (tx, (p, facts))) in txs.into_iter().zip(states).enumerate() {
        let mut w = Worker {
            env,
            bp,
            play_index,
            idx: i,
            host: bp.hosts[i].clone(),
            inv_vars: inv_vars[i].clone(),
            magic: magics[i].clone(),
            runtime: p.runtime,
            included: p.included,
            facts,
            facts_raw: p.facts,
            gathered: p.gathered,
            delegated: delegated.clone(),
            notified: BTreeSet::new(),
            publish: tx,
            peers: &rxs,
            recap: HostRecap { host: bp.hosts[i].clone(), ..Default::default() },
            conn: None,
            fact_cache: FactCache::default(),
            forks: &forks,
            abort: &abort,
            refresh: &refresh,
            meta: &meta,
            progress: 0,
            iters: Vec::new(),
            loop_vars: Vec::new(),
            failed_at: 0,
            last_failure: None,
            roles_ran: HashSet::new(),
            roles_done: HashSet::new(),
            ignore_errors_now: None,
            delegate_facts_now: None,
            no_log_now: None,
            diff_now: None,
            ended: false,
            marked: None,
            marks_seen: 0,
        };
        futs.push(async move {
            let flow = host_main(&mut w, gather).await;
            w.progress = usize::MAX;
            let dead = !matches!(flow, Flow::Continue | Flow::EndPlay | Flow::Stop | Flow::EndRole);
            // Decide about the play before peers waiting on this host wake up.
            if dead && bp.play.any_errors_fatal && flow == Flow::Failed && w.marked.is_none() {
                w.errors_are_fatal();
            }
            if dead {
                // As ansible-core: `max_fail_percentage` counts the batch's failed hosts (not the
                // unreachable ones); a batch whose hosts all failed or became unreachable ends the
                // play and the run. Counted, so that exactly one host sees the last of them.
                let b = bp.batch_of[i];
                let size = bp.batch_sizes[b];
                let mut stop = w.meta.batch_dead[b].fetch_add(1, Ordering::SeqCst) + 1 == size;
                if flow == Flow::Failed {
                    let failed = w.meta.batch_failed[b].fetch_add(1, Ordering::SeqCst) + 1;
                    stop |= bp.play.max_fail_percentage.is_some_and(|maxp| batch_exceeds(failed, size, maxp));
                }
                if stop && flow != Flow::Interrupted {
                    w.abort.store(true, Ordering::SeqCst);
                    w.meta.break_run.store(true, Ordering::SeqCst);
                }
            }
            w.publish(dead);
            (
                i,
                flow,
                w.failed_at,
                w.recap,
                HostPersist { runtime: w.runtime, included: w.included, facts: w.facts_raw, gathered: w.gathered },
            )
        });
    }
    let mut out = PlayResult::default();
    let mut recaps: Vec<Option<HostRecap>> = vec![None; n];
    let mut failed_at = vec![None; n];
    while let Some((i, flow, at, recap, p)) = futs.next().await {
        if matches!(flow, Flow::Failed | Flow::Unreachable) {
            failed_at[i] = Some(at);
        }
        if flow == Flow::Interrupted {
            out.interrupted = true;
        }
        recaps[i] = Some(recap);
        out.persist.insert(bp.hosts[i].clone(), p);
    }
    for (b, out_there) in bp.sitting_out.iter().enumerate() {
        if meta.cleared_in(b) {
            out.cleared.extend(out_there.iter().cloned());
        }
    }
    for (i, at) in failed_at.into_iter().enumerate() {
        let Some(at) = at else { continue };
        if meta.clears(bp.batch_of[i], at) {
            out.cleared.insert(bp.hosts[i].clone());
        } else {
            out.dead.insert(bp.hosts[i].clone());
        }
    }
    // Hosts outside the play keep what they had; what `delegate_facts` set and no host took in
    // is added to what the host carries.
    for (h, p) in persist {
        out.persist.entry(h).or_insert(p);
    }
    for (h, pending) in delegated.drain() {
        let p = out.persist.entry(h).or_default();
        if !pending.facts.is_empty() {
            p.facts = Some(Arc::new(crate::facts::merge(p.facts.as_deref(), &pending.facts)));
        }
        let rt = Arc::make_mut(&mut p.runtime);
        for (k, v) in pending.vars {
            rt.insert(k, v);
        }
    }
    out.recaps = recaps.into_iter().flatten().collect();
    out.fatal = meta.fatal.lock().ok().and_then(|mut f| f.take());
    out.break_run = meta.break_run.load(Ordering::SeqCst);
    out.refresh_inventory = refresh.load(Ordering::SeqCst);
    out.inventory = meta.inventory.lock().ok().and_then(|mut i| i.take());
    env.events.emit(Event::PlayEnd { play: play_index });
    out
}

/// A host's inventory variables, with `inventory_file`/`inventory_dir` under them (Ansible
/// sets those on the host when it reads the source; the inventory's own values win).
/// Escalations of a bound play that cannot run, found before anything connects: for each
/// task (and the play's fact gathering) whose `become` some host cannot do as asked (an
/// unsupported `ansible_become_method`, `su` with a become password), where it is written
/// and why, with the first such host.
pub fn become_refusals(bp: &BoundPlay<'_>, inv: &Inventory) -> Vec<(prov_core::source::Span, String)> {
    let vars: Vec<(&String, VarMap)> = bp.hosts.iter().map(|h| (h, inventory_vars(inv, h))).collect();
    let gather = needs_facts(bp).then_some((bp.play.span, &bp.play.become_));
    let tasks = bp.order.iter().filter_map(|&t| bp.play.tasks.get(t)).map(|t| (t.span, &t.become_));
    let mut out: Vec<(prov_core::source::Span, String)> = Vec::new();
    for (span, become_) in gather.into_iter().chain(tasks) {
        if out.iter().any(|(s, _)| *s == span) {
            continue;
        }
        if let Some((h, e)) =
            vars.iter().find_map(|(h, v)| crate::task::effective_become(become_.clone(), v).err().map(|e| (h, e)))
        {
            out.push((span, format!("{h}: {e}")));
        }
    }
    out
}

fn inventory_vars(inv: &Inventory, host: &str) -> VarMap {
    let mut vars = inv.source_vars(host);
    vars.extend(inv.host_vars(host));
    vars
}

/// Ansible's `max_fail_percentage`: the play stops when *more* than that share of a batch failed.
fn batch_exceeds(failed: usize, size: usize, max_percentage: f64) -> bool {
    size > 0 && (failed as f64) * 100.0 / (size as f64) > max_percentage
}

/// Whether the play gathers facts (on every host, or under `gathering = smart` on those
/// without facts yet: [`crate::task::gather_facts`] decides per host).
fn needs_facts(bp: &BoundPlay<'_>) -> bool {
    bp.play.gather_facts != prov_core::compile::GatherFacts::No
}

async fn host_main(w: &mut Worker<'_>, gather: bool) -> Flow {
    // Serial batches: wait for the previous batch to finish the play.
    let batch = w.bp.batch_of[w.idx];
    if batch > 0 {
        let members = w.bp.batches[batch - 1].clone();
        for h in members {
            let mut rx = w.peers[h].clone();
            let _ = rx.wait_for(|s| s.progress == usize::MAX).await;
        }
        // The previous batch's hosts decided about `max_fail_percentage` and a batch that all
        // failed as they ended (`abort`).
        if w.abort.load(Ordering::SeqCst) || w.meta.end_play.load(Ordering::SeqCst) {
            w.meta.gathered[batch].1.send_modify(|(n, _)| *n += 1);
            return Flow::EndPlay;
        }
    }
    if gather {
        let r = crate::task::gather_facts(w).await;
        let failed = matches!(r, Err(Flow::Failed));
        let dead = failed || matches!(r, Err(Flow::Unreachable));
        // A host that cannot gather under `any_errors_fatal` ends the play and the run, as a
        // failed task does; the others do not start the first task (linear: they wait here).
        if dead && w.bp.play.any_errors_fatal {
            w.abort.store(true, Ordering::SeqCst);
            w.meta.break_run.store(true, Ordering::SeqCst);
        }
        let (size, done) = &w.meta.gathered[batch];
        done.send_modify(|(n, f)| {
            *n += 1;
            *f += usize::from(failed);
        });
        if w.bp.play.strategy == Strategy::Linear {
            let (_, f) = done.subscribe().wait_for(|(n, _)| *n >= *size).await.map(|v| *v).unwrap_or((0, 0));
            // Gathering failures count for `max_fail_percentage` as a task's do (unreachable
            // hosts do not, as for any task).
            if let Some(maxp) = w.bp.play.max_fail_percentage.filter(|_| f > 0) {
                if batch_exceeds(f, w.bp.batch_sizes[batch], maxp) {
                    w.abort.store(true, Ordering::SeqCst);
                    w.meta.break_run.store(true, Ordering::SeqCst);
                }
            }
        }
        match r {
            // An unreachable host the play's `ignore_unreachable` lets go on.
            Ok(()) | Err(Flow::Continue) => {}
            Err(flow) => return flow,
        }
    }
    let program = &w.bp.play.program;
    let flow = w.run_steps(program).await;
    if flow == Flow::Continue && w.fatal_possible() {
        // A fatal error in the batch's last task fails this host too: wait for the batch to
        // be through its tasks.
        let end = w.bp.order.len();
        w.pass(end);
        w.wait_batch_past(end.saturating_sub(1)).await;
        if w.fatal_mark(usize::MAX) {
            return Flow::Failed;
        }
    }
    flow
}
