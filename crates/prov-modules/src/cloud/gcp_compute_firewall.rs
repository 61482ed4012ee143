//! A firewall rule of a Compute Engine network (google.cloud.gcp_compute_firewall): made
//! (`allowed` or `denied` protocols and ports, `source_ranges`, `source_tags`,
//! `target_tags`, `direction`, `priority`, ... on `network`, default
//! `global/networks/default`), patched when it differs from the arguments, or deleted with
//! `state: absent`.
//!
//! The result is the rule as the Compute API describes it, as the module returns it. As the
//! module compares only the fields the rule has, a field added to the arguments that the
//! rule lacks is no difference. prov makes the module's REST calls from its own process, for
//! a task on the controller, with the module's authentication arguments or their `GCP_*`
//! environment variables. The module does not support check mode: under `--check` the task
//! is skipped, as ansible-core skips it.
//! `prov plan` still lists what the task would change, from the module's own reads.
//!
//! ```yaml
//! - google.cloud.gcp_compute_firewall:
//!     name: allow-swarm
//!     allowed:
//!       - ip_protocol: tcp
//!         ports: ["2377", "7946"]
//!       - ip_protocol: udp
//!         ports: ["7946", "4789"]
//!     source_tags: [swarm]
//!     target_tags: [swarm]
//!     project: my-project
//!     auth_kind: application
//! ```

use super::google_cloud::{spec_arg, text};
use crate::util::stringish;
use prov_providers::google_cloud::FIREWALL;
use serde::Deserialize;
use serde_json::{json, Map, Value as Json};

/// The module's name in messages.
const MODULE: &str = "google.cloud.gcp_compute_firewall";

google_cloud_args! {
    /// Arguments of `gcp_compute_firewall`.
    #[derive(Debug, Default, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Args {
        /// `present` (default) or `absent`.
        #[serde(default, deserialize_with = "stringish")]
        pub state: Option<String>,
        /// Protocols and ports let through.
        #[serde(default)]
        pub allowed: Option<Json>,
        /// Protocols and ports refused.
        #[serde(default)]
        pub denied: Option<Json>,
        /// A description.
        #[serde(default, deserialize_with = "stringish")]
        pub description: Option<String>,
        /// Destination ranges of an EGRESS rule.
        #[serde(default)]
        pub destination_ranges: Option<Json>,
        /// `INGRESS` or `EGRESS`.
        #[serde(default, deserialize_with = "stringish")]
        pub direction: Option<String>,
        /// Disabled.
        #[serde(default)]
        pub disabled: Option<Json>,
        /// Logging.
        #[serde(default)]
        pub log_config: Option<Json>,
        /// The rule's name.
        #[serde(default, deserialize_with = "stringish")]
        pub name: Option<String>,
        /// The network: `{selfLink: ...}` (default `global/networks/default`).
        #[serde(default)]
        pub network: Option<Json>,
        /// Priority (default 1000).
        #[serde(default)]
        pub priority: Option<Json>,
        /// Source ranges.
        #[serde(default)]
        pub source_ranges: Option<Json>,
        /// Source service accounts.
        #[serde(default)]
        pub source_service_accounts: Option<Json>,
        /// Source network tags.
        #[serde(default)]
        pub source_tags: Option<Json>,
        /// Target service accounts.
        #[serde(default)]
        pub target_service_accounts: Option<Json>,
        /// Target network tags.
        #[serde(default)]
        pub target_tags: Option<Json>,
    }
}

/// The module.
#[derive(Default)]
pub struct GcpComputeFirewall;

fn arg(v: &Option<Json>, name: &str) -> Result<Json, String> {
    spec_arg(MODULE, FIREWALL, name, v)
}

fn params(a: &Args, env: &[(String, String)]) -> Result<Map<String, Json>, String> {
    let mut p = Map::new();
    p.insert("state".into(), Json::String(state(a).into()));
    p.insert("allowed".into(), arg(&a.allowed, "allowed")?);
    p.insert("denied".into(), arg(&a.denied, "denied")?);
    p.insert("description".into(), text(&a.description));
    p.insert("destination_ranges".into(), arg(&a.destination_ranges, "destination_ranges")?);
    p.insert("direction".into(), text(&a.direction));
    p.insert("disabled".into(), arg(&a.disabled, "disabled")?);
    p.insert("log_config".into(), arg(&a.log_config, "log_config")?);
    p.insert("name".into(), text(&a.name));
    let network = arg(&a.network, "network")?;
    p.insert(
        "network".into(),
        if network.is_null() { json!({"selfLink": "global/networks/default"}) } else { network },
    );
    let priority = arg(&a.priority, "priority")?;
    p.insert("priority".into(), if priority.is_null() { json!(1000) } else { priority });
    for k in ["source_ranges", "source_service_accounts", "source_tags", "target_service_accounts", "target_tags"] {
        let v = match k {
            "source_ranges" => &a.source_ranges,
            "source_service_accounts" => &a.source_service_accounts,
            "source_tags" => &a.source_tags,
            "target_service_accounts" => &a.target_service_accounts,
            _ => &a.target_tags,
        };
        p.insert(k.into(), arg(v, k)?);
    }
    p.extend(a.google_params(env));
    Ok(p)
}

google_cloud_module!(GcpComputeFirewall, "gcp_compute_firewall", required: [name]);

#[cfg(test)]
mod tests {
    use super::*;
    use prov_core::module::Module;

    fn check(v: Json) -> Result<(), String> {
        GcpComputeFirewall::check_args(&serde_json::from_value(v).expect("arguments parse"))
    }

    #[test]
    fn rules_are_read_as_ansible_reads_them() {
        let a: Args =
            serde_json::from_value(json!({"name": "fw", "allowed": [{"ip_protocol": "tcp", "ports": [22, "80"]}]}))
                .expect("arguments parse");
        let p = params(&a, &[]).expect("valid");
        assert_eq!(p["allowed"], json!([{"ip_protocol": "tcp", "ports": ["22", "80"]}]));
        assert_eq!(p["network"], json!({"selfLink": "global/networks/default"}));
        assert_eq!(p["priority"], json!(1000));
        assert_eq!(
            check(json!({"name": "fw", "allowed": [{"ports": ["22"]}]})).expect_err("refused"),
            "missing required arguments: ip_protocol found in allowed"
        );
    }
}
