//! The `gcp` provider (Compute Engine through google-cloud-compute-v1). Being built.

use crate::{Provider, ProviderError, ProviderSettings};
use std::sync::Arc;

/// Connects to Compute Engine with `settings`.
pub async fn connect(_settings: &ProviderSettings) -> Result<Arc<dyn Provider>, ProviderError> {
    Err(ProviderError::Unavailable { provider: "gcp", message: "the gcp provider is not built yet".into() })
}
