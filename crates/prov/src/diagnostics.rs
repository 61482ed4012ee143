//! Prints diagnostics as `file:line:col: error: message`, the source line, a caret and a hint.

use prov_core::diag::{Diagnostic, Severity};
use prov_core::source::SourceMap;
use std::fmt::Write;

/// Renders one diagnostic for a terminal or a log.
pub fn render(d: &Diagnostic, sources: &SourceMap) -> String {
    let loc = sources.location(d.span);
    let sev = match d.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    };
    let mut out = format!("{loc}: {sev}: {}\n", d.message);
    if d.span.is_real() {
        if let Some(file) = sources.get(d.span.file) {
            if let Some(line) = file.text.lines().nth(d.span.line.saturating_sub(1) as usize) {
                let n = d.span.line.to_string();
                let _ = writeln!(out, "{} | {line}", n);
                let pad: String = line
                    .chars()
                    .take(d.span.col.saturating_sub(1) as usize)
                    .map(|c| if c == '\t' { '\t' } else { ' ' })
                    .collect();
                let _ = writeln!(out, "{} | {pad}^", " ".repeat(n.len()));
            }
        }
    }
    if let Some(h) = &d.help {
        let _ = writeln!(out, "  help: {h}");
    }
    out
}

/// Prints diagnostics to stderr; returns the number of errors.
pub fn print_all(diags: &[Diagnostic], sources: &SourceMap) -> usize {
    let mut errors = 0;
    for d in diags {
        if d.severity == Severity::Error {
            errors += 1;
        }
        say_err_raw!("{}", render(d, sources));
    }
    errors
}
