//! prov's core: the spanned YAML model, templating, the contracts between the engine and the
//! outside world ([`connection::Connection`], [`module::Module`]), the inventory model and the
//! compiler from playbooks to a task DAG. It knows no SSH, no cloud SDK and no async runtime.
#![deny(missing_docs)]

pub mod args;
pub mod asyncjob;
pub mod cmd;
pub mod compile;
pub mod connection;
pub mod diag;
pub mod facts;
pub mod inventory;
pub mod module;
pub mod paths;
pub mod serde_fields;
pub mod source;
pub mod template;
#[cfg(any(test, feature = "testutil"))]
pub mod testutil;
pub mod vars;
pub mod yaml;
