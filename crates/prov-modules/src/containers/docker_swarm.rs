//! `docker_swarm`: makes this host a swarm manager (init), a member (join), or no member (leave).
//!
//! Arguments (as in Ansible's `community.docker.docker_swarm`):
//! - `state`: `present` (default: `docker swarm init` unless already in a swarm as a manager),
//!   `join` (`docker swarm join` unless already in a swarm), `absent` (`docker swarm leave`
//!   when in a swarm), `inspect` (read only: register `swarm_facts`; must run on a manager).
//! - `advertise_addr`, `listen_addr`: for `present` and `join` (`--advertise-addr`,
//!   `--listen-addr`).
//! - `join_token`, `remote_addrs` (list of `ip` or `ip:port` of managers, tried in order): for
//!   `join` (required there).
//! - `force`: with `absent`, leave even when this node is a manager (`--force`).
//! - `default_addr_pool` (list of CIDRs), `subnet_size`: for `present`, only used at init.
//!
//! One `docker info --format '{{json .Swarm}}'` reads the state. With `present` and `inspect` it
//! registers `swarm_facts`: the cluster as `docker swarm inspect` shows it (`ID`, `Spec`,
//! `CreatedAt`, ...) plus `JoinTokens.Worker` and `JoinTokens.Manager`, as Ansible does. Every
//! state registers `node_id` (empty when not in a swarm). The settings of an existing swarm are
//! not updated (`present` on a manager is ok whatever its settings); Ansible's `force` with
//! `present` (re-creating the swarm) is not supported.
//!
//! ```yaml
//! - hosts: managers[0]
//!   tasks:
//!     - docker_swarm: { state: present, advertise_addr: "{{ ansible_host }}" }
//!       register: swarm
//! - hosts: workers
//!   tasks:
//!     - docker_swarm:
//!         state: join
//!         advertise_addr: "{{ ansible_host }}"
//!         join_token: "{{ hostvars[groups.managers[0]].swarm.swarm_facts.JoinTokens.Worker }}"
//!         remote_addrs: ["{{ hostvars[groups.managers[0]].ansible_host }}:2377"]
//! - hosts: old_nodes
//!   tasks:
//!     - docker_swarm: { state: absent, force: true }
//! ```

use super::{docker_change, docker_error, docker_json, docker_probe, json_value};
use async_trait::async_trait;
use prov_core::args::lenient_bool;
use prov_core::cmd::Cmd;
use prov_core::module::{Action, Change, Module, ModuleCtx, ModuleError, Outcome, Plan};
use serde::Deserialize;
use serde_json::{json, Value as Json};

/// One string or a list of them.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    /// A single address.
    One(String),
    /// Several addresses.
    Many(Vec<String>),
}

impl OneOrMany {
    fn to_vec(&self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s.clone()],
            OneOrMany::Many(v) => v.clone(),
        }
    }
}

/// Arguments of `docker_swarm`.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Args {
    /// `present` (init), `join`, `absent` (leave) or `inspect`.
    #[serde(default)]
    pub state: Option<String>,
    /// `--advertise-addr`.
    #[serde(default)]
    pub advertise_addr: Option<String>,
    /// `--listen-addr`.
    #[serde(default)]
    pub listen_addr: Option<String>,
    /// Token for `join`.
    #[serde(default)]
    pub join_token: Option<String>,
    /// Managers to join through, tried in order.
    #[serde(default)]
    pub remote_addrs: Option<OneOrMany>,
    /// Leave even as a manager.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub force: bool,
    /// Address pools for overlay networks (init only).
    #[serde(default)]
    pub default_addr_pool: Option<Vec<String>>,
    /// Subnet mask length of the pools (init only).
    #[serde(default)]
    pub subnet_size: Option<u32>,
}

impl Args {
    fn state(&self) -> &str {
        self.state.as_deref().unwrap_or("present")
    }
}

/// The `docker_swarm` module.
#[derive(Debug, Default)]
pub struct DockerSwarm;

/// What `apply` runs.
pub enum SwarmPlan {
    /// `docker swarm init ...`.
    Init(String),
    /// `docker swarm join ...`, one command per remote address, tried in order.
    Join(Vec<String>),
    /// `docker swarm leave ...`.
    Leave(String),
}

/// The swarm part of `docker info`.
#[derive(Debug, Clone, Default)]
pub struct SwarmInfo {
    /// inactive, pending, active, error or locked.
    pub local_state: String,
    /// Whether this node is a manager.
    pub manager: bool,
    /// This node's id (empty outside a swarm).
    pub node_id: String,
    /// Error text docker reports (for error states).
    pub error: String,
}

impl SwarmInfo {
    /// Parses `docker info --format '{{json .Swarm}}'`.
    pub fn parse(v: &Json) -> Result<Self, String> {
        let local_state = v
            .get("LocalNodeState")
            .and_then(Json::as_str)
            .ok_or_else(|| format!("docker info has no Swarm.LocalNodeState: {v}"))?
            .to_string();
        Ok(SwarmInfo {
            local_state,
            manager: v.get("ControlAvailable").and_then(Json::as_bool).unwrap_or(false),
            node_id: v.get("NodeID").and_then(Json::as_str).unwrap_or("").to_string(),
            error: v.get("Error").and_then(Json::as_str).unwrap_or("").to_string(),
        })
    }

    /// The role as the diff shows it.
    fn describe(&self) -> String {
        match self.local_state.as_str() {
            "active" if self.manager => "manager".into(),
            "active" => "worker".into(),
            s => s.to_string(),
        }
    }

    /// A failure for states no module action fixes (pending, error, locked).
    fn unusable(&self, host: &str) -> ModuleError {
        let mut msg = format!("the swarm state of {host} is {}", self.local_state);
        if !self.error.is_empty() {
            msg.push_str(&format!(": {}", self.error));
        }
        if self.local_state == "locked" {
            msg.push_str(" (unlock it with docker swarm unlock)");
        }
        ModuleError::Failed(msg)
    }
}

/// Reads this host's swarm state.
pub(crate) async fn swarm_info(cx: &ModuleCtx<'_>) -> Result<SwarmInfo, ModuleError> {
    let v = docker_json(cx, "docker info --format '{{json .Swarm}}'".into(), "reading the swarm state (docker info)")
        .await?;
    SwarmInfo::parse(&v).map_err(ModuleError::Failed)
}

/// Reads the join tokens and the cluster (on a manager): Ansible's `swarm_facts`.
pub(crate) async fn swarm_facts(cx: &ModuleCtx<'_>) -> Result<Json, ModuleError> {
    let cmd = "docker swarm join-token -q worker && docker swarm join-token -q manager && \
               docker info --format '{{json .Swarm.Cluster}}'";
    let out = docker_probe(cx, cmd.into(), "reading the swarm join tokens").await?;
    let text = out.stdout_str();
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    let (Some(worker), Some(manager)) = (lines.next(), lines.next()) else {
        return Err(ModuleError::Failed(format!("unexpected output reading the swarm join tokens: {}", text.trim())));
    };
    let mut facts = match lines.next().map(serde_json::from_str::<Json>) {
        Some(Ok(Json::Object(m))) => Json::Object(m),
        _ => json!({}),
    };
    facts["JoinTokens"] = json!({"Worker": worker, "Manager": manager});
    Ok(facts)
}

fn ok_with_facts(node_id: &str, facts: Json) -> Outcome {
    Outcome::ok().with("node_id", node_id).with("swarm_facts", json_value(facts))
}

#[async_trait]
impl Module for DockerSwarm {
    const NAME: &'static str = "docker_swarm";
    const COLLECTIONS: &'static [&'static str] = &["community.docker", "ansible.builtin"];
    type Args = Args;
    type Plan = SwarmPlan;

    fn check_args(args: &Args) -> Result<(), String> {
        match args.state() {
            "present" | "absent" | "inspect" => Ok(()),
            "join" => {
                if args.join_token.as_deref().unwrap_or("").is_empty() {
                    return Err("state=join needs join_token".into());
                }
                if args.remote_addrs.as_ref().map(OneOrMany::to_vec).unwrap_or_default().is_empty() {
                    return Err("state=join needs remote_addrs (the address of a manager)".into());
                }
                Ok(())
            }
            s => Err(format!("state must be present, join, absent or inspect, not {s}")),
        }
    }

    async fn plan(&self, args: &Args, cx: &ModuleCtx<'_>) -> Result<Plan<SwarmPlan>, ModuleError> {
        let info = swarm_info(cx).await?;
        let before = format!("{}\n", info.describe());
        let inactive = info.local_state == "inactive";
        match args.state() {
            "present" | "inspect" if info.local_state == "active" => {
                if !info.manager {
                    return Err(ModuleError::Failed(format!(
                        "{} is a swarm worker: state={} needs a manager",
                        cx.host,
                        args.state()
                    )));
                }
                Ok(Plan::Ok(ok_with_facts(&info.node_id, swarm_facts(cx).await?)))
            }
            "present" if inactive => {
                let mut cmd = Cmd::new("docker").flag("swarm").flag("init");
                if let Some(a) = &args.advertise_addr {
                    cmd = cmd.opt("--advertise-addr", a);
                }
                if let Some(a) = &args.listen_addr {
                    cmd = cmd.opt("--listen-addr", a);
                }
                for p in args.default_addr_pool.iter().flatten() {
                    cmd = cmd.opt("--default-addr-pool", p);
                }
                if let Some(n) = args.subnet_size {
                    cmd = cmd.opt("--default-addr-pool-mask-length", n.to_string());
                }
                Ok(Plan::Change(
                    Change::new(SwarmPlan::Init(cmd.build().into()), Action::Create, "swarm", cx.host).with_diff(
                        "swarm",
                        before,
                        "manager (init)\n",
                    ),
                ))
            }
            "inspect" if inactive => {
                Err(ModuleError::Failed(format!("{} is not in a swarm: state=inspect needs a swarm manager", cx.host)))
            }
            "join" if inactive => {
                let token = args.join_token.as_deref().unwrap_or("");
                let remotes = args.remote_addrs.as_ref().map(OneOrMany::to_vec).unwrap_or_default();
                let mut join = Cmd::new("docker").flag("swarm").flag("join").opt("--token", token);
                if let Some(a) = &args.advertise_addr {
                    join = join.opt("--advertise-addr", a);
                }
                if let Some(a) = &args.listen_addr {
                    join = join.opt("--listen-addr", a);
                }
                // The remote address is an operand after `--`: `-H…` cannot become an option.
                let cmds = remotes.iter().map(|r| join.clone().operand(r).build().into()).collect();
                let first = remotes.first().cloned().unwrap_or_default();
                Ok(Plan::Change(Change::new(SwarmPlan::Join(cmds), Action::Create, "swarm member", cx.host).with_diff(
                    "swarm",
                    before,
                    format!("member (join {first})\n"),
                )))
            }
            "join" if info.local_state == "active" || info.local_state == "pending" => {
                Ok(Plan::Ok(Outcome::ok().with("node_id", info.node_id.as_str())))
            }
            "absent" if inactive => Ok(Plan::Ok(Outcome::ok().with("node_id", ""))),
            "absent" => {
                let cmd = if args.force { "docker swarm leave --force" } else { "docker swarm leave" };
                Ok(Plan::Change(
                    Change::new(SwarmPlan::Leave(cmd.into()), Action::Delete, "swarm member", cx.host).with_diff(
                        "swarm",
                        before,
                        "inactive\n",
                    ),
                ))
            }
            _ => Err(info.unusable(cx.host)),
        }
    }

    async fn apply(&self, _args: &Args, plan: SwarmPlan, cx: &ModuleCtx<'_>) -> Result<Outcome, ModuleError> {
        let changed = |o: Outcome| Outcome { changed: true, ..o };
        match plan {
            SwarmPlan::Init(cmd) => {
                if let Err(failed) = docker_change(cx, cmd, "docker swarm init").await? {
                    return Ok(failed);
                }
                let info = swarm_info(cx).await?;
                let facts = swarm_facts(cx).await?;
                let id = facts.get("ID").and_then(Json::as_str).unwrap_or("").to_string();
                Ok(changed(ok_with_facts(&info.node_id, facts))
                    .with("actions", vec![format!("New Swarm cluster created: {id}")]))
            }
            SwarmPlan::Join(cmds) => {
                let mut errors = Vec::new();
                let mut last = None;
                for cmd in cmds {
                    let out = cx.exec(cmd).await?;
                    if out.rc == 0 {
                        let info = swarm_info(cx).await?;
                        return Ok(changed(Outcome::ok().with("node_id", info.node_id.as_str()))
                            .with("actions", vec!["New node is added to swarm cluster"]));
                    }
                    errors.push(docker_error("docker swarm join", &out));
                    let missing_docker = out.rc == 127;
                    last = Some(out);
                    if missing_docker {
                        break;
                    }
                }
                let mut o = Outcome::failed(errors.join("; "));
                if let Some(out) = last {
                    o = o.with_exec(&out);
                }
                Ok(o)
            }
            SwarmPlan::Leave(cmd) => {
                match docker_change(cx, cmd, "docker swarm leave").await? {
                    Err(failed) => Ok(failed),
                    Ok(_) => Ok(changed(Outcome::ok().with("node_id", ""))
                        .with("actions", vec!["Node has left the swarm cluster"])),
                }
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::testing::*;
    use prov_core::cmd::Sh;
    use prov_core::testutil::FakeConnection;
    use serde_json::json;

    // Real `docker info --format '{{json .Swarm}}'` output of docker 20.10.24 (Debian 12), the
    // TLS certificate shortened.
    pub(crate) const INACTIVE: &str = r#"{"NodeID":"","NodeAddr":"","LocalNodeState":"inactive","ControlAvailable":false,"Error":"","RemoteManagers":null}"#;
    pub(crate) const MANAGER: &str = r#"{"NodeID":"z0z4qlxv0xlabvxp5krto4j6d","NodeAddr":"10.215.0.11","LocalNodeState":"active","ControlAvailable":true,"Error":"","RemoteManagers":[{"NodeID":"z0z4qlxv0xlabvxp5krto4j6d","Addr":"10.215.0.11:2377"}],"Nodes":1,"Managers":1,"Cluster":{"ID":"z9rnfch9cgcbna3pb0n6vzf1f","Version":{"Index":10},"CreatedAt":"2026-11-25T23:14:30.274871314Z","UpdatedAt":"2026-11-25T23:14:30.787933614Z","Spec":{"Name":"default","Labels":{},"Orchestration":{"TaskHistoryRetentionLimit":5},"Raft":{"SnapshotInterval":10000,"KeepOldSnapshots":0,"LogEntriesForSlowFollowers":500,"ElectionTick":10,"HeartbeatTick":1},"Dispatcher":{"HeartbeatPeriod":5000000000},"CAConfig":{"NodeCertExpiry":7776000000000000},"TaskDefaults":{},"EncryptionConfig":{"AutoLockManagers":false}},"TLSInfo":{"TrustRoot":"-----BEGIN CERTIFICATE-----\nMIIBazCCARCgAwIBAgIU\n-----END CERTIFICATE-----\n","CertIssuerSubject":"MBMxETAPBgNVBAMTCHN3YXJtLWNh","CertIssuerPublicKey":"MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEBGqlDD"},"RootRotationInProgress":false,"DefaultAddrPool":["10.0.0.0/8"],"SubnetSize":24,"DataPathPort":4789}}"#;
    pub(crate) const WORKER: &str = r#"{"NodeID":"iy3hfqhup6c5zvce1r23jg2oc","NodeAddr":"10.215.0.21","LocalNodeState":"active","ControlAvailable":false,"Error":"","RemoteManagers":[{"NodeID":"z0z4qlxv0xlabvxp5krto4j6d","Addr":"10.215.0.11:2377"}]}"#;
    /// `docker swarm join-token -q worker && ... manager && docker info --format '{{json .Swarm.Cluster}}'`.
    pub(crate) const TOKENS: &str = "SWMTKN-1-1dagcj3hpf76g3mqggv80vrxqdehze1tojnekjpytmn7gvf6ul-5w0arctaxzov597jilt6a46ls\n\
        SWMTKN-1-1dagcj3hpf76g3mqggv80vrxqdehze1tojnekjpytmn7gvf6ul-5a2arit6w8qd2cwgh3wd3aidj\n\
        {\"ID\":\"z9rnfch9cgcbna3pb0n6vzf1f\",\"Version\":{\"Index\":10},\"Spec\":{\"Name\":\"default\",\"Labels\":{}},\"DefaultAddrPool\":[\"10.0.0.0/8\"],\"SubnetSize\":24,\"DataPathPort\":4789}\n";
    const INFO: &str = "docker info --format '{{json .Swarm}}'";
    const WORKER_TOKEN: &str = "SWMTKN-1-1dagcj3hpf76g3mqggv80vrxqdehze1tojnekjpytmn7gvf6ul-5w0arctaxzov597jilt6a46ls";

    fn facts(o: &Outcome, path: &[&str]) -> String {
        let mut v = o.data.get("swarm_facts").cloned().unwrap_or_default();
        for p in path {
            v = v.get_attr(p).unwrap_or_default();
        }
        v.as_str().unwrap_or("").to_string()
    }

    #[tokio::test]
    async fn present_on_a_manager_is_ok_and_registers_tokens() {
        let h = fake(FakeConnection::new().on(INFO, 0, MANAGER).on("docker swarm join-token", 0, TOKENS));
        let o = run::<DockerSwarm>(json!({"state": "present", "advertise_addr": "10.215.0.11"}), &h.ctx()).await;
        assert!(!o.changed && !o.failed, "{o:?}");
        assert_eq!(facts(&o, &["JoinTokens", "Worker"]), WORKER_TOKEN);
        assert!(facts(&o, &["JoinTokens", "Manager"]).ends_with("5a2arit6w8qd2cwgh3wd3aidj"));
        assert_eq!(facts(&o, &["ID"]), "z9rnfch9cgcbna3pb0n6vzf1f");
        assert_eq!(facts(&o, &["Spec", "Name"]), "default");
        assert_eq!(o.data["node_id"].as_str(), Some("z0z4qlxv0xlabvxp5krto4j6d"));
        assert_eq!(h.conn.calls().len(), 2);
        let o = run::<DockerSwarm>(json!({"state": "inspect"}), &h.ctx()).await;
        assert_eq!(facts(&o, &["ID"]), "z9rnfch9cgcbna3pb0n6vzf1f");
    }

    #[tokio::test]
    async fn present_inits_when_inactive() {
        let h = fake(FakeConnection::new().on(INFO, 0, INACTIVE).on("docker swarm join-token", 0, TOKENS));
        let args = json!({"advertise_addr": "10.215.0.11", "listen_addr": "0.0.0.0:2377",
            "default_addr_pool": ["10.20.0.0/16"], "subnet_size": 26});
        let o = run::<DockerSwarm>(args, &h.ctx()).await;
        assert!(o.changed && !o.failed, "{o:?}");
        let calls = h.conn.calls();
        assert_eq!(
            calls[1],
            "docker swarm init --advertise-addr 10.215.0.11 --listen-addr 0.0.0.0:2377 \
             --default-addr-pool 10.20.0.0/16 --default-addr-pool-mask-length 26"
        );
        assert_eq!(facts(&o, &["JoinTokens", "Worker"]), WORKER_TOKEN);
        assert_eq!((o.diffs[0].before.as_str(), o.diffs[0].after.as_str()), ("inactive\n", "manager (init)\n"));
        assert_eq!(o.planned[0].resource, "swarm");
    }

    #[tokio::test]
    async fn check_mode_only_reads() {
        let h = fake_check(FakeConnection::new().on(INFO, 0, INACTIVE));
        let o = run::<DockerSwarm>(json!({"state": "present", "advertise_addr": "10.215.0.11"}), &h.ctx()).await;
        assert!(o.changed);
        assert_eq!(h.conn.calls(), vec![INFO.to_string()]);
        let h = fake_check(FakeConnection::new().on(INFO, 0, WORKER));
        let o = run::<DockerSwarm>(json!({"state": "absent"}), &h.ctx()).await;
        assert!(o.changed);
        assert_eq!(o.diffs[0].before, "worker\n");
        assert_eq!(h.conn.calls().len(), 1);
    }

    #[tokio::test]
    async fn join_when_inactive_and_ok_when_member() {
        let args = json!({"state": "join", "join_token": WORKER_TOKEN, "advertise_addr": "10.215.0.21",
            "remote_addrs": ["10.215.0.11:2377"]});
        let h = fake(FakeConnection::new().on(INFO, 0, INACTIVE));
        let o = run::<DockerSwarm>(args.clone(), &h.ctx()).await;
        assert!(o.changed && !o.failed, "{o:?}");
        assert_eq!(
            h.conn.calls()[1],
            format!("docker swarm join --token {WORKER_TOKEN} --advertise-addr 10.215.0.21 -- 10.215.0.11:2377")
        );
        assert_eq!(o.diffs[0].after, "member (join 10.215.0.11:2377)\n");
        let h = fake(FakeConnection::new().on(INFO, 0, WORKER));
        let o = run::<DockerSwarm>(args, &h.ctx()).await;
        assert!(!o.changed && !o.failed);
        assert_eq!(o.data["node_id"].as_str(), Some("iy3hfqhup6c5zvce1r23jg2oc"));
        assert_eq!(h.conn.calls().len(), 1);
    }

    #[tokio::test]
    async fn swarm_join_remote_address_is_an_operand_and_values_are_quoted() {
        for v in hostile_values(&pwned_marker("swarm")) {
            let args = json!({"state": "join", "join_token": v, "advertise_addr": v, "remote_addrs": [v]});
            let h = fake(FakeConnection::new().on(INFO, 0, INACTIVE).on("docker swarm join", 1, ""));
            run::<DockerSwarm>(args, &h.ctx()).await;
            let q = Sh::quoted(&v);
            assert_eq!(h.conn.calls()[1], format!("docker swarm join --token {q} --advertise-addr {q} -- {q}"));
        }
    }

    #[tokio::test]
    async fn join_tries_the_next_manager() {
        let args = json!({"state": "join", "join_token": "T", "remote_addrs": ["10.215.0.12", "10.215.0.11"]});
        let h = fake(
            FakeConnection::new().on(INFO, 0, INACTIVE).on("docker swarm join --token T -- 10.215.0.12", 1, "").on(
                "docker swarm join",
                0,
                "This node joined a swarm as a worker.\n",
            ),
        );
        let o = run::<DockerSwarm>(args.clone(), &h.ctx()).await;
        assert!(o.changed && !o.failed, "{o:?}");
        assert_eq!(h.conn.calls()[2], "docker swarm join --token T -- 10.215.0.11");
        let h = fake(FakeConnection::new().on(INFO, 0, INACTIVE).on("docker swarm join", 1, ""));
        let o = run::<DockerSwarm>(args, &h.ctx()).await;
        assert!(o.failed);
        assert_eq!(h.conn.calls().len(), 3);
    }

    #[tokio::test]
    async fn absent_leaves() {
        let h = fake(FakeConnection::new().on(INFO, 0, MANAGER));
        let o = run::<DockerSwarm>(json!({"state": "absent", "force": "yes"}), &h.ctx()).await;
        assert!(o.changed && !o.failed, "{o:?}");
        assert_eq!(h.conn.calls()[1], "docker swarm leave --force");
        assert_eq!((o.diffs[0].before.as_str(), o.diffs[0].after.as_str()), ("manager\n", "inactive\n"));
        let h = fake(FakeConnection::new().on(INFO, 0, INACTIVE));
        let o = run::<DockerSwarm>(json!({"state": "absent"}), &h.ctx()).await;
        assert!(!o.changed);
        assert_eq!(h.conn.calls().len(), 1);
        let h = fake(FakeConnection::new().on(INFO, 0, MANAGER).on("docker swarm leave", 1, ""));
        let o = run::<DockerSwarm>(json!({"state": "absent"}), &h.ctx()).await;
        assert!(o.failed);
        assert_eq!(h.conn.calls()[1], "docker swarm leave");
    }

    #[tokio::test]
    async fn failures_are_explained() {
        let h = fake(FakeConnection::new().on(INFO, 127, ""));
        assert!(run_err::<DockerSwarm>(json!({}), &h.ctx()).await.contains("Docker is not installed"));
        let h = fake(FakeConnection::new().on(INFO, 1, ""));
        assert!(run_err::<DockerSwarm>(json!({}), &h.ctx()).await.contains("reading the swarm state"));
        let h = fake(FakeConnection::new().on(INFO, 0, WORKER));
        assert!(run_err::<DockerSwarm>(json!({}), &h.ctx()).await.contains("is a swarm worker"));
        let h = fake(FakeConnection::new().on(INFO, 0, INACTIVE));
        assert!(run_err::<DockerSwarm>(json!({"state": "inspect"}), &h.ctx()).await.contains("not in a swarm"));
        let locked = INACTIVE.replace("inactive", "locked");
        let h = fake(FakeConnection::new().on(INFO, 0, &locked));
        assert!(run_err::<DockerSwarm>(json!({}), &h.ctx()).await.contains("docker swarm unlock"));
        let h = fake(FakeConnection::new().on(INFO, 0, "not json"));
        assert!(run_err::<DockerSwarm>(json!({}), &h.ctx()).await.contains("unexpected output"));
        let h = fake(FakeConnection::new());
        assert!(run_err::<DockerSwarm>(json!({"state": "join", "remote_addrs": "m1"}), &h.ctx())
            .await
            .contains("join_token"));
        assert!(run_err::<DockerSwarm>(json!({"state": "join", "join_token": "T"}), &h.ctx())
            .await
            .contains("remote_addrs"));
        assert!(run_err::<DockerSwarm>(json!({"state": "bogus"}), &h.ctx()).await.contains("state must be"));
        assert!(unsupported::<DockerSwarm>(json!({"autolock": true}), &h.ctx())
            .await
            .starts_with("Unsupported parameters for ("));
        assert!(h.conn.calls().is_empty());
    }
}
