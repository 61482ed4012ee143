//! `shell`: runs a command line through the target's shell (`/bin/sh` unless `executable`).
//!
//! Arguments (as in Ansible): `cmd` (free form), `chdir`, `creates`, `removes`, `stdin`,
//! `stdin_add_newline` (default true), `executable` (e.g. `/bin/bash`), `strip_empty_ends`.
//! Like `command`, it reports `changed` whenever it runs and is skipped in check mode.
//! Registers `rc`, `stdout`, `stderr`, `stdout_lines`, `stderr_lines`, `cmd`, `delta`.
//!
//! ```yaml
//! - shell: ls /etc | grep -c conf > /tmp/count
//! - shell:
//!     cmd: set -o pipefail; curl -fsS https://example.org/install.sh | sh
//!     executable: /bin/bash
//!     creates: /usr/local/bin/tool
//! ```

use super::{command_change, execute, guard, no_guards};
use async_trait::async_trait;
use minijinja::Value;
use prov_core::args::lenient_bool;
use prov_core::cmd::{Cmd, Sh};
use prov_core::module::{Background, Module, ModuleCtx, ModuleError, Outcome, Plan};
use serde::Deserialize;

fn yes() -> bool {
    true
}

/// Arguments of `shell`.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Args {
    /// The shell command line.
    #[serde(default, alias = "_raw_params")]
    pub cmd: Option<String>,
    /// Directory to run in.
    #[serde(default)]
    pub chdir: Option<String>,
    /// Skip when this path exists.
    #[serde(default)]
    pub creates: Option<String>,
    /// Skip when this path does not exist.
    #[serde(default)]
    pub removes: Option<String>,
    /// Standard input.
    #[serde(default)]
    pub stdin: Option<String>,
    /// Append a newline to `stdin`.
    #[serde(default = "yes", deserialize_with = "lenient_bool")]
    pub stdin_add_newline: bool,
    /// Shell to use instead of `/bin/sh`.
    #[serde(default)]
    pub executable: Option<String>,
    /// Remove the trailing line ends of stdout and stderr.
    #[serde(default = "yes", deserialize_with = "lenient_bool")]
    pub strip_empty_ends: bool,
}

/// The `shell` module.
#[derive(Debug, Default)]
pub struct Shell;

#[async_trait]
impl Module for Shell {
    const NAME: &'static str = "shell";
    const PATH_ARGS: &'static [&'static str] = &["chdir", "creates", "removes", "executable"];
    const FREE_FORM: Option<&'static str> = Some("cmd");
    type Args = Args;
    type Plan = ();

    fn check_args(args: &Args) -> Result<(), String> {
        match &args.cmd {
            Some(c) if !c.trim().is_empty() => Ok(()),
            _ => Err("no command given: use `cmd` or the free form".into()),
        }
    }

    async fn plan(&self, args: &Args, cx: &ModuleCtx<'_>) -> Result<Plan<()>, ModuleError> {
        let cmd = args.cmd.clone().unwrap_or_default();
        if let Some(o) =
            guard(cx, args.chdir.as_deref(), args.creates.as_deref(), args.removes.as_deref(), &cmd).await?
        {
            return Ok(Plan::Ok(o));
        }
        let guarded = args.creates.is_some() || args.removes.is_some();
        Ok(command_change((), &cmd, Value::from(cmd.as_str()), guarded))
    }

    fn background(args: &Args) -> Option<Result<Background, String>> {
        Some(no_guards(args.creates.as_deref(), args.removes.as_deref(), args.stdin.as_deref()).map(|()| Background {
            line: line(args).into(),
            shown: Value::from(args.cmd.clone().unwrap_or_default()),
            strip_empty_ends: args.strip_empty_ends,
        }))
    }

    async fn apply(&self, args: &Args, _: (), cx: &ModuleCtx<'_>) -> Result<Outcome, ModuleError> {
        let cmd = args.cmd.clone().unwrap_or_default();
        execute(
            cx,
            line(args).into(),
            args.stdin.as_deref(),
            args.stdin_add_newline,
            args.strip_empty_ends,
            Value::from(cmd),
        )
        .await
    }
}

/// The command line: `cd` to `chdir`, then the command (through `executable` if given).
fn line(args: &Args) -> Sh {
    let cmd = args.cmd.clone().unwrap_or_default();
    let cd = match &args.chdir {
        Some(d) => Cmd::new("cd").operand(d).build().suffix(" || exit 1\n"),
        None => Sh::default(),
    };
    let run = match &args.executable {
        Some(sh) => Sh::lit("exec").word(Sh::quoted(sh)).word(Sh::lit("-c")).word(Sh::quoted(&cmd)),
        None => Sh::authored(&cmd),
    };
    cd.glued(run)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;
    use prov_core::testutil::FakeConnection;
    use serde_json::json;

    #[tokio::test]
    async fn runs_through_the_shell() {
        let h = fake(FakeConnection::new().on("ls | wc", 0, "3\n"));
        let o = run::<Shell>(json!({"cmd": "ls | wc -l"}), &h.ctx()).await;
        assert!(o.changed && !o.failed);
        assert_eq!(h.conn.calls(), vec!["ls | wc -l"]);
        assert_eq!(o.data["stdout"].as_str(), Some("3"));
        assert_eq!(o.data["cmd"].as_str(), Some("ls | wc -l"));
    }

    #[tokio::test]
    async fn executable_and_chdir() {
        let h = fake(FakeConnection::new());
        run::<Shell>(json!({"cmd": "echo $0", "executable": "/bin/bash", "chdir": "/a b"}), &h.ctx()).await;
        assert_eq!(h.conn.calls(), vec!["cd -- '/a b' || exit 1\nexec /bin/bash -c 'echo $0'"]);
    }

    #[tokio::test]
    async fn creates_and_check_mode() {
        let h = fake(FakeConnection::new().on("if ls", 0, "creates=1\n"));
        let o = run::<Shell>(json!({"cmd": "x", "creates": "/x"}), &h.ctx()).await;
        assert!(!o.changed && !o.skipped);
        let h = fake_check(FakeConnection::new().on("if ls", 0, "creates=0\n"));
        let o = run::<Shell>(json!({"cmd": "x", "creates": "/x"}), &h.ctx()).await;
        // ansible-core counts a guarded command that would run as changed in check mode.
        assert!(o.changed && !o.skipped);
        assert_eq!(h.conn.calls().len(), 1, "only the probe ran");
    }

    #[tokio::test]
    async fn failure_has_data() {
        let h = fake(FakeConnection::new().on("false", 1, ""));
        let o = run::<Shell>(json!({"cmd": "false"}), &h.ctx()).await;
        assert!(o.failed);
        assert_eq!(o.msg.as_deref(), Some("non-zero return code"));
    }

    #[tokio::test]
    async fn local_run() {
        let h = LocalHost::new();
        let o =
            run::<Shell>(json!({"cmd": "echo a | tr a b; echo err >&2; pwd", "chdir": h.dir.path()}), &h.ctx()).await;
        let expected = format!("b\n{}", h.dir.path().canonicalize().unwrap().display());
        assert_eq!(o.data["stdout"].as_str(), Some(expected.as_str()));
        assert_eq!(o.data["stderr"].as_str(), Some("err"));
        let o = run::<Shell>(json!({"cmd": "read x; echo \"[$x]\"", "stdin": "v"}), &h.ctx()).await;
        assert_eq!(o.data["stdout"].as_str(), Some("[v]"));
        let o = run::<Shell>(json!({"cmd": "echo ${BASH_VERSION:+bash}", "executable": "bash"}), &h.ctx()).await;
        assert_eq!(o.data["stdout"].as_str(), Some("bash"));
    }

    #[tokio::test]
    async fn shell_chdir_and_executable_are_data_only_the_cmd_is_shell() {
        let h = LocalHost::new();
        let marker = pwned_marker("shell");
        for v in hostile_values(&marker) {
            let dir = h.path(&v);
            std::fs::create_dir_all(&dir).unwrap();
            let o = run::<Shell>(json!({"cmd": "pwd", "chdir": dir}), &h.ctx()).await;
            // ansible-core strips every trailing line end, a directory's own included.
            assert_eq!(o.data["stdout"].as_str(), Some(dir.trim_end_matches(['\r', '\n'])), "{v:?}: {o:?}");
            let o = run::<Shell>(json!({"cmd": "true", "executable": v}), &h.ctx()).await;
            assert!(o.failed, "{v:?}: no such program: {o:?}");
        }
        assert!(!std::path::Path::new(&marker).exists(), "a hostile value ran as shell");
    }
}
