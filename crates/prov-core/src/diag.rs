//! Diagnostics: everything wrong with the input, collected before anything connects.

use crate::source::Span;
use std::fmt;

/// How bad a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// Worth saying; the run goes on.
    Warning,
    /// The input is wrong; nothing runs.
    Error,
}

/// What kind of problem a diagnostic reports; lets the CLI pick an exit code and tests assert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiagKind {
    /// YAML that does not parse.
    Syntax,
    /// A keyword, module or argument prov does not know.
    Unknown,
    /// A value of the wrong shape or type.
    Invalid,
    /// A role, file or template that is not there.
    Missing,
    /// A variable used but defined nowhere.
    Undefined,
    /// A bad template (Jinja syntax).
    Template,
    /// A host pattern that does not parse.
    Pattern,
    /// Roles/includes/handlers that refer to each other in a circle.
    Cycle,
    /// Supported by Ansible, not (yet) by prov.
    Unsupported,
    /// Bad command-line input (`-e`, `--limit`, ...).
    Options,
    /// A provider or service prov needs is not reachable (Docker Engine not running, ...).
    Unavailable,
    /// A warning with no particular kind.
    Note,
}

/// One problem with a place in a source file and a hint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// Category.
    pub kind: DiagKind,
    /// What is wrong, one sentence.
    pub message: String,
    /// Where (may be [`Span::NONE`]).
    pub span: Span,
    /// How to fix it ("did you mean `copy`?").
    pub help: Option<String>,
}

impl Diagnostic {
    /// An error at `span`.
    pub fn error(kind: DiagKind, span: Span, message: impl Into<String>) -> Self {
        Diagnostic { severity: Severity::Error, kind, message: message.into(), span, help: None }
    }

    /// A warning at `span`.
    pub fn warning(span: Span, message: impl Into<String>) -> Self {
        Diagnostic { severity: Severity::Warning, kind: DiagKind::Note, message: message.into(), span, help: None }
    }

    /// Adds a hint.
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Adds a hint only when there is one.
    pub fn with_opt_help(mut self, help: Option<String>) -> Self {
        self.help = help;
        self
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// A batch of diagnostics; an `Err` of it means at least one error.
#[derive(Debug, Clone, Default, thiserror::Error)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.errors().count();
        write!(f, "{n} error(s)")?;
        if let Some(d) = self.errors().next() {
            write!(f, ", first: {}", d.message)?;
        }
        Ok(())
    }
}

impl Diagnostics {
    /// Adds one.
    pub fn push(&mut self, d: Diagnostic) {
        self.0.push(d);
    }

    /// The errors (not warnings).
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.0.iter().filter(|d| d.severity == Severity::Error)
    }

    /// Whether any error was reported.
    pub fn has_errors(&self) -> bool {
        self.errors().next().is_some()
    }

    /// Appends all of `other`.
    pub fn extend(&mut self, other: Diagnostics) {
        self.0.extend(other.0);
    }
}

/// "did you mean `x`?" for the closest candidate, if any is close enough.
pub fn did_you_mean<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<String> {
    let mut best: Option<(f64, &str)> = None;
    for c in candidates.into_iter().filter(|c| *c != word) {
        let score = strsim::jaro_winkler(word, c);
        if score > 0.8 && best.is_none_or(|(s, _)| score > s) {
            best = Some((score, c));
        }
    }
    best.map(|(_, c)| format!("did you mean `{c}`?"))
}
