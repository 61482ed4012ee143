//! The `aws` provider: VMs are EC2 instances (aws-sdk-ec2), found by their tags.
//!
//! * every resource prov makes carries the spec's labels as tags (`prov-project`,
//!   `prov-name`, `prov-group`, ...) plus `Name`: the instance, its volumes and network
//!   interface, its Elastic IP, and the project's security group. `delete` and `cleanup`
//!   find them by these tags, so nothing is left behind;
//! * `machine_type` maps GCP names of the shared VM list to the EC2 type of the same size
//!   (`e2-small` → `t3.small`) and passes other names through; the image is the VM's or
//!   the inventory's `image`, else the newest Debian 12 AMI of Debian's account;
//! * `static_ip` (an address or `true`) allocates an Elastic IP tagged with the project and
//!   the VM, associates it, and `delete` releases it. AWS chooses the private address from
//!   the subnet (it stays the same for the instance's life);
//! * new instances get the security group `prov-<project>` (SSH and HTTP from anywhere,
//!   everything between members), made on first use and removed by `cleanup`;
//! * root may log in with the user's key (cloud-init user data); host keys come from the
//!   console output ([`hostkeys`]);
//! * credentials and region come from the standard chain (environment, profile, SSO,
//!   instance role); `region`/`regions` and `endpoint` (else `AWS_ENDPOINT_URL`) override;
//! * every call retries throttling with backoff ([`api::retry`]); state changes are polled
//!   with backoff until done ([`api::wait_for`]): 0.5 s doubling to 10 s, where the SDK's
//!   generated waiters (`wait_until_instance_running`, ...) poll every 15 s at least, which
//!   would add up to 15 s to every VM.
//!
//! Disks are EBS volumes (see [`disk`]).
//!
//! Lifecycle calls work in the first region; listing covers every region of `regions` at once.

pub mod api;
pub mod boto3;
pub mod convert;
mod disk;
pub mod ec2_eip;
pub mod ec2_instance;
pub mod ec2_inventory;
pub mod ec2_security_group;
pub mod ec2_vol;
pub mod hostkeys;
pub mod module;
mod resources;

use crate::{
    Instance, InstanceSpec, InstanceState, Labels, Provider, ProviderError, ProviderSettings, LABEL_NAME, LABEL_PROJECT,
};
use api::{from_sdk, retry, wait_for, ApiError, PROVIDER};
use async_trait::async_trait;
use aws_config::{retry::RetryConfig, BehaviorVersion, Region};
use aws_sdk_ec2::types::{Filter, InstanceType, Placement, ResourceType};
use aws_sdk_ec2::Client;
use std::sync::Arc;
use std::time::Duration;

/// How long lifecycle changes (running, stopped, terminated) may take.
pub const STATE_WAIT: Duration = Duration::from_secs(600);

/// How long `create` waits for the host keys on the console by default
/// (`PROV_AWS_HOST_KEY_WAIT`, seconds, overrides).
pub const HOST_KEY_WAIT: Duration = Duration::from_secs(240);

/// Instances asked for per DescribeInstances page (`PROV_AWS_PAGE_SIZE`, 5 to 1000,
/// overrides: the tests use 5 to go through several pages).
pub const PAGE_SIZE: i32 = 1000;

/// Settings of the aws provider.
#[derive(Debug, Clone, Default)]
pub struct AwsConfig {
    /// Project (`prov-project` tag).
    pub project: String,
    /// Region of new VMs (default: the first of `regions`, else the standard chain).
    pub region: Option<String>,
    /// Regions listed (default: `region`).
    pub regions: Vec<String>,
    /// Availability zone of new VMs (default: EC2's choice).
    pub zone: Option<String>,
    /// Endpoint instead of EC2's (else `AWS_ENDPOINT_URL` when set).
    pub endpoint: Option<String>,
    /// AMI of new VMs without their own.
    pub image: Option<String>,
    /// How long `create` waits for host keys on the console.
    pub host_key_wait: Duration,
    /// DescribeInstances page size (5 to 1000).
    pub page_size: i32,
}

impl AwsConfig {
    /// The settings of a `vm` task or inventory file.
    pub fn from_settings(s: &ProviderSettings) -> AwsConfig {
        let host_key_wait = std::env::var("PROV_AWS_HOST_KEY_WAIT")
            .ok()
            .and_then(|v| v.parse().ok())
            .map(Duration::from_secs)
            .unwrap_or(HOST_KEY_WAIT);
        AwsConfig {
            project: s.project.clone(),
            region: s.region.clone(),
            regions: s.regions.clone(),
            zone: s.zone.clone(),
            endpoint: s.endpoint.clone(),
            image: s.image.clone(),
            host_key_wait,
            page_size: std::env::var("PROV_AWS_PAGE_SIZE")
                .ok()
                .and_then(|v| v.parse::<i32>().ok())
                .map(|n| n.clamp(5, 1000))
                .unwrap_or(PAGE_SIZE),
        }
    }
}

/// Connects to EC2 with `settings`.
pub async fn connect(settings: &ProviderSettings) -> Result<Arc<dyn Provider>, ProviderError> {
    Ok(Arc::new(AwsProvider::connect(AwsConfig::from_settings(settings)).await?))
}

/// VMs as EC2 instances.
pub struct AwsProvider {
    cfg: AwsConfig,
    region: String,
    client: Client,
    listing: Vec<(String, Client)>,
    /// The project's security group id, once known.
    security_group: tokio::sync::Mutex<Option<String>>,
    /// The default AMI, once looked up.
    default_image: tokio::sync::Mutex<Option<String>>,
}

impl std::fmt::Debug for AwsProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AwsProvider").field("project", &self.cfg.project).field("region", &self.region).finish()
    }
}

impl AwsProvider {
    /// Loads the standard configuration (credentials, region, endpoint) with `cfg`'s
    /// overrides. Sends no request.
    pub async fn connect(cfg: AwsConfig) -> Result<AwsProvider, ProviderError> {
        if cfg.project.is_empty() {
            return Err(ProviderError::Invalid("the aws provider needs a project".into()));
        }
        let mut loader =
            aws_config::defaults(BehaviorVersion::latest()).retry_config(RetryConfig::standard().with_max_attempts(3));
        let wanted = cfg.region.clone().or_else(|| cfg.regions.first().cloned());
        if let Some(r) = &wanted {
            loader = loader.region(Region::new(r.clone()));
        }
        if let Some(e) = &cfg.endpoint {
            loader = loader.endpoint_url(e);
        }
        let sdk = loader.load().await;
        let region = sdk.region().map(|r| r.to_string()).ok_or_else(|| ProviderError::Unavailable {
            provider: PROVIDER,
            message: "no AWS region: set `regions:` in the inventory file, `region:` on the vm task, \
                      or AWS_REGION / a profile's region"
                .into(),
        })?;
        let client_for = |r: &str| {
            Client::from_conf(aws_sdk_ec2::config::Builder::from(&sdk).region(Region::new(r.to_string())).build())
        };
        let mut regions = cfg.regions.clone();
        if regions.is_empty() {
            regions.push(region.clone());
        }
        let listing = regions.iter().map(|r| (r.clone(), client_for(r))).collect();
        Ok(AwsProvider {
            client: client_for(&region),
            region,
            listing,
            cfg,
            security_group: Default::default(),
            default_image: Default::default(),
        })
    }

    /// The region of new VMs.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// The EC2 client of that region.
    pub fn client(&self) -> &Client {
        &self.client
    }

    fn known_hosts(&self) -> std::path::PathBuf {
        crate::state::known_hosts(&self.cfg.project)
    }

    /// Instances matching `filters` in one region, every page.
    async fn describe(&self, client: &Client, region: &str, filters: &[Filter]) -> Result<Vec<Instance>, ApiError> {
        let page_size = self.cfg.page_size;
        retry(|| async move {
            let mut pages = client
                .describe_instances()
                .set_filters(Some(filters.to_vec()))
                .max_results(page_size)
                .into_paginator()
                .send();
            let mut out = Vec::new();
            while let Some(page) = pages.next().await {
                let page = page.map_err(from_sdk)?;
                for r in page.reservations() {
                    out.extend(r.instances().iter().map(|i| convert::instance(i, region)));
                }
            }
            Ok(out)
        })
        .await
    }

    /// One instance by id in the VM region; `None` when EC2 does not know it (yet, or any more).
    async fn by_id(&self, id: &str) -> Result<Option<Instance>, ProviderError> {
        let client = &self.client;
        let r =
            retry(|| async move { client.describe_instances().instance_ids(id).send().await.map_err(from_sdk) }).await;
        match r {
            Ok(out) => Ok(out
                .reservations()
                .iter()
                .flat_map(|r| r.instances())
                .map(|i| convert::instance(i, &self.region))
                .next()),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e.context(&format!("cannot describe instance {id}"))),
        }
    }

    /// Waits until instance `id` is in `want`; fails when it ends up terminated instead.
    async fn wait_state(&self, name: &str, id: &str, want: InstanceState) -> Result<Instance, ProviderError> {
        let what = format!("waiting for VM `{name}` ({id}) to be {}", want.as_str());
        let (what_ref, want) = (what.as_str(), &want);
        wait_for(what_ref, STATE_WAIT, || async move {
            match self.by_id(id).await? {
                Some(i) if i.state == *want => Ok(Some(i)),
                Some(i) if i.state == InstanceState::Terminated && *want != InstanceState::Terminated => {
                    Err(ProviderError::Api {
                        provider: PROVIDER,
                        message: format!("VM `{name}` ({id}) was terminated while {what_ref}"),
                    })
                }
                // Right after RunInstances EC2 may not know the id yet.
                None if *want == InstanceState::Terminated => Ok(Some(gone(name, id))),
                _ => Ok(None),
            }
        })
        .await
    }

    /// The labels of a new VM, checked against the project.
    fn labels_for(&self, spec: &InstanceSpec) -> Result<Labels, ProviderError> {
        let mut labels = spec.labels.clone();
        if let Some(p) = labels.get(LABEL_PROJECT) {
            if *p != crate::label_value(&self.cfg.project) && *p != self.cfg.project {
                return Err(ProviderError::Invalid(format!(
                    "VM `{}` has tag {LABEL_PROJECT}={p}, but this provider is for project `{}`",
                    spec.name, self.cfg.project
                )));
            }
        }
        labels.insert(LABEL_PROJECT.into(), self.cfg.project.clone());
        labels.insert(LABEL_NAME.into(), spec.name.clone());
        if let Some(t) = &spec.machine_type {
            labels.insert(convert::LABEL_MACHINE_TYPE.into(), t.clone());
        }
        Ok(labels)
    }

    async fn run_instance(
        &self,
        spec: &InstanceSpec,
        labels: &Labels,
        image: &str,
        sg: &str,
    ) -> Result<String, ApiError> {
        let client = &self.client;
        // One token for every retry of this call: EC2 makes at most one instance for it.
        let mut token = format!("prov-{}-{}", token_suffix(), spec.name);
        token.truncate(64);
        let instance_type = convert::instance_type(spec.machine_type.as_deref());
        let (token, instance_type) = (token.as_str(), instance_type.as_str());
        let out = retry(|| async move {
            let mut req = client
                .run_instances()
                .image_id(image)
                .instance_type(InstanceType::from(instance_type))
                .min_count(1)
                .max_count(1)
                .client_token(token)
                .security_group_ids(sg)
                .user_data(convert::user_data(&spec.authorized_keys))
                .tag_specifications(convert::tag_spec(ResourceType::Instance, labels, &spec.name))
                .tag_specifications(convert::tag_spec(ResourceType::Volume, labels, &spec.name))
                .tag_specifications(convert::tag_spec(ResourceType::NetworkInterface, labels, &spec.name));
            if let Some(z) = &self.cfg.zone {
                req = req.placement(Placement::builder().availability_zone(z).build());
            }
            req.send().await.map_err(from_sdk)
        })
        .await?;
        out.instances()
            .first()
            .and_then(|i| i.instance_id())
            .map(str::to_string)
            .ok_or_else(|| ApiError { code: None, message: "RunInstances answered without an instance".into() })
    }

    /// Reads the host keys from the console (until they appear or the wait is over) and
    /// records them under the instance id; returns how many.
    async fn record_console_keys(&self, id: &str, wait: Duration) -> usize {
        let r = wait_for("host keys on the console", wait, || async move {
            let keys = self.console_keys(id).await;
            Ok(if keys.is_empty() { None } else { Some(keys) })
        })
        .await;
        match r {
            Ok(keys) => match crate::state::record_host_keys(&self.known_hosts(), id, &keys) {
                Ok(()) => keys.len(),
                Err(_) => 0,
            },
            Err(_) => 0,
        }
    }

    /// The host keys the console of `id` shows now (none when it shows none or fails).
    async fn console_keys(&self, id: &str) -> Vec<String> {
        let client = &self.client;
        let latest = retry(|| async move {
            client.get_console_output().instance_id(id).latest(true).send().await.map_err(from_sdk)
        })
        .await;
        // `Latest` needs a Nitro instance; older types give the buffered output only.
        let out = match latest {
            Ok(o) => Ok(o),
            Err(_) => {
                retry(|| async move { client.get_console_output().instance_id(id).send().await.map_err(from_sdk) })
                    .await
            }
        };
        let Some(text) = out.ok().and_then(|o| o.output().map(str::to_string)) else { return Vec::new() };
        use base64::Engine as _;
        let decoded = base64::engine::general_purpose::STANDARD.decode(text.trim()).unwrap_or_default();
        hostkeys::keys_from_console(&String::from_utf8_lossy(&decoded))
    }

    /// `i` with its SSH host-key variables (see [`crate::state::pin_host_keys_to_ids`]).
    fn with_ssh_vars(&self, mut i: Instance) -> Instance {
        crate::state::pin_host_keys_to_ids(&self.cfg.project, std::slice::from_mut(&mut i));
        i
    }
}

/// An instance that no longer exists.
fn gone(name: &str, id: &str) -> Instance {
    Instance {
        name: name.to_string(),
        id: id.to_string(),
        state: InstanceState::Terminated,
        labels: Labels::new(),
        private_ip: None,
        public_ip: None,
        machine_type: None,
        image: None,
        details: serde_json::json!({}),
    }
}

/// A token unique enough for one RunInstances (time and process id).
fn token_suffix() -> String {
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    format!("{:x}-{:x}", t, std::process::id())
}

#[async_trait]
impl Provider for AwsProvider {
    fn name(&self) -> &'static str {
        PROVIDER
    }

    fn installs_host_key(&self) -> bool {
        false
    }

    async fn list(&self, selector: &Labels) -> Result<Vec<Instance>, ProviderError> {
        let filters = convert::filters(&self.cfg.project, selector);
        let per_region = self.listing.iter().map(|(region, client)| {
            let filters = &filters;
            async move {
                self.describe(client, region, filters)
                    .await
                    .map_err(|e| e.context(&format!("cannot list instances in {region}")))
            }
        });
        let mut out: Vec<Instance> =
            futures_util::future::try_join_all(per_region).await?.into_iter().flatten().collect();
        // Keys that reached the console since the VM was made (one look each, at once).
        let known = crate::state::known_names(&self.known_hosts());
        let missing = out
            .iter()
            .filter(|i| i.state == InstanceState::Running && !known.contains(&i.id))
            .filter(|i| i.details["region"] == self.region.as_str())
            .map(|i| i.id.clone())
            .collect::<Vec<_>>();
        futures_util::future::join_all(missing.iter().map(|id| self.record_console_keys(id, Duration::ZERO))).await;
        crate::state::pin_host_keys_to_ids(&self.cfg.project, &mut out);
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    async fn get(&self, name: &str) -> Result<Option<Instance>, ProviderError> {
        let mut sel = Labels::new();
        sel.insert(LABEL_NAME.into(), name.to_string());
        let filters = convert::filters(&self.cfg.project, &sel);
        let mut found = self
            .describe(&self.client, &self.region, &filters)
            .await
            .map_err(|e| e.context(&format!("cannot look up VM `{name}`")))?;
        if found.len() > 1 {
            let ids: Vec<&str> = found.iter().map(|i| i.id.as_str()).collect();
            return Err(ProviderError::Invalid(format!(
                "several instances are VM `{name}` of project `{}`: {}; terminate the extra ones",
                self.cfg.project,
                ids.join(", ")
            )));
        }
        Ok(found.pop())
    }

    async fn create(&self, spec: &InstanceSpec) -> Result<Instance, ProviderError> {
        let name = &spec.name;
        let labels = self.labels_for(spec)?;
        if let Some(existing) = self.get(name).await? {
            // Converge: running, with its Elastic IP.
            let mut i = match existing.state {
                InstanceState::Running => existing,
                _ => self.start(name).await?,
            };
            if spec.static_ip.is_some() && self.ensure_elastic_ip(&i, &labels).await? {
                i = self.by_id(&i.id).await?.unwrap_or(i);
            }
            return Ok(i);
        }
        let failed = |e: ApiError| e.context(&format!("cannot create VM `{name}`"));
        let image = self.image_for(spec).await?;
        let sg = self.security_group().await?;
        // The address first: when the quota is used up, no instance is made.
        let eip = match spec.static_ip {
            Some(_) => Some(self.allocate_address(name, &labels).await.map_err(failed)?),
            None => None,
        };
        let id = match self.run_instance(spec, &labels, &image, &sg).await {
            Ok(id) => id,
            Err(e) => {
                if let Some((alloc, _)) = &eip {
                    let _ = self.release_address(alloc, None).await;
                }
                return Err(failed(e));
            }
        };
        let mut i = self.wait_state(name, &id, InstanceState::Running).await?;
        if let Some((alloc, _)) = &eip {
            self.associate_address(alloc, &id).await.map_err(failed)?;
            i = self.by_id(&id).await?.unwrap_or(i);
        }
        self.record_console_keys(&id, self.cfg.host_key_wait).await;
        Ok(self.with_ssh_vars(i))
    }

    async fn delete(&self, name: &str) -> Result<(), ProviderError> {
        let failed = |e: ApiError| e.context(&format!("cannot delete VM `{name}`"));
        let existing = self.get(name).await?;
        // Its Elastic IPs (and any left by an interrupted create).
        self.release_addresses_of(Some(name)).await.map_err(failed)?;
        let Some(i) = existing else { return Ok(()) };
        let client = &self.client;
        let id = i.id.as_str();
        let r =
            retry(|| async move { client.terminate_instances().instance_ids(id).send().await.map_err(from_sdk) }).await;
        match r {
            Ok(_) => {}
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(failed(e)),
        }
        self.wait_state(name, id, InstanceState::Terminated).await?;
        let _ = crate::state::forget_host_name(&self.known_hosts(), id);
        Ok(())
    }

    async fn start(&self, name: &str) -> Result<Instance, ProviderError> {
        let i = self.get(name).await?.ok_or_else(|| ProviderError::NotFound(name.to_string()))?;
        let id = i.id.clone();
        match i.state {
            InstanceState::Running => return Ok(self.with_ssh_vars(i)),
            InstanceState::Pending => {}
            _ => {
                if i.state == InstanceState::Stopping {
                    self.wait_state(name, &id, InstanceState::Stopped).await?;
                }
                let client = &self.client;
                let id = id.as_str();
                retry(|| async move { client.start_instances().instance_ids(id).send().await.map_err(from_sdk) })
                    .await
                    .map_err(|e| e.context(&format!("cannot start VM `{name}`")))?;
            }
        }
        let i = self.wait_state(name, &id, InstanceState::Running).await?;
        Ok(self.with_ssh_vars(i))
    }

    async fn stop(&self, name: &str) -> Result<Instance, ProviderError> {
        let i = self.get(name).await?.ok_or_else(|| ProviderError::NotFound(name.to_string()))?;
        if i.state == InstanceState::Stopped {
            return Ok(i);
        }
        let id = i.id.as_str();
        if i.state != InstanceState::Stopping {
            let client = &self.client;
            retry(|| async move { client.stop_instances().instance_ids(id).send().await.map_err(from_sdk) })
                .await
                .map_err(|e| e.context(&format!("cannot stop VM `{name}`")))?;
        }
        self.wait_state(name, id, InstanceState::Stopped).await
    }

    /// Releases Elastic IPs of the project that no instance holds and deletes the project's
    /// security group, once no instance of the project is left.
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
        if !self.list(&Labels::new()).await?.is_empty() {
            return Ok(());
        }
        let failed = |e: ApiError| e.context(&format!("cannot clean up project `{}`", self.cfg.project));
        self.release_addresses_of(None).await.map_err(failed)?;
        self.delete_security_group().await
    }
}
