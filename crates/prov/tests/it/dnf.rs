//! `dnf` and `yum` on this Debian machine, with Debian's dnf and rpm: packages the test builds
//! with rpmbuild into a repository made by createrepo_c, installed into an `installroot`.
//! ansible-core 2.19.14's dnf module (dnf4 backend, python3-dnf) ran the same tasks: its 13
//! registered results and the RPM database it left are the literals here.

use crate::language::apply;
use std::path::Path;
use std::process::Command;

/// Builds `NAME-VERSION-1.noarch.rpm` (optionally requiring another package) into `repo`.
pub(crate) fn rpm(work: &Path, repo: &Path, name: &str, version: &str, requires: Option<&str>) {
    let top = work.join("build");
    std::fs::create_dir_all(top.join("SPECS")).expect("mkdir");
    let req = requires.map(|r| format!("Requires: {r}\n")).unwrap_or_default();
    let spec = format!(
        "Name: {name}\nVersion: {version}\nRelease: 1\nSummary: test {name}\nLicense: MIT\nBuildArch: noarch\n{req}%description\ntest\n%install\nmkdir -p %{{buildroot}}/usr/share/{name}\necho {version} > %{{buildroot}}/usr/share/{name}/version\n%files\n/usr/share/{name}/version\n"
    );
    let file = top.join("SPECS").join(format!("{name}-{version}.spec"));
    std::fs::write(&file, spec).expect("spec");
    let out = Command::new("rpmbuild")
        .args(["--quiet", "--define"])
        .arg(format!("_topdir {}", top.display()))
        .arg("--define")
        .arg(format!("_rpmdir {}", repo.display()))
        .args(["--define", "_build_id_links none", "-bb"])
        .arg(&file)
        .output()
        .expect("rpmbuild (rpm is installed by scripts/install-prereqs)");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

/// Removes the repository file it wrote under /etc/yum.repos.d.
struct RepoFile(&'static str);

impl Drop for RepoFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(self.0);
    }
}

#[test]
fn dnf_installs_upgrades_and_removes_as_ansible_core() {
    let work = tempfile::tempdir().expect("tempdir");
    let repo = work.path().join("repo");
    for (n, v, r) in [
        ("provdemo", "1.0", None),
        ("provdemo", "2.0", None),
        ("provdep", "0.5", None),
        ("provapp", "1.0", Some("provdep")),
    ] {
        rpm(work.path(), &repo, n, v, r);
    }
    let out = Command::new("createrepo_c").arg("-q").arg(&repo).output().expect("createrepo_c");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    std::fs::create_dir_all("/etc/yum.repos.d").expect("mkdir");
    let file = RepoFile("/etc/yum.repos.d/prov-it-dnf.repo");
    std::fs::write(
        file.0,
        format!("[prov-it-dnf]\nname=prov-it-dnf\nbaseurl=file://{}\ngpgcheck=0\nenabled=1\n", repo.display()),
    )
    .expect("repo file");
    let root = work.path().join("root");
    std::fs::create_dir_all(&root).expect("root");
    let o = format!("installroot: \"{}\", releasever: \"12\", use_backend: dnf4", root.display());
    let tasks = [
        format!("dnf: {{name: provdemo-1.0, {o}}}"),
        format!("dnf: {{name: provdemo-1.0, {o}}}"),
        format!("dnf: {{name: provdemo, state: latest, {o}}}"),
        format!("dnf: {{name: [provapp], {o}}}\n      check_mode: true"),
        format!("dnf: {{name: [provapp], {o}}}"),
        format!("dnf: {{name: provapp, state: absent, {o}}}"),
        format!("dnf: {{name: provapp, state: absent, {o}}}"),
        format!("dnf: {{name: nosuch, {o}}}\n      ignore_errors: true"),
        format!("dnf: {{name: provdemo, state: latest, {o}}}"),
        format!("dnf: {{name: provdemo-1.0, {o}}}"),
        format!("yum: {{name: provdemo-1.0, allow_downgrade: true, {o}}}\n      check_mode: true"),
        format!("dnf: {{name: provdemo-1.0, allow_downgrade: true, {o}}}"),
        format!("dnf: {{name: [provdemo, provdep], state: absent, autoremove: true, {o}}}"),
    ];
    let mut play = "- hosts: a\n  gather_facts: false\n  tasks:\n".to_string();
    for (i, t) in tasks.iter().enumerate() {
        play.push_str(&format!("    - {t}\n      register: r{}\n", i + 1));
    }
    let all: Vec<String> = (1..=tasks.len()).map(|i| format!("r{i}")).collect();
    play.push_str(&format!("    - debug: msg=\"{{{{ [{}] | to_json }}}}\"\n", all.join(", ")));
    let (_d, r) = apply(&[("site.yml", &play)], &[]);
    assert_eq!(r.code, 0, "{}", r.dump());
    let got: Vec<serde_json::Value> =
        serde_json::from_str(r.of("debug")[0]["msg"].as_str().expect("msg")).expect("JSON");
    let ok = |msg: &str, results: &[&str]| serde_json::json!({"msg": msg, "changed": msg != "Nothing to do", "results": results, "rc": 0, "failed": false});
    let want = [
        ok("", &["Installed: provdemo-1.0-1.noarch"]),
        ok("Nothing to do", &[]),
        ok("", &["Installed: provdemo-2.0-1.noarch", "Removed: provdemo-1.0-1.noarch"]),
        ok(
            "Check mode: No changes made, but would have if not in check mode",
            &["Installed: provapp-1.0-1.noarch", "Installed: provdep-0.5-1.noarch"],
        ),
        ok("", &["Installed: provapp-1.0-1.noarch", "Installed: provdep-0.5-1.noarch"]),
        ok("", &["Removed: provapp-1.0-1.noarch"]),
        ok("Nothing to do", &["No match for argument: provapp"]),
        serde_json::json!({"failures": ["No package nosuch available."], "results": [], "rc": 1, "failed": true, "msg": "Failed to install some of the specified packages", "changed": false}),
        ok("Nothing to do", &[]),
        ok("Nothing to do", &[]),
        ok(
            "Check mode: No changes made, but would have if not in check mode",
            &["Installed: provdemo-1.0-1.noarch", "Removed: provdemo-2.0-1.noarch"],
        ),
        ok("", &["Installed: provdemo-1.0-1.noarch", "Removed: provdemo-2.0-1.noarch"]),
        ok("", &["Removed: provdemo-1.0-1.noarch", "Removed: provdep-0.5-1.noarch"]),
    ];
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        let mut g = g.clone();
        if let Some(m) = g.as_object_mut() {
            m.remove("exception");
        }
        assert_eq!(&g, w, "r{}", i + 1);
    }
    let db = Command::new("rpm").arg("--root").arg(&root).arg("-qa").output().expect("rpm");
    assert_eq!(String::from_utf8_lossy(&db.stdout), "", "ansible-core left nothing installed");

    // `list`, with provdemo 1.0 installed: ansible-core's lists for the same root.
    let lists = ["installed", "available", "provdemo", "repos", "updates", "nosuch"];
    let mut play = format!("- hosts: a\n  gather_facts: false\n  tasks:\n    - dnf: {{name: provdemo-1.0, {o}}}\n");
    for (i, l) in lists.iter().enumerate() {
        play.push_str(&format!("    - dnf: {{list: {l}, {o}}}\n      register: l{i}\n"));
    }
    play.push_str("    - debug: msg=\"{{ [l0, l1, l2, l3, l4, l5] | map(attribute='results') | list | to_json }}\"\n");
    let (_d, r) = apply(&[("site.yml", &play)], &["--check"]);
    assert_eq!((r.code, r.recap("a", "changed")), (0, 1), "{}", r.dump());
    let (_d, r) = apply(&[("site.yml", &play)], &[]);
    assert_eq!((r.code, r.recap("a", "changed")), (0, 1), "{}", r.dump());
    let got: serde_json::Value = serde_json::from_str(r.of("debug")[0]["msg"].as_str().expect("msg")).expect("JSON");
    let pkg = |name: &str, version: &str, repo: &str| {
        let envra = format!("0:{name}-{version}-1.noarch");
        let state = if repo == "@System" { "installed" } else { "available" };
        serde_json::json!({"name": name, "arch": "noarch", "epoch": "0", "release": "1", "version": version, "repo": repo, "envra": envra, "nevra": envra, "yumstate": state})
    };
    let local = "prov-it-dnf";
    assert_eq!(got[0], serde_json::json!([pkg("provdemo", "1.0", "@System")]));
    assert_eq!(
        got[1],
        serde_json::json!([
            pkg("provapp", "1.0", local),
            pkg("provdemo", "1.0", local),
            pkg("provdemo", "2.0", local),
            pkg("provdep", "0.5", local)
        ])
    );
    assert_eq!(
        got[2],
        serde_json::json!([
            pkg("provdemo", "1.0", "@System"),
            pkg("provdemo", "1.0", local),
            pkg("provdemo", "2.0", local)
        ])
    );
    assert_eq!(got[3], serde_json::json!([{"repoid": local, "state": "enabled"}]));
    assert_eq!(got[4], serde_json::json!([pkg("provdemo", "2.0", local)]));
    assert_eq!(got[5], serde_json::json!([]));
}
