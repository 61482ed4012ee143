//! `wait_for`: waits, on the target, for a TCP port to open or close, or a file to appear or
//! disappear (optionally containing a regular expression), or just for `timeout` seconds.
//!
//! Arguments (as in Ansible): `host` (default `127.0.0.1`), `port`, `path`, `state`
//! (`started` default / `present`: open or there; `stopped` / `absent`: closed or gone),
//! `timeout` (default 300 s), `delay` (before the first check), `sleep` (between checks, default
//! 1), `connect_timeout` (default 5), `search_regex` (with `path`: an extended regexp the file
//! must contain), `msg` (failure message).
//!
//! The whole loop is one `sh` command on the target; ports are checked with `nc -z` when
//! present, else bash's `/dev/tcp`, else `busybox nc`. Never changes anything, so it also runs
//! in check mode. Registers what ansible-core does: `state`, `port`, `search_regex`, `match_groups`
//! and `match_groupdict` (the groups of the match in the file), `path`, `elapsed`, and for a
//! path that exists its `uid`, `gid`, `owner`, `group`, `mode`, `size`, with `state` its kind
//! (`file`, `directory`, ...); a failure registers only `msg` and `elapsed`.
//!
//! ```yaml
//! - wait_for: { port: 5432, timeout: 60 }
//! - wait_for:
//!     path: /var/log/app.log
//!     search_regex: "started in [0-9]+ ms"
//! - wait_for: { host: 10.0.0.5, port: 22, state: stopped }
//! ```

use async_trait::async_trait;
use minijinja::Value;
use prov_core::cmd::{Cmd, Sh, Word, WordKind};
use prov_core::module::{Module, ModuleCtx, ModuleError, Outcome, Plan};
use serde::Deserialize;

fn localhost() -> String {
    "127.0.0.1".into()
}
fn t300() -> u64 {
    300
}
fn one() -> u64 {
    1
}
fn five() -> u64 {
    5
}

/// The groups of the first match of `re` (Python's syntax, multi-line) in `data`, as
/// ansible-core registers them: every group in order (`null` for one that took no part), and
/// the named ones by name. Nothing when the pattern has no groups or does not match.
fn match_groups(re: &str, data: &[u8]) -> (Vec<Option<String>>, serde_json::Map<String, serde_json::Value>) {
    let text = String::from_utf8_lossy(data);
    let Ok(rx) = fancy_regex::Regex::new(&format!("(?m){re}")) else { return Default::default() };
    let Ok(Some(c)) = rx.captures(&text) else { return Default::default() };
    let groups = (1..c.len()).map(|i| c.get(i).map(|m| m.as_str().to_string())).collect();
    let named = rx
        .capture_names()
        .flatten()
        .map(|n| (n.to_string(), c.name(n).map(|m| serde_json::Value::from(m.as_str())).unwrap_or_default()))
        .collect();
    (groups, named)
}

/// Whether a pattern has capture groups.
fn has_groups(re: &str) -> bool {
    fancy_regex::Regex::new(re).is_ok_and(|rx| rx.captures_len() > 1)
}

/// Arguments of `wait_for`.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Args {
    /// Host to connect to (from the target).
    #[serde(default = "localhost")]
    pub host: String,
    /// TCP port.
    #[serde(default)]
    pub port: Option<u16>,
    /// File on the target.
    #[serde(default, alias = "dest")]
    pub path: Option<String>,
    /// `started`, `present`, `stopped` or `absent`.
    #[serde(default)]
    pub state: Option<String>,
    /// Give up after this many seconds.
    #[serde(default = "t300")]
    pub timeout: u64,
    /// Seconds to wait before the first check.
    #[serde(default)]
    pub delay: u64,
    /// Seconds between checks.
    #[serde(default = "one")]
    pub sleep: u64,
    /// Seconds one connection attempt may take.
    #[serde(default = "five")]
    pub connect_timeout: u64,
    /// Extended regexp the file must contain.
    #[serde(default)]
    pub search_regex: Option<String>,
    /// Failure message.
    #[serde(default)]
    pub msg: Option<String>,
    /// Accepted, ignored.
    #[serde(default)]
    pub exclude_hosts: Option<Value>,
    /// Accepted, ignored.
    #[serde(default)]
    pub active_connection_states: Option<Value>,
}

/// The `wait_for` module.
#[derive(Debug, Default)]
pub struct WaitFor;

impl Args {
    fn want_up(&self) -> bool {
        matches!(self.state.as_deref(), None | Some("started" | "present"))
    }
}

/// The script: prints `elapsed N`, exits 0 when the condition holds, 3 on timeout.
fn script(a: &Args) -> Result<Sh, ModuleError> {
    let n = |v: u64| Sh::quoted(&v.to_string());
    let elapsed = || Sh::lit("echo \"elapsed $(( $(date +%s) - start ))\"");
    let mut s = Sh::default();
    if a.delay > 0 {
        s = s.then(Sh::lit("sleep").word(n(a.delay)));
    }
    s = s.then(Sh::lit("start=$(date +%s)"));
    if a.port.is_none() && a.path.is_none() {
        return Ok(s.then(Sh::lit("sleep").word(n(a.timeout))).then(elapsed()));
    }
    s = s.then(Sh::lit("end=$((start +").word(n(a.timeout)).suffix("))"));
    let check = if let Some(port) = a.port {
        let (ct, port) = (n(a.connect_timeout.max(1)), n(port.into()));
        let host = Word::new(WordKind::Host, &a.host).map_err(|e| ModuleError::Args(e.to_string()))?;
        s = s.then(Sh::lit("H=").glued(&host)).then(
            Sh::lit("if command -v timeout >/dev/null 2>&1; then T=\"timeout")
                .word(ct.clone())
                .suffix("\"; else T=; fi"),
        );
        let nc = |prog: &'static str| {
            Sh::lit(prog).word(ct.clone()).suffix(" \"$H\"").word(port.clone()).suffix(" >/dev/null 2>&1")
        };
        Sh::lit("if command -v nc >/dev/null 2>&1; then")
            .word(nc("nc -z -w"))
            .suffix("; elif command -v bash >/dev/null 2>&1; then $T bash -c 'exec 3<>\"/dev/tcp/$0/$1\"' \"$H\"")
            .word(port.clone())
            .suffix(" >/dev/null 2>&1; else")
            .word(nc("busybox nc -z -w"))
            .suffix("; fi")
    } else {
        s = s.then(Sh::lit("F=").glued(Sh::quoted(a.path.as_deref().unwrap_or_default())));
        match &a.search_regex {
            // As ansible-core: a Python regular expression, multi-line, searched in the whole
            // file; PCRE over the file as one record (`-z`) is grep's closest reading of it.
            // Only `started`/`present` look at the contents.
            Some(re) if a.want_up() => {
                s = s.then(Sh::lit(
                    "printf x | grep -Pzq x 2>/dev/null || { echo 'search_regex needs grep -P (GNU grep) on the target' >&2; exit 4; }",
                ));
                let re = format!("(?m){re}");
                Sh::lit("[ -e \"$F\" ] &&")
                    .word(Cmd::new("grep").flag("-Pzq").operand(&re))
                    .suffix(" \"$F\" 2>/dev/null")
            }
            _ => Sh::lit("[ -e \"$F\" ]"),
        }
    };
    let done = if a.want_up() { "[ $up = 1 ]" } else { "[ $up = 0 ]" };
    Ok(s.then(
        Sh::lit("while :; do if")
            .word(check)
            .suffix("; then up=1; else up=0; fi; if")
            .word(Sh::lit(done))
            .suffix("; then")
            .word(elapsed())
            .suffix("; exit 0; fi; if [ \"$(date +%s)\" -ge \"$end\" ]; then")
            .word(elapsed())
            .suffix("; exit 3; fi; sleep")
            .word(n(a.sleep))
            .suffix("; done"),
    ))
}

fn timeout_msg(a: &Args) -> String {
    if let Some(m) = &a.msg {
        return m.clone();
    }
    match (&a.port, &a.path, &a.search_regex, a.want_up()) {
        (Some(p), _, _, true) => format!("Timeout when waiting for {}:{p}", a.host),
        (Some(p), _, _, false) => format!("Timeout when waiting for {}:{p} to stop.", a.host),
        (None, Some(f), Some(r), true) => format!("Timeout when waiting for search string {r} in {f}"),
        (None, Some(f), None, true) => format!("Timeout when waiting for file {f}"),
        (None, Some(f), _, false) => format!("Timeout when waiting for {f} to be absent."),
        _ => "Timeout".into(),
    }
}

#[async_trait]
impl Module for WaitFor {
    const NAME: &'static str = "wait_for";
    const PATH_ARGS: &'static [&'static str] = &["path", "dest"];
    type Args = Args;
    type Plan = ();

    fn check_args(a: &Args) -> Result<(), String> {
        match a.state.as_deref() {
            None | Some("started" | "present" | "stopped" | "absent") => {}
            Some("drained") => return Err("state=drained is not supported".into()),
            Some(s) => return Err(format!("state must be started, stopped, present or absent, not {s}")),
        }
        if a.port.is_some() && a.path.is_some() {
            return Err("`port` and `path` are mutually exclusive".into());
        }
        if a.search_regex.is_some() && a.path.is_none() {
            return Err("`search_regex` is only supported with `path`".into());
        }
        if let Some(re) = &a.search_regex {
            fancy_regex::Regex::new(re).map_err(|e| format!("Invalid regular expression: {e}"))?;
        }
        if a.port.is_some() {
            Word::new(WordKind::Host, &a.host).map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    async fn plan(&self, a: &Args, cx: &ModuleCtx<'_>) -> Result<Plan<()>, ModuleError> {
        let out = cx.exec(script(a)?).await?;
        let elapsed: u64 = out
            .stdout_str()
            .lines()
            .find_map(|l| l.strip_prefix("elapsed ").and_then(|v| v.trim().parse().ok()))
            .unwrap_or(0);
        let state = a.state.clone().unwrap_or_else(|| "started".into());
        // A failure carries only its message and the time spent, as ansible-core's.
        match out.rc {
            0 => {}
            3 => return Ok(Plan::Ok(Outcome::failed(timeout_msg(a)).with("elapsed", elapsed))),
            rc => {
                let why = format!("wait_for could not check (exit status {rc}): {}", out.stderr_str().trim());
                return Ok(Plan::Ok(Outcome::failed(why).with("elapsed", elapsed)));
            }
        }
        // The groups need the file's text; a pattern without groups registers none, so the
        // file (a log, perhaps large) is read only for one with groups.
        let (mut groups, mut named) = (Vec::new(), serde_json::Map::new());
        if let (Some(p), Some(re), true) = (&a.path, &a.search_regex, a.want_up()) {
            if has_groups(re) {
                let (_, data) = crate::files::probe_read(cx, p).await?;
                (groups, named) = match_groups(re, &data.unwrap_or_default());
            }
        }
        let o = Outcome::ok()
            .with("state", state)
            .with("port", a.port.map(Value::from).unwrap_or(Value::from(())))
            .with("search_regex", a.search_regex.as_deref().map(Value::from).unwrap_or(Value::from(())))
            .with("match_groups", Value::from(minijinja::value::Serde(&groups)))
            .with("match_groupdict", Value::from(minijinja::value::Serde(&named)))
            .with("path", a.path.as_deref().map(Value::from).unwrap_or(Value::from(())))
            .with("elapsed", elapsed);
        // ansible-core adds the path's attributes (and its kind as `state`) when it exists.
        let o = match &a.path {
            Some(p) => {
                let st = crate::files::probe(cx, p, None, false).await?;
                crate::files::with_path_info(o, st.as_ref())
            }
            None => o,
        };
        Ok(Plan::Ok(o))
    }

    async fn apply(&self, _: &Args, _: (), _: &ModuleCtx<'_>) -> Result<Outcome, ModuleError> {
        Ok(Outcome::ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;
    use prov_core::testutil::FakeConnection;
    use serde_json::json;

    #[tokio::test]
    async fn port_open() {
        let h = fake(FakeConnection::new().on("start=", 0, "elapsed 2\n"));
        let o = run::<WaitFor>(json!({"port": 5432}), &h.ctx()).await;
        assert!(!o.changed && !o.failed);
        assert_eq!(o.data["elapsed"], Value::from(2));
        let call = &h.conn.calls()[0];
        assert!(call.contains("nc -z -w 5 \"$H\" 5432") && call.contains("end=$((start + 300))"), "{call}");
    }

    #[tokio::test]
    async fn timeout_fails_with_ansible_message() {
        let h = fake_check(FakeConnection::new().on("sleep 2", 3, "elapsed 10\n"));
        let o =
            run::<WaitFor>(json!({"host": "db", "port": 22, "state": "stopped", "delay": 2, "timeout": 10}), &h.ctx())
                .await;
        assert!(o.failed);
        assert_eq!(o.msg.as_deref(), Some("Timeout when waiting for db:22 to stop."));
    }

    #[tokio::test]
    async fn args() {
        let h = fake(FakeConnection::new());
        assert!(run_err::<WaitFor>(json!({"port": 1, "path": "/x"}), &h.ctx()).await.contains("exclusive"));
        assert!(unsupported::<WaitFor>(json!({"port": 1, "prot": 2}), &h.ctx())
            .await
            .starts_with("Unsupported parameters for ("));
    }

    #[tokio::test]
    async fn local_file_and_port() {
        let h = LocalHost::new();
        let p = h.path("ready");
        std::fs::write(&p, "boot\nstarted in 12 ms\n").unwrap();
        let o =
            run::<WaitFor>(json!({"path": p, "search_regex": "started in [0-9]+ ms", "timeout": 5}), &h.ctx()).await;
        assert!(!o.failed, "{o:?}");
        let o = run::<WaitFor>(json!({"path": h.path("nope"), "timeout": 1, "sleep": 1}), &h.ctx()).await;
        assert!(o.failed && o.msg.unwrap().contains("file"));
        let o = run::<WaitFor>(json!({"path": h.path("nope"), "state": "absent", "timeout": 1}), &h.ctx()).await;
        assert!(!o.failed);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let o = run::<WaitFor>(json!({"port": port, "timeout": 5}), &h.ctx()).await;
        assert!(!o.failed, "{o:?}");
        drop(listener);
        let o = run::<WaitFor>(json!({"port": port, "state": "stopped", "timeout": 5}), &h.ctx()).await;
        assert!(!o.failed, "{o:?}");
    }

    /// The results ansible-core 2.19.14 registered for the same tasks.
    #[tokio::test]
    async fn wait_for_registers_what_ansible_core_does() {
        let h = LocalHost::new();
        let p = h.path("src.txt");
        std::fs::write(&p, "hello\n").unwrap();
        let o = run::<WaitFor>(json!({"path": p, "search_regex": "h(el)l(?P<last>o)(x)?"}), &h.ctx()).await;
        let v = serde_json::to_value(&o.data).unwrap();
        assert!(!o.failed, "{o:?}");
        assert_eq!(v["match_groups"], json!(["el", "o", null]));
        assert_eq!(v["match_groupdict"], json!({"last": "o"}));
        assert_eq!((v["state"].as_str(), v["size"].as_u64(), v["port"].is_null()), (Some("file"), Some(6), true));
        assert_eq!(v["search_regex"], "h(el)l(?P<last>o)(x)?");
        // A line-spanning pattern, and anchors at each line, as Python's multi-line search.
        std::fs::write(&p, "boot\nready: 1\n").unwrap();
        let o =
            run::<WaitFor>(json!({"path": p, "search_regex": "boot\\n^ready: (?P<n>\\d)$", "timeout": 2}), &h.ctx())
                .await;
        assert!(!o.failed, "{o:?}");
        assert_eq!(serde_json::to_value(&o.data).unwrap()["match_groupdict"], json!({"n": "1"}));
        // `absent` looks only at the path: its contents do not matter.
        let o = run::<WaitFor>(json!({"path": h.path("nope"), "state": "absent", "search_regex": "x"}), &h.ctx()).await;
        let v = serde_json::to_value(&o.data).unwrap();
        assert_eq!((v["state"].as_str(), v["match_groups"].clone()), (Some("absent"), json!([])));
        assert!(v.get("owner").is_none(), "{v}");
        assert!(has_groups("a(b)") && has_groups("(?P<n>x)") && !has_groups("a(?:b)") && !has_groups("a\\(b\\)"));
        let o = run::<WaitFor>(json!({"path": h.path("nope"), "timeout": 1}), &h.ctx()).await;
        let v = serde_json::to_value(&o.data).unwrap();
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!((o.failed, keys), (true, vec!["elapsed"]), "only msg and elapsed: {o:?}");
        assert_eq!(o.msg.as_deref(), Some("Timeout when waiting for file ".to_string() + &h.path("nope")).as_deref());
        assert!(WaitFor::check_args(&serde_json::from_value(json!({"path": "/x", "search_regex": "a("})).unwrap())
            .unwrap_err()
            .starts_with("Invalid regular expression"));
    }

    #[tokio::test]
    async fn wait_for_host_that_is_an_option_is_refused_and_paths_and_regexes_are_data() {
        let h = fake(FakeConnection::new());
        for host in ["-e/bin/sh", "--help", "db 1", "a/b", "$(id)\n"] {
            let e = run_err::<WaitFor>(json!({"host": host, "port": 1}), &h.ctx()).await;
            assert!(e.contains("not a valid host name or address"), "{host:?}: {e}");
        }
        assert!(h.conn.calls().is_empty());
        let h = LocalHost::new();
        let marker = pwned_marker("wait_for");
        for v in hostile_values(&marker) {
            let p = h.path(&v.replace('/', "_"));
            std::fs::write(&p, format!("{v}\n")).unwrap();
            let o = run::<WaitFor>(json!({"path": p, "search_regex": "^", "timeout": 2}), &h.ctx()).await;
            assert!(!o.failed, "{v:?}: {o:?}");
            // As a regular expression the value may not match itself (`$(` is an anchor and a
            // group), but grep reads it as one: a timeout, not a failed check.
            let o = run::<WaitFor>(json!({"path": p, "search_regex": v, "timeout": 1}), &h.ctx()).await;
            assert!(!o.failed || o.msg.as_deref().unwrap_or_default().starts_with("Timeout"), "{v:?}: {o:?}");
        }
        let o = run::<WaitFor>(json!({"path": h.path("x"), "search_regex": "--help", "timeout": 1}), &h.ctx()).await;
        assert!(o.failed && o.msg.as_deref().unwrap_or_default().starts_with("Timeout"), "{o:?}");
        assert!(!std::path::Path::new(&marker).exists(), "a hostile value ran as shell");
    }
}
