use super::zip::*;
use super::*;
use crate::testing::*;
use serde_json::json;

fn args(v: serde_json::Value) -> Args {
    prov_core::module::args_from_value(&j(v)).expect("args")
}

// Lines GNU tar 1.34 printed for `tar --diff` against a directory (LC_ALL=C).
#[test]
fn tar_diff_lines_count_as_ansible_core_counts_them() {
    let plain = args(json!({"src": "a.tgz", "dest": "/d"}));
    let with_mode = args(json!({"src": "a.tgz", "dest": "/d", "mode": "0750", "owner": "root"}));
    assert!(tar_differs("tar: top/a.txt: Warning: Cannot stat: No such file or directory", false, &plain));
    assert!(tar_differs("top/a.txt: Contents differ", false, &plain));
    assert!(tar_differs("top/a.txt: Mod time differs\ntop/a.txt: Size differs", false, &plain));
    assert!(tar_differs("top/link: Symlink differs", false, &plain));
    assert!(tar_differs("top/a.txt: Mode differs", false, &plain));
    assert!(!tar_differs("top/a.txt: Mode differs", false, &with_mode), "mode is set anyway");
    assert!(tar_differs("top/a.txt: Uid differs", true, &plain));
    assert!(!tar_differs("top/a.txt: Uid differs", false, &plain), "not root: ownership is not compared");
    assert!(!tar_differs("top/a.txt: Uid differs", true, &with_mode), "owner is set anyway");
    assert!(!tar_differs("tar: : Warning: Cannot stat: No such file or directory", false, &plain));
    assert!(!tar_differs("", false, &plain));
}

// `unzip -Z -T -s` (UnZip 6.00) of the archive the e2e test builds.
const ZIPINFO: &str = "Archive:  /tmp/m3/arch.zip\nZip file size: 814 bytes, number of entries: 5\n\
drwxr-xr-x  3.0 unx        0 bx stor 20261203.183926 top/\n\
lrwxrwxrwx  3.0 unx        5 bx stor 20261203.183926 top/link\n\
-rw-------  3.0 unx        6 tx stor 20261203.183926 top/sub/b.txt\n\
-rw-r--r--  3.0 unx        6 tx stor 20261203.183926 top/a b.txt\n\
5 files, 17 bytes uncompressed, 17 bytes compressed:  0.0%\n";

#[test]
fn zipinfo_lines_give_members_with_their_modes() {
    let m = parse_zipinfo(ZIPINFO);
    assert_eq!(m.len(), 4);
    assert_eq!(m[3].name, "top/a b.txt");
    assert_eq!(zip_mode(&m[0], 0o022), 0o755);
    assert_eq!(zip_mode(&m[2], 0o022), 0o600);
    assert_eq!(m[2].size, 6);
    assert_eq!(zip_time(&m[0].time, 0), Some(1_796_323_166));
    assert_eq!(zip_time(&m[0].time, 3600), Some(1_796_323_166 - 3600));
}

#[test]
fn unzip_v_gives_crcs_and_the_gzip_trailer_reads_back() {
    let v = "Archive:  a.zip\n Length   Method    Size  Cmpr    Date    Time   CRC-32   Name\n--------  ------  ------- ---- ---------- ----- --------  ----\n       6  Stored        6   0% 2026-12-03 18:39 363a3020  top/a b.txt\n";
    assert_eq!(parse_unzip_v(v).get("top/a b.txt"), Some(&0x363a3020));
    let (off, umask, st) = parse_zip_state("tz +0100\numask 0022\nst\ttop/a b.txt\t81a4 6 100 root root 0 0\ncrc\ttop/a b.txt\t 32 48 58 54 6 0 0 0\nmissing\ttop/x\n");
    assert_eq!((off, umask), (3600, 0o022));
    assert_eq!(st["top/a b.txt"].as_ref().and_then(|s| s.crc), Some(0x363a3020));
    assert!(st["top/x"].is_none());
}

#[test]
fn tar_commands_keep_values_out_of_the_options() {
    let a = args(json!({"src": "a.tgz", "dest": "/d", "extra_opts": ["--strip-components=1"],
        "exclude": ["x/", "$(id)"], "owner": "app"}));
    let job =
        Job { a: &a, src: src_word("-evil.tgz").unwrap(), dest: "/d e", gtar: false, handler: Handler::Tar("-z") };
    assert_eq!(
        job.tar("--extract").as_str(),
        "LC_ALL=C tar --extract -C '/d e' -z --show-transformed-names --strip-components=1 --owner=app \
         --exclude=x '--exclude=$(id)' -f ./-evil.tgz"
    );
    let a = args(json!({"src": "a.zip", "dest": "/d", "include": ["a b", "c"]}));
    let job = Job { a: &a, src: src_word("/t/a.zip").unwrap(), dest: "/d", gtar: true, handler: Handler::Zip };
    assert_eq!(job.unzip().unwrap().as_str(), "unzip -o /t/a.zip 'a b' c -d /d");
    assert_eq!(job.tar("--list").as_str(), "LC_ALL=C gtar --list -C /d -f /t/a.zip -- 'a b' c");
    let a = args(json!({"src": "a.zip", "dest": "/d", "exclude": ["-x"]}));
    let job = Job { a: &a, src: src_word("/t/a.zip").unwrap(), dest: "/d", gtar: true, handler: Handler::Zip };
    assert!(job.unzip().is_err());
}

#[test]
fn arguments_ansible_refuses() {
    let bad = |v| Unarchive::check_args(&args(v)).unwrap_err();
    assert!(bad(json!({"src": "a", "dest": "/d", "copy": false, "remote_src": true})).contains("mutually exclusive"));
    assert!(bad(json!({"src": "a", "dest": "/d", "include": ["x"], "exclude": ["y"]})).contains("mutually exclusive"));
    assert!(bad(json!({"src": "https://x/a.zip", "dest": "/d", "remote_src": true})).contains("get_url"));
    assert!(args(json!({"src": "a", "dest": "/d", "copy": "no"})).remote());
}

#[tokio::test]
async fn creates_skips_before_anything_else() {
    let h = fake(prov_core::testutil::FakeConnection::new().on("[ -e /opt/x ]", 0, ""));
    let o = run::<Unarchive>(json!({"src": "a.tgz", "dest": "/opt", "creates": "/opt/x"}), &h.ctx()).await;
    assert!(o.skipped && !o.changed, "{o:?}");
    assert_eq!(o.msg.as_deref(), Some("skipped, since /opt/x exists"));
    assert_eq!(h.conn.calls().len(), 1);
}

/// A tar.gz made here, unpacked here: skipped in check mode, changed, then unchanged; a mode
/// change is a change.
#[tokio::test]
async fn local_tar_round_trip() {
    let mut h = LocalHost::new();
    let src = h.path("src");
    std::fs::create_dir_all(format!("{src}/top/sub")).unwrap();
    std::fs::write(format!("{src}/top/a.txt"), "a\n").unwrap();
    std::fs::write(format!("{src}/top/sub/b.txt"), "b\n").unwrap();
    let st = std::process::Command::new("tar").args(["czf", &h.path("a.tgz"), "-C", &src, "top"]).status().unwrap();
    assert!(st.success());
    let dest = h.path("dest");
    std::fs::create_dir(&dest).unwrap();
    h.mode.check = prov_core::module::CheckMode::Check;
    let o = run::<Unarchive>(json!({"src": "a.tgz", "dest": dest}), &h.ctx()).await;
    // ansible-core's gtar handler skips the task in check mode.
    assert!(o.skipped && !o.changed && !o.failed, "{o:?}");
    assert!(!std::path::Path::new(&format!("{dest}/top")).exists(), "check mode unpacks nothing");
    h.mode.check = prov_core::module::CheckMode::Apply;
    let o = run::<Unarchive>(json!({"src": "a.tgz", "dest": dest, "list_files": true}), &h.ctx()).await;
    assert!(o.changed && !o.failed, "{o:?}");
    assert_eq!(o.data["handler"].to_string(), "TgzArchive");
    assert_eq!(std::fs::read_to_string(format!("{dest}/top/sub/b.txt")).unwrap(), "b\n");
    let o = run::<Unarchive>(json!({"src": "a.tgz", "dest": dest}), &h.ctx()).await;
    assert!(!o.changed && !o.failed, "{o:?}");
    let o = run::<Unarchive>(json!({"src": "a.tgz", "dest": dest, "mode": "0700"}), &h.ctx()).await;
    assert!(o.changed && !o.failed, "{o:?}");
    let o = run::<Unarchive>(json!({"src": "a.tgz", "dest": dest, "mode": "0700"}), &h.ctx()).await;
    assert!(!o.changed && !o.failed, "{o:?}");
    let leftovers = h.conn.log.lock().unwrap().iter().filter(|l| l.starts_with("put ")).count();
    assert!(leftovers >= 2);
}

#[tokio::test]
async fn without_unzip_or_gnu_tar_the_task_fails_naming_the_tools() {
    let probe = "dest 755 root root 0 0 4096\nrun 0 root root\n\
reason Unable to find required 'unzip' or 'zipinfo' binary in the path.\n\
reason Unable to find required 'gtar' or 'tar' binary in the path\n";
    let h = fake(prov_core::testutil::FakeConnection::new().on("S=", 0, probe));
    let o = run::<Unarchive>(json!({"src": "/t/a.zip", "dest": "/d", "remote_src": true}), &h.ctx()).await;
    assert!(o.failed && !o.changed, "{o:?}");
    assert_eq!(
        o.msg.as_deref(),
        Some(
            "Failed to find handler for \"/t/a.zip\". Make sure the required command to extract the file is installed.\n\
Unable to find required 'unzip' or 'zipinfo' binary in the path.\n\
Unable to find required 'gtar' or 'tar' binary in the path"
        )
    );
    let h = fake(prov_core::testutil::FakeConnection::new().on("S=", 0, "dest 755 root root 0 0 4096\nsrc missing\n"));
    let o = run::<Unarchive>(json!({"src": "/t/a.zip", "dest": "/d", "remote_src": true}), &h.ctx()).await;
    assert_eq!(o.msg.as_deref(), Some("Source '/t/a.zip' does not exist"));
    let h = fake(prov_core::testutil::FakeConnection::new().on("S=", 0, "dest 755 root root 0 0 4096\nsrc empty\n"));
    let o = run::<Unarchive>(json!({"src": "/t/a.zip", "dest": "/d", "copy": false}), &h.ctx()).await;
    assert_eq!(o.msg.as_deref(), Some("Invalid archive '/t/a.zip', the file is 0 bytes"));
}

#[test]
fn a_zip_member_differs_as_ansible_core_compares_it() {
    let m = &parse_zipinfo(ZIPINFO)[3];
    let crcs = parse_unzip_v("       6  Stored        6   0% 2026-12-03 18:39 363a3020  top/a b.txt\n");
    let zcx =
        ZipCx { offset: 0, umask: 0o022, keep_newer: false, mode: None, owner: "root".into(), group: "root".into() };
    let same = TargetState {
        raw_mode: 0o100644,
        size: 6,
        mtime: 1_796_323_166,
        owner: "root".into(),
        group: "root".into(),
        uid: 0,
        gid: 0,
        crc: Some(0x363a3020),
    };
    assert!(!zip_member_differs(m, &same, &crcs, &zcx));
    let differs = |f: &dyn Fn(&mut TargetState)| {
        let mut st = TargetState { owner: same.owner.clone(), group: same.group.clone(), ..same };
        f(&mut st);
        zip_member_differs(m, &st, &crcs, &zcx)
    };
    assert!(differs(&|s| s.crc = Some(1)), "contents");
    assert!(differs(&|s| s.size = 7), "size");
    assert!(differs(&|s| s.mtime += 1), "modification time");
    assert!(differs(&|s| s.raw_mode = 0o100600), "permissions");
    assert!(differs(&|s| s.raw_mode = 0o040755), "type");
    assert!(differs(&|s| s.owner = "app".into()), "owner");
}
