//! The gcp provider end to end: the real prov binary runs `playbooks/site.yml` with
//! `roles/manage-vms` against the Compute Engine fake, started in this test process, through
//! `inventories/gcp.yml` (pointed at the fake with its `endpoint` key).
//!
//! `live_project_*` runs the same scenario against a real Google Cloud project; it is
//! skipped unless `PROV_GCP_LIVE_PROJECT` and credentials are set (see README).

use crate::util::{changed_items, copy_tree, json_events, recap_changed, repo, text};
use serde_json::Value as Json;
use std::process::{Command, Output};

/// The reference cluster of `playbooks/vars/vms.yml` (used as shipped): 1 monitor, 3
/// managers, 4 workers; the monitor and the managers get reserved external addresses.
const VMS: &[(&str, &str, bool)] = &[
    ("monitor", "monitor", true),
    ("manager1", "managers", true),
    ("manager2", "managers", true),
    ("manager3", "managers", true),
    ("worker1", "workers", false),
    ("worker2", "workers", false),
    ("worker3", "workers", false),
    ("worker4", "workers", false),
];

/// A copy of the reference content whose `inventories/gcp.yml` points at `endpoint`.
struct GcpSite {
    dir: tempfile::TempDir,
    state: tempfile::TempDir,
    project: String,
    cloud_project: String,
}

impl GcpSite {
    fn new(tag: &str, cloud_project: &str, zones: &[&str], endpoint: Option<&str>) -> GcpSite {
        let dir = tempfile::tempdir().expect("tempdir");
        let state = tempfile::tempdir().expect("state dir");
        copy_tree(&repo().join("playbooks"), &dir.path().join("playbooks"));
        copy_tree(&repo().join("roles"), &dir.path().join("roles"));
        copy_tree(&repo().join("inventories"), &dir.path().join("inventories"));
        let project = format!("provtest-{tag}-{}", std::process::id());
        // The shipped file with this test's project, cloud project, zones and endpoint.
        let shipped = std::fs::read_to_string(dir.path().join("inventories/gcp.yml")).expect("inventories/gcp.yml");
        let mut inv: String = shipped
            .lines()
            .filter(|l| !l.starts_with("project:") && !l.starts_with("projects:") && !l.starts_with("zones:"))
            .map(|l| format!("{l}\n"))
            .collect();
        inv.push_str(&format!("project: {project}\nprojects: [{cloud_project}]\nzones: [{}]\n", zones.join(", ")));
        if let Some(ep) = endpoint {
            inv.push_str(&format!("endpoint: {ep}\n"));
        }
        std::fs::write(dir.path().join("inventories/gcp.yml"), inv).expect("inventory");
        GcpSite { dir, state, project, cloud_project: cloud_project.to_string() }
    }

    fn prov(&self, args: &[&str]) -> Output {
        let mut c = Command::new(env!("CARGO_BIN_EXE_prov"));
        c.args(args).current_dir(self.dir.path()).env("NO_COLOR", "1").env("PROV_STATE_DIR", self.state.path());
        c.env_remove("PROV_INVENTORY").env_remove("PROV_KNOWN_HOSTS").env_remove("PROV_GCP_ENDPOINT");
        c.output().expect("prov runs")
    }

    fn apply(&self, tags: &str) -> (i32, Vec<Json>, String) {
        let out = self.prov(&[
            "apply",
            "playbooks/site.yml",
            "-i",
            "inventories/gcp.yml",
            "--output",
            "json",
            "--tags",
            tags,
        ]);
        json_events(&out)
    }

    fn known_hosts(&self) -> String {
        std::fs::read_to_string(self.state.path().join(&self.project).join("known_hosts")).unwrap_or_default()
    }
}

fn named<'a>(list: &'a [Json], name: &str) -> Option<&'a Json> {
    list.iter().find(|i| i["name"] == name)
}

#[test]
fn gcp_vm_lifecycle_against_the_compute_fake() {
    let (_, fake) = prov_gcp_fake::start().expect("the fake starts");
    let site = GcpSite::new("gcp", "cloud-e2e", &["us-central1-a", "europe-west1-b"], Some(&fake.endpoint()));
    let cp = site.cloud_project.as_str();

    // Plan: eight VMs would be created, nothing is.
    let out = site.prov(&["plan", "playbooks/site.yml", "-i", "inventories/gcp.yml", "--tags", "create-vms"]);
    let (o, e) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{o}\n{e}");
    assert!(o.contains("+1 disk") && o.contains("+8 vm"), "plan summary:\n{o}");
    assert!(fake.instances(cp).is_empty(), "plan created something");
    assert!(fake.disks(cp).is_empty(), "plan created a disk");
    assert_eq!(fake.stats().inserts, 0);

    // Create: eight instances in the first zone, labelled and tagged; four reserved
    // addresses in use; the host keys the guest agents published are in known_hosts under
    // the instance ids.
    let (code, ev, all) = site.apply("create-vms");
    assert_eq!(code, 0, "{all}");
    assert_eq!(changed_items(&ev, "create VMs"), 8, "{all}");
    // The shared disk, made first, attached to the monitor under its own name.
    assert_eq!(changed_items(&ev, "create disks"), 1, "{all}");
    let disks = fake.disks(cp);
    assert_eq!(disks.len(), 1, "{disks:?}");
    assert_eq!((disks[0]["name"].as_str(), disks[0]["sizeGb"].as_str()), (Some("nfs"), Some("10")));
    assert_eq!(disks[0]["labels"]["prov-project"], site.project.as_str());
    assert_eq!(disks[0]["labels"]["role"], "nfs");
    let users = disks[0]["users"].as_array().cloned().unwrap_or_default();
    assert!(users.len() == 1 && users[0].as_str().is_some_and(|u| u.ends_with("/instances/monitor")), "{users:?}");
    let monitor = fake.instances(cp).into_iter().find(|i| i["name"] == "monitor").expect("monitor");
    assert!(monitor["disks"].as_array().expect("disks").iter().any(|d| d["deviceName"] == "nfs"), "{monitor}");
    let vms = fake.instances(cp);
    assert_eq!(vms.len(), 8);
    for (name, group, fixed) in VMS {
        let vm = named(&vms, name).unwrap_or_else(|| panic!("{name} missing"));
        assert!(vm["zone"].as_str().is_some_and(|z| z.ends_with("/zones/us-central1-a")), "{vm}");
        assert_eq!(vm["labels"]["prov-project"], site.project.as_str());
        assert_eq!(vm["labels"]["prov-group"], *group);
        assert_eq!(vm["tags"]["items"][0], *group, "the group is a network tag too");
        assert_eq!(vm["status"], "RUNNING");
        let nat = vm["networkInterfaces"][0]["accessConfigs"][0]["natIP"].as_str().expect("external address");
        assert_eq!(nat.starts_with("203.0.113."), *fixed, "{name}: {nat}");
    }
    let addresses = fake.addresses(cp);
    assert_eq!(addresses.len(), 4, "{addresses:?}");
    assert!(addresses.iter().all(|a| a["status"] == "IN_USE" && a["labels"]["prov-project"] == site.project.as_str()));
    let kh = site.known_hosts();
    for vm in &vms {
        let id = vm["id"].as_str().expect("id");
        assert!(kh.lines().any(|l| l.starts_with(&format!("{id} ssh-ed25519 AAAA"))), "{id} missing:\n{kh}");
    }
    assert!(!kh.contains("203.0.113."), "no entry under an address:\n{kh}");

    // Second run: nothing changes.
    let (code, ev, all) = site.apply("create-vms");
    assert_eq!(code, 0, "{all}");
    assert_eq!(recap_changed(&ev), 0, "second create changed something:\n{all}");
    assert_eq!(fake.stats().inserts, 8);

    // The inventory groups come from the labels, listed across both zones.
    let out = site.prov(&["inventory", "-i", "inventories/gcp.yml", "--graph"]);
    let (g, e) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{e}");
    for want in ["@managers:", "|--manager1", "|--manager3", "@monitor:", "|--monitor", "@workers:", "|--worker4"] {
        assert!(g.contains(want), "{want} missing in:\n{g}");
    }
    let out = site.prov(&["inventory", "-i", "inventories/gcp.yml", "--host", "worker1"]);
    let (h, e) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{e}");
    let host: Json = serde_json::from_str(&h).expect("host vars are JSON");
    assert_eq!(host["prov_provider"], "gcp");
    assert_eq!(host["ansible_user"], "prov");
    assert_eq!(host["ansible_host"], host["public_ip"], "{host}");
    assert_eq!(host["prov_host_key_alias"], host["prov_id"], "keys are checked under the instance id: {host}");
    assert!(host.get("prov_host_key_checking").is_none(), "the published key is known: strict");

    // A file in gcp_compute's shape: a list of Compute filter expressions (sent to the API
    // with the project's label) and `compose` over the instance resource's fields.
    let ported = format!(
        "plugin: gcp\nproject: {}\nprojects: [{cp}]\nzones: [us-central1-a]\nendpoint: {}\n\
         filters:\n  - labels.prov-group = workers\n  - status = RUNNING\n\
         keyed_groups:\n  - key: labels['prov-group']\n    prefix: gce\n\
         compose:\n  ansible_host: networkInterfaces[0].networkIP\n  machine: machineType.split('/') | last\n",
        site.project,
        fake.endpoint()
    );
    std::fs::write(site.dir.path().join("inventories/ported.yml"), ported).expect("ported inventory");
    let out = site.prov(&["inventory", "-i", "inventories/ported.yml", "--list"]);
    let (l, e) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{e}");
    let list: Json = serde_json::from_str(&l).expect("--list is JSON");
    let workers = list["gce_workers"]["hosts"].as_array().expect("gce_workers");
    assert_eq!(workers.len(), 4, "{l}");
    assert!(list.get("gce_managers").is_none(), "the filter leaves the managers out: {l}");
    let w1 = &list["_meta"]["hostvars"]["worker1"];
    assert_eq!(w1["ansible_host"], w1["private_ip"], "{w1}");
    assert_eq!(w1["machine"], "e2-small", "{w1}");
    assert_eq!(w1["networkInterfaces"][0]["accessConfigs"][0]["natIP"], w1["public_ip"], "{w1}");

    // Stop, stop again, start, start again.
    let (code, ev, all) = site.apply("stop-vms");
    assert_eq!((code, changed_items(&ev, "stop VMs")), (0, 8), "{all}");
    assert!(fake.instances(cp).iter().all(|i| i["status"] == "TERMINATED"));
    let (code, ev, all) = site.apply("stop-vms");
    assert_eq!((code, recap_changed(&ev)), (0, 0), "{all}");
    let (code, ev, all) = site.apply("start-vms");
    assert_eq!((code, changed_items(&ev, "start VMs")), (0, 8), "{all}");
    assert!(fake.instances(cp).iter().all(|i| i["status"] == "RUNNING"));
    let (code, ev, all) = site.apply("start-vms");
    assert_eq!((code, recap_changed(&ev)), (0, 0), "{all}");

    // Delete: no instance, no address, no known_hosts entry left.
    let (code, ev, all) = site.apply("delete-vms");
    assert_eq!((code, changed_items(&ev, "delete VMs")), (0, 8), "{all}");
    assert!(fake.instances(cp).is_empty());
    assert!(fake.addresses(cp).is_empty(), "addresses left: {:?}", fake.addresses(cp));
    assert_eq!(changed_items(&ev, "delete disks"), 1, "{all}");
    assert!(fake.disks(cp).is_empty(), "disks left: {:?}", fake.disks(cp));
    assert!(site.known_hosts().trim().is_empty(), "known_hosts entries left: {}", site.known_hosts());
    let (code, ev, all) = site.apply("delete-vms");
    assert_eq!((code, recap_changed(&ev)), (0, 0), "{all}");
}

#[test]
fn gcp_quota_error_on_one_vm_and_throttling() {
    let (_, fake) = prov_gcp_fake::start().expect("the fake starts");
    let site = GcpSite::new("gcpq", "cloud-quota", &["us-central1-a"], Some(&fake.endpoint()));
    let cp = site.cloud_project.as_str();

    // One VM hits the CPU quota: the seven others are made, the one is reported with
    // Google's message, exit 2; its reserved address is not left behind.
    fake.fail_insert_with_quota("manager2");
    let (code, ev, all) = site.apply("create-vms");
    assert_eq!(code, 2, "{all}");
    assert_eq!(changed_items(&ev, "create VMs"), 7, "{all}");
    assert_eq!(fake.instances(cp).len(), 7);
    assert!(named(&fake.instances(cp), "manager2").is_none());
    assert!(all.contains("QUOTA_EXCEEDED: Quota 'CPUS' exceeded.") && all.contains("manager2"), "{all}");
    assert_eq!(fake.addresses(cp).len(), 3, "{:?}", fake.addresses(cp));

    // With the fault cleared and the API throttling for a while (429, then 503), the rerun
    // creates the missing VM only.
    fake.clear_faults();
    fake.throttle(429, 4);
    let (code, ev, all) = site.apply("create-vms");
    assert_eq!(code, 0, "{all}");
    assert_eq!(changed_items(&ev, "create VMs"), 1, "{all}");
    assert_eq!(fake.instances(cp).len(), 8);
    assert_eq!(fake.stats().throttled, 4);
    fake.throttle(503, 2);
    let (code, ev, all) = site.apply("create-vms");
    assert_eq!((code, recap_changed(&ev)), (0, 0), "{all}");
    assert_eq!(fake.stats().throttled, 6);

    let (code, _, all) = site.apply("delete-vms");
    assert_eq!(code, 0, "{all}");
    assert!(fake.instances(cp).is_empty() && fake.addresses(cp).is_empty());
}

/// The same scenario against a real project, opt-in:
///
/// ```sh
/// export PROV_GCP_LIVE_PROJECT=my-project PROV_GCP_LIVE_ZONE=europe-west1-b
/// export GOOGLE_APPLICATION_CREDENTIALS=~/key.json   # or: gcloud auth application-default login
/// cargo test -p prov --test it gcp_live -- --ignored --nocapture
/// ```
///
/// It creates the eight e2-small VMs (four reserved addresses) in that zone under a
/// throwaway prov project, checks the inventory, stops, starts and deletes them, and checks
/// nothing is left. It costs a few cents.
#[test]
#[ignore = "needs a real Google Cloud project: run with --ignored, PROV_GCP_LIVE_PROJECT and credentials"]
fn gcp_live_project_lifecycle() {
    let cloud_project = std::env::var("PROV_GCP_LIVE_PROJECT")
        .expect("set PROV_GCP_LIVE_PROJECT (and credentials) to run against a real project");
    let creds = std::env::var_os("GOOGLE_APPLICATION_CREDENTIALS").is_some()
        || std::env::var_os("HOME")
            .map(|h| std::path::Path::new(&h).join(".config/gcloud/application_default_credentials.json").exists())
            .unwrap_or(false);
    assert!(creds, "no Google Cloud credentials (GOOGLE_APPLICATION_CREDENTIALS or application-default)");
    let zone = std::env::var("PROV_GCP_LIVE_ZONE").unwrap_or_else(|_| "europe-west1-b".into());
    let site = GcpSite::new("live", &cloud_project, &[&zone], None);
    let (code, ev, all) = site.apply("create-vms");
    assert_eq!((code, changed_items(&ev, "create VMs")), (0, 8), "{all}");
    let out = site.prov(&["inventory", "-i", "inventories/gcp.yml", "--graph"]);
    let (g, _) = text(&out);
    assert!(g.contains("@managers:") && g.contains("|--worker4"), "{g}");
    let (code, _, all) = site.apply("stop-vms");
    assert_eq!(code, 0, "{all}");
    let (code, _, all) = site.apply("start-vms");
    assert_eq!(code, 0, "{all}");
    let (code, ev, all) = site.apply("delete-vms");
    assert_eq!((code, changed_items(&ev, "delete VMs")), (0, 8), "{all}");
    let out = site.prov(&["inventory", "-i", "inventories/gcp.yml", "--graph"]);
    let (g, _) = text(&out);
    assert_eq!(g.trim(), "@all:\n  |--@ungrouped:", "VMs left:\n{g}");
}
