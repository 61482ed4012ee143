//! `copy` with `remote_src: true` of a directory on the target, as ansible-core's copy module
//! does it there (its `copy_directory`):
//!
//! - `src: dir/` copies what is in `dir`; `src: dir` copies `dir` itself, into `dest/dir`.
//! - A destination that does not exist is made as a copy of the whole tree (`shutil.copytree`:
//!   modes and times kept, parent directories made).
//! - Into one that exists, file by file, down the directories both have: a file only in the
//!   source is copied (its mode kept, not its times); a file in both whose content differs is
//!   rewritten in place with the source's mode; nothing is removed, and names Python's
//!   `filecmp` ignores (`.git`, `CVS`, `__pycache__`, ...) are left out.
//! - Symbolic links follow the module's `local_follow`, which has no default there: unset, a
//!   new directory tree keeps its links and a link that is new in an existing tree is not
//!   copied (but still counts as a change, every run); `true` copies what links point to;
//!   `false` makes links.
//! - `owner`/`group` are set on everything under the copy; `mode` only on `dest`.
//! - The result is the module's: `dest`, `src`, `md5sum` and `checksum` null, `changed`, and
//!   the destination's attributes.

use super::{probe, with_path_info, Attrs, Kind, SourceMode};
use prov_core::cmd::Sh;
use prov_core::module::{Action, Change, ModuleCtx, ModuleError, Outcome, Plan};

/// The tree copy as a shell program: `S` the source directory, `D` the directory it goes to,
/// `CHECK=1` to only tell, `F` the module's `local_follow` (`none`, `yes`, `no`), `O` and `G`
/// the owner and group to set (empty: leave). Prints `changed` when something was (or would
/// be) changed; a failed step exits with its status.
const TREE: &str = r#"c=0
ign() { case $1 in RCS|CVS|tags|.git|.hg|.bzr|_darcs|__pycache__) return 0;; esac; return 1; }
tree() { if [ "$F" = yes ]; then cp -RL --preserve=mode,timestamps -- "$1" "$2"; else cp -RP --preserve=mode,timestamps -- "$1" "$2"; fi; }
owned() { [ -z "$O$G" ] || chown -h -- "$O${G:+:$G}" "$1"; }
link() { ln -s -- "$(readlink -- "$1")" "$2"; }
walk() {
  local e n s d
  for e in "$1"/* "$1"/.[!.]* "$1"/..?*; do
    [ -e "$e" ] || [ -L "$e" ] || continue
    n=${e##*/}; s=$1/$n; d=$2/$n
    ign "$n" && continue
    if [ -e "$d" ] || [ -L "$d" ]; then
      if [ -d "$s" ] && [ -d "$d" ]; then
        walk "$s" "$d" || return
      elif [ -f "$s" ] && [ -f "$d" ] && ! cmp -s -- "$s" "$d"; then
        c=1
        [ "$CHECK" = 1 ] && continue
        if [ -L "$s" ] && [ "$F" = no ]; then link "$s" "$d" || return
        else cp -- "$s" "$d" && chmod --reference="$s" -- "$d" || return
        fi
        owned "$d" || return
      fi
      continue
    fi
    c=1
    [ "$CHECK" = 1 ] && continue
    if [ -L "$s" ]; then
      if [ -d "$s" ] && [ "$F" = yes ]; then tree "$s" "$d" || return
      elif [ -e "$s" ] && [ "$F" = no ]; then link "$s" "$d" || return
      elif [ -f "$s" ] && [ "$F" = yes ]; then cat -- "$s" > "$d" && owned "$d" || return
      fi
    elif [ -f "$s" ]; then
      cat -- "$s" > "$d" && chmod --reference="$s" -- "$d" && owned "$d" || return
    elif [ -d "$s" ]; then
      tree "$s" "$d" || return
    fi
  done
}
if [ -e "$D" ] || [ -L "$D" ]; then
  walk "$S" "$D" || exit
elif [ "$CHECK" = 1 ]; then
  c=1
else
  mkdir -p -- "$(dirname -- "$D")" && tree "$S/" "$D" || exit
  c=1
fi
if [ -e "$D" ]; then
  o=
  if [ -n "$O" ] && [ -n "$(find "$D" ! -user "$O" -print | head -n 1)" ]; then o=1; fi
  if [ -n "$G" ] && [ -n "$(find "$D" ! -group "$G" -print | head -n 1)" ]; then o=1; fi
  if [ -n "$o" ]; then
    c=1
    [ "$CHECK" = 1 ] || chown -hR -- "$O${G:+:$G}" "$D" || exit
  fi
fi
[ $c = 0 ] || echo changed
"#;

/// What a `remote_src` directory copy will do.
#[derive(Debug)]
pub struct DirPlan {
    /// `src` as given (the result's).
    src: String,
    /// The source directory, without a trailing `/`.
    from: String,
    /// The directory the tree goes to.
    into: String,
    /// `dest` as ansible-core's module reports it (and sets `mode` on).
    dest: String,
    mode: Option<prov_core::args::Mode>,
}

/// The shell program for `p`, telling only when `check`.
fn program(args: &super::copy::Args, p: &DirPlan, check: bool) -> Sh {
    let follow = match args.local_follow {
        None => "F=none",
        Some(true) => "F=yes",
        Some(false) => "F=no",
    };
    let owner = args.owner.as_deref().unwrap_or_default();
    let group = args.group.as_deref().unwrap_or_default();
    Sh::lit("S=")
        .glued(Sh::quoted(&p.from))
        .then(Sh::lit("D=").glued(Sh::quoted(&p.into)))
        .then(Sh::lit("O=").glued(Sh::quoted(owner)))
        .then(Sh::lit("G=").glued(Sh::quoted(group)))
        .then(Sh::lit(if check { "CHECK=1" } else { "CHECK=0" }))
        .then(Sh::lit(follow))
        .then(Sh::lit(TREE))
}

/// Plans the copy of the target directory `src` (expanded; `given` as written) to `dest`.
/// `sst_mode` is the source's mode (for `mode: preserve`).
pub(crate) async fn plan(
    args: &super::copy::Args,
    src: &str,
    sst_mode: u32,
    cx: &ModuleCtx<'_>,
) -> Result<Plan<DirPlan>, ModuleError> {
    let mode = SourceMode::resolve(&args.mode, || sst_mode);
    let given = args.dest.clone();
    let base = src.trim_end_matches('/').rsplit('/').next().unwrap_or_default();
    // Operands of find (which takes no `--`) never start with `-`.
    let operand = |p: &str| if p.starts_with('/') { p.to_string() } else { format!("./{p}") };
    let from = match src.trim_end_matches('/') {
        "" => "/".to_string(),
        s => operand(s),
    };
    let pst = probe(cx, &given, None, true).await?;
    // `dest/` that does not exist is made first (the copy makes it, with the umask's mode).
    let made = pst.is_none() && given.ends_with('/');
    if made && cx.is_check() {
        let dir = given.trim_end_matches('/');
        return Ok(Plan::Change(
            Change::new(
                DirPlan { src: src.into(), from, into: given.clone(), dest: given.clone(), mode },
                Action::Create,
                "directory",
                given.clone(),
            )
            .with_data("msg", format!("dest directory {dir} would be created"))
            .with_data("src", src),
        ));
    }
    // The reported destination: inside `dest` when it is a directory (under the source's
    // name; `src: dir/` has none, which leaves `dest/`).
    let dest = if made || pst.as_ref().is_some_and(|s| s.kind == Kind::Dir) {
        let name = if src.ends_with('/') { "" } else { base };
        format!("{}/{name}", given.trim_end_matches('/'))
    } else {
        given.clone()
    };
    let into =
        operand(&if src.ends_with('/') { given.clone() } else { format!("{}/{base}", given.trim_end_matches('/')) });
    let st = probe(cx, &dest, None, false).await?;
    match (&st, &pst) {
        (Some(_), _) if !args.force => {
            let o = Outcome::ok().with("msg", "file already exists").with("src", src).with("dest", dest.as_str());
            return Ok(Plan::Ok(with_path_info(o, st.as_ref())));
        }
        (_, Some(p)) if p.kind != Kind::Dir => {
            return Ok(Plan::Ok(Outcome::failed(format!(
                "{given} is not a directory: cannot copy the directory {src} over it"
            ))));
        }
        (None, None) if !made => {
            if let Some(f) = super::copy_remote::missing_parent(cx, &dest).await? {
                return Ok(Plan::Ok(f));
            }
        }
        _ => {}
    }
    let p = DirPlan { src: src.to_string(), from, into, dest: dest.clone(), mode };
    let out = cx.exec(program(args, &p, true)).await?;
    if out.rc != 0 {
        return Err(crate::util::probe_failed(&format!("comparing {src} with {}", p.into), &out));
    }
    let tree_changes = out.stdout_str().trim() == "changed";
    let attrs = Attrs::new(&p.mode, &args.owner, &args.group);
    let changes = st.as_ref().map(|s| attrs.changes(s)).unwrap_or_default();
    let result = |o: Outcome| {
        with_path_info(
            o.with("dest", p.dest.as_str())
                .with("src", p.src.as_str())
                .with("md5sum", minijinja::Value::from(()))
                .with("checksum", minijinja::Value::from(())),
            st.as_ref(),
        )
    };
    if !tree_changes && changes.is_empty() {
        return Ok(Plan::Ok(result(Outcome::ok())));
    }
    let action = if st.is_none() { Action::Create } else { Action::Modify };
    let data = result(Outcome::ok()).data;
    let mut ch = Change::new(p, action, "directory", dest);
    // Check mode registers what the module returns: the destination as it is now.
    ch.data = data;
    Ok(Plan::Change(ch))
}

/// Copies the tree, then sets `mode`, `owner` and `group` on `dest`.
pub(crate) async fn apply(args: &super::copy::Args, p: DirPlan, cx: &ModuleCtx<'_>) -> Result<Outcome, ModuleError> {
    use super::run_step;
    if let Err(f) = run_step(cx, &format!("copying {} to {}", p.src, p.into), program(args, &p, false)).await? {
        return Ok(f);
    }
    let attrs = Attrs::new(&p.mode, &args.owner, &args.group);
    let after = match super::copy_remote::set_attrs(cx, &p.dest, &attrs).await? {
        Ok(after) => after,
        Err(f) => return Ok(f),
    };
    let o = Outcome { changed: true, ..Outcome::ok() }
        .with("dest", p.dest.as_str())
        .with("src", p.src.as_str())
        .with("md5sum", minijinja::Value::from(()))
        .with("checksum", minijinja::Value::from(()));
    Ok(with_path_info(o, after.as_ref()))
}
