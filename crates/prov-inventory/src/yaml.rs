//! Ansible's YAML inventory format.
//!
//! ```yaml
//! all:
//!   vars: {ansible_user: deploy}
//!   hosts:
//!     bastion: {ansible_host: 10.0.0.2}
//!   children:
//!     web:
//!       hosts:
//!         web[01:03]:
//! ```
//!
//! Top-level keys are groups; each group may have `hosts`, `vars` and `children`, nothing else.

use crate::range::expand_host_range;
use prov_core::diag::{did_you_mean, DiagKind, Diagnostic, Diagnostics};
use prov_core::inventory::Inventory;
use prov_core::yaml::{Node, NodeKind};

const GROUP_KEYS: &[&str] = &["hosts", "vars", "children"];

/// Reads a YAML inventory document.
pub fn parse(doc: &Node) -> Result<Inventory, Diagnostics> {
    let mut inv = Inventory::new();
    let mut errors = Diagnostics::default();
    match &doc.kind {
        NodeKind::Null => {}
        NodeKind::Map(entries) => {
            for (k, v) in entries {
                match k.as_str() {
                    Some(name) => group(&mut inv, &mut errors, name, v),
                    None => errors.push(Diagnostic::error(DiagKind::Invalid, k.span, "a group name must be a string")),
                }
            }
        }
        _ => errors.push(
            Diagnostic::error(
                DiagKind::Invalid,
                doc.span,
                format!("a YAML inventory is a mapping of groups, found a {}", doc.type_name()),
            )
            .with_help("start with `all:` and put `hosts:`, `vars:` and `children:` under it"),
        ),
    }
    if errors.has_errors() {
        Err(errors)
    } else {
        Ok(inv)
    }
}

fn group(inv: &mut Inventory, errors: &mut Diagnostics, name: &str, node: &Node) {
    inv.add_group(name);
    let entries = match &node.kind {
        NodeKind::Null => return,
        NodeKind::Map(m) => m,
        _ => {
            errors.push(
                Diagnostic::error(
                    DiagKind::Invalid,
                    node.span,
                    format!("group `{name}` must be a mapping, found a {}", node.type_name()),
                )
                .with_help("a group has `hosts:`, `vars:` and `children:`"),
            );
            return;
        }
    };
    for (k, v) in entries {
        match k.as_str() {
            Some("hosts") => hosts(inv, errors, name, v),
            Some("vars") => match vars(v, errors, &format!("vars of group `{name}`")) {
                Some(list) => {
                    for (key, val) in list {
                        inv.set_group_var(name, &key, val);
                    }
                }
                None => continue,
            },
            Some("children") => match &v.kind {
                NodeKind::Null => {}
                NodeKind::Map(children) => {
                    for (ck, cv) in children {
                        let Some(child) = ck.as_str() else {
                            errors.push(Diagnostic::error(DiagKind::Invalid, ck.span, "a group name must be a string"));
                            continue;
                        };
                        if child == name {
                            errors.push(Diagnostic::error(
                                DiagKind::Cycle,
                                ck.span,
                                format!("group `{name}` cannot be its own child"),
                            ));
                            continue;
                        }
                        inv.add_child(name, child);
                        group(inv, errors, child, cv);
                    }
                }
                _ => errors.push(
                    Diagnostic::error(
                        DiagKind::Invalid,
                        v.span,
                        format!("`children` must be a mapping of groups, found a {}", v.type_name()),
                    )
                    .with_help("write `children:` then one `name:` per line below it"),
                ),
            },
            Some(other) => errors.push(
                Diagnostic::error(DiagKind::Unknown, k.span, format!("unknown key `{other}` in group `{name}`"))
                    .with_opt_help(
                        did_you_mean(other, GROUP_KEYS.iter().copied())
                            .or_else(|| Some("a group has only `hosts:`, `vars:` and `children:`".into())),
                    ),
            ),
            None => errors.push(Diagnostic::error(DiagKind::Invalid, k.span, "keys of a group must be strings")),
        }
    }
}

fn hosts(inv: &mut Inventory, errors: &mut Diagnostics, group: &str, node: &Node) {
    let entries = match &node.kind {
        NodeKind::Null => return,
        NodeKind::Map(m) => m,
        _ => {
            errors.push(
                Diagnostic::error(
                    DiagKind::Invalid,
                    node.span,
                    format!("`hosts` of group `{group}` must be a mapping, found a {}", node.type_name()),
                )
                .with_help("write each host as a key: `hosts:` then `  web1:` (a list is not accepted)"),
            );
            return;
        }
    };
    for (k, v) in entries {
        let Some(pattern) = k.scalar_text().filter(|s| !s.is_empty()) else {
            errors.push(Diagnostic::error(DiagKind::Invalid, k.span, "a host name must be a string"));
            continue;
        };
        let names = match expand_host_range(&pattern) {
            Ok(n) => n,
            Err(msg) => {
                errors.push(
                    Diagnostic::error(DiagKind::Invalid, k.span, msg).with_help("host ranges look like `web[01:10]`"),
                );
                continue;
            }
        };
        let hv = vars(v, errors, &format!("variables of host `{pattern}`")).unwrap_or_default();
        for h in names {
            if group == "ungrouped" {
                inv.add_host(&h);
            } else {
                inv.add_to_group(group, &h);
            }
            for (key, val) in &hv {
                inv.set_host_var(&h, key, val.clone());
            }
        }
    }
}

/// A mapping of variables (null is empty); `None` after reporting an error.
pub(crate) fn vars(node: &Node, errors: &mut Diagnostics, what: &str) -> Option<Vec<(String, minijinja::Value)>> {
    match &node.kind {
        NodeKind::Null => Some(Vec::new()),
        NodeKind::Map(m) => {
            let mut out = Vec::with_capacity(m.len());
            for (k, v) in m {
                match k.scalar_text() {
                    Some(key) if !key.is_empty() => out.push((key, v.to_value())),
                    _ => errors.push(Diagnostic::error(DiagKind::Invalid, k.span, "a variable name must be a string")),
                }
            }
            Some(out)
        }
        _ => {
            errors.push(Diagnostic::error(
                DiagKind::Invalid,
                node.span,
                format!("{what} must be a mapping, found a {}", node.type_name()),
            ));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prov_core::source::FileId;

    fn load(text: &str) -> Result<Inventory, Diagnostics> {
        let (node, _) = prov_core::yaml::parse_one(FileId(0), text).expect("yaml");
        parse(&node)
    }

    #[test]
    fn groups_hosts_children() {
        let i = load(
            "all:\n  vars:\n    u: deploy\n  hosts:\n    bastion:\n      ansible_host: 10.0.0.2\n  children:\n    web:\n      hosts:\n        web[1:2]:\n    prod:\n      children:\n        web:\n",
        )
        .expect("loads");
        assert_eq!(i.group_hosts("prod"), vec!["web1", "web2"]);
        assert_eq!(i.group_hosts("ungrouped"), vec!["bastion"]);
        assert_eq!(i.host_vars("web1").get("u").map(|v| v.to_string()), Some("deploy".into()));
    }

    #[test]
    fn unknown_key_is_an_error_with_hint() {
        let e = load("all:\n  children:\n    web:\n      host:\n        a:\n").expect_err("typo");
        assert_eq!((e.0[0].span.line, e.0[0].span.col), (4, 7));
        assert_eq!(e.0[0].help.as_deref(), Some("did you mean `hosts`?"));
        let e = load("all:\n  hosts:\n    - a\n").expect_err("list");
        assert!(e.0[0].message.contains("must be a mapping"));
    }
}
