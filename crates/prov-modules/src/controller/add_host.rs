//! `add_host`: adds a host (or updates one) in the inventory the run holds in memory, for the
//! plays after this one.
//!
//! Arguments (as in Ansible):
//! - `name` (aliases `hostname`, `host`, read in that order; required): the inventory
//!   hostname. A `host:port` form sets `ansible_ssh_port`.
//! - `groups` (aliases `groupname`, `group`; `groupname` is read first, then `groups`, then
//!   `group`): a list, or names separated by commas.
//! - Every other argument is a variable of the host (`ansible_host`, `ansible_user`, ...),
//!   `host` and `group` included, as ansible-core keeps them.
//!
//! As in Ansible, the task runs once for the whole play (on its first host, whose result it
//! is: the other hosts register nothing), loops run it once per item, and it works in check
//! mode. `changed` says whether the inventory changed: a new host, a new or different variable,
//! a new group or membership. Registers `add_host` (`host_name`, `groups`, `host_vars`).
//!
//! prov applies the change to the plays that follow: a task later in the same play that reads
//! `groups`, `group_names` or `hostvars` is refused before the run (Ansible sees the new host
//! at once).
//!
//! ```yaml
//! - add_host:
//!     name: "{{ vm.name }}"
//!     groups: [swarm, workers]
//!     ansible_host: "{{ vm.address }}"
//!   loop: "{{ created.vms }}"
//!   loop_control: { loop_var: vm }
//! ```

use async_trait::async_trait;
use minijinja::value::Serde;
use minijinja::Value;
use prov_core::inventory::InventoryEdit;
use prov_core::module::{Module, ModuleCtx, ModuleError, Outcome, Plan, RunsOn};
use serde::Deserialize;

/// `groups`: a list, or names separated by commas.
#[derive(Debug, Deserialize, Clone)]
#[serde(untagged)]
pub enum Groups {
    /// A list of names.
    List(Vec<String>),
    /// `a,b,c`.
    Text(String),
}

/// Arguments of `add_host`. The aliases `host` and `group` are also host variables, so they
/// stay in [`Args::vars`].
#[derive(Debug, Deserialize, Default)]
pub struct Args {
    /// The host.
    #[serde(default, deserialize_with = "crate::util::stringish")]
    pub name: Option<String>,
    /// The host, when `name` is not given.
    #[serde(default, deserialize_with = "crate::util::stringish")]
    pub hostname: Option<String>,
    /// Its groups, first choice.
    #[serde(default)]
    pub groupname: Option<Groups>,
    /// Its groups, when `groupname` is not given.
    #[serde(default)]
    pub groups: Option<Groups>,
    /// Everything else: its variables.
    #[serde(flatten)]
    pub vars: indexmap::IndexMap<String, serde_json::Value>,
}

impl Args {
    /// `name`, else `hostname`, else `host`, as ansible-core picks.
    fn host_name(&self) -> Option<String> {
        self.name.clone().or_else(|| self.hostname.clone()).or_else(|| match self.vars.get("host")? {
            serde_json::Value::String(s) => Some(s.clone()),
            serde_json::Value::Null => None,
            other => Some(other.to_string()),
        })
    }

    /// The hostname, and the port of a `host:port` name.
    fn address(&self) -> Option<(String, Option<u16>)> {
        let name = self.host_name()?;
        let name = name.as_str();
        // `[v6]:port`, `host:port`; a bare IPv6 address has more than one colon.
        let split = match name.strip_prefix('[') {
            Some(rest) => rest.split_once("]:"),
            None if name.matches(':').count() == 1 => name.split_once(':'),
            None => None,
        };
        match split.and_then(|(h, p)| p.parse::<u16>().ok().map(|p| (h, p))) {
            Some((h, p)) => Some((h.to_string(), Some(p))),
            None => Some((name.to_string(), None)),
        }
    }

    /// The groups, in order, without surrounding spaces; as in ansible-core, a name is left out
    /// when it is already there as written (before its spaces are stripped).
    fn group_list(&self) -> Vec<String> {
        let group = self.vars.get("group").and_then(|g| serde_json::from_value::<Groups>(g.clone()).ok());
        let raw: Vec<String> = match self.groupname.as_ref().or(self.groups.as_ref()).or(group.as_ref()) {
            None => Vec::new(),
            Some(Groups::List(l)) => l.clone(),
            Some(Groups::Text(t)) if t.is_empty() => Vec::new(),
            Some(Groups::Text(t)) => t.split(',').map(str::to_string).collect(),
        };
        let mut out: Vec<String> = Vec::new();
        for g in raw {
            if !out.contains(&g) {
                out.push(g.trim().to_string());
            }
        }
        out
    }
}

/// The `add_host` module.
#[derive(Debug, Default)]
pub struct AddHost;

#[async_trait]
impl Module for AddHost {
    const NAME: &'static str = "add_host";
    const RUNS_ON: RunsOn = RunsOn::Controller;
    type Args = Args;
    type Plan = ();

    fn check_args(args: &Args) -> Result<(), String> {
        if let Some(g) = args.vars.get("group").filter(|g| !g.is_null()) {
            if serde_json::from_value::<Groups>(g.clone()).is_err() {
                return Err("Groups must be specified as a list.".into());
            }
        }
        match args.host_name().as_deref() {
            None | Some("") => Err("name, host or hostname needs to be provided".into()),
            Some(_) => Ok(()),
        }
    }

    async fn plan(&self, args: &Args, _: &ModuleCtx<'_>) -> Result<Plan<()>, ModuleError> {
        let (name, port) = args.address().ok_or_else(|| ModuleError::Args("name is required".into()))?;
        let mut vars: Vec<(String, serde_json::Value)> = args.vars.clone().into_iter().collect();
        if let Some(p) = port {
            vars.push(("ansible_ssh_port".into(), p.into()));
        }
        let groups = args.group_list();
        if groups.iter().any(String::is_empty) {
            // ansible-core's inventory refuses it when the result is processed, and the run
            // stops whatever ignore_errors says (rc 1): prov fails the host the same way.
            return Ok(Plan::Ok(Outcome {
                failed: true,
                fatal: true,
                msg: Some("Invalid empty/false group name provided: ".into()),
                ..Outcome::ok()
            }));
        }
        let host_vars: serde_json::Map<String, serde_json::Value> = vars.iter().cloned().collect();
        let edit = InventoryEdit::AddHost {
            name: name.clone(),
            groups: groups.clone(),
            vars: vars.into_iter().map(|(k, v)| (k, Value::from(Serde(v)))).collect(),
        };
        let mut o = Outcome::ok().with(
            "add_host",
            Value::from(Serde(serde_json::json!({"host_name": name, "groups": groups, "host_vars": host_vars}))),
        );
        o.inventory.push(edit);
        Ok(Plan::Ok(o))
    }

    async fn apply(&self, _: &Args, _: (), _: &ModuleCtx<'_>) -> Result<Outcome, ModuleError> {
        Ok(Outcome::ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(v: serde_json::Value) -> Args {
        serde_json::from_value(v).expect("args")
    }

    #[test]
    fn groups_as_text_or_list_each_once_and_trimmed() {
        assert_eq!(args(serde_json::json!({"name": "h", "groups": "a, b,a"})).group_list(), ["a", "b"]);
        // ansible-core compares the name as written, then strips it: ` a` is not `a`.
        assert_eq!(args(serde_json::json!({"name": "h", "groups": "a, a"})).group_list(), ["a", "a"]);
        assert_eq!(args(serde_json::json!({"name": "h", "group": ["x"]})).group_list(), ["x"]);
        assert!(args(serde_json::json!({"name": "h"})).group_list().is_empty());
    }

    /// ansible-core 2.19 (`groups: 'web,'`): "Invalid empty/false group name provided: ", and
    /// the run stops whatever ignore_errors says.
    #[tokio::test]
    async fn an_empty_group_name_fails_as_ansible_core_fails() {
        let h = crate::testing::fake(prov_core::testutil::FakeConnection::new());
        let o = crate::testing::run::<AddHost>(serde_json::json!({"name": "h1", "groups": "web,"}), &h.ctx()).await;
        assert!(o.failed && o.fatal, "{o:?}");
        assert_eq!(o.msg.as_deref(), Some("Invalid empty/false group name provided: "));
        assert!(o.inventory.is_empty());
    }

    #[test]
    fn host_port_names_set_the_port() {
        assert_eq!(args(serde_json::json!({"name": "h:2222"})).address(), Some(("h".into(), Some(2222))));
        assert_eq!(args(serde_json::json!({"name": "[::1]:22"})).address(), Some(("::1".into(), Some(22))));
        assert_eq!(args(serde_json::json!({"name": "fe80::1"})).address(), Some(("fe80::1".into(), None)));
        assert_eq!(args(serde_json::json!({"hostname": "h"})).address(), Some(("h".into(), None)));
    }

    #[test]
    fn other_arguments_are_host_variables() {
        let a = args(serde_json::json!({"name": "h", "ansible_host": "10.0.0.1", "color": "blue"}));
        assert_eq!(a.vars.keys().collect::<Vec<_>>(), ["ansible_host", "color"]);
    }

    /// ansible-core 2.19.14: `{host: h1, group: g, x: 1}` adds h1 to g with the variables
    /// host, group and x; `{name: h2, host: h3, groups: [g2], groupname: g3, group: g4}`
    /// adds h2 to g3 with the variables host and group.
    #[test]
    fn the_aliases_host_and_group_are_also_host_variables_and_come_last() {
        let a = args(serde_json::json!({"host": "h1", "group": "g", "x": 1}));
        assert_eq!((a.address(), a.group_list()), (Some(("h1".into(), None)), vec!["g".to_string()]));
        assert_eq!(a.vars.keys().collect::<Vec<_>>(), ["host", "group", "x"]);
        let a =
            args(serde_json::json!({"name": "h2", "host": "h3", "groups": ["g2"], "groupname": "g3", "group": "g4"}));
        assert_eq!((a.address(), a.group_list()), (Some(("h2".into(), None)), vec!["g3".to_string()]));
        assert_eq!(a.vars.keys().collect::<Vec<_>>(), ["host", "group"]);
        assert!(AddHost::check_args(&args(serde_json::json!({"host": "h", "group": 3}))).is_err());
    }
}
