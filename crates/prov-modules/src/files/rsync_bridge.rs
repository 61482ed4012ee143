//! How a local `rsync` reaches its remote half over the SSH connection prov already has.
//!
//! `synchronize` runs `rsync` on the controller, as Ansible's module does, but instead of
//! `--rsh=ssh ...` it gives `--rsh=PROV rsync-rsh SOCKET`: rsync starts that program as it
//! would start ssh (`PROV rsync-rsh SOCKET [-l USER] HOST COMMAND...`), and the
//! program ([`rsh_main`], a hidden entry of the `prov` binary) passes its standard input and
//! output through a Unix socket to the task, which runs COMMAND on an exec channel of the
//! host's session ([`prov_core::connection::Connection::exec_stream`]). So the transfer uses
//! the inventory's address, port, user, keys and host-key checking, with no ssh client.
//!
//! The socket lives in a private directory (mode 0700) of the task, and a client must send
//! the task's random token, which rsync passes on to it in its environment ([`TOKEN_ENV`]).
//! Wire format, client to task: one header (`u32` big-endian length, then a JSON list: the
//! token, then the words rsync gave after the socket), then the raw input; task to client:
//! frames of a tag byte (1 stdout, 3 exit status), a `u32` big-endian length and the bytes
//! (the exit status as an `i32` big-endian).
//!
//! The remote half's stderr does not go through the client: the task adds it to what it
//! reads of rsync's own stderr as it arrives, as ssh writes it to the stderr it shares with
//! rsync. (rsync's remote half writes its error there and then sends the message that ends
//! the run, on which the local rsync exits at once and takes its remote shell with it: a
//! client that was still to pass the error on would lose it.)

use prov_core::connection::{Chunk, Connection};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixListener;

/// The first argument of the `prov` binary that selects [`rsh_main`].
pub const RSH_ARG: &str = "rsync-rsh";

/// The environment variable that carries the task's token to [`rsh_main`].
pub const TOKEN_ENV: &str = "PROV_RSYNC_TOKEN";

const STDOUT: u8 = 1;
const EXIT: u8 = 3;
/// The most a header may hold: rsync's command line is a few hundred bytes.
const MAX_HEADER: u32 = 1 << 20;

/// The remote half rsync asks for: its command words, after ssh's `-l USER` and the host.
#[derive(Debug, PartialEq, Eq)]
pub struct Request {
    /// `-l USER`, when rsync gave one.
    pub user: Option<String>,
    /// The host rsync named.
    pub host: String,
    /// The command, as ssh would send it: the words joined by spaces.
    pub command: String,
}

/// Reads rsync's arguments to its remote shell: options as ssh's (`-l USER`; rsync adds
/// nothing else), the host, then the command words.
pub fn parse_rsh_args(words: &[String]) -> Result<Request, String> {
    let mut user = None;
    let mut i = 0;
    while let Some(w) = words.get(i) {
        match w.as_str() {
            "-l" => {
                user = Some(words.get(i + 1).ok_or("`-l` without a user")?.clone());
                i += 2;
            }
            o if o.starts_with('-') => return Err(format!("unexpected option `{o}` from rsync")),
            _ => break,
        }
    }
    let host = words.get(i).ok_or("no host from rsync")?.clone();
    let rest = &words[i + 1..];
    if rest.is_empty() {
        return Err("no command from rsync".into());
    }
    Ok(Request { user, host, command: rest.join(" ") })
}

/// A listening socket for one task's rsync, in a private directory removed when dropped.
pub struct Bridge {
    dir: tempfile::TempDir,
    listener: UnixListener,
    token: String,
}

impl Bridge {
    /// Opens the socket.
    pub fn open() -> Result<Bridge, String> {
        let dir = tempfile::Builder::new()
            .prefix("prov-rsync.")
            .tempdir()
            .map_err(|e| format!("cannot make a directory for rsync's socket: {e}"))?;
        // tempfile makes it 0700 already; said again, as the token's secrecy rests on it.
        std::fs::set_permissions(dir.path(), std::os::unix::fs::PermissionsExt::from_mode(0o700))
            .map_err(|e| format!("cannot protect {}: {e}", dir.path().display()))?;
        let listener = UnixListener::bind(dir.path().join("s"))
            .map_err(|e| format!("cannot listen on {}: {e}", dir.path().join("s").display()))?;
        let mut raw = [0u8; 16];
        getrandom::fill(&mut raw).map_err(|e| format!("no randomness for rsync's token: {e}"))?;
        let token = raw.iter().map(|b| format!("{b:02x}")).collect();
        Ok(Bridge { dir, listener, token })
    }

    /// The socket's path.
    pub fn socket(&self) -> PathBuf {
        self.dir.path().join("s")
    }

    /// The program and arguments to give rsync as its remote shell (`exe` is prov's binary).
    pub fn rsh_words(&self, exe: &Path) -> Vec<String> {
        vec![exe.display().to_string(), RSH_ARG.to_string(), self.socket().display().to_string()]
    }

    /// The environment variable rsync must have, for its remote shell: ([`TOKEN_ENV`], token).
    pub fn token_env(&self) -> (&'static str, &str) {
        (TOKEN_ENV, &self.token)
    }

    /// Serves rsync's remote shells until `done` completes (rsync ended), each on `conn`:
    /// a request for a host other than `host` is refused. Returns `done`'s output.
    /// A request for another user than `user` (the `USER@` of the task's paths, which rsync
    /// passes as `-l USER`) is refused too: the connection logs in as its own user. The
    /// remote halves' stderr, and the bridge's own complaints, go to `errors`. When `done`
    /// completes, the sessions still open get a moment to end (their input ends with rsync's,
    /// which lets the remote half end and its channel close).
    pub async fn serve<T>(
        &self,
        conn: &dyn Connection,
        host: &str,
        user: Option<&str>,
        errors: &Mutex<Vec<u8>>,
        done: impl std::future::Future<Output = T>,
    ) -> T {
        tokio::pin!(done);
        let mut sessions = futures_util::stream::FuturesUnordered::new();
        loop {
            tokio::select! {
                out = &mut done => {
                    let rest = async { while futures_util::StreamExt::next(&mut sessions).await.is_some() {} };
                    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), rest).await;
                    return out;
                }
                acc = self.listener.accept() => match acc {
                    Ok((stream, _)) => sessions.push(self.session(conn, host, user, errors, stream)),
                    // Out of file descriptors, say: rsync's remote shell fails on its side;
                    // no busy loop here meanwhile.
                    Err(_) => tokio::time::sleep(std::time::Duration::from_millis(20)).await,
                },
                Some(()) = futures_util::StreamExt::next(&mut sessions), if !sessions.is_empty() => {}
            }
        }
    }

    async fn session(
        &self,
        conn: &dyn Connection,
        host: &str,
        user: Option<&str>,
        errors: &Mutex<Vec<u8>>,
        stream: tokio::net::UnixStream,
    ) {
        let (mut rd, mut wr) = stream.into_split();
        let header = async {
            let len = rd.read_u32().await.map_err(|e| e.to_string())?;
            if len > MAX_HEADER {
                return Err("header too long".to_string());
            }
            let mut buf = vec![0u8; len as usize];
            rd.read_exact(&mut buf).await.map_err(|e| e.to_string())?;
            let words: Vec<String> = serde_json::from_slice(&buf).map_err(|e| e.to_string())?;
            Ok::<_, String>(words)
        };
        let words = match header.await {
            Ok(w) => w,
            Err(e) => {
                return refuse(&mut wr, errors, &format!("prov: bad request from rsync's remote shell: {e}")).await
            }
        };
        let Some((token, rest)) = words.split_first() else {
            return refuse(&mut wr, errors, "prov: empty request from rsync's remote shell").await;
        };
        if !constant_time_eq(token.as_bytes(), self.token.as_bytes()) {
            return refuse(&mut wr, errors, "prov: rsync's remote shell gave a wrong token").await;
        }
        let req = match parse_rsh_args(rest) {
            Ok(r) => r,
            Err(e) => return refuse(&mut wr, errors, &format!("prov: {e}")).await,
        };
        if req.host != host {
            let msg =
                format!("prov: rsync asked for host `{}`; this task's connection reaches `{host}` only", req.host);
            return refuse(&mut wr, errors, &msg).await;
        }
        // Output goes on in the order it came: rsync's remote half writes its error to stderr
        // before the message that ends the run, which the local rsync acts on at once.
        if let Some(asked) = req.user.as_deref().filter(|u| Some(*u) != user) {
            let msg = format!(
                "prov: rsync asked to log in as `{asked}`; this task's connection logs in as its own user{}",
                user.map(|u| format!(" (`{u}`)")).unwrap_or_default()
            );
            return refuse(&mut wr, errors, &msg).await;
        }
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Chunk>(16);
        let run = async {
            let rc = conn.exec_stream(&req.command, &mut rd, &tx).await;
            drop(tx);
            rc
        };
        let writer = async {
            // After a failed write (the remote shell is gone), output is read and dropped,
            // so that the command never waits on a full channel.
            let mut open = true;
            while let Some(chunk) = rx.recv().await {
                match chunk {
                    Chunk::Stdout(d) if open => open = write_frame(&mut wr, STDOUT, &d).await.is_ok(),
                    Chunk::Stdout(_) => {}
                    Chunk::Stderr(d) => append(errors, &d),
                }
            }
            wr
        };
        let (rc, mut wr) = tokio::join!(run, writer);
        let rc = match rc {
            Ok(rc) => rc,
            Err(e) => {
                append(errors, format!("prov: {e}\n").as_bytes());
                255
            }
        };
        let _ = write_frame(&mut wr, EXIT, &rc.to_be_bytes()).await;
        let _ = wr.shutdown().await;
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn append(errors: &Mutex<Vec<u8>>, data: &[u8]) {
    if let Ok(mut e) = errors.lock() {
        e.extend_from_slice(data);
    }
}

async fn refuse(wr: &mut tokio::net::unix::OwnedWriteHalf, errors: &Mutex<Vec<u8>>, msg: &str) {
    append(errors, format!("{msg}\n").as_bytes());
    let _ = write_frame(wr, EXIT, &255i32.to_be_bytes()).await;
    let _ = wr.shutdown().await;
}

async fn write_frame(w: &mut tokio::net::unix::OwnedWriteHalf, tag: u8, data: &[u8]) -> std::io::Result<()> {
    let len = u32::try_from(data.len()).map_err(std::io::Error::other)?;
    let mut head = [0u8; 5];
    head[0] = tag;
    head[1..].copy_from_slice(&len.to_be_bytes());
    w.write_all(&head).await?;
    w.write_all(data).await?;
    w.flush().await
}

/// The remote shell rsync starts (`prov rsync-rsh SOCKET [-l USER] HOST COMMAND...`):
/// passes its input and output through the task's socket. Returns the exit status to end
/// with: the remote command's, or 255 as ssh's for a failure of its own.
pub fn rsh_main(args: &[std::ffi::OsString]) -> i32 {
    let args: Vec<String> = match args.iter().map(|a| a.clone().into_string()).collect() {
        Ok(a) => a,
        Err(a) => {
            eprintln!("prov {RSH_ARG}: an argument is not UTF-8: {}", a.to_string_lossy());
            return 255;
        }
    };
    let Some((socket, words)) = args.split_first() else {
        eprintln!("prov {RSH_ARG}: started without a socket (it is rsync's remote shell for synchronize)");
        return 255;
    };
    match rsh(socket, words) {
        Ok(rc) => rc,
        Err(e) => {
            eprintln!("prov {RSH_ARG}: {e}");
            255
        }
    }
}

fn rsh(socket: &str, words: &[String]) -> std::io::Result<i32> {
    let token = std::env::var(TOKEN_ENV).map_err(|_| std::io::Error::other(format!("{TOKEN_ENV} is not set")))?;
    let mut s = std::os::unix::net::UnixStream::connect(socket)?;
    let header =
        serde_json::to_vec(&std::iter::once(&token).chain(words).collect::<Vec<_>>()).map_err(std::io::Error::other)?;
    let len = u32::try_from(header.len()).map_err(std::io::Error::other)?;
    s.write_all(&len.to_be_bytes())?;
    s.write_all(&header)?;
    let mut up = s.try_clone()?;
    // Input goes up on a thread of its own, so that output flows while rsync writes.
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut std::io::stdin().lock(), &mut up);
        let _ = up.shutdown(std::net::Shutdown::Write);
    });
    let mut stdout = std::io::stdout().lock();
    loop {
        let mut head = [0u8; 5];
        if s.read_exact(&mut head).is_err() {
            return Err(std::io::Error::other("the task's socket closed before the command ended"));
        }
        let len = u32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize;
        let mut data = vec![0u8; len];
        s.read_exact(&mut data)?;
        match head[0] {
            STDOUT => {
                stdout.write_all(&data)?;
                stdout.flush()?;
            }
            EXIT if len == 4 => return Ok(i32::from_be_bytes([data[0], data[1], data[2], data[3]])),
            t => return Err(std::io::Error::other(format!("unknown frame {t} from the task"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn rsh_args_are_read_as_ssh_reads_them() {
        let r =
            parse_rsh_args(&w(&["-l", "root", "127.0.1.1", "rsync", "--server", "-logDtprze.iLsfxCIvu", ".", "/x"]))
                .unwrap();
        assert_eq!(r.user.as_deref(), Some("root"));
        assert_eq!(r.host, "127.0.1.1");
        assert_eq!(r.command, "rsync --server -logDtprze.iLsfxCIvu . /x");
        let r = parse_rsh_args(&w(&["web1", "rsync", "--server"])).unwrap();
        assert_eq!((r.user, r.host.as_str()), (None, "web1"));
        assert!(parse_rsh_args(&w(&["-p", "22", "h", "rsync"])).unwrap_err().contains("-p"));
        assert!(parse_rsh_args(&w(&["h"])).is_err());
        assert!(parse_rsh_args(&w(&["-l"])).is_err());
    }

    #[test]
    fn tokens_compare_whole() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
