//! `synchronize` (ansible.posix): `rsync` between the controller and a host, as Ansible's
//! module and action plugin run it.
//!
//! The command line is the module's: `--delay-updates -F`, `--compress`, `--archive` and its
//! `--no-*` exceptions (or the single flags without `archive`), `--dry-run` in check mode,
//! `--delete-after`, `--existing`, `--checksum`, `--copy-links`, `--dirs`, `--timeout`,
//! `--rsync-path`, then `rsync_opts` pasted in, `--partial`, `--link-dest` (with `-H -vv`),
//! and `--out-format='<<CHANGED>>%i %n%L'`; the line is then split as Python's shlex splits
//! it, as the module runs it (so `rsync_opts: ["--exclude=a b"]` is two words there too).
//! `changed` is read from the marker in rsync's output; `msg` is the output without it,
//! `stdout_lines` its non-empty lines, `cmd` the line.
//!
//! Where rsync runs, as the action plugin decides:
//! - a host reached over SSH, no `delegate_to`: rsync runs on the controller; the path on the
//!   controller's side (`src` in push mode, `dest` in pull mode) is looked up as Ansible looks
//!   it up (the role's `files/`, ..., next to the playbook), the host's side is
//!   `[USER@]HOST:PATH` (`ansible_host`, `ansible_user` unless `set_remote_user: false`).
//!   Instead of `ssh`, rsync's remote shell is prov itself (prov-modules' `rsync_bridge`), which
//!   runs rsync's remote half over the connection the task already has: the inventory's
//!   address, port, user, key and host-key checking. So `private_key`, `dest_port`,
//!   `verify_host`, `ssh_connection_multiplexing` and `use_ssh_args`, which only shape
//!   Ansible's `ssh` command, are accepted and change nothing; a `dest_port` or
//!   `private_key` other than the connection's fails the task, as prov would reach another
//!   place than the one named (they are compared only when the inventory sets
//!   `ansible_port`/`ansible_ssh_private_key_file`), and so does a `USER@` in a path that is
//!   not the connection's user. Without `ansible_user`, `set_remote_user: false` logs in as
//!   the connection's user, where Ansible's ssh logs in as the controller's or as its
//!   configuration says. An `--rsh` in `rsync_opts` is used as it is (the module then adds no
//!   remote shell of its own). A host that is this machine (`ansible_host` 127.0.0.1,
//!   `localhost` or ::1, on the port localhost has) gets a local copy, as in Ansible.
//!   With `become` (sudo), the remote half runs as `sudo -u USER rsync` (`--rsync-path`),
//!   as in Ansible; with another method it runs as the login user, as in Ansible.
//! - `ansible_connection=local`, or `delegate_to` the host itself: both paths are on that
//!   host and rsync runs there, with the task's `become` (a path on another machine,
//!   `backup:/srv`, gets the module's ssh command, as in Ansible).
//! - `delegate_to: localhost` (the controller): as without `delegate_to`. (Ansible's ssh
//!   command then has localhost's key settings, not the host's, so it reaches the host only
//!   with `private_key` or a key ssh finds by itself; prov's goes through the host's own
//!   connection, with its key.)
//! - `delegate_to` another host: rsync runs there, without `become`, with Ansible's ssh
//!   command to this host as its remote shell (`ssh -S none -i KEY -o Port=PORT -o
//!   StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null`: the delegate's key, this
//!   host's port), as in Ansible; that host needs ssh and a way in. `use_ssh_args` is
//!   refused there.
//!
//! rsync must be installed on the controller and on the host, as for Ansible. With `--diff`
//! the module's `prepared` text (rsync's output) is not shown as a diff; it is in `msg`.

use super::rsync_bridge::Bridge;
use crate::commands::split_words;
use async_trait::async_trait;
use minijinja::Value;
use prov_core::args::{lenient_bool, lenient_opt_bool};
use prov_core::cmd::{shlex_quote, Sh};
use prov_core::connection::BecomeMethod;
use prov_core::module::{Action, Change, Module, ModuleCtx, ModuleError, Outcome, Plan, Planned};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use tokio::io::AsyncReadExt;

fn yes() -> bool {
    true
}

/// `mode` of `synchronize`.
#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// From the controller (or the delegate) to the host.
    #[default]
    Push,
    /// From the host to the controller.
    Pull,
}

/// Arguments of `synchronize`, with the module's names and defaults.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    /// Source path.
    pub src: String,
    /// Destination path.
    pub dest: String,
    /// SSH port of the host (Ansible's ssh command; see the module's notes).
    #[serde(default)]
    pub dest_port: Option<i64>,
    /// `push` or `pull`.
    #[serde(default)]
    pub mode: Direction,
    /// `--archive`.
    #[serde(default = "yes", deserialize_with = "lenient_bool")]
    pub archive: bool,
    /// `--checksum`.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub checksum: bool,
    /// `--compress`.
    #[serde(default = "yes", deserialize_with = "lenient_bool")]
    pub compress: bool,
    /// `--existing`.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub existing_only: bool,
    /// `--delete-after`.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub delete: bool,
    /// `--dirs`.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub dirs: bool,
    /// `--recursive` / `--no-recursive` (default: as `archive`).
    #[serde(default, deserialize_with = "lenient_opt_bool")]
    pub recursive: Option<bool>,
    /// `--links` / `--no-links`.
    #[serde(default, deserialize_with = "lenient_opt_bool")]
    pub links: Option<bool>,
    /// `--copy-links`.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub copy_links: bool,
    /// `--perms` / `--no-perms`.
    #[serde(default, deserialize_with = "lenient_opt_bool")]
    pub perms: Option<bool>,
    /// `--times` / `--no-times`.
    #[serde(default, deserialize_with = "lenient_opt_bool")]
    pub times: Option<bool>,
    /// `--owner` / `--no-owner`.
    #[serde(default, deserialize_with = "lenient_opt_bool")]
    pub owner: Option<bool>,
    /// `--group` / `--no-group`.
    #[serde(default, deserialize_with = "lenient_opt_bool")]
    pub group: Option<bool>,
    /// `--rsync-path`.
    #[serde(default)]
    pub rsync_path: Option<String>,
    /// `--timeout` (0: none).
    #[serde(default)]
    pub rsync_timeout: i64,
    /// `USER@` in the host's path.
    #[serde(default = "yes", deserialize_with = "lenient_bool")]
    pub set_remote_user: bool,
    /// Ansible's ssh command's multiplexing (nothing here).
    #[serde(default, deserialize_with = "lenient_bool")]
    pub ssh_connection_multiplexing: bool,
    /// More options, pasted into the command line.
    #[serde(default)]
    pub rsync_opts: prov_core::args::StringList,
    /// `--partial`.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub partial: bool,
    /// Ansible's ssh command's host key checking (prov's connection checks keys anyway).
    #[serde(default, deserialize_with = "lenient_bool")]
    pub verify_host: bool,
    /// Ansible's ssh command's key.
    #[serde(default)]
    pub private_key: Option<String>,
    /// `--link-dest` for each.
    #[serde(default)]
    pub link_dest: Option<prov_core::args::StringList>,
    /// `--delay-updates -F`.
    #[serde(default = "yes", deserialize_with = "lenient_bool")]
    pub delay_updates: bool,
    /// Ansible's ssh command's arguments from the connection settings.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub use_ssh_args: bool,
}

/// The `synchronize` module.
#[derive(Debug, Default)]
pub struct Synchronize;

/// Where rsync runs.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Place {
    /// On the connection's host, both paths there (local connection, delegate_to the host).
    OnHost,
    /// On the controller, the host reached through the bridge; the host part of its paths.
    Controller { host: String },
    /// On the delegate (`delegate_to` another host), with Ansible's ssh command to the host
    /// as rsync's remote shell there; the host part of its paths.
    Delegate { host: String },
}

/// The run decided before rsync starts.
#[derive(Debug)]
pub struct Run {
    place: Place,
    src: String,
    dest: String,
    /// rsync's own remote shell is ours (no `--rsh` in `rsync_opts`).
    bridged: bool,
    rsync_path: Option<String>,
    /// The `USER@` of the host's path, if any.
    user: Option<String>,
}

const CHANGED_MARKER: &str = "<<CHANGED>>";
const LOCALHOST: [&str; 3] = ["127.0.0.1", "localhost", "::1"];

/// The words of the command line before the remote shell, in the module's order.
fn leading_words(a: &Args, check: bool) -> Vec<String> {
    let mut cmd = Vec::new();
    let mut push = |s: &str| cmd.push(s.to_string());
    if a.delay_updates {
        push("--delay-updates");
        push("-F");
    }
    if a.compress {
        push("--compress");
    }
    if a.rsync_timeout != 0 {
        cmd.push(format!("--timeout={}", a.rsync_timeout));
    }
    let mut push = |s: &str| cmd.push(s.to_string());
    if check {
        push("--dry-run");
    }
    if a.delete {
        push("--delete-after");
    }
    if a.existing_only {
        push("--existing");
    }
    if a.checksum {
        push("--checksum");
    }
    if a.copy_links {
        push("--copy-links");
    }
    let flags = [
        (a.recursive, "recursive"),
        (a.links, "links"),
        (a.perms, "perms"),
        (a.times, "times"),
        (a.owner, "owner"),
        (a.group, "group"),
    ];
    if a.archive {
        push("--archive");
        for (v, name) in flags {
            if v == Some(false) {
                cmd.push(format!("--no-{name}"));
            }
        }
    } else {
        for (v, name) in flags {
            if v == Some(true) {
                cmd.push(format!("--{name}"));
            }
        }
    }
    if a.dirs {
        cmd.push("--dirs".into());
    }
    cmd
}

/// The module's `is_rsh_needed`.
fn rsh_needed(src: &str, dest: &str) -> bool {
    !(src.starts_with("rsync://") || dest.starts_with("rsync://")) && (src.contains(':') || dest.contains(':'))
}

/// Python's `os.path.abspath` of `p` against `cwd` (no symbolic links followed).
fn abspath(p: &str, cwd: &Path) -> String {
    let joined = if p.starts_with('/') { PathBuf::from(p) } else { cwd.join(p) };
    normpath(&joined.display().to_string())
}

/// Python's `os.path.normpath` for an absolute path.
fn normpath(p: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    format!("/{}", parts.join("/"))
}

/// Python's `os.path.dirname`: what comes before the last `/`, without its trailing `/`s
/// (unless it is all slashes).
fn py_dirname(p: &str) -> String {
    let head = &p[..p.rfind('/').map_or(0, |i| i + 1)];
    let trimmed = head.trim_end_matches('/');
    if trimmed.is_empty() {
        head.to_string()
    } else {
        trimmed.to_string()
    }
}

/// Whether rsync gets the module's ssh command as its remote shell (a host path, no
/// `--rsh` in `rsync_opts`).
fn needs_ssh(a: &Args, run: &Run) -> bool {
    rsh_needed(&run.src, &run.dest) && !a.rsync_opts.0.iter().any(|o| o.contains("--rsh"))
}

/// The module's command line (`cmd`) for `run`, with rsync at `rsync` and `rsh` as the remote
/// shell when one is needed and `rsync_opts` has none, and its warnings.
fn command_line(
    a: &Args,
    run: &Run,
    rsync: &str,
    rsh: Option<&[String]>,
    check: bool,
    cwd: &Path,
) -> Result<(String, Vec<String>), String> {
    let (src, dest, rsync_path) = (run.src.as_str(), run.dest.as_str(), run.rsync_path.as_deref());
    let mut cmd = vec![rsync.to_string()];
    cmd.extend(leading_words(a, check));
    if src.starts_with("rsync://") && dest.starts_with("rsync://") {
        return Err("either src or dest must be a localhost".into());
    }
    let opts = &a.rsync_opts.0;
    if rsh_needed(src, dest) && !opts.iter().any(|o| o.contains("--rsh")) {
        if let Some(words) = rsh {
            let line = words.iter().map(|w| shlex_quote(w)).collect::<Vec<_>>().join(" ");
            cmd.push(format!("--rsh={}", shlex_quote(&line)));
        }
    }
    if let Some(p) = rsync_path {
        cmd.push(format!("--rsync-path={}", shlex_quote(p)));
    }
    let mut warnings = Vec::new();
    if opts.iter().any(String::is_empty) {
        warnings.push(
            "The empty string is present in rsync_opts which will cause rsync to transfer the current working \
             directory. If this is intended, use \".\" instead to get rid of this warning. If this is unintended, \
             check for problems in your playbook leading to empty string in rsync_opts."
                .to_string(),
        );
    }
    cmd.extend(opts.iter().cloned());
    if a.partial {
        cmd.push("--partial".into());
    }
    if let Some(links) = a.link_dest.as_ref().filter(|l| !l.0.is_empty()) {
        cmd.push("-H".into());
        cmd.push("-vv".into());
        for x in &links.0 {
            // `elements: path`: `$VAR` and `~` expanded where the module runs.
            let x = match run.place {
                Place::Controller { .. } => prov_core::paths::expand_local(x),
                _ => x.clone(),
            };
            let link = abspath(&x, cwd);
            let parent = py_dirname(dest);
            let destination = abspath(&parent, cwd);
            if destination.starts_with(&link) {
                return Err(format!(
                    "Hardlinking into a subdirectory of the source would cause recursion. {destination} and {dest}"
                ));
            }
            cmd.push(format!("--link-dest={link}"));
        }
    }
    cmd.push(format!("--out-format={}", shlex_quote(&format!("{CHANGED_MARKER}%i %n%L"))));
    cmd.push(shlex_quote(src));
    cmd.push(shlex_quote(dest));
    Ok((cmd.join(" "), warnings))
}

/// The module's result from rsync's exit status and output.
fn result(a: &Args, cmd: &str, rc: i32, stdout: &str, stderr: &str, warnings: Vec<String>) -> Outcome {
    let mut o = if rc != 0 {
        Outcome::failed(stderr).with("rc", rc).with("cmd", cmd)
    } else {
        let changed = if a.link_dest.as_ref().is_some_and(|l| !l.0.is_empty()) {
            !stdout.contains(&format!("{CHANGED_MARKER}."))
        } else {
            stdout.contains(CHANGED_MARKER)
        };
        let clean = stdout.replace(CHANGED_MARKER, "");
        let lines: Vec<String> = clean.split('\n').filter(|l| !l.is_empty()).map(str::to_string).collect();
        Outcome { changed, msg: Some(clean), ..Outcome::ok() }
            .with("rc", rc)
            .with("cmd", cmd)
            .with("stdout_lines", Value::from(lines))
    };
    for w in warnings {
        o = o.warn(w);
    }
    o
}

/// The host's own connection: the task's, or the host's when the task is delegated (to the
/// controller, where rsync reaches the host through it).
fn host_conn<'a>(cx: &ModuleCtx<'a>) -> &'a dyn prov_core::connection::Connection {
    match cx.delegate_to {
        Some(_) => cx.host_conn.unwrap_or(cx.conn),
        None => cx.conn,
    }
}

/// A variable of the task as text, when it is defined and not empty.
fn var(cx: &ModuleCtx<'_>, expr: &str) -> Option<String> {
    let v = cx.vars.eval(expr).ok()?;
    if v.is_undefined() || v.is_none() {
        return None;
    }
    Some(v.to_string()).filter(|s| !s.is_empty())
}

/// The action plugin's `_get_absolute_path`: a path with `:` or a leading `/` as it is;
/// otherwise looked up as `path_dwim_relative` looks it up (the first that exists, else the
/// last place tried), with a trailing `/` kept.
fn absolute_path(path: &str, cx: &ModuleCtx<'_>) -> String {
    if path.contains(':') || path.starts_with('/') {
        return path.to_string();
    }
    let found = if path.starts_with('~') {
        prov_core::paths::expand_local(path)
    } else {
        let cwd = std::env::current_dir().unwrap_or_default();
        // The task's directories: its role's (when it has one) first, the playbook's last.
        // (A playbook named by a relative path has a relative directory, empty for `.`.)
        let dirs: Vec<PathBuf> =
            cx.files.search_path("files").into_iter().filter(|d| !d.ends_with("files")).map(|d| cwd.join(d)).collect();
        let mut tried: Vec<PathBuf> = Vec::new();
        match dirs.split_last() {
            Some((playbook, roles)) => {
                if let Some(role) = roles.first() {
                    tried.push(role.join("files").join(path));
                    if !path.ends_with("files") {
                        tried.push(role.join("tasks").join(path));
                    }
                    tried.push(cwd.join("files").join(path));
                    tried.push(role.join(path));
                } else {
                    tried.push(playbook.join("files").join(path));
                    tried.push(cwd.join("files").join(path));
                }
                tried.push(playbook.join("files").join(path));
                tried.push(playbook.join(path));
            }
            None => tried.push(cwd.join(path)),
        }
        let pick = tried.iter().find(|c| c.exists()).or(tried.last()).cloned().unwrap_or_default();
        normpath(&pick.display().to_string())
    };
    if path.ends_with('/') && !found.ends_with('/') {
        format!("{found}/")
    } else {
        found
    }
}

/// The action plugin's `_format_rsync_rsh_target`.
fn rsh_target(host: &str, path: &str, user: Option<&str>) -> String {
    if path.starts_with("rsync://") {
        return path.to_string();
    }
    let prefix = user.map(|u| format!("{u}@")).unwrap_or_default();
    if host.contains(':') {
        return format!("[{prefix}{host}]:{path}");
    }
    if !path.contains(':') {
        format!("{prefix}{host}:{path}")
    } else if !path.contains('@') {
        format!("{prefix}{path}")
    } else {
        path.to_string()
    }
}

/// Where rsync runs and its two paths, as the action plugin decides them.
fn decide(a: &Args, cx: &ModuleCtx<'_>) -> Result<Run, String> {
    let inventory_name = cx.host;
    let ansible_host = var(cx, "ansible_host");
    let host_ids: Vec<&str> = [Some(inventory_name), ansible_host.as_deref()].into_iter().flatten().collect();
    let controller = || Place::Controller { host: ansible_host.clone().unwrap_or_else(|| inventory_name.to_string()) };
    let place = match cx.delegate_to {
        Some(d) if host_ids.contains(&d) => Place::OnHost,
        // Delegated to the controller (`localhost`): as without delegate_to, rsync on the
        // controller and the host through its own connection.
        Some(_) if cx.conn.is_local() && cx.host_conn.is_some_and(|c| !c.is_local()) => controller(),
        // Delegated to another host: rsync runs there, with ssh to this host, as in Ansible.
        Some(_) if !cx.conn.is_local() => {
            Place::Delegate { host: ansible_host.clone().unwrap_or_else(|| inventory_name.to_string()) }
        }
        Some(d) => {
            return Err(format!(
                "synchronize delegated to `{d}`, a local connection, for a host that has one too: \
                 prov does not run this case"
            ))
        }
        None if cx.conn.is_local() => Place::OnHost,
        None => controller(),
    };
    let (mut src, mut dest) = (a.src.clone(), a.dest.clone());
    // An empty `rsync_path` is no rsync path, as in the module and its action plugin.
    let mut rsync_path = a.rsync_path.clone().filter(|p| !p.is_empty());
    let bridged = !a.rsync_opts.0.iter().any(|o| o.contains("--rsh"));
    let mut login = None;
    if let Place::Controller { host } | Place::Delegate { host } = &place {
        // `ansible_user`, else the play context's remote user (the `remote_user` keyword, the
        // configuration's), as the action plugin reads them.
        let user =
            if a.set_remote_user { var(cx, "ansible_user").or_else(|| host_conn(cx).remote_user()) } else { None };
        let port = var(cx, "ansible_port");
        // A host that is this machine on the port localhost answers on: from the controller,
        // a local copy (the action plugin's `_process_remote` on its local connection); from
        // a delegate, `localhost:` would become the address the delegate's own SSH session
        // came from (the module's `_substitute_controller`), which prov does not do.
        let localhost_port =
            LOCALHOST.iter().any(|h| var(cx, &format!("hostvars[{h:?}].ansible_port | default(none)")) == port);
        let this_machine = LOCALHOST.contains(&host.as_str()) && localhost_port;
        if this_machine && matches!(place, Place::Delegate { .. }) {
            return Err(format!(
                "synchronize delegated to another host, for a host that is `{host}` on the controller's \
                 port: not supported by prov"
            ));
        }
        let bridged = bridged && matches!(place, Place::Controller { .. }) && !this_machine;
        if let (Some(want), Some(have)) = (a.dest_port, &port) {
            if bridged && want.to_string() != *have {
                return Err(format!(
                    "dest_port {want} is not the port of this host's connection ({have}): prov's rsync goes \
                     through that connection"
                ));
            }
        }
        if let (Some(want), Some(have)) = (&a.private_key, var(cx, "ansible_ssh_private_key_file")) {
            if bridged && prov_core::paths::expand_local(want) != prov_core::paths::expand_local(&have) {
                return Err(format!(
                    "private_key {want} is not the key of this host's connection ({have}): prov's rsync goes \
                     through that connection"
                ));
            }
        }
        login = user.clone().filter(|_| !this_machine);
        let remote = |p: &str| if this_machine { absolute_path(p, cx) } else { rsh_target(host, p, user.as_deref()) };
        match a.mode {
            Direction::Push => {
                src = absolute_path(&src, cx);
                dest = remote(&dest);
            }
            Direction::Pull => {
                src = remote(&src);
                dest = absolute_path(&dest, cx);
            }
        }
        if rsync_path.is_none() {
            if let Some(b) = cx.become_.as_ref().filter(|b| b.method == BecomeMethod::Sudo) {
                rsync_path = Some(format!("sudo -u {} rsync", b.user));
            }
        }
    } else {
        src = absolute_path(&src, cx);
        dest = absolute_path(&dest, cx);
    }
    // The module's `path` type: `$VAR` and `~` expanded where the module runs.
    if matches!(place, Place::Controller { .. }) {
        src = prov_core::paths::expand_local(&src);
        dest = prov_core::paths::expand_local(&dest);
    }
    // A path rsync would read as an option (only a value with `:` in it, which is taken as it
    // is, can start so): Ansible passes it on; prov does not let a path reach rsync's options.
    for (name, p) in [("src", &src), ("dest", &dest)] {
        if p.starts_with('-') {
            return Err(format!("{name} `{p}` starts with `-`: rsync would read it as an option"));
        }
    }
    Ok(Run { place, src, dest, bridged, rsync_path, user: login })
}

/// Ansible's `get_bin_path` on the controller: `PATH`, then the sbin directories.
fn local_bin(name: &str) -> Result<String, String> {
    if name.contains('/') {
        return Ok(name.to_string());
    }
    let mut dirs: Vec<String> =
        std::env::var("PATH").unwrap_or_default().split(':').filter(|d| !d.is_empty()).map(str::to_string).collect();
    for d in ["/sbin", "/usr/sbin", "/usr/local/sbin"] {
        if !dirs.iter().any(|x| x == d) {
            dirs.push(d.to_string());
        }
    }
    for d in &dirs {
        let p = Path::new(d).join(name);
        if p.is_file() && is_executable(&p) {
            return Ok(p.display().to_string());
        }
    }
    Err(format!("Failed to find required executable \"{name}\" in paths: {}", dirs.join(":")))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.permissions().mode() & 0o111 != 0)
}

/// The same lookup on the connection's host.
/// `escalate`: with the task's `become` (on the host itself), or as the login user (on a
/// delegate, where Ansible runs the module without it).
async fn remote_bin(name: &str, cx: &ModuleCtx<'_>, escalate: bool) -> Result<String, ModuleError> {
    if name.contains('/') {
        return Ok(name.to_string());
    }
    let script = Sh::lit("n=").glued(Sh::quoted(name)).then(Sh::lit(
        "IFS=:; for d in $PATH /sbin /usr/sbin /usr/local/sbin; do p=\"$d/$n\"; \
         if [ -n \"$d\" ] && [ -f \"$p\" ] && [ -x \"$p\" ]; then printf '%s\\n' \"$p\"; exit 0; fi; done; exit 1",
    ));
    let out = host_exec(cx, script, escalate).await?;
    let found = out.stdout_str().trim().to_string();
    if out.rc == 0 && !found.is_empty() {
        return Ok(found);
    }
    Err(ModuleError::Failed(format!("Failed to find required executable \"{name}\" on the host")))
}

/// Runs `line` on the task's connection, with the task's `become` when `escalate`, else as
/// the login user (with the task's environment either way).
async fn host_exec(
    cx: &ModuleCtx<'_>,
    line: Sh,
    escalate: bool,
) -> Result<prov_core::connection::ExecOutput, ModuleError> {
    if escalate {
        return cx.exec(line).await;
    }
    let req = prov_core::connection::ExecRequest {
        command: line.as_str().to_string(),
        stdin: None,
        become_: None,
        env: cx.env.clone(),
        timeout: cx.timeout,
    };
    Ok(cx.conn.exec(req).await?)
}

/// The module's ssh command for rsync on the host or a delegate: `-S none` unless multiplexing, the key,
/// the port, and no host key checking unless `verify_host`.
fn ssh_words(a: &Args, ssh: &str, key: Option<&str>, port: Option<&str>) -> Vec<String> {
    let mut w = vec![ssh.to_string()];
    if !a.ssh_connection_multiplexing {
        w.extend(["-S".into(), "none".into()]);
    }
    if let Some(k) = key {
        w.extend(["-i".into(), k.to_string()]);
    }
    if let Some(p) = port {
        w.extend(["-o".into(), format!("Port={p}")]);
    }
    if !a.verify_host {
        w.extend(["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null"].map(String::from));
    }
    w
}

/// Runs the decided rsync: on the controller through the bridge, on the host, or on the
/// delegate.
async fn run_rsync(a: &Args, run: &Run, cx: &ModuleCtx<'_>) -> Result<Outcome, ModuleError> {
    let check = cx.is_check();
    let rsync_name = var(cx, "ansible_rsync_path").unwrap_or_else(|| "rsync".into());
    match &run.place {
        // On the host itself (with the task's `become`), or on a delegate (without it, as
        // the action plugin runs the module there).
        Place::OnHost | Place::Delegate { .. } => {
            let on_host = run.place == Place::OnHost;
            if !on_host && a.use_ssh_args {
                return Err(ModuleError::Failed(
                    "use_ssh_args with delegate_to another host is not supported by prov".into(),
                ));
            }
            let rsync = remote_bin(&rsync_name, cx, on_host).await?;
            // A path on another machine: the module's ssh command, with the host's port unless
            // `dest_port` names one, and the key `private_key` names, else (on a delegate) the
            // key of the delegate's connection, as the action plugin passes them (it passes
            // none for a copy on the host itself).
            let rsh = match needs_ssh(a, run) {
                true => {
                    let ssh = remote_bin("ssh", cx, on_host).await?;
                    let port = a.dest_port.map(|p| p.to_string()).or_else(|| var(cx, "ansible_port"));
                    let delegate = cx.delegate_to.unwrap_or_default();
                    let key = match &a.private_key {
                        Some(k) => Some(k.clone()),
                        None if on_host => None,
                        None => var(
                            cx,
                            &format!("hostvars[{delegate:?}].ansible_ssh_private_key_file | default(hostvars[{delegate:?}].ansible_private_key_file | default(none))"),
                        ),
                    };
                    Some(ssh_words(a, &ssh, key.as_deref(), port.as_deref()))
                }
                false => None,
            };
            let cwd = PathBuf::from("/");
            let (line, warnings) =
                command_line(a, run, &rsync, rsh.as_deref(), check, &cwd).map_err(ModuleError::Failed)?;
            let words = split_words(&line).map_err(ModuleError::Failed)?;
            let sh = words.iter().skip(1).fold(Sh::quoted(&words[0]), |sh, w| sh.word(Sh::quoted(w)));
            let out = host_exec(cx, sh, on_host).await?;
            Ok(result(a, &line, out.rc, &out.stdout_str(), &out.stderr_str(), warnings))
        }
        Place::Controller { host } => {
            let rsync = local_bin(&rsync_name).map_err(ModuleError::Failed)?;
            let bridge = Bridge::open().map_err(ModuleError::Failed)?;
            let exe = std::env::current_exe()
                .map_err(|e| ModuleError::Failed(format!("cannot find prov's own binary for rsync: {e}")))?;
            let rsh = bridge.rsh_words(&exe);
            let rsh = run.bridged.then_some(rsh.as_slice());
            let cwd = std::env::current_dir().unwrap_or_default();
            let (line, warnings) = command_line(a, run, &rsync, rsh, check, &cwd).map_err(ModuleError::Failed)?;
            let words = split_words(&line).map_err(ModuleError::Failed)?;
            let mut c = tokio::process::Command::new(&words[0]);
            let (token_var, token) = bridge.token_env();
            c.args(&words[1..])
                .envs(cx.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
                .env(token_var, token)
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .kill_on_drop(true);
            let mut child = c.spawn().map_err(|e| ModuleError::Failed(format!("cannot run {}: {e}", words[0])))?;
            // rsync's stderr and its remote half's, in the order they come (see the bridge).
            let errors = std::sync::Mutex::new(Vec::new());
            let (mut out_pipe, mut err_pipe) = (child.stdout.take(), child.stderr.take());
            let run_it = async {
                let read_out = async {
                    let mut buf = Vec::new();
                    if let Some(p) = out_pipe.as_mut() {
                        let _ = p.read_to_end(&mut buf).await;
                    }
                    buf
                };
                let read_err = async {
                    let mut buf = vec![0u8; 8192];
                    while let Some(p) = err_pipe.as_mut() {
                        match p.read(&mut buf).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => errors.lock().map(|mut e| e.extend_from_slice(&buf[..n])).unwrap_or_default(),
                        }
                    }
                };
                let all = async {
                    let (out, (), status) = tokio::join!(read_out, read_err, child.wait());
                    status.map(|s| (s, out))
                };
                match cx.timeout {
                    Some(t) => tokio::time::timeout(t, all)
                        .await
                        .map_err(|_| format!("rsync did not end within {} s", t.as_secs()))?,
                    None => all.await,
                }
                .map_err(|e| e.to_string())
            };
            let (status, stdout) = bridge
                .serve(host_conn(cx), host, run.user.as_deref(), &errors, run_it)
                .await
                .map_err(ModuleError::Failed)?;
            let rc = status.code().unwrap_or(-1);
            let stderr = errors.into_inner().unwrap_or_default();
            let (stdout, stderr) = (String::from_utf8_lossy(&stdout), String::from_utf8_lossy(&stderr));
            Ok(result(a, &line, rc, &stdout, &stderr, warnings))
        }
    }
}

#[async_trait]
impl Module for Synchronize {
    const NAME: &'static str = "synchronize";
    const COLLECTIONS: &'static [&'static str] = &["ansible.posix", "ansible.builtin"];
    type Args = Args;
    type Plan = Run;

    async fn plan(&self, args: &Args, cx: &ModuleCtx<'_>) -> Result<Plan<Run>, ModuleError> {
        let run = decide(args, cx).map_err(ModuleError::Failed)?;
        let shown = format!("{} -> {}", run.src, run.dest);
        if cx.is_check() {
            // The module supports check mode by running rsync with `--dry-run`; what it
            // would copy is a change for `prov plan`.
            let mut o = run_rsync(args, &run, cx).await?;
            if o.changed {
                o.planned = vec![Planned { action: Action::Modify, resource: "files", name: shown }];
            }
            return Ok(Plan::Ok(o));
        }
        Ok(Plan::Change(Change::new(run, Action::Modify, "files", shown)))
    }

    async fn apply(&self, args: &Args, run: Run, cx: &ModuleCtx<'_>) -> Result<Outcome, ModuleError> {
        run_rsync(args, &run, cx).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;
    use prov_core::module::{DynModule, Erased};
    use serde_json::json;

    fn run_of(src: &str, dest: &str, rsync_path: Option<&str>) -> Run {
        Run {
            place: Place::OnHost,
            src: src.into(),
            dest: dest.into(),
            bridged: true,
            rsync_path: rsync_path.map(str::to_string),
            user: None,
        }
    }

    fn args(v: serde_json::Value) -> Args {
        prov_core::module::args_from_value(&j(v)).expect("args")
    }

    // The command lines below are the `cmd` ansible.posix's synchronize (ansible 12.3.0,
    // ansible-core 2.19.14) registered for the same arguments, with its `--rsh` left out.
    #[test]
    fn command_line_is_the_modules() {
        let a = args(json!({"src": "s/", "dest": "d", "rsync_opts": ["--exclude=*.log"]}));
        let (line, w) =
            command_line(&a, &run_of("/p/files/s/", "root@h:/d", None), "/usr/bin/rsync", None, false, Path::new("/"))
                .unwrap();
        assert_eq!(
            line,
            "/usr/bin/rsync --delay-updates -F --compress --archive --exclude=*.log \
             --out-format='<<CHANGED>>%i %n%L' /p/files/s/ root@h:/d"
        );
        assert!(w.is_empty());
        let a = args(json!({"src": "s", "dest": "d", "delete": true, "checksum": true, "archive": false,
            "recursive": true}));
        let (line, _) =
            command_line(&a, &run_of("/s", "root@h:/d", None), "/usr/bin/rsync", None, false, Path::new("/")).unwrap();
        assert_eq!(
            line,
            "/usr/bin/rsync --delay-updates -F --compress --delete-after --checksum --recursive \
             --out-format='<<CHANGED>>%i %n%L' /s root@h:/d"
        );
        let a = args(json!({"src": "s", "dest": "d", "perms": "no", "delay_updates": false, "compress": false,
            "rsync_timeout": 5, "partial": true}));
        let (line, _) =
            command_line(&a, &run_of("/s", "/d", Some("sudo -u root rsync")), "rsync", None, true, Path::new("/"))
                .unwrap();
        assert_eq!(
            line,
            "rsync --timeout=5 --dry-run --archive --no-perms --rsync-path='sudo -u root rsync' --partial \
             --out-format='<<CHANGED>>%i %n%L' /s /d"
        );
    }

    #[test]
    fn remote_shell_is_quoted_as_one_option_unless_rsync_opts_has_one() {
        let a = args(json!({"src": "s", "dest": "d"}));
        let rsh = vec!["/usr/bin/prov".to_string(), "rsync-rsh".into(), "/tmp/x y/s".into()];
        let (line, _) =
            command_line(&a, &run_of("/s", "h:/d", None), "rsync", Some(&rsh), false, Path::new("/")).unwrap();
        assert!(line.contains(r#"--rsh='/usr/bin/prov rsync-rsh '"'"'/tmp/x y/s'"'"''"#), "{line}");
        let words = split_words(&line).unwrap();
        assert!(words.contains(&"--rsh=/usr/bin/prov rsync-rsh '/tmp/x y/s'".to_string()), "{words:?}");
        let a = args(json!({"src": "s", "dest": "d", "rsync_opts": ["--rsh=ssh -p 2"]}));
        let (line, _) =
            command_line(&a, &run_of("/s", "h:/d", None), "rsync", Some(&rsh), false, Path::new("/")).unwrap();
        assert!(!line.contains("prov"), "{line}");
        // Pasted in unquoted, then split: the option is two words, as in Ansible.
        assert!(split_words(&line).unwrap().contains(&"-p".to_string()));
    }

    #[test]
    fn empty_rsync_opt_warns_and_link_dest_into_itself_fails() {
        let a = args(json!({"src": "s", "dest": "d", "rsync_opts": ["", "-v"]}));
        let (_, w) = command_line(&a, &run_of("/s", "/d", None), "rsync", None, false, Path::new("/")).unwrap();
        assert!(w[0].starts_with("The empty string is present in rsync_opts"));
        let a = args(json!({"src": "s", "dest": "/srv/a/b", "link_dest": ["/srv"]}));
        let e = command_line(&a, &run_of("/s", "/srv/a/b", None), "rsync", None, false, Path::new("/")).unwrap_err();
        assert_eq!(e, "Hardlinking into a subdirectory of the source would cause recursion. /srv/a and /srv/a/b");
        let a = args(json!({"src": "s", "dest": "/srv/a/b", "link_dest": ["../old"]}));
        let (line, _) =
            command_line(&a, &run_of("/s", "/srv/a/b", None), "rsync", None, false, Path::new("/w/x")).unwrap();
        assert!(line.contains(" -H -vv --link-dest=/w/old --out-format="), "{line}");
    }

    /// `link_dest` is `elements: path`: on the controller, `~` is the controller's home.
    #[test]
    fn link_dest_expands_the_home_on_the_controller() {
        let a = args(json!({"src": "s", "dest": "h:/srv/a", "link_dest": ["~/old"]}));
        let mut run = run_of("/s", "h:/srv/a", None);
        run.place = Place::Controller { host: "h".into() };
        let (line, _) = command_line(&a, &run, "rsync", None, false, Path::new("/w")).unwrap();
        let home = prov_core::paths::expand_local("~");
        assert!(line.contains(&format!("--link-dest={home}/old ")), "{line}");
    }

    #[test]
    fn changed_comes_from_rsync_output() {
        let a = args(json!({"src": "s", "dest": "d"}));
        let o = result(&a, "c", 0, "<<CHANGED>>cd+++++++++ ./\n<<CHANGED>><f+++++++++ a\n", "", vec![]);
        assert!(o.changed);
        assert_eq!(o.msg.as_deref(), Some("cd+++++++++ ./\n<f+++++++++ a\n"));
        assert_eq!(o.data["stdout_lines"], Value::from(vec!["cd+++++++++ ./", "<f+++++++++ a"]));
        let o = result(&a, "c", 0, "", "", vec![]);
        assert!(!o.changed && o.data["stdout_lines"].len() == Some(0));
        let o = result(&a, "c", 23, "", "rsync: oops\n", vec![]);
        assert!(o.failed);
        assert_eq!(o.msg.as_deref(), Some("rsync: oops\n"));
        assert_eq!(o.data["rc"], Value::from(23));
        // With link_dest, a line without the leading `.` is a change.
        let a = args(json!({"src": "s", "dest": "d", "link_dest": ["/x"]}));
        assert!(!result(&a, "c", 0, "<<CHANGED>>.d..t...... ./\n", "", vec![]).changed);
        assert!(result(&a, "c", 0, "<<CHANGED>>hf+++++++++ a\n", "", vec![]).changed);
    }

    #[test]
    fn dirname_is_pythons() {
        assert_eq!(py_dirname("/srv/b/"), "/srv/b");
        assert_eq!(py_dirname("/srv/b"), "/srv");
        assert_eq!(py_dirname("/b"), "/");
        assert_eq!(py_dirname("b"), "");
        assert_eq!(py_dirname("//b"), "//");
        let a = args(json!({"src": "s", "dest": "/srv/b/", "link_dest": ["/srv/b"]}));
        let e = command_line(&a, &run_of("/s", "/srv/b/", None), "rsync", None, false, Path::new("/")).unwrap_err();
        assert!(e.starts_with("Hardlinking into a subdirectory"), "{e}");
    }

    #[test]
    fn host_paths_are_formatted_as_the_action_plugin_does() {
        assert_eq!(rsh_target("10.0.0.1", "/srv", Some("deploy")), "deploy@10.0.0.1:/srv");
        assert_eq!(rsh_target("10.0.0.1", "/srv", None), "10.0.0.1:/srv");
        assert_eq!(rsh_target("::1", "/srv", Some("u")), "[u@::1]:/srv");
        assert_eq!(rsh_target("h", "other:/srv", Some("u")), "u@other:/srv");
        assert_eq!(rsh_target("h", "v@other:/srv", Some("u")), "v@other:/srv");
        assert_eq!(rsh_target("h", "rsync://x/m", Some("u")), "rsync://x/m");
    }

    #[tokio::test]
    async fn a_path_that_rsync_would_read_as_an_option_fails_the_task() {
        let h = LocalHost::new();
        let mut cx = h.ctx();
        cx.delegate_to = Some("test");
        let marker = pwned_marker("synchronize");
        let a = json!({"src": format!("--rsh=touch {marker}:x"), "dest": h.path("d")});
        let e = run_err::<Synchronize>(a, &cx).await;
        assert!(e.contains("starts with `-`"), "{e}");
        for v in hostile_values(&marker) {
            let a = json!({"src": h.path("nothing"), "dest": format!("{}/{v}", h.path("d"))});
            let _ = Erased::new(Synchronize).run(&j(a), &cx).await;
        }
        assert!(!Path::new(&marker).exists(), "a hostile path reached a shell");
    }

    #[tokio::test]
    async fn local_connection_syncs_on_the_host_and_twice_changes_nothing() {
        if local_bin("rsync").is_err() {
            panic!("rsync is missing: scripts/install-prereqs tests installs it");
        }
        let h = LocalHost::new();
        let src = h.path("src");
        std::fs::create_dir_all(Path::new(&src).join("sub")).unwrap();
        std::fs::write(Path::new(&src).join("sub/a"), "a\n").unwrap();
        let dest = h.path("dest");
        let a = json!({"src": format!("{src}/"), "dest": dest});
        // Delegated to the host itself: rsync runs there with both paths local.
        let mut cx = h.ctx();
        cx.delegate_to = Some("test");
        let o = run::<Synchronize>(a.clone(), &cx).await;
        assert!(o.changed && !o.failed, "{o:?}");
        assert_eq!(std::fs::read_to_string(Path::new(&dest).join("sub/a")).unwrap(), "a\n");
        let o = run::<Synchronize>(a, &cx).await;
        assert!(!o.changed && !o.failed, "{o:?}");
    }
}
