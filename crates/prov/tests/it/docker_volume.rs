//! `docker_volume` on the local Docker Engine (which `.ci/run` starts). ansible-core 2.19.14
//! with community.docker 4 (the `ansible` 12.3.0 package) registered the same results for the
//! same tasks: the literals here, without the volumes' creation times.

use crate::language::apply;
use serde_json::{json, Value as Json};
use std::process::Command;

fn docker(args: &[&str]) -> String {
    let out = Command::new("docker").args(args).output().expect("docker");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn docker_volume_creates_recreates_and_removes_as_community_docker() {
    let v1 = format!("provtest_{}_v1", std::process::id());
    let v2 = format!("provtest_{}_v2", std::process::id());
    let site = format!(
        r#"- hosts: a
  gather_facts: false
  tasks:
    - community.docker.docker_volume: {{name: {v1}}}
      register: v1
      check_mode: true
    - community.docker.docker_volume: {{name: {v1}, labels: {{app: web}}}}
      register: v2
    - community.docker.docker_volume: {{name: {v1}, labels: {{app: web}}}}
      register: v3
    - community.docker.docker_volume: {{name: {v1}, labels: {{app: db}}}}
      register: v4
    - community.docker.docker_volume: {{name: {v1}, labels: {{app: db}}, recreate: options-changed}}
      register: v5
      check_mode: true
    - community.docker.docker_volume: {{name: {v1}, labels: {{app: db}}, recreate: options-changed}}
      register: v6
    - community.docker.docker_volume: {{name: {v1}, driver_options: {{type: tmpfs, device: tmpfs, o: "size=10m"}}, recreate: options-changed}}
      register: v7
    - community.docker.docker_volume: {{name: {v1}, driver_options: {{type: tmpfs, device: tmpfs, o: "size=10m"}}}}
      register: v8
    - community.docker.docker_volume: {{name: {v1}, state: absent}}
      register: v9
      check_mode: true
    - community.docker.docker_volume: {{name: {v1}, state: absent}}
      register: v10
    - community.docker.docker_volume: {{name: {v1}, state: absent}}
      register: v11
    - community.docker.docker_volume: {{name: {v1}, driver: nosuchdriver}}
      register: v12
      ignore_errors: true
    - community.docker.docker_volume: {{name: {v2}, recreate: always}}
      register: v13
    - community.docker.docker_volume: {{name: {v2}, recreate: always}}
      register: v14
      diff: true
    - community.docker.docker_volume: {{name: {v2}, state: absent}}
    - debug: {{msg: "{{{{ [v1,v2,v3,v4,v5,v6,v7,v8,v9,v10,v11,v12,v13,v14] | to_json }}}}"}}
"#
    );
    let (_d, r) = apply(&[("site.yml", &site)], &[]);
    docker(&["volume", "rm", "-f", &v1, &v2]);
    assert_eq!(r.code, 0, "{}", r.dump());
    let shown = r.of("debug").last().and_then(|x| x["msg"].as_str()).expect("debug").to_string();
    let mut got: Vec<Json> = serde_json::from_str(&shown).expect("JSON");
    for v in got.iter_mut().filter_map(|v| v.as_object_mut()) {
        v.remove("exception");
        if let Some(vol) = v.get_mut("volume").and_then(|x| x.as_object_mut()) {
            assert!(vol.remove("CreatedAt").is_some_and(|t| t.is_string()), "{vol:?}");
        }
    }
    let api = docker(&["version", "--format", "{{.Server.APIVersion}}"]);
    let root = docker(&["info", "--format", "{{.DockerRootDir}}"]);
    let vol = |name: &str, labels: Json, options: Json| {
        json!({"Driver": "local", "Labels": labels, "Mountpoint": format!("{root}/volumes/{name}/_data"),
               "Name": name, "Options": options, "Scope": "local"})
    };
    let web = vol(&v1, json!({"app": "web"}), json!({}));
    let tmpfs = vol(&v1, Json::Null, json!({"device": "tmpfs", "o": "size=10m", "type": "tmpfs"}));
    let expected = vec![
        json!({"changed": true, "actions": [format!("Created volume {v1} with driver local")], "volume": null, "diff": {"differences": []}, "failed": false}),
        json!({"changed": true, "volume": web, "failed": false}),
        json!({"changed": false, "volume": web, "failed": false}),
        json!({"changed": false, "volume": web, "failed": false}),
        json!({"changed": true, "actions": [format!("Removed volume {v1}"), format!("Created volume {v1} with driver local")],
               "volume": web, "diff": {"differences": ["labels.app"]}, "failed": false}),
        json!({"changed": true, "volume": vol(&v1, json!({"app": "db"}), json!({})), "failed": false}),
        json!({"changed": true, "volume": tmpfs, "failed": false}),
        json!({"changed": false, "volume": tmpfs, "failed": false}),
        json!({"changed": true, "actions": [format!("Removed volume {v1}")], "diff": {}, "failed": false}),
        json!({"changed": true, "actions": [format!("Removed volume {v1}")], "failed": false}),
        json!({"changed": false, "actions": [], "failed": false}),
        json!({"failed": true, "changed": false, "msg": format!(
            "404 Client Error for http+docker://localhost/v{api}/volumes/create: Not Found (\"create {v1}: error looking up volume plugin nosuchdriver: plugin \"nosuchdriver\" not found\")")}),
        json!({"changed": true, "volume": vol(&v2, Json::Null, json!({})), "failed": false}),
        json!({"changed": true, "volume": vol(&v2, Json::Null, json!({})),
               "diff": {"differences": [], "before": {"exists": true}, "after": {"exists": true}}, "failed": false}),
    ];
    assert_eq!(got.len(), expected.len(), "{got:#?}");
    for (i, (g, e)) in got.iter().zip(&expected).enumerate() {
        assert_eq!(g, e, "result v{}", i + 1);
    }
}
