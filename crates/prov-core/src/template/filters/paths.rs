//! Path filters that run on the controller as Python's `os.path` does there: `normpath`,
//! `realpath`, `relpath` and `expandvars`; and `to_uuid`.

use super::text::text_of;
use super::{add_filter, fail};
use minijinja::value::{Kwargs, Value};
use minijinja::{Environment, Error};

pub fn register(env: &mut Environment<'static>) {
    add_filter(env, "normpath", |v: &Value| -> Result<Value, Error> {
        Ok(Value::from(normpath(&text_of(v, "normpath")?)))
    });
    add_filter(env, "realpath", realpath);
    add_filter(env, "relpath", relpath);
    add_filter(env, "expandvars", expandvars);
    add_filter(env, "to_uuid", to_uuid);
}

/// Python's `posixpath.normpath`.
pub(crate) fn normpath(path: &str) -> String {
    if path.is_empty() {
        return ".".into();
    }
    let slashes =
        if path.starts_with("//") && !path.starts_with("///") { 2 } else { usize::from(path.starts_with('/')) };
    let mut comps: Vec<&str> = Vec::new();
    for comp in path.split('/') {
        if comp.is_empty() || comp == "." {
            continue;
        }
        if comp != ".." || (slashes == 0 && comps.is_empty()) || comps.last() == Some(&"..") {
            comps.push(comp);
        } else {
            comps.pop();
        }
    }
    let out = format!("{}{}", "/".repeat(slashes), comps.join("/"));
    if out.is_empty() {
        ".".into()
    } else {
        out
    }
}

/// Python's `posixpath.abspath`, against the controller's working directory.
fn abspath(path: &str) -> Result<String, Error> {
    if path.starts_with('/') {
        return Ok(normpath(path));
    }
    let cwd = std::env::current_dir().map_err(|e| fail(format!("the working directory: {e}")))?;
    Ok(normpath(&format!("{}/{path}", cwd.display())))
}

/// `realpath`: Python's `os.path.realpath` (symbolic links resolved as far as the path
/// exists; the rest kept, normalized).
fn realpath(value: &Value) -> Result<Value, Error> {
    let p = text_of(value, "realpath")?;
    let start = if p.starts_with('/') {
        String::new()
    } else {
        std::env::current_dir()
            .map_err(|e| fail(format!("realpath: the working directory: {e}")))?
            .display()
            .to_string()
    };
    let mut links = 0;
    Ok(Value::from(resolve(&start, &p, &mut links)?))
}

/// posixpath's `_joinrealpath` (non-strict): `rest` joined onto `path` (already real),
/// component by component, links followed (at most 40 of them).
fn resolve(path: &str, rest: &str, links: &mut usize) -> Result<String, Error> {
    let mut path = if rest.starts_with('/') { "/".to_string() } else { path.to_string() };
    for name in rest.split('/') {
        if name.is_empty() || name == "." {
            continue;
        }
        if name == ".." {
            path = match path.rsplit_once('/') {
                Some(("", "")) | None => "/".to_string(),
                Some((head, "..")) => format!("{head}/../.."),
                Some(("", _)) => "/".to_string(),
                Some((head, _)) => head.to_string(),
            };
            continue;
        }
        let joined = if path.ends_with('/') { format!("{path}{name}") } else { format!("{path}/{name}") };
        match std::fs::read_link(&joined) {
            Ok(target) => {
                *links += 1;
                if *links > 40 {
                    return Err(fail(format!("realpath: too many levels of symbolic links at {joined}")));
                }
                let target = target.to_string_lossy().into_owned();
                path = resolve(&path, &target, links)?;
            }
            Err(_) => path = joined,
        }
    }
    Ok(if path.is_empty() { "/".to_string() } else { path })
}

/// `relpath(start=os.curdir)`: Python's `os.path.relpath`.
fn relpath(value: &Value, start: Option<Value>, kw: Kwargs) -> Result<Value, Error> {
    let start = match start {
        Some(s) => Some(s),
        None => kw.get::<Option<Value>>("start")?,
    };
    kw.assert_all_used()?;
    let p = text_of(value, "relpath")?;
    if p.is_empty() {
        return Err(fail("relpath: no path specified"));
    }
    let start = match start {
        None => ".".to_string(),
        Some(s) => text_of(&s, "relpath")?,
    };
    let (s, p) = (abspath(&start)?, abspath(&p)?);
    let sl: Vec<&str> = s.split('/').filter(|x| !x.is_empty()).collect();
    let pl: Vec<&str> = p.split('/').filter(|x| !x.is_empty()).collect();
    let common = sl.iter().zip(&pl).take_while(|(a, b)| a == b).count();
    let mut rel: Vec<&str> = vec![".."; sl.len() - common];
    rel.extend(&pl[common..]);
    Ok(Value::from(if rel.is_empty() { ".".to_string() } else { rel.join("/") }))
}

/// `expandvars`: Python's `os.path.expandvars` with the controller's environment: `$NAME`
/// and `${NAME}` of a set variable replaced, others kept as written.
fn expandvars(value: &Value) -> Result<Value, Error> {
    let s = text_of(value, "expandvars")?;
    Ok(Value::from(crate::paths::expand_vars(&s, |name| std::env::var(name).ok())))
}

/// ansible-core's namespace for `to_uuid`.
const ANSIBLE_NAMESPACE: &str = "361E6D51-FAEC-444A-9079-341386DA8E2E";

/// `to_uuid(namespace=...)`: the name-based (SHA-1, version 5) UUID of the text.
fn to_uuid(value: &Value, namespace: Option<Value>, kw: Kwargs) -> Result<Value, Error> {
    let namespace = match namespace {
        Some(n) => Some(n),
        None => kw.get::<Option<Value>>("namespace")?,
    };
    kw.assert_all_used()?;
    let name = super::pymethods::py_str(value);
    let ns_text = match &namespace {
        None => ANSIBLE_NAMESPACE.to_string(),
        Some(n) => text_of(n, "to_uuid")?,
    };
    let hex: String = ns_text.replace("urn:", "").replace("uuid:", "");
    let hex: String = hex.trim_matches(|c| c == '{' || c == '}').replace('-', "");
    let bad = || fail(format!("Invalid value '{ns_text}' for 'namespace': badly formed hexadecimal UUID string"));
    if hex.len() != 32 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad());
    }
    let mut data = Vec::with_capacity(16 + name.len());
    for i in 0..16 {
        data.push(u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).map_err(|_| bad())?);
    }
    data.extend_from_slice(name.as_bytes());
    let d = super::digest::sha1(&data);
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    b[6] = (b[6] & 0x0f) | 0x50;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    Ok(Value::from(format!("{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..])))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::template::filters::testenv::{err, ok};

    // Values from ansible-core 2.19.14 on the same expressions.
    #[test]
    fn relpath_and_realpath_answer_as_os_path_does() {
        assert_eq!(ok("{{ '/etc/ssh/sshd_config' | relpath('/etc') }}"), "ssh/sshd_config");
        assert_eq!(ok("{{ '/etc' | relpath('/etc/ssh/sshd_config') }}"), "../..");
        assert_eq!(ok("{{ '/a/b/c' | relpath(start='/a/d') }}"), "../b/c");
        assert_eq!(ok("{{ '/tmp/../etc' | relpath('/') }}"), "etc");
        assert_eq!(
            ok("{{ '/usr/bin/../lib' | realpath }}"),
            std::fs::canonicalize("/usr/lib").map(|p| p.display().to_string()).unwrap_or_default()
        );
        assert_eq!(ok("{{ '/no/such/../x' | realpath }}"), "/no/x");
        assert_eq!(ok("{{ 'a//b/./c/..' | normpath }}"), "a/b");
        assert_eq!(
            ok("{{ 'x' | to_uuid(namespace='{11111111-2222-3333-4444-555555555555}') }}"),
            ok("{{ 'x' | to_uuid(namespace='urn:uuid:11111111-2222-3333-4444-555555555555') }}")
        );
        err("{{ 'abc' | to_uuid(namespace='bad') }}", "badly formed hexadecimal UUID string");
    }

    #[test]
    fn normpath_follows_posixpath() {
        for (p, want) in [
            ("", "."),
            ("/a/../..", "/"),
            ("a/../..", ".."),
            ("//a//b/", "//a/b"),
            ("///a", "/a"),
            ("./a/./b/..", "a"),
            ("../../a", "../../a"),
        ] {
            assert_eq!(normpath(p), want, "{p}");
        }
    }

    #[test]
    fn to_uuid_is_uuid5_in_ansibles_namespace() {
        let u = |v: &str, ns: Option<&str>| {
            to_uuid(&Value::from(v), ns.map(Value::from), Kwargs::from_iter(Vec::<(&str, Value)>::new()))
                .map(|v| v.to_string())
        };
        assert_eq!(u("example.com", None).ok().as_deref(), Some("ae780c3a-a3ab-53c2-bfb4-098da300b3fe"));
        assert_eq!(
            u("example.com", Some("11111111-2222-3333-4444-555555555555")).ok().as_deref(),
            Some("e776faa5-5299-55dc-9057-7a00e6be2364")
        );
        assert!(u("x", Some("bad")).is_err());
    }
}
