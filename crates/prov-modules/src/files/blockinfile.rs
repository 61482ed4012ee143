//! `blockinfile`: keeps a block of lines between two marker lines in a file (inserts, updates
//! or removes it).
//!
//! Arguments (as in Ansible):
//! - `path` (aliases `dest`, `destfile`, `name`, required): the file; symbolic links are
//!   followed and the file they point to is written.
//! - `block` (alias `content`, default empty): the lines; empty removes the block.
//! - `state`: `present` (default) or `absent`.
//! - `marker` (default `# {mark} ANSIBLE MANAGED BLOCK`), with `{mark}` replaced by
//!   `marker_begin` (default `BEGIN`) and `marker_end` (default `END`).
//! - `insertafter` (`EOF`, the default, or a regexp), `insertbefore` (`BOF` or a regexp): where a
//!   new block goes when its markers are not in the file: after (before) the last line matching
//!   the regexp, at the end when none does. A regexp starting with `(?m)` is matched against the
//!   whole file instead of line by line.
//! - `create` (default false): create a missing file (and its directory).
//! - `append_newline`, `prepend_newline` (default false): keep a blank line after (before) the
//!   block.
//! - `backup`, `validate` (`%s` = the new file), `mode`, `owner`, `group`; `unsafe_writes` is
//!   accepted (prov always writes the file whole and atomically).
//!
//! Regular expressions are Rust's `regex` syntax (no look-around or backreferences). Reads the
//! file in one command and writes it back whole. Registers `msg` (`Block inserted`,
//! `Block removed`, `File created`), `backup_file` and `diff` as lineinfile (both entries).
//!
//! ```yaml
//! - blockinfile:
//!     path: /etc/ssh/sshd_config
//!     block: |
//!       Match User deploy
//!         PasswordAuthentication no
//!     validate: /usr/sbin/sshd -t -f %s
//! - blockinfile:
//!     path: /etc/hosts
//!     marker: "# {mark} cluster nodes"
//!     block: "{{ lookup('file', 'hosts.txt') }}"
//! ```

use super::edit::{self, split_lines, EditPlan};
use super::Attrs;
use async_trait::async_trait;
use minijinja::Value;
use prov_core::args::{lenient_bool, Mode};
use prov_core::module::{Module, ModuleCtx, ModuleError, Outcome, Plan};
use regex::bytes::Regex;
use serde::Deserialize;

fn marker() -> String {
    "# {mark} ANSIBLE MANAGED BLOCK".into()
}
fn begin() -> String {
    "BEGIN".into()
}
fn end() -> String {
    "END".into()
}
fn text<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    <crate::util::Text as Deserialize>::deserialize(d).map(|t| t.0)
}

/// Arguments of `blockinfile`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    /// The file.
    #[serde(alias = "dest", alias = "destfile", alias = "name")]
    pub path: String,
    /// `present` or `absent`.
    #[serde(default)]
    pub state: Option<String>,
    /// The marker line template.
    #[serde(default = "marker", deserialize_with = "text")]
    pub marker: String,
    /// The block's lines.
    #[serde(default, alias = "content", deserialize_with = "text")]
    pub block: String,
    /// `EOF` or a regexp.
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
    /// Validation command (`%s` = the new file).
    #[serde(default)]
    pub validate: Option<String>,
    /// `{mark}` in the first marker.
    #[serde(default = "begin", deserialize_with = "text")]
    pub marker_begin: String,
    /// `{mark}` in the last marker.
    #[serde(default = "end", deserialize_with = "text")]
    pub marker_end: String,
    /// Keep a blank line after the block.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub append_newline: bool,
    /// Keep a blank line before the block.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub prepend_newline: bool,
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

/// The `blockinfile` module.
#[derive(Debug, Default)]
pub struct BlockInFile;

fn present(args: &Args) -> bool {
    args.state.as_deref() != Some("absent")
}

fn compile(what: &str, re: &str) -> Result<Regex, String> {
    Regex::new(re).map_err(|e| format!("`{what}` is not a valid regular expression: {e}"))
}

/// Whether a pattern sets the multi-line flag for itself (`(?m)`, `(?im)`, `(?m:` ...).
fn multiline(re: &str) -> bool {
    re.strip_prefix("(?").is_some_and(|r| r.chars().take_while(|c| c.is_ascii_alphabetic()).any(|c| c == 'm'))
}

/// The new content of the file (`original` is `None` for a file to create).
fn edit(original: Option<&[u8]>, args: &Args) -> Result<Vec<u8>, String> {
    let mut lines = original.map(split_lines).unwrap_or_default();
    let present = present(args);
    let after = match (&args.insertafter, &args.insertbefore) {
        (None, None) => Some("EOF"),
        (a, _) => a.as_deref(),
    };
    let insert_re = match (after, args.insertbefore.as_deref()) {
        (Some(a), _) if a != "EOF" => Some((compile("insertafter", a)?, a)),
        (None, Some(b)) if b != "BOF" => Some((compile("insertbefore", b)?, b)),
        _ => None,
    };
    let mark = |m: &str| format!("{}\n", args.marker.replace("{mark}", m)).into_bytes();
    let (m0, m1) = (mark(&args.marker_begin), mark(&args.marker_end));
    let mut block_lines = Vec::new();
    if present && !args.block.is_empty() {
        let mut block = args.block.clone().into_bytes();
        if !block.ends_with(b"\n") {
            block.push(b'\n');
        }
        block_lines.push(m0.clone());
        block_lines.extend(split_lines(&block));
        block_lines.push(m1.clone());
    }
    let n0 = lines.iter().rposition(|l| *l == m0);
    let n1 = lines.iter().rposition(|l| *l == m1);
    let mut at = match (n0, n1) {
        (Some(b), Some(e)) => {
            let (from, to) = if b < e { (b, e) } else { (e, b) };
            lines.drain(from..=to);
            from
        }
        _ => match insert_re {
            Some((re, pattern)) => {
                let found = if multiline(pattern) {
                    let text = original.unwrap_or_default();
                    re.find(text).map(|m| {
                        let upto = if after.is_some() { m.end() } else { m.start() };
                        text[..upto].iter().filter(|b| **b == b'\n').count()
                    })
                } else {
                    // The line as Python's `re.search` sees it: `$` may match before its final
                    // `\n`, not before a `\r` (a CRLF line does not match `^x$`).
                    lines.iter().rposition(|l| re.is_match(l.strip_suffix(b"\n").unwrap_or(l)))
                };
                match found {
                    None => lines.len(),
                    Some(i) if after.is_some() => (i + 1).min(lines.len()),
                    Some(i) => i,
                }
            }
            None if args.insertbefore.is_some() => 0,
            None => lines.len(),
        },
    };
    if at > 0 && !lines[at - 1].ends_with(b"\n") {
        lines[at - 1].push(b'\n');
    }
    if args.prepend_newline && present && at != 0 && lines[at - 1] != b"\n" {
        lines.insert(at, b"\n".to_vec());
        at += 1;
    }
    let n = block_lines.len();
    lines.splice(at..at, block_lines);
    if args.append_newline && present {
        let next = at + n;
        if next < lines.len() && lines[next] != b"\n" {
            lines.insert(next, b"\n".to_vec());
        }
    }
    Ok(lines.concat())
}

#[async_trait]
impl Module for BlockInFile {
    const NAME: &'static str = "blockinfile";
    const PATH_ARGS: &'static [&'static str] = &["path", "dest", "destfile", "name"];
    type Args = Args;
    type Plan = EditPlan;

    fn check_args(args: &Args) -> Result<(), String> {
        super::check_owner_group(&args.owner, &args.group)?;
        match args.state.as_deref() {
            None | Some("present") | Some("absent") => {}
            Some(s) => return Err(format!("state must be present or absent, not {s}")),
        }
        if args.insertafter.is_some() && args.insertbefore.is_some() {
            return Err("`insertafter` and `insertbefore` are mutually exclusive".into());
        }
        if args.validate.as_deref().is_some_and(|v| !v.contains("%s")) {
            return Err("`validate` must contain %s (the file to check)".into());
        }
        if args.path.is_empty() {
            return Err("`path` is empty".into());
        }
        for (what, re) in [("insertafter", &args.insertafter), ("insertbefore", &args.insertbefore)] {
            if let Some(r) = re.as_deref().filter(|r| *r != "EOF" && *r != "BOF") {
                compile(what, r)?;
            }
        }
        Ok(())
    }

    async fn plan(&self, args: &Args, cx: &ModuleCtx<'_>) -> Result<Plan<EditPlan>, ModuleError> {
        if let Some(o) = super::selinux_refused(cx, [&args.seuser, &args.serole, &args.setype, &args.selevel]).await? {
            return Ok(Plan::Ok(o));
        }
        let path = args.path.as_str();
        let r = edit::read(cx, path).await?;
        if r.is_dir() {
            return Ok(Plan::Ok(Outcome::failed(format!("Path {path} is a directory !")).with("rc", 256)));
        }
        let original = match (&r.st, &r.data) {
            (None, _) if !args.create => {
                return Ok(Plan::Ok(Outcome::failed(format!("Path {path} does not exist !")).with("rc", 257)))
            }
            (None, _) if !present(args) => {
                return Ok(Plan::Ok(Outcome { msg: Some(format!("File {path} not present")), ..Outcome::ok() }))
            }
            (None, _) => None,
            (Some(_), Some(d)) => Some(d.as_slice()),
            (Some(_), None) => {
                return Ok(Plan::Ok(Outcome::failed(format!("{path} is not a regular file"))));
            }
        };
        let new = edit(original, args).map_err(ModuleError::Args)?;
        let msg = match original {
            None => "File created",
            Some(_) if !present(args) || args.block.is_empty() => "Block removed",
            Some(_) => "Block inserted",
        };
        let attrs = Attrs::new(&args.mode, &args.owner, &args.group);
        Ok(edit::plan(cx, &r, new, msg, &attrs, edit::Registers::Lines))
    }

    async fn apply(&self, args: &Args, plan: EditPlan, cx: &ModuleCtx<'_>) -> Result<Outcome, ModuleError> {
        let attrs = Attrs::new(&args.mode, &args.owner, &args.group);
        edit::apply(cx, plan, &attrs, args.backup, args.validate.as_deref()).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;
    use prov_core::module::{args_from_value, CheckMode};
    use serde_json::json;

    fn ed(text: Option<&str>, args: serde_json::Value) -> String {
        let a: Args = args_from_value(&j(args)).unwrap();
        BlockInFile::check_args(&a).unwrap();
        String::from_utf8(edit(text.map(str::as_bytes), &a).unwrap()).unwrap()
    }

    /// ansible-core 2.19.14: `insertafter: '^anchor$'` does not match a CRLF line (Python's
    /// `$` stops before a final `\n` only), so the block goes at the end; prov put it after
    /// the line.
    #[test]
    fn an_insert_pattern_ending_in_dollar_does_not_match_a_crlf_line() {
        let want = "anchor\r\nb\r\n# BEGIN ANSIBLE MANAGED BLOCK\nX\n# END ANSIBLE MANAGED BLOCK\n";
        assert_eq!(ed(Some("anchor\r\nb\r\n"), json!({"path": "f", "block": "X", "insertafter": "^anchor$"})), want);
        let before = ed(Some("anchor\r\nb\r\n"), json!({"path": "f", "block": "X", "insertbefore": "^anchor$"}));
        assert_eq!(before, want);
        assert_eq!(
            ed(Some("anchor\nb\n"), json!({"path": "f", "block": "X", "insertafter": "^anchor$"})),
            "anchor\n# BEGIN ANSIBLE MANAGED BLOCK\nX\n# END ANSIBLE MANAGED BLOCK\nb\n"
        );
    }

    // Every expected text below is what ansible-core 2.19 wrote for the same file and arguments.
    #[test]
    fn blockinfile_edits_like_ansible() {
        let m = "# BEGIN ANSIBLE MANAGED BLOCK\n";
        let e = "# END ANSIBLE MANAGED BLOCK\n";
        assert_eq!(
            ed(Some("a\nb\nc"), json!({"path": "f", "block": "one\ntwo"})),
            format!("a\nb\nc\n{m}one\ntwo\n{e}")
        );
        let f2 = format!("x\n{m}old\n{e}y\n");
        assert_eq!(ed(Some(&f2), json!({"path": "f", "block": "new"})), format!("x\n{m}new\n{e}y\n"));
        let f2 = format!("x\n{m}new\n{e}y\n");
        assert_eq!(
            ed(Some(&f2), json!({"path": "f", "block": "z", "marker": "<!-- {mark} -->", "insertbefore": "^x"})),
            format!("<!-- BEGIN -->\nz\n<!-- END -->\n{f2}")
        );
        assert_eq!(ed(Some(&f2), json!({"path": "f", "state": "absent"})), "x\ny\n");
        assert_eq!(ed(None, json!({"path": "f", "block": "k=v", "create": true})), format!("{m}k=v\n{e}"));
        let f1 = format!("a\nb\nc\n{m}one\ntwo\n{e}");
        // An empty block at the end with prepend_newline still adds the blank line (as Ansible does).
        let r = ed(
            Some(&f1),
            json!({"path": "f", "block": "", "marker": "#{mark}", "marker_begin": "S", "marker_end": "E", "prepend_newline": true}),
        );
        assert_eq!(r, format!("{f1}\n"));
        let r = ed(
            Some(&r),
            json!({"path": "f", "block": "q", "marker": "#{mark}", "prepend_newline": true, "append_newline": true, "insertafter": "^a"}),
        );
        assert_eq!(r, format!("a\n\n#BEGIN\nq\n#END\n\nb\nc\n{m}one\ntwo\n{e}\n"));
        let args = json!({"path": "f", "block": "m", "marker": "#{mark} M", "insertbefore": "(?m)^b\n^c"});
        let r2 = ed(Some(&r), args.clone());
        assert_eq!(r2, format!("a\n\n#BEGIN\nq\n#END\n\n#BEGIN M\nm\n#END M\nb\nc\n{m}one\ntwo\n{e}\n"));
        assert_eq!(ed(Some(&r2), args), r2, "the second run changes nothing");
        // Removing a block that is not there still ends the last line (ansible-core 2.19 reported
        // `changed`, "Block removed", on such a file).
        assert_eq!(ed(Some("x\ny"), json!({"path": "f", "marker": "# {mark} OLD", "state": "absent"})), "x\ny\n");
        assert_eq!(ed(Some("x\ny\n"), json!({"path": "f", "marker": "# {mark} OLD", "state": "absent"})), "x\ny\n");
    }

    #[test]
    fn blockinfile_refuses_bad_arguments() {
        for (args, want) in [
            (json!({"path": "f", "insertafter": "a", "insertbefore": "b"}), "mutually exclusive"),
            (json!({"path": "f", "insertafter": "("}), "not a valid regular expression"),
            (json!({"path": "f", "state": "gone"}), "present or absent"),
            (json!({"path": "f", "validate": "true"}), "%s"),
        ] {
            let a: Args = args_from_value(&j(args)).unwrap();
            assert!(BlockInFile::check_args(&a).unwrap_err().contains(want), "{want}");
        }
        assert!(args_from_value::<Args>(&j(json!({"path": "f", "attributes": "+i"}))).is_err());
    }

    #[tokio::test]
    async fn blockinfile_on_a_local_file() {
        let mut h = LocalHost::new();
        let p = h.path("f");
        std::fs::write(&p, "x\n").unwrap();
        std::os::unix::fs::symlink(&p, h.path("link")).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o640)).unwrap();
        let args = json!({"path": h.path("link"), "block": "b", "backup": true});
        h.mode.check = CheckMode::Check;
        let o = run::<BlockInFile>(args.clone(), &h.ctx()).await;
        assert!(o.changed && !o.failed, "{o:?}");
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "x\n", "check mode writes nothing");
        assert_eq!(o.diffs[0].after, "x\n# BEGIN ANSIBLE MANAGED BLOCK\nb\n# END ANSIBLE MANAGED BLOCK\n");
        h.mode.check = CheckMode::Apply;
        let o = run::<BlockInFile>(args.clone(), &h.ctx()).await;
        assert!(o.changed && !o.failed, "{o:?}");
        assert_eq!(o.msg.as_deref(), Some("Block inserted"));
        assert!(std::fs::symlink_metadata(h.path("link")).unwrap().file_type().is_symlink(), "the link stays");
        assert_eq!(
            std::fs::read_to_string(&p).unwrap(),
            "x\n# BEGIN ANSIBLE MANAGED BLOCK\nb\n# END ANSIBLE MANAGED BLOCK\n"
        );
        assert_eq!(std::fs::metadata(&p).unwrap().permissions().mode() & 0o7777, 0o640, "mode kept");
        let backup = o.data["backup_file"].as_str().unwrap().to_string();
        assert_eq!(std::fs::read_to_string(backup).unwrap(), "x\n");
        let o = run::<BlockInFile>(args, &h.ctx()).await;
        assert!(!o.changed, "{o:?}");
        let o = run::<BlockInFile>(json!({"path": h.path("no/such"), "block": "b"}), &h.ctx()).await;
        assert!(o.failed);
        assert_eq!(o.msg, Some(format!("Path {} does not exist !", h.path("no/such"))));
        let o = run::<BlockInFile>(
            json!({"path": h.path("new/f"), "block": "b", "create": true, "mode": "0600"}),
            &h.ctx(),
        )
        .await;
        assert_eq!(o.msg.as_deref(), Some("File created"), "{o:?}");
        assert_eq!(std::fs::metadata(h.path("new/f")).unwrap().permissions().mode() & 0o7777, 0o600);
        let o = run::<BlockInFile>(json!({"path": p, "block": "c", "validate": "grep -q nomatch %s"}), &h.ctx()).await;
        assert!(o.failed, "{o:?}");
        assert!(std::fs::read_to_string(&p).unwrap().contains("\nb\n"), "not validated, not written");
    }

    #[tokio::test]
    async fn block_edit_through_a_link_with_hostile_names_writes_data_only() {
        let h = LocalHost::new();
        let marker = pwned_marker("blockinfile");
        for name in hostile_values(&marker) {
            let dir = h.path(&name);
            let p = format!("{dir}/{}", name.replace('/', "_"));
            let args = json!({"path": p, "block": "b", "create": true, "backup": true, "validate": "test -f %s"});
            let o = run::<BlockInFile>(args, &h.ctx()).await;
            assert!(o.changed && !o.failed, "{name:?}: {o:?}");
            let link = format!("{p}.link");
            std::os::unix::fs::symlink(&p, &link).unwrap_or_else(|e| panic!("{name:?} {p:?}: {e} {:?}", o.data));
            let o = run::<BlockInFile>(json!({"path": link, "block": "c", "backup": true}), &h.ctx()).await;
            assert!(o.changed && !o.failed, "{name:?}: {o:?}");
            assert!(std::fs::read_to_string(&p).unwrap().contains("\nc\n"), "{name:?}: written through the link");
            let backup = o.data["backup_file"].as_str().unwrap().to_string();
            assert!(backup.starts_with(&p), "{name:?}: {backup}");
        }
        assert!(!std::path::Path::new(&marker).exists(), "a hostile name ran as shell");
    }
}
