//! `pip`: installs, upgrades and removes Python packages with pip on the target, optionally in a
//! virtualenv it creates first.
//!
//! Arguments (as in Ansible): `name` (a list or `"a,b"`; version specifiers allowed: `bottle>0.10,<0.20`),
//! `version` (with one name), `requirements` (a requirements file, relative to `chdir`),
//! `state` (`present`, `absent`, `latest`, `forcereinstall`), `virtualenv` (created when its
//! `bin/activate` is missing, with `virtualenv_command`, default `virtualenv`;
//! `virtualenv_site_packages`, `virtualenv_python`), `extra_args` (pip options, split like a
//! shell), `editable`, `chdir` (the working directory, default `/tmp`), `executable` (the pip
//! to run; not with `virtualenv`), `umask`, `break_system_packages`.
//!
//! It decides as ansible-core's module does: pip runs every time, and the task changed when pip
//! printed "Successfully installed" ("Successfully uninstalled" for `absent`); with
//! `requirements` or a VCS URL, when `pip list` differs before and after. Check mode lists the
//! installed packages and compares each name's version specifier with them; with `extra_args`,
//! `requirements` or `state: latest` it reports a change without asking. Registers `cmd`, `name`,
//! `version`, `state`, `requirements`, `virtualenv`, `stdout` and `stderr`.
//!
//! pip runs with the task's Python: `ansible_python_interpreter` when it is set, else `python3`
//! on the target's PATH (`python -m pip` when it has pip), else `pip3`; in a virtualenv, its own
//! `bin/pip3` or `bin/pip`. A name may not start with `-` (prov refuses it: pip would read an
//! option; options go in `extra_args`).
//!
//! ```yaml
//! - pip:
//!     name: [flask==3.0.3, gunicorn]
//!     virtualenv: /srv/app/venv
//!     virtualenv_command: python3 -m venv
//! ```

use crate::commands::split_words;
use crate::util::{or_fail, path_test, required_bin, which};
use async_trait::async_trait;
use minijinja::Value;
use prov_core::args::{lenient_bool, StringList};
use prov_core::cmd::{Cmd, Sh, Word, WordKind};
use prov_core::connection::ExecOutput;
use prov_core::module::{Action, Change, Module, ModuleCtx, ModuleError, Outcome, Plan};
use serde::Deserialize;
use std::str::FromStr;

fn virtualenv() -> String {
    "virtualenv".into()
}

/// `state`.
#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// Installed.
    #[default]
    Present,
    /// Not installed.
    Absent,
    /// Upgraded (`install -U`).
    Latest,
    /// Reinstalled (`install -U --force-reinstall`).
    Forcereinstall,
}

impl State {
    fn name(self) -> &'static str {
        match self {
            State::Present => "present",
            State::Absent => "absent",
            State::Latest => "latest",
            State::Forcereinstall => "forcereinstall",
        }
    }

    fn words(self) -> &'static [&'static str] {
        match self {
            State::Present => &["install"],
            State::Absent => &["uninstall", "-y"],
            State::Latest => &["install", "-U"],
            State::Forcereinstall => &["install", "-U", "--force-reinstall"],
        }
    }
}

/// Arguments of `pip`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    /// Packages (names, specifiers, URLs).
    #[serde(default)]
    pub name: Option<StringList>,
    /// The version of the one package in `name`.
    #[serde(default, deserialize_with = "crate::util::stringish")]
    pub version: Option<String>,
    /// A requirements file on the target.
    #[serde(default)]
    pub requirements: Option<String>,
    /// A virtualenv to install into (created when missing).
    #[serde(default)]
    pub virtualenv: Option<String>,
    /// The new virtualenv sees the system's site-packages.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub virtualenv_site_packages: bool,
    /// The command that creates the virtualenv.
    #[serde(default = "virtualenv")]
    pub virtualenv_command: String,
    /// The Python of the new virtualenv (`-p`, virtualenv only).
    #[serde(default)]
    pub virtualenv_python: Option<String>,
    /// What to do.
    #[serde(default)]
    pub state: State,
    /// More pip options.
    #[serde(default)]
    pub extra_args: Option<String>,
    /// `-e`.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub editable: bool,
    /// The working directory.
    #[serde(default)]
    pub chdir: Option<String>,
    /// The pip to run.
    #[serde(default)]
    pub executable: Option<String>,
    /// The umask pip runs with (octal).
    #[serde(default, deserialize_with = "crate::util::stringish")]
    pub umask: Option<String>,
    /// `PIP_BREAK_SYSTEM_PACKAGES=1`.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub break_system_packages: bool,
}

/// The `pip` module.
#[derive(Debug, Default)]
pub struct Pip;

/// A package as the user wrote it, read as a PEP 508 requirement where it is one (as the
/// `packaging` library reads it): its canonical name, specifiers and the text pip gets.
#[derive(Debug, Clone, PartialEq)]
struct Requirement {
    /// PEP 503 name (`Prov_Other` → `prov-other`), or the text when it is no requirement.
    key: String,
    /// The version specifiers (`None`: not a requirement, such as a URL or a file).
    specs: Option<pep440_rs::VersionSpecifiers>,
    /// How pip is given it: name, sorted extras, sorted specifiers, URL and marker.
    text: String,
}

/// PEP 503's name normalization.
fn canonical(name: &str) -> String {
    let mut out = String::new();
    let mut sep = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            sep = true;
        } else {
            if sep {
                out.push('-');
                sep = false;
            }
            out.extend(c.to_lowercase());
        }
    }
    if sep {
        out.push('-');
    }
    out
}

impl Requirement {
    fn parse(raw: &str) -> Requirement {
        Requirement::read(raw).unwrap_or_else(|| Requirement {
            key: raw.to_string(),
            specs: None,
            text: raw.to_string(),
        })
    }

    /// `name [extras] (specifiers | @ url) ; marker`, or `None` when that is not what it is.
    fn read(raw: &str) -> Option<Requirement> {
        let s = raw.trim();
        let (body, marker) = match s.split_once(';') {
            Some((b, m)) => (b.trim(), Some(m.trim())),
            None => (s, None),
        };
        let end =
            body.find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))).unwrap_or(body.len());
        let name = &body[..end];
        if name.is_empty()
            || !name.starts_with(|c: char| c.is_ascii_alphanumeric())
            || !name.ends_with(|c: char| c.is_ascii_alphanumeric())
        {
            return None;
        }
        let mut rest = body[end..].trim_start();
        let mut extras: Vec<String> = Vec::new();
        if let Some(r) = rest.strip_prefix('[') {
            let (inner, after) = r.split_once(']')?;
            for e in inner.split(',').map(str::trim).filter(|e| !e.is_empty()) {
                if !e.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')) {
                    return None;
                }
                extras.push(e.to_string());
            }
            rest = after.trim_start();
        }
        extras.sort();
        extras.dedup();
        let mut text = name.to_string();
        if !extras.is_empty() {
            text.push_str(&format!("[{}]", extras.join(",")));
        }
        let mut url = None;
        let specs = if let Some(u) = rest.strip_prefix('@') {
            url = Some(u.trim());
            pep440_rs::VersionSpecifiers::from_str("").ok()?
        } else {
            let r = rest.strip_prefix('(').and_then(|r| r.strip_suffix(')')).unwrap_or(rest).trim();
            let specs = pep440_rs::VersionSpecifiers::from_str(r).ok()?;
            let mut parts: Vec<String> = r
                .split(',')
                .map(|p| p.chars().filter(|c| !c.is_whitespace()).collect())
                .filter(|p: &String| !p.is_empty())
                .collect();
            parts.sort();
            text.push_str(&parts.join(","));
            specs
        };
        if let Some(u) = url {
            if u.is_empty() {
                return None;
            }
            text.push_str(&format!("@ {u}"));
            if marker.is_some() {
                text.push(' ');
            }
        }
        if let Some(m) = marker {
            if m.is_empty() {
                return None;
            }
            text.push_str(&format!("; {m}"));
        }
        Some(Requirement { key: canonical(name), specs: Some(specs), text })
    }

    fn has_specifier(&self) -> bool {
        self.specs.as_ref().is_some_and(|s| !s.is_empty())
    }

    /// Whether a `NAME==VERSION` line of `pip list --format=freeze` satisfies it.
    fn satisfied_by(&self, line: &str) -> bool {
        let mut parts = line.split("==");
        let (Some(name), Some(version), None) = (parts.next(), parts.next(), parts.next()) else { return false };
        let Some(specs) = &self.specs else { return false };
        canonical(name) == self.key && pep440_rs::Version::from_str(version.trim()).is_ok_and(|v| specs.contains(&v))
    }
}

/// The names as ansible-core regroups them: the list is split at commas and a part that is
/// only a specifier (`<2.0`) joins the name before it (`['django>1.1', '<1.3']` → `django>1.1,<1.3`).
fn regroup(names: &[String]) -> Vec<String> {
    let parts: Vec<&str> = names.iter().flat_map(|n| n.split(',')).collect();
    let is_name = |p: &str| !["<", ">", "=", "!", "~"].iter().any(|op| p.trim_start().starts_with(op));
    let mut out = Vec::new();
    let mut cur: Vec<&str> = Vec::new();
    let mut in_brackets = false;
    for p in parts {
        if is_name(p) && !in_brackets && !cur.is_empty() {
            out.push(cur.join(","));
            cur.clear();
        }
        if p.contains('[') {
            in_brackets = true;
        }
        if in_brackets && p.contains(']') {
            in_brackets = false;
        }
        cur.push(p);
    }
    out.push(cur.join(","));
    out
}

/// Whether a name is a VCS URL (`git+https://...`): pip's output before and after then decides.
fn is_vcs(name: &str) -> bool {
    ["svn+", "git+", "hg+", "bzr+"].iter().any(|p| name.starts_with(p))
}

/// Whether the virtualenv command is the venv module (`python3 -m venv`) or `pyvenv`, which
/// take no `-p`.
fn is_venv_command(words: &[String]) -> bool {
    if words.first().is_some_and(|w| w == "pyvenv") {
        return true;
    }
    let mut it = words.iter().skip(1);
    while let Some(w) = it.next() {
        if w == "-m" {
            return it.next().is_some_and(|m| m == "venv");
        }
        if let Some(m) = w.strip_prefix("-m") {
            return m.trim_start_matches('=') == "venv";
        }
    }
    false
}

/// ansible-core's failure message for a command: its output and errors.
fn failure(cmd: &[String], out: &str, err: &str) -> Outcome {
    let mut msg = String::new();
    if !out.is_empty() {
        msg.push_str(&format!("stdout: {out}"));
    }
    if !err.is_empty() {
        msg.push_str(&format!("\n:stderr: {err}"));
    }
    Outcome::failed(msg).with("cmd", Value::from(cmd.to_vec()))
}

fn text_lines(o: Outcome, key: &str, text: &str) -> Outcome {
    let lines: Vec<String> = text.lines().map(str::to_string).collect();
    o.with(key, text).with(&format!("{key}_lines"), lines)
}

/// Where and how pip runs on this host.
struct Setup {
    chdir: String,
    env: Option<String>,
    umask: Option<u32>,
    /// The Python that runs the module in ansible-core (`sys.executable`).
    python: Option<String>,
    pip: Vec<String>,
    /// Words after `install`/`uninstall`: extra args, `-e`, then names or `-r FILE`.
    args: Vec<String>,
    packages: Vec<Requirement>,
}

impl Setup {
    /// `cd CHDIR && [umask] [env] WORDS...`, every word quoted.
    fn shell(&self, a: &Args, words: &[String], locale: bool) -> Sh {
        let mut sh = Cmd::new("cd").operand(&self.chdir).build();
        if let Some(m) = self.umask {
            sh = sh.and(Sh::lit("umask").word(Sh::quoted(&format!("{m:04o}"))));
        }
        let mut run = Sh::default();
        if let Some(env) = &self.env {
            run = Sh::lit("PATH=").glued(Sh::quoted(&format!("{env}/bin"))).glued(Sh::lit(":\"$PATH\""));
        }
        if a.break_system_packages {
            run = run.word(Sh::lit("PIP_BREAK_SYSTEM_PACKAGES=1"));
        }
        if locale {
            run = run.word(Sh::lit("LANG=C.UTF-8 LC_ALL=C.UTF-8 LC_MESSAGES=C.UTF-8"));
        }
        for w in words {
            run = run.word(Sh::quoted(w));
        }
        sh.and(run)
    }

    fn install_cmd(&self, state: State) -> Vec<String> {
        let mut c = self.pip.clone();
        c.extend(state.words().iter().map(|s| s.to_string()));
        c.extend(self.args.iter().cloned());
        c
    }

    /// `pip list --format=freeze` (`pip freeze` for an old pip): the command as shown and its
    /// output, or the failure.
    async fn packages(
        &self,
        a: &Args,
        cx: &ModuleCtx<'_>,
    ) -> Result<Result<(String, ExecOutput), Outcome>, ModuleError> {
        let mut cmd = self.pip.clone();
        cmd.extend(["list".to_string(), "--format=freeze".to_string()]);
        let out = cx.exec(self.shell(a, &cmd, true)).await?;
        if out.rc == 0 {
            return Ok(Ok((cmd.join(" "), out)));
        }
        let mut cmd = self.pip.clone();
        cmd.push("freeze".into());
        let out = cx.exec(self.shell(a, &cmd, false)).await?;
        if out.rc != 0 {
            return Ok(Err(failure(&cmd, &out.stdout_str(), &out.stderr_str())));
        }
        Ok(Ok((cmd.join(" "), out)))
    }
}

/// The Python that runs modules on this host: `ansible_python_interpreter`, else `python3`.
async fn interpreter(cx: &ModuleCtx<'_>) -> Result<Option<String>, ModuleError> {
    if let Ok(Ok(v)) = cx.vars.eval_or_undefined("ansible_python_interpreter") {
        if let Some(s) = v.as_str().filter(|s| !s.is_empty() && !s.starts_with("auto")) {
            return Ok(Some(s.to_string()));
        }
    }
    Ok(match which(cx, "python3").await? {
        Some(p) => Some(p),
        None => which(cx, "python").await?,
    })
}

impl Pip {
    /// Reads the arguments against the host: working directory, virtualenv, Python, packages.
    /// The pip to run is found later (a new virtualenv brings its own).
    async fn setup(&self, a: &Args, cx: &ModuleCtx<'_>) -> Result<Result<Setup, Outcome>, ModuleError> {
        let chdir = match &a.chdir {
            Some(d) => cx.expand_path(d).await?,
            None => "/tmp".to_string(),
        };
        let mut env = match &a.virtualenv {
            Some(e) => Some(cx.expand_path(e).await?),
            None => None,
        };
        if let (Some(e), Some(_)) = (&env, &a.chdir) {
            if !e.starts_with('/') {
                env = Some(format!("{}/{e}", chdir.trim_end_matches('/')));
            }
        }
        let umask = match &a.umask {
            Some(u) => match u32::from_str_radix(u.trim(), 8) {
                Ok(m) => Some(m),
                Err(e) => {
                    return Ok(Err(Outcome::failed("umask must be an octal integer").with("details", e.to_string())))
                }
            },
            None => None,
        };
        if a.state == State::Latest && a.version.is_some() {
            return Ok(Err(Outcome::failed("version is incompatible with state=latest")));
        }
        let names: Vec<String> = a.name.as_ref().map(|n| n.0.clone()).unwrap_or_default();
        let mut packages: Vec<Requirement> =
            if names.is_empty() { Vec::new() } else { regroup(&names).iter().map(|n| Requirement::parse(n)).collect() };
        if let Some(v) = &a.version {
            if packages.len() > 1 {
                return Ok(Err(Outcome::failed("'version' argument is ambiguous when installing multiple package distributions. Please specify version restrictions next to each package in 'name' argument.")));
            }
            if packages.first().is_some_and(Requirement::has_specifier) {
                return Ok(Err(Outcome::failed("The 'version' argument conflicts with any version specifier provided along with a package name. Please keep the version specifier, but remove the 'version' argument.")));
            }
            if let Some(p) = packages.first_mut() {
                let v = v.trim_start();
                let sep = if v.starts_with(|c: char| c.is_ascii_digit()) { "==" } else { " " };
                *p = Requirement::parse(&format!("{}{sep}{v}", p.text));
            }
        }
        let mut extra = match &a.extra_args {
            Some(e) => split_words(e).map_err(|e| ModuleError::Failed(format!("extra_args: {e}")))?,
            None => Vec::new(),
        };
        if a.editable && !a.extra_args.as_deref().unwrap_or_default().split(' ').any(|w| w == "-e") {
            extra.push("-e".into());
        }
        let mut args = extra;
        if !packages.is_empty() {
            args.extend(packages.iter().map(|p| p.text.clone()));
        } else if let Some(r) = &a.requirements {
            args.extend(["-r".to_string(), r.clone()]);
        }
        let python = interpreter(cx).await?;
        Ok(Ok(Setup { chdir, env, umask, python, pip: Vec::new(), args, packages }))
    }

    /// The pip to run, as ansible-core picks it, or the failure.
    async fn find_pip(
        &self,
        a: &Args,
        s: &Setup,
        cx: &ModuleCtx<'_>,
    ) -> Result<Result<Vec<String>, Outcome>, ModuleError> {
        if let Some(exe) = &a.executable {
            if exe.starts_with('/') {
                return Ok(Ok(vec![exe.clone()]));
            }
            return Ok(match which(cx, exe).await? {
                Some(p) => Ok(vec![p]),
                None => {
                    Err(Outcome::failed(format!("Unable to find any of {exe} to use.  pip needs to be installed.")))
                }
            });
        }
        if let Some(env) = &s.env {
            for base in ["pip3", "pip"] {
                let p = format!("{env}/bin/{base}");
                if path_test(cx, "-x", &p).await? {
                    return Ok(Ok(vec![p]));
                }
            }
            return Ok(Err(Outcome::failed(format!(
                "Unable to find pip in the virtualenv, {env}, under any of these names: pip3, pip. Make sure pip is present in the virtualenv."
            ))));
        }
        if let Some(py) = &s.python {
            let probe = Sh::quoted(py).word(Sh::lit(
                "-c 'import importlib.util,sys; sys.exit(0 if importlib.util.find_spec(\"pip\") else 1)'",
            ));
            if cx.exec(probe).await?.rc == 0 {
                return Ok(Ok(vec![py.clone(), "-m".into(), "pip".into()]));
            }
        }
        Ok(match which(cx, "pip3").await? {
            Some(p) => Ok(vec![p]),
            None => Err(Outcome::failed("Unable to find any of pip3 to use.  pip needs to be installed.")),
        })
    }

    /// Creates the virtualenv: its output and errors, or the failure.
    async fn make_venv(
        &self,
        a: &Args,
        s: &Setup,
        env: &str,
        cx: &ModuleCtx<'_>,
    ) -> Result<Result<(String, String), Outcome>, ModuleError> {
        let mut cmd =
            split_words(&a.virtualenv_command).map_err(|e| ModuleError::Failed(format!("virtualenv_command: {e}")))?;
        let Some(first) = cmd.first().cloned() else {
            return Err(ModuleError::Failed("virtualenv_command is empty".into()));
        };
        if !first.contains('/') {
            cmd[0] = or_fail!(required_bin(cx, &first).await, Err);
        }
        if a.virtualenv_site_packages {
            cmd.push("--system-site-packages".into());
        } else {
            let help = cx.exec(s.shell(a, &[cmd[0].clone(), "--help".into()], false)).await?;
            if help.rc != 0 {
                return Ok(Err(Outcome::failed(format!(
                    "Could not get output from {} --help: {}{}",
                    cmd[0],
                    help.stdout_str(),
                    help.stderr_str()
                ))));
            }
            if help.stdout_str().split_whitespace().any(|w| w == "--no-site-packages") {
                cmd.push("--no-site-packages".into());
            }
        }
        if !is_venv_command(&split_words(&a.virtualenv_command).unwrap_or_default()) {
            match a.virtualenv_python.as_ref().or(s.python.as_ref()) {
                Some(p) => cmd.push(format!("-p{p}")),
                None => return Ok(Err(Outcome::failed("no Python found on the target for virtualenv's -p"))),
            }
        } else if a.virtualenv_python.is_some() {
            return Ok(Err(Outcome::failed(
                "virtualenv_python should not be used when using the venv module or pyvenv as virtualenv_command",
            )));
        }
        cmd.push(env.to_string());
        let out = cx.exec(s.shell(a, &cmd, false)).await?;
        let (o, e) = (out.stdout_str(), out.stderr_str());
        if out.rc != 0 {
            return Ok(Err(failure(&cmd, &o, &e)));
        }
        Ok(Ok((o, e)))
    }
}

#[async_trait]
impl Module for Pip {
    const NAME: &'static str = "pip";
    type Args = Args;
    type Plan = ();

    fn check_args(a: &Args) -> Result<(), String> {
        let has_name = a.name.as_ref().is_some_and(|n| !n.0.is_empty());
        if a.name.is_some() && a.requirements.is_some() {
            return Err("parameters are mutually exclusive: name|requirements".into());
        }
        if a.executable.is_some() && a.virtualenv.is_some() {
            return Err("parameters are mutually exclusive: executable|virtualenv".into());
        }
        if a.name.is_none() && a.requirements.is_none() {
            return Err("one of the following is required: name, requirements".into());
        }
        if has_name {
            for n in a.name.iter().flat_map(|n| n.0.iter()) {
                if n.trim_start().starts_with('-') {
                    return Err(format!(
                        "name `{n}` starts with `-`: pip would read it as an option (put options in extra_args)"
                    ));
                }
            }
        }
        if let Some(r) = &a.requirements {
            Word::new(WordKind::Path, r).map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    async fn plan(&self, a: &Args, cx: &ModuleCtx<'_>) -> Result<Plan<()>, ModuleError> {
        let shown = match &a.name {
            Some(n) => n.0.join(", "),
            None => a.requirements.clone().unwrap_or_default(),
        };
        let change = || Plan::Change(Change::new((), Action::Run, "pip", shown.clone()));
        if !cx.is_check() {
            return Ok(change());
        }
        let mut s = or_fail!(self.setup(a, cx).await, Plan::Ok);
        if let Some(env) = &s.env {
            if !path_test(cx, "-e", &format!("{env}/bin/activate")).await? {
                return Ok(change());
            }
        }
        if a.extra_args.is_some() || a.requirements.is_some() || a.state == State::Latest || s.packages.is_empty() {
            return Ok(change());
        }
        s.pip = or_fail!(self.find_pip(a, &s, cx).await, Plan::Ok);
        let (cmd, out) = or_fail!(s.packages(a, cx).await, Plan::Ok);
        let listing = out.stdout_str();
        let lines: Vec<&str> = listing
            .split('\n')
            .filter(|l| !l.is_empty() && !l.starts_with("You are using") && !l.starts_with("You should consider"))
            .collect();
        let changed = s.packages.iter().any(|p| {
            let present = lines.iter().any(|l| p.satisfied_by(l));
            (a.state == State::Present && !present) || (a.state == State::Absent && present)
        });
        let o = text_lines(
            text_lines(Outcome::ok().with("cmd", cmd.as_str()), "stdout", &listing),
            "stderr",
            &out.stderr_str(),
        );
        if !changed {
            return Ok(Plan::Ok(o));
        }
        let mut ch = Change::new((), Action::Run, "pip", shown);
        ch.data = o.data;
        Ok(Plan::Change(ch))
    }

    async fn apply(&self, a: &Args, _: (), cx: &ModuleCtx<'_>) -> Result<Outcome, ModuleError> {
        let mut s = or_fail!(self.setup(a, cx).await);
        let (mut out, mut err) = (String::new(), String::new());
        let mut created = false;
        if let Some(env) = s.env.clone() {
            if !path_test(cx, "-e", &format!("{env}/bin/activate")).await? {
                let (o, e) = or_fail!(self.make_venv(a, &s, &env, cx).await);
                out.push_str(&o);
                err.push_str(&e);
                created = true;
            }
        }
        s.pip = or_fail!(self.find_pip(a, &s, cx).await);
        let cmd = s.install_cmd(a.state);
        let names: Vec<String> = a.name.as_ref().map(|n| n.0.clone()).unwrap_or_default();
        if names.is_empty() && a.requirements.is_none() {
            return Ok(Outcome::ok().warn("No valid name or requirements file found."));
        }
        let compare = a.requirements.is_some() || names.iter().any(|n| is_vcs(n));
        let before = if compare { Some(or_fail!(s.packages(a, cx).await).1.stdout_str()) } else { None };
        let run = cx.exec(s.shell(a, &cmd, false)).await?;
        let (po, pe) = (run.stdout_str(), run.stderr_str());
        out.push_str(&po);
        err.push_str(&pe);
        let not_installed =
            a.state == State::Absent && run.rc == 1 && (po.contains("not installed") || pe.contains("not installed"));
        if run.rc != 0 && !not_installed {
            return Ok(failure(&cmd, &out, &err));
        }
        let changed = if a.state == State::Absent {
            po.contains("Successfully uninstalled")
        } else if let Some(before) = before {
            let after = or_fail!(s.packages(a, cx).await).1.stdout_str();
            before != after
        } else {
            po.contains("Successfully installed")
        };
        let mut o = Outcome::ok()
            .with("cmd", Value::from(cmd))
            .with("name", a.name.as_ref().map(|n| Value::from(n.0.clone())).unwrap_or(Value::from(())))
            .with("version", a.version.clone().map(Value::from).unwrap_or(Value::from(())))
            .with("state", a.state.name())
            .with("requirements", a.requirements.clone().map(Value::from).unwrap_or(Value::from(())))
            .with("virtualenv", s.env.clone().map(Value::from).unwrap_or(Value::from(())));
        o = text_lines(text_lines(o, "stdout", &out), "stderr", &err);
        o.changed = changed || created;
        Ok(o)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requirements_are_written_as_the_packaging_library_writes_them() {
        let r = Requirement::parse("bottle>0.10,<0.20,!=0.11");
        assert_eq!(r.text, "bottle!=0.11,<0.20,>0.10");
        assert_eq!(r.key, "bottle");
        let r = Requirement::parse("Prov_Other [b,a] >= 1.0");
        assert_eq!((r.text.as_str(), r.key.as_str()), ("Prov_Other[a,b]>=1.0", "prov-other"));
        let r = Requirement::parse("git+https://example.invalid/x.git");
        assert!(r.specs.is_none());
        assert_eq!(r.text, "git+https://example.invalid/x.git");
        let r = Requirement::parse("pkg @ file:///tmp/pkg.whl");
        assert_eq!(r.text, "pkg@ file:///tmp/pkg.whl");
    }

    #[test]
    fn installed_versions_satisfy_specifiers_as_pip_lists_them() {
        let r = Requirement::parse("provdemo>1.5,<3,!=1.7");
        assert!(r.satisfied_by("provdemo==2.0"));
        assert!(!r.satisfied_by("provdemo==1.7"));
        assert!(!r.satisfied_by("other==2.0"));
        assert!(Requirement::parse("prov-other").satisfied_by("prov_other==0.5"));
        assert!(Requirement::parse("x>=1.0").satisfied_by("x==2.0rc1"), "pre-releases count, as ansible-core asks");
    }

    #[test]
    fn names_are_regrouped_at_specifier_parts() {
        let n = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            regroup(&n(&["django>1.11.1", "<1.11.3", "ipaddress", "simpleproject>1.1.0", "<2.0.0"])),
            ["django>1.11.1,<1.11.3", "ipaddress", "simpleproject>1.1.0,<2.0.0"]
        );
        assert_eq!(regroup(&n(&["a[x,y]>1", "b"])), ["a[x,y]>1", "b"]);
    }

    #[test]
    fn venv_commands_are_told_from_virtualenv() {
        let w = |s: &str| split_words(s).expect("words");
        assert!(is_venv_command(&w("/usr/bin/python3 -m venv")));
        assert!(is_venv_command(&w("pyvenv")));
        assert!(!is_venv_command(&w("virtualenv")));
        assert!(!is_venv_command(&w("python3 -m virtualenv")));
    }
}
