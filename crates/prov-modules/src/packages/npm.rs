//! `npm` (community.general): installs, updates and removes Node.js packages with npm on the
//! target, globally or in a project directory.
//!
//! Arguments (as in Ansible): `name` (a package, or a URL or path npm takes), `version`,
//! `path` (the project directory, created when missing; required unless `global`), `global`,
//! `executable` (the npm to run, split at spaces: `/opt/nvm/bin/npm --loglevel=error`),
//! `registry`, `state` (`present`, `absent`, `latest`), `ci` (`npm ci`), `production`,
//! `ignore_scripts`, `unsafe_perm`, `no_optional`, `no_bin_links`, `force` (each its npm flag).
//!
//! It decides as community.general's module does, from `npm list --json --long`: `present`
//! installs when `name@version` (or `name`, or any dependency of the project when there is no
//! name) is not listed, so a version range such as `^1.0` installs every time; `latest` also
//! runs `npm update` when `npm outdated` prints anything; `absent` uninstalls a listed name;
//! `ci` runs `npm ci` every time. The listing and `npm outdated` run in check mode too (and
//! create `path`, as the module does). Registers only `changed`; a failed npm command registers
//! `cmd`, `rc`, `stdout`, `stderr` and `msg` as ansible-core's `run_command` does. The package
//! goes to npm after `--`, so it is never read as an option.
//!
//! ```yaml
//! - community.general.npm:
//!     name: pm2
//!     version: "5.4.2"
//!     global: true
//! ```

use crate::util::{or_fail, py_truthy, required_bin, run_failed};
use async_trait::async_trait;
use prov_core::args::lenient_bool;
use prov_core::cmd::{Sh, Word, WordKind};
use prov_core::connection::ExecOutput;
use prov_core::module::{Action, Change, Module, ModuleCtx, ModuleError, Outcome, Plan};
use serde::Deserialize;

fn present() -> String {
    "present".into()
}

/// Arguments of `npm`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    /// The package.
    #[serde(default, deserialize_with = "crate::util::stringish")]
    pub name: Option<String>,
    /// The project directory.
    #[serde(default)]
    pub path: Option<String>,
    /// The version (`name@version`).
    #[serde(default, deserialize_with = "crate::util::stringish")]
    pub version: Option<String>,
    /// Install into npm's global prefix.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub global: bool,
    /// The npm to run, with options of its own.
    #[serde(default)]
    pub executable: Option<String>,
    /// `--ignore-scripts`.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub ignore_scripts: bool,
    /// `--unsafe-perm`.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub unsafe_perm: bool,
    /// Run `npm ci`.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub ci: bool,
    /// `--production` (install, update and ci).
    #[serde(default, deserialize_with = "lenient_bool")]
    pub production: bool,
    /// `--registry`.
    #[serde(default)]
    pub registry: Option<String>,
    /// `present`, `absent` or `latest`.
    #[serde(default = "present")]
    pub state: String,
    /// `--no-optional`.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub no_optional: bool,
    /// `--no-bin-links`.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub no_bin_links: bool,
    /// `--force`.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub force: bool,
}

/// The `npm` module.
#[derive(Debug, Default)]
pub struct Npm;

/// The npm commands `plan` decided to run.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Steps {
    ci: bool,
    install: bool,
    update: bool,
    uninstall: bool,
}

/// npm as it runs on this host: the program with its own options, and the directory.
struct Runner {
    exe: Vec<String>,
    cwd: Option<String>,
}

/// The words of one npm command after its subcommand, in community.general's order: the
/// flags before the package, the package, then the registry and the remaining flags.
#[derive(Debug, PartialEq)]
struct Words {
    before: Vec<String>,
    package: Option<String>,
    after: Vec<String>,
}

impl Args {
    /// `name@version`, or the name (for `absent`, or without a version).
    fn name_version(&self) -> Option<String> {
        let name = self.name.clone()?;
        Some(match &self.version {
            Some(v) if self.state != "absent" => format!("{name}@{v}"),
            _ => name,
        })
    }

    fn words(&self, sub: &[&str], with_name: bool) -> Words {
        let flag = |on: bool, f: &str| on.then(|| f.to_string());
        let production = self.production && sub.iter().any(|s| matches!(*s, "install" | "update" | "ci"));
        let before = [
            flag(self.global, "--global"),
            flag(production, "--production"),
            flag(self.ignore_scripts, "--ignore-scripts"),
            flag(self.unsafe_perm, "--unsafe-perm"),
        ];
        let mut after: Vec<String> = Vec::new();
        if let Some(r) = &self.registry {
            after.extend(["--registry".to_string(), r.clone()]);
        }
        let rest = [
            flag(self.no_optional, "--no-optional"),
            flag(self.no_bin_links, "--no-bin-links"),
            flag(self.force, "--force"),
        ];
        after.extend(rest.into_iter().flatten());
        Words {
            before: before.into_iter().flatten().collect(),
            package: if with_name { self.name_version() } else { None },
            after,
        }
    }
}

impl Runner {
    /// Runs `npm SUB... ...` (the package last, after `--`): its output, and the command as
    /// ansible-core shows it.
    async fn run(
        &self,
        a: &Args,
        sub: &[&'static str],
        with_name: bool,
        cx: &ModuleCtx<'_>,
    ) -> Result<(ExecOutput, Vec<String>), ModuleError> {
        let w = a.words(sub, with_name);
        let mut sh = Sh::lit("LANGUAGE=C LC_ALL=C");
        let words = self
            .exe
            .iter()
            .map(String::as_str)
            .chain(sub.iter().copied())
            .chain(w.before.iter().chain(&w.after).map(String::as_str));
        for word in words {
            sh = sh.word(Sh::quoted(word));
        }
        if let Some(p) = &w.package {
            sh = sh.word(Sh::lit("--")).word(Sh::quoted(p));
        }
        if let Some(d) = &self.cwd {
            let d = Word::new(WordKind::Path, d).map_err(|e| ModuleError::Failed(e.to_string()))?;
            sh = Sh::lit("cd").word(&d).and(sh);
        }
        let out = cx.exec(sh).await?;
        let shown = self
            .exe
            .iter()
            .cloned()
            .chain(sub.iter().map(|s| s.to_string()))
            .chain(w.before)
            .chain(w.package)
            .chain(w.after);
        Ok((out, shown.collect()))
    }

    /// `npm list --json --long`: the names (and `name@version`s) installed, and whether the
    /// package (or a dependency of the project) is missing.
    async fn list(&self, a: &Args, cx: &ModuleCtx<'_>) -> Result<Result<(Vec<String>, bool), Outcome>, ModuleError> {
        let (out, _) = self.run(a, &["list", "--json", "--long"], false, cx).await?;
        let text = out.stdout_str();
        let data: serde_json::Value = if text.is_empty() {
            serde_json::json!({})
        } else {
            match serde_json::from_str(&text) {
                Ok(v) => v,
                Err(e) => return Ok(Err(Outcome::failed(format!("Failed to parse NPM output with error {e}")))),
            }
        };
        let mut installed = Vec::new();
        let mut missing = false;
        match data.get("dependencies").and_then(|d| d.as_object()) {
            Some(deps) => {
                for (dep, props) in deps {
                    let flag = |k: &str| props.get(k).is_some_and(py_truthy);
                    if flag("missing") || flag("invalid") {
                        missing = true;
                        continue;
                    }
                    installed.push(dep.clone());
                    if let Some(v) = props.get("version").filter(|v| py_truthy(v)) {
                        let v = v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string());
                        installed.push(format!("{dep}@{v}"));
                    }
                }
                if a.name_version().is_some_and(|nv| !installed.contains(&nv)) {
                    missing = true;
                }
            }
            None => missing = true,
        }
        Ok(Ok((installed, missing)))
    }

    /// Whether `npm outdated` printed anything.
    async fn outdated(&self, a: &Args, cx: &ModuleCtx<'_>) -> Result<bool, ModuleError> {
        let (out, _) = self.run(a, &["outdated"], true, cx).await?;
        Ok(out.stdout_str().lines().any(|l| !l.is_empty()))
    }
}

impl Npm {
    /// Finds npm and prepares the project directory (created when missing, as the module does
    /// even in check mode).
    async fn setup(a: &Args, cx: &ModuleCtx<'_>) -> Result<Result<Runner, Outcome>, ModuleError> {
        if a.path.is_none() && !a.global {
            return Ok(Err(Outcome::failed("path must be specified when not using global")));
        }
        let exe: Vec<String> = match &a.executable {
            Some(e) => e.split(' ').map(str::to_string).collect(),
            None => vec![or_fail!(required_bin(cx, "npm").await, Err)],
        };
        let cwd = match &a.path {
            Some(p) => {
                let p = cx.expand_path(p).await?;
                let w = Word::new(WordKind::Path, &p).map_err(|e| ModuleError::Failed(e.to_string()))?;
                let make = Sh::lit("[ -e").word(&w).suffix(" ] || mkdir -p").word(&w);
                if cx.exec(make.then(Sh::lit("[ -d").word(&w).suffix(" ]"))).await?.rc != 0 {
                    return Ok(Err(Outcome::failed(format!("path {p} is not a directory"))));
                }
                Some(p)
            }
            None => None,
        };
        Ok(Ok(Runner { exe, cwd }))
    }
}

#[async_trait]
impl Module for Npm {
    const NAME: &'static str = "npm";
    const COLLECTIONS: &'static [&'static str] = &["community.general", "ansible.builtin"];
    type Args = Args;
    type Plan = Steps;

    fn check_args(a: &Args) -> Result<(), String> {
        if !matches!(a.state.as_str(), "present" | "absent" | "latest") {
            return Err(format!("value of state must be one of: present, absent, latest, got: {}", a.state));
        }
        if a.state == "absent" && a.name.is_none() {
            return Err("state is absent but all of the following are missing: name".into());
        }
        if a.executable.as_deref().is_some_and(|e| e.split(' ').next().unwrap_or_default().is_empty()) {
            return Err("executable: the npm to run is empty".into());
        }
        Ok(())
    }

    async fn plan(&self, a: &Args, cx: &ModuleCtx<'_>) -> Result<Plan<Steps>, ModuleError> {
        let npm = or_fail!(Self::setup(a, cx).await, Plan::Ok);
        let mut steps = Steps::default();
        if a.ci {
            steps.ci = true;
        } else {
            let (installed, missing) = or_fail!(npm.list(a, cx).await, Plan::Ok);
            match a.state.as_str() {
                "present" => steps.install = missing,
                "latest" => {
                    steps.install = missing;
                    steps.update = npm.outdated(a, cx).await?;
                }
                _ => steps.uninstall = a.name.as_ref().is_some_and(|n| installed.contains(n)),
            }
        }
        if steps == Steps::default() {
            return Ok(Plan::Ok(Outcome::ok()));
        }
        let shown = a.name.clone().or_else(|| a.path.clone()).unwrap_or_default();
        let action = if steps.uninstall { Action::Delete } else { Action::Run };
        Ok(Plan::Change(Change::new(steps, action, "npm", shown)))
    }

    async fn apply(&self, a: &Args, steps: Steps, cx: &ModuleCtx<'_>) -> Result<Outcome, ModuleError> {
        let npm = or_fail!(Self::setup(a, cx).await);
        let subs =
            [(steps.ci, "ci"), (steps.install, "install"), (steps.update, "update"), (steps.uninstall, "uninstall")];
        for (_, sub) in subs.into_iter().filter(|(on, _)| *on) {
            let (out, shown) = npm.run(a, &[sub], true, cx).await?;
            if out.rc != 0 {
                return Ok(run_failed(&shown, &out));
            }
        }
        Ok(Outcome { changed: true, ..Outcome::ok() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(v: serde_json::Value) -> Args {
        serde_json::from_value(v).expect("args")
    }

    #[test]
    fn commands_are_shown_in_community_generals_order() {
        let a = args(
            serde_json::json!({"name": "x", "version": "1.0", "global": true, "registry": "http://r", "force": true, "ignore_scripts": true}),
        );
        let w = a.words(&["install"], true);
        assert_eq!(w.before, ["--global", "--ignore-scripts"]);
        assert_eq!(w.package.as_deref(), Some("x@1.0"));
        assert_eq!(w.after, ["--registry", "http://r", "--force"]);
        let a = args(serde_json::json!({"name": "x", "version": 1.0, "path": "/p", "state": "absent"}));
        assert_eq!(a.words(&["uninstall"], true).package.as_deref(), Some("x"), "absent drops the version");
        let a = args(serde_json::json!({"path": "/p", "production": true}));
        assert!(a.words(&["list", "--json"], false).before.is_empty(), "--production only installs");
        assert_eq!(a.words(&["ci"], true).before, ["--production"]);
    }
}
