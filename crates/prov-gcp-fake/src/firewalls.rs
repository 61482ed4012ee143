//! Global `firewalls`: insert, get, list, patch, delete.

use crate::error::ApiError;
use crate::instances::{list_page, page};
use crate::state::{name_error, timestamp, valid_name, Action, Firewall, State, API_BASE};
use serde_json::{json, Map, Value};

fn key(project: &str, name: &str) -> (String, String) {
    (project.to_string(), name.to_string())
}

fn path(project: &str, name: &str) -> String {
    format!("projects/{project}/global/firewalls/{name}")
}

/// The full link of a network reference (`global/networks/N`, `projects/P/global/networks/N`
/// or the link itself).
fn network_link(project: &str, v: &Value) -> Result<String, ApiError> {
    let given = v.as_str().unwrap_or("global/networks/default");
    let rest = given.strip_prefix(API_BASE).map(|r| r.trim_start_matches('/')).unwrap_or(given);
    let parts: Vec<&str> = rest.split('/').collect();
    let (p, n) = match parts.as_slice() {
        ["global", "networks", n] => (project, *n),
        ["projects", p, "global", "networks", n] => (*p, *n),
        _ => {
            return Err(ApiError::invalid(format!(
            "Invalid value for field 'resource.network': '{given}'. The referenced network resource cannot be found."
        )))
        }
    };
    Ok(format!("{API_BASE}/projects/{p}/global/networks/{n}"))
}

/// Checks the rule's fields and fills what the API fills.
fn complete(project: &str, json: &mut Map<String, Value>) -> Result<(), ApiError> {
    let network = network_link(project, json.get("network").unwrap_or(&Value::Null))?;
    json.insert("network".into(), json!(network));
    let rules = |k: &str| json.get(k).and_then(Value::as_array).is_some_and(|a| !a.is_empty());
    if rules("allowed") == rules("denied") {
        return Err(ApiError::invalid(
            "Invalid value for field 'resource': a firewall rule has either `allowed` or `denied` rules, not both or neither.",
        ));
    }
    for k in ["allowed", "denied"] {
        for (i, r) in json.get(k).and_then(Value::as_array).into_iter().flatten().enumerate() {
            if !r["IPProtocol"].is_string() {
                return Err(ApiError::invalid(format!(
                    "Invalid value for field 'resource.{k}[{i}].IPProtocol': ''. Required field not specified."
                )));
            }
        }
    }
    let direction = json.get("direction").and_then(Value::as_str).unwrap_or("INGRESS").to_string();
    if direction != "INGRESS" && direction != "EGRESS" {
        return Err(ApiError::invalid(format!(
            "Invalid value for field 'resource.direction': '{direction}'. Must be one of [EGRESS, INGRESS]"
        )));
    }
    json.insert("direction".into(), json!(direction));
    let priority = json.get("priority").cloned().unwrap_or(json!(1000));
    if priority.as_u64().is_none_or(|p| p > 65535) {
        return Err(ApiError::invalid(format!(
            "Invalid value for field 'resource.priority': '{priority}'. Must be between 0 and 65535."
        )));
    }
    json.insert("priority".into(), priority);
    let has = |json: &Map<String, Value>, k: &str| json.get(k).and_then(Value::as_array).is_some_and(|a| !a.is_empty());
    if direction == "INGRESS"
        && !has(json, "sourceRanges")
        && !has(json, "sourceTags")
        && !has(json, "sourceServiceAccounts")
    {
        json.insert("sourceRanges".into(), json!(["0.0.0.0/0"]));
    }
    if direction == "EGRESS" && !has(json, "destinationRanges") {
        json.insert("destinationRanges".into(), json!(["0.0.0.0/0"]));
    }
    json.entry("description").or_insert(json!(""));
    json.entry("disabled").or_insert(json!(false));
    json.entry("logConfig").or_insert(json!({"enable": false}));
    Ok(())
}

/// POST `global/firewalls`.
pub fn insert(st: &mut State, project: &str, body: Value) -> Result<Value, ApiError> {
    let name = body["name"].as_str().unwrap_or_default().to_string();
    if !valid_name(&name) {
        return Err(name_error("resource.name", &name));
    }
    if st.firewalls.contains_key(&key(project, &name)) {
        return Err(ApiError::exists(&path(project, &name)));
    }
    let mut json = body.as_object().cloned().unwrap_or_default();
    complete(project, &mut json)?;
    let id = st.id();
    json.insert("kind".into(), json!("compute#firewall"));
    json.insert("id".into(), json!(id.to_string()));
    json.insert("creationTimestamp".into(), json!(timestamp()));
    json.insert("selfLink".into(), json!(format!("{API_BASE}/{}", path(project, &name))));
    let json = Value::Object(json);
    let op = st.new_op(project, "global", "insert", &json, Action::Nothing);
    let op_name = op["name"].as_str().map(str::to_string);
    st.firewalls.insert(key(project, &name), Firewall { json, op: op_name });
    Ok(op)
}

/// GET `global/firewalls/{name}` (one tick of the operation changing it).
pub fn get(st: &mut State, project: &str, name: &str) -> Result<Value, ApiError> {
    let k = key(project, name);
    let op = st.firewalls.get(&k).ok_or_else(|| ApiError::not_found(&path(project, name)))?.op.clone();
    if let Some(op) = op {
        st.tick(&op);
    }
    st.firewalls.get(&k).map(|f| f.json.clone()).ok_or_else(|| ApiError::not_found(&path(project, name)))
}

/// GET `global/firewalls`.
pub fn list(st: &mut State, project: &str, query: &[(String, String)]) -> Result<Value, ApiError> {
    let (filter, offset, max) = page(query)?;
    let all: Vec<Value> = st
        .firewalls
        .iter()
        .filter(|((p, _), f)| p == project && filter.matches(&f.json))
        .map(|(_, f)| f.json.clone())
        .collect();
    Ok(list_page("compute#firewallList", &format!("projects/{project}/global/firewalls"), &all, offset, max))
}

/// PATCH `global/firewalls/{name}`: the fields sent replace the rule's (a null one removes
/// it).
pub fn patch(st: &mut State, project: &str, name: &str, body: Value) -> Result<Value, ApiError> {
    let k = key(project, name);
    let current = st.firewalls.get(&k).ok_or_else(|| ApiError::not_found(&path(project, name)))?.json.clone();
    let mut json = current.as_object().cloned().unwrap_or_default();
    for (f, v) in body.as_object().into_iter().flatten() {
        match f.as_str() {
            "kind" | "id" | "creationTimestamp" | "selfLink" => {}
            "name" if v.as_str() != Some(name) => {
                return Err(ApiError::invalid(format!(
                    "Invalid value for field 'resource.name': '{v}'. The name of a firewall rule cannot change."
                )))
            }
            _ if v.is_null() => {
                json.remove(f);
            }
            _ => {
                json.insert(f.clone(), v.clone());
            }
        }
    }
    // A patch that sets `denied` drops `allowed` and the other way round.
    if body.get("allowed").is_some_and(|v| !v.is_null()) && body.get("denied").is_none() {
        json.remove("denied");
    }
    if body.get("denied").is_some_and(|v| !v.is_null()) && body.get("allowed").is_none() {
        json.remove("allowed");
    }
    complete(project, &mut json)?;
    let json = Value::Object(json);
    let op = st.new_op(project, "global", "patch", &json, Action::Nothing);
    if let Some(f) = st.firewalls.get_mut(&k) {
        f.json = json;
        f.op = op["name"].as_str().map(str::to_string);
    }
    Ok(op)
}

/// DELETE `global/firewalls/{name}`.
pub fn delete(st: &mut State, project: &str, name: &str) -> Result<Value, ApiError> {
    let k = key(project, name);
    let previous = st.firewalls.get(&k).ok_or_else(|| ApiError::not_found(&path(project, name)))?.op.clone();
    st.finish(previous);
    let json = st.firewalls.get(&k).map(|f| f.json.clone()).ok_or_else(|| ApiError::not_found(&path(project, name)))?;
    let op = st.new_op(project, "global", "delete", &json, Action::DeleteFirewall(name.into()));
    if let Some(f) = st.firewalls.get_mut(&k) {
        f.op = op["name"].as_str().map(str::to_string);
    }
    Ok(op)
}

/// Effects when an operation finishes (an insert or patch is visible at once).
pub fn on_done(st: &mut State, project: &str, action: &Action) {
    if let Action::DeleteFirewall(name) = action {
        st.firewalls.remove(&key(project, name));
    }
}
