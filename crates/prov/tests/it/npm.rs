//! `npm` on a local host against a registry of its own: a static HTTP server on loopback
//! that serves one package, `hello-prov`, in versions 1.0.0 and 1.1.0 (npm reads a package's
//! metadata from `/NAME` and its tarball from the URL the metadata gives). npm's prefix and
//! cache are in the test's directory. ansible-core 2.19.14 with community.general 11 (the
//! `ansible` 12.3.0 package) registered the same results for the same tasks: the literals here.

use crate::get_url::Server;
use crate::language::apply;
use serde_json::{json, Value as Json};
use std::path::Path;

/// Writes the registry's files under `www`: the metadata (as `hello-prov/index.html`, which
/// the server sends for `/hello-prov/`) and one tarball per version.
pub(crate) fn registry(www: &Path, port: u16) {
    let pkg = www.join("hello-prov");
    std::fs::create_dir_all(&pkg).expect("mkdir");
    let mut versions = serde_json::Map::new();
    for v in ["1.0.0", "1.1.0"] {
        let src = tempfile::tempdir().expect("tempdir");
        let dir = src.path().join("package");
        std::fs::create_dir_all(&dir).expect("mkdir");
        let manifest = json!({"name": "hello-prov", "version": v, "bin": {"hello-prov": "index.js"}});
        std::fs::write(dir.join("package.json"), manifest.to_string()).expect("package.json");
        std::fs::write(dir.join("index.js"), format!("#!/usr/bin/env node\nconsole.log('{v}')\n")).expect("index.js");
        let tgz = pkg.join(format!("hello-prov-{v}.tgz"));
        let st = std::process::Command::new("tar")
            .arg("-C")
            .arg(src.path())
            .arg("-czf")
            .arg(&tgz)
            .arg("package")
            .status()
            .expect("tar");
        assert!(st.success());
        let mut m = manifest.clone();
        m["dist"] = json!({"tarball": format!("http://127.0.0.1:{port}/hello-prov/hello-prov-{v}.tgz")});
        versions.insert(v.to_string(), m);
    }
    let meta = json!({"name": "hello-prov", "dist-tags": {"latest": "1.1.0"}, "versions": versions});
    std::fs::write(pkg.join("index.html"), meta.to_string()).expect("metadata");
}

#[test]
fn npm_installs_updates_and_removes_as_community_general() {
    assert!(
        std::process::Command::new("npm").arg("--version").output().is_ok_and(|o| o.status.success()),
        "npm is missing (scripts/install-prereqs tests installs it)"
    );
    let www = tempfile::tempdir().expect("tempdir");
    let server = Server::start(www.path());
    registry(www.path(), server.1);
    let work = tempfile::tempdir().expect("tempdir");
    let d = work.path().display().to_string();
    let reg = format!("http://127.0.0.1:{}", server.1);
    let site = format!(
        r#"- hosts: a
  gather_facts: false
  vars:
    reg: "{reg}"
    d: "{d}"
  environment:
    NPM_CONFIG_PREFIX: "{{{{ d }}}}/prefix"
    npm_config_cache: "{{{{ d }}}}/cache"
    NPM_CONFIG_AUDIT: "false"
    NPM_CONFIG_FUND: "false"
  tasks:
    - npm: {{name: hello-prov, version: "1.0.0", global: true, registry: "{{{{ reg }}}}"}}
      register: n1
      check_mode: true
    - npm: {{name: hello-prov, version: "1.0.0", global: true, registry: "{{{{ reg }}}}"}}
      register: n2
    - npm: {{name: hello-prov, version: "1.0.0", global: true, registry: "{{{{ reg }}}}"}}
      register: n3
    - npm: {{name: hello-prov, global: true, registry: "{{{{ reg }}}}", state: latest}}
      register: n4
      check_mode: true
    - npm: {{name: hello-prov, global: true, registry: "{{{{ reg }}}}", state: latest}}
      register: n5
    - npm: {{name: hello-prov, global: true, registry: "{{{{ reg }}}}", state: latest}}
      register: n6
    - npm: {{name: hello-prov, path: "{{{{ d }}}}/app", registry: "{{{{ reg }}}}"}}
      register: n7
    - npm: {{name: hello-prov, path: "{{{{ d }}}}/app", registry: "{{{{ reg }}}}"}}
      register: n8
    - npm: {{name: hello-prov, path: "{{{{ d }}}}/app", state: absent}}
      register: n9
      check_mode: true
    - npm: {{name: hello-prov, path: "{{{{ d }}}}/app", state: absent}}
      register: n10
    - npm: {{name: hello-prov, path: "{{{{ d }}}}/app", state: absent}}
      register: n11
    - npm: {{name: hello-prov}}
      register: n12
      ignore_errors: true
    - npm: {{name: no-such-prov, global: true, registry: "{{{{ reg }}}}"}}
      register: n13
      ignore_errors: true
    - npm: {{name: hello-prov, version: "^1.0", path: "{{{{ d }}}}/app2", registry: "{{{{ reg }}}}"}}
      register: n14
    - npm: {{name: hello-prov, version: "^1.0", path: "{{{{ d }}}}/app2", registry: "{{{{ reg }}}}"}}
      register: n15
    - npm: {{name: hello-prov, path: "{{{{ d }}}}/app2", registry: "{{{{ reg }}}}", executable: "npm --loglevel=error"}}
      register: n16
    - npm: {{path: "{{{{ d }}}}/app2", registry: "{{{{ reg }}}}"}}
      register: n17
    - npm: {{path: "{{{{ d }}}}/app2", registry: "{{{{ reg }}}}", ci: true}}
      register: n18
    - npm: {{name: hello-prov, path: "{{{{ d }}}}/app3", registry: "{{{{ reg }}}}"}}
      register: n19
      check_mode: true
    - stat: {{path: "{{{{ d }}}}/app3"}}
      register: n20
    - debug: {{msg: "{{{{ [n1,n2,n3,n4,n5,n6,n7,n8,n9,n10,n11,n12,n13,n14,n15,n16,n17,n18,n19,n20.stat.exists] | to_json }}}}"}}
"#
    );
    let (_d, r) = apply(&[("site.yml", &site)], &[]);
    assert_eq!(r.code, 0, "{}", r.dump());
    let shown = r.of("debug").last().and_then(|x| x["msg"].as_str()).expect("debug").to_string();
    let mut got: Vec<Json> = serde_json::from_str(&shown).expect("JSON");
    // npm names its log after the time; ansible-core's module adds a traceback prov has not.
    let logs = regex::Regex::new(r"_logs/[0-9TZ_-]+-debug-0\.log").expect("regex");
    for v in got.iter_mut().filter_map(|v| v.as_object_mut()) {
        v.remove("exception");
        for k in ["stderr", "msg"] {
            if let Some(s) = v.get(k).and_then(|s| s.as_str()) {
                v.insert(k.into(), Json::from(logs.replace_all(s, "_logs/LOG").into_owned()));
            }
        }
        if let Some(lines) = v.get_mut("stderr_lines").and_then(|l| l.as_array_mut()) {
            for l in lines.iter_mut() {
                *l = Json::from(logs.replace_all(l.as_str().unwrap_or_default(), "_logs/LOG").into_owned());
            }
        }
    }
    let ch = |c: bool| json!({"changed": c, "failed": false});
    let port = server.1;
    let errors = [
        "npm error code E404".to_string(),
        format!("npm error 404 File not found - GET http://127.0.0.1:{port}/no-such-prov"),
        "npm error 404".into(),
        "npm error 404  The requested resource 'no-such-prov@*' could not be found or you do not have permission to access it.".into(),
        "npm error 404".into(),
        "npm error 404 Note that you can also install from a".into(),
        "npm error 404 tarball, folder, http url, or git url.".into(),
        format!("npm error A complete log of this run can be found in: {d}/cache/_logs/LOG"),
    ];
    // ansible-core masks "a password" between `127.0.0.1:` and the `@` of `no-such-prov@*`.
    let masked = format!(
        "npm error code E404\nnpm error 404 File not found - GET http://127.0.0.1:********@*' could not be found or you do not have permission to access it.\n{}",
        errors[4..].join("\n")
    );
    let expected = vec![
        ch(true),
        ch(true),
        ch(false),
        ch(true),
        ch(true),
        ch(false),
        ch(true),
        ch(false),
        ch(true),
        ch(true),
        ch(false),
        json!({"failed": true, "msg": "path must be specified when not using global", "changed": false}),
        json!({"cmd": format!("/usr/bin/npm install --global no-such-prov --registry http://127.0.0.1:{port}"), "rc": 1,
               "stdout": "", "stderr": format!("{}\n", errors.join("\n")), "failed": true, "msg": masked,
               "stdout_lines": [], "stderr_lines": errors, "changed": false}),
        ch(true),
        ch(true),
        ch(false),
        ch(false),
        ch(true),
        ch(true),
        json!(true),
    ];
    assert_eq!(got.len(), expected.len(), "{got:#?}");
    for (i, (g, e)) in got.iter().zip(&expected).enumerate() {
        assert_eq!(g, e, "result n{}", i + 1);
    }
    assert!(work.path().join("prefix/bin/hello-prov").exists(), "the global package's command is installed");
}
