//! The listing of a searched directory (one `find` command, `stat` per entry) and its walk in
//! `os.walk`'s order, with what Ansible returns per match.

use super::{Args, Criteria};
use crate::util::octal;
use indexmap::IndexMap;
use minijinja::Value;
use std::collections::HashMap;

/// One entry of a searched tree, as the listing command reports it (`lstat`).
#[derive(Debug, Clone)]
pub(super) struct Entry {
    /// The path below the searched directory (`a/b`).
    pub(super) rel: String,
    pub(super) raw: u32,
    pub(super) uid: u32,
    pub(super) gid: u32,
    pub(super) size: u64,
    pub(super) atime: f64,
    pub(super) mtime: f64,
    pub(super) ctime: f64,
    pub(super) inode: u64,
    pub(super) dev: u64,
    pub(super) nlink: u64,
    pub(super) owner: String,
    pub(super) group: String,
    /// A directory, or a link to one (where `os.walk` lists it).
    pub(super) walk_dir: bool,
}

impl Entry {
    pub(super) fn kind(&self) -> u32 {
        self.raw & 0o170000
    }
    pub(super) fn is_dir(&self) -> bool {
        self.kind() == 0o040000
    }
    pub(super) fn is_reg(&self) -> bool {
        self.kind() == 0o100000
    }
    pub(super) fn is_link(&self) -> bool {
        self.kind() == 0o120000
    }
    pub(super) fn name(&self) -> &str {
        self.rel.rsplit('/').next().unwrap_or(&self.rel)
    }
    pub(super) fn depth(&self) -> usize {
        self.rel.split('/').count()
    }
    pub(super) fn parent(&self) -> &str {
        self.rel.rsplit_once('/').map_or("", |p| p.0)
    }
}

/// The listing script, run by `find -exec sh -c SCRIPT sh {} +`: one line per entry.
/// Names with a line break are left out: they would break the lines.
pub(super) const LIST: &str = "'nl=$(printf \"\\nx\"); nl=${nl%x}; \
    for f do case $f in *\"$nl\"*) continue;; esac; d=0; [ -d \"$f\" ] && d=1; \
    s=$(stat -c \"%f %u %g %s %.9X %.9Y %.9Z %i %d %h %U %G\" -- \"$f\") || continue; \
    printf \"e %s %s %s\\n\" \"$s\" \"$d\" \"$f\"; done'";

/// Parses a seconds value with its fraction as Python's `st_mtime` holds it.
pub(super) fn seconds(s: &str) -> Option<f64> {
    let (sec, frac) = s.split_once('.').unwrap_or((s, "0"));
    let ns: u64 = format!("{frac:0<9}").get(..9)?.parse().ok()?;
    Some(sec.parse::<i64>().ok()? as f64 + ns as f64 * 1e-9)
}

/// Parses the listing: the target's time first, then one `e` line per entry.
pub(super) fn parse_listing(text: &str) -> Result<(f64, Vec<Entry>), String> {
    let mut lines = text.lines();
    let now = lines.next().and_then(|l| l.trim().parse::<f64>().ok()).ok_or("no time from `date`")?;
    let mut out = Vec::new();
    for line in lines {
        let Some(rest) = line.strip_prefix("e ") else { continue };
        let f: Vec<&str> = rest.splitn(14, ' ').collect();
        let bad = || format!("unexpected listing line: {line}");
        if f.len() < 14 {
            return Err(bad());
        }
        let n = |i: usize| f[i].parse::<u64>().map_err(|_| bad());
        let t = |i: usize| seconds(f[i]).ok_or_else(bad);
        let name = |s: &str| if s == "UNKNOWN" { String::new() } else { s.to_string() };
        let rel = f[13].strip_prefix("./").unwrap_or(f[13]).to_string();
        out.push(Entry {
            rel,
            raw: u32::from_str_radix(f[0], 16).map_err(|_| bad())?,
            uid: n(1)? as u32,
            gid: n(2)? as u32,
            size: n(3)?,
            atime: t(4)?,
            mtime: t(5)?,
            ctime: t(6)?,
            inode: n(7)?,
            dev: n(8)?,
            nlink: n(9)?,
            owner: name(f[10]),
            group: name(f[11]),
            walk_dir: f[12] == "1",
        });
    }
    Ok((now, out))
}

/// `os.path.normpath` of a joined path.
pub(super) fn normpath(p: &str) -> String {
    let abs = p.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." if parts.last().is_some_and(|l| *l != "..") => {
                parts.pop();
            }
            ".." if abs => {}
            c => parts.push(c),
        }
    }
    let body = parts.join("/");
    match (abs, body.is_empty()) {
        (true, _) => format!("/{body}"),
        (false, true) => ".".into(),
        (false, false) => body,
    }
}

/// What Ansible returns for one match.
pub(super) fn stat_info(path: &str, e: &Entry) -> IndexMap<String, Value> {
    let m = e.raw;
    let bit = |b: u32| Value::from(m & b != 0);
    let mut d = IndexMap::new();
    d.insert("path".into(), Value::from(path));
    d.insert("mode".into(), Value::from(octal(m & 0o7777)));
    let kind = e.kind();
    for (k, v) in [
        ("isdir", 0o040000),
        ("ischr", 0o020000),
        ("isblk", 0o060000),
        ("isreg", 0o100000),
        ("isfifo", 0o010000),
        ("islnk", 0o120000),
        ("issock", 0o140000),
    ] {
        d.insert(k.into(), Value::from(kind == v));
    }
    d.insert("uid".into(), Value::from(e.uid));
    d.insert("gid".into(), Value::from(e.gid));
    d.insert("size".into(), Value::from(e.size));
    d.insert("inode".into(), Value::from(e.inode));
    d.insert("dev".into(), Value::from(e.dev));
    d.insert("nlink".into(), Value::from(e.nlink));
    d.insert("atime".into(), Value::from(e.atime));
    d.insert("mtime".into(), Value::from(e.mtime));
    d.insert("ctime".into(), Value::from(e.ctime));
    d.insert("gr_name".into(), Value::from(e.group.as_str()));
    d.insert("pw_name".into(), Value::from(e.owner.as_str()));
    for &(k, b) in crate::files::MODE_BITS {
        d.insert(k.into(), bit(b));
    }
    d
}

/// The result of walking one path.
#[derive(Default)]
pub(super) struct Walk {
    /// Matches (before `contains`): the path and the entry.
    pub(super) found: Vec<(String, Entry)>,
    /// Entries looked at.
    pub(super) examined: u64,
    /// The limit was reached.
    pub(super) limited: bool,
}

/// Walks a listing as `os.walk` (top-down, a directory's files then its subdirectories) and
/// picks what matches everything but `contains` and the checksum.
#[allow(clippy::too_many_arguments)]
pub(super) fn walk(
    a: &Args,
    c: &Criteria,
    top: &str,
    now: f64,
    entries: &[Entry],
    limit: Option<usize>,
    have: usize,
    content_ok: &dyn Fn(&str) -> bool,
) -> Walk {
    let mut children: HashMap<&str, Vec<&Entry>> = HashMap::new();
    for e in entries {
        children.entry(e.parent()).or_default().push(e);
    }
    let mut w = Walk::default();
    let mut stack: Vec<&str> = vec![""];
    let max_depth = a.depth.filter(|d| *d != 0);
    while let Some(dir) = stack.pop() {
        let kids = children.get(dir).cloned().unwrap_or_default();
        w.examined += kids.len() as u64;
        let (dirs, files): (Vec<&Entry>, Vec<&Entry>) = kids.into_iter().partition(|e| e.walk_dir);
        let mut descend = dirs.clone();
        for e in files.iter().chain(dirs.iter()) {
            if max_depth.is_some_and(|d| e.depth() as i64 > d) {
                descend.clear();
                continue;
            }
            if e.name().starts_with('.') && !a.hidden {
                continue;
            }
            let path = normpath(&format!("{top}/{}", e.rel));
            let base = c.name(e.name()) && c.age(e, now, &a.age_stamp) && c.mode(e, a.exact_mode);
            let hit = match a.file_type.as_str() {
                "any" => base && (!e.is_reg() || c.size(e)),
                "directory" => e.is_dir() && base,
                "link" => e.is_link() && base,
                _ => e.is_reg() && base && c.size(e) && content_ok(&path),
            };
            if hit {
                w.found.push((path, (*e).clone()));
            }
            if limit == Some(have + w.found.len()) {
                w.limited = true;
                return w;
            }
        }
        if !a.recurse {
            break;
        }
        for d in descend.iter().rev() {
            if a.follow || !d.is_link() {
                stack.push(&d.rel);
            }
        }
    }
    w
}

pub(super) fn contents(out: &[u8], n: usize) -> Vec<Option<Vec<u8>>> {
    let mut res = Vec::with_capacity(n);
    let mut at = 0;
    while res.len() < n && at < out.len() {
        let end = out[at..].iter().position(|b| *b == b'\n').map_or(out.len(), |i| at + i);
        let len: i64 = String::from_utf8_lossy(&out[at..end]).trim().parse().unwrap_or(-1);
        at = (end + 1).min(out.len());
        if len < 0 {
            res.push(None);
            continue;
        }
        let stop = (at + len as usize).min(out.len());
        res.push(Some(out[at..stop].to_vec()));
        at = stop;
    }
    res.resize(n, None);
    res
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;
    use prov_core::module::args_from_value;
    use serde_json::json;

    fn args(v: serde_json::Value) -> Args {
        args_from_value(&j(v)).expect("arguments")
    }

    #[test]
    fn paths_and_times_read_as_python_reads_them() {
        assert_eq!(normpath("/a//b/./c/../d/"), "/a/b/d");
        assert_eq!(normpath("x/../.."), "..");
        assert_eq!(seconds("1796296920.896136189"), Some(1796296920.8961363), "the float Python's st_mtime holds");
        assert_eq!(seconds("1577836800.000000000"), Some(1577836800.0));
    }

    /// A listing line: raw mode, whether `os.walk` lists it as a directory, the path.
    fn line(raw: &str, dir: u8, rel: &str) -> String {
        format!("e {raw} 0 0 5 1.5 1.5 1.5 7 8 1 root root {dir} ./{rel}\n")
    }

    #[test]
    fn a_listing_is_walked_as_os_walk_walks_it() {
        let mut text = String::from("100.0\n");
        for (raw, dir, rel) in [
            ("41ed", 1, "sub"),
            ("81a4", 0, "a b.txt"),
            ("a1ff", 1, "sublink"),
            ("41ed", 1, ".hid"),
            ("81a4", 0, ".hid/x.txt"),
            ("81a4", 0, "sub/y.txt"),
            ("41ed", 1, "sub/deep"),
            ("81a4", 0, "sub/deep/z.txt"),
        ] {
            text.push_str(&line(raw, dir, rel));
        }
        let (now, entries) = parse_listing(&text).unwrap();
        assert_eq!((now, entries.len(), entries[1].rel.as_str()), (100.0, 8, "a b.txt"));
        let paths = |v: serde_json::Value| {
            let a = args(v);
            let w = walk(&a, &Criteria::new(&a).unwrap(), "/t/", now, &entries, None, 0, &|_| true);
            (w.found.into_iter().map(|f| f.0).collect::<Vec<_>>(), w.examined)
        };
        assert_eq!(paths(json!({"paths": "/t"})), (vec!["/t/a b.txt".to_string()], 4));
        let (all, examined) = paths(json!({"paths": "/t", "recurse": true, "file_type": "any"}));
        assert_eq!(
            all,
            ["/t/a b.txt", "/t/sub", "/t/sublink", "/t/sub/y.txt", "/t/sub/deep", "/t/sub/deep/z.txt", "/t/.hid/x.txt"]
        );
        assert_eq!(examined, 8, "a link to a directory is not entered");
        let (_, examined) = paths(json!({"paths": "/t", "recurse": true, "depth": 1}));
        assert_eq!(examined, 7, "the entries one level deeper are counted, as Ansible counts them");
        let (found, _) = paths(json!({"paths": "/t", "recurse": true, "patterns": ["[xz].*"], "use_regex": true}));
        assert_eq!(found, ["/t/sub/deep/z.txt", "/t/.hid/x.txt"], "hidden directories are searched");
        let a = args(json!({"paths": "/t", "recurse": true, "file_type": "any"}));
        let w = walk(&a, &Criteria::new(&a).unwrap(), "/t", now, &entries, Some(2), 1, &|_| true);
        assert_eq!((w.found.len(), w.limited), (1, true), "the limit counts earlier paths' matches");
        assert!(parse_listing("100\ne 81a4 0 0\n").is_err());
    }

    #[test]
    fn contents_are_split_by_their_lengths() {
        let c = contents(b"3\na\nb-1\n0\n", 3);
        assert_eq!(c, vec![Some(b"a\nb".to_vec()), None, Some(Vec::new())]);
        assert_eq!(contents(b"", 2), vec![None, None]);
    }
}
