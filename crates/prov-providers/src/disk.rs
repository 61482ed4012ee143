//! Disks: storage that lives apart from any VM and is attached to VMs (docker: a named
//! volume; gcp: a zonal persistent disk; aws: an EBS volume). Named and labelled like
//! instances: the `prov-project` label selects a project's disks, `prov-name` holds the name.

use crate::Labels;

/// Label holding a disk's requested size where the provider cannot enforce it (docker).
pub const LABEL_SIZE_GB: &str = "prov-size-gb";

/// What to create.
#[derive(Debug, Clone, Default)]
pub struct DiskSpec {
    /// Name within the project.
    pub name: String,
    /// Size in GB (GiB on AWS); provider default when `None`.
    pub size_gb: Option<u64>,
    /// The cloud's disk type (`pd-standard`, `pd-balanced`; `gp3`, `standard`); `None`: default.
    pub disk_type: Option<String>,
    /// Labels, including `prov-project` and `prov-name`.
    pub labels: Labels,
}

/// Where a disk is attached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    /// The VM's name within the project.
    pub instance: String,
    /// docker: the mount path in the VM; gcp: the device name (`/dev/disk/by-id/google-<it>`);
    /// aws: the device (`/dev/sdf`).
    pub device: String,
}

/// A disk to attach to a new VM ([`crate::InstanceSpec::disks`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiskMount {
    /// The disk's name within the project.
    pub disk: String,
    /// docker: the mount path (required); gcp: the device name (default: the disk's name);
    /// aws: the device (default `/dev/sdf`).
    pub device: Option<String>,
}

/// One disk as a provider reports it.
#[derive(Debug, Clone)]
pub struct Disk {
    /// Name within the project.
    pub name: String,
    /// The provider's id (volume name, GCE numeric id, EBS volume id).
    pub id: String,
    /// Size in GB, when known.
    pub size_gb: Option<u64>,
    /// Disk type, when the provider has them.
    pub disk_type: Option<String>,
    /// All labels.
    pub labels: Labels,
    /// The VMs it is attached to.
    pub attachments: Vec<Attachment>,
    /// Provider-specific details (returned by the `disk` module as `details`).
    pub details: serde_json::Value,
}

impl Disk {
    /// The attachment to VM `instance`, if any.
    pub fn attachment(&self, instance: &str) -> Option<&Attachment> {
        self.attachments.iter().find(|a| a.instance == instance)
    }
}

/// The error of a provider without disks.
pub fn unsupported(provider: &'static str) -> crate::ProviderError {
    crate::ProviderError::Unavailable {
        provider,
        message: format!("the {provider} provider does not manage disks yet"),
    }
}
