//! `firewalld`: services, ports, protocols, sources, interfaces, rich rules, ICMP blocks, port
//! forwards, forwarding, masquerading, targets and zones of firewalld (ansible.posix.firewalld;
//! `ansible.builtin.firewalld` redirects to it).
//!
//! Arguments (as in ansible.posix 2.1, shipped with ansible 12.3): `state` (required:
//! `enabled`, `disabled`, `present`, `absent`), one of `service`, `protocol`, `port`
//! (`8080/tcp`, `8000-8010/udp`), `port_forward` (one `{port, proto, toport, toaddr}`),
//! `rich_rule`, `source` (an address or network), `interface` (with `zone`), `icmp_block`,
//! `icmp_block_inversion`, `forward`, `masquerade` (booleans), `target` (`default`, `ACCEPT`,
//! `DROP`, `%%REJECT%%`, with `zone`), or none of them with `present`/`absent` to add or remove
//! the `zone` itself; `zone` (default: the default zone), `permanent`, `immediate`, `timeout`
//! (seconds a runtime rule lasts), `offline`.
//!
//! It works as ansible.posix's module works, through `firewall-cmd` (or `firewall-offline-cmd`
//! when the daemon is not running), observed on the same containers: without `permanent` the
//! change is made at run time only; with it, in the permanent configuration, and with
//! `immediate` as well at run time; each is asked first (`--list-services`, `--query-port`,
//! `--query-rich-rule`, ...) and changed only when it differs. Zone and target operations must
//! be permanent. With the daemon stopped only permanent changes can be made (the result says
//! "offline operation"), and prov makes only zones there: ansible.posix's offline operation
//! (with firewalld 1.x) writes a zone back without its `<forward/>` (forwarding is turned off
//! in every zone it touches, and `forward: true` changes again on every run), which prov does
//! not reproduce, so such a change fails the task saying so (reads, unchanged results and check
//! mode are Ansible's). Registers `msg` as Ansible words it ("Permanent and
//! Non-Permanent(immediate) operation, Changed service http to enabled"); a failed firewalld
//! call fails the task with "ERROR: Exception caught: " and firewalld's error. In check mode a
//! change registers `changed` alone, as in Ansible.
//!
//! Refused before anything runs: the argument errors Ansible reports (two of the items above
//! in one task, `interface` or `target` without `zone`), and values with control characters or
//! that start with `-`. Where firewalld's own error message says more than firewall-cmd prints
//! (the daemon's message of an invalid run-time value), prov's failure message is the shorter
//! one. Not reproduced: a false `forward`, `masquerade` or `icmp_block_inversion` with
//! `present`/`absent`, where Ansible also runs the zone's own operation.
//!
//! ```yaml
//! - ansible.posix.firewalld: {service: https, permanent: true, immediate: true, state: enabled}
//! - firewalld: {port: 8080/tcp, zone: public, permanent: true, state: enabled}
//! ```

use async_trait::async_trait;
use prov_core::args::lenient_bool;
use prov_core::cmd::{Cmd, Sh};
use prov_core::connection::ExecOutput;
use prov_core::module::{Action, Change, Module, ModuleCtx, ModuleError, Outcome, Plan};
use serde::Deserialize;

/// One `port_forward` entry (ansible.posix checks neither its keys nor its values: other keys
/// are ignored, `proto` goes to firewalld as given).
#[derive(Debug, Deserialize, Clone)]
pub struct PortForward {
    /// Source port.
    #[serde(default, deserialize_with = "crate::util::stringish")]
    pub port: Option<String>,
    /// `tcp` or `udp`.
    #[serde(default, deserialize_with = "crate::util::stringish")]
    pub proto: Option<String>,
    /// Destination port.
    #[serde(default, deserialize_with = "crate::util::stringish")]
    pub toport: Option<String>,
    /// Destination address.
    #[serde(default, deserialize_with = "crate::util::stringish")]
    pub toaddr: Option<String>,
}

/// Arguments of `firewalld`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    /// An ICMP type to block.
    #[serde(default, deserialize_with = "crate::util::stringish")]
    pub icmp_block: Option<String>,
    /// ICMP block inversion.
    #[serde(default, deserialize_with = "prov_core::args::lenient_opt_bool")]
    pub icmp_block_inversion: Option<bool>,
    /// A service.
    #[serde(default, deserialize_with = "crate::util::stringish")]
    pub service: Option<String>,
    /// A protocol.
    #[serde(default, deserialize_with = "crate::util::stringish")]
    pub protocol: Option<String>,
    /// `PORT/PROTOCOL`.
    #[serde(default, deserialize_with = "crate::util::stringish")]
    pub port: Option<String>,
    /// One port forward.
    #[serde(default)]
    pub port_forward: Option<Vec<PortForward>>,
    /// A rich rule.
    #[serde(default, deserialize_with = "crate::util::stringish")]
    pub rich_rule: Option<String>,
    /// The zone (default: the default zone).
    #[serde(default, deserialize_with = "crate::util::stringish")]
    pub zone: Option<String>,
    /// Also at run time, with `permanent`.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub immediate: bool,
    /// A source address or network.
    #[serde(default, deserialize_with = "crate::util::stringish")]
    pub source: Option<String>,
    /// In the permanent configuration.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub permanent: bool,
    /// `enabled`, `disabled`, `present`, `absent`.
    pub state: State,
    /// Seconds a runtime rule lasts (0: for ever).
    #[serde(default)]
    pub timeout: i64,
    /// An interface.
    #[serde(default, deserialize_with = "crate::util::stringish")]
    pub interface: Option<String>,
    /// Forwarding in the zone.
    #[serde(default, deserialize_with = "prov_core::args::lenient_opt_bool")]
    pub forward: Option<bool>,
    /// Masquerading in the zone.
    #[serde(default, deserialize_with = "prov_core::args::lenient_opt_bool")]
    pub masquerade: Option<bool>,
    /// Work on the files with the daemon stopped.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub offline: bool,
    /// The zone's target.
    #[serde(default)]
    pub target: Option<Target>,
}

/// `state` of `firewalld`.
#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// On.
    Enabled,
    /// Off.
    Disabled,
    /// A zone (or a target) present.
    Present,
    /// A zone removed (or a target reset).
    Absent,
}

impl State {
    fn as_str(self) -> &'static str {
        match self {
            State::Enabled => "enabled",
            State::Disabled => "disabled",
            State::Present => "present",
            State::Absent => "absent",
        }
    }
}

/// `target` of `firewalld`.
#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// `default`.
    #[serde(rename = "default")]
    Default,
    /// `ACCEPT`.
    #[serde(rename = "ACCEPT")]
    Accept,
    /// `DROP`.
    #[serde(rename = "DROP")]
    Drop,
    /// `%%REJECT%%`.
    #[serde(rename = "%%REJECT%%")]
    Reject,
}

impl Target {
    fn as_str(self) -> &'static str {
        match self {
            Target::Default => "default",
            Target::Accept => "ACCEPT",
            Target::Drop => "DROP",
            Target::Reject => "%%REJECT%%",
        }
    }
}

/// What a task works on.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Item {
    IcmpBlock(String),
    IcmpBlockInversion,
    Service(String),
    Protocol(String),
    Source(String),
    Port(String, String),
    ForwardPort { port: String, proto: String, toport: String, toaddr: String },
    RichRule(String),
    Interface(String),
    Forward,
    Masquerade,
    Target(Target),
    Zone,
}

/// The items Ansible allows one of.
const EXCLUSIVE: &str =
    "icmp_block|icmp_block_inversion|service|protocol|port|port_forward|rich_rule|interface|forward|masquerade|source|target";

/// How a question is asked: a yes/no query, or a list the value is looked up in.
enum Ask {
    Query(String),
    List(&'static str, String),
    Target(Target),
    Zones,
}

impl Item {
    /// Whether the item takes a runtime `--timeout`.
    fn timed(&self) -> bool {
        matches!(
            self,
            Item::IcmpBlock(_)
                | Item::Service(_)
                | Item::Protocol(_)
                | Item::Port(..)
                | Item::ForwardPort { .. }
                | Item::RichRule(_)
        )
    }

    /// The option's text after `--query-`, `--add-`, `--remove-` (`service=http`).
    fn option(&self) -> String {
        match self {
            Item::IcmpBlock(v) => format!("icmp-block={v}"),
            Item::IcmpBlockInversion => "icmp-block-inversion".into(),
            Item::Service(v) => format!("service={v}"),
            Item::Protocol(v) => format!("protocol={v}"),
            Item::Source(v) => format!("source={v}"),
            Item::Port(p, proto) => format!("port={p}/{proto}"),
            Item::ForwardPort { port, proto, toport, toaddr } => {
                let mut s = format!("forward-port=port={port}:proto={proto}");
                if !toport.is_empty() {
                    s.push_str(&format!(":toport={toport}"));
                }
                if !toaddr.is_empty() {
                    s.push_str(&format!(":toaddr={toaddr}"));
                }
                s
            }
            Item::RichRule(r) => format!("rich-rule={r}"),
            Item::Interface(i) => format!("interface={i}"),
            Item::Forward => "forward".into(),
            Item::Masquerade => "masquerade".into(),
            Item::Target(_) | Item::Zone => String::new(),
        }
    }

    fn ask(&self) -> Ask {
        match self {
            Item::Service(v) => Ask::List("--list-services", v.clone()),
            Item::Protocol(v) => Ask::List("--list-protocols", v.clone()),
            Item::Source(v) => Ask::List("--list-sources", v.clone()),
            Item::IcmpBlock(v) => Ask::List("--list-icmp-blocks", v.clone()),
            Item::Interface(v) => Ask::List("--list-interfaces", v.clone()),
            Item::Target(t) => Ask::Target(*t),
            Item::Zone => Ask::Zones,
            other => Ask::Query(format!("--query-{}", other.option())),
        }
    }
}

/// Which command, and whether its words are permanent ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tool {
    /// `firewall-cmd`, the daemon running.
    Online,
    /// `firewall-offline-cmd`: the files only.
    Offline,
}

/// A firewall command: the tool, `--permanent` when asked (online), `--zone=Z`, then `words`.
fn fw(tool: Tool, permanent: bool, zone: Option<&str>, words: &[String]) -> Sh {
    let mut c = match tool {
        Tool::Online => Cmd::new("LANG=C firewall-cmd"),
        Tool::Offline => Cmd::new("LANG=C firewall-offline-cmd"),
    };
    if permanent && tool == Tool::Online {
        c = c.flag("--permanent");
    }
    if let Some(z) = zone {
        c = c.opt_eq("--zone", z);
    }
    // Each word is one argument that starts with `--` (an option with its value attached).
    let sh = c.build();
    words.iter().fold(sh, |s, w| s.word(Sh::quoted(w)))
}

/// firewalld's error as the Python bindings raise it: through D-Bus (the daemon running) with
/// the exception's name first (`org.fedoraproject.FirewallD1.Exception: INVALID_ZONE: x`).
/// firewall-cmd prints only the error's code and its main value: where the daemon's message
/// says more (`INVALID_SERVICE: Zone 'public': 'x' not among existing services`), prov's is
/// shorter (`INVALID_SERVICE: x`).
fn error_of(tool: Tool, out: &ExecOutput) -> String {
    let err = out.stderr_str();
    let e = err.trim();
    let e = e.strip_prefix("Error: ").or_else(|| e.strip_prefix("ERROR: ")).unwrap_or(e);
    let e = if e.is_empty() { out.stdout_str().trim().to_string() } else { e.to_string() };
    match tool {
        Tool::Online => format!("org.fedoraproject.FirewallD1.Exception: {e}"),
        Tool::Offline => e,
    }
}

/// The failure `action_handler` reports: the error, then the messages so far.
fn exception(e: &str, msgs: &[String]) -> Outcome {
    let mut msgs = msgs.to_vec();
    if e.contains("INVALID_SERVICE") {
        msgs.push(
            "Services are defined by port/tcp relationship and named as they are in /etc/services (on most systems)"
                .into(),
        );
    }
    if msgs.is_empty() {
        Outcome::failed(format!("ERROR: Exception caught: {e}"))
    } else {
        Outcome::failed(format!("ERROR: Exception caught: {e} {}", msgs.join(", ")))
    }
}

/// Why prov does not change a zone with the daemon stopped.
const OFFLINE_WRITE: &str = "firewalld is not running: ansible.posix.firewalld's offline operation rewrites the zone without its `forward` setting (firewalld 1.x turns forwarding off there, and `forward: true` never stays), which prov does not reproduce; start firewalld first";

const NOT_PERMANENT: &str =
    "Zone operations must be permanent. Make sure you didn't set the 'permanent' flag to 'false' or the 'immediate' flag to 'true'.";

/// The task after the checks Ansible makes before it asks firewalld anything.
struct Task {
    item: Option<Item>,
    /// The state the item is set to (`forward: false` with `enabled` is `disabled`).
    want_on: bool,
    permanent: bool,
    immediate: bool,
}

/// Ansible's checks that come before any transaction (run-time failures in Ansible).
fn prepare(a: &Args, offline_daemon: bool) -> Result<Task, String> {
    let mut immediate = a.immediate;
    if a.offline {
        if !a.permanent {
            return Err("offline cannot be enabled unless permanent changes are allowed".into());
        }
        if offline_daemon {
            immediate = false;
        }
    }
    if !a.permanent && !immediate {
        immediate = true;
    }
    if immediate && offline_daemon {
        return Err(
            "firewall is not currently running, unable to perform immediate actions without a running firewall daemon"
                .into(),
        );
    }
    let port = match &a.port {
        Some(p) => {
            let p = p.trim();
            let Some((port, proto)) = p.split_once('/').filter(|(_, pr)| !pr.is_empty()) else {
                return Err("improper port format (missing protocol?)".into());
            };
            if proto.contains('/') {
                return Err("ERROR: Exception caught: too many values to unpack (expected 2)".into());
            }
            Some((port.to_string(), proto.to_string()))
        }
        None => None,
    };
    let forward_port = match &a.port_forward {
        Some(list) => {
            if list.len() > 1 {
                return Err("Only one port forward supported at a time".into());
            }
            match list.first() {
                Some(f) => {
                    let (Some(port), Some(proto), Some(toport)) = (&f.port, &f.proto, &f.toport) else {
                        let which = if f.port.is_none() {
                            "port must be specified for port forward"
                        } else if f.proto.is_none() {
                            "proto udp/tcp must be specified for port forward"
                        } else {
                            "toport must be specified for port forward"
                        };
                        return Err(which.into());
                    };
                    Some(Item::ForwardPort {
                        port: port.clone(),
                        proto: proto.clone(),
                        toport: toport.clone(),
                        toaddr: f.toaddr.clone().unwrap_or_default(),
                    })
                }
                None => None,
            }
        }
        None => None,
    };
    let on = |flag: bool| (a.state == State::Enabled) == flag;
    let item = if let Some(v) = &a.icmp_block {
        Some((Item::IcmpBlock(v.clone()), a.state == State::Enabled))
    } else if let Some(f) = a.icmp_block_inversion {
        Some((Item::IcmpBlockInversion, on(f)))
    } else if let Some(v) = &a.service {
        Some((Item::Service(v.clone()), a.state == State::Enabled))
    } else if let Some(v) = &a.protocol {
        Some((Item::Protocol(v.clone()), a.state == State::Enabled))
    } else if let Some(v) = &a.source {
        Some((Item::Source(v.clone()), a.state == State::Enabled))
    } else if let Some((p, proto)) = port {
        Some((Item::Port(p, proto), a.state == State::Enabled))
    } else if let Some(f) = forward_port {
        Some((f, a.state == State::Enabled))
    } else if let Some(v) = &a.rich_rule {
        Some((Item::RichRule(v.clone()), a.state == State::Enabled))
    } else if let Some(v) = &a.interface {
        Some((Item::Interface(v.clone()), a.state == State::Enabled))
    } else if let Some(f) = a.forward {
        Some((Item::Forward, on(f)))
    } else if let Some(f) = a.masquerade {
        Some((Item::Masquerade, on(f)))
    } else {
        a.target.map(|t| (Item::Target(t), matches!(a.state, State::Present | State::Enabled)))
    };
    // Python's truthiness: `any([...])` over the values given.
    let modification = [
        a.icmp_block.as_deref().is_some_and(|v| !v.is_empty()),
        a.icmp_block_inversion == Some(true),
        a.service.as_deref().is_some_and(|v| !v.is_empty()),
        a.protocol.as_deref().is_some_and(|v| !v.is_empty()),
        a.port.is_some(),
        a.port_forward.as_ref().is_some_and(|l| !l.is_empty()),
        a.rich_rule.as_deref().is_some_and(|v| !v.is_empty()),
        a.interface.as_deref().is_some_and(|v| !v.is_empty()),
        a.forward == Some(true),
        a.masquerade == Some(true),
        a.source.as_deref().is_some_and(|v| !v.is_empty()),
        a.target.is_some(),
    ]
    .iter()
    .any(|m| *m);
    if modification && matches!(a.state, State::Absent | State::Present) && a.target.is_none() {
        return Err("absent and present state can only be used in zone level operations".into());
    }
    let item = match item {
        Some(i) => Some(i),
        None if matches!(a.state, State::Absent | State::Present) => Some((Item::Zone, a.state == State::Present)),
        None => None,
    };
    let (item, want_on) = match item {
        Some((i, on)) => (Some(i), on),
        None => (None, false),
    };
    Ok(Task { item, want_on, permanent: a.permanent, immediate })
}

/// The message a transaction adds once it changed something, and main's "Changed X to Y".
fn changed_msgs(a: &Args, item: &Item, zone: &str, on: bool) -> Vec<String> {
    let state = a.state.as_str();
    let own = match item {
        Item::Forward if on => Some(format!("Added forward to zone {zone}")),
        Item::Forward => Some(format!("Removed forward from zone {zone}")),
        Item::Masquerade if on => Some(format!("Added masquerade to zone {zone}")),
        Item::Masquerade => Some(format!("Removed masquerade from zone {zone}")),
        Item::Source(s) if on => Some(format!("Added {s} to zone {zone}")),
        Item::Source(s) => Some(format!("Removed {s} from zone {zone}")),
        Item::Interface(i) if on => Some(format!("Changed {i} to zone {zone}")),
        Item::Interface(i) => Some(format!("Removed {i} from zone {zone}")),
        Item::Target(t) if on => Some(format!("Set zone {zone} target to {}", t.as_str())),
        Item::Target(_) => Some(format!("Reset zone {zone} target to default")),
        Item::Zone if on => Some(format!("Added zone {zone}")),
        Item::Zone => Some(format!("Removed zone {zone}")),
        _ => None,
    };
    let py_bool = |b: bool| if b { "True" } else { "False" };
    let main = match item {
        Item::IcmpBlock(v) => Some(format!("Changed icmp-block {v} to {state}")),
        Item::IcmpBlockInversion => {
            Some(format!("Changed icmp-block-inversion {} to {state}", py_bool(a.icmp_block_inversion == Some(true))))
        }
        Item::Service(v) => Some(format!("Changed service {v} to {state}")),
        Item::Protocol(v) => Some(format!("Changed protocol {v} to {state}")),
        Item::Port(p, proto) => Some(format!("Changed port {p}/{proto} to {state}")),
        Item::ForwardPort { port, proto, toport, toaddr } => {
            Some(format!("Changed port_forward port={port}:proto={proto}:toport={toport}:toaddr={toaddr} to {state}"))
        }
        Item::RichRule(r) => Some(format!("Changed rich_rule {r} to {state}")),
        Item::Zone => Some(format!("Changed zone {zone} to {state}")),
        _ => None,
    };
    own.into_iter().chain(main).collect()
}

/// What `apply` runs: the commands in order, and the messages of the result.
pub struct FwPlan {
    tool: Tool,
    zone: String,
    /// Whether the commands name the zone (`--zone=`): all but a zone's own creation or removal.
    zoned: bool,
    /// (permanent, words) of each change.
    sets: Vec<(bool, Vec<String>)>,
    /// The messages so far (a failure reports them).
    msgs: Vec<String>,
    /// The result's message once the changes are made.
    done: String,
}

/// The `firewalld` module.
#[derive(Debug, Default)]
pub struct Firewalld;

/// Asks whether the item is on (`Err`: firewalld's error).
async fn is_on(
    cx: &ModuleCtx<'_>,
    tool: Tool,
    permanent: bool,
    zone: &str,
    item: &Item,
) -> Result<Result<bool, String>, ModuleError> {
    let ask = item.ask();
    let (words, zoned): (Vec<String>, bool) = match &ask {
        Ask::Query(q) => (vec![q.clone()], true),
        Ask::List(l, _) => (vec![(*l).to_string()], true),
        Ask::Target(_) => (vec!["--get-target".into()], true),
        Ask::Zones => (vec!["--get-zones".into()], false),
    };
    let out = cx.exec(fw(tool, permanent, zoned.then_some(zone), &words)).await?;
    Ok(match (&ask, out.rc) {
        (Ask::Query(_), 0) => Ok(true),
        (Ask::Query(_), 1) => Ok(false),
        (Ask::List(_, v), 0) => Ok(out.stdout_str().split_whitespace().any(|w| w == v)),
        (Ask::Target(t), 0) => Ok(out.stdout_str().trim() == t.as_str()),
        (Ask::Zones, 0) => Ok(out.stdout_str().split_whitespace().any(|w| w == zone)),
        _ => Err(error_of(tool, &out)),
    })
}

/// The words that set the item on or off (`timeout` only at run time).
fn set_words(item: &Item, on: bool, permanent: bool, timeout: i64, zone: &str) -> Vec<String> {
    match item {
        Item::Target(t) => vec![format!("--set-target={}", if on { t.as_str() } else { "default" })],
        Item::Zone if on => vec![format!("--new-zone={zone}")],
        Item::Zone => vec![format!("--delete-zone={zone}")],
        Item::Interface(i) if on => vec![format!("--change-interface={i}")],
        _ => {
            let verb = if on { "add" } else { "remove" };
            let mut w = vec![format!("--{verb}-{}", item.option())];
            if on && !permanent && timeout > 0 && item.timed() {
                w.push(format!("--timeout={timeout}"));
            }
            w
        }
    }
}

#[async_trait]
impl Module for Firewalld {
    const NAME: &'static str = "firewalld";
    const COLLECTIONS: &'static [&'static str] = &["ansible.posix", "ansible.builtin"];
    type Args = Args;
    type Plan = FwPlan;

    fn check_args(a: &Args) -> Result<(), String> {
        let given = [
            a.icmp_block.is_some(),
            a.icmp_block_inversion.is_some(),
            a.service.is_some(),
            a.protocol.is_some(),
            a.port.is_some(),
            a.port_forward.is_some(),
            a.rich_rule.is_some(),
            a.interface.is_some(),
            a.forward.is_some(),
            a.masquerade.is_some(),
            a.source.is_some(),
            a.target.is_some(),
        ];
        if given.iter().filter(|g| **g).count() > 1 {
            return Err(format!("parameters are mutually exclusive: {EXCLUSIVE}"));
        }
        if a.interface.is_some() && a.zone.is_none() {
            return Err("missing parameter(s) required by 'interface': zone".into());
        }
        if a.target.is_some() && a.zone.is_none() {
            return Err("missing parameter(s) required by 'target': zone".into());
        }
        let mut values: Vec<(&str, &str)> = [
            ("icmp_block", &a.icmp_block),
            ("service", &a.service),
            ("protocol", &a.protocol),
            ("port", &a.port),
            ("rich_rule", &a.rich_rule),
            ("zone", &a.zone),
            ("source", &a.source),
            ("interface", &a.interface),
        ]
        .iter()
        .filter_map(|(k, v)| v.as_deref().map(|v| (*k, v)))
        .collect();
        for f in a.port_forward.iter().flatten() {
            for v in [&f.port, &f.proto, &f.toport, &f.toaddr].into_iter().flatten() {
                values.push(("port_forward", v));
            }
        }
        for (k, v) in values {
            if v.chars().any(char::is_control) {
                return Err(format!("firewalld: `{k}` {v:?} contains a control character"));
            }
            if v.starts_with('-') {
                return Err(format!("firewalld: `{k}` {v:?} starts with `-`"));
            }
        }
        Ok(())
    }

    async fn plan(&self, a: &Args, cx: &ModuleCtx<'_>) -> Result<Plan<FwPlan>, ModuleError> {
        let probe = cx
            .exec(Sh::lit(
                "command -v firewall-cmd >/dev/null 2>&1 && { firewall-cmd --state >/dev/null 2>&1 && echo running || echo stopped; } || { command -v firewall-offline-cmd >/dev/null 2>&1 && echo offline-only || echo none; }",
            ))
            .await?;
        let state = probe.stdout_str().trim().to_string();
        let tool = match state.as_str() {
            "running" => Tool::Online,
            "stopped" | "offline-only" => Tool::Offline,
            _ => {
                return Ok(Plan::Ok(Outcome::failed(
                    "Failed to import the required Python library (firewall): firewalld is not installed on this host. Version 0.2.11 or newer required (0.3.9 or newer for offline operations)",
                )))
            }
        };
        let offline_daemon = tool == Tool::Offline;
        let t = match prepare(a, offline_daemon) {
            Ok(t) => t,
            Err(msg) => return Ok(Plan::Ok(Outcome::failed(msg))),
        };
        let zone = match &a.zone {
            Some(z) if !z.is_empty() => z.clone(),
            _ => {
                let out = cx.exec(fw(tool, false, None, &["--get-default-zone".into()])).await?;
                if out.rc != 0 {
                    return Ok(Plan::Ok(exception(&error_of(tool, &out), &[])));
                }
                out.stdout_str().trim().to_string()
            }
        };
        let mut msgs: Vec<String> = Vec::new();
        let mut sets: Vec<(bool, Vec<String>)> = Vec::new();
        if let Some(item) = &t.item {
            let zone_level = matches!(item, Item::Zone | Item::Target(_));
            let on = t.want_on;
            // Zone and target operations have no run-time side.
            let runtime_first_fail = zone_level && t.immediate;
            let ask = |permanent: bool| is_on(cx, tool, permanent, &zone, item);
            if t.permanent && t.immediate {
                let p = match ask(true).await? {
                    Ok(p) => p,
                    Err(e) => return Ok(Plan::Ok(exception(&e, &msgs))),
                };
                if runtime_first_fail {
                    return Ok(Plan::Ok(Outcome::failed(NOT_PERMANENT)));
                }
                let i = match ask(false).await? {
                    Ok(i) => i,
                    Err(e) => return Ok(Plan::Ok(exception(&e, &msgs))),
                };
                msgs.push("Permanent and Non-Permanent(immediate) operation".into());
                if p != on {
                    sets.push((true, set_words(item, on, true, a.timeout, &zone)));
                }
                if i != on {
                    sets.push((false, set_words(item, on, false, a.timeout, &zone)));
                }
            } else if t.permanent {
                let p = match ask(true).await? {
                    Ok(p) => p,
                    Err(e) => return Ok(Plan::Ok(exception(&e, &msgs))),
                };
                msgs.push("Permanent operation".into());
                if p != on {
                    sets.push((true, set_words(item, on, true, a.timeout, &zone)));
                }
            } else {
                if zone_level {
                    return Ok(Plan::Ok(Outcome::failed(NOT_PERMANENT)));
                }
                let i = match ask(false).await? {
                    Ok(i) => i,
                    Err(e) => return Ok(Plan::Ok(exception(&e, &msgs))),
                };
                msgs.push("Non-permanent operation".into());
                if i != on {
                    sets.push((false, set_words(item, on, false, a.timeout, &zone)));
                }
            }
        }
        let mut after = Vec::new();
        if offline_daemon {
            after.push("(offline operation: only on-disk configs were altered)".to_string());
        }
        if sets.is_empty() {
            let all: Vec<String> = msgs.into_iter().chain(after).collect();
            return Ok(Plan::Ok(Outcome { msg: Some(all.join(", ")), ..Outcome::ok() }));
        }
        if offline_daemon && t.item != Some(Item::Zone) && !cx.is_check() {
            return Ok(Plan::Ok(Outcome::failed(OFFLINE_WRITE)));
        }
        let what = t.item.as_ref().map(Item::option).filter(|o| !o.is_empty()).unwrap_or_else(|| zone.clone());
        let action = if t.want_on { Action::Create } else { Action::Delete };
        let changed = t.item.as_ref().map(|item| changed_msgs(a, item, &zone, t.want_on)).unwrap_or_default();
        let done = msgs.iter().chain(&changed).chain(&after).cloned().collect::<Vec<_>>().join(", ");
        let zoned = t.item != Some(Item::Zone);
        Ok(Plan::Change(Change::new(FwPlan { tool, zone, zoned, sets, msgs, done }, action, "firewalld", what)))
    }

    async fn apply(&self, _a: &Args, p: FwPlan, cx: &ModuleCtx<'_>) -> Result<Outcome, ModuleError> {
        let zone = p.zoned.then_some(p.zone.as_str());
        for (permanent, words) in &p.sets {
            let out = cx.exec(fw(p.tool, *permanent, zone, words)).await?;
            if out.rc != 0 {
                return Ok(exception(&error_of(p.tool, &out), &p.msgs));
            }
        }
        Ok(Outcome { changed: true, msg: Some(p.done), ..Outcome::ok() })
    }
}

#[cfg(test)]
mod tests;
