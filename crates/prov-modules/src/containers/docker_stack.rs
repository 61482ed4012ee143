//! `docker_stack`: deploys or removes a swarm stack from compose files with the docker CLI
//! (like `community.docker.docker_stack`). Runs on a swarm manager; the target needs only `sh`
//! and `docker`.
//!
//! Arguments:
//! - `name` (required): stack name (services are named `<name>_<service>`).
//! - `compose`: list of compose files ON THE TARGET (paths), or inline mappings; later ones
//!   override earlier ones as with `docker stack deploy -c a -c b`. Relative paths inside the
//!   compose files (`env_file`, `configs: file:`) are relative to the first file's directory.
//!   A file without `version:` is deployed as `version: "3.8"`.
//! - `state`: `present` (default) or `absent` (`docker stack rm`, then wait until its services
//!   are gone, at most `wait_timeout` seconds, default 120). After a deploy it waits (`wait`,
//!   default true, same timeout) until every service runs its desired tasks and no rolling
//!   update is in progress; a paused or rolled-back update fails the task.
//! - `prune` (default false): remove services no longer in the compose files.
//! - `resolve_image`: `always`, `changed` or `never` (default: there is no registry).
//! - `with_registry_auth` (default false): send registry credentials to the nodes.
//! - `keep_scaled_replicas` (default true): keep the replica counts set with
//!   `docker service scale` (or `docker_swarm_service`) since the last deploy, see below.
//!
//! Idempotence: before deploying, the stack's services are read (`docker stack services`, one
//! `docker service inspect`) and compared with the compose files: image, mode, replicas,
//! environment, ports, deploy labels, command and entrypoint, and a hash of each service's
//! whole definition (kept in the deploy label `prov.compose-hash`, so any other change in the
//! file is seen too). When nothing differs, nothing is deployed (`changed: false`).
//! Not compared: the content of `env_file`s and of config/secret files, values that use `${VAR}`
//! interpolation (their change in the file is still seen through the hash).
//!
//! Keeping manual scaling: `docker stack deploy` resets every service to the file's replicas
//! (1 when unset). Each deployed replicated service gets the deploy label
//! `prov.compose-replicas=<N>`: what the FILE said. On the next run, when the file still says
//! the same but the service runs another count (someone scaled it), that count is kept ("web:
//! keeps 5 replicas set by scale (file says 2)"); when the file's count changed, the file wins
//! ("web: file changes replicas 2 → 4"). With `keep_scaled_replicas: false` the file always wins.
//! A count written with interpolation (`replicas: ${N}`) is left to docker.
//! The decisions are in the message, the diff and `stack_diff`.
//!
//! Registers `services` (swarm service names of the stack, as deployed), `stack_diff`
//! (per service: the list of differences found), and the `docker stack deploy` output fields.
//!
//! ```yaml
//! - docker_stack:
//!     name: shop
//!     compose:
//!       - /srv/shop/docker-compose.yml
//!       - version: "3.8"
//!         services:
//!           web:
//!             deploy:
//!               endpoint_mode: dnsrr
//!     prune: true
//! - docker_stack: { name: old-shop, state: absent }
//! ```

use super::cli::{command_failed, json_lines, same_image, shell_split};
use crate::util::probe_failed;
use async_trait::async_trait;
use indexmap::IndexMap;
use minijinja::Value;
use prov_core::args::lenient_bool;
use prov_core::cmd::{Cmd, Sh};
use prov_core::module::{Action, Change, Module, ModuleCtx, ModuleError, Outcome, Plan};
use prov_core::source::FileId;
use prov_core::yaml::{self, Node, NodeKind};
use serde::Deserialize;
use serde_json::{Map, Value as Json};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::time::{Duration, Instant};

/// Deploy label: the replicas the compose file said at the last deploy.
pub const REPLICAS_LABEL: &str = "prov.compose-replicas";
/// Deploy label: hash of the service's definition in the compose file.
pub const HASH_LABEL: &str = "prov.compose-hash";

fn yes() -> bool {
    true
}

fn default_true() -> bool {
    true
}

fn default_wait_timeout() -> u64 {
    120
}

/// Arguments of `docker_stack`.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Args {
    /// Stack name.
    pub name: String,
    /// Compose files on the target, or inline mappings.
    #[serde(default)]
    pub compose: Option<ComposeArg>,
    /// `present` or `absent`.
    #[serde(default)]
    pub state: Option<String>,
    /// Remove services that are no longer in the compose files.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub prune: bool,
    /// `always`, `changed` or `never`.
    #[serde(default)]
    pub resolve_image: Option<String>,
    /// Send registry credentials to the nodes.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub with_registry_auth: bool,
    /// Keep replica counts changed by scaling since the last deploy.
    #[serde(default = "yes", deserialize_with = "lenient_bool")]
    pub keep_scaled_replicas: bool,
    /// Seconds to wait for the services of a removed stack to go.
    #[serde(default = "default_wait_timeout")]
    pub wait_timeout: u64,
    /// After a deploy, wait until every service of the stack runs its desired tasks and no
    /// rolling update is in progress (default true; at most `wait_timeout` seconds).
    #[serde(default = "default_true", deserialize_with = "prov_core::args::lenient_bool")]
    pub wait: bool,
}

/// `compose:`: one item or a list.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum ComposeArg {
    /// A list of files / mappings.
    Many(Vec<ComposeItem>),
    /// One file / mapping.
    One(ComposeItem),
}

/// A compose file path on the target, or an inline compose mapping.
#[derive(Debug, Deserialize, Clone)]
#[serde(untagged)]
pub enum ComposeItem {
    /// Path on the target.
    Path(String),
    /// Inline compose document.
    Inline(Map<String, Json>),
}

impl ComposeArg {
    fn items(&self) -> Vec<ComposeItem> {
        match self {
            ComposeArg::Many(v) => v.clone(),
            ComposeArg::One(i) => vec![i.clone()],
        }
    }
}

/// The `docker_stack` module.
#[derive(Debug, Default)]
pub struct DockerStack;

/// What apply does.
pub struct StackPlan {
    kind: StackStep,
    /// Swarm service names after the change.
    services: Vec<String>,
    /// Differences, per service.
    stack_diff: IndexMap<String, Vec<String>>,
    /// Replica decisions and other notes.
    notes: Vec<String>,
}

enum StackStep {
    /// `docker stack rm`, then wait.
    Remove,
    /// `docker stack deploy` of these documents (JSON) from this directory.
    Deploy { docs: Vec<String>, cwd: Option<String> },
}

/// One compose document read and checked.
struct Doc {
    json: Json,
    /// Where it came from, for messages.
    origin: String,
    /// Directory of the file (relative paths in it).
    dir: Option<String>,
}

fn one_of(what: &str, v: &Option<String>, allowed: &[&str]) -> Result<(), String> {
    match v {
        Some(s) if !allowed.contains(&s.as_str()) => {
            Err(format!("{what} must be one of {}, not {s:?}", allowed.join(", ")))
        }
        _ => Ok(()),
    }
}

/// A YAML node as JSON.
fn node_json(n: &Node) -> Json {
    match &n.kind {
        NodeKind::Null => Json::Null,
        NodeKind::Bool(b) => Json::Bool(*b),
        NodeKind::Int(i) => Json::from(*i),
        NodeKind::Float(f) => serde_json::Number::from_f64(*f).map(Json::Number).unwrap_or(Json::Null),
        NodeKind::Str(s) | NodeKind::Unsafe(s) => Json::String(s.clone()),
        NodeKind::Seq(items) => Json::Array(items.iter().map(node_json).collect()),
        NodeKind::Map(entries) => Json::Object(
            entries
                .iter()
                .map(|(k, v)| {
                    let key = match &k.kind {
                        NodeKind::Bool(b) => b.to_string(),
                        _ => k.scalar_text().unwrap_or_default(),
                    };
                    (key, node_json(v))
                })
                .collect(),
        ),
    }
}

/// Checks the shape of a compose document, with the place of the problem when it is a file.
fn check_doc(root: &Node, origin: &str, lines: bool) -> Result<(), String> {
    let at = |n: &Node| {
        if lines && n.span.line > 0 {
            format!("{origin}:{}:{}", n.span.line, n.span.col)
        } else {
            origin.to_string()
        }
    };
    if root.as_map().is_none() {
        return Err(format!("{}: a compose file must be a mapping, not a {}", at(root), root.type_name()));
    }
    let Some(services) = root.get("services") else {
        return Ok(());
    };
    let Some(entries) = services.as_map() else {
        return Err(format!("{}: `services` must be a mapping, not a {}", at(services), services.type_name()));
    };
    for (k, svc) in entries {
        let name = k.scalar_text().unwrap_or_default();
        if svc.as_map().is_none() {
            return Err(format!("{}: service {name} must be a mapping, not a {}", at(svc), svc.type_name()));
        }
        if let Some(img) = svc.get("image") {
            if img.as_str().is_none() {
                return Err(format!("{}: service {name}: `image` must be a string", at(img)));
            }
        }
        if let Some(deploy) = svc.get("deploy") {
            if deploy.as_map().is_none() {
                return Err(format!("{}: service {name}: `deploy` must be a mapping", at(deploy)));
            }
            if let Some(r) = deploy.get("replicas") {
                let interpolated = r.as_str().is_some_and(has_var);
                if !interpolated && !matches!(r.kind, NodeKind::Int(i) if i >= 0) {
                    return Err(format!(
                        "{}: service {name}: `deploy.replicas` must be a whole number, not {}",
                        at(r),
                        r.scalar_text().unwrap_or_else(|| r.type_name().to_string())
                    ));
                }
            }
            if let Some(m) = deploy.get("mode") {
                if !matches!(m.as_str(), Some("replicated" | "global")) {
                    return Err(format!("{}: service {name}: `deploy.mode` must be replicated or global", at(m)));
                }
            }
        }
    }
    Ok(())
}

/// Parses a compose text (from `origin`) into a checked document.
fn parse_compose(text: &str, origin: &str, lines: bool) -> Result<Json, String> {
    let (node, _warnings) = yaml::parse_one_compose(FileId(0), text).map_err(|d| {
        if d.span.line > 0 {
            format!("{origin}:{}:{}: {}", d.span.line, d.span.col, d.message)
        } else {
            format!("{origin}: {}", d.message)
        }
    })?;
    check_doc(&node, origin, lines)?;
    Ok(node_json(&node))
}

/// Reads the compose documents (`Err`: a message for a failed task).
async fn load_docs(cx: &ModuleCtx<'_>, items: &[ComposeItem]) -> Result<Result<Vec<Doc>, String>, ModuleError> {
    let mut docs = Vec::new();
    for (i, item) in items.iter().enumerate() {
        match item {
            ComposeItem::Path(path) => {
                let Some(data) = cx.get(path).await? else {
                    return Ok(Err(format!("compose file {path} not found on {}", cx.host)));
                };
                let text = match String::from_utf8(data) {
                    Ok(t) => t,
                    Err(_) => return Ok(Err(format!("compose file {path} is not UTF-8 text"))),
                };
                let origin = format!("compose file {path}");
                match parse_compose(&text, &origin, true) {
                    Ok(json) => {
                        let dir = match path.rfind('/') {
                            Some(0) => Some("/".to_string()),
                            Some(i) => Some(path[..i].to_string()),
                            None => None,
                        };
                        docs.push(Doc { json, origin, dir });
                    }
                    Err(e) => return Ok(Err(e)),
                }
            }
            ComposeItem::Inline(map) => {
                let origin = format!("compose[{i}] (inline)");
                // The same checks as for files (no lines to show).
                let text = serde_json::to_string(map).map_err(|e| ModuleError::Failed(e.to_string()))?;
                match parse_compose(&text, &origin, false) {
                    Ok(_) => docs.push(Doc { json: Json::Object(map.clone()), origin, dir: None }),
                    Err(e) => return Ok(Err(e)),
                }
            }
        }
    }
    if docs.is_empty() {
        return Ok(Err("compose is empty".into()));
    }
    Ok(Ok(docs))
}

/// `environment:` / `labels:` as a mapping (a list of `K=V` is converted; `K` alone maps to null).
fn kv_object(v: &Json) -> Map<String, Json> {
    match v {
        Json::Object(m) => m.clone(),
        Json::Array(a) => a
            .iter()
            .filter_map(Json::as_str)
            .map(|e| match e.split_once('=') {
                Some((k, v)) => (k.to_string(), Json::String(v.to_string())),
                None => (e.to_string(), Json::Null),
            })
            .collect(),
        _ => Map::new(),
    }
}

/// Rewrites the list forms that docker merges as mappings.
fn normalize_service(svc: &mut Json) {
    if let Some(e) = svc.get("environment").map(kv_object) {
        svc["environment"] = Json::Object(e);
    }
    if let Some(d) = svc.get_mut("deploy").and_then(Json::as_object_mut) {
        if let Some(l) = d.get("labels").map(kv_object) {
            d.insert("labels".into(), Json::Object(l));
        }
    }
}

fn deep_merge(base: &mut Json, over: &Json, path: &[&str]) {
    match (base, over) {
        (Json::Object(b), Json::Object(o)) => {
            for (k, v) in o {
                let is_ports = path.len() == 2 && path[0] == "services" && k == "ports";
                match b.get_mut(k) {
                    Some(Json::Array(existing)) if is_ports => {
                        if let Some(new) = v.as_array() {
                            for p in new {
                                if !existing.contains(p) {
                                    existing.push(p.clone());
                                }
                            }
                        }
                    }
                    Some(slot) if slot.is_object() && v.is_object() => {
                        let mut p = path.to_vec();
                        p.push(k);
                        deep_merge(slot, v, &p);
                    }
                    _ => {
                        b.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (b, o) => *b = o.clone(),
    }
}

/// The documents merged the way `docker stack deploy -c a -c b` merges them (closely enough to
/// compare).
fn merged(docs: &[Doc]) -> Json {
    let mut out = Json::Object(Map::new());
    for d in docs {
        let mut j = d.json.clone();
        if let Some(svcs) = j.get_mut("services").and_then(Json::as_object_mut) {
            for s in svcs.values_mut() {
                normalize_service(s);
            }
        }
        deep_merge(&mut out, &j, &[]);
    }
    out
}

/// JSON with sorted keys (a stable text to hash).
fn canonical(v: &Json) -> Json {
    match v {
        Json::Object(m) => {
            let sorted: BTreeMap<&String, Json> = m.iter().map(|(k, v)| (k, canonical(v))).collect();
            Json::Object(sorted.into_iter().map(|(k, v)| (k.clone(), v)).collect())
        }
        Json::Array(a) => Json::Array(a.iter().map(canonical).collect()),
        other => other.clone(),
    }
}

/// Hash of a service's definition without its replica count, and of the stack-wide sections.
fn service_hash(svc: &Json, all: &Json) -> String {
    let mut s = svc.clone();
    if let Some(d) = s.get_mut("deploy").and_then(Json::as_object_mut) {
        if d.get("replicas").is_some_and(Json::is_u64) {
            d.remove("replicas");
        }
        if let Some(l) = d.get_mut("labels").and_then(Json::as_object_mut) {
            l.remove(REPLICAS_LABEL);
            l.remove(HASH_LABEL);
        }
    }
    let mut input = Map::new();
    input.insert("service".into(), s);
    for k in ["networks", "volumes", "configs", "secrets"] {
        if let Some(v) = all.get(k) {
            input.insert(k.into(), v.clone());
        }
    }
    let text = canonical(&Json::Object(input)).to_string();
    let digest = Sha256::digest(text.as_bytes());
    digest.iter().take(8).fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// A JSON scalar as text (`None` for null and collections).
fn scalar(v: &Json) -> Option<String> {
    match v {
        Json::String(s) => Some(s.clone()),
        Json::Number(n) => Some(n.to_string()),
        Json::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A published port as compared.
type Port = (u64, u64, String, String);

fn show_port(p: &Port) -> String {
    if p.0 == 0 {
        format!("{}/{} {}", p.1, p.2, p.3)
    } else {
        format!("{}:{}/{} {}", p.0, p.1, p.2, p.3)
    }
}

fn port_range(s: &str) -> Option<Vec<u64>> {
    match s.split_once('-') {
        Some((a, b)) => {
            let (a, b): (u64, u64) = (a.parse().ok()?, b.parse().ok()?);
            (a <= b && b - a < 65536).then(|| (a..=b).collect())
        }
        None => Some(vec![s.parse().ok()?]),
    }
}

/// Compose `ports:` (short and long syntax) as the engine stores them; `None` when a value is
/// not understood (then ports are not compared).
fn compose_ports(v: &Json) -> Option<Vec<Port>> {
    let mut out = Vec::new();
    for p in v.as_array()? {
        match p {
            Json::Object(m) => {
                let num = |k: &str| m.get(k).and_then(scalar).and_then(|s| s.parse::<u64>().ok());
                out.push((
                    num("published").unwrap_or(0),
                    num("target")?,
                    m.get("protocol").and_then(Json::as_str).unwrap_or("tcp").to_string(),
                    m.get("mode").and_then(Json::as_str).unwrap_or("ingress").to_string(),
                ));
            }
            other => {
                let s = scalar(other)?;
                let (spec, proto) = s.split_once('/').unwrap_or((&s, "tcp"));
                let parts: Vec<&str> = spec.rsplitn(3, ':').collect();
                let (published, target) = match parts.as_slice() {
                    [t] => (None, *t),
                    [t, p] | [t, p, _] => (Some(*p), *t),
                    _ => return None,
                };
                let targets = port_range(target)?;
                let pubs = match published {
                    Some(p) if !p.is_empty() => port_range(p)?,
                    _ => vec![0; targets.len()],
                };
                if pubs.len() != targets.len() {
                    return None;
                }
                for (p, t) in pubs.into_iter().zip(targets) {
                    out.push((p, t, proto.to_string(), "ingress".to_string()));
                }
            }
        }
    }
    out.sort();
    out.dedup();
    Some(out)
}

fn words(v: Option<&Json>) -> Option<Vec<String>> {
    match v {
        None | Some(Json::Null) => Some(Vec::new()),
        Some(Json::String(s)) => shell_split(s).ok(),
        Some(Json::Array(a)) => a.iter().map(scalar).collect(),
        _ => None,
    }
}

fn has_var(s: &str) -> bool {
    s.contains('$')
}

fn str_list(j: Option<&Json>) -> Vec<String> {
    j.and_then(Json::as_array)
        .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
        .unwrap_or_default()
}

/// The replica count to deploy for one service, and the note explaining it.
#[derive(Debug, PartialEq)]
struct Replicas {
    deploy: u64,
    note: Option<String>,
}

/// The keep-scaled-replicas decision.
fn decide_replicas(short: &str, file: u64, current: Option<u64>, label: Option<u64>, keep_scaled: bool) -> Replicas {
    let Some(cur) = current else {
        return Replicas { deploy: file, note: None };
    };
    match label {
        Some(l) if l == file && cur != file && keep_scaled => Replicas {
            deploy: cur,
            note: Some(format!("{short}: keeps {cur} replicas set by scale (file says {file})")),
        },
        Some(l) if l == file && cur != file => Replicas {
            deploy: file,
            note: Some(format!("{short}: replicas {cur} → {file} (scaled by hand; keep_scaled_replicas is false)")),
        },
        Some(l) if l != file => {
            let scaled = if cur != l { format!(" (was scaled to {cur})") } else { String::new() };
            Replicas { deploy: file, note: Some(format!("{short}: file changes replicas {l} → {file}{scaled}")) }
        }
        None if cur != file => Replicas {
            deploy: file,
            note: Some(format!("{short}: replicas {cur} → {file} (file; not deployed by prov before)")),
        },
        _ => Replicas { deploy: file, note: None },
    }
}

/// What was found for one compose service.
struct ServiceCheck {
    /// Differences (`key: old → new`), empty when in state.
    changes: Vec<String>,
    /// Replica decision note.
    note: Option<String>,
    /// Deploy overrides for this service (replicas, labels).
    over: Json,
    before: String,
    after: String,
}

fn check_service(short: &str, svc: &Json, all: &Json, current: Option<&Json>, keep_scaled: bool) -> ServiceCheck {
    let empty = Json::Null;
    let deploy = svc.get("deploy").unwrap_or(&empty);
    let global = deploy.get("mode").and_then(Json::as_str) == Some("global");
    let file_replicas = deploy.get("replicas").and_then(Json::as_u64).unwrap_or(1);
    // `replicas: ${N}` is only known to docker: such a service's count is left to the file.
    let managed = !global && deploy.get("replicas").is_none_or(Json::is_u64);
    let hash = service_hash(svc, all);
    let spec = current.and_then(|c| c.get("Spec")).unwrap_or(&empty);
    let cs = spec.pointer("/TaskTemplate/ContainerSpec").unwrap_or(&empty);
    let cur_labels: BTreeMap<String, String> = spec
        .get("Labels")
        .and_then(Json::as_object)
        .map(|m| {
            m.iter()
                .filter(|(k, _)| !k.starts_with("com.docker.stack."))
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect()
        })
        .unwrap_or_default();
    let cur_replicas = spec.pointer("/Mode/Replicated/Replicas").and_then(Json::as_u64);
    let label_replicas = cur_labels.get(REPLICAS_LABEL).and_then(|s| s.parse::<u64>().ok());

    let mut over = Map::new();
    let mut labels: BTreeMap<String, String> = deploy
        .get("labels")
        .map(kv_object)
        .unwrap_or_default()
        .iter()
        .map(|(k, v)| (k.clone(), scalar(v).unwrap_or_default()))
        .collect();
    labels.insert(HASH_LABEL.into(), hash.clone());
    let mut note = None;
    let mut deploy_replicas = None;
    if managed {
        let r = decide_replicas(short, file_replicas, cur_replicas, label_replicas, keep_scaled);
        labels.insert(REPLICAS_LABEL.into(), file_replicas.to_string());
        over.insert("replicas".into(), Json::from(r.deploy));
        deploy_replicas = Some(r.deploy);
        note = r.note;
    }
    let mut over_labels = Map::new();
    over_labels.insert(HASH_LABEL.into(), Json::String(hash.clone()));
    if managed {
        over_labels.insert(REPLICAS_LABEL.into(), Json::String(file_replicas.to_string()));
    }
    over.insert("labels".into(), Json::Object(over_labels));
    let over = Json::Object([("deploy".to_string(), Json::Object(over))].into_iter().collect());

    let image = svc.get("image").and_then(Json::as_str).unwrap_or_default().to_string();
    if current.is_none() {
        let mut after = format!("{short}:\n  image: {image}\n");
        match deploy_replicas {
            Some(n) => {
                let _ = writeln!(after, "  replicas: {n}");
            }
            None if global => after.push_str("  mode: global\n"),
            None => after.push_str("  replicas: (interpolated)\n"),
        }
        return ServiceCheck {
            changes: vec!["new service".into()],
            note,
            over,
            before: format!("{short}: absent\n"),
            after,
        };
    };
    let mut changes: Vec<(String, String, String)> = Vec::new();
    let mut push = |k: &str, b: String, a: String| changes.push((k.to_string(), b, a));

    let cur_image = cs.get("Image").and_then(Json::as_str).unwrap_or_default();
    if !has_var(&image) && !same_image(&image, cur_image) {
        push("image", cur_image.to_string(), image.clone());
    }
    let cur_global = spec.pointer("/Mode/Global").is_some();
    if cur_global != global {
        let m = |g: bool| if g { "global" } else { "replicated" }.to_string();
        push("mode", m(cur_global), m(global));
    }
    if let (Some(want), Some(have)) = (deploy_replicas, cur_replicas) {
        if want != have {
            push("replicas", have.to_string(), want.to_string());
        }
    }
    // Environment (not when env_file or interpolation make the values unknown here).
    let env = svc.get("environment").map(kv_object).unwrap_or_default();
    let env_known = svc.get("env_file").is_none()
        && env.values().all(|v| scalar(v).is_some_and(|s| !has_var(&s)))
        && env.keys().all(|k| !has_var(k));
    if env_known {
        let want: BTreeSet<String> =
            env.iter().map(|(k, v)| format!("{k}={}", scalar(v).unwrap_or_default())).collect();
        let have: BTreeSet<String> = str_list(cs.get("Env")).into_iter().collect();
        if want != have {
            let j = |s: &BTreeSet<String>| format!("[{}]", s.iter().cloned().collect::<Vec<_>>().join(", "));
            push("environment", j(&have), j(&want));
        }
    }
    if let Some(want) = svc.get("ports").map(compose_ports).unwrap_or(Some(Vec::new())) {
        let mut have: Vec<Port> = spec
            .pointer("/EndpointSpec/Ports")
            .and_then(Json::as_array)
            .map(|a| {
                a.iter()
                    .map(|p| {
                        (
                            p.get("PublishedPort").and_then(Json::as_u64).unwrap_or(0),
                            p.get("TargetPort").and_then(Json::as_u64).unwrap_or(0),
                            p.get("Protocol").and_then(Json::as_str).unwrap_or("tcp").to_string(),
                            p.get("PublishMode").and_then(Json::as_str).unwrap_or("ingress").to_string(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        have.sort();
        if have != want {
            let j = |s: &[Port]| format!("[{}]", s.iter().map(show_port).collect::<Vec<_>>().join(", "));
            push("ports", j(&have), j(&want));
        }
    }
    for (key, field, have) in [("command", "command", "Args"), ("entrypoint", "entrypoint", "Command")] {
        if let Some(want) = words(svc.get(field)) {
            let have = str_list(cs.get(have));
            if !want.iter().any(|w| has_var(w)) && want != have {
                push(key, format!("{have:?}"), format!("{want:?}"));
            }
        }
    }
    // Labels: the user's (interpolated ones skipped) and prov's; a changed hash is reported as such.
    let user_want: BTreeMap<&String, &String> =
        labels.iter().filter(|(k, _)| !k.starts_with("prov.compose-")).collect();
    let user_have: BTreeMap<&String, &String> =
        cur_labels.iter().filter(|(k, _)| !k.starts_with("prov.compose-")).collect();
    if user_want != user_have && !labels.values().any(|v| has_var(v)) {
        let j = |m: &BTreeMap<&String, &String>| {
            format!("{{{}}}", m.iter().map(|(k, v)| format!("{k}: {v}")).collect::<Vec<_>>().join(", "))
        };
        push("labels", j(&user_have), j(&user_want));
    }
    if cur_labels.get(HASH_LABEL) != Some(&hash) {
        let had = cur_labels.get(HASH_LABEL).cloned().unwrap_or_else(|| "(none)".into());
        push("definition", had, format!("{hash} (changed in the compose file)"));
    } else if managed && label_replicas != Some(file_replicas) {
        let had = label_replicas.map(|n| n.to_string()).unwrap_or_else(|| "(none)".into());
        push(REPLICAS_LABEL, had, file_replicas.to_string());
    }

    let (mut before, mut after) = (String::new(), String::new());
    if !changes.is_empty() {
        let _ = writeln!(before, "{short}:");
        let _ = writeln!(after, "{short}:");
        for (k, b, a) in &changes {
            let _ = writeln!(before, "  {k}: {b}");
            let _ = writeln!(after, "  {k}: {a}");
        }
    }
    ServiceCheck {
        changes: changes.iter().map(|(k, b, a)| format!("{k}: {b} → {a}")).collect(),
        note,
        over,
        before,
        after,
    }
}

/// The stack's services (`docker stack services`) and their specs (one `docker service inspect`).
async fn read_stack(cx: &ModuleCtx<'_>, name: &str) -> Result<IndexMap<String, Json>, ModuleError> {
    let services = Cmd::new("docker").flag("stack").flag("services").flag("--format").flag("'{{json .}}'");
    let out = cx.exec(services.operand(name).build()).await?;
    if out.rc != 0 {
        return Err(probe_failed(&format!("docker stack services {name}"), &out));
    }
    let mut names: Vec<String> = json_lines(&out)
        .map_err(ModuleError::Failed)?
        .iter()
        .filter_map(|l| l.get("Name").and_then(Json::as_str).map(str::to_string))
        .collect();
    names.sort();
    if names.is_empty() {
        return Ok(IndexMap::new());
    }
    let inspect = Cmd::new("docker").flag("service").flag("inspect").flag("--format").flag("'{{json .}}'");
    let out = cx.exec(inspect.operands(&names).build()).await?;
    if out.rc != 0 {
        return Err(probe_failed(&format!("docker service inspect of the services of stack {name}"), &out));
    }
    let specs = json_lines(&out).map_err(ModuleError::Failed)?;
    Ok(specs.into_iter().filter_map(|s| Some((s.pointer("/Spec/Name")?.as_str()?.to_string(), s))).collect())
}

/// The documents as deployed: JSON, with a `version` (docker 20.10 requires one).
fn deploy_docs(docs: &[Doc], overrides: Map<String, Json>) -> Vec<String> {
    let version = docs.iter().find_map(|d| d.json.get("version").and_then(scalar)).unwrap_or_else(|| "3.8".to_string());
    let mut out: Vec<String> = docs
        .iter()
        .map(|d| {
            let mut j = d.json.clone();
            if let Some(m) = j.as_object_mut() {
                let v = m.get("version").and_then(scalar).unwrap_or_else(|| version.clone());
                m.insert("version".into(), Json::String(v));
            }
            j.to_string()
        })
        .collect();
    let mut o = Map::new();
    o.insert("version".into(), Json::String(version));
    o.insert("services".into(), Json::Object(overrides));
    out.push(Json::Object(o).to_string());
    out
}

#[async_trait]
impl Module for DockerStack {
    const NAME: &'static str = "docker_stack";
    const COLLECTIONS: &'static [&'static str] = &["community.docker", "ansible.builtin"];
    type Args = Args;
    type Plan = StackPlan;

    fn check_args(a: &Args) -> Result<(), String> {
        one_of("state", &a.state, &["present", "absent"])?;
        one_of("resolve_image", &a.resolve_image, &["always", "changed", "never"])?;
        if a.name.is_empty() {
            return Err("name is empty".into());
        }
        if a.state.as_deref() != Some("absent") && a.compose.is_none() {
            return Err("compose is required with state: present".into());
        }
        Ok(())
    }

    async fn plan(&self, args: &Args, cx: &ModuleCtx<'_>) -> Result<Plan<StackPlan>, ModuleError> {
        let name = &args.name;
        if args.state.as_deref() == Some("absent") {
            let current = read_stack(cx, name).await?;
            if current.is_empty() {
                return Ok(Plan::Ok(Outcome::ok().with("services", Vec::<String>::new())));
            }
            let services: Vec<String> = current.keys().cloned().collect();
            let stack_diff: IndexMap<String, Vec<String>> =
                services.iter().map(|s| (s.clone(), vec!["removed".to_string()])).collect();
            let before: String = services.iter().map(|s| format!("{s}: present\n")).collect();
            let after: String = services.iter().map(|s| format!("{s}: absent\n")).collect();
            let plan = StackPlan { kind: StackStep::Remove, services, stack_diff, notes: Vec::new() };
            return Ok(Plan::Change(Change::new(plan, Action::Delete, "docker_stack", name.as_str()).with_diff(
                format!("docker stack {name}"),
                before,
                after,
            )));
        }
        let items = args.compose.as_ref().map(ComposeArg::items).unwrap_or_default();
        let docs = match load_docs(cx, &items).await? {
            Ok(d) => d,
            Err(msg) => return Ok(Plan::Ok(Outcome::failed(msg))),
        };
        let all = merged(&docs);
        let Some(svcs) = all.get("services").and_then(Json::as_object).filter(|m| !m.is_empty()) else {
            let origins: Vec<&str> = docs.iter().map(|d| d.origin.as_str()).collect();
            return Ok(Plan::Ok(Outcome::failed(format!("no services in {}", origins.join(", ")))));
        };
        for (short, svc) in svcs {
            if svc.get("image").and_then(Json::as_str).is_none() {
                return Ok(Plan::Ok(Outcome::failed(format!(
                    "service {short} has no image (docker stack deploy does not build images)"
                ))));
            }
        }
        let current = read_stack(cx, name).await?;
        let mut stack_diff: IndexMap<String, Vec<String>> = IndexMap::new();
        let mut notes = Vec::new();
        let mut overrides = Map::new();
        let (mut before, mut after) = (String::new(), String::new());
        let mut services = Vec::new();
        for (short, svc) in svcs {
            let full = format!("{name}_{short}");
            let c = check_service(short, svc, &all, current.get(&full), args.keep_scaled_replicas);
            if !c.changes.is_empty() {
                stack_diff.insert(short.clone(), c.changes);
                before.push_str(&c.before);
                after.push_str(&c.after);
            }
            if let Some(n) = c.note {
                notes.push(n);
            }
            overrides.insert(short.clone(), c.over);
            services.push(full);
        }
        for full in current.keys() {
            let short = full.strip_prefix(&format!("{name}_")).unwrap_or(full);
            if svcs.contains_key(short) {
                continue;
            }
            if args.prune {
                stack_diff.insert(short.to_string(), vec!["removed (prune)".into()]);
                let _ = writeln!(before, "{short}: present");
                let _ = writeln!(after, "{short}: absent (prune)");
            } else {
                services.push(full.clone());
            }
        }
        let diff_value = |d: &IndexMap<String, Vec<String>>| {
            Value::from_pairs(d.iter().map(|(k, v)| (k.clone(), Value::from(v.clone()))))
        };
        if stack_diff.is_empty() {
            let mut o = Outcome::ok().with("services", services).with("stack_diff", diff_value(&stack_diff));
            if !notes.is_empty() {
                o.msg = Some(notes.join("; "));
            }
            return Ok(Plan::Ok(o));
        }
        for n in &notes {
            let _ = writeln!(after, "# {n}");
        }
        let action = if current.is_empty() { Action::Create } else { Action::Modify };
        let cwd = docs.first().and_then(|d| d.dir.clone());
        let plan = StackPlan {
            kind: StackStep::Deploy { docs: deploy_docs(&docs, overrides), cwd },
            services,
            stack_diff,
            notes,
        };
        Ok(Plan::Change(Change::new(plan, action, "docker_stack", name.as_str()).with_diff(
            format!("docker stack {name}"),
            before,
            after,
        )))
    }

    async fn apply(&self, args: &Args, plan: StackPlan, cx: &ModuleCtx<'_>) -> Result<Outcome, ModuleError> {
        let name = &args.name;
        let diff = Value::from_pairs(plan.stack_diff.iter().map(|(k, v)| (k.clone(), Value::from(v.clone()))));
        match plan.kind {
            StackStep::Remove => {
                let out = cx.exec(Cmd::new("docker").flag("stack").flag("rm").operand(name).build()).await?;
                if out.rc != 0 {
                    return Ok(command_failed(&format!("docker stack rm {name}"), &out));
                }
                let mut o = Outcome { changed: true, ..Outcome::ok() }
                    .with_exec(&out)
                    .with("services", Vec::<String>::new())
                    .with("stack_diff", diff);
                let start = Instant::now();
                let timeout = Duration::from_secs(args.wait_timeout);
                let services = Cmd::new("docker").flag("stack").flag("services").flag("--format").flag("'{{.Name}}'");
                let cmd = services.operand(name).build();
                loop {
                    let left = cx.exec(cmd.clone()).await?;
                    let names: Vec<String> = left
                        .stdout_str()
                        .lines()
                        .map(str::trim)
                        .filter(|l| !l.is_empty())
                        .map(str::to_string)
                        .collect();
                    if names.is_empty() {
                        break;
                    }
                    let elapsed = start.elapsed();
                    if elapsed >= timeout {
                        o.failed = true;
                        o.msg = Some(format!(
                            "stack {name}: services still present after {} s: {}",
                            timeout.as_secs(),
                            names.join(", ")
                        ));
                        break;
                    }
                    tokio::time::sleep((timeout - elapsed).min(Duration::from_secs(1))).await;
                }
                Ok(o)
            }
            StackStep::Deploy { docs, cwd } => {
                let stamp = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos())
                    .unwrap_or_default();
                let safe: String = name.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect();
                let mut files = Vec::new();
                for (i, d) in docs.iter().enumerate().skip(1) {
                    let path = format!("/tmp/.prov-stack-{safe}-{stamp}-{i}.json");
                    cx.put(&path, d.as_bytes(), Some(0o600)).await?;
                    files.push(path);
                }
                let mut deploy = Cmd::new("docker").flag("stack").flag("deploy").flag("-c").flag("-");
                for f in &files {
                    deploy = deploy.opt("-c", f);
                }
                if args.prune {
                    deploy = deploy.flag("--prune");
                }
                deploy = deploy.opt("--resolve-image", args.resolve_image.as_deref().unwrap_or("never"));
                if args.with_registry_auth {
                    deploy = deploy.flag("--with-registry-auth");
                }
                let cd = cwd.as_ref().map(|dir| Cmd::new("cd").operand(dir).build()).unwrap_or_default();
                let cmd = cd
                    .and(deploy.operand(name))
                    .then(Sh::lit("rc=$?"))
                    .then(Cmd::new("rm").flag("-f").operands(&files))
                    .then(Sh::lit("exit $rc"));
                let first = docs.first().cloned().unwrap_or_default();
                let out = cx.exec_stdin(cmd, first.into_bytes()).await?;
                if out.rc != 0 {
                    return Ok(command_failed(&format!("docker stack deploy {name}"), &out));
                }
                let mut o = Outcome { changed: true, ..Outcome::ok() }
                    .with_exec(&out)
                    .with("services", plan.services.clone())
                    .with("stack_diff", diff);
                if !plan.notes.is_empty() {
                    o.msg = Some(plan.notes.join("; "));
                }
                if args.wait {
                    // Rolling updates run in parallel in the swarm; wait for each in turn.
                    let deadline = Instant::now() + Duration::from_secs(args.wait_timeout);
                    for svc in &plan.services {
                        let left = deadline.saturating_duration_since(Instant::now());
                        if let Err(msg) = super::docker_swarm_service::wait_converged(cx, svc, left).await? {
                            o.failed = true;
                            o.msg = Some(msg);
                            break;
                        }
                    }
                }
                Ok(o)
            }
        }
    }
}

#[cfg(test)]
mod real_tests {
    use super::*;
    use crate::containers::testconn::DockerExecConn;
    use crate::testing::run;
    use prov_core::module::{FactCache, RunMode};
    use prov_core::testutil::{DirFiles, MapVars};
    use serde_json::json;

    const COMPOSE: &str = "services:\n  web:\n    image: provstack/bb:1\n    command: [sleep, \"100000\"]\n    environment:\n      A: \"1\"\n    ports:\n      - { target: 80, published: 18095, mode: host }\n    deploy:\n      replicas: 2\n      endpoint_mode: dnsrr\n      labels: [team=x]\n  db:\n    image: provstack/bb:1\n    deploy: { endpoint_mode: dnsrr }\n";

    /// Needs `PROV_TEST_SWARM=<container with a swarm manager>` and `provstack/bb:1`/`:2` loaded there.
    #[tokio::test]
    #[ignore = "needs a swarm manager container named by PROV_TEST_SWARM (see containers/testconn.rs)"]
    async fn real_swarm_stack() {
        let conn = DockerExecConn::from_env().expect("PROV_TEST_SWARM names the swarm manager container");
        let (files, vars, facts) = (DirFiles(".".into()), MapVars(Value::from(())), FactCache::default());
        let cx = ModuleCtx {
            host: "m1",
            delegate_to: None,
            conn: &conn,
            host_conn: None,
            become_: None,
            env: Vec::new(),
            mode: RunMode { diff: prov_core::module::DiffMode::On, ..RunMode::default() },
            files: &files,
            vars: &vars,
            facts: &facts,
            timeout: None,
            progress: None,
        };
        let sh = |c: &str| cx.exec(c.to_string());
        sh("docker stack rm pst4; sleep 3; mkdir -p /tmp/pst4").await.unwrap();
        cx.put("/tmp/pst4/stack.yml", COMPOSE.as_bytes(), None).await.unwrap();
        let args = json!({"name": "pst4", "compose": ["/tmp/pst4/stack.yml"]});
        let deploys = |from: usize| conn.calls()[from..].iter().filter(|c| c.contains("docker stack deploy")).count();

        let o = run::<DockerStack>(args.clone(), &cx).await;
        assert!(o.changed && !o.failed, "{o:?}");
        eprintln!("create: {:?}\n{}", o.msg, o.diffs[0].after);

        let n = conn.calls().len();
        let o = run::<DockerStack>(args.clone(), &cx).await;
        assert!(!o.changed && !o.failed, "{o:?}");
        assert_eq!(deploys(n), 0);

        sh("docker service scale -d pst4_web=5").await.unwrap();
        let n = conn.calls().len();
        let o = run::<DockerStack>(args.clone(), &cx).await;
        assert!(!o.changed && !o.failed, "{o:?}");
        assert_eq!(o.msg.as_deref(), Some("web: keeps 5 replicas set by scale (file says 2)"));
        assert_eq!(deploys(n), 0);

        // Another change keeps the scaled count.
        cx.put("/tmp/pst4/stack.yml", COMPOSE.replace("A: \"1\"", "A: \"2\"").as_bytes(), None).await.unwrap();
        let o = run::<DockerStack>(args.clone(), &cx).await;
        assert!(o.changed && !o.failed, "{o:?}");
        eprintln!("env change: {:?}\n{}{}", o.msg, o.diffs[0].before, o.diffs[0].after);
        let r = sh("docker service inspect pst4_web --format '{{.Spec.Mode.Replicated.Replicas}}'").await.unwrap();
        assert_eq!(r.stdout_str().trim(), "5");

        cx.put(
            "/tmp/pst4/stack.yml",
            COMPOSE.replace("A: \"1\"", "A: \"2\"").replace("replicas: 2", "replicas: 3").as_bytes(),
            None,
        )
        .await
        .unwrap();
        let o = run::<DockerStack>(args.clone(), &cx).await;
        assert!(o.changed && !o.failed, "{o:?}");
        assert_eq!(o.msg.as_deref(), Some("web: file changes replicas 2 → 3 (was scaled to 5)"));
        let r = sh("docker service inspect pst4_web --format '{{.Spec.Mode.Replicated.Replicas}}'").await.unwrap();
        assert_eq!(r.stdout_str().trim(), "3");
        let o = run::<DockerStack>(args.clone(), &cx).await;
        assert!(!o.changed, "{o:?}");

        sh("docker service scale -d pst4_db=2 && docker stack services pst4 --format '{{json .}}' > /tmp/pst4/services.jsonl && docker service inspect pst4_db pst4_web --format '{{json .}}' > /tmp/pst4/inspect.jsonl").await.unwrap();
        let mut a = args.clone();
        a["keep_scaled_replicas"] = json!(false);
        let o = run::<DockerStack>(a, &cx).await;
        assert!(o.changed && !o.failed, "{o:?}");
        assert_eq!(o.msg.as_deref(), Some("db: replicas 2 → 1 (scaled by hand; keep_scaled_replicas is false)"));

        let o = run::<DockerStack>(json!({"name": "pst4", "state": "absent"}), &cx).await;
        assert!(o.changed && !o.failed, "{o:?}");
        let o = run::<DockerStack>(json!({"name": "pst4", "state": "absent"}), &cx).await;
        assert!(!o.changed && !o.failed, "{o:?}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;
    use prov_core::testutil::FakeConnection;
    use serde_json::json;

    /// Captured from docker 20.10.24 after deploying [`FILE`] and `docker service scale pst4_db=2`.
    const SERVICES: &str = include_str!("testdata/stack_services.jsonl");
    const INSPECT: &str = include_str!("testdata/stack_inspect.jsonl");
    const FILE: &str = "services:\n  web:\n    image: provstack/bb:1\n    command: [sleep, \"100000\"]\n    environment:\n      A: \"2\"\n    ports:\n      - { target: 80, published: 18095, mode: host }\n    deploy:\n      replicas: 3\n      endpoint_mode: dnsrr\n      labels: [team=x]\n  db:\n    image: provstack/bb:1\n    deploy: { endpoint_mode: dnsrr }\n";
    const PATH: &str = "/srv/pst4/stack.yml";

    fn conn(file: &str) -> FakeConnection {
        FakeConnection::new()
            .with_file(PATH, file)
            .on("docker stack services --format '{{json .}}' -- pst4", 0, SERVICES)
            .on("docker service inspect --format '{{json .}}' -- pst4_db pst4_web", 0, INSPECT)
    }

    fn deploys(calls: &[String]) -> Vec<&String> {
        calls.iter().filter(|c| c.contains("docker stack deploy")).collect()
    }

    /// The override document the module wrote (the last file put).
    fn override_doc(h: &prov_core::testutil::TestHost) -> Json {
        let files = h.conn.files.lock().unwrap();
        let (_, (data, mode)) =
            files.iter().find(|(p, _)| p.starts_with("/tmp/.prov-stack-pst4-")).expect("override file");
        assert_eq!(*mode, Some(0o600));
        serde_json::from_slice(data).unwrap()
    }

    #[tokio::test]
    async fn in_state_keeps_scaled_replicas_without_deploying() {
        let h = fake(conn(FILE));
        let o = run::<DockerStack>(json!({"wait": false, "name": "pst4", "compose": [PATH]}), &h.ctx()).await;
        assert!(!o.changed && !o.failed, "{o:?}");
        assert_eq!(o.msg.as_deref(), Some("db: keeps 2 replicas set by scale (file says 1)"));
        let calls = h.conn.calls();
        assert_eq!(calls.len(), 3, "{calls:?}");
        assert!(deploys(&calls).is_empty());
        assert_eq!(o.data["services"].to_string(), "['pst4_web', 'pst4_db']");
    }

    #[tokio::test]
    async fn keep_scaled_false_resets_to_the_file() {
        let h = fake(conn(FILE));
        let o = run::<DockerStack>(
            json!({"wait": false, "name": "pst4", "compose": PATH, "keep_scaled_replicas": false}),
            &h.ctx(),
        )
        .await;
        assert!(o.changed && !o.failed, "{o:?}");
        assert_eq!(o.msg.as_deref(), Some("db: replicas 2 → 1 (scaled by hand; keep_scaled_replicas is false)"));
        let calls = h.conn.calls();
        let d = deploys(&calls);
        assert_eq!(d.len(), 1);
        assert!(
            d[0].starts_with("cd -- /srv/pst4 && docker stack deploy -c - -c /tmp/.prov-stack-pst4-")
                && d[0].contains(" --resolve-image never -- pst4; rc=$?; rm -f -- /tmp/.prov-stack-pst4-"),
            "{}",
            d[0]
        );
        let over = override_doc(&h);
        assert_eq!(over["version"], "3.8");
        assert_eq!(over["services"]["db"]["deploy"]["replicas"], 1);
        assert_eq!(over["services"]["web"]["deploy"]["replicas"], 3);
        assert_eq!(over["services"]["db"]["deploy"]["labels"][REPLICAS_LABEL], "1");
        assert_eq!(o.diffs[0].before, "db:\n  replicas: 2\n");
        assert_eq!(
            o.diffs[0].after,
            "db:\n  replicas: 1\n# db: replicas 2 → 1 (scaled by hand; keep_scaled_replicas is false)\n"
        );
        assert_eq!(o.data["stack_diff"].to_string(), "{'db': ['replicas: 2 → 1']}");
    }

    #[tokio::test]
    async fn file_replicas_change_wins_and_scaled_service_keeps_its_count() {
        let h = fake(conn(&FILE.replace("replicas: 3", "replicas: 4").replace("A: \"2\"", "A: \"3\"")));
        let o = run::<DockerStack>(json!({"wait": false, "name": "pst4", "compose": [PATH]}), &h.ctx()).await;
        assert!(o.changed && !o.failed, "{o:?}");
        assert_eq!(
            o.msg.as_deref(),
            Some("web: file changes replicas 3 → 4; db: keeps 2 replicas set by scale (file says 1)")
        );
        let over = override_doc(&h);
        assert_eq!(over["services"]["web"]["deploy"]["replicas"], 4);
        assert_eq!(over["services"]["web"]["deploy"]["labels"][REPLICAS_LABEL], "4");
        assert_eq!(over["services"]["db"]["deploy"]["replicas"], 2);
        assert_eq!(over["services"]["db"]["deploy"]["labels"][REPLICAS_LABEL], "1");
        let before = &o.diffs[0].before;
        let after = &o.diffs[0].after;
        assert!(
            before.starts_with("web:\n  replicas: 3\n  environment: [A=2]\n  definition: 4dcc587a35779212\n"),
            "{before}"
        );
        assert!(after.starts_with("web:\n  replicas: 4\n  environment: [A=3]\n  definition: "), "{after}");
        assert!(
            after.ends_with("# web: file changes replicas 3 → 4\n# db: keeps 2 replicas set by scale (file says 1)\n")
        );
        assert_eq!(deploys(&h.conn.calls()).len(), 1);
    }

    #[tokio::test]
    async fn image_drift_is_redeployed_and_check_mode_deploys_nothing() {
        let file = FILE.replacen("image: provstack/bb:1", "image: provstack/bb:2", 1);
        let h = fake_check(conn(&file));
        let o = run::<DockerStack>(json!({"wait": false, "name": "pst4", "compose": [PATH]}), &h.ctx()).await;
        assert!(o.changed, "{o:?}");
        assert!(o.diffs[0].after.starts_with("web:\n  image: provstack/bb:2\n"), "{}", o.diffs[0].after);
        let calls = h.conn.calls();
        assert!(deploys(&calls).is_empty() && !calls.iter().any(|c| c.starts_with("put ")), "{calls:?}");
    }

    #[tokio::test]
    async fn deploy_waits_until_the_services_run() {
        let progress = "pst4_api 2/2\n--\nRunning 2 seconds ago\nRunning 1 second ago\n--\nnull\n";
        let h = fake(FakeConnection::new().on("docker service ls --filter name=pst4_api", 0, progress));
        let compose = json!({"services": {"api": {"image": "provstack/bb:1", "deploy": {"replicas": 2}}}});
        let o = run::<DockerStack>(json!({"name": "pst4", "compose": [compose], "wait_timeout": 5}), &h.ctx()).await;
        assert!(o.changed && !o.failed, "{o:?}");
        assert!(h.conn.calls().iter().any(|c| c.starts_with("docker service ls --filter name=pst4_api")));
        let stuck = fake(FakeConnection::new().on(
            "docker service ls --filter name=pst4_api",
            0,
            "pst4_api 0/2\n--\n--\nnull\n",
        ));
        let o =
            run::<DockerStack>(json!({"name": "pst4", "compose": [compose], "wait_timeout": 1}), &stuck.ctx()).await;
        assert!(o.failed && o.msg.as_deref().is_some_and(|m| m.contains("did not converge")), "{o:?}");
    }

    #[tokio::test]
    async fn new_stack_from_inline_compose() {
        let h = fake(FakeConnection::new());
        let compose = json!({"services": {"api": {"image": "provstack/bb:1", "deploy": {"replicas": 2}}}});
        let o =
            run::<DockerStack>(json!({"wait": false, "name": "pst4", "compose": [compose], "prune": true}), &h.ctx())
                .await;
        assert!(o.changed && !o.failed, "{o:?}");
        assert_eq!(o.planned[0].action, Action::Create);
        assert_eq!(o.diffs[0].before, "api: absent\n");
        assert_eq!(o.diffs[0].after, "api:\n  image: provstack/bb:1\n  replicas: 2\n");
        let calls = h.conn.calls();
        let d = deploys(&calls);
        assert!(d[0].starts_with("docker stack deploy -c - -c /tmp/.prov-stack-pst4-") && d[0].contains(" --prune "));
        assert_eq!(override_doc(&h)["services"]["api"]["deploy"]["replicas"], 2);
    }

    #[tokio::test]
    async fn interpolated_replicas_are_left_to_docker() {
        let file = FILE.replace("replicas: 3", "replicas: ${WEB_REPLICAS}");
        let h = fake(conn(&file));
        let o = run::<DockerStack>(json!({"wait": false, "name": "pst4", "compose": [PATH]}), &h.ctx()).await;
        assert!(o.changed && !o.failed, "{o:?}");
        let over = override_doc(&h);
        assert_eq!(
            over["services"]["web"]["deploy"],
            json!({"labels": {HASH_LABEL: over["services"]["web"]["deploy"]["labels"][HASH_LABEL]}})
        );
        assert_eq!(over["services"]["db"]["deploy"]["replicas"], 2);
    }

    #[tokio::test]
    async fn prune_removes_services_not_in_the_file() {
        let file = FILE.split("  db:").next().unwrap().to_string();
        let h = fake(conn(&file));
        let o = run::<DockerStack>(json!({"wait": false, "name": "pst4", "compose": [PATH]}), &h.ctx()).await;
        assert!(!o.changed, "without prune the other service is left alone: {o:?}");
        let h = fake(conn(&file));
        let o = run::<DockerStack>(json!({"wait": false, "name": "pst4", "compose": [PATH], "prune": true}), &h.ctx())
            .await;
        assert!(o.changed, "{o:?}");
        assert_eq!(o.diffs[0].after, "db: absent (prune)\n");
        assert_eq!(o.data["services"].to_string(), "['pst4_web']");
    }

    #[tokio::test]
    async fn compose_errors_name_the_file_and_line() {
        let h = fake(conn("services:\n  web:\n    image: [oops\n"));
        let o = run::<DockerStack>(json!({"wait": false, "name": "pst4", "compose": [PATH]}), &h.ctx()).await;
        let msg = o.msg.clone().unwrap_or_default();
        assert!(o.failed && msg.starts_with("compose file /srv/pst4/stack.yml:"), "{msg}");
        assert!(msg.contains("YAML syntax error"), "{msg}");

        let h = fake(conn("services:\n  web:\n    image: x\n    deploy:\n      replicas: two\n"));
        let o = run::<DockerStack>(json!({"wait": false, "name": "pst4", "compose": [PATH]}), &h.ctx()).await;
        assert_eq!(
            o.msg.as_deref(),
            Some(
                "compose file /srv/pst4/stack.yml:5:17: service web: `deploy.replicas` must be a whole number, not two"
            )
        );

        let h = fake(FakeConnection::new());
        let o = run::<DockerStack>(json!({"wait": false, "name": "pst4", "compose": ["/nope.yml"]}), &h.ctx()).await;
        assert_eq!(o.msg.as_deref(), Some("compose file /nope.yml not found on test"));
        let bad = json!({"services": {"web": {"image": "x", "deploy": {"mode": "everywhere"}}}});
        let o = run::<DockerStack>(json!({"wait": false, "name": "pst4", "compose": [bad]}), &h.ctx()).await;
        assert_eq!(
            o.msg.as_deref(),
            Some("compose[0] (inline): service web: `deploy.mode` must be replicated or global")
        );
        let e = run_err::<DockerStack>(json!({"name": "pst4"}), &h.ctx()).await;
        assert!(e.contains("compose is required"), "{e}");
    }

    #[tokio::test]
    async fn deploy_failure_is_reported() {
        let h =
            fake(conn(FILE).on("cd -- /srv/pst4 && docker stack deploy", 1, "unsupported Compose file version: 1.0"));
        let o = run::<DockerStack>(
            json!({"wait": false, "name": "pst4", "compose": [PATH], "keep_scaled_replicas": false}),
            &h.ctx(),
        )
        .await;
        assert!(o.failed, "{o:?}");
        assert_eq!(
            o.msg.as_deref(),
            Some("docker stack deploy pst4 failed (exit status 1: unsupported Compose file version: 1.0)")
        );
    }

    #[tokio::test]
    async fn absent_removes_and_waits() {
        let h = fake(conn(FILE).on("docker stack services --format '{{.Name}}' -- pst4", 0, ""));
        let o = run::<DockerStack>(json!({"name": "pst4", "state": "absent"}), &h.ctx()).await;
        assert!(o.changed && !o.failed, "{o:?}");
        assert_eq!(o.planned[0].action, Action::Delete);
        let calls = h.conn.calls();
        assert_eq!(calls[2], "docker stack rm -- pst4");
        assert_eq!(calls[3], "docker stack services --format '{{.Name}}' -- pst4");

        let h = fake(conn(FILE).on("docker stack services --format '{{.Name}}' -- pst4", 0, "pst4_web\n"));
        let o = run::<DockerStack>(json!({"name": "pst4", "state": "absent", "wait_timeout": 0}), &h.ctx()).await;
        assert!(o.failed, "{o:?}");
        assert_eq!(o.msg.as_deref(), Some("stack pst4: services still present after 0 s: pst4_web"));

        let h = fake(FakeConnection::new().on("docker stack services", 0, ""));
        let o = run::<DockerStack>(json!({"name": "pst4", "state": "absent"}), &h.ctx()).await;
        assert!(!o.changed && !o.failed);
    }

    #[tokio::test]
    async fn stack_and_service_names_are_operands_after_a_double_dash() {
        for v in hostile_values(&pwned_marker("stack")) {
            let q = Sh::quoted(&v);
            let services = format!("docker stack services --format '{{{{json .}}}}' -- {q}");
            let h = fake(
                FakeConnection::new()
                    .on(&services, 0, "{\"Name\":\"--help\"}\n")
                    .on("docker service inspect", 0, "{\"Spec\":{\"Name\":\"--help\"}}\n")
                    .on("docker stack services --format '{{.Name}}'", 0, ""),
            );
            let o = run::<DockerStack>(json!({"name": v, "state": "absent"}), &h.ctx()).await;
            assert!(o.changed && !o.failed, "{v:?}: {o:?}");
            let calls = h.conn.calls();
            assert_eq!(
                calls[..3],
                [
                    services,
                    "docker service inspect --format '{{json .}}' -- --help".into(),
                    format!("docker stack rm -- {q}")
                ]
            );
        }
    }

    #[test]
    fn replica_decisions() {
        let d = |file, cur, label, keep| decide_replicas("web", file, cur, label, keep);
        assert_eq!(d(2, Some(5), Some(2), true).deploy, 5);
        assert_eq!(
            d(2, Some(5), Some(2), true).note.as_deref(),
            Some("web: keeps 5 replicas set by scale (file says 2)")
        );
        assert_eq!(d(4, Some(5), Some(2), true).deploy, 4);
        assert_eq!(d(4, Some(2), Some(2), true).note.as_deref(), Some("web: file changes replicas 2 → 4"));
        assert_eq!(d(2, Some(5), Some(2), false).deploy, 2);
        assert_eq!(d(2, Some(5), None, true).deploy, 2);
        assert_eq!(d(2, None, None, true), Replicas { deploy: 2, note: None });
        assert_eq!(d(2, Some(2), Some(2), true), Replicas { deploy: 2, note: None });
    }

    #[test]
    fn ports() {
        let p = compose_ports(&json!(["8080:80", "53:53/udp", 9000, "127.0.0.1:81:81", "7000-7001:70-71",
            {"target": 5, "published": "6", "mode": "host"}]))
        .unwrap();
        let shown: Vec<String> = p.iter().map(show_port).collect();
        assert_eq!(
            shown,
            [
                "9000/tcp ingress",
                "6:5/tcp host",
                "53:53/udp ingress",
                "81:81/tcp ingress",
                "7000:70/tcp ingress",
                "7001:71/tcp ingress",
                "8080:80/tcp ingress",
            ]
        );
    }

    #[test]
    fn merging_files() {
        let a = Doc {
            json: json!({"services": {"web": {"image": "a", "environment": ["A=1"], "ports": ["80:80"]}}}),
            origin: String::new(),
            dir: None,
        };
        let b = Doc {
            json: json!({"services": {"web": {"environment": {"B": "2"}, "ports": ["81:81"], "deploy": {"labels": ["x=y"]}}}}),
            origin: String::new(),
            dir: None,
        };
        let m = merged(&[a, b]);
        assert_eq!(
            m["services"]["web"],
            json!({"image": "a", "environment": {"A": "1", "B": "2"}, "ports": ["80:80", "81:81"], "deploy": {"labels": {"x": "y"}}})
        );
    }
}
