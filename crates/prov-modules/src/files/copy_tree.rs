//! `copy` of a controller directory, as ansible-core's copy action does it.
//!
//! - `src: dir/` copies what is in `dir` into `dest`; `src: dir` copies `dir` itself, as
//!   `dest/dir`.
//! - Each file is written as a single `copy` writes it (streamed, `mode`, `owner`, `group`,
//!   `backup`, `force`, `validate`; `mode: preserve` is each file's own mode).
//! - Each directory of the source is then made (or kept) with `directory_mode`, `owner` and
//!   `group`, as the file module's `state: directory`; directories that hold files are made
//!   first, with the same attributes, when missing.
//! - Symbolic links: with `local_follow: true` (the default) a link to a file is copied as
//!   that file and a link to a directory is walked (a link back to a directory being walked
//!   stays a link); with `local_follow: false` links are made as links (`ln -s`).
//! - The result is ansible-core's: `dest` (with a trailing `/`), `src` and `changed`; for a
//!   source holding exactly one file and nothing else, that file's own result.

use super::content::LocalFile;
use super::{
    apply_write, attr_diff, file_diff, plan_write, probe, run_step, with_path_info, write_result, AttrChange, Attrs,
    Content, FileState, Kind, SourceMode, Write, WritePlan,
};
use prov_core::args::Mode;
use prov_core::cmd::Cmd;
use prov_core::module::{Action, Change, ModuleCtx, ModuleError, Outcome, Plan};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// What a walk of the source found, with paths relative to the destination.
#[derive(Debug, Default)]
struct Walk {
    files: Vec<(PathBuf, String)>,
    dirs: Vec<String>,
    /// (link target as written, relative path)
    links: Vec<(String, String)>,
}

/// Walks `top` as ansible-core's `_walk_dirs` does, in name order (files of a directory
/// before its subdirectories, depth first).
fn walk(top: &Path, prefix: &str, follow: bool) -> std::io::Result<Walk> {
    use std::os::unix::fs::MetadataExt;
    fn rec(dir: &Path, rel: &str, follow: bool, parents: &mut Vec<(u64, u64)>, out: &mut Walk) -> std::io::Result<()> {
        let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
        entries.sort_by_key(|e| e.file_name());
        let join = |name: &str| if rel.is_empty() { name.to_string() } else { format!("{rel}/{name}") };
        let mut subdirs = Vec::new();
        for e in &entries {
            let name = e.file_name().to_string_lossy().into_owned();
            let path = e.path();
            let lmeta = std::fs::symlink_metadata(&path)?;
            let is_link = lmeta.file_type().is_symlink();
            let target = std::fs::metadata(&path).ok();
            let is_dir = target.as_ref().is_some_and(|m| m.is_dir());
            if !is_dir {
                if is_link && !(follow && target.as_ref().is_some_and(|m| m.is_file())) {
                    out.links.push((std::fs::read_link(&path)?.to_string_lossy().into_owned(), join(&name)));
                } else if is_link {
                    out.files.push((std::fs::canonicalize(&path)?, join(&name)));
                } else {
                    out.files.push((path, join(&name)));
                }
            } else {
                subdirs.push((name, path, is_link, target));
            }
        }
        for (name, path, is_link, target) in subdirs {
            let id = target.map(|m| (m.dev(), m.ino())).unwrap_or_default();
            if is_link && (!follow || parents.contains(&id)) {
                out.links.push((std::fs::read_link(&path)?.to_string_lossy().into_owned(), join(&name)));
                continue;
            }
            out.dirs.push(join(&name));
            parents.push(id);
            let real = if is_link { std::fs::canonicalize(&path)? } else { path };
            rec(&real, &join(&name), follow, parents, out)?;
            parents.pop();
        }
        Ok(())
    }
    let m = std::fs::metadata(top)?;
    let mut out = Walk::default();
    rec(top, prefix, follow, &mut vec![(m.dev(), m.ino())], &mut out)?;
    Ok(out)
}

/// What copying a directory will do.
pub struct TreePlan {
    /// The destination directory, ending with `/`.
    dest: String,
    /// The source as the result shows it.
    src: String,
    files: Vec<WritePlan>,
    /// Directories to make, parents first, and whether each is one of the source's own (so
    /// its attributes are set even when it exists).
    dirs: Vec<(String, bool)>,
    /// Links to make: (target, path).
    links: Vec<(String, String)>,
    /// Whether the source holds exactly one file and nothing else.
    single: bool,
    /// For a source of one file and directories: the last directory, whose result is the
    /// task's (ansible-core registers the last module it ran).
    last: Option<LastDir>,
    directory_mode: Option<Mode>,
}

/// The last directory of a one-file source, as planned.
struct LastDir {
    path: String,
    /// Its state before the copy (`None`: made by it).
    before: Option<FileState>,
    changes: Vec<AttrChange>,
}

impl LastDir {
    /// The file module's result for it (`state: directory`), with `dest` set to its path:
    /// `changed` is this directory's own, the attributes are those of `now`.
    fn result(&self, now: Option<&FileState>, diff_on: bool) -> Outcome {
        let changed = self.before.is_none() || !self.changes.is_empty();
        let mut o = Outcome { changed, ..Outcome::ok() };
        if diff_on {
            let (b, a) = match &self.before {
                None => (vec![("state", "absent".into())], vec![("state", "directory".into())]),
                Some(st) => attr_diff(&self.changes, st, None),
            };
            o = o.with("diff", file_diff(&self.path, b, a));
        }
        with_path_info(o.with("path", self.path.as_str()), now).with("dest", self.path.as_str())
    }
}

/// Plans the copy of the controller directory `path` (`src` as written).
pub(crate) async fn plan(
    args: &super::copy::Args,
    src: &str,
    path: &Path,
    cx: &ModuleCtx<'_>,
) -> Result<Plan<TreePlan>, ModuleError> {
    let follow = args.local_follow.unwrap_or(true);
    let directory_mode = args.directory_mode.clone();
    let base = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let prefix = if src.ends_with('/') { String::new() } else { base };
    let w = walk(path, &prefix, follow).map_err(|e| ModuleError::Failed(format!("reading {}: {e}", path.display())))?;
    let dest = if args.dest.ends_with('/') { args.dest.clone() } else { format!("{}/", args.dest) };
    let shown_src = {
        let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf()).display().to_string();
        let abs = abs.trim_end_matches('/').to_string();
        if src.ends_with('/') {
            format!("{abs}/")
        } else {
            abs
        }
    };
    let single = w.files.len() == 1 && w.dirs.is_empty() && w.links.is_empty();
    let last_name = (w.files.len() == 1 && w.links.is_empty()).then(|| w.dirs.last().cloned()).flatten();
    let diff_on = cx.mode.diff == prov_core::module::DiffMode::On;
    let mut last = None;
    let mut files = Vec::new();
    let mut changed = false;
    let mut single_result = None;
    let mut diffs = Vec::new();
    for (local, rel) in &w.files {
        let mut source_mode = 0o600;
        if args.mode == Some(SourceMode::Preserve) {
            source_mode = super::local_mode(local);
        }
        let mode = SourceMode::resolve(&args.mode, || source_mode);
        let shown = std::path::absolute(local).unwrap_or_else(|_| local.clone()).display().to_string();
        let target = format!("{dest}{rel}");
        let write = Write {
            dest: &target,
            data: Content::Local(Arc::new(LocalFile::open(local).await?)),
            attrs: Attrs::new(&mode, &args.owner, &args.group),
            force: args.force,
            src_name: None,
            source: Some(shown),
            check_parent: false,
            follow: args.follow,
        };
        match super::preserving(plan_write(cx, write).await, mode)? {
            Plan::Ok(o) => {
                if single {
                    single_result = Some(o);
                }
            }
            Plan::Change(ch) => {
                changed = true;
                // ansible-core shows the diffs of a directory copy only when its result is
                // the one file's.
                if single {
                    diffs.extend(ch.diffs);
                }
                if single {
                    let mut o = Outcome { changed: true, ..Outcome::ok() };
                    o.data = ch.data;
                    single_result = Some(o);
                }
                files.push(ch.plan);
            }
        }
    }
    // Directories: the source's own, and the parents its files need.
    let mut dirs: Vec<(String, bool)> = Vec::new();
    let mut seen = HashSet::new();
    let own: HashSet<&str> = w.dirs.iter().map(String::as_str).collect();
    let mut wanted: Vec<String> = vec![String::new()];
    let rels = w
        .files
        .iter()
        .map(|f| f.1.as_str())
        .chain(w.links.iter().map(|l| l.1.as_str()))
        .chain(w.dirs.iter().map(String::as_str));
    for rel in rels {
        // Each parent of `rel` (`a` and `a/b` for `a/b/c`).
        wanted.extend(rel.match_indices('/').map(|(i, _)| rel[..i].to_string()));
    }
    wanted.extend(w.dirs.iter().cloned());
    let dattrs = Attrs::new(&directory_mode, &args.owner, &args.group);
    for rel in wanted {
        if !seen.insert(rel.clone()) {
            continue;
        }
        let p = if rel.is_empty() { dest.trim_end_matches('/').to_string() } else { format!("{dest}{rel}") };
        let is_own = own.contains(rel.as_str());
        let st = probe(cx, &p, None, false).await?;
        if last_name.as_deref() == Some(rel.as_str()) {
            let changes = st.as_ref().map(|s| dattrs.changes(s)).unwrap_or_default();
            last = Some(LastDir { path: p.clone(), before: st.clone(), changes });
        }
        match st {
            None => {
                changed = true;
                dirs.push((p, is_own));
            }
            Some(st) if st.kind == Kind::Dir => {
                if is_own && !dattrs.changes(&st).is_empty() {
                    changed = true;
                    dirs.push((p, true));
                }
            }
            Some(st) => {
                return Ok(Plan::Ok(Outcome::failed(format!(
                    "{p} exists and is not a directory ({})",
                    st.kind.state()
                ))))
            }
        }
    }
    dirs.sort_by_key(|d| d.0.matches('/').count());
    let mut links = Vec::new();
    for (target, rel) in &w.links {
        let p = format!("{dest}{rel}");
        let out = cx.exec(Cmd::new("readlink").operand(&p).build()).await?;
        if out.rc != 0 || out.stdout_str().trim_end_matches('\n') != target {
            changed = true;
            links.push((target.clone(), p));
        }
    }
    let result = |changed: bool| {
        Outcome { changed, ..Outcome::ok() }.with("dest", dest.as_str()).with("src", shown_src.as_str())
    };
    if let Some(l) = &last {
        single_result = Some(l.result(l.before.as_ref(), diff_on));
    }
    if !changed {
        return Ok(Plan::Ok(single_result.unwrap_or_else(|| result(false))));
    }
    let mut ch = Change::new(
        TreePlan { dest: dest.clone(), src: shown_src.clone(), files, dirs, links, single, last, directory_mode },
        Action::Modify,
        "directory",
        dest.clone(),
    );
    ch.diffs = diffs;
    ch.data = match single_result {
        Some(o) if single || last_name.is_some() => o.data,
        _ => result(true).data,
    };
    Ok(Plan::Change(ch))
}

/// Makes the planned copy: directories (parents first), files, links.
pub(crate) async fn apply(args: &super::copy::Args, p: TreePlan, cx: &ModuleCtx<'_>) -> Result<Outcome, ModuleError> {
    let dattrs = Attrs::new(&p.directory_mode, &args.owner, &args.group);
    for (dir, _) in &p.dirs {
        if let Err(f) =
            run_step(cx, &format!("creating {dir}"), Cmd::new("mkdir").flag("-p").operand(dir).build()).await?
        {
            return Ok(f);
        }
        if let Some(st) = probe(cx, dir, None, false).await? {
            if let Some(cmd) = Attrs::command(dir, &dattrs.changes(&st), false, false) {
                if let Err(f) = run_step(cx, "setting ownership and mode", cmd).await? {
                    return Ok(f);
                }
            }
        }
    }
    let mut last = None;
    for plan in &p.files {
        let attrs = Attrs::new(&plan.mode, &args.owner, &args.group);
        let o = apply_write(cx, plan, &attrs, args.backup, args.validate.as_deref()).await?;
        if o.failed {
            return Ok(o);
        }
        // Only a source of one file registers that file's result.
        if p.single {
            last = Some(write_result(cx, plan, o).await?);
        }
    }
    for (target, path) in &p.links {
        let ln = Cmd::new("ln").flag("-sfn").operands([target, path]).build();
        if let Err(f) = run_step(cx, &format!("linking {path}"), ln).await? {
            return Ok(f);
        }
    }
    if p.single {
        if let Some(o) = last {
            return Ok(o);
        }
    }
    if let Some(l) = &p.last {
        let now = probe(cx, &l.path, None, false).await?;
        return Ok(l.result(now.as_ref(), cx.mode.diff == prov_core::module::DiffMode::On));
    }
    let o = Outcome { changed: true, ..Outcome::ok() };
    Ok(o.with("dest", p.dest.as_str()).with("src", p.src.as_str()))
}
