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
#[derive(Debug)]
pub enum That {
    /// A single expression.
    One(Cond),
    /// Several, all of which must hold.
    Many(Vec<Cond>),
}

/// One condition: an expression, or the boolean that `"{{ expr }}"` already rendered to.
#[derive(Debug, Clone)]
pub enum Cond {
    /// An expression, without `{{ }}`.
    Expr(String),
    /// A value templated before the module saw it.
    Bool(bool),
}

impl<'de> Deserialize<'de> for That {
    /// Expressions or rendered booleans; anything else is refused as ansible-core fails it
    /// ("Conditional expressions must be strings."), saying which item and what it is.
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde_json::Value as Json;
        fn cond(v: Json, which: &str) -> Result<Cond, String> {
            let kind = match v {
                Json::String(s) => return Ok(Cond::Expr(s)),
                Json::Bool(b) => return Ok(Cond::Bool(b)),
                Json::Object(_) => "a mapping (YAML reads `- a: b`, a colon and a space, as one: quote the expression)",
                Json::Array(_) => "a list",
                Json::Number(_) => "a number",
                Json::Null => "null",
            };
            Err(format!("{which} is {kind}; conditional expressions must be strings"))
        }
        Ok(match Json::deserialize(d)? {
            Json::Array(items) => That::Many(
                items
                    .into_iter()
                    .enumerate()
                    .map(|(i, v)| cond(v, &format!("item {} of `that`", i + 1)))
                    .collect::<Result<_, _>>()
                    .map_err(serde::de::Error::custom)?,
            ),
            other => That::One(cond(other, "`that`").map_err(serde::de::Error::custom)?),
        })
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::j;
    use prov_core::module::args_from_value;
    use serde_json::json;

    // ansible-core fails such a task with "Conditional expressions must be strings."; YAML reads
    // `- x: y` (a colon and a space) as a mapping.
    #[test]
    fn a_that_item_that_is_not_an_expression_is_refused_saying_why() {
        let e = args_from_value::<Args>(&j(json!({"that": ["1 == 1", {"x": "y"}]}))).expect_err("refused").to_string();
        assert!(e.contains("item 2 of `that` is a mapping") && e.contains("must be strings"), "{e}");
        let e = args_from_value::<Args>(&j(json!({"that": 3}))).expect_err("refused").to_string();
        assert!(e.contains("`that` is a number"), "{e}");
        let a = args_from_value::<Args>(&j(json!({"that": ["a == 1", true]}))).expect("valid");
        assert_eq!(a.that.iter().count(), 2);
        let a = args_from_value::<Args>(&j(json!({"that": "a == 1"}))).expect("valid");
        assert!(matches!(a.that, That::One(Cond::Expr(_))));
    }
}
