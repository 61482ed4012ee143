//! `known_hosts` on a local host, with a file of the test's own. The play is
//! `results/known_hosts.yml` (fixed public keys: two ed25519 and one RSA);
//! `results/known_hosts.json` is what ansible-core 2.19.14 registered for it, with the
//! directory written `@ROOT@` and hashed host names `|1|HASH` (their salt is random).

use crate::language::apply;
use serde_json::Value as Json;

fn normalize(v: &mut Json, root: &str, hashed: &regex::Regex) {
    match v {
        Json::Object(m) => {
            m.remove("exception");
            m.values_mut().for_each(|x| normalize(x, root, hashed));
        }
        Json::Array(a) => a.iter_mut().for_each(|x| normalize(x, root, hashed)),
        Json::String(s) => *s = hashed.replace_all(&s.replace(root, "@ROOT@"), "|1|HASH").into_owned(),
        _ => {}
    }
}

#[test]
fn known_hosts_adds_replaces_and_removes_keys_as_ansible_core() {
    let (d, r) = apply(&[("site.yml", include_str!("results/known_hosts.yml"))], &[]);
    assert_eq!(r.code, 0, "{}", r.dump());
    let shown = r.of("debug").last().and_then(|x| x["msg"].as_str()).expect("debug").to_string();
    let mut got: Json = serde_json::from_str(&shown).expect("JSON");
    let hashed = regex::Regex::new(r"\|1\|[^ ]+").expect("regex");
    normalize(&mut got, &d.path().display().to_string(), &hashed);
    let expected: Json = serde_json::from_str(include_str!("results/known_hosts.json")).expect("recorded JSON");
    let (got, expected) = (got.as_array().expect("list"), expected.as_array().expect("list"));
    assert_eq!(got.len(), expected.len());
    for (i, (g, e)) in got.iter().zip(expected).enumerate() {
        assert_eq!(g, e, "result k{}", i + 1);
    }
}
