//! Helpers shared by the end-to-end tests.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

/// The crate's test fixtures directory.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The `prov` binary with arguments, in `dir`, without the caller's inventory settings.
fn prov_command(dir: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_prov"));
    c.args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("PROV_INVENTORY")
        .env_remove("ANSIBLE_CONFIG")
        .env_remove("ANSIBLE_INVENTORY");
    c
}

/// Runs `prov` with arguments, in `dir`.
pub fn prov(dir: &Path, args: &[&str]) -> Output {
    prov_command(dir, args).output().expect("the prov binary runs")
}

/// Runs `prov` as [`prov`] does, and fails the test when it has not ended after `limit`
/// (killed first): for runs that used to wait forever.
pub fn prov_within(dir: &Path, args: &[&str], limit: Duration) -> Output {
    let mut child = prov_command(dir, args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the prov binary runs");
    let (mut out, mut err) = (child.stdout.take().expect("stdout"), child.stderr.take().expect("stderr"));
    let reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = out.read_to_end(&mut buf);
        buf
    });
    let err_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = err.read_to_end(&mut buf);
        buf
    });
    let start = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            let stdout = String::from_utf8_lossy(&reader.join().unwrap_or_default()).into_owned();
            panic!("prov {args:?} still ran after {limit:?}:\n{stdout}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    Output { status, stdout: reader.join().unwrap_or_default(), stderr: err_reader.join().unwrap_or_default() }
}

/// stdout and stderr as text.
pub fn text(o: &Output) -> (String, String) {
    (String::from_utf8_lossy(&o.stdout).into_owned(), String::from_utf8_lossy(&o.stderr).into_owned())
}

/// Copies a directory tree (example or reference content) into `to`.
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read_dir").flatten() {
        let p = e.path();
        if p.is_dir() {
            copy_tree(&p, &to.join(e.file_name()));
        } else {
            std::fs::copy(&p, to.join(e.file_name())).expect("copy");
        }
    }
}

/// The sum of `changed` over all hosts of the last recap event of a JSON event stream.
pub fn recap_changed(events: &[serde_json::Value]) -> u64 {
    let r = events.iter().rev().find(|e| e["event"] == "recap").expect("recap");
    r["hosts"].as_array().expect("hosts").iter().map(|h| h["changed"].as_u64().unwrap_or(0)).sum()
}

/// A `--output json` run: its exit code, its events and everything it printed.
pub fn json_events(out: &Output) -> (i32, Vec<serde_json::Value>, String) {
    let (o, e) = text(out);
    let events = o.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    (out.status.code().unwrap_or(-1), events, format!("{o}\n{e}"))
}

/// How many items of task `task` changed.
pub fn changed_items(events: &[serde_json::Value], task: &str) -> usize {
    events.iter().filter(|e| e["event"] == "host_result" && e["name"] == task && e["changed"] == true).count()
}

/// One HTTP/1.0 GET of `path` from `addr` (`ip:port`): the body of a 200 answer, or why not.
pub fn http_get(addr: &str, path: &str) -> Result<String, String> {
    let sock: std::net::SocketAddr = addr.parse().map_err(|e| format!("{e}"))?;
    let mut s = TcpStream::connect_timeout(&sock, Duration::from_secs(2)).map_err(|e| format!("connect: {e}"))?;
    s.set_read_timeout(Some(Duration::from_secs(5))).map_err(|e| e.to_string())?;
    s.write_all(format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes())
        .map_err(|e| format!("write: {e}"))?;
    let mut buf = String::new();
    s.read_to_string(&mut buf).map_err(|e| format!("read: {e}"))?;
    let status = buf.lines().next().unwrap_or_default().to_string();
    if !status.contains(" 200 ") {
        return Err(format!("status: {status}"));
    }
    Ok(buf.split("\r\n\r\n").nth(1).unwrap_or_default().trim().to_string())
}

/// One `prov apply --output json` run.
pub struct Run {
    /// Its exit code.
    pub code: i32,
    /// Its events.
    pub events: Vec<serde_json::Value>,
    /// Everything it printed.
    pub text: String,
}

impl Run {
    /// `(ok, changed)` of host `local` in the recap.
    pub fn counts(&self) -> (u64, u64) {
        let r = self.events.iter().rev().find(|e| e["event"] == "recap").expect("recap");
        let h = r["hosts"].as_array().expect("hosts").iter().find(|h| h["host"] == "local").expect("local");
        (h["ok"].as_u64().expect("ok"), h["changed"].as_u64().expect("changed"))
    }
}

/// A work directory with `root/` (the host's files), the inventory and the playbooks.
pub struct Work {
    dir: tempfile::TempDir,
}

impl Work {
    pub fn new(files: &[(&str, &str)]) -> Work {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().join("root");
        std::fs::create_dir_all(&root).expect("mkdir");
        let inv = format!("local ansible_connection=local root={}\n", root.display());
        std::fs::write(dir.path().join("hosts.ini"), inv).expect("inventory");
        for (name, body) in files {
            std::fs::write(dir.path().join(name), body).expect("write");
        }
        Work { dir }
    }

    pub fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    /// `prov apply PLAYBOOK` with `pre` before the binary (a namespace to run in) and `extra`
    /// arguments after.
    pub fn run_in(&self, pre: &[&str], playbook: &str, extra: &[&str]) -> Run {
        let mut args = vec!["apply", playbook, "-i", "hosts.ini", "--output", "json"];
        args.extend_from_slice(extra);
        let out = match pre.split_first() {
            None => prov(self.dir.path(), &args),
            Some((cmd, rest)) => Command::new(cmd)
                .args(rest)
                .arg(env!("CARGO_BIN_EXE_prov"))
                .args(&args)
                .current_dir(self.dir.path())
                .env("NO_COLOR", "1")
                .output()
                .expect("prov runs"),
        };
        let (code, events, text) = json_events(&out);
        Run { code, events, text }
    }

    pub fn run(&self, playbook: &str, extra: &[&str]) -> Run {
        self.run_in(&[], playbook, extra)
    }

    pub fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.root().join(name)).unwrap_or_default()
    }
}

/// `v` with the run's temporary directory written `@ROOT@` in every string, and without the
/// `exception` field (ansible-core's traceback placeholder).
pub fn normalize_recorded(v: &mut serde_json::Value, root: &str) {
    use serde_json::Value as Json;
    match v {
        Json::Object(m) => {
            m.remove("exception");
            m.values_mut().for_each(|x| normalize_recorded(x, root));
        }
        Json::Array(a) => a.iter_mut().for_each(|x| normalize_recorded(x, root)),
        Json::String(s) => *s = s.replace(root, "@ROOT@"),
        _ => {}
    }
}

/// Runs `play` on the local inventory of [`crate::language::apply`] and returns the list its
/// last `debug` printed as JSON, normalized with [`normalize_recorded`].
pub fn shown_results(play: &str, args: &[&str]) -> Vec<serde_json::Value> {
    let (d, r) = crate::language::apply(&[("site.yml", play)], args);
    assert_eq!(r.code, 0, "{}", r.dump());
    let shown = r.of("debug").last().and_then(|x| x["msg"].as_str()).expect("debug").to_string();
    let mut got: serde_json::Value = serde_json::from_str(&shown).expect("JSON");
    normalize_recorded(&mut got, &d.path().display().to_string());
    got.as_array().expect("a list").clone()
}

/// Compares results one by one with the recorded ones (`results/*.json`), naming the first
/// that differs by its place (`what` and its 1-based index).
pub fn assert_recorded(got: &[serde_json::Value], recorded: &str, what: &str) {
    let expected: serde_json::Value = serde_json::from_str(recorded).expect("recorded JSON");
    let expected = expected.as_array().expect("a list");
    assert_eq!(got.len(), expected.len(), "number of {what} results");
    for (i, (g, e)) in got.iter().zip(expected).enumerate() {
        assert_eq!(g, e, "{what}{}", i + 1);
    }
}

/// Drops what only ansible-playbook registers (`invocation`, `_ansible_*`) and the warnings.
pub fn strip_registered(v: &serde_json::Value) -> serde_json::Value {
    match v {
        serde_json::Value::Object(m) => serde_json::Value::Object(
            m.iter()
                .filter(|(k, _)| {
                    !matches!(k.as_str(), "invocation" | "warnings" | "deprecations") && !k.starts_with("_ansible")
                })
                .map(|(k, x)| (k.clone(), strip_registered(x)))
                .collect(),
        ),
        serde_json::Value::Array(a) => serde_json::Value::Array(a.iter().map(strip_registered).collect()),
        other => other.clone(),
    }
}

/// Registered results of a differential test: `oracle` (the oracle's normalized results,
/// when it ran) recorded in `recorded` (under the crate), then `got` compared with the
/// recording task by task.
pub fn compare_with_recorded(recorded: &str, got: &serde_json::Value, oracle: Option<serde_json::Value>) {
    let recorded = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(recorded);
    if let Some(oracle) = oracle {
        std::fs::write(&recorded, serde_json::to_string_pretty(&oracle).expect("json") + "\n").expect("record");
    }
    let want: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&recorded).expect("recorded results")).expect("JSON");
    for (task, w) in want.as_object().expect("tasks") {
        assert_eq!(
            &got[task],
            w,
            "{task}: prov registers\n{}\nansible-core registers\n{}",
            serde_json::to_string_pretty(&got[task]).unwrap_or_default(),
            serde_json::to_string_pretty(w).unwrap_or_default()
        );
    }
    assert_eq!(got.as_object().map(|m| m.len()), want.as_object().map(|m| m.len()));
}

/// ansible-core's `{"__ansible_unsafe": x}` wrappers of `ansible-inventory --list` dropped.
#[cfg(any(feature = "aws", feature = "gcp"))]
pub fn unwrap_unsafe(v: serde_json::Value) -> serde_json::Value {
    use serde_json::Value as Json;
    match v {
        Json::Object(m) if m.len() == 1 && m.contains_key("__ansible_unsafe") => {
            unwrap_unsafe(m.into_iter().next().map(|(_, x)| x).unwrap_or(Json::Null))
        }
        Json::Object(m) => Json::Object(m.into_iter().map(|(k, x)| (k, unwrap_unsafe(x))).collect()),
        Json::Array(a) => Json::Array(a.into_iter().map(unwrap_unsafe).collect()),
        other => other,
    }
}

/// Runs prov in `dir` under a Python parent that prints the peak RSS of its children (prov
/// alone) in KiB: the output, and that figure.
pub fn prov_peak_rss(dir: &Path, args: &[&str]) -> (std::process::Output, u64) {
    let script = "import resource, subprocess, sys\n\
                  r = subprocess.run(sys.argv[1:], stdout=subprocess.PIPE)\n\
                  sys.stdout.buffer.write(r.stdout)\n\
                  print('PEAK', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr)\n\
                  sys.exit(r.returncode)\n";
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(env!("CARGO_BIN_EXE_prov"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .output()
        .expect("python3 runs");
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    let peak = err.lines().rev().find_map(|l| l.strip_prefix("PEAK ")).expect("the peak line").trim().parse();
    (out, peak.expect("KiB"))
}

/// Compares the registered results a play dumped to `dump` (task name → result) with the ones
/// ansible-core registered for the same play (`recorded`, JSON), a task at a time so that a
/// failure names it; both without ansible-core's `exception` placeholder and through `clean`.
pub fn assert_registered_as_recorded(
    dump: &Path,
    recorded: &str,
    clean: impl Fn(serde_json::Value) -> serde_json::Value,
) {
    let strip = |mut v: serde_json::Value| {
        for r in v.as_object_mut().expect("results by task").values_mut() {
            r.as_object_mut().map(|r| r.remove("exception"));
        }
        clean(v)
    };
    let got = strip(serde_json::from_str(&std::fs::read_to_string(dump).expect("the dump")).expect("JSON"));
    let want = strip(serde_json::from_str(recorded).expect("recorded JSON"));
    for (task, w) in want.as_object().expect("an object") {
        assert_eq!(&got[task], w, "registered `{task}` differs from ansible-core's");
    }
    assert_eq!(got.as_object().map(|m| m.len()), want.as_object().map(|m| m.len()));
}
