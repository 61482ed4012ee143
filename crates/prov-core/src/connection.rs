//! The [`Connection`] contract: how modules reach a host. Implementations live in `prov-ssh`
//! (russh pool, local) and `testutil` (a scripted fake).

use crate::cmd::Cmd;
use async_trait::async_trait;
use std::time::Duration;

/// Privilege escalation for one command (`become`), done with `sudo -n` or `su`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Become {
    /// Target user (`become_user`, default `root`).
    pub user: String,
    /// Escalation method (`become_method`).
    pub method: BecomeMethod,
}

/// How to escalate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BecomeMethod {
    /// `sudo -n -u USER -- sh -c CMD` (no password prompt: must be NOPASSWD).
    Sudo,
    /// `su -c 'sh -c CMD' -- USER`: USER's login shell runs `sh -c CMD`, as ansible-core's
    /// `su` plugin does (so a user whose shell is `nologin` cannot be become). No password
    /// can be given: it works where `su` asks none (the connected user is root).
    Su,
}

impl BecomeMethod {
    /// The methods prov supports, for messages.
    pub const SUPPORTED: &'static str = "sudo, su";

    /// The method a `become_method` value names, if prov supports it.
    pub fn parse(name: &str) -> Option<BecomeMethod> {
        match name {
            "sudo" => Some(BecomeMethod::Sudo),
            "su" => Some(BecomeMethod::Su),
            _ => None,
        }
    }

    /// Its `become_method` name.
    pub fn name(self) -> &'static str {
        match self {
            BecomeMethod::Sudo => "sudo",
            BecomeMethod::Su => "su",
        }
    }
}

/// One command to run on the target through `sh -c`.
#[derive(Debug, Clone, Default)]
pub struct ExecRequest {
    /// Shell command line (POSIX `sh` syntax).
    pub command: String,
    /// Bytes fed to the command's standard input (then closed).
    pub stdin: Option<Vec<u8>>,
    /// Run as another user.
    pub become_: Option<Become>,
    /// Extra environment variables (`environment:` keyword).
    pub env: Vec<(String, String)>,
    /// Give up (and report a timeout) after this long.
    pub timeout: Option<Duration>,
}

impl ExecRequest {
    /// A plain command with no input, no escalation.
    pub fn new(command: impl Into<String>) -> Self {
        ExecRequest { command: command.into(), ..Default::default() }
    }

    /// Same request with escalation.
    pub fn with_become(mut self, b: Option<Become>) -> Self {
        self.become_ = b;
        self
    }

    /// Same request with bytes on stdin.
    pub fn with_stdin(mut self, data: Vec<u8>) -> Self {
        self.stdin = Some(data);
        self
    }

    /// The full command line a shell on the target should run, with `env` and `become` applied.
    /// Connections that only have "run this string" use this.
    pub fn shell_line(&self) -> String {
        let mut inner = String::new();
        if !self.env.is_empty() {
            inner.push_str("env");
            for (k, v) in &self.env {
                inner.push(' ');
                inner.push_str(&shell_quote(&format!("{k}={v}")));
            }
            inner.push_str(" sh -c ");
            inner.push_str(&shell_quote(&self.command));
        } else {
            inner.push_str(&self.command);
        }
        match &self.become_ {
            None => inner,
            Some(b) => match b.method {
                BecomeMethod::Sudo => {
                    format!("sudo -n -H -u {} -- sh -c {}", shell_quote(&b.user), shell_quote(&inner))
                }
                // The user's shell (whatever it is) gets `-c 'sh -c INNER'`; the user is an
                // operand after `--`, never an option, whatever its first character.
                BecomeMethod::Su => {
                    let sh = Cmd::new("sh").opt("-c", &inner).build();
                    Cmd::new("su").opt("-c", sh.as_str()).operand(&b.user).build().into()
                }
            },
        }
    }
}

/// What a command did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecOutput {
    /// Exit status (`-1` when killed by a signal).
    pub rc: i32,
    /// Standard output.
    pub stdout: Vec<u8>,
    /// Standard error.
    pub stderr: Vec<u8>,
}

impl ExecOutput {
    /// Stdout as text (lossy).
    pub fn stdout_str(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    /// Stderr as text (lossy).
    pub fn stderr_str(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
}

/// Why a connection could not do what was asked. Anything here makes the host *unreachable*
/// except [`ConnectionError::Timeout`] and [`ConnectionError::Transfer`], which fail the task.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ConnectionError {
    /// TCP/SSH could not be established or broke.
    #[error("{host}: unreachable: {reason}")]
    Unreachable {
        /// Host name.
        host: String,
        /// What happened.
        reason: String,
    },
    /// The server's host key does not match known_hosts.
    #[error("{host}: host key mismatch: known_hosts has {expected}, the server offered {offered}")]
    HostKeyMismatch {
        /// Host name and address.
        host: String,
        /// Fingerprint(s) recorded in known_hosts (with file:line).
        expected: String,
        /// Fingerprint the server offered.
        offered: String,
    },
    /// The host is not in known_hosts and host-key checking is strict.
    #[error("{host}: host key {offered} is not in {known_hosts} (strict host-key checking); add it with ssh-keyscan or set host_key_checking: accept-new")]
    HostKeyUnknown {
        /// Host name and address.
        host: String,
        /// Fingerprint the server offered.
        offered: String,
        /// known_hosts file consulted.
        known_hosts: String,
    },
    /// The server's key is marked `@revoked` in known_hosts: never accepted, whatever the policy.
    #[error("{host}: host key {offered} is revoked ({at}) and cannot be used")]
    HostKeyRevoked {
        /// Host name and address.
        host: String,
        /// Fingerprint the server offered.
        offered: String,
        /// The `@revoked` line (`file:line`).
        at: String,
    },
    /// No key was accepted.
    #[error("{host}: authentication failed for user {user}: {reason}")]
    Auth {
        /// Host name.
        host: String,
        /// Remote user.
        user: String,
        /// Which keys were tried.
        reason: String,
    },
    /// The command did not finish in time.
    #[error("{host}: command timed out after {secs} s")]
    Timeout {
        /// Host name.
        host: String,
        /// Limit.
        secs: u64,
    },
    /// A file transfer failed (no space, permission, ...): fails the task, not the host.
    #[error("{host}: file transfer failed for {path}: {reason}")]
    Transfer {
        /// Host name.
        host: String,
        /// Remote path.
        path: String,
        /// Why.
        reason: String,
    },
}

impl ConnectionError {
    /// Whether the host should be counted unreachable (rather than the task failed).
    pub fn is_unreachable(&self) -> bool {
        !matches!(self, ConnectionError::Timeout { .. } | ConnectionError::Transfer { .. })
    }
}

/// A piece of a streamed command's output ([`Connection::exec_stream`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Chunk {
    /// Standard output.
    Stdout(Vec<u8>),
    /// Standard error.
    Stderr(Vec<u8>),
}

/// A way to run commands and move files on one host.
///
/// Contract:
/// - `exec` runs `req.shell_line()` semantics: POSIX `sh`, `env` applied, `sudo -n` for `become_`;
///   a non-zero exit status is a normal [`ExecOutput`], not an error.
/// - `put` writes the whole file atomically enough for config files (temp file + rename on the
///   target) with the given mode; with `become_` it writes as that user.
/// - `get` reads a whole file; a missing file is `Ok(None)`.
/// - Implementations are cheap to share across tasks of one host and may multiplex
///   concurrent calls over one transport. They never panic on remote misbehaviour.
#[async_trait]
pub trait Connection: Send + Sync {
    /// Runs one command.
    async fn exec(&self, req: ExecRequest) -> Result<ExecOutput, ConnectionError>;

    /// Writes `data` to `path` on the target.
    async fn put(
        &self,
        path: &str,
        data: &[u8],
        mode: Option<u32>,
        become_: Option<&Become>,
    ) -> Result<(), ConnectionError>;

    /// Writes the controller file `local` to `path` on the target, as [`Connection::put`]
    /// writes bytes. Transports stream it in chunks, so that a large file sent to many hosts
    /// at once is never held whole in memory; the default reads it whole, for connections
    /// used with small files only (tests, the controller's stand-ins).
    async fn put_file(
        &self,
        path: &str,
        local: &std::path::Path,
        mode: Option<u32>,
        become_: Option<&Become>,
    ) -> Result<(), ConnectionError> {
        let data = std::fs::read(local).map_err(|e| ConnectionError::Transfer {
            host: "controller".into(),
            path: local.display().to_string(),
            reason: e.to_string(),
        })?;
        self.put(path, &data, mode, become_).await
    }

    /// Reads `path` from the target (`None` when it does not exist).
    async fn get(&self, path: &str, become_: Option<&Become>) -> Result<Option<Vec<u8>>, ConnectionError>;

    /// Runs the shell line `command` as the login user, with its standard input read from
    /// `stdin` and its output sent to `output` as it comes, in the order it came (stdout and
    /// stderr interleaved as the host sent them), both ways at once: for a program that holds
    /// a conversation with its other end (the remote half of `rsync`, which `synchronize`
    /// starts this way over the connection prov already has). A full `output` holds the
    /// command's output back. Returns the exit status (-1 for a signal). No escalation,
    /// environment or timeout is added: the caller's program decides. The default refuses,
    /// for connections that cannot.
    async fn exec_stream(
        &self,
        command: &str,
        stdin: &mut (dyn tokio::io::AsyncRead + Send + Unpin),
        output: &tokio::sync::mpsc::Sender<Chunk>,
    ) -> Result<i32, ConnectionError> {
        let _ = (stdin, output);
        Err(ConnectionError::Transfer {
            host: String::new(),
            path: String::new(),
            reason: format!("this connection cannot stream a command's input and output (`{command}`)"),
        })
    }

    /// Kills every command this connection is running now, with the processes they started
    /// (an interrupted run: the second Ctrl-C, SIGTERM). Their `exec` calls then return as
    /// commands killed by a signal. Best effort; never blocks for long. The default does
    /// nothing, for connections that run nothing that outlives them.
    async fn cancel(&self) {}

    /// Whether commands run on the controller itself (`ansible_connection=local`): modules
    /// that must never run there (`reboot`) refuse it.
    fn is_local(&self) -> bool {
        false
    }

    /// The user this connection logs in as when the inventory, a `remote_user` keyword or
    /// the configuration names one (ansible-core's play context `remote_user`); `None` when
    /// nothing does (SSH then logs in as the controller's user) or for a local connection.
    fn remote_user(&self) -> Option<String> {
        None
    }

    /// Drops the session, so the next command dials the host again (`wait_for_connection`
    /// between its tries). The default does nothing, for connections with nothing to dial.
    async fn reconnect(&self) {}
}

/// Quotes a string for POSIX `sh` (single quotes).
pub fn shell_quote(s: &str) -> String {
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_./=:,@%+".contains(&b)) {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        if c == '\'' {
            out.push_str("'\\''");
        } else {
            out.push(c);
        }
    }
    out.push('\'');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_for_sh() {
        assert_eq!(shell_quote("abc"), "abc");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
        assert_eq!(shell_quote(""), "''");
    }

    #[test]
    fn shell_line_applies_env_and_become() {
        let mut r = ExecRequest::new("echo $X");
        r.env.push(("X".into(), "1 2".into()));
        r.become_ = Some(Become { user: "root".into(), method: BecomeMethod::Sudo });
        assert_eq!(r.shell_line(), "sudo -n -H -u root -- sh -c 'env '\\''X=1 2'\\'' sh -c '\\''echo $X'\\'''");
    }

    #[test]
    fn su_line_runs_sh_through_the_users_shell_with_the_user_after_double_dash() {
        let su = |user: &str| Some(Become { user: user.into(), method: BecomeMethod::Su });
        let r = ExecRequest::new("id -un").with_become(su("nobody"));
        assert_eq!(r.shell_line(), "su -c 'sh -c '\\''id -un'\\''' -- nobody");
        // What `su` receives, word by word, for hostile text: a stand-in `su` prints its
        // arguments, and the outer shell ran nothing of the user's or the command's text.
        let r = ExecRequest::new("echo '$(touch x)'; echo \"$HOME\"").with_become(su("-s/bin/x;id`id`"));
        let script = format!("su() {{ printf '[%s]\\n' \"$@\"; }}; {}", r.shell_line());
        let out = std::process::Command::new("sh").arg("-c").arg(&script).output().expect("sh");
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "[-c]\n[sh -c 'echo '\\''$(touch x)'\\''; echo \"$HOME\"']\n[--]\n[-s/bin/x;id`id`]\n"
        );
    }

    #[test]
    fn become_method_names() {
        assert_eq!(BecomeMethod::parse("su"), Some(BecomeMethod::Su));
        assert_eq!(BecomeMethod::parse("sudo"), Some(BecomeMethod::Sudo));
        assert_eq!(BecomeMethod::parse("doas"), None);
        assert_eq!(BecomeMethod::Su.name(), "su");
    }
}
