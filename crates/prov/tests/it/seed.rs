//! Checks of the seed's stack (roles/install-stack, scripts/seed/) on a running swarm of
//! docker-provider VMs, through the load balancer and inside the services' containers: misago
//! reads and writes PostgreSQL and Redis, a Celery job's result lands in PostgreSQL, and a
//! static file misago wrote into the shared directory is served by `web` on another node.

use crate::site::Site;
use crate::util::http_get;
use std::process::Command;
use std::time::Duration;

/// `sh -c SCRIPT` on VM `vm` of the site: stdout, or stdout and stderr when it fails.
fn on_vm(site: &Site, vm: &str, script: &str) -> Result<String, String> {
    let out = Command::new("docker")
        .args(["exec", &format!("{}-{vm}", site.project), "sh", "-c", script])
        .output()
        .expect("docker exec");
    let o = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if out.status.success() {
        Ok(o)
    } else {
        Err(format!("{o}\n{}", String::from_utf8_lossy(&out.stderr)))
    }
}

/// The nodes running a task of swarm service `service`, asked on manager1.
pub fn nodes_of(site: &Site, service: &str) -> Vec<String> {
    let ps = format!("docker service ps {service} --filter desired-state=running --format '{{{{.Node}}}}'");
    let out = on_vm(site, "manager1", &ps).unwrap_or_else(|e| panic!("{ps}: {e}"));
    out.lines().map(str::to_string).collect()
}

/// `CMD` (a shell script) in a container of swarm service `service` on VM `node`.
pub fn in_task(site: &Site, node: &str, service: &str, cmd: &str) -> String {
    let script = format!(
        "c=$(docker ps -q --filter label=com.docker.swarm.service.name={service} | head -n 1) && docker exec \"$c\" sh -c '{cmd}'"
    );
    on_vm(site, node, &script).unwrap_or_else(|e| panic!("{service} on {node}: {cmd}: {e}"))
}

/// One SQL query in the `db` service's container (psql, trusted local login).
fn sql(site: &Site, query: &str) -> String {
    let node = nodes_of(site, "demo_db").into_iter().next().expect("db runs");
    in_task(site, &node, "demo_db", &format!("psql -U seed -d postgres -tAc \"{query}\""))
}

/// `misago NODE visits=V rows=R` through the balancer: (V, R).
fn visit(lb: &str) -> (u64, u64) {
    let body = http_get(lb, "/").unwrap_or_else(|e| panic!("/ through the balancer: {e}"));
    let num = |key: &str| -> u64 {
        body.split_whitespace()
            .find_map(|w| w.strip_prefix(key))
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no {key} in {body:?}"))
    };
    assert!(body.starts_with("misago "), "{body}");
    (num("visits="), num("rows="))
}

/// Every check of the seed's services; `tag` makes the names this run writes its own.
pub fn check(site: &Site, lb: &str, tag: &str) {
    // misago counts each visit in Redis and in PostgreSQL, and reads both back.
    let (v1, r1) = visit(lb);
    let (v2, r2) = visit(lb);
    assert!(v2 > v1 && r2 > r1, "the counters did not grow: visits {v1} -> {v2}, rows {r1} -> {r2}");
    let rows: u64 = sql(site, "SELECT count(*) FROM visits").parse().expect("a count");
    assert!(rows >= r2, "PostgreSQL has {rows} visits, misago said {r2}");
    let node = nodes_of(site, "demo_redis").into_iter().next().expect("redis runs");
    let visits: u64 =
        in_task(site, &node, "demo_redis", "redis-cli GET seed:visits").parse().expect("the Redis counter");
    assert!(visits >= v2, "Redis says {visits} visits, misago said {v2}");

    // A job for celery: misago queues it in Redis, the worker writes its result to PostgreSQL.
    let queued = http_get(lb, &format!("/job?payload={tag}")).expect("/job");
    let job: u64 = queued
        .strip_prefix("job ")
        .and_then(|r| r.strip_suffix(" queued"))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{queued}"));
    let reversed: String = tag.chars().rev().collect();
    let done = (0..120).find_map(|_| {
        let r = http_get(lb, &format!("/job/{job}")).ok();
        if r.is_none() {
            std::thread::sleep(Duration::from_millis(500));
        }
        r
    });
    let done = done.unwrap_or_else(|| panic!("job {job} never done"));
    assert!(done.starts_with(&format!("job {job} {reversed} by ")), "{done}");
    assert_eq!(sql(site, &format!("SELECT result FROM jobs WHERE id = {job}")), reversed);

    // A static file misago writes into the share is served by web, read-only, on every node
    // that runs web, also those that are not the writer's; and through the balancer.
    let published = http_get(lb, &format!("/publish?name={tag}")).expect("/publish");
    let writer = published
        .strip_prefix(&format!("published /static/{tag}.txt by "))
        .unwrap_or_else(|| panic!("{published}"))
        .to_string();
    let expected = format!("{tag} published by misago on {writer}");
    let others: Vec<String> = nodes_of(site, "demo_web").into_iter().filter(|n| *n != writer).collect();
    assert!(!others.is_empty(), "web runs only on {writer}, the writer's node");
    for node in &others {
        let served = in_task(site, node, "demo_web", &format!("curl -fsS http://127.0.0.1:8080/static/{tag}.txt"));
        assert_eq!(served, expected, "web on {node}");
    }
    assert_eq!(http_get(lb, &format!("/static/{tag}.txt")).as_deref(), Ok(expected.as_str()));
    let ro = in_task(site, &others[0], "demo_web", "touch /srv/share/static/x 2>&1 || true");
    assert!(ro.contains("Read-only"), "web's share is writable: {ro}");
}
