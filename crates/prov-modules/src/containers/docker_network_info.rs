//! `docker_network_info` (community.docker): reads one network of the target's Docker Engine.
//!
//! Arguments (as in Ansible): `name` (a network's name, or its id or the start of it).
//! Registers `exists` and `network` (the engine's inspection of it, as `docker network
//! inspect` prints it, or `null`). Changes nothing, in any mode.
//!
//! ```yaml
//! - community.docker.docker_network_info:
//!     name: backend
//!   register: backend
//! ```

use super::api::Engine;
use super::lookup;
use crate::util::or_fail;
use prov_core::module::{ModuleCtx, ModuleError, Outcome};
use serde::Deserialize;

/// Arguments of `docker_network_info`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    /// The network: name, id, or the start of its id.
    pub name: String,
}

/// The `docker_network_info` module.
#[derive(Debug, Default)]
pub struct DockerNetworkInfo;

async fn read(a: &Args, cx: &ModuleCtx<'_>) -> Result<Outcome, ModuleError> {
    let e = or_fail!(Engine::connect(cx).await);
    let network = or_fail!(lookup::network(&e, &a.name).await).unwrap_or_default();
    Ok(Outcome::ok().with("exists", crate::util::py_truthy(&network)).with("network", super::json_value(network)))
}

super::info_module!(DockerNetworkInfo, "docker_network_info");
