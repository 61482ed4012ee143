//! `docker_image_info` (community.docker): reads images of the target's Docker Engine.
//!
//! Arguments (as in Ansible): `name`, a list of images, each `name[:tag]` (tag `latest` when
//! there is none), `name@digest` or an id (`sha256:` and 64 hex digits); without it, every
//! image. Registers `images`: the engine's inspection of each image found, as `docker image
//! inspect` prints it, in the order asked (an image asked twice is listed twice; one not found
//! is left out). Changes nothing, in any mode.
//!
//! ```yaml
//! - community.docker.docker_image_info:
//!     name: [app:v2, redis:7]
//!   register: found
//! ```

use super::api::{quote, Engine};
use super::lookup;
use crate::util::or_fail;
use prov_core::module::{ModuleCtx, ModuleError, Outcome};
use serde::Deserialize;
use serde_json::Value as Json;

/// Arguments of `docker_image_info`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    /// The images; every image when absent.
    #[serde(default, deserialize_with = "crate::util::str_list")]
    pub name: Option<Vec<String>>,
}

/// The `docker_image_info` module.
#[derive(Debug, Default)]
pub struct DockerImageInfo;

async fn read(a: &Args, cx: &ModuleCtx<'_>) -> Result<Outcome, ModuleError> {
    let e = or_fail!(Engine::connect(cx).await);
    let mut images = Vec::new();
    match a.name.as_ref().filter(|n| !n.is_empty()) {
        Some(names) => {
            for name in names {
                let found = if lookup::is_image_id(name) {
                    or_fail!(lookup::image_by_id(&e, name).await)
                } else {
                    let (repo, tag) = lookup::repository_tag(name);
                    or_fail!(lookup::image(&e, repo, tag.unwrap_or("latest")).await)
                };
                images.extend(found);
            }
        }
        None => {
            let list = or_fail!(e.get_json("/images/json?only_ids=0&all=0").await);
            for image in list.as_array().into_iter().flatten() {
                let id = image.get("Id").and_then(|i| i.as_str()).unwrap_or_default();
                let path = format!("/images/{}/json", quote(id, "/:"));
                let what = format!("Error inspecting image {id} - ");
                images.push(or_fail!(lookup::inspect(&e, &path, &what).await).unwrap_or_default());
            }
        }
    }
    Ok(Outcome::ok().with("images", super::json_value(Json::Array(images))))
}

super::info_module!(DockerImageInfo, "docker_image_info");
