//! Static inventories: the same text read as INI and as YAML; errors are diagnostics, never
//! panics (host ranges such as `web[01:99]` included).
#![no_main]

use libfuzzer_sys::fuzz_target;
use prov_core::source::FileId;

fuzz_target!(|text: &str| {
    if let Ok(inv) = prov_inventory::parse_ini(FileId(0), text) {
        let _ = prov_inventory::graph(&inv);
    }
    if let Ok(inv) = prov_inventory::parse_yaml(FileId(0), text) {
        let _ = prov_inventory::list_json(&inv);
    }
});
