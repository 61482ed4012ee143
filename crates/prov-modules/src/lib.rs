//! prov's built-in modules, one file each under `src/<category>/<name>.rs`.
//!
//! Every module is registered exactly once, in the [`registry`] macro call below.
#![deny(missing_docs)]

pub mod commands;
pub mod controller;
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
    commands::command::Command,
    commands::shell::Shell,
    controller::assert::Assert,
    controller::debug::Debug,
    controller::fail::Fail,
    controller::pause::Pause,
    controller::set_fact::SetFact,
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
