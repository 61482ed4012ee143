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

/// The extensions ansible-core reads vars files with (`YAML_FILENAME_EXTENSIONS`).
const EXTENSIONS: [&str; 3] = ["yml", "yaml", "json"];

/// `(name, files)` for every group or host name a vars directory has files for, sorted by
/// name, as ansible-core's `host_group_vars` finds them: for a name, the first of `NAME`,
/// `NAME.yml`, `NAME.yaml`, `NAME.json` that exists, and only it; a directory gives its files
/// ([`dir_files`]).
fn entries(base: &Path) -> Vec<(String, Vec<PathBuf>)> {
    let Ok(rd) = std::fs::read_dir(base) else { return Vec::new() };
    let mut names: Vec<String> = rd
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .filter(|n| !n.starts_with('.') && !n.ends_with('~'))
        .map(|n| match n.rsplit_once('.') {
            Some((stem, ext)) if EXTENSIONS.contains(&ext) && !stem.is_empty() => stem.to_string(),
            _ => n,
        })
        .collect();
    names.sort();
    names.dedup();
    let mut out = Vec::new();
    for name in names {
        let found = std::iter::once(name.clone())
            .chain(EXTENSIONS.iter().map(|e| format!("{name}.{e}")))
            .map(|n| base.join(n))
            .find(|p| p.exists());
        let Some(found) = found else { continue };
        let files = if found.is_dir() { dir_files(&found, &mut Vec::new()) } else { vec![found] };
        out.push((name, files));
    }
    out
}

/// The vars files of a directory, as ansible-core's `_get_dir_files`: in name order, hidden
/// and backup (`~`) entries left out, subdirectories without an extension read in turn, files
/// without an extension or with a YAML/JSON one.
fn dir_files(dir: &Path, seen: &mut Vec<PathBuf>) -> Vec<PathBuf> {
    // A directory reached again (through a link) is not read again.
    match dir.canonicalize() {
        Ok(c) if seen.contains(&c) => return Vec::new(),
        Ok(c) => seen.push(c),
        Err(_) => return Vec::new(),
    }
    let Ok(rd) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut paths: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    let mut out = Vec::new();
    for p in paths {
        let fname = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        if fname.starts_with('.') || fname.ends_with('~') {
            continue;
        }
        // Python's os.path.splitext: a leading dot is not an extension.
        let ext = fname.rsplit_once('.').map(|(_, e)| e.to_string()).filter(|_| !fname.starts_with('.'));
        if p.is_dir() && ext.is_none() {
            out.extend(dir_files(&p, seen));
        } else if p.is_file() && ext.as_deref().is_none_or(|e| EXTENSIONS.contains(&e)) {
            out.push(p);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// ansible-core 2.19.14's host_group_vars on the same trees: a file without an extension
    /// and a subdirectory's files are read, a hidden file is not; of `all` and `all.yml` only
    /// the first found (`all`) counts; `web.example.com` is a host's file, not a `.com` one.
    #[test]
    fn vars_files_are_found_as_ansible_core_finds_them() {
        let d = tempfile::tempdir().expect("tempdir");
        let put = |p: &str| {
            let path = d.path().join(p);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::fs::write(path, "x: 1\n").expect("write");
        };
        for p in [
            "all/noext",
            "all/sub/n.yml",
            "all/.hidden.yml",
            "all/notes.txt",
            "all/old.yml~",
            "all.yml",
            "web.json",
            "web.yml",
            "web.example.com",
            ".skip.yml",
        ] {
            put(p);
        }
        let rel = |v: Vec<(String, Vec<PathBuf>)>| -> Vec<(String, Vec<String>)> {
            v.into_iter()
                .map(|(n, fs)| {
                    let fs = fs.iter().map(|f| f.strip_prefix(d.path()).unwrap_or(f).display().to_string()).collect();
                    (n, fs)
                })
                .collect()
        };
        let got = rel(entries(d.path()));
        let want: Vec<(String, Vec<String>)> = vec![
            ("all".into(), vec!["all/noext".into(), "all/sub/n.yml".into()]),
            ("web".into(), vec!["web.yml".into()]),
            ("web.example.com".into(), vec!["web.example.com".into()]),
        ];
        assert_eq!(got, want);
    }
}
