//! `ansible.cfg`, found and read as ansible-core 2.19 does: the first readable file of
//! `$ANSIBLE_CONFIG` (a file, or a directory holding `ansible.cfg`), `./ansible.cfg` (skipped
//! with a warning when the working directory is world-writable), `~/.ansible.cfg` and
//! `/etc/ansible/ansible.cfg`. An `ANSIBLE_*` environment variable wins over the file, and a
//! command-line flag over both.
//!
//! The INI dialect is Python's `configparser` as Ansible sets it up: `key = value` or
//! `key: value`, keys case-insensitive, `#` and `;` comment lines, `;` inline comments after
//! whitespace, indented continuation lines, no interpolation; a duplicate section or key is an
//! error. Relative paths in the file are relative to the file's directory.
//!
//! Settings prov honours are read into [`Config`]. A setting that would make prov behave
//! differently from Ansible if it were ignored (`hash_behaviour = merge`, `become_ask_pass`,
//! ...) is refused with its location; one that only changes Ansible's output or speed is
//! ignored; any other gets a warning that prov does not use it.

use prov_core::diag::{DiagKind, Diagnostic, Diagnostics};
use prov_core::source::{FileId, SourceMap, Span};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// What prov takes from ansible.cfg and the `ANSIBLE_*` environment.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// `[defaults] inventory` / `ANSIBLE_INVENTORY`: inventory sources (comma-separated).
    pub inventory: Option<Vec<String>>,
    /// `[defaults] roles_path` / `ANSIBLE_ROLES_PATH` (colon-separated), or Ansible's default.
    pub roles_path: Vec<PathBuf>,
    /// `[defaults] collections_path` / `ANSIBLE_COLLECTIONS_PATH` (colon-separated), or
    /// Ansible's default: where `ansible_collections/NS/COLL` trees are looked for.
    pub collections_path: Vec<PathBuf>,
    /// `[defaults] forks`.
    pub forks: Option<usize>,
    /// `[defaults] remote_user`: the SSH user when a host sets no `ansible_user`.
    pub remote_user: Option<String>,
    /// `[defaults] remote_port`: the SSH port when a host sets no `ansible_port`.
    pub remote_port: Option<u16>,
    /// `[defaults] private_key_file`.
    pub private_key_file: Option<PathBuf>,
    /// `[defaults] host_key_checking`.
    pub host_key_checking: Option<bool>,
    /// `[defaults] timeout`: seconds to wait for an SSH connection.
    pub timeout: Option<u64>,
    /// `[privilege_escalation] become`.
    pub become_: Option<bool>,
    /// `[privilege_escalation] become_user`.
    pub become_user: Option<String>,
    /// `[privilege_escalation] become_method` (or `--become-method`): sudo or su.
    pub become_method: Option<prov_core::connection::BecomeMethod>,
    /// `[defaults] strategy`.
    pub strategy: Option<String>,
    /// `[defaults] gathering`.
    pub gathering: Option<String>,
    /// `[diff] always`.
    pub diff_always: Option<bool>,
    /// `[defaults] max_diff_size`: a diff side larger than this is left out.
    pub max_diff_size: Option<u64>,
    /// `[defaults] force_handlers` (or `--force-handlers`): the plays' default.
    pub force_handlers: bool,
    /// The connection of hosts that set no `ansible_connection` (`-c`; ansible.cfg's
    /// `transport` may only be `smart` or `ssh`, the default).
    pub transport: Option<String>,
}

impl Config {
    /// ansible-playbook's connection flags over the file's settings; `Err` for a flag prov
    /// refuses (nothing has run yet).
    pub fn apply_flags(&mut self, c: &crate::cli::Connect) -> Result<(), String> {
        if c.ask_pass {
            return Err("-k/--ask-pass: prov does not prompt for passwords; use SSH keys".into());
        }
        if c.ask_become_pass {
            return Err("-K/--ask-become-pass: prov escalates with passwordless sudo only".into());
        }
        if let Some(m) = c.become_method.as_deref() {
            match prov_core::connection::BecomeMethod::parse(m) {
                Some(b) => self.become_method = Some(b),
                None => {
                    return Err(format!(
                        "--become-method {m}: prov supports {}",
                        prov_core::connection::BecomeMethod::SUPPORTED
                    ))
                }
            }
        }
        match c.connection.as_deref() {
            None | Some("ssh" | "smart" | "paramiko") => {}
            Some("local") => self.transport = Some("local".into()),
            Some(other) => return Err(format!("--connection {other}: prov connects with ssh or local")),
        }
        if let Some(u) = &c.user {
            self.remote_user = Some(u.clone());
        }
        if let Some(k) = &c.private_key {
            self.private_key_file = Some(k.clone());
        }
        if c.become_ {
            self.become_ = Some(true);
        }
        if c.force_handlers {
            self.force_handlers = true;
        }
        if let Some(u) = &c.become_user {
            self.become_user = Some(u.clone());
        }
        Ok(())
    }
}

/// The configuration of this process: read once at start (`set`), then only read. A
/// `Config` that nothing set is the empty one (no file, no environment).
static CONFIG: std::sync::OnceLock<Config> = std::sync::OnceLock::new();

/// Records the configuration read at start.
pub fn set(cfg: Config) {
    let _ = CONFIG.set(cfg);
}

/// The configuration read at start.
pub fn get() -> &'static Config {
    static EMPTY: std::sync::OnceLock<Config> = std::sync::OnceLock::new();
    CONFIG.get().unwrap_or_else(|| EMPTY.get_or_init(Config::default))
}

/// One `key = value` of the file, with where it is.
struct Entry {
    value: String,
    span: Span,
}

/// A parsed INI file: `(section, lower-case key)` → entry.
struct Ini {
    entries: HashMap<(String, String), Entry>,
    order: Vec<(String, String)>,
}

/// Finds and reads the configuration; warnings (ignored keys, a skipped world-writable
/// `./ansible.cfg`) come back with it.
pub fn load(sources: &SourceMap) -> Result<(Config, Vec<Diagnostic>), Diagnostics> {
    let mut warnings = Vec::new();
    let path = find(&mut warnings);
    let ini = match &path {
        None => None,
        Some(p) => {
            let (file, text) = sources.load(p).map_err(|e| {
                Diagnostics(vec![Diagnostic::error(
                    DiagKind::Missing,
                    Span::NONE,
                    format!("cannot read {}: {e}", p.display()),
                )])
            })?;
            Some(parse(file, &text).map_err(|d| Diagnostics(vec![d]))?)
        }
    };
    let base = path.as_deref().and_then(Path::parent).map(Path::to_path_buf).unwrap_or_default();
    let mut r = Reader { ini: ini.as_ref(), sources, base, diags: Diagnostics::default(), warnings };
    let cfg = r.read();
    if r.diags.has_errors() {
        return Err(r.diags);
    }
    Ok((cfg, r.warnings))
}

/// The file Ansible would read, as `find_ini_config_file` does.
fn find(warnings: &mut Vec<Diagnostic>) -> Option<PathBuf> {
    let mut candidates = Vec::new();
    let from_env = std::env::var_os("ANSIBLE_CONFIG").map(|p| {
        let p = PathBuf::from(expand_home(&p.to_string_lossy()));
        if p.is_dir() {
            p.join("ansible.cfg")
        } else {
            p
        }
    });
    candidates.extend(from_env.clone());
    let mut skipped_cwd = None;
    if let Ok(cwd) = std::env::current_dir() {
        let cfg = cwd.join("ansible.cfg");
        if world_writable(&cwd) {
            if cfg.exists() {
                skipped_cwd = Some(cwd);
            }
        } else {
            candidates.push(cfg);
        }
    }
    candidates.push(PathBuf::from(expand_home("~/.ansible.cfg")));
    candidates.push(PathBuf::from("/etc/ansible/ansible.cfg"));
    let found = candidates.into_iter().find(|p| std::fs::File::open(p).map(|f| f.metadata().is_ok()).unwrap_or(false));
    if let Some(cwd) = skipped_cwd {
        if found != from_env || found.is_none() {
            warnings.push(Diagnostic::warning(
                Span::NONE,
                format!(
                    "the working directory {} is world-writable: its ansible.cfg is ignored, as Ansible does",
                    cwd.display()
                ),
            ));
        }
    }
    found
}

fn world_writable(dir: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(dir).map(|m| m.permissions().mode() & 0o002 != 0).unwrap_or(false)
}

fn expand_home(p: &str) -> String {
    match (p.strip_prefix("~/").or(if p == "~" { Some("") } else { None }), std::env::var("HOME")) {
        (Some(""), Ok(home)) => home,
        (Some(rest), Ok(home)) => format!("{home}/{rest}"),
        _ => p.to_string(),
    }
}

fn span_of(file: FileId, text: &str, start: usize, end: usize) -> Span {
    let line = text[..start].matches('\n').count() as u32 + 1;
    let col = (start - text[..start].rfind('\n').map_or(0, |i| i + 1)) as u32 + 1;
    Span { file, start: start as u32, end: end as u32, line, col }
}

/// Parses the INI text of ansible.cfg.
fn parse(file: FileId, text: &str) -> Result<Ini, Diagnostic> {
    let mut ini = Ini { entries: HashMap::new(), order: Vec::new() };
    let mut section: Option<String> = None;
    let mut seen_sections = std::collections::HashSet::new();
    // The key a continuation line extends.
    let mut last: Option<(String, String)> = None;
    let mut offset = 0;
    for raw in text.split_inclusive('\n') {
        let start = offset;
        offset += raw.len();
        let line = raw.trim_end_matches(['\n', '\r']);
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with(';') {
            // configparser keeps empty lines inside a value but strips them at its end.
            continue;
        }
        let indent = line.len() - trimmed.len();
        if indent > 0 {
            if let Some(key) = &last {
                if let Some(e) = ini.entries.get_mut(key) {
                    let v = strip_inline_comment(trimmed).trim();
                    e.value.push('\n');
                    e.value.push_str(v);
                    continue;
                }
            }
        }
        let here = |msg: String| {
            Diagnostic::error(DiagKind::Syntax, span_of(file, text, start + indent, start + line.len()), msg)
        };
        if let Some(rest) = trimmed.strip_prefix('[') {
            let Some(name) = rest.split_once(']').map(|(n, _)| n.to_string()) else {
                return Err(here("a section header needs its closing `]`".into()));
            };
            if !seen_sections.insert(name.clone()) {
                return Err(here(format!("section [{name}] appears twice (Ansible refuses this file too)")));
            }
            section = Some(name);
            last = None;
            continue;
        }
        let Some(section) = &section else {
            return Err(here("a setting before any [section] header".into()));
        };
        let Some(pos) = trimmed.find(['=', ':']) else {
            return Err(here("expected `key = value`".into()));
        };
        let key = trimmed[..pos].trim().to_lowercase();
        let value = strip_inline_comment(&trimmed[pos + 1..]).trim().to_string();
        let k = (section.clone(), key.clone());
        if ini.entries.contains_key(&k) {
            return Err(here(format!("`{key}` appears twice in [{section}] (Ansible refuses this file too)")));
        }
        let span = span_of(file, text, start + indent, start + line.len());
        ini.entries.insert(k.clone(), Entry { value, span });
        ini.order.push(k.clone());
        last = Some(k);
    }
    Ok(ini)
}

/// configparser's `inline_comment_prefixes=(';',)`: a `;` after whitespace starts a comment.
fn strip_inline_comment(s: &str) -> &str {
    let b = s.as_bytes();
    for i in 1..b.len() {
        if b[i] == b';' && b[i - 1].is_ascii_whitespace() {
            return &s[..i];
        }
    }
    s
}

/// Ansible's `boolean(value, strict=False)`.
fn truthy(v: &str) -> bool {
    matches!(v.trim().to_lowercase().as_str(), "y" | "yes" | "on" | "1" | "true" | "t" | "1.0")
}

/// Settings that change only Ansible's output, its speed or its caches across runs: prov
/// ignores them without a word.
const IGNORED: &[(&str, &str)] = &[
    ("defaults", "stdout_callback"),
    ("defaults", "callbacks_enabled"),
    ("defaults", "callback_whitelist"),
    ("defaults", "callback_enabled"),
    ("defaults", "bin_ansible_callbacks"),
    ("defaults", "retry_files_enabled"),
    ("defaults", "retry_files_save_path"),
    ("defaults", "nocows"),
    ("defaults", "nocolor"),
    ("defaults", "deprecation_warnings"),
    ("defaults", "system_warnings"),
    ("defaults", "command_warnings"),
    ("defaults", "localhost_warning"),
    ("defaults", "display_skipped_hosts"),
    ("defaults", "display_ok_hosts"),
    ("defaults", "display_args_to_stdout"),
    ("defaults", "show_custom_stats"),
    ("defaults", "log_path"),
    ("defaults", "interpreter_python"),
    ("defaults", "remote_tmp"),
    ("defaults", "local_tmp"),
    ("defaults", "fact_caching"),
    ("defaults", "fact_caching_connection"),
    ("defaults", "fact_caching_timeout"),
    ("defaults", "fact_caching_prefix"),
    ("defaults", "gather_timeout"),
    ("defaults", "poll_interval"),
    ("defaults", "internal_poll_interval"),
    ("defaults", "host_key_auto_add"),
    ("ssh_connection", "pipelining"),
    ("ssh_connection", "control_path"),
    ("ssh_connection", "control_path_dir"),
    ("ssh_connection", "scp_if_ssh"),
    ("ssh_connection", "transfer_method"),
    ("ssh_connection", "ssh_executable"),
    ("connection", "pipelining"),
    ("inventory", "enable_plugins"),
    ("inventory", "cache"),
    ("inventory", "cache_plugin"),
    ("inventory", "cache_connection"),
    ("inventory", "cache_timeout"),
    ("inventory", "ignore_extensions"),
    ("inventory", "ignore_patterns"),
];

/// Sections whose settings only concern output or tools prov does not have.
const IGNORED_SECTIONS: &[&str] = &["colors", "galaxy", "persistent_connection", "paramiko_connection"];

/// An `ANSIBLE_*` variable, its section and key, which values prov refuses, and a hint.
type Refusal = (&'static str, &'static str, &'static str, fn(&str) -> bool, &'static str);

struct Reader<'a> {
    ini: Option<&'a Ini>,
    sources: &'a SourceMap,
    base: PathBuf,
    diags: Diagnostics,
    warnings: Vec<Diagnostic>,
}

impl Reader<'_> {
    /// The value of a setting: its environment variable, else the file's entry; with a span
    /// (the file's line, or the variable shown as a source of its own).
    fn get(&self, env: &str, section: &str, key: &str) -> Option<(String, Span, bool)> {
        if let Ok(v) = std::env::var(env) {
            let file = self.sources.add(env, v.clone());
            return Some((v.clone(), Span { file, start: 0, end: v.len() as u32, line: 1, col: 1 }, false));
        }
        let e = self.ini?.entries.get(&(section.to_string(), key.to_string()))?;
        Some((e.value.clone(), e.span, true))
    }

    /// A path from the file is relative to the file's directory; from the environment, to the
    /// working directory.
    fn path(&self, v: &str, from_file: bool) -> PathBuf {
        let p = PathBuf::from(expand_home(v.trim()));
        if from_file && p.is_relative() {
            self.base.join(p)
        } else {
            p
        }
    }

    fn int<T: std::str::FromStr>(&mut self, env: &str, section: &str, key: &str) -> Option<T> {
        let (v, span, _) = self.get(env, section, key)?;
        match v.trim().parse() {
            Ok(n) => Some(n),
            Err(_) => {
                self.diags.push(Diagnostic::error(
                    DiagKind::Invalid,
                    span,
                    format!("`{key}` must be a number, not `{v}`"),
                ));
                None
            }
        }
    }

    fn refuse(&mut self, span: Span, msg: String, help: &str) {
        self.diags.push(Diagnostic::error(DiagKind::Unsupported, span, msg).with_help(help.to_string()));
    }

    fn read(&mut self) -> Config {
        let inventory = self.get("ANSIBLE_INVENTORY", "defaults", "inventory").map(|(v, _, f)| {
            v.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| self.path(s, f).to_string_lossy().into_owned())
                .collect()
        });
        let mut c = Config { inventory, ..Config::default() };
        c.roles_path = match self.get("ANSIBLE_ROLES_PATH", "defaults", "roles_path") {
            Some((v, _, f)) => v.split(':').filter(|s| !s.trim().is_empty()).map(|s| self.path(s, f)).collect(),
            None => ["~/.ansible/roles", "/usr/share/ansible/roles", "/etc/ansible/roles"]
                .iter()
                .map(|p| PathBuf::from(expand_home(p)))
                .collect(),
        };
        c.collections_path = match self.get("ANSIBLE_COLLECTIONS_PATH", "defaults", "collections_path") {
            Some((v, _, f)) => v.split(':').filter(|s| !s.trim().is_empty()).map(|s| self.path(s, f)).collect(),
            None => ["~/.ansible/collections", "/usr/share/ansible/collections"]
                .iter()
                .map(|p| PathBuf::from(expand_home(p)))
                .collect(),
        };
        c.forks = self.int("ANSIBLE_FORKS", "defaults", "forks");
        c.remote_user = self.get("ANSIBLE_REMOTE_USER", "defaults", "remote_user").map(|(v, ..)| v);
        c.remote_port = self.int("ANSIBLE_REMOTE_PORT", "defaults", "remote_port");
        c.private_key_file =
            self.get("ANSIBLE_PRIVATE_KEY_FILE", "defaults", "private_key_file").map(|(v, _, f)| self.path(&v, f));
        c.host_key_checking =
            self.get("ANSIBLE_HOST_KEY_CHECKING", "defaults", "host_key_checking").map(|(v, ..)| truthy(&v));
        c.timeout = self.int("ANSIBLE_TIMEOUT", "defaults", "timeout");
        c.become_ = self.get("ANSIBLE_BECOME", "privilege_escalation", "become").map(|(v, ..)| truthy(&v));
        c.become_user = self.get("ANSIBLE_BECOME_USER", "privilege_escalation", "become_user").map(|(v, ..)| v);
        c.become_method = self
            .get("ANSIBLE_BECOME_METHOD", "privilege_escalation", "become_method")
            .and_then(|(v, ..)| prov_core::connection::BecomeMethod::parse(v.trim()));
        c.diff_always = self.get("ANSIBLE_DIFF_ALWAYS", "diff", "always").map(|(v, ..)| truthy(&v));
        c.max_diff_size = self.int("ANSIBLE_MAX_DIFF_SIZE", "defaults", "max_diff_size");
        c.force_handlers =
            self.get("ANSIBLE_FORCE_HANDLERS", "defaults", "force_handlers").is_some_and(|(v, ..)| truthy(&v));
        if let Some((v, span, _)) = self.get("ANSIBLE_STRATEGY", "defaults", "strategy") {
            match v.as_str() {
                "linear" | "free" | "dag" => c.strategy = Some(v),
                _ => self.refuse(span, format!("strategy `{v}` is not supported"), "use linear, free or dag"),
            }
        }
        if let Some((v, span, _)) = self.get("ANSIBLE_GATHERING", "defaults", "gathering") {
            match v.as_str() {
                "implicit" | "smart" | "explicit" => c.gathering = Some(v),
                _ => self.refuse(
                    span,
                    format!("gathering `{v}` is not one of implicit, explicit, smart"),
                    "see Ansible's DEFAULT_GATHERING",
                ),
            }
        }
        self.refusals();
        self.warn_unused();
        c
    }

    /// Settings whose non-default value prov does not implement: refused, never ignored.
    fn refusals(&mut self) {
        let checks: &[Refusal] = &[
            (
                "ANSIBLE_HASH_BEHAVIOUR",
                "defaults",
                "hash_behaviour",
                |v| v.trim() != "replace",
                "prov replaces dictionaries as Ansible's default does; use the `combine` filter",
            ),
            (
                "ANSIBLE_ERROR_ON_UNDEFINED_VARS",
                "defaults",
                "error_on_undefined_vars",
                |v| !truthy(v),
                "prov always fails on undefined variables, as Ansible's default does",
            ),
            (
                "ANSIBLE_ANY_ERRORS_FATAL",
                "defaults",
                "any_errors_fatal",
                truthy,
                "set `any_errors_fatal: true` on the plays instead",
            ),
            (
                "ANSIBLE_PRIVATE_ROLE_VARS",
                "defaults",
                "private_role_vars",
                truthy,
                "prov exposes role variables to the play, as Ansible's default does",
            ),
            (
                "ANSIBLE_JINJA2_NATIVE",
                "defaults",
                "jinja2_native",
                truthy,
                "remove it: prov templates as Ansible's default does",
            ),
            ("ANSIBLE_ASK_PASS", "defaults", "ask_pass", truthy, "prov does not prompt for passwords: use SSH keys"),
            (
                "ANSIBLE_BECOME_ASK_PASS",
                "privilege_escalation",
                "become_ask_pass",
                truthy,
                "prov escalates with passwordless sudo only",
            ),
            (
                "ANSIBLE_BECOME_METHOD",
                "privilege_escalation",
                "become_method",
                |v| prov_core::connection::BecomeMethod::parse(v.trim()).is_none(),
                "prov supports become_method sudo and su",
            ),
            (
                "ANSIBLE_TRANSPORT",
                "defaults",
                "transport",
                |v| !matches!(v.trim(), "smart" | "ssh"),
                "prov connects over SSH, or locally with `ansible_connection: local`",
            ),
            (
                "ANSIBLE_VAULT_PASSWORD_FILE",
                "defaults",
                "vault_password_file",
                |v| !v.trim().is_empty(),
                "prov does not decrypt Ansible Vault content yet",
            ),
            (
                "ANSIBLE_VAULT_IDENTITY_LIST",
                "defaults",
                "vault_identity_list",
                |v| !v.trim().is_empty(),
                "prov does not decrypt Ansible Vault content yet",
            ),
        ];
        for (env, section, key, bad, help) in checks {
            if let Some((v, span, _)) = self.get(env, section, key) {
                if bad(&v) {
                    self.refuse(
                        span,
                        format!("`{key} = {v}` changes what Ansible does, and prov does not implement it"),
                        help,
                    );
                }
            }
        }
    }

    /// Every other setting of the file: a warning, so that nobody believes prov honours it.
    fn warn_unused(&mut self) {
        let Some(ini) = self.ini else { return };
        const READ: &[(&str, &str)] = &[
            ("defaults", "inventory"),
            ("defaults", "roles_path"),
            ("defaults", "collections_path"),
            ("defaults", "forks"),
            ("defaults", "remote_user"),
            ("defaults", "remote_port"),
            ("defaults", "private_key_file"),
            ("defaults", "host_key_checking"),
            ("defaults", "timeout"),
            ("defaults", "strategy"),
            ("defaults", "gathering"),
            ("defaults", "hash_behaviour"),
            ("defaults", "error_on_undefined_vars"),
            ("defaults", "any_errors_fatal"),
            ("defaults", "private_role_vars"),
            ("defaults", "jinja2_native"),
            ("defaults", "force_handlers"),
            ("defaults", "ask_pass"),
            ("defaults", "transport"),
            ("defaults", "vault_password_file"),
            ("defaults", "vault_identity_list"),
            ("privilege_escalation", "become"),
            ("privilege_escalation", "become_user"),
            ("privilege_escalation", "become_method"),
            ("privilege_escalation", "become_ask_pass"),
            ("diff", "always"),
            ("defaults", "max_diff_size"),
        ];
        for (section, key) in &ini.order {
            let k = (section.as_str(), key.as_str());
            if READ.contains(&k)
                || IGNORED.contains(&k)
                || IGNORED_SECTIONS.contains(&section.as_str())
                || section.starts_with("callback_")
            {
                continue;
            }
            let span = ini.entries[&(section.clone(), key.clone())].span;
            self.warnings.push(
                Diagnostic::warning(span, format!("prov does not use `[{section}] {key}` of ansible.cfg"))
                    .with_help("docs/src/ansible-cfg.md lists the settings prov reads"),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ini(text: &str) -> Result<Ini, Diagnostic> {
        let sources = SourceMap::new();
        let file = sources.add("ansible.cfg", text.to_string());
        parse(file, text)
    }

    fn value(i: &Ini, section: &str, key: &str) -> Option<String> {
        i.entries.get(&(section.to_string(), key.to_string())).map(|e| e.value.clone())
    }

    #[test]
    fn ini_reads_keys_case_insensitively_with_both_delimiters_and_inline_comments() {
        let i = ini("# comment\n[defaults]\nInventory = hosts.ini ; the lab\nforks: 10\n; other\nroles_path=a:b;c\n")
            .unwrap();
        assert_eq!(value(&i, "defaults", "inventory").as_deref(), Some("hosts.ini"));
        assert_eq!(value(&i, "defaults", "forks").as_deref(), Some("10"));
        // `;` right after a character is part of the value.
        assert_eq!(value(&i, "defaults", "roles_path").as_deref(), Some("a:b;c"));
    }

    #[test]
    fn ini_continuation_lines_extend_the_value() {
        let i = ini("[ssh_connection]\nssh_args = -o A=1\n  -o B=2\n").unwrap();
        assert_eq!(value(&i, "ssh_connection", "ssh_args").as_deref(), Some("-o A=1\n-o B=2"));
    }

    #[test]
    fn ini_duplicate_key_or_section_is_refused_with_its_line() {
        let e = ini("[defaults]\nforks = 1\nforks = 2\n").err().unwrap();
        assert_eq!((e.span.line, e.span.col), (3, 1));
        assert!(e.message.contains("twice"), "{}", e.message);
        assert!(ini("[a]\n[a]\n").is_err());
        assert!(ini("forks = 1\n").is_err(), "a key before any section");
    }

    #[test]
    fn booleans_follow_ansibles_lenient_rules() {
        for t in ["True", "yes", "on", "1", "t", "Y"] {
            assert!(truthy(t), "{t}");
        }
        for f in ["False", "no", "0", "off", "", "maybe"] {
            assert!(!truthy(f), "{f}");
        }
    }
}
