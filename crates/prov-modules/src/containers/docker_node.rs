//! `docker_node`: sets the labels, availability and role of a swarm node (run it on a manager).
//!
//! Arguments (as in Ansible's `community.docker.docker_node`):
//! - `hostname` (required): the node's name or ID, as `docker node ls` shows it.
//! - `labels`: a map of labels to set.
//! - `labels_state`: `merge` (default: add/update `labels`, keep the others) or `replace`
//!   (the node ends up with exactly `labels`; no `labels` removes them all).
//! - `labels_to_remove`: label names to remove (a name also in `labels` is kept).
//! - `availability`: `active`, `pause` or `drain`.
//! - `role`: `worker` or `manager`.
//!
//! One `docker node inspect` reads the node; one `docker node update` with every
//! `--label-add`/`--label-rm`/`--availability`/`--role` changes it. Registers `node` (the
//! node as `docker node inspect` shows it, after the change).
//!
//! ```yaml
//! - docker_node:
//!     hostname: w1
//!     labels: { tier: web, zone: a }
//!     availability: active
//!   delegate_to: "{{ groups.managers[0] }}"
//! - docker_node: { hostname: w2, availability: drain, labels_to_remove: [tier] }
//! ```

use super::{docker_change, docker_json, json_value, string_map};
use async_trait::async_trait;
use prov_core::cmd::Cmd;
use prov_core::module::{Action, Change, Module, ModuleCtx, ModuleError, Outcome, Plan};
use serde::Deserialize;
use serde_json::Value as Json;
use std::collections::BTreeMap;

/// Arguments of `docker_node`.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Args {
    /// Node name or ID.
    pub hostname: String,
    /// Labels to set.
    #[serde(default, deserialize_with = "string_map")]
    pub labels: Option<BTreeMap<String, String>>,
    /// `merge` or `replace`.
    #[serde(default)]
    pub labels_state: Option<String>,
    /// Label names to remove.
    #[serde(default)]
    pub labels_to_remove: Option<Vec<String>>,
    /// `active`, `pause` or `drain`.
    #[serde(default)]
    pub availability: Option<String>,
    /// `worker` or `manager`.
    #[serde(default)]
    pub role: Option<String>,
}

/// The `docker_node` module.
#[derive(Debug, Default)]
pub struct DockerNode;

/// The `docker node update` command.
pub struct NodePlan(String);

/// What the module manages of a node.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NodeSpec {
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Availability.
    pub availability: String,
    /// Role.
    pub role: String,
}

impl NodeSpec {
    /// Reads `Spec` of `docker node inspect`.
    pub fn parse(v: &Json) -> Result<Self, String> {
        let spec = v.get("Spec").ok_or_else(|| format!("docker node inspect has no Spec: {v}"))?;
        let labels = spec
            .get("Labels")
            .and_then(Json::as_object)
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string())).collect())
            .unwrap_or_default();
        let s = |k: &str| spec.get(k).and_then(Json::as_str).unwrap_or("").to_string();
        Ok(NodeSpec { labels, availability: s("Availability"), role: s("Role") })
    }

    /// Text for a diff.
    fn text(&self) -> String {
        let mut t = format!("availability: {}\nrole: {}\n", self.availability, self.role);
        if self.labels.is_empty() {
            t.push_str("labels: {}\n");
        } else {
            t.push_str("labels:\n");
            for (k, v) in &self.labels {
                t.push_str(&format!("  {k}: {v}\n"));
            }
        }
        t
    }
}

/// What the arguments ask for, given what there is.
fn wanted(args: &Args, cur: &NodeSpec) -> NodeSpec {
    let want = args.labels.clone().unwrap_or_default();
    let mut labels = if args.labels_state.as_deref() == Some("replace") { BTreeMap::new() } else { cur.labels.clone() };
    for k in args.labels_to_remove.iter().flatten() {
        if !want.contains_key(k) {
            labels.remove(k);
        }
    }
    labels.extend(want);
    NodeSpec {
        labels,
        availability: args.availability.clone().unwrap_or_else(|| cur.availability.clone()),
        role: args.role.clone().unwrap_or_else(|| cur.role.clone()),
    }
}

/// Reads a node (on a manager).
async fn inspect(cx: &ModuleCtx<'_>, host: &str) -> Result<Json, ModuleError> {
    let cmd = Cmd::new("docker").flag("node").flag("inspect").opt("--format", "{{json .}}").operand(host).build();
    docker_json(cx, cmd.into(), &format!("inspecting swarm node {host}")).await
}

#[async_trait]
impl Module for DockerNode {
    const NAME: &'static str = "docker_node";
    const COLLECTIONS: &'static [&'static str] = &["community.docker", "ansible.builtin"];
    type Args = Args;
    type Plan = NodePlan;

    fn check_args(args: &Args) -> Result<(), String> {
        if args.hostname.is_empty() {
            return Err("hostname must not be empty".into());
        }
        match args.labels_state.as_deref() {
            None | Some("merge" | "replace") => {}
            Some(s) => return Err(format!("labels_state must be merge or replace, not {s}")),
        }
        match args.availability.as_deref() {
            None | Some("active" | "pause" | "drain") => {}
            Some(s) => return Err(format!("availability must be active, pause or drain, not {s}")),
        }
        match args.role.as_deref() {
            None | Some("worker" | "manager") => Ok(()),
            Some(s) => Err(format!("role must be worker or manager, not {s}")),
        }
    }

    async fn plan(&self, args: &Args, cx: &ModuleCtx<'_>) -> Result<Plan<NodePlan>, ModuleError> {
        let host = args.hostname.as_str();
        let node = inspect(cx, host).await?;
        let cur = NodeSpec::parse(&node).map_err(ModuleError::Failed)?;
        let want = wanted(args, &cur);
        if want == cur {
            return Ok(Plan::Ok(Outcome::ok().with("node", json_value(node))));
        }
        let mut cmd = Cmd::new("docker").flag("node").flag("update");
        for (k, v) in &want.labels {
            if cur.labels.get(k) != Some(v) {
                cmd = cmd.opt("--label-add", format!("{k}={v}"));
            }
        }
        for k in cur.labels.keys() {
            if !want.labels.contains_key(k) {
                cmd = cmd.opt("--label-rm", k);
            }
        }
        if want.availability != cur.availability {
            cmd = cmd.opt("--availability", &want.availability);
        }
        if want.role != cur.role {
            cmd = cmd.opt("--role", &want.role);
        }
        let cmd = cmd.operand(host).build().into();
        Ok(Plan::Change(Change::new(NodePlan(cmd), Action::Modify, "swarm node", host).with_diff(
            format!("swarm node {host}"),
            cur.text(),
            want.text(),
        )))
    }

    async fn apply(&self, args: &Args, plan: NodePlan, cx: &ModuleCtx<'_>) -> Result<Outcome, ModuleError> {
        let host = args.hostname.as_str();
        if let Err(failed) = docker_change(cx, plan.0, &format!("updating swarm node {host}")).await? {
            return Ok(failed);
        }
        let node = inspect(cx, host).await?;
        Ok(Outcome { changed: true, ..Outcome::ok() }.with("node", json_value(node)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;
    use prov_core::testutil::FakeConnection;
    use serde_json::json;

    // Real `docker node inspect --format '{{json .}}' w1` output of docker 20.10.24, after
    // `docker node update --label-add tier=web --label-add zone=a w1` (certificate and plugin
    // list shortened).
    const W1: &str = r#"{"ID":"iy3hfqhup6c5zvce1r23jg2oc","Version":{"Index":17},"CreatedAt":"2026-11-25T23:14:33.523695001Z","UpdatedAt":"2026-11-25T23:16:02.120338113Z","Spec":{"Labels":{"tier":"web","zone":"a"},"Role":"worker","Availability":"active"},"Description":{"Hostname":"w1","Platform":{"Architecture":"x86_64","OS":"linux"},"Resources":{"NanoCPUs":2000000000,"MemoryBytes":25276059648},"Engine":{"EngineVersion":"20.10.24+dfsg1","Plugins":[{"Type":"Log","Name":"awslogs"},{"Type":"Network","Name":"overlay"},{"Type":"Volume","Name":"local"}]},"TLSInfo":{"TrustRoot":"-----BEGIN CERTIFICATE-----\nMIIBazCCARCgAwIBAgIU\n-----END CERTIFICATE-----\n","CertIssuerSubject":"MBMxETAPBgNVBAMTCHN3YXJtLWNh","CertIssuerPublicKey":"MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEBGqlDD"}},"Status":{"State":"ready","Addr":"10.215.0.21"}}"#;
    const INSPECT: &str = "docker node inspect --format '{{json .}}' -- w1";

    #[tokio::test]
    async fn matching_node_is_ok() {
        let h = fake(FakeConnection::new().on(INSPECT, 0, W1));
        let o = run::<DockerNode>(
            json!({"hostname": "w1", "labels": {"tier": "web"}, "availability": "active",
            "role": "worker", "labels_to_remove": ["nosuch"]}),
            &h.ctx(),
        )
        .await;
        assert!(!o.changed && !o.failed, "{o:?}");
        assert_eq!(h.conn.calls(), vec![INSPECT.to_string()]);
        let hostname = o.data["node"].get_attr("Description").and_then(|d| d.get_attr("Hostname")).unwrap_or_default();
        assert_eq!(hostname.as_str(), Some("w1"));
    }

    #[tokio::test]
    async fn one_update_for_every_change() {
        let h = fake(FakeConnection::new().on(INSPECT, 0, W1));
        let args = json!({"hostname": "w1", "labels": {"tier": "api", "port": 8080}, "labels_to_remove": ["zone"],
            "availability": "drain", "role": "manager"});
        let o = run::<DockerNode>(args, &h.ctx()).await;
        assert!(o.changed && !o.failed, "{o:?}");
        let calls = h.conn.calls();
        assert_eq!(
            calls[1],
            "docker node update --label-add port=8080 --label-add tier=api --label-rm zone --availability drain \
             --role manager -- w1"
        );
        assert_eq!(calls[2], INSPECT, "the node is read again after the update");
        assert_eq!(o.diffs[0].before, "availability: active\nrole: worker\nlabels:\n  tier: web\n  zone: a\n");
        assert_eq!(o.diffs[0].after, "availability: drain\nrole: manager\nlabels:\n  port: 8080\n  tier: api\n");
        assert_eq!(o.planned[0].name, "w1");
    }

    #[tokio::test]
    async fn a_node_name_like_an_option_stays_an_operand() {
        let h = fake(FakeConnection::new().on("docker node inspect", 1, ""));
        let _ = run_err::<DockerNode>(json!({"hostname": "-q"}), &h.ctx()).await;
        assert_eq!(h.conn.calls(), ["docker node inspect --format '{{json .}}' -- -q"]);
    }

    #[tokio::test]
    async fn labels_state_replace_and_kept_labels() {
        let h = fake(FakeConnection::new().on(INSPECT, 0, W1));
        run::<DockerNode>(json!({"hostname": "w1", "labels_state": "replace"}), &h.ctx()).await;
        assert_eq!(h.conn.calls()[1], "docker node update --label-rm tier --label-rm zone -- w1");
        let h = fake(FakeConnection::new().on(INSPECT, 0, W1));
        let o = run::<DockerNode>(
            json!({"hostname": "w1", "labels": {"zone": "b c"}, "labels_to_remove": ["zone", "tier"]}),
            &h.ctx(),
        )
        .await;
        assert!(o.changed);
        assert_eq!(h.conn.calls()[1], "docker node update --label-add 'zone=b c' --label-rm tier -- w1");
    }

    #[tokio::test]
    async fn check_mode_only_reads() {
        let h = fake_check(FakeConnection::new().on(INSPECT, 0, W1));
        let o = run::<DockerNode>(json!({"hostname": "w1", "availability": "pause"}), &h.ctx()).await;
        assert!(o.changed);
        assert_eq!(o.diffs[0].after.lines().next(), Some("availability: pause"));
        assert_eq!(h.conn.calls().len(), 1);
    }

    #[tokio::test]
    async fn failures_are_explained() {
        let h = fake(FakeConnection::new().on("docker node inspect", 1, ""));
        let e = run_err::<DockerNode>(json!({"hostname": "nosuch"}), &h.ctx()).await;
        assert!(e.contains("inspecting swarm node nosuch failed"), "{e}");
        let h = fake(FakeConnection::new().on("docker node inspect", 127, ""));
        assert!(run_err::<DockerNode>(json!({"hostname": "w1"}), &h.ctx()).await.contains("Docker is not installed"));
        let h = fake(FakeConnection::new().on(INSPECT, 0, W1).on("docker node update", 1, ""));
        let o = run::<DockerNode>(json!({"hostname": "w1", "role": "manager"}), &h.ctx()).await;
        assert!(o.failed && o.msg.as_deref().unwrap_or("").contains("updating swarm node w1"), "{o:?}");
        let h = fake(FakeConnection::new());
        for (args, msg) in [
            (json!({"hostname": "w1", "availability": "off"}), "availability must be"),
            (json!({"hostname": "w1", "role": "leader"}), "role must be"),
            (json!({"hostname": "w1", "labels_state": "keep"}), "labels_state must be"),
            (json!({"hostname": ""}), "hostname must not be empty"),
            (json!({"labels": {}}), "hostname"),
        ] {
            let e = run_err::<DockerNode>(args, &h.ctx()).await;
            assert!(e.contains(msg), "{e}");
        }
        assert!(h.conn.calls().is_empty());
    }
}
