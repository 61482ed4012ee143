//! What each subcommand does: load and check everything first, then connect and run.

use crate::cli::{Cli, Command, Common, GraphArgs, GraphFormat, InventoryArgs, Output, RunArgs};
use crate::diagnostics;
use crate::output::{write_junit, Reporter};
use prov_core::compile::{bind, bind_sitting_out, compile_playbook, CompileOptions, CompiledPlaybook, PlayDefaults};
use prov_core::diag::{DiagKind, Diagnostic, Diagnostics};
use prov_core::inventory::{HostPattern, Inventory};
use prov_core::module::{CheckMode, DiffMode, Registry, RunMode};
use prov_core::source::{SourceMap, Span};
use prov_core::template::Templar;
use prov_exec::{Event, HostPersist, Interrupt, PlayEnv, RunOptions};
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// Exit code: every host succeeded.
pub const EXIT_OK: i32 = 0;
/// Exit code: prov could not do its job (a provider is unavailable, ...).
pub const EXIT_ERROR: i32 = 1;
/// Exit code: a task failed on some host.
pub const EXIT_FAILED: i32 = 2;
/// Exit code: some host could not be reached (ansible-playbook's 4, which is also its code for
/// bad input).
pub const EXIT_UNREACHABLE: i32 = 4;
/// Exit code: bad input; nothing ran.
pub const EXIT_BAD_INPUT: i32 = 4;
/// Exit code: interrupted.
pub const EXIT_INTERRUPTED: i32 = 99;
/// Exit code of `prov plan --detailed-exitcode` when changes are pending.
pub const EXIT_PLAN_CHANGES: i32 = 2;
/// Exit code: another run holds the project's lock (nothing was run). Not Ansible's (it has
/// no lock); 1, like Terraform's refusal of a locked state.
pub const EXIT_LOCKED: i32 = EXIT_ERROR;

/// Hosts working at once when neither `-f` nor ansible.cfg says (Ansible's default is 5;
/// prov's walk is meant for whole fleets at once).
pub const DEFAULT_FORKS: usize = 200;

/// Runs one command line; returns the exit code.
pub async fn main(cli: Cli) -> i32 {
    match cli.command {
        Command::Completions { shell } => return completions(shell),
        Command::Man => return man(),
        _ => {}
    }
    let sources = SourceMap::new();
    // ansible.cfg and the ANSIBLE_* environment, read once before anything else.
    match crate::config::load(&sources) {
        Ok((mut cfg, warnings)) => {
            diagnostics::print_all(&warnings, &sources);
            if let Some(c) = cli.command.connect() {
                if let Err(e) = cfg.apply_flags(c) {
                    say_err!("prov: {e}; nothing was run");
                    return EXIT_BAD_INPUT;
                }
            }
            if let Some(n) = cfg.max_diff_size {
                prov_modules::files::set_max_diff_size(n);
            }
            crate::config::set(cfg);
        }
        Err(d) => return fail_input(&d, &sources),
    }
    match cli.command {
        Command::Apply(a) => run(a, Mode::Apply, &sources).await,
        Command::Plan(a) => run(a, Mode::Plan, &sources).await,
        Command::Validate(a) => run(a, Mode::Validate, &sources).await,
        Command::Graph(g) => graph(g, &sources).await,
        Command::Inventory(i) => inventory(i, &sources).await,
        Command::Run(a) => crate::connect::adhoc(a, &sources).await,
        Command::Image(i) => image(i).await,
        Command::Scale(a) => crate::scale::scale(a, &sources).await,
        Command::Rollback(a) => rollback(a, &sources).await,
        // Answered above, before the configuration is read.
        Command::Completions { .. } | Command::Man => EXIT_OK,
    }
}

/// `prov completions SHELL`.
fn completions(shell: clap_complete::Shell) -> i32 {
    let mut cmd = <Cli as clap::CommandFactory>::command();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut cmd, "prov", &mut out);
    say_raw!("{}", String::from_utf8_lossy(&out));
    EXIT_OK
}

/// `prov man`.
fn man() -> i32 {
    let mut out = Vec::new();
    match clap_mangen::Man::new(<Cli as clap::CommandFactory>::command()).render(&mut out) {
        Ok(()) => {
            say_raw!("{}", String::from_utf8_lossy(&out));
            EXIT_OK
        }
        Err(e) => {
            say_err!("prov: cannot render the manual page: {e}");
            EXIT_ERROR
        }
    }
}

async fn image(a: crate::cli::ImageArgs) -> i32 {
    let crate::cli::ImageAction::Build { force, image } = a.action;
    let cfg = prov_providers::docker::DockerConfig {
        project: "prov-image".into(),
        network: None,
        subnet: None,
        image: Some(image.clone()),
        build_image: false,
    };
    let provider = match prov_providers::docker::DockerProvider::connect(cfg).await {
        Ok(p) => p,
        Err(e) => {
            say_err!("prov: {e}");
            return EXIT_ERROR;
        }
    };
    let exists = match prov_providers::docker::image::image_exists(provider.docker(), &image).await {
        Ok(b) => b,
        Err(e) => {
            say_err!("prov: {e}");
            return EXIT_ERROR;
        }
    };
    if exists && !force {
        say!("{image} exists (use --force to rebuild)");
        return EXIT_OK;
    }
    let start = std::time::Instant::now();
    match prov_providers::docker::image::build_node_image(provider.docker(), &image).await {
        Ok(()) => {
            say!("built {image} in {:.0} s", start.elapsed().as_secs_f64());
            EXIT_OK
        }
        Err(e) => {
            say_err!("prov: {e}");
            EXIT_ERROR
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Apply,
    Plan,
    Validate,
    Rollback,
}

/// The module `prov rollback` runs, with `state: rollback`.
const RELEASE: &str = "release";

/// Everything checked before any connection: variables, inventory, playbook, bindings.
pub struct Loaded {
    pub inventory: Inventory,
    pub playbook: CompiledPlaybook,
    pub templar: Arc<Templar>,
    pub registry: Registry,
    pub extra_vars: Arc<prov_core::vars::VarMap>,
    pub limit: Option<HostPattern>,
    pub inventory_paths: Vec<String>,
    pub known_hosts: Vec<PathBuf>,
    /// Provider projects of the inventory (what the run lock covers).
    pub projects: Vec<String>,
}

fn fail_input(diags: &Diagnostics, sources: &SourceMap) -> i32 {
    let n = diagnostics::print_all(&diags.0, sources);
    say_err!("prov: {n} error(s); nothing was run");
    // A provider that cannot be reached is a problem of the machine, not of the input.
    if diags.errors().all(|d| d.kind == DiagKind::Unavailable) {
        return EXIT_ERROR;
    }
    EXIT_BAD_INPUT
}

/// Loads the inventory from `-i` sources (by default those of `PROV_INVENTORY`, else of
/// ansible.cfg, else Ansible's `/etc/ansible/hosts`, else none: only the implicit localhost).
pub async fn load_inventory(
    common: &Common,
    sources: &SourceMap,
) -> Result<crate::connect::InventoryLoad, Diagnostics> {
    let paths = inventory_paths(common);
    if paths.is_empty() {
        // As ansible-playbook without an inventory.
        let note = "no inventory was given (no -i, no inventory in ansible.cfg, no /etc/ansible/hosts): \
                    only the implicit localhost is available";
        diagnostics::print_all(&[Diagnostic::warning(Span::NONE, note)], sources);
    }
    crate::connect::load_inventory(&paths, sources).await
}

/// Adds the `group_vars/` and `host_vars/` next to the playbook to the inventory, as Ansible
/// does (unless that directory is an inventory's own, already read).
pub fn add_playbook_vars_dirs(
    playbook: &Path,
    common: &Common,
    sources: &SourceMap,
    inventory: &mut prov_core::inventory::Inventory,
) -> Result<(), Diagnostics> {
    let dir = playbook.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let canon = |p: &Path| std::fs::canonicalize(p).ok();
    let own = canon(dir);
    let read = inventory_paths(common).iter().any(|p| {
        let p = Path::new(p);
        let inv_dir = if p.is_dir() {
            Some(p)
        } else {
            p.parent().filter(|d| !d.as_os_str().is_empty()).or(Some(Path::new(".")))
        };
        inv_dir.and_then(canon) == own
    });
    if read {
        return Ok(());
    }
    let mut warnings = Vec::new();
    prov_inventory::load_playbook_vars_dirs(dir, sources, inventory, &mut warnings)?;
    diagnostics::print_all(&warnings, sources);
    Ok(())
}

/// Asks `vars_prompt` questions on the terminal, as ansible-playbook does; `None` when standard
/// input is not a terminal (then nothing is asked, as ansible-core out of interactive mode).
fn terminal_prompter() -> Option<prov_core::compile::Prompter> {
    use std::io::IsTerminal;
    if !std::io::stdin().is_terminal() || !std::io::stderr().is_terminal() {
        return None;
    }
    let ask = |req: &prov_core::compile::PromptRequest| -> Result<String, String> {
        let term = console::Term::stderr();
        let read = |question: &str| -> Result<String, String> {
            term.write_str(question).map_err(|e| e.to_string())?;
            let line = if req.private { term.read_secure_line() } else { term.read_line() };
            line.map_err(|e| e.to_string())
        };
        let question = match &req.default {
            Some(d) => format!("{} [{d}]: ", req.prompt),
            None => format!("{}: ", req.prompt),
        };
        loop {
            let mut answer = read(&question)?;
            if req.confirm {
                let again = read(&format!("confirm {}: ", req.prompt))?;
                if again != answer {
                    let _ = term.write_line("***** VALUES ENTERED DO NOT MATCH ****");
                    continue;
                }
            }
            if answer.is_empty() {
                answer = req.default.clone().unwrap_or_default();
            }
            return Ok(answer);
        }
    };
    Some(prov_core::compile::Prompter(std::sync::Arc::new(ask)))
}

/// The inventory Ansible reads when nothing names one.
const ANSIBLE_DEFAULT_INVENTORY: &str = "/etc/ansible/hosts";

pub fn inventory_paths(common: &Common) -> Vec<String> {
    if common.inventory.is_empty() {
        if let Ok(v) = std::env::var("PROV_INVENTORY") {
            return v.split(':').map(str::to_string).collect();
        }
        if let Some(v) = &crate::config::get().inventory {
            return v.clone();
        }
        if Path::new(ANSIBLE_DEFAULT_INVENTORY).exists() {
            return vec![ANSIBLE_DEFAULT_INVENTORY.into()];
        }
        return Vec::new();
    }
    common.inventory.clone()
}

fn parse_limit(common: &Common, sources: &SourceMap) -> Result<Option<HostPattern>, Diagnostics> {
    let Some(l) = &common.limit else { return Ok(None) };
    HostPattern::parse(l).map(Some).map_err(|e| {
        let file = sources.add("--limit", l.clone());
        Diagnostics(vec![Diagnostic::error(
            DiagKind::Pattern,
            Span { file, start: 0, end: l.len() as u32, line: 1, col: 1 },
            format!("bad --limit pattern: {e}"),
        )
        .with_help("patterns look like `web`, `web:&prod`, `web:!web3`, `web[0:2]`, `~regex`")])
    })
}

/// Takes the run lock of the projects `loaded` works on (see `lock.rs`); on refusal, prints
/// why and gives the exit code.
pub fn take_run_lock(
    projects: &[String],
    inventory_paths: &[String],
    timeout_secs: u64,
) -> Result<crate::lock::RunLock, i32> {
    let targets = crate::lock::targets(projects, inventory_paths);
    // Waiting for another run's lock sleeps: keep that off the async workers.
    match tokio::task::block_in_place(|| crate::lock::acquire(&targets, Duration::from_secs(timeout_secs))) {
        Ok((lock, notes)) => {
            for n in notes {
                say_err!("prov: {n}");
            }
            Ok(lock)
        }
        Err(e) => {
            say_err!("prov: {e}");
            say_err!("prov: nothing was run; wait for it, or pass --lock-timeout SECONDS to wait here");
            Err(EXIT_LOCKED)
        }
    }
}

/// The play defaults of ansible.cfg.
fn play_defaults() -> PlayDefaults {
    let cfg = crate::config::get();
    PlayDefaults {
        roles_path: cfg.roles_path.clone(),
        collections_path: cfg.collections_path.clone(),
        become_: cfg.become_,
        become_user: cfg.become_user.clone(),
        become_method: cfg.become_method,
        strategy: cfg.strategy.clone(),
        gathering: cfg.gathering.clone(),
        force_handlers: cfg.force_handlers,
    }
}

/// Parses, compiles and binds; reports every problem it can find before returning.
pub async fn load(
    playbook: &Path,
    common: &Common,
    tags: &[String],
    skip_tags: &[String],
    only_modules: &[String],
    sources: &SourceMap,
    ask: bool,
) -> Result<Loaded, Diagnostics> {
    let mut diags = Diagnostics::default();
    let extra_vars = match crate::extra_vars::parse(&common.extra_vars, sources) {
        Ok(v) => Arc::new(v),
        Err(d) => {
            diags.extend(d);
            Arc::default()
        }
    };
    let limit = match parse_limit(common, sources) {
        Ok(l) => l,
        Err(d) => {
            diags.extend(d);
            None
        }
    };
    let inventory_load = match load_inventory(common, sources).await {
        Ok(i) => i,
        Err(d) => {
            diags.extend(d);
            return Err(diags);
        }
    };
    if diags.has_errors() {
        return Err(diags);
    }
    let mut inventory = inventory_load.inventory;
    add_playbook_vars_dirs(playbook, common, sources, &mut inventory)?;
    if let (Some(pattern), Some(text)) = (&limit, &common.limit) {
        // As ansible-playbook: a --limit that leaves no host of the inventory is an error (the
        // implicit localhost does not count).
        let selected = inventory.select(pattern);
        if !inventory.hosts().any(|h| selected.contains(&h.name)) {
            let file = sources.add("--limit", text.clone());
            diags.push(
                Diagnostic::error(
                    DiagKind::Pattern,
                    Span { file, start: 0, end: text.len() as u32, line: 1, col: 1 },
                    format!("--limit `{text}` leaves no host of the inventory to target"),
                )
                .with_help("see `prov inventory --graph` for the groups and hosts"),
            );
            return Err(diags);
        }
    }
    let dir = playbook
        .parent()
        .map(Path::to_path_buf)
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or_else(|| PathBuf::from("."));
    let templar = Arc::new(Templar::new(vec![dir]));
    let registry = prov_modules::registry();
    let opts = CompileOptions {
        tags: tags.to_vec(),
        skip_tags: skip_tags.to_vec(),
        extra_vars: extra_vars.clone(),
        only_modules: only_modules.to_vec(),
        defaults: play_defaults(),
        // `prov validate` and `prov graph` ask nothing (as `--syntax-check`).
        prompter: if ask { terminal_prompter() } else { None },
        interactive: std::io::IsTerminal::is_terminal(&std::io::stdin()),
    };
    let (pb, warnings) = compile_playbook(playbook, sources, &templar, &registry, &inventory, &opts)?;
    diagnostics::print_all(&warnings, sources);
    // Bind every play now so bad patterns surface before anything runs.
    for play in &pb.plays {
        match bind(play, &inventory, limit.as_ref()) {
            Err(e) => diags.push(
                Diagnostic::error(DiagKind::Pattern, play.hosts_span, e)
                    .with_help("see `prov inventory --graph` for the groups and hosts"),
            ),
            // Escalations some host cannot do (`su` with a password): refused before connecting.
            Ok(bp) => {
                for (span, msg) in prov_exec::runner::become_refusals(&bp, &inventory) {
                    diags.push(Diagnostic::error(DiagKind::Unsupported, span, msg));
                }
                if let Err(cycle) = bp.check_waits() {
                    let ((waiter, on), (waited, by)) = (cycle.waiter, cycle.waited);
                    let other = sources.location(play.tasks[waited].span);
                    diags.push(
                        Diagnostic::error(
                            DiagKind::Unsupported,
                            play.tasks[waiter].span,
                            format!(
                                "this task on {on} waits for the task at {other} on {by}, which waits for it: the play would never end"
                            ),
                        )
                        .with_help("a `hostvars` read or `delegate_to` here needs what the other task makes; move one of them"),
                    );
                }
            }
        }
    }
    if diags.has_errors() {
        return Err(diags);
    }
    Ok(Loaded {
        inventory,
        playbook: pb,
        templar,
        registry,
        extra_vars,
        limit,
        inventory_paths: inventory_paths(common),
        known_hosts: inventory_load.known_hosts,
        projects: inventory_load.projects,
    })
}

async fn run(a: RunArgs, mode: Mode, sources: &SourceMap) -> i32 {
    if mode != Mode::Plan && (a.output == Output::Markdown || a.detailed_exitcode) {
        let what = if a.detailed_exitcode { "--detailed-exitcode" } else { "--output markdown" };
        say_err!("prov: {what} is for `prov plan` only; nothing was run");
        return EXIT_BAD_INPUT;
    }
    let only: Vec<String> = if mode == Mode::Rollback { vec![RELEASE.into()] } else { Vec::new() };
    let mut loaded =
        match load(&a.playbook, &a.common, &a.tags, &a.skip_tags, &only, sources, mode != Mode::Validate).await {
            Ok(l) => l,
            Err(d) => return fail_input(&d, sources),
        };
    if mode == Mode::Rollback {
        if let Err(msg) = to_rollback(&mut loaded.playbook) {
            say_err!("prov: {}: {msg}", a.playbook.display());
            return EXIT_BAD_INPUT;
        }
    }
    if mode == Mode::Validate {
        let tasks: usize = loaded.playbook.plays.iter().map(|p| p.tasks.len()).sum();
        say!("{}: {} play(s), {} task(s): OK", a.playbook.display(), loaded.playbook.plays.len(), tasks);
        return EXIT_OK;
    }
    let check = a.check || mode == Mode::Plan;
    let rollback = mode == Mode::Rollback;
    let cfg = crate::config::get();
    let diff = a.diff || mode == Mode::Plan || cfg.diff_always == Some(true);
    let opts = RunOptions {
        mode: RunMode {
            check: if check { CheckMode::Check } else { CheckMode::Apply },
            diff: if diff { DiffMode::On } else { DiffMode::Off },
        },
        forks: a.forks.or(cfg.forks).unwrap_or(DEFAULT_FORKS).max(1),
        extra_vars: loaded.extra_vars.clone(),
        task_timeout: a.timeout.map(Duration::from_secs),
        tags: a.tags.clone(),
        skip_tags: a.skip_tags.clone(),
        limit: a.common.limit.clone(),
    };
    // Runs that change hosts hold the project's run lock until they end (also on Ctrl-C).
    let _lock = if check {
        None
    } else {
        match take_run_lock(&loaded.projects, &loaded.inventory_paths, a.lock_timeout) {
            Ok(l) => Some(l),
            Err(code) => return code,
        }
    };
    let connector = match crate::connect::ssh_connector(a.host_key_checking, a.known_hosts.clone(), &loaded.known_hosts)
    {
        Ok(c) => c,
        Err(e) => {
            say_err!("prov: {e}");
            return EXIT_BAD_INPUT;
        }
    };
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Event>();
    let format = a.output;
    let verbose = a.verbose;
    let reporter = tokio::spawn(async move {
        let mut r = Reporter::new(format).verbose(verbose);
        if mode == Mode::Plan {
            r = r.masking_diffs();
        }
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tokio::select! {
                e = rx.recv() => match e {
                    Some(e) => r.handle(e),
                    None => break,
                },
                _ = tick.tick() => r.tick(),
            }
        }
        r
    });
    let (itx, irx) = tokio::sync::watch::channel(0u8);
    let killer = connector.clone();
    let signals = tokio::spawn(async move {
        // The first Ctrl-C stops new tasks; the second, or SIGTERM, also kills the commands
        // running on every host (with what they started), so the recap follows at once.
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        let mut level = 0u8;
        loop {
            let hard = tokio::select! {
                r = tokio::signal::ctrl_c() => {
                    if r.is_err() {
                        return;
                    }
                    level = level.saturating_add(1);
                    level >= 2
                }
                Some(()) = async {
                    match term.as_mut() {
                        Some(t) => t.recv().await,
                        None => std::future::pending().await,
                    }
                } => true,
            };
            if hard {
                level = 2;
                say_err!("\nprov: interrupted: killing the commands still running");
                // Kill first, while the commands are still tracked; then let every host stop
                // waiting for whatever is left (controller-side work).
                let _ = itx.send(1);
                killer.cancel_all().await;
                let _ = itx.send(2);
            } else {
                say_err!(
                    "\nprov: interrupted: no new tasks start; in-flight commands finish (Ctrl-C again to kill them)"
                );
                let _ = itx.send(1);
            }
        }
    });
    let interrupt = Interrupt(irx);
    let mut persist: HashMap<String, HostPersist> = HashMap::new();
    let mut dead: BTreeSet<String> = BTreeSet::new();
    let mut recap: indexmap::IndexMap<String, prov_exec::HostRecap> = indexmap::IndexMap::new();
    let mut forgiven: HashMap<String, (u32, u32)> = HashMap::new();
    let mut fatal: Option<prov_exec::Fatal> = None;
    let mut interrupted = false;
    let mut inventory = loaded.inventory.clone();
    // `add_host`/`group_by` edits so far: made again on an inventory read anew.
    let mut edits: Vec<prov_core::inventory::InventoryEdit> = Vec::new();
    let mut plays_run: Vec<crate::plan::PlayRun> = Vec::new();
    for (i, play) in loaded.playbook.plays.iter().enumerate() {
        // Failed hosts sit out later plays, as in Ansible (in their batches; and
        // `ansible_play_hosts_all` still names them).
        let bp = match bind_sitting_out(play, &inventory, loaded.limit.as_ref(), &dead) {
            Ok(b) => b,
            Err(e) => {
                say_err!("prov: play {}: {e}", i + 1);
                continue;
            }
        };
        if bp.hosts.is_empty() && bp.hosts_all.iter().any(|h| dead.contains(h)) {
            continue;
        }
        // For the plan: what the play's hosts were (a play whose tasks `--tags` all left out
        // would do nothing on hosts that do not exist yet either).
        if play.tasks.iter().any(|t| t.selected && !t.handler) {
            plays_run.push(crate::plan::PlayRun {
                play: i,
                name: play.name.clone(),
                pattern: play.hosts.clone(),
                hosts: bp.hosts.clone(),
            });
        }
        let env = PlayEnv {
            templar: loaded.templar.clone(),
            registry: &loaded.registry,
            inventory: &inventory,
            connector: connector.clone(),
            opts: &opts,
            events: &tx,
            interrupt: interrupt.clone(),
            playbook_dir: play.dir.clone(),
            sources: sources.clone(),
        };
        let result = prov_exec::run_play(&bp, i, &env, std::mem::take(&mut persist)).await;
        persist = result.persist;
        dead.extend(result.dead);
        for r in result.recaps {
            let e = recap
                .entry(r.host.clone())
                .or_insert_with(|| prov_exec::HostRecap { host: r.host.clone(), ..Default::default() });
            e.ok += r.ok;
            e.changed += r.changed;
            e.unreachable += r.unreachable;
            e.failed += r.failed;
            e.skipped += r.skipped;
            e.rescued += r.rescued;
            e.ignored += r.ignored;
        }
        // `meta: clear_host_errors`: the host is back for later plays, and the failures it
        // had so far no longer decide the exit code (the recap keeps them, as in Ansible).
        for h in &result.cleared {
            dead.remove(h);
            if let Some(r) = recap.get(h) {
                forgiven.insert(h.clone(), (r.failed, r.unreachable));
            }
        }
        if result.interrupted {
            interrupted = true;
            break;
        }
        if let Some(msg) = result.fatal {
            fatal = Some(msg);
            break;
        }
        if result.break_run {
            break;
        }
        if let Some((inv, made)) = result.inventory {
            inventory = inv;
            edits.extend(made);
        }
        if result.refresh_inventory {
            match load_inventory(
                &Common { inventory: loaded.inventory_paths.clone(), extra_vars: Vec::new(), limit: None },
                sources,
            )
            .await
            {
                Ok(inv) => {
                    inventory = inv.inventory;
                    let common =
                        Common { inventory: loaded.inventory_paths.clone(), extra_vars: Vec::new(), limit: None };
                    if let Err(d) = add_playbook_vars_dirs(&a.playbook, &common, sources, &mut inventory) {
                        diagnostics::print_all(&d.0, sources);
                    }
                    // As ansible-core: the hosts and groups add_host and group_by made stay.
                    for e in &edits {
                        inventory.apply(e);
                    }
                }
                Err(d) => {
                    diagnostics::print_all(&d.0, sources);
                }
            }
        }
    }
    // Hosts killed in their last task stop as failed rather than interrupted: the run was.
    interrupted |= interrupt.level() > 0;
    // As ansible-core's recap: the hosts something happened on, sorted by name.
    let mut hosts: Vec<prov_exec::HostRecap> = recap.into_values().filter(|r| !r.is_empty()).collect();
    hosts.sort_by(|a, b| a.host.cmp(&b.host));
    let _ = tx.send(Event::Recap { hosts: hosts.clone(), interrupted });
    drop(tx);
    signals.abort();
    let mut reporter = match reporter.await {
        Ok(r) => r,
        Err(_) => return EXIT_FAILED,
    };
    let plan = (mode == Mode::Plan).then(|| {
        let plan =
            crate::plan::Plan::new(&a.playbook.display().to_string(), &reporter.results, &reporter.recap, &plays_run);
        reporter.print_plan_summary(&plan);
        plan
    });
    if rollback {
        let mut hosts: Vec<String> = Vec::new();
        for h in plays_run.iter().flat_map(|p| &p.hosts) {
            if !hosts.contains(h) {
                hosts.push(h.clone());
            }
        }
        reporter.print_release_summary(RELEASE, &hosts);
    }
    if let Some(path) = &a.junit {
        if let Err(e) = write_junit(path, &reporter.results) {
            say_err!("prov: cannot write {}: {e}", path.display());
        }
    }
    if let Some(f) = fatal {
        say_err!("prov: {}; the run stopped", f.message);
        return if f.bad_input { EXIT_BAD_INPUT } else { EXIT_ERROR };
    }
    let counted: Vec<prov_exec::HostRecap> = hosts
        .into_iter()
        .map(|mut h| {
            if let Some((failed, unreachable)) = forgiven.get(&h.host) {
                h.failed = h.failed.saturating_sub(*failed);
                h.unreachable = h.unreachable.saturating_sub(*unreachable);
            }
            h
        })
        .collect();
    // A host failed without a result of its own (a `run_once` task failed on the host that
    // ran it) fails the run too, as ansible-core's exit code counts failed hosts.
    let marked =
        dead.iter().any(|h| counted.iter().find(|r| &r.host == h).is_none_or(|r| r.failed == 0 && r.unreachable == 0));
    match plan {
        Some(plan) if a.detailed_exitcode => match detailed_exit_code(&plan, &counted, interrupted) {
            EXIT_OK | EXIT_PLAN_CHANGES if marked => EXIT_ERROR,
            code => code,
        },
        _ => match exit_code(&counted, interrupted) {
            EXIT_OK if marked => EXIT_FAILED,
            code => code,
        },
    }
}

/// `prov rollback`: a role directory becomes a one-play playbook over `all` (or `--limit`);
/// then the playbook's `release` tasks run with `state: rollback`.
async fn rollback(mut a: RunArgs, sources: &SourceMap) -> i32 {
    let _dir; // keeps a generated playbook until the run ends
    if a.playbook.is_dir() {
        if !a.playbook.join("tasks/main.yml").is_file() && !a.playbook.join("tasks/main.yaml").is_file() {
            say_err!(
                "prov: {} is neither a playbook file nor a role directory (it has no tasks/main.yml)",
                a.playbook.display()
            );
            return EXIT_BAD_INPUT;
        }
        let role = std::fs::canonicalize(&a.playbook).unwrap_or_else(|_| a.playbook.clone());
        let dir = match tempfile::tempdir() {
            Ok(d) => d,
            Err(e) => {
                say_err!("prov: cannot create a temporary directory: {e}");
                return EXIT_ERROR;
            }
        };
        let play = serde_json::json!([{
            "name": format!("rollback {}", role.display()),
            "hosts": "all",
            "gather_facts": false,
            "roles": [{"role": role.to_string_lossy()}],
        }]);
        let path = dir.path().join("rollback.yml");
        if let Err(e) = std::fs::write(&path, play.to_string()) {
            say_err!("prov: cannot write {}: {e}", path.display());
            return EXIT_ERROR;
        }
        a.playbook = path;
        _dir = dir;
    }
    run(a, Mode::Rollback, sources).await
}

/// Turns the selected `release` tasks into rollbacks and drops plays without one.
fn to_rollback(pb: &mut CompiledPlaybook) -> Result<(), String> {
    let mut found = false;
    for play in &mut pb.plays {
        for t in &mut play.tasks {
            if t.module != RELEASE || !t.selected || t.handler {
                continue;
            }
            let Some(td) = Arc::get_mut(t) else {
                return Err("internal error: a compiled task is shared".into());
            };
            let mut args: std::collections::BTreeMap<String, minijinja::Value> = std::collections::BTreeMap::new();
            if let Ok(keys) = td.args.try_iter() {
                for k in keys {
                    if let Ok(v) = td.args.get_item(&k) {
                        args.insert(k.to_string(), v);
                    }
                }
            }
            args.insert("state".into(), minijinja::Value::from("rollback"));
            td.args = minijinja::Value::from(args);
            found = true;
        }
    }
    if !found {
        return Err(format!("no `{RELEASE}` task is selected here: nothing to roll back"));
    }
    pb.plays.retain(|p| p.tasks.iter().any(|t| t.module == RELEASE && t.selected && !t.handler));
    Ok(())
}

/// `prov plan --detailed-exitcode`: 0 nothing to do, 2 changes pending, 1 planning failed.
fn detailed_exit_code(plan: &crate::plan::Plan, hosts: &[prov_exec::HostRecap], interrupted: bool) -> i32 {
    if interrupted {
        EXIT_INTERRUPTED
    } else if hosts.iter().any(|h| h.failed > 0 || h.unreachable > 0) {
        EXIT_ERROR
    } else if plan.has_changes() {
        EXIT_PLAN_CHANGES
    } else {
        EXIT_OK
    }
}

/// The exit code for a recap.
pub fn exit_code(hosts: &[prov_exec::HostRecap], interrupted: bool) -> i32 {
    if interrupted {
        EXIT_INTERRUPTED
    } else if hosts.iter().any(|h| h.unreachable > 0) {
        // ansible-playbook: an unreachable host wins over failed ones.
        EXIT_UNREACHABLE
    } else if hosts.iter().any(|h| h.failed > 0) {
        EXIT_FAILED
    } else {
        EXIT_OK
    }
}

async fn graph(g: GraphArgs, sources: &SourceMap) -> i32 {
    let loaded = match load(&g.playbook, &g.common, &g.tags, &g.skip_tags, &[], sources, false).await {
        Ok(l) => l,
        Err(d) => return fail_input(&d, sources),
    };
    let mut out = String::new();
    if g.format == GraphFormat::Dot {
        out.push_str("digraph prov {\n  rankdir=LR;\n  node [shape=box];\n");
    }
    for (i, play) in loaded.playbook.plays.iter().enumerate() {
        let Ok(bp) = bind(play, &loaded.inventory, loaded.limit.as_ref()) else { continue };
        match g.format {
            GraphFormat::Text => bp.render(i, &mut out),
            GraphFormat::Dot => bp.render_dot(i, &mut out),
        }
    }
    if g.format == GraphFormat::Dot {
        out.push_str("}\n");
    }
    say_raw!("{out}");
    EXIT_OK
}

async fn inventory(a: InventoryArgs, sources: &SourceMap) -> i32 {
    let inv = match load_inventory(&a.common, sources).await {
        Ok(i) => i.inventory,
        Err(d) => return fail_input(&d, sources),
    };
    crate::connect::print_inventory(&inv, &a)
}

/// Runs a generated one-play playbook for `prov run`.
pub async fn run_adhoc(playbook: PathBuf, a: crate::cli::AdhocArgs, sources: &SourceMap) -> i32 {
    let args = RunArgs {
        playbook,
        common: a.common,
        connect: a.connect,
        tags: Vec::new(),
        skip_tags: Vec::new(),
        check: false,
        diff: false,
        forks: a.forks,
        output: a.output,
        junit: None,
        detailed_exitcode: false,
        verbose: false,
        timeout: None,
        host_key_checking: a.host_key_checking,
        known_hosts: a.known_hosts,
        lock_timeout: 0,
    };
    run(args, Mode::Apply, sources).await
}
