//! Modules that run commands: `command`, `shell`, `raw`, `script`, and `ping`.

pub mod async_status;
pub mod command;
pub mod ping;
pub mod raw;
pub mod reboot;
pub mod script;
pub mod shell;
pub mod wait_for_connection;

use crate::util::{delta, probe_failed};
use minijinja::Value;
use prov_core::cmd::{Cmd, Sh};
use prov_core::module::{Action, Change, InCheck, ModuleCtx, ModuleError, Outcome, Plan};
use std::time::Instant;

/// Decides `creates` / `removes` with one probe (relative paths are taken from `chdir`).
/// Returns the "did not run" outcome when the command must not run.
pub(crate) async fn guard(
    cx: &ModuleCtx<'_>,
    chdir: Option<&str>,
    creates: Option<&str>,
    removes: Option<&str>,
    shown: &str,
) -> Result<Option<Outcome>, ModuleError> {
    if creates.is_none() && removes.is_none() {
        return Ok(None);
    }
    let mut cmd = Sh::default();
    if let Some(d) = chdir {
        cmd = cmd.then(Cmd::new("cd").operand(d).build().suffix(" || exit 1"));
    }
    for (key, path) in [("creates", creates), ("removes", removes)] {
        if let Some(p) = path {
            let (yes, no) = if key == "creates" { ("creates=1", "creates=0") } else { ("removes=1", "removes=0") };
            let ls = Sh::lit("if ls -d --").word(Sh::glob(p)).suffix(" >/dev/null 2>&1; then echo");
            cmd = cmd.then(ls.word(Sh::lit(yes)).suffix("; else echo").word(Sh::lit(no)).suffix("; fi"));
        }
    }
    let out = cx.exec(cmd).await?;
    if out.rc != 0 {
        return Err(probe_failed("checking creates/removes", &out));
    }
    let text = out.stdout_str();
    let skip = |msg: String, stdout: String| {
        let mut o = not_run(Value::from(shown), &stdout);
        o.msg = Some(msg);
        o
    };
    // ansible-core says "Would" in check mode.
    let did = if cx.is_check() { "Would" } else { "Did" };
    if let Some(p) = creates {
        if text.lines().any(|l| l == "creates=1") {
            return Ok(Some(skip(
                format!("{did} not run command since '{p}' exists"),
                format!("skipped, since {p} exists"),
            )));
        }
    }
    if let Some(p) = removes {
        if text.lines().any(|l| l == "removes=0") {
            return Ok(Some(skip(
                format!("{did} not run command since '{p}' does not exist"),
                format!("skipped, since {p} does not exist"),
            )));
        }
    }
    Ok(None)
}

/// The result of a command that did not run, as ansible-core's command module registers it:
/// `cmd`, `rc` 0, the given `stdout`, empty `stderr`, `start`, `end` and `delta` null.
fn not_run(cmd: Value, stdout: &str) -> Outcome {
    let lines: Vec<String> = stdout.lines().map(str::to_string).collect();
    let mut o = Outcome::ok();
    for (k, v) in [
        ("cmd", cmd),
        ("rc", Value::from(0)),
        ("stdout", Value::from(stdout)),
        ("stdout_lines", Value::from(lines)),
        ("stderr", Value::from("")),
        ("stderr_lines", Value::from(Vec::<String>::new())),
        ("start", Value::from(())),
        ("end", Value::from(())),
        ("delta", Value::from(())),
    ] {
        o.data.insert(k.into(), v);
    }
    o
}

/// A command change: shown as `! command ...` and skipped in check mode.
pub(crate) fn run_change<P>(plan: P, shown: &str) -> Plan<P> {
    let mut ch = Change::new(plan, Action::Run, "command", shown);
    ch.in_check = InCheck::Skipped;
    Plan::Change(ch)
}

/// A `command` or `shell` change: [`run_change`] with what ansible-core's module registers in
/// check mode (the command as `cmd`, `rc` 0, empty output). Without `creates` and `removes`
/// the task is skipped there; with one of them (that did not stop it) it counts as changed.
pub(crate) fn command_change<P>(plan: P, shown: &str, cmd: Value, guarded: bool) -> Plan<P> {
    let mut ch = run_change(plan, shown);
    if let Plan::Change(c) = &mut ch {
        c.msg = Some("Command would have run if not in check mode".into());
        c.data = not_run(cmd, "").data;
        if guarded {
            c.in_check = InCheck::Changed;
        }
    }
    ch
}

/// A fire-and-forget `async` command cannot have `creates`, `removes` or `stdin` in prov.
pub(crate) fn no_guards(creates: Option<&str>, removes: Option<&str>, stdin: Option<&str>) -> Result<(), String> {
    for (k, v) in [("creates", creates), ("removes", removes), ("stdin", stdin)] {
        if v.is_some() {
            return Err(format!("fire-and-forget `async` (`poll: 0`) with `{k}` is not supported by prov yet"));
        }
    }
    Ok(())
}

/// How ansible-core shows `start` and `end` (the local time, to the microsecond).
const TIME: &str = "%Y-%m-%d %H:%M:%S%.6f";

/// Runs the final command line and builds Ansible's result.
pub(crate) async fn execute(
    cx: &ModuleCtx<'_>,
    line: String,
    stdin: Option<&str>,
    add_newline: bool,
    strip_empty_ends: bool,
    shown: Value,
) -> Result<Outcome, ModuleError> {
    let start = Instant::now();
    let started = chrono::Local::now();
    let out = match stdin {
        Some(s) => {
            let mut data = s.as_bytes().to_vec();
            if add_newline && !s.ends_with('\n') {
                data.push(b'\n');
            }
            cx.exec_stdin(line, data).await?
        }
        None => cx.exec(line).await?,
    };
    let started = started.format(TIME).to_string();
    let ended = chrono::Local::now().format(TIME).to_string();
    Ok(command_outcome(&out, strip_empty_ends, shown, started, ended, delta(start.elapsed())))
}

/// ansible-core's result of a command that ran: its output (`strip_empty_ends`: every
/// trailing line end goes; without it the output is kept whole), `rc`, `cmd`, `start`, `end`,
/// `delta`, and a failure for a non-zero status.
pub(crate) fn command_outcome(
    out: &prov_core::connection::ExecOutput,
    strip_empty_ends: bool,
    shown: Value,
    start: String,
    end: String,
    delta: String,
) -> Outcome {
    let text = |b: &[u8]| {
        let t = String::from_utf8_lossy(b).into_owned();
        if strip_empty_ends {
            t.trim_end_matches(['\r', '\n']).to_string()
        } else {
            t
        }
    };
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    let lines = |t: &str| Value::from(t.lines().map(str::to_string).collect::<Vec<_>>());
    let mut o = Outcome { changed: true, ..Outcome::ok() }
        .with_exec(out)
        .with("stdout_lines", lines(&stdout))
        .with("stderr_lines", lines(&stderr))
        .with("stdout", stdout.as_str())
        .with("stderr", stderr.as_str())
        .with("cmd", shown)
        .with("delta", delta)
        .with("start", start)
        .with("end", end);
    o.msg = Some(if out.rc != 0 { "non-zero return code" } else { "" }.into());
    o.failed = out.rc != 0;
    o
}

/// `executable` of `raw` and `script`: Ansible pastes it into the command line unquoted, so
/// `/bin/bash -l` is a program and its option. Split like a shell, each word quoted.
pub(crate) fn executable_words(exe: &str) -> Result<Sh, String> {
    let words = split_words(exe).map_err(|e| format!("executable: {e}"))?;
    let mut words = words.iter();
    let first = words.next().ok_or("executable is empty")?;
    Ok(words.fold(Sh::quoted(first), |sh, w| sh.word(Sh::quoted(w))))
}

/// Splits a command line into words like Python's `shlex.split` (no comments).
pub(crate) fn split_words(s: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => cur.push(c),
                        None => return Err(format!("no closing quotation in `{s}`")),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\' | '$' | '`')) => cur.push(c),
                            Some('\n') => {}
                            Some(c) => {
                                cur.push('\\');
                                cur.push(c);
                            }
                            None => return Err(format!("no closing quotation in `{s}`")),
                        },
                        Some(c) => cur.push(c),
                        None => return Err(format!("no closing quotation in `{s}`")),
                    }
                }
            }
            '\\' => {
                in_word = true;
                match chars.next() {
                    Some('\n') => {}
                    Some(c) => cur.push(c),
                    None => return Err(format!("no escaped character after `\\` in `{s}`")),
                }
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_like_shlex() {
        assert_eq!(split_words("echo 'a b' \"c\\\"d\" e\\ f").unwrap(), vec!["echo", "a b", "c\"d", "e f"]);
        assert_eq!(split_words("  a   ''  ").unwrap(), vec!["a", ""]);
        assert!(split_words("echo 'a").is_err());
    }

    #[test]
    fn quotes_args() {
        assert_eq!(Sh::expanding("$HOME/x y").as_str(), "\"$HOME/x y\"");
        assert_eq!(Sh::expanding("~/a$").as_str(), "~/\"a\\$\"");
        assert_eq!(Sh::glob("/tmp/a b*").as_str(), "/tmp/a\\ b*");
    }
}
