//! Between prov's words and EC2's: machine types, tags and filters, instances, user data.

use crate::{Instance, InstanceState, Labels, LABEL_NAME, LABEL_PROJECT};
use aws_sdk_ec2::types::{self as ec2, Filter, InstanceStateName, ResourceType, Tag, TagSpecification};
use base64::Engine as _;
use serde_json::json;

/// The instance type of a new VM without `machine_type`.
pub const DEFAULT_INSTANCE_TYPE: &str = "t3.micro";

/// The tag holding the machine type the VM was asked with (`e2-small` becomes `t3.small`).
pub const LABEL_MACHINE_TYPE: &str = "prov-machine-type";

/// GCP machine types of the shared VM list and the EC2 type of the same size.
const FROM_GCP: &[(&str, &str)] = &[
    ("e2-micro", "t3.micro"),
    ("e2-small", "t3.small"),
    ("e2-medium", "t3.medium"),
    ("e2-standard-2", "t3.large"),
    ("e2-standard-4", "t3.xlarge"),
    ("n1-standard-1", "t3.medium"),
    ("n1-standard-2", "m5.large"),
];

/// The EC2 instance type for a machine type: GCP names map to the EC2 type of the same
/// size, anything else is taken as an EC2 type (EC2 says when it does not exist).
pub fn instance_type(machine_type: Option<&str>) -> String {
    let t = machine_type.unwrap_or(DEFAULT_INSTANCE_TYPE);
    FROM_GCP.iter().find(|(g, _)| *g == t).map(|(_, a)| a.to_string()).unwrap_or_else(|| t.to_string())
}

/// EC2 filter names that `filters` passes through as they are (besides `tag:KEY` and
/// `tag-key`); any other key is a tag.
const EC2_FILTERS: &[&str] = &[
    "architecture",
    "availability-zone",
    "dns-name",
    "image-id",
    "instance-id",
    "instance-lifecycle",
    "instance-state-name",
    "instance-type",
    "ip-address",
    "key-name",
    "launch-time",
    "network-interface.addresses.private-ip-address",
    "placement-group-name",
    "platform",
    "private-dns-name",
    "private-ip-address",
    "subnet-id",
    "tag-key",
    "tag-value",
    "vpc-id",
];

/// States listed unless a filter says otherwise: terminated instances are gone for prov.
const LIVE_STATES: &[&str] = &["pending", "running", "stopping", "stopped"];

/// DescribeInstances filters for the project's instances matching `selector`: keys
/// `tag:KEY` and the EC2 filter names above pass through; any other key is a tag (so
/// `prov-group: workers` means `tag:prov-group: workers`). Several values of one filter are
/// separated by newlines (the inventory file's lists).
pub fn filters(project: &str, selector: &Labels) -> Vec<Filter> {
    let mut out = vec![Filter::builder().name(format!("tag:{LABEL_PROJECT}")).values(project).build()];
    let mut state_given = false;
    for (k, v) in selector {
        if k == LABEL_PROJECT {
            continue;
        }
        let name =
            if k.starts_with("tag:") || EC2_FILTERS.contains(&k.as_str()) { k.clone() } else { format!("tag:{k}") };
        state_given |= name == "instance-state-name";
        let values: Vec<String> = v.split('\n').map(str::to_string).collect();
        out.push(Filter::builder().name(name).set_values(Some(values)).build());
    }
    if !state_given {
        out.push(
            Filter::builder()
                .name("instance-state-name")
                .set_values(Some(LIVE_STATES.iter().map(|s| s.to_string()).collect()))
                .build(),
        );
    }
    out
}

/// Tags for a new resource: the labels plus `Name`.
pub fn tag_spec(kind: ResourceType, labels: &Labels, name: &str) -> TagSpecification {
    let mut b = TagSpecification::builder().resource_type(kind);
    for (k, v) in labels {
        b = b.tags(Tag::builder().key(k).value(v).build());
    }
    b.tags(Tag::builder().key("Name").value(name).build()).build()
}

/// The cloud-config that lets root log in with `keys` (cloud-init installs them for the
/// image's default user and, with `disable_root: false`, for root), base64 as RunInstances
/// wants it. Public keys only: user data is readable by whoever may describe the instance.
pub fn user_data(keys: &[String]) -> String {
    let mut text = String::from("#cloud-config\ndisable_root: false\nssh_authorized_keys:\n");
    for k in keys {
        text.push_str(&format!("  - {}\n", serde_json::Value::from(k.trim())));
    }
    base64::engine::general_purpose::STANDARD.encode(text)
}

/// The tags of an EC2 resource as labels.
pub fn tags(tags: &[Tag]) -> Labels {
    tags.iter().filter_map(|t| Some((t.key()?.to_string(), t.value().unwrap_or_default().to_string()))).collect()
}

/// An EC2 instance as prov sees it; `region` is where it was listed.
pub fn instance(i: &ec2::Instance, region: &str) -> Instance {
    let labels = tags(i.tags());
    let id = i.instance_id().unwrap_or_default().to_string();
    let name = labels.get(LABEL_NAME).or_else(|| labels.get("Name")).cloned().unwrap_or_else(|| id.clone());
    let state = match i.state().and_then(|s| s.name()) {
        Some(InstanceStateName::Pending) => InstanceState::Pending,
        Some(InstanceStateName::Running) => InstanceState::Running,
        Some(InstanceStateName::Stopping) => InstanceState::Stopping,
        Some(InstanceStateName::Stopped) => InstanceState::Stopped,
        Some(InstanceStateName::ShuttingDown) | Some(InstanceStateName::Terminated) => InstanceState::Terminated,
        Some(other) => InstanceState::Other(other.as_str().to_string()),
        None => InstanceState::Other("unknown".into()),
    };
    let private_ip = i.private_ip_address().and_then(|a| a.parse().ok());
    let public_ip = i.public_ip_address().and_then(|a| a.parse().ok());
    let instance_type = i.instance_type().map(|t| t.as_str().to_string());
    let zone = i.placement().and_then(|p| p.availability_zone()).map(str::to_string);
    let details = json!({
        "instance_id": id,
        "region": region,
        "availability_zone": zone,
        "instance_type": instance_type,
        "image_id": i.image_id(),
        "vpc_id": i.vpc_id(),
        "subnet_id": i.subnet_id(),
        "private_dns_name": i.private_dns_name(),
        "public_dns_name": i.public_dns_name(),
        "launch_time": i.launch_time().map(|t| t.to_string()),
        "security_groups": i.security_groups().iter().filter_map(|g| g.group_id()).collect::<Vec<_>>(),
        // Ansible aws_ec2's host variables, so ported compose/keyed_groups expressions work.
        "vars": {
            "instance_id": id,
            "instance_type": instance_type,
            "image_id": i.image_id(),
            "tags": labels,
            "placement": {"region": region, "availability_zone": zone},
            "private_ip_address": i.private_ip_address(),
            "public_ip_address": i.public_ip_address(),
            "private_dns_name": i.private_dns_name(),
            "public_dns_name": i.public_dns_name(),
            "state": {"name": i.state().and_then(|s| s.name()).map(|n| n.as_str().to_string())},
            "vpc_id": i.vpc_id(),
            "subnet_id": i.subnet_id(),
            // Reached on its public address when it has one (prov usually runs outside
            // the VPC); `compose: {ansible_host: private_ip}` when it runs inside.
            "ansible_host": i.public_ip_address().or(i.private_ip_address()),
        },
    });
    Instance {
        name,
        id,
        state,
        machine_type: labels.get(LABEL_MACHINE_TYPE).cloned().or(instance_type),
        image: i.image_id().map(str::to_string),
        private_ip,
        public_ip,
        labels,
        details,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn machine_types_map_to_the_same_size() {
        assert_eq!(instance_type(Some("e2-small")), "t3.small");
        assert_eq!(instance_type(Some("c5.xlarge")), "c5.xlarge");
        assert_eq!(instance_type(None), DEFAULT_INSTANCE_TYPE);
    }

    #[test]
    fn selector_keys_become_tag_or_ec2_filters() {
        let sel: Labels = [
            ("prov-project".to_string(), "demo".to_string()),
            ("prov-group".to_string(), "workers".to_string()),
            ("tag:Env".to_string(), "prod".to_string()),
            ("instance-type".to_string(), "t3.small\nt3.micro".to_string()),
        ]
        .into();
        let f: Vec<(String, Vec<String>)> =
            filters("demo", &sel).iter().map(|f| (f.name().unwrap_or("").into(), f.values().to_vec())).collect();
        let want = |n: &str, v: &[&str]| (n.to_string(), v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(
            f,
            vec![
                want("tag:prov-project", &["demo"]),
                want("instance-type", &["t3.small", "t3.micro"]),
                want("tag:prov-group", &["workers"]),
                want("tag:Env", &["prod"]),
                want("instance-state-name", LIVE_STATES),
            ]
        );
        let sel: Labels = [("instance-state-name".to_string(), "running".to_string())].into();
        assert_eq!(filters("demo", &sel).len(), 2, "a state filter replaces the default one");
    }

    #[test]
    fn user_data_lets_root_log_in_with_the_keys() {
        let text = base64::engine::general_purpose::STANDARD
            .decode(user_data(&["ssh-ed25519 AAAA me@x\n".to_string()]))
            .expect("base64");
        assert_eq!(
            String::from_utf8(text).expect("utf-8"),
            "#cloud-config\ndisable_root: false\nssh_authorized_keys:\n  - \"ssh-ed25519 AAAA me@x\"\n"
        );
    }
}
