//! The `disk` module on the docker provider, through roles/manage-vms: the shared disk is a
//! named volume made before the VMs and mounted by each of them when it is created, and
//! deleted after them. Runs on 10.217.N.0/24.

use crate::site::Site;
use crate::util::{changed_items, recap_changed, text};
use std::process::Command;

const VMS: &[(&str, &str, &str)] = &[("monitor", "monitor", "10"), ("worker1", "workers", "21")];

/// `docker volume ls` of the project: name and labels.
fn volumes(site: &Site) -> Vec<String> {
    let out = Command::new("docker")
        .args([
            "volume",
            "ls",
            "--filter",
            &format!("label=prov-project={}", site.project),
            "--format",
            "{{.Name}} {{.Labels}}",
        ])
        .output()
        .expect("docker volume ls");
    String::from_utf8_lossy(&out.stdout).lines().map(str::to_string).collect()
}

#[test]
fn disk_lifecycle_on_docker_create_mount_share_delete() {
    let site = Site::on_net("10.217", "disk", VMS);

    // Plan: one disk and two VMs would be made, nothing is.
    let out = site.prov(&["plan", "playbooks/site.yml", "-i", "inventories/local.yml", "--tags", "create-vms"]);
    let (o, e) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{o}\n{e}");
    assert!(o.contains("+1 disk") && o.contains("+2 vm"), "plan summary:\n{o}");
    assert!(volumes(&site).is_empty(), "plan made a volume");

    // Create: the volume first, then the VMs that mount it.
    let (code, ev, all) = site.apply("create-vms", &[]);
    assert_eq!(code, 0, "{all}");
    assert_eq!((changed_items(&ev, "create disks"), changed_items(&ev, "create VMs")), (1, 2), "{all}");
    let vols = volumes(&site);
    assert_eq!(vols.len(), 1, "{vols:?}");
    let v = &vols[0];
    assert!(v.starts_with(&format!("{}-nfs ", site.project)), "{v}");
    for label in ["prov-name=nfs", "prov-size-gb=10", "role=nfs", &format!("prov-project={}", site.project)] {
        assert!(v.contains(label), "label {label} missing: {v}");
    }

    // Second run changes nothing; the plan says so too.
    let (code, ev, all) = site.apply("create-vms", &[]);
    assert_eq!((code, recap_changed(&ev)), (0, 0), "second create changed something:\n{all}");
    let out = site.prov(&["plan", "playbooks/site.yml", "-i", "inventories/local.yml", "--tags", "create-vms"]);
    let (o, e) = text(&out);
    assert!(o.contains("no changes"), "{o}\n{e}");

    // Every VM mounts the same volume: a file written on one is read on the other.
    let run = |host: &str, cmd: &str| {
        let out = site.prov(&["run", host, "-i", "inventories/local.yml", "--", cmd]);
        let (o, e) = text(&out);
        assert_eq!(out.status.code(), Some(0), "{o}\n{e}");
        o
    };
    run("worker1", "echo shared-by-worker1 > /srv/nfs/hello");
    let o = run("monitor", "cat /srv/nfs/hello");
    assert!(o.contains("shared-by-worker1"), "{o}");

    // The disk module confirms the mount, and says why it cannot detach a docker volume.
    std::fs::write(
        site.dir.path().join("attach.yml"),
        format!(
            "- hosts: localhost\n  gather_facts: false\n  tasks:\n    - name: mounted\n      disk: {{ project: {p}, \
             subnet: {s}.0/24, name: nfs, instance: worker1, mount_path: /srv/nfs }}\n      register: d\n    - \
             assert:\n        that: d.attachments | length == 2 and not d.changed\n    - name: detach\n      \
             disk: {{ project: {p}, subnet: {s}.0/24, name: nfs, instance: None }}\n",
            p = site.project,
            s = site.subnet_prefix
        ),
    )
    .expect("write");
    let out = site.prov(&["apply", "attach.yml", "-i", "inventories/local.yml"]);
    let (o, e) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{o}\n{e}");
    assert!(o.contains("ok: [localhost]") && o.contains("until the VM is deleted"), "{o}\n{e}");
    // Deleting it while VMs mount it is refused, naming them.
    let gone = std::fs::read_to_string(site.dir.path().join("attach.yml"))
        .expect("read")
        .replace("instance: None", "state: absent");
    std::fs::write(site.dir.path().join("delete.yml"), gone).expect("write");
    let out = site.prov(&["apply", "delete.yml", "-i", "inventories/local.yml"]);
    let (o, e) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{o}\n{e}");
    assert!(o.contains("is mounted by VM(s) monitor, worker1"), "{o}\n{e}");
    assert_eq!(volumes(&site).len(), 1, "the volume went");

    // Delete: the VMs, then the disk (the plan says so: the VMs go first); nothing is left.
    let out = site.prov(&["plan", "playbooks/site.yml", "-i", "inventories/local.yml", "--tags", "delete-vms"]);
    let (o, e) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{o}\n{e}");
    assert!(o.contains("-1 disk") && o.contains("-2 vm"), "plan summary:\n{o}");
    let (code, ev, all) = site.apply("delete-vms", &[]);
    assert_eq!(code, 0, "{all}");
    assert_eq!((changed_items(&ev, "delete VMs"), changed_items(&ev, "delete disks")), (2, 1), "{all}");
    assert!(site.containers().is_empty(), "containers left: {:?}", site.containers());
    assert!(volumes(&site).is_empty(), "volumes left: {:?}", volumes(&site));
    assert!(!site.network_exists(), "the project network is left");
    let (code, ev, all) = site.apply("delete-vms", &[]);
    assert_eq!((code, recap_changed(&ev)), (0, 0), "{all}");
}
