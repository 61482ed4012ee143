//! `fetch`: copies a file from the target to the controller, into a tree organized by host.
//!
//! Arguments (as in Ansible):
//! - `src` (required): the file on the target (not a directory).
//! - `dest` (required): a directory on the controller; the file goes to
//!   `DEST/INVENTORY_HOSTNAME/SRC` (`/backup` + `/etc/profile` on `web1` gives
//!   `/backup/web1/etc/profile`). A relative `dest` is taken from the playbook's directory.
//! - `flat` (default false): write to `dest` itself, or to `dest/BASENAME_OF_SRC` when `dest`
//!   ends with `/`.
//! - `fail_on_missing` (default true): a missing, unreadable or directory `src` fails the task;
//!   with false it only says so.
//! - `validate_checksum` (default true): check the fetched bytes against the target's sha1.
//!
//! One command reads the target's sha1 (`sha1sum`); the file is transferred only when the
//! controller's copy differs, and written there atomically. As in Ansible, it is skipped in
//! check mode. Registers `dest`, `checksum` (sha1), `md5sum`, and when it fetched,
//! `remote_checksum` and `remote_md5sum` (always null, as in Ansible); `file` (the source)
//! when it did not. `..` in `dest` and `src` is resolved as text, as in Ansible; a result outside
//! `dest` (outside `dest/HOST` without `flat`) is refused, and so is a host name that is not one
//! plain directory name (`/tmp/evil`, `..`).
//!
//! ```yaml
//! - fetch:
//!     src: /etc/ssh/ssh_host_ed25519_key.pub
//!     dest: keys/
//! - fetch: { src: /var/lib/app/join-token, dest: "tokens/{{ inventory_hostname }}.token", flat: true }
//! ```

use super::{md5_hex, sha1_hex};
use crate::util::probe_failed;
use async_trait::async_trait;
use minijinja::Value;
use prov_core::args::lenient_bool;
use prov_core::cmd::Sh;
use prov_core::module::{Action, Change, Module, ModuleCtx, ModuleError, Outcome, Plan};
use serde::Deserialize;
use std::path::{Component, Path, PathBuf};

fn yes() -> bool {
    true
}

/// Arguments of `fetch`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    /// The file on the target.
    pub src: String,
    /// Where on the controller.
    pub dest: String,
    /// `dest` is the file (or its directory, with a trailing `/`).
    #[serde(default, deserialize_with = "lenient_bool")]
    pub flat: bool,
    /// Fail when `src` cannot be read.
    #[serde(default = "yes", deserialize_with = "lenient_bool")]
    pub fail_on_missing: bool,
    /// Check the fetched bytes' checksum.
    #[serde(default = "yes", deserialize_with = "lenient_bool")]
    pub validate_checksum: bool,
}

/// The `fetch` module.
#[derive(Debug, Default)]
pub struct Fetch;

/// What `apply` needs: where the file goes and the target's checksum.
pub struct FetchPlan {
    dest: PathBuf,
    remote_sum: String,
}

/// The target's verdict on `src`: its sha1, or why there is none.
fn probe_command(src: &str) -> Sh {
    Sh::lit("P=").glued(Sh::quoted(src)).then(Sh::lit(
        "if [ -d \"$P\" ]; then echo dir; elif [ ! -e \"$P\" ]; then echo absent; \
         elif [ ! -r \"$P\" ]; then echo unreadable; else h=$(sha1sum < \"$P\") || exit 1; echo \"sum ${h%% *}\"; fi",
    ))
}

/// Resolves `.` and `..` as text, as Python's `os.path.normpath` does for an absolute path
/// (`/a/./b/../c` → `/a/c`; `..` at the root stays at the root). Symlinks are not followed.
fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            c => out.push(c),
        }
    }
    out
}

/// The inventory host name as exactly one directory name: a name that is empty, `.`, `..` or
/// has a `/` in it would put the file outside the host's directory, or outside `dest`.
fn host_dir(host: &str) -> Result<&str, String> {
    if host.is_empty() || host == "." || host == ".." || host.contains('/') || host.contains('\0') {
        return Err(format!(
            "the inventory host name `{host}` cannot be used as a directory name under dest (it is empty, `.`, `..` or has a `/` in it); use flat: true with a dest of your own"
        ));
    }
    Ok(host)
}

/// Where the file goes on the controller. As in Ansible, `dest`, the host name and `src` are
/// joined as text and `..` is resolved as text; unlike Ansible 2.19 (whose containment check
/// compares `dest` with itself), a result outside `dest` (outside `dest/HOST` without `flat`)
/// is refused, naming the argument that climbs out.
fn destination(args: &Args, host: &str, base: &Path) -> Result<PathBuf, String> {
    // `~` and `$VAR` name the controller's files, as Ansible's loader reads them.
    let top = normalize(&base.join(prov_core::paths::expand_local(&args.dest)));
    let leaves = |d: &Path, within: &Path| {
        format!("src `{}` leaves {} once `..` is resolved: it would write {}", args.src, within.display(), d.display())
    };
    if args.flat {
        if args.dest.ends_with('/') {
            let name = Path::new(&args.src).file_name().ok_or_else(|| leaves(&top, &top))?;
            let d = normalize(&top.join(name));
            if !d.starts_with(&top) || d == top {
                return Err(leaves(&d, &top));
            }
            if d.is_dir() {
                return Err(format!(
                    "calculated dest '{}' is an existing directory, use another path that does not point to an existing directory",
                    d.display()
                ));
            }
            return Ok(d);
        }
        if top.is_dir() {
            return Err(
                "dest is an existing directory, use a trailing slash if you want to fetch src into that directory"
                    .into(),
            );
        }
        return Ok(top);
    }
    let within = top.join(host_dir(host)?);
    let d = normalize(&within.join(args.src.trim_start_matches('/')));
    if !d.starts_with(&within) || d == within {
        return Err(leaves(&d, &within));
    }
    Ok(d)
}

/// The directory relative destinations are taken from: the playbook's (the last of the task's
/// search directories), else the current directory; made absolute, as Ansible reports `dest`.
fn base_dir(cx: &ModuleCtx<'_>) -> PathBuf {
    let base = cx.files.search_path("files").pop().filter(|b| !b.as_os_str().is_empty());
    let base = base.unwrap_or_else(|| PathBuf::from("."));
    std::path::absolute(&base).unwrap_or(base)
}

#[async_trait]
impl Module for Fetch {
    const NAME: &'static str = "fetch";
    const PATH_ARGS: &'static [&'static str] = &["src"];
    type Args = Args;
    type Plan = FetchPlan;

    fn check_args(args: &Args) -> Result<(), String> {
        if args.src.is_empty() || args.dest.is_empty() {
            return Err("src and dest are required".into());
        }
        Ok(())
    }

    async fn plan(&self, args: &Args, cx: &ModuleCtx<'_>) -> Result<Plan<FetchPlan>, ModuleError> {
        if cx.is_check() {
            // As Ansible's: fetch does not run in check mode.
            let o = Outcome {
                skipped: true,
                msg: Some("check mode not (yet) supported for this module".into()),
                ..Outcome::ok()
            };
            return Ok(Plan::Ok(o));
        }
        let src = args.src.as_str();
        let out = cx.exec(probe_command(src)).await?;
        if out.rc != 0 {
            return Err(probe_failed(&format!("reading the checksum of {src}"), &out));
        }
        let text = out.stdout_str();
        let verdict = text.lines().next().unwrap_or_default();
        let why = match verdict {
            "dir" => Some("remote file is a directory, fetch cannot work on directories".to_string()),
            "absent" => Some("the remote file does not exist, not transferring, ignored".to_string()),
            "unreadable" => Some(format!("File is not readable: {src}")),
            v if v.starts_with("sum ") => None,
            _ => return Err(ModuleError::Failed(format!("unexpected answer reading {src}: {}", text.trim()))),
        };
        if let Some(msg) = why {
            let o = if args.fail_on_missing {
                Outcome::failed(msg)
            } else if verdict == "dir" {
                Outcome { msg: Some(format!("{msg}, not transferring, ignored")), ..Outcome::ok() }
            } else {
                Outcome { msg: Some(msg), ..Outcome::ok() }.with("file", src)
            };
            return Ok(Plan::Ok(o));
        }
        let remote_sum = verdict.trim_start_matches("sum ").to_string();
        let dest = destination(args, cx.host, &base_dir(cx)).map_err(ModuleError::Failed)?;
        let local = match std::fs::read(&dest) {
            Ok(d) => Some(d),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(ModuleError::Failed(format!("reading {}: {e}", dest.display()))),
        };
        if let Some(d) = local.as_deref().filter(|d| sha1_hex(d) == remote_sum) {
            let o = Outcome::ok()
                .with("checksum", sha1_hex(d))
                .with("dest", dest.display().to_string())
                .with("file", src)
                .with("md5sum", md5_hex(d));
            return Ok(Plan::Ok(o));
        }
        let action = if local.is_some() { Action::Modify } else { Action::Create };
        Ok(Plan::Change(Change::new(
            FetchPlan { dest: dest.clone(), remote_sum },
            action,
            "file",
            dest.display().to_string(),
        )))
    }

    async fn apply(&self, args: &Args, p: FetchPlan, cx: &ModuleCtx<'_>) -> Result<Outcome, ModuleError> {
        let Some(data) = cx.get(&args.src).await? else {
            return Ok(Outcome::failed("the remote file does not exist, not transferring, ignored"));
        };
        let sum = sha1_hex(&data);
        let dest = p.dest.display().to_string();
        let fields = |o: Outcome| {
            o.with("checksum", sum.as_str())
                .with("dest", dest.as_str())
                .with("md5sum", md5_hex(&data))
                .with("remote_checksum", p.remote_sum.as_str())
                .with("remote_md5sum", Value::from(()))
        };
        if args.validate_checksum && sum != p.remote_sum {
            return Ok(fields(Outcome::failed("checksum mismatch")).with("file", args.src.as_str()));
        }
        if let Err(e) = write_atomically(&p.dest, &data) {
            return Ok(Outcome::failed(format!("Failed to fetch the file: {}: {e}", p.dest.display())));
        }
        Ok(fields(Outcome { changed: true, ..Outcome::ok() }))
    }
}

/// Writes `data` to a fresh temporary file beside `dest` (created exclusively, so it is this
/// task's own and no symlink is followed), then renames it over `dest`.
fn write_atomically(dest: &Path, data: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::PermissionsExt;
    let dir = dest.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    // 0666 less the umask, as a plain `open` gives Ansible (tempfile's default is 0600).
    let mode = std::fs::Permissions::from_mode(0o666);
    let mut tmp = tempfile::Builder::new().permissions(mode).tempfile_in(dir)?;
    tmp.write_all(data)?;
    tmp.persist(dest).map_err(|e| e.error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;
    use prov_core::module::{args_from_value, CheckMode};
    use prov_core::testutil::FakeConnection;
    use serde_json::json;

    fn args(v: serde_json::Value) -> Args {
        args_from_value(&j(v)).unwrap()
    }

    // Destinations and result fields as ansible-core 2.19 gave them for the same arguments
    // (`-c local`, host `localhost`).
    #[test]
    fn fetch_destinations_follow_ansible() {
        let base = Path::new("/pb");
        let d = |v| destination(&args(v), "web1", base);
        assert_eq!(
            d(json!({"src": "/etc/profile", "dest": "/backup"})).unwrap(),
            PathBuf::from("/backup/web1/etc/profile")
        );
        assert_eq!(
            d(json!({"src": "/etc/profile", "dest": "out"})).unwrap(),
            PathBuf::from("/pb/out/web1/etc/profile")
        );
        assert_eq!(d(json!({"src": "/a/b.txt", "dest": "/f/", "flat": true})).unwrap(), PathBuf::from("/f/b.txt"));
        assert_eq!(d(json!({"src": "/a/b.txt", "dest": "/f2", "flat": true})).unwrap(), PathBuf::from("/f2"));
        assert!(d(json!({"src": "/a", "dest": "/tmp", "flat": true})).unwrap_err().contains("trailing slash"));
    }

    // `..` is resolved as text, as ansible-core 2.19 did (`-c local`, playbook in /tmp/fx/pb):
    // `dest: ../out` gave /tmp/fx/out/localhost/tmp/fx/x/f, `dest: "{{ playbook_dir }}/../keys/"`
    // with flat gave /tmp/fx/keys/f, `src: /tmp/fx/x/../x/f` gave DEST/localhost/tmp/fx/x/f.
    #[test]
    fn fetch_resolves_dot_dot_in_dest_and_src_as_ansible_does() {
        let base = Path::new("/tmp/fx/pb");
        let d = |v| destination(&args(v), "localhost", base);
        assert_eq!(
            d(json!({"src": "/tmp/fx/x/f", "dest": "../out"})).unwrap(),
            PathBuf::from("/tmp/fx/out/localhost/tmp/fx/x/f")
        );
        assert_eq!(
            d(json!({"src": "/tmp/fx/x/f", "dest": "/tmp/fx/pb/../keys/", "flat": true})).unwrap(),
            PathBuf::from("/tmp/fx/keys/f")
        );
        assert_eq!(
            d(json!({"src": "/tmp/fx/x/../x/f", "dest": "/tmp/fx/o3"})).unwrap(),
            PathBuf::from("/tmp/fx/o3/localhost/tmp/fx/x/f")
        );
        assert_eq!(d(json!({"src": "/x/f", "dest": "../k", "flat": true})).unwrap(), PathBuf::from("/tmp/fx/k"));
    }

    // ansible-core 2.19 wrote `src: /../../tmp/fx/x/f` with `dest: /tmp/fx/o4` to
    // /tmp/fx/tmp/fx/x/f, outside dest (its containment check compares dest with itself);
    // prov refuses and names `src`.
    #[test]
    fn fetch_refuses_a_src_that_climbs_out_of_dest() {
        let d = |v| destination(&args(v), "web1", Path::new("/pb"));
        let e = d(json!({"src": "/../../etc/x", "dest": "/backup"})).unwrap_err();
        assert!(e.starts_with("src `/../../etc/x` leaves /backup/web1"), "{e}");
        let e = d(json!({"src": "/../web2/etc/x", "dest": "/backup"})).unwrap_err();
        assert!(e.contains("src `/../web2/etc/x` leaves /backup/web1"), "{e}");
        assert!(d(json!({"src": "/a/..", "dest": "/f/", "flat": true})).unwrap_err().starts_with("src `/a/..`"));
    }

    // ansible-core 2.19 joins the host name as text (`/tmp/evil` lands in DEST/tmp/evil/...);
    // a host name that is not one plain directory name is refused, so no host writes outside
    // its own directory under dest.
    #[test]
    fn fetch_refuses_a_host_name_that_is_not_one_directory_name() {
        let a = args(json!({"src": "/etc/x", "dest": "/backup"}));
        for host in ["/tmp/evil", "..", ".", "", "a/b", "a/../.."] {
            let e = destination(&a, host, Path::new("/pb")).unwrap_err();
            assert!(e.contains(&format!("inventory host name `{host}`")), "{host}: {e}");
        }
        assert_eq!(
            destination(&a, "web-1.example", Path::new("/pb")).unwrap(),
            PathBuf::from("/backup/web-1.example/etc/x")
        );
    }

    // Two hosts fetching into one flat dest at once used to share `.NAME.prov-fetch.PID`, and a
    // symlink planted at that name was followed.
    #[test]
    fn fetch_writes_through_a_private_temporary_file() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        let victim = d.path().join("victim");
        std::fs::write(&victim, "keep").unwrap();
        let dest = d.path().join("f");
        std::os::unix::fs::symlink(&victim, d.path().join(format!(".f.prov-fetch.{}", std::process::id()))).unwrap();
        write_atomically(&dest, b"new").unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep");
        assert_eq!(std::fs::read_to_string(&dest).unwrap(), "new");
        let mode = std::fs::metadata(&dest).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode & 0o044, 0o044, "readable by group and others as with Ansible's umask 022: {mode:o}");
        let names: Vec<_> = std::fs::read_dir(d.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names.len(), 3, "no temporary file left behind: {names:?}");
    }

    #[tokio::test]
    async fn fetch_copies_once_into_the_host_tree() {
        let h = LocalHost::new();
        let src = h.path("src/a.txt");
        std::fs::create_dir_all(h.path("src")).unwrap();
        std::fs::write(&src, "abc\n").unwrap();
        let out = h.path("out");
        let a = json!({"src": src, "dest": out});
        let o = run::<Fetch>(a.clone(), &h.ctx()).await;
        assert!(o.changed && !o.failed, "{o:?}");
        let dest = format!("{out}/test{src}");
        assert_eq!(std::fs::read_to_string(&dest).unwrap(), "abc\n");
        assert_eq!(o.data["dest"], Value::from(dest.as_str()));
        assert_eq!(o.data["checksum"], Value::from("03cfd743661f07975fa2f1220c5194cbaff48451"));
        assert_eq!(o.data["remote_checksum"], Value::from("03cfd743661f07975fa2f1220c5194cbaff48451"));
        assert_eq!(o.data["md5sum"], Value::from("0bee89b07a248e27c83fc3d5951213c1"));
        assert!(o.data["remote_md5sum"].is_none());
        let o = run::<Fetch>(a, &h.ctx()).await;
        assert!(!o.changed && !o.failed, "{o:?}");
        assert_eq!(o.data["file"], Value::from(src.as_str()));
        assert_eq!(o.data["md5sum"], Value::from("0bee89b07a248e27c83fc3d5951213c1"));
    }

    #[tokio::test]
    async fn fetch_reports_missing_sources_as_ansible_does() {
        let h = LocalHost::new();
        let o = run::<Fetch>(json!({"src": h.path("nope"), "dest": h.path("out")}), &h.ctx()).await;
        assert!(o.failed);
        assert_eq!(o.msg.as_deref(), Some("the remote file does not exist, not transferring, ignored"));
        let o = run::<Fetch>(json!({"src": h.path("nope"), "dest": h.path("out"), "fail_on_missing": false}), &h.ctx())
            .await;
        assert!(!o.failed && !o.changed);
        assert_eq!(o.data["file"], Value::from(h.path("nope")));
        let o = run::<Fetch>(json!({"src": h.dir.path(), "dest": h.path("out")}), &h.ctx()).await;
        assert_eq!(o.msg.as_deref(), Some("remote file is a directory, fetch cannot work on directories"));
        assert!(!h.dir.path().join("out").exists());
    }

    #[tokio::test]
    async fn fetch_is_skipped_in_check_mode_and_validates_checksums() {
        let mut h = LocalHost::new();
        h.mode.check = CheckMode::Check;
        let o = run::<Fetch>(json!({"src": "/etc/hostname", "dest": h.path("out")}), &h.ctx()).await;
        assert!(o.skipped && !o.changed);
        assert!(h.conn.log.lock().unwrap().is_empty(), "nothing read in check mode");
        let f = fake(FakeConnection::new().on("P=", 0, "sum 0000\n").with_file("/x", "abc\n"));
        let out = h.path("out");
        let o = run::<Fetch>(json!({"src": "/x", "dest": out}), &f.ctx()).await;
        assert!(o.failed);
        assert_eq!(o.msg.as_deref(), Some("checksum mismatch"));
        assert!(!Path::new(&out).join("test/x").exists());
    }
}
