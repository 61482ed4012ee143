//! `uri`: makes an HTTP request from the target (with `curl`, else GNU `wget`).
//!
//! Arguments (as in Ansible): `url` (required), `method` (default `GET`), `status_code` (an int
//! or a list, default 200), `body` (a string, or data encoded per `body_format`),
//! `body_format` (`raw` default, `json`, `form-urlencoded`; sets `Content-Type`), `headers`,
//! `return_content` (default false), `timeout` (default 30 s), `validate_certs` (default true),
//! `url_username`/`user`, `url_password`/`password`, `force_basic_auth`, `follow_redirects`
//! (`safe` default; `none`/`no` disables), `use_proxy` (default true; false ignores the
//! `http_proxy`/`https_proxy` environment).
//!
//! `GET`/`HEAD` run in check mode too (they read); other methods are skipped in check mode.
//! Never reports `changed`. Registers what ansible-core does: `status`, `url` (after redirects),
//! `redirected`, every response header (lower case, `-` as `_`: `content_type`,
//! `content_length`, `location` made absolute, ...; a repeated header joined with `, `),
//! `cookies` and `cookies_string`, `msg` (`OK (LENGTH bytes)`, or `HTTP Error CODE: REASON` for
//! a 3xx/4xx/5xx), `elapsed`, `json` for a JSON answer, and `content` with `return_content`.
//!
//! ```yaml
//! - uri:
//!     url: http://127.0.0.1:8080/health
//!     status_code: [200, 204]
//!     return_content: true
//!   register: health
//! - uri:
//!     url: https://api.example.org/items
//!     method: POST
//!     body_format: json
//!     body: { name: web1 }
//!     status_code: 201
//! ```

use async_trait::async_trait;
use indexmap::IndexMap;
use minijinja::Value;
use prov_core::args::lenient_bool;
use prov_core::cmd::{Cmd, Sh};
use prov_core::module::{Action, Change, InCheck, Module, ModuleCtx, ModuleError, Outcome, Plan};
use serde::Deserialize;

fn get() -> String {
    "GET".into()
}
fn yes() -> bool {
    true
}
fn t30() -> u64 {
    30
}

/// `status_code`: one or several.
#[derive(Debug, Deserialize, Clone)]
#[serde(untagged)]
pub enum Codes {
    /// One code.
    One(u16),
    /// Several codes.
    Many(Vec<u16>),
}

/// Arguments of `uri`.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Args {
    /// The URL.
    pub url: String,
    /// HTTP method.
    #[serde(default = "get")]
    pub method: String,
    /// Accepted status codes.
    #[serde(default)]
    pub status_code: Option<Codes>,
    /// Request body.
    #[serde(default)]
    pub body: Option<Value>,
    /// `raw`, `json` or `form-urlencoded`.
    #[serde(default)]
    pub body_format: Option<String>,
    /// Request headers.
    #[serde(default)]
    pub headers: IndexMap<String, Value>,
    /// Register the body as `content`.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub return_content: bool,
    /// Seconds.
    #[serde(default = "t30")]
    pub timeout: u64,
    /// Check TLS certificates.
    #[serde(default = "yes", deserialize_with = "lenient_bool")]
    pub validate_certs: bool,
    /// Basic auth user.
    #[serde(default, alias = "user")]
    pub url_username: Option<String>,
    /// Basic auth password.
    #[serde(default, alias = "password")]
    pub url_password: Option<String>,
    /// Send credentials without waiting for a challenge (always the case here).
    #[serde(default, deserialize_with = "lenient_bool")]
    pub force_basic_auth: bool,
    /// `safe` (default: redirects of GET and HEAD only), `all`/`yes`/`urllib2`, `none`/`no`.
    #[serde(default, deserialize_with = "crate::util::stringish")]
    pub follow_redirects: Option<String>,
    /// Use the proxy the environment names (default true).
    #[serde(default = "yes", deserialize_with = "lenient_bool")]
    pub use_proxy: bool,
}

/// The `uri` module.
#[derive(Debug, Default)]
pub struct Uri;

const META: &str = "\nPROV-URI-META ";

fn urlencode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => out.push(b as char),
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

fn scalar(v: &Value) -> String {
    match v.as_str() {
        Some(s) => s.to_string(),
        None => v.to_string(),
    }
}

impl Args {
    fn codes(&self) -> Vec<u16> {
        match &self.status_code {
            None => vec![200],
            Some(Codes::One(c)) => vec![*c],
            Some(Codes::Many(v)) => v.clone(),
        }
    }

    fn method(&self) -> String {
        self.method.to_ascii_uppercase()
    }

    /// `follow_redirects`, one of ansible-core's choices (YAML's `yes`/`no` are the choices).
    fn follow_redirects(&self) -> Result<&'static str, String> {
        const CHOICES: &[&str] = &["all", "no", "none", "safe", "urllib2", "yes"];
        let Some(given) = self.follow_redirects.as_deref() else { return Ok("safe") };
        let v = prov_core::args::chosen(given, CHOICES);
        CHOICES
            .iter()
            .find(|c| **c == v)
            .copied()
            .ok_or_else(|| format!("value of follow_redirects must be one of: {}, got: {v}", CHOICES.join(", ")))
    }

    /// Whether a redirect of this request is followed: `safe` (the default) follows only those
    /// of GET and HEAD, as ansible-core's redirect handler does.
    fn follows(&self, method: &str) -> bool {
        match self.follow_redirects().unwrap_or("safe") {
            "no" | "none" => false,
            "safe" => matches!(method, "GET" | "HEAD"),
            _ => true,
        }
    }

    /// The body bytes and the content type they imply.
    fn body(&self) -> Result<Option<(String, Option<&'static str>)>, String> {
        let Some(b) = &self.body else { return Ok(None) };
        match self.body_format.as_deref().unwrap_or("raw") {
            "json" => {
                let text = match b.as_str() {
                    Some(s) => s.to_string(),
                    None => serde_json::to_string(b).map_err(|e| format!("body: {e}"))?,
                };
                Ok(Some((text, Some("application/json"))))
            }
            "form-urlencoded" => {
                let text = match b.as_str() {
                    Some(s) => s.to_string(),
                    None => {
                        let mut parts = Vec::new();
                        let keys = b.try_iter().map_err(|e| format!("body: {e}"))?;
                        for k in keys {
                            let v = b.get_item(&k).map_err(|e| format!("body: {e}"))?;
                            parts.push(format!("{}={}", urlencode(&scalar(&k)), urlencode(&scalar(&v))));
                        }
                        parts.join("&")
                    }
                };
                Ok(Some((text, Some("application/x-www-form-urlencoded"))))
            }
            "raw" => Ok(Some((scalar(b), None))),
            f => Err(format!("body_format must be raw, json or form-urlencoded, not {f}")),
        }
    }
}

/// A value inside double quotes of a curl config file (backslash escapes, one line).
fn curl_config_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out
}

/// A wgetrc value: one line (wgetrc has no quoting; line breaks would end it).
fn one_line(s: &str) -> String {
    s.replace(['\n', '\r'], " ")
}

/// The command: body on stdout, then a marker line with the status and content type. Its input
/// is [`input`]'s: with credentials, curl's and wget's configs come first, `auth` giving their
/// lengths, and go into private files; the request body, if any, follows.
/// The request's headers: `headers`, and the body's `Content-Type` unless one is given.
fn request_headers(a: &Args, ctype: Option<&str>) -> Vec<(String, String)> {
    let mut headers: Vec<(String, String)> = a.headers.iter().map(|(k, v)| (k.clone(), scalar(v))).collect();
    if let Some(ct) = ctype {
        if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("content-type")) {
            headers.push(("Content-Type".into(), ct.into()));
        }
    }
    headers
}

fn command(a: &Args, has_body: bool, auth: Option<(usize, usize)>) -> Sh {
    let method = a.method();
    let follow = a.follows(&method);
    let mut curl = Cmd::new("curl").flag("-sS");
    // HEAD: the headers go to the dump, not to the output (the content is empty).
    curl = if method == "HEAD" { curl.flag("-I").opt("-o", "/dev/null") } else { curl.opt("-X", &method) };
    curl = curl.opt("--max-time", a.timeout.to_string());
    if !a.validate_certs {
        curl = curl.flag("-k");
    }
    if !a.use_proxy {
        curl = curl.opt("--noproxy", "*");
    }
    if follow {
        curl = curl.flag("-L");
    }
    // Credentials are in private files read from stdin, never in a command line (`ps`,
    // /proc/PID/cmdline), which with `become` or without a persistent shell holds the
    // whole command text.
    if auth.is_some() {
        curl = curl.flag("-K").flag("\"$k\"");
    }
    if has_body {
        curl = curl.flag("--data-binary").flag("@-");
    }
    let curl = curl
        .flag("-D")
        .flag("\"$d\"")
        .flag("-w")
        .flag("'\\nPROV-URI-META %{http_code} %{url_effective}'")
        .operand(&a.url);

    let mut wget = Cmd::new("wget")
        .flag("-S")
        .flag("-O")
        .flag("-")
        .flag("--content-on-error")
        .opt_eq("--timeout", a.timeout.to_string())
        .opt_eq("--method", &method);
    if !a.validate_certs {
        wget = wget.flag("--no-check-certificate");
    }
    if !a.use_proxy {
        wget = wget.flag("--no-proxy");
    }
    if !follow {
        wget = wget.flag("--max-redirect=0");
    }
    if auth.is_some() {
        wget = wget.flag("--config=\"$w\"");
    }
    if has_body {
        wget = wget.flag("--body-file=/dev/stdin");
    }
    let wget = wget.operand(&a.url);
    // After the body: the marker line (status, final URL), then the response headers (every
    // response's, when redirects were followed).
    let run = Sh::lit("if command -v curl >/dev/null 2>&1; then d=$(mktemp) || exit 1;")
        .word(curl)
        .suffix("; rc=$?; printf '\\nPROV-URI-HEADERS\\n'; cat \"$d\"; rm -f \"$d\"; [ $rc = 0 ] || exit $rc")
        .suffix("; elif command -v wget >/dev/null 2>&1; then h=$(mktemp) || exit 1;")
        .word(wget)
        .suffix(
            " 2>\"$h\"; rc=$?; \
             s=$(grep -E '^ *HTTP/' \"$h\" | tail -n 1 | awk '{print $2}'); \
             if [ -z \"$s\" ]; then cat \"$h\" >&2; rm -f \"$h\"; exit $rc; fi; \
             printf '\\nPROV-URI-META %s %s\\nPROV-URI-HEADERS\\n' \"$s\"",
        )
        .word(Sh::quoted(&a.url))
        .suffix(
            "; sed -n 's/^  //p' \"$h\"; rm -f \"$h\"; \
             else echo 'uri needs curl or wget on the target' >&2; exit 127; fi",
        );
    match auth {
        None => run,
        // `dd bs=1` reads exactly its count from a pipe: the body stays on stdin.
        Some((curl_len, wget_len)) => {
            Sh::lit("umask 077 && k=$(mktemp) && w=$(mktemp) || exit 1; trap 'rm -f \"$k\" \"$w\"' EXIT")
                .then(
                    Sh::lit("dd bs=1 count=")
                        .glued(Sh::quoted(&curl_len.to_string()))
                        .suffix(" of=\"$k\" 2>/dev/null || exit 1"),
                )
                .then(wget_config(wget_len, "\"$w\""))
                .then(run)
        }
    }
}

/// The private wgetrc (`path`, a literal such as `"$w"`): the system's and the user's wgetrc
/// first (wget reads only the `--config` file once it is given, and their proxy or CA settings
/// must still hold), then `len` bytes of the command's input (credentials, headers), which come
/// later and so win.
pub(crate) fn wget_config(len: usize, path: &'static str) -> Sh {
    Sh::lit("{ cat -- \"${SYSTEM_WGETRC:-/etc/wgetrc}\" \"${WGETRC:-$HOME/.wgetrc}\" 2>/dev/null; dd bs=1 count=")
        .glued(Sh::quoted(&len.to_string()))
        .suffix(" 2>/dev/null; } >")
        .word(Sh::lit(path))
        .suffix(" || exit 1")
}

/// curl's and wget's configs for the credentials and the request headers, as one input (with
/// their lengths); `None` when there is neither. What `uri` and `get_url` give their command on
/// its standard input (it writes them to private files), never on a command line.
pub(crate) fn configs(
    user: Option<&str>,
    password: Option<&str>,
    headers: &[(String, String)],
) -> (Option<(usize, usize)>, Vec<u8>) {
    if user.is_none() && headers.is_empty() {
        return (None, Vec::new());
    }
    let (mut curl, mut wget) = (String::new(), String::new());
    if let Some(u) = user {
        let p = password.unwrap_or_default();
        curl.push_str(&format!("user = \"{}\"\n", curl_config_escape(&format!("{u}:{p}"))));
        wget.push_str(&format!("user = {}\npassword = {}\nauth_no_challenge = on\n", one_line(u), one_line(p)));
    }
    for (k, v) in headers {
        // One line each: a line break would make curl send a header of its own.
        curl.push_str(&format!("header = \"{}\"\n", curl_config_escape(&one_line(&format!("{k}: {v}")))));
        wget.push_str(&format!("header = {}\n", one_line(&format!("{k}: {v}"))));
    }
    let mut data = curl.clone().into_bytes();
    data.extend_from_slice(wget.as_bytes());
    (Some((curl.len(), wget.len())), data)
}

/// The command's input: the credentials' configs for curl and for wget (with their lengths),
/// then the body.
fn input(a: &Args, body: Option<&str>, ctype: Option<&str>) -> (Option<(usize, usize)>, Vec<u8>) {
    let headers = request_headers(a, ctype);
    let (auth, mut data) = configs(a.url_username.as_deref(), a.url_password.as_deref(), &headers);
    if let Some(b) = body {
        data.extend_from_slice(b.as_bytes());
    }
    (auth, data)
}

async fn request(a: &Args, cx: &ModuleCtx<'_>) -> Result<Outcome, ModuleError> {
    let body = a.body().map_err(ModuleError::Args)?;
    let (auth, stdin) = input(a, body.as_ref().map(|b| b.0.as_str()), body.as_ref().and_then(|b| b.1));
    let cmd = command(a, body.is_some(), auth);
    let started = std::time::Instant::now();
    let out = match (&body, auth) {
        (None, None) => cx.exec(cmd).await?,
        _ => cx.exec_stdin(cmd, stdin).await?,
    };
    let codes = a.codes();
    let elapsed = started.elapsed().as_secs();
    let text = out.stdout_str();
    let Some((content, meta)) = text.rsplit_once(META).filter(|_| out.rc == 0) else {
        let err = out.stderr_str();
        return Ok(Outcome::failed(format!("Status code was -1 and not {codes:?}: Request failed: {}", err.trim()))
            .with("redirected", false)
            .with("url", a.url.as_str())
            .with("status", -1)
            .with("elapsed", elapsed));
    };
    let (meta, head) = meta.split_once(HEADERS).unwrap_or((meta, ""));
    let (status, final_url) = meta.trim().split_once(' ').unwrap_or((meta.trim(), a.url.as_str()));
    let status: i64 = status.trim().parse().unwrap_or(-1);
    let response = Response::parse(head);
    let ok = codes.iter().any(|c| i64::from(*c) == status);
    // A final 3xx, 4xx or 5xx is an error response to ansible-core's client: it carries the
    // requested URL, no cookies, and `HTTP Error CODE: REASON` as its message.
    let http_error = status >= 300;
    let ctype = response.headers.get("content-type").map(String::as_str).unwrap_or("application/octet-stream");
    let subtype = ctype.split(';').next().unwrap_or_default().split_once('/').map(|x| x.1).unwrap_or_default();
    let subtype = subtype.split_once('+').map(|x| x.1).unwrap_or(subtype).trim().to_ascii_lowercase();
    let maybe_json = subtype == "json" || subtype == "javascript";
    // ansible-core's result: the request's outcome, then every response header (lower case,
    // `-` as `_`, repeated ones joined with `, `), the cookies, a message, the time taken.
    // The request's own fields come after the headers, so that a header named `status` or
    // `url` does not hide them, as in ansible-core.
    let mut o = Outcome::ok();
    for (k, v) in &response.headers {
        let v = if k == "location" { join_url(final_url, v) } else { v.clone() };
        o = o.with(&k.replace('-', "_"), v);
    }
    o = o
        .with("redirected", final_url != a.url)
        .with("url", if http_error { a.url.as_str() } else { final_url })
        .with("status", status);
    let mut msg = if http_error {
        // The body of an error response the task neither shows nor reads stays as `body`.
        if ok && !a.return_content && !maybe_json {
            o = o.with("body", content);
        }
        format!("HTTP Error {status}: {}", response.reason)
    } else {
        let cookies: IndexMap<&str, &str> = response.cookies.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let string: Vec<String> = cookies.iter().map(|(k, v)| format!("{k}={v}")).collect();
        o = o.with("cookies_string", string.join("; ")).with("cookies", Value::from(minijinja::value::Serde(&cookies)));
        let length = response.headers.get("content-length").map(String::as_str).unwrap_or("unknown");
        format!("OK ({length} bytes)")
    };
    if !ok {
        msg = format!("Status code was {status} and not {codes:?}: {msg}");
    }
    o = o.with("msg", msg.as_str()).with("elapsed", elapsed);
    o.msg = Some(msg);
    o.failed = !ok;
    if maybe_json {
        if let Ok(j) = serde_json::from_str::<serde_json::Value>(content) {
            o = o.with("json", Value::from(minijinja::value::Serde(j)));
        }
    }
    if a.return_content {
        o = o.with("content", content);
    }
    Ok(o)
}

/// The marker between the status line and the response headers in the command's output.
const HEADERS: &str = "\nPROV-URI-HEADERS\n";

/// The last response of a request, as its headers tell it.
#[derive(Debug, Default)]
struct Response {
    /// The reason phrase of its status line (`Not Found`).
    reason: String,
    /// Its headers, names in lower case, repeated ones joined with `, `.
    headers: IndexMap<String, String>,
    /// The cookies every response set, by name.
    cookies: Vec<(String, String)>,
}

impl Response {
    /// Reads the header blocks a client printed (one per response, redirects included).
    fn parse(text: &str) -> Response {
        let mut r = Response::default();
        for line in text.lines().map(|l| l.trim_end_matches('\r')) {
            if line.starts_with("HTTP/") {
                r.reason = line.splitn(3, ' ').nth(2).unwrap_or_default().trim().to_string();
                r.headers.clear();
                continue;
            }
            let Some((name, value)) = line.split_once(':') else { continue };
            let (name, value) = (name.trim().to_ascii_lowercase(), value.trim().to_string());
            if name == "set-cookie" {
                if let Some((k, v)) = value.split(';').next().and_then(|c| c.split_once('=')) {
                    r.cookies.push((k.trim().to_string(), v.trim().to_string()));
                }
            }
            match r.headers.get_mut(&name) {
                Some(old) => {
                    old.push_str(", ");
                    old.push_str(&value);
                }
                None => {
                    r.headers.insert(name, value);
                }
            }
        }
        r
    }
}

/// A `Location` relative to the URL it came with, made absolute (Python's `urljoin`, for the
/// forms servers send: absolute, `//host/...`, `/path` and relative paths).
fn join_url(base: &str, loc: &str) -> String {
    if loc.contains("://") {
        return loc.to_string();
    }
    let (scheme, rest) = base.split_once("://").unwrap_or(("http", base));
    if let Some(net) = loc.strip_prefix("//") {
        return format!("{scheme}://{net}");
    }
    let host_end = rest.find('/').unwrap_or(rest.len());
    let (host, path) = rest.split_at(host_end);
    if loc.starts_with('/') {
        return format!("{scheme}://{host}{loc}");
    }
    let path = path.split(['?', '#']).next().unwrap_or_default();
    let dir = &path[..path.rfind('/').map(|i| i + 1).unwrap_or(0)];
    let dir = if dir.is_empty() { "/" } else { dir };
    format!("{scheme}://{host}{dir}{loc}")
}

#[async_trait]
impl Module for Uri {
    const NAME: &'static str = "uri";
    type Args = Args;
    type Plan = ();

    fn check_args(a: &Args) -> Result<(), String> {
        a.body()?;
        a.follow_redirects()?;
        if a.method.is_empty() || !a.method.bytes().all(|b| b.is_ascii_alphabetic()) {
            return Err(format!("method `{}` is not an HTTP method", a.method));
        }
        Ok(())
    }

    async fn plan(&self, a: &Args, cx: &ModuleCtx<'_>) -> Result<Plan<()>, ModuleError> {
        if matches!(a.method().as_str(), "GET" | "HEAD") {
            return Ok(Plan::Ok(request(a, cx).await?));
        }
        let mut ch = Change::new((), Action::Run, "http", format!("{} {}", a.method(), a.url));
        ch.in_check = InCheck::Skipped;
        Ok(Plan::Change(ch))
    }

    async fn apply(&self, a: &Args, _: (), cx: &ModuleCtx<'_>) -> Result<Outcome, ModuleError> {
        request(a, cx).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;
    use prov_core::testutil::FakeConnection;
    use serde_json::json;

    /// ansible-core's redirect handler: `safe` (the default) follows redirects of GET and HEAD
    /// only (a POST answered 302 registers the 302); YAML's `no` is the choice `no`.
    #[test]
    fn follow_redirects_follows_as_ansible_cores_handler_does() {
        let a = |v: serde_json::Value| serde_json::from_value::<Args>(v).expect("args");
        assert!(a(json!({"url": "http://x"})).follows("GET"));
        assert!(!a(json!({"url": "http://x"})).follows("POST"));
        assert!(a(json!({"url": "http://x", "follow_redirects": "all"})).follows("POST"));
        assert!(!a(json!({"url": "http://x", "follow_redirects": false})).follows("GET"));
        assert_eq!(a(json!({"url": "http://x", "follow_redirects": true})).follow_redirects(), Ok("yes"));
        assert_eq!(
            Uri::check_args(&a(json!({"url": "http://x", "follow_redirects": "sometimes"}))),
            Err("value of follow_redirects must be one of: all, no, none, safe, urllib2, yes, got: sometimes".into())
        );
    }

    #[tokio::test]
    async fn get_ok_and_status_mismatch() {
        let out = "{\"a\":1}\nPROV-URI-META 200 http://x/h\nPROV-URI-HEADERS\nHTTP/1.1 200 OK\r\nContent-Type: application/json\r\nSet-Cookie: s=1; Path=/\r\nX-Tag: a\r\nx-tag: b\r\nStatus: 500\r\n\r\n";
        let h = fake(FakeConnection::new().on("if command -v curl", 0, out));
        let o = run::<Uri>(json!({"url": "http://x/h", "return_content": true}), &h.ctx()).await;
        assert!(!o.changed && !o.failed, "{o:?}");
        assert_eq!(o.data["status"], Value::from(200));
        assert_eq!(o.data["content"].as_str(), Some("{\"a\":1}"));
        assert_eq!(o.data["json"].get_attr("a").unwrap(), Value::from(1));
        // Headers as ansible-core names them, repeated ones joined; cookies by name.
        assert_eq!(o.data["x_tag"].as_str(), Some("a, b"));
        assert_eq!(o.data["status"], Value::from(200), "a `Status` header does not hide the status");
        assert_eq!(o.data["content_type"].as_str(), Some("application/json"));
        assert_eq!(o.data["cookies_string"].as_str(), Some("s=1"));
        assert_eq!(o.msg.as_deref(), Some("OK (unknown bytes)"));
        let o = run::<Uri>(json!({"url": "http://x/h", "status_code": [201, 204]}), &h.ctx()).await;
        assert!(o.failed);
        assert!(o.msg.unwrap().starts_with("Status code was 200 and not [201, 204]"));
    }

    #[tokio::test]
    async fn uri_url_and_headers_are_an_operand_and_quoted_option_values() {
        for v in hostile_values(&pwned_marker("uri")) {
            let h = fake(FakeConnection::new().on("umask 077 && k=", 0, "\nPROV-URI-META 200 x\nPROV-URI-HEADERS\n"));
            run::<Uri>(json!({"url": v, "headers": {"X-A": v}}), &h.ctx()).await;
            let call = &h.conn.calls()[0];
            let q = Sh::quoted(&v);
            // Headers go in the configs on standard input, never in the command.
            assert!(call.contains(" -K \"$k\" -D \"$d\" -w "), "{v:?}: {call}");
            assert!(call.contains(&format!("%{{url_effective}}' -- {q}; rc=$?")), "{v:?}: {call}");
            assert!(call.contains(&format!(" --config=\"$w\" -- {q} 2>\"$h\"")), "{v:?}: {call}");
            assert!(!call.contains("X-A"), "{v:?}: {call}");
        }
        // In the configs: one header line each, quoted for curl, on one line for wget.
        let (_, data) = configs(None, None, &[("X-A".into(), "a\"b\nc".into())]);
        assert_eq!(String::from_utf8(data).unwrap(), "header = \"X-A: a\\\"b c\"\nheader = X-A: a\"b c\n");
    }

    #[test]
    fn locations_are_joined_to_the_url_as_python_joins_them() {
        assert_eq!(join_url("http://h:1/a/b?q", "/x"), "http://h:1/x");
        assert_eq!(join_url("http://h:1/a/b", "c/"), "http://h:1/a/c/");
        assert_eq!(join_url("http://h:1/home", "http://o/y"), "http://o/y");
        assert_eq!(join_url("https://h/a", "//o/y"), "https://o/y");
        assert_eq!(join_url("http://h", "y"), "http://h/y");
    }

    #[tokio::test]
    async fn post_is_skipped_in_check_mode() {
        let h = fake_check(FakeConnection::new());
        let o =
            run::<Uri>(json!({"url": "http://x", "method": "POST", "body": {"a": 1}, "body_format": "json"}), &h.ctx())
                .await;
        assert!(o.skipped);
        assert!(h.conn.calls().is_empty());
    }

    #[tokio::test]
    async fn connection_failure() {
        let h = fake(FakeConnection::new().on("if", 7, ""));
        let o = run::<Uri>(json!({"url": "http://x"}), &h.ctx()).await;
        assert!(o.failed);
        assert_eq!(o.data["status"], Value::from(-1));
    }

    #[test]
    fn form_body() {
        let a: Args = prov_core::module::args_from_value(&j(
            json!({"url": "u", "body": {"a b": "c&d"}, "body_format": "form-urlencoded"}),
        ))
        .unwrap();
        assert_eq!(a.body().unwrap().unwrap().0, "a+b=c%26d");
    }

    #[tokio::test]
    async fn local_http() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = tokio::spawn(async move {
            let mut seen = Vec::new();
            for _ in 0..2 {
                let (mut s, _) = listener.accept().await.unwrap();
                let mut buf = vec![0u8; 4096];
                let mut req = Vec::new();
                loop {
                    let n = s.read(&mut buf).await.unwrap();
                    req.extend_from_slice(&buf[..n]);
                    let text = String::from_utf8_lossy(&req).to_string();
                    if let Some(i) = text.find("\r\n\r\n") {
                        let len = text
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().parse::<usize>().unwrap())
                            })
                            .unwrap_or(0);
                        if req.len() >= i + 4 + len {
                            break;
                        }
                    }
                    if n == 0 {
                        break;
                    }
                }
                seen.push(String::from_utf8_lossy(&req).to_string());
                let body = "{\"ok\":true}";
                let resp = format!("HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
                s.write_all(resp.as_bytes()).await.unwrap();
                s.shutdown().await.unwrap();
            }
            seen
        });
        let h = LocalHost::new();
        let url = format!("http://127.0.0.1:{port}/items");
        let o = run::<Uri>(json!({"url": url, "method": "POST", "body": {"name": "web1"}, "body_format": "json", "status_code": 201, "return_content": true}), &h.ctx()).await;
        assert!(!o.failed, "{o:?}");
        assert_eq!(o.data["json"].get_attr("ok").unwrap(), Value::from(true));
        let o = run::<Uri>(json!({"url": url}), &h.ctx()).await;
        assert!(o.failed && o.data["status"] == Value::from(201));
        let seen = server.await.unwrap();
        assert!(seen[0].starts_with("POST /items") && seen[0].contains("{\"name\":\"web1\"}"), "{}", seen[0]);
        assert!(seen[0].contains("Content-Type: application/json"));
    }

    #[tokio::test]
    async fn basic_auth_credentials_never_reach_a_command_line() {
        let password = "p\"a ss\\w$0rd'x";
        let (port, server) = answer_once("\r\n\r\n{").await;
        let h = LocalHost::new();
        let url = format!("http://127.0.0.1:{port}/secret");
        let args = json!({"url": url, "method": "POST", "body": {"a": 1}, "body_format": "json",
                          "url_username": "admin", "url_password": password, "force_basic_auth": true});
        let o = run::<Uri>(args, &h.ctx()).await;
        assert!(!o.failed, "{o:?}");
        let (req, argv) = server.await.unwrap();
        use base64::Engine as _;
        let want = base64::engine::general_purpose::STANDARD.encode(format!("admin:{password}"));
        assert!(req.contains(&format!("Authorization: Basic {want}")), "{req}");
        assert!(req.contains("{\"a\":1}"), "the body still arrives on stdin: {req}");
        assert!(argv.iter().any(|c| c.starts_with("curl")), "curl was not seen running");
        assert!(argv.iter().all(|c| !c.contains("ss\\w$0rd")), "{argv:?}");
        let sent = h.conn.log.lock().unwrap().clone();
        assert!(sent.iter().all(|c| !c.contains("ss\\w$0rd") && !c.contains("admin")), "{sent:?}");
    }

    /// Request headers (an `Authorization: Bearer ...` token) travel in curl's private config
    /// file too, not as `-H` on its command line (ansible-core sends them from Python, on no
    /// command line).
    #[tokio::test]
    async fn headers_never_reach_a_command_line() {
        let (port, server) = answer_once("\r\n\r\n").await;
        let h = LocalHost::new();
        let url = format!("http://127.0.0.1:{port}/h");
        let args = json!({"url": url, "headers": {"Authorization": "Bearer t0k\"en\\x", "X-Plain": "v"}});
        let o = run::<Uri>(args, &h.ctx()).await;
        assert!(!o.failed, "{o:?}");
        let (req, argv) = server.await.unwrap();
        assert!(req.contains("Authorization: Bearer t0k\"en\\x\r\n") && req.contains("X-Plain: v\r\n"), "{req}");
        assert!(argv.iter().any(|c| c.starts_with("curl")), "curl was not seen running");
        assert!(argv.iter().all(|c| !c.contains("t0k")), "{argv:?}");
        let sent = h.conn.log.lock().unwrap().clone();
        assert!(sent.iter().all(|c| !c.contains("t0k")), "{sent:?}");
    }

    /// A loopback server for one request: once the client is connected it records every
    /// process's command line, reads the request up to `until`, and answers 200 `ok`. Its
    /// port, and the request text and command lines when it is done.
    async fn answer_once(until: &'static str) -> (u16, tokio::task::JoinHandle<(String, Vec<String>)>) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            // curl is connected now: its command line, and its shell's, are in /proc.
            let argv: Vec<String> = prov_testkit_like_processes("");
            let mut req = Vec::new();
            let mut buf = vec![0u8; 4096];
            while !String::from_utf8_lossy(&req).contains(until) {
                let n = s.read(&mut buf).await.unwrap();
                if n == 0 {
                    break;
                }
                req.extend_from_slice(&buf[..n]);
            }
            let resp = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";
            s.write_all(resp.as_bytes()).await.unwrap();
            s.shutdown().await.unwrap();
            (String::from_utf8_lossy(&req).to_string(), argv)
        });
        (port, server)
    }

    /// Command lines of running processes whose program is `prog`.
    fn prov_testkit_like_processes(prog: &str) -> Vec<String> {
        std::fs::read_dir("/proc")
            .unwrap()
            .flatten()
            .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
            .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
            .filter(|c| c.starts_with(prog))
            .collect()
    }
}
