//! `amazon.aws.ec2_security_group`: the module's arguments once read, and its run (in
//! [`crate::aws::ec2_security_group`] when prov is built with the aws provider).

use crate::ec2_instance::{AwsAccess, Report};
use crate::ProviderError;
use serde_json::Value as Json;

/// The arguments of `ec2_security_group`, as the module reads them.
#[derive(Debug, Clone, Default)]
pub struct Params {
    /// How to reach EC2.
    pub access: AwsAccess,
    /// `name`.
    pub name: Option<String>,
    /// `group_id`.
    pub group_id: Option<String>,
    /// `description`.
    pub description: Option<String>,
    /// `vpc_id`.
    pub vpc_id: Option<String>,
    /// `rules`: each a mapping of the rule's options that are set (`proto` defaults to
    /// `tcp`; `ports` are text; `cidr_ip`, `cidr_ipv6`, `ip_prefix`, `group_id`,
    /// `group_name` lists; `from_port`, `to_port`, `icmp_type`, `icmp_code` numbers).
    pub rules: Option<Vec<Json>>,
    /// `rules_egress`, as `rules`.
    pub rules_egress: Option<Vec<Json>>,
    /// `present` or `absent`.
    pub state: String,
    /// `purge_rules`.
    pub purge_rules: bool,
    /// `purge_rules_egress`.
    pub purge_rules_egress: bool,
    /// `tags`, in their order, values as text.
    pub tags: Option<Vec<(String, String)>>,
    /// `purge_tags`.
    pub purge_tags: bool,
    /// Whether to return `diff` (`--diff`).
    pub diff: bool,
}

/// Runs the module (`check`: as in check mode, reading only).
pub async fn run(p: &Params, check: bool) -> Result<Report, ProviderError> {
    #[cfg(feature = "aws")]
    {
        crate::aws::ec2_security_group::run(p, check).await
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
