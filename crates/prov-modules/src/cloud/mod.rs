//! Modules that manage machines through a provider (they run in prov itself).

pub mod disk;
pub mod ec2_instance;
pub mod vm;
