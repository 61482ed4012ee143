//! `file`: makes a path a directory, a file's attributes right, a symbolic or hard link, or
//! removes it.
//!
//! Arguments (as in Ansible):
//! - `path` (aliases `dest`, `name`, required).
//! - `state`: `file` (default when the path is missing: only attributes, fails when absent),
//!   `directory` (`mkdir -p`; each directory it creates gets `mode`, `owner` and `group`),
//!   `link` (symbolic link to `src`), `hard` (hard link to `src`), `touch` (create or update
//!   times; always changed), `absent` (`rm -rf`). Without `state`, an existing path keeps its
//!   kind (`directory` with `recurse`).
//! - `src`: link target (`link`, `hard`).
//! - `mode`, `owner`, `group`; `recurse` (directories: apply to everything below; with
//!   `follow`, also to what the links below point to, linked directories walked, as
//!   ansible-core; links get owner and group themselves).
//! - `force`: replace a file (or an empty directory) by a link.
//! - `follow` (default true): attributes go through symbolic links.
//!
//! One `stat` probe reads the state (plus a `find` only for `recurse`, and a second probe after
//! a change). Registers, as ansible-core: `path` (`dest` for `link`, `hard` and `touch`, with
//! `src` for links), the path's `uid`, `gid`, `owner`, `group`, `mode`, `state` (`hard` for a
//! file with two names), `size` (of a link itself; nothing for a link to nothing), `state:
//! absent` for a missing path, and under `--diff` a `diff` with the path's state and the
//! attributes that change (owner and group as numbers). Not in the diff: a touch's times and a
//! removed directory's `path_content`.
//!
//! ```yaml
//! - file:
//!     path: /srv/app
//!     state: directory
//!     owner: app
//!     mode: "0755"
//! - file: { src: /srv/app/current, dest: /srv/app/live, state: link }
//! - file: { path: /tmp/junk, state: absent }
//! ```

use super::{
    attr_diff, file_diff, own_state, probe, run_step, state_diff, with_path_info, AttrChange, Attrs, FileState, Kind,
};
use crate::util::{octal, probe_failed};
use async_trait::async_trait;
use prov_core::args::{lenient_bool, Mode};
use prov_core::cmd::{Cmd, Sh, Word, WordKind};
use prov_core::module::{Action, Change, DiffMode, Module, ModuleCtx, ModuleError, Outcome, Plan};
use serde::Deserialize;

fn yes() -> bool {
    true
}

/// Arguments of `file`.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Args {
    /// The path.
    #[serde(alias = "dest", alias = "name")]
    pub path: String,
    /// The modification time: `preserve` (the default, except `now` for `touch`) or `now`.
    #[serde(default, deserialize_with = "crate::util::stringish")]
    pub modification_time: Option<String>,
    /// The access time: `preserve` or `now` (as `modification_time`).
    #[serde(default, deserialize_with = "crate::util::stringish")]
    pub access_time: Option<String>,
    /// The format of a time given: only ansible-core's default is read.
    #[serde(default, deserialize_with = "crate::util::stringish")]
    pub modification_time_format: Option<String>,
    /// See `modification_time_format`.
    #[serde(default, deserialize_with = "crate::util::stringish")]
    pub access_time_format: Option<String>,
    /// Wanted state.
    #[serde(default)]
    pub state: Option<State>,
    /// Link target.
    #[serde(default)]
    pub src: Option<String>,
    /// Mode.
    #[serde(default)]
    pub mode: Option<Mode>,
    /// Owner name or uid.
    #[serde(default, deserialize_with = "crate::util::stringish")]
    pub owner: Option<String>,
    /// Group name or gid.
    #[serde(default, deserialize_with = "crate::util::stringish")]
    pub group: Option<String>,
    /// Apply attributes below a directory too.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub recurse: bool,
    /// Replace files by links.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub force: bool,
    /// Follow symbolic links for attributes.
    #[serde(default = "yes", deserialize_with = "lenient_bool")]
    pub follow: bool,
    /// SELinux user of the file: ignored where SELinux is off, as ansible-core does; refused
    /// where it is on (prov does not set contexts yet).
    #[serde(default, deserialize_with = "crate::util::stringish")]
    pub seuser: Option<String>,
    /// SELinux role (see `seuser`).
    #[serde(default, deserialize_with = "crate::util::stringish")]
    pub serole: Option<String>,
    /// SELinux type (see `seuser`).
    #[serde(default, deserialize_with = "crate::util::stringish")]
    pub setype: Option<String>,
    /// SELinux level (see `seuser`).
    #[serde(default, deserialize_with = "crate::util::stringish")]
    pub selevel: Option<String>,
}

/// `state` of `file`.
#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// Attributes of an existing file.
    File,
    /// A directory.
    Directory,
    /// A symbolic link.
    Link,
    /// A hard link.
    Hard,
    /// Created or times updated.
    Touch,
    /// Removed.
    Absent,
}

impl State {
    fn name(self) -> &'static str {
        match self {
            State::File => "file",
            State::Directory => "directory",
            State::Link => "link",
            State::Hard => "hard",
            State::Touch => "touch",
            State::Absent => "absent",
        }
    }
}

/// The `file` module.
#[derive(Debug, Default)]
pub struct File;

/// Commands `apply` runs, in order, the attribute changes they make, the path's state before
/// (links not followed) and the state asked for.
pub struct Steps(Vec<Sh>, Vec<AttrChange>, Option<FileState>, State);

fn current(st: &Option<FileState>) -> &'static str {
    st.as_ref().map(|s| s.kind.state()).unwrap_or("absent")
}

/// The key ansible-core's file module names the path with in its result.
fn path_key(state: State) -> &'static str {
    match state {
        State::Link | State::Hard | State::Touch => "dest",
        _ => "path",
    }
}

/// The file module's result: the path (and a link's `src`), the `diff` under `--diff`, the
/// path's attributes as they are (`own`: the path itself, links not followed).
fn result(args: &Args, state: State, own: Option<&FileState>, diff: Option<minijinja::Value>) -> Outcome {
    let mut o = Outcome::ok().with(path_key(state), args.path.as_str());
    // Without `src`, a link's is what it points to (ansible-core reads it).
    let src = args.src.as_deref().or_else(|| own.and_then(|s| s.link.as_deref()).filter(|_| args.state.is_none()));
    if let (State::Link | State::Hard, Some(src)) = (state, src) {
        o = o.with("src", src);
    }
    if let Some(d) = diff {
        o = o.with("diff", d);
    }
    if state == State::Absent && own.is_none() {
        o = o.with("state", "absent");
    }
    with_path_info(o, own)
}

/// The file module's `diff`: the path, its state when it is not the one asked for, and the
/// attributes that change (`new`: the path after the change; `None` in check mode).
fn diff(
    path: &str,
    state: State,
    before: Option<&FileState>,
    changes: &[AttrChange],
    new: Option<&FileState>,
) -> minijinja::Value {
    let prev = before.map(|s| s.reported_state()).unwrap_or("absent");
    let (mut b, mut a) = match before {
        Some(old) => attr_diff(changes, old, new),
        None => (Vec::new(), Vec::new()),
    };
    if prev != state.name() {
        b.insert(0, ("state", prev.into()));
        a.insert(0, ("state", state.name().into()));
    }
    file_diff(path, b, a)
}

#[async_trait]
impl Module for File {
    const NAME: &'static str = "file";
    const PATH_ARGS: &'static [&'static str] = &["path", "dest", "name", "src"];
    type Args = Args;
    type Plan = Steps;

    fn check_args(args: &Args) -> Result<(), String> {
        super::check_owner_group(&args.owner, &args.group)?;
        for (name, v) in [("modification_time", &args.modification_time), ("access_time", &args.access_time)] {
            match v.as_deref() {
                None | Some("preserve") => {}
                Some("now") if args.state == Some(State::Touch) => {}
                Some(other) => {
                    return Err(format!(
                        "{name} `{other}`: prov supports `preserve`, and `now` with state=touch, not other times yet"
                    ))
                }
            }
        }
        if matches!(args.state, Some(State::Link | State::Hard)) && args.src.is_none() {
            return Err("`src` is required for state=link and state=hard".into());
        }
        if args.recurse && !matches!(args.state, None | Some(State::Directory)) {
            return Err("`recurse` needs state=directory".into());
        }
        Ok(())
    }

    async fn plan(&self, args: &Args, cx: &ModuleCtx<'_>) -> Result<Plan<Steps>, ModuleError> {
        if let Some(o) = super::selinux_refused(cx, [&args.seuser, &args.serole, &args.setype, &args.selevel]).await? {
            return Ok(Plan::Ok(o));
        }
        let path = args.path.as_str();
        let follow = args.follow && !matches!(args.state, Some(State::Link | State::Hard | State::Absent));
        let st = probe(cx, path, None, follow).await?;
        let state = requested(args, &st);
        let own = own_state(cx, path, st.clone()).await?;
        let diff_on = cx.mode.diff == DiffMode::On;
        // A link given no `state` is a `link` task to ansible-core, whose attributes go to
        // what it points to: its result and diff name it as a link.
        let shown = match &own {
            Some(o) if args.state.is_none() && o.kind == Kind::Link => State::Link,
            _ => state,
        };
        Ok(match steps(args, cx, st, state).await? {
            Plan::Ok(o) if o.failed => Plan::Ok(o),
            Plan::Ok(_) => {
                // Nothing to remove: ansible-core's file module returns before it builds a diff.
                let d = (diff_on && !(state == State::Absent && own.is_none()))
                    .then(|| diff(path, shown, own.as_ref(), &[], None));
                Plan::Ok(result(args, shown, own.as_ref(), d))
            }
            Plan::Change(mut ch) => {
                let d = diff_on.then(|| diff(path, shown, own.as_ref(), &ch.plan.1, None));
                ch.data = result(args, shown, own.as_ref(), d).data;
                ch.plan.2 = own;
                ch.plan.3 = shown;
                Plan::Change(ch)
            }
        })
    }

    async fn apply(&self, args: &Args, steps: Steps, cx: &ModuleCtx<'_>) -> Result<Outcome, ModuleError> {
        let path = args.path.as_str();
        let Steps(cmds, changes, before, state) = steps;
        for cmd in cmds {
            if let Err(f) = run_step(cx, &format!("changing {}", args.path), cmd).await? {
                return Ok(f.with("path", args.path.as_str()));
            }
        }
        let after = probe(cx, path, None, false).await?;
        let d = (cx.mode.diff == DiffMode::On).then(|| diff(path, state, before.as_ref(), &changes, after.as_ref()));
        Ok(Outcome { changed: true, ..result(args, state, after.as_ref(), d) })
    }
}

/// `path` and the directories above it that a `mkdir -p` could create, outermost first:
/// `a/b/c` → `a`, `a/b`, `a/b/c`; `/srv/x` → `/srv`, `/srv/x`.
fn ancestors(path: &str) -> Vec<String> {
    let root = if path.starts_with('/') { "/" } else { "" };
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    (1..=parts.len()).map(|n| format!("{root}{}", parts[..n].join("/"))).collect()
}

/// The state the task asks for (ansible-core's default: what the path is, else a file).
fn requested(args: &Args, st: &Option<FileState>) -> State {
    match (args.state, st) {
        (Some(s), _) => s,
        (None, _) if args.recurse => State::Directory,
        (None, Some(s)) if s.kind == Kind::Dir => State::Directory,
        (None, Some(s)) if s.kind == Kind::Link => State::Link,
        (None, _) => State::File,
    }
}

/// What the file module does for `state`, given the path's state `st`.
async fn steps(
    args: &Args,
    cx: &ModuleCtx<'_>,
    st: Option<FileState>,
    state: State,
) -> Result<Plan<Steps>, ModuleError> {
    {
        let path = args.path.as_str();
        let attrs = Attrs::new(&args.mode, &args.owner, &args.group);
        let before = current(&st);
        let change = |steps: Vec<Sh>, action: Action, changes: &[AttrChange], after: &str| {
            let (b, a) = state_diff(before, after, changes);
            Plan::Change(
                Change::new(Steps(steps, changes.to_vec(), None, State::File), action, "file", path)
                    .with_diff(path, b, a),
            )
        };
        let attr_steps = |changes: &[AttrChange], recurse: bool, link: bool| -> Vec<Sh> {
            Attrs::command(path, changes, recurse, link).into_iter().collect()
        };
        match state {
            State::Absent => match &st {
                None => Ok(Plan::Ok(Outcome::ok())),
                Some(_) => {
                    Ok(change(vec![Cmd::new("rm").flag("-rf").operand(path).build()], Action::Delete, &[], "absent"))
                }
            },
            State::Directory => match &st {
                None => {
                    let changes = attrs.all();
                    let steps = if changes.is_empty() {
                        vec![Cmd::new("mkdir").flag("-p").operand(path).build()]
                    } else {
                        // ansible-core gives each directory it creates on the way the task's
                        // attributes; those already there keep theirs.
                        let mut steps: Vec<Sh> = ancestors(path)
                            .into_iter()
                            .map(|dir| {
                                let mkdir = Cmd::new("mkdir").operand(&dir).build();
                                let make = match Attrs::command(&dir, &changes, false, false) {
                                    Some(attrs) => mkdir.and(attrs),
                                    None => mkdir,
                                };
                                Sh::lit("[ -e").word(Sh::quoted(&dir)).suffix(" ] || {").word(make).suffix("; }")
                            })
                            .collect();
                        if args.recurse {
                            steps.extend(attr_steps(&changes, true, false));
                        }
                        steps
                    };
                    Ok(change(steps, Action::Create, &changes, "directory"))
                }
                Some(s) if s.kind == Kind::Dir => {
                    let mut changes = attrs.changes(s);
                    if args.recurse
                        && changes.is_empty()
                        && recursive_drift(cx, path, &attrs, s.umask, args.follow).await?
                    {
                        changes = attrs.all();
                        for c in changes.iter_mut() {
                            c.1 = "(differs below)".into();
                        }
                    }
                    if changes.is_empty() {
                        return Ok(Plan::Ok(Outcome::ok()));
                    }
                    let steps = if args.recurse {
                        recursive_steps(path, &attrs.all(), args.follow)?
                    } else {
                        attr_steps(&changes, false, false)
                    };
                    Ok(change(steps, Action::Modify, &changes, "directory"))
                }
                Some(s) => Ok(Plan::Ok(Outcome::failed(format!("{path} already exists as a {}", s.kind.state())))),
            },
            State::File => match &st {
                None => Ok(Plan::Ok(
                    Outcome::failed(format!("file ({path}) is absent, cannot continue")).with("path", path),
                )),
                Some(s) if s.kind == Kind::Dir => Ok(Plan::Ok(
                    Outcome::failed(format!("file ({path}) is a directory, cannot continue")).with("path", path),
                )),
                Some(s) => {
                    let changes = attrs.changes(s);
                    if changes.is_empty() {
                        return Ok(Plan::Ok(Outcome::ok()));
                    }
                    let link = s.kind == Kind::Link;
                    Ok(change(attr_steps(&changes, false, link), Action::Modify, &changes, s.kind.state()))
                }
            },
            State::Touch => {
                let changes = match &st {
                    Some(s) => attrs.changes(s),
                    None => attrs.all(),
                };
                // Both times `preserve`: an existing file keeps its times, and only what else
                // changes is a change (ansible-core); a missing one is created.
                let preserve = args.modification_time.as_deref() == Some("preserve")
                    && args.access_time.as_deref() == Some("preserve");
                if preserve && st.is_some() {
                    if changes.is_empty() {
                        return Ok(Plan::Ok(Outcome::ok()));
                    }
                    let s = st.as_ref().map(|s| s.kind.state()).unwrap_or("file");
                    return Ok(change(attr_steps(&changes, false, false), Action::Modify, &changes, s));
                }
                // One time `preserve`: only the other one is set (ansible-core keeps the
                // preserved one).
                let mut touch = Cmd::new("touch");
                if st.is_some() && args.modification_time.as_deref() == Some("preserve") {
                    touch = touch.flag("-a");
                } else if st.is_some() && args.access_time.as_deref() == Some("preserve") {
                    touch = touch.flag("-m");
                }
                let mut steps = vec![touch.operand(path).build()];
                steps.extend(attr_steps(&changes, false, false));
                let action = if st.is_none() { Action::Create } else { Action::Modify };
                let after = st.as_ref().map(|s| s.kind.state()).unwrap_or("file");
                Ok(change(steps, action, &changes, after))
            }
            State::Link => {
                let src = args.src.clone().unwrap_or_default();
                if !args.force {
                    // ansible-core: a relative `src` is from the link's directory (from the
                    // path itself when it is a directory), and must exist without `force`.
                    let base = match &st {
                        Some(s) if s.kind == Kind::Dir => path.to_string(),
                        _ => match path.rsplit_once('/') {
                            Some(("", _)) => "/".to_string(),
                            Some((d, _)) => d.to_string(),
                            None => String::new(),
                        },
                    };
                    let absrc = match base.as_str() {
                        _ if src.starts_with('/') => src.clone(),
                        "" => src.clone(),
                        "/" => format!("/{src}"),
                        b => format!("{b}/{src}"),
                    };
                    if probe(cx, &absrc, None, true).await?.is_none_or(|s| !s.target_exists) {
                        let mut o = Outcome::failed(format!(
                            "src file does not exist, use 'force=yes' if you really want to create the link: {absrc}"
                        ));
                        o.data.insert("path".into(), path.into());
                        o.data.insert("src".into(), src.as_str().into());
                        return Ok(Plan::Ok(o));
                    }
                }
                match &st {
                    Some(s) if s.kind == Kind::Link && s.link.as_deref() == Some(src.as_str()) => {
                        let changes: Vec<AttrChange> = attrs.changes(s).into_iter().filter(|c| c.0 != "mode").collect();
                        if changes.is_empty() {
                            return Ok(Plan::Ok(Outcome::ok()));
                        }
                        Ok(change(attr_steps(&changes, false, true), Action::Modify, &changes, "link"))
                    }
                    Some(s) if s.kind == Kind::Dir && !args.force => Ok(Plan::Ok(Outcome::failed(format!(
                        "refusing to convert from directory to symlink for {path} (use force to replace an empty directory)"
                    )))),
                    Some(s) if s.kind != Kind::Link && !args.force => Ok(Plan::Ok(Outcome::failed(format!(
                        "refusing to convert from {} to symlink for {path} (use force)",
                        s.kind.state()
                    )))),
                    _ => {
                        let mut steps = Vec::new();
                        if st.as_ref().is_some_and(|s| s.kind == Kind::Dir) {
                            steps.push(Cmd::new("rmdir").operand(path).build());
                        }
                        steps.push(Cmd::new("ln").flag("-sfn").operands([src.as_str(), path]).build());
                        let changes: Vec<AttrChange> = attrs.all().into_iter().filter(|c| c.0 != "mode").collect();
                        steps.extend(attr_steps(&changes, false, true));
                        let action = if st.is_none() { Action::Create } else { Action::Modify };
                        let (b, a) = state_diff(before, "link", &changes);
                        let old = st.as_ref().and_then(|s| s.link.clone()).map(|l| format!("src: {l}\n")).unwrap_or_default();
                        Ok(Plan::Change(Change::new(Steps(steps, changes.clone(), None, State::File), action, "file", path).with_diff(
                            path,
                            format!("{b}{old}"),
                            format!("{a}src: {src}\n"),
                        )))
                    }
                }
            }
            State::Hard => {
                let src = args.src.clone().unwrap_or_default();
                let src_st = probe(cx, &src, None, true).await?;
                let Some(src_st) = src_st else {
                    return Ok(Plan::Ok(Outcome::failed(format!("src file does not exist: {src}"))));
                };
                match &st {
                    Some(s) if s.inode == src_st.inode && s.kind != Kind::Link => {
                        let changes = attrs.changes(s);
                        if changes.is_empty() {
                            return Ok(Plan::Ok(Outcome::ok()));
                        }
                        Ok(change(attr_steps(&changes, false, false), Action::Modify, &changes, "hard"))
                    }
                    Some(s) if !args.force && s.kind != Kind::Link => Ok(Plan::Ok(Outcome::failed(format!(
                        "refusing to convert from {} to hard link for {path} (use force)",
                        s.kind.state()
                    )))),
                    _ => {
                        let changes = attrs.all();
                        let mut steps = vec![Cmd::new("ln").flag("-f").operands([src.as_str(), path]).build()];
                        steps.extend(attr_steps(&changes, false, false));
                        let action = if st.is_none() { Action::Create } else { Action::Modify };
                        Ok(change(steps, action, &changes, "hard"))
                    }
                }
            }
        }
    }
}

/// `find` over what `recurse` reaches below and at `path`: everything but links, through links
/// with `follow` (what they point to, linked directories walked, as ansible-core); or
/// (`links`) the links themselves, never followed.
fn find_reached(word: &Word, follow: bool, links: bool) -> Cmd {
    let find = if follow && !links { Cmd::new("find").flag("-L") } else { Cmd::new("find") };
    // find takes its start path before any expression and has no `--`: a checked path word
    // (`-delete` becomes `./-delete`) is never read as an expression.
    let find = find.word(word);
    if links {
        find.opt("-type", "l")
    } else {
        find.flag("!").opt("-type", "l")
    }
}

/// Whether something `recurse` reaches has other attributes than `attrs` (links' own mode is
/// not looked at: Linux has none to set; their owner and group are).
async fn recursive_drift(
    cx: &ModuleCtx<'_>,
    path: &str,
    attrs: &Attrs,
    umask: u32,
    follow: bool,
) -> Result<bool, ModuleError> {
    let word = Word::new(WordKind::Path, path)?;
    // A symbolic mode depends on each path's own mode: list them and resolve.
    if let Some(m @ Mode::Symbolic(_)) = &attrs.mode {
        let list = find_reached(&word, follow, false).opt("-printf", "%y %m\\n").build();
        let out = cx.exec(list).await?;
        if out.rc != 0 {
            return Err(probe_failed(&format!("listing the modes below {path}"), &out));
        }
        let drift = out.stdout_str().lines().any(|l| {
            let (kind, mode) = l.split_once(' ').unwrap_or(("", l));
            u32::from_str_radix(mode.trim(), 8).is_ok_and(|cur| m.resolve(cur, kind == "d", umask) != cur)
        });
        if drift {
            return Ok(true);
        }
    }
    let mut owned: Vec<(&'static str, String)> = Vec::new();
    if let Some(o) = &attrs.owner {
        owned.push(("-user", o.clone()));
    }
    if let Some(g) = &attrs.group {
        owned.push(("-group", g.clone()));
    }
    let mut tests = owned.clone();
    if let Some(Mode::Octal(m)) = attrs.mode {
        tests.push(("-perm", octal(m)));
    }
    for (links, tests) in [(false, tests), (true, owned)] {
        if tests.is_empty() {
            continue;
        }
        let mut cmd = find_reached(&word, follow, links).flag("\\(");
        for (n, (test, value)) in tests.into_iter().enumerate() {
            if n > 0 {
                cmd = cmd.flag("-o");
            }
            cmd = cmd.flag("!").opt(test, value);
        }
        let out = cx.exec(cmd.flag("\\)").flag("-print").flag("-quit").build()).await?;
        if out.rc != 0 {
            return Err(probe_failed(&format!("looking for attribute changes below {path}"), &out));
        }
        if !out.stdout.is_empty() {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The commands of `recurse`: the attributes on everything [`find_reached`] reaches (owner and
/// group on the links themselves too, as ansible-core's lchown).
fn recursive_steps(path: &str, changes: &[AttrChange], follow: bool) -> Result<Vec<Sh>, ModuleError> {
    let word = Word::new(WordKind::Path, path)?;
    let mut steps = Vec::new();
    if let Some((prog, who)) = Attrs::ownership(changes) {
        let exec = |c: Cmd, h: bool| {
            let c = c.flag("-exec").flag(prog);
            let c = if h { c.flag("-h") } else { c };
            c.operand(&who).flag("{}").flag("+").build()
        };
        steps.push(exec(find_reached(&word, follow, false), false));
        steps.push(exec(find_reached(&word, follow, true), true));
    }
    if let Some((_, _, m)) = changes.iter().find(|c| c.0 == "mode") {
        steps.push(
            find_reached(&word, follow, false).flag("-exec").flag("chmod").operand(m).flag("{}").flag("+").build(),
        );
    }
    Ok(steps)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;
    use prov_core::testutil::FakeConnection;
    use serde_json::json;

    const DIR: &str = "stat 41ed 755 0 0 4096 1 1 7 2 root root\naccess rwx\n";

    /// `setype` and the other SELinux arguments (geerlingguy.mysql sets `setype`): ignored on a
    /// host without SELinux, as ansible-core ignores them; a host with SELinux fails the task.
    #[tokio::test]
    async fn selinux_arguments_are_ignored_without_selinux_and_refused_with_it() {
        let h = fake_check(FakeConnection::new().on("test -e /sys/fs/selinux/enforce", 1, "").on("", 0, DIR));
        let o = run::<File>(json!({"path": "/srv", "state": "directory", "setype": "mysqld_db_t"}), &h.ctx()).await;
        assert!(!o.failed, "{o:?}");
        let h = fake(FakeConnection::new().on("test -e /sys/fs/selinux/enforce", 0, ""));
        let o = run::<File>(json!({"path": "/srv", "state": "directory", "setype": "mysqld_db_t"}), &h.ctx()).await;
        assert!(
            o.failed && o.msg.as_deref().unwrap_or_default().contains("prov does not set SELinux contexts yet"),
            "{o:?}"
        );
    }

    #[tokio::test]
    async fn directory_in_state() {
        let h = fake(FakeConnection::new().on("P=/srv", 0, DIR));
        let o =
            run::<File>(json!({"path": "/srv", "state": "directory", "mode": "0755", "owner": "0"}), &h.ctx()).await;
        assert!(!o.changed && !o.failed, "{o:?}");
        assert_eq!(o.data["mode"].as_str(), Some("0755"));
    }

    #[tokio::test]
    async fn directory_absent_is_created() {
        let h = fake(FakeConnection::new().on("P=", 0, "absent\n"));
        let o = run::<File>(json!({"dest": "/srv/a b", "state": "directory", "mode": 0o750, "owner": "app"}), &h.ctx())
            .await;
        assert!(o.changed);
        let calls = h.conn.calls();
        assert_eq!(calls[1], "[ -e /srv ] || { mkdir -- /srv && chown -- app /srv && chmod -- 0750 /srv; }");
        assert_eq!(
            calls[2],
            "[ -e '/srv/a b' ] || { mkdir -- '/srv/a b' && chown -- app '/srv/a b' && chmod -- 0750 '/srv/a b'; }"
        );
        assert_eq!(o.diffs[0].before, "state: absent\n");
        assert_eq!(o.diffs[0].after, "state: directory\nmode: 0750\nowner: app\n");
    }

    #[tokio::test]
    async fn drift_mode() {
        let h = fake(FakeConnection::new().on("P=", 0, DIR));
        let o = run::<File>(json!({"path": "/srv", "mode": "u=rwx,g=rx,o="}), &h.ctx()).await;
        assert!(o.changed);
        assert_eq!(h.conn.calls()[1], "chmod -- 0750 /srv");
        assert_eq!((o.diffs[0].before.as_str(), o.diffs[0].after.as_str()), ("mode: 0755\n", "mode: 0750\n"));
    }

    #[tokio::test]
    async fn recurse_checks_below() {
        let h = fake(FakeConnection::new().on("P=", 0, DIR).on("find", 0, "/srv/x\n"));
        let o = run::<File>(json!({"path": "/srv", "state": "directory", "owner": "root", "recurse": true}), &h.ctx())
            .await;
        assert!(o.changed);
        assert_eq!(h.conn.calls()[1], "find -L /srv ! -type l \\( ! -user root \\) -print -quit");
        assert_eq!(h.conn.calls()[2], "find -L /srv ! -type l -exec chown -- root {} +");
        assert_eq!(h.conn.calls()[3], "find /srv -type l -exec chown -h -- root {} +");
    }

    #[tokio::test]
    async fn a_path_named_like_a_find_action_is_not_an_expression() {
        let h = fake(FakeConnection::new().on("P=", 0, DIR).on("find", 0, ""));
        let o =
            run::<File>(json!({"path": "-delete", "state": "directory", "mode": "0755", "recurse": true}), &h.ctx())
                .await;
        assert!(!o.changed && !o.failed, "{o:?}");
        assert_eq!(h.conn.calls()[1], "find -L ./-delete ! -type l \\( ! -perm 0755 \\) -print -quit");
    }

    #[tokio::test]
    async fn absent_removes() {
        let h = fake(FakeConnection::new().on("P=", 0, DIR));
        let o = run::<File>(json!({"path": "/srv", "state": "absent"}), &h.ctx()).await;
        assert!(o.changed);
        assert_eq!(h.conn.calls()[1], "rm -rf -- /srv");
        assert_eq!((o.diffs[0].before.as_str(), o.diffs[0].after.as_str()), ("state: directory\n", "state: absent\n"));
        let h = fake(FakeConnection::new().on("P=", 0, "absent\n"));
        let o = run::<File>(json!({"path": "/srv", "state": "absent"}), &h.ctx()).await;
        assert!(!o.changed);
    }

    #[tokio::test]
    async fn check_mode_runs_only_the_probe() {
        let file = "stat 81a4 644 0 0 2 1 1 7 1 root root\n";
        let h = fake_check(FakeConnection::new().on("P=/t;", 0, file).on("P=", 0, "absent\n"));
        let o = run::<File>(json!({"path": "/l", "src": "/t", "state": "link"}), &h.ctx()).await;
        assert!(o.changed);
        // The path's probe and the source's.
        assert_eq!(h.conn.calls().len(), 2);
        assert_eq!(o.diffs[0].after, "state: link\nsrc: /t\n");
    }

    #[tokio::test]
    async fn link_states() {
        let link = "stat a1ff 777 0 0 2 1 1 7 1 root root\nlink /t\naccess rwx\n";
        let file = "stat 81a4 644 0 0 2 1 1 7 1 root root\n";
        let h = fake(FakeConnection::new().on("P=/l;", 0, link).on("P=", 0, file));
        let o = run::<File>(json!({"path": "/l", "src": "/t", "state": "link"}), &h.ctx()).await;
        assert!(!o.changed, "{o:?}");
        let o = run::<File>(json!({"path": "/l", "src": "/u", "state": "link"}), &h.ctx()).await;
        assert!(o.changed);
        assert_eq!(h.conn.calls()[4], "ln -sfn -- /u /l");
        let h = fake(FakeConnection::new().on("P=", 0, file));
        let o = run::<File>(json!({"path": "/l", "src": "/u", "state": "link"}), &h.ctx()).await;
        assert!(o.failed && o.msg.unwrap().contains("refusing"));
        // A source that does not exist needs `force`.
        let h = fake(FakeConnection::new().on("P=/l;", 0, "absent\n").on("P=", 0, "absent\n"));
        let o = run::<File>(json!({"path": "/l", "src": "/u", "state": "link"}), &h.ctx()).await;
        assert!(o.failed && o.msg.unwrap().contains("src file does not exist, use 'force=yes'"));
    }

    #[tokio::test]
    async fn file_absent_fails() {
        let h = fake(FakeConnection::new().on("P=", 0, "absent\n"));
        let o = run::<File>(json!({"path": "/nope", "mode": "0644"}), &h.ctx()).await;
        assert!(o.failed && !o.changed);
        let h = fake(FakeConnection::new().on("P=", 2, ""));
        assert!(run_err::<File>(json!({"path": "/x"}), &h.ctx()).await.contains("reading the state"));
    }

    /// ansible-core 2.19.14: `state: touch` with `modification_time: preserve` alone keeps
    /// the file's mtime and sets its atime (changed); prov set both times.
    #[tokio::test]
    async fn touch_keeps_the_one_time_it_preserves() {
        let h = LocalHost::new();
        let f = h.path("f");
        std::fs::write(&f, "x\n").unwrap();
        let old = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_577_836_800);
        let file = std::fs::File::options().write(true).open(&f).unwrap();
        file.set_times(std::fs::FileTimes::new().set_modified(old).set_accessed(old)).unwrap();
        let o = run::<File>(json!({"path": f, "state": "touch", "modification_time": "preserve"}), &h.ctx()).await;
        assert!(o.changed && !o.failed, "{o:?}");
        let m = std::fs::metadata(&f).unwrap();
        assert_eq!(m.modified().unwrap(), old);
        assert!(m.accessed().unwrap() > old);
        let o = run::<File>(json!({"path": f, "state": "touch", "access_time": "preserve"}), &h.ctx()).await;
        assert!(o.changed && !o.failed, "{o:?}");
        let m = std::fs::metadata(&f).unwrap();
        assert!(m.modified().unwrap() > old);
    }

    #[tokio::test]
    async fn local_file_states() {
        use std::os::unix::fs::PermissionsExt;
        let h = LocalHost::new();
        let d = h.path("a/b");
        let o = run::<File>(json!({"path": d, "state": "directory", "mode": "0700"}), &h.ctx()).await;
        assert!(o.changed && !o.failed, "{o:?}");
        assert_eq!(std::fs::metadata(&d).unwrap().permissions().mode() & 0o7777, 0o700);
        let o = run::<File>(json!({"path": d, "state": "directory", "mode": "0700"}), &h.ctx()).await;
        assert!(!o.changed, "{o:?}");
        let f = h.path("a/b/f");
        let o = run::<File>(json!({"path": f, "state": "touch", "mode": "0640"}), &h.ctx()).await;
        assert!(o.changed && !o.failed);
        let o = run::<File>(json!({"path": f, "mode": "0640"}), &h.ctx()).await;
        assert!(!o.changed, "{o:?}");
        let o =
            run::<File>(json!({"path": h.path("a"), "state": "directory", "mode": "0750", "recurse": true}), &h.ctx())
                .await;
        assert!(o.changed);
        assert_eq!(std::fs::metadata(&f).unwrap().permissions().mode() & 0o7777, 0o750);
        let o =
            run::<File>(json!({"path": h.path("a"), "state": "directory", "mode": "0750", "recurse": true}), &h.ctx())
                .await;
        assert!(!o.changed, "{o:?}");
        let l = h.path("l");
        let o = run::<File>(json!({"path": l, "src": f, "state": "link"}), &h.ctx()).await;
        assert!(o.changed && !o.failed);
        assert_eq!(std::fs::read_link(&l).unwrap().to_string_lossy(), f);
        let o = run::<File>(json!({"path": l, "src": f, "state": "link"}), &h.ctx()).await;
        assert!(!o.changed, "{o:?}");
        let hl = h.path("hard");
        let o = run::<File>(json!({"path": hl, "src": f, "state": "hard"}), &h.ctx()).await;
        assert!(o.changed && !o.failed, "{o:?}");
        let o = run::<File>(json!({"path": hl, "src": f, "state": "hard"}), &h.ctx()).await;
        assert!(!o.changed, "{o:?}");
        let o = run::<File>(json!({"path": h.path("a"), "state": "absent"}), &h.ctx()).await;
        assert!(o.changed);
        assert!(!std::path::Path::new(&d).exists());
    }

    #[tokio::test]
    async fn file_path_starting_with_dash_is_an_operand_not_an_option() {
        for p in ["-rf", "--help", "-delete"] {
            let h = fake(FakeConnection::new().on("P=", 0, DIR));
            let o = run::<File>(json!({"path": p, "state": "absent"}), &h.ctx()).await;
            assert!(o.changed, "{o:?}");
            assert_eq!(h.conn.calls()[1], format!("rm -rf -- {p}"));
            let h = fake(FakeConnection::new().on("P=", 0, "absent\n"));
            run::<File>(json!({"path": p, "src": "-f", "state": "link", "owner": "0", "force": true}), &h.ctx()).await;
            assert_eq!(h.conn.calls()[1..3], [format!("ln -sfn -- -f {p}"), format!("chown -h -- 0 {p}")]);
        }
    }

    #[tokio::test]
    async fn file_owner_or_group_that_is_an_option_or_a_path_is_refused() {
        let h = fake(FakeConnection::new().on("P=", 0, DIR));
        for bad in ["-rf", "--help", "../../x", "root:root", "a b", "$(id)\n"] {
            for key in ["owner", "group"] {
                let e = run_err::<File>(json!({"path": "/srv", key: bad}), &h.ctx()).await;
                assert!(e.contains("not a valid user or group name"), "{key} {bad:?}: {e}");
            }
        }
        assert!(h.conn.calls().is_empty(), "nothing ran: {:?}", h.conn.calls());
    }

    #[tokio::test]
    async fn file_hostile_names_are_data_end_to_end() {
        let h = LocalHost::new();
        let marker = pwned_marker("file");
        let keep = h.path("keep");
        std::fs::write(&keep, "x").unwrap();
        for name in hostile_values(&marker) {
            let d = h.path(&name);
            let args = json!({"path": d, "state": "directory", "mode": "0750", "recurse": true});
            let o = run::<File>(args, &h.ctx()).await;
            assert!(o.changed && !o.failed, "{name:?}: {o:?}");
            assert!(std::path::Path::new(&d).is_dir(), "{name:?}");
            let f = format!("{d}/{}", name.replace('/', "_"));
            let o = run::<File>(json!({"path": f, "state": "touch", "mode": "0600"}), &h.ctx()).await;
            assert!(o.changed && !o.failed, "{name:?}: {o:?}");
            let l = format!("{f}.link");
            let o = run::<File>(json!({"path": l, "src": f, "state": "link"}), &h.ctx()).await;
            assert!(o.changed && !o.failed, "{name:?}: {o:?}");
            assert_eq!(std::fs::read_link(&l).unwrap().to_string_lossy(), f);
            let o = run::<File>(json!({"path": format!("{f}.hard"), "src": f, "state": "hard"}), &h.ctx()).await;
            assert!(o.changed && !o.failed, "{name:?}: {o:?}");
            let o = run::<File>(json!({"path": d, "state": "absent"}), &h.ctx()).await;
            assert!(o.changed && !o.failed, "{name:?}: {o:?}");
            assert!(!std::path::Path::new(&d).exists(), "{name:?}");
        }
        assert!(!std::path::Path::new(&marker).exists(), "a hostile name ran as shell");
        assert!(std::path::Path::new(&keep).exists(), "only the named paths were removed");
    }

    /// The same steps under ansible-core 2.19 (`-c local`, umask 022) changed
    /// [True, True, False, True, False] and left the modes asserted below.
    #[tokio::test]
    async fn symbolic_modes_apply_to_each_path_as_ansible_core() {
        use std::os::unix::fs::PermissionsExt;
        let h = LocalHost::new();
        let mode = |p: &str| std::fs::metadata(p).unwrap().permissions().mode() & 0o7777;
        let (top, sub, f, new) = (h.path("t"), h.path("t/sub"), h.path("t/sub/f"), h.path("t/new"));
        std::fs::create_dir_all(&sub).unwrap();
        std::fs::set_permissions(&sub, std::fs::Permissions::from_mode(0o700)).unwrap();
        std::fs::write(&f, "x").unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::fs::write(&new, "y").unwrap();
        std::fs::set_permissions(&new, std::fs::Permissions::from_mode(0o660)).unwrap();
        let rec = json!({"path": top, "state": "directory", "mode": "u+rwx,go+rX", "recurse": true});
        assert!(run::<File>(rec.clone(), &h.ctx()).await.changed);
        assert!(!run::<File>(rec, &h.ctx()).await.changed);
        let minus = json!({"path": f, "mode": "a-r"});
        assert!(run::<File>(minus.clone(), &h.ctx()).await.changed);
        assert!(!run::<File>(minus, &h.ctx()).await.changed);
        assert_eq!([mode(&top), mode(&sub), mode(&f), mode(&new)], [0o755, 0o755, 0o311, 0o775]);
    }
}
