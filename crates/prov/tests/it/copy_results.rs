//! `copy` of directories, with `remote_src: true` and with `force: false`, against what
//! ansible-core 2.19.14 registered for the same plays (`results/copy_*.yml`; its results,
//! recorded with `ansible-playbook` on a local host, are the `.json` files beside them, the
//! temporary directory written `@ROOT@`, backup names `@BACKUP@`).
//!
//! `remote_src` copies on the host, as ansible-core's module does it: no diff, the source's
//! mode and times on a replaced file, the umask's mode on a new one. prov copied the file
//! through the controller, registered copy's action-plugin result (a diff, no `src`) and gave
//! a new file the source's mode.

use crate::language::apply;
use crate::util::assert_recorded;
use serde_json::Value as Json;

fn normalize(v: &mut Json, root: &str) {
    match v {
        Json::Object(m) => {
            m.remove("exception");
            // ansible-core's temporary copy on the target, which prov does not make.
            if m.get("src").and_then(Json::as_str).is_some_and(|s| s.contains("/.ansible/tmp/")) {
                m.remove("src");
            }
            if m.contains_key("backup_file") {
                m.insert("backup_file".into(), "@BACKUP@".into());
            }
            m.values_mut().for_each(|x| normalize(x, root));
        }
        Json::Array(a) => a.iter_mut().for_each(|x| normalize(x, root)),
        Json::String(s) => *s = s.replace(root, "@ROOT@"),
        _ => {}
    }
}

/// Runs `play` on a local host and returns what its last `debug` printed, normalized.
pub(crate) fn registered(play: &str, args: &[&str]) -> Vec<Json> {
    let (d, r) = apply(&[("site.yml", play)], args);
    assert_eq!(r.code, 0, "{}", r.dump());
    let shown = r.of("debug").last().and_then(|x| x["msg"].as_str()).expect("debug").to_string();
    let mut got: Json = serde_json::from_str(&shown).expect("JSON");
    normalize(&mut got, &d.path().display().to_string());
    got.as_array().expect("list").clone()
}

/// `copy` of a controller directory (`results/copy_tree.yml`: with and without a trailing `/`,
/// `local_follow`, `directory_mode`, `mode: preserve`, check mode, a directory of one file, one
/// file and an empty directory) registers what ansible-core 2.19.14 registered, with and
/// without `--diff`, and leaves the same tree (the play's last result lists it: type, mode,
/// size, link target). prov refused directories. The second copy of each changes nothing.
#[test]
fn copy_of_a_directory_makes_the_tree_and_registers_as_ansible_core() {
    let play = include_str!("results/copy_tree.yml");
    assert_recorded(&registered(play, &[]), include_str!("results/copy_tree.json"), "t");
    assert_recorded(&registered(play, &["--diff"]), include_str!("results/copy_tree.diff.json"), "t");
}

#[test]
fn copy_remote_src_copies_on_the_host_and_registers_as_ansible_core() {
    let (d, r) = apply(&[("site.yml", include_str!("results/copy_remote_src.yml"))], &[]);
    assert_eq!(r.code, 0, "{}", r.dump());
    let shown = r.of("debug").last().and_then(|x| x["msg"].as_str()).expect("debug").to_string();
    let mut got: Json = serde_json::from_str(&shown).expect("JSON");
    normalize(&mut got, &d.path().display().to_string());
    let expected: Json = serde_json::from_str(include_str!("results/copy_remote_src.json")).expect("recorded JSON");
    let (got, expected) = (got.as_array().expect("list"), expected.as_array().expect("list"));
    assert_eq!(got.len(), expected.len());
    for (i, (g, e)) in got.iter().zip(expected).enumerate() {
        assert_eq!(g, e, "result {}", i + 1);
    }
    // t12 and t13 repeat t1 and t5: nothing left to copy.
    assert_eq!((got[11]["changed"].clone(), got[12]["changed"].clone()), (Json::Bool(false), Json::Bool(false)));
}

/// `force: false` leaves an existing destination alone, its mode included, in `copy` of a
/// file, of `content`, of a directory and in `template`, and registers what ansible-core
/// 2.19.14 registered (`results/copy_force_false.yml`: `dest`, and `src` for a controller
/// file). prov set the new mode on the existing files (a silent difference) and registered
/// the file module's result.
#[test]
fn force_false_leaves_an_existing_file_and_its_mode_alone() {
    let play = include_str!("results/copy_force_false.yml");
    assert_recorded(&registered(play, &[]), include_str!("results/copy_force_false.json"), "t");
}

/// `copy` of a directory on the target (`remote_src: true`; `results/copy_remote_dir.yml`):
/// with and without a trailing `/`, into a new and an existing directory, a file changed and
/// one added since, `mode` on the destination, `force: false`, `local_follow: false`, check
/// mode: the results and the tree are ansible-core 2.19.14's (links kept, or left out of an
/// existing tree, as its module does without `local_follow`). prov refused it at run time.
#[test]
fn copy_remote_src_of_a_directory_copies_the_tree_as_ansible_core() {
    let play = include_str!("results/copy_remote_dir.yml");
    assert_recorded(&registered(play, &[]), include_str!("results/copy_remote_dir.json"), "t");
}

/// `ini_file` registers community.general's `diff` on every result (texts only with
/// `--diff`), and in check mode the path with its attributes, as ansible-core 2.19.14 with
/// community.general (the `ansible` 12.3.0 package) registered them for the same play
/// (`results/ini_file_diff.yml`).
#[test]
fn ini_file_registers_its_diff_and_path_as_community_general() {
    let play = include_str!("results/ini_file_diff.yml");
    assert_recorded(&registered(play, &[]), include_str!("results/ini_file_diff.json"), "i");
    assert_recorded(&registered(play, &["--diff"]), include_str!("results/ini_file_diff.diff.json"), "i");
}

/// A `validate` command that rejects the new file fails the task as each module says it
/// (`results/validate_failed.yml`, recorded under ansible-core 2.19.14): copy and template with
/// the command's exit status and raw output, the line editors with `rc:N error:STDERR` in the
/// message and nothing else. prov reported all five as `failed to validate: err` with `rc`.
#[test]
fn a_rejected_file_is_reported_as_each_module_reports_it() {
    let play = include_str!("results/validate_failed.yml");
    assert_recorded(&registered(play, &[]), include_str!("results/validate_failed.json"), "v");
}
