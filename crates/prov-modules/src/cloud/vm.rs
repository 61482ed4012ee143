//! `vm`: a virtual machine on any provider (`docker`, `gcp`, `aws`), named and labelled the
//! same way everywhere.
//!
//! Arguments: `provider` (default `docker`), `project` (required: the `prov-project` label),
//! `name` (required), `group` (the `prov-group` label, which inventories turn into groups),
//! `labels` (more labels), `machine_type` (`e2-small`, `t3.micro`, ...; docker maps it to CPU
//! and memory limits, aws maps GCP names to the EC2 type of the same size), `image`,
//! `static_ip` (docker: a fixed address on the project network; `true`: a static address the
//! cloud picks, a reserved GCP address or an AWS Elastic IP), `state` (`present` default,
//! `started`, `stopped`, `absent`), `network` and `subnet` (docker project network),
//! `build_image` (docker: build the node image when missing, default true), `disks` (disks
//! of the project made by the `disk` module, attached when the VM is created: a list of
//! `{name, mount_path}` on docker, `{name, device_name}` on a cloud), and for clouds
//! `cloud_project`, `zone`, `region` and `endpoint` (set from the inventory file).
//!
//! `disks` on docker is the only way a VM gets a volume (a container gains mounts only when
//! it is created): an existing docker VM without one of its disks is refused, to be deleted
//! and created again. On a cloud, a disk missing on an existing VM is attached.
//!
//! prov generates each new docker VM's SSH host key and records it in the project's known_hosts
//! (`~/.local/state/prov/<project>/known_hosts`), so strict host-key checking works from the
//! first connection; `absent` removes the entry. Cloud VMs make their own host keys: the
//! keys they publish through the cloud's API (GCP guest attributes, the EC2 console output)
//! are recorded instead (see the book, docs/src/providers/host-keys.md). Your `~/.ssh/id_*.pub` key
//! (or a key made for the project when you have none) is installed for root. A loop of `vm`
//! tasks runs its items at once, and a play that changes VMs reloads the inventory before the
//! next play.
//!
//! ```yaml
//! - vm:
//!     project: demo
//!     name: "{{ item.name }}"
//!     group: "{{ item.group }}"
//!     machine_type: e2-small
//!     static_ip: "{{ item.static_ip }}"
//!   loop: "{{ vms }}"
//! ```

use async_trait::async_trait;
use minijinja::Value;
use prov_core::args::lenient_bool;
use prov_core::module::{Action, Change, Module, ModuleCtx, ModuleError, Outcome, Plan, RunsOn};
use prov_providers::{
    DiskMount, Instance, InstanceSpec, InstanceState, Labels, Provider, ProviderError, ProviderSettings, LABEL_GROUP,
    LABEL_NAME, LABEL_PROJECT,
};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::net::IpAddr;

/// Arguments of `vm`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    /// `docker` (default).
    #[serde(default = "default_provider")]
    pub provider: String,
    /// The project (the `prov-project` label).
    pub project: String,
    /// Name (hostname, `prov-name` label).
    pub name: String,
    /// Inventory group (`prov-group` label).
    #[serde(default)]
    pub group: Option<String>,
    /// More labels.
    #[serde(default)]
    pub labels: BTreeMap<String, Value>,
    /// Machine type.
    #[serde(default)]
    pub machine_type: Option<String>,
    /// Image.
    #[serde(default)]
    pub image: Option<String>,
    /// Fixed address on the project network (docker), or `true`: a static address the cloud
    /// picks (a reserved GCP address, an AWS Elastic IP); `false` is none.
    #[serde(default, deserialize_with = "address_or_bool")]
    pub static_ip: Option<String>,
    /// `present`, `started`, `stopped`, `absent`.
    #[serde(default)]
    pub state: Option<String>,
    /// Project network name (docker).
    #[serde(default)]
    pub network: Option<String>,
    /// Project network subnet (docker).
    #[serde(default)]
    pub subnet: Option<String>,
    /// Build the docker node image when it is missing.
    #[serde(default = "yes", deserialize_with = "lenient_bool")]
    pub build_image: bool,
    /// Cloud project (GCP project id).
    #[serde(default)]
    pub cloud_project: Option<String>,
    /// Zone (GCP zone, AWS availability zone).
    #[serde(default)]
    pub zone: Option<String>,
    /// Region (AWS).
    #[serde(default)]
    pub region: Option<String>,
    /// API endpoint override (tests).
    #[serde(default)]
    pub endpoint: Option<String>,
    /// Disks to attach when the VM is created.
    #[serde(default)]
    pub disks: Vec<VmDisk>,
}

/// One entry of `disks`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VmDisk {
    /// The disk's name (made by the `disk` module).
    pub name: String,
    /// Device name (clouds).
    #[serde(default)]
    pub device_name: Option<String>,
    /// Mount path (docker).
    #[serde(default)]
    pub mount_path: Option<String>,
}

/// The `disks` of the spec, with the device as the provider has it.
fn disk_mounts(args: &Args) -> Result<Vec<DiskMount>, String> {
    args.disks
        .iter()
        .map(|d| {
            let device = super::disk::device(&args.provider, d.device_name.as_deref(), d.mount_path.as_deref())?;
            if args.provider == "docker" && device.is_none() {
                return Err(format!("disk `{}` needs a mount_path on the docker provider", d.name));
            }
            Ok(DiskMount { disk: d.name.clone(), device })
        })
        .collect()
}

/// `static_ip` may be an address or a boolean (`true`: the provider chooses the address).
fn address_or_bool<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum AddressOrBool {
        Bool(bool),
        Text(String),
    }
    Ok(match Option::<AddressOrBool>::deserialize(d)? {
        None | Some(AddressOrBool::Bool(false)) => None,
        Some(AddressOrBool::Bool(true)) => Some("true".into()),
        Some(AddressOrBool::Text(t)) => match prov_core::args::parse_bool(&t) {
            Some(false) => None,
            Some(true) => Some("true".into()),
            None => Some(t),
        },
    })
}

/// The `static_ip` of the spec: `true` becomes the unspecified address (the provider picks).
fn static_ip(args: &Args) -> Option<IpAddr> {
    match args.static_ip.as_deref() {
        Some("true") => Some(prov_providers::ANY_STATIC_IP),
        Some(s) => s.parse().ok(),
        None => None,
    }
}

fn default_provider() -> String {
    "docker".into()
}

fn yes() -> bool {
    true
}

const STATES: &[&str] = &["present", "started", "stopped", "absent"];

/// The `vm` module.
#[derive(Debug, Default)]
pub struct Vm;

/// What `apply` does.
pub enum VmPlan {
    /// Create (and start) it.
    Create,
    /// Start the stopped instance.
    Start,
    /// Stop the running instance.
    Stop,
    /// Delete it (it has these addresses).
    Delete(Vec<IpAddr>),
    /// Attach these disks to the existing VM (clouds).
    AttachDisks(Vec<DiskMount>),
}

fn state(args: &Args) -> &str {
    args.state.as_deref().unwrap_or("present")
}

fn settings(args: &Args) -> ProviderSettings {
    ProviderSettings {
        project: args.project.clone(),
        network: args.network.clone(),
        subnet: args.subnet.clone(),
        image: args.image.clone(),
        build_image: args.build_image,
        cloud_project: args.cloud_project.clone(),
        zone: args.zone.clone(),
        region: args.region.clone(),
        zones: args.zone.iter().cloned().collect(),
        regions: args.region.iter().cloned().collect(),
        endpoint: args.endpoint.clone(),
    }
}

fn failed(e: ProviderError) -> ModuleError {
    ModuleError::Failed(e.to_string())
}

async fn provider(args: &Args) -> Result<std::sync::Arc<dyn Provider>, ModuleError> {
    prov_providers::connect(&args.provider, &settings(args)).await.map_err(failed)
}

fn labels(args: &Args) -> Labels {
    let mut l: Labels = args
        .labels
        .iter()
        .map(|(k, v)| (prov_providers::label_key(k), prov_providers::label_value(&v.to_string())))
        .collect();
    l.insert(LABEL_PROJECT.into(), prov_providers::label_value(&args.project));
    l.insert(LABEL_NAME.into(), prov_providers::label_value(&args.name));
    if let Some(g) = &args.group {
        l.insert(LABEL_GROUP.into(), prov_providers::label_value(g));
    }
    l
}

/// The registered result: what the instance is now.
fn describe(i: &Instance) -> Outcome {
    let ip = |a: &Option<IpAddr>| a.map(|x| Value::from(x.to_string())).unwrap_or(Value::from(()));
    Outcome::ok()
        .with("name", i.name.as_str())
        .with("id", i.id.as_str())
        .with("state", i.state.as_str())
        .with("private_ip", ip(&i.private_ip))
        .with("public_ip", ip(&i.public_ip))
        .with("labels", Value::from_pairs(i.labels.iter().map(|(k, v)| (k.clone(), Value::from(v.as_str())))))
}

fn shown(i: Option<&Instance>) -> String {
    match i {
        None => "absent\n".into(),
        Some(i) => {
            let ip = i.private_ip.map(|a| a.to_string()).unwrap_or_default();
            format!("{} {ip}\n", i.state.as_str())
        }
    }
}

#[async_trait]
impl Module for Vm {
    const NAME: &'static str = "vm";
    const COLLECTIONS: &'static [&'static str] = &[];
    const RUNS_ON: RunsOn = RunsOn::Controller;
    const PARALLEL_ITEMS: bool = true;
    type Args = Args;
    type Plan = VmPlan;

    fn check_args(args: &Args) -> Result<(), String> {
        if !STATES.contains(&state(args)) {
            return Err(format!("state must be one of {}, not `{}`", STATES.join(", "), state(args)));
        }
        if !prov_providers::PROVIDERS.contains(&args.provider.as_str()) {
            return Err(format!(
                "unknown provider `{}`; known providers: {}",
                args.provider,
                prov_providers::PROVIDERS.join(", ")
            ));
        }
        if args.name.is_empty() || !args.name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Err(format!("VM name `{}` must be letters, digits and `-` (it is the hostname)", args.name));
        }
        if let Some(ip) = &args.static_ip {
            if prov_core::args::parse_bool(ip).is_none() {
                ip.parse::<IpAddr>()
                    .map_err(|_| format!("static_ip `{ip}` is neither an IP address nor true/false"))?;
            }
        }
        disk_mounts(args)?;
        // Docker needs a size it knows; a cloud checks its own type names.
        if let Some(t) = args.machine_type.as_ref().filter(|_| args.provider == "docker") {
            prov_providers::machine::shape(t)?;
        }
        Ok(())
    }

    async fn plan(&self, args: &Args, _cx: &ModuleCtx<'_>) -> Result<Plan<VmPlan>, ModuleError> {
        let p = provider(args).await?;
        let current = p.get(&args.name).await.map_err(failed)?;
        let name = args.name.clone();
        let change = |plan, action, before: &str, after: &str| {
            Plan::Change(Change::new(plan, action, "vm", name.clone()).with_diff(format!("vm {name}"), before, after))
        };
        let now = shown(current.as_ref());
        Ok(match (state(args), current.as_ref()) {
            ("started" | "present", Some(i)) if i.state == InstanceState::Stopped && state(args) == "started" => {
                change(VmPlan::Start, Action::Modify, &now, "running\n")
            }
            ("stopped", None) => {
                return Ok(Plan::Ok(Outcome::failed(format!(
                    "no VM `{}` in project `{}` to stop",
                    args.name, args.project
                ))))
            }
            ("stopped", Some(i)) if i.state != InstanceState::Stopped => {
                change(VmPlan::Stop, Action::Modify, &now, "stopped\n")
            }
            ("absent", Some(i)) => change(
                VmPlan::Delete(i.private_ip.into_iter().chain(i.public_ip).collect()),
                Action::Delete,
                &now,
                "absent\n",
            ),
            ("absent", None) => Plan::Ok(Outcome::ok().with("name", args.name.as_str()).with("state", "absent")),
            (_, None) => change(VmPlan::Create, Action::Create, &now, "running\n"),
            (_, Some(i)) => {
                if let (Some(want), Some(have)) = (&args.group, i.labels.get(LABEL_GROUP)) {
                    if prov_providers::label_value(want) != *have {
                        return Ok(Plan::Ok(Outcome::failed(format!(
                            "VM `{}` exists in group `{have}`, not `{want}`; delete it first (state: absent) to move it",
                            args.name
                        ))));
                    }
                }
                let mut missing = Vec::new();
                for m in disk_mounts(args).map_err(ModuleError::Failed)? {
                    let attached = match p.get_disk(&m.disk).await.map_err(failed)? {
                        Some(d) => {
                            d.attachment(&args.name).is_some_and(|a| m.device.as_ref().is_none_or(|w| *w == a.device))
                        }
                        None => {
                            return Ok(Plan::Ok(Outcome::failed(format!(
                                "no disk `{}` in project `{}` for VM `{}`: create it first with the disk module",
                                m.disk, args.project, args.name
                            ))))
                        }
                    };
                    if attached {
                        continue;
                    }
                    if !p.attaches_to_existing() {
                        return Ok(Plan::Ok(Outcome::failed(format!(
                            "{} VM `{}` exists without disk `{}` at {}; a container gains volumes only when it is \
                             created: delete the VM (state: absent) and create it again",
                            p.name(),
                            args.name,
                            m.disk,
                            m.device.as_deref().unwrap_or("?")
                        ))));
                    }
                    missing.push(m);
                }
                if !missing.is_empty() {
                    let names: Vec<&str> = missing.iter().map(|m| m.disk.as_str()).collect();
                    let after = format!("{now}disks {}\n", names.join(", "));
                    return Ok(change(VmPlan::AttachDisks(missing), Action::Modify, &now, &after));
                }
                Plan::Ok(describe(i))
            }
        })
    }

    async fn apply(&self, args: &Args, plan: VmPlan, _cx: &ModuleCtx<'_>) -> Result<Outcome, ModuleError> {
        let p = provider(args).await?;
        let known_hosts = prov_providers::state::known_hosts(&args.project);
        let mut o = match plan {
            VmPlan::Create => {
                let (key, _) = prov_providers::state::login_key(&args.project)
                    .map_err(|e| ModuleError::Failed(format!("cannot prepare the SSH login key: {e}")))?;
                // A provider that cannot install a key prov made (a cloud image makes its own)
                // gets none.
                let host_key = match p.installs_host_key() {
                    true => Some(
                        prov_providers::state::generate_ed25519(&format!("{}@{}", args.name, args.project))
                            .map_err(|e| ModuleError::Failed(format!("cannot generate a host key: {e}")))?,
                    ),
                    false => None,
                };
                let spec = InstanceSpec {
                    name: args.name.clone(),
                    labels: labels(args),
                    machine_type: args.machine_type.clone(),
                    image: args.image.clone(),
                    static_ip: static_ip(args),
                    authorized_keys: vec![key],
                    host_key: host_key.clone(),
                    disks: disk_mounts(args).map_err(ModuleError::Failed)?,
                };
                let i = p.create(&spec).await.map_err(failed)?;
                // A cloud attaches disks to the running instance (docker mounted them at creation).
                if p.attaches_to_existing() {
                    for m in &spec.disks {
                        p.attach_disk(&m.disk, &args.name, m.device.as_deref()).await.map_err(failed)?;
                    }
                }
                let mut o = describe(&i);
                match &host_key {
                    Some((_, public)) => {
                        if let Some(ip) = i.private_ip {
                            prov_providers::state::record_host_key(&known_hosts, ip, public).map_err(|e| {
                                ModuleError::Failed(format!(
                                    "cannot record the host key in {}: {e}",
                                    known_hosts.display()
                                ))
                            })?;
                        }
                    }
                    // A cloud VM's own keys, read through the cloud's API, are recorded under
                    // its instance id by the provider.
                    None if !prov_providers::state::knows_host(&known_hosts, &i.id) => {
                        o.msg = Some(format!(
                            "VM `{}` published no SSH host key through the cloud's API: the first SSH connection \
                             accepts the key it offers and pins it to instance {}",
                            args.name, i.id
                        ));
                    }
                    None => {}
                }
                o
            }
            VmPlan::Start => describe(&p.start(&args.name).await.map_err(failed)?),
            VmPlan::AttachDisks(disks) => {
                for m in &disks {
                    p.attach_disk(&m.disk, &args.name, m.device.as_deref()).await.map_err(failed)?;
                }
                describe(&p.get(&args.name).await.map_err(failed)?.ok_or_else(|| {
                    ModuleError::Failed(format!("VM `{}` vanished while its disks were attached", args.name))
                })?)
            }
            VmPlan::Stop => describe(&p.stop(&args.name).await.map_err(failed)?),
            VmPlan::Delete(ips) => {
                p.delete(&args.name).await.map_err(failed)?;
                for ip in ips {
                    prov_providers::state::forget_host(&known_hosts, ip)
                        .map_err(|e| ModuleError::Failed(format!("cannot update {}: {e}", known_hosts.display())))?;
                }
                let mut sel = Labels::new();
                sel.insert(LABEL_PROJECT.into(), prov_providers::label_value(&args.project));
                if p.list(&sel).await.map_err(failed)?.is_empty() {
                    p.cleanup().await.map_err(failed)?;
                }
                Outcome::ok().with("name", args.name.as_str()).with("state", "absent")
            }
        };
        o.changed = true;
        o.refresh_inventory = true;
        Ok(o)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(v: serde_json::Value) -> Result<Args, String> {
        prov_core::module::args_from_value(&Value::from(minijinja::value::Serde(v)))
    }

    #[test]
    fn arguments_are_checked_before_anything_runs() {
        let ok = args(serde_json::json!({"project": "p", "name": "w1", "machine_type": "e2-small"})).expect("ok");
        assert!(Vm::check_args(&ok).is_ok());
        let bad = args(serde_json::json!({"project": "p", "name": "w1", "machine_type": "e2-smal"})).expect("parses");
        assert!(Vm::check_args(&bad).expect_err("type").contains("did you mean `e2-small`?"));
        let bad = args(serde_json::json!({"project": "p", "name": "w_1"})).expect("parses");
        assert!(Vm::check_args(&bad).is_err());
        let bad = args(serde_json::json!({"project": "p", "name": "w1", "state": "running"})).expect("parses");
        assert!(Vm::check_args(&bad).expect_err("state").contains("present, started, stopped, absent"));
        let bad = args(serde_json::json!({"project": "p", "name": "w1", "static_ip": "10.0.0.300"})).expect("parses");
        assert!(Vm::check_args(&bad).is_err());
        let any = args(serde_json::json!({"project": "p", "name": "w1", "static_ip": true})).expect("a YAML boolean");
        assert_eq!(any.static_ip.as_deref(), Some("true"));
        assert!(Vm::check_args(&any).is_ok(), "static_ip: true asks for an address the cloud picks");
        assert!(
            args(serde_json::json!({"project": "p", "name": "w1", "size": 2})).is_err(),
            "unknown arguments are refused"
        );
    }

    #[test]
    fn labels_carry_project_name_and_group() {
        let a = args(
            serde_json::json!({"project": "Demo", "name": "w1", "group": "workers", "labels": {"Tier": "Back End"}}),
        )
        .expect("ok");
        let l = labels(&a);
        assert_eq!(l.get("prov-project").map(String::as_str), Some("demo"));
        assert_eq!(l.get("prov-group").map(String::as_str), Some("workers"));
        assert_eq!(l.get("tier").map(String::as_str), Some("back-end"));
    }
}
