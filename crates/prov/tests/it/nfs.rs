//! roles/nfs (site.yml's `nfs` play) on the docker provider, on 1 monitor + 1 manager + 2
//! workers on 10.219.N.0/24: this kernel has no NFS, so the role says so and checks that every
//! VM has the shared volume at /srv/nfs; the play's check reads on every node a file written
//! on a worker (and fails when the directory is not shared); a second run changes nothing;
//! delete leaves nothing. The cloud path (kernel NFS) cannot run here: it is planned instead
//! (`prov plan` with `nfs_provider=gcp`) on the same VMs, and validated with cloud-like
//! static inventories.

use crate::site::Site;
use crate::util::{recap_changed, text};
use serde_json::Value as Json;
use std::process::Command;

const VMS: &[(&str, &str, &str)] = &[
    ("monitor", "monitor", "10"),
    ("manager1", "managers", "11"),
    ("worker1", "workers", "21"),
    ("worker2", "workers", "22"),
];

/// The hosts on which task `task` ended with `status` (`ok`, `failed`, `skipped`, ...).
fn hosts_with(events: &[Json], task: &str, status: &str) -> Vec<String> {
    let mut hosts: Vec<String> = events
        .iter()
        .filter(|e| e["event"] == "host_result" && e["name"] == task && e["status"] == status)
        .filter_map(|e| e["host"].as_str().map(str::to_string))
        .collect();
    hosts.sort();
    hosts.dedup();
    hosts
}

/// Prints `none-left` when the check left no file in /srv/nfs, else the files' names.
const NONE_LEFT: &str = "ls -A /srv/nfs | grep prov-nfs-check || echo none-left";

fn run(site: &Site, hosts: &str, cmd: &str) -> String {
    let out = site.prov(&["run", hosts, "-i", "inventories/local.yml", "--", cmd]);
    let (o, e) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{o}\n{e}");
    o
}

#[test]
fn nfs_play_on_docker_shares_a_file_across_nodes_and_plans_kernel_nfs_for_clouds() {
    let site = Site::on_net("10.219", "nfs", VMS);
    let (code, _, all) = site.apply("create-vms", &[]);
    assert_eq!(code, 0, "{all}");

    // The nfs play: the plain statement, the mount on every node, the cross-node check.
    let (code, ev, all) = site.apply("nfs", &[]);
    assert_eq!(code, 0, "{all}");
    assert!(all.contains("this machine's kernel has no NFS"), "{all}");
    let every = ["manager1", "monitor", "worker1", "worker2"];
    assert_eq!(hosts_with(&ev, "the shared volume is mounted", "ok"), every, "{all}");
    assert_eq!(hosts_with(&ev, "write a file with a fresh content on the writer", "ok"), ["worker1"], "{all}");
    assert_eq!(hosts_with(&ev, "read it on every other node", "ok"), ["manager1", "monitor", "worker2"], "{all}");
    assert_eq!(hosts_with(&ev, "remove the file", "ok"), ["worker1"], "{all}");
    assert_eq!(recap_changed(&ev), 0, "the check reported changes:\n{all}");
    // Nothing of the check is left on the share.
    let o = run(&site, "all", NONE_LEFT);
    assert_eq!(o.matches("out.stdout: none-left").count(), 4, "the check left its file:\n{o}");

    // Again: nothing to change.
    let (code, ev, all) = site.apply("nfs", &[]);
    assert_eq!((code, recap_changed(&ev)), (0, 0), "second run changed something:\n{all}");

    // The check can fail: /dev/shm is a mounted directory on every VM, but each its own.
    let (code, ev, all) = site.apply("nfs", &["-e", "nfs_mount=/dev/shm"]);
    assert_eq!(code, 2, "{all}");
    assert_eq!(hosts_with(&ev, "read it on every other node", "failed"), ["manager1", "monitor", "worker2"], "{all}");
    let o = run(&site, "worker1", &NONE_LEFT.replace("/srv/nfs", "/dev/shm"));
    assert!(o.contains("out.stdout: none-left"), "the failed check left its file:\n{o}");
    // And a directory that is not a mount point is named as such.
    let (code, _, all) = site.apply("nfs", &["-e", "nfs_mount=/srv"]);
    assert_eq!(code, 2, "{all}");
    assert!(all.contains("/srv is not a mounted directory"), "{all}");

    // The cloud path, planned (this kernel cannot serve or mount NFS): with nfs_provider=gcp
    // and a disk image as the device, the monitor would get the server, a filesystem, the
    // mount and the exports naming the three clients; the clients the package and the mount.
    // (mkfs is a command: skipped in check mode, as in Ansible.)
    run(&site, "monitor", "rm -f /root/nfs.img && truncate -s 16M /root/nfs.img");
    let plan_args = [
        "plan",
        "playbooks/site.yml",
        "-i",
        "inventories/local.yml",
        "--tags",
        "nfs",
        "-e",
        "nfs_provider=gcp",
        "-e",
        "nfs_device=/root/nfs.img",
    ];
    let out = site.prov(&plan_args);
    let (o, e) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{o}\n{e}");
    let net = &site.subnet_prefix;
    let exports = format!(
        "/srv/nfs {net}.11(rw,sync,no_subtree_check,no_root_squash) {net}.21(rw,sync,no_subtree_check,no_root_squash) \
         {net}.22(rw,sync,no_subtree_check,no_root_squash)"
    );
    assert!(o.contains(&exports), "exports:\n{o}\n{e}");
    for want in [
        "+nfs-kernel-server: installed",
        "+nfs-common: installed",
        "+/root/nfs.img /srv/nfs ext4 defaults,nofail 0 0",
        &format!("+{net}.10:/srv/nfs /srv/nfs nfs rw,hard,_netdev 0 0"),
    ] {
        assert!(o.contains(want), "{want} not in the plan:\n{o}\n{e}");
    }
    assert!(!o.contains("this machine's kernel has no NFS"), "{o}");
    // The filesystem probe runs in check mode too: nothing on the image, then ext4 once made.
    let probe = |site: &Site| {
        let out = site.prov(&[&plan_args[..], &["--output", "json"]].concat());
        let (code, ev, all) = crate::util::json_events(&out);
        assert_eq!(code, 0, "{all}");
        let fs = ev
            .iter()
            .find(|e| {
                e["event"] == "host_result" && e["name"] == "the filesystem on the disk" && e["host"] == "monitor"
            })
            .unwrap_or_else(|| panic!("no probe on the monitor:\n{all}"));
        fs["stdout"].as_str().unwrap_or("").trim().to_string()
    };
    assert_eq!(probe(&site), "");
    run(&site, "monitor", "mkfs.ext4 -q -F /root/nfs.img");
    assert_eq!(probe(&site), "ext4");

    // Delete: nothing left.
    let (code, _, all) = site.apply("delete-vms", &[]);
    assert_eq!(code, 0, "{all}");
    assert!(site.containers().is_empty(), "containers left: {:?}", site.containers());
    assert!(!site.network_exists(), "the project network is left");
    let vols = Command::new("docker")
        .args(["volume", "ls", "-q", "--filter", &format!("label=prov-project={}", site.project)])
        .output()
        .expect("docker volume ls");
    assert!(vols.stdout.is_empty(), "volumes left: {}", String::from_utf8_lossy(&vols.stdout));
}

/// site.yml's nfs play compiles against cloud inventories (static stand-ins for the gcp and
/// aws plugins, which list live instances): `prov validate` connects to nothing.
#[test]
fn nfs_play_validates_with_cloud_inventories() {
    for provider in ["gcp", "aws"] {
        let dir = tempfile::tempdir().expect("tempdir");
        crate::util::copy_tree(&crate::util::repo().join("playbooks"), &dir.path().join("playbooks"));
        crate::util::copy_tree(&crate::util::repo().join("roles"), &dir.path().join("roles"));
        let inv = format!(
            "all:\n  vars: {{ prov_provider: {provider}, prov_project: prov-{provider} }}\n  children:\n    monitor:\n      \
             hosts: {{ monitor: {{ ansible_host: 192.0.2.10, private_ip: 10.0.0.10 }} }}\n    managers:\n      \
             hosts: {{ manager1: {{ ansible_host: 192.0.2.11, private_ip: 10.0.0.11 }} }}\n    workers:\n      \
             hosts: {{ worker1: {{ ansible_host: 192.0.2.21, private_ip: 10.0.0.21 }} }}\n"
        );
        std::fs::write(dir.path().join("hosts.yml"), inv).expect("inventory");
        let out =
            crate::util::prov(dir.path(), &["validate", "playbooks/site.yml", "-i", "hosts.yml", "--tags", "nfs"]);
        let (o, e) = text(&out);
        assert_eq!(out.status.code(), Some(0), "{provider}: {o}\n{e}");
        assert!(o.contains(": OK"), "{provider}: {o}\n{e}");
    }
}
