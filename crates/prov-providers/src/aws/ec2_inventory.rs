//! Listing for `plugin: amazon.aws.aws_ec2` files: every instance the file's filters select in
//! its regions, described as boto3 describes it ([`super::boto3`]).

use super::api::{from_sdk, retry, ApiError, PROVIDER};
use crate::aws_ec2::{Ec2Options, Filters, DEFAULT_STATES};
use crate::ProviderError;
use aws_config::{retry::RetryConfig, BehaviorVersion, Region};
use aws_sdk_ec2::types::Filter;
use aws_sdk_ec2::Client;
use serde_json::Value as Json;
use std::collections::HashSet;

/// The instances of the file, sorted by id, as the plugin lists them: those of `filters` and
/// each `include_filters` set, minus those of any `exclude_filters` set.
pub async fn list(o: &Ec2Options) -> Result<Vec<Json>, ProviderError> {
    let mut loader =
        aws_config::defaults(BehaviorVersion::latest()).retry_config(RetryConfig::standard().with_max_attempts(3));
    if let Some(r) = o.regions.first() {
        loader = loader.region(Region::new(r.clone()));
    }
    if let Some(e) = &o.endpoint {
        loader = loader.endpoint_url(e);
    }
    let sdk = loader.load().await;
    let client_for = |r: &str| {
        Client::from_conf(aws_sdk_ec2::config::Builder::from(&sdk).region(Region::new(r.to_string())).build())
    };
    let regions = if o.regions.is_empty() {
        if sdk.region().is_none() {
            return Err(ProviderError::Unavailable {
                provider: PROVIDER,
                message: "no AWS region to ask for the list of regions: set `regions:` in the inventory file, \
                          or AWS_REGION / a profile's region"
                    .into(),
            });
        }
        let client = Client::new(&sdk);
        let out = retry(|| async { client.describe_regions().send().await.map_err(from_sdk) })
            .await
            .map_err(|e| e.context("cannot list the regions"))?;
        out.regions().iter().filter_map(|r| r.region_name().map(str::to_string)).collect()
    } else {
        o.regions.clone()
    };
    let clients: Vec<(String, Client)> = regions.iter().map(|r| (r.clone(), client_for(r))).collect();
    let mut ignore = HashSet::new();
    for set in &o.exclude {
        for i in query(&clients, set, o.strict_permissions).await? {
            ignore.insert(id(&i));
        }
    }
    let mut out = Vec::new();
    for set in &o.include {
        for i in query(&clients, set, o.strict_permissions).await? {
            if ignore.insert(id(&i)) {
                out.push(i);
            }
        }
    }
    out.sort_by_key(id);
    Ok(out)
}

fn id(i: &Json) -> String {
    i["InstanceId"].as_str().unwrap_or_default().to_string()
}

/// One filter set in every region (with the default state filter when the set has none).
async fn query(clients: &[(String, Client)], set: &Filters, strict: bool) -> Result<Vec<Json>, ProviderError> {
    let mut filters: Vec<Filter> =
        set.iter().map(|(k, v)| Filter::builder().name(k).set_values(Some(v.clone())).build()).collect();
    if !set.iter().any(|(k, _)| k == "instance-state-name") {
        filters.push(
            Filter::builder()
                .name("instance-state-name")
                .set_values(Some(DEFAULT_STATES.iter().map(|s| s.to_string()).collect()))
                .build(),
        );
    }
    let mut out = Vec::new();
    for (region, client) in clients {
        match describe(client, &filters).await {
            Ok(found) => out.extend(found),
            Err(e) if !strict && e.is("UnauthorizedOperation") => continue,
            Err(e) => return Err(e.context(&format!("cannot describe instances in {region}"))),
        }
    }
    Ok(out)
}

async fn describe(client: &Client, filters: &[Filter]) -> Result<Vec<Json>, ApiError> {
    retry(|| async move {
        let mut pages = client.describe_instances().set_filters(Some(filters.to_vec())).into_paginator().send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(from_sdk)?;
            for r in page.reservations() {
                out.extend(r.instances().iter().map(|i| super::boto3::instance(r, i)));
            }
        }
        Ok(out)
    })
    .await
}
