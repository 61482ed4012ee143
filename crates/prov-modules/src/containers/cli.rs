//! Helpers shared by the container modules: running the docker CLI on the target and reading its
//! JSON, parsing and printing the units docker uses (durations, byte sizes, CPUs).

use crate::util::q;
use prov_core::connection::ExecOutput;
use prov_core::module::{ModuleCtx, ModuleError, Outcome};
use serde::Deserialize;
use std::fmt::Write as _;

/// What a docker command printed: its exit status, the output parsed as JSON when it is JSON.
pub(crate) struct JsonOut {
    /// The raw output.
    pub out: ExecOutput,
    /// The parsed standard output (`None` when empty or not JSON).
    pub json: Option<serde_json::Value>,
}

impl JsonOut {
    /// Whether the command exited non-zero saying that `what` does not exist
    /// (`no such service`, `nothing found in stack`).
    pub fn missing(&self, what: &str) -> bool {
        self.out.rc != 0 && mentions(&self.out, what)
    }
}

/// Whether the command's stdout or stderr mention `text` (case-insensitive).
pub(crate) fn mentions(out: &ExecOutput, text: &str) -> bool {
    let t = text.to_ascii_lowercase();
    out.stderr_str().to_ascii_lowercase().contains(&t) || out.stdout_str().to_ascii_lowercase().contains(&t)
}

/// Runs a command and parses its standard output as one JSON value.
pub(crate) async fn run_json(cx: &ModuleCtx<'_>, cmd: &str) -> Result<JsonOut, ModuleError> {
    let out = cx.exec(cmd).await?;
    let text = out.stdout_str();
    let json = serde_json::from_str(text.trim()).ok();
    Ok(JsonOut { out, json })
}

/// Parses output made of one JSON object per line (`--format '{{json .}}'` over a list).
pub(crate) fn json_lines(out: &ExecOutput) -> Result<Vec<serde_json::Value>, String> {
    out.stdout_str()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_str(l).map_err(|e| format!("unexpected docker output {l:?}: {e}")))
        .collect()
}

/// The message of a command that failed: stderr, else stdout, else the exit status.
pub(crate) fn failure_text(out: &ExecOutput) -> String {
    let err = out.stderr_str();
    let err = err.trim();
    let stdout = out.stdout_str();
    let detail = if err.is_empty() { stdout.trim() } else { err };
    if detail.is_empty() {
        format!("exit status {}", out.rc)
    } else {
        format!("exit status {}: {detail}", out.rc)
    }
}

/// A failed task for a docker command that exited non-zero, with the command fields.
pub(crate) fn command_failed(what: &str, out: &ExecOutput) -> Outcome {
    Outcome { failed: true, msg: Some(format!("{what} failed ({})", failure_text(out))), ..Outcome::ok() }
        .with_exec(out)
}

/// Joins words so that docker's shell-like splitting (`--args`, `--entrypoint`) gives them back.
pub(crate) fn shell_join(words: &[String]) -> String {
    words.iter().map(|w| if w.is_empty() { "''".to_string() } else { q(w) }).collect::<Vec<_>>().join(" ")
}

/// Splits a command line the way a POSIX shell would (quotes and backslashes; no expansions).
pub(crate) fn shell_split(s: &str) -> Result<Vec<String>, String> {
    crate::commands::split_words(s)
}

pub use crate::util::Text;

/// A string or a list of strings (`command: "a b"` or `command: [a, b]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Words {
    /// One string, to be split like a shell would.
    Line(String),
    /// Already split.
    List(Vec<String>),
}

impl<'de> Deserialize<'de> for Words {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum W {
            Line(String),
            List(Vec<Text>),
        }
        Ok(match W::deserialize(d)? {
            W::Line(s) => Words::Line(s),
            W::List(v) => Words::List(v.into_iter().map(|t| t.0).collect()),
        })
    }
}

impl Words {
    /// The words.
    pub fn words(&self) -> Result<Vec<String>, String> {
        match self {
            Words::Line(s) => shell_split(s),
            Words::List(v) => Ok(v.clone()),
        }
    }
}

/// A Go-style duration (`90s`, `1m30s`, `500ms`; a bare number is seconds) in nanoseconds.
pub(crate) fn parse_duration(s: &str) -> Result<i64, String> {
    let s = s.trim();
    if let Ok(n) = s.parse::<f64>() {
        return Ok((n * 1e9).round() as i64);
    }
    let bad = || format!("invalid duration {s:?} (expected e.g. 10s, 1m30s, 500ms)");
    let mut total = 0f64;
    let mut rest = s;
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let num_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).ok_or_else(bad)?;
        if num_len == 0 {
            return Err(bad());
        }
        let n: f64 = rest[..num_len].parse().map_err(|_| bad())?;
        rest = &rest[num_len..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let factor = match &rest[..unit_len] {
            "ns" => 1.0,
            "us" | "µs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return Err(bad()),
        };
        total += n * factor;
        rest = &rest[unit_len..];
    }
    Ok(total.round() as i64)
}

/// A duration in nanoseconds the way Go prints it (`1m30s`, `500ms`, `0s`).
pub(crate) fn fmt_duration(ns: i64) -> String {
    if ns == 0 {
        return "0s".into();
    }
    if ns % 1_000_000_000 != 0 {
        if ns % 1_000_000 == 0 {
            return format!("{}ms", ns / 1_000_000);
        }
        return format!("{ns}ns");
    }
    let mut s = ns / 1_000_000_000;
    let mut out = String::new();
    if s >= 3600 {
        let _ = write!(out, "{}h", s / 3600);
        s %= 3600;
    }
    if s >= 60 || (!out.is_empty() && s > 0) {
        let _ = write!(out, "{}m", s / 60);
        s %= 60;
    }
    if s > 0 || out.is_empty() {
        let _ = write!(out, "{s}s");
    }
    out
}

/// A byte size the way docker reads `--limit-memory` (`256M`, `1g`, `512MiB`, plain bytes; binary units).
pub(crate) fn parse_bytes(s: &str) -> Result<i64, String> {
    let t = s.trim();
    let bad = || format!("invalid size {s:?} (expected e.g. 256M, 1G, 512k or a number of bytes)");
    let num_len = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    if num_len == 0 {
        return Err(bad());
    }
    let n: f64 = t[..num_len].parse().map_err(|_| bad())?;
    let unit = t[num_len..].trim().to_ascii_lowercase();
    let unit = unit.strip_suffix('b').unwrap_or(&unit);
    let unit = unit.strip_suffix('i').unwrap_or(unit);
    let factor: f64 = match unit {
        "" => 1.0,
        "k" => 1024.0,
        "m" => 1024.0 * 1024.0,
        "g" => 1024.0 * 1024.0 * 1024.0,
        "t" => 1024f64.powi(4),
        "p" => 1024f64.powi(5),
        _ => return Err(bad()),
    };
    Ok((n * factor) as i64)
}

/// A byte size for people: `256M` when it is a whole number of MiB, and so on.
pub(crate) fn fmt_bytes(b: i64) -> String {
    for (unit, f) in [("G", 1i64 << 30), ("M", 1 << 20), ("K", 1 << 10)] {
        if b != 0 && b % f == 0 {
            return format!("{}{unit}", b / f);
        }
    }
    b.to_string()
}

/// CPUs (`0.5`, `2`) in nano CPUs.
pub(crate) fn parse_cpus(s: &str) -> Result<i64, String> {
    let n: f64 = s.trim().parse().map_err(|_| format!("invalid number of CPUs {s:?} (expected e.g. 0.5 or 2)"))?;
    if n < 0.0 {
        return Err(format!("invalid number of CPUs {s:?}"));
    }
    Ok((n * 1e9).round() as i64)
}

/// Nano CPUs as a decimal number of CPUs (`0.5`).
pub(crate) fn fmt_cpus(nano: i64) -> String {
    let whole = nano / 1_000_000_000;
    let frac = nano % 1_000_000_000;
    if frac == 0 {
        return whole.to_string();
    }
    let f = format!("{frac:09}");
    format!("{whole}.{}", f.trim_end_matches('0'))
}

/// An image reference compared the way the engine stores it: the digest the engine pinned is
/// ignored unless `wanted` has one, and a missing tag means `latest`.
pub(crate) fn same_image(wanted: &str, current: &str) -> bool {
    fn norm(s: &str, keep_digest: bool) -> String {
        let (name, digest) = match s.split_once('@') {
            Some((n, d)) => (n, Some(d)),
            None => (s, None),
        };
        let last = name.rsplit('/').next().unwrap_or(name);
        let mut out = name.to_string();
        if !last.contains(':') {
            out.push_str(":latest");
        }
        if keep_digest {
            if let Some(d) = digest {
                out.push('@');
                out.push_str(d);
            }
        }
        out
    }
    let keep = wanted.contains('@');
    norm(wanted, keep) == norm(current, keep)
}

/// A YAML-ish block for a diff: `key: value` or `key:` followed by `  - item` lines.
pub(crate) fn yaml_field(out: &mut String, key: &str, value: &FieldValue) {
    match value {
        FieldValue::One(v) => {
            let _ = writeln!(out, "{key}: {v}");
        }
        FieldValue::List(items) if items.is_empty() => {
            let _ = writeln!(out, "{key}: []");
        }
        FieldValue::List(items) => {
            let _ = writeln!(out, "{key}:");
            for i in items {
                let _ = writeln!(out, "  - {i}");
            }
        }
    }
}

/// A value shown in a diff.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum FieldValue {
    /// A scalar.
    One(String),
    /// A list (shown one item a line).
    List(Vec<String>),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("1m30s").unwrap(), 90_000_000_000);
        assert_eq!(parse_duration("500ms").unwrap(), 500_000_000);
        assert_eq!(parse_duration("10").unwrap(), 10_000_000_000);
        assert!(parse_duration("10x").is_err());
        assert_eq!(fmt_duration(90_000_000_000), "1m30s");
        assert_eq!(fmt_duration(3_600_000_000_000), "1h");
        assert_eq!(fmt_duration(5_000_000_000), "5s");
        assert_eq!(fmt_duration(250_000_000), "250ms");
    }

    #[test]
    fn sizes_and_cpus() {
        assert_eq!(parse_bytes("256M").unwrap(), 256 << 20);
        assert_eq!(parse_bytes("1GiB").unwrap(), 1 << 30);
        assert_eq!(parse_bytes("512k").unwrap(), 512 << 10);
        assert_eq!(parse_bytes("1000").unwrap(), 1000);
        assert!(parse_bytes("lots").is_err());
        assert_eq!(fmt_bytes(256 << 20), "256M");
        assert_eq!(parse_cpus("0.5").unwrap(), 500_000_000);
        assert_eq!(fmt_cpus(500_000_000), "0.5");
        assert_eq!(fmt_cpus(2_000_000_000), "2");
    }

    #[test]
    fn images() {
        assert!(same_image("nginx", "nginx:latest@sha256:abc"));
        assert!(same_image("reg:5000/app:1", "reg:5000/app:1"));
        assert!(!same_image("app:1", "app:2"));
        assert!(!same_image("app@sha256:abc", "app:latest@sha256:def"));
    }

    #[test]
    fn words() {
        assert_eq!(shell_split("sh -c 'echo hi; sleep 1' \"a b\"").unwrap(), ["sh", "-c", "echo hi; sleep 1", "a b"]);
        let w: Vec<String> = vec!["a b".into(), "c".into(), "it's".into()];
        assert_eq!(shell_split(&shell_join(&w)).unwrap(), w);
    }
}
