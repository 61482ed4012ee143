//! A small YAML emitter for `to_yaml` / `to_nice_yaml`, shaped like PyYAML's output (what
//! Ansible prints): sorted keys, sequences in mappings not indented, `-   key: v` items at
//! indent 4, leaf collections in flow style for `to_yaml`. Strings that would read back as
//! another type (`yes`, `null`, `1.0`, `0x1f`, `2024-01-01`) are quoted. Unlike PyYAML it
//! never wraps long lines and writes multi-line strings as literal blocks (`|`).

use super::serialize::{python_float, shape, Shape};
use minijinja::value::Value;
use minijinja::{Error, ErrorKind};
use regex::Regex;
use std::sync::OnceLock;

/// Emitter options.
pub(crate) struct YamlOpts {
    /// Spaces per nesting level (clamped to 2..=9 like PyYAML).
    pub indent: usize,
    /// Collections holding only scalars are written in flow style (`{a: 1}`, `[1, 2]`).
    pub flow_leaves: bool,
    /// Sort mapping keys (PyYAML's default).
    pub sort_keys: bool,
}

/// Serializes one value as a YAML document.
pub(crate) fn to_yaml(v: &Value, o: &YamlOpts, filter: &str) -> Result<String, Error> {
    let o = YamlOpts { indent: o.indent.clamp(2, 9), ..*o };
    let e = Emitter { o: &o, filter };
    let mut out = String::new();
    match shape(v, filter)? {
        Shape::Seq(items) => e.collection(Coll::Seq(items), 0, &mut out)?,
        Shape::Map(entries) => e.collection(Coll::Map(entries), 0, &mut out)?,
        s => match e.scalar(s, Ctx::Block)? {
            Scalar::Inline(text, Style::Plain) => {
                // PyYAML ends a document holding a bare plain scalar with an explicit end marker.
                out.push_str(&text);
                out.push_str("\n...\n");
            }
            Scalar::Inline(text, _) => {
                out.push_str(&text);
                out.push('\n');
            }
            Scalar::Literal(s) => literal(&s, 0, o.indent, &mut out),
        },
    }
    Ok(out)
}

enum Coll {
    Seq(Vec<Value>),
    Map(Vec<(Value, Value)>),
}

#[derive(Clone, Copy, PartialEq)]
enum Ctx {
    Block,
    Flow,
    Key,
}

#[derive(PartialEq)]
enum Style {
    Plain,
    Quoted,
}

enum Scalar {
    Inline(String, Style),
    Literal(String),
}

struct Emitter<'a> {
    o: &'a YamlOpts,
    filter: &'a str,
}

impl Emitter<'_> {
    fn is_scalar(&self, v: &Value) -> Result<bool, Error> {
        Ok(!matches!(shape(v, self.filter)?, Shape::Seq(_) | Shape::Map(_)))
    }

    fn sorted(&self, mut entries: Vec<(Value, Value)>) -> Vec<(Value, Value)> {
        if self.o.sort_keys {
            entries.sort_by(|a, b| a.0.cmp(&b.0));
        }
        entries
    }

    /// Writes a collection that starts at the beginning of a line indented by `indent`.
    fn collection(&self, c: Coll, indent: usize, out: &mut String) -> Result<(), Error> {
        if let Some(flow) = self.inline_form(&c)? {
            out.push_str(&" ".repeat(indent));
            out.push_str(&flow);
            out.push('\n');
            return Ok(());
        }
        match c {
            Coll::Seq(items) => {
                for item in items {
                    out.push_str(&" ".repeat(indent));
                    out.push('-');
                    self.value_after_indicator(&item, indent, true, out)?;
                }
            }
            Coll::Map(entries) => {
                for (k, v) in self.sorted(entries) {
                    out.push_str(&" ".repeat(indent));
                    out.push_str(&self.key(&k)?);
                    out.push(':');
                    self.value_after_indicator(&v, indent, false, out)?;
                }
            }
        }
        Ok(())
    }

    /// The one-line form of a collection, when it has one: empty, or a flow leaf.
    fn inline_form(&self, c: &Coll) -> Result<Option<String>, Error> {
        let (empty, leaf) = match c {
            Coll::Seq(items) => (items.is_empty(), self.all_scalars(items.iter())?),
            Coll::Map(entries) => (entries.is_empty(), self.all_scalars(entries.iter().map(|(_, v)| v))?),
        };
        if empty || (self.o.flow_leaves && leaf) {
            let mut s = String::new();
            self.flow(c, &mut s)?;
            return Ok(Some(s));
        }
        Ok(None)
    }

    fn all_scalars<'v>(&self, mut it: impl Iterator<Item = &'v Value>) -> Result<bool, Error> {
        it.try_fold(true, |acc, v| Ok(acc && self.is_scalar(v)?))
    }

    /// Writes a value after `-` (in a sequence at `indent`) or `key:` (in a mapping at `indent`).
    fn value_after_indicator(&self, v: &Value, indent: usize, in_seq: bool, out: &mut String) -> Result<(), Error> {
        let step = self.o.indent;
        let c = match shape(v, self.filter)? {
            Shape::Seq(items) => Coll::Seq(items),
            Shape::Map(entries) => Coll::Map(entries),
            s => {
                match self.scalar(s, Ctx::Block)? {
                    Scalar::Inline(text, _) => {
                        out.push(' ');
                        out.push_str(&text);
                        out.push('\n');
                    }
                    Scalar::Literal(s) => {
                        out.push(' ');
                        literal(&s, indent + step, step, out);
                    }
                }
                return Ok(());
            }
        };
        if let Some(flow) = self.inline_form(&c)? {
            out.push(' ');
            out.push_str(&flow);
            out.push('\n');
            return Ok(());
        }
        if in_seq {
            // The nested collection's first line continues the `-` line: `-   key: value`.
            let child = indent + step;
            let mut buf = String::new();
            self.collection(c, child, &mut buf)?;
            out.push_str(&" ".repeat(step - 1));
            out.push_str(&buf[child..]);
        } else {
            out.push('\n');
            // A sequence under a key is not indented (PyYAML's "indentless" sequences).
            let child = if matches!(c, Coll::Seq(_)) { indent } else { indent + step };
            self.collection(c, child, out)?;
        }
        Ok(())
    }

    fn flow(&self, c: &Coll, out: &mut String) -> Result<(), Error> {
        match c {
            Coll::Seq(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    self.flow_value(item, out)?;
                }
                out.push(']');
            }
            Coll::Map(entries) => {
                out.push('{');
                for (i, (k, v)) in self.sorted(entries.clone()).iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    out.push_str(&self.key(k)?);
                    out.push_str(": ");
                    self.flow_value(v, out)?;
                }
                out.push('}');
            }
        }
        Ok(())
    }

    fn flow_value(&self, v: &Value, out: &mut String) -> Result<(), Error> {
        match shape(v, self.filter)? {
            Shape::Seq(items) => self.flow(&Coll::Seq(items), out),
            Shape::Map(entries) => self.flow(&Coll::Map(entries), out),
            s => match self.scalar(s, Ctx::Flow)? {
                Scalar::Inline(text, _) => {
                    out.push_str(&text);
                    Ok(())
                }
                Scalar::Literal(s) => {
                    out.push_str(&double_quoted(&s));
                    Ok(())
                }
            },
        }
    }

    fn key(&self, k: &Value) -> Result<String, Error> {
        match shape(k, self.filter)? {
            Shape::Seq(_) | Shape::Map(_) => {
                Err(Error::new(ErrorKind::BadSerialization, format!("{}: mapping keys must be scalars", self.filter)))
            }
            s => match self.scalar(s, Ctx::Key)? {
                Scalar::Inline(text, _) => Ok(text),
                Scalar::Literal(s) => Ok(double_quoted(&s)),
            },
        }
    }

    fn scalar(&self, s: Shape, ctx: Ctx) -> Result<Scalar, Error> {
        Ok(match s {
            Shape::Null => Scalar::Inline("null".into(), Style::Plain),
            Shape::Bool(b) => Scalar::Inline(if b { "true" } else { "false" }.into(), Style::Plain),
            Shape::Int(i) => Scalar::Inline(i, Style::Plain),
            Shape::Float(f) => Scalar::Inline(yaml_float(f), Style::Plain),
            Shape::Str(s) => string(s, ctx),
            Shape::Seq(_) | Shape::Map(_) => {
                return Err(Error::new(ErrorKind::BadSerialization, format!("{}: expected a scalar", self.filter)))
            }
        })
    }
}

fn yaml_float(f: f64) -> String {
    if f.is_nan() {
        return ".nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { ".inf" } else { "-.inf" }.into();
    }
    let s = python_float(f);
    // `1e+16` would read back as a string in YAML 1.1: PyYAML writes `1.0e+16`.
    match s.split_once('e') {
        Some((m, e)) if !m.contains('.') => format!("{m}.0e{e}"),
        _ => s,
    }
}

fn string(s: String, ctx: Ctx) -> Scalar {
    if s.chars().any(needs_escape) {
        return Scalar::Inline(double_quoted(&s), Style::Quoted);
    }
    if s.contains('\n') {
        return match ctx {
            Ctx::Block => Scalar::Literal(s),
            Ctx::Flow | Ctx::Key => Scalar::Inline(double_quoted(&s), Style::Quoted),
        };
    }
    if plain_ok(&s, ctx == Ctx::Flow) && !resolves_to_non_string(&s) {
        Scalar::Inline(s, Style::Plain)
    } else {
        Scalar::Inline(format!("'{}'", s.replace('\'', "''")), Style::Quoted)
    }
}

/// Characters only a double-quoted scalar can hold (PyYAML also double-quotes tabs).
fn needs_escape(c: char) -> bool {
    (c != '\n' && c.is_control()) || matches!(c, '\u{feff}' | '\u{2028}' | '\u{2029}' | '\u{fffe}' | '\u{ffff}')
}

fn double_quoted(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\0' => out.push_str("\\0"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\u{b}' => out.push_str("\\v"),
            '\u{c}' => out.push_str("\\f"),
            '\r' => out.push_str("\\r"),
            '\u{1b}' => out.push_str("\\e"),
            '\u{85}' => out.push_str("\\N"),
            '\u{a0}' => out.push_str("\\_"),
            '\u{2028}' => out.push_str("\\L"),
            '\u{2029}' => out.push_str("\\P"),
            c if (c as u32) <= 0xff && needs_escape(c) => out.push_str(&format!("\\x{:02X}", c as u32)),
            c if needs_escape(c) => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Writes a literal block scalar (`|`, `|-`, `|+`) whose content is indented by `content_indent`.
fn literal(s: &str, content_indent: usize, step: usize, out: &mut String) {
    let trailing = s.len() - s.trim_end_matches('\n').len();
    let (chomp, body) = match trailing {
        0 => ("-", s),
        1 => ("", &s[..s.len() - 1]),
        _ => ("+", &s[..s.len() - 1]),
    };
    out.push('|');
    // An indentation indicator is needed when the first non-empty line starts with a space.
    if body.split('\n').find(|l| !l.is_empty()).is_some_and(|l| l.starts_with(' ')) {
        out.push_str(&step.to_string());
    }
    out.push_str(chomp);
    out.push('\n');
    let pad = " ".repeat(content_indent);
    for line in body.split('\n') {
        if !line.is_empty() {
            out.push_str(&pad);
            out.push_str(line);
        }
        out.push('\n');
    }
}

/// Whether `s` may be written unquoted (PyYAML's rules for plain scalars).
fn plain_ok(s: &str, flow: bool) -> bool {
    if s.is_empty() || s.starts_with("---") || s.starts_with("...") {
        return false;
    }
    if s.starts_with(char::is_whitespace) || s.ends_with(char::is_whitespace) {
        return false;
    }
    let chars: Vec<char> = s.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        let followed_by_space = chars.get(i + 1).is_none_or(|n| n.is_whitespace());
        let preceded_by_space = i > 0 && chars[i - 1].is_whitespace();
        if i == 0 {
            if "#,[]{}&*!|>'\"%@`".contains(c) {
                return false;
            }
            if (c == '?' || c == ':') && (flow || followed_by_space) {
                return false;
            }
            if c == '-' && followed_by_space {
                return false;
            }
        } else {
            if flow && ",?[]{}".contains(c) {
                return false;
            }
            if c == ':' && (flow || followed_by_space) {
                return false;
            }
            if c == '#' && preceded_by_space {
                return false;
            }
        }
    }
    true
}

/// Whether a plain scalar would be read back as something else than a string (YAML 1.1 and
/// 1.2 rules together: quoting more than needed is harmless).
fn resolves_to_non_string(s: &str) -> bool {
    static RE: OnceLock<Option<Regex>> = OnceLock::new();
    let re = RE.get_or_init(|| {
        Regex::new(concat!(
            r"^(?:",
            r"(?i:yes|no|true|false|on|off|null)|~|<<|=",
            r"|[-+]?(?:0b[01_]+|0o?[0-7_]+|0x[0-9a-fA-F_]+|[0-9][0-9_]*)",
            r"|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?",
            r"|[-+]?(?:\.[0-9_]+|[0-9][0-9_]*(?:\.[0-9_]*)?)(?:[eE][-+]?[0-9]+)?",
            r"|[-+]?\.(?i:inf)|\.(?i:nan)",
            r"|[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:[Tt ].*)?",
            r")$"
        ))
        .ok()
    });
    re.as_ref().is_none_or(|re| re.is_match(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nice(v: serde_json::Value) -> String {
        to_yaml(
            &Value::from(minijinja::value::Serde(v)),
            &YamlOpts { indent: 4, flow_leaves: false, sort_keys: true },
            "t",
        )
        .unwrap()
    }

    fn flow(v: serde_json::Value) -> String {
        to_yaml(
            &Value::from(minijinja::value::Serde(v)),
            &YamlOpts { indent: 2, flow_leaves: true, sort_keys: true },
            "t",
        )
        .unwrap()
    }

    #[test]
    fn nice_yaml_is_block_style_like_pyyaml() {
        let v = serde_json::json!({"b": [1, {"x": 1, "y": [true]}], "a": {"c": null, "d": []}, "e": {}});
        assert_eq!(nice(v), "a:\n    c: null\n    d: []\nb:\n- 1\n-   x: 1\n    y:\n    - true\ne: {}\n");
    }

    #[test]
    fn indent_two_and_nested_sequences() {
        let v = Value::from(minijinja::value::Serde(serde_json::json!([[1, 2], {"k": "v"}])));
        let out = to_yaml(&v, &YamlOpts { indent: 2, flow_leaves: false, sort_keys: true }, "t").unwrap();
        assert_eq!(out, "- - 1\n  - 2\n- k: v\n");
    }

    #[test]
    fn plain_to_yaml_uses_flow_for_leaf_collections() {
        assert_eq!(flow(serde_json::json!({"a": 1, "b": [1, "x y"]})), "a: 1\nb: [1, x y]\n");
        assert_eq!(flow(serde_json::json!({"a": 1, "b": 2})), "{a: 1, b: 2}\n");
        assert_eq!(flow(serde_json::json!(["a,b", "c"])), "['a,b', c]\n");
    }

    #[test]
    fn strings_that_look_like_other_types_are_quoted() {
        for s in ["yes", "No", "on", "null", "~", "1", "0x1F", "1.5", "1e3", ".inf", "2024-01-02", "012", "1:30", ""] {
            assert_eq!(nice(serde_json::json!(s)), format!("'{s}'\n"), "{s}");
        }
        for s in ["hello", "1.2.3", "v1", "a: b", "- x", "#c", "x #c", "@a", " lead", "it's"] {
            let out = nice(serde_json::json!(s));
            let plain = !out.starts_with('\'');
            let want_plain = matches!(s, "hello" | "1.2.3" | "v1" | "it's");
            assert_eq!(plain, want_plain, "{s}: {out}");
        }
        assert_eq!(nice(serde_json::json!("it's: x")), "'it''s: x'\n");
        assert_eq!(nice(serde_json::json!("hello")), "hello\n...\n");
    }

    #[test]
    fn multiline_strings_are_literal_blocks() {
        assert_eq!(nice(serde_json::json!({"k": "a\nb\n"})), "k: |\n    a\n    b\n");
        assert_eq!(nice(serde_json::json!({"k": "a\n\nb"})), "k: |-\n    a\n\n    b\n");
        assert_eq!(nice(serde_json::json!({"k": "  x\ny\n\n"})), "k: |4+\n      x\n    y\n\n");
        assert_eq!(nice(serde_json::json!(["a\nb"])), "- |-\n    a\n    b\n");
        assert_eq!(flow(serde_json::json!({"k": ["a\nb"]})), "k: [\"a\\nb\"]\n");
    }

    #[test]
    fn control_characters_are_double_quoted() {
        assert_eq!(nice(serde_json::json!("a\tb")), "\"a\\tb\"\n");
        assert_eq!(nice(serde_json::json!("\u{1}")), "\"\\x01\"\n");
    }

    #[test]
    fn floats_read_back_as_floats() {
        assert_eq!(yaml_float(1e20), "1.0e+20");
        assert_eq!(yaml_float(2.5), "2.5");
        assert_eq!(yaml_float(f64::NEG_INFINITY), "-.inf");
    }

    #[test]
    fn unsorted_keys_keep_their_order() {
        let v = Value::from(minijinja::value::Serde(serde_json::json!({"z": 1, "a": 2})));
        let out = to_yaml(&v, &YamlOpts { indent: 2, flow_leaves: false, sort_keys: false }, "t").unwrap();
        assert_eq!(out, "z: 1\na: 2\n");
    }
}
