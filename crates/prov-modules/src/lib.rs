//! prov's built-in modules, one file each under `src/<category>/<name>.rs`.
//!
//! Every module is registered exactly once, in the [`registry`] macro call below.
#![deny(missing_docs)]

pub mod cloud;
pub mod commands;
pub mod containers;
pub mod controller;
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
    cloud::vm::Vm,
    commands::command::Command,
    commands::shell::Shell,
    containers::docker_image_load::DockerImageLoad,
    containers::docker_node::DockerNode,
    containers::docker_swarm::DockerSwarm,
    containers::docker_service::DockerService,
    containers::docker_stack::DockerStack,
    controller::assert::Assert,
    controller::debug::Debug,
    controller::fail::Fail,
    controller::pause::Pause,
    controller::set_fact::SetFact,
    deploy::backup::Backup,
    deploy::release::Release,
    deploy::restore::Restore,
    files::copy::Copy,
    files::file::File,
    files::lineinfile::LineInFile,
    files::stat::Stat,
    files::template::Template,
    net::uri::Uri,
    net::wait_for::WaitFor,
    packages::apt::Apt,
    system::group::Group,
    system::service::Service,
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
            "docker_service",
            "docker_stack",
        ] {
            assert!(r.get(m).is_some(), "{m} missing");
        }
        let file = r.get("ansible.builtin.file").expect("prefixed lookup");
        assert!(file.arg_names().contains(&"dest") && file.arg_names().contains(&"name"));
        assert_eq!(r.get("command").and_then(|m| m.free_form()), Some("cmd"));
        assert_eq!(r.get("shell").and_then(|m| m.free_form()), Some("cmd"));
    }
}
