//! `set_fact`: sets host variables (already templated by the engine).

use async_trait::async_trait;
use indexmap::IndexMap;
use minijinja::Value;
use prov_core::module::{Module, ModuleCtx, ModuleError, Outcome, Plan, RunsOn};

/// The `set_fact` module. Its arguments are the variables; with `cacheable: true` they are
/// facts of the host too (in `ansible_facts`, kept by `hostvars` and `meta: clear_facts`
/// clears them there), as in ansible-core.
#[derive(Debug, Default)]
pub struct SetFact;

#[async_trait]
impl Module for SetFact {
    const NAME: &'static str = "set_fact";
    const RUNS_ON: RunsOn = RunsOn::Controller;
    type Args = IndexMap<String, Value>;
    type Plan = ();

    /// The values, copied as they are now (a live value such as `ansible_play_hosts` does not
    /// follow later changes), except that a `datetime` (`now()`) stays one, as in Ansible.
    fn args_of(args: &Value) -> Result<Self::Args, String> {
        let mut out: IndexMap<String, Value> = prov_core::module::args_from_value(args)?;
        if args.kind() == minijinja::value::ValueKind::Map {
            for (k, v) in out.iter_mut() {
                let given = args.get_attr(k).map_err(|e| e.to_string())?;
                if given.downcast_object_ref::<prov_core::template::filters::PyDateTime>().is_some() {
                    *v = given;
                }
            }
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
        let cacheable = match args.get("cacheable") {
            None => false,
            Some(v) => match cacheable(v) {
                Some(b) => b,
                None => return Ok(Plan::Ok(Outcome::failed(format!("cacheable: `{v}` is not a boolean")))),
            },
        };
        for (k, v) in args.iter().filter(|(k, _)| k.as_str() != "cacheable") {
            // Keys are rendered by now (`"{{ name }}": x`): check what they became.
            if !prov_core::compile::is_identifier(k) {
                return Ok(Plan::Ok(Outcome::failed(format!("Task failed: Invalid variable name '{k}'."))));
            }
            o.facts.push((k.clone(), v.clone()));
            if cacheable {
                let key = match k.strip_prefix("ansible_") {
                    Some(name) => name.to_string(),
                    None => prov_core::module::plain_fact(k),
                };
                o.host_facts.push((key, v.clone()));
            }
        }
        o.data.insert("ansible_facts".into(), Value::from_pairs(o.facts.clone()));
        Ok(Plan::Ok(o))
    }

    async fn apply(&self, _: &Self::Args, _: (), _: &ModuleCtx<'_>) -> Result<Outcome, ModuleError> {
        Ok(Outcome::ok())
    }
}

/// `cacheable` as ansible-core's strict `boolean()` reads it.
fn cacheable(v: &Value) -> Option<bool> {
    match v.kind() {
        minijinja::value::ValueKind::Bool => Some(v.is_true()),
        minijinja::value::ValueKind::Number => match i64::try_from(v.clone()) {
            Ok(0) => Some(false),
            Ok(1) => Some(true),
            _ => None,
        },
        _ => v.as_str().and_then(prov_core::args::parse_bool),
    }
}
