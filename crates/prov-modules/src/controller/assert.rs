//! `assert`: checks expressions; fails naming the first one that is false.

use async_trait::async_trait;
use prov_core::module::{Module, ModuleCtx, ModuleError, Outcome, Plan, RunsOn};
use serde::Deserialize;

/// Arguments of `assert`.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Args {
    /// Expressions (a string or a list), without `{{ }}`.
    pub that: That,
    /// Message when an expression is false.
    #[serde(default, alias = "msg")]
    pub fail_msg: Option<String>,
    /// Message when all hold.
    #[serde(default)]
    pub success_msg: Option<String>,
    /// Accepted for compatibility.
    #[serde(default)]
    pub quiet: Option<bool>,
}

/// One expression or a list of them (never split on commas: expressions contain them).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum That {
    /// A single expression.
    One(Cond),
    /// Several, all of which must hold.
    Many(Vec<Cond>),
}

/// One condition: an expression, or the boolean that `"{{ expr }}"` already rendered to.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Cond {
    /// An expression, without `{{ }}`.
    Expr(String),
    /// A value templated before the module saw it.
    Bool(bool),
}

impl Default for That {
    fn default() -> Self {
        That::Many(Vec::new())
    }
}

impl That {
    fn iter(&self) -> impl Iterator<Item = &Cond> {
        match self {
            That::One(s) => std::slice::from_ref(s).iter(),
            That::Many(v) => v.iter(),
        }
    }
}

/// The `assert` module.
#[derive(Debug, Default)]
pub struct Assert;

#[async_trait]
impl Module for Assert {
    const NAME: &'static str = "assert";
    const RUNS_ON: RunsOn = RunsOn::Controller;
    type Args = Args;
    type Plan = ();

    async fn plan(&self, args: &Args, cx: &ModuleCtx<'_>) -> Result<Plan<()>, ModuleError> {
        for cond in args.that.iter() {
            let (cond, v) = match cond {
                // `that: "{{ x == 1 }}"` arrives rendered (ansible-core reads it as `x == 1`, with
                // a deprecation warning).
                Cond::Bool(b) => (b.to_string(), minijinja::Value::from(*b)),
                Cond::Expr(e) => {
                    let v =
                        cx.vars.eval_condition(e).map_err(|err| ModuleError::Failed(format!("assert `{e}`: {err}")))?;
                    (e.clone(), v)
                }
            };
            // As every conditional of ansible-core 2.19: a boolean, or the task fails.
            if !prov_core::template::conditional_result(&v, &cond).map_err(ModuleError::Failed)? {
                let msg = args.fail_msg.clone().unwrap_or_else(|| "Assertion failed".into());
                return Ok(Plan::Ok(Outcome::failed(msg).with("assertion", cond).with("evaluated_to", false)));
            }
        }
        let mut o = Outcome::ok();
        o.msg = Some(args.success_msg.clone().unwrap_or_else(|| "All assertions passed".into()));
        Ok(Plan::Ok(o))
    }

    async fn apply(&self, _: &Args, _: (), _: &ModuleCtx<'_>) -> Result<Outcome, ModuleError> {
        Ok(Outcome::ok())
    }
}
