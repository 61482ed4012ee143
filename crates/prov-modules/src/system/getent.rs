//! `getent`: reads a Unix database (`passwd`, `group`, `hosts`, `services`, ...) with `getent`
//! on the target and sets the fact `getent_DATABASE` (also `ansible_facts.getent_DATABASE`):
//! each entry's key mapped to its other fields.
//!
//! Arguments (as in Ansible): `database` (required), `key` (one entry), `service` (`-s`),
//! `split` (the field separator; `:` for passwd, shadow, group and gshadow, else white space),
//! `fail_key` (default true: a key that is not found fails the task; false sets it to null).
//! An entry found several times maps to the list of its field lists, as in ansible-core.
//! Reads only: runs in check mode too, never changes anything.
//!
//! ```yaml
//! - getent: {database: passwd, key: deploy}
//! - debug: var=getent_passwd.deploy[4]   # the home directory
//! ```

use async_trait::async_trait;
use minijinja::Value;
use prov_core::args::lenient_bool;
use prov_core::cmd::Cmd;
use prov_core::module::{Module, ModuleCtx, ModuleError, Outcome, Plan};
use serde::Deserialize;

fn yes() -> bool {
    true
}

/// Arguments of `getent`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    /// The database.
    database: String,
    /// One entry.
    #[serde(default)]
    key: Option<String>,
    /// The NSS service to ask (`-s`).
    #[serde(default)]
    service: Option<String>,
    /// The field separator.
    #[serde(default)]
    split: Option<String>,
    /// Fail when `key` is not found.
    #[serde(default = "yes", deserialize_with = "lenient_bool")]
    fail_key: bool,
}

/// The `getent` module.
#[derive(Debug, Default)]
pub struct Getent;

/// The entries of `getent`'s output as ansible-core maps them: key → fields, and a key seen
/// again → the list of each entry's fields.
fn entries(out: &str, split: Option<&str>) -> Vec<(String, Value)> {
    let mut map: Vec<(String, Vec<Vec<String>>)> = Vec::new();
    for line in out.lines() {
        // Python's str.split(): on runs of white space without a separator, else on it exactly.
        let record: Vec<String> = match split {
            None => line.split_whitespace().map(str::to_string).collect(),
            Some(s) => line.split(s).map(str::to_string).collect(),
        };
        let Some((first, rest)) = record.split_first() else { continue };
        match map.iter_mut().find(|(k, _)| k == first) {
            Some((_, seen)) => seen.push(rest.to_vec()),
            None => map.push((first.clone(), vec![rest.to_vec()])),
        }
    }
    let fields = |f: &Vec<String>| Value::from(f.iter().map(|s| Value::from(s.as_str())).collect::<Vec<_>>());
    map.into_iter()
        .map(|(k, seen)| {
            let v = if seen.len() == 1 {
                fields(&seen[0])
            } else {
                Value::from(seen.iter().map(fields).collect::<Vec<_>>())
            };
            (k, v)
        })
        .collect()
}

#[async_trait]
impl Module for Getent {
    const NAME: &'static str = "getent";
    type Args = Args;
    type Plan = ();

    fn check_args(a: &Args) -> Result<(), String> {
        if a.database.is_empty() {
            return Err("database must not be empty".into());
        }
        if a.split.as_deref() == Some("") {
            return Err("split must not be empty".into());
        }
        Ok(())
    }

    async fn plan(&self, a: &Args, cx: &ModuleCtx<'_>) -> Result<Plan<()>, ModuleError> {
        let mut cmd = Cmd::new("getent");
        if let Some(s) = &a.service {
            cmd = cmd.opt("-s", s);
        }
        let cmd = cmd.operands(std::iter::once(a.database.as_str()).chain(a.key.as_deref())).build();
        let out = cx.exec(cmd).await?;
        let split = a
            .split
            .as_deref()
            .or(["passwd", "shadow", "group", "gshadow"].contains(&a.database.as_str()).then_some(":"));
        let fact = format!("getent_{}", a.database);
        let done = |found: Vec<(String, Value)>, msg: Option<&str>| Outcome {
            msg: msg.map(str::to_string),
            ..crate::util::with_fact(Outcome::ok(), &fact, Value::from_pairs(found))
        };
        // ansible-core's words for getent's exit codes.
        let o = match out.rc {
            0 => done(entries(&out.stdout_str(), split), None),
            1 => Outcome::failed("Missing arguments, or database unknown."),
            2 if !a.fail_key => {
                let msg = "One or more supplied key could not be found in the database.";
                done(a.key.iter().map(|k| (k.clone(), Value::from(()))).collect(), Some(msg))
            }
            2 => Outcome::failed("One or more supplied key could not be found in the database."),
            3 => Outcome::failed("Enumeration not supported on this database."),
            127 => {
                Outcome::failed(format!("Failed to find required executable \"getent\": {}", out.stderr_str().trim()))
            }
            _ => Outcome::failed("Unexpected failure!"),
        };
        Ok(Plan::Ok(o))
    }

    async fn apply(&self, _: &Args, _: (), _: &ModuleCtx<'_>) -> Result<Outcome, ModuleError> {
        Ok(Outcome::ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_map_as_ansible_core_maps_them() {
        let e = entries("root:x:0:0:root:/root:/bin/bash\n", Some(":"));
        assert_eq!(e[0].0, "root");
        assert_eq!(e[0].1.to_string(), "['x', '0', '0', 'root', '/root', '/bin/bash']");
        let e = entries("127.0.0.1       localhost\n127.0.0.1  other\n::1 localhost ip6-localhost\n", None);
        assert_eq!(e[0].1.to_string(), "[['localhost'], ['other']]");
        assert_eq!(e[1].1.to_string(), "['localhost', 'ip6-localhost']");
    }
}
