//! The `filter` query parameter of `list` and `aggregatedList`: the subset of Compute
//! Engine's filter language prov and its users write.
//!
//! ```text
//! labels.prov-project = demo
//! (labels.prov-project = "demo") AND (status = RUNNING)
//! (labels.prov-group:*) (name != "web-1")        -- adjacent terms are ANDed
//! (status = RUNNING) OR (status = STAGING)
//! ```
//!
//! A term is `FIELD = VALUE`, `FIELD != VALUE` or `FIELD : VALUE` (`:*` tests presence);
//! values may be quoted with `"` or `'`; a field is a dotted path into the resource
//! (`labels.k`, `status`, `name`, `tags.items`; a list field matches when any element
//! does). `AND` binds tighter than `OR`; `NOT` and the regular-expression operators
//! `eq`/`ne` are refused with the API's "Invalid value for field 'filter'" error.

use serde_json::Value;

/// A parsed filter.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// Every resource.
    All,
    /// One comparison.
    Term {
        /// Dotted path.
        field: String,
        /// The operator.
        op: Op,
        /// The value (`*` with [`Op::Has`] tests presence).
        value: String,
    },
    /// All of them.
    And(Vec<Filter>),
    /// Any of them.
    Or(Vec<Filter>),
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `=`
    Eq,
    /// `!=`
    Ne,
    /// `:`
    Has,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Open,
    Close,
    And,
    Or,
    Op(Op),
    Word(String),
}

fn lex(s: &str) -> Result<Vec<Tok>, String> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            ' ' | '\t' | '\n' => {
                chars.next();
            }
            '(' => {
                chars.next();
                out.push(Tok::Open);
            }
            ')' => {
                chars.next();
                out.push(Tok::Close);
            }
            '=' => {
                chars.next();
                out.push(Tok::Op(Op::Eq));
            }
            ':' => {
                chars.next();
                out.push(Tok::Op(Op::Has));
            }
            '!' => {
                chars.next();
                if chars.next() != Some('=') {
                    return Err("`!` must be followed by `=`".into());
                }
                out.push(Tok::Op(Op::Ne));
            }
            '"' | '\'' => {
                chars.next();
                let mut w = String::new();
                loop {
                    match chars.next() {
                        Some(q) if q == c => break,
                        Some('\\') => w.extend(chars.next()),
                        Some(x) => w.push(x),
                        None => return Err("unterminated quoted value".into()),
                    }
                }
                out.push(Tok::Word(w));
            }
            _ => {
                let mut w = String::new();
                while let Some(&x) = chars.peek() {
                    if " \t\n()=:!\"'".contains(x) {
                        break;
                    }
                    w.push(x);
                    chars.next();
                }
                out.push(match w.as_str() {
                    "AND" => Tok::And,
                    "OR" => Tok::Or,
                    "NOT" | "eq" | "ne" => return Err(format!("`{w}` is not supported")),
                    _ => Tok::Word(w),
                });
            }
        }
    }
    Ok(out)
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn or(&mut self) -> Result<Filter, String> {
        let mut parts = vec![self.and()?];
        while self.peek() == Some(&Tok::Or) {
            self.next();
            parts.push(self.and()?);
        }
        Ok(if parts.len() == 1 { parts.remove(0) } else { Filter::Or(parts) })
    }

    fn and(&mut self) -> Result<Filter, String> {
        let mut parts = vec![self.primary()?];
        loop {
            match self.peek() {
                Some(Tok::And) => {
                    self.next();
                    parts.push(self.primary()?);
                }
                // Adjacent terms are ANDed.
                Some(Tok::Open) | Some(Tok::Word(_)) => parts.push(self.primary()?),
                _ => break,
            }
        }
        Ok(if parts.len() == 1 { parts.remove(0) } else { Filter::And(parts) })
    }

    fn primary(&mut self) -> Result<Filter, String> {
        match self.next() {
            Some(Tok::Open) => {
                let f = self.or()?;
                match self.next() {
                    Some(Tok::Close) => Ok(f),
                    _ => Err("missing `)`".into()),
                }
            }
            Some(Tok::Word(field)) => {
                let op = match self.next() {
                    Some(Tok::Op(op)) => op,
                    _ => return Err(format!("expected `=`, `!=` or `:` after `{field}`")),
                };
                match self.next() {
                    Some(Tok::Word(value)) => Ok(Filter::Term { field, op, value }),
                    _ => Err(format!("expected a value after `{field}`")),
                }
            }
            other => Err(format!("unexpected {other:?}")),
        }
    }
}

impl Filter {
    /// Parses a filter; the empty string selects everything.
    pub fn parse(s: &str) -> Result<Filter, String> {
        if s.trim().is_empty() {
            return Ok(Filter::All);
        }
        let mut p = Parser { toks: lex(s)?, pos: 0 };
        let f = p.or()?;
        if p.pos < p.toks.len() {
            return Err(format!("unexpected {:?}", p.toks[p.pos]));
        }
        Ok(f)
    }

    /// Whether `resource` passes.
    pub fn matches(&self, resource: &Value) -> bool {
        match self {
            Filter::All => true,
            Filter::And(parts) => parts.iter().all(|f| f.matches(resource)),
            Filter::Or(parts) => parts.iter().any(|f| f.matches(resource)),
            Filter::Term { field, op, value } => {
                let found = lookup(resource, field);
                let eq = |v: &Value| match v {
                    Value::String(s) => s == value,
                    Value::Bool(b) => b.to_string() == *value,
                    Value::Number(n) => n.to_string() == *value,
                    _ => false,
                };
                let any = |f: &dyn Fn(&Value) -> bool| found.iter().any(|v| f(v));
                match op {
                    Op::Eq => any(&eq),
                    Op::Ne => !any(&eq),
                    Op::Has if value == "*" => !found.is_empty(),
                    Op::Has => any(&eq),
                }
            }
        }
    }
}

/// The values at a dotted path (lists are searched element-wise).
fn lookup<'a>(v: &'a Value, path: &str) -> Vec<&'a Value> {
    let mut current = vec![v];
    for key in path.split('.') {
        let mut next = Vec::new();
        for c in current {
            match c {
                Value::Object(m) => next.extend(m.get(key)),
                Value::Array(a) => next.extend(a.iter().filter_map(|e| e.get(key))),
                _ => {}
            }
        }
        current = next;
    }
    current.into_iter().flat_map(|v| if let Value::Array(a) = v { a.iter().collect() } else { vec![v] }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn terms_and_or_presence() {
        let vm = json!({"name": "w1", "status": "RUNNING", "labels": {"prov-project": "demo"}, "tags": {"items": ["workers"]}});
        let yes = |f: &str| Filter::parse(f).expect(f).matches(&vm);
        assert!(yes("labels.prov-project = demo"));
        assert!(yes("(labels.prov-project = \"demo\") AND (status = RUNNING)"));
        assert!(yes("(labels.prov-project = demo) (status = RUNNING)"));
        assert!(!yes("(labels.prov-project = demo) (status != RUNNING)"));
        assert!(yes("labels.prov-project:*"));
        assert!(!yes("labels.prov-group:*"));
        assert!(yes("(status = STOPPED) OR (name = 'w1')"));
        assert!(yes("tags.items = workers"));
        assert!(yes(""));
        assert!(Filter::parse("name eq w.*").is_err());
        assert!(Filter::parse("(name = a").is_err());
    }
}
