//! VM providers: the [`Provider`] contract, the embedded `docker` provider, and dynamic
//! inventory built from instance labels.
//!
//! A provider manages *instances* selected by labels. Label keys are the same on every
//! provider (`prov-project`, `prov-group`, `prov-name`, ...) and pass through [`label_key`],
//! so they are valid GCP label keys, AWS tags and Docker labels alike.
#![deny(missing_docs)]

#[cfg(feature = "aws")]
pub mod aws;
pub mod aws_ec2;
pub mod disk;
pub mod docker;
pub mod ec2_eip;
pub mod ec2_instance;
pub mod ec2_security_group;
pub mod ec2_vol;
#[cfg(feature = "gcp")]
pub mod gcp;
pub mod gcp_compute;
pub mod google_cloud;
pub mod inventory;
pub mod machine;
pub mod python;
pub mod state;

pub use disk::{Attachment, Disk, DiskMount, DiskSpec};

use async_trait::async_trait;
use std::collections::BTreeMap;
use std::net::IpAddr;

/// Labels of an instance (already mapped through [`label_key`] / [`label_value`]).
pub type Labels = BTreeMap<String, String>;

/// The label every instance of a project carries.
pub const LABEL_PROJECT: &str = "prov-project";
/// The inventory group of an instance (`monitor`, `managers`, `workers`).
pub const LABEL_GROUP: &str = "prov-group";
/// The instance's name within its project.
pub const LABEL_NAME: &str = "prov-name";

/// Selector keys starting with this hold a filter expression in the cloud's own language
/// (gcp: a `filters` list of the inventory file, as Ansible's `gcp_compute` has it), not a
/// label.
pub const FILTER_EXPRESSION: &str = "filter-expression:";

/// `static_ip: true` in [`InstanceSpec::static_ip`]: a static address the cloud picks
/// (a reserved GCP address, an AWS Elastic IP). Providers without such a thing refuse it.
pub const ANY_STATIC_IP: IpAddr = IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED);

/// Lifecycle state, mapped from each provider's own words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InstanceState {
    /// Being created or started.
    Pending,
    /// Up.
    Running,
    /// Being stopped.
    Stopping,
    /// Stopped (exists, not running).
    Stopped,
    /// Being deleted or gone.
    Terminated,
    /// Anything else, with the provider's word for it.
    Other(String),
}

impl InstanceState {
    /// Short lower-case name (`running`, `stopped`, ...), as inventories show it.
    pub fn as_str(&self) -> &str {
        match self {
            InstanceState::Pending => "pending",
            InstanceState::Running => "running",
            InstanceState::Stopping => "stopping",
            InstanceState::Stopped => "stopped",
            InstanceState::Terminated => "terminated",
            InstanceState::Other(s) => s,
        }
    }
}

/// One instance ("VM") as a provider reports it.
#[derive(Debug, Clone)]
pub struct Instance {
    /// Name within the project (the `prov-name` label; also its hostname).
    pub name: String,
    /// The provider's id (container id, GCE numeric id, EC2 instance id).
    pub id: String,
    /// Lifecycle state.
    pub state: InstanceState,
    /// All labels.
    pub labels: Labels,
    /// Address on the project network.
    pub private_ip: Option<IpAddr>,
    /// Address reachable from outside the network, if any.
    pub public_ip: Option<IpAddr>,
    /// Machine type as requested (`e2-small`, `t3.micro`, ...).
    pub machine_type: Option<String>,
    /// Image it was created from.
    pub image: Option<String>,
    /// Provider-specific details (shown as the `prov_details` host variable).
    pub details: serde_json::Value,
}

/// What to create.
#[derive(Debug, Clone)]
pub struct InstanceSpec {
    /// Name within the project.
    pub name: String,
    /// Labels, including `prov-project`, `prov-group` and `prov-name`.
    pub labels: Labels,
    /// Machine type (provider table; docker maps it to CPU and memory limits).
    pub machine_type: Option<String>,
    /// Image (provider default when `None`).
    pub image: Option<String>,
    /// Fixed address on the project network, or [`ANY_STATIC_IP`].
    pub static_ip: Option<IpAddr>,
    /// Public keys allowed to log in as root (OpenSSH `authorized_keys` lines).
    pub authorized_keys: Vec<String>,
    /// The SSH host key the instance must use: (private key in OpenSSH PEM, public line).
    /// prov generates it, so it can record the key in known_hosts before first contact.
    pub host_key: Option<(String, String)>,
    /// Disks of the project attached when the instance is created (docker: mounted; a
    /// container cannot gain a mount later).
    pub disks: Vec<DiskMount>,
}

/// Why a provider call failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ProviderError {
    /// The provider's API cannot be reached (engine not running, no credentials, ...).
    #[error("{provider}: {message}")]
    Unavailable {
        /// Provider name.
        provider: &'static str,
        /// What is wrong and how to fix it.
        message: String,
    },
    /// The request is wrong (duplicate name, address outside the network, unknown type).
    #[error("{0}")]
    Invalid(String),
    /// The instance does not exist.
    #[error("no instance `{0}`")]
    NotFound(String),
    /// The disk does not exist.
    #[error("no disk `{0}`")]
    DiskNotFound(String),
    /// Anything else the provider reported.
    #[error("{provider}: {message}")]
    Api {
        /// Provider name.
        provider: &'static str,
        /// The provider's message.
        message: String,
    },
}

/// A place that runs instances. Every call is idempotent where the operation allows:
/// starting a running instance or stopping a stopped one is not an error.
#[async_trait]
pub trait Provider: Send + Sync {
    /// `docker`, `gcp`, `aws`.
    fn name(&self) -> &'static str;

    /// Instances whose labels include every `selector` pair.
    async fn list(&self, selector: &Labels) -> Result<Vec<Instance>, ProviderError>;

    /// One instance of the project by name.
    async fn get(&self, name: &str) -> Result<Option<Instance>, ProviderError>;

    /// Creates and starts an instance; it is `Running` when this returns.
    async fn create(&self, spec: &InstanceSpec) -> Result<Instance, ProviderError>;

    /// Deletes an instance and what belongs only to it. A missing instance is not an error.
    async fn delete(&self, name: &str) -> Result<(), ProviderError>;

    /// Starts a stopped instance and waits until it runs.
    async fn start(&self, name: &str) -> Result<Instance, ProviderError>;

    /// Stops a running instance and waits until it is stopped.
    async fn stop(&self, name: &str) -> Result<Instance, ProviderError>;

    /// Whether `create` installs [`InstanceSpec::host_key`] (then the caller records it in
    /// known_hosts). A provider that cannot (EC2: the image makes its own keys) returns
    /// `false`, gets no key, and records the instance's keys itself where it can read them.
    fn installs_host_key(&self) -> bool {
        true
    }

    /// Removes what the project holds besides instances (networks, firewall rules) once
    /// no instance is left. Called after the last delete.
    async fn cleanup(&self) -> Result<(), ProviderError> {
        Ok(())
    }

    /// The project's disks whose labels include every `selector` pair.
    async fn list_disks(&self, _selector: &Labels) -> Result<Vec<Disk>, ProviderError> {
        Err(disk::unsupported(self.name()))
    }

    /// One disk of the project by name.
    async fn get_disk(&self, _name: &str) -> Result<Option<Disk>, ProviderError> {
        Err(disk::unsupported(self.name()))
    }

    /// Creates a disk (not attached). An existing disk of the project with that name is
    /// returned as it is.
    async fn create_disk(&self, _spec: &DiskSpec) -> Result<Disk, ProviderError> {
        Err(disk::unsupported(self.name()))
    }

    /// Deletes a disk. A missing disk is not an error; an attached one is refused (naming
    /// the VMs).
    async fn delete_disk(&self, _name: &str) -> Result<(), ProviderError> {
        Err(disk::unsupported(self.name()))
    }

    /// Whether [`attach_disk`](Provider::attach_disk) can attach a disk to an existing
    /// instance. Docker cannot (a container gains mounts only when it is created, through
    /// [`InstanceSpec::disks`]); its `attach_disk` only confirms an attachment made then.
    fn attaches_to_existing(&self) -> bool {
        true
    }

    /// Attaches disk `disk` to VM `instance` as `device` (see [`Attachment::device`]) and
    /// returns the disk. Attaching where it is already attached is not an error.
    async fn attach_disk(&self, _disk: &str, _instance: &str, _device: Option<&str>) -> Result<Disk, ProviderError> {
        Err(disk::unsupported(self.name()))
    }

    /// Detaches disk `disk` from VM `instance` and returns the disk. Not attached there is
    /// not an error.
    async fn detach_disk(&self, _disk: &str, _instance: &str) -> Result<Disk, ProviderError> {
        Err(disk::unsupported(self.name()))
    }
}

/// Settings that select a provider's project and its defaults; what a `vm` task or an
/// inventory plugin file says.
#[derive(Debug, Clone, Default)]
pub struct ProviderSettings {
    /// Project name (`prov-project` label).
    pub project: String,
    /// Network name (docker; default `prov-<project>`).
    pub network: Option<String>,
    /// Network subnet (docker).
    pub subnet: Option<String>,
    /// Image for new instances (provider default when `None`).
    pub image: Option<String>,
    /// Build the docker node image when it is missing.
    pub build_image: bool,
    /// Cloud project that holds the instances (GCP project id).
    pub cloud_project: Option<String>,
    /// Zone new instances go to (GCP zone, AWS availability zone).
    pub zone: Option<String>,
    /// Region (AWS region; GCP region of addresses, else derived from `zone`).
    pub region: Option<String>,
    /// Zones to list (GCP; empty: every zone, through aggregatedList).
    pub zones: Vec<String>,
    /// Regions to list (AWS; empty: `region`).
    pub regions: Vec<String>,
    /// API endpoint instead of the cloud's own (tests: moto, the Compute fake).
    pub endpoint: Option<String>,
}

impl ProviderSettings {
    /// A key that tells settings apart (for the connection cache).
    fn cache_key(&self, kind: &str) -> String {
        format!("{kind}|{self:?}")
    }

    /// The settings an inventory plugin file gives.
    pub fn from_plugin(cfg: &inventory::PluginConfig) -> Self {
        ProviderSettings {
            project: cfg.project.clone(),
            network: cfg.network.clone(),
            subnet: cfg.subnet.clone(),
            image: cfg.image.clone(),
            build_image: false,
            cloud_project: cfg.projects.first().cloned(),
            zone: cfg.zones.first().cloned(),
            region: cfg.regions.first().cloned(),
            zones: cfg.zones.clone(),
            regions: cfg.regions.clone(),
            endpoint: cfg.endpoint.clone(),
        }
    }
}

/// Providers prov knows (`gcp` and `aws` need the cargo features of the same names).
pub const PROVIDERS: &[&str] = &["docker", "gcp", "aws"];

/// Providers already connected in this process, by settings: every task and inventory
/// source of a run shares one (its locks serialise project-wide steps such as creating the
/// network while a loop creates VMs at once).
static CONNECTED: std::sync::OnceLock<
    tokio::sync::Mutex<std::collections::HashMap<String, std::sync::Arc<dyn Provider>>>,
> = std::sync::OnceLock::new();

/// Connects to a provider by name (once per distinct settings in a process).
pub async fn connect(kind: &str, s: &ProviderSettings) -> Result<std::sync::Arc<dyn Provider>, ProviderError> {
    let key = s.cache_key(kind);
    let cache = CONNECTED.get_or_init(Default::default);
    let mut map = cache.lock().await;
    if let Some(p) = map.get(&key) {
        return Ok(p.clone());
    }
    let p: std::sync::Arc<dyn Provider> = match kind {
        "docker" => {
            let cfg = docker::DockerConfig {
                project: s.project.clone(),
                network: s.network.clone(),
                subnet: s.subnet.clone(),
                image: s.image.clone(),
                build_image: s.build_image,
            };
            std::sync::Arc::new(docker::DockerProvider::connect(cfg).await?)
        }
        #[cfg(feature = "gcp")]
        "gcp" => gcp::connect(s).await?,
        #[cfg(feature = "aws")]
        "aws" => aws::connect(s).await?,
        #[cfg(not(feature = "gcp"))]
        "gcp" => return Err(not_built("gcp")),
        #[cfg(not(feature = "aws"))]
        "aws" => return Err(not_built("aws")),
        other => {
            return Err(ProviderError::Invalid(format!(
                "unknown provider `{other}`; {}",
                prov_core::diag::did_you_mean(other, PROVIDERS.iter().copied())
                    .unwrap_or_else(|| format!("known providers: {}", PROVIDERS.join(", ")))
            )))
        }
    };
    map.insert(key, p.clone());
    Ok(p)
}

/// The error for a provider this binary was built without.
#[cfg(not(all(feature = "gcp", feature = "aws")))]
fn not_built(kind: &'static str) -> ProviderError {
    ProviderError::Unavailable {
        provider: kind,
        message: format!("this prov was built without the `{kind}` provider: rebuild it with `--features {kind}`"),
    }
}

/// Maps any label key to the common subset: lower case, `[a-z0-9_-]`, starting with a
/// letter, at most 63 characters (GCP's rule; AWS and Docker accept it).
pub fn label_key(k: &str) -> String {
    let mut out: String = k
        .chars()
        .map(|c| c.to_ascii_lowercase())
        .map(|c| if c.is_ascii_alphanumeric() || c == '_' || c == '-' { c } else { '-' })
        .collect();
    if !out.starts_with(|c: char| c.is_ascii_lowercase()) {
        out.insert(0, 'k');
    }
    out.truncate(63);
    out
}

/// Maps a label value the same way (may be empty, may start with a digit).
pub fn label_value(v: &str) -> String {
    let mut out: String = v
        .chars()
        .map(|c| c.to_ascii_lowercase())
        .map(|c| if c.is_ascii_alphanumeric() || c == '_' || c == '-' { c } else { '-' })
        .collect();
    out.truncate(63);
    out
}

/// Points the state directory ([`state::project_dir`]) of this test process at a temporary
/// directory, once for every test of the binary, and returns it.
#[cfg(test)]
pub(crate) fn test_state_dir() -> &'static std::path::Path {
    static STATE: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    STATE.get_or_init(|| {
        let d = std::env::temp_dir().join(format!("prov-providers-unit-{}", std::process::id()));
        std::env::set_var("PROV_STATE_DIR", &d);
        d
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_fit_every_provider() {
        assert_eq!(label_key("prov-group"), "prov-group");
        assert_eq!(label_key("Prov.Group"), "prov-group");
        assert_eq!(label_key("9lives"), "k9lives");
        assert_eq!(label_value("Web Server"), "web-server");
        assert_eq!(label_key(&"x".repeat(80)).len(), 63);
    }
}
