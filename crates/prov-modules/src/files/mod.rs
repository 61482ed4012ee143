//! File modules (`copy`, `template`, `file`, `lineinfile`, `blockinfile`, `ini_file`, `replace`, `stat`, `find`, `slurp`, `fetch`, `tempfile`, `unarchive`, `synchronize`) and what they share: one probe
//! command that reads a path's type, mode, owner and checksum, and ownership/mode fixing.

pub mod acl;
pub mod blockinfile;
pub(crate) mod content;
pub mod copy;
pub mod copy_remote;
pub mod copy_remote_dir;
pub mod copy_tree;
pub(crate) mod edit;
pub mod fetch;
pub mod file;
pub mod find;
pub mod git;
pub mod ini_file;
pub mod lineinfile;
pub mod openssl_dhparam;
pub mod replace;
pub mod rsync_bridge;
pub mod slurp;
pub mod stat;
pub mod synchronize;
pub mod tempfile;
pub mod template;
pub mod unarchive;

use crate::util::{octal, probe_failed};
pub(crate) use content::Content;
use content::{diff_before, max_diff_size, DiffPart};
pub use content::{set_max_diff_size, MAX_DIFF_SIZE};
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
    /// Whether the path leads to something (false for a symbolic link to nothing).
    pub target_exists: bool,
    /// The probe followed links and the path itself is a link.
    pub via_link: bool,
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
            .then(Sh::lit("if [ -L \"$P\" ]; then echo via-link; fi"))
    } else {
        c.then(Sh::lit("if [ ! -e \"$P\" ] && [ ! -L \"$P\" ]; then echo absent; exit 0; fi"))
            .then(Sh::lit("stat -c 'stat %f %a %u %g %s %Y %X %i %h %U %G' -- \"$P\" || exit 1"))
            .then(Sh::lit("if [ -L \"$P\" ]; then printf 'link %s\\n' \"$(readlink -- \"$P\")\"; fi"))
    };
    let c = c.then(Sh::lit(
        "a=; [ -r \"$P\" ] && a=${a}r; [ -w \"$P\" ] && a=${a}w; [ -x \"$P\" ] && a=${a}x; echo \"access $a\"; [ -e \"$P\" ] || echo dangling",
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
                    target_exists: true,
                    via_link: false,
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
            "dangling" => {
                if let Some(s) = st.as_mut() {
                    s.target_exists = false;
                }
            }
            "via-link" => {
                if let Some(s) = st.as_mut() {
                    s.via_link = true;
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

/// Hex md5 of bytes: the `md5sum` ansible-core's copy and template register.
pub(crate) fn md5_hex(data: &[u8]) -> String {
    format!("{:x}", md5::compute(data))
}

/// A mode as ansible-core writes it in results and diffs (`'0%03o'`): `0644`, `04755`.
pub(crate) fn result_mode(m: u32) -> String {
    format!("0{m:03o}")
}

impl FileState {
    /// The state ansible-core reports for an existing path: `link`, `directory`, `hard` for a
    /// file with more than one name, else `file`.
    pub(crate) fn reported_state(&self) -> &'static str {
        match self.kind {
            Kind::Link => "link",
            Kind::Dir => "directory",
            _ if self.nlink > 1 => "hard",
            _ => "file",
        }
    }
}

/// What ansible-core adds to the result of a module that returns a `path` or `dest`
/// (`add_path_info`): uid, gid, owner, group, mode, state and size of the path itself, a link not
/// followed. Nothing for a path that leads nowhere (absent, or a link to nothing).
pub(crate) fn with_path_info(mut o: Outcome, st: Option<&FileState>) -> Outcome {
    if let Some(s) = st.filter(|s| s.target_exists) {
        o = o
            .with("uid", s.uid)
            .with("gid", s.gid)
            .with("owner", s.owner.as_str())
            .with("group", s.group.as_str())
            .with("mode", result_mode(s.mode))
            .with("state", s.reported_state())
            .with("size", s.size);
    }
    o
}

/// The state of the path itself for [`with_path_info`]: `st` when it was probed without
/// following links (or is not a link), else a second probe.
pub(crate) async fn own_state(
    cx: &ModuleCtx<'_>,
    path: &str,
    st: Option<FileState>,
) -> Result<Option<FileState>, ModuleError> {
    match st {
        Some(s) if s.via_link => probe(cx, path, None, false).await,
        st => Ok(st),
    }
}

/// One side of a registered diff: keys and JSON values, in order.
pub(crate) type DiffSide = Vec<(&'static str, serde_json::Value)>;

/// The attribute entries of a registered diff (ansible-core's order: owner, group, mode; owner
/// and group as numeric ids, the mode as a string): before from `old`, after from `new` (the
/// path after the change) or, without it (check mode), from what the task asks for.
pub(crate) fn attr_diff(changes: &[AttrChange], old: &FileState, new: Option<&FileState>) -> (DiffSide, DiffSide) {
    use serde_json::Value as J;
    let asked = |k: &str| changes.iter().find(|c| c.0 == k).map(|c| c.2.clone());
    let id_or_name = |v: String| v.parse::<u32>().map(J::from).unwrap_or(J::from(v));
    let (mut before, mut after) = (DiffSide::new(), DiffSide::new());
    if let Some(v) = asked("owner") {
        before.push(("owner", J::from(old.uid)));
        after.push(("owner", new.map(|n| J::from(n.uid)).unwrap_or_else(|| id_or_name(v))));
    }
    if let Some(v) = asked("group") {
        before.push(("group", J::from(old.gid)));
        after.push(("group", new.map(|n| J::from(n.gid)).unwrap_or_else(|| id_or_name(v))));
    }
    if let Some(v) = asked("mode") {
        before.push(("mode", J::from(result_mode(old.mode))));
        let wanted = u32::from_str_radix(&v, 8).map(result_mode).unwrap_or(v);
        after.push(("mode", J::from(new.map(|n| result_mode(n.mode)).unwrap_or(wanted))));
    }
    (before, after)
}

/// The `diff` ansible-core's `file` module registers (and copy and template, when the content is
/// already right): `{before: {path, ...}, after: {path, ...}}`.
pub(crate) fn file_diff(path: &str, before: DiffSide, after: DiffSide) -> minijinja::Value {
    let side = |entries: DiffSide| {
        let mut m = serde_json::Map::new();
        m.insert("path".into(), path.into());
        m.extend(entries.into_iter().map(|(k, v)| (k.to_string(), v)));
        serde_json::Value::Object(m)
    };
    minijinja::Value::from(minijinja::value::Serde(serde_json::json!({"before": side(before), "after": side(after)})))
}

/// `mode` of `copy` and `template`: a file mode, or `preserve`, the source file's mode (for
/// `copy` with `content`, ansible-core's temporary file's: 0600).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceMode {
    /// A mode as any file module takes it.
    Mode(Mode),
    /// `preserve`.
    Preserve,
}

impl<'de> serde::Deserialize<'de> for SourceMode {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::IntoDeserializer;
        #[derive(serde::Deserialize)]
        #[serde(untagged)]
        enum Raw {
            I(i64),
            S(String),
        }
        match Raw::deserialize(d)? {
            Raw::S(s) if s == "preserve" => Ok(SourceMode::Preserve),
            Raw::S(s) => Mode::deserialize(s.into_deserializer()).map(SourceMode::Mode),
            Raw::I(i) => Mode::deserialize(i.into_deserializer()).map(SourceMode::Mode),
        }
    }
}

impl SourceMode {
    /// The mode to apply, given the source's bits when it is `preserve`.
    pub(crate) fn resolve(mode: &Option<SourceMode>, source: impl FnOnce() -> u32) -> Option<Mode> {
        match mode {
            None => None,
            Some(SourceMode::Mode(m)) => Some(m.clone()),
            Some(SourceMode::Preserve) => Some(Mode::Octal(source() & 0o7777)),
        }
    }
}

/// The mode bits of a controller file (`mode: preserve`); 0600 when it cannot be read.
pub(crate) fn local_mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path).map_or(0o600, |m| std::os::unix::fs::PermissionsExt::mode(&m.permissions()))
}

/// Keeps the mode copy or template resolved (`preserve` included) in a change's plan, for
/// `apply`.
pub(crate) fn preserving(
    plan: Result<Plan<WritePlan>, ModuleError>,
    mode: Option<Mode>,
) -> Result<Plan<WritePlan>, ModuleError> {
    plan.map(|p| match p {
        Plan::Change(mut ch) => {
            ch.plan.mode = mode;
            Plan::Change(ch)
        }
        ok => ok,
    })
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
    /// The program and its first operand that give `changes`' owner and group: `chown o:g`,
    /// `chown o` or `chgrp g`; `None` when neither changes.
    pub(crate) fn ownership(changes: &[AttrChange]) -> Option<(&'static str, String)> {
        let get = |k: &str| changes.iter().find(|c| c.0 == k).map(|c| c.2.clone());
        match (get("owner"), get("group")) {
            (Some(o), Some(g)) => Some(("chown", format!("{o}:{g}"))),
            (Some(o), None) => Some(("chown", o)),
            (None, Some(g)) => Some(("chgrp", g)),
            (None, None) => None,
        }
    }

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
        let own = Self::ownership(changes).map(|(prog, who)| opts(Cmd::new(prog), link).operands([who.as_str(), path]));
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
    pub data: Content,
    pub attrs: Attrs,
    pub force: bool,
    /// For a destination that is a directory: the file name to write inside it.
    pub src_name: Option<&'a str>,
    /// Where the content comes from, for the registered diff's `after_header` (the destination
    /// for literal content).
    pub source: Option<String>,
    /// Fail, as ansible-core's copy module does, when the directory the file goes in does not
    /// exist (`copy` and `template`; a caller that makes the directory later does not check).
    pub check_parent: bool,
    /// A destination that is a symbolic link to something is written through (`follow`).
    pub follow: bool,
}

/// What a whole-file write (`copy`, `template`, and the modules that edit a file) will do.
pub struct WritePlan {
    pub(crate) dest: String,
    pub(crate) data: Content,
    pub(crate) write: bool,
    /// Mode, uid and gid of the file being replaced.
    pub(crate) old: Option<(u32, u32, u32)>,
    pub(crate) changes: Vec<AttrChange>,
    /// Message of the result.
    pub(crate) msg: String,
    /// Fields the result registers besides what the write itself reports (decided when
    /// planning, so that check mode registers them too).
    pub(crate) registered: Vec<(&'static str, minijinja::Value)>,
    /// The mode copy and template apply, as resolved when planning (`preserve`: the
    /// source's); unused by the line editors, which apply their own arguments.
    pub(crate) mode: Option<Mode>,
}

/// The result of copy and template when the content is already right (ansible-core's copy
/// then runs its `file` module): the file module's `diff` under `--diff` (else `[]`), `path`,
/// the path's attributes, `checksum` and `dest`.
fn same_content_result(dest: &str, st: &FileState, changes: &[AttrChange], diff_on: bool, sha1: &str) -> Outcome {
    let diff = if diff_on {
        let (mut b, mut a) = attr_diff(changes, st, None);
        // The file module compares the state it finds with `file`: a file with two names is `hard`.
        if st.reported_state() != "file" {
            b.insert(0, ("state", st.reported_state().into()));
            a.insert(0, ("state", "file".into()));
        }
        file_diff(dest, b, a)
    } else {
        minijinja::Value::from(Vec::<minijinja::Value>::new())
    };
    let o = Outcome::ok().with("diff", diff).with("path", dest);
    with_path_info(o, Some(st)).with("checksum", sha1).with("dest", dest)
}

/// The directory a path is in, as Python's `os.path.dirname` gives it for an absolute or
/// relative path (`.` for a bare name).
pub(crate) fn parent_dir(path: &str) -> &str {
    match path.trim_end_matches('/').rsplit_once('/') {
        Some(("", _)) => "/",
        Some((p, _)) => p,
        None => ".",
    }
}

/// A destination that is a symbolic link to something, as ansible-core's copy treats it: with
/// `follow`, replaced by its real path (and `st` by that path's state, read with `sum`);
/// without, whether it leads to a directory (which then receives the file, `os.path.isdir`).
pub(crate) async fn through_link(
    cx: &ModuleCtx<'_>,
    dest: &mut String,
    st: &mut Option<FileState>,
    follow: bool,
    sum: Option<&'static str>,
) -> Result<bool, ModuleError> {
    let Some(s) = st.as_ref().filter(|s| s.kind == Kind::Link && s.target_exists) else { return Ok(false) };
    if !follow {
        return Ok(probe(cx, dest, None, true).await?.is_some_and(|t| t.kind == Kind::Dir));
    }
    let out = cx.exec(Cmd::new("realpath").operand(&*dest).build()).await?;
    let real = out.stdout_str().trim_end_matches('\n').to_string();
    if out.rc != 0 || real.is_empty() {
        let why = out.stderr_str();
        return Err(ModuleError::Failed(format!("cannot resolve {dest} ({}): {why}", s.kind.state())));
    }
    *dest = real;
    *st = probe(cx, dest, sum, false).await?;
    Ok(false)
}

/// Plans a whole-file write: one probe (with sha256), one `get` only for a diff.
pub(crate) async fn plan_write(cx: &ModuleCtx<'_>, w: Write<'_>) -> Result<Plan<WritePlan>, ModuleError> {
    let checksum = w.data.sha256();
    let sha1 = w.data.sha1();
    let diff_on = cx.mode.diff == prov_core::module::DiffMode::On;
    let mut dest = w.dest.to_string();
    let mut st = probe(cx, &dest, Some("sha256sum"), false).await?;
    let link_to_dir = through_link(cx, &mut dest, &mut st, w.follow, Some("sha256sum")).await?;
    let is_dir = link_to_dir || st.as_ref().map(|s| s.kind == Kind::Dir).unwrap_or(false) || dest.ends_with('/');
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
    // A destination written as `dir/` is made with its directories, as ansible-core's copy
    // makes it. Not in check mode, where an earlier task's directory is only planned
    // (ansible-core fails there; `prov plan` of a new host shows the write instead).
    if st.is_none() && w.check_parent && !w.dest.ends_with('/') && !cx.is_check() {
        // ansible-core's copy module fails before it writes (check mode too), with the
        // checksum of what it would have written.
        let parent = parent_dir(&dest);
        let out = cx.exec(Sh::lit("[ -d").word(Sh::quoted(parent)).suffix(" ] || echo missing")).await?;
        if out.stdout_str().trim() == "missing" {
            let o = Outcome::failed(format!("Destination directory {parent} does not exist"))
                .with("checksum", sha1.as_str())
                .with("diff", minijinja::Value::from(Vec::<minijinja::Value>::new()));
            return Ok(Plan::Ok(o));
        }
    }
    if st.is_some() && !w.force {
        // ansible-core's copy action leaves an existing destination alone, attributes
        // included, and registers where it would have copied from: a controller file's path
        // (content and templates go through a temporary file, which prov does not make).
        let o = Outcome::ok().with("dest", dest.as_str());
        return Ok(Plan::Ok(match (&w.data, &w.source) {
            (Content::Local(_), Some(src)) => o.with("src", src.as_str()),
            _ => o,
        }));
    }
    let write = match &st {
        None => true,
        Some(s) if s.kind == Kind::File => s.checksum.as_deref() != Some(checksum.as_str()),
        Some(_) => true,
    };
    let changes = match &st {
        Some(s) if s.kind == Kind::File => w.attrs.changes(s),
        _ => w.attrs.all(),
    };
    // Content already right: ansible-core's copy runs its `file` module (for the attributes).
    let same = match (write, &st) {
        (false, Some(s)) => Some(same_content_result(&dest, s, &changes, diff_on, &sha1)),
        _ => None,
    };
    if let (Some(o), true) = (&same, changes.is_empty()) {
        return Ok(Plan::Ok(o.clone()));
    }
    let action = if st.is_none() { Action::Create } else { Action::Modify };
    // The diff as ansible-core's action plugins make it: a side that is binary or larger than
    // `max_diff_size` is not shown, and the registered diff says why.
    let mut shown = None;
    let registered: Vec<(&'static str, minijinja::Value)> = if write {
        let mut d = serde_json::Map::new();
        if diff_on {
            let before = match &st {
                Some(s) if s.kind == Kind::File => diff_before(cx, &dest, s.size).await?,
                _ => DiffPart::Text(String::new()),
            };
            let after = w.data.diff_after()?;
            let mut skipped = Vec::new();
            let mut texts = (String::new(), String::new());
            match before {
                DiffPart::Text(t) => {
                    if st.is_some() {
                        d.insert("before_header".into(), dest.clone().into());
                    }
                    d.insert("before".into(), t.clone().into());
                    texts.0 = t;
                }
                DiffPart::Binary => {
                    d.insert("dst_binary".into(), 1.into());
                    skipped.push("destination file appears to be binary".to_string());
                }
                DiffPart::Larger => {
                    d.insert("dst_larger".into(), max_diff_size().into());
                }
            }
            match after {
                DiffPart::Text(t) => {
                    d.insert("after_header".into(), w.source.clone().unwrap_or_else(|| dest.clone()).into());
                    d.insert("after".into(), t.clone().into());
                    texts.1 = t;
                }
                DiffPart::Binary => {
                    d.insert("src_binary".into(), 1.into());
                    skipped.push("source file appears to be binary".to_string());
                }
                DiffPart::Larger => {
                    d.insert("src_larger".into(), max_diff_size().into());
                }
            }
            // ansible-core's callback lists the reasons in this order.
            if d.contains_key("dst_larger") {
                skipped.push(format!("destination file size is greater than {}", max_diff_size()));
            }
            if d.contains_key("src_larger") {
                skipped.push(format!("source file size is greater than {}", max_diff_size()));
            }
            shown = Some((skipped, texts));
        }
        let list: Vec<serde_json::Value> = if d.is_empty() { vec![] } else { vec![d.into()] };
        vec![("diff", minijinja::Value::from(minijinja::value::Serde(list)))]
    } else {
        let data = same.as_ref().map(|o| o.data.clone()).unwrap_or_default();
        data.into_iter().filter_map(|(k, v)| ["diff", "path"].iter().find(|n| **n == k).map(|n| (*n, v))).collect()
    };
    let mut ch = Change::new(
        WritePlan {
            dest: dest.clone(),
            data: Content::Bytes(Vec::new()),
            write,
            old: st.as_ref().filter(|s| s.kind == Kind::File).map(|s| (s.mode, s.uid, s.gid)),
            changes: changes.clone(),
            msg: String::new(),
            registered: registered.clone(),
            mode: None,
        },
        action,
        "file",
        dest.clone(),
    );
    // Check mode registers what ansible-core's copy does: the diff alone for new content, the
    // file module's result (the path as it is) when only the attributes would change.
    ch.data = match same {
        Some(o) => o.data,
        None => registered.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
    };
    match shown {
        Some((skipped, (before, after))) if skipped.is_empty() => ch = ch.with_diff(dest.clone(), before, after),
        Some((skipped, _)) => ch = ch.with_skipped_diff(dest.clone(), skipped),
        None => {}
    }
    if !changes.is_empty() && st.is_some() {
        let (b, a) = state_diff("file", "file", &changes);
        ch = ch.with_diff(format!("{dest} (attributes)"), b, a);
    }
    ch.plan.data = w.data;
    Ok(Plan::Change(ch))
}

/// The result of copy and template after a change: for new content the diff, `dest`, `md5sum`,
/// `checksum` and the file's attributes; for attributes alone the file module's result.
pub(crate) async fn write_result(cx: &ModuleCtx<'_>, p: &WritePlan, o: Outcome) -> Result<Outcome, ModuleError> {
    if o.failed {
        return Ok(o);
    }
    let after = probe(cx, &p.dest, None, false).await?;
    let sha1 = p.data.sha1();
    let o = p.registered.iter().fold(o, |o, (k, v)| o.with(k, v.clone()));
    Ok(if p.write {
        let o = o.with("dest", p.dest.as_str()).with("md5sum", p.data.md5()).with("checksum", sha1);
        with_path_info(o, after.as_ref())
    } else {
        with_path_info(o, after.as_ref()).with("checksum", sha1).with("dest", p.dest.as_str())
    })
}

/// Copies `dest` to ansible-core's backup name beside it (`NAME.PID.YYYY-MM-DD@HH:MM:SS~`),
/// keeping its mode and times: the backup's name, or the failed task.
pub(crate) async fn backup_file(cx: &ModuleCtx<'_>, dest: &str) -> Result<Result<String, Outcome>, ModuleError> {
    let cmd = Sh::lit("P=")
        .glued(Sh::quoted(dest))
        .then(Sh::lit("B=\"$P.$$.$(date +%Y-%m-%d@%H:%M:%S)~\""))
        .then(Sh::lit("cp -p -- \"$P\" \"$B\" && echo \"$B\""));
    let out = cx.exec(cmd).await?;
    if out.rc != 0 {
        return Ok(Err(Outcome::failed(format!("backing up {dest} failed: {}", out.stderr_str().trim()))));
    }
    Ok(Ok(out.stdout_str().trim().to_string()))
}

/// Makes a planned write: optional backup and validation, the upload, then ownership and mode.
/// copy's result when `validate` rejects the new file: its exit status and raw output.
pub(crate) fn validate_failed(out: &prov_core::connection::ExecOutput) -> Outcome {
    let (stdout, stderr) = (out.stdout_str(), out.stderr_str());
    let lines = |t: &str| t.lines().map(str::to_string).collect::<Vec<_>>();
    Outcome::failed("failed to validate")
        .with("exit_status", out.rc)
        .with("stdout", stdout.as_str())
        .with("stderr", stderr.as_str())
        .with("stdout_lines", lines(&stdout))
        .with("stderr_lines", lines(&stderr))
}

/// A result of [`apply_write`] as the line editors (lineinfile, blockinfile, replace) report
/// it: a rejected file in their own words (`failed to validate: rc:N error:STDERR`), with
/// nothing else.
pub(crate) fn in_editor_words(o: Outcome) -> Outcome {
    if !(o.failed && o.data.contains_key("exit_status")) {
        return o;
    }
    let rc = o.data.get("exit_status").cloned().unwrap_or_default();
    let err = o.data.get("stderr").and_then(|e| e.as_str().map(str::to_string)).unwrap_or_default();
    Outcome::failed(format!("failed to validate: rc:{rc} error:{err}"))
}

pub(crate) async fn apply_write(
    cx: &ModuleCtx<'_>,
    p: &WritePlan,
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
            match backup_file(cx, &p.dest).await? {
                Ok(name) => o = o.with("backup_file", name),
                Err(f) => return Ok(f),
            }
        }
        if let Some(v) = validate {
            let (dir, name) = p.dest.rsplit_once('/').unwrap_or((".", p.dest.as_str()));
            let dir = if dir.is_empty() { "/" } else { dir };
            let tmp = format!("{}/.{name}.prov-validate", dir.trim_end_matches('/'));
            p.data.put(cx, &tmp, mode).await?;
            let out = cx.exec(validate_command(v, &tmp)).await?;
            if out.rc != 0 {
                let _ = cx.exec(Cmd::new("rm").flag("-f").operand(&tmp).build()).await?;
                // copy's failure (template's too); the line editors reword it (`edit::apply`).
                let mut f =
                    validate_failed(&out).with("checksum", p.data.sha1()).with("diff", Vec::<minijinja::Value>::new());
                f.changed = false;
                return Ok(f);
            }
            let mv = Cmd::new("mv").flag("-f").operands([&tmp, &p.dest]).build();
            if let Err(f) = run_step(cx, "moving the validated file", mv).await? {
                return Ok(f);
            }
        } else {
            p.data.put(cx, &p.dest, mode).await?;
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
        if let Some(m) = mode {
            changes.retain(|c| c.0 != "mode");
            // chown clears the set-id bits: chmod runs again after it.
            if m & 0o6000 != 0 {
                changes.push(("mode", String::new(), octal(m)));
            }
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
    Ok(o)
}

/// The task's `validate` command (shell text its author wrote, as with `shell`), with each `%s`
/// replaced by the quoted path of the file to check, run through `eval` so that it stays one
/// quoted word of the command prov builds.
fn validate_command(validate: &str, path: &str) -> Sh {
    Sh::lit("eval").word(Sh::quoted(&validate.replace("%s", Sh::quoted(path).as_str())))
}

/// The SELinux context arguments (`seuser`, `serole`, `setype`, `selevel`) of the file
/// modules: ansible-core ignores them where SELinux is off, and prov does too; where it is on
/// (`/sys/fs/selinux/enforce` exists), the task fails, as prov does not set contexts yet.
pub(crate) async fn selinux_refused(
    cx: &prov_core::module::ModuleCtx<'_>,
    given: [&Option<String>; 4],
) -> Result<Option<prov_core::module::Outcome>, prov_core::module::ModuleError> {
    if given.iter().all(|g| g.is_none()) {
        return Ok(None);
    }
    let on = cx.exec(prov_core::cmd::Sh::lit("test -e /sys/fs/selinux/enforce")).await?.rc == 0;
    Ok(on.then(|| {
        prov_core::module::Outcome::failed(
            "seuser, serole, setype, selevel: this host runs SELinux, and prov does not set SELinux contexts yet",
        )
    }))
}

/// Copies the file `$D` to `$D.PID.YYYY-MM-DD@HH:MM:SS~` (ansible-core's backup name, the
/// shell's pid standing for the module's), keeping its mode and owner, and prints `backup NAME`.
pub(crate) const BACKUP_D: &str =
    "k=\"$D.$$.$(date '+%Y-%m-%d@%H:%M:%S~')\"; cp -p -- \"$D\" \"$k\" || exit 1; printf 'backup %s\\n' \"$k\"";

/// A `regexp` of lineinfile or replace: Python's syntax (look-around and backreferences
/// included), `what` naming the argument in the error.
pub(crate) fn compile_pattern(what: &str, re: &str) -> Result<fancy_regex::Regex, String> {
    prov_core::template::filters::python_regex(re, false)
        .map_err(|e| format!("`{what}` is not a valid regular expression: {e}"))
}

/// A search that gave up (fancy-regex's backtracking limit), as the task's failure.
pub(crate) fn gave_up(e: fancy_regex::Error) -> String {
    format!("the regular expression could not be matched: {e}")
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
