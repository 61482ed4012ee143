//! Roles and modules of collections: `roles: [NS.COLL.ROLE]`, short names inside a
//! collection's role, the play keyword `collections`, `collections/` beside the playbook and
//! ansible.cfg's `collections_path`. The expected values are what ansible-core 2.19.14 printed
//! for the same files (an `acme.web` collection and a same-named legacy role beside it).

use crate::language::{apply, Run};

const COLL: &str = "collections/ansible_collections/acme/web";

/// The files of the comparison, with the collection under `root`.
fn tree(root: &str) -> Vec<(String, String)> {
    let c = |p: &str| format!("{root}/acme/web/{p}");
    vec![
        (c("roles/front/meta/main.yml"), "dependencies: [back]\n".into()),
        (
            c("roles/front/tasks/main.yml"),
            "- debug: msg=\"front {{ ansible_role_name }} {{ role_name }}\"\n- include_role: name=inc\n- ping:\n  register: p\n- debug: msg=\"{{ p.ping }}\"\n".into(),
        ),
        (c("roles/back/tasks/main.yml"), "- debug: msg=\"collection back {{ ansible_role_name }}\"\n".into()),
        (c("roles/inc/tasks/main.yml"), "- debug: msg=\"collection inc\"\n".into()),
        ("roles/back/tasks/main.yml".into(), "- debug: msg=\"legacy back\"\n".into()),
        ("roles/inc/tasks/main.yml".into(), "- debug: msg=\"legacy inc\"\n".into()),
        (
            "site.yml".into(),
            "- hosts: a\n  gather_facts: false\n  roles: [acme.web.front]\n- hosts: a\n  gather_facts: false\n  collections: [acme.web]\n  roles: [inc]\n".into(),
        ),
    ]
}

fn run(files: &[(String, String)]) -> Run {
    let refs: Vec<(&str, &str)> = files.iter().map(|(p, b)| (p.as_str(), b.as_str())).collect();
    let (_d, r) = apply(&refs, &[]);
    r
}

fn messages(r: &Run) -> Vec<String> {
    r.results()
        .iter()
        .filter(|x| x["module"] == "debug")
        .filter_map(|x| x["msg"].as_str())
        .map(str::to_string)
        .collect()
}

#[test]
fn roles_resolve_in_their_collection_first_as_ansible_core_resolves_them() {
    let r = run(&tree("collections/ansible_collections"));
    assert_eq!(r.code, 0, "{}", r.dump());
    // A dependency written `back` is the collection's, not roles/back beside the playbook;
    // so is the included `inc`, and the play's `collections` finds `inc` there too.
    assert_eq!(
        messages(&r),
        ["collection back acme.web.back", "front acme.web.front front", "collection inc", "pong", "collection inc"],
        "{}",
        r.dump()
    );
    assert_eq!(r.recap("a", "ok"), 7, "{}", r.dump());
}

#[test]
fn collections_path_of_ansible_cfg_is_searched_and_may_name_ansible_collections() {
    let mut files = tree("vendor/ansible_collections");
    files.push(("ansible.cfg".into(), "[defaults]\ncollections_path = vendor/ansible_collections\n".into()));
    let r = run(&files);
    assert_eq!(r.code, 0, "{}", r.dump());
    assert_eq!(messages(&r)[0], "collection back acme.web.back", "{}", r.dump());
}

#[test]
fn a_short_module_name_that_the_collection_has_is_its_module_and_is_refused() {
    // ansible-core runs acme.web's own `ping` here (it printed the collection module's msg);
    // prov has no such module, and says so before connecting.
    let mut files = tree("collections/ansible_collections");
    files.push((format!("{COLL}/plugins/modules/ping.py"), "# a module of the collection\n".into()));
    let r = run(&files);
    assert_eq!(r.code, 4, "{}", r.dump());
    assert!(r.stderr.contains("roles/front/tasks/main.yml:3:3: error: unknown module `acme.web.ping`"), "{}", r.stderr);
    assert!(r.stderr.contains("has a module `ping` of its own"), "{}", r.stderr);
    assert!(r.results().is_empty());
}

#[test]
fn a_role_of_a_missing_collection_names_the_collections_path() {
    let r = run(&[("site.yml".into(), "- hosts: a\n  gather_facts: false\n  roles: [acme.none.front]\n".into())]);
    assert_eq!(r.code, 4, "{}", r.dump());
    assert!(r.stderr.contains("role `acme.none.front` not found"), "{}", r.stderr);
    assert!(r.stderr.contains("collection `acme.none` is not in `collections/`"), "{}", r.stderr);
}
