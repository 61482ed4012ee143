//! `docker_login` (community.docker): logs the target's Docker Engine into a registry and keeps
//! the credentials in the Docker CLI's configuration file, or removes them.
//!
//! Arguments (as in Ansible): `registry_url` (aliases `registry`, `url`; default
//! `https://index.docker.io/v1/`), `username` and `password` (required with `state: present`),
//! `reauthorize` (alias `reauth`), `config_path` (alias `dockercfg_path`; default
//! `~/.docker/config.json`), `state` (`present`, `absent`).
//!
//! It decides as community.docker's module does. `present`: when the configuration (the file at
//! `config_path`, else the Docker CLI's default one) already holds credentials of `username` for
//! the registry (its key, or a key naming the same host) and `reauthorize` is false, those are the
//! result, unless their password differs; otherwise the engine logs in (in check mode too: a
//! wrong password fails the task). Then the file at `config_path` gets `auths[registry_url]`
//! when it does not hold these credentials (or `reauthorize`), written as the module's Python
//! writes it (sorted keys, four spaces, a new file with mode 0600). Registers `login_result`:
//! the engine's answer (`IdentityToken`, `Status`), or the stored entry without its password.
//! `absent` removes the registry's entry from the file, when it has one.
//!
//! The engine logs in through the target's `docker login`, with the password on its standard
//! input (never in a command line) and a throwaway configuration directory. Credential helpers
//! (`credsStore`, `credHelpers` for the registry) are not supported: the task fails saying so.
//! A refused login fails with the engine's message after community.docker's prefix (without
//! the HTTP status line community.docker's client adds).
//!
//! ```yaml
//! - community.docker.docker_login:
//!     registry_url: registry.example.com:5000
//!     username: deploy
//!     password: "{{ registry_password }}"
//! ```

use crate::util::{or_fail, rewrite_file_as, section};
use async_trait::async_trait;
use base64::Engine as _;
use prov_core::args::lenient_bool;
use prov_core::cmd::{Cmd, Sh};
use prov_core::module::{Action, Change, Module, ModuleCtx, ModuleError, Outcome, Plan};
use serde::Deserialize;
use serde_json::{json, Map, Value as Json};

/// Docker Hub, community.docker's default registry.
const DEFAULT_REGISTRY: &str = "https://index.docker.io/v1/";

fn default_registry() -> String {
    DEFAULT_REGISTRY.into()
}

fn default_config() -> String {
    "~/.docker/config.json".into()
}

fn present() -> String {
    "present".into()
}

/// Arguments of `docker_login`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    /// The registry.
    #[serde(default = "default_registry", alias = "registry", alias = "url")]
    pub registry_url: String,
    /// The account.
    #[serde(default, deserialize_with = "crate::util::stringish")]
    pub username: Option<String>,
    /// Its password.
    #[serde(default, deserialize_with = "crate::util::stringish")]
    pub password: Option<String>,
    /// Log in again and rewrite the entry even when it is there.
    #[serde(default, alias = "reauth", deserialize_with = "lenient_bool")]
    pub reauthorize: bool,
    /// The Docker CLI's configuration file.
    #[serde(default = "default_config", alias = "dockercfg_path")]
    pub config_path: String,
    /// `present` or `absent`.
    #[serde(default = "present")]
    pub state: String,
}

/// The `docker_login` module.
#[derive(Debug, Default)]
pub struct DockerLogin;

/// What `plan` found to write: the file and its new text, and the result to register.
#[derive(Debug)]
pub struct Write {
    path: String,
    text: String,
    login_result: Map<String, Json>,
}

/// The Docker CLI's host name of a registry (`https://r:5000/v1/` → `r:5000`), Docker Hub's
/// index read as `docker.io`.
fn index_name(registry: &str) -> String {
    let host = registry.replace("http://", "").replace("https://", "");
    let host = host.split('/').next().unwrap_or_default();
    if host == "index.docker.io" {
        "docker.io".into()
    } else {
        host.to_string()
    }
}

/// A credential of the file as community.docker reads it: `None` for an entry with no
/// `auth` (or a token), else user and password.
fn decode(entry: &Json) -> Option<(String, String)> {
    let raw = entry.get("auth")?.as_str()?;
    let bytes = base64::engine::general_purpose::STANDARD.decode(raw.trim()).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let (u, p) = text.split_once(':')?;
    Some((u.to_string(), p.to_string()))
}

/// The stored entry for the registry, as community.docker resolves it: the key itself, else
/// the first key naming the same host. The result is what the module shows (`username`,
/// `password`, `email`, `serveraddress`; `IdentityToken` for a token; `{}` without `auth`).
pub(crate) fn resolve(config: &Json, registry: &str) -> Option<Map<String, Json>> {
    let auths = config.get("auths")?.as_object()?;
    let want = index_name(registry);
    let (key, entry) = auths.get_key_value(&want).or_else(|| auths.iter().find(|(k, _)| index_name(k) == want))?;
    let mut out = Map::new();
    if let Some(t) = entry.get("identitytoken") {
        out.insert("IdentityToken".into(), t.clone());
        return Some(out);
    }
    if entry.get("auth").is_none() {
        return Some(out);
    }
    let (u, p) = decode(entry)?;
    out.insert("username".into(), Json::from(u));
    out.insert("password".into(), Json::from(p));
    out.insert("email".into(), entry.get("email").cloned().unwrap_or(Json::Null));
    out.insert("serveraddress".into(), Json::from(key.clone()));
    Some(out)
}

/// The credential helper the configuration names for the registry, if any.
fn helper(config: &Json, registry: &str) -> Option<String> {
    let key = if registry.is_empty() || registry == "docker.io" { DEFAULT_REGISTRY } else { registry };
    let named = config.get("credHelpers").and_then(|h| h.get(key)).and_then(|v| v.as_str());
    named.or_else(|| config.get("credsStore").and_then(|v| v.as_str())).filter(|s| !s.is_empty()).map(str::to_string)
}

/// The file's text with the registry's entry set (`Some`) or removed (`None`), as the module's
/// Python writes it.
fn with_entry(config: &Json, registry: &str, creds: Option<(&str, &str)>) -> Result<String, String> {
    let mut c = config.as_object().cloned().unwrap_or_default();
    let auths = c.entry("auths").or_insert_with(|| json!({}));
    if !auths.is_object() {
        *auths = json!({});
    }
    let map = auths.as_object_mut().expect("an object");
    match creds {
        Some((u, p)) => {
            let auth = base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"));
            map.insert(registry.to_string(), json!({ "auth": auth }));
        }
        None => {
            map.remove(registry);
        }
    }
    prov_core::template::filters::json_dumps(&Json::Object(c), Some(4), true)
}

impl DockerLogin {
    /// The file at `path` (`Null` when missing or not JSON, as the module ignores it) and the
    /// Docker CLI's default configuration (read when `path` does not exist).
    async fn read(cx: &ModuleCtx<'_>, path: &str) -> Result<(bool, Json, Json), ModuleError> {
        let file = Cmd::new("cat").operand(path).build();
        let probe = Sh::lit("if [ -e")
            .word(Sh::quoted(path))
            .suffix(" ]; then echo yes; else echo no; fi; printf '%s\\n' '--file--'")
            .then(file.suffix(" 2>/dev/null"))
            .then(Sh::lit(
                "printf '\\n%s\\n' '--default--'; cat \"${DOCKER_CONFIG:-$HOME/.docker}/config.json\" 2>/dev/null; printf '\\n%s\\n' '--end--'",
            ));
        let out = cx.exec(probe).await?.stdout_str();
        let parse =
            |name: &str| serde_json::from_str(section(&out, name).unwrap_or_default().trim()).unwrap_or(Json::Null);
        Ok((out.starts_with("yes"), parse("file"), parse("default")))
    }

    /// Logs the engine in: its answer, or the failed result.
    async fn login(a: &Args, cx: &ModuleCtx<'_>) -> Result<Result<Map<String, Json>, Outcome>, ModuleError> {
        let user = a.username.clone().unwrap_or_default();
        let login = Cmd::new("docker")
            .flag("login")
            .opt("--username", &user)
            .flag("--password-stdin")
            .operand(&a.registry_url)
            .build();
        let script = Sh::lit("d=$(mktemp -d) || exit 1; DOCKER_CONFIG=\"$d\"").word(login).suffix(
            "; rc=$?; printf '%s\\n' '--config--'; cat \"$d/config.json\" 2>/dev/null; rm -rf \"$d\"; exit $rc",
        );
        let pass = a.password.clone().unwrap_or_default();
        let out = cx.exec_stdin(script, pass.into_bytes()).await?;
        let stdout = out.stdout_str();
        if out.rc != 0 {
            let err = out.stderr_str();
            let err = err.lines().rfind(|l| !l.trim().is_empty() && !l.starts_with("WARNING!")).unwrap_or("");
            let err = err.strip_prefix("Error response from daemon: ").unwrap_or(err);
            return Ok(Err(Outcome::failed(format!("Logging into {} for user {user} failed - {err}", a.registry_url))));
        }
        let said = stdout.split("--config--").next().unwrap_or_default();
        let status = said.lines().map(str::trim).rfind(|l| !l.is_empty()).unwrap_or("Login Succeeded");
        let cfg: Json =
            serde_json::from_str(section(&stdout, "config").unwrap_or_default().trim()).unwrap_or(Json::Null);
        let token = cfg
            .get("auths")
            .and_then(|m| m.as_object())
            .and_then(|m| m.values().find_map(|e| e.get("identitytoken").cloned()))
            .unwrap_or(Json::from(""));
        let mut answer = Map::new();
        answer.insert("IdentityToken".into(), token);
        answer.insert("Status".into(), Json::from(status));
        Ok(Ok(answer))
    }
}

fn result(login_result: Map<String, Json>) -> Outcome {
    Outcome::ok().with("login_result", super::json_value(Json::Object(login_result)))
}

#[async_trait]
impl Module for DockerLogin {
    const NAME: &'static str = "docker_login";
    const COLLECTIONS: &'static [&'static str] = &["community.docker", "ansible.builtin"];
    type Args = Args;
    type Plan = Write;

    fn check_args(a: &Args) -> Result<(), String> {
        match a.state.as_str() {
            "present" => {
                let missing: Vec<&str> = [("username", &a.username), ("password", &a.password)]
                    .iter()
                    .filter(|(_, v)| v.is_none())
                    .map(|(k, _)| *k)
                    .collect();
                if !missing.is_empty() {
                    return Err(format!(
                        "state is present but all of the following are missing: {}",
                        missing.join(", ")
                    ));
                }
                Ok(())
            }
            "absent" => Ok(()),
            s => Err(format!("value of state must be one of: present, absent, got: {s}")),
        }
    }

    async fn plan(&self, a: &Args, cx: &ModuleCtx<'_>) -> Result<Plan<Write>, ModuleError> {
        let path = cx.expand_path(&a.config_path).await?;
        let (exists, file, default) = Self::read(cx, &path).await?;
        let stored = |config: &Json| {
            config
                .get("auths")
                .and_then(|m| m.get(&a.registry_url))
                .filter(|e| e.as_object().is_some_and(|o| !o.is_empty()))
                .cloned()
        };
        let unsupported = |config: &Json| {
            helper(config, &a.registry_url).map(|h| {
                Outcome::failed(format!(
                    "the Docker configuration names the credential helper `{h}` for {}: prov's docker_login keeps credentials only in the file",
                    a.registry_url
                ))
            })
        };
        if a.state == "absent" {
            if let Some(o) = unsupported(&file) {
                return Ok(Plan::Ok(o));
            }
            if stored(&file).is_none() {
                return Ok(Plan::Ok(result(Map::new())));
            }
            let text = with_entry(&file, &a.registry_url, None).map_err(ModuleError::Failed)?;
            let w = Write { path, text, login_result: Map::new() };
            let ch = Change::new(w, Action::Delete, "docker login", a.registry_url.clone());
            return Ok(Plan::Change(ch.with_data("login_result", super::json_value(json!({})))));
        }
        let user = a.username.clone().unwrap_or_default();
        let pass = a.password.clone().unwrap_or_default();
        let known = if exists { &file } else { &default };
        if let Some(o) = unsupported(known) {
            return Ok(Plan::Ok(o));
        }
        let found = resolve(known, &a.registry_url)
            .filter(|c| c.get("username").and_then(|u| u.as_str()) == Some(user.as_str()) && !a.reauthorize);
        let mut answer = match found {
            Some(c) => c,
            None => or_fail!(Self::login(a, cx).await, Plan::Ok),
        };
        if let Some(p) = answer.get("password").cloned() {
            if !a.reauthorize && p.as_str() != Some(pass.as_str()) {
                answer = or_fail!(Self::login(a, cx).await, Plan::Ok);
            }
            answer.remove("password");
        }
        if let Some(o) = unsupported(&file) {
            return Ok(Plan::Ok(o));
        }
        let current = stored(&file).and_then(|e| decode(&e)).unwrap_or_default();
        if current == (user.clone(), pass.clone()) && !a.reauthorize {
            return Ok(Plan::Ok(result(answer)));
        }
        let text = with_entry(&file, &a.registry_url, Some((&user, &pass))).map_err(ModuleError::Failed)?;
        let shown = super::json_value(Json::Object(answer.clone()));
        let w = Write { path, text, login_result: answer };
        let ch = Change::new(w, Action::Modify, "docker login", a.registry_url.clone());
        Ok(Plan::Change(ch.with_data("login_result", shown)))
    }

    async fn apply(&self, _: &Args, w: Write, cx: &ModuleCtx<'_>) -> Result<Outcome, ModuleError> {
        or_fail!(rewrite_file_as(cx, &w.path, |_| w.text.clone(), Some(0o600)).await);
        Ok(Outcome { changed: true, ..result(w.login_result) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registries_are_matched_by_host_as_community_docker_does() {
        let cfg = json!({"auths": {"https://r.example:5000/v2/": {"auth": "dTpw"}, "t": {"identitytoken": "x"}}});
        let c = resolve(&cfg, "r.example:5000").expect("found by host");
        assert_eq!(c.get("username"), Some(&json!("u")));
        assert_eq!(c.get("serveraddress"), Some(&json!("https://r.example:5000/v2/")));
        assert_eq!(resolve(&cfg, "t").map(Json::Object), Some(json!({"IdentityToken": "x"})));
        assert_eq!(index_name("https://index.docker.io/v1/"), "docker.io");
        assert!(resolve(&cfg, "other").is_none());
    }

    #[test]
    fn the_file_is_written_as_pythons_json_dumps_writes_it() {
        let cfg = json!({"other": 1, "auths": {}});
        let text = with_entry(&cfg, "127.0.0.1:5055", Some(("tester", "s3cret"))).expect("json");
        // ansible-core 2.19 with community.docker 4 wrote these bytes.
        assert_eq!(
            text,
            "{\n    \"auths\": {\n        \"127.0.0.1:5055\": {\n            \"auth\": \"dGVzdGVyOnMzY3JldA==\"\n        }\n    },\n    \"other\": 1\n}"
        );
        assert_eq!(with_entry(&json!({}), "x", None).expect("json"), "{\n    \"auths\": {}\n}");
    }
}
