//! `docker_image_load`: loads an image tarball from the controller into the target's Docker,
//! unless the image is already there.
//!
//! Unlike Ansible's `community.docker.docker_image_load` (whose `path` is on the target), `src`
//! is a file on the controller, found like `copy`'s `src` (the role's `files/`, then next to the
//! playbook). Arguments:
//! - `src` (required): a `docker save` tarball (uncompressed; the Docker and OCI layouts both
//!   work).
//! - `name`: the image reference the tarball holds (e.g. `web:v2`); informative only (it is
//!   registered): the tags loaded are those recorded in the tarball.
//! - `tmp_dir`: where the tarball is uploaded on the target before `docker load` (default
//!   `/tmp`); it is removed afterwards.
//!
//! The image ID is read on the controller from the tarball's `manifest.json`. One
//! `docker image inspect` on the target checks that the ID is present and that each tag of the
//! tarball names it; if so nothing is transferred. Otherwise the tarball is uploaded, loaded
//! and removed, and the ID is checked again. Registers `image_id` (`sha256:...`), `name`,
//! `image_ids` and `image_names` (the tags in the tarball, as Ansible's module does).
//!
//! ```yaml
//! - docker_image_load: { src: images/web-v2.tar, name: "web:v2" }
//!   register: img
//! - debug: { msg: "{{ img.image_id }}" }
//! ```

use super::docker_error;
use async_trait::async_trait;
use prov_core::cmd::{Cmd, Sh};
use prov_core::module::{Action, Change, Module, ModuleCtx, ModuleError, Outcome, Plan};
use serde::Deserialize;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Arguments of `docker_image_load`.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Args {
    /// Tarball on the controller.
    pub src: String,
    /// Image reference (informative).
    #[serde(default)]
    pub name: Option<String>,
    /// Upload directory on the target.
    #[serde(default)]
    pub tmp_dir: Option<String>,
}

/// The `docker_image_load` module.
#[derive(Debug, Default)]
pub struct DockerImageLoad;

/// What a `docker save` tarball holds, from its `manifest.json`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TarImages {
    /// Each image: its ID (`sha256:<hex>`) and tags.
    pub images: Vec<(String, Vec<String>)>,
}

impl TarImages {
    /// Every reference to check on the target and the ID it must name: the IDs, then the tags.
    fn refs(&self) -> Vec<(String, String)> {
        let ids = self.images.iter().map(|(id, _)| (id.clone(), id.clone()));
        let tags = self.images.iter().flat_map(|(id, tags)| tags.iter().map(move |t| (t.clone(), id.clone())));
        ids.chain(tags).collect()
    }

    fn ids(&self) -> Vec<String> {
        self.images.iter().map(|(id, _)| id.clone()).collect()
    }

    fn tags(&self) -> Vec<String> {
        self.images.iter().flat_map(|(_, t)| t.clone()).collect()
    }
}

/// The image ID a manifest's `Config` names: `<hex>.json` (Docker layout) or
/// `blobs/sha256/<hex>` (OCI layout).
fn config_id(config: &str) -> Option<String> {
    let name = config.rsplit('/').next()?;
    let hex = name.strip_suffix(".json").unwrap_or(name);
    (hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| format!("sha256:{}", hex.to_ascii_lowercase()))
}

/// Parses `manifest.json` of a `docker save` tarball.
pub fn parse_manifest(text: &[u8]) -> Result<TarImages, String> {
    #[derive(Deserialize)]
    struct Entry {
        #[serde(rename = "Config")]
        config: String,
        #[serde(rename = "RepoTags", default)]
        repo_tags: Option<Vec<String>>,
    }
    let entries: Vec<Entry> = serde_json::from_slice(text).map_err(|e| format!("manifest.json is not valid: {e}"))?;
    if entries.is_empty() {
        return Err("manifest.json lists no image".into());
    }
    let mut images = Vec::new();
    for e in entries {
        let id = config_id(&e.config).ok_or_else(|| format!("manifest.json: unexpected Config {}", e.config))?;
        images.push((id, e.repo_tags.unwrap_or_default()));
    }
    Ok(TarImages { images })
}

/// Reads the images of a `docker save` tarball on the controller.
pub fn read_tarball(path: &Path) -> Result<TarImages, String> {
    let shown = path.display();
    let mut f = std::fs::File::open(path).map_err(|e| format!("opening {shown}: {e}"))?;
    let mut magic = [0u8; 2];
    if f.read_exact(&mut magic).is_ok() && magic == [0x1f, 0x8b] {
        return Err(format!("{shown} is gzip-compressed: give an uncompressed docker save tarball"));
    }
    let f = std::fs::File::open(path).map_err(|e| format!("opening {shown}: {e}"))?;
    let mut archive = tar::Archive::new(f);
    let entries = archive.entries_with_seek().map_err(|e| format!("reading {shown}: {e}"))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| format!("reading {shown}: {e}"))?;
        let is_manifest = entry.path().map(|p| p.as_ref() == Path::new("manifest.json")).unwrap_or(false)
            || entry.path().map(|p| p.as_ref() == Path::new("./manifest.json")).unwrap_or(false);
        if is_manifest {
            let mut text = Vec::new();
            entry.read_to_end(&mut text).map_err(|e| format!("reading {shown}: {e}"))?;
            return parse_manifest(&text).map_err(|e| format!("{shown}: {e}"));
        }
    }
    Err(format!("{shown} has no manifest.json: is it a docker save tarball?"))
}

/// What is on the target for each reference: `Some(id)` or `None` (absent).
type Present = Vec<(String, Option<String>)>;

/// Looks the references up with one `docker image inspect`.
async fn lookup(cx: &ModuleCtx<'_>, refs: &[(String, String)]) -> Result<Present, ModuleError> {
    // stderr is folded into stdout so that "No such image" tells a missing image from an error.
    let inspect = Cmd::new("docker").flag("image").flag("inspect").flag("--format").flag("'{{.Id}}'");
    let cmd = inspect.operands(refs.iter().map(|(r, _)| r)).build().suffix(" 2>&1");
    let out = cx.exec(cmd).await?;
    let text = out.stdout_str();
    if out.rc != 0 && (out.rc == 127 || !text.contains("No such image")) {
        return Err(ModuleError::Failed(docker_error(
            "checking for the image on the target (docker image inspect)",
            &out,
        )));
    }
    // Found images print their ID in argument order; missing ones "Error: No such image: REF".
    let missing = |r: &str| {
        let tail = format!(": {r}");
        text.lines().any(|l| l.contains("No such image") && l.trim_end().ends_with(&tail))
    };
    let mut ids = text.lines().map(str::trim).filter(|l| l.starts_with("sha256:"));
    Ok(refs.iter().map(|(r, _)| (r.clone(), if missing(r) { None } else { ids.next().map(str::to_string) })).collect())
}

/// Whether every reference names the ID it should.
fn all_present(refs: &[(String, String)], present: &Present) -> bool {
    refs.iter().zip(present).all(|((_, want), (_, got))| got.as_deref() == Some(want.as_str()))
}

fn state_text(present: &Present) -> String {
    present.iter().map(|(r, id)| format!("{r}: {}\n", id.as_deref().unwrap_or("absent"))).collect()
}

/// What `apply` needs.
pub struct LoadPlan {
    path: PathBuf,
    images: TarImages,
}

fn registered(o: Outcome, args: &Args, images: &TarImages) -> Outcome {
    let ids = images.ids();
    let tags = images.tags();
    let name = args.name.clone().or_else(|| tags.first().cloned()).unwrap_or_default();
    o.with("image_id", ids.first().cloned().unwrap_or_default())
        .with("name", name)
        .with("image_ids", ids)
        .with("image_names", tags)
}

#[async_trait]
impl Module for DockerImageLoad {
    const NAME: &'static str = "docker_image_load";
    const COLLECTIONS: &'static [&'static str] = &["community.docker"];
    type Args = Args;
    type Plan = LoadPlan;

    fn check_args(args: &Args) -> Result<(), String> {
        if args.src.is_empty() {
            return Err("src must not be empty".into());
        }
        Ok(())
    }

    async fn plan(&self, args: &Args, cx: &ModuleCtx<'_>) -> Result<Plan<LoadPlan>, ModuleError> {
        let src = args.src.as_str();
        let path =
            cx.files.find("files", src).map_err(|e| ModuleError::Failed(format!("could not find src {src}: {e}")))?;
        let images = read_tarball(&path).map_err(ModuleError::Failed)?;
        let refs = images.refs();
        let present = lookup(cx, &refs).await?;
        if all_present(&refs, &present) {
            return Ok(Plan::Ok(registered(Outcome::ok(), args, &images)));
        }
        let shown =
            args.name.clone().or_else(|| images.tags().first().cloned()).unwrap_or_else(|| images.ids().join(","));
        let after: String = refs.iter().map(|(r, id)| format!("{r}: {id}\n")).collect();
        Ok(Plan::Change(Change::new(LoadPlan { path, images }, Action::Create, "image", shown.clone()).with_diff(
            format!("image {shown}"),
            state_text(&present),
            after,
        )))
    }

    async fn apply(&self, args: &Args, plan: LoadPlan, cx: &ModuleCtx<'_>) -> Result<Outcome, ModuleError> {
        let data = std::fs::read(&plan.path)
            .map_err(|e| ModuleError::Failed(format!("reading {}: {e}", plan.path.display())))?;
        let ids = plan.images.ids();
        let hex: String =
            ids.first().map(|i| i.trim_start_matches("sha256:").chars().take(12).collect()).unwrap_or_default();
        let dir = args.tmp_dir.as_deref().unwrap_or("/tmp").trim_end_matches('/');
        let tmp = format!("{}/prov-image-load-{hex}.tar", if dir.is_empty() { "" } else { dir });
        cx.put(&tmp, &data, Some(0o600)).await?;
        let load = Cmd::new("docker").flag("load").opt("-i", &tmp).build();
        let load = load.then(Sh::lit("rc=$?")).then(Cmd::new("rm").flag("-f").operand(&tmp)).then(Sh::lit("exit $rc"));
        let out = cx.exec(load).await?;
        if out.rc != 0 {
            return Ok(Outcome::failed(docker_error("docker load", &out)).with_exec(&out));
        }
        let refs = plan.images.refs();
        let present = lookup(cx, &refs).await?;
        if !all_present(&refs, &present) {
            return Ok(Outcome::failed(format!(
                "docker load succeeded but the image is not as the tarball says:\n{}",
                state_text(&present)
            ))
            .with_exec(&out));
        }
        Ok(registered(Outcome { changed: true, ..Outcome::ok() }.with_exec(&out), args, &plan.images))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;
    use prov_core::testutil::{DirFiles, FakeConnection, TestHost};
    use serde_json::json;

    const HEX: &str = "fb2ca3daa5ce555550c908e477243d0978295c8aa48c13678daed377370c91bb";
    const ID: &str = "sha256:fb2ca3daa5ce555550c908e477243d0978295c8aa48c13678daed377370c91bb";
    // The manifest.json `docker save provtiny:v1` writes (docker 20.10.24).
    const MANIFEST: &str = r#"[{"Config":"fb2ca3daa5ce555550c908e477243d0978295c8aa48c13678daed377370c91bb.json","RepoTags":["provtiny:v1"],"Layers":["fdf6f430d17ec1e30d93515ab0a555f860938ae0d977ce024d269e94add42467/layer.tar"]}]"#;
    const INSPECT: &str = "docker image inspect --format '{{.Id}}' -- sha256:fb2ca3daa5ce555550c908e477243d0978295c8aa48c13678daed377370c91bb provtiny:v1 2>&1";

    /// A tarball with the given manifest (and a config file, as docker save writes).
    fn tarball(dir: &Path, name: &str, manifest: &str) {
        let mut b = tar::Builder::new(Vec::new());
        for (path, data) in [(format!("{HEX}.json"), "{}"), ("manifest.json".to_string(), manifest)] {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_cksum();
            b.append_data(&mut h, path, data.as_bytes()).expect("append");
        }
        std::fs::write(dir.join(name), b.into_inner().expect("tar")).expect("write");
    }

    fn host(conn: FakeConnection, check: bool) -> (TestHost, tempfile::TempDir) {
        let dir = tempfile::tempdir().expect("tempdir");
        tarball(dir.path(), "tiny.tar", MANIFEST);
        let mut h = if check { fake_check(conn) } else { fake(conn) };
        h.files = DirFiles(dir.path().to_path_buf());
        (h, dir)
    }

    #[test]
    fn manifest_layouts() {
        assert_eq!(
            parse_manifest(MANIFEST.as_bytes()).unwrap().images,
            vec![(ID.to_string(), vec!["provtiny:v1".to_string()])]
        );
        let oci = format!(r#"[{{"Config":"blobs/sha256/{HEX}","RepoTags":null,"Layers":[]}}]"#);
        assert_eq!(parse_manifest(oci.as_bytes()).unwrap().images, vec![(ID.to_string(), vec![])]);
        assert!(parse_manifest(b"[]").unwrap_err().contains("no image"));
        assert!(parse_manifest(br#"[{"Config":"x.json"}]"#).unwrap_err().contains("unexpected Config"));
        assert!(parse_manifest(b"{").is_err());
    }

    #[tokio::test]
    async fn present_image_is_ok_without_transfer() {
        let out = format!("{ID}\n{ID}\n");
        let (h, _d) = host(FakeConnection::new().on(INSPECT, 0, &out), false);
        let o = run::<DockerImageLoad>(json!({"src": "tiny.tar", "name": "provtiny:v1"}), &h.ctx()).await;
        assert!(!o.changed && !o.failed, "{o:?}");
        assert_eq!(h.conn.calls(), vec![INSPECT.to_string()]);
        assert_eq!(o.data["image_id"].as_str(), Some(ID));
        assert_eq!(o.data["name"].as_str(), Some("provtiny:v1"));
        assert_eq!(
            o.data["image_names"].get_item_by_index(0).ok().and_then(|v| v.as_str().map(String::from)),
            Some("provtiny:v1".into())
        );
    }

    #[tokio::test]
    async fn image_tarball_in_a_hostile_tmp_dir_is_an_option_value_and_an_operand() {
        let missing = format!("\nError: No such image: {ID}\nError: No such image: provtiny:v1\n");
        for v in hostile_values(&pwned_marker("image_load")) {
            let conn = FakeConnection::new().on(INSPECT, 1, &missing).on("docker load", 0, "");
            let (h, _d) = host(conn, false);
            run::<DockerImageLoad>(json!({"src": "tiny.tar", "tmp_dir": v}), &h.ctx()).await;
            let tmp = Sh::quoted(&format!("{v}/prov-image-load-fb2ca3daa5ce.tar"));
            assert_eq!(h.conn.calls()[2], format!("docker load -i {tmp}; rc=$?; rm -f -- {tmp}; exit $rc"));
        }
    }

    #[tokio::test]
    async fn missing_image_is_uploaded_and_loaded() {
        // Real output of docker image inspect for an image that is not there.
        let missing = format!("\nError: No such image: {ID}\nError: No such image: provtiny:v1\n");
        let (h, _d) = host(
            FakeConnection::new().on(INSPECT, 1, &missing).on("docker load", 0, "Loaded image: provtiny:v1\n"),
            false,
        );
        let o = run::<DockerImageLoad>(json!({"src": "tiny.tar", "tmp_dir": "/var/tmp/"}), &h.ctx()).await;
        // The fake answers the verification like the first probe: the image is still missing.
        assert!(o.failed, "{o:?}");
        assert!(o.msg.as_deref().unwrap_or("").contains("provtiny:v1: absent"));
        let calls = h.conn.calls();
        assert_eq!(calls[1], "put /var/tmp/prov-image-load-fb2ca3daa5ce.tar");
        assert_eq!(
            calls[2],
            "docker load -i /var/tmp/prov-image-load-fb2ca3daa5ce.tar; rc=$?; rm -f -- /var/tmp/prov-image-load-fb2ca3daa5ce.tar; exit $rc"
        );
        assert_eq!(calls[3], INSPECT);
        let files = h.conn.files.lock().unwrap();
        let (data, mode) = &files["/var/tmp/prov-image-load-fb2ca3daa5ce.tar"];
        assert_eq!(*mode, Some(0o600));
        assert!(data.len() >= 2048);
    }

    #[tokio::test]
    async fn loads_when_a_tag_is_missing() {
        let partly = format!("{ID}\n\nError: No such image: provtiny:v1\n");
        let (h, _d) = host(FakeConnection::new().on(INSPECT, 1, &partly), true);
        let o = run::<DockerImageLoad>(json!({"src": "tiny.tar"}), &h.ctx()).await;
        assert!(o.changed, "{o:?}");
        assert_eq!(o.diffs[0].before, format!("{ID}: {ID}\nprovtiny:v1: absent\n"));
        assert_eq!(o.diffs[0].after, format!("{ID}: {ID}\nprovtiny:v1: {ID}\n"));
        assert_eq!(o.planned[0].name, "provtiny:v1");
        assert_eq!(h.conn.calls().len(), 1, "check mode only reads");
        // A tag naming another image also needs a load.
        let other = format!("{ID}\nsha256:{}\n", "0".repeat(64));
        let (h, _d) = host(FakeConnection::new().on(INSPECT, 0, &other), true);
        assert!(run::<DockerImageLoad>(json!({"src": "tiny.tar"}), &h.ctx()).await.changed);
    }

    #[tokio::test]
    async fn load_success() {
        /// Answers the first inspect with "missing", later ones with the ID.
        struct Loading(FakeConnection, std::sync::atomic::AtomicUsize);
        #[async_trait]
        impl prov_core::connection::Connection for Loading {
            async fn exec(
                &self,
                req: prov_core::connection::ExecRequest,
            ) -> Result<prov_core::connection::ExecOutput, prov_core::connection::ConnectionError> {
                if req.command.starts_with("docker image inspect") {
                    if self.1.fetch_add(1, std::sync::atomic::Ordering::SeqCst) > 0 {
                        let stdout = format!("{ID}\n{ID}\n").into_bytes();
                        return Ok(prov_core::connection::ExecOutput { rc: 0, stdout, stderr: vec![] });
                    }
                    let stdout =
                        format!("\nError: No such image: {ID}\nError: No such image: provtiny:v1\n").into_bytes();
                    return Ok(prov_core::connection::ExecOutput { rc: 1, stdout, stderr: vec![] });
                }
                self.0.exec(req).await
            }
            async fn put(
                &self,
                path: &str,
                data: &[u8],
                mode: Option<u32>,
                b: Option<&prov_core::connection::Become>,
            ) -> Result<(), prov_core::connection::ConnectionError> {
                self.0.put(path, data, mode, b).await
            }
            async fn get(
                &self,
                path: &str,
                b: Option<&prov_core::connection::Become>,
            ) -> Result<Option<Vec<u8>>, prov_core::connection::ConnectionError> {
                self.0.get(path, b).await
            }
        }
        let dir = tempfile::tempdir().expect("tempdir");
        tarball(dir.path(), "tiny.tar", MANIFEST);
        let conn =
            Loading(FakeConnection::new().on("docker load", 0, "Loaded image: provtiny:v1\n"), Default::default());
        let h = TestHost::new(FakeConnection::new());
        let files = DirFiles(dir.path().to_path_buf());
        let mut cx = h.ctx();
        cx.conn = &conn;
        cx.files = &files;
        let o = run::<DockerImageLoad>(json!({"src": "tiny.tar", "name": "tiny"}), &cx).await;
        assert!(o.changed && !o.failed, "{o:?}");
        assert_eq!(o.data["image_id"].as_str(), Some(ID));
        assert_eq!(o.data["name"].as_str(), Some("tiny"));
        assert_eq!(o.data["stdout"].as_str(), Some("Loaded image: provtiny:v1"));
        assert_eq!(conn.0.calls(), vec!["put /tmp/prov-image-load-fb2ca3daa5ce.tar".to_string(),
            "docker load -i /tmp/prov-image-load-fb2ca3daa5ce.tar; rc=$?; rm -f -- /tmp/prov-image-load-fb2ca3daa5ce.tar; exit $rc".to_string()]);
    }

    #[tokio::test]
    async fn failures_are_explained() {
        let (h, d) = host(FakeConnection::new(), false);
        let e = run_err::<DockerImageLoad>(json!({"src": "nosuch.tar"}), &h.ctx()).await;
        assert!(e.contains("could not find src nosuch.tar") && e.contains("nosuch.tar not found"), "{e}");
        std::fs::write(d.path().join("gz.tar"), [0x1f, 0x8b, 8, 0]).unwrap();
        assert!(run_err::<DockerImageLoad>(json!({"src": "gz.tar"}), &h.ctx()).await.contains("gzip"));
        std::fs::write(d.path().join("empty.tar"), [0u8; 1024]).unwrap();
        assert!(run_err::<DockerImageLoad>(json!({"src": "empty.tar"}), &h.ctx()).await.contains("no manifest.json"));
        assert!(h.conn.calls().is_empty());
        let (h, _d) = host(FakeConnection::new().on("docker image inspect", 127, "sh: 1: docker: not found\n"), false);
        assert!(run_err::<DockerImageLoad>(json!({"src": "tiny.tar"}), &h.ctx())
            .await
            .contains("Docker is not installed"));
        let daemon =
            "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?\n";
        let (h, _d) = host(FakeConnection::new().on("docker image inspect", 1, daemon), false);
        assert!(run_err::<DockerImageLoad>(json!({"src": "tiny.tar"}), &h.ctx()).await.contains("Cannot connect"));
        let missing = format!("\nError: No such image: {ID}\nError: No such image: provtiny:v1\n");
        let (h, _d) = host(
            FakeConnection::new().on("docker image inspect", 1, &missing).on("docker load", 1, "unexpected EOF"),
            false,
        );
        let o = run::<DockerImageLoad>(json!({"src": "tiny.tar"}), &h.ctx()).await;
        assert!(o.failed && o.msg.as_deref().unwrap_or("").contains("docker load failed"), "{o:?}");
        assert!(unsupported::<DockerImageLoad>(json!({"path": "x"}), &h.ctx())
            .await
            .starts_with("Unsupported parameters for ("));
    }
}
