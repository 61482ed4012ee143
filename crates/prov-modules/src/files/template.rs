//! `template`: renders a Jinja template from the controller and puts it on the target.
//!
//! Arguments (as in Ansible): `src` (required; looked up in the role's `templates/`, then next
//! to the playbook), `dest` (required), `mode` (or `preserve`: the template file's mode), `owner`,
//! `group`, `backup` (default false),
//! `force` (default true), `validate` (`%s` is the new file), `trim_blocks`, `lstrip_blocks` (and a
//! `#jinja2:` first line setting them), `newline_sequence` and `output_encoding` at their
//! defaults (others refused); `follow` (default false) writes through a destination that is a
//! symbolic link, as `copy`; `unsafe_writes` is accepted and ignored. The template
//! sees the task's variables; the trailing line breaks of the source are kept (ansible-core's
//! count).
//! Idempotence compares sha256 on the target. Registers what `copy` registers (see there); the
//! diff's `after_header` names the template on the controller (ansible-core: its temporary copy).
//!
//! ```yaml
//! - template:
//!     src: nginx.conf.j2
//!     dest: /etc/nginx/nginx.conf
//!     mode: "0644"
//!     validate: nginx -t -c %s
//! ```

use super::{apply_write, plan_write, preserving, write_result, Attrs, SourceMode, Write, WritePlan};
use async_trait::async_trait;
use minijinja::Value;
use prov_core::args::lenient_bool;
use prov_core::module::{Module, ModuleCtx, ModuleError, Outcome, Plan};
use serde::Deserialize;

fn yes() -> bool {
    true
}

/// Arguments of `template`.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Args {
    /// Template on the controller.
    pub src: String,
    /// Target path.
    pub dest: String,
    /// File mode, or `preserve` (the template's).
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
    /// Validation command (`%s` = the new file).
    #[serde(default)]
    pub validate: Option<String>,
    /// Only `\n` (the default): prov refuses the others.
    #[serde(default)]
    pub newline_sequence: Option<String>,
    /// Jinja's `trim_blocks` (default true, as in ansible-core).
    #[serde(default, deserialize_with = "prov_core::args::lenient_opt_bool")]
    pub trim_blocks: Option<bool>,
    /// Jinja's `lstrip_blocks` (default false).
    #[serde(default, deserialize_with = "prov_core::args::lenient_opt_bool")]
    pub lstrip_blocks: Option<bool>,
    /// Only UTF-8 (the default): prov refuses the others.
    #[serde(default)]
    pub output_encoding: Option<String>,
    /// A destination that is a symbolic link is written through (what it points to is
    /// replaced, and named `dest`); without it the link itself is replaced (default false).
    #[serde(default, deserialize_with = "lenient_bool")]
    pub follow: bool,
    /// Accepted, ignored.
    #[serde(default)]
    pub unsafe_writes: Option<Value>,
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

/// The `template` module.
#[derive(Debug, Default)]
pub struct Template;

#[async_trait]
impl Module for Template {
    const NAME: &'static str = "template";
    const PATH_ARGS: &'static [&'static str] = &["dest"];
    type Args = Args;
    type Plan = WritePlan;

    fn check_args(args: &Args) -> Result<(), String> {
        super::check_owner_group(&args.owner, &args.group)?;
        if args.validate.as_deref().is_some_and(|v| !v.contains("%s")) {
            return Err("`validate` must contain %s (the file to check)".into());
        }
        // ansible-core reads the escaped spellings (`'\n'` in single quotes) as the characters.
        if args.newline_sequence.as_deref().is_some_and(|n| n != "\n" && n != "\\n") {
            return Err("newline_sequence other than \\n is not supported by prov".into());
        }
        if args.output_encoding.as_deref().is_some_and(|e| !matches!(e.to_ascii_lowercase().as_str(), "utf-8" | "utf8"))
        {
            return Err("output_encoding other than utf-8 is not supported by prov".into());
        }
        Ok(())
    }

    async fn plan(&self, args: &Args, cx: &ModuleCtx<'_>) -> Result<Plan<WritePlan>, ModuleError> {
        if let Some(o) = super::selinux_refused(cx, [&args.seuser, &args.serole, &args.setype, &args.selevel]).await? {
            return Ok(Plan::Ok(o));
        }
        let path = cx
            .files
            .find("templates", &args.src)
            .map_err(|e| ModuleError::Failed(format!("could not find template {}: {e}", args.src)))?;
        let source = std::fs::read_to_string(&path)
            .map_err(|e| ModuleError::Failed(format!("reading template {}: {e}", path.display())))?;
        let overrides =
            prov_core::template::FileOverrides { trim_blocks: args.trim_blocks, lstrip_blocks: args.lstrip_blocks };
        // Includes: the task's directories (each with `templates/` first), then the template's
        // own directory, as Ansible's template module.
        let mut search = cx.files.search_path("templates");
        if let Some(dir) = path.parent() {
            search.extend([dir.join("templates"), dir.to_path_buf()]);
        }
        let mut text = cx
            .vars
            .render_file_with(&source, &search, &overrides)
            .map_err(|e| ModuleError::Failed(format!("{}: {e}", args.src)))?;
        if source.ends_with('\n') && !text.ends_with('\n') {
            text.push('\n');
        }
        // Into a directory `dest`, under the template's own file name (`.j2` kept), as ansible-core.
        let name = args.src.rsplit('/').next();
        let mode = SourceMode::resolve(&args.mode, || super::local_mode(&path));
        let w = Write {
            dest: &args.dest,
            data: super::Content::Bytes(text.into_bytes()),
            attrs: Attrs::new(&mode, &args.owner, &args.group),
            force: args.force,
            src_name: name,
            // ansible-core names its temporary copy of the rendered template here.
            source: Some(path.display().to_string()),
            check_parent: true,
            follow: args.follow,
        };
        preserving(plan_write(cx, w).await, mode)
    }

    async fn apply(&self, args: &Args, plan: WritePlan, cx: &ModuleCtx<'_>) -> Result<Outcome, ModuleError> {
        let attrs = Attrs::new(&plan.mode, &args.owner, &args.group);
        let o = apply_write(cx, &plan, &attrs, args.backup, args.validate.as_deref()).await?;
        write_result(cx, &plan, o).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::files::sha256_hex;
    use crate::testing::*;
    use prov_core::testutil::{DirFiles, FakeConnection, MapVars};
    use serde_json::json;

    fn setup(conn: FakeConnection, check: bool) -> (prov_core::testutil::TestHost, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("motd.j2"), "Welcome to {{ name }}\n").unwrap();
        let mut h = if check { fake_check(conn) } else { fake(conn) };
        h.files = DirFiles(dir.path().to_path_buf());
        h.vars = MapVars(j(json!({"name": "web1"})));
        (h, dir)
    }

    #[tokio::test]
    async fn already_in_state() {
        let st = format!("stat 81a4 644 0 0 6 1 1 1 1 root root\nsum {}\n", sha256_hex(b"Welcome to web1\n"));
        let (h, _d) = setup(FakeConnection::new().on("P=", 0, &st), false);
        let o = run::<Template>(json!({"src": "motd.j2", "dest": "/etc/motd"}), &h.ctx()).await;
        assert!(!o.changed && !o.failed, "{o:?}");
    }

    #[tokio::test]
    async fn drift_renders_and_writes() {
        let st = "stat 81a4 644 0 0 6 1 1 1 1 root root\nsum 00\n";
        let (h, _d) = setup(FakeConnection::new().on("P=", 0, st).with_file("/etc/motd", "Welcome\n"), false);
        let o = run::<Template>(json!({"src": "motd.j2", "dest": "/etc/motd"}), &h.ctx()).await;
        assert!(o.changed && !o.failed, "{o:?}");
        assert_eq!(h.conn.files.lock().unwrap()["/etc/motd"].0, b"Welcome to web1\n".to_vec());
        assert_eq!(o.diffs[0].before, "Welcome\n");
        assert_eq!(o.diffs[0].after, "Welcome to web1\n");
    }

    #[tokio::test]
    async fn absent_and_check_mode() {
        let (h, _d) = setup(FakeConnection::new().on("P=", 0, "absent\n"), true);
        let o = run::<Template>(json!({"src": "motd.j2", "dest": "/etc/motd"}), &h.ctx()).await;
        assert!(o.changed);
        assert_eq!(h.conn.calls().len(), 1, "check mode: the probe only");
        assert!(h.conn.files.lock().unwrap().is_empty());
        assert_eq!(o.diffs[0].after, "Welcome to web1\n");
        // A run into a directory that is missing fails the task, as ansible-core's copy does.
        let (h, _d) = setup(FakeConnection::new().on("P=", 0, "absent\n").on("[ -d /etc ]", 0, "missing\n"), false);
        let o = run::<Template>(json!({"src": "motd.j2", "dest": "/etc/motd"}), &h.ctx()).await;
        assert!(o.failed && o.data.contains_key("checksum"), "{o:?}");
        assert_eq!(o.msg.as_deref(), Some("Destination directory /etc does not exist"));
    }

    #[tokio::test]
    async fn missing_template() {
        let (h, _d) = setup(FakeConnection::new(), false);
        assert!(run_err::<Template>(json!({"src": "nope.j2", "dest": "/x"}), &h.ctx())
            .await
            .contains("could not find"));
    }
}
