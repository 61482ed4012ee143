//! Between prov's [`Instance`]/[`InstanceSpec`] and Compute Engine's resources.

use crate::{Instance, InstanceSpec, InstanceState, Labels, ProviderError, LABEL_GROUP, LABEL_NAME, LABEL_PROJECT};
use google_cloud_compute_v1::model::{
    self, instance::Status, AccessConfig, AttachedDisk, AttachedDiskInitializeParams, Metadata, NetworkInterface, Tags,
};
use std::net::IpAddr;

/// The user prov logs in as (made by the guest agent from the `ssh-keys` metadata, with
/// passwordless sudo).
pub const LOGIN_USER: &str = "prov";

/// Metadata key holding the image a VM was created from (the instance resource does not say).
pub const IMAGE_KEY: &str = "prov-image";

/// The region of a zone (`us-central1-a` → `us-central1`).
pub fn region_of(zone: &str) -> &str {
    zone.rsplit_once('-').map(|(r, _)| r).unwrap_or(zone)
}

/// Whether an address is private (RFC 1918 / unique local): an INTERNAL reservation.
pub fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v) => v.is_private(),
        IpAddr::V6(v) => (v.segments()[0] & 0xfe00) == 0xfc00,
    }
}

fn last_segment(url: Option<&str>) -> Option<String> {
    url.and_then(|u| u.rsplit('/').next()).filter(|s| !s.is_empty()).map(str::to_string)
}

/// Fields of the instance resource that Ansible's `gcp_compute` inventory gives each host,
/// under the API's names, so `compose` and `keyed_groups` expressions of ported files work
/// (`networkInterfaces[0].accessConfigs[0].natIP`, `labels.env`, `machineType`, ...).
const GCP_COMPUTE_VARS: &[&str] = &[
    "name",
    "id",
    "status",
    "machineType",
    "zone",
    "labels",
    "tags",
    "networkInterfaces",
    "selfLink",
    "creationTimestamp",
    "cpuPlatform",
    "description",
];

/// prov's view of an instance. `details` has `zone`, `self_link`, `tags`, `status`,
/// `static_address`, and `vars`: the host variables of [`GCP_COMPUTE_VARS`].
pub fn instance_from(i: &model::Instance) -> Instance {
    let state = match &i.status {
        Some(Status::Provisioning | Status::Staging | Status::Pending | Status::Repairing) => InstanceState::Pending,
        Some(Status::Running) => InstanceState::Running,
        Some(Status::Stopping | Status::Suspending | Status::PendingStop | Status::Deprovisioning) => {
            InstanceState::Stopping
        }
        Some(Status::Terminated | Status::Stopped | Status::Suspended) => InstanceState::Stopped,
        Some(other) => InstanceState::Other(other.name().unwrap_or("unknown").to_ascii_lowercase()),
        None => InstanceState::Other("unknown".into()),
    };
    let nic = i.network_interfaces.first();
    let private_ip = nic.and_then(|n| n.network_ip.as_deref()).and_then(|s| s.parse().ok());
    let public_ip =
        nic.and_then(|n| n.access_configs.iter().find_map(|a| a.nat_ip.as_deref())).and_then(|s| s.parse().ok());
    let image = i
        .metadata
        .as_ref()
        .and_then(|m| m.items.iter().find(|it| it.key.as_deref() == Some(IMAGE_KEY)))
        .and_then(|it| it.value.clone());
    let labels: Labels = i.labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    let name = i.name.clone().unwrap_or_default();
    let raw = serde_json::to_value(i).unwrap_or_default();
    let vars: serde_json::Map<String, serde_json::Value> =
        GCP_COMPUTE_VARS.iter().filter_map(|k| raw.get(*k).map(|v| (k.to_string(), v.clone()))).collect();
    Instance {
        name: labels.get(LABEL_NAME).cloned().unwrap_or_else(|| name.clone()),
        id: i.id.map(|id| id.to_string()).unwrap_or_default(),
        state,
        private_ip,
        public_ip,
        machine_type: last_segment(i.machine_type.as_deref()),
        details: serde_json::json!({
            "instance_name": name,
            "zone": last_segment(i.zone.as_deref()),
            "self_link": i.self_link,
            "status": i.status.as_ref().and_then(|s| s.name()),
            "tags": i.tags.as_ref().map(|t| t.items.clone()).unwrap_or_default(),
            "network": nic.and_then(|n| last_segment(n.network.as_deref())),
            "vars": vars,
        }),
        image,
        labels,
    }
}

/// The labels of a new instance: the spec's, checked against the project, with
/// `prov-project` and `prov-name` set.
pub fn labels_for(spec: &InstanceSpec, project: &str) -> Result<Labels, ProviderError> {
    let mut labels = spec.labels.clone();
    if let Some(p) = labels.get(LABEL_PROJECT) {
        if p != project {
            return Err(ProviderError::Invalid(format!(
                "VM `{}` has label {LABEL_PROJECT}={p}, but this provider is for project `{project}`",
                spec.name
            )));
        }
    }
    labels.insert(LABEL_PROJECT.into(), project.to_string());
    labels.insert(LABEL_NAME.into(), crate::label_value(&spec.name));
    Ok(labels)
}

/// Where a new instance goes.
#[derive(Debug)]
pub struct Placement<'a> {
    /// Zone.
    pub zone: &'a str,
    /// Region (of the zone).
    pub region: &'a str,
    /// VPC network name.
    pub network: &'a str,
    /// Subnetwork name (the network's auto subnet when `None`).
    pub subnet: Option<&'a str>,
}

/// The insert body of a new instance.
pub fn instance_body(
    spec: &InstanceSpec,
    at: &Placement<'_>,
    labels: &Labels,
    project: &str,
    image: &str,
    address: Option<&model::Address>,
) -> model::Instance {
    let machine_type = spec.machine_type.as_deref().unwrap_or("e2-small");
    let mut tags: Vec<String> = labels.get(LABEL_GROUP).cloned().into_iter().collect();
    tags.push(format!("prov-{project}"));
    let mut nic = NetworkInterface::new().set_network(format!("global/networks/{}", at.network));
    if let Some(s) = at.subnet {
        nic = nic.set_subnetwork(format!("regions/{}/subnetworks/{s}", at.region));
    }
    let mut access = AccessConfig::new().set_name("External NAT").set_type(model::access_config::Type::OneToOneNat);
    match address {
        Some(a) if a.address_type == Some(model::address::AddressType::Internal) => {
            nic = nic.set_network_ip(a.address.clone().unwrap_or_default());
        }
        Some(a) => access = access.set_nat_ip(a.address.clone().unwrap_or_default()),
        None => {}
    }
    nic = nic.set_access_configs([access]);
    let mut items = vec![
        model::metadata::Items::new().set_key("enable-guest-attributes").set_value("TRUE"),
        model::metadata::Items::new().set_key(IMAGE_KEY).set_value(image),
    ];
    if !spec.authorized_keys.is_empty() {
        // The guest agent makes the user (with passwordless sudo) and installs the keys of
        // `user:key` lines from `ssh-keys`; root logins are off on Google's images.
        let lines: Vec<String> = spec.authorized_keys.iter().map(|k| format!("{LOGIN_USER}:{}", k.trim())).collect();
        items.push(model::metadata::Items::new().set_key("ssh-keys").set_value(lines.join("\n")));
    }
    model::Instance::new()
        .set_name(&spec.name)
        .set_description(format!("prov project {project}"))
        .set_machine_type(format!("zones/{}/machineTypes/{machine_type}", at.zone))
        .set_labels(labels.clone())
        .set_tags(Tags::new().set_items(tags))
        .set_metadata(Metadata::new().set_items(items))
        .set_disks([AttachedDisk::new()
            .set_boot(true)
            .set_auto_delete(true)
            .set_initialize_params(AttachedDiskInitializeParams::new().set_source_image(image))])
        .set_network_interfaces([nic])
}

/// `algo base64` lines of the `hostkeys/` guest attributes (ed25519 first).
pub fn host_keys(a: &model::GuestAttributes) -> Vec<String> {
    let mut keys: Vec<String> = a
        .query_value
        .as_ref()
        .map(|v| {
            v.items
                .iter()
                .filter(|e| e.namespace.as_deref().unwrap_or("hostkeys") == "hostkeys")
                .filter_map(|e| Some(format!("{} {}", e.key.as_deref()?, e.value.as_deref()?.trim())))
                .collect()
        })
        .unwrap_or_default();
    keys.sort_by_key(|k| !k.starts_with("ssh-ed25519"));
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_and_private_addresses() {
        assert_eq!(region_of("europe-west1-b"), "europe-west1");
        assert!(is_private("10.128.0.10".parse().expect("ip")));
        assert!(!is_private("203.0.113.5".parse().expect("ip")));
    }
}
