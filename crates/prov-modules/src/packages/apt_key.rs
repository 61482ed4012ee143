//! `apt_key`: adds or removes an OpenPGP key of APT's trusted keys with `apt-key`, as
//! ansible-core's module does (apt-key is deprecated and gone from Debian 13 and Ubuntu 24.04;
//! `deb822_repository` with `signed_by` replaces it there).
//!
//! Arguments (as in Ansible): `id` (8 or 16 hexadecimal digits or more, with or without `0x`;
//! required with `state: absent` and with `keyserver`), one of `data` (the key itself), `file`
//! (a key file on the target), `url` (downloaded by the target with curl or wget) or
//! `keyserver` (with `id`); `keyring` (a keyring file instead of all trusted keys), `state`
//! (`present`, `absent`), `validate_certs` (default true).
//!
//! As ansible-core: without `id` the key's id is read from the key with `gpg --with-colons`;
//! the keys listed by `apt-key adv --list-public-keys` (expired ones left out) decide whether
//! it changes: 8-digit ids are compared with the last 8 digits of each key, longer ones with
//! the last 16. A key is removed by its last 8 digits, and after a change the list must show
//! what was asked. Targets need `apt-key` and `gpg`. Registers `id` (as given), `short_id`,
//! `fp`, `key_id`, `before` and, after a change, `after`.
//!
//! ```yaml
//! - apt_key:
//!     url: https://download.docker.com/linux/debian/gpg
//!     id: 9DC858229FC7DD38854AE2D88D81803C0EBFCD88
//! ```

use crate::net::get_url::{download, mask_url};
use crate::util::or_fail;
use async_trait::async_trait;
use indexmap::IndexMap;
use minijinja::Value;
use prov_core::args::lenient_bool;
use prov_core::cmd::{Cmd, Sh, Word, WordKind};
use prov_core::connection::ExecOutput;
use prov_core::module::{Action, Change, Module, ModuleCtx, ModuleError, Outcome, Plan};
use serde::Deserialize;

fn present() -> String {
    "present".into()
}
fn yes() -> bool {
    true
}

/// Arguments of `apt_key`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    /// The key's id or fingerprint.
    #[serde(default, deserialize_with = "crate::util::stringish")]
    pub id: Option<String>,
    /// The key, armored or not.
    #[serde(default)]
    pub data: Option<String>,
    /// A key file on the target.
    #[serde(default)]
    pub file: Option<String>,
    /// A keyring file instead of all of APT's trusted keys.
    #[serde(default)]
    pub keyring: Option<String>,
    /// Where the target downloads the key.
    #[serde(default)]
    pub url: Option<String>,
    /// A keyserver to receive the key `id` from.
    #[serde(default)]
    pub keyserver: Option<String>,
    /// `present` or `absent`.
    #[serde(default = "present")]
    pub state: String,
    /// Check the certificate of `url`.
    #[serde(default = "yes", deserialize_with = "lenient_bool")]
    pub validate_certs: bool,
}

/// The `apt_key` module.
#[derive(Debug, Default)]
pub struct AptKey;

/// ansible-core's `parse_key_id`: the id without `0x`, upper case, and the parts compared and
/// removed by (the last 16 and the last 8 digits).
#[derive(Debug, Clone, PartialEq)]
struct KeyId {
    short: String,
    fingerprint: String,
    full: String,
}

fn parse_key_id(id: &str) -> Option<KeyId> {
    let up = id.to_uppercase();
    let full = up.strip_prefix("0X").unwrap_or(&up).to_string();
    if full.is_empty() || !full.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let n = full.len();
    if n != 8 && n != 16 && n <= 16 {
        return None;
    }
    Some(KeyId {
        short: full[n - 8..].to_string(),
        fingerprint: if n > 16 { full[n - 16..].to_string() } else { full.clone() },
        full,
    })
}

/// ansible-core's `parse_output_for_keys`: the ids of the `pub` and `sub` lines not expired,
/// from apt-key's listing (`pub   rsa4096/ID ...`) or gpg's colons (`pub:-:4096:1:ID:...`).
fn parse_keys(out: &str, short: bool) -> Vec<String> {
    let mut found = Vec::new();
    for line in out.split('\n') {
        if !(line.starts_with("pub") || line.starts_with("sub")) || line.contains("expired") {
            continue;
        }
        let listed = line.split_whitespace().nth(1).and_then(|code| {
            let parts: Vec<&str> = code.split('/').collect();
            (parts.len() == 2).then(|| parts[1].to_string())
        });
        match listed.or_else(|| line.split(':').nth(4).map(str::to_string)) {
            Some(code) => found.push(code),
            None => continue,
        }
    }
    if short {
        found = found.into_iter().map(|k| k[k.len().saturating_sub(8)..].to_string()).collect();
    }
    found
}

fn apt_key(keyring: Option<&str>) -> Cmd {
    match keyring {
        Some(k) => Cmd::new("apt-key").opt("--keyring", k),
        None => Cmd::new("apt-key"),
    }
}

/// What the task works on, read before any change.
#[derive(Debug, Clone)]
pub struct KeyPlan {
    key: KeyId,
    short_format: bool,
    /// The keys listed before any change (ids or their last 8 digits, as compared).
    before: Vec<String>,
    /// The key downloaded or given, for `apt-key add -`.
    data: Option<Vec<u8>>,
    /// The registered fields so far (`id`, `short_id`, `fp`, `key_id`, `before`).
    result: IndexMap<String, Value>,
    /// Where apt-key is (for the `cmd` of a failure).
    apt_key: String,
}

fn failed_with(msg: impl Into<String>, result: &IndexMap<String, Value>) -> Outcome {
    let mut o = Outcome::failed(msg);
    for (k, v) in result {
        o.data.insert(k.clone(), v.clone());
    }
    o
}

/// The output fields ansible-core's `fail_json(stdout=out, stderr=err)` registers.
fn with_output(o: Outcome, out: &ExecOutput) -> Outcome {
    let stdout = out.stdout_str().to_string();
    let stderr = out.stderr_str().to_string();
    let lines = |s: &str| Value::from(s.lines().map(str::to_string).collect::<Vec<_>>());
    o.with("stdout_lines", lines(&stdout))
        .with("stderr_lines", lines(&stderr))
        .with("stdout", stdout)
        .with("stderr", stderr)
}

impl AptKey {
    /// `find_needed_binaries`.
    async fn binaries(cx: &ModuleCtx<'_>) -> Result<Result<String, Outcome>, ModuleError> {
        let mut first = None;
        for (bin, hint) in
            [("apt-key", ". Apt-key has been deprecated. See the deb822_repository as an alternative."), ("gpg", "")]
        {
            match crate::util::which(cx, bin).await? {
                Some(path) => first = first.or(Some(path)),
                None => return Ok(Err(Outcome::failed(format!("Failed to find required executable \"{bin}\"{hint}")))),
            }
        }
        Ok(Ok(first.unwrap_or_default()))
    }

    /// `all_keys`: the ids apt-key lists.
    async fn keys(a: &Args, short: bool, cx: &ModuleCtx<'_>) -> Result<Result<Vec<String>, Outcome>, ModuleError> {
        let cmd = apt_key(a.keyring.as_deref()).flag("adv").flag("--list-public-keys").flag("--keyid-format=long");
        let out = cx.exec(cmd.build()).await?;
        if out.rc != 0 {
            return Ok(Err(with_output(Outcome::failed("Unable to list public keys"), &out).with("rc", out.rc)));
        }
        Ok(Ok(parse_keys(&out.stdout_str(), short)))
    }

    /// `get_key_id_from_file`: the first key's id in a file of the target or in `data`.
    async fn id_of(
        file: Option<&str>,
        data: Option<&[u8]>,
        cx: &ModuleCtx<'_>,
    ) -> Result<Result<Option<String>, Outcome>, ModuleError> {
        // The C locale, as ansible-core's `lang_env`.
        let gpg = Cmd::new("LANG=C LC_ALL=C LC_MESSAGES=C LANGUAGE=C gpg").flag("--with-colons");
        let out = match (file, data) {
            (Some(f), _) => cx.exec(gpg.operand(f).build()).await?,
            (None, d) => cx.exec_stdin(gpg.flag("-").build(), d.unwrap_or_default().to_vec()).await?,
        };
        if out.rc != 0 {
            let what = file.unwrap_or("inline data");
            return Ok(Err(with_output(Outcome::failed(format!("Unable to extract key from '{what}'")), &out)));
        }
        Ok(Ok(parse_keys(&out.stdout_str(), false).into_iter().next()))
    }

    async fn fetch(a: &Args, url: &str, cx: &ModuleCtx<'_>) -> Result<Result<Vec<u8>, Outcome>, ModuleError> {
        Ok(download(cx, url, a.validate_certs)
            .await?
            .map_err(|why| Outcome::failed(format!("Failed to download key at {}: {why}", mask_url(url)))))
    }

    /// Everything before a change: the key's id and the keys listed.
    async fn prepare(a: &Args, cx: &ModuleCtx<'_>) -> Result<Result<KeyPlan, Outcome>, ModuleError> {
        let apt_key = or_fail!(Self::binaries(cx).await, Err);
        let mut id = a.id.clone().filter(|i| !i.is_empty());
        let mut data = a.data.as_ref().map(|d| d.as_bytes().to_vec());
        if id.is_none() {
            if a.keyserver.is_some() {
                return Ok(Err(Outcome::failed("Missing key_id, required with keyserver.")));
            }
            if let Some(url) = &a.url {
                data = Some(or_fail!(Self::fetch(a, url, cx).await, Err));
            }
            if a.file.is_some() {
                id = or_fail!(Self::id_of(a.file.as_deref(), None, cx).await, Err);
            } else if data.as_ref().is_some_and(|d| !d.is_empty()) {
                id = or_fail!(Self::id_of(None, data.as_deref(), cx).await, Err);
            }
        }
        let mut result = IndexMap::new();
        result.insert("id".to_string(), id.as_deref().map(Value::from).unwrap_or(Value::from(())));
        let Some(key) = id.as_deref().and_then(parse_key_id) else {
            return Ok(Err(failed_with("Invalid key_id", &result)));
        };
        result.insert("short_id".into(), Value::from(key.short.as_str()));
        result.insert("fp".into(), Value::from(key.fingerprint.as_str()));
        result.insert("key_id".into(), Value::from(key.full.as_str()));
        let short_format = key.full.len() == 8;
        let before = or_fail!(Self::keys(a, short_format, cx).await, Err);
        result.insert("before".into(), Value::from(before.clone()));
        Ok(Ok(KeyPlan { key, short_format, data, before, result, apt_key }))
    }

    fn listed(p: &KeyPlan, keys: &[String]) -> bool {
        let k = if p.short_format { &p.key.short } else { &p.key.fingerprint };
        keys.contains(k)
    }

    /// `import_key`: `apt-key adv --recv` from the keyserver, tried five times.
    async fn receive(
        a: &Args,
        p: &KeyPlan,
        keyserver: &str,
        cx: &ModuleCtx<'_>,
    ) -> Result<Option<Outcome>, ModuleError> {
        let id = Word::new(WordKind::KeyId, &p.key.full)?;
        let recv = apt_key(a.keyring.as_deref())
            .flag("adv")
            .flag("--no-tty")
            .opt("--keyserver", keyserver)
            .flag("$proxy")
            .flag("--recv")
            .word(&id)
            .build();
        // The proxy of the target's environment, as ansible-core's `add_http_proxy` adds it.
        let cmd = Sh::lit(
            "export LANG=C LC_ALL=C LC_MESSAGES=C LANGUAGE=C; \
             p=${HTTPS_PROXY:-${https_proxy:-${HTTP_PROXY:-$http_proxy}}}; \
             proxy=; [ -n \"$p\" ] && proxy=\"--keyserver-options http-proxy=$p\"",
        )
        .then(recv);
        let mut last = None;
        for _ in 0..5 {
            let out = cx.exec(cmd.clone()).await?;
            if out.rc == 0 {
                return Ok(None);
            }
            last = Some(out);
        }
        let out = last.unwrap_or_default();
        let keyring = a.keyring.as_deref().map(|k| format!(" --keyring {k}")).unwrap_or_default();
        let shown = format!("{}{keyring} adv --no-tty --keyserver {keyserver} --recv {}", p.apt_key, p.key.full);
        if out.rc == 2 && out.stdout_str().contains("not found on keyserver") {
            let msg = format!("Key {} not found on keyserver {keyserver}", p.key.full);
            return Ok(Some(Outcome::failed(msg).with("cmd", shown)));
        }
        let msg = format!("Error fetching key {} from keyserver: {keyserver}", p.key.full);
        Ok(Some(with_output(Outcome::failed(msg), &out).with("cmd", shown).with("rc", out.rc)))
    }

    /// `add_key`: from a file of the target, or from data on the command's input.
    async fn add(
        a: &Args,
        data: Option<Vec<u8>>,
        p: &KeyPlan,
        cx: &ModuleCtx<'_>,
    ) -> Result<Option<Outcome>, ModuleError> {
        let (out, msg, file) = match (&a.file, data) {
            (Some(f), _) => {
                let out = cx.exec(apt_key(a.keyring.as_deref()).flag("add").operand(f).build()).await?;
                (out, format!("Unable to add a key from file {f}"), Some(f.clone()))
            }
            (None, Some(d)) => {
                let out = cx.exec_stdin(apt_key(a.keyring.as_deref()).flag("add").flag("-").build(), d).await?;
                (out, "Unable to add a key from binary data".to_string(), None)
            }
            (None, None) => return Ok(Some(failed_with("No key to add ... how did i get here?!?!", &p.result))),
        };
        if out.rc == 0 {
            return Ok(None);
        }
        let mut o = with_output(Outcome::failed(msg), &out).with("rc", out.rc);
        if let Some(f) = file {
            o = o.with("keyfile", f);
        }
        Ok(Some(o))
    }
}

fn outcome(p: &KeyPlan, changed: bool) -> Outcome {
    let mut o = Outcome { changed, ..Outcome::ok() };
    for (k, v) in &p.result {
        o.data.insert(k.clone(), v.clone());
    }
    o
}

#[async_trait]
impl Module for AptKey {
    const NAME: &'static str = "apt_key";
    type Args = Args;
    type Plan = KeyPlan;
    const PATH_ARGS: &'static [&'static str] = &["file", "keyring"];

    fn check_args(a: &Args) -> Result<(), String> {
        if a.state != "present" && a.state != "absent" {
            return Err(format!("value of state must be one of: absent, present, got: {}", a.state));
        }
        let given: Vec<&str> = [
            ("data", a.data.is_some()),
            ("file", a.file.is_some()),
            ("keyserver", a.keyserver.is_some()),
            ("url", a.url.is_some()),
        ]
        .iter()
        .filter(|(_, set)| *set)
        .map(|(n, _)| *n)
        .collect();
        if given.len() > 1 {
            return Err(format!("parameters are mutually exclusive: {}", given.join("|")));
        }
        Ok(())
    }

    async fn plan(&self, a: &Args, cx: &ModuleCtx<'_>) -> Result<Plan<KeyPlan>, ModuleError> {
        let p = or_fail!(Self::prepare(a, cx).await, Plan::Ok);
        let (change, action) = if a.state == "present" {
            (!Self::listed(&p, &p.before), Action::Create)
        } else {
            (p.before.contains(&p.key.fingerprint), Action::Delete)
        };
        if !change {
            return Ok(Plan::Ok(outcome(&p, false)));
        }
        let mut ch = Change::new(p.clone(), action, "apt key", p.key.full.clone());
        ch.data = p.result.clone();
        Ok(Plan::Change(ch))
    }

    async fn apply(&self, a: &Args, p: KeyPlan, cx: &ModuleCtx<'_>) -> Result<Outcome, ModuleError> {
        let short = Word::new(WordKind::KeyId, &p.key.short)?;
        if a.state == "present" {
            let failure = if a.file.is_some() {
                Self::add(a, None, &p, cx).await?
            } else if let Some(ks) = &a.keyserver {
                Self::receive(a, &p, ks, cx).await?
            } else if p.data.is_some() {
                Self::add(a, p.data.clone(), &p, cx).await?
            } else if let Some(url) = &a.url {
                match Self::fetch(a, url, cx).await? {
                    Ok(body) => Self::add(a, Some(body), &p, cx).await?,
                    Err(o) => Some(o),
                }
            } else {
                Self::add(a, None, &p, cx).await?
            };
            if let Some(o) = failure {
                return Ok(o);
            }
        } else {
            let out = cx.exec(apt_key(a.keyring.as_deref()).flag("del").word(&short).build()).await?;
            if out.rc != 0 {
                return Ok(with_output(
                    Outcome::failed(format!("Unable to remove a key with id {}", p.key.short)),
                    &out,
                )
                .with("rc", out.rc)
                .with("key_id", p.key.short.as_str()));
            }
        }
        let after = or_fail!(Self::keys(a, p.short_format, cx).await);
        let mut o = outcome(&p, true).with("after", after.clone());
        let wrong = if a.state == "present" {
            (!Self::listed(&p, &after)).then_some("failed to add the key")
        } else {
            after.contains(&p.key.fingerprint).then_some("the key was not removed")
        };
        if let Some(what) = wrong {
            o.failed = true;
            o.msg = Some(format!(
                "apt-key did not return an error, but {what} (check that the id is correct and *not* a subkey)"
            ));
        }
        Ok(o)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_ids_are_read_as_ansible_core_reads_them() {
        let k = parse_key_id("0x4c0e6f745b93bdd3f39ca039c3fc278509a129f8").expect("valid");
        assert_eq!(k.full, "4C0E6F745B93BDD3F39CA039C3FC278509A129F8");
        assert_eq!(k.fingerprint, "C3FC278509A129F8");
        assert_eq!(k.short, "09A129F8");
        let k = parse_key_id("3BAA6F0F").expect("valid");
        assert_eq!((k.short.as_str(), k.fingerprint.as_str()), ("3BAA6F0F", "3BAA6F0F"));
        for bad in ["12345", "zz345678", "0x", "", "123456789ABC", "3BAA6F0F;id"] {
            assert_eq!(parse_key_id(bad), None, "{bad}");
        }
    }

    #[test]
    fn listed_keys_come_from_pub_and_sub_lines_not_expired() {
        let apt = "/etc/apt/trusted.gpg.d/x.gpg\n------\npub   rsa4096/0F62D5DD3BAA6F0F 2026-12-05 [SC]\n      54D3A79F0AE8A38BF0B713B70F62D5DD3BAA6F0F\nuid                 [ unknown] x\nsub   rsa4096/1111222233334444 2026-12-05 [E]\npub   rsa1024/AAAABBBBCCCCDDDD 2001-01-01 [SC] [expired: 2002-01-01]\n";
        assert_eq!(parse_keys(apt, false), ["0F62D5DD3BAA6F0F", "1111222233334444"]);
        assert_eq!(parse_keys(apt, true), ["3BAA6F0F", "33334444"]);
        let colons = "pub:-:2048:1:C3FC278509A129F8:1796436460:::-:::scSC::::::23::0:\nfpr:::::::::4C0E6F745B93BDD3F39CA039C3FC278509A129F8:\n";
        assert_eq!(parse_keys(colons, false), ["C3FC278509A129F8"]);
    }

    #[test]
    fn urls_are_shown_without_credentials() {
        assert_eq!(mask_url("https://u:secret@h.example/k.asc"), "https://****:****@h.example/k.asc");
        assert_eq!(mask_url("https://u@h.example/k"), "https://****@h.example/k");
        assert_eq!(mask_url("https://h.example/a@b"), "https://h.example/a@b");
    }
}
