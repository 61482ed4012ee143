//! `rpm_key` on a local host with an RPM database of its own (`HOME` holds an `.rpmmacros`
//! that moves `%_dbpath`): keys imported from a file (in check mode first, with and without
//! fingerprints) and a URL, found again by short id, removed by id and by file, and the
//! failures of a wrong fingerprint, an id to import, a missing file, a file that is not a key, a
//! missing download and a download that is not a key. ansible-core 2.19.14 registered the same
//! results for the same tasks (the literals here).

use crate::get_url::Server;
use crate::language::apply;
use crate::util::fixtures;
use serde_json::{json, Value as Json};

#[test]
fn rpm_key_imports_and_removes_keys_as_ansible_core() {
    let keys = fixtures().join("keys");
    let k = keys.display();
    let www = tempfile::tempdir().expect("tempdir");
    std::fs::copy(keys.join("one.asc"), www.path().join("one.asc")).expect("copy");
    std::fs::create_dir(www.path().join("pks")).expect("mkdir");
    let server = Server::start(www.path());
    let port = server.1;
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path().display().to_string();
    std::fs::create_dir(dir.path().join("home")).expect("mkdir");
    std::fs::write(dir.path().join("home/.rpmmacros"), format!("%_dbpath {d}/rpmdb\n")).expect("macros");
    std::fs::write(dir.path().join("notakey.txt"), "hello\n").expect("write");
    let url = format!("http://127.0.0.1:{port}");
    let site = format!(
        r#"- hosts: a
  gather_facts: false
  environment:
    HOME: "{d}/home"
  tasks:
    - rpm_key: {{key: "{k}/one.asc"}}
      register: r1
      check_mode: true
    - rpm_key: {{key: "{k}/one.asc", fingerprint: "54D3 A79F 0AE8 A38B F0B7  13B7 0F62 D5DD 3BAA 6F0F"}}
      register: r2
    - rpm_key: {{key: "{k}/one.asc"}}
      register: r3
    - rpm_key: {{key: "0x3baa6f0f"}}
      register: r4
    - rpm_key: {{key: "{url}/one.asc"}}
      register: r5
    - rpm_key: {{key: "{k}/two.asc", fingerprint: [54D3A79F0AE8A38BF0B713B70F62D5DD3BAA6F0F]}}
      register: r6
      ignore_errors: true
    - rpm_key: {{key: "{k}/two.asc"}}
      register: r7
    - rpm_key: {{key: C3FC278509A129F8, state: absent}}
      register: r8
      check_mode: true
    - rpm_key: {{key: C3FC278509A129F8, state: absent}}
      register: r9
    - rpm_key: {{key: C3FC278509A129F8, state: absent}}
      register: r10
    - rpm_key: {{key: C3FC278509A129F8}}
      register: r11
      ignore_errors: true
    - rpm_key: {{key: "{d}/nothere"}}
      register: r12
      ignore_errors: true
    - rpm_key: {{key: "{d}/notakey.txt"}}
      register: r13
      ignore_errors: true
    - rpm_key: {{key: "{url}/nothere.asc"}}
      register: r14
      ignore_errors: true
    - rpm_key: {{key: "{url}/pks/"}}
      register: r15
      ignore_errors: true
    - rpm_key: {{key: "{k}/one.asc", state: absent}}
      register: r16
    - command: rpm -q gpg-pubkey
      register: q
      ignore_errors: true
    - debug: msg="{{{{ [r1,r2,r3,r4,r5,r6,r7,r8,r9,r10,r11,r12,r13,r14,r15,r16,q.stdout] | to_json }}}}"
"#
    );
    let (_d, r) = apply(&[("site.yml", &site)], &[]);
    assert_eq!(r.code, 0, "{}", r.dump());
    let shown = r.of("debug").last().and_then(|x| x["msg"].as_str()).expect("debug").to_string();
    let mut got: Vec<Json> = serde_json::from_str(&shown).expect("JSON");
    for v in got.iter_mut().filter_map(|v| v.as_object_mut()) {
        v.remove("exception");
    }
    let ok = |changed: bool| json!({"changed": changed, "failed": false});
    let failed = |msg: &str| json!({"changed": false, "failed": true, "msg": msg});
    let want = vec![
        ok(true),
        ok(true),
        ok(false),
        ok(false),
        ok(false),
        failed("The specified fingerprint, '{'54D3A79F0AE8A38BF0B713B70F62D5DD3BAA6F0F'}', does not match any key fingerprints in '{'4C0E6F745B93BDD3F39CA039C3FC278509A129F8'}'"),
        ok(true),
        ok(true),
        ok(true),
        ok(false),
        failed("When importing a key, a valid file must be given"),
        failed(&format!("Not a valid key {d}/nothere")),
        failed("gpg: WARNING: no command supplied.  Trying to guess what you mean ...\ngpg: no valid OpenPGP data found.\ngpg: processing message failed: Unknown system error\n"),
        failed(&format!("failed to fetch key at {url}/nothere.asc , error was: HTTP Error 404: File not found")),
        failed(&format!("Not a public key: {url}/pks/")),
        ok(true),
        json!("package gpg-pubkey is not installed"),
    ];
    assert_eq!(got.len(), want.len());
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        assert_eq!(g, w, "result {}", i + 1);
    }
}
