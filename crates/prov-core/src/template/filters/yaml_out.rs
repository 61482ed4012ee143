//! The YAML writer of `to_yaml` / `to_nice_yaml`. ansible-core dumps with PyYAML's
//! `CSafeDumper`, whose representer is Python and whose emitter is libyaml's C emitter; this
//! module follows both so that the text is the same, byte for byte: the representer's choices
//! (sorted keys unless they cannot be compared, flow style for collections of scalars when
//! `default_flow_style` is None, which strings need quoting because the YAML 1.1 resolver
//! would read them as something else), then libyaml's emitter: its scalar analysis and style
//! choice (plain, single-quoted, double-quoted), its column tracking and line folding at
//! `width` (80 by default), its indentation rules (`-   key: v` at indent 4, sequences under a
//! key not indented), simple and complex (`? `) keys.
//!
//! Not followed: PyYAML writes an anchor and an alias (`&id001` / `*id001`) when the very same
//! Python list or dict object appears twice; here every occurrence is written out in full
//! (both read back as the same value).

use super::serialize::{python_float, shape, Shape};
use minijinja::value::Value;
use minijinja::{Error, ErrorKind};
use regex::Regex;
use std::sync::OnceLock;

/// Options of `yaml.dump` that Ansible's filters pass on.
pub(crate) struct YamlOpts {
    /// Spaces per nesting level; libyaml takes 2 for anything outside 2..=9.
    pub indent: i64,
    /// Preferred line width; None is libyaml's 80, a negative width never folds.
    pub width: Option<i64>,
    /// `default_flow_style`: None writes collections of scalars in flow style, `true` every
    /// collection, `false` none but the empty ones.
    pub flow_style: Option<bool>,
    /// Sort mapping keys (PyYAML's default), unless the keys cannot be compared.
    pub sort_keys: bool,
    /// Begin the document with `---`.
    pub explicit_start: bool,
    /// End the document with `...`.
    pub explicit_end: bool,
}

/// Serializes one value as a YAML document.
pub(crate) fn to_yaml(v: &Value, o: &YamlOpts, filter: &str) -> Result<String, Error> {
    let root = represent(v, o, filter)?;
    let best_indent = if (2..=9).contains(&o.indent) { o.indent as usize } else { 2 };
    let best_width = match o.width {
        Some(w) if w < 0 => usize::MAX,
        Some(w) if w as usize > best_indent * 2 => w as usize,
        _ => 80,
    };
    let mut e = Emitter {
        out: String::new(),
        column: 0,
        whitespace: true,
        indention: true,
        indent: None,
        indents: Vec::new(),
        flow_level: 0,
        best_indent,
        best_width,
        mapping_context: false,
        simple_key_context: false,
    };
    if o.explicit_start {
        e.write_indent();
        e.write_indicator("---", true, false, false);
    }
    e.node(&root, false, false);
    e.write_indent();
    if o.explicit_end {
        e.write_indicator("...", true, false, false);
        e.write_indent();
    }
    Ok(e.out)
}

/// A represented value: what PyYAML's representer hands to the emitter.
enum Node {
    /// A scalar's text; `plain` is false for a string that a plain scalar would turn into
    /// another type (`'yes'`, `'1.0'`), so it must be quoted.
    Scalar {
        text: String,
        plain: bool,
    },
    Seq {
        items: Vec<Node>,
        flow: bool,
    },
    Map {
        entries: Vec<(Node, Node)>,
        flow: bool,
    },
}

impl Node {
    fn is_scalar(&self) -> bool {
        matches!(self, Node::Scalar { .. })
    }
}

fn represent(v: &Value, o: &YamlOpts, filter: &str) -> Result<Node, Error> {
    let scalar = |text: String| Node::Scalar { text, plain: true };
    Ok(match shape(v, filter)? {
        Shape::Null => scalar("null".into()),
        Shape::Bool(b) => scalar(if b { "true" } else { "false" }.into()),
        Shape::Int(i) => scalar(i),
        Shape::Float(f) => scalar(yaml_float(f)),
        Shape::Str(s) => Node::Scalar { plain: !resolves_to_non_string(&s), text: s },
        Shape::Seq(items) => {
            let items = items.iter().map(|i| represent(i, o, filter)).collect::<Result<Vec<_>, _>>()?;
            let flow = o.flow_style.unwrap_or_else(|| items.iter().all(Node::is_scalar));
            Node::Seq { items, flow }
        }
        Shape::Map(mut entries) => {
            if o.sort_keys && keys_comparable(&entries) {
                entries.sort_by(|a, b| a.0.cmp(&b.0));
            }
            let mut out = Vec::with_capacity(entries.len());
            for (k, v) in &entries {
                if matches!(shape(k, filter)?, Shape::Seq(_) | Shape::Map(_)) {
                    return Err(Error::new(
                        ErrorKind::BadSerialization,
                        format!("{filter}: mapping keys must be scalars"),
                    ));
                }
                out.push((represent(k, o, filter)?, represent(v, o, filter)?));
            }
            let flow = o.flow_style.unwrap_or_else(|| out.iter().all(|(k, v)| k.is_scalar() && v.is_scalar()));
            Node::Map { entries: out, flow }
        }
    })
}

/// Whether Python's `sorted()` can order these keys: numbers (and booleans) with numbers,
/// strings with strings. Otherwise PyYAML keeps the mapping's own order.
fn keys_comparable(entries: &[(Value, Value)]) -> bool {
    use minijinja::value::ValueKind::{Bool, Number, String};
    if entries.len() < 2 {
        return true;
    }
    let class = |v: &Value| match v.kind() {
        Bool | Number => Some(0),
        String => Some(1),
        _ => None,
    };
    let first = class(&entries[0].0);
    first.is_some() && entries.iter().all(|(k, _)| class(k) == first)
}

/// PyYAML's float representation: `repr()` in lower case, `.0` added before an exponent so
/// that YAML 1.1 reads a float back.
fn yaml_float(f: f64) -> String {
    if f.is_nan() {
        return ".nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { ".inf" } else { "-.inf" }.into();
    }
    let s = python_float(f);
    match s.split_once('e') {
        Some((m, e)) if !m.contains('.') => format!("{m}.0e{e}"),
        _ => s,
    }
}

/// Whether PyYAML's YAML 1.1 resolver reads this plain scalar as something else than a
/// string: bool, int, float, null, timestamp, merge (`<<`) or value (`=`), with exactly its
/// patterns (`yes`/`Yes`/`YES` but not `yEs`; a float needs a dot, so `1e3` is a string).
fn resolves_to_non_string(s: &str) -> bool {
    static RE: OnceLock<Option<Regex>> = OnceLock::new();
    let re = RE.get_or_init(|| {
        Regex::new(concat!(
            r"^(?:",
            // null (also the empty string)
            r"|~|null|Null|NULL",
            // bool
            r"|yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF",
            // float
            r"|[-+]?[0-9][0-9_]*\.[0-9_]*(?:[eE][-+][0-9]+)?",
            r"|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?",
            r"|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*",
            r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)",
            // int
            r"|[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+",
            r"|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+",
            // timestamp
            r"|[0-9]{4}-[0-9]{2}-[0-9]{2}",
            r"|[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:[Tt]|[ \t]+)[0-9]{1,2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]*)?",
            r"(?:[ \t]*(?:Z|[-+][0-9]{1,2}(?::[0-9]{2})?))?",
            // merge, value
            r"|<<|=",
            r")$"
        ))
        .ok()
    });
    re.as_ref().is_none_or(|re| re.is_match(s))
}

/// libyaml's `IS_PRINTABLE` (with `allow_unicode`): characters written as they are.
fn printable(c: char) -> bool {
    matches!(c, '\n' | '\u{20}'..='\u{7e}' | '\u{a0}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}') && c != '\u{feff}'
}

/// libyaml's `IS_BREAK`.
fn is_break(c: char) -> bool {
    matches!(c, '\r' | '\n' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

/// libyaml's `IS_BLANKZ`: blank, break, or the end of the text (None).
fn is_blankz(c: Option<char>) -> bool {
    c.is_none_or(|c| matches!(c, ' ' | '\t' | '\0') || is_break(c))
}

/// What libyaml's `analyze_scalar` finds out about a scalar's text.
struct Analysis {
    multiline: bool,
    flow_plain: bool,
    block_plain: bool,
    single_quoted: bool,
}

fn analyze(s: &str) -> Analysis {
    if s.is_empty() {
        return Analysis { multiline: false, flow_plain: false, block_plain: true, single_quoted: true };
    }
    let chars: Vec<char> = s.chars().collect();
    let (mut flow_ind, mut block_ind) = (false, false);
    if s.starts_with("---") || s.starts_with("...") {
        flow_ind = true;
        block_ind = true;
    }
    let (mut line_breaks, mut special) = (false, false);
    let (mut leading_space, mut leading_break, mut trailing_space, mut trailing_break) = (false, false, false, false);
    let (mut break_space, mut space_break, mut previous_space, mut previous_break) = (false, false, false, false);
    let mut preceded_by_ws = true;
    let last = chars.len() - 1;
    for (i, &c) in chars.iter().enumerate() {
        let followed_by_ws = is_blankz(chars.get(i + 1).copied());
        if i == 0 {
            if "#,[]{}&*!|>'\"%@`".contains(c) {
                flow_ind = true;
                block_ind = true;
            }
            if c == '?' || c == ':' {
                flow_ind = true;
                block_ind |= followed_by_ws;
            }
            if c == '-' && followed_by_ws {
                flow_ind = true;
                block_ind = true;
            }
        } else {
            if ",?[]{}".contains(c) {
                flow_ind = true;
            }
            if c == ':' {
                flow_ind = true;
                block_ind |= followed_by_ws;
            }
            if c == '#' && preceded_by_ws {
                flow_ind = true;
                block_ind = true;
            }
        }
        special |= !printable(c);
        line_breaks |= is_break(c);
        if c == ' ' {
            leading_space |= i == 0;
            trailing_space |= i == last;
            break_space |= previous_break;
            previous_space = true;
            previous_break = false;
        } else if is_break(c) {
            leading_break |= i == 0;
            trailing_break |= i == last;
            space_break |= previous_space;
            previous_space = false;
            previous_break = true;
        } else {
            previous_space = false;
            previous_break = false;
        }
        preceded_by_ws = is_blankz(Some(c));
    }
    let mut a = Analysis { multiline: line_breaks, flow_plain: true, block_plain: true, single_quoted: true };
    if leading_space || leading_break || trailing_space || trailing_break || line_breaks {
        a.flow_plain = false;
        a.block_plain = false;
    }
    if break_space || space_break || special {
        a.flow_plain = false;
        a.block_plain = false;
        a.single_quoted = false;
    }
    a.flow_plain &= !flow_ind;
    a.block_plain &= !block_ind;
    a
}

#[derive(Clone, Copy, PartialEq)]
enum Style {
    Plain,
    Single,
    Double,
}

/// libyaml's emitter state, for the events one document of plain data makes.
struct Emitter {
    out: String,
    column: usize,
    /// The last character written is a space or a line start.
    whitespace: bool,
    /// Only indentation (and `-`/`?`/`:` indicators) on the current line so far.
    indention: bool,
    indent: Option<usize>,
    indents: Vec<Option<usize>>,
    flow_level: usize,
    best_indent: usize,
    best_width: usize,
    mapping_context: bool,
    simple_key_context: bool,
}

impl Emitter {
    fn put(&mut self, c: char) {
        self.out.push(c);
        self.column += 1;
    }

    fn put_break(&mut self) {
        self.out.push('\n');
        self.column = 0;
    }

    fn write_break(&mut self, c: char) {
        if c == '\n' {
            self.put_break();
        } else {
            self.out.push(c);
            self.column = 0;
        }
    }

    fn increase_indent(&mut self, flow: bool, indentless: bool) {
        self.indents.push(self.indent);
        self.indent = match self.indent {
            None => Some(if flow { self.best_indent } else { 0 }),
            Some(i) if !indentless => Some(i + self.best_indent),
            keep => keep,
        };
    }

    fn pop_indent(&mut self) {
        self.indent = self.indents.pop().flatten();
    }

    fn write_indent(&mut self) {
        let indent = self.indent.unwrap_or(0);
        if !self.indention || self.column > indent || (self.column == indent && !self.whitespace) {
            self.put_break();
        }
        while self.column < indent {
            self.put(' ');
        }
        self.whitespace = true;
        self.indention = true;
    }

    fn write_indicator(&mut self, indicator: &str, need_whitespace: bool, is_whitespace: bool, is_indention: bool) {
        if need_whitespace && !self.whitespace {
            self.put(' ');
        }
        for c in indicator.chars() {
            self.put(c);
        }
        self.whitespace = is_whitespace;
        self.indention = self.indention && is_indention;
    }

    fn node(&mut self, n: &Node, mapping: bool, simple_key: bool) {
        self.mapping_context = mapping;
        self.simple_key_context = simple_key;
        match n {
            Node::Scalar { text, plain } => self.scalar(text, *plain),
            Node::Seq { items, flow } => {
                if self.flow_level > 0 || *flow || items.is_empty() {
                    self.flow_sequence(items)
                } else {
                    self.block_sequence(items)
                }
            }
            Node::Map { entries, flow } => {
                if self.flow_level > 0 || *flow || entries.is_empty() {
                    self.flow_mapping(entries)
                } else {
                    self.block_mapping(entries)
                }
            }
        }
    }

    fn flow_sequence(&mut self, items: &[Node]) {
        self.write_indicator("[", true, true, false);
        self.increase_indent(true, false);
        self.flow_level += 1;
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                self.write_indicator(",", false, false, false);
            }
            if self.column > self.best_width {
                self.write_indent();
            }
            self.node(item, false, false);
        }
        self.flow_level -= 1;
        self.pop_indent();
        self.write_indicator("]", false, false, false);
    }

    fn flow_mapping(&mut self, entries: &[(Node, Node)]) {
        self.write_indicator("{", true, true, false);
        self.increase_indent(true, false);
        self.flow_level += 1;
        for (i, (k, v)) in entries.iter().enumerate() {
            if i > 0 {
                self.write_indicator(",", false, false, false);
            }
            if self.column > self.best_width {
                self.write_indent();
            }
            if simple_key(k) {
                self.node(k, true, true);
                self.write_indicator(":", false, false, false);
            } else {
                self.write_indicator("?", true, false, false);
                self.node(k, true, false);
                if self.column > self.best_width {
                    self.write_indent();
                }
                self.write_indicator(":", true, false, false);
            }
            self.node(v, true, false);
        }
        self.flow_level -= 1;
        self.pop_indent();
        self.write_indicator("}", false, false, false);
    }

    fn block_sequence(&mut self, items: &[Node]) {
        let indentless = self.mapping_context && !self.indention;
        self.increase_indent(false, indentless);
        for item in items {
            self.write_indent();
            self.write_indicator("-", true, false, true);
            self.node(item, false, false);
        }
        self.pop_indent();
    }

    fn block_mapping(&mut self, entries: &[(Node, Node)]) {
        self.increase_indent(false, false);
        for (k, v) in entries {
            self.write_indent();
            if simple_key(k) {
                self.node(k, true, true);
                self.write_indicator(":", false, false, false);
            } else {
                self.write_indicator("?", true, false, true);
                self.node(k, true, false);
                self.write_indent();
                self.write_indicator(":", true, false, true);
            }
            self.node(v, true, false);
        }
        self.pop_indent();
    }

    fn scalar(&mut self, text: &str, plain_implicit: bool) {
        let a = analyze(text);
        let mut style = if self.simple_key_context && a.multiline { Style::Double } else { Style::Plain };
        if style == Style::Plain {
            let plain_allowed = if self.flow_level > 0 { a.flow_plain } else { a.block_plain };
            let empty_needs_quotes = text.is_empty() && (self.flow_level > 0 || self.simple_key_context);
            if !plain_allowed || empty_needs_quotes || !plain_implicit {
                style = Style::Single;
            }
        }
        if style == Style::Single && !a.single_quoted {
            style = Style::Double;
        }
        self.increase_indent(true, false);
        let allow_breaks = !self.simple_key_context;
        match style {
            Style::Plain => self.write_unescaped(text, allow_breaks, false),
            Style::Single => self.write_unescaped(text, allow_breaks, true),
            Style::Double => self.write_double_quoted(text, allow_breaks),
        }
        self.pop_indent();
    }

    /// libyaml's plain and single-quoted writers, which differ only in their quotes (`'`
    /// doubled inside): a space past the width (not the first or last character, not before
    /// another space) becomes a line break; a line break is written twice (a single one would
    /// read back as a space).
    fn write_unescaped(&mut self, text: &str, allow_breaks: bool, quoted: bool) {
        if quoted {
            self.write_indicator("'", true, false, false);
        } else if !self.whitespace && (!text.is_empty() || self.flow_level > 0) {
            self.put(' ');
        }
        let chars: Vec<char> = text.chars().collect();
        let last = chars.len().saturating_sub(1);
        let (mut spaces, mut breaks) = (false, false);
        for (i, &c) in chars.iter().enumerate() {
            if c == ' ' {
                let at_end = i == 0 || i == last;
                if allow_breaks && !spaces && self.column > self.best_width && !at_end && chars.get(i + 1) != Some(&' ')
                {
                    self.write_indent();
                } else {
                    self.put(c);
                }
                spaces = true;
            } else if is_break(c) {
                if !breaks && c == '\n' {
                    self.put_break();
                }
                self.write_break(c);
                self.indention = true;
                breaks = true;
            } else {
                if breaks {
                    self.write_indent();
                }
                if quoted && c == '\'' {
                    self.put('\'');
                }
                self.put(c);
                self.indention = false;
                spaces = false;
                breaks = false;
            }
        }
        if quoted {
            if breaks {
                self.write_indent();
            }
            self.write_indicator("'", false, false, false);
        }
        self.whitespace = false;
        self.indention = false;
    }

    fn write_double_quoted(&mut self, text: &str, allow_breaks: bool) {
        self.write_indicator("\"", true, false, false);
        let chars: Vec<char> = text.chars().collect();
        let last = chars.len().saturating_sub(1);
        let mut spaces = false;
        for (i, &c) in chars.iter().enumerate() {
            if !printable(c) || c == '\u{feff}' || is_break(c) || c == '"' || c == '\\' {
                self.put('\\');
                let short = match c {
                    '\0' => Some('0'),
                    '\u{7}' => Some('a'),
                    '\u{8}' => Some('b'),
                    '\t' => Some('t'),
                    '\n' => Some('n'),
                    '\u{b}' => Some('v'),
                    '\u{c}' => Some('f'),
                    '\r' => Some('r'),
                    '\u{1b}' => Some('e'),
                    '"' => Some('"'),
                    '\\' => Some('\\'),
                    '\u{85}' => Some('N'),
                    '\u{a0}' => Some('_'),
                    '\u{2028}' => Some('L'),
                    '\u{2029}' => Some('P'),
                    _ => None,
                };
                let code = c as u32;
                let escaped = match short {
                    Some(s) => s.to_string(),
                    None if code <= 0xff => format!("x{code:02X}"),
                    None if code <= 0xffff => format!("u{code:04X}"),
                    None => format!("U{code:08X}"),
                };
                for e in escaped.chars() {
                    self.put(e);
                }
                spaces = false;
            } else if c == ' ' {
                if allow_breaks && !spaces && self.column > self.best_width && i != 0 && i != last {
                    self.write_indent();
                    if chars.get(i + 1) == Some(&' ') {
                        self.put('\\');
                    }
                } else {
                    self.put(c);
                }
                spaces = true;
            } else {
                self.put(c);
                spaces = false;
            }
        }
        self.write_indicator("\"", false, false, false);
        self.whitespace = false;
        self.indention = false;
    }
}

/// libyaml's `check_simple_key`: a one-line scalar of at most 128 bytes, or an empty
/// collection, can be a key without `? `.
fn simple_key(k: &Node) -> bool {
    match k {
        Node::Scalar { text, .. } => !analyze(text).multiline && text.len() <= 128,
        Node::Seq { items, .. } => items.is_empty(),
        Node::Map { entries, .. } => entries.is_empty(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dump(v: serde_json::Value, indent: i64, flow_style: Option<bool>, width: Option<i64>) -> String {
        let o = YamlOpts { indent, width, flow_style, sort_keys: true, explicit_start: false, explicit_end: false };
        to_yaml(&Value::from(minijinja::value::Serde(v)), &o, "t").unwrap()
    }

    fn nice(v: serde_json::Value) -> String {
        dump(v, 4, Some(false), None)
    }

    fn flow(v: serde_json::Value) -> String {
        dump(v, 2, None, None)
    }

    // The expected texts below are what ansible-core 2.19.14 (PyYAML 6.0.4 with libyaml)
    // prints for the same values.

    #[test]
    fn nice_yaml_is_block_style_like_pyyaml() {
        let v = serde_json::json!({"b": [1, {"x": 1, "y": [true]}], "a": {"c": null, "d": []}, "e": {}});
        assert_eq!(nice(v), "a:\n    c: null\n    d: []\nb:\n- 1\n-   x: 1\n    y:\n    - true\ne: {}\n");
        let v = serde_json::json!({"a": {"b": {"c": [1, {"d": "e"}]}}});
        assert_eq!(nice(v.clone()), "a:\n    b:\n        c:\n        - 1\n        -   d: e\n");
        assert_eq!(flow(v), "a:\n  b:\n    c:\n    - 1\n    - {d: e}\n");
        assert_eq!(nice(serde_json::json!([[1, [2]], {"a": []}])), "-   - 1\n    -   - 2\n-   a: []\n");
        assert_eq!(flow(serde_json::json!([[1, [2]], {"a": []}])), "- - 1\n  - [2]\n- a: []\n");
    }

    #[test]
    fn indent_outside_two_to_nine_is_two() {
        let v = serde_json::json!({"a": [["x", "y"], [{"p": 1, "q": [1, 2]}]]});
        let want = "a:\n- - x\n  - y\n- - p: 1\n    q:\n    - 1\n    - 2\n";
        assert_eq!(dump(v.clone(), 2, Some(false), None), want);
        assert_eq!(dump(v.clone(), 12, Some(false), None), want);
        assert_eq!(dump(v, 1, Some(false), None), want);
    }

    #[test]
    fn plain_to_yaml_uses_flow_for_leaf_collections() {
        assert_eq!(flow(serde_json::json!({"a": 1, "b": [1, "x y"]})), "a: 1\nb: [1, x y]\n");
        assert_eq!(flow(serde_json::json!({"a": 1, "b": 2})), "{a: 1, b: 2}\n");
        assert_eq!(flow(serde_json::json!(["a,b", "c"])), "['a,b', c]\n");
        assert_eq!(dump(serde_json::json!({"a": [{"b": 1}]}), 2, Some(true), None), "{a: [{b: 1}]}\n");
    }

    #[test]
    fn strings_the_resolver_reads_as_other_types_are_quoted() {
        for s in
            ["yes", "No", "on", "null", "~", "1", "0x1F", "1.5", ".inf", "2024-01-02", "012", "1:30", "", "=", "<<"]
        {
            assert_eq!(nice(serde_json::json!(s)), format!("'{s}'\n"), "{s}");
        }
        // YAML 1.1's float needs a dot and a signed exponent; 08 is no octal; case matters.
        for s in ["1e3", "1.5e3", "08", "yEs", "nULL", "2024-1-1", "0o17", "hello", "1.2.3", "v1", "it's"] {
            assert_eq!(nice(serde_json::json!(s)), format!("{s}\n"), "{s}");
        }
        for s in ["a: b", "- x", "#c", "x #c", "@a", " lead", "trail "] {
            assert_eq!(nice(serde_json::json!(s)), format!("'{s}'\n"), "{s}");
        }
        assert_eq!(nice(serde_json::json!("it's: x")), "'it''s: x'\n");
    }

    #[test]
    fn multiline_strings_are_single_quoted_with_blank_lines() {
        assert_eq!(nice(serde_json::json!({"a": "line1\nline2"})), "a: 'line1\n\n    line2'\n");
        assert_eq!(nice(serde_json::json!({"i": "x\n"})), "i: 'x\n\n    '\n");
        assert_eq!(nice(serde_json::json!({"d": ["l1\nl2"]})), "d:\n- 'l1\n\n    l2'\n");
        assert_eq!(flow(serde_json::json!({"a": "line1\nline2", "k": [[1]]})), "a: 'line1\n\n  line2'\nk:\n- [1]\n");
    }

    #[test]
    fn long_strings_fold_at_the_width() {
        let words = "x ".repeat(50);
        assert_eq!(
            nice(serde_json::json!({"b": words})),
            format!("b: 'x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x\n    x x x x x x x x x x x '\n")
        );
        let long = format!("{} y", "x".repeat(100));
        assert_eq!(nice(serde_json::json!(long)), format!("{}\n    y\n", "x".repeat(100)));
        let v = serde_json::json!({"a": vec!["x".repeat(30); 5]});
        let x = "x".repeat(30);
        assert_eq!(dump(v.clone(), 2, None, Some(40)), format!("a: [{x}, {x},\n  {x}, {x},\n  {x}]\n"));
        assert_eq!(dump(v, 2, None, Some(-1)), format!("a: [{x}, {x}, {x}, {x}, {x}]\n"));
    }

    #[test]
    fn keys_empty_multiline_and_long() {
        assert_eq!(flow(serde_json::json!({"": 1})), "{'': 1}\n");
        assert_eq!(nice(serde_json::json!({"": 1})), "'': 1\n");
        assert_eq!(flow(serde_json::json!({"a\nb": 1})), "{? 'a\n\n    b' : 1}\n");
        assert_eq!(nice(serde_json::json!({"a\nb": 1})), "? 'a\n\n    b'\n: 1\n");
        let k = "k".repeat(130);
        assert_eq!(nice(serde_json::json!({k.clone(): 1})), format!("? {k}\n: 1\n"));
    }

    #[test]
    fn control_and_astral_characters_are_double_quoted() {
        assert_eq!(nice(serde_json::json!({"e": "tab\there"})), "e: \"tab\\there\"\n");
        assert_eq!(nice(serde_json::json!("\u{1}")), "\"\\x01\"\n");
        assert_eq!(flow(serde_json::json!("\u{1F600} \u{85} \u{a0} é")), "\"\\U0001F600 \\N \u{a0} é\"\n");
    }

    #[test]
    fn scalar_documents_end_without_a_marker() {
        assert_eq!(flow(serde_json::json!("abc")), "abc\n");
        assert_eq!(flow(serde_json::json!(null)), "null\n");
        assert_eq!(flow(serde_json::json!("")), "''\n");
        let o = YamlOpts {
            indent: 2,
            width: None,
            flow_style: None,
            sort_keys: true,
            explicit_start: true,
            explicit_end: true,
        };
        let v = Value::from(minijinja::value::Serde(serde_json::json!({"a": 1})));
        assert_eq!(to_yaml(&v, &o, "t").unwrap(), "--- {a: 1}\n...\n");
    }

    #[test]
    fn floats_read_back_as_floats() {
        assert_eq!(yaml_float(1e20), "1.0e+20");
        assert_eq!(yaml_float(2.5), "2.5");
        assert_eq!(yaml_float(f64::NEG_INFINITY), "-.inf");
    }

    #[test]
    fn keys_that_cannot_be_compared_keep_their_order() {
        let v = Value::from(minijinja::value::Serde(serde_json::json!({"z": 1, "a": 2})));
        let o = YamlOpts {
            indent: 2,
            width: None,
            flow_style: Some(false),
            sort_keys: false,
            explicit_start: false,
            explicit_end: false,
        };
        assert_eq!(to_yaml(&v, &o, "t").unwrap(), "z: 1\na: 2\n");
        let mixed = super::super::map_value([
            (Value::from(1), Value::from("a")),
            (Value::from("b"), Value::from(2)),
            (Value::from(0), Value::from(3)),
        ]);
        let o = YamlOpts { sort_keys: true, ..o };
        assert_eq!(to_yaml(&mixed, &o, "t").unwrap(), "1: a\nb: 2\n0: 3\n");
    }
}
