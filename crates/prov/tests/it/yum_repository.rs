//! `yum_repository` on a local host with a private `reposdir`: a section added once, another
//! added to the same file, one removed (in check mode first), the last removed with the file,
//! and a missing directory. ansible-core 2.19.14 registered the same results and wrote the same
//! file for the same tasks (its `diff` texts are the literals here).

use crate::language::apply;

#[test]
fn yum_repository_writes_sections_as_ansible_core() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path().display().to_string();
    let epel = format!(
        r#"yum_repository: {{name: epel, description: EPEL YUM repo, baseurl: ["https://a.example/epel/$releasever", "https://b.example/epel"], gpgcheck: true, gpgkey: https://a.example/key, reposdir: "{d}", priority: 10, exclude: [a, b], mode: "0644"}}"#
    );
    let other = format!(
        r#"yum_repository: {{name: other, file: epel, description: Other, mirrorlist: "https://m.example/list", enabled: false, reposdir: "{d}"}}"#
    );
    let site = format!(
        "- hosts: a\n  gather_facts: false\n  tasks:\n    - {epel}\n      register: y1\n    - {epel}\n      register: y2\n    - {other}\n      register: y3\n    - yum_repository: {{name: epel, state: absent, reposdir: \"{d}\"}}\n      register: y4\n      check_mode: true\n    - yum_repository: {{name: epel, state: absent, reposdir: \"{d}\"}}\n      register: y5\n    - command: cat {d}/epel.repo\n      register: c1\n    - yum_repository: {{name: other, file: epel, state: absent, reposdir: \"{d}\"}}\n      register: y6\n    - yum_repository: {{name: x, description: X, baseurl: \"http://x\", reposdir: /nonexistent-prov}}\n      register: y7\n      ignore_errors: true\n    - debug: msg=\"{{{{ [y1, y2, y3, y4, y5, c1.stdout, y6, y7] | to_json }}}}\"\n"
    );
    let (_d, r) = apply(&[("site.yml", &site)], &[]);
    assert_eq!(r.code, 0, "{}", r.dump());
    let got: Vec<serde_json::Value> =
        serde_json::from_str(r.of("debug")[0]["msg"].as_str().expect("msg")).expect("JSON");
    let file = format!("{d}/epel.repo");
    let e = "[epel]\nbaseurl = https://a.example/epel/$releasever\nhttps://b.example/epel\nexclude = a b\ngpgcheck = 1\ngpgkey = https://a.example/key\nname = EPEL YUM repo\npriority = 10\n\n";
    let o = "[other]\nenabled = 0\nmirrorlist = https://m.example/list\nname = Other\n\n";
    let res = |changed: bool, repo: &str, state: &str, before: &str, after: &str| {
        serde_json::json!({"changed": changed, "failed": false, "repo": repo, "state": state,
            "diff": {"before_header": file, "before": before, "after_header": file, "after": after}})
    };
    let both = format!("{e}{o}");
    assert_eq!(got[0], res(true, "epel", "present", "", e));
    assert_eq!(got[1], res(false, "epel", "present", e, e));
    assert_eq!(got[2], res(true, "other", "present", e, &both));
    assert_eq!(got[3], res(true, "epel", "absent", &both, o));
    assert_eq!(got[4], res(true, "epel", "absent", &both, o));
    assert_eq!(got[5], "[other]\nenabled = 0\nmirrorlist = https://m.example/list\nname = Other");
    assert_eq!(got[6], res(true, "other", "absent", o, ""));
    assert_eq!(got[7]["msg"], "Repo directory '/nonexistent-prov' does not exist.");
    assert!(!std::path::Path::new(&file).exists(), "a file without sections is removed");
}
