//! `slurp`: reads a file on the target and returns its bytes base64-encoded.
//!
//! Arguments (as in Ansible): `src` (alias `path`, required): the file; it must be a file, not a
//! directory. Symbolic links are followed.
//!
//! One command reads the file (with the task's `become`). Never changes anything; runs the same
//! in check mode. Registers `content` (base64), `encoding` (`base64`) and `source` (the path).
//! A missing, unreadable or directory `src` fails the task with Ansible's message.
//!
//! ```yaml
//! - slurp: { src: /etc/ssh/ssh_host_ed25519_key.pub }
//!   register: hostkey
//! - debug: msg="{{ hostkey.content | b64decode }}"
//! ```

use crate::util::probe_failed;
use async_trait::async_trait;
use base64::Engine as _;
use prov_core::cmd::Sh;
use prov_core::module::{Module, ModuleCtx, ModuleError, Outcome, Plan};
use serde::Deserialize;

/// Arguments of `slurp`.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Args {
    /// The file on the target.
    #[serde(alias = "path")]
    pub src: String,
}

/// The `slurp` module.
#[derive(Debug, Default)]
pub struct Slurp;

/// What the read found: one word on the first line, then the file's bytes for `content`.
pub(crate) fn read_command(path: &str) -> Sh {
    Sh::lit("P=").glued(Sh::quoted(path)).then(Sh::lit(
        "if [ -d \"$P\" ]; then echo dir; elif [ ! -e \"$P\" ]; then echo absent; \
         elif [ ! -r \"$P\" ]; then echo unreadable; else echo content; cat -- \"$P\" || exit 1; fi",
    ))
}

/// The file's bytes, or Ansible's message for why there are none.
pub(crate) fn parse_read(path: &str, out: &[u8]) -> Result<Vec<u8>, String> {
    let (first, rest) = match out.iter().position(|b| *b == b'\n') {
        Some(i) => (&out[..i], &out[i + 1..]),
        None => (out, &[][..]),
    };
    match first {
        b"content" => Ok(rest.to_vec()),
        b"absent" => Err(format!("File not found: {path}")),
        b"unreadable" => Err(format!("File is not readable: {path}")),
        b"dir" => Err(format!("Source is a directory and must be a file: {path}")),
        _ => Err(format!("Unable to slurp file: {path}")),
    }
}

#[async_trait]
impl Module for Slurp {
    const NAME: &'static str = "slurp";
    const PATH_ARGS: &'static [&'static str] = &["src", "path"];
    type Args = Args;
    type Plan = ();

    fn check_args(args: &Args) -> Result<(), String> {
        if args.src.is_empty() {
            return Err("`src` is empty".into());
        }
        Ok(())
    }

    async fn plan(&self, args: &Args, cx: &ModuleCtx<'_>) -> Result<Plan<()>, ModuleError> {
        let out = cx.exec(read_command(&args.src)).await?;
        if out.rc != 0 {
            return Err(probe_failed(&format!("reading {}", args.src), &out));
        }
        Ok(Plan::Ok(match parse_read(&args.src, &out.stdout) {
            Ok(data) => Outcome::ok()
                .with("content", base64::engine::general_purpose::STANDARD.encode(data))
                .with("encoding", "base64")
                .with("source", args.src.as_str()),
            Err(msg) => Outcome::failed(msg),
        }))
    }

    async fn apply(&self, _: &Args, _: (), _: &ModuleCtx<'_>) -> Result<Outcome, ModuleError> {
        Ok(Outcome::ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;
    use minijinja::Value;
    use serde_json::json;

    // Expected values from ansible-core 2.19 on the same files: "hello\nworld\n" gave content
    // "aGVsbG8Kd29ybGQK"; a missing file and a directory failed with these messages.
    #[tokio::test]
    async fn slurp_returns_base64_content() {
        let mut h = LocalHost::new();
        let p = h.path("s.txt");
        std::fs::write(&p, "hello\nworld\n").unwrap();
        let o = run::<Slurp>(json!({"src": p}), &h.ctx()).await;
        assert!(!o.changed && !o.failed, "{o:?}");
        assert_eq!(o.data["content"], Value::from("aGVsbG8Kd29ybGQK"));
        assert_eq!(o.data["encoding"], Value::from("base64"));
        assert_eq!(o.data["source"], Value::from(p.as_str()));
        let bin = h.path("bin");
        std::fs::write(&bin, b"\xff\x00content\n").unwrap();
        h.mode.check = prov_core::module::CheckMode::Check;
        let o = run::<Slurp>(json!({"path": bin}), &h.ctx()).await;
        assert_eq!(o.data["content"], Value::from("/wBjb250ZW50Cg=="), "binary bytes, in check mode too");
    }

    #[tokio::test]
    async fn slurp_fails_on_missing_files_and_directories() {
        let h = LocalHost::new();
        let p = h.path("nope");
        let o = run::<Slurp>(json!({"src": p}), &h.ctx()).await;
        assert!(o.failed);
        assert_eq!(o.msg, Some(format!("File not found: {p}")));
        let d = h.dir.path().display().to_string();
        let o = run::<Slurp>(json!({"src": d}), &h.ctx()).await;
        assert_eq!(o.msg, Some(format!("Source is a directory and must be a file: {d}")));
    }

    #[test]
    fn slurp_reads_the_first_line_as_the_verdict() {
        assert_eq!(parse_read("/f", b"content\n").unwrap(), b"");
        assert_eq!(parse_read("/f", b"unreadable\n").unwrap_err(), "File is not readable: /f");
        assert!(parse_read("/f", b"").is_err());
    }
}
