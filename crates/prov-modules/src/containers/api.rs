//! The Docker Engine API on the target, as community.docker's modules call it: HTTP requests to
//! the engine's socket, carried by the target's `docker system dial-stdio` (the docker CLI's own
//! pipe to the engine, which honours `DOCKER_HOST` and runs as the task's user, with `become`).
//!
//! One request per command: the request (with `Connection: close`) goes on standard input, a
//! FIFO keeps the pipe open until the engine has answered (closing it early would cancel the
//! request), then the answer comes back on standard output. Paths are versioned with the
//! engine's own API version (`/vX.Y/...`), as community.docker's client negotiates it, so its
//! error messages (`404 Client Error for http+docker://localhost/v1.41/...`) read the same.

use prov_core::cmd::Sh;
use prov_core::module::{ModuleCtx, ModuleError, Outcome};
use serde_json::Value as Json;

/// An answer of the engine.
#[derive(Debug, Clone)]
pub(crate) struct Response {
    pub status: u16,
    pub reason: String,
    pub body: Vec<u8>,
    /// The URL as community.docker's client shows it.
    pub url: String,
}

impl Response {
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The body as JSON (`Null` when empty or not JSON).
    pub fn json(&self) -> Json {
        serde_json::from_slice(&self.body).unwrap_or(Json::Null)
    }

    /// community.docker's `APIError` text: `STATUS Client Error for URL: REASON ("MESSAGE")`.
    pub fn error_text(&self) -> String {
        let kind = if self.status >= 500 { "Server" } else { "Client" };
        let explanation = match self.json().get("message").and_then(|m| m.as_str()) {
            Some(m) => m.to_string(),
            None => String::from_utf8_lossy(&self.body).trim().to_string(),
        };
        let mut msg = format!("{} {kind} Error for {}: {}", self.status, self.url, self.reason);
        if !explanation.is_empty() {
            msg.push_str(&format!(" (\"{explanation}\")"));
        }
        msg
    }
}

/// The engine of one host, at its API version.
pub(crate) struct Engine<'a, 'b> {
    cx: &'a ModuleCtx<'b>,
    version: String,
}

/// Percent-encodes a path segment or query value as Python's `quote` does (`safe='/'` for
/// paths, nothing safe for values).
pub(crate) fn quote(s: &str, safe: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        let c = b as char;
        if c.is_ascii_alphanumeric() || "_.-~".contains(c) || safe.contains(c) {
            out.push(c);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Decodes a chunked body.
fn unchunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = data.windows(2).position(|w| w == b"\r\n") {
        let size_text = String::from_utf8_lossy(&data[..eol]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16).unwrap_or(0);
        data = &data[eol + 2..];
        if size == 0 || data.len() < size {
            out.extend_from_slice(&data[..size.min(data.len())]);
            break;
        }
        out.extend_from_slice(&data[..size]);
        data = data.get(size + 2..).unwrap_or_default();
    }
    out
}

/// Reads an HTTP/1.1 answer.
fn parse(raw: &[u8], url: String) -> Result<Response, String> {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n").ok_or("the engine's answer has no headers")?;
    let head = String::from_utf8_lossy(&raw[..end]);
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let mut parts = status_line.splitn(3, ' ');
    let _proto = parts.next();
    let status: u16 =
        parts.next().and_then(|s| s.parse().ok()).ok_or_else(|| format!("bad status line {status_line:?}"))?;
    let reason = parts.next().unwrap_or_default().to_string();
    let mut chunked = false;
    let mut length = None;
    for l in lines {
        if let Some((k, v)) = l.split_once(':') {
            match k.trim().to_ascii_lowercase().as_str() {
                "transfer-encoding" => chunked = v.trim().eq_ignore_ascii_case("chunked"),
                "content-length" => length = v.trim().parse::<usize>().ok(),
                _ => {}
            }
        }
    }
    let rest = &raw[end + 4..];
    let body = if chunked { unchunk(rest) } else { rest[..length.unwrap_or(rest.len()).min(rest.len())].to_vec() };
    Ok(Response { status, reason, body, url })
}

macro_rules! dial_script {
    ($send:literal) => {
        concat!(
            r#"d=$(mktemp -d) || exit 1
trap 'rm -rf "$d"' EXIT
mkfifo "$d/in" || exit 1
docker system dial-stdio <"$d/in" >"$d/out" 2>"$d/err" &
p=$!
exec 3>"$d/in"
"#,
            $send,
            r#"
wait $p; rc=$?
exec 3>&-
cat "$d/out"
[ "$rc" = 0 ] || cat "$d/err" >&2
exit $rc"#
        )
    };
}

/// The shell side: `docker system dial-stdio` reading a FIFO that stays open until the engine
/// has answered and closed the connection; the request comes on standard input.
const DIAL: &str = dial_script!("cat >&3");

/// As [`DIAL`], with the request's body read from the target's file `$f` (its length counted
/// there): standard input holds the request line and headers, without the blank line.
const DIAL_FILE: &str = concat!(
    r#"[ -f "$f" ] && [ -r "$f" ] || { printf '%s\n' "cannot read $f" >&2; exit 1; }
n=$(wc -c <"$f") || exit 1
n=$((n + 0))
"#,
    dial_script!(r#"( cat; printf 'Content-Length: %s\r\n\r\n' "$n"; cat <"$f" ) >&3"#)
);

/// The body of a request.
pub(crate) enum Body<'a> {
    None,
    Json(&'a Json),
    /// A file of the target, and its content type.
    File(&'a str, &'static str),
}

impl<'a, 'b> Engine<'a, 'b> {
    /// Reaches the engine and reads its API version, or fails as community.docker does when
    /// it cannot talk to the engine.
    pub async fn connect(cx: &'a ModuleCtx<'b>) -> Result<Result<Engine<'a, 'b>, Outcome>, ModuleError> {
        let probe = Engine { cx, version: String::new() };
        let r = match probe.raw("GET", "/version", None).await? {
            Ok(r) => r,
            Err(e) => {
                return Ok(Err(Outcome::failed(format!(
                    "Error connecting: Error while fetching server API version: {e}"
                ))))
            }
        };
        let version = r.json().get("ApiVersion").and_then(|v| v.as_str()).map(str::to_string);
        match version {
            Some(v) if r.ok() => Ok(Ok(Engine { cx, version: v })),
            _ => Ok(Err(Outcome::failed(format!(
                "Error connecting: Error while fetching server API version: {}",
                r.error_text()
            )))),
        }
    }

    /// The engine's API version (`1.41`).
    pub fn version(&self) -> &str {
        &self.version
    }

    /// One request at `path` (unversioned), or what kept it from the engine.
    async fn raw(
        &self,
        method: &str,
        path: &str,
        body: Option<&Json>,
    ) -> Result<Result<Response, String>, ModuleError> {
        self.raw_with(method, path, &[], body.map(Body::Json).unwrap_or(Body::None)).await
    }

    /// One request with extra headers and a body: JSON, or a file of the target sent as it is.
    async fn raw_with(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, String)],
        body: Body<'_>,
    ) -> Result<Result<Response, String>, ModuleError> {
        let mut req = format!("{method} {path} HTTP/1.1\r\nHost: docker\r\nUser-Agent: prov\r\nConnection: close\r\n");
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        let script = match body {
            Body::None => {
                req.push_str("\r\n");
                Sh::lit(DIAL)
            }
            Body::Json(b) => {
                let payload = b.to_string();
                req.push_str(&format!("Content-Type: application/json\r\nContent-Length: {}\r\n\r\n", payload.len()));
                req.push_str(&payload);
                Sh::lit(DIAL)
            }
            Body::File(f, content_type) => {
                req.push_str(&format!("Content-Type: {content_type}\r\n"));
                Sh::lit("f=").glued(Sh::quoted(f)).suffix("\n").glued(Sh::lit(DIAL_FILE))
            }
        };
        let out = self.cx.exec_stdin(script, req.into_bytes()).await?;
        if out.rc != 0 || out.stdout.is_empty() {
            let err = out.stderr_str();
            return Ok(Err(if err.trim().is_empty() {
                format!("docker system dial-stdio exited {}", out.rc)
            } else {
                err.trim().to_string()
            }));
        }
        let url = format!("http+docker://localhost{path}");
        Ok(parse(&out.stdout, url))
    }

    /// `METHOD /vVERSION{path}` with a JSON body; the answer, or the failed result when the
    /// engine could not be asked.
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<&Json>,
    ) -> Result<Result<Response, Outcome>, ModuleError> {
        let full = format!("/v{}{path}", self.version);
        Ok(self.raw(method, &full, body).await?.map_err(Outcome::failed))
    }

    /// `METHOD /vVERSION{path}` with extra headers and a body (a target's file for uploads).
    pub async fn call_with(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, String)],
        body: Body<'_>,
    ) -> Result<Result<Response, Outcome>, ModuleError> {
        let full = format!("/v{}{path}", self.version);
        Ok(self.raw_with(method, &full, headers, body).await?.map_err(Outcome::failed))
    }

    /// The module's context.
    pub fn cx(&self) -> &ModuleCtx<'b> {
        self.cx
    }

    /// A call that must succeed: the answer's JSON, or the failed result with community.docker's
    /// text for the error after `prefix` (`""`, or `"An unexpected Docker error occurred: "`
    /// where the module lets the error reach its last handler).
    pub async fn send(
        &self,
        method: &str,
        path: &str,
        body: Option<&Json>,
        prefix: &str,
    ) -> Result<Result<Json, Outcome>, ModuleError> {
        let r = crate::util::or_fail!(self.call(method, path, body).await, Err);
        if !r.ok() {
            return Ok(Err(Outcome::failed(format!("{prefix}{}", r.error_text()))));
        }
        Ok(Ok(r.json()))
    }

    /// A GET whose answer must be JSON: the value, or the failed result (`APIError`'s text).
    pub async fn get_json(&self, path: &str) -> Result<Result<Json, Outcome>, ModuleError> {
        self.send("GET", path, None, "").await
    }
}

/// community.docker's `DifferenceTracker`: what a module would change, as name, wanted value
/// and current value, in the order found.
#[derive(Debug, Default)]
pub(crate) struct Tracker(pub Vec<(String, Json, Json)>);

impl Tracker {
    pub fn add(&mut self, name: impl Into<String>, parameter: Json, active: Json) {
        self.0.push((name.into(), parameter, active));
    }

    /// The names (`get_legacy_docker_diffs`).
    pub fn names(&self) -> Json {
        Json::from(self.0.iter().map(|d| d.0.clone()).collect::<Vec<_>>())
    }

    /// `diff.before` and `diff.after` (`get_before_after`).
    pub fn before_after(&self) -> (Json, Json) {
        let before: serde_json::Map<String, Json> = self.0.iter().map(|(n, _, a)| (n.clone(), a.clone())).collect();
        let after: serde_json::Map<String, Json> = self.0.iter().map(|(n, p, _)| (n.clone(), p.clone())).collect();
        (Json::Object(before), Json::Object(after))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_read_with_either_length_or_chunks() {
        let raw = b"HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: 27\r\n\r\n{\"message\":\"no such thing\"}";
        let r = parse(raw, "http+docker://localhost/v1.41/volumes/x".into()).expect("parsed");
        assert_eq!(r.status, 404);
        assert_eq!(
            r.error_text(),
            "404 Client Error for http+docker://localhost/v1.41/volumes/x: Not Found (\"no such thing\")"
        );
        let raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n[1,2\r\n2\r\n,3\r\n1\r\n]\r\n0\r\n\r\n";
        let r = parse(raw, String::new()).expect("parsed");
        assert_eq!(r.json(), serde_json::json!([1, 2, 3]));
        assert_eq!(quote("a b/c", "/"), "a%20b/c");
        assert_eq!(quote("{\"x\":1}", ""), "%7B%22x%22%3A1%7D");
    }
}
