//! `user`: makes sure a local user account exists with the given properties, or does not.
//!
//! Arguments (as in Ansible): `name` (required), `uid`, `group` (primary group), `groups`
//! (supplementary; list or `"a,b"`; replaced unless `append: true`), `append`, `shell`, `home`,
//! `create_home` (alias `createhome`, default true), `system`, `comment`, `password` (already
//! hashed), `update_password` (`always` default, `on_create`), `state` (`present` default,
//! `absent`), `remove` (with `absent`: delete the home), `force`, `move_home`, `non_unique`,
//! `password_lock`, `password_expire_min`, `password_expire_max`, `password_expire_warn`
//! (set with `chage` after the account, for the values that differ from its shadow entry).
//!
//! One command reads the state (`getent passwd`, `id`, and `getent group`/`shadow` when needed);
//! `useradd`/`usermod`/`userdel` change it. As Ansible's, a missing home directory (the
//! `home` argument's, or the account's) is made when `create_home` is true, even when nothing
//! else changes: a copy of `/etc/skel`, its mode from `HOME_MODE` or `UMASK` of
//! `/etc/login.defs`, owned by the account.
//!
//! Registers what ansible-core's `user` registers: `name` and `state`; for a removed account,
//! `force` and `remove`; for a present one, `system` and `create_home` (just created) or
//! `append` and `move_home` (already there), `password` as `NOT_LOGGING_PASSWORD` when given
//! (never the hash), then the account as read back: `uid` and `group` (the gid, integers),
//! `comment`, `home`, `shell`, and `groups` as given, joined by `,` (`""` for none);
//! `stdout`/`stderr` (with `_lines`) of `useradd`/`usermod`/`userdel` only when it printed
//! something. In check mode an account to create or remove registers only `changed`, and one
//! to change registers the account as it is, as Ansible's does. A failed command registers
//! its error output as `msg`, `name` and `rc`. Not as in Ansible: a hash is set through
//! `chpasswd -e` after `useradd`/`usermod` (Ansible passes it to them with `-p`), and
//! `expires` and the ssh key arguments are not supported.
//!
//! `password_lock` locks (`usermod -L`) or unlocks (`-U`) the password; a hash given with it
//! is set with the `!` that locks it, and hashes are compared without that mark, as in Ansible.
//!
//! ```yaml
//! - user:
//!     name: deploy
//!     uid: 2000
//!     groups: [sudo, docker]
//!     append: true
//!     shell: /bin/bash
//! - user: { name: olduser, state: absent, remove: true }
//! ```

use crate::util::{in_check, probe_failed, with_command_text};
use async_trait::async_trait;
use prov_core::args::{lenient_bool, lenient_opt_bool, StringList};
use prov_core::cmd::{Cmd, Sh, Word, WordKind};
use prov_core::module::{Action, Change, Module, ModuleCtx, ModuleError, Outcome, Plan};
use serde::Deserialize;
use std::collections::BTreeSet;

fn yes() -> bool {
    true
}

/// Arguments of `user`.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Args {
    /// User name.
    pub name: String,
    /// User id.
    #[serde(default)]
    pub uid: Option<u32>,
    /// Primary group (name or gid).
    #[serde(default, deserialize_with = "crate::util::stringish")]
    pub group: Option<String>,
    /// Supplementary groups.
    #[serde(default)]
    pub groups: Option<StringList>,
    /// Add to `groups` instead of replacing them.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub append: bool,
    /// Login shell.
    #[serde(default)]
    pub shell: Option<String>,
    /// Home directory.
    #[serde(default)]
    pub home: Option<String>,
    /// Create the home directory.
    #[serde(default = "yes", alias = "createhome", deserialize_with = "lenient_bool")]
    pub create_home: bool,
    /// A system account.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub system: bool,
    /// GECOS field.
    #[serde(default)]
    pub comment: Option<String>,
    /// Hashed password.
    #[serde(default)]
    pub password: Option<String>,
    /// `always` or `on_create`.
    #[serde(default)]
    pub update_password: Option<String>,
    /// `present` or `absent`.
    #[serde(default)]
    pub state: Option<String>,
    /// Remove the home directory with the user.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub remove: bool,
    /// `userdel -f`.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub force: bool,
    /// Move the home directory when `home` changes.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub move_home: bool,
    /// Allow a duplicate uid.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub non_unique: bool,
    /// Lock (`true`, `usermod -L`) or unlock (`false`, `usermod -U`) the password.
    #[serde(default, deserialize_with = "lenient_opt_bool")]
    pub password_lock: Option<bool>,
    /// Make an SSH key pair for the user when its private key file is missing (`force`
    /// makes it again).
    #[serde(default, deserialize_with = "lenient_bool")]
    pub generate_ssh_key: bool,
    /// Fewest days between password changes (`chage -m`).
    #[serde(default)]
    pub password_expire_min: Option<i64>,
    /// Most days between password changes (`chage -M`).
    #[serde(default)]
    pub password_expire_max: Option<i64>,
    /// Days of warning before the password expires (`chage -W`).
    #[serde(default)]
    pub password_expire_warn: Option<i64>,
    /// The key's size (`-b`; ssh-keygen's default when not given).
    #[serde(default)]
    pub ssh_key_bits: Option<u32>,
    /// The key's type (`rsa`, the default, `ed25519`, `ecdsa`, ...).
    #[serde(default, deserialize_with = "crate::util::stringish")]
    pub ssh_key_type: Option<String>,
    /// The private key file, relative to the home directory (default `.ssh/id_TYPE`).
    #[serde(default)]
    pub ssh_key_file: Option<String>,
    /// The key's comment (default `ansible-generated on HOSTNAME`).
    #[serde(default, deserialize_with = "crate::util::stringish")]
    pub ssh_key_comment: Option<String>,
    /// Refused (prov keeps secrets out of command lines, and ssh-keygen takes it there).
    #[serde(default, deserialize_with = "crate::util::stringish")]
    pub ssh_key_passphrase: Option<String>,
}

impl Args {
    /// The supplementary groups as ansible-core's get_groups_set reads them: the items joined
    /// with `,`, split again, empty parts dropped, then each stripped (so `"a, b"` is a and b,
    /// and a part of spaces becomes the name "").
    fn groups_set(&self) -> Option<BTreeSet<String>> {
        let joined = self.groups.as_ref()?.0.join(",");
        Some(joined.split(',').filter(|g| !g.is_empty()).map(|g| g.trim().to_string()).collect())
    }
}

/// The `user` module.
#[derive(Debug, Default)]
pub struct User;

/// The commands to run: the account command (`useradd`/`usermod`/`userdel`, when any), then
/// the password hash, which goes to `chpasswd -e` on standard input and so never appears in
/// a command line (argv, `ps`, sudo's log).
pub struct UserPlan {
    cmd: Option<Sh>,
    password: Option<String>,
    /// The home directory to make when it is missing after the change (as Ansible's `user`
    /// does for an account whose home does not exist, with `create_home`).
    make_home: Option<String>,
    /// Whether the account is new (what is registered differs).
    created: bool,
    /// The SSH private key to make, relative to the home directory or absolute.
    ssh_key: Option<String>,
    /// Set the password's ageing (`password_expire_*`) once the account is there.
    expire: bool,
}

#[derive(Debug, Default)]
struct Current {
    passwd: Option<Vec<String>>,
    primary: String,
    groups: BTreeSet<String>,
    group_gid: Option<u32>,
    own_group: bool,
    shadow: Option<String>,
    /// The home directory (the `home` argument, or the account's) is a directory.
    home_exists: bool,
}

fn probe_command(args: &Args) -> Sh {
    let n = args.name.as_str();
    let getent = |db: &'static str, name: &str| Cmd::new("getent").flag(db).operand(name).build();
    let c = Sh::lit("if e=$(")
        .glued(getent("passwd", n))
        .suffix("); then echo \"passwd $e\"; echo \"pgroup $(")
        .glued(Cmd::new("id").flag("-gn").operand(n))
        .suffix(")\"; echo \"groups $(")
        .glued(Cmd::new("id").flag("-Gn").operand(n))
        .suffix(")\"; fi");
    let c = match &args.group {
        Some(g) => c.then(Sh::lit("if g=$(").glued(getent("group", g)).suffix("); then echo \"group $g\"; fi")),
        None => c.then(Sh::lit("if").word(getent("group", n)).suffix(" >/dev/null; then echo owngroup; fi")),
    };
    let c = match (&args.home, args.create_home) {
        (_, false) => c,
        (Some(h), true) => c.then(Sh::lit("if [ -d").word(Sh::quoted(h)).suffix(" ]; then echo homedir; fi")),
        (None, true) => c.then(Sh::lit(
            "if [ -n \"$e\" ] && [ -d \"$(printf '%s\\n' \"$e\" | cut -d: -f6)\" ]; then echo homedir; fi",
        )),
    };
    let c = if args.password.is_some() || args.password_lock.is_some() {
        c.then(Sh::lit("echo \"shadow $(").glued(getent("shadow", n)).suffix(" | cut -d: -f2)\""))
    } else {
        c
    };
    c.then(Sh::lit("true"))
}

fn parse(text: &str) -> Current {
    let mut c = Current::default();
    for line in text.lines() {
        let (k, v) = line.split_once(' ').unwrap_or((line, ""));
        match k {
            "passwd" => c.passwd = Some(v.split(':').map(str::to_string).collect()),
            "pgroup" => c.primary = v.trim().to_string(),
            "groups" => c.groups = v.split_whitespace().map(str::to_string).collect(),
            "group" => c.group_gid = v.split(':').nth(2).and_then(|g| g.trim().parse().ok()),
            "owngroup" => c.own_group = true,
            "shadow" => c.shadow = Some(v.trim().to_string()),
            "homedir" => c.home_exists = true,
            _ => {}
        }
    }
    c.groups.remove(&c.primary.clone());
    c
}

impl User {
    /// The account's part of the plan (without the SSH key).
    async fn plan_account(&self, args: &Args, cx: &ModuleCtx<'_>) -> Result<Plan<UserPlan>, ModuleError> {
        let name = args.name.as_str();
        let out = cx.exec(probe_command(args)).await?;
        if out.rc != 0 {
            return Err(probe_failed(&format!("reading user {name}"), &out));
        }
        let cur = parse(&out.stdout_str());
        let header = format!("user {name}");
        if args.state.as_deref() == Some("absent") {
            if cur.passwd.is_none() {
                return Ok(Plan::Ok(Outcome::ok().with("name", name).with("state", "absent")));
            }
            let mut cmd = Cmd::new("userdel");
            if args.remove {
                cmd = cmd.flag("-r");
            }
            if args.force {
                cmd = cmd.flag("-f");
            }
            let plan = UserPlan {
                cmd: Some(cmd.operand(name).build()),
                password: None,
                make_home: None,
                created: false,
                ssh_key: None,
                expire: false,
            };
            return Ok(Plan::Change(Change::new(plan, Action::Delete, "user", name).with_diff(
                header,
                "state: present\n",
                "state: absent\n",
            )));
        }
        if let (Some(g), None) = (&args.group, cur.group_gid) {
            if !g.bytes().all(|b| b.is_ascii_digit()) {
                return Ok(Plan::Ok(Outcome::failed(format!("Group {g} does not exist"))));
            }
        }
        let want_groups = args.groups_set();
        if want_groups.as_ref().is_some_and(|g| g.contains("")) {
            // ansible-core's get_groups_set strips after dropping empty parts: `"a, ,b"` names "".
            return Ok(Plan::Ok(Outcome::failed("Group  does not exist")));
        }
        let uid_opt = |c: Cmd, uid: u32| {
            let c = c.opt("-u", uid.to_string());
            if args.non_unique {
                c.flag("-o")
            } else {
                c
            }
        };
        let Some(pw) = cur.passwd.as_ref().filter(|p| p.len() >= 7) else {
            let mut cmd = Cmd::new("useradd");
            let mut after = String::from("state: present\n");
            if let Some(u) = args.uid {
                cmd = uid_opt(cmd, u);
                after.push_str(&format!("uid: {u}\n"));
            }
            match &args.group {
                Some(g) => {
                    cmd = cmd.opt("-g", g);
                    after.push_str(&format!("group: {g}\n"));
                }
                None if cur.own_group => cmd = cmd.flag("-N"),
                None => {}
            }
            if let Some(gs) = &want_groups {
                if !gs.is_empty() {
                    let list: Vec<&str> = gs.iter().map(String::as_str).collect();
                    cmd = cmd.opt("-G", list.join(","));
                    after.push_str(&format!("groups: {}\n", list.join(",")));
                }
            }
            if let Some(s) = &args.shell {
                cmd = cmd.opt("-s", s);
                after.push_str(&format!("shell: {s}\n"));
            }
            if let Some(h) = &args.home {
                cmd = cmd.opt("-d", h);
                after.push_str(&format!("home: {h}\n"));
            }
            cmd = cmd.flag(if args.create_home { "-m" } else { "-M" });
            if args.system {
                cmd = cmd.flag("-r");
            }
            if let Some(c) = &args.comment {
                cmd = cmd.opt("-c", c);
                after.push_str(&format!("comment: {c}\n"));
            }
            if args.password.is_some() {
                after.push_str("password: (set)\n");
            }
            let plan = UserPlan {
                cmd: Some(cmd.operand(name).build()),
                // A lock on creation applies to the hash given with it, as in Ansible.
                password: args.password.as_ref().map(|p| lock_mark(args, p)),
                make_home: None,
                created: true,
                ssh_key: None,
                expire: false,
            };
            return Ok(Plan::Change(Change::new(plan, Action::Create, "user", name).with_diff(
                header,
                "state: absent\n",
                after,
            )));
        };
        // usermod and whether it has an option yet.
        let mut opts = (Cmd::new("usermod"), false);
        let mut before = String::new();
        let mut after = String::new();
        let mut diff = |k: &str, b: &str, a: &str| {
            before.push_str(&format!("{k}: {b}\n"));
            after.push_str(&format!("{k}: {a}\n"));
        };
        if let Some(u) = args.uid {
            if pw[2] != u.to_string() {
                opts = (uid_opt(opts.0, u), true);
                diff("uid", &pw[2], &u.to_string());
            }
        }
        if let Some(g) = &args.group {
            let want = if g.bytes().all(|b| b.is_ascii_digit()) { g.parse().ok() } else { cur.group_gid };
            if want.map(|w: u32| w.to_string()).as_deref() != Some(pw[3].as_str()) {
                opts = (opts.0.opt("-g", g), true);
                diff("group", &cur.primary, g);
            }
        }
        if let Some(want) = &want_groups {
            let now: Vec<&str> = cur.groups.iter().map(String::as_str).collect();
            if args.append {
                let missing: Vec<&str> = want.difference(&cur.groups).map(String::as_str).collect();
                if !missing.is_empty() {
                    opts = (opts.0.flag("-a").opt("-G", missing.join(",")), true);
                    let all: Vec<&str> = cur.groups.union(want).map(String::as_str).collect();
                    diff("groups", &now.join(","), &all.join(","));
                }
            } else if want != &cur.groups {
                let list: Vec<&str> = want.iter().map(String::as_str).collect();
                opts = (opts.0.opt("-G", list.join(",")), true);
                diff("groups", &now.join(","), &list.join(","));
            }
        }
        if let Some(c) = &args.comment {
            if &pw[4] != c {
                opts = (opts.0.opt("-c", c), true);
                diff("comment", &pw[4], c);
            }
        }
        if let Some(h) = &args.home {
            if &pw[5] != h {
                opts = (opts.0.opt("-d", h), true);
                if args.move_home {
                    opts.0 = opts.0.flag("-m");
                }
                diff("home", &pw[5], h);
            }
        }
        if let Some(s) = &args.shell {
            if &pw[6] != s {
                opts = (opts.0.opt("-s", s), true);
                diff("shell", &pw[6], s);
            }
        }
        let mut password = None;
        let locked = cur.shadow.as_deref().is_some_and(|s| s.starts_with('!'));
        let lock = match args.password_lock {
            Some(true) if !locked => Some("-L"),
            Some(false) if locked => Some("-U"),
            _ => None,
        };
        if let (Some(p), Some(now)) = (&args.password, &cur.shadow) {
            // Compared without the lock mark, as Ansible's user does.
            let differs = now.trim_start_matches('!') != p.trim_start_matches('!');
            if args.update_password.as_deref() != Some("on_create") && differs {
                password = Some(lock_mark(args, p));
                diff("password", "(old)", "(new)");
            }
        }
        // A new hash carries the lock itself; otherwise usermod locks or unlocks.
        if let (Some(flag), None) = (lock, &password) {
            opts = (opts.0.flag(flag), true);
            diff("password lock", &locked.to_string(), &(!locked).to_string());
        }
        // Ansible's user makes a missing home directory (the new one, or the account's) when
        // `create_home`, even when nothing else changes.
        let home = args.home.clone().unwrap_or_else(|| pw[5].clone());
        let make_home = (args.create_home && !cur.home_exists).then(|| home.clone());
        if make_home.is_some() {
            diff("home directory", "absent", "present");
        }
        if !opts.1 && password.is_none() && make_home.is_none() {
            return Ok(Plan::Ok(registered(args, Some(pw), false)));
        }
        let cmd = opts.1.then(|| opts.0.operand(name).build());
        let ch = Change::new(
            UserPlan { cmd, password, make_home, created: false, ssh_key: None, expire: false },
            Action::Modify,
            "user",
            name,
        )
        .with_diff(header, before, after);
        if cx.is_check() {
            // Check mode registers the account as it is, as Ansible's user does.
            return Ok(Plan::Ok(in_check(ch, registered(args, Some(pw), false))));
        }
        Ok(Plan::Change(ch))
    }
}

#[async_trait]
impl Module for User {
    const NAME: &'static str = "user";
    const PATH_ARGS: &'static [&'static str] = &["home", "shell"];
    type Args = Args;
    type Plan = UserPlan;

    fn check_args(args: &Args) -> Result<(), String> {
        if args.ssh_key_passphrase.as_deref().is_some_and(|p| !p.is_empty()) {
            return Err(
                "ssh_key_passphrase is not supported by prov yet (ssh-keygen takes it on its command line)".into()
            );
        }
        match args.state.as_deref() {
            None | Some("present" | "absent") => {}
            Some(s) => return Err(format!("state must be present or absent, not {s}")),
        }
        match args.update_password.as_deref() {
            None | Some("always" | "on_create") => {}
            Some(s) => return Err(format!("update_password must be always or on_create, not {s}")),
        }
        Word::new(WordKind::Account, &args.name).map_err(|e| e.to_string())?;
        // An empty `groups` entry stays allowed (`groups: ""` removes every supplementary group).
        for g in args.group.iter().chain(args.groups_set().iter().flatten()).filter(|g| !g.is_empty()) {
            Word::new(WordKind::Account, g).map_err(|e| e.to_string())?;
            if g.contains(',') {
                return Err(format!("{g:?} is not a valid group name: it contains `,`, which separates groups"));
            }
        }
        if args.password.as_deref().is_some_and(|p| p.contains([':', '\n', '\r', '\0'])) {
            return Err("password must be a crypt hash: no `:` and no line breaks".into());
        }
        Ok(())
    }

    async fn plan(&self, args: &Args, cx: &ModuleCtx<'_>) -> Result<Plan<UserPlan>, ModuleError> {
        let inner = self.plan_with_key(args, cx).await?;
        let ageing = args.password_expire_min.is_some()
            || args.password_expire_max.is_some()
            || args.password_expire_warn.is_some();
        if !ageing || args.state.as_deref() == Some("absent") {
            return Ok(inner);
        }
        Ok(match inner {
            Plan::Ok(o) if o.failed => Plan::Ok(o),
            Plan::Change(mut ch) => {
                ch.plan.expire = true;
                Plan::Change(ch)
            }
            Plan::Ok(o) => match expire_command(args, cx).await? {
                None => Plan::Ok(o),
                Some(_) if cx.is_check() => Plan::Ok(Outcome { changed: true, ..o }),
                Some(_) => {
                    let plan = UserPlan {
                        cmd: None,
                        password: None,
                        make_home: None,
                        created: false,
                        ssh_key: None,
                        expire: true,
                    };
                    Plan::Change(Change::new(plan, Action::Modify, "password ageing", args.name.as_str()))
                }
            },
        })
    }

    async fn apply(&self, args: &Args, plan: UserPlan, cx: &ModuleCtx<'_>) -> Result<Outcome, ModuleError> {
        let expire = plan.expire;
        let o = self.apply_account(args, plan, cx).await?;
        if !expire || o.failed {
            return Ok(o);
        }
        if let Some(cmd) = expire_command(args, cx).await? {
            let r = cx.exec(cmd).await?;
            if r.rc != 0 {
                return Ok(Outcome::failed(r.stderr_str()).with("name", args.name.as_str()).with("rc", r.rc));
            }
        }
        Ok(Outcome { changed: true, ..o })
    }
}

impl User {
    /// The account and its SSH key.
    async fn plan_with_key(&self, args: &Args, cx: &ModuleCtx<'_>) -> Result<Plan<UserPlan>, ModuleError> {
        let inner = self.plan_account(args, cx).await?;
        if !args.generate_ssh_key || args.state.as_deref() == Some("absent") {
            return Ok(inner);
        }
        let key = ssh_key_file(args);
        let home = home_of(args, cx).await?;
        let exists = match &home {
            Some(h) => cx.exec(Sh::lit("test -e").word(Sh::quoted(&key_path(h, &key)))).await?.rc == 0,
            None => false,
        };
        let make = !exists || args.force;
        Ok(match inner {
            Plan::Ok(o) if o.failed => Plan::Ok(o),
            Plan::Ok(o) if !make => {
                let h = home.unwrap_or_default();
                Plan::Ok(with_key_fields(o, cx, &key_path(&h, &key), true).await?)
            }
            Plan::Ok(o) if cx.is_check() => Plan::Ok(Outcome { changed: true, ..o }),
            Plan::Ok(_) => {
                let plan = UserPlan {
                    cmd: None,
                    password: None,
                    make_home: None,
                    created: false,
                    ssh_key: Some(key.clone()),
                    expire: false,
                };
                Plan::Change(Change::new(plan, Action::Create, "ssh key", key))
            }
            Plan::Change(mut ch) => {
                if make {
                    ch.plan.ssh_key = Some(key);
                }
                Plan::Change(ch)
            }
        })
    }

    async fn apply_account(&self, args: &Args, plan: UserPlan, cx: &ModuleCtx<'_>) -> Result<Outcome, ModuleError> {
        let name = args.name.as_str();
        let mut out = None;
        if let Some(cmd) = plan.cmd {
            let o = cx.exec(cmd).await?;
            if o.rc != 0 {
                // As Ansible's user: the command's error output is the message.
                return Ok(Outcome::failed(o.stderr_str()).with("name", name).with("rc", o.rc));
            }
            out = Some(o);
        }
        if let Some(hash) = plan.password {
            let line = format!("{name}:{hash}\n").into_bytes();
            let o = cx.exec_stdin(Cmd::new("chpasswd").flag("-e").build(), line).await?;
            if o.rc != 0 {
                let msg = format!("setting the password of user {name} failed: {}", o.stderr_str().trim());
                return Ok(Outcome { changed: true, ..Outcome::failed(msg).with("name", name).with("rc", o.rc) });
            }
        }
        if let Some(home) = &plan.make_home {
            let o = cx.exec(make_home_command(name, home)).await?;
            if o.rc != 0 {
                let msg = format!("creating the home directory {home} failed: {}", o.stderr_str().trim());
                return Ok(Outcome { changed: true, ..Outcome::failed(msg).with("name", name).with("rc", o.rc) });
            }
        }
        let absent = args.state.as_deref() == Some("absent");
        let after = if absent {
            None
        } else {
            let o = cx.exec(Cmd::new("getent").flag("passwd").operand(name).build()).await?;
            let line = o.stdout_str();
            Some(line.trim_end().split(':').map(str::to_string).collect::<Vec<_>>()).filter(|p| p.len() >= 7)
        };
        let mut o = registered(args, after.as_deref(), plan.created);
        o.changed = true;
        if let Some(out) = &out {
            o = with_command_text(o, out);
        }
        if args.generate_ssh_key && !absent {
            let Some(pw) = &after else { return Ok(o) };
            let path = key_path(&pw[5], &ssh_key_file(args));
            if plan.ssh_key.is_some() {
                if let Err(msg) = make_ssh_key(args, cx, pw, &path).await? {
                    return Ok(Outcome { changed: true, ..Outcome::failed(msg).with("name", name) });
                }
            }
            o = with_key_fields(o, cx, &path, plan.ssh_key.is_none()).await?;
        }
        Ok(o)
    }
}

/// `chage` for the `password_expire_*` arguments that differ from the account's shadow entry
/// (an empty field is -1), as ansible-core's `set_password_expire` decides; None when nothing
/// differs or the account does not exist.
async fn expire_command(args: &Args, cx: &ModuleCtx<'_>) -> Result<Option<Sh>, ModuleError> {
    let o = cx.exec(Cmd::new("getent").flag("shadow").operand(&args.name).build()).await?;
    if o.rc != 0 {
        return Ok(None);
    }
    let line = o.stdout_str();
    let fields: Vec<&str> = line.trim_end().split(':').collect();
    let now = |i: usize| fields.get(i).and_then(|v| v.parse::<i64>().ok()).unwrap_or(-1);
    let mut cmd = Cmd::new("chage");
    let mut any = false;
    if let Some(m) = args.password_expire_min.filter(|m| *m != now(3)) {
        cmd = cmd.opt("-m", m.to_string());
        any = true;
    }
    if let Some(m) = args.password_expire_max.filter(|m| *m != now(4)) {
        cmd = cmd.opt("-M", m.to_string());
        any = true;
    }
    if let Some(w) = args.password_expire_warn.filter(|w| *w != now(5)) {
        cmd = cmd.opt("-W", w.to_string());
        any = true;
    }
    Ok(any.then(|| cmd.operand(&args.name).build()))
}

/// The private key file `generate_ssh_key` makes, as given (relative to the home directory).
fn ssh_key_file(args: &Args) -> String {
    args.ssh_key_file.clone().unwrap_or_else(|| format!(".ssh/id_{}", args.ssh_key_type.as_deref().unwrap_or("rsa")))
}

fn key_path(home: &str, key: &str) -> String {
    if key.starts_with('/') {
        key.to_string()
    } else {
        format!("{}/{key}", home.trim_end_matches('/'))
    }
}

/// The home directory of the account: as it is, else as it will be made.
async fn home_of(args: &Args, cx: &ModuleCtx<'_>) -> Result<Option<String>, ModuleError> {
    let o = cx.exec(Cmd::new("getent").flag("passwd").operand(&args.name).build()).await?;
    let pw: Vec<String> = o.stdout_str().trim_end().split(':').map(str::to_string).collect();
    Ok(match (&args.home, pw.get(5)) {
        (Some(h), _) => Some(h.clone()),
        (None, Some(h)) if o.rc == 0 => Some(h.clone()),
        _ => Some(format!("/home/{}", args.name)),
    })
}

/// Makes the key pair as ansible-core's user does: `.ssh` (0700) and the keys owned by the
/// account, `ssh-keygen` with an empty passphrase and the comment `ansible-generated on HOST`.
async fn make_ssh_key(
    args: &Args,
    cx: &ModuleCtx<'_>,
    pw: &[String],
    path: &str,
) -> Result<Result<(), String>, ModuleError> {
    let dir = path.rsplit_once('/').map(|(d, _)| d.to_string()).unwrap_or_else(|| ".".into());
    let owner = format!("{}:{}", pw[2], pw[3]);
    let mkdir = Sh::lit("if [ ! -d")
        .word(Sh::quoted(&dir))
        .suffix(" ]; then")
        .word(Cmd::new("mkdir").flag("-m").flag("0700").operand(&dir).build())
        .suffix(" &&")
        .word(Cmd::new("chown").operands([owner.as_str(), dir.as_str()]).build())
        .suffix("; fi");
    let out = cx.exec(mkdir).await?;
    if out.rc != 0 {
        return Ok(Err(format!("Failed to create {dir}: {}", out.stderr_str().trim())));
    }
    let mut keygen = Cmd::new("ssh-keygen").opt("-t", args.ssh_key_type.as_deref().unwrap_or("rsa"));
    if let Some(b) = args.ssh_key_bits.filter(|b| *b > 0) {
        keygen = keygen.opt("-b", b.to_string());
    }
    let comment = match &args.ssh_key_comment {
        Some(c) => Sh::quoted(c),
        None => Sh::lit("\"ansible-generated on $(hostname)\""),
    };
    let remove_old = Sh::lit("rm -f").word(Sh::quoted(path)).word(Sh::quoted(&format!("{path}.pub")));
    let keygen = keygen
        .build()
        .word(Sh::lit("-C"))
        .word(comment)
        .word(Sh::lit("-N ''"))
        .word(Sh::lit("-q -f"))
        .word(Sh::quoted(path));
    let chown = Cmd::new("chown").operands([owner.as_str(), path, &format!("{path}.pub")]).build();
    let out = cx.exec(remove_old.then(keygen.and(chown))).await?;
    if out.rc != 0 {
        return Ok(Err(format!("{} {}", out.stderr_str().trim(), out.stdout_str().trim()).trim().to_string()));
    }
    Ok(Ok(()))
}

/// `ssh_fingerprint`, `ssh_key_file` and `ssh_public_key` as ansible-core registers them, with
/// its warning when the key was there already.
async fn with_key_fields(o: Outcome, cx: &ModuleCtx<'_>, path: &str, existed: bool) -> Result<Outcome, ModuleError> {
    let fp = cx.exec(Cmd::new("ssh-keygen").flag("-l").opt("-f", path).build()).await?;
    let pubkey = cx.exec(Cmd::new("cat").operand(format!("{path}.pub")).build()).await?;
    let mut o = o
        .with("ssh_fingerprint", fp.stdout_str().trim())
        .with("ssh_key_file", path)
        .with("ssh_public_key", pubkey.stdout_str().trim());
    if existed {
        o = o.warn(format!(
            "Found existing ssh key private file \"{path}\", no force, so skipping ssh-keygen generation"
        ));
    }
    Ok(o)
}

/// The hash to set: with the `!` that locks it when `password_lock` is true.
fn lock_mark(args: &Args, hash: &str) -> String {
    match args.password_lock {
        Some(true) => format!("!{}", hash.trim_start_matches('!')),
        _ => hash.to_string(),
    }
}

/// What Ansible's user registers: `name`, `state`; for a removed account `force` and
/// `remove`; for a present one `system` and `create_home` (created) or `append` and
/// `move_home` (already there), `password` as `NOT_LOGGING_PASSWORD` when given, then the
/// account as `getent passwd` shows it (`uid`, `group` as the gid, `comment`, `home`,
/// `shell`) and `groups` as given (joined by `,`).
fn registered(args: &Args, pw: Option<&[String]>, created: bool) -> Outcome {
    let name = args.name.as_str();
    let mut o = Outcome::ok().with("name", name);
    if args.state.as_deref() == Some("absent") {
        return o.with("state", "absent").with("force", args.force).with("remove", args.remove);
    }
    o = o.with("state", "present");
    o = if created {
        o.with("system", args.system).with("create_home", args.create_home)
    } else {
        o.with("append", args.append).with("move_home", args.move_home)
    };
    if args.password.is_some() {
        o = o.with("password", "NOT_LOGGING_PASSWORD");
    }
    if let Some(pw) = pw {
        let id = |s: &str| s.parse::<u32>().map(minijinja::Value::from).unwrap_or_else(|_| s.into());
        o = o
            .with("uid", id(&pw[2]))
            .with("group", id(&pw[3]))
            .with("comment", pw[4].as_str())
            .with("home", pw[5].as_str())
            .with("shell", pw[6].as_str());
        if let Some(g) = &args.groups {
            o = o.with("groups", g.0.join(","));
        }
    }
    o
}

/// Makes a missing home directory as Ansible's user does: a copy of `/etc/skel` (or an empty
/// directory), with the mode `HOME_MODE` of `/etc/login.defs` (or what its `UMASK` leaves of
/// 0777, 0755 without either), owned by the account and its primary group throughout.
fn make_home_command(name: &str, home: &str) -> Sh {
    let h = || Sh::quoted(home);
    Sh::lit("set -e; if [ ! -d")
        .word(h())
        .suffix(" ]; then if [ -d /etc/skel ]; then mkdir -p -- \"$(dirname --")
        .word(h())
        .suffix(")\"; cp -RPp /etc/skel")
        .word(h())
        .suffix("; else mkdir -p --")
        .word(h())
        .suffix("; fi; ")
        .glued(Sh::lit(
            "m=$(awk '$1==\"HOME_MODE\"{print $2; exit}' /etc/login.defs 2>/dev/null || true); \
             if [ -z \"$m\" ]; then u=$(awk '$1==\"UMASK\"{print $2; exit}' /etc/login.defs 2>/dev/null || true); \
             m=$(printf '%o' $(( 0777 & ~0${u:-22} ))); fi; chmod \"$m\"",
        ))
        .word(h())
        .suffix("; chown -R --")
        .word(Sh::quoted(&format!("{name}:")))
        .word(h())
        .suffix("; fi")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;
    use prov_core::testutil::FakeConnection;
    use serde_json::json;

    const DEPLOY: &str =
        "passwd deploy:x:2000:2000:Deploy:/home/deploy:/bin/bash\npgroup deploy\ngroups deploy sudo\ngroup docker:x:999:\nhomedir\n";

    #[tokio::test]
    async fn in_state() {
        let h = fake(FakeConnection::new().on("if e=", 0, DEPLOY));
        let o = run::<User>(json!({"name": "deploy", "uid": 2000, "shell": "/bin/bash", "groups": ["sudo"]}), &h.ctx())
            .await;
        assert!(!o.changed && !o.failed, "{o:?}");
        assert_eq!(h.conn.calls().len(), 1);
    }

    /// ansible-core's get_groups_set: `"docker, sudo"` is docker and sudo (parts stripped), a part
    /// of spaces is the group "" ("Group  does not exist"), an empty part is dropped.
    #[tokio::test]
    async fn groups_parts_are_stripped_as_ansible_core_strips_them() {
        let h = fake(FakeConnection::new().on("if e=", 0, DEPLOY));
        let o = run::<User>(json!({"name": "deploy", "groups": "sudo, docker,"}), &h.ctx()).await;
        assert!(o.changed && !o.failed, "{o:?}");
        assert_eq!(h.conn.calls()[1], "usermod -G docker,sudo -- deploy");
        let h = fake(FakeConnection::new().on("if e=", 0, DEPLOY));
        let o = run::<User>(json!({"name": "deploy", "groups": "sudo, ,docker"}), &h.ctx()).await;
        assert!(o.failed && o.msg.as_deref() == Some("Group  does not exist"), "{o:?}");
    }

    #[tokio::test]
    async fn drift_uses_usermod() {
        let h = fake(FakeConnection::new().on("if e=", 0, DEPLOY));
        let o =
            run::<User>(json!({"name": "deploy", "groups": "docker", "append": true, "shell": "/bin/zsh"}), &h.ctx())
                .await;
        assert!(o.changed);
        assert_eq!(h.conn.calls()[1], "usermod -a -G docker -s /bin/zsh -- deploy");
        assert_eq!(o.diffs[0].before, "groups: sudo\nshell: /bin/bash\n");
        assert_eq!(o.diffs[0].after, "groups: docker,sudo\nshell: /bin/zsh\n");
        let o = run::<User>(json!({"name": "deploy", "groups": []}), &h.ctx()).await;
        assert!(o.changed);
        // (call 3 read the account back after the first change)
        assert_eq!(h.conn.calls()[4], "usermod -G '' -- deploy");
    }

    #[tokio::test]
    async fn absent_user_is_created() {
        let h = fake(FakeConnection::new().on("if e=", 0, "owngroup\n"));
        let o =
            run::<User>(json!({"name": "web", "system": true, "create_home": false, "comment": "Web user"}), &h.ctx())
                .await;
        assert!(o.changed);
        assert_eq!(h.conn.calls()[1], "useradd -N -M -r -c 'Web user' -- web");
        assert_eq!(o.diffs[0].before, "state: absent\n");
    }

    #[tokio::test]
    async fn a_password_hash_never_reaches_a_command_line() {
        let hash = "$6$salt$Qk1hashhashhash";
        let h = fake(FakeConnection::new().on("if e=", 0, "owngroup\n"));
        let o = run::<User>(json!({"name": "web", "password": hash}), &h.ctx()).await;
        assert!(o.changed && !o.failed, "{o:?}");
        let h2 = fake(FakeConnection::new().on("if e=", 0, &format!("{DEPLOY}shadow !\n")));
        let o = run::<User>(json!({"name": "deploy", "password": hash}), &h2.ctx()).await;
        assert!(o.changed && !o.failed, "{o:?}");
        for calls in [h.conn.calls(), h2.conn.calls()] {
            assert!(calls.iter().all(|c| !c.contains("salt")), "{calls:?}");
            assert_eq!(calls[calls.len() - 2], "chpasswd -e", "{calls:?}");
            assert!(
                calls[calls.len() - 1].starts_with("getent passwd -- "),
                "then the account is read back: {calls:?}"
            );
        }
        assert_eq!(h.conn.calls()[1], "useradd -N -m -- web");
        assert_eq!(h2.conn.calls().len(), 3, "only chpasswd when only the password differs");
    }

    #[tokio::test]
    async fn registers_the_account_as_ansible_user_does() {
        let h = fake(FakeConnection::new().on("if e=", 0, DEPLOY));
        let o =
            run::<User>(json!({"name": "deploy", "shell": "/bin/bash", "groups": "sudo", "password": "x"}), &h.ctx())
                .await;
        let keys: Vec<&str> = o.data.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            ["name", "state", "append", "move_home", "password", "uid", "group", "comment", "home", "shell", "groups"]
        );
        assert_eq!(o.data["uid"], minijinja::Value::from(2000u32));
        assert_eq!(o.data["group"], minijinja::Value::from(2000u32));
        assert_eq!(o.data["password"], minijinja::Value::from("NOT_LOGGING_PASSWORD"));
        assert_eq!(o.data["groups"], minijinja::Value::from("sudo"));
        // Check mode: the account as it is (the old shell), changed.
        let h = fake_check(FakeConnection::new().on("if e=", 0, DEPLOY));
        let o = run::<User>(json!({"name": "deploy", "shell": "/bin/zsh"}), &h.ctx()).await;
        assert!(o.changed && o.planned.len() == 1, "{o:?}");
        assert_eq!(o.data["shell"], minijinja::Value::from("/bin/bash"));
        assert_eq!(h.conn.calls().len(), 1);
        let h = fake(FakeConnection::new().on("if e=", 0, DEPLOY));
        let o = run::<User>(json!({"name": "deploy", "state": "absent", "force": true}), &h.ctx()).await;
        let keys: Vec<&str> = o.data.keys().map(String::as_str).collect();
        assert_eq!(keys, ["name", "state", "force", "remove"]);
    }

    #[tokio::test]
    async fn a_missing_home_is_made_from_skel_when_create_home() {
        let without = DEPLOY.replace("homedir\n", "");
        let h = fake(FakeConnection::new().on("if e=", 0, &without));
        let o = run::<User>(json!({"name": "deploy"}), &h.ctx()).await;
        assert!(o.changed && !o.failed, "{o:?}");
        let calls = h.conn.calls();
        assert!(calls[1].starts_with("set -e; if [ ! -d /home/deploy ]; then if [ -d /etc/skel ]"), "{calls:?}");
        assert!(calls[1].ends_with("chown -R -- deploy: /home/deploy; fi"), "{calls:?}");
        let h = fake(FakeConnection::new().on("if e=", 0, &without));
        let o = run::<User>(json!({"name": "deploy", "create_home": false}), &h.ctx()).await;
        assert!(!o.changed, "{o:?}");
        let h = LocalHost::new();
        let out =
            h.ctx().exec(make_home_command("root", &h.dir.path().join("d/home").display().to_string())).await.unwrap();
        assert_eq!(out.rc, 0, "{:?}", out.stderr_str());
        assert!(h.dir.path().join("d/home").is_dir());
    }

    #[tokio::test]
    async fn password_lock_locks_unlocks_and_hashes_compare_without_the_mark() {
        let locked = format!("{DEPLOY}shadow !$6$s$h\n");
        let h = fake(FakeConnection::new().on("if e=", 0, &locked));
        let o = run::<User>(json!({"name": "deploy", "password": "$6$s$h"}), &h.ctx()).await;
        assert!(!o.changed, "the same hash, locked: {o:?}");
        let o = run::<User>(json!({"name": "deploy", "password_lock": false}), &h.ctx()).await;
        assert!(o.changed);
        assert_eq!(h.conn.calls()[2], "usermod -U -- deploy");
        let h = fake(FakeConnection::new().on("if e=", 0, &format!("{DEPLOY}shadow $6$s$h\n")));
        let o = run::<User>(json!({"name": "deploy", "password_lock": true}), &h.ctx()).await;
        assert!(o.changed);
        assert_eq!(h.conn.calls()[1], "usermod -L -- deploy");
        let o = run::<User>(json!({"name": "deploy", "password_lock": true, "password": "$6$t$n"}), &h.ctx()).await;
        assert!(o.changed);
        assert_eq!(h.conn.calls()[4], "chpasswd -e", "the hash carries the lock: no usermod -L");
    }

    #[tokio::test]
    async fn an_account_name_like_an_option_is_refused() {
        let h = fake(FakeConnection::new().on("", 0, ""));
        for name in ["-o", "a:b", "../x"] {
            let e = run_err::<User>(json!({ "name": name }), &h.ctx()).await;
            assert!(e.contains("not a valid user or group name"), "{e}");
        }
        assert!(h.conn.calls().is_empty());
    }

    #[tokio::test]
    async fn removal_and_check_mode() {
        let h = fake_check(FakeConnection::new().on("if e=", 0, DEPLOY));
        let o = run::<User>(json!({"name": "deploy", "state": "absent", "remove": true}), &h.ctx()).await;
        assert!(o.changed);
        assert_eq!(h.conn.calls().len(), 1);
        let h = fake(FakeConnection::new().on("if e=", 0, DEPLOY));
        run::<User>(json!({"name": "deploy", "state": "absent", "remove": true}), &h.ctx()).await;
        assert_eq!(h.conn.calls()[1], "userdel -r -- deploy");
    }

    #[tokio::test]
    async fn missing_group_and_probe_failure() {
        let h = fake(FakeConnection::new().on("if e=", 0, ""));
        let o = run::<User>(json!({"name": "x", "group": "nogroup-here"}), &h.ctx()).await;
        assert!(o.failed && o.msg.unwrap().contains("does not exist"));
        let h = fake(FakeConnection::new().on("if e=", 1, ""));
        assert!(run_err::<User>(json!({"name": "x"}), &h.ctx()).await.contains("reading user x"));
    }

    #[tokio::test]
    async fn local_probe_reads_root() {
        let h = LocalHost::new();
        let args: Args = prov_core::module::args_from_value(&j(json!({"name": "root", "group": "root"}))).unwrap();
        let out = h.ctx().exec(probe_command(&args)).await.unwrap();
        let c = parse(&out.stdout_str());
        assert_eq!(c.passwd.unwrap()[2], "0");
        assert_eq!(c.group_gid, Some(0));
        assert_eq!(c.primary, "root");
    }

    #[tokio::test]
    async fn user_group_names_that_are_options_paths_or_lists_are_refused() {
        let h = fake(FakeConnection::new().on("", 0, ""));
        let mut bad = hostile_values(&pwned_marker("user"));
        bad.extend(["../../x".into(), "a,b".into(), "a:b".into()]);
        for g in bad {
            // A `groups` item is split at commas as ansible-core splits it (`["a,b"]` is a and b).
            let as_groups = (g != "a,b").then(|| json!({"name": "web", "groups": [g.clone()]}));
            for args in [Some(json!({"name": "web", "group": g})), as_groups].into_iter().flatten() {
                let e = run_err::<User>(args, &h.ctx()).await;
                assert!(e.contains("not a valid group name") || e.contains("not a valid user or group name"), "{e}");
            }
        }
        assert!(h.conn.calls().is_empty(), "{:?}", h.conn.calls());
    }

    #[tokio::test]
    async fn user_free_text_values_are_quoted_option_arguments() {
        let marker = pwned_marker("user-text");
        for v in hostile_values(&marker) {
            // `home` and `shell` are paths, whose `$VAR`s the target expands first: those take
            // the values without `$`.
            let path = if v.contains('$') { "-rf".to_string() } else { v.clone() };
            let h = fake(FakeConnection::new().on("if e=", 0, "owngroup\n"));
            let args = json!({"name": "web", "comment": v, "home": path, "shell": path});
            let o = run::<User>(args, &h.ctx()).await;
            assert!(o.changed, "{o:?}");
            let (q, p) = (Sh::quoted(&v), Sh::quoted(&path));
            let want = format!("useradd -N -s {p} -d {p} -m -c {q} -- web");
            assert_eq!(h.conn.calls()[1], want);
        }
        let h = LocalHost::new();
        for v in hostile_values(&marker) {
            let args: Args = prov_core::module::args_from_value(&j(json!({"name": "root", "password": "x"}))).unwrap();
            let args = Args { group: Some(v.clone()), ..args };
            let out = h.ctx().exec(probe_command(&args)).await.unwrap();
            assert_eq!(parse(&out.stdout_str()).group_gid, None, "{v:?}: no such group, looked up as data");
        }
        assert!(!std::path::Path::new(&marker).exists(), "a hostile value ran as shell");
    }
}
