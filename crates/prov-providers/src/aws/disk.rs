//! Disks of the aws provider: EBS volumes.
//!
//! * a volume tagged with the spec's labels, `prov-project`, `prov-name`, `Name` and
//!   `prov-disk` (the disk's name: it tells a disk apart from the root volumes of VMs, which
//!   carry the project's tags too), made by CreateVolume with TagSpecifications in the
//!   availability zone `zone` (the inventory's or the task's), else `<region>a`; a VM must be
//!   in the same zone to attach it, so give VMs and disks the same `zone`;
//! * `size_gb` is GiB and required (EC2 has no default size for an empty volume); `type`
//!   is the EBS volume type (`gp3`, `gp2`, `standard`, ...; EC2's default when unset);
//! * attach: AttachVolume as `device` (default `/dev/sdf`, as ec2_vol has it), waiting until
//!   the attachment is `attached`; detach: DetachVolume, waiting until the volume is
//!   `available`; delete: refused while attached, then DeleteVolume.

use super::api::{from_sdk, retry, wait_for, ApiError};
use super::{convert, AwsProvider, STATE_WAIT};
use crate::{Attachment, Disk, DiskSpec, Labels, ProviderError, LABEL_NAME, LABEL_PROJECT};
use aws_sdk_ec2::types::{Filter, ResourceType, Volume, VolumeAttachmentState, VolumeState, VolumeType};

/// Tag that marks a volume as a disk of the project (its value: the disk's name).
pub const LABEL_DISK: &str = "prov-disk";

/// The device a disk is attached as when none is given (ec2_vol's default for Linux).
pub const DEFAULT_DEVICE: &str = "/dev/sdf";

fn tag_filter(key: &str, value: &str) -> Filter {
    Filter::builder().name(format!("tag:{key}")).values(value).build()
}

impl AwsProvider {
    /// The project's disk volumes (named `name` only, when given), not deleted.
    async fn volumes(&self, name: Option<&str>, selector: &Labels) -> Result<Vec<Volume>, ApiError> {
        let client = &self.client;
        let out = retry(|| async move {
            let mut req = client.describe_volumes().filters(tag_filter(LABEL_PROJECT, &self.cfg.project));
            match name {
                Some(n) => req = req.filters(tag_filter(LABEL_DISK, n)),
                None => req = req.filters(Filter::builder().name("tag-key").values(LABEL_DISK).build()),
            }
            for (k, v) in selector.iter().filter(|(k, _)| *k != LABEL_PROJECT) {
                req = req.filters(tag_filter(k, v));
            }
            req.send().await.map_err(from_sdk)
        })
        .await?;
        Ok(out
            .volumes()
            .iter()
            .filter(|v| !matches!(v.state(), Some(VolumeState::Deleting) | Some(VolumeState::Deleted)))
            .cloned()
            .collect())
    }

    async fn volume(&self, name: &str) -> Result<Option<Volume>, ProviderError> {
        let mut found = self
            .volumes(Some(name), &Labels::new())
            .await
            .map_err(|e| e.context(&format!("cannot look up disk `{name}`")))?;
        if found.len() > 1 {
            let ids: Vec<&str> = found.iter().filter_map(|v| v.volume_id()).collect();
            return Err(ProviderError::Invalid(format!(
                "several volumes are disk `{name}` of project `{}`: {}; delete the extra ones",
                self.cfg.project,
                ids.join(", ")
            )));
        }
        Ok(found.pop())
    }

    /// The provider-neutral disk; attachments name the VM (its `prov-name` tag).
    async fn disk_from(&self, v: &Volume) -> Result<Disk, ProviderError> {
        let labels = convert::tags(v.tags());
        let mut attachments = Vec::new();
        for a in v.attachments() {
            if matches!(a.state(), Some(VolumeAttachmentState::Detached) | Some(VolumeAttachmentState::Detaching)) {
                continue;
            }
            let id = a.instance_id().unwrap_or_default();
            // A terminated instance holds no volume any more (EC2 detaches them).
            let instance = match self.by_id(id).await? {
                Some(i) if i.state == crate::InstanceState::Terminated => continue,
                Some(i) => i.name,
                None => id.to_string(),
            };
            attachments.push(Attachment { instance, device: a.device().unwrap_or_default().to_string() });
        }
        Ok(Disk {
            name: labels.get(LABEL_DISK).cloned().unwrap_or_default(),
            id: v.volume_id().unwrap_or_default().to_string(),
            size_gb: v.size().and_then(|s| u64::try_from(s).ok()),
            disk_type: v.volume_type().map(|t| t.as_str().to_string()),
            attachments,
            details: serde_json::json!({
                "volume_id": v.volume_id(),
                "availability_zone": v.availability_zone(),
                "state": v.state().map(|s| s.as_str()),
                "region": self.region,
            }),
            labels,
        })
    }

    pub(super) async fn list_disks_impl(&self, selector: &Labels) -> Result<Vec<Disk>, ProviderError> {
        let vols = self.volumes(None, selector).await.map_err(|e| e.context("cannot list disks"))?;
        let mut out = Vec::new();
        for v in &vols {
            out.push(self.disk_from(v).await?);
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    pub(super) async fn get_disk_impl(&self, name: &str) -> Result<Option<Disk>, ProviderError> {
        match self.volume(name).await? {
            Some(v) => Ok(Some(self.disk_from(&v).await?)),
            None => Ok(None),
        }
    }

    /// Waits until volume `id` passes `done`.
    async fn wait_volume(&self, what: &str, id: &str, done: impl Fn(&Volume) -> bool) -> Result<Volume, ProviderError> {
        let client = &self.client;
        let done = &done;
        wait_for(what, STATE_WAIT, || async move {
            let out = retry(|| async move { client.describe_volumes().volume_ids(id).send().await.map_err(from_sdk) })
                .await
                .map_err(|e| e.context(what))?;
            Ok(out.volumes().first().filter(|v| done(v)).cloned())
        })
        .await
    }

    pub(super) async fn create_disk_impl(&self, spec: &DiskSpec) -> Result<Disk, ProviderError> {
        if let Some(v) = self.volume(&spec.name).await? {
            return self.disk_from(&v).await;
        }
        let size = spec.size_gb.ok_or_else(|| {
            ProviderError::Invalid(format!("disk `{}`: an EBS volume needs a size: give size_gb", spec.name))
        })?;
        let size = i32::try_from(size).map_err(|_| ProviderError::Invalid(format!("size_gb {size} is too large")))?;
        let mut labels = spec.labels.clone();
        labels.insert(LABEL_PROJECT.into(), self.cfg.project.clone());
        labels.insert(LABEL_NAME.into(), spec.name.clone());
        labels.insert(LABEL_DISK.into(), spec.name.clone());
        let zone = self.cfg.zone.clone().unwrap_or_else(|| format!("{}a", self.region));
        let client = &self.client;
        let (labels, zone_ref) = (&labels, zone.as_str());
        let out = retry(|| async move {
            let mut req = client
                .create_volume()
                .availability_zone(zone_ref)
                .size(size)
                .tag_specifications(convert::tag_spec(ResourceType::Volume, labels, &spec.name));
            if let Some(t) = &spec.disk_type {
                req = req.volume_type(VolumeType::from(t.as_str()));
            }
            req.send().await.map_err(from_sdk)
        })
        .await
        .map_err(|e| e.context(&format!("cannot create disk `{}` in {zone}", spec.name)))?;
        let id = out.volume_id().unwrap_or_default().to_string();
        let v = self
            .wait_volume(&format!("waiting for disk `{}` ({id}) to be available", spec.name), &id, |v| {
                v.state() == Some(&VolumeState::Available)
            })
            .await?;
        self.disk_from(&v).await
    }

    pub(super) async fn delete_disk_impl(&self, name: &str) -> Result<(), ProviderError> {
        let Some(v) = self.volume(name).await? else { return Ok(()) };
        let d = self.disk_from(&v).await?;
        if !d.attachments.is_empty() {
            let vms: Vec<&str> = d.attachments.iter().map(|a| a.instance.as_str()).collect();
            return Err(ProviderError::Invalid(format!(
                "disk `{name}` is attached to VM(s) {}: delete or detach them first",
                vms.join(", ")
            )));
        }
        let client = &self.client;
        let id = d.id.as_str();
        match retry(|| async move { client.delete_volume().volume_id(id).send().await.map_err(from_sdk) }).await {
            Ok(_) => Ok(()),
            Err(e) if e.is_not_found() => Ok(()),
            Err(e) => Err(e.context(&format!("cannot delete disk `{name}` ({id})"))),
        }
    }

    pub(super) async fn attach_disk_impl(
        &self,
        disk: &str,
        instance: &str,
        device: Option<&str>,
    ) -> Result<Disk, ProviderError> {
        let v = self.volume(disk).await?.ok_or_else(|| ProviderError::DiskNotFound(disk.to_string()))?;
        let d = self.disk_from(&v).await?;
        if d.attachment(instance).is_some() {
            return Ok(d);
        }
        let i = self.get_instance(instance).await?;
        let client = &self.client;
        let (vol, vm, dev) = (d.id.as_str(), i.as_str(), device.unwrap_or(DEFAULT_DEVICE));
        retry(|| async move {
            client.attach_volume().volume_id(vol).instance_id(vm).device(dev).send().await.map_err(from_sdk)
        })
        .await
        .map_err(|e| e.context(&format!("cannot attach disk `{disk}` to VM `{instance}`")))?;
        let v = self
            .wait_volume(&format!("waiting for disk `{disk}` to be attached to `{instance}`"), vol, |v| {
                v.attachments()
                    .iter()
                    .any(|a| a.instance_id() == Some(vm) && a.state() == Some(&VolumeAttachmentState::Attached))
            })
            .await?;
        self.disk_from(&v).await
    }

    pub(super) async fn detach_disk_impl(&self, disk: &str, instance: &str) -> Result<Disk, ProviderError> {
        let v = self.volume(disk).await?.ok_or_else(|| ProviderError::DiskNotFound(disk.to_string()))?;
        let d = self.disk_from(&v).await?;
        if d.attachment(instance).is_none() {
            return Ok(d);
        }
        let i = self.get_instance(instance).await?;
        let client = &self.client;
        let (vol, vm) = (d.id.as_str(), i.as_str());
        retry(|| async move { client.detach_volume().volume_id(vol).instance_id(vm).send().await.map_err(from_sdk) })
            .await
            .map_err(|e| e.context(&format!("cannot detach disk `{disk}` from VM `{instance}`")))?;
        let v = self
            .wait_volume(&format!("waiting for disk `{disk}` to be detached from `{instance}`"), vol, |v| {
                !v.attachments().iter().any(|a| a.instance_id() == Some(vm))
            })
            .await?;
        self.disk_from(&v).await
    }

    /// The instance id of VM `name`.
    async fn get_instance(&self, name: &str) -> Result<String, ProviderError> {
        use crate::Provider;
        Ok(self.get(name).await?.ok_or_else(|| ProviderError::NotFound(name.to_string()))?.id)
    }
}
