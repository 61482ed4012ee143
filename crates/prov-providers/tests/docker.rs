//! The docker provider against the local Docker Engine: builds the node image when it is
//! missing (debootstrap, a few minutes, once), then makes, inspects, stops, starts and
//! deletes real VMs. Needs root, a running dockerd, debootstrap and the OpenSSH client.

use prov_providers::docker::{DockerConfig, DockerProvider, NODE_IMAGE};
use prov_providers::{
    InstanceSpec, InstanceState, Labels, Provider, ProviderError, LABEL_GROUP, LABEL_NAME, LABEL_PROJECT,
};
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::process::Command;
use std::time::Instant;

/// Removes the test project's containers (with volumes) and network, whatever happened.
struct Cleanup {
    project: String,
    network: String,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let ids = Command::new("docker")
            .args(["ps", "-aq", "--filter"])
            .arg(format!("label={LABEL_PROJECT}={}", self.project))
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        for id in ids.split_whitespace() {
            let _ = Command::new("docker").args(["rm", "-f", "-v", id]).output();
        }
        let _ = Command::new("docker").args(["network", "rm", &self.network]).output();
    }
}

/// A test project of its own: name and subnet from the process id and a tag.
fn project(tag: u32) -> (DockerConfig, Cleanup) {
    let pid = std::process::id();
    let project = format!("provtest-{pid}-{tag}");
    let cfg = DockerConfig {
        project: project.clone(),
        network: None,
        subnet: Some(format!("10.214.{}.0/24", (pid * 4 + tag) % 250)),
        image: None,
        build_image: true,
    };
    let guard = Cleanup { network: format!("prov-{project}"), project };
    (cfg, guard)
}

fn keygen(dir: &Path, name: &str) -> (String, String) {
    let path = dir.join(name);
    let out = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", name, "-f"])
        .arg(&path)
        .output()
        .expect("ssh-keygen (apt-get install -y openssh-client)");
    assert!(out.status.success(), "{out:?}");
    let private = std::fs::read_to_string(&path).expect("private key");
    let public = std::fs::read_to_string(path.with_extension("pub")).expect("public key");
    (private, public.trim().to_string())
}

fn spec(cfg: &DockerConfig, name: &str, group: &str, ip: Option<IpAddr>) -> InstanceSpec {
    let labels: Labels = [(LABEL_PROJECT, cfg.project.as_str()), (LABEL_GROUP, group), (LABEL_NAME, name)]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    InstanceSpec {
        name: name.to_string(),
        labels,
        machine_type: Some("e2-small".into()),
        image: None,
        static_ip: ip,
        authorized_keys: Vec::new(),
        host_key: None,
        disks: Vec::new(),
    }
}

fn ip(cfg: &DockerConfig, last: u8) -> IpAddr {
    let subnet = cfg.subnet.as_deref().expect("subnet");
    let prefix = subnet.rsplit_once(".0/").expect("x.y.z.0/n").0;
    format!("{prefix}.{last}").parse().expect("ip")
}

/// Logs in with the OpenSSH client, checking the host key against known_hosts.
fn ssh(dir: &Path, ip: IpAddr, command: &str) -> String {
    let out = Command::new("ssh")
        .args(["-F", "/dev/null", "-i"])
        .arg(dir.join("client"))
        .args(["-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes"])
        .args(["-o", "StrictHostKeyChecking=yes", "-o", "ConnectTimeout=5"])
        .arg("-o")
        .arg(format!("UserKnownHostsFile={}", dir.join("known_hosts").display()))
        .arg(format!("root@{ip}"))
        .arg(command)
        .output()
        .expect("ssh");
    assert!(out.status.success(), "ssh root@{ip} {command}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vms_live_and_die() {
    let (cfg, _cleanup) = project(0);
    let p = DockerProvider::connect(cfg.clone()).await.expect("engine");
    let tmp = tempfile::tempdir().expect("tmp");
    let (_, client_pub) = keygen(tmp.path(), "client");
    let mut specs = Vec::new();
    let mut known_hosts = String::new();
    for (name, group, last) in [("web1", "web", 10), ("db1", "db", 11)] {
        let mut s = spec(&cfg, name, group, Some(ip(&cfg, last)));
        s.host_key = Some(keygen(tmp.path(), &format!("host-{name}")));
        s.authorized_keys = vec![client_pub.clone()];
        known_hosts.push_str(&format!("{} {}\n", ip(&cfg, last), s.host_key.as_ref().expect("key").1));
        specs.push(s);
    }
    std::fs::write(tmp.path().join("known_hosts"), known_hosts).expect("known_hosts");

    // The first create may build the image; time the second separately.
    let t = Instant::now();
    let web = p.create(&specs[0]).await.expect("create web1");
    eprintln!("create web1 (image {NODE_IMAGE} ready): {:?}", t.elapsed());
    let t = Instant::now();
    let db = p.create(&specs[1]).await.expect("create db1");
    eprintln!("create db1: {:?}", t.elapsed());

    assert_eq!(web.state, InstanceState::Running);
    assert_eq!(web.private_ip, Some(ip(&cfg, 10)));
    assert_eq!(db.private_ip, Some(ip(&cfg, 11)));
    assert_eq!(web.machine_type.as_deref(), Some("e2-small"));
    assert_eq!(web.image.as_deref(), Some(NODE_IMAGE));
    assert_eq!(web.labels.get("prov-machine-type").map(String::as_str), Some("e2-small"));
    assert_eq!(web.details["network"], format!("prov-{}", cfg.project));

    // Container settings: no --privileged, but all capabilities a nested dockerd needs.
    let c = p.docker().inspect_container(&p.container_name("web1"), None).await.expect("inspect");
    let hc = c.host_config.clone().expect("host config");
    assert_eq!(hc.cap_add, Some(vec!["ALL".to_string()]));
    assert_eq!(hc.cap_drop, Some(vec!["SYS_RESOURCE".to_string()]));
    assert_eq!(hc.privileged, Some(false));
    assert_eq!(hc.nano_cpus, Some(500_000_000));
    assert_eq!(hc.memory, Some(2048 * 1024 * 1024));
    let mut tmpfs: Vec<String> = hc.tmpfs.clone().unwrap_or_default().into_keys().collect();
    tmpfs.sort();
    assert_eq!(tmpfs, ["/run", "/tmp"]);
    assert!(hc.port_bindings.unwrap_or_default().is_empty(), "no published port");
    let volume = c
        .mounts
        .unwrap_or_default()
        .into_iter()
        .find(|m| m.destination.as_deref() == Some("/var/lib/docker"))
        .and_then(|m| m.name)
        .expect("an anonymous volume on /var/lib/docker");

    // Selected by group.
    let by_group: Labels = [(LABEL_GROUP.to_string(), "db".to_string())].into();
    let dbs = p.list(&by_group).await.expect("list");
    assert_eq!(dbs.len(), 1);
    assert_eq!(dbs[0].name, "db1");
    assert_eq!(dbs[0].private_ip, Some(ip(&cfg, 11)));
    let all = p.list(&Labels::new()).await.expect("list all");
    let names: Vec<&str> = all.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(names, ["db1", "web1"]);

    // sshd answers, with the given host key, and lets the client key in as root.
    for (inst, s) in [(&web, &specs[0]), (&db, &specs[1])] {
        let ip = inst.private_ip.expect("ip");
        tokio::net::TcpStream::connect(SocketAddr::new(ip, 22)).await.expect("sshd");
        let key = p.read_file(&s.name, "/etc/ssh/ssh_host_ed25519_key").await.expect("host key");
        let given = &s.host_key.as_ref().expect("key").0;
        assert_eq!(String::from_utf8_lossy(&key).trim(), given.trim());
        let out = ssh(
            tmp.path(),
            ip,
            "hostname; id -u; stat -c %a /root/.ssh /root/.ssh/authorized_keys /etc/ssh/ssh_host_ed25519_key",
        );
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines, [s.name.as_str(), "0", "700", "600", "600"]);
    }
    // The VMs see each other on the project network.
    let ping = ssh(tmp.path(), ip(&cfg, 10), &format!("ping -c1 -W2 {} >/dev/null && echo ok", ip(&cfg, 11)));
    assert_eq!(ping.trim(), "ok");

    // Creating again the same VM is fine; a different one under the same name is not.
    let again = p.create(&specs[0]).await.expect("create again");
    assert_eq!(again.id, web.id);
    let mut other = specs[0].clone();
    other.static_ip = Some(ip(&cfg, 20));
    let e = p.create(&other).await.expect_err("differs");
    assert!(e.to_string().contains("static_ip"), "{e}");
    // A second VM with a taken address.
    let mut dup = spec(&cfg, "web2", "web", Some(ip(&cfg, 11)));
    dup.authorized_keys = vec![client_pub.clone()];
    let e = p.create(&dup).await.expect_err("duplicate address");
    assert!(matches!(e, ProviderError::Invalid(_)), "{e}");
    assert!(e.to_string().contains("already used by VM `db1`"), "{e}");
    assert!(p.get("web2").await.expect("get").is_none());

    // Stop, stop again, start, start again.
    let t = Instant::now();
    let stopped = p.stop("web1").await.expect("stop");
    eprintln!("stop web1: {:?}", t.elapsed());
    assert_eq!(stopped.state, InstanceState::Stopped);
    assert_eq!(stopped.private_ip, Some(ip(&cfg, 10)), "the fixed address");
    assert_eq!(p.stop("web1").await.expect("stop again").state, InstanceState::Stopped);
    // The address of a stopped VM stays taken.
    let mut dup = spec(&cfg, "web3", "web", Some(ip(&cfg, 10)));
    dup.machine_type = None;
    let e = p.create(&dup).await.expect_err("taken by a stopped VM");
    assert!(e.to_string().contains("already used by VM `web1`"), "{e}");
    let t = Instant::now();
    let started = p.start("web1").await.expect("start");
    eprintln!("start web1: {:?}", t.elapsed());
    assert_eq!(started.state, InstanceState::Running);
    assert_eq!(started.private_ip, Some(ip(&cfg, 10)));
    assert_eq!(p.start("web1").await.expect("start again").state, InstanceState::Running);
    assert_eq!(ssh(tmp.path(), ip(&cfg, 10), "hostname").trim(), "web1");

    // A VM without given keys makes its own host key.
    let plain = spec(&cfg, "plain", "misc", None);
    let plain = p.create(&plain).await.expect("create plain");
    assert_eq!(plain.state, InstanceState::Running);
    let plain_ip = plain.private_ip.expect("dynamic address");
    assert!(![ip(&cfg, 10), ip(&cfg, 11)].contains(&plain_ip));

    // Delete; the network stays until cleanup.
    for name in ["web1", "db1", "plain"] {
        p.delete(name).await.expect("delete");
        assert!(p.get(name).await.expect("get").is_none());
    }
    p.delete("web1").await.expect("delete a missing VM");
    let volume_left = Command::new("docker")
        .args(["volume", "inspect", &volume])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(true);
    assert!(!volume_left, "delete removes the /var/lib/docker volume");
    assert!(matches!(p.start("web1").await, Err(ProviderError::NotFound(_))));
    assert!(p.list(&Labels::new()).await.expect("list").is_empty());
    let network = format!("prov-{}", cfg.project);
    assert!(network_exists(&network));
    p.cleanup().await.expect("cleanup");
    assert!(!network_exists(&network));
    p.cleanup().await.expect("cleanup again");
}

fn network_exists(name: &str) -> bool {
    Command::new("docker").args(["network", "inspect", name]).output().map(|o| o.status.success()).unwrap_or(false)
}

#[tokio::test]
async fn bad_input_is_refused_before_anything_is_made() {
    let (cfg, _cleanup) = project(1);
    let p = DockerProvider::connect(cfg.clone()).await.expect("engine");

    let outside = spec(&cfg, "a", "g", Some("192.168.77.5".parse().expect("ip")));
    let e = p.create(&outside).await.expect_err("outside");
    assert!(matches!(e, ProviderError::Invalid(_)), "{e}");
    let subnet = cfg.subnet.clone().expect("subnet");
    assert!(e.to_string().contains(&subnet), "{e}");

    let gateway = spec(&cfg, "a", "g", Some(ip(&cfg, 1)));
    let e = p.create(&gateway).await.expect_err("gateway");
    assert!(e.to_string().contains("gateway"), "{e}");

    let mut typo = spec(&cfg, "a", "g", None);
    typo.machine_type = Some("e2-smal".into());
    let e = p.create(&typo).await.expect_err("unknown type");
    assert!(matches!(e, ProviderError::Invalid(_)), "{e}");
    assert!(e.to_string().contains("did you mean `e2-small`?"), "{e}");

    let mut wrong_project = spec(&cfg, "a", "g", None);
    wrong_project.labels.insert(LABEL_PROJECT.into(), "someone-else".into());
    assert!(p.create(&wrong_project).await.is_err());

    let bad_name = spec(&cfg, "Bad_Name", "g", None);
    assert!(p.create(&bad_name).await.is_err());

    let mut missing_image = spec(&cfg, "a", "g", None);
    missing_image.image = Some("prov-no-such-image:1".into());
    let e = p.create(&missing_image).await.expect_err("no image");
    assert!(e.to_string().contains("missing"), "{e}");

    // Nothing was made.
    assert!(p.list(&Labels::new()).await.expect("list").is_empty());
    assert!(!network_exists(&format!("prov-{}", cfg.project)));
    p.cleanup().await.expect("cleanup with nothing");
}

#[tokio::test]
async fn missing_node_image_says_how_to_build_it() {
    let (mut cfg, _cleanup) = project(2);
    cfg.image = Some("prov-node:not-built".into());
    cfg.build_image = false;
    let p = DockerProvider::connect(cfg.clone()).await.expect("engine");
    let e = p.create(&spec(&cfg, "a", "g", None)).await.expect_err("missing image");
    assert!(e.to_string().contains("prov image build"), "{e}");
}

/// Builds the node image from scratch under another name (debootstrap; about a minute with
/// a near mirror) and removes it. `cargo test -p prov-providers -- --ignored` runs it; the
/// test above builds the default image only when it is missing.
#[tokio::test]
#[ignore]
async fn node_image_builds_from_scratch() {
    let image = format!("prov-node:test-{}", std::process::id());
    let docker = DockerProvider::connect(DockerConfig { project: "provtest-image".into(), ..Default::default() })
        .await
        .expect("engine");
    let t = Instant::now();
    prov_providers::docker::build_node_image(docker.docker(), &image).await.expect("build");
    eprintln!("node image build: {:?}", t.elapsed());
    let inspect = docker.docker().inspect_image(&image).await.expect("built");
    let _ = Command::new("docker").args(["rmi", &image]).output();
    let config = inspect.config.expect("config");
    assert_eq!(config.cmd.expect("cmd"), prov_providers::docker::image::NODE_CMD.map(String::from));
    let size = inspect.size.unwrap_or(0);
    eprintln!("node image size: {} MB", size / 1_000_000);
    assert!(size < 400_000_000, "{size}");
}
