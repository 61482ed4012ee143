//! `pause`: waits a number of seconds or minutes, as ansible-core's pause action does without a
//! terminal to read from.
//!
//! Arguments (as in Ansible): `seconds` or `minutes` (whole numbers; a fraction is cut off, and
//! a pause shorter than a second lasts one second, as in ansible-core), `prompt`, `echo`
//! (default true). Without a duration, ansible-core waits for an answer on its terminal:
//! without one (CI), it warns "Not waiting for response to prompt as stdin is not interactive"
//! and goes on, and so does prov; on a terminal prov refuses such a pause before the run.
//! Registers `start`, `stop`, `delta`, `echo`, `rc`, `stdout` ("Paused for 1.0 seconds"),
//! `stderr` and `user_input` (empty).

use async_trait::async_trait;
use minijinja::value::ValueKind;
use minijinja::Value;
use prov_core::args::lenient_bool;
use prov_core::module::{Module, ModuleCtx, ModuleError, Outcome, Plan, RunsOn};
use serde::Deserialize;

fn yes() -> bool {
    true
}

/// Arguments of `pause`.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Args {
    /// Seconds to wait.
    #[serde(default)]
    pub seconds: Option<Value>,
    /// Minutes to wait.
    #[serde(default)]
    pub minutes: Option<Value>,
    /// The question shown.
    #[serde(default)]
    pub prompt: Option<String>,
    /// Show what is typed.
    #[serde(default = "yes", deserialize_with = "lenient_bool")]
    pub echo: bool,
}

/// Python's `int()` of a duration: whole numbers, a float cut off, a string of digits.
fn int_of(name: &str, v: &Value) -> Result<i64, String> {
    let bad = || format!("argument '{name}' is of type {} and we were unable to convert to int", v.kind());
    match v.kind() {
        ValueKind::Number if v.is_integer() => i64::try_from(v.clone()).map_err(|_| bad()),
        ValueKind::Number => f64::try_from(v.clone()).map(|f| f.trunc() as i64).map_err(|_| bad()),
        ValueKind::Bool => Ok(i64::from(v.is_true())),
        ValueKind::String => v.as_str().unwrap_or_default().trim().parse::<i64>().map_err(|_| bad()),
        _ => Err(bad()),
    }
}

impl Args {
    /// The pause in seconds (at least 1) and its unit, or none (a prompt).
    fn duration(&self) -> Result<Option<(u64, &'static str)>, String> {
        let secs = match (&self.seconds, &self.minutes) {
            (Some(_), Some(_)) => return Err("parameters are mutually exclusive: minutes|seconds".into()),
            (Some(s), None) => (int_of("seconds", s)?, "seconds"),
            (None, Some(m)) => (int_of("minutes", m)? * 60, "minutes"),
            (None, None) => return Ok(None),
        };
        Ok(Some((secs.0.max(1) as u64, secs.1)))
    }
}

/// Python's `str(round(x, 2))`.
fn py_round2(x: f64) -> String {
    let r = (x * 100.0).round() / 100.0;
    if r.fract() == 0.0 {
        format!("{r:.1}")
    } else {
        format!("{r}")
    }
}

/// Python's `str(datetime.datetime.now())`.
fn now_text() -> String {
    chrono::Local::now().format("%Y-%m-%d %H:%M:%S%.6f").to_string()
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
        args.duration().map(|_| ())
    }

    async fn plan(&self, args: &Args, _: &ModuleCtx<'_>) -> Result<Plan<()>, ModuleError> {
        let duration = args.duration().map_err(ModuleError::Args)?;
        let start = now_text();
        let began = std::time::Instant::now();
        let mut o = Outcome::ok();
        if let Some((secs, _)) = duration {
            tokio::time::sleep(std::time::Duration::from_secs(secs)).await;
        } else {
            o = o.warn("Not waiting for response to prompt as stdin is not interactive");
        }
        let elapsed = began.elapsed().as_secs_f64();
        let (shown, unit) = match duration {
            Some((_, "seconds")) => (elapsed, "seconds"),
            _ => (elapsed / 60.0, "minutes"),
        };
        let warnings = o.data.shift_remove("warnings");
        let mut o = o
            .with("delta", elapsed as i64)
            .with("echo", args.echo)
            .with("rc", 0)
            .with("start", start)
            .with("stderr", "")
            .with("stdout", format!("Paused for {} {unit}", py_round2(shown)))
            .with("stop", now_text())
            .with("user_input", "");
        if let Some(w) = warnings {
            o = o.with("warnings", w);
        }
        Ok(Plan::Ok(o))
    }

    async fn apply(&self, _: &Args, _: (), _: &ModuleCtx<'_>) -> Result<Outcome, ModuleError> {
        Ok(Outcome::ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_ansible_core_reads_them() {
        let a = |s: Option<Value>, m: Option<Value>| Args { seconds: s, minutes: m, prompt: None, echo: true };
        assert_eq!(a(Some(Value::from(0)), None).duration(), Ok(Some((1, "seconds"))), "at least a second");
        assert_eq!(a(Some(Value::from(2.7)), None).duration(), Ok(Some((2, "seconds"))));
        assert_eq!(a(None, Some(Value::from("1"))).duration(), Ok(Some((60, "minutes"))));
        assert_eq!(a(None, None).duration(), Ok(None));
        assert!(a(Some(Value::from(1)), Some(Value::from(1))).duration().is_err());
        assert!(a(Some(Value::from("1.5")), None).duration().is_err());
        assert_eq!((py_round2(1.0009), py_round2(0.0), py_round2(1.234)), ("1.0".into(), "0.0".into(), "1.23".into()));
    }
}
