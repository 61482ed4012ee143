//! `copy`: puts a file from the controller (or literal `content`) on the target.
//!
//! Arguments (as in Ansible):
//! - `dest` (required): target path; when it is a directory (or ends with `/`) the file goes
//!   inside it under the `src` file name.
//! - `src`: file on the controller (looked up in the role's `files/`, then next to the
//!   playbook); with `remote_src: true`, a file on the target, copied there as ansible-core's
//!   module does it (no diff; a replaced file gets the source's mode and times, a new one the
//!   umask's mode; the result registers `src`, `md5sum` and `checksum` of the source).
//!   A controller directory is copied as ansible-core copies it (`src: dir/`: its content;
//!   `src: dir`: the directory itself; `local_follow`, `directory_mode`; see `copy_tree`); a
//!   directory on the target with `remote_src` as ansible-core's module copies it (see
//!   `copy_remote_dir`).
//! - `content`: literal content instead of `src` (a mapping or a list is written as Python's
//!   `json.dumps` writes it, another non-string as Python's `str()`: `True`, `1.0`).
//! - `mode` (`0644`, `'u=rw,g=r,o=r'`, or `preserve`: the source file's mode, 0600 for
//!   `content` as ansible-core's temporary file has), `owner`, `group`.
//! - `backup` (default false): keep a timestamped copy of the replaced file (`backup_file`).
//! - `force` (default true): when false, an existing destination is left alone, its mode and
//!   owner included (the result has `dest`, and `src` for a controller file).
//! - `validate`: command run on the new file before it is moved in place (`%s` is its path).
//! - `local_follow`, `directory_mode`: for a source directory (see `copy_tree`).
//! - `follow` (default false): a `dest` that is a symbolic link to something is written
//!   through, and the result's `dest` is the link's real path; else the link is replaced.
//! - `unsafe_writes`, `decrypt`: accepted, ignored.
//!
//! Idempotence compares sha256 on the target (`sha256sum`); the content is only downloaded for
//! `--diff`, and only when it is at most 104448 bytes (`max_diff_size`, or ansible.cfg's; larger or
//! binary sides register `dst_larger`, `src_binary`, ... instead). A controller `src` is
//! streamed to each host, never held whole in memory, its checksums computed once per run. Registers what ansible-core's copy does: for new content `dest`, `md5sum`,
//! `checksum` (sha1), `diff` (the content's before and after under `--diff`, else `[]`) and the
//! file's `uid`, `gid`, `owner`, `group`, `mode`, `state`, `size`, plus `backup_file`; when the
//! content is already right, the `file` module's result (`path`, the attributes, `diff`) with
//! `checksum` and `dest`. Check mode registers only `diff` for new content. Not registered:
//! `src` (ansible-core's temporary copy on the target).
//!
//! ```yaml
//! - copy:
//!     src: motd
//!     dest: /etc/motd
//!     mode: "0644"
//!     owner: root
//! - copy:
//!     content: "nameserver 1.1.1.1\n"
//!     dest: /etc/resolv.conf
//!     backup: true
//! ```

use super::content::LocalFile;
use super::{apply_write, plan_write, preserving, write_result, Attrs, Content, SourceMode, Write, WritePlan};
use async_trait::async_trait;
use minijinja::Value;
use prov_core::args::lenient_bool;
use prov_core::module::{Module, ModuleCtx, ModuleError, Outcome, Plan};
use serde::Deserialize;

fn yes() -> bool {
    true
}

/// Arguments of `copy`.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Args {
    /// Controller file (or target file with `remote_src`).
    #[serde(default)]
    pub src: Option<String>,
    /// Literal content.
    #[serde(default)]
    pub content: Option<Value>,
    /// Target path.
    pub dest: String,
    /// File mode, or `preserve` (the source's).
    #[serde(default)]
    pub mode: Option<SourceMode>,
    /// Owner name or uid.
    #[serde(default, deserialize_with = "crate::util::stringish")]
    pub owner: Option<String>,
    /// Group name or gid.
    #[serde(default, deserialize_with = "crate::util::stringish")]
    pub group: Option<String>,
    /// Keep a copy of the replaced file.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub backup: bool,
    /// Replace a file whose content differs.
    #[serde(default = "yes", deserialize_with = "lenient_bool")]
    pub force: bool,
    /// `src` is on the target.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub remote_src: bool,
    /// Validation command (`%s` = the new file).
    #[serde(default)]
    pub validate: Option<String>,
    /// A destination that is a symbolic link is written through (what it points to is
    /// replaced, and named `dest`); without it the link itself is replaced (default false).
    #[serde(default, deserialize_with = "lenient_bool")]
    pub follow: bool,
    /// Follow symbolic links in a source directory (default true).
    #[serde(default, deserialize_with = "prov_core::args::lenient_opt_bool")]
    pub local_follow: Option<bool>,
    /// Accepted, ignored.
    #[serde(default)]
    pub unsafe_writes: Option<Value>,
    /// Accepted, ignored.
    #[serde(default)]
    pub decrypt: Option<Value>,
    /// Mode of the directories a directory copy makes.
    #[serde(default)]
    pub directory_mode: Option<prov_core::args::Mode>,
    /// SELinux user of the file: ignored where SELinux is off, as ansible-core does; refused
    /// where it is on (prov does not set contexts yet).
    #[serde(default, deserialize_with = "crate::util::stringish")]
    pub seuser: Option<String>,
    /// SELinux role (see `seuser`).
    #[serde(default, deserialize_with = "crate::util::stringish")]
    pub serole: Option<String>,
    /// SELinux type (see `seuser`).
    #[serde(default, deserialize_with = "crate::util::stringish")]
    pub setype: Option<String>,
    /// SELinux level (see `seuser`).
    #[serde(default, deserialize_with = "crate::util::stringish")]
    pub selevel: Option<String>,
}

/// The `copy` module.
#[derive(Debug, Default)]
pub struct Copy;

#[async_trait]
impl Module for Copy {
    const NAME: &'static str = "copy";
    const RUN_BY_ACTION_PLUGIN: bool = true;
    const PATH_ARGS: &'static [&'static str] = &["dest"];
    type Args = Args;
    type Plan = CopyPlan;

    fn check_args(args: &Args) -> Result<(), String> {
        super::check_owner_group(&args.owner, &args.group)?;
        match (&args.src, &args.content) {
            (Some(_), Some(_)) => Err("`src` and `content` are mutually exclusive".into()),
            (None, None) => Err("one of `src` or `content` is required".into()),
            _ => {
                if args.validate.as_deref().is_some_and(|v| !v.contains("%s")) {
                    return Err("`validate` must contain %s (the file to check)".into());
                }
                if args.dest.is_empty() {
                    return Err("`dest` is empty".into());
                }
                Ok(())
            }
        }
    }

    async fn plan(&self, args: &Args, cx: &ModuleCtx<'_>) -> Result<Plan<CopyPlan>, ModuleError> {
        if let Some(o) = super::selinux_refused(cx, [&args.seuser, &args.serole, &args.setype, &args.selevel]).await? {
            return Ok(Plan::Ok(o));
        }
        match (&args.content, &args.src) {
            (None, Some(src)) if args.remote_src => super::copy_remote::plan(args, src, cx).await,
            (None, Some(src)) => {
                let path = cx
                    .files
                    .find("files", src)
                    .map_err(|e| ModuleError::Failed(format!("could not find src {src}: {e}")))?;
                if path.is_dir() {
                    return Ok(super::copy_tree::plan(args, src, &path, cx).await?.map(CopyPlan::Tree));
                }
                Ok(self.plan_write(args, Some((src, &path)), cx).await?.map(CopyPlan::Write))
            }
            _ => Ok(self.plan_write(args, None, cx).await?.map(CopyPlan::Write)),
        }
    }

    async fn apply(&self, args: &Args, plan: CopyPlan, cx: &ModuleCtx<'_>) -> Result<Outcome, ModuleError> {
        match plan {
            CopyPlan::Remote(p) => super::copy_remote::apply(args, p, cx).await,
            CopyPlan::RemoteDir(p) => super::copy_remote_dir::apply(args, p, cx).await,
            CopyPlan::Tree(p) => super::copy_tree::apply(args, p, cx).await,
            CopyPlan::Write(plan) => {
                let attrs = Attrs::new(&plan.mode, &args.owner, &args.group);
                let o = apply_write(cx, &plan, &attrs, args.backup, args.validate.as_deref()).await?;
                write_result(cx, &plan, o).await
            }
        }
    }
}

/// What `copy` will do.
pub enum CopyPlan {
    /// Write content from the controller (`content`, `src`).
    Write(WritePlan),
    /// Copy a file on the target (`remote_src`).
    Remote(super::copy_remote::RemotePlan),
    /// Copy a directory on the target (`remote_src`).
    RemoteDir(super::copy_remote_dir::DirPlan),
    /// Copy a controller directory.
    Tree(super::copy_tree::TreePlan),
}

impl Copy {
    /// Plans the write of `content`, or of the controller file `local` (`src` as written, and
    /// the file it was found as).
    async fn plan_write(
        &self,
        args: &Args,
        local: Option<(&str, &std::path::Path)>,
        cx: &ModuleCtx<'_>,
    ) -> Result<Plan<WritePlan>, ModuleError> {
        // `mode: preserve`: the source's bits; `content` is the private temporary file
        // ansible-core writes it to first (0600).
        let mut source_mode = 0o600;
        let (data, src_name, source) = match (&args.content, local) {
            (Some(c), _) => {
                let text =
                    prov_core::args::python_text_of(c).map_err(|e| ModuleError::Args(format!("content: {e}")))?;
                (Content::Bytes(text.into_bytes()), None, None)
            }
            (None, Some((src, path))) => {
                // Streamed to the host at apply time, never read whole.
                let d = Content::Local(std::sync::Arc::new(LocalFile::open(path).await?));
                if args.mode == Some(SourceMode::Preserve) {
                    source_mode = super::local_mode(path);
                }
                // ansible-core names the source by its absolute path (the diff's `after_header`).
                let shown = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
                (d, src.trim_end_matches('/').rsplit('/').next(), Some(shown.display().to_string()))
            }
            (None, None) => return Err(ModuleError::Args("one of `src` or `content` is required".into())),
        };
        let mode = SourceMode::resolve(&args.mode, || source_mode);
        let w = Write {
            dest: &args.dest,
            data,
            attrs: Attrs::new(&mode, &args.owner, &args.group),
            force: args.force,
            src_name,
            source,
            check_parent: true,
            follow: args.follow,
        };
        preserving(plan_write(cx, w).await, mode)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::files::sha256_hex;
    use crate::testing::*;
    use prov_core::testutil::FakeConnection;
    use serde_json::json;

    fn stat_line(mode: &str, sum: &str) -> String {
        format!("stat 81a4 {mode} 0 0 6 1 1 1 1 root root\naccess rw\nsum {sum}\n")
    }

    #[tokio::test]
    async fn already_in_state() {
        let st = stat_line("644", &sha256_hex(b"hello\n"));
        let h = fake(FakeConnection::new().on("P=/etc/motd", 0, &st));
        let o =
            run::<Copy>(json!({"content": "hello\n", "dest": "/etc/motd", "mode": "0644", "owner": "root"}), &h.ctx())
                .await;
        assert!(!o.changed && !o.failed, "{o:?}");
        assert_eq!(h.conn.calls().len(), 1, "one probe, no download");
    }

    #[tokio::test]
    async fn drift_content_and_mode() {
        let st = stat_line("600", &sha256_hex(b"old\n"));
        let h = fake(FakeConnection::new().on("P=/etc/motd", 0, &st).with_file("/etc/motd", "old\n"));
        let o = run::<Copy>(json!({"content": "new\n", "dest": "/etc/motd", "mode": 0o644, "owner": "www"}), &h.ctx())
            .await;
        assert!(o.changed && !o.failed, "{o:?}");
        let calls = h.conn.calls();
        assert_eq!(calls[1], "get /etc/motd");
        assert_eq!(calls[2], "put /etc/motd");
        assert_eq!(calls[3], "chown -- www /etc/motd");
        let files = h.conn.files.lock().unwrap();
        assert_eq!(files["/etc/motd"], (b"new\n".to_vec(), Some(0o644)));
        assert_eq!(o.diffs[0].before, "old\n");
        assert_eq!(o.diffs[0].after, "new\n");
        assert_eq!(o.diffs[1].after, "mode: 0644\nowner: www\n");
    }

    #[tokio::test]
    async fn absent_creates() {
        let h = fake(FakeConnection::new().on("P=", 0, "absent\n"));
        let o = run::<Copy>(json!({"content": {"a": 1}, "dest": "/x.json"}), &h.ctx()).await;
        assert!(o.changed);
        // Python's json.dumps, as ansible-core's copy action writes a mapping.
        assert_eq!(h.conn.files.lock().unwrap()["/x.json"].0, b"{\"a\": 1}".to_vec());
        assert_eq!(o.diffs[0].before, "");
        assert_eq!(o.planned[0].action, prov_core::module::Action::Create);
    }

    #[tokio::test]
    async fn check_mode_writes_nothing() {
        let st = stat_line("644", "0000");
        let h = fake_check(FakeConnection::new().on("P=", 0, &st).with_file("/f", "a\n"));
        let o = run::<Copy>(json!({"content": "b\n", "dest": "/f", "backup": true}), &h.ctx()).await;
        assert!(o.changed);
        assert_eq!(
            h.conn.calls(),
            vec![crate::files::probe_command("/f", Some("sha256sum"), false).to_string(), "get /f".to_string()]
        );
        assert_eq!(h.conn.files.lock().unwrap()["/f"].0, b"a\n".to_vec());
        assert_eq!((o.diffs[0].before.as_str(), o.diffs[0].after.as_str()), ("a\n", "b\n"));
    }

    #[tokio::test]
    async fn an_unknown_argument_is_named_as_ansible_core_names_it() {
        // ansible-core 2.19: its copy action runs the module as ansible.legacy.copy.
        let h = fake(FakeConnection::new());
        let msg = unsupported::<Copy>(json!({"content": "x", "dest": "/f", "bogus": 1}), &h.ctx()).await;
        assert!(msg.starts_with("Unsupported parameters for (ansible.legacy.copy) module: bogus. "), "{msg}");
    }

    #[tokio::test]
    async fn force_false_keeps_content() {
        let st = stat_line("644", "0000");
        let h = fake(FakeConnection::new().on("P=", 0, &st));
        let o = run::<Copy>(json!({"content": "b\n", "dest": "/f", "force": false}), &h.ctx()).await;
        assert!(!o.changed);
    }

    #[tokio::test]
    async fn probe_failure_is_an_error() {
        let h = fake(FakeConnection::new().on("P=", 1, ""));
        let e = run_err::<Copy>(json!({"content": "b", "dest": "/f"}), &h.ctx()).await;
        assert!(e.contains("reading the state of /f failed"), "{e}");
        assert!(run_err::<Copy>(json!({"dest": "/f"}), &h.ctx()).await.contains("required"));
    }

    #[tokio::test]
    async fn local_copy() {
        let h = LocalHost::new();
        std::fs::write(h.path("src.txt"), "from controller\n").unwrap();
        std::fs::create_dir(h.path("d")).unwrap();
        let dest = h.path("d");
        let o = run::<Copy>(json!({"src": "src.txt", "dest": dest, "mode": "0600"}), &h.ctx()).await;
        assert!(o.changed && !o.failed, "{o:?}");
        let target = h.path("d/src.txt");
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "from controller\n");
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&target).unwrap().permissions().mode() & 0o7777, 0o600);
        let o = run::<Copy>(json!({"src": "src.txt", "dest": dest, "mode": "0600"}), &h.ctx()).await;
        assert!(!o.changed, "{o:?}");
        let o =
            run::<Copy>(json!({"content": "x", "dest": target, "backup": true, "validate": "grep -q x %s"}), &h.ctx())
                .await;
        assert!(o.changed && !o.failed, "{o:?}");
        let backup = o.data["backup_file"].as_str().unwrap().to_string();
        assert_eq!(std::fs::read_to_string(backup).unwrap(), "from controller\n");
        assert_eq!(std::fs::metadata(&target).unwrap().permissions().mode() & 0o7777, 0o600, "mode kept");
        let o = run::<Copy>(json!({"content": "y", "dest": target, "validate": "grep -q x %s"}), &h.ctx()).await;
        assert!(o.failed);
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "x");
    }
}
