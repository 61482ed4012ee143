//! What the google.cloud modules share on prov's side: their arguments read as the modules
//! read them, check mode skipped as ansible-core skips it, plans from the modules' reads.

use super::{gcp_endpoint, google_checks, on_controller, outcome};
use prov_core::module::{Action, Change, InCheck, ModuleCtx, ModuleError, Outcome, Plan};
use prov_providers::ec2_instance::Report;
use prov_providers::google_cloud::{Call, Field, How, Planned, Ty};
use serde_json::{Map, Value as Json};

/// Text or null.
pub(crate) fn text(v: &Option<String>) -> Json {
    v.clone().map_or(Json::Null, Json::String)
}

/// The call of a google.cloud module, or its failure before any request (an argument the
/// module would refuse once the environment is read).
pub(crate) fn call_of(
    module: &'static str,
    params: Result<Map<String, Json>, String>,
    cx: &ModuleCtx<'_>,
) -> Result<Call, Report> {
    let fail = |msg: String| {
        let mut fields = Map::new();
        fields.insert("msg".into(), Json::String(msg));
        fields.insert("changed".into(), Json::Bool(false));
        Report { fields, failed: true, warnings: Vec::new() }
    };
    let params = params.map_err(fail)?;
    match params.get("auth_kind").and_then(Json::as_str) {
        None => return Err(fail("missing required arguments: auth_kind".into())),
        Some(k) => google_checks(Some(k), params.get("service_account_email").and_then(Json::as_str)).map_err(fail)?,
    }
    Ok(Call { module, params, endpoint: gcp_endpoint(&cx.env) })
}

/// Runs or plans a google.cloud module for a task (`plan`: its reads only).
pub(crate) async fn google_run(
    module: &'static str,
    params: Result<Map<String, Json>, String>,
    cx: &ModuleCtx<'_>,
    name: &str,
    plan: bool,
) -> Result<Plan<()>, ModuleError> {
    let full = format!("google.cloud.{module}");
    on_controller(cx, &full)?;
    if cx.is_check() {
        // The google.cloud modules do not support check mode: ansible-core skips them. prov
        // still reads what the module would find, so that `prov plan` lists what it would
        // change (a failed read, such as missing credentials, only leaves that out).
        let msg = format!("remote module ({full}) does not support check mode");
        let planned = match call_of(module, params, cx) {
            Ok(call) => prov_providers::google_cloud::plan(&call).await.map_err(|e| e.to_string()),
            Err(r) => Err(r.fields.get("msg").map(super::py_str).unwrap_or_default()),
        };
        let skipped = || {
            let mut o = Outcome { skipped: true, ..Outcome::ok() };
            o.msg = Some(msg.clone());
            o
        };
        let unread =
            |why: String| skipped().warn(format!("what {full} would change is not known: reading it failed: {why}"));
        let action = match planned {
            Ok(Planned::Create) => Action::Create,
            Ok(Planned::Update) => Action::Modify,
            Ok(Planned::Delete) => Action::Delete,
            Ok(Planned::Nothing(r)) if r.failed => {
                return Ok(Plan::Ok(unread(r.fields.get("msg").map(super::py_str).unwrap_or_default())))
            }
            Ok(Planned::Nothing(_)) => return Ok(Plan::Ok(skipped())),
            Err(why) => return Ok(Plan::Ok(unread(why))),
        };
        let mut ch = Change::new((), action, module, name.to_string()).with_msg(msg);
        ch.in_check = InCheck::Skipped;
        return Ok(Plan::Change(ch));
    }
    let call = match call_of(module, params, cx) {
        Ok(c) => c,
        Err(r) => return Ok(Plan::Ok(outcome(r))),
    };
    let failed = |e: prov_providers::ProviderError| ModuleError::Failed(e.to_string());
    if !plan {
        return Ok(Plan::Ok(outcome(prov_providers::google_cloud::run(&call).await.map_err(failed)?)));
    }
    let action = match prov_providers::google_cloud::plan(&call).await.map_err(failed)? {
        Planned::Nothing(r) => return Ok(Plan::Ok(outcome(r))),
        Planned::Create => Action::Create,
        Planned::Update => Action::Modify,
        Planned::Delete => Action::Delete,
    };
    Ok(Plan::Change(Change::new((), action, module, name.to_string())))
}

/// The run of a google.cloud module's planned change.
pub(crate) async fn google_apply(
    module: &'static str,
    params: Result<Map<String, Json>, String>,
    cx: &ModuleCtx<'_>,
    name: &str,
) -> Result<Outcome, ModuleError> {
    match google_run(module, params, cx, name, false).await? {
        Plan::Ok(o) => Ok(o),
        Plan::Change(_) => unreachable!("a run is not planned"),
    }
}

/// An argument with options of its own (`type: dict, options: ...`) as Ansible reads it:
/// every option present (null when not given), aliases under their option's name, values of
/// their declared types; an unknown option is refused. `path`: the argument's name.
pub(crate) fn options(module: &str, v: &Json, fields: &[Field], path: &str) -> Result<Json, String> {
    let m = match v {
        Json::Null => return Ok(Json::Null),
        Json::Object(m) => m,
        other => {
            return Err(format!(
                "argument '{path}' is of type {} and we were unable to convert to dict",
                py_type(other)
            ))
        }
    };
    for k in m.keys() {
        if !fields.iter().any(|f| f.arg == k || f.aliases.contains(&k.as_str())) {
            let mut names: Vec<&str> =
                fields.iter().flat_map(|f| std::iter::once(f.arg).chain(f.aliases.iter().copied())).collect();
            names.sort_unstable();
            return Err(format!(
                "Unsupported parameters for ({module}) module: {path}.{k}. Supported parameters include: {}.",
                names.join(", ")
            ));
        }
    }
    let mut out = Map::new();
    let mut missing = Vec::new();
    for f in fields {
        let given = m.get(f.arg).or_else(|| f.aliases.iter().find_map(|a| m.get(*a))).unwrap_or(&Json::Null);
        if f.required && given.is_null() {
            missing.push(f.arg);
        }
        out.insert(f.arg.to_string(), field(module, f, given, &format!("{path}.{}", f.arg))?);
    }
    if !missing.is_empty() {
        return Err(format!(
            "missing required arguments: {} found in {}",
            missing.join(", "),
            path.replace('.', " -> ")
        ));
    }
    Ok(Json::Object(out))
}

/// An argument (or sub-option) of a field as Ansible reads it (`path`: its name).
fn field(module: &str, f: &Field, v: &Json, path: &str) -> Result<Json, String> {
    match f.how {
        How::Obj(fs) | How::ObjNotRead(fs) => options(module, v, fs, path),
        How::Arr(fs) => option_list(module, v, fs, path),
        how => typed(v, how.ty(), path),
    }
}

/// The top-level argument `name` of a module whose fields are `fields`, as Ansible reads it.
pub(crate) fn spec_arg(module: &str, fields: &[Field], name: &str, v: &Option<Json>) -> Result<Json, String> {
    let f = fields.iter().find(|f| f.arg == name).expect("an argument of the module's fields");
    field(module, f, v.as_ref().unwrap_or(&Json::Null), name)
}

/// A list of such (`type: list, elements: dict, options: ...`).
pub(crate) fn option_list(module: &str, v: &Json, fields: &[Field], path: &str) -> Result<Json, String> {
    match v {
        Json::Null => Ok(Json::Null),
        Json::Array(items) => {
            items.iter().map(|i| options(module, i, fields, path)).collect::<Result<Vec<_>, _>>().map(Json::Array)
        }
        other => Err(format!("argument '{path}' is of type {} and we were unable to convert to list", py_type(other))),
    }
}

fn py_type(v: &Json) -> &'static str {
    match v {
        Json::Null => "<class 'NoneType'>",
        Json::Bool(_) => "<class 'bool'>",
        Json::Number(n) if n.is_f64() => "<class 'float'>",
        Json::Number(_) => "<class 'int'>",
        Json::String(_) => "<class 'str'>",
        Json::Array(_) => "<class 'list'>",
        Json::Object(_) => "<class 'dict'>",
    }
}

/// A value of a declared type, converted as Ansible converts it.
pub(crate) fn typed(v: &Json, ty: Ty, path: &str) -> Result<Json, String> {
    let bad = |to: &str| format!("argument '{path}' is of type {} and we were unable to convert to {to}", py_type(v));
    Ok(match (ty, v) {
        (_, Json::Null) => Json::Null,
        (Ty::Str, Json::String(_)) => v.clone(),
        (Ty::Str, Json::Number(_) | Json::Bool(_)) => Json::String(super::py_str(v)),
        (Ty::Int, Json::Number(n)) if n.is_i64() || n.is_u64() => v.clone(),
        (Ty::Int, Json::String(s)) => Json::from(s.trim().parse::<i64>().map_err(|_| bad("int"))?),
        (Ty::Bool, Json::Bool(_)) => v.clone(),
        (Ty::Bool, Json::String(s)) => Json::Bool(prov_core::args::parse_bool(s).ok_or_else(|| bad("bool"))?),
        (Ty::Bool, Json::Number(n)) if n.as_i64() == Some(0) || n.as_i64() == Some(1) => {
            Json::Bool(n.as_i64() == Some(1))
        }
        (Ty::Dict, Json::Object(_)) => v.clone(),
        (Ty::StrList, Json::Array(a)) => Json::Array(a.iter().map(|x| Json::String(super::py_str(x))).collect()),
        (Ty::StrList, Json::String(s)) => Json::Array(s.split(',').map(|x| Json::String(x.to_string())).collect()),
        (Ty::Str, _) => return Err(bad("str")),
        (Ty::Int, _) => return Err(bad("int")),
        (Ty::Bool, _) => return Err(bad("bool")),
        (Ty::Dict, _) => return Err(bad("dict")),
        (Ty::StrList, _) => return Err(bad("list")),
    })
}
