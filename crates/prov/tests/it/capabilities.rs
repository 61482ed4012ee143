//! `capabilities` (community.general) on a local host, against what ansible-core 2.19.14 with
//! community.general (the `ansible` 12.3.0 package) registered for the same play
//! (`results/capabilities.yml`; its results are `results/capabilities.json`, the temporary
//! directory written `@ROOT@`): check mode, `+ep` that changes the file on every run (as
//! community.general compares it), `=ep` that does not, several capabilities, `absent`, a
//! missing file, the aliases; and the capabilities the file ends with.

use crate::language::apply;
use serde_json::Value as Json;

fn normalize(v: &mut Json, root: &str) {
    match v {
        Json::Object(m) => {
            m.remove("exception");
            m.values_mut().for_each(|x| normalize(x, root));
        }
        Json::Array(a) => a.iter_mut().for_each(|x| normalize(x, root)),
        Json::String(s) => *s = s.replace(root, "@ROOT@"),
        _ => {}
    }
}

#[test]
fn capabilities_adds_and_removes_as_community_general() {
    let (d, r) = apply(&[("site.yml", include_str!("results/capabilities.yml"))], &[]);
    assert_eq!(r.code, 0, "{}", r.dump());
    let shown = r.of("debug").last().and_then(|x| x["msg"].as_str()).expect("debug").to_string();
    let mut got: Json = serde_json::from_str(&shown).expect("JSON");
    normalize(&mut got, &d.path().display().to_string());
    let expected: Json = serde_json::from_str(include_str!("results/capabilities.json")).expect("recorded JSON");
    let (got, expected) = (got.as_array().expect("list"), expected.as_array().expect("list"));
    assert_eq!(got.len(), expected.len());
    for (i, (g, e)) in got.iter().zip(expected).enumerate() {
        assert_eq!(g, e, "result c{}", i + 1);
    }
}
