//! `git`: clones a repository to the target and keeps its checkout at a version, with the
//! target's git.
//!
//! Arguments (as in Ansible): `repo` (alias `name`; a path is read as `file://PATH`), `dest`,
//! `version` (a branch, tag or commit; default `HEAD`, the remote's default branch), `remote`
//! (default `origin`), `refspec`, `reference`, `force`, `depth`, `clone`, `update`, `bare`,
//! `single_branch`, `recursive` (submodules, default true), `track_submodules`,
//! `accept_hostkey`, `accept_newhostkey`, `key_file`, `ssh_opts`, `executable`, `umask`.
//!
//! It runs the git commands ansible-core's module runs, in the same order, and decides as it
//! does: a missing `DEST/.git/config` clones (check mode and `clone: false` only ask the remote
//! with `ls-remote`); `update: false` reports the checked-out commit; otherwise local changes
//! to tracked files fail the task unless `force` (which resets them), the remote's URL is set
//! to `repo`, the remote is fetched (with `--tags`, or the refspecs `depth` needs), then the
//! version is checked out (`checkout --force`, `reset --hard REMOTE/BRANCH` for a branch) and
//! submodules are synced and updated. Registers `before` (null for a new clone), `after`,
//! `remote_url_changed`, `submodules_changed` and, when local changes were reset, `msg`; with
//! `--diff`, `diff.prepared` is `git diff BEFORE AFTER`. git runs with `GIT_SSH_COMMAND` set
//! as the module sets it (`ssh` with `-o BatchMode=yes`, the key file and host key options).
//!
//! Refused: `archive`, `separate_git_dir`, `verify_commit` and `gpg_allowlist`. A `repo`,
//! `version`, `remote` or `refspec` that starts with `-` is refused (git would read it as an
//! option).
//!
//! ```yaml
//! - git:
//!     repo: https://git.example.com/app.git
//!     dest: /srv/app
//!     version: v1.4.2
//! ```

use crate::util::or_fail;
use async_trait::async_trait;
use minijinja::Value;
use prov_core::args::lenient_bool;
use prov_core::cmd::{Sh, Word, WordKind};
use prov_core::connection::ExecOutput;
use prov_core::module::{Action, DiffMode, Module, ModuleCtx, ModuleError, Outcome, Plan};
use serde::Deserialize;

fn head() -> String {
    "HEAD".into()
}

fn origin() -> String {
    "origin".into()
}

fn yes() -> bool {
    true
}

/// Arguments of `git`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    /// The repository.
    #[serde(alias = "name")]
    pub repo: String,
    /// Where the checkout goes.
    #[serde(default)]
    pub dest: Option<String>,
    /// Branch, tag or commit.
    #[serde(default = "head", deserialize_with = "crate::util::py_text")]
    pub version: String,
    /// The remote's name.
    #[serde(default = "origin")]
    pub remote: String,
    /// More to fetch.
    #[serde(default)]
    pub refspec: Option<String>,
    /// A local repository to borrow objects from.
    #[serde(default)]
    pub reference: Option<String>,
    /// Discard local changes to tracked files.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub force: bool,
    /// A shallow clone of this many commits.
    #[serde(default, deserialize_with = "crate::util::stringish")]
    pub depth: Option<String>,
    /// Clone when missing.
    #[serde(default = "yes", deserialize_with = "lenient_bool")]
    pub clone: bool,
    /// Fetch and check out when present.
    #[serde(default = "yes", deserialize_with = "lenient_bool")]
    pub update: bool,
    /// A bare repository.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub bare: bool,
    /// Only the one branch.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub single_branch: bool,
    /// Submodules too.
    #[serde(default = "yes", deserialize_with = "lenient_bool")]
    pub recursive: bool,
    /// Submodules at their remote's latest commit.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub track_submodules: bool,
    /// `StrictHostKeyChecking=no`.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub accept_hostkey: bool,
    /// `StrictHostKeyChecking=accept-new`.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub accept_newhostkey: bool,
    /// The SSH key on the target.
    #[serde(default)]
    pub key_file: Option<String>,
    /// More ssh options.
    #[serde(default)]
    pub ssh_opts: Option<String>,
    /// The git to run.
    #[serde(default)]
    pub executable: Option<String>,
    /// The umask (a quoted octal number).
    #[serde(default)]
    pub umask: Option<serde_json::Value>,
    /// Refused.
    #[serde(default)]
    pub archive: Option<String>,
    /// Refused.
    #[serde(default)]
    pub archive_prefix: Option<String>,
    /// Refused.
    #[serde(default)]
    pub separate_git_dir: Option<String>,
    /// Refused.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub verify_commit: bool,
    /// Refused.
    #[serde(default, alias = "gpg_whitelist")]
    pub gpg_allowlist: Option<Vec<String>>,
}

/// The `git` module.
#[derive(Debug, Default)]
pub struct Git;

/// git on this host: the program, the environment its commands run with, the umask.
struct Runner<'a, 'b> {
    cx: &'a ModuleCtx<'b>,
    exe: String,
    ssh: String,
    umask: Option<u32>,
}

/// A failed result with a command's output, as the module's `fail_json(msg, stdout, stderr, rc)`.
fn failed_with(msg: String, out: &ExecOutput) -> Outcome {
    crate::util::with_raw_output(Outcome::failed(msg), out)
}

impl Runner<'_, '_> {
    /// `git ARGS` in `cwd` (when it exists, as ansible-core's `run_command` ignores a missing one).
    async fn git(&self, args: &[&str], cwd: Option<&str>) -> Result<ExecOutput, ModuleError> {
        let mut sh = Sh::default();
        if let Some(d) = cwd {
            let d = Word::new(WordKind::Path, d).map_err(|e| ModuleError::Failed(e.to_string()))?;
            sh = Sh::lit("cd").word(&d).suffix(" 2>/dev/null");
        }
        if let Some(m) = self.umask {
            sh = sh.then(Sh::lit("umask").word(Sh::quoted(&format!("{m:04o}"))));
        }
        let mut run = Sh::lit("LANG=C LC_ALL=C LC_MESSAGES=C LC_CTYPE=C LANGUAGE=C GIT_SSH_COMMAND=")
            .glued(Sh::lit("\"${GIT_SSH:-${GIT_SSH_COMMAND:-ssh}}\""))
            .glued(Sh::quoted(&self.ssh))
            .word(Sh::quoted(&self.exe));
        for a in args {
            run = run.word(Sh::quoted(a));
        }
        self.cx.exec(sh.then(run)).await
    }

    /// [`Runner::git`], failing as `run_command(check_rc=True)` does.
    async fn checked(&self, args: &[&str], cwd: Option<&str>) -> Result<Result<ExecOutput, Outcome>, ModuleError> {
        let out = self.git(args, cwd).await?;
        if out.rc != 0 {
            let mut cmd = vec![self.exe.clone()];
            cmd.extend(args.iter().map(|s| s.to_string()));
            return Ok(Err(crate::util::run_failed(&cmd, &out)));
        }
        Ok(Ok(out))
    }

    /// `git rev-parse REF` in `dest`.
    async fn version(&self, dest: &str, reference: &str) -> Result<String, ModuleError> {
        let out = self.git(&["rev-parse", reference], Some(dest)).await?;
        Ok(out.stdout_str().trim_end_matches('\n').to_string())
    }

    async fn is_remote_branch(
        &self,
        dest: Option<&str>,
        remote: &str,
        version: &str,
    ) -> Result<Result<bool, Outcome>, ModuleError> {
        let r = format!("refs/heads/{version}");
        let out = or_fail!(self.checked(&["ls-remote", remote, "-h", &r], dest).await, Err);
        Ok(Ok(out.stdout_str().contains(version)))
    }

    async fn is_remote_tag(
        &self,
        dest: Option<&str>,
        remote: &str,
        version: &str,
    ) -> Result<Result<bool, Outcome>, ModuleError> {
        let r = format!("refs/tags/{version}");
        let out = or_fail!(self.checked(&["ls-remote", remote, "-t", &r], dest).await, Err);
        Ok(Ok(out.stdout_str().contains(version)))
    }

    /// `git branch --no-color -a`, each line trimmed.
    async fn branches(&self, dest: &str) -> Result<Result<Vec<String>, Outcome>, ModuleError> {
        let out = self.git(&["branch", "--no-color", "-a"], Some(dest)).await?;
        if out.rc != 0 {
            let msg = format!("Could not determine branch data - received {}", out.stdout_str());
            return Ok(Err(Outcome::failed(msg).with("stdout", out.stdout_str()).with("stderr", out.stderr_str())));
        }
        Ok(Ok(out.stdout_str().split('\n').map(str::trim).filter(|l| !l.is_empty()).map(str::to_string).collect()))
    }

    async fn is_local_branch(&self, dest: &str, branch: &str) -> Result<Result<bool, Outcome>, ModuleError> {
        let b = or_fail!(self.branches(dest).await, Err);
        Ok(Ok(b.iter().any(|l| l == branch || *l == format!("* {branch}"))))
    }

    /// The branch HEAD names (the remote's HEAD when detached), from the files as the module
    /// reads them.
    async fn head_branch(&self, dest: &str, remote: &str, bare: bool) -> Result<Result<String, Outcome>, ModuleError> {
        let repo = or_fail!(repo_path(self.cx, dest, bare).await, Err);
        let b = or_fail!(self.branches(dest).await, Err);
        let detached = b.iter().any(|l| {
            l.starts_with("* ") && (l.contains("no branch") || l.contains("detached from") || l.contains("detached at"))
        });
        let file = if detached { format!("{repo}/refs/remotes/{remote}/HEAD") } else { format!("{repo}/HEAD") };
        let out = self
            .cx
            .exec(prov_core::cmd::Cmd::new("head").flag("-n1").operand(&file).build().suffix(" 2>/dev/null"))
            .await?;
        let line = out.stdout_str();
        let line = line.replacen(&format!("refs/remotes/{remote}"), "", 1);
        let last = line.split(' ').next_back().unwrap_or_default();
        Ok(Ok(last.splitn(3, '/').last().unwrap_or_default().trim_end_matches('\n').to_string()))
    }

    /// The commit `version` names on the remote (ls-remote), as the module finds it.
    async fn remote_head(
        &self,
        a: &Args,
        dest: Option<&str>,
        remote: &str,
        repo: &str,
    ) -> Result<Result<String, Outcome>, ModuleError> {
        let cloning = remote == a.repo || remote == repo;
        let cwd = if cloning { None } else { dest };
        let version = a.version.as_str();
        let mut tag = false;
        let args: Vec<String> = if version == "HEAD" {
            if cloning {
                vec!["ls-remote".into(), remote.into(), "-h".into(), "HEAD".into()]
            } else {
                let hb = or_fail!(self.head_branch(dest.unwrap_or_default(), remote, a.bare).await, Err);
                vec!["ls-remote".into(), remote.into(), "-h".into(), format!("refs/heads/{hb}")]
            }
        } else if or_fail!(self.is_remote_branch(dest, remote, version).await, Err) {
            vec!["ls-remote".into(), remote.into(), "-h".into(), format!("refs/heads/{version}")]
        } else if or_fail!(self.is_remote_tag(dest, remote, version).await, Err) {
            tag = true;
            vec!["ls-remote".into(), remote.into(), "-t".into(), format!("refs/tags/{version}*")]
        } else {
            return Ok(Ok(version.to_string()));
        };
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = or_fail!(self.checked(&refs, cwd).await, Err);
        let mut text = out.stdout_str();
        if text.is_empty() {
            return Ok(Err(failed_with(format!("Could not determine remote revision for {version}"), &out)));
        }
        if tag {
            let mut pick = text.clone();
            for line in text.split('\n') {
                if line.ends_with(&format!("{version}^{{}}")) {
                    pick = line.to_string();
                    break;
                } else if line.ends_with(version) {
                    pick = line.to_string();
                }
            }
            text = pick;
        }
        Ok(Ok(text.split_whitespace().next().unwrap_or_default().to_string()))
    }

    /// `git ls-remote --get-url REMOTE`, `None` when it fails.
    async fn remote_url(&self, dest: &str, remote: &str) -> Result<Option<String>, ModuleError> {
        let out = self.git(&["ls-remote", "--get-url", remote], Some(dest)).await?;
        Ok((out.rc == 0).then(|| out.stdout_str().trim_end_matches('\n').to_string()))
    }

    /// Points the remote at `repo` when it names another: whether it named one before.
    async fn set_remote_url(&self, dest: &str, remote: &str, repo: &str) -> Result<Result<bool, Outcome>, ModuleError> {
        let url = self.remote_url(dest, remote).await?;
        if url.as_deref() == Some(repo) || self.same_path(url.as_deref(), repo).await? {
            return Ok(Ok(false));
        }
        let out = self.git(&["remote", "set-url", remote, repo], Some(dest)).await?;
        if out.rc != 0 {
            return Ok(Err(Outcome::failed(format!(
                "Failed to set a new url {repo} for {remote}: {} {}",
                out.stdout_str(),
                out.stderr_str()
            ))));
        }
        Ok(Ok(url.is_some()))
    }

    /// Whether two remotes are the same path once expanded and resolved (`unfrackgitpath`).
    async fn same_path(&self, a: Option<&str>, b: &str) -> Result<bool, ModuleError> {
        let Some(a) = a else { return Ok(false) };
        let resolve = |p: &str| {
            let w = Sh::quoted(p);
            Sh::lit("p=").glued(w).then(Sh::lit(
                "case \"$p\" in \"~\"*) p=\"$HOME${p#\\~}\";; esac; readlink -m -- \"$p\" 2>/dev/null || printf '%s\\n' \"$p\"",
            ))
        };
        let x = self.cx.exec(resolve(a)).await?.stdout_str();
        let y = self.cx.exec(resolve(b)).await?.stdout_str();
        Ok(x == y)
    }

    /// `git fetch` as the module composes it.
    async fn fetch(&self, a: &Args, dest: &str, repo: &str, remote: &str) -> Result<Result<(), Outcome>, ModuleError> {
        or_fail!(self.set_remote_url(dest, remote, repo).await, Err);
        let mut cmd: Vec<String> = vec!["fetch".into()];
        let mut refspecs: Vec<String> = Vec::new();
        let depth = a.depth.as_deref();
        if let Some(d) = depth {
            let current = or_fail!(self.head_branch(dest, remote, false).await, Err);
            let v = a.version.as_str();
            if let Some(r) = &a.refspec {
                refspecs.push(r.clone());
            } else if v == "HEAD" {
                refspecs.push(current);
            } else if or_fail!(self.is_remote_branch(Some(dest), repo, v).await, Err) {
                if current != v {
                    refspecs.push(format!("+refs/heads/{v}:refs/heads/{v}"));
                }
                refspecs.push(format!("+refs/heads/{v}:refs/remotes/{remote}/{v}"));
            } else if or_fail!(self.is_remote_tag(Some(dest), repo, v).await, Err) {
                refspecs.push(format!("+refs/tags/{v}:refs/tags/{v}"));
            }
            if !refspecs.is_empty() {
                cmd.extend(["--depth".to_string(), d.to_string()]);
            }
        }
        if depth.is_none() || refspecs.is_empty() {
            if a.bare {
                refspecs = vec!["+refs/heads/*:refs/heads/*".into(), "+refs/tags/*:refs/tags/*".into()];
            } else {
                cmd.push("--tags".into());
            }
            if let Some(r) = &a.refspec {
                refspecs.push(r.clone());
            }
        }
        if a.force {
            cmd.push("--force".into());
        }
        cmd.push(remote.into());
        cmd.extend(refspecs);
        let args: Vec<&str> = cmd.iter().map(String::as_str).collect();
        let out = self.git(&args, Some(dest)).await?;
        if out.rc != 0 {
            let mut shown = vec![self.exe.clone()];
            shown.extend(cmd);
            return Ok(Err(Outcome::failed(format!(
                "Failed to download remote objects and refs: {} {}",
                out.stdout_str(),
                out.stderr_str()
            ))
            .with("cmd", Value::from(shown))));
        }
        Ok(Ok(()))
    }

    /// Checks the version out as the module does.
    async fn switch_version(&self, a: &Args, dest: &str, remote: &str) -> Result<Result<(), Outcome>, ModuleError> {
        let v = a.version.as_str();
        let (cmd, label): (Vec<String>, String) = if v == "HEAD" {
            let branch = or_fail!(self.head_branch(dest, remote, false).await, Err);
            let out = self.git(&["checkout", "--force", &branch], Some(dest)).await?;
            if out.rc != 0 {
                return Ok(Err(failed_with(format!("Failed to checkout branch {branch}"), &out)));
            }
            (
                vec!["reset".into(), "--hard".into(), format!("{remote}/{branch}"), "--".into()],
                format!("Failed to checkout branch {branch}"),
            )
        } else if or_fail!(self.is_remote_branch(Some(dest), remote, v).await, Err) {
            if let Some(d) = &a.depth {
                if !or_fail!(self.is_local_branch(dest, v).await, Err) {
                    let one = format!("+refs/heads/{v}:refs/heads/{v}");
                    let two = format!("+refs/heads/{v}:refs/remotes/{remote}/{v}");
                    let depth = format!("--depth={d}");
                    let out = self.git(&["fetch", &depth, remote, &one, &two], Some(dest)).await?;
                    if out.rc != 0 {
                        return Ok(Err(failed_with(format!("Failed to fetch branch from remote: {v}"), &out)));
                    }
                }
            }
            if !or_fail!(self.is_local_branch(dest, v).await, Err) {
                (
                    vec!["checkout".into(), "--track".into(), "-b".into(), v.into(), format!("{remote}/{v}")],
                    format!("Failed to checkout {v}"),
                )
            } else {
                let out = self.git(&["checkout", "--force", v], Some(dest)).await?;
                if out.rc != 0 {
                    return Ok(Err(failed_with(format!("Failed to checkout branch {v}"), &out)));
                }
                (vec!["reset".into(), "--hard".into(), format!("{remote}/{v}")], format!("Failed to checkout {v}"))
            }
        } else {
            (vec!["checkout".into(), "--force".into(), v.into()], format!("Failed to checkout {v}"))
        };
        let args: Vec<&str> = cmd.iter().map(String::as_str).collect();
        let out = self.git(&args, Some(dest)).await?;
        if out.rc != 0 {
            let shown = std::iter::once(self.exe.clone()).chain(cmd).collect::<Vec<_>>().join(" ");
            return Ok(Err(failed_with(label, &out).with("cmd", shown)));
        }
        Ok(Ok(()))
    }

    /// Whether the submodules need an update (`submodules_fetch`).
    async fn submodules_changed(
        &self,
        a: &Args,
        dest: &str,
        remote: &str,
    ) -> Result<Result<bool, Outcome>, ModuleError> {
        let gm = format!("{dest}/.gitmodules");
        let read = self.cx.exec(prov_core::cmd::Cmd::new("cat").operand(&gm).build().suffix(" 2>/dev/null")).await?;
        if read.rc != 0 {
            return Ok(Ok(false));
        }
        for line in read.stdout_str().lines() {
            if line.trim().starts_with("path") {
                let path = line.split_once('=').map(|(_, p)| p.trim()).unwrap_or_default();
                if !crate::util::path_test(self.cx, "-e", &format!("{dest}/{path}/.git")).await? {
                    return Ok(Ok(true));
                }
            }
        }
        let begin = or_fail!(self.submodule_versions(dest, "HEAD").await, Err);
        let exe = self.exe.clone();
        or_fail!(self.checked(&["submodule", "foreach", &exe, "fetch"], Some(dest)).await, Err);
        if a.track_submodules {
            let after = or_fail!(self.submodule_versions(dest, &format!("{remote}/master")).await, Err);
            return Ok(Ok(begin != after));
        }
        let st = or_fail!(self.checked(&["submodule", "status"], Some(dest)).await, Err);
        Ok(Ok(st.stdout_str().lines().any(|l| !l.starts_with(' '))))
    }

    async fn submodule_versions(
        &self,
        dest: &str,
        version: &str,
    ) -> Result<Result<Vec<(String, String)>, Outcome>, ModuleError> {
        let exe = self.exe.clone();
        let out = self.git(&["submodule", "foreach", &exe, "rev-parse", version], Some(dest)).await?;
        if out.rc != 0 {
            return Ok(Err(failed_with("Unable to determine hashes of submodules".into(), &out)));
        }
        let mut found = Vec::new();
        let mut name: Option<String> = None;
        for line in out.stdout_str().lines() {
            if let Some(n) = line.strip_prefix("Entering '") {
                name = Some(n.trim_end_matches('\'').to_string());
            } else if line.trim().len() == 40 {
                match name.take() {
                    Some(n) => found.push((n, line.trim().to_string())),
                    None => return Ok(Err(Outcome::failed(""))),
                }
            } else {
                return Ok(Err(Outcome::failed(format!("Unable to parse submodule hash line: {}", line.trim()))));
            }
        }
        if let Some(n) = name {
            return Ok(Err(Outcome::failed(format!("Unable to find hash for submodule: {n}"))));
        }
        found.sort();
        Ok(Ok(found))
    }

    /// `git submodule sync` and `update --init --recursive`.
    async fn submodule_update(&self, a: &Args, dest: &str) -> Result<Result<(), Outcome>, ModuleError> {
        let help = self.git(&["submodule", "update", "--help"], Some(dest)).await?;
        let remote_ok =
            help.stderr_str().lines().any(|l| l.contains("git submodule [--quiet] update ") && l.contains("--remote"));
        if !crate::util::path_test(self.cx, "-e", &format!("{dest}/.gitmodules")).await? {
            return Ok(Ok(()));
        }
        or_fail!(self.checked(&["submodule", "sync"], Some(dest)).await, Err);
        let mut cmd = vec!["submodule", "update", "--init", "--recursive"];
        if remote_ok && a.track_submodules {
            cmd.push("--remote");
        }
        if a.force {
            cmd.push("--force");
        }
        let out = self.git(&cmd, Some(dest)).await?;
        if out.rc != 0 {
            return Ok(Err(Outcome::failed(format!(
                "Failed to init/update submodules: {}{}",
                out.stdout_str(),
                out.stderr_str()
            ))));
        }
        Ok(Ok(()))
    }

    /// `diff.prepared` between two commits, fetching `after` first, as the module shows it.
    async fn diff(
        &self,
        dest: &str,
        remote: &str,
        before: Option<&str>,
        after: &str,
    ) -> Result<Option<String>, ModuleError> {
        let Some(before) = before else { return Ok(Some(format!(">> Newly checked out {after}"))) };
        if before == after {
            return Ok(None);
        }
        // The module fetches `after` first (its `fetch`, without a depth).
        let _ = self.git(&["fetch", "--tags", remote], Some(dest)).await?;
        let out = self.git(&["diff", before, after], Some(dest)).await?;
        let (o, e) = (out.stdout_str(), out.stderr_str());
        Ok(Some(if out.rc == 0 && !o.is_empty() {
            o
        } else if out.rc == 0 {
            format!(">> No visual differences between {before} and {after}")
        } else if !e.is_empty() {
            format!(">> Failed to get proper diff between {before} and {after}:\n>> {e}")
        } else {
            format!(">> Failed to get proper diff between {before} and {after}")
        }))
    }
}

/// Where the repository's files are: `DEST/.git` (`DEST` when bare), or the directory a `.git`
/// file points to.
async fn repo_path(cx: &ModuleCtx<'_>, dest: &str, bare: bool) -> Result<Result<String, Outcome>, ModuleError> {
    let path = if bare { dest.to_string() } else { format!("{dest}/.git") };
    let w = Word::new(WordKind::Path, &path).map_err(|e| ModuleError::Failed(e.to_string()))?;
    let out = cx.exec(Sh::lit("[ -f").word(&w).suffix(" ] && cat").word(&w)).await?;
    if out.rc != 0 {
        return Ok(Ok(path));
    }
    let data = out.stdout_str();
    let bad = |why: String| {
        Outcome::failed(
            "Current repo does not have a valid reference to a separate Git dir or it refers to the invalid path",
        )
        .with("details", why)
    };
    let Some((prefix, gitdir)) = data.trim_end().split_once("gitdir: ") else {
        return Ok(Err(bad("not enough values to unpack (expected 2, got 1)".into())));
    };
    if !prefix.is_empty() {
        return Ok(Err(bad(".git file has invalid git dir reference format".into())));
    }
    let repo = if gitdir.starts_with('/') { gitdir.to_string() } else { format!("{dest}/{gitdir}") };
    if !crate::util::path_test(cx, "-d", &repo).await? {
        return Ok(Err(bad(format!("{repo} is not a directory"))));
    }
    Ok(Ok(repo))
}

/// The ssh options git gets, as the module composes them (after `ssh` or the target's own
/// `GIT_SSH`/`GIT_SSH_COMMAND`).
fn ssh_options(a: &Args) -> String {
    let mut opts = a.ssh_opts.clone();
    for (on, opt) in [
        (a.accept_hostkey, "-o StrictHostKeyChecking=no"),
        (a.accept_newhostkey, "-o StrictHostKeyChecking=accept-new"),
    ] {
        if on {
            opts = Some(match opts {
                Some(o)
                    if o.contains("-o StrictHostKeyChecking=no")
                        || o.contains("-o StrictHostKeyChecking=accept-new") =>
                {
                    o
                }
                Some(o) => format!("{o} {opt}"),
                None => opt.to_string(),
            });
        }
    }
    let mut s = match opts {
        Some(o) => format!(" {o}"),
        None => String::new(),
    };
    if a.accept_hostkey && !s.contains("StrictHostKeyChecking=no") {
        s.push_str(" -o StrictHostKeyChecking=no");
    }
    if !s.contains("BatchMode=yes") {
        s.push_str(" -o BatchMode=yes");
    }
    if let Some(k) = &a.key_file {
        let key = format!("-i {k}");
        if !s.contains(&key) {
            s.push_str(&format!("  {key}"));
        }
        if !s.contains("IdentitiesOnly=yes") {
            s.push_str(" -o IdentitiesOnly=yes");
        }
    }
    format!(" {s}")
}

impl Git {
    /// The whole module, as ansible-core runs it; `check` asks the remote instead of changing.
    async fn run(&self, a: &Args, cx: &ModuleCtx<'_>, check: bool) -> Result<Outcome, ModuleError> {
        let umask = match &a.umask {
            None => None,
            Some(serde_json::Value::String(s)) => match u32::from_str_radix(s.trim(), 8) {
                Ok(m) => Some(m),
                Err(e) => return Ok(Outcome::failed("umask must be an octal integer").with("details", e.to_string())),
            },
            Some(_) => return Ok(Outcome::failed("umask must be defined as a quoted octal integer")),
        };
        let exe = match &a.executable {
            Some(e) => cx.expand_path(e).await?,
            None => or_fail!(crate::util::required_bin(cx, "git").await),
        };
        let expanded = if a.repo.starts_with('~') { cx.expand_path(&a.repo).await? } else { a.repo.clone() };
        let repo = if expanded.starts_with('/') { format!("file://{expanded}") } else { a.repo.clone() };
        let g = Runner { cx, exe, ssh: ssh_options(a), umask };
        let dest = match &a.dest {
            Some(d) => Some(cx.expand_path(d).await?),
            None if a.clone => {
                return Ok(Outcome::failed("the destination directory must be specified unless clone=no"))
            }
            None => None,
        };
        let remote = a.remote.as_str();
        let diff_on = cx.mode.diff == DiffMode::On;
        let mut o = Outcome::ok().with("before", Value::from(()));
        let gitconfig = match &dest {
            Some(d) => Some(format!("{}/config", or_fail!(repo_path(cx, d, a.bare).await))),
            None => None,
        };
        let has_config = match &gitconfig {
            Some(c) => crate::util::path_test(cx, "-e", c).await?,
            None => false,
        };
        let mut local_mods = false;
        let mut remote_url_changed = false;
        if (dest.is_some() && !has_config) || (dest.is_none() && !a.clone) {
            if check || !a.clone {
                let head = or_fail!(g.remote_head(a, dest.as_deref(), &repo, &repo).await);
                o = o.with("after", head.as_str());
                o.changed = true;
                if diff_on {
                    o = o.with(
                        "diff",
                        Value::from_pairs(vec![("prepared", Value::from(format!(">> Newly checked out {head}")))]),
                    );
                }
                return Ok(o);
            }
            let d = dest.clone().unwrap_or_default();
            if let Some(w) = or_fail!(self.clone_repo(&g, a, &d, &repo, remote).await) {
                o = o.warn(w);
            }
        } else if !a.update {
            let d = dest.clone().unwrap_or_default();
            let v = g.version(&d, "HEAD").await?;
            return Ok(o.with("before", v.as_str()).with("after", v.as_str()));
        } else {
            let d = dest.clone().unwrap_or_default();
            if !a.bare {
                let st = g.git(&["status", "--porcelain"], Some(&d)).await?;
                local_mods = st.stdout_str().lines().any(|l| !l.starts_with("??"));
            }
            let before = g.version(&d, "HEAD").await?;
            o = o.with("before", before.as_str());
            if local_mods {
                if !a.force {
                    let msg = format!("Local modifications exist in the destination: {d} (force=no).");
                    return Ok(Outcome::failed(msg).with("before", before.as_str()));
                }
                if !check {
                    or_fail!(g.checked(&["reset", "--hard", "HEAD"], Some(&d)).await);
                    o.changed = true;
                    o.msg = Some(format!("Local modifications exist in the destination: {d}"));
                }
            }
            if check {
                let url = g.remote_url(&d, remote).await?;
                remote_url_changed = match &url {
                    Some(u) if !u.is_empty() => u != &repo && !g.same_path(Some(u), &repo).await?,
                    _ => false,
                };
                o = o.with("remote_url_changed", remote_url_changed);
                let head = or_fail!(g.remote_head(a, Some(&d), remote, &repo).await);
                o.changed = before != head || remote_url_changed;
                o = o.with("after", head.as_str());
                if diff_on {
                    if let Some(p) = g.diff(&d, remote, Some(&before), &head).await? {
                        o = o.with("diff", Value::from_pairs(vec![("prepared", Value::from(p))]));
                    }
                }
                return Ok(o);
            }
            remote_url_changed = or_fail!(g.set_remote_url(&d, remote, &repo).await);
            o = o.with("remote_url_changed", remote_url_changed);
            or_fail!(g.fetch(a, &d, &repo, remote).await);
        }
        let d = dest.clone().unwrap_or_default();
        if !a.bare {
            or_fail!(g.switch_version(a, &d, remote).await);
        }
        let mut submodules = false;
        if a.recursive && !a.bare {
            submodules = or_fail!(g.submodules_changed(a, &d, remote).await);
            if submodules {
                o = o.with("submodules_changed", true);
                or_fail!(g.submodule_update(a, &d).await);
            }
        }
        let after = g.version(&d, "HEAD").await?;
        let before = o.data.get("before").and_then(|v| v.as_str().map(str::to_string));
        o = o.with("after", after.as_str());
        if before.as_deref() != Some(after.as_str()) || local_mods || submodules || remote_url_changed {
            o.changed = true;
            if diff_on {
                if let Some(p) = g.diff(&d, remote, before.as_deref(), &after).await? {
                    o = o.with("diff", Value::from_pairs(vec![("prepared", Value::from(p))]));
                }
            }
        }
        Ok(o)
    }

    /// `git clone` (and the remote and refspec of a bare clone), as the module runs it.
    /// The warning it gives, if any.
    async fn clone_repo(
        &self,
        g: &Runner<'_, '_>,
        a: &Args,
        dest: &str,
        repo: &str,
        remote: &str,
    ) -> Result<Result<Option<&'static str>, Outcome>, ModuleError> {
        let parent = dest.rsplit_once('/').map(|(p, _)| if p.is_empty() { "/" } else { p }).unwrap_or(".").to_string();
        let w = Word::new(WordKind::Path, &parent).map_err(|e| ModuleError::Failed(e.to_string()))?;
        let _ = g.cx.exec(Sh::lit("mkdir -p").word(&w).suffix(" 2>/dev/null")).await?;
        let mut cmd: Vec<String> = vec!["clone".into()];
        if a.bare {
            cmd.push("--bare".into());
        } else {
            cmd.extend(["--origin".to_string(), remote.to_string()]);
        }
        let v = a.version.as_str();
        let branch_or_tag = or_fail!(g.is_remote_branch(Some(dest), repo, v).await, Err)
            || or_fail!(g.is_remote_tag(Some(dest), repo, v).await, Err);
        let mut warning = None;
        if let Some(d) = &a.depth {
            if v == "HEAD" || a.refspec.is_some() {
                cmd.extend(["--depth".to_string(), d.clone()]);
            } else if branch_or_tag {
                cmd.extend(["--depth".to_string(), d.clone(), "--branch".to_string(), v.to_string()]);
            } else {
                warning = Some("Ignoring depth argument. Shallow clones are only available for HEAD, branches, tags or in combination with refspec.");
            }
        }
        if let Some(r) = &a.reference {
            cmd.extend(["--reference".to_string(), r.clone()]);
        }
        if a.single_branch {
            cmd.push("--single-branch".into());
            if branch_or_tag {
                cmd.extend(["--branch".to_string(), v.to_string()]);
            }
        }
        cmd.extend(["--".to_string(), repo.to_string(), dest.to_string()]);
        let args: Vec<&str> = cmd.iter().map(String::as_str).collect();
        let out = g.git(&args, Some(&parent)).await?;
        if out.rc != 0 {
            let shown: Vec<String> =
                std::iter::once(g.exe.clone()).chain(cmd.into_iter().filter(|w| w != "--")).collect();
            return Ok(Err(crate::util::run_failed(&shown, &out)));
        }
        if a.bare && remote != "origin" {
            or_fail!(g.checked(&["remote", "add", remote, repo], Some(dest)).await, Err);
        }
        if let Some(r) = &a.refspec {
            let mut f: Vec<String> = vec!["fetch".into()];
            if let Some(d) = &a.depth {
                f.extend(["--depth".to_string(), d.clone()]);
            }
            f.extend([remote.to_string(), r.clone()]);
            let args: Vec<&str> = f.iter().map(String::as_str).collect();
            or_fail!(g.checked(&args, Some(dest)).await, Err);
        }
        Ok(Ok(warning))
    }
}

#[async_trait]
impl Module for Git {
    const NAME: &'static str = "git";
    type Args = Args;
    type Plan = ();

    fn check_args(a: &Args) -> Result<(), String> {
        if a.archive.is_some() || a.archive_prefix.is_some() {
            return Err("`archive` is not supported by prov".into());
        }
        if a.separate_git_dir.is_some() {
            return Err("`separate_git_dir` is not supported by prov".into());
        }
        if a.verify_commit || a.gpg_allowlist.as_ref().is_some_and(|l| !l.is_empty()) {
            return Err("`verify_commit` and `gpg_allowlist` are not supported by prov".into());
        }
        if a.accept_hostkey && a.accept_newhostkey {
            return Err(
                "parameters are mutually exclusive: separate_git_dir|bare, accept_hostkey|accept_newhostkey".into()
            );
        }
        for (what, v) in [
            ("repo", Some(&a.repo)),
            ("version", Some(&a.version)),
            ("remote", Some(&a.remote)),
            ("refspec", a.refspec.as_ref()),
        ] {
            if v.is_some_and(|v| v.starts_with('-')) {
                return Err(format!(
                    "{what} `{}` starts with `-`: git would read it as an option",
                    v.cloned().unwrap_or_default()
                ));
            }
        }
        if let Some(d) = &a.depth {
            d.trim()
                .parse::<u32>()
                .map_err(|_| format!("argument 'depth' is of type str and we were unable to convert to int: {d}"))?;
        }
        Ok(())
    }

    async fn plan(&self, a: &Args, cx: &ModuleCtx<'_>) -> Result<Plan<()>, ModuleError> {
        let action = Action::Run;
        crate::util::decide_while_acting(
            cx,
            action,
            "git",
            a.dest.clone().unwrap_or_else(|| a.repo.clone()),
            self.run(a, cx, true),
        )
        .await
    }

    async fn apply(&self, a: &Args, _: (), cx: &ModuleCtx<'_>) -> Result<Outcome, ModuleError> {
        self.run(a, cx, false).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(v: serde_json::Value) -> Args {
        serde_json::from_value(v).expect("args")
    }

    #[test]
    fn ssh_options_are_composed_as_the_module_composes_them() {
        // The GIT_SSH_COMMAND ansible-core 2.19 sets (after `ssh`) for these arguments.
        assert_eq!(ssh_options(&args(serde_json::json!({"repo": "r"}))), "  -o BatchMode=yes");
        let a = args(serde_json::json!({"repo": "r", "key_file": "/k", "accept_hostkey": true}));
        assert_eq!(ssh_options(&a), "  -o StrictHostKeyChecking=no -o BatchMode=yes  -i /k -o IdentitiesOnly=yes");
        let a = args(serde_json::json!({"repo": "r", "ssh_opts": "-p 2222", "accept_newhostkey": true}));
        assert_eq!(ssh_options(&a), "  -p 2222 -o StrictHostKeyChecking=accept-new -o BatchMode=yes");
    }

    #[test]
    fn values_git_would_read_as_options_are_refused() {
        let e = Git::check_args(&args(serde_json::json!({"repo": "r", "version": "--upload-pack=x"})))
            .expect_err("refused");
        assert!(e.contains("git would read it as an option"), "{e}");
        assert!(Git::check_args(&args(serde_json::json!({"repo": "-oProxyCommand=x"}))).is_err());
        assert!(Git::check_args(&args(serde_json::json!({"repo": "r", "archive": "/a.zip"}))).is_err());
    }
}
