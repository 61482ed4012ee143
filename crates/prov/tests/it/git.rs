//! `git` on a local host against repositories of the test's own: a bare repository with two
//! branches (`main`: c1, c2; `dev`: c3), an annotated tag `v1.0` and a light tag on c1, and a
//! repository with a submodule. ansible-core 2.19.14's git module registered the same results
//! for the same tasks (the literals here, with the commits and paths of this fixture).

use crate::language::apply;
use serde_json::{json, Value as Json};
use std::path::Path;
use std::process::Command;

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.com")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.com")
        .output()
        .expect("git (scripts/install-prereqs installs it)");
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The fixture under `root`: `src` (a work tree), `bare.git` (its bare clone) and `link.git`
/// (a symbolic link to it). Returns the commits c1, c2, c3.
pub(crate) fn repos(root: &Path) -> [String; 3] {
    let src = root.join("src");
    std::fs::create_dir_all(&src).expect("mkdir");
    git(&src, &["init", "-q", "-b", "main"]);
    std::fs::write(src.join("f"), "one\n").expect("f");
    git(&src, &["add", "f"]);
    git(&src, &["commit", "-qm", "c1"]);
    git(&src, &["tag", "-a", "v1.0", "-m", "v1"]);
    git(&src, &["tag", "light"]);
    std::fs::write(src.join("f"), "two\n").expect("f");
    git(&src, &["commit", "-qam", "c2"]);
    git(&src, &["checkout", "-qb", "dev"]);
    std::fs::write(src.join("g"), "three\n").expect("g");
    git(&src, &["add", "g"]);
    git(&src, &["commit", "-qm", "c3"]);
    git(&src, &["checkout", "-q", "main"]);
    git(root, &["clone", "-q", "--bare", "src", "bare.git"]);
    std::os::unix::fs::symlink(root.join("bare.git"), root.join("link.git")).expect("link");
    let sha = |r: &str| git(&src, &["rev-parse", r]);
    [sha("v1.0^{}"), sha("main"), sha("dev")]
}

#[test]
fn git_clones_checks_out_and_updates_as_ansible_core() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    let [c1, c2, c3] = repos(root);
    let r = root.display().to_string();
    let exe = String::from_utf8_lossy(&Command::new("sh").args(["-c", "command -v git"]).output().expect("sh").stdout)
        .trim()
        .to_string();
    let site = format!(
        r#"- hosts: a
  gather_facts: false
  vars:
    d: "{r}/w"
    r: "{r}/bare.git"
  tasks:
    - git: {{repo: "{{{{ r }}}}", dest: "{{{{ d }}}}/w1"}}
      register: g1
      check_mode: true
    - git: {{repo: "{{{{ r }}}}", dest: "{{{{ d }}}}/w1"}}
      register: g2
    - git: {{repo: "{{{{ r }}}}", dest: "{{{{ d }}}}/w1"}}
      register: g3
    - git: {{repo: "{{{{ r }}}}", dest: "{{{{ d }}}}/w1", version: v1.0}}
      register: g4
      check_mode: true
    - git: {{repo: "{{{{ r }}}}", dest: "{{{{ d }}}}/w1", version: v1.0}}
      register: g5
    - git: {{repo: "{{{{ r }}}}", dest: "{{{{ d }}}}/w1", version: dev}}
      register: g6
    - git: {{repo: "{{{{ r }}}}", dest: "{{{{ d }}}}/w1", version: dev}}
      register: g7
    - copy: {{dest: "{{{{ d }}}}/w1/f", content: "local\n"}}
    - git: {{repo: "{{{{ r }}}}", dest: "{{{{ d }}}}/w1", version: dev}}
      register: g8
      ignore_errors: true
    - git: {{repo: "{{{{ r }}}}", dest: "{{{{ d }}}}/w1", version: dev, force: true}}
      register: g9
    - git: {{repo: "{{{{ r }}}}", dest: "{{{{ d }}}}/w1", update: false}}
      register: g10
    - git: {{repo: "{{{{ r }}}}", dest: "{{{{ d }}}}/w2", version: dev, depth: 1}}
      register: g11
    - git: {{repo: "{{{{ r }}}}", dest: "{{{{ d }}}}/w2", version: dev, depth: 1}}
      register: g12
    - git: {{repo: "{{{{ r }}}}", dest: "{{{{ d }}}}/w3", clone: false}}
      register: g13
    - git: {{repo: "{{{{ r }}}}", dest: "{{{{ d }}}}/w1", version: nosuch}}
      register: g14
      ignore_errors: true
    - git: {{repo: "{{{{ r }}}}", dest: "{{{{ d }}}}/w4", bare: true}}
      register: g15
    - git: {{repo: "{{{{ r }}}}", dest: "{{{{ d }}}}/w4", bare: true}}
      register: g16
    - git: {{repo: "{r}/link.git", dest: "{{{{ d }}}}/w1", version: dev}}
      register: g17
    - git: {{repo: "file://{r}/src", dest: "{{{{ d }}}}/w1", version: dev}}
      register: g18
      check_mode: true
    - git: {{repo: "file://{r}/src", dest: "{{{{ d }}}}/w1", version: dev}}
      register: g19
    - git: {{repo: "{{{{ r }}}}", dest: "{{{{ d }}}}/w5", version: light, single_branch: true}}
      register: g20
    - git: {{repo: "{{{{ r }}}}", dest: "{{{{ d }}}}/w6", version: "{c2}"}}
      register: g21
    - git: {{repo: "{{{{ r }}}}", dest: "{{{{ d }}}}/w6", version: "{c2}"}}
      register: g22
    - git: {{repo: "{r}/nosuch.git", dest: "{{{{ d }}}}/w7"}}
      register: g23
      ignore_errors: true
    - git: {{repo: "{{{{ r }}}}", dest: "{{{{ d }}}}/w8", depth: 1, version: "{c2}"}}
      register: g24
    - debug: {{msg: "{{{{ [g1,g2,g3,g4,g5,g6,g7,g8,g9,g10,g11,g12,g13,g14,g15,g16,g17,g18,g19,g20,g21,g22,g23,g24] | to_json }}}}"}}
"#
    );
    let (_d, run) = apply(&[("site.yml", &site)], &[]);
    assert_eq!(run.code, 0, "{}", run.dump());
    let shown = run.of("debug").last().and_then(|x| x["msg"].as_str()).expect("debug").to_string();
    let mut got: Vec<Json> = serde_json::from_str(&shown).expect("JSON");
    for v in got.iter_mut().filter_map(|v| v.as_object_mut()) {
        v.remove("exception");
    }
    let new = |after: &str| json!({"changed": true, "before": null, "after": after, "failed": false});
    let upd = |changed: bool, before: &str, after: &str, url: bool| json!({"changed": changed, "before": before, "remote_url_changed": url, "after": after, "failed": false});
    let w1 = format!("{r}/w/w1");
    let gone = format!("fatal: '{r}/nosuch.git' does not appear to be a git repository");
    let no_repo = [
        gone.as_str(),
        "fatal: Could not read from remote repository.",
        "",
        "Please make sure you have the correct access rights",
        "and the repository exists.",
    ];
    let mut shallow = new(&c2);
    shallow["warnings"] = json!([
        "Ignoring depth argument. Shallow clones are only available for HEAD, branches, tags or in combination with refspec."
    ]);
    let expected = vec![
        new(&c2),
        new(&c2),
        upd(false, &c2, &c2, false),
        upd(true, &c2, &c1, false),
        upd(true, &c2, &c1, false),
        upd(true, &c1, &c3, false),
        upd(false, &c3, &c3, false),
        json!({"changed": false, "before": c3, "failed": true, "msg": format!("Local modifications exist in the destination: {w1} (force=no).")}),
        json!({"changed": true, "before": c3, "msg": format!("Local modifications exist in the destination: {w1}"), "remote_url_changed": false, "after": c3, "failed": false}),
        json!({"changed": false, "before": c3, "after": c3, "failed": false}),
        new(&c3),
        upd(false, &c3, &c3, false),
        new(&c2),
        json!({"stdout": "", "stderr": "error: pathspec 'nosuch' did not match any file(s) known to git\n", "rc": 1,
               "cmd": format!("{exe} checkout --force nosuch"), "failed": true, "msg": "Failed to checkout nosuch",
               "stdout_lines": [], "stderr_lines": ["error: pathspec 'nosuch' did not match any file(s) known to git"], "changed": false}),
        new(&c2),
        upd(false, &c2, &c2, false),
        upd(true, &c3, &c3, true),
        upd(true, &c3, &c3, true),
        upd(true, &c3, &c3, true),
        new(&c1),
        new(&c2),
        upd(false, &c2, &c2, false),
        json!({"cmd": format!("{exe} ls-remote file://{r}/nosuch.git -h refs/heads/HEAD"), "rc": 128, "stdout": "",
               "stderr": format!("{}\n", no_repo.join("\n")), "failed": true, "msg": no_repo.join("\n"),
               "stdout_lines": [], "stderr_lines": no_repo, "changed": false}),
        shallow,
    ];
    assert_eq!(got.len(), expected.len(), "{got:#?}");
    for (i, (g, e)) in got.iter().zip(&expected).enumerate() {
        assert_eq!(g, e, "result g{}", i + 1);
    }
}
