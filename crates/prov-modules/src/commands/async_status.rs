//! `async_status`: what a fire-and-forget `async` task (`poll: 0`) has done so far, as
//! ansible-core's module reports it, read from the job's files under `~/.ansible_async` (see
//! prov's `asyncjob`).
//!
//! Arguments (as in Ansible): `jid` (required: the task's `ansible_job_id`), `mode` (`status`,
//! or `cleanup` to remove the job's files).
//!
//! Registers, as ansible-core: while the job runs, `started`, `finished: false`, empty output,
//! `ansible_job_id` and `results_file`; once it ended, the command's own result (`rc`,
//! `stdout`, `stderr`, `cmd`, `start`, `end`, `delta`, failed for a non-zero status) with
//! `finished: true`; `Timeout exceeded` (failed, with `child_pid`) when its `async` seconds ran
//! out; `could not find job` (failed) for an unknown id; `erased` for `cleanup`.
//!
//! ```yaml
//! - command: /opt/app/migrate
//!   async: 600
//!   poll: 0
//!   register: job
//! - async_status: {jid: "{{ job.ansible_job_id }}"}
//!   register: done
//!   until: done.finished
//!   retries: 60
//!   delay: 10
//! ```

use super::command_outcome;
use crate::util::delta;
use async_trait::async_trait;
use minijinja::Value;
use prov_core::asyncjob::valid_jid;
use prov_core::cmd::Sh;
use prov_core::connection::ExecOutput;
use prov_core::module::{Module, ModuleCtx, ModuleError, Outcome, Plan};
use serde::Deserialize;

fn status() -> String {
    "status".into()
}

/// Arguments of `async_status`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    /// The job's id.
    #[serde(deserialize_with = "crate::util::py_text")]
    pub jid: String,
    /// `status` or `cleanup`.
    #[serde(default = "status")]
    pub mode: String,
}

/// The `async_status` module.
#[derive(Debug, Default)]
pub struct AsyncStatus;

/// The fields every answer has (`started`, `finished`, empty output, the id).
fn base(started: bool, finished: bool, jid: &str) -> Outcome {
    let empty = Value::from(Vec::<Value>::new());
    Outcome::ok()
        .with("started", started)
        .with("finished", finished)
        .with("stdout", "")
        .with("stderr", "")
        .with("stdout_lines", empty.clone())
        .with("stderr_lines", empty)
        .with("ansible_job_id", jid)
}

/// `start`/`end` as the runner wrote them → the command's `delta`.
fn elapsed(start: &str, end: &str) -> String {
    let parse = |s: &str| chrono::NaiveDateTime::parse_from_str(s.trim(), "%Y-%m-%d %H:%M:%S%.f").ok();
    match (parse(start), parse(end)) {
        (Some(a), Some(b)) => delta((b - a).to_std().unwrap_or_default()),
        _ => "0:00:00".into(),
    }
}

#[async_trait]
impl Module for AsyncStatus {
    const NAME: &'static str = "async_status";
    type Args = Args;
    type Plan = String;

    fn check_args(a: &Args) -> Result<(), String> {
        if a.mode != "status" && a.mode != "cleanup" {
            return Err(format!("value of mode must be one of: status, cleanup, got: {}", a.mode));
        }
        Ok(())
    }

    async fn plan(&self, a: &Args, cx: &ModuleCtx<'_>) -> Result<Plan<String>, ModuleError> {
        let jid = a.jid.as_str();
        let probe =
            Sh::lit("d=\"$HOME/.ansible_async\"; j=").glued(Sh::quoted(if valid_jid(jid) { jid } else { "-" })).suffix(
                "; D=\"$d/$j.prov\"; printf '%s\\n' \"$d/$j\"; [ -e \"$d/$j\" ] && echo exists; \
             for f in rc start end pid; do printf '%s=%s\\n' \"$f\" \"$(cat -- \"$D/$f\" 2>/dev/null)\"; done; \
             [ -e \"$D/timeout\" ] && echo timeout=yes; true",
            );
        let out = cx.exec(probe).await?;
        let text = out.stdout_str();
        let file = text.lines().next().unwrap_or_default().to_string();
        let exists = valid_jid(jid) && text.lines().nth(1) == Some("exists");
        let field = |n: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(n).and_then(|r| r.strip_prefix('=')))
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        if a.mode == "cleanup" {
            if cx.is_check() {
                return Ok(Plan::Ok(base(false, false, jid).with("erased", file)));
            }
            return Ok(Plan::Change(prov_core::module::Change::new(
                file.clone(),
                prov_core::module::Action::Delete,
                "async job",
                jid,
            )));
        }
        if !exists {
            let mut o = base(true, true, jid).with("results_file", file);
            o.failed = true;
            o.msg = Some("could not find job".into());
            return Ok(Plan::Ok(o));
        }
        let Some(rc) = field("rc") else {
            return Ok(Plan::Ok(base(true, false, jid).with("results_file", file)));
        };
        if field("timeout").is_some() {
            let pid: i64 = field("pid").and_then(|p| p.parse().ok()).unwrap_or_default();
            let mut o = base(true, true, jid).with("results_file", file).with("child_pid", pid);
            o.failed = true;
            o.msg = Some("Timeout exceeded".into());
            return Ok(Plan::Ok(o));
        }
        let dir = format!("{file}.prov");
        let stdout = cx.get(&format!("{dir}/out")).await?.unwrap_or_default();
        let stderr = cx.get(&format!("{dir}/err")).await?.unwrap_or_default();
        let meta: serde_json::Value = cx
            .get(&format!("{dir}/meta.json"))
            .await?
            .and_then(|m| serde_json::from_slice(&m).ok())
            .unwrap_or_default();
        let (start, end) = (field("start").unwrap_or_default(), field("end").unwrap_or_default());
        let out = ExecOutput { rc: rc.parse().unwrap_or(-1), stdout, stderr };
        let o = command_outcome(
            &out,
            meta["strip_empty_ends"].as_bool().unwrap_or(true),
            Value::from(minijinja::value::Serde(meta["cmd"].clone())),
            start.clone(),
            end.clone(),
            elapsed(&start, &end),
        );
        Ok(Plan::Ok(
            o.with("started", true).with("finished", true).with("ansible_job_id", jid).with("results_file", file),
        ))
    }

    async fn apply(&self, a: &Args, file: String, cx: &ModuleCtx<'_>) -> Result<Outcome, ModuleError> {
        if valid_jid(&a.jid) {
            let rm =
                prov_core::cmd::Cmd::new("rm").flag("-rf").operands([format!("{file}.prov"), file.clone()]).build();
            cx.exec(rm).await?;
        }
        Ok(base(false, false, &a.jid).with("erased", file))
    }
}
