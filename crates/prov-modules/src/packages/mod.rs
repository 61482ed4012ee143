//! Package managers.

pub mod apt;
