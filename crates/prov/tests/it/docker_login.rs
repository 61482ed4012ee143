//! `docker_login` against a registry of its own: Debian's `docker-registry` (the distribution
//! registry) on loopback with an htpasswd account, logged into by the local Docker Engine
//! (which `.ci/run` starts; 127.0.0.0/8 registries need no TLS). ansible-core 2.19.14 with
//! community.docker 4 (the `ansible` 12.3.0 package) registered the same results for the same
//! tasks: the literals here. The one difference, documented in the module: a refused login's
//! message lacks the HTTP status line community.docker's client puts before the engine's words.

use crate::language::apply;
use serde_json::{json, Value as Json};
use std::process::{Child, Command, Stdio};

/// `docker-registry serve` on a free loopback port with the account `tester`/`s3cret`;
/// stopped when dropped.
pub(crate) struct Registry {
    child: Child,
    pub(crate) port: u16,
    _dir: tempfile::TempDir,
}

impl Registry {
    pub(crate) fn start() -> Registry {
        let dir = tempfile::tempdir().expect("tempdir");
        let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("port").port();
        let pw = Command::new("htpasswd")
            .args(["-Bbn", "tester", "s3cret"])
            .output()
            .expect("htpasswd (scripts/install-prereqs tests installs apache2-utils)");
        assert!(pw.status.success());
        let d = dir.path();
        std::fs::write(d.join("htpasswd"), &pw.stdout).expect("htpasswd");
        let config = format!(
            "version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {}/data\nhttp:\n  addr: 127.0.0.1:{port}\nauth:\n  htpasswd:\n    realm: prov\n    path: {}/htpasswd\n",
            d.display(),
            d.display()
        );
        std::fs::write(d.join("config.yml"), config).expect("config");
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(d.join("config.yml"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("docker-registry (scripts/install-prereqs tests installs it)");
        let reg = Registry { child, port, _dir: dir };
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return reg;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        panic!("docker-registry did not listen on {port}");
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn docker_login_keeps_credentials_as_community_docker() {
    let registry = Registry::start();
    let work = tempfile::tempdir().expect("tempdir");
    let d = work.path().display().to_string();
    let reg = format!("127.0.0.1:{}", registry.port);
    let login = |extra: &str| {
        format!(
            r#"community.docker.docker_login: {{registry_url: "{{{{ reg }}}}", username: tester, password: s3cret, config_path: "{{{{ d }}}}/config.json"{extra}}}"#
        )
    };
    let site = format!(
        r#"- hosts: a
  gather_facts: false
  vars:
    d: "{d}"
    reg: "{reg}"
  tasks:
    - {first}
      register: l1
      check_mode: true
    - stat: {{path: "{{{{ d }}}}/config.json"}}
      register: l1s
    - {first}
      register: l2
    - {first}
      register: l3
    - community.docker.docker_login: {{registry: "{{{{ reg }}}}", username: tester, password: s3cret, dockercfg_path: "{{{{ d }}}}/config.json", reauth: true}}
      register: l4
    - community.docker.docker_login: {{registry_url: "{{{{ reg }}}}", username: tester, password: wrong, config_path: "{{{{ d }}}}/config.json"}}
      register: l5
      ignore_errors: true
    - slurp: {{src: "{{{{ d }}}}/config.json"}}
      register: l7
    - stat: {{path: "{{{{ d }}}}/config.json"}}
      register: l8
    - community.docker.docker_login: {{registry_url: "{{{{ reg }}}}", state: absent, config_path: "{{{{ d }}}}/config.json"}}
      register: l9
      check_mode: true
    - community.docker.docker_login: {{registry_url: "{{{{ reg }}}}", state: absent, config_path: "{{{{ d }}}}/config.json"}}
      register: l10
    - community.docker.docker_login: {{registry_url: "{{{{ reg }}}}", state: absent, config_path: "{{{{ d }}}}/config.json"}}
      register: l11
    - slurp: {{src: "{{{{ d }}}}/config.json"}}
      register: l12
    - copy: {{dest: "{{{{ d }}}}/pre.json", content: '{{"auths": {{"{reg}": {{"auth": "dGVzdGVyOm9sZA=="}}}}, "other": 1}}'}}
    - community.docker.docker_login: {{registry_url: "{{{{ reg }}}}", username: tester, password: s3cret, config_path: "{{{{ d }}}}/pre.json"}}
      register: l13
    - slurp: {{src: "{{{{ d }}}}/pre.json"}}
      register: l14
    - community.docker.docker_login: {{registry_url: "http://{{{{ reg }}}}", username: tester, password: s3cret, config_path: "{{{{ d }}}}/c2.json"}}
      register: l15
    - slurp: {{src: "{{{{ d }}}}/c2.json"}}
      register: l16
    - debug: {{msg: "{{{{ [l1, l1s.stat.exists, l2, l3, l4, l5, l7.content | b64decode, l8.stat.mode, l9, l10, l11, l12.content | b64decode, l13, l14.content | b64decode, l15, l16.content | b64decode] | to_json }}}}"}}
"#,
        first = login("")
    );
    let (_d, r) = apply(&[("site.yml", &site)], &[]);
    assert_eq!(r.code, 0, "{}", r.dump());
    let shown = r.of("debug").last().and_then(|x| x["msg"].as_str()).expect("debug").to_string();
    let got: Vec<Json> = serde_json::from_str(&shown).expect("JSON");
    let engine = json!({"IdentityToken": "", "Status": "Login Succeeded"});
    let logged = |c: bool| json!({"changed": c, "login_result": engine, "failed": false});
    let file = |key: &str, other: bool| {
        let extra = if other { ",\n    \"other\": 1" } else { "" };
        format!("{{\n    \"auths\": {{\n        \"{key}\": {{\n            \"auth\": \"dGVzdGVyOnMzY3JldA==\"\n        }}\n    }}{extra}\n}}")
    };
    let expected = vec![
        logged(true),
        json!(false),
        logged(true),
        json!({"changed": false, "login_result": {"username": "tester", "email": null, "serveraddress": reg}, "failed": false}),
        logged(true),
        json!({"failed": true, "changed": false, "exception": "(traceback unavailable)",
               "msg": format!("Logging into {reg} for user tester failed - login attempt to http://{reg}/v2/ failed with status: 401 Unauthorized")}),
        json!(file(&reg, false)),
        json!("0600"),
        json!({"changed": true, "login_result": {}, "failed": false}),
        json!({"changed": true, "login_result": {}, "failed": false}),
        json!({"changed": false, "login_result": {}, "failed": false}),
        json!("{\n    \"auths\": {}\n}"),
        logged(true),
        json!(file(&reg, true)),
        logged(true),
        json!(file(&format!("http://{reg}"), false)),
    ];
    assert_eq!(got.len(), expected.len(), "{got:#?}");
    for (i, (g, e)) in got.iter().zip(&expected).enumerate() {
        assert_eq!(g, e, "result {i}");
    }
}
