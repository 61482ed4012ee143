//! Ansible's `path` argument type: a module's path argument is read as
//! `os.path.expanduser(os.path.expandvars(value))` on the machine the module runs on, so
//! `~/.ssh`, `~deploy/app` and `$HOME/x` name the target's files, seen by the user the task
//! runs as (after `become`), with the task's `environment:`.
//!
//! The rules are Python's (`posixpath`): a `$name` or `${name}` whose name is set is
//! replaced and any other is left as written; then a leading `~` becomes `$HOME` (or the
//! user's passwd entry when HOME is unset) and `~name` becomes that user's home directory,
//! left as written when there is no such user. The expansion is pure here; the lookups
//! (the environment, passwd entries) are done by [`ModuleCtx::expand_path`](crate::module::ModuleCtx::expand_path).

/// Whether `p` needs the environment: a `$` anywhere, or a leading `~` alone (`~`, `~/x`).
pub fn needs_env(p: &str) -> bool {
    p.contains('$') || p == "~" || p.starts_with("~/")
}

/// The user named by a leading `~name` (up to the first `/`), if any.
pub fn tilde_user(p: &str) -> Option<&str> {
    let rest = p.strip_prefix('~')?;
    let name = rest.split('/').next().unwrap_or("");
    (!name.is_empty()).then_some(name)
}

/// Python's `posixpath.expandvars`: `$name` (ASCII letters, digits, `_`) and `${anything}`
/// are replaced by the variable's value when `env` has it; the rest is kept as written.
pub fn expand_vars(p: &str, env: impl Fn(&str) -> Option<String>) -> String {
    if !p.contains('$') {
        return p.to_string();
    }
    let mut out = String::with_capacity(p.len());
    let mut rest = p;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let (name, len) = if let Some(b) = after.strip_prefix('{') {
            match b.find('}') {
                Some(e) => (Some(&b[..e]), e + 2),
                None => (None, 0),
            }
        } else {
            let n = after.bytes().take_while(|c| c.is_ascii_alphanumeric() || *c == b'_').count();
            ((n > 0).then(|| &after[..n]), n)
        };
        match name.and_then(&env) {
            Some(v) => {
                out.push_str(&v);
                rest = &after[len..];
            }
            None => {
                // Not a variable, or not set: the `$` (and the name) stay as written.
                let keep = 1 + if name.is_some() { len } else { 0 };
                out.push_str(&rest[i..i + keep]);
                rest = &rest[i + keep..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Python's `posixpath.expanduser`, given `home` (the value for a bare `~`) and the home
/// directory of a named user (`None`: no such user, the path stays as written).
pub fn expand_user(p: &str, home: Option<&str>, user_home: impl Fn(&str) -> Option<String>) -> String {
    if !p.starts_with('~') {
        return p.to_string();
    }
    let end = p[1..].find('/').map_or(p.len(), |i| i + 1);
    let dir = if end == 1 {
        match home {
            Some(h) => h.to_string(),
            None => return p.to_string(),
        }
    } else {
        match user_home(&p[1..end]) {
            Some(h) => h,
            None => return p.to_string(),
        }
    };
    let joined = format!("{}{}", dir.trim_end_matches('/'), &p[end..]);
    if joined.is_empty() {
        "/".to_string()
    } else {
        joined
    }
}

/// Python's `os.path.expanduser` on the controller (the `expanduser` filter, `~` in lookups).
pub fn expand_user_local(p: &str) -> String {
    if !p.starts_with('~') {
        return p.to_string();
    }
    let home = std::env::var("HOME").ok().or_else(|| {
        let uid = std::process::Command::new("id").arg("-u").output().ok()?;
        local_user_home(String::from_utf8_lossy(&uid.stdout).trim())
    });
    expand_user(p, home.as_deref(), local_user_home)
}

/// `os.path.expanduser(os.path.expandvars(p))` on the controller, with prov's own environment:
/// what Ansible does to the controller paths it reads (`unfrackpath`).
pub fn expand_local(p: &str) -> String {
    expand_user_local(&expand_vars(p, |n| std::env::var(n).ok()))
}

/// A controller user's home directory from the passwd database (`getent`, no shell).
fn local_user_home(user: &str) -> Option<String> {
    let out = std::process::Command::new("getent").args(["passwd", "--", user]).output().ok()?;
    out.status.success().then(|| passwd_home(&String::from_utf8_lossy(&out.stdout))).flatten()
}

/// The home directory field of a `getent passwd` line.
pub fn passwd_home(line: &str) -> Option<String> {
    line.lines().next()?.split(':').nth(5).map(str::to_string)
}

/// `env -0` output as a lookup.
pub fn parse_env0(out: &str) -> Vec<(String, String)> {
    out.split('\0').filter_map(|kv| kv.split_once('=')).map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "HOME" => Some("/home/ann".into()),
            "A" => Some("x".into()),
            "ROOT" => Some("/".into()),
            _ => None,
        }
    }

    // Expected values: what Python 3.11's posixpath gives for the same input and environment.
    #[test]
    fn expand_vars_replaces_set_names_and_keeps_the_rest_as_written() {
        assert_eq!(expand_vars("$HOME/x", env), "/home/ann/x");
        assert_eq!(expand_vars("${A}y/$A", env), "xy/x");
        assert_eq!(expand_vars("$NOPE/x", env), "$NOPE/x");
        assert_eq!(expand_vars("${NOPE}/$A", env), "${NOPE}/x");
        assert_eq!(expand_vars("a$/b$", env), "a$/b$");
        assert_eq!(expand_vars("${A/x", env), "${A/x");
        assert_eq!(expand_vars("$$A", env), "$x");
        assert_eq!(expand_vars("${}", env), "${}");
        assert_eq!(expand_vars("$Aé", env), "xé");
        assert_eq!(expand_vars("no dollar", env), "no dollar");
    }

    #[test]
    fn expand_user_follows_posixpath() {
        let users = |n: &str| (n == "bob").then(|| "/srv/bob/".to_string());
        assert_eq!(expand_user("~", Some("/home/ann"), users), "/home/ann");
        assert_eq!(expand_user("~/x", Some("/home/ann/"), users), "/home/ann/x");
        assert_eq!(expand_user("~bob/x", None, users), "/srv/bob/x");
        assert_eq!(expand_user("~eve/x", Some("/h"), users), "~eve/x");
        assert_eq!(expand_user("~/x", None, users), "~/x");
        assert_eq!(expand_user("~", Some("/"), users), "/");
        assert_eq!(expand_user("~/x", Some("/"), users), "/x");
        assert_eq!(expand_user("a/~", Some("/h"), users), "a/~");
    }

    #[test]
    fn controller_paths_use_prov_s_own_environment() {
        let home = std::env::var("HOME").expect("HOME");
        assert_eq!(expand_local("~/x"), format!("{}/x", home.trim_end_matches('/')));
        assert_eq!(expand_local("$HOME/x"), format!("{home}/x"));
        assert_eq!(expand_user_local("~root/x"), "/root/x");
        assert_eq!(expand_user_local("~no-such-user-prov/x"), "~no-such-user-prov/x");
        assert_eq!(expand_user_local("$HOME"), "$HOME");
    }

    #[test]
    fn lookups_needed() {
        assert!(needs_env("~") && needs_env("~/a") && needs_env("/a/$B"));
        assert!(!needs_env("~bob/a") && !needs_env("/a"));
        assert_eq!(tilde_user("~bob/a"), Some("bob"));
        assert_eq!(tilde_user("~/a"), None);
        assert_eq!(tilde_user("/a"), None);
        assert_eq!(passwd_home("bob:x:1:1::/srv/bob:/bin/sh\n").as_deref(), Some("/srv/bob"));
        assert_eq!(parse_env0("A=1\0B=x=y\0"), vec![("A".into(), "1".into()), ("B".into(), "x=y".into())]);
    }
}
