//! README's tutorial ("Five minutes with prov"), command by command, on a copy of
//! `examples/tutorial/` (its `ansible.cfg` names the inventory, so no `-i`). The expected
//! counts are what ansible-core 2.19 reported for the same project
//! (`ansible-playbook site.yml`: ok=5 changed=5 per host, then changed=0; with
//! `--check --diff -e site_port=9090`: changed=3 per host).

use crate::util::{copy_tree, json_events, recap_changed, repo, text};
use std::path::Path;
use std::process::{Command, Output};

/// `prov ARGS` in the tutorial's directory, its files written under `out` (`-e site_root`).
fn prov(dir: &Path, state: &Path, out: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_prov"))
        .args(args)
        .arg("-e")
        .arg(format!("site_root={}", out.display()))
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env("PROV_STATE_DIR", state)
        .env_remove("PROV_INVENTORY")
        .env_remove("ANSIBLE_CONFIG")
        .env_remove("ANSIBLE_INVENTORY")
        .output()
        .expect("the prov binary runs")
}

#[test]
fn readme_tutorial_runs_as_written_and_converges() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("tutorial");
    copy_tree(&repo().join("examples/tutorial"), &dir);
    let (state, out) = (tmp.path().join("state"), tmp.path().join("site"));

    let v = prov(&dir, &state, &out, &["validate", "site.yml"]);
    let (o, e) = text(&v);
    assert_eq!(v.status.code(), Some(0), "validate: {o}\n{e}");
    assert!(o.contains("OK"), "validate says OK: {o}");

    let plan = prov(&dir, &state, &out, &["plan", "site.yml", "--detailed-exitcode"]);
    let (o, e) = text(&plan);
    assert_eq!(plan.status.code(), Some(2), "plan: changes pending: {o}\n{e}");
    assert!(!out.exists(), "plan changed nothing");

    let first = prov(&dir, &state, &out, &["apply", "site.yml", "--output", "json"]);
    let (code, events, all) = json_events(&first);
    assert_eq!(code, 0, "{all}");
    assert_eq!(recap_changed(&events), 10, "4 tasks and the handler on each of 2 hosts: {all}");
    let page = std::fs::read_to_string(out.join("web1/index.html")).expect("web1's page");
    assert!(page.contains("Served by web1 on port 8080"), "{page}");

    let second = prov(&dir, &state, &out, &["apply", "site.yml", "--output", "json"]);
    let (code, events, all) = json_events(&second);
    assert_eq!(code, 0, "{all}");
    assert_eq!(recap_changed(&events), 0, "second run: {all}");

    let check = prov(
        &dir,
        &state,
        &out,
        &["apply", "site.yml", "--check", "--diff", "-e", "site_port=9090", "--output", "json"],
    );
    let (code, events, all) = json_events(&check);
    assert_eq!(code, 0, "{all}");
    assert_eq!(recap_changed(&events), 6, "site.conf, the page and the handler on 2 hosts: {all}");
    let conf = std::fs::read_to_string(out.join("web1/site.conf")).expect("site.conf");
    assert_eq!(conf, "port=8080\n", "--check changed nothing");

    let one = prov(&dir, &state, &out, &["apply", "site.yml", "-e", "site_port=9090", "--limit", "web1"]);
    let (o, e) = text(&one);
    assert_eq!(one.status.code(), Some(0), "{o}\n{e}");
    assert_eq!(std::fs::read_to_string(out.join("web1/site.conf")).expect("web1"), "port=9090\n");
    assert_eq!(std::fs::read_to_string(out.join("web2/site.conf")).expect("web2"), "port=8080\n");

    let graph = prov(&dir, &state, &out, &["graph", "site.yml"]);
    let (o, e) = text(&graph);
    assert_eq!(graph.status.code(), Some(0), "{o}\n{e}");
    assert!(o.contains("web1") && o.contains("web2"), "{o}");

    // README's typo.yml, byte for byte as its printf writes it.
    std::fs::write(
        dir.join("typo.yml"),
        "- hosts: web\n  tasks:\n    - copy:\n        dest: /tmp/x\n        contnet: hi\n",
    )
    .expect("write typo.yml");
    let bad = prov(&dir, &state, &out, &["validate", "typo.yml"]);
    let (o, e) = text(&bad);
    assert_eq!(bad.status.code(), Some(4), "a misspelt argument is bad input: {o}\n{e}");
    assert!(e.contains("typo.yml:5:9") && e.contains("contnet") && e.contains("content"), "{e}");
}
