//! `docker_image` (community.docker): builds, loads, pulls, tags, pushes and removes an image
//! of the target's Docker Engine, as community.docker decides it.
//!
//! Arguments (as in Ansible): `name`, `tag` (default `latest`; a tag in `name` wins),
//! `source` (`build`, `load`, `pull`, `local`; required for `present`), `state` (`present`,
//! `absent`), `build` (`path`, `dockerfile`, `args`, `pull`, `nocache`, `rm`, `network`,
//! `target`, `labels`, `etc_hosts`, `cache_from`, `shm_size`, `platform`,
//! `container_limits`, `http_timeout`), `load_path`, `pull` (`platform`), `force_source`,
//! `force_absent`, `force_tag`, `repository`, `push`. `archive_path` and `build.use_config_proxy`
//! are refused before connecting.
//!
//! An image that is there is left alone unless `force_source`. Pulls, loads, tags, pushes
//! and removals go through the engine's API, as community.docker's do (pushes and pulls carry
//! the account `docker_login` stored for the registry; credential helpers are not asked).
//! Builds run `docker build` with the classic builder on the target, so the context,
//! `.dockerignore` and the Dockerfile are read there as the engine's own client reads them.
//! Registers `image` (the inspection; `{}` when there is none; `{state: Deleted}` after a
//! removal), `actions`, and `stdout` (the build's output) after a build.
//!
//! One known difference: `stdout` is the client's text of the engine's build stream with the
//! empty line community.docker shows after each `Step N/M` line; a `RUN` step that prints part
//! of a line and then the rest in another write shows as one line here and as two there.
//!
//! ```yaml
//! - community.docker.docker_image:
//!     name: registry.example:5000/web
//!     tag: "1.4"
//!     source: build
//!     build: {path: /srv/web, args: {VERSION: "1.4"}}
//!     push: true
//! ```

use super::api::{quote, Body, Engine};
use super::lookup;
use crate::util::or_fail;
use async_trait::async_trait;
use prov_core::args::{lenient_bool, StringList};
use prov_core::cmd::Cmd;
use prov_core::module::{Action, Module, ModuleCtx, ModuleError, Outcome, Plan};
use prov_providers::python::str_repr as py_repr;
use serde::Deserialize;
use serde_json::{json, Map, Value as Json};

fn latest() -> String {
    "latest".into()
}

fn present() -> String {
    "present".into()
}

fn yes() -> bool {
    true
}

/// `build.container_limits`.
#[derive(Debug, Deserialize, Clone, Default)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Memory (`512M`).
    #[serde(default, deserialize_with = "crate::util::stringish")]
    pub memory: Option<String>,
    /// Memory plus swap (`-1` or `unlimited` for no limit).
    #[serde(default, deserialize_with = "crate::util::stringish")]
    pub memswap: Option<String>,
    /// CPU shares.
    #[serde(default)]
    pub cpushares: Option<i64>,
    /// CPUs to run on.
    #[serde(default)]
    pub cpusetcpus: Option<String>,
}

/// `build`.
#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct Build {
    /// The context directory on the target.
    pub path: String,
    /// The Dockerfile, relative to `path` (default `Dockerfile`).
    #[serde(default)]
    pub dockerfile: Option<String>,
    /// Build arguments.
    #[serde(default)]
    pub args: Option<Map<String, Json>>,
    /// Pull the base images.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub pull: bool,
    /// Build without the cache.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub nocache: bool,
    /// Remove intermediate containers.
    #[serde(default = "yes", deserialize_with = "lenient_bool")]
    pub rm: bool,
    /// The network of `RUN` steps.
    #[serde(default)]
    pub network: Option<String>,
    /// The stage to build.
    #[serde(default)]
    pub target: Option<String>,
    /// Labels of the image.
    #[serde(default)]
    pub labels: Option<Map<String, Json>>,
    /// `/etc/hosts` entries of `RUN` steps.
    #[serde(default)]
    pub etc_hosts: Option<Map<String, Json>>,
    /// Images to take the cache from.
    #[serde(default)]
    pub cache_from: Option<StringList>,
    /// Size of `/dev/shm` of `RUN` steps.
    #[serde(default, deserialize_with = "crate::util::stringish")]
    pub shm_size: Option<String>,
    /// The platform.
    #[serde(default)]
    pub platform: Option<String>,
    /// Limits of `RUN` steps.
    #[serde(default)]
    pub container_limits: Option<Limits>,
    /// Seconds to wait for the build (accepted; the task's own timeout applies).
    #[serde(default)]
    pub http_timeout: Option<i64>,
}

/// `pull`.
#[derive(Debug, Deserialize, Clone, Default)]
#[serde(deny_unknown_fields)]
pub struct Pull {
    /// The platform to pull.
    #[serde(default)]
    pub platform: Option<String>,
}

/// Arguments of `docker_image`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    /// The image (`name`, `name:tag` or an id).
    pub name: String,
    /// The tag.
    #[serde(default = "latest", deserialize_with = "crate::util::py_text")]
    pub tag: String,
    /// `build`, `load`, `pull` or `local`.
    #[serde(default)]
    pub source: Option<String>,
    /// `present` or `absent`.
    #[serde(default = "present")]
    pub state: String,
    /// How to build.
    #[serde(default)]
    pub build: Option<Build>,
    /// An image archive on the target (`source: load`).
    #[serde(default)]
    pub load_path: Option<String>,
    /// How to pull.
    #[serde(default)]
    pub pull: Option<Pull>,
    /// Build, load or pull even when the image is there.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub force_source: bool,
    /// Remove with `force`.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub force_absent: bool,
    /// Tag even when the repository's tag exists.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub force_tag: bool,
    /// Tag the image into this repository.
    #[serde(default)]
    pub repository: Option<String>,
    /// Push it.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub push: bool,
}

/// The `docker_image` module.
#[derive(Debug, Default)]
pub struct DockerImage;

/// The build's output as community.docker collects it from the engine's stream (each chunk
/// split into lines): the client's own progress line left out, and the empty line the
/// engine's separate newline after each `Step N/M : ...` makes.
fn build_lines(text: &str) -> Vec<String> {
    let step = regex::Regex::new(r"^Step [0-9]+/[0-9]+ : ").expect("regex");
    let mut out = Vec::new();
    for l in text.lines().filter(|l| !l.starts_with("Sending build context to Docker daemon")) {
        let l = l.trim_end_matches('\r');
        out.push(l.to_string());
        if step.is_match(l) {
            out.push(String::new());
        }
    }
    out
}

/// community.docker's `is_valid_tag` (empty allowed).
fn valid_tag(t: &str) -> bool {
    t.is_empty()
        || (t.len() <= 128
            && t.chars().next().is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
            && t.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')))
}

/// What one run did.
struct Run<'a, 'b, 'c> {
    e: &'c Engine<'a, 'b>,
    check: bool,
    changed: bool,
    actions: Vec<String>,
    image: Json,
    stdout: Option<String>,
    warnings: Vec<String>,
}

type Step<T> = Result<Result<T, Outcome>, ModuleError>;

fn fail<T>(msg: String) -> Step<T> {
    Ok(Err(Outcome::failed(msg)))
}

impl Run<'_, '_, '_> {
    async fn find(&self, name: &str, tag: &str) -> Step<Option<Json>> {
        if lookup::is_image_id(name) {
            lookup::image_by_id(self.e, name).await
        } else {
            lookup::image(self.e, name, tag).await
        }
    }

    /// `docker build` with the classic builder, as community.docker's `build_image` asks the
    /// engine: the output lines, or the failure in its words.
    async fn build(&mut self, b: &Build, name: &str, tag: &str) -> Step<()> {
        let image_name = if tag.is_empty() { name.to_string() } else { format!("{name}:{tag}") };
        let dockerfile = b.dockerfile.clone().unwrap_or_else(|| "Dockerfile".into());
        let dockerfile = if dockerfile.starts_with('/') {
            dockerfile
        } else {
            format!("{}/{dockerfile}", b.path.trim_end_matches('/'))
        };
        let mut cmd = Cmd::new("DOCKER_BUILDKIT=0 docker")
            .flag("build")
            .opt("--tag", &image_name)
            .opt("--file", &dockerfile)
            .opt_eq("--rm", if b.rm { "true" } else { "false" })
            .opt_eq("--force-rm", if b.rm { "true" } else { "false" });
        if b.nocache {
            cmd = cmd.flag("--no-cache");
        }
        if b.pull {
            cmd = cmd.flag("--pull");
        }
        for (k, v) in b.args.iter().flatten() {
            cmd = cmd.opt("--build-arg", format!("{k}={}", super::py_str_python(v)));
        }
        for c in b.cache_from.iter().flat_map(|c| c.0.iter()) {
            cmd = cmd.opt("--cache-from", c);
        }
        if let Some(t) = &b.target {
            cmd = cmd.opt("--target", t);
        }
        if let Some(n) = &b.network {
            cmd = cmd.opt("--network", n);
        }
        for (h, ip) in b.etc_hosts.iter().flatten() {
            cmd = cmd.opt("--add-host", format!("{h}:{}", super::py_str(ip)));
        }
        if let Some(p) = &b.platform {
            cmd = cmd.opt("--platform", p);
        }
        if let Some(s) = &b.shm_size {
            let bytes = match prov_core::template::filters::human_to_bytes_text(s, None, false) {
                Ok(n) => n,
                Err(e) => return fail(format!("Failed to convert build.shm_size to bytes: {e}")),
            };
            cmd = cmd.opt("--shm-size", bytes.to_string());
        }
        for (k, v) in b.labels.iter().flatten() {
            cmd = cmd.opt("--label", format!("{k}={}", super::py_str(v)));
        }
        if let Some(l) = &b.container_limits {
            for (what, v, unlimited) in [("memory", &l.memory, None), ("memswap", &l.memswap, Some(-1i128))] {
                let Some(v) = v else { continue };
                let n = if unlimited.is_some() && (v == "unlimited" || v == "-1") {
                    -1
                } else {
                    match prov_core::template::filters::human_to_bytes_text(v, None, false) {
                        Ok(n) => n,
                        Err(e) => {
                            return fail(format!("Failed to convert build.container_limits.{what} to bytes: {e}"))
                        }
                    }
                };
                cmd = cmd.opt(if what == "memory" { "--memory" } else { "--memory-swap" }, n.to_string());
            }
            if let Some(s) = l.cpushares {
                cmd = cmd.opt("--cpu-shares", s.to_string());
            }
            if let Some(s) = &l.cpusetcpus {
                cmd = cmd.opt("--cpuset-cpus", s);
            }
        }
        let out = self.e.cx().exec(cmd.operand(&b.path).build()).await?;
        let text = out.stdout_str();
        let lines = build_lines(&text);
        if out.rc != 0 {
            let err = out.stderr_str();
            let message = err
                .lines()
                .map(str::trim)
                .rfind(|l| {
                    !l.is_empty()
                        && !l.starts_with("DEPRECATED")
                        && !l.contains("BuildKit")
                        && !l.contains("environment-variable")
                })
                .unwrap_or_default()
                .to_string();
            if out.rc == super::NOT_FOUND {
                return fail(format!(
                    "Error building {name}: Docker is not installed on the host (docker: command not found)"
                ));
            }
            let code = message
                .rsplit_once("returned a non-zero code: ")
                .and_then(|(_, c)| c.trim().parse::<i64>().ok())
                .map(|c| c.to_string())
                .unwrap_or_else(|| "None".into());
            let logs: Vec<String> = lines.iter().map(|l| py_repr(l)).collect();
            return fail(format!(
                "Error building {name} - code: {code}, message: {message}, logs: [{}]",
                logs.join(", ")
            ));
        }
        self.stdout = Some(lines.join("\n"));
        self.image = or_fail!(lookup::image(self.e, name, tag).await, Err).unwrap_or(json!({}));
        Ok(Ok(()))
    }

    /// `POST /images/load` of the target's archive, checked as community.docker checks it.
    async fn load(&mut self, path: &str, name: &str, tag: &str) -> Step<()> {
        let r =
            or_fail!(self.e.call_with("POST", "/images/load", &[], Body::File(path, "application/x-tar")).await, Err);
        let mut output: Vec<String> = Vec::new();
        let mut error = None;
        for line in String::from_utf8_lossy(&r.body).lines() {
            let Ok(v) = serde_json::from_str::<Json>(line) else { continue };
            let text = v.get("stream").or_else(|| v.get("status")).and_then(|s| s.as_str()).unwrap_or_default();
            output.extend(text.lines().map(str::to_string));
            if let Some(d) = v.get("errorDetail").and_then(|d| d.get("message")).and_then(|m| m.as_str()) {
                error = Some(d.to_string());
            }
        }
        if !r.ok() {
            let o = Outcome::failed(format!("Error loading image {name} - {}", r.error_text()))
                .with("stdout", output.join("\n"));
            return Ok(Err(o));
        }
        if let Some(e) = error {
            return Ok(Err(
                Outcome::failed(format!("Error loading image {name} - {e}")).with("stdout", output.join("\n"))
            ));
        }
        let mut names: Vec<String> = Vec::new();
        let mut ids: Vec<String> = Vec::new();
        for l in &output {
            if let Some(n) = l.strip_prefix("Loaded image ID:") {
                ids.push(n.trim().to_lowercase());
            } else if let Some(n) = l.strip_prefix("Loaded image:") {
                names.push(n.trim().to_string());
            }
        }
        names.sort();
        names.dedup();
        ids.sort();
        ids.dedup();
        if names.is_empty() && ids.is_empty() {
            return Ok(Err(Outcome::failed("Detected no loaded images. Archive potentially corrupt?")
                .with("stdout", output.join("\n"))));
        }
        let by_id = lookup::is_image_id(name);
        let expected = if by_id { name.to_lowercase() } else { format!("{name}:{tag}") };
        let found = if by_id { ids.contains(&expected) } else { names.contains(&expected) };
        let shown = |names: &[String]| {
            let mut all: Vec<String> = names.iter().map(|n| format!("'{n}'")).chain(ids.iter().cloned()).collect();
            all.sort();
            all.join(", ")
        };
        if !found {
            return Ok(Err(Outcome::failed(format!(
                "The archive did not contain image '{expected}'. Instead, found {}.",
                shown(&names)
            ))
            .with("stdout", output.join("\n"))));
        }
        names.retain(|n| *n != expected);
        if !names.is_empty() {
            self.warnings.push(format!("The archive contained more images than specified: {}", shown(&names)));
        }
        self.image = or_fail!(self.find(name, tag).await, Err).unwrap_or(json!({}));
        Ok(Ok(()))
    }

    /// `POST /images/{repo}/push` (`push_image`).
    async fn push(&mut self, name: &str, tag: &str) -> Step<()> {
        if lookup::is_image_id(name) {
            return fail(format!("Cannot push an image ID: {name}"));
        }
        let (mut repository, mut tag) = (name.to_string(), tag.to_string());
        if tag.is_empty() {
            let (r, t) = lookup::repository_tag(name);
            (repository, tag) = (r.to_string(), t.unwrap_or_default().to_string());
        }
        let (registry, repo_name) = match lookup::resolve_repository(&repository) {
            Ok(r) => r,
            Err(m) => return fail(format!("An unexpected Docker error occurred: {m}")),
        };
        self.actions.push(format!("Pushed image {name} to {registry}/{repo_name}:{tag}"));
        self.changed = true;
        if self.check {
            return Ok(Ok(()));
        }
        let header = match lookup::registry_auth(self.e, &registry).await? {
            Some(h) => h,
            None => "e30=".to_string(),
        };
        let path = format!("/images/{}/push?tag={}", quote(&repository, "/:"), quote(&tag, ""));
        let r = or_fail!(self.e.call_with("POST", &path, &[("X-Registry-Auth", header)], Body::None).await, Err);
        let mut problem = None;
        let mut status = Json::Null;
        let mut changed = false;
        if !r.ok() {
            problem = Some(r.error_text());
        } else {
            for line in String::from_utf8_lossy(&r.body).lines() {
                let Ok(v) = serde_json::from_str::<Json>(line) else { continue };
                if let Some(m) = v.get("errorDetail").and_then(|d| d.get("message")) {
                    problem = Some(super::py_str_python(m));
                    break;
                }
                status = v.get("status").cloned().unwrap_or(Json::Null);
                if matches!(status.as_str(), Some("Pushing" | "Pushed")) {
                    changed = true;
                }
            }
        }
        if let Some(p) = problem {
            if p.contains("unauthorized") {
                if p.contains("authentication required") {
                    return fail(format!(
                        "Error pushing image {registry}/{repo_name}:{tag} - {p}. Try logging into {registry} first."
                    ));
                }
                return fail(format!(
                    "Error pushing image {registry}/{repo_name}:{tag} - {p}. Does the repository exist?"
                ));
            }
            return fail(format!("Error pushing image {repository}: {p}"));
        }
        self.changed = changed;
        let mut img = or_fail!(lookup::image(self.e, &repository, &tag).await, Err).unwrap_or(json!({}));
        if let Some(m) = img.as_object_mut() {
            m.insert("push_status".into(), status);
        }
        self.image = img;
        Ok(Ok(()))
    }

    /// `POST /images/{name}/tag` into `repository` (`tag_image`), then the push if asked.
    async fn tag_into(&mut self, a: &Args, name: &str, tag: &str, repository: &str) -> Step<()> {
        let (repo, repo_tag) = lookup::repository_tag(repository);
        let repo = repo.to_string();
        let repo_tag =
            repo_tag.map(str::to_string).unwrap_or_else(|| if tag.is_empty() { "latest".into() } else { tag.into() });
        let existing = or_fail!(lookup::image(self.e, &repo, &repo_tag).await, Err);
        if existing.is_none() || a.force_tag {
            let mut image_name = name.to_string();
            if !lookup::is_image_id(name) && !tag.is_empty() && !name.ends_with(&format!(":{tag}")) {
                image_name = format!("{name}:{tag}");
            }
            self.changed = true;
            self.actions.push(format!("Tagged image {image_name} to {repo}:{repo_tag}"));
            if !self.check {
                let path = format!(
                    "/images/{}/tag?tag={}&repo={}&force=True",
                    quote(&image_name, "/:"),
                    quote(&repo_tag, ""),
                    quote(&repo, "")
                );
                let r = or_fail!(self.e.call("POST", &path, None).await, Err);
                if !r.ok() {
                    return fail(format!("Error: failed to tag image - {}", r.error_text()));
                }
                if r.status != 201 {
                    return fail("Error: failed to tag image - Tag operation failed.".into());
                }
                self.image = or_fail!(lookup::image(self.e, &repo, &repo_tag).await, Err).unwrap_or(json!({}));
                if existing.as_ref().is_some_and(|x| x.get("Id") == self.image.get("Id")) {
                    self.changed = false;
                }
            }
        }
        if a.push {
            or_fail!(self.push(&repo, &repo_tag).await, Err);
        }
        Ok(Ok(()))
    }
}

impl DockerImage {
    async fn run(&self, a: &Args, cx: &ModuleCtx<'_>, check: bool) -> Result<Outcome, ModuleError> {
        let e = or_fail!(Engine::connect(cx).await);
        let mut run = Run {
            e: &e,
            check,
            changed: false,
            actions: Vec::new(),
            image: json!({}),
            stdout: None,
            warnings: Vec::new(),
        };
        let (mut name, mut tag) = (a.name.clone(), a.tag.clone());
        if !lookup::is_image_id(&name) {
            let (r, t) = lookup::repository_tag(&a.name);
            if let Some(t) = t {
                (name, tag) = (r.to_string(), t.to_string());
            }
        }
        let done = if a.state == "absent" {
            self.absent(&mut run, a, &name, &tag).await?
        } else {
            self.present(&mut run, a, &name, &tag).await?
        };
        if let Err(o) = done {
            return Ok(o);
        }
        let mut o = Outcome::ok();
        o.changed = run.changed;
        o = o.with("actions", super::json_value(json!(run.actions)));
        o = o.with("image", super::json_value(run.image));
        if let Some(s) = run.stdout {
            o = o.with("stdout", s);
        }
        for w in run.warnings {
            o = o.warn(w);
        }
        Ok(o)
    }

    async fn present(&self, run: &mut Run<'_, '_, '_>, a: &Args, name: &str, tag: &str) -> Step<()> {
        let image = or_fail!(run.find(name, tag).await, Err);
        let source = a.source.as_deref().unwrap_or_default();
        if image.is_none() || a.force_source {
            match source {
                "build" => {
                    if lookup::is_image_id(name) {
                        return fail(format!("Image name must not be an image ID for source=build; got: {name}"));
                    }
                    let Some(b) = &a.build else {
                        return fail(
                            "If \"source\" is set to \"build\", the \"build.path\" option must be specified.".into(),
                        );
                    };
                    if !crate::util::path_test(run.e.cx(), "-d", &b.path).await? {
                        return fail(format!(
                            "Requested build path {} could not be found or you do not have access.",
                            b.path
                        ));
                    }
                    let shown = if tag.is_empty() { name.to_string() } else { format!("{name}:{tag}") };
                    run.actions.push(format!("Built image {shown} from {}", b.path));
                    run.changed = true;
                    if !run.check {
                        or_fail!(run.build(b, name, tag).await, Err);
                    }
                }
                "load" => {
                    let path = a.load_path.clone().unwrap_or_default();
                    if !crate::util::path_test(run.e.cx(), "-f", &path).await? {
                        return fail(format!("Error loading image {name}. Specified path {path} does not exist."));
                    }
                    let shown = if !tag.is_empty() && !lookup::is_image_id(name) {
                        format!("{name}:{tag}")
                    } else {
                        name.to_string()
                    };
                    run.actions.push(format!("Loaded image {shown} from {path}"));
                    run.changed = true;
                    if !run.check {
                        or_fail!(run.load(&path, name, tag).await, Err);
                    }
                }
                "pull" => {
                    if lookup::is_image_id(name) {
                        return fail(format!("Image name must not be an image ID for source=pull; got: {name}"));
                    }
                    run.actions.push(format!("Pulled image {name}:{tag}"));
                    run.changed = true;
                    if !run.check {
                        let platform = a.pull.as_ref().and_then(|p| p.platform.as_deref());
                        let (img, _) = or_fail!(lookup::pull(run.e, name, tag, platform).await, Err);
                        run.image = img.unwrap_or(Json::Null);
                    }
                }
                _ => {
                    if image.is_none() {
                        let shown = if !tag.is_empty() && !lookup::is_image_id(name) {
                            format!("{name}:{tag}")
                        } else {
                            name.to_string()
                        };
                        return fail(format!("Cannot find the image {shown} locally."));
                    }
                }
            }
            if !run.check {
                if let Some(old) = &image {
                    if old.get("Id").is_some() && old.get("Id") == run.image.get("Id") {
                        run.changed = false;
                    }
                }
            }
        } else {
            run.image = image.clone().unwrap_or(json!({}));
        }
        if a.push && a.repository.is_none() {
            or_fail!(run.push(name, tag).await, Err);
        } else if let Some(r) = &a.repository {
            or_fail!(run.tag_into(a, name, tag, r).await, Err);
        }
        Ok(Ok(()))
    }

    async fn absent(&self, run: &mut Run<'_, '_, '_>, a: &Args, name: &str, tag: &str) -> Step<()> {
        let mut shown = name.to_string();
        let image = if lookup::is_image_id(name) {
            or_fail!(lookup::image_by_id(run.e, name).await, Err)
        } else {
            if !tag.is_empty() {
                shown = format!("{name}:{tag}");
            }
            or_fail!(lookup::image(run.e, name, tag).await, Err)
        };
        if image.is_some() {
            if !run.check {
                let path =
                    format!("/images/{}?force={}", quote(&shown, "/:"), if a.force_absent { "True" } else { "False" });
                let r = or_fail!(run.e.call("DELETE", &path, None).await, Err);
                if !r.ok() && r.status != 404 {
                    return fail(format!("Error removing image {shown} - {}", r.error_text()));
                }
            }
            run.changed = true;
            run.actions.push(format!("Removed image {shown}"));
            run.image = json!({"state": "Deleted"});
        }
        Ok(Ok(()))
    }
}

#[async_trait]
impl Module for DockerImage {
    const NAME: &'static str = "docker_image";
    const COLLECTIONS: &'static [&'static str] = &["community.docker", "ansible.builtin"];
    type Args = Args;
    type Plan = ();

    fn check_args(a: &Args) -> Result<(), String> {
        if !matches!(a.state.as_str(), "present" | "absent") {
            return Err(format!("value of state must be one of: absent, present, got: {}", a.state));
        }
        if let Some(s) = &a.source {
            if !matches!(s.as_str(), "build" | "load" | "pull" | "local") {
                return Err(format!("value of source must be one of: build, load, pull, local, got: {s}"));
            }
        }
        if a.state == "present" && a.source.is_none() {
            return Err("state is present but all of the following are missing: source".into());
        }
        if a.source.as_deref() == Some("build") && a.build.is_none() {
            return Err("source is build but all of the following are missing: build".into());
        }
        if a.source.as_deref() == Some("load") && a.load_path.is_none() {
            return Err("source is load but all of the following are missing: load_path".into());
        }
        if !valid_tag(&a.tag) {
            return Err(format!("\"{}\" is not a valid docker tag!", a.tag));
        }
        if a.repository.as_deref().is_some_and(lookup::is_image_id) {
            return Err(format!(
                "`repository` must not be an image ID; got: {}",
                a.repository.as_deref().unwrap_or_default()
            ));
        }
        if a.repository.is_none() && a.push && lookup::is_image_id(&a.name) {
            return Err(format!(
                "Cannot push an image by ID; specify `repository` to tag and push the image with ID {} instead",
                a.name
            ));
        }
        Ok(())
    }

    async fn plan(&self, a: &Args, cx: &ModuleCtx<'_>) -> Result<Plan<()>, ModuleError> {
        let action = if a.state == "absent" { Action::Delete } else { Action::Create };
        crate::util::decide_while_acting(cx, action, "docker image", a.name.clone(), self.run(a, cx, true)).await
    }

    async fn apply(&self, a: &Args, _: (), cx: &ModuleCtx<'_>) -> Result<Outcome, ModuleError> {
        self.run(a, cx, false).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_logs_are_shown_as_python_shows_a_list_of_text() {
        assert_eq!(py_repr("Step 1/2 : FROM x"), "'Step 1/2 : FROM x'");
        assert_eq!(py_repr("it's"), "\"it's\"");
        assert_eq!(py_repr("a\tb\\"), "'a\\tb\\\\'");
        assert!(valid_tag("1.4-rc_1") && valid_tag("") && !valid_tag("-x") && !valid_tag("a:b"));
    }

    #[test]
    fn arguments_are_checked_as_community_docker_checks_them() {
        let a = |v: Json| serde_json::from_value::<Args>(v).expect("args");
        assert!(DockerImage::check_args(&a(json!({"name": "x"}))).is_err(), "present needs a source");
        assert!(DockerImage::check_args(&a(json!({"name": "x", "source": "build"}))).is_err());
        assert!(DockerImage::check_args(&a(json!({"name": "x", "source": "local", "tag": "a b"}))).is_err());
        assert!(DockerImage::check_args(&a(json!({"name": "x", "state": "absent"}))).is_ok());
        assert_eq!(a(json!({"name": "x", "tag": 1.5})).tag, "1.5");
    }
}
