//! Local test hosts: a [`Lab`] is N "hosts" on 127.0.1.1..N, each served by its own private
//! `sshd` on one loopback port, with the lab's own host key, client key, known_hosts and
//! inventory. Each host keeps its files under its own directory (`host_root`), so hosts that
//! share this machine's file system do not collide.
//!
//! The sshd config sets `SetEnv SHLVL=1`: on this kind of machine root's `~/.bashrc` runs
//! `pyenv init` (~250 ms) for every command sshd starts through bash, which would swamp
//! every measurement (see ../shared/BENCH-FACTS.md).
//!
//! One sshd per host makes "this host goes down" a real event: [`Lab::stop`] kills that
//! host's sshd and its open sessions, and only that host becomes unreachable. For many hosts
//! (the benchmark's 1,000) [`Lab::start_grouped`] lets one sshd serve up to
//! [`MAX_ADDRESSES_PER_SSHD`] addresses (sshd's own limit on `ListenAddress`).
#![deny(missing_docs)]

use std::io;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Where OpenSSH's server is installed on Debian.
pub const SSHD: &str = "/usr/sbin/sshd";

/// The most `ListenAddress` lines one sshd accepts.
pub const MAX_ADDRESSES_PER_SSHD: usize = 16;

/// The most hosts a lab can have: 127.0.1.1 to 127.0.4.232, 254 per /24.
pub const MAX_HOSTS: usize = 1000;

/// One lab host.
#[derive(Debug)]
pub struct LabHost {
    /// Inventory name (`h01`, `h02`, ...).
    pub name: String,
    /// Loopback address its sshd listens on.
    pub addr: Ipv4Addr,
    /// The host's private directory (`host_root` in the inventory).
    pub root: PathBuf,
    /// Which of the lab's sshd processes serves it.
    server: usize,
}

/// One sshd process and the hosts it serves.
#[derive(Debug)]
struct Server {
    config: PathBuf,
    child: Option<Child>,
    addrs: Vec<Ipv4Addr>,
}

/// A set of local SSH hosts. Dropping it stops every sshd (and removes its directory
/// unless it was created with [`Lab::start_in`]).
#[derive(Debug)]
pub struct Lab {
    dir: PathBuf,
    _temp: Option<tempfile::TempDir>,
    /// The port every host's sshd listens on.
    pub port: u16,
    /// The hosts, in order.
    pub hosts: Vec<LabHost>,
    servers: Vec<Server>,
    user: String,
}

impl Lab {
    /// Starts `n` hosts in a fresh temporary directory.
    pub fn start(n: usize) -> io::Result<Lab> {
        let temp = tempfile::Builder::new().prefix("prov-lab-").tempdir()?;
        let mut lab = Lab::start_in(temp.path(), n)?;
        lab._temp = Some(temp);
        Ok(lab)
    }

    /// Starts `n` hosts (at most 254) with their keys and files under `dir` (kept afterwards).
    pub fn start_in(dir: &Path, n: usize) -> io::Result<Lab> {
        if n > 254 {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "a lab of one sshd per host has 1 to 254 hosts"));
        }
        Lab::start_grouped(dir, n, 1)
    }

    /// Starts `n` hosts (at most [`MAX_HOSTS`]: 127.0.1.1-254, 127.0.2.1-254, ...) served by
    /// sshd processes of `per_sshd` addresses each (1 to [`MAX_ADDRESSES_PER_SSHD`]); stopping
    /// a host then stops every host of its sshd.
    pub fn start_grouped(dir: &Path, n: usize, per_sshd: usize) -> io::Result<Lab> {
        if n == 0 || n > MAX_HOSTS {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("a lab has 1 to {MAX_HOSTS} hosts")));
        }
        if per_sshd == 0 || per_sshd > MAX_ADDRESSES_PER_SSHD {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("one sshd serves 1 to {MAX_ADDRESSES_PER_SSHD} addresses"),
            ));
        }
        if !Path::new(SSHD).exists() {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("{SSHD} is missing: install openssh-server (apt-get install -y openssh-server)"),
            ));
        }
        std::fs::create_dir_all(dir)?;
        let dir = dir.canonicalize()?;
        // sshd's privilege separation directory.
        let _ = std::fs::create_dir_all("/run/sshd");
        let host_key = dir.join("ssh_host_ed25519_key");
        let client_key = dir.join("id_ed25519");
        for key in [&host_key, &client_key] {
            if !key.exists() {
                keygen(key)?;
            }
        }
        std::fs::copy(dir.join("id_ed25519.pub"), dir.join("authorized_keys"))?;
        let user = whoami()?;
        let port = free_port()?;
        let mut lab = Lab { dir: dir.clone(), _temp: None, port, hosts: Vec::new(), servers: Vec::new(), user };
        for i in 0..n {
            let name = format!("h{:02}", i + 1);
            let addr = Ipv4Addr::new(127, 0, 1 + (i / 254) as u8, 1 + (i % 254) as u8);
            let root = dir.join("hosts").join(&name);
            std::fs::create_dir_all(&root)?;
            if i % per_sshd == 0 {
                let config = dir.join(format!("sshd_{name}.conf"));
                lab.servers.push(Server { config, child: None, addrs: Vec::new() });
            }
            let server = lab.servers.len() - 1;
            lab.servers[server].addrs.push(addr);
            lab.hosts.push(LabHost { name, addr, root, server });
        }
        for s in 0..lab.servers.len() {
            std::fs::write(&lab.servers[s].config, lab.sshd_config(&lab.servers[s].addrs))?;
            lab.spawn(s)?;
        }
        for s in 0..lab.servers.len() {
            lab.wait_ready(s)?;
        }
        lab.write_known_hosts()?;
        lab.write_inventory()?;
        Ok(lab)
    }

    fn sshd_config(&self, addrs: &[Ipv4Addr]) -> String {
        let d = self.dir.display();
        let listen: String = addrs.iter().map(|a| format!("ListenAddress {a}:{}\n", self.port)).collect();
        format!(
            "{listen}\
             HostKey {d}/ssh_host_ed25519_key\n\
             AuthorizedKeysFile {d}/authorized_keys\n\
             PubkeyAuthentication yes\n\
             PasswordAuthentication no\n\
             KbdInteractiveAuthentication no\n\
             PermitRootLogin prohibit-password\n\
             StrictModes no\n\
             UsePAM no\n\
             PidFile none\n\
             MaxSessions 64\n\
             MaxStartups 1000:30:1000\n\
             SetEnv SHLVL=1\n\
             Subsystem sftp internal-sftp\n\
             LogLevel ERROR\n"
        )
    }

    fn spawn(&mut self, s: usize) -> io::Result<()> {
        let server = &mut self.servers[s];
        let child = Command::new(SSHD)
            .arg("-D")
            .arg("-e")
            .arg("-f")
            .arg(&server.config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()?;
        server.child = Some(child);
        Ok(())
    }

    /// Waits until the sshd listens on all its addresses.
    fn wait_ready(&mut self, s: usize) -> io::Result<()> {
        for a in self.servers[s].addrs.clone() {
            self.wait_listening(s, a)?;
        }
        Ok(())
    }

    fn wait_listening(&mut self, s: usize, a: Ipv4Addr) -> io::Result<()> {
        let addr = SocketAddr::from((a, self.port));
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return Ok(());
            }
            if let Some(child) = self.servers[s].child.as_mut() {
                if let Some(status) = child.try_wait()? {
                    let mut err = String::new();
                    if let Some(mut e) = child.stderr.take() {
                        let _ = io::Read::read_to_string(&mut e, &mut err);
                    }
                    return Err(io::Error::other(format!("sshd for {addr} exited ({status}): {}", err.trim())));
                }
            }
            if Instant::now() > deadline {
                return Err(io::Error::new(io::ErrorKind::TimedOut, format!("sshd on {addr} did not start")));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The lab's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The private key the hosts accept.
    pub fn client_key(&self) -> PathBuf {
        self.dir.join("id_ed25519")
    }

    /// A known_hosts file listing every host as `[127.0.1.K]:PORT`.
    pub fn known_hosts(&self) -> PathBuf {
        self.dir.join("known_hosts")
    }

    /// An INI inventory: every host in group `lab`, with its connection variables and `host_root`.
    pub fn inventory(&self) -> PathBuf {
        self.dir.join("hosts.ini")
    }

    /// The inventory lines of every host (for tests that write their own inventory).
    pub fn host_lines(&self) -> String {
        self.hosts
            .iter()
            .map(|h| {
                format!(
                    "{} ansible_host={} ansible_port={} ansible_user={} ansible_ssh_private_key_file={} host_root={}\n",
                    h.name,
                    h.addr,
                    self.port,
                    self.user,
                    self.client_key().display(),
                    h.root.display()
                )
            })
            .collect()
    }

    fn write_inventory(&self) -> io::Result<()> {
        std::fs::write(self.inventory(), format!("[lab]\n{}", self.host_lines()))
    }

    fn write_known_hosts(&self) -> io::Result<()> {
        let public = std::fs::read_to_string(self.dir.join("ssh_host_ed25519_key.pub"))?;
        let mut fields = public.split_whitespace();
        let (algo, key) = (fields.next().unwrap_or_default(), fields.next().unwrap_or_default());
        let text: String = self.hosts.iter().map(|h| format!("[{}]:{} {algo} {key}\n", h.addr, self.port)).collect();
        std::fs::write(self.known_hosts(), text)
    }

    /// Replaces host `i`'s known_hosts entry with a freshly generated, different key, so
    /// connecting to it must fail with a host-key mismatch. Returns the fake key's path.
    pub fn spoil_known_host(&self, i: usize) -> io::Result<PathBuf> {
        let fake = self.dir.join(format!("fake_{}", self.hosts[i].name));
        if !fake.exists() {
            keygen(&fake)?;
        }
        let public = std::fs::read_to_string(fake.with_extension("pub"))?;
        let mut fields = public.split_whitespace();
        let (algo, key) = (fields.next().unwrap_or_default(), fields.next().unwrap_or_default());
        let prefix = format!("[{}]:{} ", self.hosts[i].addr, self.port);
        let text = std::fs::read_to_string(self.known_hosts())?;
        let out: String = text
            .lines()
            .map(|l| if l.starts_with(&prefix) { format!("{prefix}{algo} {key}\n") } else { format!("{l}\n") })
            .collect();
        std::fs::write(self.known_hosts(), out)?;
        Ok(fake)
    }

    /// Stops host `i`: its sshd and every session it serves are killed, so open connections
    /// break and new ones are refused (in a grouped lab, for every host of that sshd).
    pub fn stop(&mut self, i: usize) {
        self.stop_server(self.hosts[i].server);
    }

    /// The sshd processes' ids (for tools that watch or measure them).
    pub fn sshd_pids(&self) -> Vec<u32> {
        self.servers.iter().filter_map(|s| s.child.as_ref().map(Child::id)).collect()
    }

    /// `PID COMMAND LINE` of every process the lab's sshd processes serve sessions with (the
    /// session processes and everything they started that is still their descendant): empty
    /// once no run is connected and nothing a run started is left in a session. A command
    /// that escaped its session (re-parented to init) is not listed: look for it with
    /// [`processes_with`].
    pub fn session_processes(&self) -> Vec<String> {
        self.sshd_pids()
            .into_iter()
            .flat_map(descendants)
            .map(|pid| {
                let c = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
                format!("{pid} {}", String::from_utf8_lossy(&c).replace('\0', " ").trim_end())
            })
            .collect()
    }

    fn stop_server(&mut self, s: usize) {
        if let Some(mut c) = self.servers[s].child.take() {
            // Sessions first (sshd renames its processes, so they are found by parentage).
            kill_descendants(c.id());
            let _ = c.kill();
            let _ = c.wait();
            // A session process that was just killed may still hold an inherited copy of the
            // listening socket for a moment: wait until the addresses refuse connections.
            for a in &self.servers[s].addrs {
                let addr = SocketAddr::from((*a, self.port));
                let deadline = Instant::now() + Duration::from_secs(5);
                while TcpStream::connect_timeout(&addr, Duration::from_millis(100)).is_ok() && Instant::now() < deadline
                {
                    std::thread::sleep(Duration::from_millis(10));
                }
            }
        }
    }

    /// Restarts a stopped host (and the other hosts of its sshd).
    pub fn restart(&mut self, i: usize) -> io::Result<()> {
        let s = self.hosts[i].server;
        self.spawn(s)?;
        self.wait_ready(s)
    }
}

/// The command lines (NUL bytes as spaces) of the processes on this machine that contain
/// `needle`, except the ones that are killing something: what a test looks for to prove a
/// command is still running, or is gone. The lab's sshd hosts run here, so this sees what
/// they run too.
pub fn processes_with(needle: &str) -> Vec<String> {
    let Ok(dir) = std::fs::read_dir("/proc") else { return Vec::new() };
    dir.flatten()
        .filter_map(|e| {
            let c = std::fs::read(e.path().join("cmdline")).ok()?;
            let c = String::from_utf8_lossy(&c).replace('\0', " ");
            (c.contains(needle) && !c.contains("kill")).then_some(c)
        })
        .collect()
}

impl Drop for Lab {
    fn drop(&mut self) {
        for s in 0..self.servers.len() {
            self.stop_server(s);
        }
    }
}

/// Every process below `root` in the process tree (not `root` itself).
fn descendants(root: u32) -> Vec<u32> {
    let mut parent_of = Vec::new();
    if let Ok(rd) = std::fs::read_dir("/proc") {
        for e in rd.flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else { continue };
            let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else { continue };
            // Fields after the `(comm)`: state, ppid, ...
            let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else { continue };
            if let Some(ppid) = rest.split_whitespace().nth(1).and_then(|p| p.parse::<u32>().ok()) {
                parent_of.push((pid, ppid));
            }
        }
    }
    let mut tree = vec![root];
    let mut i = 0;
    while i < tree.len() {
        let p = tree[i];
        tree.extend(parent_of.iter().filter(|(_, pp)| *pp == p).map(|(c, _)| *c));
        i += 1;
    }
    tree.split_off(1)
}

/// Kills every process below `root` in the process tree (not `root` itself).
fn kill_descendants(root: u32) {
    for pid in descendants(root) {
        let _ = Command::new("kill").arg("-9").arg(pid.to_string()).stderr(Stdio::null()).status();
    }
}

fn keygen(path: &Path) -> io::Result<()> {
    let st = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "prov-lab", "-f"])
        .arg(path)
        .stdin(Stdio::null())
        .status()?;
    if !st.success() {
        return Err(io::Error::other(format!("ssh-keygen failed for {}", path.display())));
    }
    Ok(())
}

fn whoami() -> io::Result<String> {
    if let Ok(u) = std::env::var("USER") {
        if !u.is_empty() {
            return Ok(u);
        }
    }
    let out = Command::new("id").arg("-un").output()?;
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn free_port() -> io::Result<u16> {
    let l = TcpListener::bind(("127.0.0.1", 0))?;
    Ok(l.local_addr()?.port())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_listen_and_stop() {
        let mut lab = Lab::start(3).expect("lab starts (needs openssh-server)");
        for h in &lab.hosts {
            assert!(TcpStream::connect((h.addr, lab.port)).is_ok(), "{} listens", h.name);
        }
        let inv = std::fs::read_to_string(lab.inventory()).expect("inventory");
        assert_eq!(inv.lines().count(), 4);
        assert!(inv.contains("h02 ansible_host=127.0.1.2"));
        let kh = std::fs::read_to_string(lab.known_hosts()).expect("known_hosts");
        assert!(kh.contains(&format!("[127.0.1.3]:{} ssh-ed25519 ", lab.port)));
        lab.stop(1);
        assert!(TcpStream::connect((lab.hosts[1].addr, lab.port)).is_err(), "stopped host refuses");
        assert!(TcpStream::connect((lab.hosts[0].addr, lab.port)).is_ok(), "others still listen");
        lab.restart(1).expect("restarts");
        assert!(TcpStream::connect((lab.hosts[1].addr, lab.port)).is_ok());
    }

    #[test]
    fn grouped_hosts_share_an_sshd_past_one_subnet() {
        let d = tempfile::tempdir().expect("tempdir");
        let mut lab = Lab::start_grouped(d.path(), 260, 16).expect("lab starts");
        assert_eq!(lab.sshd_pids().len(), 17, "260 hosts, 16 per sshd");
        assert_eq!(lab.hosts[253].addr, Ipv4Addr::new(127, 0, 1, 254));
        assert_eq!(lab.hosts[254].addr, Ipv4Addr::new(127, 0, 2, 1));
        assert_eq!(lab.hosts[259].name, "h260");
        for i in [0, 15, 16, 253, 254, 259] {
            assert!(TcpStream::connect((lab.hosts[i].addr, lab.port)).is_ok(), "{} listens", lab.hosts[i].name);
        }
        lab.stop(17);
        assert!(TcpStream::connect((lab.hosts[16].addr, lab.port)).is_err(), "the whole group stops");
        assert!(TcpStream::connect((lab.hosts[15].addr, lab.port)).is_ok(), "other groups still listen");
        assert!(Lab::start_grouped(d.path(), 10, 17).is_err(), "sshd takes at most 16 addresses");
        assert!(Lab::start_in(d.path(), 255).is_err(), "one sshd per host: at most 254");
    }
}
