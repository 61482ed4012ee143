//! Templating: minijinja with Ansible's filters, strict undefined variables, templates compiled
//! once and shared by every host.
//!
//! A string that is exactly one `{{ expression }}` renders to the expression's native value
//! (a list stays a list), as Ansible does; any other template renders to a string.

use minijinja::{Environment, Expression, Template, UndefinedBehavior, Value};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// A compiled template string.
#[derive(Clone)]
pub enum Tmpl {
    /// No template syntax: the string itself.
    Literal(Arc<str>),
    /// Exactly one `{{ expr }}`: evaluates to a native value.
    Expr(Arc<Expression<'static, 'static>>),
    /// Anything else: renders to a string.
    Text(Arc<Template<'static, 'static>>),
}

impl std::fmt::Debug for Tmpl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Tmpl::Literal(s) => write!(f, "Literal({s:?})"),
            Tmpl::Expr(_) => f.write_str("Expr"),
            Tmpl::Text(_) => f.write_str("Text"),
        }
    }
}

/// Whether a string contains template syntax.
pub fn is_template(s: &str) -> bool {
    s.contains("{{") || s.contains("{%") || s.contains("{#")
}

/// If `s` is exactly one `{{ ... }}` (surrounding whitespace allowed), the inner expression.
pub fn single_expression(s: &str) -> Option<&str> {
    let t = s.trim();
    let inner = t.strip_prefix("{{")?.strip_suffix("}}")?;
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
    cache: RwLock<HashMap<Arc<str>, Tmpl>>,
}

impl std::fmt::Debug for Templar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Templar")
    }
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
        env.add_global("omit", Value::from(OMIT));
        Templar { env: Box::leak(Box::new(env)), cache: RwLock::new(HashMap::new()) }
    }

    /// Compiles (once; cached) a template string.
    pub fn compile(&self, s: &str) -> Result<Tmpl, String> {
        if !is_template(s) {
            return Ok(Tmpl::Literal(s.into()));
        }
        if let Some(t) = self.cache.read().ok().and_then(|c| c.get(s).cloned()) {
            return Ok(t);
        }
        let leaked: &'static str = Box::leak(s.to_string().into_boxed_str());
        let t = match single_expression(leaked) {
            Some(expr) => Tmpl::Expr(Arc::new(self.env.compile_expression(expr).map_err(|e| error_text(&e))?)),
            None => Tmpl::Text(Arc::new(self.env.template_from_str(leaked).map_err(|e| error_text(&e))?)),
        };
        if let Ok(mut c) = self.cache.write() {
            c.insert(leaked.into(), t.clone());
        }
        Ok(t)
    }

    /// Compiles a bare expression (`when`, `that`, `until`).
    pub fn compile_expr(&self, expr: &str) -> Result<Tmpl, String> {
        let e = expr.trim();
        // Ansible allows `when: "{{ x }}"` (with a warning); treat it as the expression.
        let e = single_expression(e).unwrap_or(e);
        let key = format!("{{{{ {e} }}}}");
        self.compile(&key)
    }

    /// Renders a compiled template with a context.
    pub fn render(&self, t: &Tmpl, ctx: &Value) -> Result<Value, String> {
        match t {
            Tmpl::Literal(s) => Ok(Value::from(&**s)),
            Tmpl::Expr(e) => e.eval(ctx.clone()).map_err(|e| error_text(&e)),
            Tmpl::Text(t) => t.render(ctx.clone()).map(Value::from).map_err(|e| error_text(&e)),
        }
    }

    /// Compiles and renders a string.
    pub fn render_str(&self, s: &str, ctx: &Value) -> Result<Value, String> {
        let t = self.compile(s)?;
        self.render(&t, ctx)
    }

    /// Renders a whole file's text (the `template` module): always a string, never cached.
    pub fn render_file(&self, text: &str, ctx: &Value) -> Result<String, String> {
        self.env.render_str(text, ctx.clone()).map_err(|e| error_text(&e))
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

    /// Renders every template string inside a value (lists and maps recursively).
    pub fn render_deep(&self, v: &Value, ctx: &Value) -> Result<Value, String> {
        if let Some(s) = v.as_str() {
            if !is_template(s) {
                return Ok(v.clone());
            }
            // minijinja does not name what was undefined: show the template that failed.
            return self.render_str(s, ctx).map_err(|e| {
                if e.contains("undefined") {
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
                    out.push(self.render_deep(&item, ctx)?);
                }
                Ok(Value::from(out))
            }
            minijinja::value::ValueKind::Map => {
                let mut out = indexmap::IndexMap::new();
                for k in v.try_iter().map_err(|e| error_text(&e))? {
                    let val = v.get_item(&k).map_err(|e| error_text(&e))?;
                    let key = match k.as_str() {
                        Some(s) if is_template(s) => self.render_str(s, ctx)?.to_string(),
                        _ => k.to_string(),
                    };
                    out.insert(key, self.render_deep(&val, ctx)?);
                }
                Ok(Value::from_pairs(out))
            }
            _ => Ok(v.clone()),
        }
    }
}

/// Whether a value holds any template string (deeply).
pub fn has_template(v: &Value) -> bool {
    if let Some(s) = v.as_str() {
        return is_template(s);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn undefined_errors_show_the_template() {
        let t = Templar::new(Vec::new());
        let ctx = Value::from_pairs([("a".to_string(), Value::from_pairs([("b".to_string(), Value::from(1))]))]);
        let args = Value::from_pairs([("x".to_string(), Value::from("{{ a.c.d }}"))]);
        let e = t.render_deep(&args, &ctx).expect_err("a.c is undefined");
        assert!(e.contains("undefined") && e.ends_with("in `{{ a.c.d }}`"), "{e}");
        assert_eq!(t.render_deep(&Value::from("{{ a.b }}"), &ctx).expect("renders"), Value::from(1));
    }
}
