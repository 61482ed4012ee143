//! `wait_for_connection`: waits until prov can reach the host again and run a command there
//! (after a reboot, or for a machine that was just created), as ansible-core's action does.
//!
//! Arguments (as in Ansible): `delay` (seconds before the first try, default 0), `sleep`
//! (seconds between tries, default 1), `timeout` (seconds in all, default 600),
//! `connect_timeout` (default 5; like ansible-core over SSH, it changes nothing: each try dials
//! with the connection's own timeout).
//!
//! Each try drops the host's session, dials again and runs `ping`'s command (`echo pong`); a
//! failure to dial is what it waits out, not an unreachable host. Registers `elapsed` (whole
//! seconds). When `timeout` passes, the task fails with "timed out waiting for ping module
//! test: " and the last error. In check mode it is skipped, as in ansible-core.
//!
//! ```yaml
//! - wait_for_connection:
//!     delay: 5
//!     timeout: 300
//! ```

use crate::util::py_int;
use async_trait::async_trait;
use prov_core::cmd::Sh;
use prov_core::module::{Module, ModuleCtx, ModuleError, Outcome, Plan};
use serde::Deserialize;
use std::time::{Duration, Instant};

/// Arguments of `wait_for_connection` (numbers, or text Python's `int()` reads).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    /// Ignored over SSH, as in ansible-core.
    #[serde(default, deserialize_with = "crate::util::stringish")]
    pub connect_timeout: Option<String>,
    /// Seconds before the first try.
    #[serde(default, deserialize_with = "crate::util::stringish")]
    pub delay: Option<String>,
    /// Seconds between tries.
    #[serde(default, deserialize_with = "crate::util::stringish")]
    pub sleep: Option<String>,
    /// Seconds in all.
    #[serde(default, deserialize_with = "crate::util::stringish")]
    pub timeout: Option<String>,
}

/// The `wait_for_connection` module.
#[derive(Debug, Default)]
pub struct WaitForConnection;

impl WaitForConnection {
    /// One try: a new session and `echo pong`; the error when it did not answer.
    async fn try_once(cx: &ModuleCtx<'_>) -> Result<(), String> {
        cx.conn.reconnect().await;
        match cx.exec(Sh::lit("echo pong")).await {
            Ok(out) if out.rc == 0 && out.stdout_str().trim() == "pong" => Ok(()),
            Ok(_) => Err("ping test failed".into()),
            Err(e) => Err(e.to_string()),
        }
    }
}

#[async_trait]
impl Module for WaitForConnection {
    const NAME: &'static str = "wait_for_connection";
    type Args = Args;
    type Plan = ();

    fn check_args(a: &Args) -> Result<(), String> {
        for (v, d) in [(&a.connect_timeout, 5), (&a.delay, 0), (&a.sleep, 1), (&a.timeout, 600)] {
            py_int::<u64>(v, d)?;
        }
        Ok(())
    }

    async fn plan(&self, a: &Args, cx: &ModuleCtx<'_>) -> Result<Plan<()>, ModuleError> {
        if cx.is_check() {
            return Ok(Plan::Ok(Outcome { skipped: true, ..Outcome::ok() }));
        }
        let delay = py_int(&a.delay, 0).map_err(ModuleError::Args)?;
        let sleep = py_int(&a.sleep, 1).map_err(ModuleError::Args)?;
        let timeout = py_int(&a.timeout, 600).map_err(ModuleError::Args)?;
        let start = Instant::now();
        if delay > 0 {
            tokio::time::sleep(Duration::from_secs(delay)).await;
        }
        let end = Instant::now() + Duration::from_secs(timeout);
        let mut last = String::from("no try was made");
        let mut o = Outcome::ok();
        loop {
            if Instant::now() >= end {
                o = Outcome::failed(format!("timed out waiting for ping module test: {last}"));
                break;
            }
            match Self::try_once(cx).await {
                Ok(()) => break,
                Err(e) => last = e,
            }
            tokio::time::sleep(Duration::from_secs(sleep)).await;
        }
        Ok(Plan::Ok(o.with("elapsed", start.elapsed().as_secs())))
    }

    async fn apply(&self, _: &Args, _: (), _: &ModuleCtx<'_>) -> Result<Outcome, ModuleError> {
        Ok(Outcome::ok())
    }
}
