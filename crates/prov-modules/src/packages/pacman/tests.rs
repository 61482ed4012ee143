use super::*;
use crate::testing::*;
use prov_core::module::args_from_value;
use prov_core::testutil::FakeConnection;
use serde_json::json;

fn args(v: serde_json::Value) -> Result<Args, String> {
    let a: Args = args_from_value(&j(v)).map_err(|e| e.to_string())?;
    Pacman::check_args(&a)?;
    Ok(a)
}

// ansible-core's messages for the same arguments: keys written count, even null or false.
#[test]
fn name_and_upgrade_exclude_each_other_and_one_of_three_is_required() {
    let e = |v| args(v).expect_err("refused");
    assert_eq!(e(json!({"name": "x", "upgrade": false})), "parameters are mutually exclusive: name|upgrade");
    assert_eq!(e(json!({"pkg": "x", "upgrade": null})), "parameters are mutually exclusive: name|upgrade");
    assert_eq!(e(json!({"state": "present"})), "one of the following is required: name, update_cache, upgrade");
    args(json!({"update_cache": false})).expect("update_cache alone");
    args(json!({"package": [], "update_cache": "yes"})).expect("an empty list");
    assert!(e(json!({"name": "x", "extra_args": "--a 'b"})).contains("extra_args"));
}

#[test]
fn names_pacman_would_read_as_options_are_refused() {
    for bad in
        [json!({"name": "--root=/tmp"}), json!({"name": ["ok", "-Syu"]}), json!({"name": "x", "executable": "-h"})]
    {
        assert!(args(bad.clone()).is_err(), "{bad}");
    }
    args(json!({"name": ["core/x", "/srv/x-1-1-any.pkg.tar.zst", "x-y"]})).expect("names");
}

#[test]
fn pacmans_listings_are_read_as_the_module_reads_them() {
    let q = name_versions("base 1.0-1\nlib 1.0-1\n  \nodd line here\n");
    assert_eq!((q.len(), q["lib"].as_str()), (2, "1.0-1"));
    let g = groups("tools hello\ntools world\ncore base\n");
    assert_eq!(g["tools"].iter().map(String::as_str).collect::<Vec<_>>(), ["hello", "world"]);
    let s = available(&["test hello 2.0-1".into(), "core x 1-1 [installed]".into(), "short".into()]);
    assert_eq!((s["hello"].as_str(), s["x"].as_str(), s.len()), ("2.0-1", "1-1", 2));
    let u = upgrades("strace 5.14-1 -> 5.15-1\nsystemd 249.7-1 -> 249.7-2 [ignored]\n\n").expect("lines");
    assert_eq!(u, [("strace".into(), "5.14-1".into(), "5.15-1".into())]);
    assert_eq!(upgrades("a 1 2").expect_err("bad line"), "Invalid line: a 1 2");
}

#[test]
fn every_word_reaches_pacman_as_one_quoted_argument() {
    let words = ["/usr/bin/pacman", "--sync", "a b", "$(x)", "~/x.pkg.tar.zst", "$HOME/y"].map(String::from);
    let c = crate::util::argv(Sh::lit("LC_ALL=C "), &words);
    // `$VAR` and `~` expand as in ansible-core's run_command; nothing else does.
    assert_eq!(c.as_str(), r#"LC_ALL=C /usr/bin/pacman --sync 'a b' "\$(x)" ~/"x.pkg.tar.zst" "$HOME/y""#);
}

/// A host where pacman lists base (explicit), lib (a dependency), hello 1.0 upgradable to 2.0
/// and world available in group tools.
fn host() -> FakeConnection {
    FakeConnection::new()
        .on("command -v -- ", 0, "/usr/bin/pacman\n")
        .on("LC_ALL=C /usr/bin/pacman --query --groups", 0, "core base\n")
        .on("LC_ALL=C /usr/bin/pacman --query --upgrades", 0, "hello 1.0-1 -> 2.0-1\n")
        .on("LC_ALL=C /usr/bin/pacman --query --explicit", 0, "base 1.0-1\nhello 1.0-1\n")
        .on("LC_ALL=C /usr/bin/pacman --query --deps", 0, "lib 1.0-1\n")
        .on("LC_ALL=C /usr/bin/pacman --query", 0, "base 1.0-1\nlib 1.0-1\nhello 1.0-1\n")
        .on("LC_ALL=C /usr/bin/pacman --sync --list", 0, "t base 1.0-1\nt lib 1.0-1\nt hello 2.0-1\nt world 1.0-1\n")
        .on("LC_ALL=C /usr/bin/pacman --sync --groups --groups", 0, "tools hello\ntools world\n")
        .on(
            "LC_ALL=C /usr/bin/pacman --noconfirm --noprogressbar --needed --sync --print-format",
            0,
            "hello 2.0-1\nworld 1.0-1\n",
        )
}

// A group on a host with one member installed and upgradable (state latest, reason dependency
// for new packages), in check mode: the results community.general's code computes for it.
#[tokio::test]
async fn a_group_in_check_mode_registers_the_packages_and_the_diff_of_the_dry_run() {
    let h = fake_check(host());
    let o = run::<Pacman>(json!({"name": "tools", "state": "latest", "reason": "dependency"}), &h.ctx()).await;
    assert!(o.changed && !o.failed, "{o:?}");
    assert_eq!(o.msg.as_deref(), Some("Would have installed 2 packages"));
    assert_eq!(o.data["packages"], Value::from(vec!["hello", "world"]));
    assert_eq!(o.data["diff"].get_attr("before").ok(), Some(Value::from("hello-1.0-1-explicit\n")));
    assert_eq!(
        o.data["diff"].get_attr("after").ok(),
        Some(Value::from("hello-2.0-1-explicit\nworld-1.0-1-dependency\n"))
    );
    let calls = h.conn.calls();
    assert!(calls.iter().any(|c| c.ends_with("--sync --print-format '%n %v' hello world")), "{calls:?}");
    assert!(!calls
        .iter()
        .any(|c| c.contains("--database") || c.ends_with(" hello world") && !c.contains("print-format")));
}

// p00 of results/pacman.yml: on an empty package database `pacman --query` exits 1 and the
// module fails as ansible-core's run_command(check_rc=True) fails.
#[tokio::test]
async fn a_query_that_fails_ends_the_task_with_the_command_as_ansible_shows_it() {
    let h = fake(FakeConnection::new().on("command -v -- ", 0, "/usr/bin/pacman\n").on(
        "LC_ALL=C /usr/bin/pacman --query",
        1,
        "",
    ));
    let o = run::<Pacman>(json!({"name": "base"}), &h.ctx()).await;
    assert!(o.failed);
    assert_eq!(o.msg.as_deref(), Some(""));
    assert_eq!(o.data["cmd"], Value::from("/usr/bin/pacman --query"));
    assert_eq!(o.data["rc"], Value::from(1));
}
