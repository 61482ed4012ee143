//! What prov keeps per project on the controller: the known_hosts file of its VMs (host keys
//! prov generated and installed itself) and, when the user has no SSH key, a project key.
//!
//! The directory is `$PROV_STATE_DIR/<project>`, by default `~/.local/state/prov/<project>`.

use russh::keys::ssh_key::private::Ed25519Keypair;
use russh::keys::ssh_key::{LineEnding, PrivateKey};
use std::collections::HashSet;
use std::io::Read;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Serialises known_hosts rewrites from concurrent VM tasks.
static KNOWN_HOSTS_LOCK: Mutex<()> = Mutex::new(());

/// The project's state directory (not created).
pub fn project_dir(project: &str) -> PathBuf {
    let base = match std::env::var_os("PROV_STATE_DIR") {
        Some(d) => PathBuf::from(d),
        None => {
            let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/root"));
            home.join(".local/state/prov")
        }
    };
    base.join(project)
}

/// The known_hosts file holding the project's VMs.
pub fn known_hosts(project: &str) -> PathBuf {
    project_dir(project).join("known_hosts")
}

/// A new Ed25519 key pair: (private key in OpenSSH PEM, public key line `ssh-ed25519 AAAA... comment`).
pub fn generate_ed25519(comment: &str) -> std::io::Result<(String, String)> {
    let mut seed = [0u8; 32];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut seed)?;
    let mut key = PrivateKey::from(Ed25519Keypair::from_seed(&seed));
    key.set_comment(comment);
    let private = key.to_openssh(LineEnding::LF).map_err(std::io::Error::other)?;
    let public = key.public_key().to_openssh().map_err(std::io::Error::other)?;
    Ok((private.to_string(), public))
}

/// Records `address`'s host key (`ssh-ed25519 AAAA...`) in `file`, replacing any line for the
/// same address (addresses are reused after a VM is deleted).
pub fn record_host_key(file: &Path, address: IpAddr, public: &str) -> std::io::Result<()> {
    let _guard = KNOWN_HOSTS_LOCK.lock();
    let mut fields = public.split_whitespace();
    let (algo, data) = (fields.next().unwrap_or_default(), fields.next().unwrap_or_default());
    let mut lines = read_lines_without(file, &address.to_string())?;
    lines.push(format!("{address} {algo} {data}"));
    write_lines(file, &lines)
}

/// Records the host keys (`algorithm base64` each) of `name` in `file`, replacing its lines.
/// `name` is an address or a host key alias such as an EC2 instance id.
pub fn record_host_keys(file: &Path, name: &str, keys: &[String]) -> std::io::Result<()> {
    let _guard = KNOWN_HOSTS_LOCK.lock();
    let mut lines = read_lines_without(file, name)?;
    for k in keys {
        let mut fields = k.split_whitespace();
        let (algo, data) = (fields.next().unwrap_or_default(), fields.next().unwrap_or_default());
        lines.push(format!("{name} {algo} {data}"));
    }
    write_lines(file, &lines)
}

/// The host names (addresses and aliases) `file` has lines for.
pub fn known_names(file: &Path) -> HashSet<String> {
    let _guard = KNOWN_HOSTS_LOCK.lock();
    let text = std::fs::read_to_string(file).unwrap_or_default();
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_whitespace().next())
        .flat_map(|hosts| hosts.split(','))
        .map(str::to_string)
        .collect()
}

/// Whether `file` has a line for `name`.
pub fn knows_host(file: &Path, name: &str) -> bool {
    known_names(file).contains(name)
}

/// Adds the SSH host-key variables of cloud VMs to their `details["vars"]` (README, "Host
/// keys of cloud VMs"): each one's key is looked up under its instance id in the project's
/// known_hosts (read once), and while no key is recorded there (the cloud published none)
/// the host is `accept-new`, so its first key is recorded under that id and pinned to it.
pub fn pin_host_keys_to_ids(project: &str, instances: &mut [crate::Instance]) {
    let kh = known_hosts(project);
    let known = known_names(&kh);
    for i in instances {
        if !i.details.is_object() {
            i.details = serde_json::json!({});
        }
        let vars = i.details.as_object_mut().map(|d| d.entry("vars").or_insert_with(|| serde_json::json!({})));
        if let Some(vars) = vars.and_then(|v| v.as_object_mut()) {
            vars.insert("prov_host_key_alias".into(), i.id.clone().into());
            vars.insert("prov_known_hosts".into(), kh.display().to_string().into());
            if !known.contains(&i.id) {
                vars.insert("prov_host_key_checking".into(), "accept-new".into());
            }
        }
    }
}

/// Removes every line for `address` from `file`; removes the file when it becomes empty.
pub fn forget_host(file: &Path, address: IpAddr) -> std::io::Result<()> {
    forget_host_name(file, &address.to_string())
}

/// Removes every line for `name` (an address or alias) from `file`; removes the file when
/// it becomes empty.
pub fn forget_host_name(file: &Path, name: &str) -> std::io::Result<()> {
    let _guard = KNOWN_HOSTS_LOCK.lock();
    if !file.exists() {
        return Ok(());
    }
    let lines = read_lines_without(file, name)?;
    if lines.is_empty() {
        return std::fs::remove_file(file);
    }
    write_lines(file, &lines)
}

fn read_lines_without(file: &Path, host: &str) -> std::io::Result<Vec<String>> {
    let text = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e),
    };
    Ok(text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .filter(|l| !l.split_whitespace().next().is_some_and(|hosts| hosts.split(',').any(|h| h == host)))
        .map(str::to_string)
        .collect())
}

fn write_lines(file: &Path, lines: &[String]) -> std::io::Result<()> {
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = file.with_extension("tmp");
    let mut text = lines.join("\n");
    text.push('\n');
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, file)
}

/// The file where [`pin_address`] keeps which instance holds which address.
pub fn addresses(project: &str) -> PathBuf {
    project_dir(project).join("addresses")
}

/// Remembers in `file` (see [`addresses`]) that instance `instance` holds `address`, and
/// returns the instance that held it before, when it was another one:
/// an address reused by a new instance, whose host key is not the old one's.
pub fn pin_address(file: &Path, address: &str, instance: &str) -> std::io::Result<Option<String>> {
    let _guard = KNOWN_HOSTS_LOCK.lock();
    let mut lines = read_lines_without(file, "")?;
    let previous = lines.iter().find_map(|l| {
        let mut w = l.split_whitespace();
        (w.next() == Some(address)).then(|| w.next().unwrap_or_default().to_string())
    });
    if previous.as_deref() == Some(instance) {
        return Ok(None);
    }
    lines.retain(|l| l.split_whitespace().next() != Some(address));
    lines.push(format!("{address} {instance}"));
    write_lines(file, &lines)?;
    Ok(previous)
}

/// The public keys to install for root on new VMs, and the private key file to log in with
/// when it is not one of the user's defaults: the user's `~/.ssh/id_{ed25519,ecdsa,rsa}.pub`,
/// or else a key generated once for the project in its state directory.
pub fn login_key(project: &str) -> std::io::Result<(String, Option<PathBuf>)> {
    if let Some(home) = std::env::var_os("HOME") {
        for name in ["id_ed25519", "id_ecdsa", "id_rsa"] {
            let p = Path::new(&home).join(".ssh").join(format!("{name}.pub"));
            if let Ok(text) = std::fs::read_to_string(&p) {
                if Path::new(&home).join(".ssh").join(name).exists() {
                    return Ok((text.trim().to_string(), None));
                }
            }
        }
    }
    let dir = project_dir(project);
    let key = dir.join("id_ed25519");
    let public = dir.join("id_ed25519.pub");
    if !key.exists() || !public.exists() {
        std::fs::create_dir_all(&dir)?;
        let (private, pubkey) = generate_ed25519(&format!("prov-{project}"))?;
        use std::os::unix::fs::OpenOptionsExt;
        let mut f = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&key)?;
        std::io::Write::write_all(&mut f, private.as_bytes())?;
        std::fs::write(&public, format!("{pubkey}\n"))?;
    }
    Ok((std::fs::read_to_string(&public)?.trim().to_string(), Some(key)))
}

/// The project key to log in with, when [`login_key`] made one (the user has no key of
/// their own); `None` when the user's default keys apply.
pub fn project_key(project: &str) -> Option<PathBuf> {
    if let Some(home) = std::env::var_os("HOME") {
        let ssh = Path::new(&home).join(".ssh");
        if ["id_ed25519", "id_ecdsa", "id_rsa"]
            .iter()
            .any(|n| ssh.join(n).exists() && ssh.join(format!("{n}.pub")).exists())
        {
            return None;
        }
    }
    let key = project_dir(project).join("id_ed25519");
    key.exists().then_some(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_parse_back_and_known_hosts_lines_are_replaced() {
        let (private, public) = generate_ed25519("t").expect("key");
        let parsed = russh::keys::decode_secret_key(&private, None).expect("private key parses");
        assert_eq!(parsed.public_key().to_openssh().expect("public"), public);
        let d = tempfile::tempdir().expect("tempdir");
        let kh = d.path().join("sub/known_hosts");
        let a: IpAddr = "10.0.0.2".parse().expect("ip");
        let b: IpAddr = "10.0.0.3".parse().expect("ip");
        record_host_key(&kh, a, &public).expect("record");
        record_host_key(&kh, b, &public).expect("record");
        let (_, other) = generate_ed25519("t2").expect("key");
        record_host_key(&kh, a, &other).expect("replace");
        let text = std::fs::read_to_string(&kh).expect("read");
        assert_eq!(text.lines().count(), 2, "{text}");
        assert!(text.contains(other.split_whitespace().nth(1).expect("data")));
        record_host_keys(&kh, "i-0abc", std::slice::from_ref(&other)).expect("alias");
        assert!(knows_host(&kh, "i-0abc") && !knows_host(&kh, "i-0abd"));
        forget_host_name(&kh, "i-0abc").expect("forget alias");
        assert!(!knows_host(&kh, "i-0abc"));
        forget_host(&kh, a).expect("forget");
        forget_host(&kh, b).expect("forget");
        assert!(!kh.exists(), "empty known_hosts is removed");
    }

    #[test]
    fn a_reused_address_names_the_instance_that_held_it() {
        let d = tempfile::tempdir().expect("tempdir");
        let f = d.path().join("p/addresses");
        assert_eq!(pin_address(&f, "198.51.100.7", "i-1").expect("pin"), None);
        assert_eq!(pin_address(&f, "198.51.100.7", "i-1").expect("pin"), None, "same instance");
        assert_eq!(pin_address(&f, "198.51.100.7", "i-2").expect("pin"), Some("i-1".into()));
        assert_eq!(pin_address(&f, "198.51.100.8", "i-1").expect("pin"), None);
    }
}
