//! Calls to Compute Engine: the clients, credentials, retries with backoff on throttling,
//! waiting for long-running operations, and errors in Google's words.

use crate::ProviderError;
use google_cloud_compute_v1::client::{Addresses, Disks, Instances, RegionOperations, ZoneOperations};
use google_cloud_compute_v1::model::{operation::Status as OpStatus, Operation};
use google_cloud_gax::error::rpc::Code;
use google_cloud_gax::error::Error as GaxError;
use google_cloud_gax::retry_policy::NeverRetry;
use std::future::Future;
use std::time::{Duration, Instant};

/// The provider's name in messages.
pub const PROVIDER: &str = "gcp";

/// The environment variable that overrides the API endpoint (tests: the Compute fake).
pub const ENDPOINT_ENV: &str = "PROV_GCP_ENDPOINT";

/// How throttled calls are retried and operations awaited.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// First delay after a throttled call (doubles each time, with jitter).
    pub retry_initial: Duration,
    /// Longest delay between retries.
    pub retry_max: Duration,
    /// Attempts of one call before giving up.
    pub retry_attempts: u32,
    /// How long an operation may take.
    pub operation_timeout: Duration,
    /// How long to wait for a new instance's guest agent to publish its host keys.
    pub host_key_wait: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            retry_initial: Duration::from_millis(500),
            retry_max: Duration::from_secs(30),
            retry_attempts: 8,
            operation_timeout: Duration::from_secs(600),
            host_key_wait: Duration::from_secs(120),
        }
    }
}

/// The clients prov uses.
#[derive(Debug, Clone)]
pub struct Clients {
    /// instances.*
    pub instances: Instances,
    /// zoneOperations.*
    pub zone_ops: ZoneOperations,
    /// addresses.*
    pub addresses: Addresses,
    /// regionOperations.*
    pub region_ops: RegionOperations,
    /// disks.*
    pub disks: Disks,
}

fn unavailable(message: String) -> ProviderError {
    ProviderError::Unavailable { provider: PROVIDER, message }
}

/// Builds the clients. Credentials come the standard way (GOOGLE_APPLICATION_CREDENTIALS,
/// then gcloud's application-default credentials, then the metadata server); an `http://`
/// endpoint (a local fake) gets anonymous credentials, so no token goes over plain HTTP.
pub async fn clients(endpoint: Option<&str>) -> Result<Clients, ProviderError> {
    let creds = match endpoint {
        Some(ep) if ep.starts_with("http://") => google_cloud_auth::credentials::anonymous::Builder::new().build(),
        _ => google_cloud_auth::credentials::Builder::default().build().map_err(|e| {
            unavailable(format!(
                "no Google Cloud credentials ({e}): set GOOGLE_APPLICATION_CREDENTIALS to a service account key \
                 file, or run `gcloud auth application-default login`"
            ))
        })?,
    };
    macro_rules! client {
        ($t:ty) => {{
            let mut b = <$t>::builder().with_credentials(creds.clone()).with_retry_policy(NeverRetry);
            if let Some(ep) = endpoint {
                b = b.with_endpoint(ep);
            }
            b.build().await.map_err(|e| unavailable(format!("cannot set up the Compute Engine client: {e}")))?
        }};
    }
    Ok(Clients {
        instances: client!(Instances),
        zone_ops: client!(ZoneOperations),
        addresses: client!(Addresses),
        region_ops: client!(RegionOperations),
        disks: client!(Disks),
    })
}

/// Whether an error is throttling or a transient failure worth retrying: HTTP 429 or 503,
/// `rateLimitExceeded` / `userRateLimitExceeded` / `backendError`, or no connection.
pub fn is_retryable(e: &GaxError) -> bool {
    if matches!(e.http_status_code(), Some(429 | 503)) || e.is_io() || e.is_connect() {
        return true;
    }
    if e.status().is_some_and(|s| s.code == Code::Unavailable) {
        return true;
    }
    e.http_payload().is_some_and(|p| {
        let text = String::from_utf8_lossy(p);
        ["rateLimitExceeded", "userRateLimitExceeded", "backendError"].iter().any(|r| text.contains(r))
    })
}

/// Whether an error is HTTP 404.
pub fn is_not_found(e: &GaxError) -> bool {
    e.http_status_code() == Some(404) || e.status().is_some_and(|s| s.code == Code::NotFound)
}

/// Whether an error is HTTP 409 (the resource exists).
pub fn is_conflict(e: &GaxError) -> bool {
    e.http_status_code() == Some(409) || e.status().is_some_and(|s| s.code == Code::AlreadyExists)
}

/// A Google error as a [`ProviderError`], with Google's message; `what` says which call.
pub fn api_error(what: &str, e: GaxError) -> ProviderError {
    if e.is_authentication() {
        return unavailable(format!(
            "{what}: cannot authenticate ({e}): set GOOGLE_APPLICATION_CREDENTIALS or run \
             `gcloud auth application-default login`"
        ));
    }
    let message = match e.status() {
        Some(s) if !s.message.is_empty() => {
            let http = e.http_status_code().map(|c| format!("HTTP {c}, ")).unwrap_or_default();
            format!("{what}: {} ({http}{})", s.message, s.code.name())
        }
        _ => format!("{what}: {e}"),
    };
    if e.is_io() || e.is_connect() {
        return unavailable(message);
    }
    ProviderError::Api { provider: PROVIDER, message }
}

/// A random request id (UUID v4 text): Compute Engine runs a mutation once per id, so a
/// retried insert after a lost answer does not make a second instance.
pub fn request_id() -> String {
    let mut b = [0u8; 16];
    if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
        let _ = std::io::Read::read_exact(&mut f, &mut b);
    } else {
        let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos();
        b = t.to_le_bytes();
    }
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
}

/// A delay with jitter in [d/2, d].
fn jitter(d: Duration) -> Duration {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().subsec_nanos();
    d / 2 + d.mul_f64(f64::from(nanos % 1000) / 2000.0)
}

/// Runs `call` until it succeeds, fails for a reason other than throttling, or has used
/// its attempts; throttled attempts wait with exponential backoff.
pub async fn retry<T, F, Fut>(timing: &Timing, what: &str, call: F) -> Result<T, ProviderError>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<T, GaxError>>,
{
    let mut delay = timing.retry_initial;
    let mut attempt = 1;
    loop {
        match call().await {
            Ok(v) => return Ok(v),
            Err(e) if is_retryable(&e) && attempt < timing.retry_attempts => {
                tokio::time::sleep(jitter(delay)).await;
                delay = (delay * 2).min(timing.retry_max);
                attempt += 1;
            }
            Err(e) if is_retryable(&e) => {
                return Err(api_error(&format!("{what} (still throttled after {attempt} attempts)"), e))
            }
            Err(e) => return Err(api_error(what, e)),
        }
    }
}

/// Like [`retry`], but a 404 is `Ok(None)`.
pub async fn retry_found<T, F, Fut>(timing: &Timing, what: &str, call: F) -> Result<Option<T>, ProviderError>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<T, GaxError>>,
{
    let wrapped = || {
        let f = call();
        async move {
            match f.await {
                Ok(v) => Ok(Some(v)),
                Err(e) if is_not_found(&e) => Ok(None),
                Err(e) => Err(e),
            }
        }
    };
    retry(timing, what, wrapped).await
}

/// Where an operation lives.
#[derive(Debug, Clone)]
pub enum Scope {
    /// A zonal operation.
    Zone(String),
    /// A regional operation.
    Region(String),
}

/// The error of a finished operation, in Google's words (`QUOTA_EXCEEDED: Quota 'CPUS'
/// exceeded. ...`).
pub fn operation_error(op: &Operation) -> Option<String> {
    let errors: Vec<String> = op
        .error
        .as_ref()
        .map(|e| {
            e.errors
                .iter()
                .map(|x| {
                    let code = x.code.as_deref().unwrap_or("ERROR");
                    format!("{code}: {}", x.message.as_deref().unwrap_or("(no message)"))
                })
                .collect()
        })
        .unwrap_or_default();
    if !errors.is_empty() {
        return Some(errors.join("; "));
    }
    op.http_error_status_code
        .filter(|c| *c >= 400)
        .map(|c| format!("HTTP {c} {}", op.http_error_message.as_deref().unwrap_or_default()))
}

/// Waits until `op` is DONE (through `operations.wait`, which returns when it is done or
/// after a while; looped) and fails with the operation's error.
pub async fn wait(
    c: &Clients,
    timing: &Timing,
    project: &str,
    scope: &Scope,
    what: &str,
    mut op: Operation,
) -> Result<Operation, ProviderError> {
    let name = op.name.clone().unwrap_or_default();
    let deadline = Instant::now() + timing.operation_timeout;
    let mut pause = Duration::from_millis(50);
    while op.status != Some(OpStatus::Done) {
        if Instant::now() >= deadline {
            return Err(ProviderError::Api {
                provider: PROVIDER,
                message: format!(
                    "{what}: operation {name} did not finish within {} s (last status {:?})",
                    timing.operation_timeout.as_secs(),
                    op.status
                ),
            });
        }
        let waiting = format!("{what}: waiting for operation {name}");
        op = match scope {
            Scope::Zone(z) => {
                retry(timing, &waiting, || {
                    c.zone_ops.wait().set_project(project).set_zone(z).set_operation(&name).send()
                })
                .await?
            }
            Scope::Region(r) => {
                retry(timing, &waiting, || {
                    c.region_ops.wait().set_project(project).set_region(r).set_operation(&name).send()
                })
                .await?
            }
        };
        if op.status != Some(OpStatus::Done) {
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(2));
        }
    }
    match operation_error(&op) {
        Some(e) => Err(ProviderError::Api { provider: PROVIDER, message: format!("{what}: {e}") }),
        None => Ok(op),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_uuids() {
        let a = request_id();
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "4");
        assert_ne!(a, request_id());
    }
}
