//! Docker and Docker Swarm: swarm membership, nodes, images, services and stacks.
//!
//! These modules drive the `docker` CLI on the target (no Python, no Docker SDK): each reads the
//! state with one `docker ... --format '{{json .}}'`-style command and changes it with the
//! matching `docker` subcommand. Names and arguments follow Ansible's `community.docker`
//! collection, so `community.docker.docker_swarm:` works unchanged.

pub mod api;
pub mod cli;
pub mod docker_container;
pub mod docker_container_info;
pub mod docker_host_info;
pub mod docker_image;
pub mod docker_image_info;
pub mod docker_image_load;
pub mod docker_login;
pub mod docker_network;
pub mod docker_network_info;
pub mod docker_node;
pub mod docker_node_info;
pub mod docker_prune;
pub mod docker_stack;
pub mod docker_swarm;
pub mod docker_swarm_info;
pub mod docker_swarm_service;
pub mod docker_swarm_service_info;
pub mod docker_volume;
pub mod docker_volume_info;
pub(crate) mod lookup;
#[cfg(test)]
mod testconn;

use api::quote;
use prov_core::connection::ExecOutput;
use prov_core::module::{ModuleCtx, ModuleError, Outcome};
use serde::Deserialize;
use serde_json::{Map, Value as Json};
use std::collections::BTreeMap;

/// Implements `Module` for a community.docker info module whose file defines `Args` and
/// `async fn read(&Args, &ModuleCtx) -> Result<Outcome, ModuleError>`: it reads in every mode
/// (check mode included) and has nothing to apply.
macro_rules! info_module {
    ($ty:ident, $name:literal) => {
        #[async_trait::async_trait]
        impl prov_core::module::Module for $ty {
            const NAME: &'static str = $name;
            const COLLECTIONS: &'static [&'static str] = &["community.docker", "ansible.builtin"];
            type Args = Args;
            type Plan = ();

            async fn plan(
                &self,
                a: &Args,
                cx: &prov_core::module::ModuleCtx<'_>,
            ) -> Result<prov_core::module::Plan<()>, prov_core::module::ModuleError> {
                Ok(prov_core::module::Plan::Ok(read(a, cx).await?))
            }

            async fn apply(
                &self,
                _: &Args,
                _: (),
                _: &prov_core::module::ModuleCtx<'_>,
            ) -> Result<prov_core::module::Outcome, prov_core::module::ModuleError> {
                Ok(prov_core::module::Outcome::ok())
            }
        }
    };
}
pub(crate) use info_module;

/// Exit status of `sh` when a command is not found.
const NOT_FOUND: i32 = 127;

/// The failure for a `docker` command that exited non-zero: "Docker is not installed" for a
/// missing CLI, otherwise `what` with the command's stderr (or stdout when stderr is empty).
pub(crate) fn docker_error(what: &str, out: &ExecOutput) -> String {
    if out.rc == NOT_FOUND {
        return format!("{what} failed: Docker is not installed on the host (docker: command not found)");
    }
    let err = out.stderr_str();
    let stdout = out.stdout_str();
    let mut detail = if err.trim().is_empty() { stdout.trim().to_string() } else { err.trim().to_string() };
    // `docker info --format` without a daemon only says this.
    if detail.contains("nil pointer") && !detail.contains("Cannot connect") {
        detail.push_str(" (is the Docker daemon running?)");
    }
    if detail.is_empty() {
        format!("{what} failed (exit status {})", out.rc)
    } else {
        format!("{what} failed (exit status {}): {detail}", out.rc)
    }
}

/// Runs a read-only `docker` command that must succeed; a non-zero exit is a task failure.
pub(crate) async fn docker_probe(cx: &ModuleCtx<'_>, cmd: String, what: &str) -> Result<ExecOutput, ModuleError> {
    let out = cx.exec(cmd).await?;
    if out.rc != 0 {
        return Err(ModuleError::Failed(docker_error(what, &out)));
    }
    Ok(out)
}

/// Runs a read-only `docker` command printing JSON (`--format '{{json .}}'`) and parses it.
pub(crate) async fn docker_json(cx: &ModuleCtx<'_>, cmd: String, what: &str) -> Result<serde_json::Value, ModuleError> {
    let out = docker_probe(cx, cmd, what).await?;
    let text = out.stdout_str();
    serde_json::from_str(text.trim())
        .map_err(|e| ModuleError::Failed(format!("{what}: unexpected output from docker ({e}): {}", text.trim())))
}

/// Runs a `docker` command that changes the host: `Ok(None)` on success, else a failed outcome
/// carrying the command's rc/stdout/stderr.
pub(crate) async fn docker_change(
    cx: &ModuleCtx<'_>,
    cmd: String,
    what: &str,
) -> Result<Result<ExecOutput, Outcome>, ModuleError> {
    let out = cx.exec(cmd).await?;
    if out.rc != 0 {
        return Ok(Err(Outcome::failed(docker_error(what, &out)).with_exec(&out)));
    }
    Ok(Ok(out))
}

/// Labels as community.docker sends them (`sanitize_labels`): text, numbers written out, null
/// as `None`; booleans and floats refused with its message.
pub(crate) fn sanitize_labels(
    labels: &serde_json::Map<String, serde_json::Value>,
) -> Result<serde_json::Map<String, serde_json::Value>, String> {
    use serde_json::Value as J;
    let mut out = serde_json::Map::new();
    for (k, v) in labels {
        let text = match v {
            J::String(s) => s.clone(),
            J::Number(n) if n.is_i64() || n.is_u64() => n.to_string(),
            J::Null => "None".into(),
            J::Bool(_) | J::Number(_) => {
                let shown = match v {
                    J::Bool(true) => "True".to_string(),
                    J::Bool(false) => "False".to_string(),
                    other => other.to_string(),
                };
                return Err(format!(
                    "The value {shown} for '{k}' of labels is not a string or something than can be safely converted to a string!"
                ));
            }
            other => other.to_string(),
        };
        out.insert(k.clone(), J::from(text));
    }
    Ok(out)
}

/// `ipaddress.ip_address(x).compressed` (community.docker's `normalize_ip_address`), or `x`
/// when it is no address.
pub(crate) fn norm_address(s: &str) -> String {
    s.parse::<std::net::IpAddr>().map(|a| a.to_string()).unwrap_or_else(|_| s.to_string())
}

/// `LooseVersion(a) < LooseVersion(b)` for API versions (`1.41` < `1.47`).
pub(crate) fn version_lt(a: &str, b: &str) -> bool {
    let parts = |s: &str| s.split('.').map(|p| p.parse::<u64>().unwrap_or(0)).collect::<Vec<_>>();
    parts(a) < parts(b)
}

/// A value as Python's `str` writes it, with booleans as the API wants them.
pub(crate) fn py_str(v: &Json) -> String {
    match v {
        Json::Bool(true) => "true".into(),
        Json::Bool(false) => "false".into(),
        Json::Null => "None".into(),
        Json::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A value as Python's `str()` writes it (`to_text`): booleans `True`/`False`, null `None`.
pub(crate) fn py_str_python(v: &Json) -> String {
    match v {
        Json::Bool(true) => "True".into(),
        Json::Bool(false) => "False".into(),
        other => py_str(other),
    }
}

/// The `filters` query value community.docker sends (`clean_dict_booleans_for_docker_api`,
/// then `convert_filters`): JSON of lists of strings, as Python's `json.dumps` spaces it,
/// percent-encoded as a query value (`quote_plus`).
pub(crate) fn filters_query(filters: &Option<Map<String, Json>>) -> String {
    let mut parts = Vec::new();
    for (k, v) in filters.iter().flatten() {
        let values: Vec<String> = match v {
            Json::Array(items) => items.iter().map(py_str).collect(),
            other => vec![py_str(other)],
        };
        let list: Vec<String> = values.iter().map(|s| Json::from(s.as_str()).to_string()).collect();
        parts.push(format!("{}: [{}]", Json::from(k.as_str()), list.join(", ")));
    }
    let json = format!("{{{}}}", parts.join(", "));
    quote(&json, " ").replace(' ', "+")
}

/// A JSON value as a template value (for registered data).
pub(crate) fn json_value(v: serde_json::Value) -> minijinja::Value {
    minijinja::Value::from(minijinja::value::Serde(v))
}

/// Deserializes labels as community.docker's `sanitize_labels` reads them: text, integers
/// written out, null as `None`; booleans and floats refused with its message.
pub(crate) fn string_map<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<BTreeMap<String, String>>, D::Error> {
    let Some(m) = Option::<serde_json::Map<String, serde_json::Value>>::deserialize(d)? else { return Ok(None) };
    let m = sanitize_labels(&m).map_err(serde::de::Error::custom)?;
    Ok(Some(m.into_iter().map(|(k, v)| (k, v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string()))).collect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// community.docker's sanitize_labels (docker_node's `labels`): `yes` and `1.5` are refused.
    #[test]
    fn labels_are_read_as_sanitize_labels_reads_them() {
        #[derive(serde::Deserialize)]
        struct A {
            #[serde(deserialize_with = "string_map")]
            labels: Option<BTreeMap<String, String>>,
        }
        let read =
            |v: serde_json::Value| serde_json::from_value::<A>(serde_json::json!({ "labels": v })).map(|a| a.labels);
        let ok = read(serde_json::json!({"a": "x", "n": 3})).expect("labels").expect("some");
        assert_eq!((ok["a"].as_str(), ok["n"].as_str()), ("x", "3"));
        for bad in [serde_json::json!({"b": true}), serde_json::json!({"f": 1.5})] {
            let e = read(bad).err().map(|e| e.to_string()).unwrap_or_default();
            assert!(e.contains("is not a string or something than can be safely converted"), "{e}");
        }
    }

    #[test]
    fn errors_name_the_cause() {
        let out = ExecOutput { rc: 127, stdout: vec![], stderr: b"sh: 1: docker: not found\n".to_vec() };
        assert!(docker_error("reading swarm state", &out).contains("Docker is not installed"));
        let out = ExecOutput { rc: 1, stdout: vec![], stderr: b"Error: No such node: x\n".to_vec() };
        assert_eq!(
            docker_error("inspecting node x", &out),
            "inspecting node x failed (exit status 1): Error: No such node: x"
        );
        let out = ExecOutput { rc: 1, stdout: vec![], stderr: vec![] };
        assert_eq!(docker_error("x", &out), "x failed (exit status 1)");
    }
}
