//! `copy` with `remote_src: true`: a file already on the target copied to `dest` there, as
//! ansible-core's copy module does it on the host (its action plugin takes no part): no diff,
//! the new file gets the source's mode and times (`shutil.copystat`) unless `mode` says
//! otherwise, and the result is the module's (`src`, `dest`, `checksum` and `md5sum` of the
//! source, the destination's attributes). The bytes never leave the host.

use super::copy::CopyPlan;
use super::{probe, with_path_info, Attrs, FileState, Kind, SourceMode};
use prov_core::args::Mode;
use prov_core::cmd::{Cmd, Sh};
use prov_core::module::{Action, Change, ModuleCtx, ModuleError, Outcome, Plan};

/// What a `remote_src` copy will do.
#[derive(Debug)]
pub struct RemotePlan {
    src: String,
    dest: String,
    /// The content differs (or `dest` is a link): copy it.
    copy: bool,
    /// The parent directory to make first (`dest` ending with `/`).
    mkdir: Option<String>,
    /// The destination exists (a backup has something to keep).
    exists: bool,
    sha1: String,
    md5: String,
    mode: Option<Mode>,
}

/// Plans the copy of the target file `src` to `dest` on the target.
pub(crate) async fn plan(
    args: &super::copy::Args,
    src: &str,
    cx: &ModuleCtx<'_>,
) -> Result<Plan<CopyPlan>, ModuleError> {
    let src = cx.expand_path(src).await?;
    let Some(sst) = probe(cx, &src, Some("sha1sum"), true).await? else {
        return Ok(Plan::Ok(Outcome::failed(format!("Source {src} not found"))));
    };
    match sst.kind {
        Kind::File => Ok(plan_file(args, src, sst, cx).await?.map(CopyPlan::Remote)),
        Kind::Dir => Ok(super::copy_remote_dir::plan(args, &src, sst.mode, cx).await?.map(CopyPlan::RemoteDir)),
        _ => Ok(Plan::Ok(Outcome::failed(format!("Cannot copy invalid source '{src}': not a file")))),
    }
}

/// Plans the copy of the target file `src` (its state `sst`).
async fn plan_file(
    args: &super::copy::Args,
    src: String,
    sst: FileState,
    cx: &ModuleCtx<'_>,
) -> Result<Plan<RemotePlan>, ModuleError> {
    let sha1 = sst.checksum.clone().unwrap_or_default();
    let md5 = sum(cx, "md5sum", &src).await?;
    let mode = SourceMode::resolve(&args.mode, || sst.mode);
    let mut dest = if args.dest.contains('/') { args.dest.clone() } else { format!("./{}", args.dest) };
    let mut mkdir = None;
    if let Some(dir) = dest.strip_suffix('/') {
        let dir = if dir.is_empty() { "/" } else { dir };
        if probe(cx, dir, None, true).await?.is_none() {
            if cx.is_check() {
                return Ok(Plan::Change(
                    Change::new(RemotePlan::default_for(&src, &dest), Action::Create, "file", dest.clone())
                        .with_data("msg", format!("dest directory {dir} would be created"))
                        .with_data("src", src.as_str()),
                ));
            }
            mkdir = Some(dir.to_string());
        }
    }
    // A directory (or one about to be made) receives the file under the source's name.
    let base = src.trim_end_matches('/').rsplit('/').next().unwrap_or_default().to_string();
    let mut st = if mkdir.is_some() { None } else { probe(cx, &dest, Some("sha1sum"), false).await? };
    let link_to_dir = super::through_link(cx, &mut dest, &mut st, args.follow, Some("sha1sum")).await?;
    if mkdir.is_some() {
        dest = format!("{dest}{base}");
    } else if link_to_dir || st.as_ref().is_some_and(|s| s.kind == Kind::Dir) {
        dest = format!("{}/{base}", dest.trim_end_matches('/'));
        st = probe(cx, &dest, Some("sha1sum"), false).await?;
    }
    let result = |o: Outcome, st: Option<&FileState>| {
        with_path_info(
            o.with("dest", dest.as_str())
                .with("src", src.as_str())
                .with("md5sum", md5.as_str())
                .with("checksum", sha1.as_str()),
            st,
        )
    };
    match &st {
        Some(_) if !args.force => {
            let o =
                Outcome::ok().with("msg", "file already exists").with("src", src.as_str()).with("dest", dest.as_str());
            return Ok(Plan::Ok(with_path_info(o, st.as_ref())));
        }
        None if mkdir.is_none() => {
            if let Some(f) = missing_parent(cx, &dest).await? {
                return Ok(Plan::Ok(f));
            }
        }
        _ => {}
    }
    let copy = match &st {
        Some(s) if s.kind == Kind::File => s.checksum.as_deref() != Some(sha1.as_str()),
        _ => true,
    };
    let attrs = Attrs::new(&mode, &args.owner, &args.group);
    // After a copy the file has the source's mode (copystat) and the user's ownership: the
    // attributes are compared with that file when it is there.
    let changes = match (&st, copy) {
        (Some(s), false) => attrs.changes(s),
        _ => Vec::new(),
    };
    if !copy && changes.is_empty() {
        return Ok(Plan::Ok(result(Outcome::ok(), st.as_ref())));
    }
    let action = if st.is_none() { Action::Create } else { Action::Modify };
    let plan = RemotePlan {
        src: src.clone(),
        dest: dest.clone(),
        copy,
        mkdir,
        exists: st.is_some(),
        sha1: sha1.clone(),
        md5: md5.clone(),
        mode,
    };
    let mut ch = Change::new(plan, action, "file", dest.clone());
    // Check mode registers what the module returns: the destination as it is now.
    ch.data = result(Outcome::ok(), st.as_ref()).data;
    Ok(Plan::Change(ch))
}

impl RemotePlan {
    fn default_for(src: &str, dest: &str) -> RemotePlan {
        RemotePlan {
            src: src.into(),
            dest: dest.into(),
            copy: true,
            mkdir: None,
            exists: false,
            sha1: String::new(),
            md5: String::new(),
            mode: None,
        }
    }
}

/// The hex digest `tool` (`md5sum`) prints for `path`.
async fn sum(cx: &ModuleCtx<'_>, tool: &'static str, path: &str) -> Result<String, ModuleError> {
    let out = cx.exec(Cmd::new(tool).operand(path).build()).await?;
    if out.rc != 0 {
        return Err(crate::util::probe_failed(&format!("reading the checksum of {path}"), &out));
    }
    Ok(out.stdout_str().split_whitespace().next().unwrap_or_default().to_string())
}

/// Makes the planned copy: the parent directory, a backup, `validate` (on the source, as
/// ansible-core's module runs it, after giving the source the wanted mode and ownership), the
/// copy through a fresh temporary file beside `dest` renamed into place, then mode and
/// ownership.
pub(crate) async fn apply(args: &super::copy::Args, p: RemotePlan, cx: &ModuleCtx<'_>) -> Result<Outcome, ModuleError> {
    use super::run_step;
    let mut o = Outcome { changed: true, ..Outcome::ok() };
    let attrs = Attrs::new(&p.mode, &args.owner, &args.group);
    if let Some(dir) = &p.mkdir {
        if let Err(f) =
            run_step(cx, "creating the destination directory", Cmd::new("mkdir").flag("-p").operand(dir).build())
                .await?
        {
            return Ok(f);
        }
    }
    if p.copy {
        if args.backup && p.exists {
            match super::backup_file(cx, &p.dest).await? {
                Ok(name) => o = o.with("backup_file", name),
                Err(f) => return Ok(f),
            }
        }
        if let Some(v) = args.validate.as_deref() {
            if let Some(cmd) = Attrs::command(&p.src, &attrs.all(), false, false) {
                if let Err(f) = run_step(cx, "setting ownership and mode", cmd).await? {
                    return Ok(f);
                }
            }
            let out = cx.exec(super::validate_command(v, &p.src)).await?;
            if out.rc != 0 {
                let mut f = super::validate_failed(&out);
                f.changed = false;
                return Ok(f);
            }
        }
        let (dir, name) = match p.dest.rsplit_once('/') {
            Some(("", n)) => ("/", n),
            Some((d, n)) => (d, n),
            None => (".", p.dest.as_str()),
        };
        let prefix = format!("{}/.{name}.prov-tmp-", dir.trim_end_matches('/'));
        let mktemp = Cmd::new("mktemp").operand(format!("{prefix}XXXXXXXXXXXXXXXX")).build();
        // The source's mode and times (copystat); a file that did not exist gets what the
        // umask gives a new file instead, as ansible-core's atomic_move does.
        let new_mode = if p.exists {
            Sh::lit("true")
        } else {
            Sh::lit("chmod \"$(printf %o $(( 0666 & ~$(umask) )))\" -- \"$T\"")
        };
        let cp = Sh::lit("T=$(")
            .glued(mktemp)
            .suffix(")")
            .and(Sh::lit("cp --preserve=mode,timestamps --").word(Sh::quoted(&p.src)).suffix(" \"$T\""))
            .and(new_mode)
            .and(Sh::lit("mv -f -- \"$T\"").word(Sh::quoted(&p.dest)))
            .suffix(" || { rc=$?; rm -f -- \"$T\"; exit $rc; }")
            .then(Sh::lit("rm -f --").word(Sh::quoted(&prefix).suffix("*")));
        if let Err(f) = run_step(cx, &format!("copying {} to {}", p.src, p.dest), cp).await? {
            return Ok(f);
        }
    }
    let after = match set_attrs(cx, &p.dest, &attrs).await? {
        Ok(after) => after,
        Err(f) => return Ok(f),
    };
    o = o
        .with("dest", p.dest.as_str())
        .with("src", p.src.as_str())
        .with("md5sum", p.md5.as_str())
        .with("checksum", p.sha1.as_str());
    Ok(with_path_info(o, after.as_ref()))
}

/// Gives `path` the mode and ownership of `attrs` where it differs, as the module's
/// `set_fs_attributes_if_different` does after a copy: the path's state afterwards, or the
/// failed step.
pub(crate) async fn set_attrs(
    cx: &ModuleCtx<'_>,
    path: &str,
    attrs: &Attrs,
) -> Result<Result<Option<FileState>, Outcome>, ModuleError> {
    let st = probe(cx, path, None, false).await?;
    let changes = st.as_ref().map(|s| attrs.changes(s)).unwrap_or_default();
    match Attrs::command(path, &changes, false, false) {
        Some(cmd) => {
            if let Err(f) = super::run_step(cx, "setting ownership and mode", cmd).await? {
                return Ok(Err(f));
            }
            Ok(Ok(probe(cx, path, None, false).await?))
        }
        // Nothing changed since the probe above.
        None => Ok(Ok(st)),
    }
}

/// The module's failure when the directory `dest` would go in does not exist (ansible-core:
/// "Destination directory X does not exist"); `None` when it does.
pub(crate) async fn missing_parent(cx: &ModuleCtx<'_>, dest: &str) -> Result<Option<Outcome>, ModuleError> {
    let parent = super::parent_dir(dest);
    Ok(match probe(cx, parent, None, true).await? {
        Some(p) if p.kind == Kind::Dir => None,
        _ => Some(Outcome::failed(format!("Destination directory {parent} does not exist"))),
    })
}
