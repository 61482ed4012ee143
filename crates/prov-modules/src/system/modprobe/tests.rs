use super::*;
use crate::testing::*;
use prov_core::module::args_from_value;
use prov_core::testutil::{FakeConnection, TestHost};
use serde_json::json;

fn args(v: serde_json::Value) -> Args {
    let a: Args = args_from_value(&j(v)).expect("arguments");
    Modprobe::check_args(&a).expect("valid arguments");
    a
}

fn file(path: &str, text: &str) -> BootFile {
    BootFile { path: path.into(), mode: 0o644, text: text.into() }
}

/// The boot files of the differential test, before.
fn seeded() -> Probe {
    Probe {
        has_modprobe: true,
        release: "6.1.0".into(),
        proc_modules: Some("dummy 16384 0 - Live 0x0\nloop 1 0 - Live 0x0\n".into()),
        builtin: Some("kernel/drivers/block/brd.ko\n".into()),
        files: vec![
            file("/etc/modules-load.d/modules.conf", "# comment\ndummy\n loop  # c\n"),
            file(
                "/etc/modprobe.d/old.conf",
                "options dummy numdummies=1\noptions loop max_loop=8\noptions dummy other=x # c\nblacklist foo\n",
            ),
        ],
    }
}

/// The probe's output for `p`.
fn output(p: &Probe) -> String {
    let mut s = format!("release\0{}\0", p.release);
    if let Some(m) = &p.proc_modules {
        s.push_str(&format!("proc\0{m}\0"));
    }
    if let Some(b) = &p.builtin {
        s.push_str(&format!("builtin\0{b}\0"));
    }
    for f in &p.files {
        s.push_str(&format!("file\0{}\0{:o}\0{}\0", f.path, f.mode, f.text));
    }
    s
}

fn apply_writes(p: &mut Probe, writes: Vec<(String, String, Option<u32>)>) {
    for (path, text, _) in writes {
        match p.files.iter_mut().find(|f| f.path == path) {
            Some(f) => f.text = text,
            None => p.files.push(file(&path, &text)),
        }
    }
}

// The expected files are what community.general.modprobe (ansible 12.3) wrote for the same files
// and tasks, in a mount namespace whose /proc/modules listed dummy and loop.
#[test]
fn boot_files_are_written_as_ansible_writes_them() {
    let mut p = seeded();
    let a = args(json!({"name": "dummy", "params": "numdummies=2", "persistent": "present"}));
    let w = persistence(&p, &a, "numdummies=2");
    assert_eq!(
        w,
        [
            (
                "/etc/modprobe.d/old.conf".to_string(),
                "#options dummy numdummies=1\n\noptions loop max_loop=8\n\n#options dummy other=x # c\n\nblacklist foo\n"
                    .to_string(),
                Some(0o644)
            ),
            ("/etc/modprobe.d/dummy.conf".to_string(), "options dummy numdummies=2\n".to_string(), None),
        ]
    );
    apply_writes(&mut p, w);
    assert!(persistence(&p, &a, "numdummies=2").is_empty(), "the second run writes nothing");
    let a = args(json!({"name": "loop", "persistent": "absent"}));
    let w = persistence(&p, &a, "");
    apply_writes(&mut p, w);
    let a = args(json!({"name": "newmod", "params": "a=1 b=2", "persistent": "present"}));
    let w = persistence(&p, &a, "a=1 b=2");
    apply_writes(&mut p, w);
    let text = |path: &str| p.files.iter().find(|f| f.path == path).map(|f| f.text.clone()).unwrap_or_default();
    assert_eq!(text("/etc/modules-load.d/modules.conf"), "# comment\n\ndummy\n\n# loop  # c\n");
    assert_eq!(
        text("/etc/modprobe.d/old.conf"),
        "#options dummy numdummies=1\n\n\n\n#options loop max_loop=8\n\n\n\n#options dummy other=x # c\n\n\n\nblacklist foo\n"
    );
    assert_eq!(text("/etc/modules-load.d/newmod.conf"), "newmod\n");
    assert_eq!(text("/etc/modprobe.d/newmod.conf"), "options newmod a=1\noptions newmod b=2\n");
    assert!(persistence(&p, &args(json!({"name": "loop", "persistent": "absent"})), "").is_empty());
}

#[test]
fn lines_are_read_as_ansibles_patterns_read_them() {
    assert!(names_module("  dummy  ; c\n", "dummy") && names_module("dummy", "dummy"));
    assert!(!names_module("dummy2\n", "dummy") && !names_module("\tdummy\n", "dummy"));
    assert_eq!(option_of("options d a=1 # c\n", "d").as_deref(), Some("a=1"));
    assert_eq!(option_of("options d a=b#c\n", "d").as_deref(), Some("a=b#c"));
    assert_eq!(option_of("options d a=b#c d\n", "d").as_deref(), Some("a=b"), "the comment starts at the `#`");
    assert_eq!(option_of("options d a=1 b=2\n", "d"), None, "one option a line");
    assert_eq!(option_of("options d =1\n", "d"), None);
    assert_eq!(option_of("options  d a=1\n", "d"), None);
}

#[test]
fn a_module_is_loaded_when_the_kernel_lists_it_or_has_it_built_in() {
    let p = seeded();
    assert_eq!(loaded(&p, "loop"), Ok(true));
    assert_eq!(loaded(&p, "brd"), Ok(true));
    assert_eq!(loaded(&p, "lo"), Ok(false));
    let p = Probe { proc_modules: Some("br_netfilter 1 0\n".into()), ..seeded() };
    assert_eq!(loaded(&p, "br-netfilter"), Ok(true));
    let p = Probe { proc_modules: None, ..seeded() };
    assert_eq!(loaded(&p, "x").unwrap_err(), "[Errno 2] No such file or directory: '/proc/modules'");
    let p = Probe { builtin: None, ..seeded() };
    assert_eq!(
        loaded(&p, "x").unwrap_err(),
        "[Errno 2] No such file or directory: '/lib/modules/6.1.0/modules.builtin'"
    );
    assert_eq!(parse_probe(output(&seeded()).as_bytes()), Ok(seeded()));
    assert!(!parse_probe(b"nomodprobe\0").unwrap().has_modprobe);
}

#[tokio::test]
async fn loading_runs_modprobe_with_the_name_and_params_as_operands() {
    let h = fake(FakeConnection::new().on("command -v modprobe", 0, &output(&seeded())));
    let o = run::<Modprobe>(json!({"name": "-x", "params": "a=1 'b=2 3'"}), &h.ctx()).await;
    assert!(!o.changed && !o.failed, "not listed afterwards: no change, as Ansible: {o:?}");
    assert_eq!(h.conn.calls()[1], "modprobe -- -x a=1 'b=2 3'");
    assert_eq!(o.data["params"].as_str(), Some("a=1 'b=2 3'"));
    let h = fake(FakeConnection::new().on("command -v modprobe", 0, &output(&seeded())));
    let o = run::<Modprobe>(json!({"name": "loop", "state": "absent"}), &h.ctx()).await;
    assert!(o.changed, "{o:?}");
    assert_eq!(h.conn.calls()[1], "modprobe -r -- loop");
    assert_eq!(h.conn.calls().len(), 2);
}

#[tokio::test]
async fn check_mode_runs_a_dry_run_and_writes_nothing() {
    let h = fake_check(FakeConnection::new().on("command -v modprobe", 0, &output(&seeded())));
    let a = json!({"name": "newmod", "params": "a=1", "persistent": "present"});
    let o = run::<Modprobe>(a, &h.ctx()).await;
    assert!(o.changed && !o.failed, "{o:?}");
    assert_eq!(h.conn.calls()[1..], ["modprobe -n -- newmod a=1"]);
    assert!(h.conn.files.lock().unwrap().is_empty());
    assert_eq!(o.diffs.len(), 2);
    let h = fake_check(
        FakeConnection::new()
            .on("command -v modprobe", 0, &output(&seeded()))
            .on("modprobe -n", 1, "")
            .on("modprobe", 0, ""),
    );
    let o = run::<Modprobe>(json!({"name": "nosuch"}), &h.ctx()).await;
    assert!(o.failed && o.data["rc"].as_i64() == Some(1), "{o:?}");
}

#[tokio::test]
async fn boot_files_are_put_with_their_mode() {
    let mut seeded = seeded();
    seeded.files[1].mode = 0o600;
    let h = TestHost::new(FakeConnection::new().on("command -v modprobe", 0, &output(&seeded)));
    let o = run::<Modprobe>(json!({"name": "dummy", "persistent": "absent"}), &h.ctx()).await;
    assert!(o.changed, "{o:?}");
    let files = h.conn.files.lock().unwrap();
    assert_eq!(files["/etc/modules-load.d/modules.conf"].1, Some(0o644));
    assert_eq!(files["/etc/modprobe.d/old.conf"].1, Some(0o600));
    assert!(h.conn.calls().contains(&"mkdir -p -- /etc/modules-load.d /etc/modprobe.d".to_string()));
}

#[test]
fn arguments_are_checked_before_connecting() {
    let check = |v: serde_json::Value| args_from_value::<Args>(&j(v)).and_then(|a| Modprobe::check_args(&a));
    assert!(check(json!({"name": "dummy", "params": "numdummies=2", "persistent": "present"})).is_ok());
    for bad in ["../x", "a b", ""] {
        assert!(check(json!({"name": bad})).is_err(), "{bad:?}");
    }
    assert!(check(json!({"name": "d", "params": "'open"})).unwrap_err().contains("quotation"));
    assert!(check(json!({"name": "d", "persistent": "yes"})).unwrap_err().contains("unknown variant"));
    assert!(check(json!({"name": "d", "nope": 1})).unwrap_err().contains("unknown field"));
}
