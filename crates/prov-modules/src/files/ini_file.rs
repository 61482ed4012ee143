//! `ini_file`: one option (or a whole section) of an INI-style file: sets, adds or removes
//! `option = value` lines (community.general.ini_file).
//!
//! Arguments (as in community.general 11.4, shipped with ansible 12.3):
//! - `path` (alias `dest`, required): the file; created when missing (with its directory)
//!   unless `create: false`.
//! - `section`: the section (`[name]`); without it the option goes before the first section.
//!   A missing section is added at the end of the file.
//! - `section_has_values`: a list of `{option, value | values}`: among sections of the same name,
//!   the first one holding these options (any value when none is given) is used.
//! - `option`: the option's name; without it, `state: absent` removes the whole section.
//! - `value`, or `values` (a list: one `option = value` line each); one of them is required
//!   with `state: present` unless `allow_no_value`.
//! - `state`: `present` (default) or `absent`.
//! - `exclusive` (default true): `present` replaces the option's other lines and `absent`
//!   removes all of them; with false only the given values are added or removed.
//! - `no_extra_spaces` (default false): write `option=value` instead of `option = value`.
//! - `ignore_spaces` (default false): a line whose value is right is kept whatever its spaces.
//! - `allow_no_value` (default false): the option may be a bare `option` line.
//! - `modify_inactive_option` (default true): a commented-out `# option = x` or `; option = x`
//!   line is rewritten in place instead of a new line being added.
//! - `create` (default true), `backup`, `follow` (default false: a symbolic link is replaced by
//!   a regular file, as Ansible does; true: the file it points to is written), `mode`, `owner`,
//!   `group`; `unsafe_writes` is accepted (prov always writes the file whole and atomically).
//!
//! The file is edited as community.general.ini_file edits it (observed on the same files): a new
//! option goes after the last line of its section that is neither blank nor a comment; a value
//! in `values` that a line already has keeps that line; with `exclusive` the option's remaining
//! lines, commented ones included, are rewritten with the remaining values, then removed; a file
//! made from nothing starts with an empty line (`\n[section]\noption = value\n`); a missing
//! final newline is added (a change); a UTF-8 byte order mark is dropped and `\r\n` line ends
//! become `\n` when the file is written. Registers `msg` (`OK`, `option changed`, `option
//! added`, `section removed`, `section and option added`, `only section added`), `path`,
//! `backup_file`, and the path's `state`, `mode`, `owner`, `group`, `uid`, `gid`, `size`.
//!
//! Differences from Ansible: in check mode a change of `mode`, `owner` or `group` alone is
//! reported as a change (Ansible checks attributes only when it writes), and a planned change
//! registers `msg` only (Ansible adds `path` and the path's attributes); removing the lines
//! before the first section (`state: absent` without `section` and `option`) removes only those
//! lines (Ansible also drops the next section's header); `section_has_values` without `section`
//! never adds a section; `attributes` is not supported, and `selevel`, `serole`, `setype`,
//! `seuser` are ignored where SELinux is off (as in Ansible) and refused where it is on.
//!
//! ```yaml
//! - community.general.ini_file:
//!     path: /etc/php/8.2/fpm/php.ini
//!     section: PHP
//!     option: memory_limit
//!     value: 256M
//!     backup: true
//! - ini_file:
//!     path: /etc/wireguard/wg0.conf
//!     section: Peer
//!     section_has_values: [{ option: AllowedIPs, value: 10.0.0.2/32 }]
//!     option: PublicKey
//!     value: "{{ peer_key }}"
//!     mode: "0600"
//! ```

use super::edit::{self, EditPlan};
use super::{probe, with_path_info, Attrs};
use async_trait::async_trait;
use minijinja::Value;
use prov_core::args::{lenient_bool, Mode};
use prov_core::module::{Change, Module, ModuleCtx, ModuleError, Outcome, Plan};
use regex::Regex;
use serde::Deserialize;

fn yes() -> bool {
    true
}

/// Arguments of `ini_file`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    /// The file.
    #[serde(alias = "dest")]
    pub path: String,
    /// The section.
    #[serde(default)]
    pub section: Option<String>,
    /// Options the section must hold.
    #[serde(default)]
    pub section_has_values: Option<Vec<HasValues>>,
    /// The option.
    #[serde(default)]
    pub option: Option<String>,
    /// Its value.
    #[serde(default)]
    pub value: Option<String>,
    /// Its values, one line each.
    #[serde(default, deserialize_with = "crate::util::str_list")]
    pub values: Option<Vec<String>>,
    /// Keep a copy of the replaced file.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub backup: bool,
    /// `present` or `absent`.
    #[serde(default)]
    pub state: State,
    /// Replace (remove) the option's other lines.
    #[serde(default = "yes", deserialize_with = "lenient_bool")]
    pub exclusive: bool,
    /// `option=value`.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub no_extra_spaces: bool,
    /// Keep a line whose value is right.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub ignore_spaces: bool,
    /// Create a missing file.
    #[serde(default = "yes", deserialize_with = "lenient_bool")]
    pub create: bool,
    /// A bare `option` line is allowed.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub allow_no_value: bool,
    /// Rewrite a commented-out line of the option.
    #[serde(default = "yes", deserialize_with = "lenient_bool")]
    pub modify_inactive_option: bool,
    /// Write the file a symbolic link points to.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub follow: bool,
    /// Mode.
    #[serde(default)]
    pub mode: Option<Mode>,
    /// Owner.
    #[serde(default, deserialize_with = "crate::util::stringish")]
    pub owner: Option<String>,
    /// Group.
    #[serde(default, deserialize_with = "crate::util::stringish")]
    pub group: Option<String>,
    /// Accepted: prov always writes atomically.
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

/// One item of `section_has_values`.
#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct HasValues {
    /// The option the section must hold.
    pub option: String,
    /// With this value.
    #[serde(default)]
    pub value: Option<String>,
    /// With one of these values.
    #[serde(default, deserialize_with = "crate::util::str_list")]
    pub values: Option<Vec<String>>,
}

impl HasValues {
    fn values(&self) -> Vec<String> {
        match (&self.value, &self.values) {
            (Some(v), _) => vec![v.clone()],
            (None, Some(l)) => l.clone(),
            (None, None) => Vec::new(),
        }
    }
}

/// `state` of `ini_file`.
#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// The option (or section) is in the file.
    #[default]
    Present,
    /// It is not.
    Absent,
}

/// The `ini_file` module.
#[derive(Debug, Default)]
pub struct IniFile;

/// An option's line, as the module reads it.
struct OptLine<'a> {
    /// Behind `#` or `;`.
    commented: bool,
    /// Everything after `=` and the blanks that follow it.
    value: &'a str,
}

/// Reads `line` as a line of `option`: blanks, optionally (`inactive`) one `#` or `;` and
/// blanks, the name, blanks, then `=` or the end of the line.
fn opt_line<'a>(option: &str, line: &'a str, inactive: bool) -> Option<OptLine<'a>> {
    let blanks = |s: &'a str| s.trim_start_matches([' ', '\t']);
    let body = line.strip_suffix('\n').unwrap_or(line);
    let mut rest = blanks(body);
    let mut commented = false;
    if inactive {
        if let Some(r) = rest.strip_prefix(['#', ';']) {
            rest = blanks(r);
            commented = true;
        }
    }
    let rest = blanks(rest.strip_prefix(option)?);
    if rest.is_empty() {
        return Some(OptLine { commented, value: "" });
    }
    let value = blanks(rest.strip_prefix('=')?);
    Some(OptLine { commented, value })
}

/// A blank line or a comment.
fn blank_or_comment(line: &str) -> bool {
    let t = line.strip_suffix('\n').unwrap_or(line).trim_start_matches([' ', '\t']);
    t.is_empty() || t.starts_with(['#', ';'])
}

/// What the edit asks for, with the values made unique.
struct Spec<'a> {
    section: Option<&'a str>,
    has_values: Vec<(String, Vec<String>)>,
    option: Option<&'a str>,
    values: Vec<String>,
    present: bool,
    exclusive: bool,
    no_extra_spaces: bool,
    ignore_spaces: bool,
    allow_no_value: bool,
    modify_inactive: bool,
}

impl<'a> Spec<'a> {
    fn new(a: &'a Args) -> Spec<'a> {
        let given = match (&a.value, &a.values) {
            (Some(v), _) => vec![v.clone()],
            (None, Some(l)) => l.clone(),
            (None, None) => Vec::new(),
        };
        let mut values: Vec<String> = Vec::new();
        for v in given {
            if !values.contains(&v) {
                values.push(v);
            }
        }
        Spec {
            section: a.section.as_deref().filter(|s| !s.is_empty()),
            has_values: a.section_has_values.iter().flatten().map(|h| (h.option.clone(), h.values())).collect(),
            option: a.option.as_deref().filter(|o| !o.is_empty()),
            values,
            present: a.state == State::Present,
            exclusive: a.exclusive,
            no_extra_spaces: a.no_extra_spaces,
            ignore_spaces: a.ignore_spaces,
            allow_no_value: a.allow_no_value,
            modify_inactive: a.modify_inactive_option,
        }
    }

    fn assign(&self, option: &str, value: &str) -> String {
        if self.no_extra_spaces {
            format!("{option}={value}\n")
        } else {
            format!("{option} = {value}\n")
        }
    }

    /// Whether `lines` (a section) holds every option of `section_has_values`.
    fn holds(&self, lines: &[String]) -> bool {
        self.has_values.iter().all(|(opt, vals)| {
            lines
                .iter()
                .any(|l| opt_line(opt, l, true).is_some_and(|m| vals.is_empty() || vals.iter().any(|v| v == m.value)))
        })
    }
}

/// The result of an edit.
#[derive(Debug, PartialEq, Eq)]
struct Edited {
    text: String,
    changed: bool,
    msg: &'static str,
}

/// Lines as Python's text mode reads them: `\r\n` and `\r` become `\n`, each line keeps its end.
fn text_lines(text: &str) -> Vec<String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text).replace("\r\n", "\n").replace('\r', "\n");
    text.split_inclusive('\n').map(str::to_string).collect()
}

/// The edit of the file's text (`None`: a file to create).
fn edit(old: Option<&str>, s: &Spec) -> Edited {
    let mut lines = old.map(text_lines).unwrap_or_default();
    let mut changed = false;
    let mut msg = "OK";
    match lines.last_mut() {
        None => lines.push("\n".into()),
        Some(l) if !l.ends_with('\n') => {
            l.push('\n');
            changed = true;
        }
        Some(_) => {}
    }
    // The section's first line is its header; the lines before the first section are a section
    // whose header is the start of the file (index 0 here).
    let named = s.section.map(|n| Regex::new(&format!(r"^\[\s*{}\s*]", regex::escape(n.trim()))));
    let header = |i: usize, line: &str| match &named {
        None => i == 0,
        Some(Ok(re)) => i > 0 && re.is_match(line),
        Some(Err(_)) => false,
    };
    // Sentinels: the start of the file (the header of the lines before the first section) and
    // the end of the last section.
    let mut all = vec!["[".to_string()];
    all.append(&mut lines);
    all.push("[".into());
    let (mut within, mut start, mut end) = (false, 0, 0);
    for i in 0..all.len() {
        if within && all[i].starts_with('[') {
            if s.holds(&all[start..i]) {
                end = i;
                break;
            }
            (within, start, end) = (false, 0, 0);
        }
        if header(i, &all[i]) {
            within = true;
            start = i;
        }
    }
    let mut after = all.split_off(end);
    let mut sec = all.split_off(start);
    let before = all;
    let mut done = vec![false; sec.len()];
    let mut values = s.values.clone();
    let active = |opt: &str, l: &str| opt_line(opt, l, s.modify_inactive).is_some();
    let update = |sec: &mut Vec<String>, done: &mut Vec<bool>, i: usize, new: String, changed: &mut bool| {
        let old = &sec[i];
        let differs = match (s.ignore_spaces, s.option.and_then(|o| opt_line(o, old, true))) {
            (true, Some(m)) if !m.commented => {
                let o = s.option.unwrap_or_default();
                opt_line(o, &new, true).map(|n| n.value) != Some(m.value)
            }
            _ => *old != new,
        };
        if differs {
            sec[i] = new;
            *changed = true;
        }
        done[i] = true;
        differs
    };
    let mut option_bare = false;
    if let (true, Some(opt)) = (s.present, s.option) {
        for i in 0..sec.len() {
            let Some(m) = opt_line(opt, &sec[i], s.modify_inactive) else { continue };
            if let Some(at) = values.iter().position(|v| v == m.value) {
                let v = values.remove(at);
                let new = if v.is_empty() && s.allow_no_value {
                    option_bare = true;
                    format!("{opt}\n")
                } else {
                    s.assign(opt, &v)
                };
                if update(&mut sec, &mut done, i, new, &mut changed) {
                    msg = "option changed";
                }
            } else if values.is_empty() && s.allow_no_value {
                if update(&mut sec, &mut done, i, format!("{opt}\n"), &mut changed) {
                    msg = "option changed";
                }
                option_bare = true;
                break;
            }
        }
    }
    if let (true, true, false, Some(opt)) = (s.present, s.exclusive, s.allow_no_value, s.option) {
        for i in 0..sec.len() {
            if values.is_empty() {
                break;
            }
            if !done[i] && active(opt, &sec[i]) {
                let v = values.remove(0);
                if update(&mut sec, &mut done, i, s.assign(opt, &v), &mut changed) {
                    msg = "option changed";
                }
            }
        }
        for i in (1..sec.len()).rev() {
            if !done[i] && active(opt, &sec[i]) {
                sec.remove(i);
                done.remove(i);
                changed = true;
                msg = "option changed";
            }
        }
    }
    if s.present {
        if let Some(at) = (1..=sec.len()).rev().find(|&i| !blank_or_comment(&sec[i - 1])) {
            if let Some(opt) = s.option {
                let new: Vec<String> = if !values.is_empty() {
                    values.iter().map(|v| s.assign(opt, v)).collect()
                } else if s.allow_no_value && !option_bare {
                    vec![format!("{opt}\n")]
                } else {
                    Vec::new()
                };
                if !new.is_empty() {
                    sec.splice(at..at, new);
                    msg = "option added";
                    changed = true;
                }
            }
        }
    } else if let Some(opt) = s.option {
        let n = sec.len();
        if s.exclusive {
            sec.retain(|l| opt_line(opt, l, false).is_none());
        } else if !values.is_empty() {
            sec.retain(|l| !opt_line(opt, l, false).is_some_and(|m| values.iter().any(|v| v == m.value)));
        }
        if sec.len() != n {
            changed = true;
            msg = "option changed";
        }
    } else {
        // The whole section; the start of the file has no header line to remove.
        let keep = usize::from(start == 0);
        if sec.len() > keep {
            sec.truncate(keep);
            changed = true;
            msg = "section removed";
        }
    }
    let mut out = before;
    out.append(&mut sec);
    out.append(&mut after);
    out.remove(0);
    out.pop();
    if let (false, true, Some(name)) = (within, s.present, s.section) {
        out.push(format!("[{name}]\n"));
        msg = "section and option added";
        for (opt, vals) in &s.has_values {
            if Some(opt.as_str()) != s.option {
                if !vals.is_empty() {
                    out.extend(vals.iter().map(|v| s.assign(opt, v)));
                } else if s.allow_no_value {
                    out.push(format!("{opt}\n"));
                }
            } else if !s.exclusive {
                for v in vals {
                    if !values.contains(v) {
                        values.push(v.clone());
                    }
                }
            }
        }
        match s.option {
            Some(opt) if !values.is_empty() => out.extend(values.iter().map(|v| s.assign(opt, v))),
            Some(opt) if s.allow_no_value => out.push(format!("{opt}\n")),
            _ => msg = "only section added",
        }
        changed = true;
    }
    Edited { text: out.concat(), changed, msg }
}

/// What `apply` needs: the write and the module's message.
pub struct IniPlan {
    write: EditPlan,
    msg: &'static str,
    /// The registered `diff`.
    diff: Value,
}

#[async_trait]
impl Module for IniFile {
    const NAME: &'static str = "ini_file";
    const COLLECTIONS: &'static [&'static str] = &["community.general", "ansible.builtin"];
    const PATH_ARGS: &'static [&'static str] = &["path", "dest"];
    type Args = Args;
    type Plan = IniPlan;

    fn check_args(a: &Args) -> Result<(), String> {
        if a.value.is_some() && a.values.is_some() {
            return Err("parameters are mutually exclusive: value|values".into());
        }
        for h in a.section_has_values.iter().flatten() {
            if h.value.is_some() && h.values.is_some() {
                return Err("parameters are mutually exclusive: value|values found in section_has_values".into());
            }
        }
        let no_values = a.values.as_ref().is_none_or(|v| v.is_empty());
        if a.state == State::Present && !a.allow_no_value && a.value.is_none() && no_values {
            return Err("Parameter 'value(s)' must be defined if state=present and allow_no_value=False.".into());
        }
        if a.path.is_empty() {
            return Err("`path` is empty".into());
        }
        let lines = [&a.section, &a.option, &a.value].into_iter().flatten().chain(a.values.iter().flatten());
        if lines.clone().any(|s| s.contains(['\n', '\r'])) {
            return Err("`section`, `option` and values cannot contain a line break".into());
        }
        Ok(())
    }

    async fn plan(&self, args: &Args, cx: &ModuleCtx<'_>) -> Result<Plan<IniPlan>, ModuleError> {
        if let Some(o) = super::selinux_refused(cx, [&args.seuser, &args.serole, &args.setype, &args.selevel]).await? {
            return Ok(Plan::Ok(o));
        }
        let path = args.path.as_str();
        let mut r = edit::read(cx, path).await?;
        let link = r.real != path;
        if !args.follow {
            // Ansible reads through a link but writes the new file in its place.
            r.real = path.to_string();
        }
        if r.is_dir() {
            return Ok(Plan::Ok(Outcome::failed(format!("{path} is a directory"))));
        }
        let old = match (&r.st, &r.data) {
            (None, _) if !args.create => {
                let msg = format!("Destination {} does not exist!", r.real);
                return Ok(Plan::Ok(Outcome::failed(msg).with("rc", 257)));
            }
            (None, _) => None,
            (Some(_), Some(d)) => match std::str::from_utf8(d) {
                Ok(t) => Some(t),
                Err(e) => return Ok(Plan::Ok(Outcome::failed(format!("{path} is not UTF-8 text: {e}")))),
            },
            (Some(_), None) => return Ok(Plan::Ok(Outcome::failed(format!("{path} is not a regular file")))),
        };
        let e = edit(old, &Spec::new(args));
        // community.general compares mode, owner and group only when it is not in check mode.
        let attrs = if cx.is_check() {
            Attrs::new(&None, &None, &None)
        } else {
            Attrs::new(&args.mode, &args.owner, &args.group)
        };
        // community.general registers `diff` every time; the texts only under `--diff`.
        let diff_on = cx.mode.diff == prov_core::module::DiffMode::On;
        let header = format!("{path} (content)");
        let texts = |before: &str, after: &str| {
            let pick = |t: &str| if diff_on { t.to_string() } else { String::new() };
            Value::from_pairs(vec![
                ("before".to_string(), Value::from(pick(before))),
                ("after".to_string(), Value::from(pick(after))),
                ("before_header".to_string(), Value::from(header.as_str())),
                ("after_header".to_string(), Value::from(header.as_str())),
            ])
        };
        let diff = texts(old.unwrap_or_default(), &e.text);
        let ok = |o: Outcome| o.with("diff", diff.clone()).with("path", path);
        if !e.changed && r.st.is_none() {
            // Nothing to write and nothing to create.
            return Ok(Plan::Ok(ok(Outcome { msg: Some(e.msg.into()), ..Outcome::ok() })));
        }
        let new = if e.changed { e.text.into_bytes() } else { r.data.clone().unwrap_or_default() };
        match edit::plan(cx, &r, new, e.msg, &attrs, edit::Registers::Nothing) {
            Plan::Ok(_) => {
                let st = if link { probe(cx, path, None, false).await? } else { r.st.clone() };
                Ok(Plan::Ok(with_path_info(ok(Outcome { msg: Some(e.msg.into()), ..Outcome::ok() }), st.as_ref())))
            }
            Plan::Change(ch) => {
                // Check mode registers the path as it is (its attributes when it exists).
                let st = if link { probe(cx, path, None, false).await? } else { r.st.clone() };
                let mut data = ch.data;
                data.insert("diff".into(), diff.clone());
                data.extend(with_path_info(Outcome::ok().with("path", path), st.as_ref()).data);
                Ok(Plan::Change(Change {
                    plan: IniPlan { write: ch.plan, msg: e.msg, diff },
                    diffs: ch.diffs,
                    planned: ch.planned,
                    in_check: ch.in_check,
                    msg: Some(e.msg.into()),
                    data,
                }))
            }
        }
    }

    async fn apply(&self, args: &Args, plan: IniPlan, cx: &ModuleCtx<'_>) -> Result<Outcome, ModuleError> {
        let attrs = Attrs::new(&args.mode, &args.owner, &args.group);
        let mut o = edit::apply(cx, plan.write, &attrs, args.backup, None).await?;
        if o.failed {
            return Ok(o);
        }
        o.msg = Some(plan.msg.into());
        let st = probe(cx, &args.path, None, false).await?;
        Ok(with_path_info(o.with("diff", plan.diff).with("path", args.path.as_str()), st.as_ref()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;
    use prov_core::module::{args_from_value, CheckMode};
    use serde_json::json;

    fn ed(text: Option<&str>, args: serde_json::Value) -> (String, bool, &'static str) {
        let mut args = args;
        args["path"] = json!("f");
        let a: Args = args_from_value(&j(args)).expect("arguments");
        IniFile::check_args(&a).expect("valid arguments");
        let e = edit(text, &Spec::new(&a));
        (e.text, e.changed, e.msg)
    }

    // Every expected text below is what community.general.ini_file (ansible 12.3) wrote for the
    // same file and arguments.
    #[test]
    fn options_are_set_where_ansible_sets_them() {
        let f = "[drinks]\nfav = x\n; b = 2\n\n# c\n[n]\n";
        assert_eq!(
            ed(Some(f), json!({"section": "drinks", "option": "new", "value": "v"})),
            ("[drinks]\nfav = x\nnew = v\n; b = 2\n\n# c\n[n]\n".into(), true, "option added"),
            "after the last line that is neither blank nor a comment"
        );
        assert_eq!(
            ed(Some(f), json!({"section": "drinks", "option": "b", "value": 3})),
            ("[drinks]\nfav = x\nb = 3\n\n# c\n[n]\n".into(), true, "option changed"),
            "the commented-out line rewritten in place"
        );
        assert_eq!(
            ed(Some(f), json!({"section": "drinks", "option": "b", "value": 3, "modify_inactive_option": false})).0,
            "[drinks]\nfav = x\nb = 3\n; b = 2\n\n# c\n[n]\n"
        );
        assert_eq!(ed(None, json!({"section": "s", "option": "o", "value": "v"})).0, "\n[s]\no = v\n");
        assert_eq!(ed(None, json!({"option": "o", "value": "v"})).0, "o = v\n\n");
        assert_eq!(ed(Some("x = 1\n\n# end\n"), json!({"option": "z", "value": 9})).0, "x = 1\nz = 9\n\n# end\n");
        assert_eq!(
            ed(
                Some("[s]\nb = coke\nb = pepsi\n"),
                json!({"section": "s", "option": "b", "values": ["pepsi", "sprite"]})
            )
            .0,
            "[s]\nb = sprite\nb = pepsi\n",
            "a line holding a wanted value is kept"
        );
        assert_eq!(
            ed(Some("[s]\na = 1\n# a = 5\n;a=6\n"), json!({"section": "s", "option": "a", "value": 1})),
            ("[s]\na = 1\n".into(), true, "option changed"),
            "exclusive removes the commented-out lines too"
        );
        assert_eq!(
            ed(Some("[s]\na = 1\nb = 2\na = 3\n"), json!({"section": "s", "option": "a", "allow_no_value": true})).0,
            "[s]\na\nb = 2\na = 3\n"
        );
        let (t, changed, msg) =
            ed(Some("[o] ; c\nx=1\ny =2\n"), json!({"section": "o", "option": "y", "value": 2, "ignore_spaces": true}));
        assert_eq!((t.as_str(), changed, msg), ("[o] ; c\nx=1\ny =2\n", false, "OK"));
        assert_eq!(
            ed(Some("[m]\nlast = 1"), json!({"section": "m", "option": "b", "value": true})).0,
            "[m]\nlast = 1\nb = True\n"
        );
    }

    #[test]
    fn sections_are_found_added_and_removed_as_ansible_does() {
        let wg = "[Interface]\nAddress = 1\n\n[Peer]\nPublicKey = A\nAllowedIps = 10.0.0.1/32\n\n[Peer]\nPublicKey = B\nAllowedIps = 10.0.0.2/32\n";
        let has = |ip: &str, key: &str| json!({"section": "Peer", "section_has_values": [{"option": "AllowedIps", "value": ip}], "option": "PublicKey", "value": key});
        let one = ed(Some(wg), has("10.0.0.2/32", "NEW"));
        assert_eq!(one.0, wg.replace("= B", "= NEW"));
        let two = ed(Some(&one.0), has("10.0.0.3/32", "THREE"));
        assert_eq!(two.0, format!("{}[Peer]\nAllowedIps = 10.0.0.3/32\nPublicKey = THREE\n", one.0));
        assert_eq!(two.2, "section and option added");
        assert_eq!(ed(Some("[a]\nk = 1\n[b]\n"), json!({"section": "a", "state": "absent"})).0, "[b]\n");
        assert_eq!(
            ed(None, json!({"section": "only", "allow_no_value": true})),
            ("\n[only]\n".into(), true, "only section added")
        );
        assert!(
            !ed(Some(""), json!({"section": "s", "option": "o", "state": "absent"})).1,
            "an empty file is not written"
        );
        assert!(!ed(Some("[s]\r\no = v\r\n"), json!({"section": "s", "option": "o", "value": "v"})).1, "\\r\\n kept");
        assert_eq!(
            ed(Some("[s]\r\no = v\r\n"), json!({"section": "s", "option": "p", "value": "q"})).0,
            "[s]\no = v\np = q\n"
        );
        assert_eq!(
            ed(
                Some("[m]\nm = one\nm = two\n"),
                json!({"section": "m", "option": "m", "value": "one", "exclusive": false, "state": "absent"})
            )
            .0,
            "[m]\nm = two\n"
        );
    }

    #[test]
    fn arguments_ansible_refuses_are_refused() {
        let check = |v: serde_json::Value| args_from_value::<Args>(&j(v)).and_then(|a| IniFile::check_args(&a));
        assert!(check(json!({"path": "f", "option": "o"})).unwrap_err().contains("value(s)"));
        assert!(check(json!({"path": "f", "option": "o", "value": 1, "values": [2]}))
            .unwrap_err()
            .contains("mutually"));
        assert!(check(json!({"dest": "f", "option": "o", "state": "absent"})).is_ok());
        assert!(check(json!({"path": "f", "key": "o", "value": 1})).unwrap_err().contains("unknown field"));
    }

    #[tokio::test]
    async fn ini_file_on_a_local_file_checks_writes_and_then_changes_nothing() {
        let mut h = LocalHost::new();
        let p = h.path("d/a.ini");
        let args = json!({"path": p, "section": "s", "option": "o", "value": "v", "mode": "0640"});
        h.mode.check = CheckMode::Check;
        let o = run::<IniFile>(args.clone(), &h.ctx()).await;
        assert!(o.changed && !o.failed, "{o:?}");
        assert!(!std::path::Path::new(&p).exists(), "check mode writes nothing");
        h.mode.check = CheckMode::Apply;
        let o = run::<IniFile>(args.clone(), &h.ctx()).await;
        assert!(o.changed && !o.failed, "{o:?}");
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "\n[s]\no = v\n");
        assert_eq!(o.data["mode"].as_str(), Some("0640"));
        assert_eq!(o.msg.as_deref(), Some("section and option added"));
        let o = run::<IniFile>(args, &h.ctx()).await;
        assert!(!o.changed && o.msg.as_deref() == Some("OK"), "{o:?}");
        let o =
            run::<IniFile>(json!({"path": h.path("no"), "option": "o", "value": 1, "create": false}), &h.ctx()).await;
        assert_eq!(o.msg, Some(format!("Destination {} does not exist!", h.path("no"))));
    }
}
