//! Calls to EC2: errors keep AWS's code and message, throttling is retried with backoff,
//! and state changes are awaited by polling with backoff (never assuming that a transition
//! is instant, as moto's are).

use crate::ProviderError;
use aws_sdk_ec2::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use std::future::Future;
use std::time::{Duration, Instant};

/// The provider's name.
pub const PROVIDER: &str = "aws";

/// Error codes AWS answers with when a caller is throttled.
const THROTTLING: &[&str] = &[
    "RequestLimitExceeded",
    "Throttling",
    "ThrottlingException",
    "RequestThrottled",
    "RequestThrottledException",
    "TooManyRequestsException",
    "EC2ThrottledException",
];

/// How often a throttled call is tried in all.
pub const THROTTLE_ATTEMPTS: u32 = 8;

/// An EC2 call that failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// AWS's error code (`InvalidInstanceID.NotFound`, `RequestLimitExceeded`, ...); `None`
    /// when the service gave no answer.
    pub code: Option<String>,
    /// AWS's message, or why there was no answer.
    pub message: String,
}

impl ApiError {
    /// Whether AWS throttled the call.
    pub fn is_throttling(&self) -> bool {
        self.code.as_deref().is_some_and(|c| THROTTLING.contains(&c))
    }

    /// Whether the error has this code.
    pub fn is(&self, code: &str) -> bool {
        self.code.as_deref() == Some(code)
    }

    /// Whether the code says a resource does not exist (`InvalidInstanceID.NotFound`, ...).
    pub fn is_not_found(&self) -> bool {
        self.code.as_deref().is_some_and(|c| c.ends_with(".NotFound") || c.ends_with("NotFound"))
    }

    /// The error as a [`ProviderError`], prefixed with what prov was doing.
    pub fn context(self, what: &str) -> ProviderError {
        match self.code {
            Some(code) => {
                ProviderError::Api { provider: PROVIDER, message: format!("{what}: {code}: {}", self.message) }
            }
            None => ProviderError::Unavailable { provider: PROVIDER, message: format!("{what}: {}", self.message) },
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.code {
            Some(c) => write!(f, "{c}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// Converts an SDK error: a service error keeps its code and message; no answer at all
/// (endpoint unreachable, no credentials, timeout) says what to check.
pub fn from_sdk<E, R>(e: SdkError<E, R>) -> ApiError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    if let SdkError::ServiceError(_) = &e {
        if let Some(code) = e.code() {
            return ApiError {
                code: Some(code.to_string()),
                message: e.message().unwrap_or("(no message)").to_string(),
            };
        }
    }
    let detail = DisplayErrorContext(&e).to_string();
    let hint = if detail.contains("credential") {
        "; give credentials the standard way (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, \
         ~/.aws/credentials, SSO, or an instance role)"
    } else {
        "; check the region, the endpoint (`endpoint:` or AWS_ENDPOINT_URL) and the network"
    };
    ApiError { code: None, message: format!("no answer from EC2: {detail}{hint}") }
}

/// Exponential backoff with jitter, capped.
#[derive(Debug, Clone)]
pub struct Backoff {
    next: Duration,
    max: Duration,
    seed: u64,
}

impl Backoff {
    /// Starts at `first`, doubles up to `max`.
    pub fn new(first: Duration, max: Duration) -> Backoff {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos() as u64)
            .unwrap_or(7);
        Backoff { next: first, max, seed: seed | 1 }
    }

    /// The next delay: the current step plus up to half of it at random (so concurrent
    /// callers that were throttled together do not retry together).
    pub fn next_delay(&mut self) -> Duration {
        // xorshift: enough randomness for jitter.
        self.seed ^= self.seed << 13;
        self.seed ^= self.seed >> 7;
        self.seed ^= self.seed << 17;
        let base = self.next;
        let jitter = base.mul_f64((self.seed % 1000) as f64 / 2000.0);
        self.next = (self.next * 2).min(self.max);
        base + jitter
    }
}

/// Runs `call`, retrying throttling errors with backoff ([`THROTTLE_ATTEMPTS`] in all).
pub async fn retry<T, F, Fut>(mut call: F) -> Result<T, ApiError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, ApiError>>,
{
    retry_with(&mut call, Backoff::new(Duration::from_millis(500), Duration::from_secs(20))).await
}

async fn retry_with<T, F, Fut>(call: &mut F, mut backoff: Backoff) -> Result<T, ApiError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, ApiError>>,
{
    let mut attempt = 1;
    loop {
        match call().await {
            Err(e) if e.is_throttling() && attempt < THROTTLE_ATTEMPTS => {
                attempt += 1;
                tokio::time::sleep(backoff.next_delay()).await;
            }
            other => return other,
        }
    }
}

/// Polls `check` until it returns `Some`, with backoff from 0.5 s to 10 s, for at most
/// `limit`; the first check is immediate. `what` names the wait in the timeout error.
pub async fn wait_for<T, F, Fut>(what: &str, limit: Duration, mut check: F) -> Result<T, ProviderError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<T>, ProviderError>>,
{
    let deadline = Instant::now() + limit;
    let mut backoff = Backoff::new(Duration::from_millis(500), Duration::from_secs(10));
    loop {
        if let Some(v) = check().await? {
            return Ok(v);
        }
        let delay = backoff.next_delay();
        if Instant::now() + delay > deadline {
            return Err(ProviderError::Api {
                provider: PROVIDER,
                message: format!("{what}: still not done after {} s", limit.as_secs()),
            });
        }
        tokio::time::sleep(delay).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn err(code: &str) -> ApiError {
        ApiError { code: Some(code.into()), message: "m".into() }
    }

    #[test]
    fn codes_are_classified() {
        assert!(err("RequestLimitExceeded").is_throttling());
        assert!(err("Throttling").is_throttling());
        assert!(!err("InstanceLimitExceeded").is_throttling(), "a quota is not throttling");
        assert!(err("InvalidInstanceID.NotFound").is_not_found());
        assert!(err("InvalidAllocationID.NotFound").is_not_found());
        let e = err("VcpuLimitExceeded").context("cannot create VM `w1`");
        assert_eq!(e.to_string(), "aws: cannot create VM `w1`: VcpuLimitExceeded: m");
    }

    #[test]
    fn backoff_grows_to_its_cap_with_bounded_jitter() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_millis(400));
        let d: Vec<Duration> = (0..5).map(|_| b.next_delay()).collect();
        for (got, base) in d.iter().zip([100u64, 200, 400, 400, 400]) {
            assert!(*got >= Duration::from_millis(base) && *got <= Duration::from_millis(base * 3 / 2), "{d:?}");
        }
    }

    fn quick() -> Backoff {
        Backoff::new(Duration::from_millis(1), Duration::from_millis(2))
    }

    #[tokio::test]
    async fn throttling_is_retried_and_other_errors_are_not() {
        let calls = AtomicU32::new(0);
        let r = retry_with(
            &mut || async {
                if calls.fetch_add(1, Ordering::SeqCst) < 3 {
                    Err(err("RequestLimitExceeded"))
                } else {
                    Ok(42)
                }
            },
            quick(),
        )
        .await;
        assert_eq!((r, calls.load(Ordering::SeqCst)), (Ok(42), 4));

        let calls = AtomicU32::new(0);
        let r: Result<(), _> = retry_with(
            &mut || async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err(err("InstanceLimitExceeded"))
            },
            quick(),
        )
        .await;
        assert_eq!(
            (r.expect_err("quota").code.as_deref(), calls.load(Ordering::SeqCst)),
            (Some("InstanceLimitExceeded"), 1)
        );

        let calls = AtomicU32::new(0);
        let r: Result<(), _> = retry_with(
            &mut || async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err(err("Throttling"))
            },
            quick(),
        )
        .await;
        assert!(r.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), THROTTLE_ATTEMPTS, "gives up after the last attempt");
    }
}
