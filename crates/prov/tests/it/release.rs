//! Zero-downtime releases end to end (examples/release): three docker-provider VMs with nginx
//! serving from `current`. A stream of HTTP requests runs during a "classic" deploy (delete,
//! then copy) and during a `release` deploy, and the failures of each are counted; then
//! rollback (with the data backup), a second rollback with nothing older, and a release
//! whose health check fails on the first host of a `serial: 1` rollout.

use crate::site::Site;
use crate::util::{json_events, recap_changed, text};
use serde_json::Value as Json;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// One HTTP/1.0 GET: the status and body, or `None` when the connection failed.
fn get(addr: &str, path: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect_timeout(&addr.parse().ok()?, Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: app\r\n\r\n").ok()?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).ok()?;
    let text = String::from_utf8_lossy(&buf).into_owned();
    let status = text.split_whitespace().nth(1)?.parse().ok()?;
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    Some((status, body))
}

/// `v1`, `v2`, ... from a page or stylesheet of the example app.
fn version(body: &str) -> Option<String> {
    let i = body.find("version v")?;
    Some(body[i + 8..].chars().take_while(|c| c.is_ascii_alphanumeric()).collect())
}

/// What a request stream saw on one host.
#[derive(Debug, Default)]
struct Seen {
    requests: usize,
    /// Errors and non-200 answers.
    failed: usize,
    /// Page and stylesheet fetched one after the other from different versions.
    mixed: usize,
    /// Versions in order (one per successful request).
    versions: Vec<String>,
}

/// Requests `/` and `/app.css` in turn on every address until `stop` (at most 20,000 each).
fn stream(addrs: Vec<String>, stop: Arc<AtomicBool>) -> Vec<std::thread::JoinHandle<Seen>> {
    addrs
        .into_iter()
        .map(|addr| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut seen = Seen::default();
                while !stop.load(Ordering::SeqCst) && seen.requests < 20_000 {
                    let mut pair = Vec::new();
                    for path in ["/", "/app.css"] {
                        seen.requests += 1;
                        match get(&addr, path) {
                            Some((200, body)) => match version(&body) {
                                Some(v) => {
                                    seen.versions.push(v.clone());
                                    pair.push(v);
                                }
                                None => seen.failed += 1,
                            },
                            _ => seen.failed += 1,
                        }
                    }
                    if pair.len() == 2 && pair[0] != pair[1] {
                        seen.mixed += 1;
                    }
                }
                seen
            })
        })
        .collect()
}

/// Runs `prov args` while streams hit `addrs`; returns the exit code, output and what was seen.
fn under_load(site: &Site, args: &[&str], addrs: &[String]) -> (i32, String, Vec<Seen>) {
    let stop = Arc::new(AtomicBool::new(false));
    let threads = stream(addrs.to_vec(), stop.clone());
    std::thread::sleep(Duration::from_millis(300));
    let out = site.prov(args);
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::SeqCst);
    let seen = threads.into_iter().map(|t| t.join().expect("stream thread")).collect();
    let (o, e) = text(&out);
    (out.status.code().unwrap_or(-1), format!("{o}\n{e}"), seen)
}

fn json_run(site: &Site, args: &[&str]) -> (i32, Vec<Json>, String) {
    let mut a = args.to_vec();
    a.extend(["-i", "inventory.yml", "--output", "json"]);
    json_events(&site.prov(&a))
}

/// The version each address serves now.
fn serving(addrs: &[String]) -> Vec<String> {
    addrs.iter().map(|a| get(a, "/").and_then(|(_, b)| version(&b)).unwrap_or_else(|| "none".into())).collect()
}

#[test]
fn zero_downtime_release_rollback_and_failed_health_check() {
    let site = Site::example("rel", "examples/release");

    // Three VMs, nginx, release v1; the same again changes nothing.
    let (code, _, all) = json_run(&site, &["apply", "site.yml"]);
    assert_eq!(code, 0, "{all}");
    let (code, ev, all) = json_run(&site, &["apply", "site.yml"]);
    assert_eq!((code, recap_changed(&ev)), (0, 0), "second run changed something:\n{all}");
    let out = site.prov(&["inventory", "-i", "inventory.yml", "--list"]);
    let inv: Json = serde_json::from_slice(&out.stdout).expect("inventory JSON");
    let mut ips: Vec<String> = ["web1", "web2", "web3"]
        .iter()
        .map(|h| inv["_meta"]["hostvars"][h]["ansible_host"].as_str().expect("ansible_host").to_string())
        .collect();
    ips.sort();
    let release: Vec<String> = ips.iter().map(|ip| format!("{ip}:80")).collect();
    let classic: Vec<String> = ips.iter().map(|ip| format!("{ip}:8080")).collect();
    assert_eq!(serving(&release), ["v1", "v1", "v1"]);

    // (a) classic deploy of v2 over v1 under load.
    let (code, _, all) = json_run(&site, &["apply", "classic.yml"]);
    assert_eq!(code, 0, "{all}");
    let (code, out, seen_a) =
        under_load(&site, &["apply", "classic.yml", "-i", "inventory.yml", "-e", "app_version=v2"], &classic);
    assert_eq!(code, 0, "{out}");
    let (req_a, failed_a, mixed_a): (usize, usize, usize) =
        seen_a.iter().fold((0, 0, 0), |t, s| (t.0 + s.requests, t.1 + s.failed, t.2 + s.mixed));
    eprintln!("classic deploy: {req_a} requests, {failed_a} failed, {mixed_a} mixed page/stylesheet pairs");
    assert!(failed_a + mixed_a > 0, "the classic deploy showed no failed or mixed responses: {seen_a:?}");

    // (b) release of v2 under load: no failure, and once a host answers v2 it never answers v1.
    let (code, out, seen_b) =
        under_load(&site, &["apply", "site.yml", "-i", "inventory.yml", "-e", "app_version=v2"], &release);
    assert_eq!(code, 0, "{out}");
    let (req_b, failed_b, mixed_b): (usize, usize, usize) =
        seen_b.iter().fold((0, 0, 0), |t, s| (t.0 + s.requests, t.1 + s.failed, t.2 + s.mixed));
    eprintln!("release deploy: {req_b} requests, {failed_b} failed, {mixed_b} mixed page/stylesheet pairs");
    assert_eq!(failed_b, 0, "{seen_b:?}");
    for s in &seen_b {
        let first_v2 = s.versions.iter().position(|v| v == "v2").expect("the host switched to v2");
        assert!(s.versions[first_v2..].iter().all(|v| v == "v2"), "v1 after the switch: {:?}", s.versions);
        assert!(s.versions[..first_v2].iter().all(|v| v == "v1"));
    }
    assert_eq!(serving(&release), ["v2", "v2", "v2"]);
    let (code, ev, all) = json_run(&site, &["apply", "site.yml", "-e", "app_version=v2"]);
    assert_eq!((code, recap_changed(&ev)), (0, 0), "deploying v2 again changed something:\n{all}");
    let schema = site.prov(&["run", "web", "-i", "inventory.yml", "--", "cat /srv/app/shared/data/schema"]);
    assert_eq!(text(&schema).0.matches("schema v2").count(), 3, "{:?}", text(&schema));

    // Check mode names the release that would become current and changes nothing.
    let out = site.prov(&["rollback", "site.yml", "-i", "inventory.yml", "--check"]);
    let (o, e) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{o}\n{e}");
    assert!(o.contains("would switch /srv/app/current back to") && o.contains("(v1)"), "{o}");
    assert_eq!(serving(&release), ["v2", "v2", "v2"]);

    // Rollback: v1 everywhere, and the data as it was before v2's migration.
    let out = site.prov(&["rollback", "site.yml", "-i", "inventory.yml"]);
    let (o, e) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{o}\n{e}");
    assert!(o.contains("NOW RUNNING"), "{o}");
    assert_eq!(o.matches("(v1) (rolled back from").count(), 6, "three results and three summary lines:\n{o}");
    assert_eq!(serving(&release), ["v1", "v1", "v1"]);
    let schema = site.prov(&["run", "web", "-i", "inventory.yml", "--", "cat /srv/app/shared/data/schema"]);
    assert_eq!(text(&schema).0.matches("schema v1").count(), 3, "{:?}", text(&schema));

    // Nothing older than v1: a clear failure, and v1 stays.
    let out = site.prov(&["rollback", "site.yml", "-i", "inventory.yml"]);
    let (o, e) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{o}\n{e}");
    assert!(o.contains("no previous release to roll back to"), "{o}");
    assert!(o.contains("NOT ROLLED BACK: the rollout stopped before this host"), "{o}");
    assert_eq!(serving(&release), ["v1", "v1", "v1"]);

    // A release that fails its health check (it has no health.txt) on the first host stops
    // the rollout there; its migration is undone.
    let v3 = site.dir.path().join("files/app-v3");
    std::fs::create_dir_all(&v3).expect("mkdir");
    for f in ["index.html", "app.css", "migrate.sh"] {
        let from = site.dir.path().join("files/app-v2").join(f);
        std::fs::copy(&from, v3.join(f)).expect("copy (keeps the mode)");
        let body = std::fs::read_to_string(&from).expect("read");
        std::fs::write(v3.join(f), body.replace("v2", "v3")).expect("write");
    }
    let (code, ev, all) = json_run(&site, &["apply", "site.yml", "-e", "app_version=v3"]);
    assert_eq!(code, 2, "{all}");
    let failed: Vec<&Json> = ev.iter().filter(|e| e["event"] == "host_result" && e["status"] == "failed").collect();
    assert_eq!(failed.len(), 1, "{all}");
    let msg = failed[0]["msg"].as_str().unwrap_or_default();
    assert!(msg.contains("health check failed") && msg.contains("was removed and current is still"), "{msg}");
    assert!(msg.contains("data restored from"), "{msg}");
    assert_eq!(serving(&release), ["v1", "v1", "v1"], "no host switched to the broken release");
    let schema = site.prov(&["run", "web", "-i", "inventory.yml", "--", "cat /srv/app/shared/data/schema"]);
    assert_eq!(text(&schema).0.matches("schema v1").count(), 3, "v3's migration was undone: {:?}", text(&schema));

    let (code, _, all) = json_run(&site, &["apply", "site.yml", "--tags", "delete-vms"]);
    assert_eq!(code, 0, "{all}");
    assert!(site.containers().is_empty());
}

/// `prov rollback ROLE_DIR` over a local connection: the role's `release` task runs with
/// `state: rollback` on every host of the inventory.
#[test]
fn rollback_of_a_role() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let role = dir.join("roles/app");
    for v in ["v1", "v2"] {
        std::fs::create_dir_all(role.join(format!("files/app-{v}"))).expect("mkdir");
        std::fs::write(role.join(format!("files/app-{v}/index.html")), format!("version {v}\n")).expect("write");
    }
    std::fs::create_dir_all(role.join("tasks")).expect("mkdir");
    std::fs::write(
        role.join("tasks/main.yml"),
        "- name: deploy\n  release:\n    path: \"{{ app_root }}\"\n    src: \"app-{{ app_version }}\"\n    version: \"{{ app_version }}\"\n",
    )
    .expect("write");
    std::fs::create_dir_all(role.join("defaults")).expect("mkdir");
    std::fs::write(role.join("defaults/main.yml"), "app_version: v1\n").expect("write");
    std::fs::write(dir.join("site.yml"), "- hosts: all\n  gather_facts: false\n  roles: [app]\n").expect("write");
    let root = dir.join("srv/app");
    std::fs::write(dir.join("hosts.ini"), format!("box ansible_connection=local app_root={}\n", root.display()))
        .expect("write");
    let run = |args: &[&str]| {
        let out = crate::util::prov(dir, args);
        let (o, e) = text(&out);
        (out.status.code().unwrap_or(-1), format!("{o}\n{e}"))
    };
    let current = || std::fs::read_to_string(root.join("current/index.html")).unwrap_or_default();
    let (code, all) = run(&["apply", "site.yml", "-i", "hosts.ini"]);
    assert_eq!(code, 0, "{all}");
    let (code, all) = run(&["apply", "site.yml", "-i", "hosts.ini", "--output", "json"]);
    let events: Vec<Json> = all.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    assert_eq!((code, recap_changed(&events)), (0, 0), "{all}");
    let (code, all) = run(&["apply", "site.yml", "-i", "hosts.ini", "-e", "app_version=v2"]);
    assert_eq!((code, current()), (0, "version v2\n".to_string()), "{all}");
    let (code, all) = run(&["rollback", "roles/app", "-i", "hosts.ini"]);
    assert_eq!(code, 0, "{all}");
    assert!(all.contains("NOW RUNNING") && all.contains("(v1) (rolled back from"), "{all}");
    assert_eq!(current(), "version v1\n");
}
