//! `amazon.aws.ec2_vol` made with aws-sdk-ec2: an EBS volume found by id or `Name` tag,
//! created in the instance's zone (or `zone`), modified (`modify_volume`), tagged, attached
//! to `instance` (its `delete_on_termination` set), detached, deleted, with the module's
//! return values and its early answers (a device already mapped, check mode's messages).

use super::api::{from_sdk, retry, ApiError};
use super::boto3;
use super::module::{client, current_tags, ensure_tags, filter, Fail, Obj, R};
use crate::aws_ec2::camel_dict_to_snake;
use crate::ec2_instance::Report;
use crate::ec2_vol::Params;
use crate::ProviderError;
use aws_sdk_ec2::types::{
    EbsInstanceBlockDeviceSpecification, InstanceBlockDeviceMappingSpecification, ResourceType, Tag, TagSpecification,
    VolumeType,
};
use aws_sdk_ec2::Client;
use serde_json::{json, Value as Json};
use std::time::Duration;

/// How the module ends before its last step: an answer (`exit_json`) or a failure.
enum End {
    Exit(Obj),
    Fail(Fail),
}

impl From<Fail> for End {
    fn from(f: Fail) -> End {
        End::Fail(f)
    }
}

type E<T> = Result<T, End>;

fn exit(pairs: Vec<(&str, Json)>) -> End {
    End::Exit(pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
}

/// Runs the module.
pub async fn run(p: &Params, check: bool) -> Result<Report, ProviderError> {
    let client = match client(&p.access, "ec2_vol").await {
        Ok(c) => c,
        Err(f) => return Ok(Report { fields: f.into_fields(), failed: true, warnings: Vec::new() }),
    };
    let m = Module { p, check, client };
    let out = match m.main().await {
        Ok(fields) | Err(End::Exit(fields)) => Report { fields, failed: false, warnings: Vec::new() },
        Err(End::Fail(f)) => Report { fields: f.into_fields(), failed: true, warnings: Vec::new() },
    };
    Ok(out)
}

fn snake(v: &Json) -> Json {
    let empty = Obj::new();
    Json::Object(camel_dict_to_snake(v.as_object().unwrap_or(&empty), &[]))
}

fn text<'a>(v: &'a Json, k: &str) -> Option<&'a str> {
    v.get(k).and_then(Json::as_str)
}

/// The attachments of a volume (those in `wanted` state), as the module lists them.
fn attachment_data(volume: &Json, wanted: Option<&str>) -> Vec<Json> {
    volume["attachments"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|a| wanted.is_none_or(|w| text(a, "state") == Some(w)))
        .map(|a| {
            json!({
                "attach_time": a.get("attach_time").cloned().unwrap_or(Json::Null),
                "device": a.get("device").cloned().unwrap_or(Json::Null),
                "instance_id": a.get("instance_id").cloned().unwrap_or(Json::Null),
                "status": a.get("state").cloned().unwrap_or(Json::Null),
                "delete_on_termination": a.get("delete_on_termination").cloned().unwrap_or(Json::Null),
            })
        })
        .collect()
}

/// A tag list (`[{key, value}]`, either case) as a mapping.
fn tag_dict(list: Option<&Json>) -> Obj {
    let mut out = Obj::new();
    for t in list.and_then(Json::as_array).into_iter().flatten() {
        let k = t.get("Key").or_else(|| t.get("key")).and_then(Json::as_str);
        let v = t.get("Value").or_else(|| t.get("value")).cloned();
        if let (Some(k), Some(v)) = (k, v) {
            out.insert(k.to_string(), v);
        }
    }
    out
}

struct Module<'a> {
    p: &'a Params,
    check: bool,
    client: Client,
}

impl Module<'_> {
    async fn instance(&self, id: &str) -> R<Option<Json>> {
        let client = &self.client;
        let out = retry(|| async { client.describe_instances().instance_ids(id).send().await.map_err(from_sdk) })
            .await
            .map_err(|e| Fail::api(&format!("Error while getting instance_id with id {id}"), e))?;
        Ok(out.reservations().first().and_then(|r| r.instances().first()).map(|i| snake(&boto3::description(i))))
    }

    /// The volume of `vol_id` (else `id`), or of `name`.
    async fn volume(&self, vol_id: Option<&str>, fail_on_not_found: bool) -> R<Option<Json>> {
        let p = self.p;
        let vol_id = vol_id.map(str::to_string).or_else(|| p.id.clone()).filter(|s| !s.is_empty());
        let name = p.name.clone();
        if vol_id.is_none() && name.is_none() {
            return Ok(None);
        }
        let client = &self.client;
        let (ids, filters) = match (&vol_id, &name) {
            (Some(i), _) => (Some(vec![i.clone()]), None),
            (None, Some(n)) => (None, Some(vec![filter("tag:Name", std::slice::from_ref(n))])),
            _ => (None, None),
        };
        let shown = match (&ids, &name) {
            (Some(i), _) => format!("{{'VolumeIds': {i:?}}}"),
            (None, n) => {
                format!("{{'Filters': [{{'Name': 'tag:Name', 'Values': {:?}}}]}}", n.iter().collect::<Vec<_>>())
            }
        };
        let out = retry(|| async {
            let mut pages = client
                .describe_volumes()
                .set_volume_ids(ids.clone())
                .set_filters(filters.clone())
                .into_paginator()
                .send();
            let mut out = Vec::new();
            while let Some(page) = pages.next().await {
                out.extend(page.map_err(from_sdk)?.volumes().iter().map(boto3::volume));
            }
            Ok(out)
        })
        .await
        .map_err(|e: ApiError| Fail::api(&format!("Error while getting EBS volumes with the parameters {shown}"), e))?;
        if out.is_empty() {
            if fail_on_not_found {
                if let Some(i) = &vol_id {
                    let mut msg = format!("Could not find volume with id: {i}");
                    if let Some(n) = &name {
                        msg.push_str(&format!(" and name: {n}"));
                    }
                    return Err(Fail::new(msg));
                }
            }
            return Ok(None);
        }
        if out.len() > 1 {
            let mut f = Fail::new(format!(
                "Found more than one volume in zone (if specified) with name: {}",
                name.as_deref().unwrap_or("None")
            ));
            f.fields.insert("found".into(), json!(out.iter().map(|v| v["VolumeId"].clone()).collect::<Vec<_>>()));
            return Err(f);
        }
        Ok(Some(snake(&out[0])))
    }

    /// Polls until the volume is in `state` (`deleted`: gone).
    async fn wait(&self, id: &str, state: &str) -> R<()> {
        let client = &self.client;
        let mut delay = Duration::from_millis(200);
        for _ in 0..60 {
            let r = client.describe_volumes().volume_ids(id).send().await.map_err(from_sdk);
            match r {
                Ok(o) => {
                    let now = o.volumes().first().and_then(|v| v.state()).map(|s| s.as_str().to_string());
                    if now.as_deref() == Some(state) || (state == "deleted" && now.is_none()) {
                        return Ok(());
                    }
                }
                Err(e) if state == "deleted" && e.is_not_found() => return Ok(()),
                Err(e) if !e.is_throttling() => return Err(Fail::api("Failed to wait for the volume", e)),
                Err(_) => {}
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(5));
        }
        Err(Fail::new(format!("Timeout waiting for volume {id} to be {state}")))
    }

    async fn main(&self) -> E<Obj> {
        let volume = self.volume(None, false).await?;
        match self.p.state.as_str() {
            "present" => self.ensure_present(volume).await,
            _ => self.ensure_absent(volume).await,
        }
    }

    async fn ensure_absent(&self, volume: Option<Json>) -> E<Obj> {
        let mut changed = false;
        if let Some(v) = volume.filter(|v| !matches!(text(v, "state"), Some("deleting" | "deleted"))) {
            if self.check {
                return Err(exit(vec![
                    ("changed", json!(true)),
                    ("msg", json!("Would have deleted volume if not in check mode.")),
                ]));
            }
            self.detach(&v).await?;
            let id = text(&v, "volume_id").unwrap_or_default().to_string();
            let client = &self.client;
            retry(|| async { client.delete_volume().volume_id(&id).send().await.map_err(from_sdk) })
                .await
                .map_err(|e| Fail::api("Error while deleting volume", e))?;
            self.wait(&id, "deleted").await?;
            changed = true;
        }
        Ok([("changed".to_string(), json!(changed))].into_iter().collect())
    }

    async fn ensure_present(&self, volume: Option<Json>) -> E<Obj> {
        let p = self.p;
        if p.instance.is_none() && p.zone.is_none() {
            return Err(End::Fail(Fail::new("You must specify either instance or zone")));
        }
        let mut zone = p.zone.clone();
        let mut device = p.device_name.clone();
        let (instance, detach) = match p.instance.as_deref() {
            Some("None") | Some("") => (None, true),
            other => (other.map(str::to_string), false),
        };
        let mut inst = None;
        if let Some(i) = &instance {
            let found = self.instance(i).await?.ok_or_else(|| Fail::new(format!("Instance {i} was not found")))?;
            zone = found["placement"]["availability_zone"].as_str().map(str::to_string);
            if device.is_none() {
                device =
                    Some(if text(&found, "platform") == Some("Windows") { "/dev/xvdf" } else { "/dev/sdf" }.into());
            }
            let mapped = found["block_device_mappings"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|d| text(d, "device_name") == device.as_deref())
                .cloned();
            if let Some(m) = mapped {
                let mapped_id = m["ebs"]["volume_id"].clone();
                let other = volume.as_ref().is_none_or(|v| v["volume_id"] != mapped_id);
                if other {
                    return Err(exit(vec![
                        (
                            "msg",
                            json!(format!(
                                "Volume mapping for {} already exists on instance {i}",
                                device.as_deref().unwrap_or_default()
                            )),
                        ),
                        ("volume_id", mapped_id),
                        ("found_volume", volume.clone().unwrap_or(Json::Null)),
                        ("device", json!(device)),
                        ("changed", json!(false)),
                    ]));
                }
            }
            inst = Some(found);
        }
        let mut final_tags: Option<Obj> = None;
        let mut tags_changed = false;
        let (mut volume, mut changed) = match volume {
            Some(v) => {
                let (v, c) = self.update(v).await?;
                let mut tags = p.tags.clone();
                if let Some(n) = &p.name {
                    let mut t = match tags.filter(|t| !t.is_empty()) {
                        Some(t) => t,
                        None => tag_dict(v.get("tags"))
                            .into_iter()
                            .map(|(k, x)| (k, x.as_str().unwrap_or_default().to_string()))
                            .collect(),
                    };
                    match t.iter_mut().find(|(k, _)| k == "Name") {
                        Some(slot) => slot.1 = n.clone(),
                        None => t.push(("Name".into(), n.clone())),
                    }
                    tags = Some(t);
                }
                if self.check {
                    final_tags = Some(Obj::new());
                    tags_changed = true;
                } else {
                    let id = text(&v, "volume_id").unwrap_or_default().to_string();
                    if let Some(t) = &tags {
                        let now = current_tags(&self.client, &id, Some("volume")).await?;
                        tags_changed = ensure_tags(&self.client, false, &id, &now, t, p.purge_tags).await?;
                    }
                    final_tags = Some(current_tags(&self.client, &id, Some("volume")).await?);
                }
                (v, c)
            }
            None => self.create(zone.as_deref()).await?,
        };
        let attach_changed = if detach {
            let (v, c) = self.detach(&volume).await?;
            volume = v;
            c
        } else if let Some(i) = &inst {
            let (v, c) = self.attach(volume, i, device.as_deref().unwrap_or_default()).await?;
            volume = v;
            c
        } else {
            false
        };
        changed |= tags_changed || attach_changed;
        let tags = match final_tags.filter(|t| !t.is_empty()) {
            Some(t) => t,
            None => tag_dict(volume.get("tags")),
        };
        let get = |k: &str| volume.get(k).cloned().unwrap_or(Json::Null);
        let info = json!({
            "create_time": get("create_time"),
            "encrypted": get("encrypted"),
            "id": get("volume_id"),
            "iops": get("iops"),
            "size": get("size"),
            "snapshot_id": get("snapshot_id"),
            "status": get("state"),
            "type": get("volume_type"),
            "zone": get("availability_zone"),
            "attachment_set": attachment_data(&volume, None),
            "multi_attach_enabled": get("multi_attach_enabled"),
            "tags": tags,
            "throughput": get("throughput"),
        });
        let mut o = Obj::new();
        o.insert("changed".into(), json!(changed));
        o.insert("volume_id".into(), info["id"].clone());
        o.insert("volume_type".into(), info["type"].clone());
        o.insert("volume".into(), info);
        o.insert("device".into(), json!(device));
        Ok(o)
    }

    /// `modify_volume`: the type, IOPS, size, throughput and multi-attach asked for.
    async fn update(&self, mut volume: Json) -> E<(Json, bool)> {
        let p = self.p;
        if !p.modify_volume {
            return Ok((volume, false));
        }
        let original_type = text(&volume, "volume_type").map(str::to_string);
        let type_changed = original_type.as_deref() != Some(p.volume_type.as_str());
        let original_iops = volume.get("iops").and_then(Json::as_i64);
        let mut iops = None;
        let mut iops_changed = false;
        match p.iops.filter(|i| *i != 0) {
            Some(t) => {
                iops_changed = Some(t) != original_iops;
                iops = Some(if iops_changed { t } else { original_iops.unwrap_or(t) });
            }
            None if type_changed
                && p.volume_type == "gp3"
                && original_iops.is_none_or(|i| !(3000..=16000).contains(&i)) =>
            {
                iops = Some(3000);
                iops_changed = true;
            }
            None => {}
        }
        let size = p.volume_size.filter(|s| *s != 0 && volume.get("size").and_then(Json::as_i64) != Some(*s));
        let throughput =
            p.throughput.filter(|t| *t != 0 && volume.get("throughput").and_then(Json::as_i64) != Some(*t));
        let multi = p.multi_attach.filter(|m| volume.get("multi_attach_enabled").and_then(Json::as_bool) != Some(*m));
        let changed = iops_changed || size.is_some() || type_changed || throughput.is_some() || multi.is_some();
        if !changed {
            return Ok((volume, false));
        }
        if self.check {
            return Err(exit(vec![
                ("changed", json!(true)),
                ("msg", json!("Would have updated volume if not in check mode.")),
            ]));
        }
        let id = text(&volume, "volume_id").unwrap_or_default().to_string();
        let client = &self.client;
        let out = retry(|| async {
            client
                .modify_volume()
                .volume_id(&id)
                .set_volume_type(type_changed.then(|| VolumeType::from(p.volume_type.as_str())))
                .set_iops(iops.map(|i| i as i32))
                .set_size(size.map(|s| s as i32))
                .set_throughput(throughput.map(|t| t as i32))
                .set_multi_attach_enabled(multi)
                .send()
                .await
                .map_err(from_sdk)
        })
        .await
        .map_err(|e| Fail::api("Error while modifying volume", e))?;
        let m = out.volume_modification();
        if let Some(o) = volume.as_object_mut() {
            o.insert("size".into(), json!(m.and_then(|m| m.target_size())));
            o.insert("volume_type".into(), json!(m.and_then(|m| m.target_volume_type()).map(|t| t.as_str())));
            o.insert("iops".into(), json!(m.and_then(|m| m.target_iops())));
            o.insert("multi_attach_enabled".into(), json!(m.and_then(|m| m.target_multi_attach_enabled())));
            o.insert("throughput".into(), json!(m.and_then(|m| m.target_throughput())));
        }
        Ok((volume, true))
    }

    async fn create(&self, zone: Option<&str>) -> E<(Json, bool)> {
        let p = self.p;
        let existing = self.volume(None, true).await?;
        if self.check {
            return Err(exit(vec![
                ("changed", json!(true)),
                ("msg", json!("Would have created a volume if not in check mode.")),
            ]));
        }
        if let Some(v) = existing {
            return Ok((v, false));
        }
        let mut tags = p.tags.clone().unwrap_or_default();
        if let Some(n) = &p.name {
            match tags.iter_mut().find(|(k, _)| k == "Name") {
                Some(slot) => slot.1 = n.clone(),
                None => tags.push(("Name".into(), n.clone())),
            }
        }
        let iops = match p.iops.filter(|i| *i != 0) {
            Some(i) => Some(i),
            None if p.volume_type == "gp3" => Some(3000),
            None => None,
        };
        let client = &self.client;
        let out = retry(|| async {
            let mut req = client
                .create_volume()
                .set_availability_zone(zone.map(str::to_string))
                .encrypted(p.encrypted)
                .volume_type(VolumeType::from(p.volume_type.as_str()))
                .set_size(p.volume_size.filter(|s| *s != 0).map(|s| s as i32))
                .set_kms_key_id(p.kms_key_id.clone().filter(|s| !s.is_empty()))
                .set_snapshot_id(p.snapshot.clone().filter(|s| !s.is_empty()))
                .set_iops(iops.map(|i| i as i32))
                .set_throughput(p.throughput.filter(|t| *t != 0).map(|t| t as i32));
            if p.multi_attach == Some(true) {
                req = req.multi_attach_enabled(true);
            }
            if !tags.is_empty() {
                req = req.tag_specifications(
                    TagSpecification::builder()
                        .resource_type(ResourceType::Volume)
                        .set_tags(Some(tags.iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect()))
                        .build(),
                );
            }
            req.send().await.map_err(from_sdk)
        })
        .await
        .map_err(|e| Fail::api("Error while creating EBS volume", e))?;
        let id = out.volume_id().unwrap_or_default().to_string();
        self.wait(&id, "available").await?;
        let v = self
            .volume(Some(&id), true)
            .await?
            .ok_or_else(|| Fail::new(format!("Could not find volume with id: {id}")))?;
        Ok((v, true))
    }

    async fn attach(&self, volume: Json, inst: &Json, device: &str) -> E<(Json, bool)> {
        let attached = attachment_data(&volume, Some("attached"));
        let inst_id = inst["instance_id"].as_str().unwrap_or_default().to_string();
        if let Some(a) = attached.first() {
            if self.check && matches!(text(a, "status"), Some("attached" | "attaching")) {
                let on = text(a, "instance_id").unwrap_or("None");
                return Err(exit(vec![
                    ("changed", json!(false)),
                    ("msg", json!(format!("IN CHECK MODE - volume already attached to instance: {on}."))),
                    ("volume", volume.clone()),
                ]));
            }
            if volume.get("multi_attach_enabled").and_then(Json::as_bool) != Some(true) {
                if text(a, "instance_id") != Some(inst_id.as_str()) {
                    return Err(End::Fail(Fail::new(format!(
                        "Volume {} is already attached to another instance: {}.",
                        text(&volume, "volume_id").unwrap_or_default(),
                        text(a, "instance_id").unwrap_or("None")
                    ))));
                }
                return Ok((volume, false));
            }
        }
        if self.check {
            return Err(exit(vec![
                ("changed", json!(true)),
                ("msg", json!("Would have attached volume if not in check mode.")),
            ]));
        }
        let id = text(&volume, "volume_id").unwrap_or_default().to_string();
        let client = &self.client;
        retry(|| async {
            client.attach_volume().device(device).instance_id(&inst_id).volume_id(&id).send().await.map_err(from_sdk)
        })
        .await
        .map_err(|e| Fail::api("Error while attaching EBS volume", e))?;
        self.wait(&id, "in-use").await?;
        self.delete_on_termination(&inst_id, device).await?;
        let v = self.volume(Some(&id), true).await?.unwrap_or(volume);
        Ok((v, true))
    }

    /// Sets the instance's `DeleteOnTermination` of the device as `delete_on_termination`.
    async fn delete_on_termination(&self, inst_id: &str, device: &str) -> R<()> {
        let mut mapped = None;
        for attempt in 0..3 {
            let inst = self.instance(inst_id).await?;
            mapped = inst.and_then(|i| {
                i["block_device_mappings"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .find(|d| text(d, "device_name") == Some(device))
                    .cloned()
            });
            if mapped.is_some() {
                break;
            }
            if attempt < 2 {
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
        let Some(m) = mapped else {
            let mut f = Fail::new("Unable to find device on instance");
            f.fields.insert("device".into(), json!(device));
            return Err(f);
        };
        let want = self.p.delete_on_termination;
        if m["ebs"].get("delete_on_termination").and_then(Json::as_bool) != Some(want) {
            let client = &self.client;
            retry(|| async {
                client
                    .modify_instance_attribute()
                    .instance_id(inst_id)
                    .block_device_mappings(
                        InstanceBlockDeviceMappingSpecification::builder()
                            .device_name(device)
                            .ebs(EbsInstanceBlockDeviceSpecification::builder().delete_on_termination(want).build())
                            .build(),
                    )
                    .send()
                    .await
                    .map_err(from_sdk)
            })
            .await
            .map_err(|e| Fail::api(&format!("Error while modifying Block Device Mapping of instance {inst_id}"), e))?;
        }
        Ok(())
    }

    async fn detach(&self, volume: &Json) -> E<(Json, bool)> {
        let id = text(volume, "volume_id").unwrap_or_default().to_string();
        let mut changed = false;
        for a in attachment_data(volume, Some("attached")) {
            if self.check {
                return Err(exit(vec![
                    ("changed", json!(true)),
                    ("msg", json!("Would have detached volume if not in check mode.")),
                ]));
            }
            let inst = text(&a, "instance_id").map(str::to_string);
            let client = &self.client;
            retry(|| async {
                client.detach_volume().volume_id(&id).set_instance_id(inst.clone()).send().await.map_err(from_sdk)
            })
            .await
            .map_err(|e| Fail::api("Error while detaching volume", e))?;
            self.wait(&id, "available").await?;
            changed = true;
        }
        let v = self.volume(Some(&id), true).await?.unwrap_or_else(|| volume.clone());
        Ok((v, changed))
    }
}
