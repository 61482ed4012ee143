//! `service_facts`: sets the fact `services` (also `ansible_facts.services`): each service's
//! name mapped to its `name`, `state`, `source` and, from systemd, `status`, as ansible-core's
//! module reads them on Linux.
//!
//! No arguments. Read as ansible-core reads them: `service --status-all` (SysV: `[ + ]` is
//! running, `[ - ]` stopped, `[ ? ]` left out) where there is `service` and neither `chkconfig`
//! nor `rc-status`; `initctl list` (upstart); and, when systemd runs the host, `systemctl
//! list-units` then `list-unit-files` (a unit only in the files gets its `ActiveState`).
//! Later sources replace earlier ones for the same name. Hosts with `chkconfig` or OpenRC fail
//! the task: prov does not read them yet. No service found: the task is skipped with
//! ansible-core's message. Reads only: runs in check mode too.
//!
//! ```yaml
//! - service_facts:
//! - debug: msg="{{ ansible_facts.services['nginx.service'].state }}"
//! ```

use crate::util::{section, with_fact};
use async_trait::async_trait;
use indexmap::IndexMap;
use minijinja::Value;
use prov_core::cmd::Sh;
use prov_core::module::{Module, ModuleCtx, ModuleError, Outcome, Plan};
use serde::Deserialize;
use std::collections::BTreeMap;

/// Arguments of `service_facts` (none).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {}

/// The `service_facts` module.
#[derive(Debug, Default)]
pub struct ServiceFacts;

/// Which tools the host has, then each source's listing, in sections.
const SCRIPT: &str = r#"export LANG=C LC_ALL=C
have() { command -v "$1" >/dev/null 2>&1; }
printf '%s\n' "--tools--"
for t in service chkconfig initctl rc-status rc-update systemctl; do have "$t" && printf '%s\n' "$t"; done
if have systemctl && { [ -e /run/systemd/system/ ] || [ -e /dev/.run/systemd/ ] || [ -e /dev/.systemd/ ]; }; then printf '%s\n' systemd; fi
if have service && ! have chkconfig && ! have rc-status; then
  printf '%s\n' "--sysv--"
  service --status-all 2>/dev/null
fi
if have initctl && ! have chkconfig; then
  printf '%s\n' "--upstart--"
  initctl list 2>/dev/null
fi
if have systemctl && { [ -e /run/systemd/system/ ] || [ -e /dev/.run/systemd/ ] || [ -e /dev/.systemd/ ]; }; then
  printf '%s\n' "--units--"
  systemctl list-units --no-pager --type service --all --plain 2>/dev/null
  printf '%s\n' "--unit-files--"
  systemctl list-unit-files --no-pager --type service --all 2>/dev/null
fi"#;

/// One service's fields, in ansible-core's order (`status` or `goal` before `source`).
fn service(
    name: &str,
    state: &str,
    source: &str,
    extra: Option<(&'static str, &str)>,
) -> IndexMap<&'static str, String> {
    let mut m = IndexMap::new();
    m.insert("name", name.to_string());
    m.insert("state", state.to_string());
    if let Some((k, v)) = extra {
        m.insert(k, v.to_string());
    }
    m.insert("source", source.to_string());
    m
}

type Services = BTreeMap<String, IndexMap<&'static str, String>>;

/// `service --status-all`: `[ + ]  name` running, `[ - ]  name` stopped.
fn sysv(out: &str, into: &mut Services) {
    for line in out.lines() {
        let t = line.trim_start();
        let (state, rest) = if let Some(r) = t.strip_prefix("[ + ]") {
            ("running", r)
        } else if let Some(r) = t.strip_prefix("[ - ]") {
            ("stopped", r)
        } else {
            continue;
        };
        if !rest.starts_with(char::is_whitespace) {
            continue;
        }
        let name = rest.trim_start();
        if !name.is_empty() {
            into.insert(name.to_string(), service(name, state, "sysv", None));
        }
    }
}

/// `initctl list`: `name goal/state[, process PID]`.
fn upstart(out: &str, into: &mut Services) {
    for line in out.replace('\r', "").split('\n') {
        let line = line.trim_end();
        let body = match line.find(", process ") {
            Some(i) if line[i + 10..].chars().all(|c| c.is_ascii_digit()) && line.len() > i + 10 => &line[..i],
            _ => line,
        };
        let Some(sp) = body.rfind(char::is_whitespace) else { continue };
        let (name, gs) = (&body[..sp], &body[sp + 1..]);
        let Some((goal, state)) = gs.split_once('/') else { continue };
        let word = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_alphanumeric() || c == '_');
        if !word(goal) || !word(state) {
            continue;
        }
        let name = name.strip_prefix(' ').unwrap_or(name);
        into.insert(name.to_string(), service(name, state, "upstart", Some(("goal", goal))));
    }
}

const BAD_STATES: [&str; 3] = ["not-found", "masked", "failed"];

/// `systemctl list-units --plain`: UNIT LOAD ACTIVE SUB DESCRIPTION. A bad state in any field
/// but the last is the status, else ACTIVE; running when SUB is `running`.
fn units(out: &str, into: &mut Services) {
    for line in out.split('\n').filter(|l| l.contains(".service")) {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() < 4 {
            continue;
        }
        let head = &fields[..fields.len() - 1];
        let status = BAD_STATES.iter().find(|b| head.contains(b)).copied().unwrap_or(fields[2]);
        let state = if fields[3] == "running" { "running" } else { "stopped" };
        into.insert(fields[0].to_string(), service(fields[0], state, "systemd", Some(("status", status))));
    }
}

/// `systemctl list-unit-files`: UNIT STATE [PRESET]. The names not listed as units, which need
/// their `ActiveState`, are returned.
fn unit_files(out: &str, into: &mut Services) -> Result<Vec<(String, String)>, String> {
    let mut missing = Vec::new();
    for line in out.split('\n').filter(|l| l.contains(".service")) {
        let mut f = line.split_whitespace();
        let (Some(name), Some(status)) = (f.next(), f.next()) else {
            return Err(format!("Malformed output discovered from systemd list-unit-files: {line}"));
        };
        match into.get_mut(name) {
            None => missing.push((name.to_string(), status.to_string())),
            Some(s) => {
                if !BAD_STATES.contains(&s.get("status").map(String::as_str).unwrap_or_default()) {
                    s.insert("status", status.to_string());
                }
            }
        }
    }
    Ok(missing)
}

#[async_trait]
impl Module for ServiceFacts {
    const NAME: &'static str = "service_facts";
    type Args = Args;
    type Plan = ();

    async fn plan(&self, _: &Args, cx: &ModuleCtx<'_>) -> Result<Plan<()>, ModuleError> {
        let out = cx.exec(Sh::lit(SCRIPT)).await?.stdout_str();
        let tools: Vec<&str> = section(&out, "tools").unwrap_or_default().lines().collect();
        if tools.contains(&"chkconfig") || (tools.contains(&"rc-status") && tools.contains(&"rc-update")) {
            return Ok(Plan::Ok(Outcome::failed(
                "service_facts: prov does not read chkconfig's or OpenRC's services yet",
            )));
        }
        let mut services = Services::new();
        if let Some(s) = section(&out, "sysv") {
            sysv(s, &mut services);
        }
        if let Some(s) = section(&out, "upstart") {
            upstart(s, &mut services);
        }
        if let Some(u) = section(&out, "units") {
            units(u, &mut services);
            let missing = match unit_files(section(&out, "unit-files").unwrap_or_default(), &mut services) {
                Ok(m) => m,
                Err(e) => return Ok(Plan::Ok(Outcome::failed(e))),
            };
            for (name, status) in missing {
                let show = prov_core::cmd::Cmd::new("systemctl")
                    .flag("show")
                    .flag("--property=ActiveState")
                    .operand(&name)
                    .build();
                let r = cx.exec(Sh::lit("LANG=C LC_ALL=C").word(show)).await?;
                let text = r.stdout_str();
                let state = if r.rc == 0 && !text.is_empty() {
                    text.replace("ActiveState=", "").trim_end().to_string()
                } else {
                    "unknown".to_string()
                };
                services.insert(name.clone(), service(&name, &state, "systemd", Some(("status", &status))));
            }
        }
        if services.is_empty() {
            let mut o = Outcome::ok();
            o.skipped = true;
            o.msg = Some(
                "Failed to find any services. This can be due to privileges or some other configuration issue.".into(),
            );
            return Ok(Plan::Ok(o));
        }
        let mut all: Vec<(String, Value)> = Vec::new();
        for (k, v) in services {
            let fields: Vec<(String, Value)> = v.into_iter().map(|(f, x)| (f.to_string(), Value::from(x))).collect();
            all.push((k, Value::from_pairs(fields)));
        }
        Ok(Plan::Ok(with_fact(Outcome::ok(), "services", Value::from_pairs(all))))
    }

    async fn apply(&self, _: &Args, _: (), _: &ModuleCtx<'_>) -> Result<Outcome, ModuleError> {
        Ok(Outcome::ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sysv_states_are_read_from_service_status_all() {
        let mut s = Services::new();
        sysv(" [ - ]  apparmor\n [ + ]  cgroupfs-mount\n [ ? ]  hwclock.sh\n", &mut s);
        assert_eq!(s.keys().collect::<Vec<_>>(), ["apparmor", "cgroupfs-mount"]);
        assert_eq!(s["cgroupfs-mount"]["state"], "running");
        assert_eq!(s["apparmor"]["source"], "sysv");
    }

    #[test]
    fn systemd_units_and_unit_files_give_state_and_status() {
        let mut s = Services::new();
        units(
            "cron.service loaded active running Regular background program processing daemon\n\
nope.service not-found inactive dead nope.service\n\
x.service loaded failed failed X\n",
            &mut s,
        );
        assert_eq!((s["cron.service"]["state"].as_str(), s["cron.service"]["status"].as_str()), ("running", "active"));
        assert_eq!(s["nope.service"]["status"], "not-found");
        assert_eq!((s["x.service"]["state"].as_str(), s["x.service"]["status"].as_str()), ("stopped", "failed"));
        let missing = unit_files(
            "UNIT FILE STATE VENDOR PRESET\ncron.service enabled enabled\nx.service enabled enabled\nssh.service disabled enabled\n",
            &mut s,
        )
        .expect("parsed");
        assert_eq!(s["cron.service"]["status"], "enabled");
        assert_eq!(s["x.service"]["status"], "failed", "a bad state stays");
        assert_eq!(missing, [("ssh.service".to_string(), "disabled".to_string())]);
    }

    #[test]
    fn upstart_jobs_have_goal_and_state() {
        let mut s = Services::new();
        upstart("rsyslog start/running, process 541\ntty1 stop/waiting\n", &mut s);
        assert_eq!((s["rsyslog"]["goal"].as_str(), s["rsyslog"]["state"].as_str()), ("start", "running"));
        assert_eq!(s["tty1"]["state"], "waiting");
    }
}
