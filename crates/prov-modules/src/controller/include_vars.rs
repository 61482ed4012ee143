//! `include_vars`: loads variables from YAML or JSON files on the controller into the host's
//! variables (ansible.builtin.include_vars). Runs on the controller.
//!
//! Arguments (as in ansible-core 2.19):
//! - the file as the free form (`include_vars: vars/debian.yml`) or as `file`; or `dir`, a
//!   directory whose files are loaded in name order (a later file's value wins), with `depth`
//!   (levels, default 0: all), `files_matching` (a regular expression the file name must
//!   match), `ignore_files` (names left out), `extensions` (default `json`, `yaml`, `yml`)
//!   and `ignore_unknown_extensions` (default false: another extension fails the task).
//! - `name`: put the variables under this one name instead of at the top level.
//! - `hash_behaviour`: only `replace`, Ansible's default.
//!
//! A relative name is looked for as Ansible does: in a role, its `vars/` then the role's
//! directory; then the playbook's `vars/` and the playbook's directory. The name may be a
//! template (`"{{ ansible_os_family }}.yml"`), rendered per host.
//!
//! The variables have Ansible's precedence: above play, role, block and task `vars`, below
//! `set_fact` and registered values (a `set_fact` of the same name wins, before or after);
//! values are templated when they are read, not when the file is loaded; they stay for the
//! rest of the run and show in `hostvars`. Registers `ansible_facts` (the variables) and
//! `ansible_included_var_files` (absolute paths). Never changed.
//!
//! Differences from Ansible: `hash_behaviour: merge` is refused. A literal file's top-level
//! names count as defined for `prov validate`'s undefined-variable check; when a play has an
//! `include_vars` whose names cannot be known before the run (a templated file name, `dir`),
//! that check is not made for the playbook.

use async_trait::async_trait;
use indexmap::IndexMap;
use minijinja::value::ValueKind;
use minijinja::Value;
use prov_core::module::{Module, ModuleCtx, ModuleError, Outcome, Plan, RunsOn};
use prov_core::source::FileId;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// Arguments of `include_vars` (ansible.builtin.include_vars).
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Args {
    /// The file, as the free form.
    #[serde(default, rename = "_raw_params")]
    pub raw: Option<String>,
    /// The file.
    #[serde(default)]
    pub file: Option<String>,
    /// A directory whose files are loaded, in name order.
    #[serde(default)]
    pub dir: Option<String>,
    /// Put the variables under this one name instead of at the top level.
    #[serde(default)]
    pub name: Option<String>,
    /// How deep under `dir` (0: no limit).
    #[serde(default)]
    pub depth: u32,
    /// Only files whose name matches this regular expression (under `dir`).
    #[serde(default)]
    pub files_matching: Option<String>,
    /// File names left out (under `dir`).
    #[serde(default)]
    pub ignore_files: Vec<String>,
    /// The extensions of the files loaded from `dir`.
    #[serde(default = "default_extensions")]
    pub extensions: Vec<String>,
    /// Skip files of other extensions under `dir` instead of failing.
    #[serde(default, deserialize_with = "prov_core::args::lenient_bool")]
    pub ignore_unknown_extensions: bool,
    /// Only `replace` (Ansible's default).
    #[serde(default)]
    pub hash_behaviour: Option<String>,
}

fn default_extensions() -> Vec<String> {
    ["json", "yaml", "yml"].iter().map(|s| s.to_string()).collect()
}

/// The `include_vars` module.
#[derive(Debug, Default)]
pub struct IncludeVars;

#[async_trait]
impl Module for IncludeVars {
    const NAME: &'static str = "include_vars";
    const FREE_FORM: Option<&'static str> = Some("_raw_params");
    const RUNS_ON: RunsOn = RunsOn::Controller;
    type Args = Args;
    type Plan = ();

    fn check_args(args: &Args) -> Result<(), String> {
        let file = args.raw.is_some() || args.file.is_some();
        if file && args.dir.is_some() {
            return Err("`file` and `dir` are mutually exclusive".into());
        }
        if args.raw.is_some() && args.file.is_some() {
            return Err("give the file once: as the free form or as `file`".into());
        }
        if let Some(h) = &args.hash_behaviour {
            if h != "replace" {
                return Err(format!("hash_behaviour `{h}` is not supported by prov (only `replace`)"));
            }
        }
        if let Some(n) = &args.name {
            if !prov_core::compile::is_identifier(n) {
                return Err(format!("`{n}` is not a valid variable name"));
            }
        }
        Ok(())
    }

    async fn plan(&self, args: &Args, cx: &ModuleCtx<'_>) -> Result<Plan<()>, ModuleError> {
        Ok(Plan::Ok(match load(args, cx) {
            Ok(o) => o,
            Err(msg) => Outcome::failed(msg),
        }))
    }

    async fn apply(&self, _: &Args, _: (), _: &ModuleCtx<'_>) -> Result<Outcome, ModuleError> {
        Ok(Outcome::ok())
    }
}

/// Reads the files and returns the outcome that sets their variables.
fn load(args: &Args, cx: &ModuleCtx<'_>) -> Result<Outcome, String> {
    let mut files = Vec::new();
    if let Some(dir) = &args.dir {
        let root = cx.files.find("vars", dir)?;
        if !root.is_dir() {
            return Err(format!("{} directory does not exist", root.display()));
        }
        let matching = match &args.files_matching {
            Some(p) => Some(regex::Regex::new(p).map_err(|e| format!("files_matching: {e}"))?),
            None => None,
        };
        walk(&root, args, matching.as_ref(), 1, &mut files)?;
    } else {
        let name = args.raw.as_ref().or(args.file.as_ref()).ok_or("give a file or a dir")?;
        files.push(cx.files.find("vars", name).map_err(|e| format!("Could not find or access '{name}': {e}"))?);
    }
    let mut vars: IndexMap<String, Value> = IndexMap::new();
    let mut loaded = Vec::new();
    for f in &files {
        for (k, v) in read_vars(f)? {
            vars.insert(k, v);
        }
        let abs = std::path::absolute(f).unwrap_or_else(|_| f.clone());
        loaded.push(Value::from(abs.display().to_string()));
    }
    let set: Vec<(String, Value)> = match &args.name {
        Some(n) => vec![(n.clone(), Value::from_pairs(vars.clone()))],
        None => vars.into_iter().collect(),
    };
    let mut o = Outcome::ok().with("ansible_included_var_files", Value::from(loaded));
    o.data.insert("ansible_facts".into(), Value::from_pairs(set.iter().cloned()));
    o.included_vars = set;
    Ok(o)
}

/// The files of `dir` to load, in name order (ansible-core walks it sorted), down to
/// `args.depth` levels (0: all).
fn walk(
    dir: &Path,
    args: &Args,
    matching: Option<&regex::Regex>,
    level: u32,
    out: &mut Vec<PathBuf>,
) -> Result<(), String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    let mut names: Vec<PathBuf> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
    names.sort();
    let (files, dirs): (Vec<PathBuf>, Vec<PathBuf>) = names.into_iter().partition(|p| !p.is_dir());
    for f in files {
        let name = f.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        if args.ignore_files.contains(&name) || matching.is_some_and(|m| !m.is_match(&name)) {
            continue;
        }
        let ext = f.extension().map(|e| e.to_string_lossy().into_owned()).unwrap_or_default();
        if !args.extensions.contains(&ext) {
            if args.ignore_unknown_extensions {
                continue;
            }
            return Err(format!("{} does not have a valid extension: {}", f.display(), args.extensions.join(", ")));
        }
        out.push(f);
    }
    if args.depth == 0 || level < args.depth {
        for d in dirs {
            walk(&d, args, matching, level + 1, out)?;
        }
    }
    Ok(())
}

/// The top-level mapping of a vars file (YAML or JSON), in file order.
fn read_vars(path: &Path) -> Result<Vec<(String, Value)>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let (docs, _) =
        prov_core::yaml::parse(FileId(u32::MAX), &text).map_err(|d| format!("{}: {}", path.display(), d.message))?;
    let Some(doc) = docs.into_iter().next() else { return Ok(Vec::new()) };
    let v = doc.to_value();
    match v.kind() {
        ValueKind::None | ValueKind::Undefined => Ok(Vec::new()),
        ValueKind::Map => {
            let mut out = Vec::new();
            for k in v.try_iter().map_err(|e| e.to_string())? {
                let val = v.get_item(&k).map_err(|e| e.to_string())?;
                out.push((k.to_string(), val));
            }
            Ok(out)
        }
        _ => Err(format!("{} must be stored as a dictionary/hash", path.display())),
    }
}
