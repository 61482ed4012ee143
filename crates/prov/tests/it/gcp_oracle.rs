//! Differential tests of google.cloud's modules against prov-gcp-fake: a playbook's
//! registered results under prov, compared with those ansible-playbook registered for the
//! same playbook on a fresh fake (recorded under `tests/it/results/`).
//!
//! google.cloud has no endpoint setting, so a recording puts the fake behind
//! `gcp_tls_proxy.py` (an HTTPS proxy on loopback that answers for compute.googleapis.com and
//! www.googleapis.com with a certificate of a CA made for the run) and gives ansible-playbook
//! `HTTPS_PROXY` and `REQUESTS_CA_BUNDLE`; prov is pointed at the fake with
//! `PROV_GCP_ENDPOINT`. To record again: `PROV_ORACLE_ANSIBLE_PLAYBOOK=/venv/bin/ansible-playbook`
//! (a venv with ansible-core 2.19.14, google-auth and requests) and `ANSIBLE_COLLECTIONS_PATH`
//! (google.cloud of `ansible` 12.3.0).

use serde_json::{Map, Value as Json};
use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// The TLS proxy, stopped when dropped.
pub struct Proxy {
    child: Child,
    /// Its port on 127.0.0.1.
    pub port: u16,
    /// The CA file to trust.
    pub ca: String,
}

impl Proxy {
    pub fn start(python: &Path, fake_port: u16, dir: &Path) -> Proxy {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/gcp_tls_proxy.py");
        let mut child = Command::new(python)
            .arg(script)
            .arg(fake_port.to_string())
            .arg(dir)
            .stdout(Stdio::piped())
            .spawn()
            .expect("the proxy starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line).expect("the proxy's address");
        let (port, ca) = line.trim().split_once(' ').expect("PORT CA");
        Proxy { port: port.parse().expect("a port"), ca: ca.to_string(), child }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Nothing of this machine's Google configuration.
pub fn clean_env(c: &mut Command) {
    for (k, _) in std::env::vars() {
        if k.starts_with("GCP_") || k.starts_with("GOOGLE_") || k.starts_with("CLOUDSDK_") || k.ends_with("_PROXY") {
            c.env_remove(&k);
        }
    }
    for k in ["https_proxy", "http_proxy", "no_proxy", "all_proxy"] {
        c.env_remove(k);
    }
    c.env("NO_COLOR", "1");
}

/// Runs `playbook` (which dumps its registered results as JSON to `{{ out }}`) with `tool`
/// on a fresh fake; the results.
fn playbook_results(tool: &Path, oracle: bool, playbook: &str, recap: &[&str]) -> Json {
    let (_, fake) = prov_gcp_fake::start().expect("the fake starts");
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("site.yml"), playbook).expect("playbook");
    let out = dir.path().join("results.json");
    let dest = format!("out={}", out.display());
    let mut c = Command::new(tool);
    clean_env(&mut c);
    if !oracle {
        c.arg("apply");
    }
    c.args(["site.yml", "-i", "localhost,", "-e", &dest]).current_dir(dir.path());
    let _proxy;
    if oracle {
        let python = tool.with_file_name("python");
        let proxy = Proxy::start(&python, fake.addr().port(), dir.path());
        c.args(["-e", &format!("ansible_python_interpreter={}", python.display())])
            .env("HTTPS_PROXY", format!("http://127.0.0.1:{}", proxy.port))
            .env("REQUESTS_CA_BUNDLE", &proxy.ca);
        _proxy = proxy;
    } else {
        c.env("PROV_GCP_ENDPOINT", fake.endpoint()).env("PROV_STATE_DIR", dir.path().join("state"));
    }
    let o = c.output().expect("the tool runs");
    let (stdout, stderr) = (String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    assert_eq!(o.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(recap.iter().all(|r| stdout.contains(r)), "recap {recap:?} expected:\n{stdout}");
    serde_json::from_str(&std::fs::read_to_string(&out).expect("results dumped")).expect("JSON")
}

/// Numbers what the fake makes up (ids, timestamps, an instance's fingerprint) in the order
/// met, keys sorted.
pub struct Normalizer {
    seen: HashMap<String, String>,
    re: regex::Regex,
}

impl Normalizer {
    pub fn new() -> Normalizer {
        let re = regex::Regex::new(r"^\d{4}-\d\d-\d\dT[0-9:.]+[-+]\d\d:\d\d$|^\d{12,20}$").expect("regex");
        Normalizer { seen: HashMap::new(), re }
    }

    pub fn value(&mut self, v: &Json) -> Json {
        match v {
            Json::String(s) if self.re.is_match(s) => {
                if s.contains('T') {
                    return Json::String("<time>".into());
                }
                let n = self.seen.len() + 1;
                Json::String(self.seen.entry(s.clone()).or_insert_with(|| format!("<id{n}>")).clone())
            }
            Json::Array(a) => Json::Array(a.iter().map(|x| self.value(x)).collect()),
            Json::Object(m) => {
                let mut keys: Vec<&String> = m.keys().collect();
                keys.sort();
                let mut out = Map::new();
                for k in keys {
                    // An instance's fingerprint comes from its id.
                    let x = if k.ends_with("fingerprint") && m.keys().any(|k| k.ends_with("selfLink")) {
                        Json::String("<fingerprint>".into())
                    } else {
                        self.value(&m[k])
                    };
                    out.insert(k.clone(), x);
                }
                Json::Object(out)
            }
            other => other.clone(),
        }
    }
}

fn normalize_results(all: &Json) -> Json {
    let mut out = Map::new();
    for (task, r) in all.as_object().expect("results by task") {
        out.insert(task.clone(), Normalizer::new().value(&crate::util::strip_registered(r)));
    }
    Json::Object(out)
}

/// A differential test of a google.cloud playbook: prov's registered results, normalized,
/// against those recorded from ansible-playbook in `recorded` (under the crate); `recap`:
/// what both recaps show. Returns prov's normalized results.
pub fn differential(recorded: &str, playbook: &str, recap: &[&str]) -> Json {
    let got = normalize_results(&playbook_results(Path::new(env!("CARGO_BIN_EXE_prov")), false, playbook, recap));
    let oracle = std::env::var_os("PROV_ORACLE_ANSIBLE_PLAYBOOK")
        .map(|bin| normalize_results(&playbook_results(Path::new(&bin), true, playbook, recap)));
    crate::util::compare_with_recorded(recorded, &got, oracle);
    got
}

/// Runs `site` (a playbook on `localhost,`) with prov, expecting it refused before connecting
/// (exit 4); prov's stderr.
pub fn refused_before_connecting(site: &str) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("site.yml"), site).expect("playbook");
    let mut c = Command::new(env!("CARGO_BIN_EXE_prov"));
    clean_env(&mut c);
    c.args(["apply", "site.yml", "-i", "localhost,"])
        .current_dir(dir.path())
        .env("PROV_GCP_ENDPOINT", "http://127.0.0.1:9")
        .env("PROV_STATE_DIR", dir.path().join("state"));
    let o = c.output().expect("prov runs");
    let (stdout, stderr) = (String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    assert_eq!(o.status.code(), Some(4), "{stdout}\n{stderr}");
    stderr.into_owned()
}
