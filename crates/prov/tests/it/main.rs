//! End-to-end tests: they run the real `prov` binary.

mod accounts;
mod adhoc;
mod apt_key;
mod apt_repository;
#[cfg(feature = "aws")]
mod aws;
mod bad_input;
mod collections;
mod config;
mod cron;
mod deb822;
mod disk;
mod dnf;
mod docker;
mod facts;
mod faults;
#[cfg(feature = "gcp")]
mod gcp;
mod get_url;
mod getent;
mod graph;
mod hostname;
mod include_loop;
mod inifind;
mod interrupt;
mod inventory_edits;
mod keys;
mod language;
mod live;
mod locale_gen;
mod modprobe;
mod modules;
mod monitoring;
#[cfg(feature = "aws")]
mod moto;
mod nfs;
mod npm;
mod openssl_dhparam;
mod package_facts;
mod pam_limits;
mod pip;
mod plan;
mod posix;
mod release;
mod results;
mod rpm_key;
mod seed;
mod site;
mod ssh;
mod swarm;
mod systemd;
mod timezone;
mod tutorial;
mod unarchive;
mod util;
mod yum_repository;
