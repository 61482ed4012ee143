//! Inventory sources: Ansible INI and YAML files, directories of them, `group_vars/` and
//! `host_vars/` beside them, and comma-separated host lists (`-i 'a,b,'`).
//!
//! Every problem is a [`Diagnostic`] with a span, reported before anything connects. Dynamic
//! sources (a YAML file whose top-level key is `plugin:`) are not read here: they are handed
//! back in [`Loaded::plugins`] for the provider crates, which list hosts from cloud labels.
#![deny(missing_docs)]

mod ini;
mod output;
mod pyliteral;
mod range;
mod vars_dirs;
mod yaml;

pub use output::{graph, list_json};
pub use range::expand_host_range;

use prov_core::diag::{DiagKind, Diagnostic, Diagnostics};
use prov_core::inventory::{Inventory, VarsDir};
use prov_core::source::{SourceMap, Span};
use prov_core::yaml::Node;
use std::path::{Path, PathBuf};

/// A dynamic inventory source (`plugin: gcp_compute`), to be listed by a provider.
#[derive(Debug, Clone)]
pub struct PluginSource {
    /// The file it was read from.
    pub path: PathBuf,
    /// The plugin name (`plugin:` value).
    pub plugin: String,
    /// The whole document, with spans, for the provider to check.
    pub config: Node,
}

/// What [`load`] read.
#[derive(Debug, Clone, Default)]
pub struct Loaded {
    /// Hosts, groups and variables of every static source, merged in command-line order.
    pub inventory: Inventory,
    /// Dynamic sources set aside for providers.
    pub plugins: Vec<PluginSource>,
    /// Warnings (duplicate keys, ...).
    pub warnings: Vec<Diagnostic>,
}

/// File names in an inventory directory that are not inventory sources (Ansible's ignore list).
const IGNORED_EXTENSIONS: &[&str] = &["retry", "pyc", "pyo", "cfg", "md", "rst", "txt", "orig", "ini~", "bak", "swp"];

/// Loads every source in order and merges them; later sources win for variables.
pub fn load(paths: &[PathBuf], sources: &SourceMap) -> Result<Loaded, Diagnostics> {
    let mut loaded = Loaded::default();
    let mut errors = Diagnostics::default();
    for p in paths {
        if let Err(d) = load_one(p, sources, &mut loaded) {
            errors.extend(d);
        }
    }
    if errors.has_errors() {
        return Err(errors);
    }
    loaded.inventory.reconcile();
    Ok(loaded)
}

fn load_one(path: &Path, sources: &SourceMap, out: &mut Loaded) -> Result<(), Diagnostics> {
    let text = path.to_string_lossy();
    if !path.exists() {
        if text.contains(',') {
            let mut inv = Inventory::new();
            for h in text.split(',').map(str::trim).filter(|h| !h.is_empty()) {
                inv.add_host(h);
            }
            inv.set_source(&text);
            out.inventory.merge(inv);
            return Ok(());
        }
        return Err(one(Diagnostic::error(
            DiagKind::Missing,
            Span::NONE,
            format!("inventory `{text}` does not exist"),
        )
        .with_help("pass a file, a directory, or a comma-separated host list such as `-i 'host1,host2,'`")));
    }
    if path.is_dir() {
        load_dir(path, sources, out)
    } else {
        load_file(path, sources, out)?;
        let dir = path.parent().unwrap_or(Path::new("."));
        vars_dirs::load(dir, VarsDir::Inventory, sources, &mut out.inventory, &mut out.warnings)
    }
}

fn load_dir(dir: &Path, sources: &SourceMap, out: &mut Loaded) -> Result<(), Diagnostics> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| one(io_error(dir, &e)))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .filter(|p| {
            let name = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            let ext = p.extension().map(|e| e.to_string_lossy().into_owned()).unwrap_or_default();
            !name.starts_with('.') && !name.ends_with('~') && !IGNORED_EXTENSIONS.contains(&ext.as_str())
        })
        .collect();
    entries.sort();
    let mut errors = Diagnostics::default();
    for p in entries {
        if let Err(d) = load_file(&p, sources, out) {
            errors.extend(d);
        }
    }
    if let Err(d) = vars_dirs::load(dir, VarsDir::Inventory, sources, &mut out.inventory, &mut out.warnings) {
        errors.extend(d);
    }
    if errors.has_errors() {
        Err(errors)
    } else {
        Ok(())
    }
}

fn load_file(path: &Path, sources: &SourceMap, out: &mut Loaded) -> Result<(), Diagnostics> {
    let (file, text) = sources.load(path).map_err(|e| one(io_error(path, &e)))?;
    let ext = path.extension().map(|e| e.to_string_lossy().to_lowercase()).unwrap_or_default();
    let is_yaml = matches!(ext.as_str(), "yml" | "yaml" | "json");
    if is_yaml {
        let (node, warnings) = prov_core::yaml::parse_one(file, &text).map_err(one)?;
        out.warnings.extend(warnings);
        if let Some(plugin) = node.get("plugin") {
            let name = plugin.scalar_text().unwrap_or_default();
            out.plugins.push(PluginSource { path: path.to_path_buf(), plugin: name, config: node });
            return Ok(());
        }
        let mut inv = yaml::parse(&node)?;
        inv.set_source(&absolute(path));
        out.inventory.merge(inv);
    } else {
        let mut inv = ini::parse(file, &text)?;
        inv.set_source(&absolute(path));
        out.inventory.merge(inv);
    }
    Ok(())
}

/// Reads the `group_vars/` and `host_vars/` of a playbook's directory into `inv`, over the
/// inventory's own (Ansible's precedence: playbook group_vars above inventory group_vars of the
/// same group, playbook host_vars above inventory host_vars).
pub fn load_playbook_vars_dirs(
    dir: &Path,
    sources: &SourceMap,
    inv: &mut Inventory,
    warnings: &mut Vec<prov_core::diag::Diagnostic>,
) -> Result<(), Diagnostics> {
    vars_dirs::load(dir, VarsDir::Playbook, sources, inv, warnings)
}

/// Parses the text of an INI inventory (as [`load`] reads a file that is not YAML).
pub fn parse_ini(file: prov_core::source::FileId, text: &str) -> Result<Inventory, Diagnostics> {
    ini::parse(file, text)
}

/// Parses the text of a static YAML inventory.
pub fn parse_yaml(file: prov_core::source::FileId, text: &str) -> Result<Inventory, Diagnostics> {
    let (node, _warnings) = prov_core::yaml::parse_one(file, text).map_err(one)?;
    yaml::parse(&node)
}

/// A source file's absolute path (`inventory_file`).
fn absolute(path: &Path) -> String {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf()).display().to_string()
}

fn io_error(path: &Path, e: &std::io::Error) -> Diagnostic {
    Diagnostic::error(DiagKind::Missing, Span::NONE, format!("cannot read inventory `{}`: {e}", path.display()))
}

fn one(d: Diagnostic) -> Diagnostics {
    Diagnostics(vec![d])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(&p, text).expect("write");
        p
    }

    #[test]
    fn ini_with_group_vars_and_host_vars_dirs() {
        let d = tempfile::tempdir().expect("tempdir");
        let inv = write(
            d.path(),
            "hosts.ini",
            "[web]\nweb[1:2] ansible_port=2222\n\n[db]\ndb1\n\n[prod:children]\nweb\ndb\n\n[prod:vars]\nenv=prod\n",
        );
        write(d.path(), "group_vars/web.yml", "http_port: 80\nenv: web\n");
        write(d.path(), "group_vars/all/main.yml", "ntp: time.local\n");
        write(d.path(), "host_vars/db1.yml", "role: primary\n");
        let l = load(&[inv], &SourceMap::new()).expect("loads");
        let i = &l.inventory;
        assert_eq!(i.group_hosts("prod"), vec!["web1", "web2", "db1"]);
        let v = i.host_vars("web1");
        assert_eq!(v.get("ansible_port").map(|v| v.to_string()), Some("2222".into()));
        assert!(v.get("ansible_port").is_some_and(|p| p.as_i64() == Some(2222)));
        assert_eq!(v.get("env").map(|v| v.to_string()), Some("web".into()), "deeper group wins");
        assert_eq!(v.get("ntp").map(|v| v.to_string()), Some("time.local".into()));
        assert_eq!(i.host_vars("db1").get("role").map(|v| v.to_string()), Some("primary".into()));
        assert_eq!(i.host_vars("db1").get("env").map(|v| v.to_string()), Some("prod".into()));
    }

    #[test]
    fn comma_list_and_missing_file() {
        let l = load(&[PathBuf::from("a.example,b.example,")], &SourceMap::new()).expect("loads");
        assert_eq!(l.inventory.group_hosts("all"), vec!["a.example", "b.example"]);
        let e = load(&[PathBuf::from("/nonexistent/inv.yml")], &SourceMap::new()).expect_err("missing");
        assert!(e.0[0].message.contains("does not exist"));
    }

    // Ansible sets inventory_file/inventory_dir from the first source that lists the host
    // (`a,` lists give the text and no directory).
    #[test]
    fn inventory_file_is_the_first_source_listing_the_host() {
        let d = tempfile::tempdir().expect("tempdir");
        let first = write(d.path(), "one/hosts.ini", "[a]\nh1\n");
        let second = write(d.path(), "two/hosts.yml", "all:\n  hosts:\n    h1:\n    h2:\n");
        let l = load(&[first.clone(), second.clone(), PathBuf::from("h3,")], &SourceMap::new()).expect("loads");
        let src = |h: &str, k: &str| l.inventory.source_vars(h).get(k).map(|v| v.to_string());
        assert_eq!(src("h1", "inventory_file"), Some(first.display().to_string()));
        assert_eq!(src("h1", "inventory_dir"), Some(d.path().join("one").display().to_string()));
        assert_eq!(src("h2", "inventory_file"), Some(second.display().to_string()));
        assert_eq!(src("h3", "inventory_file"), Some("h3,".into()));
        assert_eq!(src("h3", "inventory_dir"), Some("None".into()));
        assert!(l.inventory.host_vars("h1").get("inventory_file").is_none(), "not an inventory variable");
    }

    #[test]
    fn plugin_sources_are_set_aside() {
        let d = tempfile::tempdir().expect("tempdir");
        let p = write(d.path(), "gcp.yml", "plugin: gcp_compute\nprojects: [x]\n");
        let l = load(&[p], &SourceMap::new()).expect("loads");
        assert_eq!(l.plugins.len(), 1);
        assert_eq!(l.plugins[0].plugin, "gcp_compute");
    }

    #[test]
    fn directory_of_sources() {
        let d = tempfile::tempdir().expect("tempdir");
        write(d.path(), "01-static.ini", "[a]\nh1\n");
        write(d.path(), "02-more.yml", "all:\n  children:\n    b:\n      hosts:\n        h2:\n");
        write(d.path(), "README.md", "not an inventory");
        write(d.path(), "group_vars/a.yml", "x: 1\n");
        let l = load(&[d.path().to_path_buf()], &SourceMap::new()).expect("loads");
        // ansible-core 2.19.14 lists h2 first: the YAML file makes `b` a child of `all`,
        // `a` becomes one when the sources are reconciled, after both are read.
        assert_eq!(l.inventory.group_hosts("all"), vec!["h2", "h1"]);
        assert!(l.inventory.host_vars("h1").contains_key("x"));
    }
}
