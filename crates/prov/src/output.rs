//! Reporters: turn the walker's events into Ansible-like lines, JSON lines, a JUnit file.

use prov_exec::event::{Event, HostRecap, HostResult, Status};
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
    /// What each host is running now and since when, for the status line and `-v`.
    running: BTreeMap<String, Running>,
    /// `-v`: a line for every task still running after [`SLOW_AFTER`], then every
    /// [`SLOW_AFTER`] again.
    verbose: bool,
}

/// How long a task runs before it is named as still running.
pub const SLOW_AFTER: std::time::Duration = std::time::Duration::from_secs(10);

/// One host's current task.
struct Running {
    task: String,
    since: std::time::Instant,
    /// When the last `still running` line for it was printed.
    noted: Option<std::time::Instant>,
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

    /// Called every second: the status line names the longest-running task; with `-v`, a
    /// line for each task that has run past [`SLOW_AFTER`] (again every [`SLOW_AFTER`]).
    pub fn tick(&mut self) {
        let now = std::time::Instant::now();
        if self.verbose && self.human() {
            let mut lines = Vec::new();
            for (host, r) in self.running.iter_mut() {
                let ran = now.duration_since(r.since);
                let due = r.noted.map_or(ran >= SLOW_AFTER, |t| now.duration_since(t) >= SLOW_AFTER);
                if due {
                    r.noted = Some(now);
                    lines.push(format!("  still running: {} on {host} [{}s]", r.task, ran.as_secs()));
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

    /// The status line: the counts, then the task that has run longest.
    fn status(&self) -> String {
        let mut line = self.tally.line();
        if let Some((host, r)) = self.running.iter().min_by_key(|(_, r)| r.since) {
            let secs = r.since.elapsed().as_secs();
            if secs >= 2 {
                line.push_str(&format!(" · still running: {} on {host} [{secs}s]", r.task));
                if self.running.len() > 1 {
                    line.push_str(&format!(" (+{} more)", self.running.len() - 1));
                }
            }
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
                let now = std::time::Instant::now();
                self.running.insert(host.clone(), Running { task: name.clone(), since: now, noted: None });
            }
            Event::HostResult(r) => {
                // Done on that host (for a loop: its first item; the events do not say when the
                // last one ends, so a loop is not followed past its first item).
                self.running.remove(&r.host);
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
            Event::TaskStart { .. } | Event::PlayEnd { .. } => {}
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
                        "modify" => "~",
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
        let _ = writeln!(self.out, "{}", paint(self.color, code, &line));
        if matches!(r.status, Status::Failed) {
            if let Some(s) = &r.stderr {
                let _ = writeln!(self.out, "  stderr: {}", s.lines().take(10).collect::<Vec<_>>().join("\n          "));
            }
        }
        for d in &r.diff {
            let _ = write!(self.out, "{}", unified_diff(&d.header, &d.before, &d.after, self.color));
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
    /// the hosts a stopped rollout never reached.
    pub fn print_release_summary(&mut self, module: &str) {
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
        for h in &self.recap {
            if !rows.iter().any(|(host, _)| host == &h.host) {
                rows.push((h.host.clone(), "NOT ROLLED BACK: the rollout stopped before this host".into()));
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

    #[test]
    fn diff_shows_removed_lines_before_added_ones() {
        let d = unified_diff("f", "a\nport=1\nb\n", "a\nport=2\nb\nc\n", false);
        assert_eq!(d, "--- f (before)\n+++ f (after)\n a\n-port=1\n+port=2\n b\n+c\n");
    }
}
