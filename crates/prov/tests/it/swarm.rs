//! The reference job on a small topology (1 manager + 2 workers) of docker-provider VMs with
//! the shared disk: Docker installed by apt, a real swarm, the seed's stack behind haproxy
//! (checked end to end: PostgreSQL, Redis, a Celery job, a static file in the share served by
//! web on another node), `prov scale` with the seed's numbers, a rolling update under load
//! with no failed request, and a clean teardown.

use crate::site::Site;
use crate::util::{http_get, recap_changed, text};
use std::collections::BTreeSet;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const TOPOLOGY: &[(&str, &str, &str)] =
    &[("manager1", "managers", "11"), ("worker1", "workers", "21"), ("worker2", "workers", "22")];

/// When a request through the balancer ended, and its body or why it failed.
type Answer = (Instant, Result<String, String>);

/// web's own page through the load balancer, `web VERSION NODE ID`: the body, or why it failed.
fn get(addr: &str) -> Result<String, String> {
    http_get(addr, "/version")
}

#[test]
fn reference_job_on_one_manager_and_two_workers() {
    let site = Site::new("swarm", TOPOLOGY);
    let lb = format!("{}.11:80", site.subnet_prefix);

    let (code, _, all) = site.apply("create-vms", &[]);
    assert_eq!(code, 0, "{all}");

    // Everything else: Docker by apt, images, swarm, stack.
    let (code, ev, all) = site.apply("", &[]);
    assert_eq!(code, 0, "{all}");
    assert!(recap_changed(&ev) > 0);
    // While manager1 initialises the swarm, the workers say they wait for it (the play is
    // linear: they wait for the batch, which the join's hostvars read needs anyway).
    let mut waited: Vec<&str> = ev
        .iter()
        .filter(|e| e["event"] == "waiting" && e["on"] == "manager1" && e["name"] == "join the other managers")
        .filter_map(|e| e["host"].as_str())
        .collect();
    waited.sort_unstable();
    assert_eq!(waited, ["worker1", "worker2"], "{all}");
    let body =
        get(&lb).unwrap_or_else(|e| panic!("the balancer does not answer after the play's own check: {e}\n{all}"));
    assert!(body.starts_with("web v1 "), "{body}");
    crate::seed::check(&site, &lb, "first-deploy");

    // Second run: nothing to do.
    let (code, ev, all) = site.apply("", &[]);
    assert_eq!((code, recap_changed(&ev)), (0, 0), "second run changed something:\n{all}");

    // The plan of a scale, for review: one swarm service to change, nothing changed yet.
    let plan_scale = ["plan", "playbooks/scale.yml", "-i", "inventories/local.yml", "-e", "web=3", "--output"];
    let out = site.prov(&[&plan_scale[..], &["json", "--detailed-exitcode"]].concat());
    let (o, e) = text(&out);
    assert_eq!(out.status.code(), Some(2), "changes pending:\n{o}\n{e}");
    let plan: serde_json::Value = serde_json::from_str(o.lines().last().unwrap_or_default()).expect("the plan event");
    let changes: Vec<(&str, &str, &str)> = plan["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .map(|c| {
            (c["action"].as_str().unwrap_or(""), c["resource"].as_str().unwrap_or(""), c["name"].as_str().unwrap_or(""))
        })
        .collect();
    // The stack's services are read for real (`check_mode: false`, `changed_when: false`):
    // no change, not in the plan.
    assert_eq!(changes, [("scale", "service", "demo_web")], "{o}");
    assert_eq!(plan["summary"], "1 service scaled", "{o}");
    // The same plan for a pull request: the summary, the row and the replicas' diff.
    let out = site.prov(&[&plan_scale[..], &["markdown"]].concat());
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
    let md = crate::plan::normalized(&out, site.dir.path());
    insta::assert_snapshot!("plan_markdown_scale", md);

    // Scale up with the seed's numbers: each of the three web replicas answers through the
    // balancer.
    let out = site.prov(&["scale", "web=3", "celery=1", "misago=3", "-i", "inventories/local.yml"]);
    let (o, e) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{o}\n{e}");
    assert!(o.contains("converged"), "{o}");
    let counts = ["demo_web", "demo_celery", "demo_misago"].map(|s| site.replicas(s));
    assert_eq!(counts, ["3/3", "1/1", "3/3"], "{o}");
    let mut seen = BTreeSet::new();
    for _ in 0..60 {
        if let Ok(b) = get(&lb) {
            seen.insert(b);
        }
        if seen.len() == 3 {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(seen.len(), 3, "answers: {seen:?}");

    // A redeploy of the unchanged stack keeps the scaled count.
    let (code, _, all) = site.apply("install-stack,deploy", &[]);
    assert_eq!(code, 0, "{all}");
    assert_eq!(site.replicas("demo_web"), "3/3", "redeploy reset the replicas:\n{all}");
    assert_eq!(site.replicas("demo_misago"), "3/3", "redeploy reset the replicas:\n{all}");

    // Rolling update v1 -> v2 under a stream of requests, one to web's own page and one
    // through web to misago (PostgreSQL, Redis) in turn: none fails, v2 afterwards.
    let stop = Arc::new(AtomicBool::new(false));
    let log: Arc<Mutex<Vec<Answer>>> = Arc::default();
    let load = {
        let (stop, log, lb) = (stop.clone(), log.clone(), lb.clone());
        std::thread::spawn(move || {
            for i in 0..20_000 {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let r = if i % 2 == 0 { get(&lb) } else { http_get(&lb, "/") };
                log.lock().expect("log").push((Instant::now(), r));
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };
    let (code, _, all) = site.apply("install-stack,deploy", &["-e", "web_version=v2"]);
    let updated = Instant::now();
    std::thread::sleep(Duration::from_secs(2));
    stop.store(true, Ordering::SeqCst);
    load.join().expect("load thread");
    assert_eq!(code, 0, "{all}");
    let log = log.lock().expect("log");
    let failed: Vec<&String> = log.iter().filter_map(|(_, r)| r.as_ref().err()).collect();
    assert!(log.len() > 50, "too few requests: {}", log.len());
    assert!(
        failed.is_empty(),
        "{} of {} requests failed: {:?}",
        failed.len(),
        log.len(),
        &failed[..failed.len().min(5)]
    );
    let after: Vec<&String> = log
        .iter()
        .filter(|(t, _)| *t > updated)
        .filter_map(|(_, r)| r.as_ref().ok())
        .filter(|b| b.starts_with("web "))
        .collect();
    assert!(!after.is_empty() && after.iter().all(|b| b.starts_with("web v2 ")), "after the update: {after:?}");
    eprintln!("rolling update: {} requests, 0 failed", log.len());
    drop(log);
    crate::seed::check(&site, &lb, "after-update");

    // Scale down.
    let out = site.prov(&["scale", "web=1", "-i", "inventories/local.yml"]);
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
    assert_eq!(site.replicas("demo_web"), "1/1");

    // Bad input for scale.
    let out = site.prov(&["scale", "nosuch=2", "-i", "inventories/local.yml"]);
    let (_, e) = text(&out);
    assert_eq!(out.status.code(), Some(4), "{e}");
    assert!(e.contains("no service `nosuch`") && e.contains("demo_web"), "{e}");
    for bad in ["web=-1", "web=abc"] {
        let out = site.prov(&["scale", bad, "-i", "inventories/local.yml"]);
        assert_eq!(out.status.code(), Some(5), "{bad}: {:?}", text(&out));
    }
    let out = site.prov(&["scale", "web=2", "-i", "inventories/local.yml", "--manager-group", "workers"]);
    let (_, e) = text(&out);
    assert_eq!(out.status.code(), Some(4), "{e}");
    assert!(e.contains("no reachable swarm manager"), "{e}");

    // A node down during scale is reported; the others converge.
    let down = format!("{}-worker2", site.project);
    assert!(Command::new("docker").args(["stop", "-t", "1", &down]).status().expect("docker stop").success());
    // The swarm notices a lost node after its heartbeat period; scale once it has.
    let manager = format!("{}-manager1", site.project);
    let noticed = (0..90).any(|_| {
        std::thread::sleep(Duration::from_secs(1));
        let out = Command::new("docker")
            .args(["exec", &manager, "docker", "node", "ls", "--format", "{{.Hostname}} {{.Status}}"])
            .output()
            .expect("docker exec");
        String::from_utf8_lossy(&out.stdout).contains("worker2 Down")
    });
    assert!(noticed, "the swarm never marked worker2 down");
    let out = site.prov(&["scale", "web=2", "-i", "inventories/local.yml", "--timeout", "120"]);
    let (o, e) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{o}\n{e}");
    assert!(o.contains("worker2"), "the down node is not reported:\n{o}");
    assert!(Command::new("docker").args(["start", &down]).status().expect("docker start").success());

    // A compose file with an error is reported with file:line; a missing image tarball is named.
    let pb = site.dir.path().join("playbooks/bad.yml");
    std::fs::write(
        &pb,
        "- hosts: managers\n  gather_facts: false\n  tasks:\n    - name: broken compose\n      copy:\n        dest: /tmp/broken.yml\n        content: \"services:\\n  web:\\n    image: [unclosed\\n\"\n    - name: deploy it\n      docker_stack:\n        name: broken\n        compose: [/tmp/broken.yml]\n      ignore_errors: true\n    - name: missing tarball\n      docker_image_load:\n        src: /nonexistent/web.tar\n",
    )
    .expect("playbook");
    let out = site.prov(&["apply", "playbooks/bad.yml", "-i", "inventories/local.yml"]);
    let (o, e) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{o}\n{e}");
    assert!(o.contains("/tmp/broken.yml:4:1: YAML syntax error"), "compose error without file:line:\n{o}");
    assert!(o.contains("/nonexistent/web.tar"), "missing tarball not named:\n{o}");

    // Teardown leaves nothing.
    let (code, _, all) = site.apply("delete-vms", &[]);
    assert_eq!(code, 0, "{all}");
    assert!(site.containers().is_empty());
    assert!(!site.network_exists());
}
