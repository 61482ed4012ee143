//! What `put` and `put_file` send, for both connections: bytes in memory or a controller file
//! streamed in chunks.

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Bytes read from a controller file at a time when uploading it.
pub(crate) const UPLOAD_CHUNK: usize = 256 * 1024;

/// What an upload sends: bytes in memory, or a controller file read in chunks.
#[derive(Clone, Copy)]
pub(crate) enum Upload<'a> {
    /// Bytes in memory.
    Bytes(&'a [u8]),
    /// A controller file.
    File(&'a std::path::Path),
}

impl Upload<'_> {
    /// Writes the whole source to `w`. A controller file that cannot be read is an error
    /// that names it.
    pub(crate) async fn send<W: tokio::io::AsyncWrite + Unpin>(self, w: &mut W) -> std::io::Result<()> {
        match self {
            Upload::Bytes(d) => w.write_all(d).await,
            Upload::File(p) => {
                let named = |e: std::io::Error| std::io::Error::new(e.kind(), format!("reading {}: {e}", p.display()));
                let mut f = tokio::fs::File::open(p).await.map_err(named)?;
                let mut buf = vec![0u8; UPLOAD_CHUNK];
                loop {
                    let n = f.read(&mut buf).await.map_err(named)?;
                    if n == 0 {
                        return Ok(());
                    }
                    w.write_all(&buf[..n]).await?;
                }
            }
        }
    }
}
