//! Facts as ansible-core's `setup` reports them, without Python on the target: one shell
//! command, built from the requested subsets, reads `/proc`, `/sys`, `/etc/os-release` and `ip`
//! (when present); its output is parsed here, on the controller.
//!
//! The command prints one section per probe, each after a `@@prov:NAME` line; [`parse`] turns
//! the sections into the facts (names without the `ansible_` prefix).

mod hardware;
mod network;
mod system;

use minijinja::Value;
use std::collections::{BTreeMap, BTreeSet};

/// The facts, by name without the `ansible_` prefix, in name order.
pub type Facts = BTreeMap<String, Value>;

/// A group of facts read together (Ansible's fact collectors that prov implements).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Collector {
    /// `system`, `kernel`, `kernel_version`, `machine`, `architecture`, `nodename`, `hostname`,
    /// `fqdn`, `domain`, `userspace_bits`.
    Platform,
    /// `distribution*`, `os_family`.
    Distribution,
    /// `date_time`.
    DateTime,
    /// `env`.
    Env,
    /// `user_*`, `real_*`/`effective_*` ids.
    User,
    /// `service_mgr`.
    ServiceMgr,
    /// `pkg_mgr`.
    PkgMgr,
    /// `interfaces`, one fact per interface, `default_ipv4`/`default_ipv6`,
    /// `all_ipv4_addresses`/`all_ipv6_addresses`.
    Network,
    /// `processor*`, `mem*`, `swap*`, `memory_mb`, `mounts`, `uptime_seconds`.
    Hardware,
}

/// What `all` reads.
const ALL: &[Collector] = &[
    Collector::Platform,
    Collector::Distribution,
    Collector::DateTime,
    Collector::Env,
    Collector::User,
    Collector::ServiceMgr,
    Collector::PkgMgr,
    Collector::Network,
    Collector::Hardware,
];

/// What Ansible always reads unless told `!min` (of its minimal set, those prov implements).
const MIN: &[Collector] = &[
    Collector::Platform,
    Collector::Distribution,
    Collector::DateTime,
    Collector::Env,
    Collector::User,
    Collector::ServiceMgr,
    Collector::PkgMgr,
];

/// Subset names ansible-core 2.19 accepts (its "gather_subset options allowed" list).
const ANSIBLE_SUBSETS: &[&str] = &[
    "all",
    "all_ipv4_addresses",
    "all_ipv6_addresses",
    "apparmor",
    "architecture",
    "caps",
    "chroot",
    "cmdline",
    "date_time",
    "default_ipv4",
    "default_ipv6",
    "devices",
    "distribution",
    "distribution_major_version",
    "distribution_release",
    "distribution_version",
    "dns",
    "effective_group_ids",
    "effective_user_id",
    "env",
    "facter",
    "fibre_channel_wwn",
    "fips",
    "hardware",
    "interfaces",
    "is_chroot",
    "iscsi",
    "kernel",
    "kernel_version",
    "loadavg",
    "local",
    "lsb",
    "machine",
    "machine_id",
    "min",
    "mounts",
    "network",
    "nvme",
    "ohai",
    "os_family",
    "pkg_mgr",
    "platform",
    "processor",
    "processor_cores",
    "processor_count",
    "python",
    "python_version",
    "real_user_id",
    "selinux",
    "service_mgr",
    "ssh_host_key_dsa_public",
    "ssh_host_key_ecdsa_public",
    "ssh_host_key_ed25519_public",
    "ssh_host_key_rsa_public",
    "ssh_host_pub_keys",
    "ssh_pub_keys",
    "system",
    "system_capabilities",
    "system_capabilities_enforced",
    "systemd",
    "user",
    "user_dir",
    "user_gecos",
    "user_gid",
    "user_id",
    "user_shell",
    "user_uid",
    "virtual",
    "virtualization_role",
    "virtualization_tech_guest",
    "virtualization_tech_host",
    "virtualization_type",
];

/// The collector that reads a subset named by one of its facts or its own name; `None` for
/// subsets Ansible has and prov does not read.
fn collector_of(name: &str) -> Option<Collector> {
    use Collector::*;
    Some(match name {
        "platform" | "architecture" | "kernel" | "kernel_version" | "machine" | "system" => Platform,
        "distribution"
        | "distribution_major_version"
        | "distribution_release"
        | "distribution_version"
        | "os_family" => Distribution,
        "date_time" => DateTime,
        "env" => Env,
        "user"
        | "user_dir"
        | "user_gecos"
        | "user_gid"
        | "user_id"
        | "user_shell"
        | "user_uid"
        | "real_user_id"
        | "effective_user_id"
        | "effective_group_ids" => User,
        "service_mgr" => ServiceMgr,
        "pkg_mgr" => PkgMgr,
        "network" | "interfaces" | "default_ipv4" | "default_ipv6" | "all_ipv4_addresses" | "all_ipv6_addresses" => {
            Network
        }
        "hardware" | "devices" | "mounts" | "processor" | "processor_cores" | "processor_count" => Hardware,
        _ => return None,
    })
}

/// The collectors a `gather_subset` list selects, as ansible-core's get_collector_names selects
/// them: the minimal set first, then each name in turn (`all`: every subset; `!all`: every one
/// but the minimal set excluded; `!min`: the minimal set excluded); at the end the excluded
/// subsets are taken out, unless named explicitly (so `!all,network` and `network,!all` both
/// give the minimal facts and network, and `all,!all` only the minimal ones). `network` and
/// `hardware` bring `platform` and `distribution`, which they need. Names are read as written
/// (`" network"` is not one). A name Ansible does not know is refused with Ansible's message
/// (excluding one is ignored, as there); a subset Ansible has and prov does not read is refused
/// when asked for by name (excluding it is fine).
pub fn select(subsets: &[String]) -> Result<BTreeSet<Collector>, String> {
    let mut add: BTreeSet<Collector> = MIN.iter().copied().collect();
    let mut exclude = BTreeSet::new();
    let mut explicit = BTreeSet::new();
    for s in subsets {
        let (neg, name) = match s.strip_prefix('!') {
            Some(n) => (true, n),
            None => (false, s.as_str()),
        };
        // ansible-core ignores a request to exclude a subset it does not know.
        if neg && !ANSIBLE_SUBSETS.contains(&name) {
            continue;
        }
        if !ANSIBLE_SUBSETS.contains(&name) {
            return Err(format!(
                "Bad subset '{name}' given to Ansible. gather_subset options allowed: {}",
                // `min` is taken before the check in ansible-core and is not in its list.
                ANSIBLE_SUBSETS.iter().filter(|s| **s != "min").copied().collect::<Vec<_>>().join(", ")
            ));
        }
        match (neg, name) {
            (false, "all") => add.extend(ALL.iter().copied()),
            (true, "all") => exclude.extend(ALL.iter().copied().filter(|c| !MIN.contains(c))),
            (false, "min") => add.extend(MIN.iter().copied()),
            (true, "min") => exclude.extend(MIN.iter().copied()),
            (neg, n) => match (collector_of(n), neg) {
                (Some(c), false) => {
                    add.insert(c);
                    explicit.insert(c);
                }
                (Some(c), true) => {
                    exclude.insert(c);
                }
                (None, true) => {}
                (None, false) => {
                    return Err(format!(
                        "gather_subset `{n}`: prov does not gather these facts (it reads: all, min, network, \
                         hardware, platform, distribution, date_time, env, user, service_mgr, pkg_mgr and the \
                         facts named after them); exclude it with `!{n}` or leave it out"
                    ))
                }
            },
        }
    }
    let mut out: BTreeSet<Collector> =
        add.into_iter().filter(|c| !exclude.contains(c) || explicit.contains(c)).collect();
    if out.contains(&Collector::Network) || out.contains(&Collector::Hardware) {
        out.insert(Collector::Platform);
        out.insert(Collector::Distribution);
    }
    Ok(out)
}

/// The command that reads the selected collectors.
pub fn command(collectors: &BTreeSet<Collector>) -> String {
    command_with_timeout(collectors, DEFAULT_GATHER_TIMEOUT)
}

/// ansible-core's default `gather_timeout`, in seconds.
pub const DEFAULT_GATHER_TIMEOUT: u64 = 10;

/// [`command`] with `gather_timeout` seconds for each call that can hang on a mount.
pub fn command_with_timeout(collectors: &BTreeSet<Collector>, gather_timeout: u64) -> String {
    let mut s = String::from("s() { printf '\\n@@prov:%s\\n' \"$1\"; }\n");
    if collectors.contains(&Collector::Hardware) {
        s.push_str(&format!(
            "gt={gather_timeout}\nbounded() {{ if command -v timeout >/dev/null 2>&1; then timeout \"$gt\" \"$@\"; else \"$@\"; fi; }}\n"
        ));
    }
    for c in collectors {
        s.push_str(match c {
            Collector::Platform => system::PLATFORM,
            Collector::Distribution => system::DISTRIBUTION,
            Collector::DateTime => system::DATE_TIME,
            Collector::Env => system::ENV,
            Collector::User => system::USER,
            Collector::ServiceMgr => system::SERVICE_MGR,
            Collector::PkgMgr => system::PKG_MGR,
            Collector::Network => network::COMMAND,
            Collector::Hardware => hardware::COMMAND,
        });
    }
    s
}

/// The command's output, by section.
pub(crate) struct Sections<'a>(BTreeMap<&'a str, &'a str>);

impl<'a> Sections<'a> {
    fn new(out: &'a str) -> Sections<'a> {
        let mut map = BTreeMap::new();
        let mut rest = out;
        while let Some(i) = rest.find("@@prov:") {
            let after = &rest[i + 7..];
            let (name, body) = after.split_once('\n').unwrap_or((after, ""));
            // Each marker starts a line; the line break before it belongs to the marker.
            let (text, next) = if body.starts_with("@@prov:") {
                ("", body)
            } else {
                match body.find("\n@@prov:") {
                    Some(e) => (&body[..e], &body[e + 1..]),
                    None => (body, ""),
                }
            };
            map.insert(name.trim(), text);
            rest = next;
        }
        Sections(map)
    }

    /// A section's text (empty when absent).
    pub(crate) fn get(&self, name: &str) -> &'a str {
        self.0.get(name).copied().unwrap_or("")
    }

    /// A section's text without its line break at the end.
    pub(crate) fn line(&self, name: &str) -> &'a str {
        self.get(name).trim_end_matches('\n')
    }
}

/// Parses [`command`]'s output for the same collectors into facts (names without `ansible_`).
pub fn parse(collectors: &BTreeSet<Collector>, out: &str) -> Facts {
    let sec = Sections::new(out);
    let mut f = Facts::new();
    for c in collectors {
        match c {
            Collector::Platform => system::platform(&sec, &mut f),
            Collector::Distribution => system::distribution(&sec, &mut f),
            Collector::DateTime => system::date_time(&sec, &mut f),
            Collector::Env => system::env(&sec, &mut f),
            Collector::User => system::user(&sec, &mut f),
            Collector::ServiceMgr => {}
            Collector::PkgMgr => {}
            Collector::Network => network::parse(&sec, &mut f),
            Collector::Hardware => hardware::parse(&sec, &mut f),
        }
    }
    // These two read facts of other collectors (as Ansible's do).
    if collectors.contains(&Collector::ServiceMgr) {
        system::service_mgr(&sec, &mut f);
    }
    if collectors.contains(&Collector::PkgMgr) {
        system::pkg_mgr(&sec, &mut f);
    }
    f
}

/// Keeps the facts whose `ansible_`-prefixed name matches one of the shell-style patterns
/// (`ansible_distribution*`, `ansible_eth[0-9]`), as `setup`'s `filter` does: a pattern is also
/// tried with `ansible_` in front unless it starts with `ansible_`, `facter` or `ohai`; an empty
/// pattern, or none, keeps all.
pub fn filter(facts: Facts, patterns: &[String]) -> Facts {
    if patterns.is_empty() {
        return facts;
    }
    facts
        .into_iter()
        .filter(|(k, _)| {
            let full = if k == "gather_subset" || k == "module_setup" { k.clone() } else { format!("ansible_{k}") };
            patterns.iter().any(|p| {
                p.is_empty()
                    || fnmatch(p, &full)
                    || (!p.starts_with("ansible_")
                        && !p.starts_with("facter")
                        && !p.starts_with("ohai")
                        && fnmatch(&format!("ansible_{p}"), &full))
            })
        })
        .collect()
}

/// Python's `fnmatch.fnmatch` on names: `*`, `?`, `[seq]`, `[!seq]`.
pub fn fnmatch(pattern: &str, name: &str) -> bool {
    fn class(p: &[char], c: char) -> Option<(bool, usize)> {
        // p starts after '['; returns (matched, length consumed including ']').
        let mut i = 0;
        let negate = matches!(p.first(), Some('!'));
        if negate {
            i += 1;
        }
        let start = i;
        let mut hit = false;
        while i < p.len() {
            if p[i] == ']' && i > start {
                return Some((hit != negate, i + 1));
            }
            if i + 2 < p.len() && p[i + 1] == '-' && p[i + 2] != ']' {
                if p[i] <= c && c <= p[i + 2] {
                    hit = true;
                }
                i += 3;
            } else {
                if p[i] == c {
                    hit = true;
                }
                i += 1;
            }
        }
        None
    }
    fn go(p: &[char], s: &[char]) -> bool {
        match p.first() {
            None => s.is_empty(),
            Some('*') => (0..=s.len()).any(|i| go(&p[1..], &s[i..])),
            Some('?') => !s.is_empty() && go(&p[1..], &s[1..]),
            Some('[') => match (s.first(), class(&p[1..], s.first().copied().unwrap_or('\0'))) {
                (Some(_), Some((true, n))) => go(&p[1 + n..], &s[1..]),
                (Some(_), Some((false, _))) | (None, Some(_)) => false,
                (_, None) => s.first() == Some(&'[') && go(&p[1..], &s[1..]),
            },
            Some(&c) => s.first() == Some(&c) && go(&p[1..], &s[1..]),
        }
    }
    let p: Vec<char> = pattern.chars().collect();
    let s: Vec<char> = name.chars().collect();
    go(&p, &s)
}

/// An integer fact value.
pub(crate) fn int(s: &str) -> Option<i64> {
    s.trim().parse().ok()
}

#[cfg(test)]
mod tests;
