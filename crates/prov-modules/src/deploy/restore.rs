//! `restore`: puts a backup made by `backup` (or by `release`'s `backup:`) back in place.
//!
//! Arguments:
//! - `src`: the backup file (`<dest>/<name>.tar.gz` or `.dump`, e.g. `{{ bk.backup }}`), or
//! - `dest`: a backup directory; its newest backup is restored.
//! - `command`: for dump backups, the command that reads the dump on its standard input
//!   (`psql app`). Required for dumps, refused for path backups.
//!
//! A path backup is restored exactly: each saved path is removed, then the archive is unpacked
//! at `/`; a path that did not exist at backup time is removed. Idempotent: nothing happens
//! while the data already hashes the same as the backup. A dump restore always runs (its
//! effect cannot be compared), and check mode skips it. Registers `backup` (the file
//! restored) and `paths`.
//!
//! ```yaml
//! - restore:
//!     src: "{{ bk.backup }}"
//! ```

use super::backup::{data_hash_command, list_command, meta_path, parse_metas, BackupMeta};
use crate::util::probe_failed;
use async_trait::async_trait;
use prov_core::cmd::{Cmd, Sh, Word, WordKind};
use prov_core::module::{Action, Change, InCheck, Module, ModuleCtx, ModuleError, Outcome, Plan};
use serde::Deserialize;

/// Arguments of `restore`.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Args {
    /// The backup file.
    #[serde(default)]
    pub src: Option<String>,
    /// A backup directory (its newest backup).
    #[serde(default)]
    pub dest: Option<String>,
    /// Command reading a dump on stdin.
    #[serde(default)]
    pub command: Option<String>,
}

/// Reads the record of the backup `file`.
pub(crate) async fn read_meta(cx: &ModuleCtx<'_>, file: &str) -> Result<BackupMeta, ModuleError> {
    let path = meta_path(file);
    let test = Word::new(WordKind::Path, file).map_err(|e| ModuleError::Args(e.to_string()))?;
    let out = cx.exec(Cmd::new("test").flag("-f").word(&test).build().and(Cmd::new("cat").operand(&path))).await?;
    if out.rc != 0 {
        return Err(ModuleError::Failed(format!(
            "backup {file} is gone or has no record ({path}); was it removed by its retention period?"
        )));
    }
    serde_json::from_str(out.stdout_str().trim())
        .map_err(|e| ModuleError::Failed(format!("{path} is not a backup record made by prov: {e}")))
}

/// Puts a backup back; `command` reads a dump.
pub(crate) async fn put_back(cx: &ModuleCtx<'_>, meta: &BackupMeta, command: Option<&str>) -> Result<(), ModuleError> {
    let script = match (&meta.command, command) {
        (Some(_), Some(c)) => Cmd::new("sh").opt("-c", c).build().suffix(" <").word(Sh::quoted(&meta.file)),
        (Some(_), None) => {
            return Err(ModuleError::Args(format!(
                "{} is a dump: give `command`, which reads it on its standard input",
                meta.file
            )))
        }
        (None, Some(_)) => {
            return Err(ModuleError::Args(format!("{} holds files: `command` is only for dumps", meta.file)))
        }
        (None, None) => Sh::lit("set -e")
            .then(Cmd::new("rm").flag("-rf").operands(&meta.paths))
            .then(Cmd::new("tar").opt("-xzf", &meta.file).flag("-C").flag("/")),
    };
    let out = cx.exec(script).await?;
    if out.rc != 0 {
        return Err(probe_failed(&format!("restoring {}", meta.file), &out));
    }
    Ok(())
}

/// The `restore` module.
#[derive(Debug, Default)]
pub struct Restore;

#[async_trait]
impl Module for Restore {
    const NAME: &'static str = "restore";
    const COLLECTIONS: &'static [&'static str] = &[];
    type Args = Args;
    type Plan = BackupMeta;

    fn check_args(a: &Args) -> Result<(), String> {
        match (&a.src, &a.dest) {
            (Some(_), Some(_)) => Err("`src` and `dest` are mutually exclusive".into()),
            (None, None) => Err("one of `src` (a backup file) or `dest` (a backup directory) is required".into()),
            _ => Ok(()),
        }
    }

    async fn plan(&self, a: &Args, cx: &ModuleCtx<'_>) -> Result<Plan<BackupMeta>, ModuleError> {
        let meta = match (&a.src, &a.dest) {
            (Some(src), _) => read_meta(cx, src).await?,
            (None, Some(dest)) => {
                let out = cx.exec(list_command(dest)).await?;
                if out.rc != 0 {
                    return Err(probe_failed(&format!("reading the backups in {dest}"), &out));
                }
                match parse_metas(&out.stdout_str()).pop() {
                    Some(m) => m,
                    None => return Ok(Plan::Ok(Outcome::failed(format!("no backup in {dest}")))),
                }
            }
            (None, None) => return Err(ModuleError::Args("one of `src` or `dest` is required".into())),
        };
        if meta.command.is_none() && a.command.is_none() {
            let out = cx.exec(data_hash_command(&meta.paths)).await?;
            if out.rc != 0 {
                return Err(probe_failed("hashing the data to restore", &out));
            }
            if out.stdout_str().trim() == meta.hash {
                return Ok(Plan::Ok(Outcome::ok().with("backup", meta.file.clone()).with("paths", meta.paths.clone())));
            }
        }
        let mut ch = Change::new(meta.clone(), Action::Modify, "restore", meta.file.clone());
        if meta.command.is_some() {
            ch.in_check = InCheck::Skipped;
        }
        Ok(Plan::Change(ch))
    }

    async fn apply(&self, a: &Args, meta: BackupMeta, cx: &ModuleCtx<'_>) -> Result<Outcome, ModuleError> {
        put_back(cx, &meta, a.command.as_deref()).await?;
        let mut o = Outcome::ok().with("backup", meta.file.clone()).with("paths", meta.paths.clone());
        o.changed = true;
        Ok(o)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deploy::backup::Backup;
    use crate::testing::*;
    use serde_json::json;

    #[tokio::test]
    async fn restores_exactly_and_is_idempotent() {
        let h = LocalHost::new();
        std::fs::create_dir(h.path("data")).unwrap();
        std::fs::write(h.path("data/db"), "v1\n").unwrap();
        let dest = h.path("b");
        let bk = run::<Backup>(json!({"paths": [h.path("data"), h.path("later")], "dest": dest}), &h.ctx()).await;
        let file = bk.data["backup"].as_str().unwrap().to_string();
        std::fs::write(h.path("data/db"), "v2\n").unwrap();
        std::fs::write(h.path("data/new"), "x\n").unwrap();
        std::fs::write(h.path("later"), "made after the backup\n").unwrap();
        let o = run::<Restore>(json!({"src": file}), &h.ctx()).await;
        assert!(o.changed && !o.failed, "{o:?}");
        assert_eq!(std::fs::read_to_string(h.path("data/db")).unwrap(), "v1\n");
        assert!(!std::path::Path::new(&h.path("data/new")).exists());
        assert!(!std::path::Path::new(&h.path("later")).exists(), "absent at backup time: removed");
        let o = run::<Restore>(json!({"dest": dest}), &h.ctx()).await;
        assert!(!o.changed, "{o:?}");
    }

    #[tokio::test]
    async fn dumps_need_a_command_and_missing_backups_fail() {
        let h = LocalHost::new();
        let dest = h.path("b");
        let db = h.path("db");
        std::fs::write(&db, "rows 1\n").unwrap();
        run::<Backup>(json!({"command": format!("cat {db}"), "dest": dest}), &h.ctx()).await;
        std::fs::write(&db, "rows 2\n").unwrap();
        let e = run_err::<Restore>(json!({"dest": dest}), &h.ctx()).await;
        assert!(e.contains("is a dump: give `command`"), "{e}");
        let o = run::<Restore>(json!({"dest": dest, "command": format!("cat > {db}")}), &h.ctx()).await;
        assert!(o.changed, "{o:?}");
        assert_eq!(std::fs::read_to_string(&db).unwrap(), "rows 1\n");
        let e = run_err::<Restore>(json!({"src": h.path("b/nope.tar.gz")}), &h.ctx()).await;
        assert!(e.contains("is gone"), "{e}");
        let o = run::<Restore>(json!({"dest": h.path("empty")}), &h.ctx()).await;
        assert!(o.failed && o.msg.unwrap().contains("no backup"));
    }

    #[tokio::test]
    async fn backup_and_restore_of_hostile_paths_treat_them_as_data() {
        let h = LocalHost::new();
        let marker = pwned_marker("restore");
        let names = hostile_values(&marker);
        let paths: Vec<String> = names.iter().map(|n| h.path(&format!("data/{}", n.replace('/', "_")))).collect();
        std::fs::create_dir(h.path("data")).unwrap();
        for p in &paths {
            std::fs::write(p, "v1\n").unwrap();
        }
        let dest = h.path(&format!("b/$(touch {marker})"));
        let bk = run::<Backup>(json!({"paths": paths, "dest": dest}), &h.ctx()).await;
        assert!(bk.changed && !bk.failed, "{bk:?}");
        for p in &paths {
            std::fs::write(p, "v2\n").unwrap();
        }
        let o = run::<Restore>(json!({"dest": dest}), &h.ctx()).await;
        assert!(o.changed && !o.failed, "{o:?}");
        for p in &paths {
            assert_eq!(std::fs::read_to_string(p).unwrap(), "v1\n", "{p:?}");
        }
        let o = run::<Restore>(json!({"src": bk.data["backup"].as_str().unwrap()}), &h.ctx()).await;
        assert!(!o.changed && !o.failed, "{o:?}");
        assert!(!std::path::Path::new(&marker).exists(), "a hostile name ran as shell");
    }
}
