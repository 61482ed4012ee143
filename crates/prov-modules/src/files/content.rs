//! The new content of a whole-file write (`copy`, `template`, the line editors): bytes in
//! memory, or a file on the controller that is streamed to each host and never held whole.
//!
//! A controller file's checksums are computed once per run (by path, inode, size and times),
//! however many hosts receive it; its bytes are read again, in chunks, for each upload.
//!
//! The diff of a write follows ansible-core's action plugins (`_get_diff_data`): a side larger
//! than [`MAX_DIFF_SIZE`] or binary is not shown, and the result says why (`src_larger`,
//! `dst_binary`, ...).

use super::{md5_hex, sha1_hex, sha256_hex};
use prov_core::module::{ModuleCtx, ModuleError};
use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

/// ansible-core's `MAX_FILE_SIZE_FOR_DIFF` default (`max_diff_size`): larger files get no diff.
pub const MAX_DIFF_SIZE: u64 = 104_448;

/// The run's `max_diff_size` ([`set_max_diff_size`]; [`MAX_DIFF_SIZE`] unless ansible.cfg says).
static DIFF_LIMIT: AtomicU64 = AtomicU64::new(MAX_DIFF_SIZE);

/// Sets the size above which a side of a diff is left out (ansible.cfg's `max_diff_size`),
/// for the whole run.
pub fn set_max_diff_size(bytes: u64) {
    DIFF_LIMIT.store(bytes, Ordering::Relaxed);
}

/// The size above which a side of a diff is left out.
pub(crate) fn max_diff_size() -> u64 {
    DIFF_LIMIT.load(Ordering::Relaxed)
}

/// How much of a destination ansible-core's `_diff_peek` reads to call it binary.
const PEEK_BYTES: usize = 8192;

/// What a whole-file write puts on the target.
#[derive(Debug, Clone)]
pub(crate) enum Content {
    /// Bytes in memory: `content`, a rendered template, an edited file.
    Bytes(Vec<u8>),
    /// A file on the controller (`copy`'s `src`).
    Local(Arc<LocalFile>),
}

/// A controller file and its checksums.
#[derive(Debug, Clone)]
pub(crate) struct LocalFile {
    path: PathBuf,
    size: u64,
    sums: Arc<Sums>,
}

/// The checksums copy compares and registers.
#[derive(Debug)]
struct Sums {
    sha256: String,
    sha1: String,
    md5: String,
}

/// One side of a diff, as ansible-core decides it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DiffPart {
    /// The text to show.
    Text(String),
    /// Not shown: a NUL byte (`src_binary`/`dst_binary`).
    Binary,
    /// Not shown: larger than [`MAX_DIFF_SIZE`] (`src_larger`/`dst_larger`).
    Larger,
}

/// The identity of a controller file's content for the checksum cache: a file rewritten in
/// place changes its size or times.
type FileKey = (PathBuf, u64, u64, u64, i64, i64, i64, i64);

type SumCell = Arc<tokio::sync::OnceCell<Result<Arc<Sums>, String>>>;

fn sum_cache() -> &'static Mutex<HashMap<FileKey, SumCell>> {
    static CACHE: OnceLock<Mutex<HashMap<FileKey, SumCell>>> = OnceLock::new();
    CACHE.get_or_init(Mutex::default)
}

impl LocalFile {
    /// Opens the controller file `path`: its size and checksums (read in chunks, off the
    /// async workers, once per run for every host that copies it).
    pub(crate) async fn open(path: &Path) -> Result<LocalFile, ModuleError> {
        use std::os::unix::fs::MetadataExt;
        let failed = |e: std::io::Error| ModuleError::Failed(format!("reading {}: {e}", path.display()));
        let m = std::fs::metadata(path).map_err(failed)?;
        let key =
            (path.to_path_buf(), m.dev(), m.ino(), m.size(), m.mtime(), m.mtime_nsec(), m.ctime(), m.ctime_nsec());
        let cell = sum_cache().lock().unwrap_or_else(|e| e.into_inner()).entry(key).or_default().clone();
        let owned = path.to_path_buf();
        let sums = cell
            .get_or_init(|| async move {
                let shown = owned.display().to_string();
                match tokio::task::spawn_blocking(move || hash_file(&owned)).await {
                    Ok(r) => r.map_err(|e| format!("reading {shown}: {e}")),
                    Err(e) => Err(format!("reading {shown}: {e}")),
                }
            })
            .await
            .clone()
            .map_err(ModuleError::Failed)?;
        Ok(LocalFile { path: path.to_path_buf(), size: m.size(), sums })
    }
}

fn hash_file(path: &Path) -> Result<Arc<Sums>, std::io::Error> {
    use sha1::Digest as _;
    let mut f = std::fs::File::open(path)?;
    let (mut s256, mut s1, mut m5) = (sha2::Sha256::new(), sha1::Sha1::new(), md5::Context::new());
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        s256.update(&buf[..n]);
        s1.update(&buf[..n]);
        m5.consume(&buf[..n]);
    }
    Ok(Arc::new(Sums {
        sha256: hex::encode(s256.finalize()),
        sha1: hex::encode(s1.finalize()),
        md5: format!("{:x}", m5.finalize()),
    }))
}

impl Content {
    /// Hex sha256 (what `sha256sum` prints on the target).
    pub(crate) fn sha256(&self) -> String {
        match self {
            Content::Bytes(d) => sha256_hex(d),
            Content::Local(f) => f.sums.sha256.clone(),
        }
    }

    /// Hex sha1: the `checksum` copy registers.
    pub(crate) fn sha1(&self) -> String {
        match self {
            Content::Bytes(d) => sha1_hex(d),
            Content::Local(f) => f.sums.sha1.clone(),
        }
    }

    /// Hex md5: the `md5sum` copy registers.
    pub(crate) fn md5(&self) -> String {
        match self {
            Content::Bytes(d) => md5_hex(d),
            Content::Local(f) => f.sums.md5.clone(),
        }
    }

    /// Writes the content to `path` on the target (a controller file streamed).
    pub(crate) async fn put(&self, cx: &ModuleCtx<'_>, path: &str, mode: Option<u32>) -> Result<(), ModuleError> {
        match self {
            Content::Bytes(d) => cx.put(path, d, mode).await,
            Content::Local(f) => cx.put_file(path, &f.path, mode).await,
        }
    }

    /// The new side of the diff: not shown when larger than [`MAX_DIFF_SIZE`] or holding a
    /// NUL byte, as ansible-core's action plugins decide for the source file.
    pub(crate) fn diff_after(&self) -> Result<DiffPart, ModuleError> {
        let small;
        let data: &[u8] = match self {
            Content::Bytes(d) => d,
            Content::Local(f) => {
                if f.size > max_diff_size() {
                    return Ok(DiffPart::Larger);
                }
                let mut d = Vec::new();
                std::fs::File::open(&f.path)
                    .and_then(|h| h.take(max_diff_size() + 1).read_to_end(&mut d))
                    .map_err(|e| ModuleError::Failed(format!("reading {} for the diff: {e}", f.path.display())))?;
                small = d;
                &small
            }
        };
        Ok(if data.len() as u64 > max_diff_size() {
            DiffPart::Larger
        } else if data.contains(&0) {
            DiffPart::Binary
        } else {
            DiffPart::Text(crate::util::diff_text(data))
        })
    }
}

/// The old side of the diff for a regular file of `size` bytes at `path`: binary when its
/// first 8 KiB hold a NUL byte (checked first, as the file module's `_diff_peek`), else not
/// shown when larger than [`MAX_DIFF_SIZE`], else its text. Only what is needed is read.
pub(crate) async fn diff_before(cx: &ModuleCtx<'_>, path: &str, size: u64) -> Result<DiffPart, ModuleError> {
    if size > max_diff_size() {
        let head = prov_core::cmd::Cmd::new("head").opt("-c", PEEK_BYTES.to_string()).operand(path).build();
        let out = cx.exec(head).await?;
        return Ok(if out.stdout.contains(&0) { DiffPart::Binary } else { DiffPart::Larger });
    }
    let data = cx.get(path).await?.unwrap_or_default();
    Ok(if data[..data.len().min(PEEK_BYTES)].contains(&0) {
        DiffPart::Binary
    } else {
        DiffPart::Text(crate::util::diff_text(&data))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_controller_file_has_the_checksums_of_its_bytes_computed_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("f");
        let data: Vec<u8> = (0..700_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(&p, &data).expect("write");
        let f = LocalFile::open(&p).await.expect("opens");
        let (file, bytes) = (Content::Local(Arc::new(f.clone())), Content::Bytes(data));
        assert_eq!((file.sha256(), file.sha1(), file.md5()), (bytes.sha256(), bytes.sha1(), bytes.md5()));
        let again = LocalFile::open(&p).await.expect("opens");
        assert!(Arc::ptr_eq(&f.sums, &again.sums), "the second host reuses the sums");
        std::fs::write(&p, b"rewritten").expect("write");
        let changed = LocalFile::open(&p).await.expect("opens");
        assert_eq!(
            Content::Local(Arc::new(changed)).sha1(),
            sha1_hex(b"rewritten"),
            "a rewritten file is summed again"
        );
        let missing = LocalFile::open(&dir.path().join("nope")).await.expect_err("missing");
        assert!(missing.to_string().contains("nope"), "{missing}");
    }

    #[tokio::test]
    async fn the_new_side_of_a_diff_is_left_out_when_larger_than_max_diff_size_or_binary() {
        let at_limit = vec![b'a'; MAX_DIFF_SIZE as usize];
        assert!(matches!(Content::Bytes(at_limit.clone()).diff_after().expect("diff"), DiffPart::Text(_)));
        let mut over = at_limit;
        over.push(b'a');
        assert_eq!(Content::Bytes(over.clone()).diff_after().expect("diff"), DiffPart::Larger);
        assert_eq!(Content::Bytes(b"a\0b".to_vec()).diff_after().expect("diff"), DiffPart::Binary);
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("big");
        std::fs::write(&p, &over).expect("write");
        let f = Content::Local(Arc::new(LocalFile::open(&p).await.expect("opens")));
        assert_eq!(f.diff_after().expect("diff"), DiffPart::Larger);
        std::fs::write(&p, "text\n").expect("write");
        let f = Content::Local(Arc::new(LocalFile::open(&p).await.expect("opens")));
        assert_eq!(f.diff_after().expect("diff"), DiffPart::Text("text\n".into()));
    }
}
