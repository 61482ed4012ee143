//! Regional `addresses`: insert, get, list, delete.

use crate::error::ApiError;
use crate::instances::{list_page, page};
use crate::state::{
    check_labels, check_region, fingerprint, name_error, subnet_of, timestamp, valid_name, Action, State, API_BASE,
};
use serde_json::{json, Value};

fn key(project: &str, region: &str, name: &str) -> (String, String, String) {
    (project.to_string(), region.to_string(), name.to_string())
}

fn path(project: &str, region: &str, name: &str) -> String {
    format!("projects/{project}/regions/{region}/addresses/{name}")
}

/// POST `regions/{region}/addresses`: `addressType` EXTERNAL (default) or INTERNAL, an
/// optional `address`, `labels`.
pub fn insert(st: &mut State, project: &str, region: &str, body: Value) -> Result<Value, ApiError> {
    check_region(region)?;
    let name = body["name"].as_str().unwrap_or_default().to_string();
    if !valid_name(&name) {
        return Err(name_error("resource.name", &name));
    }
    check_labels("resource.labels", &body["labels"])?;
    if st.addresses.contains_key(&key(project, region, &name)) {
        return Err(ApiError::exists(&path(project, region, &name)));
    }
    let kind = body["addressType"].as_str().unwrap_or("EXTERNAL").to_string();
    let address = match (kind.as_str(), body["address"].as_str()) {
        ("EXTERNAL", None) => st.static_ip(),
        ("INTERNAL", None) => st
            .internal_ip(project, region)
            .ok_or_else(|| ApiError::invalid(format!("No free internal address in region {region}")))?,
        ("INTERNAL", Some(ip)) => {
            let [a, b] = subnet_of(region).unwrap_or([10, 128]);
            let in_range = ip
                .strip_prefix(&format!("{a}.{b}."))
                .is_some_and(|r| r.split('.').next().and_then(|x| x.parse::<u8>().ok()).is_some_and(|x| x < 16));
            if !in_range {
                return Err(ApiError::invalid(format!(
                    "Invalid value for field 'resource.address': '{ip}'. Requested internal IP is outside the \
                     subnetwork CIDR range."
                )));
            }
            if st.internal_used(project, region).contains(ip) {
                return Err(ApiError::invalid(format!(
                    "Invalid value for field 'resource.address': '{ip}'. IP address '{ip}' is already reserved or in use."
                )));
            }
            ip.to_string()
        }
        ("EXTERNAL", Some(ip)) => {
            if st.addresses.values().any(|a| a.json["address"] == ip) {
                return Err(ApiError::invalid(format!(
                    "Invalid value for field 'resource.address': '{ip}'. Specified IP address is in-use and would \
                     result in a conflict."
                )));
            }
            ip.to_string()
        }
        (other, _) => {
            return Err(ApiError::invalid(format!(
                "Invalid value for field 'resource.addressType': '{other}'. Must be one of [EXTERNAL, INTERNAL]"
            )))
        }
    };
    let id = st.id();
    let labels = if body["labels"].is_object() { body["labels"].clone() } else { json!({}) };
    let region_url = format!("{API_BASE}/projects/{project}/regions/{region}");
    let mut json = json!({
        "kind": "compute#address",
        "id": id.to_string(),
        "creationTimestamp": timestamp(),
        "name": name,
        "description": body["description"].as_str().unwrap_or_default(),
        "address": address,
        "status": "RESERVING",
        "region": region_url,
        "selfLink": format!("{region_url}/addresses/{name}"),
        "addressType": kind,
        "labels": labels,
        "labelFingerprint": fingerprint(&labels),
    });
    if kind == "EXTERNAL" {
        json["networkTier"] = json!(body["networkTier"].as_str().unwrap_or("PREMIUM"));
    } else {
        json["purpose"] = json!("GCE_ENDPOINT");
        json["subnetwork"] = json!(format!("{region_url}/subnetworks/default"));
    }
    let op = st.new_op(
        project,
        &format!("regions/{region}"),
        "insert",
        &json,
        Action::InsertAddress(region.into(), name.clone()),
    );
    let op_name = op["name"].as_str().map(str::to_string);
    st.addresses.insert(key(project, region, &name), crate::state::Address { json, op: op_name });
    Ok(op)
}

/// GET `regions/{region}/addresses/{name}` (one tick of the operation changing it).
pub fn get(st: &mut State, project: &str, region: &str, name: &str) -> Result<Value, ApiError> {
    check_region(region)?;
    let k = key(project, region, name);
    let op = st.addresses.get(&k).ok_or_else(|| ApiError::not_found(&path(project, region, name)))?.op.clone();
    if let Some(op) = op {
        st.tick(&op);
    }
    st.addresses.get(&k).map(|a| a.json.clone()).ok_or_else(|| ApiError::not_found(&path(project, region, name)))
}

/// GET `regions/{region}/addresses`.
pub fn list(st: &mut State, project: &str, region: &str, query: &[(String, String)]) -> Result<Value, ApiError> {
    check_region(region)?;
    let (filter, offset, max) = page(query)?;
    let all: Vec<Value> = st
        .addresses
        .iter()
        .filter(|((p, r, _), a)| p == project && r == region && filter.matches(&a.json))
        .map(|(_, a)| a.json.clone())
        .collect();
    Ok(list_page("compute#addressList", &format!("projects/{project}/regions/{region}/addresses"), &all, offset, max))
}

/// DELETE `regions/{region}/addresses/{name}`; refused while an instance uses it.
pub fn delete(st: &mut State, project: &str, region: &str, name: &str) -> Result<Value, ApiError> {
    check_region(region)?;
    let k = key(project, region, name);
    let previous = st.addresses.get(&k).ok_or_else(|| ApiError::not_found(&path(project, region, name)))?.op.clone();
    st.finish(previous);
    let json = st
        .addresses
        .get(&k)
        .map(|a| a.json.clone())
        .ok_or_else(|| ApiError::not_found(&path(project, region, name)))?;
    if let Some(user) = json["users"].as_array().and_then(|u| u.first()) {
        let user = user.as_str().unwrap_or_default().trim_start_matches(API_BASE).trim_start_matches('/');
        return Err(ApiError::in_use(&path(project, region, name), user));
    }
    let op = st.new_op(
        project,
        &format!("regions/{region}"),
        "delete",
        &json,
        Action::DeleteAddress(region.into(), name.into()),
    );
    if let Some(a) = st.addresses.get_mut(&k) {
        a.op = op["name"].as_str().map(str::to_string);
    }
    Ok(op)
}

/// Effects when an operation finishes.
pub fn on_done(st: &mut State, project: &str, action: &Action) {
    match action {
        Action::InsertAddress(region, name) => {
            if let Some(a) = st.addresses.get_mut(&key(project, region, name)) {
                a.op = None;
                if a.json["status"] == "RESERVING" {
                    a.json["status"] = json!("RESERVED");
                }
            }
        }
        Action::DeleteAddress(region, name) => {
            st.addresses.remove(&key(project, region, name));
        }
        _ => {}
    }
}
