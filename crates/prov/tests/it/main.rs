//! End-to-end tests: they run the real `prov` binary.

mod accounts;
mod adhoc;
mod apt_key;
mod apt_repository;
#[cfg(feature = "aws")]
mod aws;
#[cfg(feature = "aws")]
mod aws_ec2;
mod bad_input;
mod capabilities;
mod collections;
mod config;
mod copy_results;
mod cron;
mod deb822;
mod disk;
mod dnf;
mod docker;
mod docker_container;
mod docker_image;
mod docker_info;
mod docker_login;
mod docker_network;
mod docker_prune;
mod docker_volume;
#[cfg(feature = "aws")]
mod ec2_eip;
#[cfg(feature = "aws")]
mod ec2_instance;
#[cfg(feature = "aws")]
mod ec2_security_group;
#[cfg(feature = "aws")]
mod ec2_vol;
mod facts;
mod faults;
mod firewalld;
#[cfg(feature = "gcp")]
mod gcp;
#[cfg(feature = "gcp")]
mod gcp_compute_address;
#[cfg(feature = "gcp")]
mod gcp_compute_disk;
#[cfg(feature = "gcp")]
mod gcp_compute_firewall;
#[cfg(feature = "gcp")]
mod gcp_compute_instance;
#[cfg(feature = "gcp")]
mod gcp_compute_inventory;
#[cfg(feature = "gcp")]
mod gcp_oracle;
mod get_url;
mod getent;
mod git;
mod graph;
mod hostname;
mod include_loop;
mod inifind;
mod interrupt;
mod inventory_edits;
mod keys;
mod known_hosts;
mod language;
mod list_args;
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
mod pacman;
mod pam_limits;
mod pip;
mod plan;
mod posix;
mod postgresql;
mod release;
mod results;
mod rpm_key;
mod seed;
mod site;
mod ssh;
mod swarm;
mod synchronize;
mod systemd;
mod timezone;
mod tutorial;
mod ufw;
mod unarchive;
mod uri;
mod util;
mod yum_repository;
mod zypper;
