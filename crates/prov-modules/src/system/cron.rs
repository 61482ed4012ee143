//! `cron`: one named job or one environment variable of a user's crontab or of a file under
//! `/etc/cron.d` (ansible.builtin.cron).
//!
//! Arguments (as in ansible-core 2.19):
//! - `name` (required): the job's name, written in the marker line `#Ansible: NAME` above it;
//!   with `env`, the variable's name.
//! - `job` (alias `value`): the command (with `env`, the variable's value); required with
//!   `state: present`.
//! - `state`: `present` (default) or `absent`.
//! - `minute`, `hour`, `day` (alias `dom`), `month`, `weekday` (alias `dow`): default `*`;
//!   or `special_time`: `reboot`, `yearly`, `annually`, `monthly`, `weekly`, `daily`, `hourly`
//!   (not with the others).
//! - `user`: whose crontab (default: the user the task runs as); with `cron_file`, the user the
//!   job runs as (required with `state: present`).
//! - `cron_file`: a file instead of the user's crontab, relative to `/etc/cron.d`; removed when
//!   its last job is removed. Never `/etc/crontab`.
//! - `disabled`: the job line is written commented out (`#` first).
//! - `env`: manage a `NAME="value"` line instead of a job; new lines go to the top, or
//!   `insertafter` / `insertbefore` the line of another variable.
//! - `backup`: keep a copy of the crontab as it was in a temporary file (`backup_file`).
//!
//! A user's crontab is read with `crontab -l` and written whole with `crontab -` (its text on
//! standard input), with `-u USER` when `user` is not the user the task runs as. The crontab is
//! edited as ansible-core edits it (observed on the same crontabs), so one managed by Ansible is
//! managed by prov identically: a job is the line after its marker; a job line that matches
//! exactly but has no marker gets one; every marker of the name is rewritten (or removed) with
//! the line after it; a variable is the first line starting with `NAME=`, and every such line
//! is rewritten (or removed); the text is written with one final newline, and a crontab whose
//! last line has none changes for that alone. Registers `jobs` and `envs` (the names in the
//! crontab after the task), `backup_file`; removing a `cron_file` registers `cron_file` and
//! `state` instead.
//!
//! Differences from Ansible: a line break in `name` or inside `job` is refused (Ansible warns
//! and writes a crontab it cannot read back the same); `env` names are matched literally
//! (Ansible reads them as a regular expression); a planned change in check mode registers no
//! `jobs`/`envs`; a `cron_file` is written through prov's atomic upload (its directory created
//! when missing) and does not need the `crontab` program; no warning is given for a `cron_file`
//! name cron would ignore.
//!
//! ```yaml
//! - cron:
//!     name: nightly backup
//!     minute: "0"
//!     hour: "3"
//!     job: /usr/local/bin/backup > /dev/null
//!     user: app
//! - ansible.builtin.cron:
//!     name: PATH
//!     env: true
//!     job: /usr/local/bin:/usr/bin:/bin
//! - ansible.builtin.cron:
//!     name: cleanup
//!     special_time: daily
//!     job: find /tmp -mtime +7 -delete
//!     user: root
//!     cron_file: cleanup
//! ```

use crate::files::edit::{self, EditPlan};
use crate::files::Attrs;
use crate::util::Text;
use async_trait::async_trait;
use prov_core::args::lenient_bool;
use prov_core::args::Mode;
use prov_core::cmd::{Cmd, Sh};
use prov_core::module::{Action, Change, Diff, DiffMode, Module, ModuleCtx, ModuleError, Outcome, Plan};
use serde::Deserialize;

fn star() -> Text {
    Text("*".into())
}

/// Arguments of `cron`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    /// The job's name, or the variable's.
    #[serde(deserialize_with = "crate::util::py_text")]
    pub name: String,
    /// Whose crontab; with `cron_file`, who runs the job.
    #[serde(default, deserialize_with = "crate::util::stringish")]
    pub user: Option<String>,
    /// The command, or the variable's value.
    #[serde(default, alias = "value", deserialize_with = "crate::util::stringish")]
    pub job: Option<String>,
    /// A file under `/etc/cron.d` instead of the crontab.
    #[serde(default)]
    pub cron_file: Option<String>,
    /// `present` or `absent`.
    #[serde(default)]
    pub state: State,
    /// Keep a copy of the old crontab.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub backup: bool,
    /// Minute field.
    #[serde(default = "star")]
    pub minute: Text,
    /// Hour field.
    #[serde(default = "star")]
    pub hour: Text,
    /// Day-of-month field.
    #[serde(default = "star", alias = "dom")]
    pub day: Text,
    /// Month field.
    #[serde(default = "star")]
    pub month: Text,
    /// Day-of-week field.
    #[serde(default = "star", alias = "dow")]
    pub weekday: Text,
    /// `@reboot`, `@daily`, ...
    #[serde(default)]
    pub special_time: Option<SpecialTime>,
    /// Write the job commented out.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub disabled: bool,
    /// Manage a variable instead of a job.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub env: bool,
    /// A new variable goes after this one's line.
    #[serde(default)]
    pub insertafter: Option<String>,
    /// A new variable goes before this one's line.
    #[serde(default)]
    pub insertbefore: Option<String>,
}

/// `state` of `cron`.
#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// The job (variable) is there.
    #[default]
    Present,
    /// It is not.
    Absent,
}

/// `special_time` of `cron`.
#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SpecialTime {
    /// `@reboot`.
    Reboot,
    /// `@yearly`.
    Yearly,
    /// `@annually`.
    Annually,
    /// `@monthly`.
    Monthly,
    /// `@weekly`.
    Weekly,
    /// `@daily`.
    Daily,
    /// `@hourly`.
    Hourly,
}

impl SpecialTime {
    fn word(self) -> &'static str {
        match self {
            SpecialTime::Reboot => "reboot",
            SpecialTime::Yearly => "yearly",
            SpecialTime::Annually => "annually",
            SpecialTime::Monthly => "monthly",
            SpecialTime::Weekly => "weekly",
            SpecialTime::Daily => "daily",
            SpecialTime::Hourly => "hourly",
        }
    }
}

/// The marker line's prefix.
const MARK: &str = "#Ansible: ";

/// The `cron` module.
#[derive(Debug, Default)]
pub struct Cron;

/// Lines as Python's `str.splitlines()` cuts them (the line ends dropped).
fn split(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut it = text.chars().peekable();
    while let Some(c) = it.next() {
        match c {
            '\r' => {
                if it.peek() == Some(&'\n') {
                    it.next();
                }
                out.push(std::mem::take(&mut cur));
            }
            '\n' | '\x0b' | '\x0c' | '\x1c' | '\x1d' | '\x1e' | '\u{85}' | '\u{2028}' | '\u{2029}' => {
                out.push(std::mem::take(&mut cur));
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// The lines as the crontab is written: joined by `\n`, with one final newline.
fn render(lines: &[String]) -> String {
    let text = lines.join("\n");
    if text.is_empty() {
        return text;
    }
    format!("{}\n", text.trim_end_matches(['\r', '\n']))
}

/// The header lines some `crontab -l` print first.
fn is_header(line: &str) -> bool {
    let inner = |l: &str, a: &str, b: &str| l.find(a).is_some_and(|i| l[i + a.len()..].contains(b));
    line.strip_prefix("# DO NOT EDIT THIS FILE - edit the master and reinstall").is_some_and(|r| !r.is_empty())
        || line.strip_prefix("# (/tmp/").is_some_and(|r| inner(r, "installed on", ")"))
        || line.strip_prefix("# (").is_some_and(|r| inner(r, "version", ")"))
}

/// What `crontab -l` printed without its header lines (among its first three): the text the
/// diff starts from, and the lines.
fn strip_headers(out: &str) -> (String, Vec<String>) {
    let mut text = out.to_string();
    let mut lines = Vec::new();
    for (i, l) in split(out).into_iter().enumerate() {
        if i > 2 || !is_header(&l) {
            lines.push(l);
        } else if let Some(at) = text.find(l.as_str()) {
            let mut end = at + l.len();
            if text[end..].starts_with(['\r', '\n']) {
                end += 1;
            }
            text.replace_range(at..end, "");
        }
    }
    (text, lines)
}

/// The job line.
fn job_line(a: &Args, job: &str) -> String {
    let job = job.trim_matches(['\r', '\n']);
    let off = if a.disabled { "#" } else { "" };
    let user = match (&a.cron_file, &a.user) {
        (Some(_), Some(u)) => format!(" {u}"),
        (Some(_), None) => " None".into(),
        _ => String::new(),
    };
    match a.special_time {
        Some(s) => format!("{off}@{}{user} {job}", s.word()),
        None => format!("{off}{} {} {} {} {}{user} {job}", a.minute.0, a.hour.0, a.day.0, a.month.0, a.weekday.0),
    }
}

/// Where the job named `name` is.
#[derive(Debug, PartialEq, Eq)]
enum Found {
    /// No marker of that name with a line after it.
    No,
    /// Its line.
    Line(String),
    /// An unmarked line equal to the job: a marker was put above it.
    Adopted,
}

/// Finds the job: the line after the first marker of `name`, else (with `job`) a line equal to
/// the job, which gets a marker when the line above it is no marker (the line above the first
/// is the last, as Python's `lines[-1]`).
fn find_job(lines: &mut Vec<String>, name: &str, job: Option<&str>) -> Found {
    let mut marked: Option<String> = None;
    for l in lines.iter() {
        if let Some(m) = marked.take() {
            if m == name {
                return Found::Line(l.clone());
            }
        } else if l.starts_with(MARK) {
            marked = Some(l.replace(MARK, ""));
        }
    }
    let Some(job) = job else { return Found::No };
    for i in 0..lines.len() {
        if lines[i] != job {
            continue;
        }
        let above = if i == 0 { lines.len() - 1 } else { i - 1 };
        if !lines[above].starts_with(MARK) {
            lines.insert(i, format!("{MARK}{name}"));
            return Found::Adopted;
        }
        if !name.is_empty() && lines[above] == format!("{MARK}None") {
            lines[above] = format!("{MARK}{name}");
            return Found::Adopted;
        }
    }
    Found::No
}

/// Every marker of `name` and the line after it replaced by the marker and `job` (`None`:
/// removed); a marker on the last line goes.
fn update_job(lines: &mut Vec<String>, name: &str, job: Option<&str>) {
    let mark = format!("{MARK}{name}");
    let mut out = Vec::with_capacity(lines.len() + 1);
    let mut pending = false;
    for l in lines.drain(..) {
        if pending {
            if let Some(j) = job {
                out.push(mark.clone());
                out.push(j.to_string());
            }
            pending = false;
        } else if l == mark {
            pending = true;
        } else {
            out.push(l);
        }
    }
    *lines = out;
}

/// The index of the first line of variable `name`.
fn find_env(lines: &[String], name: &str) -> Option<usize> {
    let prefix = format!("{name}=");
    lines.iter().position(|l| l.starts_with(&prefix))
}

/// The names of the marked jobs.
fn job_names(lines: &[String]) -> Vec<String> {
    lines.iter().filter(|l| l.starts_with(MARK)).map(|l| l.replace(MARK, "")).collect()
}

/// The names of the variables: lines whose first word holds `=` after its first character.
fn env_names(lines: &[String]) -> Vec<String> {
    lines
        .iter()
        .filter(|l| {
            let word = l.split(char::is_whitespace).next().unwrap_or_default();
            word.char_indices().skip(1).any(|(_, c)| c == '=')
        })
        .map(|l| l.split('=').next().unwrap_or_default().to_string())
        .collect()
}

/// The result of the edit.
#[derive(Debug, PartialEq, Eq)]
struct Edited {
    lines: Vec<String>,
    changed: bool,
    /// A `cron_file` left with blank lines only: remove it.
    remove_file: bool,
}

/// Edits the crontab's lines as the arguments ask. `Err` is a task failure.
fn edit(mut lines: Vec<String>, existing: &str, a: &Args) -> Result<Edited, String> {
    let name = a.name.as_str();
    let present = a.state == State::Present;
    let mut changed = false;
    let mut remove_file = false;
    if a.env {
        let decl = format!("{name}=\"{}\"", a.job.as_deref().unwrap_or("None"));
        let old = find_env(&lines, name);
        let prefix = format!("{name}=");
        match old {
            None if present => {
                let at = match (&a.insertafter, &a.insertbefore) {
                    (None, None) => 0,
                    (after, before) => {
                        let other = after.as_deref().or(before.as_deref()).unwrap_or_default();
                        match find_env(&lines, other) {
                            Some(i) if after.is_some() => i + 1,
                            Some(i) => i,
                            None => return Err(format!("Variable named '{other}' not found.")),
                        }
                    }
                };
                lines.insert(at, decl);
                changed = true;
            }
            Some(i) if present && lines[i] != decl => {
                for l in lines.iter_mut().filter(|l| l.starts_with(&prefix)) {
                    *l = decl.clone();
                }
                changed = true;
            }
            Some(_) if !present => {
                lines.retain(|l| !l.starts_with(&prefix));
                changed = true;
            }
            _ => {}
        }
    } else if present {
        let job = job_line(a, a.job.as_deref().unwrap_or_default());
        match find_job(&mut lines, name, Some(&job)) {
            Found::No => {
                lines.push(format!("{MARK}{name}"));
                lines.push(job);
                changed = true;
            }
            Found::Line(old) if old == job => {}
            Found::Line(_) | Found::Adopted => {
                update_job(&mut lines, name, Some(&job));
                changed = true;
            }
        }
    } else if find_job(&mut lines, name, None) != Found::No {
        update_job(&mut lines, name, None);
        changed = true;
        remove_file = a.cron_file.is_some() && lines.iter().all(|l| l.trim().is_empty());
    }
    if !changed && !existing.is_empty() && !existing.ends_with(['\r', '\n']) {
        changed = true;
    }
    Ok(Edited { lines, changed, remove_file })
}

/// The `cron_file` as a path: relative ones are under `/etc/cron.d`.
fn cron_path(f: &str) -> String {
    if f.starts_with('/') {
        f.to_string()
    } else {
        format!("/etc/cron.d/{f}")
    }
}

/// `crontab ARGS`, with `-u USER` unless the task runs as `USER` (as ansible-core decides it).
fn crontab(user: Option<&str>, last: &'static str) -> Sh {
    match user {
        None => Cmd::new("crontab").flag(last).build(),
        Some(u) => Sh::lit("if [ \"$(id -un)\" = ")
            .glued(Sh::quoted(u))
            .suffix(" ]; then ")
            .glued(Cmd::new("crontab").flag(last).build())
            .suffix("; else ")
            .glued(Cmd::new("crontab").opt("-u", u).flag(last).build())
            .suffix("; fi"),
    }
}

/// How the new text is written.
enum Write {
    /// `crontab -` with this text.
    Crontab(String),
    /// The `cron_file`.
    File(Option<EditPlan>),
    /// The `cron_file` removed.
    Remove(String),
}

/// What `apply` does: the backup, then the write.
pub struct CronPlan {
    write: Write,
    /// The old crontab as it is backed up.
    old: String,
    jobs: Vec<String>,
    envs: Vec<String>,
}

/// The crontab's text and lines, the `cron_file`'s read (if any), and the diff's header.
struct Current {
    text: String,
    lines: Vec<String>,
    file: Option<edit::Read>,
    header: String,
}

async fn read(a: &Args, cx: &ModuleCtx<'_>) -> Result<Result<Current, Outcome>, ModuleError> {
    if let Some(f) = &a.cron_file {
        let path = cron_path(f);
        let r = edit::read(cx, &path).await?;
        let text = match (&r.st, &r.data) {
            (None, _) => String::new(),
            (Some(_), Some(d)) => match String::from_utf8(d.clone()) {
                Ok(t) => t,
                Err(_) => return Ok(Err(Outcome::failed(format!("{path} is not UTF-8 text")))),
            },
            (Some(_), None) => return Ok(Err(Outcome::failed(format!("{path} is not a regular file")))),
        };
        let lines = split(&text);
        return Ok(Ok(Current { text, lines, file: Some(r), header: path }));
    }
    let out = cx.exec(crontab(a.user.as_deref(), "-l")).await?;
    match out.rc {
        0 | 1 => {}
        127 => return Ok(Err(Outcome::failed("Failed to find required executable \"crontab\""))),
        _ => return Ok(Err(Outcome::failed("Unable to read crontab").with_exec(&out))),
    }
    let (text, lines) = strip_headers(&out.stdout_str());
    let header = match &a.user {
        Some(u) => format!("crontab for user \"{u}\""),
        None => "crontab".into(),
    };
    Ok(Ok(Current { text, lines, file: None, header }))
}

#[async_trait]
impl Module for Cron {
    const NAME: &'static str = "cron";
    const PATH_ARGS: &'static [&'static str] = &["cron_file"];
    type Args = Args;
    type Plan = CronPlan;

    fn check_args(a: &Args) -> Result<(), String> {
        if a.insertafter.is_some() && a.insertbefore.is_some() {
            return Err("parameters are mutually exclusive: insertafter|insertbefore".into());
        }
        if a.cron_file.as_deref() == Some("/etc/crontab") {
            return Err("Will not manage /etc/crontab via cron_file, see documentation.".into());
        }
        let times = [&a.minute, &a.hour, &a.day, &a.month, &a.weekday];
        if a.special_time.is_some() && times.iter().any(|t| t.0 != "*") {
            return Err("You cannot combine special_time with any of the time or day/date parameters.".into());
        }
        if a.state == State::Present {
            if a.cron_file.is_some() && a.user.is_none() {
                return Err("To use cron_file=... parameter you must specify user=... as well".into());
            }
            if a.job.is_none() {
                return Err("You must specify 'job' to install a new cron job or variable".into());
            }
            if (a.insertafter.is_some() || a.insertbefore.is_some()) && !a.env {
                return Err("Insertafter and insertbefore parameters are valid only with env=yes".into());
            }
        }
        if a.env && a.name.contains(' ') {
            return Err("Invalid name for environment variable".into());
        }
        let job = a.job.as_deref().unwrap_or_default().trim_matches(['\r', '\n']);
        let fields = times.iter().map(|t| t.0.as_str()).chain([a.name.as_str(), job]);
        if fields.chain(a.user.as_deref()).any(|s| s.contains(['\r', '\n'])) {
            return Err("`name`, `job`, `user` and the time fields cannot contain a line break".into());
        }
        if a.cron_file.as_deref() == Some("") {
            return Err("`cron_file` is empty".into());
        }
        Ok(())
    }

    async fn plan(&self, a: &Args, cx: &ModuleCtx<'_>) -> Result<Plan<CronPlan>, ModuleError> {
        let cur = match read(a, cx).await? {
            Ok(c) => c,
            Err(failed) => return Ok(Plan::Ok(failed)),
        };
        let old = render(&cur.lines);
        let e = match edit(cur.lines, &cur.text, a) {
            Ok(e) => e,
            Err(msg) => return Ok(Plan::Ok(Outcome::failed(msg))),
        };
        let jobs = job_names(&e.lines);
        let envs = env_names(&e.lines);
        if !e.changed {
            let o = Outcome::ok().with("jobs", jobs).with("envs", envs);
            return Ok(Plan::Ok(match &a.cron_file {
                Some(f) => o.with("cron_file", f.as_str()),
                None => o,
            }));
        }
        let new = render(&e.lines);
        let (write, after) = match cur.file {
            Some(r) if e.remove_file => (Write::Remove(r.path.clone()), String::new()),
            Some(r) => {
                let attrs = Attrs { mode: r.st.is_none().then_some(Mode::Octal(0o644)), owner: None, group: None };
                let w = match edit::plan(cx, &r, new.clone().into_bytes(), "", &attrs, edit::Registers::Nothing) {
                    Plan::Change(ch) => Some(ch.plan),
                    Plan::Ok(_) => None,
                };
                (Write::File(w), new)
            }
            None => (Write::Crontab(new.clone()), new),
        };
        let action = if e.remove_file { Action::Delete } else { Action::Modify };
        let mut ch = Change::new(CronPlan { write, old, jobs, envs }, action, "crontab", cur.header.as_str());
        if cx.mode.diff == DiffMode::On {
            ch.diffs.push(Diff { header: cur.header, before: cur.text, after, skipped: Vec::new() });
        }
        Ok(Plan::Change(ch))
    }

    async fn apply(&self, a: &Args, plan: CronPlan, cx: &ModuleCtx<'_>) -> Result<Outcome, ModuleError> {
        let mut o = Outcome { changed: true, ..Outcome::ok() };
        if a.backup {
            let cmd = Sh::lit("F=$(mktemp -t crontabXXXXXXXX) && cat > \"$F\" && printf '%s' \"$F\"");
            let out = cx.exec_stdin(cmd, plan.old.into_bytes()).await?;
            if out.rc != 0 {
                return Ok(Outcome::failed(format!("backing up the crontab failed: {}", out.stderr_str().trim())));
            }
            o = o.with("backup_file", out.stdout_str().to_string());
        }
        match plan.write {
            Write::Crontab(text) => {
                let out = cx.exec_stdin(crontab(a.user.as_deref(), "-"), text.into_bytes()).await?;
                if out.rc != 0 {
                    let mut f = Outcome::failed("Failed to install new cronfile").with_exec(&out);
                    f.data.shift_remove("stdout_lines");
                    f.data.shift_remove("stderr_lines");
                    return Ok(f);
                }
            }
            Write::File(Some(w)) => {
                let done = edit::apply(cx, w, &Attrs::default(), false, None).await?;
                if done.failed {
                    return Ok(done);
                }
            }
            Write::File(None) => {}
            Write::Remove(path) => {
                let out = cx.exec(Cmd::new("rm").flag("-f").operand(&path).build()).await?;
                if out.rc != 0 {
                    return Ok(Outcome::failed(format!("removing {path} failed: {}", out.stderr_str().trim())));
                }
                // As ansible-core: the backup is made but not registered.
                let f = a.cron_file.as_deref().unwrap_or_default();
                return Ok(Outcome { changed: true, ..Outcome::ok() }.with("cron_file", f).with("state", "absent"));
            }
        }
        o = o.with("jobs", plan.jobs).with("envs", plan.envs);
        Ok(match &a.cron_file {
            Some(f) => o.with("cron_file", f.as_str()),
            None => o,
        })
    }
}

#[cfg(test)]
mod tests;
