//! `prov scale web=3 celery=1`: set swarm service replicas through a reachable manager from
//! the inventory, all in one `docker service scale`, then wait until every service runs as
//! many tasks as it should (and still does after its update monitor window).

use crate::cli::ScaleArgs;
use crate::driver::{EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK, EXIT_UNREACHABLE};
use prov_core::cmd::{Cmd, Word, WordKind};
use prov_core::connection::{Connection, ExecRequest};
use prov_exec::Connector as _;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Exit code for bad arguments (`web=abc`), as ansible-playbook's "bad options".
pub const EXIT_BAD_OPTIONS: i32 = 5;

/// Parses `name=N` arguments.
pub fn parse_targets(args: &[String]) -> Result<Vec<(String, u64)>, String> {
    let mut out: Vec<(String, u64)> = Vec::new();
    for a in args {
        let Some((name, n)) = a.split_once('=') else {
            return Err(format!("`{a}`: expected SERVICE=REPLICAS, e.g. web=3"));
        };
        if name.is_empty() {
            return Err(format!("`{a}`: the service name is empty"));
        }
        let n: u64 =
            n.trim().parse().map_err(|_| format!("`{a}`: replicas must be a whole number of 0 or more, not `{n}`"))?;
        if out.iter().any(|(x, _)| x == name) {
            return Err(format!("`{name}` is named twice"));
        }
        out.push((name.to_string(), n));
    }
    Ok(out)
}

/// Matches user names to swarm services: the exact name, or the one `<stack>_<name>`.
pub fn resolve(targets: &[(String, u64)], services: &[String]) -> Result<Vec<(String, u64)>, String> {
    let mut out = Vec::new();
    for (name, n) in targets {
        if services.iter().any(|s| s == name) {
            out.push((name.clone(), *n));
            continue;
        }
        let suffix = format!("_{name}");
        let found: Vec<&String> = services.iter().filter(|s| s.ends_with(&suffix)).collect();
        match found.as_slice() {
            [one] => out.push(((*one).clone(), *n)),
            [] => {
                return Err(format!(
                    "no service `{name}` in the swarm; services: {}",
                    if services.is_empty() { "(none)".to_string() } else { services.join(", ") }
                ))
            }
            many => {
                let names: Vec<&str> = many.iter().map(|s| s.as_str()).collect();
                return Err(format!("`{name}` is ambiguous: {}; use the full name", names.join(", ")));
            }
        }
    }
    Ok(out)
}

async fn sh(conn: &Arc<dyn Connection>, cmd: &str) -> Result<String, String> {
    let out = conn.exec(ExecRequest::new(cmd)).await.map_err(|e| e.to_string())?;
    if out.rc != 0 {
        let err = out.stderr_str();
        return Err(format!("`{cmd}` failed (rc {}): {}", out.rc, err.trim()));
    }
    Ok(out.stdout_str())
}

/// `running/desired` of each service (from `docker service ls`).
async fn replicas(conn: &Arc<dyn Connection>) -> Result<BTreeMap<String, (u64, u64)>, String> {
    let text = sh(conn, "docker service ls --format '{{.Name}} {{.Replicas}}'").await?;
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let mut f = line.split_whitespace();
        let (Some(name), Some(rep)) = (f.next(), f.next()) else { continue };
        if let Some((r, d)) = rep.split_once('/') {
            if let (Ok(r), Ok(d)) = (r.parse(), d.parse()) {
                out.insert(name.to_string(), (r, d));
            }
        }
    }
    Ok(out)
}

/// Runs `prov scale`.
pub async fn scale(a: ScaleArgs, sources: &prov_core::source::SourceMap) -> i32 {
    let targets = match parse_targets(&a.services) {
        Ok(t) => t,
        Err(e) => {
            say_err!("prov scale: {e}");
            return EXIT_BAD_OPTIONS;
        }
    };
    let loaded = match crate::driver::load_inventory(&a.common, sources).await {
        Ok(l) => l,
        Err(d) => {
            let n = crate::diagnostics::print_all(&d.0, sources);
            say_err!("prov scale: {n} error(s) in the inventory");
            return EXIT_BAD_INPUT;
        }
    };
    let managers = loaded.inventory.group_hosts(&a.manager_group);
    if managers.is_empty() {
        say_err!(
            "prov scale: the inventory has no host in group `{}`; name the managers' group with --manager-group",
            a.manager_group
        );
        return EXIT_BAD_INPUT;
    }
    let inventory_paths = crate::driver::inventory_paths(&a.common);
    let _lock = match crate::driver::take_run_lock(&loaded.projects, &inventory_paths, a.lock_timeout) {
        Ok(l) => l,
        Err(code) => return code,
    };
    let connector = match crate::connect::ssh_connector(a.host_key_checking, a.known_hosts.clone(), &loaded.known_hosts)
    {
        Ok(c) => c,
        Err(e) => {
            say_err!("prov scale: {e}");
            return EXIT_BAD_INPUT;
        }
    };
    // The first manager that answers and can schedule.
    let mut tried = Vec::new();
    let mut chosen = None;
    for m in &managers {
        let conn = match connector.connection(m, &loaded.inventory.host_vars(m)) {
            Ok(c) => c,
            Err(e) => {
                tried.push(format!("{m}: {e}"));
                continue;
            }
        };
        match sh(&conn, "docker info --format '{{.Swarm.ControlAvailable}}'").await {
            Ok(s) if s.trim() == "true" => {
                chosen = Some((m.clone(), conn));
                break;
            }
            Ok(_) => tried.push(format!("{m}: not an active swarm manager")),
            Err(e) => tried.push(format!("{m}: {e}")),
        }
    }
    let Some((manager, conn)) = chosen else {
        say_err!("prov scale: no reachable swarm manager in group `{}`:", a.manager_group);
        for t in tried {
            say_err!("  {t}");
        }
        return EXIT_UNREACHABLE;
    };
    let before = match replicas(&conn).await {
        Ok(r) => r,
        Err(e) => {
            say_err!("prov scale: {manager}: {e}");
            return EXIT_FAILED;
        }
    };
    let names: Vec<String> = before.keys().cloned().collect();
    let targets = match resolve(&targets, &names) {
        Ok(t) => t,
        Err(e) => {
            say_err!("prov scale: {e}");
            return EXIT_BAD_INPUT;
        }
    };
    say!("scaling through {manager}:");
    for (s, n) in &targets {
        let (r, d) = before.get(s).copied().unwrap_or_default();
        say!("  {s}: {r}/{d} -> {n}");
    }
    // The names are the swarm's own (see `resolve`); still checked, and after `--`.
    if let Some(e) = targets.iter().find_map(|(s, _)| Word::new(WordKind::DockerObject, s).err()) {
        say_err!("prov scale: {e}");
        return EXIT_BAD_INPUT;
    }
    let scale = Cmd::new("docker")
        .flag("service")
        .flag("scale")
        .flag("--detach")
        .operands(targets.iter().map(|(s, n)| format!("{s}={n}")))
        .build();
    if let Err(e) = sh(&conn, scale.as_str()).await {
        say_err!("prov scale: {manager}: {e}");
        return EXIT_FAILED;
    }
    let down = sh(&conn, "docker node ls --format '{{.Hostname}} {{.Status}}'").await.unwrap_or_default();
    for line in down.lines().filter(|l| !l.ends_with(" Ready")) {
        say!("  warning: node {} (its tasks are rescheduled on the others)", line.replace(' ', " is "));
    }
    let deadline = Instant::now() + Duration::from_secs(a.timeout);
    let monitor = monitor_window(&conn, &targets).await;
    let mut last = String::new();
    let mut settled_at: Option<Instant> = None;
    loop {
        let now = match replicas(&conn).await {
            Ok(r) => r,
            Err(e) => {
                say_err!("prov scale: {manager}: {e}");
                return EXIT_FAILED;
            }
        };
        let line: Vec<String> = targets
            .iter()
            .map(|(s, n)| {
                let (r, _) = now.get(s).copied().unwrap_or_default();
                format!("{s} {r}/{n}")
            })
            .collect();
        let line = line.join(", ");
        if line != last {
            say!("  {line}");
            last = line;
        }
        let done = targets.iter().all(|(s, n)| now.get(s).is_some_and(|(r, d)| r == n && d == n));
        match (done, settled_at) {
            (true, None) => settled_at = Some(Instant::now()),
            (true, Some(t)) if t.elapsed() >= monitor => {
                say!("converged: {last}");
                return EXIT_OK;
            }
            (false, _) => settled_at = None,
            _ => {}
        }
        if Instant::now() > deadline {
            say_err!("prov scale: not converged after {} s: {last}", a.timeout);
            for (s, n) in &targets {
                if now.get(s).is_some_and(|(r, _)| r == n) {
                    continue;
                }
                let ps = Cmd::new("docker")
                    .flag("service")
                    .flag("ps")
                    .opt("--filter", "desired-state=running")
                    .opt("--format", "{{.Name}} on {{.Node}}: {{.CurrentState}} {{.Error}}")
                    .operand(s)
                    .build();
                let ps = sh(&conn, ps.as_str()).await.unwrap_or_default();
                for l in ps.lines().filter(|l| !l.contains("Running")) {
                    say_err!("  {l}");
                }
            }
            return EXIT_FAILED;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// The longest update monitor window of the services (capped at 30 s): a task must stay
/// up that long before scaling counts as done.
async fn monitor_window(conn: &Arc<dyn Connection>, targets: &[(String, u64)]) -> Duration {
    let cmd = Cmd::new("docker")
        .flag("service")
        .flag("inspect")
        .opt("--format", "{{.Spec.UpdateConfig.Monitor}}")
        .operands(targets.iter().map(|(s, _)| s))
        .build();
    let text = sh(conn, cmd.as_str()).await.unwrap_or_default();
    let ns = text.lines().filter_map(|l| l.trim().parse::<u64>().ok()).max().unwrap_or(0);
    Duration::from_nanos(ns).min(Duration::from_secs(30))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments() {
        assert_eq!(
            parse_targets(&["web=3".into(), "celery=0".into()]).expect("ok"),
            vec![("web".into(), 3), ("celery".into(), 0)]
        );
        assert!(parse_targets(&["web=-1".into()]).expect_err("negative").contains("whole number"));
        assert!(parse_targets(&["web=abc".into()]).expect_err("text").contains("not `abc`"));
        assert!(parse_targets(&["web".into()]).expect_err("no =").contains("SERVICE=REPLICAS"));
        assert!(parse_targets(&["web=1".into(), "web=2".into()]).is_err());
    }

    #[test]
    fn names_match_stack_services() {
        let svc = vec!["demo_web".to_string(), "demo_app".to_string(), "other_web".to_string(), "solo".to_string()];
        assert_eq!(resolve(&[("app".into(), 2)], &svc).expect("suffix"), vec![("demo_app".into(), 2)]);
        assert_eq!(resolve(&[("solo".into(), 1)], &svc).expect("exact"), vec![("solo".into(), 1)]);
        assert!(resolve(&[("web".into(), 1)], &svc).expect_err("two stacks").contains("ambiguous"));
        let e = resolve(&[("nope".into(), 1)], &svc).expect_err("unknown");
        assert!(e.contains("demo_web, demo_app"), "{e}");
    }
}
