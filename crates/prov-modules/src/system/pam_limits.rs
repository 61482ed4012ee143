//! `pam_limits` (community.general): sets one limit in `/etc/security/limits.conf` (or
//! `dest`), the way community.general's module edits the file.
//!
//! Arguments (as in community.general): `domain`, `limit_type` (`soft`, `hard`, `-`),
//! `limit_item` (`core`, `data`, `fsize`, `memlock`, `nofile`, `rss`, `stack`, `cpu`, `nproc`,
//! `as`, `maxlogins`, `maxsyslogins`, `priority`, `locks`, `sigpending`, `msgqueue`, `nice`,
//! `rtprio`, `chroot`), `value` (a number of 0 or more, or `unlimited`, `infinity`, `-1`; for
//! `nice` and `priority` -20 to 19), all required; `use_max`, `use_min` (keep the larger or
//! the smaller of the value and the one in the file), `backup`, `dest`, `comment`.
//!
//! Every line of the domain, type and item gets the value (a line with the value already is
//! left as it is); without one, a line `DOMAIN<TAB>TYPE<TAB>ITEM<TAB>VALUE` is appended. As in
//! community.general, a line's comment is kept when the task gives none, and a file that does
//! not exist is created. Registers `msg` (the line set) and `diff` (`before`, `after`).
//!
//! ```yaml
//! - community.general.pam_limits:
//!     domain: mongod
//!     limit_type: "-"
//!     limit_item: nofile
//!     value: 64000
//! ```

use crate::files::edit::{self, EditPlan};
use crate::files::Attrs;
use crate::util::Text;
use async_trait::async_trait;
use minijinja::Value;
use prov_core::args::lenient_bool;
use prov_core::module::{Change, Module, ModuleCtx, ModuleError, Outcome, Plan};
use prov_providers::python::str_repr as py_repr;
use serde::Deserialize;

const ITEMS: &[&str] = &[
    "core",
    "data",
    "fsize",
    "memlock",
    "nofile",
    "rss",
    "stack",
    "cpu",
    "nproc",
    "as",
    "maxlogins",
    "maxsyslogins",
    "priority",
    "locks",
    "sigpending",
    "msgqueue",
    "nice",
    "rtprio",
    "chroot",
];
const TYPES: &[&str] = &["soft", "hard", "-"];

fn limits_conf() -> String {
    "/etc/security/limits.conf".into()
}

/// Arguments of `pam_limits`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    /// A user, `@group`, `*`, a uid or gid range.
    domain: Text,
    /// `soft`, `hard` or `-`.
    limit_type: String,
    /// The limit.
    limit_item: String,
    /// Its value.
    value: Text,
    /// Keep the larger of the value and the file's.
    #[serde(default, deserialize_with = "lenient_bool")]
    use_max: bool,
    /// Keep the smaller of the value and the file's.
    #[serde(default, deserialize_with = "lenient_bool")]
    use_min: bool,
    /// Keep a copy of the file.
    #[serde(default, deserialize_with = "lenient_bool")]
    backup: bool,
    /// The limits file.
    #[serde(default = "limits_conf")]
    dest: String,
    /// A comment for the line.
    #[serde(default)]
    comment: Option<Text>,
}

/// community.general's check of a value (`prefix` names the file for the values found in it).
fn check_value(item: &str, value: &str, prefix: &str) -> Result<(), String> {
    if item == "nice" || item == "priority" {
        if !value.trim().parse::<i64>().is_ok_and(|v| (-20..=19).contains(&v)) {
            return Err(format!(
                "{prefix} Value of {} for item {} is invalid. Value must be a number in the range -20 to 19 inclusive. Refer to the limits.conf(5) manual pages for more details.",
                py_repr(value),
                py_repr(item)
            ));
        }
    } else if !(["unlimited", "infinity", "-1"].contains(&value)
        || (!value.is_empty() && value.chars().all(|c| c.is_ascii_digit())))
    {
        return Err(format!(
            "{prefix} Value of {} for item {} is invalid. Value must either be 'unlimited', 'infinity' or -1, all of which indicate no limit, or a limit of 0 or larger. Refer to the limits.conf(5) manual pages for more details.",
            py_repr(value),
            py_repr(item)
        ));
    }
    Ok(())
}

/// The file's new text, whether it changed, and the line set (the module's `msg`); `Err` is
/// the module's failure.
fn edit_text(a: &Args, old: &str) -> Result<(String, bool, String), String> {
    let (domain, typ, item, value) =
        (a.domain.0.as_str(), a.limit_type.as_str(), a.limit_item.as_str(), a.value.0.as_str());
    let mut new_comment = a.comment.as_ref().map(|c| c.0.clone()).unwrap_or_default();
    let mut out = String::new();
    let mut changed = false;
    let mut found = false;
    let mut message = String::new();
    let mut new_value = value.to_string();
    // The line the module writes; like community.general, it puts `\t#` before the comment
    // each time it writes one (a second line gets it twice).
    let limit_line = |new_comment: &mut String, new_value: &str| {
        if !new_comment.is_empty() {
            *new_comment = format!("\t#{new_comment}");
        }
        format!("{domain}\t{typ}\t{item}\t{new_value}{new_comment}\n")
    };
    for line in old.split_inclusive('\n') {
        if line.starts_with('#') {
            out.push_str(line);
            continue;
        }
        let squeezed = line.split_whitespace().collect::<Vec<_>>().join(" ");
        if squeezed.is_empty() {
            out.push_str(line);
            continue;
        }
        let body = squeezed.split('#').next().unwrap_or("").trim_end();
        let old_comment = line.split_once('#').map(|(_, c)| c).unwrap_or("");
        // community.general takes the comment of the first line it reads when the task gives
        // none, whichever limit that line sets.
        if new_comment.is_empty() {
            new_comment = old_comment.to_string();
        }
        let fields: Vec<&str> = body.split(' ').collect();
        if fields.len() != 4 {
            out.push_str(line);
            continue;
        }
        let (l_domain, l_type, l_item, actual) = (fields[0], fields[1], fields[2], fields[3]);
        check_value(l_item, actual, &format!("Invalid configuration found in '{}'.", a.dest))?;
        if !(l_domain == domain && l_type == typ && l_item == item) {
            out.push_str(line);
            continue;
        }
        found = true;
        if value == actual {
            message = line.to_string();
            out.push_str(line);
            continue;
        }
        // community.general compares the line's type here, which is never nice or priority.
        let unlimited = |v: &str| ["unlimited", "infinity", "-1"].contains(&v);
        let (actual_unlimited, value_unlimited) = (unlimited(actual), unlimited(value));
        let num = |v: &str| {
            v.trim().parse::<i64>().map_err(|_| format!("invalid literal for int() with base 10: {}", py_repr(v)))
        };
        if a.use_max {
            new_value = if actual_unlimited {
                actual.to_string()
            } else if value_unlimited {
                value.to_string()
            } else {
                num(value)?.max(num(actual)?).to_string()
            };
        }
        if a.use_min {
            new_value = match (actual_unlimited, value_unlimited) {
                (true, true) => actual.to_string(),
                (true, false) => value.to_string(),
                (false, true) => actual.to_string(),
                (false, false) => num(value)?.min(num(actual)?).to_string(),
            };
        }
        if new_value != actual {
            changed = true;
            let l = limit_line(&mut new_comment, &new_value);
            message = l.clone();
            out.push_str(&l);
        } else {
            message = line.to_string();
            out.push_str(line);
        }
    }
    if !found {
        changed = true;
        let l = limit_line(&mut new_comment, &new_value);
        message = l.clone();
        out.push_str(&l);
    }
    Ok((out, changed, message))
}

/// The `pam_limits` module.
#[derive(Debug, Default)]
pub struct PamLimits;

/// What `apply` writes, and the module's result fields.
pub struct LimitsPlan {
    write: EditPlan,
    msg: String,
    before: String,
    after: String,
}

fn result(o: Outcome, msg: &str, before: &str, after: &str) -> Outcome {
    let mut o = o.with(
        "diff",
        Value::from_pairs(vec![("before".to_string(), Value::from(before)), ("after".to_string(), Value::from(after))]),
    );
    o.msg = Some(msg.to_string());
    o
}

#[async_trait]
impl Module for PamLimits {
    const NAME: &'static str = "pam_limits";
    const COLLECTIONS: &'static [&'static str] = &["community.general", "ansible.builtin"];
    type Args = Args;
    type Plan = LimitsPlan;

    fn check_args(a: &Args) -> Result<(), String> {
        if !TYPES.contains(&a.limit_type.as_str()) {
            return Err(format!("value of limit_type must be one of: {}, got: {}", TYPES.join(", "), a.limit_type));
        }
        if !ITEMS.contains(&a.limit_item.as_str()) {
            return Err(format!("value of limit_item must be one of: {}, got: {}", ITEMS.join(", "), a.limit_item));
        }
        if a.use_max && a.use_min {
            return Err("Cannot use use_min and use_max at the same time.".into());
        }
        check_value(&a.limit_item, &a.value.0, "")?;
        let all = [&a.domain.0, &a.value.0].into_iter().chain(a.comment.as_ref().map(|c| &c.0));
        if all.into_iter().any(|s| s.contains(['\n', '\r'])) {
            return Err("`domain`, `value` and `comment` cannot contain a line break".into());
        }
        Ok(())
    }

    async fn plan(&self, a: &Args, cx: &ModuleCtx<'_>) -> Result<Plan<LimitsPlan>, ModuleError> {
        let r = edit::read(cx, &a.dest).await?;
        if r.is_dir() {
            return Ok(Plan::Ok(Outcome::failed(format!("{} is not writable. Use sudo", a.dest))));
        }
        let old = match &r.data {
            Some(d) => match std::str::from_utf8(d) {
                Ok(t) => t.to_string(),
                Err(e) => return Ok(Plan::Ok(Outcome::failed(format!("{} is not UTF-8 text: {e}", a.dest)))),
            },
            None if r.st.is_some() => {
                return Ok(Plan::Ok(Outcome::failed(format!("{} is not writable. Use sudo", a.dest))))
            }
            None => {
                let dir = r.real.rsplit_once('/').map_or(".", |(d, _)| if d.is_empty() { "/" } else { d }).to_string();
                let st = crate::files::probe(cx, &dir, None, true).await?;
                if !st.is_some_and(|s| s.kind == crate::files::Kind::Dir && s.writeable) {
                    return Ok(Plan::Ok(Outcome::failed(format!(
                        "directory {dir} is not writable (check presence, access rights, use sudo)"
                    ))));
                }
                String::new()
            }
        };
        let (new, _, msg) = match edit_text(a, &old) {
            Ok(e) => e,
            Err(m) => return Ok(Plan::Ok(Outcome::failed(m))),
        };
        match edit::plan(cx, &r, new.clone().into_bytes(), "", &Attrs::default(), edit::Registers::Nothing) {
            Plan::Ok(o) => Ok(Plan::Ok(result(o, &msg, &old, &new))),
            Plan::Change(ch) => {
                let data = result(Outcome::ok(), &msg, &old, &new).data;
                Ok(Plan::Change(Change {
                    plan: LimitsPlan { write: ch.plan, msg: msg.clone(), before: old, after: new },
                    diffs: ch.diffs,
                    planned: ch.planned,
                    in_check: ch.in_check,
                    msg: Some(msg),
                    data,
                }))
            }
        }
    }

    async fn apply(&self, a: &Args, p: LimitsPlan, cx: &ModuleCtx<'_>) -> Result<Outcome, ModuleError> {
        let o = edit::apply(cx, p.write, &Attrs::default(), a.backup, None).await?;
        if o.failed {
            return Ok(o);
        }
        Ok(result(o, &p.msg, &p.before, &p.after))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prov_core::module::args_from_value;
    use serde_json::json;

    fn args(v: serde_json::Value) -> Args {
        let a: Args = args_from_value(&Value::from(minijinja::value::Serde(v))).expect("arguments");
        PamLimits::check_args(&a).expect("valid");
        a
    }

    // The texts community.general 11 (the `ansible` 12.3.0 package) wrote for the same files.
    #[test]
    fn lines_are_set_appended_and_compared_as_community_general_does() {
        let a = args(json!({"domain": "mongod", "limit_type": "-", "limit_item": "nofile", "value": 64000}));
        let old = "# limits\n*\tsoft\tcore\t0\n";
        assert_eq!(
            edit_text(&a, old).unwrap(),
            (
                "# limits\n*\tsoft\tcore\t0\nmongod\t-\tnofile\t64000\n".to_string(),
                true,
                "mongod\t-\tnofile\t64000\n".to_string()
            )
        );
        let (again, changed, _) = edit_text(&a, "mongod - nofile 64000\n").unwrap();
        assert_eq!((again.as_str(), changed), ("mongod - nofile 64000\n", false));
        let (text, changed, _) = edit_text(&a, "mongod  -  nofile  1024 # old\n").unwrap();
        // The comment keeps its line end, and one more is added: community.general's text.
        assert_eq!((text.as_str(), changed), ("mongod\t-\tnofile\t64000\t# old\n\n", true));
        let max = args(
            json!({"domain": "mongod", "limit_type": "-", "limit_item": "nofile", "value": "1024", "use_max": true}),
        );
        assert!(!edit_text(&max, "mongod - nofile 4096\n").unwrap().1);
        assert!(!edit_text(&max, "mongod - nofile unlimited\n").unwrap().1);
        let min = args(
            json!({"domain": "mongod", "limit_type": "-", "limit_item": "nofile", "value": "1024", "use_min": true}),
        );
        assert_eq!(edit_text(&min, "mongod - nofile 4096\n").unwrap().0, "mongod\t-\tnofile\t1024\n");
    }

    #[test]
    fn bad_values_are_refused_with_community_generals_words() {
        let v = json!({"domain": "x", "limit_type": "soft", "limit_item": "nice", "value": "30"});
        let bad: Args = args_from_value(&Value::from(minijinja::value::Serde(v))).unwrap();
        let e = PamLimits::check_args(&bad).unwrap_err();
        assert!(
            e.starts_with(" Value of '30' for item 'nice' is invalid. Value must be a number in the range -20 to 19"),
            "{e}"
        );
        let a = args(json!({"domain": "x", "limit_type": "soft", "limit_item": "nofile", "value": "10"}));
        let e = edit_text(&a, "y soft nofile lots\n").unwrap_err();
        assert!(
            e.starts_with(
                "Invalid configuration found in '/etc/security/limits.conf'. Value of 'lots' for item 'nofile'"
            ),
            "{e}"
        );
    }
}
