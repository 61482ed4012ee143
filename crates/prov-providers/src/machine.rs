//! Machine types: cloud names mapped to CPU and memory, so one VM list fits every provider.
//! The docker provider turns them into container limits.

/// CPUs and memory of a machine type.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MachineShape {
    /// Virtual CPUs (may be fractional for shared-core types).
    pub cpus: f64,
    /// Memory in MiB.
    pub memory_mib: u64,
}

/// Known machine types (GCP and AWS names), shape.
pub const MACHINE_TYPES: &[(&str, MachineShape)] = &[
    ("e2-micro", MachineShape { cpus: 0.25, memory_mib: 1024 }),
    ("e2-small", MachineShape { cpus: 0.5, memory_mib: 2048 }),
    ("e2-medium", MachineShape { cpus: 1.0, memory_mib: 4096 }),
    ("e2-standard-2", MachineShape { cpus: 2.0, memory_mib: 8192 }),
    ("e2-standard-4", MachineShape { cpus: 4.0, memory_mib: 16384 }),
    ("n1-standard-1", MachineShape { cpus: 1.0, memory_mib: 3840 }),
    ("n1-standard-2", MachineShape { cpus: 2.0, memory_mib: 7680 }),
    ("t3.micro", MachineShape { cpus: 2.0, memory_mib: 1024 }),
    ("t3.small", MachineShape { cpus: 2.0, memory_mib: 2048 }),
    ("t3.medium", MachineShape { cpus: 2.0, memory_mib: 4096 }),
    ("t3.large", MachineShape { cpus: 2.0, memory_mib: 8192 }),
    ("m5.large", MachineShape { cpus: 2.0, memory_mib: 8192 }),
];

/// The shape of a machine type, or the list of known names.
pub fn shape(name: &str) -> Result<MachineShape, String> {
    MACHINE_TYPES.iter().find(|(n, _)| *n == name).map(|(_, s)| *s).ok_or_else(|| {
        let names: Vec<&str> = MACHINE_TYPES.iter().map(|(n, _)| *n).collect();
        let hint = prov_core::diag::did_you_mean(name, names.iter().copied())
            .unwrap_or_else(|| format!("known types: {}", names.join(", ")));
        format!("unknown machine_type `{name}`; {hint}")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_and_unknown_types() {
        assert_eq!(shape("e2-small").expect("known").memory_mib, 2048);
        let e = shape("e2-smal").expect_err("typo");
        assert!(e.contains("did you mean `e2-small`?"), "{e}");
    }
}
