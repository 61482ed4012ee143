//! `apt`: installs, upgrades and removes Debian packages.
//!
//! Arguments (as in Ansible):
//! - `name` (aliases `pkg`, `package`): a package, a list, or `"a,b"`; `pkg=1.2-1` pins a version.
//! - `state`: `present` (default; alias `installed`), `latest`, `absent` (alias `removed`).
//! - `update_cache` (alias `update-cache`): `apt-get update` first; `cache_valid_time` (seconds)
//!   skips it when the last update is that recent (given alone, it sets `update_cache`, as
//!   ansible-core does since 2.4).
//! - `purge`, `autoremove`, `install_recommends` (unset: apt's default), `default_release`
//!   (`-t`), `force` (allow downgrades, unauthenticated, held packages),
//!   `dpkg_options` (default `force-confdef,force-confold`), `upgrade` (`no`, `yes`/`safe`,
//!   `dist`/`full`). `lock_timeout`, `force_apt_get`, `update_cache_retries`,
//!   `update_cache_retry_max_delay`, `auto_install_module_deps` are accepted and ignored.
//! - `autoclean`, `autoremove` with no package named: `apt-get autoclean`/`autoremove` alone
//!   (autoclean first; ansible-core's task ends at the first, and at a cache update).
//!   `autoremove` with packages: `--auto-remove` on the install, removal or upgrade.
//! - `clean`: `apt-get clean` first; alone, it is the whole task (always a change). In check
//!   mode prov does not run it (ansible-core does).
//! - `allow_downgrade` (aliases `allow-downgrade`, `allow_downgrades`, `allow-downgrades`),
//!   `allow_unauthenticated` (alias `allow-unauthenticated`), `allow_change_held_packages`,
//!   `policy_rc_d` (the exit code of a /usr/sbin/policy-rc.d in place while apt-get installs,
//!   removes or upgrades, the one there put back after),
//!   `fail_on_autoremove` (apt-get's `--no-remove`), `only_upgrade` (packages that are not
//!   installed are left alone).
//! - `deb`: `.deb` files on the target (comma separated) to install, with the dependencies
//!   they lack (through apt-get) and without their Recommends unless `install_recommends:
//!   true`, as ansible-core installs them. A file whose package is installed at the same
//!   version changes nothing; an older one than installed fails ("A later version is already
//!   installed") unless `allow_downgrade` or `force`. Not with `name` or `upgrade`; only
//!   `state: present`. A URL (`://`) is not downloaded by prov: fetch the file first.
//!
//! The state is read with one command (`dpkg-query -W`, `apt-cache policy`); a name apt does
//! not know fails before anything runs ("No package matching 'X' is available"). Changes use
//! `DEBIAN_FRONTEND=noninteractive apt-get install -y -q`. What is registered follows
//! ansible-core's paths: an install `stdout`/`stderr`/`diff` and `cache_updated`/
//! `cache_update_time` (also when nothing was installed); a removal `stdout`/`stderr`/`diff`;
//! a cache update alone `cache_updated`/`cache_update_time`; an upgrade `msg`/`stdout`/
//! `stderr`; check mode the output of apt-get's `--simulate`. The cache counts as updated when
//! its time moved (the stamp of the last successful update, else the lists' directory), so an
//! update that fetched nothing new is no change.
//!
//! ```yaml
//! - apt:
//!     name: [nginx, curl]
//!     update_cache: true
//!     cache_valid_time: 3600
//! - apt: { name: telnet, state: absent, purge: true }
//! ```

use crate::util::probe_failed;
use async_trait::async_trait;
use minijinja::Value;
use prov_core::args::{lenient_bool, lenient_opt_bool, StringList};
use prov_core::cmd::{Cmd, Sh, Word, WordKind};
use prov_core::connection::ExecOutput;
use prov_core::module::{Action, Change, DiffMode, Module, ModuleCtx, ModuleError, Outcome, Plan, Planned};
use serde::Deserialize;
use std::collections::HashMap;

fn confopts() -> String {
    "force-confdef,force-confold".into()
}

/// Arguments of `apt`.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Args {
    /// Packages.
    #[serde(default, alias = "pkg", alias = "package")]
    pub name: Option<StringList>,
    /// `present`, `latest` or `absent`.
    #[serde(default)]
    pub state: Option<String>,
    /// Run `apt-get update` first.
    #[serde(default, alias = "update-cache", deserialize_with = "lenient_bool")]
    pub update_cache: bool,
    /// Skip the update when the cache is newer than this many seconds.
    #[serde(default)]
    pub cache_valid_time: Option<u64>,
    /// Remove configuration files too.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub purge: bool,
    /// Remove dependencies no longer needed.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub autoremove: bool,
    /// Install recommended packages (unset: apt's configuration decides).
    #[serde(default, alias = "install-recommends", deserialize_with = "lenient_opt_bool")]
    pub install_recommends: Option<bool>,
    /// Target release (`-t`).
    #[serde(default, alias = "default-release")]
    pub default_release: Option<String>,
    /// Allow downgrades, unauthenticated and held packages.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub force: bool,
    /// dpkg options, comma separated.
    #[serde(default = "confopts")]
    pub dpkg_options: String,
    /// `no`, `yes`/`safe`, `dist`/`full`.
    #[serde(default, deserialize_with = "crate::util::stringish")]
    pub upgrade: Option<String>,
    /// Accepted, ignored.
    #[serde(default)]
    pub lock_timeout: Option<Value>,
    /// Accepted, ignored.
    #[serde(default)]
    pub force_apt_get: Option<Value>,
    /// `apt-get autoclean` (with no package named and no cache update, as in ansible-core).
    #[serde(default, deserialize_with = "lenient_bool")]
    pub autoclean: bool,
    /// `apt-get clean` first (alone, it is the whole task).
    #[serde(default, deserialize_with = "lenient_bool")]
    pub clean: bool,
    /// Accepted, ignored (prov runs one `apt-get update`).
    #[serde(default)]
    pub update_cache_retries: Option<Value>,
    /// Accepted, ignored.
    #[serde(default)]
    pub update_cache_retry_max_delay: Option<Value>,
    /// Accepted, ignored: prov's apt needs no Python module on the target.
    #[serde(default)]
    pub auto_install_module_deps: Option<Value>,
    /// `.deb` files on the target, comma separated.
    #[serde(default)]
    pub deb: Option<String>,
    /// apt-get's `--allow-downgrades`.
    #[serde(
        default,
        alias = "allow-downgrade",
        alias = "allow_downgrades",
        alias = "allow-downgrades",
        deserialize_with = "lenient_bool"
    )]
    pub allow_downgrade: bool,
    /// apt-get's `--allow-unauthenticated`.
    #[serde(default, alias = "allow-unauthenticated", deserialize_with = "lenient_bool")]
    pub allow_unauthenticated: bool,
    /// apt-get's `--allow-change-held-packages`.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub allow_change_held_packages: bool,
    /// apt-get's `--no-remove`: fail rather than remove packages.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub fail_on_autoremove: bool,
    /// Upgrade the named packages that are installed; install none.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub only_upgrade: bool,
    /// The exit code /usr/sbin/policy-rc.d gives while apt-get runs (101: packages start no
    /// service); an existing policy-rc.d is moved aside and put back after.
    #[serde(default)]
    pub policy_rc_d: Option<i32>,
}

/// `cmd` with /usr/sbin/policy-rc.d exiting `code` while it runs, as ansible-core's apt does:
/// an existing file is moved to a new private directory and put back after; the exit status is
/// the command's.
fn with_policy_rc_d(cmd: Sh, code: i32) -> Sh {
    let setup = Sh::lit(
        "P=/usr/sbin/policy-rc.d; B=; if [ -e \"$P\" ]; then B=$(mktemp -d) && mv -- \"$P\" \"$B/\" || exit 1; fi; printf '#!/bin/sh\\nexit %d\\n'",
    )
    .word(Sh::quoted(&code.to_string()))
    .suffix(" > \"$P\" && chmod 0755 \"$P\" || exit 1; ");
    setup.glued(cmd).suffix(
        "; rc=$?; if [ -n \"$B\" ]; then mv -- \"$B/policy-rc.d\" \"$P\" && rmdir -- \"$B\"; else rm -f -- \"$P\"; fi; exit $rc",
    )
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Present,
    Latest,
    Absent,
}

impl Args {
    /// Whether the cache is updated: `update_cache`, or a `cache_valid_time` (which sets it, as
    /// in ansible-core since 2.4).
    pub(crate) fn updates_cache(&self) -> bool {
        self.update_cache || self.cache_valid_time.is_some_and(|t| t > 0)
    }

    fn state(&self) -> Result<State, String> {
        match self.state.as_deref() {
            None | Some("present") | Some("installed") => Ok(State::Present),
            Some("latest") => Ok(State::Latest),
            Some("absent") | Some("removed") => Ok(State::Absent),
            Some(s) => Err(format!("state must be present, latest or absent, not {s}")),
        }
    }

    /// The packages as ansible-core's apt reads `name`: each item stripped, `*` left out (it
    /// stands for every installed package, see [`Args::all_installed`]).
    fn names(&self) -> Vec<String> {
        self.name.iter().flat_map(|l| &l.0).filter(|n| *n != "*").map(|n| n.trim().to_string()).collect()
    }

    /// `name` holds something (ansible-core tests the list given, `*` and empty names too).
    fn named(&self) -> bool {
        self.name.as_ref().is_some_and(|l| !l.0.is_empty())
    }

    /// `name` holds `*`: with `state: latest`, every installed package is upgraded.
    fn all_installed(&self) -> bool {
        self.name.iter().flat_map(|l| &l.0).any(|n| n == "*")
    }

    /// The `deb` files, as operands apt-get reads as files (a bare name gets `./`).
    fn debs(&self) -> Result<Vec<String>, String> {
        let Some(deb) = &self.deb else { return Ok(Vec::new()) };
        let mut out = Vec::new();
        for f in deb.split(',') {
            if f.contains("://") {
                return Err(format!("deb: prov does not download `{f}`; fetch the file to the host first"));
            }
            let w = Word::new(WordKind::Path, f).map_err(|e| e.to_string())?;
            let f = w.as_str();
            out.push(if f.contains('/') { f.to_string() } else { format!("./{f}") });
        }
        Ok(out)
    }

    /// Every name checked as a package name: an option (`-s`, `-oDir::Bin::dpkg=...`) or a path
    /// is refused before apt-get sees it.
    fn checked_names(&self) -> Result<Vec<String>, String> {
        let names = self.names();
        for n in &names {
            Word::new(WordKind::Package, n).map_err(|e| e.to_string())?;
        }
        Ok(names)
    }

    /// `upgrade`, one of ansible-core's choices as it reads them (case matters; YAML's
    /// `yes`/`no`, booleans, are the choices `yes`/`no`).
    fn upgrade(&self) -> Result<Option<&'static str>, String> {
        const CHOICES: &[&str] = &["dist", "full", "no", "safe", "yes"];
        let given = self.upgrade.as_deref().map(|u| prov_core::args::chosen(u, CHOICES).to_string());
        match given.as_deref() {
            // ansible-core: `name: '*'` with `state: latest` is `upgrade: yes`.
            None | Some("no") if self.all_installed() && self.state()? == State::Latest => Ok(Some("upgrade")),
            None | Some("no") => Ok(None),
            Some("yes") | Some("safe") => Ok(Some("upgrade")),
            Some("dist") | Some("full") => Ok(Some("dist-upgrade")),
            Some(u) => Err(format!("value of upgrade must be one of: {}, got: {u}", CHOICES.join(", "))),
        }
    }
}

/// The `apt` module.
#[derive(Debug, Default)]
pub struct Apt;

/// What `apply` does.
pub struct AptPlan {
    update: bool,
    clean: bool,
    /// The cache's time when planned (ansible-core's `cache_update_time`).
    cache_time: u64,
    work: Work,
    before: HashMap<String, String>,
}

/// The one thing ansible-core's apt does after the cache update: each ends the task.
enum Work {
    /// Nothing: the cache update was the task.
    Nothing,
    /// `apt-get clean` alone.
    Clean,
    /// `apt-get upgrade`/`dist-upgrade`.
    Upgrade(&'static str),
    /// `apt-get autoclean` or `autoremove`, with no package named.
    Cleanup(&'static str),
    /// Install (or upgrade) the named packages; none: the cache update was all.
    Install(Vec<String>),
    /// Install `.deb` files.
    Debs(Vec<String>),
    /// Remove the named packages; none: the cache update was all.
    Remove(Vec<String>),
}

/// One package as dpkg knows it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Pkg {
    installed: bool,
    /// apt knows the name (`apt-cache policy` printed it).
    known: bool,
    config_only: bool,
    version: String,
    candidate: Option<String>,
}

/// Package name without `=version` and `:arch`.
fn base(name: &str) -> &str {
    let n = name.split('=').next().unwrap_or(name);
    n.split(':').next().unwrap_or(n)
}

fn probe_command(state: State, names: &[String], upgrade: Option<&str>) -> String {
    let mut c = String::from(
        "command -v dpkg-query >/dev/null 2>&1 || { echo 'dpkg-query not found: apt needs a Debian-like host' >&2; exit 127; }; echo \"now $(date +%s)\"",
    );
    // The cache's time as ansible-core reads it (`cache_update_time`, `cache_valid_time`).
    c.push_str(&format!("; echo \"cache $({CACHE_TIME})\""));
    let bases: Vec<&str> = names.iter().map(|n| base(n)).collect();
    if !names.is_empty() {
        let query = Cmd::new("dpkg-query")
            .flag("-W")
            .flag("-f='pkg ${binary:Package}\\t${db:Status-Abbrev}\\t${Version}\\n'")
            .operands(&bases)
            .build()
            .suffix(" 2>/dev/null");
        c.push_str("; ");
        c.push_str(query.as_str());
        if state != State::Absent {
            let policy = Cmd::new("LC_ALL=C apt-cache")
                .flag("policy")
                .operands(&bases)
                .build()
                .suffix(" 2>/dev/null")
                .pipe(Sh::lit("sed 's/^/policy /'"));
            c.push_str("; ");
            c.push_str(policy.as_str());
        }
    }
    if let Some(u) = upgrade {
        c.push_str(&format!("; echo \"upgrade $(LC_ALL=C apt-get -s -q {u} 2>/dev/null | grep -c '^Inst ')\""));
    }
    c.push_str("; true");
    c
}

struct Probe {
    now: u64,
    cache: Option<u64>,
    pkgs: HashMap<String, Pkg>,
    upgrade: usize,
}

fn parse(text: &str) -> Probe {
    let mut p = Probe { now: 0, cache: None, pkgs: HashMap::new(), upgrade: 0 };
    let mut policy_pkg: Option<String> = None;
    for line in text.lines() {
        let (key, rest) = line.split_once(' ').unwrap_or((line, ""));
        match key {
            "now" => p.now = rest.trim().parse().unwrap_or(0),
            "cache" => p.cache = rest.trim().parse().ok(),
            "upgrade" => p.upgrade = rest.trim().parse().unwrap_or(0),
            "pkg" => {
                let f: Vec<&str> = rest.split('\t').collect();
                if f.len() >= 3 {
                    let name = base(f[0]).to_string();
                    let status = f[1].as_bytes();
                    let installed = status.get(1) == Some(&b'i');
                    let config_only = status.get(1) == Some(&b'c');
                    let e = p.pkgs.entry(name).or_default();
                    if installed || !e.installed {
                        e.installed = installed;
                        e.config_only = config_only;
                        e.version = if installed { f[2].to_string() } else { String::new() };
                    }
                }
            }
            "policy" => {
                if !rest.starts_with(' ') && rest.ends_with(':') {
                    let name = base(rest.trim_end_matches(':')).to_string();
                    p.pkgs.entry(name.clone()).or_default().known = true;
                    policy_pkg = Some(name);
                } else if let (Some(name), Some(c)) = (&policy_pkg, rest.trim().strip_prefix("Candidate:")) {
                    let c = c.trim();
                    p.pkgs.entry(name.clone()).or_default().candidate = (c != "(none)").then(|| c.to_string());
                }
            }
            _ => {}
        }
    }
    p
}

/// `apt-get SUBCOMMAND` with the options of `install` and `upgrade`.
fn apt_get(sub: &'static str, args: &Args) -> Cmd {
    let mut c = Cmd::new(APT).flag(sub).flag("-y").flag("-q");
    for o in args.dpkg_options.split(',').map(str::trim).filter(|o| !o.is_empty()) {
        c = c.opt("-o", format!("Dpkg::Options::=--{o}"));
    }
    match args.install_recommends {
        Some(true) => c = c.flag("--install-recommends"),
        Some(false) => c = c.flag("--no-install-recommends"),
        None => {}
    }
    if let Some(r) = &args.default_release {
        c = c.opt("-t", r);
    }
    if args.force || args.allow_unauthenticated {
        c = c.flag("--allow-unauthenticated");
    }
    if args.force || args.allow_downgrade {
        c = c.flag("--allow-downgrades");
    }
    if args.force || args.allow_change_held_packages {
        c = c.flag("--allow-change-held-packages");
    }
    if args.autoremove {
        c = c.flag("--auto-remove");
    }
    if args.fail_on_autoremove {
        c = c.flag("--no-remove");
    }
    c
}

/// `apt-get install` of `names` (with `--only-upgrade` for `only_upgrade`; `.deb` files
/// without their Recommends unless told, as ansible-core installs them); `simulate`: with
/// `--simulate` (an option: before the `--` that ends them).
fn install_cmd(args: &Args, names: &[String], simulate: bool) -> Cmd {
    let mut c = apt_get("install", args);
    if simulate {
        c = c.flag("--simulate");
    }
    if args.only_upgrade {
        c = c.flag("--only-upgrade");
    }
    if args.deb.is_some() && args.install_recommends.is_none() {
        c = c.flag("--no-install-recommends");
    }
    c.operands(names)
}

/// `apt-get remove` of `names`, as ansible-core's apt removes them (`simulate`: with
/// `--simulate`, before the operands).
fn remove_cmd(args: &Args, names: &[String], simulate: bool) -> Cmd {
    let mut c = Cmd::new(APT).flag("remove").flag("-y").flag("-q");
    if simulate {
        c = c.flag("--simulate");
    }
    for o in args.dpkg_options.split(',').map(str::trim).filter(|o| !o.is_empty()) {
        c = c.opt("-o", format!("Dpkg::Options::=--{o}"));
    }
    if args.purge {
        c = c.flag("--purge");
    }
    if args.autoremove {
        c = c.flag("--auto-remove");
    }
    if args.force || args.allow_change_held_packages {
        c = c.flag("--allow-change-held-packages");
    }
    c.operands(names.iter().map(|n| base(n)))
}

/// `apt-get autoclean` or `autoremove` (`op`), with the dpkg options and `--purge`.
fn cleanup(op: &'static str, args: &Args) -> Cmd {
    let mut c = Cmd::new(APT).flag("-y");
    for o in args.dpkg_options.split(',').map(str::trim).filter(|o| !o.is_empty()) {
        c = c.opt("-o", format!("Dpkg::Options::=--{o}"));
    }
    if args.purge {
        c = c.flag("--purge");
    }
    c.flag(op)
}

/// The cache's time, as ansible-core's apt reads it: the stamp of the last successful update,
/// else the lists' directory, else 0.
const CACHE_TIME: &str = "stat -c %Y /var/lib/apt/periodic/update-success-stamp 2>/dev/null || stat -c %Y /var/lib/apt/lists 2>/dev/null || echo 0";

/// A name ansible-core expands as a pattern (`nginx*`), not looked up as it is.
fn is_pattern(name: &str) -> bool {
    // Also `name/release` and `name>=version`, which `apt-cache policy` does not look up.
    name.contains(['*', '?', '[', '/', '<', '>'])
}

fn empty_map() -> Value {
    Value::from(std::collections::BTreeMap::<String, Value>::new())
}

/// `stdout`/`stderr` (as the command printed them) and their lines, as ansible-core registers
/// the output of apt-get.
fn outputs(o: Outcome, out: &ExecOutput) -> Outcome {
    let (stdout, stderr) = (out.stdout_str().to_string(), out.stderr_str().to_string());
    let lines = |t: &str| t.lines().map(str::to_string).collect::<Vec<_>>();
    o.with("stdout_lines", lines(&stdout))
        .with("stderr_lines", lines(&stderr))
        .with("stdout", stdout)
        .with("stderr", stderr)
}

/// ansible-core's `diff` of an apt-get run: empty, or under `--diff` the part of its output
/// between "Reading state information..." and the "N upgraded" line, as `prepared`.
fn diff_of(out: &ExecOutput, cx: &ModuleCtx<'_>) -> Value {
    if cx.mode.diff != DiffMode::On {
        return empty_map();
    }
    let text = out.stdout_str();
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.iter().position(|l| *l == "Reading state information...").map(|i| i + 1).unwrap_or(0);
    let end = lines
        .iter()
        .position(|l| {
            let digits = l.bytes().take_while(u8::is_ascii_digit).count();
            digits > 0 && (l[digits..].starts_with(" upgraded") || l[digits..].starts_with(" packages upgraded"))
        })
        .map(|i| i + 1)
        .unwrap_or(lines.len());
    let prepared = if start <= end { lines[start..end].join("\n") } else { String::new() };
    Value::from_pairs(vec![("prepared", Value::from(prepared))])
}

/// What check mode registers: the output of apt-get's simulation of the change.
fn simulated(ch: Change<AptPlan>, sim: &ExecOutput, cx: &ModuleCtx<'_>, with_msg: bool) -> Change<AptPlan> {
    let mut ch = ch;
    let o = outputs(Outcome::ok(), sim).with("diff", diff_of(sim, cx));
    for (k, v) in o.data {
        ch.data.insert(k, v);
    }
    if with_msg {
        ch.data.insert("msg".into(), Value::from(sim.stdout_str().to_string()));
    }
    ch
}

/// For each `deb` file, one line: `deb STATUS\tPACKAGE\tVERSION\tINSTALLED` where STATUS is
/// `install`, `same` (that version is installed) or `older` (a later one is), or `missing`
/// / `bad` for a file that cannot be read as a package. Lines come in the files' order.
fn deb_probe(files: &[String]) -> Sh {
    let mut c = Sh::lit("for f in");
    for f in files {
        c = c.word(Sh::quoted(f));
    }
    c.glued(Sh::lit(
        r#"; do
  if [ ! -e "$f" ]; then echo 'deb missing'; continue; fi
  n=$(dpkg-deb -f "$f" Package) && v=$(dpkg-deb -f "$f" Version) && a=$(dpkg-deb -f "$f" Architecture) || { echo 'deb bad'; continue; }
  k="$n"; [ -z "$a" ] || k="$n:$a"
  i=$(dpkg-query -W -f='${db:Status-Abbrev}' -- "$k" 2>/dev/null); iv=$(dpkg-query -W -f='${Version}' -- "$k" 2>/dev/null)
  s=install
  case "$i" in ?i*) if dpkg --compare-versions "$v" eq "$iv"; then s=same; elif dpkg --compare-versions "$v" lt "$iv"; then s=older; fi;; *) iv=;; esac
  printf 'deb %s	%s	%s	%s
' "$s" "$n" "$v" "$iv"
done; true"#,
    ))
}

/// The `deb` files to install (their packages and versions, for the plan), or the failure
/// ansible-core reports for the first that cannot be.
fn debs_to_install(args: &Args, files: &[String], text: &str) -> Result<Vec<[String; 4]>, String> {
    let lines: Vec<&str> = text.lines().filter_map(|l| l.strip_prefix("deb ")).collect();
    let mut out = Vec::new();
    for (i, f) in files.iter().enumerate() {
        let fields: Vec<&str> = lines.get(i).map(|l| l.split('\t').collect()).unwrap_or_default();
        match fields.first().copied() {
            // python-apt's words, as ansible-core passes them on.
            Some("missing") => {
                return Err(format!(
                    "Unable to install package: E:Could not open file {f} - open (2: No such file or directory)"
                ))
            }
            Some("older") if !(args.allow_downgrade || args.force) => {
                return Err("A later version is already installed".into())
            }
            Some("same") => {}
            Some("install" | "older") if fields.len() >= 3 => {
                let installed = fields.get(3).copied().filter(|v| !v.is_empty()).unwrap_or("absent");
                out.push([f.clone(), fields[1].to_string(), fields[2].to_string(), installed.to_string()]);
            }
            _ => return Err(format!("Unable to install package: {f} is not a Debian package")),
        }
    }
    Ok(out)
}

const APT: &str = "DEBIAN_FRONTEND=noninteractive apt-get";

/// What apt-get prints when it has nothing to do (ansible-core's test of an upgrade).
const APT_GET_ZERO: &str = "\n0 upgraded, 0 newly installed, 0 to remove";

fn versions(p: &Probe, names: &[String]) -> HashMap<String, String> {
    names
        .iter()
        .map(|n| {
            let v = p
                .pkgs
                .get(base(n))
                .filter(|x| x.installed)
                .map(|x| x.version.clone())
                .unwrap_or_else(|| "absent".into());
            (base(n).to_string(), v)
        })
        .collect()
}

#[async_trait]
impl Module for Apt {
    const NAME: &'static str = "apt";
    type Args = Args;
    type Plan = AptPlan;

    fn check_args(args: &Args) -> Result<(), String> {
        let state = args.state()?;
        args.upgrade()?;
        args.checked_names()?;
        if args.all_installed() && state == State::Latest && !args.names().is_empty() {
            // ansible-core's words (it fails when it runs).
            return Err("unable to install additional packages when upgrading all installed packages".into());
        }
        if args.named() && args.upgrade.is_some() {
            // ansible-core's words (it checks the arguments given).
            return Err("parameters are mutually exclusive: deb|package|upgrade".into());
        }
        if args.deb.is_some() {
            // ansible-core's words.
            if args.named() || args.upgrade.is_some() {
                return Err("parameters are mutually exclusive: deb|package|upgrade".into());
            }
            if state != State::Present {
                return Err("deb only supports state=present".into());
            }
            args.debs()?;
        } else if !args.named()
            && !args.updates_cache()
            && args.upgrade()?.is_none()
            && !args.autoremove
            && !args.autoclean
            && !args.clean
        {
            return Err(
                "nothing to do: give `name`, `deb`, `update_cache`, `upgrade`, `autoremove`, `autoclean` or `clean`"
                    .into(),
            );
        }
        Ok(())
    }

    async fn plan(&self, args: &Args, cx: &ModuleCtx<'_>) -> Result<Plan<AptPlan>, ModuleError> {
        let state = args.state().map_err(ModuleError::Args)?;
        let upgrade = args.upgrade().map_err(ModuleError::Args)?;
        let names = args.checked_names().map_err(ModuleError::Args)?;
        let out = cx.exec(probe_command(state, &names, upgrade)).await?;
        if out.rc != 0 {
            return Err(probe_failed("reading installed packages", &out));
        }
        let p = parse(&out.stdout_str());
        let cache_time = p.cache.unwrap_or(0);
        let debs = args.debs().map_err(ModuleError::Args)?;
        let nothing_named = !args.named() && upgrade.is_none() && debs.is_empty();
        // ansible-core's order: `clean` first, and alone it is the whole task.
        if args.clean && nothing_named {
            let mut ch = Change::new(
                AptPlan { update: false, clean: true, cache_time, work: Work::Clean, before: HashMap::new() },
                Action::Delete,
                "package",
                "apt cache (apt-get clean)",
            );
            // ansible-core runs `apt-get clean` even in check mode; prov changes nothing there
            // and registers what that command prints (nothing).
            for k in ["msg", "stdout", "stderr"] {
                ch = ch.with_data(k, "");
            }
            ch = ch.with_data("stdout_lines", Vec::<String>::new()).with_data("stderr_lines", Vec::<String>::new());
            ch = ch.with_data("diff", empty_map());
            return Ok(Plan::Change(ch));
        }
        let mut deb_installs = Vec::new();
        if !debs.is_empty() {
            let out = cx.exec(deb_probe(&debs)).await?;
            match debs_to_install(args, &debs, &out.stdout_str()) {
                Ok(d) => deb_installs = d,
                Err(msg) => return Ok(Plan::Ok(Outcome::failed(msg))),
            }
        }
        let update = args.updates_cache()
            && match (args.cache_valid_time, p.cache) {
                (Some(valid), Some(t)) => p.now.saturating_sub(t) > valid,
                _ => true,
            };
        let check = cx.is_check();
        let mk = |work: Work, before: HashMap<String, String>| AptPlan {
            update,
            clean: args.clean,
            cache_time,
            work,
            before,
        };
        let cache_fields =
            |o: Outcome, updated: bool| o.with("cache_updated", updated).with("cache_update_time", cache_time);

        // The cache update alone (ansible-core then ends the task: neither `autoremove` nor
        // `autoclean` runs).
        if nothing_named && args.updates_cache() {
            if !update {
                return Ok(Plan::Ok(cache_fields(Outcome::ok(), false)));
            }
            let mut ch = Change::new(mk(Work::Nothing, HashMap::new()), Action::Modify, "package", "apt cache");
            ch.data.insert("cache_updated".into(), Value::from(true));
            ch.data.insert("cache_update_time".into(), Value::from(cache_time));
            return Ok(Plan::Change(ch));
        }

        if let Some(u) = upgrade {
            // ansible-core runs the upgrade (`--simulate` in check mode) and reads its output:
            // so does prov's plan, unless the cache update may bring something new.
            // With a cache update to come, the simulation would read the old cache: none.
            let sim = if update { None } else { Some(cx.exec(apt_get(u, args).flag("--simulate").build()).await?) };
            if let Some(sim) = &sim {
                if sim.rc != 0 {
                    return Ok(Plan::Ok(
                        Outcome::failed(format!("'apt-get {u}' failed: {}", sim.stderr_str()))
                            .with("stdout", sim.stdout_str().to_string())
                            .with("rc", sim.rc),
                    ));
                }
                if sim.stdout_str().contains(APT_GET_ZERO) {
                    let text = sim.stdout_str().to_string();
                    return Ok(Plan::Ok(outputs(Outcome::ok(), sim).with("msg", text)));
                }
            }
            let mut ch = Change::new(
                mk(Work::Upgrade(u), HashMap::new()),
                Action::Modify,
                "package",
                format!("apt-get {u} ({} packages)", p.upgrade),
            );
            if let (true, Some(sim)) = (check, &sim) {
                ch = simulated(ch, sim, cx, true);
            }
            return Ok(Plan::Change(ch));
        }

        if nothing_named && (args.autoclean || args.autoremove) {
            let op = if args.autoclean { "autoclean" } else { "autoremove" };
            let sim = cx.exec(cleanup(op, args).flag("--simulate").build()).await?;
            if sim.rc != 0 {
                return Ok(Plan::Ok(
                    outputs(Outcome::failed(format!("'apt-get {op}' failed: {}", sim.stderr_str())), &sim)
                        .with("rc", sim.rc),
                ));
            }
            let marker = if op == "autoclean" { "Del " } else { "The following packages will be REMOVED" };
            if !sim.stdout_str().contains(marker) {
                return Ok(Plan::Ok(outputs(Outcome::ok(), &sim).with("diff", diff_of(&sim, cx))));
            }
            let ch =
                Change::new(mk(Work::Cleanup(op), HashMap::new()), Action::Delete, "package", format!("apt-get {op}"));
            return Ok(Plan::Change(simulated(ch, &sim, cx, false)));
        }

        let mut install = Vec::new();
        let mut remove = Vec::new();
        let mut planned = Vec::new();
        let mut before = String::new();
        let mut after = String::new();
        for n in &names {
            let b = base(n);
            let pkg = p.pkgs.get(b).cloned().unwrap_or_default();
            let now = if pkg.installed { pkg.version.clone() } else { "absent".into() };
            let pin = n.split_once('=').map(|(_, v)| v.to_string());
            if args.only_upgrade && !pkg.installed && state != State::Absent {
                // ansible-core skips it: only_upgrade upgrades installed packages.
                continue;
            }
            if state != State::Absent && !pkg.installed && !pkg.known && !update && !is_pattern(n) {
                // ansible-core looks the name up in the cache before it runs apt-get.
                return Ok(Plan::Ok(Outcome::failed(format!("No package matching '{n}' is available"))));
            }
            let (act, want) = match state {
                State::Present => match &pin {
                    Some(v) if pkg.installed && &pkg.version != v => (Some(Action::Modify), v.clone()),
                    Some(v) if !pkg.installed => (Some(Action::Create), v.clone()),
                    None if !pkg.installed => (Some(Action::Create), "installed".into()),
                    _ => (None, now.clone()),
                },
                State::Latest => match (&pkg.candidate, pkg.installed) {
                    (_, false) => (Some(Action::Create), pkg.candidate.clone().unwrap_or_else(|| "latest".into())),
                    (Some(c), true) if c != &pkg.version => (Some(Action::Modify), c.clone()),
                    _ if update => (Some(Action::Modify), "latest".into()),
                    _ => (None, now.clone()),
                },
                State::Absent => {
                    if pkg.installed || (args.purge && pkg.config_only) {
                        (Some(Action::Delete), "absent".into())
                    } else {
                        (None, now.clone())
                    }
                }
            };
            if let Some(a) = act {
                if a == Action::Delete {
                    remove.push(n.clone());
                } else {
                    install.push(n.clone());
                }
                planned.push(Planned { action: a, resource: "package", name: b.to_string() });
                before.push_str(&format!("{b}: {now}\n"));
                after.push_str(&format!("{b}: {want}\n"));
            }
        }
        for [file, pkg, version, now] in &deb_installs {
            install.push(file.clone());
            let action = if now == "absent" { Action::Create } else { Action::Modify };
            planned.push(Planned { action, resource: "package", name: pkg.clone() });
            before.push_str(&format!("{pkg}: {now}\n"));
            after.push_str(&format!("{pkg}: {version}\n"));
        }
        if install.is_empty() && remove.is_empty() {
            if args.deb.is_some() {
                // What ansible-core's apt returns when every file is installed already.
                return Ok(Plan::Ok(Outcome::ok().with("stdout", "").with("stderr", "").with("diff", "")));
            }
            if state == State::Absent {
                // ansible-core's remove(): nothing to remove, nothing registered (check mode
                // updates no cache).
                if !update || check {
                    return Ok(Plan::Ok(Outcome::ok()));
                }
            } else if !update || check {
                // Nothing to install: unchanged, even when the cache was (or would be) updated.
                return Ok(Plan::Ok(cache_fields(Outcome::ok(), update)));
            }
            // The cache update still runs, as in ansible-core; the task reports no change.
            let work = if state == State::Absent { Work::Remove(Vec::new()) } else { Work::Install(Vec::new()) };
            let mut ch = Change::new(mk(work, versions(&p, &names)), Action::Modify, "package", "apt cache");
            ch.planned = vec![Planned { action: Action::Modify, resource: "package", name: "apt cache".into() }];
            return Ok(Plan::Change(ch));
        }
        if update {
            planned.push(Planned { action: Action::Modify, resource: "package", name: "apt cache".into() });
        }
        let is_deb = args.deb.is_some();
        let work = if !remove.is_empty() {
            Work::Remove(remove.clone())
        } else if is_deb {
            Work::Debs(install.clone())
        } else {
            Work::Install(install.clone())
        };
        let mut ch = Change::new(mk(work, versions(&p, &names)), Action::Modify, "package", "");
        ch.planned = planned;
        if !before.is_empty() || !after.is_empty() {
            ch = ch.with_diff("packages", before, after);
        }
        // Check mode registers apt-get's simulation, as ansible-core's does, when the cache is
        // current. With an update to come (a new host: `prov plan` before the first run) the
        // simulation would read the old cache, so the planned change stands without it.
        if check && !is_deb && !update {
            let cmd =
                if remove.is_empty() { install_cmd(args, &install, true) } else { remove_cmd(args, &remove, true) };
            let sim = cx.exec(cmd.build()).await?;
            if sim.rc == 0 {
                ch = simulated(ch, &sim, cx, false);
                if remove.is_empty() {
                    ch.data.insert("cache_updated".into(), Value::from(false));
                    ch.data.insert("cache_update_time".into(), Value::from(cache_time));
                }
            }
        }
        Ok(Plan::Change(ch))
    }

    async fn apply(&self, args: &Args, plan: AptPlan, cx: &ModuleCtx<'_>) -> Result<Outcome, ModuleError> {
        let state = args.state().map_err(ModuleError::Args)?;
        if plan.clean {
            let out = cx.exec(Cmd::new("apt-get").flag("clean").build()).await?;
            if out.rc != 0 || !out.stderr.is_empty() {
                let msg = if out.rc != 0 {
                    "apt-get clean failed".to_string()
                } else {
                    format!("apt-get clean failed: {}", out.stderr_str())
                };
                return Ok(Outcome::failed(msg).with("stdout", out.stdout_str().to_string()).with("rc", out.rc));
            }
            if let Work::Clean = plan.work {
                let text = out.stdout_str().to_string();
                let mut o = outputs(Outcome::ok(), &out).with("msg", text).with("diff", diff_of(&out, cx));
                o.changed = true;
                return Ok(o);
            }
        }
        let mut cache_time = plan.cache_time;
        let mut cache_updated = false;
        if plan.update {
            let out = cx.exec(format!("{APT} update -q")).await?;
            if out.rc != 0 {
                return Ok(Outcome::failed(format!(
                    "Failed to update apt cache after 1 retries: {}",
                    out.stderr_str().trim()
                )));
            }
            // As ansible-core: the cache counts as updated when its time moved (the stamp of
            // the last successful update, else the lists' directory).
            let t = cx.exec(CACHE_TIME).await?;
            let now = t.stdout_str().trim().parse().unwrap_or(0);
            cache_updated = now != cache_time;
            cache_time = now;
        }
        let with_cache = |o: Outcome| o.with("cache_updated", cache_updated).with("cache_update_time", cache_time);
        let run = |s: Sh| match args.policy_rc_d {
            Some(code) => with_policy_rc_d(s, code),
            None => s,
        };
        match plan.work {
            Work::Clean => unreachable!("handled above"),
            Work::Nothing => {
                let mut o = with_cache(Outcome::ok());
                o.changed = cache_updated;
                Ok(o)
            }
            Work::Upgrade(u) => {
                let out = cx.exec(run(apt_get(u, args).build())).await?;
                if out.rc != 0 {
                    return Ok(Outcome::failed(format!("'apt-get {u}' failed: {}", out.stderr_str()))
                        .with("stdout", out.stdout_str().to_string())
                        .with("rc", out.rc));
                }
                let text = out.stdout_str().to_string();
                let changed = !text.contains(APT_GET_ZERO);
                let mut o = outputs(Outcome::ok(), &out).with("msg", text);
                if changed {
                    o = o.with("diff", diff_of(&out, cx));
                }
                o.changed = changed;
                Ok(o)
            }
            Work::Cleanup(op) => {
                let out = cx.exec(run(cleanup(op, args).build())).await?;
                if out.rc != 0 {
                    return Ok(outputs(Outcome::failed(format!("'apt-get {op}' failed: {}", out.stderr_str())), &out)
                        .with("rc", out.rc));
                }
                let marker = if op == "autoclean" { "Del " } else { "The following packages will be REMOVED" };
                let mut o = outputs(Outcome::ok(), &out).with("diff", diff_of(&out, cx));
                o.changed = out.stdout_str().contains(marker);
                Ok(o)
            }
            Work::Remove(names) => {
                if names.is_empty() {
                    return Ok(Outcome::ok());
                }
                let out = cx.exec(run(remove_cmd(args, &names, false).build())).await?;
                if out.rc != 0 {
                    let list = names.iter().map(|n| base(n)).collect::<Vec<_>>().join(" ");
                    return Ok(outputs(
                        Outcome::failed(format!("'apt-get remove {list}' failed: {}", out.stderr_str())),
                        &out,
                    )
                    .with("rc", out.rc));
                }
                let mut o = outputs(Outcome::ok(), &out).with("diff", diff_of(&out, cx));
                o.changed = true;
                Ok(o)
            }
            Work::Install(names) | Work::Debs(names) => {
                let debs = args.deb.is_some();
                let with_cache = |o: Outcome| if debs { o } else { with_cache(o) };
                if names.is_empty() {
                    return Ok(with_cache(Outcome::ok()));
                }
                let out = cx.exec(run(install_cmd(args, &names, false).build())).await?;
                if out.rc != 0 {
                    // ansible-core: "'<command>' failed: <stderr>", the output and `rc`.
                    let o = outputs(Outcome::failed(format!("apt-get failed: {}", out.stderr_str().trim())), &out)
                        .with("rc", out.rc);
                    return Ok(with_cache(o));
                }
                let mut changed = true;
                if state == State::Latest {
                    // `latest` may find nothing newer after all: compare versions.
                    let names = args.names();
                    let now = cx.exec(probe_command(State::Present, &names, None)).await?;
                    changed = versions(&parse(&now.stdout_str()), &names) != plan.before;
                }
                let mut o = with_cache(outputs(Outcome::ok(), &out).with("diff", diff_of(&out, cx)));
                o.changed = changed;
                Ok(o)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;
    use prov_core::testutil::FakeConnection;
    use serde_json::json;

    const PROBE: &str = "command -v dpkg-query";

    /// ansible-core's apt: items are stripped; `*` is every installed package: with `state:
    /// latest` it is `upgrade: yes`, and naming more packages beside it fails.
    #[test]
    fn names_are_stripped_and_star_with_latest_upgrades() {
        let a = |v: serde_json::Value| serde_json::from_value::<Args>(v).expect("args");
        assert_eq!(a(json!({"name": "curl, git"})).names(), ["curl", "git"]);
        assert_eq!(a(json!({"name": "*", "state": "latest"})).upgrade(), Ok(Some("upgrade")));
        assert_eq!(a(json!({"name": "*"})).upgrade(), Ok(None));
        // YAML's yes and no are the choices; text is matched as written, as ansible-core does.
        assert_eq!(a(json!({"upgrade": true})).upgrade(), Ok(Some("upgrade")));
        assert_eq!(a(json!({"upgrade": false})).upgrade(), Ok(None));
        assert_eq!(
            a(json!({"upgrade": "Dist"})).upgrade(),
            Err("value of upgrade must be one of: dist, full, no, safe, yes, got: Dist".into())
        );
        assert!(a(json!({"name": "*"})).names().is_empty() && a(json!({"name": "*"})).named());
        assert_eq!(
            Apt::check_args(&a(json!({"name": ["*", "git"], "state": "latest"}))),
            Err("unable to install additional packages when upgrading all installed packages".into())
        );
    }

    #[tokio::test]
    async fn installed_is_ok() {
        let h = fake(FakeConnection::new().on(PROBE, 0, "now 100\npkg curl\tii \t7.88\npkg git:amd64\tii \t2.39\n"));
        let o = run::<Apt>(json!({"name": ["curl", "git"]}), &h.ctx()).await;
        assert!(!o.changed && !o.failed, "{o:?}");
        let calls = h.conn.calls();
        assert_eq!(calls.len(), 1);
        assert!(
            calls[0]
                .contains("dpkg-query -W -f='pkg ${binary:Package}\\t${db:Status-Abbrev}\\t${Version}\\n' -- curl git"),
            "{}",
            calls[0]
        );
    }

    #[tokio::test]
    async fn installs_missing() {
        let known = "policy nginx:\npolicy   Candidate: 1.22\n";
        let h = fake(FakeConnection::new().on(
            PROBE,
            0,
            &format!("now 100\npkg curl\tii \t7.88\npkg nginx\tun \t\n{known}"),
        ));
        let o = run::<Apt>(json!({"name": "curl,nginx", "install_recommends": false}), &h.ctx()).await;
        assert!(o.changed && !o.failed, "{o:?}");
        assert_eq!(
            h.conn.calls()[1],
            "DEBIAN_FRONTEND=noninteractive apt-get install -y -q -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold --no-install-recommends -- nginx"
        );
        assert_eq!((o.diffs[0].before.as_str(), o.diffs[0].after.as_str()), ("nginx: absent\n", "nginx: installed\n"));
    }

    #[tokio::test]
    async fn option_like_package_names_are_refused_before_anything_runs() {
        let h = fake(FakeConnection::new().on(PROBE, 0, "now 1\n"));
        for name in [json!(["-oDir::Bin::dpkg=/tmp/evil.sh", "-s", "hello"]), json!("../../tmp/x"), json!("a b")] {
            let e = run_err::<Apt>(json!({ "name": name }), &h.ctx()).await;
            assert!(e.contains("not a valid package name"), "{e}");
        }
        assert!(h.conn.calls().is_empty(), "{:?}", h.conn.calls());
    }

    #[tokio::test]
    async fn cache_valid_time() {
        let h = fake(FakeConnection::new().on(PROBE, 0, "now 1000\ncache 900\n"));
        let o = run::<Apt>(json!({"update_cache": true, "cache_valid_time": 3600}), &h.ctx()).await;
        assert!(!o.changed);
        let h = fake(FakeConnection::new().on(PROBE, 0, "now 10000\ncache 900\n"));
        let o = run::<Apt>(json!({"update_cache": true, "cache_valid_time": 3600}), &h.ctx()).await;
        assert!(o.changed);
        assert_eq!(h.conn.calls()[1], "DEBIAN_FRONTEND=noninteractive apt-get update -q");
        assert_eq!(o.data["cache_updated"], Value::from(true));
        // The stamp is not touched: the cache's time is what apt-get left (the fake's 900
        // again, so ansible-core's rule says the update changed nothing).
        let h = fake(FakeConnection::new().on(PROBE, 0, "now 10000\ncache 900\n").on("stat -c %Y", 0, "900\n"));
        let o = run::<Apt>(json!({"update_cache": true}), &h.ctx()).await;
        assert!(!o.changed, "{o:?}");
        assert_eq!(
            (o.data["cache_updated"].clone(), o.data["cache_update_time"].clone()),
            (Value::from(false), Value::from(900))
        );
        // Alone, it sets update_cache (ansible-core since 2.4; prov refused it: "nothing to do").
        let h = fake(FakeConnection::new().on(PROBE, 0, "now 10000\ncache 900\n"));
        let o = run::<Apt>(json!({"cache_valid_time": 3600}), &h.ctx()).await;
        assert!(o.changed && h.conn.calls()[1].contains("apt-get update"), "{o:?}");
    }

    #[tokio::test]
    async fn absent_and_purge() {
        let h = fake(FakeConnection::new().on(PROBE, 0, "now 1\npkg telnet\trc \t\n"));
        let o = run::<Apt>(json!({"name": "telnet", "state": "absent"}), &h.ctx()).await;
        assert!(!o.changed);
        let o = run::<Apt>(json!({"name": "telnet", "state": "absent", "purge": true}), &h.ctx()).await;
        assert!(o.changed);
        assert_eq!(
            h.conn.calls()[2],
            "DEBIAN_FRONTEND=noninteractive apt-get remove -y -q -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold --purge -- telnet"
        );
    }

    #[tokio::test]
    async fn latest_compares_candidate() {
        let text = "now 1\npkg curl\tii \t1\npolicy curl:\npolicy   Installed: 1\npolicy   Candidate: 2\n";
        let h = fake_check(FakeConnection::new().on(PROBE, 0, text));
        let o = run::<Apt>(json!({"name": "curl", "state": "latest"}), &h.ctx()).await;
        assert!(o.changed);
        let calls = h.conn.calls();
        assert_eq!(calls.len(), 2, "check mode: the probe and apt-get's simulation");
        // `--simulate` is an option: before the `--` (after it, apt-get would take it for a
        // package name, fail, and check mode would show nothing of the change).
        assert!(calls[1].contains(" install ") && calls[1].ends_with(" --simulate -- curl"), "{}", calls[1]);
        assert_eq!(o.diffs[0].after, "curl: 2\n");
        let text = "now 1\npkg curl\tii \t2\npolicy curl:\npolicy   Installed: 2\npolicy   Candidate: 2\n";
        let h = fake(FakeConnection::new().on(PROBE, 0, text));
        assert!(!run::<Apt>(json!({"name": "curl", "state": "latest"}), &h.ctx()).await.changed);
    }

    #[tokio::test]
    async fn failures() {
        let h = fake(FakeConnection::new().on(PROBE, 0, "now 1\npolicy nope:\n").on("DEBIAN", 100, ""));
        let o = run::<Apt>(json!({"name": "nope"}), &h.ctx()).await;
        assert!(o.failed && o.data.contains_key("stdout") && o.data["rc"] == Value::from(100), "{o:?}");
        // A name apt does not know fails before apt-get runs, with ansible-core's words.
        let h = fake(FakeConnection::new().on(PROBE, 0, "now 1\n"));
        let o = run::<Apt>(json!({"name": "no-such"}), &h.ctx()).await;
        assert_eq!(o.msg.as_deref(), Some("No package matching 'no-such' is available"));
        assert_eq!(h.conn.calls().len(), 1);
        let h = fake(FakeConnection::new().on(PROBE, 127, ""));
        assert!(run_err::<Apt>(json!({"name": "x"}), &h.ctx()).await.contains("reading installed packages"));
        assert!(run_err::<Apt>(json!({"name": "x", "state": "weird"}), &h.ctx()).await.contains("state"));
    }

    const DEB_PROBE: &str = "for f in";

    #[tokio::test]
    async fn deb_installs_a_file_with_apt_get_unless_that_version_is_installed() {
        let h = fake(FakeConnection::new().on(PROBE, 0, "now 1\n").on(DEB_PROBE, 0, "deb install\tprov-x\t2.0\t\n"));
        let o = run::<Apt>(json!({"deb": "/srv/my debs/prov-x_2.0.deb"}), &h.ctx()).await;
        assert!(o.changed && !o.failed, "{o:?}");
        let calls = h.conn.calls();
        assert!(calls[1].starts_with("for f in '/srv/my debs/prov-x_2.0.deb'; do"), "{}", calls[1]);
        assert_eq!(
            calls[2],
            "DEBIAN_FRONTEND=noninteractive apt-get install -y -q -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold --no-install-recommends -- '/srv/my debs/prov-x_2.0.deb'"
        );
        assert_eq!((o.diffs[0].before.as_str(), o.diffs[0].after.as_str()), ("prov-x: absent\n", "prov-x: 2.0\n"));
        let h = fake(FakeConnection::new().on(PROBE, 0, "now 1\n").on(DEB_PROBE, 0, "deb same\tprov-x\t2.0\t2.0\n"));
        let o = run::<Apt>(json!({"deb": "prov-x_2.0.deb"}), &h.ctx()).await;
        assert!(!o.changed && !o.failed, "{o:?}");
        assert_eq!(o.data["stdout"], Value::from(""));
        assert!(h.conn.calls()[1].starts_with("for f in ./prov-x_2.0.deb; do"), "a bare name is a file to apt-get");
        assert_eq!(h.conn.calls().len(), 2);
    }

    #[tokio::test]
    async fn deb_older_than_installed_fails_unless_downgrades_are_allowed() {
        let older = || FakeConnection::new().on(PROBE, 0, "now 1\n").on(DEB_PROBE, 0, "deb older\tprov-x\t1.0\t2.0\n");
        let h = fake(older());
        let o = run::<Apt>(json!({"deb": "/srv/prov-x_1.0.deb"}), &h.ctx()).await;
        assert!(o.failed && !o.changed, "{o:?}");
        assert_eq!(o.msg.as_deref(), Some("A later version is already installed"));
        assert_eq!(h.conn.calls().len(), 2);
        let h = fake(older());
        let o = run::<Apt>(json!({"deb": "/srv/prov-x_1.0.deb", "allow_downgrade": true}), &h.ctx()).await;
        assert!(o.changed && !o.failed, "{o:?}");
        assert!(h.conn.calls()[2].contains(" --allow-downgrades --no-install-recommends -- /srv/prov-x_1.0.deb"));
        assert_eq!((o.diffs[0].before.as_str(), o.diffs[0].after.as_str()), ("prov-x: 2.0\n", "prov-x: 1.0\n"));
        let h = fake(FakeConnection::new().on(PROBE, 0, "now 1\n").on(DEB_PROBE, 0, "deb missing\n"));
        let o = run::<Apt>(json!({"deb": "/srv/nope.deb"}), &h.ctx()).await;
        assert_eq!(
            o.msg.as_deref(),
            Some(
                "Unable to install package: E:Could not open file /srv/nope.deb - open (2: No such file or directory)"
            )
        );
    }

    #[tokio::test]
    async fn deb_arguments_ansible_core_refuses_are_refused() {
        let h = fake(FakeConnection::new());
        for (args, msg) in [
            (json!({"deb": "/a.deb", "name": "x"}), "parameters are mutually exclusive: deb|package|upgrade"),
            (json!({"deb": "/a.deb", "upgrade": "dist"}), "parameters are mutually exclusive: deb|package|upgrade"),
            (json!({"deb": "/a.deb", "state": "absent"}), "deb only supports state=present"),
            (json!({"deb": "https://example.invalid/a.deb"}), "prov does not download"),
        ] {
            let e = run_err::<Apt>(args, &h.ctx()).await;
            assert!(e.contains(msg), "{e}");
        }
        assert!(h.conn.calls().is_empty());
    }

    #[tokio::test]
    async fn only_upgrade_leaves_packages_that_are_not_installed_and_flags_reach_apt_get() {
        let h = fake(FakeConnection::new().on(PROBE, 0, "now 1\npkg curl\tii \t1\npkg nginx\tun \t\npolicy curl:\n"));
        let o = run::<Apt>(json!({"name": ["curl=2", "nginx"], "only_upgrade": true}), &h.ctx()).await;
        assert!(o.changed, "{o:?}");
        let install = &h.conn.calls()[1];
        assert!(install.contains(" --only-upgrade -- curl=2"), "{install}");
        let h = fake(FakeConnection::new().on(PROBE, 0, "now 1\npkg nginx\tun \t\n"));
        let o = run::<Apt>(json!({"name": "nginx", "only_upgrade": true}), &h.ctx()).await;
        assert!(!o.changed, "nothing installed: {o:?}");
        let h = fake(FakeConnection::new().on(PROBE, 0, "now 1\npolicy x:\n"));
        run::<Apt>(
            json!({"name": "x", "allow_unauthenticated": true, "allow_change_held_packages": true, "fail_on_autoremove": true}),
            &h.ctx(),
        )
        .await;
        assert!(
            h.conn.calls()[1].contains(" --allow-unauthenticated --allow-change-held-packages --no-remove -- x"),
            "{}",
            h.conn.calls()[1]
        );
    }

    /// ansible-core 2.19's apt, read in its source and run on Debian 12: `autoclean` and
    /// `autoremove` with no package named run alone and register apt-get's output, changed when
    /// it deletes ("Del ") or removes something; after `update_cache` the task ends at the
    /// update; `clean` alone is always a change.
    #[tokio::test]
    async fn cleanup_operations_run_alone_and_register_apt_gets_output_as_ansible_core() {
        let h = fake(FakeConnection::new().on(PROBE, 0, "now 1\ncache 1\n").on(
            "DEBIAN_FRONTEND=noninteractive apt-get -y",
            0,
            "Reading package lists...\nDel hello 2.10 [56 kB]\n",
        ));
        let o = run::<Apt>(json!({"autoclean": true, "autoremove": true}), &h.ctx()).await;
        assert!(o.changed, "{o:?}");
        let calls = h.conn.calls();
        assert_eq!(
            calls[2],
            "DEBIAN_FRONTEND=noninteractive apt-get -y -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold autoclean",
            "autoclean only: ansible-core's task ends there"
        );
        for k in ["stdout", "stderr", "stdout_lines", "stderr_lines", "diff"] {
            assert!(o.data.contains_key(k), "{k}: {o:?}");
        }
        assert!(!o.data.contains_key("cache_updated") && !o.data.contains_key("rc"), "{o:?}");

        let h = fake(FakeConnection::new().on(PROBE, 0, "now 1\ncache 1\n").on(
            "DEBIAN_FRONTEND=noninteractive apt-get -y",
            0,
            "0 upgraded\n",
        ));
        let o = run::<Apt>(json!({"autoremove": true}), &h.ctx()).await;
        assert!(!o.changed && o.data.contains_key("stdout"), "{o:?}");
        assert_eq!(h.conn.calls().len(), 2, "nothing to remove: nothing runs but the simulation");

        let h = fake(FakeConnection::new().on(PROBE, 0, "now 99999\ncache 1\n").on("stat -c %Y", 0, "5\n"));
        let o = run::<Apt>(json!({"update_cache": true, "autoremove": true}), &h.ctx()).await;
        assert!(o.changed && !h.conn.calls().iter().any(|c| c.contains("autoremove")), "{:?}", h.conn.calls());
        assert_eq!(o.data["cache_update_time"], Value::from(5));

        let h = fake(FakeConnection::new().on(PROBE, 0, "now 1\n"));
        let o = run::<Apt>(json!({"clean": true}), &h.ctx()).await;
        assert!(o.changed && o.data.contains_key("msg"), "{o:?}");
        assert_eq!(h.conn.calls()[1], "apt-get clean");
    }

    /// What ansible-core's apt registers on each path (fields seen in conformance/returns_vm):
    /// an install `stdout`/`stderr`/`diff` and the cache's `cache_updated`/`cache_update_time`;
    /// a removal no cache fields; nothing to install the cache fields only; no `rc`.
    #[tokio::test]
    async fn each_path_registers_the_fields_ansible_core_registers() {
        let probe = "now 1\ncache 7\npkg hello\tii \t2.10\npolicy hello:\npolicy   Candidate: 2.10\npolicy sl:\n";
        let keys = data_keys;
        let h = fake(FakeConnection::new().on(PROBE, 0, probe));
        let o = run::<Apt>(json!({"name": "sl"}), &h.ctx()).await;
        assert_eq!(
            keys(&o),
            ["cache_update_time", "cache_updated", "diff", "stderr", "stderr_lines", "stdout", "stdout_lines"]
        );
        let o = run::<Apt>(json!({"name": "hello"}), &h.ctx()).await;
        assert_eq!(keys(&o), ["cache_update_time", "cache_updated"]);
        assert_eq!(o.data["cache_update_time"], Value::from(7));
        let o = run::<Apt>(json!({"name": "hello", "state": "absent"}), &h.ctx()).await;
        assert_eq!(keys(&o), ["diff", "stderr", "stderr_lines", "stdout", "stdout_lines"]);
        let o = run::<Apt>(json!({"name": "sl", "state": "absent"}), &h.ctx()).await;
        assert!(keys(&o).is_empty() && !o.changed, "{o:?}");
        // Check mode registers apt-get's simulation.
        let h = fake_check(FakeConnection::new().on(PROBE, 0, probe));
        let o = run::<Apt>(json!({"name": "sl"}), &h.ctx()).await;
        assert!(o.changed);
        assert_eq!(
            keys(&o),
            ["cache_update_time", "cache_updated", "diff", "stderr", "stderr_lines", "stdout", "stdout_lines"]
        );
    }

    #[tokio::test]
    async fn local_probe_parses() {
        // dpkg-query exists on this Debian box: the probe runs and parses.
        let h = LocalHost::new();
        let args: Args =
            prov_core::module::args_from_value(&j(json!({"name": ["dpkg", "surely-not-a-package"]}))).unwrap();
        let out = h.ctx().exec(probe_command(State::Present, &args.names(), None)).await.unwrap();
        let p = parse(&out.stdout_str());
        assert!(p.pkgs.get("dpkg").is_some_and(|x| x.installed), "{p:?}", p = out.stdout_str());
        assert!(!p.pkgs.get("surely-not-a-package").is_some_and(|x| x.installed));
    }
}
