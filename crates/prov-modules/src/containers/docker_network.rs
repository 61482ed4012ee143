//! `docker_network` (community.docker): creates, recreates and removes a network of the target's
//! Docker Engine and connects containers to it, through the engine's API as community.docker
//! does (see `containers::api`).
//!
//! Arguments (as in Ansible): `name` (alias `network_name`), `driver` (default `bridge`),
//! `driver_options`, `ipam_driver`, `ipam_driver_options`, `ipam_config` (a list of `subnet`,
//! `iprange`, `gateway`, `aux_addresses`), `internal`, `attachable`, `scope`, `ingress`,
//! `enable_ipv4`, `enable_ipv6`, `config_only`, `config_from`, `labels`, `connected` (alias
//! `containers`), `appends` (alias `incremental`), `force`, `state` (`present`, `absent`),
//! `debug`.
//!
//! It decides as community.docker does: an existing network that differs in anything given
//! (driver, one of the driver options or labels, IPAM settings compared as normalized
//! addresses, the flags) is removed and created again, as with `force`; the `connected`
//! containers that exist are connected, and without `appends` the others are disconnected.
//! Options the engine's API version lacks fail the task with community.docker's message.
//! Registers `network` (the engine's inspection, `null` in check mode before it exists),
//! `actions` (in check mode and for `absent`), and `diff` in check mode or with `--diff`. An
//! engine error fails the task with community.docker's text for it.
//!
//! ```yaml
//! - community.docker.docker_network:
//!     name: backend
//!     driver: overlay
//!     attachable: true
//! ```

use super::api::{quote, Engine, Tracker};
use super::{lookup, norm_address, version_lt};
use crate::util::or_fail;
use async_trait::async_trait;
use prov_core::args::{lenient_bool, lenient_opt_bool, StringList};
use prov_core::module::{Action, DiffMode, Module, ModuleCtx, ModuleError, Outcome, Plan};
use serde::Deserialize;
use serde_json::{json, Map, Value as Json};

fn bridge() -> String {
    "bridge".into()
}

fn present() -> String {
    "present".into()
}

/// One `ipam_config` entry.
#[derive(Debug, Deserialize, Clone, Default)]
#[serde(deny_unknown_fields)]
pub struct Pool {
    /// The subnet (CIDR).
    #[serde(default)]
    pub subnet: Option<String>,
    /// The range addresses come from.
    #[serde(default)]
    pub iprange: Option<String>,
    /// The gateway.
    #[serde(default)]
    pub gateway: Option<String>,
    /// Addresses kept for hosts.
    #[serde(default)]
    pub aux_addresses: Option<Map<String, Json>>,
}

/// Arguments of `docker_network`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    /// The network.
    #[serde(alias = "network_name")]
    pub name: String,
    /// A config-only network to take the configuration from.
    #[serde(default)]
    pub config_from: Option<String>,
    /// A configuration-only network.
    #[serde(default, deserialize_with = "lenient_opt_bool")]
    pub config_only: Option<bool>,
    /// Containers to connect.
    #[serde(default, alias = "containers")]
    pub connected: StringList,
    /// `present` or `absent`.
    #[serde(default = "present")]
    pub state: String,
    /// The driver.
    #[serde(default = "bridge")]
    pub driver: String,
    /// The driver's options.
    #[serde(default)]
    pub driver_options: Map<String, Json>,
    /// Remove and create it even when it is right.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub force: bool,
    /// Keep containers connected that `connected` does not list.
    #[serde(default, alias = "incremental", deserialize_with = "lenient_bool")]
    pub appends: bool,
    /// The IPAM driver.
    #[serde(default)]
    pub ipam_driver: Option<String>,
    /// Its options.
    #[serde(default)]
    pub ipam_driver_options: Option<Map<String, Json>>,
    /// Address pools.
    #[serde(default)]
    pub ipam_config: Option<Vec<Pool>>,
    /// IPv4 on the network.
    #[serde(default, deserialize_with = "lenient_opt_bool")]
    pub enable_ipv4: Option<bool>,
    /// IPv6 on the network.
    #[serde(default, deserialize_with = "lenient_opt_bool")]
    pub enable_ipv6: Option<bool>,
    /// No outside access.
    #[serde(default, deserialize_with = "lenient_opt_bool")]
    pub internal: Option<bool>,
    /// Labels.
    #[serde(default)]
    pub labels: Map<String, Json>,
    /// Registers `actions` and `diff` in every mode.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub debug: bool,
    /// `local`, `global` or `swarm`.
    #[serde(default)]
    pub scope: Option<String>,
    /// Standalone containers may attach to the (swarm) network.
    #[serde(default, deserialize_with = "lenient_opt_bool")]
    pub attachable: Option<bool>,
    /// The swarm's routing-mesh network.
    #[serde(default, deserialize_with = "lenient_opt_bool")]
    pub ingress: Option<bool>,
}

/// The `docker_network` module.
#[derive(Debug, Default)]
pub struct DockerNetwork;

/// Python's `str()` of a driver option, booleans as Go reads them (`clean_dict_booleans_for_docker_api`).
fn option_text(v: &Json) -> Json {
    Json::from(match v {
        Json::Bool(true) => "true".to_string(),
        Json::Bool(false) => "false".to_string(),
        Json::String(s) => s.clone(),
        Json::Null => "None".into(),
        other => other.to_string(),
    })
}

/// `ipaddress.ip_network(x).compressed` (strict: no host bits), or `x`.
fn norm_network(s: &str) -> String {
    let Some((addr, len)) = s.split_once('/') else {
        return match s.parse::<std::net::IpAddr>() {
            Ok(a) => format!("{a}/{}", if a.is_ipv4() { 32 } else { 128 }),
            Err(_) => s.to_string(),
        };
    };
    let (Ok(a), Ok(l)) = (addr.parse::<std::net::IpAddr>(), len.parse::<u32>()) else { return s.to_string() };
    let host_bits = match a {
        std::net::IpAddr::V4(v) if l <= 32 => u32::from(v) & u32::MAX.checked_shr(l).unwrap_or(0) != 0,
        std::net::IpAddr::V6(v) if l <= 128 => u128::from(v) & u128::MAX.checked_shr(l).unwrap_or(0) != 0,
        _ => return s.to_string(),
    };
    if host_bits {
        s.to_string()
    } else {
        format!("{a}/{l}")
    }
}

/// A pool as the module compares it: its keys with the values normalized.
fn pool_map(p: &Map<String, Json>) -> Map<String, Json> {
    p.iter()
        .map(|(k, v)| {
            let n = match (k.as_str(), v) {
                ("subnet" | "iprange", Json::String(s)) => Json::from(norm_network(s)),
                ("gateway", Json::String(s)) => Json::from(norm_address(s)),
                ("aux_addresses", Json::Object(m)) => Json::Object(
                    m.iter()
                        .map(|(k, v)| (k.clone(), v.as_str().map(|s| Json::from(norm_address(s))).unwrap_or(v.clone())))
                        .collect(),
                ),
                _ => v.clone(),
            };
            (k.clone(), n)
        })
        .collect()
}

fn wanted_pool(p: &Pool) -> Map<String, Json> {
    let mut m = Map::new();
    m.insert("subnet".into(), p.subnet.clone().map(Json::from).unwrap_or(Json::Null));
    m.insert("iprange".into(), p.iprange.clone().map(Json::from).unwrap_or(Json::Null));
    m.insert("gateway".into(), p.gateway.clone().map(Json::from).unwrap_or(Json::Null));
    m.insert("aux_addresses".into(), p.aux_addresses.clone().map(Json::Object).unwrap_or(Json::Null));
    m
}

/// The parameters after community.docker's own preparation: driver options and labels as
/// text, `null` driver for a config-only network.
struct Wanted {
    driver: String,
    driver_options: Map<String, Json>,
    labels: Map<String, Json>,
}

fn prepare(a: &Args) -> Result<Wanted, String> {
    let labels = super::sanitize_labels(&a.labels)?;
    let driver = if a.config_only == Some(true) { "null".to_string() } else { a.driver.clone() };
    let driver_options = a.driver_options.iter().map(|(k, v)| (k.clone(), option_text(v))).collect();
    Ok(Wanted { driver, driver_options, labels })
}

fn get<'j>(v: &'j Json, k: &str) -> Option<&'j Json> {
    v.get(k).filter(|x| !x.is_null())
}

fn flag(v: &Json, k: &str) -> Json {
    v.get(k).cloned().unwrap_or(Json::Bool(false))
}

/// What differs between the arguments and the network, in community.docker's order.
fn differences(a: &Args, w: &Wanted, net: &Json) -> Tracker {
    let mut d = Tracker::default();
    let mut add = |n: &str, p: Json, act: Json| d.add(n, p, act);
    if let Some(c) = a.config_only {
        if c != flag(net, "ConfigOnly") {
            add("config_only", Json::from(c), flag(net, "ConfigOnly"));
        }
    }
    if let Some(c) = &a.config_from {
        let have = net.get("ConfigFrom").and_then(|x| x.get("Network")).cloned().unwrap_or(Json::from(""));
        if c.as_str() != have {
            add("config_from", Json::from(c.as_str()), have);
        }
    }
    let driver = net.get("Driver").cloned().unwrap_or(Json::Null);
    if !w.driver.is_empty() && driver.as_str() != Some(w.driver.as_str()) {
        add("driver", Json::from(w.driver.as_str()), driver);
    }
    if !w.driver_options.is_empty() {
        match get(net, "Options").and_then(|o| o.as_object()).filter(|o| !o.is_empty()) {
            None => add(
                "driver_options",
                Json::Object(w.driver_options.clone()),
                net.get("Options").cloned().unwrap_or(Json::Null),
            ),
            Some(o) => {
                for (k, v) in &w.driver_options {
                    if o.get(k) != Some(v) {
                        add(&format!("driver_options.{k}"), v.clone(), o.get(k).cloned().unwrap_or(Json::Null));
                    }
                }
            }
        }
    }
    let ipam = get(net, "IPAM");
    if let Some(drv) = &a.ipam_driver {
        if ipam.is_none() || ipam.and_then(|i| i.get("Driver")).and_then(|x| x.as_str()) != Some(drv.as_str()) {
            add("ipam_driver", Json::from(drv.as_str()), ipam.cloned().unwrap_or(Json::Null));
        }
    }
    if let Some(opts) = &a.ipam_driver_options {
        let have = ipam.and_then(|i| get(i, "Options")).cloned().unwrap_or(json!({}));
        if have != Json::Object(opts.clone()) {
            add("ipam_driver_options", Json::Object(opts.clone()), have);
        }
    }
    if let Some(pools) = a.ipam_config.as_ref().filter(|p| !p.is_empty()) {
        let have_pools = ipam.and_then(|i| get(i, "Config")).and_then(|c| c.as_array()).filter(|c| !c.is_empty());
        match have_pools {
            None => add(
                "ipam_config",
                Json::from(pools.iter().map(|p| Json::Object(wanted_pool(p))).collect::<Vec<_>>()),
                ipam.and_then(|i| i.get("Config")).cloned().unwrap_or(Json::Null),
            ),
            Some(have) => {
                let nets: Vec<Map<String, Json>> = have
                    .iter()
                    .map(|c| {
                        c.as_object()
                            .map(|o| {
                                o.iter()
                                    .map(|(k, v)| {
                                        let key = if k == "AuxiliaryAddresses" {
                                            "aux_addresses".to_string()
                                        } else {
                                            k.to_lowercase()
                                        };
                                        (key, v.clone())
                                    })
                                    .collect()
                            })
                            .unwrap_or_default()
                    })
                    .collect();
                for (idx, p) in pools.iter().enumerate() {
                    let want = wanted_pool(p);
                    let want_n = pool_map(&want);
                    let (mut net_cfg, mut net_n) = (Map::new(), Map::new());
                    for c in &nets {
                        let cn = pool_map(c);
                        if want_n.iter().all(|(k, v)| v.is_null() || cn.get(k) == Some(v)) {
                            net_cfg = c.clone();
                            net_n = cn;
                            break;
                        }
                    }
                    for (k, v) in &want {
                        if v.is_null() {
                            continue;
                        }
                        if want_n.get(k) != Some(net_n.get(k).unwrap_or(&Json::Null)) {
                            add(
                                &format!("ipam_config[{idx}].{k}"),
                                v.clone(),
                                net_cfg.get(k).cloned().unwrap_or(Json::Null),
                            );
                        }
                    }
                }
            }
        }
    }
    for (arg, key, name) in [(a.enable_ipv4, "EnableIPv4", "enable_ipv4"), (a.enable_ipv6, "EnableIPv6", "enable_ipv6")]
    {
        if let Some(want) = arg {
            if want != flag(net, key) {
                add(name, Json::from(want), flag(net, key));
            }
        }
    }
    if let Some(want) = a.internal {
        if want != flag(net, "Internal") {
            add("internal", Json::from(want), net.get("Internal").cloned().unwrap_or(Json::Null));
        }
    }
    if let Some(s) = &a.scope {
        let have = net.get("Scope").cloned().unwrap_or(Json::Null);
        if have.as_str() != Some(s.as_str()) {
            add("scope", Json::from(s.as_str()), have);
        }
    }
    for (arg, key, name) in [(a.attachable, "Attachable", "attachable"), (a.ingress, "Ingress", "ingress")] {
        if let Some(want) = arg {
            if want != flag(net, key) {
                add(name, Json::from(want), net.get(key).cloned().unwrap_or(Json::Null));
            }
        }
    }
    if !w.labels.is_empty() {
        match get(net, "Labels").and_then(|l| l.as_object()).filter(|l| !l.is_empty()) {
            None => add("labels", Json::Object(w.labels.clone()), net.get("Labels").cloned().unwrap_or(Json::Null)),
            Some(have) => {
                for (k, v) in &w.labels {
                    if have.get(k) != Some(v) {
                        add(&format!("labels.{k}"), v.clone(), have.get(k).cloned().unwrap_or(Json::Null));
                    }
                }
            }
        }
    }
    d
}

/// The names of the containers on the network.
fn container_names(net: &Json) -> Vec<String> {
    net.get("Containers")
        .and_then(|c| c.as_object())
        .map(|c| c.values().filter_map(|v| v.get("Name").and_then(|n| n.as_str()).map(str::to_string)).collect())
        .unwrap_or_default()
}

/// The state of one run: results so far and the difference tracker.
struct Run<'a, 'b, 'c> {
    e: &'c Engine<'a, 'b>,
    check: bool,
    name: String,
    actions: Vec<String>,
    changed: bool,
    tracker: Tracker,
    warnings: Vec<String>,
}

impl Run<'_, '_, '_> {
    /// A call whose failure ends the module as community.docker's last handler does.
    async fn post(&self, method: &str, path: &str, body: Option<&Json>) -> Result<Result<Json, Outcome>, ModuleError> {
        self.e.send(method, path, body, "An unexpected Docker error occurred: ").await
    }

    async fn disconnect(&mut self, container: &str) -> Result<Result<(), Outcome>, ModuleError> {
        if !self.check {
            let path = format!("/networks/{}/disconnect", quote(&self.name, "/:"));
            or_fail!(self.post("POST", &path, Some(&json!({"Container": container, "Force": true}))).await, Err);
        }
        self.actions.push(format!("Disconnected container {container}"));
        self.changed = true;
        self.tracker.add(format!("connected.{container}"), Json::from(false), Json::from(true));
        Ok(Ok(()))
    }

    async fn remove(&mut self, existing: &Option<Json>) -> Result<Result<(), Outcome>, ModuleError> {
        let Some(net) = existing else { return Ok(Ok(())) };
        let now = or_fail!(lookup::network(self.e, &self.name).await, Err).unwrap_or(Json::Null);
        for c in container_names(&now) {
            or_fail!(self.disconnect(&c).await, Err);
        }
        if !self.check {
            let path = format!("/networks/{}", quote(&self.name, "/:"));
            or_fail!(self.post("DELETE", &path, None).await, Err);
            if net.get("Scope").and_then(|s| s.as_str()) == Some("swarm") {
                while or_fail!(lookup::network(self.e, &self.name).await, Err).is_some() {
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
            }
        }
        self.actions.push(format!("Removed network {}", self.name));
        self.changed = true;
        Ok(Ok(()))
    }
}

impl DockerNetwork {
    async fn run(&self, a: &Args, cx: &ModuleCtx<'_>, check: bool) -> Result<Outcome, ModuleError> {
        let w = match prepare(a) {
            Ok(w) => w,
            Err(m) => return Ok(Outcome::failed(m)),
        };
        let e = or_fail!(Engine::connect(cx).await);
        let api = e.version();
        for (name, min, used) in [
            ("config_from", "1.30", a.config_from.is_some()),
            ("config_only", "1.30", a.config_only.is_some()),
            ("scope", "1.30", a.scope.is_some()),
            ("attachable", "1.26", a.attachable.is_some()),
            ("enable_ipv4", "1.47", a.enable_ipv4.is_some()),
        ] {
            if used && version_lt(api, min) {
                return Ok(Outcome::failed(format!(
                    "Docker API version is {api}. Minimum version required is {min} to set {name} option."
                )));
            }
        }
        let mut existing = or_fail!(lookup::network(&e, &a.name).await);
        let mut connected: Vec<String> = a.connected.0.clone();
        if connected.is_empty() {
            if let Some(n) = &existing {
                connected = container_names(n);
            }
        }
        for p in a.ipam_config.iter().flatten() {
            let s = p.subnet.clone().unwrap_or_default();
            if !is_cidr(&s) {
                return Ok(Outcome::failed(format!("\"{s}\" is not a valid CIDR")));
            }
        }
        let diff_on = cx.mode.diff == DiffMode::On;
        let mut run = Run {
            e: &e,
            check,
            name: a.name.clone(),
            actions: Vec::new(),
            changed: false,
            tracker: Tracker::default(),
            warnings: Vec::new(),
        };
        let mut o = Outcome::ok();
        let mut diff = Map::new();
        if a.state == "present" {
            let d = existing.as_ref().map(|n| differences(a, &w, n)).unwrap_or_default();
            run.tracker.add("exists", Json::from(true), Json::from(existing.is_some()));
            if a.force || !d.0.is_empty() {
                or_fail!(run.remove(&existing).await);
                existing = None;
            }
            if existing.is_none() {
                let body = create_body(a, &w);
                if !check {
                    let resp = or_fail!(run.post("POST", "/networks/create", Some(&body)).await);
                    if let Some(msg) = resp.get("Warning").and_then(|x| x.as_str()).filter(|s| !s.is_empty()) {
                        run.warnings.push(format!("Docker warning: {msg}"));
                    }
                    let id = resp.get("Id").and_then(|i| i.as_str()).unwrap_or_default().to_string();
                    existing = or_fail!(lookup::network_by_id(&e, &id).await);
                }
                run.actions.push(format!("Created network {} with driver {}", a.name, w.driver));
                run.changed = true;
            }
            for c in &connected {
                let on = existing.as_ref().is_some_and(|n| container_names(n).contains(c));
                if !on && or_fail!(lookup::container(&e, c).await).is_some() {
                    if !check {
                        let path = format!("/networks/{}/connect", quote(&a.name, "/:"));
                        or_fail!(run.post("POST", &path, Some(&json!({"Container": c, "EndpointConfig": null}))).await);
                    }
                    run.actions.push(format!("Connected container {c}"));
                    run.changed = true;
                    run.tracker.add(format!("connected.{c}"), Json::from(true), Json::from(false));
                }
            }
            if !a.appends {
                if let Some(n) = &existing {
                    for c in container_names(n) {
                        if !connected.contains(&c) {
                            or_fail!(run.disconnect(&c).await);
                        }
                    }
                }
            }
            if diff_on || check || a.debug {
                diff.insert("differences".into(), d.names());
                run.tracker.0.extend(d.0);
            }
            if check || a.debug {
                o = o.with("actions", super::json_value(json!(run.actions)));
            }
            let now = or_fail!(lookup::network(&e, &a.name).await).unwrap_or(Json::Null);
            o = o.with("network", super::json_value(now));
        } else {
            run.tracker.add("exists", Json::from(false), Json::from(existing.is_some()));
            or_fail!(run.remove(&existing).await);
            o = o.with("actions", super::json_value(json!(run.actions)));
        }
        if diff_on || check || a.debug {
            if diff_on {
                let (before, after) = run.tracker.before_after();
                diff.insert("before".into(), before);
                diff.insert("after".into(), after);
            }
            o = o.with("diff", super::json_value(Json::Object(diff)));
        }
        for wmsg in run.warnings {
            o = o.warn(wmsg);
        }
        o.changed = run.changed;
        Ok(o)
    }
}

/// `POST /networks/create`'s body as community.docker composes it.
fn create_body(a: &Args, w: &Wanted) -> Json {
    let mut data =
        json!({"Name": a.name, "Driver": w.driver, "Options": w.driver_options, "IPAM": null, "CheckDuplicate": null});
    let set = |data: &mut Json, k: &str, v: Json| {
        data[k] = v;
    };
    if let Some(c) = a.config_only {
        set(&mut data, "ConfigOnly", Json::from(c));
    }
    if let Some(c) = a.config_from.as_ref().filter(|c| !c.is_empty()) {
        set(&mut data, "ConfigFrom", json!({"Network": c}));
    }
    if let Some(v) = a.enable_ipv6 {
        set(&mut data, "EnableIPv6", Json::from(v));
    }
    if let Some(v) = a.enable_ipv4 {
        set(&mut data, "EnableIPv4", Json::from(v));
    }
    if a.internal == Some(true) {
        set(&mut data, "Internal", Json::from(true));
    }
    if let Some(s) = &a.scope {
        set(&mut data, "Scope", Json::from(s.as_str()));
    }
    if let Some(v) = a.attachable {
        set(&mut data, "Attachable", Json::from(v));
    }
    if let Some(v) = a.ingress {
        set(&mut data, "Ingress", Json::from(v));
    }
    set(&mut data, "Labels", Json::Object(w.labels.clone()));
    let pools: Vec<Json> = a
        .ipam_config
        .iter()
        .flatten()
        .map(|p| json!({"Subnet": p.subnet, "IPRange": p.iprange, "Gateway": p.gateway, "AuxiliaryAddresses": p.aux_addresses}))
        .collect();
    let ipam_opts = a.ipam_driver_options.as_ref().filter(|o| !o.is_empty());
    if a.ipam_driver.as_ref().is_some_and(|d| !d.is_empty()) || ipam_opts.is_some() || !pools.is_empty() {
        data["IPAM"] = json!({"Driver": a.ipam_driver, "Config": pools, "Options": a.ipam_driver_options});
    }
    data
}

/// community.docker's CIDR check (its regular expressions).
fn is_cidr(s: &str) -> bool {
    let v4 = regex::Regex::new(r"^([0-9]{1,3}\.){3}[0-9]{1,3}/([0-9]|[1-2][0-9]|3[0-2])$").expect("regex");
    let v6 = regex::Regex::new(r"^[0-9a-fA-F:]+/([0-9]|[1-9][0-9]|1[0-2][0-9])$").expect("regex");
    v4.is_match(s) || v6.is_match(s)
}

#[async_trait]
impl Module for DockerNetwork {
    const NAME: &'static str = "docker_network";
    const COLLECTIONS: &'static [&'static str] = &["community.docker", "ansible.builtin"];
    type Args = Args;
    type Plan = ();

    fn check_args(a: &Args) -> Result<(), String> {
        if !matches!(a.state.as_str(), "present" | "absent") {
            return Err(format!("value of state must be one of: absent, present, got: {}", a.state));
        }
        if let Some(s) = &a.scope {
            if !matches!(s.as_str(), "local" | "global" | "swarm") {
                return Err(format!("value of scope must be one of: local, global, swarm, got: {s}"));
            }
        }
        Ok(())
    }

    async fn plan(&self, a: &Args, cx: &ModuleCtx<'_>) -> Result<Plan<()>, ModuleError> {
        let action = if a.state == "absent" { Action::Delete } else { Action::Create };
        crate::util::decide_while_acting(cx, action, "docker network", a.name.clone(), self.run(a, cx, true)).await
    }

    async fn apply(&self, a: &Args, _: (), cx: &ModuleCtx<'_>) -> Result<Outcome, ModuleError> {
        self.run(a, cx, false).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_normalized_as_pythons_ipaddress() {
        assert_eq!(norm_network("10.0.0.0/24"), "10.0.0.0/24");
        assert_eq!(norm_network("10.0.0.1/24"), "10.0.0.1/24", "host bits: kept as given");
        assert_eq!(norm_network("fd00:0:0::/64"), "fd00::/64");
        assert_eq!(norm_address("fd00:0::1"), "fd00::1");
        assert!(is_cidr("10.0.0.0/24") && !is_cidr("10.0.0.0") && is_cidr("fd00::/64"));
        assert!(version_lt("1.41", "1.47") && !version_lt("1.47", "1.30"));
    }
}
