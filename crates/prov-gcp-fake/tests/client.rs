//! The fake driven by the real google-cloud-compute-v1 client: every shape the client must
//! decode (ids as strings, URL-safe fingerprints, operations, errors, pages) is proven here,
//! not guessed.

use google_cloud_compute_v1::client::{Addresses, Instances, RegionOperations, ZoneOperations};
use google_cloud_compute_v1::model::{
    self, operation::Status as OpStatus, AccessConfig, Address, AttachedDisk, AttachedDiskInitializeParams, Instance,
    InstancesSetLabelsRequest, Metadata, NetworkInterface, Tags,
};
use google_cloud_gax::error::rpc::Code;
use google_cloud_gax::options::RequestOptionsBuilder;
use google_cloud_gax::paginator::{ItemPaginator, Paginator};
use google_cloud_gax::retry_policy::NeverRetry;

const P: &str = "fake-project";
const ZONE: &str = "us-central1-a";
const REGION: &str = "us-central1";

struct Clients {
    instances: Instances,
    zone_ops: ZoneOperations,
    addresses: Addresses,
    region_ops: RegionOperations,
}

async fn clients(fake: &prov_gcp_fake::Fake) -> Clients {
    let creds = || google_cloud_auth::credentials::anonymous::Builder::new().build();
    let ep = fake.endpoint();
    Clients {
        instances: Instances::builder()
            .with_endpoint(&ep)
            .with_credentials(creds())
            .with_retry_policy(NeverRetry)
            .build()
            .await
            .expect("instances client"),
        zone_ops: ZoneOperations::builder()
            .with_endpoint(&ep)
            .with_credentials(creds())
            .with_retry_policy(NeverRetry)
            .build()
            .await
            .expect("zone operations client"),
        addresses: Addresses::builder()
            .with_endpoint(&ep)
            .with_credentials(creds())
            .with_retry_policy(NeverRetry)
            .build()
            .await
            .expect("addresses client"),
        region_ops: RegionOperations::builder()
            .with_endpoint(&ep)
            .with_credentials(creds())
            .with_retry_policy(NeverRetry)
            .build()
            .await
            .expect("region operations client"),
    }
}

fn vm(name: &str, group: &str) -> Instance {
    Instance::new()
        .set_name(name)
        .set_machine_type(format!("zones/{ZONE}/machineTypes/e2-small"))
        .set_labels([("prov-project", "demo"), ("prov-group", group)])
        .set_tags(Tags::new().set_items([group]))
        .set_metadata(
            Metadata::new()
                .set_items([model::metadata::Items::new().set_key("enable-guest-attributes").set_value("TRUE")]),
        )
        .set_disks([AttachedDisk::new().set_boot(true).set_auto_delete(true).set_initialize_params(
            AttachedDiskInitializeParams::new()
                .set_source_image("projects/debian-cloud/global/images/family/debian-12"),
        )])
        .set_network_interfaces([NetworkInterface::new()
            .set_network("global/networks/default")
            .set_access_configs([AccessConfig::new().set_name("External NAT")])])
}

/// Polls a zone operation with `get` until DONE, returning every status seen.
async fn poll_zone(c: &Clients, op: model::Operation) -> (model::Operation, Vec<OpStatus>) {
    let name = op.name.clone().expect("operation name");
    let mut seen = vec![op.status.clone().expect("status")];
    let mut op = op;
    while op.status != Some(OpStatus::Done) {
        op = c.zone_ops.get().set_project(P).set_zone(ZONE).set_operation(&name).send().await.expect("get op");
        seen.push(op.status.clone().expect("status"));
    }
    (op, seen)
}

#[tokio::test]
async fn instance_lifecycle_with_the_real_client() {
    let (_, fake) = prov_gcp_fake::start().expect("fake starts");
    let c = clients(&fake).await;

    // Insert: an Operation PENDING → RUNNING → DONE; the instance PROVISIONING → ... → RUNNING.
    let op =
        c.instances.insert().set_project(P).set_zone(ZONE).set_body(vm("w1", "workers")).send().await.expect("insert");
    assert_eq!(op.status, Some(OpStatus::Pending));
    assert!(op.id.is_some_and(|id| id > 0), "numeric id sent as a string: {op:?}");
    assert!(op.zone.as_deref().is_some_and(|z| z.ends_with(&format!("/projects/{P}/zones/{ZONE}"))), "{op:?}");
    let i = c.instances.get().set_project(P).set_zone(ZONE).set_instance("w1").send().await.expect("get");
    assert_eq!(i.status, Some(model::instance::Status::Staging), "a get moves the insert one step");
    let (done, seen) = poll_zone(&c, op).await;
    assert_eq!(seen.last(), Some(&OpStatus::Done));
    assert!(done.error.is_none(), "{done:?}");
    assert!(done.target_link.as_deref().is_some_and(|l| l.ends_with("/instances/w1")));
    let i = c.instances.get().set_project(P).set_zone(ZONE).set_instance("w1").send().await.expect("get");
    assert_eq!(i.status, Some(model::instance::Status::Running));
    assert!(i.id.is_some());
    assert!(i
        .machine_type
        .as_deref()
        .is_some_and(|m| m.starts_with("https://") && m.ends_with("/machineTypes/e2-small")));
    let nic = &i.network_interfaces[0];
    assert!(nic.network_ip.as_deref().is_some_and(|ip| ip.starts_with("10.128.")), "{nic:?}");
    assert!(nic.access_configs[0].nat_ip.is_some(), "{nic:?}");
    assert_eq!(i.labels.get("prov-group").map(String::as_str), Some("workers"));
    assert_eq!(i.tags.as_ref().map(|t| t.items.clone()), Some(vec!["workers".to_string()]));

    // The host key the guest agent publishes.
    let ga = c
        .instances
        .get_guest_attributes()
        .set_project(P)
        .set_zone(ZONE)
        .set_instance("w1")
        .set_query_path("hostkeys/")
        .send()
        .await
        .expect("guest attributes");
    let items = ga.query_value.expect("query value").items;
    assert_eq!(items[0].key.as_deref(), Some("ssh-ed25519"));
    assert_eq!(items[0].namespace.as_deref(), Some("hostkeys"));

    // A second insert of the same name: 409 ALREADY_EXISTS.
    let e =
        c.instances.insert().set_project(P).set_zone(ZONE).set_body(vm("w1", "workers")).send().await.expect_err("dup");
    assert_eq!(e.http_status_code(), Some(409));
    assert_eq!(e.status().map(|s| s.code), Some(Code::AlreadyExists), "{e:?}");

    // setLabels with the fingerprint: works; with a stale one: 412.
    let fp = i.label_fingerprint.clone().expect("label fingerprint");
    let mut labels = i.labels.clone();
    labels.insert("tier".into(), "back".into());
    let op = c
        .instances
        .set_labels()
        .set_project(P)
        .set_zone(ZONE)
        .set_instance("w1")
        .set_body(InstancesSetLabelsRequest::new().set_labels(labels.clone()).set_label_fingerprint(fp.clone()))
        .send()
        .await
        .expect("setLabels");
    poll_zone(&c, op).await;
    let e = c
        .instances
        .set_labels()
        .set_project(P)
        .set_zone(ZONE)
        .set_instance("w1")
        .set_body(InstancesSetLabelsRequest::new().set_labels(labels).set_label_fingerprint(fp))
        .send()
        .await
        .expect_err("stale fingerprint");
    assert_eq!(e.http_status_code(), Some(412), "{e:?}");

    // Stop → STOPPING → TERMINATED (the ephemeral address goes); start → RUNNING (a new one).
    let op = c.instances.stop().set_project(P).set_zone(ZONE).set_instance("w1").send().await.expect("stop");
    let i = c.instances.get().set_project(P).set_zone(ZONE).set_instance("w1").send().await.expect("get");
    assert_eq!(i.status, Some(model::instance::Status::Stopping));
    poll_zone(&c, op).await;
    let i = c.instances.get().set_project(P).set_zone(ZONE).set_instance("w1").send().await.expect("get");
    assert_eq!(i.status, Some(model::instance::Status::Terminated));
    assert!(i.network_interfaces[0].access_configs[0].nat_ip.is_none());
    let op = c.instances.start().set_project(P).set_zone(ZONE).set_instance("w1").send().await.expect("start");
    // `wait` works like `get`: loop until DONE.
    let name = op.name.clone().expect("name");
    let mut op = op;
    while op.status != Some(OpStatus::Done) {
        op = c.zone_ops.wait().set_project(P).set_zone(ZONE).set_operation(&name).send().await.expect("wait");
    }
    let i = c.instances.get().set_project(P).set_zone(ZONE).set_instance("w1").send().await.expect("get");
    assert_eq!(i.status, Some(model::instance::Status::Running));
    assert!(i.labels.contains_key("tier"));

    // Delete: gone; a get is 404 NOT_FOUND with the API's message.
    let op = c.instances.delete().set_project(P).set_zone(ZONE).set_instance("w1").send().await.expect("delete");
    poll_zone(&c, op).await;
    let e = c.instances.get().set_project(P).set_zone(ZONE).set_instance("w1").send().await.expect_err("gone");
    assert_eq!(e.status().map(|s| s.code), Some(Code::NotFound), "{e:?}");
    assert!(e.status().is_some_and(|s| s.message.contains("instances/w1' was not found")), "{e:?}");
}

#[tokio::test]
async fn lists_filter_and_page() {
    let (_, fake) = prov_gcp_fake::start().expect("fake starts");
    let c = clients(&fake).await;
    for (name, group, zone) in [("m1", "managers", ZONE), ("w1", "workers", ZONE), ("w2", "workers", "europe-west1-b")]
    {
        let mut body = vm(name, group);
        body = body.set_machine_type(format!("zones/{zone}/machineTypes/e2-small"));
        let op = c.instances.insert().set_project(P).set_zone(zone).set_body(body).send().await.expect("insert");
        let name = op.name.clone().expect("name");
        let mut op = op;
        while op.status != Some(OpStatus::Done) {
            op = c.zone_ops.get().set_project(P).set_zone(zone).set_operation(&name).send().await.expect("get op");
        }
    }

    // Zonal list with a label filter and one item per page.
    let mut names = Vec::new();
    let mut items = c
        .instances
        .list()
        .set_project(P)
        .set_zone(ZONE)
        .set_filter("(labels.prov-project = demo) AND (labels.prov-group = \"workers\")")
        .set_max_results(1_u32)
        .by_item();
    while let Some(i) = items.next().await {
        names.push(i.expect("item").name.expect("name"));
    }
    assert_eq!(names, vec!["w1"]);

    // Aggregated list: pages of 2; zones without results carry NO_RESULTS_ON_PAGE.
    let mut pages = c
        .instances
        .aggregated_list()
        .set_project(P)
        .set_filter("labels.prov-project = demo")
        .set_max_results(2_u32)
        .by_page();
    let mut found = Vec::new();
    let mut n_pages = 0;
    while let Some(page) = pages.next().await {
        let page = page.expect("page");
        n_pages += 1;
        for (scope, list) in page.items {
            if list.instances.is_empty() {
                let w = list.warning.expect("a warning for an empty scope");
                assert_eq!(w.code, Some(model::instances_scoped_list::warning::Code::NoResultsOnPage), "{scope}");
            }
            found.extend(list.instances.into_iter().map(|i| (scope.clone(), i.name.expect("name"))));
        }
    }
    found.sort();
    assert_eq!(n_pages, 2);
    assert_eq!(
        found,
        vec![
            ("zones/europe-west1-b".to_string(), "w2".to_string()),
            (format!("zones/{ZONE}"), "m1".to_string()),
            (format!("zones/{ZONE}"), "w1".to_string()),
        ]
    );

    // Presence and negation.
    let page = c
        .instances
        .list()
        .set_project(P)
        .set_zone(ZONE)
        .set_filter("(labels.prov-group:*) (name != m1)")
        .send()
        .await
        .expect("list");
    assert_eq!(page.items.iter().map(|i| i.name.clone().unwrap_or_default()).collect::<Vec<_>>(), vec!["w1"]);

    // A filter the fake does not understand is a 400 naming the field.
    let e = c.instances.list().set_project(P).set_zone(ZONE).set_filter("name eq w.*").send().await.expect_err("bad");
    assert_eq!(e.status().map(|s| s.code), Some(Code::InvalidArgument), "{e:?}");
}

#[tokio::test]
async fn faults_quota_and_throttling() {
    let (_, fake) = prov_gcp_fake::start().expect("fake starts");
    let c = clients(&fake).await;

    // Quota: the insert is accepted, its operation ends with QUOTA_EXCEEDED, no instance.
    fake.fail_insert_with_quota("w3");
    let op =
        c.instances.insert().set_project(P).set_zone(ZONE).set_body(vm("w3", "workers")).send().await.expect("insert");
    let (done, seen) = poll_zone(&c, op).await;
    assert_eq!(seen, vec![OpStatus::Pending, OpStatus::Running, OpStatus::Done]);
    assert_eq!(done.http_error_status_code, Some(403));
    let err = &done.error.expect("operation error").errors[0];
    assert_eq!(err.code.as_deref(), Some("QUOTA_EXCEEDED"));
    assert!(err.message.as_deref().is_some_and(|m| m.contains("Quota 'CPUS' exceeded")), "{err:?}");
    let e = c.instances.get().set_project(P).set_zone(ZONE).set_instance("w3").send().await.expect_err("none");
    assert_eq!(e.http_status_code(), Some(404));

    // The fault is used up: the next insert of w3 works.
    let op =
        c.instances.insert().set_project(P).set_zone(ZONE).set_body(vm("w3", "workers")).send().await.expect("insert");
    let (done, _) = poll_zone(&c, op).await;
    assert!(done.error.is_none());

    // The client's LRO poller ends with the DONE operation, error and all: callers must
    // look at `error` themselves (prov does).
    fake.fail_insert_with_quota("w4");
    use google_cloud_lro::Poller;
    let e = c
        .instances
        .insert()
        .set_project(P)
        .set_zone(ZONE)
        .set_body(vm("w4", "workers"))
        .with_polling_backoff_policy(
            google_cloud_gax::exponential_backoff::ExponentialBackoffBuilder::new()
                .with_initial_delay(std::time::Duration::from_millis(1))
                .with_maximum_delay(std::time::Duration::from_millis(5))
                .build()
                .expect("backoff"),
        )
        .poller()
        .until_done()
        .await
        .expect("the poller returns the finished operation");
    assert_eq!(e.status, Some(OpStatus::Done));
    assert_eq!(e.error.expect("error").errors[0].code.as_deref(), Some("QUOTA_EXCEEDED"));

    // Throttling: 429 RESOURCE_EXHAUSTED with reason rateLimitExceeded, then 503.
    fake.throttle(429, 2);
    for _ in 0..2 {
        let e = c.instances.get().set_project(P).set_zone(ZONE).set_instance("w3").send().await.expect_err("429");
        assert_eq!(e.http_status_code(), Some(429));
        assert_eq!(e.status().map(|s| s.code), Some(Code::ResourceExhausted), "{e:?}");
    }
    fake.throttle(503, 1);
    let e = c.instances.get().set_project(P).set_zone(ZONE).set_instance("w3").send().await.expect_err("503");
    assert_eq!(e.status().map(|s| s.code), Some(Code::Unavailable), "{e:?}");
    c.instances.get().set_project(P).set_zone(ZONE).set_instance("w3").send().await.expect("served again");
    assert_eq!(fake.stats().throttled, 3);

    // A retried insert with the same requestId gets the first operation, not a 409.
    let first = c
        .instances
        .insert()
        .set_project(P)
        .set_zone(ZONE)
        .set_request_id("0b5c3f5e-1f49-4c3e-9d1e-111111111111")
        .set_body(vm("w5", "workers"))
        .send()
        .await
        .expect("insert");
    let again = c
        .instances
        .insert()
        .set_project(P)
        .set_zone(ZONE)
        .set_request_id("0b5c3f5e-1f49-4c3e-9d1e-111111111111")
        .set_body(vm("w5", "workers"))
        .send()
        .await
        .expect("same request");
    assert_eq!(first.name, again.name);

    // Bad requests: an unknown machine type; a malformed image.
    let e = c
        .instances
        .insert()
        .set_project(P)
        .set_zone(ZONE)
        .set_body(vm("w6", "workers").set_machine_type(format!("zones/{ZONE}/machineTypes/e2-smal")))
        .send()
        .await
        .expect_err("machine type");
    assert!(e.status().is_some_and(|s| s.code == Code::InvalidArgument && s.message.contains("e2-smal")), "{e:?}");
}

#[tokio::test]
async fn addresses_reserve_use_and_release() {
    let (_, fake) = prov_gcp_fake::start().expect("fake starts");
    let c = clients(&fake).await;
    let op = c
        .addresses
        .insert()
        .set_project(P)
        .set_region(REGION)
        .set_body(Address::new().set_name("w1-ip").set_labels([("prov-project", "demo")]))
        .send()
        .await
        .expect("reserve");
    assert!(op.region.as_deref().is_some_and(|r| r.ends_with("/regions/us-central1")), "{op:?}");
    let name = op.name.clone().expect("name");
    let mut op = op;
    while op.status != Some(OpStatus::Done) {
        op = c.region_ops.wait().set_project(P).set_region(REGION).set_operation(&name).send().await.expect("wait");
    }
    let a = c.addresses.get().set_project(P).set_region(REGION).set_address("w1-ip").send().await.expect("get");
    assert_eq!(a.status, Some(model::address::Status::Reserved));
    let ip = a.address.clone().expect("address");

    // An instance uses it as its external address: IN_USE, and deleting it is refused.
    let body =
        vm("w1", "workers")
            .set_network_interfaces([NetworkInterface::new()
                .set_access_configs([AccessConfig::new().set_name("External NAT").set_nat_ip(&ip)])]);
    let op = c.instances.insert().set_project(P).set_zone(ZONE).set_body(body).send().await.expect("insert");
    poll_zone(&c, op).await;
    let i = c.instances.get().set_project(P).set_zone(ZONE).set_instance("w1").send().await.expect("get");
    assert_eq!(i.network_interfaces[0].access_configs[0].nat_ip.as_deref(), Some(ip.as_str()));
    let a = c.addresses.get().set_project(P).set_region(REGION).set_address("w1-ip").send().await.expect("get");
    assert_eq!(a.status, Some(model::address::Status::InUse));
    assert_eq!(a.users.len(), 1);
    let e =
        c.addresses.delete().set_project(P).set_region(REGION).set_address("w1-ip").send().await.expect_err("in use");
    assert_eq!(e.http_status_code(), Some(400), "{e:?}");

    // Stop keeps a reserved address; delete of the instance frees it; then it can go.
    let op = c.instances.stop().set_project(P).set_zone(ZONE).set_instance("w1").send().await.expect("stop");
    poll_zone(&c, op).await;
    let i = c.instances.get().set_project(P).set_zone(ZONE).set_instance("w1").send().await.expect("get");
    assert_eq!(i.network_interfaces[0].access_configs[0].nat_ip.as_deref(), Some(ip.as_str()));
    let op = c.instances.delete().set_project(P).set_zone(ZONE).set_instance("w1").send().await.expect("delete");
    poll_zone(&c, op).await;
    let list = c
        .addresses
        .list()
        .set_project(P)
        .set_region(REGION)
        .set_filter("labels.prov-project = demo")
        .send()
        .await
        .expect("list");
    assert_eq!(list.items.len(), 1);
    assert_eq!(list.items[0].status, Some(model::address::Status::Reserved));
    let op = c.addresses.delete().set_project(P).set_region(REGION).set_address("w1-ip").send().await.expect("release");
    let name = op.name.clone().expect("name");
    let mut op = op;
    while op.status != Some(OpStatus::Done) {
        op = c.region_ops.get().set_project(P).set_region(REGION).set_operation(&name).send().await.expect("get");
    }
    assert!(fake.addresses(P).is_empty());

    // An internal address at a given IP, then an instance on it.
    let op = c
        .addresses
        .insert()
        .set_project(P)
        .set_region(REGION)
        .set_body(
            Address::new()
                .set_name("m1-ip")
                .set_address_type(model::address::AddressType::Internal)
                .set_address("10.128.0.10"),
        )
        .send()
        .await
        .expect("reserve internal");
    let name = op.name.clone().expect("name");
    let mut op = op;
    while op.status != Some(OpStatus::Done) {
        op = c.region_ops.get().set_project(P).set_region(REGION).set_operation(&name).send().await.expect("get");
    }
    let body = vm("m1", "managers").set_network_interfaces([NetworkInterface::new().set_network_ip("10.128.0.10")]);
    let op = c.instances.insert().set_project(P).set_zone(ZONE).set_body(body).send().await.expect("insert");
    poll_zone(&c, op).await;
    let a = c.addresses.get().set_project(P).set_region(REGION).set_address("m1-ip").send().await.expect("get");
    assert_eq!(a.status, Some(model::address::Status::InUse));
    let e = c
        .addresses
        .insert()
        .set_project(P)
        .set_region(REGION)
        .set_body(
            Address::new()
                .set_name("x")
                .set_address_type(model::address::AddressType::Internal)
                .set_address("10.213.0.10"),
        )
        .send()
        .await
        .expect_err("outside the subnet");
    assert!(e.status().is_some_and(|s| s.message.contains("outside the subnetwork")), "{e:?}");
}
