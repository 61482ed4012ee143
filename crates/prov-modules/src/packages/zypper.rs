//! `zypper`: installs, upgrades and removes packages, patches, patterns and products with
//! `zypper` on the target (community.general.zypper; `ansible.builtin.zypper` redirects to it).
//!
//! Arguments (as in community.general 11.4, shipped with ansible 12.3): `name` (alias `pkg`,
//! required: names, `name=1.0`/`name>=1.0` with a version, `-name` or `~name` to remove and
//! `+name` to install in the same transaction, `.rpm` files or URLs, `*` for every package with
//! `latest` or `dist-upgrade`), `state` (`present`/`installed` (default), `latest`,
//! `absent`/`removed`, `dist-upgrade`), `type` (`package` (default), `patch`, `pattern`,
//! `product`, `srcpackage`, `application`), `extra_args_precommand`, `disable_gpg_check`,
//! `auto_import_keys`, `disable_recommends` (default true), `force`, `force_resolution`,
//! `update_cache` (alias `refresh`), `oldpackage`, `extra_args`, `allow_vendor_change`,
//! `replacefiles`, `clean_deps`, `simple_errors`, `quiet` (default true), `skip_post_errors`.
//!
//! It decides as community.general's module does (observed on the same containers, with
//! Debian's zypper and a repository of test RPMs): `present` asks `zypper search --installed-only`
//! which of the names without a version are installed and installs the others (`zypper install
//! -- +NAME`; a version turns `oldpackage` on); `latest` always runs the install; `absent` removes
//! the installed ones; `*` with `latest` runs `zypper update`, with `dist-upgrade` `zypper
//! dist-upgrade`. A change is what zypper's XML output lists (`to-install`, `to-upgrade`,
//! `to-remove`, ...); check mode runs the same command with `--dry-run`; `update_cache` runs
//! `zypper refresh` first (not in check mode). Registers `name`, `state`, `update_cache`, `rc`,
//! and when a command ran `cmd` (its arguments), `stdout` and `stderr` (only on a change),
//! `diff.prepared` (`installed: a, b`) under `--diff`. Fails as Ansible does: a package zypper
//! does not know ("No provider of '+x' found.", with rc 104), another exit status ("Zypper run
//! command failed with return code N."), `+` with `absent`, a URL or a patch to remove,
//! `dist-upgrade` of named packages.
//!
//! Refused before anything runs: a name that would start with `-` once its prefix is taken off
//! (zypper would read it as an option), and names with control characters. Not supported: hosts
//! with transactional updates (a read-only btrfs root with `transactional-update`, where
//! Ansible runs zypper through `transactional-update run`): the task fails saying so.
//!
//! ```yaml
//! - community.general.zypper: {name: [nginx, git], state: present, update_cache: true}
//! - zypper: {name: "*", state: latest}
//! ```

use crate::util::{with_lines, with_raw_output};
use async_trait::async_trait;
use minijinja::Value;
use prov_core::args::{lenient_bool, StringList};
use prov_core::cmd::Sh;
use prov_core::connection::ExecOutput;
use prov_core::module::{Action, Change, Module, ModuleCtx, ModuleError, Outcome, Plan};
use serde::Deserialize;

fn yes() -> bool {
    true
}

/// Arguments of `zypper`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    /// Packages, URLs or `*`.
    #[serde(alias = "pkg")]
    pub name: StringList,
    /// What to do.
    #[serde(default)]
    pub state: State,
    /// The kind of thing named.
    #[serde(default, rename = "type")]
    pub kind: Kind,
    /// Words before the subcommand (split at white space).
    #[serde(default, deserialize_with = "crate::util::stringish")]
    pub extra_args_precommand: Option<String>,
    /// `--no-gpg-checks`.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub disable_gpg_check: bool,
    /// `--gpg-auto-import-keys`.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub auto_import_keys: bool,
    /// `--no-recommends`.
    #[serde(default = "yes", deserialize_with = "lenient_bool")]
    pub disable_recommends: bool,
    /// `--force`.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub force: bool,
    /// `--force-resolution`.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub force_resolution: bool,
    /// `zypper refresh` first.
    #[serde(default, alias = "refresh", deserialize_with = "lenient_bool")]
    pub update_cache: bool,
    /// `--oldpackage`.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub oldpackage: bool,
    /// Words after the subcommand's options (split at each space).
    #[serde(default, deserialize_with = "crate::util::stringish")]
    pub extra_args: Option<String>,
    /// `--allow-vendor-change` (dist-upgrade).
    #[serde(default, deserialize_with = "lenient_bool")]
    pub allow_vendor_change: bool,
    /// `--replacefiles`.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub replacefiles: bool,
    /// `--clean-deps` (remove).
    #[serde(default, deserialize_with = "lenient_bool")]
    pub clean_deps: bool,
    /// Registers zypper's messages instead of its XML output.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub simple_errors: bool,
    /// `--quiet`.
    #[serde(default = "yes", deserialize_with = "lenient_bool")]
    pub quiet: bool,
    /// Runs the command again when zypper's post-transaction scripts failed (exit 107).
    #[serde(default, deserialize_with = "lenient_bool")]
    pub skip_post_errors: bool,
}

/// `state` of `zypper`.
#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq, Default)]
#[serde(rename_all = "kebab-case")]
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
    /// `zypper dist-upgrade`.
    DistUpgrade,
}

impl State {
    fn as_str(self) -> &'static str {
        match self {
            State::Present => "present",
            State::Installed => "installed",
            State::Latest => "latest",
            State::Absent => "absent",
            State::Removed => "removed",
            State::DistUpgrade => "dist-upgrade",
        }
    }
}

/// `type` of `zypper`.
#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Packages.
    #[default]
    Package,
    /// Patches.
    Patch,
    /// Patterns.
    Pattern,
    /// Products.
    Product,
    /// Source packages.
    Srcpackage,
    /// Applications.
    Application,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Package => "package",
            Kind::Patch => "patch",
            Kind::Pattern => "pattern",
            Kind::Product => "product",
            Kind::Srcpackage => "srcpackage",
            Kind::Application => "application",
        }
    }
}

/// A package as named: `+` install, `-` remove; its version spec (`=1.0`, `>=2`) or empty.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Pkg {
    prefix: char,
    name: String,
    version: String,
}

impl Pkg {
    fn install(&self) -> bool {
        self.prefix == '+'
    }
}

/// `name`'s prefix, name and version spec, as community.general splits them: the shortest name
/// after which an operator and only digits, dots and dashes end the string.
fn split_name_version(spec: &str) -> (Option<char>, String, String) {
    let (prefix, rest) = match spec.chars().next() {
        Some(c @ ('-' | '~' | '+')) => (Some(if c == '~' { '-' } else { c }), &spec[1..]),
        _ => (None, spec),
    };
    for (i, _) in rest.char_indices() {
        let tail = &rest[i..];
        for op in ["<=", ">=", "<", ">", "="] {
            if let Some(v) = tail.strip_prefix(op) {
                if v.chars().all(|c| c.is_ascii_digit() || c == '.' || c == '-') {
                    return (prefix, rest[..i].to_string(), tail.to_string());
                }
            }
        }
    }
    (prefix, rest.to_string(), String::new())
}

/// The packages and the URLs (and `.rpm` files) named.
fn want_state(names: &[String], remove: bool) -> (Vec<Pkg>, Vec<String>) {
    let mut pkgs = Vec::new();
    let mut urls = Vec::new();
    for n in names {
        if n.contains("://") || n.ends_with(".rpm") {
            urls.push(n.clone());
            continue;
        }
        let (prefix, name, version) = split_name_version(n);
        let prefix = prefix.unwrap_or(if remove { '-' } else { '+' });
        pkgs.push(Pkg { prefix, name, version });
    }
    (pkgs, urls)
}

/// What a zypper command's XML listed: name, group (`to-install`, ...), edition, old edition.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Solvable {
    name: String,
    group: String,
    edition: String,
    old: String,
}

/// What zypper's XML output holds for the module: its solvables and its messages' texts.
#[derive(Debug, Default)]
struct Xml {
    solvables: Vec<Solvable>,
    messages: Vec<String>,
}

/// Reads zypper's XML output.
fn parse_xml(stdout: &str) -> Result<Xml, String> {
    let doc = roxmltree::Document::parse(stdout).map_err(|e| format!("Failed to parse zypper xml output: {e}"))?;
    let mut out: indexmap::IndexMap<String, Solvable> = indexmap::IndexMap::new();
    let mut messages = Vec::new();
    for n in doc.descendants().filter(|n| n.is_element()) {
        match n.tag_name().name() {
            "solvable" => {
                let name = n.attribute("name").unwrap_or_default().to_string();
                let s = Solvable {
                    group: n.parent_element().map(|p| p.tag_name().name().to_string()).unwrap_or_default(),
                    edition: n.attribute("edition").unwrap_or_default().to_string(),
                    old: n.attribute("edition-old").unwrap_or_default().to_string(),
                    name,
                };
                // A later solvable of the same name replaces the earlier one (a dict in Ansible's).
                out.insert(s.name.clone(), s);
            }
            "message" => messages.push(n.text().unwrap_or_default().to_string()),
            _ => {}
        }
    }
    Ok(Xml { solvables: out.into_values().collect(), messages })
}

/// One zypper command: the words Ansible registers in `cmd` (the first is zypper's path).
#[derive(Debug, Clone)]
struct ZCmd(Vec<String>);

impl ZCmd {
    /// Each word one argument ([`crate::util::argv`]). The names zypper could read as options come after `--`
    /// (install) or were refused by `check_args` (search, remove); `extra_args` and
    /// `extra_args_precommand` are zypper options by intent.
    fn sh(&self) -> Sh {
        crate::util::argv(Sh::lit("LANG=C LC_ALL=C LC_MESSAGES=C "), &self.0)
    }
}

/// The subcommand's words as community.general's `get_cmd` puts them together.
fn command(a: &Args, zypper: &str, sub: &'static str, check: bool) -> Vec<String> {
    command_with(a, zypper, sub, check, a.oldpackage)
}

/// [`command`] with `oldpackage` as given (a version in a name turns it on).
fn command_with(a: &Args, zypper: &str, sub: &'static str, check: bool, oldpackage: bool) -> Vec<String> {
    let install = matches!(sub, "install" | "update" | "patch" | "dist-upgrade");
    let refresh = sub == "refresh";
    let mut c: Vec<String> = vec![zypper.into(), "--non-interactive".into(), "--xmlout".into()];
    if a.quiet {
        c.push("--quiet".into());
    }
    // Python's truthiness: an empty value adds nothing.
    if let Some(pre) = a.extra_args_precommand.as_deref().filter(|p| !p.is_empty()) {
        c.extend(pre.split_whitespace().map(str::to_string));
    }
    if (install || refresh) && a.disable_gpg_check {
        c.push("--no-gpg-checks".into());
    }
    if install && a.auto_import_keys {
        c.push("--gpg-auto-import-keys".into());
    }
    if sub == "search" {
        c.push("--disable-repositories".into());
    }
    c.push(sub.into());
    if !matches!(sub, "patch" | "dist-upgrade") && !refresh {
        c.extend(["--type".into(), a.kind.as_str().into()]);
    }
    if check && sub != "search" {
        c.push("--dry-run".into());
    }
    if install {
        c.push("--auto-agree-with-licenses".into());
        for (on, flag) in [
            (a.disable_recommends, "--no-recommends"),
            (a.force, "--force"),
            (a.force_resolution, "--force-resolution"),
            (oldpackage, "--oldpackage"),
            (a.replacefiles, "--replacefiles"),
        ] {
            if on {
                c.push(flag.into());
            }
        }
    }
    if sub == "remove" && a.clean_deps {
        c.push("--clean-deps".into());
    }
    if sub == "dist-upgrade" && a.allow_vendor_change {
        c.push("--allow-vendor-change".into());
    }
    if let Some(extra) = a.extra_args.as_deref().filter(|e| !e.is_empty()) {
        c.extend(extra.split(' ').map(str::to_string));
    }
    c
}

/// A run of a command and what its output listed.
struct Ran {
    cmd: Vec<String>,
    out: ExecOutput,
    /// Solvables by name (later runs of a restart add to them).
    solvables: Vec<Solvable>,
}

/// Runs `cmd` and reads its XML as community.general's `parse_zypper_xml` does: `Ok(None)` when
/// nothing was found (exit 104) and `not_found_fails` is false; `Err` with the failed result.
async fn run_xml(
    cx: &ModuleCtx<'_>,
    a: &Args,
    cmd: &ZCmd,
    not_found_fails: bool,
) -> Result<Result<Option<Ran>, Outcome>, ModuleError> {
    let mut solvables: indexmap::IndexMap<String, Solvable> = indexmap::IndexMap::new();
    let mut first = true;
    loop {
        let out = cx.exec(cmd.sh()).await?;
        let stdout = out.stdout_str().to_string();
        let failed = |msg: String, stdout: &str| {
            let o = Outcome::failed(msg).with("rc", out.rc).with("cmd", cmd.0.clone());
            with_lines(with_lines(o, "stdout", stdout), "stderr", &out.stderr_str())
        };
        let xml = match parse_xml(&stdout) {
            Ok(p) => p,
            Err(msg) => return Ok(Err(failed(msg, &stdout))),
        };
        let shown = if a.simple_errors && !xml.messages.is_empty() { xml.messages.join(" \n") } else { stdout.clone() };
        match out.rc {
            104 if not_found_fails => {
                return Ok(Err(failed(xml.messages.last().cloned().unwrap_or_default(), &stdout)));
            }
            104 => return Ok(Ok(None)),
            0 | 102 | 103 | 106 | 107 => {
                for s in xml.solvables {
                    solvables.insert(s.name.clone(), s);
                }
                if first && (out.rc == 103 || (out.rc == 107 && a.skip_post_errors)) {
                    first = false;
                    continue;
                }
                let mut out = out;
                if a.simple_errors {
                    out.stdout = shown.into_bytes();
                }
                let solvables = solvables.into_values().collect();
                return Ok(Ok(Some(Ran { cmd: cmd.0.clone(), out, solvables })));
            }
            rc => return Ok(Err(failed(format!("Zypper run command failed with return code {rc}."), &shown))),
        }
    }
}

/// The names of a result: what community.general registers in `name` (empty names left out).
fn names(a: &Args) -> Vec<String> {
    a.name.0.iter().filter(|n| !n.is_empty()).cloned().collect()
}

/// The registered result once a command ran (or none did).
fn result(a: &Args, ran: Option<&Ran>, diff: bool) -> Outcome {
    let (rc, changed) = match ran {
        Some(r) => (r.out.rc, matches!(r.out.rc, 0 | 102) && !r.solvables.is_empty()),
        None => (0, false),
    };
    if let Some(r) = ran.filter(|_| !matches!(rc, 0 | 102)) {
        // Ansible's fail_json(msg="Zypper run failed.", **retvals): the command's fields alone.
        let o = with_raw_output(Outcome::failed("Zypper run failed.").with("cmd", r.cmd.clone()), &r.out);
        return if diff { o.with("diff", diff_value(ran)) } else { o };
    }
    let mut o = Outcome { changed, ..Outcome::ok() }
        .with("name", names(a))
        .with("state", a.state.as_str())
        .with("update_cache", a.update_cache)
        .with("rc", rc);
    if let Some(r) = ran {
        o = o.with("cmd", r.cmd.clone());
        if changed {
            o = with_raw_output(o, &r.out);
        }
    }
    if diff {
        o = o.with("diff", diff_value(ran));
    }
    o
}

/// The registered `diff` (`--diff`): `{prepared: ...}`.
fn diff_value(ran: Option<&Ran>) -> Value {
    Value::from(std::collections::BTreeMap::from([("prepared".to_string(), Value::from(prepared(ran)))]))
}

/// `diff.prepared`: `installed: a, b`, `removed: ...`, `upgraded: a (1 => 2)`, a line each.
fn prepared(ran: Option<&Ran>) -> String {
    let mut groups: [(&str, Vec<String>); 3] = [("installed", vec![]), ("removed", vec![]), ("upgraded", vec![])];
    for s in ran.map(|r| r.solvables.as_slice()).unwrap_or_default() {
        match s.group.as_str() {
            "to-upgrade" => groups[2].1.push(format!("{} ({} => {})", s.name, s.old, s.edition)),
            "to-install" => groups[0].1.push(s.name.clone()),
            "to-remove" => groups[1].1.push(s.name.clone()),
            _ => {}
        }
    }
    groups.iter().filter(|g| !g.1.is_empty()).map(|(k, v)| format!("{k}: {}\n", v.join(", "))).collect()
}

/// The installed packages among `pkgs` (by name), from `zypper search --installed-only`.
async fn installed(
    cx: &ModuleCtx<'_>,
    a: &Args,
    zypper: &str,
    pkgs: &[&Pkg],
) -> Result<Result<Vec<String>, Outcome>, ModuleError> {
    let mut c = command(a, zypper, "search", false);
    c.extend(["--match-exact".into(), "--details".into(), "--installed-only".into()]);
    c.extend(pkgs.iter().map(|p| p.name.clone()));
    Ok(match run_xml(cx, a, &ZCmd(c), false).await? {
        Ok(Some(r)) => Ok(r.solvables.into_iter().map(|s| s.name).collect()),
        Ok(None) => Ok(Vec::new()),
        Err(failed) => Err(failed),
    })
}

/// What `apply` runs.
pub struct ZypperPlan {
    cmd: Option<ZCmd>,
}

/// The `zypper` module.
#[derive(Debug, Default)]
pub struct Zypper;

impl Zypper {
    /// The command the task comes to (after asking what is installed), or a result.
    async fn decide(
        &self,
        a: &Args,
        cx: &ModuleCtx<'_>,
        zypper: &str,
    ) -> Result<Result<Option<ZCmd>, Outcome>, ModuleError> {
        let names = names(a);
        let all = names == ["*"];
        if all && matches!(a.state, State::Latest | State::DistUpgrade) {
            let sub = match (a.kind, a.state) {
                (Kind::Patch, _) => "patch",
                (_, State::DistUpgrade) => "dist-upgrade",
                _ => "update",
            };
            return Ok(Ok(Some(ZCmd(command(a, zypper, sub, cx.is_check())))));
        }
        if a.state == State::DistUpgrade {
            return Ok(Err(Outcome::failed("Can not dist-upgrade specific packages.")));
        }
        if matches!(a.state, State::Absent | State::Removed) {
            let (pkgs, urls) = want_state(&names, true);
            if pkgs.iter().any(Pkg::install) {
                return Ok(Err(Outcome::failed("Can not combine '+' prefix with state=remove/absent.")));
            }
            if !urls.is_empty() {
                return Ok(Err(Outcome::failed("Can not remove via URL.")));
            }
            if a.kind == Kind::Patch {
                return Ok(Err(Outcome::failed("Can not remove patches.")));
            }
            let refs: Vec<&Pkg> = pkgs.iter().collect();
            let have = match installed(cx, a, zypper, &refs).await? {
                Ok(h) => h,
                Err(failed) => return Ok(Err(failed)),
            };
            let remove: Vec<&Pkg> = pkgs.iter().filter(|p| have.contains(&p.name)).collect();
            if remove.is_empty() {
                return Ok(Ok(None));
            }
            let mut c = command(a, zypper, "remove", cx.is_check());
            c.extend(remove.iter().map(|p| format!("{}{}", p.name, p.version)));
            return Ok(Ok(Some(ZCmd(c))));
        }
        let (mut pkgs, urls) = want_state(&names, false);
        // A version turns oldpackage on, as in community.general.
        let oldpackage = a.oldpackage || pkgs.iter().any(|p| !p.version.is_empty());
        if a.state != State::Latest {
            let unversioned: Vec<&Pkg> = pkgs.iter().filter(|p| p.version.is_empty()).collect();
            let have = if unversioned.is_empty() {
                Vec::new()
            } else {
                match installed(cx, a, zypper, &unversioned).await? {
                    Ok(h) => h,
                    Err(failed) => return Ok(Err(failed)),
                }
            };
            pkgs.retain(|p| p.install() != have.contains(&p.name));
        }
        if pkgs.is_empty() && urls.is_empty() {
            return Ok(Ok(None));
        }
        let mut c = command_with(a, zypper, "install", cx.is_check(), oldpackage);
        c.push("--".into());
        c.extend(urls);
        c.extend(pkgs.iter().map(|p| format!("{}{}{}", p.prefix, p.name, p.version)));
        Ok(Ok(Some(ZCmd(c))))
    }
}

/// Probe: zypper's path (as get_bin_path finds it), and whether the host updates transactionally.
fn probe() -> Sh {
    crate::util::bin_lookup("zypper").then(Sh::lit(concat!(
        "[ -e /usr/sbin/transactional-update ] && awk '$2 == \"/\" && $3 == \"btrfs\" { n = split($4, o, \",\"); ",
        "for (i = 1; i <= n; i++) if (o[i] == \"ro\") print \"transactional\" }' /proc/mounts; true"
    )))
}

#[async_trait]
impl Module for Zypper {
    const NAME: &'static str = "zypper";
    const COLLECTIONS: &'static [&'static str] = &["community.general", "ansible.builtin"];
    type Args = Args;
    type Plan = ZypperPlan;

    fn check_args(a: &Args) -> Result<(), String> {
        for n in &a.name.0 {
            if n.contains('\0') || n.chars().any(char::is_control) {
                return Err(format!("zypper: {n:?} contains a control character"));
            }
            if n.contains("://") || n.ends_with(".rpm") {
                continue;
            }
            let (_, name, _) = split_name_version(n);
            if name.starts_with('-') {
                return Err(format!(
                    "zypper: {n:?} names a package starting with `-`, which zypper would read as an option"
                ));
            }
        }
        Ok(())
    }

    async fn plan(&self, a: &Args, cx: &ModuleCtx<'_>) -> Result<Plan<ZypperPlan>, ModuleError> {
        let out = cx.exec(probe()).await?;
        let text = out.stdout_str();
        if text.lines().any(|l| l == "transactional") {
            return Ok(Plan::Ok(Outcome::failed(
                "this host updates transactionally (transactional-update on a read-only btrfs root): prov does not run zypper there",
            )));
        }
        let Some(zypper) = text.lines().find(|l| l.starts_with('/')).map(str::to_string) else {
            return Ok(Plan::Ok(crate::util::missing_bin(cx, "zypper").await?));
        };
        if a.update_cache && !cx.is_check() {
            let c = ZCmd(command(a, &zypper, "refresh", false));
            match run_xml(cx, a, &c, true).await? {
                Ok(Some(r)) if r.out.rc == 0 => {}
                Ok(Some(r)) => {
                    let o = Outcome::failed("Zypper refresh run failed.").with("cmd", r.cmd);
                    return Ok(Plan::Ok(with_raw_output(o, &r.out)));
                }
                Ok(None) => {}
                Err(failed) => return Ok(Plan::Ok(failed)),
            }
        }
        let cmd = match self.decide(a, cx, &zypper).await? {
            Ok(c) => c,
            Err(failed) => return Ok(Plan::Ok(failed)),
        };
        let diff = cx.mode.diff == prov_core::module::DiffMode::On;
        let Some(cmd) = cmd else { return Ok(Plan::Ok(result(a, None, diff))) };
        if !cx.is_check() {
            return Ok(Plan::Change(Change::new(
                ZypperPlan { cmd: Some(cmd) },
                Action::Modify,
                "package",
                names(a).join(", "),
            )));
        }
        let ran = match run_xml(cx, a, &cmd, true).await? {
            Ok(r) => r,
            Err(failed) => return Ok(Plan::Ok(failed)),
        };
        let o = result(a, ran.as_ref(), diff);
        if !o.changed || o.failed {
            return Ok(Plan::Ok(o));
        }
        let mut ch = Change::new(ZypperPlan { cmd: None }, Action::Modify, "package", names(a).join(", "));
        ch.data = o.data;
        Ok(Plan::Change(ch))
    }

    async fn apply(&self, a: &Args, plan: ZypperPlan, cx: &ModuleCtx<'_>) -> Result<Outcome, ModuleError> {
        let diff = cx.mode.diff == prov_core::module::DiffMode::On;
        let Some(cmd) = plan.cmd else { return Ok(result(a, None, diff)) };
        Ok(match run_xml(cx, a, &cmd, true).await? {
            Ok(ran) => result(a, ran.as_ref(), diff),
            Err(failed) => failed,
        })
    }
}

#[cfg(test)]
mod tests;
