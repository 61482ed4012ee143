//! One task on one host: conditions, loop items, templated arguments, the module run,
//! `until` retries, `changed_when`/`failed_when`, `register`, `notify`, and the events.

use crate::event::{DiffOut, Event, HostResult, PlannedOut, Status};
use crate::runner::{Flow, OnceMark, Worker};
use minijinja::value::ValueKind;
use minijinja::Value;
use prov_core::compile::{Cond, Flag, LoopDef, LoopItems, LoopKeyword, Step, TaskDef};
use prov_core::connection::{Connection, ConnectionError, ExecOutput, ExecRequest};
use prov_core::module::{CheckMode, FileSource, ModuleCtx, ModuleError, Outcome, RunMode, RunsOn, Vars};
use prov_core::template::{Templar, OMIT};
use prov_core::vars::{Layer, VarMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

/// How a task ended for the host.
pub(crate) enum TaskFlow {
    Continue,
    Failed,
    Unreachable,
    Interrupted,
}

impl From<TaskFlow> for Flow {
    fn from(f: TaskFlow) -> Flow {
        match f {
            TaskFlow::Continue => Flow::Continue,
            TaskFlow::Failed => Flow::Failed,
            TaskFlow::Unreachable => Flow::Unreachable,
            TaskFlow::Interrupted => Flow::Interrupted,
        }
    }
}

/// Module-facing variables: the task's scope.
struct ScopeVars {
    templar: Arc<Templar>,
    ctx: Value,
}

impl Vars for ScopeVars {
    fn render(&self, template: &str) -> Result<String, String> {
        self.templar.render_file(template, &self.ctx)
    }
    fn render_file(&self, template: &str, search: &[PathBuf]) -> Result<String, String> {
        self.templar.render_file_in(template, &self.ctx, search)
    }
    fn render_file_with(
        &self,
        template: &str,
        search: &[PathBuf],
        o: &prov_core::template::FileOverrides,
    ) -> Result<String, String> {
        self.templar.render_file_with(template, &self.ctx, search, o)
    }
    fn eval(&self, expr: &str) -> Result<Value, String> {
        let t = self.templar.compile_expr(expr)?;
        self.templar.render(&t, &self.ctx)
    }
    fn eval_or_undefined(&self, expr: &str) -> Result<Result<Value, String>, String> {
        self.templar.eval_or_undefined(expr, &self.ctx)
    }
    fn eval_condition(&self, expr: &str) -> Result<Value, String> {
        let c = self.templar.compile_condition(expr)?;
        self.templar.render_condition(&c, &self.ctx)
    }
}

/// Controller files for a task: role dirs, then the playbook dir.
struct TaskFiles(Arc<Vec<PathBuf>>);

impl FileSource for TaskFiles {
    fn find(&self, kind: &str, name: &str) -> Result<PathBuf, String> {
        // As Ansible's loader: a name starting with `~` or `/` is a controller path, with
        // `~` and `$VAR` expanded; anything else is searched for.
        let expanded =
            if name.starts_with(['~', '/']) { prov_core::paths::expand_local(name) } else { name.to_string() };
        let name = expanded.as_str();
        let p = PathBuf::from(name);
        if p.is_absolute() {
            return if p.exists() { Ok(p) } else { Err(format!("{name} does not exist")) };
        }
        let mut tried = Vec::new();
        for d in self.0.iter() {
            for cand in [d.join(kind).join(name), d.join(name)] {
                if cand.exists() {
                    return Ok(cand);
                }
                tried.push(cand.display().to_string());
            }
        }
        Err(format!("could not find `{name}` (tried {})", tried.join(", ")))
    }

    fn search_path(&self, kind: &str) -> Vec<PathBuf> {
        self.0.iter().flat_map(|d| [d.join(kind), d.clone()]).collect()
    }
}

/// A connection for controller-only modules: using it is a bug, reported as a failure.
struct NoConnection;

#[async_trait::async_trait]
impl Connection for NoConnection {
    async fn exec(&self, _r: ExecRequest) -> Result<ExecOutput, ConnectionError> {
        Err(ConnectionError::Transfer {
            host: "controller".into(),
            path: String::new(),
            reason: "controller module tried to reach the host".into(),
        })
    }
    async fn put(
        &self,
        p: &str,
        _d: &[u8],
        _m: Option<u32>,
        _b: Option<&prov_core::connection::Become>,
    ) -> Result<(), ConnectionError> {
        Err(ConnectionError::Transfer { host: "controller".into(), path: p.into(), reason: "no connection".into() })
    }
    async fn get(
        &self,
        p: &str,
        _b: Option<&prov_core::connection::Become>,
    ) -> Result<Option<Vec<u8>>, ConnectionError> {
        Err(ConnectionError::Transfer { host: "controller".into(), path: p.into(), reason: "no connection".into() })
    }
}

fn location(w: &Worker<'_>, t: &TaskDef) -> String {
    w.env.sources.location(t.span).to_string()
}

fn excerpt(v: Option<&Value>) -> Option<String> {
    let s = v?.as_str()?.to_string();
    if s.is_empty() {
        return None;
    }
    Some(if s.len() > 2000 { format!("{}…", &s[..s.floor_char_boundary(2000)]) } else { s })
}

pub(crate) fn emit_quiet_skip(w: &mut Worker<'_>, t: &TaskDef, why: &str) {
    w.recap.skipped += 1;
    w.env.events.emit(Event::HostResult(Box::new(skipped_result(w, t, format!("skipped: {why}")))));
}

/// The result of a task skipped on this host, with `msg`.
fn skipped_result(w: &Worker<'_>, t: &TaskDef, msg: String) -> HostResult {
    HostResult {
        play: w.play_index,
        task: t.id,
        name: t.name.clone(),
        module: t.module.to_string(),
        host: w.host.clone(),
        status: Status::Skipped,
        changed: false,
        item: None,
        msg: Some(msg),
        duration_ms: 0,
        diff: Vec::new(),
        planned: Vec::new(),
        stdout: None,
        stderr: None,
        location: location(w, t),
        root_cause: false,
        warnings: Vec::new(),
        fields: Default::default(),
    }
}

/// Whether a meta task's `when` holds on this host.
pub(crate) fn meta_condition(w: &Worker<'_>, t: &TaskDef) -> Result<bool, String> {
    let ctx = w.scope(t.id, Vec::new());
    eval_conds(&w.env.templar, &t.when, &ctx)
}

/// Tells the reporters when a module starts and ends applying what it planned (one item).
struct ApplyEvents<'w, 'a> {
    w: &'w Worker<'a>,
    t: &'w TaskDef,
    item: Option<String>,
}

impl ApplyEvents<'_, '_> {
    /// The event's body; `no_log` hides the item and the names, as in the task's result.
    fn apply(&self, planned: &[prov_core::module::Planned]) -> Box<crate::event::Apply> {
        let hide = hidden(self.w, self.t);
        Box::new(crate::event::Apply {
            play: self.w.play_index,
            task: self.t.id,
            name: self.t.name.clone(),
            host: self.w.host.clone(),
            item: if hide { self.item.as_ref().map(|_| "(hidden)".to_string()) } else { self.item.clone() },
            changes: planned.iter().map(|p| planned_out(p, hide)).collect(),
        })
    }
}

/// A planned change in an event; `no_log` hides its name.
fn planned_out(p: &prov_core::module::Planned, hide: bool) -> PlannedOut {
    let mut p = PlannedOut::from(p);
    if hide {
        p.name = "(hidden: no_log)".into();
    }
    p
}

impl prov_core::module::Progress for ApplyEvents<'_, '_> {
    fn applying(&self, planned: &[prov_core::module::Planned]) {
        self.w.env.events.emit(Event::ApplyStart(self.apply(planned)));
    }
    fn applied(&self, planned: &[prov_core::module::Planned]) {
        self.w.env.events.emit(Event::ApplyEnd(self.apply(planned)));
    }
}

/// The start of a task on this host (meta tasks that show nothing, as in Ansible, skip it).
fn emit_task_start(w: &Worker<'_>, t: &TaskDef) {
    w.env.events.emit(Event::TaskStart {
        play: w.play_index,
        task: t.id,
        name: t.name.clone(),
        module: t.module.to_string(),
        host: w.host.clone(),
    });
}

/// A meta task whose `when` was false: shown as skipped but, as in Ansible, not counted.
pub(crate) fn emit_meta_skip(w: &Worker<'_>, t: &TaskDef) {
    emit_task_start(w, t);
    w.env.events.emit(Event::HostResult(Box::new(skipped_result(w, t, "meta: conditional evaluated to false".into()))));
}

/// A meta task whose `when` could not be evaluated fails on this host.
pub(crate) fn meta_failed(w: &mut Worker<'_>, t: &Arc<TaskDef>, msg: String) -> Flow {
    emit_task_start(w, t);
    fail_task(w, t, msg).into()
}

/// The include of a [`Step::Include`] on this host: `Ok(Some(i))` when its `when` holds and
/// its file is `options[i]`, `Ok(None)` when skipped, `Err` with the host's flow when it
/// failed (a `when` or a file name that does not render, a file that does not exist).
pub(crate) fn run_include(
    w: &mut Worker<'_>,
    t: &Arc<TaskDef>,
    bases: &[PathBuf],
    options: &[(PathBuf, Vec<Step>)],
) -> Result<Option<usize>, Flow> {
    let flow = Flow::from;
    let Some(ctx) = include_starts(w, t)? else { return Ok(None) };
    let picked = match pick_file(w, t, bases, options, &ctx) {
        Ok(p) => p,
        Err(Fail::Task(e)) => return Err(flow(fail_task(w, t, e))),
        Err(Fail::Fatal(e)) => return Err(flow(fatal_task(w, t, e))),
    };
    let mut o = Outcome::ok();
    o.msg = Some(format!("included: {}", picked.shown));
    let value = picked.value;
    whole_task_valued(w, t, o, Status::Ok, value);
    Ok(Some(picked.index))
}

/// The start of an include on this host: its `when`, evaluated once. `Ok(Some(scope))` when
/// it holds, `Ok(None)` when it skipped the include (reported and counted), `Err` with the
/// host's flow when it cannot be evaluated (the include failed).
fn include_starts(w: &mut Worker<'_>, t: &Arc<TaskDef>) -> Result<Option<Value>, Flow> {
    emit_task_start(w, t);
    let templar = w.env.templar.clone();
    let ctx = w.scope(t.id, Vec::new());
    match first_false(&templar, &t.when, &ctx) {
        Err(e) => Err(Flow::from(fail_task(w, t, e))),
        Ok(Some(c)) => {
            skip_task(w, t, skipped_by(c));
            Ok(None)
        }
        Ok(None) => Ok(Some(ctx)),
    }
}

/// A handler's `include_tasks` on this host (its file was found before the run): reported
/// `included:` and counted when its `when` holds (`Ok(true)`), skipped otherwise.
pub(crate) fn run_handler_include(w: &mut Worker<'_>, t: &Arc<TaskDef>) -> Result<bool, Flow> {
    if include_starts(w, t)?.is_none() {
        return Ok(false);
    }
    let file = t.args.get_attr("file").unwrap_or_default();
    let mut o = Outcome::ok();
    o.msg = Some(format!("included: {file}"));
    let value = Value::from_pairs(vec![
        ("changed".to_string(), Value::from(false)),
        ("include".to_string(), file),
        ("include_args".to_string(), Value::from_pairs(Vec::<(String, Value)>::new())),
    ]);
    whole_task_valued(w, t, o, Status::Ok, value);
    Ok(true)
}

/// Why an include's file could not be had: the task fails (`ignore_errors` holds), or the
/// host fails whatever `ignore_errors` says (ansible-core's errors loading the file).
enum Fail {
    Task(String),
    Fatal(String),
}

/// The file an include names, rendered in `ctx`.
struct Picked {
    /// Among the options compiled before the run.
    index: usize,
    /// What the `included:` line shows.
    shown: String,
    /// What the include registers.
    value: Value,
}

fn pick_file(
    w: &Worker<'_>,
    t: &Arc<TaskDef>,
    bases: &[PathBuf],
    options: &[(PathBuf, Vec<Step>)],
    ctx: &Value,
) -> Result<Picked, Fail> {
    let written = t.args.get_attr("file").ok().and_then(|f| f.as_str().map(str::to_string)).unwrap_or_default();
    if let Some(searched) = t.args.get_attr("missing_role").ok().and_then(|s| s.as_str().map(str::to_string)) {
        return Err(Fail::Fatal(format!("the role '{written}' was not found in {searched}")));
    }
    if options.len() == 1 && bases.is_empty() {
        // An `include_role`: the role was found before the run.
        let args = Value::from_pairs(vec![("name".to_string(), Value::from(written.clone()))]);
        let value =
            Value::from_pairs(vec![("changed".to_string(), Value::from(false)), ("include_args".to_string(), args)]);
        return Ok(Picked { index: 0, shown: written, value });
    }
    let name = match w.env.templar.render_str(&written, ctx) {
        Ok(v) => v.to_string(),
        Err(e) => return Err(Fail::Task(e)),
    };
    let expanded = prov_core::paths::expand_user_local(&name);
    let path = if Path::new(&expanded).is_absolute() {
        PathBuf::from(&expanded)
    } else {
        bases.iter().map(|b| b.join(&expanded)).find(|p| p.is_file()).unwrap_or_else(|| {
            // ansible-core names the file as if it were beside the playbook.
            bases.last().map_or_else(|| PathBuf::from(&expanded), |b| b.join(&expanded))
        })
    };
    let Ok(canon) = path.canonicalize() else {
        let shown = std::path::absolute(&path).unwrap_or(path);
        return Err(Fail::Fatal(format!("Could not find or access '{}' on the Ansible Controller.", shown.display())));
    };
    let Some(index) = options.iter().position(|(p, _)| *p == canon) else {
        return Err(Fail::Fatal(format!(
            "include_tasks: {} was not among the files prov compiled for `{written}` before the run (task files whose names fit the literal parts of the name); name the file literally",
            canon.display()
        )));
    };
    let not_list = t
        .args
        .get_attr("not_task_lists")
        .ok()
        .and_then(|l| l.try_iter().ok().map(|mut l| l.any(|p| p.as_str() == Some(&*canon.display().to_string()))));
    if not_list == Some(true) {
        // ansible-core reads the file only now, and fails the host (as for a missing file).
        return Err(Fail::Fatal("included task files must contain a list of tasks".into()));
    }
    let value = Value::from_pairs(vec![
        ("changed".to_string(), Value::from(false)),
        ("include".to_string(), Value::from(name)),
        ("include_args".to_string(), Value::from_pairs(Vec::<(String, Value)>::new())),
    ]);
    Ok(Picked { index, shown: canon.display().to_string(), value })
}

/// A looped include on this host, as ansible-core runs one: every item is decided first (its
/// `when`, the file it names), reported and registered, each included item counting once in
/// the recap; a file that cannot be had fails the host before any item's tasks run. `Ok`
/// lists, per included item, its index, the option its file is, and its variables.
pub(crate) fn run_include_loop(
    w: &mut Worker<'_>,
    t: &Arc<TaskDef>,
    bases: &[PathBuf],
    options: &[(PathBuf, Vec<Step>)],
) -> Result<Vec<(usize, usize, Arc<VarMap>)>, Flow> {
    emit_task_start(w, t);
    let templar = w.env.templar.clone();
    let base = w.scope(t.id, Vec::new());
    let items = match loop_items(w, t, &base) {
        Ok(Some(items)) => items,
        Ok(None) => Vec::new(),
        Err(flow) => return Err(flow.into()),
    };
    let Some(l) = t.loop_.as_ref() else { return Ok(Vec::new()) };
    if items.is_empty() {
        no_items(w, t);
        return Ok(Vec::new());
    }
    let mut results = Vec::new();
    let mut runs = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let (m, loop_fields) = item_vars(l, &items, i, item);
        let m = Arc::new(m);
        let ctx = w.scope(t.id, vec![Layer::literal(m.clone())]);
        let label = Some(match &l.label {
            Some(lt) => templar.render(lt, &ctx).map(|v| v.to_string()).unwrap_or_else(|_| item.to_string()),
            None => item.to_string(),
        });
        let (outcome, status, value, failed) = match first_false(&templar, &t.when, &ctx) {
            Err(e) => return Err(fail_task(w, t, e).into()),
            Ok(Some(c)) => {
                let o = skipped_by(c);
                let value = result_value(&o, false, false);
                (o, Status::Skipped, value, false)
            }
            Ok(None) => match pick_file(w, t, bases, options, &ctx) {
                Ok(p) => {
                    runs.push((i, p.index, m));
                    let mut o = Outcome::ok();
                    o.msg = Some(format!("included: {}", p.shown));
                    // An item's result has no `changed` (ansible-core's).
                    let value = Value::from_pairs(
                        p.value
                            .try_iter()
                            .into_iter()
                            .flatten()
                            .filter(|k| k.as_str() != Some("changed"))
                            .map(|k| (k.to_string(), p.value.get_item(&k).unwrap_or_default()))
                            .collect::<Vec<_>>(),
                    );
                    (o, Status::Ok, value, false)
                }
                // The item fails; the others are still included (and run, if its failure is
                // ignored), as in ansible-core.
                Err(Fail::Task(e)) => {
                    let o = Outcome::failed(e);
                    let value = result_value(&o, true, false);
                    (o, Status::Failed, value, true)
                }
                // ansible-core counts the items included so far, then fails the host.
                Err(Fail::Fatal(e)) => {
                    w.recap.ok += u32::try_from(runs.len()).unwrap_or(u32::MAX);
                    return Err(fatal_task(w, t, e).into());
                }
            },
        };
        let r = ItemResult {
            outcome,
            delegate: None,
            failed,
            changed: false,
            status,
            value,
            label,
            unreachable: None,
            ms: 0,
            loop_fields,
            notify: Vec::new(),
        };
        results.push(r);
    }
    // One `ok` per included item in ansible-core's recap, besides the task's own count
    // (which is that of one of them when no item failed).
    let any_failed = results.iter().any(|r| r.failed);
    let included = u32::try_from(runs.len()).unwrap_or(u32::MAX);
    let flow = finish_task(w, t, results, true);
    let own = u32::from(matches!(flow, TaskFlow::Continue) && !any_failed);
    w.recap.ok += included.saturating_sub(own);
    match flow {
        TaskFlow::Continue => Ok(runs),
        flow => Err(flow.into()),
    }
}

/// A loop without items: the task is skipped, as in ansible-core.
fn no_items(w: &mut Worker<'_>, t: &Arc<TaskDef>) -> TaskFlow {
    let mut o = Outcome { skipped: true, ..Default::default() };
    o.data.insert("results".into(), Value::from(Vec::<Value>::new()));
    o.data.insert("skipped_reason".into(), Value::from("No items in the list"));
    skip_task(w, t, o)
}

fn eval_conds(templar: &Templar, conds: &[Cond], ctx: &Value) -> Result<bool, String> {
    first_false(templar, conds, ctx).map(|c| c.is_none())
}

/// `ansible_loop` of item `i` under `loop_control.extended`.
fn extended_loop(all: &[Value], i: usize, allitems: bool) -> Value {
    let n = all.len();
    let mut m: Vec<(String, Value)> = Vec::new();
    if allitems {
        m.push(("allitems".into(), Value::from(all.to_vec())));
    }
    m.extend([
        ("index".to_string(), Value::from(i + 1)),
        ("index0".to_string(), Value::from(i)),
        ("revindex".to_string(), Value::from(n - i)),
        ("revindex0".to_string(), Value::from(n - i - 1)),
        ("first".to_string(), Value::from(i == 0)),
        ("last".to_string(), Value::from(i + 1 == n)),
        ("length".to_string(), Value::from(n)),
    ]);
    if i > 0 {
        m.push(("previtem".into(), all[i - 1].clone()));
    }
    if i + 1 < n {
        m.push(("nextitem".into(), all[i + 1].clone()));
    }
    Value::from_pairs(m)
}

/// The first condition that is false, as written (Ansible's `false_condition`).
fn first_false<'c>(templar: &Templar, conds: &'c [Cond], ctx: &Value) -> Result<Option<&'c Cond>, String> {
    for c in conds {
        let v = templar.render_condition(&c.expr, ctx).map_err(|e| format!("condition `{}`: {e}", c.source))?;
        if !prov_core::template::conditional_result(&v, &c.source)? {
            return Ok(Some(c));
        }
    }
    Ok(None)
}

/// The outcome of a task or item that a false `when` skipped, as Ansible registers it.
fn skipped_by(c: &Cond) -> Outcome {
    let mut o = Outcome { skipped: true, ..Default::default() };
    o.data.insert("skip_reason".into(), Value::from("Conditional result was False"));
    let written = c.boolean.map_or_else(|| Value::from(c.source.clone()), Value::from);
    o.data.insert("false_condition".into(), written);
    o
}

/// Drops arguments rendered to `omit`.
/// A rendered `environment`: a mapping, or a list of them (and of lists) merged in order, the
/// later winning; an omitted entry or value (`{{ omit }}`) is left out, as in ansible-core.
fn env_pairs(v: &Value) -> Result<Vec<(String, String)>, String> {
    fn walk(v: &Value, out: &mut indexmap::IndexMap<String, String>) -> Result<(), String> {
        match v.kind() {
            minijinja::value::ValueKind::Map => {
                for k in v.try_iter().map_err(|e| e.to_string())? {
                    let val = v.get_item(&k).map_err(|e| e.to_string())?;
                    if val.as_str() == Some(OMIT) {
                        continue;
                    }
                    out.insert(k.to_string(), val.to_string());
                }
                Ok(())
            }
            minijinja::value::ValueKind::Seq => {
                for item in v.try_iter().map_err(|e| e.to_string())? {
                    walk(&item, out)?;
                }
                Ok(())
            }
            minijinja::value::ValueKind::None => Ok(()),
            _ if v.as_str() == Some(OMIT) => Ok(()),
            _ => Err(format!("the environment must be a mapping or a list of them, not `{v}`")),
        }
    }
    let mut out = indexmap::IndexMap::new();
    walk(v, &mut out)?;
    Ok(out.into_iter().collect())
}

fn strip_omit(v: Value) -> Value {
    if v.kind() != minijinja::value::ValueKind::Map {
        return v;
    }
    let Ok(keys) = v.try_iter() else { return v };
    let entries: Vec<(String, Value)> = keys
        .filter_map(|k| {
            let val = v.get_item(&k).ok()?;
            (val.as_str() != Some(OMIT)).then(|| (k.to_string(), without_omit(val)))
        })
        .collect();
    Value::from_pairs(entries)
}

/// `v` without the `omit` placeholders inside it: list items and mapping values that are
/// `omit` are left out, at any depth, as ansible-core 2.19 finalizes a value.
fn without_omit(v: Value) -> Value {
    use minijinja::value::ValueKind;
    // Live objects (`hostvars`, the play's hosts) are not values to finalize.
    fn live(v: &Value) -> bool {
        v.downcast_object_ref::<prov_core::vars::HostVars>().is_some()
            || v.downcast_object_ref::<crate::runner::HostsLeft>().is_some()
    }
    fn holds(v: &Value, depth: usize) -> bool {
        if depth > 512 || live(v) {
            return false;
        }
        match v.kind() {
            ValueKind::String => v.as_str() == Some(OMIT),
            ValueKind::Seq => v.try_iter().into_iter().flatten().any(|i| holds(&i, depth + 1)),
            ValueKind::Map => {
                v.try_iter().into_iter().flatten().any(|k| v.get_item(&k).is_ok_and(|i| holds(&i, depth + 1)))
            }
            _ => false,
        }
    }
    fn strip(v: Value, depth: usize) -> Value {
        if depth > 512 || live(&v) {
            return v;
        }
        match v.kind() {
            ValueKind::Seq => Value::from(
                v.try_iter()
                    .into_iter()
                    .flatten()
                    .filter(|i| i.as_str() != Some(OMIT))
                    .map(|i| strip(i, depth + 1))
                    .collect::<Vec<_>>(),
            ),
            ValueKind::Map => Value::from(
                v.try_iter()
                    .into_iter()
                    .flatten()
                    .filter_map(|k| {
                        let i = v.get_item(&k).ok()?;
                        (i.as_str() != Some(OMIT)).then(|| (k, strip(i, depth + 1)))
                    })
                    .collect::<indexmap::IndexMap<Value, Value>>(),
            ),
            _ => v,
        }
    }
    if matches!(v.kind(), ValueKind::Seq | ValueKind::Map) && holds(&v, 0) {
        strip(v, 0)
    } else {
        v
    }
}

/// A registered result: `changed`, `skipped: true` for a skipped one, `failed` (not for a task
/// its condition skipped: ansible-core adds it only to what a module or action returned, as
/// `command`'s skip in check mode), `msg`, the module's data and, for a failed one,
/// `exception`, as ansible-core registers them.
fn result_value(o: &Outcome, failed: bool, changed: bool) -> Value {
    let mut m: Vec<(String, Value)> = vec![("changed".into(), Value::from(changed))];
    let skipped = o.skipped && !failed;
    if skipped {
        m.push(("skipped".into(), Value::from(true)));
    }
    if !skipped || !(o.data.contains_key("skip_reason") || o.data.contains_key("skipped_reason")) {
        m.push(("failed".into(), Value::from(failed)));
    }
    if let Some(msg) = &o.msg {
        m.push(("msg".into(), Value::from(msg.clone())));
    }
    for (k, v) in &o.data {
        m.push((k.clone(), v.clone()));
    }
    // ansible-core 2.19 registers this with every failed result (a module's failure, an
    // action's, or `failed_when`), the traceback itself only at high verbosity.
    if failed && !o.data.contains_key("exception") {
        m.push(("exception".into(), Value::from("(traceback unavailable)")));
    }
    Value::from_pairs(m)
}

/// The value of a yes/no keyword on this host (a template is rendered in the task's scope,
/// and read as ansible-core reads a boolean).
fn flag(w: &Worker<'_>, t: &TaskDef, f: &Flag) -> Result<bool, String> {
    let tm = match f {
        Flag::Fixed(b) => return Ok(*b),
        Flag::Template(tm) => tm,
    };
    let v = w.env.templar.render_defined(tm, &w.scope(t.id, Vec::new()))?;
    as_bool(&v)
}

/// A rendered keyword read as ansible-core reads a boolean.
fn as_bool(v: &Value) -> Result<bool, String> {
    match v.kind() {
        ValueKind::Bool => Ok(v.is_true()),
        ValueKind::Number => match i64::try_from(v.clone()) {
            Ok(1) => Ok(true),
            Ok(0) => Ok(false),
            _ => Err(format!("The value '{v}' could not be converted to 'bool'.")),
        },
        ValueKind::String => prov_core::args::parse_bool(v.as_str().unwrap_or_default())
            .ok_or_else(|| format!("The value '{v}' could not be converted to 'bool'.")),
        _ => Err(format!("The value '{v}' could not be converted to 'bool'.")),
    }
}

struct ItemResult {
    outcome: Outcome,
    /// The host a delegated task ran on.
    delegate: Option<String>,
    failed: bool,
    changed: bool,
    status: Status,
    value: Value,
    label: Option<String>,
    unreachable: Option<String>,
    ms: u64,
    /// What a loop adds to the item's registered result (`item`, `ansible_loop_var`, ...).
    loop_fields: Vec<(String, Value)>,
    /// The task's templated `notify` names as this item rendered them.
    notify: Vec<String>,
}

/// The host that runs a run_once task for this one: the first host of the batch, in
/// inventory order, that reaches the task, as in Ansible (a host that failed or stopped
/// before it does not count). Waits for the hosts before this one to either pass the task or
/// stop; `None` when this host is the one to run it.
async fn run_once_runner(w: &Worker<'_>, t: &TaskDef) -> Option<Once> {
    let pos = w.bp.pos[t.id];
    let key = w.decision_key(t.id);
    for &h in &w.bp.batches[w.bp.batch_of[w.idx]] {
        if h == w.idx {
            return None;
        }
        let mut rx = w.peers[h].clone();
        let passed = match rx.wait_for(|s| s.dead || s.past(pos, &w.iters, &w.bp.pos)).await {
            Ok(snap) => !(snap.dead && snap.stopped_at <= pos),
            Err(_) => false,
        };
        if w.meta.once_failed(&key) {
            return Some(Once::Failed);
        }
        // A host that went past the task in an include it did not run is not the one.
        if passed && !w.meta.passed_over(h, t.id) {
            return Some(Once::RanOn(h));
        }
    }
    None
}

/// Who ran a `run_once` task for this host.
enum Once {
    /// That host (index into the batch's hosts), whose result this one takes.
    RanOn(usize),
    /// A host of the batch ran it and failed: as ansible-core 2.19 does, this host is marked
    /// failed too (without a result of its own, nothing shown or counted).
    Failed,
}

/// What a templated `run_once` decides for a host, before the task starts there.
pub(crate) enum OnceIf {
    /// Not templated, or false here: the host runs the task for itself.
    Here,
    /// An earlier host of the batch ran the task once for the hosts after it: take its result.
    From(usize),
    /// An earlier host could not read the template: the task does not run here.
    Skipped,
    /// The template is no boolean here: the task fails with this message.
    Broken(String),
}

/// Reads a templated `run_once` on this host, as ansible-core does host by host in order:
/// waits for each earlier host of the batch to read it (or stop, or go past the task in an
/// include it did not run); the first earlier host where it was true and that went past the
/// task runs it for this one. Otherwise it is read here and the answer told to the later hosts.
pub(crate) async fn once_if_start(w: &mut Worker<'_>, t: &TaskDef) -> OnceIf {
    let Some(tm) = &t.run_once_if else { return OnceIf::Here };
    let batch = w.bp.batches[w.bp.batch_of[w.idx]].clone();
    for h in batch {
        if h == w.idx {
            break;
        }
        match once_peer(w, t, h).await {
            Some(OnceMark::Runs) => return OnceIf::From(h),
            Some(OnceMark::Broken) => return OnceIf::Skipped,
            Some(OnceMark::Not) | None => {}
        }
    }
    let (mark, once) = match flag(w, t, &Flag::Template(tm.clone())) {
        Ok(true) => (OnceMark::Runs, OnceIf::Here),
        Ok(false) => (OnceMark::Not, OnceIf::Here),
        Err(e) => (OnceMark::Broken, OnceIf::Broken(format!("Task failed: Error processing keyword 'run_once': {e}"))),
    };
    w.meta.set_once_if(t.id, w.idx, mark);
    // Wakes the hosts that wait for this answer.
    w.publish(false);
    once
}

/// After the task ran here with a templated `run_once` that was false: the first later host
/// of the batch where it is true runs it once for the batch, and its result replaces this
/// host's, as in ansible-core.
pub(crate) async fn once_if_end(w: &mut Worker<'_>, t: &TaskDef) {
    if w.meta.once_if(t.id, w.idx) != Some(OnceMark::Not) {
        return;
    }
    let later: Vec<usize> =
        w.bp.batches[w.bp.batch_of[w.idx]].iter().copied().skip_while(|&h| h != w.idx).skip(1).collect();
    for h in later {
        match once_peer(w, t, h).await {
            Some(OnceMark::Runs) => return take_once_result(w, t, h),
            Some(OnceMark::Broken) => return,
            Some(OnceMark::Not) | None => {}
        }
    }
}

/// What host `h` of the batch made of the task's templated `run_once`: waits for it to read
/// the template, stop, or go past the task. `Runs` only when it then went past the task
/// rather than stopping there; `None` when it never read it.
async fn once_peer(w: &Worker<'_>, t: &TaskDef, h: usize) -> Option<OnceMark> {
    let pos = w.bp.pos[t.id];
    let mut rx = w.peers[h].clone();
    let meta = w.meta;
    let decided =
        rx.wait_for(|s| s.dead || s.past(pos, &w.iters, &w.bp.pos) || meta.once_if(t.id, h).is_some()).await.is_ok();
    let mark = meta.once_if(t.id, h).filter(|_| decided)?;
    if mark != OnceMark::Runs {
        return Some(mark);
    }
    let passed = match rx.wait_for(|s| s.dead || s.past(pos, &w.iters, &w.bp.pos)).await {
        Ok(snap) => !(snap.dead && snap.stopped_at <= pos),
        Err(_) => false,
    };
    passed.then_some(OnceMark::Runs)
}

/// This host takes the result of the task `t` that host `first` ran once for the batch: its
/// registered value, the facts a `set_fact` set and the variables an `include_vars` read.
fn take_once_result(w: &mut Worker<'_>, t: &TaskDef, first: usize) {
    let snap = w.peers[first].borrow().clone();
    if let Some(reg) = &t.register {
        if let Some(v) = snap.runtime.get(reg) {
            Arc::make_mut(&mut w.runtime).insert(reg.clone(), v.clone());
            w.publish(false);
        }
    }
    if let Some(vars) = w.meta.run_once_vars(t.id) {
        // `include_vars`: templated when read, so the same values serve every host.
        let layer = Arc::make_mut(&mut w.included);
        layer.extend(vars);
        w.publish(false);
    }
    if t.module == "set_fact" {
        for (k, v) in snap.runtime.iter() {
            if t.defines().contains(k) {
                Arc::make_mut(&mut w.runtime).insert(k.clone(), v.clone());
            }
        }
    }
}

pub(crate) async fn run_task(w: &mut Worker<'_>, t: &Arc<TaskDef>, once: OnceIf) -> TaskFlow {
    emit_task_start(w, t);
    // run_once: only the first host of the batch still in the play runs it; the others take
    // its result.
    if t.run_once || t.bypass_host_loop {
        match run_once_runner(w, t).await {
            Some(Once::Failed) if t.run_once => {
                w.marked = Some(crate::runner::Mark::Once);
                return TaskFlow::Failed;
            }
            // A module that bypasses the host loop (add_host) is the first host's alone.
            Some(Once::RanOn(first)) if t.run_once => {
                take_once_result(w, t, first);
                return TaskFlow::Continue;
            }
            Some(_) => return TaskFlow::Continue,
            None => {}
        }
    }
    match once {
        OnceIf::Here => run_here(w, t).await,
        OnceIf::From(first) => {
            take_once_result(w, t, first);
            TaskFlow::Continue
        }
        OnceIf::Skipped => TaskFlow::Continue,
        OnceIf::Broken(e) => {
            w.ignore_errors_now = Some((t.id, flag(w, t, &t.ignore_errors).unwrap_or(false)));
            fail_task(w, t, e)
        }
    }
}

/// Runs the task on this host.
async fn run_here(w: &mut Worker<'_>, t: &Arc<TaskDef>) -> TaskFlow {
    let templar = w.env.templar.clone();
    // Rendered once, before the task runs (what the task registers does not change it).
    // `no_log` first: a failure of the other keywords is hidden when it says so.
    // As ansible-core: a `no_log` that cannot be read masks the output, with a warning, and
    // the task goes on.
    match flag(w, t, &t.no_log) {
        Ok(b) => w.no_log_now = Some((t.id, b)),
        Err(_) => {
            w.no_log_now = Some((t.id, true));
            w.env.events.emit(crate::event::Event::Warning {
                message: "Invalid no_log value for task, output will be masked".into(),
            });
        }
    }
    match flag(w, t, &t.ignore_errors) {
        Ok(b) => w.ignore_errors_now = Some((t.id, b)),
        Err(e) => {
            w.ignore_errors_now = Some((t.id, true));
            return fail_task(w, t, format!("Task failed: Error processing keyword 'ignore_errors': {e}"));
        }
    }
    // A template that renders to `omit` leaves the keyword unset (false), as in ansible-core.
    let omitted = |t: &TaskDef, f: &Flag| match f {
        Flag::Template(tm) => {
            w.env.templar.render_defined(tm, &w.scope(t.id, Vec::new())).is_ok_and(|v| v.as_str() == Some(OMIT))
        }
        Flag::Fixed(_) => false,
    };
    w.delegate_facts_now = match flag(w, t, &t.delegate_facts) {
        _ if omitted(t, &t.delegate_facts) => Some((t.id, false)),
        Ok(b) => Some((t.id, b)),
        Err(e) => return fail_task(w, t, format!("Task failed: Error processing keyword 'delegate_facts': {e}")),
    };
    w.diff_now = match t.diff.as_ref().map(|d| flag(w, t, d)) {
        None => None,
        Some(Ok(b)) => Some(b),
        Some(Err(e)) => return fail_task(w, t, format!("Task failed: Error processing keyword 'diff': {e}")),
    };
    let mut base = w.scope(t.id, Vec::new());
    let items = match loop_items(w, t, &base) {
        Ok(i) => i,
        Err(flow) => return flow,
    };
    if items.as_ref().is_some_and(Vec::is_empty) {
        return no_items(w, t);
    }
    let mut results: Vec<ItemResult> = Vec::new();
    let iterations: Vec<Option<(usize, Value)>> = match &items {
        None => vec![None],
        Some(list) => list.iter().cloned().enumerate().map(Some).collect(),
    };
    let breaks = t.loop_.as_ref().is_some_and(|l| !l.break_when.is_empty());
    // Each item sees the result of the item before under the `register` name (and its label,
    // its own): items that may read it run one after the other.
    let reads_register = t.register.as_ref().is_some_and(|reg| reads_own_register(t, reg));
    let parallel = items.is_some()
        && !breaks
        && !reads_register
        && w.env.registry.get(t.module).is_some_and(|m| m.parallel_items());
    // The result of the item before, registered for the next (ansible-core sets it in the
    // task's variables as each item ends).
    let mut registered: Option<Layer> = None;
    // The host's connection, opened once before the items (they may run at once).
    let conn = host_connection(w, t);
    let mut pending = Vec::new();
    for it in iterations {
        if w.env.interrupt.level() > 0 {
            return TaskFlow::Interrupted;
        }
        let mut extra = Vec::new();
        let mut label = None;
        let mut loop_fields = Vec::new();
        if let (Some((i, item)), Some(l)) = (&it, &t.loop_) {
            let (m, fields) = item_vars(l, items.as_deref().unwrap_or_default(), *i, item);
            loop_fields = fields;
            extra.push(Layer::literal(Arc::new(m)));
        }
        let item_layers = extra.clone();
        extra.extend(registered.clone());
        let ctx = if extra.is_empty() { base.clone() } else { w.scope(t.id, extra.clone()) };
        if let (Some((_, item)), Some(l)) = (&it, &t.loop_) {
            label = Some(match &l.label {
                Some(lt) => templar.render(lt, &ctx).map(|v| v.to_string()).unwrap_or_else(|_| item.to_string()),
                None => item.to_string(),
            });
        }
        match first_false(&templar, &t.when, &ctx) {
            Err(e) => return fail_task(w, t, e),
            Ok(Some(c)) => {
                let o = skipped_by(c);
                let value = result_value(&o, false, false);
                let mut r = ItemResult {
                    outcome: o,
                    delegate: None,
                    failed: false,
                    changed: false,
                    status: Status::Skipped,
                    value,
                    label,
                    unreachable: None,
                    ms: 0,
                    loop_fields,
                    notify: Vec::new(),
                };
                registered = finish_item(w, t, &item_layers, it.as_ref().map(|(_, v)| v), &mut r);
                results.push(r);
                match break_now(w, t, &extra, results.last()) {
                    Ok(true) => break,
                    Ok(false) => continue,
                    Err(e) => return fail_task(w, t, e),
                }
            }
            Ok(None) => {}
        }
        if parallel {
            pending.push((ctx, extra, label, loop_fields, item_layers, it.map(|(_, v)| v)));
            continue;
        }
        let break_layers = if breaks { extra.clone() } else { Vec::new() };
        let mut r = run_item(w, t, &ctx, extra, label, &conn).await;
        r.loop_fields = loop_fields;
        registered = finish_item(w, t, &item_layers, it.as_ref().map(|(_, v)| v), &mut r);
        let stop = r.unreachable.is_some();
        // Facts set by one item are visible to the next (`set_fact` accumulating in a loop).
        if !r.failed && (!r.outcome.facts.is_empty() || !r.outcome.host_facts.is_empty()) && it.is_some() {
            set_facts(w, t, &r);
            base = w.scope(t.id, Vec::new());
        }
        results.push(r);
        if stop {
            break;
        }
        match break_now(w, t, &break_layers, results.last()) {
            Ok(true) => break,
            Ok(false) => {}
            Err(e) => return fail_task(w, t, e),
        }
        if let Some(l) = &t.loop_ {
            if l.pause > 0.0 {
                // Ctrl-C ends the pause; the next item sees the interrupt and does not start.
                sleep_unless_interrupted(w, l.pause).await;
            }
        }
    }
    if !pending.is_empty() {
        let worker: &Worker<'_> = w;
        let runs = pending.into_iter().map(|(ctx, extra, label, loop_fields, item_layers, item)| {
            let conn = &conn;
            async move {
                let mut r = run_item(worker, t, &ctx, extra, label, conn).await;
                r.loop_fields = loop_fields;
                finish_item(worker, t, &item_layers, item.as_ref(), &mut r);
                r
            }
        });
        results.extend(futures_util::future::join_all(runs).await);
    }
    finish_task(w, t, results, items.is_some())
}

/// The items of the task's loop on this host (`None` without a loop); `Err` with how the task
/// ended when they cannot be had (the task is reported failed, or skipped by its `when`).
fn loop_items(w: &mut Worker<'_>, t: &Arc<TaskDef>, base: &Value) -> Result<Option<Vec<Value>>, TaskFlow> {
    let templar = w.env.templar.clone();
    Ok(match &t.loop_ {
        None => None,
        Some(l) => {
            let v = match &l.items {
                LoopItems::Template(tm) => templar.render_defined(tm, base),
                LoopItems::List(v) => templar.render_deep_defined(v, base),
            };
            match v {
                // As in Ansible, a loop over something undefined still lets a false `when`
                // (evaluated without the loop variable) skip the task; otherwise it fails.
                Err(e) if is_undefined_error(&e) => {
                    return Err(match first_false(&templar, &t.when, base) {
                        Ok(Some(c)) => skip_task(w, t, skipped_by(c)),
                        _ => fail_task(w, t, format!("loop: {e}")),
                    });
                }
                Err(e) => return Err(fail_task(w, t, format!("loop: {e}"))),
                Ok(v) => {
                    // `with_<lookup>`: the rendered terms go to the lookup, as `query` would.
                    let v = match l.keyword.lookup().or(l.lookup.as_deref()).or(l.dict_terms.then_some("dict")) {
                        None => v,
                        Some(name) => {
                            let terms = match v.kind() {
                                ValueKind::Seq | ValueKind::Iterable => {
                                    v.try_iter().map(|it| it.collect()).unwrap_or_default()
                                }
                                _ => vec![v],
                            };
                            match templar.query(name, terms, base, t.module) {
                                Ok(v) => v,
                                // The lookup's own message ("The lookup plugin 'dict' failed: ..."),
                                // as ansible-core registers it.
                                Err(e) => {
                                    let e = e.strip_prefix("invalid operation: ").unwrap_or(&e);
                                    return Err(fail_task(w, t, e.to_string()));
                                }
                            }
                        }
                    };
                    let mut list: Vec<Value> = match (v.kind(), l.keyword) {
                        // A list, or a list made lazily (`a + b` of two lists).
                        (ValueKind::Seq | ValueKind::Iterable, _) => match v.try_iter() {
                            Ok(it) => it.collect(),
                            Err(e) => return Err(fail_task(w, t, format!("loop: {e}"))),
                        },
                        // with_items/with_list take anything else as one item (Ansible's
                        // lookups turn a single term into a list).
                        (_, LoopKeyword::WithItems | LoopKeyword::WithList) => vec![v],
                        (kind, _) => {
                            return Err(fail_task(w, t, format!("loop: the value must be a list, not a {kind}: {v}")))
                        }
                    };
                    if l.flatten {
                        list = list
                            .into_iter()
                            .flat_map(|i| {
                                if i.kind() == minijinja::value::ValueKind::Seq {
                                    i.try_iter().map(|it| it.collect::<Vec<_>>()).unwrap_or_default()
                                } else {
                                    vec![i]
                                }
                            })
                            .collect();
                    }
                    Some(list)
                }
            }
        }
    })
}
/// The variables item `i` of a loop over `all` sets for its task, and what it adds to the
/// item's registered result.
fn item_vars(l: &LoopDef, all: &[Value], i: usize, item: &Value) -> (VarMap, Vec<(String, Value)>) {
    let mut m = VarMap::new();
    let mut fields = Vec::new();
    m.insert(l.loop_var.clone(), item.clone());
    m.insert("ansible_loop_var".into(), Value::from(l.loop_var.clone()));
    fields.push(("ansible_loop_var".to_string(), Value::from(l.loop_var.clone())));
    fields.push((l.loop_var.clone(), item.clone()));
    if let Some(iv) = &l.index_var {
        m.insert(iv.clone(), Value::from(i));
        m.insert("ansible_index_var".into(), Value::from(iv.clone()));
        fields.push(("ansible_index_var".to_string(), Value::from(iv.clone())));
        fields.push((iv.clone(), Value::from(i)));
    }
    if l.extended {
        let info = extended_loop(all, i, l.extended_allitems);
        m.insert("ansible_loop".into(), info.clone());
        fields.push(("ansible_loop".to_string(), info));
    }
    (m, fields)
}

/// `changed_when` and `failed_when` on a result, as ansible-core's task executor applies them
/// (for each attempt of an `until`): the `failed` and `changed` they give. As in ansible-core,
/// a result that skipped (a command in check mode) is not judged: what they read (`stdout`,
/// `rc`) is not there. A condition that errs fails the task and registers the error as
/// `changed_when_result`/`failed_when_result` (the module's `msg` stays); `failed_when`
/// registers its value too.
fn judge(
    w: &Worker<'_>,
    t: &TaskDef,
    templar: &prov_core::template::Templar,
    extra: &[Layer],
    outcome: &mut Outcome,
) -> (bool, bool) {
    let mut changed = outcome.changed;
    let mut failed = outcome.failed;
    if !outcome.skipped && (t.changed_when.is_some() || t.failed_when.is_some()) {
        let mut m = VarMap::new();
        if let Some(reg) = &t.register {
            m.insert(reg.clone(), result_value(outcome, failed, changed));
        }
        for (k, v) in &outcome.data {
            m.entry(k.clone()).or_insert(v.clone());
        }
        let mut layers = extra.to_vec();
        layers.push(Layer::literal(Arc::new(m)));
        let c2 = w.scope(t.id, layers);
        // As ansible-core: a condition that errs fails the task and registers the error as
        // `changed_when_result`/`failed_when_result` (the module's `msg` stays); `failed_when`
        // registers its value too.
        let err_text = |e: &str| {
            let inner = e.split_once("`: ").map_or(e, |(_, rest)| rest);
            Value::from(format!("Error while evaluating conditional: {inner}"))
        };
        if let Some(cw) = &t.changed_when {
            match eval_conds(templar, cw, &c2) {
                Ok(b) => changed = b,
                Err(e) => {
                    failed = true;
                    outcome.data.insert("changed_when_result".into(), err_text(&e));
                    outcome.shown = Some(format!("changed_when: {e}"));
                }
            }
        }
        if let Some(fw) = &t.failed_when {
            match eval_conds(templar, fw, &c2) {
                Ok(b) => {
                    failed = b;
                    outcome.data.insert("failed_when_result".into(), Value::from(b));
                    // A failure `failed_when` turns into a success keeps a trace of it, as in
                    // ansible-core.
                    if !b && outcome.failed {
                        outcome
                            .data
                            .insert("failed_when_suppressed_exception".into(), Value::from("(traceback unavailable)"));
                    }
                }
                Err(e) => {
                    failed = true;
                    outcome.data.insert("failed_when_result".into(), err_text(&e));
                    outcome.shown = Some(format!("failed_when: {e}"));
                }
            }
        }
    }
    (failed, changed)
}

/// An item's registered result: what the loop adds (`item`, `ansible_loop_var`, ...), then
/// what the item gave.
fn item_value(r: &ItemResult) -> Value {
    let mut m: Vec<(String, Value)> = r.loop_fields.clone();
    if let Ok(keys) = r.value.try_iter() {
        for k in keys {
            m.push((k.to_string(), r.value.get_item(&k).unwrap_or_default()));
        }
    }
    Value::from_pairs(m)
}

/// Whether a template of the task (its arguments, `when`, or a loop label) names `reg`, the
/// task's own `register`, which its items may read from the item before.
fn reads_own_register(t: &TaskDef, reg: &str) -> bool {
    let names = |s: &str| s.split(|c: char| !(c.is_alphanumeric() || c == '_')).any(|w| w == reg);
    t.arg_templates.iter().any(|(s, _)| names(s))
        || t.when.iter().any(|c| names(&c.source))
        || t.loop_.as_ref().is_some_and(|l| l.label.is_some())
}

/// After an item of a loop ran (or was skipped), as ansible-core's task executor: its result
/// is what the task's `register` name holds for the next item (returned as a layer), and its
/// `loop_control.label` is rendered then, with that result; a label that cannot be rendered
/// fails the item ("Failed to template loop_control.label: ..."), which shows its item.
fn finish_item(
    w: &Worker<'_>,
    t: &TaskDef,
    item_layers: &[Layer],
    item: Option<&Value>,
    r: &mut ItemResult,
) -> Option<Layer> {
    let (Some(l), Some(item)) = (&t.loop_, item) else { return None };
    let registered = t.register.as_ref().map(|reg| {
        let mut m = VarMap::new();
        m.insert(reg.clone(), item_value(r));
        Layer::literal(Arc::new(m))
    });
    if let Some(lt) = &l.label {
        let mut layers = item_layers.to_vec();
        layers.extend(registered.clone());
        let ctx = w.scope(t.id, layers);
        match w.env.templar.render_defined(lt, &ctx) {
            Ok(v) => r.label = Some(v.to_string()),
            Err(e) => {
                let msg = format!("Failed to template loop_control.label: {e}");
                r.label = Some(item.to_string());
                r.failed = true;
                r.status = Status::Failed;
                let mut pairs: Vec<(String, Value)> = Vec::new();
                if let Ok(keys) = r.value.try_iter() {
                    for k in keys {
                        let key = k.to_string();
                        if key != "failed" && key != "msg" {
                            pairs.push((key, r.value.get_item(&k).unwrap_or_default()));
                        }
                    }
                }
                pairs.push(("failed".into(), Value::from(true)));
                pairs.push(("msg".into(), Value::from(msg.clone())));
                r.value = Value::from_pairs(pairs);
                r.outcome.msg = Some(msg);
                r.outcome.shown = None;
            }
        }
    }
    registered
}

/// Whether `loop_control.break_when` ends the loop after the item whose result is `last`:
/// every condition holds, seen with the item's variables (`extra`) and the item's result
/// under the task's `register` name, as ansible-core evaluates it.
fn break_now(w: &Worker<'_>, t: &Arc<TaskDef>, extra: &[Layer], last: Option<&ItemResult>) -> Result<bool, String> {
    let Some(l) = t.loop_.as_ref().filter(|l| !l.break_when.is_empty()) else { return Ok(false) };
    let mut layers = extra.to_vec();
    if let (Some(reg), Some(r)) = (&t.register, last) {
        let mut m = VarMap::new();
        m.insert(reg.clone(), r.value.clone());
        layers.push(Layer::literal(Arc::new(m)));
    }
    let ctx = w.scope(t.id, layers);
    Ok(first_false(&w.env.templar, &l.break_when, &ctx)?.is_none())
}

/// The host's own connection for a task that needs one (not for controller modules). A
/// delegated task runs on its delegate's (`run_item`) and gets the host's as
/// `ModuleCtx::host_conn`; connections dial on first use, so that costs nothing unless the
/// module uses it.
fn host_connection(w: &mut Worker<'_>, t: &Arc<TaskDef>) -> Option<Result<Arc<dyn Connection>, String>> {
    let module = w.env.registry.get(t.module)?;
    if module.runs_on() == RunsOn::Controller {
        return None;
    }
    if t.remote_user.is_some() || crate::runner::task_names_connection(t) {
        return Some(w.connection_as(t, None));
    }
    Some(w.connection())
}

async fn run_item(
    w: &Worker<'_>,
    t: &Arc<TaskDef>,
    ctx: &Value,
    extra: Vec<Layer>,
    label: Option<String>,
    host_conn: &Option<Result<Arc<dyn Connection>, String>>,
) -> ItemResult {
    let templar = w.env.templar.clone();
    let start = Instant::now();
    let mk_fail = |msg: String, label: Option<String>| {
        let o = Outcome::failed(msg);
        let value = result_value(&o, true, false);
        ItemResult {
            outcome: o,
            delegate: None,
            failed: true,
            changed: false,
            status: Status::Failed,
            value,
            label,
            unreachable: None,
            ms: 0,
            loop_fields: Vec::new(),
            notify: Vec::new(),
        }
    };
    let rendered = match t.module {
        "set_fact" => templar.render_keys(&t.args, ctx).and_then(|a| templar.render_deep_defined(&a, ctx)),
        _ => templar.render_deep_defined(&t.args, ctx),
    };
    let args = match rendered {
        Ok(a) => strip_omit(a),
        Err(e) => return mk_fail(format!("template error: {e}"), label),
    };
    let notify = match notify_names(&templar, t, ctx) {
        Ok(n) => n,
        Err(e) => return mk_fail(format!("Error processing keyword 'notify': {e}"), label),
    };
    let env_vars: Vec<(String, String)> = match &t.environment {
        None => Vec::new(),
        Some(e) => match templar.render_deep_defined(e, ctx).and_then(|v| env_pairs(&v)) {
            Ok(pairs) => pairs,
            Err(e) => return mk_fail(format!("environment: {e}"), label),
        },
    };
    let Some(module) = w.env.registry.get(t.module) else {
        return mk_fail(format!("module `{}` is not available", t.module), label);
    };
    // Connection: the host's own, or the delegate's.
    let delegate = match &t.delegate_to {
        Some(d) => match templar.render_defined(d, ctx) {
            Ok(v) => Some(v.to_string()),
            Err(e) => return mk_fail(format!("delegate_to: {e}"), label),
        },
        None => None,
    };
    let conn: Arc<dyn Connection> = if module.runs_on() == RunsOn::Controller {
        Arc::new(NoConnection)
    } else if let Some(target) = &delegate {
        let vars = w.env.inventory.host_vars(target);
        let conn = w.connection_as(t, Some((target, &vars)));
        match conn {
            Ok(c) => c,
            Err(e) => return mk_fail(format!("delegate_to {target}: {e}"), label),
        }
    } else {
        match host_conn.clone().unwrap_or_else(|| Err("no connection for this task".into())) {
            Ok(c) => c,
            Err(e) => {
                let mut r = mk_fail(e.clone(), label);
                r.value = unreachable_value(&r.outcome);
                r.status = Status::Unreachable;
                r.unreachable = Some(e);
                r.status = Status::Unreachable;
                return r;
            }
        }
    };
    let mut mode = w.env.opts.mode;
    match w.diff_now {
        Some(true) => mode.diff = prov_core::module::DiffMode::On,
        Some(false) => mode.diff = prov_core::module::DiffMode::Off,
        None => {}
    }
    match t.check_mode {
        Some(true) => mode = RunMode { check: CheckMode::Check, ..mode },
        Some(false) => mode = RunMode { check: CheckMode::Apply, ..mode },
        None => {}
    }
    // `become_user: "{{ app_user }}"` (or the inventory's `ansible_become_user`) is a
    // template, rendered for this host and item like the arguments.
    // `become: "{{ ... }}"`: rendered per host and item, unless the inventory decides.
    let from_play = match (&t.become_if, w.inv_vars.get("ansible_become").filter(|v| !v.is_undefined())) {
        (Some(tm), None) => match templar.render_defined(tm, ctx).and_then(|v| as_bool(&v)) {
            Ok(true) => t.become_.clone(),
            Ok(false) => None,
            Err(e) => return mk_fail(format!("Task failed: Error processing keyword 'become': {e}"), label),
        },
        _ => t.become_.clone(),
    };
    let become_ = match effective_become(from_play, &w.inv_vars) {
        Err(e) => return mk_fail(e, label),
        Ok(Some(mut b)) if prov_core::template::is_template(&b.user) => match templar.render_str(&b.user, ctx) {
            Ok(u) if !u.is_undefined() && !u.to_string().is_empty() => {
                b.user = u.to_string();
                Some(b)
            }
            Ok(_) => return mk_fail(format!("become_user `{}` is undefined or empty", b.user), label),
            Err(e) => return mk_fail(format!("become_user: {e}"), label),
        },
        Ok(other) => other,
    };
    let vars = ScopeVars { templar: templar.clone(), ctx: ctx.clone() };
    let files = TaskFiles(t.search_dirs.clone());
    let timeout = t.timeout.map(std::time::Duration::from_secs).or(w.env.opts.task_timeout);
    // `async` with `poll`: the module runs at most that long (its commands too).
    let async_limit = t.async_secs.map(std::time::Duration::from_secs);
    let timeout = match (timeout, async_limit) {
        (Some(t), Some(a)) => Some(t.min(a)),
        (t, a) => t.or(a),
    };
    let job_id = async_limit.map(|_| job_id());
    let mut attempts = 0u32;
    let mut exhausted = false;
    let (retries, delay) = t.until.as_ref().map(|u| (u.retries, u.delay)).unwrap_or((0, 0.0));
    let progress = ApplyEvents { w, t, item: label.clone() };
    let result = loop {
        attempts += 1;
        let cx = ModuleCtx {
            host: &w.host,
            delegate_to: delegate.as_deref(),
            conn: conn.as_ref(),
            host_conn: delegate.as_ref().and_then(|_| host_conn.as_ref()?.as_ref().ok()).map(|c| c.as_ref()),
            become_: become_.clone(),
            env: env_vars.clone(),
            mode,
            files: &files,
            vars: &vars,
            facts: &w.fact_cache,
            timeout,
            progress: Some(&progress),
        };
        let permit = w.forks.acquire().await;
        let mut interrupt = w.env.interrupt.0.clone();
        // `poll: 0`: the command starts on the target in the background (not in check mode,
        // where the module decides, as for any task).
        let background = t.fire_and_forget && !cx.is_check();
        let run = async {
            if !background {
                return module.run(&args, &cx).await;
            }
            match module.background(&args, &cx).await? {
                Some(bg) => {
                    let jid = job_id.as_deref().unwrap_or_default();
                    prov_core::asyncjob::start(&cx, &bg, jid, t.async_secs.unwrap_or(0)).await
                }
                None => Err(ModuleError::Failed(format!(
                    "fire-and-forget `async` (`poll: 0`) of `{}` is not supported by prov yet",
                    module.name()
                ))),
            }
        };
        let limited = async {
            match async_limit {
                // A command that runs past the limit is stopped (and killed) by its own
                // timeout; this one, a little later, ends a module of several commands.
                Some(limit) => tokio::time::timeout(limit + std::time::Duration::from_secs(1), run).await.ok(),
                None => Some(run.await),
            }
        };
        let r = tokio::select! {
            r = limited => r,
            _ = interrupt.wait_for(|l| *l >= 2) => Some(Err(ModuleError::Failed("interrupted".into()))),
        };
        drop(permit);
        // An `async` task that did not end in time (its own limit, or a command's).
        let async_timeout = match &r {
            None => true,
            Some(Err(ModuleError::Connection(ConnectionError::Timeout { .. }))) => {
                async_limit.is_some() && (t.timeout.is_none() || t.timeout >= t.async_secs)
            }
            _ => false,
        };
        let (outcome, unreachable) = match r {
            _ if async_timeout => (async_timed_out(t.async_secs.unwrap_or(0), job_id.as_deref().unwrap_or("")), None),
            None => unreachable!("a timeout is async_timeout"),
            Some(r) => match r {
                Ok(o) if background => (o, None),
                Ok(o) => (with_async_fields(o, job_id.as_deref()), None),
                Err(ModuleError::Connection(e)) if e.is_unreachable() => {
                    (Outcome::failed(e.to_string()), Some(e.to_string()))
                }
                // The task's `timeout`: ansible-core's message and its `timedout` field.
                Err(ModuleError::Connection(ConnectionError::Timeout { secs, .. })) if t.timeout.is_some() => {
                    let o = Outcome::failed(format!("Task failed: Timed out after {secs} second(s)."));
                    (o.with("timedout", Value::from_pairs([("period".to_string(), Value::from(secs))])), None)
                }
                Err(e) => (Outcome::failed(e.to_string()), None),
            },
        };
        if unreachable.is_some() {
            break (outcome, unreachable);
        }
        // ansible-core runs the task 1 + retries times, checking only when that is above 1.
        let Some(until) = t.until.as_ref().filter(|u| u.retries > 0) else { break (outcome, None) };
        // The conditions see the attempts so far, as ansible-core sets them before them, and
        // the result as `changed_when`/`failed_when` judge it.
        let mut outcome = outcome;
        outcome.data.insert("attempts".into(), Value::from(attempts));
        let mut judged = outcome.clone();
        let (jf, jc) = judge(w, t, &templar, &extra, &mut judged);
        let done = if until.conds.is_empty() {
            !jf
        } else {
            let reg = t.register.clone().unwrap_or_else(|| "result".into());
            let mut m = VarMap::new();
            m.insert(reg, result_value(&judged, jf, jc));
            let mut layers = extra.clone();
            layers.push(Layer::literal(Arc::new(m)));
            let c2 = w.scope(t.id, layers);
            // A condition that cannot be evaluated (an error, a result that is no boolean)
            // fails the task at once with the reason, as in ansible-core; it is not "false, retry".
            match eval_conds(&templar, &until.conds, &c2) {
                Ok(done) => done,
                Err(e) => break (Outcome::failed(e), None),
            }
        };
        if done {
            break (outcome, None);
        }
        if attempts > retries {
            // Out of attempts: failed, and `attempts` is one less than the runs (ansible-core's).
            let mut o = outcome;
            o.data.insert("attempts".into(), Value::from(retries));
            exhausted = true;
            break (o, None);
        }
        // The delay ends early on Ctrl-C: no attempt starts after it.
        if sleep_unless_interrupted(w, delay).await {
            let mut o = outcome;
            o.failed = true;
            o.msg = Some(format!("interrupted after {attempts} attempts"));
            break (o, None);
        }
    };
    let (mut outcome, unreachable) = result;
    let ms = start.elapsed().as_millis() as u64;
    if let Some(u) = unreachable {
        let value = unreachable_value(&outcome);
        return ItemResult {
            outcome,
            delegate,
            failed: true,
            changed: false,
            status: Status::Unreachable,
            value,
            label,
            unreachable: Some(u),
            ms,
            loop_fields: Vec::new(),
            notify: Vec::new(),
        };
    }
    // `add_host`/`group_by`: the inventory changes now (for the plays after this one), and
    // whether it did is the result's `changed`, before `changed_when`, as in ansible-core.
    if !outcome.inventory.is_empty() && !outcome.failed {
        outcome.changed = w.meta.edit_inventory(w.env.inventory, &outcome.inventory);
    }
    let (failed, changed) = judge(w, t, &templar, &extra, &mut outcome);
    // Out of attempts, the result says failed, whatever `failed_when` said (ansible-core marks
    // it last); the task's status still follows a `failed_when` that held false, as
    // ansible-core's TaskResult reads `failed_when_result` first.
    let registered_failed = failed || exhausted;
    let failed = match outcome.data.get("failed_when_result") {
        Some(v) if exhausted && v.kind() == minijinja::value::ValueKind::Bool => v.is_true(),
        _ => registered_failed,
    };
    outcome.changed = changed;
    outcome.failed = failed;
    let status = if failed {
        Status::Failed
    } else if outcome.skipped {
        Status::Skipped
    } else if changed {
        Status::Changed
    } else {
        Status::Ok
    };
    let value = result_value(&outcome, registered_failed, changed);
    ItemResult {
        outcome,
        delegate,
        failed,
        changed,
        status,
        value,
        label,
        unreachable: None,
        ms,
        loop_fields: Vec::new(),
        notify,
    }
}

/// A rendered `notify` names no handler: ansible-core stops the whole run there (`ERROR!`,
/// exit 1), before the task's result is shown.
fn missing_handler(w: &mut Worker<'_>, t: &TaskDef, name: &str) -> TaskFlow {
    let loc = w.env.sources.location(t.span);
    w.meta.stop_run(
        format!(
            "{loc}: The requested handler '{name}' was not found in either the main handlers list nor in the listening handlers list"
        ),
        false,
    );
    w.abort.store(true, std::sync::atomic::Ordering::SeqCst);
    TaskFlow::Failed
}

/// The task's templated `notify` names, rendered with the item's variables: a string is one
/// handler name, a list several (a whole `notify: "{{ names }}"`).
fn notify_names(templar: &prov_core::template::Templar, t: &TaskDef, ctx: &Value) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for (src, tm) in &t.notify_templates {
        let v = templar.render_defined(tm, ctx)?;
        match v.as_str() {
            Some(s) => out.push(s.to_string()),
            None if v.kind() == minijinja::value::ValueKind::Seq => {
                for i in v.try_iter().map_err(|e| e.to_string())? {
                    match i.as_str() {
                        Some(s) => out.push(s.to_string()),
                        None => return Err(format!("`{src}` gave {i}, which is no handler name")),
                    }
                }
            }
            None => return Err(format!("`{src}` gave {v}, which is no handler name")),
        }
    }
    Ok(out)
}

/// Whether a render error is about an undefined value (Ansible's `AnsibleUndefinedVariable`).
/// What an unreachable result registers, as ansible-core: `unreachable: true`, the message,
/// `changed: false`, and no `failed` (`is failed` is false, `is unreachable` true).
fn unreachable_value(o: &Outcome) -> Value {
    Value::from_pairs([
        ("unreachable".to_string(), Value::from(true)),
        ("msg".to_string(), Value::from(o.msg.clone().unwrap_or_default())),
        ("changed".to_string(), Value::from(false)),
    ])
}

/// Whether the task's output is hidden (`no_log` as rendered for this host; a template not
/// rendered yet hides).
fn hidden(w: &Worker<'_>, t: &TaskDef) -> bool {
    match (w.no_log_now, t.no_log.fixed()) {
        (_, Some(b)) => b,
        (Some((id, b)), None) if id == t.id => b,
        _ => true,
    }
}

/// Sleeps `secs` seconds, or less when Ctrl-C comes first; true when it did.
async fn sleep_unless_interrupted(w: &Worker<'_>, secs: f64) -> bool {
    let mut interrupt = w.env.interrupt.0.clone();
    tokio::select! {
        _ = tokio::time::sleep(std::time::Duration::from_secs_f64(secs)) => false,
        _ = interrupt.wait_for(|l| *l >= 1) => true,
    }
}

/// An id for an `async` job, shaped like ansible-core's (`j` and 12 digits, `.` and the
/// process id); prov keeps no results file.
fn job_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos()));
    format!("j{:012}.{}", h.finish() % 1_000_000_000_000, std::process::id())
}

/// The fields ansible-core adds to the result of an `async` task that ended.
fn with_async_fields(o: Outcome, job: Option<&str>) -> Outcome {
    match job {
        None => o,
        Some(j) => {
            let mut o = o;
            o.data.insert("started".into(), Value::from(true));
            o.data.insert("finished".into(), Value::from(true));
            o.data.insert("ansible_job_id".into(), Value::from(j));
            o
        }
    }
}

/// ansible-core's result for an `async` task that did not end within its `async` seconds.
fn async_timed_out(secs: u64, job: &str) -> Outcome {
    let empty = Value::from(Vec::<Value>::new());
    let job_result = Value::from_pairs([
        ("started".to_string(), Value::from(true)),
        ("finished".to_string(), Value::from(false)),
        ("ansible_job_id".to_string(), Value::from(job)),
        ("stdout".to_string(), Value::from("")),
        ("stderr".to_string(), Value::from("")),
        ("stdout_lines".to_string(), empty.clone()),
        ("stderr_lines".to_string(), empty),
    ]);
    Outcome::failed(format!("async task did not complete within the requested time - {secs}s"))
        .with("async_result", job_result)
}

fn is_undefined_error(e: &str) -> bool {
    e.contains("is undefined") || e.contains("undefined value")
}

/// The task is skipped on this host as a whole (no item ran).
fn skip_task(w: &mut Worker<'_>, t: &Arc<TaskDef>, o: Outcome) -> TaskFlow {
    whole_task(w, t, o, Status::Skipped)
}

fn fail_task(w: &mut Worker<'_>, t: &Arc<TaskDef>, msg: String) -> TaskFlow {
    whole_task(w, t, Outcome::failed(msg), Status::Failed)
}

/// Fails the whole task on this host whatever its `ignore_errors` says.
fn fatal_task(w: &mut Worker<'_>, t: &Arc<TaskDef>, msg: String) -> TaskFlow {
    let mut o = Outcome::failed(msg);
    o.fatal = true;
    whole_task(w, t, o, Status::Failed)
}

/// One result for the whole task on this host (no loop, no module run), counted and shown.
fn whole_task(w: &mut Worker<'_>, t: &Arc<TaskDef>, o: Outcome, status: Status) -> TaskFlow {
    let value = result_value(&o, status == Status::Failed, false);
    whole_task_valued(w, t, o, status, value)
}

/// [`whole_task`] registering `value`.
fn whole_task_valued(w: &mut Worker<'_>, t: &Arc<TaskDef>, o: Outcome, status: Status, value: Value) -> TaskFlow {
    let failed = status == Status::Failed;
    let r = ItemResult {
        outcome: o,
        delegate: None,
        failed,
        changed: false,
        status,
        value,
        label: None,
        unreachable: None,
        ms: 0,
        loop_fields: Vec::new(),
        notify: Vec::new(),
    };
    finish_task(w, t, vec![r], false)
}

/// The task's name as `ansible_failed_task` holds it in ansible-core: each `{{ }}` rendered
/// with the host's variables (not the loop's), one that fails written `<< error N - why >>`;
/// an unnamed task's name is empty.
fn failed_task_name(w: &Worker<'_>, t: &TaskDef) -> String {
    if !t.named {
        return String::new();
    }
    let ctx = w.scope(t.id, Vec::new());
    let templar = &w.env.templar;
    let rendered = |text: &str| templar.render_str(text, &ctx).ok().filter(|v| !v.is_undefined());
    if t.name.contains("{%") || t.name.contains("{#") {
        return rendered(&t.name).map_or_else(|| t.name.clone(), |v| v.to_string());
    }
    let (mut out, mut errors) = (String::new(), 0);
    for part in prov_core::template::template_parts(&t.name) {
        let expr = match part {
            prov_core::template::TemplatePart::Text(text) => {
                out.push_str(text);
                continue;
            }
            prov_core::template::TemplatePart::Expr(expr) => expr,
        };
        match rendered(&format!("{{{{ {expr} }}}}")) {
            Some(v) => out.push_str(&v.to_string()),
            None => {
                errors += 1;
                let why = match templar.eval_or_undefined(expr, &ctx) {
                    Ok(Err(why)) | Err(why) => why,
                    Ok(Ok(_)) => format!("`{{{{ {expr} }}}}` failed"),
                };
                out.push_str(&format!("<< error {errors} - {why} >>"));
            }
        }
    }
    out
}

fn finish_task(w: &mut Worker<'_>, t: &Arc<TaskDef>, results: Vec<ItemResult>, looped: bool) -> TaskFlow {
    // As rendered before the task ran; a template that does not render: ansible-core fails
    // the task and ignores that failure.
    let ignore = match w.ignore_errors_now.take() {
        Some((id, b)) if id == t.id => b,
        _ => flag(w, t, &t.ignore_errors).unwrap_or(true),
    };
    let ignore_errors = ignore && !results.iter().any(|r| r.outcome.fatal);
    if results.iter().any(|r| r.outcome.refresh_inventory) {
        w.refresh.store(true, std::sync::atomic::Ordering::SeqCst);
    }
    let diff_on = w.diff_now.unwrap_or(w.env.opts.mode.diff == prov_core::module::DiffMode::On);
    let show_diff = diff_on || w.env.opts.mode.check == CheckMode::Check;
    let loc = location(w, t);
    let mut any_changed = false;
    let mut any_failed = false;
    let mut unreachable = None;
    let all_skipped = !results.is_empty() && results.iter().all(|r| r.status == Status::Skipped);
    for r in &results {
        any_changed |= r.changed;
        any_failed |= r.failed;
        if r.unreachable.is_some() {
            unreachable = r.unreachable.clone();
        }
        let status = if r.status == Status::Failed && ignore_errors { Status::Ignored } else { r.status };
        let hide = hidden(w, t);
        w.env.events.emit(Event::HostResult(Box::new(HostResult {
            play: w.play_index,
            task: t.id,
            name: t.name.clone(),
            module: t.module.to_string(),
            host: w.host.clone(),
            status,
            changed: r.changed,
            item: if hide { r.label.as_ref().map(|_| "(hidden)".to_string()) } else { r.label.clone() },
            msg: if hide && (r.outcome.msg.is_some() || r.outcome.shown.is_some()) {
                Some("output hidden: no_log".into())
            } else {
                r.outcome.shown.clone().or_else(|| r.outcome.msg.clone())
            },
            duration_ms: r.ms,
            diff: if show_diff && !hide { r.outcome.diffs.iter().map(DiffOut::from).collect() } else { Vec::new() },
            planned: r.outcome.planned.iter().map(|p| planned_out(p, hide)).collect(),
            stdout: if hide { None } else { excerpt(r.outcome.data.get("stdout")) },
            stderr: if hide { None } else { excerpt(r.outcome.data.get("stderr")) },
            location: loc.clone(),
            root_cause: r.failed && !ignore_errors && !(r.unreachable.is_some() && t.ignore_unreachable),
            warnings: r
                .outcome
                .data
                .get("warnings")
                .and_then(|w| w.try_iter().ok())
                .map(|it| it.map(|v| v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string())).collect())
                .unwrap_or_default(),
            fields: crate::event::fields_of(&r.value),
        })));
    }
    // Registered value (also what a rescue sees as `ansible_failed_result`).
    if t.register.is_some() || (any_failed && !ignore_errors) {
        let v = if looped {
            let msg = if any_failed {
                "One or more items failed"
            } else if all_skipped || results.is_empty() {
                "All items skipped"
            } else {
                "All items completed"
            };
            let mut top = vec![("changed".to_string(), Value::from(any_changed))];
            if any_failed {
                top.push(("failed".to_string(), Value::from(true)));
            }
            top.push(("msg".to_string(), Value::from(msg)));
            let per_item = results.iter().map(item_value).collect::<Vec<_>>();
            top.push(("results".to_string(), Value::from(per_item)));
            top.push(("skipped".to_string(), Value::from(all_skipped || results.is_empty())));
            Value::from_pairs(top)
        } else {
            results.first().map(|r| r.value.clone()).unwrap_or_default()
        };
        if any_failed && !ignore_errors {
            let task = Value::from_pairs(vec![
                ("name".to_string(), Value::from(failed_task_name(w, t))),
                ("action".to_string(), Value::from(t.module)),
            ]);
            w.last_failure = Some((task, v.clone()));
        }
        if let Some(reg) = &t.register {
            Arc::make_mut(&mut w.runtime).insert(reg.clone(), v);
        }
    }
    // Facts from set_fact, setup & co. (again for a loop's items, which set theirs as they
    // ran: setting the same values twice changes nothing).
    let mut facts_changed = false;
    for r in &results {
        if !r.failed {
            facts_changed |= set_facts(w, t, r);
        }
    }
    if t.register.is_some() || facts_changed {
        w.publish(false);
    }
    // Counts: one per task (not per item), as Ansible's recap.
    if unreachable.is_some() {
        if t.ignore_unreachable {
            // ansible-core counts it ok and ignored, and the host goes on (the next task
            // connects again).
            w.recap.ok += 1;
            w.recap.ignored += 1;
            w.conn = None;
            return TaskFlow::Continue;
        }
        w.recap.unreachable += 1;
        return TaskFlow::Unreachable;
    }
    if !all_skipped {
        w.role_ran(t);
    }
    if any_failed && !ignore_errors {
        w.recap.failed += 1;
        return TaskFlow::Failed;
    }
    if any_failed {
        // ansible-core counts an ignored failure ok and ignored, and changed when it changed
        // something (it notifies no handler).
        w.recap.ignored += 1;
        w.recap.ok += 1;
        w.recap.changed += u32::from(any_changed);
    } else if all_skipped {
        w.recap.skipped += 1;
    } else {
        w.recap.ok += 1;
        if any_changed {
            w.recap.changed += 1;
            for &h in &t.notify {
                w.notified.insert(h);
            }
            // Every item's rendered names count once the task changed, as in ansible-core
            // (whose items that did not change notify too).
            for name in results.iter().flat_map(|r| &r.notify) {
                match w.bp.play.notify_index.get(name).filter(|ids| !ids.is_empty()) {
                    Some(ids) => w.notified.extend(ids.iter().copied()),
                    None => return missing_handler(w, t, name),
                }
            }
        }
    }
    TaskFlow::Continue
}

/// Sets what a task's result sets: `set_fact` variables and a module's `ansible_facts`, on this
/// host or, with `delegate_facts`, on the host it was delegated to (as Ansible does). Returns
/// whether this host's variables changed.
fn set_facts(w: &mut Worker<'_>, t: &TaskDef, r: &ItemResult) -> bool {
    let inc = &r.outcome.included_vars;
    if r.outcome.facts.is_empty() && r.outcome.host_facts.is_empty() && inc.is_empty() {
        return false;
    }
    let delegate_facts = match w.delegate_facts_now {
        Some((id, b)) if id == t.id => b,
        _ => t.delegate_facts.fixed().unwrap_or(false),
    };
    if let (true, Some(d)) = (delegate_facts, &r.delegate) {
        if *d != w.host {
            // (`include_vars` with `delegate_facts` is refused before the run.)
            w.delegated.add(d, &r.outcome.host_facts, &r.outcome.facts);
            return false;
        }
    }
    if (t.run_once || w.meta.once_if(t.id, w.idx) == Some(OnceMark::Runs)) && !inc.is_empty() {
        // For the other hosts of the batch, which take this host's result.
        w.meta.set_run_once_vars(t.id, inc.clone());
    }
    if !inc.is_empty() {
        let layer = Arc::make_mut(&mut w.included);
        for (k, v) in inc {
            layer.insert(k.clone(), v.clone());
        }
    }
    for (k, v) in &r.outcome.facts {
        Arc::make_mut(&mut w.runtime).insert(k.clone(), v.clone());
    }
    if !r.outcome.host_facts.is_empty() {
        w.add_facts(&r.outcome.host_facts);
    }
    true
}

/// Gathers facts on the host, as ansible-core's "Gathering Facts" task of the play: the
/// `setup` module with the play's `gather_subset` and `gather_timeout`, reported and counted
/// as a task. Under `gathering = smart`, not on a host that has facts from an earlier play.
pub(crate) async fn gather_facts(w: &mut Worker<'_>) -> Result<(), Flow> {
    let start = Instant::now();
    if w.bp.play.gather_facts == prov_core::compile::GatherFacts::Smart && !w.gathered.is_empty() {
        return Ok(());
    }
    let subsets = w.bp.play.gather_subset.clone().unwrap_or_else(|| vec!["all".to_string()]);
    let wanted = match prov_core::facts::select(&subsets) {
        Ok(c) => c,
        Err(e) => return Err(report_gather(w, Status::Failed, e, start)),
    };
    let Some(module) = w.env.registry.get("setup") else {
        return Err(report_gather(w, Status::Failed, "the setup module is not available".into(), start));
    };
    let conn = match w.connection() {
        Ok(c) => c,
        Err(e) => return Err(report_gather(w, Status::Unreachable, e, start)),
    };
    let mut args = vec![("gather_subset".to_string(), Value::from(subsets))];
    if let Some(t) = w.bp.play.gather_timeout {
        args.push(("gather_timeout".to_string(), Value::from(t)));
    }
    let args = Value::from_pairs(args);
    let vars = ScopeVars { templar: w.env.templar.clone(), ctx: Value::UNDEFINED };
    let files = TaskFiles(Arc::new(Vec::new()));
    // The play's `become` (and the inventory's), as Ansible gathers; a templated
    // `become_user` has no task to be rendered for here: gathering then does not escalate.
    let become_ = match effective_become(w.bp.play.become_.clone(), &w.inv_vars) {
        Ok(b) => b.filter(|b| !prov_core::template::is_template(&b.user)),
        Err(e) => return Err(report_gather(w, Status::Failed, e, start)),
    };
    // The play's `environment`, each variable rendered on its own: one that reads
    // `ansible_env`, which gathering makes, is left out, as ansible-core leaves it out.
    let mut env = Vec::new();
    if let Some(e) = &w.bp.play.environment {
        match gathering_environment(w, e) {
            Ok(pairs) => env = pairs,
            Err(e) => return Err(report_gather(w, Status::Failed, format!("environment: {e}"), start)),
        }
    }
    let cx = ModuleCtx {
        host: &w.host,
        delegate_to: None,
        conn: conn.as_ref(),
        host_conn: None,
        become_,
        env,
        mode: RunMode::default(),
        files: &files,
        vars: &vars,
        facts: &w.fact_cache,
        timeout: None,
        progress: None,
    };
    let permit = w.forks.acquire().await;
    let r = module.run(&args, &cx).await;
    drop(permit);
    match r {
        Ok(o) if !o.failed => {
            w.add_facts(&o.host_facts);
            w.gathered.extend(wanted);
            w.publish(false);
            report_gather(w, Status::Ok, String::new(), start);
            Ok(())
        }
        Ok(o) => Err(report_gather(w, Status::Failed, o.msg.unwrap_or_default(), start)),
        Err(ModuleError::Connection(e)) if e.is_unreachable() => {
            Err(report_gather(w, Status::Unreachable, e.to_string(), start))
        }
        Err(e) => Err(report_gather(w, Status::Failed, e.to_string(), start)),
    }
}

/// The play's `environment` for fact gathering: each variable rendered with the play's scope,
/// one whose value reads the facts gathering makes (`ansible_env`) left out, as ansible-core
/// leaves it out for its fact-gathering actions.
fn gathering_environment(w: &Worker<'_>, e: &Value) -> Result<Vec<(String, String)>, String> {
    let scope = w.play_scope();
    let maps: Vec<Value> = match e.kind() {
        ValueKind::Seq => e.try_iter().map_err(|e| e.to_string())?.collect(),
        _ => vec![e.clone()],
    };
    let mut kept = Vec::new();
    for m in maps {
        if m.kind() != ValueKind::Map {
            kept.push(w.env.templar.render_deep_defined(&m, &scope)?);
            continue;
        }
        let mut pairs = Vec::new();
        for k in m.try_iter().map_err(|e| e.to_string())? {
            let v = m.get_item(&k).map_err(|e| e.to_string())?;
            match w.env.templar.render_deep_defined(&v, &scope) {
                Ok(v) => pairs.push((k.to_string(), v)),
                Err(err) if err.contains("ansible_env") || err.contains("ansible_facts") => {}
                Err(err) => return Err(err),
            }
        }
        kept.push(Value::from_pairs(pairs));
    }
    env_pairs(&Value::from(kept))
}

fn report_gather(w: &mut Worker<'_>, status: Status, msg: String, start: Instant) -> Flow {
    // Gathering is a task of the play: its `ignore_unreachable` counts an unreachable host
    // ok and ignored, and the host goes on (without facts), as in ansible-core.
    let ignored = status == Status::Unreachable && w.bp.play.ignore_unreachable;
    if status == Status::Ok {
        w.recap.ok += 1;
    } else if ignored {
        w.recap.ok += 1;
        w.recap.ignored += 1;
        w.conn = None;
    } else if status == Status::Unreachable {
        w.recap.unreachable += 1;
    } else {
        w.recap.failed += 1;
    }
    w.env.events.emit(Event::HostResult(Box::new(HostResult {
        play: w.play_index,
        task: usize::MAX,
        name: "Gathering Facts".into(),
        module: "setup".into(),
        host: w.host.clone(),
        status,
        changed: false,
        item: None,
        msg: (!msg.is_empty()).then_some(msg),
        duration_ms: start.elapsed().as_millis() as u64,
        diff: Vec::new(),
        planned: Vec::new(),
        stdout: None,
        stderr: None,
        location: String::new(),
        root_cause: !ignored && status != Status::Ok,
        warnings: Vec::new(),
        fields: Default::default(),
    })));
    if ignored || status == Status::Ok {
        Flow::Continue
    } else if status == Status::Unreachable {
        Flow::Unreachable
    } else {
        Flow::Failed
    }
}

/// The variables that give a become password, as ansible-core's become plugins read them.
const BECOME_PASSWORD_VARS: &[&str] = &["ansible_become_password", "ansible_become_pass", "ansible_su_pass"];

/// The task's `become`, with the host's connection variables on top, as in Ansible where
/// `ansible_become`/`ansible_become_user`/`ansible_become_method` from the inventory beat
/// play keywords. `Err` (before anything runs with it) for a method prov does not support,
/// or for `su` where the host has a become password: `su` reads it from a terminal, and prov
/// has no safe way to give it one.
pub(crate) fn effective_become(
    from_play: Option<prov_core::connection::Become>,
    host: &prov_core::vars::VarMap,
) -> Result<Option<prov_core::connection::Become>, String> {
    use prov_core::connection::{Become, BecomeMethod};
    let set = |k: &str| host.get(k).filter(|v| !v.is_undefined() && !v.is_none());
    let mut b = match set("ansible_become") {
        None => from_play,
        Some(v) if v.as_str().map_or(v.is_true(), |s| prov_core::args::parse_bool(s) == Some(true)) => {
            Some(from_play.unwrap_or(Become { user: "root".into(), method: BecomeMethod::Sudo }))
        }
        Some(_) => None,
    };
    let Some(b) = b.as_mut() else { return Ok(None) };
    if let Some(u) = set("ansible_become_user") {
        b.user = u.to_string();
    }
    if let Some(m) = set("ansible_become_method") {
        let m = m.to_string();
        b.method = BecomeMethod::parse(&m).ok_or_else(|| {
            format!("ansible_become_method `{m}` is not supported (prov supports {})", BecomeMethod::SUPPORTED)
        })?;
    }
    if b.method == BecomeMethod::Su {
        if let Some(var) = BECOME_PASSWORD_VARS.iter().find(|k| set(k).is_some_and(|v| !v.to_string().is_empty())) {
            return Err(format!(
                "become_method su with a become password (`{var}`): su reads the password from a terminal and prov cannot give it one safely; connect as root (su then asks none), or use sudo with NOPASSWD"
            ));
        }
    }
    Ok(Some(b.clone()))
}

#[cfg(test)]
mod become_tests {
    use super::effective_become;
    use minijinja::Value;
    use prov_core::connection::{Become, BecomeMethod};
    use prov_core::vars::VarMap;

    fn b(u: &str) -> Option<Become> {
        Some(Become { user: u.into(), method: BecomeMethod::Sudo })
    }

    fn su(u: &str) -> Option<Become> {
        Some(Become { user: u.into(), method: BecomeMethod::Su })
    }

    #[test]
    fn inventory_connection_variables_win() {
        let mut host = VarMap::new();
        assert_eq!(effective_become(b("app"), &host), Ok(b("app")));
        host.insert("ansible_become".into(), Value::from("yes"));
        assert_eq!(effective_become(None, &host), Ok(b("root")));
        host.insert("ansible_become_user".into(), Value::from("postgres"));
        assert_eq!(effective_become(b("app"), &host), Ok(b("postgres")));
        host.insert("ansible_become".into(), Value::from(false));
        assert_eq!(effective_become(b("app"), &host), Ok(None));
    }

    #[test]
    fn inventory_become_method_su_applies_where_the_task_escalates() {
        let mut host = VarMap::new();
        host.insert("ansible_become_method".into(), Value::from("su"));
        assert_eq!(effective_become(b("app"), &host), Ok(su("app")));
        // The method alone does not escalate.
        assert_eq!(effective_become(None, &host), Ok(None));
        host.insert("ansible_become_method".into(), Value::from("sudo"));
        assert_eq!(effective_become(su("app"), &host), Ok(b("app")));
        host.insert("ansible_become_method".into(), Value::from("doas"));
        assert_eq!(
            effective_become(b("app"), &host),
            Err("ansible_become_method `doas` is not supported (prov supports sudo, su)".into())
        );
    }

    #[test]
    fn su_with_a_become_password_is_refused_and_the_password_not_shown() {
        for var in ["ansible_become_password", "ansible_become_pass", "ansible_su_pass"] {
            let mut host = VarMap::new();
            host.insert(var.into(), Value::from("s3cret-pw"));
            let e = effective_become(su("app"), &host).expect_err("refused");
            assert!(e.starts_with(&format!("become_method su with a become password (`{var}`)")), "{e}");
            assert!(!e.contains("s3cret-pw"), "{e}");
            // Not escalating, or sudo (which prov runs with -n): the password is not used.
            assert_eq!(effective_become(None, &host), Ok(None));
            assert_eq!(effective_become(b("app"), &host), Ok(b("app")));
        }
    }
}
