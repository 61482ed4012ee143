//! System state: services, users and groups.

pub mod group;
pub mod service;
pub mod user;
