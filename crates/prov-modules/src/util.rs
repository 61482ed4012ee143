//! Small helpers shared by the target modules.

use prov_core::connection::{shell_quote, ExecOutput};
use prov_core::module::ModuleError;
use std::time::Duration;

/// Quotes a value for `sh`.
pub(crate) fn q(s: &str) -> String {
    shell_quote(s)
}

/// The error for a read-only probe that exited non-zero.
pub(crate) fn probe_failed(what: &str, out: &ExecOutput) -> ModuleError {
    let err = out.stderr_str();
    let err = err.trim();
    let stdout = out.stdout_str();
    let detail = if err.is_empty() { stdout.trim() } else { err };
    if detail.is_empty() {
        ModuleError::Failed(format!("{what} failed (exit status {})", out.rc))
    } else {
        ModuleError::Failed(format!("{what} failed (exit status {}): {detail}", out.rc))
    }
}

/// A mode as Ansible shows it: `0644`.
pub(crate) fn octal(m: u32) -> String {
    format!("{m:04o}")
}

/// Ansible's `delta` format: `0:00:01.234567`.
pub(crate) fn delta(d: Duration) -> String {
    let s = d.as_secs();
    format!("{}:{:02}:{:02}.{:06}", s / 3600, (s / 60) % 60, s % 60, d.subsec_micros())
}

/// A text for a diff: the bytes when they are UTF-8, a placeholder otherwise.
pub(crate) fn diff_text(data: &[u8]) -> String {
    match std::str::from_utf8(data) {
        Ok(s) if !s.contains('\0') => s.to_string(),
        _ => format!("(binary data, {} bytes)\n", data.len()),
    }
}

/// A scalar YAML may have typed as a number or boolean, kept as text.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Text(pub String);

impl<'de> serde::Deserialize<'de> for Text {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(serde::Deserialize)]
        #[serde(untagged)]
        enum Scalar {
            Text(String),
            Int(i64),
            Float(f64),
            Bool(bool),
        }
        Ok(Text(match <Scalar as serde::Deserialize>::deserialize(d)? {
            Scalar::Text(s) => s,
            Scalar::Int(i) => i.to_string(),
            Scalar::Float(f) => f.to_string(),
            Scalar::Bool(b) => b.to_string(),
        }))
    }
}

/// Deserializes a string that YAML may have typed as a number or boolean.
pub(crate) fn stringish<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    <Text as serde::Deserialize>::deserialize(d).map(|t| Some(t.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(octal(0o644), "0644");
        assert_eq!(delta(Duration::from_millis(61_500)), "0:01:01.500000");
        assert_eq!(diff_text(b"a\n"), "a\n");
    }
}
