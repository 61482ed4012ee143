//! `pause`: waits a number of seconds or minutes (prompts are not supported: prov runs unattended).

use async_trait::async_trait;
use prov_core::module::{Module, ModuleCtx, ModuleError, Outcome, Plan, RunsOn};
use serde::Deserialize;

/// Arguments of `pause`.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Args {
    /// Seconds to wait.
    #[serde(default)]
    pub seconds: Option<f64>,
    /// Minutes to wait.
    #[serde(default)]
    pub minutes: Option<f64>,
}

/// The `pause` module.
#[derive(Debug, Default)]
pub struct Pause;

#[async_trait]
impl Module for Pause {
    const NAME: &'static str = "pause";
    const RUNS_ON: RunsOn = RunsOn::Controller;
    type Args = Args;
    type Plan = ();

    fn check_args(args: &Args) -> Result<(), String> {
        match (args.seconds, args.minutes) {
            (None, None) => Err("prov cannot prompt: give `seconds` or `minutes`".into()),
            (Some(_), Some(_)) => Err("`seconds` and `minutes` are mutually exclusive".into()),
            (Some(s), _) | (_, Some(s)) if s < 0.0 => Err("the pause must not be negative".into()),
            _ => Ok(()),
        }
    }

    async fn plan(&self, args: &Args, _: &ModuleCtx<'_>) -> Result<Plan<()>, ModuleError> {
        let secs = args.seconds.unwrap_or(0.0) + args.minutes.unwrap_or(0.0) * 60.0;
        tokio::time::sleep(std::time::Duration::from_secs_f64(secs)).await;
        Ok(Plan::Ok(Outcome::ok().with("delta", secs)))
    }

    async fn apply(&self, _: &Args, _: (), _: &ModuleCtx<'_>) -> Result<Outcome, ModuleError> {
        Ok(Outcome::ok())
    }
}
