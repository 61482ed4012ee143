//! `setup`: gathers facts about the host, as `gather_facts` does before a play.
//!
//! Arguments (as in Ansible): `gather_subset` (list or comma-separated string, default `all`):
//! `all`, `min`, `network`, `hardware`, `platform`, `distribution`, `date_time`, `env`, `user`,
//! `service_mgr`, `pkg_mgr` or a fact named after one of them (`default_ipv4`, `mounts`,
//! `os_family`, ...); `!name` leaves one out, `!all` keeps only the minimal set, `!min` leaves
//! that out too. A name ansible-core does not know is refused with its message; a subset it has
//! and prov does not read (`virtual`, `dns`, `selinux`, `facter`, ...) is refused when asked for
//! and may be excluded. `filter` (list of shell-style patterns on the `ansible_` names, e.g.
//! `ansible_distribution*`), `gather_timeout` (seconds, default 10: as in ansible-core, a
//! bound on each call that can hang on a mount, not on the whole gathering). `fact_path`
//! (local facts) is refused.
//!
//! Facts, read with `sh` from `/proc`, `/sys`, `/etc/os-release` and `ip` (no Python):
//! `hostname`, `nodename`, `fqdn`, `domain`, `system`, `kernel`, `kernel_version`, `machine`,
//! `architecture`, `userspace_bits`, `os_family`, `distribution`, `distribution_version`,
//! `distribution_major_version`, `distribution_minor_version`, `distribution_release`,
//! `date_time`, `env`, `user_id`, `user_uid`, `user_gid`, `user_gecos`, `user_dir`,
//! `user_shell`, `real_user_id`, `effective_user_id`, `real_group_id`, `effective_group_id`,
//! `service_mgr`, `pkg_mgr`; with `network`: `interfaces`, one fact per interface
//! (`ansible_eth0`: device, macaddress, mtu, active, type, promisc, speed, pciid, module,
//! ipv4, ipv4_secondaries, ipv6, bridge and bonding details), `default_ipv4`/`default_ipv6`
//! (from the route to an outside address, as Ansible finds them), `all_ipv4_addresses`,
//! `all_ipv6_addresses`; with `hardware`: `processor`, `processor_count`, `processor_cores`,
//! `processor_threads_per_core`, `processor_vcpus`, `processor_nproc`, `memtotal_mb`,
//! `memfree_mb`, `swaptotal_mb`, `swapfree_mb`, `memory_mb`, `mounts`, `uptime_seconds`.
//!
//! The facts are set on the host (`ansible_facts.hostname`, `ansible_hostname`), on the
//! delegated host with `delegate_to` and `delegate_facts: true`; registered, the result holds
//! them under `ansible_facts` with their `ansible_` names.
//!
//! ```yaml
//! - setup:
//!     gather_subset: ['!all', network]
//!     filter: ['ansible_default_ipv4', 'ansible_eth*']
//! - debug: msg="{{ ansible_default_ipv4.address }}"
//! ```

use async_trait::async_trait;
use minijinja::Value;
use prov_core::connection::ExecRequest;
use prov_core::facts;
use prov_core::module::{Module, ModuleCtx, ModuleError, Outcome, Plan};
use serde::Deserialize;

/// Arguments of `setup`.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Args {
    /// Subsets to gather (default `all`): a list or a comma-separated string.
    #[serde(default)]
    pub gather_subset: Option<Value>,
    /// Patterns of the fact names to keep: a list or a comma-separated string.
    #[serde(default)]
    pub filter: Option<Value>,
    /// Seconds the gathering may take.
    #[serde(default)]
    pub gather_timeout: Option<u64>,
    /// Local facts directory: refused.
    #[serde(default)]
    pub fact_path: Option<String>,
}

/// A list argument that may be one comma-separated string (Ansible's `type='list'`: the parts
/// are kept as written, spaces and empty parts too).
fn list(v: &Option<Value>) -> Vec<String> {
    match v {
        None => Vec::new(),
        Some(v) if v.is_none() || v.is_undefined() => Vec::new(),
        Some(v) => match v.as_str() {
            Some(s) => s.split(',').map(str::to_string).collect(),
            None => match v.try_iter() {
                // `elements: str`: Python's text of a boolean or a float (`True`, `1.0`).
                Ok(items) => {
                    items.map(|i| prov_core::args::python_text_of(&i).unwrap_or_else(|_| i.to_string())).collect()
                }
                Err(_) => vec![v.to_string()],
            },
        },
    }
}

impl Args {
    /// The subsets asked for (`all` when none).
    pub fn subsets(&self) -> Vec<String> {
        let l = list(&self.gather_subset);
        if l.is_empty() {
            vec!["all".into()]
        } else {
            l
        }
    }
}

/// The `setup` module.
#[derive(Debug, Default)]
pub struct Setup;

#[async_trait]
impl Module for Setup {
    const NAME: &'static str = "setup";
    const PATH_ARGS: &'static [&'static str] = &["fact_path"];
    type Args = Args;
    type Plan = ();

    fn check_args(args: &Args) -> Result<(), String> {
        if args.fact_path.is_some() {
            return Err("fact_path: prov does not read local facts (`ansible_local`); remove it".into());
        }
        facts::select(&args.subsets()).map(|_| ())
    }

    async fn plan(&self, args: &Args, cx: &ModuleCtx<'_>) -> Result<Plan<()>, ModuleError> {
        let subsets = args.subsets();
        let collectors = facts::select(&subsets).map_err(ModuleError::Args)?;
        // `gather_timeout` bounds each call that can hang (a mount's), as in ansible-core; the
        // gathering as a whole has only the task's timeout.
        let gather_timeout = args.gather_timeout.unwrap_or(facts::DEFAULT_GATHER_TIMEOUT).max(1);
        let req = ExecRequest {
            command: facts::command_with_timeout(&collectors, gather_timeout),
            stdin: None,
            become_: cx.become_.clone(),
            env: cx.env.clone(),
            timeout: cx.timeout,
        };
        let out = cx.conn.exec(req).await?;
        let stdout = out.stdout_str();
        if !collectors.is_empty() && !stdout.contains("@@prov:") {
            return Ok(Plan::Ok(Outcome::failed(format!(
                "could not read facts (rc {}): {}",
                out.rc,
                out.stderr_str().trim()
            ))));
        }
        let mut found = facts::parse(&collectors, &stdout);
        found.insert("gather_subset".into(), Value::from(subsets));
        found.insert("module_setup".into(), Value::from(true));
        let found = facts::filter(found, &list(&args.filter));
        let registered = found.iter().map(|(k, v)| {
            let name = if k == "gather_subset" || k == "module_setup" { k.clone() } else { format!("ansible_{k}") };
            (name, v.clone())
        });
        let mut o = Outcome::ok().with("ansible_facts", Value::from_pairs(registered));
        o.host_facts = found.into_iter().collect();
        Ok(Plan::Ok(o))
    }

    async fn apply(&self, _: &Args, _: (), _: &ModuleCtx<'_>) -> Result<Outcome, ModuleError> {
        Ok(Outcome::ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subsets(v: serde_json::Value) -> Vec<String> {
        let a: Args = serde_json::from_value(serde_json::json!({ "gather_subset": v })).expect("args");
        a.subsets()
    }

    /// ansible-core's list type splits a string at commas and keeps each part as written, so
    /// `"network, !hardware"` asks for the subset `" !hardware"` (which it refuses) and `""` for
    /// the subset `""`; only no value (or an empty list) means `all`.
    #[test]
    fn gather_subset_string_parts_are_kept_as_written() {
        assert_eq!(subsets(serde_json::json!("network, !hardware")), ["network", " !hardware"]);
        assert_eq!(subsets(serde_json::json!("")), [""]);
        assert_eq!(subsets(serde_json::json!([])), ["all"]);
        assert_eq!(subsets(serde_json::Value::Null), ["all"]);
        assert!(Setup::check_args(
            &serde_json::from_value(serde_json::json!({"gather_subset": "network, !hardware"})).expect("args")
        )
        .is_err());
    }
}
