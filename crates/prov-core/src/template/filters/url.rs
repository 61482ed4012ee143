//! `urlsplit` and `urldecode`, as ansible-core answers them with Python's `urllib.parse`.

use super::text::text_of;
use super::{add_filter, fail, map_value};
use minijinja::value::{Kwargs, Value};
use minijinja::{Environment, Error};

pub fn register(env: &mut Environment<'static>) {
    add_filter(env, "urlsplit", urlsplit);
    add_filter(env, "urldecode", urldecode);
}

/// Python's `urllib.parse.urlsplit`: (scheme, netloc, path, query, fragment).
fn split(url: &str) -> Result<[String; 5], Error> {
    let url: String =
        url.trim_start_matches(|c: char| c <= ' ').chars().filter(|c| !matches!(c, '\t' | '\r' | '\n')).collect();
    let mut rest = url.as_str();
    let mut scheme = String::new();
    if let Some(i) = rest.find(':') {
        let candidate = &rest[..i];
        if i > 0
            && candidate.starts_with(|c: char| c.is_ascii_alphabetic())
            && candidate.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        {
            scheme = candidate.to_ascii_lowercase();
            rest = &rest[i + 1..];
        }
    }
    let mut netloc = "";
    if let Some(after) = rest.strip_prefix("//") {
        let end = after.find(['/', '?', '#']).unwrap_or(after.len());
        netloc = &after[..end];
        rest = &after[end..];
        if netloc.contains('[') != netloc.contains(']') {
            return Err(fail("urlsplit: Invalid IPv6 URL"));
        }
    }
    let (rest, fragment) = rest.split_once('#').unwrap_or((rest, ""));
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    if !netloc.is_ascii() {
        return Err(fail("urlsplit: prov does not support a host name that is not ASCII"));
    }
    Ok([scheme, netloc.to_string(), path.to_string(), query.to_string(), fragment.to_string()])
}

/// `urlsplit(query='')`: the parts of a URL as a mapping (Python's `SplitResult` attributes,
/// in name order), or the one part `query` names.
fn urlsplit(value: &Value, query: Option<String>, kw: Kwargs) -> Result<Value, Error> {
    let query = match query {
        Some(q) => Some(q),
        None => kw.get::<Option<String>>("query")?,
    };
    kw.assert_all_used()?;
    let url = text_of(value, "urlsplit")?;
    let [scheme, netloc, path, query_part, fragment] = split(&url)?;
    let (userinfo, hostinfo) = match netloc.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, netloc.as_str()),
    };
    let (username, password) = match userinfo {
        Some(u) => match u.split_once(':') {
            Some((n, p)) => (Value::from(n), Value::from(p)),
            None => (Value::from(u), Value::from(())),
        },
        None => (Value::from(()), Value::from(())),
    };
    let (host, port) = match hostinfo.split_once('[') {
        Some((_, bracketed)) => {
            let (h, after) = bracketed.split_once(']').unwrap_or((bracketed, ""));
            (h, after.split_once(':').map_or("", |(_, p)| p))
        }
        None => hostinfo.split_once(':').unwrap_or((hostinfo, "")),
    };
    let hostname = if host.is_empty() {
        Value::from(())
    } else {
        let (name, zone) = host.split_once('%').map_or((host, None), |(n, z)| (n, Some(z)));
        Value::from(match zone {
            Some(z) => format!("{}%{z}", name.to_lowercase()),
            None => name.to_lowercase(),
        })
    };
    let port = if port.is_empty() {
        Value::from(())
    } else if port.bytes().all(|b| b.is_ascii_digit()) {
        match port.parse::<u32>() {
            Ok(p) if p <= 65535 => Value::from(p),
            _ => return Err(fail("urlsplit: Port out of range 0-65535")),
        }
    } else {
        return Err(fail(format!("urlsplit: Port could not be cast to integer value as '{port}'")));
    };
    let parts = [
        ("fragment", Value::from(fragment)),
        ("hostname", hostname),
        ("netloc", Value::from(netloc.clone())),
        ("password", password),
        ("path", Value::from(path)),
        ("port", port),
        ("query", Value::from(query_part)),
        ("scheme", Value::from(scheme)),
        ("username", username),
    ];
    match query.filter(|q| !q.is_empty()) {
        None => Ok(map_value(parts.into_iter().map(|(k, v)| (Value::from(k), v)))),
        Some(q) => match parts.into_iter().find(|(k, _)| *k == q) {
            Some((_, v)) => Ok(v),
            None => Err(fail(format!("urlsplit: unknown URL component: {q}"))),
        },
    }
}

/// `urldecode`: Python's `unquote_plus` (`+` is a space, `%XX` bytes decoded as UTF-8, an
/// invalid sequence replaced).
fn urldecode(value: &Value) -> Result<Value, Error> {
    let s = text_of(value, "urldecode")?.replace('+', " ");
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push(u8::try_from(h * 16 + l).unwrap_or(0));
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    Ok(Value::from(String::from_utf8_lossy(&out).into_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::template::filters::testenv::{err, ok};

    // Values from ansible-core 2.19.14 (Python 3.11's urllib.parse).
    #[test]
    fn urlsplit_and_urldecode_answer_as_ansible_does() {
        assert_eq!(
            ok("{{ 'https://user:pw@Example.com:8080/a/b?x=1&y=2#frag' | urlsplit | to_json }}"),
            r#"{"fragment": "frag", "hostname": "example.com", "netloc": "user:pw@Example.com:8080", "password": "pw", "path": "/a/b", "port": 8080, "query": "x=1&y=2", "scheme": "https", "username": "user"}"#
        );
        assert_eq!(ok("{{ 'https://example.com/a' | urlsplit('port') is none }}"), "True");
        assert_eq!(ok("{{ 'http://[::1]:80/' | urlsplit(query='hostname') }}"), "::1");
        err("{{ 'https://example.com' | urlsplit('nope') }}", "unknown URL component: nope");
        err("{{ 'http://h:99999/' | urlsplit }}", "Port out of range");
        assert_eq!(ok("{{ 'a%20b+c%2Fd' | urldecode }}"), "a b c/d");
    }

    #[test]
    fn split_follows_urllib() {
        let s = |u: &str| split(u).unwrap_or_else(|e| panic!("{u}: {e}"));
        assert_eq!(s("https://u:p@h:1/a?b#c"), ["https", "u:p@h:1", "/a", "b", "c"]);
        assert_eq!(s("no scheme"), ["", "", "no scheme", "", ""]);
        assert_eq!(s("HTTP://x"), ["http", "x", "", "", ""]);
        assert_eq!(s("1a:b"), ["", "", "1a:b", "", ""]);
        assert!(split("http://[::1/").is_err());
    }

    #[test]
    fn urldecode_replaces_what_is_not_utf8() {
        let d = |s: &str| urldecode(&Value::from(s)).map(|v| v.to_string()).unwrap_or_default();
        assert_eq!(d("a%20b+c%2Fd"), "a b c/d");
        assert_eq!(d("%41%"), "A%");
        assert_eq!(d("%4"), "%4");
        assert_eq!(d("%ff"), "\u{fffd}");
    }
}
