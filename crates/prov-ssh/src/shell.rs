//! One long-lived remote `sh` per session channel, fed framed commands.
//!
//! Opening an exec channel costs the target a fork of the sshd session process and a new
//! login shell for every command. Instead a [`RemoteShell`] runs `exec sh` once and writes
//! each command to that shell's standard input as a small script:
//!
//! ```text
//! ( eval 'COMMAND' ) </dev/null & printf '%spid %d\n' TOKEN $! >&2; wait $!; printf '%s %d\n' TOKEN "$?"; printf '%s\n' TOKEN >&2
//! ```
//!
//! The command runs in a subshell (so `exit`, `cd`, `set -e` and traps stay there), its
//! standard input is `/dev/null` (so it cannot eat the next command), and its stdout and
//! stderr go straight to the channel, byte for byte. The subshell runs as a job whose pid
//! the shell reports first (`TOKENpid N` on stderr, taken out of the command's error
//! output), so that a command that times out or is interrupted can be killed with its
//! whole process tree ([`kill_tree_script`]) instead of being left running on the target. `TOKEN` is random per shell: everything
//! before it on stdout is the command's output and the number after it is the exit status;
//! on stderr everything before it is the command's error output. Input bytes for a command
//! travel base64-encoded in a here-document and are decoded by `base64 -d` into the
//! subshell's stdin; when the target has no `base64`, or the input is large, the caller
//! uses a plain exec channel instead (see [`Protocol::script`]).

use prov_core::connection::{shell_quote, BecomeMethod, ExecOutput, ExecRequest};
use russh::client::Msg;
use russh::{Channel, ChannelMsg};
use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering};
use std::sync::Arc;

/// Input larger than this goes through an exec channel (streamed) rather than the shell
/// (a here-document the shell parses in memory).
pub(crate) const MAX_INLINE_STDIN: usize = 1 << 20;

/// What the remote side of a shell can do, from its greeting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Base64 {
    /// `base64 -d` exists: commands can take input through the shell.
    Present,
    /// No `base64`: commands with input need an exec channel.
    Missing,
}

/// The framing of one shell: its token, the scripts it sends and the parser of what comes back.
#[derive(Debug, Clone)]
pub(crate) struct Protocol {
    token: String,
}

impl Protocol {
    /// A protocol with a fresh random token.
    pub(crate) fn new() -> Self {
        Protocol { token: random_token() }
    }

    /// The first script: reports whether `base64` exists (status 0) and ends the greeting
    /// frame, so that whatever the login shell printed before is skipped.
    pub(crate) fn hello(&self) -> Vec<u8> {
        format!("command -v base64 >/dev/null 2>&1{}", self.trailer()).into_bytes()
    }

    fn trailer(&self) -> String {
        format!("; printf '%s %d\\n' {t} \"$?\"; printf '%s\\n' {t} >&2\n", t = self.token)
    }

    /// The script that runs `req` (with `env` and `become` applied), or `None` when it
    /// cannot go through a shell: a NUL byte in the command, input too large, or input
    /// without `base64` on the target.
    pub(crate) fn script(&self, req: &ExecRequest, base64: Base64) -> Option<Vec<u8>> {
        if req.command.contains('\0') || req.env.iter().any(|(k, v)| k.contains('\0') || v.contains('\0')) {
            return None;
        }
        let names = req.env.iter().all(|(k, _)| is_name(k));
        // Plain environment variables are exported in the subshell: no `env`, no `sh -c`.
        let exported = || {
            let mut s = String::new();
            for (k, v) in &req.env {
                s.push_str(&format!("{k}={}; export {k}; ", shell_quote(v)));
            }
            s.push_str("eval ");
            s.push_str(&shell_quote(&req.command));
            s
        };
        let body = match &req.become_ {
            None if names => exported(),
            // sudo gets the command on its standard input (a here-document of this script),
            // not in its arguments: neither `ps` on the target nor sudo's log shows the
            // command or its environment (ansible-core's become runs a module file, whose
            // arguments are not on a command line either). The command's own input is then
            // empty, as `</dev/null` gives it otherwise.
            Some(b) if names && b.method == BecomeMethod::Sudo && req.stdin.is_none() => {
                let inner = exported();
                if inner.lines().any(|l| l == self.token) {
                    return None;
                }
                format!(
                    "sudo -n -H -u {} -- sh -c 'eval \"$(cat)\"' <<'{t}'\n{inner}\n{t}\n",
                    shell_quote(&b.user),
                    t = self.token
                )
            }
            _ => format!("eval {}", shell_quote(&req.shell_line())),
        };
        let job = format!("& printf '%spid %d\\n' {t} $! >&2; wait $!", t = self.token);
        match &req.stdin {
            None => Some(format!("( {body} ) </dev/null {job}{}", self.trailer()).into_bytes()),
            Some(data) if data.len() <= MAX_INLINE_STDIN && base64 == Base64::Present => {
                let mut s = format!("base64 -d <<'{t}' | ( {body} ) {job}{}", self.trailer(), t = self.token);
                for chunk in data.chunks(57) {
                    s.push_str(&encode_base64(chunk));
                    s.push('\n');
                }
                s.push_str(&self.token);
                s.push('\n');
                Some(s.into_bytes())
            }
            Some(_) => None,
        }
    }

    /// A parser for the frame of the next command (or of the greeting).
    pub(crate) fn frame(&self) -> Frame {
        Frame {
            token: self.token.as_bytes().to_vec(),
            stdout: Vec::new(),
            stderr: Vec::new(),
            out_scanned: 0,
            err_scanned: 0,
            rc: None,
            err_done: false,
            pid: None,
        }
    }
}

/// A `sh` script that stops the process tree rooted at `pid` (walking `/proc` for children;
/// stopped processes cannot fork any more), then sends it SIGTERM, and SIGKILL after
/// `grace_secs` to whatever is left. Processes that left the tree before (daemons started by
/// earlier commands, reparented to init) are not touched.
pub(crate) fn kill_tree_script(pid: i32, grace_secs: u32) -> String {
    format!(
        "q={pid}; all=; \
         while [ -n \"$q\" ]; do set -- $q; p=$1; shift; q=$*; \
           kill -STOP \"$p\" 2>/dev/null || continue; all=\"$all $p\"; \
           for f in /proc/[0-9]*/stat; do read -r l < \"$f\" 2>/dev/null || continue; \
             c=${{f#/proc/}}; c=${{c%/stat}}; set -- ${{l##*\") \"}}; [ \"$2\" = \"$p\" ] && q=\"$q $c\"; \
           done; \
         done; \
         [ -z \"$all\" ] && exit 0; kill -TERM $all 2>/dev/null; kill -CONT $all 2>/dev/null; \
         n=$(({grace_secs} * 5)); while [ \"$n\" -gt 0 ]; do \
           alive=; for p in $all; do [ -d /proc/$p ] && [ \"$(cut -d' ' -f3 /proc/$p/stat 2>/dev/null)\" != Z ] && alive=1; done; \
           [ -z \"$alive\" ] && exit 0; sleep 0.2 2>/dev/null || sleep 1; n=$((n - 1)); done; \
         kill -KILL $all 2>/dev/null; exit 0"
    )
}

/// What came back for one command, until both of its trailers have been seen.
#[derive(Debug)]
pub(crate) struct Frame {
    token: Vec<u8>,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    out_scanned: usize,
    err_scanned: usize,
    rc: Option<i32>,
    err_done: bool,
    /// The pid of the command's job, once the shell reported it.
    pid: Option<i32>,
}

impl Frame {
    /// The pid of the job running the command (the root of its process tree).
    pub(crate) fn pid(&self) -> Option<i32> {
        self.pid
    }

    /// Adds bytes from the shell's stdout. Bytes after the trailer (from a background
    /// process of an earlier command, say) are dropped.
    pub(crate) fn push_stdout(&mut self, data: &[u8]) -> Result<(), String> {
        if self.rc.is_some() {
            return Ok(());
        }
        self.stdout.extend_from_slice(data);
        let Some(at) = find(&self.stdout, &self.token, self.out_scanned) else {
            self.out_scanned = self.stdout.len().saturating_sub(self.token.len());
            return Ok(());
        };
        // The token is followed by " RC\n"; wait for the newline.
        let rest = &self.stdout[at + self.token.len()..];
        let Some(nl) = rest.iter().position(|&b| b == b'\n') else {
            self.out_scanned = at;
            return Ok(());
        };
        let status = std::str::from_utf8(&rest[..nl]).unwrap_or("").trim();
        let rc = status.parse::<i32>().map_err(|_| format!("unexpected status `{status}` from the remote shell"))?;
        self.rc = Some(rc);
        self.stdout.truncate(at);
        Ok(())
    }

    /// Adds bytes from the shell's stderr.
    pub(crate) fn push_stderr(&mut self, data: &[u8]) {
        if self.err_done {
            return;
        }
        self.stderr.extend_from_slice(data);
        loop {
            let Some(at) = find(&self.stderr, &self.token, self.err_scanned) else {
                self.err_scanned = self.stderr.len().saturating_sub(self.token.len());
                return;
            };
            let rest = &self.stderr[at + self.token.len()..];
            let Some(nl) = rest.iter().position(|&b| b == b'\n') else {
                self.err_scanned = at;
                return;
            };
            if nl == 0 {
                // TOKEN alone on its line: the end of the command's error output.
                self.err_done = true;
                self.stderr.truncate(at);
                return;
            }
            // `TOKENpid N`: the job's pid, printed between the command's own bytes.
            if let Some(n) = std::str::from_utf8(&rest[..nl]).ok().and_then(|l| l.strip_prefix("pid ")) {
                self.pid = n.trim().parse().ok();
            }
            self.stderr.drain(at..at + self.token.len() + nl + 1);
            self.err_scanned = at;
        }
    }

    /// Whether both trailers have arrived.
    pub(crate) fn done(&self) -> bool {
        self.rc.is_some() && self.err_done
    }

    /// The command's output (status -1 while the frame is incomplete).
    pub(crate) fn into_output(self) -> ExecOutput {
        ExecOutput { rc: self.rc.unwrap_or(-1), stdout: self.stdout, stderr: self.stderr }
    }
}

/// Why a shell cannot be used any more.
#[derive(Debug)]
pub(crate) enum Broken {
    /// The shell never greeted: the server refused the channel or the command, or the
    /// target has no `sh`. Exec channels are the way on this host.
    NotStarted,
    /// The channel ended while a command ran; what arrived so far is kept.
    Ended(ExecOutput),
}

/// A running remote `sh` on its own session channel. Dropping it closes the channel (the
/// shell then exits at the end of its current command, if any).
pub(crate) struct RemoteShell {
    ch: Option<Channel<Msg>>,
    proto: Protocol,
    /// Whether commands may take input through this shell.
    pub(crate) base64: Base64,
    _slot: Slot,
}

/// One counted shell of a connection; dropping it uncounts the shell.
#[derive(Debug)]
pub(crate) struct Slot(Arc<AtomicUsize>);

impl Slot {
    /// Counts one more shell in `live` unless there are `max` already.
    pub(crate) fn reserve(live: &Arc<AtomicUsize>, max: usize) -> Option<Slot> {
        live.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| (n < max).then_some(n + 1)).ok()?;
        Some(Slot(live.clone()))
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl std::fmt::Debug for RemoteShell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteShell").field("base64", &self.base64).finish()
    }
}

impl RemoteShell {
    /// Starts `sh` on a fresh channel and waits for its greeting; `slot` counts it.
    pub(crate) async fn start(ch: Channel<Msg>, slot: Slot) -> Result<RemoteShell, Broken> {
        let mut shell = RemoteShell { ch: Some(ch), proto: Protocol::new(), base64: Base64::Missing, _slot: slot };
        let ch = shell.ch.as_ref().expect("set above");
        ch.exec(true, "exec sh").await.map_err(|_| Broken::NotStarted)?;
        let hello = shell.proto.hello();
        match shell.exchange(hello, None).await {
            Ok(out) => {
                shell.base64 = if out.rc == 0 { Base64::Present } else { Base64::Missing };
                Ok(shell)
            }
            Err(_) => Err(Broken::NotStarted),
        }
    }

    /// Runs `req`; `None` when it cannot go through a shell (see [`Protocol::script`]). The
    /// pid of the command's job is stored in `pid` as soon as the shell reports it.
    pub(crate) async fn run(&mut self, req: &ExecRequest, pid: &AtomicI32) -> Option<Result<ExecOutput, Broken>> {
        let script = self.proto.script(req, self.base64)?;
        Some(self.exchange(script, Some(pid)).await)
    }

    /// Whether the shell is still there, judged without waiting: an idle shell whose channel
    /// ended (or that printed something) is not reused.
    pub(crate) fn is_idle_and_open(&mut self) -> bool {
        use futures_util::FutureExt;
        let Some(ch) = self.ch.as_mut() else { return false };
        loop {
            match ch.wait().now_or_never() {
                None => return true,
                Some(Some(ChannelMsg::WindowAdjusted { .. } | ChannelMsg::Success)) => continue,
                Some(_) => return false,
            }
        }
    }

    async fn exchange(&mut self, script: Vec<u8>, pid: Option<&AtomicI32>) -> Result<ExecOutput, Broken> {
        let mut frame = self.proto.frame();
        let Some(ch) = self.ch.as_mut() else { return Err(Broken::Ended(frame.into_output())) };
        if let Err(e) = ch.data_bytes(script).await {
            let mut out = frame.into_output();
            out.stderr.extend_from_slice(format!("cannot send the command: {e}\n").as_bytes());
            return Err(Broken::Ended(out));
        }
        while !frame.done() {
            match ch.wait().await {
                Some(ChannelMsg::Data { data }) => {
                    if let Err(e) = frame.push_stdout(&data) {
                        let mut out = frame.into_output();
                        out.stderr.extend_from_slice(e.as_bytes());
                        return Err(Broken::Ended(out));
                    }
                }
                Some(ChannelMsg::ExtendedData { data, ext: 1 }) => {
                    frame.push_stderr(&data);
                    if let (Some(slot), Some(p)) = (pid, frame.pid()) {
                        slot.store(p, Ordering::SeqCst);
                    }
                }
                Some(ChannelMsg::Failure) => {
                    return Err(Broken::NotStarted);
                }
                Some(ChannelMsg::Eof | ChannelMsg::Close | ChannelMsg::ExitStatus { .. }) | None => {
                    self.ch = None;
                    return Err(Broken::Ended(frame.into_output()));
                }
                Some(ChannelMsg::ExitSignal { signal_name, .. }) => {
                    self.ch = None;
                    let mut out = frame.into_output();
                    out.stderr
                        .extend_from_slice(format!("the remote shell was killed by {signal_name:?}\n").as_bytes());
                    return Err(Broken::Ended(out));
                }
                Some(_) => {}
            }
        }
        Ok(frame.into_output())
    }
}

impl Drop for RemoteShell {
    fn drop(&mut self) {
        if let (Some(ch), Ok(rt)) = (self.ch.take(), tokio::runtime::Handle::try_current()) {
            rt.spawn(async move {
                let _ = ch.close().await;
            });
        }
    }
}

/// Whether `s` can be a shell variable name.
fn is_name(s: &str) -> bool {
    let mut b = s.bytes();
    matches!(b.next(), Some(c) if c == b'_' || c.is_ascii_alphabetic())
        && b.all(|c| c == b'_' || c.is_ascii_alphanumeric())
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    let first = *needle.first()?;
    let mut i = from;
    while i + needle.len() <= hay.len() {
        let off = hay[i..=hay.len() - needle.len()].iter().position(|&b| b == first)?;
        i += off;
        if hay[i..i + needle.len()] == *needle {
            return Some(i);
        }
        i += 1;
    }
    None
}

fn random_token() -> String {
    use std::collections::hash_map::RandomState;
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::AtomicU64;
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    let mut parts = [0u64; 2];
    for (i, p) in parts.iter_mut().enumerate() {
        // Each RandomState has its own keys (seeded from the OS once per thread, then stepped).
        let mut h = RandomState::new().build_hasher();
        h.write_u64(n);
        h.write_u128(nanos);
        h.write_usize(i);
        h.write_u32(std::process::id());
        *p = h.finish();
    }
    format!("__prov_{:016x}{:016x}_", parts[0], parts[1])
}

fn encode_base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for c in data.chunks(3) {
        let n =
            (u32::from(c[0]) << 16) | (u32::from(*c.get(1).unwrap_or(&0)) << 8) | u32::from(*c.get(2).unwrap_or(&0));
        for (i, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            if i <= c.len() {
                out.push(ALPHABET[((n >> shift) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests;
