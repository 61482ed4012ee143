//! The artifact of a release: what is shipped or found on the target, and its content hash.

use prov_core::cmd::Sh;
use sha2::{Digest, Sha256};
use std::path::Path;

/// The artifact to unpack.
#[derive(Debug)]
pub enum Artifact {
    /// Bytes shipped from the controller: a tar (maybe gzipped).
    Upload(Vec<u8>),
    /// A tarball on the target.
    RemoteTar(String),
    /// A directory on the target.
    RemoteDir(String),
}

/// Hashes a directory (names, modes, contents, link targets) and packs it into a tar.
pub(crate) fn pack_dir(dir: &Path) -> Result<(Vec<u8>, String), String> {
    fn walk(base: &Path, rel: &Path, out: &mut Vec<std::path::PathBuf>) -> std::io::Result<()> {
        let mut entries: Vec<_> = std::fs::read_dir(base.join(rel))?.collect::<Result<_, _>>()?;
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let r = rel.join(e.file_name());
            out.push(r.clone());
            if e.file_type()?.is_dir() {
                walk(base, &r, out)?;
            }
        }
        Ok(())
    }
    let err = |e: std::io::Error| format!("reading {}: {e}", dir.display());
    let mut paths = Vec::new();
    walk(dir, Path::new(""), &mut paths).map_err(err)?;
    let mut hasher = Sha256::new();
    let mut tar = tar::Builder::new(Vec::new());
    tar.follow_symlinks(false);
    for rel in &paths {
        let full = dir.join(rel);
        let md = std::fs::symlink_metadata(&full).map_err(err)?;
        use std::os::unix::fs::PermissionsExt;
        let mode = md.permissions().mode() & 0o7777;
        let name = rel.to_string_lossy();
        if md.file_type().is_symlink() {
            let target = std::fs::read_link(&full).map_err(err)?;
            hasher.update(format!("L {name} {}\n", target.display()));
        } else if md.is_dir() {
            hasher.update(format!("D {name} {mode:o}\n"));
        } else {
            let data = std::fs::read(&full).map_err(err)?;
            hasher.update(format!("F {name} {mode:o} {}\n", hex::encode(Sha256::digest(&data))));
        }
        tar.append_path_with_name(&full, rel).map_err(err)?;
    }
    let bytes = tar.into_inner().map_err(err)?;
    Ok((bytes, hex::encode(hasher.finalize())))
}

/// The command printing a hash of a directory or file on the target.
pub(crate) fn remote_hash_command(src: &str) -> Sh {
    Sh::lit("S=").glued(Sh::quoted(src)).then(Sh::lit(
        "if [ -d \"$S\" ]; then printf 'dir '; (cd \"$S\" && find . -mindepth 1 \\( -type f -exec sha256sum {} + \\) \
           -o \\( -type l -printf 'link %p %l\\n' \\) -o \\( -type d -printf 'dir %p\\n' \\) | LC_ALL=C sort | sha256sum | cut -d' ' -f1); \
         elif [ -f \"$S\" ]; then printf 'tar '; sha256sum < \"$S\" | cut -d' ' -f1; \
         else echo missing; fi",
    ))
}

/// The release hash: the artifact's and the `shared` list.
pub(crate) fn release_hash(artifact: &str, shared: &[String]) -> String {
    let mut h = Sha256::new();
    h.update(artifact);
    for s in shared {
        h.update("\n");
        h.update(s);
    }
    format!("sha256:{}", hex::encode(h.finalize()))
}

pub(crate) fn is_tarball(name: &str) -> bool {
    [".tar", ".tar.gz", ".tgz"].iter().any(|e| name.ends_with(e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directory_hash_follows_content_not_time() {
        let d = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(d.path().join("sub")).expect("mkdir");
        std::fs::write(d.path().join("sub/a"), "one").expect("write");
        std::os::unix::fs::symlink("sub/a", d.path().join("link")).expect("symlink");
        let (tar1, h1) = pack_dir(d.path()).expect("pack");
        let (_, h2) = pack_dir(d.path()).expect("pack");
        assert_eq!(h1, h2);
        let mut names: Vec<String> = tar::Archive::new(&tar1[..])
            .entries()
            .expect("entries")
            .map(|e| e.expect("entry").path().expect("path").display().to_string())
            .collect();
        names.sort();
        assert_eq!(names, ["link", "sub", "sub/a"]);
        std::fs::write(d.path().join("sub/a"), "two").expect("write");
        assert_ne!(pack_dir(d.path()).expect("pack").1, h1);
        assert_ne!(release_hash(&h1, &["data".into()]), release_hash(&h1, &[]));
        assert!(is_tarball("app.tgz") && is_tarball("a.tar") && !is_tarball("a.zip"));
    }
}
