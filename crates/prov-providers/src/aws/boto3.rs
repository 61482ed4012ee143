//! An EC2 instance described as boto3 describes it (`describe_instances`: the API's member
//! names, absent members left out, times as Python prints an aware `datetime`), for the
//! `amazon.aws.aws_ec2` inventory files ([`crate::aws_ec2`]).

use aws_sdk_ec2::primitives::{DateTime, DateTimeFormat as Format};
use aws_sdk_ec2::types as ec2;
use serde_json::{Map, Value as Json};

/// An object of the members that are present.
macro_rules! obj {
    ($($k:literal => $v:expr),* $(,)?) => {{
        let mut m = Map::new();
        $(if let Some(v) = $v { m.insert($k.to_string(), v); })*
        Json::Object(m)
    }};
}

fn s(v: &Option<String>) -> Option<Json> {
    v.as_ref().map(|x| Json::String(x.clone()))
}

fn b(v: Option<bool>) -> Option<Json> {
    v.map(Json::Bool)
}

fn n(v: Option<i32>) -> Option<Json> {
    v.map(Json::from)
}

fn e<T: AsRef<str>>(v: &Option<T>) -> Option<Json> {
    v.as_ref().map(|x| Json::String(x.as_ref().to_string()))
}

fn o<T>(v: &Option<T>, f: impl Fn(&T) -> Json) -> Option<Json> {
    v.as_ref().map(f)
}

fn l<T>(v: &Option<Vec<T>>, f: impl Fn(&T) -> Json) -> Option<Json> {
    v.as_ref().map(|items| Json::Array(items.iter().map(f).collect()))
}

/// Python's `datetime.isoformat()` of a UTC time: `2026-12-06T08:11:43+00:00`, microseconds
/// only when there are some.
pub fn iso(t: &DateTime) -> String {
    let text = t.fmt(Format::DateTime).unwrap_or_default();
    let text = text.trim_end_matches('Z');
    match text.split_once('.') {
        Some((whole, frac)) => {
            let micros: String = frac.chars().chain(std::iter::repeat('0')).take(6).collect();
            if micros.chars().all(|c| c == '0') {
                format!("{whole}+00:00")
            } else {
                format!("{whole}.{micros}+00:00")
            }
        }
        None => format!("{text}+00:00"),
    }
}

fn t(v: &Option<DateTime>) -> Option<Json> {
    v.as_ref().map(|x| Json::String(iso(x)))
}

fn group(g: &ec2::GroupIdentifier) -> Json {
    obj! { "GroupId" => s(&g.group_id), "GroupName" => s(&g.group_name) }
}

fn operator(x: &ec2::OperatorResponse) -> Json {
    obj! { "Managed" => b(x.managed), "Principal" => s(&x.principal), "HiddenByDefault" => b(x.hidden_by_default) }
}

fn association(a: &ec2::InstanceNetworkInterfaceAssociation) -> Json {
    obj! {
        "CarrierIp" => s(&a.carrier_ip),
        "CustomerOwnedIp" => s(&a.customer_owned_ip),
        "IpOwnerId" => s(&a.ip_owner_id),
        "PublicDnsName" => s(&a.public_dns_name),
        "PublicIp" => s(&a.public_ip),
    }
}

fn interface(x: &ec2::InstanceNetworkInterface) -> Json {
    obj! {
        "Association" => o(&x.association, association),
        "Attachment" => o(&x.attachment, |a| obj! {
            "AttachTime" => t(&a.attach_time),
            "AttachmentId" => s(&a.attachment_id),
            "DeleteOnTermination" => b(a.delete_on_termination),
            "DeviceIndex" => n(a.device_index),
            "Status" => e(&a.status),
            "NetworkCardIndex" => n(a.network_card_index),
            "EnaSrdSpecification" => o(&a.ena_srd_specification, |s| obj! {
                "EnaSrdEnabled" => b(s.ena_srd_enabled),
                "EnaSrdUdpSpecification" => o(&s.ena_srd_udp_specification, |u| obj! {
                    "EnaSrdUdpEnabled" => b(u.ena_srd_udp_enabled),
                }),
            }),
            "EnaQueueCount" => n(a.ena_queue_count),
        }),
        "Description" => s(&x.description),
        "Groups" => l(&x.groups, group),
        "Ipv6Addresses" => l(&x.ipv6_addresses, |a| obj! {
            "Ipv6Address" => s(&a.ipv6_address),
            "IsPrimaryIpv6" => b(a.is_primary_ipv6),
        }),
        "MacAddress" => s(&x.mac_address),
        "NetworkInterfaceId" => s(&x.network_interface_id),
        "OwnerId" => s(&x.owner_id),
        "PrivateDnsName" => s(&x.private_dns_name),
        "PrivateIpAddress" => s(&x.private_ip_address),
        "PrivateIpAddresses" => l(&x.private_ip_addresses, |a| obj! {
            "Association" => o(&a.association, association),
            "Primary" => b(a.primary),
            "PrivateDnsName" => s(&a.private_dns_name),
            "PrivateIpAddress" => s(&a.private_ip_address),
        }),
        "SourceDestCheck" => b(x.source_dest_check),
        "Status" => e(&x.status),
        "SubnetId" => s(&x.subnet_id),
        "VpcId" => s(&x.vpc_id),
        "InterfaceType" => s(&x.interface_type),
        "Ipv4Prefixes" => l(&x.ipv4_prefixes, |p| obj! { "Ipv4Prefix" => s(&p.ipv4_prefix) }),
        "Ipv6Prefixes" => l(&x.ipv6_prefixes, |p| obj! { "Ipv6Prefix" => s(&p.ipv6_prefix) }),
        "ConnectionTrackingConfiguration" => o(&x.connection_tracking_configuration, |c| obj! {
            "TcpEstablishedTimeout" => n(c.tcp_established_timeout),
            "UdpStreamTimeout" => n(c.udp_stream_timeout),
            "UdpTimeout" => n(c.udp_timeout),
        }),
        "Operator" => o(&x.operator, operator),
    }
}

/// One instance of a reservation, with the reservation's `OwnerId`, `RequesterId` (empty when
/// absent) and `ReservationId`, as the aws_ec2 plugin adds them.
pub fn instance(r: &ec2::Reservation, i: &ec2::Instance) -> Json {
    let mut v = description(i);
    if let Some(m) = v.as_object_mut() {
        m.insert("OwnerId".into(), Json::String(r.owner_id.clone().unwrap_or_default()));
        m.insert("RequesterId".into(), Json::String(r.requester_id.clone().unwrap_or_default()));
        m.insert("ReservationId".into(), Json::String(r.reservation_id.clone().unwrap_or_default()));
    }
    v
}

/// One instance as `describe_instances` gives it in a reservation's `Instances`.
pub fn description(i: &ec2::Instance) -> Json {
    obj! {
        "AmiLaunchIndex" => n(i.ami_launch_index),
        "ImageId" => s(&i.image_id),
        "InstanceId" => s(&i.instance_id),
        "InstanceType" => e(&i.instance_type),
        "KernelId" => s(&i.kernel_id),
        "KeyName" => s(&i.key_name),
        "LaunchTime" => t(&i.launch_time),
        "Monitoring" => o(&i.monitoring, |m| obj! { "State" => e(&m.state) }),
        "Placement" => o(&i.placement, |p| obj! {
            "AvailabilityZoneId" => s(&p.availability_zone_id),
            "Affinity" => s(&p.affinity),
            "GroupName" => s(&p.group_name),
            "PartitionNumber" => n(p.partition_number),
            "HostId" => s(&p.host_id),
            "Tenancy" => e(&p.tenancy),
            "SpreadDomain" => s(&p.spread_domain),
            "HostResourceGroupArn" => s(&p.host_resource_group_arn),
            "GroupId" => s(&p.group_id),
            "AvailabilityZone" => s(&p.availability_zone),
        }),
        "Platform" => e(&i.platform),
        "PrivateDnsName" => s(&i.private_dns_name),
        "PrivateIpAddress" => s(&i.private_ip_address),
        "ProductCodes" => l(&i.product_codes, |p| obj! {
            "ProductCodeId" => s(&p.product_code_id),
            "ProductCodeType" => e(&p.product_code_type),
        }),
        "PublicDnsName" => s(&i.public_dns_name),
        "PublicIpAddress" => s(&i.public_ip_address),
        "RamdiskId" => s(&i.ramdisk_id),
        "State" => o(&i.state, |x| obj! { "Code" => n(x.code), "Name" => e(&x.name) }),
        "StateTransitionReason" => s(&i.state_transition_reason),
        "SubnetId" => s(&i.subnet_id),
        "VpcId" => s(&i.vpc_id),
        "Architecture" => e(&i.architecture),
        "BlockDeviceMappings" => l(&i.block_device_mappings, |m| obj! {
            "DeviceName" => s(&m.device_name),
            "Ebs" => o(&m.ebs, |x| obj! {
                "AttachTime" => t(&x.attach_time),
                "DeleteOnTermination" => b(x.delete_on_termination),
                "Status" => e(&x.status),
                "VolumeId" => s(&x.volume_id),
                "AssociatedResource" => s(&x.associated_resource),
                "VolumeOwnerId" => s(&x.volume_owner_id),
                "Operator" => o(&x.operator, operator),
                "EbsCardIndex" => n(x.ebs_card_index),
            }),
        }),
        "ClientToken" => s(&i.client_token),
        "EbsOptimized" => b(i.ebs_optimized),
        "EnaSupport" => b(i.ena_support),
        "Hypervisor" => e(&i.hypervisor),
        "IamInstanceProfile" => o(&i.iam_instance_profile, |p| obj! { "Arn" => s(&p.arn), "Id" => s(&p.id) }),
        "InstanceLifecycle" => e(&i.instance_lifecycle),
        "ElasticGpuAssociations" => l(&i.elastic_gpu_associations, |g| obj! {
            "ElasticGpuId" => s(&g.elastic_gpu_id),
            "ElasticGpuAssociationId" => s(&g.elastic_gpu_association_id),
            "ElasticGpuAssociationState" => s(&g.elastic_gpu_association_state),
            "ElasticGpuAssociationTime" => s(&g.elastic_gpu_association_time),
        }),
        "ElasticInferenceAcceleratorAssociations" => l(&i.elastic_inference_accelerator_associations, |a| obj! {
            "ElasticInferenceAcceleratorArn" => s(&a.elastic_inference_accelerator_arn),
            "ElasticInferenceAcceleratorAssociationId" => s(&a.elastic_inference_accelerator_association_id),
            "ElasticInferenceAcceleratorAssociationState" => s(&a.elastic_inference_accelerator_association_state),
            "ElasticInferenceAcceleratorAssociationTime" => t(&a.elastic_inference_accelerator_association_time),
        }),
        "NetworkInterfaces" => l(&i.network_interfaces, interface),
        "OutpostArn" => s(&i.outpost_arn),
        "RootDeviceName" => s(&i.root_device_name),
        "RootDeviceType" => e(&i.root_device_type),
        "SecurityGroups" => l(&i.security_groups, group),
        "SourceDestCheck" => b(i.source_dest_check),
        "SpotInstanceRequestId" => s(&i.spot_instance_request_id),
        "SriovNetSupport" => s(&i.sriov_net_support),
        "StateReason" => o(&i.state_reason, |x| obj! { "Code" => s(&x.code), "Message" => s(&x.message) }),
        "Tags" => l(&i.tags, |x| obj! { "Key" => s(&x.key), "Value" => s(&x.value) }),
        "VirtualizationType" => e(&i.virtualization_type),
        "CpuOptions" => o(&i.cpu_options, |c| obj! {
            "CoreCount" => n(c.core_count),
            "ThreadsPerCore" => n(c.threads_per_core),
            "AmdSevSnp" => e(&c.amd_sev_snp),
            "NestedVirtualization" => e(&c.nested_virtualization),
        }),
        "CapacityBlockId" => s(&i.capacity_block_id),
        "CapacityReservationId" => s(&i.capacity_reservation_id),
        "CapacityReservationSpecification" => o(&i.capacity_reservation_specification, |c| obj! {
            "CapacityReservationPreference" => e(&c.capacity_reservation_preference),
            "CapacityReservationTarget" => o(&c.capacity_reservation_target, |x| obj! {
                "CapacityReservationId" => s(&x.capacity_reservation_id),
                "CapacityReservationResourceGroupArn" => s(&x.capacity_reservation_resource_group_arn),
            }),
        }),
        "HibernationOptions" => o(&i.hibernation_options, |h| obj! { "Configured" => b(h.configured) }),
        "Licenses" => l(&i.licenses, |x| obj! { "LicenseConfigurationArn" => s(&x.license_configuration_arn) }),
        "MetadataOptions" => o(&i.metadata_options, |m| obj! {
            "State" => e(&m.state),
            "HttpTokens" => e(&m.http_tokens),
            "HttpPutResponseHopLimit" => n(m.http_put_response_hop_limit),
            "HttpEndpoint" => e(&m.http_endpoint),
            "HttpProtocolIpv6" => e(&m.http_protocol_ipv6),
            "InstanceMetadataTags" => e(&m.instance_metadata_tags),
        }),
        "EnclaveOptions" => o(&i.enclave_options, |x| obj! { "Enabled" => b(x.enabled) }),
        "BootMode" => e(&i.boot_mode),
        "PlatformDetails" => s(&i.platform_details),
        "UsageOperation" => s(&i.usage_operation),
        "UsageOperationUpdateTime" => t(&i.usage_operation_update_time),
        "PrivateDnsNameOptions" => o(&i.private_dns_name_options, |x| obj! {
            "HostnameType" => e(&x.hostname_type),
            "EnableResourceNameDnsARecord" => b(x.enable_resource_name_dns_a_record),
            "EnableResourceNameDnsAAAARecord" => b(x.enable_resource_name_dns_aaaa_record),
        }),
        "Ipv6Address" => s(&i.ipv6_address),
        "TpmSupport" => s(&i.tpm_support),
        "MaintenanceOptions" => o(&i.maintenance_options, |x| obj! {
            "AutoRecovery" => e(&x.auto_recovery),
            "RebootMigration" => e(&x.reboot_migration),
        }),
        "CurrentInstanceBootMode" => e(&i.current_instance_boot_mode),
        "NetworkPerformanceOptions" => o(&i.network_performance_options, |x| obj! {
            "BandwidthWeighting" => e(&x.bandwidth_weighting),
        }),
        "Operator" => o(&i.operator, operator),
    }
}

fn permission(p: &ec2::IpPermission) -> Json {
    obj! {
        "IpProtocol" => s(&p.ip_protocol),
        "FromPort" => n(p.from_port),
        "ToPort" => n(p.to_port),
        "UserIdGroupPairs" => l(&p.user_id_group_pairs, |x| obj! {
            "Description" => s(&x.description),
            "UserId" => s(&x.user_id),
            "GroupName" => s(&x.group_name),
            "GroupId" => s(&x.group_id),
            "VpcId" => s(&x.vpc_id),
            "VpcPeeringConnectionId" => s(&x.vpc_peering_connection_id),
            "PeeringStatus" => s(&x.peering_status),
        }),
        "IpRanges" => l(&p.ip_ranges, |x| obj! { "Description" => s(&x.description), "CidrIp" => s(&x.cidr_ip) }),
        "Ipv6Ranges" => l(&p.ipv6_ranges, |x| obj! { "Description" => s(&x.description), "CidrIpv6" => s(&x.cidr_ipv6) }),
        "PrefixListIds" => l(&p.prefix_list_ids, |x| obj! {
            "Description" => s(&x.description),
            "PrefixListId" => s(&x.prefix_list_id),
        }),
    }
}

/// A security group as `describe_security_groups` gives it.
pub fn security_group(g: &ec2::SecurityGroup) -> Json {
    obj! {
        "GroupId" => s(&g.group_id),
        "IpPermissionsEgress" => l(&g.ip_permissions_egress, permission),
        "Tags" => l(&g.tags, |x| obj! { "Key" => s(&x.key), "Value" => s(&x.value) }),
        "VpcId" => s(&g.vpc_id),
        "SecurityGroupArn" => s(&g.security_group_arn),
        "OwnerId" => s(&g.owner_id),
        "GroupName" => s(&g.group_name),
        "Description" => s(&g.description),
        "IpPermissions" => l(&g.ip_permissions, permission),
    }
}

/// A volume as `describe_volumes` gives it.
pub fn volume(v: &ec2::Volume) -> Json {
    obj! {
        "AvailabilityZoneId" => s(&v.availability_zone_id),
        "OutpostArn" => s(&v.outpost_arn),
        "SourceVolumeId" => s(&v.source_volume_id),
        "Iops" => n(v.iops),
        "Tags" => l(&v.tags, |x| obj! { "Key" => s(&x.key), "Value" => s(&x.value) }),
        "VolumeType" => e(&v.volume_type),
        "FastRestored" => b(v.fast_restored),
        "MultiAttachEnabled" => b(v.multi_attach_enabled),
        "Throughput" => n(v.throughput),
        "SseType" => e(&v.sse_type),
        "Operator" => o(&v.operator, operator),
        "VolumeInitializationRate" => n(v.volume_initialization_rate),
        "VolumeArn" => s(&v.volume_arn),
        "OwnerId" => s(&v.owner_id),
        "VolumeId" => s(&v.volume_id),
        "Size" => n(v.size),
        "SnapshotId" => s(&v.snapshot_id),
        "AvailabilityZone" => s(&v.availability_zone),
        "State" => e(&v.state),
        "CreateTime" => t(&v.create_time),
        "Attachments" => l(&v.attachments, |a| obj! {
            "DeleteOnTermination" => b(a.delete_on_termination),
            "AssociatedResource" => s(&a.associated_resource),
            "InstanceOwningService" => s(&a.instance_owning_service),
            "EbsCardIndex" => n(a.ebs_card_index),
            "VolumeId" => s(&a.volume_id),
            "InstanceId" => s(&a.instance_id),
            "Device" => s(&a.device),
            "State" => e(&a.state),
            "AttachTime" => t(&a.attach_time),
        }),
        "Encrypted" => b(v.encrypted),
        "KmsKeyId" => s(&v.kms_key_id),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_print_as_python_prints_an_aware_datetime() {
        assert_eq!(iso(&DateTime::from_secs(1_796_544_703)), "2026-12-06T08:11:43+00:00");
        assert_eq!(iso(&DateTime::from_millis(1_796_544_703_120)), "2026-12-06T08:11:43.120000+00:00");
    }
}
