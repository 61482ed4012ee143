//! EC2 instances found by their `Name` tag (or `filters`, `instance_ids`), created (with
//! extra EBS `volumes`: block device mappings, gp3 defaults filled as the module fills them),
//! counted (`count`, `exact_count`), re-tagged, given another type, termination protection or security
//! groups, started, stopped, restarted or terminated (amazon.aws.ec2_instance).
//!
//! The module's arguments, defaults, decisions (which instances the default filters select:
//! the `Name` tag in the given or default subnet, the image, a live state) and return values
//! (`instances` as boto3 describes them in snake case, `instance_ids`, `changes`, `spec`,
//! `changed_ids`, the `*_success`/`*_failed` lists, `msg`), compared with amazon.aws 12.3's
//! against moto. Check mode reads and reports what the module reports, changing nothing.
//! Waiting polls with backoff up to `wait_timeout` (the module polls every 15 s); an instance
//! that does not get there in time is a warning, as with the module. Needs prov built with
//! the `aws` feature (the default).
//!
//! prov makes the EC2 calls from its own process, whatever host the task runs on: the
//! module's `region`, `endpoint_url`, `access_key`/`secret_key`/`session_token` and `profile`
//! arguments and their environment variables (the task's `environment:` first, then prov's)
//! decide where and as whom, else the AWS SDK's standard chain. A task on a host other than
//! the controller (`localhost` or `connection: local`) is refused: the module would run on
//! that host with its credentials.
//!
//! Network interfaces: `network_interfaces` (each item's `assign_public_ip`,
//! `private_ip_address`, `private_ip_addresses`, `ipv6_addresses`, `description`, `subnet_id`,
//! `delete_on_termination`, `device_index`, `groups`) and the deprecated `network` (one
//! interface whose values go to EC2 as written, as the module passes them; its deprecation is
//! shown as a warning) make new instances' `NetworkInterfaces` as the module makes them (groups
//! by name in the subnet's VPC; the default subnet when none is given), with its checks (a
//! public address with several interfaces, two primary addresses, fixed addresses for several
//! instances). On existing instances (and on new ones right after launch), as the module does:
//! when one interface is given and the instance has one, its groups (else `security_groups`)
//! are compared and changed (with more, a warning says the groups are skipped);
//! `source_dest_check` (else `network.source_dest_check`, true by Python's truthiness) is
//! changed; and, except when `exact_count` is given, asking for a public address other than the
//! one an instance has is a warning (it is decided at launch).
//!
//! Arguments prov does not support yet are refused before anything runs: attaching existing
//! interfaces (`network_interfaces_ids`, `network.interfaces`), `launch_template`,
//! `iam_instance_profile`, `placement`, `placement_group`, `tenancy`, `cpu_options`,
//! `cpu_credit_specification`, `metadata_options`, `license_specifications`,
//! `additional_info`, `aap_callback`, `hibernation_options: true`, `aws_ca_bundle`,
//! `aws_config`, `validate_certs: false`.
//!
//! ```yaml
//! - hosts: localhost
//!   connection: local
//!   gather_facts: false
//!   tasks:
//!     - amazon.aws.ec2_instance:
//!         name: web-1
//!         image_id: ami-0123456789abcdef0
//!         instance_type: t3.micro
//!         security_group: web
//!         tags: { role: web }
//!       register: web
//! ```

use super::{on_controller, outcome, plan_of, py_str};
use crate::util::{py_int, py_truthy, stringish};
use async_trait::async_trait;
use prov_core::args::lenient_opt_bool;
use prov_core::module::{Action, Module, ModuleCtx, ModuleError, Outcome, Plan, RunsOn};
use prov_providers::ec2_instance::{Interface, Params, Report, STATES};
use serde::Deserialize;
use serde_json::Value as Json;

amazon_aws_args! {
    /// Arguments of `ec2_instance` (every argument of the module; those prov does not support
    /// are refused by [`Module::check_args`]).
    #[derive(Debug, Default, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Args {
        /// `present` (default), `started`, `running`, `stopped`, `restarted`, `rebooted`,
        /// `terminated`, `absent`.
        #[serde(default, deserialize_with = "stringish")]
        pub state: Option<String>,
        /// Wait for the state (default true).
        #[serde(default, deserialize_with = "lenient_opt_bool")]
        pub wait: Option<bool>,
        /// Seconds (default 600).
        #[serde(default, deserialize_with = "stringish")]
        pub wait_timeout: Option<String>,
        /// Instances to launch.
        #[serde(default, deserialize_with = "stringish")]
        pub count: Option<String>,
        /// Instances that should exist.
        #[serde(default, deserialize_with = "stringish")]
        pub exact_count: Option<String>,
        /// The AMI.
        #[serde(default, deserialize_with = "stringish")]
        pub image_id: Option<String>,
        /// `{id, ramdisk, kernel}`.
        #[serde(default)]
        pub image: Option<Image>,
        /// The instance type.
        #[serde(default, deserialize_with = "stringish")]
        pub instance_type: Option<String>,
        /// User data (text).
        #[serde(default, deserialize_with = "stringish")]
        pub user_data: Option<String>,
        /// The subnet.
        #[serde(default, alias = "subnet_id", deserialize_with = "stringish")]
        pub vpc_subnet_id: Option<String>,
        /// The zone whose default subnet is used.
        #[serde(default, deserialize_with = "stringish")]
        pub availability_zone: Option<String>,
        /// Security group names or ids.
        #[serde(default, deserialize_with = "crate::util::str_list")]
        pub security_groups: Option<Vec<String>>,
        /// One security group.
        #[serde(default, deserialize_with = "stringish")]
        pub security_group: Option<String>,
        /// The `Name` tag.
        #[serde(default, deserialize_with = "stringish")]
        pub name: Option<String>,
        /// Tags.
        #[serde(default, alias = "resource_tags")]
        pub tags: Option<indexmap::IndexMap<String, Json>>,
        /// Remove tags not in `tags` (default true).
        #[serde(default, deserialize_with = "lenient_opt_bool")]
        pub purge_tags: Option<bool>,
        /// DescribeInstances filters.
        #[serde(default)]
        pub filters: Option<indexmap::IndexMap<String, Json>>,
        /// The key pair.
        #[serde(default, deserialize_with = "stringish")]
        pub key_name: Option<String>,
        /// Instances by id.
        #[serde(default, deserialize_with = "crate::util::str_list")]
        pub instance_ids: Option<Vec<String>>,
        /// `DisableApiTermination`.
        #[serde(default, deserialize_with = "lenient_opt_bool")]
        pub termination_protection: Option<bool>,
        /// `EbsOptimized`.
        #[serde(default, deserialize_with = "lenient_opt_bool")]
        pub ebs_optimized: Option<bool>,
        /// `stop` or `terminate`.
        #[serde(default, deserialize_with = "stringish")]
        pub instance_initiated_shutdown_behavior: Option<String>,
        /// Detailed monitoring at launch.
        #[serde(default, deserialize_with = "lenient_opt_bool")]
        pub detailed_monitoring: Option<bool>,
        /// Hibernation (only false).
        #[serde(default, deserialize_with = "lenient_opt_bool")]
        pub hibernation_options: Option<bool>,
        /// Not supported.
        #[serde(default, alias = "tower_callback")]
        pub aap_callback: Option<Json>,
        /// The deprecated one-interface form of `network_interfaces` (`interfaces` is not
        /// supported).
        #[serde(default)]
        pub network: Option<Json>,
        /// Interfaces of new instances; the first one's groups and public address are compared
        /// with an existing instance's.
        #[serde(default)]
        pub network_interfaces: Option<Json>,
        /// Not supported.
        #[serde(default)]
        pub network_interfaces_ids: Option<Json>,
        /// Not supported.
        #[serde(default)]
        pub volumes: Option<Json>,
        /// Not supported.
        #[serde(default)]
        pub launch_template: Option<Json>,
        /// Not supported.
        #[serde(default, alias = "instance_role")]
        pub iam_instance_profile: Option<Json>,
        /// Not supported.
        #[serde(default)]
        pub placement: Option<Json>,
        /// Not supported.
        #[serde(default)]
        pub placement_group: Option<Json>,
        /// Not supported.
        #[serde(default)]
        pub tenancy: Option<Json>,
        /// Not supported.
        #[serde(default)]
        pub cpu_options: Option<Json>,
        /// Not supported.
        #[serde(default)]
        pub cpu_credit_specification: Option<Json>,
        /// Not supported.
        #[serde(default)]
        pub metadata_options: Option<Json>,
        /// Not supported.
        #[serde(default)]
        pub license_specifications: Option<Json>,
        /// Not supported.
        #[serde(default)]
        pub additional_info: Option<Json>,
        /// Source/destination checking (null: not given).
        #[serde(default, deserialize_with = "crate::util::opt_bool_or_null")]
        pub source_dest_check: Option<bool>,
    }
}

/// `image` of `ec2_instance`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Image {
    /// The AMI.
    #[serde(default, deserialize_with = "stringish")]
    pub id: Option<String>,
    /// Ramdisk id.
    #[serde(default, deserialize_with = "stringish")]
    pub ramdisk: Option<String>,
    /// Kernel id.
    #[serde(default, deserialize_with = "stringish")]
    pub kernel: Option<String>,
}

/// The module.
#[derive(Default)]
pub struct Ec2Instance;

fn state(a: &Args) -> &str {
    a.state.as_deref().unwrap_or("present")
}

/// The unsupported arguments that are set.
fn unsupported(a: &Args) -> Vec<&'static str> {
    let set = |v: &Option<Json>| v.as_ref().is_some_and(|x| !x.is_null());
    let mut out = Vec::new();
    for (name, v) in [
        ("aap_callback", &a.aap_callback),
        ("network.interfaces", &a.network.as_ref().and_then(|n| n.get("interfaces")).filter(|v| py_truthy(v)).cloned()),
        ("network_interfaces_ids", &a.network_interfaces_ids),
        ("launch_template", &a.launch_template),
        ("iam_instance_profile", &a.iam_instance_profile),
        ("placement", &a.placement),
        ("placement_group", &a.placement_group),
        ("tenancy", &a.tenancy),
        ("cpu_options", &a.cpu_options),
        ("cpu_credit_specification", &a.cpu_credit_specification),
        ("metadata_options", &a.metadata_options),
        ("license_specifications", &a.license_specifications),
        ("additional_info", &a.additional_info),
    ] {
        if set(v) {
            out.push(name);
        }
    }
    if a.hibernation_options == Some(true) {
        out.push("hibernation_options");
    }
    out.extend(a.aws_unsupported());
    out
}

/// The module's parameters, with the environment fallbacks of amazon.aws (`env`: the task's
/// `environment:`, read before prov's own).
fn params(a: &Args, env: &[(String, String)]) -> Result<Params, String> {
    let access = a.aws_access(env);
    let int = |v: &Option<String>| -> Result<Option<i64>, String> {
        match v {
            None => Ok(None),
            Some(_) => py_int::<i64>(v, 0).map(Some),
        }
    };
    let mut groups = a.security_groups.clone().unwrap_or_default();
    if let Some(g) = &a.security_group {
        groups = vec![g.clone()];
    }
    let image = a.image.as_ref();
    let image_id = a.image_id.clone().filter(|s| !s.is_empty()).or_else(|| image.and_then(|i| i.id.clone()));
    let filters = a.filters.as_ref().map(|f| {
        f.iter()
            .map(|(k, v)| {
                let values = match v {
                    Json::Bool(b) => vec![b.to_string()],
                    Json::Array(items) => items.iter().map(py_str).collect(),
                    other => vec![py_str(other)],
                };
                (k.clone(), values)
            })
            .collect()
    });
    Ok(Params {
        access,
        state: state(a).to_string(),
        wait: a.wait.unwrap_or(true),
        wait_timeout: py_int::<u64>(&a.wait_timeout, 600)?,
        count: int(&a.count)?,
        exact_count: int(&a.exact_count)?,
        image_id,
        ramdisk: image.and_then(|i| i.ramdisk.clone()),
        kernel: image.and_then(|i| i.kernel.clone()),
        instance_type: a.instance_type.clone(),
        user_data: a.user_data.clone(),
        vpc_subnet_id: a.vpc_subnet_id.clone(),
        availability_zone: a.availability_zone.clone(),
        security_groups: groups,
        name: a.name.clone(),
        tags: a.tags.as_ref().map(|t| t.iter().map(|(k, v)| (k.clone(), py_str(v))).collect()),
        purge_tags: a.purge_tags.unwrap_or(true),
        filters,
        key_name: a.key_name.clone(),
        instance_ids: a.instance_ids.clone().unwrap_or_default(),
        termination_protection: a.termination_protection,
        ebs_optimized: a.ebs_optimized,
        shutdown_behavior: a.instance_initiated_shutdown_behavior.clone(),
        detailed_monitoring: a.detailed_monitoring,
        volumes: volumes(&a.volumes)?,
        network_interfaces: match (&a.network, &a.network_interfaces) {
            (Some(n), _) if network_given(a) => vec![legacy_interface(n)?],
            (_, Some(Json::Array(items))) => items.iter().map(interface).collect::<Result<_, _>>()?,
            (_, None | Some(Json::Null)) => Vec::new(),
            (_, Some(other)) => return Err(format!("network_interfaces is a list of mappings, got {other}")),
        },
        network_legacy: network_given(a),
        // `bool(network.source_dest_check)`: Python's truthiness ("no" is true).
        source_dest_check: a.source_dest_check.or_else(|| {
            a.network.as_ref().and_then(|n| n.get("source_dest_check")).filter(|v| !v.is_null()).map(py_truthy)
        }),
    })
}

/// Whether `network` is given as the module sees it: a non-empty mapping (`{}` is false).
fn network_given(a: &Args) -> bool {
    a.network.as_ref().is_some_and(py_truthy)
}

/// The deprecated `network`: a mapping with no argument spec, so amazon.aws passes its values to
/// EC2 as written (unknown keys are ignored). Values EC2 would refuse for their type are refused
/// here; `private_ip_addresses` items are addresses or `{private_ip_address, primary}`.
fn legacy_interface(v: &Json) -> Result<Interface, String> {
    let m = v.as_object().ok_or_else(|| format!("network must be a mapping, got {v}"))?;
    let mut i = Interface::default();
    let bad = |k: &str, t: &str, x: &Json| {
        format!("network.{k} must be {t} (amazon.aws passes network's values to EC2 as written), got {x}")
    };
    let text = |k: &str, x: &Json| x.as_str().map(str::to_string).ok_or_else(|| bad(k, "a string", x));
    let texts = |k: &str, x: &Json| -> Result<Vec<String>, String> {
        match x {
            // One name, as the module takes a string of groups.
            Json::String(t) => Ok(vec![t.clone()]),
            Json::Array(items) => items.iter().map(|y| text(k, y)).collect(),
            other => Err(bad(k, "a list of strings", other)),
        }
    };
    for (k, x) in m {
        match k.as_str() {
            // `if interface.get(key)`: only a true value counts.
            "assign_public_ip" if py_truthy(x) => {
                i.assign_public_ip = Some(x.as_bool().ok_or_else(|| bad(k, "a boolean", x))?)
            }
            "subnet_id" if py_truthy(x) => i.subnet_id = Some(text(k, x)?),
            "private_ip_address" if py_truthy(x) => i.private_ip_address = Some(text(k, x)?),
            "ipv6_addresses" if py_truthy(x) => i.ipv6_addresses = texts(k, x)?,
            "groups" if py_truthy(x) => i.groups = texts(k, x)?,
            "description" if !x.is_null() => i.description = Some(text(k, x)?),
            "delete_on_termination" => i.delete_on_termination = x.as_bool().ok_or_else(|| bad(k, "a boolean", x))?,
            "device_index" => {
                i.device_index = x
                    .as_i64()
                    .filter(|n| i32::try_from(*n).is_ok())
                    .ok_or_else(|| bad(k, "an integer (a device index)", x))?
            }
            "private_ip_addresses" if py_truthy(x) => {
                for item in x.as_array().ok_or_else(|| bad(k, "a list", x))? {
                    i.private_ip_addresses.push(match item {
                        Json::String(t) => (t.clone(), None),
                        Json::Object(e) => {
                            let address = e.get("private_ip_address").unwrap_or(&Json::Null);
                            let primary = match e.get("primary") {
                                None | Some(Json::Null) => None,
                                Some(Json::Bool(b)) => Some(*b),
                                Some(other) => return Err(bad("private_ip_addresses.primary", "a boolean", other)),
                            };
                            (text("private_ip_addresses.private_ip_address", address)?, primary)
                        }
                        other => return Err(bad(k, "a list of addresses", other)),
                    });
                }
            }
            _ => {}
        }
    }
    Ok(i)
}

/// An item of `network_interfaces`, as amazon.aws's argument spec reads it: ansible-core's
/// conversions (`check_type_bool`, `check_type_int`, `str`), its defaults (`device_index` 0,
/// `delete_on_termination` true: null is a type error there), other nulls as not given.
fn interface(v: &Json) -> Result<Interface, String> {
    const WHAT: &str = "network_interfaces";
    let m = v.as_object().ok_or_else(|| format!("{WHAT} must be a list of mappings, got an item {v}"))?;
    let mut i = Interface::default();
    for (k, x) in m {
        let bad = |t: &str| format!("argument '{k}' in '{WHAT}' is {x}, which cannot be converted to {t}");
        if x.is_null() && !matches!(k.as_str(), "device_index" | "delete_on_termination") {
            continue;
        }
        let boolean = || match x {
            Json::Bool(b) => Some(*b),
            Json::String(t) => prov_core::args::parse_bool(t),
            Json::Number(n) => match n.as_f64() {
                Some(1.0) => Some(true),
                Some(0.0) => Some(false),
                _ => None,
            },
            _ => None,
        };
        let list = || match x {
            Json::Array(items) => items.iter().map(py_str).collect(),
            Json::String(t) => t.split(',').map(str::to_string).collect(),
            other => vec![py_str(other)],
        };
        match k.as_str() {
            "assign_public_ip" => i.assign_public_ip = Some(boolean().ok_or_else(|| bad("bool"))?),
            "delete_on_termination" => i.delete_on_termination = boolean().ok_or_else(|| bad("bool"))?,
            "private_ip_address" => i.private_ip_address = Some(py_str(x)),
            "description" => i.description = Some(py_str(x)),
            "subnet_id" => i.subnet_id = Some(py_str(x)),
            "groups" => i.groups = list(),
            "ipv6_addresses" => i.ipv6_addresses = list(),
            "device_index" => {
                let n = match x {
                    Json::Number(n) => n.as_i64().or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64)),
                    Json::String(t) => t.trim().parse::<i64>().ok(),
                    _ => None,
                };
                i.device_index = n.filter(|n| i32::try_from(*n).is_ok()).ok_or_else(|| bad("int"))?;
            }
            "private_ip_addresses" => {
                let items = x.as_array().ok_or_else(|| bad("list"))?;
                for item in items {
                    let entry = item.as_object().ok_or_else(|| bad("list of dict"))?;
                    if let Some(extra) = entry.keys().find(|k| !matches!(k.as_str(), "private_ip_address" | "primary")) {
                        return Err(format!(
                            "Unsupported parameters for (amazon.aws.ec2_instance) module: {WHAT}.private_ip_addresses.{extra}. Supported parameters include: primary, private_ip_address."
                        ));
                    }
                    let address = entry.get("private_ip_address").filter(|a| !a.is_null()).ok_or_else(|| {
                        format!("missing required arguments: private_ip_address found in {WHAT} -> private_ip_addresses")
                    })?;
                    let primary = match entry.get("primary") {
                        None | Some(Json::Null) => None,
                        Some(Json::Bool(b)) => Some(*b),
                        Some(Json::String(t)) => Some(prov_core::args::parse_bool(t).ok_or_else(|| bad("bool"))?),
                        Some(_) => return Err(bad("bool")),
                    };
                    i.private_ip_addresses.push((py_str(address), primary));
                }
            }
            _ => {
                return Err(format!(
                    "Unsupported parameters for (amazon.aws.ec2_instance) module: {WHAT}.{k}. Supported parameters include: assign_public_ip, delete_on_termination, description, device_index, groups, ipv6_addresses, private_ip_address, private_ip_addresses, subnet_id."
                ))
            }
        }
    }
    Ok(i)
}

/// `volumes`: a list of block device mappings with the keys boto3 takes (snake case).
fn volumes(v: &Option<Json>) -> Result<Vec<Json>, String> {
    const KEYS: &[&str] = &["device_name", "virtual_name", "no_device", "ebs"];
    const EBS: &[&str] = &[
        "delete_on_termination",
        "iops",
        "snapshot_id",
        "volume_size",
        "volume_type",
        "kms_key_id",
        "throughput",
        "outpost_arn",
        "encrypted",
    ];
    let items = match v {
        None | Some(Json::Null) => return Ok(Vec::new()),
        Some(Json::Array(items)) => items,
        Some(other) => return Err(format!("volumes is a list of mappings, got {other}")),
    };
    for item in items {
        let m = item.as_object().ok_or_else(|| format!("volumes is a list of mappings, got an item {item}"))?;
        for (k, x) in m {
            if !KEYS.contains(&k.as_str()) {
                return Err(format!(
                    "prov knows the volume keys {} (boto3 refuses others), got `{k}` in volumes",
                    KEYS.join(", ")
                ));
            }
            if k == "ebs" {
                for e in x.as_object().ok_or("volumes' ebs is a mapping")?.keys() {
                    if !EBS.contains(&e.as_str()) {
                        return Err(format!(
                            "prov knows the ebs keys {} (boto3 refuses others), got `{e}` in volumes",
                            EBS.join(", ")
                        ));
                    }
                    if e == "outpost_arn" {
                        return Err(
                            "prov does not support outpost_arn in volumes of amazon.aws.ec2_instance yet".into()
                        );
                    }
                }
            }
        }
    }
    Ok(items.clone())
}

async fn run(args: &Args, cx: &ModuleCtx<'_>, check: bool) -> Result<Report, ModuleError> {
    on_controller(cx, "amazon.aws.ec2_instance")?;
    let p = params(args, &cx.env).map_err(ModuleError::Args)?;
    let mut r = prov_providers::ec2_instance::run(&p, check).await.map_err(|e| ModuleError::Failed(e.to_string()))?;
    if p.network_legacy {
        // amazon.aws deprecates it first thing (a deprecation; prov has only warnings).
        r.warnings.insert(
            0,
            "The network parameter has been deprecated, please use network_interfaces and/or network_interfaces_ids instead. This feature will be removed from collection 'amazon.aws' in a release after 2026-12-01.".into(),
        );
        if args.source_dest_check.is_some()
            && args.network.as_ref().and_then(|n| n.get("source_dest_check")).is_some_and(|v| !v.is_null())
        {
            r.warnings.insert(
                1,
                "the source_dest_check option has been set therefore network.source_dest_check will be ignored.".into(),
            );
        }
    }
    Ok(r)
}

#[async_trait]
impl Module for Ec2Instance {
    const NAME: &'static str = "ec2_instance";
    const COLLECTIONS: &'static [&'static str] = &["amazon.aws"];
    const RUNS_ON: RunsOn = RunsOn::Controller;
    type Args = Args;
    type Plan = ();

    fn check_args(a: &Args) -> Result<(), String> {
        if !STATES.contains(&state(a)) {
            return Err(format!("value of state must be one of: {}, got: {}", STATES.join(", "), state(a)));
        }
        let off = unsupported(a);
        if !off.is_empty() {
            return Err(format!("prov does not support {} of amazon.aws.ec2_instance yet", off.join(", ")));
        }
        let given = |name: &'static str, set: bool| set.then_some(name);
        for pair in [
            [
                given("security_groups", a.security_groups.is_some()),
                given("security_group", a.security_group.is_some()),
            ],
            [
                given("availability_zone", a.availability_zone.is_some()),
                given("vpc_subnet_id", a.vpc_subnet_id.is_some()),
            ],
            [given("image_id", a.image_id.is_some()), given("image", a.image.is_some())],
            [given("exact_count", a.exact_count.is_some()), given("count", a.count.is_some())],
            [given("exact_count", a.exact_count.is_some()), given("instance_ids", a.instance_ids.is_some())],
            [given("network", a.network.is_some()), given("network_interfaces", a.network_interfaces.is_some())],
        ] {
            if let [Some(x), Some(y)] = pair {
                return Err(format!("parameters are mutually exclusive: {x}|{y}"));
            }
        }
        if let Some(b) = &a.instance_initiated_shutdown_behavior {
            if b != "stop" && b != "terminate" {
                return Err(format!(
                    "value of instance_initiated_shutdown_behavior must be one of: stop, terminate, got: {b}"
                ));
            }
        }
        params(a, &[]).map(|_| ())
    }

    async fn plan(&self, args: &Args, cx: &ModuleCtx<'_>) -> Result<Plan<()>, ModuleError> {
        let r = run(args, cx, true).await?;
        let action = match state(args) {
            "absent" | "terminated" => Action::Delete,
            _ if r.fields.contains_key("spec") => Action::Create,
            _ => Action::Modify,
        };
        Ok(plan_of(r, action, "ec2_instance", args.name.clone().unwrap_or_else(|| "instances".into())))
    }

    async fn apply(&self, args: &Args, _plan: (), cx: &ModuleCtx<'_>) -> Result<Outcome, ModuleError> {
        Ok(outcome(run(args, cx, false).await?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(v: serde_json::Value) -> Args {
        serde_json::from_value(v).expect("arguments parse")
    }

    // amazon.aws's argument spec: suboption types, defaults (device_index 0,
    // delete_on_termination true), `network` as one interface with plain addresses.
    #[test]
    fn network_interfaces_are_read_as_amazon_aws_reads_them() {
        let p = |v| params(&args(v), &[]);
        let got = p(serde_json::json!({"name": "a", "network_interfaces": [
            {"assign_public_ip": "yes", "groups": "web,db", "device_index": "1",
             "private_ip_addresses": [{"private_ip_address": "10.0.0.1", "primary": true}]},
            {"description": 5, "delete_on_termination": 0, "device_index": 2.0}]}))
        .expect("valid");
        assert!(!got.network_legacy);
        let (a, b) = (&got.network_interfaces[0], &got.network_interfaces[1]);
        assert_eq!((a.assign_public_ip, a.device_index, a.delete_on_termination), (Some(true), 1, true));
        assert_eq!(a.groups, ["web", "db"]);
        assert_eq!(a.private_ip_addresses, [("10.0.0.1".to_string(), Some(true))]);
        assert_eq!((b.description.as_deref(), b.delete_on_termination, b.device_index), (Some("5"), false, 2));
        // `network` has no spec: values as written, `bool()` of source_dest_check, unknown keys
        // ignored, addresses plain or as mappings.
        let legacy = p(serde_json::json!({"name": "a", "network": {"private_ip_addresses": ["10.0.0.2", {"private_ip_address": "10.0.0.3", "primary": true}],
            "source_dest_check": "no", "groups": "a,b", "nic": 1}}))
        .expect("valid");
        assert!(legacy.network_legacy);
        assert_eq!(legacy.source_dest_check, Some(true), "bool('no') is True");
        assert_eq!(
            legacy.network_interfaces[0].private_ip_addresses,
            [("10.0.0.2".to_string(), None), ("10.0.0.3".to_string(), Some(true))]
        );
        assert_eq!(legacy.network_interfaces[0].groups, ["a,b"]);
        let e =
            p(serde_json::json!({"name": "a", "network": {"assign_public_ip": "yes"}})).expect_err("EC2 would refuse");
        assert!(e.contains("network.assign_public_ip must be a boolean"), "{e}");
        let empty = p(serde_json::json!({"name": "a", "network": {}, "security_group": "web"})).expect("valid");
        assert!(!empty.network_legacy && empty.network_interfaces.is_empty(), "an empty network is no network");
        let top =
            p(serde_json::json!({"name": "a", "source_dest_check": true, "network": {"source_dest_check": false}}));
        assert_eq!(top.expect("valid").source_dest_check, Some(true), "the top-level option wins");
        for (bad, want) in [
            (serde_json::json!({"network_interfaces": [{"nic": 1}]}), "network_interfaces.nic"),
            (serde_json::json!({"network_interfaces": [{"device_index": "x"}]}), "cannot be converted to int"),
            (serde_json::json!({"network_interfaces": [{"device_index": null}]}), "cannot be converted to int"),
            (
                serde_json::json!({"network_interfaces": [{"private_ip_addresses": [{"primary": true}]}]}),
                "missing required arguments: private_ip_address",
            ),
            (
                serde_json::json!({"network_interfaces": [{"private_ip_addresses": ["10.0.0.1"]}]}),
                "converted to list of dict",
            ),
        ] {
            let e = p(bad).expect_err("refused");
            assert!(e.contains(want), "{e}");
        }
        let e = Ec2Instance::check_args(&args(serde_json::json!({"network": {}, "network_interfaces": []})));
        assert_eq!(e.expect_err("refused"), "parameters are mutually exclusive: network|network_interfaces");
        let e = Ec2Instance::check_args(&args(serde_json::json!({"network": {"interfaces": ["eni-1"]}})));
        assert!(e.expect_err("refused").contains("network.interfaces"));
    }

    #[test]
    fn arguments_prov_does_not_support_are_refused_by_name() {
        let e = Ec2Instance::check_args(&args(
            serde_json::json!({"name": "a", "tenancy": "host", "network_interfaces_ids": [{"id": "eni-1"}]}),
        ))
        .expect_err("refused");
        assert!(e.contains("network_interfaces_ids, tenancy"), "{e}");
        let e = Ec2Instance::check_args(&args(serde_json::json!({"hibernation_options": true}))).expect_err("refused");
        assert!(e.contains("hibernation_options"), "{e}");
        assert!(Ec2Instance::check_args(&args(serde_json::json!({"hibernation_options": false}))).is_ok());
    }

    #[test]
    fn mutually_exclusive_arguments_are_refused_as_ansible_words_them() {
        let e = Ec2Instance::check_args(&args(serde_json::json!({"count": 2, "exact_count": 1}))).expect_err("refused");
        assert_eq!(e, "parameters are mutually exclusive: exact_count|count");
        let e = Ec2Instance::check_args(&args(serde_json::json!({"state": "up"}))).expect_err("refused");
        assert!(e.starts_with("value of state must be one of: present, started"), "{e}");
        let e = Ec2Instance::check_args(&args(serde_json::json!({"wait_timeout": "soon"}))).expect_err("refused");
        assert!(e.contains("invalid literal for int()"), "{e}");
    }

    #[test]
    fn environment_fallbacks_read_the_tasks_environment_first() {
        let a = args(serde_json::json!({"name": "a", "tags": {"n": 1, "b": true}, "filters": {"tag:x": false}}));
        let env = vec![("AWS_REGION".to_string(), "eu-west-3".to_string()), ("AWS_URL".into(), "http://e".into())];
        let p = params(&a, &env).expect("params");
        assert_eq!(p.access.region.as_deref(), Some("eu-west-3"));
        assert_eq!(p.access.endpoint_url.as_deref(), Some("http://e"));
        assert_eq!(p.tags, Some(vec![("n".into(), "1".into()), ("b".into(), "True".into())]));
        assert_eq!(p.filters, Some(vec![("tag:x".into(), vec!["false".into()])]));
    }
}
