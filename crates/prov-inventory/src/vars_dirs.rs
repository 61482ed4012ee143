//! `group_vars/` and `host_vars/` next to an inventory: `group_vars/web.yml`,
//! `group_vars/web` (YAML without extension), or a directory `group_vars/web/*.yml`.

use crate::yaml::vars;
use prov_core::diag::{Diagnostic, Diagnostics};
use prov_core::inventory::{Inventory, VarsDir};
use prov_core::source::SourceMap;
use std::path::{Path, PathBuf};

/// Reads `dir/group_vars` and `dir/host_vars` into `inv` as variables of `kind`. Files for
/// groups or hosts the inventory does not have make none: their variables wait for a group
/// or host of that name (`group_by`, `add_host`), as in Ansible; for hosts with a warning,
/// since a misspelt name is the likelier cause.
pub fn load(
    dir: &Path,
    kind: VarsDir,
    sources: &SourceMap,
    inv: &mut Inventory,
    warnings: &mut Vec<Diagnostic>,
) -> Result<(), Diagnostics> {
    let mut errors = Diagnostics::default();
    for (sub, is_group) in [("group_vars", true), ("host_vars", false)] {
        let base = dir.join(sub);
        if !base.is_dir() {
            continue;
        }
        for (name, files) in entries(&base) {
            if !is_group && inv.host(&name).is_none() {
                warnings.push(Diagnostic::warning(
                    prov_core::source::Span::NONE,
                    format!(
                        "{}/{name}: no host `{name}` in the inventory (its variables go to a host `add_host` adds by that name)",
                        base.display()
                    ),
                ));
            }
            for f in files {
                let (file, text) = match sources.load(&f) {
                    Ok(x) => x,
                    Err(e) => {
                        errors.push(crate::io_error(&f, &e));
                        continue;
                    }
                };
                let node = match prov_core::yaml::parse_one(file, &text) {
                    Ok((n, w)) => {
                        warnings.extend(w);
                        n
                    }
                    Err(d) => {
                        errors.push(d);
                        continue;
                    }
                };
                let what = format!("{}", f.display());
                if let Some(list) = vars(&node, &mut errors, &what) {
                    for (k, v) in list {
                        if is_group {
                            inv.set_group_dir_var(kind, &name, &k, v);
                        } else {
                            inv.set_host_dir_var(kind, &name, &k, v);
                        }
                    }
                }
            }
        }
    }
    if errors.has_errors() {
        Err(errors)
    } else {
        Ok(())
    }
}

/// `(name, files)` for every entry of a vars directory, sorted by name.
fn entries(base: &Path) -> Vec<(String, Vec<PathBuf>)> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(base) else { return out };
    let mut paths: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for p in paths {
        let fname = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        if fname.starts_with('.') || fname.ends_with('~') {
            continue;
        }
        if p.is_dir() {
            let mut files: Vec<PathBuf> = std::fs::read_dir(&p)
                .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).filter(|f| is_vars_file(f)).collect())
                .unwrap_or_default();
            files.sort();
            out.push((fname, files));
        } else {
            let ext = p.extension().map(|e| e.to_string_lossy().into_owned());
            match ext.as_deref() {
                Some("yml" | "yaml" | "json") => {
                    let stem = p.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
                    out.push((stem, vec![p]));
                }
                None => out.push((fname, vec![p])),
                Some(_) => {}
            }
        }
    }
    out
}

fn is_vars_file(p: &Path) -> bool {
    p.is_file() && matches!(p.extension().and_then(|e| e.to_str()), Some("yml" | "yaml" | "json"))
}
