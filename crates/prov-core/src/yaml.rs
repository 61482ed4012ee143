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
    /// A string under Ansible's `!unsafe` tag (itself, or inside a tagged collection): a
    /// literal that is never templated. Read as a string everywhere else.
    Unsafe(String),
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
            NodeKind::Str(s) | NodeKind::Unsafe(s) => Some(s),
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
            NodeKind::Str(_) | NodeKind::Unsafe(_) => "string",
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
            NodeKind::Str(s) | NodeKind::Unsafe(s) => Some(s.clone()),
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
            // minijinja's "safe" strings are the ones prov never templates (`has_template`).
            NodeKind::Unsafe(s) => Value::from_safe_string(s.clone()),
            NodeKind::Seq(items) => Value::from(items.iter().map(Node::to_value).collect::<Vec<_>>()),
            NodeKind::Map(entries) => {
                Value::from_pairs(entries.iter().map(|(k, v)| (k.scalar_text().unwrap_or_default(), v.to_value())))
            }
        }
    }
}

/// How deep collections may nest. Real playbooks and inventories stay far below; a deeper text
/// is refused before anything recursive (the tree builder, templating, serde) walks it.
/// serde_json's default recursion limit is the same.
pub const MAX_DEPTH: usize = 128;

/// How many nodes aliases may add to a text beyond the nodes written in it. Expanding an
/// alias copies its anchor, so a few hundred bytes of nested aliases (a "billion laughs")
/// would otherwise grow without bound; the budget is checked before each copy.
pub const MAX_ALIAS_NODES: usize = 200_000;

/// Parses every document of a YAML text. Duplicate keys are warnings (the last one wins, as in Ansible).
///
/// Bounded: nesting deeper than [`MAX_DEPTH`] and alias expansion past [`MAX_ALIAS_NODES`]
/// are errors with the place, and duplicate keys are found in linear time.
pub fn parse(file: FileId, text: &str) -> Result<(Vec<Node>, Vec<Diagnostic>), Diagnostic> {
    parse_with(file, text, Schema::PyYaml)
}

/// How plain scalars resolve to types.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Schema {
    /// PyYAML's YAML 1.1 resolvers, as ansible-core reads playbooks, inventories and vars:
    /// `0644` and `0b101` are integers, `1:30` is 90, `1.5e3` and `0o17` are text.
    PyYaml,
    /// As Docker reads a compose file (YAML 1.2's core schema, with 1.1's booleans and
    /// `0644`): `80:80` and `1.5e3` are what they look like.
    Compose,
}

/// Parses a compose file's text (see [`Schema::Compose`]), which must hold one document.
pub fn parse_one_compose(file: FileId, text: &str) -> Result<(Node, Vec<Diagnostic>), Diagnostic> {
    one_document(file, parse_with(file, text, Schema::Compose)?)
}

/// [`parse`] with the given scalar resolution.
pub fn parse_with(file: FileId, text: &str, schema: Schema) -> Result<(Vec<Node>, Vec<Diagnostic>), Diagnostic> {
    // PyYAML reads the continuation lines of a quoted scalar at any indentation (real roles
    // indent a closing `}}"` like the key above it); the parser wants them indented more than
    // the block around. White space at the start of those lines is never part of the value,
    // so such a scalar's lines are indented further and the text parsed again, its places
    // mapped back to the text as written.
    let mut shifts = Vec::new();
    let mut current = std::borrow::Cow::Borrowed(text);
    for _ in 0..MAX_REINDENTS {
        match parse_shifted(file, &current, text, &shifts, schema) {
            Err(ParseErr::QuotedIndent(at)) => match reindent_quoted(&current, at) {
                Some((fixed, more)) => {
                    shifts = merge_shifts(&shifts, more);
                    current = std::borrow::Cow::Owned(fixed);
                }
                None => break,
            },
            Err(ParseErr::Diag(d)) => return Err(d),
            Ok(r) => return Ok(r),
        }
    }
    // No further progress: the parser's own error, on the text as written.
    match parse_shifted(file, text, text, &[], schema) {
        Ok(r) => Ok(r),
        Err(ParseErr::Diag(d)) => Err(d),
        Err(ParseErr::QuotedIndent(at)) => {
            let offsets = CharOffsets::new(text);
            let (line, col) = line_col(text, at);
            Err(Diagnostic::error(
                DiagKind::Syntax,
                offsets.span(file, at, at, line, col),
                "YAML syntax error: invalid indentation in quoted scalar",
            )
            .with_help(
                "check the indentation and quoting around this place; a value starting with `{{` must be quoted",
            ))
        }
    }
}

/// How many quoted scalars of one text [`parse`] indents further before it gives up.
const MAX_REINDENTS: usize = 256;

enum ParseErr {
    Diag(Diagnostic),
    /// The parser refused the continuation lines of the quoted scalar that starts at this
    /// char index.
    QuotedIndent(usize),
}

impl From<Diagnostic> for ParseErr {
    fn from(d: Diagnostic) -> Self {
        ParseErr::Diag(d)
    }
}

/// Spaces added at the start of lines: (char index of the line's start in the changed text,
/// spaces added there), sorted.
type Shifts = Vec<(usize, usize)>;

/// The 1-based line and 0-based column of a char index.
fn line_col(text: &str, at: usize) -> (usize, usize) {
    let mut line = 1;
    let mut col = 0;
    for c in text.chars().take(at) {
        if c == '\n' {
            line += 1;
            col = 0;
        } else {
            col += 1;
        }
    }
    (line, col)
}

/// `text` with the continuation lines of the quoted scalar at char index `at` indented one
/// column past its opening quote, and where spaces were added; `None` when nothing changes
/// (or a line is a document marker, which PyYAML refuses there too).
fn reindent_quoted(text: &str, at: usize) -> Option<(String, Shifts)> {
    let chars: Vec<char> = text.chars().collect();
    let quote = *chars.get(at)?;
    if quote != '"' && quote != '\'' {
        return None;
    }
    let mut line_start = at;
    while line_start > 0 && chars[line_start - 1] != '\n' {
        line_start -= 1;
    }
    let want = at - line_start + 1;
    // The end of the scalar: the closing quote (`\x` escapes in double quotes, `''` in single).
    let mut i = at + 1;
    let mut breaks = Vec::new();
    loop {
        match chars.get(i) {
            None => break,
            Some('\\') if quote == '"' => i += 1,
            Some('\'') if quote == '\'' && chars.get(i + 1) == Some(&'\'') => i += 1,
            Some(&c) if c == quote => break,
            Some('\n') => breaks.push(i + 1),
            _ => {}
        }
        i += 1;
    }
    let mut out = String::with_capacity(text.len() + breaks.len() * want);
    let mut shifts = Vec::new();
    let mut added = 0;
    let mut next = 0;
    for &b in &breaks {
        let indent = chars[b..].iter().take_while(|c| **c == ' ' || **c == '\t').count();
        let blank = matches!(chars.get(b + indent), None | Some('\n') | Some('\r'));
        if blank || indent >= want {
            continue;
        }
        let marker: String = chars[b..].iter().take(3).collect();
        if indent == 0 && (marker == "---" || marker == "...") {
            return None;
        }
        out.extend(&chars[next..b]);
        let pad = want - indent;
        out.extend(std::iter::repeat_n(' ', pad));
        shifts.push((b + added, pad));
        added += pad;
        next = b;
    }
    if shifts.is_empty() {
        return None;
    }
    out.extend(&chars[next..]);
    Some((out, shifts))
}

/// `old` (places in the text before the latest change) and `new` (the latest change's, in
/// the changed text) as one table on the changed text.
fn merge_shifts(old: &Shifts, new: Shifts) -> Shifts {
    let mut out: Shifts = old
        .iter()
        .map(|&(at, n)| {
            let moved: usize = new.iter().filter(|(s, _)| *s <= at).map(|(_, k)| k).sum();
            (at + moved, n)
        })
        .collect();
    out.extend(new);
    out.sort_unstable();
    out
}

/// Parses `text`, which is `written` with the spaces `shifts` added; places are `written`'s.
fn parse_shifted(
    file: FileId,
    text: &str,
    written: &str,
    shifts: &[(usize, usize)],
    schema: Schema,
) -> Result<(Vec<Node>, Vec<Diagnostic>), ParseErr> {
    let offsets = CharOffsets::new(written).shifted(shifts);
    let mut b = Builder {
        file,
        schema,
        offsets: &offsets,
        anchors: HashMap::new(),
        warnings: Vec::new(),
        alias_nodes: 0,
        nodes: 0,
        unsafe_depth: 0,
    };
    let mut parser = Parser::new_from_str(text);
    let mut docs = Vec::new();
    let mut next = || -> Result<Option<(Event<'_>, saphyr_parser::Span)>, ParseErr> {
        match parser.next_event() {
            None => Ok(None),
            Some(Ok(ev)) => Ok(Some(ev)),
            Some(Err(e)) if e.info() == "invalid indentation in quoted scalar" => {
                Err(ParseErr::QuotedIndent(e.marker().index()))
            }
            Some(Err(e)) => {
                let m = e.marker();
                let span = offsets.span(file, m.index(), m.index(), m.line(), m.col());
                Err(Diagnostic::error(DiagKind::Syntax, span, format!("YAML syntax error: {}", e.info()))
                    .with_help(
                        "check the indentation and quoting around this place; a value starting with `{{` must be quoted",
                    )
                    .into())
            }
        }
    };
    // Flatten the event stream into a vector first: the builder is recursive, so the depth
    // is checked here, before it starts.
    let mut events = Vec::new();
    let mut depth = 0usize;
    while let Some(ev) = next()? {
        match ev.0 {
            Event::SequenceStart(..) | Event::MappingStart(..) => {
                depth += 1;
                if depth > MAX_DEPTH {
                    let span =
                        offsets.span(file, ev.1.start.index(), ev.1.end.index(), ev.1.start.line(), ev.1.start.col());
                    return Err(Diagnostic::error(
                        DiagKind::Invalid,
                        span,
                        format!("YAML nested more than {MAX_DEPTH} levels deep"),
                    )
                    .with_help("flatten the data; prov refuses deeper nesting so that no input can exhaust the stack")
                    .into());
                }
            }
            Event::SequenceEnd | Event::MappingEnd => depth = depth.saturating_sub(1),
            _ => {}
        }
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
    one_document(file, parse(file, text)?)
}

fn one_document(file: FileId, parsed: (Vec<Node>, Vec<Diagnostic>)) -> Result<(Node, Vec<Diagnostic>), Diagnostic> {
    let (mut docs, warnings) = parsed;
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
    /// Spaces the parsed text has that the written one does not (see [`parse`]).
    shifts: Shifts,
}

impl CharOffsets {
    fn new(text: &str) -> Self {
        let bytes = (!text.is_ascii()).then(|| text.char_indices().map(|(b, _)| b as u32).collect());
        CharOffsets { bytes, len: text.len() as u32, shifts: Vec::new() }
    }

    /// For a parsed text that is this one with `shifts` added: places map back to this one.
    fn shifted(mut self, shifts: &[(usize, usize)]) -> Self {
        self.shifts = shifts.to_vec();
        self
    }

    /// The char index in the written text of char index `i` of the parsed one.
    fn unshift(&self, i: usize) -> usize {
        let removed: usize = self.shifts.iter().take_while(|(at, _)| *at <= i).map(|&(at, n)| n.min(i - at)).sum();
        i - removed
    }

    fn byte(&self, char_index: usize) -> u32 {
        match &self.bytes {
            None => (char_index as u32).min(self.len),
            Some(v) => v.get(char_index).copied().unwrap_or(self.len),
        }
    }

    fn span(&self, file: FileId, start: usize, end: usize, line: usize, col: usize) -> Span {
        // A place on a line that was indented further moves back by the spaces added there.
        let added = self.shifts.iter().find(|&&(at, _)| at + col == start).map_or(0, |&(_, n)| n);
        let (start, end, col) = (self.unshift(start), self.unshift(end), col.saturating_sub(added));
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
    schema: Schema,
    offsets: &'a CharOffsets,
    /// Each anchor's node and how many nodes it holds.
    anchors: HashMap<usize, (Node, usize)>,
    warnings: Vec<Diagnostic>,
    /// Nodes added by alias expansion so far.
    alias_nodes: usize,
    /// Nodes built so far, alias copies included.
    nodes: usize,
    /// How many `!unsafe` collections enclose the node being built.
    unsafe_depth: usize,
}

/// A mapping key as Python's dict compares it, for duplicate detection in one hash lookup.
#[derive(Debug, PartialEq, Eq, Hash)]
enum KeyRepr {
    Null,
    Bool(bool),
    Int(i64),
    Float(u64),
    Str(String),
}

impl KeyRepr {
    /// `None` for collections, which Python cannot hash (PyYAML refuses them as keys).
    fn of(n: &Node) -> Option<KeyRepr> {
        Some(match &n.kind {
            NodeKind::Null => KeyRepr::Null,
            NodeKind::Bool(b) => KeyRepr::Bool(*b),
            NodeKind::Int(i) => KeyRepr::Int(*i),
            NodeKind::Float(f) => KeyRepr::Float(f.to_bits()),
            NodeKind::Str(s) | NodeKind::Unsafe(s) => KeyRepr::Str(s.clone()),
            NodeKind::Seq(_) | NodeKind::Map(_) => return None,
        })
    }
}

/// The entries of one mapping being built, with an index of their keys.
#[derive(Default)]
struct MapBuilder {
    entries: Vec<(Node, Node)>,
    /// Where each key is in `entries`, and whether it came from a `<<` merge.
    index: HashMap<KeyRepr, (usize, bool)>,
}

impl MapBuilder {
    /// Adds an entry written in the mapping; a key already present keeps its place and takes
    /// the new value (Python's dict does the same). Returns whether that replaced a key written
    /// in the mapping (overriding a merged key is what `<<` is for, not a duplicate).
    fn insert(&mut self, key: KeyRepr, k: Node, v: Node) -> bool {
        match self.index.get_mut(&key) {
            Some((pos, merged)) => {
                self.entries[*pos] = (k, v);
                !std::mem::replace(merged, false)
            }
            None => {
                self.index.insert(key, (self.entries.len(), false));
                self.entries.push((k, v));
                false
            }
        }
    }

    /// Adds an entry from a `<<` merge unless the key is already present.
    fn merge(&mut self, key: KeyRepr, k: Node, v: Node) {
        if let std::collections::hash_map::Entry::Vacant(e) = self.index.entry(key) {
            e.insert((self.entries.len(), true));
            self.entries.push((k, v));
        }
    }
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
            Event::Alias(id) => {
                let Some((node, size)) = self.anchors.get(id) else {
                    return Err(Diagnostic::error(DiagKind::Syntax, span, "alias refers to an unknown anchor"));
                };
                self.alias_nodes = self.alias_nodes.saturating_add(*size);
                if self.alias_nodes > MAX_ALIAS_NODES {
                    return Err(Diagnostic::error(
                        DiagKind::Invalid,
                        span,
                        format!("YAML aliases expand to more than {MAX_ALIAS_NODES} nodes"),
                    )
                    .with_help("this looks like an alias bomb; write the data out, or use fewer nested aliases"));
                }
                self.nodes += size;
                Ok(Node { span, ..node.clone() })
            }
            Event::Scalar(text, style, anchor, tag) => {
                let tag = tag.as_deref().map(short_tag);
                let kind = scalar_kind(text, *style, tag, self.unsafe_depth > 0, span, self.schema)?;
                let node = Node { span, kind };
                self.nodes += 1;
                if *anchor > 0 {
                    self.anchors.insert(*anchor, (node.clone(), 1));
                }
                Ok(node)
            }
            // Nesting was bounded when the events were read, so this recursion is too.
            Event::SequenceStart(_, tag) | Event::MappingStart(_, tag) => {
                let first = self.nodes;
                self.nodes += 1;
                let unsafe_ = match tag.as_deref().map(short_tag) {
                    None | Some(("!!", "seq" | "map")) => false,
                    Some(("!", "unsafe")) => true,
                    Some((h, s)) => return Err(unsupported_tag(h, s, span)),
                };
                self.unsafe_depth += usize::from(unsafe_);
                let built = self.collection(ev, span, events, i);
                self.unsafe_depth -= usize::from(unsafe_);
                let (node, anchor) = built?;
                if anchor > 0 {
                    let size = self.nodes - first;
                    self.anchors.insert(anchor, (node.clone(), size));
                }
                Ok(node)
            }
            _ => Err(Diagnostic::error(DiagKind::Syntax, span, "unexpected YAML event")),
        }
    }

    /// Builds the sequence or mapping that `ev` starts; returns it with its anchor id.
    fn collection(
        &mut self,
        ev: &Event<'_>,
        span: Span,
        events: &[Ev<'_>],
        i: &mut usize,
    ) -> Result<(Node, usize), Diagnostic> {
        match ev {
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
                Ok((node, *anchor))
            }
            Event::MappingStart(anchor, _) => {
                let mut map = MapBuilder::default();
                let mut end = span;
                while *i < events.len() {
                    if let Event::MappingEnd = events[*i].0 {
                        end = self.span_of(&events[*i].1);
                        *i += 1;
                        break;
                    }
                    // Only a plain `<<` merges: a quoted "<<" is an ordinary key, as in PyYAML,
                    // whose resolver gives the merge tag to plain scalars only.
                    let plain_merge_key = matches!(&events[*i].0,
                        Event::Scalar(text, ScalarStyle::Plain, _, None) if text == "<<");
                    let k = self.node(events, i)?;
                    let v = self.node(events, i)?;
                    if plain_merge_key {
                        self.merge(&mut map, v)?;
                        continue;
                    }
                    let Some(key) = KeyRepr::of(&k) else {
                        return Err(Diagnostic::error(
                            DiagKind::Invalid,
                            k.span,
                            format!("a {} cannot be a mapping key", k.type_name()),
                        )
                        .with_help("keys are strings, numbers, booleans or null (Ansible's YAML loader refuses unhashable keys too)"));
                    };
                    let span = k.span;
                    let text = k.scalar_text().unwrap_or_default();
                    if map.insert(key, k, v) {
                        self.warnings
                            .push(Diagnostic::warning(span, format!("duplicate key `{text}`: the last one wins")));
                    }
                }
                let node =
                    Node { span: Span { end: end.end.max(span.start), ..span }, kind: NodeKind::Map(map.entries) };
                Ok((node, *anchor))
            }
            _ => Err(Diagnostic::error(DiagKind::Syntax, span, "unexpected YAML event")),
        }
    }

    fn merge(&mut self, map: &mut MapBuilder, v: Node) -> Result<(), Diagnostic> {
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
                // The source's keys were checked when it was built.
                if let Some(key) = KeyRepr::of(&k) {
                    map.merge(key, k, val);
                }
            }
        }
        Ok(())
    }
}

/// A tag as (handle, suffix), the core schema's long handle written `!!` as in the text.
fn short_tag(t: &saphyr_parser::Tag) -> (&str, &str) {
    let handle = if t.handle == "tag:yaml.org,2002:" { "!!" } else { t.handle.as_str() };
    (handle, t.suffix.as_str())
}

/// What a YAML tag prov does not know is.
fn unsupported_tag(handle: &str, suffix: &str, span: Span) -> Diagnostic {
    Diagnostic::error(DiagKind::Unsupported, span, format!("YAML tag `{handle}{suffix}` is not supported")).with_help(
        "prov supports plain YAML, `!!str`/`!!int`/`!!float`/`!!bool`/`!!seq`/`!!map` and `!unsafe`; vault-encrypted values are not supported yet",
    )
}

/// A scalar's value. Under `!unsafe` (its own tag, or an enclosing collection's, as
/// ansible-core 2.19 reads it) the value is resolved as without the tag and a string becomes
/// [`NodeKind::Unsafe`].
fn scalar_kind(
    text: &str,
    style: ScalarStyle,
    tag: Option<(&str, &str)>,
    in_unsafe: bool,
    span: Span,
    schema: Schema,
) -> Result<NodeKind, Diagnostic> {
    if tag == Some(("!", "unsafe")) || in_unsafe {
        let tag = if tag == Some(("!", "unsafe")) { None } else { tag };
        return Ok(match scalar_kind(text, style, tag, false, span, schema)? {
            NodeKind::Str(s) => NodeKind::Unsafe(s),
            other => other,
        });
    }
    match tag {
        None => {}
        Some(("!!", "str")) => return Ok(NodeKind::Str(text.to_string())),
        Some(("!!", "null")) => return Ok(NodeKind::Null),
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
        Some((h, s)) => return Err(unsupported_tag(h, s, span)),
    }
    if style != ScalarStyle::Plain {
        return Ok(NodeKind::Str(text.to_string()));
    }
    Ok(match text {
        "" | "~" | "null" | "Null" | "NULL" => NodeKind::Null,
        _ => {
            if let Some(b) = parse_bool(text) {
                NodeKind::Bool(b)
            } else if let Some(i) = if schema == Schema::PyYaml { pyyaml_int(text) } else { parse_int(text) } {
                NodeKind::Int(i)
            } else if let Some(f) = if schema == Schema::PyYaml { pyyaml_float(text) } else { parse_float(text) } {
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

/// PyYAML's implicit int (`[-+]?0b[0-1_]+ | [-+]?0[0-7_]+ | [-+]?(0|[1-9][0-9_]*) |
/// [-+]?0x[0-9a-fA-F_]+ | [-+]?[1-9][0-9_]*(:[0-5]?[0-9])+`) and its constructor: `_` dropped,
/// `0b` binary, `0x` hex, a leading `0` octal, `:` base 60.
fn pyyaml_int(t: &str) -> Option<i64> {
    let (neg, body) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let all = |s: &str, ok: fn(u8) -> bool| !s.is_empty() && s.bytes().all(|b| ok(b) || b == b'_');
    let digits = |s: &str| s.replace('_', "");
    let v: i64 = if let Some(b) = body.strip_prefix("0b").filter(|b| all(b, |c| matches!(c, b'0' | b'1'))) {
        i64::from_str_radix(&digits(b), 2).ok()?
    } else if let Some(h) = body.strip_prefix("0x").filter(|h| all(h, |c| c.is_ascii_hexdigit())) {
        i64::from_str_radix(&digits(h), 16).ok()?
    } else if body == "0" {
        0
    } else if let Some(o) = body.strip_prefix('0').filter(|o| all(o, |c| matches!(c, b'0'..=b'7'))) {
        let o = digits(o);
        if o.is_empty() {
            0
        } else {
            i64::from_str_radix(&o, 8).ok()?
        }
    } else if body.starts_with(|c: char| matches!(c, '1'..='9')) && body.contains(':') {
        let mut parts = body.split(':');
        let first = parts.next()?;
        if !all(first, |c| c.is_ascii_digit()) {
            return None;
        }
        let mut v: i64 = digits(first).parse().ok()?;
        for p in parts {
            let ok = (1..=2).contains(&p.len())
                && p.bytes().all(|b| b.is_ascii_digit())
                && (p.len() == 1 || p.as_bytes()[0] <= b'5');
            if !ok {
                return None;
            }
            v = v.checked_mul(60)?.checked_add(p.parse::<i64>().ok()?)?;
        }
        v
    } else if body.starts_with(|c: char| matches!(c, '1'..='9')) && all(body, |c| c.is_ascii_digit()) {
        digits(body).parse().ok()?
    } else {
        return None;
    };
    Some(if neg { -v } else { v })
}

/// PyYAML's implicit float: `[-+]?[0-9][0-9_]*\.[0-9_]*([eE][-+][0-9]+)?` (the exponent's sign
/// is required), `\.[0-9][0-9_]*([eE][-+][0-9]+)?`, base 60 (`[-+]?[0-9][0-9_]*(:[0-5]?[0-9])+\.[0-9_]*`),
/// `[-+]?\.(inf|Inf|INF)`, `\.(nan|NaN|NAN)`.
fn pyyaml_float(t: &str) -> Option<f64> {
    match t {
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => return Some(f64::INFINITY),
        "-.inf" | "-.Inf" | "-.INF" => return Some(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Some(f64::NAN),
        _ => {}
    }
    let (sign, body) = match t.as_bytes().first() {
        Some(b'-') => (-1.0, &t[1..]),
        Some(b'+') => (1.0, &t[1..]),
        _ => (1.0, t),
    };
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit() || b == b'_');
    let leads = |s: &str| s.starts_with(|c: char| c.is_ascii_digit());
    // A part of base 60 after the first: `[0-5]?[0-9]`.
    let sixty = |p: &str| {
        (1..=2).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()) && (p.len() == 1 || p.as_bytes()[0] <= b'5')
    };
    let clean = |s: &str| s.replace('_', "");
    if body.contains(':') {
        let parts: Vec<&str> = body.split(':').collect();
        let (first, rest) = parts.split_first()?;
        let (last, middle) = rest.split_last()?;
        let (last_int, frac) = last.split_once('.')?;
        if !leads(first) || !digits(first) || !middle.iter().all(|p| sixty(p)) || !sixty(last_int) || !digits(frac) {
            return None;
        }
        let mut v: f64 = clean(first).parse().ok()?;
        for p in middle {
            v = v * 60.0 + p.parse::<f64>().ok()?;
        }
        let tail: f64 = format!("{last_int}.{}", clean(frac)).parse().ok()?;
        return Some(sign * (v * 60.0 + tail));
    }
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], Some(&body[i + 1..])),
        None => (body, None),
    };
    if let Some(e) = exponent {
        let signed = matches!(e.as_bytes().first(), Some(b'-' | b'+'));
        if !signed || e.len() < 2 || !e[1..].bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
    }
    let (int_part, frac) = mantissa.split_once('.')?;
    let ok = if int_part.is_empty() {
        // `.5`: no sign, a digit right after the point.
        body.len() == t.len() && leads(frac) && digits(frac)
    } else {
        leads(int_part) && digits(int_part) && digits(frac)
    };
    if !ok {
        return None;
    }
    let exp = exponent.map(|e| format!("e{e}")).unwrap_or_default();
    let v: f64 = format!("0{}.{}0{exp}", clean(int_part), clean(frac)).parse().ok()?;
    Some(sign * v)
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

    /// Plain scalars resolve as PyYAML 6 (ansible-core 2.19's) resolves them: each case below
    /// was loaded with `yaml.safe_load` for its expected value.
    #[test]
    fn plain_scalars_resolve_as_pyyaml_resolves_them() {
        let v = |text: &str| one(&format!("v: {text}\n")).get("v").map(|n| n.kind.clone()).expect(text);
        for (text, want) in [("0b101", 5), ("0b1_0", 2), ("12:30", 750), ("1:30:00", 5400), ("-1:30", -90)] {
            assert_eq!(v(text), NodeKind::Int(want), "{text}");
        }
        for (text, want) in [("1_000", 1000), ("0644", 420), ("0", 0), ("00", 0), ("0x1F", 31), ("0x_1F", 31)] {
            assert_eq!(v(text), NodeKind::Int(want), "{text}");
        }
        for (text, want) in [("+12", 12), ("-0", 0), ("0_7", 7), ("1__2", 12), ("-0b11", -3), ("1:2:3", 3723)] {
            assert_eq!(v(text), NodeKind::Int(want), "{text}");
        }
        for (text, want) in [("190:20:30.15", 685230.15), ("1.5e+3", 1500.0), ("1.", 1.0), ("0.5", 0.5), (".5", 0.5)] {
            assert_eq!(v(text), NodeKind::Float(want), "{text}");
        }
        for (text, want) in [("1_0.5", 10.5), ("1.0e-5", 1e-5), ("6.02E+23", 6.02e23), ("1.23_45", 1.2345)] {
            assert_eq!(v(text), NodeKind::Float(want), "{text}");
        }
        assert_eq!(v("-.inf"), NodeKind::Float(f64::NEG_INFINITY));
        assert_eq!(v("+.INF"), NodeKind::Float(f64::INFINITY));
        assert!(matches!(v(".NaN"), NodeKind::Float(f) if f.is_nan()));
        for text in ["0o17", "1.5e3", "1e3", "-.5", "+.5", "09", "8:61", "1:60", "0:30", "0x", "0b", "1.5.2"] {
            assert_eq!(v(text), NodeKind::Str(text.into()), "{text}");
        }
    }

    #[test]
    fn compose_files_keep_yaml_1_2_scalars() {
        let (n, _) = parse_one_compose(FileId(0), "ports: [80:80]\nx: 1.5e3\n").expect("parses");
        assert_eq!(
            n.get("ports").and_then(Node::as_seq).map(|s| s[0].kind.clone()),
            Some(NodeKind::Str("80:80".into()))
        );
        assert_eq!(n.get("x").map(|n| n.kind.clone()), Some(NodeKind::Float(1500.0)));
    }

    #[test]
    fn quoted_scalars_continue_at_any_indentation_as_pyyaml_reads_them() {
        // PyYAML 6 (ansible-core 2.19's): {'k': {'a': 'x b'}}, {'a': 'x b'}; the closing
        // line of a template indented like its key is in grafana.grafana's roles.
        assert_eq!(one("k:\n  a: \"x\n  b\"\n").get("k").and_then(|k| k.get("a")).and_then(Node::as_str), Some("x b"));
        assert_eq!(one("a: \"x\nb\"\n").get("a").and_then(Node::as_str), Some("x b"));
        assert_eq!(one("a: 'it''s\nb'\n").get("a").and_then(Node::as_str), Some("it's b"));
        let text = "t:\n  - v: \"{{\n      (\n        [1] + [\\\"2\\\"]\n      ) | list\n    }}\"\n    w: 'a\n    b'\n    é: later\n";
        let n = one(text);
        let item = &n.get("t").and_then(Node::as_seq).expect("list")[0];
        assert_eq!(item.get("v").and_then(Node::as_str), Some("{{ ( [1] + [\"2\"] ) | list }}"));
        assert_eq!(item.get("w").and_then(Node::as_str), Some("a b"));
        // Places after the scalars are those of the text as written.
        let later = item.get("é").expect("é");
        assert_eq!((later.span.line, later.span.col), (9, 8));
        assert_eq!(&text[later.span.start as usize..later.span.start as usize + 5], "later");
        // A document marker in the scalar is an error, as in PyYAML.
        assert!(parse_one(FileId(0), "a: \"x\n---\n\"\n").is_err());
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
    fn unsafe_marks_strings_inside_and_keeps_other_types() {
        let n = one("a: !unsafe '{{ x }}'\nb: !unsafe [x, 1, {k: v}]\nc: !unsafe 3\nd: !!map {k: v}\n");
        assert_eq!(n.get("a").map(|n| &n.kind), Some(&NodeKind::Unsafe("{{ x }}".into())));
        let b = n.get("b").and_then(|b| b.as_seq()).expect("a list");
        assert_eq!(b[0].kind, NodeKind::Unsafe("x".into()));
        assert_eq!(b[1].kind, NodeKind::Int(1));
        assert_eq!(b[2].get("k").map(|n| &n.kind), Some(&NodeKind::Unsafe("v".into())));
        assert_eq!(n.get("c").map(|n| &n.kind), Some(&NodeKind::Int(3)));
        assert_eq!(n.get("d").and_then(|d| d.get("k")).map(|n| &n.kind), Some(&NodeKind::Str("v".into())));
        assert!(n.get("a").map(Node::to_value).is_some_and(|v| v.is_safe()));
    }

    #[test]
    fn null_tag_makes_null_whatever_the_text() {
        // PyYAML (ansible-core's loader) reads `!!null` as None, with or without text.
        let n = one("a: !!null\nb: !!null ''\nc: !!null anything\n");
        for k in ["a", "b", "c"] {
            assert_eq!(n.get(k).map(|n| &n.kind), Some(&NodeKind::Null), "{k}");
        }
    }

    #[test]
    fn unknown_tags_on_collections_are_refused() {
        let e = parse_one(FileId(0), "a: !vault [x]\n").expect_err("refused");
        assert!(e.message.contains("`!vault` is not supported"), "{}", e.message);
    }

    #[test]
    fn keeps_line_and_column() {
        let n = one("- hosts: all\n  tasks:\n    - debug: msg=hi\n");
        let task = &n.as_seq().expect("seq")[0].get("tasks").expect("tasks").as_seq().expect("seq")[0];
        let (k, _) = &task.as_map().expect("map")[0];
        assert_eq!((k.span.line, k.span.col), (3, 7));
    }

    #[test]
    fn a_quoted_merge_key_is_an_ordinary_key() {
        // ansible-core 2.19.14 reads {"<<": 1} and '<<': [3] as mappings with a "<<" key.
        let n = one("m: {\"<<\": 1}\nn:\n  '<<': [3]\n");
        assert_eq!(n.get("m").and_then(|m| m.get("<<")).map(|n| &n.kind), Some(&NodeKind::Int(1)));
        assert!(matches!(n.get("n").and_then(|m| m.get("<<")).map(|n| &n.kind), Some(NodeKind::Seq(_))));
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
    fn an_alias_bomb_is_refused_before_it_expands() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for n in 1..10 {
            let p = n - 1;
            text.push_str(&format!("a{n}: &a{n} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"));
        }
        assert!(text.len() < 700, "{}", text.len());
        let e = parse_one(FileId(0), &text).expect_err("bomb");
        assert!(e.message.contains("aliases expand"), "{}", e.message);
        assert!(e.span.line > 1);
    }

    #[test]
    fn a_few_aliases_still_work() {
        let n = one("a: &a [1, 2]\nb: [*a, *a, *a]\n");
        assert_eq!(n.get("b").and_then(Node::as_seq).map(|s| s.len()), Some(3));
    }

    #[test]
    fn deep_nesting_is_refused_in_block_and_flow_style() {
        let block: String = (0..5000).map(|d| format!("{}- \n", " ".repeat(d * 2))).collect();
        let e = parse_one(FileId(0), &block).expect_err("deep block");
        assert!(e.message.contains("nested more than"), "{}", e.message);
        let flow = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
        // saphyr-parser's scanner stops flow nesting at 255 levels by itself.
        let e = parse_one(FileId(0), &flow).expect_err("deep flow");
        assert!(e.message.contains("recursion limit"), "{}", e.message);
        let flow = format!("{}{}", "[".repeat(200), "]".repeat(200));
        let e = parse_one(FileId(0), &flow).expect_err("deep flow");
        assert!(e.message.contains("nested more than"), "{}", e.message);
        let ok = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(parse_one(FileId(0), &ok).is_ok());
    }

    #[test]
    fn many_keys_parse_in_linear_time() {
        let text: String = (0..80_000).map(|k| format!("k{k}: {k}\n")).collect();
        let t = std::time::Instant::now();
        let n = one(&text);
        assert_eq!(n.as_map().map(|m| m.len()), Some(80_000));
        // Quadratic duplicate checks took minutes here; linear ones take well under a second.
        assert!(t.elapsed() < std::time::Duration::from_secs(20), "{:?}", t.elapsed());
    }

    #[test]
    fn a_collection_as_key_is_refused() {
        let e = parse_one(FileId(0), "? [a, b]\n: 1\n").expect_err("unhashable key");
        assert!(e.message.contains("cannot be a mapping key"), "{}", e.message);
    }

    #[test]
    fn a_duplicate_key_keeps_its_place_and_takes_the_last_value() {
        let (n, w) = parse_one(FileId(0), "a: 1\nb: 2\na: 3\n").expect("parses");
        let keys: Vec<_> = n.as_map().expect("map").iter().map(|(k, v)| (k.scalar_text(), v.scalar_text())).collect();
        assert_eq!(keys, [(Some("a".into()), Some("3".into())), (Some("b".into()), Some("2".into()))]);
        assert_eq!(w.len(), 1);
        let (_, w) = parse_one(FileId(0), "base: &b {x: 1}\nother:\n  <<: *b\n  x: 2\n").expect("parses");
        assert!(w.is_empty(), "overriding a merged key is no duplicate: {w:?}");
    }

    #[test]
    fn duplicate_keys_warn() {
        let (n, w) = parse_one(FileId(0), "a: 1\na: 2\n").expect("parses");
        assert_eq!(n.get("a").map(|n| &n.kind), Some(&NodeKind::Int(2)));
        assert_eq!(w.len(), 1);
    }
}
