//! Names of the temporary files that `put` writes next to a destination before renaming it
//! into place.
//!
//! `DIR/.NAME.prov-tmp-RANDOM`: 128 random bits, so no one can place a file or a symbolic
//! link at the name beforehand; the file is created exclusively (`O_EXCL`, which also refuses
//! a symbolic link) with mode 0600, so a partial copy of a secret is never readable by others.
//! A run killed mid-transfer leaves such a file behind; the next successful write of the same
//! destination removes every `.NAME.prov-tmp-*` beside it.

use prov_core::connection::shell_quote;

/// The temporary name for one write of `path`, and the shell pattern of all of them.
pub(crate) struct TempName {
    /// The temporary file's path.
    pub tmp: String,
    /// A `sh` word that globs every temporary file of this destination: the quoted prefix
    /// followed by an unquoted `*`.
    pub stale_glob: String,
    /// The prefix shared by every temporary file of this destination (file name only).
    pub prefix: String,
}

/// Picks a fresh temporary name beside `path`.
pub(crate) fn temp_for(path: &str) -> std::io::Result<TempName> {
    let (dir, name) = match path.rfind('/') {
        Some(0) => ("/", &path[1..]),
        Some(i) => (&path[..i], &path[i + 1..]),
        None => (".", path),
    };
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| std::io::Error::other(e.to_string()))?;
    let random: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let prefix = format!(".{name}.prov-tmp-");
    let sep = if dir.ends_with('/') { "" } else { "/" };
    Ok(TempName {
        tmp: format!("{dir}{sep}{prefix}{random}"),
        stale_glob: format!("{}*", shell_quote(&format!("{dir}{sep}{prefix}"))),
        prefix,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unpredictable_and_beside_the_destination() {
        let a = temp_for("/etc/app/secret.conf").expect("random");
        let b = temp_for("/etc/app/secret.conf").expect("random");
        assert_ne!(a.tmp, b.tmp);
        assert!(a.tmp.starts_with("/etc/app/.secret.conf.prov-tmp-"), "{}", a.tmp);
        assert_eq!(a.tmp.len(), "/etc/app/.secret.conf.prov-tmp-".len() + 32);
        assert_eq!(a.stale_glob, "/etc/app/.secret.conf.prov-tmp-*");
        let c = temp_for("/srv/it's *.txt").expect("random");
        assert_eq!(c.stale_glob, "'/srv/.it'\\''s *.txt.prov-tmp-'*");
        assert!(temp_for("/f").expect("random").tmp.starts_with("/.f.prov-tmp-"));
    }
}
