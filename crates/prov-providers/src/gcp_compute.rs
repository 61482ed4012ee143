//! Inventory files with `plugin: google.cloud.gcp_compute`, read as google.cloud's
//! `gcp_compute` inventory plugin reads them: every instance of the `projects` that the
//! `filters` select (`aggregatedList`, not only prov's own), in the `zones` given (all when
//! none), named by `hostnames` (default: the external address, else the internal one, else
//! the name), each host in `all` only, with the instance resource as the API gives it as
//! host variables, reshaped as the plugin does (`zone` and `machineType` by name with their
//! links under `*_selflink`, networks as `{region, name, selfLink}`, `metadata` as a
//! mapping, `project`, `image`), prefixed by `vars_prefix`; nothing of prov's. The credentials
//! are the file's (`auth_kind`, `service_account_file`, `access_token`, ... or their `GCP_*`
//! environment variables), as the plugin takes them. This module holds what needs no SDK;
//! the listing is [`crate::gcp::google_cloud::list_instances`] (feature `gcp`).

use prov_core::diag::{DiagKind, Diagnostic, Diagnostics};
use prov_core::yaml::{Node, NodeKind};
use serde_json::{Map, Value as Json};

/// The names a file may give the plugin.
pub const NAMES: &[&str] = &["google.cloud.gcp_compute", "gcp_compute"];

/// How the file's name must end (the plugin's `verify_file`).
pub const SUFFIXES: &[&str] = &["gcp.yml", "gcp.yaml", "gcp_compute.yml", "gcp_compute.yaml"];

/// Keys of the file prov reads, besides the constructed ones.
pub const KEYS: &[&str] = &[
    "plugin",
    "zones",
    "projects",
    "filters",
    "hostnames",
    "name_suffix",
    "vars_prefix",
    "auth_kind",
    "scopes",
    "service_account_file",
    "service_account_contents",
    "service_account_email",
    "access_token",
    "retrieve_image_info",
    "cache",
    "cache_plugin",
    "cache_timeout",
    "cache_connection",
    "cache_prefix",
];

/// Keys of the plugin that prov does not implement: refused, with the reason.
pub const UNSUPPORTED_KEYS: &[&str] = &["folders", "use_contrib_script_compatible_sanitization"];

/// The plugin's own options.
#[derive(Debug, Clone, Default)]
pub struct GcpComputeOptions {
    /// Projects to list.
    pub projects: Vec<String>,
    /// Zones whose instances are hosts (empty: every zone).
    pub zones: Vec<String>,
    /// Compute Engine filter expressions, ANDed.
    pub filters: Vec<String>,
    /// Host name preferences (`public_ip`, `private_ip`, `name`, `hostname`, `labels.KEY`).
    pub hostnames: Vec<String>,
    /// Appended to `name` and `hostname` host names.
    pub name_suffix: String,
    /// Put before every host variable's name.
    pub vars_prefix: String,
    /// The authentication parameters as the plugin's `GcpSession` reads them
    /// (`auth_kind`, `scopes`, `service_account_file`, `service_account_contents`,
    /// `service_account_email`, `access_token`), environment fallbacks applied.
    pub auth: Map<String, Json>,
}

/// The host name preferences the plugin knows.
fn valid_hostname(h: &str) -> bool {
    matches!(h, "public_ip" | "private_ip" | "name" | "hostname") || h.starts_with("labels.")
}

/// Reads the plugin's own keys of a file; the constructed keys are the caller's. Returns the
/// keys it did not take.
pub fn parse_options<'n>(
    entries: &'n [(Node, Node)],
    d: &mut Diagnostics,
) -> (GcpComputeOptions, Vec<&'n (Node, Node)>) {
    let mut o = GcpComputeOptions {
        hostnames: vec!["public_ip".into(), "private_ip".into(), "name".into()],
        ..Default::default()
    };
    let mut auth: Map<String, Json> = Map::new();
    let mut rest = Vec::new();
    for entry in entries {
        let (k, v) = entry;
        let key = k.as_str().unwrap_or_default();
        match key {
            "plugin" | "cache" | "cache_plugin" | "cache_timeout" | "cache_connection" | "cache_prefix" => {}
            "zones" => o.zones = crate::inventory::names(v, key, d),
            "projects" => o.projects = crate::inventory::names(v, key, d),
            "filters" => o.filters = crate::inventory::names(v, key, d),
            "hostnames" => {
                o.hostnames = crate::inventory::names(v, key, d);
                for h in &o.hostnames {
                    if !valid_hostname(h) {
                        d.push(
                            Diagnostic::error(
                                DiagKind::Invalid,
                                v.span,
                                format!("{h} is not a valid hostname precedent"),
                            )
                            .with_help(
                                "the gcp_compute plugin knows public_ip, private_ip, name, hostname and labels.KEY",
                            ),
                        );
                    }
                }
            }
            "name_suffix" => o.name_suffix = v.scalar_text().unwrap_or_default(),
            "vars_prefix" => o.vars_prefix = v.scalar_text().unwrap_or_default(),
            "scopes" => {
                let s = crate::inventory::names(v, key, d);
                auth.insert(key.into(), Json::Array(s.into_iter().map(Json::String).collect()));
            }
            "auth_kind"
            | "service_account_file"
            | "service_account_contents"
            | "service_account_email"
            | "access_token" => {
                if let Some(t) = v.scalar_text() {
                    auth.insert(key.into(), Json::String(t));
                }
            }
            "retrieve_image_info" => match v.kind {
                NodeKind::Bool(false) => {}
                NodeKind::Bool(true) => d.push(
                    Diagnostic::error(
                        DiagKind::Unsupported,
                        k.span,
                        "`retrieve_image_info: true` of google.cloud.gcp_compute is not supported by prov",
                    )
                    .with_help("remove it: `image` is then null, as the plugin leaves it by default"),
                ),
                _ => d.push(Diagnostic::error(DiagKind::Invalid, v.span, "`retrieve_image_info` is true or false")),
            },
            k if UNSUPPORTED_KEYS.contains(&k) => d.push(
                Diagnostic::error(
                    DiagKind::Unsupported,
                    entry.0.span,
                    format!("`{k}` of google.cloud.gcp_compute is not supported by prov"),
                )
                .with_help("list the projects under `projects:`; prov uses Ansible's group name rules"),
            ),
            _ => rest.push(entry),
        }
    }
    let env = |names: &[&str]| names.iter().find_map(|n| std::env::var(n).ok().filter(|s| !s.is_empty()));
    for (key, names) in [
        ("auth_kind", &["GCP_AUTH_KIND"][..]),
        ("service_account_file", &["GCP_SERVICE_ACCOUNT_FILE", "GCE_CREDENTIALS_FILE_PATH"][..]),
        ("service_account_contents", &["GCP_SERVICE_ACCOUNT_CONTENTS"][..]),
        ("service_account_email", &["GCP_SERVICE_ACCOUNT_EMAIL"][..]),
        ("access_token", &["GCP_ACCESS_TOKEN"][..]),
    ] {
        if !auth.contains_key(key) {
            auth.insert(key.into(), env(names).map_or(Json::Null, Json::String));
        }
    }
    if !auth.contains_key("scopes") {
        let scopes = env(&["GCP_SCOPES"])
            .map(|s| s.split(',').map(|x| x.trim().to_string()).collect())
            .unwrap_or_else(|| vec!["https://www.googleapis.com/auth/compute".to_string()]);
        auth.insert("scopes".into(), Json::Array(scopes.into_iter().map(Json::String).collect()));
    }
    match auth["auth_kind"].as_str() {
        Some("application" | "serviceaccount" | "machineaccount" | "accesstoken") => {}
        Some(other) => d.push(Diagnostic::error(
            DiagKind::Invalid,
            entries.first().map_or(prov_core::source::Span::NONE, |e| e.0.span),
            format!("auth_kind of google.cloud.gcp_compute is one of application, serviceaccount, machineaccount, accesstoken, got: {other}"),
        )),
        None => d.push(
            Diagnostic::error(
                DiagKind::Invalid,
                entries.first().map_or(prov_core::source::Span::NONE, |e| e.0.span),
                "the gcp_compute plugin needs `auth_kind` (or GCP_AUTH_KIND)",
            )
            .with_help("for example `auth_kind: application` (gcloud's application-default credentials)"),
        ),
    }
    o.auth = auth;
    (o, rest)
}

/// `_get_query_options`: the filters as one expression.
pub fn query(filters: &[String]) -> String {
    match filters {
        [] => String::new(),
        [one] => one.clone(),
        many => many
            .iter()
            .map(|f| if !f.starts_with('(') && !f.ends_with(')') { format!("({f})") } else { f.clone() })
            .collect::<Vec<_>>()
            .join(" "),
    }
}

/// `GcpInstance.convert`: an instance resource reshaped as the plugin gives it.
pub fn convert(mut i: Map<String, Json>) -> Result<Map<String, Json>, String> {
    for key in ["zone", "machineType"] {
        if let Some(link) = i.get(key).and_then(Json::as_str).map(str::to_string) {
            i.insert(format!("{key}_selflink"), Json::String(link.clone()));
            i.insert(key.into(), Json::String(link.rsplit('/').next().unwrap_or_default().to_string()));
        }
    }
    if let Some(nics) = i.get_mut("networkInterfaces").and_then(Json::as_array_mut) {
        for nic in nics {
            for key in ["network", "subnetwork"] {
                if let Some(link) = nic.get(key).and_then(Json::as_str).map(str::to_string) {
                    nic[key] = network_info(&link)?;
                }
            }
        }
    }
    if let Some(m) = i.get("metadata") {
        let mut out = Map::new();
        for pair in m.get("items").and_then(Json::as_array).into_iter().flatten() {
            let key = pair.get("key").and_then(Json::as_str).ok_or("a metadata item without `key`")?;
            out.insert(key.to_string(), pair.get("value").cloned().unwrap_or(Json::Null));
        }
        i.insert("metadata".into(), Json::Object(out));
    }
    let link = i.get("selfLink").and_then(Json::as_str).ok_or("an instance without `selfLink`")?;
    let project = link.split('/').nth(6).ok_or_else(|| format!("no project in {link}"))?.to_string();
    i.insert("project".into(), Json::String(project));
    i.insert("image".into(), Json::Null);
    Ok(i)
}

/// `_format_network_info`.
fn network_info(link: &str) -> Result<Json, String> {
    let parts: Vec<&str> = link.split('/').collect();
    let region = if parts.contains(&"global") {
        "global".to_string()
    } else {
        parts.get(8).ok_or_else(|| format!("no region in {link}"))?.to_string()
    };
    Ok(serde_json::json!({"region": region, "name": parts.last().copied().unwrap_or_default(), "selfLink": link}))
}

/// `GcpInstance.hostname`: the first preference the instance has a value for.
pub fn hostname(i: &Map<String, Json>, o: &GcpComputeOptions) -> Result<String, String> {
    let name = || format!("{}{}", i.get("name").and_then(Json::as_str).unwrap_or_default(), o.name_suffix);
    let nics = || i.get("networkInterfaces").and_then(Json::as_array).into_iter().flatten();
    for order in &o.hostnames {
        let found: Option<String> = if let Some(label) = order.strip_prefix("labels.") {
            i.get("labels").and_then(|l| l.get(label)).and_then(Json::as_str).map(str::to_string)
        } else {
            match order.as_str() {
                "public_ip" => nics()
                    .flat_map(|n| n.get("accessConfigs").and_then(Json::as_array).into_iter().flatten())
                    .find_map(|a| a.get("natIP").and_then(Json::as_str))
                    .map(str::to_string),
                "private_ip" => nics().find_map(|n| n.get("networkIP").and_then(Json::as_str)).map(str::to_string),
                "hostname" => Some(i.get("hostname").and_then(Json::as_str).map_or_else(name, str::to_string)),
                "name" => Some(name()),
                other => return Err(format!("{other} is not a valid hostname precedent")),
            }
        };
        if let Some(n) = found.filter(|n| !n.is_empty()) {
            return Ok(n);
        }
    }
    Err("No valid name found for host".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn filters_join_as_the_plugin_joins_them() {
        assert_eq!(query(&[]), "");
        assert_eq!(query(&["status = RUNNING".into()]), "status = RUNNING");
        assert_eq!(
            query(&["status = RUNNING".into(), "(labels.env = prod)".into()]),
            "(status = RUNNING) (labels.env = prod)"
        );
    }

    #[test]
    fn instances_are_reshaped_and_named_as_the_plugin_does() {
        let base = "https://www.googleapis.com/compute/v1/projects/p1";
        let i = json!({
            "name": "web-1",
            "zone": format!("{base}/zones/us-central1-a"),
            "machineType": format!("{base}/zones/us-central1-a/machineTypes/e2-small"),
            "networkInterfaces": [{"network": format!("{base}/global/networks/default"),
                "subnetwork": format!("{base}/regions/us-central1/subnetworks/default"), "networkIP": "10.0.0.2"}],
            "metadata": {"items": [{"key": "k", "value": "v"}]},
            "selfLink": format!("{base}/zones/us-central1-a/instances/web-1"),
        });
        let c = convert(i.as_object().cloned().expect("object")).expect("converts");
        assert_eq!(c["zone"], "us-central1-a");
        assert_eq!(c["machineType_selflink"], format!("{base}/zones/us-central1-a/machineTypes/e2-small"));
        assert_eq!(c["networkInterfaces"][0]["subnetwork"]["region"], "us-central1");
        assert_eq!(c["networkInterfaces"][0]["network"]["region"], "global");
        assert_eq!(c["metadata"], json!({"k": "v"}));
        assert_eq!(c["project"], "p1");
        let o = GcpComputeOptions {
            hostnames: vec!["public_ip".into(), "private_ip".into(), "name".into()],
            ..Default::default()
        };
        assert_eq!(hostname(&c, &o).expect("a name"), "10.0.0.2");
        let o =
            GcpComputeOptions { hostnames: vec!["labels.x".into(), "name".into()], name_suffix: ".lan".into(), ..o };
        assert_eq!(hostname(&c, &o).expect("a name"), "web-1.lan");
    }
}
