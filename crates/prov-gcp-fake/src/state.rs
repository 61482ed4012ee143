//! The fake's state: instances, addresses and operations of any number of projects, the
//! address pools, and the faults to inject. Handlers lock it once per request.

use crate::error::ApiError;
use base64::Engine;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{SystemTime, UNIX_EPOCH};

/// Where resources' links point, as on the real API.
pub const API_BASE: &str = "https://www.googleapis.com/compute/v1";

/// Zones the fake knows (its regions are these without the last `-x`).
pub const ZONES: &[&str] = &[
    "us-central1-a",
    "us-central1-b",
    "us-central1-c",
    "us-central1-f",
    "us-east1-b",
    "us-east1-c",
    "us-east1-d",
    "europe-west1-b",
    "europe-west1-c",
    "europe-west1-d",
    "europe-west4-a",
    "europe-west4-b",
    "europe-west4-c",
    "asia-east1-a",
    "asia-east1-b",
    "asia-east1-c",
];

/// Machine types the fake knows (in every zone).
pub const MACHINE_TYPES: &[&str] = &[
    "e2-micro",
    "e2-small",
    "e2-medium",
    "e2-standard-2",
    "e2-standard-4",
    "e2-standard-8",
    "n1-standard-1",
    "n1-standard-2",
    "n1-standard-4",
    "n2-standard-2",
    "n2-standard-4",
    "f1-micro",
    "g1-small",
];

/// The region of a zone (`us-central1-a` → `us-central1`).
pub fn region_of(zone: &str) -> &str {
    zone.rsplit_once('-').map(|(r, _)| r).unwrap_or(zone)
}

/// The regions of [`ZONES`], in order.
pub fn regions() -> Vec<&'static str> {
    let mut out: Vec<&str> = Vec::new();
    for z in ZONES {
        let r = region_of(z);
        if !out.contains(&r) {
            out.push(r);
        }
    }
    out
}

/// The default subnetwork range of a region: 10.(128+i).0.0/20, hosts from .0.2.
pub fn subnet_of(region: &str) -> Option<[u8; 2]> {
    regions().iter().position(|r| *r == region).map(|i| [10, 128 + i as u8])
}

/// A known zone, or the API's error.
pub fn check_zone(zone: &str) -> Result<(), ApiError> {
    if ZONES.contains(&zone) {
        Ok(())
    } else {
        Err(ApiError::invalid(format!("Invalid value for field 'zone': '{zone}'. Unknown zone.")))
    }
}

/// A known region, or the API's error.
pub fn check_region(region: &str) -> Result<(), ApiError> {
    if regions().contains(&region) {
        Ok(())
    } else {
        Err(ApiError::invalid(format!("Invalid value for field 'region': '{region}'. Unknown region.")))
    }
}

/// RFC 1035 names, as the API requires for instances and addresses.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && !name.ends_with('-')
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// The API's name error.
pub fn name_error(field: &str, name: &str) -> ApiError {
    ApiError::invalid(format!(
        "Invalid value for field '{field}': '{name}'. Must be a match of regex '(?:[a-z](?:[-a-z0-9]{{0,61}}[a-z0-9])?)'"
    ))
}

/// Checks label keys and values (`[a-z][a-z0-9_-]{0,62}` / `[a-z0-9_-]{0,63}`).
pub fn check_labels(field: &str, labels: &Value) -> Result<(), ApiError> {
    let Some(m) = labels.as_object() else {
        return if labels.is_null() {
            Ok(())
        } else {
            Err(ApiError::invalid(format!("Invalid value for field '{field}'")))
        };
    };
    let ok = |s: &str| {
        s.len() <= 63 && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
    };
    for (k, v) in m {
        let v = v.as_str().unwrap_or("\u{0}");
        if !k.starts_with(|c: char| c.is_ascii_lowercase()) || !ok(k) || !ok(v) {
            return Err(ApiError::invalid(format!(
                "Invalid value for field '{field}': ''. Label key '{k}' or value '{v}' violates format constraints. \
                 The key must start with a lowercase character, can only contain lowercase letters, numeric \
                 characters, underscores and dashes. The key can be at most 63 characters long. International \
                 characters are allowed."
            )));
        }
    }
    Ok(())
}

/// Now as the API writes timestamps.
pub fn timestamp() -> String {
    let d = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}-00:00",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        d.subsec_millis()
    )
}

/// A fingerprint of some content: 8 bytes, URL-safe base64 as the API sends them.
pub fn fingerprint(content: &Value) -> String {
    // FNV-1a over the canonical JSON.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in content.to_string().bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    base64::engine::general_purpose::URL_SAFE.encode(h.to_be_bytes())
}

/// Lifecycle step of an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Accepted.
    Pending,
    /// Under way.
    Running,
    /// Finished (maybe with an error).
    Done,
}

/// What an operation does when it runs and when it finishes.
#[derive(Debug, Clone)]
pub enum Action {
    /// Insert of instance (zone, name); `fail` is the operation error to end with.
    InsertInstance(String, String, Option<Value>),
    /// Start of instance (zone, name).
    StartInstance(String, String),
    /// Stop of instance (zone, name).
    StopInstance(String, String),
    /// Delete of instance (zone, name).
    DeleteInstance(String, String),
    /// Insert of address (region, name).
    InsertAddress(String, String),
    /// Delete of address (region, name).
    DeleteAddress(String, String),
    /// Insert of disk (zone, name).
    InsertDisk(String, String),
    /// Delete of disk (zone, name).
    DeleteDisk(String, String),
    /// Delete of firewall rule (name).
    DeleteFirewall(String),
    /// Attach to instance (zone, name) of this AttachedDisk.
    AttachDisk(String, String, Value),
    /// Detach from instance (zone, name) of the disk with this device name.
    DetachDisk(String, String, String),
    /// Done at once when it finishes (setLabels, setTags).
    Nothing,
}

/// An operation.
#[derive(Debug, Clone)]
pub struct Op {
    /// The project.
    pub project: String,
    /// The resource as sent.
    pub json: Value,
    /// Where it is.
    pub step: Step,
    /// Its effect.
    pub action: Action,
}

/// An instance.
#[derive(Debug, Clone)]
pub struct Instance {
    /// The resource as sent.
    pub json: Value,
    /// The operation that is changing it.
    pub op: Option<String>,
}

/// An address.
#[derive(Debug, Clone)]
pub struct Address {
    /// The resource as sent.
    pub json: Value,
    /// The operation that is changing it.
    pub op: Option<String>,
}

/// A firewall rule.
#[derive(Debug, Clone)]
pub struct Firewall {
    /// The resource as sent.
    pub json: Value,
    /// The operation that is changing it.
    pub op: Option<String>,
}

/// A disk.
#[derive(Debug, Clone)]
pub struct Disk {
    /// The resource as sent.
    pub json: Value,
    /// The operation that is changing it.
    pub op: Option<String>,
}

/// Faults to inject.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    /// Instance names whose next insert ends with a QUOTA_EXCEEDED operation error.
    pub quota: BTreeSet<String>,
    /// Throttling: (HTTP status 429 or 503, how many more requests get it).
    pub throttle: Option<(u16, u32)>,
    /// Instance names whose guest agent publishes no host keys.
    pub no_hostkeys: BTreeSet<String>,
}

/// Counters for tests.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct Stats {
    /// Requests served (admin requests excluded).
    pub requests: u64,
    /// Of which were refused by a throttling fault.
    pub throttled: u64,
    /// Instance inserts accepted.
    pub inserts: u64,
}

/// Everything the fake holds. Keys are (project, zone or region, name).
#[derive(Debug, Default)]
pub struct State {
    /// Instances.
    pub instances: BTreeMap<(String, String, String), Instance>,
    /// Addresses.
    pub addresses: BTreeMap<(String, String, String), Address>,
    /// Disks.
    pub disks: BTreeMap<(String, String, String), Disk>,
    /// Firewall rules by (project, name).
    pub firewalls: BTreeMap<(String, String), Firewall>,
    /// Operations by name.
    pub ops: HashMap<String, Op>,
    /// Faults.
    pub faults: Faults,
    /// Counters.
    pub stats: Stats,
    /// Operation names by the `requestId` that made them.
    pub request_ids: HashMap<String, String>,
    ephemeral_seq: u32,
    static_seq: u32,
}

impl State {
    /// A new numeric id (sent as a string), unique across every fake of the process as
    /// Google's are across projects (clients key state such as known_hosts by it).
    pub fn id(&mut self) -> u64 {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        4_210_000_000_000_000_000 + (u64::from(std::process::id()) << 20) + n * 7919
    }

    /// An ephemeral external address (TEST-NET-2; never routed).
    pub fn ephemeral_ip(&mut self) -> String {
        self.ephemeral_seq += 1;
        let n = self.ephemeral_seq;
        format!("198.51.{}.{}", 100 + (n / 250) % 100, n % 250 + 2)
    }

    /// A new static external address (TEST-NET-3; never routed).
    pub fn static_ip(&mut self) -> String {
        loop {
            self.static_seq += 1;
            let n = self.static_seq;
            let ip = format!("203.0.{}.{}", 113 + (n / 250) % 10, n % 250 + 2);
            if !self.addresses.values().any(|a| a.json["address"] == ip.as_str()) {
                return ip;
            }
        }
    }

    /// Internal addresses in use in a region of a project (instances and reservations).
    pub fn internal_used(&self, project: &str, region: &str) -> BTreeSet<String> {
        let mut used: BTreeSet<String> = self
            .instances
            .iter()
            .filter(|((p, z, _), _)| p == project && region_of(z) == region)
            .filter_map(|(_, i)| i.json["networkInterfaces"][0]["networkIP"].as_str().map(str::to_string))
            .collect();
        used.extend(
            self.addresses
                .iter()
                .filter(|((p, r, _), a)| p == project && r == region && a.json["addressType"] == "INTERNAL")
                .filter_map(|(_, a)| a.json["address"].as_str().map(str::to_string)),
        );
        used
    }

    /// The next free internal address of a region.
    pub fn internal_ip(&self, project: &str, region: &str) -> Option<String> {
        let [a, b] = subnet_of(region)?;
        let used = self.internal_used(project, region);
        (2..4094u32)
            .map(|n| format!("{a}.{b}.{}.{}", n / 256, n % 256))
            .find(|ip| !used.contains(ip) && !ip.ends_with(".0") && !ip.ends_with(".255"))
    }

    /// A new operation on `target` (a resource URL) in `scope` (`zones/z`, `regions/r` or
    /// `global`).
    pub fn new_op(&mut self, project: &str, scope: &str, kind: &str, target: &Value, action: Action) -> Value {
        let id = self.id();
        let name = format!(
            "operation-{}-{:013x}-{:08x}",
            SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or(0),
            id,
            id % 0xffff_ffff
        );
        let (scope_key, scope_name) = scope.split_once('/').unwrap_or(("zones", scope));
        let scope_field = if scope_key == "zones" { "zone" } else { "region" };
        let scope_path = if scope == "global" { "global".to_string() } else { format!("{scope_key}/{scope_name}") };
        let mut json = json!({
            "kind": "compute#operation",
            "id": id.to_string(),
            "name": name,
            "operationType": kind,
            "targetLink": target["selfLink"],
            "targetId": target["id"],
            "status": "PENDING",
            "user": "prov-gcp-fake@example.invalid",
            "progress": 0,
            "insertTime": timestamp(),
            "selfLink": format!("{API_BASE}/projects/{project}/{scope_path}/operations/{name}"),
        });
        if scope != "global" {
            json[scope_field] = json!(format!("{API_BASE}/projects/{project}/{scope_path}"));
        }
        self.ops.insert(name, Op { project: project.to_string(), json: json.clone(), step: Step::Pending, action });
        json
    }

    /// Moves an operation one step (PENDING → RUNNING → DONE) and applies its effects.
    pub fn tick(&mut self, name: &str) {
        let Some(op) = self.ops.get_mut(name) else { return };
        let project = op.project.clone();
        let action = op.action.clone();
        match op.step {
            Step::Pending => {
                op.step = Step::Running;
                op.json["status"] = json!("RUNNING");
                op.json["progress"] = json!(0);
                op.json["startTime"] = json!(timestamp());
                crate::instances::on_running(self, &project, &action);
            }
            Step::Running => {
                op.step = Step::Done;
                op.json["status"] = json!("DONE");
                op.json["progress"] = json!(100);
                op.json["endTime"] = json!(timestamp());
                if let Action::InsertInstance(_, _, Some(error)) = &action {
                    op.json["error"] = json!({"errors": [error]});
                    op.json["httpErrorStatusCode"] = json!(403);
                    op.json["httpErrorMessage"] = json!("FORBIDDEN");
                }
                crate::instances::on_done(self, &project, &action);
                crate::addresses::on_done(self, &project, &action);
                crate::disks::on_done(self, &project, &action);
                crate::firewalls::on_done(self, &project, &action);
            }
            Step::Done => {}
        }
    }

    /// Finishes an operation at once (used when another one starts on the same resource).
    pub fn finish(&mut self, name: Option<String>) {
        if let Some(name) = name {
            self.tick(&name);
            self.tick(&name);
        }
    }
}
