//! `-e` arguments (`k=v ...`, inline JSON or YAML), parsed by the binary's own module.
#![no_main]

use libfuzzer_sys::fuzz_target;
use prov_core::source::SourceMap;

#[path = "../../crates/prov/src/extra_vars.rs"]
#[allow(dead_code)]
mod extra_vars;

fuzz_target!(|arg: &str| {
    // `@file` reads a file named by the input: not what this target is about.
    if arg.trim_start().starts_with('@') {
        return;
    }
    let _ = extra_vars::parse(&[arg.to_string()], &SourceMap::new());
});
