use super::*;
use crate::testing::*;
use prov_core::module::args_from_value;
use prov_core::testutil::FakeConnection;
use serde_json::json;

/// A Debian host without systemd whose /etc/hostname (mode 755) says `old`.
fn debian() -> FakeConnection {
    FakeConnection::new().on("if command -v systemctl", 0, "no\x00755\x00old\n").on(
        "s() {",
        0,
        "\n@@prov:os_release\nID=debian\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\n",
    )
}

/// A systemd host whose transient name is `cur` and static name `perm`.
fn systemd() -> FakeConnection {
    FakeConnection::new()
        .on("if command -v systemctl", 0, "systemd\x00644\x00perm\n")
        .on("hostnamectl --transient status", 0, "cur\n")
        .on("hostnamectl --static status", 0, "perm\n")
}

#[tokio::test]
async fn on_the_debian_family_without_systemd_only_etc_hostname_is_written() {
    let h = fake(debian());
    let o = run::<Hostname>(json!({"name": "web01.example.org"}), &h.ctx()).await;
    assert!(o.changed && !o.failed, "{o:?}");
    // Written in place (a container's /etc/hostname is a bind mount: a rename over it fails
    // with EBUSY, seen in conformance/returns_vm), so its mode stays.
    assert!(
        h.conn.calls().iter().any(|c| c == "printf '%s\\n' web01.example.org > /etc/hostname"),
        "{:?}",
        h.conn.calls()
    );
    assert!(h.conn.files.lock().unwrap().is_empty(), "no upload");
    assert!(!h.conn.calls().iter().any(|c| c.starts_with("hostname") || c.starts_with("hostnamectl")));
    assert_eq!(o.data["name"].as_str(), Some("web01.example.org"));
    let facts = &o.data["ansible_facts"];
    assert_eq!(facts.get_attr("ansible_hostname").unwrap().as_str(), Some("web01"));
    assert_eq!(facts.get_attr("ansible_nodename").unwrap().as_str(), Some("web01.example.org"));
    assert!(o.host_facts.iter().any(|(k, v)| k == "hostname" && v.as_str() == Some("web01")));
}

#[tokio::test]
async fn the_same_name_changes_nothing_and_check_mode_shows_ansibles_diff() {
    let h = fake(debian());
    let o = run::<Hostname>(json!({"name": "old"}), &h.ctx()).await;
    assert!(!o.changed && !o.failed, "{o:?}");
    assert!(h.conn.files.lock().unwrap().is_empty());
    let h = fake_check(debian());
    let o = run::<Hostname>(json!({"name": "new"}), &h.ctx()).await;
    assert!(o.changed, "{o:?}");
    assert!(h.conn.files.lock().unwrap().is_empty(), "check mode writes nothing");
    assert_eq!((o.diffs[0].before.as_str(), o.diffs[0].after.as_str()), ("hostname = old\n", "hostname = new\n"));
}

#[tokio::test]
async fn with_systemd_the_static_name_is_set_before_the_transient_one() {
    let h = fake(systemd());
    let o = run::<Hostname>(json!({"name": "-n"}), &h.ctx()).await;
    assert!(o.changed && !o.failed, "{o:?}");
    let sets: Vec<String> = h.conn.calls().into_iter().filter(|c| c.contains("set-hostname")).collect();
    assert_eq!(
        sets,
        ["hostnamectl --pretty --static set-hostname -- -n", "hostnamectl --transient set-hostname -- -n"]
    );
    assert_eq!(o.diffs[0].before, "hostname = cur\n", "the current name when it differs");
    let h = fake(systemd());
    let o = run::<Hostname>(json!({"name": "cur"}), &h.ctx()).await;
    assert!(o.changed, "{o:?}");
    assert_eq!(o.diffs[0].before, "hostname = perm\n", "else the permanent one");
    let long = "a".repeat(65);
    let o = run::<Hostname>(json!({"name": long}), &fake(systemd()).ctx()).await;
    let msg = "name cannot be longer than 64 characters on systemd servers, try a shorter name";
    assert_eq!(o.msg.as_deref(), Some(msg));
}

#[tokio::test]
async fn use_debian_is_hostnamectl_and_its_failure_is_reported_as_ansible_does() {
    let conn = debian().on("hostnamectl --transient status", 1, "");
    let h = fake(conn);
    let o = run::<Hostname>(json!({"name": "x", "use": "debian"}), &h.ctx()).await;
    assert!(o.failed, "{o:?}");
    assert_eq!(o.msg.as_deref(), Some("Command failed rc=1, out=, err="));
}

#[tokio::test]
async fn other_systems_are_refused_clearly() {
    let conn = FakeConnection::new().on("if command -v systemctl", 0, "no\x00").on(
        "s() {",
        0,
        "\n@@prov:os_release\nID=alpine\nNAME=\"Alpine Linux\"\n",
    );
    let o = run::<Hostname>(json!({"name": "x"}), &fake(conn).ctx()).await;
    assert!(
        o.failed && o.msg.as_deref().is_some_and(|m| m.contains("(Alpine)") && m.contains("use: systemd")),
        "{o:?}"
    );
}

#[test]
fn arguments_are_checked_before_connecting() {
    let check = |v: serde_json::Value| args_from_value::<Args>(&j(v)).and_then(|a| Hostname::check_args(&a));
    assert!(check(json!({"name": "web01", "use": "systemd"})).is_ok());
    assert!(check(json!({"name": "web01", "use": "debian"})).is_ok());
    assert!(check(json!({"name": "web01", "use": "generic"})).unwrap_err().contains("Module failed."));
    assert!(check(json!({"name": "web01", "use": "redhat"})).unwrap_err().contains("`use: redhat`"));
    assert!(check(json!({"name": "web01", "use": "nope"})).unwrap_err().contains("unknown variant"));
    assert!(check(json!({"name": "a b"})).is_err());
    assert!(check(json!({"name": "a", "strategy": "x"})).unwrap_err().contains("unknown field"));
}
