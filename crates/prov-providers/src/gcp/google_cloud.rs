//! google.cloud's Compute Engine modules, made as the modules make them: the same REST
//! requests in the same order (`GET` the resource, then insert, update or delete it and
//! follow the operation until DONE), the same comparisons (`GcpRequest`: the request's
//! fields against the resource's, as text, lists in any order), the same messages, and the
//! API's JSON returned as it comes.
//!
//! Their quirks are kept, because a ported playbook reports what it reported under Ansible:
//! an address that differs is deleted and made again; a disk's `setLabels` and `resize` are
//! sent without waiting for or reading their outcome; an operation's error is read only
//! while the operation is not DONE. What differs: prov polls an operation from 0.1 s
//! (doubling to 1 s) where the modules sleep 1 s, and it follows links to Compute Engine
//! only.

use crate::ec2_instance::Report;
use crate::google_cloud::{resource, Call, Field, How, Planned, Resource};
use crate::python::{py_repr, py_str};
use prov_core::template::filters::json_dumps;
use prov_core::template::py_truthy;
use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION, CONTENT_TYPE, USER_AGENT};
use reqwest::Method;
use serde_json::{json, Map, Value as Json};
use std::time::Duration;

type Obj = Map<String, Json>;

/// Where the modules build their links.
const COMPUTE: &str = "https://compute.googleapis.com/compute/v1/";
/// Where the API's own links (`selfLink`, `targetLink`) point.
const WWW: &str = "https://www.googleapis.com/compute/v1/";

/// A failed run: the fields of its result.
struct Fail(Obj);

impl Fail {
    fn msg(m: impl Into<Json>) -> Fail {
        let mut o = Obj::new();
        o.insert("msg".into(), m.into());
        Fail(o)
    }
}

type R<T> = Result<T, Fail>;

/// Runs the module.
pub async fn run(call: &Call) -> Report {
    match Module::new(call).await {
        Ok(m) => {
            let result = m.main().await;
            let warnings = std::mem::take(&mut *m.warnings.lock().unwrap_or_else(|e| e.into_inner()));
            let mut r = match result {
                Ok(fields) => Report { fields, failed: false, warnings: Vec::new() },
                Err(f) => failed(f),
            };
            r.warnings = warnings;
            r
        }
        Err(f) => failed(f),
    }
}

/// What the module would do, from its reads.
pub async fn plan(call: &Call) -> Planned {
    let m = match Module::new(call).await {
        Ok(m) => m,
        Err(f) => return Planned::Nothing(failed(f)),
    };
    let fetch = match m.fetch(&m.self_link(), true).await {
        Ok(f) => f,
        Err(f) => return Planned::Nothing(failed(f)),
    };
    let present = m.present();
    match fetch {
        Some(_) if !present => Planned::Delete,
        Some(f) if m.is_different(&f) => Planned::Update,
        Some(f) => Planned::Nothing(Report { fields: unchanged(f), failed: false, warnings: Vec::new() }),
        None if present => Planned::Create,
        None => Planned::Nothing(Report { fields: unchanged(Json::Null), failed: false, warnings: Vec::new() }),
    }
}

fn failed(f: Fail) -> Report {
    let mut fields = f.0;
    fields.entry("changed").or_insert(Json::Bool(false));
    Report { fields, failed: true, warnings: Vec::new() }
}

fn unchanged(fetch: Json) -> Obj {
    let mut o = match fetch {
        Json::Object(o) => o,
        _ => Obj::new(),
    };
    o.insert("changed".into(), Json::Bool(false));
    o
}

/// An authenticated session on the Compute API.
struct Session {
    http: reqwest::Client,
    headers: HeaderMap,
    endpoint: Option<String>,
}

/// A response as the module reads it, with what it reports of the request on failure.
struct Response {
    status: u16,
    text: String,
    method: String,
    url: String,
    body: Option<String>,
}

impl Session {
    /// `GcpSession`: the checks of the authentication arguments, then the credentials
    /// `auth_kind` names (none for an `http://` endpoint).
    async fn new(call: &Call) -> R<Session> {
        let p = |k: &str| call.param(k);
        let kind = p("auth_kind").as_str().unwrap_or_default().to_string();
        if !p("service_account_email").is_null() && kind != "machineaccount" {
            return Err(Fail::msg("Service Account Email only works with Machine Account-based authentication"));
        }
        if (!p("service_account_file").is_null() || !p("service_account_contents").is_null())
            && kind != "serviceaccount"
        {
            return Err(Fail::msg("Service Account File only works with Service Account-based authentication"));
        }
        if !p("access_token").is_null() && kind != "accesstoken" {
            return Err(Fail::msg("Supplying access_token requires auth_kind set to accesstoken"));
        }
        let mut headers = HeaderMap::new();
        let agent = format!("prov/{} google.cloud.{}", env!("CARGO_PKG_VERSION"), call.module);
        headers.insert(USER_AGENT, HeaderValue::from_str(&agent).map_err(|e| Fail::msg(e.to_string()))?);
        let plain = call.endpoint.as_deref().is_some_and(|e| e.starts_with("http://"));
        let auth = credentials(call, &kind, plain).await?;
        if !plain {
            headers.extend(auth);
        }
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| Fail::msg(format!("cannot make an HTTP client: {e}")))?;
        Ok(Session { http, headers, endpoint: call.endpoint.clone() })
    }

    /// Where a link of the module or of the API is fetched from.
    fn url(&self, link: &str) -> R<String> {
        let rest = link.strip_prefix(COMPUTE).or_else(|| link.strip_prefix(WWW)).ok_or_else(|| {
            Fail::msg(format!("prov follows links to the Compute Engine API only, and the API answered with {link}"))
        })?;
        Ok(match &self.endpoint {
            Some(e) => format!("{}/compute/v1/{rest}", e.trim_end_matches('/')),
            None => link.to_string(),
        })
    }

    async fn send(&self, method: Method, link: &str, body: Option<&Json>) -> R<Response> {
        self.send_query(method, link, body, &[]).await
    }

    async fn send_query(&self, method: Method, link: &str, body: Option<&Json>, query: &[(&str, &str)]) -> R<Response> {
        let url = self.url(link)?;
        let text_body = match body {
            Some(b) => Some(json_dumps(b, None, false).map_err(Fail::msg)?),
            None => None,
        };
        let mut req = self.http.request(method.clone(), &url).headers(self.headers.clone());
        if !query.is_empty() {
            req = req.query(query);
        }
        if let Some(t) = &text_body {
            req = req.header(CONTENT_TYPE, "application/json").body(t.clone());
        }
        let r = req.send().await.map_err(|e| Fail::msg(format!("GCP request {method} {link} failed: {e}")))?;
        let status = r.status().as_u16();
        let text = r.text().await.map_err(|e| Fail::msg(format!("GCP response to {method} {link}: {e}")))?;
        Ok(Response { status, text, method: method.to_string(), url: link.to_string(), body: text_body })
    }

    /// `fetch_resource`: the resource at `link`, or None when it is not there.
    async fn fetch(&self, link: &str, allow_not_found: bool) -> R<Option<Json>> {
        let r = self.send(Method::GET, link, None).await?;
        return_if_object(&r, allow_not_found)
    }

    /// `wait_for_completion`: the operation a request started, followed until DONE (None
    /// when the response held none).
    async fn wait_done(&self, r: &Response, op_link: &str) -> R<Option<Json>> {
        let Some(mut op) = return_if_object(r, false)? else {
            return Ok(None);
        };
        let op_uri = op_link.replace("{op_id}", &py_str(navigate(&op, &["name"])));
        let mut delay = Duration::from_millis(100);
        while navigate(&op, &["status"]).as_str() != Some("DONE") {
            let errors = navigate(&op, &["error", "errors"]);
            if !errors.is_null() {
                return Err(Fail::msg(errors.clone()));
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(1));
            op = self.fetch(&op_uri, false).await?.unwrap_or(Json::Null);
        }
        Ok(Some(op))
    }

    /// A request whose outcome the module does not read.
    async fn post_unread(&self, link: &str, body: &Json) -> R<()> {
        self.send(Method::POST, link, Some(body)).await.map(|_| ())
    }
}

/// Pages of one listing read at most (a listing whose tokens never end stops there).
const MAX_PAGES: usize = 10_000;

/// Lists the instances of a `plugin: google.cloud.gcp_compute` file as the plugin does: one
/// `aggregated/instances` listing per project (with the filters, page by page), the
/// instances of the zones asked for (all when none), zone by zone in the order the API
/// gives them.
pub async fn list_instances(
    o: &crate::gcp_compute::GcpComputeOptions,
    endpoint: Option<String>,
) -> Result<Vec<Obj>, String> {
    let call = Call { module: "gcp_compute", params: o.auth.clone(), endpoint };
    let text = |f: Fail| py_str(f.0.get("msg").unwrap_or(&Json::Null));
    let s = Session::new(&call).await.map_err(text)?;
    let query = crate::gcp_compute::query(&o.filters);
    let mut out = Vec::new();
    for project in &o.projects {
        let link = format!("{WWW}projects/{}/aggregated/instances", percent_encode(project));
        let mut zones: Vec<(String, Vec<Json>)> = Vec::new();
        let mut token: Option<String> = None;
        for page_number in 1.. {
            if page_number > MAX_PAGES {
                return Err(format!("{link}: more than {MAX_PAGES} pages of instances; stopped reading"));
            }
            let mut q = vec![("filter", query.as_str())];
            if let Some(t) = &token {
                q.push(("pageToken", t.as_str()));
            }
            let r = s.send_query(Method::GET, &link, None, &q).await.map_err(text)?;
            // The plugin's `_return_if_object` reads no status: a 404 or 204 lists nothing.
            if r.status == 404 || r.status == 204 {
                break;
            }
            let page: Json =
                serde_json::from_str(&r.text).map_err(|e| format!("Invalid JSON response with error: {e}"))?;
            let errors = navigate(&page, &["error", "errors"]);
            if py_truthy(errors) {
                return Err(py_str(errors));
            }
            for (zone, body) in page.get("items").and_then(Json::as_object).into_iter().flatten() {
                if let Some(items) = body.get("instances").and_then(Json::as_array) {
                    match zones.iter_mut().find(|(z, _)| z == zone) {
                        Some((_, v)) => v.extend(items.iter().cloned()),
                        None => zones.push((zone.clone(), items.clone())),
                    }
                }
            }
            match page.get("nextPageToken").and_then(Json::as_str).filter(|t| !t.is_empty()) {
                Some(t) => token = Some(t.to_string()),
                None => break,
            }
        }
        for (key, instances) in zones {
            let zone = key.get(6..).unwrap_or_default();
            if o.zones.is_empty() || o.zones.iter().any(|z| z == zone) {
                out.extend(instances.into_iter().filter_map(|i| match i {
                    Json::Object(m) => Some(m),
                    _ => None,
                }));
            }
        }
    }
    Ok(out)
}

/// The credentials `auth_kind` names, as request headers, checked as the modules check them.
async fn credentials(call: &Call, kind: &str, plain: bool) -> R<HeaderMap> {
    use google_cloud_auth::credentials::{mds, service_account, Builder, Credentials};
    let scopes: Vec<String> =
        call.param("scopes").as_array().into_iter().flatten().map(py_str).collect::<Vec<String>>();
    let creds: Credentials = match kind {
        "accesstoken" => {
            let Some(token) = call.param("access_token").as_str() else {
                return Err(Fail::msg("An access token must be supplied when auth_kind is accesstoken"));
            };
            let mut h = HeaderMap::new();
            let mut v = HeaderValue::from_str(&format!("Bearer {token}"))
                .map_err(|_| Fail::msg("access_token is not a valid HTTP header value"))?;
            v.set_sensitive(true);
            h.insert(AUTHORIZATION, v);
            return Ok(h);
        }
        "serviceaccount" => {
            let key: Json = if let Some(file) = call.param("service_account_file").as_str() {
                let path = std::fs::canonicalize(file).unwrap_or_else(|_| file.into());
                let text = std::fs::read_to_string(&path).map_err(|e| {
                    let reason = e.to_string();
                    let reason = reason.split(" (os error").next().unwrap_or_default().to_string();
                    Fail::msg(format!("Unable to read service_account_file at {}: {reason}", path.display()))
                })?;
                serde_json::from_str(&text)
                    .map_err(|e| Fail::msg(format!("Unable to read service_account_file at {}: {e}", path.display())))?
            } else if let Some(contents) = call.param("service_account_contents").as_str() {
                serde_json::from_str(contents)
                    .map_err(|e| Fail::msg(format!("Unable to decode service_account_contents as JSON: {e}")))?
            } else {
                return Err(Fail::msg(
                    "Service Account authentication requires setting either service_account_file or \
                     service_account_contents",
                ));
            };
            if plain {
                return Ok(HeaderMap::new());
            }
            service_account::Builder::new(key)
                .with_access_specifier(service_account::AccessSpecifier::from_scopes(scopes))
                .build()
                .map_err(|e| Fail::msg(format!("the service account key is not usable: {e}")))?
        }
        "machineaccount" | "application" if plain => return Ok(HeaderMap::new()),
        "machineaccount" => mds::Builder::default()
            .with_scopes(scopes)
            .build()
            .map_err(|e| Fail::msg(format!("no metadata server credentials: {e}")))?,
        "application" => Builder::default()
            .with_scopes(scopes)
            .build()
            .map_err(|e| Fail::msg(format!("no application default credentials: {e}")))?,
        other => return Err(Fail::msg(format!("Credential type '{other}' not implemented"))),
    };
    match creds.headers(http::Extensions::new()).await {
        Ok(google_cloud_auth::credentials::CacheableResource::New { data, .. }) => Ok(data),
        Ok(google_cloud_auth::credentials::CacheableResource::NotModified) => Ok(HeaderMap::new()),
        Err(e) => Err(Fail::msg(format!("cannot get a Google access token ({kind}): {e}"))),
    }
}

/// `return_if_object`: None for a 404 (when allowed) or a 204; the module's failures for
/// an error status, a body that is not JSON, or a body with `error.errors`.
fn return_if_object(r: &Response, allow_not_found: bool) -> R<Option<Json>> {
    if (allow_not_found && r.status == 404) || r.status == 204 {
        return Ok(None);
    }
    let invalid = || Fail::msg(format!("Invalid JSON response with error: {}", r.text));
    let result: Json = serde_json::from_str(&r.text).map_err(|_| invalid())?;
    if r.status >= 400 {
        let mut f = Fail::msg(format!("GCP returned error: {}", py_repr(&result)));
        f.0.insert("request".into(), json!({"url": r.url, "body": r.body, "method": r.method}));
        return Err(f);
    }
    let errors = navigate(&result, &["error", "errors"]);
    if py_truthy(errors) {
        return Err(Fail::msg(errors.clone()));
    }
    Ok(Some(result))
}

/// `navigate_hash`: the value at `path`, null where it stops.
fn navigate<'a>(source: &'a Json, path: &[&str]) -> &'a Json {
    let mut v = source;
    for k in path {
        match v.get(k) {
            Some(x) => v = x,
            None => return &Json::Null,
        }
    }
    v
}

/// `str.format(**module.params)` of a link template: each `{param}` as Python's `str()`,
/// percent-encoded (a name with `/` or `?` stays one path segment; the API refuses it as a
/// name, where the module would have sent it to another path).
fn format_link(template: &str, params: &Obj) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(i) = rest.find('{') {
        let Some(j) = rest[i..].find('}') else { break };
        out.push_str(&rest[..i]);
        let key = &rest[i + 1..i + j];
        if key == "op_id" {
            out.push_str("{op_id}");
        } else {
            out.push_str(&percent_encode(&py_str(params.get(key).unwrap_or(&Json::Null))));
        }
        rest = &rest[i + j + 1..];
    }
    out.push_str(rest);
    out
}

/// Every byte but the URI's unreserved characters as `%XX` (dots too in `.` and `..`,
/// which a URL would take as a step up).
fn percent_encode(s: &str) -> String {
    let dots = s == "." || s == "..";
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'~') || (b == b'.' && !dots) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Python's `==` of two JSON values (numbers by value, `True == 1`).
fn py_eq(a: &Json, b: &Json) -> bool {
    fn num(v: &Json) -> Option<f64> {
        match v {
            Json::Number(n) => n.as_f64(),
            Json::Bool(b) => Some(f64::from(u8::from(*b))),
            _ => None,
        }
    }
    match (a, b) {
        (Json::Array(x), Json::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(p, q)| py_eq(p, q)),
        (Json::Object(x), Json::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| py_eq(v, w)))
        }
        _ => match (num(a), num(b)) {
            (Some(x), Some(y)) => x == y,
            _ => a == b,
        },
    }
}

/// `GcpRequest(request) != GcpRequest(response)`: whether the request's fields differ from
/// the response's, compared as the modules compare them.
pub(crate) fn gcp_differs(request: &Json, response: &Json) -> bool {
    py_truthy(&compare_value(request, response))
}

/// `GcpRequest._compare_value`: the difference (null, or a falsy value, when none).
fn compare_value(req: &Json, resp: &Json) -> Json {
    if resp.is_null() {
        return Json::Null;
    }
    match req {
        Json::Array(items) => {
            let resp_items: Vec<Json> = match convert(resp) {
                Json::Array(a) => a,
                Json::String(s) => s.chars().map(|c| Json::String(c.to_string())).collect(),
                other => vec![other],
            };
            let diff: Vec<Json> = items
                .iter()
                .map(convert)
                .filter(|r| !resp_items.iter().any(|x| !py_truthy(&compare_value(r, x))))
                .filter(py_truthy)
                .collect();
            Json::Array(diff)
        }
        Json::Object(m) => {
            let mut diff = Obj::new();
            for (k, v) in m {
                if let Some(x) = resp.get(k).filter(|x| !x.is_null()) {
                    let d = compare_value(v, x);
                    if py_truthy(&d) {
                        diff.insert(k.clone(), d);
                    }
                }
            }
            Json::Object(diff)
        }
        Json::Bool(b) => {
            let same = match resp {
                Json::Bool(x) => x == b,
                other => py_str(other) == if *b { "true" } else { "false" },
            };
            if same {
                Json::Null
            } else {
                Json::Bool(true)
            }
        }
        other if py_str(other) != py_str(resp) => other.clone(),
        _ => Json::Null,
    }
}

/// `GcpRequest._convert_value`: every scalar as its text.
fn convert(v: &Json) -> Json {
    match v {
        Json::Array(a) => Json::Array(a.iter().map(convert).collect()),
        Json::Object(m) => Json::Object(m.iter().map(|(k, x)| (k.clone(), convert(x))).collect()),
        other => Json::String(py_str(other)),
    }
}

/// `replace_resource_dict(item, key)`: a registered resource by one of its fields.
fn replace_resource_dict(item: &Json, key: &str) -> Json {
    match item {
        Json::Array(a) => Json::Array(a.iter().map(|i| replace_resource_dict(i, key)).collect()),
        x if !py_truthy(x) => x.clone(),
        x => x.get(key).cloned().unwrap_or(Json::Null),
    }
}

/// `remove_nones_from_dict`: the pairs without null, `{}` and `[]` values; null when none
/// is left.
fn remove_nones(pairs: Vec<(&str, Json)>) -> Json {
    let o: Obj = pairs
        .into_iter()
        .filter(|(_, v)| {
            !(v.is_null() || v.as_object().is_some_and(Map::is_empty) || v.as_array().is_some_and(Vec::is_empty))
        })
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    if o.is_empty() {
        Json::Null
    } else {
        Json::Object(o)
    }
}

/// `metadata_decoder`: `{items: [{key, value}]}` as a mapping (anything else: `{}`).
fn metadata_decoder(m: &Json) -> Json {
    let mut out = Obj::new();
    for item in m.get("items").and_then(Json::as_array).into_iter().flatten() {
        out.insert(py_str(item.get("key").unwrap_or(&Json::Null)), item.get("value").cloned().unwrap_or(Json::Null));
    }
    Json::Object(out)
}

/// `decode_response` of gcp_compute_instance.
fn decode_response(mut r: Json) -> Json {
    if let Some(m) = r.get("metadata").filter(|m| !m.is_null()) {
        let decoded = metadata_decoder(m);
        r["metadata"] = decoded;
    }
    r
}

/// A nested field's `from_response`: the response's values under the API's names.
fn from_response(item: &Json, fields: &[Field]) -> Json {
    remove_nones(
        fields.iter().map(|fd| (fd.api, field_from_response(item.get(fd.api).unwrap_or(&Json::Null), fd))).collect(),
    )
}

fn field_from_response(v: &Json, fd: &Field) -> Json {
    match fd.how {
        How::Value(_) | How::Link(_) | How::DiskType | How::MachineType | How::Metadata | How::Network => v.clone(),
        How::Obj(fs) => from_response(v, fs),
        How::Arr(fs) => Json::Array(v.as_array().into_iter().flatten().map(|i| from_response(i, fs)).collect()),
        How::ObjNotRead(_) => Json::Null,
    }
}

/// A module and its session.
struct Module<'a> {
    call: &'a Call,
    s: Session,
    /// The module's warnings (`module.warn`).
    warnings: std::sync::Mutex<Vec<String>>,
}

impl<'a> Module<'a> {
    async fn new(call: &'a Call) -> R<Module<'a>> {
        Ok(Module { call, s: Session::new(call).await?, warnings: Default::default() })
    }

    fn p(&self, k: &str) -> Json {
        self.call.param(k).clone()
    }

    fn link(&self, template: &str) -> String {
        format_link(&format!("{COMPUTE}{template}"), &self.call.params)
    }

    fn instance(&self) -> bool {
        self.call.module == "gcp_compute_instance"
    }

    /// `fetch_resource`: gcp_compute_instance's `return_if_object` decodes the metadata.
    async fn fetch(&self, link: &str, allow_not_found: bool) -> R<Option<Json>> {
        let r = self.s.fetch(link, allow_not_found).await?;
        Ok(if self.instance() { r.map(decode_response) } else { r })
    }

    /// `wait_for_operation`: the operation followed until DONE, then the resource it
    /// targets (gcp_compute_instance: decoded once more, `{}` when it is gone).
    async fn wait_for_operation(&self, r: &Response) -> R<Option<Json>> {
        let Some(op) = self.s.wait_done(r, &self.op_link()).await? else {
            return Ok(Some(json!({})));
        };
        let fetched = match navigate(&op, &["targetLink"]).as_str() {
            Some(target) => self.fetch(target, true).await?,
            None => None,
        };
        if self.instance() {
            return Ok(Some(fetched.map(decode_response).unwrap_or_else(|| json!({}))));
        }
        Ok(fetched)
    }

    fn present(&self) -> bool {
        self.call.param("state").as_str() != Some("absent")
    }

    /// The module's resource.
    fn resource(&self) -> &'static Resource {
        resource(self.call.module).expect("a google.cloud module prov has")
    }

    /// `self_link(module)`.
    fn self_link(&self) -> String {
        self.link(&format!("{}/{{name}}", self.resource().collection))
    }

    /// `collection(module)`.
    fn collection(&self) -> String {
        self.link(self.resource().collection)
    }

    /// `async_op_url(module)`, with `{op_id}` left in.
    fn op_link(&self) -> String {
        self.link(self.resource().operations)
    }

    /// `resource_to_request(module)`: the resource's kind and fields, without their falsy
    /// values (False kept).
    fn resource_to_request(&self) -> Json {
        let r = self.resource();
        let fields = r.fields.iter().map(|fd| (fd.api, self.field_request(&self.p(fd.arg), fd)));
        Json::Object(
            std::iter::once(("kind", json!(r.kind)))
                .chain(fields)
                .filter(|(_, v)| py_truthy(v) || *v == Json::Bool(false))
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
        )
    }

    /// A nested field's `to_request`.
    fn to_request(&self, item: &Json, fields: &[Field]) -> Json {
        remove_nones(
            fields.iter().map(|fd| (fd.api, self.field_request(item.get(fd.arg).unwrap_or(&Json::Null), fd))).collect(),
        )
    }

    fn field_request(&self, v: &Json, fd: &Field) -> Json {
        match fd.how {
            How::Value(_) => v.clone(),
            How::Link(key) => replace_resource_dict(v, key),
            How::DiskType => self.disk_type_link(v),
            How::MachineType => self.machine_type_link(v),
            How::Metadata => match v {
                Json::Object(m) => {
                    let items: Vec<Json> = m.iter().map(|(k, v)| json!({"key": k, "value": v})).collect();
                    json!({ "items": items })
                }
                other => other.clone(),
            },
            How::Network => match replace_resource_dict(v, "selfLink") {
                Json::String(n) if !n.starts_with(&format!("{WWW}projects/")) => {
                    json!(format!("{WWW}projects/{}/{n}", py_str(self.call.param("project"))))
                }
                other => other,
            },
            How::Obj(fs) | How::ObjNotRead(fs) => self.to_request(v, fs),
            How::Arr(fs) => Json::Array(v.as_array().into_iter().flatten().map(|i| self.to_request(i, fs)).collect()),
        }
    }

    /// `machine_type_selflink`: a machine type's name as its link (on www.googleapis.com).
    fn machine_type_link(&self, v: &Json) -> Json {
        let Some(name) = v.as_str() else {
            return v.clone();
        };
        static LINK: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
        let re = LINK.get_or_init(|| {
            regex::Regex::new(r"^https://www\.googleapis\.com/compute/v1/projects/.*/zones/.*/machineTypes/")
                .expect("regex")
        });
        if re.is_match(name) {
            return json!(name);
        }
        json!(format_link(&format!("{WWW}projects/{{project}}/zones/{{zone}}/machineTypes/"), &self.call.params) + name)
    }

    /// `disk_type_selflink`: a disk type's name as its link in the zone.
    fn disk_type_link(&self, v: &Json) -> Json {
        let Some(name) = v.as_str() else {
            return v.clone();
        };
        static LINK: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
        let re = LINK.get_or_init(|| {
            regex::Regex::new(r"^https://compute\.googleapis\.com/compute/v1/projects/.*/zones/.*/diskTypes/")
                .expect("regex")
        });
        if re.is_match(name) {
            return json!(name);
        }
        json!(self.link("projects/{project}/zones/{zone}/diskTypes/") + name)
    }

    /// `response_to_hash(module, response)`: the fields compared (options of their own as
    /// their `from_response` reads them; some from the parameters).
    fn response_to_hash(&self, r: &Json) -> Json {
        let res = self.resource();
        let mut o = Obj::new();
        for k in res.compared {
            let v = match (res.from_params.iter().find(|(f, _)| f == k), res.fields.iter().find(|fd| fd.api == *k)) {
                (Some((_, param)), _) => self.p(param),
                (None, Some(fd)) if matches!(fd.how, How::Obj(_) | How::Arr(_)) => {
                    field_from_response(r.get(*k).unwrap_or(&Json::Null), fd)
                }
                _ => r.get(*k).cloned().unwrap_or(Json::Null),
            };
            o.insert((*k).into(), v);
        }
        Json::Object(o)
    }

    /// `is_different(module, response)`.
    fn is_different(&self, fetch: &Json) -> bool {
        let mut request = self.resource_to_request();
        if self.instance() {
            request = decode_response(request);
        }
        let response = self.response_to_hash(fetch);
        let (Some(req), Some(resp)) = (request.as_object(), response.as_object()) else { return true };
        let response_vals: Obj =
            resp.iter().filter(|(k, _)| req.contains_key(*k)).map(|(k, v)| (k.clone(), v.clone())).collect();
        let request_vals: Obj =
            req.iter().filter(|(k, _)| resp.contains_key(*k)).map(|(k, v)| (k.clone(), v.clone())).collect();
        gcp_differs(&Json::Object(request_vals), &Json::Object(response_vals))
    }

    async fn create(&self) -> R<Option<Json>> {
        let r = self.s.send(Method::POST, &self.collection(), Some(&self.resource_to_request())).await?;
        self.wait_for_operation(&r).await
    }

    async fn delete(&self) -> R<Option<Json>> {
        let r = self.s.send(Method::DELETE, &self.self_link(), None).await?;
        self.wait_for_operation(&r).await
    }

    /// `update(module, ...)`: what gcp_compute_instance's returns (the others' is unused).
    async fn update(&self, fetch: &Json) -> R<Option<Json>> {
        if self.call.module == "gcp_compute_address" {
            self.delete().await?;
            self.create().await?;
            return Ok(None);
        }
        if self.instance() {
            self.instance_update_fields(fetch).await?;
            return self.fetch(&self.self_link(), true).await;
        }
        if self.call.module == "gcp_compute_firewall" {
            let r = self.s.send(Method::PATCH, &self.self_link(), Some(&self.resource_to_request())).await?;
            self.wait_for_operation(&r).await?;
            return Ok(None);
        }
        let request = self.resource_to_request();
        let response = self.response_to_hash(fetch);
        let field = |v: &Json, k: &str| v.get(k).cloned().unwrap_or(Json::Null);
        if !py_eq(&field(&response, "labels"), &field(&request, "labels")) {
            let body = json!({"labelFingerprint": field(&response, "labelFingerprint"), "labels": self.p("labels")});
            self.s.post_unread(&self.link("projects/{project}/zones/{zone}/disks/{name}/setLabels"), &body).await?;
        }
        if !py_eq(&field(&response, "sizeGb"), &field(&request, "sizeGb")) {
            let body = json!({"sizeGb": self.p("size_gb")});
            self.s.post_unread(&self.link("projects/{project}/zones/{zone}/disks/{name}/resize"), &body).await?;
        }
        self.fetch(&self.self_link(), true).await
    }

    /// gcp_compute_instance's `update_fields`: each request whose field differs (as Python's
    /// `!=` sees it), none of them read.
    async fn instance_update_fields(&self, fetch: &Json) -> R<()> {
        let request = self.resource_to_request();
        let response = self.response_to_hash(fetch);
        let field = |v: &Json, k: &str| v.get(k).cloned().unwrap_or(Json::Null);
        let differs = |k: &str| !py_eq(&field(&response, k), &field(&request, k));
        let www = |t: &str| format_link(&format!("{WWW}{t}"), &self.call.params);
        if differs("deletionProtection") {
            let t = "projects/{project}/zones/{zone}/instances/{name}/setDeletionProtection?deletionProtection={deletion_protection}";
            self.s.post_unread(&www(t), &json!({})).await?;
        }
        if differs("labels") {
            let body = json!({"labelFingerprint": field(&response, "labelFingerprint"), "labels": self.p("labels")});
            self.s.post_unread(&self.link("projects/{project}/zones/{zone}/instances/{name}/setLabels"), &body).await?;
        }
        if differs("machineType") {
            let body = json!({"machineType": self.machine_type_link(&self.p("machine_type"))});
            self.s
                .post_unread(&self.link("projects/{project}/zones/{zone}/instances/{name}/setMachineType"), &body)
                .await?;
        }
        if differs("shieldedInstanceConfig") {
            let c = self.p("shielded_instance_config");
            let get = |k: &str| c.get(k).cloned().unwrap_or(Json::Null);
            let body = json!({
                "enableSecureBoot": get("enable_secure_boot"),
                "enableVtpm": get("enable_vtpm"),
                "enableIntegrityMonitoring": get("enable_integrity_monitoring"),
            });
            let t = "projects/{project}/zones/{zone}/instances/{name}/updateShieldedInstanceConfig";
            self.s.post_unread(&www(t), &body).await?;
        }
        if differs("disks") {
            self.extra_disks_update(&request, &response).await?;
        }
        Ok(())
    }

    /// `extra_disks_update`: the request's persistent non-boot disks the instance lacks,
    /// attached (without reading the outcome).
    async fn extra_disks_update(&self, request: &Json, response: &Json) -> R<()> {
        let mut wanted: Vec<String> = Vec::new();
        for d in request.get("disks").and_then(Json::as_array).into_iter().flatten() {
            if d.get("boot").is_some_and(py_truthy) {
                continue;
            }
            match d.get("source").filter(|s| py_truthy(s)) {
                Some(s) => wanted.push(py_str(s)),
                None => self.warnings.lock().unwrap_or_else(|e| e.into_inner()).push(
                    "Non-persistent disks can only be attached at creation time, changed status might be incorrect."
                        .into(),
                ),
            }
        }
        let have: Vec<String> = response
            .get("disks")
            .and_then(Json::as_array)
            .into_iter()
            .flatten()
            .filter(|d| d.get("source").is_some_and(py_truthy) && !d.get("boot").is_some_and(py_truthy))
            .map(|d| py_str(&d["source"]))
            .collect();
        wanted.dedup();
        for source in wanted.into_iter().filter(|s| !have.contains(s)) {
            let link = self.link("projects/{project}/zones/{zone}/instances/{name}/attachDisk");
            self.s.post_unread(&link, &json!({ "source": source })).await?;
        }
        Ok(())
    }

    /// `InstancePower.run`: the instance started or stopped as `status` asks.
    async fn instance_power(&self, current: &Json) -> R<()> {
        let desired = self.p("status");
        if !gcp_differs(&json!({ "status": current }), &json!({ "status": desired })) {
            return Ok(());
        }
        let www = |t: &str| format_link(&format!("{WWW}{t}"), &self.call.params);
        let link = match desired.as_str() {
            Some("RUNNING") => www("projects/{project}/zones/{zone}/instances/{name}/start"),
            Some("TERMINATED") => {
                www("projects/{project}/zones/{zone}/instances/{name}/stop?discardLocalSsd={discard_local_ssd}")
            }
            Some("SUSPENDED") => return Err(Fail::msg("Instances cannot be suspended using Ansible")),
            _ => return Ok(()),
        };
        let r = self.s.send(Method::POST, &link, None).await?;
        self.wait_for_operation(&r).await?;
        Ok(())
    }

    /// `main()` after the arguments are read.
    async fn main(&self) -> R<Obj> {
        let mut fetch = self.fetch(&self.self_link(), true).await?;
        let mut changed = false;
        match (&fetch, self.present()) {
            (Some(f), true) => {
                if self.is_different(f) {
                    let f = f.clone();
                    let updated = self.update(&f).await?;
                    fetch = if self.instance() { updated } else { self.fetch(&self.self_link(), true).await? };
                    changed = true;
                }
            }
            (Some(_), false) => {
                self.delete().await?;
                fetch = Some(json!({}));
                changed = true;
            }
            (None, true) => {
                fetch = self.create().await?;
                changed = true;
            }
            (None, false) => fetch = Some(json!({})),
        }
        let Some(Json::Object(mut out)) = fetch else {
            // The module calls `fetch.update(...)` on None here and ends with a traceback.
            let mut f = Fail::msg("MODULE FAILURE\nSee stdout/stderr for the exact error");
            f.0.insert(
                "module_stderr".into(),
                json!("AttributeError: 'NoneType' object has no attribute 'update' (the resource was not found after its operation)"),
            );
            f.0.insert("rc".into(), json!(1));
            return Err(f);
        };
        if self.instance() && !out.is_empty() {
            self.instance_power(out.get("status").unwrap_or(&Json::Null)).await?;
            let status = self.p("status");
            if py_truthy(&status) {
                out.insert("status".into(), status);
            }
        }
        out.insert("changed".into(), Json::Bool(changed));
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_compare_with_responses_as_google_cloud_compares_them() {
        // Text against numbers, extra response fields, list order, booleans as text.
        assert!(!gcp_differs(&json!({"sizeGb": 10, "name": "d"}), &json!({"sizeGb": "10", "name": "d", "id": "1"})));
        assert!(gcp_differs(&json!({"sizeGb": 20}), &json!({"sizeGb": "10"})));
        assert!(!gcp_differs(&json!({"l": ["b", "a"]}), &json!({"l": ["a", "b", "c"]})));
        assert!(gcp_differs(&json!({"l": ["d"]}), &json!({"l": ["a"]})));
        assert!(!gcp_differs(&json!({"b": true}), &json!({"b": "true"})));
        assert!(gcp_differs(&json!({"b": false}), &json!({"b": true})));
        // A value the response lacks is no difference.
        assert!(!gcp_differs(&json!({"description": "x"}), &json!({"description": null})));
        // Links on compute.googleapis.com are not the API's www.googleapis.com ones.
        assert!(gcp_differs(
            &json!({"type": format!("{COMPUTE}projects/p/zones/z/diskTypes/pd-ssd")}),
            &json!({"type": format!("{WWW}projects/p/zones/z/diskTypes/pd-ssd")})
        ));
    }

    #[test]
    fn links_are_formatted_with_pythons_str_of_each_parameter() {
        let params = json!({"project": null, "region": "us-central1", "name": "a"});
        assert_eq!(
            format_link(
                "x/projects/{project}/regions/{region}/addresses/{name}/{op_id}",
                params.as_object().expect("obj")
            ),
            "x/projects/None/regions/us-central1/addresses/a/{op_id}"
        );
        let hostile = json!({"project": "p", "name": "../x?y=1"});
        assert_eq!(
            format_link("x/projects/{project}/global/firewalls/{name}", hostile.as_object().expect("obj")),
            "x/projects/p/global/firewalls/..%2Fx%3Fy%3D1"
        );
        let up = json!({"project": "..", "name": "a"});
        assert_eq!(format_link("x/projects/{project}/{name}", up.as_object().expect("obj")), "x/projects/%2E%2E/a");
    }
}
