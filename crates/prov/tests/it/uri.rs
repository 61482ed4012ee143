//! `uri`'s registered results against a fixed HTTP server on loopback: ansible-core 2.19.14
//! registered these same results (the literals below, without `elapsed`) for the same tasks
//! against a server sending the same bytes.

use crate::language::apply;
use serde_json::{json, Value as Json};
use std::io::{Read, Write};

/// The server's answer to each path (anything else: the 404).
const ANSWERS: &[(&str, &str)] = &[
    ("/src.txt", "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 6\r\nSet-Cookie: sid=abc; Path=/\r\nX-Tag: a\r\nX-Tag: b\r\nConnection: close\r\n\r\nhello\n"),
    ("/nosuch", "HTTP/1.1 404 Not Found\r\nContent-Type: text/html\r\nContent-Length: 9\r\nConnection: close\r\n\r\nnot found"),
    ("/home", "HTTP/1.1 301 Moved Permanently\r\nLocation: /home/\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"),
    ("/home/", "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhome\n"),
    ("/data.json", "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 8\r\nConnection: close\r\n\r\n{\"a\": 1}"),
];

/// Serves [`ANSWERS`] on a loopback port until the test process ends; returns the port.
fn serve() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for c in l.incoming().flatten() {
            let mut c = c;
            let mut req = Vec::new();
            let mut buf = [0u8; 4096];
            while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                match c.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => req.extend_from_slice(&buf[..n]),
                }
            }
            let text = String::from_utf8_lossy(&req);
            let path = text.split(' ').nth(1).unwrap_or("/");
            let answer = ANSWERS.iter().find(|a| a.0 == path).unwrap_or(&ANSWERS[1]).1;
            let _ = c.write_all(answer.as_bytes());
        }
    });
    port
}

#[test]
fn uri_registers_headers_cookies_and_errors_as_ansible_core() {
    let port = serve();
    let u = format!("http://127.0.0.1:{port}");
    let site = format!(
        r#"- hosts: a
  gather_facts: false
  tasks:
    - uri: {{url: "{u}/src.txt"}}
      register: u1
    - uri: {{url: "{u}/src.txt", return_content: true, method: HEAD}}
      register: u2
    - uri: {{url: "{u}/nosuch"}}
      register: u3
      ignore_errors: true
    - uri: {{url: "{u}/nosuch", return_content: true}}
      register: u4
      ignore_errors: true
    - uri: {{url: "{u}/home"}}
      register: u5
    - uri: {{url: "{u}/home", follow_redirects: none, status_code: 301}}
      register: u6
    - uri: {{url: "{u}/data.json"}}
      register: u7
    - uri: {{url: "{u}/home", method: POST, status_code: 301}}
      register: u8
    - uri: {{url: "{u}/home", method: POST, follow_redirects: all}}
      register: u9
    - debug: {{msg: "{{{{ [u1,u2,u3,u4,u5,u6,u7,u8,u9] | to_json }}}}"}}
"#
    );
    let (_d, r) = apply(&[("site.yml", &site)], &[]);
    assert_eq!(r.code, 0, "{}", r.dump());
    let shown = r.of("debug").last().and_then(|x| x["msg"].as_str()).expect("debug").to_string();
    let mut got: Vec<Json> = serde_json::from_str(&shown).expect("JSON");
    for v in got.iter_mut().filter_map(|v| v.as_object_mut()) {
        assert!(v.remove("elapsed").is_some_and(|e| e.is_u64()), "{v:?}");
    }
    let src = json!({"redirected": false, "url": format!("{u}/src.txt"), "status": 200, "content_type": "text/plain",
        "content_length": "6", "set_cookie": "sid=abc; Path=/", "x_tag": "a, b", "connection": "close",
        "cookies_string": "sid=abc", "cookies": {"sid": "abc"}, "msg": "OK (6 bytes)", "changed": false, "failed": false});
    let mut head = src.clone();
    head["content"] = json!("");
    let missing = json!({"redirected": false, "url": format!("{u}/nosuch"), "status": 404, "content_type": "text/html",
        "content_length": "9", "connection": "close", "changed": false, "failed": true,
        "msg": "Status code was 404 and not [200]: HTTP Error 404: Not Found", "exception": "(traceback unavailable)"});
    let mut missing_content = missing.clone();
    missing_content["content"] = json!("not found");
    let expected = [
        src,
        head,
        missing,
        missing_content,
        json!({"redirected": true, "url": format!("{u}/home/"), "status": 200, "content_type": "text/plain",
            "content_length": "5", "connection": "close", "cookies_string": "", "cookies": {}, "msg": "OK (5 bytes)",
            "changed": false, "failed": false}),
        json!({"redirected": false, "url": format!("{u}/home"), "status": 301, "location": format!("{u}/home/"),
            "content_length": "0", "connection": "close", "msg": "HTTP Error 301: Moved Permanently", "body": "",
            "changed": false, "failed": false}),
        json!({"redirected": false, "url": format!("{u}/data.json"), "status": 200, "content_type": "application/json",
            "content_length": "8", "connection": "close", "cookies_string": "", "cookies": {}, "msg": "OK (8 bytes)",
            "changed": false, "json": {"a": 1}, "failed": false}),
        // follow_redirects: safe (the default) does not follow the redirect of a POST.
        json!({"redirected": false, "url": format!("{u}/home"), "status": 301, "location": format!("{u}/home/"),
            "content_length": "0", "connection": "close", "msg": "HTTP Error 301: Moved Permanently", "body": "",
            "changed": false, "failed": false}),
        json!({"redirected": true, "url": format!("{u}/home/"), "status": 200, "content_type": "text/plain",
            "content_length": "5", "connection": "close", "cookies_string": "", "cookies": {}, "msg": "OK (5 bytes)",
            "changed": false, "failed": false}),
    ];
    assert_eq!(got.len(), expected.len(), "{got:#?}");
    for (i, (g, e)) in got.iter().zip(&expected).enumerate() {
        assert_eq!(g, e, "result u{}", i + 1);
    }
}
