//! `group_by`: puts each host of the play into a group named from its variables, in the
//! inventory the run holds in memory, for the plays after this one.
//!
//! Arguments (as in Ansible): `key` (required): the group's name (spaces become `-`);
//! `parents` (default `all`): a name or a list of the groups the group goes under.
//!
//! `changed` says whether the inventory changed: the host new in the group, a new parent group
//! or parent link. Registers `add_group` and `parent_groups`. It works in check mode. As with
//! `add_host`, a task later in the same play that reads `groups`, `group_names` or `hostvars`
//! is refused before the run (Ansible sees the new groups at once).
//!
//! ```yaml
//! - group_by:
//!     key: "os_{{ ansible_facts.distribution }}"
//!     parents: linux
//! ```

use async_trait::async_trait;
use minijinja::Value;
use prov_core::inventory::InventoryEdit;
use prov_core::module::{Module, ModuleCtx, ModuleError, Outcome, Plan, RunsOn};
use serde::Deserialize;

/// `parents`: one name or a list.
#[derive(Debug, Deserialize, Clone)]
#[serde(untagged)]
pub enum Parents {
    /// One group.
    One(String),
    /// Several.
    List(Vec<String>),
}

/// Arguments of `group_by`.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Args {
    /// The group.
    #[serde(default, deserialize_with = "crate::util::stringish")]
    pub key: Option<String>,
    /// Its parents.
    #[serde(default)]
    pub parents: Option<Parents>,
}

/// The `group_by` module.
#[derive(Debug, Default)]
pub struct GroupBy;

#[async_trait]
impl Module for GroupBy {
    const NAME: &'static str = "group_by";
    const RUNS_ON: RunsOn = RunsOn::Controller;
    type Args = Args;
    type Plan = ();

    fn check_args(args: &Args) -> Result<(), String> {
        match args.key {
            None => Err("the 'key' param is required when using group_by".into()),
            Some(_) => Ok(()),
        }
    }

    async fn plan(&self, args: &Args, cx: &ModuleCtx<'_>) -> Result<Plan<()>, ModuleError> {
        let group = args.key.as_deref().unwrap_or_default().replace(' ', "-");
        let parents: Vec<String> = match &args.parents {
            None => vec!["all".into()],
            Some(Parents::One(p)) => vec![p.replace(' ', "-")],
            Some(Parents::List(l)) => l.iter().map(|p| p.replace(' ', "-")).collect(),
        };
        let mut o = Outcome::ok()
            .with("add_group", group.as_str())
            .with("parent_groups", Value::from(parents.iter().map(|p| Value::from(p.as_str())).collect::<Vec<_>>()));
        o.inventory.push(InventoryEdit::GroupBy { host: cx.host.to_string(), group, parents });
        Ok(Plan::Ok(o))
    }

    async fn apply(&self, _: &Args, _: (), _: &ModuleCtx<'_>) -> Result<Outcome, ModuleError> {
        Ok(Outcome::ok())
    }
}
