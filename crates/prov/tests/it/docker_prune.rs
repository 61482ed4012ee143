//! `docker_prune` on the local Docker Engine (which `.ci/run` starts), confined to objects
//! this test labels. ansible-core 2.19.14 with community.docker 4 (the `ansible` 12.3.0
//! package) registered the same results for the same tasks: the literals here, with the
//! engine's ids (new in each run) checked for their form.

use crate::language::apply;
use serde_json::{json, Value as Json};

#[test]
fn docker_prune_removes_what_the_filters_select_as_community_docker() {
    let tag = format!("t{}", std::process::id());
    let site = format!(
        r#"- hosts: a
  gather_facts: false
  vars:
    lbl: "prov-prune={tag}"
  tasks:
    - command: docker network create --label {{{{ lbl }}}} prov-prune-n-{tag}
    - command: docker volume create --label {{{{ lbl }}}} prov-prune-v-{tag}
    - shell: for i in 1 2; do printf $i > "{{{{ root }}}}/f$i"; tar cf - -C "{{{{ root }}}}" f$i | docker import --change "LABEL {{{{ lbl }}}}" - prov-prune-img-{tag}:x; done
    - command: docker create --label {{{{ lbl }}}} --name prov-prune-c-{tag} prov-prune-img-{tag}:x /f2
    - community.docker.docker_prune:
        containers: true
        containers_filters: {{label: "{{{{ lbl }}}}"}}
        images: true
        images_filters: {{label: ["{{{{ lbl }}}}"], dangling: true}}
        networks: true
        networks_filters: {{label: "{{{{ lbl }}}}"}}
        volumes: true
        volumes_filters: {{label: "{{{{ lbl }}}}"}}
      register: p1
    - community.docker.docker_prune:
        containers: true
        containers_filters: {{label: "{{{{ lbl }}}}"}}
        networks: true
        networks_filters: {{label: "{{{{ lbl }}}}"}}
      register: p2
    - community.docker.docker_prune: {{containers: true}}
      register: p3
      check_mode: true
    - community.docker.docker_prune: {{builder_cache: true, builder_cache_filters: {{until: 1h}}}}
      register: p4
    - community.docker.docker_prune: {{builder_cache: true, builder_cache_keep_storage: "10 parsecs"}}
      register: p5
      ignore_errors: true
    - community.docker.docker_prune: {{images: true, images_filters: {{nonsense: x}}}}
      register: p6
      ignore_errors: true
    - command: docker rmi prov-prune-img-{tag}:x
    - debug: {{msg: "{{{{ [p1,p2,p3,p4,p5,p6] | to_json }}}}"}}
"#
    );
    let (_d, r) = apply(&[("site.yml", &site)], &[]);
    assert_eq!(r.code, 0, "{}", r.dump());
    let out = std::process::Command::new("docker").args(["version", "--format", "{{.Server.APIVersion}}"]).output();
    let api = String::from_utf8_lossy(&out.expect("docker").stdout).trim().to_string();
    let shown = r.of("debug").last().and_then(|x| x["msg"].as_str()).expect("debug").to_string();
    let mut got: Vec<Json> = serde_json::from_str(&shown).expect("JSON");
    for v in got.iter_mut().filter_map(|v| v.as_object_mut()) {
        v.remove("exception");
    }
    // The ids of what went: one container (64 hex digits), two images.
    let hex64 = |v: &Json| v.as_str().is_some_and(|s| s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()));
    assert!(got[0]["containers"].as_array().is_some_and(|a| a.len() == 1 && hex64(&a[0])), "{}", got[0]);
    let images = got[0]["images"].as_array().cloned().unwrap_or_default();
    assert!(
        images.len() == 2 && images.iter().all(|i| i["Deleted"].as_str().is_some_and(|s| s.starts_with("sha256:")))
    );
    got[0]["containers"] = json!(["ID"]);
    got[0]["images"] = json!([{"Deleted": "ID"}, {"Deleted": "ID"}]);
    let n = format!("prov-prune-n-{tag}");
    let v = format!("prov-prune-v-{tag}");
    let want = json!([
        {"changed": true, "containers": ["ID"], "containers_space_reclaimed": 0, "failed": false,
         "images": [{"Deleted": "ID"}, {"Deleted": "ID"}], "images_space_reclaimed": 1,
         "networks": [n], "volumes": [v], "volumes_space_reclaimed": 0},
        {"changed": false, "containers": [], "containers_space_reclaimed": 0, "failed": false, "networks": []},
        {"changed": false, "failed": false, "msg": "remote module (community.docker.docker_prune) does not support check mode", "skipped": true},
        {"builder_cache_caches_deleted": null, "builder_cache_space_reclaimed": 0, "changed": false, "failed": false},
        {"changed": false, "failed": true, "msg": "Error while parsing value of builder_cache_keep_storage: human_to_bytes() failed to convert 10 parsecs. Value is not a valid string (expect PB or P)"},
        {"changed": false, "failed": true, "msg": format!("An unexpected Docker error occurred: 400 Client Error for http+docker://localhost/v{api}/images/prune?filters=%7B%22nonsense%22%3A+%5B%22x%22%5D%7D: Bad Request (\"Invalid filter 'nonsense'\")")},
    ]);
    let want = want.as_array().expect("list");
    assert_eq!(got.len(), want.len());
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert_eq!(g, w, "p{}", i + 1);
    }
}
