//! `hostname`: the system's host name (ansible.builtin.hostname), through systemd's
//! `hostnamectl` or, on the Debian family without systemd, the file `/etc/hostname`.
//!
//! Arguments (as in ansible-core 2.19):
//! - `name` (required): the host name.
//! - `use`: the strategy; `systemd` and `debian` (both `hostnamectl`, as in Ansible) are
//!   supported. Without it, as Ansible decides: `systemd` when systemd runs the host
//!   (`systemctl` installed and `/run/systemd/system/` present), else by distribution; prov
//!   handles the Debian family's (Debian, Ubuntu, Raspbian, Mint, Kali, Devuan, Pop, ...): the file
//!   `/etc/hostname` alone, which is both the current and the permanent name (the running
//!   kernel's name is not changed, as Ansible does not change it there).
//!
//! With `hostnamectl`, the permanent name (`--static`, and `--pretty`) is set first, then the
//! current one (`--transient`); names longer than 64 characters are refused there. Registers
//! `name` and `ansible_facts` (`ansible_hostname`: the name up to its first dot,
//! `ansible_nodename`: the name, `ansible_fqdn` and `ansible_domain`: what the host's current
//! name resolves to), which are also set on the host; the diff is `hostname = OLD` →
//! `hostname = NEW`. `/etc/hostname` is written in place, as ansible-core writes it (its mode
//! and inode kept): in a container it is a bind mount, which a rename cannot replace.
//!
//! Differences from Ansible: the strategies of other systems (`alpine`, `freebsd`, `macos`,
//! `openbsd`, `openrc`, `redhat`, `sles`, `solaris`) are refused with a clear message, and so is
//! `generic` (ansible-core 2.19's fails with "Module failed." as it cannot read a name);
//! a planned change in check
//! mode registers nothing and sets no facts (Ansible registers `name` and `ansible_facts`).
//!
//! ```yaml
//! - hostname: { name: web01 }
//! - ansible.builtin.hostname:
//!     name: "{{ inventory_hostname }}"
//!     use: systemd
//! ```

use async_trait::async_trait;
use minijinja::Value;
use prov_core::cmd::{Cmd, Sh};
use prov_core::facts::{self, Collector};
use prov_core::module::{Action, Change, DiffMode, Module, ModuleCtx, ModuleError, Outcome, Plan};
use serde::Deserialize;
use std::collections::BTreeSet;

/// Arguments of `hostname`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    /// The host name.
    #[serde(deserialize_with = "crate::util::py_text")]
    pub name: String,
    /// The strategy.
    #[serde(default, rename = "use")]
    pub use_: Option<Use>,
}

/// `use` of `hostname`: Ansible's choices.
#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Use {
    /// Alpine's files.
    Alpine,
    /// `hostnamectl`, as `systemd`.
    Debian,
    /// FreeBSD's rc.conf.
    Freebsd,
    /// Ansible's base strategy, which cannot read a name.
    Generic,
    /// `scutil`.
    Macos,
    /// `scutil`.
    Macosx,
    /// `scutil`.
    Darwin,
    /// OpenBSD's `/etc/myname`.
    Openbsd,
    /// Gentoo's conf.d file.
    Openrc,
    /// `/etc/sysconfig/network`.
    Redhat,
    /// SUSE's file.
    Sles,
    /// Solaris's `hostname` command.
    Solaris,
    /// `hostnamectl`.
    Systemd,
}

/// The distributions whose hostname strategy in ansible-core is the file `/etc/hostname`.
const FILE_DISTRIBUTIONS: &[&str] = &[
    "Debian",
    "Kylin",
    "Cumulus-linux",
    "Kali",
    "Parrot",
    "Ubuntu",
    "Linuxmint",
    "Linaro",
    "Devuan",
    "Raspbian",
    "Uos",
    "Deepin",
    "Neon",
    "Void",
    "Pop",
];

/// How the name is read and set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Strategy {
    Systemd,
    File,
}

/// The `hostname` module.
#[derive(Debug, Default)]
pub struct Hostname;

/// What was read: the current and permanent names.
struct Names {
    current: String,
    permanent: String,
}

/// What `apply` does.
pub struct HostnamePlan {
    strategy: Strategy,
    set_current: bool,
    set_permanent: bool,
    /// The name it replaces, for the registered `diff`.
    before: String,
}

/// Whether systemd runs the host, as ansible-core checks it; and `/etc/hostname` with its mode.
fn probe() -> Sh {
    Sh::lit(concat!(
        "if command -v systemctl >/dev/null 2>&1 && { [ -e /run/systemd/system/ ] || [ -e /dev/.run/systemd/ ] ",
        "|| [ -e /dev/.systemd/ ]; }; then printf 'systemd\\0'; else printf 'no\\0'; fi; ",
        "if [ -f /etc/hostname ]; then printf '%s\\0' \"$(stat -L -c %a /etc/hostname)\"; cat /etc/hostname; fi",
    ))
}

/// `hostnamectl --transient|--static status`, trimmed.
async fn hostnamectl_get(cx: &ModuleCtx<'_>, which: &'static str) -> Result<Result<String, Outcome>, ModuleError> {
    let out = cx.exec(Cmd::new("hostnamectl").flag(which).flag("status").build()).await?;
    if out.rc != 0 {
        return Ok(Err(command_failed(&out)));
    }
    Ok(Ok(out.stdout_str().trim().to_string()))
}

/// Ansible's message for a failed command.
fn command_failed(out: &prov_core::connection::ExecOutput) -> Outcome {
    Outcome::failed(format!("Command failed rc={}, out={}, err={}", out.rc, out.stdout_str(), out.stderr_str()))
}

/// The strategy for `use`, or why there is none.
fn strategy(use_: Option<Use>, systemd: bool, distribution: &str) -> Result<Strategy, String> {
    match use_ {
        Some(Use::Systemd | Use::Debian) => Ok(Strategy::Systemd),
        Some(Use::Generic) => Err("hostname: the `generic` strategy cannot read a host name (ansible-core 2.19 \
                                   fails with \"Module failed.\" too); use `systemd`, or leave `use` out"
            .into()),
        Some(u) => Err(format!(
            "hostname: prov does not support `use: {}` (it supports `systemd`, `debian`, and leaving `use` out \
             on systemd hosts and the Debian family)",
            format!("{u:?}").to_lowercase()
        )),
        None if systemd => Ok(Strategy::Systemd),
        None if FILE_DISTRIBUTIONS.contains(&distribution) => Ok(Strategy::File),
        None => Err(format!(
            "hostname module cannot be used on platform Linux ({distribution}) by prov: it supports systemd hosts \
             and the Debian family's /etc/hostname; try `use: systemd`"
        )),
    }
}

/// The facts the result carries: the name's, and what the host's name resolves to now.
async fn with_facts(cx: &ModuleCtx<'_>, name: &str, mut o: Outcome) -> Result<Outcome, ModuleError> {
    let collectors: BTreeSet<Collector> = [Collector::Platform].into_iter().collect();
    let out = cx.exec(facts::command(&collectors)).await?;
    let found = facts::parse(&collectors, &out.stdout_str());
    let get = |k: &str| found.get(k).cloned().unwrap_or_else(|| Value::from(""));
    let list = [
        ("hostname", Value::from(name.split('.').next().unwrap_or_default())),
        ("nodename", Value::from(name)),
        ("fqdn", get("fqdn")),
        ("domain", get("domain")),
    ];
    let registered: Vec<(String, Value)> = list.iter().map(|(k, v)| (format!("ansible_{k}"), v.clone())).collect();
    o = o.with("name", name).with("ansible_facts", Value::from_pairs(registered));
    o.host_facts = list.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
    Ok(o)
}

#[async_trait]
impl Module for Hostname {
    const NAME: &'static str = "hostname";
    type Args = Args;
    type Plan = HostnamePlan;

    fn check_args(a: &Args) -> Result<(), String> {
        if a.name.is_empty() || a.name.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(format!("{:?} is not a host name (empty, white space)", a.name));
        }
        match a.use_ {
            Some(u) if !matches!(u, Use::Systemd | Use::Debian) => strategy(Some(u), false, "").map(|_| ()),
            _ => Ok(()),
        }
    }

    async fn plan(&self, a: &Args, cx: &ModuleCtx<'_>) -> Result<Plan<HostnamePlan>, ModuleError> {
        let out = cx.exec(probe()).await?;
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        let mut parts = text.splitn(3, '\0');
        let systemd = parts.next() == Some("systemd");
        let file_mode = parts.next().and_then(|m| u32::from_str_radix(m.trim(), 8).ok());
        let file = file_mode.map(|_| parts.next().unwrap_or_default().trim().to_string());
        let distribution = if a.use_.is_none() && !systemd {
            let collectors: BTreeSet<Collector> = [Collector::Distribution].into_iter().collect();
            let out = cx.exec(facts::command(&collectors)).await?;
            let found = facts::parse(&collectors, &out.stdout_str());
            found.get("distribution").and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
        } else {
            String::new()
        };
        let strategy = match strategy(a.use_, systemd, &distribution) {
            Ok(s) => s,
            Err(msg) => return Ok(Plan::Ok(Outcome::failed(msg))),
        };
        let names = match strategy {
            Strategy::File => {
                let n = file.unwrap_or_default();
                Names { current: n.clone(), permanent: n }
            }
            Strategy::Systemd => {
                let current = match hostnamectl_get(cx, "--transient").await? {
                    Ok(n) => n,
                    Err(f) => return Ok(Plan::Ok(f)),
                };
                let permanent = match hostnamectl_get(cx, "--static").await? {
                    Ok(n) => n,
                    Err(f) => return Ok(Plan::Ok(f)),
                };
                Names { current, permanent }
            }
        };
        let name = a.name.as_str();
        let set_current = names.current != name && strategy == Strategy::Systemd;
        let set_permanent = names.permanent != name;
        if !set_current && !set_permanent && names.current == name {
            return Ok(Plan::Ok(with_facts(cx, name, Outcome::ok()).await?));
        }
        if strategy == Strategy::Systemd && name.chars().count() > 64 {
            let msg = "name cannot be longer than 64 characters on systemd servers, try a shorter name";
            return Ok(Plan::Ok(Outcome::failed(msg)));
        }
        let before = if names.current != name { &names.current } else { &names.permanent };
        let plan = HostnamePlan { strategy, set_current, set_permanent, before: before.clone() };
        let mut ch = Change::new(plan, Action::Modify, "hostname", name);
        if cx.mode.diff == DiffMode::On {
            ch = ch.with_diff("hostname", format!("hostname = {before}\n"), format!("hostname = {name}\n"));
        }
        Ok(Plan::Change(ch))
    }

    async fn apply(&self, a: &Args, plan: HostnamePlan, cx: &ModuleCtx<'_>) -> Result<Outcome, ModuleError> {
        let name = a.name.as_str();
        match plan.strategy {
            Strategy::File => {
                if plan.set_permanent {
                    // In place (truncate and write), as ansible-core's FileStrategy does.
                    let write = Sh::lit("printf '%s\\n'").word(Sh::quoted(name)).suffix(" > /etc/hostname");
                    let out = cx.exec(write).await?;
                    if out.rc != 0 {
                        return Ok(command_failed(&out));
                    }
                }
            }
            Strategy::Systemd => {
                let steps = [
                    (plan.set_permanent, Cmd::new("hostnamectl").flag("--pretty").flag("--static")),
                    (plan.set_current, Cmd::new("hostnamectl").flag("--transient")),
                ];
                for (wanted, cmd) in steps {
                    if !wanted {
                        continue;
                    }
                    let out = cx.exec(cmd.flag("set-hostname").operand(name).build()).await?;
                    if out.rc != 0 {
                        return Ok(command_failed(&out));
                    }
                }
            }
        }
        // ansible-core registers the change's diff whether or not `--diff` is on.
        let diff = Value::from_pairs(vec![
            ("after", Value::from(format!("hostname = {name}\n"))),
            ("before", Value::from(format!("hostname = {}\n", plan.before))),
        ]);
        with_facts(cx, name, Outcome { changed: true, ..Outcome::ok() }.with("diff", diff)).await
    }
}

#[cfg(test)]
mod tests;
