//! Package managers.

pub mod apt;
pub mod package;
