//! Monitoring and `playbooks/scale.yml` on 1 monitor + 1 manager + 1 worker (docker-provider
//! VMs on 10.218.N, away from the other site tests): Prometheus and node-exporter from
//! Debian's packages, every scrape target up (asked by the play and again here), a second run
//! with nothing to do; scale.yml sets exactly the replicas named, a second identical run
//! changes nothing, a name the stack lacks fails before anything changes, and a later full
//! apply keeps the scaled counts.

use crate::site::Site;
use crate::util::{http_get, recap_changed};
use serde_json::Value as Json;

const TOPOLOGY: &[(&str, &str, &str)] =
    &[("monitor", "monitor", "10"), ("manager1", "managers", "11"), ("worker1", "workers", "21")];

/// `prov apply playbooks/scale.yml -e EXTRA` with JSON output: exit code, events, all output.
fn scale(site: &Site, extra: &str) -> (i32, Vec<Json>, String) {
    let out =
        site.prov(&["apply", "playbooks/scale.yml", "-i", "inventories/local.yml", "--output", "json", "-e", extra]);
    crate::util::json_events(&out)
}

#[test]
fn prometheus_targets_up_and_scale_playbook() {
    let site = Site::on_net("10.218", "mon", TOPOLOGY);
    let (code, _, all) = site.apply("create-vms", &[]);
    assert_eq!(code, 0, "{all}");

    let (code, ev, all) = site.apply("", &[]);
    assert_eq!(code, 0, "{all}");
    assert!(recap_changed(&ev) > 0);

    // The play checked the targets; ask Prometheus again from here: node-exporter on the
    // three VMs, the Docker Engine of the manager and the worker, Prometheus itself.
    let api = format!("{}.10:9090", site.subnet_prefix);
    let body = http_get(&api, "/api/v1/targets?state=active").unwrap_or_else(|e| panic!("Prometheus: {e}\n{all}"));
    let targets: Json = serde_json::from_str(&body).expect("JSON from Prometheus");
    let mut seen: Vec<String> = targets["data"]["activeTargets"]
        .as_array()
        .expect("activeTargets")
        .iter()
        .map(|t| format!("{} {} {}", t["labels"]["job"], t["labels"]["host"], t["health"]).replace('"', ""))
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        [
            "docker manager1 up",
            "docker worker1 up",
            "node manager1 up",
            "node monitor up",
            "node worker1 up",
            "prometheus monitor up"
        ],
        "{body}"
    );

    let (code, ev, all) = site.apply("", &[]);
    assert_eq!((code, recap_changed(&ev)), (0, 0), "second run changed something:\n{all}");

    // scale.yml with the seed's numbers: exactly the services named (celery is already at 1,
    // so two change), the others (lb, redis, db) untouched.
    let seed = ["demo_web", "demo_celery", "demo_misago", "demo_lb", "demo_redis", "demo_db"];
    assert_eq!(seed.map(|s| site.replicas(s)), ["2/2", "1/1", "2/2", "1/1", "1/1", "1/1"], "{all}");
    let (code, ev, all) = scale(&site, "web=3 celery=1 misago=3");
    assert_eq!((code, recap_changed(&ev)), (0, 1), "{all}");
    assert_eq!(crate::util::changed_items(&ev, "replicas"), 2, "{all}");
    assert_eq!(seed.map(|s| site.replicas(s)), ["3/3", "1/1", "3/3", "1/1", "1/1", "1/1"], "{all}");
    let (code, ev, all) = scale(&site, "web=3 celery=1 misago=3");
    assert_eq!((code, recap_changed(&ev)), (0, 0), "second scale run changed something:\n{all}");

    // A service the stack lacks (the example stack's old `app`): a clear failure, nothing
    // changed.
    let (code, ev, all) = scale(&site, "web=1 app=3");
    assert_eq!(code, 2, "{all}");
    assert_eq!(recap_changed(&ev), 0, "{all}");
    assert!(all.contains("stack demo has no service app") && all.contains("misago"), "{all}");
    assert_eq!(site.replicas("demo_web"), "3/3");
    let (code, _, all) = scale(&site, "web_version=v2");
    assert_eq!(code, 2, "{all}");
    assert!(all.contains("name the services to scale"), "{all}");

    // A full apply keeps the scaled counts and changes nothing.
    let (code, ev, all) = site.apply("", &[]);
    assert_eq!((code, recap_changed(&ev)), (0, 0), "{all}");
    assert_eq!(site.replicas("demo_web"), "3/3", "the full apply reset the replicas:\n{all}");
    assert_eq!(site.replicas("demo_misago"), "3/3", "the full apply reset the replicas:\n{all}");

    let (code, _, all) = site.apply("delete-vms", &[]);
    assert_eq!(code, 0, "{all}");
    assert!(site.containers().is_empty());
    assert!(!site.network_exists());
}
