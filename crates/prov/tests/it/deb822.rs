//! `deb822_repository` on this machine (a local host writes /etc/apt/sources.list.d): the
//! source written disabled, so that no `apt-get update` of another test reads it, with its key
//! fetched from a local HTTP server. The text and results are what ansible-core 2.19.14's module
//! wrote and registered for the same tasks.

use crate::get_url::Server;
use crate::language::apply;

#[test]
fn deb822_repository_writes_the_source_and_its_key_once_and_removes_them() {
    let site = tempfile::tempdir().expect("tempdir");
    let key = "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmQENBFake\n-----END PGP PUBLIC KEY BLOCK-----\n";
    std::fs::write(site.path().join("key.asc"), key).expect("key");
    let server = Server::start(site.path());
    let present = format!(
        "- hosts: a\n  gather_facts: false\n  tasks:\n    - deb822_repository: {{name: Prov_IT Deb822, uris: file:/srv/prov-none, suites: stable, components: [main, contrib], enabled: false, signed_by: \"http://127.0.0.1:{}/key.asc\", mode: \"0600\"}}\n      register: r\n    - debug: msg=\"{{{{ r | to_json }}}}\"\n",
        server.1
    );
    let absent =
        "- hosts: a\n  gather_facts: false\n  tasks:\n    - deb822_repository: {name: Prov_IT Deb822, state: absent}\n";
    let (sources, keyring) = ("/etc/apt/sources.list.d/prov-it-deb822.sources", "/etc/apt/keyrings/prov-it-deb822.asc");
    let (_d, r) = apply(&[("site.yml", absent)], &[]);
    assert_eq!(r.code, 0, "{}", r.dump());

    let (_d, r) = apply(&[("site.yml", &present)], &["--check"]);
    assert_eq!((r.code, r.recap("a", "changed")), (0, 1), "{}", r.dump());
    assert!(!std::path::Path::new(sources).exists() && !std::path::Path::new(keyring).exists(), "check mode wrote");
    for round in 0..2 {
        let (_d, r) = apply(&[("site.yml", &present)], &[]);
        assert_eq!((r.code, r.recap("a", "changed")), (0, 1 - round), "round {round}: {}", r.dump());
        let shown: serde_json::Value =
            serde_json::from_str(r.of("debug")[0]["msg"].as_str().expect("msg")).expect("JSON");
        assert_eq!(shown["key_filename"], keyring);
        assert_eq!(shown["mode"], "0600");
    }
    let text = std::fs::read_to_string(sources).expect("sources file");
    assert_eq!(
        text,
        "Components: main contrib\nEnabled: no\nX-Repolib-Name: Prov_IT Deb822\nSigned-By: /etc/apt/keyrings/prov-it-deb822.asc\nSuites: stable\nTypes: deb\nURIs: file:/srv/prov-none\n"
    );
    assert_eq!(std::fs::read_to_string(keyring).expect("key"), key);
    for round in 0..2 {
        let (_d, r) = apply(&[("site.yml", absent)], &[]);
        assert_eq!((r.code, r.recap("a", "changed")), (0, 1 - round), "round {round}: {}", r.dump());
    }
    assert!(!std::path::Path::new(sources).exists() && !std::path::Path::new(keyring).exists());
}
