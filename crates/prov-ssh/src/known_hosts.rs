//! Host-key checking against OpenSSH known_hosts files (plain, `[host]:port` and hashed
//! `|1|salt|hash` entries; the matching itself is russh's), with OpenSSH's `@revoked` marker:
//! a key on such a line is refused for the hosts the line names, under every policy.

use russh::keys::{HashAlg, PublicKey};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// What to do with a server key that known_hosts does not list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HostKeyPolicy {
    /// Refuse it (the default, like OpenSSH's `StrictHostKeyChecking yes`).
    #[default]
    Strict,
    /// Record it in the first known_hosts file and go on (`accept-new`). A *changed* key is
    /// still refused. There is no mode that accepts anything.
    AcceptNew,
}

/// The result of checking one offered key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Listed and equal.
    Known,
    /// Not listed; accepted under `accept-new` and recorded.
    Learned,
    /// Not listed; refused (strict).
    Unknown {
        /// Offered key's fingerprint.
        offered: String,
        /// Files consulted.
        files: String,
    },
    /// Marked `@revoked` for this host.
    Revoked {
        /// Offered key's fingerprint.
        offered: String,
        /// `file:line` of the `@revoked` entry.
        at: String,
    },
    /// Listed with a different key.
    Mismatch {
        /// Recorded fingerprints with `file:line`.
        expected: String,
        /// Offered key's fingerprint.
        offered: String,
    },
    /// A known_hosts file could not be read or written.
    Error(String),
}

/// Serialises appends to known_hosts from concurrent connections.
static LEARN_LOCK: Mutex<()> = Mutex::new(());

/// OpenSSH's fingerprint text: `SHA256:...` plus the algorithm.
pub fn fingerprint(key: &PublicKey) -> String {
    format!("{} ({})", key.fingerprint(HashAlg::Sha256), key.algorithm().as_str())
}

/// The default files: `~/.ssh/known_hosts`, then `/etc/ssh/ssh_known_hosts`.
pub fn default_files() -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Some(home) = std::env::var_os("HOME") {
        out.push(Path::new(&home).join(".ssh/known_hosts"));
    }
    out.push(PathBuf::from("/etc/ssh/ssh_known_hosts"));
    out
}

/// Checks `key` offered by `host:port` against `files` (all of them are read; the first is
/// the one `accept-new` appends to).
pub fn check(host: &str, port: u16, key: &PublicKey, files: &[PathBuf], policy: HostKeyPolicy) -> Verdict {
    for f in files {
        match revoked(host, port, f) {
            Ok(list) => {
                if let Some((line, _)) = list.iter().find(|(_, k)| k.key_data() == key.key_data()) {
                    return Verdict::Revoked { offered: fingerprint(key), at: format!("{}:{line}", f.display()) };
                }
            }
            Err(e) => return Verdict::Error(format!("cannot read {}: {e}", f.display())),
        }
    }
    let mut recorded = Vec::new();
    for f in files {
        match russh::keys::known_hosts::known_host_keys_path(host, port, f) {
            Ok(list) => recorded.extend(list.into_iter().map(|(n, k)| (f.clone(), real_line(f, n), k))),
            Err(e) => return Verdict::Error(format!("cannot read {}: {e}", f.display())),
        }
    }
    if recorded.iter().any(|(_, _, k)| k.key_data() == key.key_data()) {
        return Verdict::Known;
    }
    if !recorded.is_empty() {
        let expected = recorded
            .iter()
            .map(|(f, line, k)| format!("{} ({}:{line})", fingerprint(k), f.display()))
            .collect::<Vec<_>>()
            .join(", ");
        return Verdict::Mismatch { expected, offered: fingerprint(key) };
    }
    match policy {
        HostKeyPolicy::Strict => Verdict::Unknown {
            offered: fingerprint(key),
            files: files.iter().map(|f| f.display().to_string()).collect::<Vec<_>>().join(", "),
        },
        HostKeyPolicy::AcceptNew => {
            let Some(first) = files.first() else {
                return Verdict::Error("no known_hosts file to record the new key in".into());
            };
            let _guard = LEARN_LOCK.lock();
            // Another connection to the same host may have learned it meanwhile.
            if let Ok(list) = russh::keys::known_hosts::known_host_keys_path(host, port, first) {
                if list.iter().any(|(_, k)| k.key_data() == key.key_data()) {
                    return Verdict::Learned;
                }
            }
            match learn(host, port, key, first) {
                Ok(()) => Verdict::Learned,
                Err(e) => Verdict::Error(format!("cannot record the host key in {}: {e}", first.display())),
            }
        }
    }
}

/// Keys on `@revoked` lines of `file` whose host patterns match `host:port`, with their line
/// numbers. (russh skips marker lines, so they are read here.)
fn revoked(host: &str, port: u16, file: &Path) -> std::io::Result<Vec<(usize, PublicKey)>> {
    let text = match std::fs::read(file) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let text = String::from_utf8_lossy(&text);
    let name = if port == 22 { host.to_ascii_lowercase() } else { format!("[{}]:{port}", host.to_ascii_lowercase()) };
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let mut f = line.split_whitespace();
        if f.next() != Some("@revoked") {
            continue;
        }
        let (Some(hosts), Some(_algo), Some(b64)) = (f.next(), f.next(), f.next()) else { continue };
        if !hosts_match(&name, hosts) {
            continue;
        }
        if let Ok(k) = russh::keys::parse_public_key_base64(b64) {
            out.push((i + 1, k));
        }
    }
    Ok(out)
}

/// OpenSSH's host field: a hashed name (`|1|salt|hash`), or comma-separated patterns with
/// `*`/`?` wildcards where a matching `!pattern` excludes the host.
fn hosts_match(name: &str, field: &str) -> bool {
    if let Some(rest) = field.strip_prefix("|1|") {
        return hashed_match(name, rest);
    }
    let mut matched = false;
    for p in field.split(',') {
        let p = p.to_ascii_lowercase();
        match p.strip_prefix('!') {
            Some(neg) if wildcard(neg.as_bytes(), name.as_bytes()) => return false,
            Some(_) => {}
            None => matched |= wildcard(p.as_bytes(), name.as_bytes()),
        }
    }
    matched
}

/// `|1|SALT|HASH`: HASH is HMAC-SHA1 of the name keyed with SALT, both base64.
fn hashed_match(name: &str, salt_hash: &str) -> bool {
    use base64::Engine as _;
    use hmac::{KeyInit as _, Mac as _};
    let Some((salt, hash)) = salt_hash.split_once('|') else { return false };
    let b64 = base64::engine::general_purpose::STANDARD;
    let (Ok(salt), Ok(hash)) = (b64.decode(salt), b64.decode(hash)) else { return false };
    let Ok(mut mac) = hmac::Hmac::<sha1::Sha1>::new_from_slice(&salt) else { return false };
    mac.update(name.as_bytes());
    mac.verify_slice(&hash).is_ok()
}

/// Glob matching with `*` and `?`, iterative (no recursion, linear backtracking).
fn wildcard(pat: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pat.len() && (pat[p] == b'?' || pat[p] == text[t]) {
            p += 1;
            t += 1;
        } else if p < pat.len() && pat[p] == b'*' {
            star = Some((p, t));
            p += 1;
        } else if let Some((sp, st)) = star {
            p = sp + 1;
            t = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    pat[p..].iter().all(|&c| c == b'*')
}

/// Appends `host`'s key in OpenSSH's format (`[host]:port` when the port is not 22).
fn learn(host: &str, port: u16, key: &PublicKey, file: &Path) -> std::io::Result<()> {
    use std::io::Write;
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let existing = std::fs::read(file).unwrap_or_default();
    let name = if port == 22 { host.to_string() } else { format!("[{host}]:{port}") };
    let openssh = key.to_openssh().map_err(std::io::Error::other)?;
    let mut fields = openssh.split_whitespace();
    let (algo, data) = (fields.next().unwrap_or_default(), fields.next().unwrap_or_default());
    let sep = if existing.is_empty() || existing.ends_with(b"\n") { "" } else { "\n" };
    let mut f = std::fs::OpenOptions::new().create(true).append(true).open(file)?;
    f.write_all(format!("{sep}{name} {algo} {data}\n").as_bytes())
}

/// russh numbers known_hosts lines without counting `#` comment lines; this maps its number
/// back to the line number editors show.
fn real_line(file: &Path, russh_line: usize) -> usize {
    let Ok(text) = std::fs::read_to_string(file) else { return russh_line };
    let mut counted = 0;
    for (i, line) in text.lines().enumerate() {
        if !line.starts_with('#') {
            counted += 1;
            if counted == russh_line {
                return i + 1;
            }
        }
    }
    russh_line
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY_A: &str = "AAAAC3NzaC1lZDI1NTE5AAAAILiWCM0vz3s32b+YXyWB4OYLr+4A0q8D/ReWzIuYgaf8";
    const KEY_B: &str = "AAAAC3NzaC1lZDI1NTE5AAAAIMhLZncEgp2mUm685hAo67lnomtft7GababXcitWU7Li";

    fn key(b64: &str) -> PublicKey {
        russh::keys::parse_public_key_base64(b64).expect("test key")
    }

    #[test]
    fn known_unknown_mismatch_and_learn() {
        let d = tempfile::tempdir().expect("tempdir");
        let kh = d.path().join("known_hosts");
        std::fs::write(&kh, format!("# comment\n[127.0.1.1]:2222 ssh-ed25519 {KEY_A}\n")).expect("write");
        let files = vec![kh.clone()];
        assert_eq!(check("127.0.1.1", 2222, &key(KEY_A), &files, HostKeyPolicy::Strict), Verdict::Known);
        match check("127.0.1.1", 2222, &key(KEY_B), &files, HostKeyPolicy::AcceptNew) {
            Verdict::Mismatch { expected, offered } => {
                assert!(expected.contains(&format!("{}:2", kh.display())), "{expected}");
                assert!(offered.starts_with("SHA256:"));
                assert_ne!(expected.split(' ').next(), offered.split(' ').next());
            }
            other => panic!("expected a mismatch, got {other:?}"),
        }
        assert!(matches!(
            check("127.0.1.2", 2222, &key(KEY_B), &files, HostKeyPolicy::Strict),
            Verdict::Unknown { .. }
        ));
        assert_eq!(check("127.0.1.2", 2222, &key(KEY_B), &files, HostKeyPolicy::AcceptNew), Verdict::Learned);
        assert_eq!(check("127.0.1.2", 2222, &key(KEY_B), &files, HostKeyPolicy::Strict), Verdict::Known);
        let text = std::fs::read_to_string(&kh).expect("read");
        assert!(text.contains("[127.0.1.2]:2222 ssh-ed25519"), "{text}");
    }

    #[test]
    fn a_revoked_key_is_refused_under_every_policy_and_never_learned() {
        let d = tempfile::tempdir().expect("tempdir");
        let kh = d.path().join("known_hosts");
        std::fs::write(&kh, format!("[127.0.1.1]:2222 ssh-ed25519 {KEY_A}\n@revoked * ssh-ed25519 {KEY_A}\n"))
            .expect("write");
        let files = vec![kh.clone()];
        for policy in [HostKeyPolicy::Strict, HostKeyPolicy::AcceptNew] {
            match check("127.0.1.1", 2222, &key(KEY_A), &files, policy) {
                Verdict::Revoked { at, .. } => assert_eq!(at, format!("{}:2", kh.display())),
                other => panic!("expected revoked, got {other:?}"),
            }
            assert!(matches!(check("127.0.1.9", 22, &key(KEY_A), &files, policy), Verdict::Revoked { .. }));
        }
        let before = std::fs::read_to_string(&kh).expect("read");
        let _ = check("127.0.1.9", 2222, &key(KEY_A), &files, HostKeyPolicy::AcceptNew);
        assert_eq!(std::fs::read_to_string(&kh).expect("read"), before, "a revoked key was learned");
        // Another key for the same host is not affected.
        assert_eq!(check("127.0.1.9", 2222, &key(KEY_B), &files, HostKeyPolicy::AcceptNew), Verdict::Learned);
    }

    #[test]
    fn revoked_lines_match_host_patterns_as_openssh_does() {
        assert!(hosts_match("[127.0.1.1]:2222", "[127.0.1.1]:2222"));
        assert!(hosts_match("web1.example", "*.example,!db*"));
        assert!(!hosts_match("db1.example", "*.example,!db*"));
        assert!(hosts_match("web1", "w?b1"));
        assert!(!hosts_match("web10", "web1"));
    }

    #[test]
    fn a_hashed_revoked_line_matches_its_host_only() {
        // Hash the name with OpenSSH's own ssh-keygen.
        let d = tempfile::tempdir().expect("tempdir");
        let kh = d.path().join("known_hosts");
        std::fs::write(&kh, format!("web1 ssh-ed25519 {KEY_A}\n")).expect("write");
        let st = std::process::Command::new("ssh-keygen").arg("-H").arg("-f").arg(&kh).output().expect("ssh-keygen");
        assert!(st.status.success(), "{}", String::from_utf8_lossy(&st.stderr));
        let hashed = std::fs::read_to_string(&kh).expect("read");
        let field = hashed.split_whitespace().next().expect("host field");
        assert!(field.starts_with("|1|"), "{hashed}");
        assert!(hosts_match("web1", field));
        assert!(!hosts_match("web2", field));
    }

    #[test]
    fn missing_file_is_empty() {
        let files = vec![PathBuf::from("/nonexistent/known_hosts")];
        assert!(matches!(check("h", 22, &key(KEY_A), &files, HostKeyPolicy::Strict), Verdict::Unknown { .. }));
    }
}
