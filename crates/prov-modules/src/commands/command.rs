//! `command`: runs a program on the target without a shell (no pipes, redirections or `;`).
//!
//! Arguments (as in Ansible):
//! - `cmd` (free form): the command line, split like a shell would split words.
//! - `argv`: the command as a list (instead of `cmd`).
//! - `chdir`: directory to run in.
//! - `creates`: a path (glob); when it exists the command is not run.
//! - `removes`: a path (glob); when it does not exist the command is not run.
//! - `stdin`: text fed to the command; `stdin_add_newline` (default true) appends a newline.
//! - `expand_argument_vars` (default true): `$VAR` and `~` in arguments are expanded on the target.
//! - `strip_empty_ends` (default true): every trailing line end of stdout and stderr is removed,
//!   as in ansible-core; false keeps the output whole.
//! - `executable`: accepted and not used, with ansible-core's warning (it left `command` in
//!   Ansible 2.4; `shell` has it).
//!
//! It always reports `changed` when it runs (use `changed_when`); in check mode it is skipped,
//! unless `creates`/`removes` already decide that it would not run. Registers `rc`, `stdout`,
//! `stderr`, `stdout_lines`, `stderr_lines`, `cmd`, `delta`.
//!
//! ```yaml
//! - command: /usr/sbin/update-ca-certificates
//! - command:
//!     cmd: tar xzf /tmp/app.tgz
//!     chdir: /opt/app
//!     creates: /opt/app/bin/app
//! - command:
//!     argv: [psql, -c, "select 1"]
//! ```

use super::{command_change, execute, guard, no_guards, split_words};
use async_trait::async_trait;
use minijinja::Value;
use prov_core::args::lenient_bool;
use prov_core::cmd::{Cmd, Sh};
use prov_core::module::{Background, Module, ModuleCtx, ModuleError, Outcome, Plan};
use serde::Deserialize;

fn yes() -> bool {
    true
}

/// Arguments of `command`.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Args {
    /// The command line.
    #[serde(default, alias = "_raw_params")]
    pub cmd: Option<String>,
    /// The command as a list of arguments.
    #[serde(default)]
    pub argv: Option<Vec<String>>,
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
    /// Expand `$VAR` and `~` in arguments.
    #[serde(default = "yes", deserialize_with = "lenient_bool")]
    pub expand_argument_vars: bool,
    /// Remove the trailing line ends of stdout and stderr.
    #[serde(default = "yes", deserialize_with = "lenient_bool")]
    pub strip_empty_ends: bool,
    /// Accepted and not used (a warning says so, as in Ansible).
    #[serde(default, deserialize_with = "crate::util::stringish")]
    pub executable: Option<String>,
}

/// The `command` module.
#[derive(Debug, Default)]
pub struct Command;

impl Args {
    fn words(&self) -> Result<Vec<String>, String> {
        let words = match (&self.cmd, &self.argv) {
            (Some(_), Some(_)) => return Err("`cmd` and `argv` are mutually exclusive".into()),
            (Some(c), None) => split_words(c)?,
            (None, Some(v)) => v.clone(),
            (None, None) => return Err("no command given: use `cmd` (or the free form) or `argv`".into()),
        };
        if words.is_empty() || words[0].is_empty() {
            return Err("the command is empty".into());
        }
        Ok(words)
    }
}

#[async_trait]
impl Module for Command {
    const NAME: &'static str = "command";
    const PATH_ARGS: &'static [&'static str] = &["chdir", "creates", "removes"];
    const FREE_FORM: Option<&'static str> = Some("cmd");
    type Args = Args;
    type Plan = Vec<String>;

    fn check_args(args: &Args) -> Result<(), String> {
        args.words().map(|_| ())
    }

    async fn plan(&self, args: &Args, cx: &ModuleCtx<'_>) -> Result<Plan<Vec<String>>, ModuleError> {
        let words = args.words().map_err(ModuleError::Args)?;
        let shown = words.join(" ");
        if let Some(o) =
            guard(cx, args.chdir.as_deref(), args.creates.as_deref(), args.removes.as_deref(), &shown).await?
        {
            return Ok(Plan::Ok(o.with("cmd", Value::from(words))));
        }
        let guarded = args.creates.is_some() || args.removes.is_some();
        Ok(command_change(words.clone(), &shown, Value::from(words), guarded))
    }

    fn background(args: &Args) -> Option<Result<Background, String>> {
        let run = || -> Result<Background, String> {
            no_guards(args.creates.as_deref(), args.removes.as_deref(), args.stdin.as_deref())?;
            let words = args.words()?;
            Ok(Background {
                line: line(args, &words).into(),
                shown: Value::from(words),
                strip_empty_ends: args.strip_empty_ends,
            })
        };
        Some(run())
    }

    async fn apply(&self, args: &Args, words: Vec<String>, cx: &ModuleCtx<'_>) -> Result<Outcome, ModuleError> {
        let o = execute(
            cx,
            line(args, &words).into(),
            args.stdin.as_deref(),
            args.stdin_add_newline,
            args.strip_empty_ends,
            Value::from(words),
        )
        .await?;
        Ok(match &args.executable {
            Some(e) => o.warn(format!(
                "As of Ansible 2.4, the parameter 'executable' is no longer supported with the 'command' module. Not using '{e}'."
            )),
            None => o,
        })
    }
}

/// The command line: `cd` to `chdir`, then `exec` of the words, each quoted (or expanded,
/// with `expand_argument_vars`).
fn line(args: &Args, words: &[String]) -> Sh {
    let mut line = Sh::default();
    if let Some(d) = &args.chdir {
        line = Cmd::new("cd").operand(d).build().suffix(" || exit 1");
    }
    let quote = |w: &String| if args.expand_argument_vars { Sh::expanding(w) } else { Sh::quoted(w) };
    line.then(words.iter().fold(Sh::lit("exec"), |sh, w| sh.word(quote(w))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;
    use prov_core::testutil::FakeConnection;
    use serde_json::json;

    /// ansible-core's `strip_empty_ends` (default true) removes every trailing line end
    /// (`printf 'a\r\n\n'` registers "a"); false keeps the output whole ("a\n\n", lines
    /// ["a", ""]), as ansible-core 2.19.14 registered them. prov removed one newline either way.
    #[tokio::test]
    async fn strip_empty_ends_removes_every_trailing_line_end() {
        let h = LocalHost::new();
        let o = run::<Command>(json!({"argv": ["printf", "a\r\n\n"]}), &h.ctx()).await;
        assert_eq!((o.data["stdout"].as_str(), o.data["stdout_lines"].len()), (Some("a"), Some(1)));
        let o = run::<Command>(json!({"argv": ["printf", "a\n\n"], "strip_empty_ends": false}), &h.ctx()).await;
        assert_eq!(o.data["stdout"].as_str(), Some("a\n\n"));
        assert_eq!(o.data["stdout_lines"].to_string(), "['a', '']");
    }

    // ansible-core's command module expands `~` and `$VAR` in each word (expand_argument_vars)
    // and nothing else; a bug once left `~/x` literal (the slash was quoted with the rest).
    #[tokio::test]
    async fn a_leading_tilde_expands_to_the_home_directory() {
        let h = LocalHost::new();
        let home = std::env::var("HOME").expect("HOME");
        let o = run::<Command>(json!({"cmd": "printf '%s|' ~/x ~ '~/y' $HOME/z '$(id)'"}), &h.ctx()).await;
        assert_eq!(o.data["stdout"].as_str(), Some(format!("{home}/x|{home}|{home}/y|{home}/z|$(id)|").as_str()));
    }

    #[tokio::test]
    async fn runs_and_reports_changed() {
        let h = fake(FakeConnection::new().on("exec echo", 0, "hi\n"));
        let o = run::<Command>(json!({"cmd": "echo 'a b' $HOME"}), &h.ctx()).await;
        assert!(o.changed && !o.failed);
        assert_eq!(h.conn.calls(), vec!["exec echo 'a b' \"$HOME\""]);
        assert_eq!(o.data["stdout"].as_str(), Some("hi"));
        assert_eq!(o.data["rc"], Value::from(0));
    }

    #[tokio::test]
    async fn non_zero_rc_fails() {
        let h = fake(FakeConnection::new().on("exec false", 3, ""));
        let o = run::<Command>(json!({"argv": ["false"]}), &h.ctx()).await;
        assert!(o.failed && o.changed);
        assert_eq!(o.data["rc"], Value::from(3));
    }

    #[tokio::test]
    async fn creates_skips_when_present() {
        let h = fake(FakeConnection::new().on("cd -- /opt", 0, "creates=1\n"));
        let o = run::<Command>(json!({"cmd": "make", "chdir": "/opt", "creates": "bin/*"}), &h.ctx()).await;
        assert!(!o.changed && !o.failed);
        assert_eq!(o.data["stdout"].as_str(), Some("skipped, since bin/* exists"));
        assert_eq!(h.conn.calls().len(), 1);
    }

    #[tokio::test]
    async fn removes_runs_when_present() {
        let h = fake(FakeConnection::new().on("if ls", 0, "removes=1\n"));
        let o = run::<Command>(json!({"cmd": "rm /tmp/x", "removes": "/tmp/x"}), &h.ctx()).await;
        assert!(o.changed);
        assert_eq!(h.conn.calls()[1], "exec rm /tmp/x");
    }

    #[tokio::test]
    async fn check_mode_skips() {
        let h = fake_check(FakeConnection::new());
        let o = run::<Command>(json!({"cmd": "reboot"}), &h.ctx()).await;
        assert!(o.skipped && !o.changed);
        // ansible-core 2.19's message, which its check_mode target reads.
        assert_eq!(o.msg.as_deref(), Some("Command would have run if not in check mode"));
        assert!(h.conn.calls().is_empty());
    }

    #[tokio::test]
    async fn bad_args() {
        let h = fake(FakeConnection::new());
        assert!(run_err::<Command>(json!({"cmd": "a", "argv": ["b"]}), &h.ctx()).await.contains("mutually"));
        assert!(unsupported::<Command>(json!({"cmd": "a", "shell": true}), &h.ctx())
            .await
            .starts_with("Unsupported parameters for ("));
    }

    #[tokio::test]
    async fn local_run() {
        let h = LocalHost::new();
        std::fs::write(h.path("f"), "x").unwrap();
        let o =
            run::<Command>(json!({"cmd": "cat -", "chdir": h.dir.path(), "stdin": "in put", "removes": "f"}), &h.ctx())
                .await;
        assert_eq!(o.data["stdout"].as_str(), Some("in put"));
        let o = run::<Command>(json!({"cmd": "echo a;b"}), &h.ctx()).await;
        assert_eq!(o.data["stdout"].as_str(), Some("a;b"), "no shell");
        let o = run::<Command>(json!({"cmd": "ls", "chdir": h.dir.path(), "creates": "*"}), &h.ctx()).await;
        assert!(!o.changed);
        let o = run::<Command>(json!({"argv": ["sh", "-c", "exit 4"]}), &h.ctx()).await;
        assert!(o.failed);
    }

    #[tokio::test]
    async fn command_words_chdir_and_guards_are_data_even_with_expansion() {
        let h = LocalHost::new();
        let marker = pwned_marker("command");
        for v in hostile_values(&marker) {
            let dir = h.path(&v);
            std::fs::create_dir_all(&dir).unwrap();
            for expand in [true, false] {
                let args = json!({"argv": ["printf", "%s|", v, "$HOME"], "chdir": dir, "expand_argument_vars": expand,
                                  "creates": format!("{dir}/none*"), "removes": format!("{dir}*")});
                let o = run::<Command>(args, &h.ctx()).await;
                assert!(o.changed && !o.failed, "{v:?}: {o:?}");
                let home = if expand { std::env::var("HOME").unwrap_or_default() } else { "$HOME".into() };
                assert_eq!(o.data["stdout"].as_str(), Some(format!("{v}|{home}|").as_str()), "{v:?}");
            }
            let o = run::<Command>(json!({"argv": ["true"], "creates": format!("{dir}*")}), &h.ctx()).await;
            assert!(!o.changed, "{v:?}: the glob found the directory: {o:?}");
        }
        assert!(!std::path::Path::new(&marker).exists(), "a hostile value ran as shell");
    }
}
