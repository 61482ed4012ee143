//! Reporters: turn the walker's events into Ansible-like lines, JSON lines, a JUnit file.

use prov_exec::event::{Apply, Event, HostRecap, HostResult, Status, WaitFor};
use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};

/// Prints events as they come; remembers what the recap, `prov plan` and JUnit need.
pub struct Reporter {
    json: bool,
    /// Print nothing while running (`--output markdown`: the plan comes at the end).
    quiet: bool,
    /// `prov plan`: secrets in diffs are masked in every output (see `plan::mask`).
    mask_diffs: bool,
    color: bool,
    last_task: Option<(usize, usize)>,
    /// Every host result (JUnit, plan summary).
    pub results: Vec<HostResult>,
    /// Plan summary counts: (action sign, resource) → count.
    pub planned: BTreeMap<(String, String), usize>,
    /// Final recap.
    pub recap: Vec<HostRecap>,
    /// Whether the run was interrupted.
    pub interrupted: bool,
    out: Box<dyn Write + Send>,
    /// The live status line (only on a terminal, only for human output).
    progress: Option<indicatif::ProgressBar>,
    tally: Tally,
    /// What each host is doing now and since when, for the status line and `-v`: keyed by
    /// host and `""` for its task (or the wait before it), by host and item (or change) for
    /// the changes it applies.
    running: BTreeMap<(String, String), Running>,
    /// `-v`: a line for every task, wait or change still going on after [`SLOW_AFTER`], then
    /// every [`SLOW_AFTER`] again.
    verbose: bool,
}

/// How long a task runs before it is named as still running.
pub const SLOW_AFTER: std::time::Duration = std::time::Duration::from_secs(10);

/// Something a host is doing now.
struct Running {
    doing: Doing,
    since: std::time::Instant,
    /// When the last `still running` line for it was printed.
    noted: Option<std::time::Instant>,
}

impl Running {
    fn new(doing: Doing) -> Running {
        Running { doing, since: std::time::Instant::now(), noted: None }
    }
}

/// What a host is doing: a task, the wait before one, or changes it applies.
#[derive(Debug, Clone, PartialEq)]
enum Doing {
    /// Runs this task.
    Task(String),
    /// Waits for host `on` before a task.
    Waiting { on: String, reason: WaitFor },
    /// Applies a change: `creating` `worker3`.
    Applying { verb: &'static str, what: String },
}

/// The words for what `host` has been doing for `secs` seconds: `still running: apt on web1
/// [12s]`, `worker1 waiting for manager1: hostvars read of swarm_init [12s]`, `still creating
/// worker3 [40s]` (changes on the controller name no host).
fn describe(host: &str, doing: &Doing, secs: u64) -> String {
    match doing {
        Doing::Task(task) => format!("still running: {task} on {host} [{secs}s]"),
        Doing::Waiting { on, reason } => {
            let why = match reason {
                WaitFor::Hostvars { var } if var == "*" => "hostvars read".to_string(),
                WaitFor::Hostvars { var } => format!("hostvars read of {var}"),
                WaitFor::DelegateTo => "task delegated to it".to_string(),
                WaitFor::Linear => "linear strategy, every host finishes the task before".to_string(),
                WaitFor::Serial => "serial, the batch before finishes the play".to_string(),
            };
            format!("{host} waiting for {on}: {why} [{secs}s]")
        }
        Doing::Applying { verb, what } if host == "localhost" => format!("still {verb} {what} [{secs}s]"),
        Doing::Applying { verb, what } => format!("still {verb} {what} on {host} [{secs}s]"),
    }
}

/// The key and what a host does while it applies `a`; `None` for commands, whose task says
/// what runs (`still running: migrate on web1`).
fn applying(a: &Apply) -> Option<((String, String), Doing)> {
    if a.changes.iter().all(|c| c.action == "run") {
        return None;
    }
    let names: Vec<&str> = a.changes.iter().map(|c| c.name.as_str()).collect();
    let key = a.item.clone().unwrap_or_else(|| names.join(", "));
    let verb = match a.changes.first().map(|c| c.action.as_str()) {
        Some("create") => "creating",
        Some("delete") => "deleting",
        Some("modify") => "changing",
        Some("scale") => "scaling",
        _ => "running",
    };
    // A long name (a path, a text on several lines): its first line, cut short.
    let short = |s: &str| {
        let line = s.lines().next().unwrap_or_default();
        match line.char_indices().nth(60) {
            Some((i, _)) => format!("{}…", &line[..i]),
            None if line.len() < s.len() => format!("{line}…"),
            None => line.to_string(),
        }
    };
    let what = match names.as_slice() {
        [] => a.name.clone(),
        [one] => short(one),
        [first, rest @ ..] => format!("{} (+{} more)", short(first), rest.len()),
    };
    Some(((a.host.clone(), key), Doing::Applying { verb, what }))
}

/// Counts behind the live status line.
#[derive(Default)]
struct Tally {
    play: String,
    hosts: usize,
    started: usize,
    done: usize,
    changed: usize,
    failed: usize,
    unreachable: usize,
}

impl Tally {
    fn line(&self) -> String {
        format!(
            "{} · {} hosts · {} running · {} done · changed {} · failed {} · unreachable {}",
            self.play,
            self.hosts,
            self.started.saturating_sub(self.done),
            self.done,
            self.changed,
            self.failed,
            self.unreachable
        )
    }
}

fn paint(color: bool, code: &str, s: &str) -> String {
    if color {
        format!("\x1b[{code}m{s}\x1b[0m")
    } else {
        s.to_string()
    }
}

impl Reporter {
    /// A reporter writing to stdout.
    pub fn new(format: crate::cli::Output) -> Self {
        let json = format == crate::cli::Output::Json;
        let quiet = format == crate::cli::Output::Markdown;
        let color = !json && std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
        Reporter {
            json,
            quiet,
            mask_diffs: false,
            color,
            last_task: None,
            results: Vec::new(),
            planned: BTreeMap::new(),
            recap: Vec::new(),
            interrupted: false,
            out: Box::new(std::io::stdout()),
            progress: None,
            tally: Tally::default(),
            running: BTreeMap::new(),
            verbose: false,
        }
        .with_progress(
            !json && !quiet && std::io::stdout().is_terminal() && std::env::var("TERM").map_or(true, |t| t != "dumb"),
        )
    }

    /// `-v`: lines naming tasks that run long.
    pub fn verbose(mut self, on: bool) -> Self {
        self.verbose = on;
        self
    }

    /// Called every second: the status line names what has run longest; with `-v`, a line
    /// for each task, wait or change that has run past [`SLOW_AFTER`] (again every
    /// [`SLOW_AFTER`]).
    pub fn tick(&mut self) {
        self.tick_at(std::time::Instant::now());
    }

    fn tick_at(&mut self, now: std::time::Instant) {
        if self.verbose && self.human() {
            let mut lines = Vec::new();
            let shown = self.shown();
            for (key, r) in self.running.iter_mut() {
                if !shown.contains(key) {
                    continue;
                }
                let host = &key.0;
                let ran = now.duration_since(r.since);
                let due = r.noted.map_or(ran >= SLOW_AFTER, |t| now.duration_since(t) >= SLOW_AFTER);
                if due {
                    r.noted = Some(now);
                    lines.push(format!("  {}", describe(host, &r.doing, ran.as_secs())));
                }
            }
            if !lines.is_empty() {
                let out = &mut self.out;
                let mut print = || {
                    for l in &lines {
                        let _ = writeln!(out, "{l}");
                    }
                    let _ = out.flush();
                };
                match &self.progress {
                    Some(pb) => pb.suspend(print),
                    None => print(),
                }
            }
        }
        if let Some(pb) = &self.progress {
            pb.set_message(self.status());
        }
    }

    /// What the status line and `-v` name: every entry but the task of a host that applies
    /// changes in it (the changes say more).
    fn shown(&self) -> Vec<(String, String)> {
        let applying: std::collections::BTreeSet<&str> = self
            .running
            .iter()
            .filter(|(_, r)| matches!(r.doing, Doing::Applying { .. }))
            .map(|((h, _), _)| h.as_str())
            .collect();
        self.running
            .iter()
            .filter(|((h, _), r)| !(matches!(r.doing, Doing::Task(_)) && applying.contains(h.as_str())))
            .map(|(key, _)| key.clone())
            .collect()
    }

    /// The status line: the counts, then what has run longest (a task, a wait for another
    /// host, a change being applied) and, when that is no wait, the longest wait too: what a
    /// host waits for is seldom what runs longest (the task it waits on started first).
    fn status(&self) -> String {
        self.status_at(std::time::Instant::now())
    }

    fn status_at(&self, now: std::time::Instant) -> String {
        let mut line = self.tally.line();
        let shown = self.shown();
        let entries: Vec<(&str, &Running)> =
            shown.iter().filter_map(|k| self.running.get(k).map(|r| (k.0.as_str(), r))).collect();
        let secs = |r: &Running| now.saturating_duration_since(r.since).as_secs();
        let Some((host, r)) = entries.iter().min_by_key(|(_, r)| r.since) else { return line };
        if secs(r) < 2 {
            return line;
        }
        line.push_str(&format!(" · {}", describe(host, &r.doing, secs(r))));
        let mut named = 1;
        let wait =
            entries.iter().filter(|(_, w)| matches!(w.doing, Doing::Waiting { .. })).min_by_key(|(_, w)| w.since);
        if let (false, Some((waiter, w))) = (matches!(r.doing, Doing::Waiting { .. }), wait) {
            line.push_str(&format!(" · {}", describe(waiter, &w.doing, secs(w))));
            named += 1;
        }
        if entries.len() > named {
            line.push_str(&format!(" (+{} more)", entries.len() - named));
        }
        line
    }

    /// Masks secrets in the diffs of every result (`prov plan`).
    pub fn masking_diffs(mut self) -> Self {
        self.mask_diffs = true;
        self
    }

    fn with_progress(mut self, on: bool) -> Self {
        if on {
            let pb = indicatif::ProgressBar::new_spinner();
            if let Ok(style) = indicatif::ProgressStyle::with_template("{spinner} {elapsed:>4} {msg}") {
                pb.set_style(style);
            }
            pb.enable_steady_tick(std::time::Duration::from_millis(120));
            self.progress = Some(pb);
        }
        self
    }

    /// Handles one event, keeping the live status line below the printed lines.
    pub fn handle(&mut self, e: Event) {
        match &e {
            Event::PlayStart { name, hosts, .. } => {
                self.tally = Tally { play: name.clone(), hosts: hosts.len(), ..Tally::default() };
                self.running.clear();
            }
            Event::TaskStart { name, host, .. } => {
                self.tally.started += 1;
                self.running.insert((host.clone(), String::new()), Running::new(Doing::Task(name.clone())));
            }
            Event::Waiting { host, on, reason, .. } => {
                let doing = Doing::Waiting { on: on.clone(), reason: reason.clone() };
                self.running.insert((host.clone(), String::new()), Running::new(doing));
            }
            Event::ApplyStart(a) => {
                if let Some((key, doing)) = applying(a) {
                    self.running.insert(key, Running::new(doing));
                }
            }
            Event::ApplyEnd(a) => {
                if let Some((key, _)) = applying(a) {
                    self.running.remove(&key);
                }
            }
            // Nothing runs after its play (a host whose play ended while it waited starts no
            // task).
            Event::PlayEnd { .. } => self.running.clear(),
            Event::HostResult(r) => {
                // Done on that host (for a loop: its first item; the events do not say when the
                // last one ends, so a loop is followed past its first item only through the
                // changes its items apply).
                self.running.remove(&(r.host.clone(), String::new()));
                self.tally.done += 1;
                match r.status {
                    Status::Changed => self.tally.changed += 1,
                    Status::Failed => self.tally.failed += 1,
                    Status::Unreachable => self.tally.unreachable += 1,
                    _ => {}
                }
            }
            _ => {}
        }
        let finished = matches!(e, Event::Recap { .. });
        match self.progress.clone() {
            None => self.print_event(e),
            Some(pb) => {
                pb.suspend(|| self.print_event(e));
                if finished {
                    pb.finish_and_clear();
                    self.progress = None;
                } else {
                    pb.set_message(self.status());
                }
            }
        }
    }

    /// Whether lines are printed for people as events come.
    fn human(&self) -> bool {
        !self.json && !self.quiet
    }

    fn print_event(&mut self, mut e: Event) {
        if let (true, Event::HostResult(r)) = (self.mask_diffs, &mut e) {
            for d in &mut r.diff {
                (d.before, d.after) = crate::plan::mask_pair(&d.before, &d.after);
            }
        }
        if self.json {
            if let Ok(line) = serde_json::to_string(&e) {
                let _ = writeln!(self.out, "{line}");
            }
        }
        match e {
            Event::PlayStart { name, hosts, .. } => {
                if self.human() {
                    let title = format!("PLAY [{name}] ({} hosts)", hosts.len());
                    let _ = writeln!(self.out, "\n{}", paint(self.color, "1", &title));
                }
                self.last_task = None;
            }
            // Live output only (the status line and `-v`), and JSON events.
            Event::TaskStart { .. }
            | Event::PlayEnd { .. }
            | Event::Waiting { .. }
            | Event::ApplyStart(_)
            | Event::ApplyEnd(_) => {}
            Event::Warning { message } => {
                if self.human() {
                    let _ = writeln!(self.out, "{}", paint(self.color, "35", &format!("[WARNING]: {message}")));
                }
            }
            Event::HostResult(r) => {
                for p in &r.planned {
                    let sign = match p.action.as_str() {
                        "create" => "+",
                        "delete" => "-",
                        "modify" | "scale" => "~",
                        _ => "!",
                    };
                    *self.planned.entry((sign.to_string(), p.resource.clone())).or_default() += 1;
                }
                if self.human() {
                    self.print_result(&r);
                }
                self.results.push(*r);
            }
            Event::Recap { hosts, interrupted } => {
                self.interrupted = interrupted;
                if self.human() {
                    self.print_recap(&hosts);
                }
                self.recap = hosts;
            }
        }
        let _ = self.out.flush();
    }

    fn print_result(&mut self, r: &HostResult) {
        let key = (r.play, r.task);
        if self.last_task != Some(key) {
            let _ = writeln!(self.out, "TASK [{}]", r.name);
            self.last_task = Some(key);
        }
        let (word, code) = match r.status {
            Status::Ok => ("ok", "32"),
            Status::Changed => ("changed", "33"),
            Status::Skipped => ("skipping", "36"),
            Status::Failed => ("failed", "31"),
            Status::Ignored => ("failed (ignored)", "31"),
            Status::Unreachable => ("unreachable", "31;1"),
        };
        let item = r.item.as_ref().map(|i| format!(" => (item={i})")).unwrap_or_default();
        let mut line = format!("{}: [{}]{item}", word, r.host);
        if matches!(r.status, Status::Failed | Status::Ignored | Status::Unreachable) {
            if let Some(m) = &r.msg {
                line.push_str(&format!(" => {m}"));
            }
            if !r.location.is_empty() && r.root_cause {
                line.push_str(&format!(" ({})", r.location));
            }
        } else if r.module == "debug" || r.module == "release" {
            if let Some(m) = &r.msg {
                line.push_str(&format!(" => {m}"));
            }
        }
        // As ansible-playbook: a module's warnings come before its result.
        for w in &r.warnings {
            let _ = writeln!(self.out, "{}", paint(self.color, "35", &format!("[WARNING]: {w}")));
        }
        let _ = writeln!(self.out, "{}", paint(self.color, code, &line));
        if matches!(r.status, Status::Failed) {
            if let Some(s) = &r.stderr {
                let _ = writeln!(self.out, "  stderr: {}", s.lines().take(10).collect::<Vec<_>>().join("\n          "));
            }
        }
        for d in &r.diff {
            let _ = write!(self.out, "{}", shown_diff(d, self.color));
        }
    }

    fn print_recap(&mut self, hosts: &[HostRecap]) {
        let _ = writeln!(self.out, "\nPLAY RECAP");
        let width = hosts.iter().map(|h| h.host.len()).max().unwrap_or(0);
        for h in hosts {
            let _ = writeln!(
                self.out,
                "{:<width$} : ok={:<4} changed={:<4} unreachable={:<4} failed={:<4} skipped={:<4} rescued={:<4} ignored={}",
                h.host,
                h.ok,
                h.changed,
                h.unreachable,
                h.failed,
                h.skipped,
                h.rescued,
                h.ignored
            );
        }
    }

    /// What each host runs after `prov rollback`: the message of each `module` result, and
    /// the hosts (of `hosts`, the plays' hosts) a stopped rollout never reached.
    pub fn print_release_summary(&mut self, module: &str, hosts: &[String]) {
        if self.json {
            return;
        }
        let mut rows: Vec<(String, String)> = self
            .results
            .iter()
            .filter(|r| r.module == module)
            .map(|r| {
                let state = match r.status {
                    Status::Failed | Status::Unreachable => "NOT ROLLED BACK: ",
                    _ => "",
                };
                (r.host.clone(), format!("{state}{}", r.msg.as_deref().unwrap_or("-")))
            })
            .collect();
        for h in hosts {
            if !rows.iter().any(|(host, _)| host == h) {
                rows.push((h.clone(), "NOT ROLLED BACK: the rollout stopped before this host".into()));
            }
        }
        if rows.is_empty() {
            return;
        }
        let _ = writeln!(self.out, "\nNOW RUNNING");
        let width = rows.iter().map(|(h, _)| h.len()).max().unwrap_or(0);
        for (host, line) in rows {
            let _ = writeln!(self.out, "{host:<width$} : {line}");
        }
    }

    /// `prov plan`'s closing summary; with `--output json` also the whole plan as one `plan`
    /// event, with `--output markdown` only the plan.
    pub fn print_plan_summary(&mut self, plan: &crate::plan::Plan) {
        if self.quiet {
            let _ = write!(self.out, "{}", plan.markdown());
            return;
        }
        if self.json {
            let summary: Vec<serde_json::Value> = self
                .planned
                .iter()
                .map(|((s, r), n)| serde_json::json!({"action": s, "resource": r, "count": n}))
                .collect();
            let _ = writeln!(self.out, "{}", serde_json::json!({"event": "plan_summary", "changes": summary}));
            let mut doc = serde_json::Map::new();
            doc.insert("event".into(), "plan".into());
            if let serde_json::Value::Object(m) = serde_json::to_value(plan).unwrap_or_default() {
                doc.extend(m);
            }
            let _ = writeln!(self.out, "{}", serde_json::Value::Object(doc));
            return;
        }
        let _ = writeln!(self.out, "\nPLAN");
        if self.planned.is_empty() {
            let _ = writeln!(self.out, "  no changes");
        }
        for ((sign, res), n) in &self.planned {
            let _ = writeln!(self.out, "  {sign}{n} {res}");
        }
        if !plan.not_known_until_created.is_empty() {
            let plays: Vec<&str> = plan.not_known_until_created.iter().map(|p| p.name.as_str()).collect();
            let _ = writeln!(
                self.out,
                "  not known until the {} new VM(s) exist: what {} play(s) do on them ({})",
                plan.vms_created.len(),
                plays.len(),
                plays.join(", ")
            );
        }
    }
}

/// A diff as shown: ansible-core's `diff skipped: REASON` lines when its texts are not
/// shown, else the unified diff of its texts.
pub fn shown_diff(d: &prov_exec::event::DiffOut, color: bool) -> String {
    if d.skipped.is_empty() {
        return unified_diff(&d.header, &d.before, &d.after, color);
    }
    d.skipped.iter().map(|r| format!("diff skipped: {r}\n")).collect()
}

/// A small unified diff of two texts (line based).
pub fn unified_diff(header: &str, before: &str, after: &str, color: bool) -> String {
    let a: Vec<&str> = before.lines().collect();
    let b: Vec<&str> = after.lines().collect();
    // Longest common subsequence table; inputs are config files, small.
    let (n, m) = (a.len(), b.len());
    if n * m > 4_000_000 {
        return format!("--- {header} (before)\n+++ {header} (after)\n(diff too large to show)\n");
    }
    let mut lcs = vec![vec![0u32; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if a[i] == b[j] { lcs[i + 1][j + 1] + 1 } else { lcs[i + 1][j].max(lcs[i][j + 1]) };
        }
    }
    let mut out = format!("--- {header} (before)\n+++ {header} (after)\n");
    let (mut i, mut j) = (0, 0);
    while i < n || j < m {
        if i < n && j < m && a[i] == b[j] {
            out.push_str(&format!(" {}\n", a[i]));
            i += 1;
            j += 1;
        } else if i < n && (j == m || lcs[i + 1][j] >= lcs[i][j + 1]) {
            out.push_str(&paint(color, "31", &format!("-{}", a[i])));
            out.push('\n');
            i += 1;
        } else {
            out.push_str(&paint(color, "32", &format!("+{}", b[j])));
            out.push('\n');
            j += 1;
        }
    }
    out
}

/// Writes a JUnit XML report: one testsuite per play, one testcase per (task, host).
pub fn write_junit(path: &std::path::Path, results: &[HostResult]) -> std::io::Result<()> {
    let mut by_play: BTreeMap<usize, Vec<&HostResult>> = BTreeMap::new();
    for r in results {
        by_play.entry(r.play).or_default().push(r);
    }
    let esc = |s: &str| {
        s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&apos;")
    };
    let total = results.len();
    let failures = results.iter().filter(|r| matches!(r.status, Status::Failed | Status::Unreachable)).count();
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    x.push_str(&format!("<testsuites name=\"prov\" tests=\"{total}\" failures=\"{failures}\">\n"));
    for (play, rs) in by_play {
        let f = rs.iter().filter(|r| matches!(r.status, Status::Failed | Status::Unreachable)).count();
        let s = rs.iter().filter(|r| r.status == Status::Skipped).count();
        x.push_str(&format!(
            "  <testsuite name=\"play {}\" tests=\"{}\" failures=\"{f}\" skipped=\"{s}\">\n",
            play + 1,
            rs.len()
        ));
        for r in rs {
            let name = match &r.item {
                Some(i) => format!("{} (item={i})", r.name),
                None => r.name.clone(),
            };
            x.push_str(&format!(
                "    <testcase classname=\"{}\" name=\"{}\" time=\"{:.3}\">",
                esc(&r.host),
                esc(&name),
                r.duration_ms as f64 / 1000.0
            ));
            match r.status {
                Status::Failed | Status::Unreachable => {
                    let kind = if r.status == Status::Failed { "failed" } else { "unreachable" };
                    x.push_str(&format!(
                        "<failure type=\"{kind}\" message=\"{}\">{}</failure>",
                        esc(r.msg.as_deref().unwrap_or("")),
                        esc(&r.location)
                    ));
                }
                Status::Skipped => x.push_str("<skipped/>"),
                _ => {}
            }
            x.push_str("</testcase>\n");
        }
        x.push_str("  </testsuite>\n");
    }
    x.push_str("</testsuites>\n");
    std::fs::write(path, x)
}

#[cfg(test)]
mod tests {
    use super::*;
    use prov_exec::event::PlannedOut;
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};

    /// A writer the test reads back.
    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);

    impl Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("buffer").extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Buf {
        fn take(&self) -> String {
            String::from_utf8(std::mem::take(&mut *self.0.lock().expect("buffer"))).expect("utf-8")
        }
    }

    fn reporter(format: crate::cli::Output) -> (Reporter, Buf) {
        let buf = Buf::default();
        let mut r = Reporter::new(format).verbose(true);
        r.progress = None;
        r.out = Box::new(buf.clone());
        (r, buf)
    }

    fn task_start(name: &str, host: &str) -> Event {
        Event::TaskStart { play: 0, task: 0, name: name.into(), module: "m".into(), host: host.into() }
    }

    fn apply(host: &str, item: &str, action: &str, name: &str) -> Box<Apply> {
        Box::new(Apply {
            play: 0,
            task: 1,
            name: "create VMs".into(),
            host: host.into(),
            item: Some(item.into()),
            changes: vec![PlannedOut { action: action.into(), resource: "vm".into(), name: name.into() }],
        })
    }

    fn waiting(host: &str, on: &str) -> Event {
        Event::Waiting {
            play: 0,
            task: 2,
            name: "join".into(),
            host: host.into(),
            on: on.into(),
            reason: WaitFor::Hostvars { var: "swarm_init".into() },
        }
    }

    #[test]
    fn long_work_is_described_by_what_it_waits_for_or_changes() {
        let hv = |var: &str| Doing::Waiting { on: "manager1".into(), reason: WaitFor::Hostvars { var: var.into() } };
        assert_eq!(
            describe("worker1", &hv("swarm_init"), 12),
            "worker1 waiting for manager1: hostvars read of swarm_init [12s]"
        );
        assert_eq!(describe("worker1", &hv("*"), 3), "worker1 waiting for manager1: hostvars read [3s]");
        let delegated = Doing::Waiting { on: "db1".into(), reason: WaitFor::DelegateTo };
        assert_eq!(describe("web1", &delegated, 5), "web1 waiting for db1: task delegated to it [5s]");
        let linear = Doing::Waiting { on: "manager1".into(), reason: WaitFor::Linear };
        assert_eq!(
            describe("worker1", &linear, 7),
            "worker1 waiting for manager1: linear strategy, every host finishes the task before [7s]"
        );
        let creating = Doing::Applying { verb: "creating", what: "worker3".into() };
        assert_eq!(describe("localhost", &creating, 40), "still creating worker3 [40s]");
        assert_eq!(describe("web1", &creating, 40), "still creating worker3 on web1 [40s]");
        assert_eq!(describe("web1", &Doing::Task("apt".into()), 12), "still running: apt on web1 [12s]");
        let (key, doing) = applying(&apply("localhost", "worker3", "delete", "worker3")).expect("a change");
        assert_eq!(key, ("localhost".to_string(), "worker3".to_string()));
        assert_eq!(doing, Doing::Applying { verb: "deleting", what: "worker3".into() });
        let long = format!("/srv/{}\n/srv/two", "x".repeat(70));
        let (_, doing) = applying(&apply("web1", "i", "modify", &long)).expect("a change");
        assert_eq!(doing, Doing::Applying { verb: "changing", what: format!("/srv/{}…", "x".repeat(55)) });
        let (_, doing) = applying(&apply("web1", "i", "create", "a\nb")).expect("a change");
        assert_eq!(doing, Doing::Applying { verb: "creating", what: "a…".into() });
        // A command: its task says what runs.
        assert_eq!(applying(&apply("web1", "i", "run", "make")), None);
    }

    #[test]
    fn status_line_and_verbose_lines_name_the_vm_being_created_and_the_host_waited_for() {
        let (mut r, buf) = reporter(crate::cli::Output::Human);
        r.handle(Event::PlayStart { play: 0, name: "VMs".into(), hosts: vec!["localhost".into()] });
        r.handle(task_start("create VMs", "localhost"));
        r.handle(Event::ApplyStart(apply("localhost", "worker3", "create", "worker3")));
        let later = Instant::now() + Duration::from_secs(40);
        let status = r.status_at(later);
        assert!(status.ends_with(" · still creating worker3 [40s]"), "{status}");
        // The VM is created: the task is what runs.
        r.handle(Event::ApplyEnd(apply("localhost", "worker3", "create", "worker3")));
        assert!(r.status_at(later).ends_with(" · still running: create VMs on localhost [40s]"));

        r.handle(Event::PlayStart { play: 1, name: "swarm".into(), hosts: vec!["manager1".into(), "worker1".into()] });
        r.handle(task_start("init", "manager1"));
        r.handle(waiting("worker1", "manager1"));
        r.handle(waiting("worker2", "manager1"));
        // The task waited on started first; the status line names the wait as well.
        let status = r.status_at(Instant::now() + Duration::from_secs(20));
        assert!(
            status.ends_with(
                " · still running: init on manager1 [20s] · worker1 waiting for manager1: hostvars read of swarm_init [20s] (+1 more)"
            ),
            "{status}"
        );
        r.handle(task_start("join", "worker2"));
        buf.take();
        r.tick_at(Instant::now() + Duration::from_secs(11));
        let lines = buf.take();
        assert!(lines.contains("  worker1 waiting for manager1: hostvars read of swarm_init [11s]\n"), "{lines}");
        assert!(lines.contains("  still running: init on manager1 [11s]\n"), "{lines}");
        // Once the task starts, the host no longer waits.
        r.handle(task_start("join", "worker1"));
        buf.take();
        r.tick_at(Instant::now() + Duration::from_secs(30));
        let lines = buf.take();
        assert!(!lines.contains("waiting"), "{lines}");
        assert!(lines.contains("  still running: join on worker1 [30s]\n"), "{lines}");
        // A host whose play ended while it waited: nothing is left running.
        r.handle(waiting("worker1", "manager1"));
        r.handle(Event::PlayEnd { play: 1 });
        r.tick_at(Instant::now() + Duration::from_secs(60));
        assert_eq!(buf.take(), "");
        let status = r.status_at(Instant::now() + Duration::from_secs(60));
        assert!(status.ends_with("unreachable 0"), "{status}");
    }

    #[test]
    fn waits_and_applies_are_json_events_and_no_human_line() {
        let (mut r, buf) = reporter(crate::cli::Output::Json);
        r.handle(waiting("worker1", "manager1"));
        r.handle(Event::ApplyStart(apply("localhost", "worker3", "create", "worker3")));
        let out = buf.take();
        let events: Vec<serde_json::Value> =
            out.lines().map(|l| serde_json::from_str(l).expect("a JSON line")).collect();
        assert_eq!(
            events[0],
            serde_json::json!({"event": "waiting", "play": 0, "task": 2, "name": "join", "host": "worker1",
                "on": "manager1", "reason": "hostvars", "var": "swarm_init"})
        );
        assert_eq!(events[1]["event"], "apply_start");
        assert_eq!(events[1]["item"], "worker3");
        assert_eq!(
            events[1]["changes"],
            serde_json::json!([{"action": "create", "resource": "vm", "name": "worker3"}])
        );
        // JSON output prints no `-v` line.
        r.tick_at(Instant::now() + Duration::from_secs(60));
        assert_eq!(buf.take(), "");

        let (mut r, buf) = reporter(crate::cli::Output::Human);
        r.handle(waiting("worker1", "manager1"));
        r.handle(Event::ApplyStart(apply("localhost", "worker3", "create", "worker3")));
        assert_eq!(buf.take(), "", "an event printed a line of its own");
    }

    #[test]
    fn diff_shows_removed_lines_before_added_ones() {
        let d = unified_diff("f", "a\nport=1\nb\n", "a\nport=2\nb\nc\n", false);
        assert_eq!(d, "--- f (before)\n+++ f (after)\n a\n-port=1\n+port=2\n b\n+c\n");
    }
}
