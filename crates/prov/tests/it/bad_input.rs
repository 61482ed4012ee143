//! Bad input: exit 4, a message with file:line:column and a hint, and no connection opened.

use crate::util::{fixtures, prov, prov_peak_rss, text};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// A TCP listener standing in for every host: counts connection attempts.
struct Tripwire {
    port: u16,
    hits: Arc<AtomicUsize>,
}

impl Tripwire {
    fn new() -> Tripwire {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let port = l.local_addr().expect("bound").port();
        let hits = Arc::new(AtomicUsize::new(0));
        let h = hits.clone();
        std::thread::spawn(move || {
            for s in l.incoming() {
                if s.is_ok() {
                    h.fetch_add(1, Ordering::SeqCst);
                }
            }
        });
        Tripwire { port, hits }
    }

    /// An inventory of two hosts, both pointing at the tripwire.
    fn inventory(&self, dir: &std::path::Path) -> std::path::PathBuf {
        let p = dir.join("hosts.ini");
        let text = format!(
            "[web]\nweb1 ansible_host=127.0.0.1 ansible_port={p}\nweb2 ansible_host=127.0.0.1 ansible_port={p}\n",
            p = self.port
        );
        std::fs::write(&p, text).expect("write inventory");
        p
    }
}

/// Runs `prov apply` on a fixture; asserts exit 4, no connection, and returns stderr.
fn rejected(file: &str, extra: &[&str]) -> String {
    let trip = Tripwire::new();
    let tmp = tempfile::tempdir().expect("tempdir");
    let inv = trip.inventory(tmp.path());
    let bad = fixtures().join("bad");
    let playbook = bad.join(file);
    let mut args = vec!["apply", playbook.to_str().expect("utf-8 path"), "-i", inv.to_str().expect("utf-8 path")];
    args.extend_from_slice(extra);
    let out = prov(&bad, &args);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(4), "exit code for {file}\nstdout:\n{stdout}\nstderr:\n{stderr}");
    std::thread::sleep(std::time::Duration::from_millis(100));
    assert_eq!(trip.hits.load(Ordering::SeqCst), 0, "{file}: prov connected to a host");
    assert!(stderr.contains("nothing was run"), "{file}: {stderr}");
    stderr
}

fn assert_located(stderr: &str, file: &str, line_col: &str) {
    let want = format!("{file}:{line_col}");
    assert!(stderr.contains(&want), "expected `{want}` in:\n{stderr}");
}

#[test]
fn malformed_yaml() {
    let e = rejected("malformed_yaml.yml", &[]);
    assert!(e.contains("malformed_yaml.yml:7:"), "{e}");
}

#[test]
fn unknown_module() {
    let e = rejected("unknown_module.yml", &[]);
    assert_located(&e, "unknown_module.yml", "5:7");
    assert!(e.contains("did you mean `copy`"), "{e}");
}

#[test]
fn a_module_named_through_a_collection_that_does_not_ship_it_is_refused() {
    let e = rejected("module_in_wrong_collection.yml", &[]);
    assert_located(&e, "module_in_wrong_collection.yml", "5:7");
    assert!(e.contains("unknown module `community.docker.docker_service`"), "{e}");
    assert!(e.contains("docker_swarm_service"), "{e}");
    assert_located(&e, "module_in_wrong_collection.yml", "8:7");
    assert!(e.contains("write `ansible.builtin.copy`"), "{e}");
}

#[test]
fn an_unknown_filter_lookup_or_function_is_refused_before_connecting() {
    let e = rejected("unknown_filter.yml", &[]);
    assert!(e.contains("unknown filter `uper`"), "{e}");
    assert_located(&e, "unknown_filter.yml", "6:");
    assert!(e.contains("unknown lookup plugin `no_such_lookup`"), "{e}");
    assert!(e.contains("unknown function `nope`"), "{e}");
    assert_located(&e, "unknown_filter.yml", "13:");
}

#[test]
fn unknown_argument() {
    let e = rejected("unknown_argument.yml", &[]);
    assert_located(&e, "unknown_argument.yml", "7:9");
    assert!(e.contains("state"), "{e}");
}

#[test]
fn misspelled_keyword() {
    let e = rejected("misspelled_keyword.yml", &[]);
    assert_located(&e, "misspelled_keyword.yml", "7:7");
    assert!(e.contains("when"), "{e}");
}

#[test]
fn undefined_role() {
    let e = rejected("undefined_role.yml", &[]);
    assert_located(&e, "undefined_role.yml", "4:7");
    assert!(e.contains("no_such_role"), "{e}");
}

#[test]
fn undefined_variable() {
    let e = rejected("undefined_variable.yml", &[]);
    assert_located(&e, "undefined_variable.yml", "6:");
    assert!(e.contains("never_defined_anywhere"), "{e}");
}

#[test]
fn bad_host_pattern() {
    let e = rejected("bad_pattern.yml", &[]);
    assert_located(&e, "bad_pattern.yml", "1:10");
    assert!(e.contains("help:"), "{e}");
}

#[test]
fn include_cycle() {
    let e = rejected("cycle.yml", &[]);
    assert!(e.contains("cycle"), "{e}");
    assert!(e.contains("cycle_a.yml") && e.contains("cycle_b.yml"), "{e}");
}

#[test]
fn template_syntax() {
    let e = rejected("template_syntax.yml", &[]);
    assert_located(&e, "template_syntax.yml", "5:");
}

#[test]
fn bad_extra_vars() {
    let e = rejected("good.yml", &["-e", "1bad=x"]);
    assert!(e.contains("-e #1:1:1"), "{e}");
    assert!(e.contains("help:"), "{e}");
    let e = rejected("good.yml", &["-e", "{not: [closed"]);
    assert!(e.contains("-e #1:"), "{e}");
}

#[test]
fn bad_limit() {
    let e = rejected("good.yml", &["-e", "greeting=hi", "--limit", "web[x]"]);
    assert!(e.contains("--limit"), "{e}");
}

#[test]
fn validate_accepts_good_input_without_connecting() {
    let trip = Tripwire::new();
    let tmp = tempfile::tempdir().expect("tempdir");
    let inv = trip.inventory(tmp.path());
    let bad = fixtures().join("bad");
    let out = prov(&bad, &["validate", "good.yml", "-i", inv.to_str().expect("utf-8"), "-e", "greeting=hi"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert_eq!(trip.hits.load(Ordering::SeqCst), 0);
}

#[test]
fn release_without_src() {
    let e = rejected("release_missing_src.yml", &[]);
    assert_located(&e, "release_missing_src.yml", "5:7");
    assert!(e.contains("`src` is required"), "{e}");
}

/// `prov rollback` refuses, before connecting, a playbook with no `release` task and a
/// directory that is not a role.
#[test]
fn rollback_with_nothing_to_roll_back() {
    let trip = Tripwire::new();
    let tmp = tempfile::tempdir().expect("tempdir");
    let inv = trip.inventory(tmp.path());
    let inv = inv.to_str().expect("utf-8 path");
    let bad = fixtures().join("bad");
    let out = prov(&bad, &["rollback", "good.yml", "-i", inv, "-e", "greeting=hi"]);
    let (o, e) = text(&out);
    assert_eq!(out.status.code(), Some(4), "{o}\n{e}");
    assert!(e.contains("good.yml: no `release` task is selected here: nothing to roll back"), "{e}");
    let out = prov(&bad, &["rollback", tmp.path().to_str().expect("utf-8 path"), "-i", inv]);
    let (o, e) = text(&out);
    assert_eq!(out.status.code(), Some(4), "{o}\n{e}");
    assert!(e.contains("is neither a playbook file nor a role directory"), "{e}");
    std::thread::sleep(std::time::Duration::from_millis(100));
    assert_eq!(trip.hits.load(Ordering::SeqCst), 0, "prov connected to a host");
}

/// Runs prov with `args` in `dir`; asserts exit 4 and that nothing connected; returns stderr.
fn rejected_in(dir: &std::path::Path, args: &[&str]) -> String {
    let out = prov(dir, args);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(4), "{args:?}\nstdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    stderr
}

/// A "billion laughs": nine levels of nine aliases, a few hundred bytes.
fn alias_bomb() -> String {
    let mut text = String::from("a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for n in 1..9 {
        let p = n - 1;
        text.push_str(&format!("a{n}: &a{n} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"));
    }
    text
}

#[test]
fn an_alias_bomb_or_deep_nesting_is_refused_wherever_yaml_is_read() {
    let trip = Tripwire::new();
    let tmp = tempfile::tempdir().expect("tempdir");
    let d = tmp.path();
    let inv = trip.inventory(d);
    let inv = inv.to_str().expect("utf-8 path");
    std::fs::write(d.join("good.yml"), "- hosts: all\n  gather_facts: false\n  tasks:\n    - debug: msg=hi\n")
        .expect("write");
    let deep: String = (0..2000).map(|n| format!("{}- \n", " ".repeat(n * 2))).collect();
    for (name, body) in [("bomb.yml", alias_bomb()), ("deep.yml", deep)] {
        std::fs::write(d.join(name), &body).expect("write");
        let want = if name == "bomb.yml" { "aliases expand" } else { "nested more than" };
        // As a playbook (under a parent that reads prov's peak memory: the refusal must not
        // expand or descend first), as extra vars and as an inventory.
        let t0 = std::time::Instant::now();
        let (out, peak_kib) = prov_peak_rss(d, &["apply", name, "-i", inv]);
        let took = t0.elapsed();
        let (_, e) = text(&out);
        assert_eq!(out.status.code(), Some(4), "{e}");
        assert!(e.contains(want) && e.contains(name), "{e}");
        assert!(peak_kib < 100 * 1024, "{name}: prov's peak memory was {peak_kib} KiB (the limit is 100 MB)");
        // A figure for the record, not a threshold (timings are the benchmark's business).
        eprintln!("{name}: refused in {took:?}, peak memory {peak_kib} KiB");
        let at = format!("@{name}");
        let e = rejected_in(d, &["apply", "good.yml", "-i", inv, "-e", &at]);
        assert!(e.contains(want), "{e}");
        let e = rejected_in(d, &["apply", "good.yml", "-i", name]);
        assert!(e.contains(want), "{e}");
    }
    std::thread::sleep(std::time::Duration::from_millis(100));
    assert_eq!(trip.hits.load(Ordering::SeqCst), 0, "prov connected to a host");
}

#[test]
fn a_limit_that_matches_no_host_is_refused() {
    let e = rejected("good.yml", &["-e", "greeting=hi", "--limit", "nomatch"]);
    assert!(e.contains("--limit `nomatch` leaves no host"), "{e}");
}

#[test]
fn command_line_errors_exit_4_and_help_exits_0() {
    let bad = fixtures().join("bad");
    for args in [
        &["apply", "good.yml", "--timeout", "abc"][..],
        &["apply", "good.yml", "--output", "xml"],
        &["no-such-command"],
        &["apply"],
    ] {
        let out = prov(&bad, args);
        let (o, e) = text(&out);
        assert_eq!(out.status.code(), Some(4), "{args:?}\n{o}\n{e}");
    }
    let out = prov(&bad, &["--help"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out).0.contains("Usage"));
}

#[test]
fn output_into_a_closed_pipe_does_not_panic() {
    use std::io::Read;
    use std::process::{Command, Stdio};
    let bad = fixtures().join("bad");
    let tmp = tempfile::tempdir().expect("tempdir");
    let inv = tmp.path().join("hosts.ini");
    let hosts: String = (0..5000).map(|n| format!("h{n} ansible_connection=local\n")).collect();
    std::fs::write(&inv, format!("[all]\n{hosts}")).expect("write inventory");
    let mut child = Command::new(env!("CARGO_BIN_EXE_prov"))
        .current_dir(&bad)
        .args(["graph", "good.yml", "-e", "greeting=hi", "-i", inv.to_str().expect("utf-8")])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn prov");
    // Read one byte, then close the pipe as `| head -c1` does.
    let mut stdout = child.stdout.take().expect("stdout");
    let mut one = [0u8; 1];
    stdout.read_exact(&mut one).expect("some output");
    drop(stdout);
    let mut stderr = String::new();
    child.stderr.take().expect("stderr").read_to_string(&mut stderr).expect("stderr");
    let status = child.wait().expect("wait");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(status.code(), Some(0), "{stderr}");
}

#[test]
fn errors_into_a_closed_stderr_do_not_panic() {
    use std::process::{Command, Stdio};
    let tmp = tempfile::tempdir().expect("tempdir");
    let plays: String = (0..3000).map(|_| "- hosts: all\n  tasks: [{nosuchmodule: {msg: x}}]\n").collect();
    std::fs::write(tmp.path().join("bad.yml"), plays).expect("write playbook");
    std::fs::write(tmp.path().join("hosts.ini"), "a ansible_connection=local\n").expect("write inventory");
    let mut child = Command::new(env!("CARGO_BIN_EXE_prov"))
        .current_dir(tmp.path())
        .args(["validate", "bad.yml", "-i", "hosts.ini"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn prov");
    // Close stderr at once, as `2>&1 | head -1` soon does.
    drop(child.stderr.take());
    let status = child.wait().expect("wait");
    assert_eq!(status.code(), Some(4), "bad input, not a panic (101)");
}

// Ansible 2.19 exits 4: "Empty playbook, nothing to do: FILE" for a file without a document,
// "A playbook must contain at least one play: FILE" for `[]`.
#[test]
fn empty_playbook() {
    let e = rejected("empty_playbook.yml", &[]);
    assert_located(&e, "empty_playbook.yml", "1:1");
    assert!(e.contains("empty playbook"), "{e}");
    let e = rejected("no_plays.yml", &[]);
    assert_located(&e, "no_plays.yml", "1:1");
    assert!(e.contains("at least one play"), "{e}");
}

/// `include_vars` with `delegate_facts: true` would set the variables on the delegated host
/// without Ansible's templating on read: refused before the run, with its place.
#[test]
fn include_vars_with_delegate_facts_is_refused_before_the_run() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("v.yml"), "x: 1\n").expect("vars");
    std::fs::write(dir.path().join("hosts"), "a ansible_connection=local\n").expect("inventory");
    let site = "- hosts: a\n  gather_facts: false\n  tasks:\n    - include_vars: v.yml\n      delegate_to: a\n      delegate_facts: true\n";
    std::fs::write(dir.path().join("site.yml"), site).expect("playbook");
    let out = crate::util::prov(dir.path(), &["apply", "site.yml", "-i", "hosts"]);
    let (_, stderr) = crate::util::text(&out);
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    assert!(stderr.contains("site.yml:6:23") && stderr.contains("`include_vars` with `delegate_facts`"), "{stderr}");
}
