//! community.crypto's `openssl_dhparam` on a local host (its OpenSSL backend, as prov runs it):
//! parameters made (check mode first), kept, their mode changed (check mode first), made again
//! for another size with a backup and the content registered, forced, removed (check mode
//! first, with a backup), a missing directory, a file that is not parameters, and check mode
//! for a new file. ansible-core 2.19.14 with community.crypto from ansible 12.3.0 registered the
//! same results (the literals here; backup names and the random parameters differ by run).

use crate::language::apply;
use serde_json::{json, Value as Json};

#[test]
fn openssl_dhparam_makes_keeps_and_removes_parameters_as_community_crypto() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path().display().to_string();
    let site = format!(
        r#"- hosts: a
  gather_facts: false
  tasks:
    - community.crypto.openssl_dhparam: {{path: "{d}/dh.pem", size: 512, select_crypto_backend: openssl}}
      register: r1
      check_mode: true
    - community.crypto.openssl_dhparam: {{path: "{d}/dh.pem", size: "512", mode: "0640", select_crypto_backend: openssl}}
      register: r2
    - community.crypto.openssl_dhparam: {{path: "{d}/dh.pem", size: 512, mode: "0640", select_crypto_backend: openssl}}
      register: r3
    - community.crypto.openssl_dhparam: {{path: "{d}/dh.pem", size: 512, mode: "0600", select_crypto_backend: openssl}}
      register: r4
      check_mode: true
    - community.crypto.openssl_dhparam: {{path: "{d}/dh.pem", size: 512, mode: "0600", select_crypto_backend: openssl}}
      register: r5
    - stat: {{path: "{d}/dh.pem"}}
      register: s1
    - community.crypto.openssl_dhparam: {{path: "{d}/dh.pem", size: 1024, backup: true, return_content: true, select_crypto_backend: openssl}}
      register: r6
    - stat: {{path: "{d}/dh.pem"}}
      register: s2
    - community.crypto.openssl_dhparam: {{path: "{d}/dh.pem", size: 1024, force: true, select_crypto_backend: openssl}}
      register: r7
    - community.crypto.openssl_dhparam: {{path: "{d}/dh.pem", state: absent}}
      register: r8
      check_mode: true
    - community.crypto.openssl_dhparam: {{path: "{d}/dh.pem", state: absent, backup: true}}
      register: r9
    - community.crypto.openssl_dhparam: {{path: "{d}/dh.pem", state: absent}}
      register: r10
    - community.crypto.openssl_dhparam: {{path: "{d}/nodir/dh.pem", size: 512}}
      register: r11
      ignore_errors: true
    - copy: {{dest: "{d}/bad.pem", content: "not params\n", mode: "0600"}}
    - community.crypto.openssl_dhparam: {{path: "{d}/bad.pem", size: 512, select_crypto_backend: openssl, return_content: true}}
      register: r12
    - community.crypto.openssl_dhparam: {{path: "{d}/new.pem", size: 512, return_content: true}}
      register: r13
      check_mode: true
    - debug: msg="{{{{ [r1, r2, r3, r4, r5, s1.stat.mode, r6, s2.stat.mode, r7, r8, r9, r10, r11, r12, r13] | to_json }}}}"
"#
    );
    let (_d, r) = apply(&[("site.yml", &site)], &[]);
    assert_eq!(r.code, 0, "{}", r.dump());
    let mut got: Vec<Json> = serde_json::from_str(r.of("debug")[0]["msg"].as_str().expect("msg")).expect("JSON");
    for v in got.iter_mut().filter_map(|v| v.as_object_mut()) {
        v.remove("exception");
        if let Some(b) = v.get("backup_file").and_then(|b| b.as_str()) {
            // `PATH.PID.YYYY-MM-DD@HH:MM:SS~`
            let (base, stamp) = b.split_at(b.find(".pem.").map(|i| i + 4).unwrap_or(0));
            let ok = stamp.len() > 21 && stamp.ends_with('~') && stamp.contains('@');
            v.insert("backup_file".into(), json!(if ok { format!("{base}.PID.DATE~") } else { b.to_string() }));
        }
        if let Some(p) = v.get("dhparams").and_then(|p| p.as_str()) {
            let ok = p.starts_with("-----BEGIN DH PARAMETERS-----\n") && p.ends_with("-----END DH PARAMETERS-----\n");
            v.insert("dhparams".into(), json!(if ok { "PEM" } else { p }));
        }
    }
    let f = format!("{d}/dh.pem");
    let res = |size: i64, file: &str, changed: bool| json!({"size": size, "filename": file, "changed": changed, "failed": false});
    let with = |mut v: Json, k: &str, x: Json| {
        v[k] = x;
        v
    };
    let want = vec![
        res(512, &f, true),
        res(512, &f, true),
        res(512, &f, false),
        res(512, &f, true),
        res(512, &f, true),
        json!("0600"),
        with(with(res(1024, &f, true), "backup_file", json!(format!("{f}.PID.DATE~"))), "dhparams", json!("PEM")),
        json!("0600"),
        res(1024, &f, true),
        res(4096, &f, true),
        with(res(4096, &f, true), "backup_file", json!(format!("{f}.PID.DATE~"))),
        res(4096, &f, false),
        json!({"name": format!("{d}/nodir"), "failed": true, "changed": false,
            "msg": format!("The directory '{d}/nodir' does not exist or the file is not a directory")}),
        with(res(512, &format!("{d}/bad.pem"), true), "dhparams", json!("PEM")),
        with(res(512, &format!("{d}/new.pem"), true), "dhparams", Json::Null),
    ];
    assert_eq!(got.len(), want.len());
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        assert_eq!(g, w, "result {}", i + 1);
    }
}
