//! End-to-end tests: they run the real `prov` binary.

mod bad_input;
mod docker;
#[cfg(feature = "gcp")]
mod gcp;
mod graph;
mod interrupt;
mod language;
mod release;
mod site;
mod ssh;
mod swarm;
mod util;
