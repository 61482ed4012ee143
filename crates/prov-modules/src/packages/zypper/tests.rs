use super::*;
use crate::testing::*;
use prov_core::module::args_from_value;
use serde_json::json;

fn args(v: serde_json::Value) -> Args {
    let a: Args = args_from_value(&j(v)).expect("arguments");
    Zypper::check_args(&a).expect("valid arguments");
    a
}

// community.general.zypper's split_name_version on the same names (read with its Python).
#[test]
fn names_split_into_prefix_name_and_version_as_community_general_splits_them() {
    let s = |n: &str| split_name_version(n);
    assert_eq!(s("hello"), (None, "hello".into(), String::new()));
    assert_eq!(s("hello=1.0"), (None, "hello".into(), "=1.0".into()));
    assert_eq!(s("hello>=1.0-1"), (None, "hello".into(), ">=1.0-1".into()));
    assert_eq!(s("~hello"), (Some('-'), "hello".into(), String::new()));
    assert_eq!(s("+hello<2"), (Some('+'), "hello".into(), "<2".into()));
    assert_eq!(s("foo=1.0b"), (None, "foo=1.0b".into(), String::new()), "not a version: all name");
    assert_eq!(s("a=b=1"), (None, "a=b".into(), "=1".into()));
    let (pkgs, urls) = want_state(&["x".into(), "/tmp/y.rpm".into(), "https://h/z".into(), "-w".into()], false);
    assert_eq!(urls, ["/tmp/y.rpm", "https://h/z"]);
    assert_eq!(pkgs.iter().map(|p| p.prefix).collect::<String>(), "+-");
    let (pkgs, _) = want_state(&["x".into()], true);
    assert_eq!(pkgs[0].prefix, '-');
}

// The command lines community.general.zypper registered in `cmd` for the same arguments.
#[test]
fn commands_are_put_together_as_community_general_puts_them() {
    let a = args(json!({"name": "hello"}));
    assert_eq!(
        command(&a, "/usr/bin/zypper", "install", true).join(" "),
        "/usr/bin/zypper --non-interactive --xmlout --quiet install --type package --dry-run --auto-agree-with-licenses --no-recommends"
    );
    let a = args(json!({"name": "x", "disable_gpg_check": true, "quiet": false, "disable_recommends": false,
                        "extra_args_precommand": " --root  /mnt ", "extra_args": "--a  --b", "clean_deps": true}));
    assert_eq!(
        command(&a, "/usr/bin/zypper", "install", false),
        [
            "/usr/bin/zypper",
            "--non-interactive",
            "--xmlout",
            "--root",
            "/mnt",
            "--no-gpg-checks",
            "install",
            "--type",
            "package",
            "--auto-agree-with-licenses",
            "--a",
            "",
            "--b"
        ]
    );
    assert_eq!(
        command(&a, "/usr/bin/zypper", "remove", false).join(" "),
        "/usr/bin/zypper --non-interactive --xmlout --root /mnt remove --type package --clean-deps --a  --b"
    );
    assert_eq!(
        command(&a, "/usr/bin/zypper", "search", false).join(" "),
        "/usr/bin/zypper --non-interactive --xmlout --root /mnt --disable-repositories search --type package --a  --b"
    );
    assert_eq!(
        command(&a, "/usr/bin/zypper", "refresh", false).join(" "),
        "/usr/bin/zypper --non-interactive --xmlout --root /mnt --no-gpg-checks refresh --a  --b"
    );
    let a = args(json!({"name": "*", "state": "dist-upgrade", "allow_vendor_change": true}));
    assert_eq!(
        command(&a, "/usr/bin/zypper", "dist-upgrade", false).join(" "),
        "/usr/bin/zypper --non-interactive --xmlout --quiet dist-upgrade --auto-agree-with-licenses --no-recommends --allow-vendor-change"
    );
}

#[test]
fn every_word_reaches_zypper_as_one_quoted_argument() {
    let c = ZCmd(vec!["/usr/bin/zypper".into(), "install".into(), "--".into(), "+a b".into(), "$(x)".into()]);
    assert_eq!(c.sh().as_str(), "LANG=C LC_ALL=C LC_MESSAGES=C /usr/bin/zypper install -- '+a b' \"\\$(x)\"");
}

#[test]
fn names_zypper_would_read_as_options_are_refused() {
    for bad in ["--root=/tmp", "+-x", "~--help", "--"] {
        let a: Args = args_from_value(&j(json!({"name": bad}))).expect("arguments");
        assert!(Zypper::check_args(&a).is_err(), "{bad}");
    }
    args(json!({"name": ["-hello", "/srv/-x.rpm", "hello>=1"]}));
}

const INSTALL: &str = r#"<?xml version='1.0'?>
<stream>
<install-summary download-size="6044" space-usage-diff="0" packages-to-change="2">
<to-upgrade>
<solvable type="package" name="hello" edition="2.0-1" arch="noarch" edition-old="1.0-1" arch-old="noarch" summary="test hello">
<description>test</description></solvable>
</to-upgrade>
<to-install>
<solvable type="package" name="world" edition="1.0-1" arch="noarch" summary="test world">
<description>test</description></solvable>
</to-install>
</install-summary>
<message type="info">one</message>
<message type="error">No provider of &apos;+x&apos; found.</message>
</stream>
"#;

#[test]
fn zyppers_xml_gives_the_changes_and_the_last_message() {
    let Xml { solvables: s, messages } = parse_xml(INSTALL).expect("XML");
    assert_eq!(s.len(), 2);
    assert_eq!((s[0].name.as_str(), s[0].group.as_str(), s[0].old.as_str()), ("hello", "to-upgrade", "1.0-1"));
    assert_eq!(messages, ["one", "No provider of '+x' found."]);
    let ran = Ran { cmd: vec![], out: prov_core::connection::ExecOutput::default(), solvables: s };
    assert_eq!(prepared(Some(&ran)), "installed: world\nupgraded: hello (1.0-1 => 2.0-1)\n");
    assert!(parse_xml("not xml").unwrap_err().starts_with("Failed to parse zypper xml output: "));
}

// ansible's fail_json(msg="Zypper run failed.", **retvals) for an exit status zypper's XML is
// read for but that is no success (106: a signature failed; 107: a script failed).
#[test]
fn a_failed_transaction_registers_the_commands_fields_alone() {
    let a = args(json!({"name": "x"}));
    let out = prov_core::connection::ExecOutput { rc: 107, stdout: b"<stream/>\n".to_vec(), ..Default::default() };
    let ran = Ran { cmd: vec!["/usr/bin/zypper".into(), "install".into()], out, solvables: vec![] };
    let o = result(&a, Some(&ran), false);
    assert!(o.failed && o.msg.as_deref() == Some("Zypper run failed."));
    let mut keys: Vec<&str> = o.data.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["cmd", "rc", "stderr", "stderr_lines", "stdout", "stdout_lines"]);
}

#[test]
fn empty_extra_args_add_no_argument() {
    let a = args(json!({"name": "x", "extra_args": "", "extra_args_precommand": ""}));
    let c = command(&a, "/usr/bin/zypper", "install", false);
    assert!(!c.iter().any(String::is_empty), "{c:?}");
}
