//! System state: services, users and groups, mounts and kernel parameters; facts (`setup`).

pub mod authorized_key;
pub mod capabilities;
pub mod cron;
pub mod firewalld;
mod fstab;
pub mod getent;
pub mod group;
pub mod hostname;
pub mod known_hosts;
pub mod locale_gen;
pub mod modprobe;
pub mod mount;
pub mod pam_limits;
pub mod service;
pub mod service_facts;
pub mod setup;
pub mod sysctl;
pub mod systemd;
pub mod systemd_service;
pub mod timezone;
pub mod ufw;
pub mod user;
