//! Templating: minijinja with Ansible's filters, strict undefined variables, templates compiled
//! once and shared by every host.
//!
//! A string that is exactly one `{{ expression }}` renders to the expression's native value
//! (a list stays a list), as Ansible does; any other template renders to a string.

use minijinja::machinery::ast;
use minijinja::{Environment, Expression, Template, UndefinedBehavior, Value};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// A compiled template string.
#[derive(Clone)]
pub enum Tmpl {
    /// No template syntax: the string itself.
    Literal(Arc<str>),
    /// Exactly one `{{ expr }}`: evaluates to a native value. The text is the expression as
    /// written (for messages).
    Expr(Arc<Expression<'static, 'static>>, Arc<str>),
    /// Anything else: renders to a string, or to the value itself when that is all it
    /// outputs (see [`Templar::render`]).
    Text(Arc<Template<'static, 'static>>),
    /// A template whose source ends in line breaks, which Jinja drops (ansible-core's
    /// environment does not keep a trailing newline): a text result gets them back, up to as
    /// many as the source had (ansible-core's `preserve_trailing_newlines`).
    Newlines(Arc<Tmpl>, usize),
}

impl Tmpl {
    /// The template itself, without its trailing line breaks (see [`Tmpl::Newlines`]).
    pub fn inner(&self) -> &Tmpl {
        match self {
            Tmpl::Newlines(t, _) => t.inner(),
            t => t,
        }
    }
}

impl std::fmt::Debug for Tmpl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Tmpl::Literal(s) => write!(f, "Literal({s:?})"),
            Tmpl::Expr(_, src) => write!(f, "Expr({src:?})"),
            Tmpl::Text(_) => f.write_str("Text"),
            Tmpl::Newlines(t, n) => write!(f, "Newlines({t:?}, {n})"),
        }
    }
}

/// Whether a string contains template syntax.
pub fn is_template(s: &str) -> bool {
    s.contains("{{") || s.contains("{%") || s.contains("{#")
}

/// A piece of a template's text (see [`template_parts`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TemplatePart<'a> {
    /// Text as written (an unclosed `{{` and what follows it too).
    Text(&'a str),
    /// The expression between `{{` and `}}`, trimmed.
    Expr(&'a str),
}

/// `text` cut into its literal text and its `{{ ... }}` expressions, in order (the first `}}`
/// closes an expression). `{% %}` and `{# #}` are not looked for: callers that meet them
/// handle them first.
pub fn template_parts(text: &str) -> Vec<TemplatePart<'_>> {
    let mut parts = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let Some(len) = rest[start + 2..].find("}}") else { break };
        if start > 0 {
            parts.push(TemplatePart::Text(&rest[..start]));
        }
        parts.push(TemplatePart::Expr(rest[start + 2..start + 2 + len].trim()));
        rest = &rest[start + 2 + len + 2..];
    }
    if !rest.is_empty() {
        parts.push(TemplatePart::Text(rest));
    }
    parts
}

/// If `s` is exactly one `{{ ... }}`, the inner expression: then it renders to a value of
/// any type. Text around it, whitespace and line breaks too, makes it text (`"{{ n }}\n"` is
/// `"5\n"`, `" {{ s }}"` keeps its space), as in ansible-core.
pub fn single_expression(s: &str) -> Option<&str> {
    let inner = s.strip_prefix("{{")?.strip_suffix("}}")?;
    let inner = inner.strip_prefix('-').unwrap_or(inner);
    let inner = inner.strip_suffix('-').unwrap_or(inner);
    if inner.contains("{{") || inner.contains("}}") || inner.contains("{%") {
        return None;
    }
    Some(inner.trim())
}

/// Owns the template environment; one per run, shared by all hosts.
pub struct Templar {
    env: &'static Environment<'static>,
    /// Templates from playbook data (see [`Templar::compile`]).
    cache: RwLock<HashMap<Arc<str>, Tmpl>>,
    /// Conditions, whose string constants Jinja unescapes (see [`Templar::compile_condition`]).
    conditions: RwLock<HashMap<Arc<str>, Tmpl>>,
}

impl Templar {
    /// Another templar over the same environment (filters, lookups), with its own cache: for
    /// a [`crate::vars::Scope`] built where only a borrowed one is at hand.
    pub fn sibling(&self) -> Templar {
        Templar { env: self.env, cache: RwLock::new(HashMap::new()), conditions: RwLock::new(HashMap::new()) }
    }
}

impl std::fmt::Debug for Templar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Templar")
    }
}

/// Jinja's lexer reads every line end (`\r\n`, `\r`, `\n`) as `\n` (its `newline_sequence`,
/// which ansible-core leaves at `\n`).
pub fn jinja_newlines(text: &str) -> String {
    if text.contains('\r') {
        text.replace("\r\n", "\n").replace('\r', "\n")
    } else {
        text.to_string()
    }
}

/// A template that another one includes, imports or extends, as Jinja loads it in Ansible
/// (`keep_trailing_newline` off): without one trailing line break. The top template keeps its
/// own, as ansible-core keeps it.
pub fn loaded_text(mut text: String) -> String {
    if text.ends_with('\n') {
        text.pop();
        if text.ends_with('\r') {
            text.pop();
        }
    }
    text
}

/// Jinja settings of a template file that differ from Ansible's defaults (`trim_blocks` on,
/// `lstrip_blocks` off): the `template` module's arguments, or a `#jinja2:` first line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileOverrides {
    /// `trim_blocks`.
    pub trim_blocks: Option<bool>,
    /// `lstrip_blocks`.
    pub lstrip_blocks: Option<bool>,
}

/// The text without its `#jinja2:` first line, and the settings: `given` with that line's
/// over them. Keys other than `trim_blocks` and `lstrip_blocks` (and the defaults of the rest)
/// are refused.
pub(crate) fn file_overrides<'t>(text: &'t str, given: &FileOverrides) -> Result<(&'t str, FileOverrides), String> {
    const HEADER: &str = "#jinja2:";
    let mut o = given.clone();
    let Some(rest) = text.strip_prefix(HEADER) else { return Ok((text, o)) };
    let Some(eol) = rest.find('\n') else { return Err(format!("Missing newline after '{HEADER}' override.")) };
    for pair in rest[..eol].split(',') {
        if pair.trim().is_empty() {
            return Err(format!("Empty '{HEADER}' override pair not allowed."));
        }
        let Some((key, val)) = pair.split_once(':') else {
            return Err(format!("Missing key-value separator `:` in '{HEADER}' override pair '{pair}'."));
        };
        let flag = match val.trim() {
            "True" => Some(true),
            "False" => Some(false),
            _ => None,
        };
        match (key.trim(), flag) {
            ("trim_blocks", Some(b)) => o.trim_blocks = Some(b),
            ("lstrip_blocks", Some(b)) => o.lstrip_blocks = Some(b),
            ("keep_trailing_newline", Some(false)) => {}
            ("newline_sequence", _) if matches!(val.trim(), "'\\n'" | "\"\\n\"") => {}
            (k, _) => {
                return Err(format!("prov does not support the '{HEADER}' override `{}`", format!("{k}:{val}").trim()))
            }
        }
    }
    Ok((&rest[eol + 1..], o))
}

/// Sets `o`'s Jinja settings on `env` (nothing when it has none).
pub(crate) fn apply_overrides(env: &mut Environment<'_>, o: &FileOverrides) -> Result<(), String> {
    if *o != FileOverrides::default() {
        let syntax = minijinja::syntax::SyntaxConfig::builder()
            .trim_blocks(o.trim_blocks.unwrap_or(true))
            .lstrip_blocks(o.lstrip_blocks.unwrap_or(false))
            .keep_trailing_newline(true)
            .build()
            .map_err(|e| e.to_string())?;
        env.set_syntax(syntax);
    }
    Ok(())
}

/// The message of a template error, with minijinja's detail where it adds something.
pub fn error_text(e: &minijinja::Error) -> String {
    let mut msg = match e.detail() {
        Some(d) => format!("{}: {}", e.kind(), d),
        None => e.to_string(),
    };
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        msg.push_str(&format!(": {s}"));
        src = s.source();
    }
    msg
}

impl Templar {
    /// A templar whose lookups read files relative to `base_dirs`.
    pub fn new(base_dirs: Vec<std::path::PathBuf>) -> Templar {
        Templar::build(base_dirs, None)
    }

    /// The same environment with a limit on the work one render may do (minijinja's fuel),
    /// for fuzzing: an endless template then ends as an error. Runs use [`Templar::new`].
    pub fn with_fuel(base_dirs: Vec<std::path::PathBuf>, fuel: u64) -> Templar {
        Templar::build(base_dirs, Some(fuel))
    }

    fn build(base_dirs: Vec<std::path::PathBuf>, fuel: Option<u64>) -> Templar {
        let mut env = Environment::new();
        env.set_fuel(fuel);
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        // Ansible's Jinja defaults: trim_blocks on, trailing newline kept.
        if let Ok(syntax) =
            minijinja::syntax::SyntaxConfig::builder().trim_blocks(true).keep_trailing_newline(true).build()
        {
            env.set_syntax(syntax);
        }
        filters::register(&mut env, filters::LookupContext { base_dirs: Arc::new(base_dirs) });
        // Ansible's finalize: None prints as nothing (`a-{{ none }}` is `a-`). While a template
        // of playbook data renders, what it outputs is noted (see `Templar::render`).
        // ansible-core's concat drops None outputs and looks at the template's own output only
        // (not what `{% set x %}`, a macro or a filter block captures).
        env.set_formatter(|out, state, v| {
            if v.is_none() {
                return Ok(());
            }
            let noting = !out.is_capturing() && EMITTED.with(|e| e.borrow().is_some());
            if !noting {
                return minijinja::escape_formatter(out, state, v);
            }
            let mut text = String::new();
            minijinja::escape_formatter(&mut minijinja::machinery::make_string_output(&mut text), state, v)?;
            EMITTED.with(|e| {
                if let Some(e) = e.borrow_mut().as_mut() {
                    e.count += 1;
                    e.last = Some((v.clone(), text.clone()));
                }
            });
            out.write_str(&text).map_err(|_| minijinja::Error::from(minijinja::ErrorKind::WriteFailure))
        });
        env.add_global("omit", Value::from(OMIT));
        Templar {
            env: Box::leak(Box::new(env)),
            cache: RwLock::new(HashMap::new()),
            conditions: RwLock::new(HashMap::new()),
        }
    }

    /// Compiles (once; cached) a template string of playbook data (a task argument, a
    /// variable, a keyword). As ansible-core's lexer (`escape_backslashes`), a string constant
    /// inside `{{ ... }}` keeps its backslashes as written: YAML has read them already, so
    /// `regex_replace('(\\d)', '<\\1>')` in a double-quoted YAML string gets the pattern `(\d)` and
    /// the back reference `\1`. Template files and conditions unescape as Jinja does.
    pub fn compile(&self, s: &str) -> Result<Tmpl, String> {
        self.compile_in(s, true)
    }

    fn compile_in(&self, s: &str, raw_strings: bool) -> Result<Tmpl, String> {
        if !is_template(s) {
            return Ok(Tmpl::Literal(s.into()));
        }
        let cache = if raw_strings { &self.cache } else { &self.conditions };
        if let Some(t) = cache.read().ok().and_then(|c| c.get(s).cloned()) {
            return Ok(t);
        }
        let leaked: &'static str = Box::leak(s.to_string().into_boxed_str());
        // Jinja without `keep_trailing_newline` drops one line break at the end (`\n`, then
        // `\r`): `"{{ n }}\n"` is one expression.
        let body = leaked.strip_suffix('\n').unwrap_or(leaked);
        let body = body.strip_suffix('\r').unwrap_or(body);
        let body: &'static str = match embed_lookup_templates(body, raw_strings)? {
            Some(rewritten) => Box::leak(rewritten.into_boxed_str()),
            None => body,
        };
        let compile = || {
            Ok::<_, String>(match single_expression(body) {
                Some(expr) => {
                    Tmpl::Expr(Arc::new(self.env.compile_expression(expr).map_err(|e| error_text(&e))?), expr.into())
                }
                None => Tmpl::Text(Arc::new(self.env.template_from_str(body).map_err(|e| error_text(&e))?)),
            })
        };
        let t = if raw_strings { minijinja::machinery::with_raw_variable_strings(compile)? } else { compile()? };
        let t = match trailing_newlines(leaked) {
            0 => t,
            n => Tmpl::Newlines(Arc::new(t), n),
        };
        if let Ok(mut c) = cache.write() {
            c.insert(leaked.into(), t.clone());
        }
        Ok(t)
    }

    /// `query(name, *terms)` in the context `ctx`: what a `with_<name>` loop iterates, on a
    /// task whose module is `action` (ansible-core's `first_found` picks the directory it
    /// searches from the action of the task it loops for).
    pub fn query(&self, name: &str, terms: Vec<Value>, ctx: &Value, action: &str) -> Result<Value, String> {
        let expr = self.compile("{{ query(__prov_lookup, *__prov_terms) }}")?;
        let ctx = minijinja::context! {
            __prov_lookup => name, __prov_terms => terms, __prov_with_action => action, ..ctx.clone()
        };
        self.render(&expr, &ctx)
    }

    /// Compiles a bare expression (`debug: var=`, a constructed inventory's `compose`). Its
    /// string constants unescape as Jinja's do: ansible-core's lexer keeps backslashes only
    /// between `{{` and `}}`, which a bare expression never shows it.
    pub fn compile_expr(&self, expr: &str) -> Result<Tmpl, String> {
        self.compile_condition_expr(expr)
    }

    /// A condition's expression: its string constants unescaped as Jinja does (ansible-core
    /// turns `escape_backslashes` off for conditionals, which it once evaluated as `{% if %}`).
    fn compile_condition_expr(&self, expr: &str) -> Result<Tmpl, String> {
        let e = expr.trim();
        // Ansible allows `when: "{{ x }}"` (with a warning); treat it as the expression.
        let e = single_expression(e).unwrap_or(e);
        self.compile_in(&format!("{{{{ {e} }}}}"), false)
    }

    /// Compiles a conditional (`when`, `changed_when`, `failed_when`, `until`, `assert`'s
    /// `that`). A string constant in it that holds a template (`when: "'{{ x }}' in names"`) is
    /// rendered before the condition is evaluated, as ansible-core 2.19 still does (deprecated
    /// there, to be off by default in 2.23): each such constant becomes a variable of its own,
    /// given in [`Embedded`]. Template delimiters anywhere else are an error.
    pub fn compile_condition(&self, expr: &str) -> Result<Condition, String> {
        let inner = single_expression(expr.trim());
        let wrapped = inner.is_some();
        let e = inner.unwrap_or(expr.trim());
        if !is_template(e) {
            return Ok(Condition { expr: self.compile_condition_expr(e)?, embedded: Vec::new(), wrapped });
        }
        let ast = minijinja::machinery::parse_expr(e)
            .map_err(|_| "template delimiters are not supported in a condition's expression".to_string())?;
        let mut found = Vec::new();
        template_constants(&ast, &mut found)?;
        found.sort_unstable();
        found.dedup();
        let mut rewritten = String::with_capacity(e.len());
        let mut at = 0;
        let mut embedded = Vec::with_capacity(found.len());
        for (i, (start, end, text)) in found.into_iter().enumerate() {
            let (Some(before), true) = (e.get(at..start), start >= at) else {
                return Err("template delimiters are not supported in a condition's expression".into());
            };
            rewritten.push_str(before);
            let var = format!("__prov_embedded_{i}");
            rewritten.push_str(&var);
            at = end;
            embedded.push(Embedded { tmpl: self.compile_in(&text, false)?, var, text });
        }
        rewritten.push_str(e.get(at..).unwrap_or_default());
        Ok(Condition { expr: self.compile_condition_expr(&rewritten)?, embedded, wrapped })
    }

    /// Evaluates a condition compiled by [`Templar::compile_condition`]: its embedded
    /// templates first, then the expression; an undefined name is an error. A condition written
    /// as one template (`when: "{{ check }}"`) whose value is a string is that string evaluated
    /// as a condition in turn, as ansible-core 2.19 does (`check: "n == 3"` is true when n is 3).
    pub fn render_condition(&self, c: &Condition, ctx: &Value) -> Result<Value, String> {
        let v = if c.embedded.is_empty() {
            self.render_defined(&c.expr, ctx)?
        } else {
            let mut values = std::collections::BTreeMap::new();
            for em in &c.embedded {
                values.insert(em.var.clone(), self.render_defined(&em.tmpl, ctx)?);
            }
            let ctx = minijinja::context! { ..Value::from(values), ..ctx.clone() };
            self.render_defined(&c.expr, &ctx)?
        };
        match v.as_str() {
            Some(text) if c.wrapped && !v.is_safe() => {
                let inner = self.compile_condition(text)?;
                let inner = Condition { wrapped: false, ..inner };
                self.render_condition(&inner, ctx)
            }
            _ => Ok(v),
        }
    }

    /// Renders a compiled template with a context. A value ansible-core cannot keep (a
    /// `timedelta`) is an error, as there.
    /// A template that outputs one value and nothing else (`"{% if x %}{{ port }}{% endif %}"`)
    /// gives that value, and one that outputs nothing gives none, as ansible-core's native
    /// rendering does; otherwise the text.
    pub fn render(&self, t: &Tmpl, ctx: &Value) -> Result<Value, String> {
        match t {
            Tmpl::Literal(s) => Ok(Value::from(&**s)),
            Tmpl::Expr(e, _) => e.eval(ctx.clone()).map_err(|e| error_text(&e)).and_then(storable),
            Tmpl::Text(t) => {
                let before = EMITTED.with(|e| e.replace(Some(Emitted::default())));
                let out = t.render(ctx.clone());
                let emitted = EMITTED.with(|e| e.replace(before)).unwrap_or_default();
                let text = out.map_err(|e| {
                    // An undefined value: the variable it comes from, as Ansible names it.
                    let named = (e.kind() == minijinja::ErrorKind::UndefinedError)
                        .then(|| undefined_in(self.env, t.undeclared_variables(false), ctx, 0))
                        .flatten();
                    named.unwrap_or_else(|| error_text(&e))
                })?;
                Ok(match (emitted.count, emitted.last) {
                    (0, _) if text.is_empty() => Value::from(()),
                    (1, Some((v, shown))) if shown == text => v,
                    _ => Value::from(text),
                })
            }
            Tmpl::Newlines(inner, n) => {
                let v = self.render(inner, ctx)?;
                match v.as_str() {
                    Some(s) if v.kind() == minijinja::value::ValueKind::String && trailing_newlines(s) < *n => {
                        let missing = n - trailing_newlines(s);
                        Ok(Value::from(format!("{s}{}", "\n".repeat(missing))))
                    }
                    _ => Ok(v),
                }
            }
        }
    }

    /// Renders like [`Templar::render`], but an undefined result is an error (`'x' is
    /// undefined`), as in Ansible, where a task argument, loop or condition that names an
    /// undefined variable fails the task. (`render` lets an undefined value through, so that a
    /// variable defined as `"{{ missing }}"` is itself undefined for `is defined` and `default`.)
    pub fn render_defined(&self, t: &Tmpl, ctx: &Value) -> Result<Value, String> {
        UNDEFINED_REASON.with(|r| r.borrow_mut().take());
        let v = self.render(t, ctx)?;
        match t.inner() {
            Tmpl::Expr(e, src) if holds_undefined(&v) => Err(undefined_message(self.env, e, src, ctx)),
            _ => Ok(v),
        }
    }

    /// Evaluates a bare expression the way `debug: var=` needs it (see
    /// [`crate::module::Vars::eval_or_undefined`]): `Ok(Err("'x' is undefined"))` when the
    /// result is undefined or reading something undefined failed it.
    pub fn eval_or_undefined(&self, expr: &str, ctx: &Value) -> Result<Result<Value, String>, String> {
        let t = self.compile_expr(expr)?;
        UNDEFINED_REASON.with(|r| r.borrow_mut().take());
        let Tmpl::Expr(e, src) = &t else { return self.render(&t, ctx).map(Ok) };
        match e.eval(ctx.clone()) {
            Ok(v) if v.is_undefined() => Ok(Err(undefined_message(self.env, e, src, ctx))),
            Ok(v) => storable(v).map(Ok),
            // A plain undefined error; `mandatory` raises one with its own message, and fails.
            Err(err) if err.kind() == minijinja::ErrorKind::UndefinedError && err.detail().is_none() => {
                Ok(Err(undefined_message(self.env, e, src, ctx)))
            }
            Err(err) => Err(error_text(&err)),
        }
    }

    /// Compiles and renders a string.
    pub fn render_str(&self, s: &str, ctx: &Value) -> Result<Value, String> {
        let t = self.compile(s)?;
        self.render(&t, ctx)
    }

    /// Renders a whole file's text (the `template` module): always a string, never cached.
    pub fn render_file(&self, text: &str, ctx: &Value) -> Result<String, String> {
        not_noting(|| self.env.render_str(text, ctx.clone())).map_err(|e| error_text(&e))
    }

    /// Renders a template file's text whose `{% include %}`, `{% import %}` and `{% extends %}`
    /// name files in `search` (the first directory holding the name wins, as Jinja's
    /// FileSystemLoader in Ansible). Names with `..` or absolute paths are not found, as there.
    pub fn render_file_in(&self, text: &str, ctx: &Value, search: &[std::path::PathBuf]) -> Result<String, String> {
        self.render_file_with(text, ctx, search, &FileOverrides::default())
    }

    /// [`Templar::render_file_in`] with the `template` module's Jinja settings, which a
    /// `#jinja2: key: value, ...` first line of the file overrides (and is not output), as in
    /// ansible-core.
    pub fn render_file_with(
        &self,
        text: &str,
        ctx: &Value,
        search: &[std::path::PathBuf],
        given: &FileOverrides,
    ) -> Result<String, String> {
        // Text without template syntax is not templated at all: ansible-core writes it as it
        // is (CRLF line ends kept).
        if !is_template(text) {
            return Ok(text.to_string());
        }
        // ansible-core counts the source's own trailing `\n`s (`\r\n\r\n` is one).
        let want = text.len() - text.trim_end_matches('\n').len();
        let normalized = jinja_newlines(text);
        let (text, o) = file_overrides(&normalized, given)?;
        let mut env = self.env.clone();
        apply_overrides(&mut env, &o)?;
        let dirs = search.to_vec();
        env.set_loader(move |name| {
            let rel = std::path::Path::new(name);
            if rel.is_absolute() || rel.components().any(|c| !matches!(c, std::path::Component::Normal(_))) {
                return Ok(None);
            }
            for d in &dirs {
                let p = d.join(rel);
                if p.is_file() {
                    return std::fs::read_to_string(&p).map(|t| Some(loaded_text(jinja_newlines(&t)))).map_err(|e| {
                        minijinja::Error::new(
                            minijinja::ErrorKind::InvalidOperation,
                            format!("cannot read {}: {e}", p.display()),
                        )
                    });
                }
            }
            Ok(None)
        });
        // ansible-core renders without `keep_trailing_newline` (one trailing line break of the
        // file goes), then adds line breaks until the result ends with as many as the file.
        let mut out =
            not_noting(|| env.render_str(&loaded_text(text.to_string()), ctx.clone())).map_err(|e| error_text(&e))?;
        let have = out.len() - out.trim_end_matches('\n').len();
        if want > have {
            out.push_str(&"\n".repeat(want - have));
        }
        Ok(out)
    }

    /// The filters, tests and lookup plugins a template string names that prov does not have,
    /// each as a message (`unknown filter `x``), so that `prov validate` finds them before a
    /// run; a template that does not compile gives none (its compile error says why).
    pub fn unknown_names(&self, s: &str) -> Vec<String> {
        use minijinja::machinery::{parse, CodeGenerator, Instruction};
        use minijinja::ErrorKind;
        let Ok(ast) = parse(s, "<template>", self.env.syntax().clone()) else { return Vec::new() };
        let mut code = CodeGenerator::new("<template>", s);
        code.compile_stmt(&ast);
        let (main, blocks) = code.finish();
        let mut state = self.env.empty_state();
        let mut out = Vec::new();
        let mut say = |msg: String| {
            if !out.contains(&msg) {
                out.push(msg);
            }
        };
        let mut consts = Vec::new();
        let mut calls_lookup = false;
        // Names the template binds itself (`set`, `macro`, `from ... import`) may be called.
        let mut local: Vec<&str> = Vec::new();
        let mut called: Vec<&str> = Vec::new();
        for ins in std::iter::once(&main).chain(blocks.values()) {
            for i in (0..).map_while(|i| ins.get(i)) {
                match i {
                    Instruction::StoreLocal(name) => local.push(name),
                    Instruction::CallFunction(name, _) => called.push(name),
                    _ => {}
                }
            }
        }
        let globals: Vec<&str> = self.env.globals().map(|(k, _)| k).collect();
        for name in called {
            // Jinja's own callables that are no globals: a recursive loop, a macro's caller.
            let special = matches!(name, "loop" | "caller" | "super" | "varargs" | "kwargs" | "self");
            if !special && !local.contains(&name) && !globals.contains(&name) {
                say(format!("unknown function `{name}`"));
            }
        }
        for ins in std::iter::once(&main).chain(blocks.values()) {
            for i in (0..).map_while(|i| ins.get(i)) {
                match i {
                    // Called without arguments, an existing filter or test fails on its missing
                    // value before doing anything; only a missing one says "unknown".
                    Instruction::ApplyFilter(name, ..)
                        if state.apply_filter(name, &[]).is_err_and(|e| e.kind() == ErrorKind::UnknownFilter) =>
                    {
                        say(format!("unknown filter `{name}`"));
                    }
                    Instruction::PerformTest(name, ..)
                        if state.perform_test(name, &[]).is_err_and(|e| e.kind() == ErrorKind::UnknownTest) =>
                    {
                        say(format!("unknown test `{name}`"));
                    }
                    Instruction::CallFunction(name, _) if matches!(*name, "lookup" | "query" | "q") => {
                        calls_lookup = true
                    }
                    Instruction::LoadConst(v) => consts.extend(v.as_str().map(str::to_string)),
                    _ => {}
                }
            }
        }
        if calls_lookup {
            // A lookup named by a string literal: `lookup('name', ...)`, where the name is also a
            // constant of the compiled expression (not text around it).
            let re = lookup_call_re();
            for c in re.captures_iter(s) {
                let name = &c[2];
                if consts.iter().any(|k| k == name) && !filters::lookup_supported(name) {
                    say(format!("unknown lookup plugin `{name}`"));
                }
            }
        }
        out
    }

    /// Variable names a template string reads at top level (for static checks and data edges).
    pub fn referenced(&self, s: &str) -> Result<Vec<String>, String> {
        let leaked: &'static str;
        let names = match single_expression(s) {
            Some(expr) => {
                leaked = Box::leak(expr.to_string().into_boxed_str());
                self.env.compile_expression(leaked).map_err(|e| error_text(&e))?.undeclared_variables(false)
            }
            None => {
                leaked = Box::leak(s.to_string().into_boxed_str());
                self.env.template_from_str(leaked).map_err(|e| error_text(&e))?.undeclared_variables(false)
            }
        };
        let mut v: Vec<String> = names.into_iter().collect();
        v.sort();
        Ok(v)
    }

    /// Renders every template string inside a value (lists and maps recursively; a mapping's
    /// keys stay as written, as ansible-core 2.19 leaves them). An expression that is undefined
    /// stays undefined (see [`Templar::render_defined`]).
    pub fn render_deep(&self, v: &Value, ctx: &Value) -> Result<Value, String> {
        self.deep(v, ctx, Undefined::Keep)
    }

    /// Like [`Templar::render_deep`], but an undefined value anywhere is an error, as for the
    /// arguments of an Ansible task (`Error while resolving value for 'msg': 'x' is undefined`).
    pub fn render_deep_defined(&self, v: &Value, ctx: &Value) -> Result<Value, String> {
        self.deep(v, ctx, Undefined::Error)
    }

    /// A mapping with its keys rendered where they are templates (`set_fact`'s variable names,
    /// which ansible-core's set_fact renders itself); its values are left alone.
    pub fn render_keys(&self, v: &Value, ctx: &Value) -> Result<Value, String> {
        if v.kind() != minijinja::value::ValueKind::Map {
            return Ok(v.clone());
        }
        let mut out = indexmap::IndexMap::new();
        for k in v.try_iter().map_err(|e| error_text(&e))? {
            let val = v.get_item(&k).map_err(|e| error_text(&e))?;
            let key = match k.as_str() {
                Some(s) if is_template(s) => self.render_str(s, ctx)?.to_string(),
                _ => k.to_string(),
            };
            out.insert(key, val);
        }
        Ok(Value::from_pairs(out))
    }

    fn deep(&self, v: &Value, ctx: &Value, undefined: Undefined) -> Result<Value, String> {
        if let Some(s) = v.as_str() {
            if v.is_safe() || !is_template(s) {
                return Ok(v.clone());
            }
            let rendered = self.compile(s).and_then(|t| match undefined {
                Undefined::Keep => self.render(&t, ctx),
                Undefined::Error => self.render_defined(&t, ctx),
            });
            // minijinja does not name what was undefined: show the template that failed.
            return rendered.map_err(|e| {
                if e.contains("undefined") || e.starts_with("object of type") {
                    let shown: String = s.chars().take(160).collect();
                    format!("{e} in `{shown}`")
                } else {
                    e
                }
            });
        }
        match v.kind() {
            minijinja::value::ValueKind::Seq => {
                let mut out = Vec::new();
                for item in v.try_iter().map_err(|e| error_text(&e))? {
                    out.push(self.deep(&item, ctx, undefined)?);
                }
                Ok(Value::from(out))
            }
            minijinja::value::ValueKind::Map => {
                let mut out = indexmap::IndexMap::new();
                for k in v.try_iter().map_err(|e| error_text(&e))? {
                    let val = v.get_item(&k).map_err(|e| error_text(&e))?;
                    out.insert(k.to_string(), self.deep(&val, ctx, undefined)?);
                }
                Ok(Value::from_pairs(out))
            }
            _ => Ok(v.clone()),
        }
    }
}

/// What [`Templar::deep`] does with an undefined result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Undefined {
    Keep,
    Error,
}

/// Whether a rendered value is undefined, or a list or mapping built by the expression
/// (`[1, missing]`) holds an undefined item. Objects such as `hostvars` are not walked.
fn holds_undefined(v: &Value) -> bool {
    if v.is_undefined() {
        return true;
    }
    if let Some(items) = v.downcast_object_ref::<Vec<Value>>() {
        return items.iter().any(holds_undefined);
    }
    if let Some(map) = v.downcast_object_ref::<indexmap::IndexMap<Value, Value>>() {
        return map.values().any(holds_undefined);
    }
    false
}

/// Ansible's message for an undefined result: the first variable the expression reads that
/// the context does not define; else the first attribute or item that its object lacks
/// (`object of type 'dict' has no attribute 'dest'`); else the expression itself.
fn undefined_message(env: &Environment<'_>, e: &Expression<'_, '_>, src: &str, ctx: &Value) -> String {
    undefined_in(env, e.undeclared_variables(false), ctx, 0)
        .or_else(|| missing_attribute(env, src, ctx))
        .or_else(|| UNDEFINED_REASON.with(|r| r.borrow_mut().take()))
        .unwrap_or_else(|| format!("`{src}` is undefined"))
}

/// What a template of playbook data output while it rendered: how many values, and the last
/// one with its text (see [`Templar::render`]).
#[derive(Default)]
struct Emitted {
    count: usize,
    last: Option<(Value, String)>,
}

thread_local! {
    /// The outputs of the template of playbook data rendering now on this thread, if any.
    static EMITTED: std::cell::RefCell<Option<Emitted>> = const { std::cell::RefCell::new(None) };
}

/// Runs `f` (a template file rendering) without noting its outputs for the data template that
/// may have called it.
pub(crate) fn not_noting<R>(f: impl FnOnce() -> R) -> R {
    let before = EMITTED.with(|e| e.replace(None));
    let rv = f();
    EMITTED.with(|e| e.replace(before));
    rv
}

/// How many `\n` end `s` (ansible-core's `_count_newlines_from_end`).
fn trailing_newlines(s: &str) -> usize {
    s.bytes().rev().take_while(|b| *b == b'\n').count()
}

thread_local! {
    /// Why a lookup made an undefined value (the vars lookup: "No variable named 'x' was
    /// found."), for the message of an expression that ends undefined with no undefined name
    /// in it. Cleared when [`Templar::render_defined`] starts.
    static UNDEFINED_REASON: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

/// Notes why a lookup gives an undefined value (see [`UNDEFINED_REASON`]).
pub(crate) fn note_undefined_reason(reason: String) {
    UNDEFINED_REASON.with(|r| *r.borrow_mut() = Some(reason));
}

/// How deep [`undefined_in`] follows variables defined by templates.
const MAX_UNDEFINED_DEPTH: usize = 8;

/// Ansible's message for the first of `names` that is undefined: for a variable whose own
/// template renders undefined (`bar: "{{ foo[0] }}"`), what makes that template undefined, as
/// ansible-core names the innermost cause.
fn undefined_in(
    env: &Environment<'_>,
    names: std::collections::HashSet<String>,
    ctx: &Value,
    depth: usize,
) -> Option<String> {
    let mut names: Vec<String> = names.into_iter().collect();
    names.sort();
    // A global function (`lookup`, `range`) is no variable of the context, and is defined.
    let is_global = |n: &str| env.globals().any(|(g, _)| g == n);
    let n = names.into_iter().find(|n| ctx.get_attr(n).map_or(true, |v| v.is_undefined()) && !is_global(n))?;
    let raw = ctx.downcast_object_ref::<crate::vars::Scope>().and_then(|s| s.raw_template(&n));
    let inner = raw.filter(|_| depth < MAX_UNDEFINED_DEPTH).and_then(|raw| match single_expression(&raw) {
        Some(expr) => {
            let e = env.compile_expression(expr).ok()?;
            undefined_in(env, e.undeclared_variables(false), ctx, depth + 1)
                .or_else(|| missing_attribute(env, expr, ctx))
        }
        None => {
            let t = env.template_from_str(&raw).ok()?;
            undefined_in(env, t.undeclared_variables(false), ctx, depth + 1)
        }
    });
    Some(inner.unwrap_or_else(|| format!("'{n}' is undefined")))
}

/// ansible-core 2.19 renders a template held in a string constant that is a positional
/// argument of a lookup (`lookup('file', 'keys/{{ inventory_hostname }}.pub')`, in a list
/// too; deprecated there, with a warning): `body` with each such constant replaced by an
/// expression that gives that rendering (`('keys/' ~ (inventory_hostname) ~ '.pub')`, a lone
/// `{{ x }}` as `(x)`), or `None` when there is none. Only playbook data's templates (raw
/// strings, whose constants are their source text); a condition's constants are handled by
/// [`Templar::compile_condition`].
fn embed_lookup_templates(body: &str, raw_strings: bool) -> Result<Option<String>, String> {
    use minijinja::machinery::{tokenize, Token};
    const LOOKUPS: [&str; 3] = ["lookup", "query", "q"];
    let delimiters = body.matches("{{").count() + body.matches("{%").count();
    if !raw_strings || delimiters < 2 || !LOOKUPS.iter().any(|n| body.contains(&format!("{n}("))) {
        return Ok(None);
    }
    let mut found: Vec<(usize, usize)> = Vec::new();
    // The bracket depth inside the arguments of each lookup call being read.
    let mut calls: Vec<usize> = Vec::new();
    let mut depth = 0usize;
    // The two tokens before this one: a lookup's name (not an attribute) and `=` (a keyword).
    let (mut before, mut last): (Option<Token<'_>>, Option<Token<'_>>) = (None, None);
    for tok in tokenize(body, false, minijinja::syntax::SyntaxConfig::default()) {
        // A template minijinja cannot read is left to the compiler's own error.
        let Ok((tok, span)) = tok else { return Ok(None) };
        match &tok {
            Token::ParenOpen | Token::BracketOpen | Token::BraceOpen => {
                depth += 1;
                let named = matches!(&last, Some(Token::Ident(n)) if LOOKUPS.contains(n));
                if matches!(tok, Token::ParenOpen) && named && !matches!(before, Some(Token::Dot)) {
                    calls.push(depth);
                }
            }
            Token::ParenClose | Token::BracketClose | Token::BraceClose => {
                if calls.last() == Some(&depth) {
                    calls.pop();
                }
                depth = depth.saturating_sub(1);
            }
            Token::Str(_) | Token::String(_) => {
                let keyword = matches!(last, Some(Token::Assign)) && calls.last() == Some(&depth);
                let (start, end) = (span.start_offset as usize, span.end_offset as usize);
                let text = body.get(start + 1..end.saturating_sub(1)).unwrap_or_default();
                if !calls.is_empty() && !keyword && is_template(text) {
                    found.push((start, end));
                }
            }
            _ => {}
        }
        before = last;
        last = Some(tok);
    }
    if found.is_empty() {
        return Ok(None);
    }
    let mut out = String::with_capacity(body.len() + 16 * found.len());
    let mut at = 0;
    for (start, end) in found {
        out.push_str(&body[at..start]);
        out.push_str(&embedded_as_expression(&body[start + 1..end - 1])?);
        at = end;
    }
    out.push_str(&body[at..]);
    Ok(Some(out))
}

/// The expression that renders `text`, a template of literal text and `{{ }}` expressions
/// (see [`embed_lookup_templates`]).
fn embedded_as_expression(text: &str) -> Result<String, String> {
    let refuse = |why: &str| {
        Err(format!("a lookup argument holding a template ({text:?}): {why} is not supported by prov; write the expression itself (`lookup('file', name ~ '.txt')`)"))
    };
    if text.contains("{%") || text.contains("{#") {
        return refuse("a {% %} or {# #} block");
    }
    if let Some(expr) = single_expression(text) {
        return Ok(format!("({expr})"));
    }
    let mut parts = Vec::new();
    for part in template_parts(text) {
        match part {
            TemplatePart::Text(lit) if lit.contains("{{") => return refuse("an unclosed {{"),
            TemplatePart::Text(lit) => {
                let q = if !lit.contains('\'') {
                    '\''
                } else if !lit.contains('"') {
                    '"'
                } else {
                    return refuse("text with both kinds of quote");
                };
                parts.push(format!("{q}{lit}{q}"));
            }
            TemplatePart::Expr(expr) => parts.push(format!("({expr})")),
        }
    }
    Ok(format!("({})", parts.join(" ~ ")))
}

/// A compiled conditional (see [`Templar::compile_condition`]).
#[derive(Clone, Debug)]
pub struct Condition {
    /// The expression, its embedded templates replaced by their variables.
    pub expr: Tmpl,
    /// The templates inside its string constants.
    pub embedded: Vec<Embedded>,
    /// Written as one template (`"{{ expr }}"`): a string value is evaluated again.
    pub wrapped: bool,
}

/// A template inside a string constant of a condition: rendered into `var` before the
/// condition (see [`Templar::compile_condition`]).
#[derive(Clone, Debug)]
pub struct Embedded {
    /// The variable the constant was replaced with.
    pub var: String,
    /// The template as written (without its quotes).
    pub text: String,
    /// Compiled.
    pub tmpl: Tmpl,
}

/// The string constants of `e` that hold a template: (start, end, text), offsets into the
/// parsed source. A constant list or mapping holding one (minijinja folds `['{{ x }}']` into a
/// constant) is refused rather than left unrendered.
fn template_constants(e: &ast::Expr<'_>, out: &mut Vec<(usize, usize, String)>) -> Result<(), String> {
    if let ast::Expr::Const(c) = e {
        if let Some(text) = c.value.as_str() {
            if is_template(text) {
                let span = e.span();
                out.push((span.start_offset as usize, span.end_offset as usize, text.to_string()));
            }
        } else if has_template(&c.value) {
            return Err("a template inside a constant list or mapping of a condition is not supported by prov".into());
        }
        return Ok(());
    }
    for child in expr_children(e) {
        template_constants(child, out)?;
    }
    Ok(())
}

/// The operands of an expression node.
fn expr_children<'a, 'e>(e: &'e ast::Expr<'a>) -> Vec<&'e ast::Expr<'a>> {
    let args = |a: &'e [ast::CallArg<'a>]| -> Vec<&'e ast::Expr<'a>> {
        a.iter()
            .map(|a| match a {
                ast::CallArg::Pos(x)
                | ast::CallArg::Kwarg(_, x)
                | ast::CallArg::PosSplat(x)
                | ast::CallArg::KwargSplat(x) => x,
            })
            .collect()
    };
    match e {
        ast::Expr::Var(_) | ast::Expr::Const(_) => Vec::new(),
        ast::Expr::Slice(s) => {
            std::iter::once(&s.expr).chain(s.start.iter()).chain(s.stop.iter()).chain(s.step.iter()).collect()
        }
        ast::Expr::UnaryOp(u) => vec![&u.expr],
        ast::Expr::BinOp(b) => vec![&b.left, &b.right],
        ast::Expr::Compare(c) => std::iter::once(&c.expr).chain(c.ops.iter().map(|o| &o.expr)).collect(),
        ast::Expr::IfExpr(i) => {
            std::iter::once(&i.test_expr).chain([&i.true_expr]).chain(i.false_expr.iter()).collect()
        }
        ast::Expr::Filter(f) => f.expr.iter().chain(args(&f.args)).collect(),
        ast::Expr::Test(t) => std::iter::once(&t.expr).chain(args(&t.args)).collect(),
        ast::Expr::GetAttr(g) => vec![&g.expr],
        ast::Expr::GetItem(g) => vec![&g.expr, &g.subscript_expr],
        ast::Expr::Call(c) => std::iter::once(&c.expr).chain(args(&c.args)).collect(),
        ast::Expr::List(l) => l.items.iter().collect(),
        ast::Expr::Tuple(t) => t.items.iter().collect(),
        ast::Expr::Map(m) => m.keys.iter().chain(m.values.iter()).collect(),
    }
}

/// The `a.b` or `a[k]` of `src` that makes it undefined (its object is defined, its result is
/// not), in Ansible's words.
fn missing_attribute(env: &Environment<'_>, src: &str, ctx: &Value) -> Option<String> {
    use minijinja::machinery::parse_expr;
    // The span minijinja gives a chained node (`i.a.b`) can start after its leftmost operand:
    // start at the leftmost one.
    fn start(e: &ast::Expr<'_>) -> u32 {
        let left = match e {
            ast::Expr::GetAttr(g) => Some(&g.expr),
            ast::Expr::GetItem(g) => Some(&g.expr),
            ast::Expr::Slice(s) => Some(&s.expr),
            ast::Expr::BinOp(b) => Some(&b.left),
            ast::Expr::Compare(c) => Some(&c.expr),
            ast::Expr::IfExpr(i) => Some(&i.true_expr),
            ast::Expr::Test(t) => Some(&t.expr),
            ast::Expr::Call(c) => Some(&c.expr),
            ast::Expr::Filter(f) => f.expr.as_ref(),
            _ => None,
        };
        left.map_or(e.span().start_offset, |l| start(l).min(e.span().start_offset))
    }
    let text = |e: &ast::Expr<'_>| src.get(start(e) as usize..e.span().end_offset as usize).map(str::to_string);
    let eval = |e: &ast::Expr<'_>| -> Option<Value> {
        let t = text(e)?;
        env.compile_expression(&t).ok()?.eval(ctx.clone()).ok()
    };
    // Undefined, or an undefined error (strict undefined raises one for `1.b`).
    let undefined_here = |e: &ast::Expr<'_>| -> bool {
        let Some(t) = text(e) else { return false };
        match env.compile_expression(&t).map(|x| x.eval(ctx.clone())) {
            Ok(Ok(v)) => v.is_undefined(),
            Ok(Err(err)) => err.kind() == minijinja::ErrorKind::UndefinedError,
            Err(_) => false,
        }
    };
    let check = |e: &ast::Expr<'_>| -> Option<String> {
        let (base, key) = match e {
            ast::Expr::GetAttr(g) => (&g.expr, format!("'{}'", g.name)),
            ast::Expr::GetItem(g) => {
                let k = eval(&g.subscript_expr)?;
                (&g.expr, if k.as_str().is_some() { format!("'{k}'") } else { k.to_string() })
            }
            _ => return None,
        };
        let b = eval(base)?;
        if b.is_undefined() || !undefined_here(e) {
            return None;
        }
        Some(format!("object of type '{}' has no attribute {key}", python_type(&b)))
    };
    // From the top: the node itself, else the first of its parts that holds the undefined
    // value (so that `(x.a | default({})).b` names `b`, not `a`).
    fn first(
        e: &ast::Expr<'_>,
        check: &dyn Fn(&ast::Expr<'_>) -> Option<String>,
        undefined: &dyn Fn(&ast::Expr<'_>) -> bool,
    ) -> Option<String> {
        check(e)
            .or_else(|| expr_children(e).into_iter().filter(|c| undefined(c)).find_map(|c| first(c, check, undefined)))
    }
    let undefined = |e: &ast::Expr<'_>| eval(e).is_some_and(|v| holds_undefined(&v));
    let expr = parse_expr(src).ok()?;
    first(&expr, &check, &undefined)
}

/// Python's truth of a JSON value (`if props['missing']`): null, false, zero and empty values
/// are false.
pub fn py_truthy(v: &serde_json::Value) -> bool {
    use serde_json::Value as J;
    match v {
        J::Null => false,
        J::Bool(b) => *b,
        J::Number(n) => n.as_f64() != Some(0.0),
        J::String(s) => !s.is_empty(),
        J::Array(a) => !a.is_empty(),
        J::Object(o) => !o.is_empty(),
    }
}

/// Python's name for a value's type, as Ansible's messages give it.
pub fn python_type(v: &Value) -> &'static str {
    use minijinja::value::ValueKind;
    match v.kind() {
        ValueKind::Bool => "bool",
        ValueKind::String => "str",
        ValueKind::Number if v.as_i64().is_some() => "int",
        ValueKind::Number => "float",
        ValueKind::Seq | ValueKind::Iterable => "list",
        ValueKind::Map => "dict",
        ValueKind::None => "NoneType",
        ValueKind::Bytes => "bytes",
        _ if v.downcast_object_ref::<filters::PyDateTime>().is_some() => "datetime",
        _ if v.downcast_object_ref::<filters::PyTimeDelta>().is_some() => "timedelta",
        _ => "object",
    }
}

/// A conditional's result (`when`, `changed_when`, `failed_when`, `until`, `assert`): as in
/// ansible-core 2.19, it must be a boolean; a string, number, list, mapping or none is an
/// error, not a truth value.
pub fn conditional_result(v: &Value, source: &str) -> Result<bool, String> {
    use minijinja::value::ValueKind;
    if v.kind() == ValueKind::Bool {
        return Ok(v.is_true());
    }
    let kind = python_type(v);
    let truth = if v.is_true() { "True" } else { "False" };
    Err(format!(
        "Conditional result ({truth}) was derived from value of type '{kind}' in `{source}`. Conditionals must have a boolean result."
    ))
}

/// Whether a value holds any template string (deeply). A "safe" string is a YAML `!unsafe`
/// literal (or what `| safe` returned): never a template.
pub fn has_template(v: &Value) -> bool {
    if let Some(s) = v.as_str() {
        return !v.is_safe() && is_template(s);
    }
    match v.kind() {
        minijinja::value::ValueKind::Seq => v.try_iter().map(|mut it| it.any(|i| has_template(&i))).unwrap_or(false),
        minijinja::value::ValueKind::Map => v
            .try_iter()
            .map(|mut it| it.any(|k| v.get_item(&k).map(|x| has_template(&x)).unwrap_or(false)))
            .unwrap_or(false),
        _ => false,
    }
}

/// The value of the `omit` placeholder: an argument rendered to it is dropped.
pub const OMIT: &str = "__omit_place_holder__prov__";

pub mod filters;
mod tests_lib;

/// `lookup('name'`, `query("name"`, `q('name'`.
fn lookup_call_re() -> &'static regex::Regex {
    static RE: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    RE.get_or_init(|| {
        regex::Regex::new(r#"\b(lookup|query|q)\(\s*['"]([A-Za-z_][A-Za-z0-9_.]*)['"]"#)
            .expect("a valid regular expression")
    })
}

/// The result of a whole-expression template, if ansible-core 2.19 can store it: a
/// `timedelta` cannot be ("Type 'timedelta' is unsupported for variable storage."); in text
/// (`"d={{ a - b }}"`) it prints.
fn storable(v: Value) -> Result<Value, String> {
    if v.downcast_object_ref::<filters::PyTimeDelta>().is_some() {
        return Err("Type 'timedelta' is unsupported for variable storage.".into());
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    // ansible-core 2.19 (`debug: msg=...` with `d: {}` and `nope` undefined): an attribute or
    // item of an undefined value is undefined, so `default` and `is defined` see it; printing
    // it, testing it or doing arithmetic with it fails with "'nope' is undefined".
    #[test]
    fn undefined_values_chain_as_in_ansible() {
        let t = Templar::new(vec![]);
        let ctx = minijinja::context! { d => minijinja::context! {} };
        let r = |s: &str| t.render_str(s, &ctx).map(|v| v.to_string());
        assert_eq!(r("{{ nope.x | default(7) }}").as_deref(), Ok("7"));
        assert_eq!(r("{{ d.a.b | default(8) }}").as_deref(), Ok("8"));
        assert_eq!(r("{{ nope['x'].y | default(3) }}").as_deref(), Ok("3"));
        assert_eq!(r("{{ nope.x is defined }}").as_deref(), Ok("False"));
        assert_eq!(r("{{ d.a.b is undefined }}").as_deref(), Ok("True"));
        assert_eq!(r("{{ (nope.x | default({})).y | default(2) }}").as_deref(), Ok("2"));
        for failing in
            ["a{{ nope.x }}b", "{% if nope.x %}1{% endif %}", "{% for i in d.a.b %}{% endfor %}", "{{ nope.x + 1 }}"]
        {
            assert!(r(failing).is_err(), "{failing} must fail");
        }
        let e = t.compile_expr("nope.x").and_then(|x| t.render_defined(&x, &ctx)).expect_err("undefined");
        assert!(e.contains("'nope' is undefined"), "{e}");
    }

    // ansible-core 2.19 renders `{{ +x }} {{ -x }} {{ +1.5 }} {{ (+x) * 2 }}` with `x: 3` as
    // `3 -3 1.5 6`, and fails on `+'a'` (bad operand type for unary +); prov refused `+`.
    #[test]
    fn unary_plus_gives_the_number_itself() {
        let t = Templar::new(vec![]);
        let ctx = minijinja::context! { x => 3 };
        let r = |s: &str| t.render_str(s, &ctx).map(|v| v.to_string());
        assert_eq!(r("{{ +x }} {{ -x }} {{ +1.5 }} {{ (+x) * 2 }} {{ + -x }}").as_deref(), Ok("3 -3 1.5 6 -3"));
        assert!(r("{{ +'a' }}").is_err());
    }

    // ansible-core 2.19 renders Python's printf-style `str % args` (same template, same vars):
    // `db:5432|07|1!|50%|ab   ||3.14|x|1|True|abc`, and fails on `'abc' % 5` and
    // `'x' | format(1)` ("not all arguments converted during string formatting") and on
    // `'%s %s' % ('a',)`; prov refused `%` on text at run time.
    #[test]
    fn percent_formats_text_as_python_does() {
        let t = Templar::new(vec![]);
        let ctx = minijinja::context! { host => "db", port => 5432, n => 7, d => minijinja::context! { a => 1 } };
        let r = |s: &str| t.render_str(s, &ctx).map(|v| v.to_string());
        assert_eq!(
            r("{{ '%s:%s' % (host, port) }}|{{ '%02d' % n }}|{{ '%(a)s!' % d }}|{{ '%d%%' % 50 }}|{{ '%-5s|' % 'ab' }}|{{ '%.2f' % 3.14159 }}|{{ 'x' % () }}|{{ 7 % 3 }}|{{ '%s' % true }}|{{ 'abc' % d }}").as_deref(),
            Ok("db:5432|07|1!|50%|ab   ||3.14|x|1|True|abc")
        );
        for bad in ["{{ 'abc' % 5 }}", "{{ '%s %s' % ('a',) }}", "{{ 'x' | format(1) }}"] {
            assert!(r(bad).is_err(), "{bad} must fail");
        }
        assert!(r("{{ '%2000000000s' % 'x' }}").is_err(), "a huge width is refused, not allocated");
        assert!(r("{{ ('%(a)60000s' * 2000) % {'a': 1} }}").is_err(), "a huge output is refused, not allocated");
        // Only a tuple gives several arguments: a list is one (Python: `web: ['w1', 'w2']`,
        // `'x' % [1, 2]` is `x`).
        let ctx = minijinja::context! { web => vec!["w1", "w2"], one => vec!["w1"] };
        let r = |s: &str| t.render_str(s, &ctx).map(|v| v.to_string());
        assert_eq!(
            r("{{ 'web: %s' % web }}|{{ 'web: %s' % one }}|{{ 'x' % [1, 2] }}").as_deref(),
            Ok("web: ['w1', 'w2']|web: ['w1']|x")
        );
        // An `!unsafe` format (a safe string here) formats as plain text: nothing is escaped.
        let ctx = minijinja::context! { fmt => minijinja::Value::from_safe_string("%s <%s>".into()) };
        assert_eq!(t.render_str("{{ fmt % ('a&b', 'c') }}", &ctx).map(|v| v.to_string()).as_deref(), Ok("a&b <c>"));
    }

    // Python 3 orders numbers with numbers, strings with strings, lists with lists: `'12' > 10`,
    // `none < 1`, two mappings, or sorting `[1, 'a']` fail in ansible-core 2.19 (the messages
    // below are its own); minijinja ordered any two values by their kind, so a condition that
    // fails under Ansible was silently true or false.
    #[test]
    fn ordering_values_python_cannot_order_is_an_error() {
        let t = Templar::new(vec![]);
        let ctx = minijinja::context! { s => "12", n => 10, l => vec![1], nn => (), d => minijinja::context! {} };
        let r = |s: &str| t.render_str(s, &ctx).map(|v| v.to_string());
        for (expr, msg) in [
            ("{{ s > n }}", "'>' not supported between instances of 'str' and 'int'"),
            ("{{ l > n }}", "'>' not supported between instances of 'list' and 'int'"),
            ("{{ nn < n }}", "'<' not supported between instances of 'NoneType' and 'int'"),
            ("{{ d >= d }}", "'>=' not supported between instances of 'dict' and 'dict'"),
            ("{{ {} > {} }}", "'>' not supported between instances of 'dict' and 'dict'"),
            ("{{ 1 < n < s }}", "'<' not supported between instances of 'int' and 'str'"),
            ("{{ [1] < ['a'] }}", "'<' not supported between instances of 'int' and 'str'"),
            ("{{ [1, 'a'] | sort }}", "'<' not supported between instances of 'str' and 'int'"),
            ("{{ [1, 'a'] | max }}", "'>' not supported between instances of 'str' and 'int'"),
            ("{{ [1, 'a'] | min }}", "'<' not supported between instances of 'str' and 'int'"),
        ] {
            let e = r(expr).expect_err(expr);
            assert!(e.contains(msg), "{expr}: {e}");
        }
        assert_eq!(
            r("{{ true > 0 }} {{ 1.5 > 1 }} {{ [1, 2] > [1] }} {{ 'b' > 'a' }} {{ s == n }} {{ [3, 1.5, 2] | sort }} {{ [1] | max }}").as_deref(),
            Ok("True True True True False [1.5, 2, 3] 1")
        );
    }

    // ansible-core 2.19's messages for the same expressions (`debug: msg=...`, with
    // `i: {a: 1}` and `l: [1]`): the first missing attribute or item, and its object's type.
    #[test]
    fn a_missing_attribute_is_named_with_its_objects_type() {
        let t = Templar::new(vec![]);
        let ctx = minijinja::context! { i => minijinja::context! { a => 1 }, l => vec![1] };
        let e = |s: &str| t.compile_expr(s).and_then(|x| t.render_defined(&x, &ctx)).expect_err(s);
        assert_eq!(e("[1, i.dest]"), "object of type 'dict' has no attribute 'dest'");
        assert_eq!(e("i['b'].c"), "object of type 'dict' has no attribute 'b'");
        assert_eq!(e("l[3]"), "object of type 'list' has no attribute 3");
        assert_eq!(e("i.a.b"), "object of type 'int' has no attribute 'b'");
        assert_eq!(e("(i.x | default({})).y"), "object of type 'dict' has no attribute 'y'");
    }

    #[test]
    fn unknown_filters_tests_and_lookups_are_found_before_a_run() {
        let t = Templar::new(vec![]);
        let unknown = |s: &str| t.unknown_names(s);
        assert_eq!(unknown("{{ x | no_such_filter }}"), ["unknown filter `no_such_filter`"]);
        assert_eq!(unknown("{{ nope() }}"), ["unknown function `nope`"]);
        assert!(
            unknown("{% macro m() %}x{% endmacro %}{{ m() }} {{ range(2) }} {{ lookup('env', 'HOME') }}").is_empty()
        );
        assert!(unknown("{% for i in [[1]] recursive %}{{ loop(i) }}{% endfor %}").is_empty());
        assert_eq!(unknown("{% if x is no_such_test %}a{% endif %}"), ["unknown test `no_such_test`"]);
        assert_eq!(unknown("{{ lookup('no_such', 'a') }}"), ["unknown lookup plugin `no_such`"]);
        assert_eq!(unknown("{{ query(\"no_such\") | length }}"), ["unknown lookup plugin `no_such`"]);
        assert_eq!(unknown("{{ x | community.general.no_such }}"), ["unknown filter `community.general.no_such`"]);
        for known in [
            "{{ x | to_json | default('a') | upper }}",
            "{{ x is match('a') and x is defined }}",
            "{{ lookup('env', 'HOME') ~ lookup('ansible.builtin.file', 'f') }}",
            "lookup('no_such') is text here {{ x }}",
            "{% for i in xs | select('defined') %}{{ i | int }}{% endfor %}",
        ] {
            assert_eq!(unknown(known), Vec::<String>::new(), "{known}");
        }
    }

    // ansible-core 2.19 answers `ansible.builtin.` (and `ansible.legacy.`) names of its filters
    // and tests: `{{ [1] | ansible.builtin.to_json }}` gives `[1]`.
    #[test]
    fn ansible_builtin_filter_and_test_names_work() {
        let t = Templar::new(vec![]);
        let ctx = minijinja::context! { x => "abc", xs => vec![1, 2] };
        let r = |s: &str| t.render_str(s, &ctx).map(|v| v.to_string());
        assert_eq!(r("{{ xs | ansible.builtin.to_json }}").as_deref(), Ok("[1, 2]"));
        assert_eq!(r("{{ x is ansible.builtin.match('a') }}").as_deref(), Ok("True"));
        assert_eq!(r("{{ 'yes' | ansible.legacy.bool }}").as_deref(), Ok("True"));
        // Jinja's own filters and tests too: ansible-core 2.19 renders `'a' | ansible.builtin.upper`
        // as `A`, `'3' | ansible.builtin.int + 1` as 4, `[1,2] | ansible.builtin.length` as 2.
        assert_eq!(r("{{ x | ansible.builtin.upper }}").as_deref(), Ok("ABC"));
        assert_eq!(r("{{ '3' | ansible.builtin.int + 1 }}").as_deref(), Ok("4"));
        assert_eq!(r("{{ xs | ansible.legacy.length }}").as_deref(), Ok("2"));
        assert_eq!(r("{{ x is ansible.builtin.string }}").as_deref(), Ok("True"));
        assert_eq!(r("{{ xs | ansible.builtin.map('string') | ansible.builtin.join(',') }}").as_deref(), Ok("1,2"));
        assert_eq!(t.unknown_names("{{ x | ansible.builtin.no_such }}").len(), 1);
    }

    // ansible-core 2.19 with `n: null`: "a-", null, "a-[None]", "a-None", "xNone".
    #[test]
    fn none_prints_as_nothing_inside_a_string_as_in_ansible() {
        let t = Templar::new(Vec::new());
        let ctx = minijinja::context! { n => () };
        let r = |s: &str| t.render_str(s, &ctx).expect(s);
        assert_eq!(r("a-{{ n }}").to_string(), "a-");
        assert!(r("{{ n }}").is_none());
        assert_eq!(r("a-{{ [n] }}").to_string(), "a-[None]");
        assert_eq!(r("a-{{ n | string }}").to_string(), "a-None");
        assert_eq!(r("{{ 'x' ~ n }}").to_string(), "xNone");
    }

    /// ansible-core 2.19 (same expressions under ansible-playbook): a string constant inside
    /// `{{ }}` of playbook data keeps its backslashes (`escape_backslashes`); `{% %}`, template
    /// files and conditions unescape as Jinja does.
    #[test]
    fn string_constants_in_data_templates_keep_their_backslashes() {
        let t = Templar::new(Vec::new());
        let ctx = Value::from(());
        let data = |s: &str| t.compile(s).and_then(|x| t.render_defined(&x, &ctx)).expect(s);
        assert_eq!(data(r"{{ 'x1y2' | regex_replace('(\d)', '<\1>') }}"), Value::from("x<1>y<2>"));
        assert_eq!(data(r"{{ 'C:\temp' | length }}"), Value::from(7));
        assert_eq!(data(r"{{ '\u00e9' | length }}"), Value::from(6));
        assert_eq!(data(r#"{{ "it\"s" }}"#), Value::from(r#"it\"s"#));
        assert_eq!(data(r"a{{ 'a\tb' }}"), Value::from(r"aa\tb"));
        assert_eq!(data(r"{% set x = 'a\tb' %}{{ x | length }}"), Value::from(3));
        assert_eq!(t.render_file(r"{{ 'a\tb' | length }}", &ctx).expect("file"), "3");
        let c = t.compile_condition(r"'a\nb' | length == 3").expect("condition");
        assert_eq!(t.render_condition(&c, &ctx).expect("renders"), Value::from(true));
    }

    /// A template in a string constant given to a lookup as a positional argument is rendered
    /// first, as ansible-core 2.19.14 does (with a deprecation warning): these values are
    /// ansible-playbook's. A keyword's constant, one outside a lookup and one that is a
    /// variable's value are not. prov passed `{{ n }}` through as text (the pipe lookup ran
    /// `echo {{ n }}`, the password lookup would have made a file named so).
    #[test]
    fn template_parts_cut_text_and_expressions() {
        use TemplatePart::{Expr, Text};
        assert_eq!(template_parts("a {{ x }}b{{y}}"), [Text("a "), Expr("x"), Text("b"), Expr("y")]);
        assert_eq!(template_parts("{{ x }} {{ open"), [Expr("x"), Text(" {{ open")]);
        assert_eq!(template_parts("plain"), [Text("plain")]);
    }

    #[test]
    fn templates_in_a_lookup_s_constant_arguments_are_rendered() {
        let t = Templar::new(Vec::new());
        let ctx = Value::from_pairs([
            ("n".to_string(), Value::from("h")),
            ("l".to_string(), Value::from(vec![1, 2])),
            ("raw".to_string(), Value::from("{{ n }}")),
        ]);
        let data = |s: &str| t.compile(s).and_then(|x| t.render_defined(&x, &ctx)).expect(s).to_string();
        assert_eq!(data(r#"{{ lookup('pipe', 'echo {{ n }} "x" {{ l | length }}') }}"#), "h x 2");
        assert_eq!(data("{{ query('items', '{{ n }}', 'b') }}"), "['h', 'b']");
        assert_eq!(data("{{ query('items', '{{ l }}') | length }}"), "2");
        assert_eq!(data("{{ lookup('items', ['a{{ n }}']) }}"), "ah");
        assert_eq!(data("{{ q('vars', '{{ \"n\" }}') }}"), "['h']");
        assert_eq!(data("{{ 'x{{ n }}' }}"), "x{{ n }}");
        assert_eq!(data("{{ lookup('items', raw) }}"), "{{ n }}");
        assert_eq!(data("{{ lookup('env', 'PROV_SURELY_UNSET_VAR', default='{{ n }}') }}"), "{{ n }}");
        let refused = t.compile("{{ lookup('items', '{% if n %}x{% endif %}') }}").expect_err("a block");
        assert!(refused.contains("is not supported by prov"), "{refused}");
    }

    /// ansible-core 2.19 (same values under ansible-playbook): text around one expression,
    /// whitespace too, makes text; a template that outputs one value and nothing else gives the
    /// value, one that outputs nothing gives none; trailing line breaks of the source stay on a
    /// text result (one is dropped before Jinja sees it, so `"{{ n }}\n"` is the number).
    #[test]
    fn data_templates_render_to_native_values_and_keep_whitespace_as_ansible_does() {
        let t = Templar::new(Vec::new());
        let ctx = Value::from_pairs([
            ("five".to_string(), Value::from(5)),
            ("s".to_string(), Value::from("foo")),
            ("l".to_string(), Value::from(vec![1, 2])),
        ]);
        let r = |s: &str| t.compile(s).and_then(|x| t.render_defined(&x, &ctx)).expect(s);
        assert_eq!(r(" {{ s }} "), Value::from(" foo "));
        assert_eq!(r("{{ 5 }} "), Value::from("5 "));
        assert_eq!(r("\t{{ s }}"), Value::from("\tfoo"));
        assert_eq!(r("{{ s }}\n"), Value::from("foo\n"));
        assert_eq!(r("{{ s }}\n\n"), Value::from("foo\n\n"));
        assert_eq!(r("{{ five }}\n"), Value::from(5));
        assert_eq!(r("{{ five }}\r\n"), Value::from(5));
        assert_eq!(r("\n{{ five }}"), Value::from("\n5"));
        assert_eq!(r("{{ l }}\n"), Value::from(vec![1, 2]));
        assert_eq!(r("{% if true %}{{ s }}{% endif %}\n"), Value::from("foo\n"));
        assert_eq!(r("{% if true %}{{ five }}{% endif %}"), Value::from(5));
        assert_eq!(r("{% if true %}\n{{ five }}{% endif %}"), Value::from(5));
        assert_eq!(r("{% for i in [1] %}{{ l }}{% endfor %}"), Value::from(vec![1, 2]));
        assert_eq!(r("  {{- five }}"), Value::from(5));
        assert_eq!(r("{{ five }}{{ '' }}"), Value::from("5"));
        assert!(r("{% if false %}x{% endif %}").is_none());
        assert!(r("{% if true %}{{ none }}{% endif %}").is_none());
        assert_eq!(r("{% if true %}x{% endif %}\n"), Value::from("x\n"));
        // None outputs do not count, nor what `{% set %}` captures (ansible-core's concat).
        assert_eq!(r("{{ none }}{{ five }}"), Value::from(5));
        assert_eq!(r("{% if true %}{{ five }}{% endif %}{{ none }}"), Value::from(5));
        assert!(r("{% set x %}{{ five }}{% endset %}").is_none());
        // A template file renders to text, whatever it outputs.
        assert_eq!(t.render_file("{{ five }}", &ctx).expect("file"), "5");
    }

    /// ansible-core 2.19.14's template module: a file with template syntax has its CRLF line
    /// ends read as Jinja reads them (`\n`); a file without any is written as it is. prov kept
    /// `\r\n` in the first and dropped the `\r` of the second.
    #[test]
    fn template_files_read_line_ends_as_jinja() {
        let t = Templar::new(Vec::new());
        let ctx = Value::from_pairs(Vec::<(String, Value)>::new());
        let r = |text: &str| t.render_file_in(text, &ctx, &[]).expect("file");
        assert_eq!(r("a\r\n{{ 'b' }}\n"), "a\nb\n");
        assert_eq!(r("a\r\n"), "a\r\n");
        assert_eq!(r("a\rb{{ '' }}\r\n\r\n"), "a\nb\n");
        assert_eq!(r("x{{ '' }}\n\n"), "x\n\n");
    }

    #[test]
    fn undefined_errors_show_the_template() {
        let t = Templar::new(Vec::new());
        let ctx = Value::from_pairs([("a".to_string(), Value::from_pairs([("b".to_string(), Value::from(1))]))]);
        let args = Value::from_pairs([("x".to_string(), Value::from("{{ a.c.d }}"))]);
        // `a.c.d` chains to an undefined value (as in Ansible): kept where undefined may
        // stay (a variable's value), an error naming the template where it may not.
        assert!(t.render_deep(&args, &ctx).expect("kept").get_attr("x").is_ok_and(|v| v.is_undefined()));
        let e = t.render_deep_defined(&args, &ctx).expect_err("a.c is undefined");
        assert!(e.contains("has no attribute 'c'") && e.contains("{{ a.c.d }}"), "{e}");
        assert_eq!(t.render_deep(&Value::from("{{ a.b }}"), &ctx).expect("renders"), Value::from(1));
    }

    #[test]
    fn undefined_results_are_errors_where_ansible_fails() {
        let t = Templar::new(Vec::new());
        let ctx = Value::from_pairs([("d".to_string(), Value::from_pairs([("k".to_string(), Value::from(1))]))]);
        let render = |s: &str| t.compile(s).and_then(|tm| t.render_defined(&tm, &ctx));
        assert_eq!(render("{{ nope }}").expect_err("undefined"), "'nope' is undefined");
        assert_eq!(render("{{ [1, nope] }}").expect_err("undefined item"), "'nope' is undefined");
        assert_eq!(render("{{ {'a': nope} }}").expect_err("undefined value"), "'nope' is undefined");
        assert_eq!(
            render("{{ d.missing }}").expect_err("missing key"),
            "object of type 'dict' has no attribute 'missing'"
        );
        assert_eq!(render("{{ nope is defined }}").expect("a test"), Value::from(false));
        // A global function is no undefined variable; the vars lookup says what it missed.
        assert_eq!(
            render("{{ lookup('vars', 'nope') }}").expect_err("undefined"),
            "No variable named 'nope' was found."
        );
        assert_eq!(render("{{ lookup('vars', 'nope') | default(1) }}").expect("a default"), Value::from(1));
        assert_eq!(render("{{ d.nokey }}").expect_err("missing key"), "object of type 'dict' has no attribute 'nokey'");
        assert_eq!(render("{{ nope | default('x') }}").expect("a default"), Value::from("x"));
        // render keeps undefined (for variables defined as "{{ missing }}", which are undefined)
        let tm = t.compile("{{ nope }}").expect("compiles");
        assert!(t.render(&tm, &ctx).expect("lenient").is_undefined());
        let args = Value::from_pairs([("msg".to_string(), Value::from(vec![Value::from("{{ nope }}")]))]);
        let e = t.render_deep_defined(&args, &ctx).expect_err("nested");
        assert!(e.starts_with("'nope' is undefined"), "{e}");
        assert!(t.render_deep(&args, &ctx).is_ok());
    }
}
