//! `set_fact`: sets host variables (already templated by the engine).

use async_trait::async_trait;
use indexmap::IndexMap;
use minijinja::Value;
use prov_core::module::{Module, ModuleCtx, ModuleError, Outcome, Plan, RunsOn};

/// The `set_fact` module. Its arguments are the variables; `cacheable` is accepted and ignored.
#[derive(Debug, Default)]
pub struct SetFact;

#[async_trait]
impl Module for SetFact {
    const NAME: &'static str = "set_fact";
    const RUNS_ON: RunsOn = RunsOn::Controller;
    type Args = IndexMap<String, Value>;
    type Plan = ();

    /// The values as they are: a `datetime` (`now()`) stays one, as in Ansible.
    fn args_of(args: &Value) -> Result<Self::Args, String> {
        if args.kind() != minijinja::value::ValueKind::Map {
            return prov_core::module::args_from_value(args);
        }
        let mut out = IndexMap::new();
        for k in args.try_iter().map_err(|e| e.to_string())? {
            let v = args.get_item(&k).map_err(|e| e.to_string())?;
            out.insert(k.as_str().map(str::to_string).unwrap_or_else(|| k.to_string()), v);
        }
        Ok(out)
    }

    fn check_args(args: &Self::Args) -> Result<(), String> {
        if args.keys().all(|k| k == "cacheable") {
            return Err("set_fact needs at least one variable".into());
        }
        Ok(())
    }

    async fn plan(&self, args: &Self::Args, _: &ModuleCtx<'_>) -> Result<Plan<()>, ModuleError> {
        let mut o = Outcome::ok();
        for (k, v) in args.iter().filter(|(k, _)| k.as_str() != "cacheable") {
            // Keys are rendered by now (`"{{ name }}": x`): check what they became.
            if !prov_core::compile::is_identifier(k) {
                return Ok(Plan::Ok(Outcome::failed(format!("Task failed: Invalid variable name '{k}'."))));
            }
            o.facts.push((k.clone(), v.clone()));
        }
        o.data.insert("ansible_facts".into(), Value::from_pairs(o.facts.clone()));
        Ok(Plan::Ok(o))
    }

    async fn apply(&self, _: &Self::Args, _: (), _: &ModuleCtx<'_>) -> Result<Outcome, ModuleError> {
        Ok(Outcome::ok())
    }
}
