//! `apt_repository` on this machine (a local host writes /etc/apt/sources.list.d), with a flat
//! `file:` repository the test makes: added once with the cache updated, removed once, and an
//! update that fails puts the files back, as ansible-core 2.19.14's module does (its results
//! for the same tasks were compared field by field, without the update).

use crate::language::apply;
use crate::ssh::DPKG;

#[test]
fn apt_repository_adds_a_source_once_updates_the_cache_and_removes_it() {
    let _turn = DPKG.lock().unwrap_or_else(|e| e.into_inner());
    let repo = tempfile::tempdir().expect("tempdir");
    std::fs::write(repo.path().join("Packages"), "").expect("index");
    let line = format!("deb [trusted=yes] file:{} ./", repo.path().display());
    let list = "/etc/apt/sources.list.d/prov-it-repo.list";
    let play = |extra: &str| {
        format!(
            "- hosts: a\n  gather_facts: false\n  tasks:\n    - apt_repository: {{repo: \"{line}\", filename: prov-it-repo{extra}}}\n      register: r\n    - debug: msg=\"{{{{ r | to_json }}}}\"\n"
        )
    };
    let shown = |r: &crate::language::Run| -> serde_json::Value {
        serde_json::from_str(r.of("debug")[0]["msg"].as_str().expect("msg")).expect("JSON")
    };
    for round in 0..2 {
        let (_d, r) = apply(&[("site.yml", &play(""))], &[]);
        assert_eq!((r.code, r.recap("a", "changed")), (0, 1 - round), "round {round}: {}", r.dump());
        let added = if round == 0 { serde_json::json!([list]) } else { serde_json::json!([]) };
        assert_eq!(shown(&r)["sources_added"], added);
    }
    assert_eq!(std::fs::read_to_string(list).expect("the list"), format!("{line}\n"));
    let (_d, r) = apply(&[("site.yml", &play(", state: absent"))], &["--check"]);
    assert_eq!((r.code, r.recap("a", "changed")), (0, 1), "{}", r.dump());
    assert!(std::path::Path::new(list).exists(), "check mode removed it");
    for round in 0..2 {
        let (_d, r) = apply(&[("site.yml", &play(", state: absent"))], &[]);
        assert_eq!((r.code, r.recap("a", "changed")), (0, 1 - round), "round {round}: {}", r.dump());
    }
    assert!(!std::path::Path::new(list).exists());
    // A source the update cannot read: the update fails and the file is taken back.
    let bad = "- hosts: a\n  gather_facts: false\n  tasks:\n    - apt_repository: {repo: \"deb [trusted=yes] file:/nonexistent-prov ./\", filename: prov-it-repo, update_cache_retries: 1}\n";
    let (_d, r) = apply(&[("site.yml", bad)], &[]);
    assert_eq!(r.code, 2, "{}", r.dump());
    let failed = r.results().into_iter().find(|x| x["status"] == "failed").cloned().expect("failed");
    assert!(
        failed["msg"].as_str().unwrap_or_default().starts_with("Failed to update apt cache after 1 retries: "),
        "{failed}"
    );
    assert!(!std::path::Path::new(list).exists(), "the failed update's source was left");
}
