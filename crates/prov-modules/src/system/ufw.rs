//! `ufw`: the Uncomplicated Firewall's state, default policies, logging and rules
//! (community.general.ufw; `ansible.builtin.ufw` redirects to it).
//!
//! Arguments (as in community.general 11.4, shipped with ansible 12.3), at least one of
//! `state`, `default`, `rule`, `logging`:
//! - `state`: `enabled` (`ufw -f enable`), `disabled`, `reloaded`, `reset`.
//! - `default` (alias `policy`): `allow`, `deny`, `reject`, with `direction` `incoming` (the
//!   default), `outgoing` or `routed`.
//! - `logging`: `on`, `off`, `low`, `medium`, `high`, `full`.
//! - `rule`: `allow`, `deny`, `limit`, `reject`, with `direction` (`in`, `out`), `interface`
//!   (alias `if`; needs `direction`), `interface_in`/`interface_out` (aliases `if_in`, `if_out`;
//!   the two together only with `route`), `route`, `delete`, `insert` with `insert_relative_to`
//!   (`zero`, `first-ipv4`, `last-ipv4`, `first-ipv6`, `last-ipv6`), `log`, `from_ip` (aliases `from`,
//!   `src`; default `any`), `from_port`, `to_ip` (aliases `to`, `dest`; default `any`),
//!   `to_port` (alias `port`), `proto` (alias `protocol`: `any`, `tcp`, `udp`, `ipv6`, `esp`,
//!   `ah`, `gre`, `igmp`, `vrrp`), `name` (alias `app`: a profile of
//!   `/etc/ufw/applications.d`), `comment`.
//!
//! It works as community.general.ufw works (observed on the same containers): it reads
//! `ufw status verbose` and the `### tuple` lines of ufw's rule files, runs the commands
//! (`state`, then `default`, `rule`, `logging`) and reports a change when the status or the
//! rules differ afterwards (`reloaded` and `reset` always change; so does a `logging` level
//! other than the current one). Check mode runs only `ufw --dry-run RULE` and compares its
//! rules with the current ones, and judges the state, defaults and logging from the status.
//! Registers `commands` (each command line as Ansible shows it, with ufw's and grep's paths)
//! and, when not in check mode, `msg` (the status afterwards). A failed command fails the task
//! with its error as the message.
//!
//! Refused before anything runs: the argument errors Ansible reports (mutually exclusive
//! `name`/`proto`/`logging`, `direction` with `interface_in` or `interface_out`, `interface`
//! without `direction`, none of the four commands), and values Ansible would split into more
//! than one word of the rule (white space in an address, port or interface; a `'` in `name` or
//! `comment`) or that ufw would read as its own options (a leading `-`). No diff mode, as in
//! Ansible.
//!
//! ```yaml
//! - community.general.ufw: {rule: allow, port: "22", proto: tcp}
//! - ufw: {state: enabled, policy: deny}
//! - ufw: {rule: deny, proto: udp, src: 10.0.0.0/8, port: "514", comment: Block syslog}
//! ```

use async_trait::async_trait;
use prov_core::cmd::{Cmd, Sh, Word, WordKind};
use prov_core::connection::ExecOutput;
use prov_core::module::{Action, Change, Module, ModuleCtx, ModuleError, Outcome, Plan};
use regex::Regex;
use serde::Deserialize;
use std::sync::LazyLock;

/// Arguments of `ufw`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    /// `enabled`, `disabled`, `reloaded`, `reset`.
    #[serde(default)]
    pub state: Option<State>,
    /// The default policy.
    #[serde(default, rename = "default", alias = "policy")]
    pub default_policy: Option<Policy>,
    /// Logging level.
    #[serde(default)]
    pub logging: Option<Logging>,
    /// Direction of a rule or a default policy.
    #[serde(default)]
    pub direction: Option<Direction>,
    /// Delete the rule.
    #[serde(default, deserialize_with = "prov_core::args::lenient_bool")]
    pub delete: bool,
    /// A routed rule.
    #[serde(default, deserialize_with = "prov_core::args::lenient_bool")]
    pub route: bool,
    /// Insert the rule as number N.
    #[serde(default)]
    pub insert: Option<i64>,
    /// What `insert` counts from.
    #[serde(default)]
    pub insert_relative_to: RelativeTo,
    /// The rule's action.
    #[serde(default)]
    pub rule: Option<RuleAction>,
    /// Interface (with `direction`).
    #[serde(default, alias = "if", deserialize_with = "crate::util::stringish")]
    pub interface: Option<String>,
    /// Input interface of a routed rule.
    #[serde(default, alias = "if_in", deserialize_with = "crate::util::stringish")]
    pub interface_in: Option<String>,
    /// Output interface of a routed rule.
    #[serde(default, alias = "if_out", deserialize_with = "crate::util::stringish")]
    pub interface_out: Option<String>,
    /// Log new connections the rule matches.
    #[serde(default, deserialize_with = "prov_core::args::lenient_bool")]
    pub log: bool,
    /// Source address.
    #[serde(default, alias = "from", alias = "src", deserialize_with = "crate::util::stringish")]
    pub from_ip: Option<String>,
    /// Source port.
    #[serde(default, deserialize_with = "crate::util::stringish")]
    pub from_port: Option<String>,
    /// Destination address.
    #[serde(default, alias = "to", alias = "dest", deserialize_with = "crate::util::stringish")]
    pub to_ip: Option<String>,
    /// Destination port.
    #[serde(default, alias = "port", deserialize_with = "crate::util::stringish")]
    pub to_port: Option<String>,
    /// Protocol.
    #[serde(default, alias = "protocol")]
    pub proto: Option<Proto>,
    /// An application profile.
    #[serde(default, alias = "app", deserialize_with = "crate::util::stringish")]
    pub name: Option<String>,
    /// The rule's comment.
    #[serde(default, deserialize_with = "crate::util::stringish")]
    pub comment: Option<String>,
}

/// Defines a choice argument: its variants and their spellings.
macro_rules! choice {
    ($(#[$m:meta])* $name:ident { $($v:ident = $s:literal),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
        pub enum $name {
            $(
                #[doc = $s]
                #[serde(rename = $s)]
                $v,
            )*
        }
        impl $name {
            /// The spelling Ansible passes to ufw.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$v => $s),* }
            }
        }
    };
}

choice!(
    /// `state` of `ufw`.
    State { Enabled = "enabled", Disabled = "disabled", Reloaded = "reloaded", Reset = "reset" }
);
choice!(
    /// `default` of `ufw`.
    Policy { Allow = "allow", Deny = "deny", Reject = "reject" }
);
choice!(
    /// `logging` of `ufw`.
    Logging { On = "on", Off = "off", Low = "low", Medium = "medium", High = "high", Full = "full" }
);
choice!(
    /// `direction` of `ufw`.
    Direction { In = "in", Incoming = "incoming", Out = "out", Outgoing = "outgoing", Routed = "routed" }
);
choice!(
    /// `rule` of `ufw`.
    RuleAction { Allow = "allow", Deny = "deny", Limit = "limit", Reject = "reject" }
);
choice!(
    /// `proto` of `ufw`.
    Proto {
        Any = "any", Tcp = "tcp", Udp = "udp", Ipv6 = "ipv6", Esp = "esp", Ah = "ah", Gre = "gre",
        Igmp = "igmp", Vrrp = "vrrp",
    }
);

/// `insert_relative_to` of `ufw`.
#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq, Default)]
pub enum RelativeTo {
    /// Absolute rule numbers.
    #[default]
    #[serde(rename = "zero")]
    Zero,
    /// From the first IPv4 rule.
    #[serde(rename = "first-ipv4")]
    FirstIpv4,
    /// From the last IPv4 rule.
    #[serde(rename = "last-ipv4")]
    LastIpv4,
    /// From the first IPv6 rule.
    #[serde(rename = "first-ipv6")]
    FirstIpv6,
    /// From the last IPv6 rule.
    #[serde(rename = "last-ipv6")]
    LastIpv6,
}

/// The rule files whose `### tuple` lines are ufw's rules, in the order Ansible reads them.
const RULE_FILES: [&str; 6] = [
    "/lib/ufw/user.rules",
    "/lib/ufw/user6.rules",
    "/etc/ufw/user.rules",
    "/etc/ufw/user6.rules",
    "/var/lib/ufw/user.rules",
    "/var/lib/ufw/user6.rules",
];

/// One word of a ufw command: shown as Ansible shows it, passed as one checked argument.
#[derive(Debug, Clone)]
enum Part {
    /// A word written in the code.
    Lit(&'static str),
    /// A value of the playbook, checked (shown bare).
    Value(Word),
    /// A value Ansible shows in single quotes (`app 'OpenSSH'`, `comment 'x'`).
    Quoted(Word),
    /// A rule number (`insert N`).
    Num(i64),
}

/// A ufw command line: its words after `ufw`.
#[derive(Debug, Clone)]
struct UfwCmd(Vec<Part>);

impl UfwCmd {
    fn lits(words: &[&'static str]) -> UfwCmd {
        UfwCmd(words.iter().map(|w| Part::Lit(w)).collect())
    }

    /// How Ansible registers it in `commands`.
    fn shown(&self, ufw: &str) -> String {
        let mut s = ufw.to_string();
        for p in &self.0 {
            s.push(' ');
            match p {
                Part::Lit(l) => s.push_str(l),
                Part::Value(w) => s.push_str(w.as_str()),
                Part::Quoted(w) => {
                    s.push('\'');
                    s.push_str(w.as_str());
                    s.push('\'');
                }
                Part::Num(n) => s.push_str(&n.to_string()),
            }
        }
        s
    }

    /// The command to run, `ufw` the path found: each word one argument (ufw takes no `--`;
    /// the values are checked words that cannot start with `-`).
    fn sh(&self, ufw: &str) -> Sh {
        let mut c = Cmd::program(Sh::lit("LANG=C ").glued(Sh::quoted(ufw)));
        for p in &self.0 {
            c = match p {
                Part::Lit(l) => c.flag(l),
                Part::Value(w) | Part::Quoted(w) => c.word(w),
                Part::Num(n) => c.num(*n),
            };
        }
        c.build()
    }
}

/// A value as a word of the rule, or why it cannot be one.
fn token(what: &str, v: &str) -> Result<Word, String> {
    Word::new(WordKind::Token, v).map_err(|e| format!("ufw: `{what}` {e}"))
}

/// A value Ansible quotes (`name`, `comment`): no `'`, which would end its quotes.
fn quoted(what: &str, v: &str) -> Result<Word, String> {
    if v.contains('\'') {
        return Err(format!("ufw: `{what}` {v:?} contains `'` (Ansible's command line would break on it)"));
    }
    Word::new(WordKind::Text, v).map_err(|e| format!("ufw: `{what}` {e}"))
}

fn from_ip(a: &Args) -> &str {
    a.from_ip.as_deref().unwrap_or("any")
}

fn to_ip(a: &Args) -> &str {
    a.to_ip.as_deref().unwrap_or("any")
}

/// The rule's words from the action on (`allow in on eth0 log from any to any port 22 ...`).
fn rule_words(a: &Args, action: RuleAction, with_comment: bool) -> Result<Vec<Part>, String> {
    let mut w = vec![Part::Lit(action.as_str())];
    if let Some(d) = a.direction {
        w.push(Part::Lit(d.as_str()));
    }
    if let Some(i) = a.interface.as_deref().filter(|i| !i.is_empty()) {
        w.extend([Part::Lit("on"), Part::Value(token("interface", i)?)]);
    }
    if let Some(i) = a.interface_in.as_deref().filter(|i| !i.is_empty()) {
        w.extend([Part::Lit("in"), Part::Lit("on"), Part::Value(token("interface_in", i)?)]);
    }
    if let Some(i) = a.interface_out.as_deref().filter(|i| !i.is_empty()) {
        w.extend([Part::Lit("out"), Part::Lit("on"), Part::Value(token("interface_out", i)?)]);
    }
    if a.log {
        w.push(Part::Lit("log"));
    }
    // Python's truthiness: an empty string leaves the word out, as in Ansible.
    let mut pair = |key: &'static str, what: &str, v: Option<&str>| -> Result<(), String> {
        if let Some(v) = v.filter(|v| !v.is_empty()) {
            w.extend([Part::Lit(key), Part::Value(token(what, v)?)]);
        }
        Ok(())
    };
    pair("from", "from_ip", Some(from_ip(a)))?;
    pair("port", "from_port", a.from_port.as_deref())?;
    pair("to", "to_ip", Some(to_ip(a)))?;
    pair("port", "to_port", a.to_port.as_deref())?;
    if let Some(p) = a.proto {
        w.extend([Part::Lit("proto"), Part::Lit(p.as_str())]);
    }
    if let Some(n) = a.name.as_deref().filter(|n| !n.is_empty()) {
        w.extend([Part::Lit("app"), Part::Quoted(quoted("name", n)?)]);
    }
    if with_comment {
        if let Some(c) = a.comment.as_deref().filter(|c| !c.is_empty()) {
            w.extend([Part::Lit("comment"), Part::Quoted(quoted("comment", c)?)]);
        }
    }
    Ok(w)
}

static IPV4: &str =
    r"(?:(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[0-9]{1,2})\.){3}(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[0-9]{1,2})";

/// The textual forms of an IPv6 address (RFC 4291, 2.2), with a zone index after `fe80:` and an
/// IPv4 address at the end of `::`, `::ffff:` and `h:h:h:h::` forms.
fn ipv6_pattern() -> String {
    let h = "[0-9a-fA-F]{1,4}";
    [
        format!("(?:{h}:){{7}}{h}"),
        format!("(?:{h}:){{1,7}}:"),
        format!("(?:{h}:){{1,6}}:{h}"),
        format!("(?:{h}:){{1,5}}(?::{h}){{1,2}}"),
        format!("(?:{h}:){{1,4}}(?::{h}){{1,3}}"),
        format!("(?:{h}:){{1,3}}(?::{h}){{1,4}}"),
        format!("(?:{h}:){{1,2}}(?::{h}){{1,5}}"),
        format!("{h}:(?::{h}){{1,6}}"),
        format!(":(?:(?::{h}){{1,7}}|:)"),
        "fe80:(?::[0-9a-fA-F]{0,4}){0,4}%[0-9a-zA-Z]+".to_string(),
        format!("::(?:ffff(?::0{{1,4}})?:)?{IPV4}"),
        format!("(?:{h}:){{1,4}}:{IPV4}"),
    ]
    .join("|")
}

static V4_ANY: LazyLock<Regex> = LazyLock::new(|| Regex::new(IPV4).expect("IPv4 pattern"));
static V4_START: LazyLock<Regex> = LazyLock::new(|| Regex::new(&format!("^(?:{IPV4})")).expect("IPv4 pattern"));
static V6_ANY: LazyLock<Regex> = LazyLock::new(|| Regex::new(&ipv6_pattern()).expect("IPv6 pattern"));
static V6_START: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(&format!("^(?:{})", ipv6_pattern())).expect("IPv6 pattern"));

/// Lines as Python's `splitlines(True)` keeps them.
fn lines(text: &str) -> Vec<&str> {
    text.split_inclusive('\n').collect()
}

fn lines_matching(text: &str, re: &Regex) -> String {
    lines(text).into_iter().filter(|l| re.is_match(l)).collect()
}

/// Whether check mode counts a rule's dry run as a change, as community.general.ufw judges it:
/// every line "Skipping ..." is none; otherwise the dry run's rules are compared with the current
/// ones (only the IPv4 or the IPv6 ones when the rule names such an address).
fn dry_run_changes(a: &Args, pre_rules: &str, dry: &str) -> bool {
    let all = lines(dry);
    let skipping = all.iter().filter(|l| l.contains("Skipping")).count();
    if skipping > 0 && skipping == all.len() {
        return false;
    }
    let dry: String = all.into_iter().filter(|l| l.starts_with("### tuple")).collect();
    let (from, to) = (from_ip(a), to_ip(a));
    if V4_START.is_match(from) || V4_START.is_match(to) {
        lines_matching(pre_rules, &V4_ANY) != lines_matching(&dry, &V4_ANY)
    } else if V6_START.is_match(from) || V6_START.is_match(to) {
        lines_matching(pre_rules, &V6_ANY) != lines_matching(&dry, &V6_ANY)
    } else {
        pre_rules != dry
    }
}

/// Whether a `logging` value changes the status's `Logging: on (low)`.
fn logging_changes(pre_state: &str, value: Logging) -> bool {
    static RE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"Logging: (on|off)(?: \(([a-z]+)\))?").expect("re"));
    let Some(c) = RE.captures(pre_state) else { return true };
    let on_off = c.get(1).map_or("", |m| m.as_str());
    let level = c.get(2).map(|m| m.as_str());
    match value {
        Logging::Off => on_off != "off",
        Logging::On => on_off == "off",
        v => on_off == "off" || level != Some(v.as_str()),
    }
}

/// Whether check mode counts a default policy as a change (the status lists the three).
fn default_changes(pre_state: &str, value: Policy, direction: Option<Direction>) -> bool {
    static RE: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"Default: (deny|allow|reject) \(incoming\), (deny|allow|reject) \(outgoing\), (deny|allow|reject|disabled) \(routed\)")
            .expect("re")
    });
    let Some(c) = RE.captures(pre_state) else { return true };
    let group = match direction {
        Some(Direction::Outgoing) => 2,
        Some(Direction::Routed) => 3,
        _ => 1,
    };
    let current = c.get(group).map_or("", |m| m.as_str());
    current != value.as_str() && current != "disabled"
}

/// The rule number `insert` names once `insert_relative_to` is applied, from `ufw status
/// numbered`: `None` past the last rule (ufw refuses such numbers; Ansible then appends).
fn insert_position(insert: i64, rel: RelativeTo, numbered: &str) -> Option<i64> {
    static RE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^\[ *([0-9]+)\] ").expect("re"));
    if rel == RelativeTo::Zero {
        return Some(insert);
    }
    let rules: Vec<(i64, bool)> = numbered
        .lines()
        .filter_map(|l| RE.captures(l).and_then(|c| c[1].parse().ok()).map(|n| (n, l.contains("(v6)"))))
        .collect();
    let last = rules.iter().map(|r| r.0).max().unwrap_or(0);
    let last_v4 = rules.iter().filter(|r| !r.1).map(|r| r.0).max();
    let has_v6 = rules.iter().any(|r| r.1);
    let base = match rel {
        RelativeTo::Zero | RelativeTo::FirstIpv4 => 1,
        RelativeTo::LastIpv4 => last_v4.unwrap_or(1),
        RelativeTo::FirstIpv6 => last_v4.map_or(1, |n| n + 1),
        RelativeTo::LastIpv6 => {
            if has_v6 {
                last
            } else {
                last + 1
            }
        }
    };
    // Past the last rule (or beyond i64) is no position: Ansible then appends.
    insert.checked_add(base).filter(|at| *at <= last)
}

/// Whether ufw's version line (`ufw 0.36.2`) is one that takes `comment` (0.35 and later).
fn takes_comment(version_out: &str) -> Result<bool, String> {
    static RE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^ufw\D*(\d+)\.(\d+)").expect("re"));
    let first = version_out.split('\n').find(|l| !l.trim().is_empty()).unwrap_or("");
    let c = RE.captures(first).ok_or("Failed to get ufw version.")?;
    let (major, minor): (u64, u64) = (c[1].parse().unwrap_or(0), c[2].parse().unwrap_or(0));
    Ok(major > 0 || minor >= 35)
}

/// What `apply` continues from: the paths found and what was run and read so far.
pub struct UfwPlan {
    ufw: String,
    grep: String,
    pre_state: String,
    pre_rules: String,
    commands: Vec<String>,
}

/// The `ufw` module.
#[derive(Debug, Default)]
pub struct Ufw;

/// A command that failed: Ansible's `fail_json(msg=err or out, commands=...)`.
fn command_failed(out: &ExecOutput, commands: &[String]) -> Outcome {
    let err = out.stderr_str();
    let msg = if err.is_empty() { out.stdout_str().to_string() } else { err.to_string() };
    Outcome::failed(msg).with("commands", commands.to_vec())
}

/// Runs a ufw command, recording it; `Err` holds the failed result.
async fn run(
    cx: &ModuleCtx<'_>,
    ufw: &str,
    c: &UfwCmd,
    commands: &mut Vec<String>,
) -> Result<Result<String, Outcome>, ModuleError> {
    commands.push(c.shown(ufw));
    let out = cx.exec(c.sh(ufw)).await?;
    if out.rc != 0 {
        return Ok(Err(command_failed(&out, commands)));
    }
    Ok(Ok(out.stdout_str().to_string()))
}

/// The `### tuple` lines of the rule files (missing files are no error).
async fn current_rules(cx: &ModuleCtx<'_>, grep: &str, commands: &mut Vec<String>) -> Result<String, ModuleError> {
    commands.push(format!("{grep} -h '^### tuple' {}", RULE_FILES.join(" ")));
    let c = Cmd::program(Sh::lit("LANG=C ").glued(Sh::quoted(grep))).flag("-h");
    let out = cx.exec(c.operands(std::iter::once("^### tuple").chain(RULE_FILES)).build()).await?;
    Ok(out.stdout_str().to_string())
}

/// The rule command (`--dry-run` first in check mode), after the checks Ansible makes when it
/// comes to it; `Err` holds a failed result.
async fn rule_command(
    a: &Args,
    action: RuleAction,
    dry: bool,
    cx: &ModuleCtx<'_>,
    p: &UfwPlan,
    commands: &mut Vec<String>,
) -> Result<Result<UfwCmd, Outcome>, ModuleError> {
    if !matches!(a.direction, None | Some(Direction::In | Direction::Out)) {
        return Ok(Err(Outcome::failed(
            "For rules, direction must be one of \"in\" and \"out\", or direction must not be specified.",
        )));
    }
    if !a.route && a.interface_in.is_some() && a.interface_out.is_some() {
        return Ok(Err(Outcome::failed("Only route rules can combine interface_in and interface_out")));
    }
    let mut words = if dry { vec![Part::Lit("--dry-run")] } else { Vec::new() };
    if a.route {
        words.push(Part::Lit("route"));
    }
    if a.delete {
        words.push(Part::Lit("delete"));
    } else if let Some(n) = a.insert {
        let at = if a.insert_relative_to == RelativeTo::Zero {
            Some(n)
        } else {
            let c = Cmd::program(Sh::lit("LANG=C ").glued(Sh::quoted(&p.ufw))).flag("status").flag("numbered");
            let out = cx.exec(c.build()).await?;
            insert_position(n, a.insert_relative_to, &out.stdout_str())
        };
        if let Some(at) = at {
            words.extend([Part::Lit("insert"), Part::Num(at)]);
        }
    }
    let version = match run(cx, &p.ufw, &UfwCmd::lits(&["--version"]), commands).await? {
        Ok(v) => v,
        Err(failed) => return Ok(Err(failed)),
    };
    let with_comment = match takes_comment(&version) {
        Ok(t) => t,
        Err(msg) => return Ok(Err(Outcome::failed(msg).with("rc", 0).with("out", version))),
    };
    words.extend(rule_words(a, action, with_comment).map_err(ModuleError::Args)?);
    Ok(Ok(UfwCmd(words)))
}

#[async_trait]
impl Module for Ufw {
    const NAME: &'static str = "ufw";
    const COLLECTIONS: &'static [&'static str] = &["community.general", "ansible.builtin"];
    type Args = Args;
    type Plan = UfwPlan;

    fn check_args(a: &Args) -> Result<(), String> {
        if [a.name.is_some(), a.proto.is_some(), a.logging.is_some()].iter().filter(|g| **g).count() > 1 {
            return Err("parameters are mutually exclusive: name|proto|logging".into());
        }
        if a.direction.is_some() && a.interface_in.is_some() {
            return Err("parameters are mutually exclusive: direction|interface_in".into());
        }
        if a.direction.is_some() && a.interface_out.is_some() {
            return Err("parameters are mutually exclusive: direction|interface_out".into());
        }
        if a.state.is_none() && a.default_policy.is_none() && a.rule.is_none() && a.logging.is_none() {
            return Err("one of the following is required: state, default, rule, logging".into());
        }
        if a.interface.is_some() && a.direction.is_none() {
            return Err("missing parameter(s) required by 'interface': direction".into());
        }
        if let Some(action) = a.rule {
            rule_words(a, action, true)?;
        }
        Ok(())
    }

    async fn plan(&self, a: &Args, cx: &ModuleCtx<'_>) -> Result<Plan<UfwPlan>, ModuleError> {
        // Found as Ansible's get_bin_path finds them: the PATH, then the sbin directories.
        let found = cx.exec(crate::util::bin_lookup("ufw").then(crate::util::bin_lookup("grep"))).await?;
        let text = found.stdout_str();
        let paths: Vec<&str> = text.lines().collect();
        let Some(ufw) = paths.iter().find(|p| p.ends_with("/ufw")) else {
            return Ok(Plan::Ok(crate::util::missing_bin(cx, "ufw").await?));
        };
        let Some(grep) = paths.iter().find(|p| p.ends_with("/grep")) else {
            return Ok(Plan::Ok(crate::util::missing_bin(cx, "grep").await?));
        };
        let mut commands = Vec::new();
        let pre_state = match run(cx, ufw, &UfwCmd::lits(&["status", "verbose"]), &mut commands).await? {
            Ok(s) => s,
            Err(failed) => return Ok(Plan::Ok(failed)),
        };
        let pre_rules = current_rules(cx, grep, &mut commands).await?;
        let p = UfwPlan { ufw: ufw.to_string(), grep: grep.to_string(), pre_state, pre_rules, commands };
        if !cx.is_check() {
            return Ok(Plan::Change(Change::new(p, Action::Modify, "firewall", "ufw")));
        }
        // Check mode: judged from the status, and from a dry run of the rule.
        let mut commands = p.commands.clone();
        let active = p.pre_state.contains(" active");
        let mut changed = match a.state {
            Some(State::Reloaded | State::Reset) => true,
            Some(State::Enabled) => !active,
            Some(State::Disabled) => active,
            None => false,
        };
        if let Some(value) = a.default_policy {
            if !matches!(a.direction, None | Some(Direction::Incoming | Direction::Outgoing | Direction::Routed)) {
                return Ok(Plan::Ok(Outcome::failed(DEFAULT_DIRECTION)));
            }
            changed |= default_changes(&p.pre_state, value, a.direction);
        }
        if let Some(action) = a.rule {
            let c = match rule_command(a, action, true, cx, &p, &mut commands).await? {
                Ok(c) => c,
                Err(failed) => return Ok(Plan::Ok(failed)),
            };
            let dry = match run(cx, &p.ufw, &c, &mut commands).await? {
                Ok(out) => out,
                Err(failed) => return Ok(Plan::Ok(failed)),
            };
            changed |= dry_run_changes(a, &p.pre_rules, &dry);
        }
        if let Some(value) = a.logging {
            changed |= logging_changes(&p.pre_state, value);
        }
        if changed {
            let ch = Change::new(p, Action::Modify, "firewall", "ufw").with_data("commands", commands);
            return Ok(Plan::Change(ch));
        }
        Ok(Plan::Ok(Outcome::ok().with("commands", commands)))
    }

    async fn apply(&self, a: &Args, p: UfwPlan, cx: &ModuleCtx<'_>) -> Result<Outcome, ModuleError> {
        let mut commands = p.commands.clone();
        let mut changed = false;
        macro_rules! run_or_fail {
            ($c:expr) => {
                if let Err(failed) = run(cx, &p.ufw, &$c, &mut commands).await? {
                    return Ok(failed);
                }
            };
        }
        if let Some(state) = a.state {
            changed |= matches!(state, State::Reloaded | State::Reset);
            let verb = match state {
                State::Enabled => "enable",
                State::Disabled => "disable",
                State::Reloaded => "reload",
                State::Reset => "reset",
            };
            run_or_fail!(UfwCmd::lits(&["-f", verb]));
        }
        if let Some(value) = a.default_policy {
            if !matches!(a.direction, None | Some(Direction::Incoming | Direction::Outgoing | Direction::Routed)) {
                return Ok(Outcome::failed(DEFAULT_DIRECTION));
            }
            let mut c = UfwCmd::lits(&["default", value.as_str()]);
            if let Some(d) = a.direction {
                c.0.push(Part::Lit(d.as_str()));
            }
            run_or_fail!(c);
        }
        if let Some(action) = a.rule {
            let c = match rule_command(a, action, false, cx, &p, &mut commands).await? {
                Ok(c) => c,
                Err(failed) => return Ok(failed),
            };
            run_or_fail!(c);
        }
        if let Some(value) = a.logging {
            changed |= logging_changes(&p.pre_state, value);
            run_or_fail!(UfwCmd::lits(&["logging", value.as_str()]));
        }
        let post_state = match run(cx, &p.ufw, &UfwCmd::lits(&["status", "verbose"]), &mut commands).await? {
            Ok(s) => s,
            Err(failed) => return Ok(failed),
        };
        if !changed {
            let post_rules = current_rules(cx, &p.grep, &mut commands).await?;
            changed = post_state != p.pre_state || post_rules != p.pre_rules;
        }
        let o = Outcome { changed, msg: Some(post_state.trim_end().to_string()), ..Outcome::ok() };
        Ok(o.with("commands", commands))
    }
}

/// Ansible's message for a default policy with a rule's direction.
const DEFAULT_DIRECTION: &str =
    "For default, direction must be one of \"outgoing\", \"incoming\" and \"routed\", or direction must not be specified.";

#[cfg(test)]
mod tests;
