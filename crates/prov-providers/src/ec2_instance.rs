//! `amazon.aws.ec2_instance`: the module's arguments once read, and its run (in
//! [`crate::aws::ec2_instance`] when prov is built with the aws provider).
//!
//! prov makes the module's EC2 calls from its own process, in the order amazon.aws makes them,
//! and returns what the module returns (`instances` as boto3 describes them in snake case,
//! `instance_ids`, `changes`, `spec`, the `*_success`/`*_failed` lists, `msg`).

use crate::ProviderError;
use serde_json::{Map, Value as Json};

/// The module's states.
pub const STATES: &[&str] =
    &["present", "started", "running", "stopped", "restarted", "rebooted", "terminated", "absent"];

/// How to reach EC2 (the common arguments of amazon.aws modules, after their environment
/// fallbacks).
#[derive(Debug, Clone, Default)]
pub struct AwsAccess {
    /// `region` (else AWS_REGION, AWS_DEFAULT_REGION, then the SDK's profile).
    pub region: Option<String>,
    /// `endpoint_url` (else AWS_URL, then the SDK's AWS_ENDPOINT_URL).
    pub endpoint_url: Option<String>,
    /// `access_key` (else AWS_ACCESS_KEY_ID, AWS_ACCESS_KEY).
    pub access_key: Option<String>,
    /// `secret_key` (else AWS_SECRET_ACCESS_KEY, AWS_SECRET_KEY).
    pub secret_key: Option<String>,
    /// `session_token` (else AWS_SESSION_TOKEN).
    pub session_token: Option<String>,
    /// `profile` (else AWS_PROFILE, AWS_DEFAULT_PROFILE).
    pub profile: Option<String>,
}

/// The arguments of `ec2_instance` that prov supports, as the module reads them.
#[derive(Debug, Clone, Default)]
pub struct Params {
    /// How to reach EC2.
    pub access: AwsAccess,
    /// One of [`STATES`].
    pub state: String,
    /// `wait`.
    pub wait: bool,
    /// `wait_timeout`, seconds.
    pub wait_timeout: u64,
    /// `count`.
    pub count: Option<i64>,
    /// `exact_count`.
    pub exact_count: Option<i64>,
    /// `image_id`, or `image.id`.
    pub image_id: Option<String>,
    /// `image.ramdisk`.
    pub ramdisk: Option<String>,
    /// `image.kernel`.
    pub kernel: Option<String>,
    /// `instance_type`.
    pub instance_type: Option<String>,
    /// `user_data`.
    pub user_data: Option<String>,
    /// `vpc_subnet_id`.
    pub vpc_subnet_id: Option<String>,
    /// `availability_zone` (picks the default subnet of that zone).
    pub availability_zone: Option<String>,
    /// `security_groups`, or `security_group` as one item.
    pub security_groups: Vec<String>,
    /// `name` (the `Name` tag).
    pub name: Option<String>,
    /// `tags`, in their order, values as text.
    pub tags: Option<Vec<(String, String)>>,
    /// `purge_tags`.
    pub purge_tags: bool,
    /// `filters` (names with `_` as given; values already lists of text).
    pub filters: Option<Vec<(String, Vec<String>)>>,
    /// `key_name`.
    pub key_name: Option<String>,
    /// `instance_ids`.
    pub instance_ids: Vec<String>,
    /// `termination_protection`.
    pub termination_protection: Option<bool>,
    /// `ebs_optimized`.
    pub ebs_optimized: Option<bool>,
    /// `instance_initiated_shutdown_behavior`.
    pub shutdown_behavior: Option<String>,
    /// `detailed_monitoring`.
    pub detailed_monitoring: Option<bool>,
    /// `volumes`: block device mappings of new instances, as given (amazon.aws's
    /// snake-case keys).
    pub volumes: Vec<Json>,
    /// `network_interfaces`, or the deprecated `network` as one interface.
    pub network_interfaces: Vec<Interface>,
    /// Whether the interface came from `network` (the module checks only `network_interfaces`).
    pub network_legacy: bool,
    /// `source_dest_check`, else `network.source_dest_check`.
    pub source_dest_check: Option<bool>,
}

/// One item of `network_interfaces` (or `network`), as the module reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct Interface {
    /// `assign_public_ip`.
    pub assign_public_ip: Option<bool>,
    /// `private_ip_address`.
    pub private_ip_address: Option<String>,
    /// `private_ip_addresses`: each address and whether it is the primary one.
    pub private_ip_addresses: Vec<(String, Option<bool>)>,
    /// `ipv6_addresses`.
    pub ipv6_addresses: Vec<String>,
    /// `description`.
    pub description: Option<String>,
    /// `subnet_id`.
    pub subnet_id: Option<String>,
    /// `delete_on_termination` (default true).
    pub delete_on_termination: bool,
    /// `device_index` (default 0).
    pub device_index: i64,
    /// `groups`: security group names or ids.
    pub groups: Vec<String>,
}

impl Default for Interface {
    fn default() -> Self {
        Interface {
            assign_public_ip: None,
            private_ip_address: None,
            private_ip_addresses: Vec::new(),
            ipv6_addresses: Vec::new(),
            description: None,
            subnet_id: None,
            delete_on_termination: true,
            device_index: 0,
            groups: Vec::new(),
        }
    }
}

/// What the module returned.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// The result's fields (`changed`, `msg`, `instances`, ...), in the module's words.
    pub fields: Map<String, Json>,
    /// Whether the module failed (then `msg` says why).
    pub failed: bool,
    /// The module's warnings.
    pub warnings: Vec<String>,
}

impl Report {
    /// `changed` of the result.
    pub fn changed(&self) -> bool {
        self.fields.get("changed").and_then(Json::as_bool).unwrap_or(false)
    }
}

/// Runs the module (`check`: as in check mode, reading only).
pub async fn run(p: &Params, check: bool) -> Result<Report, ProviderError> {
    #[cfg(feature = "aws")]
    {
        crate::aws::ec2_instance::run(p, check).await
    }
    #[cfg(not(feature = "aws"))]
    {
        let _ = (p, check);
        Err(ProviderError::Unavailable {
            provider: "aws",
            message: "this prov was built without the aws provider: rebuild it with `--features aws`".into(),
        })
    }
}
