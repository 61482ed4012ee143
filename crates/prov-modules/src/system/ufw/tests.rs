use super::*;
use crate::testing::*;
use prov_core::module::args_from_value;

fn parse(v: serde_json::Value) -> Result<Args, String> {
    let a: Args = args_from_value(&j(v))?;
    Ufw::check_args(&a)?;
    Ok(a)
}

fn args(v: serde_json::Value) -> Args {
    parse(v).expect("valid arguments")
}

fn shown(v: serde_json::Value) -> String {
    let a = args(v);
    let words = rule_words(&a, a.rule.expect("a rule"), true).expect("rule words");
    UfwCmd(words).shown("/usr/sbin/ufw")
}

// The command lines community.general.ufw (ansible 12.3) registered in `commands` for the same
// tasks, on a Debian 12 container with ufw 0.36.2.
#[test]
fn rule_command_lines_are_registered_as_community_general_registers_them() {
    use serde_json::json;
    let cases = [
        (json!({"rule": "allow", "port": "22", "proto": "tcp"}), "allow from any to any port 22 proto tcp"),
        (
            json!({"rule": "deny", "proto": "udp", "src": "10.0.0.0/8", "port": "514", "comment": "Block syslog"}),
            "deny from 10.0.0.0/8 to any port 514 proto udp comment 'Block syslog'",
        ),
        (json!({"rule": "allow", "name": "OpenSSH"}), "allow from any to any app 'OpenSSH'"),
        (
            json!({"rule": "allow", "interface": "eth0", "direction": "in", "proto": "udp", "src": "1.2.3.5",
                   "from_port": "5469", "dest": "1.2.3.4", "to_port": "5469"}),
            "allow in on eth0 from 1.2.3.5 port 5469 to 1.2.3.4 port 5469 proto udp",
        ),
        (
            json!({"rule": "limit", "port": "ssh", "proto": "tcp", "log": true}),
            "limit log from any to any port ssh proto tcp",
        ),
        (json!({"rule": "allow", "port": 8443}), "allow from any to any port 8443"),
        (
            json!({"rule": "allow", "route": true, "interface_in": "eth0", "interface_out": "eth0"}),
            "allow in on eth0 out on eth0 from any to any",
        ),
    ];
    for (a, want) in cases {
        assert_eq!(shown(a.clone()), format!("/usr/sbin/ufw {want}"), "{a}");
    }
}

#[test]
fn the_command_run_passes_each_word_as_one_quoted_argument() {
    let a = args(serde_json::json!({"rule": "deny", "src": "10.0.0.0/8", "comment": "Block syslog; rm -rf /"}));
    let mut words = vec![Part::Lit("route"), Part::Lit("insert"), Part::Num(-1)];
    words.extend(rule_words(&a, RuleAction::Deny, true).expect("words"));
    let sh = UfwCmd(words).sh("/usr/sbin/ufw");
    assert_eq!(
        sh.as_str(),
        "LANG=C /usr/sbin/ufw route insert -1 deny from 10.0.0.0/8 to any comment 'Block syslog; rm -rf /'"
    );
}

#[test]
fn argument_errors_are_ansibles() {
    use serde_json::json;
    let err = |v| parse(v).expect_err("refused");
    assert_eq!(
        err(json!({"rule": "allow", "name": "OpenSSH", "proto": "tcp"})),
        "parameters are mutually exclusive: name|proto|logging"
    );
    assert_eq!(err(json!({"logging": "on", "proto": "tcp"})), "parameters are mutually exclusive: name|proto|logging");
    assert_eq!(
        err(json!({"rule": "allow", "direction": "in", "interface_in": "eth0"})),
        "parameters are mutually exclusive: direction|interface_in"
    );
    assert_eq!(err(json!({"direction": "in"})), "one of the following is required: state, default, rule, logging");
    assert_eq!(
        err(json!({"rule": "allow", "interface": "eth0"})),
        "missing parameter(s) required by 'interface': direction"
    );
    assert!(parse(json!({"state": "on"})).is_err(), "not a choice");
    assert!(parse(json!({"policy": "deny", "direction": "incoming"})).is_ok());
}

// What ansible-core would split into more words of the rule, or what ufw itself would read as
// an option (`--rootdir=`, `--dry-run` anywhere on its command line), never reaches ufw.
#[test]
fn values_that_would_become_more_words_or_ufw_options_are_refused() {
    use serde_json::json;
    for bad in [
        json!({"rule": "allow", "src": "1.2.3.4 port 22"}),
        json!({"rule": "allow", "port": "--rootdir=/tmp/x"}),
        json!({"rule": "allow", "port": "--dry-run"}),
        json!({"rule": "allow", "direction": "in", "interface": "-x"}),
        json!({"rule": "allow", "dest": "any\nallow"}),
        json!({"rule": "allow", "name": "Open'SSH"}),
        json!({"rule": "allow", "comment": "--datadir=/x"}),
        json!({"rule": "allow", "comment": "it's"}),
        json!({"rule": "allow", "comment": "a\u{0}b"}),
    ] {
        let e = parse(bad.clone()).expect_err("refused");
        assert!(e.starts_with("ufw: `"), "{bad}: {e}");
    }
}

#[test]
fn logging_is_judged_from_the_status_as_ansible_judges_it() {
    let on_low = "Status: active\nLogging: on (low)\n";
    assert!(!logging_changes(on_low, Logging::On));
    assert!(!logging_changes(on_low, Logging::Low));
    assert!(logging_changes(on_low, Logging::Medium));
    assert!(logging_changes(on_low, Logging::Off));
    let off = "Status: active\nLogging: off\n";
    assert!(!logging_changes(off, Logging::Off));
    assert!(logging_changes(off, Logging::On));
    assert!(logging_changes(off, Logging::Low));
    // Inactive: the status says nothing of logging, so any value is a change.
    assert!(logging_changes("Status: inactive\n", Logging::Off));
}

#[test]
fn default_policies_are_judged_from_the_status_in_check_mode() {
    let s = "Default: deny (incoming), allow (outgoing), disabled (routed)\n";
    assert!(!default_changes(s, Policy::Deny, None));
    assert!(default_changes(s, Policy::Allow, Some(Direction::Incoming)));
    assert!(!default_changes(s, Policy::Allow, Some(Direction::Outgoing)));
    assert!(default_changes(s, Policy::Reject, Some(Direction::Outgoing)));
    assert!(!default_changes(s, Policy::Allow, Some(Direction::Routed)), "disabled routing is no change");
    assert!(default_changes("Status: inactive\n", Policy::Deny, None));
}

#[test]
fn insert_positions_relative_to_ipv4_or_ipv6_rules() {
    let numbered = "Status: active\n\n     To                         Action      From\n     --                         ------      ----\n\
[ 1] 22/tcp                     ALLOW IN    Anywhere\n\
[ 2] 80/tcp                     ALLOW IN    Anywhere\n\
[ 3] 22/tcp (v6)                ALLOW IN    Anywhere (v6)\n\
[ 4] 80/tcp (v6)                ALLOW IN    Anywhere (v6)\n";
    assert_eq!(insert_position(5, RelativeTo::Zero, numbered), Some(5), "absolute: as given");
    assert_eq!(insert_position(0, RelativeTo::FirstIpv4, numbered), Some(1));
    assert_eq!(insert_position(-1, RelativeTo::LastIpv4, numbered), Some(1));
    assert_eq!(insert_position(0, RelativeTo::FirstIpv6, numbered), Some(3));
    assert_eq!(insert_position(0, RelativeTo::LastIpv6, numbered), Some(4));
    assert_eq!(insert_position(1, RelativeTo::LastIpv6, numbered), None, "past the last rule: appended");
    assert_eq!(insert_position(0, RelativeTo::FirstIpv6, "Status: inactive\n"), None);
    assert_eq!(insert_position(1, RelativeTo::LastIpv4, "Status: inactive\n"), None);
}

#[test]
fn a_dry_run_is_a_change_when_its_rules_differ_from_the_current_ones() {
    let a = |v| args(v);
    let pre = "### tuple ### allow tcp 22 0.0.0.0/0 any 0.0.0.0/0 in\n### tuple ### allow tcp 22 ::/0 any ::/0 in\n";
    let ssh = a(serde_json::json!({"rule": "allow", "port": "22", "proto": "tcp"}));
    assert!(!dry_run_changes(&ssh, pre, "Skipping adding existing rule\nSkipping adding existing rule (v6)\n"));
    let dry = format!("*filter\n:ufw-user-input - [0:0]\n{pre}COMMIT\n");
    assert!(!dry_run_changes(&ssh, pre, &dry));
    let more = format!("{dry}### tuple ### allow tcp 80 0.0.0.0/0 any 0.0.0.0/0 in\n");
    assert!(dry_run_changes(&ssh, pre, &more));
    // An IPv4 source: only the IPv4 rules are compared (a dry run shows one family's file).
    let v4 = a(serde_json::json!({"rule": "allow", "src": "10.0.0.0/8"}));
    let v4_only = "### tuple ### allow tcp 22 0.0.0.0/0 any 0.0.0.0/0 in\n";
    assert!(!dry_run_changes(&v4, pre, v4_only));
    let v6 = a(serde_json::json!({"rule": "deny", "src": "2001:db8::/32"}));
    assert!(!dry_run_changes(&v6, pre, "### tuple ### allow tcp 22 ::/0 any ::/0 in\n"));
    assert!(dry_run_changes(&v6, pre, "### tuple ### deny any any ::/0 any 2001:db8::/32 in\n"));
}

#[test]
fn addresses_are_recognised_as_the_python_patterns_recognise_them() {
    for v4 in ["10.0.0.0/8", "1.2.3.4", "255.255.255.255", "01.2.3.4", "1.2.3.456"] {
        assert!(V4_START.is_match(v4), "{v4}");
    }
    for not in ["any", "1.2.3", "256.1.1.1", "1.300.1.1", "::1", "012.1.1.1"] {
        assert!(!V4_START.is_match(not), "{not}");
    }
    for v6 in ["::", "::1", "2001:db8::/32", "fe80::1%eth0", "1:2:3:4:5:6:7:8", "::ffff:10.0.0.1", "2001:db8::"] {
        assert!(V6_START.is_match(v6), "{v6}");
    }
    for not in ["any", "10.0.0.0/8", "60000:61000", "1:2"] {
        assert!(!V6_START.is_match(not), "{not}");
    }
    assert!(V6_ANY.is_match("### tuple ### allow tcp 22 ::/0 any ::/0 in"));
    assert!(!V6_ANY.is_match("### tuple ### allow tcp 60000:61000 0.0.0.0/0 any 0.0.0.0/0 in"));
    assert!(V4_ANY.is_match("### tuple ### allow tcp 22 0.0.0.0/0 any 0.0.0.0/0 in"));
}

#[test]
fn comments_need_ufw_0_35() {
    assert_eq!(takes_comment("ufw 0.36.2\nCopyright 2008-2023 Canonical Ltd.\n"), Ok(true));
    assert_eq!(takes_comment("\nufw 0.35\n"), Ok(true));
    assert_eq!(takes_comment("ufw 0.34\n"), Ok(false));
    assert!(takes_comment("something else\n").is_err());
}
