//! `amazon.aws.ec2_vol`: the module's arguments once read, and its run (in
//! [`crate::aws::ec2_vol`] when prov is built with the aws provider).

use crate::ec2_instance::{AwsAccess, Report};
use crate::ProviderError;

/// The arguments of `ec2_vol` that prov supports, as the module reads them.
#[derive(Debug, Clone, Default)]
pub struct Params {
    /// How to reach EC2.
    pub access: AwsAccess,
    /// `instance` (`None` or empty: detach).
    pub instance: Option<String>,
    /// `id`.
    pub id: Option<String>,
    /// `name` (the `Name` tag).
    pub name: Option<String>,
    /// `volume_size`, GiB.
    pub volume_size: Option<i64>,
    /// `volume_type` (default `standard`).
    pub volume_type: String,
    /// `iops`.
    pub iops: Option<i64>,
    /// `encrypted`.
    pub encrypted: bool,
    /// `kms_key_id`.
    pub kms_key_id: Option<String>,
    /// `device_name`.
    pub device_name: Option<String>,
    /// `delete_on_termination`.
    pub delete_on_termination: bool,
    /// `zone`.
    pub zone: Option<String>,
    /// `snapshot`.
    pub snapshot: Option<String>,
    /// `present` or `absent`.
    pub state: String,
    /// `tags`, in their order, values as text.
    pub tags: Option<Vec<(String, String)>>,
    /// `modify_volume`.
    pub modify_volume: bool,
    /// `throughput`.
    pub throughput: Option<i64>,
    /// `purge_tags`.
    pub purge_tags: bool,
    /// `multi_attach`.
    pub multi_attach: Option<bool>,
}

/// Runs the module (`check`: as in check mode, reading only).
pub async fn run(p: &Params, check: bool) -> Result<Report, ProviderError> {
    #[cfg(feature = "aws")]
    {
        crate::aws::ec2_vol::run(p, check).await
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
