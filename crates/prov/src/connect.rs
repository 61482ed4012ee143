//! The outside world: inventory files, SSH connections, and the ad-hoc `prov run`.

use crate::cli::{AdhocArgs, HostKeyChecking, InventoryArgs};
use async_trait::async_trait;
use prov_core::connection::{Become, Connection, ConnectionError, ExecOutput, ExecRequest};
use prov_core::diag::{DiagKind, Diagnostic, Diagnostics};
use prov_core::inventory::Inventory;
use prov_core::source::SourceMap;
use prov_core::vars::VarMap;
use prov_exec::Connector;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

/// What the `-i` sources gave: hosts and groups, and the known_hosts files of the projects
/// whose VMs they list.
pub struct InventoryLoad {
    /// Every source merged, in command-line order.
    pub inventory: Inventory,
    /// known_hosts files holding the host keys prov recorded for listed VMs.
    pub known_hosts: Vec<PathBuf>,
    /// The provider projects the sources list (`project:` of `plugin:` sources).
    pub projects: Vec<String>,
}

/// Loads and merges every `-i` source; dynamic sources (`plugin: docker`) are checked first,
/// then listed from their provider.
pub async fn load_inventory(paths: &[String], sources: &SourceMap) -> Result<InventoryLoad, Diagnostics> {
    let paths: Vec<PathBuf> = paths.iter().map(PathBuf::from).collect();
    let loaded = prov_inventory::load(&paths, sources)?;
    let mut warnings = loaded.warnings;
    let mut diags = Diagnostics::default();
    let mut configs = Vec::new();
    for p in &loaded.plugins {
        match prov_providers::inventory::parse(p) {
            Ok(c) => {
                warnings.extend(c.warnings.iter().cloned());
                configs.push(c)
            }
            Err(d) => diags.extend(d),
        }
    }
    if diags.has_errors() {
        return Err(diags);
    }
    let mut inventory = loaded.inventory;
    let mut known_hosts = Vec::new();
    // `amazon.aws.aws_ec2` files list instances of no prov project.
    let projects = configs.iter().filter(|c| !c.project.is_empty()).map(|c| c.project.clone()).collect();
    for (cfg, src) in configs.iter().zip(&loaded.plugins) {
        match prov_providers::inventory::list(cfg, &mut warnings).await {
            Ok(inv) => inventory.merge(inv),
            Err(e) => {
                let kind = match e {
                    prov_providers::ProviderError::Unavailable { .. } => DiagKind::Unavailable,
                    _ => DiagKind::Invalid,
                };
                diags.push(Diagnostic::error(kind, src.config.span, format!("inventory {}: {e}", src.path.display())));
            }
        }
        if !cfg.project.is_empty() {
            known_hosts.push(prov_providers::state::known_hosts(&cfg.project));
        }
    }
    crate::diagnostics::print_all(&warnings, sources);
    if diags.has_errors() {
        return Err(diags);
    }
    Ok(InventoryLoad { inventory, known_hosts, projects })
}

/// `prov inventory`.
pub fn print_inventory(inv: &Inventory, a: &InventoryArgs) -> i32 {
    if let Some(h) = &a.host {
        if inv.host(h).is_none() {
            say_err!("prov: no host `{h}` in the inventory");
            return crate::driver::EXIT_BAD_INPUT;
        }
        let vars: serde_json::Map<String, serde_json::Value> = inv
            .host_vars(h)
            .into_iter()
            .map(|(k, v)| (k, serde_json::to_value(&v).unwrap_or(serde_json::Value::Null)))
            .collect();
        say!("{}", serde_json::to_string_pretty(&vars).unwrap_or_default());
    } else if a.list {
        say!("{}", serde_json::to_string_pretty(&prov_inventory::list_json(inv)).unwrap_or_default());
    } else {
        say_raw!("{}", prov_inventory::graph(inv));
    }
    crate::driver::EXIT_OK
}

/// Opens SSH connections lazily, one per host for the whole run (every play, and every task
/// delegated to it), using Ansible's connection variables.
pub struct SshConnector {
    opts: prov_ssh::SshOptions,
    /// Every connection handed out, to kill what they run when the run is interrupted.
    live: Mutex<Vec<Weak<dyn Connection>>>,
    /// The connection of each host, by everything that decides where and how it connects
    /// ([`LazySsh::key`]): a play that changes the user or the key gets a connection of its
    /// own.
    open: Mutex<HashMap<String, Arc<LazySsh>>>,
}

impl SshConnector {
    /// Kills the commands running on every connection of this run (second Ctrl-C, SIGTERM).
    pub async fn cancel_all(&self) {
        let live: Vec<Arc<dyn Connection>> = match self.live.lock() {
            Ok(l) => l.iter().filter_map(Weak::upgrade).collect(),
            Err(_) => return,
        };
        futures_util::future::join_all(live.iter().map(|c| c.cancel())).await;
    }

    fn track(&self, c: Arc<dyn Connection>) -> Arc<dyn Connection> {
        if let Ok(mut l) = self.live.lock() {
            l.retain(|w| w.strong_count() > 0);
            l.push(Arc::downgrade(&c));
        }
        c
    }
}

/// Builds the connector for a run.
/// The host-key policy is `--host-key-checking`, else ansible.cfg's `host_key_checking`
/// (`False` becomes `accept-new`: unknown keys are recorded, a changed key is still refused,
/// where Ansible would connect), else strict.
pub fn ssh_connector(
    policy: Option<HostKeyChecking>,
    known_hosts: Option<PathBuf>,
    project_known_hosts: &[PathBuf],
) -> Result<Arc<SshConnector>, String> {
    let cfg = crate::config::get();
    let policy = policy.unwrap_or(match cfg.host_key_checking {
        Some(false) => HostKeyChecking::AcceptNew,
        _ => HostKeyChecking::Strict,
    });
    let mut opts = prov_ssh::SshOptions { policy: policy.policy(), ..Default::default() };
    if let Some(t) = cfg.timeout {
        opts.connect_timeout = Duration::from_secs(t);
    }
    if let Some(k) = known_hosts.or_else(|| std::env::var_os("PROV_KNOWN_HOSTS").map(PathBuf::from)) {
        opts.known_hosts = vec![k];
    }
    // Host keys prov installed on VMs it created: checked strictly like any other entry.
    opts.known_hosts.extend(project_known_hosts.iter().cloned());
    Ok(Arc::new(SshConnector { opts, live: Mutex::new(Vec::new()), open: Mutex::new(HashMap::new()) }))
}

fn var(vars: &VarMap, names: &[&str]) -> Option<String> {
    names.iter().find_map(|n| vars.get(*n)).filter(|v| !v.is_none() && !v.is_undefined()).map(|v| v.to_string())
}

impl Connector for SshConnector {
    fn connection(&self, host: &str, vars: &VarMap) -> Result<Arc<dyn Connection>, String> {
        let default_connection = crate::config::get().transport.clone();
        match var(vars, &["ansible_connection"]).or(default_connection).as_deref() {
            None | Some("ssh" | "smart" | "paramiko") => {}
            Some("local") => {
                let mut c = prov_ssh::LocalConnection::new(host);
                if let Some(dir) = var(vars, &["playbook_dir"]) {
                    c = c.in_dir(dir);
                }
                return Ok(self.track(Arc::new(c)));
            }
            Some(other) => return Err(format!("ansible_connection `{other}` is not supported (use ssh or local)")),
        }
        let address = var(vars, &["ansible_host", "ansible_ssh_host"]).unwrap_or_else(|| host.to_string());
        let cfg = crate::config::get();
        let port = match var(vars, &["ansible_port", "ansible_ssh_port"]) {
            None => cfg.remote_port.unwrap_or(22),
            Some(p) => p.parse().map_err(|_| format!("ansible_port `{p}` is not a port number"))?,
        };
        let named_user = var(vars, &["ansible_user", "ansible_ssh_user"]).or_else(|| cfg.remote_user.clone());
        let user = named_user.clone().or_else(|| std::env::var("USER").ok()).unwrap_or_else(|| "root".into());
        let identity_files = var(vars, &["ansible_ssh_private_key_file", "ansible_private_key_file"])
            .map(|p| PathBuf::from(expand_home(&p)))
            .or_else(|| cfg.private_key_file.clone())
            .map(|p| vec![p])
            .unwrap_or_default();
        let mut opts = self.opts.clone();
        // Cloud VMs (see README, "Host keys of cloud VMs"): the key is checked under the
        // instance id; a VM whose key prov could not read is `accept-new`, learned into the
        // project's known_hosts under that id.
        opts.host_key_alias = var(vars, &["prov_host_key_alias"]);
        if let Some(file) = var(vars, &["prov_known_hosts"]) {
            let file = PathBuf::from(file);
            opts.known_hosts.retain(|f| *f != file);
            opts.known_hosts.insert(0, file);
        }
        // The same words as `--host-key-checking`.
        if let Some(v) = var(vars, &["prov_host_key_checking"]) {
            let c = <HostKeyChecking as clap::ValueEnum>::from_str(&v, false)
                .map_err(|_| format!("prov_host_key_checking `{v}` must be strict or accept-new"))?;
            opts.policy = c.policy();
        }
        if let Some(t) = var(vars, &["ansible_ssh_timeout", "ansible_timeout"]) {
            if let Ok(secs) = t.parse::<u64>() {
                opts.connect_timeout = Duration::from_secs(secs);
            }
        }
        let target = prov_ssh::SshTarget { host: address, port, user, identity_files, display_name: host.to_string() };
        let fresh = LazySsh { target, named_user, opts, conn: Mutex::new(None), dialing: tokio::sync::Mutex::new(()) };
        let key = fresh.key();
        let mut open = self.open.lock().map_err(|_| "the connection table is poisoned".to_string())?;
        if let Some(c) = open.get(&key) {
            // A host that could not be reached, or whose session ended, is dialed again, as
            // each play and each delegation did before connections lasted the run.
            c.forget_if_lost();
            return Ok(c.clone());
        }
        let c = Arc::new(fresh);
        open.insert(key, c.clone());
        drop(open);
        Ok(self.track(c))
    }
}

fn expand_home(p: &str) -> String {
    match (p.strip_prefix("~/"), std::env::var("HOME")) {
        (Some(rest), Ok(home)) => format!("{home}/{rest}"),
        _ => p.to_string(),
    }
}

/// The session of a [`LazySsh`], or the failure to dial it.
type Dialed = Result<Arc<prov_ssh::SshConnection>, ConnectionError>;

/// Dials on first use, then reuses the session (or the failure to dial) for every command and
/// file, until `reconnect`.
struct LazySsh {
    target: prov_ssh::SshTarget,
    /// The user when a variable, keyword or the configuration names it (not `$USER`).
    named_user: Option<String>,
    opts: prov_ssh::SshOptions,
    /// Held only to read or replace it, never across a dial: `cancel` always gets through.
    conn: Mutex<Option<Dialed>>,
    /// One dial at a time.
    dialing: tokio::sync::Mutex<()>,
}

impl LazySsh {
    /// Everything that decides where it connects, as whom and how the server is checked.
    fn key(&self) -> String {
        let (t, o) = (&self.target, &self.opts);
        format!(
            "{:?}",
            (
                &t.display_name,
                &t.host,
                t.port,
                &t.user,
                &t.identity_files,
                &o.host_key_alias,
                &o.known_hosts,
                o.policy,
                o.connect_timeout
            )
        )
    }

    /// Drops a failed dial or an ended session, so the next use dials again.
    fn forget_if_lost(&self) {
        if let Ok(mut s) = self.conn.lock() {
            if matches!(&*s, Some(Err(_))) || matches!(&*s, Some(Ok(c)) if c.is_closed()) {
                s.take();
            }
        }
    }

    fn current(&self) -> Option<Dialed> {
        self.conn.lock().map(|s| s.clone()).unwrap_or_default()
    }

    async fn get(&self) -> Dialed {
        if let Some(r) = self.current() {
            return r;
        }
        let _one = self.dialing.lock().await;
        if let Some(r) = self.current() {
            return r;
        }
        let r = prov_ssh::connect(&self.target, &self.opts).await.map(Arc::new);
        if let Ok(mut s) = self.conn.lock() {
            *s = Some(r.clone());
        }
        r
    }
}

#[async_trait]
impl Connection for LazySsh {
    async fn exec(&self, req: ExecRequest) -> Result<ExecOutput, ConnectionError> {
        self.get().await?.exec(req).await
    }

    async fn put(
        &self,
        path: &str,
        data: &[u8],
        mode: Option<u32>,
        become_: Option<&Become>,
    ) -> Result<(), ConnectionError> {
        self.get().await?.put(path, data, mode, become_).await
    }

    async fn put_file(
        &self,
        path: &str,
        local: &std::path::Path,
        mode: Option<u32>,
        become_: Option<&Become>,
    ) -> Result<(), ConnectionError> {
        self.get().await?.put_file(path, local, mode, become_).await
    }

    async fn get(&self, path: &str, become_: Option<&Become>) -> Result<Option<Vec<u8>>, ConnectionError> {
        LazySsh::get(self).await?.get(path, become_).await
    }

    async fn exec_stream(
        &self,
        command: &str,
        stdin: &mut (dyn tokio::io::AsyncRead + Send + Unpin),
        output: &tokio::sync::mpsc::Sender<prov_core::connection::Chunk>,
    ) -> Result<i32, ConnectionError> {
        self.get().await?.exec_stream(command, stdin, output).await
    }

    fn remote_user(&self) -> Option<String> {
        self.named_user.clone()
    }

    async fn cancel(&self) {
        if let Some(Ok(c)) = self.current() {
            c.cancel().await;
        }
    }

    async fn reconnect(&self) {
        if let Ok(mut s) = self.conn.lock() {
            s.take();
        }
    }
}

/// `prov run PATTERN -- CMD`: one shell task on many hosts, through the normal engine.
pub async fn adhoc(a: AdhocArgs, sources: &SourceMap) -> i32 {
    let dir = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => {
            say_err!("prov: cannot create a temporary directory: {e}");
            return crate::driver::EXIT_FAILED;
        }
    };
    let cmd = a.cmd.join(" ");
    // CMD is a shell command, not a template (`--format '{{.Name}}'` is docker's syntax): it is
    // wrapped in a raw block so the engine passes it through byte for byte.
    if cmd.contains("endraw") {
        say_err!("prov run: the command contains `endraw`, which prov cannot pass through untemplated");
        return crate::driver::EXIT_BAD_INPUT;
    }
    let raw = format!("{{% raw %}}{cmd}{{% endraw %}}");
    let play = serde_json::json!([{
        "name": format!("prov run {}", a.pattern),
        "hosts": a.pattern,
        "gather_facts": false,
        "tasks": [{"name": raw, "shell": raw, "register": "out"}, {"name": "output", "debug": {"var": "out.stdout"}}],
    }]);
    let path = dir.path().join("adhoc.yml");
    if let Err(e) = std::fs::write(&path, play.to_string()) {
        say_err!("prov: cannot write {}: {e}", path.display());
        return crate::driver::EXIT_FAILED;
    }
    crate::driver::run_adhoc(path, a, sources).await
}
