//! `get_url` against a local HTTP server (Python's http.server on loopback, which answers
//! conditional requests with 304). The expected results are what ansible-core 2.19.14's
//! get_url registered for the same tasks and files.

use crate::language::apply;
use serde_json::Value as Json;
use std::process::{Child, Command, Stdio};

/// `python3 -m http.server` serving `dir` on a free loopback port; stopped when dropped.
pub(crate) struct Server(Child, pub(crate) u16);

impl Server {
    pub(crate) fn start(dir: &std::path::Path) -> Server {
        let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("port").port();
        let child = Command::new("python3")
            .args(["-m", "http.server", &port.to_string(), "--bind", "127.0.0.1"])
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 -m http.server (python3 is installed by scripts/install-prereqs)");
        let server = Server(child, port);
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return server;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        drop(server);
        panic!("http.server did not listen on {port}");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The registered results of the play's tasks (`debug` of them all, as JSON), without the
/// temporary path `src`.
fn results(files: &[(&str, &str)], args: &[&str]) -> (tempfile::TempDir, Vec<Json>, String) {
    let (d, r) = apply(files, args);
    assert_eq!(r.code, 0, "{}", r.dump());
    let shown = r.of("debug").last().and_then(|x| x["msg"].as_str()).expect("debug").to_string();
    let list: Vec<Json> = serde_json::from_str(&shown).expect("JSON");
    let clean = list
        .into_iter()
        .map(|mut v| {
            v.as_object_mut().expect("a result").remove("src");
            v
        })
        .collect();
    (d, clean, r.dump())
}

#[test]
fn get_url_downloads_once_and_then_asks_if_modified_as_ansible_core() {
    let site = tempfile::tempdir().expect("tempdir");
    std::fs::write(site.path().join("f.txt"), "hello prov\n").expect("file");
    let server = Server::start(site.path());
    let url = format!("http://127.0.0.1:{}/f.txt", server.1);
    let sum = "e2b9e1263a73bab1179ae63a98b14b595629920b62706484b3d1582c03b5cbba";
    let tasks = [
        format!("get_url: url={url} dest={{{{ root }}}}/out/f.txt mode=0640\n    register: r1"),
        format!("get_url: url={url} dest={{{{ root }}}}/out/f.txt mode=0640\n    register: r2"),
        format!("get_url: url={url} dest={{{{ root }}}}/out/f.txt force=true\n    register: r3"),
        format!("get_url: url={url} dest={{{{ root }}}}/out/f.txt checksum=sha256:{sum}\n    register: r4"),
        format!("get_url: url={url} dest={{{{ root }}}}/out/g.txt checksum=sha256:0000\n    register: r5\n    ignore_errors: true"),
        format!("get_url: url={url} dest={{{{ root }}}}/out/\n    register: r6"),
        format!("get_url: url={url}.nope dest={{{{ root }}}}/out/n.txt\n    register: r7\n    ignore_errors: true"),
        "debug: msg=\"{{ [r1, r2, r3, r4, r5, r6, r7] | to_json }}\"".to_string(),
    ];
    let play =
        format!("- hosts: a\n  gather_facts: false\n  tasks:\n{}\n", tasks.map(|t| format!("  - {t}")).join("\n"));
    let (d, r, dump) = results(&[("site.yml", &play), ("out/.keep", "")], &[]);
    let root = d.path().display().to_string();
    let field = |i: usize, k: &str| r[i][k].clone();
    // 1: downloaded, with the mode asked for.
    assert_eq!(field(0, "changed"), true, "{dump}");
    assert_eq!(field(0, "msg"), "OK (11 bytes)");
    assert_eq!(field(0, "status_code"), 200);
    assert_eq!(field(0, "checksum_src"), "b77ac68df6e9a911f29f97b26513212057bb80d9");
    assert_eq!(field(0, "checksum_dest"), Json::Null);
    assert_eq!(field(0, "md5sum"), "aa5d22d56ea401291e9e1a92efac2c2a");
    assert_eq!((field(0, "mode"), field(0, "size"), field(0, "state")), ("0640".into(), 11.into(), "file".into()));
    // 2: the server says 304 to the conditional request.
    assert_eq!((field(1, "changed"), field(1, "status_code")), (false.into(), 304.into()), "{dump}");
    assert_eq!(field(1, "msg"), "HTTP Error 304: Not Modified");
    assert!(r[1].get("checksum_src").is_none() && r[1].get("md5sum").is_none(), "{}", r[1]);
    // 3: force downloads, the same content changes nothing.
    assert_eq!((field(2, "changed"), field(2, "checksum_dest")), (false.into(), field(2, "checksum_src")), "{dump}");
    // 4: the checksum matches the file: nothing is downloaded.
    assert_eq!(field(3, "msg"), "file already exists", "{dump}");
    assert_eq!((field(3, "checksum_src"), field(3, "checksum_dest")), (Json::Null, Json::Null));
    // 5: a download that does not match its checksum fails and writes nothing.
    assert_eq!(field(4, "failed"), true, "{dump}");
    let msg = field(4, "msg").as_str().unwrap_or_default().to_string();
    assert!(msg.ends_with(&format!(" did not match 0000; it was {sum}.")), "{msg}");
    assert!(!d.path().join("out/g.txt").exists());
    // 6: a directory takes the URL's file name.
    assert_eq!((field(5, "dest"), field(5, "changed")), (format!("{root}/out/f.txt").into(), false.into()), "{dump}");
    // 7: not found.
    assert_eq!((field(6, "msg"), field(6, "status_code")), ("Request failed".into(), 404.into()), "{dump}");
    assert_eq!(field(6, "response"), "HTTP Error 404: File not found");
    assert_eq!(std::fs::read_to_string(d.path().join("out/f.txt")).expect("file"), "hello prov\n");
    let leftover = std::fs::read_dir(d.path().join("out"))
        .expect("dir")
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(".prov"))
        .count();
    assert_eq!(leftover, 0, "no temporary file is left beside the destination");
}

#[test]
fn get_url_in_check_mode_asks_with_head_and_writes_nothing() {
    let site = tempfile::tempdir().expect("tempdir");
    std::fs::write(site.path().join("f.txt"), "hello prov\n").expect("file");
    let server = Server::start(site.path());
    let url = format!("http://127.0.0.1:{}/f.txt", server.1);
    let play = format!(
        "- hosts: a\n  gather_facts: false\n  tasks:\n  - get_url: url={url} dest={{{{ root }}}}/new.txt\n    register: c1\n  - debug: msg=\"{{{{ [c1] | to_json }}}}\"\n"
    );
    let (d, r, dump) = results(&[("site.yml", &play)], &["--check"]);
    assert_eq!(r[0]["changed"], true, "{dump}");
    assert_eq!(
        r[0]["checksum_src"], "da39a3ee5e6b4b0d3255bfef95601890afd80709",
        "ansible-core's sha1 of the HEAD's empty body"
    );
    assert_eq!(r[0]["msg"], "OK (11 bytes)");
    assert!(!d.path().join("new.txt").exists());
}

/// A `file://` URL downloads the file as ansible-core 2.19.14 did (prov failed with "Request
/// failed": curl's status for a file is 000): urllib's answer has no status, so `status_code`
/// is null; the second run finds the file there.
#[test]
fn get_url_of_a_file_url_registers_a_null_status_as_ansible_core() {
    let play = "- hosts: a\n  gather_facts: false\n  tasks:\n  - copy: {content: \"hello\\n\", dest: \"{{ root }}/src.txt\"}\n  - get_url: {url: \"file://{{ root }}/src.txt\", dest: \"{{ root }}/got.txt\"}\n    register: g1\n  - get_url: {url: \"file://{{ root }}/src.txt\", dest: \"{{ root }}/got.txt\"}\n    register: g2\n  - debug: msg=\"{{ [g1, g2] | to_json }}\"\n";
    let (d, r, dump) = results(&[("site.yml", play)], &[]);
    let keys = |v: &Json| {
        let mut k: Vec<String> = v.as_object().expect("result").keys().cloned().collect();
        k.sort();
        k.join(" ")
    };
    assert_eq!(
        keys(&r[0]),
        "changed checksum_dest checksum_src dest elapsed failed gid group md5sum mode msg owner size state status_code uid url",
        "{dump}"
    );
    assert_eq!((r[0]["changed"].clone(), r[0]["status_code"].clone()), (Json::from(true), Json::Null));
    assert_eq!(r[0]["msg"], "OK (6 bytes)");
    assert_eq!(r[0]["checksum_src"], "f572d396fae9206628714fb2ce00f72e94f2258f");
    assert_eq!(r[1]["changed"], false, "{dump}");
    assert_eq!(std::fs::read_to_string(d.path().join("got.txt")).expect("downloaded"), "hello\n");
}

/// `lookup('url')` on the controller, as ansible-core 2.19.14 answered for the same files: lines
/// by default (joined with commas by `lookup`, a list with `wantlist` or `query`), the whole
/// text with `split_lines=False`, and an HTTP error fails with its words. prov refused the
/// lookup ("unknown lookup plugin `url`"), which stopped grafana.grafana's opentelemetry_collector.
#[test]
fn url_lookup_reads_lines_or_text_from_the_controller_as_ansible_core() {
    let site = tempfile::tempdir().expect("tempdir");
    std::fs::write(site.path().join("data.txt"), "line1\nline2\r\nline3").expect("file");
    std::fs::write(site.path().join("rel.json"), "{\"tag_name\": \"v1.2.3\"}\n").expect("file");
    let server = Server::start(site.path());
    let base = format!("http://127.0.0.1:{}", server.1);
    let play = format!(
        r#"- hosts: a
  gather_facts: false
  tasks:
    - debug: msg="{{{{ lookup('url', '{base}/data.txt') }}}}"
    - debug: msg="{{{{ lookup('url', '{base}/data.txt', wantlist=True) | to_json }}}}"
    - debug: msg="{{{{ lookup('url', '{base}/data.txt', split_lines=False) | to_json }}}}"
    - debug: msg="{{{{ (lookup('url', '{base}/rel.json', split_lines=False) | from_json).get('tag_name') | replace('v', '') }}}}"
    - debug: msg="{{{{ query('url', '{base}/data.txt', '{base}/rel.json') | to_json }}}}"
    - debug: msg="{{{{ lookup('url', '{base}/nope.txt') }}}}"
      ignore_errors: true
"#
    );
    let (_d, r) = apply(&[("site.yml", &play)], &[]);
    let msgs: Vec<String> = r.of("debug").iter().map(|x| x["msg"].as_str().unwrap_or_default().to_string()).collect();
    assert_eq!(
        msgs[..5],
        [
            "line1,line2,line3",
            r#"["line1", "line2", "line3"]"#,
            r#""line1\nline2\r\nline3""#,
            "1.2.3",
            r#"["line1", "line2", "line3", "{\"tag_name\": \"v1.2.3\"}"]"#,
        ],
        "{}",
        r.dump()
    );
    assert!(
        msgs[5].ends_with(&format!("Received HTTP error for {base}/nope.txt: HTTP Error 404: File not found")),
        "{}",
        r.dump()
    );
}

/// Every process's command line, from /proc.
fn command_lines() -> Vec<String> {
    std::fs::read_dir("/proc")
        .map(|d| {
            d.flatten()
                .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
                .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
                .collect()
        })
        .unwrap_or_default()
}

/// A request header (an API token) reaches the server and never a command line: curl gets it
/// from a private config file, as the credentials (ansible-core sends it from Python, on no
/// command line). The server records every process's command line while the request is open.
#[test]
fn get_url_headers_reach_the_server_and_never_a_command_line() {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let server = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().expect("a request");
        let seen = command_lines();
        let mut req = Vec::new();
        let mut buf = [0u8; 4096];
        while !String::from_utf8_lossy(&req).contains("\r\n\r\n") {
            match s.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => req.extend_from_slice(&buf[..n]),
            }
        }
        let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc");
        (String::from_utf8_lossy(&req).into_owned(), seen)
    });
    let play = format!(
        "- hosts: a\n  gather_facts: false\n  tasks:\n  - get_url:\n      url: http://127.0.0.1:{port}/f\n      dest: \"{{{{ root }}}}/f\"\n      headers: {{Authorization: \"Bearer s3cr3t-t0ken\", X-Count: 3}}\n"
    );
    let (d, r) = apply(&[("site.yml", &play)], &[]);
    assert_eq!((r.code, r.recap("a", "changed")), (0, 1), "{}", r.dump());
    assert_eq!(std::fs::read_to_string(d.path().join("f")).expect("downloaded"), "abc");
    let (req, seen) = server.join().expect("server");
    assert!(req.contains("Authorization: Bearer s3cr3t-t0ken\r\n") && req.contains("X-Count: 3\r\n"), "{req}");
    assert!(seen.iter().any(|c| c.starts_with("curl")), "curl was not seen running: {seen:?}");
    assert!(seen.iter().all(|c| !c.contains("s3cr3t")), "{seen:?}");
}
