//! Zonal `disks`: insert, get, list, delete, setLabels, resize; and `instances.attachDisk` / `detachDisk`.
//!
//! A blank disk without `sizeGb` is 500 GB, of type `pd-standard` unless `type` names
//! another (`pd-balanced`, `pd-ssd`, `pd-standard`, `pd-extreme`, `hyperdisk-balanced`), as
//! the API has it. `users` lists the instances it is attached to (absent when none); a
//! READ_WRITE disk attached to one instance cannot be attached to another
//! (`resourceInUseByAnotherResource`), nor deleted while attached. Deleting an instance
//! detaches its non-boot disks (`autoDelete` false is the default of attachDisk).

use crate::error::ApiError;
use crate::instances::{list_page, page};
use crate::state::{check_labels, check_zone, fingerprint, name_error, timestamp, valid_name, Action, State, API_BASE};
use serde_json::{json, Value};

/// Disk types the fake knows.
pub const DISK_TYPES: &[&str] = &["pd-standard", "pd-balanced", "pd-ssd", "pd-extreme", "hyperdisk-balanced"];

fn key(project: &str, zone: &str, name: &str) -> (String, String, String) {
    (project.to_string(), zone.to_string(), name.to_string())
}

fn path(project: &str, zone: &str, name: &str) -> String {
    format!("projects/{project}/zones/{zone}/disks/{name}")
}

fn instance_path(project: &str, zone: &str, name: &str) -> String {
    format!("projects/{project}/zones/{zone}/instances/{name}")
}

/// The disk a `source` (full or partial URL) names: (zone, name).
fn source_of(source: &str) -> Option<(String, String)> {
    let s = source.strip_prefix(API_BASE).map(|r| r.trim_start_matches('/')).unwrap_or(source);
    let parts: Vec<&str> = s.split('/').collect();
    match parts.as_slice() {
        [.., "zones", z, "disks", n] if !z.is_empty() && !n.is_empty() => Some((z.to_string(), n.to_string())),
        _ => None,
    }
}

/// POST `zones/{zone}/disks`: `name`, `sizeGb` (a string of an int64), `type` (a disk type
/// URL or `zones/Z/diskTypes/T`), `labels`, `description`.
pub fn insert(st: &mut State, project: &str, zone: &str, body: Value) -> Result<Value, ApiError> {
    check_zone(zone)?;
    let name = body["name"].as_str().unwrap_or_default().to_string();
    if !valid_name(&name) {
        return Err(name_error("resource.name", &name));
    }
    check_labels("resource.labels", &body["labels"])?;
    if st.disks.contains_key(&key(project, zone, &name)) {
        return Err(ApiError::exists(&path(project, zone, &name)));
    }
    let size: u64 = match &body["sizeGb"] {
        Value::Null => 500,
        Value::String(s) => s.parse().ok().filter(|n| *n > 0).ok_or_else(|| bad_size(s))?,
        Value::Number(n) => n.as_u64().filter(|n| *n > 0).ok_or_else(|| bad_size(&n.to_string()))?,
        other => return Err(bad_size(&other.to_string())),
    };
    let zone_url = format!("{API_BASE}/projects/{project}/zones/{zone}");
    let disk_type = match body["type"].as_str() {
        None => "pd-standard".to_string(),
        Some(t) => {
            let short = t.rsplit_once("/diskTypes/").map(|(_, n)| n).unwrap_or_default();
            if !DISK_TYPES.contains(&short) {
                return Err(ApiError::invalid(format!(
                    "Invalid value for field 'resource.type': '{t}'. The URL is malformed."
                )));
            }
            short.to_string()
        }
    };
    let id = st.id();
    let labels = if body["labels"].is_object() { body["labels"].clone() } else { json!({}) };
    let json = json!({
        "kind": "compute#disk",
        "id": id.to_string(),
        "creationTimestamp": timestamp(),
        "name": name,
        "description": body["description"].as_str().unwrap_or_default(),
        "sizeGb": size.to_string(),
        "zone": zone_url,
        "status": "CREATING",
        "selfLink": format!("{zone_url}/disks/{name}"),
        "type": format!("{zone_url}/diskTypes/{disk_type}"),
        "labels": labels,
        "labelFingerprint": fingerprint(&labels),
        "physicalBlockSizeBytes": "4096",
    });
    let op =
        st.new_op(project, &format!("zones/{zone}"), "insert", &json, Action::InsertDisk(zone.into(), name.clone()));
    let op_name = op["name"].as_str().map(str::to_string);
    st.disks.insert(key(project, zone, &name), crate::state::Disk { json, op: op_name });
    Ok(op)
}

fn bad_size(s: &str) -> ApiError {
    ApiError::invalid(format!("Invalid value for field 'resource.sizeGb': '{s}'. Must be a positive integer."))
}

/// GET `zones/{zone}/disks/{name}` (one tick of the operation changing it).
pub fn get(st: &mut State, project: &str, zone: &str, name: &str) -> Result<Value, ApiError> {
    check_zone(zone)?;
    let k = key(project, zone, name);
    let op = st.disks.get(&k).ok_or_else(|| ApiError::not_found(&path(project, zone, name)))?.op.clone();
    if let Some(op) = op {
        st.tick(&op);
    }
    st.disks.get(&k).map(|d| d.json.clone()).ok_or_else(|| ApiError::not_found(&path(project, zone, name)))
}

/// GET `zones/{zone}/disks`.
pub fn list(st: &mut State, project: &str, zone: &str, query: &[(String, String)]) -> Result<Value, ApiError> {
    check_zone(zone)?;
    let (filter, offset, max) = page(query)?;
    let all: Vec<Value> = st
        .disks
        .iter()
        .filter(|((p, z, _), d)| p == project && z == zone && filter.matches(&d.json))
        .map(|(_, d)| d.json.clone())
        .collect();
    Ok(list_page("compute#diskList", &format!("projects/{project}/zones/{zone}/disks"), &all, offset, max))
}

/// DELETE `zones/{zone}/disks/{name}`; refused while an instance uses it.
pub fn delete(st: &mut State, project: &str, zone: &str, name: &str) -> Result<Value, ApiError> {
    check_zone(zone)?;
    let k = key(project, zone, name);
    let previous = st.disks.get(&k).ok_or_else(|| ApiError::not_found(&path(project, zone, name)))?.op.clone();
    st.finish(previous);
    let json =
        st.disks.get(&k).map(|d| d.json.clone()).ok_or_else(|| ApiError::not_found(&path(project, zone, name)))?;
    if let Some(user) = json["users"].as_array().and_then(|u| u.first()) {
        let user = user.as_str().unwrap_or_default().trim_start_matches(API_BASE).trim_start_matches('/');
        return Err(ApiError::in_use_by("disk", &path(project, zone, name), user));
    }
    let op =
        st.new_op(project, &format!("zones/{zone}"), "delete", &json, Action::DeleteDisk(zone.into(), name.into()));
    if let Some(d) = st.disks.get_mut(&k) {
        d.op = op["name"].as_str().map(str::to_string);
    }
    Ok(op)
}

/// POST `zones/{zone}/disks/{name}/setLabels` (`{"labels": {...}, "labelFingerprint": "..."}`):
/// 412 on a stale fingerprint.
pub fn set_labels(st: &mut State, project: &str, zone: &str, name: &str, body: Value) -> Result<Value, ApiError> {
    check_zone(zone)?;
    check_labels("labels", &body["labels"])?;
    let k = key(project, zone, name);
    let d = st.disks.get_mut(&k).ok_or_else(|| ApiError::not_found(&path(project, zone, name)))?;
    if body["labelFingerprint"] != d.json["labelFingerprint"] {
        return Err(ApiError::stale("Labels fingerprint either invalid or resource labels have changed"));
    }
    let labels = if body["labels"].is_object() { body["labels"].clone() } else { json!({}) };
    d.json["labelFingerprint"] = json!(fingerprint(&labels));
    d.json["labels"] = labels;
    let json = d.json.clone();
    Ok(st.new_op(project, &format!("zones/{zone}"), "setLabels", &json, Action::Nothing))
}

/// POST `zones/{zone}/disks/{name}/resize` (`{"sizeGb": N}`): a disk only grows.
pub fn resize(st: &mut State, project: &str, zone: &str, name: &str, body: Value) -> Result<Value, ApiError> {
    check_zone(zone)?;
    let k = key(project, zone, name);
    let d = st.disks.get_mut(&k).ok_or_else(|| ApiError::not_found(&path(project, zone, name)))?;
    let current: u64 = d.json["sizeGb"].as_str().and_then(|s| s.parse().ok()).unwrap_or(0);
    let wanted = match &body["sizeGb"] {
        Value::String(s) => s.parse::<u64>().ok(),
        Value::Number(n) => n.as_u64(),
        _ => None,
    };
    let text = match &body["sizeGb"] {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let Some(wanted) = wanted.filter(|w| *w > current) else {
        return Err(ApiError::invalid(format!(
            "Invalid value for field 'sizeGb': '{text}'. Requested disk size must be larger than the current size \
             ({current} GB)."
        )));
    };
    d.json["sizeGb"] = json!(wanted.to_string());
    let json = d.json.clone();
    Ok(st.new_op(project, &format!("zones/{zone}"), "resizeDisk", &json, Action::Nothing))
}

/// POST `zones/{zone}/instances/{name}/attachDisk`: an AttachedDisk (`source`, `deviceName`,
/// `mode`, `autoDelete`).
pub fn attach(st: &mut State, project: &str, zone: &str, instance: &str, body: Value) -> Result<Value, ApiError> {
    check_zone(zone)?;
    let ik = key(project, zone, instance);
    let inst = st.instances.get(&ik).ok_or_else(|| ApiError::not_found(&instance_path(project, zone, instance)))?;
    let ijson = inst.json.clone();
    let source = body["source"].as_str().unwrap_or_default();
    let (dzone, dname) = source_of(source).ok_or_else(|| {
        ApiError::invalid(format!("Invalid value for field 'resource.source': '{source}'. The URL is malformed."))
    })?;
    let dk = key(project, &dzone, &dname);
    let disk = st.disks.get(&dk).ok_or_else(|| ApiError::not_found(&path(project, &dzone, &dname)))?;
    if dzone != zone {
        return Err(ApiError::invalid(format!(
            "Invalid value for field 'resource.source': '{source}'. Disk must be in the same zone as the instance."
        )));
    }
    if disk.json["status"] != "READY" {
        return Err(ApiError::not_ready(&path(project, &dzone, &dname)));
    }
    let mode = body["mode"].as_str().unwrap_or("READ_WRITE").to_string();
    if let Some(user) = disk.json["users"].as_array().and_then(|u| u.first()).and_then(Value::as_str) {
        if mode == "READ_WRITE" || user == ijson["selfLink"] {
            let user = user.trim_start_matches(API_BASE).trim_start_matches('/');
            return Err(ApiError::in_use_by("disk", &path(project, &dzone, &dname), user));
        }
    }
    let attached = ijson["disks"].as_array().cloned().unwrap_or_default();
    let device = match body["deviceName"].as_str() {
        Some(d) => d.to_string(),
        None => (0..)
            .map(|n| format!("persistent-disk-{n}"))
            .find(|d| !attached.iter().any(|a| a["deviceName"] == d.as_str()))
            .unwrap_or_default(),
    };
    if attached.iter().any(|a| a["deviceName"] == device.as_str()) {
        return Err(ApiError::invalid(format!(
            "Invalid value for field 'resource.deviceName': '{device}'. Device name is already in use by another disk."
        )));
    }
    let entry = json!({
        "kind": "compute#attachedDisk",
        "type": "PERSISTENT",
        "mode": mode,
        "source": disk.json["selfLink"],
        "deviceName": device,
        "index": attached.len(),
        "boot": false,
        "autoDelete": body["autoDelete"].as_bool().unwrap_or(false),
        "interface": "SCSI",
        "diskSizeGb": disk.json["sizeGb"],
    });
    Ok(st.new_op(
        project,
        &format!("zones/{zone}"),
        "attachDisk",
        &ijson,
        Action::AttachDisk(zone.into(), instance.into(), entry),
    ))
}

/// POST `zones/{zone}/instances/{name}/detachDisk?deviceName=D`.
pub fn detach(
    st: &mut State,
    project: &str,
    zone: &str,
    instance: &str,
    query: &[(String, String)],
) -> Result<Value, ApiError> {
    check_zone(zone)?;
    let ik = key(project, zone, instance);
    let ijson =
        st.instances.get(&ik).ok_or_else(|| ApiError::not_found(&instance_path(project, zone, instance)))?.json.clone();
    let device = query.iter().find(|(k, _)| k == "deviceName").map(|(_, v)| v.clone()).unwrap_or_default();
    let found = ijson["disks"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|a| a["deviceName"] == device.as_str() && a["boot"] != true);
    if !found {
        return Err(ApiError::invalid(format!(
            "Invalid value for field 'deviceName': '{device}'. No attached disk found with device name '{device}'"
        )));
    }
    Ok(st.new_op(
        project,
        &format!("zones/{zone}"),
        "detachDisk",
        &ijson,
        Action::DetachDisk(zone.into(), instance.into(), device),
    ))
}

/// Removes `instance` (a selfLink) from the users of `source`.
fn drop_user(st: &mut State, project: &str, source: &str, instance: &Value) {
    let Some((zone, name)) = source_of(source) else { return };
    if let Some(d) = st.disks.get_mut(&key(project, &zone, &name)) {
        if let Some(users) = d.json["users"].as_array_mut() {
            users.retain(|u| u != instance);
            if users.is_empty() {
                d.json.as_object_mut().map(|o| o.remove("users"));
            }
        }
        d.json["lastDetachTimestamp"] = json!(timestamp());
    }
}

/// An instance is deleted: its non-boot disks are detached (deleted when `autoDelete`).
pub fn instance_deleted(st: &mut State, project: &str, instance: &Value) {
    for a in instance["disks"].as_array().into_iter().flatten().filter(|a| a["boot"] != true) {
        let source = a["source"].as_str().unwrap_or_default();
        drop_user(st, project, source, &instance["selfLink"]);
        if a["autoDelete"] == true {
            if let Some((zone, name)) = source_of(source) {
                st.disks.remove(&key(project, &zone, &name));
            }
        }
    }
}

/// Effects when an operation finishes.
pub fn on_done(st: &mut State, project: &str, action: &Action) {
    match action {
        Action::InsertDisk(zone, name) => {
            if let Some(d) = st.disks.get_mut(&key(project, zone, name)) {
                d.op = None;
                d.json["status"] = json!("READY");
            }
        }
        Action::DeleteDisk(zone, name) => {
            st.disks.remove(&key(project, zone, name));
        }
        Action::AttachDisk(zone, instance, entry) => {
            let Some(i) = st.instances.get_mut(&key(project, zone, instance)) else { return };
            let link = i.json["selfLink"].clone();
            if let Some(disks) = i.json["disks"].as_array_mut() {
                disks.push(entry.clone());
            }
            let Some((dzone, dname)) = entry["source"].as_str().and_then(source_of) else { return };
            if let Some(d) = st.disks.get_mut(&key(project, &dzone, &dname)) {
                match d.json["users"].as_array_mut() {
                    Some(users) => users.push(link),
                    None => d.json["users"] = json!([link]),
                }
                d.json["lastAttachTimestamp"] = json!(timestamp());
            }
        }
        Action::DetachDisk(zone, instance, device) => {
            let Some(i) = st.instances.get_mut(&key(project, zone, instance)) else { return };
            let link = i.json["selfLink"].clone();
            let mut source = None;
            if let Some(disks) = i.json["disks"].as_array_mut() {
                source = disks
                    .iter()
                    .find(|a| a["deviceName"] == device.as_str())
                    .and_then(|a| a["source"].as_str())
                    .map(str::to_string);
                disks.retain(|a| a["deviceName"] != device.as_str());
            }
            if let Some(s) = source {
                drop_user(st, project, &s, &link);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_full_and_partial() {
        let full = format!("{API_BASE}/projects/p/zones/us-central1-a/disks/nfs");
        assert_eq!(source_of(&full), Some(("us-central1-a".into(), "nfs".into())));
        assert_eq!(source_of("projects/p/zones/us-central1-a/disks/nfs"), Some(("us-central1-a".into(), "nfs".into())));
        assert_eq!(source_of("nfs"), None);
    }
}
