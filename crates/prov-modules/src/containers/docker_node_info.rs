//! `docker_node_info` (community.docker): reads nodes of the swarm the target's Docker Engine
//! manages. It must run on a manager.
//!
//! Arguments (as in Ansible): `name`, a list of nodes (ids or host names; those not found are
//! left out), or `self: true` for the target's own node; without either, every node of the
//! swarm. Registers `nodes`: each node as `docker node inspect` prints it (a leader's
//! `Status.Addr` is its manager address, as community.docker reports it). Changes nothing, in
//! any mode.
//!
//! ```yaml
//! - community.docker.docker_node_info:
//!     name: [worker1, worker2]
//!   register: workers
//! ```

use super::api::Engine;
use super::lookup::swarm;
use crate::util::or_fail;
use prov_core::args::lenient_bool;
use prov_core::module::{ModuleCtx, ModuleError, Outcome};
use serde::Deserialize;
use serde_json::Value as Json;

/// Arguments of `docker_node_info`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    /// The nodes; every node when absent.
    #[serde(default, deserialize_with = "crate::util::str_list")]
    pub name: Option<Vec<String>>,
    /// The target's own node.
    #[serde(default, rename = "self", deserialize_with = "lenient_bool")]
    pub own: bool,
}

/// The `docker_node_info` module.
#[derive(Debug, Default)]
pub struct DockerNodeInfo;

async fn read(a: &Args, cx: &ModuleCtx<'_>) -> Result<Outcome, ModuleError> {
    let e = or_fail!(Engine::connect(cx).await);
    if !or_fail!(swarm::is_manager(&e).await) {
        return Ok(Outcome::failed(swarm::NOT_MANAGER));
    }
    let nodes = if a.own {
        let id = or_fail!(swarm::own_node_id(&e).await);
        Json::Array(or_fail!(swarm::node(&e, &id, false).await).into_iter().collect())
    } else if let Some(names) = &a.name {
        let mut found = Vec::new();
        for n in names {
            found.extend(or_fail!(swarm::node(&e, n, true).await));
        }
        Json::Array(found)
    } else {
        or_fail!(swarm::all_nodes(&e).await)
    };
    Ok(Outcome::ok().with("nodes", super::json_value(nodes)))
}

super::info_module!(DockerNodeInfo, "docker_node_info");
