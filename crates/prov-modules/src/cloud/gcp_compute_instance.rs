//! A Compute Engine instance (google.cloud.gcp_compute_instance): made from `disks`,
//! `machine_type`, `network_interfaces`, `metadata`, `labels`, `tags`, ...; updated when it
//! differs (labels, machine type, deletion protection, shielded VM settings set, persistent
//! disks attached, as the module does: requests sent without reading their outcome);
//! started or stopped as `status` (`RUNNING`, `TERMINATED`) asks; deleted with
//! `state: absent`.
//!
//! The result is the instance as the Compute API describes it, `metadata` as a mapping, as
//! the module returns it, with its quirks: right after the instance is made (or started or
//! stopped) the module decodes its metadata twice, so the result of that task has
//! `metadata: {}`; `status` is the one asked for; a label, metadata key or field the
//! instance lacks is no difference (the module compares only what the instance has), so
//! adding a label alone changes nothing until something else differs. prov makes the module's REST calls from its
//! own process, for a task on the controller, with the module's authentication arguments or
//! their `GCP_*` environment variables. The module does not support check mode: under
//! `--check` the task is skipped, as ansible-core skips it.
//! `prov plan` still lists what the task would change, from the module's own reads.
//!
//! ```yaml
//! - google.cloud.gcp_compute_instance:
//!     name: manager-1
//!     zone: europe-west1-b
//!     machine_type: e2-small
//!     disks:
//!       - boot: true
//!         auto_delete: true
//!         initialize_params:
//!           source_image: projects/debian-cloud/global/images/family/debian-12
//!     network_interfaces:
//!       - access_configs: [{name: External NAT, type: ONE_TO_ONE_NAT}]
//!     labels: { role: manager }
//!     project: my-project
//!     auth_kind: application
//!   register: manager
//! ```

use super::google_cloud::{spec_arg, text, typed};
use crate::util::stringish;
use prov_providers::google_cloud::{Ty, INSTANCE};
use serde::Deserialize;
use serde_json::{Map, Value as Json};

/// The module's name in messages.
const MODULE: &str = "google.cloud.gcp_compute_instance";

google_cloud_args! {
    /// Arguments of `gcp_compute_instance`.
    #[derive(Debug, Default, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Args {
        /// `present` (default) or `absent`.
        #[serde(default, deserialize_with = "stringish")]
        pub state: Option<String>,
        /// IP forwarding.
        #[serde(default, alias = "ip_forward")]
        pub can_ip_forward: Option<Json>,
        /// Deletion protection.
        #[serde(default)]
        pub deletion_protection: Option<Json>,
        /// Discard local SSDs when stopping (default true).
        #[serde(default)]
        pub discard_local_ssd: Option<Json>,
        /// Disks.
        #[serde(default)]
        pub disks: Option<Json>,
        /// Accelerators.
        #[serde(default)]
        pub guest_accelerators: Option<Json>,
        /// The hostname.
        #[serde(default, deserialize_with = "stringish")]
        pub hostname: Option<String>,
        /// Labels.
        #[serde(default)]
        pub labels: Option<Json>,
        /// Metadata, as a mapping.
        #[serde(default)]
        pub metadata: Option<Json>,
        /// The machine type (`e2-small` or its link).
        #[serde(default, deserialize_with = "stringish")]
        pub machine_type: Option<String>,
        /// The minimum CPU platform.
        #[serde(default, deserialize_with = "stringish")]
        pub min_cpu_platform: Option<String>,
        /// The instance's name.
        #[serde(default, deserialize_with = "stringish")]
        pub name: Option<String>,
        /// Network interfaces.
        #[serde(default)]
        pub network_interfaces: Option<Json>,
        /// Scheduling.
        #[serde(default)]
        pub scheduling: Option<Json>,
        /// Service accounts.
        #[serde(default)]
        pub service_accounts: Option<Json>,
        /// Shielded VM settings.
        #[serde(default)]
        pub shielded_instance_config: Option<Json>,
        /// Confidential VM settings.
        #[serde(default)]
        pub confidential_instance_config: Option<Json>,
        /// `RUNNING` or `TERMINATED`.
        #[serde(default, deserialize_with = "stringish")]
        pub status: Option<String>,
        /// Network tags: `{items: [...]}`.
        #[serde(default)]
        pub tags: Option<Json>,
        /// The zone.
        #[serde(default, deserialize_with = "stringish")]
        pub zone: Option<String>,
    }
}

/// The module.
#[derive(Default)]
pub struct GcpComputeInstance;

/// An argument of the module's declared shape (`api`: its field's name in the API).
fn arg(v: &Option<Json>, api: &str) -> Result<Json, String> {
    let f = INSTANCE.iter().find(|f| f.api == api).expect("a field of the instance");
    spec_arg(MODULE, INSTANCE, f.arg, v)
}

fn params(a: &Args, env: &[(String, String)]) -> Result<Map<String, Json>, String> {
    let mut p = Map::new();
    p.insert("state".into(), Json::String(state(a).into()));
    p.insert("can_ip_forward".into(), arg(&a.can_ip_forward, "canIpForward")?);
    p.insert("deletion_protection".into(), arg(&a.deletion_protection, "deletionProtection")?);
    let discard = typed(&a.discard_local_ssd.clone().unwrap_or(Json::Null), Ty::Bool, "discard_local_ssd")?;
    p.insert("discard_local_ssd".into(), if discard.is_null() { Json::Bool(true) } else { discard });
    p.insert("disks".into(), arg(&a.disks, "disks")?);
    p.insert("guest_accelerators".into(), arg(&a.guest_accelerators, "guestAccelerators")?);
    p.insert("hostname".into(), text(&a.hostname));
    p.insert("labels".into(), arg(&a.labels, "labels")?);
    p.insert("metadata".into(), arg(&a.metadata, "metadata")?);
    p.insert("machine_type".into(), text(&a.machine_type));
    p.insert("min_cpu_platform".into(), text(&a.min_cpu_platform));
    p.insert("name".into(), text(&a.name));
    let nics = arg(&a.network_interfaces, "networkInterfaces")?;
    for nic in nics.as_array().into_iter().flatten() {
        if let Some(t) = nic.get("nic_type").and_then(Json::as_str) {
            if !matches!(t, "VIRTIO_NET" | "GVNIC") {
                return Err(format!(
                    "value of nic_type must be one of: VIRTIO_NET, GVNIC, got: {t} found in network_interfaces"
                ));
            }
        }
    }
    p.insert("network_interfaces".into(), nics);
    p.insert("scheduling".into(), arg(&a.scheduling, "scheduling")?);
    p.insert("service_accounts".into(), arg(&a.service_accounts, "serviceAccounts")?);
    p.insert("shielded_instance_config".into(), arg(&a.shielded_instance_config, "shieldedInstanceConfig")?);
    p.insert(
        "confidential_instance_config".into(),
        arg(&a.confidential_instance_config, "confidentialInstanceConfig")?,
    );
    p.insert("status".into(), text(&a.status));
    p.insert("tags".into(), arg(&a.tags, "tags")?);
    p.insert("zone".into(), text(&a.zone));
    p.extend(a.google_params(env));
    Ok(p)
}

google_cloud_module!(GcpComputeInstance, "gcp_compute_instance", required: [zone]);

#[cfg(test)]
mod tests {
    use super::*;
    use prov_core::module::Module;
    use serde_json::json;

    fn check(v: Json) -> Result<(), String> {
        GcpComputeInstance::check_args(&serde_json::from_value(v).expect("arguments parse"))
    }

    #[test]
    fn nested_options_are_read_as_ansible_reads_them() {
        let a: Args = serde_json::from_value(json!({
            "zone": "z", "ip_forward": "yes",
            "disks": [{"boot": "true", "initialize_params": {"image": "debian", "disk_size_gb": "10"}}],
        }))
        .expect("arguments parse");
        let p = params(&a, &[]).expect("valid");
        assert_eq!(p["can_ip_forward"], json!(true));
        assert_eq!(p["disks"][0]["boot"], json!(true));
        assert_eq!(p["disks"][0]["initialize_params"]["source_image"], json!("debian"));
        assert_eq!(p["disks"][0]["initialize_params"]["disk_size_gb"], json!(10));
        assert_eq!(p["disks"][0]["device_name"], Json::Null);
        assert_eq!(p["discard_local_ssd"], json!(true));
        let e = check(json!({"zone": "z", "disks": [{"boot": true, "size": 10}]})).expect_err("refused");
        assert!(e.contains("Unsupported parameters for (google.cloud.gcp_compute_instance) module: disks.size"), "{e}");
        let e = check(json!({"zone": "z", "network_interfaces": [{"nic_type": "E1000"}]})).expect_err("refused");
        assert!(e.contains("value of nic_type must be one of"), "{e}");
        assert_eq!(check(json!({"name": "x"})).expect_err("refused"), "missing required arguments: zone");
        let e = check(json!({"zone": "z", "network_interfaces": [{"access_configs": [{"name": "nat"}]}]}))
            .expect_err("refused");
        assert_eq!(e, "missing required arguments: type found in network_interfaces -> access_configs");
    }
}
