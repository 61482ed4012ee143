//! `docker_volume_info` (community.docker): reads one volume of the target's Docker Engine.
//!
//! Arguments (as in Ansible): `name` (alias `volume_name`). Registers `exists` and `volume`
//! (the engine's inspection of it, as `docker volume inspect` prints it, or `null`). Changes
//! nothing, in any mode.
//!
//! ```yaml
//! - community.docker.docker_volume_info:
//!     name: pgdata
//!   register: pgdata
//! ```

use super::api::{quote, Engine};
use crate::util::or_fail;
use prov_core::module::{ModuleCtx, ModuleError, Outcome};
use serde::Deserialize;

/// Arguments of `docker_volume_info`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    /// The volume.
    #[serde(alias = "volume_name")]
    pub name: String,
}

/// The `docker_volume_info` module.
#[derive(Debug, Default)]
pub struct DockerVolumeInfo;

async fn read(a: &Args, cx: &ModuleCtx<'_>) -> Result<Outcome, ModuleError> {
    let e = or_fail!(Engine::connect(cx).await);
    let path = format!("/volumes/{}", quote(&a.name, "/:"));
    let volume = or_fail!(super::lookup::inspect(&e, &path, "Error inspecting volume: ").await).unwrap_or_default();
    Ok(Outcome::ok().with("exists", crate::util::py_truthy(&volume)).with("volume", super::json_value(volume)))
}

super::info_module!(DockerVolumeInfo, "docker_volume_info");
