//! Commands run inside a new release before the switch: the hooks and the health check.

use prov_core::cmd::{Cmd, Sh};
use prov_core::module::{ModuleCtx, ModuleError};
use serde::Deserialize;
use std::time::Duration;

fn s200() -> u16 {
    200
}
fn three() -> u32 {
    3
}
fn one() -> f64 {
    1.0
}
fn ten() -> u64 {
    10
}

/// The check a new release must pass.
#[derive(Debug, Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct Health {
    /// Command run inside the new release.
    #[serde(default)]
    pub command: Option<String>,
    /// URL fetched from the target.
    #[serde(default)]
    pub url: Option<String>,
    /// Expected HTTP status.
    #[serde(default = "s200")]
    pub status: u16,
    /// Attempts.
    #[serde(default = "three")]
    pub retries: u32,
    /// Seconds between attempts.
    #[serde(default = "one")]
    pub delay: f64,
    /// Seconds per attempt.
    #[serde(default = "ten")]
    pub timeout: u64,
}

/// A release being built: where its commands run, and what they are told.
pub(crate) struct InRelease<'a> {
    /// The app root.
    pub root: &'a str,
    /// The new release's name.
    pub name: &'a str,
    /// The current release's name, if any.
    pub prev: Option<&'a str>,
}

impl InRelease<'_> {
    /// Runs one command inside the new release; `Err` is the failure text.
    pub async fn run(&self, cx: &ModuleCtx<'_>, cmd: &str) -> Result<Result<(), String>, ModuleError> {
        let (root, name) = (self.root, self.name);
        let r = format!("{root}/releases/{name}");
        let prev = self.prev.map(|p| format!("{root}/releases/{p}")).unwrap_or_default();
        let line = Cmd::new("cd").operand(&r).build().and(
            Sh::lit("RELEASE_PATH=")
                .glued(Sh::quoted(&r))
                .word(Sh::lit("RELEASE_NAME=").glued(Sh::quoted(name)))
                .word(Sh::lit("APP_ROOT=").glued(Sh::quoted(root)))
                .word(Sh::lit("PREVIOUS_RELEASE_PATH=").glued(Sh::quoted(&prev)))
                .word(Cmd::new("sh").opt("-c", cmd)),
        );
        let out = cx.exec(line).await?;
        if out.rc == 0 {
            return Ok(Ok(()));
        }
        let err = out.stderr_str();
        let detail = if err.trim().is_empty() { out.stdout_str() } else { err };
        let detail = detail.trim().lines().rev().take(5).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>();
        Ok(Err(format!("`{cmd}` exited with status {}: {}", out.rc, detail.join("\n"))))
    }

    /// Runs the health check (if any) with its retries; `Err` is the failure text.
    pub async fn health(&self, cx: &ModuleCtx<'_>, health: Option<&Health>) -> Result<Result<(), String>, ModuleError> {
        let Some(h) = health else { return Ok(Ok(())) };
        let mut last = String::new();
        for attempt in 0..h.retries.max(1) {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_secs_f64(h.delay.max(0.0))).await;
            }
            let r = if let Some(cmd) = &h.command {
                self.run(cx, cmd).await?
            } else if let Some(url) = &h.url {
                let url = url.replace("{release}", self.name);
                let t = h.timeout.to_string();
                let curl = Cmd::new("curl").flag("-s").flag("-o").flag("/dev/null").flag("-w").flag("'%{http_code}'");
                let wget = Cmd::new("wget").flag("-q").flag("-S").flag("-O").flag("/dev/null");
                let cmd = Sh::lit("if command -v curl >/dev/null 2>&1; then")
                    .word(curl.opt("--max-time", &t).operand(&url))
                    .suffix("; else")
                    .word(wget.opt_eq("--timeout", &t).operand(&url))
                    .suffix(" 2>&1 | awk '/^  HTTP\\//{c=$2} END{print c}'; fi");
                let out = cx.exec(cmd).await?;
                let code = out.stdout_str().trim().to_string();
                if code == h.status.to_string() {
                    Ok(())
                } else {
                    Err(format!(
                        "{url} answered {}, expected {}",
                        if code.is_empty() { "nothing".into() } else { code },
                        h.status
                    ))
                }
            } else {
                Ok(())
            };
            match r {
                Ok(()) => return Ok(Ok(())),
                Err(e) => last = e,
            }
        }
        Ok(Err(format!("health check failed after {} attempt(s): {last}", h.retries.max(1))))
    }
}
