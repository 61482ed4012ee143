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

pub mod disk;
pub mod ec2_eip;
pub mod ec2_instance;
pub mod ec2_security_group;
pub mod ec2_vol;
pub mod vm;

use prov_core::module::{ModuleCtx, ModuleError, Outcome};
use prov_providers::ec2_instance::{AwsAccess, Report};
use serde_json::Value as Json;

/// The common arguments of amazon.aws modules as given (region, endpoint_url, access_key,
/// secret_key, session_token, profile), completed by their environment variables (`env`: the
/// task's `environment:`, read before prov's own).
pub(crate) fn aws_access(given: [&Option<String>; 6], env: &[(String, String)]) -> AwsAccess {
    let var = |names: &[&str]| {
        names
            .iter()
            .find_map(|n| env.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone()).or_else(|| std::env::var(n).ok()))
    };
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

/// Refuses a task of an amazon.aws module whose host is not the controller: the module
/// would run on that host, with its credentials.
pub(crate) fn on_controller(cx: &ModuleCtx<'_>, module: &str) -> Result<(), ModuleError> {
    let controller = |h: &str| matches!(h, "localhost" | "127.0.0.1" | "::1");
    if let Some(d) = cx.delegate_to {
        if controller(d) {
            return Ok(());
        }
        return Err(ModuleError::Failed(format!(
            "prov makes the EC2 calls of {module} from the controller, and the task is delegated to `{d}`: \
             delegate it to localhost, as Ansible would need boto3 and credentials on `{d}` otherwise"
        )));
    }
    let connection = cx.vars.eval("ansible_connection | default('')").map(|v| v.to_string()).unwrap_or_default();
    if connection == "local" || controller(cx.host) {
        return Ok(());
    }
    Err(ModuleError::Failed(format!(
        "prov makes the EC2 calls of {module} from the controller, and `{}` is not the controller: run the task \
         on localhost (or with `delegate_to: localhost`), as Ansible would need boto3 and credentials on `{}` \
         otherwise",
        cx.host, cx.host
    )))
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
            "msg" => o.msg = v.as_str().map(str::to_string),
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
