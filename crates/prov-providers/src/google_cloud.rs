//! google.cloud's Compute Engine modules (`gcp_compute_address`, `gcp_compute_disk`,
//! `gcp_compute_instance`): what a
//! task asks of one, and its run (in [`crate::gcp::google_cloud`] when prov is built with the
//! gcp provider).
//!
//! These modules are generated code (Google's Magic Modules) that send the Compute REST API
//! the arguments almost as given and return the resource as the API describes it; prov
//! makes the same requests from its own process (the REST API through reqwest, credentials
//! from google-cloud-auth as `auth_kind` says) and returns the API's JSON as it comes.

use crate::ec2_instance::Report;
use crate::ProviderError;
use serde_json::{Map, Value as Json};

/// What a task asks of a module.
#[derive(Debug, Clone)]
pub struct Call {
    /// The module: `gcp_compute_address` or `gcp_compute_disk`.
    pub module: &'static str,
    /// Its parameters as the module's `module.params` holds them once Ansible read them:
    /// every argument the module declares, null when not given, defaults and environment
    /// fallbacks applied, values of the declared types.
    pub params: Map<String, Json>,
    /// Where the Compute API is instead of `https://compute.googleapis.com` (tests: the
    /// fake). An `http://` endpoint gets no credentials.
    pub endpoint: Option<String>,
}

impl Call {
    /// A parameter (null when the module does not declare it).
    pub fn param(&self, name: &str) -> &Json {
        self.params.get(name).unwrap_or(&Json::Null)
    }
}

/// What running the module would do, read without changing anything.
#[derive(Debug)]
pub enum Planned {
    /// Nothing: the module's result as it would return it.
    Nothing(Report),
    /// The resource would be made.
    Create,
    /// The resource differs from the arguments and would be updated.
    Update,
    /// The resource would be deleted.
    Delete,
}

#[cfg(not(feature = "gcp"))]
fn unavailable() -> ProviderError {
    ProviderError::Unavailable {
        provider: "gcp",
        message: "this prov was built without the gcp provider: rebuild it with `--features gcp`".into(),
    }
}

/// Runs the module.
pub async fn run(call: &Call) -> Result<Report, ProviderError> {
    #[cfg(feature = "gcp")]
    {
        Ok(crate::gcp::google_cloud::run(call).await)
    }
    #[cfg(not(feature = "gcp"))]
    {
        let _ = call;
        Err(unavailable())
    }
}

/// What the module would do (its reads only).
pub async fn plan(call: &Call) -> Result<Planned, ProviderError> {
    #[cfg(feature = "gcp")]
    {
        Ok(crate::gcp::google_cloud::plan(call).await)
    }
    #[cfg(not(feature = "gcp"))]
    {
        let _ = call;
        Err(unavailable())
    }
}

/// The type of an argument as the module declares it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Ty {
    /// `type: str`.
    Str,
    /// `type: int`.
    Int,
    /// `type: bool`.
    Bool,
    /// `type: dict` without options.
    Dict,
    /// `type: list, elements: str`.
    StrList,
}

/// How a field of the API's resource is made from an argument, and read back.
#[derive(Debug, Clone, Copy)]
pub enum How {
    /// The argument's value as it is.
    Value(Ty),
    /// A registered resource (`type: dict`) by one of its fields (`replace_resource_dict`):
    /// `selfLink`, or `address` for an access config's `nat_ip`.
    Link(&'static str),
    /// A disk type's name made into its link in the zone (`disk_type_selflink`).
    DiskType,
    /// A machine type's name made into its link in the zone (`machine_type_selflink`).
    MachineType,
    /// A mapping sent as `{items: [{key, value}]}` (an instance's `metadata`,
    /// `encode_request`).
    Metadata,
    /// A network (`type: dict`) by its `selfLink`, made a link under the project when it is
    /// not one (a firewall rule's `encode_request`).
    Network,
    /// Options of their own (`type: dict, options: ...`).
    Obj(&'static [Field]),
    /// A list of such (`type: list, elements: dict, options: ...`).
    Arr(&'static [Field]),
    /// Options of their own that the module never reads back from a response (a disk's
    /// `initialize_params`: the module reads a top-level parameter of that name, which
    /// does not exist, so the field is always absent from what it compares).
    ObjNotRead(&'static [Field]),
}

/// A field: its name in the API, its argument's name and aliases, and how it is made.
#[derive(Debug, Clone, Copy)]
pub struct Field {
    /// The API's name (`autoDelete`).
    pub api: &'static str,
    /// The argument's name (`auto_delete`).
    pub arg: &'static str,
    /// Other names of the argument.
    pub aliases: &'static [&'static str],
    /// How the field is made.
    pub how: How,
    /// The argument must be given (`required: true`; sub-options only here).
    pub required: bool,
}

impl How {
    /// The argument's type as the module declares it, for a field without options.
    pub fn ty(&self) -> Ty {
        match self {
            How::Value(ty) => *ty,
            How::DiskType | How::MachineType => Ty::Str,
            How::Link(_) | How::Metadata | How::Network | How::Obj(_) | How::Arr(_) | How::ObjNotRead(_) => Ty::Dict,
        }
    }
}

const fn f(api: &'static str, arg: &'static str, how: How) -> Field {
    Field { api, arg, aliases: &[], how, required: false }
}

/// A sub-option the module requires.
const fn required(api: &'static str, arg: &'static str, how: How) -> Field {
    Field { api, arg, aliases: &[], how, required: true }
}

/// What the engine needs of a module besides its fields.
#[derive(Debug, Clone, Copy)]
pub struct Resource {
    /// The resource's `kind` (`compute#address`).
    pub kind: &'static str,
    /// `collection(module)` under the API (`projects/{project}/regions/{region}/addresses`);
    /// `self_link(module)` is it with `/{name}`.
    pub collection: &'static str,
    /// `async_op_url(module)` under the API (`{op_id}` left in).
    pub operations: &'static str,
    /// The request's fields, in the order of `resource_to_request`.
    pub fields: &'static [Field],
    /// The fields `response_to_hash` keeps, in its order.
    pub compared: &'static [&'static str],
    /// Those of them `response_to_hash` takes from the parameters (field, parameter).
    pub from_params: &'static [(&'static str, &'static str)],
}

/// The resource of a module (`gcp_compute_address`, ...).
pub fn resource(module: &str) -> Option<&'static Resource> {
    match module {
        "gcp_compute_address" => Some(&ADDRESS_RESOURCE),
        "gcp_compute_disk" => Some(&DISK_RESOURCE),
        "gcp_compute_instance" => Some(&INSTANCE_RESOURCE),
        "gcp_compute_firewall" => Some(&FIREWALL_RESOURCE),
        _ => None,
    }
}

/// `gcp_compute_address`'s fields.
pub const ADDRESS: &[Field] = &[
    f("address", "address", How::Value(Ty::Str)),
    f("addressType", "address_type", How::Value(Ty::Str)),
    f("description", "description", How::Value(Ty::Str)),
    f("name", "name", How::Value(Ty::Str)),
    f("purpose", "purpose", How::Value(Ty::Str)),
    f("networkTier", "network_tier", How::Value(Ty::Str)),
    f("subnetwork", "subnetwork", How::Link("selfLink")),
    f("network", "network", How::Link("selfLink")),
    f("prefixLength", "prefix_length", How::Value(Ty::Int)),
];

const ADDRESS_RESOURCE: Resource = Resource {
    kind: "compute#address",
    collection: "projects/{project}/regions/{region}/addresses",
    operations: "projects/{project}/regions/{region}/operations/{op_id}",
    fields: ADDRESS,
    compared: &[
        "address",
        "addressType",
        "creationTimestamp",
        "description",
        "id",
        "name",
        "purpose",
        "networkTier",
        "subnetwork",
        "users",
        "status",
        "network",
        "prefixLength",
    ],
    from_params: &[],
};

const KMS_KEY: &[Field] = &[
    f("rawKey", "raw_key", How::Value(Ty::Str)),
    f("kmsKeyName", "kms_key_name", How::Value(Ty::Str)),
    f("kmsKeyServiceAccount", "kms_key_service_account", How::Value(Ty::Str)),
];

/// `gcp_compute_disk`'s fields.
pub const DISK: &[Field] = &[
    f("sourceImageEncryptionKey", "source_image_encryption_key", How::Obj(KMS_KEY)),
    f("diskEncryptionKey", "disk_encryption_key", How::Obj(KMS_KEY)),
    f("sourceSnapshot", "source_snapshot", How::Link("selfLink")),
    f("sourceSnapshotEncryptionKey", "source_snapshot_encryption_key", How::Obj(KMS_KEY)),
    f("description", "description", How::Value(Ty::Str)),
    f("labels", "labels", How::Value(Ty::Dict)),
    f("licenses", "licenses", How::Value(Ty::StrList)),
    f("name", "name", How::Value(Ty::Str)),
    f("sizeGb", "size_gb", How::Value(Ty::Int)),
    f("physicalBlockSizeBytes", "physical_block_size_bytes", How::Value(Ty::Int)),
    f("type", "type", How::DiskType),
    f("sourceImage", "source_image", How::Value(Ty::Str)),
    f("provisionedIops", "provisioned_iops", How::Value(Ty::Int)),
];

const DISK_RESOURCE: Resource = Resource {
    kind: "compute#disk",
    collection: "projects/{project}/zones/{zone}/disks",
    operations: "projects/{project}/zones/{zone}/operations/{op_id}",
    fields: DISK,
    compared: &[
        "labelFingerprint",
        "creationTimestamp",
        "description",
        "id",
        "lastAttachTimestamp",
        "lastDetachTimestamp",
        "labels",
        "licenses",
        "name",
        "sizeGb",
        "users",
        "physicalBlockSizeBytes",
        "type",
        "sourceImage",
        "provisionedIops",
    ],
    from_params: &[("name", "name"), ("sourceImage", "source_image")],
};

const INSTANCE_RESOURCE: Resource = Resource {
    kind: "compute#instance",
    collection: "projects/{project}/zones/{zone}/instances",
    operations: "projects/{project}/zones/{zone}/operations/{op_id}",
    fields: INSTANCE,
    compared: &[
        "canIpForward",
        "cpuPlatform",
        "creationTimestamp",
        "deletionProtection",
        "disks",
        "guestAccelerators",
        "hostname",
        "id",
        "labelFingerprint",
        "labels",
        "metadata",
        "machineType",
        "minCpuPlatform",
        "name",
        "networkInterfaces",
        "scheduling",
        "serviceAccounts",
        "shieldedInstanceConfig",
        "confidentialInstanceConfig",
        "status",
        "statusMessage",
        "tags",
    ],
    from_params: &[],
};

const FIREWALL_RESOURCE: Resource = Resource {
    kind: "compute#firewall",
    collection: "projects/{project}/global/firewalls",
    operations: "projects/{project}/global/operations/{op_id}",
    fields: FIREWALL,
    compared: &[
        "allowed",
        "creationTimestamp",
        "denied",
        "description",
        "destinationRanges",
        "direction",
        "disabled",
        "logConfig",
        "id",
        "name",
        "network",
        "priority",
        "sourceRanges",
        "sourceServiceAccounts",
        "sourceTags",
        "targetServiceAccounts",
        "targetTags",
    ],
    from_params: &[("name", "name")],
};

const RAW_KEY: &[Field] = &[f("rawKey", "raw_key", How::Value(Ty::Str))];

/// The options of `gcp_compute_instance`'s `disks`.
pub const INSTANCE_DISK: &[Field] = &[
    f("autoDelete", "auto_delete", How::Value(Ty::Bool)),
    f("boot", "boot", How::Value(Ty::Bool)),
    f("deviceName", "device_name", How::Value(Ty::Str)),
    f(
        "diskEncryptionKey",
        "disk_encryption_key",
        How::Obj(&[
            f("rawKey", "raw_key", How::Value(Ty::Str)),
            f("rsaEncryptedKey", "rsa_encrypted_key", How::Value(Ty::Str)),
        ]),
    ),
    f("index", "index", How::Value(Ty::Int)),
    f(
        "initializeParams",
        "initialize_params",
        How::ObjNotRead(&[
            f("diskName", "disk_name", How::Value(Ty::Str)),
            f("diskSizeGb", "disk_size_gb", How::Value(Ty::Int)),
            f("diskType", "disk_type", How::DiskType),
            Field {
                api: "sourceImage",
                arg: "source_image",
                aliases: &["image", "image_family"],
                how: How::Value(Ty::Str),
                required: false,
            },
            f("sourceImageEncryptionKey", "source_image_encryption_key", How::Obj(RAW_KEY)),
        ]),
    ),
    f("interface", "interface", How::Value(Ty::Str)),
    f("mode", "mode", How::Value(Ty::Str)),
    f("source", "source", How::Link("selfLink")),
    f("type", "type", How::Value(Ty::Str)),
];

/// The options of `gcp_compute_instance`'s `network_interfaces`.
pub const INSTANCE_NIC: &[Field] = &[
    f(
        "accessConfigs",
        "access_configs",
        How::Arr(&[
            required("name", "name", How::Value(Ty::Str)),
            f("natIP", "nat_ip", How::Link("address")),
            required("type", "type", How::Value(Ty::Str)),
            f("setPublicPtr", "set_public_ptr", How::Value(Ty::Bool)),
            f("publicPtrDomainName", "public_ptr_domain_name", How::Value(Ty::Str)),
            f("networkTier", "network_tier", How::Value(Ty::Str)),
        ]),
    ),
    f(
        "aliasIpRanges",
        "alias_ip_ranges",
        How::Arr(&[
            f("ipCidrRange", "ip_cidr_range", How::Value(Ty::Str)),
            f("subnetworkRangeName", "subnetwork_range_name", How::Value(Ty::Str)),
        ]),
    ),
    f("network", "network", How::Link("selfLink")),
    f("networkIP", "network_ip", How::Value(Ty::Str)),
    f("subnetwork", "subnetwork", How::Link("selfLink")),
    f("nicType", "nic_type", How::Value(Ty::Str)),
];

/// `gcp_compute_instance`'s fields, in the order of its `resource_to_request`.
pub const INSTANCE: &[Field] = &[
    Field {
        api: "canIpForward",
        arg: "can_ip_forward",
        aliases: &["ip_forward"],
        how: How::Value(Ty::Bool),
        required: false,
    },
    f("deletionProtection", "deletion_protection", How::Value(Ty::Bool)),
    f("disks", "disks", How::Arr(INSTANCE_DISK)),
    f(
        "guestAccelerators",
        "guest_accelerators",
        How::Arr(&[
            f("acceleratorCount", "accelerator_count", How::Value(Ty::Int)),
            f("acceleratorType", "accelerator_type", How::Value(Ty::Str)),
        ]),
    ),
    f("hostname", "hostname", How::Value(Ty::Str)),
    f("labels", "labels", How::Value(Ty::Dict)),
    f("metadata", "metadata", How::Metadata),
    f("machineType", "machine_type", How::MachineType),
    f("minCpuPlatform", "min_cpu_platform", How::Value(Ty::Str)),
    f("name", "name", How::Value(Ty::Str)),
    f("networkInterfaces", "network_interfaces", How::Arr(INSTANCE_NIC)),
    f(
        "scheduling",
        "scheduling",
        How::Obj(&[
            f("automaticRestart", "automatic_restart", How::Value(Ty::Bool)),
            f("onHostMaintenance", "on_host_maintenance", How::Value(Ty::Str)),
            f("preemptible", "preemptible", How::Value(Ty::Bool)),
        ]),
    ),
    f(
        "serviceAccounts",
        "service_accounts",
        How::Arr(&[f("email", "email", How::Value(Ty::Str)), f("scopes", "scopes", How::Value(Ty::StrList))]),
    ),
    f(
        "shieldedInstanceConfig",
        "shielded_instance_config",
        How::Obj(&[
            f("enableSecureBoot", "enable_secure_boot", How::Value(Ty::Bool)),
            f("enableVtpm", "enable_vtpm", How::Value(Ty::Bool)),
            f("enableIntegrityMonitoring", "enable_integrity_monitoring", How::Value(Ty::Bool)),
        ]),
    ),
    f(
        "confidentialInstanceConfig",
        "confidential_instance_config",
        How::Obj(&[f("enableConfidentialCompute", "enable_confidential_compute", How::Value(Ty::Bool))]),
    ),
    f("status", "status", How::Value(Ty::Str)),
    f(
        "tags",
        "tags",
        How::Obj(&[f("fingerprint", "fingerprint", How::Value(Ty::Str)), f("items", "items", How::Value(Ty::StrList))]),
    ),
];

const FIREWALL_RULE: &[Field] =
    &[required("IPProtocol", "ip_protocol", How::Value(Ty::Str)), f("ports", "ports", How::Value(Ty::StrList))];

/// `gcp_compute_firewall`'s fields, in the order of its `resource_to_request`.
pub const FIREWALL: &[Field] = &[
    f("allowed", "allowed", How::Arr(FIREWALL_RULE)),
    f("denied", "denied", How::Arr(FIREWALL_RULE)),
    f("description", "description", How::Value(Ty::Str)),
    f("destinationRanges", "destination_ranges", How::Value(Ty::StrList)),
    f("direction", "direction", How::Value(Ty::Str)),
    f("disabled", "disabled", How::Value(Ty::Bool)),
    f(
        "logConfig",
        "log_config",
        How::Obj(&[f("enable", "enable", How::Value(Ty::Bool)), f("metadata", "metadata", How::Value(Ty::Str))]),
    ),
    f("name", "name", How::Value(Ty::Str)),
    f("network", "network", How::Network),
    f("priority", "priority", How::Value(Ty::Int)),
    f("sourceRanges", "source_ranges", How::Value(Ty::StrList)),
    f("sourceServiceAccounts", "source_service_accounts", How::Value(Ty::StrList)),
    f("sourceTags", "source_tags", How::Value(Ty::StrList)),
    f("targetServiceAccounts", "target_service_accounts", How::Value(Ty::StrList)),
    f("targetTags", "target_tags", How::Value(Ty::StrList)),
];
