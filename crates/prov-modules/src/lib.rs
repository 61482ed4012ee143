//! prov's built-in modules, one file each under `src/<category>/<name>.rs`.
//!
//! Every module is registered exactly once, in the [`registry`] macro call below.
#![deny(missing_docs)]

pub mod cloud;
pub mod commands;
pub mod containers;
pub mod controller;
pub mod db;
pub mod deploy;
pub mod files;
pub mod net;
pub mod packages;
pub mod system;
#[cfg(test)]
mod testing;
mod util;

use prov_core::module::{DynModule, Erased, Registry};

/// Builds the registry from one list of module types.
macro_rules! modules {
    ($($path:path),* $(,)?) => {
        /// All built-in modules.
        pub fn registry() -> Registry {
            let list: Vec<Box<dyn DynModule>> = vec![$(Box::new(Erased::new(<$path>::default()))),*];
            Registry::new(list)
        }
    };
}

modules![
    cloud::disk::DiskModule,
    cloud::ec2_eip::Ec2Eip,
    cloud::ec2_instance::Ec2Instance,
    cloud::ec2_security_group::Ec2SecurityGroup,
    cloud::ec2_vol::Ec2Vol,
    cloud::gcp_compute_address::GcpComputeAddress,
    cloud::gcp_compute_disk::GcpComputeDisk,
    cloud::gcp_compute_firewall::GcpComputeFirewall,
    cloud::gcp_compute_instance::GcpComputeInstance,
    cloud::vm::Vm,
    commands::async_status::AsyncStatus,
    commands::command::Command,
    commands::ping::Ping,
    commands::raw::Raw,
    commands::script::Script,
    commands::shell::Shell,
    commands::reboot::Reboot,
    commands::wait_for_connection::WaitForConnection,
    db::postgresql_db::PostgresqlDb,
    db::postgresql_ext::PostgresqlExt,
    db::postgresql_privs::PostgresqlPrivs,
    db::postgresql_schema::PostgresqlSchema,
    db::postgresql_user::PostgresqlUser,
    containers::docker_container::DockerContainer,
    containers::docker_container_info::DockerContainerInfo,
    containers::docker_host_info::DockerHostInfo,
    containers::docker_image::DockerImage,
    containers::docker_image_info::DockerImageInfo,
    containers::docker_image_load::DockerImageLoad,
    containers::docker_login::DockerLogin,
    containers::docker_network::DockerNetwork,
    containers::docker_network_info::DockerNetworkInfo,
    containers::docker_node::DockerNode,
    containers::docker_node_info::DockerNodeInfo,
    containers::docker_swarm::DockerSwarm,
    containers::docker_swarm_info::DockerSwarmInfo,
    containers::docker_swarm_service::DockerSwarmService,
    containers::docker_swarm_service_info::DockerSwarmServiceInfo,
    containers::docker_prune::DockerPrune,
    containers::docker_volume::DockerVolume,
    containers::docker_volume_info::DockerVolumeInfo,
    containers::docker_stack::DockerStack,
    controller::add_host::AddHost,
    controller::assert::Assert,
    controller::debug::Debug,
    controller::fail::Fail,
    controller::group_by::GroupBy,
    controller::include_vars::IncludeVars,
    controller::pause::Pause,
    controller::set_fact::SetFact,
    deploy::backup::Backup,
    deploy::release::Release,
    deploy::restore::Restore,
    files::acl::Acl,
    files::blockinfile::BlockInFile,
    files::copy::Copy,
    files::fetch::Fetch,
    files::git::Git,
    files::file::File,
    files::find::Find,
    files::ini_file::IniFile,
    files::lineinfile::LineInFile,
    files::openssl_dhparam::OpensslDhparam,
    files::replace::Replace,
    files::slurp::Slurp,
    files::stat::Stat,
    files::synchronize::Synchronize,
    files::tempfile::TempFile,
    files::template::Template,
    files::unarchive::Unarchive,
    net::get_url::GetUrl,
    net::uri::Uri,
    net::wait_for::WaitFor,
    packages::apt::Apt,
    packages::apt_key::AptKey,
    packages::apt_repository::AptRepository,
    packages::deb822_repository::Deb822Repository,
    packages::dnf::Dnf,
    packages::yum::Yum,
    packages::yum_repository::YumRepository,
    packages::zypper::Zypper,
    packages::zypper_repository::ZypperRepository,
    packages::pacman::Pacman,
    packages::package::Package,
    packages::package_facts::PackageFacts,
    packages::npm::Npm,
    packages::pip::Pip,
    packages::rpm_key::RpmKey,
    system::authorized_key::AuthorizedKey,
    system::capabilities::Capabilities,
    system::cron::Cron,
    system::firewalld::Firewalld,
    system::getent::Getent,
    system::group::Group,
    system::hostname::Hostname,
    system::known_hosts::KnownHosts,
    system::locale_gen::LocaleGen,
    system::modprobe::Modprobe,
    system::mount::Mount,
    system::pam_limits::PamLimits,
    system::service::Service,
    system::service_facts::ServiceFacts,
    system::setup::Setup,
    system::sysctl::Sysctl,
    system::systemd::Systemd,
    system::systemd_service::SystemdService,
    system::timezone::Timezone,
    system::ufw::Ufw,
    system::user::User,
];

#[cfg(test)]
mod tests {
    #[test]
    fn registry_has_each_module_once() {
        let r = super::registry();
        let mut names: Vec<&str> = r.names().collect();
        let n = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), n, "duplicate module names");
        for m in [
            "command",
            "shell",
            "copy",
            "template",
            "file",
            "lineinfile",
            "stat",
            "apt",
            "service",
            "user",
            "group",
            "wait_for",
            "uri",
            "docker_swarm_service",
            "docker_stack",
            "ping",
            "raw",
            "slurp",
            "blockinfile",
            "replace",
            "fetch",
            "tempfile",
            "script",
            "unarchive",
            "systemd",
            "systemd_service",
        ] {
            assert!(r.get(m).is_some(), "{m} missing");
        }
        let file = r.get("ansible.builtin.file").expect("prefixed lookup");
        assert!(file.arg_names().contains(&"dest") && file.arg_names().contains(&"name"));
        assert_eq!(r.get("command").and_then(|m| m.free_form()), Some("cmd"));
        assert_eq!(r.get("shell").and_then(|m| m.free_form()), Some("cmd"));
        assert_eq!(r.get("script").and_then(|m| m.free_form()), Some("cmd"));
        assert_eq!(r.get("raw").and_then(|m| m.free_form()), Some("_raw_params"));
        assert_eq!(r.get("ansible.builtin.blockinfile").map(|m| m.name()), Some("blockinfile"));
    }

    // Which fully qualified names resolve was read from ansible-core 2.19 with the collections of
    // `ansible==12.3` (`ansible-playbook --syntax-check` on a task naming each).
    #[test]
    fn fqcn_resolves_only_through_collections_ansible_resolves_it_through() {
        let r = super::registry();
        let name = |n: &str| r.get(n).map(|m| m.name());
        assert_eq!(name("ansible.builtin.copy"), Some("copy"));
        assert_eq!(name("ansible.legacy.copy"), Some("copy"));
        assert_eq!(name("prov.copy"), Some("copy"));
        assert_eq!(name("community.docker.docker_swarm_service"), Some("docker_swarm_service"));
        assert_eq!(name("ansible.builtin.docker_swarm"), Some("docker_swarm"), "ansible-core redirects it");
        assert_eq!(name("community.docker.docker_image_load"), Some("docker_image_load"));
        assert_eq!(name("prov.vm"), Some("vm"));
        assert_eq!(name("ansible.posix.mount"), Some("mount"));
        assert_eq!(name("ansible.builtin.mount"), Some("mount"), "ansible-core redirects it to ansible.posix");
        assert_eq!(name("ansible.posix.sysctl"), Some("sysctl"));
        assert_eq!(name("ansible.builtin.sysctl"), Some("sysctl"), "ansible-core redirects it to ansible.posix");
        assert_eq!(name("ansible.posix.authorized_key"), Some("authorized_key"));
        assert_eq!(name("ansible.builtin.authorized_key"), Some("authorized_key"), "ansible-core redirects it");
        assert_eq!(name("community.general.ini_file"), Some("ini_file"));
        assert_eq!(name("ansible.builtin.find"), Some("find"));
        assert_eq!(name("ansible.builtin.cron"), Some("cron"));
        assert_eq!(name("ansible.builtin.hostname"), Some("hostname"));
        assert_eq!(name("community.general.modprobe"), Some("modprobe"));
        assert_eq!(name("ansible.builtin.modprobe"), Some("modprobe"), "ansible-core redirects it");
        assert_eq!(name("ansible.builtin.unarchive"), Some("unarchive"));
        assert_eq!(name("ansible.legacy.unarchive"), Some("unarchive"));
        assert_eq!(name("ansible.builtin.systemd_service"), Some("systemd_service"));
        assert_eq!(name("ansible.builtin.systemd"), Some("systemd"));
        assert_eq!(name("systemd"), Some("systemd"));
        assert_eq!(
            name("ansible.builtin.ini_file"),
            Some("ini_file"),
            "ansible-core redirects it to community.general"
        );
        for refused in [
            "community.docker.copy",
            "ansible.builtin.vm",
            "ansible.builtin.docker_image_load",
            "community.general.docker_swarm",
            "ansible.posix.copy",
            "community.general.mount",
            "community.general.authorized_key",
            "ansible.posix.ini_file",
            "community.general.find",
            "community.general.cron",
            "ansible.posix.modprobe",
            "community.general.hostname",
            "community.general.unarchive",
            "community.general.systemd",
            "ansible.posix.systemd_service",
        ] {
            assert_eq!(name(refused), None, "{refused}");
            assert!(r.hint(refused).is_some(), "{refused} gets a hint");
        }
    }

    #[test]
    fn docker_service_is_not_the_swarm_service_module() {
        let r = super::registry();
        for n in ["docker_service", "community.docker.docker_service", "community.general.docker_service"] {
            assert!(r.get(n).is_none(), "{n} must not resolve");
            assert!(r.hint(n).is_some_and(|h| h.contains("docker_swarm_service")), "{n}");
        }
    }
}
