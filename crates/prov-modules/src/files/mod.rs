//! File modules (`copy`, `template`, `file`, `lineinfile`, `blockinfile`, `ini_file`, `replace`, `stat`, `find`, `slurp`, `fetch`, `tempfile`, `unarchive`) and what they share: one probe
//! command that reads a path's type, mode, owner and checksum, and ownership/mode fixing.

pub mod blockinfile;
pub mod copy;
pub(crate) mod edit;
pub mod fetch;
pub mod file;
pub mod find;
pub mod ini_file;
pub mod lineinfile;
pub mod replace;
pub mod slurp;
pub mod stat;
pub mod tempfile;
pub mod template;
pub mod unarchive;

use crate::util::{diff_text, octal, probe_failed};
use prov_core::args::Mode;
use prov_core::cmd::{Cmd, Sh, Word, WordKind};
use prov_core::module::{Action, Change, ModuleCtx, ModuleError, Outcome, Plan};
use sha2::{Digest, Sha256};

/// What a path is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    File,
    Dir,
    Link,
    Other,
}

impl Kind {
    /// Ansible's state name.
    pub(crate) fn state(self) -> &'static str {
        match self {
            Kind::File => "file",
            Kind::Dir => "directory",
            Kind::Link => "link",
            Kind::Other => "special",
        }
    }
}

/// A path's state on the target, from [`probe`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FileState {
    pub kind: Kind,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub size: u64,
    pub mtime: i64,
    pub atime: i64,
    pub inode: u64,
    pub nlink: u64,
    pub owner: String,
    pub group: String,
    pub link: Option<String>,
    pub readable: bool,
    pub writeable: bool,
    pub executable: bool,
    pub checksum: Option<String>,
    /// The umask of the probing shell (what a symbolic mode without `u`/`g`/`o`/`a` keeps).
    pub umask: u32,
}

/// The permission and set-id bits ansible-core's `stat` (and `find`'s file entries) report as
/// booleans, by their key.
pub(crate) const MODE_BITS: &[(&str, u32)] = &[
    ("wusr", 0o200),
    ("rusr", 0o400),
    ("xusr", 0o100),
    ("wgrp", 0o020),
    ("rgrp", 0o040),
    ("xgrp", 0o010),
    ("woth", 0o002),
    ("roth", 0o004),
    ("xoth", 0o001),
    ("isuid", 0o4000),
    ("isgid", 0o2000),
];

/// Checksum algorithms `stat` and the file modules can ask the target for.
pub(crate) const ALGORITHMS: &[&str] = &["md5", "sha1", "sha224", "sha256", "sha384", "sha512"];

/// The checksum tool for one of [`ALGORITHMS`] (`sha256` → `sha256sum`).
pub(crate) fn checksum_tool(algo: &str) -> Option<&'static str> {
    match algo {
        "md5" => Some("md5sum"),
        "sha1" => Some("sha1sum"),
        "sha224" => Some("sha224sum"),
        "sha256" => Some("sha256sum"),
        "sha384" => Some("sha384sum"),
        "sha512" => Some("sha512sum"),
        _ => None,
    }
}

/// The probe: one `sh` command. `tool` (from [`checksum_tool`]) adds a checksum of regular
/// files; `follow` reads through symbolic links.
pub(crate) fn probe_command(path: &str, tool: Option<&'static str>, follow: bool) -> Sh {
    let c = Sh::lit("P=").glued(Sh::quoted(path)).then(Sh::lit("echo \"umask $(umask)\""));
    let c = if follow {
        c.then(Sh::lit("if [ ! -e \"$P\" ]; then echo absent; exit 0; fi"))
            .then(Sh::lit("stat -L -c 'stat %f %a %u %g %s %Y %X %i %h %U %G' -- \"$P\" || exit 1"))
    } else {
        c.then(Sh::lit("if [ ! -e \"$P\" ] && [ ! -L \"$P\" ]; then echo absent; exit 0; fi"))
            .then(Sh::lit("stat -c 'stat %f %a %u %g %s %Y %X %i %h %U %G' -- \"$P\" || exit 1"))
            .then(Sh::lit("if [ -L \"$P\" ]; then printf 'link %s\\n' \"$(readlink -- \"$P\")\"; fi"))
    };
    let c = c.then(Sh::lit(
        "a=; [ -r \"$P\" ] && a=${a}r; [ -w \"$P\" ] && a=${a}w; [ -x \"$P\" ] && a=${a}x; echo \"access $a\"",
    ));
    match tool {
        None => c,
        Some(tool) => {
            let test = if follow { "if [ -f \"$P\" ]" } else { "if [ -f \"$P\" ] && [ ! -L \"$P\" ]" };
            c.then(Sh::lit(test))
                .suffix("; then h=$(")
                .glued(Sh::lit(tool))
                .suffix(" < \"$P\") || exit 1; printf 'sum %s\\n' \"${h%% *}\"; fi")
        }
    }
}

/// Parses the probe's output.
pub(crate) fn parse_probe(text: &str) -> Result<Option<FileState>, String> {
    let mut st: Option<FileState> = None;
    // Printed first by the probe; 022 when a (test) probe leaves it out.
    let umask = text
        .lines()
        .find_map(|l| l.strip_prefix("umask "))
        .and_then(|u| u32::from_str_radix(u.trim(), 8).ok())
        .unwrap_or(0o022);
    for line in text.lines() {
        let (key, rest) = line.split_once(' ').unwrap_or((line, ""));
        match key {
            "absent" => return Ok(None),
            "stat" => {
                let f: Vec<&str> = rest.split(' ').collect();
                if f.len() < 11 {
                    return Err(format!("unexpected stat output: {line}"));
                }
                let bad = |what: &str| format!("unexpected {what} in stat output: {line}");
                let raw = u32::from_str_radix(f[0], 16).map_err(|_| bad("type"))?;
                let kind = match raw & 0o170000 {
                    0o100000 => Kind::File,
                    0o040000 => Kind::Dir,
                    0o120000 => Kind::Link,
                    _ => Kind::Other,
                };
                st = Some(FileState {
                    kind,
                    mode: u32::from_str_radix(f[1], 8).map_err(|_| bad("mode"))?,
                    uid: f[2].parse().map_err(|_| bad("uid"))?,
                    gid: f[3].parse().map_err(|_| bad("gid"))?,
                    size: f[4].parse().map_err(|_| bad("size"))?,
                    mtime: f[5].parse().map_err(|_| bad("mtime"))?,
                    atime: f[6].parse().map_err(|_| bad("atime"))?,
                    inode: f[7].parse().map_err(|_| bad("inode"))?,
                    nlink: f[8].parse().map_err(|_| bad("link count"))?,
                    owner: f[9].to_string(),
                    group: f[10..].join(" "),
                    link: None,
                    readable: false,
                    writeable: false,
                    executable: false,
                    checksum: None,
                    umask,
                });
            }
            "link" => {
                if let Some(s) = st.as_mut() {
                    s.link = Some(rest.to_string());
                }
            }
            "access" => {
                if let Some(s) = st.as_mut() {
                    s.readable = rest.contains('r');
                    s.writeable = rest.contains('w');
                    s.executable = rest.contains('x');
                }
            }
            "sum" => {
                if let Some(s) = st.as_mut() {
                    s.checksum = Some(rest.trim().to_string());
                }
            }
            _ => {}
        }
    }
    match st {
        Some(s) => Ok(Some(s)),
        None => Err(format!("unexpected output from stat: {}", text.trim())),
    }
}

/// The line that separates the probe's report from the file's bytes in [`probe_read_command`].
const CONTENT_MARK: &[u8] = b"\ncontent\n";

/// The probe (following links) plus the bytes of a regular file, in one command: where a probe
/// and a download would take two round trips.
pub(crate) fn probe_read_command(path: &str) -> Sh {
    probe_command(path, None, true).then(Sh::lit("if [ -f \"$P\" ]; then echo content; cat -- \"$P\" || exit 1; fi"))
}

/// Splits [`probe_read_command`]'s output into the probe's state and the file's bytes (`None`
/// when the path is not a regular file).
pub(crate) fn parse_probe_read(out: &[u8]) -> Result<(Option<FileState>, Option<Vec<u8>>), String> {
    let at = out.windows(CONTENT_MARK.len()).position(|w| w == CONTENT_MARK);
    let (head, body) = match at {
        Some(i) => (&out[..=i], Some(out[i + CONTENT_MARK.len()..].to_vec())),
        None => (out, None),
    };
    Ok((parse_probe(&String::from_utf8_lossy(head))?, body))
}

/// Reads a path's state and, for a regular file, its bytes, in one command.
pub(crate) async fn probe_read(
    cx: &ModuleCtx<'_>,
    path: &str,
) -> Result<(Option<FileState>, Option<Vec<u8>>), ModuleError> {
    let out = cx.exec(probe_read_command(path)).await?;
    if out.rc != 0 {
        return Err(probe_failed(&format!("reading {path}"), &out));
    }
    parse_probe_read(&out.stdout).map_err(|e| ModuleError::Failed(format!("{path}: {e}")))
}

/// Reads a path's state in one command (`None`: it does not exist).
pub(crate) async fn probe(
    cx: &ModuleCtx<'_>,
    path: &str,
    tool: Option<&'static str>,
    follow: bool,
) -> Result<Option<FileState>, ModuleError> {
    let out = cx.exec(probe_command(path, tool, follow)).await?;
    if out.rc != 0 {
        return Err(probe_failed(&format!("reading the state of {path}"), &out));
    }
    parse_probe(&out.stdout_str()).map_err(|e| ModuleError::Failed(format!("{path}: {e}")))
}

/// Hex sha1 of bytes: the `checksum` ansible-core's copy and template register.
pub(crate) fn sha1_hex(data: &[u8]) -> String {
    use sha1::{Digest as _, Sha1};
    hex::encode(Sha1::digest(data))
}

/// Hex sha256 of bytes (what `sha256sum` prints).
pub(crate) fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// Wanted mode and ownership.
#[derive(Debug, Clone, Default)]
pub(crate) struct Attrs {
    pub mode: Option<Mode>,
    pub owner: Option<String>,
    pub group: Option<String>,
}

/// One attribute that differs: name, before, after.
pub(crate) type AttrChange = (&'static str, String, String);

fn matches_id(want: &str, id: u32, name: &str) -> bool {
    if !want.is_empty() && want.bytes().all(|b| b.is_ascii_digit()) {
        want.parse::<u32>().ok() == Some(id)
    } else {
        want == name
    }
}

impl Attrs {
    pub(crate) fn new(mode: &Option<Mode>, owner: &Option<String>, group: &Option<String>) -> Self {
        Attrs { mode: mode.clone(), owner: owner.clone(), group: group.clone() }
    }

    /// The mode `st` should have (a symbolic mode applied to its own, with the target's umask).
    pub(crate) fn mode_for(&self, st: &FileState) -> Option<u32> {
        self.mode.as_ref().map(|m| m.resolve(st.mode, st.kind == Kind::Dir, st.umask))
    }

    /// What differs from `st` (links have no mode of their own).
    pub(crate) fn changes(&self, st: &FileState) -> Vec<AttrChange> {
        let mut out = Vec::new();
        if let Some(m) = self.mode_for(st) {
            if st.kind != Kind::Link && st.mode != m {
                out.push(("mode", octal(st.mode), octal(m)));
            }
        }
        if let Some(o) = &self.owner {
            if !matches_id(o, st.uid, &st.owner) {
                out.push(("owner", st.owner.clone(), o.clone()));
            }
        }
        if let Some(g) = &self.group {
            if !matches_id(g, st.gid, &st.group) {
                out.push(("group", st.group.clone(), g.clone()));
            }
        }
        out
    }

    /// Everything set, as changes from nothing (a new path). A symbolic mode stays symbolic:
    /// chmod applies it to the mode the new path was created with.
    pub(crate) fn all(&self) -> Vec<AttrChange> {
        let mut out = Vec::new();
        match &self.mode {
            Some(Mode::Octal(m)) => out.push(("mode", String::new(), octal(*m))),
            Some(Mode::Symbolic(m)) => out.push(("mode", String::new(), m.clone())),
            None => {}
        }
        if let Some(o) = &self.owner {
            out.push(("owner", String::new(), o.clone()));
        }
        if let Some(g) = &self.group {
            out.push(("group", String::new(), g.clone()));
        }
        out
    }

    /// The `chown`/`chmod` command making `changes` true, if any.
    pub(crate) fn command(path: &str, changes: &[AttrChange], recurse: bool, link: bool) -> Option<Sh> {
        let get = |k: &str| changes.iter().find(|c| c.0 == k).map(|c| c.2.clone());
        let opts = |mut c: Cmd, link: bool| {
            if recurse {
                c = c.flag("-R");
            }
            if link {
                c = c.flag("-h");
            }
            c
        };
        let own = match (get("owner"), get("group")) {
            (Some(o), Some(g)) => Some(opts(Cmd::new("chown"), link).operands([format!("{o}:{g}"), path.to_string()])),
            (Some(o), None) => Some(opts(Cmd::new("chown"), link).operands([o.as_str(), path])),
            (None, Some(g)) => Some(opts(Cmd::new("chgrp"), link).operands([g.as_str(), path])),
            (None, None) => None,
        };
        let chmod = get("mode").filter(|_| !link).map(|m| opts(Cmd::new("chmod"), false).operands([m.as_str(), path]));
        let sh = own.into_iter().chain(chmod).fold(Sh::default(), |sh, c| sh.and(c));
        (!sh.as_str().is_empty()).then_some(sh)
    }
}

/// Checks `owner` and `group` as account names or numeric ids: neither an option (`-rf`), a
/// path (`../x`) nor an `owner:group` pair.
pub(crate) fn check_owner_group(owner: &Option<String>, group: &Option<String>) -> Result<(), String> {
    for v in [owner, group].into_iter().flatten().filter(|v| !v.is_empty()) {
        Word::new(WordKind::Account, v).map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Diff texts for a state and attribute change: `state: absent` → `state: directory\nmode: 0755`.
pub(crate) fn state_diff(before: &str, after: &str, changes: &[AttrChange]) -> (String, String) {
    let mut b = String::new();
    let mut a = String::new();
    if before != after {
        b.push_str(&format!("state: {before}\n"));
        a.push_str(&format!("state: {after}\n"));
    }
    for (k, old, new) in changes {
        if !old.is_empty() {
            b.push_str(&format!("{k}: {old}\n"));
        }
        a.push_str(&format!("{k}: {new}\n"));
    }
    (b, a)
}

/// Runs a command that changes the host; a non-zero exit fails the task with its output.
pub(crate) async fn run_step(cx: &ModuleCtx<'_>, what: &str, cmd: Sh) -> Result<Result<(), Outcome>, ModuleError> {
    let out = cx.exec(cmd).await?;
    if out.rc != 0 {
        let err = out.stderr_str();
        let mut o = Outcome::failed(format!("{what} failed: {}", err.trim())).with_exec(&out);
        o.changed = false;
        return Ok(Err(o));
    }
    Ok(Ok(()))
}

/// Writing a whole file (`copy`, `template`): the request.
pub(crate) struct Write<'a> {
    pub dest: &'a str,
    pub data: Vec<u8>,
    pub attrs: Attrs,
    pub force: bool,
    /// For a destination that is a directory: the file name to write inside it.
    pub src_name: Option<&'a str>,
}

/// What a whole-file write (`copy`, `template`) will do.
pub struct WritePlan {
    pub(crate) dest: String,
    pub(crate) data: Vec<u8>,
    pub(crate) write: bool,
    /// Mode, uid and gid of the file being replaced.
    pub(crate) old: Option<(u32, u32, u32)>,
    pub(crate) changes: Vec<AttrChange>,
    /// Message of the result.
    pub(crate) msg: String,
}

/// Plans a whole-file write: one probe (with sha256), one `get` only for a diff.
pub(crate) async fn plan_write(cx: &ModuleCtx<'_>, w: Write<'_>) -> Result<Plan<WritePlan>, ModuleError> {
    let checksum = sha256_hex(&w.data);
    let mut dest = w.dest.to_string();
    let mut st = probe(cx, &dest, Some("sha256sum"), false).await?;
    let is_dir = st.as_ref().map(|s| s.kind == Kind::Dir).unwrap_or(false) || dest.ends_with('/');
    if is_dir {
        let Some(name) = w.src_name else {
            return Err(ModuleError::Failed(format!("{dest} is a directory: give a file name to write `content` to")));
        };
        dest = format!("{}/{}", dest.trim_end_matches('/'), name);
        st = probe(cx, &dest, Some("sha256sum"), false).await?;
    }
    if let Some(s) = &st {
        if s.kind == Kind::Dir {
            return Err(ModuleError::Failed(format!("{dest} is a directory")));
        }
    }
    let write = match &st {
        None => true,
        Some(s) if s.kind == Kind::File => w.force && s.checksum.as_deref() != Some(checksum.as_str()),
        Some(_) => w.force,
    };
    let changes = match &st {
        Some(s) if s.kind == Kind::File => w.attrs.changes(s),
        _ => w.attrs.all(),
    };
    if !write && changes.is_empty() {
        let mut o = Outcome::ok().with("dest", dest.as_str()).with("checksum", sha1_hex(&w.data));
        if let Some(s) = &st {
            o = o
                .with("size", s.size)
                .with("mode", octal(s.mode))
                .with("owner", s.owner.as_str())
                .with("group", s.group.as_str());
        }
        return Ok(Plan::Ok(o));
    }
    let action = if st.is_none() { Action::Create } else { Action::Modify };
    let mut ch = Change::new(
        WritePlan {
            dest: dest.clone(),
            data: Vec::new(),
            write,
            old: st.as_ref().filter(|s| s.kind == Kind::File).map(|s| (s.mode, s.uid, s.gid)),
            changes: changes.clone(),
            msg: String::new(),
        },
        action,
        "file",
        dest.clone(),
    );
    if write && cx.mode.diff == prov_core::module::DiffMode::On {
        let before = match &st {
            Some(s) if s.kind == Kind::File => cx.get(&dest).await?.map(|d| diff_text(&d)).unwrap_or_default(),
            _ => String::new(),
        };
        ch = ch.with_diff(dest.clone(), before, diff_text(&w.data));
    }
    if !changes.is_empty() && st.is_some() {
        let (b, a) = state_diff("file", "file", &changes);
        ch = ch.with_diff(format!("{dest} (attributes)"), b, a);
    }
    ch.plan.data = w.data;
    Ok(Plan::Change(ch))
}

/// Makes a planned write: optional backup and validation, the upload, then ownership and mode.
pub(crate) async fn apply_write(
    cx: &ModuleCtx<'_>,
    p: WritePlan,
    attrs: &Attrs,
    backup: bool,
    validate: Option<&str>,
) -> Result<Outcome, ModuleError> {
    let mut o = Outcome { changed: true, ..Outcome::ok() };
    if !p.msg.is_empty() {
        o.msg = Some(p.msg.clone());
    }
    // A symbolic mode applies to the replaced file's mode; for a new file chmod applies it
    // after the upload (below).
    let mode = match &attrs.mode {
        Some(Mode::Octal(m)) => Some(*m),
        Some(Mode::Symbolic(_)) => p.old.map(|(old, _, _)| {
            let planned = p.changes.iter().find(|c| c.0 == "mode").and_then(|c| u32::from_str_radix(&c.2, 8).ok());
            planned.unwrap_or(old)
        }),
        None => p.old.map(|x| x.0),
    };
    if p.write {
        if backup && p.old.is_some() {
            let cmd = Sh::lit("P=")
                .glued(Sh::quoted(&p.dest))
                .then(Sh::lit("B=\"$P.$$.$(date +%Y-%m-%d@%H:%M:%S)~\""))
                .then(Sh::lit("cp -p -- \"$P\" \"$B\" && echo \"$B\""));
            let out = cx.exec(cmd).await?;
            if out.rc != 0 {
                return Ok(Outcome::failed(format!("backing up {} failed: {}", p.dest, out.stderr_str().trim())));
            }
            o = o.with("backup_file", out.stdout_str().trim());
        }
        if let Some(v) = validate {
            let (dir, name) = p.dest.rsplit_once('/').unwrap_or((".", p.dest.as_str()));
            let dir = if dir.is_empty() { "/" } else { dir };
            let tmp = format!("{}/.{name}.prov-validate", dir.trim_end_matches('/'));
            cx.put(&tmp, &p.data, mode).await?;
            let out = cx.exec(validate_command(v, &tmp)).await?;
            if out.rc != 0 {
                let _ = cx.exec(Cmd::new("rm").flag("-f").operand(&tmp).build()).await?;
                let mut f = Outcome::failed(format!("failed to validate: {}", out.stderr_str().trim())).with_exec(&out);
                f.changed = false;
                return Ok(f);
            }
            let mv = Cmd::new("mv").flag("-f").operands([&tmp, &p.dest]).build();
            if let Err(f) = run_step(cx, "moving the validated file", mv).await? {
                return Ok(f);
            }
        } else {
            cx.put(&p.dest, &p.data, mode).await?;
        }
    }
    let mut changes = p.changes.clone();
    if p.write {
        // The upload may have replaced the file: ownership is set again (kept when not asked for).
        if let Some(o) = &attrs.owner {
            changes.retain(|c| c.0 != "owner");
            changes.push(("owner", String::new(), o.clone()));
        }
        if let Some(g) = &attrs.group {
            changes.retain(|c| c.0 != "group");
            changes.push(("group", String::new(), g.clone()));
        }
        if mode.is_some() {
            changes.retain(|c| c.0 != "mode");
        }
    }
    if let Some(cmd) = Attrs::command(&p.dest, &changes, false, false) {
        if let Err(f) = run_step(cx, "setting ownership and mode", cmd).await? {
            return Ok(f);
        }
    } else if let (true, Some((_, uid, gid))) = (p.write, p.old) {
        // Best effort: keep the owner of the replaced file.
        let keep = Cmd::new("chown").operands([format!("{uid}:{gid}"), p.dest.clone()]).build();
        let _ = cx.exec(keep.suffix(" 2>/dev/null || true")).await?;
    }
    Ok(o.with("dest", p.dest.as_str()).with("checksum", sha1_hex(&p.data)).with("size", p.data.len()))
}

/// The task's `validate` command (shell text its author wrote, as with `shell`), with each `%s`
/// replaced by the quoted path of the file to check, run through `eval` so that it stays one
/// quoted word of the command prov builds.
fn validate_command(validate: &str, path: &str) -> Sh {
    Sh::lit("eval").word(Sh::quoted(&validate.replace("%s", Sh::quoted(path).as_str())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_and_content_in_one_output() {
        let (st, body) =
            parse_probe_read(b"stat 81a4 644 0 0 5 10 11 12 1 root root\naccess rw\ncontent\na\ncontent\n\xff")
                .unwrap();
        assert_eq!(st.unwrap().size, 5);
        assert_eq!(body.as_deref(), Some(&b"a\ncontent\n\xff"[..]), "the file's bytes as they are");
        let (st, body) = parse_probe_read(b"stat 41ed 755 0 0 5 10 11 12 1 root root\naccess rwx\n").unwrap();
        assert_eq!((st.unwrap().kind, body), (Kind::Dir, None));
        assert_eq!(parse_probe_read(b"absent\n").unwrap(), (None, None));
        let (_, body) = parse_probe_read(b"stat 81a4 644 0 0 0 10 11 12 1 root root\naccess rw\ncontent\n").unwrap();
        assert_eq!(body.as_deref(), Some(&b""[..]), "an empty file");
    }

    #[test]
    fn parses_probe_output() {
        assert_eq!(parse_probe("absent\n").unwrap(), None);
        let s = parse_probe("stat 81a4 644 0 0 5 10 11 12 1 root root\naccess rw\nsum abc\n").unwrap().unwrap();
        assert_eq!((s.kind, s.mode, s.owner.as_str(), s.checksum.as_deref()), (Kind::File, 0o644, "root", Some("abc")));
        assert!(s.readable && s.writeable && !s.executable);
        let s = parse_probe("stat a1ff 777 0 0 5 10 11 12 1 root root\nlink /x y\naccess r\n").unwrap().unwrap();
        assert_eq!((s.kind, s.link.as_deref()), (Kind::Link, Some("/x y")));
        assert!(parse_probe("").is_err());
        assert!(parse_probe("stat zz").is_err());
    }

    #[test]
    fn attr_commands() {
        let a = Attrs { mode: Some(Mode::Octal(0o600)), owner: Some("1000".into()), group: Some("adm".into()) };
        let st = parse_probe("stat 81a4 644 1000 0 5 10 11 12 1 bob root\n").unwrap().unwrap();
        let ch = a.changes(&st);
        assert_eq!(ch, vec![("mode", "0644".into(), "0600".into()), ("group", "root".into(), "adm".into())]);
        assert_eq!(
            Attrs::command("/a b", &ch, true, false).unwrap().as_str(),
            "chgrp -R -- adm '/a b' && chmod -R -- 0600 '/a b'"
        );
    }
}
