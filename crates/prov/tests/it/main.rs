//! End-to-end tests: they run the real `prov` binary.

mod bad_input;
mod graph;
mod interrupt;
mod ssh;
mod util;
