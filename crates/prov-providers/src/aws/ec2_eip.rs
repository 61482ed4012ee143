//! `amazon.aws.ec2_eip` made with aws-sdk-ec2: an Elastic IP found by its address or by the
//! instance or network interface it is associated with, allocated (or an unassociated one
//! reused), associated, tagged, disassociated and released as the module does, with its
//! return values. Check mode makes the same reads and no change.

use super::api::{from_sdk, retry};
use super::module::{client, current_tags, ensure_tags, filter, Fail, Obj, R};
use crate::ec2_eip::Params;
use crate::ec2_instance::Report;
use crate::ProviderError;
use aws_sdk_ec2::types::{DomainType, Filter, ResourceType, Tag, TagSpecification};
use aws_sdk_ec2::Client;
use serde_json::{json, Value as Json};

/// Runs the module.
pub async fn run(p: &Params, check: bool) -> Result<Report, ProviderError> {
    let client = match client(&p.access, "ec2_eip").await {
        Ok(c) => c,
        Err(f) => return Ok(Report { fields: f.into_fields(), failed: true, warnings: Vec::new() }),
    };
    let m = Module { p, check, client };
    Ok(match m.main().await {
        Ok(fields) => Report { fields, failed: false, warnings: Vec::new() },
        Err(f) => Report { fields: f.into_fields(), failed: true, warnings: Vec::new() },
    })
}

/// What the module reads of an address.
fn address(a: &aws_sdk_ec2::types::Address) -> Json {
    let mut o = Obj::new();
    let mut put = |k: &str, v: Option<&str>| {
        if let Some(v) = v {
            o.insert(k.into(), json!(v));
        }
    };
    put("AllocationId", a.allocation_id());
    put("AssociationId", a.association_id());
    put("Domain", a.domain().map(DomainType::as_str));
    put("InstanceId", a.instance_id());
    put("NetworkInterfaceId", a.network_interface_id());
    put("PrivateIpAddress", a.private_ip_address());
    put("PublicIp", a.public_ip());
    Json::Object(o)
}

fn text<'a>(v: &'a Json, k: &str) -> Option<&'a str> {
    v.get(k).and_then(Json::as_str).filter(|s| !s.is_empty())
}

struct Module<'a> {
    p: &'a Params,
    check: bool,
    client: Client,
}

impl Module<'_> {
    fn is_instance(&self) -> R<bool> {
        let Some(d) = self.p.device_id.as_deref().filter(|d| !d.is_empty()) else { return Ok(false) };
        if d.starts_with("i-") {
            return Ok(true);
        }
        if d.starts_with("eni-") && !self.p.in_vpc {
            return Err(Fail::new("If you are specifying an ENI, in_vpc must be true"));
        }
        Ok(false)
    }

    async fn describe(&self, public_ips: Option<Vec<String>>, filters: Vec<Filter>) -> R<Vec<Json>> {
        let client = &self.client;
        let out = retry(|| async {
            client
                .describe_addresses()
                .set_public_ips(public_ips.clone())
                .set_filters(Some(filters.clone()))
                .send()
                .await
                .map_err(from_sdk)
        })
        .await
        .map_err(|e| Fail::new(e.to_string()))?;
        Ok(out.addresses().iter().map(address).collect())
    }

    /// The address of `public_ip`, else the one associated with `device_id`.
    async fn find_address(
        &self,
        public_ip: Option<&str>,
        device_id: Option<&str>,
        is_instance: bool,
    ) -> R<Option<Json>> {
        let (ips, filters) = match (public_ip.filter(|s| !s.is_empty()), device_id.filter(|s| !s.is_empty())) {
            (None, None) => return Ok(None),
            (Some(ip), _) => (Some(vec![ip.to_string()]), Vec::new()),
            (None, Some(d)) => {
                let name = if is_instance { "instance-id" } else { "network-interface-id" };
                (None, vec![filter(name, &[d.to_string()])])
            }
        };
        let found = self.describe(ips.clone(), filters).await?;
        if found.len() > 1 {
            return Err(Fail::new(format!(
                "Found more than one address using args {} Addresses found: {}",
                match ips {
                    Some(i) => json!({ "PublicIps": i }),
                    None => json!({ "Filters": device_id }),
                },
                Json::Array(found.clone())
            )));
        }
        Ok(found.into_iter().next())
    }

    /// The association id when `address` is associated with `device_id`.
    async fn association(&self, address: Option<&Json>, device_id: &str, is_instance: bool) -> R<Option<String>> {
        let public_ip = address.and_then(|a| text(a, "PublicIp"));
        let Some(found) = self.find_address(public_ip, Some(device_id), is_instance).await? else { return Ok(None) };
        let attached = if is_instance { text(&found, "InstanceId") } else { text(&found, "NetworkInterfaceId") };
        Ok(if attached == Some(device_id) { text(&found, "AssociationId").map(str::to_string) } else { None })
    }

    async fn main(&self) -> R<Obj> {
        let is_instance = self.is_instance()?;
        let p = self.p;
        let address = self.find_address(p.public_ip.as_deref(), p.device_id.as_deref(), is_instance).await?;
        match p.state.as_str() {
            "present" => self.ensure_present(address, is_instance).await,
            _ => self.ensure_absent(address, is_instance).await,
        }
    }

    async fn ensure_absent(&self, address: Option<Json>, is_instance: bool) -> R<Obj> {
        let p = self.p;
        let (mut disassociated, mut released) = (false, false);
        if let Some(a) = &address {
            let device = p.device_id.as_deref().filter(|d| !d.is_empty());
            if let Some(d) = device {
                if let Some(assoc) = self.association(Some(a), d, is_instance).await? {
                    disassociated = true;
                    if !self.check {
                        let client = &self.client;
                        retry(|| async {
                            client.disassociate_address().association_id(&assoc).send().await.map_err(from_sdk)
                        })
                        .await
                        .map_err(|e| Fail::new(e.to_string()))?;
                    }
                }
            }
            if device.is_none() || (disassociated && p.release_on_disassociation) {
                released = true;
                if !self.check {
                    let id = text(a, "AllocationId").unwrap_or_default().to_string();
                    let client = &self.client;
                    retry(|| async { client.release_address().allocation_id(&id).send().await.map_err(from_sdk) })
                        .await
                        .map_err(|e| Fail::new(e.to_string()))?;
                }
            }
        }
        let mut o = Obj::new();
        o.insert("changed".into(), json!(disassociated || released));
        o.insert("disassociated".into(), json!(disassociated));
        o.insert("released".into(), json!(released));
        Ok(o)
    }

    /// The tags `tag_name`/`tag_value` search addresses by.
    fn search_tags(&self) -> Option<(String, String)> {
        let name = self.p.tag_name.clone().filter(|n| !n.is_empty())?;
        match self.p.tag_value.clone().filter(|v| !v.is_empty()) {
            // Python's str.strip("tag:") takes those characters off both ends.
            None => Some(("tag-key".into(), name.trim_matches(|c| "tag:".contains(c)).to_string())),
            Some(v) => Some((if name.starts_with("tag:") { name } else { format!("tag:{name}") }, v)),
        }
    }

    /// A new address (none in check mode), or an unassociated one when reuse is allowed.
    async fn allocate(&self, domain: &str) -> R<(Option<Json>, bool)> {
        let p = self.p;
        if p.reuse_existing_ip_allowed {
            let mut filters = vec![filter("domain", &[domain.to_string()])];
            if let Some((k, v)) = self.search_tags() {
                filters.push(filter(&k, &[v]));
            }
            let all = self.describe(None, filters).await?;
            let free = all.into_iter().find(|a| match domain {
                "vpc" => text(a, "AssociationId").is_none(),
                _ => text(a, "InstanceId").is_none(),
            });
            if let Some(a) = free {
                return Ok((Some(a), false));
            }
        }
        if self.check {
            return Ok((None, true));
        }
        let client = &self.client;
        let tags = p.tags.clone().unwrap_or_default();
        let out = retry(|| async {
            let mut req = client
                .allocate_address()
                .domain(DomainType::from(domain))
                .set_public_ipv4_pool(p.public_ipv4_pool.clone().filter(|s| !s.is_empty()));
            if !tags.is_empty() {
                req = req.tag_specifications(
                    TagSpecification::builder()
                        .resource_type(ResourceType::ElasticIp)
                        .set_tags(Some(tags.iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect()))
                        .build(),
                );
            }
            req.send().await.map_err(from_sdk)
        })
        .await
        .map_err(|e| Fail::new(e.to_string()))?;
        let mut a = Obj::new();
        a.insert("PublicIp".into(), json!(out.public_ip()));
        a.insert("AllocationId".into(), json!(out.allocation_id()));
        a.insert("Domain".into(), json!(out.domain().map(DomainType::as_str)));
        Ok((Some(Json::Object(a)), true))
    }

    async fn ensure_present(&self, address: Option<Json>, is_instance: bool) -> R<Obj> {
        let p = self.p;
        let domain = if p.in_vpc { "vpc" } else { "standard" };
        let mut changed = false;
        let address = match address {
            Some(a) => Some(a),
            None => {
                let (a, c) = self.allocate(domain).await?;
                changed = c;
                a
            }
        };
        if let Some(device) = p.device_id.as_deref().filter(|d| !d.is_empty()) {
            let instance = self.find_device(device, is_instance).await?;
            if is_instance && p.reuse_existing_ip_allowed && !p.in_vpc {
                let in_a_vpc = instance.as_ref().and_then(|i| text(i, "VpcId")).is_some();
                if in_a_vpc {
                    return Err(Fail::new(
                        "You must set 'in_vpc' to true to associate an instance with an existing ip in a vpc",
                    ));
                }
            }
            if self.association(address.as_ref(), device, is_instance).await?.is_none() {
                changed = true;
                if !self.check {
                    let a = address.clone().unwrap_or_default();
                    let client = &self.client;
                    retry(|| async {
                        let mut req = client.associate_address().allow_reassociation(p.allow_reassociation);
                        req = if is_instance {
                            let req = req.instance_id(device);
                            match text(&a, "Domain") {
                                Some("vpc") => req.set_allocation_id(text(&a, "AllocationId").map(str::to_string)),
                                _ => req.set_public_ip(text(&a, "PublicIp").map(str::to_string)),
                            }
                        } else {
                            req.network_interface_id(device)
                                .set_allocation_id(text(&a, "AllocationId").map(str::to_string))
                        };
                        if let Some(ip) = p.private_ip_address.as_ref().filter(|s| !s.is_empty()) {
                            req = req.private_ip_address(ip);
                        }
                        req.send().await.map_err(from_sdk)
                    })
                    .await
                    .map_err(|e| Fail::new(e.to_string()))?;
                }
            }
        }
        let mut o = Obj::new();
        if let Some(a) = &address {
            let id = text(a, "AllocationId").unwrap_or_default().to_string();
            if let Some(tags) = &p.tags {
                let now = current_tags(&self.client, &id, Some("elastic-ip")).await?;
                changed |= ensure_tags(&self.client, self.check, &id, &now, tags, p.purge_tags).await?;
            }
            o.insert("public_ip".into(), a.get("PublicIp").cloned().unwrap_or(Json::Null));
            o.insert("allocation_id".into(), a.get("AllocationId").cloned().unwrap_or(Json::Null));
        }
        o.insert("changed".into(), json!(changed));
        Ok(o)
    }

    /// The instance (with its `VpcId`) or network interface of `device_id`.
    async fn find_device(&self, device: &str, is_instance: bool) -> R<Option<Json>> {
        let client = &self.client;
        if is_instance {
            let out =
                retry(|| async { client.describe_instances().instance_ids(device).send().await.map_err(from_sdk) })
                    .await
                    .map_err(|e| Fail::new(e.to_string()))?;
            let r = out.reservations();
            return Ok(match (r.len(), r.first().map(|x| x.instances())) {
                (1, Some([i])) => Some(json!({ "InstanceId": i.instance_id(), "VpcId": i.vpc_id() })),
                _ => None,
            });
        }
        let out = retry(|| async {
            client.describe_network_interfaces().network_interface_ids(device).send().await.map_err(from_sdk)
        })
        .await
        .map_err(|e| Fail::new(e.to_string()))?;
        Ok(match out.network_interfaces() {
            [i] => Some(json!({ "NetworkInterfaceId": i.network_interface_id(), "VpcId": i.vpc_id() })),
            _ => None,
        })
    }
}
