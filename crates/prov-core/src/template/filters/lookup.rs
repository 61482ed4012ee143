//! The `lookup(name, *terms, **kw)` and `query` / `q` global functions, with the lookup plugins
//! that work on the controller: `env`, `file`, `vars`, `first_found`, `list`, `items`,
//! `fileglob`, `pipe` (a shell command run on the controller), `password` (which creates its
//! file on the controller, like Ansible) and `template`, and those behind the `with_*` loops
//! (`nested`, `subelements`). Anything else (`url`, ...) is an error naming the plugin.
//!
//! Relative paths are searched like Ansible's search path: the task's role (`role_path`) first,
//! then the playbook's directory, each as `dir/files/path` then `dir/path`.
//!
//! As in Ansible, `lookup` returns a single result as itself, several string results joined
//! with commas, no result as the empty list (`wantlist=true` keeps the list), and `query`
//! always returns the list.

use super::text::expand_user;
use super::{a_type, fail, is_list, split_args, LookupContext};
use minijinja::value::{Kwargs, Rest, Value, ValueKind, ValueOrKwargs};
use minijinja::{Environment, Error, State};
use std::path::{Path, PathBuf};

/// The lookup plugins prov has, by the names [`canonical_lookup`] gives them.
const LOOKUPS: &[&str] = &[
    "env",
    "file",
    "template",
    "vars",
    "varnames",
    "first_found",
    "list",
    "items",
    "fileglob",
    "pipe",
    "lines",
    "password",
    "nested",
    "subelements",
    "sequence",
    "together",
    "indexed_items",
    "dict",
    "url",
    "flattened",
];

/// The lookup plugins prov has, for messages (`flattened` is community.general's).
pub fn supported_lookups() -> String {
    LOOKUPS
        .iter()
        .map(|n| if *n == "flattened" { "community.general.flattened" } else { n })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The plugin a lookup name means: ansible-core's own under their short names, and those of
/// collections prov has under theirs (community.general's `flattened` is also `flattened`,
/// as ansible-core's routing sends it there).
pub fn canonical_lookup(name: &str) -> &str {
    let name = name.strip_prefix("ansible.builtin.").or_else(|| name.strip_prefix("ansible.legacy.")).unwrap_or(name);
    match name {
        "community.general.flattened" => "flattened",
        other => other,
    }
}

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
    let ctx = with_role_dir(state, ctx);
    let name = canonical_lookup(name);
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
        "file" => file_lookup(&ctx, &terms, &kw),
        "template" => template_lookup(state, &ctx, &terms, &kw),
        "vars" => vars_lookup(state, &terms, &kw),
        "first_found" => first_found(&ctx, &terms, &kw, first_found_subdir(state)),
        "fileglob" => fileglob_lookup(&ctx, &terms),
        "pipe" => pipe_lookup(&ctx, &terms),
        "url" => url_lookup(&terms, &kw),
        "lines" => lines_lookup(&ctx, &terms),
        "varnames" => varnames_lookup(state, &terms),
        "password" => password_lookup(&ctx, &terms, &kw),
        "nested" => nested_lookup(&terms),
        "subelements" => subelements_lookup(&terms),
        "list" => Ok(terms.clone()),
        "items" => Ok(flat_terms(&terms)),
        "sequence" => super::seq_lookups::sequence(&terms, &kw),
        "together" => super::seq_lookups::together(&terms),
        "indexed_items" => super::seq_lookups::indexed_items(&terms),
        "dict" => super::seq_lookups::dict(&terms),
        "flattened" => Ok(super::seq_lookups::flattened(&terms)),
        other => Err(fail(format!("lookup plugin `{other}` is not supported (supported: {})", supported_lookups()))),
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
        // ansible-core's words around a lookup plugin's own failure.
        Err(e) if e.kind() == minijinja::ErrorKind::InvalidOperation && !name_unsupported(name) => {
            let detail = e.detail().map(str::to_string).unwrap_or_else(|| e.to_string());
            return Err(fail(format!("The lookup plugin '{name}' failed: {detail}")));
        }
        Err(e) => return Err(e),
    };
    if wantlist {
        return Ok(Value::from(results));
    }
    Ok(match results.as_slice() {
        [] => Value::from(results),
        [one] => one.clone(),
        // Joining an undefined value fails, and ansible-core gives the undefined value then.
        many if many.iter().any(Value::is_undefined) => Value::UNDEFINED,
        many if many.iter().all(|v| v.kind() == ValueKind::String) => {
            Value::from(many.iter().map(|v| v.as_str().unwrap_or_default()).collect::<Vec<_>>().join(","))
        }
        _ => Value::from(results),
    })
}

/// Whether prov has the lookup plugin `name` (short or `ansible.builtin.`/`ansible.legacy.`).
pub fn lookup_supported(name: &str) -> bool {
    !name_unsupported(canonical_lookup(name))
}

fn name_unsupported(name: &str) -> bool {
    !LOOKUPS.contains(&name)
}

/// The lookup context with the task's role directory (`role_path`) searched first, then its
/// `tasks/` (ansible-core searches the directory of the task's file after the roles'); then
/// the play's `playbook_dir` (an imported playbook's own directory), or the templar's
/// directories where the context has none.
fn with_role_dir(state: &State, ctx: &LookupContext) -> LookupContext {
    // `playbook_dir` is absolute, as the paths ansible-core's lookups return (`first_found`).
    let play_dir = state.lookup("playbook_dir").and_then(|v| v.as_str().map(PathBuf::from));
    let base: Vec<PathBuf> = match play_dir {
        Some(d) if !ctx.base_dirs.is_empty() => vec![d],
        _ => ctx.base_dirs.to_vec(),
    };
    let mut dirs = Vec::new();
    if let Some(role) = state.lookup("role_path").filter(|v| v.kind() == ValueKind::String) {
        let role = PathBuf::from(role.as_str().unwrap_or_default());
        dirs.extend([role.clone(), role.join("tasks")]);
    }
    dirs.extend(base);
    LookupContext { base_dirs: std::sync::Arc::new(dirs) }
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

/// `template`: a controller template file (searched like `file`, in `templates/`), rendered
/// with the task's variables and `template_vars` over them, its trailing newline kept, as
/// ansible-core's template lookup renders it.
fn template_lookup(state: &State, ctx: &LookupContext, terms: &[Value], kw: &Kwargs) -> Result<Vec<Value>, Error> {
    let extra = kw.get::<Option<Value>>("template_vars")?;
    let vars = state.lookup("vars").unwrap_or_default();
    let context = match extra {
        Some(e) if e.kind() == ValueKind::Map => minijinja::value::merge_maps([vars, e]),
        Some(e) if e.is_none() => vars,
        Some(e) => return Err(fail(format!("lookup('template'): template_vars must be a dict, not {}", a_type(&e)))),
        None => vars,
    };
    let mut out = Vec::new();
    for term in string_terms(terms, "template")? {
        let path = find_file(ctx, &term, "templates").map_err(|cands| {
            fail(format!("lookup('template'): could not find {term:?} (searched: {})", searched(&cands)))
        })?;
        let text = std::fs::read_to_string(&path)
            .map_err(|e| fail(format!("lookup('template'): cannot read {}: {e}", path.display())))?;
        // `{% include %}` and `{% import %}` find files beside the template, then in the
        // search path's `templates/` directories, as ansible-core's lookup searches.
        let mut dirs: Vec<PathBuf> = path.parent().map(Path::to_path_buf).into_iter().collect();
        for d in ctx.base_dirs.iter() {
            dirs.push(d.join("templates"));
            dirs.push(d.clone());
        }
        let (text, overrides) =
            crate::template::file_overrides(&text, &crate::template::FileOverrides::default()).map_err(fail)?;
        let text = text.to_string();
        let mut env = state.env().clone();
        crate::template::apply_overrides(&mut env, &overrides).map_err(fail)?;
        env.set_loader(move |name| {
            let rel = Path::new(name);
            if rel.is_absolute() || rel.components().any(|c| !matches!(c, std::path::Component::Normal(_))) {
                return Ok(None);
            }
            match dirs.iter().map(|d| d.join(rel)).find(|p| p.is_file()) {
                Some(p) => std::fs::read_to_string(&p)
                    .map(|t| Some(crate::template::loaded_text(t)))
                    .map_err(|e| fail(format!("cannot read {}: {e}", p.display()))),
                None => Ok(None),
            }
        });
        out.push(Value::from(crate::template::not_noting(|| env.render_str(&text, context.clone()))?));
    }
    Ok(out)
}

/// `vars`: variables by (templated) name; `default=` for missing ones.
fn vars_lookup(state: &State, terms: &[Value], kw: &Kwargs) -> Result<Vec<Value>, Error> {
    let default = kw.get::<Option<Value>>("default")?;
    let mut out = Vec::new();
    for term in flat_terms(terms) {
        let Some(name) = term.as_str() else {
            return Err(fail(format!("Variable name must be 'str' not '{}'", crate::template::python_type(&term))));
        };
        match state.lookup(name).filter(|v| !v.is_undefined()) {
            Some(v) => out.push(v),
            // ansible-core gives an undefined value ("No variable named 'x' was found."), which
            // `default` replaces and `is defined` tests.
            None => out.push(default.clone().unwrap_or_else(|| {
                crate::template::note_undefined_reason(format!("No variable named '{name}' was found."));
                Value::UNDEFINED
            })),
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

/// The directory `first_found` looks in under each search path. Run by `with_first_found`,
/// ansible-core picks it from the task's action: `templates` for an action naming
/// "template", `vars` for "var", else `files`. Called as `lookup`/`query` it passes no
/// directory, which its path search turns into one named `None` (so `files/` is not
/// searched: a bare name is found beside the playbook or in the role only).
fn first_found_subdir(state: &State) -> &'static str {
    match state.lookup("__prov_with_action") {
        Some(a) => {
            let a = a.as_str().unwrap_or_default();
            if a.contains("template") {
                "templates"
            } else if a.contains("var") {
                "vars"
            } else {
                "files"
            }
        }
        None => "None",
    }
}

/// `first_found`: the path of the first existing file among the terms (`files=`, `paths=`,
/// `skip=`; terms may also be dicts with `files` and `paths`), looked for under `subdir`.
fn first_found(ctx: &LookupContext, terms: &[Value], kw: &Kwargs, subdir: &str) -> Result<Vec<Value>, Error> {
    let kw_files = kw.get::<Option<Value>>("files")?.map(|v| names_of(&v, "files")).transpose()?;
    let kw_paths = kw.get::<Option<Value>>("paths")?.map(|v| names_of(&v, "paths")).transpose()?;
    let mut skip = kw.get::<Option<Value>>("skip")?.is_some_and(|v| v.is_true());
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
            // A mapping term sets the plugin's options, `skip` among them.
            let term_skip = t.get_attr("skip")?;
            if !term_skip.is_undefined() {
                skip = term_skip.is_true();
            }
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
        match find_file(ctx, w, subdir) {
            Ok(found) => return Ok(vec![Value::from(found.display().to_string())]),
            Err(cands) => all_searched.extend(cands),
        }
    }
    if skip {
        return Ok(Vec::new());
    }
    Err(fail(format!(
        "No file was found when using first_found. (searched: {})",
        if all_searched.is_empty() { "nothing".to_string() } else { searched(&all_searched) }
    )))
}

/// `fileglob`: the regular files matching each term's pattern, in the first search directory
/// that has any (a pattern with a directory part looks for that directory instead).
fn fileglob_lookup(ctx: &LookupContext, terms: &[Value]) -> Result<Vec<Value>, Error> {
    let mut out = Vec::new();
    for term in string_terms(terms, "fileglob")? {
        let (dir, file) = match term.rfind('/') {
            Some(i) => (Some(&term[..i]), &term[i + 1..]),
            None => (None, term.as_str()),
        };
        let dirs: Vec<PathBuf> = match dir {
            // find_file_in_search_path(..., 'files', dirname): the first directory that exists.
            Some(d) => {
                let d = if d.is_empty() { "/" } else { d };
                candidates(ctx, d, "files").into_iter().find(|c| c.is_dir()).into_iter().collect()
            }
            None if ctx.base_dirs.is_empty() => vec![PathBuf::from(".")],
            None => ctx.base_dirs.iter().flat_map(|b| [b.join("files"), b.clone()]).collect(),
        };
        for d in dirs {
            let found = super::glob::files_matching(&d.join(file).display().to_string())?;
            if !found.is_empty() {
                out.extend(found.into_iter().map(Value::from));
                break;
            }
        }
    }
    Ok(out)
}

/// `pipe`: each term run by `/bin/sh -c` on the controller, in the playbook's directory; its
/// standard output without trailing whitespace. A command that fails is an error.
fn pipe_lookup(ctx: &LookupContext, terms: &[Value]) -> Result<Vec<Value>, Error> {
    let mut out = Vec::new();
    for term in string_terms(terms, "pipe")? {
        out.push(Value::from(controller_sh(ctx, &term, "pipe")?.trim_end()));
    }
    Ok(out)
}

/// `url`: each term fetched from the controller (with curl, redirects followed), its lines
/// (`split_lines`, the default) or its whole text. Options as ansible-core's: `validate_certs`,
/// `use_proxy`, `username`/`password` (given to curl on its standard input, never in argv),
/// `force_basic_auth`, `headers`, `force`, `timeout` (10), `http_agent`, `follow_redirects`,
/// `unix_socket`, `ca_path`. `use_gssapi`, `ciphers`, `unredirected_headers` and `use_netrc` are
/// refused. An HTTP error fails with ansible-core's words ("Received HTTP error for URL: HTTP
/// Error 404: Not Found"), as does a connection that fails ("Failed lookup url for URL: ...").
fn url_lookup(terms: &[Value], kw: &Kwargs) -> Result<Vec<Value>, Error> {
    let flag = |name: &str, default: bool| -> Result<bool, Error> {
        Ok(match kw.get::<Option<Value>>(name)? {
            None => default,
            Some(v) if v.kind() == ValueKind::String => crate::args::parse_bool(v.as_str().unwrap_or_default())
                .ok_or_else(|| fail(format!("lookup('url'): {name} must be a boolean, got {v}")))?,
            Some(v) => v.is_true(),
        })
    };
    let text = |name: &str| -> Result<Option<String>, Error> {
        Ok(kw.get::<Option<Value>>(name)?.filter(|v| !v.is_none() && !v.is_undefined()).map(|v| v.to_string()))
    };
    for refused in ["use_gssapi", "ciphers", "unredirected_headers", "use_netrc"] {
        if let Some(v) = kw.get::<Option<Value>>(refused)? {
            let off = v.is_none()
                || (refused != "use_netrc" && !v.is_true() && v.kind() != ValueKind::Seq)
                || (refused == "use_netrc" && v.is_true());
            if !off {
                return Err(fail(format!("lookup('url'): option {refused} is not supported by prov yet")));
            }
        }
    }
    let split = flag("split_lines", true)?;
    let validate = flag("validate_certs", true)?;
    let use_proxy = flag("use_proxy", true)?;
    let force = flag("force", false)?;
    let force_basic = flag("force_basic_auth", false)?;
    let timeout = match kw.get::<Option<Value>>("timeout")? {
        None => 10.0,
        Some(v) => v
            .to_string()
            .parse::<f64>()
            .map_err(|_| fail(format!("lookup('url'): timeout must be a number, got {v}")))?,
    };
    let agent = text("http_agent")?.unwrap_or_else(|| "ansible-httpget".into());
    let follow = text("follow_redirects")?.unwrap_or_else(|| "urllib2".into());
    let (user, password) = (text("username")?, text("password")?);
    let (socket, ca) = (text("unix_socket")?, text("ca_path")?);
    let headers: Vec<(String, String)> = match kw.get::<Option<Value>>("headers")? {
        None => Vec::new(),
        Some(h) => {
            let mut out = Vec::new();
            if let Ok(keys) = h.try_iter() {
                for k in keys {
                    let v = h.get_item(&k).unwrap_or_default();
                    out.push((k.to_string(), v.to_string()));
                }
            }
            out
        }
    };
    let mut out = Vec::new();
    for term in string_terms(terms, "url")? {
        let mut cmd = std::process::Command::new("curl");
        // Headers go to standard error with curl's own messages: the last status line is the
        // answer's.
        cmd.args(["-sS", "-D", "/dev/stderr", "-K", "-"]);
        cmd.arg("--max-time").arg(format!("{timeout}"));
        cmd.arg("-A").arg(&agent);
        if !validate {
            cmd.arg("-k");
        }
        if !use_proxy {
            cmd.args(["--noproxy", "*"]);
        }
        if !matches!(follow.as_str(), "none" | "no" | "false") {
            cmd.arg("-L");
        }
        if force {
            cmd.args(["-H", "Cache-Control: no-cache"]);
        }
        for (k, v) in &headers {
            cmd.arg("-H").arg(format!("{k}: {v}"));
        }
        if let Some(sock) = &socket {
            cmd.arg("--unix-socket").arg(sock);
        }
        if let Some(ca) = &ca {
            cmd.arg("--cacert").arg(ca);
        }
        cmd.arg("--").arg(&term);
        let mut config = String::new();
        if let Some(u) = &user {
            let creds = format!("{u}:{}", password.clone().unwrap_or_default());
            config.push_str(&format!("user = \"{}\"\n", creds.replace('\\', "\\\\").replace('"', "\\\"")));
            config.push_str(if force_basic { "basic\n" } else { "anyauth\n" });
        }
        cmd.stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let mut child = cmd
            .spawn()
            .map_err(|e| fail(format!("Failed lookup url for {term}: cannot run curl on the controller: {e}")))?;
        if let Some(mut stdin) = child.stdin.take() {
            use std::io::Write;
            let _ = stdin.write_all(config.as_bytes());
        }
        let res = child.wait_with_output().map_err(|e| fail(format!("Failed lookup url for {term}: {e}")))?;
        let err = String::from_utf8_lossy(&res.stderr);
        let status = err.lines().rfind(|l| l.starts_with("HTTP/")).and_then(|l| {
            let mut parts = l.trim_end().splitn(3, ' ');
            let _ = parts.next();
            let code: u16 = parts.next()?.parse().ok()?;
            Some((code, parts.next().unwrap_or_default().to_string()))
        });
        match (res.status.code(), status) {
            (Some(0), Some((code, reason))) if code >= 400 => {
                return Err(fail(format!("Received HTTP error for {term}: HTTP Error {code}: {reason}")));
            }
            (Some(0), _) => {}
            (code, _) => {
                let why =
                    err.lines().rfind(|l| l.starts_with("curl: ")).unwrap_or_default().trim_start_matches("curl: ");
                let why = if code == Some(7) && why.contains("Connection refused") {
                    "<urlopen error [Errno 111] Connection refused>".to_string()
                } else {
                    format!("<urlopen error {why}>")
                };
                return Err(fail(format!("Failed lookup url for {term}: {why}")));
            }
        }
        let body = String::from_utf8(res.stdout)
            .map_err(|_| fail(format!("lookup('url'): the answer of {term} is not UTF-8")))?;
        if split {
            out.extend(py_splitlines(&body).into_iter().map(Value::from));
        } else {
            out.push(Value::from(body));
        }
    }
    Ok(out)
}

/// `lines`: each term run by `sh` on the controller, its output's lines (Python's
/// `splitlines`) as items.
fn lines_lookup(ctx: &LookupContext, terms: &[Value]) -> Result<Vec<Value>, Error> {
    let mut out = Vec::new();
    for term in string_terms(terms, "lines")? {
        out.extend(py_splitlines(&controller_sh(ctx, &term, "lines")?).into_iter().map(Value::from));
    }
    Ok(out)
}

/// Runs `term` with `/bin/sh -c` on the controller, in the playbook's directory; its standard
/// output, or ansible-core's message when it exits non-zero.
fn controller_sh(ctx: &LookupContext, term: &str, plugin: &str) -> Result<String, Error> {
    let mut cmd = std::process::Command::new("/bin/sh");
    cmd.arg("-c").arg(term).stdin(std::process::Stdio::null()).stderr(std::process::Stdio::inherit());
    if let Some(dir) = ctx.base_dirs.last() {
        cmd.current_dir(dir);
    }
    let res = cmd.output().map_err(|e| fail(format!("lookup('{plugin}'): cannot run {term:?}: {e}")))?;
    if !res.status.success() {
        let code = res.status.code().map_or_else(|| "a signal".to_string(), |c| c.to_string());
        return Err(fail(format!("lookup_plugin.{plugin}({term}) returned {code}")));
    }
    String::from_utf8(res.stdout).map_err(|_| fail(format!("lookup('{plugin}'): the output of {term:?} is not UTF-8")))
}

/// Python's `bytes.splitlines()` (ansible-core splits the command's bytes): lines end at `\n`,
/// `\r` or `\r\n`; no empty last line for a trailing end.
fn py_splitlines(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\n' || b[i] == b'\r' {
            out.push(&text[start..i]);
            i += if b[i] == b'\r' && b.get(i + 1) == Some(&b'\n') { 2 } else { 1 };
            start = i;
        } else {
            i += 1;
        }
    }
    if start < text.len() {
        out.push(&text[start..]);
    }
    out
}

/// `varnames`: the names of the variables in scope that a term (a Python regular expression)
/// finds (`re.search`), in scope order for each term.
fn varnames_lookup(state: &State, terms: &[Value]) -> Result<Vec<Value>, Error> {
    // The environment's functions (`range`, `lookup`, ...) are no variables.
    let functions: std::collections::HashSet<&str> =
        state.env().globals().filter(|(_, v)| v.kind() == ValueKind::Plain).map(|(n, _)| n).collect();
    let names: Vec<String> = state
        .known_variables()
        .into_iter()
        .filter(|n| !functions.contains(n.as_ref()))
        .map(|n| n.into_owned())
        .collect();
    let mut out = Vec::new();
    for term in flat_terms(terms) {
        let Some(pattern) = term.as_str() else {
            return Err(fail(format!(
                "Invalid setting identifier, \"{}\" is not a string, it is a <class '{}'>",
                super::pymethods::py_str(&term),
                crate::template::python_type(&term)
            )));
        };
        let re = super::text::compile_py(pattern, false, false)
            .map_err(|why| fail(format!("Unable to use \"{pattern}\" as a search parameter: {why}")))?;
        for n in &names {
            if re.is_match(n).map_err(super::text::regex_runtime("varnames"))? {
                out.push(Value::from(n.as_str()));
            }
        }
    }
    Ok(out)
}

/// Python's `string` constants the `password` lookup's `chars` may name.
fn char_class(name: &str) -> Option<&'static str> {
    Some(match name {
        "ascii_letters" => "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
        "ascii_lowercase" => "abcdefghijklmnopqrstuvwxyz",
        "ascii_uppercase" => "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
        "digits" => "0123456789",
        "hexdigits" => "0123456789abcdefABCDEF",
        "octdigits" => "01234567",
        "punctuation" => "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~",
        "printable" => "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ \t\n\r\x0b\x0c",
        "whitespace" => " \t\n\r\x0b\x0c",
        _ => return None,
    })
}

/// `password`: the password stored in a controller file, or a new random one written there
/// (mode 0600, parent directories 0700) when the file does not exist; `/dev/null` always gives
/// a new one. Options `length` (20), `chars` (letters, digits and `.,:-_`) and `seed`, as
/// `key=value` after the path or as keywords; `encrypt` and `ident` are not supported.
fn password_lookup(ctx: &LookupContext, terms: &[Value], kw: &Kwargs) -> Result<Vec<Value>, Error> {
    let mut out = Vec::new();
    let kw_length = kw.get::<Option<Value>>("length")?;
    let kw_chars = kw.get::<Option<Value>>("chars")?;
    let kw_seed = kw.get::<Option<Value>>("seed")?;
    for key in ["encrypt", "ident"] {
        if kw.get::<Option<Value>>(key)?.is_some() {
            return Err(fail(format!("lookup('password'): `{key}` is not supported by prov")));
        }
    }
    for term in string_terms(terms, "password")? {
        let (path, params) = match term.split_once(' ') {
            Some((p, rest)) => (p.to_string(), crate::compile::kv::parse_kv(rest, false).map(|(kv, _)| kv)),
            None => (term.clone(), Ok(Vec::new())),
        };
        let params = params.map_err(|e| fail(format!("lookup('password'): {e}")))?;
        let mut length = kw_length.clone();
        let mut chars = kw_chars.clone();
        let mut seed = kw_seed.clone();
        for (k, v) in params {
            match k.as_str() {
                "length" => length = Some(Value::from(v)),
                "chars" => chars = Some(Value::from(v)),
                "seed" => seed = Some(Value::from(v)),
                "encrypt" | "ident" => {
                    return Err(fail(format!("lookup('password'): `{k}` is not supported by prov")));
                }
                other => {
                    return Err(fail(format!("lookup('password'): unrecognized parameter(s): {other}")));
                }
            }
        }
        let length = match length {
            None => 20,
            Some(v) => v
                .as_str()
                .map(|s| s.trim().parse::<usize>().ok())
                .unwrap_or_else(|| usize::try_from(v.clone()).ok())
                .ok_or_else(|| fail(format!("lookup('password'): length must be an integer, got {v}")))?,
        };
        let specs: Vec<String> = match chars {
            None => vec!["ascii_letters".into(), "digits".into(), ".,:-_".into()],
            Some(v) if v.kind() == ValueKind::String => {
                let s = v.as_str().unwrap_or_default();
                let mut specs = Vec::new();
                if s.contains(",,") {
                    specs.push(",".to_string());
                }
                specs.extend(s.replace(",,", ",").split(',').filter(|c| !c.is_empty()).map(str::to_string));
                specs
            }
            Some(v) => string_terms(&[v], "password")?,
        };
        let pool: Vec<char> = specs
            .iter()
            .map(|s| char_class(s).unwrap_or(s))
            .collect::<String>()
            .chars()
            .filter(|c| *c != '"' && *c != '\'')
            .collect();
        let path = PathBuf::from(expand_user(&path));
        let path = match ctx.base_dirs.last() {
            Some(base) if path.is_relative() => base.join(path),
            _ => path,
        };
        let dev_null = path == Path::new("/dev/null");
        if !dev_null && path.exists() {
            let text = std::fs::read_to_string(&path)
                .map_err(|e| fail(format!("lookup('password'): cannot read {}: {e}", path.display())))?;
            let text = text.trim_end();
            // Ansible stores `PASSWORD salt=SALT [ident=ID]` when it encrypted once.
            let password = text.rfind(" salt=").map_or(text, |i| &text[..i]);
            out.push(Value::from(password));
            continue;
        }
        if pool.is_empty() && length > 0 {
            return Err(fail("lookup('password'): `chars` leaves no character to choose from"));
        }
        let mut rng = match &seed {
            Some(s) => Some(super::random::PyRandom::seeded(&Value::from(s.to_string()))?),
            None => None,
        };
        let mut password = String::with_capacity(length);
        for _ in 0..length {
            let i = match rng.as_mut() {
                Some(r) => r.randbelow(pool.len() as u128) as usize,
                None => system_below(pool.len())?,
            };
            password.push(pool[i]);
        }
        if !dev_null {
            write_password_file(&path, &password)?;
        }
        out.push(Value::from(password));
    }
    Ok(out)
}

/// A uniform index below `n` from the system's randomness.
fn system_below(n: usize) -> Result<usize, Error> {
    let bits = usize::BITS - n.leading_zeros();
    loop {
        let mut b = [0u8; 8];
        getrandom::fill(&mut b).map_err(|e| fail(format!("lookup('password'): no system randomness: {e}")))?;
        let r = (u64::from_le_bytes(b) >> (64 - bits)) as usize;
        if r < n {
            return Ok(r);
        }
    }
}

fn write_password_file(path: &Path, password: &str) -> Result<(), Error> {
    use std::io::Write;
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    let what = |e: std::io::Error| fail(format!("lookup('password'): cannot write {}: {e}", path.display()));
    // Python's makedirs(mode=0o700): missing parents get the default mode, the last one 0700.
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty() && !d.exists()) {
        if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(what)?;
        }
        std::fs::DirBuilder::new().mode(0o700).create(dir).map_err(what)?;
    }
    let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path).map_err(what)?;
    f.write_all(format!("{password}\n").as_bytes()).map_err(what)?;
    Ok(())
}

/// Each term as a list, as Ansible's `listify_lookup_plugin_terms` makes it: a list stays, a
/// string or anything else becomes a list of one.
fn listified(terms: &[Value]) -> Vec<Value> {
    terms.iter().map(|t| if is_list(t) { t.clone() } else { Value::from(vec![t.clone()]) }).collect()
}

/// Python's `_flatten` of the `nested` lookup: lists are spliced, strings become their
/// characters (Python iterates them), other values stay.
fn nested_flatten(x: &Value) -> Result<Vec<Value>, Error> {
    let mut out = Vec::new();
    let items: Vec<Value> = match x.kind() {
        ValueKind::String => x.as_str().unwrap_or_default().chars().map(|c| Value::from(c.to_string())).collect(),
        _ if is_list(x) => x.try_iter()?.collect(),
        _ => return Err(fail(format!("lookup('nested'): cannot iterate over {} ({x})", a_type(x)))),
    };
    for term in items {
        if is_list(&term) {
            out.extend(term.try_iter()?);
        } else {
            out.push(term);
        }
    }
    Ok(out)
}

/// `nested` (`with_nested`): every combination of the terms' items, the first term outermost.
fn nested_lookup(terms: &[Value]) -> Result<Vec<Value>, Error> {
    let lists = listified(terms);
    let Some(first) = lists.first() else {
        return Err(fail("with_nested requires at least one element in the nested list"));
    };
    let mut result: Vec<Value> = first.try_iter()?.collect();
    for next in &lists[1..] {
        let next: Vec<Value> = next.try_iter()?.collect();
        let mut combined = Vec::new();
        for x in &result {
            for y in &next {
                let pair = Value::from(vec![x.clone(), y.clone()]);
                combined.push(Value::from(nested_flatten(&pair)?));
            }
        }
        result = combined;
    }
    result.iter().map(|x| nested_flatten(x).map(Value::from)).collect()
}

/// `subelements` (`with_subelements`): `[list, 'key.path', {skip_missing: bool}]` gives a
/// `[item, element]` pair for each element of each item's list; as in Ansible, the item is
/// handed over without that list's key.
fn subelements_lookup(terms: &[Value]) -> Result<Vec<Value>, Error> {
    let bad = |msg: &str| fail(format!("subelements lookup expects a list of two or three items, {msg}"));
    if !(2..=3).contains(&terms.len()) {
        return Err(bad(""));
    }
    let (list, key) = (&terms[0], &terms[1]);
    let Some(key) = key.as_str().filter(|_| key.kind() == ValueKind::String) else {
        return Err(bad("first a dict or a list, second a string pointing to the subkey"));
    };
    let elements: Vec<Value> = match list.kind() {
        ValueKind::Map => {
            if list.get_attr("skipped").is_ok_and(|v| !v.is_undefined() && v != Value::from(false)) {
                return Ok(Vec::new());
            }
            list.try_iter()?.map(|k| list.get_item(&k)).collect::<Result<_, _>>()?
        }
        _ if is_list(list) => list.try_iter()?.collect(),
        _ => return Err(bad("first a dict or a list, second a string pointing to the subkey")),
    };
    let skip_missing = match terms.get(2) {
        None => false,
        Some(flags) if flags.kind() == ValueKind::Map => {
            for k in flags.try_iter()? {
                if k.as_str() != Some("skip_missing") {
                    return Err(bad("the optional third item must be a dict with flags ['skip_missing']"));
                }
            }
            flags.get_attr("skip_missing")?.is_true()
        }
        Some(_) => return Err(bad("the optional third item must be a dict with flags ['skip_missing']")),
    };
    let path: Vec<&str> = key.split('.').collect();
    let mut out = Vec::new();
    for item in elements {
        if item.kind() != ValueKind::Map {
            return Err(fail(format!("subelements lookup expects a dictionary, got '{item}'")));
        }
        if item.get_attr("skipped").is_ok_and(|v| !v.is_undefined() && v != Value::from(false)) {
            continue;
        }
        match without_sublist(&item, &path, skip_missing)? {
            Some((rest, sublist)) => {
                for element in sublist {
                    out.push(Value::from(vec![rest.clone(), element]));
                }
            }
            None => continue,
        }
    }
    Ok(out)
}

/// The item without the list at `path`, and that list; `None` when it is missing and
/// `skip_missing` is set.
fn without_sublist(item: &Value, path: &[&str], skip_missing: bool) -> Result<Option<(Value, Vec<Value>)>, Error> {
    let (key, rest) = path.split_first().expect("split('.') gives at least one part");
    let has = item.try_iter()?.any(|k| k.as_str() == Some(key));
    if !has {
        if skip_missing {
            return Ok(None);
        }
        return Err(fail(format!("could not find '{key}' key in iterated item '{item}'")));
    }
    let value = item.get_item(&Value::from(*key))?;
    let replaced = if rest.is_empty() {
        if !is_list(&value) {
            return Err(fail(format!("the key {key} should point to a list, got '{value}'")));
        }
        (None, value.try_iter()?.collect())
    } else {
        if value.kind() != ValueKind::Map {
            if skip_missing {
                return Ok(None);
            }
            return Err(fail(format!("the key {key} should point to a dictionary, got '{value}'")));
        }
        match without_sublist(&value, rest, skip_missing)? {
            Some((inner, list)) => (Some(inner), list),
            None => return Ok(None),
        }
    };
    let (inner, list) = replaced;
    let mut map = indexmap::IndexMap::new();
    for k in item.try_iter()? {
        if k.as_str() == Some(key) {
            match &inner {
                Some(v) => {
                    map.insert(k, v.clone());
                }
                None => continue,
            }
        } else {
            let v = item.get_item(&k)?;
            map.insert(k, v);
        }
    }
    Ok(Some((Value::from(map), list)))
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
    use super::py_splitlines;
    use crate::template::filters::testenv::{env_with, err, ok, render_ctx};
    use minijinja::context;

    fn tmpdir(name: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("prov-lookup-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(d.join("files")).unwrap();
        d
    }

    #[test]
    fn lookup_of_no_results_is_an_empty_list_not_empty_text() {
        // ansible-core joins two or more text results; none stays the empty list.
        assert_eq!(ok("x{{ lookup('fileglob', '/nonexistent-prov/*.none') }}y"), "x[]y");
        assert_eq!(ok("{{ lookup('items', []) | type_debug }}"), "list");
        assert_eq!(ok("{{ lookup('items', ['a']) }}"), "a");
        assert_eq!(ok("{{ lookup('items', ['a', 'b']) }}"), "a,b");
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
    fn lookups_in_a_role_search_the_role_before_the_playbook() {
        let d = tmpdir("role");
        let role = d.join("roles/r");
        std::fs::create_dir_all(role.join("files")).unwrap();
        std::fs::write(role.join("files/a.txt"), "from role").unwrap();
        std::fs::write(d.join("files/a.txt"), "from playbook").unwrap();
        let env = env_with(vec![d.clone()]);
        let in_role = minijinja::context! { role_path => role.display().to_string() };
        assert_eq!(env.render_str("{{ lookup('file', 'a.txt') }}", in_role).unwrap(), "from role");
        assert_eq!(env.render_str("{{ lookup('file', 'a.txt') }}", ()).unwrap(), "from playbook");
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn first_found_returns_the_path() {
        let d = tmpdir("ff");
        std::fs::write(d.join("debian.yml"), "x").unwrap();
        let env = env_with(vec![d.clone()]);
        let r = |s: &str| env.render_str(s, ()).map_err(|e| format!("{e:#}"));
        let want = d.join("debian.yml").display().to_string();
        assert_eq!(r("{{ lookup('first_found', ['redhat.yml', 'debian.yml']) }}").unwrap(), want);
        assert_eq!(r("{{ lookup('first_found', 'redhat.yml,debian.yml') }}").unwrap(), want);
        assert_eq!(r("{{ lookup('first_found', {'files': ['x.yml', 'debian.yml']}) }}").unwrap(), want);
        assert_eq!(r("{{ query('first_found', 'none.yml', skip=true) | length }}").unwrap(), "0");
        let e = r("{{ lookup('first_found', 'none.yml') }}").unwrap_err();
        assert!(e.contains("No file was found when using first_found."), "{e}");
        let _ = std::fs::remove_dir_all(&d);
    }

    /// ansible-core 2.19.14: called as a lookup, first_found does not look in `files/` (it
    /// failed on a name only there); run by `with_first_found` it looks in `templates/`,
    /// `vars/` or `files/` after the task's action (an include_vars of a role's
    /// vars/Debian.yml was not found by prov, which looked in files/).
    #[test]
    fn first_found_looks_in_the_directory_of_the_task_s_action() {
        let d = tmpdir("ff-dirs");
        for sub in ["files", "vars", "templates"] {
            std::fs::create_dir_all(d.join(sub)).unwrap();
            std::fs::write(d.join(sub).join("x.yml"), sub).unwrap();
        }
        let env = env_with(vec![d.clone()]);
        let e = env.render_str("{{ lookup('first_found', 'x.yml') }}", ()).unwrap_err();
        assert!(format!("{e:#}").contains("No file was found"), "{e:#}");
        for (action, sub) in
            [("include_vars", "vars"), ("template", "templates"), ("copy", "files"), ("debug", "files")]
        {
            let ctx = context! { __prov_with_action => action };
            let found = env.render_str("{{ query('first_found', 'x.yml')[0] }}", ctx).unwrap();
            assert_eq!(found, d.join(sub).join("x.yml").display().to_string(), "{action}");
        }
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn vars_list_items() {
        let ctx = context! { port => 80, name => "web" };
        assert_eq!(render_ctx("{{ lookup('vars', 'port') + 1 }}", ctx.clone()).unwrap(), "81");
        assert_eq!(render_ctx("{{ lookup('vars', 'na' ~ 'me') }}", ctx.clone()).unwrap(), "web");
        assert_eq!(render_ctx("{{ lookup('vars', 'nope', default=1) }}", ctx.clone()).unwrap(), "1");
        assert!(render_ctx("{{ lookup('vars', 'nope') }}", ctx).is_err());
        assert_eq!(ok("{{ query('list', [1, 2], 3) | to_json }}"), "[[1, 2], 3]");
        assert_eq!(ok("{{ q('items', [1, 2], 3) | to_json }}"), "[1, 2, 3]");
        assert_eq!(ok("{{ lookup('items', [1, 2]) | to_json }}"), "[1, 2]");
    }

    /// ansible-core 2.19's vars lookup gives an undefined value for a name it does not find
    /// (no `default=`): `default` replaces it and `is defined` is false, with `errors=ignore`
    /// too; `query` gives a list holding it (defined, failing when rendered).
    #[test]
    fn vars_lookup_of_a_missing_name_is_undefined() {
        let ctx = context! { port => 80 };
        let r = |src: &str| render_ctx(src, ctx.clone());
        assert_eq!(r("{{ lookup('vars', 'nope') | default('d') }}").unwrap(), "d");
        assert_eq!(r("{{ lookup('vars', 'nope') is defined }}").unwrap(), "False");
        assert_eq!(r("{{ lookup('vars', 'port', 'nope') | default('d') }}").unwrap(), "d");
        assert_eq!(r("{{ lookup('vars', 'nope', errors='ignore') | default('d') }}").unwrap(), "d");
        assert_eq!(r("{{ query('vars', 'nope') is defined }}").unwrap(), "True");
        assert_eq!(r("{{ query('vars', 'nope') | length }}").unwrap(), "1");
    }

    #[test]
    fn vars_names_must_be_strings_as_ansible_says() {
        // ansible-core 2.19: "Variable name must be 'str' not 'int'".
        let e = render_ctx("{{ lookup('vars', 42) }}", context! {}).unwrap_err();
        assert!(e.contains("Variable name must be 'str' not 'int'"), "{e}");
    }

    #[test]
    fn lines_gives_each_line_of_each_command() {
        let d = tmpdir("lines");
        let env = env_with(vec![d.clone()]);
        let r = |s: &str| env.render_str(s, ()).map_err(|e| format!("{e:#}"));
        // ansible-core 2.19 on the same terms: "a,b,c" and ['a', 'b'].
        assert_eq!(r("{{ lookup('lines', 'printf \"a\\nb\\n\"', 'echo c') }}").unwrap(), "a,b,c");
        assert_eq!(r("{{ query('lines', 'printf \"a\\r\\nb\"') | to_json }}").unwrap(), "[\"a\", \"b\"]");
        let e = r("{{ lookup('lines', 'exit 3') }}").unwrap_err();
        assert!(e.contains("lookup_plugin.lines(exit 3) returned 3"), "{e}");
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn lines_split_as_python_bytes_do() {
        assert_eq!(py_splitlines("a\nb\r\nc\rd\x0ce\u{2028}f\n"), ["a", "b", "c", "d\x0ce\u{2028}f"]);
        assert_eq!(py_splitlines("a\n\nb"), ["a", "", "b"]);
        assert!(py_splitlines("").is_empty());
    }

    #[test]
    fn varnames_searches_the_names_in_scope() {
        let ctx = context! { qz_1 => "hello", qz_2 => "world", qa_1 => "x", qz_ => "y" };
        let r = |s: &str| render_ctx(s, ctx.clone());
        assert_eq!(r("{{ query('varnames', '^qz_.+') | sort | to_json }}").unwrap(), "[\"qz_1\", \"qz_2\"]");
        assert_eq!(
            r("{{ query('varnames', '^qz_.+', '^qa.*') | sort | to_json }}").unwrap(),
            "[\"qa_1\", \"qz_1\", \"qz_2\"]"
        );
        assert_eq!(r("{{ query('varnames', '^doesnotexist.*') | to_json }}").unwrap(), "[]");
        // Functions of the environment are no variables.
        assert_eq!(r("{{ query('varnames', '^range$') | to_json }}").unwrap(), "[]");
        // ansible-core 2.19's messages.
        let e = r("{{ query('varnames', True) }}").unwrap_err();
        assert!(e.contains("Invalid setting identifier, \"True\" is not a string, it is a <class 'bool'>"), "{e}");
        let e = r("{{ query('varnames', '*') }}").unwrap_err();
        assert!(e.contains("Unable to use \"*\" as a search parameter: nothing to repeat at position 0"), "{e}");
    }

    #[test]
    fn unsupported_plugins_are_named() {
        err("{{ lookup('mongodb', 'x') }}", "lookup plugin `mongodb` is not supported");
        err("{{ query('redis', 'k', errors='ignore') }}", "lookup plugin `redis` is not supported");
        err("{{ lookup('env', 'X', errors='loud') }}", "errors must be 'strict', 'warn' or 'ignore'");
    }

    #[test]
    fn fileglob_lookup_searches_files_then_the_directory_in_directory_order() {
        let d = tmpdir("glob");
        std::fs::create_dir_all(d.join("files/conf.d")).unwrap();
        for f in ["files/conf.d/b.conf", "files/conf.d/a.conf", "files/x.conf", "y.conf"] {
            std::fs::write(d.join(f), "x").unwrap();
        }
        let env = env_with(vec![d.clone()]);
        let r = |s: &str| env.render_str(s, ()).map_err(|e| format!("{e:#}"));
        let p = d.display().to_string();
        // ansible-core 2.19 gives these (the directory's own order, as Python's glob).
        let order: Vec<String> = std::fs::read_dir(d.join("files/conf.d"))
            .unwrap()
            .map(|e| format!("{p}/files/conf.d/{}", e.unwrap().file_name().to_string_lossy()))
            .collect();
        assert_eq!(r("{{ query('fileglob', 'conf.d/*.conf') | join(',') }}").unwrap(), order.join(","));
        assert_eq!(r("{{ lookup('fileglob', 'conf.d/*.conf') }}").unwrap(), order.join(","));
        assert_eq!(r("{{ query('fileglob', '*.conf') | to_json }}").unwrap(), format!("[\"{p}/files/x.conf\"]"));
        assert_eq!(r("{{ query('fileglob', '/nonexist/*') }}").unwrap(), "[]");
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn pipe_runs_in_the_playbook_directory_and_strips_trailing_whitespace() {
        let d = tmpdir("pipe");
        let env = env_with(vec![d.clone()]);
        let r = |s: &str| env.render_str(s, ()).map_err(|e| format!("{e:#}"));
        assert_eq!(r("{{ lookup('pipe', 'pwd') }}").unwrap(), d.canonicalize().unwrap().display().to_string());
        assert_eq!(r("{{ lookup('pipe', 'printf \"a\\n\\n\"; echo b >&2') }}|").unwrap(), "a|");
        let e = r("{{ lookup('pipe', 'exit 3') }}").unwrap_err();
        assert!(e.contains("lookup_plugin.pipe(exit 3) returned 3"), "{e}");
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn password_lookup_creates_the_file_once_and_reads_it_after() {
        use std::os::unix::fs::PermissionsExt;
        let d = tmpdir("pw");
        let env = env_with(vec![d.clone()]);
        let r = |s: &str| env.render_str(s, ()).map_err(|e| format!("{e:#}"));
        let first = r("{{ lookup('password', 'creds/a/db length=5') }}").unwrap();
        assert_eq!(first.len(), 5);
        assert!(first.chars().all(|c| c.is_ascii_alphanumeric() || ".,:-_".contains(c)), "{first}");
        assert_eq!(r("{{ lookup('password', 'creds/a/db length=9') }}").unwrap(), first);
        let file = d.join("creds/a/db");
        assert_eq!(std::fs::read_to_string(&file).unwrap(), format!("{first}\n"));
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!((mode(&file), mode(&d.join("creds/a"))), (0o600, 0o700));
        std::fs::write(d.join("stored"), "s3cret salt=abcd\n").unwrap();
        assert_eq!(r("{{ lookup('password', 'stored') }}").unwrap(), "s3cret");
        // Seeded passwords are ansible-core 2.19's.
        assert_eq!(r("{{ lookup('password', '/dev/null seed=abc length=10') }}").unwrap(), "6TTuIhBjba");
        assert_eq!(
            r("{{ lookup('password', '/dev/null', seed='abc', chars=['digits'], length=12) }}").unwrap(),
            "875524031001"
        );
        assert_eq!(
            r("{{ lookup('password', '/dev/null seed=x chars=ascii_lowercase,,') }}").unwrap(),
            "tjssobxlrnunlelorypp"
        );
        assert!(!std::path::Path::new("/dev/null").is_file());
        let e = r("{{ lookup('password', '/dev/null bogus=1') }}").unwrap_err();
        assert!(e.contains("unrecognized parameter(s): bogus"), "{e}");
        let e = r("{{ lookup('password', '/dev/null encrypt=sha512_crypt') }}").unwrap_err();
        assert!(e.contains("`encrypt` is not supported by prov"), "{e}");
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn nested_and_subelements_give_ansible_core_items() {
        // Outputs of ansible-core 2.19 for the same terms (with_nested / with_subelements).
        assert_eq!(
            ok("{{ query('nested', [1, 2], ['a', 'b']) | to_json }}"),
            "[[1, \"a\"], [1, \"b\"], [2, \"a\"], [2, \"b\"]]"
        );
        assert_eq!(ok("{{ query('nested', [[1, 2]], ['a']) | to_json }}"), "[[1, 2, \"a\"]]");
        assert_eq!(ok("{{ query('nested', ['ab', 'cd']) | to_json }}"), "[[\"a\", \"b\"], [\"c\", \"d\"]]");
        assert_eq!(ok("{{ query('nested', ['x'], [1, 2]) | to_json }}"), "[[\"x\", 1], [\"x\", 2]]");
        assert_eq!(ok("{{ query('nested', ['a', 'b'], 'x') | to_json }}"), "[[\"a\", \"x\"], [\"b\", \"x\"]]");
        let users = "[{'name': 'alice', 'groups': ['a', 'b'], 'o': {'k': [1]}}, {'name': 'bob', 'groups': ['c']}, {'name': 'carl'}]";
        assert_eq!(
            ok(&format!("{{{{ query('subelements', {users}, 'groups', {{'skip_missing': true}}) | to_json }}}}")),
            "[[{\"name\": \"alice\", \"o\": {\"k\": [1]}}, \"a\"], [{\"name\": \"alice\", \"o\": {\"k\": [1]}}, \"b\"], [{\"name\": \"bob\"}, \"c\"]]"
        );
        assert_eq!(
            ok(&format!("{{{{ query('subelements', {users}, 'o.k', {{'skip_missing': true}}) | to_json }}}}")),
            "[[{\"name\": \"alice\", \"groups\": [\"a\", \"b\"], \"o\": {}}, 1]]"
        );
        assert_eq!(
            ok("{{ query('subelements', [{'n': 1, 'l': [1, 2], 'z': 0}], 'l') | to_json }}"),
            "[[{\"n\": 1, \"z\": 0}, 1], [{\"n\": 1, \"z\": 0}, 2]]"
        );
        err(
            &format!("{{{{ query('subelements', {users}, 'groups') }}}}"),
            "could not find 'groups' key in iterated item",
        );
        err("{{ query('nested') }}", "with_nested requires at least one element");
    }
}
