//! Modules that run inside prov itself and open no connection.

pub mod assert;
pub mod debug;
pub mod fail;
pub mod include_vars;
pub mod pause;
pub mod set_fact;
