//! `json_query` (community.general's), on the `jmespath` crate.
//!
//! Two differences from Python's jmespath are closed here rather than passed on:
//! - the crate keeps objects in sorted key order, Python in insertion order. A result that is
//!   one of the input's dictionaries is handed back as that dictionary (its order, its value
//!   types); a dictionary with several keys that the expression builds (`{b: x, a: y}`,
//!   `merge(...)`) has no order prov could give it and is an error;
//! - functions whose result depends on that order or on Python's number types (`keys`,
//!   `values`, `merge`, `sum`, `avg`, `min`, `max`, `abs`, `ceil`, `floor`, `sort`, `sort_by`,
//!   `min_by`, `max_by`) are refused by name. ansible-core 2.19 itself fails most of the numeric
//!   ones on playbook variables (its tagged numbers are not jmespath numbers).

use super::add_filter;
use super::{a_type, fail};
use minijinja::value::Value;
use minijinja::{Environment, Error};

pub fn register(env: &mut Environment<'static>) {
    add_filter(env, "json_query", json_query);
    add_filter(env, "community.general.json_query", json_query);
}

const REFUSED_FUNCTIONS: &[&str] = &[
    "keys", "values", "merge", "sum", "avg", "min", "max", "abs", "ceil", "floor", "sort", "sort_by", "min_by",
    "max_by",
];

/// `json_query(expr)`: the JMESPath expression's result on the value.
fn json_query(value: &Value, expr: &Value) -> Result<Value, Error> {
    let Some(expr) = expr.as_str() else {
        return Err(fail(format!("json_query: the expression must be a string, got {}", a_type(expr))));
    };
    if let Some(f) = refused_function(expr) {
        return Err(fail(format!(
            "json_query: the JMESPath function `{f}` is not supported by prov (its result would differ from Python's jmespath)"
        )));
    }
    let rewritten = legacy_literals(expr);
    let compiled = jmespath::compile(&rewritten)
        .map_err(|e| fail(format!("json_query: bad JMESPath expression {expr:?}: {e}")))?;
    let data = jmespath::Variable::from_serializable(value)
        .map_err(|e| fail(format!("json_query: cannot read the value as JSON: {e}")))?;
    let found = compiled.search(data).map_err(|e| fail(format!("json_query: {e}")))?;
    let json = serde_json::to_value(&*found).map_err(|e| fail(format!("json_query: {e}")))?;
    let mut maps = Vec::new();
    collect_maps(value, &mut maps);
    restore(&json, &maps)
}

/// The expression with each backtick literal that is not JSON (`` `running` ``) written as
/// the JSON string Python's jmespath makes of it: its lexer still reads such a literal as a
/// string (the deprecated form of JEP 12, common in roles: `[?state==`running`]`), the
/// crate refuses it. The text between the backticks, leading blanks dropped, is read as
/// the inside of a JSON string, as there.
fn legacy_literals(expr: &str) -> std::borrow::Cow<'_, str> {
    if !expr.contains('`') {
        return expr.into();
    }
    let chars: Vec<char> = expr.chars().collect();
    let mut out = String::with_capacity(expr.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            // Raw strings and quoted identifiers, copied as they are.
            '\'' | '"' => {
                out.push(c);
                i += 1;
                while i < chars.len() {
                    out.push(chars[i]);
                    if chars[i] == '\\' && i + 1 < chars.len() {
                        out.push(chars[i + 1]);
                        i += 2;
                        continue;
                    }
                    i += 1;
                    if chars[i - 1] == c {
                        break;
                    }
                }
            }
            '`' => {
                let mut j = i + 1;
                let mut lexeme = String::new();
                while j < chars.len() && chars[j] != '`' {
                    if chars[j] == '\\' && chars.get(j + 1) == Some(&'`') {
                        lexeme.push('`');
                        j += 2;
                        continue;
                    }
                    lexeme.push(chars[j]);
                    j += 1;
                }
                let as_string = || serde_json::from_str::<String>(&format!("\"{}\"", lexeme.trim_start())).ok();
                match (serde_json::from_str::<serde_json::Value>(&lexeme).is_ok(), as_string()) {
                    (false, Some(text)) if j < chars.len() => {
                        let json = serde_json::Value::String(text).to_string();
                        out.push('`');
                        out.push_str(&json.replace('`', "\\`"));
                        out.push('`');
                    }
                    _ => out.extend(&chars[i..(j + 1).min(chars.len())]),
                }
                i = j + 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    out.into()
}

/// The first refused function the expression calls (`name(`, outside quotes).
fn refused_function(expr: &str) -> Option<&'static str> {
    let mut quote: Option<char> = None;
    let chars: Vec<char> = expr.chars().collect();
    let mut word = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if let Some(q) = quote {
            if c == q && chars.get(i.wrapping_sub(1)) != Some(&'\\') {
                quote = None;
            }
            continue;
        }
        match c {
            '\'' | '"' | '`' => {
                quote = Some(c);
                word.clear();
            }
            c if c.is_ascii_alphanumeric() || c == '_' => word.push(c),
            '(' => {
                if let Some(f) = REFUSED_FUNCTIONS.iter().find(|f| **f == word) {
                    return Some(f);
                }
                word.clear();
            }
            c if c.is_whitespace() => {}
            _ => word.clear(),
        }
    }
    None
}

/// Every dictionary of the input with two keys or more, with its JSON form for comparison.
fn collect_maps(v: &Value, out: &mut Vec<(serde_json::Value, Value)>) {
    if v.kind() == minijinja::value::ValueKind::Map {
        if v.len().unwrap_or(0) >= 2 {
            if let Ok(j) = serde_json::to_value(v) {
                out.push((j, v.clone()));
            }
        }
        if let Ok(keys) = v.try_iter() {
            for k in keys {
                if let Ok(item) = v.get_item(&k) {
                    collect_maps(&item, out);
                }
            }
        }
    } else if super::is_list(v) {
        if let Ok(items) = v.try_iter() {
            for item in items {
                collect_maps(&item, out);
            }
        }
    }
}

/// The result as a template value, with the input's own dictionaries in place of their copies.
fn restore(j: &serde_json::Value, maps: &[(serde_json::Value, Value)]) -> Result<Value, Error> {
    match j {
        serde_json::Value::Object(m) if m.len() >= 2 => match maps.iter().find(|(mj, _)| mj == j) {
            Some((_, v)) => Ok(v.clone()),
            None => Err(fail(format!(
                "json_query: the expression builds a dictionary ({j}) whose key order prov cannot make the same as Python's jmespath"
            ))),
        },
        serde_json::Value::Object(m) => {
            let mut out = indexmap::IndexMap::new();
            for (k, v) in m {
                out.insert(Value::from(k.as_str()), restore(v, maps)?);
            }
            Ok(Value::from(out))
        }
        serde_json::Value::Array(a) => Ok(Value::from(a.iter().map(|x| restore(x, maps)).collect::<Result<Vec<_>, _>>()?)),
        other => Ok(Value::from(minijinja::value::Serde(other.clone()))),
    }
}

#[cfg(test)]
mod tests {
    use crate::template::filters::testenv::render_ctx;
    use minijinja::context;

    fn q(expr: &str) -> Result<String, String> {
        let data: serde_json::Value = serde_json::from_str(
            r#"{"a": [{"n": 1, "t": "x", "f": 1.5}, {"n": 2, "t": "y", "f": 2.0}], "s": "abc", "neg": -3.7}"#,
        )
        .expect("json");
        render_ctx(
            &format!("{{{{ data | community.general.json_query({expr:?}) | to_json }}}}"),
            context! { data => minijinja::value::Serde(data) },
        )
    }

    #[test]
    fn json_query_gives_what_ansible_core_gives() {
        // The expected texts are ansible-core 2.19's (community.general 11) `| to_json` output.
        let cases = [
            ("length(a)", "2"),
            ("to_number('3')", "3"),
            ("to_number('3.0')", "3.0"),
            ("to_string(a[0].n)", "\"1\""),
            ("to_string(a[0].f)", "\"1.5\""),
            ("a[0].f", "1.5"),
            ("a[1].f", "2.0"),
            ("reverse(s)", "\"cba\""),
            ("join(',', a[*].t)", "\"x,y\""),
            ("contains(s, 'b')", "true"),
            ("type(a[0].n)", "\"number\""),
            ("not_null(x, s)", "\"abc\""),
            ("map(&n, a)", "[1, 2]"),
            ("a[?n > `1`].t", "[\"y\"]"),
            ("a[?f == `2`].t", "[\"y\"]"),
            ("a[?t == 'x'] | [0].n", "1"),
            ("`1e3`", "1000.0"),
            ("to_array(s)", "[\"abc\"]"),
            ("a[?n == `2`]", "[{\"n\": 2, \"t\": \"y\", \"f\": 2.0}]"),
            ("a[*].{t: t}", "[{\"t\": \"x\"}, {\"t\": \"y\"}]"),
            // Legacy literals that are no JSON are strings (Python's jmespath, deprecated form).
            ("a[?t==`y`].n", "[2]"),
            ("a[?t == ` x`].n", "[1]"),
            ("join(`,`, a[*].t)", "\"x,y\""),
            ("contains(a[*].t, `x`)", "true"),
            ("a[?t=='`x`'].n", "[]"),
        ];
        for (expr, want) in cases {
            assert_eq!(q(expr).as_deref(), Ok(want), "{expr}");
        }
        let short = render_ctx("{{ [{'a': 1}] | json_query('[0].a') }}", context! {}).expect("renders");
        assert_eq!(short, "1");
    }

    #[test]
    fn json_query_refuses_what_would_differ_from_python() {
        for expr in ["keys(a[0])", "values(a[0])", "merge(a[0], a[1])", "sum(a[*].n)", "sort_by(a, &n)[*].t"] {
            let e = q(expr).expect_err(expr);
            assert!(e.contains("is not supported by prov"), "{expr}: {e}");
        }
        assert_eq!(q("a[?t == 'keys(']").as_deref(), Ok("[]"));
        let e = q("a[*].{t: t, n: n}").expect_err("built dict");
        assert!(e.contains("key order"), "{e}");
        let e = q("a[?").expect_err("syntax");
        assert!(e.contains("bad JMESPath expression"), "{e}");
    }
}
