//! `apt_key` on a local host, with keyrings of its own (the machine's trusted keys are not
//! touched): keys added from data, files, URLs and a keyserver, in check mode first, then
//! again (no change), removed by short and long ids, and the failures of bad ids, bad data,
//! missing files, a missing download and a keyserver that sends another key. ansible-core
//! 2.19.14 registered the same results for the same tasks (the literals here, without the
//! `apt-key` temporary directory in the keyserver's output). The two keys are in
//! tests/fixtures/keys.

use crate::get_url::Server;
use crate::language::apply;
use crate::util::fixtures;
use serde_json::{json, Value as Json};

/// The registered results the play's last `debug` shows, each without `exception` (the
/// traceback ansible-core does not have).
fn results(site: &str) -> Vec<Json> {
    let (_d, r) = apply(&[("site.yml", site)], &[]);
    assert_eq!(r.code, 0, "{}", r.dump());
    let shown = r.of("debug").last().and_then(|x| x["msg"].as_str()).expect("debug").to_string();
    let list: Vec<Json> = serde_json::from_str(&shown).expect("JSON");
    list.into_iter()
        .map(|mut v| {
            v.as_object_mut().expect("a result").remove("exception");
            v
        })
        .collect()
}

fn key(changed: bool, id: &str, short: &str, fp: &str, full: &str, before: &[&str], after: Option<&[&str]>) -> Json {
    let mut v = json!({"changed": changed, "failed": false, "id": id, "short_id": short, "fp": fp, "key_id": full, "before": before});
    if let Some(a) = after {
        v["after"] = json!(a);
    }
    v
}

const ONE: &str = "0F62D5DD3BAA6F0F";
const TWO: &str = "C3FC278509A129F8";

#[test]
fn apt_key_adds_and_removes_keys_as_ansible_core() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path().display().to_string();
    let keys = fixtures().join("keys");
    let k = keys.display();
    let data = format!("{{{{ lookup('file', '{k}/one.asc') }}}}");
    let site = format!(
        r#"- hosts: a
  gather_facts: false
  tasks:
    - apt_key: {{data: "{data}", keyring: "{d}/k.gpg"}}
      register: k1
      check_mode: true
    - apt_key: {{data: "{data}", keyring: "{d}/k.gpg"}}
      register: k2
    - apt_key: {{data: "{data}", keyring: "{d}/k.gpg"}}
      register: k3
    - apt_key: {{file: "{k}/two.gpg", keyring: "{d}/k.gpg"}}
      register: k4
    - apt_key: {{id: "0x4C0E6F745B93BDD3F39CA039C3FC278509A129F8", file: "{k}/two.gpg", keyring: "{d}/k.gpg"}}
      register: k5
    - apt_key: {{id: "3BAA6F0F", keyring: "{d}/k.gpg", state: absent}}
      register: k6
      check_mode: true
    - apt_key: {{id: "0F62D5DD3BAA6F0F", keyring: "{d}/k.gpg", state: absent}}
      register: k7
    - apt_key: {{id: "0F62D5DD3BAA6F0F", keyring: "{d}/k.gpg", state: absent}}
      register: k8
    - apt_key: {{id: "12345", keyring: "{d}/k.gpg"}}
      register: k9
      ignore_errors: true
    - apt_key: {{id: "zz345678", keyring: "{d}/k.gpg"}}
      register: k10
      ignore_errors: true
    - apt_key: {{keyring: "{d}/k.gpg", state: absent}}
      register: k11
      ignore_errors: true
    - apt_key: {{id: 3BAA6F0F, keyring: "{d}/k.gpg", data: "{data}"}}
      register: k12
    - apt_key: {{data: "not a key", keyring: "{d}/k.gpg"}}
      register: k13
      ignore_errors: true
    - apt_key: {{file: "{d}/missing.gpg", keyring: "{d}/k.gpg"}}
      register: k14
      ignore_errors: true
    - debug: msg="{{{{ [k1,k2,k3,k4,k5,k6,k7,k8,k9,k10,k11,k12,k13,k14] | to_json }}}}"
"#
    );
    let got = results(&site);
    let guess = "gpg: WARNING: no command supplied.  Trying to guess what you mean ...";
    let gpg_failed = |msg: &str, lines: &[&str]| {
        let mut all = vec![guess];
        all.extend_from_slice(lines);
        json!({"changed": false, "failed": true, "msg": msg, "stdout": "", "stdout_lines": [],
            "stderr": format!("{}\n", all.join("\n")), "stderr_lines": all})
    };
    let invalid = |id: Json| json!({"changed": false, "failed": true, "msg": "Invalid key_id", "id": id});
    let want = vec![
        key(true, ONE, "3BAA6F0F", ONE, ONE, &[], None),
        key(true, ONE, "3BAA6F0F", ONE, ONE, &[], Some(&[ONE])),
        key(false, ONE, "3BAA6F0F", ONE, ONE, &[ONE], None),
        key(true, TWO, "09A129F8", TWO, TWO, &[ONE], Some(&[ONE, TWO])),
        key(
            false,
            "0x4C0E6F745B93BDD3F39CA039C3FC278509A129F8",
            "09A129F8",
            TWO,
            "4C0E6F745B93BDD3F39CA039C3FC278509A129F8",
            &[ONE, TWO],
            None,
        ),
        key(true, "3BAA6F0F", "3BAA6F0F", "3BAA6F0F", "3BAA6F0F", &["3BAA6F0F", "09A129F8"], None),
        key(true, ONE, "3BAA6F0F", ONE, ONE, &[ONE, TWO], Some(&[TWO])),
        key(false, ONE, "3BAA6F0F", ONE, ONE, &[TWO], None),
        invalid(json!("12345")),
        invalid(json!("zz345678")),
        invalid(Json::Null),
        key(true, "3BAA6F0F", "3BAA6F0F", "3BAA6F0F", "3BAA6F0F", &["09A129F8"], Some(&["09A129F8", "3BAA6F0F"])),
        gpg_failed(
            "Unable to extract key from 'inline data'",
            &["gpg: no valid OpenPGP data found.", "gpg: processing message failed: Unknown system error"],
        ),
        gpg_failed(
            &format!("Unable to extract key from '{d}/missing.gpg'"),
            &[&format!("gpg: can't open '{d}/missing.gpg'")],
        ),
    ];
    assert_eq!(got.len(), want.len());
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        assert_eq!(g, w, "result {}", i + 1);
    }
}

#[test]
fn apt_key_downloads_keys_from_urls_and_keyservers_as_ansible_core() {
    let www = tempfile::tempdir().expect("tempdir");
    let one = std::fs::read(fixtures().join("keys/one.asc")).expect("key");
    std::fs::write(www.path().join("one.asc"), &one).expect("write");
    // A keyserver that answers every lookup with key one (HKP is a GET of /pks/lookup).
    std::fs::create_dir(www.path().join("pks")).expect("mkdir");
    std::fs::write(www.path().join("pks/lookup"), &one).expect("write");
    let server = Server::start(www.path());
    let port = server.1;
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path().display().to_string();
    let site = format!(
        r#"- hosts: a
  gather_facts: false
  tasks:
    - apt_key: {{url: "http://127.0.0.1:{port}/one.asc", keyring: "{d}/u.gpg"}}
      register: k1
    - apt_key: {{url: "http://127.0.0.1:{port}/one.asc", keyring: "{d}/u.gpg", id: 0F62D5DD3BAA6F0F}}
      register: k2
    - apt_key: {{url: "http://127.0.0.1:{port}/one.asc", keyring: "{d}/u2.gpg", id: 0F62D5DD3BAA6F0F}}
      register: k3
    - apt_key: {{url: "http://u:pw@127.0.0.1:{port}/nothere.asc", keyring: "{d}/u.gpg"}}
      register: k4
      ignore_errors: true
    - apt_key: {{keyserver: "hkp://127.0.0.1:{port}", id: 0F62D5DD3BAA6F0F, keyring: "{d}/s.gpg"}}
      register: k5
    - apt_key: {{keyserver: "hkp://127.0.0.1:{port}", id: 0F62D5DD3BAA6F0F, keyring: "{d}/s.gpg"}}
      register: k6
    - apt_key: {{keyserver: "hkp://127.0.0.1:{port}", id: AAAABBBB, keyring: "{d}/s.gpg"}}
      register: k7
      ignore_errors: true
    - apt_key: {{keyserver: "hkp://127.0.0.1:{port}", keyring: "{d}/s.gpg"}}
      register: k8
      ignore_errors: true
    - debug: msg="{{{{ [k1,k2,k3,k4,k5,k6,k7,k8] | to_json }}}}"
"#
    );
    let mut got = results(&site);
    // apt-key's temporary directory differs from run to run.
    let screened = &mut got[6];
    let stdout = screened["stdout"].as_str().unwrap_or_default().to_string();
    let script = stdout.split_whitespace().nth(1).unwrap_or_default();
    let tmp = script.strip_suffix("/gpg.1.sh").unwrap_or(script).to_string();
    assert!(tmp.starts_with("/tmp/apt-key-gpghome."), "{stdout}");
    let fix = |s: &str| s.replace(&tmp, "TMP");
    screened["stdout"] = json!(fix(&stdout));
    screened["stdout_lines"] = json!([fix(&stdout).trim_end()]);
    let added = |before: &[&str]| {
        if before.is_empty() {
            key(true, ONE, "3BAA6F0F", ONE, ONE, &[], Some(&[ONE]))
        } else {
            key(false, ONE, "3BAA6F0F", ONE, ONE, before, None)
        }
    };
    let recv = format!("--no-tty --keyserver hkp://127.0.0.1:{port} --recv AAAABBBB");
    let stderr = [
        "Warning: apt-key is deprecated. Manage keyring files in trusted.gpg.d instead (see apt-key(8)).",
        "gpg: key 0F62D5DD3BAA6F0F: rejected by import screener",
        "gpg: Total number processed: 1",
    ];
    let want = vec![
        added(&[]),
        added(&[ONE]),
        added(&[]),
        json!({"changed": false, "failed": true,
            "msg": format!("Failed to download key at http://****:****@127.0.0.1:{port}/nothere.asc: HTTP Error 404: File not found")}),
        added(&[]),
        added(&[ONE]),
        json!({"changed": false, "failed": true, "rc": 2,
            "msg": format!("Error fetching key AAAABBBB from keyserver: hkp://127.0.0.1:{port}"),
            "cmd": format!("/usr/bin/apt-key --keyring {d}/s.gpg adv {recv}"),
            "stdout": format!("Executing: TMP/gpg.1.sh {recv}\n"), "stdout_lines": [format!("Executing: TMP/gpg.1.sh {recv}")],
            "stderr": format!("{}\n", stderr.join("\n")), "stderr_lines": stderr}),
        json!({"changed": false, "failed": true, "msg": "Missing key_id, required with keyserver."}),
    ];
    assert_eq!(got.len(), want.len());
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        assert_eq!(g, w, "result {}", i + 1);
    }
}
