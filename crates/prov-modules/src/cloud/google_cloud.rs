//! What the google.cloud modules share on prov's side: their arguments read as the modules
//! read them, check mode skipped as ansible-core skips it, plans from the modules' reads.

use super::{gcp_endpoint, google_checks, on_controller, outcome};
use crate::util::py_int;
use prov_core::module::{Action, Change, ModuleCtx, ModuleError, Outcome, Plan};
use prov_providers::ec2_instance::Report;
use prov_providers::google_cloud::{Call, Planned};
use serde_json::{Map, Value as Json};

/// A `type: int` argument as the module reads it.
pub(crate) fn int_param(name: &str, v: &Option<String>) -> Result<Json, String> {
    match v {
        None => Ok(Json::Null),
        Some(_) => py_int::<i64>(v, 0).map(Json::from).map_err(|e| {
            format!("argument '{name}' is of type <class 'str'> and we were unable to convert to int: {e}")
        }),
    }
}

/// A `type: dict` argument: a mapping (or nothing).
pub(crate) fn dict_param(name: &str, v: &Option<Json>) -> Result<Json, String> {
    match v {
        None | Some(Json::Null) => Ok(Json::Null),
        Some(m @ Json::Object(_)) => Ok(m.clone()),
        Some(other) => Err(format!(
            "prov reads {name} of google.cloud's modules as a mapping only (such as `{{selfLink: ...}}`), got {other}"
        )),
    }
}

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
        // The google.cloud modules do not support check mode: ansible-core skips them.
        let mut o = Outcome { skipped: true, ..Outcome::ok() };
        o.msg = Some(format!("remote module ({full}) does not support check mode"));
        return Ok(Plan::Ok(o));
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
