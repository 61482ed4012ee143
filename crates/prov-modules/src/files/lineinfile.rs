//! `lineinfile`: makes sure one line is in a file (or is not), replacing a line that matches a
//! regular expression.
//!
//! Arguments (as in Ansible):
//! - `path` (aliases `dest`, `destfile`, `name`, required).
//! - `line` (alias `value`): the line (required for `state: present`).
//! - `regexp` (alias `regex`): the last matching line (the first with `firstmatch`) is replaced;
//!   with `state: absent` every matching line is removed. When nothing matches but `line` is
//!   already in the file, nothing changes.
//! - `search_string`: like `regexp` with a plain substring.
//! - `state`: `present` (default) or `absent`.
//! - `insertafter` (`EOF` default, or a regexp), `insertbefore` (`BOF` or a regexp): where a new
//!   line goes; when the regexp matches nothing the line goes at the end.
//! - `backrefs`: `line` may use `\1`/`\g<name>` from `regexp`; when `regexp` does not match the
//!   file is left alone.
//! - `firstmatch`, `create` (default false), `backup`, `validate`, `mode`, `owner`, `group`.
//!
//! Reads the file's state and bytes in one command; writes it back whole. Registers `msg`,
//! `backup` (the backup's path, else empty), `found` (with `state: absent`: the lines that
//! matched) and `diff`: the content entry (its texts only under `--diff`) and the file
//! attributes entry, as ansible-core.
//!
//! ```yaml
//! - lineinfile:
//!     path: /etc/ssh/sshd_config
//!     regexp: '^#?PasswordAuthentication'
//!     line: PasswordAuthentication no
//!     validate: /usr/sbin/sshd -t -f %s
//! - lineinfile: { path: /etc/hosts, line: "10.0.0.5 db", state: present }
//! ```

use super::{apply_write, Attrs, Kind, WritePlan};
use super::{compile_pattern as compile, gave_up};
use crate::util::diff_text;
use async_trait::async_trait;
use fancy_regex::Regex;
use minijinja::Value;
use prov_core::args::{lenient_bool, Mode};
use prov_core::module::{Action, Change, DiffMode, Module, ModuleCtx, ModuleError, Outcome, Plan};
use serde::Deserialize;

/// Arguments of `lineinfile`.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Args {
    /// The file.
    #[serde(alias = "dest", alias = "destfile", alias = "name")]
    pub path: String,
    /// The line.
    #[serde(default, alias = "value", deserialize_with = "crate::util::stringish")]
    pub line: Option<String>,
    /// Regular expression of the line to replace or remove.
    #[serde(default, alias = "regex")]
    pub regexp: Option<String>,
    /// Substring of the line to replace or remove.
    #[serde(default)]
    pub search_string: Option<String>,
    /// `present` or `absent`.
    #[serde(default)]
    pub state: Option<String>,
    /// `EOF`, `BOF` or a regexp.
    #[serde(default)]
    pub insertafter: Option<String>,
    /// `BOF` or a regexp.
    #[serde(default)]
    pub insertbefore: Option<String>,
    /// Create a missing file.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub create: bool,
    /// Keep a copy of the replaced file.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub backup: bool,
    /// Use backreferences of `regexp` in `line`.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub backrefs: bool,
    /// Use the first match instead of the last.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub firstmatch: bool,
    /// Validation command (`%s` = the new file).
    #[serde(default)]
    pub validate: Option<String>,
    /// Mode.
    #[serde(default)]
    pub mode: Option<Mode>,
    /// Owner.
    #[serde(default, deserialize_with = "crate::util::stringish")]
    pub owner: Option<String>,
    /// Group.
    #[serde(default, deserialize_with = "crate::util::stringish")]
    pub group: Option<String>,
    /// Accepted, ignored.
    #[serde(default)]
    pub unsafe_writes: Option<Value>,
    /// SELinux user of the file: ignored where SELinux is off, as ansible-core does; refused
    /// where it is on (prov does not set contexts yet).
    #[serde(default, deserialize_with = "crate::util::stringish")]
    pub seuser: Option<String>,
    /// SELinux role (see `seuser`).
    #[serde(default, deserialize_with = "crate::util::stringish")]
    pub serole: Option<String>,
    /// SELinux type (see `seuser`).
    #[serde(default, deserialize_with = "crate::util::stringish")]
    pub setype: Option<String>,
    /// SELinux level (see `seuser`).
    #[serde(default, deserialize_with = "crate::util::stringish")]
    pub selevel: Option<String>,
}

/// The `lineinfile` module.
#[derive(Debug, Default)]
pub struct LineInFile;

fn absent(args: &Args) -> bool {
    args.state.as_deref() == Some("absent")
}

#[async_trait]
impl Module for LineInFile {
    const NAME: &'static str = "lineinfile";
    const PATH_ARGS: &'static [&'static str] = &["path", "dest", "destfile", "name"];
    type Args = Args;
    type Plan = WritePlan;

    fn check_args(args: &Args) -> Result<(), String> {
        super::check_owner_group(&args.owner, &args.group)?;
        match args.state.as_deref() {
            None | Some("present") | Some("absent") => {}
            Some(s) => return Err(format!("state must be present or absent, not {s}")),
        }
        if !absent(args) && args.line.is_none() {
            return Err("`line` is required with state=present".into());
        }
        if absent(args) && args.line.is_none() && args.regexp.is_none() && args.search_string.is_none() {
            return Err("one of `line`, `regexp` or `search_string` is required with state=absent".into());
        }
        if args.regexp.is_some() && args.search_string.is_some() {
            return Err("`regexp` and `search_string` are mutually exclusive".into());
        }
        if args.insertafter.is_some() && args.insertbefore.is_some() {
            return Err("`insertafter` and `insertbefore` are mutually exclusive".into());
        }
        if args.backrefs && args.regexp.is_none() {
            return Err("`backrefs` needs `regexp`".into());
        }
        if args.validate.as_deref().is_some_and(|v| !v.contains("%s")) {
            return Err("`validate` must contain %s (the file to check)".into());
        }
        if let Some(r) = &args.regexp {
            compile("regexp", r)?;
        }
        Ok(())
    }

    async fn plan(&self, args: &Args, cx: &ModuleCtx<'_>) -> Result<Plan<WritePlan>, ModuleError> {
        if let Some(o) = super::selinux_refused(cx, [&args.seuser, &args.serole, &args.setype, &args.selevel]).await? {
            return Ok(Plan::Ok(o));
        }
        let path = args.path.as_str();
        // Through symbolic links: ansible-core writes the file a link points to.
        let read = super::edit::read(cx, path).await?;
        let (st, content) = (read.st, read.data);
        let old = match (&st, content) {
            (Some(s), _) if s.kind == Kind::Dir => {
                return Ok(Plan::Ok(Outcome::failed(format!("{path} is a directory"))))
            }
            (Some(_), Some(c)) => Some(c),
            // Not a regular file (a device, say): read it as before.
            (Some(_), None) => cx.get(path).await?,
            (None, _) => None,
        };
        let old = match old {
            Some(d) => {
                Some(String::from_utf8(d).map_err(|_| ModuleError::Failed(format!("{path} is not UTF-8 text")))?)
            }
            None if absent(args) => {
                return Ok(Plan::Ok(Outcome::ok().with("msg", "file not present").with("path", path)))
            }
            None if !args.create => {
                return Ok(Plan::Ok(Outcome::failed(format!("Destination {path} does not exist !")).with("rc", 257)));
            }
            None => None,
        };
        let text = old.clone().unwrap_or_default();
        let (new, msg) = edit(&text, args).map_err(ModuleError::Args)?;
        let attrs = Attrs::new(&args.mode, &args.owner, &args.group);
        let changes = match &st {
            Some(s) if old.is_some() => attrs.changes(s),
            _ => attrs.all(),
        };
        let write = new != text || old.is_none();
        let texts = (cx.mode.diff == DiffMode::On).then_some((text.as_str(), new.as_str()));
        let attr_entries =
            st.as_ref().filter(|_| old.is_some() && !changes.is_empty()).map(|s| super::attr_diff(&changes, s, None));
        // ansible-core registers `backup` (the backup's path, else empty) and both diff entries.
        let mut registered = vec![("backup", Value::from(""))];
        if absent(args) {
            // How many lines matched, all of them removed (ansible-core's `found`).
            let found = text.split_inclusive('\n').count() - new.split_inclusive('\n').count();
            registered.push(("found", Value::from(found)));
        }
        registered.extend(super::edit::registered(super::edit::Registers::Lines, path, texts, attr_entries));
        if !write && changes.is_empty() {
            let o = registered.into_iter().fold(Outcome::ok().with("msg", ""), |o, (k, v)| o.with(k, v));
            return Ok(Plan::Ok(o));
        }
        let attrs_changed = old.is_some() && !changes.is_empty();
        let msg = match (write, attrs_changed) {
            (true, true) => format!("{msg} and {}", super::edit::ATTRS_CHANGED),
            (true, false) => msg,
            (false, _) => super::edit::ATTRS_CHANGED.into(),
        };
        let plan = WritePlan {
            dest: read.real.clone(),
            data: super::Content::Bytes(new.clone().into_bytes()),
            write,
            old: st.as_ref().filter(|s| old.is_some() && s.kind == Kind::File).map(|s| (s.mode, s.uid, s.gid)),
            changes: changes.clone(),
            msg: msg.clone(),
            registered: registered.clone(),
            mode: None,
        };
        let action = if old.is_none() { Action::Create } else { Action::Modify };
        let mut ch = Change::new(plan, action, "file", path).with_msg(msg);
        ch.data = registered.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        if write && cx.mode.diff == DiffMode::On {
            ch = ch.with_diff(path, diff_text(text.as_bytes()), diff_text(new.as_bytes()));
        }
        if !changes.is_empty() && old.is_some() {
            let (b, a) = super::state_diff("file", "file", &changes);
            ch = ch.with_diff(format!("{path} (attributes)"), b, a);
        }
        Ok(Plan::Change(ch))
    }

    async fn apply(&self, args: &Args, plan: WritePlan, cx: &ModuleCtx<'_>) -> Result<Outcome, ModuleError> {
        let attrs = Attrs::new(&args.mode, &args.owner, &args.group);
        let mut o =
            super::in_editor_words(apply_write(cx, &plan, &attrs, args.backup, args.validate.as_deref()).await?);
        if o.failed {
            return Ok(o);
        }
        let backup = o.data.shift_remove("backup_file");
        for (k, v) in plan.registered {
            o = o.with(k, v);
        }
        if let Some(b) = backup {
            o = o.with("backup", b);
        }
        Ok(o)
    }
}

/// Python `match.expand` template → `regex` crate template (also used by `replace`), checked
/// as Python's `re` checks it against `re`'s groups: `\N`/`\NN` and `\g<N>`/`\g<name>` are
/// groups (a group that does not exist is an error), `\0` and three octal digits are an octal
/// escape, `\a \b \f \n \r \t \v \\` are escapes, another ASCII letter after `\` is an error and
/// any other character keeps its `\`. Errors read as Python's (position in characters).
pub(crate) fn expand_template(line: &str, re: &Regex) -> Result<String, String> {
    let groups = re.captures_len() - 1;
    let chars: Vec<char> = line.chars().collect();
    let mut out = String::new();
    let lit = |out: &mut String, c: char| {
        if c == '$' {
            out.push_str("$$");
        } else {
            out.push(c);
        }
    };
    let group = |out: &mut String, n: usize, pos: usize| {
        if n > groups {
            return Err(format!("invalid group reference {n} at position {pos}"));
        }
        out.push_str(&format!("${{{n}}}"));
        Ok(())
    };
    let octal = |c: Option<&char>| c.filter(|c| ('0'..='7').contains(*c)).copied();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c != '\\' {
            lit(&mut out, c);
            i += 1;
            continue;
        }
        let Some(&e) = chars.get(i + 1) else {
            return Err(format!("bad escape (end of pattern) at position {i}"));
        };
        match e {
            'g' => {
                if chars.get(i + 2) != Some(&'<') {
                    return Err(format!("missing < at position {}", i + 2));
                }
                let start = i + 3;
                let Some(len) = chars[start..].iter().position(|c| *c == '>') else {
                    return Err(format!("missing >, unterminated name at position {start}"));
                };
                let name: String = chars[start..start + len].iter().collect();
                if name.is_empty() {
                    return Err(format!("missing group name at position {start}"));
                }
                if name.chars().all(|c| c.is_ascii_digit()) {
                    group(&mut out, name.parse().unwrap_or(usize::MAX), start)?;
                } else if re.capture_names().flatten().any(|n| n == name) {
                    out.push_str(&format!("${{{name}}}"));
                } else if name.chars().all(|c| c.is_alphanumeric() || c == '_') {
                    return Err(format!("unknown group name '{name}'"));
                } else {
                    return Err(format!("bad character in group name '{name}' at position {start}"));
                }
                i = start + len + 1;
            }
            '0' => {
                // `\0` plus up to two more octal digits: a character, never the whole match.
                let mut v = 0u32;
                let mut j = i + 2;
                while j < i + 4 {
                    let Some(d) = octal(chars.get(j)) else { break };
                    v = v * 8 + d.to_digit(8).unwrap_or(0);
                    j += 1;
                }
                lit(&mut out, char::from_u32(v).unwrap_or('\0'));
                i = j;
            }
            '1'..='9' => {
                let (d1, d2) = (chars.get(i + 2), chars.get(i + 3));
                if octal(Some(&e)).is_some() && octal(d1).is_some() && octal(d2).is_some() {
                    let v = [e, d1.copied().unwrap_or('0'), d2.copied().unwrap_or('0')]
                        .iter()
                        .fold(0, |v, d| v * 8 + d.to_digit(8).unwrap_or(0));
                    if v > 0o377 {
                        return Err(format!(
                            "octal escape value \\{e}{}{} outside of range 0-0o377 at position {i}",
                            d1.copied().unwrap_or_default(),
                            d2.copied().unwrap_or_default()
                        ));
                    }
                    lit(&mut out, char::from_u32(v).unwrap_or('\0'));
                    i += 4;
                } else if let Some(d) = d1.filter(|d| d.is_ascii_digit()) {
                    let n = format!("{e}{d}").parse().unwrap_or(usize::MAX);
                    group(&mut out, n, i + 1)?;
                    i += 3;
                } else {
                    group(&mut out, e.to_digit(10).unwrap_or(0) as usize, i + 1)?;
                    i += 2;
                }
            }
            _ => {
                let esc = match e {
                    'a' => Some('\x07'),
                    'b' => Some('\x08'),
                    'f' => Some('\x0c'),
                    'n' => Some('\n'),
                    'r' => Some('\r'),
                    't' => Some('\t'),
                    'v' => Some('\x0b'),
                    '\\' => Some('\\'),
                    _ => None,
                };
                match esc {
                    Some(c) => lit(&mut out, c),
                    None if e.is_ascii_alphabetic() => return Err(format!("bad escape \\{e} at position {i}")),
                    None => {
                        out.push('\\');
                        lit(&mut out, e);
                    }
                }
                i += 2;
            }
        }
    }
    Ok(out)
}

/// The pure edit: new content and Ansible's message.
fn edit(text: &str, args: &Args) -> Result<(String, String), String> {
    let mut lines: Vec<String> = text.split_inclusive('\n').map(str::to_string).collect();
    let re = args.regexp.as_deref().map(|r| compile("regexp", r)).transpose()?;
    let line = args.line.clone().unwrap_or_default();
    let bare = |l: &str| l.strip_suffix('\n').map(|s| s.to_string()).unwrap_or_else(|| l.to_string());
    let matches = |l: &str| -> Result<bool, String> {
        let b = bare(l);
        Ok(if let Some(re) = &re {
            re.is_match(&b).map_err(gave_up)?
        } else if let Some(s) = &args.search_string {
            b.contains(s.as_str())
        } else {
            b.trim_end_matches('\r') == line
        })
    };
    if absent(args) {
        let before = lines.len();
        let mut kept = Vec::with_capacity(lines.len());
        for l in lines {
            if !matches(&l)? {
                kept.push(l);
            }
        }
        lines = kept;
        let n = before - lines.len();
        let msg = if n > 0 { format!("{n} line(s) removed") } else { String::new() };
        return Ok((lines.concat(), msg));
    }
    // ansible-core's present(): the line `regexp` (or `search_string`) matches, else the
    // line equal to `line`, with the insertion point found in the same pass.
    let ins_re = match (&args.insertafter, &args.insertbefore) {
        (Some(a), _) if a != "EOF" && a != "BOF" => Some(compile("insertafter", a)?),
        (_, Some(b)) if b != "BOF" => Some(compile("insertbefore", b)?),
        _ => None,
    };
    let trimmed = |l: &str| l.trim_end_matches(['\r', '\n']).to_string();
    let mut found: Option<usize> = None;
    let mut matched = false;
    for (i, l) in lines.iter().enumerate() {
        let hit = match (&re, &args.search_string) {
            (Some(re), _) => re.is_match(&bare(l)).map_err(gave_up)?,
            (None, Some(s)) => l.contains(s.as_str()),
            (None, None) => break,
        };
        if hit {
            found = Some(i);
            matched = true;
            if args.firstmatch {
                break;
            }
        }
    }
    let mut ins: Option<usize> = None;
    if !matched {
        for (i, l) in lines.iter().enumerate() {
            if trimmed(l) == line {
                found = Some(i);
            } else if let Some(r) = &ins_re {
                if r.is_match(&bare(l)).map_err(gave_up)? {
                    ins = Some(if args.insertafter.is_some() { i + 1 } else { i });
                    if args.firstmatch {
                        break;
                    }
                }
            }
        }
    }
    let new_line = format!("{line}\n");
    if let Some(i) = found {
        let replacement = match (&re, args.backrefs && matched) {
            (Some(re), true) => {
                let b = bare(&lines[i]);
                match re.captures(&b).map_err(gave_up)? {
                    Some(caps) => {
                        let mut s = String::new();
                        caps.expand(&expand_template(&line, re)?, &mut s);
                        if s.ends_with('\n') {
                            s
                        } else {
                            format!("{s}\n")
                        }
                    }
                    None => new_line.clone(),
                }
            }
            _ => new_line.clone(),
        };
        if lines[i] != replacement {
            lines[i] = replacement;
            return Ok((lines.concat(), "line replaced".into()));
        }
        return Ok((lines.concat(), String::new()));
    }
    if args.backrefs {
        return Ok((text.to_string(), String::new()));
    }
    let at_bof = args.insertbefore.as_deref() == Some("BOF") || args.insertafter.as_deref() == Some("BOF");
    match ins {
        _ if at_bof => lines.insert(0, new_line),
        None => {
            if lines.last().is_some_and(|l| !l.ends_with(['\n', '\r'])) {
                lines.push("\n".into());
            }
            lines.push(new_line);
        }
        _ if args.insertafter.as_deref() == Some("EOF") => {
            if lines.last().is_some_and(|l| !l.ends_with(['\n', '\r'])) {
                lines.push("\n".into());
            }
            lines.push(new_line);
        }
        // Not again when the line already sits at the insertion point.
        Some(j) if args.insertafter.is_some() => {
            if j == lines.len() {
                if j > 0 && trimmed(&lines[j - 1]) == line {
                    return Ok((text.to_string(), String::new()));
                }
                lines.push(new_line);
            } else if trimmed(&lines[j]) == line {
                return Ok((text.to_string(), String::new()));
            } else {
                lines.insert(j, new_line);
            }
        }
        Some(j) => lines.insert(j, new_line),
    }
    Ok((lines.concat(), "line added".into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;
    use prov_core::module::args_from_value;
    use prov_core::testutil::FakeConnection;
    use serde_json::json;

    fn ed(text: &str, args: serde_json::Value) -> (String, String) {
        let a: Args = args_from_value(&j(args)).unwrap();
        LineInFile::check_args(&a).unwrap();
        edit(text, &a).unwrap()
    }

    /// dev-sec's os_hardening role adds `no_pass_expiry` with a negative look-ahead; prov
    /// refused the pattern. ansible-core 2.19.14 replaced the line once, then left it.
    #[test]
    fn python_look_around_in_regexp_works_as_in_ansible() {
        let args = json!({"path": "x", "backrefs": true, "regexp": "^(account.*pam_unix.so(?!.*no_pass_expiry).*)$", "line": "\\1 no_pass_expiry"});
        let f = "account [success=1 new_authtok_reqd=done default=ignore] pam_unix.so\naccount requisite pam_deny.so\n";
        let (once, msg) = ed(f, args.clone());
        assert_eq!(once, "account [success=1 new_authtok_reqd=done default=ignore] pam_unix.so no_pass_expiry\naccount requisite pam_deny.so\n");
        assert_eq!(msg, "line replaced");
        assert_eq!(ed(&once, args), (once.clone(), String::new()));
    }

    /// ansible-core 2.19.14: with `firstmatch` and `insertafter` (no `regexp`), a line already
    /// at the insertion point is left alone (prov added it again on every run); a `regexp` that
    /// matches nothing while the line is the file's last, unterminated line rewrites it with
    /// its newline ("line replaced"; prov left the file).
    #[test]
    fn lineinfile_follows_ansible_core_s_present() {
        let ins = json!({"path": "x", "insertafter": "^\\[a\\]", "line": "new", "firstmatch": true});
        let (once, msg) = ed("[a]\nx\n", ins.clone());
        assert_eq!((once.as_str(), msg.as_str()), ("[a]\nnew\nx\n", "line added"));
        assert_eq!(ed(&once, ins), (once.clone(), String::new()));
        assert_eq!(
            ed("a\nc", json!({"path": "x", "regexp": "^zzz", "line": "c"})),
            ("a\nc\n".into(), "line replaced".into())
        );
        assert_eq!(ed("a\nc", json!({"path": "x", "line": "c"})), ("a\nc\n".into(), "line replaced".into()));
        let at_end = json!({"path": "x", "insertafter": "^a", "line": "z"});
        assert_eq!(ed("a\nz\n", at_end.clone()).1, "");
        assert_eq!(ed("b\na\n", at_end), ("b\na\nz\n".into(), "line added".into()));
    }

    #[test]
    fn edits_like_ansible() {
        let f = "a\n#Port 22\nb\n";
        assert_eq!(ed(f, json!({"path": "x", "regexp": "^#?Port ", "line": "Port 2222"})).0, "a\nPort 2222\nb\n");
        assert_eq!(ed("a\nPort 2222\n", json!({"path": "x", "regexp": "^#?Port ", "line": "Port 2222"})).1, "");
        assert_eq!(ed("a", json!({"path": "x", "line": "z"})).0, "a\nz\n");
        assert_eq!(ed(f, json!({"path": "x", "line": "a"})).1, "");
        assert_eq!(ed(f, json!({"path": "x", "line": "z", "insertafter": "^a"})).0, "a\nz\n#Port 22\nb\n");
        assert_eq!(ed(f, json!({"path": "x", "line": "z", "insertbefore": "^b"})).0, "a\n#Port 22\nz\nb\n");
        assert_eq!(ed(f, json!({"path": "x", "line": "z", "insertbefore": "BOF"})).0, "z\na\n#Port 22\nb\n");
        assert_eq!(ed(f, json!({"path": "x", "line": "z", "insertafter": "^nomatch"})).0, "a\n#Port 22\nb\nz\n");
        assert_eq!(ed("a\nz\n", json!({"path": "x", "regexp": "^q", "line": "z"})).1, "", "line already there");
        assert_eq!(
            ed(f, json!({"path": "x", "regexp": "^#", "state": "absent"})),
            ("a\nb\n".into(), "1 line(s) removed".into())
        );
        assert_eq!(ed(f, json!({"path": "x", "search_string": "Port", "line": "P"})).0, "a\nP\nb\n");
        let r = ed(
            "x=1 $y\n",
            json!({"path": "x", "regexp": "^x=(\\d+) (?P<v>.*)$", "line": "x=\\1\\1 \\g<v>$", "backrefs": true}),
        );
        assert_eq!(r.0, "x=11 $y$\n");
        assert_eq!(ed("a\n", json!({"path": "x", "regexp": "^q(.)", "line": "\\1", "backrefs": true})).0, "a\n");
    }

    // ansible-core 2.19 (Python 3.11's re) failed these backrefs templates with these messages
    // (after its own "Module failed: " prefix) and left the file alone.
    #[test]
    fn backrefs_fail_on_bad_group_references_and_escapes_as_python() {
        let err = |l: &str| {
            let a: Args =
                args_from_value(&j(json!({"path": "x", "regexp": "^port=(\\d)(\\d)$", "line": l, "backrefs": true})))
                    .unwrap();
            edit("port=80\n", &a).unwrap_err()
        };
        assert_eq!(err("p=\\3"), "invalid group reference 3 at position 3");
        assert_eq!(err("K\\d"), "bad escape \\d at position 1");
        // These four from Python 3.11's `match.expand` directly (the interpreter Ansible used).
        assert_eq!(err("p\\g<9>"), "invalid group reference 9 at position 4");
        assert_eq!(err("p\\g<a-b>"), "bad character in group name 'a-b' at position 4");
        assert_eq!(err("p\\"), "bad escape (end of pattern) at position 1");
        assert_eq!(err("\\477"), "octal escape value \\477 outside of range 0-0o377 at position 0");
        assert_eq!(err("\\18"), "invalid group reference 18 at position 1");
        let r = ed(
            "port=80\n",
            json!({"path": "x", "regexp": "^port=(\\d)(\\d)$", "line": "\\0\\2\\1\\t\\\\", "backrefs": true}),
        );
        assert_eq!(r.0, "\u{0}08\t\\\n");
    }

    // What the read gives: the real path (links resolved, ended by a NUL), then the state.
    const ST: &str = "stat 81a4 644 0 0 6 1 1 1 1 root root\naccess rw\ncontent\n";

    #[tokio::test]
    async fn in_state() {
        let h = fake(FakeConnection::new().on("R=", 0, &format!("real /etc/hosts\0{ST}10.0.0.5 db\n")));
        let o = run::<LineInFile>(json!({"path": "/etc/hosts", "line": "10.0.0.5 db"}), &h.ctx()).await;
        assert!(!o.changed && !o.failed, "{o:?}");
        assert_eq!(h.conn.calls().len(), 1, "state and content in one command");
    }

    #[tokio::test]
    async fn drift_and_diff() {
        let h = fake(FakeConnection::new().on("R=", 0, &format!("real /etc/hosts\0{ST}127.0.0.1 localhost\n")));
        let o = run::<LineInFile>(json!({"path": "/etc/hosts", "line": "10.0.0.5 db"}), &h.ctx()).await;
        assert!(o.changed && !o.failed, "{o:?}");
        assert_eq!(
            h.conn.files.lock().unwrap()["/etc/hosts"],
            (b"127.0.0.1 localhost\n10.0.0.5 db\n".to_vec(), Some(0o644))
        );
        assert_eq!(o.diffs[0].before, "127.0.0.1 localhost\n");
        assert_eq!(o.diffs[0].after, "127.0.0.1 localhost\n10.0.0.5 db\n");
    }

    #[tokio::test]
    async fn missing_file() {
        let h = fake(FakeConnection::new().on("R=", 0, "real /x\0absent\n"));
        let o = run::<LineInFile>(json!({"path": "/x", "line": "a"}), &h.ctx()).await;
        assert!(o.failed && o.msg.unwrap().contains("does not exist"));
        let o = run::<LineInFile>(json!({"path": "/x", "line": "a", "state": "absent"}), &h.ctx()).await;
        assert!(!o.changed && !o.failed);
        let o = run::<LineInFile>(json!({"path": "/x", "line": "a", "create": true, "mode": "0600"}), &h.ctx()).await;
        assert!(o.changed && !o.failed);
        assert_eq!(h.conn.files.lock().unwrap()["/x"], (b"a\n".to_vec(), Some(0o600)));
    }

    #[tokio::test]
    async fn check_mode() {
        let h = fake_check(FakeConnection::new().on("R=", 0, &format!("real /f\0{ST}a\n")));
        let o = run::<LineInFile>(json!({"path": "/f", "regexp": "^a", "line": "b"}), &h.ctx()).await;
        assert!(o.changed);
        assert_eq!(h.conn.calls().len(), 1, "one read, no write");
        assert_eq!(o.diffs[0].after, "b\n");
    }

    #[tokio::test]
    async fn bad_regexp() {
        let h = fake(FakeConnection::new());
        let e = run_err::<LineInFile>(json!({"path": "/f", "regexp": "(", "line": "b"}), &h.ctx()).await;
        assert!(e.contains("not a valid regular expression"), "{e}");
    }

    #[tokio::test]
    async fn local_edit() {
        let h = LocalHost::new();
        let p = h.path("sshd_config");
        std::fs::write(&p, "Port 22\n#PasswordAuthentication yes\n").unwrap();
        let args = json!({"path": p, "regexp": "^#?PasswordAuthentication", "line": "PasswordAuthentication no", "backup": true});
        let o = run::<LineInFile>(args.clone(), &h.ctx()).await;
        assert!(o.changed && !o.failed, "{o:?}");
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "Port 22\nPasswordAuthentication no\n");
        assert!(o.data.contains_key("backup"), "lineinfile registers `backup`, as ansible-core");
        let o = run::<LineInFile>(args, &h.ctx()).await;
        assert!(!o.changed, "{o:?}");
    }

    #[tokio::test]
    async fn edited_file_with_a_hostile_name_is_backed_up_validated_and_written_as_data() {
        let h = LocalHost::new();
        let marker = pwned_marker("lineinfile");
        std::fs::create_dir(h.path("d")).unwrap();
        for name in hostile_values(&marker) {
            let p = h.path(&format!("d/{}", name.replace('/', "_")));
            let args = json!({"path": p, "line": "a", "create": true, "backup": true, "validate": "test -f %s"});
            let o = run::<LineInFile>(args, &h.ctx()).await;
            assert!(o.changed && !o.failed, "{name:?}: {o:?}");
            let args = json!({"path": p, "line": "b", "backup": true, "validate": "grep -q b %s", "mode": "0600"});
            let o = run::<LineInFile>(args, &h.ctx()).await;
            assert!(o.changed && !o.failed, "{name:?}: {o:?}");
            assert_eq!(std::fs::read_to_string(&p).unwrap(), "a\nb\n", "{name:?}");
            let backup = o.data["backup"].as_str().unwrap().to_string();
            assert_eq!(std::fs::read_to_string(backup).unwrap(), "a\n", "{name:?}");
        }
        assert!(!std::path::Path::new(&marker).exists(), "a hostile name ran as shell");
    }
}
