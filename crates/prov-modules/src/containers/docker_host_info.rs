//! `docker_host_info` (community.docker): reads the target's Docker Engine: its `docker info`,
//! and on request its containers, images, networks and volumes and its disk usage.
//!
//! Arguments (as in Ansible): `containers`, `containers_all` (stopped ones too),
//! `containers_filters`, `images`, `images_filters`, `networks`, `networks_filters`, `volumes`,
//! `volumes_filters`, `disk_usage`, `verbose_output` (all `false` or empty by default). Filters
//! are the engine's (`label: app=web`, `dangling: true`, a list for several values).
//!
//! Registers `host_info` (the engine's `GET /info`), `can_talk_to_docker` (also when the task
//! fails), and for each list asked: `containers` (`Id`, `Image`, `Command`, `Created`,
//! `Status`, `Ports`, `Names`), `images` (`Id`, `RepoTags`, `Created`, `Size`), `networks`
//! (`Id`, `Driver`, `Name`, `Scope`), `volumes` (`Driver`, `Name`), each the engine's whole
//! listing with `verbose_output`; `disk_usage` is `LayersSize`, or the whole `docker system df`
//! with `verbose_output`. Changes nothing, in any mode.
//!
//! ```yaml
//! - community.docker.docker_host_info:
//!     containers: true
//!     containers_filters: {label: app=web}
//!   register: engine
//! ```

use super::api::Engine;
use prov_core::args::lenient_bool;
use prov_core::module::{ModuleCtx, ModuleError, Outcome};
use serde::Deserialize;
use serde_json::{Map, Value as Json};

/// Arguments of `docker_host_info`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    /// List the running containers.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub containers: bool,
    /// List the stopped containers too.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub containers_all: bool,
    /// The engine's filters for containers.
    #[serde(default)]
    pub containers_filters: Option<Map<String, Json>>,
    /// List the images.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub images: bool,
    /// The engine's filters for images.
    #[serde(default)]
    pub images_filters: Option<Map<String, Json>>,
    /// List the networks.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub networks: bool,
    /// The engine's filters for networks.
    #[serde(default)]
    pub networks_filters: Option<Map<String, Json>>,
    /// List the volumes.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub volumes: bool,
    /// The engine's filters for volumes.
    #[serde(default)]
    pub volumes_filters: Option<Map<String, Json>>,
    /// Read the disk usage.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub disk_usage: bool,
    /// Whole listings instead of their main fields.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub verbose_output: bool,
}

/// The `docker_host_info` module.
#[derive(Debug, Default)]
pub struct DockerHostInfo;

/// `&filters=...` for filters that are given and not empty; nothing otherwise.
fn filters_param(f: &Option<Map<String, Json>>) -> String {
    match f {
        Some(m) if !m.is_empty() => format!("&filters={}", super::filters_query(f)),
        _ => String::new(),
    }
}

/// The fields of each listed object kept without `verbose_output`.
fn essentials(kind: &str) -> &'static [&'static str] {
    match kind {
        "containers" => &["Id", "Image", "Command", "Created", "Status", "Ports", "Names"],
        "images" => &["Id", "RepoTags", "Created", "Size"],
        "networks" => &["Id", "Driver", "Name", "Scope"],
        _ => &["Driver", "Name"],
    }
}

async fn read(a: &Args, cx: &ModuleCtx<'_>) -> Result<Outcome, ModuleError> {
    let e = match Engine::connect(cx).await? {
        Ok(e) => e,
        Err(o) => return Ok(o.with("can_talk_to_docker", false)),
    };
    let failed = |msg: String| Ok(Outcome::failed(msg).with("can_talk_to_docker", true));
    let info = match e.get_json("/info").await? {
        Ok(i) => i,
        Err(o) => return failed(format!("Error inspecting docker host: {}", o.msg.unwrap_or_default())),
    };
    let mut o = Outcome::ok().with("host_info", super::json_value(info)).with("can_talk_to_docker", true);
    if a.disk_usage {
        let df = match e.get_json("/system/df").await? {
            Ok(d) => d,
            Err(x) => return failed(format!("Error inspecting docker host: {}", x.msg.unwrap_or_default())),
        };
        let usage = if a.verbose_output {
            df
        } else {
            let mut m = Map::new();
            m.insert("LayersSize".into(), df.get("LayersSize").cloned().unwrap_or(Json::Null));
            Json::Object(m)
        };
        o = o.with("disk_usage", super::json_value(usage));
    }
    let lists = [
        ("volumes", a.volumes, format!("/volumes?{}", filters_param(&a.volumes_filters).trim_start_matches('&'))),
        ("networks", a.networks, format!("/networks?filters={}", super::filters_query(&a.networks_filters))),
        (
            "containers",
            a.containers,
            format!(
                "/containers/json?limit=-1&all={}&size=0&trunc_cmd=0{}",
                u8::from(a.containers_all),
                filters_param(&a.containers_filters)
            ),
        ),
        ("images", a.images, format!("/images/json?only_ids=0&all=0{}", filters_param(&a.images_filters))),
    ];
    for (kind, wanted, path) in lists {
        if !wanted {
            continue;
        }
        let path = path.trim_end_matches('?');
        let mut items = match e.get_json(path).await? {
            Ok(i) => i,
            Err(x) => {
                return failed(format!(
                    "Error inspecting docker host for object '{kind}': {}",
                    x.msg.unwrap_or_default()
                ))
            }
        };
        if kind == "volumes" {
            items = items.get("Volumes").cloned().unwrap_or(Json::Null);
        }
        if !a.verbose_output {
            let keep = essentials(kind);
            let short = items.as_array().into_iter().flatten().map(|item| {
                let m: Map<String, Json> =
                    keep.iter().map(|k| (k.to_string(), item.get(*k).cloned().unwrap_or(Json::Null))).collect();
                Json::Object(m)
            });
            items = Json::Array(short.collect());
        }
        o = o.with(kind, super::json_value(items));
    }
    Ok(o)
}

super::info_module!(DockerHostInfo, "docker_host_info");
