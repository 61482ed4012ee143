//! What the amazon.aws modules prov runs share: the client their common arguments make,
//! their failures (a message and the fields returned with it), filters, and tags set and
//! removed as `ensure_ec2_tags` does.

use super::api::{from_sdk, retry, ApiError};
use crate::ec2_instance::AwsAccess;
use aws_config::{retry::RetryConfig, BehaviorVersion, Region};
use aws_sdk_ec2::types::{Filter, Tag};
use aws_sdk_ec2::Client;
use serde_json::{Map, Value as Json};

/// A JSON object, as boto3 gives dictionaries.
pub type Obj = Map<String, Json>;

/// A failure of a module: its message and the fields it returns with it.
#[derive(Debug)]
pub struct Fail {
    /// `msg`.
    pub msg: String,
    /// The other fields.
    pub fields: Obj,
}

impl Fail {
    /// A failure with a message only.
    pub fn new(msg: impl Into<String>) -> Fail {
        Fail { msg: msg.into(), fields: Obj::new() }
    }

    /// A failed call, after what the module was doing.
    pub fn api(what: &str, e: ApiError) -> Fail {
        Fail::new(format!("{what}: {e}"))
    }

    /// The result fields of the failure (`msg`, `changed` false unless set).
    pub fn into_fields(self) -> Obj {
        let mut fields = self.fields;
        fields.insert("msg".into(), Json::String(self.msg));
        fields.entry("changed").or_insert(Json::Bool(false));
        fields
    }
}

/// A result or a failure of a module.
pub type R<T> = Result<T, Fail>;

/// An EC2 client with the module's region, endpoint and credentials (`module`: its name in
/// the error without a region).
pub async fn client(a: &AwsAccess, module: &str) -> R<Client> {
    let mut loader =
        aws_config::defaults(BehaviorVersion::latest()).retry_config(RetryConfig::standard().with_max_attempts(3));
    if let Some(p) = &a.profile {
        loader = loader.profile_name(p);
    }
    if let Some(r) = &a.region {
        loader = loader.region(Region::new(r.clone()));
    }
    if let Some(e) = &a.endpoint_url {
        loader = loader.endpoint_url(e);
    }
    if let (Some(k), Some(s)) = (&a.access_key, &a.secret_key) {
        loader = loader.credentials_provider(aws_sdk_ec2::config::Credentials::new(
            k,
            s,
            a.session_token.clone(),
            None,
            "module arguments",
        ));
    }
    let sdk = loader.load().await;
    if sdk.region().is_none() {
        return Err(Fail::new(format!(
            "The {module} module requires a region and none was found in configuration, environment variables or \
             module parameters"
        )));
    }
    Ok(Client::new(&sdk))
}

/// A resource as the modules return it: boto3's description in snake case, `Tags` as the
/// mapping `tags`.
pub fn described(v: &Json) -> Obj {
    let empty = Obj::new();
    let mut out = crate::aws_ec2::camel_dict_to_snake(v.as_object().unwrap_or(&empty), &["Tags"]);
    out.insert("tags".into(), Json::Object(crate::aws_ec2::tags(v)));
    out
}

/// A DescribeX filter.
pub fn filter(name: &str, values: &[String]) -> Filter {
    Filter::builder().name(name).set_values(Some(values.to_vec())).build()
}

/// Owned strings.
pub fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// A JSON list of strings.
pub fn ids_json(ids: &[String]) -> Json {
    Json::Array(ids.iter().map(|s| Json::String(s.clone())).collect())
}

/// Sets and removes the tags of a resource so that it has `wanted` (with `purge`, only
/// those; `aws:` tags stay unless `wanted` is empty); whether anything changed (or would, in
/// `check` mode).
pub async fn ensure_tags(
    client: &Client,
    check: bool,
    id: &str,
    current: &Obj,
    wanted: &[(String, String)],
    purge: bool,
) -> R<bool> {
    let mut unset: Vec<String> = Vec::new();
    if purge {
        unset = current
            .keys()
            .filter(|k| !wanted.iter().any(|(w, _)| w == *k) && !k.starts_with("aws:"))
            .cloned()
            .collect();
    }
    let set: Vec<(String, String)> = wanted
        .iter()
        .filter(|(k, v)| !unset.contains(k) && current.get(k).and_then(Json::as_str) != Some(v.as_str()))
        .cloned()
        .collect();
    if purge && wanted.is_empty() {
        unset = current.keys().cloned().collect();
    }
    let changed = !set.is_empty() || !unset.is_empty();
    if check || !changed {
        return Ok(changed);
    }
    if !unset.is_empty() {
        retry(|| async {
            let tags: Vec<Tag> = unset.iter().map(|k| Tag::builder().key(k).build()).collect();
            client.delete_tags().resources(id).set_tags(Some(tags)).send().await.map_err(from_sdk)
        })
        .await
        .map_err(|e| Fail::api(&format!("Failed to remove tags {unset:?} from resource {id}"), e))?;
    }
    if !set.is_empty() {
        retry(|| async {
            let tags: Vec<Tag> = set.iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect();
            client.create_tags().resources(id).set_tags(Some(tags)).send().await.map_err(from_sdk)
        })
        .await
        .map_err(|e| Fail::api(&format!("Failed to set tags on resource {id}"), e))?;
    }
    Ok(true)
}

/// The tags of a resource, from `describe_tags` (of `kind`, `elastic-ip`, ... when given).
pub async fn current_tags(client: &Client, id: &str, kind: Option<&str>) -> R<Obj> {
    let out = retry(|| async {
        let mut req = client.describe_tags().filters(filter("resource-id", &[id.to_string()]));
        if let Some(k) = kind {
            req = req.filters(filter("resource-type", &[k.to_string()]));
        }
        let mut pages = req.into_paginator().send();
        let mut tags = Obj::new();
        while let Some(page) = pages.next().await {
            for t in page.map_err(from_sdk)?.tags() {
                tags.insert(
                    t.key().unwrap_or_default().to_string(),
                    Json::String(t.value().unwrap_or_default().to_string()),
                );
            }
        }
        Ok(tags)
    })
    .await;
    out.map_err(|e| Fail::api(&format!("Couldn't describe tags for resource {id}"), e))
}
