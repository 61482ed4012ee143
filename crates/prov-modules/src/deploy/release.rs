//! `release`: deploys an application into a new `releases/<time>` directory and switches the
//! `current` symlink to it in one atomic rename, Capistrano style; or, with
//! `state: rollback`, switches `current` back to the release before it.
//!
//! Arguments:
//! - `path` (required): the app root (absolute). See [`super`] for its layout.
//! - `src`: the artifact. A directory or a `.tar`/`.tar.gz`/`.tgz` file on the controller
//!   (looked up in the role's `files/`, then next to the playbook), shipped in one SFTP
//!   transfer; with `remote_src: true`, a directory or tarball already on the target.
//!   Required unless `state: rollback`.
//! - `shared`: paths inside the release linked to `<path>/shared/<same path>` (user uploads,
//!   logs, a database file). The first deploy seeds `shared/` with what the artifact has
//!   there, or an empty directory.
//! - `hooks`: commands run inside the new release before the switch (migrations, cache
//!   warm-up), with `RELEASE_PATH`, `RELEASE_NAME`, `APP_ROOT` and `PREVIOUS_RELEASE_PATH`
//!   set. A failing hook stops the deploy: the new release is removed, `current` stays.
//! - `health`: a check the new release must pass before the switch, or it is removed:
//!   `{command: ./selftest}` (run inside the release) or `{url: http://..., status: 200}`
//!   (fetched from the target with curl or wget; `{release}` in the URL becomes the new
//!   release's name); `retries` (default 3), `delay` seconds (1), `timeout` seconds (10).
//! - `backup`: `{paths: [...]}` or `{command: dump, restore_command: load}`, saved into
//!   `<path>/backups/<release>` before the hooks run, kept for `retention` (default 48h), and
//!   put back when this release is rolled back, or when its hooks or health check fail.
//! - `keep` (default 2): releases kept after a deploy, counting the current one. A release
//!   directory the user renamed, or one holding a `.keep` file, is never pruned.
//! - `version`: a label recorded with the release and shown in reports (`v2`, a git sha).
//! - `state`: `present` (default) deploys; `rollback` switches back (what `prov rollback`
//!   runs). A second rollback with no older release fails.
//!
//! Idempotent: the artifact's content hash (and the `shared` list) is recorded with each
//! release; deploying what `current` already holds changes nothing. Check mode reports which
//! release would become current. Registers `release` (name), `release_path`, `previous`,
//! `pruned`, `backup`.
//!
//! ```yaml
//! - release:
//!     path: /srv/app
//!     src: build/            # or app-1.4.tar.gz
//!     shared: [data, storage/uploads]
//!     hooks: ["./bin/migrate"]
//!     health: { command: "./bin/selftest" }
//!     backup: { paths: [/srv/app/shared/data] }
//!     version: "{{ app_version }}"
//! ```

use super::artifact::{is_tarball, pack_dir, release_hash, remote_hash_command, Artifact};
use super::backup::{self, Source};
use super::checks::{Health, InRelease};
use super::restore::{put_back, read_meta};
use super::{
    check_relative, fresh_name, now, parse_duration, probe_root, switch_command, BackupRef, ReleaseMeta, Root,
};
use super::{Current, ReleaseDir, RootKind};
use crate::util::{probe_failed, stringish};
use async_trait::async_trait;
use prov_core::args::lenient_bool;
use prov_core::cmd::{Cmd, Sh};
use prov_core::module::{Action, Change, Module, ModuleCtx, ModuleError, Outcome, Plan};
use serde::Deserialize;
use sha2::{Digest, Sha256};

fn two() -> usize {
    2
}
fn h48() -> String {
    "48h".into()
}

/// What to do.
#[derive(Debug, Deserialize, Default, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// Deploy `src`.
    #[default]
    Present,
    /// Switch back to the previous release.
    Rollback,
}

/// Data saved before a release's hooks run.
#[derive(Debug, Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct BackupOpt {
    /// Absolute paths to archive.
    #[serde(default)]
    pub paths: Vec<String>,
    /// Dump command (stdout is the backup).
    #[serde(default)]
    pub command: Option<String>,
    /// Command that reads the dump back on stdin (for rollback).
    #[serde(default)]
    pub restore_command: Option<String>,
    /// How long backups are kept.
    #[serde(default = "h48")]
    pub retention: String,
}

/// Arguments of `release`.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Args {
    /// App root.
    pub path: String,
    /// Artifact: directory or tarball.
    #[serde(default)]
    pub src: Option<String>,
    /// `src` is on the target.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub remote_src: bool,
    /// Paths linked from `shared/`.
    #[serde(default)]
    pub shared: Vec<String>,
    /// Commands run in the new release before the switch.
    #[serde(default)]
    pub hooks: Vec<String>,
    /// Check before the switch.
    #[serde(default)]
    pub health: Option<Health>,
    /// Data backup before the hooks.
    #[serde(default)]
    pub backup: Option<BackupOpt>,
    /// Releases kept.
    #[serde(default = "two")]
    pub keep: usize,
    /// Label.
    #[serde(default, deserialize_with = "stringish")]
    pub version: Option<String>,
    /// Deploy or roll back.
    #[serde(default)]
    pub state: State,
}

impl Args {
    fn backup_source(&self) -> Result<Option<Source>, String> {
        let Some(b) = &self.backup else { return Ok(None) };
        let s = Source::new(&b.paths, &b.command).map_err(|e| format!("backup: {e}"))?;
        if matches!(s, Source::Command(_)) && b.restore_command.is_none() {
            return Err("backup: `command` needs `restore_command` (it reads the dump back on a rollback)".into());
        }
        parse_duration(&b.retention).map_err(|e| format!("backup: {e}"))?;
        Ok(Some(s))
    }
}

/// What `apply` does.
#[derive(Debug)]
pub enum ReleasePlan {
    /// Deploy a new release.
    Deploy {
        /// The artifact.
        artifact: Artifact,
        /// Its content hash.
        hash: String,
        /// The new release's name.
        name: String,
        /// The app root as probed.
        root: Root,
    },
    /// Switch back.
    Rollback {
        /// The release rolled back from.
        from: ReleaseMeta,
        /// The release to switch to.
        to: ReleaseMeta,
    },
}

/// The `release` module.
#[derive(Debug, Default)]
pub struct Release;

impl Release {
    async fn plan_deploy(&self, a: &Args, src: &str, cx: &ModuleCtx<'_>) -> Result<Plan<ReleasePlan>, ModuleError> {
        let (artifact, artifact_hash) = if a.remote_src {
            let out = cx.exec(remote_hash_command(src)).await?;
            if out.rc != 0 {
                return Err(probe_failed(&format!("reading {src}"), &out));
            }
            let text = out.stdout_str();
            match text.trim().split_once(' ') {
                Some(("dir", h)) => (Artifact::RemoteDir(src.to_string()), h.to_string()),
                Some(("tar", h)) if is_tarball(src) => (Artifact::RemoteTar(src.to_string()), h.to_string()),
                Some(("tar", _)) => {
                    return Ok(Plan::Ok(Outcome::failed(format!(
                        "src {src} is a file but not a .tar, .tar.gz or .tgz archive"
                    ))))
                }
                _ => return Ok(Plan::Ok(Outcome::failed(format!("src {src} does not exist on the target")))),
            }
        } else {
            let path = cx
                .files
                .find("files", src)
                .map_err(|e| ModuleError::Failed(format!("could not find src {src}: {e}")))?;
            if path.is_dir() {
                let (bytes, h) = pack_dir(&path).map_err(ModuleError::Failed)?;
                (Artifact::Upload(bytes), h)
            } else if is_tarball(src) {
                let bytes = std::fs::read(&path)
                    .map_err(|e| ModuleError::Failed(format!("reading {}: {e}", path.display())))?;
                let h = hex::encode(Sha256::digest(&bytes));
                (Artifact::Upload(bytes), h)
            } else {
                return Err(ModuleError::Failed(format!(
                    "src {src} must be a directory or a .tar, .tar.gz or .tgz archive"
                )));
            }
        };
        let hash = release_hash(&artifact_hash, &a.shared);
        let root = probe_root(cx, &a.path).await?;
        if let Some(why) = root.not_deployable() {
            return Ok(Plan::Ok(Outcome::failed(why)));
        }
        let current = root.current_meta().cloned();
        if let Some(m) = current.as_ref().filter(|m| m.hash == hash) {
            let mut o = Outcome::ok()
                .with("release", m.name.clone())
                .with("release_path", format!("{}/releases/{}", a.path, m.name))
                .with("previous", m.previous.clone().unwrap_or_default());
            o.msg = Some(format!("{} already runs {}", a.path, m.label()));
            return Ok(Plan::Ok(o));
        }
        let name = fresh_name(now(), |n| root.has_release(n));
        let before = root.current_name().map(|n| format!("releases/{n}\n")).unwrap_or_default();
        let label = a.version.as_ref().map(|v| format!("{name} ({v})")).unwrap_or_else(|| name.clone());
        let ch = Change::new(
            ReleasePlan::Deploy { artifact, hash, name: name.clone(), root },
            Action::Create,
            "release",
            format!("{}/releases/{name}", a.path),
        )
        .with_diff(format!("{}/current", a.path), before, format!("releases/{name}\n"))
        .with_msg(format!("would make {label} current under {}", a.path));
        Ok(Plan::Change(ch))
    }

    async fn plan_rollback(&self, a: &Args, cx: &ModuleCtx<'_>) -> Result<Plan<ReleasePlan>, ModuleError> {
        let root = probe_root(cx, &a.path).await?;
        let p = &a.path;
        if let Some(why) = root.not_deployable() {
            return Ok(Plan::Ok(Outcome::failed(why)));
        }
        if matches!(root.kind, RootKind::Absent | RootKind::Empty) || root.current == Current::None {
            return Ok(Plan::Ok(Outcome::failed(format!(
                "{p} is not a release root: nothing was deployed there, so there is nothing to roll back"
            ))));
        }
        let Some(from) = root.current_meta().cloned() else {
            let n = root.current_name().unwrap_or_default();
            return Ok(Plan::Ok(Outcome::failed(format!(
                "{p}/current points at releases/{n}, which prov has no record of: cannot tell what came before it"
            ))));
        };
        let Some(prev) = from.previous.clone() else {
            return Ok(Plan::Ok(Outcome::failed(format!(
                "no previous release to roll back to: {} is the oldest release prov deployed under {p}",
                from.label()
            ))));
        };
        let to = match root.metas.get(&prev) {
            Some(m) if root.has_release(&prev) => m.clone(),
            _ => {
                return Ok(Plan::Ok(Outcome::failed(format!(
                    "no previous release to roll back to: {} came after releases/{prev}, which has been pruned",
                    from.label()
                ))))
            }
        };
        let restore = from.backup.as_ref().map(|b| format!(" and restore {}", b.file)).unwrap_or_default();
        let ch = Change::new(
            ReleasePlan::Rollback { from: from.clone(), to: to.clone() },
            Action::Modify,
            "release",
            format!("{p}/current"),
        )
        .with_diff(format!("{p}/current"), format!("releases/{}\n", from.name), format!("releases/{}\n", to.name))
        .with_msg(format!("would switch {p}/current back to {}{restore}", to.label()));
        Ok(Plan::Change(ch))
    }

    async fn deploy(
        &self,
        a: &Args,
        artifact: Artifact,
        hash: String,
        name: String,
        mut root: Root,
        cx: &ModuleCtx<'_>,
    ) -> Result<Outcome, ModuleError> {
        let p = &a.path;
        let r = format!("{p}/releases/{name}");
        let prev = root.current_name().map(str::to_string);
        let keeps = prev.as_ref().map(|n| format!("releases/{n}")).unwrap_or_else(|| "nothing".into());
        let dirs = [format!("{p}/releases"), format!("{p}/shared"), format!("{p}/.prov")];
        let mk = Cmd::new("mkdir").flag("-p").operands(dirs).build().and(Cmd::new("mkdir").operand(&r));
        let mk = cx.exec(mk).await?;
        if mk.rc != 0 {
            return Err(probe_failed(&format!("making {r}"), &mk));
        }
        // From here on, any failure removes the new release and leaves `current` alone.
        let result = self.build(a, artifact, &name, prev.as_deref(), cx).await;
        let backup = match result {
            Ok(Ok(b)) => b,
            Ok(Err(msg)) | Err(ModuleError::Failed(msg)) => {
                let _ = cx.exec(Cmd::new("rm").flag("-rf").operand(&r).build()).await;
                return Ok(Outcome::failed(format!("{msg}; releases/{name} was removed and current is still {keeps}")));
            }
            Err(e) => {
                let _ = cx.exec(Cmd::new("rm").flag("-rf").operand(&r).build()).await;
                return Err(e);
            }
        };
        let meta = ReleaseMeta {
            name: name.clone(),
            hash,
            version: a.version.clone(),
            src: a.src.clone().unwrap_or_default(),
            created: now(),
            previous: prev.clone(),
            backup: backup.as_ref().map(|m| BackupRef {
                file: m.file.clone(),
                restore_command: a.backup.as_ref().and_then(|b| b.restore_command.clone()),
            }),
            rolled_back: false,
        };
        let mut json = serde_json::to_string(&meta).map_err(|e| ModuleError::Failed(e.to_string()))?;
        json.push('\n');
        cx.put(&format!("{p}/.prov/{name}.json"), json.as_bytes(), Some(0o644)).await?;
        root.releases.push(ReleaseDir { name: name.clone(), keep: false });
        root.metas.insert(name.clone(), meta.clone());
        let pruned = root.prune_list(&name, a.keep.max(1));
        let mut script = switch_command(p, &name);
        if !pruned.is_empty() {
            let list = pruned.iter().flat_map(|n| [format!("releases/{n}"), format!(".prov/{n}.json")]);
            script = script.and(Cmd::new("rm").flag("-rf").operands(list));
        }
        let out = cx.exec(script).await?;
        if out.rc != 0 {
            return Err(probe_failed(&format!("switching {p}/current to releases/{name}"), &out));
        }
        let mut o = Outcome::ok()
            .with("release", name.clone())
            .with("release_path", r)
            .with("previous", prev.unwrap_or_default())
            .with("pruned", pruned)
            .with("backup", backup.map(|b| b.file).unwrap_or_default());
        o.changed = true;
        o.msg = Some(format!("{p} now runs {}", meta.label()));
        Ok(o)
    }

    /// Unpacks, links, backs up, runs hooks and the health check. `Ok(Err)` is a failure
    /// that must undo the release; returns the backup made, if any.
    async fn build(
        &self,
        a: &Args,
        artifact: Artifact,
        name: &str,
        prev: Option<&str>,
        cx: &ModuleCtx<'_>,
    ) -> Result<Result<Option<backup::BackupMeta>, String>, ModuleError> {
        let p = &a.path;
        let r = format!("{p}/releases/{name}");
        let mut script = match artifact {
            Artifact::Upload(bytes) => {
                let incoming = format!("{p}/.prov/incoming-{name}.tar");
                cx.put(&incoming, &bytes, Some(0o600)).await?;
                Cmd::new("tar")
                    .opt("-xf", &incoming)
                    .opt("-C", &r)
                    .build()
                    .and(Cmd::new("rm").flag("-f").operand(&incoming))
            }
            Artifact::RemoteTar(src) => Cmd::new("tar").opt("-xf", &src).opt("-C", &r).build(),
            Artifact::RemoteDir(src) => Cmd::new("cp").flag("-a").operands([format!("{src}/."), r.clone()]).build(),
        };
        for s in &a.shared {
            let shared = format!("{p}/shared/{s}");
            let inside = format!("{r}/{s}");
            script = script
                .and(Sh::lit("s=").glued(Sh::quoted(&shared)))
                .and(Sh::lit("t=").glued(Sh::quoted(&inside)))
                .and(Sh::lit(
                    "if [ ! -e \"$s\" ] && [ ! -L \"$s\" ]; then mkdir -p \"$(dirname \"$s\")\" && \
                       if [ -e \"$t\" ] || [ -L \"$t\" ]; then mv \"$t\" \"$s\"; else mkdir -p \"$s\"; fi; fi && \
                     rm -rf \"$t\" && mkdir -p \"$(dirname \"$t\")\" && ln -s \"$s\" \"$t\"",
                ));
        }
        let out = cx.exec(script).await?;
        if out.rc != 0 {
            let e = out.stderr_str();
            return Ok(Err(format!("unpacking into releases/{name} failed: {}", e.trim())));
        }
        let mut made = None;
        if let Some(source) = a.backup_source().map_err(ModuleError::Args)? {
            let dir = format!("{p}/backups");
            match backup::create(cx, &dir, name, &source).await {
                Ok(m) => made = Some(m),
                Err(ModuleError::Failed(e)) => return Ok(Err(e)),
                Err(e) => return Err(e),
            }
            let retention = a.backup.as_ref().map(|b| b.retention.as_str()).unwrap_or("48h");
            let retention = parse_duration(retention).map_err(ModuleError::Args)?;
            let list = cx.exec(backup::list_command(&dir)).await?;
            backup::remove(cx, &backup::expired(&backup::parse_metas(&list.stdout_str()), retention, now())).await?;
        }
        let steps = InRelease { root: p, name, prev };
        let mut failure = None;
        for (i, hook) in a.hooks.iter().enumerate() {
            if let Err(e) = steps.run(cx, hook).await? {
                failure = Some(format!("hook {} failed: {e}", i + 1));
                break;
            }
        }
        if failure.is_none() {
            failure = steps.health(cx, a.health.as_ref()).await?.err();
        }
        match (failure, made) {
            (None, made) => Ok(Ok(made)),
            (Some(e), None) => Ok(Err(e)),
            // The hooks may have changed the data the old release keeps using: put it back.
            (Some(e), Some(m)) => {
                let restore = a.backup.as_ref().and_then(|b| b.restore_command.clone());
                match put_back(cx, &m, restore.as_deref()).await {
                    Ok(()) => Ok(Err(format!("{e}; data restored from {}", m.file))),
                    Err(r) => Ok(Err(format!("{e}; restoring the data from {} failed too: {r}", m.file))),
                }
            }
        }
    }

    async fn rollback(
        &self,
        a: &Args,
        from: ReleaseMeta,
        to: ReleaseMeta,
        cx: &ModuleCtx<'_>,
    ) -> Result<Outcome, ModuleError> {
        let p = &a.path;
        let mut restored = String::new();
        if let Some(b) = &from.backup {
            let meta = read_meta(cx, &b.file).await?;
            put_back(cx, &meta, b.restore_command.as_deref()).await?;
            restored = b.file.clone();
        }
        let out = cx.exec(switch_command(p, &to.name)).await?;
        if out.rc != 0 {
            return Err(probe_failed(&format!("switching {p}/current to releases/{}", to.name), &out));
        }
        let marked = ReleaseMeta { rolled_back: true, ..from.clone() };
        let mut json = serde_json::to_string(&marked).map_err(|e| ModuleError::Failed(e.to_string()))?;
        json.push('\n');
        cx.put(&format!("{p}/.prov/{}.json", from.name), json.as_bytes(), Some(0o644)).await?;
        let mut o = Outcome::ok()
            .with("release", to.name.clone())
            .with("release_path", format!("{p}/releases/{}", to.name))
            .with("previous", from.name.clone())
            .with("backup", restored.clone());
        o.changed = true;
        let restored = if restored.is_empty() { String::new() } else { format!(", data restored from {restored}") };
        o.msg = Some(format!("{p} now runs {} (rolled back from {}{restored})", to.label(), from.label()));
        Ok(o)
    }
}

#[async_trait]
impl Module for Release {
    const NAME: &'static str = "release";
    const COLLECTIONS: &'static [&'static str] = &[];
    type Args = Args;
    type Plan = ReleasePlan;

    fn check_args(a: &Args) -> Result<(), String> {
        if !a.path.starts_with('/') || a.path.trim_end_matches('/').is_empty() {
            return Err(format!("`path` must be an absolute directory (not `/`), not `{}`", a.path));
        }
        if a.state == State::Present {
            match &a.src {
                None => return Err("`src` is required: the directory or tarball to deploy".into()),
                Some(s) if s.trim().is_empty() => return Err("`src` is empty".into()),
                _ => {}
            }
        }
        for s in &a.shared {
            check_relative("shared path", s)?;
        }
        if a.keep == 0 {
            return Err("`keep` must be at least 1 (the current release)".into());
        }
        if let Some(h) = &a.health {
            match (&h.command, &h.url) {
                (Some(_), Some(_)) => return Err("health: `command` and `url` are mutually exclusive".into()),
                (None, None) => return Err("health: one of `command` or `url` is required".into()),
                _ => {}
            }
        }
        a.backup_source()?;
        Ok(())
    }

    async fn plan(&self, a: &Args, cx: &ModuleCtx<'_>) -> Result<Plan<ReleasePlan>, ModuleError> {
        match (a.state, &a.src) {
            (State::Rollback, _) => self.plan_rollback(a, cx).await,
            (State::Present, Some(src)) => self.plan_deploy(a, src, cx).await,
            (State::Present, None) => Err(ModuleError::Args("`src` is required".into())),
        }
    }

    async fn apply(&self, a: &Args, plan: ReleasePlan, cx: &ModuleCtx<'_>) -> Result<Outcome, ModuleError> {
        match plan {
            ReleasePlan::Deploy { artifact, hash, name, root } => self.deploy(a, artifact, hash, name, root, cx).await,
            ReleasePlan::Rollback { from, to } => self.rollback(a, from, to, cx).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;
    use serde_json::json;
    use std::fs;

    fn app(h: &LocalHost, dir: &str, version: &str) {
        fs::create_dir_all(h.path(&format!("{dir}/data"))).unwrap();
        fs::write(h.path(&format!("{dir}/index.html")), format!("{version}\n")).unwrap();
        fs::write(h.path(&format!("{dir}/data/seed")), "seed\n").unwrap();
    }

    fn current(h: &LocalHost) -> String {
        fs::read_link(h.path("srv/app/current")).unwrap().to_string_lossy().into_owned()
    }

    fn releases(h: &LocalHost) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(h.path("srv/app/releases"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    fn deploy(h: &LocalHost, src: &str, extra: serde_json::Value) -> serde_json::Value {
        let mut a = json!({"path": h.path("srv/app"), "src": src, "shared": ["data"], "version": src});
        for (k, v) in extra.as_object().unwrap() {
            a[k] = v.clone();
        }
        a
    }

    #[tokio::test]
    async fn deploys_atomically_idempotently_and_prunes() {
        let h = LocalHost::new();
        for v in ["v1", "v2", "v3", "v4"] {
            app(&h, v, v);
        }
        let o = run::<Release>(deploy(&h, "v1", json!({})), &h.ctx()).await;
        assert!(o.changed && !o.failed, "{o:?}");
        let r1 = o.data["release"].as_str().unwrap().to_string();
        assert_eq!(current(&h), format!("releases/{r1}"));
        assert_eq!(fs::read_to_string(h.path("srv/app/current/index.html")).unwrap(), "v1\n");
        assert!(fs::symlink_metadata(h.path("srv/app/current/data")).unwrap().file_type().is_symlink());
        assert_eq!(fs::read_to_string(h.path("srv/app/shared/data/seed")).unwrap(), "seed\n", "shared/ seeded");
        assert!(o.msg.as_deref().unwrap().ends_with(&format!("now runs {r1} (v1)")), "{o:?}");

        let o = run::<Release>(deploy(&h, "v1", json!({})), &h.ctx()).await;
        assert!(!o.changed && !o.failed, "same artifact: nothing to do {o:?}");
        assert_eq!(releases(&h), vec![r1.clone()]);

        fs::write(h.path("srv/app/shared/data/user-upload"), "kept\n").unwrap();
        let o = run::<Release>(deploy(&h, "v2", json!({})), &h.ctx()).await;
        let r2 = o.data["release"].as_str().unwrap().to_string();
        assert_eq!(o.data["previous"].as_str(), Some(r1.as_str()));
        assert_eq!(fs::read_to_string(h.path("srv/app/current/index.html")).unwrap(), "v2\n");
        assert_eq!(fs::read_to_string(h.path("srv/app/current/data/user-upload")).unwrap(), "kept\n");

        // A release marked `.keep` and one the user renamed survive pruning.
        fs::write(h.path(&format!("srv/app/releases/{r1}/.keep")), "").unwrap();
        fs::create_dir(h.path("srv/app/releases/known-good")).unwrap();
        let o = run::<Release>(deploy(&h, "v3", json!({})), &h.ctx()).await;
        let r3 = o.data["release"].as_str().unwrap().to_string();
        assert_eq!(o.data["pruned"].len(), Some(0));
        let o = run::<Release>(deploy(&h, "v4", json!({})), &h.ctx()).await;
        let r4 = o.data["release"].as_str().unwrap().to_string();
        assert_eq!(o.data["pruned"].get_item_by_index(0).unwrap().as_str(), Some(r2.as_str()));
        let mut want = vec![r1, r3, r4.clone(), "known-good".to_string()];
        want.sort();
        assert_eq!(releases(&h), want, "keep 2 (current + previous) plus the kept and renamed ones");
        assert!(!std::path::Path::new(&h.path(&format!("srv/app/.prov/{r2}.json"))).exists());
        assert_eq!(current(&h), format!("releases/{r4}"));
    }

    #[tokio::test]
    async fn failed_hook_or_health_check_keeps_the_old_release() {
        let h = LocalHost::new();
        app(&h, "v1", "v1");
        app(&h, "v2", "v2");
        let o = run::<Release>(deploy(&h, "v1", json!({"hooks": ["echo \"$RELEASE_NAME\" > hooked"]})), &h.ctx()).await;
        let r1 = o.data["release"].as_str().unwrap().to_string();
        assert_eq!(fs::read_to_string(h.path("srv/app/current/hooked")).unwrap(), format!("{r1}\n"));

        let o =
            run::<Release>(deploy(&h, "v2", json!({"hooks": ["true", "echo migrating >&2; exit 4"]})), &h.ctx()).await;
        assert!(o.failed, "{o:?}");
        let msg = o.msg.unwrap();
        assert!(msg.contains("hook 2 failed") && msg.contains("status 4: migrating"), "{msg}");
        assert!(msg.contains(&format!("current is still releases/{r1}")), "{msg}");
        assert_eq!(releases(&h), vec![r1.clone()], "the new release is removed");
        assert_eq!(current(&h), format!("releases/{r1}"));

        let db = h.path("db.txt");
        fs::write(&db, "old\n").unwrap();
        let hooks = json!([format!("echo new > {db}"), "exit 1"]);
        let o = run::<Release>(deploy(&h, "v2", json!({"hooks": hooks, "backup": {"paths": [db]}})), &h.ctx()).await;
        assert!(o.failed && o.msg.as_deref().unwrap().contains("data restored from"), "{o:?}");
        assert_eq!(fs::read_to_string(&db).unwrap(), "old\n", "the hook's change to the data is undone");

        let health = json!({"command": "grep -q v1 index.html", "retries": 2, "delay": 0});
        let o = run::<Release>(deploy(&h, "v2", json!({"health": health})), &h.ctx()).await;
        assert!(o.failed, "{o:?}");
        assert!(o.msg.unwrap().contains("health check failed after 2 attempt(s)"));
        assert_eq!(releases(&h), vec![r1.clone()]);
        assert_eq!(fs::read_to_string(h.path("srv/app/current/index.html")).unwrap(), "v1\n");

        let health = json!({"command": "grep -q v2 index.html"});
        let o = run::<Release>(deploy(&h, "v2", json!({"health": health})), &h.ctx()).await;
        assert!(o.changed && !o.failed, "{o:?}");
    }

    #[tokio::test]
    async fn rollback_restores_the_backup_and_stops_at_the_oldest() {
        let h = LocalHost::new();
        app(&h, "v1", "v1");
        app(&h, "v2", "v2");
        let db = h.path("db.txt");
        fs::write(&db, "v1 data\n").unwrap();
        let backup = json!({"paths": [db]});
        let o = run::<Release>(deploy(&h, "v1", json!({"backup": backup})), &h.ctx()).await;
        let r1 = o.data["release"].as_str().unwrap().to_string();
        let migrate = format!("echo migrated > {db}");
        let o = run::<Release>(deploy(&h, "v2", json!({"backup": backup, "hooks": [migrate]})), &h.ctx()).await;
        assert!(o.changed, "{o:?}");
        let r2 = o.data["release"].as_str().unwrap().to_string();
        assert_eq!(fs::read_to_string(&db).unwrap(), "migrated\n");

        let rollback = json!({"path": h.path("srv/app"), "state": "rollback"});
        let mut cx_check = h.ctx();
        cx_check.mode.check = prov_core::module::CheckMode::Check;
        let o = run::<Release>(rollback.clone(), &cx_check).await;
        assert!(
            o.changed
                && o.msg
                    .as_deref()
                    .unwrap()
                    .contains(&format!("would switch {}/current back to {r1} (v1)", h.path("srv/app"))),
            "{o:?}"
        );
        assert_eq!(current(&h), format!("releases/{r2}"), "check mode changes nothing");

        let o = run::<Release>(rollback.clone(), &h.ctx()).await;
        assert!(o.changed && !o.failed, "{o:?}");
        assert!(
            o.msg
                .as_deref()
                .unwrap()
                .contains(&format!("now runs {r1} (v1) (rolled back from {r2} (v2), data restored from")),
            "{o:?}"
        );
        assert_eq!(current(&h), format!("releases/{r1}"));
        assert_eq!(fs::read_to_string(&db).unwrap(), "v1 data\n");
        assert_eq!(fs::read_to_string(h.path("srv/app/current/index.html")).unwrap(), "v1\n");

        let o = run::<Release>(rollback.clone(), &h.ctx()).await;
        assert!(o.failed && o.msg.as_deref().unwrap().contains("no previous release to roll back to"), "{o:?}");
        assert_eq!(current(&h), format!("releases/{r1}"));

        // Deploying again after a rollback makes a new release; the rolled-back one is pruned first.
        let o = run::<Release>(deploy(&h, "v2", json!({})), &h.ctx()).await;
        assert!(o.changed, "{o:?}");
        assert_eq!(o.data["pruned"].get_item_by_index(0).unwrap().as_str(), Some(r2.as_str()));
    }

    #[tokio::test]
    async fn bad_roots_and_sources() {
        let h = LocalHost::new();
        app(&h, "v1", "v1");
        fs::create_dir_all(h.path("srv/app")).unwrap();
        fs::write(h.path("srv/app/index.html"), "hand-made\n").unwrap();
        let o = run::<Release>(deploy(&h, "v1", json!({})), &h.ctx()).await;
        assert!(o.failed && o.msg.as_deref().unwrap().contains("is not a release root"), "{o:?}");
        fs::remove_file(h.path("srv/app/index.html")).unwrap();
        fs::create_dir_all(h.path("srv/app/releases")).unwrap();
        fs::create_dir_all(h.path("srv/app/current")).unwrap();
        let o = run::<Release>(deploy(&h, "v1", json!({})), &h.ctx()).await;
        assert!(o.failed && o.msg.as_deref().unwrap().contains("current is a directory"), "{o:?}");
        let rb = json!({"path": h.path("elsewhere"), "state": "rollback"});
        let o = run::<Release>(rb, &h.ctx()).await;
        assert!(o.failed && o.msg.as_deref().unwrap().contains("nothing was deployed there"), "{o:?}");

        let e = run_err::<Release>(json!({"path": "/srv/app"}), &h.ctx()).await;
        assert!(e.contains("`src` is required"), "{e}");
        let e = run_err::<Release>(json!({"path": "srv", "src": "x"}), &h.ctx()).await;
        assert!(e.contains("absolute"), "{e}");
        let e = run_err::<Release>(json!({"path": "/a", "src": "x", "shared": ["../etc"]}), &h.ctx()).await;
        assert!(e.contains("relative path"), "{e}");
        let e = run_err::<Release>(json!({"path": "/a", "src": "x", "backup": {"command": "pg_dump"}}), &h.ctx()).await;
        assert!(e.contains("restore_command"), "{e}");
        let e = run_err::<Release>(json!({"path": h.path("new"), "src": "nope"}), &h.ctx()).await;
        assert!(e.contains("could not find src nope"), "{e}");
    }

    #[tokio::test]
    async fn tarballs_remote_sources_and_check_mode() {
        let mut h = LocalHost::new();
        app(&h, "v1", "v1");
        app(&h, "v2", "v2");
        let st = std::process::Command::new("tar")
            .args(["-czf", &h.path("v1.tar.gz"), "-C", &h.path("v1"), "."])
            .status()
            .unwrap();
        assert!(st.success());
        let o = run::<Release>(deploy(&h, "v1.tar.gz", json!({})), &h.ctx()).await;
        assert!(o.changed && !o.failed, "{o:?}");
        assert_eq!(fs::read_to_string(h.path("srv/app/current/index.html")).unwrap(), "v1\n");
        let o = run::<Release>(deploy(&h, "v1.tar.gz", json!({})), &h.ctx()).await;
        assert!(!o.changed, "{o:?}");

        let remote = json!({"path": h.path("srv/app"), "src": h.path("v2"), "remote_src": true});
        h.mode.check = prov_core::module::CheckMode::Check;
        let o = run::<Release>(remote.clone(), &h.ctx()).await;
        assert!(o.changed && o.msg.as_deref().unwrap().starts_with("would make"), "{o:?}");
        assert_eq!(releases(&h).len(), 1, "check mode makes no release");
        h.mode.check = prov_core::module::CheckMode::Apply;
        let o = run::<Release>(remote.clone(), &h.ctx()).await;
        assert!(o.changed && !o.failed, "{o:?}");
        assert_eq!(fs::read_to_string(h.path("srv/app/current/index.html")).unwrap(), "v2\n");
        let o = run::<Release>(remote, &h.ctx()).await;
        assert!(!o.changed, "{o:?}");
        let o = run::<Release>(json!({"path": h.path("srv/app"), "src": h.path("nope"), "remote_src": true}), &h.ctx())
            .await;
        assert!(o.failed && o.msg.unwrap().contains("does not exist on the target"));
    }
}
