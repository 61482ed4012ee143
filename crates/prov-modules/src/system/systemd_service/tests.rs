use super::*;
use crate::testing::*;
use prov_core::testutil::FakeConnection;
use serde_json::json;

/// An excerpt of `systemctl show nginx` (systemd 252, Debian 12) for a running, enabled unit,
/// as the probe prints it: properties, then `is-enabled`'s answer.
fn probe(active: &str, is_enabled: &str, is_enabled_rc: i32) -> String {
    format!(
        "@@show\nType=forking\nRestart=on-failure\nMainPID=1234\n\
ExecStart={{ path=/usr/sbin/nginx ; argv[]=/usr/sbin/nginx -g daemon on; master_process on; ; ignore_errors=no ; start_time=[Thu 2026-12-03 10:00:00 UTC] ; stop_time=[n/a] ; pid=1233 ; code=exited ; status=0 }}\n\
Id=nginx.service\nNames=nginx.service\nDescription=A high performance web server and a reverse proxy server\n\
LoadState=loaded\nActiveState={active}\nSubState=running\nFragmentPath=/lib/systemd/system/nginx.service\n\
UnitFileState={is_enabled}\nCanReload=yes\n@@show-rc 0\n@@is-enabled\n{is_enabled}\n@@is-enabled-rc {is_enabled_rc}\n@@list-unit-files-rc 0\n"
    )
}

/// `systemctl show nope` on a unit systemd does not know: rc 0, LoadState=not-found; is-enabled
/// prints nothing on stdout and fails.
const NOT_FOUND: &str = "@@show\nId=nope.service\nNames=nope.service\nLoadState=not-found\nActiveState=inactive\n\
LoadError=org.freedesktop.systemd1.NoSuchUnit \"Unit nope.service not found.\"\n@@show-rc 0\n@@is-enabled\n\
@@is-enabled-rc 1\n@@list-unit-files-rc 1\n";

const PROBE: &str = "command -v systemctl";

#[tokio::test]
async fn running_and_enabled_is_ok_and_registers_the_properties() {
    let h = fake(FakeConnection::new().on(PROBE, 0, &probe("active", "enabled", 0)));
    let o = run::<SystemdService>(json!({"name": "nginx", "state": "started", "enabled": true}), &h.ctx()).await;
    assert!(!o.changed && !o.failed, "{o:?}");
    assert_eq!(h.conn.calls().len(), 1);
    assert_eq!(o.data["name"].to_string(), "nginx");
    assert_eq!(o.data["state"].to_string(), "started");
    assert!(o.data["enabled"].is_true());
    let status = &o.data["status"];
    assert_eq!(status.get_attr("ActiveState").unwrap().to_string(), "active");
    assert_eq!(
        status.get_attr("Description").unwrap().to_string(),
        "A high performance web server and a reverse proxy server"
    );
    assert!(status.get_attr("ExecStart").unwrap().to_string().starts_with("{ path=/usr/sbin/nginx"));
}

#[tokio::test]
async fn enables_before_it_starts_as_ansible_does() {
    let h = fake(FakeConnection::new().on(PROBE, 0, &probe("inactive", "disabled", 1)));
    let o = run::<SystemdService>(json!({"service": "nginx", "state": "started", "enabled": "yes"}), &h.ctx()).await;
    assert!(o.changed && !o.failed, "{o:?}");
    assert_eq!(h.conn.calls()[1..], ["systemctl enable -- nginx", "systemctl start -- nginx"]);
    assert_eq!(o.data["state"].to_string(), "started");
    assert!(o.data["enabled"].is_true());
}

#[tokio::test]
async fn restarted_and_reloaded_always_change_and_register_started() {
    for (state, verb) in [("restarted", "restart"), ("reloaded", "reload")] {
        let h = fake(FakeConnection::new().on(PROBE, 0, &probe("active", "enabled", 0)));
        let o = run::<SystemdService>(json!({"unit": "nginx", "state": state}), &h.ctx()).await;
        assert!(o.changed, "{o:?}");
        assert_eq!(h.conn.calls()[1], format!("systemctl {verb} -- nginx"));
        assert_eq!(o.data["state"].to_string(), "started");
    }
    let h = fake(FakeConnection::new().on(PROBE, 0, &probe("inactive", "enabled", 0)));
    run::<SystemdService>(json!({"name": "nginx", "state": "reloaded"}), &h.ctx()).await;
    assert_eq!(h.conn.calls()[1], "systemctl start -- nginx", "a unit that is not running is started");
}

#[tokio::test]
async fn stops_a_deactivating_unit_and_check_mode_runs_nothing() {
    let h = fake(FakeConnection::new().on(PROBE, 0, &probe("deactivating", "enabled", 0)));
    let o = run::<SystemdService>(json!({"name": "nginx", "state": "stopped"}), &h.ctx()).await;
    assert!(o.changed);
    assert_eq!(h.conn.calls()[1], "systemctl stop -- nginx");
    let h = fake_check(FakeConnection::new().on(PROBE, 0, &probe("active", "enabled", 0)));
    let o = run::<SystemdService>(json!({"name": "nginx", "state": "stopped", "enabled": false}), &h.ctx()).await;
    assert!(o.changed);
    assert_eq!(h.conn.calls().len(), 1, "{:?}", h.conn.calls());
    assert_eq!(o.diffs[0].before, "enabled: true\nstate: started\n");
}

#[tokio::test]
async fn is_enabled_answers_that_ansible_does_not_count_as_enabled() {
    for answer in ["enabled-runtime", "indirect", "alias"] {
        let h = fake(FakeConnection::new().on(PROBE, 0, &probe("active", answer, 0)));
        let o = run::<SystemdService>(json!({"name": "nginx", "enabled": true}), &h.ctx()).await;
        assert!(o.changed, "{answer}");
        assert_eq!(h.conn.calls()[1], "systemctl enable -- nginx");
    }
    let h = fake(FakeConnection::new().on(PROBE, 0, &probe("active", "static", 0)));
    let o = run::<SystemdService>(json!({"name": "nginx", "enabled": true}), &h.ctx()).await;
    assert!(!o.changed, "static is enabled for Ansible");
}

#[tokio::test]
async fn masks_and_unmasks() {
    let h = fake(FakeConnection::new().on(PROBE, 0, &probe("inactive", "masked", 1)));
    let o = run::<SystemdService>(json!({"name": "nginx", "masked": false}), &h.ctx()).await;
    assert!(o.changed);
    assert_eq!(h.conn.calls()[1], "systemctl unmask -- nginx");
    let h = fake(FakeConnection::new().on(PROBE, 0, &probe("inactive", "masked", 1)));
    let o = run::<SystemdService>(json!({"name": "nginx", "masked": true}), &h.ctx()).await;
    assert!(!o.changed);
    assert!(o.data.get("enabled").is_none() && o.data.get("state").is_none());
}

#[tokio::test]
async fn a_unit_nobody_knows_fails_as_ansible_does() {
    let h = fake(FakeConnection::new().on(PROBE, 0, NOT_FOUND));
    let o = run::<SystemdService>(json!({"name": "nope", "state": "started"}), &h.ctx()).await;
    assert!(o.failed);
    assert_eq!(o.msg.as_deref(), Some("Could not find the requested service nope: host"));
    let h = fake(FakeConnection::new().on(PROBE, 0, NOT_FOUND));
    let o = run::<SystemdService>(json!({"name": "nope", "masked": true}), &h.ctx()).await;
    assert!(o.changed, "a unit that is not installed can be masked");
    let h = fake(FakeConnection::new().on(PROBE, 0, "@@nosystemctl\n"));
    let o = run::<SystemdService>(json!({"name": "nope", "state": "started"}), &h.ctx()).await;
    assert!(o.failed && o.msg.unwrap().contains("systemctl"));
    let bad = probe("inactive", "disabled", 1).replace(
        "LoadState=loaded\n",
        "LoadState=loaded\nLoadError=org.freedesktop.systemd1.BadUnitSetting \"Unit x has a bad unit file setting.\"\n",
    );
    let h = fake(FakeConnection::new().on(PROBE, 0, &bad));
    let o = run::<SystemdService>(json!({"name": "nginx", "state": "started"}), &h.ctx()).await;
    assert!(o.msg.unwrap().starts_with("Error loading unit file 'nginx': org.freedesktop.systemd1.BadUnitSetting"));
}

#[tokio::test]
async fn daemon_reload_runs_first_is_no_change_and_not_in_check_mode() {
    let h = fake(FakeConnection::new());
    let o = run::<SystemdService>(json!({"daemon_reload": true}), &h.ctx()).await;
    assert!(!o.changed && !o.failed, "{o:?}");
    assert_eq!(h.conn.calls(), ["systemctl daemon-reload"]);
    assert!(o.data["name"].is_none());
    let h = fake_check(FakeConnection::new());
    let o = run::<SystemdService>(json!({"daemon-reload": true}), &h.ctx()).await;
    assert!(!o.changed);
    assert!(h.conn.calls().is_empty());
    let h = fake(FakeConnection::new().on(PROBE, 0, &probe("active", "enabled", 0)));
    let o =
        run::<SystemdService>(json!({"name": "nginx", "state": "restarted", "daemon_reload": true}), &h.ctx()).await;
    assert!(o.changed);
    let calls = h.conn.calls();
    assert_eq!(calls.len(), 4, "{calls:?}");
    assert_eq!((calls[1].as_str(), calls[3].as_str()), ("systemctl daemon-reload", "systemctl restart -- nginx"));
    assert!(calls[2].starts_with(PROBE), "the unit is read again after the reload");
    let h = fake(FakeConnection::new().on("systemctl daemon-reexec", 1, ""));
    let o = run::<SystemdService>(json!({"daemon_reexec": true}), &h.ctx()).await;
    assert!(o.failed && o.msg.unwrap().starts_with("failure 1 during daemon-reexec"));
}

#[tokio::test]
async fn scope_no_block_and_force_are_options_of_every_call() {
    let h = fake(FakeConnection::new().on(PROBE, 0, &probe("inactive", "enabled", 0)));
    let o = run::<SystemdService>(
        json!({"name": "app", "state": "started", "scope": "user", "no_block": true, "force": true}),
        &h.ctx(),
    )
    .await;
    assert!(o.changed);
    assert!(h.conn.calls()[0].contains("systemctl --user --no-block --force show -- app"), "{}", h.conn.calls()[0]);
    assert_eq!(
        h.conn.calls()[1],
        ": \"${XDG_RUNTIME_DIR:=/run/user/$(id -u)}\"; export XDG_RUNTIME_DIR; systemctl --user --no-block --force start -- app"
    );
}

/// What ansible-core 2.19 said on this machine, where PID 1 is not systemd.
const NOT_BOOTED: &str = "System has not been booted with systemd as init system (PID 1). Can't operate.\nFailed to connect to bus: Host is down";

#[tokio::test]
async fn failures_carry_systemctl_s_words() {
    let out = format!("@@show\n{NOT_BOOTED}\n@@show-rc 1\n@@is-enabled\n@@is-enabled-rc 1\n@@list-unit-files-rc 1\n");
    let h = fake(FakeConnection::new().on(PROBE, 0, &out));
    let o = run::<SystemdService>(json!({"name": "nginx", "state": "started"}), &h.ctx()).await;
    assert_eq!((o.failed, o.msg.as_deref()), (true, Some(NOT_BOOTED)));
    let h = fake(FakeConnection::new().on(PROBE, 0, &probe("active", "enabled", 0)));
    let o = run::<SystemdService>(json!({"name": "nginx"}), &h.ctx()).await;
    assert!(!o.changed && !o.failed && o.data.contains_key("status"));
    let h = fake(FakeConnection::new().on(PROBE, 0, &probe("inactive", "enabled", 0)).on("systemctl start", 1, ""));
    let o = run::<SystemdService>(json!({"name": "nginx", "state": "started"}), &h.ctx()).await;
    assert!(o.failed && !o.changed);
    assert!(o.msg.unwrap().starts_with("Unable to start service nginx: "));
}

#[test]
fn arguments_ansible_refuses() {
    let check = |v| SystemdService::check_args(&prov_core::module::args_from_value(&j(v)).expect("args"));
    assert!(check(json!({"name": "x"})).is_ok(), "ansible-core 2.19 accepts it (daemon_reload defaults to false)");
    assert_eq!(check(json!({"state": "started"})).unwrap_err(), "missing parameter(s) required by 'state': name");
    assert_eq!(
        check(json!({"name": "getty@*", "state": "started"})).unwrap_err(),
        "This module does not currently support using glob patterns, found '*' in service name: getty@*"
    );
    assert!(prov_core::module::args_from_value::<Args>(&j(json!({"name": "x", "state": "running"}))).is_err());
    assert!(check(json!({"name": "x", "daemon_reexec": "yes"})).is_ok());
}

#[test]
fn show_values_span_lines_only_for_exec_properties() {
    let p = parse_show(
        "ExecStart={ path=/bin/x ; argv[]=/bin/x\n  -a ; status=0/0 }\nDescription={ not closed\nId=x.service\n",
    );
    assert_eq!(p["ExecStart"], "{ path=/bin/x ; argv[]=/bin/x\n  -a ; status=0/0 }");
    assert_eq!(p["Description"], "{ not closed");
    assert_eq!(p["Id"], "x.service");
}

#[test]
fn the_unit_name_is_an_operand_and_a_quoted_word() {
    let a: Args =
        prov_core::module::args_from_value(&j(json!({"name": "-x; touch /tmp/p", "state": "started"}))).expect("args");
    let c = probe_command(&a, "-x; touch /tmp/p");
    assert!(c.as_str().contains("systemctl show -- '-x; touch /tmp/p'"), "{}", c.as_str());
    assert!(c.as_str().contains("/etc/init.d/'-x; touch /tmp/p'"), "{}", c.as_str());
    assert_eq!(step_command(&a, "start", "-x").as_str(), "systemctl start -- -x");
}

#[tokio::test]
async fn the_systemd_name_is_the_same_module() {
    let h = fake(FakeConnection::new().on(PROBE, 0, &probe("inactive", "enabled", 0)));
    let o = run::<super::super::systemd::Systemd>(json!({"name": "nginx", "state": "started"}), &h.ctx()).await;
    assert!(o.changed);
    assert_eq!(h.conn.calls()[1], "systemctl start -- nginx");
}

#[tokio::test]
async fn local_probe_runs_without_systemd() {
    let h = LocalHost::new();
    let a: Args =
        prov_core::module::args_from_value(&j(json!({"name": "surely-not-a-unit", "state": "started"}))).expect("args");
    let out = h.ctx().exec(probe_command(&a, "surely-not-a-unit")).await.expect("runs");
    assert_eq!(out.rc, 0, "{}", out.stderr_str());
    let p = parse_probe(&out.stdout_str());
    let found = p.systemctl && read_unit(&p, &a, "surely-not-a-unit").is_ok_and(|u| u.found);
    assert!(!found, "{}", out.stdout_str());
}
