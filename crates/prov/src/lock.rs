//! The run lock: a run that changes hosts (`apply`, `rollback`, `run`, `scale`) holds an
//! exclusive lock on each project it works on, so that two runs never change the same project
//! at once from this machine.
//!
//! A project is a provider project named by the inventory (`project:` of a `plugin: docker`,
//! `gcp` or `aws` source; its lock is `STATE_DIR/<project>/run.lock`, beside the project's
//! known_hosts), or, for an inventory without one, the inventory itself (the lock is
//! `STATE_DIR/.inventories/<its path, flattened>.lock`). The lock is the kernel's `flock` on
//! that file: it goes away with the process that holds it, however that process ends, so a
//! dead holder never blocks anyone. The file names its holder (pid, user, host, command, start
//! time) for the message a second run prints; a holder that ends normally empties it, so a
//! name left in it means its holder died, and the next run says it takes over.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Locks held for a run; dropping it releases them (and empties the holder's name).
#[derive(Debug)]
pub struct RunLock {
    files: Vec<File>,
}

impl Drop for RunLock {
    fn drop(&mut self) {
        for f in &self.files {
            let _ = f.set_len(0);
            let _ = f.unlock();
        }
    }
}

/// What the lock of one project is: its name in messages and its file.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct LockTarget {
    /// `project prov-local` or `inventory /path/hosts.ini`.
    pub what: String,
    /// The lock file.
    pub path: PathBuf,
}

/// The lock targets of a run over these provider projects and inventory sources.
pub fn targets(projects: &[String], inventory_paths: &[String]) -> Vec<LockTarget> {
    let mut out: Vec<LockTarget> = projects
        .iter()
        .map(|p| LockTarget {
            what: format!("project {p}"),
            path: prov_providers::state::project_dir(p).join("run.lock"),
        })
        .collect();
    if out.is_empty() {
        for i in inventory_paths {
            // A `host1,host2,` list is an inventory of its own, named by its text.
            let name = if i.contains(',') {
                i.clone()
            } else {
                std::fs::canonicalize(i).map(|p| p.to_string_lossy().into_owned()).unwrap_or_else(|_| i.clone())
            };
            let file: String =
                name.chars().map(|c| if c.is_ascii_alphanumeric() || "-_.".contains(c) { c } else { '_' }).collect();
            out.push(LockTarget {
                what: format!("inventory {name}"),
                path: prov_providers::state::project_dir(".inventories").join(format!("{file}.lock")),
            });
        }
    }
    out.sort();
    out.dedup();
    out
}

/// Takes every lock, in a fixed order (so that two runs never hold one each and wait for the
/// other), waiting up to `timeout` for each. Returns the locks and notes to print (a dead
/// holder's lock taken over), or why the run may not start.
pub fn acquire(targets: &[LockTarget], timeout: Duration) -> Result<(RunLock, Vec<String>), String> {
    let mut lock = RunLock { files: Vec::new() };
    let mut notes = Vec::new();
    let me = holder_line();
    for t in targets {
        let mut f = open(&t.path).map_err(|e| format!("cannot open the run lock {}: {e}", t.path.display()))?;
        let start = Instant::now();
        loop {
            match f.try_lock() {
                Ok(()) => break,
                Err(TryLockError::WouldBlock) => {
                    if start.elapsed() >= timeout {
                        let holder = read_holder(&mut f);
                        let waited = if timeout.is_zero() {
                            String::new()
                        } else {
                            format!(" (waited {} s, --lock-timeout)", timeout.as_secs())
                        };
                        return Err(format!(
                            "{} is locked by another run{waited}: {}",
                            t.what,
                            describe(holder.as_deref()).unwrap_or_else(|| "its holder has not named itself yet".into())
                        ));
                    }
                    std::thread::sleep(Duration::from_millis(200));
                }
                Err(TryLockError::Error(e)) => {
                    return Err(format!("cannot lock {}: {e}", t.path.display()));
                }
            }
        }
        if let Some(dead) = read_holder(&mut f).filter(|h| !h.trim().is_empty()) {
            notes.push(format!(
                "{}: taking over the lock of a run that ended without releasing it ({})",
                t.what,
                describe(Some(&dead)).unwrap_or(dead)
            ));
        }
        let named = f.set_len(0).and_then(|()| f.seek(SeekFrom::Start(0))).and_then(|_| f.write_all(me.as_bytes()));
        if let Err(e) = named {
            return Err(format!("cannot write the run lock {}: {e}", t.path.display()));
        }
        lock.files.push(f);
    }
    Ok((lock, notes))
}

fn open(path: &Path) -> std::io::Result<File> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    OpenOptions::new().read(true).write(true).create(true).truncate(false).open(path)
}

fn read_holder(f: &mut File) -> Option<String> {
    let mut s = String::new();
    f.seek(SeekFrom::Start(0)).ok()?;
    f.take(4096).read_to_string(&mut s).ok()?;
    Some(s)
}

/// `pid=… user=… host=… since=<unix seconds> cmd=…` of this process.
fn holder_line() -> String {
    let user = std::env::var("USER").unwrap_or_else(|_| "?".into());
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").map(|h| h.trim().to_string()).unwrap_or_default();
    let since = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let cmd: Vec<String> = std::env::args().collect();
    format!("pid={} user={user} host={host} since={since} cmd={}\n", std::process::id(), cmd.join(" "))
}

/// "pid 4242 (root@ci-runner, `prov apply site.yml`) since 2026-12-02 12:40:01 UTC, 35 s ago".
fn describe(holder: Option<&str>) -> Option<String> {
    let h = holder?.trim();
    if h.is_empty() {
        return None;
    }
    let field = |k: &str| {
        h.split_once(&format!("{k}=")).map(|(_, rest)| {
            if k == "cmd" {
                rest.to_string()
            } else {
                rest.split_whitespace().next().unwrap_or_default().to_string()
            }
        })
    };
    let since: u64 = field("since")?.parse().ok()?;
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(since);
    Some(format!(
        "pid {} ({}@{}, `{}`) since {}, {} s ago",
        field("pid")?,
        field("user").unwrap_or_default(),
        field("host").unwrap_or_default(),
        field("cmd").unwrap_or_default(),
        utc(since),
        now.saturating_sub(since)
    ))
}

/// Unix seconds as `YYYY-MM-DD HH:MM:SS UTC`.
fn utc(secs: u64) -> String {
    i64::try_from(secs)
        .ok()
        .and_then(|s| chrono::DateTime::from_timestamp(s, 0))
        .map(|d| d.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_else(|| format!("{secs} s after the epoch"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_formats_known_instants() {
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(951_782_400), "2000-02-29 00:00:00 UTC");
        assert_eq!(utc(1_796_215_201), "2026-12-02 12:40:01 UTC");
    }

    #[test]
    fn a_second_lock_of_the_same_file_is_refused_with_its_holder_and_released_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let t = vec![LockTarget { what: "project p".into(), path: dir.path().join("p/run.lock") }];
        let (held, notes) = acquire(&t, Duration::ZERO).unwrap();
        assert!(notes.is_empty(), "{notes:?}");
        let err = acquire(&t, Duration::ZERO).unwrap_err();
        assert!(err.starts_with("project p is locked by another run: pid "), "{err}");
        assert!(err.contains(&format!("pid {} (", std::process::id())), "{err}");
        drop(held);
        let (_again, notes) = acquire(&t, Duration::ZERO).unwrap();
        assert!(notes.is_empty(), "a released lock is not a dead holder's: {notes:?}");
    }

    #[test]
    fn a_lock_left_named_by_a_dead_holder_is_taken_over_with_a_note() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run.lock");
        std::fs::write(&path, "pid=999999 user=ci host=runner since=1796215201 cmd=prov apply site.yml\n").unwrap();
        let t = vec![LockTarget { what: "project p".into(), path }];
        let (_held, notes) = acquire(&t, Duration::ZERO).unwrap();
        assert_eq!(notes.len(), 1);
        assert!(
            notes[0].contains("taking over") && notes[0].contains("pid 999999 (ci@runner, `prov apply site.yml`)"),
            "{}",
            notes[0]
        );
    }
}
