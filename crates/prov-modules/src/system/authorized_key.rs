//! `authorized_key`: SSH public keys in a user's `authorized_keys` file (ansible.posix.authorized_key).
//!
//! Arguments (as in Ansible):
//! - `user` (required): whose file; its home, uid and gid come from `getent passwd` on the host.
//! - `key` (required): one key, or several separated by line breaks (`type blob [comment]`, with
//!   options first if any). A URL (`https://...`) is refused: prov does not fetch keys.
//! - `path`: the file (default `~user/.ssh/authorized_keys`).
//! - `manage_dir` (default true): create the file's directory (not its parents, as Ansible),
//!   mode 0700, owned by the user.
//! - `state`: `present` (default) or `absent`.
//! - `key_options`: options written before each key (`no-pty,from="10.0.0.1"`).
//! - `exclusive`: remove every other line (keys, comments, blank lines) from the file.
//! - `comment`: the comment written after each key instead of the key's own.
//! - `follow`: write the file a symbolic link `path` points to (default false: the link is
//!   replaced by the file, as Ansible does; the keys are read through it either way).
//! - `validate_certs`: accepted (no URL is fetched).
//!
//! The file is handled as ansible.posix 12.3 handles it (observed on the same files): a key is
//! known by its base64 blob; a key present with the same options, type and comment changes
//! nothing. Otherwise the whole file is written again: comment and blank lines as they were, each
//! other key line as `options type blob comment` with single spaces (a key without comment ends in
//! a space), a key that changed moved to the end, a new key appended, a key found twice kept
//! once, mode 0600 and owned by the user. Registers what Ansible registers (`key`, `keyfile`,
//! `user`, the arguments, and the file's `mode`, `owner`, `size`... when it exists).
//!
//! ```yaml
//! - authorized_key:
//!     user: deploy
//!     key: "{{ lookup('file', 'files/deploy.pub') }}"
//! - ansible.posix.authorized_key:
//!     user: backup
//!     key: ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI... backup@host
//!     key_options: 'from="10.0.0.0/8",no-pty'
//!     exclusive: true
//! ```

use crate::files::edit::{self, bare, split_lines, EditPlan};
use crate::files::{probe, Attrs, FileState};
use crate::util::octal;
use async_trait::async_trait;
use indexmap::IndexMap;
use minijinja::Value;
use prov_core::args::lenient_bool;
use prov_core::args::Mode;
use prov_core::cmd::Cmd;
use prov_core::module::{Change, Module, ModuleCtx, ModuleError, Outcome, Plan};
use serde::Deserialize;

fn yes() -> bool {
    true
}

/// Arguments of `authorized_key`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    /// Whose file.
    pub user: String,
    /// The key or keys, one a line.
    pub key: String,
    /// The file.
    #[serde(default)]
    pub path: Option<String>,
    /// Create the file's directory.
    #[serde(default = "yes", deserialize_with = "lenient_bool")]
    pub manage_dir: bool,
    /// `present` or `absent`.
    #[serde(default)]
    pub state: State,
    /// Options written before each key.
    #[serde(default)]
    pub key_options: Option<String>,
    /// Remove every other line.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub exclusive: bool,
    /// The comment after each key.
    #[serde(default)]
    pub comment: Option<String>,
    /// Write through a symbolic link instead of replacing it.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub follow: bool,
    /// Accepted (no URL is fetched).
    #[serde(default = "yes", deserialize_with = "lenient_bool")]
    pub validate_certs: bool,
}

/// `state` of `authorized_key`.
#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// The keys are in the file.
    #[default]
    Present,
    /// They are not.
    Absent,
}

/// The `authorized_key` module.
#[derive(Debug, Default)]
pub struct AuthorizedKey;

/// The key types a line may start with (after its options).
const TYPES: &[&str] = &[
    "ssh-rsa",
    "ssh-dss",
    "ssh-ed25519",
    "ssh-ed448",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "sk-ecdsa-sha2-nistp256@openssh.com",
    "sk-ssh-ed25519@openssh.com",
    "ssh-rsa-cert-v01@openssh.com",
    "ssh-dss-cert-v01@openssh.com",
    "ssh-ed25519-cert-v01@openssh.com",
    "ecdsa-sha2-nistp256-cert-v01@openssh.com",
    "ecdsa-sha2-nistp384-cert-v01@openssh.com",
    "ecdsa-sha2-nistp521-cert-v01@openssh.com",
    "sk-ecdsa-sha2-nistp256-cert-v01@openssh.com",
    "sk-ssh-ed25519-cert-v01@openssh.com",
];

/// A parsed key line.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Key {
    options: Option<String>,
    typ: String,
    blob: String,
    comment: Option<String>,
}

impl Key {
    /// The line Ansible writes for it.
    fn line(&self) -> String {
        let opts = self.options.as_ref().map(|o| format!("{o} ")).unwrap_or_default();
        format!("{opts}{} {} {}", self.typ, self.blob, self.comment.as_deref().unwrap_or(""))
    }
}

/// A line of the file: a key, or anything else (kept as it was).
#[derive(Debug, Clone)]
enum Line {
    Key(Key),
    Other(String),
}

/// The first token of `s` (white space inside double quotes does not end it) and the rest.
fn token(s: &str) -> (&str, &str) {
    let s = s.trim_start();
    let mut quoted = false;
    for (i, c) in s.char_indices() {
        match c {
            '"' => quoted = !quoted,
            c if c.is_whitespace() && !quoted => return (&s[..i], &s[i..]),
            _ => {}
        }
    }
    (s, "")
}

/// A key line parsed, `None` for a comment, a blank line or anything else.
fn parse_key(line: &str) -> Option<Key> {
    let t = line.trim();
    if t.is_empty() || t.starts_with('#') {
        return None;
    }
    let (first, rest) = token(t);
    let (options, typ, rest) = if TYPES.contains(&first) {
        (None, first, rest)
    } else {
        let (typ, rest) = token(rest);
        (Some(first.to_string()), typ, rest)
    };
    if !TYPES.contains(&typ) {
        return None;
    }
    let (blob, rest) = token(rest);
    if blob.is_empty() {
        return None;
    }
    let comment = rest.split_whitespace().collect::<Vec<_>>().join(" ");
    Some(Key {
        options,
        typ: typ.to_string(),
        blob: blob.to_string(),
        comment: (!comment.is_empty()).then_some(comment),
    })
}

/// The file's lines, a key found twice kept once (at its last place, as it last was).
fn parse_file(data: &[u8]) -> Vec<Line> {
    let mut out: Vec<Line> = Vec::new();
    for raw in split_lines(data) {
        let text = String::from_utf8_lossy(bare(&raw)).into_owned();
        match parse_key(&text) {
            Some(k) => {
                out.retain(|l| !matches!(l, Line::Key(o) if o.blob == k.blob));
                out.push(Line::Key(k));
            }
            None => out.push(Line::Other(text)),
        }
    }
    out
}

/// The keys the task names, with `key_options` and `comment` applied.
fn wanted(args: &Args) -> Result<Vec<Key>, String> {
    let mut keys = Vec::new();
    for l in args.key.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
        let mut k = parse_key(l).ok_or_else(|| format!("invalid key specified: {l}"))?;
        if let Some(o) = &args.key_options {
            k.options = (!o.is_empty()).then(|| o.clone());
        }
        if let Some(c) = &args.comment {
            k.comment = (!c.is_empty()).then(|| c.clone());
        }
        keys.push(k);
    }
    Ok(keys)
}

/// The file's new lines, `None` when nothing changes.
fn edit(lines: Vec<Line>, keys: &[Key], state: State, exclusive: bool) -> Option<Vec<Line>> {
    let mut lines = lines;
    let mut changed = false;
    if exclusive {
        let n = lines.len();
        lines.retain(|l| matches!(l, Line::Key(k) if keys.iter().any(|w| w.blob == k.blob)));
        changed |= lines.len() != n;
    }
    for k in keys {
        let at = lines.iter().position(|l| matches!(l, Line::Key(o) if o.blob == k.blob));
        match (state, at) {
            (State::Present, Some(i)) if matches!(&lines[i], Line::Key(o) if o == k) => {}
            (State::Present, at) => {
                if let Some(i) = at {
                    lines.remove(i);
                }
                lines.push(Line::Key(k.clone()));
                changed = true;
            }
            (State::Absent, Some(i)) => {
                lines.remove(i);
                changed = true;
            }
            (State::Absent, None) => {}
        }
    }
    changed.then_some(lines)
}

/// The file's bytes.
fn render(lines: &[Line]) -> Vec<u8> {
    let mut out = String::new();
    for l in lines {
        match l {
            Line::Key(k) => out.push_str(&k.line()),
            Line::Other(s) => out.push_str(s),
        }
        out.push('\n');
    }
    out.into_bytes()
}

/// A user's passwd entry: name, uid, gid, home.
struct Passwd {
    uid: u32,
    gid: u32,
    home: String,
}

fn parse_passwd(line: &str) -> Option<Passwd> {
    let f: Vec<&str> = line.trim_end().split(':').collect();
    if f.len() < 7 {
        return None;
    }
    Some(Passwd { uid: f[2].parse().ok()?, gid: f[3].parse().ok()?, home: f[5].to_string() })
}

/// What `apply` does: create the directory, then write the file.
pub struct KeyPlan {
    mkdir: Option<String>,
    write: EditPlan,
    keyfile: String,
}

/// What Ansible registers besides `changed`: the arguments (`keyfile`: the file), then, when
/// `path` was given and the file exists, its state.
fn result(args: &Args, path: &str, st: Option<&FileState>) -> IndexMap<String, Value> {
    let mut m = IndexMap::new();
    m.insert("comment".into(), Value::from(args.comment.clone()));
    m.insert("exclusive".into(), Value::from(args.exclusive));
    m.insert("follow".into(), Value::from(args.follow));
    m.insert("key".into(), Value::from(args.key.clone()));
    m.insert("key_options".into(), Value::from(args.key_options.clone()));
    m.insert("keyfile".into(), Value::from(path));
    m.insert("manage_dir".into(), Value::from(args.manage_dir));
    m.insert("path".into(), Value::from(args.path.clone()));
    m.insert("state".into(), Value::from(if args.state == State::Present { "present" } else { "absent" }));
    m.insert("user".into(), Value::from(args.user.clone()));
    m.insert("validate_certs".into(), Value::from(args.validate_certs));
    if let Some(s) = st.filter(|_| args.path.is_some()) {
        m.insert("gid".into(), Value::from(s.gid));
        m.insert("group".into(), Value::from(s.group.clone()));
        m.insert("mode".into(), Value::from(octal(s.mode)));
        m.insert("owner".into(), Value::from(s.owner.clone()));
        m.insert("size".into(), Value::from(s.size));
        m.insert("state".into(), Value::from("file"));
        m.insert("uid".into(), Value::from(s.uid));
    }
    m
}

fn outcome(changed: bool, data: IndexMap<String, Value>) -> Outcome {
    let mut o = Outcome { changed, ..Outcome::ok() };
    o.data.extend(data);
    o
}

#[async_trait]
impl Module for AuthorizedKey {
    const NAME: &'static str = "authorized_key";
    const COLLECTIONS: &'static [&'static str] = &["ansible.posix", "ansible.builtin"];
    const PATH_ARGS: &'static [&'static str] = &["path"];
    type Args = Args;
    type Plan = KeyPlan;

    fn check_args(args: &Args) -> Result<(), String> {
        if args.key.trim_start().starts_with("http://") || args.key.trim_start().starts_with("https://") {
            return Err(format!(
                "`key` is a URL ({}): prov does not fetch keys; give the key itself (e.g. with lookup('url', ...) on the controller)",
                args.key.trim()
            ));
        }
        if args.user.is_empty() {
            return Err("`user` is empty".into());
        }
        wanted(args).map(|_| ())
    }

    async fn plan(&self, args: &Args, cx: &ModuleCtx<'_>) -> Result<Plan<KeyPlan>, ModuleError> {
        let out = cx.exec(Cmd::new("getent").flag("passwd").operand(&args.user).build()).await?;
        let Some(pw) = parse_passwd(&out.stdout_str()).filter(|_| out.rc == 0) else {
            let msg = format!("Failed to lookup user {}: \"getpwnam(): name not found: '{}'\"", args.user, args.user);
            return Ok(Plan::Ok(Outcome::failed(msg)));
        };
        let path = match &args.path {
            Some(p) => p.clone(),
            None => format!("{}/.ssh/authorized_keys", pw.home.trim_end_matches('/')),
        };
        let keys = wanted(args).map_err(ModuleError::Failed)?;
        let mut r = edit::read(cx, &path).await?;
        if !args.follow {
            // Ansible replaces a link with the new file; with `follow` it writes where it points.
            r.real = path.clone();
        }
        if r.is_dir() || (r.st.is_some() && r.data.is_none()) {
            return Ok(Plan::Ok(Outcome::failed(format!("{path} is not a regular file"))));
        }
        let lines = parse_file(r.data.as_deref().unwrap_or_default());
        let Some(new) = edit(lines, &keys, args.state, args.exclusive) else {
            return Ok(Plan::Ok(outcome(false, result(args, &path, r.st.as_ref()))));
        };
        let attrs =
            Attrs { mode: Some(Mode::Octal(0o600)), owner: Some(pw.uid.to_string()), group: Some(pw.gid.to_string()) };
        let mkdir = match path.rsplit_once('/') {
            Some((dir, _)) if args.manage_dir && r.st.is_none() && !dir.is_empty() => {
                probe(cx, dir, None, true).await?.is_none().then(|| dir.to_string())
            }
            _ => None,
        };
        match edit::plan(cx, &r, render(&new), "", &attrs, edit::Registers::Nothing) {
            Plan::Change(ch) => {
                let Change { plan: write, diffs, planned, in_check, msg, data } = ch;
                let plan = KeyPlan { mkdir, write, keyfile: path.clone() };
                Ok(Plan::Change(Change { plan, diffs, planned, in_check, msg, data }))
            }
            Plan::Ok(_) => Ok(Plan::Ok(outcome(false, result(args, &path, r.st.as_ref())))),
        }
    }

    async fn apply(&self, args: &Args, plan: KeyPlan, cx: &ModuleCtx<'_>) -> Result<Outcome, ModuleError> {
        let pw = cx.exec(Cmd::new("getent").flag("passwd").operand(&args.user).build()).await?;
        let pw = parse_passwd(&pw.stdout_str()).ok_or_else(|| ModuleError::Failed(format!("no user {}", args.user)))?;
        if let Some(dir) = &plan.mkdir {
            let mk = Cmd::new("mkdir").opt("-m", "0700").operand(dir).build();
            let own = Cmd::new("chown").operands([format!("{}:{}", pw.uid, pw.gid), dir.clone()]).build();
            let out = cx.exec(mk.and(own)).await?;
            if out.rc != 0 {
                return Ok(Outcome::failed(format!("Failed to create directory {dir} : {}", out.stderr_str().trim())));
            }
        }
        let attrs =
            Attrs { mode: Some(Mode::Octal(0o600)), owner: Some(pw.uid.to_string()), group: Some(pw.gid.to_string()) };
        let done = edit::apply(cx, plan.write, &attrs, false, None).await?;
        if done.failed {
            return Ok(done);
        }
        let st = probe(cx, &plan.keyfile, None, true).await?;
        Ok(outcome(true, result(args, &plan.keyfile, st.as_ref())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::j;
    use prov_core::module::args_from_value;
    use serde_json::json;

    const K1: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIC+8J4yQkRPU6EIFP2xoCemzOdopsUTB3hmgJV1CXLvj k1@host";
    const K2: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMg9MReWQycuaR3s+Ov3U1QLUGds9WKGOrhC+T2TyFvT k2 c";
    const RSA: &str = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC0dupe";

    fn args(v: serde_json::Value) -> Args {
        args_from_value::<Args>(&j(v)).expect("args")
    }

    /// The file after the task, `None` when unchanged.
    fn run(before: &str, a: serde_json::Value) -> Option<String> {
        let a = args(a);
        let keys = wanted(&a).expect("keys");
        edit(parse_file(before.as_bytes()), &keys, a.state, a.exclusive)
            .map(|l| String::from_utf8(render(&l)).expect("utf8"))
    }

    // Every expected text below is what ansible.posix.authorized_key (ansible 12.3) wrote.
    #[test]
    fn a_key_already_there_leaves_the_file_alone_however_it_is_spaced() {
        let before = format!("# header comment\n\n{K1}\n  \n{RSA}   old   key\n");
        assert_eq!(run(&before, json!({"user": "root", "key": K1})), None);
    }

    #[test]
    fn a_change_rewrites_key_lines_with_single_spaces_and_moves_the_changed_key_last() {
        let before = format!(
            "# header comment\n\n{K1}\ncommand=\"echo hi\",no-agent-forwarding   {K2}\n  \n{RSA}   old   key\n"
        );
        let after = run(&before, json!({"user": "root", "key": K2, "key_options": "no-pty"}));
        assert_eq!(
            after.as_deref(),
            Some(format!("# header comment\n\n{K1}\n  \n{RSA} old key\nno-pty {K2}\n").as_str())
        );
    }

    #[test]
    fn options_are_kept_as_written_and_a_key_without_comment_ends_in_a_space() {
        let opts = "from=\"1.2.3.4,5.6.7.8\",command=\"echo a b\",no-pty,permitopen=\"h:1\",permitopen=\"h:2\"";
        let before = format!("{opts}  {K2}\n{K1}\n{K1}\n");
        let after = run(&before, json!({"user": "root", "key": RSA}));
        assert_eq!(after.as_deref(), Some(format!("{opts} {K2}\n{K1}\n{RSA} \n").as_str()));
        let after = run(
            &format!("{K2}\n"),
            json!({"user": "root", "key": K1, "comment": "", "key_options": "no-X11-forwarding,from=\"a\""}),
        );
        let k1 = K1.strip_suffix("k1@host").expect("comment");
        assert_eq!(after.as_deref(), Some(format!("{K2}\nno-X11-forwarding,from=\"a\" {k1}\n").as_str()));
        assert_eq!(
            run(&format!("{K1}\n"), json!({"user": "r", "key": K1, "comment": "newc"})).as_deref(),
            Some(format!("{k1}newc\n").as_str())
        );
    }

    #[test]
    fn absent_removes_the_key_and_keeps_comments() {
        let before = format!("{K1}\n#x\n{K1}\n");
        assert_eq!(run(&before, json!({"user": "root", "key": K1, "state": "absent"})).as_deref(), Some("#x\n"));
        assert_eq!(run("#x\n", json!({"user": "root", "key": K1, "state": "absent"})), None);
    }

    #[test]
    fn exclusive_removes_every_other_line_and_keeps_the_order_of_the_file() {
        let before = format!("# c\n{K2}\n");
        assert_eq!(
            run(&before, json!({"user": "u", "key": K2, "exclusive": true})).as_deref(),
            Some(format!("{K2}\n").as_str())
        );
        let both = format!("{K2}\n{K1}");
        let before = format!("{K1}\n{K2}\n");
        assert_eq!(run(&before, json!({"user": "u", "key": both, "exclusive": true})), None);
        assert_eq!(
            run("", json!({"user": "u", "key": both, "exclusive": "yes"})).as_deref(),
            Some(format!("{K2}\n{K1}\n").as_str())
        );
    }

    #[test]
    fn arguments_ansible_refuses_and_urls_are_refused_before_connecting() {
        let check = |v: serde_json::Value| args_from_value::<Args>(&j(v)).and_then(|a| AuthorizedKey::check_args(&a));
        assert!(check(json!({"user": "u", "key": K1})).is_ok());
        assert_eq!(check(json!({"user": "u", "key": "garbage"})).unwrap_err(), "invalid key specified: garbage");
        assert!(check(json!({"user": "u", "key": "https://github.com/u.keys"}))
            .unwrap_err()
            .contains("does not fetch"));
        assert!(check(json!({"user": "u", "key": K1, "state": "gone"})).unwrap_err().contains("unknown variant"));
        assert!(check(json!({"user": "u", "key": K1, "nope": 1})).unwrap_err().contains("unknown field"));
        assert!(check(json!({"key": K1})).unwrap_err().contains("user"));
        assert!(check(json!({"user": "u"})).unwrap_err().contains("key"));
    }
}
