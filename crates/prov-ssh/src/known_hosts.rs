//! Host-key checking against OpenSSH known_hosts files (plain, `[host]:port` and hashed
//! `|1|salt|hash` entries; the matching itself is russh's).

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
    fn missing_file_is_empty() {
        let files = vec![PathBuf::from("/nonexistent/known_hosts")];
        assert!(matches!(check("h", 22, &key(KEY_A), &files, HostKeyPolicy::Strict), Verdict::Unknown { .. }));
    }
}
