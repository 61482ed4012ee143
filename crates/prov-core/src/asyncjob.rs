//! Fire-and-forget `async` jobs (`poll: 0`) on the target, where ansible-core's async wrapper
//! keeps its own: `~/.ansible_async/JID` says the job started, then that it finished, and
//! `~/.ansible_async/JID.prov/` holds what `async_status` reads: the command (`cmd.sh`), its
//! output (`out`, `err`), `rc`, the `start` and `end` times, `pid`, `timeout` when the `async`
//! seconds ran out (the command's process group is then stopped), and `meta.json` (the result's
//! `cmd` and `strip_empty_ends`). The job runs in sessions of its own: it outlives the run.

use crate::cmd::Sh;
use crate::module::{Background, ModuleCtx, ModuleError, Outcome};
use minijinja::Value;

/// Whether a job id can name a job file (no `/`, no leading `.`: never a path elsewhere).
pub fn valid_jid(jid: &str) -> bool {
    !jid.is_empty()
        && !jid.starts_with('.')
        && jid.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// The job's runner: starts the command in a session of its own, stops it after `$3` seconds,
/// and writes what it did; then it stops what is left of its own session (the watchdog).
/// (`kill -TERM -PID`: dash's `kill` takes no `--`.)
const RUN: &str = r#"D=$1; J=$2; T=$3
now() { date '+%Y-%m-%d %H:%M:%S.%N' | cut -c1-26; }
now > "$D/start"
setsid sh "$D/cmd.sh" > "$D/out" 2> "$D/err" < /dev/null &
c=$!; echo "$c" > "$D/pid"
( sleep "$T"; if kill -0 "$c" 2>/dev/null; then : > "$D/timeout"; kill -TERM -"$c" 2>/dev/null || kill -TERM "$c"; fi ) > /dev/null 2>&1 &
wait "$c"; rc=$?
now > "$D/end"
echo "$rc" > "$D/rc"
printf '{"started": 1, "finished": 1, "ansible_job_id": "%s"}\n' "$J" > "${D%.prov}"
trap '' TERM; kill -TERM -$$ 2>/dev/null
"#;

/// Starts `bg` as job `jid` (at most `secs` seconds); the task's result, as ansible-core's for
/// `poll: 0`: `started`, `finished: false`, `ansible_job_id`, `results_file`, changed.
pub async fn start(cx: &ModuleCtx<'_>, bg: &Background, jid: &str, secs: u64) -> Result<Outcome, ModuleError> {
    if !valid_jid(jid) {
        return Err(ModuleError::Failed(format!("async: invalid job id {jid:?}")));
    }
    let meta = serde_json::json!({"cmd": serde_json::to_value(&bg.shown).unwrap_or_default(), "strip_empty_ends": bg.strip_empty_ends})
        .to_string();
    let mut input = bg.line.clone().into_bytes();
    let cmd_len = input.len();
    input.extend_from_slice(meta.as_bytes());
    input.extend_from_slice(RUN.as_bytes());
    let meta_len = meta.len();
    // The input is the command, the metadata and the runner, cut apart by their lengths.
    let script = Sh::lit("umask 077; d=\"$HOME/.ansible_async\"; j=")
        .glued(Sh::quoted(jid))
        .suffix("; a=")
        .glued(Sh::quoted(&cmd_len.to_string()))
        .suffix("; b=")
        .glued(Sh::quoted(&meta_len.to_string()))
        .suffix(
            "; D=\"$d/$j.prov\"; mkdir -p -- \"$D\" && cat > \"$D/in\" && head -c \"$a\" \"$D/in\" > \"$D/cmd.sh\" \
             && tail -c +$((a + 1)) \"$D/in\" | head -c \"$b\" > \"$D/meta.json\" \
             && tail -c +$((a + b + 1)) \"$D/in\" > \"$D/run.sh\" && rm -f -- \"$D/in\" || exit 1; \
             printf '{\"started\": 1, \"finished\": 0, \"ansible_job_id\": \"%s\"}\\n' \"$j\" > \"$d/$j\" || exit 1; \
             setsid sh \"$D/run.sh\" \"$D\" \"$j\"",
        )
        .word(Sh::quoted(&secs.to_string()))
        .suffix(" > /dev/null 2>&1 < /dev/null & printf '%s\\n' \"$d/$j\"");
    let out = cx.exec_stdin(script, input).await?;
    if out.rc != 0 {
        return Ok(Outcome::failed(format!("async: the job could not start: {}", out.stderr_str().trim())));
    }
    let file = out.stdout_str().trim().to_string();
    Ok(Outcome { changed: true, ..Outcome::ok() }
        .with("started", true)
        .with("finished", false)
        .with("ansible_job_id", jid)
        .with("results_file", Value::from(file)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_ids_never_name_other_paths() {
        assert!(valid_jid("j808317531892.9895"));
        for bad in ["", "../x", ".hidden", "a/b", "j1;rm", "j 1"] {
            assert!(!valid_jid(bad), "{bad}");
        }
    }
}
