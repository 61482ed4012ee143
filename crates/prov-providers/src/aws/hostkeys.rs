//! SSH host keys of EC2 instances, read from the console output.
//!
//! At first boot cloud-init prints the instance's host public keys to the serial console
//! between `-----BEGIN SSH HOST KEY KEYS-----` and `-----END SSH HOST KEY KEYS-----`
//! (cloud-init's `keys_to_console`), and EC2's `GetConsoleOutput` returns that console
//! through the authenticated API. Keys read there are recorded in the project's
//! known_hosts under the instance id (OpenSSH's `HostKeyAlias`), so connections check them
//! strictly from the first contact and a changed address (stop/start, Elastic IP) does not
//! matter. When the console shows no keys (an image without cloud-init, or moto), the
//! inventory marks the host `accept-new` pinned to the instance id: the first key seen is
//! recorded under the id, and a different key from the same instance is refused.

use russh::keys::PublicKey;

const BEGIN: &str = "-----BEGIN SSH HOST KEY KEYS-----";
const END: &str = "-----END SSH HOST KEY KEYS-----";

/// Algorithms of the public keys worth recording (DSA is gone from OpenSSH).
const ALGORITHMS: &[&str] = &[
    "ssh-ed25519",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "ssh-rsa",
    "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
];

/// The host public keys (`algorithm base64` each) printed between the markers of the last
/// complete key block in `console` (the instance may have booted more than once); empty
/// when there is no complete block. Lines may carry prefixes such as `ec2: ` or syslog
/// headers; keys that do not parse are skipped.
pub fn keys_from_console(console: &str) -> Vec<String> {
    let Some(end) = console.rfind(END) else { return Vec::new() };
    let Some(begin) = console[..end].rfind(BEGIN) else { return Vec::new() };
    let block = &console[begin + BEGIN.len()..end];
    let mut out = Vec::new();
    for line in block.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        let Some(i) = words.iter().position(|w| ALGORITHMS.contains(w)) else { continue };
        let Some(data) = words.get(i + 1) else { continue };
        let text = format!("{} {data}", words[i]);
        if PublicKey::from_openssh(&text).is_ok() && !out.contains(&text) {
            out.push(text);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ed() -> String {
        let (_, public) = crate::state::generate_ed25519("root@h").expect("key");
        public.split_whitespace().take(2).collect::<Vec<_>>().join(" ")
    }

    #[test]
    fn keys_are_read_from_cloud_init_output() {
        let ed = ed();
        let console = format!(
            "[   12.3] cloud-init[512]: Cloud-init v. 23.1 running 'modules:final'\r\n\
             <14>Nov 26 01:00:00 ec2: #############################################################\r\n\
             <14>Nov 26 01:00:00 ec2: -----BEGIN SSH HOST KEY FINGERPRINTS-----\r\n\
             <14>Nov 26 01:00:00 ec2: 256 SHA256:abc root@ip-172-31-1-2 (ED25519)\r\n\
             <14>Nov 26 01:00:00 ec2: -----END SSH HOST KEY FINGERPRINTS-----\r\n\
             {BEGIN}\r\n{ed} root@ip-172-31-1-2\r\nssh-ed25519 not-base64 root@x\r\n{END}\r\n"
        );
        assert_eq!(keys_from_console(&console), vec![ed.clone()]);
        let prefixed = format!("ec2: {BEGIN}\nec2: {ed} root@h\nec2: {END}\n");
        assert_eq!(keys_from_console(&prefixed), vec![ed.clone()]);
    }

    #[test]
    fn no_complete_block_means_no_keys() {
        assert!(keys_from_console("Linux version 2.6.16-xenU\nBIOS-provided physical RAM map:\n").is_empty());
        assert!(keys_from_console(&format!("{BEGIN}\n{}\n", ed())).is_empty(), "still being printed");
        assert!(keys_from_console("").is_empty());
    }
}
