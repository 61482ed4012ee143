//! `known_hosts`: adds, replaces or removes a host's key in an SSH `known_hosts` file on the
//! target, with the target's `ssh-keygen`, as ansible-core's module does.
//!
//! Arguments (as in Ansible): `name` (alias `host`), `key` (a line as `ssh-keyscan` prints it;
//! required with `state: present`), `path` (default `~/.ssh/known_hosts`), `hash_host`,
//! `state` (`present`, `absent`).
//!
//! It decides as ansible-core does, from `ssh-keygen -F NAME`: a key of the same type for the
//! host is replaced in place (the line is dropped and the key appended), an equal key changes
//! nothing (a hashed host stays as hashed), `@cert-authority` and `@revoked` lines count only
//! when equal; `absent` with a key removes that line, without one every line of the host
//! (`ssh-keygen -R`, which leaves `PATH.old`). The key must name the host (checked with
//! `ssh-keygen -F` on the key alone); `hash_host` hashes the host name with `ssh-keygen -H`.
//! Registers the arguments, `changed` and `diff` (the file before and after), as ansible-core
//! does.
//!
//! ```yaml
//! - known_hosts:
//!     name: git.example.com
//!     key: "git.example.com ssh-ed25519 AAAAC3Nza..."
//! ```

use crate::util::{or_fail, required_bin, rewrite_file_as, which};
use async_trait::async_trait;
use minijinja::Value;
use prov_core::args::lenient_bool;
use prov_core::cmd::{Cmd, Sh};
use prov_core::module::{Action, Change, Module, ModuleCtx, ModuleError, Outcome, Plan};
use serde::Deserialize;

fn default_path() -> String {
    "~/.ssh/known_hosts".into()
}

fn present() -> String {
    "present".into()
}

/// Arguments of `known_hosts`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    /// The host.
    #[serde(alias = "host")]
    pub name: String,
    /// The key line.
    #[serde(default)]
    pub key: Option<String>,
    /// The known_hosts file.
    #[serde(default = "default_path")]
    pub path: String,
    /// Hash the host name.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub hash_host: bool,
    /// `present` or `absent`.
    #[serde(default = "present")]
    pub state: String,
}

/// The `known_hosts` module.
#[derive(Debug, Default)]
pub struct KnownHosts;

/// A key line split as ansible-core's `normalize_known_hosts_key` splits it.
#[derive(Debug, Clone, PartialEq)]
struct Entry {
    options: Option<String>,
    host: String,
    kind: String,
    key: String,
}

fn entry(line: &str) -> Option<Entry> {
    let k: Vec<&str> = line.split_whitespace().collect();
    if k.first()?.starts_with('@') {
        Some(Entry {
            options: Some(k[0].into()),
            host: k.get(1)?.to_string(),
            kind: k.get(2)?.to_string(),
            key: k.get(3)?.to_string(),
        })
    } else {
        Some(Entry { options: None, host: k[0].into(), kind: k.get(1)?.to_string(), key: k.get(2)?.to_string() })
    }
}

/// What `apply` does: remove every line of the host with `ssh-keygen -R` first, then (when
/// `rewrite`) write the file again from what it holds then.
#[derive(Debug)]
pub struct Edit {
    search: Search,
    key: Option<String>,
    remove_all: bool,
    rewrite: bool,
    diff: Value,
}

/// What `ssh-keygen -F` found: found, replace or add, and the line of a key of the same type.
#[derive(Debug, Clone, Default)]
pub struct Search {
    found: bool,
    replace: bool,
    line: Option<usize>,
}

/// ansible-core's `search_for_host_key` over `ssh-keygen -F`'s output.
fn search(stdout: &str, key: Option<&str>) -> Search {
    let Some(key) = key else { return Search { found: true, replace: false, line: None } };
    let Some(mut new) = entry(key.trim()) else { return Search { found: true, replace: true, line: None } };
    let mut line = None;
    for l in stdout.split('\n') {
        if l.is_empty() {
            continue;
        }
        if l.starts_with('#') {
            if let Some(n) =
                l.split("found: line ").nth(1).and_then(|r| r.split_whitespace().next()).and_then(|n| n.parse().ok())
            {
                line = Some(n);
            }
            continue;
        }
        let Some(found) = entry(l) else { continue };
        let marked =
            found.options.as_deref().is_some_and(|o| o.starts_with("@cert-authority") || o.starts_with("@revoke"));
        if marked {
            if new == found {
                return Search { found: true, replace: false, line };
            }
            continue;
        }
        if new.host.starts_with("|1|") && found.host.starts_with("|1|") {
            new.host = found.host.clone();
        }
        if new == found {
            return Search { found: true, replace: false, line };
        }
        if new.kind == found.kind {
            return Search { found: true, replace: true, line };
        }
    }
    Search { found: true, replace: true, line: None }
}

/// The file after the change: the found line dropped (when replacing or removing), the key
/// appended (when present).
fn after(before: &str, s: &Search, present: bool, key: Option<&str>, for_diff: bool) -> String {
    let mut lines: Vec<&str> = before.split_inclusive('\n').collect();
    if let Some(n) = s.line {
        if (s.replace || !present) && n >= 1 && n <= lines.len() {
            lines.remove(n - 1);
        }
    }
    let mut out = lines.concat();
    let append = if for_diff { present && (s.replace || s.line.is_none()) } else { present };
    if append {
        out.push_str(key.unwrap_or_default());
    }
    out
}

impl KnownHosts {
    /// The key as it will be written (hashed, ending with a newline), or the failure.
    async fn prepared_key(
        a: &Args,
        host: &str,
        kg: &str,
        cx: &ModuleCtx<'_>,
    ) -> Result<Result<Option<String>, Outcome>, ModuleError> {
        let Some(key) = a.key.clone() else { return Ok(Ok(None)) };
        let mut key = key;
        if a.hash_host {
            let parts: Vec<&str> = key.split_whitespace().collect();
            let i = usize::from(parts.first().is_some_and(|p| p.starts_with('@')));
            let mut plain = parts.iter().map(|s| s.to_string()).collect::<Vec<_>>();
            if let Some(h) = plain.get_mut(i) {
                *h = host.to_string();
            }
            let script = Sh::lit("t=$(mktemp) || exit 1; cat > \"$t\" && ")
                .glued(Sh::quoted(kg))
                .suffix(" -H -f \"$t\" >/dev/null 2>&1 && cat \"$t\"; rc=$?; rm -f \"$t\" \"$t.old\"; exit $rc");
            let out = cx.exec_stdin(script, format!("{}\n", plain.join(" ")).into_bytes()).await?;
            if out.rc != 0 {
                return Ok(Err(Outcome::failed(format!("ssh-keygen -H failed: {}", out.stderr_str().trim()))));
            }
            key = out.stdout_str().trim_end().to_string();
        }
        if !key.ends_with('\n') {
            key.push('\n');
        }
        Ok(Ok(Some(key)))
    }
}

#[async_trait]
impl Module for KnownHosts {
    const NAME: &'static str = "known_hosts";
    type Args = Args;
    type Plan = Edit;

    fn check_args(a: &Args) -> Result<(), String> {
        if !matches!(a.state.as_str(), "present" | "absent") {
            return Err(format!("value of state must be one of: absent, present, got: {}", a.state));
        }
        Ok(())
    }

    async fn plan(&self, a: &Args, cx: &ModuleCtx<'_>) -> Result<Plan<Edit>, ModuleError> {
        let host = a.name.to_lowercase();
        let path = cx.expand_path(&a.path).await?;
        let present = a.state == "present";
        let kg = or_fail!(required_bin(cx, "ssh-keygen").await, Plan::Ok);
        if a.key.as_deref().is_none_or(str::is_empty) && present {
            return Ok(Plan::Ok(Outcome::failed("No key specified when adding a host")));
        }
        let key = or_fail!(Self::prepared_key(a, &host, &kg, cx).await, Plan::Ok);
        if let Some(k) = &key {
            let comma = regex::Regex::new(r"\S+(\s+)?,(\s+)?").expect("regex");
            if comma.is_match(&host) {
                return Ok(Plan::Ok(Outcome::failed(
                    "Comma separated list of names is not supported. Please pass a single name to lookup in the known_hosts file.",
                )));
            }
            let check = Sh::lit("t=$(mktemp) || exit 1; cat > \"$t\";")
                .word(Sh::quoted(&kg))
                .word(Sh::lit("-F"))
                .word(Sh::quoted(&host))
                .word(Sh::lit("-f \"$t\"; rm -f \"$t\""));
            let out = cx.exec_stdin(check, k.clone().into_bytes()).await?;
            if out.stdout.is_empty() {
                return Ok(Plan::Ok(Outcome::failed(
                    "Host parameter does not match hashed host field in supplied key",
                )));
            }
        }
        let read = cx.exec(Cmd::new("cat").operand(&path).build().suffix(" 2>/dev/null")).await?;
        let exists = read.rc == 0;
        let before = read.stdout_str();
        let s = if !exists {
            Search::default()
        } else {
            let out = cx.exec(Cmd::program(Sh::quoted(&kg)).opt("-F", &host).opt("-f", &path).build()).await?;
            let (o, e) = (out.stdout_str(), out.stderr_str());
            if o.is_empty() && e.is_empty() && (out.rc == 0 || out.rc == 1) {
                Search::default()
            } else if out.rc != 0 {
                return Ok(Plan::Ok(Outcome::failed(format!(
                    "ssh-keygen failed (rc={}, stdout='{o}',stderr='{e}')",
                    out.rc
                ))));
            } else {
                search(&o, key.as_deref())
            }
        };
        let diff = Value::from_pairs(vec![
            ("before_header", Value::from(if exists { path.as_str() } else { "/dev/null" })),
            ("after_header", Value::from(path.as_str())),
            ("before", Value::from(before.as_str())),
            ("after", Value::from(after(&before, &s, present, key.as_deref(), true))),
        ]);
        if !present && s.line.is_none() && key.is_some() {
            return Ok(Plan::Ok(full_result(a, &path, diff, cx).await?));
        }
        let remove_all = s.found && key.is_none() && !present;
        let rewrite = s.replace || s.found != present;
        if cx.is_check() && !remove_all && !rewrite {
            // ansible-core's check mode returns only `changed` and `diff`.
            return Ok(Plan::Ok(Outcome::ok().with("diff", diff)));
        }
        if !remove_all && !rewrite {
            return Ok(Plan::Ok(full_result(a, &path, diff, cx).await?));
        }
        let action = if present { Action::Modify } else { Action::Delete };
        let edit = Edit { search: s, key, remove_all, rewrite, diff: diff.clone() };
        let ch = Change::new(edit, action, "known host", a.name.clone());
        Ok(Plan::Change(ch.with_data("diff", diff)))
    }

    async fn apply(&self, a: &Args, e: Edit, cx: &ModuleCtx<'_>) -> Result<Outcome, ModuleError> {
        let path = cx.expand_path(&a.path).await?;
        if e.remove_all {
            let kg = which(cx, "ssh-keygen").await?.unwrap_or_else(|| "ssh-keygen".into());
            let host = a.name.to_lowercase();
            let out = cx.exec(Cmd::program(Sh::quoted(&kg)).opt("-R", &host).opt("-f", &path).build()).await?;
            if out.rc != 0 {
                let cmd = vec![kg, "-R".into(), host, "-f".into(), path.clone()];
                return Ok(crate::util::run_failed(&cmd, &out));
            }
        }
        if e.rewrite {
            let present = a.state == "present";
            let edit = |now: &str| after(now, &e.search, present, e.key.as_deref(), false);
            or_fail!(rewrite_file_as(cx, &path, edit, Some(0o644)).await);
        }
        let o = full_result(a, &path, e.diff, cx).await?;
        Ok(Outcome { changed: true, ..o })
    }
}

/// The result of a run outside check mode, as ansible-core returns it: the arguments, `diff`,
/// and what `add_path_info` adds for `path` (its `state` replacing the argument's).
async fn full_result(a: &Args, path: &str, diff: Value, cx: &ModuleCtx<'_>) -> Result<Outcome, ModuleError> {
    let o = Outcome::ok()
        .with("name", a.name.as_str())
        .with("key", a.key.clone().map(Value::from).unwrap_or(Value::from(())))
        .with("path", path)
        .with("hash_host", a.hash_host)
        .with("state", a.state.as_str())
        .with("diff", diff);
    let st = crate::files::probe(cx, path, None, false).await?;
    Ok(match st {
        Some(st) => crate::files::with_path_info(o, Some(&st)),
        None => o.with("state", "absent"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_found_replaced_or_kept_as_ansible_core_decides() {
        let out = "# Host h found: line 2 \nh ssh-ed25519 AAAA1\n";
        let s = search(out, Some("h ssh-ed25519 AAAA1\n"));
        assert!(s.found && !s.replace && s.line == Some(2));
        let s = search(out, Some("h ssh-ed25519 BBBB\n"));
        assert!(s.found && s.replace && s.line == Some(2));
        let s = search(out, Some("h ssh-rsa CCCC\n"));
        assert!(s.found && s.replace && s.line.is_none());
        let before = "a ssh-rsa X\nh ssh-ed25519 AAAA1\n";
        let s = Search { found: true, replace: true, line: Some(2) };
        assert_eq!(after(before, &s, true, Some("h ssh-ed25519 BBBB\n"), false), "a ssh-rsa X\nh ssh-ed25519 BBBB\n");
    }
}
