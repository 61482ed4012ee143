//! `copy` with `remote_src: true` against what ansible-core 2.19.14 registered for the same play
//! (`results/copy_remote_src.yml`; its results, recorded with `ansible-playbook` on a local
//! host, are `results/copy_remote_src.json`, the temporary directory written `@ROOT@`, backup
//! names `@BACKUP@`). The copy happens on the host, as ansible-core's module does it: no diff,
//! the source's mode and times on a replaced file, the umask's mode on a new one. prov copied
//! the file through the controller and registered copy's action-plugin result (a diff, no
//! `src`), and gave a new file the source's mode.

use crate::language::apply;
use serde_json::Value as Json;

fn normalize(v: &mut Json, root: &str) {
    match v {
        Json::Object(m) => {
            m.remove("exception");
            if m.contains_key("backup_file") {
                m.insert("backup_file".into(), "@BACKUP@".into());
            }
            m.values_mut().for_each(|x| normalize(x, root));
        }
        Json::Array(a) => a.iter_mut().for_each(|x| normalize(x, root)),
        Json::String(s) => *s = s.replace(root, "@ROOT@"),
        _ => {}
    }
}

#[test]
fn copy_remote_src_copies_on_the_host_and_registers_as_ansible_core() {
    let (d, r) = apply(&[("site.yml", include_str!("results/copy_remote_src.yml"))], &[]);
    assert_eq!(r.code, 0, "{}", r.dump());
    let shown = r.of("debug").last().and_then(|x| x["msg"].as_str()).expect("debug").to_string();
    let mut got: Json = serde_json::from_str(&shown).expect("JSON");
    normalize(&mut got, &d.path().display().to_string());
    let expected: Json = serde_json::from_str(include_str!("results/copy_remote_src.json")).expect("recorded JSON");
    let (got, expected) = (got.as_array().expect("list"), expected.as_array().expect("list"));
    assert_eq!(got.len(), expected.len());
    for (i, (g, e)) in got.iter().zip(expected).enumerate() {
        // t14: a directory with remote_src, which ansible-core copies and prov refuses.
        if i == 13 {
            assert_eq!(g["failed"], true, "{g}");
            assert_eq!(
                g["msg"],
                "@ROOT@/out/sub is a directory: copying a directory with remote_src is not supported yet"
            );
            continue;
        }
        assert_eq!(g, e, "result {}", i + 1);
    }
    // t12 and t13 repeat t1 and t5: nothing left to copy.
    assert_eq!((got[11]["changed"].clone(), got[12]["changed"].clone()), (Json::Bool(false), Json::Bool(false)));
}
