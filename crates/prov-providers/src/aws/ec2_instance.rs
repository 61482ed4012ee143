//! `amazon.aws.ec2_instance` made with aws-sdk-ec2: the module's decisions, in its order
//! (find the instances its filters select; create, adjust, count, start, stop, restart or
//! terminate them), and its return values. Check mode makes the same reads and no change.
//!
//! Waiting uses prov's polling ([`super::api::wait_for`]'s backoff, up to `wait_timeout`)
//! where boto3's waiters poll every 15 s; an instance that does not reach the state in time
//! (or reaches a state it cannot leave) is a warning, as with the module.

use super::api::{from_sdk, retry, ApiError};
use super::boto3;
use super::module::{client, described, ensure_tags, filter, ids_json, strings, Fail, Obj, R};
use crate::aws_ec2::tags as tag_map;
use crate::ec2_instance::{Interface, Params, Report};
use crate::ProviderError;
use aws_sdk_ec2::types::{
    AttributeBooleanValue, AttributeValue, Filter, InstanceAttributeName, InstanceIpv6Address,
    InstanceNetworkInterfaceSpecification, InstanceType, PrivateIpAddressSpecification, ResourceType,
    RunInstancesMonitoringEnabled, ShutdownBehavior, SummaryStatus, Tag, TagSpecification,
};
use aws_sdk_ec2::Client;
use serde_json::{json, Value as Json};
use std::time::{Duration, Instant};

type Filters = Vec<(String, Vec<String>)>;

/// The instance states the default filters select (all but shutting-down and terminated).
const LIVE_STATES: &[&str] = &["pending", "running", "stopping", "stopped"];

/// Runs the module.
pub async fn run(p: &Params, check: bool) -> Result<Report, ProviderError> {
    let mut m = match client(&p.access, "ec2_instance").await {
        Ok(client) => Module { p, check, client, warnings: Vec::new() },
        Err(f) => return Ok(Report { fields: f.into_fields(), failed: true, warnings: Vec::new() }),
    };
    let out = m.main().await;
    let warnings = std::mem::take(&mut m.warnings);
    Ok(match out {
        Ok(mut fields) => {
            fields.entry("changed").or_insert(Json::Bool(false));
            Report { fields, failed: false, warnings }
        }
        Err(f) => Report { fields: f.into_fields(), failed: true, warnings },
    })
}

fn id_of(i: &Json) -> String {
    i["InstanceId"].as_str().unwrap_or_default().to_string()
}

fn state_of(i: &Json) -> &str {
    i["State"]["Name"].as_str().unwrap_or_default()
}

/// The module's view of an instance.
fn pretty(i: &Json) -> Json {
    Json::Object(described(i))
}

fn pretties(items: &[Json]) -> Json {
    Json::Array(items.iter().map(pretty).collect())
}

/// A random client token (a uuid4's hex, as the module makes).
fn client_token() -> String {
    let mut b = [0u8; 16];
    // Without system randomness the time makes a token unique enough for idempotency.
    if getrandom::fill(&mut b).is_err() {
        let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos();
        b = t.to_le_bytes();
    }
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// How a waiter check ended.
enum Poll {
    Done,
    Pending,
    Terminal(String),
}

struct Module<'a> {
    p: &'a Params,
    check: bool,
    client: Client,
    warnings: Vec<String>,
}

impl Module<'_> {
    async fn main(&mut self) -> R<Obj> {
        let filters = match &self.p.filters {
            Some(f) => f.clone(),
            None => self.build_filters().await?,
        };
        let existing = match filters.is_empty() {
            true => Vec::new(),
            false => self.find(None, &filters).await?,
        };
        let state = self.p.state.as_str();
        if matches!(state, "terminated" | "absent") {
            if existing.is_empty() {
                let mut o = Obj::new();
                o.insert("msg".into(), json!("No matching instances found"));
                o.insert("changed".into(), json!(false));
                return Ok(o);
            }
            return self.ensure_instance_state(state, &filters).await;
        }
        if self.p.exact_count.unwrap_or(0) != 0 {
            return self.enforce_count(existing, state, &filters).await;
        }
        if !existing.is_empty() && self.p.count.unwrap_or(0) == 0 {
            for instance in &existing {
                self.warn_if_public_ip_changed(instance)?;
            }
            return self.handle_existing(&existing, state, &filters).await;
        }
        self.ensure_present(&existing, state, 0).await
    }

    /// The filters the arguments make when `filters` is not given.
    async fn build_filters(&mut self) -> R<Filters> {
        let p = self.p;
        let mut f: Filters = Vec::new();
        if !p.instance_ids.is_empty() {
            f.push(("instance-id".into(), p.instance_ids.clone()));
            f.push(("instance-state-name".into(), strings(LIVE_STATES)));
            return Ok(f);
        }
        let subnet = match &p.vpc_subnet_id {
            Some(s) => s.clone(),
            None => self.default_subnet(true).await?,
        };
        f.push(("subnet-id".into(), vec![subnet]));
        let name = p
            .name
            .clone()
            .or_else(|| p.tags.as_ref().and_then(|t| t.iter().find(|(k, _)| k == "Name").map(|(_, v)| v.clone())));
        if let Some(n) = name.filter(|n| !n.is_empty()) {
            f.push(("tag:Name".into(), vec![n]));
        }
        if let Some(i) = p.image_id.as_ref().filter(|i| !i.is_empty()) {
            f.push(("image-id".into(), vec![i.clone()]));
        }
        f.push(("instance-state-name".into(), strings(LIVE_STATES)));
        Ok(f)
    }

    /// The instances of `ids`, or those `filters` select (every page).
    async fn find(&self, ids: Option<&[String]>, filters: &Filters) -> R<Vec<Json>> {
        let client = &self.client;
        let sdk_filters: Vec<Filter> = filters
            .iter()
            .map(|(k, v)| {
                let name = if k.starts_with("tag:") { k.clone() } else { k.replace('_', "-") };
                filter(&name, v)
            })
            .collect();
        let out = retry(|| async {
            let mut req = client.describe_instances();
            req = match ids {
                Some(ids) => req.set_instance_ids(Some(ids.to_vec())),
                None => req.set_filters(Some(sdk_filters.clone())),
            };
            let mut pages = req.into_paginator().send();
            let mut out = Vec::new();
            while let Some(page) = pages.next().await {
                let page = page.map_err(from_sdk)?;
                for r in page.reservations() {
                    out.extend(r.instances().iter().map(boto3::description));
                }
            }
            Ok(out)
        })
        .await;
        out.map_err(|e| Fail::api("Failed to describe instances", e))
    }

    async fn by_ids(&self, ids: &[String]) -> R<Vec<Json>> {
        self.find(Some(ids), &Vec::new()).await
    }

    /// The default subnet of the default VPC (of `availability_zone` when asked and given).
    async fn default_subnet(&self, use_zone: bool) -> R<String> {
        let client = &self.client;
        let vpcs = retry(|| async {
            client.describe_vpcs().filters(filter("isDefault", &strings(&["true"]))).send().await.map_err(from_sdk)
        })
        .await
        .map_err(|e| Fail::api("Could not describe default VPC", e))?;
        let Some(vpc) = vpcs.vpcs().first().and_then(|v| v.vpc_id()).map(str::to_string) else {
            return Err(Fail::new(
                "No default subnet could be found - you must include a VPC subnet ID (vpc_subnet_id parameter).",
            ));
        };
        let subnets = retry(|| async {
            client
                .describe_subnets()
                .filters(filter("vpc-id", std::slice::from_ref(&vpc)))
                .filters(filter("state", &strings(&["available"])))
                .filters(filter("default-for-az", &strings(&["true"])))
                .send()
                .await
                .map_err(from_sdk)
        })
        .await
        .map_err(|e| Fail::api(&format!("Could not describe default subnets for VPC {vpc}"), e))?;
        let mut found: Vec<(String, String)> = subnets
            .subnets()
            .iter()
            .map(|s| {
                (s.availability_zone().unwrap_or_default().to_string(), s.subnet_id().unwrap_or_default().to_string())
            })
            .collect();
        if let Some(z) = self.p.availability_zone.as_ref().filter(|_| use_zone) {
            if let Some((_, s)) = found.iter().find(|(az, _)| az == z) {
                return Ok(s.clone());
            }
        }
        found.sort();
        found.into_iter().next().map(|(_, s)| s).ok_or_else(|| {
            Fail::new(format!("No default subnet could be found in VPC {vpc} - you must include a VPC subnet ID."))
        })
    }

    /// Security group ids of `groups` (names in the subnet's VPC, or ids).
    async fn group_ids(&self, groups: &[String], subnet: Option<&str>) -> R<Vec<String>> {
        let client = &self.client;
        let mut vpc = None;
        if let Some(s) = subnet {
            let out = retry(|| async { client.describe_subnets().subnet_ids(s).send().await.map_err(from_sdk) })
                .await
                .map_err(|e| Fail::api(&format!("Error while searching for subnet {s} parent VPC."), e))?;
            vpc = out.subnets().first().and_then(|x| x.vpc_id()).map(str::to_string);
        }
        let all = retry(|| async {
            let mut req = client.describe_security_groups();
            if let Some(v) = &vpc {
                req = req.filters(filter("vpc-id", std::slice::from_ref(v)));
            }
            req.send().await.map_err(from_sdk)
        })
        .await
        .map_err(|e| Fail::api("Could not describe security groups", e))?;
        let known: Vec<(String, String)> = all
            .security_groups()
            .iter()
            .map(|g| (g.group_name().unwrap_or_default().to_string(), g.group_id().unwrap_or_default().to_string()))
            .collect();
        let looks_like_id =
            |s: &str| s.strip_prefix("sg-").is_some_and(|h| !h.is_empty() && h.chars().all(|c| c.is_ascii_hexdigit()));
        let unmatched: Vec<&String> = groups.iter().filter(|g| !known.iter().any(|(n, _)| n == *g)).collect();
        let invalid: Vec<&str> = unmatched.iter().filter(|g| !looks_like_id(g)).map(|g| g.as_str()).collect();
        if !invalid.is_empty() {
            return Err(Fail::new(format!("The following group names are not valid: {}", invalid.join(", "))));
        }
        let mut ids: Vec<String> = unmatched.into_iter().cloned().collect();
        ids.extend(known.iter().filter(|(n, _)| groups.contains(n)).map(|(_, i)| i.clone()));
        Ok(ids)
    }

    /// Waits for `ids` to reach what `state` means (when waiting, never in check mode).
    async fn await_instances(&mut self, ids: &[String], state: &str, force: bool) -> R<()> {
        if (!self.p.wait && !force) || self.check || ids.is_empty() {
            return Ok(());
        }
        let waiter = match state {
            "present" => "instance_exists",
            "started" | "restarted" => "instance_status_ok",
            "running" | "rebooted" => "instance_running",
            "stopped" => "instance_stopped",
            _ => "instance_terminated",
        };
        let deadline = Instant::now() + Duration::from_secs(self.p.wait_timeout);
        let mut delay = Duration::from_millis(500);
        loop {
            match self.poll(ids, waiter).await? {
                Poll::Done => return Ok(()),
                Poll::Terminal(why) => {
                    self.warnings
                        .push(format!("Instances {} took too long to reach state {waiter}. {why}", ids.join(", ")));
                    return Ok(());
                }
                Poll::Pending if Instant::now() + delay > deadline => {
                    self.warnings.push(format!(
                        "Instances {} took too long to reach state {waiter}. Still waiting after {} s.",
                        ids.join(", "),
                        self.p.wait_timeout
                    ));
                    return Ok(());
                }
                Poll::Pending => {
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(10));
                }
            }
        }
    }

    async fn poll(&self, ids: &[String], waiter: &str) -> R<Poll> {
        let client = &self.client;
        if waiter == "instance_status_ok" {
            let out = retry(|| async {
                client.describe_instance_status().set_instance_ids(Some(ids.to_vec())).send().await.map_err(from_sdk)
            })
            .await;
            return match out {
                Ok(o) => {
                    let st = o.instance_statuses();
                    let ok = !st.is_empty()
                        && st.iter().all(|s| s.instance_status().and_then(|x| x.status()) == Some(&SummaryStatus::Ok));
                    Ok(if ok { Poll::Done } else { Poll::Pending })
                }
                Err(e) if e.is_not_found() => Ok(Poll::Pending),
                Err(e) => Err(Fail::api("Failed to describe instance status", e)),
            };
        }
        let found = match self.by_ids(ids).await {
            Ok(f) => f,
            Err(_) => return Ok(Poll::Pending),
        };
        if waiter == "instance_exists" {
            return Ok(if found.is_empty() { Poll::Pending } else { Poll::Done });
        }
        let (target, failing): (&str, &[&str]) = match waiter {
            "instance_running" => ("running", &["shutting-down", "terminated", "stopping"]),
            "instance_stopped" => ("stopped", &["pending", "terminated"]),
            _ => ("terminated", &["pending", "stopping"]),
        };
        if let Some(bad) = found.iter().find(|i| failing.contains(&state_of(i))) {
            return Ok(Poll::Terminal(format!("Instance {} is {}.", id_of(bad), state_of(bad))));
        }
        Ok(if !found.is_empty() && found.iter().all(|i| state_of(i) == target) { Poll::Done } else { Poll::Pending })
    }

    /// Starts, stops or terminates what `filters` select: (changed ids, ids that failed to
    /// change, the instances afterwards, why).
    async fn change_instance_state(
        &mut self,
        filters: &Filters,
        desired_module_state: &str,
    ) -> R<(Vec<String>, Vec<String>, Vec<Json>, String)> {
        let desired = match desired_module_state {
            "stopped" => "stopped",
            "terminated" | "absent" => "terminated",
            _ => "running",
        };
        let instances = self.find(None, filters).await?;
        let to_change: Vec<String> = instances.iter().filter(|i| state_of(i) != desired).map(id_of).collect::<Vec<_>>();
        let mut changed: Vec<String> = Vec::new();
        let mut unchanged: Vec<String> = Vec::new();
        let mut reason = String::new();
        for inst in &instances {
            let id = id_of(inst);
            let now = state_of(inst).to_string();
            let r: Result<Vec<String>, ApiError> = match desired {
                "terminated" => {
                    if now == "stopping" {
                        self.await_instances(std::slice::from_ref(&id), "stopped", true).await?;
                    } else if now == "pending" {
                        self.await_instances(std::slice::from_ref(&id), "running", true).await?;
                    }
                    if self.check {
                        changed.push(id);
                        continue;
                    }
                    let client = &self.client;
                    retry(|| async {
                        let o = client.terminate_instances().instance_ids(&id).send().await.map_err(from_sdk)?;
                        Ok(o.terminating_instances()
                            .iter()
                            .filter_map(|x| x.instance_id())
                            .map(str::to_string)
                            .collect())
                    })
                    .await
                }
                "stopped" => {
                    if now == "pending" {
                        self.await_instances(std::slice::from_ref(&id), "running", true).await?;
                    } else if now == "stopping" || now == "stopped" {
                        unchanged.push(id);
                        continue;
                    }
                    if self.check {
                        changed.push(id);
                        continue;
                    }
                    let client = &self.client;
                    retry(|| async {
                        let o = client.stop_instances().instance_ids(&id).send().await.map_err(from_sdk)?;
                        Ok(o.stopping_instances().iter().filter_map(|x| x.instance_id()).map(str::to_string).collect())
                    })
                    .await
                }
                _ => {
                    if now == "pending" || now == "running" {
                        unchanged.push(id);
                        continue;
                    }
                    if now == "stopping" {
                        self.await_instances(std::slice::from_ref(&id), "stopped", true).await?;
                    }
                    if self.check {
                        changed.push(id);
                        continue;
                    }
                    let client = &self.client;
                    retry(|| async {
                        let o = client.start_instances().instance_ids(&id).send().await.map_err(from_sdk)?;
                        Ok(o.starting_instances().iter().filter_map(|x| x.instance_id()).map(str::to_string).collect())
                    })
                    .await
                }
            };
            match r {
                Ok(ids) => changed.extend(ids),
                Err(e) => reason = e.to_string(),
            }
        }
        changed.sort();
        changed.dedup();
        if !changed.is_empty() {
            let mut all = changed.clone();
            all.extend(unchanged);
            self.await_instances(&all, desired_module_state, false).await?;
        }
        let failed: Vec<String> = to_change.into_iter().filter(|i| !changed.contains(i)).collect();
        let instances = match instances.is_empty() {
            true => instances,
            false => self.by_ids(&instances.iter().map(id_of).collect::<Vec<_>>()).await?,
        };
        Ok((changed, failed, instances, reason))
    }

    /// The results of bringing the selected instances to `state`.
    async fn ensure_instance_state(&mut self, state: &str, filters: &Filters) -> R<Obj> {
        let mut o = Obj::new();
        let fail = |msg: String, fields: Vec<(&str, Json)>| {
            let mut f = Fail::new(msg);
            for (k, v) in fields {
                f.fields.insert(k.into(), v);
            }
            f
        };
        match state {
            "running" | "started" => {
                let (changed, failed, instances, why) = self.change_instance_state(filters, state).await?;
                if !failed.is_empty() {
                    return Err(fail(
                        format!("Unable to start instances: {why}"),
                        vec![("reboot_success", ids_json(&changed)), ("reboot_failed", ids_json(&failed))],
                    ));
                }
                o.insert("msg".into(), json!("Instances started"));
                o.insert("start_success".into(), ids_json(&changed));
                o.insert("start_failed".into(), json!([]));
                o.insert("reboot_success".into(), ids_json(&changed));
                o.insert("reboot_failed".into(), json!([]));
                o.insert("changed".into(), json!(!changed.is_empty()));
                o.insert("instances".into(), pretties(&instances));
            }
            "restarted" | "rebooted" => {
                let (stopped, failed, _, why) = self.change_instance_state(filters, "stopped").await?;
                if !failed.is_empty() {
                    return Err(fail(
                        format!("Unable to stop instances: {why}"),
                        vec![("stop_success", ids_json(&stopped)), ("stop_failed", ids_json(&failed))],
                    ));
                }
                let (started, failed, instances, why) = self.change_instance_state(filters, state).await?;
                if !failed.is_empty() {
                    return Err(fail(
                        format!("Unable to restart instances: {why}"),
                        vec![("reboot_success", ids_json(&started)), ("reboot_failed", ids_json(&failed))],
                    ));
                }
                o.insert("msg".into(), json!("Instances restarted"));
                o.insert("reboot_success".into(), ids_json(&started));
                o.insert("changed".into(), json!(!stopped.is_empty() || !started.is_empty()));
                o.insert("reboot_failed".into(), json!([]));
                o.insert("instances".into(), pretties(&instances));
            }
            "stopped" => {
                let (changed, failed, instances, why) = self.change_instance_state(filters, state).await?;
                if !failed.is_empty() {
                    return Err(fail(
                        format!("Unable to stop instances: {why}"),
                        vec![("stop_success", ids_json(&changed)), ("stop_failed", ids_json(&failed))],
                    ));
                }
                o.insert("msg".into(), json!("Instances stopped"));
                o.insert("stop_success".into(), ids_json(&changed));
                o.insert("changed".into(), json!(!changed.is_empty()));
                o.insert("stop_failed".into(), json!([]));
                o.insert("instances".into(), pretties(&instances));
            }
            "absent" | "terminated" => {
                let (changed, failed, instances, why) = self.change_instance_state(filters, state).await?;
                if !failed.is_empty() {
                    return Err(fail(
                        format!("Unable to terminate instances: {why}"),
                        vec![("terminate_success", ids_json(&changed)), ("terminate_failed", ids_json(&failed))],
                    ));
                }
                o.insert("msg".into(), json!("Instances terminated"));
                o.insert("terminate_success".into(), ids_json(&changed));
                o.insert("changed".into(), json!(!changed.is_empty()));
                o.insert("terminate_failed".into(), json!([]));
                o.insert("instances".into(), pretties(&instances));
            }
            _ => {}
        }
        Ok(o)
    }

    /// Sets and removes tags of one instance as `tags`/`name`/`purge_tags` ask.
    async fn ensure_tags(&self, instance: &Json) -> R<bool> {
        let p = self.p;
        let mut wanted: Vec<(String, String)> = match (&p.tags, &p.name) {
            (Some(t), _) => t.clone(),
            (None, Some(_)) => Vec::new(),
            (None, None) => return Ok(false),
        };
        // `name` without `tags` never purges.
        let purge = p.purge_tags && p.tags.is_some();
        if let Some(n) = &p.name {
            match wanted.iter_mut().find(|(k, _)| k == "Name") {
                Some(slot) => slot.1 = n.clone(),
                None => wanted.push(("Name".into(), n.clone())),
            }
        }
        ensure_tags(&self.client, self.check, &id_of(instance), &tag_map(instance), &wanted, purge).await
    }

    /// The attribute changes an existing instance needs (`InstanceId` plus the new value).
    async fn diff_instance(&mut self, instance: &Json, skip: &[&str]) -> R<Vec<Obj>> {
        let p = self.p;
        let id = id_of(instance);
        let mut changes = Vec::new();
        let wanted: [(&str, InstanceAttributeName, Option<Json>); 3] = [
            ("EbsOptimized", InstanceAttributeName::EbsOptimized, p.ebs_optimized.map(Json::Bool)),
            (
                "DisableApiTermination",
                InstanceAttributeName::DisableApiTermination,
                p.termination_protection.map(Json::Bool),
            ),
            ("InstanceType", InstanceAttributeName::InstanceType, p.instance_type.clone().map(Json::String)),
        ];
        for (key, attr, value) in wanted {
            let Some(value) = value else { continue };
            if skip.contains(&key) {
                continue;
            }
            let now = self.attribute(&id, attr).await?;
            if now.get(key).and_then(|v| v.get("Value")) != Some(&value) {
                let mut c = Obj::new();
                c.insert("InstanceId".into(), Json::String(id.clone()));
                c.insert(key.into(), json!({ "Value": value }));
                changes.push(c);
            }
        }
        let wanted = &p.network_interfaces;
        if !wanted.is_empty() || !p.security_groups.is_empty() {
            let interfaces = instance["NetworkInterfaces"].as_array().map(Vec::len).unwrap_or(0);
            if wanted.len() > 1 || interfaces > 1 {
                self.warnings
                    .push("Skipping group modification because instance contains mutiple network interfaces.".into());
            } else {
                let now = self.attribute(&id, InstanceAttributeName::GroupSet).await?;
                let vpc_subnet = p.vpc_subnet_id.clone().filter(|s| !s.is_empty());
                // The first interface's subnet, else vpc_subnet_id (else none: groups by name in
                // any VPC); without interfaces, vpc_subnet_id or the default subnet.
                let subnet = match wanted.first() {
                    Some(i) => i.subnet_id.clone().filter(|s| !s.is_empty()).or(vpc_subnet),
                    None => match vpc_subnet {
                        Some(s) => Some(s),
                        None => Some(self.default_subnet(false).await?),
                    },
                };
                let groups = match wanted.first() {
                    Some(i) if !i.groups.is_empty() => &i.groups,
                    _ => &p.security_groups,
                };
                if !groups.is_empty() {
                    let groups = self.group_ids(groups, subnet.as_deref()).await?;
                    let mut have: Vec<String> = now["Groups"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|g| g["GroupId"].as_str().map(str::to_string))
                        .collect();
                    let mut want = groups.clone();
                    have.sort();
                    have.dedup();
                    want.sort();
                    want.dedup();
                    if have != want {
                        let mut c = Obj::new();
                        c.insert("Groups".into(), ids_json(&groups));
                        c.insert("InstanceId".into(), Json::String(id.clone()));
                        changes.push(c);
                    }
                }
            }
        }
        if let Some(v) = p.source_dest_check {
            if instance["SourceDestCheck"].as_bool() != Some(v) {
                let mut c = Obj::new();
                c.insert("InstanceId".into(), Json::String(id.clone()));
                c.insert("SourceDestCheck".into(), json!({ "Value": v }));
                changes.push(c);
            }
        }
        Ok(changes)
    }

    /// `describe_instance_attribute` as boto3 answers it (the asked attribute only).
    async fn attribute(&self, id: &str, attr: InstanceAttributeName) -> R<Json> {
        let client = &self.client;
        let name = attr.as_str().to_string();
        let out = retry(|| async {
            client.describe_instance_attribute().instance_id(id).attribute(attr.clone()).send().await.map_err(from_sdk)
        })
        .await
        .map_err(|e| Fail::api(&format!("Could not describe attribute {name} for instance {id}"), e))?;
        let mut o = Obj::new();
        if let Some(v) = out.ebs_optimized().and_then(|v| v.value()) {
            o.insert("EbsOptimized".into(), json!({ "Value": v }));
        }
        if let Some(v) = out.disable_api_termination().and_then(|v| v.value()) {
            o.insert("DisableApiTermination".into(), json!({ "Value": v }));
        }
        if let Some(v) = out.instance_type().and_then(|v| v.value()) {
            o.insert("InstanceType".into(), json!({ "Value": v }));
        }
        let groups: Vec<Json> = out.groups().iter().map(|g| json!({ "GroupId": g.group_id() })).collect();
        o.insert("Groups".into(), Json::Array(groups));
        Ok(Json::Object(o))
    }

    /// Applies attribute changes (not in check mode); the changes lose their `InstanceId`,
    /// as the module's do.
    async fn modify_attributes(&mut self, state: &str, changes: &mut [Obj]) -> R<()> {
        if self.check {
            return Ok(());
        }
        for c in changes.iter_mut() {
            let id = c.shift_remove("InstanceId").and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
            let shown = Json::Object(c.clone()).to_string();
            let r = if c.contains_key("InstanceType") {
                self.modify_instance_type(state, &id, c).await
            } else {
                self.modify_attribute(&id, c).await
            };
            r.map_err(|e| Fail::new(format!("Could not apply change {shown} to existing instance.: {}", e.msg)))?;
        }
        Ok(())
    }

    async fn modify_attribute(&self, id: &str, change: &Obj) -> R<()> {
        let client = &self.client;
        let value = |k: &str| change.get(k).and_then(|v| v.get("Value")).cloned();
        retry(|| async {
            let mut req = client.modify_instance_attribute().instance_id(id);
            if let Some(v) = value("InstanceType").and_then(|v| v.as_str().map(str::to_string)) {
                req = req.instance_type(AttributeValue::builder().value(v).build());
            }
            if let Some(v) = value("DisableApiTermination").and_then(|v| v.as_bool()) {
                req = req.disable_api_termination(AttributeBooleanValue::builder().value(v).build());
            }
            if let Some(v) = value("EbsOptimized").and_then(|v| v.as_bool()) {
                req = req.ebs_optimized(AttributeBooleanValue::builder().value(v).build());
            }
            if let Some(v) = value("SourceDestCheck").and_then(|v| v.as_bool()) {
                req = req.source_dest_check(AttributeBooleanValue::builder().value(v).build());
            }
            if let Some(g) = change.get("Groups").and_then(Json::as_array) {
                req = req.set_groups(Some(g.iter().filter_map(|x| x.as_str().map(str::to_string)).collect()));
            }
            req.send().await.map_err(from_sdk)
        })
        .await
        .map_err(|e| Fail::api("Could not modify the instance", e))?;
        Ok(())
    }

    /// A new type needs the instance stopped; it is started again unless `state` says stopped.
    async fn modify_instance_type(&mut self, state: &str, id: &str, change: &Obj) -> R<()> {
        let only: Filters = vec![("instance-id".into(), vec![id.to_string()])];
        Box::pin(self.ensure_instance_state("stopped", &only)).await?;
        self.await_instances(&[id.to_string()], "stopped", true).await?;
        self.modify_attribute(id, change).await?;
        let desired = if state == "present" { "running" } else { state };
        Box::pin(self.ensure_instance_state(desired, &only)).await?;
        Ok(())
    }

    async fn handle_existing(&mut self, existing: &[Json], state: &str, filters: &Filters) -> R<Obj> {
        let mut changed = false;
        let mut changes: Vec<Obj> = Vec::new();
        for instance in existing {
            changed |= self.ensure_tags(instance).await?;
            changes = self.diff_instance(instance, &[]).await?;
            self.modify_attributes(state, &mut changes).await?;
            changed |= !changes.is_empty();
        }
        let ids: Vec<String> = existing.iter().map(id_of).collect();
        let altered = self.by_ids(&ids).await?;
        let mut states = self.ensure_instance_state(state, filters).await?;
        let state_changed = states.shift_remove("changed").and_then(|v| v.as_bool()).unwrap_or(false);
        states.insert("changed".into(), json!(changed || state_changed));
        states.insert("instances".into(), pretties(&altered));
        states.insert("instance_ids".into(), ids_json(&altered.iter().map(id_of).collect::<Vec<_>>()));
        states.insert("changes".into(), Json::Array(changes.into_iter().map(Json::Object).collect()));
        Ok(states)
    }

    async fn enforce_count(&mut self, existing: Vec<Json>, state: &str, filters: &Filters) -> R<Obj> {
        let exact = self.p.exact_count.unwrap_or(0);
        let current = existing.len() as i64;
        let mut results;
        if current == exact {
            results = match state {
                "absent" | "terminated" => self.ensure_instance_state(state, filters).await?,
                _ => self.handle_existing(&existing, state, filters).await?,
            };
            if results.get("changed").and_then(Json::as_bool) == Some(true) {
                return Ok(results);
            }
            let mut o = Obj::new();
            o.insert("changed".into(), json!(false));
            o.insert("instances".into(), pretties(&existing));
            o.insert("instance_ids".into(), ids_json(&existing.iter().map(id_of).collect::<Vec<_>>()));
            o.insert("msg".into(), json!(format!("{exact} instances already {state}, nothing to do.")));
            return Ok(o);
        }
        if current < exact {
            results = self.ensure_present(&existing, state, current).await?;
        } else {
            let mut sorted = existing.clone();
            sorted.sort_by(|a, b| a["LaunchTime"].as_str().cmp(&b["LaunchTime"].as_str()));
            let all: Vec<String> = sorted.iter().map(id_of).collect();
            let doomed: Vec<String> = all[..(current - exact) as usize].to_vec();
            results = Obj::new();
            results.insert("changed".into(), json!(true));
            results.insert("terminated_ids".into(), ids_json(&doomed));
            results.insert("instance_ids".into(), ids_json(&all));
            results.insert(
                "msg".into(),
                json!(format!("Would have terminated following instances if not in check mode {doomed:?}")),
            );
            if !self.check {
                let client = &self.client;
                retry(|| async {
                    client.terminate_instances().set_instance_ids(Some(doomed.clone())).send().await.map_err(from_sdk)
                })
                .await
                .map_err(|e| Fail::api("Unable to terminate instances", e))?;
                self.await_instances(&doomed, "terminated", true).await?;
                results = Obj::new();
                results.insert("changed".into(), json!(true));
                results.insert("msg".into(), json!("Successfully terminated instances."));
                results.insert("terminated_ids".into(), ids_json(&doomed));
                results.insert("instance_ids".into(), ids_json(&all));
                results.insert("instances".into(), Json::Array(sorted));
            }
        }
        if !self.check {
            let now = self.find(None, filters).await?;
            let updated = self.handle_existing(&now, state, filters).await?;
            if updated.get("changed").and_then(Json::as_bool) == Some(true) {
                results = updated;
            }
        }
        Ok(results)
    }

    /// The `RunInstances` request the arguments make, as the module returns it in `spec`.
    async fn run_spec(&self, current_count: i64) -> R<Obj> {
        let p = self.p;
        let mut spec = Obj::new();
        spec.insert("ClientToken".into(), json!(client_token()));
        match &p.image_id {
            Some(i) if !i.is_empty() => {
                spec.insert("ImageId".into(), json!(i));
            }
            _ => return Err(Fail::new(
                "You must include an image_id or image.id parameter to create an instance, or use a launch_template.",
            )),
        }
        if let Some(r) = p.ramdisk.as_ref().filter(|s| !s.is_empty()) {
            spec.insert("RamdiskId".into(), json!(r));
        }
        if let Some(k) = p.kernel.as_ref().filter(|s| !s.is_empty()) {
            spec.insert("KernelId".into(), json!(k));
        }
        if let Some(k) = &p.key_name {
            spec.insert("KeyName".into(), json!(k));
        }
        if let Some(u) = &p.user_data {
            spec.insert("UserData".into(), json!(u));
        }
        if p.detailed_monitoring == Some(true) {
            spec.insert("Monitoring".into(), json!({ "Enabled": true }));
        }
        if let Some(b) = p.ebs_optimized {
            spec.insert("EbsOptimized".into(), json!(b));
        }
        if let Some(s) = p.shutdown_behavior.as_ref().filter(|s| !s.is_empty()) {
            spec.insert("InstanceInitiatedShutdownBehavior".into(), json!(s));
        }
        if let Some(b) = p.termination_protection {
            spec.insert("DisableApiTermination".into(), json!(b));
        }
        let mut n = match p.count {
            Some(c) if c != 0 => c,
            _ => 1,
        };
        if let Some(e) = p.exact_count.filter(|e| *e != 0) {
            n = e - current_count;
        }
        spec.insert("MinCount".into(), json!(n));
        spec.insert("MaxCount".into(), json!(n));
        if !p.network_legacy {
            validate_network(&p.network_interfaces, n)?;
        }
        // Without interfaces, one made of vpc_subnet_id and the security groups.
        let default = [Interface::default()];
        let interfaces = if p.network_interfaces.is_empty() { &default[..] } else { &p.network_interfaces[..] };
        let mut enis = Vec::new();
        for i in interfaces {
            enis.push(Json::Object(self.eni_spec(i).await?));
        }
        spec.insert("NetworkInterfaces".into(), Json::Array(enis));
        if !p.volumes.is_empty() {
            spec.insert("BlockDeviceMappings".into(), Json::Array(build_volume_spec(&p.volumes)?));
        }
        let mut tags = p.tags.clone().unwrap_or_default();
        if let Some(n) = &p.name {
            match tags.iter_mut().find(|(k, _)| k == "Name") {
                Some(slot) => slot.1 = n.clone(),
                None => tags.push(("Name".into(), n.clone())),
            }
        }
        if !tags.is_empty() {
            let list: Vec<Json> = tags.iter().map(|(k, v)| json!({ "Key": k, "Value": v })).collect();
            spec.insert(
                "TagSpecifications".into(),
                json!([{ "ResourceType": "volume", "Tags": list }, { "ResourceType": "instance", "Tags": list }]),
            );
        }
        match p.instance_type.as_ref().filter(|s| !s.is_empty()) {
            Some(t) => {
                spec.insert("InstanceType".into(), json!(t));
            }
            None => {
                return Err(Fail::new(
                    "At least one of 'instance_type' and 'launch_template' must be passed when launching instances.",
                ))
            }
        }
        Ok(spec)
    }

    /// amazon.aws's `ansible_to_boto3_eni_specification`: an interface of `RunInstances`.
    async fn eni_spec(&self, i: &Interface) -> R<Obj> {
        let p = self.p;
        let mut eni = Obj::new();
        eni.insert("DeviceIndex".into(), json!(i.device_index));
        if i.assign_public_ip == Some(true) {
            eni.insert("AssociatePublicIpAddress".into(), json!(true));
        }
        // The interface's subnet, else vpc_subnet_id, else the default one.
        let given = [&i.subnet_id, &p.vpc_subnet_id].into_iter().flatten().find(|s| !s.is_empty()).cloned();
        let subnet = match given {
            Some(s) => s,
            None => self.default_subnet(true).await?,
        };
        eni.insert("SubnetId".into(), json!(subnet));
        if !i.ipv6_addresses.is_empty() {
            let list: Vec<Json> = i.ipv6_addresses.iter().map(|a| json!({ "Ipv6Address": a })).collect();
            eni.insert("Ipv6Addresses".into(), Json::Array(list));
        }
        if let Some(a) = i.private_ip_address.as_ref().filter(|a| !a.is_empty()) {
            eni.insert("PrivateIpAddress".into(), json!(a));
        }
        if !i.private_ip_addresses.is_empty() {
            let list: Vec<Json> = i
                .private_ip_addresses
                .iter()
                .map(|(a, primary)| match primary {
                    Some(b) => json!({ "PrivateIpAddress": a, "Primary": b }),
                    None => json!({ "PrivateIpAddress": a }),
                })
                .collect();
            eni.insert("PrivateIpAddresses".into(), Json::Array(list));
        }
        eni.insert("DeleteOnTermination".into(), json!(i.delete_on_termination));
        let groups = if i.groups.is_empty() { &p.security_groups } else { &i.groups };
        if !groups.is_empty() {
            eni.insert("Groups".into(), ids_json(&self.group_ids(groups, Some(&subnet)).await?));
        }
        if let Some(d) = &i.description {
            eni.insert("Description".into(), json!(d));
        }
        Ok(eni)
    }

    /// amazon.aws's `warn_if_public_ip_assignment_changed`: the public address is decided at
    /// launch; asking for another is a warning.
    fn warn_if_public_ip_changed(&mut self, instance: &Json) -> R<()> {
        let p = self.p;
        if !p.network_legacy {
            validate_assign_public_ip(&p.network_interfaces)?;
        }
        let Some(assign) = p.network_interfaces.first().and_then(|i| i.assign_public_ip) else { return Ok(()) };
        let public = instance["PublicDnsName"].as_str().is_some_and(|d| !d.is_empty());
        if public != assign {
            self.warnings.push(format!(
                "Unable to modify public ip assignment to {} for instance {}. Whether or not to assign a public IP is determined during instance creation.",
                if assign { "True" } else { "False" },
                id_of(instance)
            ));
        }
        Ok(())
    }

    /// Sends the `RunInstances` request of `spec`; the new instances.
    async fn run_instances(&self, spec: &Obj) -> R<Vec<Json>> {
        use base64::Engine as _;
        let client = &self.client;
        let text = |k: &str| spec.get(k).and_then(Json::as_str).map(str::to_string);
        let boolean = |k: &str| spec.get(k).and_then(Json::as_bool);
        let count = spec.get("MinCount").and_then(Json::as_i64).unwrap_or(1) as i32;
        let interfaces: Vec<InstanceNetworkInterfaceSpecification> =
            spec["NetworkInterfaces"].as_array().into_iter().flatten().map(sdk_interface).collect();
        let tag_specs: Option<Vec<TagSpecification>> =
            spec.get("TagSpecifications").and_then(Json::as_array).map(|specs| {
                specs
                    .iter()
                    .map(|s| {
                        let tags = s["Tags"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .map(|t| {
                                Tag::builder()
                                    .set_key(t["Key"].as_str().map(str::to_string))
                                    .set_value(t["Value"].as_str().map(str::to_string))
                                    .build()
                            })
                            .collect();
                        let kind =
                            if s["ResourceType"] == "volume" { ResourceType::Volume } else { ResourceType::Instance };
                        TagSpecification::builder().resource_type(kind).set_tags(Some(tags)).build()
                    })
                    .collect()
            });
        let block_devices = spec
            .get("BlockDeviceMappings")
            .and_then(Json::as_array)
            .map(|v| v.iter().map(block_device_mapping).collect::<Vec<_>>());
        let out = retry(|| async {
            client
                .run_instances()
                .set_client_token(text("ClientToken"))
                .set_image_id(text("ImageId"))
                .set_ramdisk_id(text("RamdiskId"))
                .set_kernel_id(text("KernelId"))
                .set_key_name(text("KeyName"))
                .set_user_data(text("UserData").map(|u| base64::engine::general_purpose::STANDARD.encode(u)))
                .set_monitoring(
                    spec.get("Monitoring").map(|_| RunInstancesMonitoringEnabled::builder().enabled(true).build()),
                )
                .set_ebs_optimized(boolean("EbsOptimized"))
                .set_instance_initiated_shutdown_behavior(
                    text("InstanceInitiatedShutdownBehavior").map(|s| ShutdownBehavior::from(s.as_str())),
                )
                .set_disable_api_termination(boolean("DisableApiTermination"))
                .min_count(count)
                .max_count(count)
                .set_network_interfaces(Some(interfaces.clone()))
                .set_block_device_mappings(block_devices.clone())
                .set_tag_specifications(tag_specs.clone())
                .set_instance_type(text("InstanceType").map(|t| InstanceType::from(t.as_str())))
                .send()
                .await
                .map_err(from_sdk)
        })
        .await
        .map_err(|e| Fail::api("Failed to launch instances", e))?;
        Ok(out.instances().iter().map(boto3::description).collect())
    }

    async fn ensure_present(&mut self, existing: &[Json], state: &str, current_count: i64) -> R<Obj> {
        let spec = self.run_spec(current_count).await?;
        let mut o = Obj::new();
        if self.check {
            o.insert("changed".into(), json!(true));
            if !existing.is_empty() {
                o.insert("instance_ids".into(), ids_json(&existing.iter().map(id_of).collect::<Vec<_>>()));
                o.insert("instances".into(), Json::Array(existing.to_vec()));
            }
            o.insert("spec".into(), Json::Object(spec));
            o.insert("msg".into(), json!("Would have launched instances if not in check_mode."));
            return Ok(o);
        }
        let created = self.run_instances(&spec).await?;
        let ids: Vec<String> = created.iter().map(id_of).collect();
        self.await_instances(&ids, "present", true).await?;
        for instance in &created {
            let mut changes = self.diff_instance(instance, &["UserData", "EbsOptimized"]).await?;
            self.modify_attributes(state, &mut changes).await?;
        }
        let mut all: Vec<String> = existing.iter().map(id_of).collect();
        all.extend(ids.iter().cloned());
        o.insert("changed".into(), json!(true));
        if !existing.is_empty() {
            o.insert("changed_ids".into(), ids_json(&ids));
            o.insert("instance_ids".into(), ids_json(&all));
        } else {
            o.insert("instance_ids".into(), ids_json(&ids));
        }
        if !self.p.wait {
            o.insert("spec".into(), Json::Object(spec));
            return Ok(o);
        }
        self.await_instances(&ids, state, false).await?;
        let now = self.by_ids(&ids).await?;
        let mut shown = existing.to_vec();
        shown.extend(now);
        o.insert("instances".into(), pretties(&shown));
        o.insert("spec".into(), Json::Object(spec));
        Ok(o)
    }
}

/// amazon.aws's `validate_assign_public_ip`.
fn validate_assign_public_ip(interfaces: &[Interface]) -> R<()> {
    if interfaces.len() > 1 && interfaces.iter().any(|i| i.assign_public_ip == Some(true)) {
        return Err(Fail::new("The option 'assign_public_ip' cannot be set to true with multiple network interfaces."));
    }
    Ok(())
}

/// amazon.aws's `validate_network_params` for `count` new instances.
fn validate_network(interfaces: &[Interface], count: i64) -> R<()> {
    validate_assign_public_ip(interfaces)?;
    for i in interfaces {
        if i.private_ip_addresses.iter().filter(|(_, primary)| *primary == Some(true)).count() > 1 {
            return Err(Fail::new(
                "Only one primary private IP address can be specified when creating network interface.",
            ));
        }
    }
    if count > 1 {
        for opt in ["private_ip_address", "private_ip_addresses", "ipv6_addresses"] {
            let given = |i: &Interface| match opt {
                "private_ip_address" => i.private_ip_address.as_ref().is_some_and(|a| !a.is_empty()),
                "private_ip_addresses" => !i.private_ip_addresses.is_empty(),
                _ => !i.ipv6_addresses.is_empty(),
            };
            if interfaces.iter().any(given) {
                return Err(Fail::new(format!(
                    "The option '{opt}' cannot be specified when launching more than one instance."
                )));
            }
        }
    }
    Ok(())
}

/// An interface of `RunInstances` from its spec (boto3's keys).
fn sdk_interface(e: &Json) -> InstanceNetworkInterfaceSpecification {
    let text = |k: &str| e[k].as_str().map(str::to_string);
    let texts = |k: &str, inner: &str| -> Option<Vec<String>> {
        e[k].as_array().map(|l| {
            l.iter()
                .filter_map(|x| if inner.is_empty() { x.as_str() } else { x[inner].as_str() })
                .map(str::to_string)
                .collect()
        })
    };
    InstanceNetworkInterfaceSpecification::builder()
        .set_device_index(e["DeviceIndex"].as_i64().and_then(|d| i32::try_from(d).ok()))
        .set_associate_public_ip_address(e["AssociatePublicIpAddress"].as_bool())
        .set_subnet_id(text("SubnetId"))
        .set_delete_on_termination(e["DeleteOnTermination"].as_bool())
        .set_groups(texts("Groups", ""))
        .set_description(text("Description"))
        .set_private_ip_address(text("PrivateIpAddress"))
        .set_private_ip_addresses(e["PrivateIpAddresses"].as_array().map(|l| {
            l.iter()
                .map(|x| {
                    PrivateIpAddressSpecification::builder()
                        .set_private_ip_address(x["PrivateIpAddress"].as_str().map(str::to_string))
                        .set_primary(x["Primary"].as_bool())
                        .build()
                })
                .collect()
        }))
        .set_ipv6_addresses(
            texts("Ipv6Addresses", "Ipv6Address")
                .map(|l| l.into_iter().map(|a| InstanceIpv6Address::builder().ipv6_address(a).build()).collect()),
        )
        .build()
}

/// amazon.aws's `build_volume_spec`: `volume_size` and `iops` as integers, a gp3 volume's
/// `iops` (3000) and `throughput` (125) defaults, then every key in CamelCase as
/// `snake_dict_to_camel_dict(capitalize_first=True)` writes it.
fn build_volume_spec(volumes: &[Json]) -> R<Vec<Json>> {
    let int = |v: &Json, what: &str| -> R<Json> {
        match v {
            Json::Number(n) if n.is_i64() => Ok(v.clone()),
            Json::Number(n) => Ok(json!(n.as_f64().unwrap_or_default().trunc() as i64)),
            Json::String(s) => s
                .trim()
                .parse::<i64>()
                .map(|n| json!(n))
                .map_err(|_| Fail::new(format!("invalid literal for int() with base 10: '{s}' ({what})"))),
            other => Err(Fail::new(format!("int() argument must be a string or a number, not {other} ({what})"))),
        }
    };
    let mut out = Vec::new();
    for v in volumes {
        let mut v = v.clone();
        if let Some(ebs) = v.get_mut("ebs").and_then(Json::as_object_mut) {
            for k in ["volume_size", "iops"] {
                if let Some(x) = ebs.get(k).cloned() {
                    ebs.insert(k.into(), int(&x, k)?);
                }
            }
            if ebs.get("volume_type").and_then(Json::as_str) == Some("gp3") {
                if !ebs.get("iops").is_some_and(prov_core::template::py_truthy) {
                    ebs.insert("iops".into(), json!(3000));
                }
                match ebs.get("throughput").cloned() {
                    Some(t) => {
                        ebs.insert("throughput".into(), int(&t, "throughput")?);
                    }
                    None => {
                        ebs.insert("throughput".into(), json!(125));
                    }
                }
            }
        }
        out.push(camel(&v));
    }
    Ok(out)
}

/// `snake_dict_to_camel_dict(v, capitalize_first=True)`.
fn camel(v: &Json) -> Json {
    match v {
        Json::Object(m) => Json::Object(
            m.iter()
                .map(|(k, x)| {
                    let key: String = k
                        .split('_')
                        .map(|part| {
                            let mut c = part.chars();
                            match c.next() {
                                Some(f) => f.to_uppercase().chain(c.flat_map(char::to_lowercase)).collect(),
                                None => "_".to_string(),
                            }
                        })
                        .collect();
                    (key, camel(x))
                })
                .collect(),
        ),
        Json::Array(a) => Json::Array(a.iter().map(camel).collect()),
        other => other.clone(),
    }
}

/// A block device mapping of the spec for the SDK.
fn block_device_mapping(v: &Json) -> aws_sdk_ec2::types::BlockDeviceMapping {
    use aws_sdk_ec2::types::{BlockDeviceMapping, EbsBlockDevice, VolumeType};
    let text = |x: &Json, k: &str| x.get(k).and_then(Json::as_str).map(str::to_string);
    let int = |x: &Json, k: &str| x.get(k).and_then(Json::as_i64).map(|n| n as i32);
    let boolean = |x: &Json, k: &str| x.get(k).and_then(Json::as_bool);
    let ebs = v.get("Ebs").map(|e| {
        EbsBlockDevice::builder()
            .set_delete_on_termination(boolean(e, "DeleteOnTermination"))
            .set_iops(int(e, "Iops"))
            .set_snapshot_id(text(e, "SnapshotId"))
            .set_volume_size(int(e, "VolumeSize"))
            .set_volume_type(text(e, "VolumeType").map(|t| VolumeType::from(t.as_str())))
            .set_kms_key_id(text(e, "KmsKeyId"))
            .set_throughput(int(e, "Throughput"))
            .set_encrypted(boolean(e, "Encrypted"))
            .build()
    });
    BlockDeviceMapping::builder()
        .set_device_name(text(v, "DeviceName"))
        .set_virtual_name(text(v, "VirtualName"))
        .set_no_device(text(v, "NoDevice"))
        .set_ebs(ebs)
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_tokens_are_uuid4_hex() {
        let a = client_token();
        assert_eq!(a.len(), 32);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(&a[12..13], "4");
        assert_ne!(a, client_token());
    }
}
