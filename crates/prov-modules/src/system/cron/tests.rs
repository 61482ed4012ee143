use super::*;
use crate::testing::*;
use prov_core::connection::{Become, Connection, ConnectionError, ExecOutput, ExecRequest};
use prov_core::module::args_from_value;
use prov_core::testutil::{FakeConnection, TestHost};
use serde_json::json;
use std::sync::Mutex;

/// A scripted connection that also keeps what each command got on standard input.
#[derive(Default)]
struct StdinConn {
    fake: FakeConnection,
    stdin: Mutex<Vec<(String, String)>>,
}

#[async_trait]
impl Connection for StdinConn {
    async fn exec(&self, req: ExecRequest) -> Result<ExecOutput, ConnectionError> {
        if let Some(s) = &req.stdin {
            let text = String::from_utf8(s.clone()).expect("text");
            self.stdin.lock().expect("lock").push((req.command.clone(), text));
        }
        self.fake.exec(req).await
    }
    async fn put(&self, path: &str, data: &[u8], mode: Option<u32>, b: Option<&Become>) -> Result<(), ConnectionError> {
        self.fake.put(path, data, mode, b).await
    }
    async fn get(&self, path: &str, b: Option<&Become>) -> Result<Option<Vec<u8>>, ConnectionError> {
        self.fake.get(path, b).await
    }
}

fn args(v: serde_json::Value) -> Args {
    let a: Args = args_from_value(&j(v)).expect("arguments");
    Cron::check_args(&a).expect("valid arguments");
    a
}

/// The crontab text after the edit, and whether it changed.
fn ed(text: &str, v: serde_json::Value) -> (String, bool) {
    let e = edit(split(text), text, &args(v)).expect("no failure");
    (render(&e.lines), e.changed)
}

/// The crontab the differential test starts from (no final newline).
const START: &str = "SHELL=/bin/sh\nOLDVAR=1\n#Ansible: old\n0 1 * * * /bin/old\n#Ansible: gone\n* * * * * /bin/gone\n5 4 * * * /bin/adopt\n# plain comment";

// Every expected text below is what ansible.builtin.cron (ansible-core 2.19) wrote for the same
// crontab and arguments.
#[test]
fn jobs_are_added_updated_adopted_and_removed_as_ansible_does() {
    let (t, c) = ed(START, json!({"name": "check dirs", "minute": "0", "hour": "5,2", "job": "ls -alh > /dev/null"}));
    assert!(c);
    assert_eq!(t, format!("{START}\n#Ansible: check dirs\n0 5,2 * * * ls -alh > /dev/null\n"));
    let (t, _) = ed(START, json!({"name": "old", "minute": 30, "job": "/bin/old"}));
    assert_eq!(t, START.replace("0 1 * * * /bin/old", "30 * * * * /bin/old") + "\n");
    let (t, _) = ed(START, json!({"name": "adopt", "minute": 5, "hour": 4, "job": "/bin/adopt"}));
    assert_eq!(t, START.replace("5 4 * * * /bin/adopt", "#Ansible: adopt\n5 4 * * * /bin/adopt") + "\n");
    let (t, _) = ed(START, json!({"name": "gone", "state": "absent"}));
    assert_eq!(t, START.replace("#Ansible: gone\n* * * * * /bin/gone\n", "") + "\n");
    let (t, _) = ed(START, json!({"name": false, "job": "/bin/off", "disabled": true, "weekday": 1, "dom": 2}));
    assert!(t.ends_with("#Ansible: False\n#* * 2 * 1 /bin/off\n"), "a YAML boolean name is Python's str(): {t}");
    let (t, _) = ed("", json!({"name": "true", "job": true}));
    assert_eq!(t, "#Ansible: true\n* * * * * True\n", "a quoted `true` stays as written");
    let (t, _) = ed("", json!({"name": "boot", "special_time": "reboot", "job": "/some/job.sh\n"}));
    assert_eq!(t, "#Ansible: boot\n@reboot /some/job.sh\n");
    let f = json!({"name": "d", "special_time": "daily", "job": "/bin/d", "user": "nobody", "cron_file": "x"});
    assert_eq!(ed("", f).0, "#Ansible: d\n@daily nobody /bin/d\n");
}

#[test]
fn the_same_job_changes_only_a_missing_final_newline() {
    let done = format!("{START}\n");
    assert_eq!(ed(START, json!({"name": "old", "minute": 0, "hour": 1, "job": "/bin/old"})), (done.clone(), true));
    assert_eq!(ed(&done, json!({"name": "old", "minute": 0, "hour": 1, "job": "/bin/old"})), (done.clone(), false));
    assert_eq!(ed(&done, json!({"name": "never", "state": "absent"})), (done, false));
}

#[test]
fn every_marker_of_the_name_is_rewritten_and_the_line_after_a_foreign_marker_is_not_a_job() {
    let text = "#Ansible: a\n1 * * * * x\n#Ansible: a\n2 * * * * y\n";
    assert_eq!(ed(text, json!({"name": "a", "job": "z"})).0, "#Ansible: a\n* * * * * z\n#Ansible: a\n* * * * * z\n");
    // The line after another job's marker is never read as a marker, and a line equal to the
    // job under a marker is not taken over: the job is added again.
    let text = "#Ansible: b\n#Ansible: a\n* * * * * z\n";
    assert_eq!(ed(text, json!({"name": "a", "job": "z"})).0, format!("{text}#Ansible: a\n* * * * * z\n"));
    // A line equal to the job under a `#Ansible: None` marker is taken over.
    assert_eq!(ed("#Ansible: None\n* * * * * z\n", json!({"name": "n", "job": "z"})).0, "#Ansible: n\n* * * * * z\n");
}

#[test]
fn variables_go_on_top_after_or_before_another_and_are_replaced_everywhere() {
    let (t, _) = ed(START, json!({"name": "PATH", "env": true, "job": "/opt/bin"}));
    assert_eq!(t, format!("PATH=\"/opt/bin\"\n{START}\n"));
    let (t, _) = ed(&t, json!({"name": "APP_HOME", "env": "yes", "value": "/srv/app", "insertafter": "PATH"}));
    let (t, _) = ed(&t, json!({"name": "FIRST", "env": true, "value": 1, "insertbefore": "SHELL"}));
    assert!(t.starts_with("PATH=\"/opt/bin\"\nAPP_HOME=\"/srv/app\"\nFIRST=\"1\"\nSHELL=/bin/sh\nOLDVAR=1\n"), "{t}");
    let (t, _) = ed(&t, json!({"name": "OLDVAR", "env": true, "state": "absent"}));
    assert!(!t.contains("OLDVAR"));
    assert_eq!(ed("A=1\nx\nA=2\n", json!({"name": "A", "env": true, "job": "3"})).0, "A=\"3\"\nx\nA=\"3\"\n");
    let a = args(json!({"name": "N", "env": true, "job": "x", "insertafter": "NOPE"}));
    assert_eq!(edit(Vec::new(), "", &a).unwrap_err(), "Variable named 'NOPE' not found.");
    let names = split("PATH=\"/opt/bin\"\n#Ansible: j\n*/5 * * * * a=b\n#c=1\nX =1\n==\n");
    assert_eq!(env_names(&names), ["PATH", "#c", ""]);
    assert_eq!(job_names(&names), ["j"]);
}

#[test]
fn header_lines_of_crontab_l_are_not_part_of_the_crontab() {
    let out = "# DO NOT EDIT THIS FILE - edit the master and reinstall.\n# (/tmp/crontab.x installed on Thu Dec  3 2026)\n# (Cron version -- $Id: crontab.c$)\nA=1\n# (a version)\n";
    let (text, lines) = strip_headers(out);
    assert_eq!(text, "A=1\n# (a version)\n");
    assert_eq!(lines, ["A=1", "# (a version)"], "only among the first three lines");
    assert_eq!(split("a\r\nb\rc\n\nd"), ["a", "b", "c", "", "d"]);
    assert_eq!(render(&split("a\n\n\n")), "a\n");
}

#[tokio::test]
async fn a_user_crontab_is_read_with_crontab_l_and_written_whole_on_standard_input() {
    let conn = StdinConn { fake: FakeConnection::new().on("if [", 0, "A=1\n"), ..Default::default() };
    let h = TestHost::new(conn);
    let o = run::<Cron>(json!({"name": "j", "job": "echo $(id) 'x'", "user": "a pp"}), &h.ctx()).await;
    assert!(o.changed && !o.failed, "{o:?}");
    let calls = h.conn.fake.calls();
    assert_eq!(
        calls,
        [
            "if [ \"$(id -un)\" = 'a pp' ]; then crontab -l; else crontab -u 'a pp' -l; fi",
            "if [ \"$(id -un)\" = 'a pp' ]; then crontab -; else crontab -u 'a pp' -; fi",
        ]
    );
    let stdin = h.conn.stdin.lock().unwrap().clone();
    assert_eq!(stdin.len(), 1);
    assert_eq!(stdin[0].1, "A=1\n#Ansible: j\n* * * * * echo $(id) 'x'\n", "the job travels on stdin only");
    assert_eq!(o.data["jobs"].to_string(), "['j']");
    assert_eq!(o.data["envs"].to_string(), "['A']");
}

#[tokio::test]
async fn check_mode_only_reads_and_shows_ansibles_diff() {
    let h = fake_check(FakeConnection::new().on("crontab -l", 1, ""));
    let o = run::<Cron>(json!({"name": "j", "job": "x"}), &h.ctx()).await;
    assert!(o.changed && !o.failed, "{o:?}");
    assert_eq!(h.conn.calls(), ["crontab -l"]);
    assert_eq!(o.diffs.len(), 1);
    assert_eq!((o.diffs[0].header.as_str(), o.diffs[0].before.as_str()), ("crontab", ""));
    assert_eq!(o.diffs[0].after, "#Ansible: j\n* * * * * x\n");
}

#[tokio::test]
async fn a_backup_is_a_temporary_file_with_the_old_crontab() {
    let conn = StdinConn {
        fake: FakeConnection::new().on("crontab -l", 0, "old\n").on("F=$(mktemp", 0, "/tmp/crontabAbCdEfGh"),
        ..Default::default()
    };
    let h = TestHost::new(conn);
    let o = run::<Cron>(json!({"name": "j", "job": "x", "backup": true}), &h.ctx()).await;
    assert_eq!(o.data["backup_file"].as_str(), Some("/tmp/crontabAbCdEfGh"));
    let stdin = h.conn.stdin.lock().unwrap().clone();
    assert_eq!(
        stdin[0],
        ("F=$(mktemp -t crontabXXXXXXXX) && cat > \"$F\" && printf '%s' \"$F\"".into(), "old\n".into())
    );
    assert_eq!(stdin[1], ("crontab -".into(), "old\n#Ansible: j\n* * * * * x\n".into()));
}

#[tokio::test]
async fn failures_say_what_ansible_says() {
    let h = fake(FakeConnection::new().on("crontab -l", 127, ""));
    let o = run::<Cron>(json!({"name": "j", "job": "x"}), &h.ctx()).await;
    assert_eq!(o.msg.as_deref(), Some("Failed to find required executable \"crontab\""));
    let h = fake(FakeConnection::new().on("crontab -l", 2, ""));
    assert_eq!(
        run::<Cron>(json!({"name": "j", "job": "x"}), &h.ctx()).await.msg.as_deref(),
        Some("Unable to read crontab")
    );
    let h = fake(FakeConnection::new().on("crontab -l", 1, "").on("crontab -", 1, ""));
    let o = run::<Cron>(json!({"name": "j", "job": "x"}), &h.ctx()).await;
    assert!(o.failed && o.msg.as_deref() == Some("Failed to install new cronfile"), "{o:?}");
    assert_eq!(o.data["rc"].as_i64(), Some(1));
}

#[tokio::test]
async fn a_cron_file_is_written_in_place_and_removed_with_its_last_job() {
    let h = LocalHost::new();
    let p = h.path("cron.d/job");
    let a = json!({"name": "n", "user": "root", "minute": 1, "job": "/bin/x", "cron_file": p});
    let o = run::<Cron>(a.clone(), &h.ctx()).await;
    assert!(o.changed && !o.failed, "{o:?}");
    assert_eq!(std::fs::read_to_string(&p).unwrap(), "#Ansible: n\n1 * * * * root /bin/x\n");
    let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&p).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o644, "as Ansible's umask 022 makes it");
    assert_eq!(o.data["cron_file"].as_str(), Some(p.as_str()));
    let o = run::<Cron>(a, &h.ctx()).await;
    assert!(!o.changed, "{o:?}");
    let o = run::<Cron>(json!({"name": "n", "state": "absent", "cron_file": p}), &h.ctx()).await;
    assert!(o.changed && !std::path::Path::new(&p).exists(), "{o:?}");
    assert_eq!(o.data["state"].as_str(), Some("absent"));
    assert!(o.data.get("jobs").is_none());
    let o = run::<Cron>(json!({"name": "n", "state": "absent", "cron_file": p}), &h.ctx()).await;
    assert!(!o.changed, "{o:?}");
    assert_eq!(cron_path("x"), "/etc/cron.d/x");
}

#[test]
fn arguments_ansible_refuses_are_refused_before_connecting() {
    let check = |v: serde_json::Value| args_from_value::<Args>(&j(v)).and_then(|a| Cron::check_args(&a));
    let refused = [
        (json!({"name": "a"}), "You must specify 'job' to install a new cron job or variable"),
        (
            json!({"name": "a", "job": "x", "cron_file": "f"}),
            "To use cron_file=... parameter you must specify user=... as well",
        ),
        (
            json!({"name": "a", "job": "x", "special_time": "daily", "hour": 1}),
            "You cannot combine special_time with any of the time or day/date parameters.",
        ),
        (
            json!({"name": "a", "job": "x", "insertafter": "B"}),
            "Insertafter and insertbefore parameters are valid only with env=yes",
        ),
        (
            json!({"name": "a", "job": "x", "env": true, "insertafter": "B", "insertbefore": "C"}),
            "parameters are mutually exclusive: insertafter|insertbefore",
        ),
        (json!({"name": "a b", "job": "x", "env": true}), "Invalid name for environment variable"),
        (
            json!({"name": "a", "state": "absent", "cron_file": "/etc/crontab"}),
            "Will not manage /etc/crontab via cron_file, see documentation.",
        ),
    ];
    for (v, msg) in refused {
        assert_eq!(check(v.clone()).unwrap_err(), msg, "{v}");
    }
    assert!(check(json!({"name": "a", "job": "x\ny"})).unwrap_err().contains("line break"));
    assert!(check(json!({"name": "a", "job": "x", "special_time": "sometimes"}))
        .unwrap_err()
        .contains("unknown variant"));
    assert!(check(json!({"name": "a", "job": "x", "nope": 1})).unwrap_err().contains("unknown field"));
    assert!(check(json!({"name": "a", "state": "absent", "cron_file": "f"})).is_ok(), "absent needs no user");
    assert!(check(json!({"name": "a", "job": "x\n", "special_time": "daily", "hour": "*"})).is_ok());
}
