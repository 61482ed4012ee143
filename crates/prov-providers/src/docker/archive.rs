//! Tar archives exchanged with containers: the keys copied in before the first start, and
//! files read back.

use std::io::Read;

fn header(path: &str, size: u64, mode: u32, kind: tar::EntryType) -> std::io::Result<tar::Header> {
    let mut h = tar::Header::new_gnu();
    h.set_path(path)?;
    h.set_size(size);
    h.set_mode(mode);
    h.set_uid(0);
    h.set_gid(0);
    h.set_entry_type(kind);
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    h.set_mtime(now);
    h.set_cksum();
    Ok(h)
}

fn with_newline(s: &str) -> String {
    let mut s = s.trim_end().to_string();
    s.push('\n');
    s
}

/// A tar archive, to unpack at `/`, with the SSH host key (private key at
/// `/etc/ssh/ssh_host_ed25519_key`, mode 0600, and its `.pub`; sshd reads the key type
/// from the file) and `/root/.ssh/authorized_keys` (0600, directory 0700), owned by root.
pub fn key_archive(host_key: Option<&(String, String)>, authorized_keys: &[String]) -> std::io::Result<Vec<u8>> {
    let mut b = tar::Builder::new(Vec::new());
    let file = |b: &mut tar::Builder<Vec<u8>>, path: &str, text: &str, mode: u32| {
        let h = header(path, text.len() as u64, mode, tar::EntryType::Regular)?;
        b.append(&h, text.as_bytes())
    };
    if let Some((private, public)) = host_key {
        file(&mut b, "etc/ssh/ssh_host_ed25519_key", &with_newline(private), 0o600)?;
        file(&mut b, "etc/ssh/ssh_host_ed25519_key.pub", &with_newline(public), 0o644)?;
    }
    let dir = header("root/.ssh/", 0, 0o700, tar::EntryType::Directory)?;
    b.append(&dir, std::io::empty())?;
    let keys: String = authorized_keys.iter().map(|k| with_newline(k)).collect();
    file(&mut b, "root/.ssh/authorized_keys", &keys, 0o600)?;
    b.into_inner()
}

/// The contents of the first regular file in a tar archive.
pub fn first_file(archive: &[u8]) -> std::io::Result<Option<Vec<u8>>> {
    let mut a = tar::Archive::new(archive);
    for entry in a.entries()? {
        let mut entry = entry?;
        if entry.header().entry_type().is_file() {
            let mut out = Vec::new();
            entry.read_to_end(&mut out)?;
            return Ok(Some(out));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_archive() {
        let hk = (
            "-----BEGIN OPENSSH PRIVATE KEY-----\nx\n-----END OPENSSH PRIVATE KEY-----".to_string(),
            "ssh-ed25519 AAAA host".to_string(),
        );
        let tar = key_archive(Some(&hk), &["ssh-ed25519 BBBB me".into()]).expect("tar");
        let mut a = tar::Archive::new(&tar[..]);
        let mut seen = Vec::new();
        for e in a.entries().expect("entries") {
            let mut e = e.expect("entry");
            let path = e.path().expect("path").to_string_lossy().into_owned();
            let mode = e.header().mode().expect("mode");
            let mut text = String::new();
            e.read_to_string(&mut text).expect("read");
            seen.push((path, mode, text));
        }
        assert_eq!(seen[0].0, "etc/ssh/ssh_host_ed25519_key");
        assert_eq!(seen[0].1, 0o600);
        assert!(seen[0].2.ends_with("KEY-----\n"));
        assert_eq!(seen[1].2, "ssh-ed25519 AAAA host\n");
        assert_eq!((seen[2].0.as_str(), seen[2].1), ("root/.ssh/", 0o700));
        assert_eq!(seen[3].0, "root/.ssh/authorized_keys");
        assert_eq!((seen[3].1, seen[3].2.as_str()), (0o600, "ssh-ed25519 BBBB me\n"));
        assert_eq!(first_file(&tar).expect("read"), Some(seen[0].2.clone().into_bytes()));
    }
}
