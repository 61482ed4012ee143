//! `find`: lists the files, directories or links under directories that match criteria; never
//! changes anything (ansible.builtin.find).
//!
//! Arguments (as in ansible-core 2.19):
//! - `paths` (aliases `name`, `path`, required): directories to search (a list, or one string
//!   with commas between paths).
//! - `patterns` (alias `pattern`): shell globs (or, with `use_regex`, regular expressions that
//!   must match the whole name from its start) one of which the base name must match; default
//!   all. `excludes` (alias `exclude`): patterns of names to leave out.
//! - `file_type`: `file` (default), `directory`, `link` or `any`.
//! - `recurse` (default false), `depth` (levels below each path, default unlimited), `hidden`
//!   (default false: names starting with `.` are not returned, but hidden directories are
//!   searched), `follow` (default false: descend into symbolic links to directories).
//! - `contains`: a regular expression (Python's syntax) the content of a regular file must
//!   match at the start of a line (anywhere with `read_whole_file: true`).
//! - `age` (`2d`, `-1h`, `30`: seconds, minutes, hours, days or weeks; negative: at most that
//!   old), `age_stamp` (`mtime`, the default, `atime` or `ctime`), `size` (`10m`, `-1k`: bytes,
//!   k, m, g or t; negative: at most; not applied to directories).
//! - `mode` (octal or symbolic) with `exact_mode` (default true; false: any of the bits).
//! - `get_checksum` (default false) with `checksum_algorithm` (aliases `checksum`,
//!   `checksum_algo`; `sha1`, the default, md5, sha224, sha256, sha384, sha512).
//! - `limit`: stop searching a path after that many matches in all (as Ansible, a later path
//!   whose first entry matches is searched whole, past the limit).
//!
//! Registers `files` (one dictionary per match, as Ansible: `path`, `mode` (`"0644"`), `isdir`,
//! `isreg`, `islnk`, `ischr`, `isblk`, `isfifo`, `issock`, `uid`, `gid`, `pw_name`, `gr_name`,
//! `size`, `inode`, `dev`, `nlink`, `atime`, `mtime`, `ctime` (seconds, with their fraction),
//! `rusr` ... `xoth`, `isuid`, `isgid`, and `checksum` with `get_checksum`), `matched`,
//! `examined` (the entries looked at, as Ansible counts them), `skipped_paths` (path: why) and
//! `msg`. Files come in Ansible's order: a directory's files, then its subdirectories, each
//! then searched in turn. One `find` command per path lists everything (GNU `stat` gives the
//! details); `contains` reads the candidate files in one more command, `get_checksum` hashes
//! the matches in one more.
//!
//! Differences from Ansible: `patterns` with `use_regex` are Rust's `regex` syntax (no
//! look-around or backreferences); a file that is not UTF-8 does not match `contains` (Ansible skips the whole
//! path); a path of `paths` that is not a directory gives ansible-core's warning, an unreadable
//! directory below one gives none (only `msg` and `skipped_paths` say so); `encoding`
//! is not supported; names containing a line break are left out (and not counted in
//! `examined`); the target needs GNU `find`, `stat` and `date` (`%N`), not BusyBox's.
//!
//! ```yaml
//! - find: { paths: /var/log, patterns: "*.gz", age: 2w, recurse: true }
//!   register: old_logs
//! - file: { path: "{{ item.path }}", state: absent }
//!   loop: "{{ old_logs.files }}"
//! - ansible.builtin.find:
//!     paths: [/etc/nginx/sites-enabled]
//!     file_type: link
//!     contains: "^\\s*listen 443"
//! ```

use crate::util::probe_failed;
use async_trait::async_trait;
use indexmap::IndexMap;
use listing::{contents, parse_listing, stat_info, walk, Entry, LIST};
use minijinja::Value;
use prov_core::args::{lenient_bool, parse_mode, StringList};
use prov_core::cmd::{Cmd, Sh, Word, WordKind};
use prov_core::module::{Module, ModuleCtx, ModuleError, Outcome, Plan};

mod listing;
use regex::Regex;
use serde::Deserialize;

fn sha1() -> String {
    "sha1".into()
}
fn file() -> String {
    "file".into()
}
fn mtime() -> String {
    "mtime".into()
}
fn yes() -> bool {
    true
}

/// Arguments of `find`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    /// Directories to search.
    #[serde(alias = "name", alias = "path")]
    pub paths: StringList,
    /// Names to match.
    #[serde(default, alias = "pattern")]
    pub patterns: Option<StringList>,
    /// Names to leave out.
    #[serde(default, alias = "exclude")]
    pub excludes: Option<StringList>,
    /// A regular expression the content must match.
    #[serde(default)]
    pub contains: Option<String>,
    /// Search the whole content instead of line starts.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub read_whole_file: bool,
    /// `file`, `directory`, `link` or `any`.
    #[serde(default = "file")]
    pub file_type: String,
    /// Minimum (negative: maximum) age.
    #[serde(default, deserialize_with = "crate::util::stringish")]
    pub age: Option<String>,
    /// `atime`, `ctime` or `mtime`.
    #[serde(default = "mtime")]
    pub age_stamp: String,
    /// Minimum (negative: maximum) size.
    #[serde(default, deserialize_with = "crate::util::stringish")]
    pub size: Option<String>,
    /// Search subdirectories.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub recurse: bool,
    /// Return hidden names.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub hidden: bool,
    /// Descend into links to directories.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub follow: bool,
    /// Checksum the matching regular files.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub get_checksum: bool,
    /// The checksum's algorithm.
    #[serde(default = "sha1", alias = "checksum", alias = "checksum_algo")]
    pub checksum_algorithm: String,
    /// Patterns are regular expressions.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub use_regex: bool,
    /// Levels to descend.
    #[serde(default)]
    pub depth: Option<i64>,
    /// Permissions to match.
    #[serde(default, deserialize_with = "crate::util::stringish")]
    pub mode: Option<String>,
    /// Match `mode` exactly.
    #[serde(default = "yes", deserialize_with = "lenient_bool")]
    pub exact_mode: bool,
    /// Maximum number of matches.
    #[serde(default)]
    pub limit: Option<i64>,
}

/// The `find` module.
#[derive(Debug, Default)]
pub struct Find;

/// A number with an optional unit letter (`2d`, `-10m`), in base units.
fn with_unit(s: &str, units: &[(char, i64)]) -> Option<i64> {
    let t = s.to_lowercase();
    let (num, mult) = match t.chars().last() {
        Some(c) if c.is_ascii_alphabetic() => (&t[..t.len() - 1], units.iter().find(|u| u.0 == c)?.1),
        _ => (t.as_str(), 1),
    };
    let digits = num.strip_prefix('-').unwrap_or(num);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    num.parse::<i64>().ok()?.checked_mul(mult)
}

const AGE_UNITS: &[(char, i64)] = &[('s', 1), ('m', 60), ('h', 3600), ('d', 86400), ('w', 604800)];
const SIZE_UNITS: &[(char, i64)] = &[('b', 1), ('k', 1 << 10), ('m', 1 << 20), ('g', 1 << 30), ('t', 1 << 40)];

/// A shell glob as `fnmatch` reads it, as an anchored regular expression.
fn glob_regex(glob: &str) -> String {
    let mut out = String::from("^(?s:");
    let chars: Vec<char> = glob.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '*' => out.push_str(".*"),
            '?' => out.push('.'),
            '[' => {
                let mut j = i + 1;
                if chars.get(j) == Some(&'!') {
                    j += 1;
                }
                if chars.get(j) == Some(&']') {
                    j += 1;
                }
                while j < chars.len() && chars[j] != ']' {
                    j += 1;
                }
                if j >= chars.len() {
                    out.push_str(r"\[");
                } else {
                    let body: String = chars[i + 1..j].iter().collect();
                    let body = body.replace('\\', r"\\").replace('[', r"\[");
                    let body = match body.strip_prefix('!') {
                        Some(rest) => format!("^{rest}"),
                        None if body.starts_with('^') => format!(r"\{body}"),
                        None => body,
                    };
                    out.push_str(&format!("[{body}]"));
                    i = j;
                }
            }
            c => out.push_str(&regex::escape(&c.to_string())),
        }
        i += 1;
    }
    out.push_str(")$");
    out
}

/// Patterns compiled: globs as `fnmatch`, regular expressions matched from the name's start.
fn compile(patterns: &[String], use_regex: bool) -> Result<Vec<Regex>, String> {
    patterns
        .iter()
        .map(|p| {
            let re = if use_regex { format!("^(?:{p})") } else { glob_regex(p) };
            Regex::new(&re).map_err(|e| format!("invalid pattern {p:?}: {e}"))
        })
        .collect()
}

/// The criteria, checked and compiled.
struct Criteria {
    patterns: Vec<Regex>,
    excludes: Vec<Regex>,
    /// Python's syntax and `$` (see [`super::compile_pattern`]).
    contains: Option<fancy_regex::Regex>,
    age: Option<i64>,
    size: Option<i64>,
    mode: Option<u32>,
}

impl Criteria {
    fn new(a: &Args) -> Result<Criteria, String> {
        let mut patterns = a.patterns.as_ref().map(|p| p.0.clone()).unwrap_or_default();
        if patterns.is_empty() {
            patterns.push(if a.use_regex { ".*" } else { "*" }.into());
        }
        let excludes = a.excludes.as_ref().map(|p| p.0.clone()).unwrap_or_default();
        let contains = match &a.contains {
            None => None,
            Some(c) => {
                let re = if a.read_whole_file { c.clone() } else { format!("^(?:{c})") };
                Some(super::compile_pattern("contains", &re)?)
            }
        };
        let age = match &a.age {
            None => None,
            Some(s) => Some(with_unit(s, AGE_UNITS).ok_or("failed to process age")?),
        };
        let size = match &a.size {
            None => None,
            Some(s) => Some(with_unit(s, SIZE_UNITS).ok_or("failed to process size")?),
        };
        let mode = match a.mode.as_deref().filter(|m| !m.is_empty()) {
            None => None,
            // ansible-core's find applies a symbolic mode to a mode of 0.
            Some(m) => Some(
                parse_mode(m)
                    .or_else(|| {
                        serde_json::from_value::<prov_core::args::Mode>(serde_json::Value::from(m))
                            .ok()
                            .map(|md| md.resolve(0, false, 0o022))
                    })
                    .ok_or_else(|| format!("{m:?} is not a valid mode"))?
                    & 0o7777,
            ),
        };
        Ok(Criteria {
            patterns: compile(&patterns, a.use_regex)?,
            excludes: compile(&excludes, a.use_regex)?,
            contains,
            age,
            size,
            mode,
        })
    }

    fn name(&self, name: &str) -> bool {
        self.patterns.iter().any(|p| p.is_match(name)) && !self.excludes.iter().any(|e| e.is_match(name))
    }

    fn age(&self, e: &Entry, now: f64, stamp: &str) -> bool {
        let t = match stamp {
            "atime" => e.atime,
            "ctime" => e.ctime,
            _ => e.mtime,
        };
        match self.age {
            None => true,
            Some(a) if a >= 0 => now - t >= a as f64,
            Some(a) => now - t <= a.unsigned_abs() as f64,
        }
    }

    fn size(&self, e: &Entry) -> bool {
        match self.size {
            None => true,
            Some(s) if s >= 0 => e.size >= s as u64,
            Some(s) => e.size <= s.unsigned_abs(),
        }
    }

    fn mode(&self, e: &Entry, exact: bool) -> bool {
        match self.mode {
            None => true,
            Some(m) if exact => e.raw & 0o7777 == m,
            Some(m) => e.raw & m != 0,
        }
    }
}

/// Reads the content of regular files in one command: a length line, then the bytes, per file.
const READ: &str = "'shift; for f do n=$(wc -c < \"$f\") || n=-1; printf \"%s\\n\" $n; \
    [ \"$n\" -ge 0 ] && cat < \"$f\"; done'";

/// Hashes regular files in one command, one line per file (empty when unreadable).
const HASH: &str = "'a=$1; shift 2; for f do h=$(\"${a}sum\" < \"$f\") || h=; printf \"%s\\n\" \"${h%% *}\"; done'";

/// The directories `find` could not read, from its messages (`find: './x': Permission
/// denied`), as Ansible reports them in `skipped_paths`.
/// ansible-core's warning for a path of `paths` that is not a directory.
fn not_a_directory(top: &str) -> String {
    format!("Skipped '{top}' path due to this access issue: '{top}' is not a directory\n")
}

fn unreadable(top: &str, stderr: &str) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for line in stderr.lines() {
        if let Some((p, why)) = line.strip_prefix("find: '").and_then(|l| l.split_once("': ")) {
            let p = listing::normpath(&format!("{top}/{p}"));
            let errno = if why.contains("Permission denied") { "[Errno 13] " } else { "" };
            let msg = format!("{errno}{why}: '{p}'");
            out.push((p, Value::from(msg)));
        }
    }
    out
}

#[async_trait]
impl Module for Find {
    const NAME: &'static str = "find";
    const LIST_PATH_ARGS: &'static [&'static str] = &["paths", "name", "path"];
    type Args = Args;
    type Plan = ();

    fn check_args(a: &Args) -> Result<(), String> {
        if !["any", "directory", "file", "link"].contains(&a.file_type.as_str()) {
            return Err(format!("file_type must be one of any, directory, file, link, not {}", a.file_type));
        }
        if !["atime", "ctime", "mtime"].contains(&a.age_stamp.as_str()) {
            return Err(format!("age_stamp must be one of atime, ctime, mtime, not {}", a.age_stamp));
        }
        if !super::ALGORITHMS.contains(&a.checksum_algorithm.as_str()) {
            return Err(format!(
                "checksum_algorithm must be one of {}, not {}",
                super::ALGORITHMS.join(", "),
                a.checksum_algorithm
            ));
        }
        if let Some(l) = a.limit.filter(|l| *l <= 0) {
            return Err(format!("limit cannot be {l} (use None for unlimited)"));
        }
        if a.paths.0.is_empty() {
            return Err("`paths` is empty".into());
        }
        Criteria::new(a).map(|_| ())
    }

    async fn plan(&self, a: &Args, cx: &ModuleCtx<'_>) -> Result<Plan<()>, ModuleError> {
        let c = Criteria::new(a).map_err(ModuleError::Args)?;
        let limit = a.limit.map(|l| l as usize);
        let mut found: Vec<(String, Entry)> = Vec::new();
        let mut examined = 0;
        let mut skipped: IndexMap<String, Value> = IndexMap::new();
        let mut msg = "All paths examined";
        let mut warnings = Vec::new();
        for top in &a.paths.0 {
            if top.is_empty() {
                // `paths: ""` (or an empty part of a comma-separated string): ansible-core's
                // os.path.isdir('') is false, so the path is skipped with a warning.
                skipped.insert(String::new(), Value::from("'' is not a directory"));
                warnings.push(not_a_directory(top));
                continue;
            }
            let dir = Word::new(WordKind::Path, top)?;
            // The C locale: `find`'s messages quote with `'` (read below), not `‘’`.
            let mut f = Cmd::new("LC_ALL=C find");
            if a.follow {
                f = f.flag("-L");
            }
            f = f.flag(".").flag("-mindepth").flag("1");
            let max = match (a.recurse, a.depth.filter(|d| *d > 0)) {
                (false, _) => Some(1),
                (true, Some(d)) => Some(d + 1),
                (true, None) => None,
            };
            if let Some(m) = max {
                f = f.opt("-maxdepth", m.to_string());
            }
            f = f.flag("-exec").flag("sh").flag("-c").flag(LIST).flag("sh").flag("{}").flag("+");
            let test = Sh::lit("[ -d").word(&dir).suffix(" ]");
            let cd = Sh::lit("cd").word(&dir);
            let cmd = Sh::lit("if").word(test).suffix("; then").word(cd.and(Sh::lit("date +%s.%N")).and(f.build()));
            let cmd = cmd.suffix("; else echo notdir; fi");
            let out = cx.exec(cmd).await?;
            if out.stdout_str().trim() == "notdir" {
                skipped.insert(top.clone(), Value::from(format!("'{top}' is not a directory")));
                warnings.push(not_a_directory(top));
                continue;
            }
            skipped.extend(unreadable(top, &out.stderr_str()));
            if out.rc != 0 && out.stdout.is_empty() {
                return Err(probe_failed(&format!("listing {top}"), &out));
            }
            let (now, entries) =
                parse_listing(&out.stdout_str()).map_err(|e| ModuleError::Failed(format!("{top}: {e}")))?;
            let mut w = walk(a, &c, top, now, &entries, limit, found.len(), &|_| true);
            if let (Some(re), "file") = (&c.contains, a.file_type.as_str()) {
                // The candidates' contents in one command, then the walk again with them (for
                // `limit` and `examined`).
                let paths: Vec<&str> = w.found.iter().map(|f| f.0.as_str()).collect();
                let hits: Vec<String> = if paths.is_empty() {
                    Vec::new()
                } else {
                    let all = walk(a, &c, top, now, &entries, None, 0, &|_| true);
                    let paths: Vec<&str> = all.found.iter().map(|f| f.0.as_str()).collect();
                    let cmd = Cmd::new("sh").flag("-c").flag(READ).flag("sh").operands(&paths).build();
                    let out = cx.exec(cmd).await?;
                    let texts = contents(&out.stdout, paths.len());
                    let mut hits = Vec::new();
                    for (p, t) in paths.iter().zip(&texts) {
                        let Some(t) = t.as_deref().and_then(|t| std::str::from_utf8(t).ok()) else { continue };
                        let matches = |s: &str| {
                            re.is_match(s).map_err(|e| ModuleError::Failed(format!("{p}: {}", super::gave_up(e))))
                        };
                        let hit = if a.read_whole_file {
                            matches(t)?
                        } else {
                            let mut any = false;
                            for l in t.split_inclusive('\n') {
                                if matches(l)? {
                                    any = true;
                                    break;
                                }
                            }
                            any
                        };
                        if hit {
                            hits.push(p.to_string());
                        }
                    }
                    hits
                };
                w = walk(a, &c, top, now, &entries, limit, found.len(), &|p| hits.iter().any(|h| h == p));
            }
            examined += w.examined;
            found.append(&mut w.found);
            // The next paths are searched still, as Ansible does: one whose first entry matches
            // goes past the limit and is searched whole, one whose first entry does not match
            // stops there.
            if w.limited {
                msg = "Limit of matches reached";
            }
        }
        if !warnings.is_empty() {
            msg = "Not all paths examined, check warnings for details";
        }
        let mut files: Vec<IndexMap<String, Value>> = found.iter().map(|(p, e)| stat_info(p, e)).collect();
        if a.get_checksum {
            let idx: Vec<usize> = (0..found.len()).filter(|&i| found[i].1.is_reg()).collect();
            if !idx.is_empty() {
                let algo = super::ALGORITHMS.iter().copied().find(|x| *x == a.checksum_algorithm).unwrap_or("sha1");
                let paths: Vec<&str> = idx.iter().map(|&i| found[i].0.as_str()).collect();
                let cmd = Cmd::new("sh").flag("-c").flag(HASH).flag("sh").flag(algo).operands(paths).build();
                let out = cx.exec(cmd).await?;
                let text = out.stdout_str();
                for (&i, sum) in idx.iter().zip(text.lines()) {
                    files[i].insert("checksum".into(), Value::from(sum));
                }
            }
        }
        let matched = files.len();
        let files: Vec<Value> = files.into_iter().map(Value::from_pairs).collect();
        let mut o = Outcome { msg: Some(msg.into()), ..Outcome::ok() };
        o = o
            .with("files", files)
            .with("matched", matched)
            .with("examined", examined)
            .with("skipped_paths", Value::from_pairs(skipped));
        for w in warnings {
            o = o.warn(w);
        }
        Ok(Plan::Ok(o))
    }

    async fn apply(&self, _: &Args, _: (), _: &ModuleCtx<'_>) -> Result<Outcome, ModuleError> {
        Ok(Outcome::ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;
    use prov_core::module::args_from_value;
    use serde_json::json;

    #[test]
    fn globs_match_as_fnmatch_does() {
        let m = |g: &str, n: &str| Regex::new(&glob_regex(g)).unwrap().is_match(n);
        assert!(m("*.txt", "a.txt") && !m("*.txt", "a.txt.gz") && m("*", ".hidden"));
        assert!(m("a?c", "abc") && !m("a?c", "ac"));
        assert!(m("[!a]*", "b") && !m("[!a]*", "a") && m("[]]", "]") && m("[", "["));
        assert!(m("a.b", "a.b") && !m("a.b", "axb"), "`.` is literal");
        assert!(m("x*", "x\ny"), "`*` crosses line breaks");
    }

    #[test]
    fn units_paths_and_times_read_as_ansible_reads_them() {
        assert_eq!(with_unit("2d", AGE_UNITS), Some(172800));
        assert_eq!(with_unit("-1W", AGE_UNITS), Some(-604800));
        assert_eq!(with_unit("10m", SIZE_UNITS), Some(10 << 20));
        assert_eq!(with_unit("30", SIZE_UNITS), Some(30));
        assert_eq!(with_unit("1x", AGE_UNITS), None);
        assert_eq!(with_unit("1.5d", AGE_UNITS), None);
    }

    #[test]
    fn unreadable_directories_are_reported_as_ansible_reports_them() {
        let got = unreadable("/srv/t/", "find: './locked': Permission denied\nsomething else\n");
        let want = Value::from("[Errno 13] Permission denied: '/srv/t/locked'");
        assert_eq!(got, vec![("/srv/t/locked".to_string(), want)]);
    }

    #[test]
    fn arguments_ansible_refuses_are_refused() {
        let check = |v: serde_json::Value| args_from_value::<Args>(&j(v)).and_then(|a| Find::check_args(&a));
        assert!(check(json!({"paths": "/t", "file_type": "socket"})).unwrap_err().contains("file_type"));
        assert!(check(json!({"paths": "/t", "age": "2y"})).unwrap_err().contains("age"));
        assert!(check(json!({"paths": "/t", "size": "big"})).unwrap_err().contains("size"));
        assert!(check(json!({"paths": "/t", "limit": 0})).unwrap_err().contains("limit"));
        assert!(check(json!({"paths": "/t", "checksum": "crc"})).unwrap_err().contains("checksum_algorithm"));
        assert!(check(json!({"name": "/t", "pattern": "*.log", "exclude": "a*", "checksum_algo": "md5"})).is_ok());
        assert!(check(json!({"paths": "/t", "encoding": "utf-8"})).unwrap_err().contains("unknown field"));
    }

    #[tokio::test]
    async fn find_on_a_local_tree_reports_matches_and_changes_nothing() {
        let h = LocalHost::new();
        std::fs::create_dir_all(h.path("t/-x")).unwrap();
        std::fs::write(h.path("t/-x/f.conf"), "listen 80\n").unwrap();
        std::fs::write(h.path("t/g.conf"), "listen 443\n").unwrap();
        std::fs::write(h.path("t/two\nlines.conf"), "listen 443\n").unwrap();
        let a = json!({"paths": h.path("t"), "recurse": true, "contains": "listen 4", "get_checksum": true});
        let o = run::<Find>(a, &h.ctx()).await;
        assert!(!o.changed && !o.failed, "{o:?}");
        assert_eq!(o.data["matched"].as_usize(), Some(1));
        let f = o.data["files"].get_item_by_index(0).unwrap();
        assert_eq!(f.get_attr("path").unwrap().as_str(), Some(h.path("t/g.conf").as_str()));
        assert_eq!(f.get_attr("checksum").unwrap().as_str(), Some("9daf854b3d78ebb50544eba5cf0cd1aefa039b12"));
        let o = run::<Find>(json!({"paths": h.path("t")}), &h.ctx()).await;
        let names: Vec<String> =
            o.data["files"].try_iter().unwrap().map(|f| f.get_attr("path").unwrap().to_string()).collect();
        assert_eq!(names, [h.path("t/g.conf")], "a name with a line break is left out");
        let o = run::<Find>(json!({"paths": h.path("t/-x"), "patterns": "*.conf"}), &h.ctx()).await;
        assert_eq!(o.data["matched"].as_usize(), Some(1), "a directory named `-x`: {o:?}");
    }

    /// `contains` is Python's: with `read_whole_file`, `c$` matches "abc\n" and "abc", not
    /// "abcx\n" (ansible-core 2.19.14 found a and b); prov's `$` wanted the very end.
    #[tokio::test]
    async fn contains_reads_a_dollar_as_python() {
        let h = LocalHost::new();
        std::fs::create_dir_all(h.path("t")).unwrap();
        for (n, body) in [("a", "abc\n"), ("b", "abc"), ("c", "abcx\n")] {
            std::fs::write(h.path(&format!("t/{n}")), body).unwrap();
        }
        let o = run::<Find>(json!({"paths": h.path("t"), "contains": "c$", "read_whole_file": true}), &h.ctx()).await;
        let mut names: Vec<String> =
            o.data["files"].try_iter().unwrap().map(|f| f.get_attr("path").unwrap().to_string()).collect();
        names.sort();
        assert_eq!(names, [h.path("t/a"), h.path("t/b")], "{o:?}");
    }
}
