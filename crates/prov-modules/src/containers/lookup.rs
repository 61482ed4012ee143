//! Finding one object of the target's Docker Engine as community.docker's clients find it: a
//! container or a network by name or id prefix, an image by `name:tag` or id, and the swarm
//! reads of its `AnsibleDockerSwarmClient` (manager check, node and service inspection), with
//! their error texts.

use super::api::{quote, Engine};
use crate::util::or_fail;
use prov_core::module::{ModuleError, Outcome};
use serde_json::{json, Value as Json};

/// A read of the engine: the value, or the failed result community.docker ends the module with.
pub(crate) type Read<T> = Result<Result<T, Outcome>, ModuleError>;

/// A failed result carrying `msg`.
fn fail<T>(msg: String) -> Read<T> {
    Ok(Err(Outcome::failed(msg)))
}

/// The message of a failed read (its `msg`).
fn msg(o: Outcome) -> String {
    o.msg.unwrap_or_default()
}

/// `GET path`: the JSON answer, `None` on 404, or the failed result with `what` before the
/// engine's error text.
pub(crate) async fn inspect(e: &Engine<'_, '_>, path: &str, what: &str) -> Read<Option<Json>> {
    let r = or_fail!(e.call("GET", path, None).await, Err);
    if r.status == 404 {
        return Ok(Ok(None));
    }
    if !r.ok() {
        return fail(format!("{what}{}", r.error_text()));
    }
    Ok(Ok(Some(r.json())))
}

/// The inspection of a container named `name` (with or without its leading `/`), or whose id
/// starts with `name`: the first of `GET /containers/json?all=1` that matches.
pub(crate) async fn container(e: &Engine<'_, '_>, name: &str) -> Read<Option<Json>> {
    let list = match e.get_json("/containers/json?limit=-1&all=1&size=0&trunc_cmd=0").await? {
        Ok(l) => l,
        Err(o) => return fail(format!("Error retrieving container list: {}", msg(o))),
    };
    let search = if name.starts_with('/') { name.to_string() } else { format!("/{name}") };
    let hit = list.as_array().and_then(|cs| {
        cs.iter().find(|c| {
            c.get("Names")
                .and_then(|n| n.as_array())
                .is_some_and(|n| n.iter().any(|x| x.as_str() == Some(search.as_str())))
                || c.get("Id").and_then(|x| x.as_str()).is_some_and(|id| id.starts_with(name))
        })
    });
    let Some(id) = hit.and_then(|c| c.get("Id")).and_then(|i| i.as_str()) else { return Ok(Ok(None)) };
    inspect(e, &format!("/containers/{}/json", quote(id, "/:")), "Error inspecting container: ").await
}

/// The inspection of the network named `name`, or whose id starts with `name`.
pub(crate) async fn network(e: &Engine<'_, '_>, name: &str) -> Read<Option<Json>> {
    let list = match e.get_json("/networks").await? {
        Ok(l) => l,
        Err(o) => return fail(format!("Error retrieving network list: {}", msg(o))),
    };
    let hit = list.as_array().and_then(|nets| {
        nets.iter().find(|n| {
            n.get("Name").and_then(|x| x.as_str()) == Some(name)
                || n.get("Id").and_then(|x| x.as_str()).is_some_and(|id| id.starts_with(name))
        })
    });
    match hit.and_then(|n| n.get("Id")).and_then(|i| i.as_str()) {
        Some(id) => network_by_id(e, id).await,
        None => Ok(Ok(None)),
    }
}

/// The inspection of the network with id `id`.
pub(crate) async fn network_by_id(e: &Engine<'_, '_>, id: &str) -> Read<Option<Json>> {
    inspect(e, &format!("/networks/{}", quote(id, "/:")), "Error inspecting network: ").await
}

/// Whether `name` is an image id (`sha256:` and 64 hex digits) rather than a name.
pub(crate) fn is_image_id(name: &str) -> bool {
    name.strip_prefix("sha256:").is_some_and(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// `name[:tag]` or `name@digest` split as the Docker SDK splits it (a `:` inside the last path
/// part separates the tag; `registry:5000/app` has none).
pub(crate) fn repository_tag(name: &str) -> (&str, Option<&str>) {
    if let Some((repo, digest)) = name.rsplit_once('@') {
        return (repo, Some(digest));
    }
    match name.rsplit_once(':') {
        Some((repo, tag)) if !tag.contains('/') => (repo, Some(tag)),
        _ => (name, None),
    }
}

/// The default registry's name, which image names without a registry resolve to.
const INDEX_NAME: &str = "docker.io";

/// The registry and the remote name of a repository, or the Docker SDK's refusal of it.
pub(crate) fn resolve_repository(repo: &str) -> Result<(String, String), String> {
    if repo.contains("://") {
        return Err(format!("Repository name cannot contain a scheme ({repo})"));
    }
    let (index, remote) = match repo.split_once('/') {
        Some((first, rest)) if first.contains('.') || first.contains(':') || first == "localhost" => (first, rest),
        _ => (INDEX_NAME, repo),
    };
    if index.starts_with('-') || index.ends_with('-') {
        return Err(format!("Invalid index name ({index}). Cannot begin or end with a hyphen."));
    }
    let host = index.replace("http://", "").replace("https://", "");
    let host = host.split('/').next().unwrap_or_default();
    let host = if host == format!("index.{INDEX_NAME}") { INDEX_NAME } else { host };
    Ok((host.to_string(), remote.to_string()))
}

/// The images listed under the reference `name`; with a tag, only the one carrying
/// `name:tag` (or `name@tag` among its digests).
async fn image_lookup(e: &Engine<'_, '_>, name: &str, tag: &str) -> Read<Vec<Json>> {
    let filters = json!({ "reference": name }).as_object().cloned();
    let path = format!("/images/json?only_ids=0&all=0&filters={}", super::filters_query(&filters));
    let images = match e.get_json(&path).await? {
        Ok(Json::Array(l)) => l,
        Ok(_) => Vec::new(),
        Err(o) => return fail(format!("Error searching for image {name} - {}", msg(o))),
    };
    if tag.is_empty() {
        return Ok(Ok(images));
    }
    let (by_tag, by_digest) = (format!("{name}:{tag}"), format!("{name}@{tag}"));
    let has = |img: &Json, key: &str, want: &str| {
        img.get(key).and_then(|t| t.as_array()).is_some_and(|t| t.iter().any(|x| x.as_str() == Some(want)))
    };
    Ok(Ok(images
        .into_iter()
        .find(|i| has(i, "RepoTags", &by_tag) || has(i, "RepoDigests", &by_digest))
        .into_iter()
        .collect()))
}

/// The inspection of image `name:tag`, looked up as community.docker does (also under the
/// default registry's spellings of the name when the plain name finds nothing).
pub(crate) async fn image(e: &Engine<'_, '_>, name: &str, tag: &str) -> Read<Option<Json>> {
    if name.is_empty() {
        return Ok(Ok(None));
    }
    let mut images = or_fail!(image_lookup(e, name, tag).await, Err);
    if images.is_empty() {
        let (registry, repo) = match resolve_repository(name) {
            Ok(r) => r,
            Err(m) => return fail(format!("An unexpected Docker error occurred: {m}")),
        };
        if registry == INDEX_NAME {
            let mut tries = vec![repo.clone()];
            if let Some(short) = repo.strip_prefix("library/") {
                tries.push(short.to_string());
            }
            tries.push(format!("{registry}/{repo}"));
            if !repo.contains('/') {
                tries.push(format!("{registry}/library/{repo}"));
            }
            for t in tries {
                images = or_fail!(image_lookup(e, &t, tag).await, Err);
                if !images.is_empty() {
                    break;
                }
            }
        }
    }
    match images.as_slice() {
        [] => Ok(Ok(None)),
        [one] => {
            let id = one.get("Id").and_then(|i| i.as_str()).unwrap_or_default();
            let what = format!("Error inspecting image {name}:{tag} - ");
            inspect(e, &format!("/images/{}/json", quote(id, "/:")), &what).await
        }
        _ => fail(format!("Daemon returned more than one result for {name}:{tag}")),
    }
}

/// The inspection of the image with id `id`, `None` when there is none.
pub(crate) async fn image_by_id(e: &Engine<'_, '_>, id: &str) -> Read<Option<Json>> {
    inspect(e, &format!("/images/{}/json", quote(id, "/:")), &format!("Error inspecting image ID {id} - ")).await
}

/// The `X-Registry-Auth` value for `registry` from the task user's Docker configuration
/// (`$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`), as community.docker's
/// `get_config_header` makes it: the stored account as URL-safe base64 of JSON. Credential
/// helpers are not asked (as `docker_login`).
pub(crate) async fn registry_auth(e: &Engine<'_, '_>, registry: &str) -> Result<Option<String>, ModuleError> {
    use base64::Engine as _;
    let out =
        e.cx().exec(prov_core::cmd::Sh::lit("cat \"${DOCKER_CONFIG:-$HOME/.docker}/config.json\" 2>/dev/null")).await?;
    let config: Json = serde_json::from_slice(&out.stdout).unwrap_or(Json::Null);
    let Some(auth) = super::docker_login::resolve(&config, registry).filter(|a| !a.is_empty()) else {
        return Ok(None);
    };
    Ok(Some(base64::engine::general_purpose::URL_SAFE.encode(Json::Object(auth).to_string())))
}

/// Pulls `repository:tag` as community.docker's `pull_image` does: the image afterwards, and
/// whether it was already there and the same (`alreadyToLatest`).
pub(crate) async fn pull(
    e: &Engine<'_, '_>,
    repository: &str,
    tag: &str,
    platform: Option<&str>,
) -> Read<(Option<Json>, bool)> {
    let old = or_fail!(image(e, repository, tag).await, Err);
    let registry = match resolve_repository(repository) {
        Ok((r, _)) => r,
        Err(m) => return fail(format!("Error pulling image {repository}:{tag} - {m}")),
    };
    let mut path = format!("/images/create?tag={}&fromImage={}", quote(tag, ""), quote(repository, ""));
    if let Some(p) = platform {
        path.push_str(&format!("&platform={}", quote(p, "")));
    }
    let mut headers = Vec::new();
    if let Some(h) = registry_auth(e, &registry).await? {
        headers.push(("X-Registry-Auth", h));
    }
    let r = or_fail!(e.call_with("POST", &path, &headers, super::api::Body::None).await, Err);
    if !r.ok() {
        return fail(format!("Error pulling image {repository}:{tag} - {}", r.error_text()));
    }
    for line in String::from_utf8_lossy(&r.body).lines() {
        let Ok(v) = serde_json::from_str::<Json>(line) else { continue };
        if let Some(err) = v.get("error").filter(|x| !x.is_null()) {
            return fail(match v.get("errorDetail").filter(|d| !d.is_null()) {
                Some(d) => format!(
                    "Error pulling {repository} - code: {} message: {}",
                    super::py_str_python(d.get("code").unwrap_or(&Json::Null)),
                    super::py_str_python(d.get("message").unwrap_or(&Json::Null))
                ),
                None => format!("Error pulling {repository} - {}", super::py_str_python(err)),
            });
        }
    }
    let new = or_fail!(image(e, repository, tag).await, Err);
    let same = match (&old, &new) {
        (Some(o), Some(n)) => o.get("Id") == n.get("Id"),
        _ => false,
    };
    Ok(Ok((new, same)))
}

/// The swarm side of the engine, as community.docker's `AnsibleDockerSwarmClient` reads it.
pub(crate) mod swarm {
    use super::*;

    /// `GET /info`.
    pub(crate) async fn info(e: &Engine<'_, '_>) -> Read<Json> {
        e.get_json("/info").await
    }

    /// Whether the engine is a swarm node (it has a node id, or its local state is active,
    /// pending or locked).
    pub(crate) async fn is_node(e: &Engine<'_, '_>) -> Read<bool> {
        let info = match info(e).await? {
            Ok(i) => i,
            Err(_) => return fail("Failed to get host information.".into()),
        };
        let swarm = &info["Swarm"];
        let id = swarm["NodeID"].as_str().is_some_and(|s| !s.is_empty());
        let state = matches!(swarm["LocalNodeState"].as_str(), Some("active" | "pending" | "locked"));
        Ok(Ok(id || state))
    }

    /// Whether the engine is a manager: whether it answers `GET /swarm`.
    pub(crate) async fn is_manager(e: &Engine<'_, '_>) -> Read<bool> {
        let r = or_fail!(e.call("GET", "/swarm", None).await, Err);
        Ok(Ok(r.ok()))
    }

    /// The failure of a swarm module run on an engine that is not a manager.
    pub(crate) const NOT_MANAGER: &str = "Error running docker swarm module: must run on swarm manager node";

    /// The engine's own node id, or the failure when it has none.
    pub(crate) async fn own_node_id(e: &Engine<'_, '_>) -> Read<String> {
        let info = match info(e).await? {
            Ok(i) => i,
            Err(o) => return fail(format!("Failed to get node information for {}", msg(o))),
        };
        match info["Swarm"]["NodeID"].as_str().filter(|s| !s.is_empty()) {
            Some(id) => Ok(Ok(id.to_string())),
            None => fail("Failed to get node information.".into()),
        }
    }

    /// `docker node inspect` of one node (id or host name), with the leader's address mended
    /// as community.docker mends it; `None` for a missing node when `skip_missing`.
    pub(crate) async fn node(e: &Engine<'_, '_>, id: &str, skip_missing: bool) -> Read<Option<Json>> {
        let r = or_fail!(e.call("GET", &format!("/nodes/{}", quote(id, "/:")), None).await, Err);
        if r.status == 503 {
            return fail("Cannot inspect node: To inspect node execute module on Swarm Manager".into());
        }
        if r.status == 404 && skip_missing {
            return Ok(Ok(None));
        }
        if !r.ok() {
            return fail(format!("Error while reading from Swarm manager: {}", r.error_text()));
        }
        let mut node = r.json();
        if node["ManagerStatus"]["Leader"].as_bool() == Some(true) {
            let addr = node["ManagerStatus"]["Addr"].as_str().unwrap_or_default().to_string();
            let status_addr = node["Status"]["Addr"].clone();
            let leader = match addr.split_once(':') {
                Some((ip, _)) if addr.matches(':').count() == 1 && !ip.is_empty() => Json::from(ip),
                _ => status_addr,
            };
            node["Status"]["Addr"] = leader;
        }
        Ok(Ok(Some(node)))
    }

    /// `GET /nodes`: every node of the swarm.
    pub(crate) async fn all_nodes(e: &Engine<'_, '_>) -> Read<Json> {
        let r = or_fail!(e.call("GET", "/nodes", None).await, Err);
        if r.status == 503 {
            return fail("Cannot inspect node: To inspect node execute module on Swarm Manager".into());
        }
        if !r.ok() {
            return fail(format!("Error while reading from Swarm manager: {}", r.error_text()));
        }
        Ok(Ok(r.json()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_names_split_as_the_docker_sdk_splits_them() {
        assert_eq!(repository_tag("app"), ("app", None));
        assert_eq!(repository_tag("app:v2"), ("app", Some("v2")));
        assert_eq!(repository_tag("registry:5000/app"), ("registry:5000/app", None));
        assert_eq!(repository_tag("registry:5000/app:1"), ("registry:5000/app", Some("1")));
        assert_eq!(repository_tag("app@sha256:ab"), ("app", Some("sha256:ab")));
        assert!(is_image_id(&format!("sha256:{}", "0a".repeat(32))));
        assert!(!is_image_id("sha256:0a"));
        assert!(!is_image_id("a4867088f91b"));
    }

    #[test]
    fn repositories_resolve_to_their_registry() {
        let r = |s: &str| resolve_repository(s).map(|(a, b)| format!("{a} {b}"));
        assert_eq!(r("app"), Ok("docker.io app".into()));
        assert_eq!(r("team/app"), Ok("docker.io team/app".into()));
        assert_eq!(r("localhost/app"), Ok("localhost app".into()));
        assert_eq!(r("reg.example:5000/team/app"), Ok("reg.example:5000 team/app".into()));
        assert_eq!(r("index.docker.io/library/app"), Ok("docker.io library/app".into()));
        assert!(r("http://x/app").unwrap_err().contains("cannot contain a scheme"));
        assert!(r("-bad.io/app").unwrap_err().contains("Cannot begin or end with a hyphen"));
    }
}
