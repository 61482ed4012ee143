//! The provider against the Compute fake (in-process), with short timings.

use super::*;
use std::time::Duration;

fn fast() -> Timing {
    Timing {
        retry_initial: Duration::from_millis(1),
        retry_max: Duration::from_millis(5),
        retry_attempts: 6,
        operation_timeout: Duration::from_secs(60),
        host_key_wait: Duration::from_millis(50),
    }
}

/// The known_hosts the provider records keys in (under the test process's state directory).
fn known_hosts() -> std::path::PathBuf {
    crate::test_state_dir().join("demo/known_hosts")
}

async fn provider(fake: &prov_gcp_fake::Fake, zones: &[&str]) -> GcpProvider {
    known_hosts();
    let settings = ProviderSettings {
        project: "demo".into(),
        cloud_project: Some("cloud-demo".into()),
        zone: Some(zones[0].to_string()),
        zones: zones.iter().map(|z| z.to_string()).collect(),
        endpoint: Some(fake.endpoint()),
        ..Default::default()
    };
    GcpProvider::connect(&settings, fast()).await.expect("connects")
}

fn spec(name: &str, group: &str, static_ip: Option<IpAddr>) -> InstanceSpec {
    let mut labels = Labels::new();
    labels.insert(LABEL_PROJECT.into(), "demo".into());
    labels.insert(crate::LABEL_GROUP.into(), group.into());
    InstanceSpec {
        name: name.into(),
        labels,
        machine_type: Some("e2-small".into()),
        image: None,
        static_ip,
        authorized_keys: vec!["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIO5m me@host".into()],
        host_key: None,
        disks: Vec::new(),
    }
}

#[tokio::test]
async fn lifecycle_with_a_static_address() {
    let (_, fake) = prov_gcp_fake::start().expect("fake");
    let p = provider(&fake, &["us-central1-a"]).await;
    let i = p.create(&spec("manager1", "managers", Some(crate::ANY_STATIC_IP))).await.expect("created");
    assert_eq!(i.state, InstanceState::Running);
    assert_eq!(i.machine_type.as_deref(), Some("e2-small"));
    assert!(i.private_ip.is_some());
    let addresses = fake.addresses("cloud-demo");
    assert_eq!(addresses.len(), 1, "{addresses:?}");
    assert_eq!(addresses[0]["name"], "manager1-ip");
    assert_eq!(addresses[0]["status"], "IN_USE");
    assert_eq!(i.public_ip.map(|a| a.to_string()).as_deref(), addresses[0]["address"].as_str());
    // The published keys are recorded under the instance id, which SSH checks them under.
    let kh = std::fs::read_to_string(known_hosts()).expect("known_hosts");
    assert!(kh.lines().any(|l| l.starts_with(&format!("{} ssh-ed25519 AAAA", i.id))), "{kh}");
    assert_eq!(i.details["vars"]["prov_host_key_alias"], i.id.as_str());
    assert!(i.details["vars"].get("prov_host_key_checking").is_none(), "strict: the key is known");

    // What the fake holds: labels, tags (group and project), the login key, guest attributes on.
    let raw = &fake.instances("cloud-demo")[0];
    assert_eq!(raw["labels"]["prov-project"], "demo");
    assert_eq!(raw["labels"]["prov-name"], "manager1");
    assert_eq!(raw["tags"]["items"], serde_json::json!(["managers", "prov-demo"]));
    let meta = raw["metadata"]["items"].to_string();
    assert!(meta.contains("enable-guest-attributes") && meta.contains("prov:ssh-ed25519"), "{meta}");

    // Creating it again changes nothing; a different group is refused.
    let again = p.create(&spec("manager1", "managers", Some(crate::ANY_STATIC_IP))).await.expect("again");
    assert_eq!(again.id, i.id);
    let e = p.create(&spec("manager1", "workers", None)).await.expect_err("differs");
    assert!(e.to_string().contains("prov-group is managers"), "{e}");

    let listed = p.list(&Labels::new()).await.expect("list");
    assert_eq!(listed.iter().map(|i| i.name.as_str()).collect::<Vec<_>>(), vec!["manager1"]);
    let stopped = p.stop("manager1").await.expect("stop");
    assert_eq!(stopped.state, InstanceState::Stopped);
    assert_eq!(p.stop("manager1").await.expect("stop again").state, InstanceState::Stopped);
    let started = p.start("manager1").await.expect("start");
    assert_eq!(started.state, InstanceState::Running);
    assert_eq!(started.public_ip, i.public_ip, "a reserved address survives stop/start");

    p.delete("manager1").await.expect("delete");
    assert!(p.get("manager1").await.expect("get").is_none());
    assert!(fake.addresses("cloud-demo").is_empty(), "the address was released");
    p.delete("manager1").await.expect("deleting a missing VM is fine");
}

#[tokio::test]
async fn quota_error_is_the_vms_error_and_leaves_nothing() {
    let (_, fake) = prov_gcp_fake::start().expect("fake");
    let p = provider(&fake, &["us-central1-a"]).await;
    fake.fail_insert_with_quota("worker3");
    let e = p.create(&spec("worker3", "workers", Some(crate::ANY_STATIC_IP))).await.expect_err("quota");
    let text = e.to_string();
    assert!(text.contains("QUOTA_EXCEEDED: Quota 'CPUS' exceeded.") && text.contains("worker3"), "{text}");
    assert!(fake.instances("cloud-demo").is_empty());
    assert!(fake.addresses("cloud-demo").is_empty(), "the address of the failed VM was released");
    p.create(&spec("worker3", "workers", None)).await.expect("the rerun works");
}

#[tokio::test]
async fn throttling_is_retried_with_backoff() {
    let (_, fake) = prov_gcp_fake::start().expect("fake");
    let p = provider(&fake, &["us-central1-a"]).await;
    fake.throttle(429, 3);
    p.create(&spec("w1", "workers", None)).await.expect("created despite 429s");
    fake.throttle(503, 2);
    assert_eq!(p.list(&Labels::new()).await.expect("list").len(), 1);
    assert_eq!(fake.stats().throttled, 5);
    assert_eq!(fake.stats().inserts, 1, "one insert, however often it was tried");

    // Throttled for longer than the attempts allow: an error that says so.
    fake.throttle(429, 100);
    let e = p.list(&Labels::new()).await.expect_err("gives up");
    assert!(e.to_string().contains("still throttled after 6 attempts"), "{e}");
    fake.clear_faults();
}

#[tokio::test]
async fn zones_are_listed_concurrently_and_labels_filter() {
    let (_, fake) = prov_gcp_fake::start().expect("fake");
    let a = provider(&fake, &["us-central1-a", "europe-west1-b"]).await;
    let b = provider(&fake, &["europe-west1-b", "us-central1-a"]).await;
    a.create(&spec("m1", "managers", None)).await.expect("m1");
    b.create(&spec("w1", "workers", None)).await.expect("w1");
    let all = a.list(&Labels::new()).await.expect("list");
    assert_eq!(all.iter().map(|i| i.name.as_str()).collect::<Vec<_>>(), vec!["m1", "w1"]);
    assert_eq!(all[1].details["zone"], "europe-west1-b");
    let mut sel = Labels::new();
    sel.insert(crate::LABEL_GROUP.into(), "workers".into());
    assert_eq!(a.list(&sel).await.expect("list").len(), 1);
    // aggregatedList when no zone is configured for listing.
    let settings = ProviderSettings {
        project: "demo".into(),
        cloud_project: Some("cloud-demo".into()),
        endpoint: Some(fake.endpoint()),
        ..Default::default()
    };
    let agg = GcpProvider::connect(&settings, fast()).await.expect("connects");
    assert_eq!(agg.list(&Labels::new()).await.expect("aggregated").len(), 2);
    assert!(agg.create(&spec("x1", "workers", None)).await.expect_err("no zone").to_string().contains("no zone"));
    // Another project's VM of the same name is not ours.
    let other = ProviderSettings { project: "other".into(), ..settings };
    let other = GcpProvider::connect(&other, fast()).await.expect("connects");
    assert!(other.get("m1").await.expect_err("not ours").to_string().contains("not a VM of project `other`"));
}

#[tokio::test]
async fn without_published_host_keys_the_first_key_is_pinned_to_the_instance() {
    let (_, fake) = prov_gcp_fake::start().expect("fake");
    let p = provider(&fake, &["us-central1-a"]).await;
    fake.hide_host_keys("w1");
    let i = p.create(&spec("w1", "workers", None)).await.expect("created");
    assert!(!crate::state::knows_host(&known_hosts(), &i.id));
    assert_eq!(i.details["vars"]["prov_host_key_alias"], i.id.as_str());
    assert_eq!(i.details["vars"]["prov_host_key_checking"], "accept-new");
    p.delete("w1").await.expect("deleted");
}

#[tokio::test]
async fn api_errors_carry_googles_message() {
    let (_, fake) = prov_gcp_fake::start().expect("fake");
    let p = provider(&fake, &["us-central1-a"]).await;
    let mut s = spec("w1", "workers", None);
    s.machine_type = Some("e2-tiny".into());
    let e = p.create(&s).await.expect_err("bad type");
    assert!(e.to_string().contains("Machine type with name 'e2-tiny' does not exist in zone 'us-central1-a'"), "{e}");
    let e = p.create(&spec("Bad_Name", "workers", None)).await.expect_err("bad name");
    assert!(e.to_string().contains("not a valid Compute Engine name"), "{e}");
    let e = p.start("nobody").await.expect_err("missing");
    assert!(matches!(e, ProviderError::NotFound(_)), "{e}");
}

fn disk_spec(name: &str, size_gb: Option<u64>) -> crate::DiskSpec {
    let mut labels = Labels::new();
    labels.insert("role".into(), "nfs".into());
    crate::DiskSpec { name: name.into(), size_gb, disk_type: Some("pd-balanced".into()), labels }
}

#[tokio::test]
async fn disk_lifecycle_create_attach_detach_delete() {
    let (_, fake) = prov_gcp_fake::start().expect("fake");
    let p = provider(&fake, &["us-central1-a"]).await;
    assert!(p.get_disk("nfs").await.expect("get").is_none());
    let d = p.create_disk(&disk_spec("nfs", Some(10))).await.expect("created");
    assert_eq!((d.size_gb, d.disk_type.as_deref()), (Some(10), Some("pd-balanced")));
    assert!(d.attachments.is_empty());
    let raw = &fake.disks("cloud-demo")[0];
    assert_eq!((raw["status"].as_str(), raw["sizeGb"].as_str()), (Some("READY"), Some("10")));
    assert_eq!(raw["labels"], serde_json::json!({"prov-project": "demo", "prov-name": "nfs", "role": "nfs"}));
    assert!(raw["type"].as_str().is_some_and(|t| t.ends_with("/zones/us-central1-a/diskTypes/pd-balanced")), "{raw}");
    // Creating it again returns the same disk; a disk without a size gets Google's default.
    assert_eq!(p.create_disk(&disk_spec("nfs", Some(10))).await.expect("again").id, d.id);
    let blank = p.create_disk(&crate::DiskSpec { name: "scratch".into(), ..Default::default() }).await.expect("blank");
    assert_eq!((blank.size_gb, blank.disk_type.as_deref()), (Some(500), Some("pd-standard")));
    p.delete_disk("scratch").await.expect("delete blank");

    // Attach as device `nfs`, twice; the instance lists it and the disk names its user.
    p.create(&spec("monitor", "monitor", None)).await.expect("vm");
    let d = p.attach_disk("nfs", "monitor", Some("nfs")).await.expect("attached");
    assert_eq!(d.attachments, vec![crate::Attachment { instance: "monitor".into(), device: "nfs".into() }]);
    assert_eq!(p.attach_disk("nfs", "monitor", Some("nfs")).await.expect("again").attachments.len(), 1);
    let vm = &fake.instances("cloud-demo")[0];
    let devices: Vec<&str> =
        vm["disks"].as_array().expect("disks").iter().filter_map(|d| d["deviceName"].as_str()).collect();
    assert_eq!(devices, vec!["monitor", "nfs"]);
    assert!(fake.disks("cloud-demo")[0]["users"][0].as_str().is_some_and(|u| u.ends_with("/instances/monitor")));

    // Attached: deleting is refused, naming the VM.
    let e = p.delete_disk("nfs").await.expect_err("in use");
    assert!(e.to_string().contains("attached to VM(s) monitor"), "{e}");

    // Detach, twice; then deleting the VM leaves the disk, and the disk goes.
    assert!(p.detach_disk("nfs", "monitor").await.expect("detached").attachments.is_empty());
    assert!(p.detach_disk("nfs", "monitor").await.expect("again").attachments.is_empty());
    p.attach_disk("nfs", "monitor", None).await.expect("attached under its own name");
    p.delete("monitor").await.expect("vm deleted");
    let d = p.get_disk("nfs").await.expect("get").expect("the disk outlives the VM");
    assert!(d.attachments.is_empty(), "{:?}", d.attachments);
    assert_eq!(p.list_disks(&Labels::new()).await.expect("list").len(), 1);
    p.delete_disk("nfs").await.expect("deleted");
    p.delete_disk("nfs").await.expect("deleting a missing disk is fine");
    assert!(fake.disks("cloud-demo").is_empty());
}
