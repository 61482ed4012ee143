//! `apt_repository`: adds or removes a one-line APT source (`deb URI SUITE COMPONENTS`) in
//! `/etc/apt/sources.list` and `/etc/apt/sources.list.d/*.list`, the way ansible-core's module
//! does, then updates the APT cache.
//!
//! Arguments (as in Ansible): `repo` (required), `state` (`present`, `absent`), `filename` (the
//! file's name in sources.list.d, without `.list`; default: made from the URI), `mode` (of a
//! new file, default `0644`), `update_cache` (alias `update-cache`, default true),
//! `update_cache_retries` (default 5), `update_cache_retry_max_delay` (default 12);
//! `validate_certs`, `install_python_apt` are accepted and have no use here. PPAs (`ppa:`) and
//! `codename` are not supported.
//!
//! As ansible-core: a source that is already listed (disabled or not, in any file) is enabled
//! where it is rather than added again; `absent` removes every enabled line of it; the files
//! are written back with their lines in ansible-core's normal form (`# ` before a disabled
//! line, one space between words); an update that fails puts the files back as they were.
//! Registers `repo`, `state`, `sources_added`, `sources_removed` and `diff`.
//!
//! ```yaml
//! - apt_repository:
//!     repo: "deb [arch=amd64 signed-by=/etc/apt/keyrings/docker.asc] https://download.docker.com/linux/debian bookworm stable"
//!     filename: docker
//! ```

use crate::util::octal;
use async_trait::async_trait;
use minijinja::Value;
use prov_core::args::{lenient_bool, Mode};
use prov_core::cmd::{Cmd, Sh};
use prov_core::module::{Action, Change, DiffMode, Module, ModuleCtx, ModuleError, Outcome, Plan};
use serde::Deserialize;

fn present() -> String {
    "present".into()
}
fn yes() -> bool {
    true
}
fn five() -> u32 {
    5
}
fn twelve() -> u32 {
    12
}

/// Arguments of `apt_repository`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    /// The source line.
    repo: String,
    /// `present` or `absent`.
    #[serde(default = "present")]
    state: String,
    /// The file's name in sources.list.d, without `.list`.
    #[serde(default)]
    filename: Option<String>,
    /// Mode of a new file.
    #[serde(default)]
    mode: Option<Mode>,
    /// Update the APT cache after a change.
    #[serde(default = "yes", alias = "update-cache", deserialize_with = "lenient_bool")]
    update_cache: bool,
    /// Attempts at the update.
    #[serde(default = "five")]
    update_cache_retries: u32,
    /// The longest wait between attempts, in seconds.
    #[serde(default = "twelve")]
    update_cache_retry_max_delay: u32,
    /// Accepted: the files are local to the host.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub validate_certs: bool,
    /// Accepted: prov needs no python-apt.
    #[serde(default)]
    pub install_python_apt: Option<Value>,
    /// Only for PPAs, which prov does not add.
    #[serde(default)]
    codename: Option<String>,
}

/// One line of a sources file as ansible-core parses it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Line {
    /// Its index when the file was read (ansible-core removes by it).
    n: usize,
    valid: bool,
    enabled: bool,
    source: String,
    comment: String,
}

/// `_parse`: a line's validity, state, source (words joined by one space) and comment.
fn parse(line: &str, n: usize) -> Line {
    let mut line = line.trim();
    let mut enabled = true;
    if let Some(rest) = line.strip_prefix('#') {
        enabled = false;
        line = rest;
    }
    let mut comment = String::new();
    if let Some(i) = line.find('#').filter(|i| *i > 0) {
        comment = line[i + 1..].trim().to_string();
        line = &line[..i];
    }
    let mut source = line.trim().to_string();
    let mut valid = false;
    let chunks: Vec<&str> = source.split_whitespace().collect();
    if chunks.first().is_some_and(|c| *c == "deb" || *c == "deb-src") {
        valid = true;
        source = chunks.join(" ");
    }
    Line { n, valid, enabled, source, comment }
}

/// The file names and lines of every sources file, in the order read.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct Sources {
    files: Vec<(String, Vec<Line>)>,
    /// Files ansible-core adds sources to (their mode is set).
    new: Vec<String>,
}

impl Sources {
    fn load(&mut self, path: &str, text: &str) {
        let lines = text.split_inclusive('\n').enumerate().map(|(n, l)| parse(l, n)).collect();
        self.files.push((path.to_string(), lines));
    }

    /// `dump`: each file with lines, as ansible-core writes it.
    fn dump(&self) -> Vec<(String, String)> {
        self.files
            .iter()
            .filter(|(_, lines)| !lines.is_empty())
            .map(|(f, lines)| {
                let mut text = String::new();
                for l in lines {
                    if !l.enabled {
                        text.push_str("# ");
                    }
                    text.push_str(&l.source);
                    if !l.comment.is_empty() {
                        text.push_str(" # ");
                        text.push_str(&l.comment);
                    }
                    text.push('\n');
                }
                (f.clone(), text)
            })
            .collect()
    }

    fn add(&mut self, source: &str, file: String) {
        let mut found = false;
        for (_, lines) in &mut self.files {
            for l in lines.iter_mut().filter(|l| l.valid && l.source == source) {
                l.enabled = true;
                found = true;
            }
        }
        if !found {
            let at = match self.files.iter().position(|(f, _)| *f == file) {
                Some(i) => i,
                None => {
                    self.files.push((file.clone(), Vec::new()));
                    self.files.len() - 1
                }
            };
            let lines = &mut self.files[at].1;
            let n = lines.len();
            lines.push(Line { n, valid: true, enabled: true, source: source.to_string(), comment: String::new() });
            if !self.new.contains(&file) {
                self.new.push(file);
            }
        }
    }

    /// `_remove_valid_source`, with its way of walking a list it removes from: the next line
    /// is skipped after each removal, and the line removed is the one at the index the matching
    /// line had when read.
    fn remove(&mut self, source: &str) {
        for (_, lines) in &mut self.files {
            let mut i = 0;
            while i < lines.len() {
                let l = &lines[i];
                if l.valid && l.enabled && l.source == source {
                    let n = l.n;
                    if n < lines.len() {
                        lines.remove(n);
                    }
                }
                i += 1;
            }
        }
    }
}

/// `_suggest_filename`: the URI's host and path as words joined by `_`, plus `.list`.
fn suggest_filename(source: &str, filename: Option<&str>) -> String {
    if let Some(f) = filename {
        return format!("{f}.list");
    }
    let mut line = String::new();
    let mut depth = 0;
    for c in source.chars() {
        match c {
            '[' => depth += 1,
            ']' if depth > 0 => depth -= 1,
            _ if depth > 0 => {}
            c => line.push(c),
        }
    }
    // `\w+://` removed (any scheme).
    let mut cleaned = String::new();
    let mut rest = line.as_str();
    while let Some(i) = rest.find("://") {
        let head = &rest[..i];
        let keep = head.trim_end_matches(|c: char| c.is_alphanumeric() || c == '_');
        cleaned.push_str(keep);
        rest = &rest[i + 3..];
    }
    cleaned.push_str(rest);
    let parts: Vec<&str> = cleaned.split_whitespace().filter(|p| *p != "deb" && *p != "deb-src").collect();
    let first = parts.first().copied().unwrap_or("");
    let first = first.split_once('@').map_or(first, |(_, host)| host);
    let words: Vec<String> = first
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { ' ' })
        .collect::<String>()
        .split_whitespace()
        .map(str::to_string)
        .collect();
    format!("{}.list", words.join("_"))
}

/// The `apt_repository` module.
#[derive(Debug, Default)]
pub struct AptRepository;

/// What `apply` writes.
pub struct RepoPlan {
    /// Files whose text changes: path, where the bytes go (a link's target), new text, and
    /// the text before (`None`: a new file).
    writes: Vec<(String, String, String, Option<String>)>,
    /// Files to remove (left without lines).
    removes: Vec<(String, String)>,
    /// New files (their mode is set).
    new: Vec<String>,
    result: Outcome,
}

const READ: &str = r#"S=/etc/apt/sources.list; P=/etc/apt/sources.list.d/
if command -v apt-config >/dev/null 2>&1; then eval "$(apt-config shell S Dir::Etc::sourcelist/f P Dir::Etc::sourceparts/d)"; fi
command -v apt-key >/dev/null 2>&1 || command -v gpg >/dev/null 2>&1 || echo 'nokeytool'
printf 'dir %s\n' "${P%/}"
for f in "$S" "${P%/}"/*.list; do
  [ -f "$f" ] || continue
  if [ -L "$f" ]; then printf 'link %s\n' "$(readlink -f -- "$f")"; fi
  printf 'file %s\n' "$f"; printf 'size %s\n' "$(wc -c < "$f")"; cat -- "$f"; echo
done"#;

/// One sources file as read: its path, where its bytes are (a link's target), its text.
struct SourceFile {
    path: String,
    real: String,
    text: String,
}

/// What the host has: apt-key or gpg, the sources.list.d directory, the sources files.
struct Found {
    keytool: bool,
    dir: String,
    files: Vec<SourceFile>,
}

fn parse_read(out: &str) -> Result<Found, String> {
    let mut keytool = true;
    let mut dir = "/etc/apt/sources.list.d".to_string();
    let mut files = Vec::new();
    let mut rest = out;
    let mut link: Option<String> = None;
    while !rest.is_empty() {
        let (line, after) = rest.split_once('\n').unwrap_or((rest, ""));
        rest = after;
        if line == "nokeytool" {
            keytool = false;
        } else if let Some(d) = line.strip_prefix("dir ") {
            dir = d.to_string();
        } else if let Some(l) = line.strip_prefix("link ") {
            link = Some(l.to_string());
        } else if let Some(f) = line.strip_prefix("file ") {
            let (size, after) = rest.split_once('\n').ok_or("truncated listing")?;
            let size: usize = size.strip_prefix("size ").and_then(|s| s.trim().parse().ok()).ok_or("bad size")?;
            let text = after.get(..size).ok_or("truncated file")?;
            rest = after.get(size + 1..).unwrap_or("");
            let real = link.take().unwrap_or_else(|| f.to_string());
            files.push(SourceFile { path: f.to_string(), real, text: text.to_string() });
        }
    }
    Ok(Found { keytool, dir, files })
}

#[async_trait]
impl Module for AptRepository {
    const NAME: &'static str = "apt_repository";
    type Args = Args;
    type Plan = RepoPlan;

    fn check_args(a: &Args) -> Result<(), String> {
        if !["present", "absent"].contains(&a.state.as_str()) {
            return Err(format!("value of state must be one of: absent, present, got: {}", a.state));
        }
        if a.repo.is_empty() {
            return Err("Please set argument 'repo' to a non-empty value".into());
        }
        if a.repo.starts_with("ppa:") || a.codename.is_some() {
            return Err("PPAs (`ppa:` repositories, `codename`) are not supported by prov yet".into());
        }
        if a.filename.as_deref().is_some_and(|f| f.is_empty() || f.contains(['\n', '\0'])) {
            return Err("filename must be a file name".into());
        }
        let l = parse(&a.repo, 0);
        if !l.valid || !l.enabled {
            return Err(format!("Invalid repository string: {}", a.repo));
        }
        Ok(())
    }

    async fn plan(&self, a: &Args, cx: &ModuleCtx<'_>) -> Result<Plan<RepoPlan>, ModuleError> {
        let out = cx.exec(READ).await?;
        if out.rc != 0 {
            return Err(crate::util::probe_failed("reading the APT sources", &out));
        }
        let Found { keytool, dir, files } = parse_read(&out.stdout_str()).map_err(ModuleError::Failed)?;
        if !keytool {
            // ansible-core's words.
            return Ok(Plan::Ok(Outcome::failed(
                "Either apt-key or gpg binary is required, but neither could be found.The apt-key CLI has been deprecated and removed in modern Debian and derivatives, you might want to use \"deb822_repository\" instead.",
            )));
        }
        let mut sources = Sources::default();
        for f in &files {
            sources.load(&f.path, &f.text);
        }
        let before = sources.dump();
        let source = parse(&a.repo, 0).source;
        if a.state == "present" {
            let name = suggest_filename(&source, a.filename.as_deref());
            let file = if name.contains('/') { name } else { format!("{dir}/{name}") };
            sources.add(&source, file);
        } else {
            sources.remove(&source);
        }
        let after = sources.dump();
        let old = |f: &str| before.iter().find(|(p, _)| p == f).map(|(_, t)| t.clone());
        let added: Vec<String> = after.iter().filter(|(f, _)| old(f).is_none()).map(|(f, _)| f.clone()).collect();
        let removed: Vec<String> =
            before.iter().filter(|(f, _)| !after.iter().any(|(p, _)| p == f)).map(|(f, _)| f.clone()).collect();
        let changed = before != after;
        let diff: Vec<Value> = if changed && cx.mode.diff == DiffMode::On {
            added
                .iter()
                .chain(&removed)
                .map(|f| {
                    let now = after.iter().find(|(p, _)| p == f).map(|(_, t)| t.clone());
                    let was = old(f);
                    Value::from_pairs(vec![
                        ("before".to_string(), Value::from(was.clone().unwrap_or_default())),
                        ("after".to_string(), Value::from(now.clone().unwrap_or_default())),
                        (
                            "before_header".to_string(),
                            Value::from(if was.is_some() { f.as_str() } else { "/dev/null" }),
                        ),
                        ("after_header".to_string(), Value::from(if now.is_some() { f.as_str() } else { "/dev/null" })),
                    ])
                })
                .collect()
        } else {
            Vec::new()
        };
        let list = |v: &[String]| Value::from(v.iter().map(|s| Value::from(s.as_str())).collect::<Vec<_>>());
        let result = Outcome::ok()
            .with("repo", a.repo.as_str())
            .with("sources_added", list(if changed { &added } else { &[] }))
            .with("sources_removed", list(if changed { &removed } else { &[] }))
            .with("state", a.state.as_str())
            .with("diff", Value::from(diff));
        if !changed {
            return Ok(Plan::Ok(result));
        }
        // Every file is written back as ansible-core writes it (in its normal form).
        let real = |f: &str| files.iter().find(|s| s.path == f).map_or_else(|| f.to_string(), |s| s.real.clone());
        let text_of = |f: &str| files.iter().find(|s| s.path == f).map(|s| s.text.clone());
        let writes: Vec<(String, String, String, Option<String>)> = after
            .iter()
            .filter(|(f, t)| text_of(f).as_deref() != Some(t.as_str()))
            .map(|(f, t)| (f.clone(), real(f), t.clone(), text_of(f)))
            .collect();
        // ansible-core also deletes the files it read without a line when it writes.
        let empty = sources.files.iter().filter(|(_, lines)| lines.is_empty()).map(|(f, _)| f.clone());
        let removes: Vec<(String, String)> =
            removed.iter().cloned().chain(empty).map(|f| (f.clone(), text_of(&f).unwrap_or_default())).collect();
        let mut ch = Change::new(
            RepoPlan { writes, removes, new: sources.new.clone(), result: result.clone() },
            if a.state == "present" { Action::Create } else { Action::Delete },
            "apt source",
            source.clone(),
        );
        ch.data = result.data.clone();
        for f in added.iter().chain(&removed) {
            let now = after.iter().find(|(p, _)| p == f).map(|(_, t)| t.clone()).unwrap_or_default();
            ch = ch.with_diff(f.clone(), old(f).unwrap_or_default(), now);
        }
        Ok(Plan::Change(ch))
    }

    async fn apply(&self, a: &Args, p: RepoPlan, cx: &ModuleCtx<'_>) -> Result<Outcome, ModuleError> {
        let mode = match &a.mode {
            Some(Mode::Octal(m)) => octal(*m),
            Some(Mode::Symbolic(s)) => s.clone(),
            None => "0644".into(),
        };
        let mut undo: Vec<Sh> = Vec::new();
        for (path, real, text, old) in &p.writes {
            if let Err(e) = write_file(cx, real, text).await? {
                revert(cx, &undo).await?;
                return Ok(Outcome::failed(e));
            }
            undo.push(match old {
                Some(old) => restore(real, old),
                None => Cmd::new("rm").flag("-f").operand(real).build(),
            });
            if p.new.contains(path) {
                let out = cx.exec(Cmd::new("chmod").operands([mode.as_str(), real.as_str()]).build()).await?;
                if out.rc != 0 {
                    revert(cx, &undo).await?;
                    return Ok(Outcome::failed(format!("chmod {mode} {real} failed: {}", out.stderr_str().trim())));
                }
            }
        }
        for (path, old) in &p.removes {
            let out = cx.exec(Cmd::new("rm").flag("-f").operand(path).build()).await?;
            if out.rc != 0 {
                revert(cx, &undo).await?;
                return Ok(Outcome::failed(format!("removing {path} failed: {}", out.stderr_str().trim())));
            }
            undo.push(restore(path, old));
        }
        let mut o = Outcome { changed: true, ..p.result };
        if a.update_cache {
            let mut err = String::new();
            let mut done = false;
            for retry in 0..a.update_cache_retries {
                let out = cx.exec("DEBIAN_FRONTEND=noninteractive apt-get update -q").await?;
                if out.rc == 0 {
                    done = true;
                    break;
                }
                err = out.stderr_str().trim().to_string();
                o = o.warn(format!("Failed to update cache after {} due to {err} retry, retrying", retry + 1));
                let delay = (2u64.pow(retry.min(16))).min(u64::from(a.update_cache_retry_max_delay));
                tokio::time::sleep(std::time::Duration::from_secs(delay)).await;
                o = o.warn(format!("Sleeping for {delay} seconds, before attempting to update the cache again"));
            }
            if !done {
                revert(cx, &undo).await?;
                let why = if err.is_empty() { "unknown reason".to_string() } else { err };
                let mut f = Outcome::failed(format!(
                    "Failed to update apt cache after {} retries: {why}",
                    a.update_cache_retries
                ));
                f.data.extend(o.data.into_iter().filter(|(k, _)| k == "warnings"));
                return Ok(f);
            }
        }
        Ok(o)
    }
}

/// Writes `text` to `path` atomically: a private file beside it, given the mode and owner of
/// the file it replaces, renamed over it.
async fn write_file(cx: &ModuleCtx<'_>, path: &str, text: &str) -> Result<Result<(), String>, ModuleError> {
    let cmd = Sh::lit("D=").glued(Sh::quoted(path)).then(Sh::lit(
        "d=$(dirname -- \"$D\"); mkdir -p -- \"$d\" || exit 1; n=$(mktemp \"$d/.prov-apt_repository.XXXXXX\") || exit 1; trap 'rm -f \"$n\"' EXIT; cat > \"$n\" || exit 1; if [ -e \"$D\" ]; then chmod --reference=\"$D\" -- \"$n\" && chown --reference=\"$D\" -- \"$n\" 2>/dev/null; fi; mv -f -- \"$n\" \"$D\" && trap - EXIT",
    ));
    let out = cx.exec_stdin(cmd, text.as_bytes().to_vec()).await?;
    Ok(if out.rc == 0 { Ok(()) } else { Err(format!("writing {path} failed: {}", out.stderr_str().trim())) })
}

/// Puts `text` back as `path`'s content.
fn restore(path: &str, text: &str) -> Sh {
    Sh::lit("printf '%s'").word(Sh::quoted(text)).suffix(" >").word(Sh::quoted(path))
}

async fn revert(cx: &ModuleCtx<'_>, undo: &[Sh]) -> Result<(), ModuleError> {
    for u in undo.iter().rev() {
        cx.exec(u.clone()).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_parse_and_dump_as_ansible_core() {
        let mut s = Sources::default();
        s.load(
            "/etc/apt/sources.list",
            "deb  http://deb.debian.org/debian   bookworm main # the main one\n#deb-src http://x y z\n\n# a note\n",
        );
        assert_eq!(
            s.dump()[0].1,
            "deb http://deb.debian.org/debian bookworm main # the main one\n# deb-src http://x y z\n\n# a note\n"
        );
        s.add("deb-src http://x y z", "/etc/apt/sources.list.d/x.list".into());
        assert_eq!(s.dump().len(), 1, "a disabled source is enabled where it is");
        assert_eq!(s.dump()[0].1.lines().nth(1), Some("deb-src http://x y z"));
        s.remove("deb http://deb.debian.org/debian bookworm main");
        assert_eq!(s.dump()[0].1, "deb-src http://x y z\n\n# a note\n");
    }

    #[test]
    fn file_names_are_made_from_the_uri_as_ansible_core_makes_them() {
        let f = |s: &str| suggest_filename(s, None);
        assert_eq!(
            f("deb [arch=amd64 signed-by=/etc/apt/keyrings/docker.asc] https://download.docker.com/linux/debian bookworm stable"),
            "download_docker_com_linux_debian.list"
        );
        assert_eq!(f("deb http://user:pw@deb.example.org/x y z"), "deb_example_org_x.list");
        assert_eq!(f("deb file:/srv/repo ./"), "file_srv_repo.list");
        assert_eq!(suggest_filename("deb http://a b c", Some("docker")), "docker.list");
    }
}
