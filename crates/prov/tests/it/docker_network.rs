//! `docker_network` on the local Docker Engine (which `.ci/run` starts), with two created
//! (never started) containers of an empty imported image to connect. The play is
//! `results/docker_network.yml`; `results/docker_network.json` is what ansible-core 2.19.14
//! with community.docker 4 (the `ansible` 12.3.0 package) registered for it, without the ids,
//! creation times and the subnets the engine picks itself (shown as `auto`).

use crate::language::apply;
use serde_json::Value as Json;
use std::process::Command;

fn docker(args: &[&str]) -> String {
    let out = Command::new("docker").args(args).output().expect("docker");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The result without what differs from run to run.
fn normalize(v: &mut Json) {
    match v {
        Json::Object(m) => {
            for k in ["exception", "Created", "Id", "EndpointID", "MacAddress"] {
                m.remove(k);
            }
            if let Some(Json::Array(pools)) = m.get_mut("Config") {
                for p in pools.iter_mut().filter_map(|p| p.as_object_mut()) {
                    for val in p.values_mut() {
                        if !val.as_str().is_some_and(|s| s.starts_with("10.23")) {
                            *val = Json::from("auto");
                        }
                    }
                }
            }
            m.values_mut().for_each(normalize);
        }
        Json::Array(a) => a.iter_mut().for_each(normalize),
        _ => {}
    }
}

#[test]
fn docker_network_creates_connects_and_removes_as_community_docker() {
    let img = tempfile::tempdir().expect("tempdir");
    let tar = img.path().join("empty.tar");
    let st = Command::new("tar").arg("-cf").arg(&tar).arg("--files-from").arg("/dev/null").status().expect("tar");
    assert!(st.success());
    docker(&["import", &tar.display().to_string(), "provtest-empty:1"]);
    docker(&["rm", "-f", "provtest_c1", "provtest_c2"]);
    docker(&["network", "rm", "provtest_n1"]);
    for c in ["provtest_c1", "provtest_c2"] {
        assert!(!docker(&["create", "--name", c, "provtest-empty:1", "/x"]).is_empty(), "docker create {c}");
    }
    let (_d, r) = apply(&[("site.yml", include_str!("results/docker_network.yml"))], &[]);
    docker(&["network", "rm", "provtest_n1"]);
    docker(&["rm", "-f", "provtest_c1", "provtest_c2"]);
    assert_eq!(r.code, 0, "{}", r.dump());
    let shown = r.of("debug").last().and_then(|x| x["msg"].as_str()).expect("debug").to_string();
    let mut got: Json = serde_json::from_str(&shown).expect("JSON");
    normalize(&mut got);
    let api = docker(&["version", "--format", "{{.Server.APIVersion}}"]);
    let recorded = include_str!("results/docker_network.json").replace("1.41", &api);
    let expected: Json = serde_json::from_str(&recorded).expect("recorded JSON");
    let (got, expected) = (got.as_array().expect("list"), expected.as_array().expect("list"));
    assert_eq!(got.len(), expected.len());
    for (i, (g, e)) in got.iter().zip(expected).enumerate() {
        assert_eq!(g, e, "result n{}", i + 1);
    }
}
