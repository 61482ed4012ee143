//! `pacman`: installs, upgrades and removes packages and package groups with `pacman` on the
//! target, refreshes its databases and upgrades the system (community.general.pacman;
//! `ansible.builtin.pacman` redirects to it).
//!
//! Arguments (as in community.general 11.4, shipped with ansible 12.3): `name` (aliases `pkg`,
//! `package`: package names, group names, `repo/name`, package files or URLs), `state`
//! (`present`/`installed` (default), `latest`, `absent`/`removed`), `force`, `remove_nosave`,
//! `executable` (default `pacman`), `extra_args`, `update_cache`, `update_cache_extra_args`,
//! `upgrade`, `upgrade_extra_args` (each `*_extra_args` split as a shell splits words), `reason`
//! (`dependency`, `explicit`), `reason_for` (`new` (default), `all`). One of `name`,
//! `update_cache` and `upgrade` is required; `name` and `upgrade` exclude each other.
//!
//! It decides as community.general's module does (observed on the same containers, with
//! Debian's pacman 6.0.2 and a repository of test packages): `update_cache` runs `pacman --sync
//! --refresh` first (not in check mode) and reports a change when `pacman --sync --list` then
//! lists something else (always with `force`); then it reads what is installed, available,
//! grouped, upgradable and why each package is installed (`--query`, `--query --groups`, `--sync
//! --list`, `--sync --groups --groups`, `--query --upgrades`, `--query --explicit`, `--query
//! --deps`); a group name stands for its packages, a name pacman does not list for what `pacman
//! --sync --print-format %n` (then `--upgrade`, for files and URLs) says it is. `present`
//! installs what is missing (`latest`: also what is upgradable) after a `--print-format` dry run
//! that gives the `diff` (`name-version` lines; `name-version-reason` for packages installed
//! or given a `reason`) and `packages`; `reason` is set with
//! `pacman --database --asdeps`/`--asexplicit`; `absent` removes what is installed (`--nodeps
//! --nodeps` with `force`, `--nosave` with `remove_nosave`); `upgrade` runs `pacman --sync
//! --sysupgrade` when something is upgradable. Registers `msg` (the steps' messages, a line
//! each), `packages`, `cache_updated`, `diff` when something changes (registered whether or not
//! `--diff` is on, as the module returns it; shown with `--diff`), and the commands'
//! `stdout`/`stderr` joined, as Ansible registers them. Failures register what the steps before
//! gathered and Ansible's message ("Failed to list package x", "failed to list package(s) to
//! remove", ...) with the failed command's output and, for a command the module runs, `cmd` as
//! a list; a failed query (`pacman --query` on an empty database exits 1) registers `cmd` as one
//! string, `rc`, `stdout`, `stderr`, as ansible-core's `run_command(check_rc=True)` does. Words
//! go to pacman as ansible-core's `run_command` passes them: `$VAR` and a leading `~` expanded
//! on the target. Check mode runs only the queries and the dry runs. Where the module would
//! stop with a Python exception (a `--print-format` line that is not a name and a version, a
//! file or URL pacman names with no output) the task fails with a message saying so.
//!
//! Refused before anything runs: names and an `executable` starting with `-` (pacman would read
//! them as options: the module passes names without `--`, as Ansible does), names and an
//! `executable` with control characters, `*_extra_args` a shell could not split (an unclosed
//! quote, a final backslash).
//!
//! ```yaml
//! - community.general.pacman: {name: [nginx, git], state: present, update_cache: true}
//! - pacman: {upgrade: true}
//! ```

use crate::util::{or_fail, run_failed, with_lines};
use async_trait::async_trait;
use indexmap::IndexMap;
use minijinja::Value;
use prov_core::args::{lenient_bool, StringList};
use prov_core::cmd::Sh;
use prov_core::connection::ExecOutput;
use prov_core::module::{Action, Module, ModuleCtx, ModuleError, Outcome, Plan};
use serde::{Deserialize, Deserializer};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// An argument that counts as given even when null (ansible-core's `mutually_exclusive` and
/// `required_one_of` count the keys written).
fn given<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// A boolean [`given`].
fn given_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<bool>>, D::Error> {
    crate::util::opt_bool_or_null(d).map(Some)
}

fn pacman() -> String {
    "pacman".into()
}

/// Arguments of `pacman`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    /// Packages, groups, `repo/name`, files or URLs.
    #[serde(default, alias = "pkg", alias = "package", deserialize_with = "given")]
    pub name: Option<Option<StringList>>,
    /// What to do.
    #[serde(default)]
    pub state: State,
    /// Removing: `--nodeps --nodeps`; refreshing: `--refresh --refresh`.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub force: bool,
    /// Removing: `--nosave`.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub remove_nosave: bool,
    /// The program (pacman or a compatible helper).
    #[serde(default = "pacman", deserialize_with = "crate::util::py_text")]
    pub executable: String,
    /// Words for the install and remove commands.
    #[serde(default, deserialize_with = "crate::util::stringish")]
    pub extra_args: Option<String>,
    /// `pacman --sync --refresh` first.
    #[serde(default, deserialize_with = "given_bool")]
    pub update_cache: Option<Option<bool>>,
    /// Words for the refresh.
    #[serde(default, deserialize_with = "crate::util::stringish")]
    pub update_cache_extra_args: Option<String>,
    /// `pacman --sync --sysupgrade`.
    #[serde(default, deserialize_with = "given_bool")]
    pub upgrade: Option<Option<bool>>,
    /// Words for the upgrade.
    #[serde(default, deserialize_with = "crate::util::stringish")]
    pub upgrade_extra_args: Option<String>,
    /// The install reason to set.
    #[serde(default)]
    pub reason: Option<Reason>,
    /// Which packages get `reason`.
    #[serde(default)]
    pub reason_for: ReasonFor,
}

/// `state` of `pacman`.
#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// Installed.
    #[default]
    Present,
    /// Same as present.
    Installed,
    /// The newest version.
    Latest,
    /// Not installed.
    Absent,
    /// Same as absent.
    Removed,
}

/// `reason` of `pacman`.
#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Reason {
    /// `--asdeps`.
    Dependency,
    /// `--asexplicit`.
    Explicit,
}

impl Reason {
    fn as_str(self) -> &'static str {
        match self {
            Reason::Dependency => "dependency",
            Reason::Explicit => "explicit",
        }
    }
}

/// `reason_for` of `pacman`.
#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum ReasonFor {
    /// Only packages it installs.
    #[default]
    New,
    /// Every package named.
    All,
}

impl Args {
    fn names(&self) -> &[String] {
        self.name.as_ref().and_then(Option::as_ref).map(|l| l.0.as_slice()).unwrap_or_default()
    }
    fn upgrade(&self) -> bool {
        self.upgrade.flatten().unwrap_or(false)
    }
    fn update_cache(&self) -> bool {
        self.update_cache.flatten().unwrap_or(false)
    }
    fn absent(&self) -> bool {
        matches!(self.state, State::Absent | State::Removed)
    }
}

/// `shlex.split` of an `*_extra_args` argument (empty when not given).
fn words(v: &Option<String>) -> Result<Vec<String>, String> {
    crate::commands::split_words(v.as_deref().unwrap_or(""))
}

/// What the module has to say once it ends, gathered as community.general's `Pacman` gathers it:
/// messages and outputs of each step (joined with newlines), and the result's fields.
#[derive(Debug, Default)]
struct Exit {
    changed: bool,
    msgs: Vec<String>,
    stdouts: Vec<String>,
    stderrs: Vec<String>,
    fields: IndexMap<String, Value>,
    /// The `diff` (before, after), also shown with `--diff`.
    diff: Option<(String, String)>,
}

impl Exit {
    /// `add_exit_infos`: what is empty is left out.
    fn info(&mut self, msg: &str, stdout: &str, stderr: &str) {
        for (list, text) in [(&mut self.msgs, msg), (&mut self.stdouts, stdout), (&mut self.stderrs, stderr)] {
            if !text.is_empty() {
                list.push(text.to_string());
            }
        }
    }

    fn set(&mut self, key: &str, value: impl Into<Value>) {
        self.fields.insert(key.to_string(), value.into());
    }

    fn outcome(self, failed: bool) -> Outcome {
        let msg = self.msgs.join("\n");
        let mut o = if failed { Outcome::failed(msg) } else { Outcome { msg: Some(msg), ..Outcome::ok() } };
        o.changed = self.changed && !failed;
        for (list, key) in [(&self.stdouts, "stdout"), (&self.stderrs, "stderr")] {
            if !list.is_empty() {
                o = with_lines(o, key, &list.join("\n"));
            }
        }
        for (k, v) in self.fields {
            o = o.with(&k, v);
        }
        if let Some((before, after)) = self.diff {
            let d = BTreeMap::from([("before", Value::from(before.as_str())), ("after", Value::from(after.as_str()))]);
            o = o.with("diff", Value::from(d));
            o.diffs.push(prov_core::module::Diff { header: "packages".into(), before, after, skipped: Vec::new() });
        }
        o
    }

    /// Ends the task unchanged with `packages: []` and `msg`.
    fn nothing(mut self, msg: &str) -> Outcome {
        self.set("packages", Vec::<String>::new());
        self.info(msg, "", "");
        self.success()
    }

    /// `fail(msg, stdout, stderr, cmd=..., **kwargs)`.
    fn fail(mut self, msg: &str, cmd: Option<&[String]>, out: &ExecOutput, rc: bool) -> Outcome {
        self.info(msg, &out.stdout_str(), &out.stderr_str());
        if let Some(c) = cmd {
            self.set("cmd", Value::from(c.to_vec()));
        }
        if rc {
            self.set("rc", out.rc);
        }
        self.outcome(true)
    }

    fn success(self) -> Outcome {
        self.outcome(false)
    }
}

/// A package named: its name, what is given to pacman for it, whether that is a file or URL.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Package {
    name: String,
    source: String,
    url: bool,
}

/// What the module reads from the target before it decides.
#[derive(Debug, Default)]
struct Inventory {
    installed: HashMap<String, String>,
    available: HashMap<String, String>,
    groups: HashMap<String, BTreeSet<String>>,
    /// Upgradable packages, in pacman's order: name, current and newest version.
    upgradable: Vec<(String, String, String)>,
    reasons: HashMap<String, &'static str>,
}

impl Inventory {
    fn upgradable(&self, name: &str) -> bool {
        self.upgradable.iter().any(|(n, ..)| n == name)
    }
}

/// `NAME VERSION` lines (`pacman --query`).
fn name_versions(text: &str) -> HashMap<String, String> {
    let mut m = HashMap::new();
    for l in text.lines() {
        if let [n, v] = l.split_whitespace().collect::<Vec<_>>()[..] {
            m.insert(n.to_string(), v.to_string());
        }
    }
    m
}

/// `GROUP PACKAGE` lines (`pacman --sync --groups --groups`).
fn groups(text: &str) -> HashMap<String, BTreeSet<String>> {
    let mut m: HashMap<String, BTreeSet<String>> = HashMap::new();
    for l in text.lines() {
        if let [g, p] = l.split_whitespace().collect::<Vec<_>>()[..] {
            m.entry(g.to_string()).or_default().insert(p.to_string());
        }
    }
    m
}

/// `REPO NAME VERSION ...` lines (`pacman --sync --list`).
fn available(lines: &[String]) -> HashMap<String, String> {
    let mut m = HashMap::new();
    for l in lines {
        let w: Vec<&str> = l.split_whitespace().collect();
        if w.len() >= 3 {
            m.insert(w[1].to_string(), w[2].to_string());
        }
    }
    m
}

/// The first word of each line (`pacman --query --explicit`).
fn first_words(text: &str) -> impl Iterator<Item = &str> {
    text.lines().filter_map(|l| l.split_whitespace().next())
}

/// `pacman --query --upgrades`' output as the module reads it: its lines without a first "Avoid
/// running" line; `Err` with the line that is not `NAME OLD -> NEW`.
fn upgrades(stdout: &str) -> Result<Vec<(String, String, String)>, String> {
    let mut out = Vec::new();
    for l in stdout.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if l.contains("[ignored]") || l.contains("Avoid running") {
            continue;
        }
        match l.split_whitespace().collect::<Vec<_>>()[..] {
            [n, cur, _, new] => out.push((n.to_string(), cur.to_string(), new.to_string())),
            _ => return Err(format!("Invalid line: {l}")),
        }
    }
    Ok(out)
}

/// The module's run on one host, as community.general's `Pacman.run`.
struct Run<'a, 'c> {
    a: &'a Args,
    cx: &'a ModuleCtx<'c>,
    pacman: String,
    /// `extra_args`, `update_cache_extra_args` and `upgrade_extra_args` split into words.
    extra: Vec<String>,
    refresh_extra: Vec<String>,
    upgrade_extra: Vec<String>,
    exit: Exit,
    database: Option<Vec<String>>,
}

impl Run<'_, '_> {
    /// Runs pacman with `cmd` (in the C locale, as the module does).
    async fn exec(&self, cmd: &[String]) -> Result<ExecOutput, ModuleError> {
        self.cx.exec(crate::util::argv(Sh::lit("LC_ALL=C "), cmd)).await
    }

    fn cmd(&self, words: &[&str]) -> Vec<String> {
        std::iter::once(self.pacman.clone()).chain(words.iter().map(|w| w.to_string())).collect()
    }

    /// A query that must succeed (`run_command(check_rc=True)`): its output, or the failed result.
    async fn query(&self, words: &[&str]) -> Result<Result<String, Outcome>, ModuleError> {
        let cmd = self.cmd(words);
        let out = self.exec(&cmd).await?;
        Ok(if out.rc == 0 { Ok(out.stdout_str().to_string()) } else { Err(run_failed(&cmd, &out)) })
    }

    /// `pacman --sync --list`, read once until something changes it.
    async fn database(&mut self) -> Result<Result<&[String], Outcome>, ModuleError> {
        if self.database.is_none() {
            let text = or_fail!(self.query(&["--sync", "--list"]).await, Err);
            self.database = Some(text.lines().map(str::to_string).collect());
        }
        Ok(Ok(self.database.as_deref().unwrap_or_default()))
    }

    async fn run(mut self) -> Result<Outcome, ModuleError> {
        let a = self.a;
        if a.update_cache() {
            if let Err(o) = self.update_database().await? {
                return Ok(o);
            }
            if a.names().is_empty() && !a.upgrade() {
                return Ok(self.exit.success());
            }
        }
        let inv = or_fail!(self.inventory().await);
        if a.upgrade() {
            return Ok(self.upgrade(&inv).await?.unwrap_or_else(|o| o));
        }
        if !a.names().is_empty() {
            let pkgs = or_fail!(self.packages(&inv).await);
            let done = if a.absent() { self.remove(&inv, &pkgs).await? } else { self.install(&inv, &pkgs).await? };
            return Ok(done.unwrap_or_else(|o| o));
        }
        self.exit.info("Nothing to do", "", "");
        Ok(self.exit.success())
    }

    /// `update_package_db`.
    async fn update_database(&mut self) -> Result<Result<(), Outcome>, ModuleError> {
        if self.cx.is_check() {
            self.exit.info("Would have updated the package db", "", "");
            self.exit.changed = true;
            self.exit.set("cache_updated", true);
            return Ok(Ok(()));
        }
        let mut cmd = self.cmd(&["--sync", "--refresh"]);
        cmd.extend(self.refresh_extra.iter().cloned());
        let before = if self.a.force {
            cmd.push("--refresh".into());
            None
        } else {
            let mut d = or_fail!(self.database().await, Err).to_vec();
            d.sort();
            Some(d)
        };
        let out = self.exec(&cmd).await?;
        self.database = None;
        let updated = match before {
            None => true,
            Some(before) => {
                let mut after = or_fail!(self.database().await, Err).to_vec();
                after.sort();
                before != after
            }
        };
        self.exit.set("cache_updated", updated);
        self.exit.changed |= updated;
        if out.rc != 0 {
            let exit = std::mem::take(&mut self.exit);
            return Ok(Err(exit.fail("could not update package db", Some(&cmd), &out, false)));
        }
        self.exit.info("Updated package db", &out.stdout_str(), &out.stderr_str());
        Ok(Ok(()))
    }

    /// `_build_inventory`.
    async fn inventory(&mut self) -> Result<Result<Inventory, Outcome>, ModuleError> {
        let installed = name_versions(&or_fail!(self.query(&["--query"]).await, Err));
        or_fail!(self.query(&["--query", "--groups"]).await, Err);
        let available = available(or_fail!(self.database().await, Err));
        let groups = groups(&or_fail!(self.query(&["--sync", "--groups", "--groups"]).await, Err));
        let cmd = self.cmd(&["--query", "--upgrades"]);
        let out = self.exec(&cmd).await?;
        let mut lines: Vec<&str> = Vec::new();
        let stdout = out.stdout_str();
        for (i, l) in stdout.lines().enumerate() {
            if !(i == 0 && l.contains("Avoid running")) {
                lines.push(l);
            }
        }
        let text = lines.join("\n");
        let upgradable = match out.rc {
            1 if text.is_empty() => Vec::new(),
            0 => match upgrades(&text) {
                Ok(u) => u,
                Err(msg) => {
                    return Ok(Err(std::mem::take(&mut self.exit).fail(&msg, None, &ExecOutput::default(), false)))
                }
            },
            _ => {
                let out = ExecOutput { stdout: text.into_bytes(), ..out };
                let exit = std::mem::take(&mut self.exit);
                return Ok(Err(exit.fail("Couldn't get list of packages available for upgrade", None, &out, true)));
            }
        };
        let mut reasons = HashMap::new();
        for n in first_words(&or_fail!(self.query(&["--query", "--explicit"]).await, Err)) {
            reasons.insert(n.to_string(), "explicit");
        }
        for n in first_words(&or_fail!(self.query(&["--query", "--deps"]).await, Err)) {
            reasons.insert(n.to_string(), "dependency");
        }
        Ok(Ok(Inventory { installed, available, groups, upgradable, reasons }))
    }

    /// `package_list`: the packages `name` stands for.
    async fn packages(&mut self, inv: &Inventory) -> Result<Result<Vec<Package>, Outcome>, ModuleError> {
        let mut out = Vec::new();
        for n in self.a.names().iter().filter(|n| !n.is_empty()) {
            if let Some(members) = inv.groups.get(n) {
                out.extend(members.iter().map(|m| Package { name: m.clone(), source: m.clone(), url: false }));
                continue;
            }
            if inv.available.contains_key(n) || inv.installed.contains_key(n) {
                out.push(Package { name: n.clone(), source: n.clone(), url: false });
                continue;
            }
            let out_sync = self.exec(&self.cmd(&["--sync", "--print-format", "%n", n])).await?;
            let (stdout, url) = if out_sync.rc == 0 {
                (out_sync.stdout_str().to_string(), false)
            } else {
                let cmd = self.cmd(&["--upgrade", "--print-format", "%n", n]);
                let o = self.exec(&cmd).await?;
                if o.rc != 0 {
                    if self.a.absent() {
                        continue;
                    }
                    let exit = std::mem::take(&mut self.exit);
                    return Ok(Err(exit.fail(&format!("Failed to list package {n}"), Some(&cmd), &o, true)));
                }
                let Some(last) = o.stdout_str().lines().last().map(str::to_string) else {
                    let msg = format!("pacman named no package for {n} (the module would stop with an IndexError)");
                    return Ok(Err(std::mem::take(&mut self.exit).fail(&msg, Some(&cmd), &o, true)));
                };
                (last, true)
            };
            out.push(Package { name: stdout.trim().to_string(), source: n.clone(), url });
        }
        Ok(Ok(out))
    }

    /// `install_packages`.
    async fn install(&mut self, inv: &Inventory, pkgs: &[Package]) -> Result<Result<Outcome, Outcome>, ModuleError> {
        let a = self.a;
        let mut sync: Vec<&Package> = Vec::new();
        let mut files: Vec<&Package> = Vec::new();
        let mut set_reason: Vec<String> = Vec::new();
        for p in pkgs {
            if let Some(r) = a.reason {
                let current = inv.reasons.get(&p.name);
                if current.is_none() || (a.reason_for == ReasonFor::All && current != Some(&r.as_str())) {
                    set_reason.push(p.name.clone());
                }
            }
            if p.url {
                files.push(p);
            } else if !inv.installed.contains_key(&p.name) || (a.state == State::Latest && inv.upgradable(&p.name)) {
                sync.push(p);
            }
        }
        if sync.is_empty() && files.is_empty() && set_reason.is_empty() {
            return Ok(Ok(std::mem::take(&mut self.exit).nothing("package(s) already installed")));
        }
        let mut base = self.cmd(&["--noconfirm", "--noprogressbar", "--needed"]);
        base.extend(self.extra.iter().cloned());
        let (mut before, mut after, mut installed) = (Vec::new(), Vec::new(), Vec::<String>::new());
        for (verb, list) in [("--sync", &sync), ("--upgrade", &files)] {
            if list.is_empty() {
                continue;
            }
            let mut cmd = base.clone();
            cmd.extend([verb.to_string(), "--print-format".into(), "%n %v".into()]);
            cmd.extend(list.iter().map(|p| p.source.clone()));
            let out = self.exec(&cmd).await?;
            if out.rc != 0 {
                let exit = std::mem::take(&mut self.exit);
                return Ok(Err(exit.fail("Failed to list package(s) to install", Some(&cmd), &out, false)));
            }
            for l in out.stdout_str().lines().map(str::trim) {
                if l.contains("loading packages") || l.contains("there is nothing to do") || l.contains("Avoid running")
                {
                    continue;
                }
                let [name, version] = l.split_whitespace().collect::<Vec<_>>()[..] else {
                    let exit = std::mem::take(&mut self.exit);
                    let msg = format!(
                        "pacman printed {l:?} where the module reads a name and a version (it would stop with a ValueError)"
                    );
                    return Ok(Err(exit.fail(&msg, Some(&cmd), &out, false)));
                };
                if let Some(v) = inv.installed.get(name) {
                    let reason = inv.reasons.get(name).copied().unwrap_or_default();
                    before.push(format!("{name}-{v}-{reason}"));
                }
                if let (true, Some(r)) = (set_reason.iter().any(|n| n == name), a.reason) {
                    after.push(format!("{name}-{version}-{}", r.as_str()));
                } else if let Some(r) = inv.reasons.get(name) {
                    after.push(format!("{name}-{version}-{r}"));
                } else {
                    after.push(format!("{name}-{version}"));
                }
                installed.push(name.to_string());
            }
        }
        if installed.is_empty() && set_reason.is_empty() {
            // Files pacman found installed already ("there is nothing to do").
            return Ok(Ok(std::mem::take(&mut self.exit).nothing("package(s) already installed")));
        }
        self.exit.changed = true;
        let lines = |mut v: Vec<String>| {
            v.sort();
            if v.is_empty() {
                String::new()
            } else {
                v.join("\n") + "\n"
            }
        };
        self.set_diff(lines(before), lines(after));
        let mut listed: Vec<String> = installed.clone();
        listed.extend(set_reason.iter().filter(|n| !installed.contains(n)).cloned());
        listed.sort();
        let count = listed.len();
        if self.cx.is_check() {
            self.exit.info(&format!("Would have installed {count} packages"), "", "");
            self.exit.set("packages", listed);
            return Ok(Ok(std::mem::take(&mut self.exit).success()));
        }
        for (verb, list) in [("--sync", &sync), ("--upgrade", &files)] {
            if list.is_empty() {
                continue;
            }
            let mut cmd = base.clone();
            cmd.push(verb.to_string());
            cmd.extend(list.iter().map(|p| p.source.clone()));
            or_fail!(self.step(&cmd, "Failed to install package(s)").await, Err);
            self.database = None;
        }
        if let (false, Some(r)) = (set_reason.is_empty(), a.reason) {
            let flag = if r == Reason::Dependency { "--asdeps" } else { "--asexplicit" };
            let mut cmd = self.cmd(&["--noconfirm", "--database", flag]);
            cmd.extend(set_reason.iter().cloned());
            or_fail!(self.step(&cmd, "Failed to install package(s)").await, Err);
        }
        self.exit.set("packages", listed);
        self.exit.info(&format!("Installed {count} package(s)"), "", "");
        Ok(Ok(std::mem::take(&mut self.exit).success()))
    }

    /// Runs a command that changes the host: its output joins the result's, or the task fails
    /// with `msg`.
    async fn step(&mut self, cmd: &[String], msg: &str) -> Result<Result<(), Outcome>, ModuleError> {
        let out = self.exec(cmd).await?;
        if out.rc != 0 {
            return Ok(Err(std::mem::take(&mut self.exit).fail(msg, Some(cmd), &out, false)));
        }
        self.exit.info("", &out.stdout_str(), &out.stderr_str());
        Ok(Ok(()))
    }

    fn set_diff(&mut self, before: String, after: String) {
        self.exit.diff = Some((before, after));
    }

    /// `remove_packages`.
    async fn remove(&mut self, inv: &Inventory, pkgs: &[Package]) -> Result<Result<Outcome, Outcome>, ModuleError> {
        let names: Vec<String> =
            pkgs.iter().filter(|p| inv.installed.contains_key(&p.name)).map(|p| p.name.clone()).collect();
        if names.is_empty() {
            return Ok(Ok(std::mem::take(&mut self.exit).nothing("package(s) already absent")));
        }
        self.exit.changed = true;
        let mut base = self.cmd(&["--remove", "--noconfirm", "--noprogressbar"]);
        base.extend(self.extra.iter().cloned());
        if self.a.force {
            base.extend(["--nodeps".into(), "--nodeps".into()]);
        }
        let mut cmd = base.clone();
        cmd.extend(["--print-format".into(), "%n-%v".into()]);
        cmd.extend(names.iter().cloned());
        let out = self.exec(&cmd).await?;
        if out.rc != 0 {
            return Ok(Err(std::mem::take(&mut self.exit).fail(
                "failed to list package(s) to remove",
                Some(&cmd),
                &out,
                false,
            )));
        }
        let removed: Vec<String> = out.stdout_str().split_whitespace().map(str::to_string).collect();
        let count = removed.len();
        let listed = removed.iter().map(|r| format!("{r}\n")).collect::<String>();
        self.set_diff(if listed.is_empty() { "\n".into() } else { listed }, String::new());
        self.exit.set("packages", removed);
        if self.cx.is_check() {
            self.exit.info(&format!("Would have removed {count} packages"), "", "");
            return Ok(Ok(std::mem::take(&mut self.exit).success()));
        }
        let mut cmd = base;
        if self.a.remove_nosave {
            cmd.push("--nosave".into());
        }
        cmd.extend(names);
        or_fail!(self.step(&cmd, "failed to remove package(s)").await, Err);
        self.database = None;
        self.exit.info(&format!("Removed {count} package(s)"), "", "");
        Ok(Ok(std::mem::take(&mut self.exit).success()))
    }

    /// `upgrade`.
    async fn upgrade(&mut self, inv: &Inventory) -> Result<Result<Outcome, Outcome>, ModuleError> {
        if inv.upgradable.is_empty() {
            self.exit.info("Nothing to upgrade", "", "");
            return Ok(Ok(std::mem::take(&mut self.exit).success()));
        }
        self.exit.changed = true;
        let before = inv.upgradable.iter().map(|(n, cur, _)| format!("{n}-{cur}\n")).collect();
        let after = inv.upgradable.iter().map(|(n, _, new)| format!("{n}-{new}\n")).collect();
        self.set_diff(before, after);
        let names: Vec<String> = inv.upgradable.iter().map(|(n, ..)| n.clone()).collect();
        self.exit.set("packages", names);
        if self.cx.is_check() {
            self.exit.info(&format!("{} packages would have been upgraded", inv.upgradable.len()), "", "");
            return Ok(Ok(std::mem::take(&mut self.exit).success()));
        }
        let mut cmd = self.cmd(&["--sync", "--sysupgrade", "--quiet", "--noconfirm"]);
        cmd.extend(self.upgrade_extra.iter().cloned());
        or_fail!(self.step(&cmd, "Could not upgrade").await, Err);
        self.database = None;
        self.exit.info("System upgraded", "", "");
        Ok(Ok(std::mem::take(&mut self.exit).success()))
    }
}

/// The `pacman` module.
#[derive(Debug, Default)]
pub struct Pacman;

impl Pacman {
    async fn run(&self, a: &Args, cx: &ModuleCtx<'_>) -> Result<Outcome, ModuleError> {
        let path = or_fail!(crate::util::required_bin(cx, &a.executable).await);
        let split = |v| words(v).map_err(ModuleError::Failed);
        Run {
            a,
            cx,
            pacman: path,
            extra: split(&a.extra_args)?,
            refresh_extra: split(&a.update_cache_extra_args)?,
            upgrade_extra: split(&a.upgrade_extra_args)?,
            exit: Exit::default(),
            database: None,
        }
        .run()
        .await
    }
}

#[async_trait]
impl Module for Pacman {
    const NAME: &'static str = "pacman";
    const COLLECTIONS: &'static [&'static str] = &["community.general", "ansible.builtin"];
    type Args = Args;
    type Plan = ();

    fn check_args(a: &Args) -> Result<(), String> {
        if a.name.is_some() && a.upgrade.is_some() {
            return Err("parameters are mutually exclusive: name|upgrade".into());
        }
        if a.name.is_none() && a.update_cache.is_none() && a.upgrade.is_none() {
            return Err("one of the following is required: name, update_cache, upgrade".into());
        }
        for n in a.names() {
            if n.chars().any(char::is_control) {
                return Err(format!("pacman: {n:?} contains a control character"));
            }
            if n.starts_with('-') {
                return Err(format!("pacman: {n:?} starts with `-`, which pacman would read as an option"));
            }
        }
        if a.executable.starts_with('-') || a.executable.chars().any(char::is_control) {
            return Err(format!("pacman: executable {:?} cannot be a program's name", a.executable));
        }
        for (key, v) in [
            ("extra_args", &a.extra_args),
            ("update_cache_extra_args", &a.update_cache_extra_args),
            ("upgrade_extra_args", &a.upgrade_extra_args),
        ] {
            words(v).map_err(|e| format!("pacman: {key}: {e}"))?;
        }
        Ok(())
    }

    async fn plan(&self, a: &Args, cx: &ModuleCtx<'_>) -> Result<Plan<()>, ModuleError> {
        let what = if a.upgrade() { "system".to_string() } else { a.names().join(", ") };
        crate::util::decide_while_acting(cx, Action::Modify, "package", what, self.run(a, cx)).await
    }

    async fn apply(&self, a: &Args, _plan: (), cx: &ModuleCtx<'_>) -> Result<Outcome, ModuleError> {
        self.run(a, cx).await
    }
}

#[cfg(test)]
mod tests;
