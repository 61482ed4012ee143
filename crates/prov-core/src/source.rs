//! Source files and spans: every node of a playbook remembers where it came from.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

/// Identifies a file loaded into a [`SourceMap`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileId(pub u32);

/// A range in one source file: byte offsets for rendering, line/column (1-based) for humans.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Span {
    /// File the span points into.
    pub file: FileId,
    /// Byte offset of the first character.
    pub start: u32,
    /// Byte offset one past the last character.
    pub end: u32,
    /// 1-based line of `start`.
    pub line: u32,
    /// 1-based column of `start` (in characters).
    pub col: u32,
}

impl Span {
    /// A span for things that come from no file (command line, generated values).
    pub const NONE: Span = Span { file: FileId(u32::MAX), start: 0, end: 0, line: 0, col: 0 };

    /// Whether this span points into a real file.
    pub fn is_real(&self) -> bool {
        self.file.0 != u32::MAX
    }
}

/// One loaded file.
#[derive(Debug)]
pub struct SourceFile {
    /// Path as given (relative to the working directory when it was relative).
    pub path: PathBuf,
    /// Full text.
    pub text: Arc<str>,
}

/// All files read during one run; spans index into it. Cheap to clone (shared).
#[derive(Debug, Clone, Default)]
pub struct SourceMap {
    files: Arc<RwLock<Vec<Arc<SourceFile>>>>,
}

impl SourceMap {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a file's text and returns its id.
    pub fn add(&self, path: impl Into<PathBuf>, text: impl Into<Arc<str>>) -> FileId {
        let mut files = self.files.write().expect("source map lock is never poisoned: no code panics while holding it");
        files.push(Arc::new(SourceFile { path: path.into(), text: text.into() }));
        FileId((files.len() - 1) as u32)
    }

    /// Reads a file from disk and adds it. A file that is not UTF-8 is an error that says
    /// where the first bad byte is.
    pub fn load(&self, path: &Path) -> std::io::Result<(FileId, Arc<str>)> {
        let bytes = std::fs::read(path)?;
        let text: Arc<str> = match String::from_utf8(bytes) {
            Ok(t) => t.into(),
            Err(e) => {
                let at = e.utf8_error().valid_up_to();
                let before = &e.as_bytes()[..at];
                let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
                let line_start = before.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
                let col = String::from_utf8_lossy(&before[line_start..]).chars().count() + 1;
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("{}:{line}:{col}: not UTF-8 text (byte {at}); save the file as UTF-8", path.display()),
                ));
            }
        };
        let id = self.add(path, text.clone());
        Ok((id, text))
    }

    /// The file behind an id, if the id is known.
    pub fn get(&self, id: FileId) -> Option<Arc<SourceFile>> {
        let files = self.files.read().expect("source map lock is never poisoned");
        files.get(id.0 as usize).cloned()
    }

    /// `path:line:col` for a span, or `<command line>` when it points at no file.
    pub fn location(&self, span: Span) -> Location {
        match self.get(span.file) {
            Some(f) if span.is_real() => {
                Location { path: f.path.display().to_string(), line: span.line, col: span.col }
            }
            _ => Location { path: "<command line>".into(), line: 0, col: 0 },
        }
    }
}

/// A printable `file:line:col`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// File path.
    pub path: String,
    /// 1-based line, 0 when unknown.
    pub line: u32,
    /// 1-based column, 0 when unknown.
    pub col: u32,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}", self.path)
        } else {
            write!(f, "{}:{}:{}", self.path, self.line, self.col)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_that_is_not_utf8_is_refused_with_its_place() {
        let d = tempfile::tempdir().expect("tempdir");
        let p = d.path().join("play.yml");
        std::fs::write(&p, b"- hosts: all\n  vars:\n    x: caf\xe9\n").expect("write");
        let e = SourceMap::new().load(&p).expect_err("not UTF-8");
        assert!(e.to_string().contains("play.yml:3:11: not UTF-8"), "{e}");
    }
}
