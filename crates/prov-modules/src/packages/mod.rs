//! Package managers.

pub mod apt;
pub mod deb822_repository;
pub mod package;
