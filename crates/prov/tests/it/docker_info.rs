//! community.docker's info modules on the local Docker Engine (which `.ci/run` starts):
//! `docker_volume_info`, `docker_network_info`, `docker_container_info`, `docker_image_info`,
//! `docker_host_info`, and on a one-node swarm `docker_swarm_info`, `docker_node_info` and
//! `docker_swarm_service_info`. ansible-core 2.19.14 with community.docker 4 (the `ansible`
//! 12.3.0 package, and the Docker SDK for Python 7.2 for the swarm modules) registered the same
//! results for the same tasks on this engine, apart from the engine's clock and counters; the
//! test holds them as the engine's own inspection of each object and as literals.

use crate::language::apply;
use serde_json::{json, Value as Json};
use std::process::Command;

fn docker(args: &[&str]) -> String {
    let out = Command::new("docker").args(args).output().expect("docker");
    assert!(out.status.success(), "docker {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The first object `docker ... inspect` prints.
fn inspect(args: &[&str]) -> Json {
    let v: Json = serde_json::from_str(&docker(args)).expect("inspect JSON");
    v[0].clone()
}

/// The registered results the play's last `debug` shows, without what changes on every read.
fn results(r: &crate::language::Run) -> Vec<Json> {
    let shown = r.of("debug").last().and_then(|x| x["msg"].as_str()).expect("debug").to_string();
    let mut got: Vec<Json> = serde_json::from_str(&shown).expect("JSON");
    for v in got.iter_mut().filter_map(|v| v.as_object_mut()) {
        v.remove("exception");
    }
    got
}

/// `GET /vAPI{path}` of the engine's API (the CLI's `inspect` adds defaults to services).
fn engine_get(api: &str, path: &str) -> Json {
    let url = format!("http://localhost/v{api}{path}");
    let out = Command::new("curl").args(["-sf", "--unix-socket", "/var/run/docker.sock", &url]).output().expect("curl");
    assert!(out.status.success(), "GET {url}");
    serde_json::from_slice(&out.stdout).expect("JSON")
}

/// An image holding busybox and nothing else, to run swarm tasks from.
fn busybox_image(tag: &str) {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("bin")).expect("mkdir");
    std::fs::copy("/bin/busybox", dir.path().join("bin/busybox")).expect("busybox (busybox-static)");
    let tar = dir.path().join("image.tar");
    let ok = Command::new("tar").arg("-C").arg(dir.path()).arg("-cf").arg(&tar).arg("bin").status().expect("tar");
    assert!(ok.success());
    docker(&["import", &tar.display().to_string(), tag]);
}

#[test]
fn docker_info_modules_read_objects_and_the_swarm_as_community_docker() {
    let state = docker(&["info", "--format", "{{.Swarm.LocalNodeState}}"]);
    assert_eq!(state, "inactive", "this test makes the engine a swarm manager and leaves it; it needs one in no swarm");
    let p = format!("provtest_{}_info", std::process::id());
    let label = format!("provtest-info-{}", std::process::id());
    let image = format!("provtest-info/{}:v2", std::process::id());
    busybox_image(&image);
    docker(&["volume", "create", "--label", &label, &p]);
    docker(&["network", "create", "--label", &label, &p]);
    docker(&["create", "--name", &p, "--label", &label, &image, "/bin/busybox", "sleep", "1000"]);
    let site = format!(
        r#"- hosts: a
  gather_facts: false
  tasks:
    - community.docker.docker_volume_info: {{name: {p}}}
      register: r1
    - community.docker.docker_volume_info: {{volume_name: {p}_nosuch}}
      register: r2
    - community.docker.docker_network_info: {{name: {p}}}
      register: r3
    - community.docker.docker_network_info: {{name: {p}_nosuch}}
      register: r4
    - community.docker.docker_container_info: {{name: {p}}}
      register: r5
    - community.docker.docker_container_info: {{name: {p}_nosuch}}
      register: r6
    - community.docker.docker_image_info: {{name: ["{image}", "{image}x", "provtest-info/{pid}"]}}
      register: r7
    - community.docker.docker_image_info:
        name: "sha256:0000000000000000000000000000000000000000000000000000000000000000"
      register: r8
    - community.docker.docker_host_info:
        containers: true
        containers_all: true
        containers_filters: {{label: "{label}"}}
        volumes: true
        volumes_filters: {{label: ["{label}"]}}
        networks: true
        networks_filters: {{label: "{label}"}}
        images: true
        images_filters: {{reference: "provtest-info/{pid}"}}
      register: r9
    - community.docker.docker_host_info:
        volumes: true
        volumes_filters: {{name: {p}}}
        verbose_output: true
        disk_usage: true
      register: r10
    - community.docker.docker_host_info: {{containers: true, containers_filters: {{nonsense: 1}}}}
      register: r11
      ignore_errors: true
    - community.docker.docker_swarm_info: {{}}
      register: r12
      ignore_errors: true
    - community.docker.docker_node_info: {{}}
      register: r13
      ignore_errors: true
    - community.docker.docker_swarm_service_info: {{name: x}}
      register: r14
      ignore_errors: true
    - debug: {{msg: "{{{{ [r1,r2,r3,r4,r5,r6,r7,r8,r9,r10,r11,r12,r13,r14] | to_json }}}}"}}
"#,
        pid = std::process::id()
    );
    let (_d, r) = apply(&[("site.yml", &site)], &[]);
    let volume = inspect(&["volume", "inspect", &p]);
    let network = inspect(&["network", "inspect", &p]);
    let container = inspect(&["container", "inspect", &p]);
    let img = inspect(&["image", "inspect", &image]);
    let engine_id = docker(&["info", "--format", "{{.ID}}"]);
    let api = docker(&["version", "--format", "{{.Server.APIVersion}}"]);
    docker(&["rm", "-f", &p]);
    docker(&["volume", "rm", "-f", &p]);
    docker(&["network", "rm", &p]);
    assert_eq!(r.code, 0, "{}", r.dump());
    let got = results(&r);
    let ok = |extra: Json| {
        let mut m = json!({"changed": false, "failed": false});
        m.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        m
    };
    let not_manager = json!({"changed": false, "failed": true,
        "msg": "Error running docker swarm module: must run on swarm manager node"});
    let expected = [
        ok(json!({"exists": true, "volume": volume})),
        ok(json!({"exists": false, "volume": null})),
        ok(json!({"exists": true, "network": network})),
        ok(json!({"exists": false, "network": null})),
        ok(json!({"exists": true, "container": container})),
        ok(json!({"exists": false, "container": null})),
        // `name` without a tag means `latest`, which this image does not have.
        ok(json!({"images": [img]})),
        ok(json!({"images": []})),
    ];
    for (i, e) in expected.iter().enumerate() {
        assert_eq!(&got[i], e, "result r{}", i + 1);
    }
    // docker_host_info: the engine's own info, and each list's main fields.
    let r9 = &got[8];
    assert_eq!(r9["host_info"]["ID"], engine_id.as_str());
    assert_eq!(r9["can_talk_to_docker"], true);
    assert_eq!(r9["volumes"], json!([{"Driver": "local", "Name": p}]));
    assert_eq!(r9["networks"], json!([{"Id": network["Id"], "Driver": "bridge", "Name": p, "Scope": "local"}]));
    let containers = r9["containers"].as_array().expect("containers");
    assert_eq!(containers.len(), 1, "{containers:?}");
    assert_eq!(containers[0]["Id"], container["Id"]);
    assert_eq!(containers[0]["Names"], json!([format!("/{p}")]));
    assert_eq!(containers[0]["Command"], "/bin/busybox sleep 1000");
    assert_eq!(containers[0]["Status"], "Created");
    let keys = |v: &Json| v.as_object().map(|m| m.keys().cloned().collect::<Vec<_>>()).unwrap_or_default();
    assert_eq!(keys(&containers[0]), ["Id", "Image", "Command", "Created", "Status", "Ports", "Names"]);
    assert_eq!(
        r9["images"],
        json!([{"Id": img["Id"], "RepoTags": [image], "Created": r9["images"][0]["Created"], "Size": img["Size"]}])
    );
    let r10 = &got[9];
    assert_eq!(r10["volumes"], json!([volume]));
    assert!(r10["disk_usage"]["LayersSize"].is_number() && r10["disk_usage"]["Images"].is_array(), "{r10}");
    assert_eq!(
        got[10],
        json!({"changed": false, "failed": true, "can_talk_to_docker": true, "msg": format!(
            "Error inspecting docker host for object 'containers': 400 Client Error for http+docker://localhost/v{api}/containers/json?limit=-1&all=0&size=0&trunc_cmd=0&filters=%7B%22nonsense%22%3A+%5B%221%22%5D%7D: Bad Request (\"Invalid filter 'nonsense'\")")})
    );
    let mut r12 = not_manager.clone();
    r12.as_object_mut().unwrap().extend(
        json!({"can_talk_to_docker": true, "docker_swarm_active": false, "docker_swarm_manager": false})
            .as_object()
            .unwrap()
            .clone(),
    );
    assert_eq!(got[11], r12);
    assert_eq!(got[12], not_manager);
    assert_eq!(got[13], not_manager);

    swarm_part(&image, &api);
    docker(&["rmi", &image]);
}

/// The swarm modules on this engine made a one-node swarm, with a replicated and a global
/// service; the swarm is left at the end, pass or fail.
fn swarm_part(image: &str, api: &str) {
    struct Leave;
    impl Drop for Leave {
        fn drop(&mut self) {
            let _ = Command::new("docker").args(["swarm", "leave", "--force"]).output();
        }
    }
    docker(&["swarm", "init", "--advertise-addr", "127.0.0.1"]);
    let _leave = Leave;
    let pid = std::process::id();
    let (one, all) = (format!("provtest{pid}one"), format!("provtest{pid}all"));
    let run = ["/bin/busybox", "sleep", "1000"];
    docker(&[&["service", "create", "--detach", "--name", &one, "--label", "app=web", image][..], &run].concat());
    docker(&[&["service", "create", "--detach", "--name", &all, "--mode", "global", image][..], &run].concat());
    // Both tasks running, so that the reads below see them settled.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    loop {
        let states = docker(&["service", "ps", &one, &all, "--format", "{{.CurrentState}}"]);
        if states.lines().count() == 2 && states.lines().all(|l| l.starts_with("Running")) {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "tasks did not start: {states}");
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    let hostname = docker(&["node", "inspect", "self", "--format", "{{.Description.Hostname}}"]);
    let site = format!(
        r#"- hosts: a
  gather_facts: false
  tasks:
    - community.docker.docker_swarm_info: {{}}
      register: s1
    - community.docker.docker_swarm_info: {{nodes: true, services: true, tasks: true, unlock_key: true}}
      register: s2
    - community.docker.docker_swarm_info:
        services: true
        services_filters: {{name: {one}}}
        tasks: true
        tasks_filters: {{service: {one}}}
        verbose_output: true
      register: s3
    - community.docker.docker_node_info: {{self: true}}
      register: n1
    - community.docker.docker_node_info: {{name: [nosuchnode, {hostname}]}}
      register: n2
    - community.docker.docker_swarm_service_info: {{name: {one}}}
      register: v1
    - community.docker.docker_swarm_service_info: {{name: nosuch}}
      register: v2
    - community.docker.docker_swarm_info: {{tasks: true, tasks_filters: {{nonsense: x}}}}
      register: s4
      ignore_errors: true
    - debug: {{msg: "{{{{ [s1,s2,s3,n1,n2,v1,v2,s4] | to_json }}}}"}}
"#
    );
    let (_d, r) = apply(&[("site.yml", &site)], &[]);
    let cluster = docker(&["info", "--format", "{{.Swarm.Cluster.ID}}"]);
    let mut node = inspect(&["node", "inspect", "self"]);
    let service = engine_get(api, &format!("/services/{one}"));
    let global = engine_get(api, &format!("/services/{all}"));
    let task_ids = docker(&["service", "ps", &one, &all, "--format", "{{.ID}}", "--no-trunc"]);
    let tasks: Vec<Json> = task_ids.lines().map(|id| inspect(&["inspect", id])).collect();
    assert_eq!(r.code, 0, "{}", r.dump());
    let got = results(&r);

    let state = json!({"can_talk_to_docker": true, "docker_swarm_active": true, "docker_swarm_manager": true});
    for s in [&got[0], &got[1], &got[2]] {
        for k in ["can_talk_to_docker", "docker_swarm_active", "docker_swarm_manager"] {
            assert_eq!(s[k], state[k], "{k}");
        }
        assert_eq!(s["swarm_facts"]["ID"], cluster.as_str());
    }
    let s2 = &got[1];
    assert_eq!(
        s2["nodes"],
        json!([{"ID": node["ID"], "Hostname": hostname, "Status": "ready", "Availability": "active",
                "ManagerStatus": "Leader", "EngineVersion": node["Description"]["Engine"]["EngineVersion"]}])
    );
    let mut services = s2["services"].as_array().cloned().expect("services");
    services.sort_by_key(|s| s["Name"].as_str().unwrap_or_default().to_string());
    assert_eq!(
        services,
        [
            json!({"ID": global["ID"], "Name": all, "Mode": "Global", "Replicas": 2, "Image": image, "Ports": []}),
            json!({"ID": service["ID"], "Name": one, "Mode": "Replicated", "Replicas": 1, "Image": image, "Ports": []}),
        ]
    );
    let mut listed = s2["tasks"].as_array().cloned().expect("tasks");
    listed.sort_by_key(|t| t["ID"].as_str().unwrap_or_default().to_string());
    let mut want: Vec<Json> = tasks
        .iter()
        .map(|t| {
            json!({"ID": t["ID"], "ContainerID": t["Status"]["ContainerStatus"]["ContainerID"], "Image": image,
                   "Node": hostname, "DesiredState": "running", "CurrentState": "running", "Error": null})
        })
        .collect();
    want.sort_by_key(|t| t["ID"].as_str().unwrap_or_default().to_string());
    assert_eq!(listed, want);
    assert_eq!(s2["swarm_unlock_key"], Json::Null);
    let s3 = &got[2];
    assert_eq!(s3["services"], json!([service]));
    let one_task = tasks.iter().find(|t| t["ServiceID"] == service["ID"]).expect("the task of the replicated service");
    assert_eq!(s3["tasks"].as_array().map(|t| t.len()), Some(1));
    assert_eq!(s3["tasks"][0]["ID"], one_task["ID"]);
    assert_eq!(s3["tasks"][0]["Spec"], one_task["Spec"]);
    // A leader's address is its manager address without the port.
    node["Status"]["Addr"] = json!("127.0.0.1");
    assert_eq!(got[3], json!({"changed": false, "failed": false, "nodes": [node]}));
    assert_eq!(got[4], json!({"changed": false, "failed": false, "nodes": [node]}));
    assert_eq!(got[5], json!({"changed": false, "failed": false, "service": service, "exists": true}));
    assert_eq!(got[6], json!({"changed": false, "failed": false, "service": null, "exists": false}));
    let mut s4 = json!({"changed": false, "failed": true, "msg": format!(
        "Error inspecting docker swarm for object 'tasks': 400 Client Error for http+docker://localhost/v{api}/tasks?filters=%7B%22nonsense%22%3A+%5B%22x%22%5D%7D: Bad Request (\"Invalid filter 'nonsense'\")")});
    s4.as_object_mut().unwrap().extend(state.as_object().unwrap().clone());
    assert_eq!(got[7], s4);
}
