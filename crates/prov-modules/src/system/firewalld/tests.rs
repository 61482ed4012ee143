use super::*;
use crate::testing::*;
use prov_core::module::args_from_value;
use serde_json::json;

fn parse(v: serde_json::Value) -> Result<Args, String> {
    let a: Args = args_from_value(&j(v))?;
    Firewalld::check_args(&a)?;
    Ok(a)
}

#[test]
fn argument_errors_are_ansibles() {
    let err = |v| parse(v).expect_err("refused");
    assert_eq!(
        err(json!({"service": "http", "port": "80/tcp", "state": "enabled"})),
        format!("parameters are mutually exclusive: {EXCLUSIVE}")
    );
    assert_eq!(
        err(json!({"interface": "eth0", "state": "enabled"})),
        "missing parameter(s) required by 'interface': zone"
    );
    assert_eq!(err(json!({"target": "DROP", "state": "present"})), "missing parameter(s) required by 'target': zone");
    // ansible.posix checks neither port_forward's keys nor its proto (firewalld does).
    parse(json!({"port_forward": [{"port": 80, "proto": "sctp", "toport": 8080, "x": 1}], "state": "enabled"}))
        .expect("accepted");
    assert!(parse(json!({"service": "http"})).is_err(), "state is required");
    assert!(err(json!({"service": "--permanent", "state": "enabled"})).contains("starts with `-`"));
}

#[test]
fn the_checks_before_any_transaction_are_ansibles() {
    let p = |v, offline| prepare(&parse(v).expect("valid"), offline);
    assert_eq!(
        p(json!({"port": "80", "state": "enabled"}), false).err().as_deref(),
        Some("improper port format (missing protocol?)")
    );
    assert_eq!(
        p(json!({"service": "http", "state": "present"}), false).err().as_deref(),
        Some("absent and present state can only be used in zone level operations")
    );
    assert_eq!(
        p(json!({"service": "http", "state": "enabled", "offline": true}), true).err().as_deref(),
        Some("offline cannot be enabled unless permanent changes are allowed")
    );
    assert_eq!(
        p(json!({"service": "http", "state": "enabled"}), true).err().as_deref(),
        Some(
            "firewall is not currently running, unable to perform immediate actions without a running firewall daemon"
        )
    );
    let t =
        p(json!({"service": "http", "state": "enabled", "permanent": true, "offline": true, "immediate": true}), true)
            .expect("ok");
    assert!(t.permanent && !t.immediate, "offline: no run-time side");
    let t = p(json!({"masquerade": false, "state": "enabled"}), false).expect("ok");
    assert_eq!((t.item, t.want_on, t.immediate), (Some(Item::Masquerade), false, true));
    let t = p(json!({"zone": "z1", "state": "absent", "permanent": true}), false).expect("ok");
    assert_eq!((t.item, t.want_on), (Some(Item::Zone), false));
    assert_eq!(
        p(json!({"port_forward": [{"port": 80, "proto": "tcp"}], "state": "enabled"}), false).err().as_deref(),
        Some("toport must be specified for port forward")
    );
}

#[test]
fn commands_attach_each_value_to_its_option() {
    let item = Item::RichRule("rule family=ipv4 source address=10.0.0.0/8 accept".into());
    let sh = fw(Tool::Online, true, Some("public"), &set_words(&item, true, true, 30, "public"));
    assert_eq!(
        sh.as_str(),
        "LANG=C firewall-cmd --permanent --zone=public '--add-rich-rule=rule family=ipv4 source address=10.0.0.0/8 accept'"
    );
    let fwd =
        Item::ForwardPort { port: "80".into(), proto: "tcp".into(), toport: "8080".into(), toaddr: String::new() };
    assert_eq!(
        set_words(&fwd, true, false, 30, "z"),
        ["--add-forward-port=port=80:proto=tcp:toport=8080", "--timeout=30"]
    );
    assert_eq!(set_words(&Item::Target(Target::Drop), false, true, 0, "z"), ["--set-target=default"]);
    assert_eq!(set_words(&Item::Zone, true, true, 0, "z1"), ["--new-zone=z1"]);
    assert_eq!(set_words(&Item::Interface("eth1".into()), true, true, 0, "z"), ["--change-interface=eth1"]);
    let sh = fw(Tool::Offline, true, Some("p"), &["--list-services".into()]);
    assert_eq!(sh.as_str(), "LANG=C firewall-offline-cmd --zone=p --list-services");
}
