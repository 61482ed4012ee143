//! `modprobe`: a kernel module loaded or unloaded, and optionally kept loaded at boot through
//! `/etc/modules-load.d` and `/etc/modprobe.d` (community.general.modprobe).
//!
//! Arguments (as in community.general 11.4, shipped with ansible 12.3):
//! - `name` (required): the kernel module.
//! - `state`: `present` (default: loaded with `modprobe NAME PARAMS`) or `absent` (unloaded
//!   with `modprobe -r NAME`).
//! - `params` (default empty): its parameters, `numdummies=2 foo=bar`, split as a shell would.
//! - `persistent`: `disabled` (default: the boot files are not touched), `present` (the module
//!   is named in `/etc/modules-load.d/NAME.conf` and its parameters written to
//!   `/etc/modprobe.d/NAME.conf` as `options NAME PARAM` lines) or `absent` (the lines that name
//!   it in those directories are commented out).
//!
//! A module counts as loaded when `/proc/modules` lists it (`-` read as `_`) or
//! `/lib/modules/$(uname -r)/modules.builtin` names `NAME.ko`; without either file the task
//! fails as Ansible's does. The boot files are handled as community.general.modprobe handles
//! them (observed on the same files), so files managed by Ansible are managed by prov
//! identically: the module is persistent when a line of a file of `/etc/modules-load.d` is the
//! name (blanks and a `#` or `;` comment allowed); its parameters are the `options NAME KEY=VALUE`
//! lines of `/etc/modprobe.d`; when they are not exactly `params`, those lines are commented out
//! in every file and `NAME.conf` is written anew; a file in which lines are commented out is
//! written back with its lines joined by an extra line break, as Ansible writes it. In check
//! mode `modprobe -n` (a dry run) is run instead. A module that `modprobe` loads but the kernel
//! does not list afterwards is no change, as in Ansible. Registers `name`, `params`, `state`;
//! a failed `modprobe` also `rc`, `stdout`, `stderr` (its error is the message).
//!
//! Differences from Ansible: the module's name is matched literally in the boot files (Ansible
//! reads it as a regular expression); `/etc/modprobe.d` and `/etc/modules-load.d` are created when
//! missing (Ansible fails); a `name` with `/` or white space is refused (it names the files);
//! no warning is given when `modprobe -n --first-time` fails after a load; `--diff` shows the
//! boot files' changes (Ansible has no diff mode here); a planned change in check mode registers
//! nothing (Ansible registers `name`, `params`, `state`).
//!
//! ```yaml
//! - community.general.modprobe:
//!     name: br_netfilter
//!     state: present
//!     persistent: present
//! - modprobe: { name: dummy, params: numdummies=2 }
//! ```

use crate::commands::split_words;
use async_trait::async_trait;
use prov_core::cmd::{Cmd, Sh};
use prov_core::module::{Action, Change, Diff, DiffMode, Module, ModuleCtx, ModuleError, Outcome, Plan};
use serde::Deserialize;

/// Arguments of `modprobe`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    /// The kernel module.
    pub name: String,
    /// `present` or `absent`.
    #[serde(default)]
    pub state: State,
    /// Its parameters.
    #[serde(default, deserialize_with = "crate::util::stringish")]
    pub params: Option<String>,
    /// Whether it is loaded at boot.
    #[serde(default)]
    pub persistent: Persistent,
}

/// `state` of `modprobe`.
#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// Loaded.
    #[default]
    Present,
    /// Not loaded.
    Absent,
}

/// `persistent` of `modprobe`.
#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum Persistent {
    /// The boot files are not touched.
    #[default]
    Disabled,
    /// Loaded at boot with its parameters.
    Present,
    /// Not loaded at boot.
    Absent,
}

/// Where the module is named for loading at boot.
const MODULES_LOAD: &str = "/etc/modules-load.d";
/// Where its options are.
const MODPROBE_D: &str = "/etc/modprobe.d";

/// The `modprobe` module.
#[derive(Debug, Default)]
pub struct Modprobe;

/// A file of one of the two directories.
#[derive(Debug, Clone, PartialEq, Eq)]
struct BootFile {
    path: String,
    mode: u32,
    text: String,
}

/// What the probe found.
#[derive(Debug, Default, PartialEq, Eq)]
struct Probe {
    has_modprobe: bool,
    release: String,
    /// `/proc/modules`, when readable.
    proc_modules: Option<String>,
    /// `modules.builtin`, when readable.
    builtin: Option<String>,
    files: Vec<BootFile>,
}

/// One command that reads everything: records separated by NUL bytes.
fn probe_command() -> Sh {
    Sh::lit(concat!(
        "command -v modprobe >/dev/null 2>&1 || { printf 'nomodprobe\\0'; exit 0; }; ",
        "R=$(uname -r); printf 'release\\0%s\\0' \"$R\"; ",
        "if [ -r /proc/modules ]; then printf 'proc\\0'; cat /proc/modules; printf '\\0'; fi; ",
        "B=/lib/modules/$R/modules.builtin; ",
        "if [ -r \"$B\" ]; then printf 'builtin\\0'; cat \"$B\"; printf '\\0'; fi; ",
        "for f in /etc/modules-load.d/* /etc/modules-load.d/.[!.]* /etc/modprobe.d/* /etc/modprobe.d/.[!.]*; do ",
        "[ -f \"$f\" ] || continue; printf 'file\\0%s\\0%s\\0' \"$f\" \"$(stat -c %a \"$f\")\"; cat \"$f\"; printf '\\0'; done",
    ))
}

fn parse_probe(out: &[u8]) -> Result<Probe, String> {
    let text = String::from_utf8_lossy(out);
    let mut it = text.split('\0');
    let mut p = Probe { has_modprobe: true, ..Probe::default() };
    let mut next = |what: &str| it.next().map(str::to_string).ok_or(format!("the probe's output ends before {what}"));
    loop {
        let tag = match next("a record") {
            Ok(t) if t.is_empty() => break,
            Ok(t) => t,
            Err(_) => break,
        };
        match tag.as_str() {
            "nomodprobe" => p.has_modprobe = false,
            "release" => p.release = next("the release")?,
            "proc" => p.proc_modules = Some(next("/proc/modules")?),
            "builtin" => p.builtin = Some(next("modules.builtin")?),
            "file" => {
                let path = next("a path")?;
                let mode =
                    u32::from_str_radix(next("a mode")?.trim(), 8).map_err(|e| format!("mode of {path}: {e}"))?;
                p.files.push(BootFile { path, mode, text: next("a file")? });
            }
            t => return Err(format!("unexpected record {t:?} in the probe's output")),
        }
    }
    Ok(p)
}

/// Whether the kernel has the module: Ansible's message when it cannot tell.
fn loaded(p: &Probe, name: &str) -> Result<bool, String> {
    let procs = p.proc_modules.as_deref().ok_or("[Errno 2] No such file or directory: '/proc/modules'")?;
    let listed = format!("{} ", name.replace('-', "_"));
    if procs.lines().any(|l| l.starts_with(&listed)) {
        return Ok(true);
    }
    let builtin = p
        .builtin
        .as_deref()
        .ok_or_else(|| format!("[Errno 2] No such file or directory: '/lib/modules/{}/modules.builtin'", p.release))?;
    let ko = format!("/{name}.ko");
    Ok(builtin.lines().any(|l| l.trim_end().ends_with(&ko)))
}

/// A file's lines as Python's text mode reads them, each with its `\n`.
fn read_lines(text: &str) -> Vec<String> {
    text.replace("\r\n", "\n").replace('\r', "\n").split_inclusive('\n').map(str::to_string).collect()
}

/// Whether what follows a match is blanks, then nothing or a `#`/`;` comment.
fn ends_clean(rest: &str) -> bool {
    let r = rest.trim_start_matches(' ');
    r.is_empty() || r.starts_with(['#', ';'])
}

/// A line of `/etc/modules-load.d` that names the module.
fn names_module(line: &str, name: &str) -> bool {
    let l = line.strip_suffix('\n').unwrap_or(line);
    let l = l.trim_start_matches(' ');
    l.strip_prefix(name).is_some_and(ends_clean)
}

/// The `KEY=VALUE` of an `options NAME KEY=VALUE` line of the module.
fn option_of(line: &str, name: &str) -> Option<String> {
    let l = line.strip_suffix('\n').unwrap_or(line);
    let rest = l.strip_prefix("options ")?.strip_prefix(name)?.strip_prefix(' ')?;
    let key_len = rest.find(|c: char| !(c.is_alphanumeric() || c == '_')).unwrap_or(rest.len());
    if key_len == 0 || !rest[key_len..].starts_with('=') {
        return None;
    }
    let token_len = rest.find(char::is_whitespace).unwrap_or(rest.len());
    let value = &rest[key_len + 1..token_len];
    if value.is_empty() {
        return None;
    }
    if ends_clean(&rest[token_len..]) {
        return Some(rest[..token_len].to_string());
    }
    // Backtracking: the value ends before its last `#` or `;` (that starts the comment).
    let cut = value.char_indices().filter(|(i, c)| *i > 0 && (*c == '#' || *c == ';')).map(|(i, _)| i).next_back()?;
    Some(rest[..key_len + 1 + cut].to_string())
}

fn in_dir(f: &BootFile, dir: &str) -> bool {
    f.path.strip_prefix(dir).is_some_and(|r| r.starts_with('/') && !r[1..].contains('/'))
}

/// A file with the matching lines commented out, written back as Ansible writes it (lines
/// joined with an extra `\n`); `None` when no line matches.
fn comment_out(f: &BootFile, matches: impl Fn(&str) -> bool) -> Option<String> {
    let mut lines = read_lines(&f.text);
    let mut changed = false;
    for l in lines.iter_mut() {
        if matches(l) {
            l.insert(0, '#');
            changed = true;
        }
    }
    changed.then(|| lines.join("\n"))
}

/// The writes that make the boot files right, in order (a path may come twice: the last wins).
fn persistence(p: &Probe, a: &Args, params: &str) -> Vec<(String, String, Option<u32>)> {
    let name = a.name.as_str();
    let loads: Vec<&BootFile> = p.files.iter().filter(|f| in_dir(f, MODULES_LOAD)).collect();
    let opts: Vec<&BootFile> = p.files.iter().filter(|f| in_dir(f, MODPROBE_D)).collect();
    let persisted = loads.iter().any(|f| read_lines(&f.text).iter().any(|l| names_module(l, name)));
    let current: std::collections::BTreeSet<String> =
        opts.iter().flat_map(|f| read_lines(&f.text)).filter_map(|l| option_of(&l, name)).collect();
    let wanted: std::collections::BTreeSet<String> = params.split_whitespace().map(str::to_string).collect();
    let disable_opts = || {
        opts.iter()
            .filter_map(|f| comment_out(f, |l| option_of(l, name).is_some()).map(|t| (f.path.clone(), t, Some(f.mode))))
            .collect::<Vec<_>>()
    };
    let mut out = Vec::new();
    match a.persistent {
        Persistent::Present if !(persisted && current == wanted) => {
            if !persisted {
                out.push((format!("{MODULES_LOAD}/{name}.conf"), format!("{name}\n"), None));
            }
            if current != wanted {
                out.extend(disable_opts());
                let lines: Vec<String> = params.split_whitespace().map(|p| format!("options {name} {p}")).collect();
                out.push((format!("{MODPROBE_D}/{name}.conf"), format!("{}\n", lines.join("\n")), None));
            }
        }
        Persistent::Absent if persisted || !current.is_empty() => {
            if persisted {
                out.extend(loads.iter().filter_map(|f| {
                    comment_out(f, |l| names_module(l, name)).map(|t| (f.path.clone(), t, Some(f.mode)))
                }));
            }
            if !current.is_empty() {
                out.extend(disable_opts());
            }
        }
        _ => {}
    }
    out
}

/// What `apply` does.
pub struct ModprobePlan {
    /// `modprobe NAME PARAMS` (true) or `modprobe -r NAME` (false), if anything.
    load: Option<bool>,
    /// Files to write: path, text, mode of an existing file.
    writes: Vec<(String, String, Option<u32>)>,
}

fn result(a: &Args, changed: bool) -> Outcome {
    let state = match a.state {
        State::Present => "present",
        State::Absent => "absent",
    };
    let o = Outcome { changed, ..Outcome::ok() };
    o.with("name", a.name.as_str()).with("params", a.params.as_deref().unwrap_or_default()).with("state", state)
}

/// A failure with the registered values.
fn failure(a: &Args, changed: bool, msg: String) -> Outcome {
    Outcome { failed: true, msg: Some(msg), ..result(a, changed) }
}

/// `modprobe [-n] -- NAME PARAMS` or `modprobe -r [-n] -- NAME`.
fn modprobe(a: &Args, load: bool, dry: bool) -> Result<Sh, String> {
    let mut c = Cmd::new("modprobe");
    if !load {
        c = c.flag("-r");
    }
    if dry {
        c = c.flag("-n");
    }
    let mut words = vec![a.name.clone()];
    if load {
        words.extend(split_words(a.params.as_deref().unwrap_or_default())?);
    }
    Ok(c.operands(words).build())
}

/// A failed `modprobe`, as Ansible reports it: its error is the message.
fn modprobe_failed(a: &Args, out: &prov_core::connection::ExecOutput) -> Outcome {
    let mut o = result(a, false).with_exec(out);
    o.data.shift_remove("stdout_lines");
    o.data.shift_remove("stderr_lines");
    o.failed = true;
    o.msg = Some(out.stderr_str().to_string());
    o
}

#[async_trait]
impl Module for Modprobe {
    const NAME: &'static str = "modprobe";
    const COLLECTIONS: &'static [&'static str] = &["community.general", "ansible.builtin"];
    type Args = Args;
    type Plan = ModprobePlan;

    fn check_args(a: &Args) -> Result<(), String> {
        let n = a.name.as_str();
        if n.is_empty() || n.contains('/') || n.chars().any(|c| c.is_whitespace() || c.is_control()) || n == ".." {
            return Err(format!("{n:?} is not a kernel module name (empty, `/` or white space)"));
        }
        split_words(a.params.as_deref().unwrap_or_default())?;
        Ok(())
    }

    async fn plan(&self, a: &Args, cx: &ModuleCtx<'_>) -> Result<Plan<ModprobePlan>, ModuleError> {
        let out = cx.exec(probe_command()).await?;
        let p = parse_probe(&out.stdout).map_err(ModuleError::Failed)?;
        if !p.has_modprobe {
            return Ok(Plan::Ok(Outcome::failed("Failed to find required executable \"modprobe\"")));
        }
        let is_loaded = match loaded(&p, &a.name) {
            Ok(l) => l,
            Err(msg) => return Ok(Plan::Ok(failure(a, false, msg))),
        };
        let load = match a.state {
            State::Present if !is_loaded => Some(true),
            State::Absent if is_loaded => Some(false),
            _ => None,
        };
        if let (Some(l), true) = (load, cx.is_check()) {
            let out = cx.exec(modprobe(a, l, true).map_err(ModuleError::Args)?).await?;
            if out.rc != 0 {
                return Ok(Plan::Ok(modprobe_failed(a, &out)));
            }
        }
        let writes = persistence(&p, a, a.params.as_deref().unwrap_or_default());
        if load.is_none() && writes.is_empty() {
            return Ok(Plan::Ok(result(a, false)));
        }
        let action = if a.state == State::Present { Action::Create } else { Action::Delete };
        let mut ch = Change::new(ModprobePlan { load, writes }, action, "kernel module", a.name.as_str());
        if cx.mode.diff == DiffMode::On {
            for (path, text, _) in &ch.plan.writes {
                let before = p.files.iter().find(|f| &f.path == path).map(|f| f.text.clone()).unwrap_or_default();
                ch.diffs.push(Diff { header: path.clone(), before, after: text.clone(), skipped: Vec::new() });
            }
        }
        Ok(Plan::Change(ch))
    }

    async fn apply(&self, a: &Args, plan: ModprobePlan, cx: &ModuleCtx<'_>) -> Result<Outcome, ModuleError> {
        let mut changed = false;
        if let Some(load) = plan.load {
            let out = cx.exec(modprobe(a, load, false).map_err(ModuleError::Args)?).await?;
            if out.rc != 0 {
                return Ok(modprobe_failed(a, &out));
            }
            changed = !load;
            if load {
                // Ansible counts a load only when the kernel lists the module afterwards.
                let out = cx.exec(probe_command()).await?;
                let p = parse_probe(&out.stdout).map_err(ModuleError::Failed)?;
                changed = loaded(&p, &a.name).unwrap_or(false);
            }
        }
        if !plan.writes.is_empty() {
            let mkdir = Cmd::new("mkdir").flag("-p").operands([MODULES_LOAD, MODPROBE_D]).build();
            let out = cx.exec(mkdir).await?;
            if out.rc != 0 {
                return Ok(failure(a, changed, out.stderr_str().trim().to_string()));
            }
        }
        for (path, text, mode) in &plan.writes {
            cx.put(path, text.as_bytes(), Some(mode.unwrap_or(0o644))).await?;
            changed = true;
        }
        Ok(result(a, changed))
    }
}

#[cfg(test)]
mod tests;
