//! What a VM needs besides the instance: its image, the project's security group, its
//! Elastic IP. Each carries the project tag, so `delete` and `cleanup` find it.

use super::api::{from_sdk, retry, wait_for, ApiError};
use super::{convert, AwsProvider};
use crate::{Instance, InstanceSpec, Labels, ProviderError, LABEL_NAME, LABEL_PROJECT};
use aws_sdk_ec2::types::{DomainType, Filter, IpPermission, IpRange, ResourceType, UserIdGroupPair};
use std::time::Duration;

/// Debian's AWS account, which publishes the official Debian AMIs.
pub const DEBIAN_OWNER: &str = "136693071363";

/// Name pattern of the official Debian 12 AMIs for x86_64.
pub const DEBIAN_12: &str = "debian-12-amd64-*";

fn tag_filter(key: &str, value: &str) -> Filter {
    Filter::builder().name(format!("tag:{key}")).values(value).build()
}

impl AwsProvider {
    /// The AMI of a new VM: its own, the inventory's, else the newest Debian 12 AMI.
    pub(super) async fn image_for(&self, spec: &InstanceSpec) -> Result<String, ProviderError> {
        if let Some(i) = spec.image.as_ref().or(self.cfg.image.as_ref()) {
            return Ok(i.clone());
        }
        let mut cached = self.default_image.lock().await;
        if let Some(i) = cached.as_ref() {
            return Ok(i.clone());
        }
        let client = &self.client;
        let out = retry(|| async move {
            client
                .describe_images()
                .owners(DEBIAN_OWNER)
                .filters(Filter::builder().name("name").values(DEBIAN_12).build())
                .filters(Filter::builder().name("architecture").values("x86_64").build())
                .filters(Filter::builder().name("state").values("available").build())
                .send()
                .await
                .map_err(from_sdk)
        })
        .await
        .map_err(|e| e.context("cannot look up the default image"))?;
        let newest = out
            .images()
            .iter()
            .filter_map(|i| Some((i.creation_date().unwrap_or_default(), i.image_id()?)))
            .max()
            .map(|(_, id)| id.to_string())
            .ok_or_else(|| {
                ProviderError::Invalid(format!(
                    "no image given and no Debian 12 AMI ({DEBIAN_12} of account {DEBIAN_OWNER}) in region {}: \
                     set `image: ami-...` in the inventory file or on the vm task",
                    self.region
                ))
            })?;
        *cached = Some(newest.clone());
        Ok(newest)
    }

    fn group_name(&self) -> String {
        format!("prov-{}", self.cfg.project)
    }

    /// The id of the project's security group, made on first use: SSH (22) and HTTP (80)
    /// from anywhere, and everything between its members.
    pub(super) async fn security_group(&self) -> Result<String, ProviderError> {
        let mut cached = self.security_group.lock().await;
        if let Some(id) = cached.as_ref() {
            return Ok(id.clone());
        }
        let failed = |e: ApiError| e.context(&format!("cannot make security group `{}`", self.group_name()));
        let id = match self.find_security_group().await.map_err(failed)? {
            Some(id) => id,
            None => {
                let client = &self.client;
                let mut labels = Labels::new();
                labels.insert(LABEL_PROJECT.into(), self.cfg.project.clone());
                let name = self.group_name();
                let (name, labels) = (&name, &labels);
                let out = retry(|| async move {
                    client
                        .create_security_group()
                        .group_name(name)
                        .description(format!(
                            "prov project {}: SSH and HTTP in, all traffic between members",
                            self.cfg.project
                        ))
                        .tag_specifications(convert::tag_spec(ResourceType::SecurityGroup, labels, name))
                        .send()
                        .await
                        .map_err(from_sdk)
                })
                .await
                .map_err(failed)?;
                out.group_id().unwrap_or_default().to_string()
            }
        };
        self.authorize(&id).await.map_err(failed)?;
        *cached = Some(id.clone());
        Ok(id)
    }

    async fn find_security_group(&self) -> Result<Option<String>, ApiError> {
        let client = &self.client;
        let name = self.group_name();
        let name = &name;
        let out = retry(|| async move {
            client
                .describe_security_groups()
                .filters(Filter::builder().name("group-name").values(name).build())
                .filters(tag_filter(LABEL_PROJECT, &self.cfg.project))
                .send()
                .await
                .map_err(from_sdk)
        })
        .await?;
        Ok(out.security_groups().iter().find_map(|g| g.group_id()).map(str::to_string))
    }

    async fn authorize(&self, id: &str) -> Result<(), ApiError> {
        let anywhere = |port: i32| {
            IpPermission::builder()
                .ip_protocol("tcp")
                .from_port(port)
                .to_port(port)
                .ip_ranges(IpRange::builder().cidr_ip("0.0.0.0/0").build())
                .build()
        };
        let members = IpPermission::builder()
            .ip_protocol("-1")
            .user_id_group_pairs(UserIdGroupPair::builder().group_id(id).build())
            .build();
        let client = &self.client;
        for rule in [anywhere(22), anywhere(80), members] {
            let rule = &rule;
            let r = retry(|| async move {
                client
                    .authorize_security_group_ingress()
                    .group_id(id)
                    .ip_permissions(rule.clone())
                    .send()
                    .await
                    .map_err(from_sdk)
            })
            .await;
            match r {
                Ok(_) => {}
                Err(e) if e.is("InvalidPermission.Duplicate") => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Deletes the project's security group (EC2 refuses while terminated instances still
    /// hold it, for a while: retried).
    pub(super) async fn delete_security_group(&self) -> Result<(), ProviderError> {
        let failed = |e: ApiError| e.context(&format!("cannot delete security group `{}`", self.group_name()));
        let Some(id) = self.find_security_group().await.map_err(failed)? else { return Ok(()) };
        let client = &self.client;
        let id = id.as_str();
        wait_for("the security group to be free", Duration::from_secs(300), || async move {
            match retry(|| async move { client.delete_security_group().group_id(id).send().await.map_err(from_sdk) })
                .await
            {
                Ok(_) => Ok(Some(())),
                Err(e) if e.is_not_found() => Ok(Some(())),
                Err(e) if e.is("DependencyViolation") => Ok(None),
                Err(e) => Err(failed(e)),
            }
        })
        .await?;
        *self.security_group.lock().await = None;
        Ok(())
    }

    /// Allocates an Elastic IP tagged with the VM's labels: (allocation id, address).
    pub(super) async fn allocate_address(&self, name: &str, labels: &Labels) -> Result<(String, String), ApiError> {
        let client = &self.client;
        let out = retry(|| async move {
            client
                .allocate_address()
                .domain(DomainType::Vpc)
                .tag_specifications(convert::tag_spec(ResourceType::ElasticIp, labels, name))
                .send()
                .await
                .map_err(from_sdk)
        })
        .await?;
        Ok((out.allocation_id().unwrap_or_default().to_string(), out.public_ip().unwrap_or_default().to_string()))
    }

    pub(super) async fn associate_address(&self, allocation: &str, instance: &str) -> Result<(), ApiError> {
        let client = &self.client;
        retry(|| async move {
            client.associate_address().allocation_id(allocation).instance_id(instance).send().await.map_err(from_sdk)
        })
        .await
        .map(|_| ())
    }

    /// Disassociates (when `association` is given) and releases an Elastic IP.
    pub(super) async fn release_address(&self, allocation: &str, association: Option<&str>) -> Result<(), ApiError> {
        let client = &self.client;
        if let Some(assoc) = association {
            let r = retry(|| async move {
                client.disassociate_address().association_id(assoc).send().await.map_err(from_sdk)
            })
            .await;
            match r {
                Ok(_) => {}
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e),
            }
        }
        let r =
            retry(|| async move { client.release_address().allocation_id(allocation).send().await.map_err(from_sdk) })
                .await;
        match r {
            Ok(_) => Ok(()),
            Err(e) if e.is_not_found() => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// The project's Elastic IPs (of VM `name` only, when given): (allocation, association,
    /// instance).
    async fn addresses(&self, name: Option<&str>) -> Result<Vec<(String, Option<String>, Option<String>)>, ApiError> {
        let client = &self.client;
        let out = retry(|| async move {
            let mut req = client.describe_addresses().filters(tag_filter(LABEL_PROJECT, &self.cfg.project));
            if let Some(n) = name {
                req = req.filters(tag_filter(LABEL_NAME, n));
            }
            req.send().await.map_err(from_sdk)
        })
        .await?;
        Ok(out
            .addresses()
            .iter()
            .filter_map(|a| {
                // An unassociated address may come with empty ids rather than none.
                let some = |v: Option<&str>| v.filter(|s| !s.is_empty()).map(str::to_string);
                Some((a.allocation_id()?.to_string(), some(a.association_id()), some(a.instance_id())))
            })
            .collect())
    }

    /// Releases the Elastic IPs of VM `name`, or (`None`) every one of the project that no
    /// instance holds.
    pub(super) async fn release_addresses_of(&self, name: Option<&str>) -> Result<(), ApiError> {
        for (alloc, assoc, instance) in self.addresses(name).await? {
            if name.is_none() && instance.is_some() {
                continue;
            }
            self.release_address(&alloc, assoc.as_deref()).await?;
        }
        Ok(())
    }

    /// Makes sure the running VM `i` holds an Elastic IP of its own: associates a free one
    /// tagged for it (left by an interrupted create) or allocates one. Returns whether it
    /// changed anything.
    pub(super) async fn ensure_elastic_ip(&self, i: &Instance, labels: &Labels) -> Result<bool, ProviderError> {
        let failed = |e: ApiError| e.context(&format!("cannot give VM `{}` its Elastic IP", i.name));
        let mine = self.addresses(Some(&i.name)).await.map_err(failed)?;
        if mine.iter().any(|(_, _, inst)| inst.as_deref() == Some(i.id.as_str())) {
            return Ok(false);
        }
        let alloc = match mine.into_iter().find(|(_, _, inst)| inst.is_none()) {
            Some((alloc, _, _)) => alloc,
            None => self.allocate_address(&i.name, labels).await.map_err(failed)?.0,
        };
        self.associate_address(&alloc, &i.id).await.map_err(failed)?;
        Ok(true)
    }
}
