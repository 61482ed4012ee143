//! `backup`: saves data paths (a tar.gz) or a dump command's output on the target, and removes
//! backups older than the retention period.
//!
//! Arguments:
//! - `dest` (required): directory the backups go into (`<dest>/<YYYYmmddHHMMSS>.tar.gz` or
//!   `.dump`, each with a `.json` record next to it).
//! - `paths`: absolute files or directories to archive. A path missing at backup time is
//!   recorded as missing, and `restore` removes it.
//! - `command`: instead of `paths`, a command whose standard output is the backup
//!   (`pg_dump app`); `restore` feeds it back to another command.
//! - `retention` (default `48h`): backups older than this are removed (`30m`, `48h`, `7d`);
//!   the newest one is always kept.
//!
//! Idempotent: with `paths`, no new backup is made while the data hashes the same as the
//! newest backup (file contents and symlinks); a dump identical to the newest is discarded.
//! Registers `backup` (the file now holding this state), `created` (whether a new one was
//! made) and `removed` (expired backups deleted).
//!
//! ```yaml
//! - backup:
//!     paths: [/srv/app/shared/data.db]
//!     dest: /srv/app/backups
//!     retention: 48h
//!   register: bk
//! ```

use super::{fresh_name, now, parse_duration};
use crate::util::probe_failed;
use async_trait::async_trait;
use minijinja::Value;
use prov_core::cmd::{Cmd, Sh};
use prov_core::module::{Action, Change, InCheck, Module, ModuleCtx, ModuleError, Outcome, Plan, Planned};
use serde::{Deserialize, Serialize};

fn h48() -> String {
    "48h".into()
}

/// Arguments of `backup`.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Args {
    /// Data to archive.
    #[serde(default)]
    pub paths: Vec<String>,
    /// Dump command (stdout is the backup).
    #[serde(default)]
    pub command: Option<String>,
    /// Backup directory.
    pub dest: String,
    /// How long backups are kept.
    #[serde(default = "h48")]
    pub retention: String,
}

/// What to save: shared by `backup` and `release`'s `backup:` option.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum Source {
    /// Files and directories (absolute paths).
    Paths(Vec<String>),
    /// A command's standard output.
    Command(String),
    /// Nothing was given.
    #[default]
    None,
}

impl Source {
    /// From `paths` / `command`, checking that exactly one is given.
    pub fn new(paths: &[String], command: &Option<String>) -> Result<Source, String> {
        match (paths.is_empty(), command) {
            (false, Some(_)) => Err("`paths` and `command` are mutually exclusive".into()),
            (true, None) => Err("one of `paths` or `command` is required".into()),
            (true, Some(c)) if c.trim().is_empty() => Err("`command` is empty".into()),
            (true, Some(c)) => Ok(Source::Command(c.clone())),
            (false, None) => {
                if let Some(p) = paths.iter().find(|p| !p.starts_with('/') || p.trim_end_matches('/').is_empty()) {
                    return Err(format!("backup path `{p}` must be absolute (and not `/`)"));
                }
                Ok(Source::Paths(paths.iter().map(|p| p.trim_end_matches('/').to_string()).collect()))
            }
        }
    }
}

/// The record next to each backup, `<dest>/<name>.json`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BackupMeta {
    /// Backup name (its time stamp).
    pub name: String,
    /// The archive or dump.
    pub file: String,
    /// Unix time it was made.
    pub created: u64,
    /// Paths saved (absolute), for `paths` backups.
    #[serde(default)]
    pub paths: Vec<String>,
    /// Which of `paths` existed.
    #[serde(default)]
    pub present: Vec<String>,
    /// The dump command, for `command` backups.
    #[serde(default)]
    pub command: Option<String>,
    /// Hash of the data saved (`paths`) or of the dump.
    pub hash: String,
}

/// A command printing one hash of the data under `paths` (contents and symlinks).
pub(crate) fn data_hash_command(paths: &[String]) -> Sh {
    // The paths are absolute (checked): `find` cannot read one as an expression.
    Sh::lit("for p in").word(quoted_list(paths)).suffix(
        "; do if [ -e \"$p\" ] || [ -L \"$p\" ]; then \
           find \"$p\" \\( -type f -exec sha256sum {} + \\) -o \\( -type l -printf 'link %p %l\\n' \\); \
         else printf 'absent %s\\n' \"$p\"; fi; done | LC_ALL=C sort | sha256sum | cut -d' ' -f1",
    )
}

/// Values as quoted words, for a `for` list.
fn quoted_list(values: &[String]) -> Sh {
    values.iter().fold(Sh::default(), |sh, v| sh.word(Sh::quoted(v)))
}

/// Lists the backup records in `dir`, one `meta <json>` line each.
pub(crate) fn list_command(dir: &str) -> Sh {
    Sh::lit("for m in")
        .word(Sh::quoted(dir))
        .suffix("/*.json; do [ -f \"$m\" ] || continue; printf 'meta '; tr -d '\\n' < \"$m\"; echo; done")
}

/// Backup records from [`list_command`] lines (unreadable records are skipped).
pub(crate) fn parse_metas(text: &str) -> Vec<BackupMeta> {
    let mut v: Vec<BackupMeta> = text
        .lines()
        .filter_map(|l| l.strip_prefix("meta "))
        .filter_map(|j| serde_json::from_str::<BackupMeta>(j).ok())
        .collect();
    v.sort_by(|a, b| (a.created, &a.name).cmp(&(b.created, &b.name)));
    v
}

/// Makes a backup named `name` in `dir`; returns its record (already written next to it).
pub(crate) async fn create(
    cx: &ModuleCtx<'_>,
    dir: &str,
    name: &str,
    source: &Source,
) -> Result<BackupMeta, ModuleError> {
    let (file, script) = match source {
        Source::Paths(paths) => {
            let file = format!("{dir}/{name}.tar.gz");
            let part = format!("{file}.part");
            // The members are the paths without their leading `/`, after `--`: `/--x` is not
            // an option of tar.
            let script = Sh::lit("set -e")
                .then(Cmd::new("mkdir").flag("-p").operand(dir))
                .then(Sh::lit("set --"))
                .then(Sh::lit("for p in").word(quoted_list(paths)).suffix(
                    "; do \
                       if [ -e \"$p\" ] || [ -L \"$p\" ]; then set -- \"$@\" \"${p#/}\"; printf 'present %s\\n' \"$p\"; fi; \
                     done",
                ))
                .then(Cmd::new("tar").opt("-czf", &part).flag("-C").flag("/").flag("-T").flag("/dev/null").flag("--").flag("\"$@\""))
                .then(Cmd::new("mv").operands([&part, &file]))
                .then(Sh::lit("printf 'hash %s\\n' \"$(").glued(data_hash_command(paths)).suffix(")\""));
            (file, script)
        }
        Source::Command(cmd) => {
            let file = format!("{dir}/{name}.dump");
            let part = format!("{file}.part");
            let script = Sh::lit("set -e")
                .then(Cmd::new("mkdir").flag("-p").operand(dir))
                .then(Cmd::new("sh").opt("-c", cmd).build().suffix(" >").word(Sh::quoted(&part)))
                .then(Cmd::new("mv").operands([&part, &file]))
                .then(
                    Sh::lit("printf 'hash %s\\n' \"$(sha256sum <")
                        .word(Sh::quoted(&file))
                        .suffix(" | cut -d' ' -f1)\""),
                );
            (file, script)
        }
        Source::None => return Err(ModuleError::Args("nothing to back up".into())),
    };
    let out = cx.exec(script).await?;
    if out.rc != 0 {
        let _ = cx.exec(Cmd::new("rm").flag("-f").operand(format!("{file}.part")).build()).await;
        return Err(probe_failed(&format!("backing up into {file}"), &out));
    }
    let text = out.stdout_str();
    let mut meta = BackupMeta { name: name.to_string(), file: file.clone(), created: now(), ..Default::default() };
    for line in text.lines() {
        if let Some(p) = line.strip_prefix("present ") {
            meta.present.push(p.to_string());
        } else if let Some(h) = line.strip_prefix("hash ") {
            meta.hash = h.to_string();
        }
    }
    match source {
        Source::Paths(p) => meta.paths = p.clone(),
        Source::Command(c) => meta.command = Some(c.clone()),
        Source::None => {}
    }
    write_meta(cx, &meta).await?;
    Ok(meta)
}

/// Where a backup's record lives: `<dir>/<name>.json` for `<dir>/<name>.tar.gz` or `.dump`.
pub(crate) fn meta_path(file: &str) -> String {
    let stem = file.strip_suffix(".tar.gz").or_else(|| file.strip_suffix(".dump")).unwrap_or(file);
    format!("{stem}.json")
}

async fn write_meta(cx: &ModuleCtx<'_>, meta: &BackupMeta) -> Result<(), ModuleError> {
    let mut json = serde_json::to_string(meta).map_err(|e| ModuleError::Failed(e.to_string()))?;
    json.push('\n');
    cx.put(&meta_path(&meta.file), json.as_bytes(), Some(0o600)).await
}

/// Deletes backups and their records.
pub(crate) async fn remove(cx: &ModuleCtx<'_>, metas: &[BackupMeta]) -> Result<(), ModuleError> {
    if metas.is_empty() {
        return Ok(());
    }
    let files = metas.iter().flat_map(|m| [m.file.clone(), meta_path(&m.file)]);
    let out = cx.exec(Cmd::new("rm").flag("-f").operands(files).build()).await?;
    if out.rc != 0 {
        return Err(probe_failed("removing expired backups", &out));
    }
    Ok(())
}

/// Backups past `retention` seconds, except the newest (metas sorted oldest first).
pub(crate) fn expired(metas: &[BackupMeta], retention: u64, now: u64) -> Vec<BackupMeta> {
    let n = metas.len().saturating_sub(1);
    metas[..n].iter().filter(|m| m.created.saturating_add(retention) < now).cloned().collect()
}

/// What `apply` does.
#[derive(Debug)]
pub struct BackupPlan {
    new: bool,
    expired: Vec<BackupMeta>,
    newest: Option<BackupMeta>,
    /// The newest backup is past the retention too: it goes once a new one replaces it.
    newest_expired: bool,
}

/// The `backup` module.
#[derive(Debug, Default)]
pub struct Backup;

#[async_trait]
impl Module for Backup {
    const NAME: &'static str = "backup";
    const COLLECTIONS: &'static [&'static str] = &[];
    type Args = Args;
    type Plan = BackupPlan;

    fn check_args(a: &Args) -> Result<(), String> {
        Source::new(&a.paths, &a.command)?;
        parse_duration(&a.retention)?;
        if !a.dest.starts_with('/') {
            return Err(format!("`dest` must be an absolute path, not `{}`", a.dest));
        }
        Ok(())
    }

    async fn plan(&self, a: &Args, cx: &ModuleCtx<'_>) -> Result<Plan<BackupPlan>, ModuleError> {
        let source = Source::new(&a.paths, &a.command).map_err(ModuleError::Args)?;
        let retention = parse_duration(&a.retention).map_err(ModuleError::Args)?;
        let mut cmd = list_command(&a.dest);
        if let Source::Paths(p) = &source {
            cmd = cmd.then(Sh::lit("printf 'hash %s\\n' \"$(").glued(data_hash_command(p)).suffix(")\""));
        }
        let out = cx.exec(cmd).await?;
        if out.rc != 0 {
            return Err(probe_failed(&format!("reading the backups in {}", a.dest), &out));
        }
        let text = out.stdout_str();
        let metas = parse_metas(&text);
        let newest = metas.last().cloned();
        let expired = expired(&metas, retention, now());
        let newest_expired = newest.as_ref().is_some_and(|m| m.created.saturating_add(retention) < now());
        let new = match &source {
            Source::Paths(_) => {
                let hash = text.lines().find_map(|l| l.strip_prefix("hash ")).unwrap_or_default();
                newest.as_ref().is_none_or(|m| m.hash != hash || m.paths != a.paths)
            }
            // A dump can only be compared once it is made.
            _ => true,
        };
        if !new && expired.is_empty() {
            let file = newest.as_ref().map(|m| m.file.clone()).unwrap_or_default();
            return Ok(Plan::Ok(
                Outcome::ok()
                    .with("backup", file)
                    .with("created", false)
                    .with("removed", Value::from(Vec::<String>::new())),
            ));
        }
        let mut planned = Vec::new();
        if new {
            planned.push(Planned { action: Action::Create, resource: "backup", name: format!("{}/<now>", a.dest) });
        }
        for m in expired.iter().chain(newest.iter().filter(|_| new && newest_expired)) {
            planned.push(Planned { action: Action::Delete, resource: "backup", name: m.file.clone() });
        }
        let in_check = if matches!(source, Source::Command(_)) { InCheck::Skipped } else { InCheck::Changed };
        Ok(Plan::Change(Change {
            plan: BackupPlan { new, expired, newest, newest_expired },
            diffs: Vec::new(),
            planned,
            in_check,
            msg: None,
            data: Default::default(),
        }))
    }

    async fn apply(&self, a: &Args, p: BackupPlan, cx: &ModuleCtx<'_>) -> Result<Outcome, ModuleError> {
        let source = Source::new(&a.paths, &a.command).map_err(ModuleError::Args)?;
        let mut changed = false;
        let mut file = p.newest.as_ref().map(|m| m.file.clone()).unwrap_or_default();
        let mut msg = None;
        let mut expired = p.expired;
        if p.new {
            let taken = |n: &str| p.newest.as_ref().is_some_and(|m| m.name.as_str() >= n);
            let name = fresh_name(now(), taken);
            let meta = create(cx, &a.dest, &name, &source).await?;
            match &p.newest {
                // An identical dump: keep the older one, which already holds this state.
                Some(old) if matches!(source, Source::Command(_)) && old.hash == meta.hash => {
                    remove(cx, std::slice::from_ref(&meta)).await?;
                    msg = Some(format!("the dump is identical to {}", old.file));
                }
                _ => {
                    file = meta.file.clone();
                    changed = true;
                    expired.extend(p.newest.iter().filter(|_| p.newest_expired).cloned());
                }
            }
        }
        remove(cx, &expired).await?;
        let removed: Vec<String> = expired.iter().map(|m| m.file.clone()).collect();
        changed |= !removed.is_empty();
        let mut o = Outcome::ok().with("backup", file).with("created", changed && p.new).with("removed", removed);
        o.changed = changed;
        o.msg = msg;
        Ok(o)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;
    use serde_json::json;

    #[test]
    fn sources_and_expiry() {
        assert!(Source::new(&[], &None).unwrap_err().contains("required"));
        assert!(Source::new(&["/a".into()], &Some("x".into())).unwrap_err().contains("exclusive"));
        assert!(Source::new(&["rel".into()], &None).unwrap_err().contains("absolute"));
        assert_eq!(Source::new(&["/a/".into()], &None), Ok(Source::Paths(vec!["/a".into()])));
        let m = |n: &str, c: u64| BackupMeta { name: n.into(), created: c, ..Default::default() };
        let metas = vec![m("a", 100), m("b", 200), m("c", 300)];
        assert_eq!(expired(&metas, 150, 400).iter().map(|m| m.name.as_str()).collect::<Vec<_>>(), vec!["a", "b"]);
        assert!(expired(&metas[2..], 1, 10_000).is_empty(), "the newest is kept");
        assert_eq!(meta_path("/b/20260101000000.tar.gz"), "/b/20260101000000.json");
        assert_eq!(meta_path("/b/20260101000000.dump"), "/b/20260101000000.json");
    }

    #[tokio::test]
    async fn paths_backup_is_idempotent_and_expires() {
        let h = LocalHost::new();
        let data = h.path("data");
        std::fs::create_dir(&data).unwrap();
        std::fs::write(h.path("data/a.txt"), "one\n").unwrap();
        let dest = h.path("backups");
        let args = json!({"paths": [data, h.path("missing")], "dest": dest, "retention": "1h"});
        let o = run::<Backup>(args.clone(), &h.ctx()).await;
        assert!(o.changed && !o.failed, "{o:?}");
        let first = o.data["backup"].as_str().unwrap().to_string();
        assert!(std::path::Path::new(&first).exists());
        let o = run::<Backup>(args.clone(), &h.ctx()).await;
        assert!(!o.changed, "same data: no new backup {o:?}");
        assert_eq!(o.data["backup"].as_str(), Some(first.as_str()));
        std::fs::write(h.path("data/a.txt"), "two\n").unwrap();
        // Age the first record past the retention: the next backup removes it.
        let meta_file = meta_path(&first);
        let mut meta: BackupMeta = serde_json::from_str(&std::fs::read_to_string(&meta_file).unwrap()).unwrap();
        meta.created -= 7200;
        std::fs::write(&meta_file, serde_json::to_string(&meta).unwrap()).unwrap();
        let o = run::<Backup>(args.clone(), &h.ctx()).await;
        assert!(o.changed, "{o:?}");
        let second = o.data["backup"].as_str().unwrap().to_string();
        assert_ne!(second, first);
        assert!(!std::path::Path::new(&first).exists() && !std::path::Path::new(&meta_file).exists());
        let listing = std::process::Command::new("tar").args(["-tzf", &second]).output().unwrap();
        let names = String::from_utf8_lossy(&listing.stdout).to_string();
        assert!(names.contains("data/a.txt"), "{names}");
        let meta: BackupMeta = serde_json::from_str(&std::fs::read_to_string(meta_path(&second)).unwrap()).unwrap();
        assert_eq!(meta.present, vec![data.clone()]);
    }

    #[tokio::test]
    async fn dump_backup_keeps_identical_dumps_once() {
        let h = LocalHost::new();
        let dest = h.path("dumps");
        let src = h.path("db.txt");
        std::fs::write(&src, "rows 1\n").unwrap();
        let args = json!({"command": format!("cat {src}"), "dest": dest});
        let o = run::<Backup>(args.clone(), &h.ctx()).await;
        assert!(o.changed, "{o:?}");
        let file = o.data["backup"].as_str().unwrap().to_string();
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "rows 1\n");
        let o = run::<Backup>(args.clone(), &h.ctx()).await;
        assert!(!o.changed, "{o:?}");
        assert_eq!(std::fs::read_dir(&dest).unwrap().count(), 2, "one dump and its record");
        let o = run_err::<Backup>(json!({"command": "exit 3", "dest": dest}), &h.ctx()).await;
        assert!(o.contains("backing up into"), "{o}");
        assert_eq!(std::fs::read_dir(&dest).unwrap().count(), 2, "no partial file left");
    }

    #[tokio::test]
    async fn bad_args() {
        let h = LocalHost::new();
        assert!(run_err::<Backup>(json!({"dest": "/b"}), &h.ctx()).await.contains("required"));
        assert!(run_err::<Backup>(json!({"paths": ["/a"], "dest": "b"}), &h.ctx()).await.contains("absolute"));
        assert!(run_err::<Backup>(json!({"paths": ["/a"], "dest": "/b", "retention": "2y"}), &h.ctx())
            .await
            .contains("unknown unit"));
    }
}
