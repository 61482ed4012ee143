//! `docker_image` on the local Docker Engine (which `.ci/run` starts) with a registry of its
//! own (Debian's `docker-registry` on loopback with an account, as in `docker_login`'s test):
//! builds (check mode, again, forced from the cache, a failing one), pushes with the stored
//! account, removes, pulls, tags into a repository, loads a `docker save` archive, and the
//! failures for a missing image, archive or file. The play is `results/docker_image.yml`;
//! `results/docker_image.json` is what ansible-core 2.19.14 with community.docker 4 (the
//! `ansible` 12.3.0 package) registered for it, with ids as `ID`/`SHORTID`, times as `TIME`,
//! the registry as `@REG@` (`@REGQ@` in a URL's query) and the work directory as `@ROOT@`.

use crate::docker_login::Registry;
use crate::language::apply;
use serde_json::Value as Json;
use std::process::Command;

fn docker(args: &[&str]) -> String {
    let out = Command::new("docker").args(args).output().expect("docker");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A result with what the engine makes anew each run replaced.
fn normalize(v: &Json, reg: &str, root: &str) -> Json {
    let mut v = v.clone();
    if let Some(m) = v.as_object_mut() {
        m.remove("exception");
        m.remove("stdout_lines");
    }
    let text = v.to_string();
    let text = regex::Regex::new(r"sha256:[0-9a-f]{64}").expect("regex").replace_all(&text, "sha256:ID");
    let text = regex::Regex::new(r"[0-9a-f]{64}").expect("regex").replace_all(&text, "ID");
    let text = regex::Regex::new(r"\b[0-9a-f]{12}\b").expect("regex").replace_all(&text, "SHORTID");
    let text = regex::Regex::new(r#""20[0-9-]+T[0-9:.]+Z""#).expect("regex").replace_all(&text, "\"TIME\"");
    let quoted = reg.replace(':', "%3A");
    serde_json::from_str(&text.replace(reg, "@REG@").replace(&quoted, "@REGQ@").replace(root, "@ROOT@")).expect("JSON")
}

#[test]
fn docker_image_builds_pushes_pulls_tags_loads_and_removes_as_community_docker() {
    let registry = Registry::start();
    let reg = format!("127.0.0.1:{}", registry.port);
    crate::docker_container::image("provtest-di-base:1", false, &[]);
    let dockerfile = "FROM provtest-di-base:1\nARG X=1\nRUN echo built $X > /built\nLABEL a=b\n";
    let files = [
        ("site.yml", include_str!("results/docker_image.yml")),
        ("ctx/Dockerfile", dockerfile),
        ("ctx/Dockerfile.bad", "FROM provtest-di-base:1\nRUN exit 3\n"),
        ("ctx/.dockerignore", "*.log\n"),
        ("ctx/a.log", "x\n"),
    ];
    let (d, r) = apply(&files, &["-e", &format!("reg={reg}")]);
    docker(&["rmi", "-f", "pdi-bad", "pdi-other"]);
    assert_eq!(r.code, 0, "{}", r.dump());
    let shown = r.of("debug").last().and_then(|x| x["msg"].as_str()).expect("debug").to_string();
    let got: Json = serde_json::from_str(&shown).expect("JSON");
    let root = d.path().display().to_string();
    let got: Vec<Json> = got.as_array().expect("list").iter().map(|x| normalize(x, &reg, &root)).collect();
    let api = docker(&["version", "--format", "{{.Server.APIVersion}}"]);
    let server = docker(&["version", "--format", "{{.Server.Version}}"]);
    let recorded = include_str!("results/docker_image.json")
        .replace("/v1.41/", &format!("/v{api}/"))
        .replace("20.10.24+dfsg1", &server);
    crate::util::assert_recorded(&got, &recorded, "r");
}
