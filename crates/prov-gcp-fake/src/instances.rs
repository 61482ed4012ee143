//! `instances`: insert, get, list, aggregatedList, delete, start, stop, setLabels, setTags,
//! getGuestAttributes.

use crate::error::ApiError;
use crate::filter::Filter;
use crate::state::{
    check_labels, check_zone, fingerprint, name_error, region_of, subnet_of, timestamp, valid_name, Action, State,
    API_BASE, MACHINE_TYPES, ZONES,
};
use base64::Engine;
use serde_json::{json, Value};

type Key = (String, String, String);

fn key(project: &str, zone: &str, name: &str) -> Key {
    (project.to_string(), zone.to_string(), name.to_string())
}

fn path(project: &str, zone: &str, name: &str) -> String {
    format!("projects/{project}/zones/{zone}/instances/{name}")
}

/// The last path segment after `marker` in a URL or partial URL.
fn after<'a>(s: &'a str, marker: &str) -> Option<&'a str> {
    s.rsplit_once(marker).map(|(_, rest)| rest).filter(|r| !r.is_empty() && !r.contains('/'))
}

/// Whether a boot image reference looks like `[URL/]projects/P/global/images/[family/]NAME`.
fn valid_image(s: &str) -> bool {
    let s = s.strip_prefix(API_BASE).map(|r| r.trim_start_matches('/')).unwrap_or(s);
    let parts: Vec<&str> = s.split('/').collect();
    matches!(parts.as_slice(), ["projects", p, "global", "images", n] if !p.is_empty() && !n.is_empty())
        || matches!(parts.as_slice(), ["projects", p, "global", "images", "family", n] if !p.is_empty() && !n.is_empty())
        || matches!(parts.as_slice(), ["global", "images", n] if !n.is_empty())
}

/// POST `zones/{zone}/instances`.
pub fn insert(st: &mut State, project: &str, zone: &str, body: Value) -> Result<Value, ApiError> {
    check_zone(zone)?;
    let name = body["name"].as_str().unwrap_or_default().to_string();
    if !valid_name(&name) {
        return Err(name_error("resource.name", &name));
    }
    let mt_ref = body["machineType"].as_str().unwrap_or_default();
    let machine_type = after(mt_ref, "machineTypes/").unwrap_or_default();
    if !MACHINE_TYPES.contains(&machine_type) {
        return Err(ApiError::invalid(format!(
            "Invalid value for field 'resource.machineType': '{mt_ref}'. Machine type with name '{machine_type}' \
             does not exist in zone '{zone}'."
        )));
    }
    let disks = body["disks"].as_array().cloned().unwrap_or_default();
    let Some(boot) = disks.iter().find(|d| d["boot"] == true).or(disks.first()) else {
        return Err(ApiError::invalid("Invalid value for field 'resource.disks': ''. Boot disk must be specified."));
    };
    let image = boot["initializeParams"]["sourceImage"].as_str().unwrap_or_default();
    if boot["source"].is_null() && !valid_image(image) {
        return Err(ApiError::not_found(image));
    }
    if body["networkInterfaces"].as_array().is_none_or(|a| a.is_empty()) {
        return Err(ApiError::invalid(
            "Invalid value for field 'resource.networkInterfaces': ''. At least one network interface is required.",
        ));
    }
    check_labels("resource.labels", &body["labels"])?;
    for t in body["tags"]["items"].as_array().into_iter().flatten() {
        let t = t.as_str().unwrap_or_default();
        if !valid_name(t) {
            return Err(name_error("resource.tags.items", t));
        }
    }
    if st.instances.contains_key(&key(project, zone, &name)) {
        return Err(ApiError::exists(&path(project, zone, &name)));
    }
    let region = region_of(zone).to_string();
    let zone_url = format!("{API_BASE}/projects/{project}/zones/{zone}");
    let self_link = format!("{zone_url}/instances/{name}");

    // Network interface: the requested internal address or the next free one; access
    // configs with a reserved external address or an ephemeral one.
    let mut nic = body["networkInterfaces"][0].clone();
    let network = nic["network"].as_str().unwrap_or("global/networks/default").to_string();
    let network = after(&network, "networks/").unwrap_or("default").to_string();
    let network_ip = match nic["networkIP"].as_str() {
        Some(ip) => {
            let [a, b] = subnet_of(&region).unwrap_or([10, 128]);
            let in_range = ip
                .strip_prefix(&format!("{a}.{b}."))
                .is_some_and(|r| r.split('.').next().and_then(|x| x.parse::<u8>().ok()).is_some_and(|x| x < 16));
            if !in_range {
                return Err(ApiError::invalid(format!(
                    "Invalid value for field 'resource.networkInterfaces[0].networkIP': '{ip}'. Requested internal \
                     IP is outside the subnetwork CIDR range."
                )));
            }
            let reserved = st.addresses.iter().any(|((p, r, _), a)| {
                p == project
                    && *r == region
                    && a.json["address"] == ip
                    && a.json["users"].as_array().is_none_or(|u| u.is_empty())
            });
            if !reserved && st.internal_used(project, &region).contains(ip) {
                return Err(ApiError::invalid(format!(
                    "Invalid value for field 'resource.networkInterfaces[0].networkIP': '{ip}'. IP address '{ip}' \
                     (if specified) must be an unused internal IP address of the subnetwork."
                )));
            }
            ip.to_string()
        }
        None => st
            .internal_ip(project, &region)
            .ok_or_else(|| ApiError::invalid(format!("No free internal address in region {region}")))?,
    };
    let mut access = Vec::new();
    for (i, ac) in nic["accessConfigs"].as_array().cloned().unwrap_or_default().into_iter().enumerate() {
        let nat = match ac["natIP"].as_str() {
            Some(ip) => {
                let found =
                    st.addresses.iter().find(|((p, r, _), a)| p == project && *r == region && a.json["address"] == ip);
                match found {
                    None => {
                        return Err(ApiError::invalid(format!(
                            "Invalid value for field 'resource.networkInterfaces[0].accessConfigs[{i}].natIP': \
                             '{ip}'. The specified external IP address '{ip}' was not found in region '{region}'."
                        )))
                    }
                    Some((_, a)) if a.json["users"].as_array().is_some_and(|u| !u.is_empty()) => {
                        return Err(ApiError::invalid(format!(
                            "Invalid value for field 'resource.networkInterfaces[0].accessConfigs[{i}].natIP': \
                             '{ip}'. The specified external IP address '{ip}' is in use."
                        )))
                    }
                    Some(_) => ip.to_string(),
                }
            }
            None => st.ephemeral_ip(),
        };
        access.push(json!({
            "kind": "compute#accessConfig",
            "type": "ONE_TO_ONE_NAT",
            "name": ac["name"].as_str().unwrap_or("External NAT"),
            "natIP": nat,
            "networkTier": ac["networkTier"].as_str().unwrap_or("PREMIUM"),
        }));
    }
    nic = json!({
        "kind": "compute#networkInterface",
        "name": "nic0",
        "network": format!("{API_BASE}/projects/{project}/global/networks/{network}"),
        "subnetwork": format!("{API_BASE}/projects/{project}/regions/{region}/subnetworks/{network}"),
        "networkIP": network_ip,
        "stackType": "IPV4_ONLY",
        "fingerprint": fingerprint(&json!([name, network_ip])),
    });
    if !access.is_empty() {
        nic["accessConfigs"] = Value::Array(access);
    }

    st.stats.inserts += 1;
    let id = st.id();
    let labels = if body["labels"].is_object() { body["labels"].clone() } else { json!({}) };
    let tags: Vec<Value> = body["tags"]["items"].as_array().cloned().unwrap_or_default();
    let mut metadata = json!({"kind": "compute#metadata", "fingerprint": fingerprint(&body["metadata"])});
    if let Some(items) = body["metadata"]["items"].as_array() {
        metadata["items"] = Value::Array(items.clone());
    }
    let disk_size = boot["initializeParams"]["diskSizeGb"].as_str().unwrap_or("10").to_string();
    let mut instance = json!({
        "kind": "compute#instance",
        "id": id.to_string(),
        "creationTimestamp": timestamp(),
        "name": name,
        "description": body["description"].as_str().unwrap_or_default(),
        "tags": {"items": tags, "fingerprint": fingerprint(&json!(tags))},
        "machineType": format!("{zone_url}/machineTypes/{machine_type}"),
        "status": "PROVISIONING",
        "zone": zone_url,
        "canIpForward": false,
        "networkInterfaces": [nic],
        "disks": [{
            "kind": "compute#attachedDisk",
            "type": "PERSISTENT",
            "mode": "READ_WRITE",
            "source": format!("{zone_url}/disks/{name}"),
            "deviceName": boot["deviceName"].as_str().unwrap_or(&name),
            "index": 0,
            "boot": true,
            "autoDelete": boot["autoDelete"].as_bool().unwrap_or(true),
            "interface": "SCSI",
            "diskSizeGb": disk_size,
        }],
        "metadata": metadata,
        "selfLink": self_link,
        "scheduling": {"onHostMaintenance": "MIGRATE", "automaticRestart": true, "preemptible": false},
        "cpuPlatform": "Unknown CPU Platform",
        "labels": labels,
        "labelFingerprint": fingerprint(&labels),
        "startRestricted": false,
        "deletionProtection": false,
        "fingerprint": fingerprint(&json!(id)),
    });
    if instance["tags"]["items"].as_array().is_some_and(|a| a.is_empty()) {
        instance["tags"].as_object_mut().map(|t| t.remove("items"));
    }
    let fail = st.faults.quota.remove(&name).then(|| {
        json!({
            "code": "QUOTA_EXCEEDED",
            "message": format!("Quota 'CPUS' exceeded.  Limit: 8.0 in region {region}."),
            "errorDetails": [{"quotaInfo": {
                "metricName": "compute.googleapis.com/cpus",
                "limitName": "CPUS-per-project-region",
                "dimensions": {"region": region},
                "limit": 8
            }}]
        })
    });
    let failing = fail.is_some();
    let op = st.new_op(
        project,
        &format!("zones/{zone}"),
        "insert",
        &instance,
        Action::InsertInstance(zone.into(), name.clone(), fail),
    );
    if !failing {
        let op_name = op["name"].as_str().map(str::to_string);
        use_addresses(st, project, &instance, true);
        st.instances.insert(key(project, zone, &name), crate::state::Instance { json: instance, op: op_name });
    }
    Ok(op)
}

/// Marks the reserved addresses an instance uses as IN_USE (or frees them).
fn use_addresses(st: &mut State, project: &str, instance: &Value, using: bool) {
    let zone = after(instance["zone"].as_str().unwrap_or_default(), "zones/").unwrap_or_default().to_string();
    let region = region_of(&zone).to_string();
    let nic = &instance["networkInterfaces"][0];
    let mut ips: Vec<String> = nic["networkIP"].as_str().map(str::to_string).into_iter().collect();
    ips.extend(
        nic["accessConfigs"].as_array().into_iter().flatten().filter_map(|a| a["natIP"].as_str().map(str::to_string)),
    );
    for ((p, r, _), a) in st.addresses.iter_mut() {
        if p != project || *r != region || !ips.iter().any(|ip| a.json["address"] == ip.as_str()) {
            continue;
        }
        if using {
            a.json["users"] = json!([instance["selfLink"]]);
            a.json["status"] = json!("IN_USE");
        } else if a.json["users"].as_array().is_some_and(|u| u.contains(&instance["selfLink"])) {
            a.json.as_object_mut().map(|o| o.remove("users"));
            a.json["status"] = json!("RESERVED");
        }
    }
}

/// The instance, after one tick of the operation changing it.
fn read(st: &mut State, project: &str, zone: &str, name: &str) -> Result<Value, ApiError> {
    check_zone(zone)?;
    let k = key(project, zone, name);
    let op = st.instances.get(&k).ok_or_else(|| ApiError::not_found(&path(project, zone, name)))?.op.clone();
    if let Some(op) = op {
        st.tick(&op);
    }
    st.instances.get(&k).map(|i| i.json.clone()).ok_or_else(|| ApiError::not_found(&path(project, zone, name)))
}

/// GET `zones/{zone}/instances/{name}`.
pub fn get(st: &mut State, project: &str, zone: &str, name: &str) -> Result<Value, ApiError> {
    read(st, project, zone, name)
}

/// `maxResults` and `pageToken` → (offset, page size).
pub fn page(query: &[(String, String)]) -> Result<(Filter, usize, usize), ApiError> {
    let q = |k: &str| query.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let filter = Filter::parse(q("filter").unwrap_or_default()).map_err(|e| {
        ApiError::invalid(format!("Invalid value for field 'filter': '{}'. {e}", q("filter").unwrap_or_default()))
    })?;
    let max = match q("maxResults") {
        None => 500,
        Some(m) => match m.parse::<usize>() {
            Ok(n) if n <= 500 => n,
            _ => {
                return Err(ApiError::invalid(format!(
                    "Invalid value for field 'maxResults': '{m}'. Must be less than or equal to 500"
                )))
            }
        },
    };
    let offset = match q("pageToken").filter(|t| !t.is_empty()) {
        None => 0,
        Some(t) => base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(t)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|s| s.strip_prefix("offset:").and_then(|n| n.parse().ok()))
            .ok_or_else(|| ApiError::invalid(format!("Invalid value for field 'pageToken': '{t}'")))?,
    };
    Ok((filter, offset, if max == 0 { 500 } else { max }))
}

/// The token of the page starting at `offset`.
pub fn token(offset: usize) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("offset:{offset}"))
}

/// GET `zones/{zone}/instances`.
pub fn list(st: &mut State, project: &str, zone: &str, query: &[(String, String)]) -> Result<Value, ApiError> {
    check_zone(zone)?;
    let (filter, offset, max) = page(query)?;
    let all: Vec<Value> = st
        .instances
        .iter()
        .filter(|((p, z, _), i)| p == project && z == zone && filter.matches(&i.json))
        .map(|(_, i)| i.json.clone())
        .collect();
    Ok(list_page("compute#instanceList", &format!("projects/{project}/zones/{zone}/instances"), &all, offset, max))
}

/// One page of a plain (not aggregated) list: `items` from `offset`, at most `max`, and the
/// token of the next page when there is one.
pub fn list_page(kind: &str, path: &str, all: &[Value], offset: usize, max: usize) -> Value {
    let mut out = json!({"kind": kind, "id": path, "selfLink": format!("{API_BASE}/{path}")});
    let items: Vec<Value> = all.iter().skip(offset).take(max).cloned().collect();
    if !items.is_empty() {
        out["items"] = Value::Array(items);
    }
    if offset + max < all.len() {
        out["nextPageToken"] = json!(token(offset + max));
    }
    out
}

/// GET `aggregated/instances`: pages over all zones; a zone without results on the page
/// carries a `NO_RESULTS_ON_PAGE` warning.
pub fn aggregated(st: &mut State, project: &str, query: &[(String, String)]) -> Result<Value, ApiError> {
    let (filter, offset, max) = page(query)?;
    let all: Vec<(String, Value)> = st
        .instances
        .iter()
        .filter(|((p, _, _), i)| p == project && filter.matches(&i.json))
        .map(|((_, z, _), i)| (z.clone(), i.json.clone()))
        .collect();
    let mut items = serde_json::Map::new();
    for z in ZONES {
        let here: Vec<Value> =
            all.iter().skip(offset).take(max).filter(|(zone, _)| zone == z).map(|(_, i)| i.clone()).collect();
        let scope = format!("zones/{z}");
        items.insert(
            scope.clone(),
            if here.is_empty() {
                json!({"warning": {
                    "code": "NO_RESULTS_ON_PAGE",
                    "message": format!("There are no results for scope '{scope}' on this page."),
                    "data": [{"key": "scope", "value": scope}],
                }})
            } else {
                json!({"instances": here})
            },
        );
    }
    let mut out = json!({
        "kind": "compute#instanceAggregatedList",
        "id": format!("projects/{project}/aggregated/instances"),
        "items": items,
        "selfLink": format!("{API_BASE}/projects/{project}/aggregated/instances"),
    });
    if offset + max < all.len() {
        out["nextPageToken"] = json!(token(offset + max));
    }
    Ok(out)
}

/// Starts an operation on an existing instance (finishing the one under way first).
fn change(
    st: &mut State,
    project: &str,
    zone: &str,
    name: &str,
    kind: &str,
    action: Action,
) -> Result<Value, ApiError> {
    check_zone(zone)?;
    let k = key(project, zone, name);
    let previous = st.instances.get(&k).ok_or_else(|| ApiError::not_found(&path(project, zone, name)))?.op.clone();
    st.finish(previous);
    let json =
        st.instances.get(&k).map(|i| i.json.clone()).ok_or_else(|| ApiError::not_found(&path(project, zone, name)))?;
    let status = json["status"].as_str().unwrap_or_default().to_string();
    let next = match (&action, status.as_str()) {
        (Action::StopInstance(..), "RUNNING") | (Action::DeleteInstance(..), _) => Some("STOPPING"),
        (Action::StartInstance(..), "TERMINATED") => Some("STAGING"),
        (Action::StartInstance(..), "RUNNING") | (Action::StopInstance(..), "TERMINATED") => None,
        (Action::StartInstance(..), _) | (Action::StopInstance(..), _) => {
            return Err(ApiError::not_ready(&path(project, zone, name)))
        }
        _ => None,
    };
    let op = st.new_op(project, &format!("zones/{zone}"), kind, &json, action);
    if let Some(i) = st.instances.get_mut(&k) {
        if let Some(s) = next {
            i.json["status"] = json!(s);
        }
        i.op = op["name"].as_str().map(str::to_string);
    }
    Ok(op)
}

/// DELETE `zones/{zone}/instances/{name}`.
pub fn delete(st: &mut State, project: &str, zone: &str, name: &str) -> Result<Value, ApiError> {
    change(st, project, zone, name, "delete", Action::DeleteInstance(zone.into(), name.into()))
}

/// POST `.../start`.
pub fn start(st: &mut State, project: &str, zone: &str, name: &str) -> Result<Value, ApiError> {
    change(st, project, zone, name, "start", Action::StartInstance(zone.into(), name.into()))
}

/// POST `.../stop`.
pub fn stop(st: &mut State, project: &str, zone: &str, name: &str) -> Result<Value, ApiError> {
    change(st, project, zone, name, "stop", Action::StopInstance(zone.into(), name.into()))
}

/// POST `.../setLabels` (`{"labels": {...}, "labelFingerprint": "..."}`).
pub fn set_labels(st: &mut State, project: &str, zone: &str, name: &str, body: Value) -> Result<Value, ApiError> {
    check_zone(zone)?;
    check_labels("labels", &body["labels"])?;
    let k = key(project, zone, name);
    let i = st.instances.get_mut(&k).ok_or_else(|| ApiError::not_found(&path(project, zone, name)))?;
    if body["labelFingerprint"] != i.json["labelFingerprint"] {
        return Err(ApiError::stale("Labels fingerprint either invalid or resource labels have changed"));
    }
    let labels = if body["labels"].is_object() { body["labels"].clone() } else { json!({}) };
    i.json["labelFingerprint"] = json!(fingerprint(&labels));
    i.json["labels"] = labels;
    let json = i.json.clone();
    Ok(st.new_op(project, &format!("zones/{zone}"), "setLabels", &json, Action::Nothing))
}

/// POST `.../setTags` (`{"items": [...], "fingerprint": "..."}`).
pub fn set_tags(st: &mut State, project: &str, zone: &str, name: &str, body: Value) -> Result<Value, ApiError> {
    check_zone(zone)?;
    let k = key(project, zone, name);
    let i = st.instances.get_mut(&k).ok_or_else(|| ApiError::not_found(&path(project, zone, name)))?;
    if body["fingerprint"] != i.json["tags"]["fingerprint"] {
        return Err(ApiError::stale("Supplied fingerprint does not match current tags fingerprint"));
    }
    let items: Vec<Value> = body["items"].as_array().cloned().unwrap_or_default();
    for t in &items {
        let t = t.as_str().unwrap_or_default();
        if !valid_name(t) {
            return Err(name_error("tags.items", t));
        }
    }
    i.json["tags"] = json!({"fingerprint": fingerprint(&json!(items))});
    if !items.is_empty() {
        i.json["tags"]["items"] = Value::Array(items);
    }
    let json = i.json.clone();
    Ok(st.new_op(project, &format!("zones/{zone}"), "setTags", &json, Action::Nothing))
}

/// An ed25519 public key (OpenSSH wire format, base64) made from a seed: what a guest agent
/// would publish. The 32 key bytes are pseudo-random, not a key anyone holds.
fn host_key(seed: u64) -> String {
    let mut blob = Vec::new();
    blob.extend_from_slice(&11u32.to_be_bytes());
    blob.extend_from_slice(b"ssh-ed25519");
    blob.extend_from_slice(&32u32.to_be_bytes());
    let mut x = seed;
    for _ in 0..4 {
        // splitmix64
        x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = x;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        blob.extend_from_slice(&(z ^ (z >> 31)).to_be_bytes());
    }
    base64::engine::general_purpose::STANDARD.encode(blob)
}

/// GET `.../getGuestAttributes?queryPath=hostkeys/`: the host keys the guest agent
/// publishes once the instance runs, when its metadata has `enable-guest-attributes=TRUE`.
pub fn guest_attributes(
    st: &mut State,
    project: &str,
    zone: &str,
    name: &str,
    query: &[(String, String)],
) -> Result<Value, ApiError> {
    let json = read(st, project, zone, name)?;
    let query_path = query.iter().find(|(k, _)| k == "queryPath").map(|(_, v)| v.as_str()).unwrap_or_default();
    let enabled = json["metadata"]["items"].as_array().into_iter().flatten().any(|i| {
        i["key"] == "enable-guest-attributes" && i["value"].as_str().is_some_and(|v| v.eq_ignore_ascii_case("true"))
    });
    let not_found = || ApiError::not_found(&format!("{}/guestAttributes/{query_path}", path(project, zone, name)));
    if !enabled || json["status"] != "RUNNING" || st.faults.no_hostkeys.contains(name) || query_path != "hostkeys/" {
        return Err(not_found());
    }
    let seed = json["id"].as_str().and_then(|s| s.parse().ok()).unwrap_or(0u64);
    Ok(json!({
        "kind": "compute#guestAttributes",
        "queryPath": query_path,
        "queryValue": {"items": [{"namespace": "hostkeys", "key": "ssh-ed25519", "value": host_key(seed)}]},
        "selfLink": format!("{}/getGuestAttributes", json["selfLink"].as_str().unwrap_or_default()),
    }))
}

/// Effects when an operation starts running.
pub fn on_running(st: &mut State, project: &str, action: &Action) {
    if let Action::InsertInstance(zone, name, None) = action {
        if let Some(i) = st.instances.get_mut(&key(project, zone, name)) {
            i.json["status"] = json!("STAGING");
        }
    }
}

/// Effects when an operation finishes.
pub fn on_done(st: &mut State, project: &str, action: &Action) {
    match action {
        Action::InsertInstance(zone, name, None) | Action::StartInstance(zone, name) => {
            let k = key(project, zone, name);
            let Some(status) = st.instances.get(&k).map(|i| i.json["status"].clone()) else { return };
            if status == "TERMINATED" || status == "STOPPING" {
                return;
            }
            // A started instance gets a new ephemeral external address.
            let needs_ip = st.instances.get(&k).is_some_and(|i| {
                i.json["networkInterfaces"][0]["accessConfigs"]
                    .as_array()
                    .is_some_and(|a| a.iter().any(|c| c["natIP"].is_null()))
            });
            let ip = needs_ip.then(|| st.ephemeral_ip());
            if let Some(i) = st.instances.get_mut(&k) {
                i.json["status"] = json!("RUNNING");
                i.json["lastStartTimestamp"] = json!(timestamp());
                i.op = None;
                if let Some(ip) = ip {
                    for ac in i.json["networkInterfaces"][0]["accessConfigs"].as_array_mut().into_iter().flatten() {
                        if ac["natIP"].is_null() {
                            ac["natIP"] = json!(ip);
                        }
                    }
                }
            }
        }
        Action::StopInstance(zone, name) => {
            let k = key(project, zone, name);
            let reserved: Vec<String> = st
                .addresses
                .iter()
                .filter(|((p, _, _), _)| p == project)
                .filter_map(|(_, a)| a.json["address"].as_str().map(str::to_string))
                .collect();
            if let Some(i) = st.instances.get_mut(&k) {
                i.json["status"] = json!("TERMINATED");
                i.json["lastStopTimestamp"] = json!(timestamp());
                i.op = None;
                // Ephemeral external addresses are released on stop; reserved ones stay.
                for ac in i.json["networkInterfaces"][0]["accessConfigs"].as_array_mut().into_iter().flatten() {
                    if ac["natIP"].as_str().is_some_and(|ip| !reserved.iter().any(|r| r == ip)) {
                        ac.as_object_mut().map(|o| o.remove("natIP"));
                    }
                }
            }
        }
        Action::DeleteInstance(zone, name) => {
            if let Some(i) = st.instances.remove(&key(project, zone, name)) {
                use_addresses(st, project, &i.json, false);
                crate::disks::instance_deleted(st, project, &i.json);
            }
        }
        Action::InsertInstance(_, _, Some(_))
        | Action::InsertAddress(..)
        | Action::DeleteAddress(..)
        | Action::InsertDisk(..)
        | Action::DeleteDisk(..)
        | Action::AttachDisk(..)
        | Action::DetachDisk(..)
        | Action::DeleteFirewall(..)
        | Action::Nothing => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_references() {
        assert!(valid_image("projects/debian-cloud/global/images/family/debian-12"));
        assert!(valid_image(&format!("{API_BASE}/projects/debian-cloud/global/images/debian-12-bookworm-v20240110")));
        assert!(!valid_image("debian-12"));
    }

    #[test]
    fn host_keys_decode_as_ed25519() {
        let b = base64::engine::general_purpose::STANDARD.decode(host_key(7)).expect("base64");
        assert_eq!(&b[4..15], b"ssh-ed25519");
        assert_eq!(b.len(), 4 + 11 + 4 + 32);
        assert_ne!(host_key(7), host_key(8));
    }
}
