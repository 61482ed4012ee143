//! `mount`: mount points in `/etc/fstab` and in the running system (ansible.posix.mount, Linux).
//!
//! Arguments (as in Ansible):
//! - `path` (alias `name`, required): the mount point.
//! - `state` (required): `mounted` (the entry in fstab, the mount point made, mounted; when the
//!   entry changed and it was mounted, remounted), `unmounted` (unmounted, fstab untouched),
//!   `present` (the entry only), `absent` (the entry removed, unmounted, the mount point
//!   directory removed; nothing happens when fstab has no entry for it), `absent_from_fstab` (the
//!   entry removed only), `remounted` (always remounts, with `opts` when given; fstab untouched),
//!   `ephemeral` (mounted with `src`, `fstype`, `opts` without fstab; remounted when already
//!   mounted from the same source, refused when mounted from another).
//! - `src`, `fstype`: required with `mounted`, `present` and `ephemeral`.
//! - `opts` (default `defaults`), `dump` and `passno` (default `0`), `boot` (default true; false
//!   appends `noauto` to the options), `fstab` (default `/etc/fstab`), `backup`, `opts_no_log`.
//!
//! The entry is written as ansible.posix.mount writes it: `src path fstype opts dump passno`,
//! `\` as `\134` and a space as `\040`; an entry with other fields is replaced where it is, every
//! other line is kept byte for byte. When mounting fails, fstab is put back and the directories
//! made for the mount point are removed. Values with a tab, a line break or a `#`, and empty
//! fields are refused: Ansible writes them into lines that fstab reads otherwise (or as a
//! comment), and adds the entry again on every run. Not as Ansible: a bind mount (`opts: bind`)
//! counts as mounted whatever directory is bound there (Ansible binds again, on top, when it is
//! another one). Registers `name`, `src`, `fstype`, `opts`, `dump`, `passno`, `boot`
//! (`yes`/`no`), `fstab` and `backup_file`.
//!
//! ```yaml
//! - mount:
//!     path: /srv/data
//!     src: UUID=4b1f9d8e-0c55-4a8e-9a55-3c3f0f1b2a10
//!     fstype: ext4
//!     opts: noatime
//!     state: mounted
//! - ansible.posix.mount: { path: /mnt/old, state: absent }
//! ```

use super::fstab::{self, Entry};
use crate::files::edit::{self, EditPlan};
use crate::files::Attrs;
use crate::util::{probe_failed, Text};
use async_trait::async_trait;
use minijinja::Value;
use prov_core::args::lenient_bool;
use prov_core::cmd::{Cmd, Sh};
use prov_core::connection::ExecOutput;
use prov_core::module::{Action, Change, Module, ModuleCtx, ModuleError, Outcome, Plan};
use serde::Deserialize;

const ETC_FSTAB: &str = "/etc/fstab";

fn zero() -> String {
    "0".into()
}
fn yes() -> bool {
    true
}
fn text<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    <Text as Deserialize>::deserialize(d).map(|t| t.0)
}

/// Arguments of `mount`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    /// The mount point.
    #[serde(alias = "name")]
    pub path: String,
    /// What is mounted.
    #[serde(default, deserialize_with = "crate::util::stringish")]
    pub src: Option<String>,
    /// Filesystem type.
    #[serde(default, deserialize_with = "crate::util::stringish")]
    pub fstype: Option<String>,
    /// Mount options.
    #[serde(default, deserialize_with = "crate::util::stringish")]
    pub opts: Option<String>,
    /// Accepted: prov does not log arguments.
    #[serde(default)]
    pub opts_no_log: Option<Value>,
    /// fstab's dump field.
    #[serde(default = "zero", deserialize_with = "text")]
    pub dump: String,
    /// fstab's passno field.
    #[serde(default = "zero", deserialize_with = "text")]
    pub passno: String,
    /// What to make true.
    pub state: State,
    /// The fstab file.
    #[serde(default, deserialize_with = "crate::util::stringish")]
    pub fstab: Option<String>,
    /// Mount at boot (false adds `noauto`).
    #[serde(default = "yes", deserialize_with = "lenient_bool")]
    pub boot: bool,
    /// Keep a copy of the fstab it replaces.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub backup: bool,
}

/// `state` of `mount`.
#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// In fstab and mounted.
    Mounted,
    /// Not mounted (fstab untouched).
    Unmounted,
    /// In fstab.
    Present,
    /// Not in fstab, not mounted, no mount point.
    Absent,
    /// Not in fstab.
    AbsentFromFstab,
    /// Remounted now.
    Remounted,
    /// Mounted without fstab.
    Ephemeral,
}

impl State {
    fn name(self) -> &'static str {
        match self {
            State::Mounted => "mounted",
            State::Unmounted => "unmounted",
            State::Present => "present",
            State::Absent => "absent",
            State::AbsentFromFstab => "absent_from_fstab",
            State::Remounted => "remounted",
            State::Ephemeral => "ephemeral",
        }
    }
}

/// The `mount` module.
#[derive(Debug, Default)]
pub struct Mount;

/// fstab's real path, and its bytes and mode before the write (`None`: it did not exist).
struct Restore {
    real: String,
    before: Option<(Vec<u8>, u32)>,
}

/// What to do to the running system.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Live {
    Keep,
    Mount,
    /// After an fstab change: remount, else unmount and mount.
    Remount,
    Unmount,
    /// `state: remounted`.
    Remounted,
    EphemeralMount,
    EphemeralRemount,
}

/// What `apply` does, in order: write fstab, make the mount point, change the mount, remove the
/// mount point.
pub struct MountPlan {
    write: Option<EditPlan>,
    /// fstab as it was, to put back after a failed mount.
    restore: Option<Restore>,
    /// Directories to make, deepest first.
    missing: Vec<String>,
    live: Live,
    rmdir: bool,
}

fn opts(args: &Args) -> String {
    let o = args.opts.clone().unwrap_or_else(|| "defaults".into());
    if args.boot {
        o
    } else {
        format!("{o},noauto")
    }
}

fn fstab_path(args: &Args) -> &str {
    args.fstab.as_deref().unwrap_or(ETC_FSTAB)
}

/// What Ansible registers.
fn result(args: &Args) -> Outcome {
    let mut o = Outcome::ok().with("name", args.path.as_str());
    if let Some(s) = &args.src {
        o = o.with("src", s.as_str());
    }
    if let Some(f) = &args.fstype {
        o = o.with("fstype", f.as_str());
    }
    o.with("opts", opts(args))
        .with("dump", args.dump.as_str())
        .with("passno", args.passno.as_str())
        .with("boot", if args.boot { "yes" } else { "no" })
        .with("fstab", fstab_path(args))
        .with("backup_file", "")
}

/// The mount point: whether it is mounted (and from what), and which directories are missing.
struct Point {
    mounted: Option<String>,
    missing: Vec<String>,
}

/// Reads the mount point's canonical path, its missing directories and the mount table in one
/// command.
async fn probe(cx: &ModuleCtx<'_>, path: &str) -> Result<Point, ModuleError> {
    let cmd = Sh::lit("P=")
        .glued(Sh::quoted(path))
        .then(Sh::lit("printf 'real %s\\n' \"$(readlink -m -- \"$P\")\""))
        .then(Sh::lit(
            "d=$P; while [ ! -e \"$d\" ] && [ ! -L \"$d\" ]; do printf 'missing %s\\n' \"$d\"; d=$(dirname -- \"$d\"); done",
        ))
        .then(Sh::lit("echo mountinfo; cat /proc/self/mountinfo"));
    let out = cx.exec(cmd).await?;
    if out.rc != 0 {
        return Err(probe_failed(&format!("reading the mounts of {path}"), &out));
    }
    let text = out.stdout_str();
    let (head, table) = text.split_once("mountinfo\n").unwrap_or((&text, ""));
    let mut real = path.to_string();
    let mut missing = Vec::new();
    for line in head.lines() {
        if let Some(r) = line.strip_prefix("real ").filter(|r| !r.is_empty()) {
            real = r.to_string();
        } else if let Some(m) = line.strip_prefix("missing ") {
            missing.push(m.to_string());
        }
    }
    let mounted = fstab::parse_mountinfo(table).into_iter().rev().find(|m| m.target == real).map(|m| m.source);
    Ok(Point { mounted, missing })
}

/// `mount` with fstab's `-T` when it is not the system's.
fn with_fstab(c: Cmd, args: &Args) -> Cmd {
    match args.fstab.as_deref() {
        Some(f) if f != ETC_FSTAB => c.opt("-T", f),
        _ => c,
    }
}

#[async_trait]
impl Module for Mount {
    const NAME: &'static str = "mount";
    const COLLECTIONS: &'static [&'static str] = &["ansible.posix", "ansible.builtin"];
    const PATH_ARGS: &'static [&'static str] = &["path", "name", "src"];
    type Args = Args;
    type Plan = MountPlan;

    fn check_args(args: &Args) -> Result<(), String> {
        let needs = matches!(args.state, State::Mounted | State::Present | State::Ephemeral);
        let missing: Vec<&str> = [("src", &args.src), ("fstype", &args.fstype)]
            .into_iter()
            .filter(|(_, v)| needs && v.is_none())
            .map(|(n, _)| n)
            .collect();
        if !missing.is_empty() {
            return Err(format!(
                "state is {} but all of the following are missing: {}",
                args.state.name(),
                missing.join(", ")
            ));
        }
        let fields = [
            ("path", Some(args.path.as_str())),
            ("src", args.src.as_deref()),
            ("fstype", args.fstype.as_deref()),
            ("opts", args.opts.as_deref()),
            ("dump", Some(args.dump.as_str())),
            ("passno", Some(args.passno.as_str())),
        ];
        for (name, v) in fields {
            let Some(v) = v else { continue };
            if v.is_empty() {
                return Err(format!("`{name}` is empty: fstab would get an entry it cannot read back"));
            }
            if v.chars().any(|c| c.is_whitespace() && c != ' ') {
                return Err(format!("`{name}` contains a tab or a line break, which fstab cannot hold"));
            }
            if (name == "dump" || name == "passno") && v.contains(' ') {
                return Err(format!("`{name}` contains a space"));
            }
        }
        if let Some((name, _)) = fields.iter().find(|(_, v)| v.is_some_and(|v| v.contains('#'))) {
            return Err(format!("`{name}` contains `#`: fstab would read the rest of the entry as a comment"));
        }
        if args.fstab.as_deref().is_some_and(str::is_empty) {
            return Err("`fstab` is empty".into());
        }
        Ok(())
    }

    async fn plan(&self, args: &Args, cx: &ModuleCtx<'_>) -> Result<Plan<MountPlan>, ModuleError> {
        let path = args.path.as_str();
        let state = args.state;
        let uses_fstab = matches!(state, State::Mounted | State::Present | State::Absent | State::AbsentFromFstab);
        let mut plan = MountPlan { write: None, restore: None, missing: Vec::new(), live: Live::Keep, rmdir: false };
        let mut diffs = Vec::new();
        let mut had_entry = false;
        if uses_fstab {
            let f = fstab_path(args);
            let r = edit::read(cx, f).await?;
            if r.is_dir() || (r.st.is_some() && r.data.is_none()) {
                return Ok(Plan::Ok(Outcome::failed(format!("{f} is not a regular file"))));
            }
            let old = r.data.clone().unwrap_or_default();
            had_entry = fstab::has_entry(&old, path);
            let new = match state {
                State::Mounted | State::Present => {
                    let (src, fstype) = (args.src.as_deref().unwrap_or(""), args.fstype.as_deref().unwrap_or(""));
                    fstab::set_entry(&old, &Entry::new(src, path, fstype, &opts(args), &args.dump, &args.passno))
                }
                _ => fstab::remove_entry(&old, path),
            };
            if let Plan::Change(ch) = edit::plan(cx, &r, new, "", &Attrs::default(), edit::Registers::Nothing) {
                diffs = ch.diffs;
                plan.write = Some(ch.plan);
                let before = r.data.clone().zip(r.st.as_ref().map(|s| s.mode));
                plan.restore = Some(Restore { real: r.real.clone(), before });
            }
        }
        let live = match state {
            State::Present | State::AbsentFromFstab => None,
            State::Absent if !had_entry => None,
            _ => Some(probe(cx, path).await?),
        };
        if let Some(pt) = &live {
            let make_dir = matches!(state, State::Mounted | State::Ephemeral);
            if make_dir {
                plan.missing = pt.missing.clone();
            }
            plan.live = match (state, &pt.mounted) {
                (State::Mounted, None) => Live::Mount,
                (State::Mounted, Some(_)) if plan.write.is_some() => Live::Remount,
                (State::Unmounted | State::Absent, Some(_)) => Live::Unmount,
                (State::Remounted, _) => Live::Remounted,
                (State::Ephemeral, None) => Live::EphemeralMount,
                (State::Ephemeral, Some(source)) if Some(source.as_str()) == args.src.as_deref() => {
                    Live::EphemeralRemount
                }
                (State::Ephemeral, Some(_)) => {
                    return Ok(Plan::Ok(Outcome::failed(
                        "Ephemeral mount point is already mounted with a different source than the specified one. \
                         Failing in order to prevent an unwanted unmount or override operation. Try replacing this \
                         command with a \"state: unmounted\" followed by a \"state: ephemeral\", or use a different \
                         destination path.",
                    )));
                }
                _ => Live::Keep,
            };
            plan.rmdir = state == State::Absent && pt.missing.is_empty();
            let was = if pt.mounted.is_some() { "mounted" } else { "unmounted" };
            let will = match plan.live {
                Live::Mount | Live::EphemeralMount => "mounted",
                Live::Unmount => "unmounted",
                _ => was,
            };
            if was != will {
                diffs.push(prov_core::module::Diff {
                    header: format!("mount {path}"),
                    before: format!("state: {was}\n"),
                    after: format!("state: {will}\n"),
                    skipped: Vec::new(),
                });
            }
        }
        if plan.write.is_none() && plan.missing.is_empty() && plan.live == Live::Keep && !plan.rmdir {
            return Ok(Plan::Ok(result(args)));
        }
        let action = match state {
            State::Absent | State::AbsentFromFstab | State::Unmounted => Action::Delete,
            _ if !had_entry && plan.write.is_some() => Action::Create,
            _ => Action::Modify,
        };
        let mut ch = Change::new(plan, action, "mount", path);
        ch.diffs.extend(diffs);
        Ok(Plan::Change(ch))
    }

    async fn apply(&self, args: &Args, plan: MountPlan, cx: &ModuleCtx<'_>) -> Result<Outcome, ModuleError> {
        let path = args.path.as_str();
        let mut o = result(args);
        o.changed = true;
        if let Some(w) = plan.write {
            let done = edit::apply(cx, w, &Attrs::default(), args.backup, None).await?;
            if done.failed {
                return Ok(done);
            }
            let reports_backup = matches!(args.state, State::Mounted | State::Present);
            if let (true, Some(b)) = (reports_backup, done.data.get("backup_file")) {
                o = o.with("backup_file", b.clone());
            }
        }
        if let Some(deepest) = plan.missing.first() {
            let out = cx.exec(Cmd::new("mkdir").flag("-p").operand(deepest).build()).await?;
            if out.rc != 0 {
                return Ok(Outcome::failed(format!("Error making dir {path}: {}", out.stderr_str())));
            }
        }
        let mount = || with_fstab(Cmd::new("mount"), args).operand(path).build();
        let remount = |extra: Option<&str>| {
            let o = match extra {
                Some(x) => format!("remount,{x}"),
                None => "remount".to_string(),
            };
            with_fstab(Cmd::new("mount").opt("-o", o), args).operand(path).build()
        };
        let umount = || Cmd::new("umount").operand(path).build();
        let ephemeral = |c: Cmd| {
            let c = c.opt("-t", args.fstype.as_deref().unwrap_or(""));
            let c = match args.opts.as_deref() {
                Some(o) => c.opt("-o", o),
                None => c,
            };
            c.operands([args.src.as_deref().unwrap_or(""), path]).build()
        };
        let failed = match plan.live {
            Live::Keep => None,
            Live::Mount => attempt(cx, mount()).await?.map(|e| format!("Error mounting {path}: {e}")),
            Live::Remount => match attempt(cx, remount(None)).await? {
                None => None,
                Some(_) => match attempt(cx, umount()).await? {
                    Some(e) => Some(e),
                    None => attempt(cx, mount()).await?,
                }
                .map(|e| format!("Error mounting {path}: {e}")),
            },
            Live::Unmount => attempt(cx, umount()).await?.map(|e| format!("Error unmounting {path}: {e}")),
            Live::Remounted => match attempt(cx, remount(args.opts.as_deref())).await? {
                None => None,
                Some(_) if args.opts.is_some() => Some(
                    "Options were specified with remounted, but the remount command failed. Failing in order to \
                     prevent an unexpected mount result. Try replacing this command with a \"state: unmounted\" \
                     followed by a \"state: mounted\" using the full desired mount options instead."
                        .to_string(),
                ),
                Some(_) => match attempt(cx, umount()).await? {
                    Some(e) => Some(e),
                    None => attempt(cx, mount()).await?,
                }
                .map(|e| format!("Error remounting {path}: {e}")),
            },
            Live::EphemeralMount => {
                attempt(cx, ephemeral(Cmd::new("mount"))).await?.map(|e| format!("Error mounting {path}: {e}"))
            }
            Live::EphemeralRemount => attempt(cx, ephemeral(Cmd::new("mount").opt("-o", "remount")))
                .await?
                .map(|e| format!("Error remounting {path}: {e}")),
        };
        if let Some(msg) = failed {
            if matches!(plan.live, Live::Mount | Live::Remount | Live::EphemeralMount) {
                rollback(cx, plan.restore, &plan.missing).await?;
            }
            return Ok(Outcome::failed(msg));
        }
        if plan.rmdir {
            if let Some(e) = attempt(cx, Cmd::new("rmdir").operand(path).build()).await? {
                return Ok(Outcome::failed(format!("Error rmdir {path}: {e}")));
            }
        }
        Ok(o)
    }
}

/// Runs a command: `None` when it worked, else its error output.
async fn attempt(cx: &ModuleCtx<'_>, cmd: Sh) -> Result<Option<String>, ModuleError> {
    let out: ExecOutput = cx.exec(cmd).await?;
    Ok((out.rc != 0).then(|| {
        let e = out.stderr_str();
        if e.trim().is_empty() {
            out.stdout_str()
        } else {
            e
        }
    }))
}

/// After a failed mount: fstab as it was, and no directories left that this run made.
async fn rollback(cx: &ModuleCtx<'_>, restore: Option<Restore>, missing: &[String]) -> Result<(), ModuleError> {
    match restore {
        Some(Restore { real, before: Some((data, mode)) }) => cx.put(&real, &data, Some(mode)).await?,
        Some(Restore { real, before: None }) => {
            cx.exec(Cmd::new("rm").flag("-f").operand(&real).build()).await?;
        }
        None => {}
    }
    if !missing.is_empty() {
        cx.exec(Cmd::new("rmdir").operands(missing).build()).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;
    use prov_core::module::args_from_value;
    use prov_core::testutil::FakeConnection;
    use serde_json::json;

    const FSTAB: &str = "/t/fstab";

    /// What `edit::read` prints for a file with these bytes.
    fn file(data: &str) -> String {
        format!("real {FSTAB}\0stat 81a4 600 0 0 {} 10 11 12 1 root root\naccess rw\ncontent\n{data}", data.len())
    }

    /// What the probe prints: the mount point missing these directories, and the mount table.
    fn point(path: &str, missing: &[&str], mounted_from: Option<&str>) -> String {
        let mut s = format!("real {path}\n");
        for m in missing {
            s.push_str(&format!("missing {m}\n"));
        }
        s.push_str("mountinfo\n22 27 0:21 / /proc rw,relatime - proc proc rw\n");
        if let Some(src) = mounted_from {
            s.push_str(&format!("99 27 0:50 / {} rw - tmpfs {src} rw\n", path.replace(' ', "\\040")));
        }
        s
    }

    fn host(fstab: &str, pt: String) -> prov_core::testutil::TestHost {
        fake(FakeConnection::new().on("R=$(readlink", 0, &file(fstab)).on("P=", 0, &pt))
    }

    fn written(h: &prov_core::testutil::TestHost) -> String {
        let files = h.conn.files.lock().unwrap();
        String::from_utf8(files.get(FSTAB).map(|f| f.0.clone()).unwrap_or_default()).unwrap()
    }

    fn after_reads(h: &prov_core::testutil::TestHost) -> Vec<String> {
        h.conn
            .calls()
            .into_iter()
            .filter(|c| !c.starts_with("R=") && !c.starts_with("P=") && !c.starts_with("chown"))
            .collect()
    }

    fn args(v: serde_json::Value) -> Result<(), String> {
        let a: Args = args_from_value(&j(v))?;
        Mount::check_args(&a)
    }

    #[tokio::test]
    async fn mounted_writes_the_entry_makes_the_mount_point_and_mounts_it_from_that_fstab() {
        let h = host("# keep\n", point("/m/a b", &["/m/a b", "/m"], None));
        let a = json!({"path": "/m/a b", "src": "tmpfs", "fstype": "tmpfs", "opts": "size=1m", "state": "mounted", "fstab": FSTAB});
        let o = run::<Mount>(a, &h.ctx()).await;
        assert!(o.changed && !o.failed, "{o:?}");
        assert_eq!(written(&h), "# keep\ntmpfs /m/a\\040b tmpfs size=1m 0 0\n");
        assert_eq!(after_reads(&h), ["put /t/fstab", "mkdir -p -- '/m/a b'", "mount -T /t/fstab -- '/m/a b'"]);
        for (k, v) in [
            ("name", "/m/a b"),
            ("opts", "size=1m"),
            ("boot", "yes"),
            ("dump", "0"),
            ("fstab", FSTAB),
            ("backup_file", ""),
        ] {
            assert_eq!(o.data[k], Value::from(v), "{k}");
        }
    }

    #[tokio::test]
    async fn mounted_with_the_same_entry_and_mounted_changes_nothing() {
        let h = host("tmpfs /m tmpfs size=1m 0 0\n", point("/m", &[], Some("tmpfs")));
        let a = json!({"path": "/m", "src": "tmpfs", "fstype": "tmpfs", "opts": "size=1m", "state": "mounted", "fstab": FSTAB});
        let o = run::<Mount>(a, &h.ctx()).await;
        assert!(!o.changed && !o.failed, "{o:?}");
        assert!(after_reads(&h).is_empty(), "{:?}", h.conn.calls());
    }

    #[tokio::test]
    async fn a_changed_entry_of_a_mounted_point_is_remounted_else_unmounted_and_mounted() {
        let h = host("tmpfs /m tmpfs size=1m 0 0\n", point("/m", &[], Some("tmpfs")));
        let a = json!({"path": "/m", "src": "tmpfs", "fstype": "tmpfs", "opts": "size=2m", "state": "mounted", "fstab": FSTAB});
        let o = run::<Mount>(a.clone(), &h.ctx()).await;
        assert!(o.changed && !o.failed, "{o:?}");
        assert_eq!(after_reads(&h), ["put /t/fstab", "mount -o remount -T /t/fstab -- /m"]);
        let h = fake(
            FakeConnection::new()
                .on("R=$(readlink", 0, &file("tmpfs /m tmpfs size=1m 0 0\n"))
                .on("P=", 0, &point("/m", &[], Some("tmpfs")))
                .on("mount -o remount", 32, ""),
        );
        let o = run::<Mount>(a, &h.ctx()).await;
        assert!(o.changed && !o.failed, "{o:?}");
        assert_eq!(
            after_reads(&h)[1..],
            ["mount -o remount -T /t/fstab -- /m", "umount -- /m", "mount -T /t/fstab -- /m"]
        );
    }

    #[tokio::test]
    async fn a_failed_mount_puts_fstab_back_and_removes_the_directories_it_made() {
        let h = fake(
            FakeConnection::new()
                .on("R=$(readlink", 0, &file("# keep\n"))
                .on("P=", 0, &point("/m/p/x", &["/m/p/x", "/m/p"], None))
                .on("mount", 32, "")
                .with_file(FSTAB, "# keep\n"),
        );
        let a = json!({"path": "/m/p/x", "src": "tmpfs", "fstype": "nosuchfs", "state": "mounted", "fstab": FSTAB});
        let o = run::<Mount>(a, &h.ctx()).await;
        assert!(o.failed && !o.changed, "{o:?}");
        assert!(o.msg.as_deref().unwrap_or("").starts_with("Error mounting /m/p/x: "), "{o:?}");
        assert_eq!(written(&h), "# keep\n");
        assert_eq!(after_reads(&h)[3..], ["put /t/fstab", "rmdir -- /m/p/x /m/p"]);
    }

    #[tokio::test]
    async fn absent_removes_the_entry_unmounts_and_removes_the_mount_point() {
        let h = host("# keep\ntmpfs /m tmpfs defaults 0 0\n", point("/m", &[], Some("tmpfs")));
        let o = run::<Mount>(json!({"path": "/m", "state": "absent", "fstab": FSTAB}), &h.ctx()).await;
        assert!(o.changed && !o.failed, "{o:?}");
        assert_eq!(written(&h), "# keep\n");
        assert_eq!(after_reads(&h), ["put /t/fstab", "umount -- /m", "rmdir -- /m"]);
        assert_eq!(o.data["opts"], Value::from("defaults"));
        assert!(o.data.get("src").is_none(), "only what was given");
    }

    #[tokio::test]
    async fn absent_without_an_entry_does_nothing_even_when_mounted() {
        let h = host("# keep\n", point("/m", &[], Some("tmpfs")));
        let o = run::<Mount>(json!({"path": "/m", "state": "absent", "fstab": FSTAB}), &h.ctx()).await;
        assert!(!o.changed && !o.failed, "{o:?}");
        assert_eq!(h.conn.calls().len(), 1, "no probe of the mounts: {:?}", h.conn.calls());
    }

    #[tokio::test]
    async fn unmounted_unmounts_and_leaves_fstab() {
        let h = host("tmpfs /m tmpfs defaults 0 0\n", point("/m", &[], Some("tmpfs")));
        let o = run::<Mount>(json!({"path": "/m", "state": "unmounted", "fstab": FSTAB}), &h.ctx()).await;
        assert!(o.changed, "{o:?}");
        assert_eq!(after_reads(&h), ["umount -- /m"]);
        let h = host("", point("/m", &[], None));
        let o = run::<Mount>(json!({"path": "/m", "state": "unmounted", "fstab": FSTAB}), &h.ctx()).await;
        assert!(!o.changed, "{o:?}");
    }

    #[tokio::test]
    async fn check_mode_only_reads() {
        let mut h = host("", point("/m", &["/m"], None));
        h.mode.check = prov_core::module::CheckMode::Check;
        let a = json!({"path": "/m", "src": "tmpfs", "fstype": "tmpfs", "state": "mounted", "fstab": FSTAB});
        let o = run::<Mount>(a, &h.ctx()).await;
        assert!(o.changed, "{o:?}");
        assert!(after_reads(&h).is_empty(), "{:?}", h.conn.calls());
        assert!(o.diffs.iter().any(|d| d.after.contains("tmpfs /m tmpfs defaults 0 0")), "{:?}", o.diffs);
    }

    #[tokio::test]
    async fn remounted_and_ephemeral_use_the_given_options() {
        let h = host("", point("/m", &[], Some("tmpfs")));
        let o = run::<Mount>(json!({"path": "/m", "state": "remounted", "opts": "size=5m"}), &h.ctx()).await;
        assert!(o.changed);
        assert_eq!(after_reads(&h), ["mount -o remount,size=5m -- /m"]);
        let h = fake(FakeConnection::new().on("P=", 0, &point("/m", &[], Some("tmpfs"))).on("mount", 32, ""));
        let o = run::<Mount>(json!({"path": "/m", "state": "remounted", "opts": "bogus"}), &h.ctx()).await;
        assert!(o.failed && o.msg.unwrap().starts_with("Options were specified with remounted"));
        let h = host("", point("/m", &["/m"], None));
        let a = json!({"path": "/m", "src": "tmpfs", "fstype": "tmpfs", "opts": "size=1m", "state": "ephemeral"});
        assert!(run::<Mount>(a, &h.ctx()).await.changed);
        assert_eq!(after_reads(&h), ["mkdir -p -- /m", "mount -t tmpfs -o size=1m -- tmpfs /m"]);
        let h = host("", point("/m", &[], Some("tmpfs")));
        let a = json!({"path": "/m", "src": "tmpfs", "fstype": "tmpfs", "state": "ephemeral"});
        assert!(run::<Mount>(a, &h.ctx()).await.changed);
        assert_eq!(after_reads(&h), ["mount -o remount -t tmpfs -- tmpfs /m"], "no -o without opts, as Ansible");
        let h = host("", point("/m", &[], Some("other")));
        let a = json!({"path": "/m", "src": "tmpfs", "fstype": "tmpfs", "state": "ephemeral"});
        let o = run::<Mount>(a, &h.ctx()).await;
        assert!(
            o.failed && o.msg.unwrap().starts_with("Ephemeral mount point is already mounted with a different source")
        );
    }

    #[test]
    fn boot_false_appends_noauto_as_ansible_does() {
        let a: Args = args_from_value(&j(
            json!({"path": "/m", "state": "present", "src": "x", "fstype": "ext4", "opts": "noauto,ro", "boot": false}),
        ))
        .unwrap();
        assert_eq!(opts(&a), "noauto,ro,noauto");
        let a: Args = args_from_value(&j(json!({"path": "/m", "state": "absent", "boot": "no"}))).unwrap();
        assert_eq!((opts(&a), result(&a).data["boot"].to_string()), ("defaults,noauto".into(), "no".into()));
    }

    #[test]
    fn arguments_ansible_would_refuse_or_write_broken_are_refused() {
        let e = args(json!({"path": "/m", "state": "mounted"})).unwrap_err();
        assert_eq!(e, "state is mounted but all of the following are missing: src, fstype");
        let e = args(json!({"path": "/m", "state": "present", "fstype": "tmpfs"})).unwrap_err();
        assert_eq!(e, "state is present but all of the following are missing: src");
        assert!(args(json!({"path": "/m", "state": "bogus"})).unwrap_err().contains("unknown variant `bogus`"));
        assert!(args(json!({"path": "/m"})).unwrap_err().contains("missing field `state`"));
        assert!(args(json!({"path": "/m", "state": "absent", "nope": 1})).unwrap_err().contains("unknown field"));
        let base = json!({"path": "/m", "state": "present", "src": "x", "fstype": "ext4"});
        for (k, v) in
            [("path", "/m/t\tb"), ("opts", ""), ("src", "#x"), ("path", "/a#b"), ("dump", "1 2"), ("fstype", "a\nb")]
        {
            let mut a = base.clone();
            a[k] = json!(v);
            assert!(args(a).is_err(), "{k}={v:?} was accepted");
        }
        assert!(args(json!({"name": "/m b", "state": "present", "src": "a b", "fstype": "ext4", "dump": 1})).is_ok());
    }
}
