//! Command-line interface (flags follow ansible-playbook where one exists).

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// Which ansible-core prov is checked against (`ansible_version` gives the same).
macro_rules! follows {
    () => {
        "behaves as ansible-core 2.19 (ansible_version 2.19.14)"
    };
}

/// `prov --version`: the version, then the providers built in and the Ansible release whose
/// behaviour prov follows.
#[cfg(all(feature = "gcp", feature = "aws"))]
const LONG_VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), "\nproviders: docker, gcp, aws\n", follows!());
#[cfg(all(feature = "gcp", not(feature = "aws")))]
const LONG_VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), "\nproviders: docker, gcp\n", follows!());
#[cfg(all(not(feature = "gcp"), feature = "aws"))]
const LONG_VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), "\nproviders: docker, aws\n", follows!());
#[cfg(not(any(feature = "gcp", feature = "aws")))]
const LONG_VERSION: &str =
    concat!(env!("CARGO_PKG_VERSION"), "\nproviders: docker (built without the gcp and aws features)\n", follows!());

/// prov: Ansible-syntax playbooks compiled to a task DAG, run in parallel over SSH.
#[derive(Debug, Parser)]
#[command(name = "prov", version, long_version = LONG_VERSION, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a playbook.
    Apply(RunArgs),
    /// Check mode with diffs, then a summary of what would change.
    Plan(RunArgs),
    /// Print the compiled DAG.
    Graph(GraphArgs),
    /// Parse, compile and check templates; connect to nothing.
    Validate(RunArgs),
    /// Show the inventory, like ansible-inventory.
    Inventory(InventoryArgs),
    /// Run a shell command on many hosts.
    Run(AdhocArgs),
    /// Manage the docker provider's node image.
    Image(ImageArgs),
    /// Set swarm service replicas through a manager and wait until they run.
    Scale(ScaleArgs),
    /// Switch every `release` of a playbook (or a role directory) back to its previous release.
    Rollback(RunArgs),
    /// Print a shell completion script: `prov completions bash > /etc/bash_completion.d/prov`.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff): `prov man > prov.1 && man ./prov.1`.
    Man,
}

impl Command {
    /// The connection flags of a command that connects to hosts.
    pub fn connect(&self) -> Option<&Connect> {
        match self {
            Command::Apply(a) | Command::Plan(a) | Command::Validate(a) | Command::Rollback(a) => Some(&a.connect),
            Command::Run(a) => Some(&a.connect),
            Command::Scale(a) => Some(&a.connect),
            _ => None,
        }
    }
}

/// `prov scale SVC=N ...`.
#[derive(Debug, Args)]
pub struct ScaleArgs {
    /// Services and replica counts: `web=3 celery=1` (a stack's `demo_web` may be named `web`).
    #[arg(required = true)]
    pub services: Vec<String>,
    /// Inventory, variables, limit.
    #[command(flatten)]
    pub common: Common,
    /// User, connection, key, become.
    #[command(flatten)]
    pub connect: Connect,
    /// Inventory group holding the swarm managers.
    #[arg(long, default_value = "managers")]
    pub manager_group: String,
    /// Give up waiting after this many seconds.
    #[arg(long, default_value_t = 300)]
    pub timeout: u64,
    /// Host-key policy (default strict, or ansible.cfg's `host_key_checking`).
    #[arg(long, value_enum)]
    pub host_key_checking: Option<HostKeyChecking>,
    /// known_hosts file (default ~/.ssh/known_hosts).
    #[arg(long)]
    pub known_hosts: Option<PathBuf>,
    /// Seconds to wait for another run of the same project to end (default: refuse at once).
    #[arg(long, default_value_t = 0)]
    pub lock_timeout: u64,
}

/// `prov image`.
#[derive(Debug, Args)]
pub struct ImageArgs {
    /// What to do.
    #[command(subcommand)]
    pub action: ImageAction,
}

/// `prov image` actions.
#[derive(Debug, Subcommand)]
pub enum ImageAction {
    /// Build the node image (debootstrap'd Debian with sshd) when it is missing.
    Build {
        /// Rebuild even when it exists.
        #[arg(long)]
        force: bool,
        /// Image name.
        #[arg(long, default_value = prov_providers::docker::image::NODE_IMAGE)]
        image: String,
    },
}

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// Ansible-like lines and a recap.
    Human,
    /// Newline-delimited JSON events (`prov plan`: then the whole plan as one `plan` event).
    Json,
    /// `prov plan` only: the plan as Markdown, for a pull-request comment; nothing while it runs.
    Markdown,
}

/// Host-key policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum HostKeyChecking {
    /// Refuse hosts not in known_hosts.
    Strict,
    /// Record unknown hosts' keys; refuse changed keys.
    AcceptNew,
}

impl HostKeyChecking {
    /// The SSH layer's policy.
    pub fn policy(self) -> prov_ssh::HostKeyPolicy {
        match self {
            HostKeyChecking::Strict => prov_ssh::HostKeyPolicy::Strict,
            HostKeyChecking::AcceptNew => prov_ssh::HostKeyPolicy::AcceptNew,
        }
    }
}

/// Inventory and variables, shared by every command.
#[derive(Debug, Args, Clone)]
pub struct Common {
    /// Inventory file, directory or `host1,host2,` list (repeatable).
    #[arg(short = 'i', long = "inventory")]
    pub inventory: Vec<String>,
    /// Extra variables: `k=v ...`, `@file.yml` or JSON (repeatable).
    #[arg(short = 'e', long = "extra-vars")]
    pub extra_vars: Vec<String>,
    /// Only hosts matching this pattern.
    #[arg(short = 'l', long)]
    pub limit: Option<String>,
}

/// How hosts are reached, with ansible-playbook's flags. Each wins over its ansible.cfg
/// setting and loses to the host's own variables (`ansible_user`, `ansible_connection`,
/// `ansible_ssh_private_key_file`) and to `become` set on a play, block or task.
#[derive(Debug, Args, Clone, Default)]
pub struct Connect {
    /// Connect as this user (ansible.cfg's `remote_user`).
    #[arg(short = 'u', long = "user")]
    pub user: Option<String>,
    /// The connection of hosts that set no `ansible_connection`: `ssh` (default) or `local`.
    #[arg(short = 'c', long = "connection")]
    pub connection: Option<String>,
    /// SSH private key file (ansible.cfg's `private_key_file`).
    #[arg(long = "private-key", visible_alias = "key-file")]
    pub private_key: Option<PathBuf>,
    /// Escalate (with sudo, or `--become-method`), unless a play, block or task sets `become` (ansible.cfg's `become`).
    #[arg(short = 'b', long = "become")]
    pub become_: bool,
    /// The user to become (default root; ansible.cfg's `become_user`).
    #[arg(long = "become-user")]
    pub become_user: Option<String>,
    /// Escalation method: `sudo` (default) or `su` (ansible.cfg's `become_method`).
    #[arg(long = "become-method")]
    pub become_method: Option<String>,
    /// Refused: prov does not prompt for passwords (use SSH keys).
    #[arg(short = 'k', long = "ask-pass")]
    pub ask_pass: bool,
    /// Run the handlers a host notified even when it fails (the plays' default for
    /// `force_handlers`; ansible.cfg's `force_handlers`).
    #[arg(long)]
    pub force_handlers: bool,
    /// Refused: prov escalates with passwordless sudo only.
    #[arg(short = 'K', long = "ask-become-pass")]
    pub ask_become_pass: bool,
}

/// `apply`, `plan`, `validate`, `rollback`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Playbook file (for `rollback`: a playbook or a role directory).
    pub playbook: PathBuf,
    /// Inventory, variables, limit.
    #[command(flatten)]
    pub common: Common,
    /// User, connection, key, become.
    #[command(flatten)]
    pub connect: Connect,
    /// Only tasks with these tags (comma-separated, repeatable).
    #[arg(short = 't', long, value_delimiter = ',')]
    pub tags: Vec<String>,
    /// Skip tasks with these tags.
    #[arg(long, value_delimiter = ',')]
    pub skip_tags: Vec<String>,
    /// Report what would change; change nothing.
    #[arg(short = 'C', long)]
    pub check: bool,
    /// Show diffs of changed files.
    #[arg(short = 'D', long)]
    pub diff: bool,
    /// Hosts working at once (default ansible.cfg's `forks`, else 200).
    #[arg(short = 'f', long)]
    pub forks: Option<usize>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Output::Human)]
    pub output: Output,
    /// Write a JUnit XML report here.
    #[arg(long)]
    pub junit: Option<PathBuf>,
    /// Name tasks still running after 10 s, on a line each (again every 10 s); without it
    /// only the status line on a terminal says so. Nothing of it in `--output json`.
    #[arg(short = 'v', long)]
    pub verbose: bool,
    /// `prov plan` only: exit 0 when nothing would change, 2 when changes are pending, 1 when
    /// planning failed (a task failed or a host was unreachable), as `terraform plan
    /// -detailed-exitcode`; 4 still means bad input.
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// Per-command timeout in seconds.
    #[arg(long)]
    pub timeout: Option<u64>,
    /// Host-key policy (default strict, or ansible.cfg's `host_key_checking`; `accept-new`
    /// records unknown keys).
    #[arg(long, value_enum)]
    pub host_key_checking: Option<HostKeyChecking>,
    /// known_hosts file (default ~/.ssh/known_hosts).
    #[arg(long)]
    pub known_hosts: Option<PathBuf>,
    /// Seconds to wait for another run of the same project to end (default: refuse at once).
    #[arg(long, default_value_t = 0)]
    pub lock_timeout: u64,
}

/// `graph`.
#[derive(Debug, Args)]
pub struct GraphArgs {
    /// Playbook file.
    pub playbook: PathBuf,
    /// Inventory, variables, limit.
    #[command(flatten)]
    pub common: Common,
    /// Only tasks with these tags.
    #[arg(short = 't', long, value_delimiter = ',')]
    pub tags: Vec<String>,
    /// Skip tasks with these tags.
    #[arg(long, value_delimiter = ',')]
    pub skip_tags: Vec<String>,
    /// `text` or `dot`.
    #[arg(long, default_value = "text")]
    pub format: GraphFormat,
}

/// Graph formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GraphFormat {
    /// Stable text.
    Text,
    /// Graphviz.
    Dot,
}

/// `inventory`.
#[derive(Debug, Args)]
pub struct InventoryArgs {
    /// Inventory, variables, limit.
    #[command(flatten)]
    pub common: Common,
    /// Show the group tree.
    #[arg(long)]
    pub graph: bool,
    /// All hosts and vars as JSON.
    #[arg(long)]
    pub list: bool,
    /// One host's vars as JSON.
    #[arg(long)]
    pub host: Option<String>,
}

/// `run`.
#[derive(Debug, Args)]
pub struct AdhocArgs {
    /// Host pattern.
    pub pattern: String,
    /// Inventory, variables, limit.
    #[command(flatten)]
    pub common: Common,
    /// User, connection, key, become.
    #[command(flatten)]
    pub connect: Connect,
    /// Hosts working at once (default ansible.cfg's `forks`, else 200).
    #[arg(short = 'f', long)]
    pub forks: Option<usize>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Output::Human)]
    pub output: Output,
    /// Host-key policy (default strict, or ansible.cfg's `host_key_checking`).
    #[arg(long, value_enum)]
    pub host_key_checking: Option<HostKeyChecking>,
    /// known_hosts file (default ~/.ssh/known_hosts).
    #[arg(long)]
    pub known_hosts: Option<PathBuf>,
    /// The command (after `--`).
    #[arg(last = true, required = true)]
    pub cmd: Vec<String>,
}
