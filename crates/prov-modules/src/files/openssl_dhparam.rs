//! `openssl_dhparam` (community.crypto): makes a file of Diffie-Hellman parameters of a size,
//! with the target's `openssl`, as community.crypto's module does with its OpenSSL backend.
//!
//! Arguments (as in Ansible): `path` (required), `size` (bits, default 4096), `state`
//! (`present`, `absent`), `force` (make new parameters even when the file is good), `backup`,
//! `return_content`, `select_crypto_backend` (`auto` or `openssl`: prov uses the `openssl`
//! program; `cryptography`, a Python library on the target, is refused), `mode`, `owner`,
//! `group`.
//!
//! As community.crypto: the file is kept when `openssl dhparam -check -text` reads it, says
//! `(N bit)` with N = `size` and prints no `WARNING`; otherwise new parameters are made into a
//! private file beside it (`openssl dhparam -out`) and moved over it (keeping the mode and owner of the file it replaces;
//! a new one gets 0666 less the umask), then `mode`, `owner` and `group` are set. The file's
//! directory must exist. Registers `size`, `filename`, `backup_file` and, with `return_content`,
//! `dhparams` (the file's text, or null; after `absent` too, as community.crypto does).
//!
//! ```yaml
//! - community.crypto.openssl_dhparam:
//!     path: /etc/nginx/dh2048.pem
//!     size: 2048
//!     mode: "0640"
//! ```

use crate::files::{check_owner_group, probe, Attrs};
use crate::util::or_fail;
use async_trait::async_trait;
use minijinja::Value;
use prov_core::args::{lenient_bool, Mode};
use prov_core::cmd::{Cmd, Sh};
use prov_core::module::{Action, Change, Module, ModuleCtx, ModuleError, Outcome, Plan};
use serde::Deserialize;

fn present() -> String {
    "present".into()
}
fn bits() -> i64 {
    4096
}
fn auto() -> String {
    "auto".into()
}

/// Arguments of `openssl_dhparam`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    /// The parameters' file.
    pub path: String,
    /// Bits.
    #[serde(default = "bits")]
    pub size: i64,
    /// `present` or `absent`.
    #[serde(default = "present")]
    pub state: String,
    /// Make new parameters even when the file is good.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub force: bool,
    /// Keep a copy of the file replaced or removed.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub backup: bool,
    /// Register the file's text.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub return_content: bool,
    /// `auto` or `openssl`.
    #[serde(default = "auto")]
    pub select_crypto_backend: String,
    /// File mode.
    #[serde(default)]
    pub mode: Option<Mode>,
    /// Owner.
    #[serde(default, deserialize_with = "crate::util::stringish")]
    pub owner: Option<String>,
    /// Group.
    #[serde(default, deserialize_with = "crate::util::stringish")]
    pub group: Option<String>,
}

/// The `openssl_dhparam` module.
#[derive(Debug, Default)]
pub struct OpensslDhparam;

/// Whether `openssl dhparam -check -text -noout`'s output shows good parameters of `size` bits.
fn valid(stdout: &str, stderr: &str, size: i64) -> bool {
    let Some(i) = stdout.find("Parameters:") else { return false };
    let rest = stdout[i + "Parameters:".len()..].trim_start();
    let Some(n) = rest.strip_prefix('(').and_then(|r| r.split_once(" bit)")).map(|(n, _)| n) else {
        return false;
    };
    let Ok(n) = n.parse::<i64>() else { return false };
    !stdout.contains("WARNING") && !stderr.contains("WARNING") && n == size
}

/// The directory of `path`, as Python's `os.path.dirname(path) or "."`.
fn base_dir(path: &str) -> String {
    match path.rfind('/') {
        Some(0) => "/".to_string(),
        Some(i) => {
            let d = path[..i].trim_end_matches('/');
            if d.is_empty() {
                "/".into()
            } else {
                d.to_string()
            }
        }
        None => ".".into(),
    }
}

fn dump(a: &Args, changed: bool) -> Outcome {
    Outcome { changed, ..Outcome::ok() }.with("size", a.size).with("filename", a.path.as_str())
}

/// What `apply` does.
#[derive(Debug, Clone)]
pub struct DhPlan {
    /// Make new parameters (else only the attributes, or the removal).
    generate: bool,
}

impl OpensslDhparam {
    async fn check(a: &Args, cx: &ModuleCtx<'_>) -> Result<bool, ModuleError> {
        let cmd =
            Cmd::new("openssl").flag("dhparam").flag("-check").flag("-text").flag("-noout").opt("-in", &a.path).build();
        let out = cx.exec(cmd).await?;
        Ok(out.rc == 0 && valid(&out.stdout_str(), &out.stderr_str(), a.size))
    }

    /// The common start: the directory, and the `openssl` program for `present`.
    async fn preflight(a: &Args, cx: &ModuleCtx<'_>) -> Result<Result<(), Outcome>, ModuleError> {
        let dir = base_dir(&a.path);
        if !crate::util::path_test(cx, "-d", &dir).await? {
            return Ok(Err(Outcome::failed(format!(
                "The directory '{dir}' does not exist or the file is not a directory"
            ))
            .with("name", dir)));
        }
        if a.state == "present" && crate::util::which(cx, "openssl").await?.is_none() {
            return Ok(Err(Outcome::failed(
                "Cannot detect either the required Python library cryptography (>= 3.3) or the OpenSSL binary openssl",
            )));
        }
        Ok(Ok(()))
    }

    async fn with_content(a: &Args, o: Outcome, cx: &ModuleCtx<'_>) -> Result<Outcome, ModuleError> {
        if !a.return_content {
            return Ok(o);
        }
        let data = cx.get(&a.path).await?.filter(|d| !d.is_empty());
        Ok(o.with(
            "dhparams",
            data.map(|d| Value::from(String::from_utf8_lossy(&d).into_owned())).unwrap_or(Value::from(())),
        ))
    }
}

/// A backup of `$D` when it exists (see [`crate::files::BACKUP_D`]).
fn backup() -> Sh {
    Sh::lit("if [ -e \"$D\" ]; then").word(Sh::lit(crate::files::BACKUP_D)).suffix("; fi")
}

#[async_trait]
impl Module for OpensslDhparam {
    const NAME: &'static str = "openssl_dhparam";
    const COLLECTIONS: &'static [&'static str] = &["community.crypto"];
    const PATH_ARGS: &'static [&'static str] = &["path"];
    type Args = Args;
    type Plan = DhPlan;

    fn check_args(a: &Args) -> Result<(), String> {
        if a.state != "present" && a.state != "absent" {
            return Err(format!("value of state must be one of: absent, present, got: {}", a.state));
        }
        match a.select_crypto_backend.as_str() {
            "auto" | "openssl" => {}
            "cryptography" => {
                return Err("select_crypto_backend=cryptography needs a Python library on the target; prov uses the openssl program (auto or openssl)".into())
            }
            other => {
                return Err(format!(
                    "value of select_crypto_backend must be one of: auto, cryptography, openssl, got: {other}"
                ))
            }
        }
        check_owner_group(&a.owner, &a.group)
    }

    async fn plan(&self, a: &Args, cx: &ModuleCtx<'_>) -> Result<Plan<DhPlan>, ModuleError> {
        or_fail!(Self::preflight(a, cx).await, Plan::Ok);
        let st = probe(cx, &a.path, None, true).await?.filter(|s| s.target_exists);
        if a.state == "absent" {
            // Check mode, as community.crypto: changed when the file exists.
            if st.is_none() || cx.is_check() {
                return Ok(Plan::Ok(dump(a, st.is_some())));
            }
            return Ok(Plan::Change(Change::new(
                DhPlan { generate: false },
                Action::Delete,
                "dhparam",
                a.path.as_str(),
            )));
        }
        // `force` makes new parameters whatever the file holds.
        let generate = a.force || !Self::check(a, cx).await?;
        let attrs = Attrs::new(&a.mode, &a.owner, &a.group);
        let attrs_ok = st.as_ref().is_some_and(|s| attrs.changes(s).is_empty());
        if cx.is_check() {
            // community.crypto's check mode: the file as it is, and whether anything would change.
            let o = dump(a, generate || !attrs_ok);
            return Ok(Plan::Ok(Self::with_content(a, o, cx).await?));
        }
        if !generate && attrs_ok {
            return Ok(Plan::Ok(Self::with_content(a, dump(a, false), cx).await?));
        }
        let action = if st.is_none() { Action::Create } else { Action::Modify };
        Ok(Plan::Change(Change::new(DhPlan { generate }, action, "dhparam", a.path.as_str())))
    }

    async fn apply(&self, a: &Args, p: DhPlan, cx: &ModuleCtx<'_>) -> Result<Outcome, ModuleError> {
        let set_d = Sh::lit("D=").glued(Sh::quoted(&a.path));
        let mut backup_file = None;
        if a.state == "absent" {
            let mut s = set_d;
            if a.backup {
                s = s.then(backup());
            }
            s = s.then(Sh::lit("rm -f -- \"$D\""));
            let out = cx.exec(s).await?;
            if out.rc != 0 {
                return Ok(Outcome::failed(out.stderr_str().trim().to_string()));
            }
            backup_file = out.stdout_str().lines().find_map(|l| l.strip_prefix("backup ").map(str::to_string));
        } else if p.generate {
            let mut s = set_d.then(Sh::lit(
                "t=$(mktemp \"$(dirname -- \"$D\")/.prov-dhparam.XXXXXX\") || exit 1; trap 'rm -f \"$t\"' EXIT",
            ));
            s = s.then(
                Sh::lit("openssl dhparam -out \"$t\"").word(Sh::quoted(&a.size.to_string())).suffix(" || exit 3"),
            );
            if a.backup {
                s = s.then(backup());
            }
            s = s.then(Sh::lit(
                "if [ -e \"$D\" ]; then chmod --reference=\"$D\" -- \"$t\" && chown --reference=\"$D\" -- \"$t\" 2>/dev/null; \
                 else chmod \"$(printf '%o' $((0666 & ~$(umask))))\" -- \"$t\"; fi; mv -f -- \"$t\" \"$D\" && trap - EXIT",
            ));
            let out = cx.exec(s).await?;
            if out.rc == 3 {
                return Ok(Outcome::failed(out.stderr_str().to_string()));
            }
            if out.rc != 0 {
                return Ok(Outcome::failed(format!("Failed to write to file {}: {}", a.path, out.stderr_str().trim())));
            }
            backup_file = out.stdout_str().lines().find_map(|l| l.strip_prefix("backup ").map(str::to_string));
        }
        if a.state == "present" {
            let attrs = Attrs::new(&a.mode, &a.owner, &a.group);
            if let Some(st) = probe(cx, &a.path, None, true).await? {
                let changes = attrs.changes(&st);
                if let Some(cmd) = Attrs::command(&a.path, &changes, false, false) {
                    if let Err(o) = crate::files::run_step(cx, "setting attributes", cmd).await? {
                        return Ok(o);
                    }
                }
            }
        }
        let mut o = dump(a, true);
        if let Some(b) = backup_file {
            o = o.with("backup_file", b);
        }
        Self::with_content(a, o, cx).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_good_when_openssl_reads_the_size_asked_without_warnings() {
        let out = "    DH Parameters: (512 bit)\n    P:   \n        00:84:ef\n    G:    2 (0x2)\n";
        assert!(valid(out, "DH parameters appear to be ok.\n", 512));
        assert!(!valid(out, "", 1024));
        assert!(!valid(out, "WARNING: p value is not prime\n", 512));
        assert!(!valid("unable to load DH parameters\n", "", 512));
        assert_eq!(base_dir("/etc/nginx/dh.pem"), "/etc/nginx");
        assert_eq!(base_dir("dh.pem"), ".");
        assert_eq!(base_dir("/dh.pem"), "/");
    }
}
