//! The Jinja tests Ansible adds on top of minijinja's builtins: regular expressions (`match`,
//! `search`, `regex`), `version`, set relations (`subset`, `superset`, `contains`), task
//! results (`success`, `failed`, `changed`, `skipped`, `unreachable`), controller paths
//! (`file`, `directory`, `exists`, `link`, `abs`), `truthy` / `falsy`, `any` / `all`, `nan`.

use super::filters::text::{expand_user, py_regex, text_of};
use super::filters::{a_type, add_test, fail, is_list, list_items};
use minijinja::value::{Kwargs, Value, ValueKind};
use minijinja::{Environment, Error, ErrorKind};
use std::cmp::Ordering;

pub fn register(env: &mut Environment<'static>) {
    add_test(env, "match", |v: &Value, pattern: &str, kw: Kwargs| regex_test(v, pattern, kw, "match", Some("match")));
    add_test(env, "search", |v: &Value, pattern: &str, kw: Kwargs| {
        regex_test(v, pattern, kw, "search", Some("search"))
    });
    add_test(env, "regex", |v: &Value, pattern: &str, kw: Kwargs| regex_test(v, pattern, kw, "regex", None));
    add_test(env, "version", version);
    add_test(env, "version_compare", version);
    add_test(env, "subset", subset);
    add_test(env, "superset", superset);
    add_test(env, "contains", contains);
    add_test(env, "success", |v: &Value| result_flag(v, "success").map(|f| !f));
    add_test(env, "succeeded", |v: &Value| result_flag(v, "succeeded").map(|f| !f));
    add_test(env, "successful", |v: &Value| result_flag(v, "successful").map(|f| !f));
    add_test(env, "failed", |v: &Value| result_flag(v, "failed"));
    add_test(env, "failure", |v: &Value| result_flag(v, "failure"));
    add_test(env, "changed", changed);
    add_test(env, "change", changed);
    add_test(env, "skipped", |v: &Value| result_field(v, "skipped", "skipped"));
    add_test(env, "skip", |v: &Value| result_field(v, "skip", "skipped"));
    add_test(env, "unreachable", |v: &Value| result_field(v, "unreachable", "unreachable"));
    add_test(env, "reachable", |v: &Value| result_field(v, "reachable", "unreachable").map(|f| !f));
    add_test(env, "file", |v: &Value| path_test(v, "file", |p| p.is_file()));
    add_test(env, "directory", |v: &Value| path_test(v, "directory", |p| p.is_dir()));
    add_test(env, "exists", |v: &Value| path_test(v, "exists", |p| p.exists()));
    add_test(env, "link", |v: &Value| path_test(v, "link", |p| p.is_symlink()));
    add_test(env, "abs", |v: &Value| path_test(v, "abs", |p| p.is_absolute()));
    add_test(env, "truthy", |v: &Value, kw: Kwargs| truthiness(v, kw, "truthy"));
    add_test(env, "falsy", |v: &Value, kw: Kwargs| truthiness(v, kw, "falsy").map(|t| !t));
    add_test(env, "any", |v: &Value| Ok::<_, Error>(list_items(v, "any expects")?.iter().any(Value::is_true)));
    add_test(env, "all", |v: &Value| Ok::<_, Error>(list_items(v, "all expects")?.iter().all(Value::is_true)));
    add_test(env, "nan", |v: &Value| v.kind() == ValueKind::Number && f64::try_from(v.clone()).is_ok_and(f64::is_nan));
}

/// `match` (anchored at the start), `search`, and `regex(match_type='search')`.
fn regex_test(value: &Value, pattern: &str, kw: Kwargs, test: &str, fixed: Option<&str>) -> Result<bool, Error> {
    let ignorecase = kw.get::<Option<Value>>("ignorecase")?.is_some_and(|v| v.is_true());
    let multiline = kw.get::<Option<Value>>("multiline")?.is_some_and(|v| v.is_true());
    let match_type = match fixed {
        Some(t) => t.to_string(),
        None => kw.get::<Option<String>>("match_type")?.unwrap_or_else(|| "search".into()),
    };
    kw.assert_all_used()?;
    if value.kind() != ValueKind::String {
        return Err(fail(format!("the `{test}` test expects a string, got {}", a_type(value))));
    }
    let text = text_of(value, test)?;
    let re = py_regex(pattern, ignorecase, multiline, test)?;
    Ok(match match_type.as_str() {
        "search" => re.is_match(&text).map_err(super::filters::text::regex_runtime(test))?,
        "match" => anchored(pattern, ignorecase, multiline, test, &text)?,
        "fullmatch" => {
            let full = py_regex(&format!("^(?:{pattern})$"), ignorecase, false, test)?;
            full.is_match(&text).map_err(super::filters::text::regex_runtime(test))?
        }
        other => {
            return Err(fail(format!("regex: match_type must be 'match', 'search' or 'fullmatch', got {other:?}")));
        }
    })
}

/// Python's `re.match`: a match starting at position 0.
fn anchored(pattern: &str, ignorecase: bool, multiline: bool, test: &str, text: &str) -> Result<bool, Error> {
    let re = py_regex(&format!("\\A(?:{pattern})"), ignorecase, multiline, test)?;
    re.is_match(text).map_err(super::filters::text::regex_runtime(test))
}

/// One part of a loose version: a number or a run of letters.
#[derive(Debug, PartialEq, Eq, Clone)]
enum Part {
    Num(u128),
    Alpha(String),
}

/// Python's `LooseVersion` components.
fn loose_parts(v: &str) -> Vec<Part> {
    let mut parts = Vec::new();
    let mut cur = String::new();
    let flush = |cur: &mut String, parts: &mut Vec<Part>| {
        if cur.is_empty() {
            return;
        }
        parts.push(match cur.parse::<u128>() {
            Ok(n) => Part::Num(n),
            Err(_) => Part::Alpha(cur.clone()),
        });
        cur.clear();
    };
    for c in v.chars() {
        if c == '.' {
            flush(&mut cur, &mut parts);
        } else if !cur.is_empty() && (c.is_ascii_digit() != cur.chars().all(|x| x.is_ascii_digit())) {
            flush(&mut cur, &mut parts);
            cur.push(c);
        } else {
            cur.push(c);
        }
    }
    flush(&mut cur, &mut parts);
    parts
}

pub(crate) fn cmp_loose(a: &str, b: &str) -> Result<Ordering, Error> {
    let (pa, pb) = (loose_parts(a), loose_parts(b));
    for (x, y) in pa.iter().zip(&pb) {
        let o = match (x, y) {
            (Part::Num(x), Part::Num(y)) => x.cmp(y),
            (Part::Alpha(x), Part::Alpha(y)) => x.cmp(y),
            _ => {
                return Err(fail(format!(
                    "version: cannot compare {a:?} with {b:?} as loose versions (a number meets text); \
                     try version_type='semver' or 'strict'"
                )))
            }
        };
        if o != Ordering::Equal {
            return Ok(o);
        }
    }
    Ok(pa.len().cmp(&pb.len()))
}

/// A parsed `StrictVersion`: major, minor, patch and an optional `a`/`b` pre-release.
type StrictKey = (u64, u64, u64, Option<(char, u64)>);

/// Python's `StrictVersion`: `N.N[.N][(a|b)N]`.
fn strict_key(v: &str) -> Option<StrictKey> {
    let (nums, pre) = match v.find(['a', 'b']) {
        Some(i) => (&v[..i], Some(&v[i..])),
        None => (v, None),
    };
    let parts: Vec<&str> = nums.split('.').collect();
    if !(2..=3).contains(&parts.len()) || parts.iter().any(|p| p.is_empty() || !p.chars().all(|c| c.is_ascii_digit())) {
        return None;
    }
    let n = |s: &str| s.parse::<u64>().ok();
    let pre = match pre {
        None => None,
        Some(p) => {
            let mut cs = p.chars();
            let kind = cs.next()?;
            let rest = cs.as_str();
            if rest.is_empty() || !rest.chars().all(|c| c.is_ascii_digit()) {
                return None;
            }
            Some((kind, n(rest)?))
        }
    };
    Some((n(parts[0])?, n(parts[1])?, parts.get(2).map_or(Some(0), |p| n(p))?, pre))
}

fn cmp_strict(a: &str, b: &str) -> Result<Ordering, Error> {
    let key = |v: &str| strict_key(v).ok_or_else(|| fail(format!("version: {v:?} is not a valid strict version")));
    let (ka, kb) = (key(a)?, key(b)?);
    let o = (ka.0, ka.1, ka.2).cmp(&(kb.0, kb.1, kb.2));
    if o != Ordering::Equal {
        return Ok(o);
    }
    // A pre-release sorts before the release.
    Ok(match (ka.3, kb.3) {
        (None, None) => Ordering::Equal,
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (Some(x), Some(y)) => x.cmp(&y),
    })
}

/// Semantic Versioning 2.0 precedence (build metadata ignored).
fn cmp_semver(a: &str, b: &str) -> Result<Ordering, Error> {
    fn parse(v: &str) -> Option<(u64, u64, u64, Vec<String>)> {
        let v = v.split('+').next().unwrap_or(v);
        let (core, pre) = match v.split_once('-') {
            Some((c, p)) => (c, p.split('.').map(str::to_string).collect()),
            None => (v, Vec::new()),
        };
        let nums: Vec<u64> = core.split('.').map(|p| p.parse().ok()).collect::<Option<_>>()?;
        match nums.as_slice() {
            [x, y, z] => Some((*x, *y, *z, pre)),
            _ => None,
        }
    }
    let p = |v: &str| parse(v).ok_or_else(|| fail(format!("version: {v:?} is not a valid semantic version")));
    let (pa, pb) = (p(a)?, p(b)?);
    let o = (pa.0, pa.1, pa.2).cmp(&(pb.0, pb.1, pb.2));
    if o != Ordering::Equal {
        return Ok(o);
    }
    Ok(match (pa.3.is_empty(), pb.3.is_empty()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        _ => {
            for (x, y) in pa.3.iter().zip(&pb.3) {
                let o = match (x.parse::<u64>(), y.parse::<u64>()) {
                    (Ok(x), Ok(y)) => x.cmp(&y),
                    (Ok(_), Err(_)) => Ordering::Less,
                    (Err(_), Ok(_)) => Ordering::Greater,
                    _ => x.cmp(y),
                };
                if o != Ordering::Equal {
                    return Ok(o);
                }
            }
            pa.3.len().cmp(&pb.3.len())
        }
    })
}

/// `version(other, operator='eq', strict=false, version_type='loose')`.
fn version(value: &Value, other: &Value, op: Option<String>, kw: Kwargs) -> Result<bool, Error> {
    let op = match op {
        Some(o) => o,
        None => kw.get::<Option<String>>("operator")?.unwrap_or_else(|| "eq".into()),
    };
    let strict = kw.get::<Option<Value>>("strict")?.is_some_and(|v| v.is_true());
    let vtype = kw.get::<Option<String>>("version_type")?;
    kw.assert_all_used()?;
    if strict && vtype.is_some() {
        return Err(fail("version: `strict` and `version_type` cannot be used together"));
    }
    let vtype = vtype.unwrap_or_else(|| if strict { "strict".into() } else { "loose".into() });
    let (a, b) = (text_of(value, "version")?, text_of(other, "version")?);
    if a.is_empty() || b.is_empty() {
        return Err(fail("version: the versions to compare must not be empty"));
    }
    let ord = match vtype.as_str() {
        "loose" => cmp_loose(&a, &b)?,
        "strict" => cmp_strict(&a, &b)?,
        "semver" | "semantic" => cmp_semver(&a, &b)?,
        other => {
            return Err(fail(format!(
                "version: version_type must be 'loose', 'strict', 'semver' or 'semantic', got {other:?}"
            )))
        }
    };
    Ok(match op.as_str() {
        "==" | "=" | "eq" => ord == Ordering::Equal,
        "!=" | "<>" | "ne" => ord != Ordering::Equal,
        "<" | "lt" => ord == Ordering::Less,
        "<=" | "le" => ord != Ordering::Greater,
        ">" | "gt" => ord == Ordering::Greater,
        ">=" | "ge" => ord != Ordering::Less,
        other => {
            return Err(fail(format!(
                "version: invalid operator {other:?}; use ==, !=, <, <=, >, >= (or eq, ne, lt, le, gt, ge)"
            )))
        }
    })
}

/// The members of a list or the keys of a dictionary, for the set tests.
fn members(v: &Value, test: &str) -> Result<Vec<Value>, Error> {
    if v.kind() == ValueKind::Map || is_list(v) {
        return Ok(v.try_iter()?.collect());
    }
    Err(fail(format!("the `{test}` test expects a list, got {}", a_type(v))))
}

/// `a is subset(b)`: every member of `a` is in `b`.
fn subset(a: &Value, b: &Value) -> Result<bool, Error> {
    let (a, b) = (members(a, "subset")?, members(b, "subset")?);
    Ok(a.iter().all(|x| b.contains(x)))
}

/// `a is superset(b)`: every member of `b` is in `a`.
fn superset(a: &Value, b: &Value) -> Result<bool, Error> {
    let (a, b) = (members(a, "superset")?, members(b, "superset")?);
    Ok(b.iter().all(|x| a.contains(x)))
}

/// `seq is contains(x)`.
fn contains(seq: &Value, x: &Value) -> Result<bool, Error> {
    if seq.kind() == ValueKind::String {
        let s = seq.as_str().unwrap_or_default();
        return match x.as_str() {
            Some(sub) => Ok(s.contains(sub)),
            None => Err(fail(format!("the `contains` test on a string needs a string, got {}", a_type(x)))),
        };
    }
    Ok(members(seq, "contains")?.contains(x))
}

/// The registered result a result test looks at; it must be a dictionary.
fn result_map<'a>(v: &'a Value, test: &str) -> Result<&'a Value, Error> {
    match v.kind() {
        ValueKind::Map => Ok(v),
        ValueKind::Undefined => {
            Err(Error::new(ErrorKind::UndefinedError, format!("the `{test}` test: the registered result is undefined")))
        }
        _ => Err(fail(format!("the `{test}` test expects a registered task result (a dictionary), got {}", a_type(v)))),
    }
}

fn field_true(v: &Value, field: &str) -> Result<bool, Error> {
    let f = v.get_attr(field)?;
    Ok(!f.is_undefined() && f.is_true())
}

fn result_field(v: &Value, test: &str, field: &str) -> Result<bool, Error> {
    field_true(result_map(v, test)?, field)
}

/// Whether a result failed: its `failed` field.
fn result_flag(v: &Value, test: &str) -> Result<bool, Error> {
    result_field(v, test, "failed")
}

/// `changed`: the `changed` field, or any changed item of a loop's `results`.
fn changed(v: &Value) -> Result<bool, Error> {
    let r = result_map(v, "changed")?;
    let c = r.get_attr("changed")?;
    if !c.is_undefined() {
        return Ok(c.is_true());
    }
    let results = r.get_attr("results")?;
    if !is_list(&results) {
        return Ok(false);
    }
    for item in results.try_iter()? {
        if item.kind() == ValueKind::Map && field_true(&item, "changed")? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Tests on a controller path (`~` expanded).
fn path_test(v: &Value, test: &str, f: fn(&std::path::Path) -> bool) -> Result<bool, Error> {
    if v.kind() != ValueKind::String {
        return Err(fail(format!("the `{test}` test expects a path string, got {}", a_type(v))));
    }
    let p = expand_user(v.as_str().unwrap_or_default());
    Ok(f(std::path::Path::new(&p)))
}

/// `truthy(convert_bool=false)`: Python truth; with `convert_bool`, Ansible's boolean strings
/// (`yes`, `off`, ...) count by their meaning.
fn truthiness(v: &Value, kw: Kwargs, test: &str) -> Result<bool, Error> {
    let convert = kw.get::<Option<Value>>("convert_bool")?.is_some_and(|v| v.is_true());
    kw.assert_all_used()?;
    if v.is_undefined() {
        return Err(Error::new(ErrorKind::UndefinedError, format!("the `{test}` test: the value is undefined")));
    }
    if convert {
        if let Some(s) = v.as_str() {
            match s.trim().to_ascii_lowercase().as_str() {
                "yes" | "on" | "1" | "true" | "y" | "t" => return Ok(true),
                "no" | "off" | "0" | "false" | "n" | "f" => return Ok(false),
                _ => {}
            }
        }
    }
    Ok(v.is_true())
}

#[cfg(test)]
mod tests {
    use crate::template::filters::testenv::{err, ok, render_ctx};
    use minijinja::context;

    #[test]
    fn regex_tests() {
        assert_eq!(ok("{{ 'http://x.org' is match('http://') }} {{ 'x http://' is match('http://') }}"), "True False");
        assert_eq!(
            ok("{{ 'x http://' is search('http://') }} {{ 'abc' is search('B', ignorecase=true) }}"),
            "True True"
        );
        assert_eq!(ok("{{ 'ab' is match('b|a') }} {{ 'ab' is match('b') }}"), "True False");
        assert_eq!(ok("{{ 'abc' is regex('b') }} {{ 'abc' is regex('b', match_type='match') }} {{ 'abc' is regex('a.c', match_type='fullmatch') }}"), "True False True");
        assert_eq!(ok("{{ 'x\\nab' is match('^ab', multiline=true) }}"), "False");
        assert_eq!(ok("{{ ['a1', 'b2', 'a3'] | select('match', 'a') | list | length }}"), "2");
        err("{{ 5 is match('5') }}", "the `match` test expects a string, got an integer");
        err("{{ 'a' is search('(') }}", "search: invalid regular expression");
        err("{{ 'a' is regex('a', match_type='all') }}", "match_type must be");
    }

    #[test]
    fn version_tests() {
        assert_eq!(ok("{{ '1.10.0' is version('1.9', '>=') }} {{ '1.10.0' is version('1.9', 'lt') }}"), "True False");
        assert_eq!(ok("{{ '2.0' is version('2.0', '==') }} {{ '2.0' is version('2.0.0', 'eq') }} {{ '2.0' is version('2.0.1', operator='lt') }}"), "True False True");
        assert_eq!(
            ok("{{ '1.2.3' is version_compare('1.2.4', '<') }} {{ '1.2' is version('1.2', '!=') }}"),
            "True False"
        );
        assert_eq!(
            ok("{{ '1.0a1' is version('1.0', '<', strict=true) }} {{ '1.0' is version('1.0.0', '==', strict=true) }}"),
            "True True"
        );
        assert_eq!(ok("{{ '1.0.0-alpha' is version('1.0.0', 'lt', version_type='semver') }} {{ '1.0.0-alpha.1' is version('1.0.0-alpha.beta', '<', version_type='semver') }} {{ '1.0.0+b1' is version('1.0.0', '==', version_type='semver') }}"), "True True True");
        assert_eq!(ok("{{ '2.4.1-rc1' is version('2.4.1rc2', '<') }} {{ 'a.b' is version('a.c', '<') }}"), "True True");
        err("{{ '1.0' is version('1.0', '~') }}", "version: invalid operator \"~\"");
        err("{{ '1.0a' is version('1.0.1', '<') }}", "cannot compare \"1.0a\" with \"1.0.1\"");
        err("{{ '1' is version('1.0', '<', strict=true) }}", "\"1\" is not a valid strict version");
        err("{{ '1.0' is version('1.0', '<', version_type='pep440') }}", "version_type must be");
        err("{{ [1] is version('1.0') }}", "version expects a string, got a list");
    }

    #[test]
    fn set_tests() {
        assert_eq!(ok("{{ [1, 2] is subset([1, 2, 3]) }} {{ [1, 4] is subset([1, 2, 3]) }}"), "True False");
        assert_eq!(ok("{{ [1, 2, 3] is superset([3, 1]) }} {{ [1] is superset([1, 2]) }}"), "True False");
        assert_eq!(
            ok("{{ [1, 2] is contains(2) }} {{ 'abc' is contains('b') }} {{ {'a': 1} is contains('a') }}"),
            "True True True"
        );
        assert_eq!(ok("{{ [[1, 2], [3]] | select('contains', 3) | list | length }}"), "1");
        err("{{ 5 is subset([1]) }}", "the `subset` test expects a list, got an integer");
        err("{{ 5 is contains(1) }}", "the `contains` test expects a list, got an integer");
    }

    #[test]
    fn result_tests() {
        let ctx = context! {
            ok_r => context! { changed => false, rc => 0 },
            bad => context! { failed => true, changed => true },
            skip => context! { skipped => true, changed => false },
            loop_r => context! { results => vec![context! { changed => false }, context! { changed => true }] },
            down => context! { unreachable => true },
        };
        let r = |s: &str| render_ctx(s, ctx.clone()).unwrap();
        assert_eq!(r("{{ ok_r is success }} {{ ok_r is succeeded }} {{ ok_r is failed }} {{ ok_r is changed }} {{ ok_r is skipped }}"), "True True False False False");
        assert_eq!(
            r("{{ bad is success }} {{ bad is failed }} {{ bad is failure }} {{ bad is changed }} {{ bad is change }}"),
            "False True True True True"
        );
        assert_eq!(r("{{ skip is skipped }} {{ skip is skip }} {{ loop_r is changed }} {{ down is unreachable }} {{ down is reachable }} {{ ok_r is reachable }}"), "True True True True False True");
        err("{{ 'x' is failed }}", "the `failed` test expects a registered task result (a dictionary), got a string");
        err("{{ nothing is changed }}", "undefined");
    }

    #[test]
    fn path_tests() {
        let dir = std::env::temp_dir();
        let d = dir.display().to_string();
        let file = dir.join(format!("prov-tests-lib-{}", std::process::id()));
        std::fs::write(&file, "x").unwrap();
        let f = file.display().to_string();
        assert_eq!(
            ok(&format!("{{{{ '{d}' is directory }}}} {{{{ '{d}' is file }}}} {{{{ '{d}' is exists }}}}")),
            "True False True"
        );
        assert_eq!(
            ok(&format!("{{{{ '{f}' is file }}}} {{{{ '{f}' is link }}}} {{{{ '{f}/nope' is exists }}}}")),
            "True False False"
        );
        assert_eq!(ok("{{ '/etc' is abs }} {{ 'etc' is abs }}"), "True False");
        err("{{ 5 is file }}", "the `file` test expects a path string, got an integer");
        let _ = std::fs::remove_file(&file);
    }

    #[test]
    fn truthy_any_all_nan() {
        assert_eq!(ok("{{ 'no' is truthy }} {{ 'no' is truthy(convert_bool=true) }} {{ '' is falsy }} {{ [1] is falsy }} {{ 'off' is falsy(convert_bool=true) }}"), "True False True False True");
        assert_eq!(
            ok("{{ [0, 1] is any }} {{ [0, 1] is all }} {{ [] is all }} {{ [] is any }}"),
            "True False True False"
        );
        assert_eq!(ok("{{ ('nan' | float) is nan }} {{ 1.0 is nan }} {{ 'x' is nan }}"), "True False False");
        err("{{ 5 is any }}", "any expects a list, got an integer");
        err("{{ 'x' is truthy(bogus=1) }}", "bogus");
    }
}
