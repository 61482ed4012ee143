//! `amazon.aws.ec2_eip`: the module's arguments once read, and its run (in
//! [`crate::aws::ec2_eip`] when prov is built with the aws provider).

use crate::ec2_instance::{AwsAccess, Report};
use crate::ProviderError;

/// The arguments of `ec2_eip` that prov supports, as the module reads them.
#[derive(Debug, Clone, Default)]
pub struct Params {
    /// How to reach EC2.
    pub access: AwsAccess,
    /// `device_id`: an instance (`i-...`) or a network interface.
    pub device_id: Option<String>,
    /// `public_ip`.
    pub public_ip: Option<String>,
    /// `present` or `absent`.
    pub state: String,
    /// `in_vpc`.
    pub in_vpc: bool,
    /// `reuse_existing_ip_allowed`.
    pub reuse_existing_ip_allowed: bool,
    /// `release_on_disassociation`.
    pub release_on_disassociation: bool,
    /// `allow_reassociation`.
    pub allow_reassociation: bool,
    /// `private_ip_address`.
    pub private_ip_address: Option<String>,
    /// `tags`, in their order, values as text.
    pub tags: Option<Vec<(String, String)>>,
    /// `purge_tags`.
    pub purge_tags: bool,
    /// `tag_name`.
    pub tag_name: Option<String>,
    /// `tag_value`.
    pub tag_value: Option<String>,
    /// `public_ipv4_pool`.
    pub public_ipv4_pool: Option<String>,
}

/// Runs the module (`check`: as in check mode, reading only).
pub async fn run(p: &Params, check: bool) -> Result<Report, ProviderError> {
    #[cfg(feature = "aws")]
    {
        crate::aws::ec2_eip::run(p, check).await
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
