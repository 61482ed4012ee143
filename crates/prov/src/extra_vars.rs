//! `-e` arguments: `k=v k2=v2`, `@file.yml` (YAML or JSON), or an inline JSON/YAML mapping.

use minijinja::Value;
use prov_core::compile::is_python_name;
use prov_core::diag::{DiagKind, Diagnostic, Diagnostics};
use prov_core::source::{SourceMap, Span};
use prov_core::vars::VarMap;
use prov_core::yaml::NodeKind;

/// Parses every `-e` in order; later ones win, like Ansible.
pub fn parse(args: &[String], sources: &SourceMap) -> Result<VarMap, Diagnostics> {
    let mut out = VarMap::new();
    let mut diags = Diagnostics::default();
    for (i, arg) in args.iter().enumerate() {
        match parse_one(i, arg, sources) {
            Ok(vars) => out.extend(vars),
            Err(d) => diags.push(d),
        }
    }
    if diags.has_errors() {
        Err(diags)
    } else {
        Ok(out)
    }
}

fn parse_one(i: usize, arg: &str, sources: &SourceMap) -> Result<VarMap, Diagnostic> {
    let label = format!("-e #{}", i + 1);
    let whole = |msg: String| {
        let file = sources.add(label.clone(), arg.to_string());
        Diagnostic::error(DiagKind::Options, Span { file, start: 0, end: arg.len() as u32, line: 1, col: 1 }, msg)
    };
    let trimmed = arg.trim();
    if trimmed.is_empty() {
        return Err(
            whole("empty -e argument".into()).with_help("use -e key=value, -e @vars.yml or -e '{\"key\": \"value\"}'")
        );
    }
    if let Some(path) = trimmed.strip_prefix('@') {
        let (file, text) = sources.load(std::path::Path::new(path)).map_err(|e| {
            whole(format!("cannot read extra-vars file {path}: {e}"))
                .with_help("the path is relative to the current directory")
        })?;
        return mapping(file, &text, &format!("extra-vars file {path}"));
    }
    if trimmed.starts_with('{') {
        let file = sources.add(label, arg.to_string());
        return mapping(file, arg, "-e value");
    }
    let file = sources.add(label, arg.to_string());
    let (pairs, _) = prov_core::compile::kv::parse_kv(arg, false).map_err(|e| {
        Diagnostic::error(DiagKind::Options, Span { file, start: 0, end: arg.len() as u32, line: 1, col: 1 }, e)
            .with_help("use -e key=value (several separated by spaces), -e @vars.yml or -e '{\"key\": 1}'")
    })?;
    let mut out = VarMap::new();
    for (k, v) in pairs {
        if !is_python_name(&k) {
            let col = arg.find(&k).unwrap_or(0) as u32 + 1;
            return Err(Diagnostic::error(
                DiagKind::Options,
                Span { file, start: col - 1, end: col - 1 + k.len() as u32, line: 1, col },
                format!("`{k}` is not a valid variable name"),
            )
            .with_help("variable names are letters, digits and underscores, not starting with a digit"));
        }
        out.insert(k, Value::from(v));
    }
    Ok(out)
}

fn mapping(file: prov_core::source::FileId, text: &str, what: &str) -> Result<VarMap, Diagnostic> {
    let (node, _warnings) = prov_core::yaml::parse_one(file, text)?;
    let NodeKind::Map(entries) = &node.kind else {
        return Err(Diagnostic::error(DiagKind::Invalid, node.span, format!("{what} must be a mapping of variables"))
            .with_help("write key: value pairs"));
    };
    let mut out = VarMap::new();
    for (k, v) in entries {
        let key = k.scalar_text().unwrap_or_default();
        if !is_python_name(&key) {
            return Err(Diagnostic::error(DiagKind::Invalid, k.span, format!("`{key}` is not a valid variable name")));
        }
        out.insert(key, v.to_value());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        let s = SourceMap::new();
        let v = parse(&["a=1 b='x y'".into(), "{\"c\": [1, 2]}".into()], &s).unwrap();
        assert_eq!(v["a"], Value::from("1"));
        assert_eq!(v["b"], Value::from("x y"));
        assert_eq!(v["c"].len(), Some(2));
        assert!(parse(&["1x=2".into()], &s).is_err());
        assert!(parse(&["{bad".into()], &s).is_err());
        assert!(parse(&["@/nonexistent.yml".into()], &s).is_err());
        assert!(parse(&["novalue".into()], &s).is_err());
    }
}
