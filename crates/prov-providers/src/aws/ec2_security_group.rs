//! `amazon.aws.ec2_security_group` made with aws-sdk-ec2: the group found by name (in
//! `vpc_id`) or id, created, re-tagged, its rules expanded (every port × every source),
//! compared with the group's without descriptions, descriptions updated, rules not asked for
//! revoked (`purge_rules`, `purge_rules_egress`), new ones authorized, groups named by rules
//! created when they have a `group_desc`; the result is the group as described afterwards,
//! and with `--diff` the module's before/after. Check mode makes the same reads, no change.
//!
//! The account id (the module asks STS) is the owner of the account's security groups.

use super::api::{from_sdk, retry, ApiError};
use super::boto3;
use super::module::{client, described, ensure_tags, filter, Fail, Obj, R};
use crate::aws_ec2::tags as tag_map;
use crate::ec2_instance::Report;
use crate::ec2_security_group::Params;
use crate::python::py_repr;
use crate::ProviderError;
use aws_sdk_ec2::types::{
    IpPermission, IpRange, Ipv6Range, PrefixListId, ResourceType, Tag, TagSpecification, UserIdGroupPair,
};
use aws_sdk_ec2::Client;
use prov_core::template::filters::json_dumps;
use serde_json::{json, Value as Json};
use std::collections::HashMap;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::Duration;

/// Where a rule lets traffic from (or to).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Target {
    /// An IPv4 or IPv6 range, or a prefix list id.
    Text(String),
    /// A group: (owner, id, name).
    Group(Option<String>, Option<String>, Option<String>),
}

/// One rule: ports, protocol, one target, its kind (`ipv4`, `ipv6`, `group`, `ip_prefix`)
/// and description.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Rule {
    ports: (Option<i64>, Option<i64>),
    proto: String,
    target: Target,
    kind: &'static str,
    desc: Option<String>,
}

/// Whether two rules are the same but for their descriptions (with equal protocols, no
/// ports and `-1` ports are the same).
fn rule_cmp(a: &Rule, b: &Rule) -> bool {
    let any = |p: (Option<i64>, Option<i64>)| p == (None, None) || p == (Some(-1), Some(-1));
    let ports = (a.proto == b.proto && any(a.ports) && any(b.ports)) || a.ports == b.ports;
    ports && a.proto == b.proto && a.target == b.target && a.kind == b.kind
}

fn text(v: &Json) -> Option<String> {
    v.as_str().map(str::to_string)
}

/// The rules of one permission of a described group.
fn rules_of_permission(p: &Json, account: &str) -> Vec<Rule> {
    let ports = match (p.get("FromPort"), p.get("ToPort")) {
        (None, None) => (None, None),
        (f, t) => (f.and_then(Json::as_i64), t.and_then(Json::as_i64)),
    };
    let proto = p["IpProtocol"].as_str().unwrap_or_default().to_string();
    let mut out = Vec::new();
    for (key, sub, kind) in [
        ("IpRanges", "CidrIp", "ipv4"),
        ("Ipv6Ranges", "CidrIpv6", "ipv6"),
        ("PrefixListIds", "PrefixListId", "ip_prefix"),
    ] {
        for r in p.get(key).and_then(Json::as_array).into_iter().flatten() {
            out.push(Rule {
                ports,
                proto: proto.clone(),
                target: Target::Text(r[sub].as_str().unwrap_or_default().to_string()),
                kind,
                desc: text(&r["Description"]),
            });
        }
    }
    for pair in p.get("UserIdGroupPairs").and_then(Json::as_array).into_iter().flatten() {
        let user = pair.get("UserId").and_then(Json::as_str);
        let target = if user.unwrap_or_default().starts_with("amazon-") {
            Target::Group(user.map(str::to_string), None, text(&pair["GroupName"]))
        } else if pair.get("VpcPeeringConnectionId").is_some() {
            Target::Group(user.map(str::to_string), text(&pair["GroupId"]), None)
        } else {
            Target::Group(Some(user.unwrap_or(account).to_string()), text(&pair["GroupId"]), None)
        };
        out.push(Rule { ports, proto: proto.clone(), target, kind: "group", desc: text(&pair["Description"]) });
    }
    out
}

fn rules_of(group: &Json, key: &str, account: &str) -> Vec<Rule> {
    group[key].as_array().into_iter().flatten().flat_map(|p| rules_of_permission(p, account)).collect()
}

/// The permission that authorizes or revokes one rule.
fn to_permission(r: &Rule) -> Json {
    let mut p = Obj::new();
    p.insert("IpProtocol".into(), json!(r.proto));
    if let Some(f) = r.ports.0 {
        p.insert("FromPort".into(), json!(f));
    }
    if let Some(t) = r.ports.1 {
        p.insert("ToPort".into(), json!(t));
    }
    let mut item = Obj::new();
    let key = match (&r.target, r.kind) {
        (Target::Text(t), "ipv4") => {
            item.insert("CidrIp".into(), json!(t));
            "IpRanges"
        }
        (Target::Text(t), "ipv6") => {
            item.insert("CidrIpv6".into(), json!(t));
            "Ipv6Ranges"
        }
        (Target::Text(t), _) => {
            item.insert("PrefixListId".into(), json!(t));
            "PrefixListIds"
        }
        (Target::Group(user, id, name), _) => {
            if let Some(u) = user.as_ref().filter(|u| !u.is_empty()) {
                item.insert("UserId".into(), json!(u));
            }
            match (id.as_ref().filter(|s| !s.is_empty()), name.as_ref().filter(|s| !s.is_empty())) {
                (Some(i), _) => {
                    item.insert("GroupId".into(), json!(i));
                }
                (None, Some(n)) => {
                    item.insert("GroupName".into(), json!(n));
                }
                _ => {}
            }
            "UserIdGroupPairs"
        }
    };
    if let Some(d) = r.desc.as_ref().filter(|d| !d.is_empty()) {
        item.insert("Description".into(), json!(d));
    }
    p.insert(key.into(), json!([item]));
    Json::Object(p)
}

/// The SDK's permission of [`to_permission`]'s.
fn sdk_permission(p: &Json) -> IpPermission {
    let s = |v: &Json, k: &str| v.get(k).and_then(Json::as_str).map(str::to_string);
    let items = |k: &str| p.get(k).and_then(Json::as_array).cloned();
    IpPermission::builder()
        .set_ip_protocol(s(p, "IpProtocol"))
        .set_from_port(p.get("FromPort").and_then(Json::as_i64).map(|n| n as i32))
        .set_to_port(p.get("ToPort").and_then(Json::as_i64).map(|n| n as i32))
        .set_ip_ranges(items("IpRanges").map(|v| {
            v.iter()
                .map(|x| IpRange::builder().set_cidr_ip(s(x, "CidrIp")).set_description(s(x, "Description")).build())
                .collect()
        }))
        .set_ipv6_ranges(items("Ipv6Ranges").map(|v| {
            v.iter()
                .map(|x| {
                    Ipv6Range::builder().set_cidr_ipv6(s(x, "CidrIpv6")).set_description(s(x, "Description")).build()
                })
                .collect()
        }))
        .set_prefix_list_ids(items("PrefixListIds").map(|v| {
            v.iter()
                .map(|x| {
                    PrefixListId::builder()
                        .set_prefix_list_id(s(x, "PrefixListId"))
                        .set_description(s(x, "Description"))
                        .build()
                })
                .collect()
        }))
        .set_user_id_group_pairs(items("UserIdGroupPairs").map(|v| {
            v.iter()
                .map(|x| {
                    UserIdGroupPair::builder()
                        .set_user_id(s(x, "UserId"))
                        .set_group_id(s(x, "GroupId"))
                        .set_group_name(s(x, "GroupName"))
                        .set_description(s(x, "Description"))
                        .build()
                })
                .collect()
        }))
        .build()
}

const SOURCES: [&str; 5] = ["cidr_ip", "cidr_ipv6", "group_id", "group_name", "ip_prefix"];
const PORT_KEYS: [&str; 5] = ["from_port", "to_port", "ports", "icmp_type", "icmp_code"];

/// Flattens nested lists of `cidr_ip` / `cidr_ipv6` (an old form the module still reads).
fn flatten_targets(rules: &[Json]) -> Vec<Json> {
    fn flat(v: &Json, out: &mut Vec<Json>) {
        match v {
            Json::Array(a) => a.iter().for_each(|x| flat(x, out)),
            Json::String(_) => out.push(v.clone()),
            _ => {}
        }
    }
    rules
        .iter()
        .map(|r| {
            let mut r = r.clone();
            let key = ["cidr_ip", "cidr_ipv6"].into_iter().find(|k| r.get(*k).is_some_and(Json::is_array));
            if let (Some(k), Some(m)) = (key, r.as_object_mut()) {
                let mut out = Vec::new();
                flat(&m[k], &mut out);
                m.insert(k.into(), Json::Array(out));
            }
            r
        })
        .collect()
}

/// `[(from, to)]` of a `ports` list (`"22"`, `"8000-8010"`).
fn expand_ports(ports: &[Json]) -> R<Vec<(i64, i64)>> {
    let mut out = Vec::new();
    for p in ports {
        let s = p.as_str().map(str::to_string).unwrap_or_else(|| p.to_string());
        let bad = || {
            let mut f = Fail::new("Unable to parse port");
            f.fields.insert("port".into(), json!(s));
            f
        };
        let pair = match s.trim().parse::<i64>() {
            Ok(n) => (n, n),
            Err(_) => {
                let (a, b) = s.split_once('-').ok_or_else(bad)?;
                let (a, b) = (a.trim().parse::<i64>().map_err(|_| bad())?, b.trim().parse::<i64>().map_err(|_| bad())?);
                (a.min(b), a.max(b))
            }
        };
        out.push(pair);
    }
    Ok(out)
}

/// Every port range × every source of a rule, each a rule of its own.
fn expand_rule(rule: &Json) -> R<Vec<Json>> {
    let m = rule.as_object().cloned().unwrap_or_default();
    let m: Obj = m.into_iter().filter(|(_, v)| !v.is_null()).collect();
    let ports: Vec<Obj> = if let Some(t) = m.get("icmp_type") {
        vec![[
            ("from_port".to_string(), t.clone()),
            ("to_port".into(), m.get("icmp_code").cloned().unwrap_or(Json::Null)),
        ]
        .into_iter()
        .collect()]
    } else if m.contains_key("from_port") || m.contains_key("to_port") {
        vec![[
            ("from_port".to_string(), m.get("from_port").cloned().unwrap_or(Json::Null)),
            ("to_port".into(), m.get("to_port").cloned().unwrap_or(Json::Null)),
        ]
        .into_iter()
        .collect()]
    } else if let Some(p) = m.get("ports").and_then(Json::as_array) {
        expand_ports(p)?
            .into_iter()
            .map(|(f, t)| [("from_port".to_string(), json!(f)), ("to_port".into(), json!(t))].into_iter().collect())
            .collect()
    } else {
        vec![Obj::new()]
    };
    let mut sources: Vec<(String, Json)> = Vec::new();
    for kind in SOURCES {
        if let Some(v) = m.get(kind) {
            for t in v.as_array().cloned().unwrap_or_else(|| vec![v.clone()]) {
                sources.push((kind.to_string(), t));
            }
        }
    }
    if sources.is_empty() {
        let mut f = Fail::new("Unable to find source/target information in rule");
        f.fields.insert("rule".into(), Json::Object(m));
        return Err(f);
    }
    let stripped: Obj = m
        .iter()
        .filter(|(k, _)| !SOURCES.contains(&k.as_str()) && !PORT_KEYS.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let mut out = Vec::new();
    for p in &ports {
        for (k, t) in &sources {
            let mut r = stripped.clone();
            r.extend(p.clone());
            r.insert(k.clone(), t.clone());
            out.push(Json::Object(r));
        }
    }
    Ok(out)
}

/// The rules expanded, without duplicates (first place kept).
fn expand_rules(rules: &Option<Vec<Json>>) -> R<Option<Vec<Json>>> {
    let Some(rules) = rules else { return Ok(None) };
    let mut out: Vec<Json> = Vec::new();
    let mut seen: Vec<String> = Vec::new();
    for r in flatten_targets(rules) {
        for x in expand_rule(&r)? {
            // The module's key for duplicate rules: json.dumps(rule, sort_keys=True).
            let key = json_dumps(&x, None, true).unwrap_or_else(|_| x.to_string());
            if !seen.contains(&key) {
                seen.push(key);
                out.push(x);
            }
        }
    }
    Ok(Some(out))
}

fn parse_masklen(s: &str, max: u8) -> Option<u8> {
    s.trim().parse::<u8>().ok().filter(|n| *n <= max)
}

/// A dotted IPv4 netmask's length.
fn netmask_len(s: &str) -> Option<u8> {
    let m: Ipv4Addr = s.parse().ok()?;
    let bits = u32::from(m);
    let len = bits.leading_ones();
    (bits.checked_shl(len).unwrap_or(0) == 0).then_some(len as u8)
}

/// A range as `ipaddress.ip_network()` writes it, or with its host bits cleared and a
/// warning, as the module does.
fn validate_ip(cidr: &str) -> (String, Option<String>) {
    let parts: Vec<&str> = cidr.split('/').collect();
    if parts.len() != 2 {
        return (cidr.to_string(), None);
    }
    let (addr, mask) = (parts[0], parts[1]);
    if let Ok(a) = addr.parse::<Ipv4Addr>() {
        if let Some(len) = parse_masklen(mask, 32).or_else(|| netmask_len(mask)) {
            let bits = u32::from(a);
            let net = if len == 0 { 0 } else { bits & (u32::MAX << (32 - len)) };
            if net == bits {
                return (format!("{}/{len}", Ipv4Addr::from(net)), None);
            }
            let fixed = format!("{}/{len}", Ipv4Addr::from(net));
            return (
                fixed.clone(),
                Some(format!(
                    "One of your CIDR addresses ({cidr}) has host bits set. To get rid of this warning, check the network \
                     mask and make sure that only network bits are set: {fixed}."
                )),
            );
        }
    }
    if let (Ok(a), Some(len)) = (addr.parse::<Ipv6Addr>(), parse_masklen(mask, 128)) {
        let bits = u128::from(a);
        let net = if len == 0 { 0 } else { bits & (u128::MAX << (128 - len)) };
        if net == bits {
            return (format!("{}/{len}", Ipv6Addr::from(net)), None);
        }
    }
    // The module's fallback: the first four groups of what is before `::`.
    let prefix = addr.split("::").next().unwrap_or_default();
    let mut groups: Vec<&str> = prefix.split(':').take(4).collect();
    if groups.len() < 4 {
        groups.push("::");
    }
    let mut net = String::new();
    for g in groups {
        if g != "::" {
            net.push_str(g);
        }
        net.push(':');
    }
    if !net.ends_with("::") {
        net.push(':');
    }
    let fixed = format!("{net}/{mask}");
    (
        fixed.clone(),
        Some(format!(
            "One of your IPv6 CIDR addresses ({cidr}) has host bits set. To get rid of this warning, check the network \
             mask and make sure that only network bits are set: {fixed}."
        )),
    )
}

/// Runs the module.
pub async fn run(p: &Params, check: bool) -> Result<Report, ProviderError> {
    let client = match client(&p.access, "ec2_security_group").await {
        Ok(c) => c,
        Err(f) => return Ok(Report { fields: f.into_fields(), failed: true, warnings: Vec::new() }),
    };
    let mut m = Module { p, check, client, warnings: Vec::new(), account: String::new() };
    let out = m.main().await;
    let warnings = std::mem::take(&mut m.warnings);
    Ok(match out {
        Ok(fields) => Report { fields, failed: false, warnings },
        Err(f) => Report { fields: f.into_fields(), failed: true, warnings },
    })
}

struct Module<'a> {
    p: &'a Params,
    check: bool,
    client: Client,
    warnings: Vec<String>,
    account: String,
}

impl Module<'_> {
    async fn describe(&self, ids: Option<Vec<String>>, filters: Vec<(String, Vec<String>)>) -> R<Vec<Json>> {
        let client = &self.client;
        retry(|| async {
            let mut pages = client
                .describe_security_groups()
                .set_group_ids(ids.clone())
                .set_filters(Some(filters.iter().map(|(k, v)| filter(k, v)).collect()))
                .into_paginator()
                .send();
            let mut out = Vec::new();
            while let Some(page) = pages.next().await {
                out.extend(page.map_err(from_sdk)?.security_groups().iter().map(boto3::security_group));
            }
            Ok(out)
        })
        .await
        .map_err(|e: ApiError| Fail::api("Failed to describe security groups", e))
    }

    async fn by_id(&self, id: &str) -> R<Json> {
        self.describe(Some(vec![id.to_string()]), Vec::new())
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| Fail::new(format!("Security group {id} was not found")))
    }

    /// The group of `name`/`group_id` (the last match) and every group by id and by name
    /// (those of `vpc_id` winning), as the module's `group_exists`; and the account id, the
    /// owner of the account's groups.
    async fn group_exists(
        &self,
        group_ids: Option<Vec<String>>,
        names: Option<Vec<String>>,
    ) -> R<(Option<Json>, HashMap<String, Json>, String)> {
        let mut filters = Vec::new();
        if let Some(n) = names {
            filters.push(("group-name".to_string(), n));
        }
        if let Some(v) = &self.p.vpc_id {
            filters.push(("vpc-id".to_string(), vec![v.clone()]));
        }
        let found = self.describe(group_ids, filters).await?;
        let all = self.describe(None, Vec::new()).await?;
        let account = all.iter().find_map(|g| g["OwnerId"].as_str().map(str::to_string)).unwrap_or_default();
        let Some(last) = found.last().cloned() else { return Ok((None, HashMap::new(), account)) };
        let mut groups = HashMap::new();
        for g in &all {
            groups.insert(g["GroupId"].as_str().unwrap_or_default().to_string(), g.clone());
        }
        for g in &all {
            groups.insert(g["GroupName"].as_str().unwrap_or_default().to_string(), g.clone());
        }
        if let Some(v) = &self.p.vpc_id {
            for g in all.iter().filter(|g| g["VpcId"].as_str() == Some(v)) {
                groups.insert(g["GroupName"].as_str().unwrap_or_default().to_string(), g.clone());
            }
        }
        Ok((Some(last), groups, account))
    }

    async fn main(&mut self) -> R<Obj> {
        let p = self.p;
        let (group, mut groups, account) =
            self.group_exists(p.group_id.clone().map(|g| vec![g]), p.name.clone().map(|n| vec![n])).await?;
        self.account = account;
        let before = group.as_ref().map(described).unwrap_or_default();
        let mut result = Obj::new();
        let changed;
        let mut security_group: Obj = [("group_id".to_string(), Json::Null)].into_iter().collect();
        if p.state == "absent" {
            changed = self.ensure_absent(group.as_ref()).await?;
        } else {
            let (c, sg) = self.ensure_present(group, &mut groups).await?;
            changed = c;
            security_group = sg;
        }
        result.insert("changed".into(), json!(changed));
        if p.diff {
            let after = match p.state.as_str() {
                "present" => self.final_resource(&security_group).await?,
                _ => Obj::new(),
            };
            security_group.insert("diff".into(), json!([{ "before": sort_group(before), "after": sort_group(after) }]));
        }
        result.extend(security_group);
        Ok(result)
    }

    async fn ensure_absent(&self, group: Option<&Json>) -> R<bool> {
        let Some(g) = group else { return Ok(false) };
        if self.check {
            return Ok(true);
        }
        let id = g["GroupId"].as_str().unwrap_or_default().to_string();
        let client = &self.client;
        retry(|| async { client.delete_security_group().group_id(&id).send().await.map_err(from_sdk) })
            .await
            .map_err(|e| Fail::api(&format!("Unable to delete security group '{}'", py_repr(g)), e))?;
        Ok(true)
    }

    async fn create_group(&self, name: &str, description: &str, vpc: Option<&str>) -> R<String> {
        let client = &self.client;
        let tags = self.p.tags.clone().unwrap_or_default();
        let out = retry(|| async {
            let mut req = client
                .create_security_group()
                .group_name(name)
                .description(description)
                .set_vpc_id(vpc.map(str::to_string));
            if !tags.is_empty() {
                req = req.tag_specifications(
                    TagSpecification::builder()
                        .resource_type(ResourceType::SecurityGroup)
                        .set_tags(Some(tags.iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect()))
                        .build(),
                );
            }
            req.send().await.map_err(from_sdk)
        })
        .await;
        match out {
            Ok(o) => Ok(o.group_id().unwrap_or_default().to_string()),
            Err(e) => Err(e.into_fail()),
        }
    }

    /// The new group, once AWS shows it (with its default egress rule in a VPC).
    async fn created(&self, id: &str) -> R<Json> {
        let mut delay = Duration::from_millis(200);
        for _ in 0..30 {
            if let Ok(g) = self.by_id(id).await {
                let has_egress = g["IpPermissionsEgress"].as_array().is_some_and(|a| !a.is_empty());
                if g.get("VpcId").is_none() || has_egress {
                    return Ok(g);
                }
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(3));
        }
        self.by_id(id).await
    }

    /// The id of the group a rule names: this group, a known one, one found by name, or one
    /// made with the rule's `group_desc` (not in check mode).
    async fn group_name_target(
        &self,
        rule: &Json,
        group: &Json,
        groups: &mut HashMap<String, Json>,
    ) -> R<(Option<String>, bool)> {
        let p = self.p;
        let gname = rule["group_name"].as_str().unwrap_or_default().to_string();
        if Some(&gname) == p.name.as_ref() {
            let id = group["GroupId"].as_str().map(str::to_string);
            groups.insert(id.clone().unwrap_or_default(), group.clone());
            groups.insert(gname, group.clone());
            return Ok((id, false));
        }
        if let Some(known) = groups.get(&gname) {
            let both_vpc =
                group.get("VpcId").is_some_and(|v| !v.is_null()) && known.get("VpcId").is_some_and(|v| !v.is_null());
            let neither = group.get("VpcId").is_none_or(Json::is_null) && known.get("VpcId").is_none_or(Json::is_null);
            if both_vpc || neither {
                return Ok((known["GroupId"].as_str().map(str::to_string), false));
            }
        }
        let desc = rule.get("group_desc").and_then(Json::as_str).unwrap_or_default().trim().to_string();
        let (found, changed) = if desc.is_empty() {
            let msg = format!(
                "group '{gname}' not found and would be automatically created by rule {} but no description was provided",
                py_repr(rule)
            );
            (Some(self.lookup(&gname, &msg).await?), false)
        } else if self.check {
            (None, true)
        } else {
            let vpc = p.vpc_id.clone();
            let raw_desc = rule["group_desc"].as_str().unwrap_or_default().to_string();
            match self.create_group(&gname, &raw_desc, vpc.as_deref()).await {
                Ok(id) => (Some(self.created(&id).await?), true),
                Err(f) if f.msg.starts_with("InvalidGroup.Duplicate") => {
                    let msg = format!(
                        "Could not create or use existing group '{gname}' in rule {}.  Make sure the group exists and \
                         try using the group_id instead of the name",
                        py_repr(rule)
                    );
                    (Some(self.lookup(&gname, &msg).await?), false)
                }
                Err(f) => {
                    return Err(Fail::new(format!(
                        "Failed to create security group '{gname}' in rule {}: {}",
                        py_repr(rule),
                        f.msg
                    )))
                }
            }
        };
        let id = found.as_ref().and_then(|g| g["GroupId"].as_str().map(str::to_string));
        if let Some(g) = found {
            groups.insert(id.clone().unwrap_or_default(), g.clone());
            groups.insert(gname, g);
        }
        Ok((id, changed))
    }

    async fn lookup(&self, name: &str, msg: &str) -> R<Json> {
        let mut filters = vec![("group-name".to_string(), vec![name.to_string()])];
        if let Some(v) = &self.p.vpc_id {
            filters.push(("vpc-id".to_string(), vec![v.clone()]));
        }
        self.describe(None, filters).await?.into_iter().next().ok_or_else(|| Fail::new(msg))
    }

    /// The kind and target of a rule, and whether a group was (or would be) made for it.
    async fn target(
        &mut self,
        rule: &Json,
        group: &Json,
        groups: &mut HashMap<String, Json>,
    ) -> R<(&'static str, Target, bool)> {
        if let Some(gid) = rule.get("group_id").and_then(Json::as_str).filter(|s| !s.is_empty()) {
            let re = regex::Regex::new(r"^([^/]+)/?(sg-\S+)?/(\S+)").expect("regex");
            let Some(c) = re.captures(gid) else {
                return Ok(("group", Target::Group(Some(self.account.clone()), Some(gid.to_string()), None), false));
            };
            let owner = c.get(1).map(|m| m.as_str().to_string());
            let mut id = c.get(2).map(|m| m.as_str().to_string());
            let mut name = c.get(3).map(|m| m.as_str().to_string());
            let instance = json!({ "UserId": owner, "GroupId": id, "GroupName": name });
            groups.insert(id.clone().unwrap_or_else(|| "None".into()), instance.clone());
            groups.insert(name.clone().unwrap_or_default(), instance);
            if id.is_some() && name.is_some() {
                if name.as_deref().unwrap_or_default().starts_with("amazon-") {
                    id = None;
                } else {
                    name = None;
                }
            }
            return Ok(("group", Target::Group(owner, id, name), false));
        }
        if rule.get("group_name").is_some() {
            let (id, changed) = self.group_name_target(rule, group, groups).await?;
            return Ok(("group", Target::Group(Some(self.account.clone()), id, None), changed));
        }
        for (key, kind) in [("cidr_ip", "ipv4"), ("cidr_ipv6", "ipv6")] {
            if let Some(v) = rule.get(key) {
                let (ip, warning) = validate_ip(v.as_str().unwrap_or_default());
                if let Some(w) = warning {
                    self.warnings.push(w);
                }
                return Ok((kind, Target::Text(ip), false));
            }
        }
        if let Some(v) = rule.get("ip_prefix") {
            return Ok(("ip_prefix", Target::Text(v.as_str().unwrap_or_default().to_string()), false));
        }
        let mut f = Fail::new("Could not match target for rule");
        f.fields.insert("failed_rule".into(), rule.clone());
        Err(f)
    }

    async fn ensure_present(&mut self, group: Option<Json>, groups: &mut HashMap<String, Json>) -> R<(bool, Obj)> {
        let p = self.p;
        let name = p.name.clone().unwrap_or_default();
        let description = p.description.clone().unwrap_or_default();
        let rules = expand_rules(&p.rules)?;
        let rules_egress = expand_rules(&p.rules_egress)?;
        let mut changed = false;
        let mut created_new = false;
        let group = match group {
            None => {
                changed = true;
                if self.check {
                    return Ok((true, [("group_id".to_string(), Json::Null)].into_iter().collect()));
                }
                let id = self
                    .create_group(&name, &description, p.vpc_id.as_deref())
                    .await
                    .map_err(|f| Fail::new(format!("Unable to create security group: {}", f.msg)))?;
                created_new = true;
                self.created(&id).await?
            }
            Some(g) => {
                if g["Description"].as_str() != Some(description.as_str()) {
                    self.warnings.push(
                        "Group description does not match existing group. Descriptions cannot be changed without \
                         deleting and re-creating the security group. Try using state=absent to delete, then rerunning \
                         this task."
                            .into(),
                    );
                }
                g
            }
        };
        let gid = group["GroupId"].as_str().unwrap_or_default().to_string();
        if let Some(tags) = &p.tags {
            changed |= ensure_tags(&self.client, self.check, &gid, &tag_map(&group), tags, p.purge_tags).await?;
        }
        let account = self.account.clone();
        let current_ingress = rules_of(&group, "IpPermissions", &account);
        let mut current_egress = rules_of(&group, "IpPermissionsEgress", &account);
        let mut ingress: Vec<Rule> = Vec::new();
        let mut egress: Vec<Rule> = Vec::new();
        for (new_rules, list) in [(&rules, &mut ingress), (&rules_egress, &mut egress)] {
            let Some(new_rules) = new_rules else { continue };
            for rule in new_rules {
                let (kind, target, made) = self.target(rule, &group, groups).await?;
                changed |= made;
                let mut proto = match &rule["proto"] {
                    Json::String(s) => s.clone(),
                    Json::Null => "None".into(),
                    other => other.to_string(),
                };
                let mut ports = (rule.get("from_port").cloned(), rule.get("to_port").cloned());
                if proto == "all" || proto == "-1" || proto.trim().parse::<i64>().is_ok() {
                    if proto == "all" {
                        proto = "-1".into();
                    }
                    ports = (Some(Json::Null), Some(Json::Null));
                }
                let (Some(from), Some(to)) = ports else {
                    return Err(Fail::new("Task failed: Module failed: 'from_port'"));
                };
                list.push(Rule {
                    ports: (from.as_i64(), to.as_i64()),
                    proto,
                    target,
                    kind,
                    desc: rule.get("rule_desc").and_then(Json::as_str).map(str::to_string),
                });
            }
        }
        if p.rules_egress.is_none() && group.get("VpcId").is_some() {
            let default = Rule {
                ports: (None, None),
                proto: "-1".into(),
                target: Target::Text("0.0.0.0/0".into()),
                kind: "ipv4",
                desc: None,
            };
            if current_egress.contains(&default) {
                egress.push(default);
            } else {
                current_egress.push(default);
            }
        }
        let union = |a: &[Rule], b: &[Rule]| {
            let mut out: Vec<Rule> = Vec::new();
            for r in a.iter().chain(b) {
                if !out.contains(r) {
                    out.push(r.clone());
                }
            }
            out
        };
        let present_ingress = union(&ingress, &current_ingress);
        let present_egress = union(&egress, &current_egress);
        let revoke_ingress: Vec<Json> = match p.purge_rules {
            true => {
                present_ingress.iter().filter(|x| !ingress.iter().any(|b| rule_cmp(x, b))).map(to_permission).collect()
            }
            false => Vec::new(),
        };
        let revoke_egress: Vec<Json> = match p.purge_rules_egress && p.rules_egress.is_some() {
            true => {
                present_egress.iter().filter(|x| !egress.iter().any(|b| rule_cmp(x, b))).map(to_permission).collect()
            }
            false => Vec::new(),
        };
        let desired_ingress = ingress.clone();
        let desired_egress = egress.clone();
        // Descriptions to update (those rules are then not authorized again).
        let mut describe_in = Vec::new();
        let mut describe_out = Vec::new();
        for (present, list, out) in
            [(&present_egress, &mut egress, &mut describe_out), (&present_ingress, &mut ingress, &mut describe_in)]
        {
            for pr in present {
                let (update, keep): (Vec<Rule>, Vec<Rule>) =
                    list.drain(..).partition(|r| rule_cmp(r, pr) && r.desc != pr.desc);
                *list = keep;
                out.extend(update);
            }
        }
        for (rules, outbound) in [(&describe_in, false), (&describe_out, true)] {
            if rules.is_empty() {
                continue;
            }
            changed = true;
            if !self.check {
                let perms: Vec<IpPermission> = rules.iter().map(|r| sdk_permission(&to_permission(r))).collect();
                let client = &self.client;
                let r = retry(|| async {
                    if outbound {
                        client
                            .update_security_group_rule_descriptions_egress()
                            .group_id(&gid)
                            .set_ip_permissions(Some(perms.clone()))
                            .send()
                            .await
                            .map(|_| ())
                            .map_err(from_sdk)
                    } else {
                        client
                            .update_security_group_rule_descriptions_ingress()
                            .group_id(&gid)
                            .set_ip_permissions(Some(perms.clone()))
                            .send()
                            .await
                            .map(|_| ())
                            .map_err(from_sdk)
                    }
                })
                .await;
                r.map_err(|e| Fail::api(&format!("Unable to update rule description for group {gid}"), e))?;
            }
        }
        for (perms, outbound) in [(&revoke_ingress, false), (&revoke_egress, true)] {
            if !perms.is_empty() {
                changed = true;
                self.permissions("revoke", outbound, &gid, perms).await?;
            }
        }
        let new_in: Vec<Json> = ingress
            .iter()
            .filter(|r| !current_ingress.contains(r))
            .fold(Vec::<Rule>::new(), dedup)
            .iter()
            .map(to_permission)
            .collect();
        let new_out: Vec<Json> = egress
            .iter()
            .filter(|r| !current_egress.contains(r))
            .fold(Vec::<Rule>::new(), dedup)
            .iter()
            .map(to_permission)
            .collect();
        for (perms, outbound) in [(&new_in, false), (&new_out, true)] {
            if !perms.is_empty() {
                changed = true;
                self.permissions("authorize", outbound, &gid, perms).await?;
            }
        }
        let final_group = if created_new && p.rules.is_none() && p.rules_egress.is_none() {
            self.by_id(&gid).await?
        } else if changed && !self.check {
            self.await_rules(&gid, &desired_ingress, &desired_egress).await?
        } else {
            self.by_id(&gid).await?
        };
        Ok((changed, described(&final_group)))
    }

    async fn permissions(&self, what: &str, outbound: bool, gid: &str, perms: &[Json]) -> R<()> {
        if self.check {
            return Ok(());
        }
        let sdk: Vec<IpPermission> = perms.iter().map(sdk_permission).collect();
        let client = &self.client;
        let r = retry(|| async {
            let sdk = Some(sdk.clone());
            match (what, outbound) {
                ("revoke", false) => client
                    .revoke_security_group_ingress()
                    .group_id(gid)
                    .set_ip_permissions(sdk)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(from_sdk),
                ("revoke", true) => client
                    .revoke_security_group_egress()
                    .group_id(gid)
                    .set_ip_permissions(sdk)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(from_sdk),
                (_, false) => client
                    .authorize_security_group_ingress()
                    .group_id(gid)
                    .set_ip_permissions(sdk)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(from_sdk),
                (_, true) => client
                    .authorize_security_group_egress()
                    .group_id(gid)
                    .set_ip_permissions(sdk)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(from_sdk),
            }
        })
        .await;
        let rules = if outbound { "egress rules" } else { "ingress rules" };
        r.map_err(|e| Fail::api(&format!("Unable to {what} {rules}: {}", py_repr(&Json::Array(perms.to_vec()))), e))
    }

    /// The group once its rules are the desired ones (six tries, then a warning).
    async fn await_rules(&mut self, gid: &str, ingress: &[Rule], egress: &[Rule]) -> R<Json> {
        let p = self.p;
        let mut group = self.by_id(gid).await?;
        let mut checks: Vec<(&[Rule], bool, &str)> = Vec::new();
        if group.get("VpcId").is_some() && p.rules_egress.is_some() {
            checks.push((egress, p.purge_rules_egress, "IpPermissionsEgress"));
        }
        checks.push((ingress, p.purge_rules, "IpPermissions"));
        for (desired, purge, key) in checks {
            let mut done = false;
            for attempt in 0..6 {
                let current = rules_of(&group, key, &self.account);
                let missing = desired.iter().any(|r| !current.contains(r));
                let extra: Vec<&Rule> = current.iter().filter(|r| !desired.contains(r)).collect();
                done = if purge {
                    let mut conflicts: Vec<&Rule> = extra.clone();
                    conflicts.extend(desired.iter().filter(|r| !current.contains(r)));
                    conflicts.is_empty() || {
                        // Pairs that differ only in how they write "no ports" cancel out.
                        let mut left = conflicts.clone();
                        let mut i = 0;
                        while i < left.len() {
                            match (i + 1..left.len()).find(|j| rule_cmp(left[i], left[*j])) {
                                Some(j) => {
                                    left.remove(j);
                                    left.remove(i);
                                }
                                None => i += 1,
                            }
                        }
                        left.is_empty()
                    }
                } else {
                    !missing
                };
                if done {
                    break;
                }
                if attempt < 5 {
                    tokio::time::sleep(Duration::from_secs(2)).await;
                    group = self.by_id(gid).await?;
                }
            }
            if !done {
                self.warnings.push(format!("Ran out of time waiting for {gid} {key}."));
            }
        }
        Ok(group)
    }

    /// The `after` of `--diff`: the group as the arguments would leave it.
    async fn final_resource(&self, sg: &Obj) -> R<Obj> {
        let p = self.p;
        let get = |k: &str| sg.get(k).cloned();
        let mut after = Obj::new();
        after.insert("description".into(), json!(p.description));
        after.insert("group_id".into(), get("group_id").unwrap_or_else(|| json!("sg-xxxxxxxx")));
        after.insert("group_name".into(), get("group_name").unwrap_or_else(|| json!(p.name)));
        let ingress = get("ip_permissions").unwrap_or_else(|| json!([]));
        let egress = get("ip_permissions_egress").unwrap_or_else(|| json!([]));
        after.insert("ip_permissions".into(), self.final_rules(sg, &ingress, &p.rules, p.purge_rules).await?);
        after.insert(
            "ip_permissions_egress".into(),
            self.final_rules(sg, &egress, &p.rules_egress, p.purge_rules_egress).await?,
        );
        after.insert("owner_id".into(), get("owner_id").unwrap_or_else(|| json!(self.account)));
        let current_tags = get("tags").and_then(|t| t.as_object().cloned()).unwrap_or_default();
        let tags = match &p.tags {
            None => current_tags,
            Some(wanted) => {
                let mut delete = Vec::new();
                if p.purge_tags {
                    delete = current_tags
                        .keys()
                        .filter(|k| !wanted.iter().any(|(w, _)| w == *k) && !k.starts_with("aws:"))
                        .cloned()
                        .collect();
                }
                let mut end = Obj::new();
                for (k, v) in wanted.iter().filter(|(k, _)| !delete.contains(k)) {
                    end.insert(k.clone(), json!(v));
                }
                for (k, v) in current_tags.iter().filter(|(k, _)| !delete.contains(k)) {
                    end.insert(k.clone(), v.clone());
                }
                for (k, v) in wanted.iter().filter(|(k, v)| {
                    !delete.contains(k) && current_tags.get(k).and_then(Json::as_str) != Some(v.as_str())
                }) {
                    end.insert(k.clone(), json!(v));
                }
                end
            }
        };
        after.insert("tags".into(), Json::Object(tags));
        after.insert("vpc_id".into(), get("vpc_id").unwrap_or_else(|| json!(p.vpc_id)));
        Ok(after)
    }

    async fn final_rules(&self, sg: &Obj, current: &Json, specified: &Option<Vec<Json>>, purge: bool) -> R<Json> {
        let Some(specified) = specified else { return Ok(current.clone()) };
        let mut out: Vec<Json> = if purge { Vec::new() } else { current.as_array().cloned().unwrap_or_default() };
        for rule in flatten_targets(specified) {
            let mut f = Obj::new();
            f.insert("from_port".into(), Json::Null);
            f.insert("to_port".into(), Json::Null);
            f.insert("ip_protocol".into(), rule.get("proto").cloned().unwrap_or(Json::Null));
            for k in ["ip_ranges", "ipv6_ranges", "prefix_list_ids", "user_id_group_pairs"] {
                f.insert(k.into(), json!([]));
            }
            let proto = rule.get("proto").cloned().unwrap_or(Json::Null);
            let truthy = |v: Option<&Json>| v.is_some_and(|x| !x.is_null() && x != &json!(0) && x != &json!(""));
            if proto == json!("all") || proto == json!("-1") || proto == json!(-1) {
                f.insert("ip_protocol".into(), json!("-1"));
                f.shift_remove("from_port");
                f.shift_remove("to_port");
            } else if let Some(ports) = rule.get("ports").filter(|v| truthy(Some(v))) {
                let ports = ports.as_array().cloned().unwrap_or_else(|| vec![ports.clone()]);
                for port in ports {
                    match port.as_str().and_then(|s| s.split_once('-')) {
                        Some((a, b)) => {
                            f.insert("from_port".into(), json!(a));
                            f.insert("to_port".into(), json!(b));
                        }
                        None => {
                            f.insert("from_port".into(), port.clone());
                            f.insert("to_port".into(), port.clone());
                        }
                    }
                }
            } else if truthy(rule.get("from_port")) || truthy(rule.get("to_port")) {
                f.insert("from_port".into(), rule.get("from_port").cloned().unwrap_or(Json::Null));
                f.insert("to_port".into(), rule.get("to_port").cloned().unwrap_or(Json::Null));
            }
            let desc = rule.get("rule_desc").filter(|d| truthy(Some(d))).cloned();
            for (source, key) in
                [("cidr_ip", "ip_ranges"), ("cidr_ipv6", "ipv6_ranges"), ("ip_prefix", "prefix_list_ids")]
            {
                if let Some(v) = rule.get(source).filter(|v| truthy(Some(v))) {
                    let field = if source == "ip_prefix" { "prefix_list_id" } else { source };
                    let items = v.as_array().cloned().unwrap_or_else(|| vec![v.clone()]);
                    let list: Vec<Json> = items
                        .into_iter()
                        .map(|t| {
                            let mut o = Obj::new();
                            o.insert(field.into(), t);
                            if let Some(d) = &desc {
                                o.insert("description".into(), d.clone());
                            }
                            Json::Object(o)
                        })
                        .collect();
                    f.insert(key.into(), Json::Array(list));
                }
            }
            if truthy(rule.get("group_id")) || truthy(rule.get("group_name")) {
                let list = |k: &str| {
                    rule.get(k).filter(|v| !v.is_null()).map(|v| {
                        v.as_array()
                            .cloned()
                            .unwrap_or_else(|| vec![v.clone()])
                            .iter()
                            .map(|x| x.as_str().unwrap_or_default().to_string())
                            .collect::<Vec<_>>()
                    })
                };
                let (found, _, _) = self.group_exists(list("group_id"), list("group_name")).await?;
                let owner = sg.get("owner_id").cloned().unwrap_or_else(|| json!(self.account));
                let mut pair = Obj::new();
                match found {
                    None => {
                        pair.insert("group_id".into(), rule.get("group_id").cloned().unwrap_or(Json::Null));
                        pair.insert("group_name".into(), rule.get("group_name").cloned().unwrap_or(Json::Null));
                        pair.insert("user_id".into(), owner);
                        pair.insert("vpc_id".into(), json!(self.p.vpc_id));
                    }
                    Some(g) => {
                        let g = described(&g);
                        pair.insert("description".into(), g.get("description").cloned().unwrap_or(Json::Null));
                        pair.insert("group_id".into(), g.get("group_id").cloned().unwrap_or(Json::Null));
                        pair.insert("group_name".into(), g.get("group_name").cloned().unwrap_or(Json::Null));
                        pair.insert("user_id".into(), g.get("user_id").cloned().unwrap_or(owner));
                        pair.insert("vpc_id".into(), g.get("vpc_id").cloned().unwrap_or_else(|| json!(self.p.vpc_id)));
                    }
                }
                let pair: Obj = pair.into_iter().filter(|(_, v)| !v.is_null()).collect();
                f.insert("user_id_group_pairs".into(), json!([pair]));
            }
            out.push(Json::Object(f));
        }
        Ok(Json::Array(out))
    }
}

fn dedup(mut acc: Vec<Rule>, r: &Rule) -> Vec<Rule> {
    if !acc.contains(r) {
        acc.push(r.clone());
    }
    acc
}

/// The module's order of a group's rules in `--diff` (by first target, kinds together).
fn sort_group(mut g: Obj) -> Obj {
    fn target_key(d: &Json) -> String {
        for k in ["cidr_ip", "cidr_ipv6", "prefix_list_id", "group_id"] {
            if let Some(v) = d.get(k).filter(|v| !v.is_null() && v != &&json!("")) {
                return v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string());
            }
        }
        String::new()
    }
    fn rule_key(r: &mut Json) -> String {
        for k in ["ip_ranges", "ipv6_ranges", "prefix_list_ids", "user_id_group_pairs"] {
            if let Some(a) = r.get_mut(k).and_then(Json::as_array_mut) {
                a.sort_by_key(target_key);
            }
        }
        let first = |k: &str, f: &str| {
            r.get(k).and_then(Json::as_array).and_then(|a| a.first()).map(|x| {
                x.get(f).map(|v| v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string())).unwrap_or_default()
            })
        };
        if let Some(v) = first("ip_ranges", "cidr_ip") {
            return format!("ipv4:{v}");
        }
        if let Some(v) = first("ipv6_ranges", "cidr_ipv6") {
            return format!("ipv6:{v}");
        }
        if let Some(v) = first("prefix_list_ids", "prefix_list_id") {
            return format!("pl:{v}");
        }
        if let Some(v) = first("user_id_group_pairs", "group_id") {
            return format!("ugid:{v}");
        }
        String::new()
    }
    for k in ["ip_permissions", "ip_permissions_egress"] {
        if let Some(a) = g.get_mut(k).and_then(Json::as_array_mut) {
            let mut keyed: Vec<(String, Json)> = a.drain(..).map(|mut r| (rule_key(&mut r), r)).collect();
            keyed.sort_by(|x, y| x.0.cmp(&y.0));
            *a = keyed.into_iter().map(|(_, r)| r).collect();
        }
    }
    g
}

trait IntoFail {
    fn into_fail(self) -> Fail;
}

impl IntoFail for ApiError {
    fn into_fail(self) -> Fail {
        Fail::new(self.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_written_as_the_module_writes_them() {
        assert_eq!(validate_ip("10.0.0.0/8"), ("10.0.0.0/8".into(), None));
        let (ip, w) = validate_ip("10.1.2.3/16");
        assert_eq!(ip, "10.1.0.0/16");
        assert!(w.expect("warning").contains("has host bits set"));
        assert_eq!(validate_ip("10.0.0.0/255.0.0.0").0, "10.0.0.0/8");
        assert_eq!(validate_ip("2001:DB8::/32").0, "2001:db8::/32");
        assert_eq!(validate_ip("2001:db8:1:2:3::1/64").0, "2001:db8:1:2::/64");
        assert_eq!(validate_ip("1.2.3.4").0, "1.2.3.4");
    }

    #[test]
    fn rules_expand_to_every_port_and_source_once() {
        let rules = Some(vec![
            json!({"proto": "tcp", "ports": ["80", "8000-7990"], "cidr_ip": ["10.0.0.0/8", ["192.168.0.0/16"]]}),
            json!({"proto": "tcp", "ports": ["80"], "cidr_ip": ["10.0.0.0/8"]}),
        ]);
        let out = expand_rules(&rules).expect("expands").expect("some");
        assert_eq!(out.len(), 4);
        assert_eq!(out[2], json!({"proto": "tcp", "from_port": 7990, "to_port": 8000, "cidr_ip": "10.0.0.0/8"}));
        let bad = expand_rules(&Some(vec![json!({"proto": "tcp", "ports": ["x"], "cidr_ip": ["1.0.0.0/8"]})]));
        assert_eq!(bad.err().map(|f| f.msg), Some("Unable to parse port".to_string()));
    }

    #[test]
    fn rules_equal_but_for_descriptions_and_how_no_ports_are_written() {
        let r = |ports, desc: Option<&str>| Rule {
            ports,
            proto: "-1".into(),
            target: Target::Text("0.0.0.0/0".into()),
            kind: "ipv4",
            desc: desc.map(str::to_string),
        };
        assert!(rule_cmp(&r((None, None), Some("a")), &r((Some(-1), Some(-1)), None)));
        assert!(!rule_cmp(&r((Some(1), Some(1)), None), &r((None, None), None)));
    }
}
