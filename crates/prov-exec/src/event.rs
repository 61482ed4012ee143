//! Events: the walker only emits these; the human, JSON and JUnit reporters consume them.

use prov_core::module::{Diff, Planned};
use serde::Serialize;

/// How one (task, host) ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Hash, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Nothing changed.
    Ok,
    /// Something changed (or would, in check mode).
    Changed,
    /// Condition false, check mode, or tag selection.
    Skipped,
    /// The task failed and the host stops.
    Failed,
    /// The task failed but `ignore_errors` let the host go on.
    Ignored,
    /// The host cannot be reached.
    Unreachable,
}

/// Something that happened during a run.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// A play starts.
    PlayStart {
        /// 0-based play index.
        play: usize,
        /// Play name.
        name: String,
        /// Hosts in the play.
        hosts: Vec<String>,
    },
    /// A host starts a task (the first host to do so makes reporters print the task header).
    TaskStart {
        /// Play index.
        play: usize,
        /// Task id within the play.
        task: usize,
        /// Task name.
        name: String,
        /// Module.
        module: String,
        /// Host.
        host: String,
    },
    /// A host finished a task (or one loop item of it).
    HostResult(Box<HostResult>),
    /// Before a task, a host waits for another host to get past a task there: it reads that
    /// host's `hostvars`, delegates to it, or waits for its batch (`linear`, `serial`). For
    /// live output; the `TaskStart` of the task (or its result, when the host waited for
    /// stopped) ends the wait.
    Waiting {
        /// Play index.
        play: usize,
        /// Task id.
        task: usize,
        /// Task name.
        name: String,
        /// The host that waits.
        host: String,
        /// The host it waits for.
        on: String,
        /// Why (`reason`, and `var` for a `hostvars` read).
        #[serde(flatten)]
        reason: WaitFor,
    },
    /// A host starts applying the changes a module planned (one loop item): the long part of
    /// a task, such as creating a VM. For live output.
    ApplyStart(Box<Apply>),
    /// It ended (done or failed) applying them.
    ApplyEnd(Box<Apply>),
    /// A warning for the user.
    Warning {
        /// Text.
        message: String,
    },
    /// A play ended.
    PlayEnd {
        /// Play index.
        play: usize,
    },
    /// The final counts.
    Recap {
        /// Per host.
        hosts: Vec<HostRecap>,
        /// The run was interrupted (Ctrl-C).
        interrupted: bool,
    },
}

/// Why a host waits for another (JSON: `{"reason": "hostvars", "var": "join_token"}`,
/// `{"reason": "delegate_to"}`, `{"reason": "linear"}`, `{"reason": "serial"}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum WaitFor {
    /// The task reads `hostvars[on].var` (`var` is `*` when the read names no variable).
    Hostvars {
        /// The variable read.
        var: String,
    },
    /// The task is delegated to `on`, which must reach it first.
    DelegateTo,
    /// `strategy: linear`: every host of the batch finishes the task before, `on` among them.
    Linear,
    /// `serial`: the previous batch, `on` among its hosts, finishes the play first.
    Serial,
}

/// Changes a host applies in a task (see [`Event::ApplyStart`]).
#[derive(Debug, Clone, Serialize)]
pub struct Apply {
    /// Play index.
    pub play: usize,
    /// Task id.
    pub task: usize,
    /// Task name.
    pub name: String,
    /// Host.
    pub host: String,
    /// Loop item label, if this is one item of a loop.
    pub item: Option<String>,
    /// The changes.
    pub changes: Vec<PlannedOut>,
}

/// The result of one task on one host.
#[derive(Debug, Clone, Serialize)]
pub struct HostResult {
    /// Play index.
    pub play: usize,
    /// Task id.
    pub task: usize,
    /// Task name.
    pub name: String,
    /// Module.
    pub module: String,
    /// Host.
    pub host: String,
    /// Outcome.
    pub status: Status,
    /// Whether it changed something.
    pub changed: bool,
    /// Loop item label, if this is one item of a loop.
    pub item: Option<String>,
    /// Message (failure reason, debug message).
    pub msg: Option<String>,
    /// Wall time.
    pub duration_ms: u64,
    /// Diffs (empty unless --diff or check mode asked, and not no_log).
    pub diff: Vec<DiffOut>,
    /// What it changed, for `prov plan`.
    pub planned: Vec<PlannedOut>,
    /// Start of stdout (not with no_log).
    pub stdout: Option<String>,
    /// Start of stderr (not with no_log).
    pub stderr: Option<String>,
    /// `file:line:col` of the task.
    pub location: String,
    /// Whether this is the root cause of the host stopping (false for quiet consequences).
    pub root_cause: bool,
    /// Warnings of the module (its result's `warnings`).
    pub warnings: Vec<String>,
    /// The registered result's fields and the type of each (`str`, `int`, `float`, `bool`,
    /// `list`, `dict`, `null`), as Python names them: what the conformance suite compares with
    /// ansible-core's results. Names only, never values.
    pub fields: std::collections::BTreeMap<String, &'static str>,
}

/// The fields of a result and Python's name for the type of each value.
pub fn fields_of(v: &minijinja::Value) -> std::collections::BTreeMap<String, &'static str> {
    use minijinja::value::ValueKind;
    let mut out = std::collections::BTreeMap::new();
    if v.kind() != ValueKind::Map {
        return out;
    }
    for k in v.try_iter().into_iter().flatten() {
        let x = v.get_item(&k).unwrap_or_default();
        let ty = match x.kind() {
            ValueKind::Undefined | ValueKind::None => "null",
            ValueKind::Bool => "bool",
            ValueKind::Number if x.is_integer() => "int",
            ValueKind::Number => "float",
            ValueKind::String | ValueKind::Bytes => "str",
            ValueKind::Seq | ValueKind::Iterable => "list",
            ValueKind::Map => "dict",
            _ => "other",
        };
        out.insert(k.to_string(), ty);
    }
    out
}

/// A diff in an event.
#[derive(Debug, Clone, Serialize)]
pub struct DiffOut {
    /// What it is of.
    pub header: String,
    /// Before.
    pub before: String,
    /// After.
    pub after: String,
    /// Why before and after are not shown, when they are not.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<String>,
}

impl From<&Diff> for DiffOut {
    fn from(d: &Diff) -> Self {
        DiffOut {
            header: d.header.clone(),
            before: d.before.clone(),
            after: d.after.clone(),
            skipped: d.skipped.clone(),
        }
    }
}

/// A planned change in an event.
#[derive(Debug, Clone, Serialize)]
pub struct PlannedOut {
    /// `create`, `modify`, `delete`, `run`.
    pub action: String,
    /// Resource kind.
    pub resource: String,
    /// Which.
    pub name: String,
}

impl From<&Planned> for PlannedOut {
    fn from(p: &Planned) -> Self {
        let action = match p.action {
            prov_core::module::Action::Create => "create",
            prov_core::module::Action::Modify => "modify",
            prov_core::module::Action::Scale => "scale",
            prov_core::module::Action::Delete => "delete",
            prov_core::module::Action::Run => "run",
        };
        PlannedOut { action: action.into(), resource: p.resource.into(), name: p.name.clone() }
    }
}

/// Per-host counts, as in Ansible's PLAY RECAP.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct HostRecap {
    /// Host.
    pub host: String,
    /// ok (includes changed, as in Ansible).
    pub ok: u32,
    /// changed.
    pub changed: u32,
    /// unreachable.
    pub unreachable: u32,
    /// failed.
    pub failed: u32,
    /// skipped.
    pub skipped: u32,
    /// rescued.
    pub rescued: u32,
    /// ignored.
    pub ignored: u32,
}

impl HostRecap {
    /// Nothing was counted (ansible-core leaves such a host out of its recap).
    pub fn is_empty(&self) -> bool {
        [self.ok, self.changed, self.unreachable, self.failed, self.skipped, self.rescued, self.ignored]
            .iter()
            .all(|n| *n == 0)
    }
}

/// Where events go. Implemented by a channel sender in the binary; tests collect into a vec.
pub trait EventSink: Send + Sync {
    /// Delivers one event (must not block for long).
    fn emit(&self, e: Event);
}

impl EventSink for tokio::sync::mpsc::UnboundedSender<Event> {
    fn emit(&self, e: Event) {
        let _ = self.send(e);
    }
}
