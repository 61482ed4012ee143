//! Routing: `/compute/v1/projects/{project}/...` as the API serves it, and the admin
//! endpoints under `/prov-fake/v1/` (a path the real API does not have).

use crate::error::ApiError;
use crate::state::{State, API_BASE};
use crate::{addresses, disks, firewalls, instances};
use axum::body::Bytes;
use axum::extract::Query;
use axum::http::{header, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};

/// Shared state of a running fake.
pub type Shared = Arc<Mutex<State>>;

fn reply(code: StatusCode, body: &Value) -> Response {
    (code, [(header::CONTENT_TYPE, "application/json; charset=UTF-8")], body.to_string()).into_response()
}

fn error(e: &ApiError) -> Response {
    reply(StatusCode::from_u16(e.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR), &e.body())
}

/// Every request.
pub async fn handle(
    axum::extract::State(state): axum::extract::State<Shared>,
    method: Method,
    uri: Uri,
    body: Bytes,
) -> Response {
    // `$alt=json` and `$apiVersion` are ignored like any other unknown parameter.
    let query: Vec<(String, String)> = Query::try_from_uri(&uri).map(|Query(q)| q).unwrap_or_default();
    let body: Value = if body.is_empty() {
        Value::Null
    } else {
        match serde_json::from_slice(&body) {
            Ok(v) => v,
            Err(e) => return error(&ApiError::invalid(format!("Invalid JSON payload received. {e}"))),
        }
    };
    let mut st = state.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let path = uri.path().to_string();
    if let Some(rest) = path.strip_prefix("/prov-fake/v1/") {
        return admin(&mut st, &method, rest, &body);
    }
    st.stats.requests += 1;
    if let Some((status, left)) = st.faults.throttle {
        st.faults.throttle = (left > 1).then_some((status, left - 1));
        st.stats.throttled += 1;
        return error(&if status == 503 { ApiError::unavailable() } else { ApiError::rate_limited() });
    }
    // A retried mutation with the same `requestId` gets the operation of the first one.
    let request_id = query.iter().find(|(k, _)| k == "requestId").map(|(_, v)| v.clone());
    if let Some(op) = request_id.as_ref().and_then(|id| st.request_ids.get(id)).and_then(|n| st.ops.get(n)) {
        return reply(StatusCode::OK, &op.json);
    }
    match route(&mut st, &method, &path, &query, body) {
        Ok(v) => {
            if let (Some(id), Some(name), true) = (request_id, v["name"].as_str(), v["kind"] == "compute#operation") {
                st.request_ids.insert(id, name.to_string());
            }
            reply(StatusCode::OK, &v)
        }
        Err(e) => error(&e),
    }
}

fn route(
    st: &mut State,
    method: &Method,
    path: &str,
    query: &[(String, String)],
    body: Value,
) -> Result<Value, ApiError> {
    let no_route = || ApiError::no_route(method.as_str(), path);
    let rest = path.strip_prefix("/compute/v1/projects/").ok_or_else(no_route)?;
    let seg: Vec<&str> = rest.split('/').collect();
    let m = method.as_str();
    match (m, seg.as_slice()) {
        ("POST", [p, "zones", z, "instances"]) => instances::insert(st, p, z, body),
        ("GET", [p, "zones", z, "instances"]) => instances::list(st, p, z, query),
        ("GET", [p, "aggregated", "instances"]) => instances::aggregated(st, p, query),
        ("GET", [p, "zones", z, "instances", n]) => instances::get(st, p, z, n),
        ("DELETE", [p, "zones", z, "instances", n]) => instances::delete(st, p, z, n),
        ("POST", [p, "zones", z, "instances", n, "start"]) => instances::start(st, p, z, n),
        ("POST", [p, "zones", z, "instances", n, "stop"]) => instances::stop(st, p, z, n),
        ("POST", [p, "zones", z, "instances", n, "setLabels"]) => instances::set_labels(st, p, z, n, body),
        ("POST", [p, "zones", z, "instances", n, "setTags"]) => instances::set_tags(st, p, z, n, body),
        ("GET", [p, "zones", z, "instances", n, "getGuestAttributes"]) => {
            instances::guest_attributes(st, p, z, n, query)
        }
        ("POST", [p, "zones", z, "instances", n, "attachDisk"]) => disks::attach(st, p, z, n, body),
        ("POST", [p, "zones", z, "instances", n, "detachDisk"]) => disks::detach(st, p, z, n, query),
        ("POST", [p, "zones", z, "disks"]) => disks::insert(st, p, z, body),
        ("GET", [p, "zones", z, "disks"]) => disks::list(st, p, z, query),
        ("GET", [p, "zones", z, "disks", n]) => disks::get(st, p, z, n),
        ("DELETE", [p, "zones", z, "disks", n]) => disks::delete(st, p, z, n),
        ("POST", [p, "zones", z, "disks", n, "setLabels"]) => disks::set_labels(st, p, z, n, body),
        ("POST", [p, "zones", z, "disks", n, "resize"]) => disks::resize(st, p, z, n, body),
        ("GET", [p, "zones", z, "operations", op]) => operation(st, p, &format!("zones/{z}"), op),
        ("POST", [p, "zones", z, "operations", op, "wait"]) => operation(st, p, &format!("zones/{z}"), op),
        ("POST", [p, "regions", r, "addresses"]) => addresses::insert(st, p, r, body),
        ("GET", [p, "regions", r, "addresses"]) => addresses::list(st, p, r, query),
        ("GET", [p, "regions", r, "addresses", n]) => addresses::get(st, p, r, n),
        ("DELETE", [p, "regions", r, "addresses", n]) => addresses::delete(st, p, r, n),
        ("POST", [p, "global", "firewalls"]) => firewalls::insert(st, p, body),
        ("GET", [p, "global", "firewalls"]) => firewalls::list(st, p, query),
        ("GET", [p, "global", "firewalls", n]) => firewalls::get(st, p, n),
        ("PATCH", [p, "global", "firewalls", n]) => firewalls::patch(st, p, n, body),
        ("DELETE", [p, "global", "firewalls", n]) => firewalls::delete(st, p, n),
        ("GET", [p, "global", "operations", op]) => operation(st, p, "global", op),
        ("POST", [p, "global", "operations", op, "wait"]) => operation(st, p, "global", op),
        ("GET", [p, "regions", r, "operations", op]) => operation(st, p, &format!("regions/{r}"), op),
        ("POST", [p, "regions", r, "operations", op, "wait"]) => operation(st, p, &format!("regions/{r}"), op),
        _ => Err(no_route()),
    }
}

/// `get` and `wait` of an operation: each call moves it one step (a real `wait` returns
/// when the operation is done or after about two minutes, whichever comes first; callers
/// must loop until DONE either way).
fn operation(st: &mut State, project: &str, scope: &str, name: &str) -> Result<Value, ApiError> {
    let missing = || ApiError::not_found(&format!("projects/{project}/{scope}/operations/{name}"));
    let want = format!("{API_BASE}/projects/{project}/{scope}");
    let op = st.ops.get(name).ok_or_else(missing)?;
    let field = if scope.starts_with("zones/") { "zone" } else { "region" };
    let here = if scope == "global" {
        op.json.get("zone").is_none() && op.json.get("region").is_none()
    } else {
        op.json[field] == want.as_str()
    };
    if op.project != project || !here {
        return Err(missing());
    }
    st.tick(name);
    st.ops.get(name).map(|o| o.json.clone()).ok_or_else(missing)
}

/// The admin endpoints (see the crate docs).
fn admin(st: &mut State, method: &Method, rest: &str, body: &Value) -> Response {
    let seg: Vec<&str> = rest.split('/').collect();
    match (method.as_str(), seg.as_slice()) {
        ("POST", ["faults", "quota", name]) => {
            st.faults.quota.insert((*name).to_string());
        }
        ("DELETE", ["faults", "quota", name]) => {
            st.faults.quota.remove(*name);
        }
        ("POST", ["faults", "throttle"]) => {
            let status = body["status"].as_u64().unwrap_or(429) as u16;
            let count = body["count"].as_u64().unwrap_or(1) as u32;
            if status != 429 && status != 503 {
                return error(&ApiError::invalid("throttle status must be 429 or 503"));
            }
            st.faults.throttle = (count > 0).then_some((status, count));
        }
        ("POST", ["faults", "no-hostkeys", name]) => {
            st.faults.no_hostkeys.insert((*name).to_string());
        }
        ("DELETE", ["faults"]) => st.faults = Default::default(),
        ("GET", ["stats"]) => return reply(StatusCode::OK, &json!(st.stats)),
        ("POST", ["reset"]) => *st = State::default(),
        _ => return error(&ApiError::no_route(method.as_str(), &format!("/prov-fake/v1/{rest}"))),
    }
    reply(StatusCode::OK, &json!({}))
}
