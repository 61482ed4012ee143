//! `docker_container` on the local Docker Engine (which `.ci/run` starts), with two busybox
//! images imported here (`provtest-dc:v1` with its own environment, label, exposed port and
//! command; `provtest-dc:v2` with other content). The plays are `results/docker_container.yml`
//! (create, the same again, check mode, limits changed in place and refused by the engine,
//! another image, stop, restart, a run to completion and a failing one, networks, missing image
//! and network, removal) and `results/docker_container_more.yml` (`state: present` with most
//! options, pause, `comparisons`, `image_label_mismatch: fail`, strict networks, `healthy`,
//! `recreate`, check mode of an update, a command taken from the image, a refused `env`), run
//! with `--diff`. The `.json` files are what ansible-core 2.19.14 with community.docker 4 (the
//! `ansible` 12.3.0 package) registered for them on this engine, with container and image ids
//! as `ID`/`SHORTID` and without the container's run-time state (its `State`, `NetworkSettings`,
//! `Mounts`, paths and creation time). Each play repeats tasks to show the second run changes
//! nothing.

use crate::language::apply;
use serde_json::Value as Json;
use std::process::Command;

fn docker(args: &[&str]) -> (bool, String) {
    let out = Command::new("docker").args(args).output().expect("docker");
    (out.status.success(), String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Imports a busybox image (with a file `extra` if asked) and the image settings `changes`.
pub(crate) fn image(tag: &str, extra: bool, changes: &[&str]) {
    let dir = tempfile::tempdir().expect("tempdir");
    let bin = dir.path().join("bin");
    std::fs::create_dir_all(&bin).expect("mkdir");
    std::fs::copy("/bin/busybox", bin.join("busybox")).expect("busybox (busybox-static)");
    for l in ["sh", "sleep", "echo"] {
        std::os::unix::fs::symlink("busybox", bin.join(l)).expect("symlink");
    }
    let mut parts = vec!["bin"];
    if extra {
        std::fs::write(dir.path().join("extra"), "extra\n").expect("extra");
        parts.push("extra");
    }
    let tar = dir.path().join("image.tar");
    let ok = Command::new("tar").arg("-C").arg(dir.path()).arg("-cf").arg(&tar).args(&parts).status().expect("tar");
    assert!(ok.success());
    let mut args = vec!["import".to_string()];
    for c in changes {
        args.push("-c".into());
        args.push((*c).into());
    }
    args.push(tar.display().to_string());
    args.push(tag.into());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    assert!(docker(&args).0, "docker import {tag}");
}

/// The result without what the engine makes anew each run.
fn normalize(v: &mut Json) {
    if let Some(m) = v.as_object_mut() {
        m.remove("exception");
        if let Some(Json::Object(c)) = m.get_mut("container") {
            for k in [
                "Created",
                "State",
                "ResolvConfPath",
                "HostnamePath",
                "HostsPath",
                "LogPath",
                "GraphDriver",
                "NetworkSettings",
                "Mounts",
                "RestartCount",
            ] {
                c.remove(k);
            }
        }
    }
    let text = v.to_string();
    let ids = regex::Regex::new(r"[0-9a-f]{64}").expect("regex");
    let short = regex::Regex::new(r"\b[0-9a-f]{12}\b").expect("regex");
    let text = ids.replace_all(&text, "ID");
    let text = short.replace_all(&text, "SHORTID");
    *v = serde_json::from_str(&text).expect("JSON");
}

fn cleanup() {
    docker(&["rm", "-f", "pdc1", "pdc2", "pdc3", "pdc5", "pdc6"]);
    docker(&["network", "rm", "pdcnet", "pdcnet2"]);
}

fn check(play: &str, recorded: &str) {
    let (_d, r) = apply(&[("site.yml", play)], &["--diff"]);
    assert_eq!(r.code, 0, "{}", r.dump());
    let shown = r.of("debug").last().and_then(|x| x["msg"].as_str()).expect("debug").to_string();
    let mut got: Json = serde_json::from_str(&shown).expect("JSON");
    let got: Vec<Json> = got
        .as_array_mut()
        .expect("list")
        .iter_mut()
        .map(|x| {
            normalize(x);
            x.clone()
        })
        .collect();
    let (_, api) = docker(&["version", "--format", "{{.Server.APIVersion}}"]);
    crate::util::assert_recorded(&got, &recorded.replace("/v1.41/", &format!("/v{api}/")), "r");
}

#[test]
fn docker_container_creates_updates_recreates_and_removes_as_community_docker() {
    image(
        "provtest-dc:v1",
        false,
        &["ENV FROM_IMAGE=yes", "LABEL img.label=one", "EXPOSE 9999", r#"CMD ["/bin/sleep","1000"]"#],
    );
    image("provtest-dc:v2", true, &["ENV FROM_IMAGE=yes", r#"CMD ["/bin/sleep","1000"]"#]);
    cleanup();
    check(include_str!("results/docker_container.yml"), include_str!("results/docker_container.json"));
    check(include_str!("results/docker_container_more.yml"), include_str!("results/docker_container_more.json"));
    cleanup();
    let (_, left) = docker(&["ps", "-a", "--filter", "name=pdc", "--format", "{{.Names}}"]);
    assert_eq!(left, "", "containers left behind");
}
