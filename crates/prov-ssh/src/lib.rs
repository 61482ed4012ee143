//! prov's connections: [`SshConnection`] (russh, one session per host, exec channels and
//! SFTP) and [`LocalConnection`] (`ansible_connection: local`).
#![deny(missing_docs)]

mod client;
pub mod known_hosts;
pub mod local;

pub use client::{connect, SshConnection, SshOptions, SshTarget, DEFAULT_CONCURRENT_HANDSHAKES};
pub use known_hosts::HostKeyPolicy;
pub use local::LocalConnection;
