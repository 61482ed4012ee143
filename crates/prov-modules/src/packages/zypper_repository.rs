//! `zypper_repository`: a zypper repository added, changed or removed
//! (community.general.zypper_repository; `ansible.builtin.zypper_repository` redirects to it).
//!
//! Arguments (as in community.general 11.4, shipped with ansible 12.3): `name` (the alias),
//! `repo` (its URL, or the path on the target of a `.repo` file holding one repository),
//! `state` (`present` (default) or `absent`), `description`, `disable_gpg_check`,
//! `autorefresh` (alias `refresh`; default true), `priority`, `enabled` (default true),
//! `overwrite_multiple`, `auto_import_keys`, `runrefresh`.
//!
//! It works as community.general's module works (observed on the same containers with Debian's
//! zypper): the repositories are read from `zypper --xmlout repos`; the one with the alias or the
//! URL given is compared with the arguments given (URLs without a final `/`); a missing or
//! different one is added with `zypper addrepo --check` after removing the ones that matched
//! (more than one match fails unless `overwrite_multiple`); `absent` removes it with `zypper
//! removerepo`; `runrefresh` (and `auto_import_keys` after an add) runs `zypper refresh --force
//! -r ALIAS`; `name: '*'` or `repo: '*'` with `runrefresh` refreshes every repository. Registers
//! `repodata` (`url`, `alias`, `name`, `priority`, `enabled`, `gpgcheck`, `autorefresh` as the
//! module compares them) and `state`; a failed zypper command fails the task with its `rc`,
//! `stdout` and `stderr`. Like Ansible's, the module does not support check mode: the task is
//! skipped there (its message names the module `community.general.zypper_repository` whatever
//! name the task used; Ansible's repeats the task's).
//!
//! Refused before anything runs: a `.repo` file given by URL (download it first, with
//! `get_url`). A `.repo` file whose values use `%` (configparser's interpolation) fails the task.
//!
//! ```yaml
//! - community.general.zypper_repository:
//!     name: grafana
//!     repo: https://rpm.grafana.com
//!     description: grafana
//!     runrefresh: true
//! ```

use crate::util::{run_failed, with_raw_output};
use async_trait::async_trait;
use minijinja::Value;
use prov_core::args::lenient_bool;
use prov_core::cmd::Sh;
use prov_core::connection::ExecOutput;
use prov_core::module::{Action, Change, Module, ModuleCtx, ModuleError, Outcome, Plan};
use serde::Deserialize;
use std::collections::BTreeMap;

fn yes() -> bool {
    true
}

/// Arguments of `zypper_repository`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    /// The repository's alias.
    #[serde(default, deserialize_with = "crate::util::stringish")]
    pub name: Option<String>,
    /// Its URL, or a `.repo` file.
    #[serde(default, deserialize_with = "crate::util::stringish")]
    pub repo: Option<String>,
    /// `present` or `absent`.
    #[serde(default)]
    pub state: State,
    /// Its name (zypper's `--name`).
    #[serde(default, deserialize_with = "crate::util::stringish")]
    pub description: Option<String>,
    /// `--no-gpgcheck`.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub disable_gpg_check: bool,
    /// `--refresh`.
    #[serde(default = "yes", alias = "refresh", deserialize_with = "lenient_bool")]
    pub autorefresh: bool,
    /// `--priority`.
    #[serde(default)]
    pub priority: Option<i64>,
    /// `--disable` when false.
    #[serde(default = "yes", deserialize_with = "lenient_bool")]
    pub enabled: bool,
    /// Replace every repository that matches.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub overwrite_multiple: bool,
    /// `--gpg-auto-import-keys` on refresh.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub auto_import_keys: bool,
    /// `zypper refresh --force`.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub runrefresh: bool,
}

/// `state` of `zypper_repository`.
#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// Added.
    #[default]
    Present,
    /// Removed.
    Absent,
}

impl State {
    fn as_str(self) -> &'static str {
        match self {
            State::Present => "present",
            State::Absent => "absent",
        }
    }
}

/// A repository as the module compares them (`repodata`); the flags are `"1"`/`"0"` text.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct RepoData {
    url: Option<String>,
    alias: Option<String>,
    name: Option<String>,
    priority: Option<i64>,
    enabled: String,
    gpgcheck: String,
    autorefresh: String,
}

impl RepoData {
    fn value(&self) -> Value {
        let opt = |v: &Option<String>| v.clone().map_or(Value::from(()), Value::from);
        let m: BTreeMap<&str, Value> = BTreeMap::from([
            ("url", opt(&self.url)),
            ("alias", opt(&self.alias)),
            ("name", opt(&self.name)),
            ("priority", self.priority.map_or(Value::from(()), Value::from)),
            ("enabled", Value::from(self.enabled.clone())),
            ("gpgcheck", Value::from(self.gpgcheck.clone())),
            ("autorefresh", Value::from(self.autorefresh.clone())),
        ]);
        Value::from(m)
    }
}

/// A repository zypper lists: the attributes the module reads, then `url`.
type Listed = Vec<(&'static str, String)>;

const REPO_OPTS: [&str; 6] = ["alias", "name", "priority", "enabled", "autorefresh", "gpgcheck"];

fn get<'a>(r: &'a Listed, k: &str) -> &'a str {
    r.iter().find(|(n, _)| *n == k).map_or("", |(_, v)| v.as_str())
}

/// The repositories of `zypper --xmlout repos`.
fn parse_repos(xml: &str) -> Result<Vec<Listed>, String> {
    let doc = roxmltree::Document::parse(xml).map_err(|e| format!("zypper's XML: {e}"))?;
    let mut out = Vec::new();
    for r in doc.descendants().filter(|n| n.has_tag_name("repo")) {
        let mut l: Listed = REPO_OPTS.iter().map(|o| (*o, r.attribute(*o).unwrap_or_default().to_string())).collect();
        let url = r
            .children()
            .find(|c| c.has_tag_name("url"))
            .and_then(|u| u.text())
            .map(str::to_string)
            .unwrap_or_else(|| r.attribute("metalink").unwrap_or_default().to_string());
        l.push(("url", url));
        out.push(l);
    }
    Ok(out)
}

/// Python's `repr` of a string.
fn py_repr(s: &str) -> String {
    let q = if s.contains('\'') && !s.contains('"') { '"' } else { '\'' };
    let mut o = String::from(q);
    for c in s.chars() {
        match c {
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            '\r' => o.push_str("\\r"),
            '\t' => o.push_str("\\t"),
            c if c == q => {
                o.push('\\');
                o.push(c);
            }
            c => o.push(c),
        }
    }
    o.push(q);
    o
}

/// Python's `repr` of the matched repositories (a list of dicts), as the error shows them.
fn repos_repr(repos: &[&Listed]) -> String {
    let one = |r: &Listed| {
        let items: Vec<String> = r.iter().map(|(k, v)| format!("{}: {}", py_repr(k), py_repr(v))).collect();
        format!("{{{}}}", items.join(", "))
    };
    format!("[{}]", repos.iter().map(|r| one(r)).collect::<Vec<_>>().join(", "))
}

/// Whether the listed repository differs from the arguments, as the module compares them (the
/// given values only, in zypper's order with the URL last; URLs without a final `/`). `subst`
/// replaces `$releasever`/`$basearch`; without it the URL is not compared.
fn differs(listed: &Listed, want: &RepoData, subst: Option<&dyn Fn(&str) -> String>) -> bool {
    let wanted: [(&str, Option<String>); 7] = [
        ("url", want.url.clone()),
        ("alias", want.alias.clone()),
        ("name", want.name.clone()),
        ("priority", want.priority.filter(|p| *p != 0).map(|p| p.to_string())),
        ("enabled", Some(want.enabled.clone())),
        ("gpgcheck", Some(want.gpgcheck.clone())),
        ("autorefresh", Some(want.autorefresh.clone())),
    ];
    for (k, v) in listed {
        let Some(Some(old)) = wanted.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()) else { continue };
        if old.is_empty() {
            continue;
        }
        let (mut old, mut new) = (old, v.clone());
        if *k == "url" {
            let Some(subst) = subst else { continue };
            old = subst(&old).trim_end_matches('/').to_string();
            new = subst(&new).trim_end_matches('/').to_string();
        }
        if old != new {
            return true;
        }
    }
    false
}

/// The one repository of a `.repo` file: its section and items, as configparser reads them
/// (keys in lower case, `=` or `:`, `#`/`;` comment lines, a line indented deeper than its key's
/// continuing the value, `[DEFAULT]` items under every section's own).
fn parse_repo_file(text: &str) -> Result<(String, Vec<(String, String)>), String> {
    const BAD: &str = "Invalid format, .repo file could not be parsed";
    type Section = (String, Vec<(String, String)>, std::collections::HashSet<String>);
    let mut sections: Vec<Section> = Vec::new();
    let mut names = std::collections::HashSet::new();
    let mut defaults: Vec<(String, String)> = Vec::new();
    let mut in_default = false;
    // The indentation of the current key's line, when a value may continue.
    let mut key_indent: Option<usize> = None;
    for raw in text.lines() {
        let line = raw.trim_end();
        let t = line.trim_start();
        let indent = line.len() - t.len();
        if t.is_empty() || t.starts_with('#') || t.starts_with(';') {
            continue;
        }
        let items = if in_default { Some(&mut defaults) } else { sections.last_mut().map(|s| &mut s.1) };
        if let (Some(k), Some(items)) = (key_indent, items) {
            if indent > k {
                if let Some((_, v)) = items.last_mut() {
                    v.push('\n');
                    v.push_str(t);
                    continue;
                }
            }
        }
        if let Some(name) = t.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
            key_indent = None;
            if name == "DEFAULT" {
                in_default = true;
                continue;
            }
            in_default = false;
            if !names.insert(name.to_string()) {
                return Err(BAD.into());
            }
            sections.push((name.to_string(), Vec::new(), std::collections::HashSet::new()));
            continue;
        }
        let Some(cut) = t.find(['=', ':']) else { return Err(BAD.into()) };
        let key = t[..cut].trim().to_lowercase();
        let value = t[cut + 1..].trim().to_string();
        key_indent = Some(indent);
        if in_default {
            defaults.retain(|(k, _)| *k != key);
            defaults.push((key, value));
            continue;
        }
        let Some(sec) = sections.last_mut() else { return Err(BAD.into()) };
        if !sec.2.insert(key.clone()) {
            return Err(BAD.into());
        }
        sec.1.push((key, value));
    }
    if sections.len() != 1 {
        return Err(format!("Invalid format, .repo file contains {} repositories, expected 1", sections.len()));
    }
    let (name, mut items, keys) = sections.remove(0);
    items.extend(defaults.into_iter().filter(|(k, _)| !keys.contains(k)));
    if items.iter().any(|(_, v)| v.contains('%')) {
        return Err(format!(
            "the .repo file's values use `%` (configparser's interpolation), which prov does not read: {name}"
        ));
    }
    Ok((name, items))
}

/// `zypper --quiet --non-interactive ARGS` (zypper's path first), each word quoted.
fn zypper(path: &str, args: &[String]) -> Sh {
    shown(path, args).iter().skip(1).fold(Sh::quoted(path), |c, w| c.word(Sh::quoted(w)))
}

/// The same command's words, as Ansible shows it (`cmd`).
fn shown(path: &str, args: &[String]) -> Vec<String> {
    let mut words = vec![path.to_string(), "--quiet".into(), "--non-interactive".into()];
    words.extend(args.iter().cloned());
    words
}

/// What `apply` does: remove the listed repositories (by URL), then add; or remove one.
pub struct RepoPlan {
    zypper: String,
    data: RepoData,
    remove_urls: Vec<String>,
    add: Option<Vec<String>>,
    remove: Option<String>,
    refresh: Option<String>,
    auto_import_keys: bool,
}

/// The `zypper_repository` module.
#[derive(Debug, Default)]
pub struct ZypperRepository;

fn unchanged(data: &RepoData, state: State) -> Outcome {
    Outcome::ok().with("repodata", data.value()).with("state", state.as_str())
}

/// Runs zypper with `check_rc`: `Err` holds the failed result.
async fn run_checked(
    cx: &ModuleCtx<'_>,
    path: &str,
    args: &[String],
) -> Result<Result<ExecOutput, Outcome>, ModuleError> {
    let out = cx.exec(zypper(path, args)).await?;
    if out.rc != 0 {
        return Ok(Err(run_failed(&shown(path, args), &out)));
    }
    Ok(Ok(out))
}

fn refresh_args(auto_import_keys: bool, alias: Option<&str>) -> Vec<String> {
    let mut a: Vec<String> = Vec::new();
    if auto_import_keys {
        a.push("--gpg-auto-import-keys".into());
    }
    a.extend(["refresh".into(), "--force".into()]);
    if let Some(alias) = alias {
        a.extend(["-r".into(), alias.into()]);
    }
    a
}

/// The rpm query Ansible substitutes `$releasever` and `$basearch` with.
async fn os_release_field(cx: &ModuleCtx<'_>, field: &'static str) -> Result<Result<String, Outcome>, ModuleError> {
    let args: Vec<String> = ["rpm", "-q", "--qf", field, "-f", "/etc/os-release"].map(String::from).to_vec();
    let out = cx.exec(args.iter().skip(1).fold(Sh::lit("rpm"), |c, w| c.word(Sh::quoted(w)))).await?;
    if out.rc != 0 {
        return Ok(Err(run_failed(&args, &out)));
    }
    Ok(Ok(out.stdout_str().to_string()))
}

#[async_trait]
impl Module for ZypperRepository {
    const NAME: &'static str = "zypper_repository";
    const COLLECTIONS: &'static [&'static str] = &["community.general", "ansible.builtin"];
    type Args = Args;
    type Plan = RepoPlan;

    fn check_args(a: &Args) -> Result<(), String> {
        // zypper reads them where it reads its options (`addrepo URL ALIAS`, `removerepo X`).
        for (k, v) in [("name", &a.name), ("repo", &a.repo), ("description", &a.description)] {
            if let Some(v) = v.as_deref() {
                if (k != "description" && v.starts_with('-')) || v.chars().any(char::is_control) {
                    return Err(format!("zypper_repository: `{k}` {v:?} starts with `-` or holds a control character"));
                }
            }
        }
        if let Some(r) = &a.repo {
            if r.ends_with(".repo") && (r.starts_with("http://") || r.starts_with("https://")) {
                return Err(format!(
                    "zypper_repository: a .repo file given by URL ({r}) is not supported by prov; download it with get_url first"
                ));
            }
        }
        Ok(())
    }

    async fn plan(&self, a: &Args, cx: &ModuleCtx<'_>) -> Result<Plan<RepoPlan>, ModuleError> {
        if cx.is_check() {
            let mut o = Outcome { skipped: true, ..Outcome::ok() };
            o.msg = Some("remote module (community.general.zypper_repository) does not support check mode".into());
            return Ok(Plan::Ok(o));
        }
        let path = crate::util::or_fail!(crate::util::required_bin(cx, "zypper").await, Plan::Ok);
        let version = cx.exec(Sh::quoted(&path).word(Sh::lit("--version"))).await?;
        let v = version.stdout_str();
        let new_enough = |min: [u64; 3]| {
            let parts: Vec<u64> = v
                .strip_prefix("zypper ")
                .and_then(|r| r.split_whitespace().next())
                .map(|s| s.split('.').map(|p| p.parse().unwrap_or(0)).collect())
                .unwrap_or_else(|| vec![1, 0]);
            version.rc == 0 && parts.as_slice() >= min.as_slice()
        };
        let mut data = RepoData {
            url: a.repo.clone(),
            alias: a.name.clone(),
            name: a.description.clone(),
            priority: a.priority,
            enabled: if a.enabled { "1" } else { "0" }.into(),
            gpgcheck: if a.disable_gpg_check { "0" } else { "1" }.into(),
            autorefresh: if a.autorefresh { "1" } else { "0" }.into(),
        };
        let mut auto_import_keys = a.auto_import_keys;
        let (repo, alias) = (a.repo.as_deref().filter(|r| !r.is_empty()), a.name.as_deref().filter(|n| !n.is_empty()));
        if repo == Some("*") || alias == Some("*") {
            if a.runrefresh {
                if let Err(failed) = run_checked(cx, &path, &refresh_args(auto_import_keys, None)).await? {
                    return Ok(Plan::Ok(failed));
                }
                return Ok(Plan::Ok(Outcome::ok().with("runrefresh", true)));
            }
            return Ok(Plan::Ok(Outcome::failed("repo=* can only be used with the runrefresh option.")));
        }
        if a.state == State::Present && repo.is_none() {
            return Ok(Plan::Ok(Outcome::failed("Module option state=present requires repo")));
        }
        if a.state == State::Absent && repo.is_none() && alias.is_none() {
            return Ok(Plan::Ok(Outcome::failed("Alias or repo parameter required when state=absent")));
        }
        let repo_file = repo.is_some_and(|r| r.ends_with(".repo"));
        if repo_file && alias.is_some() {
            return Ok(Plan::Ok(Outcome::failed(
                "Incompatible option: 'name'. Do not use name when adding .repo files",
            )));
        }
        if !repo_file && alias.is_none() && a.state == State::Present {
            return Ok(Plan::Ok(Outcome::failed("Name required when adding non-repo files.")));
        }
        let mut alias = alias.map(str::to_string);
        if let (true, Some(file)) = (repo_file, repo) {
            let Some(bytes) = cx.get(file).await? else {
                return Ok(Plan::Ok(Outcome::failed("Error opening .repo file from provided path")));
            };
            let (section, items) = match parse_repo_file(&String::from_utf8_lossy(&bytes)) {
                Ok(p) => p,
                Err(msg) => return Ok(Plan::Ok(Outcome::failed(msg))),
            };
            let item = |k: &str| items.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
            let Some(baseurl) = item("baseurl") else {
                return Ok(Plan::Ok(Outcome::failed("No baseurl found in .repo file")));
            };
            alias = Some(section.clone());
            data.alias = Some(section);
            data.url = Some(baseurl);
            auto_import_keys |= item("gpgkey").is_some();
            for (k, slot) in [("name", &mut data.name)] {
                if let Some(v) = item(k) {
                    *slot = Some(v);
                }
            }
            for (k, slot) in [
                ("enabled", &mut data.enabled),
                ("autorefresh", &mut data.autorefresh),
                ("gpgcheck", &mut data.gpgcheck),
            ] {
                if let Some(v) = item(k) {
                    *slot = v;
                }
            }
        }

        // The repositories zypper has, and the ones this one matches (by alias, then by URL).
        let listed_out = cx.exec(zypper(&path, &["--xmlout".into(), "repos".into()])).await?;
        let listed = match listed_out.rc {
            0 => parse_repos(&listed_out.stdout_str()).map_err(ModuleError::Failed)?,
            6 => Vec::new(),
            _ => {
                let cmd = shown(&path, &["--xmlout".into(), "repos".into()]).join(" ");
                return Ok(Plan::Ok(with_raw_output(
                    Outcome::failed(format!("Failed to execute \"{cmd}\"")),
                    &listed_out,
                )));
            }
        };
        let mut matched: Vec<&Listed> = Vec::new();
        for (kw, want) in [("alias", &data.alias), ("url", &data.url)] {
            for r in &listed {
                if want.as_deref() == Some(get(r, kw)) && !matched.contains(&r) {
                    matched.push(r);
                }
            }
        }
        let (exists, changes) = match matched.len() {
            0 => (false, false),
            // Everything but the URL first: Ansible asks rpm for `$releasever` only when it
            // comes to the URL.
            1 if differs(matched[0], &data, None) => (true, true),
            1 => {
                let url_vars = |s: &str| s.contains("$releasever") || s.contains("$basearch");
                let mut releasever = None;
                let mut basearch = None;
                let old = data.url.clone().unwrap_or_default();
                let new = get(matched[0], "url").to_string();
                if !old.is_empty() && (url_vars(&old) || url_vars(&new)) {
                    for (var, field, slot) in
                        [("$releasever", "%{version}", &mut releasever), ("$basearch", "%{arch}", &mut basearch)]
                    {
                        if old.contains(var) || new.contains(var) {
                            match os_release_field(cx, field).await? {
                                Ok(v) => *slot = Some(v),
                                Err(failed) => return Ok(Plan::Ok(failed)),
                            }
                        }
                    }
                }
                let subst = |s: &str| {
                    let mut s = s.to_string();
                    if let Some(r) = &releasever {
                        s = s.replace("$releasever", r);
                    }
                    if let Some(b) = &basearch {
                        s = s.replace("$basearch", b);
                    }
                    s
                };
                (true, differs(matched[0], &data, Some(&subst)))
            }
            _ if a.overwrite_multiple => (true, true),
            _ => {
                let msg = format!(
                    "More than one repo matched \"{}\": \"{}\". Use overwrite_multiple to allow more than one repo to be overwritten",
                    data.url.as_deref().map_or("None".to_string(), str::to_string),
                    repos_repr(&matched)
                );
                return Ok(Plan::Ok(Outcome::failed(msg)));
            }
        };
        let shortname = alias.clone().or_else(|| a.repo.clone()).unwrap_or_default();
        let mut plan = RepoPlan {
            zypper: path.clone(),
            data: data.clone(),
            remove_urls: Vec::new(),
            add: None,
            remove: None,
            refresh: None,
            auto_import_keys,
        };
        match a.state {
            State::Present if exists && !changes => {
                if a.runrefresh {
                    if let Err(failed) =
                        run_checked(cx, &path, &refresh_args(auto_import_keys, Some(&shortname))).await?
                    {
                        return Ok(Plan::Ok(failed));
                    }
                }
                return Ok(Plan::Ok(unchanged(&data, a.state)));
            }
            State::Present => {
                let mut add: Vec<String> = vec!["addrepo".into(), "--check".into()];
                if let Some(n) = data.name.as_deref().filter(|n| !n.is_empty()) {
                    add.extend(["--name".into(), n.into()]);
                }
                if let Some(p) = data.priority.filter(|p| *p != 0) {
                    if new_enough([1, 12, 25]) {
                        add.extend(["--priority".into(), p.to_string()]);
                    }
                }
                if data.enabled == "0" {
                    add.push("--disable".into());
                }
                if new_enough([1, 6, 2]) {
                    add.push(if data.gpgcheck == "1" { "--gpgcheck" } else { "--no-gpgcheck" }.into());
                }
                if data.autorefresh == "1" {
                    add.push("--refresh".into());
                }
                // A `.repo` file's repository is added from its baseurl and section, as Ansible
                // adds it (the file itself is never given to zypper).
                let url = data.url.clone().unwrap_or_default();
                let with_alias = !url.ends_with(".repo");
                add.push(url);
                if with_alias {
                    add.push(data.alias.clone().unwrap_or_default());
                }
                plan.remove_urls = matched.iter().map(|r| get(r, "url").to_string()).collect();
                plan.add = Some(add);
                if a.runrefresh || auto_import_keys {
                    plan.refresh = Some(shortname.clone());
                }
            }
            State::Absent if !exists => return Ok(Plan::Ok(unchanged(&data, a.state))),
            State::Absent => plan.remove = Some(shortname.clone()),
        }
        let action = if a.state == State::Present { Action::Modify } else { Action::Delete };
        Ok(Plan::Change(Change::new(plan, action, "zypper repository", shortname)))
    }

    async fn apply(&self, a: &Args, p: RepoPlan, cx: &ModuleCtx<'_>) -> Result<Outcome, ModuleError> {
        let out = if let Some(add) = &p.add {
            for url in &p.remove_urls {
                if let Err(failed) = run_checked(cx, &p.zypper, &["removerepo".into(), url.clone()]).await? {
                    return Ok(failed);
                }
            }
            let out = cx.exec(zypper(&p.zypper, add)).await?;
            if out.rc == 0 {
                if let Some(alias) = &p.refresh {
                    if let Err(failed) =
                        run_checked(cx, &p.zypper, &refresh_args(p.auto_import_keys, Some(alias))).await?
                    {
                        return Ok(failed);
                    }
                }
            }
            out
        } else {
            let alias = p.remove.clone().unwrap_or_default();
            match run_checked(cx, &p.zypper, &["removerepo".into(), alias]).await? {
                Ok(out) => out,
                Err(failed) => return Ok(failed),
            }
        };
        if out.rc == 0 {
            return Ok(Outcome { changed: true, ..unchanged(&p.data, a.state) });
        }
        let o = Outcome::failed(format!("Zypper failed with rc {}", out.rc))
            .with("repodata", p.data.value())
            .with("state", a.state.as_str());
        Ok(with_raw_output(o, &out))
    }
}

#[cfg(test)]
mod tests;
