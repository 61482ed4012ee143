//! Connections to hosts: SSH through russh, and local execution.
#![deny(missing_docs)]

pub mod local;

pub use local::LocalConnection;
