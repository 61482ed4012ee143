//! The aws provider end to end: the real prov binary creates, lists, stops, starts and
//! deletes the reference VMs through `roles/manage-vms` against moto's EC2 (each test its
//! own moto on a free loopback port). boto3 checks what exists, independently of prov.

use crate::moto::{FaultProxy, Moto};
use crate::util::{changed_items, copy_tree, json_events, recap_changed, repo, text};
use serde_json::Value as Json;
use std::process::{Command, Output};

/// A copy of the reference content with `inventories/aws.yml` pointed at an endpoint.
struct AwsSite {
    dir: tempfile::TempDir,
    state: tempfile::TempDir,
    project: String,
}

const NAMES: &[&str] = &["manager1", "manager2", "manager3", "monitor", "worker1", "worker2", "worker3", "worker4"];

impl AwsSite {
    fn new(tag: &str, endpoint: &str) -> AwsSite {
        let dir = tempfile::tempdir().expect("tempdir");
        let state = tempfile::tempdir().expect("state dir");
        for d in ["playbooks", "roles", "scripts", "inventories"] {
            copy_tree(&repo().join(d), &dir.path().join(d));
        }
        let project = format!("provtest-aws-{tag}-{}", std::process::id());
        // The repository's file with this test's project and endpoint, and an image (moto
        // has no Debian AMI to find).
        let inv = std::fs::read_to_string(repo().join("inventories/aws.yml")).expect("inventories/aws.yml");
        let inv = inv
            .replace("project: prov-aws", &format!("project: {project}\nendpoint: {endpoint}\nimage: ami-12c6146b"))
            .replace("  - eu-west-1", "  - us-east-1");
        std::fs::write(dir.path().join("inventories/aws.yml"), inv).expect("inventory");
        AwsSite { dir, state, project }
    }

    fn prov(&self, args: &[&str]) -> Output {
        let mut c = Command::new(env!("CARGO_BIN_EXE_prov"));
        c.args(args).current_dir(self.dir.path()).env("NO_COLOR", "1").env("PROV_STATE_DIR", self.state.path());
        c.env_remove("PROV_INVENTORY").env_remove("PROV_KNOWN_HOSTS");
        // No wait for host keys on moto's fixed console text.
        crate::moto::test_credentials(&mut c);
        c.env("PROV_AWS_HOST_KEY_WAIT", "0")
            // 8 VMs (8 reservations: moto pages by reservation) take two pages.
            .env("PROV_AWS_PAGE_SIZE", "5");
        c.output().expect("prov runs")
    }

    fn apply(&self, tags: &str) -> (i32, Vec<Json>, String) {
        let out = self.prov(&[
            "apply",
            "playbooks/site.yml",
            "-i",
            "inventories/aws.yml",
            "--output",
            "json",
            "--tags",
            tags,
        ]);
        json_events(&out)
    }

    fn host_vars(&self, host: &str) -> Json {
        let out = self.prov(&["inventory", "-i", "inventories/aws.yml", "--host", host]);
        let (o, e) = text(&out);
        assert_eq!(out.status.code(), Some(0), "{o}\n{e}");
        serde_json::from_str(&o).expect("host vars as JSON")
    }
}

fn states(moto: &Moto, project: &str) -> Vec<(String, String)> {
    moto.instances(project).into_iter().map(|(n, s, _)| (n, s)).collect()
}

fn all(state: &str) -> Vec<(String, String)> {
    NAMES.iter().map(|n| (n.to_string(), state.to_string())).collect()
}

#[test]
fn aws_reference_vms_plan_create_inventory_stop_start_delete() {
    let moto = Moto::start();
    let site = AwsSite::new("life", &moto.endpoint());
    let p = site.project.as_str();

    let out = site.prov(&["plan", "playbooks/site.yml", "-i", "inventories/aws.yml", "--tags", "create-vms"]);
    let (o, e) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{o}\n{e}");
    assert!(o.contains("+1 disk") && o.contains("+8 vm"), "plan summary:\n{o}");
    assert!(moto.instances(p).is_empty(), "plan created something");
    assert!(moto.disks(p).is_empty(), "plan created a volume");

    // Create the 8 reference VMs (one loop: at once); the monitor and the managers get an
    // Elastic IP (`static_ip: true` in the shipped VM list), the workers none.
    let (code, ev, out) = site.apply("create-vms");
    assert_eq!(code, 0, "{out}");
    assert_eq!(changed_items(&ev, "create VMs"), 8, "{out}");
    assert_eq!(states(&moto, p), all("running"));
    // The shared disk: an EBS volume made first, attached to the monitor as /dev/sdf.
    assert_eq!(changed_items(&ev, "create disks"), 1, "{out}");
    assert_eq!(moto.disks(p), vec![("nfs".into(), 10, "in-use".into(), vec!["monitor:/dev/sdf".into()])]);
    let eips = moto.addresses(p);
    let mut with_eip: Vec<&str> = eips.iter().map(|(n, _, _)| n.as_str()).collect();
    with_eip.sort();
    assert_eq!(with_eip, ["manager1", "manager2", "manager3", "monitor"], "{eips:?}");
    let instances = moto.instances(p);
    for (name, ip, instance) in &eips {
        assert_ne!(instance, "-", "Elastic IP {ip} of {name} is not associated");
        let (_, _, public) = instances.iter().find(|(n, _, _)| n == name).expect("its instance");
        assert_eq!(public, ip, "{name} is not reached on its Elastic IP");
    }
    assert_eq!(moto.security_groups(p), 1);
    let (code, ev, out) = site.apply("create-vms");
    assert_eq!((code, recap_changed(&ev)), (0, 0), "second create changed something:\n{out}");

    // Groups from the prov-group tag.
    let out = site.prov(&["inventory", "-i", "inventories/aws.yml", "--graph"]);
    let (g, e) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{e}");
    for want in ["@managers:", "|--manager3", "@monitor:", "|--monitor", "@workers:", "|--worker4"] {
        assert!(g.contains(want), "{want} missing in:\n{g}");
    }
    let m = site.host_vars("manager1");
    let (_, eip, _) = eips.iter().find(|(n, _, _)| n == "manager1").expect("manager1's address");
    assert_eq!(m["ansible_host"], eip.as_str(), "the public address is the one to reach: {m:#}");
    assert_eq!(m["public_ip"], eip.as_str());
    let v = site.host_vars("worker1");
    let reach = if v["public_ip"].is_string() { &v["public_ip"] } else { &v["private_ip"] };
    assert_eq!(&v["ansible_host"], reach, "the public address when there is one: {v:#}");
    assert!(v["private_ip"].as_str().is_some_and(|a| a.parse::<std::net::Ipv4Addr>().is_ok()), "{v:#}");
    assert_eq!(v["labels"]["prov-group"], "workers");
    assert_eq!(v["tags"]["Name"], "worker1");
    assert_eq!(v["instance_type"], "t3.small", "e2-small maps to t3.small");
    assert_eq!(v["placement"]["region"], "us-east-1");
    // moto's console shows no host keys: accept-new, pinned to the instance id.
    assert!(v["prov_host_key_alias"].as_str().is_some_and(|a| a.starts_with("i-")), "{v:#}");
    assert_eq!(v["prov_host_key_alias"], v["prov_id"]);
    assert_eq!(v["prov_host_key_checking"], "accept-new");

    // Stop and start: the Elastic IPs stay.
    let (code, ev, out) = site.apply("stop-vms");
    assert_eq!((code, changed_items(&ev, "stop VMs")), (0, 8), "{out}");
    assert_eq!(states(&moto, p), all("stopped"));
    let (code, ev, out) = site.apply("stop-vms");
    assert_eq!((code, recap_changed(&ev)), (0, 0), "{out}");
    let (code, ev, out) = site.apply("start-vms");
    assert_eq!((code, changed_items(&ev, "start VMs")), (0, 8), "{out}");
    assert_eq!(states(&moto, p), all("running"));
    let (code, ev, out) = site.apply("start-vms");
    assert_eq!((code, recap_changed(&ev)), (0, 0), "{out}");
    assert_eq!(moto.addresses(p), eips, "the Elastic IPs changed over stop/start");

    // Delete: instances terminated, addresses released, the security group gone.
    let (code, ev, out) = site.apply("delete-vms");
    assert_eq!((code, changed_items(&ev, "delete VMs")), (0, 8), "{out}");
    assert!(moto.instances(p).is_empty(), "{:?}", moto.instances(p));
    assert!(moto.addresses(p).is_empty(), "Elastic IPs left: {:?}", moto.addresses(p));
    assert_eq!(moto.security_groups(p), 0, "the security group is left");
    assert_eq!(changed_items(&ev, "delete disks"), 1, "{out}");
    assert!(moto.disks(p).is_empty(), "volumes left: {:?}", moto.disks(p));
    let (code, ev, out) = site.apply("delete-vms");
    assert_eq!((code, recap_changed(&ev)), (0, 0), "{out}");
}

/// AWS's answer when an account's vCPU quota for a family is used up.
const QUOTA: &str = "You have requested more vCPU capacity than your current vCPU limit of 14 allows for \
                     the instance bucket that the specified instance type belongs to. Please visit \
                     http://aws.amazon.com/contact-us/ec2-request to request an adjustment to this limit.";

#[test]
fn aws_quota_error_on_one_vm_fails_it_alone_and_a_rerun_converges() {
    let moto = Moto::start();
    let proxy = FaultProxy::start(moto.port);
    let site = AwsSite::new("quota", &proxy.endpoint());
    let p = site.project.as_str();
    proxy.faults.lock().expect("faults").run_instances =
        Some(("manager2".into(), "VcpuLimitExceeded".into(), QUOTA.into()));

    let (code, ev, out) = site.apply("create-vms");
    assert_eq!(code, 2, "{out}");
    assert_eq!(changed_items(&ev, "create VMs"), 7, "{out}");
    assert!(
        out.contains("cannot create VM `manager2`: VcpuLimitExceeded: You have requested more vCPU capacity"),
        "{out}"
    );
    let made: Vec<String> = moto.instances(p).into_iter().map(|(n, _, _)| n).collect();
    assert_eq!(made, NAMES.iter().filter(|n| **n != "manager2").map(|n| n.to_string()).collect::<Vec<_>>());
    // manager2's Elastic IP was allocated first and released when its instance was refused.
    let eips = moto.addresses(p);
    assert_eq!(eips.len(), 3, "{eips:?}");
    assert!(eips.iter().all(|(n, _, i)| n != "manager2" && i != "-"), "{eips:?}");

    // Quota raised: the rerun makes manager2 only.
    proxy.faults.lock().expect("faults").run_instances = None;
    let (code, ev, out) = site.apply("create-vms");
    assert_eq!(code, 0, "{out}");
    assert_eq!(changed_items(&ev, "create VMs"), 1, "{out}");
    assert_eq!(states(&moto, p), all("running"));
    assert_eq!(moto.addresses(p).len(), 4);

    // Throttled listing calls are retried with backoff.
    proxy.faults.lock().expect("faults").throttle = Some(("DescribeInstances".into(), 4));
    let before = proxy.injected.load(std::sync::atomic::Ordering::SeqCst);
    let out = site.prov(&["inventory", "-i", "inventories/aws.yml", "--graph"]);
    let (g, e) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{g}\n{e}");
    assert!(g.contains("|--manager2"), "{g}");
    assert_eq!(proxy.injected.load(std::sync::atomic::Ordering::SeqCst) - before, 4, "the throttling was not hit");

    let (code, _, out) = site.apply("delete-vms");
    assert_eq!(code, 0, "{out}");
    assert!(moto.instances(p).is_empty() && moto.addresses(p).is_empty(), "left behind");
}

#[test]
fn aws_without_endpoint_answer_says_what_to_check() {
    // A closed port: no answer at all.
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let site = AwsSite::new("down", &format!("http://127.0.0.1:{port}"));
    let out = site.prov(&["inventory", "-i", "inventories/aws.yml", "--graph"]);
    let (o, e) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{o}\n{e}");
    assert!(e.contains("no answer from EC2") && e.contains("endpoint"), "{e}");
}

/// The same scenario against a real AWS account, opt-in: it creates 8 t3.small instances,
/// 4 of them with an Elastic IP (within the default quota of 5 per region), connects to each
/// over SSH, and deletes them all.
///
/// ```sh
/// PROV_AWS_LIVE=1 AWS_PROFILE=... PROV_AWS_LIVE_REGION=eu-west-1 \
///   cargo test -p prov --test it aws_live -- --ignored --nocapture
/// ```
#[test]
#[ignore = "needs a real AWS account: run with --ignored, PROV_AWS_LIVE=1 and AWS credentials"]
fn aws_live_reference_vms() {
    let creds = ["AWS_ACCESS_KEY_ID", "AWS_PROFILE", "AWS_WEB_IDENTITY_TOKEN_FILE"]
        .iter()
        .any(|v| std::env::var_os(v).is_some());
    assert!(
        std::env::var("PROV_AWS_LIVE").as_deref() == Ok("1") && creds,
        "set PROV_AWS_LIVE=1 and AWS credentials to run against a real account"
    );
    let region = std::env::var("PROV_AWS_LIVE_REGION").unwrap_or_else(|_| "eu-west-1".into());
    let dir = tempfile::tempdir().expect("tempdir");
    for d in ["playbooks", "roles", "scripts", "inventories"] {
        copy_tree(&repo().join(d), &dir.path().join(d));
    }
    let project = format!("provlive-{}", std::process::id());
    let inv = std::fs::read_to_string(repo().join("inventories/aws.yml")).expect("inventory");
    let inv = inv.replace("project: prov-aws", &format!("project: {project}")).replace("eu-west-1", &region);
    std::fs::write(dir.path().join("inventories/aws.yml"), inv).expect("write");
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_prov")).args(args).current_dir(dir.path()).output().expect("prov");
        let (o, e) = text(&out);
        eprintln!("$ prov {}\n{o}{e}", args.join(" "));
        out.status.code()
    };
    let inv = ["-i", "inventories/aws.yml"];
    let create = run(&[&["apply", "playbooks/site.yml", "--tags", "create-vms"][..], &inv].concat());
    let ssh = run(&[&["run", "all"][..], &inv, &["--", "hostname"]].concat());
    let delete = run(&[&["apply", "playbooks/site.yml", "--tags", "delete-vms"][..], &inv].concat());
    assert_eq!((create, ssh, delete), (Some(0), Some(0), Some(0)));
}
