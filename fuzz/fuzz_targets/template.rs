//! Templates through prov's environment (Ansible's filters and tests): any text renders or
//! is an error. The environment here has a fuel limit, so an input that loops for hours
//! (`range(99999)` three times over) ends as an error rather than as a fuzzer timeout;
//! playbooks themselves have no such limit, as in Ansible.
#![no_main]

use libfuzzer_sys::fuzz_target;
use minijinja::Value;
use std::sync::OnceLock;

fn templar() -> &'static prov_core::template::Templar {
    static T: OnceLock<prov_core::template::Templar> = OnceLock::new();
    T.get_or_init(|| prov_core::template::Templar::with_fuel(Vec::new(), 200_000))
}

fuzz_target!(|text: &str| {
    let _ = templar().render_file(text, &context());
});

/// A small context with the shapes templates meet: strings, numbers, lists, maps.
fn context() -> Value {
    Value::from_pairs([
        ("name", Value::from("web1")),
        ("port", Value::from(8080)),
        ("items", Value::from(vec![Value::from("a"), Value::from(2), Value::from(true)])),
        ("groups", Value::from_pairs([("web", Value::from(vec!["web1", "web2"]))])),
    ])
}
