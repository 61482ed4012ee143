//! Modules that manage machines through a provider (they run in prov itself).

/// Declares the arguments of an amazon.aws module: its own, then the arguments every
/// amazon.aws module takes (region, endpoint, credentials, profile, TLS and logging
/// settings), with `aws_access` (them completed by their environment variables) and
/// `aws_unsupported` (those prov refuses).
macro_rules! amazon_aws_args {
    ($(#[$meta:meta])* pub struct $name:ident { $($body:tt)* }) => {
        $(#[$meta])*
        pub struct $name {
            $($body)*
            /// The region.
            #[serde(default, alias = "aws_region", deserialize_with = "crate::util::stringish")]
            pub region: Option<String>,
            /// The endpoint instead of EC2's.
            #[serde(default, alias = "aws_endpoint_url", deserialize_with = "crate::util::stringish")]
            pub endpoint_url: Option<String>,
            /// Access key id.
            #[serde(
                default,
                alias = "aws_access_key_id",
                alias = "aws_access_key",
                deserialize_with = "crate::util::stringish"
            )]
            pub access_key: Option<String>,
            /// Secret access key.
            #[serde(
                default,
                alias = "aws_secret_access_key",
                alias = "aws_secret_key",
                deserialize_with = "crate::util::stringish"
            )]
            pub secret_key: Option<String>,
            /// Session token.
            #[serde(default, alias = "aws_session_token", deserialize_with = "crate::util::stringish")]
            pub session_token: Option<String>,
            /// A profile of the AWS configuration files.
            #[serde(default, alias = "aws_profile", deserialize_with = "crate::util::stringish")]
            pub profile: Option<String>,
            /// Only true.
            #[serde(default, deserialize_with = "prov_core::args::lenient_opt_bool")]
            pub validate_certs: Option<bool>,
            /// Only false.
            #[serde(default, deserialize_with = "prov_core::args::lenient_opt_bool")]
            pub debug_botocore_endpoint_logs: Option<bool>,
            /// Not supported.
            #[serde(default)]
            pub aws_ca_bundle: Option<serde_json::Value>,
            /// Not supported.
            #[serde(default)]
            pub aws_config: Option<serde_json::Value>,
        }

        impl $name {
            /// How to reach EC2 (`env`: the task's `environment:`).
            fn aws_access(&self, env: &[(String, String)]) -> prov_providers::ec2_instance::AwsAccess {
                $crate::cloud::aws_access(
                    [&self.region, &self.endpoint_url, &self.access_key, &self.secret_key, &self.session_token, &self.profile],
                    env,
                )
            }

            /// The common arguments given that prov does not support.
            fn aws_unsupported(&self) -> Vec<&'static str> {
                let mut off = Vec::new();
                if self.aws_ca_bundle.as_ref().is_some_and(|v| !v.is_null()) {
                    off.push("aws_ca_bundle");
                }
                if self.aws_config.as_ref().is_some_and(|v| !v.is_null()) {
                    off.push("aws_config");
                }
                if self.validate_certs == Some(false) {
                    off.push("validate_certs: false");
                }
                if self.debug_botocore_endpoint_logs == Some(true) {
                    off.push("debug_botocore_endpoint_logs");
                }
                off
            }
        }
    };
}

/// Declares the arguments of a google.cloud module: its own, then those every google.cloud
/// module takes (project and authentication), with `google_params` (them as the module's
/// `module.params` holds them, environment fallbacks applied) and `google_checks`.
macro_rules! google_cloud_args {
    ($(#[$meta:meta])* pub struct $name:ident { $($body:tt)* }) => {
        $(#[$meta])*
        pub struct $name {
            $($body)*
            /// The Google Cloud project.
            #[serde(default, deserialize_with = "crate::util::stringish")]
            pub project: Option<String>,
            /// `application`, `serviceaccount`, `machineaccount` or `accesstoken`.
            #[serde(default, deserialize_with = "crate::util::stringish")]
            pub auth_kind: Option<String>,
            /// For `machineaccount`.
            #[serde(default, deserialize_with = "crate::util::stringish")]
            pub service_account_email: Option<String>,
            /// For `serviceaccount`: a key file.
            #[serde(default, deserialize_with = "crate::util::stringish")]
            pub service_account_file: Option<String>,
            /// For `serviceaccount`: a key's JSON.
            #[serde(default)]
            pub service_account_contents: Option<serde_json::Value>,
            /// For `accesstoken`.
            #[serde(default, deserialize_with = "crate::util::stringish")]
            pub access_token: Option<String>,
            /// OAuth scopes.
            #[serde(default, deserialize_with = "crate::util::str_list")]
            pub scopes: Option<Vec<String>>,
            /// Added to the user agent.
            #[serde(default, deserialize_with = "crate::util::stringish")]
            pub env_type: Option<String>,
        }

        impl $name {
            /// The common parameters as `GcpModule` reads them (`env`: the task's
            /// `environment:`, read before prov's own).
            fn google_params(&self, env: &[(String, String)]) -> serde_json::Map<String, serde_json::Value> {
                $crate::cloud::google_params(
                    [&self.project, &self.auth_kind, &self.service_account_email, &self.service_account_file,
                     &self.access_token, &self.env_type],
                    self.service_account_contents.as_ref(),
                    self.scopes.as_ref(),
                    env,
                )
            }
        }
    };
}

/// Implements a google.cloud module over its `Args` (declared with `google_cloud_args!`) and
/// its `params(args, env)`: `state` read with its default, the required arguments and the
/// common ones checked before connecting, check mode skipped, plans from the module's reads.
macro_rules! google_cloud_module {
    ($ty:ident, $name:literal, required: [$($req:ident),*]) => {
        /// `state`, `present` by default.
        fn state(a: &Args) -> &str {
            a.state.as_deref().unwrap_or("present")
        }

        #[async_trait::async_trait]
        impl prov_core::module::Module for $ty {
            const NAME: &'static str = $name;
            const COLLECTIONS: &'static [&'static str] = &["google.cloud"];
            const RUNS_ON: prov_core::module::RunsOn = prov_core::module::RunsOn::Controller;
            type Args = Args;
            type Plan = ();

            fn check_args(a: &Args) -> Result<(), String> {
                if !matches!(state(a), "present" | "absent") {
                    return Err(format!("value of state must be one of: present, absent, got: {}", state(a)));
                }
                let missing: Vec<&str> = [$((stringify!($req), a.$req.is_none())),*]
                    .into_iter()
                    .filter(|(_, m)| *m)
                    .map(|(n, _)| n)
                    .collect();
                if !missing.is_empty() {
                    return Err(format!("missing required arguments: {}", missing.join(", ")));
                }
                $crate::cloud::google_checks(a.auth_kind.as_deref(), a.service_account_email.as_deref())?;
                params(a, &[]).map(|_| ())
            }

            async fn plan(
                &self,
                a: &Args,
                cx: &prov_core::module::ModuleCtx<'_>,
            ) -> Result<prov_core::module::Plan<()>, prov_core::module::ModuleError> {
                let name = a.name.as_deref().unwrap_or_default();
                $crate::cloud::google_cloud::google_run(Self::NAME, params(a, &cx.env), cx, name, true).await
            }

            async fn apply(
                &self,
                a: &Args,
                _plan: (),
                cx: &prov_core::module::ModuleCtx<'_>,
            ) -> Result<prov_core::module::Outcome, prov_core::module::ModuleError> {
                let name = a.name.as_deref().unwrap_or_default();
                $crate::cloud::google_cloud::google_apply(Self::NAME, params(a, &cx.env), cx, name).await
            }
        }
    };
}

pub mod disk;
pub mod ec2_eip;
pub mod ec2_instance;
pub mod ec2_security_group;
pub mod ec2_vol;
pub mod gcp_compute_address;
pub mod gcp_compute_disk;
pub mod gcp_compute_firewall;
pub mod gcp_compute_instance;
pub mod google_cloud;
pub mod vm;

use prov_core::module::{ModuleCtx, ModuleError, Outcome};
use prov_providers::ec2_instance::{AwsAccess, Report};
use serde_json::Value as Json;

/// The common arguments of amazon.aws modules as given (region, endpoint_url, access_key,
/// secret_key, session_token, profile), completed by their environment variables (`env`: the
/// task's `environment:`, read before prov's own).
pub(crate) fn aws_access(given: [&Option<String>; 6], env: &[(String, String)]) -> AwsAccess {
    let var = |names: &[&str]| env_var(env, names);
    let [region, endpoint_url, access_key, secret_key, session_token, profile] = given;
    AwsAccess {
        region: region.clone().or_else(|| var(&["AWS_REGION", "AWS_DEFAULT_REGION"])),
        endpoint_url: endpoint_url.clone().or_else(|| var(&["AWS_URL"])),
        access_key: access_key.clone().or_else(|| var(&["AWS_ACCESS_KEY_ID", "AWS_ACCESS_KEY"])),
        secret_key: secret_key.clone().or_else(|| var(&["AWS_SECRET_ACCESS_KEY", "AWS_SECRET_KEY"])),
        session_token: session_token.clone().or_else(|| var(&["AWS_SESSION_TOKEN"])),
        profile: profile.clone().or_else(|| var(&["AWS_PROFILE", "AWS_DEFAULT_PROFILE"])),
    }
}

/// Refuses a task of a cloud module (amazon.aws, google.cloud) whose host is not the
/// controller: the module would run on that host, with its credentials.
pub(crate) fn on_controller(cx: &ModuleCtx<'_>, module: &str) -> Result<(), ModuleError> {
    let (api, sdk) =
        if module.starts_with("google.cloud.") { ("Compute Engine", "google-auth") } else { ("EC2", "boto3") };
    let controller = |h: &str| matches!(h, "localhost" | "127.0.0.1" | "::1");
    if let Some(d) = cx.delegate_to {
        if controller(d) {
            return Ok(());
        }
        return Err(ModuleError::Failed(format!(
            "prov makes the {api} calls of {module} from the controller, and the task is delegated to `{d}`: \
             delegate it to localhost, as Ansible would need {sdk} and credentials on `{d}` otherwise"
        )));
    }
    let connection = cx.vars.eval("ansible_connection | default('')").map(|v| v.to_string()).unwrap_or_default();
    if connection == "local" || controller(cx.host) {
        return Ok(());
    }
    Err(ModuleError::Failed(format!(
        "prov makes the {api} calls of {module} from the controller, and `{}` is not the controller: run the task \
         on localhost (or with `delegate_to: localhost`), as Ansible would need {sdk} and credentials on `{}` \
         otherwise",
        cx.host, cx.host
    )))
}

/// A variable of the task's `environment:`, else of prov's.
fn env_var(env: &[(String, String)], names: &[&str]) -> Option<String> {
    names
        .iter()
        .find_map(|n| env.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone()).or_else(|| std::env::var(n).ok()))
}

/// The common parameters of google.cloud modules as given (project, auth_kind,
/// service_account_email, service_account_file, access_token, env_type; contents; scopes),
/// completed by their environment variables, as `module.params` holds them.
pub(crate) fn google_params(
    given: [&Option<String>; 6],
    contents: Option<&Json>,
    scopes: Option<&Vec<String>>,
    env: &[(String, String)],
) -> serde_json::Map<String, Json> {
    let [project, auth_kind, email, file, token, env_type] = given;
    let text = |v: &Option<String>, names: &[&str]| match v.clone().or_else(|| env_var(env, names)) {
        Some(s) => Json::String(s),
        None => Json::Null,
    };
    let mut p = serde_json::Map::new();
    p.insert("project".into(), text(project, &["GCP_PROJECT"]));
    p.insert("auth_kind".into(), text(auth_kind, &["GCP_AUTH_KIND"]));
    p.insert("service_account_email".into(), text(email, &["GCP_SERVICE_ACCOUNT_EMAIL"]));
    // `type: path`: `~` and variables expanded.
    let file = match text(file, &["GCP_SERVICE_ACCOUNT_FILE"]) {
        Json::String(f) => Json::String(expand_path(&f)),
        other => other,
    };
    p.insert("service_account_file".into(), file);
    // `type: jsonarg`: a mapping is passed on as its JSON text.
    let contents = match contents {
        Some(Json::String(s)) => Json::String(s.clone()),
        Some(Json::Null) | None => text(&None, &["GCP_SERVICE_ACCOUNT_CONTENTS"]),
        Some(other) => Json::String(other.to_string()),
    };
    p.insert("service_account_contents".into(), contents);
    p.insert("access_token".into(), text(token, &["GCP_ACCESS_TOKEN"]));
    let scopes: Option<Vec<String>> = scopes
        .cloned()
        .or_else(|| env_var(env, &["GCP_SCOPES"]).map(|s| s.split(',').map(|x| x.trim().to_string()).collect()));
    // The modules put Compute's scope in when none is given.
    let scopes =
        scopes.filter(|s| !s.is_empty()).unwrap_or_else(|| vec!["https://www.googleapis.com/auth/compute".into()]);
    p.insert("scopes".into(), Json::Array(scopes.into_iter().map(Json::String).collect()));
    p.insert("env_type".into(), text(env_type, &["GCP_ENV_TYPE"]));
    p
}

/// Ansible's `type: path`: `~` and `$VARIABLES` expanded.
fn expand_path(p: &str) -> String {
    let home = std::env::var("HOME").unwrap_or_default();
    let p = match p.strip_prefix('~') {
        Some(rest) if rest.is_empty() || rest.starts_with('/') => format!("{home}{rest}"),
        _ => p.to_string(),
    };
    let re = regex::Regex::new(r"\$(\w+)|\$\{(\w+)\}").expect("regex");
    re.replace_all(&p, |c: &regex::Captures<'_>| {
        let name = c.get(1).or_else(|| c.get(2)).map_or("", |m| m.as_str());
        std::env::var(name).unwrap_or_else(|_| c[0].to_string())
    })
    .into_owned()
}

/// Where google.cloud modules reach Compute Engine: `PROV_GCP_ENDPOINT` (tests: the fake),
/// else Google's API.
pub(crate) fn gcp_endpoint(env: &[(String, String)]) -> Option<String> {
    env_var(env, &["PROV_GCP_ENDPOINT"])
}

/// Checks of the common google.cloud arguments prov makes before connecting (and once the
/// environment is read).
pub(crate) fn google_checks(auth_kind: Option<&str>, email: Option<&str>) -> Result<(), String> {
    if let Some(k) = auth_kind {
        if !k.contains("{{") && !matches!(k, "machineaccount" | "serviceaccount" | "accesstoken" | "application") {
            return Err(format!(
                "value of auth_kind must be one of: machineaccount, serviceaccount, accesstoken, application, got: {k}"
            ));
        }
    }
    if auth_kind == Some("machineaccount") && email.is_some_and(|e| e != "default") {
        return Err("prov does not support service_account_email (other than `default`) of google.cloud modules yet: \
                    the metadata server's default account is used"
            .into());
    }
    Ok(())
}

/// Python's `str()` of a scalar argument value (tags, filters).
pub(crate) fn py_str(v: &Json) -> String {
    match v {
        Json::String(s) => s.clone(),
        Json::Bool(true) => "True".into(),
        Json::Bool(false) => "False".into(),
        Json::Null => "None".into(),
        other => other.to_string(),
    }
}

/// The outcome of an amazon.aws module's report.
pub(crate) fn outcome(r: Report) -> Outcome {
    let mut o = Outcome::ok();
    o.changed = r.changed();
    o.failed = r.failed;
    for (k, v) in r.fields {
        match k.as_str() {
            "changed" => {}
            "msg" if v.is_string() => o.msg = v.as_str().map(str::to_string),
            _ => o = o.with(&k, minijinja::Value::from(minijinja::value::Serde(v))),
        }
    }
    for w in r.warnings {
        o = o.warn(w);
    }
    o
}

/// The plan of an amazon.aws module from its check-mode report: nothing to do, or a change
/// whose check-mode result is the report's.
pub(crate) fn plan_of(
    r: Report,
    action: prov_core::module::Action,
    resource: &'static str,
    name: String,
) -> prov_core::module::Plan<()> {
    use prov_core::module::{Change, Plan};
    if r.failed || !r.changed() {
        return Plan::Ok(outcome(r));
    }
    let mut c = Change::new((), action, resource, name);
    for (k, v) in &r.fields {
        match k.as_str() {
            "changed" => {}
            "msg" => c = c.with_msg(v.as_str().unwrap_or_default()),
            _ => c = c.with_data(k, minijinja::Value::from(minijinja::value::Serde(v.clone()))),
        }
    }
    Plan::Change(c)
}
