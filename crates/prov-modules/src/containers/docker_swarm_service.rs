//! `docker_swarm_service`: a swarm service, created, updated in place or removed with the docker CLI
//! (like `community.docker.docker_swarm_service`). Runs on a swarm manager; the target needs only
//! `sh` and `docker`.
//!
//! Arguments:
//! - `name` (required): service name (a docker name: it cannot start with `-` or contain white
//!   space or `/`).
//! - `state`: `present` (default) or `absent`.
//! - `image`: image reference (required to create). The engine never asks a registry for its
//!   digest (`--no-resolve-image`); a missing tag means `latest`.
//! - `mode`: `replicated` (default) or `global`. Changing the mode re-creates the service.
//! - `replicas`: number of tasks (replicated mode).
//! - `env`: a mapping, or a list of `KEY=value` strings: the whole environment.
//! - `publish`: list of `{published_port, target_port, protocol: tcp|udp, mode: ingress|host}`
//!   (`protocol` defaults to `tcp`, `mode` to `ingress`): the whole list.
//! - `endpoint_mode`: `vip` or `dnsrr`.
//! - `networks`: list of network names (all of them).
//! - `command`: overrides the image's entrypoint (a string split like a shell would, or a list).
//! - `args`: the command's arguments (a string or a list).
//! - `labels`: service labels (all of them).
//! - `resources`: `{limits: {cpus, memory}, reservations: {cpus, memory}}` (`cpus: 0.5`,
//!   `memory: 256M`).
//! - `placement`: `{constraints: [node.role==worker, ...]}` (all of them).
//! - `healthcheck`: `{test, interval, timeout, retries, start_period}`; `test` is a shell string,
//!   or a list starting with `CMD`, `CMD-SHELL` or `NONE`; `NONE` disables the image's check.
//! - `update_config` / `rollback_config`: `{parallelism, delay, order: start-first|stop-first,
//!   failure_action, monitor, max_failure_ratio}`.
//! - `wait` (prov's own; default false, so that the module returns as soon as Docker took the
//!   change, as community.docker's does): after a change, wait until the service's up-to-date
//!   running tasks match its desired count and a rolling update is over; `wait_timeout`
//!   (seconds, default 300) before the task fails naming the tasks that are missing and why.
//!   Ansible's module has neither argument: a playbook that sets them runs under prov only.
//!
//! Durations are Go-style (`10s`, `1m30s`, `500ms`) or a number of seconds.
//!
//! Only the arguments given are compared with the running service (one `docker service inspect`);
//! a change is one `docker service update` carrying only the changed flags (`--image`,
//! `--replicas`, `--env-add`/`--env-rm`, `--publish-add`/`--publish-rm`, ...). The diff shows
//! `key: value` lines before and after.
//!
//! Registers `name`, `changes` (the keys that changed), `recreated`, `id` (of a created service),
//! and after a wait `running` / `desired` (task counts); and community.docker's `msg`
//! (`Service created`, `updated`, `rebuilt`, `removed`, `unchanged` or `absent`) and `rebuilt`.
//! Not registered: community.docker's `swarm_service` (its own view of every option), and its
//! `changes` names the options it compared, where prov's names the keys above (`state` for a
//! creation or removal).
//!
//! ```yaml
//! - docker_swarm_service:
//!     name: web
//!     image: prov-node:bookworm
//!     replicas: 3
//!     command: [sleep, infinity]
//!     endpoint_mode: dnsrr          # no IPVS: no VIP / ingress mesh
//!     publish:
//!       - { published_port: 8080, target_port: 80, mode: host }
//!     env: { APP_ENV: prod }
//!     resources: { limits: { cpus: 0.5, memory: 256M } }
//!     placement: { constraints: [node.role==worker] }
//!     update_config: { parallelism: 1, delay: 5s, order: start-first }
//!     wait_timeout: 120
//! - docker_swarm_service: { name: old-api, state: absent }
//! ```

use super::cli::{
    command_failed, fmt_bytes, fmt_cpus, fmt_duration, json_lines, parse_bytes, parse_cpus, parse_duration, run_json,
    same_image, shell_join, yaml_field, FieldValue, Text, Words,
};
use crate::util::probe_failed;
use async_trait::async_trait;
use indexmap::IndexMap;
use prov_core::args::lenient_bool;
use prov_core::cmd::{Cmd, Sh, Word, WordKind};
use prov_core::module::{Action, Change, Module, ModuleCtx, ModuleError, Outcome, Plan};
use serde::Deserialize;
use serde_json::Value as Json;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

fn default_wait_timeout() -> u64 {
    300
}

/// Arguments of `docker_swarm_service`.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Args {
    /// Service name.
    pub name: String,
    /// `present` or `absent`.
    #[serde(default)]
    pub state: Option<String>,
    /// Image.
    #[serde(default)]
    pub image: Option<String>,
    /// `replicated` or `global`.
    #[serde(default)]
    pub mode: Option<String>,
    /// Number of tasks.
    #[serde(default)]
    pub replicas: Option<u64>,
    /// Environment: a mapping or `KEY=value` strings.
    #[serde(default)]
    pub env: Option<EnvArg>,
    /// Published ports.
    #[serde(default)]
    pub publish: Option<Vec<Publish>>,
    /// `vip` or `dnsrr`.
    #[serde(default)]
    pub endpoint_mode: Option<String>,
    /// Network names.
    #[serde(default)]
    pub networks: Option<Vec<String>>,
    /// Entrypoint override.
    #[serde(default)]
    pub command: Option<Words>,
    /// Command arguments.
    #[serde(default)]
    pub args: Option<Words>,
    /// Service labels.
    #[serde(default)]
    pub labels: Option<IndexMap<String, Text>>,
    /// CPU / memory limits and reservations.
    #[serde(default)]
    pub resources: Option<Resources>,
    /// Placement constraints.
    #[serde(default)]
    pub placement: Option<Placement>,
    /// Health check.
    #[serde(default)]
    pub healthcheck: Option<Healthcheck>,
    /// Rolling update settings.
    #[serde(default)]
    pub update_config: Option<UpdateConfig>,
    /// Rollback settings.
    #[serde(default)]
    pub rollback_config: Option<UpdateConfig>,
    /// Wait for the service to converge.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub wait: bool,
    /// Seconds to wait.
    #[serde(default = "default_wait_timeout")]
    pub wait_timeout: u64,
}

/// `env:` as a mapping or a list of `KEY=value`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum EnvArg {
    /// `{KEY: value}`.
    Map(IndexMap<String, Option<Text>>),
    /// `["KEY=value"]`.
    List(Vec<String>),
}

/// One published port.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Publish {
    /// Port on the hosts (none: the engine picks one).
    #[serde(default)]
    pub published_port: Option<u16>,
    /// Port in the container.
    pub target_port: u16,
    /// `tcp` (default) or `udp`.
    #[serde(default)]
    pub protocol: Option<String>,
    /// `ingress` (default) or `host`.
    #[serde(default)]
    pub mode: Option<String>,
}

/// `resources:`.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Resources {
    /// Hard limits.
    #[serde(default)]
    pub limits: Option<ResourceSet>,
    /// Reservations (scheduling).
    #[serde(default)]
    pub reservations: Option<ResourceSet>,
}

/// CPUs and memory.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ResourceSet {
    /// CPUs (`0.5`).
    #[serde(default)]
    pub cpus: Option<Text>,
    /// Memory (`256M`).
    #[serde(default)]
    pub memory: Option<Text>,
}

/// `placement:`.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Placement {
    /// Constraints (`node.role==worker`).
    #[serde(default)]
    pub constraints: Option<Vec<String>>,
}

/// `healthcheck:`.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Healthcheck {
    /// Shell command, or `[CMD, ...]`, `[CMD-SHELL, cmd]`, `[NONE]`.
    #[serde(default)]
    pub test: Option<Words>,
    /// Between checks.
    #[serde(default)]
    pub interval: Option<Text>,
    /// For one check.
    #[serde(default)]
    pub timeout: Option<Text>,
    /// Failures before unhealthy.
    #[serde(default)]
    pub retries: Option<u64>,
    /// Grace period after start.
    #[serde(default)]
    pub start_period: Option<Text>,
}

/// `update_config:` / `rollback_config:`.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct UpdateConfig {
    /// Tasks updated at once (0: all).
    #[serde(default)]
    pub parallelism: Option<u64>,
    /// Between batches.
    #[serde(default)]
    pub delay: Option<Text>,
    /// `start-first` or `stop-first`.
    #[serde(default)]
    pub order: Option<String>,
    /// `pause`, `continue` or `rollback`.
    #[serde(default)]
    pub failure_action: Option<String>,
    /// How long a task is watched for failure.
    #[serde(default)]
    pub monitor: Option<Text>,
    /// Failures tolerated (0 to 1).
    #[serde(default)]
    pub max_failure_ratio: Option<f64>,
}

/// The `docker_swarm_service` module.
#[derive(Debug, Default)]
pub struct DockerSwarmService;

/// What apply does.
pub struct ServicePlan {
    /// Commands, run in order (each must succeed).
    steps: Vec<Sh>,
    /// Keys that change.
    changes: Vec<String>,
    /// Whether the service is re-created.
    recreated: bool,
    /// Whether to wait for convergence afterwards.
    wait: bool,
    /// community.docker's `msg` for what was done (`Service created`, ...).
    msg: &'static str,
}

/// A published port as the engine stores it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Port {
    published: u64,
    target: u64,
    protocol: String,
    mode: String,
}

impl Port {
    fn show(&self) -> String {
        if self.published == 0 {
            format!("{}/{} {}", self.target, self.protocol, self.mode)
        } else {
            format!("{}:{}/{} {}", self.published, self.target, self.protocol, self.mode)
        }
    }

    fn flag(&self) -> String {
        let mut s = format!("mode={},", self.mode);
        if self.published != 0 {
            s.push_str(&format!("published={},", self.published));
        }
        s.push_str(&format!("target={},protocol={}", self.target, self.protocol));
        s
    }
}

/// The update settings as compared (ns durations).
#[derive(Debug, Default, Clone)]
struct UpdCfg {
    parallelism: Option<u64>,
    delay: Option<i64>,
    order: Option<String>,
    failure_action: Option<String>,
    monitor: Option<i64>,
    max_failure_ratio: Option<f64>,
}

/// The health check as compared.
#[derive(Debug, Default, Clone)]
struct Health {
    /// Normalized: `["CMD-SHELL", cmd]` or `["NONE"]`.
    test: Option<Vec<String>>,
    interval: Option<i64>,
    timeout: Option<i64>,
    retries: Option<u64>,
    start_period: Option<i64>,
}

/// The arguments, checked and normalized.
#[derive(Debug, Default)]
struct Desired {
    image: Option<String>,
    global: Option<bool>,
    replicas: Option<u64>,
    env: Option<BTreeMap<String, String>>,
    publish: Option<Vec<Port>>,
    endpoint_mode: Option<String>,
    networks: Option<Vec<String>>,
    command: Option<Vec<String>>,
    args: Option<Vec<String>>,
    labels: Option<BTreeMap<String, String>>,
    limit_cpu: Option<i64>,
    limit_memory: Option<i64>,
    reserve_cpu: Option<i64>,
    reserve_memory: Option<i64>,
    constraints: Option<Vec<String>>,
    health: Option<Health>,
    update: Option<UpdCfg>,
    rollback: Option<UpdCfg>,
}

fn one_of(what: &str, v: &Option<String>, allowed: &[&str]) -> Result<(), String> {
    match v {
        Some(s) if !allowed.contains(&s.as_str()) => {
            Err(format!("{what} must be one of {}, not {s:?}", allowed.join(", ")))
        }
        _ => Ok(()),
    }
}

fn env_map(env: &EnvArg) -> Result<BTreeMap<String, String>, String> {
    match env {
        EnvArg::Map(m) => {
            Ok(m.iter().map(|(k, v)| (k.clone(), v.as_ref().map(|t| t.0.clone()).unwrap_or_default())).collect())
        }
        EnvArg::List(l) => l
            .iter()
            .map(|e| match e.split_once('=') {
                Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
                _ => Err(format!("env entry {e:?} is not KEY=value")),
            })
            .collect(),
    }
}

/// `test:` normalized to what the CLI can set: a shell command or NONE.
fn health_test(words: &[String]) -> Result<Vec<String>, String> {
    match words.first().map(String::as_str) {
        Some("NONE") => Ok(vec!["NONE".into()]),
        Some("CMD-SHELL") => Ok(vec!["CMD-SHELL".into(), words[1..].join(" ")]),
        Some("CMD") => Ok(vec!["CMD-SHELL".into(), shell_join(&words[1..])]),
        Some(_) => Err("healthcheck.test as a list must start with CMD, CMD-SHELL or NONE".into()),
        None => Err("healthcheck.test is empty".into()),
    }
}

fn upd_cfg(u: &UpdateConfig, what: &str, actions: &[&str]) -> Result<UpdCfg, String> {
    one_of(&format!("{what}.order"), &u.order, &["start-first", "stop-first"])?;
    one_of(&format!("{what}.failure_action"), &u.failure_action, actions)?;
    let dur = |t: &Option<Text>, k: &str| -> Result<Option<i64>, String> {
        t.as_ref().map(|t| parse_duration(&t.0).map_err(|e| format!("{what}.{k}: {e}"))).transpose()
    };
    Ok(UpdCfg {
        parallelism: u.parallelism,
        delay: dur(&u.delay, "delay")?,
        order: u.order.clone(),
        failure_action: u.failure_action.clone(),
        monitor: dur(&u.monitor, "monitor")?,
        max_failure_ratio: u.max_failure_ratio,
    })
}

fn desired(a: &Args) -> Result<Desired, String> {
    one_of("state", &a.state, &["present", "absent"])?;
    one_of("mode", &a.mode, &["replicated", "global"])?;
    one_of("endpoint_mode", &a.endpoint_mode, &["vip", "dnsrr"])?;
    // The name is an operand after `--` everywhere; a name that docker would refuse anyway
    // (`-x`, `a b`, `../x`) is refused here, before any command.
    Word::new(WordKind::DockerObject, &a.name).map_err(|e| e.to_string())?;
    if a.mode.as_deref() == Some("global") && a.replicas.is_some() {
        return Err("replicas cannot be set with mode: global".into());
    }
    let mut d = Desired {
        image: a.image.clone(),
        global: a.mode.as_deref().map(|m| m == "global"),
        replicas: a.replicas,
        endpoint_mode: a.endpoint_mode.clone(),
        networks: a.networks.clone(),
        ..Desired::default()
    };
    if let Some(e) = &a.env {
        d.env = Some(env_map(e)?);
    }
    if let Some(ps) = &a.publish {
        let mut ports = Vec::new();
        for p in ps {
            one_of("publish.protocol", &p.protocol, &["tcp", "udp", "sctp"])?;
            one_of("publish.mode", &p.mode, &["ingress", "host"])?;
            ports.push(Port {
                published: p.published_port.map(u64::from).unwrap_or(0),
                target: u64::from(p.target_port),
                protocol: p.protocol.clone().unwrap_or_else(|| "tcp".into()),
                mode: p.mode.clone().unwrap_or_else(|| "ingress".into()),
            });
        }
        ports.sort();
        d.publish = Some(ports);
    }
    if let Some(c) = &a.command {
        d.command = Some(c.words().map_err(|e| format!("command: {e}"))?);
    }
    if let Some(c) = &a.args {
        d.args = Some(c.words().map_err(|e| format!("args: {e}"))?);
    }
    if let Some(l) = &a.labels {
        d.labels = Some(l.iter().map(|(k, v)| (k.clone(), v.0.clone())).collect());
    }
    if let Some(r) = &a.resources {
        let cpus = |s: &Option<ResourceSet>, k: &str| -> Result<(Option<i64>, Option<i64>), String> {
            let Some(s) = s else { return Ok((None, None)) };
            let c = s
                .cpus
                .as_ref()
                .map(|c| parse_cpus(&c.0).map_err(|e| format!("resources.{k}.cpus: {e}")))
                .transpose()?;
            let m = s
                .memory
                .as_ref()
                .map(|m| parse_bytes(&m.0).map_err(|e| format!("resources.{k}.memory: {e}")))
                .transpose()?;
            Ok((c, m))
        };
        (d.limit_cpu, d.limit_memory) = cpus(&r.limits, "limits")?;
        (d.reserve_cpu, d.reserve_memory) = cpus(&r.reservations, "reservations")?;
    }
    if let Some(p) = &a.placement {
        d.constraints = p.constraints.clone();
    }
    if let Some(h) = &a.healthcheck {
        let dur = |t: &Option<Text>, k: &str| -> Result<Option<i64>, String> {
            t.as_ref().map(|t| parse_duration(&t.0).map_err(|e| format!("healthcheck.{k}: {e}"))).transpose()
        };
        let test = match &h.test {
            None => None,
            Some(Words::Line(s)) if s.trim() == "NONE" => Some(vec!["NONE".to_string()]),
            Some(Words::Line(s)) => Some(vec!["CMD-SHELL".to_string(), s.clone()]),
            Some(w @ Words::List(_)) => Some(health_test(&w.words()?)?),
        };
        d.health = Some(Health {
            test,
            interval: dur(&h.interval, "interval")?,
            timeout: dur(&h.timeout, "timeout")?,
            retries: h.retries,
            start_period: dur(&h.start_period, "start_period")?,
        });
    }
    if let Some(u) = &a.update_config {
        d.update = Some(upd_cfg(u, "update_config", &["pause", "continue", "rollback"])?);
    }
    if let Some(u) = &a.rollback_config {
        d.rollback = Some(upd_cfg(u, "rollback_config", &["pause", "continue"])?);
    }
    Ok(d)
}

/// One `docker service` option: the flag, written in the code, and its value if it takes one.
type Opt = (&'static str, Option<String>);

/// `flag VALUE`.
fn opt(flag: &'static str, value: impl Into<String>) -> Opt {
    (flag, Some(value.into()))
}

/// Adds options to a command; each value is one quoted word.
fn with_opts<'a>(cmd: Cmd, opts: impl IntoIterator<Item = &'a Opt>) -> Cmd {
    opts.into_iter().fold(cmd, |c, (flag, value)| match value {
        Some(v) => c.opt(flag, v),
        None => c.flag(flag),
    })
}

/// One difference between the service and the arguments.
struct Delta {
    key: String,
    before: FieldValue,
    after: FieldValue,
    /// `docker service update` options.
    flags: Vec<Opt>,
}

fn one(s: impl Into<String>) -> FieldValue {
    FieldValue::One(s.into())
}

fn list(v: Vec<String>) -> FieldValue {
    FieldValue::List(v)
}

fn kv_list(m: &BTreeMap<String, String>) -> Vec<String> {
    m.iter().map(|(k, v)| format!("{k}={v}")).collect()
}

fn ptr<'a>(j: &'a Json, p: &str) -> Option<&'a Json> {
    j.pointer(p).filter(|v| !v.is_null())
}

fn str_list(j: Option<&Json>) -> Vec<String> {
    j.and_then(Json::as_array)
        .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
        .unwrap_or_default()
}

fn str_map(j: Option<&Json>) -> BTreeMap<String, String> {
    j.and_then(Json::as_object)
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string())).collect())
        .unwrap_or_default()
}

fn int(j: &Json, p: &str) -> i64 {
    ptr(j, p).and_then(Json::as_i64).unwrap_or(0)
}

/// Compares a key=value set; flags `add K=V` / `rm K`.
fn map_delta(
    out: &mut Vec<Delta>,
    key: &str,
    want: &BTreeMap<String, String>,
    have: &BTreeMap<String, String>,
    add: &'static str,
    rm: &'static str,
) {
    if want == have {
        return;
    }
    let mut flags = Vec::new();
    for k in have.keys().filter(|k| !want.contains_key(*k)) {
        flags.push(opt(rm, k.clone()));
    }
    for (k, v) in want.iter().filter(|(k, v)| have.get(*k) != Some(*v)) {
        flags.push(opt(add, format!("{k}={v}")));
    }
    out.push(Delta { key: key.into(), before: list(kv_list(have)), after: list(kv_list(want)), flags });
}

/// Compares a set of strings; flags `add X` / `rm X`.
fn set_delta(out: &mut Vec<Delta>, key: &str, want: &[String], have: &[String], add: &'static str, rm: &'static str) {
    let mut w: Vec<String> = want.to_vec();
    let mut h: Vec<String> = have.to_vec();
    w.sort();
    w.dedup();
    h.sort();
    h.dedup();
    if w == h {
        return;
    }
    let mut flags: Vec<Opt> = h.iter().filter(|x| !w.contains(x)).map(|x| opt(rm, x.clone())).collect();
    flags.extend(w.iter().filter(|x| !h.contains(x)).map(|x| opt(add, x.clone())));
    out.push(Delta { key: key.into(), before: list(h), after: list(w), flags });
}

fn scalar_delta<T: PartialEq>(
    out: &mut Vec<Delta>,
    key: &str,
    want: Option<T>,
    have: T,
    show: impl Fn(&T) -> String,
    flag: &'static str,
) {
    if let Some(w) = want {
        if w != have {
            let after = show(&w);
            out.push(Delta {
                key: key.into(),
                before: one(show(&have)),
                after: one(after.clone()),
                flags: vec![opt(flag, after)],
            });
        }
    }
}

fn current_health(spec: &Json) -> Health {
    let base = "/TaskTemplate/ContainerSpec/Healthcheck";
    let test = str_list(ptr(spec, &format!("{base}/Test")));
    Health {
        test: if test.is_empty() { None } else { health_test(&test).ok() },
        interval: Some(int(spec, &format!("{base}/Interval"))),
        timeout: Some(int(spec, &format!("{base}/Timeout"))),
        retries: Some(int(spec, &format!("{base}/Retries")) as u64),
        start_period: Some(int(spec, &format!("{base}/StartPeriod"))),
    }
}

fn current_upd(spec: &Json, which: &str) -> UpdCfg {
    let base = format!("/{which}");
    let has = ptr(spec, &base).is_some();
    UpdCfg {
        parallelism: Some(if has { int(spec, &format!("{base}/Parallelism")) as u64 } else { 1 }),
        delay: Some(int(spec, &format!("{base}/Delay"))),
        order: Some(ptr(spec, &format!("{base}/Order")).and_then(Json::as_str).unwrap_or("stop-first").to_string()),
        failure_action: Some(
            ptr(spec, &format!("{base}/FailureAction")).and_then(Json::as_str).unwrap_or("pause").to_string(),
        ),
        monitor: Some(ptr(spec, &format!("{base}/Monitor")).and_then(Json::as_i64).unwrap_or(5_000_000_000)),
        max_failure_ratio: Some(ptr(spec, &format!("{base}/MaxFailureRatio")).and_then(Json::as_f64).unwrap_or(0.0)),
    }
}

/// Which of the two update settings.
#[derive(Debug, Clone, Copy)]
enum UpdKind {
    Update,
    Rollback,
}

impl UpdKind {
    /// The options for parallelism, delay, order, failure action, monitor and max failure ratio.
    fn flags(self) -> [&'static str; 6] {
        match self {
            UpdKind::Update => [
                "--update-parallelism",
                "--update-delay",
                "--update-order",
                "--update-failure-action",
                "--update-monitor",
                "--update-max-failure-ratio",
            ],
            UpdKind::Rollback => [
                "--rollback-parallelism",
                "--rollback-delay",
                "--rollback-order",
                "--rollback-failure-action",
                "--rollback-monitor",
                "--rollback-max-failure-ratio",
            ],
        }
    }
}

fn upd_deltas(out: &mut Vec<Delta>, key: &str, kind: UpdKind, want: &UpdCfg, have: &UpdCfg) {
    let d = |v: &Option<i64>| v.map(fmt_duration).unwrap_or_default();
    let s = |v: &Option<String>| v.clone().unwrap_or_default();
    let n = |v: &Option<u64>| v.map(|x| x.to_string()).unwrap_or_default();
    let f = |v: &Option<f64>| v.map(|x| x.to_string()).unwrap_or_default();
    let items: [(&str, bool, String, String); 6] = [
        (
            "parallelism",
            want.parallelism.is_some() && want.parallelism != have.parallelism,
            n(&have.parallelism),
            n(&want.parallelism),
        ),
        ("delay", want.delay.is_some() && want.delay != have.delay, d(&have.delay), d(&want.delay)),
        ("order", want.order.is_some() && want.order != have.order, s(&have.order), s(&want.order)),
        (
            "failure-action",
            want.failure_action.is_some() && want.failure_action != have.failure_action,
            s(&have.failure_action),
            s(&want.failure_action),
        ),
        ("monitor", want.monitor.is_some() && want.monitor != have.monitor, d(&have.monitor), d(&want.monitor)),
        (
            "max-failure-ratio",
            want.max_failure_ratio.is_some() && want.max_failure_ratio != have.max_failure_ratio,
            f(&have.max_failure_ratio),
            f(&want.max_failure_ratio),
        ),
    ];
    for ((k, differs, before, after), flag) in items.into_iter().zip(kind.flags()) {
        if differs {
            out.push(Delta {
                key: format!("{key}.{}", k.replace('-', "_")),
                before: one(before),
                after: one(after.clone()),
                flags: vec![opt(flag, after)],
            });
        }
    }
}

/// What differs between the running service (`svc`, the inspect JSON) and the arguments.
fn deltas(d: &Desired, svc: &Json, networks: &BTreeMap<String, String>) -> Vec<Delta> {
    let empty = Json::Null;
    let spec = svc.get("Spec").unwrap_or(&empty);
    let cs = "/TaskTemplate/ContainerSpec";
    let mut out = Vec::new();
    if let Some(img) = &d.image {
        let have = ptr(spec, &format!("{cs}/Image")).and_then(Json::as_str).unwrap_or_default();
        if !same_image(img, have) {
            out.push(Delta {
                key: "image".into(),
                before: one(have),
                after: one(img.clone()),
                flags: vec![opt("--image", img.clone()), ("--no-resolve-image", None)],
            });
        }
    }
    if d.global != Some(true) {
        if let Some(r) = ptr(spec, "/Mode/Replicated") {
            let have = r.get("Replicas").and_then(Json::as_u64).unwrap_or(1);
            scalar_delta(&mut out, "replicas", d.replicas, have, |v| v.to_string(), "--replicas");
        }
    }
    if let Some(env) = &d.env {
        let have: BTreeMap<String, String> = str_list(ptr(spec, &format!("{cs}/Env")))
            .iter()
            .map(|e| match e.split_once('=') {
                Some((k, v)) => (k.to_string(), v.to_string()),
                None => (e.clone(), String::new()),
            })
            .collect();
        map_delta(&mut out, "env", env, &have, "--env-add", "--env-rm");
    }
    if let Some(want) = &d.publish {
        let mut have: Vec<Port> = ptr(spec, "/EndpointSpec/Ports")
            .and_then(Json::as_array)
            .map(|a| {
                a.iter()
                    .map(|p| Port {
                        published: p.get("PublishedPort").and_then(Json::as_u64).unwrap_or(0),
                        target: p.get("TargetPort").and_then(Json::as_u64).unwrap_or(0),
                        protocol: p.get("Protocol").and_then(Json::as_str).unwrap_or("tcp").to_string(),
                        mode: p.get("PublishMode").and_then(Json::as_str).unwrap_or("ingress").to_string(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        have.sort();
        if &have != want {
            let mut flags: Vec<Opt> =
                have.iter().filter(|p| !want.contains(p)).map(|p| opt("--publish-rm", p.flag())).collect();
            flags.extend(want.iter().filter(|p| !have.contains(p)).map(|p| opt("--publish-add", p.flag())));
            out.push(Delta {
                key: "publish".into(),
                before: list(have.iter().map(Port::show).collect()),
                after: list(want.iter().map(Port::show).collect()),
                flags,
            });
        }
    }
    let have_em = ptr(spec, "/EndpointSpec/Mode").and_then(Json::as_str).unwrap_or("vip").to_string();
    scalar_delta(&mut out, "endpoint_mode", d.endpoint_mode.clone(), have_em, |v| v.clone(), "--endpoint-mode");
    if let Some(want) = &d.networks {
        let have: Vec<String> = ptr(spec, "/TaskTemplate/Networks")
            .and_then(Json::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|n| n.get("Target").and_then(Json::as_str))
                    .map(|t| networks.get(t).cloned().unwrap_or_else(|| t.to_string()))
                    .collect()
            })
            .unwrap_or_default();
        set_delta(&mut out, "networks", want, &have, "--network-add", "--network-rm");
    }
    if let Some(want) = &d.command {
        let have = str_list(ptr(spec, &format!("{cs}/Command")));
        if &have != want {
            out.push(Delta {
                key: "command".into(),
                before: list(have),
                after: list(want.clone()),
                flags: vec![opt("--entrypoint", shell_join(want))],
            });
        }
    }
    if let Some(want) = &d.args {
        let have = str_list(ptr(spec, &format!("{cs}/Args")));
        if &have != want {
            out.push(Delta {
                key: "args".into(),
                before: list(have),
                after: list(want.clone()),
                flags: vec![opt("--args", shell_join(want))],
            });
        }
    }
    if let Some(want) = &d.labels {
        map_delta(&mut out, "labels", want, &str_map(ptr(spec, "/Labels")), "--label-add", "--label-rm");
    }
    let res = "/TaskTemplate/Resources";
    let cpu = |v: &i64| fmt_cpus(*v);
    let mem = |v: &i64| fmt_bytes(*v);
    scalar_delta(
        &mut out,
        "resources.limits.cpus",
        d.limit_cpu,
        int(spec, &format!("{res}/Limits/NanoCPUs")),
        cpu,
        "--limit-cpu",
    );
    scalar_delta(
        &mut out,
        "resources.limits.memory",
        d.limit_memory,
        int(spec, &format!("{res}/Limits/MemoryBytes")),
        mem,
        "--limit-memory",
    );
    scalar_delta(
        &mut out,
        "resources.reservations.cpus",
        d.reserve_cpu,
        int(spec, &format!("{res}/Reservations/NanoCPUs")),
        cpu,
        "--reserve-cpu",
    );
    scalar_delta(
        &mut out,
        "resources.reservations.memory",
        d.reserve_memory,
        int(spec, &format!("{res}/Reservations/MemoryBytes")),
        mem,
        "--reserve-memory",
    );
    if let Some(want) = &d.constraints {
        let have = str_list(ptr(spec, "/TaskTemplate/Placement/Constraints"));
        set_delta(&mut out, "placement.constraints", want, &have, "--constraint-add", "--constraint-rm");
    }
    if let Some(h) = &d.health {
        let have = current_health(spec);
        if let Some(t) = &h.test {
            if have.test.as_ref() != Some(t) {
                let flag = if t[0] == "NONE" { ("--no-healthcheck", None) } else { opt("--health-cmd", t[1].clone()) };
                out.push(Delta {
                    key: "healthcheck.test".into(),
                    before: list(have.test.clone().unwrap_or_default()),
                    after: list(t.clone()),
                    flags: vec![flag],
                });
            }
        }
        let dur = |v: &i64| fmt_duration(*v);
        scalar_delta(
            &mut out,
            "healthcheck.interval",
            h.interval,
            have.interval.unwrap_or(0),
            dur,
            "--health-interval",
        );
        scalar_delta(&mut out, "healthcheck.timeout", h.timeout, have.timeout.unwrap_or(0), dur, "--health-timeout");
        scalar_delta(
            &mut out,
            "healthcheck.retries",
            h.retries,
            have.retries.unwrap_or(0),
            |v| v.to_string(),
            "--health-retries",
        );
        scalar_delta(
            &mut out,
            "healthcheck.start_period",
            h.start_period,
            have.start_period.unwrap_or(0),
            dur,
            "--health-start-period",
        );
    }
    if let Some(u) = &d.update {
        upd_deltas(&mut out, "update_config", UpdKind::Update, u, &current_upd(spec, "UpdateConfig"));
    }
    if let Some(u) = &d.rollback {
        upd_deltas(&mut out, "rollback_config", UpdKind::Rollback, u, &current_upd(spec, "RollbackConfig"));
    }
    out
}

fn upd_create_flags(f: &mut Vec<Opt>, kind: UpdKind, u: &UpdCfg) {
    let [parallelism, delay, order, failure_action, monitor, max_failure_ratio] = kind.flags();
    if let Some(v) = u.parallelism {
        f.push(opt(parallelism, v.to_string()));
    }
    if let Some(v) = u.delay {
        f.push(opt(delay, fmt_duration(v)));
    }
    if let Some(v) = &u.order {
        f.push(opt(order, v.clone()));
    }
    if let Some(v) = &u.failure_action {
        f.push(opt(failure_action, v.clone()));
    }
    if let Some(v) = u.monitor {
        f.push(opt(monitor, fmt_duration(v)));
    }
    if let Some(v) = u.max_failure_ratio {
        f.push(opt(max_failure_ratio, v.to_string()));
    }
}

/// `docker service create` for the arguments: options, then `--`, the image and its arguments.
fn create_command(name: &str, d: &Desired, image: &str) -> Sh {
    let mut f: Vec<Opt> = vec![opt("--name", name)];
    if d.global == Some(true) {
        f.push(opt("--mode", "global"));
    }
    if let Some(r) = d.replicas {
        f.push(opt("--replicas", r.to_string()));
    }
    for (k, v) in d.env.iter().flatten() {
        f.push(opt("--env", format!("{k}={v}")));
    }
    for p in d.publish.iter().flatten() {
        f.push(opt("--publish", p.flag()));
    }
    if let Some(m) = &d.endpoint_mode {
        f.push(opt("--endpoint-mode", m.clone()));
    }
    for n in d.networks.iter().flatten() {
        f.push(opt("--network", n.clone()));
    }
    for (k, v) in d.labels.iter().flatten() {
        f.push(opt("--label", format!("{k}={v}")));
    }
    if let Some(v) = d.limit_cpu {
        f.push(opt("--limit-cpu", fmt_cpus(v)));
    }
    if let Some(v) = d.limit_memory {
        f.push(opt("--limit-memory", v.to_string()));
    }
    if let Some(v) = d.reserve_cpu {
        f.push(opt("--reserve-cpu", fmt_cpus(v)));
    }
    if let Some(v) = d.reserve_memory {
        f.push(opt("--reserve-memory", v.to_string()));
    }
    for c in d.constraints.iter().flatten() {
        f.push(opt("--constraint", c.clone()));
    }
    if let Some(h) = &d.health {
        match &h.test {
            Some(t) if t[0] == "NONE" => f.push(("--no-healthcheck", None)),
            Some(t) => f.push(opt("--health-cmd", t[1].clone())),
            None => {}
        }
        if let Some(v) = h.interval {
            f.push(opt("--health-interval", fmt_duration(v)));
        }
        if let Some(v) = h.timeout {
            f.push(opt("--health-timeout", fmt_duration(v)));
        }
        if let Some(v) = h.retries {
            f.push(opt("--health-retries", v.to_string()));
        }
        if let Some(v) = h.start_period {
            f.push(opt("--health-start-period", fmt_duration(v)));
        }
    }
    if let Some(u) = &d.update {
        upd_create_flags(&mut f, UpdKind::Update, u);
    }
    if let Some(u) = &d.rollback {
        upd_create_flags(&mut f, UpdKind::Rollback, u);
    }
    if let Some(c) = &d.command {
        f.push(opt("--entrypoint", shell_join(c)));
    }
    let create = service("create").flag("--detach").flag("--quiet").flag("--no-resolve-image");
    with_opts(create, &f).operand(image).operands(d.args.iter().flatten()).build()
}

/// `docker service SUB`.
fn service(sub: &'static str) -> Cmd {
    Cmd::new("docker").flag("service").flag(sub)
}

/// A summary of the arguments for a creation diff.
fn create_text(name: &str, d: &Desired, image: &str) -> String {
    let mut s = String::new();
    yaml_field(&mut s, "name", &one(name));
    yaml_field(&mut s, "image", &one(image));
    yaml_field(&mut s, "mode", &one(if d.global == Some(true) { "global" } else { "replicated" }));
    if let Some(r) = d.replicas {
        yaml_field(&mut s, "replicas", &one(r.to_string()));
    }
    if let Some(e) = &d.env {
        yaml_field(&mut s, "env", &list(kv_list(e)));
    }
    if let Some(p) = &d.publish {
        yaml_field(&mut s, "publish", &list(p.iter().map(Port::show).collect()));
    }
    if let Some(m) = &d.endpoint_mode {
        yaml_field(&mut s, "endpoint_mode", &one(m.clone()));
    }
    if let Some(n) = &d.networks {
        yaml_field(&mut s, "networks", &list(n.clone()));
    }
    if let Some(c) = &d.command {
        yaml_field(&mut s, "command", &list(c.clone()));
    }
    if let Some(c) = &d.args {
        yaml_field(&mut s, "args", &list(c.clone()));
    }
    if let Some(l) = &d.labels {
        yaml_field(&mut s, "labels", &list(kv_list(l)));
    }
    if let Some(c) = &d.constraints {
        yaml_field(&mut s, "placement.constraints", &list(c.clone()));
    }
    s
}

/// Reads the service (`None`: there is none).
async fn inspect(cx: &ModuleCtx<'_>, name: &str) -> Result<Option<Json>, ModuleError> {
    let cmd = service("inspect").flag("--format").flag("'{{json .}}'").operand(name).build();
    let r = run_json(cx, cmd.as_str()).await?;
    if r.missing("no such service") {
        return Ok(None);
    }
    if r.out.rc != 0 {
        return Err(probe_failed(&format!("docker service inspect {name}"), &r.out));
    }
    match r.json {
        Some(j) if j.is_object() => Ok(Some(j)),
        _ => Err(ModuleError::Failed(format!(
            "docker service inspect {name}: unexpected output {:?}",
            r.out.stdout_str()
        ))),
    }
}

/// Network ids to names.
async fn network_names(cx: &ModuleCtx<'_>) -> Result<BTreeMap<String, String>, ModuleError> {
    let out = cx.exec("docker network ls --no-trunc --format '{{json .}}'").await?;
    if out.rc != 0 {
        return Err(probe_failed("docker network ls", &out));
    }
    let lines = json_lines(&out).map_err(ModuleError::Failed)?;
    Ok(lines
        .iter()
        .filter_map(|l| Some((l.get("ID")?.as_str()?.to_string(), l.get("Name")?.as_str()?.to_string())))
        .collect())
}

/// `o` with community.docker's `msg` for what was done, and its `rebuilt` (prov's `recreated`).
fn said(o: Outcome, msg: &str) -> Outcome {
    let mut o = o.with("rebuilt", msg == "Service rebuilt");
    o.msg = Some(msg.to_string());
    o
}

#[async_trait]
impl Module for DockerSwarmService {
    const NAME: &'static str = "docker_swarm_service";
    const COLLECTIONS: &'static [&'static str] = &["community.docker", "ansible.builtin"];
    type Args = Args;
    type Plan = ServicePlan;

    fn check_args(args: &Args) -> Result<(), String> {
        desired(args).map(|_| ())
    }

    async fn plan(&self, args: &Args, cx: &ModuleCtx<'_>) -> Result<Plan<ServicePlan>, ModuleError> {
        // Check mode registers community.docker's message and `rebuilt` for the change too.
        Ok(match plan_service(args, cx).await? {
            Plan::Change(mut ch) => {
                ch.msg = Some(ch.plan.msg.to_string());
                ch.data.insert("rebuilt".into(), minijinja::Value::from(ch.plan.recreated));
                Plan::Change(ch)
            }
            other => other,
        })
    }

    async fn apply(&self, args: &Args, plan: ServicePlan, cx: &ModuleCtx<'_>) -> Result<Outcome, ModuleError> {
        apply_plan(args, plan, cx).await
    }
}

/// What `docker_swarm_service` would do: a result when there is nothing to do, else the change.
async fn plan_service(args: &Args, cx: &ModuleCtx<'_>) -> Result<Plan<ServicePlan>, ModuleError> {
    {
        let d = desired(args).map_err(ModuleError::Args)?;
        let name = &args.name;
        let current = inspect(cx, name).await?;
        let absent = args.state.as_deref() == Some("absent");
        let base = Outcome::ok().with("name", name.as_str());
        match (current, absent) {
            (None, true) => Ok(Plan::Ok(said(base, "Service absent").with("changes", Vec::<String>::new()))),
            (Some(_), true) => {
                let plan = ServicePlan {
                    steps: vec![service("rm").operand(name).build()],
                    changes: vec!["state".into()],
                    recreated: false,
                    wait: false,
                    msg: "Service removed",
                };
                Ok(Plan::Change(Change::new(plan, Action::Delete, "swarm_service", name.as_str()).with_diff(
                    format!("docker service {name}"),
                    "state: present\n",
                    "state: absent\n",
                )))
            }
            (None, false) => {
                let Some(image) = &d.image else {
                    return Ok(Plan::Ok(Outcome::failed(format!(
                        "service {name} does not exist: `image` is required to create it"
                    ))));
                };
                let plan = ServicePlan {
                    steps: vec![create_command(name, &d, image)],
                    changes: vec!["state".into()],
                    recreated: false,
                    wait: args.wait,
                    msg: "Service created",
                };
                Ok(Plan::Change(Change::new(plan, Action::Create, "swarm_service", name.as_str()).with_diff(
                    format!("docker service {name}"),
                    "state: absent\n",
                    create_text(name, &d, image),
                )))
            }
            (Some(svc), false) => {
                let is_global = ptr(&svc, "/Spec/Mode/Global").is_some();
                if let Some(g) = d.global.filter(|g| *g != is_global) {
                    let mode = |g: bool| if g { "global" } else { "replicated" };
                    let image = d
                        .image
                        .clone()
                        .or_else(|| {
                            ptr(&svc, "/Spec/TaskTemplate/ContainerSpec/Image")
                                .and_then(Json::as_str)
                                .map(|s| s.split('@').next().unwrap_or(s).to_string())
                        })
                        .unwrap_or_default();
                    let plan = ServicePlan {
                        steps: vec![service("rm").operand(name).build(), create_command(name, &d, &image)],
                        changes: vec!["mode".into()],
                        recreated: true,
                        wait: args.wait,
                        msg: "Service rebuilt",
                    };
                    return Ok(Plan::Change(
                        Change::new(plan, Action::Modify, "swarm_service", name.as_str()).with_diff(
                            format!("docker service {name} (re-created: the mode of a service cannot change)"),
                            format!("mode: {}\n", mode(is_global)),
                            format!("mode: {}\n", mode(g)),
                        ),
                    ));
                }
                let nets = match (&d.networks, ptr(&svc, "/Spec/TaskTemplate/Networks")) {
                    (Some(_), Some(_)) => network_names(cx).await?,
                    _ => BTreeMap::new(),
                };
                let ds = deltas(&d, &svc, &nets);
                if ds.is_empty() {
                    let base = base.with("changes", Vec::<String>::new()).with("recreated", false);
                    return Ok(Plan::Ok(said(base, "Service unchanged")));
                }
                let (mut before, mut after) = (String::new(), String::new());
                let mut update = service("update").flag("--detach").flag("--quiet");
                for x in &ds {
                    yaml_field(&mut before, &x.key, &x.before);
                    yaml_field(&mut after, &x.key, &x.after);
                    update = with_opts(update, &x.flags);
                }
                let plan = ServicePlan {
                    steps: vec![update.operand(name).build()],
                    changes: ds.iter().map(|x| x.key.clone()).collect(),
                    recreated: false,
                    wait: args.wait,
                    msg: "Service updated",
                };
                // A change of replicas alone is a scaling, which a plan's summary says so.
                let (action, resource) = match plan.changes.as_slice() {
                    [only] if only == "replicas" => (Action::Scale, "service"),
                    _ => (Action::Modify, "swarm_service"),
                };
                Ok(Plan::Change(Change::new(plan, action, resource, name.as_str()).with_diff(
                    format!("docker service {name}"),
                    before,
                    after,
                )))
            }
        }
    }
}

/// Runs the planned commands, then waits when asked.
async fn apply_plan(args: &Args, plan: ServicePlan, cx: &ModuleCtx<'_>) -> Result<Outcome, ModuleError> {
    {
        let name = &args.name;
        let mut last = None;
        for step in &plan.steps {
            let out = cx.exec(step.clone()).await?;
            if out.rc != 0 {
                let what = step.as_str().split_whitespace().take(3).collect::<Vec<_>>().join(" ");
                let mut o = command_failed(&format!("{what} {name}"), &out);
                o.changed = plan.steps.len() > 1 && step != &plan.steps[0];
                return Ok(o);
            }
            last = Some(out);
        }
        let mut o = Outcome { changed: true, ..Outcome::ok() }
            .with("name", name.as_str())
            .with("changes", plan.changes.clone())
            .with("recreated", plan.recreated);
        o = said(o, plan.msg);
        if let Some(out) = &last {
            let id = out.stdout_str().trim().to_string();
            if !id.is_empty() {
                o = o.with("id", id);
            }
        }
        if plan.wait {
            match wait_converged(cx, name, Duration::from_secs(args.wait_timeout)).await? {
                Ok((running, desired)) => {
                    o = o.with("running", running).with("desired", desired);
                }
                Err(msg) => {
                    o.failed = true;
                    o.msg = Some(msg);
                }
            }
        }
        Ok(o)
    }
}

/// One look at a converging service.
#[derive(Debug, PartialEq)]
struct Progress {
    /// Running tasks of the current spec.
    running: u64,
    /// Desired tasks (from `docker service ls`).
    desired: Option<u64>,
    /// `UpdateStatus.State` (`None`: no rolling update).
    update_state: Option<String>,
    update_message: String,
}

/// The command that reads a service's progress.
pub(crate) fn progress_command(name: &str) -> Sh {
    let ls = service("ls").opt("--filter", format!("name={name}")).flag("--format").flag("'{{.Name}} {{.Replicas}}'");
    let ps = service("ps")
        .flag("--filter")
        .flag("_up-to-date=true")
        .flag("--filter")
        .flag("desired-state=running")
        .flag("--format")
        .flag("'{{.CurrentState}}'")
        .operand(name);
    let upd = service("inspect").flag("--format").flag("'{{json .UpdateStatus}}'").operand(name);
    Sh::from(ls).then(Sh::lit("echo '--'")).then(ps).then(Sh::lit("echo '--'")).then(upd)
}

fn parse_progress(name: &str, text: &str) -> Progress {
    let mut sections: [Vec<&str>; 3] = Default::default();
    let mut i = 0;
    for line in text.lines() {
        if line.trim() == "--" {
            i = (i + 1).min(2);
        } else {
            sections[i].push(line);
        }
    }
    let [ls, ps, upd] = sections;
    let upd = upd.join("\n");
    let upd = upd.trim();
    let desired = ls.iter().find_map(|l| {
        let mut w = l.split_whitespace();
        if w.next() != Some(name) {
            return None;
        }
        w.next()?.split_once('/')?.1.parse().ok()
    });
    let running = ps.iter().filter(|l| l.trim_start().starts_with("Running")).count() as u64;
    let u: Json = serde_json::from_str(upd).unwrap_or(Json::Null);
    Progress {
        running,
        desired,
        update_state: u.get("State").and_then(Json::as_str).map(str::to_string),
        update_message: u.get("Message").and_then(Json::as_str).unwrap_or_default().to_string(),
    }
}

/// Polls (about once a second) until the service converged: `Ok((running, desired))`, or
/// `Err(message)` naming what is missing.
pub(crate) async fn wait_converged(
    cx: &ModuleCtx<'_>,
    name: &str,
    timeout: Duration,
) -> Result<Result<(u64, u64), String>, ModuleError> {
    let start = Instant::now();
    let cmd = progress_command(name);
    loop {
        let out = cx.exec(cmd.clone()).await?;
        let p = parse_progress(name, &out.stdout_str());
        match p.update_state.as_deref() {
            Some("paused") => return Ok(Err(format!("service {name}: update paused: {}", p.update_message))),
            Some("rollback_paused") => {
                return Ok(Err(format!("service {name}: rollback paused: {}", p.update_message)))
            }
            Some("rollback_completed") => {
                return Ok(Err(format!("service {name}: update failed and was rolled back: {}", p.update_message)))
            }
            _ => {}
        }
        let updating = matches!(p.update_state.as_deref(), Some("updating" | "rollback_started"));
        if let Some(desired) = p.desired {
            if p.running == desired && !updating {
                return Ok(Ok((p.running, desired)));
            }
        }
        let elapsed = start.elapsed();
        if elapsed >= timeout {
            let ps = service("ps")
                .flag("--no-trunc")
                .flag("--format")
                .flag("'{{.Name}} {{.Node}} {{.DesiredState}} {{.CurrentState}} {{.Error}}'")
                .operand(name);
            let tasks = cx.exec(Sh::from(ps).pipe(Sh::lit("head -n 10"))).await?;
            let desired = p.desired.map(|d| d.to_string()).unwrap_or_else(|| "?".into());
            let mut msg = format!(
                "service {name} did not converge within {} s: {} of {desired} up-to-date tasks running",
                timeout.as_secs(),
                p.running
            );
            if let Some(s) = &p.update_state {
                msg.push_str(&format!(" (update {s}"));
                if !p.update_message.is_empty() {
                    msg.push_str(&format!(": {}", p.update_message));
                }
                msg.push(')');
            }
            let t = tasks.stdout_str();
            if !t.trim().is_empty() {
                msg.push_str("; tasks:\n");
                msg.push_str(t.trim_end());
            }
            return Ok(Err(msg));
        }
        tokio::time::sleep((timeout - elapsed).min(Duration::from_secs(1))).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;
    use prov_core::testutil::FakeConnection;
    use serde_json::json;

    /// `docker service inspect pst-web --format '{{json .}}'` from a docker 20.10.24 swarm manager.
    const WEB: &str = include_str!("testdata/service_web.json");
    const INSPECT: &str = "docker service inspect --format '{{json .}}' -- pst-web";

    fn web_args() -> serde_json::Value {
        json!({
            "name": "pst-web",
            "image": "provstack/bb:1",
            "replicas": 2,
            "env": {"A": 1},
            "publish": [{"published_port": 18080, "target_port": 80, "mode": "host"}],
            "endpoint_mode": "dnsrr",
            "labels": {"team": "x"},
            "args": ["sleep", "100000"],
            "resources": {"limits": {"cpus": 0.5, "memory": "64M"}},
            "placement": {"constraints": ["node.role==worker"]},
            "healthcheck": {"test": "true", "interval": "10s"},
            "update_config": {"order": "start-first", "delay": 2},
            "wait": false,
        })
    }

    #[tokio::test]
    async fn absent_creates() {
        let h = fake(FakeConnection::new().on(INSPECT, 1, "Status: Error: no such service: pst-web, Code: 1\n"));
        let o = run::<DockerSwarmService>(web_args(), &h.ctx()).await;
        assert!(o.changed && !o.failed, "{o:?}");
        let calls = h.conn.calls();
        assert_eq!(calls.len(), 2, "{calls:?}");
        assert_eq!(
            calls[1],
            "docker service create --detach --quiet --no-resolve-image --name pst-web --replicas 2 --env A=1 \
             --publish mode=host,published=18080,target=80,protocol=tcp --endpoint-mode dnsrr --label team=x \
             --limit-cpu 0.5 --limit-memory 67108864 --constraint node.role==worker --health-cmd true \
             --health-interval 10s --update-delay 2s --update-order start-first -- provstack/bb:1 sleep 100000"
        );
        assert_eq!(o.planned[0].action, Action::Create);
        assert_eq!(o.diffs[0].before, "state: absent\n");
        assert!(o.diffs[0].after.contains("replicas: 2\nenv:\n  - A=1\n"), "{}", o.diffs[0].after);
    }

    #[tokio::test]
    async fn in_state_is_ok_with_one_inspect() {
        let h = fake(FakeConnection::new().on(INSPECT, 0, WEB));
        let o = run::<DockerSwarmService>(web_args(), &h.ctx()).await;
        assert!(!o.changed && !o.failed, "{o:?}");
        assert_eq!(h.conn.calls().len(), 1);
    }

    #[tokio::test]
    async fn drift_is_one_update_with_changed_flags_only() {
        let h = fake(FakeConnection::new().on(INSPECT, 0, WEB));
        let mut a = web_args();
        a["image"] = json!("provstack/bb:2");
        a["replicas"] = json!(3);
        a["env"] = json!(["B=2"]);
        a["publish"] = json!([{"published_port": 18081, "target_port": 80, "mode": "host"}]);
        a["update_config"] = json!({"order": "stop-first"});
        let o = run::<DockerSwarmService>(a, &h.ctx()).await;
        assert!(o.changed && !o.failed, "{o:?}");
        let calls = h.conn.calls();
        assert_eq!(calls.len(), 2, "{calls:?}");
        assert_eq!(
            calls[1],
            "docker service update --detach --quiet --image provstack/bb:2 --no-resolve-image --replicas 3 \
             --env-rm A --env-add B=2 --publish-rm mode=host,published=18080,target=80,protocol=tcp \
             --publish-add mode=host,published=18081,target=80,protocol=tcp --update-order stop-first -- pst-web"
        );
        assert_eq!(
            o.diffs[0].before,
            "image: provstack/bb:1\nreplicas: 2\nenv:\n  - A=1\npublish:\n  - 18080:80/tcp host\nupdate_config.order: start-first\n"
        );
        assert_eq!(
            o.diffs[0].after,
            "image: provstack/bb:2\nreplicas: 3\nenv:\n  - B=2\npublish:\n  - 18081:80/tcp host\nupdate_config.order: stop-first\n"
        );
        let changes: Vec<String> = o.data["changes"].try_iter().unwrap().map(|v| v.to_string()).collect();
        assert_eq!(changes, ["image", "replicas", "env", "publish", "update_config.order"]);
    }

    #[tokio::test]
    async fn check_mode_runs_no_update() {
        let h = fake_check(FakeConnection::new().on(INSPECT, 0, WEB));
        let o = run::<DockerSwarmService>(json!({"name": "pst-web", "replicas": 5, "labels": {}}), &h.ctx()).await;
        assert!(o.changed, "{o:?}");
        assert_eq!(h.conn.calls().len(), 1);
        assert_eq!(o.diffs[0].before, "replicas: 2\nlabels:\n  - team=x\n");
        assert_eq!(o.diffs[0].after, "replicas: 5\nlabels: []\n");
    }

    #[tokio::test]
    async fn a_change_of_replicas_alone_is_planned_as_a_scaling() {
        use prov_core::module::Action;
        let h = fake_check(FakeConnection::new().on(INSPECT, 0, WEB));
        let o = run::<DockerSwarmService>(json!({"name": "pst-web", "replicas": 5}), &h.ctx()).await;
        let planned: Vec<_> = o.planned.iter().map(|p| (p.action, p.resource)).collect();
        assert_eq!(planned, [(Action::Scale, "service")]);
        let o = run::<DockerSwarmService>(json!({"name": "pst-web", "replicas": 5, "labels": {}}), &h.ctx()).await;
        let planned: Vec<_> = o.planned.iter().map(|p| (p.action, p.resource)).collect();
        assert_eq!(planned, [(Action::Modify, "swarm_service")]);
    }

    #[tokio::test]
    async fn waits_until_converged() {
        let progress = "pst-web 3/3\n--\nRunning 2 seconds ago\nRunning 2 seconds ago\nRunning 1 second ago\n--\n\
                        {\"State\":\"completed\",\"Message\":\"update completed\"}\n";
        let h =
            fake(FakeConnection::new().on(INSPECT, 0, WEB).on("docker service ls --filter name=pst-web", 0, progress));
        let o = run::<DockerSwarmService>(json!({"name": "pst-web", "replicas": 3, "wait": true}), &h.ctx()).await;
        assert!(o.changed && !o.failed, "{o:?}");
        assert_eq!(o.data["running"].as_usize(), Some(3));
        assert_eq!(h.conn.calls()[2], progress_command("pst-web").as_str());
    }

    #[tokio::test]
    async fn wait_timeout_names_what_is_missing() {
        let progress = "pst-web 0/2\n--\nStarting less than a second ago\n--\nnull\n";
        let tasks = "pst-web.1 w1 Ready Ready 1 second ago\npst-web.1 w2 Shutdown Failed 6 seconds ago \"starting container failed: no such image\"\n";
        let h = fake(
            FakeConnection::new()
                .on(INSPECT, 1, "Error: no such service: pst-web")
                .on("docker service ls --filter name=pst-web", 0, progress)
                .on("docker service ps --no-trunc", 0, tasks),
        );
        let mut a = web_args();
        a["wait"] = json!(true);
        a["wait_timeout"] = json!(0);
        let o = run::<DockerSwarmService>(a, &h.ctx()).await;
        assert!(o.failed && o.changed, "{o:?}");
        let msg = o.msg.unwrap_or_default();
        assert!(
            msg.starts_with("service pst-web did not converge within 0 s: 0 of 2 up-to-date tasks running; tasks:\n"),
            "{msg}"
        );
        assert!(msg.contains("no such image"), "{msg}");
    }

    #[tokio::test]
    async fn paused_update_fails() {
        let progress = "pst-web 1/2\n--\nRunning 1 second ago\n--\n{\"State\":\"paused\",\"Message\":\"update paused due to failure of task x\"}\n";
        let h =
            fake(FakeConnection::new().on(INSPECT, 0, WEB).on("docker service ls --filter name=pst-web", 0, progress));
        let o =
            run::<DockerSwarmService>(json!({"name": "pst-web", "image": "provstack/bb:2", "wait": true}), &h.ctx())
                .await;
        assert!(o.failed, "{o:?}");
        assert_eq!(o.msg.as_deref(), Some("service pst-web: update paused: update paused due to failure of task x"));
    }

    #[tokio::test]
    async fn absent_removes_and_mode_change_recreates() {
        let h = fake(FakeConnection::new().on(INSPECT, 0, WEB));
        let o = run::<DockerSwarmService>(json!({"name": "pst-web", "state": "absent"}), &h.ctx()).await;
        assert!(o.changed && o.planned[0].action == Action::Delete, "{o:?}");
        assert_eq!(h.conn.calls()[1], "docker service rm -- pst-web");

        let h = fake(FakeConnection::new().on(INSPECT, 0, WEB));
        let o = run::<DockerSwarmService>(json!({"name": "pst-web", "mode": "global", "wait": false}), &h.ctx()).await;
        assert!(o.changed, "{o:?}");
        let calls = h.conn.calls();
        assert_eq!(calls[1], "docker service rm -- pst-web");
        assert_eq!(
            calls[2],
            "docker service create --detach --quiet --no-resolve-image --name pst-web --mode global -- provstack/bb:1"
        );

        let h = fake(FakeConnection::new().on(INSPECT, 1, "Error: no such service: pst-web"));
        let o = run::<DockerSwarmService>(json!({"name": "pst-web", "state": "absent"}), &h.ctx()).await;
        assert!(!o.changed && !o.failed);
    }

    /// community.docker's `msg` and `rebuilt` for each thing the module can do, in a run and in
    /// check mode.
    #[tokio::test]
    async fn msg_and_rebuilt_say_what_was_done_as_community_docker() {
        let said = |o: &Outcome| (o.msg.clone().unwrap_or_default(), o.data["rebuilt"].is_true());
        let missing = || FakeConnection::new().on(INSPECT, 1, "Error: no such service: pst-web");
        let o = run::<DockerSwarmService>(web_args(), &fake(missing()).ctx()).await;
        assert_eq!(said(&o), ("Service created".into(), false));
        let o = run::<DockerSwarmService>(web_args(), &fake_check(missing()).ctx()).await;
        assert_eq!(said(&o), ("Service created".into(), false));
        let o = run::<DockerSwarmService>(web_args(), &fake(FakeConnection::new().on(INSPECT, 0, WEB)).ctx()).await;
        assert_eq!(said(&o), ("Service unchanged".into(), false));
        let o = run::<DockerSwarmService>(
            json!({"name": "pst-web", "replicas": 5}),
            &fake(FakeConnection::new().on(INSPECT, 0, WEB)).ctx(),
        )
        .await;
        assert_eq!(said(&o), ("Service updated".into(), false));
        let mode = json!({"name": "pst-web", "mode": "global", "wait": false});
        let o = run::<DockerSwarmService>(mode.clone(), &fake(FakeConnection::new().on(INSPECT, 0, WEB)).ctx()).await;
        assert_eq!(said(&o), ("Service rebuilt".into(), true));
        let o = run::<DockerSwarmService>(mode, &fake_check(FakeConnection::new().on(INSPECT, 0, WEB)).ctx()).await;
        assert_eq!(said(&o), ("Service rebuilt".into(), true));
        let absent = json!({"name": "pst-web", "state": "absent"});
        let o = run::<DockerSwarmService>(absent.clone(), &fake(FakeConnection::new().on(INSPECT, 0, WEB)).ctx()).await;
        assert_eq!(said(&o), ("Service removed".into(), false));
        let o = run::<DockerSwarmService>(absent, &fake(missing()).ctx()).await;
        assert_eq!(said(&o), ("Service absent".into(), false));
    }

    #[tokio::test]
    async fn failures() {
        let h =
            fake(FakeConnection::new().on(INSPECT, 1, "Error response from daemon: This node is not a swarm manager."));
        let e = run_err::<DockerSwarmService>(json!({"name": "pst-web", "image": "x"}), &h.ctx()).await;
        assert!(e.contains("not a swarm manager"), "{e}");
        let e = run_err::<DockerSwarmService>(json!({"name": "x", "mode": "global", "replicas": 2}), &h.ctx()).await;
        assert!(e.contains("replicas cannot be set with mode: global"), "{e}");
        let e = run_err::<DockerSwarmService>(json!({"name": "x", "update_config": {"delay": "soon"}}), &h.ctx()).await;
        assert!(e.contains("update_config.delay: invalid duration"), "{e}");
        let h = fake(FakeConnection::new().on(
            "docker service inspect --format '{{json .}}' -- x",
            1,
            "no such service: x",
        ));
        let o = run::<DockerSwarmService>(json!({"name": "x", "replicas": 2}), &h.ctx()).await;
        assert!(o.failed && o.msg.unwrap_or_default().contains("`image` is required"));
    }

    /// Runs each command with `sh` and a `docker` that records its arguments: the argument
    /// lists docker would have received.
    fn docker_argv(calls: &[String]) -> Vec<Vec<String>> {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let bin = dir.path().join("docker");
        std::fs::write(&bin, "#!/bin/sh\nprintf '%s\\0' \"$@\" @@end@@ >> \"$DOCKER_LOG\"\n").expect("writable");
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let log = dir.path().join("log");
        for c in calls {
            std::process::Command::new("sh")
                .arg("-c")
                .arg(c)
                .env("PATH", format!("{}:/usr/bin:/bin", dir.path().display()))
                .env("DOCKER_LOG", &log)
                .output()
                .expect("sh runs");
        }
        let text = std::fs::read(&log).unwrap_or_default();
        let mut out = vec![Vec::new()];
        for w in String::from_utf8_lossy(&text).split_terminator('\0') {
            if w == "@@end@@" {
                out.push(Vec::new());
            } else {
                out.last_mut().expect("one list").push(w.to_string());
            }
        }
        out.pop();
        out
    }

    fn argv(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| w.to_string()).collect()
    }

    #[tokio::test]
    async fn service_names_that_are_options_or_not_names_are_refused_before_any_command() {
        let marker = pwned_marker("swarm_service_name");
        for name in ["-x", "--help", &format!("$(touch {marker})"), "a\nb", "../x", "a b"] {
            let h = fake(FakeConnection::new());
            let e = run_err::<DockerSwarmService>(json!({"name": name, "image": "x"}), &h.ctx()).await;
            assert!(e.contains("is not a valid name or id"), "{name:?}: {e}");
            assert!(h.conn.calls().is_empty(), "{name:?} reached a command: {:?}", h.conn.calls());
        }
    }

    #[tokio::test]
    async fn hostile_values_reach_docker_as_single_arguments_and_operands_follow_a_double_dash() {
        let marker = pwned_marker("swarm_service");
        for v in hostile_values(&marker) {
            let v = v.as_str();
            // Created, then waited for: every value is one argument, the image and its
            // arguments come after `--`.
            let h = fake(FakeConnection::new().on("docker service inspect", 1, "Error: no such service: $(id)").on(
                "docker service ls",
                0,
                "--\n--\nnull\n",
            ));
            let args = json!({
                "name": "$(id)", "image": v, "env": {"E": v}, "labels": {"L": v}, "args": [v, "-rf"],
                "command": [v], "networks": [v], "placement": {"constraints": [v]},
                "healthcheck": {"test": ["CMD-SHELL", v]}, "wait": true, "wait_timeout": 0,
            });
            let o = run::<DockerSwarmService>(args, &h.ctx()).await;
            assert!(o.changed, "{v:?}: {o:?}");
            let got = docker_argv(&h.conn.calls());
            let entry = shell_join(&[v.to_string()]);
            let (env, label) = (format!("E={v}"), format!("L={v}"));
            let want = [
                argv(&["service", "inspect", "--format", "{{json .}}", "--", "$(id)"]),
                argv(&[
                    "service",
                    "create",
                    "--detach",
                    "--quiet",
                    "--no-resolve-image",
                    "--name",
                    "$(id)",
                    "--env",
                    &env,
                    "--network",
                    v,
                    "--label",
                    &label,
                    "--constraint",
                    v,
                    "--health-cmd",
                    v,
                    "--entrypoint",
                    &entry,
                    "--",
                    v,
                    v,
                    "-rf",
                ]),
                argv(&["service", "ls", "--filter", "name=$(id)", "--format", "{{.Name}} {{.Replicas}}"]),
                argv(&[
                    "service",
                    "ps",
                    "--filter",
                    "_up-to-date=true",
                    "--filter",
                    "desired-state=running",
                    "--format",
                    "{{.CurrentState}}",
                    "--",
                    "$(id)",
                ]),
                argv(&["service", "inspect", "--format", "{{json .UpdateStatus}}", "--", "$(id)"]),
                argv(&[
                    "service",
                    "ps",
                    "--no-trunc",
                    "--format",
                    "{{.Name}} {{.Node}} {{.DesiredState}} {{.CurrentState}} {{.Error}}",
                    "--",
                    "$(id)",
                ]),
            ];
            assert_eq!(got, want, "{v:?}");

            // Updated: the added values are single arguments, the service an operand.
            let h = fake(FakeConnection::new().on(INSPECT, 0, WEB));
            let args = json!({"name": "pst-web", "image": v, "env": {"E": v}, "labels": {"L": v}, "args": [v]});
            let o = run::<DockerSwarmService>(args, &h.ctx()).await;
            assert!(o.changed && !o.failed, "{v:?}: {o:?}");
            let got = docker_argv(&h.conn.calls()[1..]);
            let want = argv(&[
                "service",
                "update",
                "--detach",
                "--quiet",
                "--image",
                v,
                "--no-resolve-image",
                "--env-rm",
                "A",
                "--env-add",
                &env,
                "--args",
                &entry,
                "--label-rm",
                "team",
                "--label-add",
                &label,
                "--",
                "pst-web",
            ]);
            assert_eq!(got, [want], "{v:?}");
        }
        // Removed: the name is an operand.
        let h = fake(FakeConnection::new().on("docker service inspect", 0, WEB));
        let o = run::<DockerSwarmService>(json!({"name": "$(id)", "state": "absent"}), &h.ctx()).await;
        assert!(o.changed && !o.failed, "{o:?}");
        assert_eq!(docker_argv(&h.conn.calls()[1..]), [argv(&["service", "rm", "--", "$(id)"])]);
        assert!(!std::path::Path::new(&marker).exists(), "a hostile value ran as shell");
    }

    #[test]
    fn progress_parse() {
        let p = parse_progress("web", "web-2 1/1\nweb 2/3\n--\nRunning 1s\nPreparing 1s\n--\nnull\n");
        assert_eq!(p, Progress { running: 1, desired: Some(3), update_state: None, update_message: String::new() });
        let p = parse_progress("web", "--\n--\n{\"State\":\"updating\"}\n");
        assert_eq!((p.running, p.desired, p.update_state.as_deref()), (0, None, Some("updating")));
    }
}

#[cfg(test)]
mod real_tests {
    use super::*;
    use crate::containers::testconn::DockerExecConn;
    use crate::testing::run;
    use prov_core::module::{DiffMode, FactCache, RunMode};
    use prov_core::testutil::{DirFiles, MapVars};
    use serde_json::json;

    /// Needs `PROV_TEST_SWARM=<container with a swarm manager>` and `provstack/bb:1`/`:2` loaded there.
    #[tokio::test]
    #[ignore = "needs a swarm manager container named by PROV_TEST_SWARM (see containers/testconn.rs)"]
    async fn real_swarm_service() {
        let conn = DockerExecConn::from_env().expect("PROV_TEST_SWARM names the swarm manager container");
        let (files, vars, facts) = (DirFiles(".".into()), MapVars(minijinja::Value::from(())), FactCache::default());
        let cx = ModuleCtx {
            host: "m1",
            delegate_to: None,
            conn: &conn,
            host_conn: None,
            become_: None,
            env: Vec::new(),
            mode: RunMode { diff: DiffMode::On, ..RunMode::default() },
            files: &files,
            vars: &vars,
            facts: &facts,
            timeout: None,
            progress: None,
        };
        let _ = cx.exec("docker service rm pst-svc").await.unwrap();
        let args = json!({
            "name": "pst-svc", "image": "provstack/bb:1", "replicas": 2, "args": "sleep 100000",
            "env": {"A": "1"}, "endpoint_mode": "dnsrr", "labels": {"team": "x"},
            "publish": [{"published_port": 18097, "target_port": 80, "mode": "host"}],
            "placement": {"constraints": ["node.role==worker"]},
            "healthcheck": {"test": ["CMD", "true"], "interval": "30s", "retries": 2},
            "update_config": {"order": "start-first", "delay": "1s", "parallelism": 2},
            "rollback_config": {"failure_action": "continue"},
            "resources": {"reservations": {"memory": "16M"}},
            "wait": false
        });
        let o = run::<DockerSwarmService>(args.clone(), &cx).await;
        assert!(o.changed && !o.failed, "{o:?}");
        let o = run::<DockerSwarmService>(args.clone(), &cx).await;
        assert!(!o.changed && !o.failed, "{o:?}");
        let mut a = args.clone();
        a["image"] = json!("provstack/bb:2");
        a["env"] = json!(["B=2"]);
        a["publish"] = json!([{"published_port": 18098, "target_port": 80, "mode": "host", "protocol": "udp"}]);
        a["labels"] = json!({"team": "y"});
        a["placement"] = json!({"constraints": []});
        a["update_config"] = json!({"order": "stop-first"});
        a["healthcheck"] = json!({"test": "NONE"});
        let o = run::<DockerSwarmService>(a.clone(), &cx).await;
        assert!(o.changed && !o.failed, "{o:?}");
        eprintln!("{}{}", o.diffs[0].before, o.diffs[0].after);
        let o = run::<DockerSwarmService>(a.clone(), &cx).await;
        assert!(!o.changed && !o.failed, "{o:?}");
        // Tasks cannot start in the dev containers (read-only cgroups): the wait times out.
        let o =
            run::<DockerSwarmService>(json!({"name": "pst-svc", "replicas": 1, "wait": true, "wait_timeout": 2}), &cx)
                .await;
        eprintln!("{:?}", o.msg);
        let o = run::<DockerSwarmService>(json!({"name": "pst-svc", "state": "absent"}), &cx).await;
        assert!(o.changed && !o.failed, "{o:?}");
    }
}
