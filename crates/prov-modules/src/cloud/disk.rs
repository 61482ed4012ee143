//! `disk`: a disk that lives apart from VMs (docker: a named volume; gcp: a zonal persistent
//! disk; aws: an EBS volume), labelled with the project like VMs, attached to a VM or not.
//!
//! Arguments (names of `google.cloud.gcp_compute_disk` and `amazon.aws.ec2_vol` where they
//! exist): `provider` (default `docker`), `project` (required: the `prov-project` label),
//! `name` (required: the disk's name within the project, its `prov-name` label), `size_gb`
//! (alias `volume_size`; GB, GiB on AWS), `type` (alias `volume_type`: `pd-balanced`,
//! `pd-standard`, ... on gcp, `gp3`, `standard`, ... on aws; the docker provider has none),
//! `labels` (alias `tags`), `state` (`present` default, `absent`), `instance` (the name of a
//! VM of the project to attach the disk to; `None` or empty detaches it from every VM, as
//! `ec2_vol` has it), `device_name` (clouds: gcp the device name, seen in the VM as
//! `/dev/disk/by-id/google-<device_name>`, default the disk's name; aws the device, default
//! `/dev/sdf`), `mount_path` (docker: where the volume appears in the VM), and as for `vm`:
//! `cloud_project`, `zone` (aliases `availability_zone`, `aws_zone`, `ec2_zone`), `region`,
//! `endpoint`, `network`, `subnet`.
//!
//! The module creates and deletes the disk and its attachment; it neither formats nor
//! mounts a cloud disk inside the VM (use `ansible.posix.mount` for that). An existing disk
//! of another size, type or labels is refused, not resized or relabelled; deleting a disk
//! that is still attached when its turn comes is refused, naming the VMs (delete or detach
//! them first).
//!
//! On aws a new volume needs `size_gb` (EC2 has no default) and goes to `zone`, else
//! `<region>a`: a VM attaches only volumes of its own availability zone, so give the VMs
//! the same `zone`. On gcp the disk lives in the provider's zone; without `size_gb` it gets
//! Google's default (500 GB).
//!
//! The docker provider differs where Docker does: the size is recorded in the
//! `prov-size-gb` label but not enforced (the local volume driver cannot limit a plain
//! volume), and a container gains mounts only when it is created. So a docker VM mounts
//! its disks through the `vm` task's `disks` list when it is created; `disk` with
//! `instance` then confirms the mount (and explains what to do when it is missing), and
//! detaching is deleting the VM. One volume may be mounted by many docker VMs.
//!
//! ```yaml
//! - disk:
//!     provider: gcp
//!     project: demo
//!     name: nfs
//!     size_gb: 10
//!     labels: { role: nfs }
//! - vm:
//!     project: demo
//!     name: monitor
//!     disks:
//!       - { name: nfs, mount_path: /srv/nfs }   # docker; on a cloud: device_name
//! - disk:
//!     provider: gcp
//!     project: demo
//!     name: nfs
//!     instance: monitor
//!     device_name: nfs
//! ```

use async_trait::async_trait;
use minijinja::Value;
use prov_core::module::{Action, Change, Module, ModuleCtx, ModuleError, Outcome, Plan, RunsOn};
use prov_providers::{Disk, DiskSpec, Labels, Provider, ProviderError, ProviderSettings, LABEL_NAME, LABEL_PROJECT};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Arguments of `disk`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    /// `docker` (default), `gcp`, `aws`.
    #[serde(default = "default_provider")]
    pub provider: String,
    /// The project (the `prov-project` label).
    pub project: String,
    /// Name within the project.
    pub name: String,
    /// Size in GB.
    #[serde(default, alias = "volume_size")]
    pub size_gb: Option<u64>,
    /// Disk type.
    #[serde(default, rename = "type", alias = "volume_type")]
    pub disk_type: Option<String>,
    /// More labels.
    #[serde(default, alias = "tags")]
    pub labels: BTreeMap<String, Value>,
    /// `present`, `absent`.
    #[serde(default)]
    pub state: Option<String>,
    /// VM to attach to; `None` or empty: detach from every VM.
    #[serde(default)]
    pub instance: Option<String>,
    /// Device name (clouds).
    #[serde(default)]
    pub device_name: Option<String>,
    /// Mount path (docker).
    #[serde(default)]
    pub mount_path: Option<String>,
    /// Project network name (docker).
    #[serde(default)]
    pub network: Option<String>,
    /// Project network subnet (docker).
    #[serde(default)]
    pub subnet: Option<String>,
    /// Cloud project (GCP project id).
    #[serde(default)]
    pub cloud_project: Option<String>,
    /// Zone.
    #[serde(default, alias = "availability_zone", alias = "aws_zone", alias = "ec2_zone")]
    pub zone: Option<String>,
    /// Region (AWS).
    #[serde(default)]
    pub region: Option<String>,
    /// API endpoint override (tests).
    #[serde(default)]
    pub endpoint: Option<String>,
}

fn default_provider() -> String {
    "docker".into()
}

/// The `disk` module.
#[derive(Debug, Default)]
pub struct DiskModule;

/// What `apply` does.
pub enum DiskPlan {
    /// Create it, then attach it to this VM (device) if any.
    Create(Option<(String, Option<String>)>),
    /// Attach it to a VM (device).
    Attach(String, Option<String>),
    /// Detach it from these VMs.
    Detach(Vec<String>),
    /// Delete it.
    Delete,
}

fn state(args: &Args) -> &str {
    args.state.as_deref().unwrap_or("present")
}

/// The VM to attach to: `Some(None)` detaches from every VM (`instance: None`).
fn target(args: &Args) -> Option<Option<&str>> {
    args.instance.as_deref().map(|i| match i.trim() {
        "" | "None" | "none" => None,
        other => Some(other),
    })
}

/// Where a disk appears in a VM, from `device_name` / `mount_path` as the provider has it:
/// docker mounts a path, a cloud names a device.
pub fn device(provider: &str, device_name: Option<&str>, mount_path: Option<&str>) -> Result<Option<String>, String> {
    match (provider, device_name, mount_path) {
        ("docker", Some(d), _) => Err(format!(
            "device_name `{d}` is for a cloud's block device; the docker provider mounts a volume: use mount_path"
        )),
        ("docker", None, Some(p)) if !p.starts_with('/') => Err(format!("mount_path `{p}` must be an absolute path")),
        ("docker", None, p) => Ok(p.map(str::to_string)),
        (cloud, _, Some(p)) => Err(format!(
            "mount_path `{p}` is for the docker provider; on {cloud} give device_name and mount the device in the \
             VM (ansible.posix.mount)"
        )),
        (_, d, None) => Ok(d.map(str::to_string)),
    }
}

fn settings(args: &Args) -> ProviderSettings {
    ProviderSettings {
        project: args.project.clone(),
        network: args.network.clone(),
        subnet: args.subnet.clone(),
        image: None,
        build_image: false,
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

async fn provider(args: &Args) -> Result<Arc<dyn Provider>, ModuleError> {
    prov_providers::connect(&args.provider, &settings(args)).await.map_err(failed)
}

fn labels(args: &Args) -> Labels {
    let mut l: Labels = args
        .labels
        .iter()
        .map(|(k, v)| (prov_providers::label_key(k), prov_providers::label_value(&v.to_string())))
        .collect();
    l.insert(LABEL_PROJECT.into(), prov_providers::label_value(&args.project));
    l.insert(LABEL_NAME.into(), args.name.clone());
    l
}

/// The registered result: what the disk is now.
fn describe(d: &Disk) -> Outcome {
    let attachments: Vec<Value> = d
        .attachments
        .iter()
        .map(|a| {
            Value::from_pairs([
                ("instance", Value::from(a.instance.as_str())),
                ("device", Value::from(a.device.as_str())),
            ])
        })
        .collect();
    Outcome::ok()
        .with("name", d.name.as_str())
        .with("id", d.id.as_str())
        .with("state", "present")
        .with("size_gb", d.size_gb.map(Value::from).unwrap_or(Value::from(())))
        .with("type", d.disk_type.as_deref().map(Value::from).unwrap_or(Value::from(())))
        .with("attachments", attachments)
        .with("labels", Value::from_pairs(d.labels.iter().map(|(k, v)| (k.clone(), Value::from(v.as_str())))))
        .with("details", Value::from(minijinja::value::Serde(d.details.clone())))
}

fn shown(d: Option<&Disk>) -> String {
    match d {
        None => "absent\n".into(),
        Some(d) => {
            let mut s = format!("present {}\n", d.size_gb.map(|g| format!("{g} GB")).unwrap_or_default());
            for a in &d.attachments {
                s.push_str(&format!("attached to {} as {}\n", a.instance, a.device));
            }
            s
        }
    }
}

/// Why an existing disk does not match the arguments (prov neither resizes nor relabels).
fn mismatch(args: &Args, d: &Disk) -> Option<String> {
    let name = &args.name;
    if let (Some(want), Some(have)) = (args.size_gb, d.size_gb) {
        if want != have {
            return Some(format!("disk `{name}` exists with size {have} GB, not {want}: prov does not resize disks"));
        }
    }
    if let (Some(want), Some(have)) = (&args.disk_type, &d.disk_type) {
        if want != have {
            return Some(format!("disk `{name}` exists with type {have}, not {want}: delete it first to change it"));
        }
    }
    for (k, v) in labels(args) {
        if d.labels.get(&k) != Some(&v) {
            return Some(format!(
                "disk `{name}` exists with label {k}={}, not {v}: prov does not relabel disks",
                d.labels.get(&k).map(String::as_str).unwrap_or("(unset)")
            ));
        }
    }
    None
}

#[async_trait]
impl Module for DiskModule {
    const NAME: &'static str = "disk";
    const RUNS_ON: RunsOn = RunsOn::Controller;
    const PARALLEL_ITEMS: bool = true;
    type Args = Args;
    type Plan = DiskPlan;

    fn check_args(args: &Args) -> Result<(), String> {
        if !["present", "absent"].contains(&state(args)) {
            return Err(format!("state must be one of present, absent, not `{}`", state(args)));
        }
        if !prov_providers::PROVIDERS.contains(&args.provider.as_str()) {
            return Err(format!(
                "unknown provider `{}`; known providers: {}",
                args.provider,
                prov_providers::PROVIDERS.join(", ")
            ));
        }
        let n = &args.name;
        if n.is_empty()
            || n.len() > 63
            || !n.starts_with(|c: char| c.is_ascii_lowercase())
            || n.ends_with('-')
            || !n.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            return Err(format!(
                "disk name `{n}` must be a lower-case letter, then lower-case letters, digits and `-` (at most 63)"
            ));
        }
        if args.size_gb == Some(0) {
            return Err("size_gb must be at least 1".into());
        }
        device(&args.provider, args.device_name.as_deref(), args.mount_path.as_deref())?;
        Ok(())
    }

    async fn plan(&self, args: &Args, _cx: &ModuleCtx<'_>) -> Result<Plan<DiskPlan>, ModuleError> {
        let p = provider(args).await?;
        let current = p.get_disk(&args.name).await.map_err(failed)?;
        let name = args.name.clone();
        let now = shown(current.as_ref());
        let change = |plan, action, after: String| {
            Plan::Change(Change::new(plan, action, "disk", name.clone()).with_diff(
                format!("disk {name}"),
                &now,
                &after,
            ))
        };
        let dev = device(&args.provider, args.device_name.as_deref(), args.mount_path.as_deref())
            .map_err(ModuleError::Failed)?;
        let fail = |msg: String| Ok(Plan::Ok(Outcome::failed(msg)));
        if state(args) == "absent" {
            // Still attached is refused when it is deleted (by the provider, naming the VMs):
            // the VMs may go earlier in the same run, so the plan cannot tell.
            return match current {
                None => Ok(Plan::Ok(Outcome::ok().with("name", args.name.as_str()).with("state", "absent"))),
                Some(_) => Ok(change(DiskPlan::Delete, Action::Delete, "absent\n".into())),
            };
        }
        let Some(d) = current else {
            let attach = match target(args) {
                Some(Some(_)) if !p.attaches_to_existing() => {
                    return fail(format!(
                        "disk `{}` does not exist yet, and a {} VM mounts disks only when it is created: create the \
                         disk first, then the VM with `disks: [{{name: {}, mount_path: ...}}]`",
                        args.name,
                        p.name(),
                        args.name
                    ));
                }
                Some(Some(vm)) => Some((vm.to_string(), dev.clone())),
                _ => None,
            };
            let after = match &attach {
                Some((vm, _)) => format!("present\nattached to {vm}\n"),
                None => "present\n".into(),
            };
            return Ok(change(DiskPlan::Create(attach), Action::Create, after));
        };
        if let Some(why) = mismatch(args, &d) {
            return fail(why);
        }
        match target(args) {
            None => Ok(Plan::Ok(describe(&d))),
            Some(None) if d.attachments.is_empty() => Ok(Plan::Ok(describe(&d))),
            Some(None) => {
                let vms: Vec<String> = d.attachments.iter().map(|a| a.instance.clone()).collect();
                Ok(change(DiskPlan::Detach(vms), Action::Modify, "present\n".into()))
            }
            Some(Some(vm)) => match d.attachment(vm) {
                Some(a) if dev.as_deref().is_none_or(|want| want == a.device) => Ok(Plan::Ok(describe(&d))),
                _ if !p.attaches_to_existing() => {
                    // The provider explains why (it only confirms attachments made at creation).
                    match p.attach_disk(&args.name, vm, dev.as_deref()).await {
                        Ok(d) => Ok(Plan::Ok(describe(&d))),
                        Err(e) => fail(e.to_string()),
                    }
                }
                Some(a) => fail(format!(
                    "disk `{}` is attached to `{vm}` as {}, not {}: detach it first (instance: None)",
                    args.name,
                    a.device,
                    dev.as_deref().unwrap_or("?")
                )),
                None => {
                    let mut after = shown(Some(&d));
                    after.push_str(&format!("attached to {vm} as {}\n", dev.as_deref().unwrap_or("(default)")));
                    Ok(change(DiskPlan::Attach(vm.to_string(), dev), Action::Modify, after))
                }
            },
        }
    }

    async fn apply(&self, args: &Args, plan: DiskPlan, _cx: &ModuleCtx<'_>) -> Result<Outcome, ModuleError> {
        let p = provider(args).await?;
        let mut o = match plan {
            DiskPlan::Create(attach) => {
                let spec = DiskSpec {
                    name: args.name.clone(),
                    size_gb: args.size_gb,
                    disk_type: args.disk_type.clone(),
                    labels: labels(args),
                };
                let d = p.create_disk(&spec).await.map_err(failed)?;
                match attach {
                    Some((vm, dev)) => describe(&p.attach_disk(&d.name, &vm, dev.as_deref()).await.map_err(failed)?),
                    None => describe(&d),
                }
            }
            DiskPlan::Attach(vm, dev) => {
                describe(&p.attach_disk(&args.name, &vm, dev.as_deref()).await.map_err(failed)?)
            }
            DiskPlan::Detach(vms) => {
                let mut last = None;
                for vm in vms {
                    last = Some(p.detach_disk(&args.name, &vm).await.map_err(failed)?);
                }
                match last {
                    Some(d) => describe(&d),
                    None => Outcome::ok(),
                }
            }
            DiskPlan::Delete => {
                p.delete_disk(&args.name).await.map_err(failed)?;
                Outcome::ok().with("name", args.name.as_str()).with("state", "absent")
            }
        };
        o.changed = true;
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
    fn ansible_names_are_accepted_and_bad_input_refused() {
        let a = args(serde_json::json!({"project": "p", "name": "nfs", "volume_size": 10, "volume_type": "gp3",
            "tags": {"Role": "nfs"}, "availability_zone": "us-east-1a", "provider": "aws", "device_name": "/dev/sdf"}))
        .expect("ec2_vol names");
        assert_eq!((a.size_gb, a.disk_type.as_deref(), a.zone.as_deref()), (Some(10), Some("gp3"), Some("us-east-1a")));
        assert_eq!(labels(&a).get("role").map(String::as_str), Some("nfs"));
        assert!(DiskModule::check_args(&a).is_ok());
        let a = args(serde_json::json!({"project": "p", "name": "nfs", "size_gb": 10, "type": "pd-balanced"}))
            .expect("gcp_compute_disk names");
        assert_eq!(a.disk_type.as_deref(), Some("pd-balanced"));

        let bad = |v: serde_json::Value| DiskModule::check_args(&args(v).expect("parses")).expect_err("refused");
        assert!(bad(serde_json::json!({"project": "p", "name": "Nfs"})).contains("lower-case"));
        assert!(
            bad(serde_json::json!({"project": "p", "name": "nfs", "state": "attached"})).contains("present, absent")
        );
        assert!(bad(serde_json::json!({"project": "p", "name": "nfs", "size_gb": 0})).contains("at least 1"));
        assert!(
            bad(serde_json::json!({"project": "p", "name": "nfs", "device_name": "sdb"})).contains("use mount_path")
        );
        assert!(bad(serde_json::json!({"project": "p", "name": "nfs", "mount_path": "srv"})).contains("absolute"));
        assert!(bad(serde_json::json!({"project": "p", "name": "nfs", "provider": "gcp", "mount_path": "/srv"}))
            .contains("ansible.posix.mount"));
        assert!(args(serde_json::json!({"project": "p", "name": "nfs", "size": 2})).is_err(), "unknown argument");
    }

    #[test]
    fn instance_none_detaches_as_ec2_vol_has_it() {
        let a = |i: &str| args(serde_json::json!({"project": "p", "name": "d", "instance": i})).expect("ok");
        assert_eq!(target(&a("None")), Some(None));
        assert_eq!(target(&a("")), Some(None));
        assert_eq!(target(&a("monitor")), Some(Some("monitor")));
        assert_eq!(target(&args(serde_json::json!({"project": "p", "name": "d"})).expect("ok")), None);
    }
}
