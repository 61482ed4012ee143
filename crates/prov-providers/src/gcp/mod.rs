//! The `gcp` provider: VMs are Compute Engine instances (google-cloud-compute-v1).
//!
//! * instance name = VM name (its hostname), in the settings' `zone`; labels of the spec
//!   (`prov-project`, `prov-group`, `prov-name`, ...) and network tags `<group>` and
//!   `prov-<project>` (for firewall rules); machine type; a boot disk from `image`
//!   (default [`DEFAULT_IMAGE`]); the network `network` (default `default`), one external
//!   address (`accessConfigs`, ONE_TO_ONE_NAT); metadata `enable-guest-attributes=TRUE`
//!   and `prov-image`;
//! * `static_ip`: a regional address `<name>-ip` labelled like the VM is reserved first
//!   (a private IP: INTERNAL at that address, used as the instance's `networkIP`; a public
//!   one, or [`crate::ANY_STATIC_IP`] for `static_ip: true`: EXTERNAL, used as its
//!   external address); deleting the VM releases it, and so does a failed insert;
//! * every mutation carries a `requestId` (so a retry never makes two instances) and is
//!   awaited through `operations.wait` until DONE; an operation's error is the VM's error,
//!   in Google's words;
//! * throttling (HTTP 429, 503, `rateLimitExceeded`) is retried with exponential backoff
//!   and jitter ([`api::Timing`]);
//! * host keys: after an insert (and a start), the keys the guest agent publishes as guest
//!   attributes (`hostkeys/`) are read through the API (waiting up to
//!   [`api::Timing::host_key_wait`]) and recorded in the project's known_hosts under the
//!   instance id before the first SSH connection, so strict checking works; a listing looks
//!   once more for running VMs whose keys are still unknown; a VM that publishes none is
//!   `accept-new`, pinned to its id ([`crate::state::pin_host_keys_to_ids`]); delete forgets
//!   the id;
//! * disks: zonal persistent disks, attached READ_WRITE (see [`disk`]);
//! * listing: `aggregatedList` over every zone, or one `list` per configured zone run
//!   concurrently, with a label filter and pagination.

pub mod api;
mod convert;
mod disk;
pub mod google_cloud;

use crate::{
    Instance, InstanceSpec, InstanceState, Labels, Provider, ProviderError, ProviderSettings, LABEL_NAME, LABEL_PROJECT,
};
use api::{retry, retry_found, wait, Clients, Scope, Timing, PROVIDER};
use async_trait::async_trait;
use google_cloud_compute_v1::model;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

pub use convert::{instance_from, region_of};

/// The boot image when neither the settings nor the VM name one.
pub const DEFAULT_IMAGE: &str = "projects/debian-cloud/global/images/family/debian-12";

/// Compute Engine instances of one prov project in one cloud project.
#[derive(Debug)]
pub struct GcpProvider {
    clients: Clients,
    timing: Timing,
    project: String,
    cloud_project: String,
    zone: Option<String>,
    zones: Vec<String>,
    region: Option<String>,
    network: String,
    subnet: Option<String>,
    image: String,
}

fn invalid(message: impl Into<String>) -> ProviderError {
    ProviderError::Invalid(message.into())
}

/// Connects to Compute Engine with `settings` (see [`GcpProvider::connect`]).
pub async fn connect(settings: &ProviderSettings) -> Result<Arc<dyn Provider>, ProviderError> {
    Ok(Arc::new(GcpProvider::connect(settings, Timing::default()).await?))
}

/// Checks a VM or project name: an RFC 1035 label, as instance names must be.
fn check_name(what: &str, name: &str) -> Result<(), ProviderError> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && !name.ends_with('-')
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if ok {
        Ok(())
    } else {
        Err(invalid(format!(
            "{what} `{name}` is not a valid Compute Engine name: a lower-case letter, then lower-case letters, \
             digits and `-`, at most 63 characters"
        )))
    }
}

impl GcpProvider {
    /// Connects: the cloud project is `settings.cloud_project`, else `GOOGLE_CLOUD_PROJECT`;
    /// the endpoint is `settings.endpoint`, else `PROV_GCP_ENDPOINT`, else Google's.
    pub async fn connect(settings: &ProviderSettings, timing: Timing) -> Result<GcpProvider, ProviderError> {
        let cloud_project = settings
            .cloud_project
            .clone()
            .or_else(|| std::env::var("GOOGLE_CLOUD_PROJECT").ok())
            .filter(|p| !p.is_empty())
            .ok_or_else(|| {
                invalid(
                    "no Google Cloud project: set `projects: [ID]` in the inventory file (or `cloud_project` on \
                     the vm task, or GOOGLE_CLOUD_PROJECT)",
                )
            })?;
        let endpoint =
            settings.endpoint.clone().or_else(|| std::env::var(api::ENDPOINT_ENV).ok()).filter(|e| !e.is_empty());
        let clients = api::clients(endpoint.as_deref()).await?;
        Ok(GcpProvider {
            clients,
            timing,
            project: crate::label_value(&settings.project),
            cloud_project,
            zone: settings.zone.clone(),
            zones: settings.zones.clone(),
            region: settings.region.clone(),
            network: settings.network.clone().unwrap_or_else(|| "default".into()),
            subnet: settings.subnet.clone(),
            image: settings.image.clone().unwrap_or_else(|| DEFAULT_IMAGE.into()),
        })
    }

    /// The zone new VMs go to.
    fn zone(&self) -> Result<&str, ProviderError> {
        self.zone.as_deref().or(self.zones.first().map(String::as_str)).ok_or_else(|| {
            invalid("no zone for new VMs: set `zones: [ZONE]` in the inventory file (or `zone` on the vm task)")
        })
    }

    /// The region of addresses.
    fn region(&self) -> Result<String, ProviderError> {
        match &self.region {
            Some(r) => Ok(r.clone()),
            None => Ok(region_of(self.zone()?).to_string()),
        }
    }

    /// The label filter of a selector (`prov-project` always included).
    fn filter(&self, selector: &Labels) -> String {
        let mut terms = vec![format!("(labels.{LABEL_PROJECT} = \"{}\")", self.project)];
        // A `filters` list of the inventory file holds the API's own expressions.
        terms.extend(selector.iter().filter(|(k, _)| *k != LABEL_PROJECT).map(|(k, v)| {
            match k.starts_with(crate::FILTER_EXPRESSION) {
                true => format!("({v})"),
                false => format!("(labels.{k} = \"{v}\")"),
            }
        }));
        terms.join(" AND ")
    }

    /// Every instance matching `filter`: one `list` per configured zone (concurrently), or
    /// `aggregatedList` over all zones.
    async fn list_raw(&self, filter: &str) -> Result<Vec<model::Instance>, ProviderError> {
        let c = &self.clients;
        let p = &self.cloud_project;
        if self.zones.is_empty() {
            let mut out = Vec::new();
            let mut token = String::new();
            loop {
                let page = retry(&self.timing, "listing instances (aggregatedList)", || {
                    c.instances.aggregated_list().set_project(p).set_filter(filter).set_page_token(&token).send()
                })
                .await?;
                for (_, scoped) in page.items {
                    out.extend(scoped.instances);
                }
                match page.next_page_token {
                    Some(t) if !t.is_empty() => token = t,
                    _ => break,
                }
            }
            return Ok(out);
        }
        let per_zone = self.zones.iter().map(|z| async move {
            let mut out = Vec::new();
            let mut token = String::new();
            loop {
                let page = retry(&self.timing, &format!("listing instances in {z}"), || {
                    c.instances.list().set_project(p).set_zone(z).set_filter(filter).set_page_token(&token).send()
                })
                .await?;
                out.extend(page.items);
                match page.next_page_token {
                    Some(t) if !t.is_empty() => token = t,
                    _ => break,
                }
            }
            Ok::<_, ProviderError>(out)
        });
        let mut out = Vec::new();
        for r in futures_util::future::join_all(per_zone).await {
            out.extend(r?);
        }
        Ok(out)
    }

    /// The instance called `name` (any listed zone), checked to belong to the project.
    async fn find(&self, name: &str) -> Result<Option<model::Instance>, ProviderError> {
        let filter = format!("(name = \"{name}\")");
        let found: Vec<model::Instance> = self.list_raw(&filter).await?;
        let Some(i) = found.into_iter().next() else { return Ok(None) };
        if i.labels.get(LABEL_PROJECT) != Some(&self.project) {
            return Err(invalid(format!(
                "instance `{name}` exists in cloud project `{}` but is not a VM of project `{}` (its {LABEL_PROJECT} \
                 label is {})",
                self.cloud_project,
                self.project,
                i.labels.get(LABEL_PROJECT).map(String::as_str).unwrap_or("unset")
            )));
        }
        Ok(Some(i))
    }

    fn zone_of(i: &model::Instance) -> String {
        i.zone.as_deref().and_then(|z| z.rsplit('/').next()).unwrap_or_default().to_string()
    }

    async fn get_in(&self, zone: &str, name: &str) -> Result<Option<model::Instance>, ProviderError> {
        let c = &self.clients;
        retry_found(&self.timing, &format!("reading instance {name}"), || {
            c.instances.get().set_project(&self.cloud_project).set_zone(zone).set_instance(name).send()
        })
        .await
    }

    /// The name of the address reserved for VM `name`.
    fn address_name(name: &str) -> String {
        let mut base = name.to_string();
        base.truncate(60);
        format!("{}-ip", base.trim_end_matches('-'))
    }

    /// Reserves (or finds, when a retry made it already) the static address of a VM.
    async fn reserve_address(
        &self,
        spec: &InstanceSpec,
        ip: IpAddr,
        region: &str,
    ) -> Result<model::Address, ProviderError> {
        let c = &self.clients;
        let p = &self.cloud_project;
        let name = Self::address_name(&spec.name);
        let what = format!("reserving address {name} for {}", spec.name);
        let mut labels = Labels::new();
        labels.insert(LABEL_PROJECT.into(), self.project.clone());
        labels.insert(LABEL_NAME.into(), crate::label_value(&spec.name));
        let mut body = model::Address::new()
            .set_name(&name)
            .set_labels(labels)
            .set_description(format!("prov project {}: static address of VM {}", self.project, spec.name));
        if convert::is_private(ip) {
            body = body.set_address_type(model::address::AddressType::Internal).set_address(ip.to_string());
            if let Some(s) = &self.subnet {
                body = body.set_subnetwork(format!("regions/{region}/subnetworks/{s}"));
            }
        } else if ip != crate::ANY_STATIC_IP {
            body = body.set_address(ip.to_string());
        }
        let existing = retry_found(&self.timing, &what, || {
            c.addresses.get().set_project(p).set_region(region).set_address(&name).send()
        })
        .await?;
        if existing.is_none() {
            let rid = api::request_id();
            let op = retry(&self.timing, &what, || {
                c.addresses
                    .insert()
                    .set_project(p)
                    .set_region(region)
                    .set_request_id(&rid)
                    .set_body(body.clone())
                    .send()
            })
            .await?;
            wait(c, &self.timing, p, &Scope::Region(region.to_string()), &what, op).await?;
        }
        let a = retry(&self.timing, &what, || {
            c.addresses.get().set_project(p).set_region(region).set_address(&name).send()
        })
        .await?;
        if a.labels.get(LABEL_PROJECT) != Some(&self.project) {
            return Err(invalid(format!(
                "address `{name}` in {region} exists but does not belong to project `{}`",
                self.project
            )));
        }
        Ok(a)
    }

    /// Releases the address of VM `name` in `region` when it is there and the project's.
    async fn release_address(&self, name: &str, region: &str) -> Result<(), ProviderError> {
        let c = &self.clients;
        let p = &self.cloud_project;
        let addr = Self::address_name(name);
        let what = format!("releasing address {addr} of {name}");
        let Some(a) = retry_found(&self.timing, &what, || {
            c.addresses.get().set_project(p).set_region(region).set_address(&addr).send()
        })
        .await?
        else {
            return Ok(());
        };
        if a.labels.get(LABEL_PROJECT) != Some(&self.project) {
            return Ok(());
        }
        let rid = api::request_id();
        let op = retry_found(&self.timing, &what, || {
            c.addresses.delete().set_project(p).set_region(region).set_address(&addr).set_request_id(&rid).send()
        })
        .await?;
        if let Some(op) = op {
            wait(c, &self.timing, p, &Scope::Region(region.to_string()), &what, op).await?;
        }
        Ok(())
    }

    /// The host keys the guest agent publishes (`hostkeys/` guest attributes), as
    /// `algo base64` lines; waits for them up to `wait`.
    async fn host_keys(&self, zone: &str, name: &str, wait: Duration) -> Vec<String> {
        let c = &self.clients;
        let deadline = std::time::Instant::now() + wait;
        let mut pause = Duration::from_millis(200);
        loop {
            // Guest attributes may be off by policy (an error other than 404): then there are
            // no published keys, which the caller reports; the VM itself is fine.
            let attrs = retry_found(&self.timing, &format!("reading the host keys of {name}"), || {
                c.instances
                    .get_guest_attributes()
                    .set_project(&self.cloud_project)
                    .set_zone(zone)
                    .set_instance(name)
                    .set_query_path("hostkeys/")
                    .send()
            })
            .await;
            let Ok(attrs) = attrs else { return Vec::new() };
            let keys = attrs.map(|a| convert::host_keys(&a)).unwrap_or_default();
            if !keys.is_empty() || std::time::Instant::now() + pause > deadline {
                return keys;
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(5));
        }
    }

    /// Records the host keys `i` publishes (waiting up to `wait` for them) in the project's
    /// known_hosts under its instance id, unless some are recorded already. Keys that cannot
    /// be read or recorded leave the VM `accept-new` ([`crate::state::pin_host_keys_to_ids`]).
    async fn record_host_keys(&self, i: &Instance, wait: Duration) {
        let kh = crate::state::known_hosts(&self.project);
        if crate::state::knows_host(&kh, &i.id) {
            return;
        }
        let zone = i.details["zone"].as_str().unwrap_or_default();
        let name = i.details["instance_name"].as_str().unwrap_or(&i.name);
        let keys = self.host_keys(zone, name, wait).await;
        if !keys.is_empty() {
            let _ = crate::state::record_host_keys(&kh, &i.id, &keys);
        }
    }

    /// The provider-neutral instance, without its host-key variables.
    fn unpinned(&self, i: &model::Instance) -> Instance {
        let mut out = instance_from(i);
        out.details["cloud_project"] = serde_json::json!(self.cloud_project);
        out
    }

    /// The provider-neutral instance, with its host-key variables.
    fn instance(&self, i: &model::Instance) -> Instance {
        let mut out = self.unpinned(i);
        crate::state::pin_host_keys_to_ids(&self.project, std::slice::from_mut(&mut out));
        out
    }

    /// Starts (`on`) or stops VM `name` and waits for the operation; returns the instance
    /// and whether it changed (false when it was already running or stopped).
    async fn power(&self, name: &str, on: bool) -> Result<(model::Instance, bool), ProviderError> {
        let i = self.find(name).await?.ok_or_else(|| ProviderError::NotFound(name.to_string()))?;
        let zone = Self::zone_of(&i);
        let done = if on { InstanceState::Running } else { InstanceState::Stopped };
        if instance_from(&i).state == done {
            return Ok((i, false));
        }
        let c = &self.clients;
        let p = &self.cloud_project;
        let what = format!("{} VM {name} in {zone}", if on { "starting" } else { "stopping" });
        let rid = api::request_id();
        let op = retry(&self.timing, &what, || async {
            match on {
                true => {
                    c.instances
                        .start()
                        .set_project(p)
                        .set_zone(&zone)
                        .set_instance(name)
                        .set_request_id(&rid)
                        .send()
                        .await
                }
                false => {
                    c.instances
                        .stop()
                        .set_project(p)
                        .set_zone(&zone)
                        .set_instance(name)
                        .set_request_id(&rid)
                        .send()
                        .await
                }
            }
        })
        .await?;
        wait(c, &self.timing, p, &Scope::Zone(zone.clone()), &what, op).await?;
        let i = self.get_in(&zone, name).await?.ok_or_else(|| ProviderError::NotFound(name.to_string()))?;
        Ok((i, true))
    }

    /// Why an existing instance does not match `spec` (empty when it does).
    fn differences(&self, i: &model::Instance, spec: &InstanceSpec, labels: &Labels) -> Vec<String> {
        let mut diffs = Vec::new();
        for (k, v) in labels {
            let have = i.labels.get(k);
            if have != Some(v) {
                diffs.push(format!("label {k} is {} (wanted {v})", have.map(String::as_str).unwrap_or("unset")));
            }
        }
        let have_type = i.machine_type.as_deref().and_then(|m| m.rsplit('/').next());
        if let Some(t) = &spec.machine_type {
            if have_type != Some(t.as_str()) {
                diffs.push(format!("machine type is {}", have_type.unwrap_or("unknown")));
            }
        }
        diffs
    }
}

#[async_trait]
impl Provider for GcpProvider {
    fn name(&self) -> &'static str {
        PROVIDER
    }

    fn installs_host_key(&self) -> bool {
        false
    }

    async fn list(&self, selector: &Labels) -> Result<Vec<Instance>, ProviderError> {
        let mut out: Vec<Instance> =
            self.list_raw(&self.filter(selector)).await?.iter().map(|i| self.unpinned(i)).collect();
        // Keys published since the VM was made (one look each, at once).
        let known = crate::state::known_names(&crate::state::known_hosts(&self.project));
        let missing = out.iter().filter(|i| i.state == InstanceState::Running && !known.contains(&i.id));
        futures_util::future::join_all(missing.map(|i| self.record_host_keys(i, Duration::ZERO))).await;
        crate::state::pin_host_keys_to_ids(&self.project, &mut out);
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    async fn get(&self, name: &str) -> Result<Option<Instance>, ProviderError> {
        Ok(self.find(name).await?.map(|i| self.instance(&i)))
    }

    async fn create(&self, spec: &InstanceSpec) -> Result<Instance, ProviderError> {
        check_name("VM name", &spec.name)?;
        let labels = convert::labels_for(spec, &self.project)?;
        if let Some(existing) = self.find(&spec.name).await? {
            let diffs = self.differences(&existing, spec, &labels);
            if !diffs.is_empty() {
                return Err(invalid(format!(
                    "VM `{}` already exists and differs: {}; delete it first",
                    spec.name,
                    diffs.join("; ")
                )));
            }
            return self.start(&spec.name).await;
        }
        let zone = self.zone()?.to_string();
        let region = self.region()?;
        let what = format!("creating VM {} in {zone}", spec.name);
        let address = match spec.static_ip {
            Some(ip) => Some(self.reserve_address(spec, ip, &region).await?),
            None => None,
        };
        let image = spec.image.clone().unwrap_or_else(|| self.image.clone());
        let body = convert::instance_body(
            spec,
            &convert::Placement {
                zone: &zone,
                network: &self.network,
                subnet: self.subnet.as_deref(),
                region: &region,
            },
            &labels,
            &self.project,
            &image,
            address.as_ref(),
        );
        let c = &self.clients;
        let p = &self.cloud_project;
        let rid = api::request_id();
        let inserted = async {
            let op = retry(&self.timing, &what, || {
                c.instances.insert().set_project(p).set_zone(&zone).set_request_id(&rid).set_body(body.clone()).send()
            })
            .await?;
            wait(c, &self.timing, p, &Scope::Zone(zone.clone()), &what, op).await
        }
        .await;
        if let Err(e) = inserted {
            // Leave nothing half made: the address goes with the failed insert.
            if address.is_some() {
                let _ = self.release_address(&spec.name, &region).await;
            }
            return Err(e);
        }
        let i = self.get_in(&zone, &spec.name).await?.ok_or_else(|| ProviderError::NotFound(spec.name.clone()))?;
        self.record_host_keys(&instance_from(&i), self.timing.host_key_wait).await;
        Ok(self.instance(&i))
    }

    async fn delete(&self, name: &str) -> Result<(), ProviderError> {
        let c = &self.clients;
        let p = &self.cloud_project;
        let region = match self.find(name).await? {
            Some(i) => {
                let zone = Self::zone_of(&i);
                let what = format!("deleting VM {name} in {zone}");
                let rid = api::request_id();
                let op = retry_found(&self.timing, &what, || {
                    c.instances.delete().set_project(p).set_zone(&zone).set_instance(name).set_request_id(&rid).send()
                })
                .await?;
                if let Some(op) = op {
                    wait(c, &self.timing, p, &Scope::Zone(zone.clone()), &what, op).await?;
                }
                let _ =
                    crate::state::forget_host_name(&crate::state::known_hosts(&self.project), &instance_from(&i).id);
                region_of(&zone).to_string()
            }
            None => self.region()?,
        };
        self.release_address(name, &region).await
    }

    async fn start(&self, name: &str) -> Result<Instance, ProviderError> {
        let (i, started) = self.power(name, true).await?;
        if started {
            self.record_host_keys(&instance_from(&i), self.timing.host_key_wait).await;
        }
        Ok(self.instance(&i))
    }

    async fn stop(&self, name: &str) -> Result<Instance, ProviderError> {
        Ok(self.instance(&self.power(name, false).await?.0))
    }

    /// Releases addresses of the project that no instance uses any more (left by an
    /// interrupted run), in the region of new VMs.
    async fn list_disks(&self, selector: &Labels) -> Result<Vec<crate::Disk>, ProviderError> {
        self.list_disks_impl(selector).await
    }

    async fn get_disk(&self, name: &str) -> Result<Option<crate::Disk>, ProviderError> {
        self.get_disk_impl(name).await
    }

    async fn create_disk(&self, spec: &crate::DiskSpec) -> Result<crate::Disk, ProviderError> {
        self.create_disk_impl(spec).await
    }

    async fn delete_disk(&self, name: &str) -> Result<(), ProviderError> {
        self.delete_disk_impl(name).await
    }

    async fn attach_disk(
        &self,
        disk: &str,
        instance: &str,
        device: Option<&str>,
    ) -> Result<crate::Disk, ProviderError> {
        self.attach_disk_impl(disk, instance, device).await
    }

    async fn detach_disk(&self, disk: &str, instance: &str) -> Result<crate::Disk, ProviderError> {
        self.detach_disk_impl(disk, instance).await
    }

    async fn cleanup(&self) -> Result<(), ProviderError> {
        let Ok(region) = self.region() else { return Ok(()) };
        let c = &self.clients;
        let p = &self.cloud_project;
        let filter = format!("(labels.{LABEL_PROJECT} = \"{}\")", self.project);
        let list = retry(&self.timing, &format!("listing the addresses of project {}", self.project), || {
            c.addresses.list().set_project(p).set_region(&region).set_filter(&filter).send()
        })
        .await?;
        for a in list.items {
            let unused = a.users.is_empty();
            if let (true, Some(vm)) = (unused, a.labels.get(LABEL_NAME)) {
                self.release_address(vm, &region).await?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
