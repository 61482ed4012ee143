//! Modules that run commands: `command`, `shell`, `raw`, `script`, and `ping`.

pub mod command;
pub mod ping;
pub mod raw;
pub mod script;
pub mod shell;

use crate::util::{delta, probe_failed, q};
use minijinja::Value;
use prov_core::cmd::Sh;
use prov_core::module::{Action, Change, InCheck, ModuleCtx, ModuleError, Outcome, Plan};
use std::time::Instant;

/// Quotes a `creates`/`removes` path so that only its glob characters stay active.
pub(crate) fn glob_quote(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if c.is_ascii_alphanumeric() || "/._-*?[]+,=@%:".contains(c) {
            out.push(c);
        } else if c == '\n' {
            out.push_str("'\n'");
        } else {
            out.push('\\');
            out.push(c);
        }
    }
    if out.is_empty() {
        "''".into()
    } else {
        out
    }
}

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
    let mut cmd = String::new();
    if let Some(d) = chdir {
        cmd.push_str(&format!("cd -- {} || exit 1; ", q(d)));
    }
    for (key, path) in [("creates", creates), ("removes", removes)] {
        if let Some(p) = path {
            cmd.push_str(&format!(
                "if ls -d -- {} >/dev/null 2>&1; then echo {key}=1; else echo {key}=0; fi; ",
                glob_quote(p)
            ));
        }
    }
    let out = cx.exec(cmd).await?;
    if out.rc != 0 {
        return Err(probe_failed("checking creates/removes", &out));
    }
    let text = out.stdout_str();
    let skip = |msg: String, stdout: String| {
        let mut o = Outcome::ok().with("cmd", shown).with("rc", 0).with("stdout", stdout.clone());
        o.data.insert("stdout_lines".into(), Value::from(vec![stdout]));
        o.data.insert("stderr".into(), Value::from(""));
        o.data.insert("stderr_lines".into(), Value::from(Vec::<String>::new()));
        o.msg = Some(msg);
        o
    };
    if let Some(p) = creates {
        if text.lines().any(|l| l == "creates=1") {
            return Ok(Some(skip(
                format!("Did not run command since '{p}' exists"),
                format!("skipped, since {p} exists"),
            )));
        }
    }
    if let Some(p) = removes {
        if text.lines().any(|l| l == "removes=0") {
            return Ok(Some(skip(
                format!("Did not run command since '{p}' does not exist"),
                format!("skipped, since {p} does not exist"),
            )));
        }
    }
    Ok(None)
}

/// A command change: shown as `! command ...` and skipped in check mode.
pub(crate) fn run_change<P>(plan: P, shown: &str) -> Plan<P> {
    let mut ch = Change::new(plan, Action::Run, "command", shown);
    ch.in_check = InCheck::Skipped;
    Plan::Change(ch)
}

/// How ansible-core shows `start` and `end` (the local time, to the microsecond).
const TIME: &str = "%Y-%m-%d %H:%M:%S%.6f";

/// Runs the final command line and builds Ansible's result.
pub(crate) async fn execute(
    cx: &ModuleCtx<'_>,
    line: String,
    stdin: Option<&str>,
    add_newline: bool,
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
    let mut o = Outcome { changed: true, ..Outcome::ok() }
        .with_exec(&out)
        .with("cmd", shown)
        .with("delta", delta(start.elapsed()))
        .with("start", started.format(TIME).to_string())
        .with("end", chrono::Local::now().format(TIME).to_string());
    o.msg = Some(if out.rc != 0 { "non-zero return code" } else { "" }.into());
    o.failed = out.rc != 0;
    Ok(o)
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

/// Quotes one argument; with `expand`, `$VAR`, `${VAR}` and a leading `~` are still expanded by
/// the target's shell (Ansible's `expand_argument_vars`).
pub(crate) fn quote_arg(arg: &str, expand: bool) -> String {
    if !expand || (!arg.contains('$') && !arg.starts_with('~')) {
        return q(arg);
    }
    let mut out = String::new();
    let mut rest = arg;
    if let Some(t) = arg.strip_prefix('~') {
        let end = t.find('/').unwrap_or(t.len());
        let user = &t[..end];
        if user.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') {
            out.push('~');
            out.push_str(user);
            rest = &t[end..];
        }
    }
    out.push('"');
    let mut it = rest.chars().peekable();
    while let Some(c) = it.next() {
        match c {
            '$' => {
                let next_ok = matches!(it.peek(), Some(n) if n.is_ascii_alphabetic() || *n == '_' || *n == '{');
                if next_ok {
                    out.push('$');
                } else {
                    out.push_str("\\$");
                }
            }
            '"' | '\\' | '`' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
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
        assert_eq!(quote_arg("a b", false), "'a b'");
        assert_eq!(quote_arg("$HOME/x y", true), "\"$HOME/x y\"");
        assert_eq!(quote_arg("~/a$", true), "~\"/a\\$\"");
        assert_eq!(quote_arg("$HOME", false), "'$HOME'");
        assert_eq!(glob_quote("/tmp/a b*"), "/tmp/a\\ b*");
    }
}
