//! `docker_swarm_info` (community.docker): reads the swarm the target's Docker Engine manages,
//! and on request its nodes, tasks, services and unlock key. It must run on a manager.
//!
//! Arguments (as in Ansible): `nodes`, `nodes_filters`, `tasks`, `tasks_filters`, `services`,
//! `services_filters`, `unlock_key`, `verbose_output` (all `false` or empty by default).
//! Filters are the engine's (`role: manager`, `desired-state: running`, `label: app=web`).
//!
//! Registers `can_talk_to_docker`, `docker_swarm_active` and `docker_swarm_manager` (also when
//! the task fails: on an engine that is not a manager it fails with "must run on swarm manager
//! node"), `swarm_facts` (`docker swarm inspect`), and for each list asked: `nodes` (`ID`,
//! `Hostname`, `Status`, `Availability`, `ManagerStatus` (`Leader`, its reachability, or
//! `null`), `EngineVersion`), `tasks` (`ID`, `ContainerID`, `Image`, `Node` (host name),
//! `DesiredState`, `CurrentState`, `Error`), `services` (`ID`, `Name`, `Mode`, `Replicas`,
//! `Image`, `Ports`), each the engine's whole listing with `verbose_output`;
//! `swarm_unlock_key` (`null` unless autolock is on). Changes nothing, in any mode.
//!
//! ```yaml
//! - community.docker.docker_swarm_info:
//!     nodes: true
//!   register: swarm
//! - debug:
//!     msg: "{{ swarm.nodes | map(attribute='Hostname') | list }}"
//! ```

use super::api::Engine;
use super::lookup::swarm;
use crate::util::or_fail;
use prov_core::args::lenient_bool;
use prov_core::module::{ModuleCtx, ModuleError, Outcome};
use serde::Deserialize;
use serde_json::{Map, Value as Json};

/// Arguments of `docker_swarm_info`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    /// List the nodes.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub nodes: bool,
    /// The engine's filters for nodes.
    #[serde(default)]
    pub nodes_filters: Option<Map<String, Json>>,
    /// List the tasks.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub tasks: bool,
    /// The engine's filters for tasks.
    #[serde(default)]
    pub tasks_filters: Option<Map<String, Json>>,
    /// List the services.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub services: bool,
    /// The engine's filters for services.
    #[serde(default)]
    pub services_filters: Option<Map<String, Json>>,
    /// Read the unlock key.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub unlock_key: bool,
    /// Whole listings instead of their main fields.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub verbose_output: bool,
}

/// The `docker_swarm_info` module.
#[derive(Debug, Default)]
pub struct DockerSwarmInfo;

/// A value as community.docker's `clean_dict_booleans_for_docker_api` writes it (without
/// sequences: a list is written as Python writes it).
fn clean(v: &Json) -> Json {
    fn repr(v: &Json) -> String {
        match v {
            Json::String(s) => format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'")),
            Json::Bool(b) => if *b { "True" } else { "False" }.into(),
            Json::Null => "None".into(),
            Json::Array(a) => format!("[{}]", a.iter().map(repr).collect::<Vec<_>>().join(", ")),
            Json::Object(m) => {
                let items: Vec<String> = m.iter().map(|(k, x)| format!("'{k}': {}", repr(x))).collect();
                format!("{{{}}}", items.join(", "))
            }
            Json::Number(n) => n.to_string(),
        }
    }
    match v {
        Json::Array(_) | Json::Object(_) => Json::from(repr(v)),
        other => Json::from(super::py_str(other)),
    }
}

/// `?filters=...` for filters that are given and not empty; nothing otherwise.
fn filters_param(f: &Option<Map<String, Json>>) -> String {
    match f {
        Some(m) if !m.is_empty() => {
            let cleaned: Map<String, Json> = m.iter().map(|(k, v)| (k.clone(), clean(v))).collect();
            format!("?filters={}", super::filters_query(&Some(cleaned)))
        }
        _ => String::new(),
    }
}

/// A node's main fields.
fn node_essentials(n: &Json) -> Json {
    let manager = match n.get("ManagerStatus") {
        Some(m) if m["Leader"].as_bool() == Some(true) => Json::from("Leader"),
        Some(m) => m["Reachability"].clone(),
        None => Json::Null,
    };
    serde_json::json!({
        "ID": n.get("ID").cloned().unwrap_or(Json::Null),
        "Hostname": n["Description"]["Hostname"],
        "Status": n["Status"]["State"],
        "Availability": n["Spec"]["Availability"],
        "ManagerStatus": manager,
        "EngineVersion": n["Description"]["Engine"]["EngineVersion"],
    })
}

/// A service's main fields; `Replicas` of a global service is filled in by the caller.
fn service_essentials(s: &Json) -> Json {
    let spec = &s["Spec"];
    let mut m = Map::new();
    m.insert("ID".into(), s["ID"].clone());
    m.insert("Name".into(), spec["Name"].clone());
    if spec["Mode"].get("Replicated").is_some() {
        m.insert("Mode".into(), Json::from("Replicated"));
        m.insert("Replicas".into(), spec["Mode"]["Replicated"]["Replicas"].clone());
    } else if spec["Mode"].get("Global").is_some() {
        m.insert("Mode".into(), Json::from("Global"));
        m.insert("Replicas".into(), Json::Null);
    }
    m.insert("Image".into(), spec["TaskTemplate"]["ContainerSpec"]["Image"].clone());
    let ports = spec.get("EndpointSpec").filter(|e| crate::util::py_truthy(e)).and_then(|e| e.get("Ports"));
    m.insert("Ports".into(), ports.cloned().unwrap_or(Json::Array(Vec::new())));
    Json::Object(m)
}

async fn read(a: &Args, cx: &ModuleCtx<'_>) -> Result<Outcome, ModuleError> {
    let e = match Engine::connect(cx).await? {
        Ok(e) => e,
        Err(o) => {
            return Ok(o
                .with("can_talk_to_docker", false)
                .with("docker_swarm_active", false)
                .with("docker_swarm_manager", false))
        }
    };
    let active = or_fail!(swarm::is_node(&e).await);
    let manager = or_fail!(swarm::is_manager(&e).await);
    let with_state = |o: Outcome| {
        o.with("can_talk_to_docker", true).with("docker_swarm_active", active).with("docker_swarm_manager", manager)
    };
    if !manager {
        return Ok(with_state(Outcome::failed(swarm::NOT_MANAGER)));
    }
    let facts = match e.get_json("/swarm").await? {
        Ok(f) => f,
        Err(x) => {
            return Ok(with_state(Outcome::failed(format!(
                "Error inspecting docker swarm: {}",
                x.msg.unwrap_or_default()
            ))))
        }
    };
    let mut o = Outcome::ok().with("swarm_facts", super::json_value(facts));
    let lists = [
        ("tasks", a.tasks, &a.tasks_filters),
        ("services", a.services, &a.services_filters),
        ("nodes", a.nodes, &a.nodes_filters),
    ];
    for (kind, wanted, filters) in lists {
        if !wanted {
            continue;
        }
        let items = match e.get_json(&format!("/{kind}{}", filters_param(filters))).await? {
            Ok(i) => i,
            Err(x) => {
                return Ok(with_state(Outcome::failed(format!(
                    "Error inspecting docker swarm for object '{kind}': {}",
                    x.msg.unwrap_or_default()
                ))))
            }
        };
        if a.verbose_output {
            o = o.with(kind, super::json_value(items));
            continue;
        }
        let all = items.as_array().cloned().unwrap_or_default();
        let mut short = Vec::new();
        for item in &all {
            short.push(match kind {
                "nodes" => node_essentials(item),
                "services" => {
                    let mut s = service_essentials(item);
                    if s["Mode"] == "Global" {
                        s["Replicas"] = Json::from(all.len());
                    }
                    s
                }
                _ => {
                    let node_id = item["NodeID"].as_str().unwrap_or_default();
                    let node = match swarm::node(&e, node_id, false).await? {
                        Ok(n) => n.unwrap_or_default(),
                        Err(x) => return Ok(with_state(x)),
                    };
                    let status = &item["Status"];
                    serde_json::json!({
                        "ID": item["ID"],
                        "ContainerID": status["ContainerStatus"]["ContainerID"],
                        "Image": item["Spec"]["ContainerSpec"]["Image"],
                        "Node": node["Description"]["Hostname"],
                        "DesiredState": item["DesiredState"],
                        "CurrentState": status["State"],
                        "Error": status.get("Err").cloned().unwrap_or(Json::Null),
                    })
                }
            });
        }
        o = o.with(kind, super::json_value(Json::Array(short)));
    }
    if a.unlock_key {
        let key = match e.get_json("/swarm/unlockkey").await? {
            Ok(k) => k.get("UnlockKey").filter(|k| crate::util::py_truthy(k)).cloned().unwrap_or(Json::Null),
            Err(x) => {
                let why = x.msg.unwrap_or_default();
                return Ok(with_state(Outcome::failed(format!("An unexpected docker error occurred: {why}"))));
            }
        };
        o = o.with("swarm_unlock_key", super::json_value(key));
    }
    Ok(with_state(o))
}

super::info_module!(DockerSwarmInfo, "docker_swarm_info");

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn filters_are_written_as_community_docker_cleans_them() {
        let f = json!({"role": "manager", "label": ["a", "b"], "x": true}).as_object().cloned();
        let q = filters_param(&f);
        let want = r#"{"role": ["manager"], "label": ["['a', 'b']"], "x": ["true"]}"#;
        assert_eq!(q, format!("?filters={}", crate::containers::api::quote(want, " ").replace(' ', "+")));
        assert_eq!(filters_param(&None), "");
        assert_eq!(filters_param(&Some(Map::new())), "");
    }

    #[test]
    fn essentials_name_the_leader_and_the_replicas() {
        let node = json!({"ID": "n1", "Description": {"Hostname": "m1", "Engine": {"EngineVersion": "20.10"}},
            "Status": {"State": "ready"}, "Spec": {"Availability": "active"},
            "ManagerStatus": {"Leader": true, "Reachability": "reachable"}});
        assert_eq!(node_essentials(&node)["ManagerStatus"], "Leader");
        let worker = json!({"ID": "n2", "Description": {"Hostname": "w1", "Engine": {"EngineVersion": "20.10"}},
            "Status": {"State": "ready"}, "Spec": {"Availability": "drain"}});
        assert_eq!(node_essentials(&worker)["ManagerStatus"], Json::Null);
        let svc = json!({"ID": "s", "Spec": {"Name": "web", "Mode": {"Replicated": {"Replicas": 3}},
            "TaskTemplate": {"ContainerSpec": {"Image": "app:v1"}}, "EndpointSpec": {"Mode": "vip"}}});
        assert_eq!(
            service_essentials(&svc),
            json!({"ID": "s", "Name": "web", "Mode": "Replicated", "Replicas": 3, "Image": "app:v1", "Ports": []})
        );
    }
}
