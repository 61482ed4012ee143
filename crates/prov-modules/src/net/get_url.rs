//! `get_url`: downloads a file from an HTTP, HTTPS or FTP URL to the target, from the target
//! (with `curl`, else GNU `wget`).
//!
//! Arguments (as in Ansible): `url`, `dest` (required; a directory takes the file name from the
//! response's `Content-Disposition`, else from the URL), `checksum` (`ALGORITHM:HEX`, or
//! `ALGORITHM:URL` of a checksum file listing the URL's file name; md5, sha1, sha224, sha256,
//! sha384, sha512), `force` (default false), `backup`, `timeout` (default 10 s), `headers`,
//! `http_agent` (default `ansible-httpget`), `validate_certs` (default true), `use_proxy`
//! (default true), `url_username`/`username`, `url_password`/`password`, `force_basic_auth`,
//! `decompress` (default true), `tmp_dest`, `mode`, `owner`, `group`.
//!
//! What ansible-core's get_url does, step by step:
//! - an existing file with the `checksum` asked for is left alone ("file already exists"),
//!   only its attributes are set;
//! - else the URL is requested; for an existing file, without `force`, as a conditional
//!   request (`If-Modified-Since` its modification time): "304 Not Modified" changes nothing;
//! - the download must match `checksum` (else the task fails and nothing is written) and
//!   replaces the file only when its content differs (sha1), atomically, keeping the mode and
//!   owner of the file it replaces (a new file gets 0666 less the umask); then `mode`,
//!   `owner`, `group` apply.
//!
//! Check mode makes a `HEAD` request and reports a change unless the answer is 304. Credentials
//! and request headers travel in private files read from the command's input, never on a
//! command line. Registers `dest`, `url`, `status_code`, `msg`, `checksum_src`,
//! `checksum_dest`, `md5sum`, `src`, `elapsed`, `backup_file`, and the file's `uid`, `gid`,
//! `owner`, `group`, `mode`, `state`, `size`.
//!
//! ```yaml
//! - get_url:
//!     url: https://example.org/tool-1.2.tar.gz
//!     dest: /opt/tool-1.2.tar.gz
//!     checksum: sha256:https://example.org/SHA256SUMS
//!     mode: "0644"
//! ```

use crate::files::{check_owner_group, checksum_tool, probe, with_path_info, Attrs, FileState, Kind, ALGORITHMS};
use crate::net::uri::{configs, wget_config};
use async_trait::async_trait;
use indexmap::IndexMap;
use minijinja::Value;
use prov_core::args::{lenient_bool, Mode};
use prov_core::cmd::{Cmd, Sh};
use prov_core::module::{Action, Change, CheckMode, Module, ModuleCtx, ModuleError, Outcome, Plan};
use serde::Deserialize;

fn yes() -> bool {
    true
}
fn t10() -> u64 {
    10
}
fn agent() -> String {
    "ansible-httpget".into()
}

/// Arguments of `get_url`.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Args {
    /// What to download.
    pub url: String,
    /// Where to: a file, or a directory.
    pub dest: String,
    /// `ALGORITHM:HEX` or `ALGORITHM:URL`.
    #[serde(default)]
    pub checksum: String,
    /// Download every time (replacing the file when the content differs).
    #[serde(default, deserialize_with = "lenient_bool")]
    pub force: bool,
    /// Keep a copy of the file it replaces.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub backup: bool,
    /// Seconds.
    #[serde(default = "t10")]
    pub timeout: u64,
    /// Request headers.
    #[serde(default)]
    pub headers: Option<IndexMap<String, Value>>,
    /// `User-Agent`.
    #[serde(default = "agent")]
    pub http_agent: String,
    /// Check TLS certificates.
    #[serde(default = "yes", deserialize_with = "lenient_bool")]
    pub validate_certs: bool,
    /// Use the proxy the environment names.
    #[serde(default = "yes", deserialize_with = "lenient_bool")]
    pub use_proxy: bool,
    /// Basic auth user.
    #[serde(default, alias = "username")]
    pub url_username: Option<String>,
    /// Basic auth password.
    #[serde(default, alias = "password")]
    pub url_password: Option<String>,
    /// Send credentials without waiting for a challenge (always the case here).
    #[serde(default, deserialize_with = "lenient_bool")]
    pub force_basic_auth: bool,
    /// Ask for and undo a compressed transfer.
    #[serde(default = "yes", deserialize_with = "lenient_bool")]
    pub decompress: bool,
    /// Directory for the download before it is moved into place.
    #[serde(default)]
    pub tmp_dest: Option<String>,
    /// File mode.
    #[serde(default)]
    pub mode: Option<Mode>,
    /// Owner.
    #[serde(default)]
    pub owner: Option<String>,
    /// Group.
    #[serde(default)]
    pub group: Option<String>,
}

/// `checksum`: the algorithm, and the digest or the URL of a checksum file.
fn checksum_spec(a: &Args) -> Result<Option<(String, String)>, String> {
    if a.checksum.is_empty() {
        return Ok(None);
    }
    let Some((algo, value)) = a.checksum.split_once(':') else {
        // ansible-core's words.
        return Err("The checksum parameter has to be in format <algorithm>:<checksum>".into());
    };
    let algo = algo.to_string();
    if !ALGORITHMS.contains(&algo.as_str()) {
        return Err(format!(
            "Could not hash file with algorithm '{algo}'. Available algorithms: {}",
            ALGORITHMS.join(", ")
        ));
    }
    Ok(Some((algo, value.to_string())))
}

fn is_url(s: &str) -> bool {
    ["http://", "https://", "ftp://", "file://"].iter().any(|p| s.starts_with(p))
}

/// A digest as ansible-core compares it: word characters only, lower case, hexadecimal.
fn normalized_digest(s: &str) -> Result<String, String> {
    let d: String = s.chars().filter(|c| c.is_alphanumeric() || *c == '_').collect::<String>().to_lowercase();
    if d.is_empty() || !d.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err("The checksum format is invalid".into());
    }
    Ok(d)
}

/// The file name of a URL's path (`index.html` for none), as ansible-core's `url_filename`.
fn url_filename(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let path = rest.split_once('/').map_or("", |(_, p)| p);
    let path = path.split(['?', '#']).next().unwrap_or("");
    match path.rsplit('/').next() {
        Some(n) if !n.is_empty() => n.to_string(),
        _ => "index.html".into(),
    }
}

/// The digest a checksum file gives for `filename` (lines `DIGEST  NAME`, `DIGEST *NAME`, or
/// a lone digest), as ansible-core reads it.
fn digest_for(filename: &str, text: &str) -> Option<String> {
    let lines: Vec<&str> = text.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    let mut found = None;
    for l in &lines {
        let parts: Vec<&str> = l.splitn(2, char::is_whitespace).collect();
        match parts.as_slice() {
            [digest] if lines.len() == 1 => return Some(digest.to_string()),
            [digest, name] => {
                let name = name.trim_start().trim_start_matches('*');
                let name = name.strip_prefix("./").unwrap_or(name);
                if name == filename && found.is_none() {
                    found = Some(digest.to_string());
                }
            }
            _ => {}
        }
    }
    found
}

/// What a request answered: the temporary directory holding it, the status, the last
/// response's headers, and the body's sha1, checksum and size.
#[derive(Debug, Default)]
struct Answer {
    tmp: Option<String>,
    status: i64,
    reason: String,
    content_length: Option<String>,
    filename: Option<String>,
    sha1: Option<String>,
    sum: Option<String>,
    error: Option<String>,
    /// A `file://` URL: no HTTP status (ansible-core registers `status_code: null`).
    local: bool,
}

impl Answer {
    /// urllib's message for the answer: `OK (N bytes)`, `HTTP Error 304: Not Modified`.
    fn msg(&self) -> String {
        if self.status == 200 {
            format!("OK ({} bytes)", self.content_length.as_deref().unwrap_or("unknown"))
        } else {
            format!("HTTP Error {}: {}", self.status, self.reason)
        }
    }
}

/// The request: into a private temporary directory (`b`: body, `h`: headers), its report on
/// stdout. Credentials, when given, come first on the command's input (see [`input`]).
fn request(
    a: &Args,
    url: &str,
    head: bool,
    since: bool,
    sum: Option<&'static str>,
    auth: Option<(usize, usize)>,
) -> Sh {
    let mut curl = Cmd::new("curl").flag("-sS").flag("-L").opt("--max-time", a.timeout.to_string());
    if head {
        curl = curl.flag("-I");
    }
    if a.decompress {
        curl = curl.flag("--compressed");
    }
    if !a.validate_certs {
        curl = curl.flag("-k");
    }
    if !a.use_proxy {
        curl = curl.opt("--noproxy", "*");
    }
    curl = curl.opt("-A", &a.http_agent);
    if a.force {
        curl = curl.opt("-H", "Cache-Control: no-cache");
    }
    // urllib reads a `file://` URL whole, whatever the time condition.
    let since = since && !url.starts_with("file://");
    if since {
        curl = curl.flag("-z").flag("\"$D\"");
    }
    if auth.is_some() {
        curl = curl.flag("-K").flag("\"$t/k\"");
    }
    let out = if head { "/dev/null" } else { "\"$t/b\"" };
    let curl = curl.flag("-D").flag("\"$t/h\"").flag("-o").flag(out).flag("-w").flag("'%{http_code}'").operand(url);

    let mut wget =
        Cmd::new("wget").flag("-S").opt_eq("--timeout", a.timeout.to_string()).opt_eq("--user-agent", &a.http_agent);
    if head {
        wget = wget.flag("--spider");
    }
    if !a.validate_certs {
        wget = wget.flag("--no-check-certificate");
    }
    if !a.use_proxy {
        wget = wget.flag("--no-proxy");
    }
    if a.force {
        wget = wget.opt_eq("--header", "Cache-Control: no-cache");
    }
    if since {
        wget =
            wget.flag("--header=\"If-Modified-Since: $(TZ=GMT LC_ALL=C date -r \"$D\" '+%a, %d %b %Y %H:%M:%S GMT')\"");
    }
    if auth.is_some() {
        wget = wget.flag("--auth-no-challenge").flag("--config=\"$t/w\"");
    }
    let wget = wget.flag("-O").flag("\"$t/b\"").operand(url);

    let mut s = match &a.tmp_dest {
        Some(dir) => Sh::lit("umask 077; t=$(mktemp -d -p").word(Sh::quoted(dir)).suffix(" .prov-get_url.XXXXXX)"),
        None => Sh::lit("umask 077; t=$(mktemp -d \"${TMPDIR:-/tmp}/.prov-get_url.XXXXXX\")"),
    };
    s = s.suffix(" || exit 1; printf 'tmp %s\\n' \"$t\"; D=").glued(Sh::quoted(&a.dest));
    if let Some((curl_len, wget_len)) = auth {
        // `dd bs=1` reads exactly its count from a pipe.
        s = s
            .then(
                Sh::lit("dd bs=1 count=")
                    .glued(Sh::quoted(&curl_len.to_string()))
                    .suffix(" of=\"$t/k\" 2>/dev/null || exit 1"),
            )
            .then(wget_config(wget_len, "\"$t/w\""));
    }
    let s = s
        .then(Sh::lit("if command -v curl >/dev/null 2>&1; then code=$("))
        .glued(curl)
        .suffix(
            "); rc=$?; [ \"$rc\" -eq 0 ] || { printf 'error curl exited %s\\n' \"$rc\"; exit 0; }; \
             elif command -v wget >/dev/null 2>&1; then",
        )
        .word(wget)
        .suffix(
            " 2>\"$t/h\"; rc=$?; code=$(grep -E '^ *HTTP/' \"$t/h\" | tail -n 1 | awk '{print $2}'); \
             if [ -z \"$code\" ]; then cat \"$t/h\" >&2; printf 'error wget exited %s\\n' \"$rc\"; exit 0; fi; \
             else echo 'get_url needs curl or wget on the target' >&2; exit 127; fi",
        )
        .then(Sh::lit("printf 'status %s\\n' \"$code\""))
        .then(Sh::lit(
            "sed -e 's/^ *//' -e 's/\\r$//' \"$t/h\" | grep -iE '^(HTTP/|content-length:|content-disposition:)' | sed 's/^/hdr /'",
        ))
        .then(Sh::lit(
            "if [ -f \"$t/b\" ]; then s=$(sha1sum < \"$t/b\") && printf 'sha1 %s\\n' \"${s%% *}\"; else printf 'sha1 %s\\n' da39a3ee5e6b4b0d3255bfef95601890afd80709; fi",
        ));
    match sum {
        Some(tool) => s
            .then(Sh::lit("if [ -f \"$t/b\" ]; then s=$("))
            .glued(Sh::lit(tool))
            .suffix(" < \"$t/b\") && printf 'sum %s\\n' \"${s%% *}\"; fi; true"),
        None => s.then(Sh::lit("true")),
    }
}

/// A header value as text.
fn scalar(v: &Value) -> String {
    v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string())
}

/// The command's input: curl's and wget's configs for the credentials and the request headers
/// (kept off their command lines), with their lengths.
fn input(a: &Args) -> (Option<(usize, usize)>, Vec<u8>) {
    let headers: Vec<(String, String)> = a.headers.iter().flatten().map(|(k, v)| (k.clone(), scalar(v))).collect();
    configs(a.url_username.as_deref(), a.url_password.as_deref(), &headers)
}

fn parse_answer(text: &str) -> Answer {
    let mut ans = Answer::default();
    let mut headers: Vec<&str> = Vec::new();
    for line in text.lines() {
        let (key, rest) = line.split_once(' ').unwrap_or((line, ""));
        match key {
            "tmp" => ans.tmp = Some(rest.to_string()),
            "status" => ans.status = rest.trim().parse().unwrap_or(-1),
            "error" => ans.error = Some(rest.to_string()),
            "sha1" => ans.sha1 = Some(rest.trim().to_string()),
            "sum" => ans.sum = Some(rest.trim().to_string()),
            "hdr" => {
                // Only the last response's headers count (after redirects).
                if rest.starts_with("HTTP/") {
                    headers.clear();
                }
                headers.push(rest);
            }
            _ => {}
        }
    }
    for h in headers {
        if h.starts_with("HTTP/") {
            ans.reason = h.splitn(3, ' ').nth(2).unwrap_or("").trim().to_string();
        } else if let Some((k, v)) = h.split_once(':') {
            let v = v.trim();
            if k.eq_ignore_ascii_case("content-length") {
                ans.content_length = Some(v.to_string());
            } else if k.eq_ignore_ascii_case("content-disposition") {
                ans.filename = disposition_filename(v);
            }
        }
    }
    ans
}

/// The file name a `Content-Disposition` header gives, without directories.
fn disposition_filename(v: &str) -> Option<String> {
    let at = v.to_ascii_lowercase().find("filename=")?;
    let raw = v[at + "filename=".len()..].trim();
    let name = match raw.strip_prefix('"') {
        Some(r) => r.split('"').next().unwrap_or(""),
        None => raw.split(';').next().unwrap_or("").trim(),
    };
    let base = name.rsplit(['/', '\\']).next().unwrap_or("");
    (!base.is_empty() && base != "." && base != "..").then(|| base.to_string())
}

/// The `get_url` module.
#[derive(Debug, Default)]
pub struct GetUrl;

/// What `apply` starts from.
pub struct GetPlan {
    /// The digest the download must have (algorithm, hex).
    want: Option<(String, String)>,
    /// The destination as it was (following links).
    dest: Option<FileState>,
}

fn cleanup(tmp: &str) -> Sh {
    Cmd::new("rm").flag("-rf").operand(tmp).build()
}

impl GetUrl {
    /// Runs the request; `Err` is the failed result.
    async fn fetch(
        a: &Args,
        url: &str,
        head: bool,
        since: bool,
        sum: Option<&'static str>,
        cx: &ModuleCtx<'_>,
    ) -> Result<Result<Answer, Outcome>, ModuleError> {
        let (auth, stdin) = input(a);
        let cmd = request(a, url, head, since, sum, auth);
        let out = if auth.is_some() { cx.exec_stdin(cmd, stdin).await? } else { cx.exec(cmd).await? };
        let mut ans = parse_answer(&out.stdout_str());
        // curl's status for a `file://` URL it read is 000: urllib's is an answer without one.
        if url.starts_with("file://") && ans.status == 0 {
            ans.status = 200;
            ans.local = true;
        }
        if out.rc != 0 || ans.error.is_some() {
            if let Some(t) = &ans.tmp {
                cx.exec(cleanup(t)).await?;
            }
            let why = out.stderr_str();
            let why = why.trim();
            let why = if why.is_empty() { ans.error.clone().unwrap_or_default() } else { why.to_string() };
            return Ok(Err(Outcome::failed(format!("Request failed: {why}"))
                .with("status_code", -1)
                .with("url", url)
                .with("dest", a.dest.as_str())));
        }
        Ok(Ok(ans))
    }

    /// The digest `checksum` asks for, fetching a checksum file for `ALGORITHM:URL`.
    async fn wanted(a: &Args, cx: &ModuleCtx<'_>) -> Result<Result<Option<(String, String)>, Outcome>, ModuleError> {
        let Some((algo, value)) = checksum_spec(a).map_err(ModuleError::Args)? else { return Ok(Ok(None)) };
        let value = if is_url(&value) {
            let plain = Args { force: false, checksum: String::new(), ..args_for_checksum_file(a) };
            let ans = match Self::fetch(&plain, &value, false, false, None, cx).await? {
                Ok(ans) => ans,
                Err(o) => return Ok(Err(o)),
            };
            let tmp = ans.tmp.clone().unwrap_or_default();
            let body = cx.get(&format!("{tmp}/b")).await?.unwrap_or_default();
            cx.exec(cleanup(&tmp)).await?;
            if ans.status != 200 {
                return Ok(Err(Outcome::failed("Request failed")
                    .with("status_code", ans.status)
                    .with("response", ans.msg())
                    .with("url", value.as_str())));
            }
            let filename = url_filename(&a.url);
            match digest_for(&filename, &String::from_utf8_lossy(&body)) {
                Some(d) => d,
                None => {
                    return Ok(Err(Outcome::failed(format!(
                        "Unable to find a checksum for file '{filename}' in '{value}'"
                    ))))
                }
            }
        } else {
            value
        };
        match normalized_digest(&value) {
            Ok(d) => Ok(Ok(Some((algo, d)))),
            Err(msg) => Ok(Err(Outcome::failed(msg).with("dest", a.dest.as_str()).with("url", a.url.as_str()))),
        }
    }
}

/// Downloads `url` on the target as ansible-core's `fetch_url` does with its defaults
/// (redirects followed, 10 s, proxies from the environment): the body of a 200 answer, else
/// urllib's message for the answer (`HTTP Error 404: Not Found`, `Request failed: ...`).
pub(crate) async fn download(
    cx: &ModuleCtx<'_>,
    url: &str,
    validate_certs: bool,
) -> Result<Result<Vec<u8>, String>, ModuleError> {
    let a = Args {
        url: url.to_string(),
        timeout: t10(),
        http_agent: agent(),
        validate_certs,
        use_proxy: true,
        decompress: true,
        ..Args::default()
    };
    let ans = match GetUrl::fetch(&a, url, false, false, None, cx).await? {
        Ok(ans) => ans,
        Err(o) => return Ok(Err(o.msg.unwrap_or_default())),
    };
    let tmp = ans.tmp.clone().unwrap_or_default();
    let body = cx.get(&format!("{tmp}/b")).await?.unwrap_or_default();
    cx.exec(cleanup(&tmp)).await?;
    if ans.status != 200 {
        return Ok(Err(ans.msg()));
    }
    Ok(Ok(body))
}

/// A URL as ansible-core's `mask_url` shows it: user and password replaced by `****`.
pub(crate) fn mask_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_string() };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (netloc, tail) = rest.split_at(end);
    let Some((userinfo, host)) = netloc.rsplit_once('@') else { return url.to_string() };
    let masked = match userinfo.split_once(':') {
        Some((_, p)) if !p.is_empty() => "****:****",
        // `user:@host`: ansible-core's replacement finds no `user@` and leaves it.
        Some(_) => return url.to_string(),
        None if userinfo.is_empty() => return url.to_string(),
        None => "****",
    };
    format!("{scheme}://{masked}@{host}{tail}")
}

/// The arguments for fetching a checksum file: the same connection settings.
fn args_for_checksum_file(a: &Args) -> Args {
    Args {
        url: a.url.clone(),
        dest: a.dest.clone(),
        timeout: a.timeout,
        headers: a.headers.clone(),
        http_agent: a.http_agent.clone(),
        validate_certs: a.validate_certs,
        use_proxy: a.use_proxy,
        url_username: a.url_username.clone(),
        url_password: a.url_password.clone(),
        force_basic_auth: a.force_basic_auth,
        decompress: a.decompress,
        tmp_dest: a.tmp_dest.clone(),
        ..Args::default()
    }
}

/// The result fields every answer has.
fn base(a: &Args, dest: &str) -> Outcome {
    Outcome::ok().with("dest", dest).with("url", a.url.as_str()).with("elapsed", 0)
}

#[async_trait]
impl Module for GetUrl {
    const NAME: &'static str = "get_url";
    type Args = Args;
    type Plan = GetPlan;

    fn check_args(a: &Args) -> Result<(), String> {
        checksum_spec(a)?;
        check_owner_group(&a.owner, &a.group)?;
        if a.url.is_empty() || a.dest.is_empty() {
            return Err("url and dest are required".into());
        }
        Ok(())
    }

    async fn plan(&self, a: &Args, cx: &ModuleCtx<'_>) -> Result<Plan<GetPlan>, ModuleError> {
        let want = match Self::wanted(a, cx).await? {
            Ok(w) => w,
            Err(o) => return Ok(Plan::Ok(o)),
        };
        let tool = want.as_ref().and_then(|(algo, _)| checksum_tool(algo));
        let dest = probe(cx, &a.dest, tool, true).await?;
        let is_file = dest.as_ref().is_some_and(|s| s.kind != Kind::Dir);
        let attrs = Attrs::new(&a.mode, &a.owner, &a.group);
        if let (Some(st), Some((_, digest)), false) = (dest.as_ref().filter(|_| is_file), &want, a.force) {
            if st.checksum.as_deref() == Some(digest.as_str()) {
                // ansible-core's words, and its result: nothing downloaded.
                let changes = attrs.changes(st);
                let o = base(a, &a.dest).with("checksum_dest", ()).with("checksum_src", ());
                if changes.is_empty() {
                    let mut o = with_path_info(o, Some(st));
                    o.msg = Some("file already exists".into());
                    return Ok(Plan::Ok(o));
                }
                let ch = Change::new(GetPlan { want, dest }, Action::Modify, "file", a.dest.clone())
                    .with_msg("file already exists but file attributes changed");
                return Ok(Plan::Change(ch));
            }
        }
        if cx.mode.check == CheckMode::Check {
            let since = is_file && !a.force;
            let ans = match Self::fetch(a, &a.url, true, since, None, cx).await? {
                Ok(ans) => ans,
                Err(o) => return Ok(Plan::Ok(o)),
            };
            if let Some(t) = &ans.tmp {
                cx.exec(cleanup(t)).await?;
            }
            if ans.status == 304 {
                let mut o = with_path_info(base(a, &a.dest).with("status_code", 304), dest.as_ref());
                o.msg = Some(ans.msg());
                return Ok(Plan::Ok(o));
            }
            if ans.status != 200 {
                let mut o = Outcome::failed("Request failed")
                    .with("status_code", ans.status)
                    .with("response", ans.msg())
                    .with("url", a.url.as_str())
                    .with("dest", a.dest.as_str());
                o.changed = false;
                return Ok(Plan::Ok(o));
            }
            // ansible-core's result: the (empty) body of the HEAD request against the file.
            let sha1 = match &dest {
                Some(_) if is_file => probe(cx, &a.dest, Some("sha1sum"), true).await?.and_then(|s| s.checksum),
                _ => None,
            };
            let mut ch =
                Change::new(GetPlan { want, dest }, Action::Modify, "file", a.dest.clone()).with_msg(ans.msg());
            let seen = with_path_info(
                base(a, &a.dest)
                    .with("checksum_dest", sha1.map_or(Value::from(()), Value::from))
                    .with("checksum_src", "da39a3ee5e6b4b0d3255bfef95601890afd80709"),
                ch.plan.dest.as_ref().filter(|_| is_file),
            );
            ch.data = seen.data;
            return Ok(Plan::Change(ch));
        }
        let action = if dest.is_some() { Action::Modify } else { Action::Create };
        Ok(Plan::Change(Change::new(GetPlan { want, dest }, action, "file", a.dest.clone())))
    }

    async fn apply(&self, a: &Args, p: GetPlan, cx: &ModuleCtx<'_>) -> Result<Outcome, ModuleError> {
        let attrs = Attrs::new(&a.mode, &a.owner, &a.group);
        let is_dir = p.dest.as_ref().is_some_and(|s| s.kind == Kind::Dir);
        let is_file = p.dest.is_some() && !is_dir;
        if let (Some(st), Some((_, digest)), false) = (p.dest.as_ref().filter(|_| is_file), &p.want, a.force) {
            if st.checksum.as_deref() == Some(digest.as_str()) {
                // Only the attributes.
                let changes = attrs.changes(st);
                if let Some(cmd) = Attrs::command(&a.dest, &changes, false, false) {
                    if let Err(o) = crate::files::run_step(cx, "setting attributes", cmd).await? {
                        return Ok(o);
                    }
                }
                let now = probe(cx, &a.dest, None, true).await?;
                let mut o =
                    with_path_info(base(a, &a.dest).with("checksum_dest", ()).with("checksum_src", ()), now.as_ref());
                o.changed = !changes.is_empty();
                o.msg = Some("file already exists but file attributes changed".into());
                return Ok(o);
            }
        }
        let tool = p.want.as_ref().and_then(|(algo, _)| checksum_tool(algo));
        let ans = match Self::fetch(a, &a.url, false, is_file && !a.force, tool, cx).await? {
            Ok(ans) => ans,
            Err(o) => return Ok(o),
        };
        let tmp = ans.tmp.clone().unwrap_or_default();
        let body = format!("{tmp}/b");
        if ans.status == 304 {
            let mut o = with_path_info(base(a, &a.dest).with("status_code", 304), p.dest.as_ref());
            o.msg = Some(ans.msg());
            return removing(cx, &tmp, o).await;
        }
        if ans.status != 200 {
            let o = Outcome::failed("Request failed")
                .with("status_code", ans.status)
                .with("response", ans.msg())
                .with("url", a.url.as_str())
                .with("dest", a.dest.as_str())
                .with("elapsed", 0);
            return removing(cx, &tmp, o).await;
        }
        let dest = if is_dir {
            let name = ans.filename.clone().unwrap_or_else(|| url_filename(&a.url));
            format!("{}/{}", a.dest.trim_end_matches('/'), name)
        } else {
            a.dest.clone()
        };
        let sha1 = ans.sha1.clone().unwrap_or_default();
        let mut o = base(a, &dest).with("src", body.as_str()).with("checksum_src", sha1.as_str());
        if let Some((_, digest)) = &p.want {
            let got = ans.sum.clone().unwrap_or_default();
            if &got != digest {
                let mut f = Outcome::failed(format!("The checksum for {body} did not match {digest}; it was {got}."));
                f.data = o.data.clone();
                f.data.insert("checksum_dest".into(), Value::from(()));
                return removing(cx, &tmp, f).await;
            }
        }
        let old = probe(cx, &dest, Some("sha1sum"), true).await?;
        if let Some(st) = &old {
            if st.kind == Kind::Dir {
                return removing(cx, &tmp, Outcome::failed(format!("Destination {dest} is a directory"))).await;
            }
        }
        o = o.with("checksum_dest", old.as_ref().and_then(|s| s.checksum.clone()).map_or(Value::from(()), Value::from));
        let write = old.as_ref().and_then(|s| s.checksum.as_deref()) != Some(sha1.as_str());
        if write {
            let out = cx.exec(install(&body, &dest, old.as_ref(), a.backup)).await?;
            let text = out.stdout_str();
            if out.rc != 0 || text.contains("nodir") {
                let parent = dest.rsplit_once('/').map_or(".", |(d, _)| if d.is_empty() { "/" } else { d });
                let msg = if text.contains("nodir") {
                    format!("Destination {parent} does not exist")
                } else {
                    format!("failed to copy {body} to {dest}: {}", out.stderr_str().trim())
                };
                let mut f = Outcome::failed(msg);
                f.data = o.data.clone();
                return removing(cx, &tmp, f).await;
            }
            if let Some(b) = text.lines().find_map(|l| l.strip_prefix("backup ")) {
                o = o.with("backup_file", b);
            }
            o.changed = true;
        }
        cx.exec(cleanup(&tmp)).await?;
        let now = probe(cx, &dest, Some("md5sum"), true).await?;
        if let Some(st) = &now {
            let changes = attrs.changes(st);
            if let Some(cmd) = Attrs::command(&dest, &changes, false, false) {
                if let Err(f) = crate::files::run_step(cx, "setting attributes", cmd).await? {
                    return Ok(f);
                }
                o.changed = true;
            }
        }
        let now = if o.changed { probe(cx, &dest, Some("md5sum"), true).await? } else { now };
        o = o.with("md5sum", now.as_ref().and_then(|s| s.checksum.clone()).map_or(Value::from(()), Value::from));
        o.msg = Some(ans.msg());
        let status = if ans.local { Value::from(()) } else { Value::from(200) };
        Ok(with_path_info(o.with("status_code", status), now.as_ref()))
    }
}

/// `o`, once the temporary directory `tmp` is gone.
async fn removing(cx: &ModuleCtx<'_>, tmp: &str, o: Outcome) -> Result<Outcome, ModuleError> {
    cx.exec(cleanup(tmp)).await?;
    Ok(o)
}

/// Moves the download into place atomically: copied into a private file beside `dest`, given
/// the replaced file's mode and owner (a new file: 0666 less the umask), renamed over it.
fn install(body: &str, dest: &str, old: Option<&FileState>, backup: bool) -> Sh {
    let mut s = Sh::lit("B=")
        .glued(Sh::quoted(body))
        .then(Sh::lit("D="))
        .glued(Sh::quoted(dest))
        .then(Sh::lit("d=$(dirname -- \"$D\"); [ -d \"$d\" ] || { echo nodir; exit 0; }"));
    if backup && old.is_some() {
        s = s.then(Sh::lit(crate::files::BACKUP_D));
    }
    s = s.then(Sh::lit(
        "n=$(mktemp \"$d/.prov-get_url.XXXXXX\") || exit 1; trap 'rm -f \"$n\"' EXIT; cat -- \"$B\" > \"$n\" || exit 1",
    ));
    s = match old {
        Some(st) => s.then(Sh::lit("chmod").word(Sh::quoted(&format!("{:o}", st.mode))).suffix(" -- \"$n\"")).then(
            Sh::lit("chown")
                .word(Sh::quoted(&format!("{}:{}", st.uid, st.gid)))
                .suffix(" -- \"$n\" 2>/dev/null || true"),
        ),
        None => s.then(Sh::lit("chmod \"$(printf '%o' $((0666 & ~0$(umask))))\" -- \"$n\"")),
    };
    s.then(Sh::lit("mv -f -- \"$n\" \"$D\" && trap - EXIT"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_file_names_and_checksum_files_read_as_ansible_core() {
        assert_eq!(url_filename("https://h/a/b/tool-1.2.tar.gz?x=1"), "tool-1.2.tar.gz");
        assert_eq!(url_filename("https://h/"), "index.html");
        assert_eq!(url_filename("https://h"), "index.html");
        let sums = "abc123  tool-1.2.tar.gz\ndef456 *other.bin\n";
        assert_eq!(digest_for("tool-1.2.tar.gz", sums).as_deref(), Some("abc123"));
        assert_eq!(digest_for("other.bin", sums).as_deref(), Some("def456"));
        assert_eq!(digest_for("missing", sums), None);
        assert_eq!(digest_for("any", "abc123\n").as_deref(), Some("abc123"));
        assert_eq!(normalized_digest("AB:CD-12").as_deref(), Ok("abcd12"));
        assert!(normalized_digest("xyz").is_err());
        assert_eq!(disposition_filename("attachment; filename=\"../../etc/passwd\"").as_deref(), Some("passwd"));
        assert_eq!(disposition_filename("attachment; filename=a.txt; size=3").as_deref(), Some("a.txt"));
        assert_eq!(disposition_filename("attachment; filename=\"..\""), None);
    }

    #[test]
    fn the_answer_is_the_last_response_after_redirects() {
        let text = "tmp /tmp/.prov-get_url.x\nstatus 200\nhdr HTTP/1.1 302 Found\nhdr Content-Length: 0\nhdr HTTP/1.0 200 OK\nhdr Content-Length: 11\nsha1 b77a\n";
        let a = parse_answer(text);
        assert_eq!((a.status, a.reason.as_str(), a.content_length.as_deref()), (200, "OK", Some("11")));
        assert_eq!(a.msg(), "OK (11 bytes)");
        let a = parse_answer("tmp /t\nstatus 404\nhdr HTTP/1.0 404 File not found\n");
        assert_eq!(a.msg(), "HTTP Error 404: File not found");
    }

    #[test]
    fn arguments_are_quoted_and_credentials_stay_off_the_command_line() {
        let a = Args {
            url: "http://h/x;rm -rf /".into(),
            dest: "/tmp/a b".into(),
            url_username: Some("u".into()),
            url_password: Some("s3cret".into()),
            ..Args { http_agent: agent(), timeout: 10, validate_certs: true, use_proxy: true, ..Args::default() }
        };
        let (auth, stdin) = input(&a);
        let cmd = request(&a, &a.url, false, true, None, auth);
        assert!(!cmd.as_str().contains("s3cret"), "{}", cmd.as_str());
        assert!(String::from_utf8_lossy(&stdin).contains("s3cret"));
        assert!(cmd.as_str().contains("-- 'http://h/x;rm -rf /'"), "{}", cmd.as_str());
        assert!(cmd.as_str().contains("D='/tmp/a b'"), "{}", cmd.as_str());
    }

    /// Request headers (an `Authorization: Bearer ...` token) go to curl's and wget's private
    /// config files with the credentials, never on their command lines (`ps`), as uri's do.
    #[test]
    fn request_headers_stay_off_the_command_line() {
        let headers = IndexMap::from([
            ("Authorization".to_string(), Value::from("Bearer t0k\"en")),
            ("X-Count".to_string(), Value::from(3)),
        ]);
        let a = Args {
            url: "http://h/x".into(),
            dest: "/tmp/x".into(),
            headers: Some(headers),
            ..Args { http_agent: agent(), timeout: 10, validate_certs: true, use_proxy: true, ..Args::default() }
        };
        let (auth, stdin) = input(&a);
        let cmd = request(&a, &a.url, false, true, None, auth);
        assert!(!cmd.as_str().contains("t0k") && !cmd.as_str().contains("X-Count"), "{}", cmd.as_str());
        // wget's private config keeps the system's and the user's wgetrc (proxies, CAs) first.
        assert!(
            cmd.as_str().contains(
                "{ cat -- \"${SYSTEM_WGETRC:-/etc/wgetrc}\" \"${WGETRC:-$HOME/.wgetrc}\" 2>/dev/null; dd bs=1 count="
            ),
            "{}",
            cmd.as_str()
        );
        let input = String::from_utf8_lossy(&stdin);
        assert!(input.contains("header = \"Authorization: Bearer t0k\\\"en\"\n"), "{input}");
        assert!(input.contains("header = X-Count: 3\n"), "{input}");
    }
}
