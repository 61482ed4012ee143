//! Inventory files with `plugin: amazon.aws.aws_ec2`, read as amazon.aws's `aws_ec2`
//! inventory plugin reads them: every EC2 instance of the `regions` that the filters select
//! (not only prov's own), named by `hostnames`, in the group `aws_ec2`, with the instance's
//! description as host variables (boto3's names in snake case, `tags` as a mapping,
//! `placement.region`) and nothing of prov's (`ansible_host`, `ansible_user`, `prov_*` are not
//! set). This module holds what needs no SDK: the options, host names and variables; the
//! listing is `aws::ec2_inventory` (feature `aws`), which describes each instance as boto3
//! would ([`crate::aws`]`::boto3`).

use prov_core::diag::{did_you_mean, DiagKind, Diagnostic, Diagnostics};
use prov_core::template::py_truthy;
use prov_core::template::Templar;
use prov_core::yaml::{Node, NodeKind};
use serde_json::{Map, Value as Json};

/// The group every host of the file is in.
pub const GROUP: &str = "aws_ec2";

/// The names a file may give the plugin.
pub const NAMES: &[&str] = &["amazon.aws.aws_ec2", "aws_ec2"];

/// How the file's name must end (the plugin's `verify_file`: ansible-core reads no other).
pub const SUFFIXES: &[&str] = &["aws_ec2.yml", "aws_ec2.yaml"];

/// EC2's default state filter when the file gives none: every instance that is not
/// terminated or shutting down.
pub const DEFAULT_STATES: &[&str] = &["running", "pending", "stopping", "stopped"];

/// Keys of the file prov reads, besides the constructed ones (`compose`, `groups`,
/// `keyed_groups`, `strict`, `leading_separator`) that every plugin file has.
pub const KEYS: &[&str] = &[
    "plugin",
    "regions",
    "filters",
    "include_filters",
    "exclude_filters",
    "hostnames",
    "allow_duplicated_hosts",
    "strict_permissions",
    "hostvars_prefix",
    "hostvars_suffix",
    "use_contrib_script_compatible_ec2_tag_keys",
    "endpoint_url",
    "aws_endpoint_url",
    "endpoint",
    "cache",
    "cache_plugin",
    "cache_timeout",
    "cache_connection",
    "cache_prefix",
];

/// Credential keys: prov takes credentials from the environment (the SDK's standard chain:
/// `AWS_ACCESS_KEY_ID`, `AWS_PROFILE`, ...), never from the file; a file that sets one gets a
/// warning saying so.
pub const CREDENTIAL_KEYS: &[&str] = &[
    "access_key",
    "aws_access_key",
    "aws_access_key_id",
    "ec2_access_key",
    "secret_key",
    "aws_secret_key",
    "aws_secret_access_key",
    "ec2_secret_key",
    "session_token",
    "aws_session_token",
    "security_token",
    "aws_security_token",
    "profile",
    "aws_profile",
    "boto_profile",
    "iam_role_arn",
    "assume_role_arn",
    "region",
];

/// Keys of the plugin that prov does not implement: refused, with the reason.
pub const UNSUPPORTED_KEYS: &[&str] = &[
    "use_contrib_script_compatible_sanitization",
    "use_ssm_inventory",
    "route53_enabled",
    "route53_hostnames",
    "route53_excluded_zones",
    "use_extra_vars",
    "aws_ca_bundle",
    "aws_config",
    "validate_certs",
];

/// One `hostnames` entry.
#[derive(Debug, Clone, PartialEq)]
pub enum Hostname {
    /// An EC2 filter name (`dns-name`, `tag:Name`, `tag:Name=web`), maybe with a Jinja filter
    /// after `|`; any other text is the name itself.
    Pref(String),
    /// `{name, prefix, separator}`.
    Dict {
        /// The name's preference.
        name: String,
        /// A preference whose value goes before it.
        prefix: Option<String>,
        /// Between the two (default `_`).
        separator: String,
    },
}

/// A filter set: EC2 filter name and its values.
pub type Filters = Vec<(String, Vec<String>)>;

/// The plugin's own options.
#[derive(Debug, Clone, Default)]
pub struct Ec2Options {
    /// Regions to describe (empty: every region EC2 lists).
    pub regions: Vec<String>,
    /// One query per set: `filters` first, then `include_filters` (one empty set when none).
    pub include: Vec<Filters>,
    /// Instances any of these sets match are left out.
    pub exclude: Vec<Filters>,
    /// Host name preferences (empty: `dns-name`, then `private-dns-name`).
    pub hostnames: Vec<Hostname>,
    /// Every matching name of an instance is a host, not only the first.
    pub allow_duplicated_hosts: bool,
    /// An `UnauthorizedOperation` region fails the listing (else it is skipped).
    pub strict_permissions: bool,
    /// Put before / after every host variable's name.
    pub hostvars_prefix: String,
    /// See `hostvars_prefix`.
    pub hostvars_suffix: String,
    /// Also `ec2_tag_KEY` variables.
    pub contrib_tag_keys: bool,
    /// EC2 endpoint (`endpoint_url`).
    pub endpoint: Option<String>,
}

/// Reads the plugin's own keys of a file; the constructed keys are the caller's. Returns the
/// keys it did not take.
pub fn parse_options<'n>(
    entries: &'n [(Node, Node)],
    d: &mut Diagnostics,
    warnings: &mut Vec<Diagnostic>,
) -> (Ec2Options, Vec<&'n (Node, Node)>) {
    let mut o = Ec2Options { strict_permissions: true, ..Default::default() };
    let mut filters: Option<Filters> = None;
    let mut include = Vec::new();
    let mut rest = Vec::new();
    for entry in entries {
        let (k, v) = entry;
        let key = k.as_str().unwrap_or_default();
        let flag = |d: &mut Diagnostics| match v.kind {
            NodeKind::Bool(b) => b,
            _ => {
                d.push(Diagnostic::error(DiagKind::Invalid, v.span, format!("`{key}` is true or false")));
                false
            }
        };
        match key {
            "plugin" | "cache" | "cache_plugin" | "cache_timeout" | "cache_connection" | "cache_prefix" => {}
            "regions" => o.regions = crate::inventory::names(v, key, d),
            "filters" => filters = Some(filter_set(v, d)),
            "include_filters" | "exclude_filters" => {
                let sets: Vec<Filters> = match &v.kind {
                    NodeKind::Seq(items) => items.iter().map(|i| filter_set(i, d)).collect(),
                    _ => {
                        d.push(Diagnostic::error(DiagKind::Invalid, v.span, format!("`{key}` is a list of mappings")));
                        Vec::new()
                    }
                };
                if key == "include_filters" {
                    include = sets;
                } else {
                    o.exclude = sets;
                }
            }
            "hostnames" => o.hostnames = hostnames(v, d),
            "allow_duplicated_hosts" => o.allow_duplicated_hosts = flag(d),
            "strict_permissions" => o.strict_permissions = flag(d),
            "use_contrib_script_compatible_ec2_tag_keys" => o.contrib_tag_keys = flag(d),
            "hostvars_prefix" => o.hostvars_prefix = v.scalar_text().unwrap_or_default(),
            "hostvars_suffix" => o.hostvars_suffix = v.scalar_text().unwrap_or_default(),
            "endpoint_url" | "aws_endpoint_url" | "endpoint" => o.endpoint = v.scalar_text(),
            k if CREDENTIAL_KEYS.contains(&k) => warnings.push(Diagnostic::warning(
                entry.0.span,
                format!(
                    "`{k}` is ignored: prov takes AWS credentials and the region from the environment \
                     (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_PROFILE, AWS_REGION), \
                     never from the inventory file; the listing uses those, whatever this key says"
                ),
            )),
            k if UNSUPPORTED_KEYS.contains(&k) => d.push(
                Diagnostic::error(
                    DiagKind::Unsupported,
                    entry.0.span,
                    format!("`{k}` of amazon.aws.aws_ec2 is not supported by prov"),
                )
                .with_help("remove it; prov lists instances from EC2 alone, with Ansible's group name rules"),
            ),
            _ => rest.push(entry),
        }
    }
    o.include = filters.into_iter().chain(include).collect();
    if o.include.is_empty() {
        o.include.push(Vec::new());
    }
    (o, rest)
}

/// A mapping of EC2 filter name to a value or a list of values, as amazon.aws turns it into
/// boto3 filters: booleans as `true`/`false`, numbers as their text.
fn filter_set(v: &Node, d: &mut Diagnostics) -> Filters {
    let Some(m) = v.as_map() else {
        d.push(
            Diagnostic::error(DiagKind::Invalid, v.span, "filters are a mapping of EC2 filter name: value(s)")
                .with_help("for example `tag:Environment: [dev, qa]` or `instance-state-name: running`"),
        );
        return Vec::new();
    };
    let text = |n: &Node| match &n.kind {
        NodeKind::Bool(b) => Some(b.to_string()),
        _ => n.scalar_text(),
    };
    m.iter()
        .map(|(k, fv)| {
            let values = match &fv.kind {
                NodeKind::Seq(items) => items.iter().filter_map(text).collect(),
                _ => text(fv).into_iter().collect(),
            };
            (k.scalar_text().unwrap_or_default(), values)
        })
        .collect()
}

fn hostnames(v: &Node, d: &mut Diagnostics) -> Vec<Hostname> {
    let Some(items) = v.as_seq() else {
        d.push(Diagnostic::error(DiagKind::Invalid, v.span, "`hostnames` is a list"));
        return Vec::new();
    };
    let mut out = Vec::new();
    for it in items {
        match &it.kind {
            NodeKind::Map(_) => {
                for (k, _) in it.as_map().unwrap_or_default() {
                    let key = k.as_str().unwrap_or_default();
                    if !["name", "prefix", "separator"].contains(&key) {
                        d.push(
                            Diagnostic::error(
                                DiagKind::Unknown,
                                k.span,
                                format!("unknown key `{key}` in a hostnames entry"),
                            )
                            .with_opt_help(did_you_mean(key, ["name", "prefix", "separator"])),
                        );
                    }
                }
                match it.get("name").and_then(Node::scalar_text) {
                    Some(name) => out.push(Hostname::Dict {
                        name,
                        prefix: it.get("prefix").and_then(Node::scalar_text),
                        separator: it.get("separator").and_then(Node::scalar_text).unwrap_or_else(|| "_".into()),
                    }),
                    None => d.push(Diagnostic::error(
                        DiagKind::Invalid,
                        it.span,
                        "a hostnames mapping needs `name:` (and may have `prefix:` and `separator:`)",
                    )),
                }
            }
            _ => match it.scalar_text() {
                Some(s) => out.push(Hostname::Pref(s)),
                None => {
                    d.push(Diagnostic::error(DiagKind::Invalid, it.span, "a hostnames entry is a string or a mapping"))
                }
            },
        }
    }
    out
}

/// The attribute path (boto3 names) of each EC2 filter name a host name may use; any other
/// name is taken as the host name itself, as the plugin does.
const FILTER_PATHS: &[(&str, &[&str])] = &[
    ("group-id", &["Groups", "GroupId"]),
    ("group-name", &["Groups", "GroupName"]),
    ("network-interface.attachment.instance-owner-id", &["OwnerId"]),
    ("owner-id", &["OwnerId"]),
    ("requester-id", &["RequesterId"]),
    ("reservation-id", &["ReservationId"]),
    ("affinity", &["Placement", "Affinity"]),
    ("architecture", &["Architecture"]),
    ("availability-zone", &["Placement", "AvailabilityZone"]),
    ("block-device-mapping.attach-time", &["BlockDeviceMappings", "Ebs", "AttachTime"]),
    ("block-device-mapping.delete-on-termination", &["BlockDeviceMappings", "Ebs", "DeleteOnTermination"]),
    ("block-device-mapping.device-name", &["BlockDeviceMappings", "DeviceName"]),
    ("block-device-mapping.status", &["BlockDeviceMappings", "Ebs", "Status"]),
    ("block-device-mapping.volume-id", &["BlockDeviceMappings", "Ebs", "VolumeId"]),
    ("client-token", &["ClientToken"]),
    ("dns-name", &["PublicDnsName"]),
    ("host-id", &["Placement", "HostId"]),
    ("hypervisor", &["Hypervisor"]),
    ("iam-instance-profile.arn", &["IamInstanceProfile", "Arn"]),
    ("image-id", &["ImageId"]),
    ("instance-id", &["InstanceId"]),
    ("instance-lifecycle", &["InstanceLifecycle"]),
    ("instance-state-code", &["State", "Code"]),
    ("instance-state-name", &["State", "Name"]),
    ("instance-type", &["InstanceType"]),
    ("instance.group-id", &["SecurityGroups", "GroupId"]),
    ("instance.group-name", &["SecurityGroups", "GroupName"]),
    ("ip-address", &["PublicIpAddress"]),
    ("kernel-id", &["KernelId"]),
    ("key-name", &["KeyName"]),
    ("launch-index", &["AmiLaunchIndex"]),
    ("launch-time", &["LaunchTime"]),
    ("monitoring-state", &["Monitoring", "State"]),
    ("network-interface.addresses.private-ip-address", &["NetworkInterfaces", "PrivateIpAddress"]),
    ("network-interface.addresses.primary", &["NetworkInterfaces", "PrivateIpAddresses", "Primary"]),
    (
        "network-interface.addresses.association.public-ip",
        &["NetworkInterfaces", "PrivateIpAddresses", "Association", "PublicIp"],
    ),
    (
        "network-interface.addresses.association.ip-owner-id",
        &["NetworkInterfaces", "PrivateIpAddresses", "Association", "IpOwnerId"],
    ),
    ("network-interface.association.public-ip", &["NetworkInterfaces", "Association", "PublicIp"]),
    ("network-interface.association.ip-owner-id", &["NetworkInterfaces", "Association", "IpOwnerId"]),
    ("network-interface.association.allocation-id", &["ElasticGpuAssociations", "ElasticGpuId"]),
    ("network-interface.association.association-id", &["ElasticGpuAssociations", "ElasticGpuAssociationId"]),
    ("network-interface.attachment.attachment-id", &["NetworkInterfaces", "Attachment", "AttachmentId"]),
    ("network-interface.attachment.instance-id", &["InstanceId"]),
    ("network-interface.attachment.device-index", &["NetworkInterfaces", "Attachment", "DeviceIndex"]),
    ("network-interface.attachment.status", &["NetworkInterfaces", "Attachment", "Status"]),
    ("network-interface.attachment.attach-time", &["NetworkInterfaces", "Attachment", "AttachTime"]),
    ("network-interface.attachment.delete-on-termination", &["NetworkInterfaces", "Attachment", "DeleteOnTermination"]),
    ("network-interface.availability-zone", &["Placement", "AvailabilityZone"]),
    ("network-interface.description", &["NetworkInterfaces", "Description"]),
    ("network-interface.group-id", &["NetworkInterfaces", "Groups", "GroupId"]),
    ("network-interface.group-name", &["NetworkInterfaces", "Groups", "GroupName"]),
    ("network-interface.ipv6-addresses.ipv6-address", &["NetworkInterfaces", "Ipv6Addresses", "Ipv6Address"]),
    ("network-interface.mac-address", &["NetworkInterfaces", "MacAddress"]),
    ("network-interface.network-interface-id", &["NetworkInterfaces", "NetworkInterfaceId"]),
    ("network-interface.owner-id", &["NetworkInterfaces", "OwnerId"]),
    ("network-interface.private-dns-name", &["NetworkInterfaces", "PrivateDnsName"]),
    ("network-interface.requester-managed", &["NetworkInterfaces", "Association", "IpOwnerId"]),
    ("network-interface.status", &["NetworkInterfaces", "Status"]),
    ("network-interface.source-dest-check", &["NetworkInterfaces", "SourceDestCheck"]),
    ("network-interface.subnet-id", &["NetworkInterfaces", "SubnetId"]),
    ("network-interface.vpc-id", &["NetworkInterfaces", "VpcId"]),
    ("placement-group-name", &["Placement", "GroupName"]),
    ("platform", &["Platform"]),
    ("private-dns-name", &["PrivateDnsName"]),
    ("private-ip-address", &["PrivateIpAddress"]),
    ("product-code", &["ProductCodes", "ProductCodeId"]),
    ("product-code.type", &["ProductCodes", "ProductCodeType"]),
    ("ramdisk-id", &["RamdiskId"]),
    ("reason", &["StateTransitionReason"]),
    ("root-device-name", &["RootDeviceName"]),
    ("root-device-type", &["RootDeviceType"]),
    ("source-dest-check", &["SourceDestCheck"]),
    ("spot-instance-request-id", &["SpotInstanceRequestId"]),
    ("state-reason-code", &["StateReason", "Code"]),
    ("state-reason-message", &["StateReason", "Message"]),
    ("subnet-id", &["SubnetId"]),
    ("tag", &["Tags"]),
    ("tag-key", &["Tags"]),
    ("tag-value", &["Tags"]),
    ("tenancy", &["Placement", "Tenancy"]),
    ("virtualization-type", &["VirtualizationType"]),
    ("vpc-id", &["VpcId"]),
];

/// One step of an attribute path: through lists item by item, keeping the truthy results;
/// a list of one is its item.
fn step(obj: &Json, attr: &str) -> Json {
    let got = match obj {
        Json::Null => return Json::Null,
        Json::Array(items) => Json::Array(items.iter().map(|i| step(i, attr)).filter(py_truthy).collect()),
        Json::Object(m) => m.get(attr).cloned().unwrap_or(Json::Null),
        _ => Json::Null,
    };
    match got {
        Json::Array(mut a) if a.len() == 1 => a.remove(0),
        other => other,
    }
}

/// The value of an EC2 filter name on an instance (the name itself when it is no filter).
fn filter_value(name: &str, instance: &Json) -> Json {
    match FILTER_PATHS.iter().find(|(n, _)| *n == name) {
        Some((_, path)) => path.iter().fold(instance.clone(), |v, a| step(&v, a)),
        None => Json::String(name.to_string()),
    }
}

/// The instance's tags as a mapping.
pub fn tags(instance: &Json) -> Map<String, Json> {
    let mut out = Map::new();
    for t in instance.get("Tags").and_then(Json::as_array).into_iter().flatten() {
        if let (Some(k), Some(v)) = (t.get("Key").and_then(Json::as_str), t.get("Value")) {
            out.insert(k.to_string(), v.clone());
        }
    }
    out
}

/// `tag:Name`, `tag:Name=web`, `tag:A,B`: the tag values (or `Name_web`) found, one value when
/// a single tag was asked for.
fn tag_hostname(pref: &str, instance: &Json) -> Json {
    let spec = pref.split_once("tag:").map(|(_, s)| s).unwrap_or_default();
    let single = !spec.contains(',');
    let tags = tags(instance);
    let mut found = Vec::new();
    for part in spec.split(',') {
        match part.split_once('=') {
            Some((k, want)) => {
                if tags.get(k).and_then(Json::as_str) == Some(want) {
                    found.push(Json::String(format!("{k}_{want}")));
                }
            }
            None => {
                if let Some(v) = tags.get(part).filter(|v| py_truthy(v)) {
                    found.push(v.clone());
                }
            }
        }
    }
    if single && !found.is_empty() {
        return found.remove(0);
    }
    Json::Array(found)
}

/// The value of one preference, with its Jinja filter (`dns-name | lower`) applied.
fn preference_value(pref: &str, instance: &Json, templar: &Templar) -> Result<Json, String> {
    let (name, filter) = match pref.split_once('|') {
        Some((n, f)) => (n.trim_end(), Some(f)),
        None => (pref, None),
    };
    let value = if name.starts_with("tag:") { tag_hostname(name, instance) } else { filter_value(name, instance) };
    let Some(filter) = filter else { return Ok(value) };
    let t = templar.compile(&format!("{{{{ __prov_hostname | {filter} }}}}"))?;
    let ctx = minijinja::context! { __prov_hostname => minijinja::Value::from(minijinja::value::Serde(value.clone())) };
    let v = templar.render_defined(&t, &ctx)?;
    serde_json::to_value(&v).map_err(|e| e.to_string())
}

fn text(v: &Json) -> Option<String> {
    match v {
        Json::String(s) => Some(s.clone()),
        Json::Null => None,
        other if py_truthy(other) => Some(other.to_string()),
        _ => None,
    }
}

/// A host name with `:` (an IPv6 address) made a valid group name, as the plugin does.
fn sanitize_hostname(h: String) -> String {
    if h.contains(':') {
        crate::inventory::safe_group_name(&h)
    } else {
        h
    }
}

/// The host name of an instance: the first preference that gives one (`None`: the instance is
/// left out, as the plugin leaves it).
pub fn preferred_hostname(instance: &Json, prefs: &[Hostname], templar: &Templar) -> Result<Option<String>, String> {
    let default = [Hostname::Pref("dns-name".into()), Hostname::Pref("private-dns-name".into())];
    let prefs = if prefs.is_empty() { &default[..] } else { prefs };
    for p in prefs {
        let name = match p {
            Hostname::Pref(s) => {
                let v = preference_value(s, instance, templar)?;
                match v {
                    Json::Array(a) => a.first().and_then(text),
                    other => text(&other),
                }
            }
            Hostname::Dict { name, prefix, separator } => {
                let name = preferred_hostname(instance, &[Hostname::Pref(name.clone())], templar)?;
                let prefix = match prefix {
                    Some(px) => preferred_hostname(instance, &[Hostname::Pref(px.clone())], templar)?,
                    None => None,
                };
                match (name, prefix) {
                    (Some(n), Some(px)) => Some(format!("{px}{separator}{n}")),
                    (n, _) => n,
                }
            }
        };
        if let Some(n) = name.filter(|n| !n.is_empty()) {
            return Ok(Some(sanitize_hostname(n)));
        }
    }
    Ok(None)
}

/// Every host name of an instance (`allow_duplicated_hosts`): each preference's names.
pub fn all_hostnames(instance: &Json, prefs: &[Hostname], templar: &Templar) -> Result<Vec<String>, String> {
    let default = [Hostname::Pref("dns-name".into()), Hostname::Pref("private-dns-name".into())];
    let prefs = if prefs.is_empty() { &default[..] } else { prefs };
    let mut out = Vec::new();
    for p in prefs {
        match p {
            Hostname::Pref(s) => match preference_value(s, instance, templar)? {
                Json::Array(a) => out.extend(a.iter().filter_map(text).map(sanitize_hostname)),
                Json::String(s) if !s.is_empty() => out.push(sanitize_hostname(s)),
                _ => {}
            },
            Hostname::Dict { name, prefix, separator } => {
                let names = all_hostnames(instance, &[Hostname::Pref(name.clone())], templar)?;
                let prefixes = match prefix {
                    Some(px) => all_hostnames(instance, &[Hostname::Pref(px.clone())], templar)?,
                    None => Vec::new(),
                };
                match (names.first(), prefixes.first()) {
                    (Some(n), Some(px)) => out.push(format!("{px}{separator}{n}")),
                    _ => out.extend(names),
                }
            }
        }
    }
    Ok(out)
}

/// boto3's name of a key in snake case, as amazon.aws writes host variables (`InstanceId`:
/// `instance_id`; `TargetGroupARNs`: `target_group_arns`).
pub fn camel_to_snake(name: &str) -> String {
    use std::sync::OnceLock;
    static RE: OnceLock<[regex::Regex; 3]> = OnceLock::new();
    let [plural, first_cap, all_cap] = RE.get_or_init(|| {
        [
            regex::Regex::new(r"[A-Z]{3,}s$").expect("regex"),
            regex::Regex::new(r"(.)([A-Z][a-z]+)").expect("regex"),
            regex::Regex::new(r"([a-z0-9])([A-Z]+)").expect("regex"),
        ]
    });
    let mut s1 = plural.replace_all(name, |c: &regex::Captures<'_>| format!("_{}", c[0].to_lowercase())).into_owned();
    if s1.starts_with('_') && !name.starts_with('_') {
        s1.remove(0);
    }
    let s2 = first_cap.replace_all(&s1, "${1}_${2}");
    all_cap.replace_all(&s2, "${1}_${2}").to_lowercase()
}

/// A boto3 description with every key in snake case (the values of `ignore` keys at the top
/// are kept as they are).
pub fn camel_dict_to_snake(v: &Map<String, Json>, ignore: &[&str]) -> Map<String, Json> {
    fn value(v: &Json) -> Json {
        match v {
            Json::Object(m) => Json::Object(camel_dict_to_snake(m, &[])),
            Json::Array(items) => Json::Array(items.iter().map(value).collect()),
            other => other.clone(),
        }
    }
    v.iter()
        .map(|(k, x)| (camel_to_snake(k), if ignore.contains(&k.as_str()) { x.clone() } else { value(x) }))
        .collect()
}

/// The host variables of an instance: its description in snake case, `tags` as a mapping,
/// `placement.region` (the zone without its letter), then the file's prefix/suffix.
pub fn host_vars(instance: &Json, o: &Ec2Options) -> Map<String, Json> {
    let empty = Map::new();
    let mut vars = camel_dict_to_snake(instance.as_object().unwrap_or(&empty), &["Tags"]);
    let tags = tags(instance);
    if let Some(p) = vars.get_mut("placement").and_then(Json::as_object_mut) {
        let zone = p.get("availability_zone").and_then(Json::as_str).unwrap_or_default().to_string();
        let mut region = zone;
        region.pop();
        p.insert("region".into(), Json::String(region));
    }
    if o.contrib_tag_keys {
        for (k, v) in &tags {
            vars.insert(format!("ec2_tag_{k}"), v.clone());
        }
    }
    vars.insert("tags".into(), Json::Object(tags));
    if o.hostvars_prefix.is_empty() && o.hostvars_suffix.is_empty() {
        return vars;
    }
    vars.into_iter().map(|(k, v)| (format!("{}{k}{}", o.hostvars_prefix, o.hostvars_suffix), v)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_become_snake_case_as_boto3_names_do_in_amazon_aws() {
        for (camel, snake) in [
            ("InstanceId", "instance_id"),
            ("AmiLaunchIndex", "ami_launch_index"),
            ("Ipv6Addresses", "ipv6_addresses"),
            ("EnableResourceNameDnsAAAARecord", "enable_resource_name_dns_aaaa_record"),
            ("HttpProtocolIpv6", "http_protocol_ipv6"),
            ("TargetGroupARNs", "target_group_arns"),
            ("SriovNetSupport", "sriov_net_support"),
            ("CpuOptions", "cpu_options"),
            ("EbsOptimized", "ebs_optimized"),
        ] {
            assert_eq!(camel_to_snake(camel), snake, "{camel}");
        }
    }

    fn instance() -> Json {
        json!({
            "InstanceId": "i-1",
            "PublicDnsName": "",
            "PrivateDnsName": "ip-10-0-0-5.ec2.internal",
            "PrivateIpAddress": "10.0.0.5",
            "Placement": {"AvailabilityZone": "us-east-1a", "Tenancy": "default"},
            "Tags": [{"Key": "Name", "Value": "web"}, {"Key": "role", "Value": "workers"}],
            "NetworkInterfaces": [{"PrivateIpAddresses": [{"PrivateIpAddress": "10.0.0.5", "Primary": true}]}],
            "SecurityGroups": [{"GroupId": "sg-1", "GroupName": "default"}, {"GroupId": "sg-2", "GroupName": "web"}],
        })
    }

    #[test]
    fn host_names_follow_the_preferences_of_the_file() {
        let t = Templar::new(vec![]);
        let i = instance();
        let p = |v: &[&str]| v.iter().map(|s| Hostname::Pref(s.to_string())).collect::<Vec<_>>();
        // No public DNS name: the private one (the default order).
        assert_eq!(preferred_hostname(&i, &[], &t).unwrap().as_deref(), Some("ip-10-0-0-5.ec2.internal"));
        assert_eq!(preferred_hostname(&i, &p(&["tag:Name"]), &t).unwrap().as_deref(), Some("web"));
        assert_eq!(preferred_hostname(&i, &p(&["tag:Name=web"]), &t).unwrap().as_deref(), Some("Name_web"));
        assert_eq!(preferred_hostname(&i, &p(&["tag:Nope", "instance-id"]), &t).unwrap().as_deref(), Some("i-1"));
        assert_eq!(preferred_hostname(&i, &p(&["instance.group-id"]), &t).unwrap().as_deref(), Some("sg-1"));
        assert_eq!(preferred_hostname(&i, &p(&["tag:Name | upper"]), &t).unwrap().as_deref(), Some("WEB"));
        // Not a filter name: the text itself.
        assert_eq!(preferred_hostname(&i, &p(&["literal"]), &t).unwrap().as_deref(), Some("literal"));
        let dict =
            [Hostname::Dict { name: "tag:Name".into(), prefix: Some("instance-id".into()), separator: "-".into() }];
        assert_eq!(preferred_hostname(&i, &dict, &t).unwrap().as_deref(), Some("i-1-web"));
        assert_eq!(preferred_hostname(&i, &p(&["dns-name"]), &t).unwrap(), None);
        assert_eq!(all_hostnames(&i, &p(&["instance.group-name", "tag:Name"]), &t).unwrap(), ["default", "web", "web"]);
    }

    #[test]
    fn host_vars_are_the_description_in_snake_case_with_tags_and_region() {
        let o = Ec2Options { contrib_tag_keys: true, ..Default::default() };
        let v = host_vars(&instance(), &o);
        assert_eq!(v["instance_id"], "i-1");
        assert_eq!(
            v["placement"],
            json!({"availability_zone": "us-east-1a", "tenancy": "default", "region": "us-east-1"})
        );
        assert_eq!(v["tags"], json!({"Name": "web", "role": "workers"}));
        assert_eq!(v["ec2_tag_role"], "workers");
        assert_eq!(v["network_interfaces"][0]["private_ip_addresses"][0]["primary"], true);
        let o = Ec2Options { hostvars_prefix: "aws_".into(), ..Default::default() };
        assert!(host_vars(&instance(), &o).contains_key("aws_instance_id"));
    }
}
