//! `capabilities` (community.general): adds or removes a Linux file capability with the
//! target's `getcap` and `setcap`, as community.general's module does.
//!
//! Arguments (as in Ansible): `path` (alias `key`), `capability` (alias `cap`; with an operator
//! and flags for `present`: `cap_net_raw+ep`), `state` (`present`, `absent`).
//!
//! It decides as community.general does, quirks included: the capability is compared as
//! written with what `getcap` prints (which writes `cap_x=ep`), so `cap_x+ep` changes the file
//! on every run; write the form `getcap` prints to be idempotent. `absent` compares the name
//! only. Registers `state`, and on a change `msg` ("capabilities changed") and setcap's
//! `stdout`; in check mode only `msg`. A file `getcap` cannot read fails the task ("Unable to
//! get capabilities of PATH", with its `stdout` and `stderr`).
//!
//! ```yaml
//! - community.general.capabilities:
//!     path: /usr/bin/ping
//!     capability: cap_net_raw=ep
//! ```

use crate::util::{or_fail, required_bin, with_lines};
use async_trait::async_trait;
use prov_core::cmd::{Cmd, Sh, Word, WordKind};
use prov_core::module::{Action, Change, Module, ModuleCtx, ModuleError, Outcome, Plan};
use serde::Deserialize;

fn present() -> String {
    "present".into()
}

/// Arguments of `capabilities`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    /// The file.
    #[serde(alias = "key")]
    pub path: String,
    /// `cap_name`, with `=`/`+`/`-` and flags for `present`.
    #[serde(alias = "cap")]
    pub capability: String,
    /// `present` or `absent`.
    #[serde(default = "present")]
    pub state: String,
}

/// The `capabilities` module.
#[derive(Debug, Default)]
pub struct Capabilities;

/// A capability clause: name, operator, flags.
type Cap = (String, Option<char>, Option<String>);

/// community.general's `_parse_cap`: the first of `=`, `-`, `+` found (in that order of
/// search) splits name and flags; without one, `None` (an error where an operator is needed).
fn parse_cap(cap: &str) -> Option<Result<Cap, String>> {
    let op = ['=', '-', '+'].into_iter().find(|o| cap.contains(*o))?;
    let parts: Vec<&str> = cap.split(op).collect();
    Some(match parts.as_slice() {
        [name, flags] => Ok((name.to_string(), Some(op), Some(flags.to_string()))),
        _ => Err(format!("too many values to unpack (expected 2): {cap}")),
    })
}

/// What `getcap -v PATH` printed, as community.general reads it.
fn parse_getcap(stdout: &str, path: &str) -> Result<Vec<Cap>, String> {
    let text = stdout.trim();
    if text == path {
        return Ok(Vec::new());
    }
    let caps: Vec<&str> = if stdout.contains(" =") {
        stdout.split(" =").nth(1).unwrap_or_default().split_whitespace().collect()
    } else if text.ends_with(')') {
        return Err(String::new());
    } else {
        stdout.split_whitespace().skip(1).take(1).flat_map(|c| c.split_whitespace()).collect()
    };
    let mut out = Vec::new();
    for cap in caps {
        let cap = cap.to_lowercase();
        if cap.contains(',') {
            let group: Vec<&str> = cap.split(',').collect();
            let last = group.last().copied().unwrap_or_default();
            let (name, op, flags) = parse_cap(last).unwrap_or_else(|| Ok((last.to_string(), None, None)))?;
            for sub in &group[..group.len() - 1] {
                out.push((sub.to_string(), op, flags.clone()));
            }
            out.push((name, op, flags));
        } else {
            out.push(parse_cap(&cap).unwrap_or_else(|| Ok((cap.clone(), None, None)))?);
        }
    }
    Ok(out)
}

fn clause(c: &Cap) -> String {
    format!("{}{}{}", c.0, c.1.map(String::from).unwrap_or_default(), c.2.clone().unwrap_or_default())
}

/// The capabilities to write with setcap (as one argument).
pub struct CapPlan {
    setcap: String,
    path: String,
    text: String,
}

#[async_trait]
impl Module for Capabilities {
    const NAME: &'static str = "capabilities";
    const COLLECTIONS: &'static [&'static str] = &["community.general", "ansible.builtin"];
    type Args = Args;
    type Plan = CapPlan;

    fn check_args(a: &Args) -> Result<(), String> {
        if !["present", "absent"].contains(&a.state.as_str()) {
            return Err(format!("value of state must be one of: absent, present, got: {}", a.state));
        }
        let cap = a.capability.trim().to_lowercase();
        // One clause of cap_from_text(3): names, an operator, flags; never an option of setcap.
        if cap.starts_with('-') || !cap.chars().all(|c| c.is_ascii_alphanumeric() || "_,=+-".contains(c)) {
            return Err(format!("`capability` is not a capability clause: {}", a.capability));
        }
        if a.state == "present" && parse_cap(&cap).is_none() {
            return Err("Couldn't find operator (one of: ('=', '-', '+'))".into());
        }
        Ok(())
    }

    async fn plan(&self, a: &Args, cx: &ModuleCtx<'_>) -> Result<Plan<CapPlan>, ModuleError> {
        let path = a.path.trim().to_string();
        let cap = a.capability.trim().to_lowercase();
        let want = match parse_cap(&cap) {
            Some(Ok(c)) => c,
            Some(Err(e)) => return Ok(Plan::Ok(Outcome::failed(e))),
            None => (cap.clone(), None, None),
        };
        let getcap = or_fail!(required_bin(cx, "getcap").await, Plan::Ok);
        let setcap = or_fail!(required_bin(cx, "setcap").await, Plan::Ok);
        let word = Word::new(WordKind::Path, &path).map_err(|e| ModuleError::Failed(e.to_string()))?;
        let out = cx.exec(Cmd::program(Sh::quoted(&getcap)).flag("-v").word(&word).build()).await?;
        let (stdout, stderr) = (out.stdout_str(), out.stderr_str());
        let unable = |stdout: &str, stderr: &str| {
            let o = Outcome::failed(format!("Unable to get capabilities of {path}"));
            with_lines(with_lines(o, "stdout", stdout.trim()), "stderr", stderr)
        };
        if out.rc != 0 || !stderr.is_empty() {
            return Ok(Plan::Ok(unable(&stdout, &stderr)));
        }
        let current = match parse_getcap(&stdout, word.as_str()) {
            Ok(c) => c,
            Err(e) if e.is_empty() => return Ok(Plan::Ok(unable(&stdout, &stderr))),
            Err(e) => return Ok(Plan::Ok(Outcome::failed(e))),
        };
        let next: Vec<Cap> = match a.state.as_str() {
            "present" if !current.contains(&want) => {
                let mut n: Vec<Cap> = current.iter().filter(|c| c.0 != want.0).cloned().collect();
                n.push(want.clone());
                n
            }
            "absent" if current.iter().any(|c| c.0 == want.0) => {
                current.iter().filter(|c| c.0 != want.0).cloned().collect()
            }
            _ => return Ok(Plan::Ok(Outcome::ok().with("state", a.state.as_str()))),
        };
        let text = next.iter().map(clause).collect::<Vec<_>>().join(" ");
        let action = if a.state == "present" { Action::Modify } else { Action::Delete };
        let plan = CapPlan { setcap, path: word.as_str().to_string(), text };
        Ok(Plan::Change(
            Change::new(plan, action, "capability", format!("{path} {cap}")).with_data("msg", "capabilities changed"),
        ))
    }

    async fn apply(&self, a: &Args, p: CapPlan, cx: &ModuleCtx<'_>) -> Result<Outcome, ModuleError> {
        // setcap takes no `--`: the clause was checked (it never starts with `-`), the path is
        // a checked path word.
        let cmd = Sh::quoted(&p.setcap).word(Sh::quoted(&p.text)).word(Sh::quoted(&p.path));
        let out = cx.exec(cmd).await?;
        if out.rc != 0 {
            let path = a.path.trim();
            let o = Outcome::failed(format!("Unable to set capabilities of {path}"));
            return Ok(with_lines(with_lines(o, "stdout", &out.stdout_str()), "stderr", &out.stderr_str()));
        }
        let o = Outcome { changed: true, ..Outcome::ok() };
        Ok(with_lines(
            o.with("state", a.state.as_str()).with("msg", "capabilities changed"),
            "stdout",
            &out.stdout_str(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn getcap_output_is_read_as_community_general_reads_it() {
        let c = |n: &str, o: char, f: &str| (n.to_string(), Some(o), Some(f.to_string()));
        assert_eq!(parse_getcap("/f\n", "/f").unwrap(), vec![]);
        assert_eq!(parse_getcap("/f =\n", "/f").unwrap(), vec![]);
        assert_eq!(parse_getcap("/f cap_net_raw=ep\n", "/f").unwrap(), vec![c("cap_net_raw", '=', "ep")]);
        assert_eq!(
            parse_getcap("/f cap_net_raw,cap_sys_chroot=ep\n", "/f").unwrap(),
            vec![c("cap_net_raw", '=', "ep"), c("cap_sys_chroot", '=', "ep")]
        );
        assert_eq!(
            parse_getcap("/f = cap_a+ep cap_b+i\n", "/f").unwrap(),
            vec![c("cap_a", '+', "ep"), c("cap_b", '+', "i")]
        );
        assert!(parse_getcap("/f (No such file or directory)\n", "/f").is_err());
        assert_eq!(parse_cap("cap_x+ep"), Some(Ok(c("cap_x", '+', "ep"))));
        assert_eq!(parse_cap("cap_x-e"), Some(Ok(c("cap_x", '-', "e"))));
        assert_eq!(parse_cap("cap_x"), None);
    }
}
