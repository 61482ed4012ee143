//! The `docker` provider: each VM is a container of the local Docker Engine running sshd,
//! on a user-defined bridge network of the project.
//!
//! * container `<project>-<name>`, hostname `<name>`, labels of the spec plus
//!   `prov-machine-type`;
//! * network `prov-<project>` (configurable) with a fixed subnet, made by the first
//!   [`create`](Provider::create) and removed by [`cleanup`](Provider::cleanup) once no
//!   container of the project is left. [`delete`](Provider::delete) never removes the
//!   network: the caller calls `cleanup` after the last delete (as the [`Provider`]
//!   contract says);
//! * capabilities: all but `SYS_RESOURCE`, no seccomp/apparmor profile, tmpfs `/run` and
//!   `/tmp`, an anonymous volume on `/var/lib/docker` (so a Docker Engine inside can use
//!   overlay2; removed with the container), CPU and memory limits from the machine type;
//! * before the first start the SSH host key and root's `authorized_keys` are copied in;
//!   `create` and `start` return once sshd answers on `<private_ip>:22`.
//!
//! No port is published on the host: VMs are reached on the network's addresses.
//!
//! Disks are named volumes, mounted when a VM is created (see [`disk`]).

pub mod archive;
mod disk;
pub mod image;
mod subnet;

pub use image::{build_node_image, ensure_node_image, NODE_IMAGE};
pub use subnet::Subnet;

use crate::{
    machine, Instance, InstanceSpec, InstanceState, Labels, Provider, ProviderError, LABEL_NAME, LABEL_PROJECT,
};
use async_trait::async_trait;
use bollard::errors::Error as DockerError;
use bollard::models::{
    ContainerCreateBody, ContainerInspectResponse, ContainerStateStatusEnum, EndpointIpamConfig, EndpointSettings,
    HostConfig, Ipam, IpamConfig, NetworkCreateRequest, NetworkingConfig, RestartPolicy, RestartPolicyNameEnum,
};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, DownloadFromContainerOptionsBuilder, ListContainersOptionsBuilder,
    LogsOptionsBuilder, RemoveContainerOptionsBuilder, StopContainerOptionsBuilder, UploadToContainerOptionsBuilder,
};
use bollard::Docker;
use futures_util::StreamExt;
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};
use tokio::io::AsyncReadExt;

/// The provider's name.
pub const PROVIDER: &str = "docker";

/// Label holding the requested machine type.
pub const LABEL_MACHINE_TYPE: &str = "prov-machine-type";

/// Default subnet of a project network.
pub const DEFAULT_SUBNET: &str = "10.213.0.0/24";

/// Where the engine listens unless `DOCKER_HOST` says otherwise.
pub const DEFAULT_SOCKET: &str = "/var/run/docker.sock";

/// How long `create` and `start` wait for sshd.
pub const SSH_WAIT: Duration = Duration::from_secs(30);
/// How long removing a VM's container (and its Docker Engine's data) may take.
const REMOVE_TIMEOUT: Duration = Duration::from_secs(900);

/// Settings of the docker provider.
#[derive(Debug, Clone, Default)]
pub struct DockerConfig {
    /// Project name: container names are `<project>-<name>`.
    pub project: String,
    /// Network name; default `prov-<project>`.
    pub network: Option<String>,
    /// Network subnet (IPv4 CIDR); default [`DEFAULT_SUBNET`].
    pub subnet: Option<String>,
    /// Default image of VMs; default [`NODE_IMAGE`].
    pub image: Option<String>,
    /// Build the node image when it is missing (else `create` says how to build it).
    pub build_image: bool,
}

/// VMs as containers of the local Docker Engine.
pub struct DockerProvider {
    docker: Docker,
    project: String,
    network: String,
    subnet: Subnet,
    image: String,
    build_image: bool,
    host_cpus: f64,
    /// Serializes network creation and the address checks before a container exists.
    lock: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for DockerProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DockerProvider")
            .field("project", &self.project)
            .field("network", &self.network)
            .field("subnet", &self.subnet)
            .field("image", &self.image)
            .finish()
    }
}

/// The engine's socket: `DOCKER_HOST` when it is a `unix://` address, else
/// [`DEFAULT_SOCKET`].
pub fn socket_path() -> String {
    match std::env::var("DOCKER_HOST") {
        Ok(h) if h.starts_with("unix://") => h.trim_start_matches("unix://").to_string(),
        _ => DEFAULT_SOCKET.to_string(),
    }
}

fn not_running(socket: &str, detail: &str) -> ProviderError {
    ProviderError::Unavailable {
        provider: PROVIDER,
        message: format!(
            "the Docker Engine is not running (no answer on {socket}: {detail}): start it with \
             `service docker start` or `dockerd &`; install it with `apt-get install -y docker.io`"
        ),
    }
}

/// Maps an engine error to a [`ProviderError`].
pub(crate) fn api_error(e: DockerError) -> ProviderError {
    match e {
        DockerError::DockerResponseServerError { status_code, message } => {
            ProviderError::Api { provider: PROVIDER, message: format!("{} (HTTP {status_code})", message.trim()) }
        }
        DockerError::SocketNotFoundError(_) | DockerError::HyperLegacyError { .. } | DockerError::IOError { .. } => {
            not_running(&socket_path(), &e.to_string())
        }
        other => ProviderError::Api { provider: PROVIDER, message: other.to_string() },
    }
}

pub(crate) fn is_not_found(e: &DockerError) -> bool {
    matches!(e, DockerError::DockerResponseServerError { status_code: 404, .. })
}

fn is_status(e: &DockerError, code: u16) -> bool {
    matches!(e, DockerError::DockerResponseServerError { status_code, .. } if *status_code == code)
}

fn invalid(message: impl Into<String>) -> ProviderError {
    ProviderError::Invalid(message.into())
}

fn api(message: impl Into<String>) -> ProviderError {
    ProviderError::Api { provider: PROVIDER, message: message.into() }
}

/// Checks a project or VM name: it becomes part of container and network names and a
/// hostname, so `[a-z0-9]` then `[a-z0-9-]`, at most 63 characters.
fn check_name(what: &str, name: &str) -> Result<(), ProviderError> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && !name.ends_with('-')
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if ok {
        Ok(())
    } else {
        Err(invalid(format!(
            "{what} `{name}` is not valid: use lower-case letters, digits and `-` \
             (a hostname label, at most 63 characters)"
        )))
    }
}

impl DockerProvider {
    /// Connects to the local engine ([`socket_path`]) and pings it.
    pub async fn connect(cfg: DockerConfig) -> Result<DockerProvider, ProviderError> {
        Self::connect_with_socket(cfg, &socket_path()).await
    }

    /// Connects to the engine on the Unix socket `socket` and pings it.
    pub async fn connect_with_socket(cfg: DockerConfig, socket: &str) -> Result<DockerProvider, ProviderError> {
        check_name("project", &cfg.project)?;
        let subnet: Subnet = cfg.subnet.as_deref().unwrap_or(DEFAULT_SUBNET).parse().map_err(invalid)?;
        let network = cfg.network.clone().unwrap_or_else(|| format!("prov-{}", cfg.project));
        if !std::path::Path::new(socket).exists() {
            return Err(not_running(socket, "the socket does not exist"));
        }
        let docker = Docker::connect_with_socket(socket, 120, bollard::API_DEFAULT_VERSION)
            .map_err(|e| not_running(socket, &e.to_string()))?;
        // An older engine (20.10 speaks API 1.41) refuses a newer client version.
        let docker = docker.negotiate_version().await.map_err(|e| not_running(socket, &e.to_string()))?;
        docker.ping().await.map_err(|e| not_running(socket, &e.to_string()))?;
        let host_cpus =
            docker.info().await.ok().and_then(|i| i.ncpu).filter(|n| *n > 0).map(|n| n as f64).unwrap_or(1.0);
        Ok(DockerProvider {
            docker,
            project: cfg.project,
            network,
            subnet,
            image: cfg.image.unwrap_or_else(|| NODE_IMAGE.to_string()),
            build_image: cfg.build_image,
            host_cpus,
            lock: tokio::sync::Mutex::new(()),
        })
    }

    /// The engine client.
    pub fn docker(&self) -> &Docker {
        &self.docker
    }

    /// The project network's name.
    pub fn network(&self) -> &str {
        &self.network
    }

    /// The project network's subnet.
    pub fn subnet(&self) -> Subnet {
        self.subnet
    }

    /// The container name of VM `name`.
    pub fn container_name(&self, name: &str) -> String {
        format!("{}-{}", self.project, name)
    }

    /// Builds the configured node image (replacing it when it exists).
    pub async fn build_node_image(&self) -> Result<(), ProviderError> {
        image::build_node_image(&self.docker, &self.image).await
    }

    /// The contents of file `path` inside VM `name` (running or stopped).
    pub async fn read_file(&self, name: &str, path: &str) -> Result<Vec<u8>, ProviderError> {
        let cname = self.container_name(name);
        let options = DownloadFromContainerOptionsBuilder::new().path(path).build();
        let mut stream = self.docker.download_from_container(&cname, Some(options));
        let mut tar_bytes = Vec::new();
        while let Some(chunk) = stream.next().await {
            match chunk {
                Ok(b) => tar_bytes.extend_from_slice(&b),
                Err(e) if is_not_found(&e) => return Err(ProviderError::NotFound(format!("{name}:{path}"))),
                Err(e) => return Err(api_error(e)),
            }
        }
        archive::first_file(&tar_bytes)
            .map_err(|e| api(format!("reading {path} of {name}: {e}")))?
            .ok_or_else(|| ProviderError::NotFound(format!("{name}:{path}")))
    }

    async fn inspect(&self, cname: &str) -> Result<Option<ContainerInspectResponse>, ProviderError> {
        match self.docker.inspect_container(cname, None).await {
            Ok(c) => Ok(Some(c)),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(api_error(e)),
        }
    }

    /// The container of VM `name`, if it exists and belongs to the project.
    async fn inspect_vm(&self, name: &str) -> Result<Option<ContainerInspectResponse>, ProviderError> {
        let cname = self.container_name(name);
        let Some(c) = self.inspect(&cname).await? else {
            return Ok(None);
        };
        if container_labels(&c).get(LABEL_PROJECT) != Some(&self.project) {
            return Err(invalid(format!(
                "container `{cname}` exists but is not a VM of project `{}` (no {LABEL_PROJECT} label)",
                self.project
            )));
        }
        Ok(Some(c))
    }

    fn instance(&self, c: &ContainerInspectResponse) -> Instance {
        let labels: Labels = container_labels(c).into_iter().collect();
        let cname = c.name.as_deref().unwrap_or("").trim_start_matches('/');
        let name = labels
            .get(LABEL_NAME)
            .cloned()
            .unwrap_or_else(|| cname.strip_prefix(&format!("{}-", self.project)).unwrap_or(cname).to_string());
        let state = match c.state.as_ref().and_then(|s| s.status) {
            Some(ContainerStateStatusEnum::RUNNING) => InstanceState::Running,
            Some(ContainerStateStatusEnum::CREATED) | Some(ContainerStateStatusEnum::RESTARTING) => {
                InstanceState::Pending
            }
            Some(ContainerStateStatusEnum::EXITED) | Some(ContainerStateStatusEnum::DEAD) => InstanceState::Stopped,
            Some(ContainerStateStatusEnum::REMOVING) => InstanceState::Terminated,
            Some(ContainerStateStatusEnum::STOPPING) => InstanceState::Stopping,
            Some(ContainerStateStatusEnum::PAUSED) => InstanceState::Other("paused".into()),
            Some(ContainerStateStatusEnum::EMPTY) | None => InstanceState::Other("unknown".into()),
        };
        let image = c.config.as_ref().and_then(|cfg| cfg.image.clone());
        let id = c.id.clone().unwrap_or_default();
        Instance {
            name,
            id: id.clone(),
            state,
            machine_type: labels.get(LABEL_MACHINE_TYPE).cloned(),
            private_ip: self.address(c).map(IpAddr::V4),
            public_ip: None,
            details: serde_json::json!({
                "container_id": id,
                "container_name": cname,
                "image": image,
                "image_id": c.image,
                "network": self.network,
                "subnet": self.subnet.to_string(),
                "static_ip": self.static_ip(c).map(|ip| ip.to_string()),
            }),
            image,
            labels,
        }
    }

    fn endpoint<'a>(&self, c: &'a ContainerInspectResponse) -> Option<&'a EndpointSettings> {
        c.network_settings.as_ref()?.networks.as_ref()?.get(&self.network)
    }

    /// The fixed address the container was created with.
    fn static_ip(&self, c: &ContainerInspectResponse) -> Option<Ipv4Addr> {
        self.endpoint(c)?.ipam_config.as_ref()?.ipv4_address.as_deref()?.parse().ok()
    }

    /// The address on the project network: the current one, else the fixed one (a stopped
    /// container has no current address).
    fn address(&self, c: &ContainerInspectResponse) -> Option<Ipv4Addr> {
        self.endpoint(c)
            .and_then(|e| e.ip_address.as_deref())
            .and_then(|ip| ip.parse().ok())
            .or_else(|| self.static_ip(c))
    }

    async fn ensure_network(&self) -> Result<(), ProviderError> {
        match self.docker.inspect_network(&self.network, None).await {
            Ok(net) => {
                let subnets: Vec<String> =
                    net.ipam.and_then(|i| i.config).unwrap_or_default().into_iter().filter_map(|c| c.subnet).collect();
                if subnets.iter().any(|s| *s == self.subnet.to_string()) {
                    Ok(())
                } else {
                    Err(invalid(format!(
                        "network `{}` exists with subnet {}, not {}: remove it \
                         (`docker network rm {}`) or configure its subnet",
                        self.network,
                        subnets.join(", "),
                        self.subnet,
                        self.network
                    )))
                }
            }
            Err(e) if is_not_found(&e) => {
                let request = NetworkCreateRequest {
                    name: self.network.clone(),
                    driver: Some("bridge".into()),
                    ipam: Some(Ipam {
                        driver: Some("default".into()),
                        config: Some(vec![IpamConfig {
                            subnet: Some(self.subnet.to_string()),
                            gateway: Some(self.subnet.gateway().to_string()),
                            ..Default::default()
                        }]),
                        options: None,
                    }),
                    labels: Some(HashMap::from([(LABEL_PROJECT.to_string(), self.project.clone())])),
                    ..Default::default()
                };
                self.docker.create_network(request).await.map_err(|e| match e {
                    DockerError::DockerResponseServerError { message, .. } if message.contains("overlap") => {
                        invalid(format!(
                            "cannot make network `{}` with subnet {}: {}; choose another subnet",
                            self.network,
                            self.subnet,
                            message.trim()
                        ))
                    }
                    other => api_error(other),
                })?;
                Ok(())
            }
            Err(e) => Err(api_error(e)),
        }
    }

    /// Fails when another VM of the project holds (or was created with) `ip`.
    async fn check_ip_free(&self, ip: Ipv4Addr, name: &str) -> Result<(), ProviderError> {
        for other in self.list(&Labels::new()).await? {
            if other.name == name {
                continue;
            }
            let fixed =
                other.details.get("static_ip").and_then(|v| v.as_str()).and_then(|s| s.parse::<Ipv4Addr>().ok());
            if other.private_ip == Some(IpAddr::V4(ip)) || fixed == Some(ip) {
                return Err(invalid(format!(
                    "static_ip {ip} of `{name}` is already used by VM `{}` of project `{}`",
                    other.name, self.project
                )));
            }
        }
        Ok(())
    }

    fn check_static_ip(&self, ip: IpAddr) -> Result<Ipv4Addr, ProviderError> {
        let IpAddr::V4(v4) = ip else {
            return Err(invalid(format!(
                "static_ip {ip} is not an IPv4 address of network `{}` ({})",
                self.network, self.subnet
            )));
        };
        if !self.subnet.contains(v4) {
            return Err(invalid(format!(
                "static_ip {ip} is outside the subnet {} of network `{}`",
                self.subnet, self.network
            )));
        }
        if !self.subnet.is_host(v4) {
            return Err(invalid(format!(
                "static_ip {ip} is the network, gateway or broadcast address of {}; use {} to {}",
                self.subnet,
                self.subnet.first_host(),
                self.subnet.last_host()
            )));
        }
        Ok(v4)
    }

    /// The labels of a new container: the spec's, checked against the project, with
    /// `prov-project`, `prov-name` and `prov-machine-type` set.
    fn labels_for(&self, spec: &InstanceSpec) -> Result<Labels, ProviderError> {
        let mut labels = spec.labels.clone();
        if let Some(p) = labels.get(LABEL_PROJECT) {
            if *p != self.project {
                return Err(invalid(format!(
                    "VM `{}` has label {LABEL_PROJECT}={p}, but this provider is for project `{}`",
                    spec.name, self.project
                )));
            }
        }
        if let Some(n) = labels.get(LABEL_NAME) {
            if *n != spec.name {
                return Err(invalid(format!("VM `{}` has label {LABEL_NAME}={n}", spec.name)));
            }
        }
        labels.insert(LABEL_PROJECT.into(), self.project.clone());
        labels.insert(LABEL_NAME.into(), spec.name.clone());
        if let Some(t) = &spec.machine_type {
            labels.insert(LABEL_MACHINE_TYPE.into(), t.clone());
        }
        Ok(labels)
    }

    /// Why an existing container does not match `spec` (empty when it does).
    async fn differences(
        &self,
        c: &ContainerInspectResponse,
        spec: &InstanceSpec,
        labels: &Labels,
        image: &str,
    ) -> Vec<String> {
        let mut diffs = Vec::new();
        let have = container_labels(c);
        if c.config.as_ref().and_then(|cfg| cfg.image.as_deref()) != Some(image) {
            diffs.push(format!("image is not {image}"));
        }
        for (k, v) in labels {
            if have.get(k) != Some(v) {
                diffs.push(format!("label {k} is {} (wanted {v})", have.get(k).map(String::as_str).unwrap_or("unset")));
            }
        }
        if spec.machine_type.is_none() && have.contains_key(LABEL_MACHINE_TYPE) {
            diffs.push("it has a machine type".into());
        }
        let want_ip = spec.static_ip.and_then(|ip| match ip {
            IpAddr::V4(v) => Some(v),
            IpAddr::V6(_) => None,
        });
        let fixed = self.static_ip(c);
        if want_ip.is_some() && fixed != want_ip {
            diffs.push(format!("static_ip is {}", fixed.map(|i| i.to_string()).unwrap_or_else(|| "dynamic".into())));
        }
        diffs.extend(self.disk_differences(c.mounts.as_deref().unwrap_or_default(), &spec.disks));
        if let Some((_, public)) = &spec.host_key {
            let name = &spec.name;
            let pub_path = "/etc/ssh/ssh_host_ed25519_key.pub";
            match self.read_file(name, pub_path).await {
                Ok(have) if key_words(&String::from_utf8_lossy(&have)) == key_words(public) => {}
                _ => diffs.push("its SSH host key differs".into()),
            }
        }
        diffs
    }

    async fn upload_keys(&self, cname: &str, spec: &InstanceSpec) -> Result<(), ProviderError> {
        let tar = archive::key_archive(spec.host_key.as_ref(), &spec.authorized_keys)
            .map_err(|e| api(format!("cannot pack the keys of {cname}: {e}")))?;
        let options = UploadToContainerOptionsBuilder::new().path("/").build();
        self.docker
            .upload_to_container(cname, Some(options), bollard::body_full(bytes::Bytes::from(tar)))
            .await
            .map_err(api_error)
    }

    async fn logs_tail(&self, cname: &str) -> String {
        let options = LogsOptionsBuilder::new().stdout(true).stderr(true).tail("20").build();
        let mut stream = self.docker.logs(cname, Some(options));
        let mut out = String::new();
        while let Some(Ok(line)) = stream.next().await {
            out.push_str(&line.to_string());
        }
        out
    }

    /// Waits until the container runs and its sshd greets on port 22.
    async fn wait_ready(&self, name: &str) -> Result<Instance, ProviderError> {
        let cname = self.container_name(name);
        let deadline = Instant::now() + SSH_WAIT;
        let mut last;
        loop {
            let c = self.inspect(&cname).await?.ok_or_else(|| ProviderError::NotFound(name.to_string()))?;
            let inst = self.instance(&c);
            match inst.state {
                InstanceState::Running => match inst.private_ip {
                    Some(ip) => match ssh_greets(SocketAddr::new(ip, 22)).await {
                        Ok(()) => return Ok(inst),
                        Err(e) => last = format!("{ip}:22: {e}"),
                    },
                    None => last = format!("no address on network {}", self.network),
                },
                InstanceState::Stopped => {
                    let code = c.state.as_ref().and_then(|s| s.exit_code).unwrap_or(-1);
                    return Err(api(format!(
                        "VM `{name}` stopped (exit code {code}) instead of running sshd; \
                         last output:\n{}",
                        self.logs_tail(&cname).await
                    )));
                }
                ref other => last = format!("state {}", other.as_str()),
            }
            if Instant::now() >= deadline {
                return Err(api(format!(
                    "sshd of VM `{name}` did not answer within {} s ({last}); last output:\n{}",
                    SSH_WAIT.as_secs(),
                    self.logs_tail(&cname).await
                )));
            }
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
    }

    fn container_body(
        &self,
        spec: &InstanceSpec,
        labels: &Labels,
        image: &str,
        ip: Option<Ipv4Addr>,
        mounts: Vec<bollard::models::Mount>,
    ) -> Result<ContainerCreateBody, ProviderError> {
        let shape = spec.machine_type.as_deref().map(machine::shape).transpose().map_err(invalid)?;
        let host_config = HostConfig {
            cap_add: Some(vec!["ALL".into()]),
            cap_drop: Some(vec!["SYS_RESOURCE".into()]),
            security_opt: Some(vec!["seccomp=unconfined".into(), "apparmor=unconfined".into()]),
            tmpfs: Some(HashMap::from([("/run".to_string(), String::new()), ("/tmp".to_string(), String::new())])),
            restart_policy: Some(RestartPolicy { name: Some(RestartPolicyNameEnum::NO), maximum_retry_count: None }),
            network_mode: Some(self.network.clone()),
            // The engine refuses more CPUs than the host has.
            nano_cpus: shape.map(|s| (s.cpus.min(self.host_cpus) * 1e9) as i64),
            memory: shape.map(|s| (s.memory_mib * 1024 * 1024) as i64),
            mounts: Some(mounts).filter(|m| !m.is_empty()),
            ..Default::default()
        };
        let endpoint = EndpointSettings {
            ipam_config: ip.map(|ip| EndpointIpamConfig { ipv4_address: Some(ip.to_string()), ..Default::default() }),
            ..Default::default()
        };
        Ok(ContainerCreateBody {
            hostname: Some(spec.name.clone()),
            image: Some(image.to_string()),
            cmd: Some(image::NODE_CMD.iter().map(|s| s.to_string()).collect()),
            labels: Some(labels.clone().into_iter().collect()),
            volumes: Some(vec!["/var/lib/docker".into()]),
            stop_signal: Some("SIGTERM".into()),
            host_config: Some(host_config),
            networking_config: Some(NetworkingConfig {
                endpoints_config: Some(HashMap::from([(self.network.clone(), endpoint)])),
            }),
            ..Default::default()
        })
    }

    /// Makes sure `image` exists: the node image may be built, any other must be there.
    async fn ensure_image(&self, image: &str) -> Result<(), ProviderError> {
        if image == self.image || image == NODE_IMAGE {
            return ensure_node_image(&self.docker, image, self.build_image).await;
        }
        if image::image_exists(&self.docker, image).await? {
            Ok(())
        } else {
            Err(invalid(format!(
                "image {image} is missing in the Docker Engine (`docker image ls`); \
                 prov does not pull images"
            )))
        }
    }
}

/// The key type and base64 of an OpenSSH public key line.
fn key_words(line: &str) -> Vec<String> {
    line.split_whitespace().take(2).map(str::to_string).collect()
}

fn container_labels(c: &ContainerInspectResponse) -> HashMap<String, String> {
    c.config.as_ref().and_then(|cfg| cfg.labels.clone()).unwrap_or_default()
}

/// Connects to `addr` and reads the SSH identification string.
async fn ssh_greets(addr: SocketAddr) -> Result<(), String> {
    let io = async {
        let mut s = tokio::net::TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
        let mut buf = [0u8; 4];
        s.read_exact(&mut buf).await.map_err(|e| e.to_string())?;
        if &buf == b"SSH-" {
            Ok(())
        } else {
            Err("no SSH greeting".to_string())
        }
    };
    tokio::time::timeout(Duration::from_secs(3), io).await.map_err(|_| "no answer in 3 s".to_string())?
}

#[async_trait]
impl Provider for DockerProvider {
    fn name(&self) -> &'static str {
        PROVIDER
    }

    async fn list(&self, selector: &Labels) -> Result<Vec<Instance>, ProviderError> {
        let mut wanted = vec![format!("{LABEL_PROJECT}={}", self.project)];
        wanted.extend(selector.iter().map(|(k, v)| format!("{k}={v}")));
        let filters = HashMap::from([("label".to_string(), wanted)]);
        let options = ListContainersOptionsBuilder::new().all(true).filters(&filters).build();
        let summaries = self.docker.list_containers(Some(options)).await.map_err(api_error)?;
        let mut out = Vec::new();
        for s in summaries {
            let Some(id) = s.id else { continue };
            // Gone between the list and now: not an instance any more.
            if let Some(c) = self.inspect(&id).await? {
                out.push(self.instance(&c));
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    async fn get(&self, name: &str) -> Result<Option<Instance>, ProviderError> {
        Ok(self.inspect_vm(name).await?.map(|c| self.instance(&c)))
    }

    async fn create(&self, spec: &InstanceSpec) -> Result<Instance, ProviderError> {
        check_name("VM name", &spec.name)?;
        let labels = self.labels_for(spec)?;
        let ip = spec.static_ip.map(|ip| self.check_static_ip(ip)).transpose()?;
        let image = spec.image.clone().unwrap_or_else(|| self.image.clone());
        let cname = self.container_name(&spec.name);
        // Checks the machine type and the disks before anything is made.
        let mounts = self.disk_mounts(&spec.name, &spec.disks).await?;
        let body = self.container_body(spec, &labels, &image, ip, mounts)?;
        {
            let _guard = self.lock.lock().await;
            if let Some(c) = self.inspect_vm(&spec.name).await? {
                let diffs = self.differences(&c, spec, &labels, &image).await;
                if !diffs.is_empty() {
                    return Err(invalid(format!(
                        "VM `{}` already exists and differs: {}; delete it first",
                        spec.name,
                        diffs.join("; ")
                    )));
                }
                drop(_guard);
                return self.start(&spec.name).await;
            }
            self.ensure_image(&image).await?;
            self.ensure_network().await?;
            if let Some(ip) = ip {
                self.check_ip_free(ip, &spec.name).await?;
            }
            let options = CreateContainerOptionsBuilder::new().name(&cname).build();
            self.docker.create_container(Some(options), body).await.map_err(|e| {
                if is_status(&e, 409) {
                    invalid(format!("container `{cname}` was created by someone else meanwhile"))
                } else {
                    api_error(e)
                }
            })?;
        }
        let started = async {
            self.upload_keys(&cname, spec).await?;
            self.docker.start_container(&cname, None).await.map_err(api_error)
        }
        .await;
        if let Err(e) = started {
            // Leave nothing half made: a retry starts from scratch.
            let _ = self.delete(&spec.name).await;
            return Err(e);
        }
        self.wait_ready(&spec.name).await
    }

    async fn delete(&self, name: &str) -> Result<(), ProviderError> {
        if self.inspect_vm(name).await?.is_none() {
            return Ok(());
        }
        let options = RemoveContainerOptionsBuilder::new().force(true).v(true).build();
        // The VM's anonymous /var/lib/docker volume goes with it: with a stack's images loaded
        // that is gigabytes of files, which a busy disk takes longer to delete than the
        // client's 120 s (the reference job's 8 VMs timed out with the seed's image).
        let slow = self.docker.clone().with_timeout(REMOVE_TIMEOUT);
        match slow.remove_container(&self.container_name(name), Some(options)).await {
            Ok(()) => Ok(()),
            Err(e) if is_not_found(&e) || is_status(&e, 409) => Ok(()),
            Err(e) => Err(api_error(e)),
        }
    }

    async fn start(&self, name: &str) -> Result<Instance, ProviderError> {
        let c = self.inspect_vm(name).await?.ok_or_else(|| ProviderError::NotFound(name.to_string()))?;
        let cname = self.container_name(name);
        match c.state.as_ref().and_then(|s| s.status) {
            Some(ContainerStateStatusEnum::RUNNING) => {}
            Some(ContainerStateStatusEnum::PAUSED) => {
                self.docker.unpause_container(&cname).await.map_err(api_error)?;
            }
            _ => {
                // 304 (already started) counts as success.
                self.docker.start_container(&cname, None).await.map_err(api_error)?;
            }
        }
        self.wait_ready(name).await
    }

    async fn stop(&self, name: &str) -> Result<Instance, ProviderError> {
        let cname = self.container_name(name);
        if self.inspect_vm(name).await?.is_none() {
            return Err(ProviderError::NotFound(name.to_string()));
        }
        let options = StopContainerOptionsBuilder::new().t(10).build();
        // 304 (already stopped) counts as success.
        self.docker.stop_container(&cname, Some(options)).await.map_err(api_error)?;
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let c = self.inspect(&cname).await?.ok_or_else(|| ProviderError::NotFound(name.to_string()))?;
            let inst = self.instance(&c);
            if inst.state == InstanceState::Stopped || Instant::now() >= deadline {
                return Ok(inst);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

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

    fn attaches_to_existing(&self) -> bool {
        false
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

    /// Removes the project network once no container of the project is left (and only
    /// when prov made it: it carries the `prov-project` label).
    async fn cleanup(&self) -> Result<(), ProviderError> {
        let _guard = self.lock.lock().await;
        if !self.list(&Labels::new()).await?.is_empty() {
            return Ok(());
        }
        let net = match self.docker.inspect_network(&self.network, None).await {
            Ok(n) => n,
            Err(e) if is_not_found(&e) => return Ok(()),
            Err(e) => return Err(api_error(e)),
        };
        let ours = net.labels.as_ref().and_then(|l| l.get(LABEL_PROJECT)).is_some_and(|p| *p == self.project);
        if !ours {
            return Ok(());
        }
        match self.docker.remove_network(&self.network).await {
            Ok(()) => Ok(()),
            Err(e) if is_not_found(&e) => Ok(()),
            Err(e) => Err(api_error(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(check_name("VM name", "web-1").is_ok());
        assert!(check_name("VM name", "Web").is_err());
        assert!(check_name("VM name", "-a").is_err());
        assert!(check_name("VM name", "a_b").is_err());
        assert!(check_name("VM name", "").is_err());
    }

    #[tokio::test]
    async fn engine_not_running_says_how_to_start_it() {
        let cfg = DockerConfig { project: "p".into(), ..Default::default() };
        let e =
            DockerProvider::connect_with_socket(cfg, "/nonexistent/docker.sock").await.expect_err("no engine there");
        let text = e.to_string();
        assert!(matches!(e, ProviderError::Unavailable { .. }), "{text}");
        assert!(text.contains("service docker start"), "{text}");
        assert!(text.contains("apt-get install -y docker.io"), "{text}");
    }
}
