//! google.cloud's Compute Engine modules (`gcp_compute_address`, `gcp_compute_disk`): what a
//! task asks of one, and its run (in [`crate::gcp::google_cloud`] when prov is built with the
//! gcp provider).
//!
//! These modules are generated code (Google's Magic Modules) that send the Compute REST API
//! the arguments almost as given and return the resource as the API describes it; prov
//! makes the same requests from its own process (the REST API through reqwest, credentials
//! from google-cloud-auth as `auth_kind` says) and returns the API's JSON as it comes.

use crate::ec2_instance::Report;
use crate::ProviderError;
use serde_json::{Map, Value as Json};

/// What a task asks of a module.
#[derive(Debug, Clone)]
pub struct Call {
    /// The module: `gcp_compute_address` or `gcp_compute_disk`.
    pub module: &'static str,
    /// Its parameters as the module's `module.params` holds them once Ansible read them:
    /// every argument the module declares, null when not given, defaults and environment
    /// fallbacks applied, values of the declared types.
    pub params: Map<String, Json>,
    /// Where the Compute API is instead of `https://compute.googleapis.com` (tests: the
    /// fake). An `http://` endpoint gets no credentials.
    pub endpoint: Option<String>,
}

impl Call {
    /// A parameter (null when the module does not declare it).
    pub fn param(&self, name: &str) -> &Json {
        self.params.get(name).unwrap_or(&Json::Null)
    }
}

/// What running the module would do, read without changing anything.
#[derive(Debug)]
pub enum Planned {
    /// Nothing: the module's result as it would return it.
    Nothing(Report),
    /// The resource would be made.
    Create,
    /// The resource differs from the arguments and would be updated.
    Update,
    /// The resource would be deleted.
    Delete,
}

#[cfg(not(feature = "gcp"))]
fn unavailable() -> ProviderError {
    ProviderError::Unavailable {
        provider: "gcp",
        message: "this prov was built without the gcp provider: rebuild it with `--features gcp`".into(),
    }
}

/// Runs the module.
pub async fn run(call: &Call) -> Result<Report, ProviderError> {
    #[cfg(feature = "gcp")]
    {
        Ok(crate::gcp::google_cloud::run(call).await)
    }
    #[cfg(not(feature = "gcp"))]
    {
        let _ = call;
        Err(unavailable())
    }
}

/// What the module would do (its reads only).
pub async fn plan(call: &Call) -> Result<Planned, ProviderError> {
    #[cfg(feature = "gcp")]
    {
        Ok(crate::gcp::google_cloud::plan(call).await)
    }
    #[cfg(not(feature = "gcp"))]
    {
        let _ = call;
        Err(unavailable())
    }
}
