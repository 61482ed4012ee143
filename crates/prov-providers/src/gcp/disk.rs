//! Disks of the gcp provider: zonal persistent disks (`disks.insert/get/list/delete`,
//! `instances.attachDisk/detachDisk`).
//!
//! * disk name = the disk's name, in the provider's zone (`zone`, else the first of
//!   `zones`); labels of the spec with `prov-project` and `prov-name`; `sizeGb` (Google's
//!   default for a blank disk, 500 GB, when unset) and `type` (`pd-balanced`, ...; default
//!   pd-standard) as given;
//! * attach: READ_WRITE, `autoDelete` false (deleting the VM leaves the disk), device name
//!   as given, else the disk's name, so the VM sees `/dev/disk/by-id/google-<device>`;
//! * attachments are read from the disk's `users` and each user's `disks[].deviceName`;
//! * every mutation carries a `requestId` and is awaited until DONE, like the instances'.

use super::api::{self, retry, retry_found, wait, Scope};
use super::{check_name, invalid, GcpProvider};
use crate::{Attachment, Disk, DiskSpec, Labels, ProviderError, LABEL_NAME, LABEL_PROJECT};
use google_cloud_compute_v1::model;

/// The last segment of a resource URL.
fn last(url: &str) -> &str {
    url.rsplit('/').next().unwrap_or(url)
}

impl GcpProvider {
    async fn raw_disk(&self, zone: &str, name: &str) -> Result<Option<model::Disk>, ProviderError> {
        let c = &self.clients;
        let d = retry_found(&self.timing, &format!("reading disk {name}"), || {
            c.disks.get().set_project(&self.cloud_project).set_zone(zone).set_disk(name).send()
        })
        .await?;
        match d {
            Some(d) if d.labels.get(LABEL_PROJECT) != Some(&self.project) => Err(invalid(format!(
                "disk `{name}` exists in cloud project `{}` but is not a disk of project `{}` (its {LABEL_PROJECT} \
                 label is {})",
                self.cloud_project,
                self.project,
                d.labels.get(LABEL_PROJECT).map(String::as_str).unwrap_or("unset")
            ))),
            other => Ok(other),
        }
    }

    /// The provider-neutral disk, with its attachments read from its users.
    async fn disk_from(&self, d: model::Disk) -> Result<Disk, ProviderError> {
        let self_link = d.self_link.clone().unwrap_or_default();
        let mut attachments = Vec::new();
        for user in &d.users {
            // `.../projects/P/zones/Z/instances/N`
            let Some(zone) = user.split("/zones/").nth(1).and_then(|z| z.split('/').next()) else { continue };
            let vm = last(user).to_string();
            let Some(i) = self.get_in(zone, &vm).await? else { continue };
            let device = i
                .disks
                .iter()
                .find(|a| a.source.as_deref().map(last) == Some(last(&self_link)))
                .and_then(|a| a.device_name.clone())
                .unwrap_or_default();
            let instance = i.labels.get(LABEL_NAME).cloned().unwrap_or(vm);
            attachments.push(Attachment { instance, device });
        }
        let labels: Labels = d.labels.clone().into_iter().collect();
        let name = d.name.clone().unwrap_or_default();
        Ok(Disk {
            name: labels.get(LABEL_NAME).cloned().unwrap_or_else(|| name.clone()),
            id: d.id.map(|i| i.to_string()).unwrap_or_default(),
            size_gb: d.size_gb.and_then(|s| u64::try_from(s).ok()),
            disk_type: d.r#type.as_deref().map(|t| last(t).to_string()),
            attachments,
            details: serde_json::json!({
                "disk_name": name,
                "zone": d.zone.as_deref().map(last),
                "self_link": self_link,
                "cloud_project": self.cloud_project,
                "status": d.status.as_ref().map(|s| format!("{s:?}")),
            }),
            labels,
        })
    }

    pub(super) async fn list_disks_impl(&self, selector: &Labels) -> Result<Vec<Disk>, ProviderError> {
        let zone = self.zone()?.to_string();
        let c = &self.clients;
        let filter = self.filter(selector);
        let mut raw = Vec::new();
        let mut token = String::new();
        loop {
            let page = retry(&self.timing, &format!("listing disks in {zone}"), || {
                c.disks
                    .list()
                    .set_project(&self.cloud_project)
                    .set_zone(&zone)
                    .set_filter(&filter)
                    .set_page_token(&token)
                    .send()
            })
            .await?;
            raw.extend(page.items);
            match page.next_page_token {
                Some(t) if !t.is_empty() => token = t,
                _ => break,
            }
        }
        let mut out = Vec::new();
        for d in raw {
            out.push(self.disk_from(d).await?);
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    pub(super) async fn get_disk_impl(&self, name: &str) -> Result<Option<Disk>, ProviderError> {
        let zone = self.zone()?.to_string();
        match self.raw_disk(&zone, name).await? {
            Some(d) => Ok(Some(self.disk_from(d).await?)),
            None => Ok(None),
        }
    }

    pub(super) async fn create_disk_impl(&self, spec: &DiskSpec) -> Result<Disk, ProviderError> {
        check_name("disk name", &spec.name)?;
        let zone = self.zone()?.to_string();
        if let Some(d) = self.raw_disk(&zone, &spec.name).await? {
            return self.disk_from(d).await;
        }
        let mut labels = spec.labels.clone();
        labels.insert(LABEL_PROJECT.into(), self.project.clone());
        labels.insert(LABEL_NAME.into(), spec.name.clone());
        let mut body = model::Disk::new()
            .set_name(&spec.name)
            .set_labels(labels)
            .set_description(format!("prov project {}: disk {}", self.project, spec.name));
        if let Some(gb) = spec.size_gb {
            body = body.set_size_gb(gb as i64);
        }
        if let Some(t) = &spec.disk_type {
            body = body.set_type(format!("zones/{zone}/diskTypes/{t}"));
        }
        let c = &self.clients;
        let p = &self.cloud_project;
        let what = format!("creating disk {} in {zone}", spec.name);
        let rid = api::request_id();
        let op = retry(&self.timing, &what, || {
            c.disks.insert().set_project(p).set_zone(&zone).set_request_id(&rid).set_body(body.clone()).send()
        })
        .await?;
        wait(c, &self.timing, p, &Scope::Zone(zone.clone()), &what, op).await?;
        let d =
            self.raw_disk(&zone, &spec.name).await?.ok_or_else(|| ProviderError::DiskNotFound(spec.name.clone()))?;
        self.disk_from(d).await
    }

    pub(super) async fn delete_disk_impl(&self, name: &str) -> Result<(), ProviderError> {
        let zone = self.zone()?.to_string();
        let Some(d) = self.raw_disk(&zone, name).await? else { return Ok(()) };
        let d = self.disk_from(d).await?;
        if !d.attachments.is_empty() {
            let vms: Vec<&str> = d.attachments.iter().map(|a| a.instance.as_str()).collect();
            return Err(invalid(format!(
                "disk `{name}` is attached to VM(s) {}: delete or detach them first",
                vms.join(", ")
            )));
        }
        let c = &self.clients;
        let p = &self.cloud_project;
        let what = format!("deleting disk {name} in {zone}");
        let rid = api::request_id();
        let op = retry_found(&self.timing, &what, || {
            c.disks.delete().set_project(p).set_zone(&zone).set_disk(name).set_request_id(&rid).send()
        })
        .await?;
        if let Some(op) = op {
            wait(c, &self.timing, p, &Scope::Zone(zone.clone()), &what, op).await?;
        }
        Ok(())
    }

    pub(super) async fn attach_disk_impl(
        &self,
        disk: &str,
        instance: &str,
        device: Option<&str>,
    ) -> Result<Disk, ProviderError> {
        let zone = self.zone()?.to_string();
        let d = self.raw_disk(&zone, disk).await?.ok_or_else(|| ProviderError::DiskNotFound(disk.to_string()))?;
        let current = self.disk_from(d.clone()).await?;
        if current.attachment(instance).is_some() {
            return Ok(current);
        }
        let i = self.find(instance).await?.ok_or_else(|| ProviderError::NotFound(instance.to_string()))?;
        let vm_zone = Self::zone_of(&i);
        let vm = i.name.clone().unwrap_or_else(|| instance.to_string());
        let body = model::AttachedDisk::new()
            .set_source(d.self_link.clone().unwrap_or_else(|| format!("zones/{zone}/disks/{disk}")))
            .set_device_name(device.unwrap_or(disk))
            .set_mode(model::attached_disk::Mode::ReadWrite)
            .set_auto_delete(false);
        let c = &self.clients;
        let p = &self.cloud_project;
        let what = format!("attaching disk {disk} to VM {instance}");
        let rid = api::request_id();
        let op = retry(&self.timing, &what, || {
            c.instances
                .attach_disk()
                .set_project(p)
                .set_zone(&vm_zone)
                .set_instance(&vm)
                .set_request_id(&rid)
                .set_body(body.clone())
                .send()
        })
        .await?;
        wait(c, &self.timing, p, &Scope::Zone(vm_zone.clone()), &what, op).await?;
        self.get_disk_impl(disk).await?.ok_or_else(|| ProviderError::DiskNotFound(disk.to_string()))
    }

    pub(super) async fn detach_disk_impl(&self, disk: &str, instance: &str) -> Result<Disk, ProviderError> {
        let current = self.get_disk_impl(disk).await?.ok_or_else(|| ProviderError::DiskNotFound(disk.to_string()))?;
        let Some(a) = current.attachment(instance).cloned() else { return Ok(current) };
        let i = self.find(instance).await?.ok_or_else(|| ProviderError::NotFound(instance.to_string()))?;
        let vm_zone = Self::zone_of(&i);
        let vm = i.name.clone().unwrap_or_else(|| instance.to_string());
        let c = &self.clients;
        let p = &self.cloud_project;
        let what = format!("detaching disk {disk} from VM {instance}");
        let rid = api::request_id();
        let op = retry(&self.timing, &what, || {
            c.instances
                .detach_disk()
                .set_project(p)
                .set_zone(&vm_zone)
                .set_instance(&vm)
                .set_device_name(&a.device)
                .set_request_id(&rid)
                .send()
        })
        .await?;
        wait(c, &self.timing, p, &Scope::Zone(vm_zone.clone()), &what, op).await?;
        self.get_disk_impl(disk).await?.ok_or_else(|| ProviderError::DiskNotFound(disk.to_string()))
    }
}
