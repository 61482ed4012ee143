//! Package managers.

pub mod apt;
pub mod apt_key;
pub mod apt_repository;
pub mod deb822_repository;
pub mod dnf;
pub mod npm;
pub mod package;
pub mod package_facts;
pub mod pip;
pub mod rpm_key;
pub mod yum;
pub mod yum_repository;
