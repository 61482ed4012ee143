//! End-to-end over real SSH: `prov` against a [`Lab`] of private sshd hosts on 127.0.1.x.

use crate::util::{copy_tree, prov, prov_peak_rss, repo, text};
use prov_testkit::Lab;
use serde_json::Value as Json;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A work directory with the loopback example and the lab's inventory as `hosts.ini`.
fn example_workdir(lab: &Lab) -> tempfile::TempDir {
    let work = tempfile::tempdir().expect("tempdir");
    copy_tree(&repo().join("examples/loopback"), work.path());
    std::fs::copy(lab.inventory(), work.path().join("hosts.ini")).expect("inventory");
    work
}

/// An empty work directory with the lab's inventory as `hosts.ini`.
fn lab_workdir(lab: &Lab) -> tempfile::TempDir {
    let work = tempfile::tempdir().expect("tempdir");
    std::fs::copy(lab.inventory(), work.path().join("hosts.ini")).expect("inventory");
    work
}

/// The lab's inventory line, the user it names, and the line without `ansible_user`.
fn lab_user(lab: &Lab) -> (String, String, String) {
    let line = lab.host_lines();
    let user = line
        .split_whitespace()
        .find_map(|w| w.strip_prefix("ansible_user="))
        .expect("the lab's inventory names its user")
        .to_string();
    let without_user: String =
        line.split_whitespace().filter(|w| !w.starts_with("ansible_user=")).collect::<Vec<_>>().join(" ");
    (line, user, without_user)
}

fn ssh_args<'a>(lab_kh: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec!["-i", "hosts.ini", "--known-hosts", lab_kh];
    v.extend_from_slice(extra);
    v
}

/// Parses newline-delimited JSON events; every line must be an object with an `event`.
fn events(stdout: &str) -> Vec<Json> {
    stdout
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: Json = serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"));
            assert!(v.get("event").and_then(Json::as_str).is_some(), "event without a type: {l}");
            v
        })
        .collect()
}

/// The recap event's per-host counters.
fn recap(events: &[Json]) -> Vec<Json> {
    let r = events.iter().rev().find(|e| e["event"] == "recap").expect("a recap event");
    r["hosts"].as_array().expect("recap hosts").clone()
}

fn count(recap: &[Json], host: &str, field: &str) -> u64 {
    let h = recap.iter().find(|h| h["host"] == host).unwrap_or_else(|| panic!("{host} in recap"));
    h[field].as_u64().expect("a counter")
}

#[test]
fn example_on_twenty_hosts_converges_then_changes_nothing() {
    let lab = Lab::start(20).expect("lab (needs openssh-server)");
    let work = example_workdir(&lab);
    let kh = lab.known_hosts().display().to_string();
    let junit = work.path().join("report.xml");
    let junit_s = junit.display().to_string();

    // First run: everything is created.
    let out = prov(
        work.path(),
        &[&["apply", "site.yml"][..], &ssh_args(&kh, &["--output", "json", "--junit", &junit_s])].concat(),
    );
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "first run failed:\n{stdout}\n{stderr}");
    let ev = events(&stdout);
    let r = recap(&ev);
    assert_eq!(r.len(), 20);
    for h in &lab.hosts {
        assert!(count(&r, &h.name, "changed") >= 6, "{} changed too little: {r:?}", h.name);
        assert_eq!(count(&r, &h.name, "failed"), 0);
        assert_eq!(count(&r, &h.name, "unreachable"), 0);
        assert_eq!(count(&r, &h.name, "rescued"), 1, "the block's rescue ran on {}", h.name);
        let conf = std::fs::read_to_string(h.root.join("srv/app/etc/app.conf")).expect("app.conf written");
        assert!(conf.contains(&format!("# demo on {} (managed by prov)", h.name)), "{conf}");
        assert!(conf.contains("port=8080\nfeature.cache=true\nfeature.metrics=false\n"), "{conf}");
        let users = std::fs::read_to_string(h.root.join("srv/app/etc/users")).expect("users");
        assert_eq!(users, "user=alice\nuser=bob\n");
        assert!(h.root.join("srv/app/log/reloaded").exists(), "handler ran on {}", h.name);
        assert!(!h.root.join("srv/app/etc/metrics").exists(), "`when` skipped metrics");
    }
    // Every per-host result has the documented fields.
    let results: Vec<&Json> = ev.iter().filter(|e| e["event"] == "host_result").collect();
    assert!(results.len() >= 20 * 10);
    for r in &results {
        for f in ["host", "name", "module", "status", "changed", "duration_ms"] {
            assert!(r.get(f).is_some(), "host_result without {f}: {r}");
        }
    }
    // The JUnit file parses and has one testcase per host result.
    let xml = std::fs::read_to_string(&junit).expect("junit written");
    let doc = roxmltree::Document::parse(&xml).expect("JUnit is well-formed XML");
    let cases = doc.descendants().filter(|n| n.has_tag_name("testcase")).count();
    assert_eq!(cases, results.len());
    // Failures in JUnit are exactly the failed results of the stream (here: the probe the
    // block rescues, once per host).
    let failed = results.iter().filter(|r| r["status"] == "failed" || r["status"] == "unreachable").count();
    assert_eq!(failed, 20);
    assert_eq!(doc.root_element().attribute("failures"), Some(failed.to_string().as_str()));
    assert_eq!(doc.descendants().filter(|n| n.has_tag_name("failure")).count(), failed);

    // Second run: nothing to do.
    let out = prov(work.path(), &[&["apply", "site.yml"][..], &ssh_args(&kh, &["--output", "json"])].concat());
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "second run failed:\n{stdout}\n{stderr}");
    let r = recap(&events(&stdout));
    for h in &lab.hosts {
        assert_eq!(count(&r, &h.name, "changed"), 0, "second run changed {}: {r:?}", h.name);
    }

    // Check + diff with a new port: the template diff is shown, nothing is written.
    let before = std::fs::read_to_string(lab.hosts[0].root.join("srv/app/etc/app.conf")).expect("conf");
    let out = prov(
        work.path(),
        &[&["apply", "site.yml"][..], &ssh_args(&kh, &["--check", "--diff", "-e", "app_port=9090", "--limit", "h01"])]
            .concat(),
    );
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "check run failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("-port=8080") && stdout.contains("+port=9090"), "no diff shown:\n{stdout}");
    let after = std::fs::read_to_string(lab.hosts[0].root.join("srv/app/etc/app.conf")).expect("conf");
    assert_eq!(before, after, "check mode changed the file");
}

/// A host's sshd is killed (with its sessions) while the host runs a command: that host is
/// unreachable from then on, the others finish; the recap counts it all; nothing of the run
/// is left running and no temporary file of a copy is left; once the host is back, a rerun
/// finishes its work and a third run changes nothing.
#[test]
fn host_whose_sshd_stops_mid_run_is_unreachable_and_others_finish() {
    let mut lab = Lab::start(4).expect("lab");
    let work = lab_workdir(&lab);
    let marker = format!("sleep 3.{:03}", std::process::id() % 1000);
    std::fs::write(
        work.path().join("pb.yml"),
        format!(
            "- hosts: all\n  gather_facts: false\n  tasks:\n    - name: first\n      copy: {{content: \"one\\n\", dest: \"{{{{ host_root }}}}/first.txt\"}}\n    - name: slow\n      command: {marker}\n      args: {{creates: \"{{{{ host_root }}}}/slow.done\"}}\n    - name: mark\n      copy: {{content: \"done\\n\", dest: \"{{{{ host_root }}}}/slow.done\"}}\n    - name: last\n      copy: {{content: \"last\\n\", dest: \"{{{{ host_root }}}}/last.txt\"}}\n"
        ),
    )
    .expect("playbook");
    let kh = lab.known_hosts().display().to_string();
    let apply = || prov(work.path(), &["apply", "pb.yml", "-i", "hosts.ini", "--known-hosts", &kh, "--output", "json"]);
    let mut child = Command::new(env!("CARGO_BIN_EXE_prov"))
        .args(["apply", "pb.yml", "-i", "hosts.ini", "--known-hosts", &kh, "--output", "json"])
        .current_dir(work.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("prov starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = Vec::new();
    let mut stopped = false;
    for line in std::io::BufReader::new(stdout).lines() {
        let line = line.expect("line");
        if !stopped {
            let v: Json = serde_json::from_str(&line).expect("json");
            if v["event"] == "task_start" && v["name"] == "slow" {
                // The command runs on every host (h02's among them) when its sshd goes.
                let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
                while prov_testkit::processes_with(&marker).iter().filter(|c| c.trim() == marker).count() < 4 {
                    assert!(std::time::Instant::now() < deadline, "the commands never all ran");
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                lab.stop(1);
                stopped = true;
            }
        }
        lines.push(line);
    }
    let status = child.wait().expect("prov ends");
    assert!(stopped, "the slow task never started:\n{}", lines.join("\n"));
    assert_eq!(status.code(), Some(4), "exit code for unreachable hosts:\n{}", lines.join("\n"));
    let r = recap(&events(&lines.join("\n")));
    for h in ["h01", "h03", "h04"] {
        assert_eq!(
            (count(&r, h, "ok"), count(&r, h, "changed"), count(&r, h, "unreachable"), count(&r, h, "failed")),
            (4, 4, 0, 0),
            "{h}: {r:?}"
        );
    }
    assert_eq!(
        (
            count(&r, "h02", "ok"),
            count(&r, "h02", "changed"),
            count(&r, "h02", "unreachable"),
            count(&r, "h02", "failed")
        ),
        (1, 1, 1, 0),
        "{r:?}"
    );
    assert!(!lab.hosts[1].root.join("slow.done").exists(), "h02 went on after its sshd stopped");
    assert_eq!(prov_testkit::processes_with(&marker), Vec::<String>::new(), "left running");
    let temp_files = |lab: &Lab| -> Vec<String> {
        lab.hosts
            .iter()
            .flat_map(|h| std::fs::read_dir(&h.root).expect("host root").flatten())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains("prov-tmp"))
            .collect()
    };
    assert_eq!(temp_files(&lab), Vec::<String>::new(), "temporary files left");

    lab.restart(1).expect("h02 back");
    let out = apply();
    let (o, e) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{o}\n{e}");
    let r = recap(&events(&o));
    assert_eq!(count(&r, "h02", "changed"), 3, "h02 finishes its work: {r:?}");
    for h in ["h01", "h03", "h04"] {
        assert_eq!(count(&r, h, "changed"), 0, "{h}: {r:?}");
    }
    let out = apply();
    let (o, e) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{o}\n{e}");
    assert_eq!(r_changed(&recap(&events(&o))), 0, "the third run changes nothing:\n{o}");
    assert_eq!(temp_files(&lab), Vec::<String>::new(), "temporary files left");
}

fn r_changed(recap: &[Json]) -> u64 {
    recap.iter().map(|h| h["changed"].as_u64().expect("a counter")).sum()
}

fn fingerprint(pubkey: &Path) -> String {
    let out = Command::new("ssh-keygen").arg("-lf").arg(pubkey).output().expect("ssh-keygen");
    String::from_utf8_lossy(&out.stdout).split_whitespace().nth(1).expect("fingerprint").to_string()
}

#[test]
fn changed_host_key_is_refused_naming_host_and_both_fingerprints() {
    let lab = Lab::start(2).expect("lab");
    let fake = lab.spoil_known_host(1).expect("spoil");
    let work = lab_workdir(&lab);
    let kh = lab.known_hosts().display().to_string();
    let out =
        prov(work.path(), &["run", "all", "-i", "hosts.ini", "--known-hosts", &kh, "--", "touch", "$HOME/.never"]);
    let (stdout, stderr) = text(&out);
    let all = format!("{stdout}{stderr}");
    assert_eq!(out.status.code(), Some(4), "{all}");
    let real = fingerprint(&lab.dir().join("ssh_host_ed25519_key.pub"));
    let recorded = fingerprint(&PathBuf::from(format!("{}.pub", fake.display())));
    let line =
        all.lines().find(|l| l.contains("host key mismatch")).unwrap_or_else(|| panic!("no mismatch message:\n{all}"));
    assert!(line.contains("h02"), "{line}");
    assert!(line.contains(&real) && line.contains(&recorded), "both fingerprints expected in: {line}");
    assert!(all.contains("changed: [h01]"), "the other host ran:\n{all}");
}

/// A changed host key, in a playbook run: that host is unreachable and untouched (the recap
/// says so, exit 4), the other host converges, no session is left; with the right key back,
/// a rerun converges that host and the next run changes nothing.
#[test]
fn a_changed_host_key_leaves_that_host_untouched_and_a_rerun_with_the_right_key_converges() {
    let lab = Lab::start(2).expect("lab");
    let good = std::fs::read(lab.known_hosts()).expect("known_hosts");
    lab.spoil_known_host(1).expect("spoil");
    let work = lab_workdir(&lab);
    std::fs::write(
        work.path().join("pb.yml"),
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - copy: {content: \"x\\n\", dest: \"{{ host_root }}/keyed.txt\"}\n",
    )
    .expect("playbook");
    let kh = lab.known_hosts().display().to_string();
    let apply = || prov(work.path(), &["apply", "pb.yml", "-i", "hosts.ini", "--known-hosts", &kh, "--output", "json"]);
    let out = apply();
    let (o, e) = text(&out);
    assert_eq!(out.status.code(), Some(4), "{o}\n{e}");
    let r = recap(&events(&o));
    let counts =
        |h: &str| (count(&r, h, "ok"), count(&r, h, "changed"), count(&r, h, "unreachable"), count(&r, h, "failed"));
    assert_eq!((counts("h01"), counts("h02")), ((1, 1, 0, 0), (0, 0, 1, 0)), "{r:?}");
    assert!(!lab.hosts[1].root.join("keyed.txt").exists(), "the host with the wrong key was written to");
    crate::faults::assert_no_sessions_left(&lab, "after the refused host key");
    std::fs::write(lab.known_hosts(), good).expect("the right key back");
    let out = apply();
    let (o, e) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{o}\n{e}");
    let r = recap(&events(&o));
    assert_eq!((count(&r, "h01", "changed"), count(&r, "h02", "changed")), (0, 1), "{r:?}");
    let out = apply();
    let (o, _) = text(&out);
    assert_eq!(r_changed(&recap(&events(&o))), 0, "{o}");
}

#[test]
fn accept_new_records_unknown_hosts_and_strict_then_accepts_them() {
    let lab = Lab::start(2).expect("lab");
    let work = lab_workdir(&lab);
    let kh = work.path().join("known_hosts").display().to_string();
    let strict = prov(work.path(), &["run", "all", "-i", "hosts.ini", "--known-hosts", &kh, "--", "true"]);
    let (o, e) = text(&strict);
    assert_eq!(strict.status.code(), Some(4), "unknown hosts are refused by default: {o}{e}");
    assert!(o.contains("is not in"), "{o}");
    let learn = prov(
        work.path(),
        &["run", "all", "-i", "hosts.ini", "--known-hosts", &kh, "--host-key-checking", "accept-new", "--", "true"],
    );
    assert_eq!(learn.status.code(), Some(0), "{:?}", text(&learn));
    let recorded = std::fs::read_to_string(&kh).expect("known_hosts written");
    assert_eq!(recorded.lines().count(), 2, "{recorded}");
    let again = prov(work.path(), &["run", "all", "-i", "hosts.ini", "--known-hosts", &kh, "--", "true"]);
    assert_eq!(again.status.code(), Some(0), "{:?}", text(&again));
}

#[test]
fn become_runs_commands_and_writes_files_through_sudo() {
    let lab = Lab::start(2).expect("lab");
    let work = lab_workdir(&lab);
    std::fs::write(
        work.path().join("pb.yml"),
        r#"- hosts: all
  gather_facts: false
  become: true
  tasks:
    - command: id -un
      register: as_root
      changed_when: false
    - command: id -un
      become_user: nobody
      register: as_nobody
      changed_when: false
    - copy:
        content: "written through sudo\n"
        dest: "{{ host_root }}/by-sudo"
        mode: "0600"
    - assert:
        that:
          - as_root.stdout == 'root'
          - as_nobody.stdout == 'nobody'
"#,
    )
    .expect("playbook");
    let kh = lab.known_hosts().display().to_string();
    for (run, changed) in [(1, 1), (2, 0)] {
        let out = prov(work.path(), &["apply", "pb.yml", "-i", "hosts.ini", "--known-hosts", &kh, "--output", "json"]);
        let (o, e) = text(&out);
        assert_eq!(out.status.code(), Some(0), "run {run}:\n{o}\n{e}");
        let r = recap(&events(&o));
        for h in &lab.hosts {
            assert_eq!(count(&r, &h.name, "changed"), changed, "run {run} on {}: {r:?}", h.name);
            let f = h.root.join("by-sudo");
            assert_eq!(std::fs::read_to_string(&f).expect("file"), "written through sudo\n");
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&f).expect("meta").permissions().mode() & 0o777, 0o600);
        }
    }
}

/// `become_method: su` over SSH (connected as root, so su asks no password), as
/// ansible-core 2.19's su plugin: commands run as the user through its login shell, a
/// `copy` writes as that user (its file, in its directory; refused in a directory only root
/// may write: "not writable" in Ansible), and a user whose shell is nologin cannot be become
/// ("This account is currently not available.", nologin's words, in both). The play makes
/// its own user with a shell (every lab host is this machine) and removes it.
#[test]
fn become_su_runs_commands_and_writes_files_as_the_user_over_ssh() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let lab = Lab::start(1).expect("lab");
    let work = lab_workdir(&lab);
    let base = tempfile::tempdir().expect("tempdir");
    std::fs::set_permissions(base.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    std::fs::write(
        work.path().join("pb.yml"),
        format!(
            r#"- hosts: all
  gather_facts: false
  tasks:
    - user: {{name: provsutest, shell: /bin/sh, create_home: false}}
    - file: {{path: "{base}/mine", state: directory, owner: provsutest, mode: "0755"}}
    - file: {{path: "{base}/locked", state: directory, mode: "0755"}}
    - block:
        - command: id -un
          register: who
          changed_when: false
        - shell: 'echo "$USER $LOGNAME $HOME"'
          register: env
          changed_when: false
        - copy: {{content: "written through su\n", dest: "{base}/mine/f", mode: "0640"}}
        - copy: {{content: "x\n", dest: "{base}/locked/f"}}
          register: locked
          ignore_errors: true
        - command: id -un
          become_user: nobody
          register: nologin
          ignore_errors: true
      become: true
      become_method: su
      become_user: provsutest
    - user: {{name: provsutest, state: absent}}
    - assert:
        that:
          - who.stdout == 'provsutest'
          - env.stdout == 'provsutest provsutest /home/provsutest'
          - locked is failed
          - nologin is failed
          - "'This account is currently not available.' in nologin.stdout"
"#,
            base = base.path().display()
        ),
    )
    .expect("playbook");
    let kh = lab.known_hosts().display().to_string();
    let out = prov(work.path(), &["apply", "pb.yml", "-i", "hosts.ini", "--known-hosts", &kh]);
    let (o, e) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{o}\n{e}");
    let f = base.path().join("mine/f");
    assert_eq!(std::fs::read_to_string(&f).expect("file"), "written through su\n");
    let meta = std::fs::metadata(&f).expect("meta");
    assert_eq!(meta.permissions().mode() & 0o777, 0o640);
    assert_eq!(meta.uid(), std::fs::metadata(base.path().join("mine")).expect("dir").uid(), "owned by the user");
    assert_ne!(meta.uid(), 0);
    assert!(!base.path().join("locked/f").exists());
}

/// The tests that run apt and dpkg on this machine take turns (dpkg's lock is one per machine).
pub(crate) static DPKG: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Packages, users and groups for real, on this machine (every lab host is this machine,
/// so the play targets one host). Each state is applied twice: the second run changes nothing.
#[test]
fn apt_user_and_group_converge_for_real() {
    let _turn = DPKG.lock().unwrap_or_else(|e| e.into_inner());
    let lab = Lab::start(1).expect("lab");
    let work = lab_workdir(&lab);
    let kh = lab.known_hosts().display().to_string();
    let play = |state: &str| {
        format!(
            r#"- hosts: all
  gather_facts: false
  tasks:
    - group:
        name: provtestgrp
        state: {state}
    - user:
        name: provtestuser
        groups: [provtestgrp]
        shell: /bin/sh
        create_home: false
        password: "$6$provsalt$1Xg8hQdV2k5lFqkI0Lhc9s0o5J3vYpQ8cV3wR2yT1uZ0aB4cD6eF8gH0iJ2kL4mN6oP8qR0sT2uV4wX6yZ8aB0"
        state: {state}
      when: "'{state}' == 'present'"
    - user:
        name: provtestuser
        state: absent
      when: "'{state}' == 'absent'"
    - apt:
        name: hello
        state: {state}
        update_cache: true
        cache_valid_time: 86400
"#
        )
    };
    // Leave the machine as we found it, whatever happens: remove first.
    for state in ["absent", "present", "absent"] {
        std::fs::write(work.path().join("pb.yml"), play(state)).expect("playbook");
        for round in 0..2 {
            let out =
                prov(work.path(), &["apply", "pb.yml", "-i", "hosts.ini", "--known-hosts", &kh, "--output", "json"]);
            let (o, e) = text(&out);
            assert_eq!(out.status.code(), Some(0), "{state} round {round}:\n{o}\n{e}");
            if round == 1 {
                assert_eq!(count(&recap(&events(&o)), "h01", "changed"), 0, "{state} is not idempotent:\n{o}");
            }
        }
        let installed = Command::new("dpkg-query").args(["-W", "-f=${Status}", "hello"]).output().expect("dpkg-query");
        let user = Command::new("getent").args(["passwd", "provtestuser"]).output().expect("getent");
        let present = state == "present";
        assert_eq!(String::from_utf8_lossy(&installed.stdout).contains("install ok installed"), present);
        assert_eq!(user.status.success(), present);
        if present {
            let groups = Command::new("id").args(["-nG", "provtestuser"]).output().expect("id");
            assert!(String::from_utf8_lossy(&groups.stdout).contains("provtestgrp"));
            // The hash reached /etc/shadow through chpasswd's input, not a command line.
            let shadow = Command::new("getent").args(["shadow", "provtestuser"]).output().expect("getent");
            assert!(String::from_utf8_lossy(&shadow.stdout).contains("$6$provsalt$"), "password not set");
        }
    }
}

/// Builds `prov-test-deb_VERSION.deb` (one file, no dependencies) in `dir`.
fn build_test_deb(dir: &Path, version: &str) -> PathBuf {
    let root = dir.join(format!("pkg-{version}"));
    std::fs::create_dir_all(root.join("DEBIAN")).expect("mkdir");
    std::fs::create_dir_all(root.join("usr/share/prov-test-deb")).expect("mkdir");
    std::fs::write(
        root.join("DEBIAN/control"),
        format!("Package: prov-test-deb\nVersion: {version}\nArchitecture: all\nMaintainer: prov <root@localhost>\nDescription: a test package of prov\n"),
    )
    .expect("control");
    std::fs::write(root.join("usr/share/prov-test-deb/version"), format!("{version}\n")).expect("payload");
    let deb = dir.join(format!("prov-test-deb_{version}.deb"));
    dpkg_deb(&root, &deb);
    deb
}

/// `dpkg-deb --build` of the package tree `root` into `deb`.
fn dpkg_deb(root: &Path, deb: &Path) {
    let out = Command::new("dpkg-deb")
        .arg("--build")
        .arg("--root-owner-group")
        .arg(root)
        .arg(deb)
        .output()
        .expect("dpkg-deb");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

/// `apt: deb=...` on this machine over SSH, against what ansible-core 2.19.14's apt module did
/// with the same two files: install (changed), again (ok), an older file (failed: "A later
/// version is already installed"), the older one with `allow_downgrade` (changed). Check
/// mode changes nothing; the package is removed at the end.
#[test]
fn apt_deb_installs_a_file_once_and_downgrades_only_when_allowed() {
    let _turn = DPKG.lock().unwrap_or_else(|e| e.into_inner());
    let lab = Lab::start(1).expect("lab");
    let work = lab_workdir(&lab);
    let kh = lab.known_hosts().display().to_string();
    let debs = tempfile::tempdir().expect("tempdir");
    let (new, old) = (build_test_deb(debs.path(), "2.0"), build_test_deb(debs.path(), "1.0"));
    let installed = || {
        let out = Command::new("dpkg-query")
            .args(["-W", "-f=${Status} ${Version}", "prov-test-deb"])
            .output()
            .expect("dpkg-query");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let apply = |tasks: &str, extra: &[&str]| {
        std::fs::write(work.path().join("pb.yml"), format!("- hosts: all\n  gather_facts: false\n  tasks:\n{tasks}"))
            .expect("playbook");
        let mut args = vec!["apply", "pb.yml", "-i", "hosts.ini", "--known-hosts", &kh, "--output", "json"];
        args.extend_from_slice(extra);
        let out = prov(work.path(), &args);
        let (o, e) = text(&out);
        (out.status.code(), events(&o), format!("{o}\n{e}"))
    };
    let remove = "    - apt: {name: prov-test-deb, state: absent, purge: true}\n";
    apply(remove, &[]);
    let install = format!("    - apt: deb={}\n", new.display());
    let (code, ev, all) = apply(&install, &["--check"]);
    assert_eq!(code, Some(0), "{all}");
    assert_eq!(count(&recap(&ev), "h01", "changed"), 1, "{all}");
    assert!(!installed().contains("install ok installed"), "check mode installed it: {}", installed());
    for round in 0..2 {
        let (code, ev, all) = apply(&install, &[]);
        assert_eq!(code, Some(0), "{all}");
        assert_eq!(count(&recap(&ev), "h01", "changed"), 1 - round, "round {round}: {all}");
        assert_eq!(installed(), "install ok installed 2.0");
    }
    let (code, ev, all) = apply(&format!("    - apt: deb={}\n", old.display()), &[]);
    assert_eq!(code, Some(2), "{all}");
    let failed = ev.iter().find(|e| e["event"] == "host_result" && e["status"] == "failed").expect("a failed result");
    assert_eq!(failed["msg"], "A later version is already installed", "{all}");
    assert_eq!(installed(), "install ok installed 2.0");
    for round in 0..2 {
        let (code, ev, all) = apply(&format!("    - apt: deb={} allow_downgrade=true\n", old.display()), &[]);
        assert_eq!(code, Some(0), "{all}");
        assert_eq!(count(&recap(&ev), "h01", "changed"), 1 - round, "round {round}: {all}");
    }
    assert_eq!(installed(), "install ok installed 1.0");
    let (code, _, all) = apply(remove, &[]);
    assert_eq!(code, Some(0), "{all}");
    assert!(!installed().contains("install ok installed"), "{}", installed());
}

/// Cloud VMs (README, "Host keys of cloud VMs"): a host whose inventory names a host-key
/// alias (its instance id) is checked under that name in `prov_known_hosts`, not under its
/// address; `accept-new` learns its first key there, and another key for the same instance
/// id is refused later, whatever address it answers on.
#[test]
fn a_host_key_is_pinned_to_the_instance_id() {
    let (a, b) = (Lab::start(1).expect("lab"), Lab::start(1).expect("another lab, another host key"));
    let work = tempfile::tempdir().expect("tempdir");
    let pinned = work.path().join("pinned_known_hosts");
    let empty = work.path().join("known_hosts").display().to_string();
    let line = |lab: &Lab, checking: &str| {
        let host = std::fs::read_to_string(lab.inventory()).expect("inventory");
        let host = host.lines().nth(1).expect("a host line").replacen(&lab.hosts[0].name, "vm1", 1);
        format!("[cloud]\n{host} prov_host_key_alias=i-0aaa prov_known_hosts={} {checking}\n", pinned.display())
    };
    let run = |inventory: String| {
        std::fs::write(work.path().join("hosts.ini"), inventory).expect("inventory");
        let out = prov(work.path(), &["run", "all", "-i", "hosts.ini", "--known-hosts", &empty, "--", "true"]);
        let (o, e) = text(&out);
        (out.status.code(), format!("{o}{e}"))
    };

    // Unknown and strict: refused.
    let (code, all) = run(line(&a, ""));
    assert_eq!(code, Some(4), "{all}");
    assert!(!pinned.exists(), "nothing learnt under strict checking");
    // accept-new: the first key is recorded under the instance id, not the address.
    let (code, all) = run(line(&a, "prov_host_key_checking=accept-new"));
    assert_eq!(code, Some(0), "{all}");
    let recorded = std::fs::read_to_string(&pinned).expect("pinned known_hosts");
    assert_eq!(recorded.lines().count(), 1, "{recorded}");
    assert!(recorded.starts_with("i-0aaa ssh-ed25519 "), "{recorded}");
    // Strict from now on, found under the id.
    let (code, all) = run(line(&a, "prov_host_key_checking=strict"));
    assert_eq!(code, Some(0), "{all}");
    // The same instance id offering another key (on another address) is refused, even
    // under accept-new, and the pinned key stays.
    let (code, all) = run(line(&b, "prov_host_key_checking=accept-new"));
    assert_eq!(code, Some(4), "{all}");
    assert!(all.contains("host key mismatch"), "{all}");
    assert_eq!(std::fs::read_to_string(&pinned).expect("pinned"), recorded);
}

/// `meta: reset_connection` closes the host's SSH connection: the next task comes over a new
/// one (another client port in `SSH_CONNECTION`); without it, tasks share one connection.
#[test]
fn reset_connection_makes_the_next_task_connect_again() {
    let lab = Lab::start(1).expect("lab");
    let work = lab_workdir(&lab);
    std::fs::write(
        work.path().join("pb.yml"),
        r#"- hosts: all
  gather_facts: false
  tasks:
    - shell: echo "$SSH_CONNECTION"
      register: one
      changed_when: false
    - shell: echo "$SSH_CONNECTION"
      register: two
      changed_when: false
    - meta: reset_connection
    - shell: echo "$SSH_CONNECTION"
      register: three
      changed_when: false
    - assert:
        that:
          - one.stdout | length > 0
          - one.stdout == two.stdout
          - two.stdout != three.stdout
"#,
    )
    .expect("playbook");
    let kh = lab.known_hosts().display().to_string();
    let out = prov(work.path(), &["apply", "pb.yml", "-i", "hosts.ini", "--known-hosts", &kh, "--output", "json"]);
    let (o, e) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{o}\n{e}");
    assert_eq!(count(&recap(&events(&o)), &lab.hosts[0].name, "failed"), 0, "{o}");
}

/// One SSH connection per host for the whole run: a second play, and a task delegated to the
/// host from another host's turn, come over the connection the host's first task opened (the
/// same client port in `SSH_CONNECTION`). Before, every play and every delegated task dialed
/// again.
#[test]
fn one_connection_per_host_for_the_whole_run() {
    let lab = Lab::start(2).expect("lab");
    let work = lab_workdir(&lab);
    let (first, second) = (&lab.hosts[0].name, &lab.hosts[1].name);
    std::fs::write(
        work.path().join("pb.yml"),
        format!(
            r#"- hosts: all
  gather_facts: false
  tasks:
    - shell: echo "$SSH_CONNECTION"
      register: one
      changed_when: false
- hosts: all
  gather_facts: false
  tasks:
    - shell: echo "$SSH_CONNECTION"
      register: two
      changed_when: false
    - shell: echo "$SSH_CONNECTION"
      register: three
      changed_when: false
      delegate_to: {first}
    - assert:
        that:
          - one.stdout | length > 0
          - one.stdout == two.stdout
          - three.stdout == hostvars['{first}'].one.stdout
          - inventory_hostname != '{second}' or one.stdout != hostvars['{first}'].one.stdout
"#
        ),
    )
    .expect("playbook");
    let kh = lab.known_hosts().display().to_string();
    let out = prov(work.path(), &["apply", "pb.yml", "-i", "hosts.ini", "--known-hosts", &kh, "--output", "json"]);
    let (o, e) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{o}\n{e}");
    for h in [first, second] {
        assert_eq!(count(&recap(&events(&o)), h, "failed"), 0, "{o}");
        assert_eq!(count(&recap(&events(&o)), h, "ok"), 4, "{o}");
    }
}

/// The play's `remote_user` (and its older name `user`) is the SSH user of hosts whose
/// inventory sets no `ansible_user`; the inventory's `ansible_user` wins over it (ansible-core's
/// precedence). Before, prov accepted the keyword and connected as someone else.
#[test]
fn play_remote_user_is_the_ssh_user_unless_the_inventory_sets_one() {
    let lab = Lab::start(1).expect("lab (needs openssh-server)");
    let kh = lab.known_hosts().display().to_string();
    let (line, user, without_user) = lab_user(&lab);
    let work = tempfile::tempdir().expect("tempdir");
    let play = |keyword: &str, who: &str| {
        format!("- hosts: all\n  gather_facts: false\n  {keyword}: \"{who}\"\n  tasks:\n    - command: id -un\n      register: me\n    - debug: msg=\"{{{{ me.stdout }}}}\"\n")
    };
    let run = |inventory: &str, site: &str| {
        std::fs::write(work.path().join("hosts.ini"), format!("[lab]\n{inventory}\n")).expect("inventory");
        std::fs::write(work.path().join("site.yml"), site).expect("site");
        let out = prov(work.path(), &[&["apply", "site.yml"][..], &ssh_args(&kh, &["--output", "json"])].concat());
        let (stdout, stderr) = text(&out);
        (out.status.code(), events(&stdout), stderr)
    };
    let said = |ev: &[Json]| {
        ev.iter()
            .filter(|e| e["event"] == "host_result" && e["module"] == "debug")
            .filter_map(|e| e["msg"].as_str().map(str::to_string))
            .collect::<Vec<_>>()
    };
    // The play names the user, templated or not, under either keyword.
    for site in [play("remote_user", &user), play("user", &user), play("remote_user", "{{ 'x' | replace('x', lu) }}")] {
        let site = site.replace("gather_facts: false", &format!("gather_facts: false\n  vars: {{lu: {user}}}"));
        let (code, ev, stderr) = run(&without_user, &site);
        assert_eq!(code, Some(0), "{site}\n{stderr}");
        assert_eq!(said(&ev), vec![user.clone()], "{site}");
    }
    // A user the host does not accept: unreachable, not silently someone else.
    let (code, _, stderr) = run(&without_user, &play("remote_user", "prov-no-such-user"));
    assert_ne!(code, Some(0), "{stderr}");
    // The inventory's ansible_user wins over the play's; so do ansible_ssh_user and a play
    // variable (variables win over keywords in ansible-core).
    let (code, ev, stderr) = run(&line, &play("remote_user", "prov-no-such-user"));
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(said(&ev), vec![user.clone()]);
    let ssh_user = line.replace("ansible_user=", "ansible_ssh_user=");
    let (code, ev, stderr) = run(&ssh_user, &play("remote_user", "prov-no-such-user"));
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(said(&ev), vec![user.clone()]);
    let with_var = play("remote_user", "prov-no-such-user")
        .replace("gather_facts: false", &format!("gather_facts: false\n  vars: {{ansible_user: {user}}}"));
    let (code, ev, stderr) = run(&without_user, &with_var);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(said(&ev), vec![user.clone()]);
}

/// A task's `remote_user` (written on the task, or on a block or an `import_tasks` above it)
/// is the SSH user of that task for hosts whose inventory sets no `ansible_user`; a variable
/// naming the user wins over it, as in ansible-core. prov refused the keyword below plays.
#[test]
fn task_remote_user_is_the_ssh_user_of_that_task() {
    let lab = Lab::start(1).expect("lab (needs openssh-server)");
    let kh = lab.known_hosts().display().to_string();
    let (_, user, without_user) = lab_user(&lab);
    let work = tempfile::tempdir().expect("tempdir");
    std::fs::write(work.path().join("hosts.ini"), format!("[lab]\n{without_user}\n")).expect("inventory");
    std::fs::write(
        work.path().join("who.yml"),
        "- command: id -un\n  register: imported\n- command: id -un\n  register: wrong\n  remote_user: prov-no-such-user\n  ignore_unreachable: true\n",
    )
    .expect("tasks");
    std::fs::write(
        work.path().join("site.yml"),
        format!(
            r#"- hosts: all
  gather_facts: false
  remote_user: prov-no-such-user
  tasks:
    - command: id -un
      register: task
      remote_user: "{{{{ lu }}}}"
      vars: {{lu: {user}}}
    - block:
        - command: id -un
          register: block
      remote_user: {user}
    - import_tasks: who.yml
      remote_user: {user}
    - command: id -un
      register: var_wins
      remote_user: prov-no-such-user
      vars: {{ansible_user: {user}}}
      delegate_to: "{{{{ inventory_hostname }}}}"
    - assert:
        that:
          - task.stdout == '{user}'
          - block.stdout == '{user}'
          - imported.stdout == '{user}'
          - wrong is unreachable
          - var_wins.stdout == '{user}'
      remote_user: {user}
"#
        ),
    )
    .expect("playbook");
    let out = prov(work.path(), &["apply", "site.yml", "-i", "hosts.ini", "--known-hosts", &kh]);
    let (o, e) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{o}\n{e}");
    assert!(o.contains("failed=0"), "{o}");
}

/// Connection variables set above the inventory (the play's `vars`, a task's `vars`, `-e`)
/// decide how a host is reached, as in ansible-core: `ansible_user: prov-no-such-user` there
/// makes the host unreachable (ansible-core 2.19: "Permission denied (publickey)"). prov read
/// them from the inventory only and connected as the inventory's user.
#[test]
fn connection_variables_of_plays_tasks_and_extra_vars_decide_the_ssh_user() {
    let lab = Lab::start(1).expect("lab (needs openssh-server)");
    let kh = lab.known_hosts().display().to_string();
    let work = lab_workdir(&lab);
    let name = lab.hosts[0].name.clone();
    let run = |site: &str, extra: &[&str]| {
        std::fs::write(work.path().join("site.yml"), site).expect("site");
        let out =
            prov(work.path(), &[&["apply", "site.yml"][..], &ssh_args(&kh, &["--output", "json"]), extra].concat());
        let (stdout, stderr) = text(&out);
        (out.status.code(), recap(&events(&stdout)), stderr)
    };
    let plain = "- hosts: all\n  gather_facts: false\n  tasks:\n    - command: id -un\n";
    let (code, r, e) = run(plain, &[]);
    assert_eq!((code, count(&r, &name, "ok")), (Some(0), 1), "{e}");
    let play_vars =
        plain.replace("gather_facts: false", "gather_facts: false\n  vars: {ansible_user: prov-no-such-user}");
    let (code, r, e) = run(&play_vars, &[]);
    assert_eq!((code, count(&r, &name, "unreachable")), (Some(4), 1), "{e}");
    let (code, r, e) = run(plain, &["-e", "ansible_user=prov-no-such-user"]);
    assert_eq!((code, count(&r, &name, "unreachable")), (Some(4), 1), "{e}");
    let task_vars = format!("{plain}      vars: {{ansible_user: prov-no-such-user}}\n");
    let (code, r, e) = run(&task_vars, &[]);
    assert_eq!((code, count(&r, &name, "unreachable")), (Some(4), 1), "{e}");
    // Templated, from another variable.
    let templated =
        play_vars.replace("ansible_user: prov-no-such-user", "ansible_user: \"{{ who }}\", who: prov-no-such-user");
    let (code, r, e) = run(&templated, &[]);
    assert_eq!((code, count(&r, &name, "unreachable")), (Some(4), 1), "{e}");
}

/// The play's `connection: local` runs a host's tasks on the controller when its inventory
/// sets no `ansible_connection` (ansible-core 2.19: ok=1 changed=1 for this play); before, prov
/// ignored the keyword and tried SSH to 127.0.0.99.
#[test]
fn play_connection_local_is_used_when_the_inventory_sets_none() {
    let work = tempfile::tempdir().expect("tempdir");
    std::fs::write(work.path().join("hosts.ini"), "zz ansible_host=127.0.0.99 ansible_port=1\n").expect("inventory");
    std::fs::write(
        work.path().join("site.yml"),
        "- hosts: zz\n  gather_facts: false\n  connection: local\n  tasks:\n    - command: \"true\"\n",
    )
    .expect("site");
    let out = prov(work.path(), &["apply", "site.yml", "-i", "hosts.ini", "--output", "json"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    let r = recap(&events(&stdout));
    assert_eq!((count(&r, "zz", "changed"), count(&r, "zz", "unreachable")), (1, 0), "{r:?}");
    // A connection prov does not have is refused before anything runs.
    std::fs::write(
        work.path().join("site.yml"),
        "- hosts: zz\n  gather_facts: false\n  connection: winrm\n  tasks:\n    - command: \"true\"\n",
    )
    .expect("site");
    let out = prov(work.path(), &["apply", "site.yml", "-i", "hosts.ini"]);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out).1);
}

/// `apt` with `policy_rc_d`, as ansible-core's apt module does it: while apt-get runs,
/// /usr/sbin/policy-rc.d exits with the given code (the package's postinst sees
/// "#!/bin/sh\nexit 101\n"), and the policy-rc.d that was there before is put back after. The
/// package is removed at the end and the machine's own policy-rc.d (if any) restored.
#[test]
fn apt_policy_rc_d_is_in_place_while_apt_runs_and_put_back() {
    let _turn = DPKG.lock().unwrap_or_else(|e| e.into_inner());
    let policy = Path::new("/usr/sbin/policy-rc.d");
    let machine = std::fs::read(policy).ok();
    let dir = tempfile::tempdir().expect("tempdir");
    let seen = dir.path().join("seen");
    let root = dir.path().join("pkg");
    std::fs::create_dir_all(root.join("DEBIAN")).expect("mkdir");
    std::fs::write(
        root.join("DEBIAN/control"),
        "Package: prov-test-policy\nVersion: 1.0\nArchitecture: all\nMaintainer: prov <root@localhost>\nDescription: a test package of prov\n",
    )
    .expect("control");
    let postinst = format!("#!/bin/sh\ncat /usr/sbin/policy-rc.d > {}\n", seen.display());
    std::fs::write(root.join("DEBIAN/postinst"), postinst).expect("postinst");
    Command::new("chmod").arg("0755").arg(root.join("DEBIAN/postinst")).status().expect("chmod");
    let deb = dir.path().join("prov-test-policy_1.0.deb");
    dpkg_deb(&root, &deb);
    let original = b"#!/bin/sh\n# the policy of this machine\nexit 0\n";
    std::fs::write(policy, original).expect("policy-rc.d");
    let site = format!(
        "- hosts: a\n  gather_facts: false\n  tasks:\n    - apt: {{deb: \"{}\", policy_rc_d: 101}}\n    - apt: {{name: prov-test-policy, state: absent, purge: true, policy_rc_d: 101}}\n",
        deb.display()
    );
    let (_d, r) = crate::language::apply(&[("site.yml", &site)], &[]);
    let put_back = std::fs::read(policy).ok();
    match &machine {
        Some(m) => std::fs::write(policy, m).expect("restore"),
        None => std::fs::remove_file(policy).expect("remove"),
    }
    assert_eq!((r.code, r.recap("a", "changed")), (0, 2), "{}", r.dump());
    assert_eq!(std::fs::read_to_string(&seen).expect("the postinst ran"), "#!/bin/sh\nexit 101\n");
    assert_eq!(put_back.as_deref(), Some(&original[..]), "the policy-rc.d that was there is put back");
}

/// `wait_for_connection` waits out a host whose sshd is down (it is started again a few
/// seconds into the run): the host is not unreachable, its next task runs, `elapsed` counts
/// the wait. A host that stays down fails the task when `timeout` passes, with ansible-core's
/// words; check mode skips the task, as ansible-core does.
#[test]
fn wait_for_connection_waits_for_a_host_to_come_back() {
    let mut lab = Lab::start(2).expect("lab");
    let work = lab_workdir(&lab);
    let play = "- hosts: all\n  gather_facts: false\n  tasks:\n    - wait_for_connection: {sleep: 1, timeout: 60}\n      register: w\n    - command: \"true\"\n      changed_when: false\n    - debug: {msg: \"{{ w.elapsed }}\"}\n";
    std::fs::write(work.path().join("pb.yml"), play).expect("playbook");
    let kh = lab.known_hosts().display().to_string();
    lab.stop(1);
    let child = Command::new(env!("CARGO_BIN_EXE_prov"))
        .args(["apply", "pb.yml", "-i", "hosts.ini", "--known-hosts", &kh, "--output", "json"])
        .current_dir(work.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("prov starts");
    std::thread::sleep(std::time::Duration::from_secs(3));
    lab.restart(1).expect("h02 comes back");
    let out = child.wait_with_output().expect("prov ends");
    let (o, e) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{o}\n{e}");
    let ev = events(&o);
    let r = recap(&ev);
    for h in ["h01", "h02"] {
        assert_eq!((count(&r, h, "ok"), count(&r, h, "unreachable"), count(&r, h, "failed")), (3, 0, 0), "{h}: {r:?}");
    }
    let elapsed = |h: &str| {
        ev.iter()
            .find(|x| x["event"] == "host_result" && x["module"] == "debug" && x["host"] == h)
            .and_then(|x| x["msg"].as_str().and_then(|m| m.parse::<u64>().ok()))
            .unwrap_or_else(|| panic!("elapsed of {h}: {o}"))
    };
    assert_eq!(elapsed("h01"), 0);
    assert!(elapsed("h02") >= 2, "h02 waited {} s", elapsed("h02"));

    // Down for good: the task fails when the timeout passes.
    lab.stop(1);
    let timed = play.replace("timeout: 60", "timeout: 2");
    std::fs::write(work.path().join("pb.yml"), timed).expect("playbook");
    let out = prov(work.path(), &["apply", "pb.yml", "-i", "hosts.ini", "--known-hosts", &kh, "--output", "json"]);
    let (o, e) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{o}\n{e}");
    let failed = events(&o)
        .into_iter()
        .find(|x| x["event"] == "host_result" && x["host"] == "h02" && x["status"] == "failed")
        .unwrap_or_else(|| panic!("h02 failed: {o}"));
    assert!(
        failed["msg"].as_str().unwrap_or_default().starts_with("timed out waiting for ping module test: "),
        "{failed}"
    );

    // Check mode: skipped, as ansible-core's action returns `skipped`.
    let check = "- hosts: all\n  gather_facts: false\n  tasks:\n    - wait_for_connection:\n";
    std::fs::write(work.path().join("pb.yml"), check).expect("playbook");
    let out = prov(
        work.path(),
        &["apply", "pb.yml", "-i", "hosts.ini", "--known-hosts", &kh, "--output", "json", "--check", "-l", "h01"],
    );
    let (o, _) = text(&out);
    let r = recap(&events(&o));
    assert_eq!(count(&r, "h01", "skipped"), 1, "{o}");
}

/// `copy` of a controller file streams it to each host (over SFTP, and through sudo's stdin
/// with `become`): an 80 MiB file sent to 4 hosts at once, twice each, leaves prov's peak
/// memory below the size of the file (measured: 31 MiB without transfers, about 2.3 MiB more
/// per transfer in flight); before, each host's plan read the whole file. The copies are whole,
/// and the second run changes nothing.
#[test]
fn copy_streams_a_large_file_in_less_memory_than_the_file() {
    let labdir = tempfile::tempdir().expect("tempdir");
    let lab = Lab::start_grouped(labdir.path(), 4, 2).expect("lab");
    let work = lab_workdir(&lab);
    let size = 80 * 1024 * 1024;
    let mut data = Vec::with_capacity(size);
    let mut x: u32 = 1;
    while data.len() < size {
        x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        data.extend_from_slice(&x.to_le_bytes());
    }
    std::fs::write(work.path().join("big.bin"), &data).expect("write");
    std::fs::write(
        work.path().join("pb.yml"),
        r#"- hosts: all
  gather_facts: false
  tasks:
    - copy: {src: big.bin, dest: "{{ host_root }}/big.bin"}
    - copy: {src: big.bin, dest: "{{ host_root }}/big-sudo.bin", mode: "0600"}
      become: true
"#,
    )
    .expect("playbook");
    let kh = lab.known_hosts().display().to_string();
    for (run, changed) in [(1, 2), (2, 0)] {
        let (out, peak_kib) = prov_peak_rss(
            work.path(),
            &["apply", "pb.yml", "-i", "hosts.ini", "--known-hosts", &kh, "--output", "json"],
        );
        let (o, e) = text(&out);
        assert_eq!(out.status.code(), Some(0), "run {run}:\n{o}\n{e}");
        let r = recap(&events(&o));
        for h in &lab.hosts {
            assert_eq!(count(&r, &h.name, "changed"), changed, "run {run} on {}: {r:?}", h.name);
            for name in ["big.bin", "big-sudo.bin"] {
                assert!(std::fs::read(h.root.join(name)).expect("copied") == data, "{name} on {} differs", h.name);
            }
        }
        eprintln!("run {run}: peak RSS {peak_kib} KiB");
        assert!(peak_kib < (size / 1024) as u64, "run {run}: peak RSS {peak_kib} KiB for a {size}-byte file");
    }
}

/// `reboot` over SSH, with a reboot command that stands for a real one: it marks the host, and
/// the test then stops the host's sshd (its sessions with it), gives it a new boot id and
/// starts it again 2 s later. prov reads the boot id, runs the command, waits out the lost
/// connection until the boot id changed, runs `whoami`, and goes on with the next task;
/// `rebooted` and `elapsed` are registered as ansible-core registers them. Check mode changes
/// nothing; a reboot command that fails fails the task with ansible-core's words.
#[test]
fn reboot_waits_for_the_host_to_come_back_with_a_new_boot_id() {
    let mut lab = Lab::start(1).expect("lab");
    let work = lab_workdir(&lab);
    let root = lab.hosts[0].root.clone();
    std::fs::write(root.join("boot_id"), "first\n").expect("boot id");
    let script = root.join("fake-reboot");
    std::fs::write(&script, format!("#!/bin/sh\ntouch {}/rebooting\n", root.display())).expect("script");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let play = "- hosts: all\n  gather_facts: false\n  tasks:\n    - reboot: {reboot_command: \"{{ host_root }}/fake-reboot now\", boot_time_command: \"cat {{ host_root }}/boot_id\", reboot_timeout: 60}\n      register: r\n    - command: cat {{ host_root }}/boot_id\n      register: b\n      changed_when: false\n    - debug: {msg: \"{{ [r.rebooted, r.changed, r.elapsed, b.stdout] | to_json }}\"}\n";
    std::fs::write(work.path().join("pb.yml"), play).expect("playbook");
    let kh = lab.known_hosts().display().to_string();
    let args = ["apply", "pb.yml", "-i", "hosts.ini", "--known-hosts", &kh, "--output", "json"];
    let check = prov(work.path(), &[&args[..], &["--check"]].concat());
    let (o, e) = text(&check);
    assert_eq!(check.status.code(), Some(0), "{o}\n{e}");
    assert!(!root.join("rebooting").exists(), "check mode ran the reboot command");
    let child = Command::new(env!("CARGO_BIN_EXE_prov"))
        .args(args)
        .current_dir(work.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("prov starts");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !root.join("rebooting").exists() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    lab.stop(0);
    std::fs::write(root.join("boot_id"), "second\n").expect("boot id");
    std::thread::sleep(std::time::Duration::from_secs(2));
    lab.restart(0).expect("h01 comes back");
    let out = child.wait_with_output().expect("prov ends");
    let (o, e) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{o}\n{e}");
    let ev = events(&o);
    let r = recap(&ev);
    assert_eq!(
        (count(&r, "h01", "ok"), count(&r, "h01", "changed"), count(&r, "h01", "unreachable")),
        (3, 1, 0),
        "{r:?}"
    );
    let shown = ev
        .iter()
        .find(|x| x["event"] == "host_result" && x["module"] == "debug")
        .and_then(|x| x["msg"].as_str())
        .expect("debug");
    let v: Json = serde_json::from_str(shown).expect("JSON");
    assert_eq!((&v[0], &v[1], &v[3]), (&Json::Bool(true), &Json::Bool(true), &Json::from("second")), "{v}");
    assert!(v[2].as_u64().is_some_and(|s| s >= 2), "elapsed {v}");

    // A reboot command that fails: ansible-core's message, nothing rebooted.
    let failing = "- hosts: all\n  gather_facts: false\n  tasks:\n    - reboot: {reboot_command: /bin/false}\n";
    std::fs::write(work.path().join("pb.yml"), failing).expect("playbook");
    let out = prov(work.path(), &args);
    let (o, _) = text(&out);
    let failed = events(&o).into_iter().find(|x| x["status"] == "failed").unwrap_or_else(|| panic!("{o}"));
    assert_eq!(failed["msg"], "Reboot command failed. Error was: ', '", "{failed}");
}
