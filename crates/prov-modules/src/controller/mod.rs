//! Modules that run inside prov itself and open no connection.

pub mod add_host;
pub mod assert;
pub mod debug;
pub mod fail;
pub mod group_by;
pub mod include_vars;
pub mod pause;
pub mod set_fact;
