//! `docker_prune` (community.docker): removes the target's unused containers, images, networks,
//! volumes and build cache, through the engine's API as community.docker does (see
//! `containers::api`).
//!
//! Arguments (as in Ansible): `containers`, `images`, `networks`, `volumes`, `builder_cache`
//! (each default false), their `*_filters` (a mapping; a list value is several values of one
//! filter, booleans are `true`/`false`), `builder_cache_all`, `builder_cache_keep_storage`
//! (`10G`: ansible-core's `human_to_bytes`).
//!
//! Registers what community.docker does: for each kind pruned, the ids the engine deleted
//! (`containers`, `images`, `networks`, `volumes`, `builder_cache_caches_deleted`) and the space
//! it reclaimed (`*_space_reclaimed`); `changed` when anything went. Like community.docker's
//! module it has no check mode: under `--check` the task is skipped with its message. An engine
//! error fails the task with community.docker's text (`An unexpected Docker error occurred: 400
//! Client Error for http+docker://localhost/v1.41/images/prune?filters=...`).
//!
//! ```yaml
//! - community.docker.docker_prune:
//!     containers: true
//!     containers_filters: {until: 24h}
//!     images: true
//! ```

use super::api::Engine;
use crate::util::or_fail;
use async_trait::async_trait;
use prov_core::args::lenient_bool;
use prov_core::module::{Action, Change, Module, ModuleCtx, ModuleError, Outcome, Plan};
use serde::Deserialize;
use serde_json::{Map, Value as Json};

/// Arguments of `docker_prune`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    /// Prune stopped containers.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub containers: bool,
    /// Which containers.
    #[serde(default)]
    pub containers_filters: Option<Map<String, Json>>,
    /// Prune images (dangling ones unless a filter says otherwise).
    #[serde(default, deserialize_with = "lenient_bool")]
    pub images: bool,
    /// Which images.
    #[serde(default)]
    pub images_filters: Option<Map<String, Json>>,
    /// Prune unused networks.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub networks: bool,
    /// Which networks.
    #[serde(default)]
    pub networks_filters: Option<Map<String, Json>>,
    /// Prune unused volumes.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub volumes: bool,
    /// Which volumes.
    #[serde(default)]
    pub volumes_filters: Option<Map<String, Json>>,
    /// Prune the build cache.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub builder_cache: bool,
    /// Every kind of build cache.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub builder_cache_all: bool,
    /// Which build cache.
    #[serde(default)]
    pub builder_cache_filters: Option<Map<String, Json>>,
    /// Space to keep for the build cache (`10G`).
    #[serde(default, deserialize_with = "crate::util::stringish")]
    pub builder_cache_keep_storage: Option<String>,
}

/// The `docker_prune` module.
#[derive(Debug, Default)]
pub struct DockerPrune;

impl DockerPrune {
    async fn prune(&self, a: &Args, cx: &ModuleCtx<'_>) -> Result<Outcome, ModuleError> {
        let keep = match a
            .builder_cache_keep_storage
            .as_deref()
            .map(|s| prov_core::template::filters::human_to_bytes_text(s, None, false))
        {
            None => None,
            Some(Ok(n)) => Some(n),
            Some(Err(e)) => {
                return Ok(Outcome::failed(format!("Error while parsing value of builder_cache_keep_storage: {e}")))
            }
        };
        let e = or_fail!(Engine::connect(cx).await);
        let mut o = Outcome::ok();
        let mut changed = false;
        let list = |v: Option<&Json>| match v {
            Some(Json::Array(a)) if !a.is_empty() => Json::Array(a.clone()),
            _ => Json::Array(Vec::new()),
        };
        let space = |r: &Json| r.get("SpaceReclaimed").cloned().unwrap_or(Json::Null);
        let post = |kind: &str, filters: &Option<Map<String, Json>>, extra: String| {
            format!("/{kind}/prune?filters={}{extra}", crate::containers::filters_query(filters))
        };
        let unexpected = "An unexpected Docker error occurred: ";
        for (wanted, kind, filters, deleted) in [
            (a.containers, "containers", &a.containers_filters, "ContainersDeleted"),
            (a.images, "images", &a.images_filters, "ImagesDeleted"),
            (a.networks, "networks", &a.networks_filters, "NetworksDeleted"),
            (a.volumes, "volumes", &a.volumes_filters, "VolumesDeleted"),
        ] {
            if !wanted {
                continue;
            }
            let r = or_fail!(e.send("POST", &post(kind, filters, String::new()), None, unexpected).await);
            let ids = list(r.get(deleted));
            changed |= ids.as_array().is_some_and(|a| !a.is_empty());
            o = o.with(kind, super::json_value(ids));
            if kind != "networks" {
                let s = space(&r);
                changed |= s.as_u64().is_some_and(|n| n > 0);
                o = o.with(&format!("{kind}_space_reclaimed"), super::json_value(s));
            }
        }
        if a.builder_cache {
            let mut extra = String::new();
            if a.builder_cache_all {
                extra.push_str("&all=true");
            }
            if let Some(k) = keep {
                extra.push_str(&format!("&keep-storage={k}"));
            }
            let path =
                format!("/build/prune?filters={}{extra}", crate::containers::filters_query(&a.builder_cache_filters));
            let r = or_fail!(e.send("POST", &path, None, unexpected).await);
            let s = space(&r);
            changed |= s.as_u64().is_some_and(|n| n > 0);
            o = o.with("builder_cache_space_reclaimed", super::json_value(s));
            if let Some(c) = r.get("CachesDeleted") {
                changed |= c.as_array().is_some_and(|a| !a.is_empty());
                o = o.with("builder_cache_caches_deleted", super::json_value(c.clone()));
            }
        }
        o.changed = changed;
        Ok(o)
    }
}

#[async_trait]
impl Module for DockerPrune {
    const NAME: &'static str = "docker_prune";
    const COLLECTIONS: &'static [&'static str] = &["community.docker", "ansible.builtin"];
    type Args = Args;
    type Plan = ();

    async fn plan(&self, _a: &Args, cx: &ModuleCtx<'_>) -> Result<Plan<()>, ModuleError> {
        if cx.is_check() {
            // community.docker's module does not support check mode: ansible-core skips it.
            let mut o = Outcome { skipped: true, ..Outcome::ok() };
            o.msg = Some("remote module (community.docker.docker_prune) does not support check mode".into());
            return Ok(Plan::Ok(o));
        }
        Ok(Plan::Change(Change::new((), Action::Delete, "docker objects", "unused")))
    }

    async fn apply(&self, a: &Args, _: (), cx: &ModuleCtx<'_>) -> Result<Outcome, ModuleError> {
        self.prune(a, cx).await
    }
}

#[cfg(test)]
mod tests {
    use crate::containers::api::quote;
    use serde_json::json;

    #[test]
    fn filters_are_sent_as_community_docker_encodes_them() {
        let f = json!({"nonsense": "x"}).as_object().cloned();
        // The query of community.docker's request for these filters (from its error message).
        assert_eq!(crate::containers::filters_query(&f), "%7B%22nonsense%22%3A+%5B%22x%22%5D%7D");
        let f = json!({"label": ["a=b", "c"], "dangling": true, "n": 1}).as_object().cloned();
        let decoded = "{\"label\": [\"a=b\", \"c\"], \"dangling\": [\"true\"], \"n\": [\"1\"]}";
        assert_eq!(crate::containers::filters_query(&f), quote(decoded, " ").replace(' ', "+"));
        assert_eq!(crate::containers::filters_query(&None), "%7B%7D");
    }
}
