//! `prov plan` for review: one plan over everything the playbook would change (VMs, files,
//! packages, services, swarm services...), as Markdown for a pull-request comment or as one
//! JSON document, with a summary line and the diffs (secrets masked).
//!
//! The plan is what check mode found: each result that would change something gives one row
//! per planned change (`+` create, `~` modify, `-` delete, `!` run), or one row naming its
//! module when the module does not itemise its changes; a command check mode skips is listed
//! as one that would run (`!`). A task that failed in check mode is
//! listed too: the plan is then incomplete, and says so.
//!
//! Check mode creates no VM, so the inventory the later plays run on lists only the VMs that
//! exist. When the plan creates VMs, the plays after that one are named as not known until
//! the VMs exist (their hosts pattern and the existing hosts they were planned on), rather than
//! shown as if they had nothing to do.

use prov_exec::event::{HostRecap, HostResult, Status};
use regex::Regex;
use std::collections::BTreeMap;
use std::sync::LazyLock;

/// One row of the plan.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Change {
    /// `create`, `modify`, `delete`, `run`.
    pub action: String,
    /// Resource kind (`vm`, `file`, `package`, `service`, ... or the module).
    pub resource: String,
    /// Which one.
    pub name: String,
    /// The host it is on (the controller's `localhost` for VMs and other cloud resources).
    pub host: String,
    /// The task's name.
    pub task: String,
    /// `file:line:col` of the task.
    pub location: String,
}

/// A diff to show, masked.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PlanDiff {
    /// Host.
    pub host: String,
    /// Task name.
    pub task: String,
    /// What the diff is of (a path, ...).
    pub header: String,
    /// Unified diff text.
    pub diff: String,
}

/// A task that failed (or a host that was unreachable) while planning.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PlanError {
    /// Host.
    pub host: String,
    /// Task name.
    pub task: String,
    /// Why.
    pub message: String,
    /// Where the task is.
    pub location: String,
}

/// A play that ran on the hosts of the inventory as it is, after a play that creates VMs:
/// what it would do on the new VMs is not known until they exist.
#[derive(Debug, Clone, serde::Serialize)]
pub struct NotKnown {
    /// 0-based play index.
    pub play: usize,
    /// Play name.
    pub name: String,
    /// The play's `hosts` pattern.
    pub hosts: String,
    /// The existing hosts it was planned on.
    pub planned_on: Vec<String>,
}

/// A play as it was bound for the plan: its `hosts` pattern and the hosts it ran on.
#[derive(Debug, Clone)]
pub struct PlayRun {
    /// 0-based play index.
    pub play: usize,
    /// Play name.
    pub name: String,
    /// The `hosts` pattern.
    pub pattern: String,
    /// The hosts it matched.
    pub hosts: Vec<String>,
}

/// The plan of one `prov plan` run.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Plan {
    /// The playbook planned.
    pub playbook: String,
    /// `+8 vm, ~3 file, -1 package` or `no changes`.
    pub summary: String,
    /// Every change, by play, task and host (the play's hosts in inventory order), then in
    /// the order the run found them (loop items): the same plan twice reads the same, however
    /// fast each host was.
    pub changes: Vec<Change>,
    /// Diffs, masked.
    pub diffs: Vec<PlanDiff>,
    /// Failures while planning (the plan is incomplete when there are any).
    pub errors: Vec<PlanError>,
    /// Hosts with changes pending.
    pub hosts_changed: Vec<String>,
    /// The VMs this plan creates (none exists yet, so no play ran on them).
    pub vms_created: Vec<String>,
    /// The plays after the first that creates VMs: what they do on those VMs is not known.
    pub not_known_until_created: Vec<NotKnown>,
}

impl Plan {
    /// Builds the plan from the results of a check-mode run over `plays`.
    pub fn new(playbook: &str, results: &[HostResult], recap: &[HostRecap], plays: &[PlayRun]) -> Plan {
        let mut changes = Vec::new();
        let mut diffs = Vec::new();
        let mut errors = Vec::new();
        for r in in_order(results, plays) {
            if matches!(r.status, Status::Failed | Status::Unreachable) {
                errors.push(PlanError {
                    host: r.host.clone(),
                    task: r.name.clone(),
                    message: r.msg.clone().unwrap_or_default(),
                    location: r.location.clone(),
                });
                continue;
            }
            // Commands that check mode skips still say that they would run (`!`); a task
            // that ran and changed nothing (a `check_mode: false` probe with
            // `changed_when: false`) plans nothing.
            if r.status == Status::Ok {
                continue;
            }
            for p in &r.planned {
                changes.push(Change {
                    action: p.action.clone(),
                    resource: p.resource.clone(),
                    name: p.name.clone(),
                    host: r.host.clone(),
                    task: r.name.clone(),
                    location: r.location.clone(),
                });
            }
            if r.status != Status::Changed {
                continue;
            }
            if r.planned.is_empty() {
                changes.push(Change {
                    action: "modify".into(),
                    resource: r.module.clone(),
                    name: r.item.clone().unwrap_or_default(),
                    host: r.host.clone(),
                    task: r.name.clone(),
                    location: r.location.clone(),
                });
            }
            for d in &r.diff {
                diffs.push(PlanDiff {
                    host: r.host.clone(),
                    task: r.name.clone(),
                    header: d.header.clone(),
                    diff: mask(&crate::output::shown_diff(d, false)),
                });
            }
        }
        let hosts_changed = recap.iter().filter(|h| h.changed > 0).map(|h| h.host.clone()).collect();
        let (vms_created, not_known_until_created) = not_known(results, plays);
        Plan {
            playbook: playbook.to_string(),
            summary: summary(&changes),
            changes,
            diffs,
            errors,
            hosts_changed,
            vms_created,
            not_known_until_created,
        }
    }

    /// Whether anything would change: a create, modify or delete, or a host whose recap
    /// counts a change. A command that would run (`!`) alone is not a change: check mode
    /// cannot know what it does, and counting it would report drift on every run of a
    /// playbook that has one.
    pub fn has_changes(&self) -> bool {
        self.changes.iter().any(|c| c.action != "run") || !self.hosts_changed.is_empty()
    }

    /// The plan as Markdown (GitHub and GitLab flavours both render it).
    pub fn markdown(&self) -> String {
        let mut s = format!("## prov plan: `{}`\n\n", self.playbook);
        if self.has_changes() {
            s.push_str(&format!("**{}**\n\n", self.summary));
        } else if !self.changes.is_empty() {
            s.push_str(&format!("**No changes**, but commands would run: **{}**\n\n", self.summary));
        } else {
            s.push_str("**No changes.** The hosts already match the playbook.\n\n");
        }
        if !self.errors.is_empty() {
            s.push_str(&format!(
                "> **The plan is incomplete:** {} task(s) failed while planning; what they and the tasks after them would change is not shown.\n\n",
                self.errors.len()
            ));
            s.push_str("| host | task | error | where |\n|---|---|---|---|\n");
            for e in &self.errors {
                s.push_str(&format!(
                    "| {} | {} | {} | `{}` |\n",
                    cell(&e.host),
                    cell(&e.task),
                    cell(&e.message),
                    e.location
                ));
            }
            s.push('\n');
        }
        if !self.not_known_until_created.is_empty() {
            s.push_str(&format!(
                "> **Not known until the VMs exist:** this plan creates {} VM(s) ({}). The plays below ran on the hosts that exist now; what they would change on the new VMs is planned only once those exist (plan again after creating them).\n\n",
                self.vms_created.len(),
                self.vms_created.join(", ")
            ));
            s.push_str("| play | hosts | planned on |\n|---|---|---|\n");
            for p in &self.not_known_until_created {
                let on = if p.planned_on.is_empty() { "no host yet".to_string() } else { p.planned_on.join(", ") };
                s.push_str(&format!("| {} | `{}` | {} |\n", cell(&p.name), p.hosts.replace('`', "'"), cell(&on)));
            }
            s.push('\n');
        }
        if !self.changes.is_empty() {
            s.push_str("| | resource | name | host | task |\n|---|---|---|---|---|\n");
            for c in &self.changes {
                s.push_str(&format!(
                    "| {} | {} | {} | {} | {} (`{}`) |\n",
                    sign(&c.action),
                    cell(&c.resource),
                    cell(&c.name),
                    cell(&c.host),
                    cell(&c.task),
                    c.location
                ));
            }
            s.push('\n');
        }
        for d in &self.diffs {
            // A fence longer than any backtick run in the diff keeps it closed.
            let longest = d.diff.split(|c| c != '`').map(str::len).max().unwrap_or(0);
            let fence = "`".repeat(longest.max(2) + 1);
            s.push_str(&format!(
                "<details><summary>{} · {} · {}</summary>\n\n{fence}diff\n{}{fence}\n\n</details>\n\n",
                html(&d.host),
                html(&d.header),
                html(&d.task),
                d.diff
            ));
        }
        s
    }
}

/// `results` by play, task and host (inventory order within the play; a host the play did not
/// list, such as a delegate, after those, by name); a stable sort keeps loop items in order.
fn in_order<'r>(results: &'r [HostResult], plays: &[PlayRun]) -> Vec<&'r HostResult> {
    let host_index = |play: usize, host: &str| {
        plays.iter().find(|p| p.play == play).and_then(|p| p.hosts.iter().position(|h| h == host)).unwrap_or(usize::MAX)
    };
    let mut sorted: Vec<&HostResult> = results.iter().collect();
    sorted.sort_by(|a, b| {
        (a.play, a.task, host_index(a.play, &a.host), &a.host).cmp(&(
            b.play,
            b.task,
            host_index(b.play, &b.host),
            &b.host,
        ))
    });
    sorted
}

/// The VMs the plan creates, and the plays after the first that creates one whose hosts
/// pattern could name them (not a play on the controller alone).
fn not_known(results: &[HostResult], plays: &[PlayRun]) -> (Vec<String>, Vec<NotKnown>) {
    let mut vms: Vec<String> = Vec::new();
    let mut first = None;
    for r in results.iter().filter(|r| !matches!(r.status, Status::Failed | Status::Unreachable)) {
        for p in r.planned.iter().filter(|p| p.resource == "vm" && p.action == "create") {
            if !vms.contains(&p.name) {
                vms.push(p.name.clone());
            }
            first = Some(first.map_or(r.play, |f: usize| f.min(r.play)));
        }
    }
    let Some(first) = first else { return (vms, Vec::new()) };
    let controller = |p: &str| matches!(p.trim(), "localhost" | "127.0.0.1" | "::1");
    let plays = plays
        .iter()
        .filter(|p| p.play > first && !controller(&p.pattern))
        .map(|p| NotKnown { play: p.play, name: p.name.clone(), hosts: p.pattern.clone(), planned_on: p.hosts.clone() })
        .collect();
    (vms, plays)
}

/// `+8 vm, ~3 file, 2 services scaled, -1 package, !2 command` in a fixed order: creates,
/// changes, scalings, deletes, runs.
fn summary(changes: &[Change]) -> String {
    let mut counts: BTreeMap<(u8, String), usize> = BTreeMap::new();
    for c in changes {
        let order = match c.action.as_str() {
            "create" => 0,
            "modify" => 1,
            "scale" => 2,
            "delete" => 3,
            _ => 4,
        };
        *counts.entry((order, c.resource.clone())).or_default() += 1;
    }
    if counts.is_empty() {
        return "no changes".into();
    }
    counts
        .iter()
        .map(|((o, r), n)| match o {
            2 => format!("{n} {r}{} scaled", if *n == 1 { "" } else { "s" }),
            _ => format!("{}{n} {r}", ["+", "~", "", "-", "!"][*o as usize]),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn sign(action: &str) -> &'static str {
    match action {
        "create" => "+",
        "modify" | "scale" => "~",
        "delete" => "-",
        _ => "!",
    }
}

/// A Markdown table cell: no line breaks, `|` escaped.
fn cell(s: &str) -> String {
    s.replace('\\', "\\\\").replace('|', "\\|").replace(['\n', '\r'], " ")
}

fn html(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// Lines that set a password, secret, token or key show `********` for the value, on both
/// sides of the diff (`no_log` tasks show no diff at all).
pub fn mask(diff: &str) -> String {
    map_lines(diff, |body| {
        if body.starts_with("---") || body.starts_with("+++") || body.is_empty() {
            return None;
        }
        let (sign, rest) = body.split_at(1);
        mask_line(rest).map(|m| format!("{sign}{m}"))
    })
}

/// [`mask`] for the before and after texts of a diff (JSON events, human output): a secret
/// line of `after` that is not in `before` as it is shows `******** (changed)`, so that the
/// diff still says that a secret changes without saying what it was or becomes.
pub fn mask_pair(before: &str, after: &str) -> (String, String) {
    let old: std::collections::HashSet<&str> = before.lines().collect();
    let after = map_lines(after, |line| {
        let masked = mask_line(line)?;
        Some(if old.contains(line) { masked } else { format!("{masked} (changed)") })
    });
    (map_lines(before, mask_line), after)
}

fn map_lines(text: &str, f: impl Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        let (body, nl) = match line.strip_suffix('\n') {
            Some(b) => (b, "\n"),
            None => (line, ""),
        };
        match f(body) {
            Some(m) => {
                out.push_str(&m);
                out.push_str(nl);
            }
            None => out.push_str(line),
        }
    }
    out
}

/// `db_password = x` → `db_password = ********`; `None` when the line sets no secret.
fn mask_line(line: &str) -> Option<String> {
    static SECRET: LazyLock<Option<Regex>> = LazyLock::new(|| {
        Regex::new(
            r#"(?i)^(\s*[^\s=:]*(?:password|passwd|secret|token|api[_-]?key|private[_-]?key|credentials?)[^\s=:]*\s*[=:]\s*)\S.*$"#,
        )
        .ok()
    });
    let c = SECRET.as_ref()?.captures(line)?;
    let key = c.get(1).map_or("", |m| m.as_str());
    if line[key.len()..].starts_with("********") {
        return None; // masked already
    }
    Some(format!("{key}********"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mask_hides_secret_values_on_both_sides_and_keeps_other_lines() {
        let d = "--- f (before)\n+++ f (after)\n port = 80\n-db_password = old\n+db_password = n3w\n+api_key: abc\n TOKEN=xyz\n";
        assert_eq!(
            mask(d),
            "--- f (before)\n+++ f (after)\n port = 80\n-db_password = ********\n+db_password = ********\n+api_key: ********\n TOKEN=********\n"
        );
    }

    #[test]
    fn mask_pair_hides_values_and_still_shows_that_a_secret_changed() {
        let (b, a) = mask_pair("user = a\nsecret_key: b\ntoken=t\n", "user = a\nsecret_key: c\ntoken=t\n");
        assert_eq!(b, "user = a\nsecret_key: ********\ntoken=********\n");
        assert_eq!(a, "user = a\nsecret_key: ******** (changed)\ntoken=********\n");
        assert_eq!(mask(&crate::output::unified_diff("f", &b, &a, false)).matches("(changed)").count(), 1);
    }

    #[test]
    fn summary_orders_creates_changes_deletes_runs() {
        let c = |action: &str, resource: &str| Change {
            action: action.into(),
            resource: resource.into(),
            name: String::new(),
            host: String::new(),
            task: String::new(),
            location: String::new(),
        };
        let changes =
            [c("modify", "file"), c("create", "vm"), c("create", "vm"), c("delete", "package"), c("modify", "file")];
        assert_eq!(summary(&changes), "+2 vm, ~2 file, -1 package");
        let scaled = [c("scale", "service"), c("run", "command"), c("scale", "service"), c("create", "vm")];
        assert_eq!(summary(&scaled), "+1 vm, 2 services scaled, !1 command");
        assert_eq!(summary(&scaled[..1]), "1 service scaled");
        assert_eq!(summary(&[]), "no changes");
    }

    #[test]
    fn plays_after_a_vm_creation_are_not_known_unless_on_the_controller() {
        let result = |play: usize, planned: &[(&str, &str, &str)]| HostResult {
            play,
            task: 0,
            name: "t".into(),
            module: "vm".into(),
            host: "localhost".into(),
            status: Status::Changed,
            changed: true,
            item: None,
            msg: None,
            duration_ms: 0,
            diff: Vec::new(),
            planned: planned
                .iter()
                .map(|(a, r, n)| prov_exec::event::PlannedOut {
                    action: (*a).into(),
                    resource: (*r).into(),
                    name: (*n).into(),
                })
                .collect(),
            stdout: None,
            stderr: None,
            location: String::new(),
            root_cause: false,
            warnings: Vec::new(),
            fields: Default::default(),
        };
        let play = |play: usize, pattern: &str, hosts: &[&str]| PlayRun {
            play,
            name: format!("p{play}"),
            pattern: pattern.into(),
            hosts: hosts.iter().map(|h| h.to_string()).collect(),
        };
        let plays = [
            play(0, "all", &["old1"]),
            play(1, "localhost", &["localhost"]),
            play(2, "localhost", &["localhost"]),
            play(3, "127.0.0.1", &["localhost"]),
            play(4, "web", &["old1"]),
        ];
        // VMs created in play 1; a deleted or modified VM is not a new host.
        let results = [
            result(1, &[("create", "vm", "new1"), ("create", "disk", "d")]),
            result(2, &[("create", "vm", "new2"), ("delete", "vm", "gone")]),
        ];
        let (vms, later) = not_known(&results, &plays);
        assert_eq!(vms, ["new1", "new2"]);
        let later: Vec<(usize, &str, &[String])> =
            later.iter().map(|n| (n.play, n.hosts.as_str(), &n.planned_on[..])).collect();
        assert_eq!(later, [(4, "web", &["old1".to_string()][..])]);
        // No VM created: every play was planned on every host it names.
        assert!(not_known(&[result(1, &[("modify", "vm", "new1")])], &plays).1.is_empty());
    }

    #[test]
    fn changes_are_in_play_task_and_inventory_order_whichever_host_was_faster() {
        let r = |play: usize, task: usize, host: &str, item: &str| HostResult {
            play,
            task,
            name: format!("t{task}"),
            module: "file".into(),
            host: host.into(),
            status: Status::Changed,
            changed: true,
            item: Some(item.into()),
            msg: None,
            duration_ms: 0,
            diff: Vec::new(),
            planned: vec![prov_exec::event::PlannedOut {
                action: "create".into(),
                resource: "file".into(),
                name: format!("{host}:{item}"),
            }],
            stdout: None,
            stderr: None,
            location: String::new(),
            root_cause: false,
            warnings: Vec::new(),
            fields: Default::default(),
        };
        let plays = [PlayRun { play: 0, name: "p".into(), pattern: "all".into(), hosts: vec!["b".into(), "a".into()] }];
        let results = [
            r(0, 1, "a", "1"),
            r(0, 0, "a", "2"),
            r(0, 0, "a", "1"),
            r(0, 0, "z-delegate", "1"),
            r(0, 0, "b", "1"),
            r(0, 1, "b", "1"),
        ];
        let plan = Plan::new("site.yml", &results, &[], &plays);
        let names: Vec<&str> = plan.changes.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["b:1", "a:2", "a:1", "z-delegate:1", "b:1", "a:1"]);
    }

    #[test]
    fn cells_cannot_break_the_table() {
        assert_eq!(cell("a|b\nc"), "a\\|b c");
    }
}
