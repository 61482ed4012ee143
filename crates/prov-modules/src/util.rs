//! Small helpers shared by the target modules.

use prov_core::connection::{shell_quote, ExecOutput};
use prov_core::module::{Change, ModuleError, Outcome};
use std::time::Duration;

/// Quotes a value for `sh`.
pub(crate) fn q(s: &str) -> String {
    shell_quote(s)
}

/// The error for a read-only probe that exited non-zero.
pub(crate) fn probe_failed(what: &str, out: &ExecOutput) -> ModuleError {
    let err = out.stderr_str();
    let err = err.trim();
    let stdout = out.stdout_str();
    let detail = if err.is_empty() { stdout.trim() } else { err };
    if detail.is_empty() {
        ModuleError::Failed(format!("{what} failed (exit status {})", out.rc))
    } else {
        ModuleError::Failed(format!("{what} failed (exit status {}): {detail}", out.rc))
    }
}

/// What `user` and `group` register of their command's output, as Ansible's do: `stdout` and
/// `stderr` only when not empty, as printed (final newline kept), each with the `_lines` the
/// controller adds.
pub(crate) fn with_command_text(mut o: Outcome, out: &ExecOutput) -> Outcome {
    for (key, text) in [("stdout", out.stdout_str()), ("stderr", out.stderr_str())] {
        if !text.is_empty() {
            let lines: Vec<String> = text.lines().map(str::to_string).collect();
            o = o.with(key, text.as_str()).with(&format!("{key}_lines"), lines);
        }
    }
    o
}

/// A change as check mode reports it when the module registers data there too (as Ansible's
/// `user` and `group` do for an account that exists): `result`, changed, with the change's
/// diffs and summary.
pub(crate) fn in_check<P>(ch: Change<P>, result: Outcome) -> Outcome {
    Outcome { changed: true, diffs: ch.diffs, planned: ch.planned, msg: ch.msg, ..result }
}

/// A mode as Ansible shows it: `0644`.
pub(crate) fn octal(m: u32) -> String {
    format!("{m:04o}")
}

/// Ansible's `delta` format: `0:00:01.234567`.
pub(crate) fn delta(d: Duration) -> String {
    let s = d.as_secs();
    format!("{}:{:02}:{:02}.{:06}", s / 3600, (s / 60) % 60, s % 60, d.subsec_micros())
}

/// A text for a diff: the bytes when they are UTF-8, a placeholder otherwise.
pub(crate) fn diff_text(data: &[u8]) -> String {
    match std::str::from_utf8(data) {
        Ok(s) if !s.contains('\0') => s.to_string(),
        _ => format!("(binary data, {} bytes)\n", data.len()),
    }
}

/// A scalar YAML may have typed as a number or boolean, as text the way ansible-core's `type:
/// str` makes it (Python's `str()`: `True`, `1.0`).
pub use prov_core::args::ScalarText as Text;

/// Deserializes a string that YAML may have typed as a number or boolean.
pub(crate) fn stringish<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    <Text as serde::Deserialize>::deserialize(d).map(|t| Some(t.0))
}

/// A required [`Text`] argument.
pub(crate) fn py_text<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    <Text as serde::Deserialize>::deserialize(d).map(|t| t.0)
}

/// An optional boolean as Ansible reads one (`yes`, `"true"`, ...), null as not given.
pub(crate) fn opt_bool_or_null<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    #[derive(serde::Deserialize)]
    struct B(#[serde(deserialize_with = "prov_core::args::lenient_bool")] bool);
    <Option<B> as serde::Deserialize>::deserialize(d).map(|b| b.map(|b| b.0))
}

/// The value of a helper that may end the task (`Ok(Err(outcome))`), or returns that outcome
/// from the module's `plan` or `apply` (wrapped by `$wrap`: `Plan::Ok` in `plan`).
macro_rules! or_fail {
    ($e:expr) => {
        or_fail!($e, std::convert::identity)
    };
    ($e:expr, $wrap:expr) => {
        match $e? {
            Ok(v) => v,
            Err(o) => return Ok($wrap(o)),
        }
    };
}
pub(crate) use or_fail;

/// `plan` of a module that decides while it acts, as its Ansible counterpart does (`git`,
/// community.docker's modules): outside check mode, a change for `apply` to run; in check
/// mode, `run`'s own result (a change when it would change something: its fields, message and
/// diffs).
pub(crate) async fn decide_while_acting<F>(
    cx: &prov_core::module::ModuleCtx<'_>,
    action: prov_core::module::Action,
    resource: &'static str,
    name: String,
    run: F,
) -> Result<prov_core::module::Plan<()>, ModuleError>
where
    F: std::future::Future<Output = Result<Outcome, ModuleError>>,
{
    use prov_core::module::Plan;
    if !cx.is_check() {
        return Ok(Plan::Change(Change::new((), action, resource, name)));
    }
    let o = run.await?;
    if !o.changed || o.failed {
        return Ok(Plan::Ok(o));
    }
    let mut ch = Change::new((), action, resource, name);
    (ch.data, ch.msg, ch.diffs) = (o.data, o.msg, o.diffs);
    Ok(Plan::Change(ch))
}

/// `test FLAG PATH` on the target (`test` takes no `--`: the path is a checked word).
pub(crate) async fn path_test(
    cx: &prov_core::module::ModuleCtx<'_>,
    flag: &'static str,
    path: &str,
) -> Result<bool, ModuleError> {
    use prov_core::cmd::{Cmd, Word, WordKind};
    let path = Word::new(WordKind::Path, path).map_err(|e| ModuleError::Failed(e.to_string()))?;
    Ok(cx.exec(Cmd::new("test").flag(flag).word(&path).build()).await?.rc == 0)
}

/// `command -v NAME` on the target: where the program is, if it is there.
pub(crate) async fn which(cx: &prov_core::module::ModuleCtx<'_>, name: &str) -> Result<Option<String>, ModuleError> {
    let out = cx.exec(prov_core::cmd::Cmd::new("command").flag("-v").operand(name).build()).await?;
    let found = out.stdout_str().trim().to_string();
    Ok((out.rc == 0 && !found.is_empty()).then_some(found))
}

/// A program a module requires (ansible-core's `get_bin_path(name, True)`): its path (the
/// `PATH`, then the sbin directories: [`bin_lookup`]), or the failed result with ansible-core's
/// message ([`missing_bin`]).
pub(crate) async fn required_bin(
    cx: &prov_core::module::ModuleCtx<'_>,
    name: &str,
) -> Result<Result<String, Outcome>, ModuleError> {
    let out = cx.exec(bin_lookup(name)).await?;
    match out.stdout_str().lines().find(|l| l.starts_with('/')) {
        Some(p) => Ok(Ok(p.to_string())),
        None => Ok(Err(missing_bin(cx, name).await?)),
    }
}

/// A shell fragment that prints where `name` is, as ansible-core's `get_bin_path` looks: the
/// `PATH`, then `/sbin`, `/usr/sbin` and `/usr/local/sbin`; nothing when it is nowhere. For
/// probes that ask more in the same command, joined with `then` ([`missing_bin`] words the
/// failure).
pub(crate) fn bin_lookup(name: &str) -> prov_core::cmd::Sh {
    use prov_core::cmd::Sh;
    Sh::lit("command -v -- ")
        .glued(Sh::quoted(name))
        .suffix(" || for d in /sbin /usr/sbin /usr/local/sbin; do [ -x \"$d/\"")
        .glued(Sh::quoted(name))
        .suffix(" ] && echo \"$d/\"")
        .glued(Sh::quoted(name))
        .suffix(" && break; done")
}

/// A command from its words (the first is the program) as ansible-core's `run_command` runs a
/// list: each word one argument in which the target's shell expands `$VAR` and a leading `~`
/// and nothing else ([`prov_core::cmd::Sh::expanding`]), after `prefix` (environment
/// assignments such as `LC_ALL=C `). For modules that register the words they ran in `cmd`, as
/// their Ansible counterparts do; what could be read as an option was refused before or is an
/// option by intent.
pub(crate) fn argv(prefix: prov_core::cmd::Sh, words: &[String]) -> prov_core::cmd::Sh {
    use prov_core::cmd::Sh;
    let Some((program, rest)) = words.split_first() else { return prefix };
    rest.iter().fold(prefix.glued(Sh::expanding(program)), |c, w| c.word(Sh::expanding(w)))
}

/// ansible-core's `get_bin_path(name, required=True)` failure: the target's `PATH` with the sbin
/// directories it adds when they are missing (for modules that looked there too).
pub(crate) async fn missing_bin(cx: &prov_core::module::ModuleCtx<'_>, name: &str) -> Result<Outcome, ModuleError> {
    let path = cx.exec(prov_core::cmd::Sh::lit("printf %s \"$PATH\"")).await?.stdout_str();
    let mut dirs: Vec<&str> = path.split(':').collect();
    for d in ["/sbin", "/usr/sbin", "/usr/local/sbin"] {
        if !dirs.contains(&d) {
            dirs.push(d);
        }
    }
    Ok(Outcome::failed(format!("Failed to find required executable \"{name}\" in paths: {}", dirs.join(":"))))
}

/// One section of a probe script's output: the text after its `--NAME--` line, up to the
/// next line starting with `--`.
pub(crate) fn section<'a>(out: &'a str, name: &str) -> Option<&'a str> {
    let marker = format!("--{name}--\n");
    let start = out.find(&marker)? + marker.len();
    let rest = &out[start..];
    let end = rest.find("\n--").map(|i| i + 1).unwrap_or(rest.len());
    Some(&rest[..end])
}

/// `o` setting the fact `name` as a module's facts are set: under `ansible_facts` in the
/// registered result, and on the host (a fact without the `ansible_` prefix is also a variable
/// of its own name: `packages`, `services`, `getent_passwd`).
pub(crate) fn with_fact(o: Outcome, name: &str, value: minijinja::Value) -> Outcome {
    let mut o = o.with("ansible_facts", minijinja::Value::from_pairs(vec![(name.to_string(), value.clone())]));
    o.host_facts = vec![(name.to_string(), value)];
    o
}

/// Writes `text` to the file at `path` on the target when it differs (atomically, keeping the
/// file's mode and owner), as modules that edit a system file do; `Err` is the failed result.
pub(crate) async fn write_file(
    cx: &prov_core::module::ModuleCtx<'_>,
    path: &str,
    text: &str,
) -> Result<Result<(), prov_core::module::Outcome>, ModuleError> {
    rewrite_file(cx, path, |_| text.to_string()).await
}

/// [`write_file`] of what `edit` makes of the file's text (empty when it does not exist),
/// reading the file once.
pub(crate) async fn rewrite_file(
    cx: &prov_core::module::ModuleCtx<'_>,
    path: &str,
    edit: impl FnOnce(&str) -> String + Send,
) -> Result<Result<(), prov_core::module::Outcome>, ModuleError> {
    rewrite_file_as(cx, path, edit, None).await
}

/// [`rewrite_file`], giving a file it creates the mode `new_mode` (an existing file keeps its
/// own, as Python's `os.open(path, O_CREAT | O_TRUNC, mode)` does).
pub(crate) async fn rewrite_file_as(
    cx: &prov_core::module::ModuleCtx<'_>,
    path: &str,
    edit: impl FnOnce(&str) -> String + Send,
    new_mode: Option<u32>,
) -> Result<Result<(), prov_core::module::Outcome>, ModuleError> {
    use crate::files::{edit as file_edit, Attrs};
    let r = file_edit::read(cx, path).await?;
    let text = edit(&String::from_utf8_lossy(r.data.as_deref().unwrap_or_default()));
    let mode = new_mode.filter(|_| r.data.is_none()).map(prov_core::args::Mode::Octal);
    let attrs = Attrs { mode, ..Attrs::default() };
    if let prov_core::module::Plan::Change(ch) =
        file_edit::plan(cx, &r, text.into_bytes(), "", &attrs, file_edit::Registers::Nothing)
    {
        let o = file_edit::apply(cx, ch.plan, &attrs, false, None).await?;
        if o.failed {
            return Ok(Err(o));
        }
    }
    Ok(Ok(()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Files that still quote values into command text by hand (`q()`, `shell_quote`) instead of
    /// building it with `prov_core::cmd`. The list only shrinks: a new file quoting by hand
    /// fails the test below.
    const HAND_QUOTING: &[&str] = &[
        // A value in docker's own shell-like syntax (`--args`), not a shell command.
        "containers/cli.rs",
        // A test connection's command lines.
        "containers/testconn.rs",
        // Defines `q`.
        "util.rs",
    ];

    /// Where `text` quotes by hand: `shell_quote(` or a call of `q(`.
    fn hand_quoting(text: &str) -> Vec<usize> {
        let mut at = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let calls_q = line
                .match_indices("q(")
                .any(|(i, _)| !line[..i].ends_with(|c: char| c.is_alphanumeric() || "_.:^".contains(c)));
            if calls_q || line.contains("shell_quote(") {
                at.push(n + 1);
            }
        }
        at
    }

    #[test]
    fn commands_are_built_with_the_one_builder_outside_the_listed_files() {
        fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
            for e in std::fs::read_dir(dir).expect("the sources are readable").flatten() {
                let p = e.path();
                if p.is_dir() {
                    walk(&p, out);
                } else if p.extension().is_some_and(|x| x == "rs") {
                    out.push(p);
                }
            }
        }
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files = Vec::new();
        walk(&src, &mut files);
        assert!(files.len() > 50, "found the module sources");
        let mut bad = Vec::new();
        for f in files {
            let rel = f.strip_prefix(&src).expect("under src").to_string_lossy().replace('\\', "/");
            let lines = hand_quoting(&std::fs::read_to_string(&f).expect("readable"));
            if !lines.is_empty() && !HAND_QUOTING.contains(&rel.as_str()) {
                bad.push(format!("{rel}: lines {lines:?}"));
            }
        }
        assert!(bad.is_empty(), "build these commands with prov_core::cmd (Cmd, Sh, Word):\n{}", bad.join("\n"));
        assert_eq!(hand_quoting("let a = q(&x);\nlet b = shell_quote(y);\nSh::quoted(z); \"^q(.)\""), [1, 2]);
    }

    #[test]
    fn formats() {
        assert_eq!(octal(0o644), "0644");
        assert_eq!(delta(Duration::from_millis(61_500)), "0:01:01.500000");
        assert_eq!(diff_text(b"a\n"), "a\n");
    }
}

pub(crate) use prov_core::template::py_truthy;

/// ansible-core's guess at passwords in a message (`heuristic_log_sanitize`): the text between
/// the `:` after a `scheme://user` (or, without a scheme, any `:` from the fourth character on)
/// and the `@` that follows is masked, from the last `@` backwards. It has false positives
/// (`http://host:port/x@y` loses its port), which results must show as ansible-core shows them.
pub(crate) fn heuristic_log_sanitize(data: &str) -> String {
    // Python indexes characters; `://`, `:` and `@` are ASCII, so byte offsets found by
    // searching are character boundaries, and only "three characters from the start" needs
    // counting.
    let third_char = data.char_indices().nth(3).map(|(i, _)| i).unwrap_or(data.len());
    let mut parts: Vec<&str> = Vec::new();
    let mut begin = data.len();
    let mut prev_begin = begin;
    loop {
        let Some(end) = data[..begin].rfind('@') else {
            parts.push(&data[..begin]);
            break;
        };
        let mut search_end = end;
        let sep = loop {
            begin = data[..search_end].rfind("://").unwrap_or(0);
            let from = if begin == 0 && !data.starts_with("://") { third_char } else { begin + 3 };
            if let Some(i) = data.get(from..end).and_then(|s| s.find(':')) {
                break Some(from + i);
            }
            if begin == 0 {
                parts.push(&data[..prev_begin]);
                break None;
            }
            search_end = begin;
        };
        let Some(sep) = sep else { break };
        parts.push(&data[end..prev_begin]);
        parts.push("********");
        parts.push(&data[begin..=sep]);
        prev_begin = begin;
    }
    parts.reverse();
    parts.concat()
}

/// A command as ansible-core shows it in a result (`_clean_args`): the value after an argument
/// that starts with `pass` (or `-pass`, `--pass`) masked, `--password=x` as `--password=********`,
/// each word through [`heuristic_log_sanitize`], quoted as `shlex.quote` quotes.
pub(crate) fn clean_args(args: &[String]) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut secret_next = false;
    for arg in args {
        if secret_next {
            secret_next = false;
            out.push("********".into());
            continue;
        }
        if arg.trim_start_matches('-').len() + 2 >= arg.len() && arg.trim_start_matches('-').starts_with("pass") {
            if let Some(i) = arg.find('=') {
                out.push(format!("{}=********", &arg[..i]));
                continue;
            }
            secret_next = true;
        }
        out.push(heuristic_log_sanitize(arg));
    }
    out.iter().map(|w| prov_core::cmd::shlex_quote(w)).collect::<Vec<_>>().join(" ")
}

/// The failed result of a command a module ran with `check_rc` (ansible-core's `run_command`):
/// `cmd` as [`clean_args`] shows it, `rc`, `stdout` and `stderr` as printed, and `msg`, the
/// errors without their final white space, through [`heuristic_log_sanitize`].
pub(crate) fn run_failed(cmd: &[String], out: &ExecOutput) -> Outcome {
    let o = Outcome::failed(heuristic_log_sanitize(out.stderr_str().trim_end())).with("cmd", clean_args(cmd));
    with_raw_output(o, out)
}

/// `o` with `key` (`stdout`, `stderr`) set to `text` and `KEY_lines` to its lines, as the
/// controller adds them to a module's result that has the one and not the other.
pub(crate) fn with_lines(o: Outcome, key: &str, text: &str) -> Outcome {
    let lines = minijinja::Value::from(text.lines().map(str::to_string).collect::<Vec<_>>());
    o.with(key, text).with(&format!("{key}_lines"), lines)
}

/// `o` with a command's `rc`, `stdout` and `stderr` as printed (final newline kept, as a module's
/// `fail_json(stdout=..., stderr=..., rc=...)` returns them) and the `_lines` the controller adds.
pub(crate) fn with_raw_output(o: Outcome, out: &ExecOutput) -> Outcome {
    let (stdout, stderr) = (out.stdout_str(), out.stderr_str());
    let lines = |t: &str| minijinja::Value::from(t.lines().map(str::to_string).collect::<Vec<_>>());
    o.with("rc", out.rc)
        .with("stdout_lines", lines(&stdout))
        .with("stderr_lines", lines(&stderr))
        .with("stdout", stdout)
        .with("stderr", stderr)
}

#[cfg(test)]
mod sanitize_tests {
    use super::*;

    #[test]
    fn passwords_are_masked_as_ansible_core_guesses_them() {
        // Values from ansible-core 2.19's heuristic_log_sanitize.
        let s = heuristic_log_sanitize;
        assert_eq!(s("http://user:secret@host/x"), "http://user:********@host/x");
        assert_eq!(s("no password here"), "no password here");
        assert_eq!(s("user:pass@host"), "user:********@host");
        assert_eq!(s("ab:c@d"), "ab:c@d");
        assert_eq!(
            s("GET http://127.0.0.1:48731/x\n404 'x@*' not found"),
            "GET http://127.0.0.1:********@*' not found"
        );
        assert_eq!(s("a@b http://u:p@h and ftp://v:q@i"), "a@b http://u:********@h and ftp://v:********@i");
        assert_eq!(s("éé:x@y"), "éé:x@y", "the separator is looked for from the fourth character");
        assert_eq!(s("://a:b@c"), "://a:********@c");
        assert_eq!(s("x://a@b:c@d"), "x://a@b:********@d");
    }

    /// ansible-core's `type: str` of a float or a boolean is Python's `str()`: `1.0`, not `1`;
    /// `True`, not `true` (`lineinfile: {line: yes}` writes `True`).
    #[test]
    fn a_float_given_for_text_is_written_as_python_writes_it() {
        let t = |v: serde_json::Value| serde_json::from_value::<Text>(v).expect("text").0;
        assert_eq!(t(serde_json::json!(true)), "True");
        assert_eq!(t(serde_json::json!(false)), "False");
        assert_eq!(t(serde_json::json!(1.0)), "1.0");
        assert_eq!(t(serde_json::json!(1e16)), "1e+16");
        assert_eq!(t(serde_json::json!(0.5)), "0.5");
        let l = |v: serde_json::Value| {
            #[derive(serde::Deserialize)]
            struct A {
                #[serde(deserialize_with = "str_list")]
                l: Option<Vec<String>>,
            }
            serde_json::from_value::<A>(serde_json::json!({ "l": v })).expect("list").l.unwrap_or_default()
        };
        assert_eq!(l(serde_json::json!([2.0, true])), ["2.0", "True"]);
    }

    #[test]
    fn commands_are_shown_as_ansible_core_cleans_them() {
        let a = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(clean_args(&a(&["/usr/bin/npm", "install", "x y"])), "/usr/bin/npm install 'x y'");
        assert_eq!(
            clean_args(&a(&["cli", "--password", "s3", "--pass=x", "k"])),
            "cli --password '********' '--pass=********' k"
        );
    }
}

/// A list of strings as Ansible's `type: list, elements: str` reads it ([`StringList`]), for an
/// optional field.
pub(crate) fn str_list<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    <prov_core::args::StringList as serde::Deserialize>::deserialize(d).map(|l| Some(l.0))
}

/// Python's `int()` of an argument given as text (a number YAML typed, or a string), or
/// `default` when it is absent; its error is Python's. `T` bounds what the module accepts
/// (`u64`: a negative value is an error).
pub(crate) fn py_int<T: std::str::FromStr>(v: &Option<String>, default: T) -> Result<T, String> {
    match v {
        None => Ok(default),
        Some(s) => s.trim().parse::<T>().map_err(|_| format!("invalid literal for int() with base 10: '{s}'")),
    }
}
