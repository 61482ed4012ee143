//! `replace`: replaces every match of a regular expression in a file.
//!
//! Arguments (as in Ansible):
//! - `path` (aliases `dest`, `destfile`, `name`, required): the file; symbolic links are
//!   followed and the file they point to is written. A missing file fails the task.
//! - `regexp` (required): matched in multi-line mode (`^`/`$` match at each line), `.` does not
//!   match a newline.
//! - `replace` (default empty: matches are removed): may use `\1`, `\g<1>`, `\g<name>`.
//! - `after`, `before`: only the text after the first match of `after` and/or before the
//!   following match of `before` is changed (these match with `.` matching newlines, `^`/`$` at
//!   the ends of the file only); when they do not match nothing changes.
//! - `backup`, `validate` (`%s` = the new file), `mode`, `owner`, `group`; `encoding` must be
//!   `utf-8` (the default); `unsafe_writes` is accepted (prov always writes atomically).
//!
//! Regular expressions are Python's `re` syntax, look-around and backreferences included (a
//! match that backtracks past fancy-regex's limit fails the task). `replace` is read as Python reads it: `\1`, `\g<1>`, `\g<name>`, octal `\0`/`\101`,
//! `\n`-style escapes; a group that does not exist or an unknown letter escape (`\d`) fails
//! the task and leaves the file alone. It is up to the pattern to be idempotent: a replacement that the pattern matches
//! again changes the file on every run, as in Ansible. Reads the file in one command and writes
//! it back whole. Registers `msg` (`N replacements made`), `rc` (0), `backup_file` and, under
//! `--diff` and only for a change, `diff` (the content before and after).
//!
//! ```yaml
//! - replace:
//!     path: /etc/default/grub
//!     regexp: '^(GRUB_CMDLINE_LINUX=".*?)\s*quiet(.*")$'
//!     replace: '\1\2'
//! - replace:
//!     path: /etc/apache2/sites-available/app.conf
//!     after: '<VirtualHost \*:80>'
//!     before: '</VirtualHost>'
//!     regexp: '^(\s*)ServerName .*$'
//!     replace: '\1ServerName app.example.org'
//! ```

use super::edit::{self, EditPlan};
use super::lineinfile::expand_template;
use super::Attrs;
use super::{compile_pattern as compile, gave_up};
use async_trait::async_trait;
use minijinja::Value;
use prov_core::args::{lenient_bool, Mode};
use prov_core::module::{Module, ModuleCtx, ModuleError, Outcome, Plan};
use serde::Deserialize;

/// Arguments of `replace`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    /// The file.
    #[serde(alias = "dest", alias = "destfile", alias = "name")]
    pub path: String,
    /// What to replace.
    pub regexp: String,
    /// The replacement.
    #[serde(default, deserialize_with = "crate::util::stringish")]
    pub replace: Option<String>,
    /// Only after the first match of this.
    #[serde(default)]
    pub after: Option<String>,
    /// Only before the match of this.
    #[serde(default)]
    pub before: Option<String>,
    /// Keep a copy of the replaced file.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub backup: bool,
    /// Validation command (`%s` = the new file).
    #[serde(default)]
    pub validate: Option<String>,
    /// The file's encoding: `utf-8` only.
    #[serde(default)]
    pub encoding: Option<String>,
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

/// The `replace` module.
#[derive(Debug, Default)]
pub struct Replace;

/// The pattern that selects the part of the file to change, if `after`/`before` are given.
fn section_pattern(args: &Args) -> Option<String> {
    let (a, b) = (args.after.as_deref().filter(|s| !s.is_empty()), args.before.as_deref().filter(|s| !s.is_empty()));
    match (a, b) {
        (Some(a), Some(b)) => Some(format!("{a}(?P<subsection>.*?){b}")),
        (Some(a), None) => Some(format!("{a}(?P<subsection>.*)")),
        (None, Some(b)) => Some(format!("(?P<subsection>.*){b}")),
        (None, None) => None,
    }
}

/// What the edit found.
#[derive(Debug, PartialEq)]
enum Edited {
    /// `after`/`before` matched nothing: Ansible's message.
    NoSection(String),
    /// The new text and how many replacements made it (0: unchanged).
    Text(String, usize),
}

/// The pure edit.
fn edit(text: &str, args: &Args) -> Result<Edited, String> {
    let (start, end) = match section_pattern(args) {
        Some(p) => {
            let re = compile("after/before", &format!("(?s){p}"))?;
            match re.captures(text).map_err(gave_up)?.and_then(|c| c.name("subsection").map(|m| (m.start(), m.end()))) {
                Some(range) => range,
                None => {
                    return Ok(Edited::NoSection(format!(
                        "Pattern for before/after params did not match the given file: {p}"
                    )))
                }
            }
        }
        None => (0, text.len()),
    };
    let re = compile("regexp", &format!("(?m){}", args.regexp))?;
    let section = &text[start..end];
    let template = expand_template(args.replace.as_deref().unwrap_or_default(), &re)
        .map_err(|e| format!("Unable to process replace due to error: {e}"))?;
    let (replaced, n) = prov_core::template::filters::python_subn(&re, &template, section, 0)
        .map_err(|e| format!("the regular expression could not be matched: {e}"))?;
    if n == 0 || replaced == section {
        return Ok(Edited::Text(text.to_string(), 0));
    }
    Ok(Edited::Text(format!("{}{replaced}{}", &text[..start], &text[end..]), n))
}

#[async_trait]
impl Module for Replace {
    const NAME: &'static str = "replace";
    const PATH_ARGS: &'static [&'static str] = &["path", "dest", "destfile", "name"];
    type Args = Args;
    type Plan = EditPlan;

    fn check_args(args: &Args) -> Result<(), String> {
        super::check_owner_group(&args.owner, &args.group)?;
        if let Some(e) = args.encoding.as_deref() {
            if !matches!(e.to_ascii_lowercase().replace('_', "-").as_str(), "utf-8" | "utf8") {
                return Err(format!("encoding {e} is not supported: prov reads and writes files as utf-8"));
            }
        }
        if args.validate.as_deref().is_some_and(|v| !v.contains("%s")) {
            return Err("`validate` must contain %s (the file to check)".into());
        }
        if args.path.is_empty() {
            return Err("`path` is empty".into());
        }
        compile("regexp", &args.regexp)?;
        if let Some(p) = section_pattern(args) {
            compile("after/before", &p)?;
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
        let data = match (&r.st, &r.data) {
            (None, _) => return Ok(Plan::Ok(Outcome::failed(format!("Path {path} does not exist !")).with("rc", 257))),
            (Some(_), None) => {
                // ansible-core reads a device (`/dev/null`) as text: a replacement that cannot
                // be made fails as it does there; prov changes regular files only.
                let msg = edit("", args).err().unwrap_or_else(|| format!("{path} is not a regular file"));
                return Ok(Plan::Ok(Outcome::failed(msg)));
            }
            (Some(_), Some(d)) => d,
        };
        let text = std::str::from_utf8(data)
            .map_err(|_| ModuleError::Failed(format!("{path} is not utf-8 text: prov edits utf-8 files only")))?;
        let edited = match edit(text, args) {
            Ok(e) => e,
            // A replacement that cannot be made fails the task (ansible-core's message).
            Err(msg) if msg.starts_with("Unable to process replace") => return Ok(Plan::Ok(Outcome::failed(msg))),
            Err(msg) => return Err(ModuleError::Args(msg)),
        };
        let (new, n) = match edited {
            Edited::NoSection(msg) => return Ok(Plan::Ok(Outcome { msg: Some(msg), ..Outcome::ok() }.with("rc", 0))),
            Edited::Text(new, n) => (new, n),
        };
        let attrs = Attrs::new(&args.mode, &args.owner, &args.group);
        Ok(
            match edit::plan(
                cx,
                &r,
                new.into_bytes(),
                &format!("{n} replacements made"),
                &attrs,
                edit::Registers::Replace,
            ) {
                Plan::Ok(o) => Plan::Ok(o.with("rc", 0)),
                // Registered as such in check mode too (ansible-core).
                Plan::Change(mut ch) => {
                    ch.data.insert("rc".into(), Value::from(0));
                    Plan::Change(ch)
                }
            },
        )
    }

    async fn apply(&self, args: &Args, plan: EditPlan, cx: &ModuleCtx<'_>) -> Result<Outcome, ModuleError> {
        let attrs = Attrs::new(&args.mode, &args.owner, &args.group);
        let o = edit::apply(cx, plan, &attrs, args.backup, args.validate.as_deref()).await?;
        Ok(if o.failed { o } else { o.with("rc", 0) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;
    use prov_core::module::{args_from_value, CheckMode};
    use serde_json::json;

    fn ed(text: &str, args: serde_json::Value) -> Edited {
        let a: Args = args_from_value(&j(args)).unwrap();
        Replace::check_args(&a).unwrap();
        edit(text, &a).unwrap()
    }

    // Expected texts and messages: ansible-core 2.19 on the same file and arguments.
    #[test]
    fn replace_edits_like_ansible() {
        let f = "host=a\n#port=1\nport=2\nname=x\n";
        let port = json!({"path": "f", "regexp": "^port=(\\d+)$", "replace": "port=\\1\\g<1>0"});
        assert_eq!(ed(f, port.clone()), Edited::Text("host=a\n#port=1\nport=220\nname=x\n".into(), 1));
        assert_eq!(
            ed("host=a\n#port=1\nport=220\nname=x\n", port),
            Edited::Text("host=a\n#port=1\nport=2202200\nname=x\n".into(), 1),
            "a pattern that matches its replacement changes the file every time, as in Ansible"
        );
        let f = "host=a\n#port=1\nport=2202200\nname=x\n";
        assert_eq!(
            ed(f, json!({"path": "f", "regexp": "x", "replace": "y", "after": "port", "before": "name"})),
            Edited::Text(f.into(), 0)
        );
        assert_eq!(
            ed(f, json!({"path": "f", "regexp": "=", "replace": ":", "after": "^#"})),
            Edited::NoSection(
                "Pattern for before/after params did not match the given file: ^#(?P<subsection>.*)".into()
            )
        );
        assert_eq!(ed(f, json!({"path": "f", "regexp": "^host"})), Edited::Text(f.replacen("host", "", 1), 1));
        assert_eq!(
            ed("a=1\nb=2\nc=3\n", json!({"path": "f", "regexp": "=", "replace": ":", "after": "a=", "before": "c"})),
            Edited::Text("a=1\nb:2\nc=3\n".into(), 1)
        );
    }

    // What ansible-core 2.19 (Python 3.11's re) did with these templates on "port=80\nx=1\n":
    // a missing group and an unknown escape fail the task and leave the file alone; `\0` is an
    // octal escape (NUL) and `\101` is `A`; an unknown non-letter escape keeps its backslash.
    #[test]
    fn replace_fails_on_bad_group_references_and_escapes_as_python() {
        let f = "port=80\nx=1\n";
        let err = |r: &str| {
            let a: Args =
                args_from_value(&j(json!({"path": "f", "regexp": "^port=(\\d)(\\d)$", "replace": r}))).unwrap();
            edit(f, &a).unwrap_err()
        };
        assert_eq!(err("p=\\3"), "Unable to process replace due to error: invalid group reference 3 at position 3");
        assert_eq!(err("K\\d"), "Unable to process replace due to error: bad escape \\d at position 1");
        assert_eq!(err("q\\g<x>"), "Unable to process replace due to error: unknown group name 'x'");
        assert_eq!(
            ed(f, json!({"path": "f", "regexp": "^x=(\\d)$", "replace": "a\\0b\\101\\1c\\g<0>"})),
            Edited::Text("port=80\na\0bA1cx=1\n".into(), 1)
        );
        assert_eq!(
            ed(f, json!({"path": "f", "regexp": "^port=(\\d)(\\d)$", "replace": "q\\.\\-\\'$1"})),
            Edited::Text("q\\.\\-\\'$1\nx=1\n".into(), 1)
        );
    }

    /// Look-behind, look-ahead and named backreferences of Python's `re`: ansible-core 2.19.14
    /// made these replacements on the same file (prov refused the patterns).
    #[test]
    fn python_look_around_and_backreferences_work_as_in_ansible() {
        let f = "a=1\nb=2\nc=3\n";
        let one = ed(f, json!({"path": "f", "regexp": "(?<=b=)\\d", "replace": "20"}));
        assert_eq!(one, Edited::Text("a=1\nb=20\nc=3\n".into(), 1));
        let two =
            ed("a=1\nb=20\nc=3\n", json!({"path": "f", "regexp": "^(\\w)=(\\d)$(?<!c=3)", "replace": "\\1: \\2"}));
        assert_eq!(two, Edited::Text("a: 1\nb=20\nc=3\n".into(), 1));
        let three = ed("a: 1\nb=20\nc=3\n", json!({"path": "f", "regexp": "(?P<k>\\w): (?P=k)", "replace": "x"}));
        assert_eq!(three, Edited::Text("a: 1\nb=20\nc=3\n".into(), 0));
    }

    #[test]
    fn replace_refuses_what_it_cannot_do() {
        for (args, want) in [
            (json!({"path": "f", "regexp": "(?<=a+)b"}), "look-behind requires fixed-width pattern"),
            (json!({"path": "f", "regexp": "a", "encoding": "latin-1"}), "not supported"),
        ] {
            let a: Args = args_from_value(&j(args)).unwrap();
            assert!(Replace::check_args(&a).unwrap_err().contains(want), "{want}");
        }
        assert!(args_from_value::<Args>(&j(json!({"path": "f"}))).is_err(), "regexp is required");
    }

    #[tokio::test]
    async fn replace_on_a_local_file() {
        let mut h = LocalHost::new();
        let p = h.path("f");
        std::fs::write(&p, "port=2\n").unwrap();
        let args = json!({"path": p, "regexp": "^port=\\d+$", "replace": "port=8080", "mode": "0600", "backup": true});
        h.mode.check = CheckMode::Check;
        let o = run::<Replace>(args.clone(), &h.ctx()).await;
        assert!(o.changed, "{o:?}");
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "port=2\n", "check mode writes nothing");
        assert_eq!((o.diffs[0].before.as_str(), o.diffs[0].after.as_str()), ("port=2\n", "port=8080\n"));
        h.mode.check = CheckMode::Apply;
        let o = run::<Replace>(args.clone(), &h.ctx()).await;
        assert!(o.changed && !o.failed, "{o:?}");
        assert_eq!(o.msg.as_deref(), Some("1 replacements made and ownership, perms or SE linux context changed"));
        assert_eq!(o.data["rc"], Value::from(0));
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "port=8080\n");
        assert_eq!(std::fs::read_to_string(o.data["backup_file"].as_str().unwrap()).unwrap(), "port=2\n");
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&p).unwrap().permissions().mode() & 0o7777, 0o600);
        let o = run::<Replace>(args, &h.ctx()).await;
        assert!(!o.changed, "{o:?}");
        assert_eq!(o.msg.as_deref(), Some(""));
        let o = run::<Replace>(json!({"path": h.path("nope"), "regexp": "x"}), &h.ctx()).await;
        assert!(o.failed);
        assert_eq!(o.msg, Some(format!("Path {} does not exist !", h.path("nope"))));
    }

    /// ansible-core's replace target (issue 79364): a replacement with a bad escape fails the
    /// task, on `/dev/null` too, with its message; a regular file is left as it was.
    #[tokio::test]
    async fn a_replacement_that_cannot_be_made_fails_the_task() {
        let h = LocalHost::new();
        let p = h.path("f");
        std::fs::write(&p, "a.b\n").unwrap();
        for path in [p.as_str(), "/dev/null"] {
            let args = json!({"path": path, "after": "^", "before": "$", "regexp": "\\.", "replace": "\\D"});
            let o = run::<Replace>(args, &h.ctx()).await;
            assert!(o.failed, "{o:?}");
            assert!(o.msg.as_deref().unwrap_or("").starts_with("Unable to process replace due to error"), "{o:?}");
        }
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "a.b\n");
    }
}
