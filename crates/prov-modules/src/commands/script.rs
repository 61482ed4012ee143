//! `script`: copies a script from the controller to the target and runs it there.
//!
//! Arguments (as in Ansible):
//! - `cmd` (or the free form, required): the script's path on the controller (looked up in the
//!   role's `files/`, then next to the playbook), then its arguments, which the target's shell
//!   reads (quotes, `$VAR`).
//! - `creates`: a path on the target; when it exists the script is not run.
//! - `removes`: a path on the target; when it does not exist the script is not run.
//! - `chdir`: directory to run it in.
//! - `executable`: program to run it with (`/bin/bash`, `python3`), instead of running the
//!   script itself (which then needs its `#!` line). Split into words as a shell would, as
//!   Ansible pastes it: `/bin/bash -l` is a program and its option.
//!
//! The script goes into a private temporary directory (`mktemp -d` under `umask 077`, mode
//! `0700`), runs, and the directory is removed in the same command, whatever the exit status.
//! It reports `changed` when it runs and fails on a non-zero exit status. In check mode it is
//! skipped, or, as in Ansible, reported `changed` when `creates`/`removes` say it would run. As in Ansible, `stdout`
//! and `stderr` keep their final newline. Registers `rc`, `stdout`, `stderr`, `stdout_lines`,
//! `stderr_lines`.
//!
//! ```yaml
//! - script: scripts/bootstrap.sh --role web
//!   args:
//!     creates: /etc/bootstrap.done
//! - script:
//!     cmd: migrate.py --dry-run
//!     executable: python3
//!     chdir: /srv/app
//! ```

use super::raw::result;
use super::{executable_words, run_change, split_words};
use crate::util::probe_failed;
use async_trait::async_trait;
use prov_core::cmd::Sh;
use prov_core::module::{InCheck, Module, ModuleCtx, ModuleError, Outcome, Plan};
use serde::Deserialize;

/// Arguments of `script`.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Args {
    /// Script path and arguments.
    #[serde(default, alias = "_raw_params")]
    pub cmd: Option<String>,
    /// Skip when this path exists.
    #[serde(default)]
    pub creates: Option<String>,
    /// Skip when this path does not exist.
    #[serde(default)]
    pub removes: Option<String>,
    /// Directory to run in.
    #[serde(default)]
    pub chdir: Option<String>,
    /// Program to run the script with.
    #[serde(default)]
    pub executable: Option<String>,
}

/// The `script` module.
#[derive(Debug, Default)]
pub struct Script;

/// The script's path (unquoted) and the rest of the line as the user wrote it.
fn split_cmd(cmd: &str) -> Result<(String, String), String> {
    let cmd = cmd.trim_start();
    let mut quote: Option<char> = None;
    let mut escaped = false;
    let mut end = cmd.len();
    for (i, c) in cmd.char_indices() {
        match (quote, c) {
            _ if escaped => escaped = false,
            (Some('\''), '\'') | (Some('"'), '"') => quote = None,
            (Some('"'), '\\') | (None, '\\') => escaped = true,
            (None, '\'' | '"') => quote = Some(c),
            (None, c) if c.is_whitespace() => {
                end = i;
                break;
            }
            _ => {}
        }
    }
    let first = split_words(&cmd[..end])?;
    match first.as_slice() {
        [path] if !path.is_empty() => Ok((path.clone(), cmd[end..].trim().to_string())),
        _ => Err("no script given: write its path first in `cmd` or the free form".into()),
    }
}

/// Whether `creates`/`removes` say the script must not run: Ansible's message if so.
async fn guard(args: &Args, cx: &ModuleCtx<'_>) -> Result<Option<String>, ModuleError> {
    let mut cmd = Sh::default();
    if let Some(c) = &args.creates {
        cmd = cmd.then(Sh::lit("if [ -e").word(Sh::quoted(c)).word(Sh::lit("]; then echo creates; fi")));
    }
    if let Some(r) = &args.removes {
        cmd = cmd.then(Sh::lit("if [ ! -e").word(Sh::quoted(r)).word(Sh::lit("]; then echo removes; fi")));
    }
    if cmd.as_str().is_empty() {
        return Ok(None);
    }
    let out = cx.exec(cmd).await?;
    if out.rc != 0 {
        return Err(probe_failed("checking creates/removes", &out));
    }
    let text = out.stdout_str();
    if let (Some(c), true) = (&args.creates, text.lines().any(|l| l == "creates")) {
        return Ok(Some(format!("{c} exists, matching creates option")));
    }
    if let (Some(r), true) = (&args.removes, text.lines().any(|l| l == "removes")) {
        return Ok(Some(format!("{r} does not exist, matching removes option")));
    }
    Ok(None)
}

#[async_trait]
impl Module for Script {
    const NAME: &'static str = "script";
    const FREE_FORM: Option<&'static str> = Some("cmd");
    type Args = Args;
    /// The script's bytes, its file name and the arguments' shell text.
    type Plan = (Vec<u8>, String, String);

    fn check_args(args: &Args) -> Result<(), String> {
        if let Some(exe) = &args.executable {
            executable_words(exe)?;
        }
        split_cmd(args.cmd.as_deref().unwrap_or_default()).map(|_| ())
    }

    async fn plan(&self, args: &Args, cx: &ModuleCtx<'_>) -> Result<Plan<Self::Plan>, ModuleError> {
        let cmd = args.cmd.as_deref().unwrap_or_default();
        let (path, rest) = split_cmd(cmd).map_err(ModuleError::Args)?;
        let local = cx
            .files
            .find("files", &path)
            .map_err(|e| ModuleError::Failed(format!("Could not find or access '{path}': {e}")))?;
        let data = std::fs::read(&local)
            .map_err(|e| ModuleError::Failed(format!("Could not find or access '{path}': {e}")))?;
        if let Some(msg) = guard(args, cx).await? {
            return Ok(Plan::Ok(Outcome { skipped: true, msg: Some(msg), ..Outcome::ok() }));
        }
        let name = local.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "script".into());
        let mut plan = run_change((data, name, rest), cmd);
        if let Plan::Change(ch) = &mut plan {
            if args.creates.is_some() || args.removes.is_some() {
                // As in Ansible: with creates/removes, check mode reports the run as a change.
                ch.in_check = InCheck::Changed;
            }
        }
        Ok(plan)
    }

    async fn apply(
        &self,
        args: &Args,
        (data, name, rest): Self::Plan,
        cx: &ModuleCtx<'_>,
    ) -> Result<Outcome, ModuleError> {
        let exe = args.executable.as_deref().map(executable_words).transpose().map_err(ModuleError::Args)?;
        let out = cx.exec(Sh::lit("umask 077 && mktemp -d \"${TMPDIR:-/tmp}/prov-script.XXXXXXXX\"")).await?;
        if out.rc != 0 {
            return Err(probe_failed("creating a private directory for the script", &out));
        }
        let dir = out.stdout_str().trim().to_string();
        let remote = format!("{dir}/{name}");
        if let Err(e) = cx.put(&remote, &data, Some(0o700)).await {
            let _ = cx.exec(Sh::lit("rm -rf --").word(Sh::quoted(&dir))).await;
            return Err(e);
        }
        // The arguments are shell text, as in Ansible: the program and the script's path (quoted)
        // and the arguments as written are values handed to `eval`, which joins them with spaces.
        let program = match exe {
            Some(exe) => exe.word(Sh::quoted(&remote)),
            None => Sh::quoted(&remote),
        };
        let mut line = Sh::lit("eval").word(Sh::quoted(program.as_str()));
        if !rest.is_empty() {
            line = line.word(Sh::quoted(&rest));
        }
        let mut run = Sh::default();
        if let Some(d) = &args.chdir {
            run = run.then(Sh::lit("cd --").word(Sh::quoted(d)).suffix(" && "));
        }
        let run = run
            .glued(line)
            .then(Sh::lit("rc=$?"))
            .then(Sh::lit("rm -rf --").word(Sh::quoted(&dir)))
            .then(Sh::lit("exit $rc"));
        let out = cx.exec(run).await?;
        Ok(result(&out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;
    use minijinja::Value;
    use prov_core::testutil::FakeConnection;
    use serde_json::json;

    #[test]
    fn script_splits_its_path_from_the_arguments() {
        assert_eq!(split_cmd("s.sh a 'b c'").unwrap(), ("s.sh".into(), "a 'b c'".into()));
        assert_eq!(split_cmd("'my script.sh' $HOME").unwrap(), ("my script.sh".into(), "$HOME".into()));
        assert_eq!(split_cmd("  s.sh").unwrap(), ("s.sh".into(), String::new()));
        assert!(split_cmd("").is_err());
    }

    // What ansible-core 2.19 registered for `script: s.sh a 'b c'` with this script (`-c local`,
    // run from the script's directory).
    #[tokio::test]
    async fn script_runs_in_a_private_directory_and_cleans_up() {
        let h = LocalHost::new();
        std::fs::write(h.path("s.sh"), "#!/bin/sh\necho \"args:$*\"; pwd; echo e >&2\n").unwrap();
        let d = h.dir.path().display().to_string();
        let o = run::<Script>(json!({"cmd": "s.sh a 'b c'", "chdir": d}), &h.ctx()).await;
        assert!(o.changed && !o.failed, "{o:?}");
        assert_eq!(o.data["stdout"], Value::from(format!("args:a b c\n{d}\n")));
        assert_eq!(o.data["stderr"], Value::from("e\n"));
        assert_eq!(o.data["stdout_lines"], Value::from(vec!["args:a b c".to_string(), d.clone()]));
        let log = h.conn.log.lock().unwrap().clone();
        let put = log.iter().find_map(|l| l.strip_prefix("put ")).expect("uploaded").to_string();
        assert!(put.contains("/prov-script.") && put.ends_with("/s.sh"), "{put}");
        assert!(!std::path::Path::new(&put).parent().unwrap().exists(), "the private directory is removed");
        let o = run::<Script>(json!({"cmd": "s.sh y", "executable": "/bin/bash"}), &h.ctx()).await;
        assert!(o.data["stdout"].as_str().unwrap().starts_with("args:y\n"));
        std::fs::write(h.path("f.sh"), "exit 3\n").unwrap();
        let o = run::<Script>(json!({"cmd": "f.sh", "executable": "sh"}), &h.ctx()).await;
        assert!(o.failed && o.changed);
        assert_eq!(o.data["rc"], Value::from(3));
    }

    // ansible-core 2.19: `executable: "/bin/bash -l"` with a script printing `$1` and `login`
    // when `shopt -q login_shell` printed "arg1" and "login": the words of `executable` are
    // pasted as words, not quoted as one program name.
    #[tokio::test]
    async fn script_executable_is_split_into_words() {
        let h = LocalHost::new();
        std::fs::write(h.path("s.sh"), "echo \"$1\"; shopt -q login_shell && echo login\n").unwrap();
        let o = run::<Script>(json!({"cmd": "s.sh arg1", "executable": "/bin/bash -l"}), &h.ctx()).await;
        assert!(!o.failed, "{o:?}");
        assert_eq!(o.data["stdout_lines"], Value::from(vec!["arg1", "login"]));
        let o = run::<Script>(json!({"cmd": "s.sh x", "executable": "'/bin/ba'sh -l"}), &h.ctx()).await;
        assert_eq!(o.data["stdout_lines"], Value::from(vec!["x", "login"]), "quotes group a word");
        // Each word is quoted: shell syntax in `executable` stays text (Ansible would run `y`).
        let o = run::<Script>(json!({"cmd": "s.sh", "executable": "/bin/echo x;y"}), &h.ctx()).await;
        assert!(!o.failed && o.data["stdout"].as_str().unwrap().starts_with("x;y /"), "{o:?}");
    }

    // ansible-core 2.19: `creates: /tmp` gave skipped, changed false, msg "/tmp exists,
    // matching creates option".
    #[tokio::test]
    async fn script_creates_and_removes_skip_it() {
        let h = LocalHost::new();
        std::fs::write(h.path("s.sh"), "echo ran\n").unwrap();
        let o = run::<Script>(json!({"cmd": "s.sh x", "creates": "/tmp"}), &h.ctx()).await;
        assert!(o.skipped && !o.changed, "{o:?}");
        assert_eq!(o.msg.as_deref(), Some("/tmp exists, matching creates option"));
        let o = run::<Script>(json!({"cmd": "s.sh", "removes": h.path("nope")}), &h.ctx()).await;
        assert_eq!(o.msg, Some(format!("{} does not exist, matching removes option", h.path("nope"))));
        let e = run_err::<Script>(json!({"cmd": "nope.sh"}), &h.ctx()).await;
        assert!(e.contains("Could not find or access 'nope.sh'"), "{e}");
    }

    #[tokio::test]
    async fn script_is_skipped_in_check_mode() {
        let mut h = LocalHost::new();
        std::fs::write(h.path("s.sh"), "touch ran\n").unwrap();
        h.mode.check = prov_core::module::CheckMode::Check;
        let o = run::<Script>(json!({"cmd": "s.sh"}), &h.ctx()).await;
        assert!(o.skipped && !o.changed);
        assert!(h.conn.log.lock().unwrap().is_empty());
        // ansible-core 2.19 reported `changed` in check mode when `creates` says it would run.
        let o = run::<Script>(json!({"cmd": "s.sh", "creates": h.path("nope")}), &h.ctx()).await;
        assert!(o.changed && !o.skipped, "{o:?}");
        assert!(!h.dir.path().join("ran").exists());
        let f = fake_check(FakeConnection::new());
        assert!(unsupported::<Script>(json!({"cmd": "s.sh", "decrypt": true}), &f.ctx())
            .await
            .starts_with("Unsupported parameters for ("));
    }

    #[tokio::test]
    async fn script_hostile_names_chdir_and_guards_are_data() {
        let h = LocalHost::new();
        let marker = pwned_marker("script");
        for name in hostile_values(&marker) {
            let dir = h.path(&name);
            std::fs::create_dir_all(&dir).unwrap();
            let file = format!("{}.sh", name.replace('/', "_"));
            std::fs::write(h.path(&file), "pwd\n").unwrap();
            let cmd = Sh::quoted(&file).to_string();
            let args = json!({"cmd": cmd, "chdir": dir, "creates": format!("{dir}.none"), "removes": dir});
            let o = run::<Script>(args, &h.ctx()).await;
            assert!(o.changed && !o.failed, "{name:?}: {o:?}");
            assert_eq!(o.data["stdout"], Value::from(format!("{dir}\n")), "{name:?}: ran in chdir");
            let o = run::<Script>(json!({"cmd": cmd, "executable": "sh", "creates": dir}), &h.ctx()).await;
            assert!(o.skipped, "{name:?}: {o:?}");
        }
        assert!(!std::path::Path::new(&marker).exists(), "a hostile name ran as shell");
    }
}
