//! `fail`: fails the task with a message.

use async_trait::async_trait;
use prov_core::module::{Module, ModuleCtx, ModuleError, Outcome, Plan, RunsOn};
use serde::Deserialize;

/// Arguments of `fail`.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Args {
    /// Why.
    #[serde(default)]
    pub msg: Option<String>,
}

/// The `fail` module.
#[derive(Debug, Default)]
pub struct Fail;

#[async_trait]
impl Module for Fail {
    const NAME: &'static str = "fail";
    const RUNS_ON: RunsOn = RunsOn::Controller;
    type Args = Args;
    type Plan = ();

    async fn plan(&self, args: &Args, _: &ModuleCtx<'_>) -> Result<Plan<()>, ModuleError> {
        Ok(Plan::Ok(Outcome::failed(args.msg.clone().unwrap_or_else(|| "Failed as requested from task".into()))))
    }

    async fn apply(&self, _: &Args, _: (), _: &ModuleCtx<'_>) -> Result<Outcome, ModuleError> {
        Ok(Outcome::ok())
    }
}
