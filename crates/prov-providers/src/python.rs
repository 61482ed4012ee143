//! Python's views of JSON values, for messages and decisions the modules prov reproduces
//! make in Python: `repr()`, `str()`, truthiness.

use serde_json::Value as Json;

/// Python's `repr()` of a value as `json.loads` gives it.
pub fn py_repr(v: &Json) -> String {
    match v {
        Json::Null => "None".into(),
        Json::Bool(true) => "True".into(),
        Json::Bool(false) => "False".into(),
        Json::Number(n) => n.to_string(),
        Json::String(s) => str_repr(s),
        Json::Array(a) => format!("[{}]", a.iter().map(py_repr).collect::<Vec<_>>().join(", ")),
        Json::Object(m) => format!(
            "{{{}}}",
            m.iter().map(|(k, x)| format!("{}: {}", str_repr(k), py_repr(x))).collect::<Vec<_>>().join(", ")
        ),
    }
}

/// `repr()` of a str: single quotes unless the text has a single quote and no double one.
pub fn str_repr(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') { '"' } else { '\'' };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// Python's `str()` of a value (a str as it is, containers as their `repr()`).
pub fn py_str(v: &Json) -> String {
    match v {
        Json::String(s) => s.clone(),
        other => py_repr(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn repr_is_pythons() {
        assert_eq!(
            py_repr(&json!({"a": [1, true, null, "it's"], "b\n": "x\"y'"})),
            r#"{'a': [1, True, None, "it's"], 'b\n': 'x"y\''}"#
        );
        assert_eq!(py_str(&json!("x")), "x");
        assert_eq!(py_str(&json!(false)), "False");
    }
}
