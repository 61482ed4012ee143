//! The docker provider end to end: VMs are containers on the local Docker Engine (which
//! `.ci/run` installs and starts). A small topology (monitor, manager1, worker1) keeps it
//! quick; every test uses its own project, subnet and state directory.

use crate::site::Site;
use crate::util::{changed_items, recap_changed, text};

const SMALL: &[(&str, &str, &str)] =
    &[("monitor", "monitor", "10"), ("manager1", "managers", "11"), ("worker1", "workers", "21")];

#[test]
fn vm_lifecycle_create_inventory_ssh_stop_start_delete() {
    let site = Site::new("life", SMALL);

    // Plan: three VMs would be created, nothing is.
    let out = site.prov(&["plan", "playbooks/site.yml", "-i", "inventories/local.yml", "--tags", "create-vms"]);
    let (o, e) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{o}\n{e}");
    assert!(o.contains("+3 vm"), "plan summary:\n{o}");
    assert!(site.containers().is_empty(), "plan created something");

    // Create, and in the same run configure them: the inventory is listed again after the
    // play that created the VMs, so the next play reaches them over SSH.
    let (code, ev, all) = site.apply("create-vms,common", &[]);
    assert_eq!(code, 0, "{all}");
    assert_eq!(changed_items(&ev, "create VMs"), 3, "{all}");
    assert_eq!(site.containers().len(), 3);
    let answered: Vec<&str> = ev
        .iter()
        .filter(|e| e["event"] == "host_result" && e["name"] == "every VM answers over SSH under its inventory name")
        .filter(|e| e["status"] == "ok")
        .filter_map(|e| e["host"].as_str())
        .collect();
    assert_eq!(answered.len(), 3, "the VMs were not in the refreshed inventory:\n{all}");
    let (code, ev, all) = site.apply("create-vms", &[]);
    assert_eq!(code, 0, "{all}");
    assert_eq!(recap_changed(&ev), 0, "second create changed something:\n{all}");

    // The inventory groups come from the labels.
    let out = site.prov(&["inventory", "-i", "inventories/local.yml", "--graph"]);
    let (g, e) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{e}");
    for want in ["@managers:", "|--manager1", "@monitor:", "|--monitor", "@workers:", "|--worker1"] {
        assert!(g.contains(want), "{want} missing in:\n{g}");
    }

    // SSH with strict host-key checking: the keys prov generated are in its known_hosts.
    let out = site.prov(&["run", "all", "-i", "inventories/local.yml", "--", "hostname"]);
    let (o, e) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{o}\n{e}");
    for h in ["monitor", "manager1", "worker1"] {
        assert!(o.contains(&format!("ok: [{h}] => out.stdout: {h}")), "{h} did not answer:\n{o}");
    }
    let kh = std::fs::read_to_string(site.known_hosts()).expect("project known_hosts");
    assert_eq!(kh.lines().count(), 3, "{kh}");
    assert!(kh.contains(&format!("{}.21 ssh-ed25519 ", site.subnet_prefix)), "{kh}");

    // The rest of site.yml runs over SSH too.
    let (code, _, all) = site.apply("", &[]);
    assert_eq!(code, 0, "{all}");

    // Stop, stop again, start, start again; SSH works after start.
    let (code, ev, all) = site.apply("stop-vms", &[]);
    assert_eq!((code, changed_items(&ev, "stop VMs")), (0, 3), "{all}");
    let (code, ev, all) = site.apply("stop-vms", &[]);
    assert_eq!((code, recap_changed(&ev)), (0, 0), "{all}");
    let (code, ev, all) = site.apply("start-vms", &[]);
    assert_eq!((code, changed_items(&ev, "start VMs")), (0, 3), "{all}");
    let (code, ev, all) = site.apply("start-vms", &[]);
    assert_eq!((code, recap_changed(&ev)), (0, 0), "{all}");
    let out = site.prov(&["run", "all", "-i", "inventories/local.yml", "--", "hostname"]);
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));

    // Delete: nothing is left behind.
    let (code, ev, all) = site.apply("delete-vms", &[]);
    assert_eq!((code, changed_items(&ev, "delete VMs")), (0, 3), "{all}");
    assert!(site.containers().is_empty(), "containers left: {:?}", site.containers());
    assert!(!site.network_exists(), "the project network is left");
    let left = std::fs::read_to_string(site.known_hosts()).unwrap_or_default();
    assert!(left.trim().is_empty(), "known_hosts entries left: {left}");
    let (code, ev, all) = site.apply("delete-vms", &[]);
    assert_eq!((code, recap_changed(&ev)), (0, 0), "{all}");
}

#[test]
fn bad_vm_input_is_refused_with_a_clear_message_and_creates_nothing() {
    // Duplicate names: the role's check fails before any VM is made.
    let site = Site::new("dup", &[("a1", "workers", "31"), ("a1", "workers", "32")]);
    let (code, _, all) = site.apply("create-vms", &[]);
    assert_eq!(code, 2, "{all}");
    assert!(all.contains("duplicate VM names in `vms`: a1, a1"), "{all}");
    assert!(site.containers().is_empty());

    // Unknown machine type.
    let site = Site::new("type", &[("b1", "workers", "41")]);
    let vms = std::fs::read_to_string(site.dir.path().join("playbooks/vars/vms.yml")).expect("vms");
    std::fs::write(site.dir.path().join("playbooks/vars/vms.yml"), vms.replace("e2-small", "e2-smal")).expect("write");
    let (code, _, all) = site.apply("create-vms", &[]);
    assert_eq!(code, 2, "{all}");
    assert!(all.contains("unknown machine_type `e2-smal`") && all.contains("did you mean `e2-small`?"), "{all}");
    assert!(site.containers().is_empty());

    // A static address outside the project network.
    let site = Site::new("ip", &[("c1", "workers", "51")]);
    let vms = std::fs::read_to_string(site.dir.path().join("playbooks/vars/vms.yml")).expect("vms");
    std::fs::write(
        site.dir.path().join("playbooks/vars/vms.yml"),
        vms.replace(&format!("{}.51", site.subnet_prefix), "192.168.77.5"),
    )
    .expect("write");
    let (code, _, all) = site.apply("create-vms", &[]);
    assert_eq!(code, 2, "{all}");
    assert!(all.contains("192.168.77.5") && all.contains(&format!("{}.0/24", site.subnet_prefix)), "{all}");
    assert!(site.containers().is_empty());

    // The node image missing while building it is disabled.
    let site = Site::new("img", &[("d1", "workers", "61")]);
    let tasks = site.dir.path().join("roles/manage-vms/tasks/main.yml");
    let t = std::fs::read_to_string(&tasks).expect("tasks");
    std::fs::write(
        &tasks,
        t.replacen(
            "    state: started\n",
            "    state: started\n    image: prov-node:no-such-tag\n    build_image: false\n",
            1,
        ),
    )
    .expect("write");
    let (code, _, all) = site.apply("create-vms", &[]);
    assert_eq!(code, 2, "{all}");
    assert!(all.contains("prov-node:no-such-tag") && all.contains("prov image build"), "{all}");
    assert!(site.containers().is_empty());
}

#[test]
fn engine_not_running_and_empty_filters_are_explained() {
    let site = Site::new("eng", SMALL);
    let out = site.prov_env(
        &["inventory", "-i", "inventories/local.yml", "--graph"],
        &[("DOCKER_HOST", "unix:///nonexistent/docker.sock")],
    );
    let (o, e) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{o}\n{e}");
    assert!(e.contains("not running") && e.contains("dockerd"), "no hint how to start the engine:\n{e}");

    let inv = site.dir.path().join("inventories/nobody.yml");
    std::fs::write(&inv, format!("plugin: docker\nproject: {}\nfilters:\n  prov-group: nobody\n", site.project))
        .expect("write");
    let out = site.prov(&["inventory", "-i", "inventories/nobody.yml", "--graph"]);
    let (o, e) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{o}\n{e}");
    assert!(e.contains("no docker instance matches") && e.contains("prov-group=nobody"), "{e}");
    // ansible-inventory 2.19 shows `ungrouped` under `all` even when it is empty.
    assert_eq!(o.trim(), "@all:\n  |--@ungrouped:");
}
