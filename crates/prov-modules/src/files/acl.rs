//! `acl` (ansible.posix): sets, removes and reads POSIX ACL entries with the target's
//! `setfacl` and `getfacl`, as ansible.posix's module does.
//!
//! Arguments (as in Ansible): `path` (alias `name`), `state` (`query`, `present`, `absent`;
//! default `query`), `etype` (`user`, `group`, `mask`, `other`), `entity`, `permissions`,
//! `entry` (the older `[d[efault]:]etype:entity:perms` form), `default`, `recursive` (alias
//! `recurse`), `follow` (default true), `recalculate_mask` (`default`, `mask`, `no_mask`).
//! `use_nfsv4_acls` is refused (prov has no `nfs4_setfacl` support).
//!
//! It decides as ansible.posix does: `setfacl --test` tells whether the entry would change
//! anything (a line ending in `*,*` means not). Registers `changed`, `msg` (`ENTRY is
//! present`, `ENTRY is absent`, `current acl`) and `acl`, the path's ACL as `getfacl
//! --omit-header` prints it after the change. The argument combinations ansible.posix rejects
//! are refused before anything connects, with its words.
//!
//! ```yaml
//! - ansible.posix.acl:
//!     path: /srv/app
//!     entity: deploy
//!     etype: user
//!     permissions: rwX
//!     recursive: true
//!     state: present
//! ```

use crate::util::{or_fail, required_bin, run_failed};
use async_trait::async_trait;
use prov_core::args::lenient_bool;
use prov_core::cmd::Sh;
use prov_core::module::{Action, Change, Module, ModuleCtx, ModuleError, Outcome, Plan};
use serde::Deserialize;

fn query() -> String {
    "query".into()
}

fn yes() -> bool {
    true
}

fn default_mask() -> String {
    "default".into()
}

/// Arguments of `acl`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    /// The file or directory.
    #[serde(alias = "name")]
    pub path: String,
    /// The older one-string form of an entry.
    #[serde(default, deserialize_with = "crate::util::stringish")]
    pub entry: Option<String>,
    /// The user or group.
    #[serde(default, deserialize_with = "crate::util::stringish")]
    pub entity: Option<String>,
    /// `user`, `group`, `mask` or `other`.
    #[serde(default)]
    pub etype: Option<String>,
    /// `r`, `w`, `x`, `X` combined.
    #[serde(default, deserialize_with = "crate::util::stringish")]
    pub permissions: Option<String>,
    /// `query`, `present` or `absent`.
    #[serde(default = "query")]
    pub state: String,
    /// Follow a symbolic link.
    #[serde(default = "yes", deserialize_with = "lenient_bool")]
    pub follow: bool,
    /// The directory's default ACL.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub default: bool,
    /// Everything below the path too.
    #[serde(default, alias = "recurse", deserialize_with = "lenient_bool")]
    pub recursive: bool,
    /// `default`, `mask` or `no_mask`.
    #[serde(default = "default_mask")]
    pub recalculate_mask: String,
    /// Refused.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub use_nfsv4_acls: bool,
}

/// The `acl` module.
#[derive(Debug, Default)]
pub struct Acl;

/// What to ask of setfacl: the entry, its default flag, etype, entity and permissions.
struct Entry {
    default: bool,
    etype: String,
    entity: String,
    permissions: Option<String>,
}

/// ansible.posix's `split_entry`: `[d[efault]:]etype:entity[:perms]`, etype by its first letter.
fn split_entry(entry: &str) -> Entry {
    let mut a: Vec<String> = entry.split(':').map(str::to_string).collect();
    let default = entry.to_lowercase().starts_with('d');
    if default {
        a.remove(0);
    }
    let t = a.first().map(|t| t.to_lowercase()).unwrap_or_default();
    let etype = match t.chars().next() {
        Some('u') => "user",
        Some('g') => "group",
        Some('m') => "mask",
        Some('o') => "other",
        _ => "",
    };
    Entry {
        default,
        etype: etype.into(),
        entity: a.get(1).cloned().unwrap_or_default(),
        permissions: a.get(2).cloned(),
    }
}

/// Checks ansible.posix's argument rules; the entry to apply.
fn entry_of(a: &Args) -> Result<Option<Entry>, String> {
    if !["query", "present", "absent"].contains(&a.state.as_str()) {
        return Err(format!("value of state must be one of: absent, present, query, got: {}", a.state));
    }
    if !["default", "mask", "no_mask"].contains(&a.recalculate_mask.as_str()) {
        return Err(format!(
            "value of recalculate_mask must be one of: default, mask, no_mask, got: {}",
            a.recalculate_mask
        ));
    }
    if let Some(t) = &a.etype {
        if !["group", "mask", "other", "user"].contains(&t.as_str()) {
            return Err(format!("value of etype must be one of: group, mask, other, user, got: {t}"));
        }
    }
    if a.use_nfsv4_acls {
        return Err("use_nfsv4_acls: prov does not run nfs4_setfacl".into());
    }
    let state = a.state.as_str();
    if state == "query" {
        if a.recursive {
            return Err("'recursive' MUST NOT be set when 'state=query'.".into());
        }
        if a.recalculate_mask != "default" {
            return Err("'recalculate_mask' MUST NOT be set to 'mask' or 'no_mask' when 'state=query'.".into());
        }
    }
    let entity = a.entity.clone().unwrap_or_default();
    let Some(entry) = a.entry.as_deref().filter(|e| !e.is_empty()) else {
        if state == "absent" && a.permissions.as_deref().is_some_and(|p| !p.is_empty()) {
            return Err("'permissions' MUST NOT be set when 'state=absent'.".into());
        }
        if state == "absent" && entity.is_empty() {
            return Err("'entity' MUST be set when 'state=absent'.".into());
        }
        if state != "query" && a.etype.is_none() {
            return Err(format!("'etype' MUST be set when 'state={state}'."));
        }
        return Ok(a.etype.clone().filter(|_| state != "query").map(|etype| Entry {
            default: a.default,
            etype,
            entity,
            permissions: a.permissions.clone(),
        }));
    };
    if a.etype.is_some() || !entity.is_empty() || a.permissions.is_some() {
        return Err("'entry' MUST NOT be set when 'entity', 'etype' or 'permissions' are set.".into());
    }
    let colons = entry.matches(':').count();
    if state == "present" && !(2..=3).contains(&colons) {
        return Err("'entry' MUST have 3 or 4 sections divided by ':' when 'state=present'.".into());
    }
    if state == "absent" && !(1..=2).contains(&colons) {
        return Err("'entry' MUST have 2 or 3 sections divided by ':' when 'state=absent'.".into());
    }
    if state == "query" {
        return Err("'entry' MUST NOT be set when 'state=query'.".into());
    }
    let mut e = split_entry(entry);
    e.default = e.default || a.default;
    Ok(Some(e))
}

/// ansible.posix's `build_command`: `setfacl [-d] -m|-x ENTRY [--recursive] [--mask|--no-mask]
/// [--physical] PATH`, or `getfacl [-d] --absolute-names --omit-header ... PATH`; `test`
/// adds setfacl's `--test`. The words as ansible.posix runs them (for a failure's `cmd`), and
/// the command line, with `--` before the path.
fn command(bin: &str, a: &Args, default: bool, set: Option<(&str, &str)>, test: bool) -> (Vec<String>, Sh) {
    let mut argv = vec![bin.to_string()];
    if test {
        argv.push("--test".into());
    }
    if default {
        argv.push("-d".into());
    }
    match set {
        Some((flag, e)) => argv.extend([flag.to_string(), e.to_string()]),
        None => argv.extend(["--absolute-names".to_string(), "--omit-header".to_string()]),
    }
    if a.recursive {
        argv.push("--recursive".into());
    }
    if set.is_some() {
        match a.recalculate_mask.as_str() {
            "mask" => argv.push("--mask".into()),
            "no_mask" => argv.push("--no-mask".into()),
            _ => {}
        }
    }
    if !a.follow {
        argv.push("--physical".into());
    }
    // Options and their values are prov's (the entry is the value of `-m`/`-x`); the path is
    // an operand after `--`.
    let mut sh = Sh::default();
    for w in &argv {
        sh = sh.word(Sh::quoted(w));
    }
    let sh = sh.word(Sh::lit("--")).word(Sh::quoted(&a.path));
    argv.push(a.path.clone());
    (argv, sh)
}

/// `run_acl`: the output's lines without comments, stripped, without a final empty line.
fn lines(out: &str) -> Vec<String> {
    let mut v: Vec<String> = out.lines().filter(|l| !l.starts_with('#')).map(|l| l.trim().to_string()).collect();
    if v.last().is_some_and(|l| l.split_whitespace().next().is_none()) {
        v.pop();
    }
    v
}

/// What an `acl` change will run.
pub struct AclPlan {
    setfacl: String,
    getfacl: String,
    flag: &'static str,
    entry: String,
    default: bool,
    msg: String,
}

impl Acl {
    /// The path's ACL as registered, or the failed result of getfacl.
    async fn current(
        a: &Args,
        cx: &ModuleCtx<'_>,
        getfacl: &str,
        default: bool,
    ) -> Result<Result<Outcome, Outcome>, ModuleError> {
        let (argv, cmd) = command(getfacl, a, default, None, false);
        let out = cx.exec(cmd).await?;
        if out.rc != 0 {
            return Ok(Err(run_failed(&argv, &out)));
        }
        let acl: Vec<minijinja::Value> = lines(&out.stdout_str()).into_iter().map(minijinja::Value::from).collect();
        Ok(Ok(Outcome::ok().with("acl", acl)))
    }
}

#[async_trait]
impl Module for Acl {
    const NAME: &'static str = "acl";
    const COLLECTIONS: &'static [&'static str] = &["ansible.posix", "ansible.builtin"];
    const PATH_ARGS: &'static [&'static str] = &["path"];
    type Args = Args;
    type Plan = AclPlan;

    fn check_args(a: &Args) -> Result<(), String> {
        entry_of(a).map(|_| ())
    }

    async fn plan(&self, a: &Args, cx: &ModuleCtx<'_>) -> Result<Plan<AclPlan>, ModuleError> {
        let entry = entry_of(a).map_err(ModuleError::Args)?;
        if !crate::util::path_test(cx, "-e", &a.path).await? {
            return Ok(Plan::Ok(Outcome::failed("Path not found or not accessible.")));
        }
        let getfacl = or_fail!(required_bin(cx, "getfacl").await, Plan::Ok);
        let Some(e) = entry else {
            let o = or_fail!(Self::current(a, cx, &getfacl, a.default).await, Plan::Ok);
            return Ok(Plan::Ok(o.with("msg", "current acl")));
        };
        let setfacl = or_fail!(required_bin(cx, "setfacl").await, Plan::Ok);
        let present = a.state == "present";
        let (flag, text) = if present {
            let perms = e.permissions.clone().filter(|p| !p.is_empty());
            let text = match perms {
                Some(p) => format!("{}:{}:{p}", e.etype, e.entity),
                None => format!("{}:{}", e.etype, e.entity),
            };
            ("-m", text)
        } else {
            ("-x", format!("{}:{}", e.etype, e.entity))
        };
        let msg = format!("{text} is {}", if present { "present" } else { "absent" });
        let (argv, test) = command(&setfacl, a, e.default, Some((flag, &text)), true);
        let out = cx.exec(test).await?;
        if out.rc != 0 {
            return Ok(Plan::Ok(run_failed(&argv, &out)));
        }
        let unchanged = lines(&out.stdout_str()).iter().any(|l| l.ends_with("*,*"));
        if unchanged {
            let o = or_fail!(Self::current(a, cx, &getfacl, e.default).await, Plan::Ok);
            return Ok(Plan::Ok(o.with("msg", msg)));
        }
        let action = if present { Action::Modify } else { Action::Delete };
        let mut ch = Change::new(
            AclPlan {
                setfacl,
                getfacl: getfacl.clone(),
                flag,
                entry: text.clone(),
                default: e.default,
                msg: msg.clone(),
            },
            action,
            "acl",
            format!("{} {text}", a.path),
        );
        if cx.is_check() {
            let o = or_fail!(Self::current(a, cx, &getfacl, e.default).await, Plan::Ok);
            ch.data = o.with("msg", msg).data;
        }
        Ok(Plan::Change(ch))
    }

    async fn apply(&self, a: &Args, p: AclPlan, cx: &ModuleCtx<'_>) -> Result<Outcome, ModuleError> {
        let (argv, cmd) = command(&p.setfacl, a, p.default, Some((p.flag, &p.entry)), false);
        let out = cx.exec(cmd).await?;
        // ansible.posix checks the exit status of `-m`, not of `-x`.
        if out.rc != 0 && p.flag == "-m" {
            return Ok(run_failed(&argv, &out));
        }
        let o = or_fail!(Self::current(a, cx, &p.getfacl, p.default).await);
        Ok(Outcome { changed: true, ..o }.with("msg", p.msg))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_split_as_ansible_posix_splits_them() {
        let e = split_entry("d:u:bob:rw");
        assert_eq!(
            (e.default, e.etype.as_str(), e.entity.as_str(), e.permissions.as_deref()),
            (true, "user", "bob", Some("rw"))
        );
        let e = split_entry("group:staff");
        assert_eq!((e.default, e.etype.as_str(), e.entity.as_str(), e.permissions), (false, "group", "staff", None));
        assert_eq!(lines("# file: x\nuser::rw-\n\n"), vec!["user::rw-".to_string()]);
    }
}
