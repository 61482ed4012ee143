//! `docker_container` (community.docker): creates, starts, stops, recreates and removes a
//! container of the target's Docker Engine, through the engine's API as community.docker does
//! (see `containers::api`).
//!
//! Arguments (as in Ansible): `name`, `image`, `state` (`started`, `present`, `stopped`,
//! `absent`, `healthy`), `command`, `entrypoint`, `env`, `labels`, `published_ports` (alias
//! `ports`), `exposed_ports` (aliases `exposed`, `expose`), `publish_all_ports`, `volumes`,
//! `networks` (`name`, `ipv4_address`, `ipv6_address`, `aliases`, `links`, `mac_address`),
//! `network_mode`, `networks_cli_compatible`, `restart_policy`, `restart_retries`, `hostname`,
//! `domainname`, `user`, `working_dir`, `stop_signal`, `stop_timeout`, `tty`, `interactive`,
//! `detach`, `init`, `privileged`, `read_only`, `auto_remove`, `paused`, `capabilities`,
//! `cap_drop`, `dns_servers`, `dns_search_domains`, `dns_opts`, `etc_hosts`, `groups`,
//! `security_opts`, `sysctls`, `tmpfs`, `memory`, `memory_reservation`, `memory_swap`,
//! `shm_size`, `cpus`, `cpu_shares`, `oom_score_adj`, `pids_limit`, `runtime`, `userns_mode`,
//! `uts`, `log_driver`, `log_options` (alias `log_opt`), `recreate`, `restart`, `pull`
//! (`missing`, `always`, `never`, or a boolean), `pull_check_mode_behavior`, `keep_volumes`,
//! `force_kill` (alias `forcekill`), `kill_signal`, `cleanup`, `output_logs`,
//! `comparisons`, `image_comparison`, `image_label_mismatch`, `image_name_mismatch`,
//! `container_default_behavior`, `command_handling` (`correct`), `default_host_ip`,
//! `removal_wait_timeout`, `healthy_wait_timeout`, `debug`. Other arguments of
//! community.docker's module are refused before connecting.
//!
//! It decides as community.docker does: each option given is compared with the container's
//! inspection (lists in order, sets and dictionaries allowing more on the container, unless
//! `comparisons` says otherwise; the image's own environment, labels, ports and volumes count
//! as given); a difference in anything but the resource limits and the restart policy, another
//! image, or `recreate` removes the container and creates it again; limits alone are updated
//! in place; networks are connected as listed. Registers `container` (the inspection after
//! the change; none in check mode before it exists), `status` (the exit code, with `detach:
//! false`), `actions` (in check mode and with `debug`), and `diff` with `--diff`.
//!
//! ```yaml
//! - community.docker.docker_container:
//!     name: web
//!     image: nginx:1.25
//!     published_ports: ["8080:80"]
//!     restart_policy: unless-stopped
//! ```

use super::api::{quote, Engine, Tracker};
use super::{lookup, norm_address, version_lt};
use crate::util::or_fail;
use async_trait::async_trait;
use prov_core::args::{lenient_bool, lenient_opt_bool, StringList};
use prov_core::module::{Action, DiffMode, Module, ModuleCtx, ModuleError, Outcome, Plan};
use serde::Deserialize;
use serde_json::{json, Map, Value as Json};
use std::time::Duration;

fn started() -> String {
    "started".into()
}

fn yes() -> bool {
    true
}

fn missing() -> Json {
    Json::from("missing")
}

fn default_healthy_wait() -> f64 {
    300.0
}

fn correct() -> String {
    "correct".into()
}
fn image_not_present() -> String {
    "image_not_present".into()
}
fn desired_image() -> String {
    "desired-image".into()
}
fn ignore() -> String {
    "ignore".into()
}
fn recreate() -> String {
    "recreate".into()
}
fn no_defaults() -> String {
    "no_defaults".into()
}

/// One entry of `networks`.
#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct Network {
    /// The network's name.
    pub name: String,
    /// A fixed IPv4 address on it.
    #[serde(default)]
    pub ipv4_address: Option<String>,
    /// A fixed IPv6 address on it.
    #[serde(default)]
    pub ipv6_address: Option<String>,
    /// Other names of the container on it.
    #[serde(default)]
    pub aliases: Option<StringList>,
    /// Links (`container[:alias]`).
    #[serde(default)]
    pub links: Option<StringList>,
    /// The MAC address on it.
    #[serde(default)]
    pub mac_address: Option<String>,
}

/// Arguments of `docker_container`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    /// The container.
    pub name: String,
    /// Its image (`name[:tag]` or an id).
    #[serde(default)]
    pub image: Option<String>,
    /// `started`, `present`, `stopped`, `absent` or `healthy`.
    #[serde(default = "started")]
    pub state: String,
    /// The command (a string split as a shell would, or a list).
    #[serde(default)]
    pub command: Option<Json>,
    /// Only `correct` (`compatibility` is refused).
    #[serde(default = "correct")]
    pub command_handling: String,
    /// The entrypoint.
    #[serde(default)]
    pub entrypoint: Option<StringList>,
    /// Environment variables (text values).
    #[serde(default)]
    pub env: Option<Map<String, Json>>,
    /// Labels.
    #[serde(default)]
    pub labels: Option<Map<String, Json>>,
    /// Ports to publish (`[ip:][host:]container[/proto]`).
    #[serde(default, alias = "ports")]
    pub published_ports: Option<StringList>,
    /// Ports to expose.
    #[serde(default, alias = "exposed", alias = "expose")]
    pub exposed_ports: Option<StringList>,
    /// Publish every exposed port.
    #[serde(default, deserialize_with = "lenient_opt_bool")]
    pub publish_all_ports: Option<bool>,
    /// Volumes and bind mounts (`[host:]container[:mode]`).
    #[serde(default)]
    pub volumes: Option<StringList>,
    /// Networks to connect to.
    #[serde(default)]
    pub networks: Option<Vec<Network>>,
    /// The network mode.
    #[serde(default)]
    pub network_mode: Option<String>,
    /// The first network is the network mode, as with the CLI.
    #[serde(default = "yes", deserialize_with = "lenient_bool")]
    pub networks_cli_compatible: bool,
    /// `no`, `on-failure`, `always`, `unless-stopped` (YAML's `no`, a boolean, is `no`).
    #[serde(default, deserialize_with = "restart_policy")]
    pub restart_policy: Option<String>,
    /// Restarts for `on-failure`.
    #[serde(default)]
    pub restart_retries: Option<i64>,
    /// The host name.
    #[serde(default)]
    pub hostname: Option<String>,
    /// The domain name.
    #[serde(default)]
    pub domainname: Option<String>,
    /// The user.
    #[serde(default)]
    pub user: Option<String>,
    /// The working directory.
    #[serde(default)]
    pub working_dir: Option<String>,
    /// The stop signal.
    #[serde(default)]
    pub stop_signal: Option<String>,
    /// Seconds to wait for a stop.
    #[serde(default)]
    pub stop_timeout: Option<i64>,
    /// A pseudo-TTY.
    #[serde(default, deserialize_with = "lenient_opt_bool")]
    pub tty: Option<bool>,
    /// Keep stdin open.
    #[serde(default, deserialize_with = "lenient_opt_bool")]
    pub interactive: Option<bool>,
    /// Do not wait for the container to exit.
    #[serde(default, deserialize_with = "lenient_opt_bool")]
    pub detach: Option<bool>,
    /// An init process.
    #[serde(default, deserialize_with = "lenient_opt_bool")]
    pub init: Option<bool>,
    /// Privileged mode.
    #[serde(default, deserialize_with = "lenient_opt_bool")]
    pub privileged: Option<bool>,
    /// A read-only root file system.
    #[serde(default, deserialize_with = "lenient_opt_bool")]
    pub read_only: Option<bool>,
    /// Remove the container when it exits.
    #[serde(default, deserialize_with = "lenient_opt_bool")]
    pub auto_remove: Option<bool>,
    /// Paused or not.
    #[serde(default, deserialize_with = "lenient_opt_bool")]
    pub paused: Option<bool>,
    /// Capabilities to add.
    #[serde(default)]
    pub capabilities: Option<StringList>,
    /// Capabilities to drop.
    #[serde(default)]
    pub cap_drop: Option<StringList>,
    /// DNS servers.
    #[serde(default)]
    pub dns_servers: Option<StringList>,
    /// DNS search domains.
    #[serde(default)]
    pub dns_search_domains: Option<StringList>,
    /// DNS options.
    #[serde(default)]
    pub dns_opts: Option<StringList>,
    /// `/etc/hosts` entries (name: address).
    #[serde(default)]
    pub etc_hosts: Option<Map<String, Json>>,
    /// Extra groups.
    #[serde(default)]
    pub groups: Option<StringList>,
    /// Security options.
    #[serde(default)]
    pub security_opts: Option<StringList>,
    /// Kernel parameters.
    #[serde(default)]
    pub sysctls: Option<Map<String, Json>>,
    /// tmpfs mounts (`path[:options]`).
    #[serde(default)]
    pub tmpfs: Option<StringList>,
    /// Memory limit (`512M`).
    #[serde(default, deserialize_with = "crate::util::stringish")]
    pub memory: Option<String>,
    /// Memory soft limit.
    #[serde(default, deserialize_with = "crate::util::stringish")]
    pub memory_reservation: Option<String>,
    /// Memory plus swap (`unlimited` or -1 for no limit).
    #[serde(default, deserialize_with = "crate::util::stringish")]
    pub memory_swap: Option<String>,
    /// Size of `/dev/shm`.
    #[serde(default, deserialize_with = "crate::util::stringish")]
    pub shm_size: Option<String>,
    /// CPUs.
    #[serde(default)]
    pub cpus: Option<f64>,
    /// CPU shares.
    #[serde(default)]
    pub cpu_shares: Option<i64>,
    /// OOM score adjustment.
    #[serde(default)]
    pub oom_score_adj: Option<i64>,
    /// Process limit.
    #[serde(default)]
    pub pids_limit: Option<i64>,
    /// The runtime.
    #[serde(default)]
    pub runtime: Option<String>,
    /// User namespace mode.
    #[serde(default)]
    pub userns_mode: Option<String>,
    /// UTS namespace mode.
    #[serde(default)]
    pub uts: Option<String>,
    /// The logging driver.
    #[serde(default)]
    pub log_driver: Option<String>,
    /// Its options.
    #[serde(default, alias = "log_opt")]
    pub log_options: Option<Map<String, Json>>,
    /// Remove and create it even when it is right.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub recreate: bool,
    /// Restart a running container.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub restart: bool,
    /// `missing`, `always`, `never`, or a boolean.
    #[serde(default = "missing")]
    pub pull: Json,
    /// What check mode says about a pull.
    #[serde(default = "image_not_present")]
    pub pull_check_mode_behavior: String,
    /// Keep anonymous volumes on removal.
    #[serde(default = "yes", deserialize_with = "lenient_bool")]
    pub keep_volumes: bool,
    /// Kill instead of stop.
    #[serde(default, alias = "forcekill", deserialize_with = "lenient_bool")]
    pub force_kill: bool,
    /// The signal of a kill.
    #[serde(default)]
    pub kill_signal: Option<String>,
    /// Remove the container after it ran (`detach: false`).
    #[serde(default, deserialize_with = "lenient_bool")]
    pub cleanup: bool,
    /// Log the output (`detach: false`).
    #[serde(default, deserialize_with = "lenient_bool")]
    pub output_logs: bool,
    /// How options are compared.
    #[serde(default)]
    pub comparisons: Option<Map<String, Json>>,
    /// `desired-image` or `current-image`.
    #[serde(default = "desired_image")]
    pub image_comparison: String,
    /// `ignore` or `fail`.
    #[serde(default = "ignore")]
    pub image_label_mismatch: String,
    /// `recreate` or `ignore`.
    #[serde(default = "recreate")]
    pub image_name_mismatch: String,
    /// `no_defaults` or `compatibility`.
    #[serde(default = "no_defaults")]
    pub container_default_behavior: String,
    /// The address of published ports without one.
    #[serde(default)]
    pub default_host_ip: Option<String>,
    /// Seconds to wait for a removal.
    #[serde(default)]
    pub removal_wait_timeout: Option<f64>,
    /// Seconds to wait for `healthy`.
    #[serde(default = "default_healthy_wait")]
    pub healthy_wait_timeout: f64,
    /// Registers `actions` and `diff` in every mode.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub debug: bool,
}

/// The `docker_container` module.
#[derive(Debug, Default)]
pub struct DockerContainer;

/// How an option's values compare (`comparison_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Value,
    List,
    Set,
    Dict,
}

/// Where an option lives in the container's inspection.
#[derive(Debug, Clone, Copy)]
enum Place {
    Config(&'static str),
    Host(&'static str),
    Special,
}

/// One option of community.docker's table, in its order.
struct Opt {
    name: &'static str,
    kind: Kind,
    place: Place,
    /// The key of `POST /containers/{id}/update` that changes it in place.
    update: Option<&'static str>,
    /// `strict` by default rather than the kind's default.
    ignore_by_default: bool,
}

const fn opt(name: &'static str, kind: Kind, place: Place) -> Opt {
    Opt { name, kind, place, update: None, ignore_by_default: false }
}

const fn upd(name: &'static str, kind: Kind, place: Place, key: &'static str) -> Opt {
    Opt { name, kind, place, update: Some(key), ignore_by_default: false }
}

use Kind::*;
use Place::*;

/// The options this module supports, in community.docker's `OPTIONS` order.
const OPTIONS: &[Opt] = &[
    opt("auto_remove", Value, Host("AutoRemove")),
    opt("capabilities", Set, Host("CapAdd")),
    opt("cap_drop", Set, Host("CapDrop")),
    opt("command", List, Special),
    upd("cpu_shares", Value, Host("CpuShares"), "CpuShares"),
    opt("entrypoint", List, Config("Entrypoint")),
    opt("cpus", Value, Host("NanoCpus")),
    opt("detach", Value, Special),
    opt("interactive", Value, Special),
    opt("dns_servers", List, Host("Dns")),
    opt("dns_opts", Set, Host("DnsOptions")),
    opt("dns_search_domains", List, Host("DnsSearch")),
    opt("domainname", Value, Config("Domainname")),
    opt("env", Set, Special),
    opt("etc_hosts", Set, Host("ExtraHosts")),
    opt("groups", Set, Host("GroupAdd")),
    opt("hostname", Value, Config("Hostname")),
    opt("init", Value, Host("Init")),
    opt("labels", Dict, Special),
    opt("log_driver", Value, Special),
    opt("log_options", Dict, Special),
    upd("memory", Value, Host("Memory"), "Memory"),
    upd("memory_reservation", Value, Host("MemoryReservation"), "MemoryReservation"),
    upd("memory_swap", Value, Host("MemorySwap"), "MemorySwap"),
    Opt { name: "stop_timeout", kind: Value, place: Config("StopTimeout"), update: None, ignore_by_default: true },
    opt("network_mode", Value, Special),
    opt("oom_score_adj", Value, Host("OomScoreAdj")),
    opt("pids_limit", Value, Host("PidsLimit")),
    opt("privileged", Value, Host("Privileged")),
    opt("read_only", Value, Host("ReadonlyRootfs")),
    upd("restart_policy", Value, Special, "RestartPolicy"),
    upd("restart_retries", Value, Special, "RestartPolicy"),
    opt("runtime", Value, Host("Runtime")),
    opt("security_opts", Set, Host("SecurityOpt")),
    opt("shm_size", Value, Host("ShmSize")),
    opt("stop_signal", Value, Config("StopSignal")),
    opt("sysctls", Dict, Host("Sysctls")),
    opt("tmpfs", Dict, Host("Tmpfs")),
    opt("tty", Value, Config("Tty")),
    opt("user", Value, Config("User")),
    opt("userns_mode", Value, Host("UsernsMode")),
    opt("uts", Value, Host("UTSMode")),
    opt("working_dir", Value, Config("WorkingDir")),
    opt("volumes", Set, Special),
    opt("volume_binds", Set, Special),
    opt("exposed_ports", Set, Special),
    opt("publish_all_ports", Value, Special),
    opt("published_ports", Dict, Special),
];

/// Ansible names (and aliases) a `comparisons` key may use, mapped to the option.
fn comparison_key(k: &str) -> Option<&'static str> {
    let k = match k {
        "ports" => "published_ports",
        "exposed" | "expose" => "exposed_ports",
        "log_opt" => "log_options",
        "image" => "image",
        "networks" => "networks",
        other => other,
    };
    if k == "image" {
        return Some("image");
    }
    if k == "networks" {
        return Some("networks");
    }
    OPTIONS.iter().find(|o| o.name == k && o.name != "volume_binds").map(|o| o.name)
}

/// Comparison modes after `comparisons`.
struct Modes {
    modes: Map<String, Json>,
}

impl Modes {
    fn of(&self, name: &str) -> &str {
        self.modes.get(name).and_then(|m| m.as_str()).unwrap_or("strict")
    }
}

fn default_mode(o: &Opt) -> &'static str {
    if o.ignore_by_default {
        "ignore"
    } else if matches!(o.kind, Value | List) {
        "strict"
    } else {
        "allow_more_present"
    }
}

/// The modes of every option, `comparisons` applied as community.docker applies it.
fn modes(a: &Args) -> Result<Modes, String> {
    let mut m = Map::new();
    for o in OPTIONS {
        m.insert(o.name.into(), Json::from(default_mode(o)));
    }
    m.insert("image".into(), Json::from("strict"));
    m.insert("networks".into(), Json::from("allow_more_present"));
    if let Some(c) = &a.comparisons {
        if let Some(all) = c.get("*") {
            let v = all.as_str().unwrap_or_default();
            if v != "strict" && v != "ignore" {
                return Err("The wildcard can only be used with comparison modes 'strict' and 'ignore'!".into());
            }
            for (k, mode) in m.iter_mut() {
                if k == "networks" && a.networks.is_none() {
                    continue;
                }
                *mode = Json::from(v);
            }
        }
        let mut used: Map<String, Json> = Map::new();
        for (k, v) in c {
            if k == "*" {
                continue;
            }
            let Some(main) = comparison_key(k) else {
                return Err(format!("Unknown module option '{k}' in comparisons dict!"));
            };
            if let Some(other) = used.get(main) {
                return Err(format!(
                    "Both '{k}' and '{}' (aliases of {main}) are specified in comparisons dict!",
                    other.as_str().unwrap_or_default()
                ));
            }
            used.insert(main.into(), Json::from(k.as_str()));
            let v = v.as_str().unwrap_or_default();
            match v {
                "strict" | "ignore" => {
                    m.insert(main.into(), Json::from(v));
                }
                "allow_more_present" => {
                    let kind = OPTIONS.iter().find(|o| o.name == main).map(|o| o.kind);
                    if main == "image" || kind == Some(Value) {
                        return Err(format!(
                            "Option '{k}' is a value and not a set/list/dict, so its comparison cannot be {v}"
                        ));
                    }
                    m.insert(main.into(), Json::from(v));
                }
                _ => return Err(format!("Unknown comparison mode '{v}'!")),
            }
        }
    }
    // `volume_binds` compares as `volumes` does.
    let v = m.get("volumes").cloned().unwrap_or(Json::Null);
    m.insert("volume_binds".into(), v);
    Ok(Modes { modes: m })
}

/// `compare_dict_allow_more_present`.
fn dict_has(a: &Map<String, Json>, b: &Map<String, Json>) -> bool {
    a.iter().all(|(k, v)| b.get(k) == Some(v))
}

/// The elements of a set value (a dictionary's keys, as Python's `set(dict)`).
fn set_of(v: &Json) -> Vec<Json> {
    match v {
        Json::Array(a) => a.clone(),
        Json::Object(o) => o.keys().map(|k| Json::from(k.as_str())).collect(),
        Json::String(s) => s.chars().map(|c| Json::from(c.to_string())).collect(),
        _ => Vec::new(),
    }
}

fn json_len(v: &Json) -> usize {
    match v {
        Json::Array(a) => a.len(),
        Json::Object(o) => o.len(),
        Json::String(s) => s.chars().count(),
        _ => 0,
    }
}

/// community.docker's `compare_generic`.
fn compare_generic(a: &Json, b: &Json, method: &str, kind: Kind) -> bool {
    if method == "ignore" {
        return true;
    }
    if a.is_null() || b.is_null() {
        if a == b {
            return true;
        }
        if kind == Value {
            return false;
        }
        if method == "allow_more_present" && a.is_null() {
            return true;
        }
        return json_len(if a.is_null() { b } else { a }) == 0;
    }
    match kind {
        Value => py_eq(a, b),
        List => {
            let (Some(a), Some(b)) = (a.as_array(), b.as_array()) else { return a == b };
            if method == "strict" {
                return a == b;
            }
            let mut i = 0;
            for v in a {
                while i < b.len() && &b[i] != v {
                    i += 1;
                }
                if i == b.len() {
                    return false;
                }
                i += 1;
            }
            true
        }
        Dict => {
            let (Some(ao), Some(bo)) = (a.as_object(), b.as_object()) else { return a == b };
            if method == "strict" {
                a == b
            } else {
                dict_has(ao, bo)
            }
        }
        Set => {
            let (sa, sb) = (set_of(a), set_of(b));
            let sub = sa.iter().all(|x| sb.contains(x));
            if method == "strict" {
                sub && sb.iter().all(|x| sa.contains(x))
            } else {
                sub
            }
        }
    }
}

/// Python's `==` on JSON values: numbers by value, `True == 1`.
fn py_eq(a: &Json, b: &Json) -> bool {
    match (a, b) {
        (Json::Number(x), Json::Number(y)) => x.as_f64() == y.as_f64(),
        (Json::Bool(x), Json::Number(y)) | (Json::Number(y), Json::Bool(x)) => {
            y.as_f64() == Some(if *x { 1.0 } else { 0.0 })
        }
        _ => a == b,
    }
}

/// Python's `sorted` of a list of text or numbers (for the diff of a set).
fn sorted(v: &Json) -> Json {
    match v {
        Json::Array(a) => {
            let mut a = a.clone();
            a.sort_by(|x, y| match (x, y) {
                (Json::String(p), Json::String(q)) => p.cmp(q),
                _ => x.to_string().cmp(&y.to_string()),
            });
            Json::Array(a)
        }
        Json::Object(o) => {
            let mut k: Vec<&String> = o.keys().collect();
            k.sort();
            Json::from(k.into_iter().map(|s| Json::from(s.as_str())).collect::<Vec<_>>())
        }
        other => other.clone(),
    }
}

/// `shlex.split` in POSIX mode.
fn shlex_split(s: &str) -> Result<Vec<String>, String> {
    crate::commands::split_words(s)
}

/// `human_to_bytes` as community.docker calls it, with its failure text.
fn to_bytes(name: &str, v: &str, unlimited: Option<i64>) -> Result<i64, String> {
    if let Some(u) = unlimited {
        if v == "unlimited" || v == u.to_string() {
            return Ok(u);
        }
    }
    prov_core::template::filters::human_to_bytes_text(v, None, false)
        .map(|n| n as i64)
        .map_err(|e| format!("Failed to convert {name} to bytes: {e}"))
}

/// Whether a volume mode is only permissions (`ro`, `rw,z`, ...).
fn is_volume_permissions(mode: &str) -> bool {
    mode.split(',').all(|p| {
        matches!(
            p,
            "rw" | "ro"
                | "z"
                | "Z"
                | "consistent"
                | "delegated"
                | "cached"
                | "rprivate"
                | "private"
                | "rshared"
                | "shared"
                | "rslave"
                | "slave"
                | "nocopy"
        )
    })
}

/// A published container port (a number, or `port/protocol`) and its host addresses and ports
/// (an empty address is the default one).
type Binding = (Json, Vec<(String, Option<String>)>);

/// The values of the options after community.docker's preparation (`values` of each option
/// group), plus the endpoint settings of each network.
#[derive(Debug, Default)]
struct Values {
    v: Map<String, Json>,
    /// `ports`: the exposed ports as (port, protocol), sorted.
    ports: Vec<(i64, String)>,
    /// `published_ports` as the Docker SDK takes them: container port key → bindings.
    bindings: Vec<Binding>,
    networks: Vec<Map<String, Json>>,
    warnings: Vec<String>,
}

fn list(v: &StringList) -> Json {
    Json::from(v.0.clone())
}

fn text_map(m: &Map<String, Json>) -> Map<String, Json> {
    m.iter().map(|(k, v)| (k.clone(), Json::from(super::py_str_python(v)))).collect()
}

/// The choices of `restart_policy`.
const RESTART_POLICIES: &[&str] = &["no", "on-failure", "always", "unless-stopped"];

/// `restart_policy` as ansible-core reads a choice: a boolean (YAML's unquoted `no`) is text
/// first, then the one choice that reads as it (`no`).
fn restart_policy<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let s = <Option<crate::util::Text> as serde::Deserialize>::deserialize(d)?.map(|t| t.0);
    Ok(s.map(|s| prov_core::args::chosen(&s, RESTART_POLICIES).to_string()))
}

/// Splits `text` at `:`, keeping `[ipv6]` in one part.
fn split_colon_ipv6(text: &str) -> Result<Vec<String>, String> {
    if !text.contains('[') {
        return Ok(text.split(':').map(str::to_string).collect());
    }
    let mut start = 0;
    let mut out: Vec<String> = Vec::new();
    let b = text.as_bytes();
    while start < text.len() {
        let Some(i) = text[start..].find('[').map(|i| i + start) else {
            out.extend(text[start..].split(':').map(str::to_string));
            break;
        };
        let Some(j) = text[i..].find(']').map(|j| j + i) else {
            return Err(format!("Cannot find closing \"]\" in input \"{text}\" for opening \"[\" at index {}!", i + 1));
        };
        out.extend(text[start..i].split(':').map(str::to_string));
        let k = text[j..].find(':').map(|k| k + j);
        match k {
            None => {
                if let Some(last) = out.last_mut() {
                    last.push_str(&text[i..]);
                }
                start = text.len();
            }
            Some(k) => {
                if let Some(last) = out.last_mut() {
                    last.push_str(&text[i..k]);
                }
                if k == text.len() - 1 || b.len() == k + 1 {
                    out.push(String::new());
                    break;
                }
                start = k + 1;
            }
        }
    }
    Ok(out)
}

/// The largest port number (ranges beyond it are refused before anything is expanded).
const MAX_PORT: i64 = 65535;

/// A container port or range as community.docker reads it, with Python's `int()`: spaces around
/// a number are allowed (`"80, 443"` gives the port ` 443`, which is 443).
fn port_range(s: &str) -> Result<Vec<i64>, String> {
    if let Some((a, b)) = s.split_once('-') {
        let (Ok(a), Ok(b)) = (a.trim().parse::<i64>(), b.trim().parse::<i64>()) else {
            return Err(format!("Invalid port range: \"{s}\""));
        };
        if b < a || a < 0 || b > MAX_PORT {
            return Err(format!("Invalid port range: \"{s}\""));
        }
        return Ok((a..=b).collect());
    }
    s.trim().parse::<i64>().map(|p| vec![p]).map_err(|_| format!("Invalid port: \"{s}\""))
}

fn is_ipv4(s: &str) -> bool {
    let p: Vec<&str> = s.split('.').collect();
    p.len() == 4 && p.iter().all(|x| !x.is_empty() && x.bytes().all(|c| c.is_ascii_digit()))
}

/// The values of every option given, prepared as community.docker prepares them (before the
/// engine is asked anything).
fn prepare(a: &Args) -> Result<Values, String> {
    let mut out = Values::default();
    let v = &mut out.v;
    let put = |v: &mut Map<String, Json>, k: &str, x: Json| {
        v.insert(k.into(), x);
    };
    if let Some(x) = a.auto_remove {
        put(v, "auto_remove", Json::from(x));
    }
    if let Some(x) = &a.capabilities {
        put(v, "capabilities", list(x));
    }
    if let Some(x) = &a.cap_drop {
        put(v, "cap_drop", list(x));
    }
    if let Some(c) = &a.command {
        let words = match c {
            Json::Array(items) => items.iter().map(super::py_str_python).collect(),
            Json::Null => Vec::new(),
            other => shlex_split(&super::py_str_python(other))?,
        };
        if !c.is_null() {
            put(v, "command", Json::from(words));
        }
    }
    if let Some(x) = a.cpu_shares {
        put(v, "cpu_shares", Json::from(x));
    }
    if let Some(x) = &a.entrypoint {
        put(v, "entrypoint", list(x));
    }
    if let Some(x) = a.cpus {
        put(v, "cpus", Json::from((x * 1e9).round() as i64));
    }
    if let Some(x) = a.detach {
        put(v, "detach", Json::from(x));
    }
    if let Some(x) = a.interactive {
        put(v, "interactive", Json::from(x));
    }
    if let Some(x) = &a.dns_servers {
        put(v, "dns_servers", list(x));
    }
    if let Some(x) = &a.dns_opts {
        put(v, "dns_opts", list(x));
    }
    if let Some(x) = &a.dns_search_domains {
        put(v, "dns_search_domains", list(x));
    }
    if let Some(x) = &a.domainname {
        put(v, "domainname", Json::from(x.as_str()));
    }
    if let Some(env) = &a.env {
        let mut lines = Vec::new();
        for (k, x) in env {
            let Json::String(s) = x else {
                return Err(format!(
                    "Non-string value found for env option. Ambiguous env options must be wrapped in quotes to avoid them being interpreted. Key: {k}"
                ));
            };
            lines.push(Json::from(format!("{k}={s}")));
        }
        put(v, "env", Json::from(lines));
    }
    if let Some(h) = &a.etc_hosts {
        let hosts: Vec<Json> = h.iter().map(|(k, x)| Json::from(format!("{k}:{}", super::py_str_python(x)))).collect();
        put(v, "etc_hosts", Json::from(hosts));
    }
    if let Some(x) = &a.groups {
        put(v, "groups", list(x));
    }
    if let Some(x) = &a.hostname {
        put(v, "hostname", Json::from(x.as_str()));
    }
    if let Some(x) = a.init {
        put(v, "init", Json::from(x));
    }
    if let Some(l) = &a.labels {
        put(v, "labels", Json::Object(super::sanitize_labels(l)?));
    }
    if let Some(d) = &a.log_driver {
        put(v, "log_driver", Json::from(d.as_str()));
        if let Some(o) = &a.log_options {
            for (k, x) in o {
                if !x.is_string() {
                    out.warnings.push(format!(
                        "Non-string value found for log_options option '{k}'. The value is automatically converted to '{}'. If this is not correct, or you want to avoid such warnings, please quote the value.",
                        super::py_str_python(x)
                    ));
                }
            }
            put(v, "log_options", Json::Object(text_map(o)));
        }
    }
    for (name, val, unlimited) in [
        ("memory", &a.memory, None),
        ("memory_reservation", &a.memory_reservation, None),
        ("memory_swap", &a.memory_swap, Some(-1)),
    ] {
        if let Some(s) = val {
            put(v, name, Json::from(to_bytes(name, s, unlimited)?));
        }
    }
    if let Some(x) = a.stop_timeout {
        put(v, "stop_timeout", Json::from(x));
    }
    if let Some(x) = a.oom_score_adj {
        put(v, "oom_score_adj", Json::from(x));
    }
    if let Some(x) = a.pids_limit {
        put(v, "pids_limit", Json::from(x));
    }
    if let Some(x) = a.privileged {
        put(v, "privileged", Json::from(x));
    }
    if let Some(x) = a.read_only {
        put(v, "read_only", Json::from(x));
    }
    if let Some(x) = &a.restart_policy {
        put(v, "restart_policy", Json::from(x.as_str()));
    }
    if let Some(x) = a.restart_retries {
        put(v, "restart_retries", Json::from(x));
    }
    if let Some(x) = &a.runtime {
        put(v, "runtime", Json::from(x.as_str()));
    }
    if let Some(x) = &a.security_opts {
        put(v, "security_opts", list(x));
    }
    if let Some(s) = &a.shm_size {
        put(v, "shm_size", Json::from(to_bytes("shm_size", s, None)?));
    }
    if let Some(x) = &a.stop_signal {
        put(v, "stop_signal", Json::from(x.as_str()));
    }
    if let Some(s) = &a.sysctls {
        put(v, "sysctls", Json::Object(text_map(s)));
    }
    if let Some(t) = &a.tmpfs {
        let mut m = Map::new();
        for spec in &t.0 {
            let (p, o) = spec.split_once(':').unwrap_or((spec, ""));
            m.insert(p.into(), Json::from(o));
        }
        put(v, "tmpfs", Json::Object(m));
    }
    if let Some(x) = a.tty {
        put(v, "tty", Json::from(x));
    }
    if let Some(x) = &a.user {
        put(v, "user", Json::from(x.as_str()));
    }
    if let Some(x) = &a.userns_mode {
        put(v, "userns_mode", Json::from(x.as_str()));
    }
    if let Some(x) = &a.uts {
        put(v, "uts", Json::from(x.as_str()));
    }
    if let Some(x) = &a.working_dir {
        put(v, "working_dir", Json::from(x.as_str()));
    }
    // Networks: the first is the network mode, as with the CLI.
    let mut network_mode = a.network_mode.clone();
    if let Some(nets) = a.networks.as_ref().filter(|n| !n.is_empty()) {
        if a.networks_cli_compatible && network_mode.is_none() {
            network_mode = Some(nets[0].name.clone());
        }
        for n in nets {
            let links = n.links.as_ref().filter(|l| !l.0.is_empty()).map(|l| {
                Json::from(
                    l.0.iter()
                        .map(|x| {
                            let (c, al) = x.split_once(':').unwrap_or((x, x));
                            json!([c, al])
                        })
                        .collect::<Vec<_>>(),
                )
            });
            let mut m = Map::new();
            m.insert("name".into(), Json::from(n.name.as_str()));
            m.insert("ipv4_address".into(), n.ipv4_address.clone().map(Json::from).unwrap_or(Json::Null));
            m.insert("ipv6_address".into(), n.ipv6_address.clone().map(Json::from).unwrap_or(Json::Null));
            m.insert("aliases".into(), n.aliases.as_ref().map(list).unwrap_or(Json::Null));
            m.insert("links".into(), links.unwrap_or_else(|| n.links.as_ref().map(list).unwrap_or(Json::Null)));
            m.insert(
                "mac_address".into(),
                n.mac_address.clone().map(|m| Json::from(m.replace('-', ":"))).unwrap_or(Json::Null),
            );
            out.networks.push(m);
        }
    }
    if let Some(m) = network_mode {
        put(v, "network_mode", Json::from(m));
    }
    // Volumes: binds apart, relative host paths made absolute.
    if let Some(vols) = &a.volumes {
        let mut new_vols = Vec::new();
        let mut binds = Vec::new();
        for vol in &vols.0 {
            let parts: Vec<&str> = vol.split(':').collect();
            if parts.len() == 3 {
                if !is_volume_permissions(parts[2]) {
                    return Err(format!("Found invalid volumes mode: {}", parts[2]));
                }
                if parts[0].starts_with(['.', '~']) {
                    return Err(format!(
                        "volume {vol}: a relative or ~ host path is resolved on the controller by community.docker; prov refuses it, give an absolute path"
                    ));
                }
                new_vols.push(vol.clone());
                binds.push(vol.clone());
                continue;
            }
            if parts.len() == 2 && !is_volume_permissions(parts[1]) {
                if parts[0].starts_with(['.', '~']) {
                    return Err(format!(
                        "volume {vol}: a relative or ~ host path is resolved on the controller by community.docker; prov refuses it, give an absolute path"
                    ));
                }
                new_vols.push(vol.clone());
                binds.push(format!("{}:{}:rw", parts[0], parts[1]));
                continue;
            }
            new_vols.push(vol.clone());
        }
        put(v, "volumes", Json::from(new_vols));
        put(v, "volume_binds", Json::from(binds));
    }
    // Ports.
    if let Some(pp) = &a.published_ports {
        if pp.0.iter().any(|p| p == "all") {
            return Err("Specifying \"all\" in published_ports is no longer allowed. Set publish_all_ports to \"true\" instead to randomly assign port mappings for those not specified by published_ports.".into());
        }
        for port in &pp.0 {
            let parts = split_colon_ipv6(port)?;
            let last = parts.last().cloned().unwrap_or_default();
            let (cport, proto) = match last.split_once('/') {
                Some((p, pr)) => (p.to_string(), pr.to_string()),
                None => (last.clone(), String::new()),
            };
            let cports = port_range(&cport)?;
            let binds: Vec<(String, Option<String>)> = match parts.len() {
                1 => cports.iter().map(|_| (String::new(), None)).collect(),
                2 => {
                    if cports.len() == 1 {
                        vec![(String::new(), Some(parts[0].clone()))]
                    } else {
                        port_range(&parts[0])?.into_iter().map(|p| (String::new(), Some(p.to_string()))).collect()
                    }
                }
                3 => {
                    let mut ip = parts[0].clone();
                    let v6 = ip.starts_with('[') && ip.ends_with(']');
                    if !is_ipv4(&ip) && !v6 {
                        return Err(format!("Bind addresses for published ports must be IPv4 or IPv6 addresses, not hostnames. Use the dig lookup to resolve hostnames. (Found hostname: {ip})"));
                    }
                    if v6 {
                        ip = ip[1..ip.len() - 1].to_string();
                    }
                    if parts[1].is_empty() {
                        cports.iter().map(|_| (ip.clone(), None)).collect()
                    } else if cports.len() == 1 {
                        vec![(ip, Some(parts[1].clone()))]
                    } else {
                        port_range(&parts[1])?.into_iter().map(|p| (ip.clone(), Some(p.to_string()))).collect()
                    }
                }
                n => {
                    return Err(format!("Invalid port description \"{port}\" - expected 1 to 3 colon-separated parts, but got {n}. Maybe you forgot to use square brackets ([...]) around an IPv6 address?"))
                }
            };
            for (bind, cp) in binds.into_iter().zip(cports) {
                let key = if proto.is_empty() { Json::from(cp) } else { Json::from(format!("{cp}/{proto}")) };
                match out.bindings.iter_mut().find(|(k, _)| *k == key) {
                    Some((_, list)) => list.push(bind),
                    None => out.bindings.push((key, vec![bind])),
                }
            }
        }
        out.v.insert("published_ports".into(), Json::Null);
    }
    let mut exposed: Vec<(i64, String)> = Vec::new();
    for port in a.exposed_ports.iter().flat_map(|e| e.0.iter()) {
        let port = port.trim();
        let (p, proto) = port.split_once('/').unwrap_or((port, "tcp"));
        match p.split_once('-') {
            None => {
                let n = p.parse::<i64>().map_err(|e| format!("Cannot parse port {port:?}: {e}"))?;
                exposed.push((n, proto.to_string()));
            }
            Some((s, e)) => {
                let (Ok(s), Ok(e)) = (s.parse::<i64>(), e.parse::<i64>()) else {
                    return Err(format!("Cannot parse port range {port:?}: invalid literal"));
                };
                if s > e {
                    return Err(format!(
                        "Cannot parse port range {port:?}: start port must be smaller or equal to end port."
                    ));
                }
                if s < 0 || e > MAX_PORT {
                    return Err(format!("Cannot parse port range {port:?}: ports go from 0 to {MAX_PORT}."));
                }
                exposed.extend((s..=e).map(|n| (n, proto.to_string())));
            }
        }
    }
    for (key, _) in &out.bindings {
        match key {
            Json::String(s) => {
                let (p, pr) = s.split_once('/').unwrap_or((s, "tcp"));
                exposed.push((p.parse().unwrap_or(0), pr.to_string()));
            }
            other => exposed.push((other.as_i64().unwrap_or(0), "tcp".into())),
        }
    }
    exposed.sort();
    exposed.dedup();
    out.ports = exposed;
    if a.exposed_ports.is_some() {
        out.v.insert("exposed_ports".into(), Json::Null);
    }
    if let Some(x) = a.publish_all_ports {
        out.v.insert("publish_all_ports".into(), Json::from(x));
    }
    Ok(out)
}

impl Values {
    /// `published_ports` with the default address filled in.
    fn bindings_with(&self, default_ip: &str) -> Vec<Binding> {
        self.bindings
            .iter()
            .map(|(k, l)| {
                (
                    k.clone(),
                    l.iter()
                        .map(|(ip, p)| (if ip.is_empty() { default_ip.to_string() } else { ip.clone() }, p.clone()))
                        .collect(),
                )
            })
            .collect()
    }
}

fn port_key(k: &Json) -> String {
    match k {
        Json::String(s) if s.contains('/') => s.clone(),
        Json::String(s) => format!("{s}/tcp"),
        other => format!("{}/tcp", other),
    }
}

fn normalize_port(p: &str) -> String {
    if p.contains('/') {
        p.to_string()
    } else {
        format!("{p}/tcp")
    }
}

fn image_config<'j>(image: Option<&'j Json>, key: &str) -> Option<&'j Json> {
    image.and_then(|i| i.get("Config")).and_then(|c| c.get(key)).filter(|v| !v.is_null())
}

/// The values community.docker expects on the container for the options given (and for the
/// environment and exposed ports, always), with the image's own settings counted.
fn expected(a: &Args, w: &Values, image: Option<&Json>, default_ip: &str) -> Vec<(&'static str, Json)> {
    let mut out = Vec::new();
    for o in OPTIONS {
        let given = w.v.get(o.name);
        let value = match o.name {
            "command" => {
                given.map(|c| match (c.as_array().is_some_and(|a| a.is_empty()), image_config(image, "Cmd")) {
                    (true, Some(cmd)) => cmd.clone(),
                    _ => c.clone(),
                })
            }
            "env" => {
                let mut env: Vec<(String, String)> = Vec::new();
                let lines = image_config(image, "Env")
                    .and_then(|e| e.as_array())
                    .into_iter()
                    .flatten()
                    .chain(given.and_then(|g| g.as_array()).into_iter().flatten());
                for l in lines {
                    let l = l.as_str().unwrap_or_default();
                    let (k, x) = l.split_once('=').unwrap_or((l, ""));
                    match env.iter_mut().find(|(n, _)| n == k) {
                        Some(e) => e.1 = x.to_string(),
                        None => env.push((k.to_string(), x.to_string())),
                    }
                }
                Some(Json::from(env.into_iter().map(|(k, x)| format!("{k}={x}")).collect::<Vec<_>>()))
            }
            "labels" => given.map(|l| {
                let mut m = Map::new();
                if a.image_label_mismatch == "ignore" {
                    if let Some(Json::Object(il)) = image_config(image, "Labels") {
                        m.extend(il.clone());
                    }
                }
                if let Json::Object(l) = l {
                    m.extend(l.clone());
                }
                Json::Object(m)
            }),
            "volumes" => {
                let mut vols = Map::new();
                if let Some(Json::Object(iv)) = image_config(image, "Volumes") {
                    vols.extend(iv.clone());
                }
                for vol in given.and_then(|g| g.as_array()).into_iter().flatten() {
                    let vol = vol.as_str().unwrap_or_default();
                    let parts: Vec<&str> = vol.split(':').collect();
                    if parts.len() == 3 || (parts.len() == 2 && !is_volume_permissions(parts[1])) {
                        continue;
                    }
                    vols.insert(vol.into(), json!({}));
                }
                (!vols.is_empty()).then_some(Json::Object(vols))
            }
            "volume_binds" => {
                let mut binds: Vec<Json> = given.and_then(|g| g.as_array()).cloned().unwrap_or_default();
                binds.dedup();
                Some(Json::from(binds))
            }
            "exposed_ports" => {
                let mut ports: Vec<String> = image_config(image, "ExposedPorts")
                    .and_then(|p| p.as_object())
                    .map(|p| p.keys().map(|k| normalize_port(k)).collect())
                    .unwrap_or_default();
                ports.extend(w.ports.iter().map(|(p, pr)| format!("{p}/{pr}")));
                ports.sort();
                ports.dedup();
                Some(Json::from(ports))
            }
            "published_ports" => given.map(|_| {
                let mut m = Map::new();
                for (k, binds) in w.bindings_with(default_ip) {
                    let key = port_key(&k);
                    let list: Vec<Json> = if binds.len() == 1 {
                        let (ip, p) = &binds[0];
                        vec![json!({"HostIp": ip, "HostPort": p.clone().unwrap_or_default()})]
                    } else {
                        binds
                            .iter()
                            .map(|(ip, p)| json!({"HostIp": ip, "HostPort": p.clone().unwrap_or_default()}))
                            .collect()
                    };
                    m.insert(key, Json::from(list));
                }
                Json::Object(m)
            }),
            _ => given.cloned(),
        };
        if let Some(v) = value {
            out.push((o.name, v));
        }
    }
    out
}

/// The container's value of each option (absent where the inspection has no such key).
fn current(c: &Json) -> Map<String, Json> {
    let cfg = c.get("Config").cloned().unwrap_or(json!({}));
    let host = c.get("HostConfig").cloned().unwrap_or(json!({}));
    let mut out = Map::new();
    for o in OPTIONS {
        match o.place {
            Config(k) => {
                if let Some(v) = cfg.get(k) {
                    out.insert(o.name.into(), v.clone());
                }
            }
            Host(k) => {
                if let Some(v) = host.get(k) {
                    out.insert(o.name.into(), v.clone());
                }
            }
            Special => {}
        }
    }
    if let Some(v) = cfg.get("Cmd") {
        out.insert("command".into(), v.clone());
    }
    let truthy = |v: Option<&Json>| v.is_some_and(|x| x.as_bool().unwrap_or(!x.is_null()));
    out.insert("interactive".into(), Json::from(truthy(cfg.get("OpenStdin"))));
    out.insert("detach".into(), Json::from(!(truthy(cfg.get("AttachStderr")) && truthy(cfg.get("AttachStdout")))));
    if let Some(v) = cfg.get("Env") {
        out.insert("env".into(), v.clone());
    }
    if let Some(v) = cfg.get("Labels") {
        out.insert("labels".into(), v.clone());
    }
    let log = host.get("LogConfig").cloned().unwrap_or(json!({}));
    out.insert("log_driver".into(), log.get("Type").cloned().unwrap_or(Json::Null));
    out.insert("log_options".into(), log.get("Config").cloned().unwrap_or(Json::Null));
    if let Some(v) = host.get("NetworkMode") {
        out.insert("network_mode".into(), v.clone());
    }
    let rp = host.get("RestartPolicy").cloned().unwrap_or(json!({}));
    out.insert("restart_policy".into(), rp.get("Name").cloned().unwrap_or(Json::Null));
    out.insert("restart_retries".into(), rp.get("MaximumRetryCount").cloned().unwrap_or(Json::Null));
    if let Some(v) = cfg.get("Volumes").filter(|v| !v.is_null()) {
        out.insert("volumes".into(), v.clone());
    }
    if let Some(v) = host.get("Binds").filter(|v| !v.is_null()) {
        out.insert("volume_binds".into(), v.clone());
    }
    let mut exposed = Vec::new();
    for p in cfg.get("ExposedPorts").and_then(|e| e.as_object()).into_iter().flat_map(|m| m.keys()) {
        let n = normalize_port(p);
        let (port, proto) = n.rsplit_once('/').unwrap_or((&n, "tcp"));
        match port.split_once('-').and_then(|(s, e)| Some((s.parse::<i64>().ok()?, e.parse::<i64>().ok()?))) {
            Some((s, e)) => exposed.extend((s..=e).map(|x| Json::from(format!("{x}/{proto}")))),
            None => exposed.push(Json::from(format!("{port}/{proto}"))),
        }
    }
    out.insert("exposed_ports".into(), Json::from(exposed));
    out.insert("published_ports".into(), host.get("PortBindings").cloned().unwrap_or(Json::Null));
    out.insert("publish_all_ports".into(), host.get("PublishAllPorts").cloned().unwrap_or(Json::Null));
    out
}

/// The body of `POST /containers/create` (`_compose_create_parameters`).
fn create_body(a: &Args, w: &Values, image: &str, default_ip: &str, api: &str) -> Json {
    let mut data = Map::new();
    let mut host = Map::new();
    for o in OPTIONS {
        let Some(v) = w.v.get(o.name) else { continue };
        match o.place {
            Config(k) => {
                data.insert(k.into(), v.clone());
            }
            Host(k) => {
                host.insert(k.into(), v.clone());
            }
            Special => {}
        }
    }
    if let Some(c) = w.v.get("command") {
        data.insert("Cmd".into(), c.clone());
    }
    // detach and interactive are always set.
    let detach = w.v.get("detach").and_then(|d| d.as_bool());
    let interactive = w.v.get("interactive").cloned().unwrap_or(Json::Null);
    data.insert("AttachStdout".into(), Json::from(false));
    data.insert("AttachStderr".into(), Json::from(false));
    data.insert("AttachStdin".into(), Json::from(false));
    data.insert("StdinOnce".into(), Json::from(false));
    data.insert("OpenStdin".into(), interactive.clone());
    if detach != Some(true) {
        data.insert("AttachStdout".into(), Json::from(true));
        data.insert("AttachStderr".into(), Json::from(true));
        if interactive.as_bool() == Some(true) {
            data.insert("AttachStdin".into(), Json::from(true));
            data.insert("StdinOnce".into(), Json::from(true));
        }
    }
    if let Some(e) = w.v.get("env") {
        data.insert("Env".into(), e.clone());
    }
    if let Some(l) = w.v.get("labels") {
        data.insert("Labels".into(), l.clone());
    }
    if let Some(d) = w.v.get("log_driver") {
        host.insert(
            "LogConfig".into(),
            json!({"Type": d, "Config": w.v.get("log_options").cloned().unwrap_or(json!({}))}),
        );
    }
    if let Some(m) = w.v.get("network_mode") {
        host.insert("NetworkMode".into(), m.clone());
    }
    if let Some(p) = w.v.get("restart_policy") {
        host.insert(
            "RestartPolicy".into(),
            json!({"Name": p, "MaximumRetryCount": w.v.get("restart_retries").cloned().unwrap_or(Json::Null)}),
        );
    }
    if let Some(vols) = w.v.get("volumes").and_then(|v| v.as_array()) {
        let mut m = Map::new();
        for vol in vols {
            let vol = vol.as_str().unwrap_or_default();
            let parts: Vec<&str> = vol.split(':').collect();
            if parts.len() == 3 || (parts.len() == 2 && !is_volume_permissions(parts[1])) {
                continue;
            }
            m.insert(vol.into(), json!({}));
        }
        data.insert("Volumes".into(), Json::Object(m));
    }
    if let Some(b) = w.v.get("volume_binds") {
        host.insert("Binds".into(), b.clone());
    }
    let exposed: Map<String, Json> = w.ports.iter().map(|(p, pr)| (format!("{p}/{pr}"), json!({}))).collect();
    data.insert("ExposedPorts".into(), Json::Object(exposed));
    if w.v.contains_key("published_ports") {
        let mut m = Map::new();
        for (k, binds) in w.bindings_with(default_ip) {
            let list: Vec<Json> =
                binds.iter().map(|(ip, p)| json!({"HostIp": ip, "HostPort": p.clone().unwrap_or_default()})).collect();
            m.insert(port_key(&k), Json::from(list));
        }
        host.insert("PortBindings".into(), Json::Object(m));
    }
    if w.v.get("publish_all_ports").and_then(|p| p.as_bool()) == Some(true) {
        host.insert("PublishAllPorts".into(), Json::from(true));
    }
    if !host.is_empty() {
        data.insert("HostConfig".into(), Json::Object(host));
    }
    data.insert("Image".into(), Json::from(image));
    let mut endpoints = Map::new();
    if a.networks_cli_compatible && !w.networks.is_empty() {
        let all = !version_lt(api, "1.44");
        for n in w.networks.iter().take(if all { usize::MAX } else { 1 }) {
            endpoints.insert(n["name"].as_str().unwrap_or_default().into(), Json::Object(endpoint_config(n)));
        }
        data.insert("NetworkingConfig".into(), json!({"EndpointsConfig": endpoints}));
    }
    Json::Object(data)
}

/// The endpoint settings of one network (`_create_endpoint_config`).
fn endpoint_config(n: &Map<String, Json>) -> Map<String, Json> {
    let mut params = Map::new();
    let mut ipam = Map::new();
    let truthy = |v: &Json| match v {
        Json::Null => false,
        Json::String(s) => !s.is_empty(),
        Json::Array(a) => !a.is_empty(),
        _ => true,
    };
    for (k, dest) in [
        ("ipv4_address", "IPv4Address"),
        ("ipv6_address", "IPv6Address"),
        ("links", "Links"),
        ("aliases", "Aliases"),
        ("mac_address", "MacAddress"),
    ] {
        let Some(v) = n.get(k).filter(|v| truthy(v)) else { continue };
        let v = if k == "links" {
            Json::from(
                v.as_array()
                    .into_iter()
                    .flatten()
                    .map(|l| match l {
                        Json::Array(p) => format!(
                            "{}:{}",
                            p.first().and_then(|x| x.as_str()).unwrap_or_default(),
                            p.get(1).and_then(|x| x.as_str()).unwrap_or_default()
                        ),
                        other => other.as_str().unwrap_or_default().to_string(),
                    })
                    .collect::<Vec<_>>(),
            )
        } else {
            v.clone()
        };
        if dest.starts_with("IPv") {
            ipam.insert(dest.into(), v);
        } else {
            params.insert(dest.into(), v);
        }
    }
    if !ipam.is_empty() {
        params.insert("IPAMConfig".into(), Json::Object(ipam));
    }
    params
}

/// Splits the multiplexed log stream of a container without a TTY, stdout and stderr in order.
fn demux(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut rest = raw;
    while rest.len() >= 8 {
        let size = u32::from_be_bytes([rest[4], rest[5], rest[6], rest[7]]) as usize;
        let end = (8 + size).min(rest.len());
        out.extend_from_slice(&rest[8..end]);
        rest = &rest[end..];
    }
    out
}

fn state_of(c: &Json) -> &Json {
    c.get("State").unwrap_or(&Json::Null)
}

fn running(c: Option<&Json>) -> bool {
    c.is_some_and(|c| {
        let s = state_of(c);
        s.get("Running").and_then(|r| r.as_bool()).unwrap_or(false)
            && !s.get("Ghost").and_then(|g| g.as_bool()).unwrap_or(false)
    })
}

fn paused(c: Option<&Json>) -> bool {
    c.is_some_and(|c| state_of(c).get("Paused").and_then(|p| p.as_bool()).unwrap_or(false))
}

fn removing(c: Option<&Json>) -> bool {
    c.is_some_and(|c| state_of(c).get("Status").and_then(|s| s.as_str()) == Some("removing"))
}

fn id_of(c: &Json) -> String {
    c.get("Id").and_then(|i| i.as_str()).unwrap_or_default().to_string()
}

/// One run of the module: what it did so far.
struct Run<'a, 'b, 'c> {
    e: &'c Engine<'a, 'b>,
    a: &'c Args,
    check: bool,
    actions: Vec<Json>,
    changed: bool,
    tracker: Tracker,
    diff: Map<String, Json>,
    status: Option<Json>,
    failed_msg: Option<String>,
}

type Step<T> = Result<Result<T, Outcome>, ModuleError>;

fn fail<T>(msg: String) -> Step<T> {
    Ok(Err(Outcome::failed(msg)))
}

impl Run<'_, '_, '_> {
    /// A call whose error fails the task with `what` before community.docker's text for it.
    async fn call(&self, method: &str, path: &str, body: Option<&Json>, what: &str) -> Step<Json> {
        let r = or_fail!(self.e.call(method, path, body).await, Err);
        if !r.ok() {
            return fail(format!("{what}{}", r.error_text()));
        }
        Ok(Ok(r.json()))
    }

    async fn inspect(&self, name: &str) -> Step<Option<Json>> {
        lookup::container(self.e, name).await
    }

    async fn inspect_id(&self, id: &str) -> Step<Option<Json>> {
        lookup::inspect(self.e, &format!("/containers/{}/json", quote(id, "/:")), "Error inspecting container: ").await
    }

    /// Polls until the container leaves `removing` (or is gone).
    async fn wait_removed(&self, id: &str) -> Step<()> {
        let mut delay = 1.0f64;
        let mut total = 0.0f64;
        loop {
            let Some(c) = or_fail!(self.inspect_id(id).await, Err) else { return Ok(Ok(())) };
            let st = state_of(&c).get("Status").and_then(|s| s.as_str()).unwrap_or_default().to_string();
            if st != "removing" {
                return fail(format!("Encontered unexpected state \"{st}\" while waiting for container \"{id}\""));
            }
            if let Some(max) = self.a.removal_wait_timeout {
                if total > max || delay < 1e-4 {
                    return fail(format!("Timeout of {max} seconds exceeded while waiting for container \"{id}\""));
                }
                if total + delay > max {
                    delay = max - total;
                }
            }
            tokio::time::sleep(Duration::from_secs_f64(delay)).await;
            total += delay;
            delay = (delay * 1.1).min(10.0);
        }
    }

    async fn stop(&mut self, id: &str) -> Step<()> {
        if self.a.force_kill {
            self.actions.push(json!({"killed": id, "signal": self.a.kill_signal}));
            self.changed = true;
            if !self.check {
                let q = self.a.kill_signal.as_ref().map(|s| format!("?signal={}", quote(s, ""))).unwrap_or_default();
                or_fail!(
                    self.call(
                        "POST",
                        &format!("/containers/{}/kill{q}", quote(id, "/:")),
                        None,
                        &format!("Error killing container {id}: ")
                    )
                    .await,
                    Err
                );
            }
            return Ok(Ok(()));
        }
        self.actions.push(json!({"stopped": id, "timeout": self.a.stop_timeout}));
        self.changed = true;
        if !self.check {
            let q = self.a.stop_timeout.filter(|t| *t != 0).map(|t| format!("?t={t}")).unwrap_or_default();
            or_fail!(
                self.call(
                    "POST",
                    &format!("/containers/{}/stop{q}", quote(id, "/:")),
                    None,
                    &format!("Error stopping container {id}: ")
                )
                .await,
                Err
            );
        }
        Ok(Ok(()))
    }

    async fn remove(&mut self, id: &str, force: bool) -> Step<()> {
        let volumes = !self.a.keep_volumes;
        self.actions.push(json!({"removed": id, "volume_state": volumes, "link": false, "force": force}));
        self.changed = true;
        if !self.check {
            let path =
                format!("/containers/{}?v={}&link=False&force={}", quote(id, "/:"), py_bool(volumes), py_bool(force));
            let r = or_fail!(self.e.call("DELETE", &path, None).await, Err);
            let text = r.error_text();
            if !r.ok()
                && r.status != 404
                && !(text.contains("removal of container ") && text.contains(" is already in progress"))
            {
                return fail(format!("Error removing container {id}: {text}"));
            }
        }
        Ok(Ok(()))
    }

    async fn create(&mut self, w: &Values, image: &str, default_ip: &str) -> Step<Option<Json>> {
        let body = create_body(self.a, w, image, default_ip, self.e.version());
        let mut params = body.clone();
        let networks = params.as_object_mut().and_then(|p| p.remove("NetworkingConfig"));
        let networks_shown: Map<String, Json> = if networks.is_some() {
            let all = !version_lt(self.e.version(), "1.44");
            w.networks
                .iter()
                .take(if all { usize::MAX } else { 1 })
                .map(|n| {
                    let mut m = n.clone();
                    m.remove("name");
                    (n["name"].as_str().unwrap_or_default().to_string(), Json::Object(m))
                })
                .collect()
        } else {
            Map::new()
        };
        self.actions
            .push(json!({"created": "Created container", "create_parameters": params, "networks": networks_shown}));
        self.changed = true;
        if self.check {
            return Ok(Ok(None));
        }
        let path = format!("/containers/create?name={}", quote(&self.a.name, ""));
        let made = or_fail!(self.call("POST", &path, Some(&body), "Error creating container: ").await, Err);
        let id = made.get("Id").and_then(|i| i.as_str()).unwrap_or_default().to_string();
        self.inspect_id(&id).await
    }

    async fn start(&mut self, id: &str) -> Step<Option<Json>> {
        self.actions.push(json!({"started": id}));
        self.changed = true;
        if self.check {
            return self.inspect_id(id).await;
        }
        or_fail!(
            self.call(
                "POST",
                &format!("/containers/{}/start", quote(id, "/:")),
                None,
                &format!("Error starting container {id}: ")
            )
            .await,
            Err
        );
        if self.a.detach == Some(false) {
            let waited = or_fail!(
                self.call(
                    "POST",
                    &format!("/containers/{}/wait", quote(id, "/:")),
                    None,
                    "An unexpected Docker error occurred: "
                )
                .await,
                Err
            );
            let status = waited.get("StatusCode").cloned().unwrap_or(Json::Null);
            self.status = Some(status.clone());
            let output = if self.a.auto_remove == Some(true) {
                "Cannot retrieve result as auto_remove is enabled".to_string()
            } else {
                let c = or_fail!(self.inspect_id(id).await, Err).unwrap_or(Json::Null);
                let driver = c["HostConfig"]["LogConfig"]["Type"].as_str().unwrap_or_default().to_string();
                if matches!(driver.as_str(), "json-file" | "journald" | "local") {
                    let path = format!(
                        "/containers/{}/logs?stderr=1&stdout=1&timestamps=0&follow=0&tail=all",
                        quote(id, "/:")
                    );
                    let r = or_fail!(self.e.call("GET", &path, None).await, Err);
                    let raw = if c["Config"]["Tty"].as_bool() == Some(true) { r.body.clone() } else { demux(&r.body) };
                    String::from_utf8_lossy(&raw).into_owned()
                } else {
                    format!("Result logged using `{driver}` driver")
                }
            };
            if self.a.cleanup {
                or_fail!(self.remove(id, true).await, Err);
            }
            let mut insp = or_fail!(self.inspect_id(id).await, Err).unwrap_or(json!({}));
            if let Some(m) = insp.as_object_mut() {
                m.insert("Output".into(), Json::from(output.as_str()));
            }
            if status.as_i64() != Some(0) {
                self.failed_msg = Some(output);
            }
            return Ok(Ok(Some(insp)));
        }
        self.inspect_id(id).await
    }

    async fn pull(&mut self, repo: &str, tag: &str) -> Step<Option<Json>> {
        let (new, same) = or_fail!(lookup::pull(self.e, repo, tag, None).await, Err);
        self.changed = !same;
        self.actions.push(json!({"pulled_image": format!("{repo}:{tag}"), "changed": !same}));
        Ok(Ok(new))
    }

    /// The image the task names (pulled as `pull` says), and the container's own image.
    async fn image(&mut self) -> Step<Option<Json>> {
        let Some(name) = self.a.image.clone() else { return Ok(Ok(None)) };
        if lookup::is_image_id(&name) {
            let img = or_fail!(lookup::image_by_id(self.e, &name).await, Err);
            if img.is_none() {
                return fail(format!("Cannot find image with ID {name}"));
            }
            return Ok(Ok(img));
        }
        let (repo, tag) = lookup::repository_tag(&name);
        let tag = tag.unwrap_or("latest").to_string();
        let repo = repo.to_string();
        let mut img = or_fail!(lookup::image(self.e, &repo, &tag).await, Err);
        let pull = match &self.a.pull {
            Json::Bool(true) => "always".to_string(),
            Json::Bool(false) => "missing".to_string(),
            other => super::py_str_python(other),
        };
        if img.is_none() && pull == "never" {
            return fail(format!("Cannot find image with name {repo}:{tag}, and pull=never"));
        }
        if img.is_none() || pull == "always" {
            if !self.check {
                img = or_fail!(self.pull(&repo, &tag).await, Err);
            } else if img.is_none() || self.a.pull_check_mode_behavior == "always" {
                self.changed = true;
                let mut action = json!({"pulled_image": format!("{repo}:{tag}")});
                if img.is_none() {
                    action["changed"] = Json::from(true);
                }
                self.actions.push(action);
            }
        }
        Ok(Ok(img))
    }

    /// The image the container runs, inspected.
    async fn container_image(&self, c: Option<&Json>) -> Step<Option<Json>> {
        let Some(c) = c.filter(|c| !removing(Some(c))) else { return Ok(Ok(None)) };
        let image = c.get("Image").and_then(|i| i.as_str()).unwrap_or_default().to_string();
        if lookup::is_image_id(&image) {
            return lookup::image_by_id(self.e, &image).await;
        }
        let (repo, tag) = lookup::repository_tag(&image);
        lookup::image(self.e, repo, tag.unwrap_or("latest")).await
    }
}

fn py_bool(b: bool) -> &'static str {
    if b {
        "True"
    } else {
        "False"
    }
}

/// The differences of the given options against the container, split into those only an
/// update can fix in place (limits, restart policy) and the others.
fn differences(
    modes: &Modes,
    want: &[(&'static str, Json)],
    have: &Map<String, Json>,
    host_os: Option<&str>,
) -> (Tracker, Tracker) {
    let (mut other, mut update) = (Tracker::default(), Tracker::default());
    for (name, p) in want {
        let Some(o) = OPTIONS.iter().find(|o| o.name == *name) else { continue };
        let c = have.get(*name).cloned().unwrap_or(Json::Null);
        if compare_generic(p, &c, modes.of(name), o.kind) {
            continue;
        }
        if *name == "network_mode" && p.as_str() == Some("default") {
            let pair = (c.as_str().unwrap_or_default(), host_os.unwrap_or_default());
            if matches!(pair, ("bridge", "linux") | ("nat", "windows")) {
                continue;
            }
        }
        let (p, c) = if o.kind == Set { (sorted(p), if c.is_null() { c } else { sorted(&c) }) } else { (p.clone(), c) };
        if o.update.is_some() {
            update.add(*name, p, c);
        } else {
            other.add(*name, p, c);
        }
    }
    (other, update)
}

/// `get_legacy_docker_container_diffs`.
fn legacy(t: &Tracker) -> Json {
    Json::from(t.0.iter().map(|(n, p, c)| json!({ n.clone(): {"parameter": p, "container": c} })).collect::<Vec<_>>())
}

/// The body of `POST /containers/{id}/update` for the limits given.
fn update_body(w: &Values) -> Json {
    let mut m = Map::new();
    for o in OPTIONS {
        let (Some(key), Some(v)) = (o.update, w.v.get(o.name)) else { continue };
        if key == "RestartPolicy" {
            if let Some(p) = w.v.get("restart_policy") {
                m.insert(
                    key.into(),
                    json!({"Name": p, "MaximumRetryCount": w.v.get("restart_retries").cloned().unwrap_or(Json::Null)}),
                );
            }
            continue;
        }
        m.insert(key.into(), v.clone());
    }
    Json::Object(m)
}

impl DockerContainer {
    async fn run(&self, a: &Args, cx: &ModuleCtx<'_>, check: bool) -> Result<Outcome, ModuleError> {
        let modes = match modes(a) {
            Ok(m) => m,
            Err(m) => return Ok(Outcome::failed(m)),
        };
        let mut w = match prepare(a) {
            Ok(w) => w,
            Err(m) => return Ok(Outcome::failed(m)),
        };
        let e = or_fail!(Engine::connect(cx).await);
        let mut run = Run {
            e: &e,
            a,
            check,
            actions: Vec::new(),
            changed: false,
            tracker: Tracker::default(),
            diff: Map::new(),
            status: None,
            failed_msg: None,
        };
        // The networks must exist; their ids go with them.
        for n in w.networks.iter_mut() {
            let name = n["name"].as_str().unwrap_or_default().to_string();
            let found = or_fail!(lookup::network(&e, &name).await).filter(|net| net["Name"].as_str() == Some(&name));
            match found {
                Some(net) => {
                    n.insert("id".into(), net["Id"].clone());
                }
                None => {
                    return Ok(Outcome::failed(format!(
                        "Parameter error: network named {name} could not be found. Does it exist?"
                    )))
                }
            }
        }
        let default_ip = match &a.default_host_ip {
            Some(ip) => ip.clone(),
            None => {
                let mut ip = "0.0.0.0".to_string();
                if !w.bindings.is_empty() {
                    for n in &w.networks {
                        let name = n["name"].as_str().unwrap_or_default();
                        let net = or_fail!(lookup::network(&e, name).await).unwrap_or(Json::Null);
                        if let Some(b) = net["Options"]["com.docker.network.bridge.host_binding_ipv4"].as_str() {
                            if net["Driver"].as_str() == Some("bridge") && !b.is_empty() {
                                ip = b.to_string();
                                break;
                            }
                        }
                    }
                }
                ip
            }
        };
        let mut facts: Option<Json> = None;
        if a.state == "absent" {
            let c = or_fail!(run.inspect(&a.name).await);
            if let Some(c) = &c {
                let id = id_of(c);
                if running(Some(c)) {
                    run.tracker.add("running", Json::from(false), Json::from(true));
                    or_fail!(run.stop(&id).await);
                }
                run.tracker.add("exists", Json::from(false), Json::from(true));
                or_fail!(run.remove(&id, false).await);
            }
        } else {
            facts = or_fail!(self.present(&mut run, &w, &modes, &default_ip).await);
        }
        let mut o = Outcome::ok();
        o.changed = run.changed;
        if check || a.debug {
            o = o.with("actions", super::json_value(Json::from(run.actions)));
        }
        if cx.mode.diff == DiffMode::On || a.debug {
            let (before, after) = run.tracker.before_after();
            run.diff.insert("before".into(), before);
            run.diff.insert("after".into(), after);
            o = o.with("diff", super::json_value(Json::Object(run.diff)));
        }
        if let Some(f) = facts.filter(|f| !f.is_null() && f.as_object().is_none_or(|m| !m.is_empty())) {
            o = o.with("container", super::json_value(f));
        }
        if let Some(s) = run.status {
            o = o.with("status", super::json_value(s));
        }
        for wmsg in std::mem::take(&mut w.warnings) {
            o = o.warn(wmsg);
        }
        if let Some(m) = run.failed_msg {
            o.failed = true;
            o.msg = Some(m);
        }
        Ok(o)
    }

    async fn present(
        &self,
        run: &mut Run<'_, '_, '_>,
        w: &Values,
        modes: &Modes,
        default_ip: &str,
    ) -> Step<Option<Json>> {
        let a = run.a;
        let state = a.state.as_str();
        let mut container = or_fail!(run.inspect(&a.name).await, Err);
        let was_running = running(container.as_ref());
        let was_paused = paused(container.as_ref());
        let mut created = false;
        let needs_container_image = a.image.is_none() || a.image_comparison == "current-image";
        let container_image =
            if needs_container_image { or_fail!(run.container_image(container.as_ref()).await, Err) } else { None };
        let image = or_fail!(run.image().await, Err);
        let comparison_image = if a.image.is_none() || a.image_comparison == "current-image" {
            container_image.clone()
        } else {
            image.clone()
        };
        let host_os = if w.v.get("network_mode").and_then(|m| m.as_str()) == Some("default") {
            let info = or_fail!(run.e.get_json("/info").await, Err);
            info["OSType"].as_str().map(str::to_string)
        } else {
            None
        };
        let want = expected(a, w, comparison_image.as_ref(), default_ip);
        let mut comparison_image = comparison_image;
        if container.is_none() || removing(container.as_ref()) {
            let Some(img) = &a.image else {
                return fail("Cannot create container when image is not specified!".into());
            };
            run.tracker.add("exists", Json::from(true), Json::from(false));
            if let Some(c) = container.as_ref().filter(|c| removing(Some(c))) {
                if !run.check {
                    or_fail!(run.wait_removed(&id_of(c)).await, Err);
                }
            }
            let made = or_fail!(run.create(w, img, default_ip).await, Err);
            if made.is_some() {
                container = made;
            } else if removing(container.as_ref()) {
                container = None;
            }
            created = true;
        } else {
            let c = container.clone().unwrap_or(Json::Null);
            let have = current(&c);
            if a.image_label_mismatch == "fail" && modes.of("labels") == "strict" && w.v.contains_key("labels") {
                let image_labels = image_config(comparison_image.as_ref(), "Labels").and_then(|l| l.as_object());
                let given = w.v.get("labels").and_then(|l| l.as_object());
                let lost: Vec<String> = image_labels
                    .into_iter()
                    .flat_map(|l| l.keys())
                    .filter(|k| !given.is_some_and(|g| g.contains_key(*k)))
                    .map(|k| format!("\"{k}\""))
                    .collect();
                let differs = !compare_generic(
                    &want.iter().find(|(n, _)| *n == "labels").map(|x| x.1.clone()).unwrap_or(Json::Null),
                    have.get("labels").unwrap_or(&Json::Null),
                    "strict",
                    Dict,
                );
                if differs && !lost.is_empty() {
                    return fail(format!("Some labels should be removed but are present in the base image. You can set image_label_mismatch to 'ignore' to ignore this error. Labels: {}", lost.join(", ")));
                }
            }
            let (mut diffs, update_diffs) = differences(modes, &want, &have, host_os.as_deref());
            let mut different = !diffs.0.is_empty();
            if different {
                diffs.0.extend(update_diffs.0);
            }
            let mut image_different = false;
            if modes.of("image") == "strict" {
                let current_image = c.get("Image").and_then(|i| i.as_str()).unwrap_or_default();
                if let Some(id) = image.as_ref().and_then(|i| i.get("Id")).and_then(|i| i.as_str()) {
                    if !current_image.is_empty() && id != current_image {
                        run.tracker.add("image", Json::from(id), Json::from(current_image));
                        image_different = true;
                    }
                }
                let current_name = c["Config"]["Image"].clone();
                if a.image_name_mismatch == "recreate" {
                    if let Some(p) = &a.image {
                        if current_name.as_str() != Some(p.as_str()) {
                            different = true;
                            run.tracker.add("image_name", Json::from(p.as_str()), current_name);
                        }
                    }
                }
            }
            if image_different || different || a.recreate {
                run.diff.insert("differences".into(), legacy(&diffs));
                run.tracker.0.extend(diffs.0);
                if image_different {
                    run.diff.insert("image_different".into(), Json::from(true));
                }
                let image_to_use =
                    a.image.clone().or_else(|| c.get("Image").and_then(|i| i.as_str()).map(str::to_string));
                let Some(image_to_use) = image_to_use.filter(|i| !i.is_empty()) else {
                    return fail("Cannot recreate container when image is not specified or cannot be extracted from current container!".into());
                };
                let id = id_of(&c);
                if running(Some(&c)) {
                    or_fail!(run.stop(&id).await, Err);
                }
                or_fail!(run.remove(&id, false).await, Err);
                if !run.check {
                    or_fail!(run.wait_removed(&id).await, Err);
                }
                let made = or_fail!(run.create(w, &image_to_use, default_ip).await, Err);
                if made.is_some() {
                    container = made;
                }
                created = true;
                comparison_image = image.clone();
            }
        }
        if let Some(c) = container.clone() {
            let id = id_of(&c);
            // Limits that can change in place.
            let want = expected(a, w, comparison_image.as_ref(), default_ip);
            let (_, limits) = differences(modes, &want, &current(&c), host_os.as_deref());
            if !limits.0.is_empty() {
                run.tracker.0.extend(limits.0);
                if !run.check {
                    let body = update_body(w);
                    if body.as_object().is_some_and(|b| !b.is_empty()) {
                        run.actions.push(json!({"updated": id, "update_parameters": body}));
                        run.changed = true;
                        or_fail!(
                            run.call(
                                "POST",
                                &format!("/containers/{}/update", quote(&id, "/:")),
                                Some(&body),
                                &format!("Error updating container {id}: ")
                            )
                            .await,
                            Err
                        );
                    }
                    container = or_fail!(run.inspect_id(&id).await, Err);
                }
            }
            let c = container.clone().unwrap_or(Json::Null);
            container = Some(or_fail!(self.networks(run, w, modes, &c, created).await, Err));
            let c = container.clone().unwrap_or(Json::Null);
            if matches!(state, "started" | "healthy") && !running(Some(&c)) {
                run.tracker.add("running", Json::from(true), Json::from(was_running));
                container = or_fail!(run.start(&id).await, Err);
            } else if matches!(state, "started" | "healthy") && a.restart {
                run.tracker.add("running", Json::from(true), Json::from(was_running));
                run.tracker.add("restarted", Json::from(true), Json::from(false));
                run.actions.push(json!({"restarted": id, "timeout": a.stop_timeout}));
                run.changed = true;
                if !run.check {
                    let t = a.stop_timeout.map(|t| format!("?t={t}")).unwrap_or_default();
                    or_fail!(
                        run.call(
                            "POST",
                            &format!("/containers/{}/restart{t}", quote(&id, "/:")),
                            None,
                            &format!("Error restarting container {id}: ")
                        )
                        .await,
                        Err
                    );
                }
                container = or_fail!(run.inspect_id(&id).await, Err);
            } else if state == "stopped" && running(Some(&c)) {
                run.tracker.add("running", Json::from(false), Json::from(was_running));
                or_fail!(run.stop(&id).await, Err);
                container = or_fail!(run.inspect_id(&id).await, Err);
            }
            if matches!(state, "started" | "healthy") {
                if let Some(p) = a.paused {
                    if paused(container.as_ref()) != p {
                        run.tracker.add("paused", Json::from(p), Json::from(was_paused));
                        if !run.check {
                            let (verb, what) = if p { ("pause", "pausing") } else { ("unpause", "unpausing") };
                            or_fail!(
                                run.call(
                                    "POST",
                                    &format!("/containers/{}/{verb}", quote(&id, "/:")),
                                    None,
                                    &format!("Error {what} container {id}: ")
                                )
                                .await,
                                Err
                            );
                            container = or_fail!(run.inspect_id(&id).await, Err);
                        }
                        run.changed = true;
                        run.actions.push(json!({"set_paused": p}));
                    }
                }
            }
        }
        if state == "healthy" && !run.check {
            if let Some(c) = &container {
                return self.wait_healthy(run, &id_of(c)).await;
            }
        }
        Ok(Ok(container))
    }

    async fn wait_healthy(&self, run: &Run<'_, '_, '_>, id: &str) -> Step<Option<Json>> {
        let max = Some(run.a.healthy_wait_timeout).filter(|t| *t > 0.0);
        let mut delay = 1.0f64;
        let mut total = 0.0f64;
        loop {
            let Some(c) = or_fail!(run.inspect_id(id).await, Err) else {
                return fail(format!("Encontered vanished container while waiting for container \"{id}\""));
            };
            let st = state_of(&c).get("Health").and_then(|h| h.get("Status")).cloned().unwrap_or(Json::Null);
            match st.as_str() {
                None | Some("healthy") => return Ok(Ok(Some(c))),
                Some("starting" | "unhealthy") => {}
                Some(other) => {
                    let mut o = Outcome::failed(format!(
                        "Encontered unexpected state \"{other}\" while waiting for container \"{id}\""
                    ));
                    o = o.with("container", super::json_value(c));
                    return Ok(Err(o));
                }
            }
            if let Some(max) = max {
                if total > max || delay < 1e-4 {
                    let o = Outcome::failed(format!(
                        "Timeout of {} seconds exceeded while waiting for container \"{id}\"",
                        super::py_str_python(&json!(max))
                    ))
                    .with("container", super::json_value(c));
                    return Ok(Err(o));
                }
                if total + delay > max {
                    delay = max - total;
                }
            }
            tokio::time::sleep(Duration::from_secs_f64(delay)).await;
            total += delay;
            delay = (delay * 1.1).min(10.0);
        }
    }

    /// Connects the container to the networks listed (`update_networks`).
    async fn networks(
        &self,
        run: &mut Run<'_, '_, '_>,
        w: &Values,
        modes: &Modes,
        c: &Json,
        created: bool,
    ) -> Step<Json> {
        let a = run.a;
        let mut c = c.clone();
        if c.is_null() {
            return Ok(Ok(c));
        }
        let modes_networks = modes.of("networks");
        let id = id_of(&c);
        // The networks with their ids (`run` looked them up).
        let nets = &w.networks;
        if (modes_networks != "ignore" || created) && !nets.is_empty() {
            let connected = c["NetworkSettings"]["Networks"].clone();
            let mut diffs: Vec<(Map<String, Json>, Json)> = Vec::new();
            for n in nets {
                let name = n["name"].as_str().unwrap_or_default();
                let info = &connected[name];
                if info.is_null() {
                    diffs.push((n.clone(), Json::Null));
                    continue;
                }
                let ipam = info.get("IPAMConfig").filter(|i| !i.is_null()).cloned().unwrap_or(json!({}));
                let mut diff = false;
                for (k, key) in [("ipv4_address", "IPv4Address"), ("ipv6_address", "IPv6Address")] {
                    if n.get(k).and_then(|v| v.as_str()).is_some_and(|s| !s.is_empty())
                        && n.get(k).and_then(|v| v.as_str()).map(norm_address)
                            != ipam.get(key).and_then(|v| v.as_str()).map(norm_address)
                    {
                        diff = true;
                    }
                }
                if let Some(al) = n.get("aliases").filter(|v| v.as_array().is_some_and(|x| !x.is_empty())) {
                    if !compare_generic(al, info.get("Aliases").unwrap_or(&Json::Null), "allow_more_present", Set) {
                        diff = true;
                    }
                }
                if let Some(links) = n.get("links").and_then(|v| v.as_array()).filter(|x| !x.is_empty()) {
                    let want: Vec<Json> = links
                        .iter()
                        .map(|l| {
                            Json::from(format!(
                                "{}:{}",
                                l[0].as_str().unwrap_or_default(),
                                l[1].as_str().unwrap_or_default()
                            ))
                        })
                        .collect();
                    if !compare_generic(
                        &Json::from(want),
                        info.get("Links").unwrap_or(&Json::Null),
                        "allow_more_present",
                        Set,
                    ) {
                        diff = true;
                    }
                }
                if let Some(mac) = n.get("mac_address").and_then(|m| m.as_str()).filter(|m| !m.is_empty()) {
                    if info.get("MacAddress").and_then(|m| m.as_str()) != Some(mac) {
                        diff = true;
                    }
                }
                if diff {
                    let shown = json!({
                        "name": name,
                        "ipv4_address": ipam.get("IPv4Address"),
                        "ipv6_address": ipam.get("IPv6Address"),
                        "aliases": info.get("Aliases"),
                        "links": info.get("Links"),
                        "mac_address": info.get("MacAddress"),
                    });
                    diffs.push((n.clone(), shown));
                }
            }
            if !diffs.is_empty() {
                let legacy_nets: Vec<Json> =
                    diffs.iter().map(|(p, c)| json!({"parameter": p, "container": c})).collect();
                let entry = json!({ "network_differences": legacy_nets });
                match run.diff.get_mut("differences").and_then(|d| d.as_array_mut()) {
                    Some(d) => d.push(entry),
                    None => {
                        run.diff.insert("differences".into(), Json::from(vec![entry]));
                    }
                }
                for (p, cur) in &diffs {
                    run.tracker.add(
                        format!("network.{}", p["name"].as_str().unwrap_or_default()),
                        Json::Object(p.clone()),
                        cur.clone(),
                    );
                }
                run.changed = true;
                for (p, cur) in &diffs {
                    let name = p["name"].as_str().unwrap_or_default().to_string();
                    let net_id = p.get("id").and_then(|i| i.as_str()).unwrap_or_default().to_string();
                    if !cur.is_null() {
                        run.actions.push(json!({"removed_from_network": name}));
                        if !run.check {
                            or_fail!(
                                run.call(
                                    "POST",
                                    &format!("/networks/{}/disconnect", quote(&net_id, "/:")),
                                    Some(&json!({"Container": id})),
                                    &format!("Error disconnecting container from network {name} - ")
                                )
                                .await,
                                Err
                            );
                        }
                    }
                    run.actions.push(json!({"added_to_network": name, "network_parameters": p}));
                    if !run.check {
                        let body = json!({"Container": id, "EndpointConfig": endpoint_config(p)});
                        or_fail!(
                            run.call(
                                "POST",
                                &format!("/networks/{}/connect", quote(&net_id, "/:")),
                                Some(&body),
                                &format!("Error connecting container to network {name} - ")
                            )
                            .await,
                            Err
                        );
                    }
                }
                if !run.check {
                    c = or_fail!(run.inspect_id(&id).await, Err).unwrap_or(Json::Null);
                }
            }
        }
        if modes_networks == "strict" && a.networks.is_some() {
            let connected = c["NetworkSettings"]["Networks"].as_object().cloned().unwrap_or_default();
            let extra: Vec<(String, Json)> = connected
                .iter()
                .filter(|(n, _)| !nets.iter().any(|x| x["name"].as_str() == Some(n.as_str())))
                .map(|(n, cfg)| (n.clone(), json!({"name": n, "id": cfg["NetworkID"]})))
                .collect();
            if !extra.is_empty() {
                let entry = json!({ "purge_networks": extra.iter().map(|x| x.1.clone()).collect::<Vec<_>>() });
                match run.diff.get_mut("differences").and_then(|d| d.as_array_mut()) {
                    Some(d) => d.push(entry),
                    None => {
                        run.diff.insert("differences".into(), Json::from(vec![entry]));
                    }
                }
                for (n, x) in &extra {
                    run.tracker.add(format!("network.{n}"), Json::Null, x.clone());
                }
                run.changed = true;
                for (n, _) in &extra {
                    run.actions.push(json!({"removed_from_network": n}));
                    if !run.check {
                        or_fail!(
                            run.call(
                                "POST",
                                &format!("/networks/{}/disconnect", quote(n, "/:")),
                                Some(&json!({"Container": id})),
                                &format!("Error disconnecting container from network {n} - ")
                            )
                            .await,
                            Err
                        );
                    }
                }
                if !run.check {
                    c = or_fail!(run.inspect_id(&id).await, Err).unwrap_or(Json::Null);
                }
            }
        }
        Ok(Ok(c))
    }
}

#[async_trait]
impl Module for DockerContainer {
    const NAME: &'static str = "docker_container";
    const COLLECTIONS: &'static [&'static str] = &["community.docker", "ansible.builtin"];
    type Args = Args;
    type Plan = ();

    fn check_args(a: &Args) -> Result<(), String> {
        let one_of = |what: &str, v: &str, allowed: &[&str]| {
            if allowed.contains(&v) {
                Ok(())
            } else {
                Err(format!("value of {what} must be one of: {}, got: {v}", allowed.join(", ")))
            }
        };
        one_of("state", &a.state, &["absent", "present", "healthy", "stopped", "started"])?;
        if a.command_handling == "compatibility" {
            return Err("command_handling: compatibility is not supported by prov (community.docker deprecates it); use the default, correct".into());
        }
        one_of("command_handling", &a.command_handling, &["compatibility", "correct"])?;
        one_of("container_default_behavior", &a.container_default_behavior, &["compatibility", "no_defaults"])?;
        if a.container_default_behavior == "compatibility" {
            return Err(
                "container_default_behavior: compatibility is not supported by prov; use the default, no_defaults"
                    .into(),
            );
        }
        one_of("image_comparison", &a.image_comparison, &["desired-image", "current-image"])?;
        one_of("image_label_mismatch", &a.image_label_mismatch, &["ignore", "fail"])?;
        one_of("image_name_mismatch", &a.image_name_mismatch, &["recreate", "ignore"])?;
        one_of("pull_check_mode_behavior", &a.pull_check_mode_behavior, &["image_not_present", "always"])?;
        match &a.pull {
            Json::Bool(_) => {}
            Json::String(s) => one_of("pull", s, &["never", "missing", "always"])?,
            other => {
                return Err(format!("value of pull must be one of: never, missing, always, True, False, got: {other}"))
            }
        }
        if let Some(p) = &a.restart_policy {
            one_of("restart_policy", p, RESTART_POLICIES)?;
        }
        if a.state == "present" && a.image.is_none() {
            return Err("state is present but all of the following are missing: image".into());
        }
        if let Some(ip) = &a.default_host_ip {
            let v6 = ip.starts_with('[') && ip.ends_with(']');
            let bare_v6 = !ip.is_empty() && ip.bytes().all(|b| b.is_ascii_hexdigit() || b == b':');
            if !ip.is_empty() && !is_ipv4(ip) && !v6 && !bare_v6 {
                return Err(format!("The value of default_host_ip must be an empty string, an IPv4 address, or an IPv6 address. Got \"{ip}\" instead."));
            }
        }
        if let Some(c) = &a.command {
            if !matches!(c, Json::String(_) | Json::Array(_) | Json::Null | Json::Number(_)) {
                return Err("command must be a string or a list of strings".into());
            }
        }
        modes(a)?;
        Ok(())
    }

    async fn plan(&self, a: &Args, cx: &ModuleCtx<'_>) -> Result<Plan<()>, ModuleError> {
        let action = if a.state == "absent" { Action::Delete } else { Action::Create };
        crate::util::decide_while_acting(cx, action, "docker container", a.name.clone(), self.run(a, cx, true)).await
    }

    async fn apply(&self, a: &Args, _: (), cx: &ModuleCtx<'_>) -> Result<Outcome, ModuleError> {
        self.run(a, cx, false).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_compare_as_community_docker_compare_generic() {
        let j = |s: &str| serde_json::from_str::<Json>(s).expect("json");
        assert!(compare_generic(&j(r#"["a"]"#), &j(r#"["b","a"]"#), "allow_more_present", Set));
        assert!(!compare_generic(&j(r#"["a"]"#), &j(r#"["b","a"]"#), "strict", Set));
        assert!(compare_generic(&j(r#"[]"#), &Json::Null, "strict", List));
        assert!(!compare_generic(&j(r#""x""#), &Json::Null, "strict", Value));
        assert!(compare_generic(&j(r#"{"a":"1"}"#), &j(r#"{"a":"1","b":"2"}"#), "allow_more_present", Dict));
        assert!(compare_generic(&j(r#"["/data"]"#), &j(r#"{"/data":{}}"#), "allow_more_present", Set));
        assert!(compare_generic(&j("1"), &j("true"), "strict", Value));
    }

    #[test]
    fn published_ports_are_read_as_community_docker_reads_them() {
        let a: Args = serde_json::from_value(json!({
            "name": "x", "image": "i", "published_ports": ["8080:80", "127.0.0.1:5353:53/udp", "9000-9001:9000-9001", "443"]
        }))
        .expect("args");
        let w = prepare(&a).expect("prepared");
        let want = expected(&a, &w, None, "0.0.0.0");
        let pp = want.iter().find(|(n, _)| *n == "published_ports").expect("ports").1.clone();
        assert_eq!(pp["80/tcp"], json!([{"HostIp": "0.0.0.0", "HostPort": "8080"}]));
        assert_eq!(pp["53/udp"], json!([{"HostIp": "127.0.0.1", "HostPort": "5353"}]));
        assert_eq!(pp["9001/tcp"], json!([{"HostIp": "0.0.0.0", "HostPort": "9001"}]));
        assert_eq!(pp["443/tcp"], json!([{"HostIp": "0.0.0.0", "HostPort": ""}]));
        let ex = want.iter().find(|(n, _)| *n == "exposed_ports").expect("exposed").1.clone();
        assert_eq!(ex, json!(["443/tcp", "53/udp", "80/tcp", "9000/tcp", "9001/tcp"]));
    }

    /// ansible-core turns `restart_policy: no` (YAML's false) into the choice `no`.
    #[test]
    fn restart_policy_no_unquoted_is_the_choice_no() {
        let a: Args =
            serde_json::from_value(json!({"name": "x", "image": "i", "restart_policy": false})).expect("args");
        assert_eq!(a.restart_policy.as_deref(), Some("no"));
        let a: Args = serde_json::from_value(json!({"name": "x", "image": "i", "restart_policy": null})).expect("null");
        assert_eq!(a.restart_policy, None);
    }

    /// `published_ports: "80, 8443:443"` is `80` and ` 8443:443`: Python's int() reads the
    /// container port ` 443` as 443; the host port is kept as written.
    #[test]
    fn published_ports_given_as_one_string_read_their_parts_as_written() {
        let a: Args = serde_json::from_value(json!({"name": "x", "image": "i", "published_ports": "80, 8443:443"}))
            .expect("args");
        let w = prepare(&a).expect("prepared");
        let want = expected(&a, &w, None, "0.0.0.0");
        let pp = want.iter().find(|(n, _)| *n == "published_ports").expect("ports").1.clone();
        assert_eq!(pp["80/tcp"], json!([{"HostIp": "0.0.0.0", "HostPort": ""}]));
        assert_eq!(pp["443/tcp"], json!([{"HostIp": "0.0.0.0", "HostPort": " 8443"}]));
    }

    #[test]
    fn bad_arguments_are_refused_with_community_dockers_words() {
        let a = |v: Json| serde_json::from_value::<Args>(v).expect("args");
        let e = prepare(&a(json!({"name": "x", "env": {"N": 1}}))).expect_err("env number");
        assert!(e.contains("Non-string value found for env option"), "{e}");
        let e = prepare(&a(json!({"name": "x", "published_ports": ["1:2:3:4"]}))).expect_err("ports");
        assert!(e.contains("expected 1 to 3 colon-separated parts, but got 4"), "{e}");
        let e = prepare(&a(json!({"name": "x", "published_ports": ["1-9999999999"]}))).expect_err("range");
        assert!(e.contains("Invalid port range"), "{e}");
        let e = prepare(&a(json!({"name": "x", "exposed_ports": ["1-9999999999"]}))).expect_err("range");
        assert!(e.contains("ports go from 0"), "{e}");
        let e = prepare(&a(json!({"name": "x", "memory": "12Q"}))).expect_err("memory");
        assert!(e.starts_with("Failed to convert memory to bytes"), "{e}");
        assert!(DockerContainer::check_args(&a(json!({"name": "x", "state": "present"}))).is_err());
        assert!(DockerContainer::check_args(&a(json!({"name": "x", "comparisons": {"nope": "strict"}}))).is_err());
    }
}
