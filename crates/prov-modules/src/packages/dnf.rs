//! `dnf` (also as `yum`, which ansible-core redirects to it): installs, upgrades and removes RPM
//! packages with the `dnf` command on the target.
//!
//! Arguments (as in Ansible): `name` (alias `pkg`; names, `name-version`, NEVRAs, globs,
//! provides such as `/usr/bin/vi`), `state` (`present`/`installed`, `latest`, `absent`/`removed`;
//! default `present`, `absent` with `autoremove`), `enablerepo`, `disablerepo`, `conf_file`,
//! `disable_gpg_check`, `installroot`, `releasever`, `autoremove`, `exclude`, `skip_broken`,
//! `update_cache` (alias `expire-cache`), `update_only`, `disable_excludes`, `sslverify`,
//! `allow_downgrade`, `install_weak_deps`, `allowerasing`, `nobest`, `best`, `cacheonly`,
//! `lock_timeout`, `validate_certs`, `install_repoquery`, `use_backend` (accepted), `list`
//! (`installed`, `available`, `updates`, `repos` or a spec: the packages with `name`, `arch`,
//! `epoch`, `release`, `version`, `repo`, `envra`, `nevra`, `yumstate`, from `dnf repoquery`).
//! Refused before the run: `security`, `bugfix`, `download_only`, `download_dir`, `enable_plugin`,
//! `disable_plugin`, group and module specs (`@name`), `.rpm` files and URLs.
//!
//! It decides as ansible-core's module does: `present` installs what is not installed (a name
//! that is installed in any version is left alone; a versioned spec older than the installed
//! version is skipped unless `allow_downgrade`); `latest` upgrades what is installed and
//! installs the rest; `absent` removes, without the dependencies a removed package pulled in
//! unless `autoremove`. Registers `msg` ("Nothing to do", "", or check mode's), `results`
//! (`Installed: NEVRA` and `Removed: NEVRA`, read from the RPM database before and after the
//! transaction; in check mode, from dnf's plan), `rc`, and on failure `failures` ("No package X
//! available."). prov runs `latest`'s installs and upgrades as two transactions where
//! ansible-core runs one.
//!
//! ```yaml
//! - dnf: { name: [nginx, git], state: present }
//! ```

use async_trait::async_trait;
use minijinja::Value;
use prov_core::args::{lenient_bool, lenient_opt_bool, StringList};
use prov_core::cmd::{Cmd, Sh};
use prov_core::module::{Action, Change, Module, ModuleCtx, ModuleError, Outcome, Plan};
use serde::Deserialize;
use std::collections::BTreeSet;

fn yes() -> bool {
    true
}

fn root() -> String {
    "/".into()
}

/// `state`.
#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// Installed.
    #[serde(alias = "installed")]
    Present,
    /// Upgraded.
    Latest,
    /// Removed.
    #[serde(alias = "removed")]
    Absent,
}

/// yumdnf's `listify_comma_sep_strings_in_list`: an item holding commas is split there, its
/// parts stripped and put at the end.
fn listify(items: Vec<String>) -> Vec<String> {
    let (split, mut out): (Vec<String>, Vec<String>) = items.into_iter().partition(|n| n.contains(','));
    out.extend(split.iter().flat_map(|n| n.split(',').map(|p| p.trim().to_string())));
    out
}

/// `name` as ansible-core's yumdnf reads it: each item stripped, then [`listify`]; a lone empty
/// name is no name.
fn specs<'de, D: serde::Deserializer<'de>>(d: D) -> Result<StringList, D::Error> {
    let items = StringList::deserialize(d)?.0.iter().map(|n| n.trim().to_string()).collect();
    let mut out = listify(items);
    if out == [""] {
        out.clear();
    }
    Ok(StringList(out))
}

/// `enablerepo`, `disablerepo` and `exclude` as ansible-core's yumdnf reads them ([`listify`],
/// without stripping first), less the empty patterns, which its dnf module skips for the
/// repositories (and which prov cannot pass to the dnf command for `exclude` either).
fn patterns<'de, D: serde::Deserializer<'de>>(d: D) -> Result<StringList, D::Error> {
    let mut out = listify(StringList::deserialize(d)?.0);
    out.retain(|p| !p.is_empty());
    Ok(StringList(out))
}

/// Arguments of `dnf`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    /// Package specs, as ansible-core's yumdnf reads them (see [`specs`]).
    #[serde(default, alias = "pkg", deserialize_with = "specs")]
    pub name: StringList,
    /// What to do (`None`: present, or absent with autoremove).
    #[serde(default)]
    pub state: Option<State>,
    /// Repositories enabled for the operation (see [`patterns`]).
    #[serde(default, deserialize_with = "patterns")]
    pub enablerepo: StringList,
    /// Repositories disabled for the operation (see [`patterns`]).
    #[serde(default, deserialize_with = "patterns")]
    pub disablerepo: StringList,
    /// A dnf configuration file.
    #[serde(default)]
    pub conf_file: Option<String>,
    /// No GPG check.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub disable_gpg_check: bool,
    /// Another root.
    #[serde(default = "root")]
    pub installroot: String,
    /// The release version.
    #[serde(default, deserialize_with = "crate::util::stringish")]
    pub releasever: Option<String>,
    /// Remove unneeded dependencies.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub autoremove: bool,
    /// Packages left out (see [`patterns`]).
    #[serde(default, deserialize_with = "patterns")]
    pub exclude: StringList,
    /// Skip packages with broken dependencies.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub skip_broken: bool,
    /// Refresh the metadata first.
    #[serde(default, alias = "expire-cache", deserialize_with = "lenient_bool")]
    pub update_cache: bool,
    /// `latest` only upgrades.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub update_only: bool,
    /// Refused: security updates.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub security: bool,
    /// Refused: bugfix updates.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub bugfix: bool,
    /// Refused.
    #[serde(default)]
    pub enable_plugin: StringList,
    /// Refused.
    #[serde(default)]
    pub disable_plugin: StringList,
    /// Excludes to disable (`all`, `main`, a repository id).
    #[serde(default)]
    pub disable_excludes: Option<String>,
    /// Accepted (dnf's own TLS settings apply).
    #[serde(default = "yes", deserialize_with = "lenient_bool")]
    pub validate_certs: bool,
    /// TLS verification of the repositories.
    #[serde(default = "yes", deserialize_with = "lenient_bool")]
    pub sslverify: bool,
    /// Install an older version than the installed one.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub allow_downgrade: bool,
    /// Accepted (dnf only).
    #[serde(default = "yes", deserialize_with = "lenient_bool")]
    pub install_repoquery: bool,
    /// Refused.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub download_only: bool,
    /// Seconds to wait for dnf's lock (dnf waits as it does).
    #[serde(default)]
    pub lock_timeout: Option<i64>,
    /// Install weak dependencies.
    #[serde(default = "yes", deserialize_with = "lenient_bool")]
    pub install_weak_deps: bool,
    /// Refused.
    #[serde(default)]
    pub download_dir: Option<String>,
    /// Allow removing packages to resolve dependencies.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub allowerasing: bool,
    /// `--nobest`.
    #[serde(default, deserialize_with = "lenient_opt_bool")]
    pub nobest: Option<bool>,
    /// `--best`.
    #[serde(default, deserialize_with = "lenient_opt_bool")]
    pub best: Option<bool>,
    /// Only the cache.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub cacheonly: bool,
    /// Accepted: `auto`, `dnf`, `dnf4`, `yum`, `yum4` (`dnf5` is refused).
    #[serde(default)]
    pub use_backend: Option<String>,
    /// List packages or repositories instead (`installed`, `available`, `updates`, `repos`, a spec).
    #[serde(default)]
    pub list: Option<String>,
}

impl Args {
    fn state(&self) -> State {
        self.state.unwrap_or(if self.autoremove { State::Absent } else { State::Present })
    }
}

/// The `dnf` module.
#[derive(Debug, Default)]
pub struct Dnf;

/// One installed package: name, epoch, version, release, arch.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Pkg {
    name: String,
    epoch: String,
    version: String,
    release: String,
    arch: String,
}

impl Pkg {
    /// As dnf writes a package: `name-[epoch:]version-release.arch`.
    fn nevra(&self) -> String {
        if self.epoch.is_empty() || self.epoch == "0" {
            format!("{}-{}-{}.{}", self.name, self.version, self.release, self.arch)
        } else {
            format!("{}-{}:{}-{}.{}", self.name, self.epoch, self.version, self.release, self.arch)
        }
    }
}

/// rpm's version comparison (`rpmvercmp`): -1, 0 or 1.
fn rpmvercmp(a: &str, b: &str) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    if a == b {
        return Ordering::Equal;
    }
    let (mut a, mut b) = (a.as_bytes(), b.as_bytes());
    loop {
        let skip =
            |s: &[u8]| s.iter().position(|c| c.is_ascii_alphanumeric() || *c == b'~' || *c == b'^').unwrap_or(s.len());
        a = &a[skip(a)..];
        b = &b[skip(b)..];
        // Tilde sorts before everything, even the end.
        match (a.first() == Some(&b'~'), b.first() == Some(&b'~')) {
            (true, true) => {
                a = &a[1..];
                b = &b[1..];
                continue;
            }
            (true, false) => return Ordering::Less,
            (false, true) => return Ordering::Greater,
            _ => {}
        }
        // Caret sorts after the end but before anything else.
        match (a.first() == Some(&b'^'), b.first() == Some(&b'^')) {
            (true, true) => {
                a = &a[1..];
                b = &b[1..];
                continue;
            }
            (true, false) => return if b.is_empty() { Ordering::Greater } else { Ordering::Less },
            (false, true) => return if a.is_empty() { Ordering::Less } else { Ordering::Greater },
            _ => {}
        }
        if a.is_empty() || b.is_empty() {
            break;
        }
        let numeric = a[0].is_ascii_digit();
        let run = |s: &[u8]| {
            s.iter()
                .position(|c| if numeric { !c.is_ascii_digit() } else { !c.is_ascii_alphabetic() })
                .unwrap_or(s.len())
        };
        let (ra, rb) = (run(a), run(b));
        let (sa, sb) = (&a[..ra], &b[..rb]);
        if sb.is_empty() {
            // Different kinds: a number is newer than letters.
            return if numeric { Ordering::Greater } else { Ordering::Less };
        }
        let ord = if numeric {
            let ta = sa.iter().skip_while(|c| **c == b'0').copied().collect::<Vec<u8>>();
            let tb = sb.iter().skip_while(|c| **c == b'0').copied().collect::<Vec<u8>>();
            ta.len().cmp(&tb.len()).then_with(|| ta.cmp(&tb))
        } else {
            sa.cmp(sb)
        };
        if ord != Ordering::Equal {
            return ord;
        }
        a = &a[ra..];
        b = &b[rb..];
    }
    match (a.is_empty(), b.is_empty()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Less,
        _ => Ordering::Greater,
    }
}

/// Compares `[epoch:]version[-release]` with an installed package, as dnf compares EVRs (a
/// missing release matches any).
fn evr_cmp(evr: &str, p: &Pkg) -> std::cmp::Ordering {
    let (epoch, rest) = match evr.split_once(':') {
        Some((e, r)) if e.chars().all(|c| c.is_ascii_digit()) => (e, r),
        _ => ("0", evr),
    };
    let (version, release) = match rest.rsplit_once('-') {
        Some((v, r)) => (v, Some(r)),
        None => (rest, None),
    };
    let pe = if p.epoch.is_empty() { "0" } else { p.epoch.as_str() };
    rpmvercmp(epoch, pe)
        .then_with(|| rpmvercmp(version, &p.version))
        .then_with(|| release.map_or(std::cmp::Ordering::Equal, |r| rpmvercmp(r, &p.release)))
}

/// The RPM database: one line per package.
fn parse_db(out: &str) -> BTreeSet<Pkg> {
    out.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            let [name, epoch, version, release, arch] = f[..] else { return None };
            let epoch = if epoch == "(none)" { "0" } else { epoch };
            Some(Pkg {
                name: name.into(),
                epoch: epoch.into(),
                version: version.into(),
                release: release.into(),
                arch: arch.into(),
            })
        })
        .collect()
}

/// A spec with a version (`name-1.0`, `name-1.0-1.el9.x86_64`) for an installed name: that name
/// and the rest.
fn versioned<'a>(spec: &'a str, db: &BTreeSet<Pkg>) -> Option<(&'a str, &'a str)> {
    db.iter()
        .filter_map(|p| spec.strip_prefix(p.name.as_str()).and_then(|r| r.strip_prefix('-')).map(|r| (p.name.len(), r)))
        .filter(|(_, r)| r.starts_with(|c: char| c.is_ascii_digit()))
        .max_by_key(|(n, _)| *n)
        .map(|(n, r)| (&spec[..n], r))
}

/// A package in dnf's plan: name, `[epoch:]version-release`, arch.
type Planned = (String, String, String);

/// dnf's transaction plan (`--assumeno`): packages it would install and remove, as
/// `(name, [epoch:]version-release, arch)` by section.
fn parse_plan(out: &str) -> (Vec<Planned>, Vec<Planned>) {
    let mut installs = Vec::new();
    let mut removes = Vec::new();
    let mut section = "";
    let mut pending: Option<String> = None;
    for line in out.lines() {
        if line.starts_with("Transaction Summary") {
            break;
        }
        if !line.starts_with(' ') && line.ends_with(':') {
            section = if line.starts_with("Removing") {
                "remove"
            } else if line.starts_with("Installing")
                || line.starts_with("Upgrading")
                || line.starts_with("Downgrading")
                || line.starts_with("Reinstalling")
            {
                "install"
            } else {
                ""
            };
            continue;
        }
        if section.is_empty() || !line.starts_with(' ') {
            continue;
        }
        let mut fields: Vec<String> = line.split_whitespace().map(str::to_string).collect();
        if let Some(name) = pending.take() {
            fields.insert(0, name);
        }
        if fields.len() == 1 {
            // A long name is on a line of its own.
            pending = fields.pop();
            continue;
        }
        if fields.len() < 3 || fields[0] == "replacing" {
            continue;
        }
        let item = (fields[0].clone(), fields[2].clone(), fields[1].clone());
        if section == "remove" {
            removes.push(item);
        } else {
            installs.push(item);
        }
    }
    (installs, removes)
}

/// How a planned package is written in results: `name-[epoch:]version-release.arch`.
fn planned_nevra((name, evr, arch): &Planned) -> String {
    format!("{name}-{evr}.{arch}")
}

impl Dnf {
    /// `dnf` with the options every call shares.
    fn base(a: &Args) -> Cmd {
        let mut c = Cmd::new("dnf");
        if a.installroot != "/" {
            c = c.opt_eq("--installroot", &a.installroot);
        }
        if let Some(r) = &a.releasever {
            c = c.opt_eq("--releasever", r);
        }
        if let Some(f) = &a.conf_file {
            c = c.opt_eq("--config", f);
        }
        for r in &a.disablerepo.0 {
            c = c.opt_eq("--disablerepo", r);
        }
        for r in &a.enablerepo.0 {
            c = c.opt_eq("--enablerepo", r);
        }
        for e in &a.exclude.0 {
            c = c.opt_eq("--exclude", e);
        }
        if let Some(d) = &a.disable_excludes {
            c = c.opt_eq("--disableexcludes", d);
        }
        if a.disable_gpg_check {
            c = c.flag("--nogpgcheck");
        }
        if !a.install_weak_deps {
            c = c.flag("--setopt=install_weak_deps=False");
        }
        if !a.sslverify {
            c = c.flag("--setopt=sslverify=False");
        }
        if a.skip_broken {
            c = c.flag("--skip-broken");
        }
        if a.cacheonly {
            c = c.flag("--cacheonly");
        }
        match (a.best, a.nobest) {
            (Some(true), _) | (_, Some(false)) => c = c.flag("--best"),
            (Some(false), _) | (_, Some(true)) => c = c.flag("--nobest"),
            _ => {}
        }
        c
    }

    async fn db(a: &Args, cx: &ModuleCtx<'_>) -> Result<BTreeSet<Pkg>, ModuleError> {
        let c = Cmd::new("rpm").opt("--root", &a.installroot).flag("-qa").flag("--qf").build();
        let c = c.word(Sh::lit("'%{NAME}\\t%{EPOCHNUM}\\t%{VERSION}\\t%{RELEASE}\\t%{ARCH}\\n'"));
        let out = cx.exec(c).await?;
        if out.rc != 0 {
            return Err(crate::util::probe_failed("rpm -qa", &out));
        }
        Ok(parse_db(&out.stdout_str()))
    }

    /// Whether `spec` is installed (a name, a versioned spec or a provide).
    async fn installed(a: &Args, spec: &str, cx: &ModuleCtx<'_>) -> Result<bool, ModuleError> {
        let q = Cmd::new("rpm").opt("--root", &a.installroot).flag("-q").operand(spec).build();
        if cx.exec(q).await?.rc == 0 {
            return Ok(true);
        }
        let q = Cmd::new("rpm").opt("--root", &a.installroot).flag("-q").flag("--whatprovides").operand(spec).build();
        Ok(cx.exec(q).await?.rc == 0)
    }

    /// The transactions the specs need: `(verb, specs)`, and the results of specs that need none.
    async fn decide(
        a: &Args,
        db: &BTreeSet<Pkg>,
        cx: &ModuleCtx<'_>,
    ) -> Result<(Vec<(&'static str, Vec<String>)>, Vec<String>), ModuleError> {
        let state = a.state();
        let mut install = Vec::new();
        let mut upgrade = Vec::new();
        let mut notes = Vec::new();
        if state == State::Absent {
            return Ok((if a.name.0.is_empty() { Vec::new() } else { vec![("remove", a.name.0.clone())] }, notes));
        }
        for spec in &a.name.0 {
            let glob = spec.contains(['*', '?', '[']);
            if glob {
                if state == State::Latest {
                    upgrade.push(spec.clone());
                }
                install.push(spec.clone());
                continue;
            }
            let newer = match versioned(spec, db) {
                Some((name, evr)) => {
                    let evr = evr
                        .rsplit_once('.')
                        .filter(|(_, arch)| db.iter().any(|p| p.arch == *arch))
                        .map_or(evr, |(e, _)| e);
                    let installed: Vec<&Pkg> = db.iter().filter(|p| p.name == name).collect();
                    !installed.is_empty() && installed.iter().all(|p| evr_cmp(evr, p) == std::cmp::Ordering::Less)
                }
                None => false,
            };
            if newer {
                if a.allow_downgrade {
                    install.push(spec.clone());
                }
            } else if Self::installed(a, spec, cx).await? {
                if state == State::Latest {
                    upgrade.push(spec.clone());
                }
            } else if state == State::Latest && a.update_only {
                notes.push(format!("Packages providing {spec} not installed due to update_only specified"));
            } else {
                install.push(spec.clone());
            }
        }
        let mut steps = Vec::new();
        if !upgrade.is_empty() {
            steps.push(("upgrade", upgrade));
        }
        if !install.is_empty() {
            steps.push(("install", install));
        }
        Ok((steps, notes))
    }

    /// `list`: `installed`, `available`, `updates`/`upgrades`, `repos`/`repositories`, or the
    /// packages a spec matches (installed and available), as ansible-core lists them.
    async fn list(a: &Args, what: &str, cx: &ModuleCtx<'_>) -> Result<Outcome, ModuleError> {
        let done = |results: Vec<Value>| {
            Outcome { msg: Some(String::new()), ..Outcome::ok() }.with("msg", "").with("results", Value::from(results))
        };
        if matches!(what, "repos" | "repositories") {
            let out = cx.exec(Self::base(a).flag("-q").flag("repolist").flag("--enabled").build()).await?;
            if out.rc != 0 {
                return Err(crate::util::probe_failed("dnf repolist", &out));
            }
            let ids: Vec<Value> = out
                .stdout_str()
                .lines()
                .filter(|l| !l.starts_with("repo id") && !l.trim().is_empty())
                .filter_map(|l| l.split_whitespace().next())
                .map(|id| {
                    Value::from_pairs(vec![
                        ("repoid".to_string(), Value::from(id)),
                        ("state".to_string(), Value::from("enabled")),
                    ])
                })
                .collect();
            return Ok(done(ids));
        }
        let query = |flag: &'static str, spec: Option<&str>| {
            let mut c = Self::base(a).flag("-q").flag("repoquery").flag(flag).flag("--qf").build();
            c = c.word(Sh::lit("'%{name}\\t%{epoch}\\t%{version}\\t%{release}\\t%{arch}\\t%{repoid}'"));
            match spec {
                Some(s) => c.word(Sh::lit("--")).word(Sh::quoted(s)),
                None => c,
            }
        };
        let runs: Vec<Sh> = match what {
            "installed" => vec![query("--installed", None)],
            "available" => vec![query("--available", None)],
            "updates" | "upgrades" => vec![query("--upgrades", None)],
            spec => vec![query("--installed", Some(spec)), query("--available", Some(spec))],
        };
        let mut pkgs: Vec<(Pkg, String)> = Vec::new();
        for run in runs {
            let out = cx.exec(run).await?;
            if out.rc != 0 {
                return Err(crate::util::probe_failed("dnf repoquery", &out));
            }
            for line in out.stdout_str().lines() {
                let f: Vec<&str> = line.split('\t').collect();
                let [name, epoch, version, release, arch, repo] = f[..] else { continue };
                let p = Pkg {
                    name: name.into(),
                    epoch: epoch.into(),
                    version: version.into(),
                    release: release.into(),
                    arch: arch.into(),
                };
                pkgs.push((p, repo.to_string()));
            }
        }
        pkgs.sort_by(|(p, r), (q, s)| {
            p.name
                .cmp(&q.name)
                .then_with(|| p.arch.cmp(&q.arch))
                .then_with(|| evr_cmp(&format!("{}:{}-{}", p.epoch, p.version, p.release), q))
                .then_with(|| (s == "@System").cmp(&(r == "@System")))
        });
        let results = pkgs
            .into_iter()
            .map(|(p, repo)| {
                let envra = format!("{}:{}-{}-{}.{}", p.epoch, p.name, p.version, p.release, p.arch);
                let state = if repo == "@System" { "installed" } else { "available" };
                Value::from_pairs(vec![
                    ("name".to_string(), Value::from(p.name)),
                    ("arch".to_string(), Value::from(p.arch)),
                    ("epoch".to_string(), Value::from(p.epoch)),
                    ("release".to_string(), Value::from(p.release)),
                    ("version".to_string(), Value::from(p.version)),
                    ("repo".to_string(), Value::from(repo)),
                    ("envra".to_string(), Value::from(envra.clone())),
                    ("nevra".to_string(), Value::from(envra)),
                    ("yumstate".to_string(), Value::from(state)),
                ])
            })
            .collect();
        Ok(done(results))
    }

    fn verb(a: &Args, verb: &'static str, specs: &[String], assume: &'static str) -> Sh {
        let mut c = Self::base(a).flag(assume);
        if verb == "remove" {
            if !a.autoremove {
                c = c.flag("--setopt=clean_requirements_on_remove=False");
            }
        } else if a.allowerasing {
            c = c.flag("--allowerasing");
        }
        c.flag(verb).operands(specs).build()
    }
}

/// The failure for specs dnf found nothing for ("No match for argument: X").
fn unmatched(text: &str) -> Vec<String> {
    text.lines().filter_map(|l| l.strip_prefix("No match for argument: ")).map(|s| s.trim().to_string()).collect()
}

fn failed(failures: Vec<String>, msg: &str) -> Outcome {
    let mut o = Outcome::failed(msg)
        .with("failures", Value::from(failures))
        .with("results", Value::from(Vec::<String>::new()))
        .with("rc", 1);
    o.changed = false;
    o
}

#[async_trait]
impl Module for Dnf {
    const NAME: &'static str = "dnf";
    type Args = Args;
    type Plan = ();

    fn check_args(a: &Args) -> Result<(), String> {
        if a.name.0.is_empty() && a.list.is_none() && !a.update_cache && !a.autoremove {
            return Err("one of the following is required: name, list, update_cache".into());
        }
        if !a.name.0.is_empty() && a.list.is_some() {
            return Err("parameters are mutually exclusive: name|list".into());
        }
        if a.best.is_some() && a.nobest.is_some() {
            return Err("parameters are mutually exclusive: best|nobest".into());
        }
        if a.autoremove && a.state.is_some_and(|s| s != State::Absent) {
            return Err("Autoremove should be used alone or with state=absent".into());
        }
        let refused = [
            ("security", a.security),
            ("bugfix", a.bugfix),
            ("download_only", a.download_only),
            ("download_dir", a.download_dir.is_some()),
            ("enable_plugin", !a.enable_plugin.0.is_empty()),
            ("disable_plugin", !a.disable_plugin.0.is_empty()),
        ];
        if let Some((name, _)) = refused.iter().find(|(_, on)| *on) {
            return Err(format!("argument `{name}` is not supported by prov yet"));
        }
        if a.use_backend.as_deref().is_some_and(|b| b == "dnf5") {
            return Err("use_backend dnf5: prov runs dnf 4's command line".into());
        }
        for spec in &a.name.0 {
            if spec.starts_with('@')
                || spec.ends_with(".rpm")
                || spec.contains("://")
                || (spec.contains('/') && !spec.starts_with('/'))
            {
                return Err(format!(
                    "name `{spec}`: groups, modules, .rpm files and URLs are not supported by prov yet"
                ));
            }
            if spec.starts_with('-') {
                return Err(format!("name `{spec}` starts with `-`: not a package spec"));
            }
        }
        Ok(())
    }

    async fn plan(&self, a: &Args, cx: &ModuleCtx<'_>) -> Result<Plan<()>, ModuleError> {
        let shown = a.name.0.join(", ");
        let change = |results: Vec<String>, msg: &str| {
            let mut ch = Change::new((), Action::Modify, "package", shown.clone());
            ch = ch.with_data("msg", msg).with_data("results", Value::from(results)).with_data("rc", 0);
            Plan::Change(ch)
        };
        if let Some(what) = &a.list {
            return Ok(Plan::Ok(Self::list(a, what, cx).await?));
        }
        if a.update_cache && a.name.0.is_empty() {
            // ansible-core reads the metadata (refreshing it) and reports no change, in check
            // mode too.
            if cx.is_check() {
                let o = Outcome { msg: Some("Cache updated".into()), ..Outcome::ok() };
                return Ok(Plan::Ok(
                    o.with("msg", "Cache updated").with("results", Value::from(Vec::<String>::new())).with("rc", 0),
                ));
            }
            return Ok(change(Vec::new(), "Cache updated"));
        }
        if !cx.is_check() {
            return Ok(change(Vec::new(), ""));
        }
        let db = Self::db(a, cx).await?;
        let (steps, notes) = Self::decide(a, &db, cx).await?;
        let mut installs: Vec<String> = Vec::new();
        let mut removes: Vec<String> = Vec::new();
        let mut results = notes;
        for (verb, specs) in &steps {
            let out = cx.exec(Self::verb(a, verb, specs, "--assumeno")).await?;
            let text = format!("{}{}", out.stdout_str(), out.stderr_str());
            let missing = unmatched(&text);
            if *verb != "remove" && !missing.is_empty() {
                let failures = missing.iter().map(|m| format!("No package {m} available.")).collect();
                return Ok(Plan::Ok(failed(failures, "Failed to install some of the specified packages")));
            }
            results.extend(missing.iter().map(|m| format!("No match for argument: {m}")));
            let (ins, rem) = parse_plan(&out.stdout_str());
            for i in &ins {
                installs.push(planned_nevra(i));
                // An upgrade or downgrade removes the installed version of the name and arch.
                for p in db.iter().filter(|p| p.name == i.0 && p.arch == i.2) {
                    removes.push(p.nevra());
                }
            }
            removes.extend(rem.iter().map(planned_nevra));
        }
        if installs.is_empty() && removes.is_empty() {
            let o = Outcome::ok().with("msg", "Nothing to do").with("results", Value::from(results)).with("rc", 0);
            return Ok(Plan::Ok(Outcome { msg: Some("Nothing to do".into()), ..o }));
        }
        installs.sort();
        removes.sort();
        results.extend(installs.iter().map(|p| format!("Installed: {p}")));
        results.extend(removes.iter().map(|p| format!("Removed: {p}")));
        Ok(change(results, "Check mode: No changes made, but would have if not in check mode"))
    }

    async fn apply(&self, a: &Args, _: (), cx: &ModuleCtx<'_>) -> Result<Outcome, ModuleError> {
        if a.update_cache {
            let out = cx.exec(Self::base(a).flag("makecache").flag("--refresh").build()).await?;
            if out.rc != 0 {
                return Ok(Outcome::failed(format!("Failed to synchronize repodata: {}", out.stderr_str().trim()))
                    .with("rc", 1)
                    .with("results", Value::from(Vec::<String>::new())));
            }
            if a.name.0.is_empty() {
                return Ok(Outcome { changed: false, ..Outcome::ok() }
                    .with("msg", "Cache updated")
                    .with("results", Value::from(Vec::<String>::new()))
                    .with("rc", 0));
            }
        }
        let before = Self::db(a, cx).await?;
        let (steps, notes) = Self::decide(a, &before, cx).await?;
        let mut results = notes;
        for (verb, specs) in &steps {
            let out = cx.exec(Self::verb(a, verb, specs, "-y")).await?;
            let text = format!("{}{}", out.stdout_str(), out.stderr_str());
            let missing = unmatched(&text);
            if *verb != "remove" && !missing.is_empty() {
                let failures = missing.iter().map(|m| format!("No package {m} available.")).collect();
                return Ok(failed(failures, "Failed to install some of the specified packages"));
            }
            if out.rc != 0 {
                let why = text.lines().filter(|l| l.starts_with("Error")).collect::<Vec<_>>().join("\n");
                let why = if why.is_empty() { text.trim().to_string() } else { why };
                return Ok(failed(vec![why.clone()], &format!("Unknown Error occurred: {why}")));
            }
            results.extend(missing.iter().map(|m| format!("No match for argument: {m}")));
        }
        let after = Self::db(a, cx).await?;
        let installed: Vec<String> = after.difference(&before).map(Pkg::nevra).collect();
        let removed: Vec<String> = before.difference(&after).map(Pkg::nevra).collect();
        let changed = !(installed.is_empty() && removed.is_empty());
        results.extend(installed.iter().map(|p| format!("Installed: {p}")));
        results.extend(removed.iter().map(|p| format!("Removed: {p}")));
        let msg = if changed { "" } else { "Nothing to do" };
        let mut o = Outcome::ok().with("msg", msg).with("results", Value::from(results)).with("rc", 0);
        o.msg = Some(msg.to_string());
        o.changed = changed;
        Ok(o)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cmp::Ordering::*;

    #[test]
    fn versions_compare_as_rpm_compares_them() {
        for (a, b, want) in [
            ("1.0", "1.0", Equal),
            ("1.0", "2.0", Less),
            ("2.0.1", "2.0", Greater),
            ("1.0a", "1.0", Greater),
            ("1.0~rc1", "1.0", Less),
            ("1.0^git1", "1.0", Greater),
            ("1.0^git1", "1.0.1", Less),
            ("010", "10", Equal),
            ("1.a", "1.1", Less),
            ("el9", "el10", Less),
        ] {
            assert_eq!(rpmvercmp(a, b), want, "{a} vs {b}");
        }
    }

    /// ansible-core's yumdnf: items stripped, a list item with commas split and put at the end
    /// (`listify_comma_sep_strings_in_list`), `""` alone is nothing.
    #[test]
    fn names_are_stripped_and_comma_items_split_as_yumdnf_does() {
        let names = |v: serde_json::Value| {
            serde_json::from_value::<Args>(serde_json::json!({ "name": v })).expect("args").name.0
        };
        assert_eq!(names(serde_json::json!("a, b")), ["a", "b"]);
        assert_eq!(names(serde_json::json!(["x, y", " c"])), ["c", "x", "y"]);
        assert_eq!(names(serde_json::json!("")), Vec::<String>::new());
        assert_eq!(names(serde_json::json!("a,,b")), ["a", "", "b"]);
        let repos = |v: serde_json::Value| {
            serde_json::from_value::<Args>(serde_json::json!({ "name": "x", "enablerepo": v }))
                .expect("args")
                .enablerepo
                .0
        };
        assert_eq!(repos(serde_json::json!("")), Vec::<String>::new());
        assert_eq!(repos(serde_json::json!("epel,,crb")), ["epel", "crb"]);
    }

    #[test]
    fn dnf_plans_are_read_by_section() {
        let out = "Dependencies resolved.\n=====\n Package Architecture Version Repository Size\n=====\nInstalling:\n provapp noarch 1.0-1 local 5.9 k\nUpgrading:\n provdemo noarch 2.0-1 local 5.9 k\nInstalling dependencies:\n a-very-long-package-name-that-wraps\n                     x86_64 1:2.0-1.el9 local 5 k\nRemoving:\n old noarch 0.1-1 @local 4\n\nTransaction Summary\n=====\nInstall 2 Packages\n";
        let (ins, rem) = parse_plan(out);
        let ins: Vec<String> = ins.iter().map(planned_nevra).collect();
        assert_eq!(
            ins,
            ["provapp-1.0-1.noarch", "provdemo-2.0-1.noarch", "a-very-long-package-name-that-wraps-1:2.0-1.el9.x86_64"]
        );
        assert_eq!(rem.iter().map(planned_nevra).collect::<Vec<_>>(), ["old-0.1-1.noarch"]);
    }

    #[test]
    fn versioned_specs_are_split_at_an_installed_name() {
        let db = parse_db("provdemo\t0\t2.0\t1\tnoarch\nprov\t0\t1\t1\tnoarch\n");
        assert_eq!(versioned("provdemo-1.0", &db), Some(("provdemo", "1.0")));
        assert_eq!(versioned("provdemo", &db), None);
        let p = db.iter().find(|p| p.name == "provdemo").expect("installed");
        assert_eq!(evr_cmp("1.0", p), Less);
        assert_eq!(evr_cmp("2.0-1", p), Equal);
        assert_eq!(evr_cmp("1:1.0", p), Greater);
        assert_eq!(p.nevra(), "provdemo-2.0-1.noarch");
    }
}
