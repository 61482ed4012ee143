//! The `aws` provider (EC2 through aws-sdk-ec2). Being built.

use crate::{Provider, ProviderError, ProviderSettings};
use std::sync::Arc;

/// Connects to EC2 with `settings`.
pub async fn connect(_settings: &ProviderSettings) -> Result<Arc<dyn Provider>, ProviderError> {
    Err(ProviderError::Unavailable { provider: "aws", message: "the aws provider is not built yet".into() })
}
