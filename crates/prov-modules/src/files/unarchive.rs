//! `unarchive`: unpacks a tar (plain, gzip, bzip2, xz) or zip archive into an existing directory
//! (ansible.builtin.unarchive), from the controller (default) or, with `remote_src: true`, from
//! the target.
//!
//! Arguments (as in ansible-core 2.19):
//! - `src` (required): the archive; on the controller it is looked up in the role's `files/`,
//!   then next to the playbook, and copied to a private temporary directory on the target.
//! - `dest` (required): a directory that must exist (`dest '...' must be an existing dir`).
//! - `remote_src` (default false): `src` is already on the target; `copy` is its deprecated
//!   inverse (`copy: false` = `remote_src: true`; giving both fails as in Ansible).
//! - `creates`: a path; when it exists the task is skipped (`skipped, since PATH exists`).
//! - `list_files` (default false): registers `files`, the archive's members.
//! - `exclude` / `include` (mutually exclusive): members left out / the only members extracted.
//! - `extra_opts`: more options for `tar` or `unzip`, one word per item (`--strip-components=1`).
//! - `keep_newer` (default false): do not replace files newer than the archive's.
//! - `mode`, `owner`, `group`: set on every extracted member (and each top directory).
//! - `validate_certs`, `io_buffer_size`, `decrypt`: accepted, no effect.
//!
//! Needs on the target what Ansible's needs: GNU `tar` (`gtar` preferred) for tar archives,
//! `unzip` (with `zipinfo`, `unzip -Z`) for zip; when none can read the archive the task fails
//! with `Failed to find handler for "SRC"` and the reasons. Whether anything changes is decided
//! as ansible-core decides it: for tar, `tar --diff` of the archive against `dest`, counting the
//! lines that say a member is missing or differs in contents, size, modification time, link
//! target, mode (unless `mode` is given) or, when running as root without `owner`/`group`,
//! owner and group; for zip, each member against its path under `dest` (type, size, CRC-32,
//! permissions, owner, group, modification time). A second run therefore changes nothing.
//! Members named `../x` or `/x` are what GNU tar and unzip make of them: tar refuses members with
//! `..` (the task fails, as in Ansible) and strips a leading `/`; unzip strips both and extracts
//! inside `dest` (with a warning, rc 1, which fails the task as in Ansible).
//!
//! Registers `dest`, `src` (on the target), `handler` (`TgzArchive`, `TarArchive`,
//! `TarBzipArchive`, `TarXzArchive`, `ZipArchive`), `state` (`directory`), `mode`, `owner`,
//! `group`, `uid`, `gid`, `size` of `dest`, `extract_results` (`cmd`, `rc`, `out`, `err`) when it
//! extracted, `files` with `list_files`.
//!
//! In check mode, an archive that is not a zip file skips the task, as ansible-core ("does not
//! support check mode when using gtar").
//!
//! Differences from Ansible: a `src` that is a URL is refused
//! (Ansible downloads it with `remote_src`); `.tar.zst` is not recognized; zip results have no
//! `diff.prepared` itemized list; a controller archive is copied twice when it must be
//! extracted (once to compare, once to extract).
//!
//! ```yaml
//! - unarchive:
//!     src: app-1.2.tar.gz
//!     dest: /opt/app
//!     owner: app
//!     creates: /opt/app/bin/app
//! - ansible.builtin.unarchive:
//!     src: /tmp/site.zip
//!     dest: /srv/www
//!     remote_src: true
//!     extra_opts: [-q]
//! ```

use crate::files::check_owner_group;
use async_trait::async_trait;
use minijinja::Value;
use prov_core::args::{lenient_bool, lenient_opt_bool, Mode, StringList};
use prov_core::cmd::{Cmd, Sh, Word, WordKind};
use prov_core::connection::ExecOutput;
use prov_core::facts::fnmatch;
use prov_core::module::{Action, Change, Module, ModuleCtx, ModuleError, Outcome, Plan};
use serde::Deserialize;
use zip::{parse_unzip_v, parse_zip_state, parse_zipinfo, zip_member_differs, zip_state_command, ZipCx};

fn yes() -> bool {
    true
}

/// Arguments of `unarchive`.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Args {
    /// The archive (controller path, or target path with `remote_src`).
    pub src: String,
    /// Existing directory to unpack into.
    pub dest: String,
    /// `src` is on the target.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub remote_src: bool,
    /// Deprecated inverse of `remote_src`.
    #[serde(default, deserialize_with = "lenient_opt_bool")]
    pub copy: Option<bool>,
    /// Skip when this path exists.
    #[serde(default)]
    pub creates: Option<String>,
    /// Register the members as `files`.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub list_files: bool,
    /// Keep files newer than the archive's.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub keep_newer: bool,
    /// Members left out.
    #[serde(default)]
    pub exclude: StringList,
    /// The only members extracted.
    #[serde(default)]
    pub include: StringList,
    /// More options for tar or unzip.
    #[serde(default)]
    pub extra_opts: StringList,
    /// Accepted, no effect (URLs are not supported).
    #[serde(default = "yes", deserialize_with = "lenient_bool")]
    pub validate_certs: bool,
    /// Accepted, no effect.
    #[serde(default)]
    pub io_buffer_size: Option<u64>,
    /// Accepted, no effect (no vault).
    #[serde(default = "yes", deserialize_with = "lenient_bool")]
    pub decrypt: bool,
    /// Mode of the extracted members.
    #[serde(default)]
    pub mode: Option<Mode>,
    /// Owner of the extracted members.
    #[serde(default, deserialize_with = "crate::util::stringish")]
    pub owner: Option<String>,
    /// Group of the extracted members.
    #[serde(default, deserialize_with = "crate::util::stringish")]
    pub group: Option<String>,
}

impl Args {
    fn remote(&self) -> bool {
        match self.copy {
            Some(c) => !c,
            None => self.remote_src,
        }
    }
}

/// The `unarchive` module.
#[derive(Debug, Default)]
pub struct Unarchive;

/// Which program reads the archive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Handler {
    Zip,
    /// GNU tar with its compression flag (`-z`, none, `-j`, `-J`).
    Tar(&'static str),
}

impl Handler {
    fn name(self) -> &'static str {
        match self {
            Handler::Zip => "ZipArchive",
            Handler::Tar("-z") => "TgzArchive",
            Handler::Tar("-j") => "TarBzipArchive",
            Handler::Tar("-J") => "TarXzArchive",
            Handler::Tar(_) => "TarArchive",
        }
    }
}

/// What the probe found about `dest`, `src` and the tools.
#[derive(Debug, Default, PartialEq)]
struct Probe {
    /// `mode owner group uid gid size` of dest, when it is a directory.
    dest: Option<Vec<String>>,
    src_problem: Option<&'static str>,
    uid: u32,
    user: String,
    group: String,
    gtar: bool,
    /// Where the handler's program is (`command -v`), as ansible-core's get_bin_path reports it.
    tool_path: Option<String>,
    handler: Option<Handler>,
    reasons: Vec<String>,
}

/// One command: dest is a directory, src is there, who runs, which tool reads the archive.
fn probe_command(src: &Word, dest: &str) -> Sh {
    Sh::lit("S=").glued(src).then(Sh::lit("D=").glued(Sh::quoted(dest))).then(Sh::lit(concat!(
        "if [ ! -d \"$D\" ]; then echo nodest; exit 0; fi; ",
        "printf 'dest %s\\n' \"$(stat -L -c '%a %U %G %u %g %s' -- \"$D\")\"; ",
        "if [ ! -e \"$S\" ]; then echo 'src missing'; exit 0; fi; ",
        "if [ ! -r \"$S\" ]; then echo 'src unreadable'; exit 0; fi; ",
        "if [ ! -s \"$S\" ]; then echo 'src empty'; exit 0; fi; ",
        "printf 'run %s %s %s\\n' \"$(id -u)\" \"$(id -un)\" \"$(id -gn)\"; ",
        "if command -v unzip >/dev/null 2>&1; then ",
        "if unzip -l \"$S\" >/dev/null 2>&1; then printf 'path %s\\n' \"$(command -v unzip)\"; echo 'handler zip'; exit 0; fi; ",
        "echo 'reason Command \"unzip\" could not handle archive'; ",
        "else echo \"reason Unable to find required 'unzip' or 'zipinfo' binary in the path.\"; fi; ",
        "if command -v gtar >/dev/null 2>&1; then T=gtar; echo gtar; elif command -v tar >/dev/null 2>&1; then T=tar; ",
        "else echo \"reason Unable to find required 'gtar' or 'tar' binary in the path\"; exit 0; fi; ",
        "case \"$($T --version 2>/dev/null | head -n 1)\" in *GNU*) ;; ",
        "*) echo \"reason Command \\\"$T\\\" detected as tar type None. GNU tar required.\"; exit 0;; esac; ",
        "for z in -z '' -j -J; do if LC_ALL=C $T --list $z -f \"$S\" 2>/dev/null | grep -q .; then ",
        "printf 'path %s\\n' \"$(command -v $T)\"; echo \"handler tar$z\"; exit 0; fi; done; ",
        "echo \"reason Command \\\"$T\\\" could not handle archive\"",
    )))
}

fn parse_probe(text: &str) -> Probe {
    let mut p = Probe::default();
    for line in text.lines() {
        let (k, v) = line.split_once(' ').unwrap_or((line, ""));
        match k {
            "dest" => p.dest = Some(v.split(' ').map(str::to_string).collect()),
            "src" => {
                p.src_problem = Some(match v {
                    "missing" => "missing",
                    "unreadable" => "unreadable",
                    _ => "empty",
                })
            }
            "run" => {
                let f: Vec<&str> = v.split(' ').collect();
                p.uid = f.first().and_then(|u| u.parse().ok()).unwrap_or(u32::MAX);
                p.user = f.get(1).unwrap_or(&"").to_string();
                p.group = f.get(2).unwrap_or(&"").to_string();
            }
            "gtar" => p.gtar = true,
            "path" => p.tool_path = Some(v.to_string()).filter(|v| v.starts_with('/')),
            "handler" => {
                p.handler = Some(match v {
                    "zip" => Handler::Zip,
                    "tar-z" => Handler::Tar("-z"),
                    "tar-j" => Handler::Tar("-j"),
                    "tar-J" => Handler::Tar("-J"),
                    _ => Handler::Tar(""),
                })
            }
            "reason" => p.reasons.push(v.to_string()),
            _ => {}
        }
    }
    p
}

/// Where things are and what to pass, shared by the commands.
struct Job<'a> {
    a: &'a Args,
    src: Word,
    dest: &'a str,
    gtar: bool,
    handler: Handler,
}

impl Job<'_> {
    fn tar(&self, verb: &'static str) -> Sh {
        let prog = if self.gtar { "LC_ALL=C gtar" } else { "LC_ALL=C tar" };
        let mut c = Cmd::new(prog).flag(verb).opt("-C", self.dest);
        if let Handler::Tar(z) = self.handler {
            c = match z {
                "-z" => c.flag("-z"),
                "-j" => c.flag("-j"),
                "-J" => c.flag("-J"),
                _ => c,
            };
        }
        let mut sh = c.build();
        if !self.a.extra_opts.0.is_empty() {
            sh = sh.word(Sh::lit("--show-transformed-names"));
            for o in &self.a.extra_opts.0 {
                sh = sh.word(Sh::quoted(o));
            }
        }
        if verb != "--list" {
            if let Some(o) = self.a.owner.as_deref().filter(|o| !o.is_empty()) {
                sh = sh.word(Sh::quoted(&format!("--owner={o}")));
            }
            if let Some(g) = self.a.group.as_deref().filter(|g| !g.is_empty()) {
                sh = sh.word(Sh::quoted(&format!("--group={g}")));
            }
            if self.a.keep_newer {
                sh = sh.word(Sh::lit("--keep-newer-files"));
            }
        }
        for e in &self.a.exclude.0 {
            sh = sh.word(Sh::quoted(&format!("--exclude={}", e.trim_end_matches('/'))));
        }
        sh = sh.word(Sh::lit("-f")).word(&self.src);
        if !self.a.include.0.is_empty() {
            sh = sh.word(Sh::lit("--"));
            for i in &self.a.include.0 {
                sh = sh.word(Sh::quoted(i));
            }
        }
        sh
    }

    /// `unzip -o [extra] SRC [-x EXCLUDE...] [INCLUDE...] -d DEST`.
    fn unzip(&self) -> Result<Sh, String> {
        let mut sh = Cmd::new("unzip").flag("-o").build();
        for o in &self.a.extra_opts.0 {
            sh = sh.word(Sh::quoted(o));
        }
        sh = sh.word(&self.src);
        let pattern = |p: &str| {
            if p.starts_with('-') {
                Err(format!("{p:?}: a zip member pattern cannot start with `-` (unzip would read an option)"))
            } else {
                Ok(Sh::quoted(p))
            }
        };
        if !self.a.exclude.0.is_empty() {
            sh = sh.word(Sh::lit("-x"));
            for e in &self.a.exclude.0 {
                sh = sh.word(pattern(e)?);
            }
        }
        for i in &self.a.include.0 {
            sh = sh.word(pattern(i)?);
        }
        let dest = Word::new(WordKind::Path, self.dest).map_err(|e| e.to_string())?;
        Ok(sh.word(Sh::lit("-d")).word(&dest))
    }

    /// The command as Ansible registers it (`extract_results.cmd`): its words.
    fn argv(sh: &Sh) -> Vec<String> {
        let mut words = crate::commands::split_words(sh.as_str()).unwrap_or_else(|_| vec![sh.as_str().to_string()]);
        if words.first().is_some_and(|w| w == "LC_ALL=C") {
            words.remove(0);
        }
        words
    }
}

/// Whether `tar --diff`'s output says the archive is not (all) in `dest`, as ansible-core reads it.
fn tar_differs(out: &str, root: bool, a: &Args) -> bool {
    let given = |o: &Option<String>| o.as_deref().is_some_and(|s| !s.is_empty());
    out.lines().any(|l| {
        if l.ends_with(": : Warning: Cannot stat: No such file or directory") {
            return false;
        }
        (root && !given(&a.owner) && l.ends_with(": Uid differs"))
            || (root && !given(&a.group) && l.ends_with(": Gid differs"))
            || (a.mode.is_none() && l.ends_with(": Mode differs"))
            || l.ends_with(": Mod time differs")
            || l.ends_with(": Warning: Cannot stat: No such file or directory")
            || l.contains(": Invalid owner")
            || l.contains(": Invalid group")
            || l.ends_with(": Symlink differs")
            || l.ends_with(": Contents differ")
            || l.ends_with(": Size differs")
    })
}

fn matches_id(want: &str, id: u32, name: &str) -> bool {
    if !want.is_empty() && want.bytes().all(|b| b.is_ascii_digit()) {
        want.parse::<u32>().ok() == Some(id)
    } else {
        want == name
    }
}

/// What `apply` does.
pub struct UnarchivePlan {
    /// Extract (false: only the members' attributes differ).
    extract: bool,
    data: Vec<u8>,
    dest_info: Vec<String>,
    handler: Handler,
    gtar: bool,
    tool_path: Option<String>,
    files: Vec<String>,
}

/// The members whose attributes `mode`/`owner`/`group` apply to: each member and each top
/// directory, as paths under dest (Ansible's set_fs_attributes_if_different loop).
fn attr_paths(dest: &str, files: &[String]) -> Vec<String> {
    // A member with a `..` component names a path outside dest (tar refuses to extract it; its
    // name is still listed): its attributes are never touched.
    let inside: Vec<&String> = files.iter().filter(|f| !f.split('/').any(|c| c == "..")).collect();
    let mut out: Vec<String> = inside.iter().map(|f| format!("{}/{}", dest.trim_end_matches('/'), f)).collect();
    let mut tops: Vec<&str> = Vec::new();
    for f in inside {
        if let Some((top, _)) = f.split_once('/') {
            if !tops.contains(&top) {
                tops.push(top);
            }
        }
    }
    out.extend(tops.iter().map(|t| format!("{}/{}", dest.trim_end_matches('/'), t)));
    out
}

/// Sets mode/owner/group on the paths given on stdin; prints `changed` for each that changed.
fn attr_command(a: &Args) -> Sh {
    let mut fix = Sh::lit("b=$(stat -c '%a %u %g' -- \"$p\" 2>/dev/null) || continue");
    if let Some(m) = &a.mode {
        let m = match m {
            Mode::Octal(o) => format!("{o:o}"),
            Mode::Symbolic(s) => s.clone(),
        };
        fix = fix.then(Sh::lit("[ -L \"$p\" ] ||")).word(Cmd::new("chmod").operand(m).build()).suffix(" \"$p\"");
    }
    if let Some(o) = a.owner.as_deref().filter(|o| !o.is_empty()) {
        fix = fix.then(Cmd::new("chown").flag("-h").operand(o).build()).suffix(" \"$p\"");
    }
    if let Some(g) = a.group.as_deref().filter(|g| !g.is_empty()) {
        fix = fix.then(Cmd::new("chgrp").flag("-h").operand(g).build()).suffix(" \"$p\"");
    }
    Sh::lit("rc=0; while IFS= read -r p; do")
        .word(fix)
        .suffix(" || rc=1; [ \"$b\" = \"$(stat -c '%a %u %g' -- \"$p\")\" ] || echo changed; done; exit $rc")
}

/// Whether the members' attributes differ from `mode`/`owner`/`group` (read-only).
fn attr_probe_command() -> Sh {
    Sh::lit(concat!(
        "printf 'umask %s\\n' \"$(umask)\"; while IFS= read -r p; do ",
        "s=$(stat -c '%f %u %g %U %G' -- \"$p\" 2>/dev/null) || continue; printf '%s\\n' \"$s\"; done",
    ))
}

fn attrs_differ(text: &str, a: &Args) -> bool {
    let mut umask = 0o022;
    for line in text.lines() {
        if let Some(u) = line.strip_prefix("umask ") {
            umask = u32::from_str_radix(u.trim(), 8).unwrap_or(0o022);
            continue;
        }
        let w: Vec<&str> = line.split(' ').collect();
        if w.len() != 5 {
            continue;
        }
        let raw = u32::from_str_radix(w[0], 16).unwrap_or(0);
        let is_dir = raw & 0o170000 == 0o040000;
        let is_link = raw & 0o170000 == 0o120000;
        if let Some(m) = &a.mode {
            if !is_link && m.resolve(raw & 0o7777, is_dir, umask) != raw & 0o7777 {
                return true;
            }
        }
        let uid = w[1].parse().unwrap_or(u32::MAX);
        let gid = w[2].parse().unwrap_or(u32::MAX);
        if a.owner.as_deref().is_some_and(|o| !o.is_empty() && !matches_id(o, uid, w[3])) {
            return true;
        }
        if a.group.as_deref().is_some_and(|g| !g.is_empty() && !matches_id(g, gid, w[4])) {
            return true;
        }
    }
    false
}

fn stdin_lines(paths: &[String]) -> Vec<u8> {
    let mut s = String::new();
    for p in paths {
        s.push_str(p);
        s.push('\n');
    }
    s.into_bytes()
}

/// The registered result: dest's attributes and the handler.
fn result(a: &Args, src: &str, handler: Handler, dest_info: &[String], files: &[String]) -> Outcome {
    let get = |i: usize| dest_info.get(i).cloned().unwrap_or_default();
    let num = |i: usize| get(i).parse::<u64>().unwrap_or(0);
    let mut o = Outcome::ok()
        .with("dest", a.dest.as_str())
        .with("src", src)
        .with("handler", handler.name())
        .with("state", "directory")
        .with("mode", format!("{:0>4}", get(0)))
        .with("owner", get(1))
        .with("group", get(2))
        .with("uid", num(3))
        .with("gid", num(4))
        .with("size", num(5));
    if a.list_files {
        o = o.with("files", files.to_vec());
    }
    o
}

/// Ansible's `extract_results`: its command starts with the program's path (`/usr/bin/tar`).
fn extract_results(cmd: &Sh, tool_path: Option<&str>, out: &ExecOutput) -> Value {
    let mut argv = Job::argv(cmd);
    if let (Some(first), Some(path)) = (argv.first_mut(), tool_path) {
        *first = path.to_string();
    }
    Value::from(minijinja::value::Serde(serde_json::json!({
        "cmd": argv,
        "rc": out.rc,
        "out": out.stdout_str(),
        "err": out.stderr_str(),
    })))
}

/// A private directory on the target holding the controller's archive as `source`.
async fn upload(cx: &ModuleCtx<'_>, data: &[u8]) -> Result<(String, String), ModuleError> {
    let out = cx.exec(Sh::lit("umask 077 && mktemp -d \"${TMPDIR:-/tmp}/prov-unarchive.XXXXXXXX\"")).await?;
    if out.rc != 0 {
        return Err(ModuleError::Failed(format!("cannot make a temporary directory: {}", out.stderr_str().trim())));
    }
    let dir = out.stdout_str().trim().to_string();
    let path = format!("{dir}/source");
    if let Err(e) = cx.put(&path, data, Some(0o600)).await {
        cleanup(cx, &dir).await;
        return Err(e);
    }
    Ok((dir, path))
}

async fn cleanup(cx: &ModuleCtx<'_>, dir: &str) {
    let _ = cx.exec(Cmd::new("rm").flag("-rf").operand(dir).build()).await;
}

/// What plan found: a result to register as it is, or a change to make.
struct Found {
    outcome: Option<Outcome>,
    change: Option<UnarchivePlan>,
}

#[async_trait]
impl Module for Unarchive {
    const NAME: &'static str = "unarchive";
    const RUN_BY_ACTION_PLUGIN: bool = true;
    const PATH_ARGS: &'static [&'static str] = &["dest", "creates"];
    type Args = Args;
    type Plan = UnarchivePlan;

    fn check_args(a: &Args) -> Result<(), String> {
        if a.copy.is_some() && a.remote_src {
            return Err("parameters are mutually exclusive: ('copy', 'remote_src')".into());
        }
        if !a.include.0.is_empty() && !a.exclude.0.is_empty() {
            return Err("parameters are mutually exclusive: include|exclude".into());
        }
        if a.src.contains("://") {
            return Err(format!(
                "a URL src ({}) is not supported: download it with get_url, then unarchive it with remote_src",
                a.src
            ));
        }
        if a.src.is_empty() || a.dest.is_empty() {
            return Err("src (or content) and dest are required".into());
        }
        check_owner_group(&a.owner, &a.group)
    }

    async fn plan(&self, a: &Args, cx: &ModuleCtx<'_>) -> Result<Plan<UnarchivePlan>, ModuleError> {
        if let Some(c) = &a.creates {
            let out = cx
                .exec(Sh::lit("[ -e").word(Sh::quoted(c)).suffix(" ] || [ -L").word(Sh::quoted(c)).suffix(" ]"))
                .await?;
            if out.rc == 0 {
                return Ok(Plan::Ok(Outcome {
                    skipped: true,
                    msg: Some(format!("skipped, since {c} exists")),
                    ..Outcome::ok()
                }));
            }
        }
        let data = if a.remote() {
            Vec::new()
        } else {
            let path = cx.files.find("files", &a.src).map_err(|e| {
                ModuleError::Failed(format!("Could not find or access '{}' on the Ansible Controller. {e}", a.src))
            })?;
            std::fs::read(&path).map_err(|e| ModuleError::Failed(format!("Could not read {}: {e}", path.display())))?
        };
        let dest_check = cx.exec(Sh::lit("[ -d").word(Sh::quoted(&a.dest)).suffix(" ]")).await?;
        if dest_check.rc != 0 {
            return Ok(Plan::Ok(Outcome::failed(format!("dest '{}' must be an existing dir", a.dest))));
        }
        let (tmp, src) = if a.remote() {
            (None, a.src.clone())
        } else {
            let (d, p) = upload(cx, &data).await?;
            (Some(d), p)
        };
        let found = compare(a, cx, &src, data).await;
        if let Some(d) = &tmp {
            cleanup(cx, d).await;
        }
        let found = found?;
        if let Some(o) = found.outcome {
            return Ok(Plan::Ok(o));
        }
        let Some(plan) = found.change else { return Err(ModuleError::Failed("nothing planned".into())) };
        let what = if plan.extract { "unpacked" } else { "attributes set" };
        Ok(Plan::Change(
            Change::new(plan, Action::Create, "archive", format!("{} -> {}", a.src, a.dest))
                .with_msg(format!("{} would be {what} into {}", a.src, a.dest)),
        ))
    }

    async fn apply(&self, a: &Args, plan: UnarchivePlan, cx: &ModuleCtx<'_>) -> Result<Outcome, ModuleError> {
        let (tmp, src) = if a.remote() || !plan.extract {
            (None, a.src.clone())
        } else {
            let (d, p) = upload(cx, &plan.data).await?;
            (Some(d), p)
        };
        let res = extract(a, cx, &src, &plan).await;
        if let Some(d) = &tmp {
            cleanup(cx, d).await;
        }
        res
    }
}

fn src_word(src: &str) -> Result<Word, ModuleError> {
    Word::new(WordKind::Path, src).map_err(ModuleError::from)
}

/// Reads the archive on the target and compares it with dest.
async fn compare(a: &Args, cx: &ModuleCtx<'_>, src: &str, data: Vec<u8>) -> Result<Found, ModuleError> {
    let sw = src_word(src)?;
    let out = cx.exec(probe_command(&sw, &a.dest)).await?;
    let p = parse_probe(&out.stdout_str());
    let fail = |msg: String| Ok(Found { outcome: Some(Outcome::failed(msg)), change: None });
    let Some(dest_info) = p.dest.clone() else {
        return fail(format!("dest '{}' must be an existing dir", a.dest));
    };
    match p.src_problem {
        Some("missing") if a.remote() => return fail(format!("Source '{src}' does not exist")),
        Some("missing") => return fail(format!("Source '{src}' failed to transfer")),
        Some("unreadable") => return fail(format!("Source '{src}' not readable")),
        Some(_) => return fail(format!("Invalid archive '{src}', the file is 0 bytes")),
        None => {}
    }
    if cx.is_check() && !matches!(p.handler, Some(Handler::Zip)) {
        // ansible-core tries its zip handler first; the next, gtar's, ends the task as skipped
        // as soon as it is made in check mode (whatever the archive and what is in `dest`).
        let msg = "remote module (ansible.legacy.unarchive) does not support check mode when using gtar";
        return Ok(Found {
            outcome: Some(Outcome { skipped: true, msg: Some(msg.into()), ..Outcome::ok() }),
            change: None,
        });
    }
    let Some(handler) = p.handler else {
        return fail(format!(
            "Failed to find handler for \"{src}\". Make sure the required command to extract the file is installed.\n{}",
            p.reasons.join("\n")
        ));
    };
    let job = Job { a, src: sw, dest: &a.dest, gtar: p.gtar, handler };
    let (files, unarchived) = match handler {
        Handler::Tar(_) => {
            let out = cx.exec(job.tar("--list")).await?;
            if out.rc != 0 {
                return fail(format!("Unable to list files in the archive: {}", out.stderr_str()));
            }
            let files: Vec<String> = out
                .stdout_str()
                .lines()
                .map(|f| f.strip_prefix('/').unwrap_or(f).to_string())
                .filter(|f| !a.exclude.0.iter().any(|e| fnmatch(e.trim_end_matches('/'), f)))
                .collect();
            let diff = cx.exec(job.tar("--diff")).await?;
            let text = format!("{}\n{}", diff.stdout_str(), diff.stderr_str());
            (files, !tar_differs(&text, p.uid == 0, a))
        }
        Handler::Zip => {
            let names = cx.exec(Sh::lit("unzip -Z1").word(&job.src)).await?;
            let files: Vec<String> = names
                .stdout_str()
                .lines()
                .filter(|m| {
                    if a.include.0.is_empty() {
                        !a.exclude.0.iter().any(|e| fnmatch(e, m))
                    } else {
                        a.include.0.iter().any(|i| fnmatch(i, m))
                    }
                })
                .map(str::to_string)
                .collect();
            let mut info = Sh::lit("unzip -Z -T -s").word(&job.src);
            if !a.exclude.0.is_empty() {
                info = info.word(Sh::lit("-x"));
                for e in &a.exclude.0 {
                    info = info.word(Sh::quoted(e));
                }
            }
            for i in &a.include.0 {
                info = info.word(Sh::quoted(i));
            }
            let info = cx.exec(info).await?;
            let members = parse_zipinfo(&info.stdout_str());
            let crcs = cx.exec(Sh::lit("unzip -v").word(&job.src)).await?;
            let crcs = parse_unzip_v(&crcs.stdout_str());
            let state = cx
                .exec_stdin(
                    zip_state_command(&a.dest),
                    stdin_lines(&members.iter().map(|m| m.name.clone()).collect::<Vec<_>>()),
                )
                .await?;
            let (offset, umask, states) = parse_zip_state(&state.stdout_str());
            let zcx = ZipCx {
                offset,
                umask,
                keep_newer: a.keep_newer,
                mode: a.mode.clone(),
                owner: a.owner.clone().filter(|o| !o.is_empty()).unwrap_or(p.user.clone()),
                group: a.group.clone().filter(|g| !g.is_empty()).unwrap_or(p.group.clone()),
            };
            let differs =
                members.iter().filter(|m| !a.exclude.0.contains(&m.name)).any(|m| match states.get(&m.name) {
                    Some(Some(st)) => zip_member_differs(m, st, &crcs, &zcx),
                    _ => true,
                });
            (files, info.rc == 0 && !differs)
        }
    };
    let planned = |extract: bool, data: Vec<u8>, dest_info: Vec<String>, files: Vec<String>| Found {
        outcome: None,
        change: Some(UnarchivePlan {
            extract,
            data,
            dest_info,
            handler,
            gtar: p.gtar,
            tool_path: p.tool_path.clone(),
            files,
        }),
    };
    if !unarchived {
        return Ok(planned(true, data, dest_info, files));
    }
    if a.mode.is_some() || a.owner.is_some() || a.group.is_some() {
        let out = cx.exec_stdin(attr_probe_command(), stdin_lines(&attr_paths(&a.dest, &files))).await?;
        if attrs_differ(&out.stdout_str(), a) {
            return Ok(planned(false, data, dest_info, files));
        }
    }
    Ok(Found { outcome: Some(result(a, src, handler, &dest_info, &files)), change: None })
}

/// Extracts (when planned) and sets the attributes.
async fn extract(a: &Args, cx: &ModuleCtx<'_>, src: &str, plan: &UnarchivePlan) -> Result<Outcome, ModuleError> {
    let sw = src_word(src)?;
    let job = Job { a, src: sw, dest: &a.dest, gtar: plan.gtar, handler: plan.handler };
    let mut o = result(a, src, plan.handler, &plan.dest_info, &plan.files);
    let mut changed = false;
    if plan.extract {
        let cmd = match plan.handler {
            Handler::Tar(_) => job.tar("--extract"),
            Handler::Zip => job.unzip().map_err(ModuleError::Args)?,
        };
        let out = cx.exec(cmd.clone()).await?;
        o = o.with("extract_results", extract_results(&cmd, plan.tool_path.as_deref(), &out));
        if out.rc != 0 {
            o.failed = true;
            o.msg = Some(format!("failed to unpack {src} to {}", a.dest));
            return Ok(o);
        }
        changed = true;
    }
    if a.mode.is_some()
        || a.owner.as_deref().is_some_and(|s| !s.is_empty())
        || a.group.as_deref().is_some_and(|s| !s.is_empty())
    {
        let out = cx.exec_stdin(attr_command(a), stdin_lines(&attr_paths(&a.dest, &plan.files))).await?;
        if out.stdout_str().lines().any(|l| l == "changed") {
            changed = true;
        }
        if out.rc != 0 {
            o.failed = true;
            o.msg = Some(format!("Unexpected error when accessing exploded file: {}", out.stderr_str().trim()));
        }
    }
    o.changed = changed;
    Ok(o)
}

mod zip;

#[cfg(test)]
mod tests;
