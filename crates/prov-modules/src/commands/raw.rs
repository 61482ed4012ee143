//! `raw`: sends a command line to the target's shell as it is, to bootstrap a host or to run
//! what `command` and `shell` do not fit.
//!
//! Arguments (as in Ansible):
//! - the free form (required): the command line, run by `sh` on the target.
//! - `executable`: a shell to run it with instead (`/bin/bash` runs `/bin/bash -c LINE`); split
//!   into words as a shell would, as Ansible pastes it (`/bin/bash -l` is a login shell).
//!
//! Like `shell` it always reports `changed`; a non-zero exit status fails the task. In check mode
//! it is skipped. Unlike `command`/`shell`, `stdout` and `stderr` keep their final newline, as in
//! Ansible. Registers `rc`, `stdout`, `stderr`, `stdout_lines`, `stderr_lines`.
//!
//! `creates`, `removes` and `chdir` are refused: Ansible silently ignores them for `raw`; use
//! `shell` for them.
//!
//! ```yaml
//! - raw: test -e /usr/bin/python3 || (apt-get update && apt-get install -y python3)
//! - raw: echo $BASH_VERSION
//!   args:
//!     executable: /bin/bash
//! ```

use super::{executable_words, run_change};
use async_trait::async_trait;
use minijinja::Value;
use prov_core::cmd::Sh;
use prov_core::connection::ExecOutput;
use prov_core::module::{Module, ModuleCtx, ModuleError, Outcome, Plan};
use serde::Deserialize;

/// Arguments of `raw`.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Args {
    /// The command line (free form).
    #[serde(default, rename = "_raw_params")]
    pub cmd: Option<String>,
    /// Shell to run it with.
    #[serde(default)]
    pub executable: Option<String>,
}

/// The `raw` module.
#[derive(Debug, Default)]
pub struct Raw;

/// The command line to send.
fn line(args: &Args) -> Result<Sh, String> {
    let cmd = args.cmd.as_deref().unwrap_or_default();
    Ok(match &args.executable {
        Some(exe) => executable_words(exe)?.word(Sh::lit("-c")).word(Sh::quoted(cmd)),
        None => Sh::lit("eval").word(Sh::quoted(cmd)),
    })
}

/// Ansible's result for `raw` and `script`: output as it came, final newlines kept.
pub(crate) fn result(out: &ExecOutput) -> Outcome {
    let stdout = out.stdout_str();
    let stderr = out.stderr_str();
    let lines = |s: &str| Value::from(s.lines().map(str::to_string).collect::<Vec<_>>());
    let mut o = Outcome { changed: true, ..Outcome::ok() }
        .with("rc", out.rc)
        .with("stdout", stdout.as_str())
        .with("stdout_lines", lines(&stdout))
        .with("stderr", stderr.as_str())
        .with("stderr_lines", lines(&stderr));
    if out.rc != 0 {
        o.failed = true;
        o.msg = Some("non-zero return code".into());
    }
    o
}

#[async_trait]
impl Module for Raw {
    const NAME: &'static str = "raw";
    const FREE_FORM: Option<&'static str> = Some("_raw_params");
    type Args = Args;
    type Plan = ();

    fn check_args(args: &Args) -> Result<(), String> {
        match &args.cmd {
            Some(c) if !c.trim().is_empty() => {}
            _ => return Err("no command given: write it as the free form (`raw: echo hi`)".into()),
        }
        line(args).map(|_| ())
    }

    async fn plan(&self, args: &Args, _: &ModuleCtx<'_>) -> Result<Plan<()>, ModuleError> {
        Ok(run_change((), args.cmd.as_deref().unwrap_or_default()))
    }

    async fn apply(&self, args: &Args, _: (), cx: &ModuleCtx<'_>) -> Result<Outcome, ModuleError> {
        let out = cx.exec(line(args).map_err(ModuleError::Args)?).await?;
        Ok(result(&out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;
    use prov_core::testutil::FakeConnection;
    use serde_json::json;

    // Expected values from ansible-core 2.19: `raw: echo hi; echo err >&2` registered
    // stdout "hi\n", stdout_lines ["hi"], stderr "err\n"; `raw: exit 3` failed with rc 3 and
    // msg "non-zero return code", changed true.
    #[tokio::test]
    async fn raw_keeps_output_as_it_came() {
        let h = LocalHost::new();
        let o = run::<Raw>(json!({"_raw_params": "echo hi; echo err >&2"}), &h.ctx()).await;
        assert!(o.changed && !o.failed, "{o:?}");
        assert_eq!(o.data["stdout"], Value::from("hi\n"));
        assert_eq!(o.data["stdout_lines"], Value::from(vec!["hi"]));
        assert_eq!(o.data["stderr"], Value::from("err\n"));
        let o = run::<Raw>(json!({"_raw_params": "exit 3"}), &h.ctx()).await;
        assert!(o.failed && o.changed);
        assert_eq!(o.data["rc"], Value::from(3));
        assert_eq!(o.msg.as_deref(), Some("non-zero return code"));
    }

    // ansible-core 2.19: `executable: /bin/bash` with `echo $0; printf 'x\n\n'` gave
    // stdout "/bin/bash\nx\n\n" and stdout_lines ["/bin/bash", "x", ""].
    #[tokio::test]
    async fn raw_runs_with_the_executable_given() {
        let h = LocalHost::new();
        let o =
            run::<Raw>(json!({"_raw_params": "echo $0; printf 'x\\n\\n'", "executable": "/bin/bash"}), &h.ctx()).await;
        assert_eq!(o.data["stdout"], Value::from("/bin/bash\nx\n\n"));
        assert_eq!(o.data["stdout_lines"], Value::from(vec!["/bin/bash", "x", ""]));
    }

    // ansible-core 2.19: `executable: "/bin/bash -l"` with `echo $0; shopt -q login_shell &&
    // echo login` gave stdout_lines ["/bin/bash", "login"].
    #[tokio::test]
    async fn raw_executable_is_split_into_words() {
        let h = LocalHost::new();
        let cmd = "echo $0; shopt -q login_shell && echo login";
        let o = run::<Raw>(json!({"_raw_params": cmd, "executable": "/bin/bash -l"}), &h.ctx()).await;
        assert!(!o.failed, "{o:?}");
        assert_eq!(o.data["stdout_lines"], Value::from(vec!["/bin/bash", "login"]));
        let o = run::<Raw>(json!({"_raw_params": cmd, "executable": "'/bin/ba'sh -l"}), &h.ctx()).await;
        assert_eq!(o.data["stdout_lines"], Value::from(vec!["/bin/bash", "login"]), "quotes group a word");
        // Each word is quoted: shell syntax in `executable` stays text (Ansible would run `y`).
        let o = run::<Raw>(json!({"_raw_params": "z", "executable": "/bin/echo x;y"}), &h.ctx()).await;
        assert_eq!(o.data["stdout"], Value::from("x;y -c z\n"));
        let h = fake(FakeConnection::new());
        let e = run_err::<Raw>(json!({"_raw_params": "x", "executable": "'/bin/bash"}), &h.ctx()).await;
        assert!(e.contains("executable: no closing quotation"), "{e}");
    }

    #[tokio::test]
    async fn raw_is_skipped_in_check_mode() {
        let h = fake_check(FakeConnection::new());
        let o = run::<Raw>(json!({"_raw_params": "reboot"}), &h.ctx()).await;
        assert!(o.skipped && !o.changed);
        assert!(h.conn.calls().is_empty());
    }

    #[tokio::test]
    async fn raw_refuses_what_ansible_would_ignore() {
        let h = fake(FakeConnection::new());
        assert!(unsupported::<Raw>(json!({"_raw_params": "x", "creates": "/x"}), &h.ctx())
            .await
            .starts_with("Unsupported parameters for ("));
        assert!(run_err::<Raw>(json!({}), &h.ctx()).await.contains("no command"));
    }
}
