//! An Elastic IP (amazon.aws.ec2_eip): found by `public_ip` or by the instance or network
//! interface (`device_id`) it is associated with; allocated (`in_vpc` for a VPC address, or
//! an unassociated one reused with `reuse_existing_ip_allowed`, searched by
//! `tag_name`/`tag_value`), associated with `device_id` (`private_ip_address`,
//! `allow_reassociation`), tagged; with `state: absent` disassociated from `device_id`
//! (released too with `release_on_disassociation`) or, without a device, released.
//!
//! The module's decisions and return values (`public_ip`, `allocation_id`; `disassociated`,
//! `released`) are amazon.aws 12.3's, compared against moto. As with `ec2_instance`, prov
//! makes the EC2 calls itself, for a task on the controller only, with the module's
//! `region`, `endpoint_url`, credentials and `profile` or their environment variables.
//! `domain_name` (the address's reverse DNS record) is refused before anything runs.
//!
//! ```yaml
//! - amazon.aws.ec2_eip:
//!     device_id: "{{ manager.instance_ids[0] }}"
//!     in_vpc: true
//!     release_on_disassociation: true
//!     tags: { role: manager }
//!   register: eip
//! ```

use super::{on_controller, outcome, plan_of, py_str};
use crate::util::stringish;
use async_trait::async_trait;
use prov_core::args::lenient_opt_bool;
use prov_core::module::{Action, Module, ModuleCtx, ModuleError, Outcome, Plan, RunsOn};
use prov_providers::ec2_eip::Params;
use prov_providers::ec2_instance::Report;
use serde::Deserialize;
use serde_json::Value as Json;

amazon_aws_args! {
    /// Arguments of `ec2_eip`.
    #[derive(Debug, Default, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Args {
        /// An instance (`i-...`) or network interface (`eni-...`, needs `in_vpc`).
        #[serde(default, deserialize_with = "stringish")]
        pub device_id: Option<String>,
        /// The address.
        #[serde(default, alias = "ip", deserialize_with = "stringish")]
        pub public_ip: Option<String>,
        /// `present` (default) or `absent`.
        #[serde(default, deserialize_with = "stringish")]
        pub state: Option<String>,
        /// A VPC address (default false).
        #[serde(default, deserialize_with = "lenient_opt_bool")]
        pub in_vpc: Option<bool>,
        /// Reuse an unassociated address (default false).
        #[serde(default, deserialize_with = "lenient_opt_bool")]
        pub reuse_existing_ip_allowed: Option<bool>,
        /// Release when disassociating (default false).
        #[serde(default, deserialize_with = "lenient_opt_bool")]
        pub release_on_disassociation: Option<bool>,
        /// Move an address associated elsewhere (default false).
        #[serde(default, deserialize_with = "lenient_opt_bool")]
        pub allow_reassociation: Option<bool>,
        /// The private address to associate with.
        #[serde(default, deserialize_with = "stringish")]
        pub private_ip_address: Option<String>,
        /// Tags.
        #[serde(default, alias = "resource_tags")]
        pub tags: Option<indexmap::IndexMap<String, Json>>,
        /// Remove tags not in `tags` (default true).
        #[serde(default, deserialize_with = "lenient_opt_bool")]
        pub purge_tags: Option<bool>,
        /// A tag to search reusable addresses by.
        #[serde(default, deserialize_with = "stringish")]
        pub tag_name: Option<String>,
        /// Its value.
        #[serde(default, deserialize_with = "stringish")]
        pub tag_value: Option<String>,
        /// The pool of a new address.
        #[serde(default, deserialize_with = "stringish")]
        pub public_ipv4_pool: Option<String>,
        /// Not supported.
        #[serde(default)]
        pub domain_name: Option<Json>,
    }
}

/// The module.
#[derive(Default)]
pub struct Ec2Eip;

fn state(a: &Args) -> &str {
    a.state.as_deref().unwrap_or("present")
}

fn params(a: &Args, env: &[(String, String)]) -> Params {
    Params {
        access: a.aws_access(env),
        device_id: a.device_id.clone(),
        public_ip: a.public_ip.clone(),
        state: state(a).to_string(),
        in_vpc: a.in_vpc.unwrap_or(false),
        reuse_existing_ip_allowed: a.reuse_existing_ip_allowed.unwrap_or(false),
        release_on_disassociation: a.release_on_disassociation.unwrap_or(false),
        allow_reassociation: a.allow_reassociation.unwrap_or(false),
        private_ip_address: a.private_ip_address.clone(),
        tags: a.tags.as_ref().map(|t| t.iter().map(|(k, v)| (k.clone(), py_str(v))).collect()),
        purge_tags: a.purge_tags.unwrap_or(true),
        tag_name: a.tag_name.clone(),
        tag_value: a.tag_value.clone(),
        public_ipv4_pool: a.public_ipv4_pool.clone(),
    }
}

async fn run(args: &Args, cx: &ModuleCtx<'_>, check: bool) -> Result<Report, ModuleError> {
    on_controller(cx, "amazon.aws.ec2_eip")?;
    prov_providers::ec2_eip::run(&params(args, &cx.env), check).await.map_err(|e| ModuleError::Failed(e.to_string()))
}

#[async_trait]
impl Module for Ec2Eip {
    const NAME: &'static str = "ec2_eip";
    const COLLECTIONS: &'static [&'static str] = &["amazon.aws"];
    const RUNS_ON: RunsOn = RunsOn::Controller;
    type Args = Args;
    type Plan = ();

    fn check_args(a: &Args) -> Result<(), String> {
        if !matches!(state(a), "present" | "absent") {
            return Err(format!("value of state must be one of: present, absent, got: {}", state(a)));
        }
        let mut off = a.aws_unsupported();
        if a.domain_name.as_ref().is_some_and(|x| !x.is_null()) {
            off.insert(0, "domain_name");
        }
        if !off.is_empty() {
            return Err(format!("prov does not support {} of amazon.aws.ec2_eip yet", off.join(", ")));
        }
        if a.private_ip_address.is_some() && a.device_id.is_none() {
            return Err("missing parameter(s) required by 'private_ip_address': device_id".into());
        }
        if a.tag_value.is_some() && a.tag_name.is_none() {
            return Err("missing parameter(s) required by 'tag_value': tag_name".into());
        }
        Ok(())
    }

    async fn plan(&self, args: &Args, cx: &ModuleCtx<'_>) -> Result<Plan<()>, ModuleError> {
        let r = run(args, cx, true).await?;
        let action = match (state(args), r.fields.contains_key("allocation_id")) {
            ("absent", _) => Action::Delete,
            (_, false) => Action::Create,
            _ => Action::Modify,
        };
        let name = args.public_ip.clone().or_else(|| args.device_id.clone()).unwrap_or_else(|| "address".into());
        Ok(plan_of(r, action, "ec2_eip", name))
    }

    async fn apply(&self, args: &Args, _plan: (), cx: &ModuleCtx<'_>) -> Result<Outcome, ModuleError> {
        Ok(outcome(run(args, cx, false).await?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(v: Json) -> Result<(), String> {
        Ec2Eip::check_args(&serde_json::from_value(v).expect("arguments parse"))
    }

    #[test]
    fn argument_combinations_the_module_refuses_are_refused_before_connecting() {
        assert!(check(serde_json::json!({"device_id": "i-1", "in_vpc": true})).is_ok());
        assert_eq!(
            check(serde_json::json!({"private_ip_address": "10.0.0.1"})).expect_err("refused"),
            "missing parameter(s) required by 'private_ip_address': device_id"
        );
        assert!(check(serde_json::json!({"domain_name": "x.example"})).expect_err("refused").contains("domain_name"));
    }
}
