//! Python's `glob.glob`, which the `fileglob` filter and lookup use, and the `fileglob` filter.
//!
//! Matches come in the order the directory lists them (`readdir`, as `os.scandir`), not
//! sorted, because that is the order Ansible returns; `*` and `?` do not match a leading `.`
//! unless the pattern's own part starts with one; `[...]`/`[!...]` are character classes.

use super::add_filter;
use super::{a_type, fail};
use minijinja::value::{Value, ValueKind};
use minijinja::{Environment, Error};
use std::path::Path;

pub fn register(env: &mut Environment<'static>) {
    add_filter(env, "fileglob", fileglob_filter);
    add_filter(env, "ansible.builtin.fileglob", fileglob_filter);
}

/// `fileglob`: the regular files matching a pattern (relative to the current directory).
fn fileglob_filter(value: &Value) -> Result<Value, Error> {
    let Some(pattern) = value.as_str().filter(|_| value.kind() == ValueKind::String) else {
        return Err(fail(format!("fileglob expects a string pattern, got {}", a_type(value))));
    };
    Ok(Value::from(files_matching(pattern)?))
}

/// The regular files (after symbolic links) that `glob.glob(pattern)` lists.
pub(crate) fn files_matching(pattern: &str) -> Result<Vec<String>, Error> {
    Ok(glob(pattern)?.into_iter().filter(|p| Path::new(p).is_file()).collect())
}

fn has_magic(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

/// `os.path.split`: the head keeps no trailing slashes unless it is all slashes.
fn split(p: &str) -> (&str, &str) {
    let i = p.rfind('/').map_or(0, |i| i + 1);
    let (head, tail) = p.split_at(i);
    let trimmed = head.trim_end_matches('/');
    (if trimmed.is_empty() { head } else { trimmed }, tail)
}

fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() || dir.ends_with('/') {
        format!("{dir}{name}")
    } else {
        format!("{dir}/{name}")
    }
}

/// `glob.glob(pattern)` (not recursive: `**` is `*`).
pub(crate) fn glob(pattern: &str) -> Result<Vec<String>, Error> {
    iglob(pattern, false)
}

fn iglob(pattern: &str, dironly: bool) -> Result<Vec<String>, Error> {
    let (dirname, basename) = split(pattern);
    if !has_magic(pattern) {
        let exists =
            if basename.is_empty() { Path::new(dirname).is_dir() } else { std::fs::symlink_metadata(pattern).is_ok() };
        return Ok(if exists { vec![pattern.to_string()] } else { Vec::new() });
    }
    if dirname.is_empty() {
        return glob1(".", basename, dironly);
    }
    let dirs = if dirname != pattern && has_magic(dirname) { iglob(dirname, true)? } else { vec![dirname.to_string()] };
    let mut out = Vec::new();
    for d in dirs {
        let names = if has_magic(basename) {
            glob1(&d, basename, dironly)?
        } else {
            let exists = if basename.is_empty() {
                Path::new(&d).is_dir()
            } else {
                std::fs::symlink_metadata(join(&d, basename)).is_ok()
            };
            if exists {
                vec![basename.to_string()]
            } else {
                Vec::new()
            }
        };
        out.extend(names.into_iter().map(|n| join(&d, &n)));
    }
    Ok(out)
}

/// The names in `dir` matching `pattern`, in directory order.
fn glob1(dir: &str, pattern: &str, dironly: bool) -> Result<Vec<String>, Error> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Ok(Vec::new()) };
    let re = translate(pattern)?;
    let mut out = Vec::new();
    for e in entries.flatten() {
        let Ok(name) = e.file_name().into_string() else { continue };
        if name.starts_with('.') && !pattern.starts_with('.') {
            continue;
        }
        if dironly && !e.path().is_dir() {
            continue;
        }
        if re.is_match(&name) {
            out.push(name);
        }
    }
    Ok(out)
}

/// `fnmatch.translate` as a regex that must match the whole name.
fn translate(pat: &str) -> Result<regex::Regex, Error> {
    let chars: Vec<char> = pat.chars().collect();
    let mut re = String::from("(?s)^");
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        match c {
            '*' => {
                while chars.get(i) == Some(&'*') {
                    i += 1;
                }
                re.push_str(".*");
            }
            '?' => re.push('.'),
            '[' => {
                let mut j = i;
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
                    re.push_str("\\[");
                    continue;
                }
                let mut stuff: Vec<char> = chars[i..j].to_vec();
                i = j + 1;
                let negate = stuff.first() == Some(&'!');
                if negate {
                    stuff.remove(0);
                }
                if stuff.is_empty() {
                    // `[!]`-like classes match nothing / any char in Python.
                    re.push_str(if negate { "." } else { "[^\\s\\S]" });
                    continue;
                }
                re.push('[');
                if negate {
                    re.push('^');
                }
                for (k, ch) in stuff.iter().enumerate() {
                    let range_dash = *ch == '-' && k > 0 && k + 1 < stuff.len();
                    if range_dash {
                        re.push('-');
                    } else {
                        if matches!(ch, '\\' | '[' | ']' | '^' | '-' | '&' | '~') {
                            re.push('\\');
                        }
                        re.push(*ch);
                    }
                }
                re.push(']');
            }
            c => re.push_str(&regex::escape(&c.to_string())),
        }
    }
    re.push('$');
    regex::Regex::new(&re).map_err(|e| fail(format!("fileglob: cannot use the pattern {pat:?}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree() -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("prov-glob-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        for f in ["a.conf", "b.conf", ".hidden.conf", "c.txt", "sub/d.conf", "sub2/e.conf", "x[1].conf"] {
            let p = d.join(f);
            std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
            std::fs::write(p, "x").expect("write");
        }
        std::fs::create_dir_all(d.join("dir.conf")).expect("mkdir");
        d
    }

    fn sorted(mut v: Vec<String>) -> Vec<String> {
        v.sort();
        v
    }

    #[test]
    fn fileglob_lists_regular_files_like_python_glob() {
        let d = tree();
        let p = d.display().to_string();
        let rel = |v: Vec<String>| sorted(v.into_iter().map(|s| s.replacen(&p, "D", 1)).collect());
        assert_eq!(rel(files_matching(&format!("{p}/*.conf")).expect("ok")), ["D/a.conf", "D/b.conf", "D/x[1].conf"]);
        assert_eq!(
            rel(glob(&format!("{p}/*.conf")).expect("ok")),
            ["D/a.conf", "D/b.conf", "D/dir.conf", "D/x[1].conf"]
        );
        assert_eq!(rel(files_matching(&format!("{p}/.*.conf")).expect("ok")), ["D/.hidden.conf"]);
        assert_eq!(rel(files_matching(&format!("{p}/sub*/*.conf")).expect("ok")), ["D/sub/d.conf", "D/sub2/e.conf"]);
        assert_eq!(rel(files_matching(&format!("{p}/[ab].conf")).expect("ok")), ["D/a.conf", "D/b.conf"]);
        assert_eq!(rel(files_matching(&format!("{p}/[!a].conf")).expect("ok")), ["D/b.conf"]);
        assert_eq!(rel(files_matching(&format!("{p}/?.c*")).expect("ok")), ["D/a.conf", "D/b.conf"]);
        assert_eq!(rel(files_matching(&format!("{p}/x[[]1].conf")).expect("ok")), ["D/x[1].conf"]);
        assert_eq!(rel(files_matching(&format!("{p}/c.txt")).expect("ok")), ["D/c.txt"]);
        assert_eq!(files_matching(&format!("{p}/nothing/*")).expect("ok"), Vec::<String>::new());
        let _ = std::fs::remove_dir_all(&d);
    }
}
