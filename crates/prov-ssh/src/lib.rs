//! prov's connections: [`SshConnection`] (russh, one session per host; commands go to a few
//! long-lived remote `sh` processes fed framed commands, files go over SFTP) and
//! [`LocalConnection`] (`ansible_connection: local`).
#![deny(missing_docs)]

mod client;
pub mod known_hosts;
pub mod local;
mod shell;
mod tmpfile;
mod upload;

pub use client::{
    connect, ServerThrottle, SshConnection, SshOptions, SshTarget, DEFAULT_CONCURRENT_HANDSHAKES,
    DEFAULT_HANDSHAKES_PER_SERVER,
};
pub use known_hosts::HostKeyPolicy;
pub use local::LocalConnection;
