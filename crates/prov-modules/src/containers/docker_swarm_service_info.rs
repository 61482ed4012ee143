//! `docker_swarm_service_info` (community.docker): reads one service of the swarm the target's
//! Docker Engine manages. It must run on a manager.
//!
//! Arguments (as in Ansible): `name` (the service's name or id). Registers `exists` and
//! `service` (as `docker service inspect` prints it, or `null`). Changes nothing, in any mode.
//!
//! ```yaml
//! - community.docker.docker_swarm_service_info:
//!     name: web
//!   register: web
//! ```

use super::api::{quote, Engine};
use super::lookup::swarm;
use crate::util::or_fail;
use prov_core::module::{ModuleCtx, ModuleError, Outcome};
use serde::Deserialize;
use serde_json::Value as Json;

/// Arguments of `docker_swarm_service_info`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    /// The service: name or id.
    pub name: String,
}

/// The `docker_swarm_service_info` module.
#[derive(Debug, Default)]
pub struct DockerSwarmServiceInfo;

async fn read(a: &Args, cx: &ModuleCtx<'_>) -> Result<Outcome, ModuleError> {
    let e = or_fail!(Engine::connect(cx).await);
    if !or_fail!(swarm::is_manager(&e).await) {
        return Ok(Outcome::failed(swarm::NOT_MANAGER));
    }
    let r = or_fail!(e.call("GET", &format!("/services/{}", quote(&a.name, "/:")), None).await);
    let service = match r.status {
        404 => Json::Null,
        503 => {
            return Ok(Outcome::failed("Cannot inspect service: To inspect service execute module on Swarm Manager"))
        }
        _ if r.ok() => r.json(),
        _ => return Ok(Outcome::failed(format!("Error inspecting swarm service: {}", r.error_text()))),
    };
    Ok(Outcome::ok()
        .with("service", super::json_value(service.clone()))
        .with("exists", crate::util::py_truthy(&service)))
}

super::info_module!(DockerSwarmServiceInfo, "docker_swarm_service_info");
