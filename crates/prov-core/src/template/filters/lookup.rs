//! The `lookup(name, *terms, **kw)` and `query` / `q` global functions, with the lookup plugins
//! that only read the controller: `env`, `file`, `vars`, `first_found`, `list` and `items`.
//! Anything else (`pipe`, `password`, `url`, `template`, ...) is an error naming the plugin.
//!
//! As in Ansible, `lookup` returns a single result as itself, several string results joined
//! with commas (`wantlist=true` keeps the list), and `query` always returns the list.

use super::text::expand_user;
use super::{a_type, fail, is_list, split_args, LookupContext};
use minijinja::value::{Kwargs, Rest, Value, ValueKind, ValueOrKwargs};
use minijinja::{Environment, Error, State};
use std::path::{Path, PathBuf};

const SUPPORTED: &str = "env, file, vars, first_found, list, items";

pub fn register(env: &mut Environment<'static>, ctx: LookupContext) {
    let c = ctx.clone();
    env.add_function("lookup", move |state: &State, name: String, args: Rest<ValueOrKwargs>| {
        run(state, &c, &name, args, false)
    });
    let c = ctx.clone();
    env.add_function("query", move |state: &State, name: String, args: Rest<ValueOrKwargs>| {
        run(state, &c, &name, args, true)
    });
    env.add_function("q", move |state: &State, name: String, args: Rest<ValueOrKwargs>| {
        run(state, &ctx, &name, args, true)
    });
}

/// How a failing lookup reports (`errors=`).
#[derive(Clone, Copy, PartialEq)]
enum OnError {
    Strict,
    Ignore,
}

fn run(state: &State, ctx: &LookupContext, name: &str, args: Rest<ValueOrKwargs>, query: bool) -> Result<Value, Error> {
    let (terms, kw) = split_args(args)?;
    let wantlist = query || kw.get::<Option<Value>>("wantlist")?.is_some_and(|v| v.is_true());
    let on_error = match kw.get::<Option<String>>("errors")?.as_deref() {
        None | Some("strict") => OnError::Strict,
        Some("ignore" | "warn") => OnError::Ignore,
        Some(other) => {
            return Err(fail(format!("lookup: errors must be 'strict', 'warn' or 'ignore', got {other:?}")));
        }
    };
    let result = match name {
        "env" => env_lookup(&terms, &kw),
        "file" => file_lookup(ctx, &terms, &kw),
        "vars" => vars_lookup(state, &terms, &kw),
        "first_found" => first_found(ctx, &terms, &kw),
        "list" => Ok(terms.clone()),
        "items" => Ok(flat_terms(&terms)),
        other => Err(fail(format!("lookup plugin `{other}` is not supported (supported: {SUPPORTED})"))),
    };
    let results = match result {
        Ok(r) => {
            kw.assert_all_used()?;
            r
        }
        Err(e) if on_error == OnError::Ignore && !name_unsupported(name) => {
            let _ = e;
            return Ok(if wantlist { Value::from(Vec::<Value>::new()) } else { Value::from(()) });
        }
        Err(e) => return Err(e),
    };
    if wantlist {
        return Ok(Value::from(results));
    }
    Ok(match results.as_slice() {
        [one] => one.clone(),
        many if many.iter().all(|v| v.kind() == ValueKind::String) => {
            Value::from(many.iter().map(|v| v.as_str().unwrap_or_default()).collect::<Vec<_>>().join(","))
        }
        _ => Value::from(results),
    })
}

fn name_unsupported(name: &str) -> bool {
    !matches!(name, "env" | "file" | "vars" | "first_found" | "list" | "items")
}

/// The terms with list terms flattened one level (Ansible's `listify_lookup_plugin_terms`).
fn flat_terms(terms: &[Value]) -> Vec<Value> {
    let mut out = Vec::new();
    for t in terms {
        match t.try_iter() {
            Ok(items) if is_list(t) => out.extend(items),
            _ => out.push(t.clone()),
        }
    }
    out
}

/// The terms as strings, for plugins that take names or paths.
fn string_terms(terms: &[Value], plugin: &str) -> Result<Vec<String>, Error> {
    flat_terms(terms)
        .iter()
        .map(|t| {
            t.as_str()
                .map(str::to_string)
                .ok_or_else(|| fail(format!("lookup('{plugin}'): terms must be strings, got {}", a_type(t))))
        })
        .collect()
}

/// `env`: controller environment variables (`default=''` when unset).
fn env_lookup(terms: &[Value], kw: &Kwargs) -> Result<Vec<Value>, Error> {
    let default = kw.get::<Option<Value>>("default")?.unwrap_or(Value::from(""));
    Ok(string_terms(terms, "env")?
        .iter()
        .map(|name| std::env::var(name).map(Value::from).unwrap_or_else(|_| default.clone()))
        .collect())
}

/// Where a relative path is looked for: each base dir's `files/` then the dir itself, or the
/// current directory when there are no base dirs.
fn candidates(ctx: &LookupContext, path: &str, subdir: &str) -> Vec<PathBuf> {
    let p = PathBuf::from(expand_user(path));
    if p.is_absolute() {
        return vec![p];
    }
    if ctx.base_dirs.is_empty() {
        return vec![p];
    }
    let mut out = Vec::new();
    for dir in ctx.base_dirs.iter() {
        out.push(dir.join(subdir).join(&p));
        out.push(dir.join(&p));
    }
    out
}

fn find_file(ctx: &LookupContext, path: &str, subdir: &str) -> Result<PathBuf, Vec<PathBuf>> {
    let cands = candidates(ctx, path, subdir);
    match cands.iter().find(|c| c.is_file()) {
        Some(found) => Ok(found.clone()),
        None => Err(cands),
    }
}

fn searched(cands: &[PathBuf]) -> String {
    cands.iter().map(|c| c.display().to_string()).collect::<Vec<_>>().join(", ")
}

/// `file`: a controller file's text, trailing whitespace stripped (`rstrip=true`, `lstrip=false`).
fn file_lookup(ctx: &LookupContext, terms: &[Value], kw: &Kwargs) -> Result<Vec<Value>, Error> {
    let rstrip = kw.get::<Option<Value>>("rstrip")?.is_none_or(|v| v.is_true());
    let lstrip = kw.get::<Option<Value>>("lstrip")?.is_some_and(|v| v.is_true());
    let mut out = Vec::new();
    for term in string_terms(terms, "file")? {
        let path = find_file(ctx, &term, "files").map_err(|cands| {
            fail(format!("lookup('file'): could not find {term:?} (searched: {})", searched(&cands)))
        })?;
        let bytes =
            std::fs::read(&path).map_err(|e| fail(format!("lookup('file'): cannot read {}: {e}", path.display())))?;
        let text = String::from_utf8(bytes)
            .map_err(|_| fail(format!("lookup('file'): {} is not UTF-8 text", path.display())))?;
        let mut s = text.as_str();
        if rstrip {
            s = s.trim_end();
        }
        if lstrip {
            s = s.trim_start();
        }
        out.push(Value::from(s));
    }
    Ok(out)
}

/// `vars`: variables by (templated) name; `default=` for missing ones.
fn vars_lookup(state: &State, terms: &[Value], kw: &Kwargs) -> Result<Vec<Value>, Error> {
    let default = kw.get::<Option<Value>>("default")?;
    let mut out = Vec::new();
    for name in string_terms(terms, "vars")? {
        match state.lookup(&name).filter(|v| !v.is_undefined()) {
            Some(v) => out.push(v),
            None => match &default {
                Some(d) => out.push(d.clone()),
                None => return Err(fail(format!("lookup('vars'): no variable named {name:?}"))),
            },
        }
    }
    Ok(out)
}

/// Splits a `first_found` string term on `,` and `;` like Ansible.
fn split_names(s: &str) -> Vec<String> {
    s.split([',', ';']).map(str::trim).filter(|p| !p.is_empty()).map(str::to_string).collect()
}

fn names_of(v: &Value, what: &str) -> Result<Vec<String>, Error> {
    match v.kind() {
        ValueKind::String => Ok(split_names(v.as_str().unwrap_or_default())),
        _ if is_list(v) => {
            let mut out = Vec::new();
            for item in v.try_iter()? {
                out.extend(names_of(&item, what)?);
            }
            Ok(out)
        }
        _ => Err(fail(format!("lookup('first_found'): {what} must be strings or lists, got {}", a_type(v)))),
    }
}

/// `first_found`: the path of the first existing file among the terms (`files=`, `paths=`,
/// `skip=`; terms may also be dicts with `files` and `paths`).
fn first_found(ctx: &LookupContext, terms: &[Value], kw: &Kwargs) -> Result<Vec<Value>, Error> {
    let kw_files = kw.get::<Option<Value>>("files")?.map(|v| names_of(&v, "files")).transpose()?;
    let kw_paths = kw.get::<Option<Value>>("paths")?.map(|v| names_of(&v, "paths")).transpose()?;
    let skip = kw.get::<Option<Value>>("skip")?.is_some_and(|v| v.is_true());
    let mut wanted: Vec<String> = Vec::new();
    let combine = |files: &[String], paths: &[String], out: &mut Vec<String>| {
        if paths.is_empty() {
            out.extend(files.iter().cloned());
        } else {
            for p in paths {
                for f in files {
                    out.push(Path::new(p).join(f).display().to_string());
                }
            }
        }
    };
    let mut loose: Vec<String> = Vec::new();
    for t in flat_terms(terms) {
        if t.kind() == ValueKind::Map {
            let files = names_of(&t.get_attr("files")?.clone_or_empty(), "files")?;
            let paths = names_of(&t.get_attr("paths")?.clone_or_empty(), "paths")?;
            combine(&files, &paths, &mut wanted);
        } else {
            loose.extend(names_of(&t, "terms")?);
        }
    }
    let mut files = loose;
    if let Some(f) = kw_files {
        files.extend(f);
    }
    combine(&files, kw_paths.as_deref().unwrap_or_default(), &mut wanted);
    let mut all_searched = Vec::new();
    for w in &wanted {
        match find_file(ctx, w, "files") {
            Ok(found) => return Ok(vec![Value::from(found.display().to_string())]),
            Err(cands) => all_searched.extend(cands),
        }
    }
    if skip {
        return Ok(Vec::new());
    }
    Err(fail(format!(
        "lookup('first_found'): no file was found (searched: {})",
        if all_searched.is_empty() { "nothing".to_string() } else { searched(&all_searched) }
    )))
}

/// An undefined or none value as an empty list, anything else as itself.
trait OrEmpty {
    fn clone_or_empty(&self) -> Value;
}

impl OrEmpty for Value {
    fn clone_or_empty(&self) -> Value {
        if self.is_undefined() || self.is_none() {
            Value::from(Vec::<Value>::new())
        } else {
            self.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::template::filters::testenv::{env_with, err, ok, render_ctx};
    use minijinja::context;

    fn tmpdir(name: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("prov-lookup-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(d.join("files")).unwrap();
        d
    }

    #[test]
    fn env_lookup_reads_controller_environment() {
        let path = std::env::var("PATH").unwrap_or_default();
        assert_eq!(ok("{{ lookup('env', 'PATH') }}"), path);
        assert_eq!(ok("{{ lookup('env', 'PROV_SURELY_UNSET_VAR') }}"), "");
        assert_eq!(ok("{{ lookup('env', 'PROV_SURELY_UNSET_VAR', default='d') }}"), "d");
        assert_eq!(ok("{{ query('env', 'PROV_SURELY_UNSET_VAR', 'PROV_SURELY_UNSET_VAR') | length }}"), "2");
        assert_eq!(ok("{{ lookup('env', 'PROV_SURELY_UNSET_VAR', 'PROV_SURELY_UNSET_VAR', default='x') }}"), "x,x");
        assert_eq!(ok("{{ lookup('env', 'PROV_SURELY_UNSET_VAR', wantlist=true) | to_json }}"), "[\"\"]");
        err("{{ lookup('env', 3) }}", "lookup('env'): terms must be strings, got an integer");
    }

    #[test]
    fn file_lookup_searches_base_dirs() {
        let d = tmpdir("file");
        std::fs::write(d.join("files/a.txt"), "from files\n\n").unwrap();
        std::fs::write(d.join("b.txt"), "  from dir\n").unwrap();
        std::fs::write(d.join("a.txt"), "shadowed").unwrap();
        let env = env_with(vec![d.clone()]);
        let r = |s: &str| env.render_str(s, ()).map_err(|e| format!("{e:#}"));
        assert_eq!(r("{{ lookup('file', 'a.txt') }}").unwrap(), "from files");
        assert_eq!(r("{{ lookup('file', 'b.txt') }}").unwrap(), "  from dir");
        assert_eq!(r("{{ lookup('file', 'b.txt', lstrip=true) }}").unwrap(), "from dir");
        assert_eq!(r("{{ lookup('file', 'b.txt', rstrip=false) }}").unwrap(), "  from dir\n");
        assert_eq!(r("{{ query('file', 'a.txt', 'b.txt') | length }}").unwrap(), "2");
        let abs = d.join("b.txt").display().to_string();
        assert_eq!(r(&format!("{{{{ lookup('file', '{abs}') }}}}")).unwrap(), "  from dir");
        let e = r("{{ lookup('file', 'nope.txt') }}").unwrap_err();
        assert!(e.contains("lookup('file'): could not find \"nope.txt\""), "{e}");
        assert!(e.contains("files/nope.txt"), "{e}");
        assert_eq!(r("{{ lookup('file', 'nope.txt', errors='ignore') is none }}").unwrap(), "True");
        assert_eq!(r("{{ query('file', 'nope.txt', errors='ignore') | length }}").unwrap(), "0");
        let e = r("{{ lookup('file', 'a.txt', bogus=1) }}").unwrap_err();
        assert!(e.contains("bogus"), "{e}");
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn first_found_returns_the_path() {
        let d = tmpdir("ff");
        std::fs::write(d.join("files/debian.yml"), "x").unwrap();
        let env = env_with(vec![d.clone()]);
        let r = |s: &str| env.render_str(s, ()).map_err(|e| format!("{e:#}"));
        let want = d.join("files/debian.yml").display().to_string();
        assert_eq!(r("{{ lookup('first_found', ['redhat.yml', 'debian.yml']) }}").unwrap(), want);
        assert_eq!(r("{{ lookup('first_found', 'redhat.yml,debian.yml') }}").unwrap(), want);
        assert_eq!(r("{{ lookup('first_found', {'files': ['x.yml', 'debian.yml']}) }}").unwrap(), want);
        assert_eq!(r("{{ query('first_found', 'none.yml', skip=true) | length }}").unwrap(), "0");
        let e = r("{{ lookup('first_found', 'none.yml') }}").unwrap_err();
        assert!(e.contains("no file was found"), "{e}");
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn vars_list_items() {
        let ctx = context! { port => 80, name => "web" };
        assert_eq!(render_ctx("{{ lookup('vars', 'port') + 1 }}", ctx.clone()).unwrap(), "81");
        assert_eq!(render_ctx("{{ lookup('vars', 'na' ~ 'me') }}", ctx.clone()).unwrap(), "web");
        assert_eq!(render_ctx("{{ lookup('vars', 'nope', default=1) }}", ctx.clone()).unwrap(), "1");
        let e = render_ctx("{{ lookup('vars', 'nope') }}", ctx).unwrap_err();
        assert!(e.contains("no variable named \"nope\""), "{e}");
        assert_eq!(ok("{{ query('list', [1, 2], 3) | to_json }}"), "[[1, 2], 3]");
        assert_eq!(ok("{{ q('items', [1, 2], 3) | to_json }}"), "[1, 2, 3]");
        assert_eq!(ok("{{ lookup('items', [1, 2]) | to_json }}"), "[1, 2]");
    }

    #[test]
    fn unsupported_plugins_are_named() {
        err("{{ lookup('pipe', 'date') }}", "lookup plugin `pipe` is not supported");
        err("{{ query('password', '/tmp/x', errors='ignore') }}", "lookup plugin `password` is not supported");
        err("{{ lookup('env', 'X', errors='loud') }}", "errors must be 'strict', 'warn' or 'ignore'");
    }
}
