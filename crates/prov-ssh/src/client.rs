//! One russh session per host: commands go to long-lived remote shells on that session
//! (see [`crate::shell`]; exec channels when a shell cannot take them), files go through one
//! SFTP channel.
//!
//! Connection starts are throttled per server (address and port), so that many inventory
//! hosts behind one sshd do not trip its `MaxStartups` (10:30:100 by default), and overall, so
//! that a thousand hosts do not all start at once; distinct servers handshake in parallel.

use crate::known_hosts::{self, HostKeyPolicy, Verdict};
#[cfg(test)]
use crate::shell::MAX_INLINE_STDIN;
use crate::shell::{kill_tree_script, Broken, RemoteShell, Slot};
use crate::upload::Upload;
use async_trait::async_trait;
use prov_core::connection::{shell_quote, Become, Chunk, Connection, ConnectionError, ExecOutput, ExecRequest};
use russh::client::{self, Handle};
use russh::keys::agent::client::AgentClient;
use russh::keys::agent::AgentIdentity;
use russh::keys::{PrivateKeyWithHashAlg, PublicKey};
use russh::ChannelMsg;
use russh_sftp::client::SftpSession;
use russh_sftp::protocol::{FileAttributes, OpenFlags};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::sync::{OnceCell, Semaphore};

/// Settings shared by every connection of a run. Cloning shares the connect throttle.
#[derive(Debug, Clone)]
pub struct SshOptions {
    /// What to do with unknown host keys.
    pub policy: HostKeyPolicy,
    /// known_hosts files to read; `accept-new` appends to the first.
    pub known_hosts: Vec<PathBuf>,
    /// Limit for TCP connect + handshake + authentication.
    pub connect_timeout: Duration,
    /// Handshakes in flight at once, across all hosts.
    pub throttle: Arc<Semaphore>,
    /// Handshakes in flight at once to one server (address and port).
    pub per_server: Arc<ServerThrottle>,
    /// The name to look the host key up under instead of the address (OpenSSH's
    /// `HostKeyAlias`; cloud VMs use their instance id, which outlives address changes).
    pub host_key_alias: Option<String>,
    /// File uploads in flight at once, across all hosts.
    pub transfers: Arc<Semaphore>,
}

/// Handshakes in flight at once by default, across all hosts.
pub const DEFAULT_CONCURRENT_HANDSHAKES: usize = 64;

/// Handshakes in flight at once to one server by default: below sshd's `MaxStartups` start
/// value (10).
pub const DEFAULT_HANDSHAKES_PER_SERVER: usize = 8;

/// File uploads in flight at once by default, across all hosts. Each streams its file in
/// [`crate::upload::UPLOAD_CHUNK`] pieces, so a run holds at most this many chunks of file data, whatever the
/// number of hosts; the others wait their turn instead of all sharing the link.
pub const DEFAULT_CONCURRENT_TRANSFERS: usize = 16;

/// One semaphore per server (address and port), made on first use.
#[derive(Debug)]
pub struct ServerThrottle {
    limit: usize,
    servers: Mutex<HashMap<(String, u16), Arc<Semaphore>>>,
}

impl ServerThrottle {
    /// At most `limit` handshakes at once to each server.
    pub fn new(limit: usize) -> Self {
        ServerThrottle { limit, servers: Mutex::new(HashMap::new()) }
    }

    fn server(&self, host: &str, port: u16) -> Arc<Semaphore> {
        let mut m = self.servers.lock().unwrap_or_else(|e| e.into_inner());
        m.entry((host.to_string(), port)).or_insert_with(|| Arc::new(Semaphore::new(self.limit))).clone()
    }
}

impl Default for SshOptions {
    fn default() -> Self {
        SshOptions {
            policy: HostKeyPolicy::Strict,
            known_hosts: known_hosts::default_files(),
            connect_timeout: Duration::from_secs(10),
            throttle: Arc::new(Semaphore::new(DEFAULT_CONCURRENT_HANDSHAKES)),
            per_server: Arc::new(ServerThrottle::new(DEFAULT_HANDSHAKES_PER_SERVER)),
            host_key_alias: None,
            transfers: Arc::new(Semaphore::new(DEFAULT_CONCURRENT_TRANSFERS)),
        }
    }
}

/// Where and as whom to connect.
#[derive(Debug, Clone)]
pub struct SshTarget {
    /// Address or DNS name (`ansible_host`).
    pub host: String,
    /// Port (`ansible_port`).
    pub port: u16,
    /// Remote user (`ansible_user`).
    pub user: String,
    /// Private keys to offer, in order; empty means `~/.ssh/id_{ed25519,ecdsa,rsa}`. The
    /// ssh-agent (`SSH_AUTH_SOCK`) is tried after them.
    pub identity_files: Vec<PathBuf>,
    /// Inventory name, for messages.
    pub display_name: String,
}

struct Checker {
    host: String,
    port: u16,
    files: Vec<PathBuf>,
    policy: HostKeyPolicy,
    verdict: Arc<Mutex<Option<Verdict>>>,
}

impl client::Handler for Checker {
    type Error = russh::Error;

    async fn check_server_key(&mut self, key: &russh::keys::PublicKeyOrCertificate) -> Result<bool, Self::Error> {
        let key: &PublicKey = match key {
            russh::keys::PublicKeyOrCertificate::PublicKey { key, .. } => key,
            russh::keys::PublicKeyOrCertificate::Certificate(c) => {
                let v = Verdict::Error(format!(
                    "the server offered a host certificate ({}), which prov does not check",
                    c.key_id()
                ));
                *self.verdict.lock().map_err(|_| russh::Error::Disconnect)? = Some(v);
                return Ok(false);
            }
        };
        let v = known_hosts::check(&self.host, self.port, key, &self.files, self.policy);
        let ok = matches!(v, Verdict::Known | Verdict::Learned);
        *self.verdict.lock().map_err(|_| russh::Error::Disconnect)? = Some(v);
        Ok(ok)
    }
}

/// Remote shells per connection at most; a command that finds them all busy gets an exec
/// channel (sshd's `MaxSessions` defaults to 10 channels per connection).
const MAX_SHELLS: usize = 4;

/// An authenticated SSH session to one host.
pub struct SshConnection {
    name: String,
    handle: Handle<Checker>,
    sftp: OnceCell<SftpSession>,
    /// Idle remote shells, ready for the next command.
    idle: Mutex<Vec<RemoteShell>>,
    /// Remote shells alive, idle or busy.
    live: Arc<AtomicUsize>,
    /// Set when a shell could not start: this host gets exec channels only.
    no_shell: AtomicBool,
    /// Commands running now: the pid of each one's job (0 until the shell reports it) and
    /// its escalation, so that a timeout or an interrupt can kill them.
    running: Mutex<HashMap<u64, RunningJob>>,
    next_id: AtomicU64,
    /// The run's upload limit ([`SshOptions::transfers`]).
    transfers: Arc<Semaphore>,
    /// Temporary files of SFTP uploads in flight: an interrupt removes them.
    uploading: Mutex<std::collections::HashSet<String>>,
}

/// Forgets an upload's temporary file in [`SshConnection::uploading`] when the upload ends or
/// is dropped.
struct UploadGuard<'a> {
    conn: &'a SshConnection,
    tmp: String,
}

impl Drop for UploadGuard<'_> {
    fn drop(&mut self) {
        if let Ok(mut u) = self.conn.uploading.lock() {
            u.remove(&self.tmp);
        }
    }
}

/// A running command: its job's pid (0 until known) and the escalation it runs with.
type RunningJob = (Arc<AtomicI32>, Option<Become>);

/// How long [`Connection::cancel`] waits for the pid of a command that has not reported it.
/// A command on an exec channel never does (its channel closes when the run stops).
const PID_WAIT: Duration = Duration::from_secs(5);

/// Seconds between SIGTERM and SIGKILL when a command is killed.
const KILL_GRACE_SECS: u32 = 2;

/// Removes a command from [`SshConnection::running`] when its future ends or is dropped.
struct RunningGuard<'a> {
    conn: &'a SshConnection,
    id: u64,
}

impl Drop for RunningGuard<'_> {
    fn drop(&mut self) {
        if let Ok(mut r) = self.conn.running.lock() {
            r.remove(&self.id);
        }
    }
}

impl std::fmt::Debug for SshConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SshConnection").field("host", &self.name).finish()
    }
}

/// Connects, checks the host key and authenticates.
pub async fn connect(target: &SshTarget, opts: &SshOptions) -> Result<SshConnection, ConnectionError> {
    let name = target.display_name.clone();
    let unreachable = |reason: String| ConnectionError::Unreachable { host: name.clone(), reason };
    // The server's turn first, so a busy server does not hold slots others could use.
    let server = opts.per_server.server(&target.host, target.port);
    let _server_permit = server.acquire().await.map_err(|_| unreachable("connection throttle closed".into()))?;
    let _permit = opts.throttle.acquire().await.map_err(|_| unreachable("connection throttle closed".into()))?;
    let verdict = Arc::new(Mutex::new(None));
    let checker = Checker {
        // As OpenSSH's `HostKeyAlias`: the alias alone names the key, without the port.
        host: opts.host_key_alias.clone().unwrap_or_else(|| target.host.clone()),
        port: if opts.host_key_alias.is_some() { 22 } else { target.port },
        files: opts.known_hosts.clone(),
        policy: opts.policy,
        verdict: verdict.clone(),
    };
    let config = Arc::new(client::Config {
        nodelay: true,
        keepalive_interval: Some(Duration::from_secs(15)),
        keepalive_max: 3,
        ..Default::default()
    });
    let addr = (target.host.as_str(), target.port);
    let dial = async {
        let mut handle = client::connect(config, addr, checker).await;
        if handle.is_err() {
            if let Some(v) = verdict.lock().ok().and_then(|v| v.clone()) {
                return Err(verdict_error(target, v));
            }
        }
        let mut handle = match handle.as_mut() {
            Ok(_) => handle.map_err(|_| unreachable(String::new()))?,
            Err(e) => return Err(unreachable(describe(e, target))),
        };
        authenticate(&mut handle, target).await?;
        Ok(handle)
    };
    let handle = match tokio::time::timeout(opts.connect_timeout, dial).await {
        Ok(r) => r?,
        Err(_) => {
            return Err(unreachable(format!(
                "no SSH session with {}:{} within {} s",
                target.host,
                target.port,
                opts.connect_timeout.as_secs()
            )))
        }
    };
    Ok(SshConnection {
        name: target.display_name.clone(),
        handle,
        sftp: OnceCell::new(),
        idle: Mutex::new(Vec::new()),
        live: Arc::new(AtomicUsize::new(0)),
        no_shell: AtomicBool::new(false),
        running: Mutex::new(HashMap::new()),
        next_id: AtomicU64::new(0),
        transfers: opts.transfers.clone(),
        uploading: Mutex::new(std::collections::HashSet::new()),
    })
}

fn verdict_error(target: &SshTarget, v: Verdict) -> ConnectionError {
    let host = format!("{} ({}:{})", target.display_name, target.host, target.port);
    match v {
        Verdict::Mismatch { expected, offered } => ConnectionError::HostKeyMismatch { host, expected, offered },
        Verdict::Unknown { offered, files } => ConnectionError::HostKeyUnknown { host, offered, known_hosts: files },
        Verdict::Revoked { offered, at } => ConnectionError::HostKeyRevoked { host, offered, at },
        Verdict::Error(reason) => ConnectionError::Unreachable { host, reason },
        Verdict::Known | Verdict::Learned => ConnectionError::Unreachable {
            host,
            reason: "the SSH handshake failed after the host key was accepted".into(),
        },
    }
}

fn describe(e: &russh::Error, target: &SshTarget) -> String {
    match e {
        russh::Error::IO(io) => format!("cannot connect to {}:{}: {io}", target.host, target.port),
        other => format!("SSH handshake with {}:{} failed: {other}", target.host, target.port),
    }
}

fn default_identities() -> Vec<PathBuf> {
    let Some(home) = std::env::var_os("HOME") else { return Vec::new() };
    ["id_ed25519", "id_ecdsa", "id_rsa"]
        .iter()
        .map(|n| PathBuf::from(&home).join(".ssh").join(n))
        .filter(|p| p.exists())
        .collect()
}

async fn authenticate(handle: &mut Handle<Checker>, target: &SshTarget) -> Result<(), ConnectionError> {
    let explicit = !target.identity_files.is_empty();
    let files = if explicit { target.identity_files.clone() } else { default_identities() };
    let mut tried = Vec::new();
    let rsa_hash = handle.best_supported_rsa_hash().await.ok().flatten().flatten();
    for f in &files {
        let key = match russh::keys::load_secret_key(f, None) {
            Ok(k) => k,
            Err(e) => {
                if explicit {
                    return Err(ConnectionError::Auth {
                        host: target.display_name.clone(),
                        user: target.user.clone(),
                        reason: format!("cannot load private key {}: {e}", f.display()),
                    });
                }
                tried.push(format!("{} (unreadable: {e})", f.display()));
                continue;
            }
        };
        let key = PrivateKeyWithHashAlg::new(Arc::new(key), rsa_hash);
        match handle.authenticate_publickey(target.user.clone(), key).await {
            Ok(r) if r.success() => return Ok(()),
            Ok(_) => tried.push(f.display().to_string()),
            Err(e) => {
                return Err(ConnectionError::Unreachable { host: target.display_name.clone(), reason: e.to_string() })
            }
        }
    }
    if let Ok(mut agent) = AgentClient::connect_env().await {
        if let Ok(ids) = agent.request_identities().await {
            for id in ids {
                let AgentIdentity::PublicKey { key, comment } = id else { continue };
                let hash = if key.algorithm().is_rsa() { rsa_hash } else { None };
                match handle.authenticate_publickey_with(target.user.clone(), key, hash, &mut agent).await {
                    Ok(r) if r.success() => return Ok(()),
                    _ => tried.push(format!("agent key {comment}")),
                }
            }
        }
    }
    let reason = if tried.is_empty() {
        "no private key to offer: set ansible_ssh_private_key_file, put a key in ~/.ssh, or start ssh-agent".to_string()
    } else {
        format!("the server refused every key offered: {}", tried.join(", "))
    };
    Err(ConnectionError::Auth { host: target.display_name.clone(), user: target.user.clone(), reason })
}

impl SshConnection {
    /// Whether the session has ended (the server closed it, or the network went away).
    pub fn is_closed(&self) -> bool {
        self.handle.is_closed()
    }

    fn lost(&self, e: impl std::fmt::Display) -> ConnectionError {
        ConnectionError::Unreachable { host: self.name.clone(), reason: format!("SSH session lost: {e}") }
    }

    fn transfer(&self, path: &str, e: impl std::fmt::Display) -> ConnectionError {
        ConnectionError::Transfer { host: self.name.clone(), path: path.to_string(), reason: e.to_string() }
    }

    /// Runs a command on an idle remote shell, a new one, or (when the shell cannot take it, or
    /// none can start) an exec channel of its own.
    async fn run(&self, req: ExecRequest) -> Result<ExecOutput, ConnectionError> {
        self.run_tracked(req, &AtomicI32::new(0)).await
    }

    /// [`Self::run`], storing the pid of the command's job in `pid` once it is known.
    async fn run_tracked(&self, req: ExecRequest, pid: &AtomicI32) -> Result<ExecOutput, ConnectionError> {
        let stdin = req.stdin.as_deref().map(Upload::Bytes);
        let Some(mut shell) = self.shell().await else { return self.run_channel(req.shell_line(), stdin).await };
        match shell.run(&req, pid).await {
            None => {
                self.idle_shell(shell);
                self.run_channel(req.shell_line(), stdin).await
            }
            Some(Ok(out)) => {
                self.idle_shell(shell);
                Ok(out)
            }
            Some(Err(Broken::NotStarted)) => {
                self.no_shell.store(true, Ordering::SeqCst);
                self.run_channel(req.shell_line(), stdin).await
            }
            // The shell ended during the command: like an exec channel closed without a status.
            Some(Err(Broken::Ended(mut out))) => {
                if self.handle.is_closed() {
                    return Err(self.lost("the connection closed during a command"));
                }
                out.rc = -1;
                out.stderr.extend_from_slice(b"prov: the remote shell ended during the command\n");
                Ok(out)
            }
        }
    }

    /// An idle shell, or a new one while there are fewer than [`MAX_SHELLS`]; `None` means
    /// "use an exec channel".
    async fn shell(&self) -> Option<RemoteShell> {
        if self.no_shell.load(Ordering::SeqCst) {
            return None;
        }
        loop {
            let Some(mut s) = self.idle.lock().ok()?.pop() else { break };
            if s.is_idle_and_open() {
                return Some(s);
            }
        }
        // Counted before it starts, so concurrent starts stay within the limit.
        let slot = Slot::reserve(&self.live, MAX_SHELLS)?;
        let ch = self.handle.channel_open_session().await.ok()?;
        match RemoteShell::start(ch, slot).await {
            Ok(s) => Some(s),
            Err(_) => {
                self.no_shell.store(true, Ordering::SeqCst);
                None
            }
        }
    }

    fn idle_shell(&self, shell: RemoteShell) {
        if let Ok(mut idle) = self.idle.lock() {
            idle.push(shell);
        }
    }

    /// Runs a command line on an exec channel of its own.
    /// A controller file that stops being readable midway ends the command's input early: a
    /// command that must have it all checks its length.
    async fn run_channel(&self, line: String, stdin: Option<Upload<'_>>) -> Result<ExecOutput, ConnectionError> {
        let mut ch = self.handle.channel_open_session().await.map_err(|e| self.lost(e))?;
        ch.exec(true, line).await.map_err(|e| self.lost(e))?;
        if let Some(data) = stdin {
            let mut w = ch.make_writer();
            // A command that does not read its input may close early; that is its business.
            let _ = data.send(&mut w).await;
            let _ = w.shutdown().await;
            ch.eof().await.map_err(|e| self.lost(e))?;
        }
        let mut out = ExecOutput { rc: -1, stdout: Vec::new(), stderr: Vec::new() };
        let mut status = None;
        while let Some(msg) = ch.wait().await {
            match msg {
                ChannelMsg::Data { data } => out.stdout.extend_from_slice(&data),
                ChannelMsg::ExtendedData { data, ext: 1 } => out.stderr.extend_from_slice(&data),
                ChannelMsg::ExitStatus { exit_status } => status = Some(exit_status as i32),
                ChannelMsg::ExitSignal { signal_name, .. } => {
                    out.stderr.extend_from_slice(format!("killed by signal {signal_name:?}\n").as_bytes());
                    status = Some(-1);
                }
                _ => {}
            }
        }
        match status {
            Some(rc) => {
                out.rc = rc;
                Ok(out)
            }
            None if self.handle.is_closed() => Err(self.lost("the connection closed during a command")),
            None => Ok(out),
        }
    }

    /// Kills the process tree of the job `pid` (see [`kill_tree_script`]) on an exec channel
    /// of its own, with the job's escalation. Best effort: a job that already ended, or a host
    /// that is gone, leaves nothing to kill.
    async fn kill_job(&self, pid: i32, become_: Option<&Become>) {
        if pid <= 0 {
            return;
        }
        let line = ExecRequest::new(kill_tree_script(pid, KILL_GRACE_SECS)).with_become(become_.cloned()).shell_line();
        let _ =
            tokio::time::timeout(Duration::from_secs(u64::from(KILL_GRACE_SECS) + 10), self.run_channel(line, None))
                .await;
    }

    /// Writes `src` (`size` bytes) to `path`: into a fresh private temporary file beside it,
    /// then chmod and rename. At most [`SshOptions::transfers`] uploads of the run are in
    /// flight at once.
    async fn upload(
        &self,
        path: &str,
        src: Upload<'_>,
        size: u64,
        mode: Option<u32>,
        become_: Option<&Become>,
    ) -> Result<(), ConnectionError> {
        let _turn = self.transfers.acquire().await.map_err(|e| self.transfer(path, e))?;
        let t = crate::tmpfile::temp_for(path).map_err(|e| self.transfer(path, e))?;
        let (tq, pq) = (shell_quote(&t.tmp), shell_quote(path));
        // Without a mode, as a module Ansible runs: the replaced file's mode, else what the
        // umask (`$u`, read before anything changes it) gives a new file.
        let chmod = match mode {
            Some(m) => format!("chmod {m:o} -- {tq}"),
            None => format!(
                "{{ m=$(stat -L -c %a -- {pq} 2>/dev/null) || m=$(printf %o $(( 0666 & ~$u ))); }} && chmod \"$m\" -- {tq}"
            ),
        };
        // After the rename: temporary files of this destination left by killed runs go too.
        let finish = format!(
            "{chmod} && mv -f -- {tq} {pq} || {{ rc=$?; rm -f -- {tq}; exit $rc; }}; rm -f -- {}",
            t.stale_glob
        );
        if let Some(b) = become_ {
            // SFTP runs as the login user: stream the bytes to a command running as `b`.
            // `set -C` makes `>` create the file exclusively; umask 077 keeps it private. Input
            // that ended early (an unreadable source) leaves no file.
            let cmd = format!(
                "u=$(umask); umask 077 && set -C && cat > {tq} && [ $(wc -c < {tq}) -eq {size} ] \
                 || {{ rm -f -- {tq}; echo 'prov: the upload ended early' >&2; exit 1; }}; {finish}"
            );
            let out = match src {
                Upload::Bytes(d) => {
                    self.run(ExecRequest::new(cmd).with_become(Some(b.clone())).with_stdin(d.to_vec())).await?
                }
                Upload::File(_) => {
                    let line = ExecRequest::new(cmd).with_become(Some(b.clone())).shell_line();
                    self.run_channel(line, Some(src)).await?
                }
            };
            if out.rc != 0 {
                return Err(self.transfer(path, out.stderr_str().trim()));
            }
            return Ok(());
        }
        let sftp = self.sftp().await?;
        // Exclusive creation (O_CREAT|O_EXCL on the server: an existing file or symbolic link
        // at the name is an error, never followed), private until renamed.
        let flags = OpenFlags::CREATE | OpenFlags::EXCLUDE | OpenFlags::WRITE;
        let attrs = FileAttributes { permissions: Some(0o600), ..FileAttributes::empty() };
        // Known to an interrupt from before the file exists (removing a missing one is harmless).
        if let Ok(mut u) = self.uploading.lock() {
            u.insert(t.tmp.clone());
        }
        let _uploading = UploadGuard { conn: self, tmp: t.tmp.clone() };
        let mut f = sftp
            .open_with_flags_and_attributes(t.tmp.clone(), flags, attrs)
            .await
            .map_err(|e| self.transfer(path, e))?;
        let written = async {
            src.send(&mut f).await?;
            f.shutdown().await
        }
        .await;
        if let Err(e) = written {
            let _ = sftp.remove_file(t.tmp.clone()).await;
            return Err(self.transfer(path, e));
        }
        // SFTP v3 rename refuses to replace; `mv -f` on the target is one atomic rename(2).
        let out = self.run(ExecRequest::new(format!("u=$(umask); {finish}"))).await?;
        if out.rc != 0 {
            return Err(self.transfer(path, out.stderr_str().trim()));
        }
        Ok(())
    }

    async fn sftp(&self) -> Result<&SftpSession, ConnectionError> {
        self.sftp
            .get_or_try_init(|| async {
                let ch = self.handle.channel_open_session().await.map_err(|e| self.lost(e))?;
                ch.request_subsystem(true, "sftp").await.map_err(|e| self.lost(e))?;
                SftpSession::new(ch.into_stream()).await.map_err(|e| self.transfer("(sftp)", e))
            })
            .await
    }
}

#[async_trait]
impl Connection for SshConnection {
    async fn exec(&self, req: ExecRequest) -> Result<ExecOutput, ConnectionError> {
        let timeout = req.timeout;
        let pid = Arc::new(AtomicI32::new(0));
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut r) = self.running.lock() {
            r.insert(id, (pid.clone(), req.become_.clone()));
        }
        let _guard = RunningGuard { conn: self, id };
        let become_ = req.become_.clone();
        let run = self.run_tracked(req, &pid);
        match timeout {
            None => run.await,
            Some(t) => match tokio::time::timeout(t, run).await {
                Ok(r) => r,
                Err(_) => {
                    // The task fails; its command must not go on running on the target.
                    self.kill_job(pid.load(Ordering::SeqCst), become_.as_ref()).await;
                    Err(ConnectionError::Timeout { host: self.name.clone(), secs: t.as_secs() })
                }
            },
        }
    }

    /// Kills every command running when it is called. A command whose job pid is not known
    /// yet (sent but not reported, or waiting for its shell) is killed as soon as the pid
    /// arrives, for up to [`PID_WAIT`]: the commands' own futures go on meanwhile, which is
    /// how the pids arrive. Commands started after the call are not touched.
    async fn cancel(&self) {
        let cutoff = self.next_id.load(Ordering::SeqCst);
        let deadline = tokio::time::Instant::now() + PID_WAIT;
        let mut killed = std::collections::HashSet::new();
        loop {
            let mut ready = Vec::new();
            let mut waiting = false;
            match self.running.lock() {
                Ok(r) => {
                    for (id, (p, b)) in r.iter().filter(|(id, _)| **id < cutoff && !killed.contains(*id)) {
                        match p.load(Ordering::SeqCst) {
                            0 => waiting = true,
                            pid => ready.push((*id, pid, b.clone())),
                        }
                    }
                }
                Err(_) => return,
            }
            futures_util::future::join_all(ready.iter().map(|(_, p, b)| self.kill_job(*p, b.as_ref()))).await;
            killed.extend(ready.into_iter().map(|(id, _, _)| id));
            if !waiting || tokio::time::Instant::now() >= deadline {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // Uploads stop with the run: their temporary files go now (an upload still sending
        // writes into a removed file, and its rename then fails).
        let tmps: Vec<String> = self.uploading.lock().map(|u| u.iter().cloned().collect()).unwrap_or_default();
        if !tmps.is_empty() {
            let line = format!("rm -f -- {}", tmps.iter().map(|t| shell_quote(t)).collect::<Vec<_>>().join(" "));
            let _ = tokio::time::timeout(Duration::from_secs(10), self.run(ExecRequest::new(line))).await;
        }
    }

    /// On an exec channel of its own: input copied to the channel until it ends (then EOF),
    /// output sent on as it arrives; the input side stops when the command has ended.
    async fn exec_stream(
        &self,
        command: &str,
        stdin: &mut (dyn tokio::io::AsyncRead + Send + Unpin),
        output: &tokio::sync::mpsc::Sender<Chunk>,
    ) -> Result<i32, ConnectionError> {
        let mut ch = self.handle.channel_open_session().await.map_err(|e| self.lost(e))?;
        ch.exec(true, command).await.map_err(|e| self.lost(e))?;
        let mut w = ch.make_writer();
        let input = async {
            // The command may stop reading early; what it does not read is its business.
            let _ = tokio::io::copy(stdin, &mut w).await;
            let _ = w.shutdown().await;
            std::future::pending::<()>().await
        };
        let out = async {
            let mut status = None;
            while let Some(msg) = ch.wait().await {
                let chunk = match msg {
                    ChannelMsg::Data { data } => Chunk::Stdout(data.to_vec()),
                    ChannelMsg::ExtendedData { data, ext: 1 } => Chunk::Stderr(data.to_vec()),
                    ChannelMsg::ExitStatus { exit_status } => {
                        status = Some(exit_status as i32);
                        continue;
                    }
                    ChannelMsg::ExitSignal { .. } => {
                        status = Some(-1);
                        continue;
                    }
                    _ => continue,
                };
                // A reader that went away ends the conversation: the command's next write
                // fails on its side too.
                if output.send(chunk).await.is_err() {
                    break;
                }
            }
            status
        };
        let status = tokio::select! {
            s = out => s,
            () = input => None,
        };
        match status {
            Some(rc) => Ok(rc),
            None if self.handle.is_closed() => Err(self.lost("the connection closed during a command")),
            None => Ok(-1),
        }
    }

    async fn put(
        &self,
        path: &str,
        data: &[u8],
        mode: Option<u32>,
        become_: Option<&Become>,
    ) -> Result<(), ConnectionError> {
        self.upload(path, Upload::Bytes(data), data.len() as u64, mode, become_).await
    }

    async fn put_file(
        &self,
        path: &str,
        local: &std::path::Path,
        mode: Option<u32>,
        become_: Option<&Become>,
    ) -> Result<(), ConnectionError> {
        let size = tokio::fs::metadata(local)
            .await
            .map_err(|e| self.transfer(path, format!("reading {}: {e}", local.display())))?
            .len();
        self.upload(path, Upload::File(local), size, mode, become_).await
    }

    async fn get(&self, path: &str, become_: Option<&Become>) -> Result<Option<Vec<u8>>, ConnectionError> {
        if let Some(b) = become_ {
            let cmd = format!(
                "if [ -e {p} ]; then cat {p}; else echo __prov_absent__ >&2; exit 1; fi",
                p = shell_quote(path)
            );
            let req = ExecRequest::new(cmd).with_become(Some(b.clone()));
            let out = self.run(req).await?;
            if out.rc == 0 {
                return Ok(Some(out.stdout));
            }
            if out.stderr_str().contains("__prov_absent__") {
                return Ok(None);
            }
            return Err(self.transfer(path, out.stderr_str().trim()));
        }
        let sftp = self.sftp().await?;
        match sftp.read(path.to_string()).await {
            Ok(data) => Ok(Some(data)),
            Err(russh_sftp::client::error::Error::Status(s))
                if s.status_code == russh_sftp::protocol::StatusCode::NoSuchFile =>
            {
                Ok(None)
            }
            Err(e) => Err(self.transfer(path, e)),
        }
    }
}

#[cfg(test)]
mod tests;
