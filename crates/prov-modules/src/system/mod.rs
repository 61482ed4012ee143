//! System state: services, users and groups; facts (`setup`).

pub mod group;
pub mod service;
pub mod setup;
pub mod user;
