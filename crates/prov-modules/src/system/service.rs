//! `service`: starts, stops, restarts, reloads and enables services, with systemd (when
//! `/run/systemd/system` exists) or SysV init scripts (`service`/`/etc/init.d`, `update-rc.d`).
//!
//! Arguments (as in Ansible): `name` (required, except with `daemon_reload` alone, which
//! ansible-core's systemd module runs without a unit), `state` (`started`, `stopped`, `restarted`,
//! `reloaded`; `restarted` and `reloaded` always change), `enabled` (start at boot), `use`
//! (`auto` default, `systemd`, `sysvinit`/`service`), `sleep` (seconds between stop and start
//! for a SysV restart), `daemon_reload` (with systemd, as ansible-core's service passes it to
//! its systemd module: `systemctl daemon-reload` first, not in check mode, never a change;
//! without systemd the task fails with ansible-core's "Unsupported parameters"). One command
//! reads the state. Registers `name`, `state`, `enabled`,
//! `status` (systemd `LoadState`/`ActiveState`, or the init script's status code).
//!
//! ```yaml
//! - service: { name: nginx, state: started, enabled: true }
//! - service:
//!     name: ssh
//!     state: reloaded
//! ```

use crate::util::probe_failed;
use async_trait::async_trait;
use indexmap::IndexMap;
use minijinja::Value;
use prov_core::args::lenient_opt_bool;
use prov_core::cmd::{Cmd, Sh, Word, WordKind};
use prov_core::module::{Action, Change, Module, ModuleCtx, ModuleError, Outcome, Plan};
use serde::Deserialize;

/// Arguments of `service`.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Args {
    /// Service name (`nginx` or `nginx.service`); only `daemon_reload` may go without one.
    #[serde(default)]
    pub name: Option<String>,
    /// `started`, `stopped`, `restarted` or `reloaded`.
    #[serde(default)]
    pub state: Option<String>,
    /// Start at boot.
    #[serde(default, deserialize_with = "lenient_opt_bool")]
    pub enabled: Option<bool>,
    /// Service manager: `auto`, `systemd`, `sysvinit` or `service`.
    #[serde(default, rename = "use")]
    pub use_: Option<String>,
    /// Seconds between stop and start when restarting a SysV service.
    #[serde(default)]
    pub sleep: Option<u64>,
    /// With systemd (ansible-core then runs its `systemd` module): `systemctl daemon-reload`
    /// first, not in check mode, never a change.
    #[serde(default, deserialize_with = "prov_core::args::lenient_bool")]
    pub daemon_reload: bool,
}

/// The `service` module.
#[derive(Debug, Default)]
pub struct Service;

/// Commands to run, and the result to report.
pub struct ServicePlan {
    steps: Vec<Sh>,
    systemd: bool,
    status: Value,
}

/// What ansible-core registers: with systemd its systemd module's `name` and `status`, else
/// its service module's `name`; both `state` when one was asked (`started` for started,
/// restarted and reloaded, else `stopped`) and `enabled` only when it was given.
fn result(o: Outcome, args: &Args, name: &str, systemd: bool, status: Value) -> Outcome {
    let mut o = o.with("name", name);
    if let Some(e) = args.enabled {
        o = o.with("enabled", e);
    }
    if let Some(st) = args.state.as_deref() {
        // Both modules show restarted and reloaded as `started`.
        let shown = if st == "stopped" { "stopped" } else { "started" };
        o = o.with("state", shown);
    }
    if systemd {
        o = o.with("status", status);
    }
    o
}

#[derive(Debug, Default)]
struct Current {
    systemd: bool,
    found: bool,
    running: bool,
    enabled: bool,
    status: IndexMap<String, Value>,
}

/// The service's name checked as one (never an option or a path: the SysV commands take it
/// without `--` and put it after `/etc/init.d/`).
fn unit(name: &str) -> Result<Word, String> {
    Word::new(WordKind::Service, name).map_err(|e| e.to_string())
}

/// The init script's name: the unit without `.service`.
fn sysv_name(unit: &Word) -> Word {
    let n = unit.as_str();
    Word::new(WordKind::Service, n.strip_suffix(".service").unwrap_or(n)).unwrap_or_else(|_| unit.clone())
}

fn init_script(sysv: &Word) -> Sh {
    Sh::lit("/etc/init.d/").glued(sysv)
}

fn probe_command(unit: &Word, mode: &str) -> Sh {
    let sysv = sysv_name(unit);
    let systemd = Sh::lit("echo init=systemd")
        .then(
            Cmd::new("systemctl")
                .flag("show")
                .flag("-p")
                .flag("LoadState")
                .flag("-p")
                .flag("ActiveState")
                .flag("-p")
                .flag("SubState")
                .operand(unit.as_str()),
        )
        .then(Sh::lit("if").word(Cmd::new("systemctl").flag("is-enabled").flag("-q").operand(unit.as_str())))
        .suffix(" 2>/dev/null; then echo enabled=yes; else echo enabled=no; fi");
    let sysvinit = Sh::lit("echo init=sysv")
        .then(Sh::lit("if [ -x").word(init_script(&sysv)))
        .suffix(" ]; then echo LoadState=loaded; else echo LoadState=not-found; fi")
        .then(
            Sh::lit("if command -v service >/dev/null 2>&1; then").word(Cmd::new("service").word(&sysv).flag("status")),
        )
        .suffix(" >/dev/null 2>&1; else")
        .word(Cmd::program(init_script(&sysv)).flag("status"))
        .suffix(" >/dev/null 2>&1; fi")
        .then(Sh::lit("echo status=$?"))
        .then(Sh::lit("if ls /etc/rc[2345].d/S[0-9][0-9]").glued(&sysv))
        .suffix(" >/dev/null 2>&1; then echo enabled=yes; else echo enabled=no; fi");
    match mode {
        "systemd" => systemd,
        "sysvinit" | "service" => sysvinit,
        _ => {
            Sh::lit("if [ -d /run/systemd/system ]; then").word(systemd).suffix("; else").word(sysvinit).suffix("; fi")
        }
    }
}

fn parse(text: &str) -> Current {
    let mut c = Current::default();
    for line in text.lines() {
        let Some((k, v)) = line.split_once('=') else { continue };
        match k {
            "init" => c.systemd = v == "systemd",
            "LoadState" => c.found = v != "not-found",
            "ActiveState" => c.running = matches!(v, "active" | "reloading" | "activating"),
            "status" => c.running = v == "0",
            "enabled" => c.enabled = v == "yes",
            _ => {}
        }
        if k != "init" && k != "enabled" {
            c.status.insert(k.to_string(), Value::from(v));
        }
    }
    c
}

fn action(systemd: bool, unit: &Word, verb: &'static str) -> Sh {
    if systemd {
        Cmd::new("systemctl").flag(verb).operand(unit.as_str()).build()
    } else {
        let sysv = sysv_name(unit);
        Sh::lit("if command -v service >/dev/null 2>&1; then")
            .word(Cmd::new("service").word(&sysv).flag(verb))
            .suffix("; else")
            .word(Cmd::program(init_script(&sysv)).flag(verb))
            .suffix("; fi")
    }
}

#[async_trait]
impl Module for Service {
    const NAME: &'static str = "service";
    type Args = Args;
    type Plan = ServicePlan;

    fn check_args(args: &Args) -> Result<(), String> {
        match args.state.as_deref() {
            None | Some("started" | "stopped" | "restarted" | "reloaded") => {}
            Some(s) => return Err(format!("state must be started, stopped, restarted or reloaded, not {s}")),
        }
        match args.use_.as_deref() {
            None | Some("auto" | "systemd" | "sysvinit" | "service") => {}
            Some(u) => return Err(format!("use must be auto, systemd, sysvinit or service, not {u}")),
        }
        if args.state.is_none() && args.enabled.is_none() && !args.daemon_reload {
            return Err("give `state`, `enabled` or `daemon_reload`".into());
        }
        match &args.name {
            Some(n) => {
                unit(n)?;
            }
            None if args.daemon_reload && args.state.is_none() && args.enabled.is_none() => {}
            None => return Err("missing required arguments: name".into()),
        }
        Ok(())
    }

    async fn plan(&self, args: &Args, cx: &ModuleCtx<'_>) -> Result<Plan<ServicePlan>, ModuleError> {
        let Some(svc) = args.name.as_deref() else {
            // `daemon_reload` alone: ansible-core's service hands it to its systemd module, which
            // reloads and reports no change (`name: null`, `status: {}`).
            // Without systemd, ansible-core's own service module refuses the missing name.
            if cx.exec(Sh::lit("test -d /run/systemd/system")).await?.rc != 0 {
                return Ok(Plan::Ok(Outcome::failed("missing required arguments: name")));
            }
            if !cx.is_check() {
                let reload = cx.exec(Cmd::new("systemctl").flag("daemon-reload").build()).await?;
                if reload.rc != 0 {
                    let msg = format!("failure {} during daemon-reload: {}", reload.rc, reload.stderr_str().trim());
                    return Ok(Plan::Ok(Outcome::failed(msg).with_exec(&reload)));
                }
            }
            let o = Outcome::ok()
                .with("name", Value::from(()))
                .with("status", Value::from_pairs(Vec::<(String, Value)>::new()));
            return Ok(Plan::Ok(o));
        };
        let name = unit(svc).map_err(ModuleError::Args)?;
        let out = cx.exec(probe_command(&name, args.use_.as_deref().unwrap_or("auto"))).await?;
        if out.rc != 0 {
            return Err(probe_failed(&format!("reading the state of service {svc}"), &out));
        }
        let mut cur = parse(&out.stdout_str());
        if args.daemon_reload {
            if !cur.systemd {
                // ansible-core's `service` module itself (not systemd) has no such argument.
                return Ok(Plan::Ok(Outcome::failed(
                    "Unsupported parameters for (service) module: daemon_reload. Supported parameters include: arguments (args), enabled, name, pattern, runlevel, sleep, state, use.",
                )));
            }
            if !cx.is_check() {
                let reload = cx.exec(Cmd::new("systemctl").flag("daemon-reload").build()).await?;
                if reload.rc != 0 {
                    return Ok(Plan::Ok(
                        Outcome::failed(format!(
                            "failure {} during daemon-reload: {}",
                            reload.rc,
                            reload.stderr_str().trim()
                        ))
                        .with_exec(&reload),
                    ));
                }
                let again = cx.exec(probe_command(&name, args.use_.as_deref().unwrap_or("auto"))).await?;
                if again.rc != 0 {
                    return Err(probe_failed(&format!("reading the state of service {svc}"), &again));
                }
                cur = parse(&again.stdout_str());
            }
        }
        if !cur.found {
            return Ok(Plan::Ok(Outcome::failed(format!("Could not find the requested service {svc}: host"))));
        }
        let name = &name;
        let was = if cur.running { "started" } else { "stopped" };
        let mut steps = Vec::new();
        let mut before = String::new();
        let mut after = String::new();
        let state = match args.state.as_deref() {
            Some("started") if !cur.running => {
                steps.push(action(cur.systemd, name, "start"));
                "started"
            }
            Some("stopped") if cur.running => {
                steps.push(action(cur.systemd, name, "stop"));
                "stopped"
            }
            Some("restarted") if cur.running && !cur.systemd && args.sleep.is_some() => {
                let sleep = args.sleep.unwrap_or(0);
                let pause = Cmd::new("sleep").operand(sleep.to_string()).build();
                steps.push(action(false, name, "stop").then(pause).then(action(false, name, "start")));
                "restarted"
            }
            Some("restarted") => {
                steps.push(action(cur.systemd, name, if cur.running { "restart" } else { "start" }));
                "restarted"
            }
            Some("reloaded") => {
                steps.push(action(cur.systemd, name, if cur.running { "reload" } else { "start" }));
                "reloaded"
            }
            _ => was,
        };
        if state != was {
            before.push_str(&format!("state: {was}\n"));
            after.push_str(&format!("state: {state}\n"));
        }
        let enabled = args.enabled.unwrap_or(cur.enabled);
        if enabled != cur.enabled {
            let yn = |b: bool| if b { "yes" } else { "no" };
            before.push_str(&format!("enabled: {}\n", yn(cur.enabled)));
            after.push_str(&format!("enabled: {}\n", yn(enabled)));
            steps.push(match (cur.systemd, enabled) {
                (true, true) => Cmd::new("systemctl").flag("enable").operand(name.as_str()).build(),
                (true, false) => Cmd::new("systemctl").flag("disable").operand(name.as_str()).build(),
                (false, e) => {
                    let n = sysv_name(name);
                    if e {
                        Cmd::new("update-rc.d")
                            .word(&n)
                            .flag("defaults")
                            .build()
                            .suffix(" >/dev/null 2>&1")
                            .then(Cmd::new("update-rc.d").word(&n).flag("enable"))
                    } else {
                        Cmd::new("update-rc.d").word(&n).flag("disable").build()
                    }
                }
            });
        }
        let status = Value::from_pairs(cur.status.clone());
        if steps.is_empty() {
            return Ok(Plan::Ok(result(Outcome::ok(), args, svc, cur.systemd, status)));
        }
        let act = match state {
            "started" => Action::Create,
            "stopped" => Action::Delete,
            _ => Action::Modify,
        };
        let plan = ServicePlan { steps, systemd: cur.systemd, status };
        let name = name.as_str();
        Ok(Plan::Change(Change::new(plan, act, "service", name).with_diff(format!("service {name}"), before, after)))
    }

    async fn apply(&self, args: &Args, plan: ServicePlan, cx: &ModuleCtx<'_>) -> Result<Outcome, ModuleError> {
        for s in plan.steps {
            let out = cx.exec(s).await?;
            if out.rc != 0 {
                let msg = format!(
                    "Unable to change service {}: {}",
                    args.name.as_deref().unwrap_or_default(),
                    out.stderr_str().trim()
                );
                return Ok(Outcome::failed(msg).with_exec(&out));
            }
        }
        let name = args.name.as_deref().unwrap_or_default();
        Ok(result(Outcome { changed: true, ..Outcome::ok() }, args, name, plan.systemd, plan.status))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;
    use prov_core::testutil::FakeConnection;
    use serde_json::json;

    const SYSTEMD_UP: &str = "init=systemd\nLoadState=loaded\nActiveState=active\nSubState=running\nenabled=yes\n";
    const SYSTEMD_DOWN: &str = "init=systemd\nLoadState=loaded\nActiveState=inactive\nSubState=dead\nenabled=no\n";

    #[tokio::test]
    async fn running_and_enabled_is_ok() {
        let h = fake(FakeConnection::new().on("if [ -d /run/systemd/system ]", 0, SYSTEMD_UP));
        let o = run::<Service>(json!({"name": "nginx", "state": "started", "enabled": true}), &h.ctx()).await;
        assert!(!o.changed && !o.failed, "{o:?}");
        assert_eq!(h.conn.calls().len(), 1);
    }

    #[tokio::test]
    async fn starts_and_enables() {
        let h = fake(FakeConnection::new().on("if [ -d", 0, SYSTEMD_DOWN));
        let o = run::<Service>(json!({"name": "nginx", "state": "started", "enabled": "yes"}), &h.ctx()).await;
        assert!(o.changed && !o.failed);
        assert_eq!(h.conn.calls()[1..], ["systemctl start -- nginx", "systemctl enable -- nginx"]);
        assert_eq!(o.diffs[0].before, "state: stopped\nenabled: no\n");
        assert_eq!(o.diffs[0].after, "state: started\nenabled: yes\n");
    }

    #[tokio::test]
    async fn restarted_always_changes_and_check_mode() {
        let h = fake_check(FakeConnection::new().on("if [ -d", 0, SYSTEMD_UP));
        let o = run::<Service>(json!({"name": "nginx", "state": "restarted"}), &h.ctx()).await;
        assert!(o.changed);
        assert_eq!(h.conn.calls().len(), 1);
    }

    #[tokio::test]
    async fn daemon_reload_runs_first_with_systemd_and_fails_without_it() {
        let h = fake(FakeConnection::new().on("if [ -d", 0, SYSTEMD_UP).on("systemctl daemon-reload", 0, ""));
        let o = run::<Service>(json!({"name": "nginx", "state": "started", "daemon_reload": true}), &h.ctx()).await;
        assert!(!o.changed && !o.failed, "a reload is no change: {o:?}");
        assert_eq!(h.conn.calls()[1], "systemctl daemon-reload");
        assert_eq!(h.conn.calls().len(), 3, "the state is read again after the reload");
        let h = fake_check(FakeConnection::new().on("if [ -d", 0, SYSTEMD_UP));
        run::<Service>(json!({"name": "nginx", "daemon_reload": true}), &h.ctx()).await;
        assert_eq!(h.conn.calls().len(), 1, "no reload in check mode");
        let h = fake(FakeConnection::new().on("if [ -d", 0, "init=sysv\nLoadState=loaded\nstatus=0\nenabled=yes\n"));
        let o = run::<Service>(json!({"name": "cron", "daemon_reload": true}), &h.ctx()).await;
        assert!(
            o.failed
                && o.msg
                    .as_deref()
                    .unwrap_or("")
                    .starts_with("Unsupported parameters for (service) module: daemon_reload")
        );
    }

    /// `service: {daemon_reload: true}` without a name, as geerlingguy.docker writes it:
    /// ansible-core's systemd module reloads and reports no change with `name: null`; without
    /// systemd its service module says "missing required arguments: name" (seen on this machine).
    #[tokio::test]
    async fn daemon_reload_alone_needs_no_name_with_systemd() {
        let h =
            fake(FakeConnection::new().on("test -d /run/systemd/system", 0, "").on("systemctl daemon-reload", 0, ""));
        let o = run::<Service>(json!({"daemon_reload": true}), &h.ctx()).await;
        assert!(!o.changed && !o.failed, "{o:?}");
        assert_eq!(h.conn.calls(), ["test -d /run/systemd/system", "systemctl daemon-reload"]);
        assert_eq!(o.data.get("name").map(|v| v.is_none()), Some(true));
        let h = fake(FakeConnection::new().on("test -d /run/systemd/system", 1, ""));
        let o = run::<Service>(json!({"daemon_reload": true}), &h.ctx()).await;
        assert!(o.failed && o.msg.as_deref() == Some("missing required arguments: name"), "{o:?}");
        let a: Args = prov_core::module::args_from_value(&j(json!({"state": "started"}))).expect("args");
        assert!(Service::check_args(&a).is_err(), "a name is needed for the rest");
    }

    /// The fields ansible-core's service module registers without systemd (seen in
    /// conformance/returns_vm on a Debian container): `name`, `state` when asked (restarted
    /// shows as `started`), `enabled` only when given; no `status`.
    #[tokio::test]
    async fn sysv_results_have_the_fields_ansible_cores_service_module_registers() {
        let running = "init=sysv\nLoadState=loaded\nstatus=0\nenabled=yes\n";
        let keys = data_keys;
        let h = fake(FakeConnection::new().on("if [ -d", 0, running));
        let o = run::<Service>(json!({"name": "cron", "state": "started"}), &h.ctx()).await;
        assert!(!o.changed);
        assert_eq!(keys(&o), ["name", "state"]);
        let o = run::<Service>(json!({"name": "cron", "state": "restarted"}), &h.ctx()).await;
        assert_eq!(
            (keys(&o), o.data["state"].as_str()),
            (vec!["name".to_string(), "state".to_string()], Some("started"))
        );
        let o = run::<Service>(json!({"name": "cron", "enabled": false}), &h.ctx()).await;
        assert!(o.changed);
        assert_eq!(keys(&o), ["enabled", "name"]);
    }

    #[tokio::test]
    async fn sysv_stop_and_disable() {
        let h = fake(FakeConnection::new().on("if [ -d", 0, "init=sysv\nLoadState=loaded\nstatus=0\nenabled=yes\n"));
        let o = run::<Service>(json!({"name": "cron", "state": "stopped", "enabled": false}), &h.ctx()).await;
        assert!(o.changed);
        let calls = h.conn.calls();
        assert_eq!(
            calls[1],
            "if command -v service >/dev/null 2>&1; then service cron stop; else /etc/init.d/cron stop; fi"
        );
        assert_eq!(calls[2], "update-rc.d cron disable");
    }

    #[tokio::test]
    async fn missing_service_and_failure() {
        let h =
            fake(FakeConnection::new().on("if [ -d", 0, "init=systemd\nLoadState=not-found\nActiveState=inactive\n"));
        let o = run::<Service>(json!({"name": "nope", "state": "started"}), &h.ctx()).await;
        assert!(o.failed && o.msg.unwrap().contains("Could not find"));
        let h = fake(FakeConnection::new().on("if [ -d", 0, SYSTEMD_DOWN).on("systemctl start", 1, ""));
        let o = run::<Service>(json!({"name": "x", "state": "started"}), &h.ctx()).await;
        assert!(o.failed && !o.changed);
        assert!(run_err::<Service>(json!({"name": "x"}), &h.ctx()).await.contains("give"));
    }

    #[tokio::test]
    async fn a_service_name_that_is_a_path_or_an_option_is_refused_before_the_probe() {
        let h = fake(FakeConnection::new().on("", 0, SYSTEMD_UP));
        for (name, using) in [("../../tmp/evil", "sysvinit"), ("-rf", "auto"), ("a;b c", "systemd"), ("..", "service")]
        {
            let e = run_err::<Service>(json!({"name": name, "state": "started", "use": using}), &h.ctx()).await;
            assert!(e.contains("not a valid service name"), "{name}: {e}");
        }
        assert!(h.conn.calls().is_empty(), "{:?}", h.conn.calls());
    }

    #[tokio::test]
    async fn local_probe_runs() {
        let h = LocalHost::new();
        let name = unit("surely-not-a-service").expect("a service name");
        let out = h.ctx().exec(probe_command(&name, "auto")).await.unwrap();
        assert_eq!(out.rc, 0, "{}", out.stderr_str());
        assert!(!parse(&out.stdout_str()).found, "{}", out.stdout_str());
    }
}
