//! Ansible's INI inventory format.
//!
//! ```ini
//! host0 ansible_host=10.0.0.5          # before any section: ungrouped
//! [web]
//! web[01:03] ansible_port=2222
//! db1:2200                             # host:port
//! [prod:children]
//! web
//! [prod:vars]
//! env=prod
//! ```
//!
//! Values are typed like Ansible types them (its `literal_eval`): `22` is a number,
//! `True`/`False` booleans, `[1, 2]` a list; anything else is a string.

use crate::range::expand_host_range;
use minijinja::Value;
use prov_core::diag::{did_you_mean, DiagKind, Diagnostic, Diagnostics};
use prov_core::inventory::Inventory;
use prov_core::source::{FileId, Span};

enum Section {
    Hosts(String),
    Vars(String),
    Children(String),
}

/// Parses an INI inventory; every error has the line and column.
pub fn parse(file: FileId, text: &str) -> Result<Inventory, Diagnostics> {
    let mut inv = Inventory::new();
    let mut errors = Diagnostics::default();
    let mut section = Section::Hosts("ungrouped".into());
    let mut offset = 0usize;
    for (idx, raw) in text.split_inclusive('\n').enumerate() {
        let line_no = idx as u32 + 1;
        let start = offset;
        offset += raw.len();
        let line = raw.trim_end_matches(['\n', '\r']);
        let indent = line.len() - line.trim_start().len();
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with(';') {
            continue;
        }
        let span = |col: usize, len: usize| Span {
            file,
            start: (start + col) as u32,
            end: (start + col + len) as u32,
            line: line_no,
            col: line[..col.min(line.len())].chars().count() as u32 + 1,
        };
        if trimmed.starts_with('[') {
            let Some(inner) = trimmed.strip_prefix('[').and_then(|t| t.strip_suffix(']')) else {
                errors.push(
                    Diagnostic::error(
                        DiagKind::Syntax,
                        span(indent, trimmed.len()),
                        "a section header must end with `]`",
                    )
                    .with_help("write `[group]`, `[group:vars]` or `[group:children]`"),
                );
                continue;
            };
            let (name, kind) = match inner.split_once(':') {
                None => (inner, None),
                Some((n, k)) => (n, Some(k)),
            };
            if let Err(msg) = check_group_name(name) {
                errors.push(Diagnostic::error(DiagKind::Invalid, span(indent + 1, name.len()), msg));
                continue;
            }
            section = match kind {
                None => Section::Hosts(name.into()),
                Some("vars") => Section::Vars(name.into()),
                Some("children") => Section::Children(name.into()),
                Some(other) => {
                    errors.push(
                        Diagnostic::error(
                            DiagKind::Unknown,
                            span(indent + 1 + name.len() + 1, other.len()),
                            format!("unknown section kind `:{other}`"),
                        )
                        .with_opt_help(
                            did_you_mean(other, ["vars", "children"])
                                .or(Some("a section is `[group]`, `[group:vars]` or `[group:children]`".into())),
                        ),
                    );
                    continue;
                }
            };
            match &section {
                Section::Hosts(g) | Section::Vars(g) | Section::Children(g) => {
                    inv.add_group(g);
                }
            }
            continue;
        }
        match &section {
            Section::Hosts(group) => {
                let tokens = match split_words(line) {
                    Ok(t) => t,
                    Err((col, msg)) => {
                        errors.push(Diagnostic::error(DiagKind::Syntax, span(col, 1), msg));
                        continue;
                    }
                };
                let Some((host_col, host_tok)) = tokens.first() else { continue };
                let (host_pat, port) = split_port(host_tok);
                let hosts = match expand_host_range(host_pat) {
                    Ok(h) => h,
                    Err(msg) => {
                        errors.push(
                            Diagnostic::error(DiagKind::Invalid, span(*host_col, host_tok.len()), msg)
                                .with_help("host ranges look like `web[01:10]` or `db-[a:c]`"),
                        );
                        continue;
                    }
                };
                let mut vars = Vec::new();
                if let Some(p) = port {
                    match p.parse::<u16>() {
                        Ok(p) => vars.push(("ansible_port".to_string(), Value::from(p))),
                        Err(_) => {
                            errors.push(Diagnostic::error(
                                DiagKind::Invalid,
                                span(*host_col, host_tok.len()),
                                format!("`{p}` is not a port number"),
                            ));
                            continue;
                        }
                    }
                }
                let mut bad = false;
                for (col, tok) in &tokens[1..] {
                    match tok.split_once('=') {
                        Some((k, v)) if !k.is_empty() => vars.push((k.to_string(), typed_value(v))),
                        _ => {
                            errors.push(
                                Diagnostic::error(
                                    DiagKind::Syntax,
                                    span(*col, tok.len()),
                                    format!("expected `key=value` after the host name, found `{tok}`"),
                                )
                                .with_help("host variables are written `host key=value key2=value2`"),
                            );
                            bad = true;
                        }
                    }
                }
                if bad {
                    continue;
                }
                for h in hosts {
                    if group == "ungrouped" {
                        inv.add_host(&h);
                    } else {
                        inv.add_to_group(group, &h);
                    }
                    for (k, v) in &vars {
                        inv.set_host_var(&h, k, v.clone());
                    }
                }
            }
            Section::Vars(group) => match trimmed.split_once('=') {
                Some((k, v)) if !k.trim().is_empty() => {
                    inv.set_group_var(group, k.trim(), typed_value(&unquote(v.trim())));
                }
                _ => errors.push(
                    Diagnostic::error(DiagKind::Syntax, span(indent, trimmed.len()), "expected `key=value`")
                        .with_help(format!("lines in `[{group}:vars]` set group variables: `key=value`")),
                ),
            },
            Section::Children(group) => {
                let child = trimmed.split_whitespace().next().unwrap_or_default();
                if trimmed.split_whitespace().count() > 1 {
                    errors.push(
                        Diagnostic::error(DiagKind::Syntax, span(indent, trimmed.len()), "expected one group name")
                            .with_help(format!("lines in `[{group}:children]` name child groups, one per line")),
                    );
                    continue;
                }
                if let Err(msg) = check_group_name(child) {
                    errors.push(Diagnostic::error(DiagKind::Invalid, span(indent, child.len()), msg));
                    continue;
                }
                if child == group {
                    errors.push(Diagnostic::error(
                        DiagKind::Cycle,
                        span(indent, child.len()),
                        format!("group `{group}` cannot be its own child"),
                    ));
                    continue;
                }
                inv.add_child(group, child);
            }
        }
    }
    if errors.has_errors() {
        Err(errors)
    } else {
        Ok(inv)
    }
}

fn check_group_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("empty group name".into());
    }
    if let Some(c) = name.chars().find(|c| !(c.is_alphanumeric() || *c == '_' || *c == '-' || *c == '.')) {
        return Err(format!("group name `{name}` contains `{c}`; use letters, digits, `_`, `-` and `.`"));
    }
    Ok(())
}

/// `host:port` → (`host`, Some(port)); IPv6 addresses and ranges are left alone.
fn split_port(tok: &str) -> (&str, Option<&str>) {
    if tok.matches(':').count() == 1 && !tok.contains('[') {
        if let Some((h, p)) = tok.rsplit_once(':') {
            return (h, Some(p));
        }
    }
    if let Some(idx) = tok.rfind("]:") {
        if !tok[..idx].contains(':') || tok.starts_with('[') {
            return (&tok[..idx + 1], Some(&tok[idx + 2..]));
        }
    }
    (tok, None)
}

/// Splits a host line into words like a shell would (quotes, `#` comments), with byte columns.
fn split_words(line: &str) -> Result<Vec<(usize, String)>, (usize, String)> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut cur_start = None;
    let mut quote: Option<(char, usize)> = None;
    for (i, c) in line.char_indices() {
        match quote {
            Some((q, _)) if c == q => quote = None,
            Some(_) => cur.push(c),
            None if c == '\'' || c == '"' => {
                cur_start.get_or_insert(i);
                quote = Some((c, i));
            }
            None if c == '#' && cur_start.is_none() => break,
            None if c.is_whitespace() => {
                if let Some(s) = cur_start.take() {
                    out.push((s, std::mem::take(&mut cur)));
                }
            }
            None => {
                cur_start.get_or_insert(i);
                cur.push(c);
            }
        }
    }
    if let Some((_, at)) = quote {
        return Err((at, "unterminated quote".into()));
    }
    if let Some(s) = cur_start {
        out.push((s, cur));
    }
    Ok(out)
}

fn unquote(v: &str) -> String {
    for q in ['"', '\''] {
        if v.len() >= 2 && v.starts_with(q) && v.ends_with(q) {
            return v[1..v.len() - 1].to_string();
        }
    }
    v.to_string()
}

/// Types a value the way Ansible's INI loader does: a Python literal (`ast.literal_eval`)
/// keeps its type, anything else is text.
pub(crate) fn typed_value(v: &str) -> Value {
    crate::pyliteral::literal(v).unwrap_or_else(|| Value::from(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inv(text: &str) -> Inventory {
        parse(FileId(0), text).expect("parses")
    }

    #[test]
    fn hosts_groups_children_vars() {
        let i = inv("h0 a=1\n[web]\nweb[1:2] ansible_user=deploy\ndb:2200\n[all:children]\nweb\n[web:vars]\nflag=True\nname=\"two words\"\n");
        assert_eq!(i.group_hosts("ungrouped"), vec!["h0"]);
        assert_eq!(i.group_hosts("web"), vec!["web1", "web2", "db"]);
        let v = i.host_vars("db");
        assert_eq!(v.get("ansible_port").and_then(|p| p.as_i64()), Some(2200));
        assert_eq!(v.get("flag").map(|f| f.is_true()), Some(true));
        assert_eq!(v.get("name").map(|f| f.to_string()), Some("two words".into()));
        assert_eq!(i.host_vars("h0").get("a").and_then(|a| a.as_i64()), Some(1));
    }

    #[test]
    fn errors_have_positions() {
        let e = parse(FileId(0), "[web]\nweb1 ansible_port\n").expect_err("bad var");
        assert_eq!((e.0[0].span.line, e.0[0].span.col), (2, 6));
        let e = parse(FileId(0), "[web:chidlren]\n").expect_err("bad kind");
        assert_eq!(e.0[0].span.col, 6);
        assert_eq!(e.0[0].help.as_deref(), Some("did you mean `children`?"));
        let e = parse(FileId(0), "[web\n").expect_err("bad header");
        assert_eq!(e.0[0].span.line, 1);
        let e = parse(FileId(0), "[g]\nweb[5:1]\n").expect_err("bad range");
        assert!(e.0[0].message.contains("after its end"));
    }

    #[test]
    fn comments_and_quotes() {
        let i = inv("[g]\nh1 msg='a # b' # trailing\n; comment\n");
        assert_eq!(i.host_vars("h1").get("msg").map(|m| m.to_string()), Some("a # b".into()));
    }
}
