//! `debug`: prints a message or a variable's value.

use async_trait::async_trait;
use minijinja::Value;
use prov_core::module::{Module, ModuleCtx, ModuleError, Outcome, Plan, RunsOn};
use serde::Deserialize;

/// Arguments of `debug`.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Args {
    /// The message (already templated); `msg: null` is a null message, not the default one.
    #[serde(default, deserialize_with = "present")]
    pub msg: Option<Value>,
    /// A variable name or expression whose value is shown.
    #[serde(default)]
    pub var: Option<String>,
    /// The verbosity from which the message is shown; below it the task is skipped, as in
    /// ansible-core (prov runs at verbosity 0).
    #[serde(default)]
    pub verbosity: Option<i64>,
}

/// A value that is there, null included (`Option`'s own reading makes null `None`).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

/// The `debug` module.
#[derive(Debug, Default)]
pub struct Debug;

#[async_trait]
impl Module for Debug {
    const NAME: &'static str = "debug";
    const RUNS_ON: RunsOn = RunsOn::Controller;
    type Args = Args;
    type Plan = ();

    fn check_args(args: &Args) -> Result<(), String> {
        if args.msg.is_some() && args.var.is_some() {
            return Err("`msg` and `var` are mutually exclusive".into());
        }
        Ok(())
    }

    async fn plan(&self, args: &Args, cx: &ModuleCtx<'_>) -> Result<Plan<()>, ModuleError> {
        // The run's verbosity (ansible-playbook's -v count), which prov keeps at 0; not a
        // variable (`-e ansible_verbosity=2` does not change it in ansible-core either).
        if args.verbosity.unwrap_or(0) > 0 {
            let mut o = Outcome::ok()
                .with("failed", Value::from(false))
                .with("skipped_reason", Value::from("Verbosity threshold not met."));
            o.skipped = true;
            return Ok(Plan::Ok(o));
        }
        if let Some(var) = &args.var {
            // ansible-core 2.19 shows what was undefined in place of the value, and the task
            // is ok: `"nope": "<< error 1 - 'nope' is undefined >>"`.
            let shown = match cx.vars.eval_or_undefined(var).map_err(ModuleError::Failed)? {
                Ok(v) => v,
                Err(why) => Value::from(format!("<< error 1 - {why} >>")),
            };
            // Registered as `{var: value}` alone, as ansible-core; `msg` is only the line shown.
            let mut o = Outcome::ok().with(var, shown.clone());
            o.shown = Some(format!("{var}: {}", render(&shown)));
            return Ok(Plan::Ok(o));
        }
        let msg = args.msg.clone().unwrap_or_else(|| Value::from("Hello world!"));
        let mut o = Outcome::ok().with("msg", msg.clone());
        o.msg = Some(render(&msg));
        Ok(Plan::Ok(o))
    }

    async fn apply(&self, _: &Args, _: (), _: &ModuleCtx<'_>) -> Result<Outcome, ModuleError> {
        Ok(Outcome::ok())
    }
}

/// Strings as they are; anything else as JSON.
fn render(v: &Value) -> String {
    match v.as_str() {
        Some(s) => s.to_string(),
        None => serde_json::to_string(v).unwrap_or_else(|_| v.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prov_core::module::{DynModule, Erased};
    use prov_core::testutil::TestHost;

    fn j(v: serde_json::Value) -> Value {
        Value::from(minijinja::value::Serde(v))
    }

    #[tokio::test]
    async fn message_and_var() {
        let mut h = TestHost::new(prov_core::testutil::FakeConnection::new());
        h.vars = prov_core::testutil::MapVars(j(serde_json::json!({"x": [1, 2]})));
        let m = Erased::new(Debug);
        let o = m.run(&j(serde_json::json!({"msg": "hi"})), &h.ctx()).await.unwrap();
        assert_eq!(o.msg.as_deref(), Some("hi"));
        assert!(!o.changed);
        let o = m.run(&j(serde_json::json!({"var": "x"})), &h.ctx()).await.unwrap();
        assert_eq!(o.shown.as_deref(), Some("x: [1,2]"));
        assert!(o.msg.is_none(), "a var result registers no msg");
        assert!(m.validate(&j(serde_json::json!({"msg": "a", "var": "b"}))).is_err());
        assert!(m.validate(&j(serde_json::json!({"mesage": "a"}))).is_err());
    }
}
