//! moto's EC2 server for the aws tests, one per test on a free loopback port, and a proxy in
//! front of it that answers chosen requests with AWS's own error responses.
//!
//! `.ci/run` installs moto into a venv (`scripts/moto-venv`); the tests find `moto_server`
//! through `PROV_MOTO_SERVER`, else in `~/.cache/prov/moto-venv/bin`. The same venv has
//! boto3 (a moto dependency), which the tests use as an independent client to check what
//! prov made and to set up faults.

use serde_json::{Map, Value as Json};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Test credentials and region only: nothing from this machine's AWS configuration, no
/// instance metadata service.
pub fn test_credentials(c: &mut Command) {
    for v in ["AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_EC2", "AWS_SESSION_TOKEN", "AWS_DEFAULT_REGION"] {
        c.env_remove(v);
    }
    c.env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_CONFIG_FILE", "/nonexistent/aws-config")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/aws-credentials")
        .env("AWS_EC2_METADATA_DISABLED", "true");
}

/// A running `moto_server`, stopped by pid when dropped.
pub struct Moto {
    child: Child,
    pub port: u16,
    bin: PathBuf,
}

fn moto_server() -> PathBuf {
    if let Some(p) = std::env::var_os("PROV_MOTO_SERVER") {
        return PathBuf::from(p);
    }
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/root"));
    home.join(".cache/prov/moto-venv/bin/moto_server")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

impl Moto {
    pub fn start() -> Moto {
        let server = moto_server();
        assert!(
            server.exists(),
            "{} is missing: run `scripts/moto-venv` (what .ci/run does) or set PROV_MOTO_SERVER",
            server.display()
        );
        let port = free_port();
        let child = Command::new(&server)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto_server starts");
        let moto = Moto { child, port, bin: server.parent().expect("bin dir").to_path_buf() };
        // Bounded wait for the port (moto imports its services first).
        for _ in 0..600 {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return moto;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("moto_server did not listen on 127.0.0.1:{port}");
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Runs a Python snippet with `ec2` (a boto3 client on this moto, us-east-1) and `json`
    /// defined; returns its stdout.
    pub fn boto(&self, script: &str) -> String {
        let prelude = format!(
            "import boto3, json\nec2 = boto3.client('ec2', region_name='us-east-1', endpoint_url='{}', \
             aws_access_key_id='testing', aws_secret_access_key='testing')\n",
            self.endpoint()
        );
        let out = Command::new(self.bin.join("python"))
            .arg("-c")
            .arg(format!("{prelude}{script}"))
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .output()
            .expect("python runs");
        assert!(out.status.success(), "boto3 script failed: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The project's instances that are not terminated: (prov-name, state, public ip).
    pub fn instances(&self, project: &str) -> Vec<(String, String, String)> {
        let out = self.boto(&format!(
            "r = ec2.describe_instances(Filters=[{{'Name': 'tag:prov-project', 'Values': ['{project}']}}])\n\
             for res in r['Reservations']:\n  for i in res['Instances']:\n    \
               t = {{x['Key']: x['Value'] for x in i.get('Tags', [])}}\n    \
               if i['State']['Name'] != 'terminated':\n      \
                 print(t.get('prov-name'), t.get('Name'), i['State']['Name'], i.get('PublicIpAddress') or '-')\n"
        ));
        let mut v: Vec<(String, String, String)> = out
            .lines()
            .map(|l| {
                let w: Vec<&str> = l.split_whitespace().collect();
                assert_eq!(w[0], w[1], "the Name tag is the VM name: {l}");
                (w[0].to_string(), w[2].to_string(), w[3].to_string())
            })
            .collect();
        v.sort();
        v
    }

    /// The project's Elastic IPs: (prov-name tag, public ip, associated instance or `-`).
    pub fn addresses(&self, project: &str) -> Vec<(String, String, String)> {
        let out = self.boto(&format!(
            "r = ec2.describe_addresses(Filters=[{{'Name': 'tag:prov-project', 'Values': ['{project}']}}])\n\
             for a in r['Addresses']:\n  t = {{x['Key']: x['Value'] for x in a.get('Tags', [])}}\n  \
               print(t.get('prov-name'), a['PublicIp'], a.get('InstanceId') or '-')\n"
        ));
        let mut v: Vec<(String, String, String)> = out
            .lines()
            .map(|l| {
                let w: Vec<&str> = l.split_whitespace().collect();
                (w[0].to_string(), w[1].to_string(), w[2].to_string())
            })
            .collect();
        v.sort();
        v
    }

    /// Security groups tagged with the project.
    /// The project's disk volumes (tag `prov-disk`) that are not deleted: (name, size,
    /// state, `prov-name` of each instance it is attached to, as `name:device`).
    pub fn disks(&self, project: &str) -> Vec<(String, i64, String, Vec<String>)> {
        let out = self.boto(&format!(
            "r = ec2.describe_volumes(Filters=[{{'Name': 'tag:prov-project', 'Values': ['{project}']}}, \
             {{'Name': 'tag-key', 'Values': ['prov-disk']}}])\n\
             names = {{}}\n\
             for res in ec2.describe_instances()['Reservations']:\n  for i in res['Instances']:\n    \
               names[i['InstanceId']] = {{x['Key']: x['Value'] for x in i.get('Tags', [])}}.get('prov-name')\n\
             for v in r['Volumes']:\n  t = {{x['Key']: x['Value'] for x in v.get('Tags', [])}}\n  \
               a = ','.join('%s:%s' % (names.get(x['InstanceId']), x['Device']) for x in v.get('Attachments', []))\n  \
               print(t.get('prov-disk'), v['Size'], v['State'], a or '-')\n"
        ));
        out.lines()
            .map(|l| {
                let w: Vec<&str> = l.split_whitespace().collect();
                let att = if w[3] == "-" { Vec::new() } else { w[3].split(',').map(str::to_string).collect() };
                (w[0].to_string(), w[1].parse().expect("size"), w[2].to_string(), att)
            })
            .collect()
    }

    pub fn security_groups(&self, project: &str) -> usize {
        self.boto(&format!(
            "r = ec2.describe_security_groups(Filters=[{{'Name': 'tag:prov-project', 'Values': ['{project}']}}])\n\
             print(len(r['SecurityGroups']))\n"
        ))
        .trim()
        .parse()
        .expect("a count")
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What the proxy does instead of forwarding.
#[derive(Default)]
pub struct Faults {
    /// RunInstances for the VM of this name (its `prov-name` tag) gets this (code, message).
    pub run_instances: Option<(String, String, String)>,
    /// The next this many requests of this action get `RequestLimitExceeded`.
    pub throttle: Option<(String, usize)>,
}

/// An HTTP proxy to moto that answers chosen EC2 requests with an error in EC2's wire
/// format (the XML body and status AWS sends), so the SDK parses it as it would AWS's.
pub struct FaultProxy {
    pub port: u16,
    pub faults: Arc<Mutex<Faults>>,
    /// Errors answered so far.
    pub injected: Arc<AtomicUsize>,
}

impl FaultProxy {
    pub fn start(upstream: u16) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let faults: Arc<Mutex<Faults>> = Default::default();
        let injected: Arc<AtomicUsize> = Default::default();
        let (f, n) = (faults.clone(), injected.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (f, n) = (f.clone(), n.clone());
                std::thread::spawn(move || {
                    let _ = serve(stream, upstream, &f, &n);
                });
            }
        });
        FaultProxy { port, faults, injected }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

/// One request per connection (answered with `Connection: close`).
fn serve(client: TcpStream, upstream: u16, faults: &Mutex<Faults>, injected: &AtomicUsize) -> std::io::Result<()> {
    let mut reader = BufReader::new(client.try_clone()?);
    let (head, body) = read_message(&mut reader)?;
    let form = String::from_utf8_lossy(&body).into_owned();
    let pairs: Vec<(String, String)> = form
        .split('&')
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| (k.to_string(), v.replace("%2D", "-").replace("%2d", "-")))
        .collect();
    let action = pairs.iter().find(|(k, _)| k == "Action").map(|(_, v)| v.clone()).unwrap_or_default();
    let fault = {
        let mut f = faults.lock().expect("faults");
        let mut fault = None;
        if let Some((name, code, message)) = &f.run_instances {
            if action == "RunInstances" && pairs.iter().any(|(k, v)| k.ends_with(".Value") && v == name) {
                fault = Some((400, code.clone(), message.clone()));
            }
        }
        if let Some((a, left)) = f.throttle.as_mut() {
            if *a == action && *left > 0 {
                *left -= 1;
                fault = Some((503, "RequestLimitExceeded".to_string(), "Request limit exceeded.".to_string()));
            }
        }
        fault
    };
    let mut client = client;
    if let Some((status, code, message)) = fault {
        injected.fetch_add(1, Ordering::SeqCst);
        let xml = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>{code}</Code>\
             <Message>{message}</Message></Error></Errors><RequestID>00000000-0000-4000-8000-000000000000</RequestID></Response>"
        );
        let reason = if status == 400 { "Bad Request" } else { "Service Unavailable" };
        write!(
            client,
            "HTTP/1.1 {status} {reason}\r\nContent-Type: text/xml;charset=UTF-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{xml}",
            xml.len()
        )?;
        return client.flush();
    }
    let mut up = TcpStream::connect(("127.0.0.1", upstream))?;
    up.write_all(&head)?;
    up.write_all(&body)?;
    up.flush()?;
    let mut up_reader = BufReader::new(up);
    let (rhead, rbody) = read_message(&mut up_reader)?;
    let text = String::from_utf8_lossy(&rhead);
    let mut out = String::new();
    for line in text.split("\r\n").filter(|l| !l.is_empty()) {
        if !line.to_ascii_lowercase().starts_with("connection:") {
            out.push_str(line);
            out.push_str("\r\n");
        }
    }
    out.push_str("Connection: close\r\n\r\n");
    client.write_all(out.as_bytes())?;
    client.write_all(&rbody)?;
    client.flush()
}

/// Reads a request or response: (head including the blank line, body by Content-Length,
/// else to the end of the stream for a response).
fn read_message(r: &mut BufReader<TcpStream>) -> std::io::Result<(Vec<u8>, Vec<u8>)> {
    let mut head = Vec::new();
    let mut length = None;
    loop {
        let mut line = String::new();
        if r.read_line(&mut line)? == 0 {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            if k.eq_ignore_ascii_case("content-length") {
                length = v.trim().parse::<usize>().ok();
            }
        }
        head.extend_from_slice(line.as_bytes());
        if line == "\r\n" || line == "\n" {
            break;
        }
    }
    let mut body = Vec::new();
    match length {
        Some(n) => {
            body.resize(n, 0);
            r.read_exact(&mut body)?;
        }
        None if head.starts_with(b"HTTP/") => {
            r.read_to_end(&mut body)?;
        }
        None => {}
    }
    Ok((head, body))
}

/// Numbers what moto makes up (ids, addresses, MACs, uuids, client tokens) in the order met,
/// keys sorted; times become `<time>`.
pub struct Normalizer {
    seen: HashMap<String, String>,
    counts: HashMap<String, usize>,
    re: regex::Regex,
}

impl Normalizer {
    pub fn new() -> Normalizer {
        let re = regex::Regex::new(concat!(
            r"(?P<time>\d{4}-\d\d-\d\dT[0-9:.]+\+00:00|\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC)",
            r"|(?P<uuid>[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})",
            r"|(?P<id>\b(?:i|vol|eni-attach|eni|sg|subnet|vpc|r|eipalloc|eipassoc)-[0-9a-f]{8,17}\b)",
            r"|(?P<mac>\b(?:[0-9a-f]{2}:){5}[0-9a-f]{2}\b)",
            r"|(?P<ip>\b\d{1,3}[.-]\d{1,3}[.-]\d{1,3}[.-]\d{1,3}\b)",
            r"|(?P<token>\b[0-9a-f]{32}\b)",
        ))
        .expect("regex");
        Normalizer { seen: HashMap::new(), counts: HashMap::new(), re }
    }

    pub fn text(&mut self, s: &str) -> String {
        let re = self.re.clone();
        re.replace_all(s, |c: &regex::Captures<'_>| {
            if c.name("time").is_some() {
                return "<time>".to_string();
            }
            // (kind, what identifies the value, how it is written back)
            let (kind, key, shape): (String, String, &str) = if let Some(m) = c.name("ip") {
                let dashed = m.as_str().contains('-');
                ("ip".into(), m.as_str().replace('-', "."), if dashed { "dashed" } else { "" })
            } else if let Some(m) = c.name("id") {
                let prefix = m.as_str().rsplit_once('-').map_or("id", |(p, _)| p);
                (prefix.to_string(), m.as_str().to_string(), "id")
            } else if let Some(m) = c.name("mac") {
                ("mac".into(), m.as_str().to_string(), "")
            } else if c.name("token").is_some() {
                ("token".into(), c[0].to_string(), "")
            } else {
                ("uuid".into(), c[0].to_string(), "")
            };
            let n = match self.seen.get(&key) {
                Some(n) => n.clone(),
                None => {
                    let count = self.counts.entry(kind.clone()).or_insert(0);
                    *count += 1;
                    let n = count.to_string();
                    self.seen.insert(key, n.clone());
                    n
                }
            };
            match shape {
                "dashed" => format!("<ip{n}-dashed>"),
                "id" => format!("{kind}-<{n}>"),
                _ => format!("<{kind}{n}>"),
            }
        })
        .into_owned()
    }

    pub fn value(&mut self, v: &Json) -> Json {
        match v {
            Json::String(s) => Json::String(self.text(s)),
            Json::Array(a) => Json::Array(a.iter().map(|x| self.value(x)).collect()),
            Json::Object(m) => {
                let mut keys: Vec<&String> = m.keys().collect();
                keys.sort();
                let mut out = Map::new();
                for k in keys {
                    let x = self.value(&m[k]);
                    out.insert(k.clone(), x);
                }
                Json::Object(out)
            }
            other => other.clone(),
        }
    }
}

/// The environment of a run in `dir` against moto (test credentials, no region: the
/// playbooks give it; prov's state, run lock included, in `dir`).
pub fn amazon_env(c: &mut Command, dir: &Path) {
    test_credentials(c);
    c.env_remove("AWS_REGION").env("NO_COLOR", "1").env("PROV_STATE_DIR", dir.join("state"));
}

/// Runs `playbook` (which dumps its registered results as JSON to `{{ out }}`, talking to
/// `{{ endpoint }}`) with `tool` (prov, or ansible-playbook) on a fresh moto; the results.
fn playbook_results(tool: &Path, oracle: bool, playbook: &str, recap: &[&str], extra: &[&str]) -> Json {
    let moto = Moto::start();
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("site.yml"), playbook).expect("playbook");
    let out = dir.path().join("results.json");
    let endpoint = format!("endpoint={}", moto.endpoint());
    let dest = format!("out={}", out.display());
    let mut c = Command::new(tool);
    if !oracle {
        c.arg("apply");
    }
    c.args(["site.yml", "-i", "localhost,", "-e", &endpoint, "-e", &dest]).args(extra).current_dir(dir.path());
    if oracle {
        let python = tool.with_file_name("python");
        c.args(["-e", &format!("ansible_python_interpreter={}", python.display())]);
    }
    amazon_env(&mut c, dir.path());
    let o = c.output().expect("the tool runs");
    let (stdout, stderr) = (String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    assert_eq!(o.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(recap.iter().all(|r| stdout.contains(r)), "recap {recap:?} expected:\n{stdout}");
    serde_json::from_str(&std::fs::read_to_string(&out).expect("results dumped")).expect("JSON")
}

/// Sorted-keys JSON with the ids moto makes up masked: a sort key independent of them (the
/// addresses are the playbook's).
fn masked(v: &Json) -> String {
    static IDS: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let ids = IDS.get_or_init(|| {
        regex::Regex::new(
            r"\b(?:i|vol|eni-attach|eni|sg|subnet|vpc|r|eipalloc|eipassoc)-[0-9a-f]{8,17}\b|\b[0-9a-f]{32}\b",
        )
        .expect("regex")
    });
    fn canonical(v: &Json) -> String {
        match v {
            Json::Object(m) => {
                let mut keys: Vec<&String> = m.keys().collect();
                keys.sort();
                let items: Vec<String> = keys.iter().map(|k| format!("{k:?}:{}", canonical(&m[*k]))).collect();
                format!("{{{}}}", items.join(","))
            }
            Json::Array(a) => format!("[{}]", a.iter().map(canonical).collect::<Vec<_>>().join(",")),
            other => other.to_string(),
        }
    }
    ids.replace_all(&canonical(v), "<x>").into_owned()
}

/// Lists whose order comes from moto's storage (security group rules and their targets, an
/// instance's groups) sorted, whatever moto made up aside.
fn sort_unordered(v: &Json, unordered: bool) -> Json {
    match v {
        Json::Object(m) => Json::Object(
            m.iter()
                .map(|(k, x)| {
                    // An instance's groups: moto keeps them in the order its request parser
                    // read them (boto3's and the Rust SDK's requests differ); EC2 promises none.
                    let u = unordered || k.starts_with("ip_permissions") || k == "groups" || k == "security_groups";
                    (k.clone(), sort_unordered(x, u))
                })
                .collect(),
        ),
        Json::Array(a) => {
            let mut items: Vec<Json> = a.iter().map(|x| sort_unordered(x, unordered)).collect();
            if unordered {
                items.sort_by_key(masked);
            }
            Json::Array(items)
        }
        other => other.clone(),
    }
}

/// Each task's result normalized on its own ([`Normalizer`], unordered lists sorted first;
/// the `*_success`/`*_failed` ids, in a Python set's order, sorted once numbered).
fn normalize_results(all: &Json) -> Json {
    let mut out = Map::new();
    for (task, r) in all.as_object().expect("results by task") {
        let sorted = sort_unordered(&crate::util::strip_registered(r), false);
        let mut v = Normalizer::new().value(&sorted);
        for (k, x) in v.as_object_mut().into_iter().flatten() {
            if k.ends_with("_success") || k.ends_with("_failed") {
                if let Some(items) = x.as_array_mut() {
                    items.sort_by_key(|i| i.to_string());
                }
            }
        }
        out.insert(task.clone(), v);
    }
    Json::Object(out)
}

/// A differential test of amazon.aws modules: `playbook` run by prov on a fresh moto, its
/// registered results normalized and compared, task by task, with those ansible-playbook
/// registered (ansible-core 2.19.14, amazon.aws of `ansible` 12.3.0, boto3), recorded in
/// `recorded` (under the crate). `recap`: what both recaps show. To record again, set
/// `PROV_ORACLE_ANSIBLE_PLAYBOOK=/path/to/venv/bin/ansible-playbook` (a venv with
/// ansible-core and boto3) and `ANSIBLE_COLLECTIONS_PATH`. Returns prov's normalized results.
pub fn differential(recorded: &str, playbook: &str, recap: &[&str], extra: &[&str]) -> Json {
    let got =
        normalize_results(&playbook_results(Path::new(env!("CARGO_BIN_EXE_prov")), false, playbook, recap, extra));
    let oracle = std::env::var_os("PROV_ORACLE_ANSIBLE_PLAYBOOK")
        .map(|bin| normalize_results(&playbook_results(Path::new(&bin), true, playbook, recap, extra)));
    crate::util::compare_with_recorded(recorded, &got, oracle);
    got
}

/// Runs `site` (a playbook on `localhost,`) with prov, expecting it refused before connecting
/// (exit 4, no EC2 endpoint reachable); prov's stderr.
pub fn refused_before_connecting(site: &str) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("site.yml"), site).expect("playbook");
    let mut c = Command::new(env!("CARGO_BIN_EXE_prov"));
    c.args(["apply", "site.yml", "-i", "localhost,"]).current_dir(dir.path());
    amazon_env(&mut c, dir.path());
    c.env("AWS_ENDPOINT_URL", "http://127.0.0.1:9");
    let o = c.output().expect("prov runs");
    let (stdout, stderr) = (String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    assert_eq!(o.status.code(), Some(4), "{stdout}\n{stderr}");
    stderr.into_owned()
}
