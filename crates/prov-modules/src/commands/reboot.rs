//! `reboot`: reboots the host and waits until it is back, as ansible-core's action does.
//!
//! Arguments (as in Ansible): `reboot_command` (default `shutdown -r 0 "MSG"`, or `reboot` on
//! Alpine; a first word that is not a path is looked up in `search_paths`), `msg`,
//! `pre_reboot_delay` (seconds, given to shutdown in whole minutes), `post_reboot_delay`
//! (seconds to sleep after the command), `reboot_timeout` (default 600), `boot_time_command`
//! (default `cat /proc/sys/kernel/random/boot_id`), `test_command` (default `whoami`),
//! `connect_timeout` (accepted; each try dials with the connection's own timeout).
//!
//! It reads the boot id, runs the reboot command (a connection lost meanwhile is the reboot
//! starting), then, until `reboot_timeout`, drops the session and reads the boot id again
//! (waiting 1, 2, 4, 8, then 12 seconds and a random fraction between tries) until it
//! changed, then runs `test_command` until it succeeds. The commands run with the task's
//! `become`. Registers `rebooted` and `elapsed` (whole seconds); failures carry ansible-core's
//! words ("Reboot command failed. Error was: '...'", with `start`; "Timed out waiting for last
//! boot time check (timeout=N)"). Check mode registers `rebooted: true` and changes nothing;
//! on a local connection the task fails (it would reboot the controller).
//!
//! ```yaml
//! - reboot:
//!     msg: "kernel upgrade"
//!     reboot_timeout: 900
//! ```

use crate::util::py_int;
use async_trait::async_trait;
use prov_core::cmd::Sh;
use prov_core::facts::{self, Collector};
use prov_core::module::{Action, Change, Module, ModuleCtx, ModuleError, Outcome, Plan};
use serde::Deserialize;
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

/// Arguments of `reboot` (numbers, or text Python's `int()` reads).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    /// Command that prints the boot's identity.
    #[serde(default, deserialize_with = "crate::util::stringish")]
    pub boot_time_command: Option<String>,
    /// Accepted; each try dials with the connection's own timeout.
    #[serde(default, deserialize_with = "crate::util::stringish")]
    pub connect_timeout: Option<String>,
    /// Message given to `shutdown`.
    #[serde(default, deserialize_with = "crate::util::stringish")]
    pub msg: Option<String>,
    /// Seconds to wait after the reboot command.
    #[serde(default, deserialize_with = "crate::util::stringish")]
    pub post_reboot_delay: Option<String>,
    /// Seconds before the reboot (shutdown's delay, in minutes).
    #[serde(default, deserialize_with = "crate::util::stringish")]
    pub pre_reboot_delay: Option<String>,
    /// The command that reboots.
    #[serde(default, deserialize_with = "crate::util::stringish")]
    pub reboot_command: Option<String>,
    /// Seconds for the host to come back, for each of the two waits.
    #[serde(default, deserialize_with = "crate::util::stringish")]
    pub reboot_timeout: Option<String>,
    /// Where to look for the reboot command.
    #[serde(default, deserialize_with = "crate::util::str_list")]
    pub search_paths: Option<Vec<String>>,
    /// The command that proves the host is up.
    #[serde(default, deserialize_with = "crate::util::stringish")]
    pub test_command: Option<String>,
}

/// The `reboot` module.
#[derive(Debug, Default)]
pub struct Reboot;

const DEFAULT_SEARCH_PATHS: [&str; 5] = ["/sbin", "/bin", "/usr/sbin", "/usr/bin", "/usr/local/sbin"];

/// A list as Python prints it: `['/sbin', '/bin']`.
fn py_list(items: &[String]) -> String {
    format!("[{}]", items.iter().map(|s| format!("'{s}'")).collect::<Vec<_>>().join(", "))
}

/// What ansible-core's retry loop waits after `fails` failures: 2^fails seconds (at most 12)
/// and a random fraction.
fn backoff(fails: u32) -> Duration {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().subsec_nanos();
    let fraction = f64::from(nanos % 1000) / 1000.0;
    let base = 2f64.powi(fails.min(8) as i32);
    Duration::from_secs_f64(base.min(12.0) + fraction)
}

impl Reboot {
    /// The boot's identity, or the command's failure (`Err(Ok)`) or a lost connection (`Err(Err)`).
    async fn boot_id(cx: &ModuleCtx<'_>, cmd: &str) -> Result<String, Result<(i32, String, String), String>> {
        match cx.exec(Sh::authored(cmd)).await {
            Ok(out) if out.rc == 0 => Ok(out.stdout_str().trim().to_string()),
            Ok(out) => Err(Ok((out.rc, out.stdout_str(), out.stderr_str()))),
            Err(e) => Err(Err(e.to_string())),
        }
    }

    /// Runs `attempt` until it succeeds or `timeout` passes (ansible-core's
    /// `do_until_success_or_timeout`), dropping the session after each failure.
    async fn until<F, Fut>(cx: &ModuleCtx<'_>, timeout: u64, what: &str, mut attempt: F) -> Result<(), String>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<(), String>>,
    {
        let end = Instant::now() + Duration::from_secs(timeout);
        let mut fails = 0;
        while Instant::now() < end {
            if attempt().await.is_ok() {
                return Ok(());
            }
            cx.conn.reconnect().await;
            tokio::time::sleep(backoff(fails)).await;
            fails += 1;
        }
        Err(format!("Timed out waiting for {what} (timeout={timeout})"))
    }

    /// The reboot command: the first word found in the search paths when it is not a path.
    async fn command(
        a: &Args,
        cx: &ModuleCtx<'_>,
        distribution: &str,
        delay: i64,
    ) -> Result<Result<String, String>, ModuleError> {
        let (bin, args) = match &a.reboot_command {
            Some(c) => match c.split_once(' ') {
                Some((b, rest)) => (b.to_string(), rest.to_string()),
                None => (c.clone(), String::new()),
            },
            None if distribution == "alpine" => ("reboot".to_string(), String::new()),
            None => {
                let msg = a.msg.clone().unwrap_or_else(|| "Reboot initiated by Ansible".into());
                let form = if distribution == "void" { "-r +" } else { "-r " };
                ("shutdown".to_string(), format!("{form}{} \"{msg}\"", delay / 60))
            }
        };
        if bin.starts_with('/') {
            return Ok(Ok(format!("{bin} {args}")));
        }
        let paths: Vec<String> = match &a.search_paths {
            Some(l) => l.clone(),
            None => DEFAULT_SEARCH_PATHS.iter().map(|s| s.to_string()).collect(),
        };
        // ansible-core looks through the find module: each path's `~` and `$VAR` expanded
        // (its `elements: path`), an empty one skipped.
        let mut find = Sh::lit("for d in");
        for p in paths.iter().filter(|p| !p.is_empty()) {
            let p = if p.starts_with('~') || p.contains('$') { cx.expand_path(p).await? } else { p.clone() };
            find = find.word(Sh::quoted(&p));
        }
        let find = find
            .suffix("; do [ -e \"$d\"/")
            .glued(Sh::quoted(&bin))
            .suffix(" ] && { printf '%s\\n' \"$d\"; break; }; done");
        let out = cx.exec(find).await?;
        Ok(match out.stdout_str().lines().next() {
            Some(dir) => Ok(format!("{}/{bin} {args}", dir.trim_end_matches('/'))),
            None => Err(format!("Task failed: Unable to find command \"{bin}\" in search paths: {}", py_list(&paths))),
        })
    }

    async fn reboot(&self, a: &Args, cx: &ModuleCtx<'_>) -> Result<Outcome, ModuleError> {
        let num = |v: &Option<String>, d: i64| py_int(v, d).map_err(ModuleError::Args);
        let (pre, post) = (num(&a.pre_reboot_delay, 0)?.max(0), num(&a.post_reboot_delay, 0)?.max(0));
        let timeout = num(&a.reboot_timeout, 600)?.max(0) as u64;
        let collectors: BTreeSet<Collector> = [Collector::Distribution].into_iter().collect();
        let found = facts::parse(&collectors, &cx.exec(facts::command(&collectors)).await?.stdout_str());
        let distribution = found.get("distribution").and_then(|v| v.as_str()).unwrap_or_default().to_lowercase();
        let boot_cmd = a
            .boot_time_command
            .clone()
            .filter(|c| !c.is_empty())
            .unwrap_or_else(|| "cat /proc/sys/kernel/random/boot_id".into());
        let previous = match Self::boot_id(cx, &boot_cmd).await {
            Ok(id) => id,
            Err(e) => {
                let msg = match e {
                    Ok((rc, out, err)) => {
                        format!("reboot: failed to get host boot time info, rc: {rc}, stdout: {out}, stderr: {err}")
                    }
                    Err(lost) => lost,
                };
                return Ok(Outcome::failed(msg).with("reboot", false));
            }
        };
        let command = match Self::command(a, cx, &distribution, pre).await? {
            Ok(c) => c,
            Err(msg) => return Ok(Outcome::failed(msg)),
        };
        // A connection lost during the command is the reboot under way (rc 0).
        let ran = cx.exec(Sh::authored(&command)).await.ok();
        let start = Instant::now();
        let stamp = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.6f+00:00").to_string();
        if let Some(out) = ran.filter(|o| o.rc != 0) {
            let msg =
                format!("Reboot command failed. Error was: '{}, {}'", out.stdout_str().trim(), out.stderr_str().trim());
            return Ok(Outcome::failed(msg).with("rebooted", false).with("start", stamp).with("elapsed", 0));
        }
        if post > 0 {
            tokio::time::sleep(Duration::from_secs(post as u64)).await;
        }
        let boot_changed = || async {
            match Self::boot_id(cx, &boot_cmd).await {
                Ok(id) if !id.is_empty() && id != previous => Ok(()),
                Ok(_) => Err("boot time has not changed".to_string()),
                Err(_) => Err("the host did not answer".to_string()),
            }
        };
        let test = a.test_command.clone().unwrap_or_else(|| "whoami".into());
        let test_ok = || async {
            match cx.exec(Sh::authored(&test)).await {
                Ok(out) if out.rc == 0 => Ok(()),
                Ok(out) => Err(format!("Test command failed: {} {}", out.stderr_str(), out.stdout_str())),
                Err(e) => Err(e.to_string()),
            }
        };
        let waited = match Self::until(cx, timeout, "last boot time check", boot_changed).await {
            Ok(()) => Self::until(cx, timeout, "post-reboot test command", test_ok).await,
            Err(e) => Err(e),
        };
        let elapsed = start.elapsed().as_secs();
        Ok(match waited {
            Ok(()) => Outcome { changed: true, ..Outcome::ok() }.with("rebooted", true).with("elapsed", elapsed),
            Err(msg) => Outcome::failed(msg).with("rebooted", true).with("elapsed", elapsed),
        })
    }
}

#[async_trait]
impl Module for Reboot {
    const NAME: &'static str = "reboot";
    type Args = Args;
    type Plan = ();

    fn check_args(a: &Args) -> Result<(), String> {
        for v in [&a.connect_timeout, &a.post_reboot_delay, &a.pre_reboot_delay, &a.reboot_timeout] {
            py_int::<i64>(v, 0)?;
        }
        Ok(())
    }

    async fn plan(&self, _a: &Args, cx: &ModuleCtx<'_>) -> Result<Plan<()>, ModuleError> {
        if cx.conn.is_local() {
            let msg = "Running reboot with local connection would reboot the control node.";
            return Ok(Plan::Ok(Outcome::failed(msg).with("elapsed", 0).with("rebooted", false)));
        }
        if cx.is_check() {
            let o = Outcome { changed: true, ..Outcome::ok() };
            return Ok(Plan::Ok(o.with("elapsed", 0).with("rebooted", true)));
        }
        Ok(Plan::Change(Change::new((), Action::Run, "host", "reboot")))
    }

    async fn apply(&self, a: &Args, _: (), cx: &ModuleCtx<'_>) -> Result<Outcome, ModuleError> {
        self.reboot(a, cx).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// ansible-core finds the command through the find module: an empty search path is skipped,
    /// `$VAR` in one is expanded on the host.
    #[tokio::test]
    async fn search_paths_are_read_as_the_find_module_reads_them() {
        let h = crate::testing::fake(
            prov_core::testutil::FakeConnection::new().on("env -0", 0, "HOME=/root\0SB=/usr/sbin\0").on(
                "for d in",
                0,
                "/usr/sbin\n",
            ),
        );
        let a: Args = serde_json::from_value(serde_json::json!({"search_paths": ["", "$SB"]})).expect("args");
        let c = Reboot::command(&a, &h.ctx(), "debian", 0).await.expect("runs");
        assert_eq!(c.as_deref(), Ok("/usr/sbin/shutdown -r 0 \"Reboot initiated by Ansible\""));
        let calls = h.conn.calls();
        let find = calls.iter().find(|c| c.starts_with("for d in")).expect("the lookup");
        assert!(find.starts_with("for d in /usr/sbin;"), "{find}");
    }

    #[test]
    fn retries_wait_as_ansible_core_waits() {
        let secs = |n| backoff(n).as_secs_f64();
        assert!((1.0..2.0).contains(&secs(0)) && (2.0..3.0).contains(&secs(1)) && (8.0..9.0).contains(&secs(3)));
        assert!((12.0..13.0).contains(&secs(4)) && (12.0..13.0).contains(&secs(30)));
        assert_eq!(py_list(&["/sbin".into(), "/bin".into()]), "['/sbin', '/bin']");
    }
}
