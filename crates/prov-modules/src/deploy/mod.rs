//! Application deploys: atomic release directories (`release`), data backups (`backup`) and
//! putting a backup back (`restore`).
//!
//! An app root managed by `release` looks like this (Capistrano's layout):
//!
//! ```text
//! <path>/releases/20261126011210/   one directory per deploy, named by its UTC time
//! <path>/shared/                    user data linked into every release (`shared:`)
//! <path>/current -> releases/...    the live release: a relative symlink, replaced atomically
//! <path>/.prov/<release>.json       what prov knows of each release (content hash, previous)
//! <path>/backups/<release>.tar.gz   data saved before that release's hooks ran (`backup:`)
//! ```
//!
//! These modules need GNU coreutils, `tar` and `find` on the target (any Debian or Ubuntu).

mod artifact;
pub mod backup;
mod checks;
pub mod release;
pub mod restore;

use crate::util::probe_failed;
use prov_core::cmd::{Cmd, Sh};
use prov_core::module::{ModuleCtx, ModuleError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What prov records about one release, in `<path>/.prov/<name>.json` (one line of JSON).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ReleaseMeta {
    /// Directory name under `releases/`.
    pub name: String,
    /// Content hash of the artifact and the `shared` list (`sha256:...`).
    pub hash: String,
    /// The user's label for it (`version:`), if any.
    #[serde(default)]
    pub version: Option<String>,
    /// Where it came from (`src`).
    #[serde(default)]
    pub src: String,
    /// Unix time of the deploy.
    #[serde(default)]
    pub created: u64,
    /// The release that was current when this one was deployed.
    #[serde(default)]
    pub previous: Option<String>,
    /// The data backup taken before this release's hooks ran.
    #[serde(default)]
    pub backup: Option<BackupRef>,
    /// Set when a rollback switched away from this release.
    #[serde(default)]
    pub rolled_back: bool,
}

impl ReleaseMeta {
    /// `20261126011210 (v2)` or just the name.
    pub fn label(&self) -> String {
        match &self.version {
            Some(v) => format!("{} ({v})", self.name),
            None => self.name.clone(),
        }
    }
}

/// A backup a release depends on, and how to put it back.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BackupRef {
    /// The archive or dump file.
    pub file: String,
    /// For dumps: the command that reads the dump on stdin.
    #[serde(default)]
    pub restore_command: Option<String>,
}

/// What one deploy-related probe found at an app root.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Root {
    /// The app root.
    pub path: String,
    /// Whether it exists, and what it is.
    pub kind: RootKind,
    /// Where `current` points.
    pub current: Current,
    /// Directories under `releases/`, sorted by name.
    pub releases: Vec<ReleaseDir>,
    /// Records under `.prov/`, by release name.
    pub metas: BTreeMap<String, ReleaseMeta>,
}

/// The app root itself.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum RootKind {
    /// Not there yet.
    #[default]
    Absent,
    /// Something that is not a directory.
    NotDir,
    /// An empty directory.
    Empty,
    /// A directory with content; `releases` says whether it has `releases/`.
    Dir {
        /// `releases/` exists.
        releases: bool,
    },
}

/// The `current` link.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Current {
    /// No `current`.
    #[default]
    None,
    /// A link to `releases/<name>`.
    Release(String),
    /// Something else: a directory, a file, or a link elsewhere (what it is, for messages).
    Other(String),
}

/// One directory under `releases/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseDir {
    /// Its name.
    pub name: String,
    /// It holds a `.keep` file: never pruned.
    pub keep: bool,
}

/// The shell command that reads an app root's state (one round trip).
pub(crate) fn probe_root_command(path: &str) -> Sh {
    Sh::lit("P=").glued(Sh::quoted(path)).then(Sh::lit(
        "\
         if [ -L \"$P\" ] || { [ -e \"$P\" ] && [ ! -d \"$P\" ]; }; then echo kind notdir; exit 0; fi; \
         if [ ! -e \"$P\" ]; then echo kind absent; exit 0; fi; \
         if [ -z \"$(ls -A \"$P\")\" ]; then echo kind empty; exit 0; fi; \
         if [ -d \"$P/releases\" ]; then echo kind releases; else echo kind dir; fi; \
         if [ -L \"$P/current\" ]; then printf 'current %s\\n' \"$(readlink \"$P/current\")\"; \
         elif [ -d \"$P/current\" ]; then echo 'other a directory'; \
         elif [ -e \"$P/current\" ]; then echo 'other a file'; fi; \
         for d in \"$P\"/releases/*/; do [ -d \"$d\" ] || continue; d=${d%/}; \
           if [ -e \"$d/.keep\" ]; then k=1; else k=0; fi; printf 'release %s %s\\n' \"$k\" \"${d##*/}\"; done; \
         for m in \"$P\"/.prov/*.json; do [ -f \"$m\" ] || continue; printf 'meta '; tr -d '\\n' < \"$m\"; echo; done",
    ))
}

/// Parses [`probe_root_command`]'s output.
pub(crate) fn parse_root(path: &str, text: &str) -> Result<Root, String> {
    let mut root = Root { path: path.to_string(), ..Default::default() };
    for line in text.lines() {
        let (key, rest) = line.split_once(' ').unwrap_or((line, ""));
        match key {
            "kind" => {
                root.kind = match rest {
                    "absent" => RootKind::Absent,
                    "notdir" => RootKind::NotDir,
                    "empty" => RootKind::Empty,
                    "releases" => RootKind::Dir { releases: true },
                    "dir" => RootKind::Dir { releases: false },
                    other => return Err(format!("unexpected probe output: kind {other}")),
                }
            }
            "current" => {
                root.current = match rest.strip_prefix("releases/").map(|n| n.trim_end_matches('/')) {
                    Some(n) if !n.is_empty() && !n.contains('/') => Current::Release(n.to_string()),
                    _ => Current::Other(format!("a link to {rest}")),
                }
            }
            "other" => root.current = Current::Other(rest.to_string()),
            "release" => {
                let (k, name) = rest.split_once(' ').ok_or_else(|| format!("unexpected probe output: {line}"))?;
                root.releases.push(ReleaseDir { name: name.to_string(), keep: k == "1" });
            }
            "meta" => {
                // A record that does not parse is treated as missing: its release is not prov's.
                if let Ok(m) = serde_json::from_str::<ReleaseMeta>(rest) {
                    root.metas.insert(m.name.clone(), m);
                }
            }
            _ => return Err(format!("unexpected probe output: {line}")),
        }
    }
    root.releases.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(root)
}

/// Reads an app root's state.
pub(crate) async fn probe_root(cx: &ModuleCtx<'_>, path: &str) -> Result<Root, ModuleError> {
    let out = cx.exec(probe_root_command(path)).await?;
    if out.rc != 0 {
        return Err(probe_failed(&format!("reading the releases under {path}"), &out));
    }
    parse_root(path, &out.stdout_str()).map_err(ModuleError::Failed)
}

impl Root {
    /// Why a deploy may not go into this directory, if it may not.
    pub fn not_deployable(&self) -> Option<String> {
        let p = &self.path;
        match (&self.kind, &self.current) {
            (RootKind::NotDir, _) => Some(format!("{p} is not a release root: it is not a directory")),
            (RootKind::Dir { releases: false }, _) => Some(format!(
                "{p} is not a release root: it has files but no releases/ directory \
                 (point `path` at a new or empty directory, or at one prov deployed to)"
            )),
            (_, Current::Other(what)) => Some(format!(
                "{p} is not a release root: {p}/current is {what}, not a link into releases/ \
                 (move it away, or point `path` at a new directory)"
            )),
            _ => None,
        }
    }

    /// The live release's record.
    pub fn current_meta(&self) -> Option<&ReleaseMeta> {
        match &self.current {
            Current::Release(n) => self.metas.get(n),
            _ => None,
        }
    }

    /// The current release name, if `current` points into `releases/`.
    pub fn current_name(&self) -> Option<&str> {
        match &self.current {
            Current::Release(n) => Some(n),
            _ => None,
        }
    }

    /// Whether a release directory exists.
    pub fn has_release(&self, name: &str) -> bool {
        self.releases.iter().any(|r| r.name == name)
    }

    /// Releases to delete so that `keep` remain, once `current` is live: only directories prov
    /// made (timestamp name and a record), never one with `.keep`, never `current`; releases a
    /// rollback switched away from go first.
    pub fn prune_list(&self, current: &str, keep: usize) -> Vec<String> {
        let mut others: Vec<&ReleaseDir> = self
            .releases
            .iter()
            .filter(|r| r.name != current && !r.keep && is_release_name(&r.name) && self.metas.contains_key(&r.name))
            .collect();
        others.sort_by(|a, b| b.name.cmp(&a.name));
        let mut out = Vec::new();
        let mut kept = 1;
        for r in others {
            let rolled_back = self.metas.get(&r.name).is_some_and(|m| m.rolled_back);
            if !rolled_back && kept < keep {
                kept += 1;
            } else {
                out.push(r.name.clone());
            }
        }
        out.sort();
        out
    }
}

/// Whether a name is one prov gives releases: `YYYYmmddHHMMSS`, maybe with `-N`.
pub(crate) fn is_release_name(name: &str) -> bool {
    let stamp_ok = |s: &str| s.len() == 14 && s.bytes().all(|b| b.is_ascii_digit());
    match name.split_once('-') {
        None => stamp_ok(name),
        Some((stamp, n)) => stamp_ok(stamp) && !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()),
    }
}

/// The shell step that points `current` at `releases/<name>` in one rename.
pub(crate) fn switch_command(path: &str, name: &str) -> Sh {
    let tmp = format!(".current.{name}");
    Cmd::new("cd")
        .operand(path)
        .build()
        .and(Cmd::new("rm").flag("-f").operand(&tmp))
        .and(Cmd::new("ln").flag("-s").operands([format!("releases/{name}"), tmp.clone()]))
        .and(Cmd::new("mv").flag("-T").operands([tmp.as_str(), "current"]))
}

/// `48h`, `2d`, `30m`, `90s` or a number of seconds, as seconds.
pub(crate) fn parse_duration(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let (num, unit) = match s.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => (&s[..i], s[i..].trim()),
        None => (s, "s"),
    };
    let n: u64 = num.parse().map_err(|_| format!("`{s}` is not a duration (use 30m, 48h, 7d)"))?;
    let mult = match unit {
        "s" => 1,
        "m" | "min" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return Err(format!("`{s}` is not a duration: unknown unit `{unit}` (use s, m, h, d, w)")),
    };
    Ok(n * mult)
}

/// Seconds since the epoch, on the controller.
pub(crate) fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// A Unix time as `YYYYmmddHHMMSS` (UTC): the name of a release or a backup.
pub(crate) fn stamp(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}{m:02}{d:02}{:02}{:02}{:02}", rem / 3600, (rem / 60) % 60, rem % 60)
}

/// A fresh name from `stamp(now)` that `taken` does not hold yet (`-1`, `-2`, ... appended).
pub(crate) fn fresh_name(secs: u64, taken: impl Fn(&str) -> bool) -> String {
    let base = stamp(secs);
    let mut name = base.clone();
    let mut i = 1;
    while taken(&name) {
        name = format!("{base}-{i}");
        i += 1;
    }
    name
}

/// Checks a path inside a release (`shared:` entries): relative, no `..`.
pub(crate) fn check_relative(what: &str, p: &str) -> Result<(), String> {
    if p.is_empty() || p.starts_with('/') || p.split('/').any(|c| c == ".." || c == ".") {
        return Err(format!("{what} `{p}` must be a relative path inside the release, without `.` or `..`"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(name: &str, rolled_back: bool) -> String {
        let m = ReleaseMeta { name: name.into(), hash: "sha256:x".into(), rolled_back, ..Default::default() };
        format!("meta {}\n", serde_json::to_string(&m).unwrap())
    }

    #[test]
    fn parses_a_root_and_prunes() {
        let mut text = String::from("kind releases\ncurrent releases/20260101000004\n");
        for (k, n) in [
            (0, "20260101000001"),
            (0, "20260101000002"),
            (1, "20260101000003"),
            (0, "20260101000004"),
            (0, "20260101000005"),
            (0, "good-one"),
        ] {
            text.push_str(&format!("release {k} {n}\n"));
        }
        for (n, rb) in [
            ("20260101000001", false),
            ("20260101000002", false),
            ("20260101000003", false),
            ("20260101000004", false),
            ("20260101000005", true),
        ] {
            text.push_str(&meta(n, rb));
        }
        let root = parse_root("/srv/app", &text).unwrap();
        assert_eq!(root.current_name(), Some("20260101000004"));
        assert!(root.not_deployable().is_none());
        // keep 2: current + the newest other that was not rolled back; .keep and renamed stay.
        assert_eq!(root.prune_list("20260101000004", 2), vec!["20260101000001", "20260101000005"]);
        assert_eq!(root.prune_list("20260101000004", 3), vec!["20260101000005"]);
        assert_eq!(root.prune_list("20260101000004", 1), vec!["20260101000001", "20260101000002", "20260101000005"]);
    }

    #[test]
    fn roots_that_are_not_release_roots() {
        let r = parse_root("/srv/app", "kind dir\n").unwrap();
        assert!(r.not_deployable().unwrap().contains("no releases/ directory"), "{r:?}");
        let r = parse_root("/srv/app", "kind releases\nother a directory\n").unwrap();
        assert!(r.not_deployable().unwrap().contains("current is a directory"));
        let r = parse_root("/srv/app", "kind releases\ncurrent /elsewhere\n").unwrap();
        assert!(r.not_deployable().unwrap().contains("a link to /elsewhere"));
        let r = parse_root("/srv/app", "kind notdir\n").unwrap();
        assert!(r.not_deployable().unwrap().contains("not a directory"));
        assert!(parse_root("/srv/app", "kind absent\n").unwrap().not_deployable().is_none());
        assert!(parse_root("/x", "bogus\n").is_err());
    }

    #[test]
    fn names_and_durations() {
        assert!(is_release_name("20261126011210"));
        assert!(is_release_name("20261126011210-2"));
        assert!(!is_release_name("20261126011210-"));
        assert!(!is_release_name("2026112601121"));
        assert!(!is_release_name("v2"));
        assert_eq!(parse_duration("48h"), Ok(172_800));
        assert_eq!(parse_duration("2d"), Ok(172_800));
        assert_eq!(parse_duration("90"), Ok(90));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("3y").unwrap_err().contains("unknown unit"));
        assert_eq!(stamp(0), "19700101000000");
        assert_eq!(stamp(1_795_655_530), "20261126011210");
        assert_eq!(stamp(951_782_400), "20000229000000");
        assert_eq!(fresh_name(0, |n| n == "19700101000000" || n == "19700101000000-1"), "19700101000000-2");
        assert!(check_relative("shared", "storage/logs").is_ok());
        assert!(check_relative("shared", "../etc").is_err());
        assert!(check_relative("shared", "/etc").is_err());
    }
}
