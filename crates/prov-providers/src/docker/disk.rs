//! Disks of the docker provider: named volumes of the local driver.
//!
//! * volume `<project>-<name>`, labels of the spec plus `prov-project`, `prov-name` and
//!   `prov-size-gb`;
//! * size: recorded in the `prov-size-gb` label, not enforced. The local driver limits a
//!   volume's size only for `type=tmpfs` (memory, lost when the VM stops) or on an XFS
//!   backing filesystem mounted with project quotas; a plain volume grows until the host's
//!   disk is full;
//! * attach: a container gains mounts only when it is created, so a VM mounts its disks
//!   when it is created ([`InstanceSpec::disks`](crate::InstanceSpec::disks)). `attach_disk`
//!   confirms such a mount and refuses otherwise, saying so; `detach_disk` refuses while the
//!   VM mounts it (deleting the VM releases it); `delete_disk` refuses while any VM mounts it;
//! * the same volume may be mounted by many VMs at once (a shared directory).

use super::{api_error, check_name, invalid, is_not_found, DockerProvider, PROVIDER};
use crate::disk::LABEL_SIZE_GB;
use crate::{Attachment, Disk, DiskMount, DiskSpec, Labels, ProviderError, LABEL_NAME, LABEL_PROJECT};
use bollard::models::{Mount, MountType, Volume, VolumeCreateRequest};
use bollard::query_parameters::{ListContainersOptionsBuilder, ListVolumesOptionsBuilder, RemoveVolumeOptionsBuilder};
use std::collections::HashMap;

impl DockerProvider {
    /// The volume name of disk `name`.
    pub fn volume_name(&self, name: &str) -> String {
        format!("{}-{}", self.project, name)
    }

    /// The volume of disk `name`, if it exists and belongs to the project.
    async fn inspect_volume(&self, name: &str) -> Result<Option<Volume>, ProviderError> {
        let vname = self.volume_name(name);
        let v = match self.docker.inspect_volume(&vname).await {
            Ok(v) => v,
            Err(e) if is_not_found(&e) => return Ok(None),
            Err(e) => return Err(api_error(e)),
        };
        if v.labels.get(LABEL_PROJECT) != Some(&self.project) {
            return Err(invalid(format!(
                "volume `{vname}` exists but is not a disk of project `{}` (no {LABEL_PROJECT} label)",
                self.project
            )));
        }
        Ok(Some(v))
    }

    /// The VMs of the project that mount volume `vname`, and where.
    async fn mounts_of(&self, vname: &str) -> Result<Vec<Attachment>, ProviderError> {
        let filters = HashMap::from([
            ("volume".to_string(), vec![vname.to_string()]),
            ("label".to_string(), vec![format!("{LABEL_PROJECT}={}", self.project)]),
        ]);
        let options = ListContainersOptionsBuilder::new().all(true).filters(&filters).build();
        let mut out = Vec::new();
        for c in self.docker.list_containers(Some(options)).await.map_err(api_error)? {
            let Some(instance) = c.labels.as_ref().and_then(|l| l.get(LABEL_NAME)).cloned() else { continue };
            for m in c.mounts.unwrap_or_default() {
                if m.name.as_deref() == Some(vname) {
                    out.push(Attachment { instance: instance.clone(), device: m.destination.unwrap_or_default() });
                }
            }
        }
        out.sort_by(|a, b| a.instance.cmp(&b.instance));
        Ok(out)
    }

    async fn disk_from(&self, v: Volume) -> Result<Disk, ProviderError> {
        let labels: Labels = v.labels.clone().into_iter().collect();
        let name = labels
            .get(LABEL_NAME)
            .cloned()
            .unwrap_or_else(|| v.name.strip_prefix(&format!("{}-", self.project)).unwrap_or(&v.name).to_string());
        Ok(Disk {
            name,
            id: v.name.clone(),
            size_gb: labels.get(LABEL_SIZE_GB).and_then(|s| s.parse().ok()),
            disk_type: None,
            attachments: self.mounts_of(&v.name).await?,
            details: serde_json::json!({
                "volume": v.name,
                "driver": v.driver,
                "mountpoint": v.mountpoint,
                "size_enforced": false,
            }),
            labels,
        })
    }

    /// The mounts of a new VM's disks; every disk must exist and have a mount path.
    pub(super) async fn disk_mounts(&self, vm: &str, disks: &[DiskMount]) -> Result<Vec<Mount>, ProviderError> {
        let mut out = Vec::new();
        for d in disks {
            let path = d.device.as_deref().filter(|p| p.starts_with('/')).ok_or_else(|| {
                invalid(format!(
                    "disk `{}` of VM `{vm}` needs an absolute mount_path on the docker provider (where the \
                     volume appears in the VM)",
                    d.disk
                ))
            })?;
            if self.inspect_volume(&d.disk).await?.is_none() {
                return Err(ProviderError::DiskNotFound(format!(
                    "{} (VM `{vm}` mounts it: create it first with the disk module)",
                    d.disk
                )));
            }
            out.push(Mount {
                target: Some(path.to_string()),
                source: Some(self.volume_name(&d.disk)),
                typ: Some(MountType::VOLUME),
                ..Default::default()
            });
        }
        Ok(out)
    }

    /// Why an existing container does not mount `disks` as asked (one line each).
    pub(super) fn disk_differences(&self, mounts: &[bollard::models::MountPoint], disks: &[DiskMount]) -> Vec<String> {
        disks
            .iter()
            .filter(|d| {
                let vname = self.volume_name(&d.disk);
                !mounts.iter().any(|m| m.name.as_deref() == Some(&vname) && m.destination == d.device)
            })
            .map(|d| format!("disk {} is not mounted at {}", d.disk, d.device.as_deref().unwrap_or("?")))
            .collect()
    }

    pub(super) async fn list_disks_impl(&self, selector: &Labels) -> Result<Vec<Disk>, ProviderError> {
        let mut wanted = vec![format!("{LABEL_PROJECT}={}", self.project)];
        wanted.extend(selector.iter().map(|(k, v)| format!("{k}={v}")));
        let filters = HashMap::from([("label".to_string(), wanted)]);
        let options = ListVolumesOptionsBuilder::new().filters(&filters).build();
        let list = self.docker.list_volumes(Some(options)).await.map_err(api_error)?;
        let mut out = Vec::new();
        for v in list.volumes.unwrap_or_default() {
            out.push(self.disk_from(v).await?);
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    pub(super) async fn get_disk_impl(&self, name: &str) -> Result<Option<Disk>, ProviderError> {
        match self.inspect_volume(name).await? {
            Some(v) => Ok(Some(self.disk_from(v).await?)),
            None => Ok(None),
        }
    }

    pub(super) async fn create_disk_impl(&self, spec: &DiskSpec) -> Result<Disk, ProviderError> {
        check_name("disk name", &spec.name)?;
        if let Some(t) = &spec.disk_type {
            return Err(invalid(format!("the docker provider has no disk types (type `{t}`): leave `type` unset")));
        }
        if let Some(d) = self.get_disk_impl(&spec.name).await? {
            return Ok(d);
        }
        let mut labels = spec.labels.clone();
        labels.insert(LABEL_PROJECT.into(), self.project.clone());
        labels.insert(LABEL_NAME.into(), spec.name.clone());
        if let Some(gb) = spec.size_gb {
            labels.insert(LABEL_SIZE_GB.into(), gb.to_string());
        }
        let request = VolumeCreateRequest {
            name: Some(self.volume_name(&spec.name)),
            driver: Some("local".into()),
            labels: Some(labels.into_iter().collect()),
            ..Default::default()
        };
        let v = self.docker.create_volume(request).await.map_err(api_error)?;
        self.disk_from(v).await
    }

    pub(super) async fn delete_disk_impl(&self, name: &str) -> Result<(), ProviderError> {
        let Some(d) = self.get_disk_impl(name).await? else { return Ok(()) };
        if !d.attachments.is_empty() {
            return Err(in_use(&d));
        }
        let options = RemoveVolumeOptionsBuilder::new().force(false).build();
        match self.docker.remove_volume(&d.id, Some(options)).await {
            Ok(()) => Ok(()),
            Err(e) if is_not_found(&e) => Ok(()),
            Err(e) => Err(api_error(e)),
        }
    }

    pub(super) async fn attach_disk_impl(
        &self,
        disk: &str,
        instance: &str,
        device: Option<&str>,
    ) -> Result<Disk, ProviderError> {
        let d = self.get_disk_impl(disk).await?.ok_or_else(|| ProviderError::DiskNotFound(disk.to_string()))?;
        match d.attachment(instance) {
            Some(a) if device.is_none_or(|p| p == a.device) => Ok(d),
            found => Err(invalid(format!(
                "docker VM `{instance}` {}; a container gains volumes only when it is created: list the disk in the \
                 vm task's `disks` (name and mount_path), then delete the VM and create it again",
                match found {
                    Some(a) => format!("mounts disk `{disk}` at {}, not at {}", a.device, device.unwrap_or("?")),
                    None => format!("does not mount disk `{disk}`"),
                }
            ))),
        }
    }

    pub(super) async fn detach_disk_impl(&self, disk: &str, instance: &str) -> Result<Disk, ProviderError> {
        let d = self.get_disk_impl(disk).await?.ok_or_else(|| ProviderError::DiskNotFound(disk.to_string()))?;
        match d.attachment(instance) {
            None => Ok(d),
            Some(a) => Err(invalid(format!(
                "docker VM `{instance}` mounts disk `{disk}` at {} until the VM is deleted (a container cannot lose a \
                 mount): delete the VM (vm state: absent) to release the disk",
                a.device
            ))),
        }
    }
}

/// The error for deleting a disk that VMs mount.
fn in_use(d: &Disk) -> ProviderError {
    let vms: Vec<&str> = d.attachments.iter().map(|a| a.instance.as_str()).collect();
    invalid(format!(
        "{PROVIDER}: disk `{}` is mounted by VM(s) {}: delete them first (a VM releases its volumes when it is deleted)",
        d.name,
        vms.join(", ")
    ))
}
