//! `systemd_service`: starts, stops, restarts or reloads a systemd unit, enables, disables,
//! masks or unmasks it, and reloads or re-executes systemd (ansible.builtin.systemd_service, also
//! reached as `systemd` / `ansible.builtin.systemd`).
//!
//! Arguments (as in ansible-core 2.19):
//! - `name` (aliases `service`, `unit`): the unit (`nginx`, `nginx.service`, `getty@tty1`); glob
//!   patterns are refused as Ansible refuses them.
//! - `state`: `started`, `stopped`, `restarted` (always bounces the unit), `reloaded` (always
//!   reloads; starts a unit that is not running).
//! - `enabled`, `masked`: booleans; `force`: `systemctl --force`.
//! - `daemon_reload` (alias `daemon-reload`), `daemon_reexec` (alias `daemon-reexec`): run
//!   before anything else, and not in check mode; neither counts as a change.
//! - `scope`: `system` (default), `user` or `global` (`systemctl --user`/`--global`;
//!   `XDG_RUNTIME_DIR` defaults to `/run/user/UID` as in Ansible).
//! - `no_block`: `systemctl --no-block`.
//!
//! `name` is required with `state`, `enabled` or `masked`; a task with only `name` reads the unit
//! and changes nothing (Ansible's "one of state, enabled, masked, daemon_reload, daemon_reexec"
//! never fires: the two booleans default to false, not to nothing). One command reads the unit (`systemctl show`,
//! `systemctl is-enabled`, whether `/etc/init.d/NAME` exists) and the decisions are Ansible's:
//! a unit is running when `ActiveState` is `active` or `activating`; it is enabled when
//! `is-enabled` succeeds and does not say `enabled-runtime`, `indirect` or `alias` (or, for an
//! init script, when an `/etc/rc?.d/S??NAME` link exists); masked when `is-enabled` says
//! `masked`. Registers `name`, `status` (every `systemctl show` property, as read before the
//! change), `enabled` when `enabled` is given, `state` when `state` is given (`started` for
//! `restarted` and `reloaded`). A unit neither systemd nor an init script knows fails with
//! `Could not find the requested service NAME: host`.
//!
//! Differences from Ansible: no warning for a unit that is only an init script; `masked` and
//! `enabled` given together are both decided from the state read before either changes; a
//! target without `systemctl` fails with `Failed to find required executable "systemctl"` before
//! anything runs (as Ansible's `get_bin_path`), `--diff` shows `state`/`enabled`/`masked` lines
//! (Ansible has no diff mode here).
//!
//! ```yaml
//! - systemd_service:
//!     name: nginx
//!     state: started
//!     enabled: true
//! - ansible.builtin.systemd:
//!     daemon_reload: true
//! - systemd: { name: app.service, state: restarted, daemon_reload: true, no_block: true }
//! ```

use async_trait::async_trait;
use indexmap::IndexMap;
use minijinja::Value;
use prov_core::args::{lenient_bool, lenient_opt_bool};
use prov_core::cmd::{Cmd, Sh};
use prov_core::module::{Action, Change, Module, ModuleCtx, ModuleError, Outcome, Plan};
use serde::Deserialize;

/// Arguments of `systemd_service` (and `systemd`).
#[derive(Debug, Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct Args {
    /// The unit.
    #[serde(default, alias = "service", alias = "unit")]
    pub name: Option<String>,
    /// `started`, `stopped`, `restarted` or `reloaded`.
    #[serde(default)]
    pub state: Option<State>,
    /// Started at boot.
    #[serde(default, deserialize_with = "lenient_opt_bool")]
    pub enabled: Option<bool>,
    /// `systemctl --force`.
    #[serde(default, deserialize_with = "lenient_opt_bool")]
    pub force: Option<bool>,
    /// Masked (cannot be started).
    #[serde(default, deserialize_with = "lenient_opt_bool")]
    pub masked: Option<bool>,
    /// `systemctl daemon-reload` first.
    #[serde(default, alias = "daemon-reload", deserialize_with = "lenient_bool")]
    pub daemon_reload: bool,
    /// `systemctl daemon-reexec` first.
    #[serde(default, alias = "daemon-reexec", deserialize_with = "lenient_bool")]
    pub daemon_reexec: bool,
    /// `system`, `user` or `global`.
    #[serde(default)]
    pub scope: Scope,
    /// `systemctl --no-block`.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub no_block: bool,
}

/// `state` of `systemd_service`.
#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// Running.
    Started,
    /// Not running.
    Stopped,
    /// Bounced.
    Restarted,
    /// Reloaded.
    Reloaded,
}

/// `scope` of `systemd_service`.
#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// The system manager.
    #[default]
    System,
    /// The calling user's manager.
    User,
    /// All users' units.
    Global,
}

/// The `systemd_service` module.
#[derive(Debug, Default)]
pub struct SystemdService;

/// `systemctl` with the options every call of the task gets.
fn systemctl(a: &Args) -> Cmd {
    let mut c = Cmd::new("systemctl");
    c = match a.scope {
        Scope::System => c,
        Scope::User => c.flag("--user"),
        Scope::Global => c.flag("--global"),
    };
    if a.no_block {
        c = c.flag("--no-block");
    }
    if a.force == Some(true) {
        c = c.flag("--force");
    }
    c
}

/// `XDG_RUNTIME_DIR` as Ansible defaults it (for `--user` and `--global`), then `cmd`.
fn with_runtime_dir(a: &Args, cmd: Sh) -> Sh {
    match a.scope {
        Scope::System => cmd,
        _ => Sh::lit(": \"${XDG_RUNTIME_DIR:=/run/user/$(id -u)}\"; export XDG_RUNTIME_DIR").then(cmd),
    }
}

/// One command reading all Ansible reads: records start with `@@`.
fn probe_command(a: &Args, unit: &str) -> Sh {
    let show = systemctl(a).flag("show").operand(unit).build().suffix(" 2>&1");
    let enabled = systemctl(a).flag("is-enabled").operand(unit).build().suffix(" 2>/dev/null");
    let files = systemctl(a).flag("list-unit-files").operand(unit).build().suffix(" >/dev/null 2>&1");
    let initd = Sh::lit("[ -e").word(Sh::lit("/etc/init.d/").glued(Sh::quoted(unit))).suffix(" ] && echo @@initd");
    let rc_links = Sh::lit("for l in /etc/rc?.d/S??")
        .glued(Sh::quoted(unit))
        .suffix("; do [ -e \"$l\" ] && echo @@sysv-enabled && break; done");
    Sh::lit("command -v systemctl >/dev/null 2>&1 || { echo @@nosystemctl; exit 0; }").then(with_runtime_dir(
        a,
        initd
            .then(rc_links)
            .then(Sh::lit("echo @@show"))
            .then(show)
            .then(Sh::lit("echo \"@@show-rc $?\"; echo @@is-enabled"))
            .then(enabled)
            .then(Sh::lit("echo \"@@is-enabled-rc $?\""))
            .then(files)
            .then(Sh::lit("echo \"@@list-unit-files-rc $?\"")),
    ))
}

/// What the probe read.
#[derive(Debug, Default, PartialEq)]
struct Probe {
    systemctl: bool,
    initd: bool,
    sysv_enabled: bool,
    show: String,
    show_rc: i32,
    is_enabled: String,
    is_enabled_rc: i32,
    list_unit_files_rc: i32,
}

fn parse_probe(text: &str) -> Probe {
    let mut p = Probe { systemctl: true, ..Probe::default() };
    let mut section = "";
    for line in text.lines() {
        if let Some(tag) = line.strip_prefix("@@") {
            let (k, v) = tag.split_once(' ').unwrap_or((tag, ""));
            let rc = v.trim().parse().unwrap_or(1);
            match k {
                "nosystemctl" => p.systemctl = false,
                "initd" => p.initd = true,
                "sysv-enabled" => p.sysv_enabled = true,
                "show" | "is-enabled" => section = if k == "show" { "show" } else { "is-enabled" },
                "show-rc" => (p.show_rc, section) = (rc, ""),
                "is-enabled-rc" => (p.is_enabled_rc, section) = (rc, ""),
                "list-unit-files-rc" => p.list_unit_files_rc = rc,
                _ => {}
            }
            continue;
        }
        let buf = match section {
            "show" => &mut p.show,
            "is-enabled" => &mut p.is_enabled,
            _ => continue,
        };
        buf.push_str(line);
        buf.push('\n');
    }
    p
}

/// `systemctl show`'s `KEY=VALUE` lines as ansible-core parses them: only `Exec*` values that
/// start with `{` may span lines, up to a line ending with `}`.
fn parse_show(text: &str) -> IndexMap<String, String> {
    let mut parsed = IndexMap::new();
    let mut multi: Vec<&str> = Vec::new();
    let mut key: Option<&str> = None;
    for line in text.split('\n') {
        match key {
            None => {
                let Some((k, v)) = line.split_once('=') else { continue };
                if k.starts_with("Exec") && v.trim_start().starts_with('{') && !v.trim_end().ends_with('}') {
                    multi.push(v);
                    key = Some(k);
                    continue;
                }
                parsed.insert(k.to_string(), v.trim().to_string());
            }
            Some(k) => {
                multi.push(line);
                if line.trim_end().ends_with('}') {
                    parsed.insert(k.to_string(), multi.join("\n").trim().to_string());
                    multi.clear();
                    key = None;
                }
            }
        }
    }
    parsed
}

fn request_was_ignored(out: &str) -> bool {
    !out.contains('=') && (out.contains("ignoring request") || out.contains("ignoring command"))
}

/// The unit as systemd and the init scripts know it.
#[derive(Debug, Default)]
struct Unit {
    found: bool,
    status: IndexMap<String, String>,
    masked: bool,
    enabled: bool,
}

/// Ansible's reading of the probe; `Err` is a failure message.
fn read_unit(p: &Probe, a: &Args, unit: &str) -> Result<Unit, String> {
    let mut u = Unit::default();
    let mut is_systemd = false;
    if p.show_rc == 0 && !request_was_ignored(&p.show) {
        if !p.show.is_empty() {
            u.status = parse_show(&p.show);
            let load = u.status.get("LoadState").map(String::as_str);
            is_systemd = load.is_some_and(|l| l != "not-found");
            if is_systemd && load != Some("masked") {
                if let Some(e) = u.status.get("LoadError") {
                    return Err(format!("Error loading unit file '{unit}': {e}"));
                }
            }
        }
    } else {
        const VALID: &[&str] = &[
            "enabled",
            "enabled-runtime",
            "linked",
            "linked-runtime",
            "masked",
            "masked-runtime",
            "static",
            "indirect",
            "disabled",
            "generated",
            "transient",
        ];
        if VALID.contains(&p.is_enabled.trim()) || p.list_unit_files_rc == 0 {
            is_systemd = true;
        } else {
            return Err(p.show.trim().to_string());
        }
    }
    u.found = is_systemd || p.initd;
    let out = p.is_enabled.trim();
    u.masked = out == "masked";
    u.enabled = match p.is_enabled_rc {
        0 => !matches!(out, "enabled-runtime" | "indirect" | "alias"),
        1 => a.scope == Scope::System && p.initd && !out.ends_with("disabled") && p.sysv_enabled,
        _ => false,
    };
    Ok(u)
}

/// `systemctl VERB -- UNIT` steps: the verb and the unit.
type Steps = Vec<(&'static str, String)>;

/// The steps and the result to register.
type Decision = (Steps, Outcome);

/// What `apply` does: `systemctl VERB -- UNIT` steps, each with its failure message.
pub struct SystemdPlan {
    steps: Steps,
    result: Outcome,
    /// daemon-reload / daemon-reexec first, then read the unit again.
    reload_first: bool,
}

fn missing(unit: &str) -> String {
    format!("Could not find the requested service {unit}: host")
}

/// The steps and the result from the unit's state (no host access).
fn decide(a: &Args, unit: Option<&str>, u: &Unit) -> Result<Decision, String> {
    let status: Vec<(String, Value)> = u.status.iter().map(|(k, v)| (k.clone(), Value::from(v.as_str()))).collect();
    let mut o =
        Outcome::ok().with("name", unit.map_or(Value::from(()), Value::from)).with("status", Value::from_pairs(status));
    let Some(unit) = unit else { return Ok((Vec::new(), o)) };
    let mut steps = Vec::new();
    if let Some(m) = a.masked {
        if m != u.masked {
            steps.push((if m { "mask" } else { "unmask" }, unit.to_string()));
        }
    }
    if let Some(e) = a.enabled {
        if !u.found {
            return Err(missing(unit));
        }
        o = o.with("enabled", e);
        if e != u.enabled {
            steps.push((if e { "enable" } else { "disable" }, unit.to_string()));
        }
    }
    if let Some(s) = a.state {
        if !u.found {
            return Err(missing(unit));
        }
        let Some(active) = u.status.get("ActiveState") else {
            return Err("Service is in unknown state".into());
        };
        let running = matches!(active.as_str(), "active" | "activating");
        let (verb, shown) = match s {
            State::Started => (if running { None } else { Some("start") }, "started"),
            State::Stopped => (if running || active == "deactivating" { Some("stop") } else { None }, "stopped"),
            State::Restarted => (Some(if running { "restart" } else { "start" }), "started"),
            State::Reloaded => (Some(if running { "reload" } else { "start" }), "started"),
        };
        o = o.with("state", shown);
        if let Some(v) = verb {
            steps.push((v, unit.to_string()));
        }
    }
    Ok((steps, o))
}

fn step_command(a: &Args, verb: &'static str, unit: &str) -> Sh {
    let c = match verb {
        "mask" => systemctl(a).flag("mask"),
        "unmask" => systemctl(a).flag("unmask"),
        "enable" => systemctl(a).flag("enable"),
        "disable" => systemctl(a).flag("disable"),
        "start" => systemctl(a).flag("start"),
        "stop" => systemctl(a).flag("stop"),
        "restart" => systemctl(a).flag("restart"),
        _ => systemctl(a).flag("reload"),
    };
    with_runtime_dir(a, c.operand(unit).build())
}

fn check_glob(unit: &str) -> Result<(), String> {
    for g in ["*", "?", "["] {
        if unit.contains(g) {
            return Err(format!(
                "This module does not currently support using glob patterns, found '{g}' in service name: {unit}"
            ));
        }
    }
    Ok(())
}

/// Reads the unit and decides; `Ok(Err(outcome))` is a failed task.
async fn read_and_decide(a: &Args, cx: &ModuleCtx<'_>) -> Result<Result<Decision, Outcome>, ModuleError> {
    let Some(unit) = a.name.as_deref() else { return Ok(decide(a, None, &Unit::default()).map_err(Outcome::failed)) };
    let out = cx.exec(probe_command(a, unit)).await?;
    let p = parse_probe(&out.stdout_str());
    if !p.systemctl {
        return Ok(Err(Outcome::failed("Failed to find required executable \"systemctl\" in paths")));
    }
    let u = match read_unit(&p, a, unit) {
        Ok(u) => u,
        Err(msg) => return Ok(Err(Outcome::failed(msg))),
    };
    Ok(decide(a, Some(unit), &u).map_err(|msg| {
        let mut o = Outcome::failed(msg);
        if let Some(s) = Some(&u.status).filter(|s| !s.is_empty() && !s.contains_key("ActiveState")) {
            let status: Vec<(String, Value)> = s.iter().map(|(k, v)| (k.clone(), Value::from(v.as_str()))).collect();
            o = o.with("status", Value::from_pairs(status));
        }
        o
    }))
}

#[async_trait]
impl Module for SystemdService {
    const NAME: &'static str = "systemd_service";
    type Args = Args;
    type Plan = SystemdPlan;

    fn check_args(a: &Args) -> Result<(), String> {
        if a.name.is_none() {
            for (given, key) in
                [(a.state.is_some(), "state"), (a.enabled.is_some(), "enabled"), (a.masked.is_some(), "masked")]
            {
                if given {
                    return Err(format!("missing parameter(s) required by '{key}': name"));
                }
            }
        }
        if let Some(n) = &a.name {
            check_glob(n)?;
        }
        Ok(())
    }

    async fn plan(&self, a: &Args, cx: &ModuleCtx<'_>) -> Result<Plan<SystemdPlan>, ModuleError> {
        let (steps, result) = match read_and_decide(a, cx).await? {
            Ok(x) => x,
            Err(failed) => {
                // Ansible reloads before it reads: a unit the reload makes known is not missing.
                if (a.daemon_reload || a.daemon_reexec) && !cx.is_check() {
                    let plan = SystemdPlan { steps: Vec::new(), result: Outcome::ok(), reload_first: true };
                    return Ok(Plan::Change(Change::new(plan, Action::Modify, "service", "systemd")));
                }
                return Ok(Plan::Ok(failed));
            }
        };
        let reload_first = (a.daemon_reload || a.daemon_reexec) && !cx.is_check();
        if steps.is_empty() && !reload_first {
            return Ok(Plan::Ok(result));
        }
        let name = a.name.clone().unwrap_or_else(|| "systemd".into());
        let mut before = String::new();
        let mut after = String::new();
        for (verb, _) in &steps {
            let (b, af) = match *verb {
                "mask" => ("masked: false", "masked: true"),
                "unmask" => ("masked: true", "masked: false"),
                "enable" => ("enabled: false", "enabled: true"),
                "disable" => ("enabled: true", "enabled: false"),
                "stop" => ("state: started", "state: stopped"),
                "start" => ("state: stopped", "state: started"),
                _ => ("state: started", "state: started (restarted)"),
            };
            before.push_str(b);
            before.push('\n');
            after.push_str(af);
            after.push('\n');
        }
        let action = match steps.last().map(|s| s.0) {
            Some("start") => Action::Create,
            Some("stop") => Action::Delete,
            _ => Action::Modify,
        };
        let mut ch = Change::new(SystemdPlan { steps, result, reload_first }, action, "service", name.clone());
        if !before.is_empty() {
            ch = ch.with_diff(format!("service {name}"), before, after);
        }
        Ok(Plan::Change(ch))
    }

    async fn apply(&self, a: &Args, plan: SystemdPlan, cx: &ModuleCtx<'_>) -> Result<Outcome, ModuleError> {
        let (steps, mut result) = (plan.steps, plan.result);
        let (steps, mut result) = if plan.reload_first {
            for (flag, verb) in [(a.daemon_reload, "daemon-reload"), (a.daemon_reexec, "daemon-reexec")] {
                if !flag {
                    continue;
                }
                let c = if verb == "daemon-reload" {
                    systemctl(a).flag("daemon-reload")
                } else {
                    systemctl(a).flag("daemon-reexec")
                };
                let out = cx.exec(with_runtime_dir(a, c.build())).await?;
                if out.rc != 0 {
                    return Ok(Outcome::failed(format!("failure {} during {verb}: {}", out.rc, out.stderr_str())));
                }
            }
            match read_and_decide(a, cx).await? {
                Ok(x) => x,
                Err(failed) => return Ok(failed),
            }
        } else {
            (steps, std::mem::take(&mut result))
        };
        for (verb, unit) in &steps {
            let out = cx.exec(step_command(a, verb, unit)).await?;
            if out.rc != 0 {
                let msg = match *verb {
                    "mask" | "unmask" => format!("Failed to {verb} the service ({unit}): {}", out.stderr_str().trim()),
                    "enable" | "disable" => {
                        format!("Unable to {verb} service {unit}: {}{}", out.stdout_str(), out.stderr_str())
                    }
                    _ => format!("Unable to {verb} service {unit}: {}", out.stderr_str()),
                };
                let mut o = result.clone();
                o.failed = true;
                o.msg = Some(msg);
                return Ok(o);
            }
        }
        result.changed = !steps.is_empty();
        Ok(result)
    }
}

#[cfg(test)]
mod tests;
