//! `prov graph` snapshots for every playbook under playbooks/ and examples/.

use crate::util::{prov, repo, text};
use std::path::{Path, PathBuf};

/// Playbooks: `playbooks/*.yml` and `examples/*/*.yml` that start with a play list, each
/// with the inventory next to it (`hosts.ini`) or the reference topology fixture.
fn playbooks() -> Vec<(PathBuf, PathBuf)> {
    let root = repo();
    let mut out = Vec::new();
    let mut dirs = vec![root.join("playbooks")];
    if let Ok(rd) = std::fs::read_dir(root.join("examples")) {
        let mut ex: Vec<PathBuf> = rd.filter_map(|e| e.ok()).map(|e| e.path()).filter(|p| p.is_dir()).collect();
        ex.sort();
        dirs.extend(ex);
    }
    for d in dirs {
        let Ok(rd) = std::fs::read_dir(&d) else { continue };
        let mut files: Vec<PathBuf> =
            rd.filter_map(|e| e.ok()).map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "yml")).collect();
        files.sort();
        for f in files {
            let text = std::fs::read_to_string(&f).unwrap_or_default();
            let is_playbook = text.lines().any(|l| l.starts_with("- hosts:") || l.starts_with("- name:"))
                && text.lines().any(|l| l.trim_start().starts_with("hosts:"));
            if !is_playbook {
                continue;
            }
            let inv = if d.join("hosts.ini").exists() {
                d.join("hosts.ini")
            } else {
                // Not inventories/local.yml: its hosts are whatever VMs exist right now.
                crate::util::fixtures().join("topology.ini")
            };
            out.push((f, inv));
        }
    }
    out
}

fn name_of(p: &Path) -> String {
    let root = repo().canonicalize().expect("repo root");
    let p = p.canonicalize().expect("playbook path");
    p.strip_prefix(&root).unwrap_or(&p).display().to_string().replace('/', "__")
}

#[test]
fn graphs_of_all_playbooks() {
    let list = playbooks();
    assert!(!list.is_empty(), "no playbooks found");
    for (pb, inv) in list {
        let out = prov(&repo(), &["graph", pb.to_str().expect("utf-8"), "-i", inv.to_str().expect("utf-8")]);
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(0), "prov graph {}: {stderr}", pb.display());
        insta::assert_snapshot!(name_of(&pb), stdout);
        let dot = prov(
            &repo(),
            &["graph", pb.to_str().expect("utf-8"), "-i", inv.to_str().expect("utf-8"), "--format", "dot"],
        );
        let (dot, _) = text(&dot);
        assert!(dot.starts_with("digraph"), "{dot}");
    }
}
