//! What the modules that edit a text file in place (`blockinfile`, `replace`) share: reading the
//! file through its symbolic links in one command, planning the write of the new bytes with
//! mode and ownership, and making it (backup, validate, atomic upload, attributes).

use super::WritePlan;
use super::{
    apply_write, attr_diff, parse_probe_read, probe_read_command, state_diff, Attrs, DiffSide, FileState, Kind,
};
use crate::util::{diff_text, probe_failed};
use minijinja::value::Serde;
use minijinja::Value;
use prov_core::cmd::{Cmd, Sh};
use prov_core::module::{Action, Change, DiffMode, ModuleCtx, ModuleError, Outcome, Plan};

/// A file read for editing.
pub(crate) struct Read {
    /// The path the task named.
    pub path: String,
    /// Where its bytes live: the path with symbolic links resolved (Ansible writes there).
    pub real: String,
    /// Its state (links followed); `None` when it does not exist.
    pub st: Option<FileState>,
    /// Its bytes, for a regular file.
    pub data: Option<Vec<u8>>,
}

/// Reads `path`'s real path, state and bytes in one command.
pub(crate) async fn read(cx: &ModuleCtx<'_>, path: &str) -> Result<Read, ModuleError> {
    // `$(…)` drops trailing newlines, which a path may end with: a `.` after readlink's own
    // newline keeps them, and both are cut off again.
    let real = Cmd::new("readlink").flag("-f").operand(path).build().suffix(" 2>/dev/null && echo .");
    let cmd = Sh::lit("R=$(")
        .glued(real)
        .suffix(") && R=${R%??} || R=")
        .glued(Sh::quoted(path))
        .then(Sh::lit("printf 'real %s\\0' \"$R\""))
        .then(probe_read_command(path));
    let out = cx.exec(cmd).await?;
    if out.rc != 0 {
        return Err(probe_failed(&format!("reading {path}"), &out));
    }
    // The real path ends with a NUL, the one byte a path cannot hold (it may hold a newline).
    let (first, rest) = match out.stdout.iter().position(|b| *b == 0) {
        Some(i) => (&out.stdout[..i], &out.stdout[i + 1..]),
        None => (&out.stdout[..], &[][..]),
    };
    let real =
        String::from_utf8_lossy(first).strip_prefix("real ").filter(|r| !r.is_empty()).unwrap_or(path).to_string();
    let (st, data) = parse_probe_read(rest).map_err(|e| ModuleError::Failed(format!("{path}: {e}")))?;
    Ok(Read { path: path.to_string(), real, st, data })
}

impl Read {
    /// Whether the path is a directory.
    pub(crate) fn is_dir(&self) -> bool {
        self.st.as_ref().is_some_and(|s| s.kind == Kind::Dir)
    }
}

/// A planned edit: the write, and the directory to create first for a new file.
pub struct EditPlan {
    write: WritePlan,
    mkdir: Option<String>,
}

/// Which `diff` a module that edits a file registers, as its ansible-core counterpart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Registers {
    /// None (ini_file, authorized_key).
    Nothing,
    /// Always a list of two: the content (texts only under `--diff`) and the file attributes
    /// (lineinfile, blockinfile).
    Lines,
    /// A changed content under `--diff` only, as one mapping (replace).
    Replace,
}

/// The `diff` lineinfile and blockinfile register: the content entry, with the texts only under
/// `--diff`, and the file attributes entry, with what changes.
pub(crate) fn lines_diff(path: &str, texts: Option<(&str, &str)>, attrs: Option<(DiffSide, DiffSide)>) -> Value {
    let (before, after) = texts.unwrap_or(("", ""));
    let mut attr = serde_json::Map::new();
    if let Some((b, a)) = attrs.filter(|(b, _)| !b.is_empty()) {
        let obj =
            |side: DiffSide| serde_json::Value::Object(side.into_iter().map(|(k, v)| (k.to_string(), v)).collect());
        attr.insert("before".into(), obj(b));
        attr.insert("after".into(), obj(a));
    }
    attr.insert("before_header".into(), format!("{path} (file attributes)").into());
    attr.insert("after_header".into(), format!("{path} (file attributes)").into());
    Value::from(Serde(serde_json::json!([
        {"before": before, "after": after, "before_header": format!("{path} (content)"), "after_header": format!("{path} (content)")},
        attr,
    ])))
}

/// What a module of `style` registers for an edit of `path` from `before` to `after` (texts only
/// under `--diff`).
pub(crate) fn registered(
    style: Registers,
    path: &str,
    texts: Option<(&str, &str)>,
    attrs: Option<(DiffSide, DiffSide)>,
) -> Vec<(&'static str, Value)> {
    match style {
        Registers::Nothing => vec![],
        Registers::Lines => vec![("diff", lines_diff(path, texts, attrs))],
        Registers::Replace => match texts {
            Some((b, a)) if b != a => vec![(
                "diff",
                Value::from(Serde(
                    serde_json::json!({"before_header": path, "before": b, "after_header": path, "after": a}),
                )),
            )],
            _ => vec![],
        },
    }
}

/// Ansible's message when mode or ownership changed too.
pub(crate) const ATTRS_CHANGED: &str = "ownership, perms or SE linux context changed";

/// Plans writing `new` over what `r` read (`r.data` is `None` for a file to create): nothing to
/// do when the bytes and attributes are right, else a change with its diffs. `msg` is the
/// module's message for a content change.
pub(crate) fn plan(
    cx: &ModuleCtx<'_>,
    r: &Read,
    new: Vec<u8>,
    msg: &str,
    attrs: &Attrs,
    style: Registers,
) -> Plan<EditPlan> {
    let exists = r.data.is_some();
    let write = r.data.as_deref() != Some(new.as_slice());
    let changes = match &r.st {
        Some(s) if exists => attrs.changes(s),
        _ => attrs.all(),
    };
    let diff_on = cx.mode.diff == DiffMode::On;
    let (old_text, new_text) = (r.data.as_deref().map(diff_text).unwrap_or_default(), diff_text(&new));
    let texts = diff_on.then_some((old_text.as_str(), new_text.as_str()));
    let attr_entries = r.st.as_ref().filter(|_| exists && !changes.is_empty()).map(|s| attr_diff(&changes, s, None));
    let registered = registered(style, &r.path, texts, attr_entries);
    if !write && changes.is_empty() {
        let mut o = Outcome { msg: Some(String::new()), ..Outcome::ok() };
        for (k, v) in registered {
            o = o.with(k, v);
        }
        return Plan::Ok(o);
    }
    let msg = match (write, exists && !changes.is_empty()) {
        (true, true) => format!("{msg} and {ATTRS_CHANGED}"),
        (true, false) => msg.to_string(),
        (false, _) => ATTRS_CHANGED.to_string(),
    };
    let mkdir = match r.real.rsplit_once('/') {
        Some((dir, _)) if !exists && !dir.is_empty() => Some(dir.to_string()),
        _ => None,
    };
    let w = WritePlan {
        dest: r.real.clone(),
        data: super::Content::Bytes(new),
        write,
        old: r.st.as_ref().filter(|s| exists && s.kind == Kind::File).map(|s| (s.mode, s.uid, s.gid)),
        changes: changes.clone(),
        msg: msg.clone(),
        registered: registered.clone(),
        mode: None,
    };
    let action = if exists { Action::Modify } else { Action::Create };
    let mut ch = Change::new(EditPlan { write: w, mkdir }, action, "file", r.path.as_str()).with_msg(msg);
    ch.data = registered.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
    if write && cx.mode.diff == DiffMode::On {
        ch = ch.with_diff(r.path.as_str(), old_text, new_text);
    }
    if !changes.is_empty() && exists {
        let (b, a) = state_diff("file", "file", &changes);
        ch = ch.with_diff(format!("{} (attributes)", r.path), b, a);
    }
    Plan::Change(ch)
}

/// Makes a planned edit. The result carries `msg` and, with `backup`, `backup_file`.
pub(crate) async fn apply(
    cx: &ModuleCtx<'_>,
    p: EditPlan,
    attrs: &Attrs,
    backup: bool,
    validate: Option<&str>,
) -> Result<Outcome, ModuleError> {
    if let Some(dir) = &p.mkdir {
        let out = cx.exec(Cmd::new("mkdir").flag("-p").operand(dir).build()).await?;
        if out.rc != 0 {
            return Ok(Outcome::failed(format!("Error creating {dir}: {}", out.stderr_str().trim())));
        }
    }
    let mut o = super::in_editor_words(apply_write(cx, &p.write, attrs, backup, validate).await?);
    if !o.failed {
        for (k, v) in p.write.registered {
            o = o.with(k, v);
        }
    }
    Ok(o)
}

/// `bytes.splitlines(keepends=True)`: lines ending in `\n`, `\r\n` or `\r`, each with its end.
pub(crate) fn split_lines(data: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < data.len() {
        match data[i] {
            b'\n' => {
                out.push(data[start..=i].to_vec());
                start = i + 1;
            }
            b'\r' => {
                let end = if data.get(i + 1) == Some(&b'\n') { i + 1 } else { i };
                out.push(data[start..=end].to_vec());
                i = end;
                start = end + 1;
            }
            _ => {}
        }
        i += 1;
    }
    if start < data.len() {
        out.push(data[start..].to_vec());
    }
    out
}

/// A line without its end (`\n`, `\r\n` or `\r`).
pub(crate) fn bare(line: &[u8]) -> &[u8] {
    let l = line.strip_suffix(b"\n").unwrap_or(line);
    l.strip_suffix(b"\r").unwrap_or(l)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_lines_like_python_bytes() {
        let l = split_lines(b"a\nb\r\nc\rd");
        assert_eq!(l, vec![b"a\n".to_vec(), b"b\r\n".to_vec(), b"c\r".to_vec(), b"d".to_vec()]);
        assert!(split_lines(b"").is_empty());
        assert_eq!(split_lines(b"\n\n").len(), 2);
        assert_eq!(bare(b"x\r\n"), b"x");
    }
}
