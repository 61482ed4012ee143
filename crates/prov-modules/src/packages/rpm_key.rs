//! `rpm_key`: imports or removes an OpenPGP key of the RPM database, as ansible-core's module
//! does.
//!
//! Arguments (as in Ansible): `key` (required: a URL the target downloads with curl or wget, a
//! key id of 8 hexadecimal digits or more with or without `0x`, or an armored key file on the
//! target), `state` (`present`, `absent`), `fingerprint` (one or a list: the key must have these
//! fingerprints, spaces ignored), `validate_certs` (default true).
//!
//! As ansible-core: a key is imported when `gpg` finds its long id in no key of `rpm -q
//! gpg-pubkey` (a shorter id matches the end of one), and removed with `rpm --erase
//! --allmatches gpg-pubkey-<last 8 digits>`; a key given by id can be removed but not imported.
//! A value that starts with 8 hexadecimal digits is an id, as in ansible-core. Targets need
//! `rpm` and `gpg` (or `gpg2`). Registers `changed` only.
//!
//! ```yaml
//! - rpm_key:
//!     key: https://download.docker.com/linux/centos/gpg
//!     fingerprint: 060A 61C5 1B55 8A7F 742B 77AA C52F EB6B 621E 9F35
//! ```

use crate::net::get_url::{download, mask_url};
use crate::util::or_fail;
use async_trait::async_trait;
use prov_core::args::{lenient_bool, StringList};
use prov_core::cmd::{Cmd, Sh};
use prov_core::module::{Action, Change, Module, ModuleCtx, ModuleError, Outcome, Plan};
use serde::Deserialize;
use std::collections::BTreeSet;

fn present() -> String {
    "present".into()
}
fn yes() -> bool {
    true
}

/// Arguments of `rpm_key`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    /// A URL, a key id or a key file on the target.
    #[serde(deserialize_with = "crate::util::py_text")]
    pub key: String,
    /// `present` or `absent`.
    #[serde(default = "present")]
    pub state: String,
    /// Fingerprints the key must have.
    #[serde(default)]
    pub fingerprint: Option<StringList>,
    /// Check the certificate of a `https` key.
    #[serde(default = "yes", deserialize_with = "lenient_bool")]
    pub validate_certs: bool,
}

/// The `rpm_key` module.
#[derive(Debug, Default)]
pub struct RpmKey;

/// Where the key comes from.
#[derive(Debug, Clone)]
enum Source {
    /// Downloaded: the key itself.
    Data(Vec<u8>),
    /// A file of the target.
    File(String),
    /// An id only.
    Id,
}

/// What `apply` imports or removes.
#[derive(Debug, Clone)]
pub struct KeyPlan {
    gpg: String,
    id: String,
    source: Source,
}

/// ansible-core's `is_keyid`: the value starts with 8 hexadecimal digits (after `0x`).
fn is_key_id(key: &str) -> bool {
    let k = key.strip_prefix("0x").or_else(|| key.strip_prefix("0X")).unwrap_or(key);
    k.len() >= 8 && k.as_bytes()[..8].iter().all(u8::is_ascii_hexdigit)
}

/// ansible-core's `is_pubkey`: an armored public key block somewhere in the text.
fn is_pubkey(data: &[u8]) -> bool {
    let text = String::from_utf8_lossy(data);
    text.find("-----BEGIN PGP PUBLIC KEY BLOCK-----")
        .is_some_and(|i| text[i..].contains("-----END PGP PUBLIC KEY BLOCK-----"))
}

/// `normalize_keyid`.
fn normalize(id: &str) -> String {
    let up = id.trim().to_uppercase();
    up.strip_prefix("0X").map(str::to_string).unwrap_or(up)
}

/// The id field (the 5th) of the first `pub:` line of gpg's colons.
fn first_pub(out: &str) -> Option<String> {
    out.lines().map(str::trim).find(|l| l.starts_with("pub:")).and_then(|l| l.split(':').nth(4)).map(str::to_string)
}

/// The fingerprints (10th field of `fpr:` lines) of gpg's colons.
fn fingerprints(out: &str) -> BTreeSet<String> {
    out.lines()
        .map(str::trim)
        .filter(|l| l.starts_with("fpr:"))
        .filter_map(|l| l.split(':').nth(9).map(str::to_string))
        .collect()
}

/// A set as Python prints it (`{'A', 'B'}`; sorted here, where Python's order varies).
fn py_set(s: &BTreeSet<String>) -> String {
    let items: Vec<String> = s.iter().map(|x| format!("'{x}'")).collect();
    format!("{{{}}}", items.join(", "))
}

/// A gpg command reading colons: of a target file, or of the command's input.
fn gpg_of(gpg: &str, extra: &[&'static str], source: &Source) -> Sh {
    let mut c =
        Cmd::program(Sh::quoted(gpg)).flag("--no-tty").flag("--batch").flag("--with-colons").flag("--fixed-list-mode");
    for e in extra {
        c = c.flag(e);
    }
    match source {
        Source::File(f) => c.operand(f).build(),
        _ => c.flag("-").build(),
    }
}

impl RpmKey {
    /// Runs a command as ansible-core's `execute_command`: a failure's message is its stderr.
    async fn run(cx: &ModuleCtx<'_>, cmd: Sh, source: &Source) -> Result<Result<String, Outcome>, ModuleError> {
        let out = match source {
            Source::Data(d) => cx.exec_stdin(cmd, d.clone()).await?,
            _ => cx.exec(cmd).await?,
        };
        if out.rc != 0 {
            return Ok(Err(Outcome::failed(out.stderr_str().to_string())));
        }
        Ok(Ok(out.stdout_str().to_string()))
    }

    /// `is_key_imported`: the id is part of the long id of a key rpm lists.
    async fn imported(gpg: &str, id: &str, cx: &ModuleCtx<'_>) -> Result<Result<bool, Outcome>, ModuleError> {
        if cx.exec(Cmd::new("rpm").flag("-q").operand("gpg-pubkey").build()).await?.rc != 0 {
            return Ok(Ok(false));
        }
        let list = Sh::lit("rpm -q --qf '%{description}' -- gpg-pubkey | ").glued(gpg_of(gpg, &[], &Source::Id));
        let out = or_fail!(Self::run(cx, list, &Source::Id).await, Err);
        Ok(Ok(out.lines().any(|l| l.split(':').nth(4).is_some_and(|f| f.contains(id)))))
    }

    /// Everything before a change; `Err` is the task's result (a failure, or unchanged).
    async fn prepare(a: &Args, cx: &ModuleCtx<'_>) -> Result<Result<(KeyPlan, bool), Outcome>, ModuleError> {
        let Some(_) = crate::util::which(cx, "rpm").await? else {
            return Ok(Err(Outcome::failed("Failed to find required executable \"rpm\"")));
        };
        let gpg = match crate::util::which(cx, "gpg").await? {
            Some(g) => g,
            None => match crate::util::which(cx, "gpg2").await? {
                Some(g) => g,
                None => return Ok(Err(Outcome::failed("Failed to find required executable \"gpg2\""))),
            },
        };
        let key = &a.key;
        let source = if key.contains("://") {
            let body = match download(cx, key, a.validate_certs).await? {
                Ok(b) => b,
                Err(why) => {
                    return Ok(Err(Outcome::failed(format!(
                        "failed to fetch key at {} , error was: {why}",
                        mask_url(key)
                    ))))
                }
            };
            if !is_pubkey(&body) {
                return Ok(Err(Outcome::failed(format!("Not a public key: {}", mask_url(key)))));
            }
            Source::Data(body)
        } else if is_key_id(key) {
            Source::Id
        } else if crate::util::path_test(cx, "-f", key).await? {
            Source::File(key.clone())
        } else {
            return Ok(Err(Outcome::failed(format!("Not a valid key {key}"))));
        };
        let id = if matches!(source, Source::Id) {
            key.clone()
        } else {
            let out = or_fail!(Self::run(cx, gpg_of(&gpg, &[], &source), &source).await, Err);
            match first_pub(&out) {
                Some(id) => id,
                None => return Ok(Err(Outcome::failed("Unexpected gpg output"))),
            }
        };
        let id = normalize(&id);
        let imported = or_fail!(Self::imported(&gpg, &id, cx).await, Err);
        Ok(Ok((KeyPlan { gpg, id, source }, imported)))
    }
}

#[async_trait]
impl Module for RpmKey {
    const NAME: &'static str = "rpm_key";
    type Args = Args;
    type Plan = KeyPlan;

    fn check_args(a: &Args) -> Result<(), String> {
        if a.state != "present" && a.state != "absent" {
            return Err(format!("value of state must be one of: absent, present, got: {}", a.state));
        }
        Ok(())
    }

    async fn plan(&self, a: &Args, cx: &ModuleCtx<'_>) -> Result<Plan<KeyPlan>, ModuleError> {
        let (p, imported) = or_fail!(Self::prepare(a, cx).await, Plan::Ok);
        if a.state == "absent" {
            if !imported {
                return Ok(Plan::Ok(Outcome::ok()));
            }
            let name = p.id.clone();
            return Ok(Plan::Change(Change::new(p, Action::Delete, "rpm key", name)));
        }
        if imported {
            return Ok(Plan::Ok(Outcome::ok()));
        }
        if matches!(p.source, Source::Id) {
            return Ok(Plan::Ok(Outcome::failed("When importing a key, a valid file must be given")));
        }
        let wanted: BTreeSet<String> = a
            .fingerprint
            .as_ref()
            .map(|l| l.0.iter().map(|f| f.replace(' ', "").to_uppercase()).collect())
            .unwrap_or_default();
        if !wanted.is_empty() {
            let cmd = gpg_of(&p.gpg, &["--import", "--import-options", "show-only", "--dry-run"], &p.source);
            let found = fingerprints(&or_fail!(Self::run(cx, cmd, &p.source).await, Plan::Ok));
            if found.is_empty() {
                return Ok(Plan::Ok(Outcome::failed("Unexpected gpg output")));
            }
            if !wanted.is_subset(&found) {
                return Ok(Plan::Ok(Outcome::failed(format!(
                    "The specified fingerprint, '{}', does not match any key fingerprints in '{}'",
                    py_set(&wanted),
                    py_set(&found)
                ))));
            }
        }
        let name = p.id.clone();
        Ok(Plan::Change(Change::new(p, Action::Create, "rpm key", name)))
    }

    async fn apply(&self, a: &Args, p: KeyPlan, cx: &ModuleCtx<'_>) -> Result<Outcome, ModuleError> {
        let cmd = if a.state == "absent" {
            let short = p.id[p.id.len().saturating_sub(8)..].to_lowercase();
            Cmd::new("rpm").flag("--erase").flag("--allmatches").operand(format!("gpg-pubkey-{short}")).build()
        } else {
            match &p.source {
                Source::File(f) => Cmd::new("rpm").flag("--import").operand(f).build(),
                // A private file for the download, removed whatever happens.
                _ => Sh::lit(
                    "umask 077; t=$(mktemp \"${TMPDIR:-/tmp}/.prov-rpm_key.XXXXXX\") || exit 1; \
                     trap 'rm -f \"$t\"' EXIT; cat > \"$t\" || exit 1; rpm --import -- \"$t\"",
                ),
            }
        };
        match Self::run(cx, cmd, &p.source).await? {
            Ok(_) => Ok(Outcome { changed: true, ..Outcome::ok() }),
            Err(o) => Ok(o),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_ids_urls_or_files_as_ansible_core_tells_them_apart() {
        assert!(is_key_id("0x3baa6f0f"));
        assert!(is_key_id("3BAA6F0F"));
        assert!(is_key_id("deadbeef-notes.asc"), "ansible-core only looks at the first 8 characters");
        assert!(!is_key_id("/etc/pki/key.asc"));
        assert!(!is_key_id("3BAA6F0"));
        assert_eq!(normalize(" 0x3baa6f0f "), "3BAA6F0F");
        assert!(is_pubkey(b"x\n-----BEGIN PGP PUBLIC KEY BLOCK-----\nabc\n-----END PGP PUBLIC KEY BLOCK-----\n"));
        assert!(!is_pubkey(b"<html>"));
    }

    #[test]
    fn fingerprints_and_ids_are_read_from_gpg_colons() {
        let out = "pub:-:2048:1:0F62D5DD3BAA6F0F:1796436460:::-:\nfpr:::::::::54D3A79F0AE8A38BF0B713B70F62D5DD3BAA6F0F:\nuid:::::::::x:\n";
        assert_eq!(first_pub(out).as_deref(), Some("0F62D5DD3BAA6F0F"));
        let f = fingerprints(out);
        assert_eq!(py_set(&f), "{'54D3A79F0AE8A38BF0B713B70F62D5DD3BAA6F0F'}");
    }
}
