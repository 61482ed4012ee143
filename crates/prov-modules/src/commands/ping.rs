//! `ping`: checks that prov can reach the host and run a command there; returns `pong`.
//!
//! Not ICMP: it runs `echo` through the connection (`sh`, no Python needed), with the task's
//! `become`, so a host whose login or escalation is broken is reported unreachable or failed.
//!
//! Arguments (as in Ansible): `data` (default `pong`): the value returned in `ping`; `data: crash`
//! fails the task, as Ansible's does.
//!
//! Never changes anything; runs the same in check mode. Registers `ping`.
//!
//! ```yaml
//! - ping:
//! - ansible.builtin.ping: { data: hello }
//!   register: r
//! ```

use crate::util::probe_failed;
use async_trait::async_trait;
use prov_core::cmd::Sh;
use prov_core::module::{Module, ModuleCtx, ModuleError, Outcome, Plan};
use serde::Deserialize;

fn pong() -> String {
    "pong".into()
}

/// Arguments of `ping`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    /// The value to return.
    #[serde(default = "pong", deserialize_with = "text")]
    pub data: String,
}

fn text<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    <crate::util::Text as Deserialize>::deserialize(d).map(|t| t.0)
}

/// The `ping` module.
#[derive(Debug, Default)]
pub struct Ping;

#[async_trait]
impl Module for Ping {
    const NAME: &'static str = "ping";
    type Args = Args;
    type Plan = ();

    async fn plan(&self, args: &Args, cx: &ModuleCtx<'_>) -> Result<Plan<()>, ModuleError> {
        let out = cx.exec(Sh::lit("echo pong")).await?;
        if out.rc != 0 || out.stdout_str().trim() != "pong" {
            return Err(probe_failed("running `echo pong`", &out));
        }
        if args.data == "crash" {
            // Ansible's ping raises an exception on `crash`: a way to test failure handling.
            // ansible-core 2.19 reports a module's exception with this prefix.
            return Ok(Plan::Ok(Outcome::failed("Task failed: Module failed: boom")));
        }
        Ok(Plan::Ok(Outcome::ok().with("ping", args.data.as_str())))
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
    use prov_core::testutil::FakeConnection;
    use serde_json::json;

    // Expected values from ansible-core 2.19 (`ping` and `ping: data=xyz`, registered).
    #[tokio::test]
    async fn ping_returns_pong_or_data() {
        let h = LocalHost::new();
        let o = run::<Ping>(json!({}), &h.ctx()).await;
        assert!(!o.changed && !o.failed, "{o:?}");
        assert_eq!(o.data["ping"], Value::from("pong"));
        let o = run::<Ping>(json!({"data": "xyz"}), &h.ctx()).await;
        assert_eq!(o.data["ping"], Value::from("xyz"));
        let o = run::<Ping>(json!({"data": "crash"}), &h.ctx()).await;
        assert!(o.failed);
        assert_eq!(o.msg.as_deref(), Some("Task failed: Module failed: boom"));
    }

    #[tokio::test]
    async fn ping_runs_in_check_mode() {
        let h = fake_check(FakeConnection::new().on("echo pong", 0, "pong\n"));
        let o = run::<Ping>(json!({}), &h.ctx()).await;
        assert!(!o.changed && !o.skipped && !o.failed, "{o:?}");
        assert_eq!(h.conn.calls(), vec!["echo pong"]);
    }

    #[tokio::test]
    async fn ping_fails_when_the_shell_does_not_answer() {
        let h = fake(FakeConnection::new().on("echo pong", 127, ""));
        let e = run_err::<Ping>(json!({}), &h.ctx()).await;
        assert!(e.contains("echo pong"), "{e}");
        assert!(unsupported::<Ping>(json!({"dat": 1}), &h.ctx()).await.starts_with("Unsupported parameters for ("));
    }
}
