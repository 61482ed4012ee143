//! Error payloads as the API sends them:
//! `{"error":{"code":404,"message":...,"status":"NOT_FOUND","errors":[{"message":...,"domain":"global","reason":"notFound"}]}}`.

use serde_json::{json, Value};

/// An HTTP error of the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status.
    pub code: u16,
    /// The canonical status (`NOT_FOUND`, ...); without it the client reports UNKNOWN.
    pub status: &'static str,
    /// `errors[0].reason`.
    pub reason: &'static str,
    /// `errors[0].domain`.
    pub domain: &'static str,
    /// The message.
    pub message: String,
}

impl ApiError {
    fn new(code: u16, status: &'static str, reason: &'static str, message: impl Into<String>) -> ApiError {
        ApiError { code, status, reason, domain: "global", message: message.into() }
    }

    /// 400 `invalid`.
    pub fn invalid(message: impl Into<String>) -> ApiError {
        ApiError::new(400, "INVALID_ARGUMENT", "invalid", message)
    }

    /// 400 `resourceNotReady`.
    pub fn not_ready(resource: &str) -> ApiError {
        ApiError::new(400, "FAILED_PRECONDITION", "resourceNotReady", format!("The resource '{resource}' is not ready"))
    }

    /// 400 `resourceInUseByAnotherResource`.
    pub fn in_use(resource: &str, user: &str) -> ApiError {
        ApiError::new(
            400,
            "FAILED_PRECONDITION",
            "resourceInUseByAnotherResource",
            format!("The address resource '{resource}' is already being used by '{user}'"),
        )
    }

    /// 400 `resourceInUseByAnotherResource` for a `kind` of resource (`disk`).
    pub fn in_use_by(kind: &str, resource: &str, user: &str) -> ApiError {
        ApiError::new(
            400,
            "FAILED_PRECONDITION",
            "resourceInUseByAnotherResource",
            format!("The {kind} resource '{resource}' is already being used by '{user}'"),
        )
    }

    /// 404 `notFound` for a resource path (`projects/p/zones/z/instances/n`).
    pub fn not_found(resource: &str) -> ApiError {
        ApiError::new(404, "NOT_FOUND", "notFound", format!("The resource '{resource}' was not found"))
    }

    /// 409 `alreadyExists`.
    pub fn exists(resource: &str) -> ApiError {
        ApiError::new(409, "ALREADY_EXISTS", "alreadyExists", format!("The resource '{resource}' already exists"))
    }

    /// 412 `conditionNotMet` (stale fingerprint).
    pub fn stale(message: impl Into<String>) -> ApiError {
        ApiError::new(412, "FAILED_PRECONDITION", "conditionNotMet", message)
    }

    /// 429 `rateLimitExceeded`.
    pub fn rate_limited() -> ApiError {
        ApiError {
            domain: "usageLimits",
            ..ApiError::new(
                429,
                "RESOURCE_EXHAUSTED",
                "rateLimitExceeded",
                "Quota exceeded for quota metric 'Queries' and limit 'Queries per minute' of service \
                 'compute.googleapis.com'.",
            )
        }
    }

    /// 503 `backendError`.
    pub fn unavailable() -> ApiError {
        ApiError::new(503, "UNAVAILABLE", "backendError", "The service is currently unavailable.")
    }

    /// 404 for a path the fake does not serve.
    pub fn no_route(method: &str, path: &str) -> ApiError {
        ApiError::new(404, "NOT_FOUND", "notFound", format!("prov-gcp-fake does not implement {method} {path}"))
    }

    /// The JSON body.
    pub fn body(&self) -> Value {
        json!({"error": {
            "code": self.code,
            "message": self.message,
            "status": self.status,
            "errors": [{"message": self.message, "domain": self.domain, "reason": self.reason}],
        }})
    }
}
