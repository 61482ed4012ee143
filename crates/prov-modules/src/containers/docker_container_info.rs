//! `docker_container_info` (community.docker): reads one container of the target's Docker
//! Engine.
//!
//! Arguments (as in Ansible): `name` (a container's name, with or without its leading `/`, or
//! its id or the start of it). Registers `exists` and `container` (the engine's inspection of it, as `docker container
//! inspect` prints it, or `null`). Changes nothing, in any mode.
//!
//! ```yaml
//! - community.docker.docker_container_info:
//!     name: web
//!   register: web
//! ```

use super::api::Engine;
use super::lookup;
use crate::util::or_fail;
use prov_core::module::{ModuleCtx, ModuleError, Outcome};
use serde::Deserialize;

/// Arguments of `docker_container_info`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    /// The container: name, id, or the start of its id.
    pub name: String,
}

/// The `docker_container_info` module.
#[derive(Debug, Default)]
pub struct DockerContainerInfo;

async fn read(a: &Args, cx: &ModuleCtx<'_>) -> Result<Outcome, ModuleError> {
    let e = or_fail!(Engine::connect(cx).await);
    let container = or_fail!(lookup::container(&e, &a.name).await).unwrap_or_default();
    Ok(Outcome::ok().with("exists", crate::util::py_truthy(&container)).with("container", super::json_value(container)))
}

super::info_module!(DockerContainerInfo, "docker_container_info");
