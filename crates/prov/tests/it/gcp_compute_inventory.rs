//! `plugin: google.cloud.gcp_compute` inventory files against prov-gcp-fake: prov's
//! `inventory --list` compared with ansible-inventory's (ansible-core 2.19.14, google.cloud
//! of `ansible` 12.3.0, through the TLS proxy of [`crate::gcp_oracle`]), recorded in
//! `results/gcp_compute_inventory.json` after normalization (ids and times numbered, groups'
//! members and children sorted). To record again:
//! `PROV_ORACLE_ANSIBLE_INVENTORY=/path/to/venv/bin/ansible-inventory ANSIBLE_COLLECTIONS_PATH=...`.

use crate::gcp_oracle::{clean_env, Normalizer, Proxy};
use serde_json::{Map, Value as Json};
use std::io::{Read, Write};
use std::path::Path;
use std::process::Command;

const RECORDED: &str = "tests/it/results/gcp_compute_inventory.json";

/// Two zones' instances selected by a filter and by zone, named by the default preferences
/// (external address, else internal), with every kind of constructed entry.
const RICH: &str = r#"plugin: google.cloud.gcp_compute
projects: [proj1]
zones: [us-central1-a, us-central1-b]
auth_kind: accesstoken
access_token: test-token
filters:
  - labels.env = prod
keyed_groups:
  - key: labels.role
    prefix: role
  - key: zone
groups:
  webs: "'http' in (tags['items'] | default([]))"
compose:
  ansible_host: networkInterfaces[0].networkIP
  owner: metadata.owner | default('nobody')
"#;

/// Every instance, named by a label it lacks then by name with a suffix, variables prefixed.
const DEFAULTS: &str = r#"plugin: gcp_compute
projects: [proj1]
auth_kind: accesstoken
access_token: test-token
hostnames: [labels.missing, name]
name_suffix: .example.com
vars_prefix: gce_
keyed_groups:
  - key: labels
    prefix: label
"#;

/// An instance insert for the fake.
fn instance(name: &str, zone: &str, extra: Json) -> Json {
    let mut i = serde_json::json!({
        "name": name,
        "machineType": format!("zones/{zone}/machineTypes/e2-small"),
        "disks": [{"boot": true, "initializeParams": {"sourceImage": "projects/debian-cloud/global/images/family/debian-12"}}],
        "networkInterfaces": [{}],
    });
    for (k, v) in extra.as_object().into_iter().flatten() {
        i[k] = v.clone();
    }
    i
}

/// POSTs JSON to the fake.
fn post(addr: std::net::SocketAddr, path: &str, body: &Json) {
    let body = body.to_string();
    let mut s = std::net::TcpStream::connect(addr).expect("the fake answers");
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("request");
    let mut out = String::new();
    s.read_to_string(&mut out).expect("response");
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
}

fn list(tool: &Path, prov: bool, dir: &Path, file: &str, fake: &prov_gcp_fake::Fake, python: Option<&Path>) -> Json {
    let mut c = Command::new(tool);
    clean_env(&mut c);
    if prov {
        c.args(["inventory", "-i", file, "--list"]).env("PROV_GCP_ENDPOINT", fake.endpoint());
    } else {
        c.args(["-i", file, "--list"]);
    }
    c.current_dir(dir);
    let _proxy = python.map(|py| {
        let p = Proxy::start(py, fake.addr().port(), dir);
        c.env("HTTPS_PROXY", format!("http://127.0.0.1:{}", p.port)).env("REQUESTS_CA_BUNDLE", &p.ca);
        p
    });
    let out = c.output().expect("the tool runs");
    let (o, e) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{o}\n{e}");
    serde_json::from_str(&o).expect("JSON")
}

/// A listing normalized: hosts by name, groups' members and children sorted.
fn normalize(list: Json) -> Json {
    let list = crate::util::unwrap_unsafe(list);
    let mut n = Normalizer::new();
    let mut out = Map::new();
    let mut hosts: Vec<(String, Json)> =
        list["_meta"]["hostvars"].as_object().into_iter().flatten().map(|(h, v)| (h.clone(), v.clone())).collect();
    hosts.sort_by(|a, b| a.0.cmp(&b.0));
    let vars: Map<String, Json> = hosts.into_iter().map(|(h, v)| (h, n.value(&v))).collect();
    for (g, body) in list.as_object().into_iter().flatten().filter(|(g, _)| *g != "_meta") {
        let mut b = Map::new();
        for key in ["hosts", "children"] {
            if let Some(items) = body[key].as_array() {
                let mut items: Vec<String> = items.iter().filter_map(Json::as_str).map(str::to_string).collect();
                items.sort();
                b.insert(key.into(), Json::from(items));
            }
        }
        out.insert(g.clone(), Json::Object(b));
    }
    out.insert("_meta".into(), serde_json::json!({ "hostvars": vars }));
    Json::Object(out)
}

#[test]
fn gcp_compute_inventory_files_list_what_google_cloud_lists() {
    let (addr, fake) = prov_gcp_fake::start().expect("the fake starts");
    let base = "/compute/v1/projects/proj1/zones";
    let web1 = serde_json::json!({
        "networkInterfaces": [{"accessConfigs": [{"name": "External NAT", "type": "ONE_TO_ONE_NAT"}]}],
        "labels": {"role": "web", "env": "prod"}, "tags": {"items": ["http"]},
        "metadata": {"items": [{"key": "owner", "value": "ops"}]},
    });
    post(addr, &format!("{base}/us-central1-a/instances"), &instance("web-1", "us-central1-a", web1));
    let db1 = serde_json::json!({"labels": {"role": "db", "env": "prod"}});
    post(addr, &format!("{base}/us-central1-b/instances"), &instance("db-1", "us-central1-b", db1));
    let web2 =
        serde_json::json!({"networkInterfaces": [{"accessConfigs": [{}]}], "labels": {"role": "web", "env": "dev"}});
    post(addr, &format!("{base}/europe-west1-b/instances"), &instance("web-2", "europe-west1-b", web2));
    let dir = tempfile::tempdir().expect("tempdir");
    let oracle = std::env::var_os("PROV_ORACLE_ANSIBLE_INVENTORY").map(std::path::PathBuf::from);
    let (mut got, mut want_new) = (Map::new(), Map::new());
    for (what, file, body) in [("rich", "demo.gcp.yml", RICH), ("defaults", "other.gcp_compute.yaml", DEFAULTS)] {
        std::fs::write(dir.path().join(file), body).expect("file");
        let prov = Path::new(env!("CARGO_BIN_EXE_prov"));
        got.insert(what.into(), normalize(list(prov, true, dir.path(), file, &fake, None)));
        if let Some(bin) = &oracle {
            let python = bin.with_file_name("python");
            want_new.insert(what.into(), normalize(list(bin, false, dir.path(), file, &fake, Some(&python))));
        }
    }
    let recorded = Path::new(env!("CARGO_MANIFEST_DIR")).join(RECORDED);
    if !want_new.is_empty() {
        std::fs::write(&recorded, serde_json::to_string_pretty(&Json::Object(want_new)).expect("json") + "\n")
            .expect("record");
    }
    let want: Json = serde_json::from_str(&std::fs::read_to_string(&recorded).expect("recorded")).expect("JSON");
    for what in ["rich", "defaults"] {
        assert_eq!(
            got[what],
            want[what],
            "{what}: prov\n{}\nansible-core\n{}",
            serde_json::to_string_pretty(&got[what]).unwrap_or_default(),
            serde_json::to_string_pretty(&want[what]).unwrap_or_default()
        );
    }
    assert_eq!(got["rich"]["role_web"]["hosts"], serde_json::json!(["198.51.100.3"]));
}

/// A file ansible-core would not read with the plugin (its name), or with keys prov does
/// not implement, is refused before anything is listed.
#[test]
fn gcp_compute_inventory_files_prov_cannot_read_as_ansible_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (file, body, says) in [
        ("hosts.yml", "plugin: google.cloud.gcp_compute\nprojects: [p]\nauth_kind: application\n", "ends in gcp.yml"),
        ("x.gcp.yml", "plugin: gcp_compute\nprojects: [p]\nauth_kind: application\nfolders: [f]\n", "`folders`"),
        (
            "y.gcp.yml",
            "plugin: gcp_compute\nprojects: [p]\nauth_kind: application\nhostnames: [dns]\n",
            "dns is not a valid hostname precedent",
        ),
        ("z.gcp.yml", "plugin: gcp_compute\nprojects: [p]\n", "needs `auth_kind`"),
    ] {
        std::fs::write(dir.path().join(file), body).expect("file");
        let mut c = Command::new(env!("CARGO_BIN_EXE_prov"));
        clean_env(&mut c);
        c.args(["inventory", "-i", file, "--list"])
            .current_dir(dir.path())
            .env("PROV_GCP_ENDPOINT", "http://127.0.0.1:9");
        let out = c.output().expect("prov runs");
        let e = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(4), "{file}: {e}");
        assert!(e.contains(says), "{file}: {e}");
        assert!(e.contains(&format!("{file}:")), "{file}: a location: {e}");
    }
}
