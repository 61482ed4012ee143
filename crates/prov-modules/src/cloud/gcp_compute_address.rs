//! A regional address of Compute Engine (google.cloud.gcp_compute_address): reserved
//! (EXTERNAL by default, or INTERNAL in a `subnetwork`, at `address` or any), or released
//! with `state: absent`. An existing address whose fields differ from the arguments
//! (`description`, `address_type`, ...) is released and reserved again, as the module does.
//!
//! The result is the address as the Compute API describes it (`address`, `selfLink`,
//! `status`, ...), as the module returns it. prov makes the module's REST calls from its own
//! process, for a task on the controller, with the module's authentication arguments
//! (`auth_kind`, `service_account_file`, `access_token`, ... or their `GCP_*` environment
//! variables). The module does not support check mode: under `--check` the task is skipped,
//! as ansible-core skips it.
//! `prov plan` still lists what the task would change, from the module's own reads.
//!
//! ```yaml
//! - google.cloud.gcp_compute_address:
//!     name: manager-ip
//!     region: europe-west1
//!     project: my-project
//!     auth_kind: serviceaccount
//!     service_account_file: ~/key.json
//!   register: ip
//! ```

use super::google_cloud::{spec_arg, text};
use crate::util::stringish;
use prov_providers::google_cloud::ADDRESS;
use serde::Deserialize;
use serde_json::{Map, Value as Json};

google_cloud_args! {
    /// Arguments of `gcp_compute_address`.
    #[derive(Debug, Default, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Args {
        /// `present` (default) or `absent`.
        #[serde(default, deserialize_with = "stringish")]
        pub state: Option<String>,
        /// The address to reserve.
        #[serde(default, deserialize_with = "stringish")]
        pub address: Option<String>,
        /// `EXTERNAL` (default) or `INTERNAL`.
        #[serde(default, deserialize_with = "stringish")]
        pub address_type: Option<String>,
        /// A description.
        #[serde(default, deserialize_with = "stringish")]
        pub description: Option<String>,
        /// The address's name.
        #[serde(default, deserialize_with = "stringish")]
        pub name: Option<String>,
        /// What an INTERNAL address is for.
        #[serde(default, deserialize_with = "stringish")]
        pub purpose: Option<String>,
        /// `PREMIUM` or `STANDARD`.
        #[serde(default, deserialize_with = "stringish")]
        pub network_tier: Option<String>,
        /// The subnetwork of an INTERNAL address: `{selfLink: ...}` or a registered subnetwork.
        #[serde(default)]
        pub subnetwork: Option<Json>,
        /// The network of an address for VPC peering: `{selfLink: ...}`.
        #[serde(default)]
        pub network: Option<Json>,
        /// The prefix length of a range.
        #[serde(default)]
        pub prefix_length: Option<Json>,
        /// The region.
        #[serde(default, deserialize_with = "stringish")]
        pub region: Option<String>,
    }
}

/// The module.
#[derive(Default)]
pub struct GcpComputeAddress;

fn params(a: &Args, env: &[(String, String)]) -> Result<Map<String, Json>, String> {
    let mut p = Map::new();
    p.insert("state".into(), Json::String(state(a).into()));
    p.insert("address".into(), text(&a.address));
    p.insert("address_type".into(), Json::String(a.address_type.clone().unwrap_or_else(|| "EXTERNAL".into())));
    p.insert("description".into(), text(&a.description));
    p.insert("name".into(), text(&a.name));
    p.insert("purpose".into(), text(&a.purpose));
    p.insert("network_tier".into(), text(&a.network_tier));
    let arg = |name: &str, v: &Option<Json>| spec_arg("google.cloud.gcp_compute_address", ADDRESS, name, v);
    p.insert("subnetwork".into(), arg("subnetwork", &a.subnetwork)?);
    p.insert("network".into(), arg("network", &a.network)?);
    p.insert("prefix_length".into(), arg("prefix_length", &a.prefix_length)?);
    p.insert("region".into(), text(&a.region));
    p.extend(a.google_params(env));
    Ok(p)
}

google_cloud_module!(GcpComputeAddress, "gcp_compute_address", required: [name, region]);

#[cfg(test)]
mod tests {
    use super::*;
    use prov_core::module::Module;

    fn check(v: Json) -> Result<(), String> {
        GcpComputeAddress::check_args(&serde_json::from_value(v).expect("arguments parse"))
    }

    #[test]
    fn arguments_the_module_refuses_are_refused_before_connecting() {
        assert!(check(serde_json::json!({"name": "a", "region": "r", "auth_kind": "accesstoken"})).is_ok());
        assert_eq!(check(serde_json::json!({"name": "a"})).expect_err("refused"), "missing required arguments: region");
        assert!(check(serde_json::json!({"name": "a", "region": "r", "auth_kind": "token"}))
            .expect_err("refused")
            .contains("value of auth_kind must be one of"));
        assert!(check(serde_json::json!({"name": "a", "region": "r", "prefix_length": "x"}))
            .expect_err("refused")
            .contains("unable to convert to int"));
    }
}
