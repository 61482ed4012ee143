//! The YAML loader: any text either parses into nodes or is an error with a place; it never
//! panics, overflows the stack or grows without bound (nesting and alias limits).
#![no_main]

use libfuzzer_sys::fuzz_target;
use prov_core::source::FileId;

fuzz_target!(|text: &str| {
    if let Ok((docs, _warnings)) = prov_core::yaml::parse(FileId(0), text) {
        for d in &docs {
            // What the compiler does next with a document.
            let _ = d.to_value();
        }
    }
});
