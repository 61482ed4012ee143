//! A zonal persistent disk of Compute Engine (google.cloud.gcp_compute_disk): made (blank,
//! from `source_image` or a `source_snapshot`; `size_gb`, `type`, `labels`, ...), or deleted
//! with `state: absent`. An existing disk whose fields differ from the arguments gets its
//! labels set and its size changed, as the module does: both requests are sent without
//! waiting for their outcome, and a disk whose `type` is given by name is always
//! "different" (the API answers with a link on www.googleapis.com, the module compares it
//! with one on compute.googleapis.com), so such a task reports changed on every run under
//! Ansible and under prov alike.
//!
//! The result is the disk as the Compute API describes it. prov makes the module's REST calls
//! from its own process, for a task on the controller, with the module's authentication
//! arguments or their `GCP_*` environment variables. The module does not support check mode:
//! under `--check` the task is skipped, as ansible-core skips it.
//! `prov plan` still lists what the task would change, from the module's own reads.
//!
//! ```yaml
//! - google.cloud.gcp_compute_disk:
//!     name: data-1
//!     zone: europe-west1-b
//!     size_gb: 50
//!     labels: { role: db }
//!     project: my-project
//!     auth_kind: application
//! ```

use super::google_cloud::{spec_arg, text};
use crate::util::stringish;
use prov_providers::google_cloud::DISK;
use serde::Deserialize;
use serde_json::{Map, Value as Json};

google_cloud_args! {
    /// Arguments of `gcp_compute_disk`.
    #[derive(Debug, Default, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Args {
        /// `present` (default) or `absent`.
        #[serde(default, deserialize_with = "stringish")]
        pub state: Option<String>,
        /// A description.
        #[serde(default, deserialize_with = "stringish")]
        pub description: Option<String>,
        /// Labels.
        #[serde(default)]
        pub labels: Option<Json>,
        /// License links.
        #[serde(default)]
        pub licenses: Option<Json>,
        /// The disk's name.
        #[serde(default, deserialize_with = "stringish")]
        pub name: Option<String>,
        /// Size in GB.
        #[serde(default)]
        pub size_gb: Option<Json>,
        /// Physical block size.
        #[serde(default)]
        pub physical_block_size_bytes: Option<Json>,
        /// Disk type (`pd-standard`, `pd-ssd`, ... or its link).
        #[serde(default, deserialize_with = "stringish")]
        pub r#type: Option<String>,
        /// The image to make the disk from.
        #[serde(default, deserialize_with = "stringish")]
        pub source_image: Option<String>,
        /// IOPS of an extreme disk.
        #[serde(default)]
        pub provisioned_iops: Option<Json>,
        /// The zone.
        #[serde(default, deserialize_with = "stringish")]
        pub zone: Option<String>,
        /// The source image's key.
        #[serde(default)]
        pub source_image_encryption_key: Option<Json>,
        /// The disk's key.
        #[serde(default)]
        pub disk_encryption_key: Option<Json>,
        /// The snapshot to make the disk from: `{selfLink: ...}`.
        #[serde(default)]
        pub source_snapshot: Option<Json>,
        /// The source snapshot's key.
        #[serde(default)]
        pub source_snapshot_encryption_key: Option<Json>,
    }
}

/// The module.
#[derive(Default)]
pub struct GcpComputeDisk;

fn params(a: &Args, env: &[(String, String)]) -> Result<Map<String, Json>, String> {
    let arg = |name: &str, v: &Option<Json>| spec_arg("google.cloud.gcp_compute_disk", DISK, name, v);
    let mut p = Map::new();
    p.insert("state".into(), Json::String(state(a).into()));
    p.insert("description".into(), text(&a.description));
    p.insert("labels".into(), arg("labels", &a.labels)?);
    p.insert("licenses".into(), arg("licenses", &a.licenses)?);
    p.insert("name".into(), text(&a.name));
    p.insert("size_gb".into(), arg("size_gb", &a.size_gb)?);
    p.insert("physical_block_size_bytes".into(), arg("physical_block_size_bytes", &a.physical_block_size_bytes)?);
    p.insert("type".into(), text(&a.r#type));
    p.insert("source_image".into(), text(&a.source_image));
    p.insert("provisioned_iops".into(), arg("provisioned_iops", &a.provisioned_iops)?);
    p.insert("zone".into(), text(&a.zone));
    for (name, v) in [
        ("source_image_encryption_key", &a.source_image_encryption_key),
        ("disk_encryption_key", &a.disk_encryption_key),
        ("source_snapshot", &a.source_snapshot),
        ("source_snapshot_encryption_key", &a.source_snapshot_encryption_key),
    ] {
        p.insert(name.into(), arg(name, v)?);
    }
    p.extend(a.google_params(env));
    Ok(p)
}

google_cloud_module!(GcpComputeDisk, "gcp_compute_disk", required: [name, zone]);

#[cfg(test)]
mod tests {
    use super::*;
    use prov_core::module::Module;

    fn check(v: Json) -> Result<(), String> {
        GcpComputeDisk::check_args(&serde_json::from_value(v).expect("arguments parse"))
    }

    #[test]
    fn arguments_the_module_refuses_are_refused_before_connecting() {
        assert!(check(serde_json::json!({"name": "d", "zone": "z", "size_gb": "10"})).is_ok());
        assert_eq!(check(serde_json::json!({"zone": "z"})).expect_err("refused"), "missing required arguments: name");
        assert!(check(serde_json::json!({"name": "d", "zone": "z", "disk_encryption_key": {"raw": "x"}}))
            .expect_err("refused")
            .contains("disk_encryption_key.raw"));
    }
}
