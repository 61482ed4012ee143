//! `tempfile`: creates a temporary file or directory on the target, readable only by its owner.
//!
//! Arguments (as in Ansible):
//! - `state`: `file` (default) or `directory`.
//! - `path`: the directory to create it in (default: the target's `$TMPDIR`, else `/tmp`).
//! - `prefix` (default `ansible.`), `suffix` (default empty): around eight random characters;
//!   neither may contain `/`.
//!
//! The name is made on the controller and created on the target in one command that fails if
//! it exists (`set -C` for a file, `mkdir` for a directory) under `umask 077`, so the file is
//! `0600` and the directory `0700`. It always reports `changed`; as in Ansible it is skipped in
//! check mode. Registers `path`, `state`, `mode`, `owner`, `group`, `uid`, `gid`, `size`.
//!
//! ```yaml
//! - tempfile: { state: directory, suffix: build }
//!   register: build_dir
//! - unarchive: { src: app.tgz, dest: "{{ build_dir.path }}" }
//! ```

use super::parse_probe;
use crate::util::{octal, probe_failed};
use async_trait::async_trait;
use prov_core::cmd::Sh;
use prov_core::module::{Action, Change, Module, ModuleCtx, ModuleError, Outcome, Plan};
use serde::Deserialize;
use std::hash::{BuildHasher, Hasher};

fn prefix() -> String {
    "ansible.".into()
}

/// Arguments of `tempfile`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    /// `file` or `directory`.
    #[serde(default)]
    pub state: Option<String>,
    /// Directory to create it in.
    #[serde(default)]
    pub path: Option<String>,
    /// Start of the name.
    #[serde(default = "prefix", deserialize_with = "text")]
    pub prefix: String,
    /// End of the name.
    #[serde(default, deserialize_with = "text")]
    pub suffix: String,
}

fn text<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    <crate::util::Text as Deserialize>::deserialize(d).map(|t| t.0)
}

/// The `tempfile` module.
#[derive(Debug, Default)]
pub struct TempFile;

fn directory(args: &Args) -> bool {
    args.state.as_deref() == Some("directory")
}

/// Eight characters from `[a-z0-9_]`, different on each call.
fn random_part() -> String {
    const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789_";
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    h.write_u128(now.as_nanos());
    h.write_u32(std::process::id());
    let mut n = h.finish();
    (0..8)
        .map(|_| {
            let c = CHARS[(n % CHARS.len() as u64) as usize];
            n /= CHARS.len() as u64;
            c as char
        })
        .collect()
}

/// Creates `name` in the directory (the given one or `$TMPDIR`/`/tmp`) and reports its state.
fn create_command(args: &Args, name: &str) -> Sh {
    let dir = match &args.path {
        Some(p) => Sh::lit("D=").glued(Sh::quoted(p)),
        None => Sh::lit("D=${TMPDIR:-/tmp}"),
    };
    let make = if directory(args) {
        Sh::lit("umask 077 && mkdir -- \"$P\" || exit 1")
    } else {
        Sh::lit("umask 077 && (set -C && : > \"$P\") || exit 1")
    };
    dir.then(Sh::lit("P=\"${D%/}/\"").glued(Sh::quoted(name)))
        .then(make)
        .then(Sh::lit("printf 'path %s\\n' \"$P\""))
        .then(Sh::lit("stat -c 'stat %f %a %u %g %s %Y %X %i %h %U %G' -- \"$P\""))
}

#[async_trait]
impl Module for TempFile {
    const NAME: &'static str = "tempfile";
    const PATH_ARGS: &'static [&'static str] = &["path"];
    type Args = Args;
    type Plan = ();

    fn check_args(args: &Args) -> Result<(), String> {
        match args.state.as_deref() {
            None | Some("file") | Some("directory") => {}
            Some(s) => return Err(format!("state must be file or directory, not {s}")),
        }
        for (what, v) in [("prefix", &args.prefix), ("suffix", &args.suffix)] {
            if v.contains('/') || v.contains('\0') {
                return Err(format!("{what} must be a valid file name component, got '{v}'"));
            }
        }
        Ok(())
    }

    async fn plan(&self, args: &Args, cx: &ModuleCtx<'_>) -> Result<Plan<()>, ModuleError> {
        if cx.is_check() {
            // Ansible's tempfile does not support check mode: it is skipped.
            return Ok(Plan::Ok(Outcome { skipped: true, ..Outcome::ok() }));
        }
        let what = if directory(args) { "directory" } else { "file" };
        Ok(Plan::Change(Change::new((), Action::Create, "file", format!("temporary {what}"))))
    }

    async fn apply(&self, args: &Args, _: (), cx: &ModuleCtx<'_>) -> Result<Outcome, ModuleError> {
        let name = format!("{}{}{}", args.prefix, random_part(), args.suffix);
        let out = cx.exec(create_command(args, &name)).await?;
        if out.rc != 0 {
            let err = out.stderr_str();
            return Ok(Outcome::failed(format!("creating a temporary {name}: {}", err.trim())));
        }
        let text = out.stdout_str();
        let path = text.lines().find_map(|l| l.strip_prefix("path ")).unwrap_or_default().to_string();
        let st = parse_probe(&text).map_err(ModuleError::Failed)?.ok_or_else(|| probe_failed("stat", &out))?;
        Ok(Outcome { changed: true, ..Outcome::ok() }
            .with("gid", st.gid)
            .with("group", st.group.as_str())
            .with("mode", octal(st.mode))
            .with("owner", st.owner.as_str())
            .with("path", path)
            .with("size", st.size)
            .with("state", if directory(args) { "directory" } else { "file" })
            .with("uid", st.uid))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;
    use minijinja::Value;
    use prov_core::module::{args_from_value, CheckMode};
    use serde_json::json;
    use std::os::unix::fs::PermissionsExt;

    // ansible-core 2.19: a file `ansible.XXXXXXXX.x` of mode 0600 and size 0, a directory
    // `p-XXXXXXXX` of mode 0700; state, owner, group, uid, gid registered; always changed.
    #[tokio::test]
    async fn tempfile_creates_private_files_and_directories() {
        let h = LocalHost::new();
        let dir = h.dir.path().display().to_string();
        let o = run::<TempFile>(json!({"path": dir, "suffix": ".x"}), &h.ctx()).await;
        assert!(o.changed && !o.failed, "{o:?}");
        let p = o.data["path"].as_str().unwrap().to_string();
        let name = p.strip_prefix(&format!("{dir}/")).unwrap();
        assert!(name.starts_with("ansible.") && name.ends_with(".x") && name.len() == 18, "{name}");
        assert_eq!(std::fs::metadata(&p).unwrap().permissions().mode() & 0o7777, 0o600);
        assert_eq!((o.data["mode"].as_str(), o.data["state"].as_str()), (Some("0600"), Some("file")));
        assert_eq!(o.data["size"], Value::from(0));
        let o = run::<TempFile>(json!({"path": dir, "state": "directory", "prefix": "p-"}), &h.ctx()).await;
        let d = o.data["path"].as_str().unwrap().to_string();
        assert!(std::fs::metadata(&d).unwrap().is_dir());
        assert_eq!(o.data["mode"].as_str(), Some("0700"));
        assert_ne!(d, p);
        let o = run::<TempFile>(json!({"path": h.path("nope/x")}), &h.ctx()).await;
        assert!(o.failed, "{o:?}");
    }

    #[tokio::test]
    async fn tempfile_is_skipped_in_check_mode() {
        let mut h = LocalHost::new();
        h.mode.check = CheckMode::Check;
        let o = run::<TempFile>(json!({"path": h.dir.path()}), &h.ctx()).await;
        assert!(o.skipped && !o.changed);
        assert_eq!(std::fs::read_dir(h.dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn tempfile_refuses_names_with_slashes() {
        let a: Args = args_from_value(&j(json!({"prefix": "a/b"}))).unwrap();
        assert_eq!(TempFile::check_args(&a).unwrap_err(), "prefix must be a valid file name component, got 'a/b'");
        let a: Args = args_from_value(&j(json!({"state": "link"}))).unwrap();
        assert!(TempFile::check_args(&a).is_err());
        assert_ne!(random_part(), random_part());
    }
}
