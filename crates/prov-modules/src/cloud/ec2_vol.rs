//! An EBS volume (amazon.aws.ec2_vol): found by `id` or by its `name` (the `Name` tag),
//! created with `volume_size`, `volume_type` (default `standard`), `iops`, `throughput`,
//! `encrypted`/`kms_key_id`, `snapshot`, `multi_attach` and `tags` in the zone of `instance`
//! (or `zone`), changed in place with `modify_volume`, attached to `instance` as
//! `device_name` (default `/dev/sdf`) with the instance's `delete_on_termination` set,
//! detached (`instance: None`), or deleted (`state: absent`).
//!
//! The module's decisions and return values (`volume` with `id`, `size`, `type`, `status`,
//! `zone`, `attachment_set`, `tags`...; `volume_id`, `volume_type`, `device`; its early
//! answers: a device already mapped to another volume, check mode's "Would have ..."
//! messages) are amazon.aws 12.3's, compared against moto. As with `ec2_instance`, prov makes
//! the EC2 calls itself, for a task on the controller only, with the module's `region`,
//! `endpoint_url`, credentials and `profile` or their environment variables. Refused before
//! anything runs: `outpost_arn`, and the argument combinations the module refuses before
//! calling EC2 (IOPS or throughput a volume type does not take, no size nor volume to find).
//!
//! ```yaml
//! - amazon.aws.ec2_vol:
//!     instance: "{{ nfs.instance_ids[0] }}"
//!     name: nfs-data
//!     volume_size: 50
//!     volume_type: gp3
//!     device_name: /dev/sdf
//! ```

use super::{on_controller, outcome, plan_of, py_str};
use crate::util::{py_int, stringish};
use async_trait::async_trait;
use prov_core::args::lenient_opt_bool;
use prov_core::module::{Action, Module, ModuleCtx, ModuleError, Outcome, Plan, RunsOn};
use prov_providers::ec2_instance::Report;
use prov_providers::ec2_vol::Params;
use serde::Deserialize;
use serde_json::Value as Json;

/// Volume types the module knows.
const TYPES: &[&str] = &["standard", "gp2", "io1", "st1", "sc1", "gp3", "io2"];

amazon_aws_args! {
    /// Arguments of `ec2_vol`.
    #[derive(Debug, Default, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Args {
        /// The instance to attach to (`None` or empty: detach).
        #[serde(default, deserialize_with = "stringish")]
        pub instance: Option<String>,
        /// The volume's id.
        #[serde(default, deserialize_with = "stringish")]
        pub id: Option<String>,
        /// The volume's `Name` tag.
        #[serde(default, deserialize_with = "stringish")]
        pub name: Option<String>,
        /// GiB.
        #[serde(default, deserialize_with = "stringish")]
        pub volume_size: Option<String>,
        /// `standard` (default), `gp2`, `io1`, `st1`, `sc1`, `gp3`, `io2`.
        #[serde(default, deserialize_with = "stringish")]
        pub volume_type: Option<String>,
        /// Provisioned IOPS.
        #[serde(default, deserialize_with = "stringish")]
        pub iops: Option<String>,
        /// Encrypt (default false).
        #[serde(default, deserialize_with = "lenient_opt_bool")]
        pub encrypted: Option<bool>,
        /// The KMS key.
        #[serde(default, deserialize_with = "stringish")]
        pub kms_key_id: Option<String>,
        /// The device on the instance.
        #[serde(default, deserialize_with = "stringish")]
        pub device_name: Option<String>,
        /// Delete with the instance (default false).
        #[serde(default, deserialize_with = "lenient_opt_bool")]
        pub delete_on_termination: Option<bool>,
        /// The availability zone.
        #[serde(
            default,
            alias = "availability_zone",
            alias = "aws_zone",
            alias = "ec2_zone",
            deserialize_with = "stringish"
        )]
        pub zone: Option<String>,
        /// A snapshot to create from.
        #[serde(default, deserialize_with = "stringish")]
        pub snapshot: Option<String>,
        /// `present` (default) or `absent`.
        #[serde(default, deserialize_with = "stringish")]
        pub state: Option<String>,
        /// Tags.
        #[serde(default, alias = "resource_tags")]
        pub tags: Option<indexmap::IndexMap<String, Json>>,
        /// Change an existing volume's type, size, IOPS, throughput (default false).
        #[serde(default, deserialize_with = "lenient_opt_bool")]
        pub modify_volume: Option<bool>,
        /// MiB/s (gp3).
        #[serde(default, deserialize_with = "stringish")]
        pub throughput: Option<String>,
        /// Remove tags not in `tags` (default true).
        #[serde(default, deserialize_with = "lenient_opt_bool")]
        pub purge_tags: Option<bool>,
        /// Multi-attach (io1, io2).
        #[serde(default, deserialize_with = "lenient_opt_bool")]
        pub multi_attach: Option<bool>,
        /// Not supported.
        #[serde(default)]
        pub outpost_arn: Option<Json>,
    }
}

/// The module.
#[derive(Default)]
pub struct Ec2Vol;

fn state(a: &Args) -> &str {
    a.state.as_deref().unwrap_or("present")
}

fn params(a: &Args, env: &[(String, String)]) -> Result<Params, String> {
    let int = |v: &Option<String>| -> Result<Option<i64>, String> {
        match v {
            None => Ok(None),
            Some(_) => py_int::<i64>(v, 0).map(Some),
        }
    };
    Ok(Params {
        access: a.aws_access(env),
        instance: a.instance.clone(),
        id: a.id.clone(),
        name: a.name.clone(),
        volume_size: int(&a.volume_size)?,
        volume_type: a.volume_type.clone().unwrap_or_else(|| "standard".into()),
        iops: int(&a.iops)?,
        encrypted: a.encrypted.unwrap_or(false),
        kms_key_id: a.kms_key_id.clone(),
        device_name: a.device_name.clone(),
        delete_on_termination: a.delete_on_termination.unwrap_or(false),
        zone: a.zone.clone(),
        snapshot: a.snapshot.clone(),
        state: state(a).to_string(),
        tags: a.tags.as_ref().map(|t| t.iter().map(|(k, v)| (k.clone(), py_str(v))).collect()),
        modify_volume: a.modify_volume.unwrap_or(false),
        throughput: int(&a.throughput)?,
        purge_tags: a.purge_tags.unwrap_or(true),
        multi_attach: a.multi_attach,
    })
}

async fn run(args: &Args, cx: &ModuleCtx<'_>, check: bool) -> Result<Report, ModuleError> {
    on_controller(cx, "amazon.aws.ec2_vol")?;
    let p = params(args, &cx.env).map_err(ModuleError::Args)?;
    prov_providers::ec2_vol::run(&p, check).await.map_err(|e| ModuleError::Failed(e.to_string()))
}

#[async_trait]
impl Module for Ec2Vol {
    const NAME: &'static str = "ec2_vol";
    const COLLECTIONS: &'static [&'static str] = &["amazon.aws"];
    const RUNS_ON: RunsOn = RunsOn::Controller;
    type Args = Args;
    type Plan = ();

    fn check_args(a: &Args) -> Result<(), String> {
        if !matches!(state(a), "present" | "absent") {
            return Err(format!("value of state must be one of: absent, present, got: {}", state(a)));
        }
        let p = params(a, &[])?;
        if !TYPES.contains(&p.volume_type.as_str()) {
            return Err(format!("value of volume_type must be one of: {}, got: {}", TYPES.join(", "), p.volume_type));
        }
        let mut off = a.aws_unsupported();
        if a.outpost_arn.as_ref().is_some_and(|x| !x.is_null()) {
            off.insert(0, "outpost_arn");
        }
        if !off.is_empty() {
            return Err(format!("prov does not support {} of amazon.aws.ec2_vol yet", off.join(", ")));
        }
        let t = p.volume_type.as_str();
        if matches!(t, "io1" | "io2") && p.iops.is_none() {
            return Err(format!("volume_type is {t} but all of the following are missing: iops"));
        }
        if let Some(i) = p.iops.filter(|i| *i != 0) {
            if matches!(t, "gp2" | "st1" | "sc1" | "standard") {
                return Err("IOPS is not supported for gp2, st1, sc1, or standard volumes.".into());
            }
            if t == "gp3" && !(3000..=16000).contains(&i) {
                return Err("For a gp3 volume type, IOPS values must be between 3000 and 16000.".into());
            }
            if matches!(t, "io1" | "io2") && !(100..=64000).contains(&i) {
                return Err("For io1 and io2 volume types, IOPS values must be between 100 and 64000.".into());
            }
        }
        if let Some(th) = p.throughput.filter(|t| *t != 0) {
            if t != "gp3" {
                return Err("Throughput is only supported for gp3 volume.".into());
            }
            if !(125..=1000).contains(&th) {
                return Err("Throughput values must be between 125 and 1000.".into());
            }
        }
        if p.multi_attach == Some(true) && !matches!(t, "io1" | "io2") {
            return Err("multi_attach is only supported for io1 and io2 volumes.".into());
        }
        let named = [&p.id, &p.name, &p.snapshot].iter().any(|v| v.as_ref().is_some_and(|s| !s.is_empty()));
        if p.volume_size.unwrap_or(0) == 0 && !named {
            return Err("You must specify volume_size or identify an existing volume by id, name, or snapshot".into());
        }
        if p.state == "absent" && p.name.is_none() && p.id.is_none() {
            return Err("A volume name or id is required for deletion".into());
        }
        if p.state == "present" && p.instance.is_none() && p.zone.is_none() {
            return Err("You must specify either instance or zone".into());
        }
        Ok(())
    }

    async fn plan(&self, args: &Args, cx: &ModuleCtx<'_>) -> Result<Plan<()>, ModuleError> {
        let r = run(args, cx, true).await?;
        let msg = r.fields.get("msg").and_then(Json::as_str).unwrap_or_default().to_string();
        let action = match state(args) {
            "absent" => Action::Delete,
            _ if msg.contains("created") => Action::Create,
            _ => Action::Modify,
        };
        let name = args.name.clone().or_else(|| args.id.clone()).unwrap_or_else(|| "volume".into());
        Ok(plan_of(r, action, "ec2_vol", name))
    }

    async fn apply(&self, args: &Args, _plan: (), cx: &ModuleCtx<'_>) -> Result<Outcome, ModuleError> {
        Ok(outcome(run(args, cx, false).await?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(v: Json) -> Result<(), String> {
        Ec2Vol::check_args(&serde_json::from_value(v).expect("arguments parse"))
    }

    #[test]
    fn argument_combinations_the_module_refuses_are_refused_before_connecting() {
        assert!(check(serde_json::json!({"name": "d", "zone": "us-east-1a", "volume_size": 5})).is_ok());
        assert_eq!(
            check(serde_json::json!({"zone": "us-east-1a"})).expect_err("refused"),
            "You must specify volume_size or identify an existing volume by id, name, or snapshot"
        );
        assert_eq!(
            check(serde_json::json!({"name": "d", "zone": "z", "iops": 3000})).expect_err("refused"),
            "IOPS is not supported for gp2, st1, sc1, or standard volumes."
        );
        assert_eq!(
            check(serde_json::json!({"name": "d", "zone": "z", "volume_type": "io1"})).expect_err("refused"),
            "volume_type is io1 but all of the following are missing: iops"
        );
        assert_eq!(
            check(serde_json::json!({"name": "d", "volume_size": 5})).expect_err("refused"),
            "You must specify either instance or zone"
        );
        assert!(check(serde_json::json!({"name": "d", "state": "absent"})).is_ok());
    }
}
