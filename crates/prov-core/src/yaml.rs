//! A YAML tree that keeps the span of every node, built from saphyr-parser's events.
//!
//! Scalars are typed the way Ansible's YAML 1.1 loader types them (`yes`/`no`/`on`/`off`
//! are booleans), quoted scalars are always strings, anchors/aliases and `<<` merge keys work.

use crate::diag::{DiagKind, Diagnostic};
use crate::source::{FileId, Span};
use minijinja::Value;
use saphyr_parser::{Event, Parser, ScalarStyle};
use std::collections::HashMap;

/// One YAML node with where it was written.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// Where the node is in its file.
    pub span: Span,
    /// The value.
    pub kind: NodeKind,
}

/// The value of a [`Node`].
#[derive(Debug, Clone, PartialEq)]
pub enum NodeKind {
    /// `~`, `null` or nothing.
    Null,
    /// `true`/`false`/`yes`/`no`/`on`/`off`.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// A string (quoted, or plain and not another type).
    Str(String),
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping, in file order.
    Map(Vec<(Node, Node)>),
}

impl Node {
    /// A node that comes from no file.
    pub fn synthetic(kind: NodeKind) -> Node {
        Node { span: Span::NONE, kind }
    }

    /// The string, when this is a string scalar.
    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            NodeKind::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The entries, when this is a mapping.
    pub fn as_map(&self) -> Option<&[(Node, Node)]> {
        match &self.kind {
            NodeKind::Map(m) => Some(m),
            _ => None,
        }
    }

    /// The items, when this is a sequence.
    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.kind {
            NodeKind::Seq(s) => Some(s),
            _ => None,
        }
    }

    /// Value of `key` in a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_map()?.iter().find(|(k, _)| k.as_str() == Some(key)).map(|(_, v)| v)
    }

    /// A short name of the node's type for messages.
    pub fn type_name(&self) -> &'static str {
        match self.kind {
            NodeKind::Null => "null",
            NodeKind::Bool(_) => "boolean",
            NodeKind::Int(_) => "integer",
            NodeKind::Float(_) => "float",
            NodeKind::Str(_) => "string",
            NodeKind::Seq(_) => "list",
            NodeKind::Map(_) => "mapping",
        }
    }

    /// The scalar as text the way Ansible would stringify it (`None` for collections).
    pub fn scalar_text(&self) -> Option<String> {
        match &self.kind {
            NodeKind::Null => Some(String::new()),
            NodeKind::Bool(b) => Some(if *b { "True".into() } else { "False".into() }),
            NodeKind::Int(i) => Some(i.to_string()),
            NodeKind::Float(f) => Some(f.to_string()),
            NodeKind::Str(s) => Some(s.clone()),
            _ => None,
        }
    }

    /// Converts to a template value (spans are dropped).
    pub fn to_value(&self) -> Value {
        match &self.kind {
            NodeKind::Null => Value::from(()),
            NodeKind::Bool(b) => Value::from(*b),
            NodeKind::Int(i) => Value::from(*i),
            NodeKind::Float(f) => Value::from(*f),
            NodeKind::Str(s) => Value::from(s.as_str()),
            NodeKind::Seq(items) => Value::from(items.iter().map(Node::to_value).collect::<Vec<_>>()),
            NodeKind::Map(entries) => {
                Value::from_pairs(entries.iter().map(|(k, v)| (k.scalar_text().unwrap_or_default(), v.to_value())))
            }
        }
    }
}

/// Parses every document of a YAML text. Duplicate keys are warnings (the last one wins, as in Ansible).
pub fn parse(file: FileId, text: &str) -> Result<(Vec<Node>, Vec<Diagnostic>), Diagnostic> {
    let offsets = CharOffsets::new(text);
    let mut b = Builder { file, offsets: &offsets, anchors: HashMap::new(), warnings: Vec::new() };
    let mut parser = Parser::new_from_str(text);
    let mut docs = Vec::new();
    let mut next = || -> Result<Option<(Event<'_>, saphyr_parser::Span)>, Diagnostic> {
        match parser.next_event() {
            None => Ok(None),
            Some(Ok(ev)) => Ok(Some(ev)),
            Some(Err(e)) => {
                let m = e.marker();
                let span = offsets.span(file, m.index(), m.index(), m.line(), m.col());
                Err(Diagnostic::error(DiagKind::Syntax, span, format!("YAML syntax error: {}", e.info())).with_help(
                    "check the indentation and quoting around this place; a value starting with `{{` must be quoted",
                ))
            }
        }
    };
    // Flatten the event stream into a vector first: the builder is recursive.
    let mut events = Vec::new();
    while let Some(ev) = next()? {
        events.push(ev);
    }
    let mut i = 0;
    while i < events.len() {
        match &events[i].0 {
            Event::DocumentStart(_) => {
                i += 1;
                if i < events.len() && !matches!(events[i].0, Event::DocumentEnd) {
                    let node = b.node(&events, &mut i)?;
                    docs.push(node);
                }
            }
            _ => i += 1,
        }
    }
    Ok((docs, b.warnings))
}

/// Parses a text that must hold exactly one document (an empty text gives `Null`).
pub fn parse_one(file: FileId, text: &str) -> Result<(Node, Vec<Diagnostic>), Diagnostic> {
    let (mut docs, warnings) = parse(file, text)?;
    if docs.len() > 1 {
        let span = docs[1].span;
        return Err(Diagnostic::error(DiagKind::Syntax, span, "expected one YAML document, found several")
            .with_help("remove the extra `---` separator"));
    }
    let node =
        docs.pop().unwrap_or(Node { span: Span { file, start: 0, end: 0, line: 1, col: 1 }, kind: NodeKind::Null });
    Ok((node, warnings))
}

struct CharOffsets {
    /// byte offset of each char, only when the text is not pure ASCII.
    bytes: Option<Vec<u32>>,
    len: u32,
}

impl CharOffsets {
    fn new(text: &str) -> Self {
        let bytes = (!text.is_ascii()).then(|| text.char_indices().map(|(b, _)| b as u32).collect());
        CharOffsets { bytes, len: text.len() as u32 }
    }

    fn byte(&self, char_index: usize) -> u32 {
        match &self.bytes {
            None => (char_index as u32).min(self.len),
            Some(v) => v.get(char_index).copied().unwrap_or(self.len),
        }
    }

    fn span(&self, file: FileId, start: usize, end: usize, line: usize, col: usize) -> Span {
        Span {
            file,
            start: self.byte(start),
            end: self.byte(end).max(self.byte(start)),
            line: line as u32,
            col: col as u32 + 1,
        }
    }
}

struct Builder<'a> {
    file: FileId,
    offsets: &'a CharOffsets,
    anchors: HashMap<usize, Node>,
    warnings: Vec<Diagnostic>,
}

type Ev<'i> = (Event<'i>, saphyr_parser::Span);

impl Builder<'_> {
    fn span_of(&self, s: &saphyr_parser::Span) -> Span {
        self.offsets.span(self.file, s.start.index(), s.end.index(), s.start.line(), s.start.col())
    }

    fn node(&mut self, events: &[Ev<'_>], i: &mut usize) -> Result<Node, Diagnostic> {
        let (ev, sp) = &events[*i];
        let span = self.span_of(sp);
        *i += 1;
        match ev {
            Event::Alias(id) => self
                .anchors
                .get(id)
                .cloned()
                .map(|n| Node { span, ..n })
                .ok_or_else(|| Diagnostic::error(DiagKind::Syntax, span, "alias refers to an unknown anchor")),
            Event::Scalar(text, style, anchor, tag) => {
                let kind =
                    scalar_kind(text, *style, tag.as_deref().map(|t| (t.handle.as_str(), t.suffix.as_str())), span)?;
                let node = Node { span, kind };
                if *anchor > 0 {
                    self.anchors.insert(*anchor, node.clone());
                }
                Ok(node)
            }
            Event::SequenceStart(anchor, _) => {
                let mut items = Vec::new();
                let mut end = span;
                while *i < events.len() {
                    if let Event::SequenceEnd = events[*i].0 {
                        end = self.span_of(&events[*i].1);
                        *i += 1;
                        break;
                    }
                    items.push(self.node(events, i)?);
                }
                let node = Node { span: Span { end: end.end.max(span.start), ..span }, kind: NodeKind::Seq(items) };
                if *anchor > 0 {
                    self.anchors.insert(*anchor, node.clone());
                }
                Ok(node)
            }
            Event::MappingStart(anchor, _) => {
                let mut entries: Vec<(Node, Node)> = Vec::new();
                let mut end = span;
                while *i < events.len() {
                    if let Event::MappingEnd = events[*i].0 {
                        end = self.span_of(&events[*i].1);
                        *i += 1;
                        break;
                    }
                    let k = self.node(events, i)?;
                    let v = self.node(events, i)?;
                    if k.as_str() == Some("<<") {
                        self.merge(&mut entries, v)?;
                        continue;
                    }
                    if let Some(pos) = entries.iter().position(|(ek, _)| ek.kind == k.kind) {
                        self.warnings.push(Diagnostic::warning(
                            k.span,
                            format!("duplicate key `{}`: the last one wins", k.scalar_text().unwrap_or_default()),
                        ));
                        entries.remove(pos);
                    }
                    entries.push((k, v));
                }
                let node = Node { span: Span { end: end.end.max(span.start), ..span }, kind: NodeKind::Map(entries) };
                if *anchor > 0 {
                    self.anchors.insert(*anchor, node.clone());
                }
                Ok(node)
            }
            _ => Err(Diagnostic::error(DiagKind::Syntax, span, "unexpected YAML event")),
        }
    }

    fn merge(&mut self, entries: &mut Vec<(Node, Node)>, v: Node) -> Result<(), Diagnostic> {
        let sources: Vec<Node> = match v.kind {
            NodeKind::Map(_) => vec![v],
            NodeKind::Seq(items) => items,
            _ => {
                return Err(Diagnostic::error(
                    DiagKind::Invalid,
                    v.span,
                    "`<<` must merge a mapping or a list of mappings",
                ))
            }
        };
        for src in sources {
            let NodeKind::Map(src_entries) = src.kind else {
                return Err(Diagnostic::error(DiagKind::Invalid, src.span, "`<<` must merge a mapping"));
            };
            for (k, val) in src_entries {
                if !entries.iter().any(|(ek, _)| ek.kind == k.kind) {
                    entries.push((k, val));
                }
            }
        }
        Ok(())
    }
}

fn scalar_kind(text: &str, style: ScalarStyle, tag: Option<(&str, &str)>, span: Span) -> Result<NodeKind, Diagnostic> {
    match tag {
        None => {}
        Some(("!!", "str")) | Some(("!", "unsafe")) => return Ok(NodeKind::Str(text.to_string())),
        Some(("!!", "int")) => {
            return parse_int(text)
                .map(NodeKind::Int)
                .ok_or_else(|| Diagnostic::error(DiagKind::Invalid, span, format!("`{text}` is not an integer")))
        }
        Some(("!!", "float")) => {
            return text
                .parse()
                .map(NodeKind::Float)
                .map_err(|_| Diagnostic::error(DiagKind::Invalid, span, format!("`{text}` is not a float")))
        }
        Some(("!!", "bool")) => {
            return parse_bool(text)
                .map(NodeKind::Bool)
                .ok_or_else(|| Diagnostic::error(DiagKind::Invalid, span, format!("`{text}` is not a boolean")))
        }
        Some((h, s)) => {
            return Err(Diagnostic::error(DiagKind::Unsupported, span, format!("YAML tag `{h}{s}` is not supported"))
                .with_help("prov supports plain YAML, `!!str`/`!!int`/`!!float`/`!!bool` and `!unsafe`; vault-encrypted values are not supported yet"))
        }
    }
    if style != ScalarStyle::Plain {
        return Ok(NodeKind::Str(text.to_string()));
    }
    Ok(match text {
        "" | "~" | "null" | "Null" | "NULL" => NodeKind::Null,
        _ => {
            if let Some(b) = parse_bool(text) {
                NodeKind::Bool(b)
            } else if let Some(i) = parse_int(text) {
                NodeKind::Int(i)
            } else if let Some(f) = parse_float(text) {
                NodeKind::Float(f)
            } else {
                NodeKind::Str(text.to_string())
            }
        }
    })
}

fn parse_bool(t: &str) -> Option<bool> {
    match t {
        "true" | "True" | "TRUE" | "yes" | "Yes" | "YES" | "on" | "On" | "ON" => Some(true),
        "false" | "False" | "FALSE" | "no" | "No" | "NO" | "off" | "Off" | "OFF" => Some(false),
        _ => None,
    }
}

fn parse_int(t: &str) -> Option<i64> {
    let (neg, body) = match t.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    let body = body.replace('_', "");
    if body.is_empty() {
        return None;
    }
    let v = if let Some(h) = body.strip_prefix("0x") {
        i64::from_str_radix(h, 16).ok()?
    } else if let Some(o) = body.strip_prefix("0o") {
        i64::from_str_radix(o, 8).ok()?
    } else if body.len() > 1 && body.starts_with('0') && body.bytes().all(|b| b.is_ascii_digit()) {
        // YAML 1.1 octal (`0644`), as Ansible reads file modes.
        i64::from_str_radix(&body[1..], 8).ok()?
    } else if body.bytes().all(|b| b.is_ascii_digit()) {
        body.parse().ok()?
    } else {
        return None;
    };
    Some(if neg { -v } else { v })
}

fn parse_float(t: &str) -> Option<f64> {
    let looks_numeric = t.bytes().any(|b| b.is_ascii_digit())
        && t.bytes().all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'-' | b'+' | b'_'))
        && t.contains('.');
    match t {
        ".inf" | ".Inf" | "+.inf" => Some(f64::INFINITY),
        "-.inf" | "-.Inf" => Some(f64::NEG_INFINITY),
        ".nan" | ".NaN" => Some(f64::NAN),
        _ if looks_numeric => t.replace('_', "").parse().ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(text: &str) -> Node {
        parse_one(FileId(0), text).expect("parses").0
    }

    #[test]
    fn types_scalars_like_ansible() {
        let n = one("a: yes\nb: '0644'\nc: 0644\nd: 1.5\ne: ~\nf: hello\n");
        assert_eq!(n.get("a").map(|n| &n.kind), Some(&NodeKind::Bool(true)));
        assert_eq!(n.get("b").map(|n| &n.kind), Some(&NodeKind::Str("0644".into())));
        assert_eq!(n.get("c").map(|n| &n.kind), Some(&NodeKind::Int(0o644)));
        assert_eq!(n.get("d").map(|n| &n.kind), Some(&NodeKind::Float(1.5)));
        assert_eq!(n.get("e").map(|n| &n.kind), Some(&NodeKind::Null));
        assert_eq!(n.get("f").and_then(Node::as_str), Some("hello"));
    }

    #[test]
    fn keeps_line_and_column() {
        let n = one("- hosts: all\n  tasks:\n    - debug: msg=hi\n");
        let task = &n.as_seq().expect("seq")[0].get("tasks").expect("tasks").as_seq().expect("seq")[0];
        let (k, _) = &task.as_map().expect("map")[0];
        assert_eq!((k.span.line, k.span.col), (3, 7));
    }

    #[test]
    fn merges_and_aliases() {
        let n = one("base: &b {x: 1, y: 2}\nother:\n  <<: *b\n  y: 3\n");
        let o = n.get("other").expect("other");
        assert_eq!(o.get("x").map(|n| &n.kind), Some(&NodeKind::Int(1)));
        assert_eq!(o.get("y").map(|n| &n.kind), Some(&NodeKind::Int(3)));
    }

    #[test]
    fn reports_syntax_errors_with_position() {
        let e = parse_one(FileId(0), "- hosts: all\n   tasks: []\n").expect_err("bad yaml");
        assert_eq!(e.kind, DiagKind::Syntax);
        assert_eq!(e.span.line, 2);
    }

    #[test]
    fn duplicate_keys_warn() {
        let (n, w) = parse_one(FileId(0), "a: 1\na: 2\n").expect("parses");
        assert_eq!(n.get("a").map(|n| &n.kind), Some(&NodeKind::Int(2)));
        assert_eq!(w.len(), 1);
    }
}
