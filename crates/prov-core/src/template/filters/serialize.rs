//! Python-compatible text forms of template values: `json.dumps` output for `to_json` /
//! `to_nice_json`, Python's float `repr`, and the value-shape helpers the YAML emitter shares.

use minijinja::value::{Value, ValueKind};
use minijinja::{Error, ErrorKind};
use std::fmt::Write;

/// A value taken apart for serialization.
pub(crate) enum Shape {
    /// `none`.
    Null,
    /// A boolean.
    Bool(bool),
    /// An integer, already formatted.
    Int(String),
    /// A float.
    Float(f64),
    /// A string.
    Str(String),
    /// A list (or tuple, or any other sequence).
    Seq(Vec<Value>),
    /// A mapping, in its own order.
    Map(Vec<(Value, Value)>),
}

/// Takes a value apart; `filter` names the caller in error messages.
pub(crate) fn shape(v: &Value, filter: &str) -> Result<Shape, Error> {
    Ok(match v.kind() {
        ValueKind::None => Shape::Null,
        ValueKind::Bool => Shape::Bool(v.is_true()),
        ValueKind::Number if v.is_integer() => Shape::Int(v.to_string()),
        ValueKind::Number => Shape::Float(f64::try_from(v.clone())?),
        ValueKind::String => Shape::Str(v.as_str().unwrap_or_default().to_string()),
        ValueKind::Bytes => Shape::Str(v.to_str().map(|s| s.to_string()).unwrap_or_default()),
        ValueKind::Seq | ValueKind::Iterable => Shape::Seq(v.try_iter()?.checked().collect::<Result<Vec<_>, _>>()?),
        ValueKind::Map => Shape::Map(map_entries(v)?),
        // A datetime is written in ISO form to JSON, as ansible-core's encoder does.
        ValueKind::Plain if v.downcast_object_ref::<super::PyDateTime>().is_some() && filter.contains("json") => {
            Shape::Str(serde_json::to_value(v).ok().and_then(|j| j.as_str().map(str::to_string)).unwrap_or_default())
        }
        ValueKind::Undefined => {
            return Err(Error::new(ErrorKind::UndefinedError, format!("{filter}: cannot serialize an undefined value")))
        }
        ValueKind::Invalid => {
            return Err(v.clone().try_iter().err().unwrap_or_else(|| Error::from(ErrorKind::BadSerialization)))
        }
        _ => {
            return Err(Error::new(
                ErrorKind::BadSerialization,
                format!(
                    "{filter}: cannot serialize a {} (only none, booleans, numbers, strings, lists and dicts)",
                    v.kind()
                ),
            ))
        }
    })
}

/// The key/value pairs of a mapping, in order.
pub(crate) fn map_entries(v: &Value) -> Result<Vec<(Value, Value)>, Error> {
    let mut out = Vec::new();
    for k in v.try_iter()?.checked() {
        let k = k?;
        let val = v.get_item(&k)?;
        out.push((k, val));
    }
    Ok(out)
}

/// Python's `repr(float)`: shortest round-trip digits, scientific below 1e-4 and from 1e16.
pub fn python_float(f: f64) -> String {
    minijinja::value::python_float_repr(f)
}

/// Options of `json.dumps` that Ansible's JSON filters expose.
pub(crate) struct JsonOpts {
    /// Pretty-print with this many spaces per level.
    pub indent: Option<usize>,
    /// Sort mapping keys.
    pub sort_keys: bool,
    /// Escape every non-ASCII character (`\uXXXX`), Python's default.
    pub ensure_ascii: bool,
    /// `separators=(item, key)`; None is Python's default: `", "` (`","` with an indent)
    /// and `": "`.
    pub separators: Option<(String, String)>,
}

/// `json.dumps(value, indent=.., sort_keys=.., ensure_ascii=..)` with Python's separators.
pub(crate) fn to_json(v: &Value, o: &JsonOpts, filter: &str) -> Result<String, Error> {
    let mut out = String::new();
    json_value(v, o, 0, filter, &mut out)?;
    Ok(out)
}

/// Python's `json.dumps(value)` with its defaults (`", "` and `": "` separators, non-ASCII
/// escaped): what ansible-core writes for a mapping or a list given where text is wanted
/// (`copy`'s `content`).
pub fn python_json_dumps(v: &Value) -> Result<String, String> {
    to_json(v, &JsonOpts { indent: None, sort_keys: false, ensure_ascii: true, separators: None }, "json.dumps")
        .map_err(|e| e.to_string())
}

fn json_value(v: &Value, o: &JsonOpts, depth: usize, filter: &str, out: &mut String) -> Result<(), Error> {
    match shape(v, filter)? {
        Shape::Null => out.push_str("null"),
        Shape::Bool(b) => out.push_str(if b { "true" } else { "false" }),
        Shape::Int(i) => out.push_str(&i),
        Shape::Float(f) => out.push_str(&json_float(f)),
        // ansible-core's `omit` is an object JSON cannot write.
        Shape::Str(s) if s == crate::template::OMIT => {
            return Err(super::fail(format!(
                "{filter}: Object of type '_OmitType' is not JSON serializable by the 'tagless' profile."
            )))
        }
        Shape::Str(s) => json_str(&s, o.ensure_ascii, out),
        Shape::Seq(items) => {
            if items.is_empty() {
                out.push_str("[]");
                return Ok(());
            }
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                json_sep(o, i == 0, depth + 1, out);
                json_value(item, o, depth + 1, filter, out)?;
            }
            json_close(o, depth, out);
            out.push(']');
        }
        Shape::Map(mut entries) => {
            if entries.is_empty() {
                out.push_str("{}");
                return Ok(());
            }
            let mut keyed = Vec::with_capacity(entries.len());
            for (k, v) in entries.drain(..) {
                keyed.push((json_key(&k, filter)?, v));
            }
            if o.sort_keys {
                keyed.sort_by(|a, b| a.0.cmp(&b.0));
            }
            out.push('{');
            for (i, (k, v)) in keyed.iter().enumerate() {
                json_sep(o, i == 0, depth + 1, out);
                json_str(k, o.ensure_ascii, out);
                out.push_str(o.separators.as_ref().map_or(": ", |(_, key)| key.as_str()));
                json_value(v, o, depth + 1, filter, out)?;
            }
            json_close(o, depth, out);
            out.push('}');
        }
    }
    Ok(())
}

fn json_sep(o: &JsonOpts, first: bool, depth: usize, out: &mut String) {
    let item = o.separators.as_ref().map(|(item, _)| item.as_str());
    match o.indent {
        Some(n) => {
            if !first {
                out.push_str(item.unwrap_or(","));
            }
            out.push('\n');
            out.push_str(&" ".repeat(n * depth));
        }
        None if !first => out.push_str(item.unwrap_or(", ")),
        None => {}
    }
}

fn json_close(o: &JsonOpts, depth: usize, out: &mut String) {
    if let Some(n) = o.indent {
        out.push('\n');
        out.push_str(&" ".repeat(n * depth));
    }
}

/// JSON object keys must be strings: Python converts numbers, booleans and none.
fn json_key(k: &Value, filter: &str) -> Result<String, Error> {
    Ok(match shape(k, filter)? {
        Shape::Null => "null".into(),
        Shape::Bool(b) => if b { "true" } else { "false" }.into(),
        Shape::Int(i) => i,
        Shape::Float(f) => json_float(f),
        Shape::Str(s) => s,
        Shape::Seq(_) | Shape::Map(_) => {
            return Err(Error::new(ErrorKind::BadSerialization, format!("{filter}: mapping keys must be scalars")))
        }
    })
}

fn json_float(f: f64) -> String {
    if f.is_nan() {
        "NaN".into()
    } else if f.is_infinite() {
        if f > 0.0 { "Infinity" } else { "-Infinity" }.into()
    } else {
        python_float(f)
    }
}

fn json_str(s: &str, ensure_ascii: bool, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || (ensure_ascii && (c as u32) > 0x7e) => {
                let mut buf = [0u16; 2];
                for unit in c.encode_utf16(&mut buf) {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_print_like_python_repr() {
        let cases = [
            (1.0, "1.0"),
            (0.5, "0.5"),
            (-2.25, "-2.25"),
            (1e16, "1e+16"),
            (1e15, "1000000000000000.0"),
            (123456.789, "123456.789"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1.5e-7, "1.5e-07"),
            (-0.0, "-0.0"),
            (0.1 + 0.2, "0.30000000000000004"),
            (f64::INFINITY, "inf"),
        ];
        for (f, want) in cases {
            assert_eq!(python_float(f), want, "{f}");
        }
    }

    #[test]
    fn json_matches_python_dumps() {
        let v = Value::from(minijinja::value::Serde(
            serde_json::json!({"b": [1, 2.5, null], "a": {"x": "é\"\n"}, "e": [], "f": {}}),
        ));
        let compact = JsonOpts { indent: None, sort_keys: false, ensure_ascii: true, separators: None };
        assert_eq!(
            to_json(&v, &compact, "to_json").unwrap(),
            r#"{"b": [1, 2.5, null], "a": {"x": "\u00e9\"\n"}, "e": [], "f": {}}"#
        );
        let nice = JsonOpts { indent: Some(4), sort_keys: true, ensure_ascii: false, separators: None };
        assert_eq!(
            to_json(&v, &nice, "to_nice_json").unwrap(),
            "{\n    \"a\": {\n        \"x\": \"é\\\"\\n\"\n    },\n    \"b\": [\n        1,\n        2.5,\n        null\n    ],\n    \"e\": [],\n    \"f\": {}\n}"
        );
    }

    #[test]
    fn json_escapes_astral_chars_as_surrogate_pairs() {
        let o = JsonOpts { indent: None, sort_keys: false, ensure_ascii: true, separators: None };
        assert_eq!(to_json(&Value::from("😀\u{1}"), &o, "to_json").unwrap(), r#""\ud83d\ude00\u0001""#);
    }

    #[test]
    fn undefined_cannot_be_serialized() {
        let o = JsonOpts { indent: None, sort_keys: false, ensure_ascii: true, separators: None };
        let e = to_json(&Value::from(vec![Value::UNDEFINED]), &o, "to_json").unwrap_err();
        assert!(e.to_string().contains("to_json: cannot serialize an undefined value"), "{e}");
    }
}
