//! Ansible's habits around the command line: ansible.cfg, the implicit localhost when no
//! inventory is named, `--version`, completions and the manual page; and the run lock that
//! keeps two runs from changing one project at once.

use crate::util::text;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// `prov ARGS` in `dir`, with no ANSIBLE_* setting or PROV_INVENTORY from the caller, and its
/// own state directory (`state`).
fn prov_in(dir: &Path, state: &Path, env: &[(&str, &str)], args: &[&str]) -> Output {
    command(dir, state, env, args).output().expect("the prov binary runs")
}

fn command(dir: &Path, state: &Path, env: &[(&str, &str)], args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_prov"));
    c.args(args).current_dir(dir).env("NO_COLOR", "1").env("PROV_STATE_DIR", state).env_remove("PROV_INVENTORY");
    for (k, _) in std::env::vars() {
        if k.starts_with("ANSIBLE_") {
            c.env_remove(k);
        }
    }
    for (k, v) in env {
        c.env(k, v);
    }
    c
}

fn write(path: &Path, text: &str) {
    if let Some(d) = path.parent() {
        std::fs::create_dir_all(d).expect("mkdir");
    }
    std::fs::write(path, text).expect("write");
}

/// A project in a fresh directory: `play.yml` runs `command: echo ran-on-{{ inventory_hostname }}`.
fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        &dir.path().join("play.yml"),
        "- hosts: all:localhost\n  gather_facts: false\n  tasks:\n    - command: echo ran-on-{{ inventory_hostname }}\n      register: r\n    - debug: var=r.stdout\n",
    );
    dir
}

#[test]
fn without_an_inventory_the_play_runs_on_the_implicit_localhost_with_a_warning() {
    let p = project();
    let out = prov_in(p.path(), p.path(), &[], &["apply", "play.yml"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("ran-on-localhost"), "{stdout}");
    assert!(stderr.contains("only the implicit localhost is available"), "{stderr}");
}

#[test]
fn ansible_cfg_names_the_inventory_and_roles_path_relative_to_itself() {
    let p = project();
    write(&p.path().join("conf/ansible.cfg"), "[defaults]\ninventory = ../inv/hosts.ini , \nroles_path = ../myroles\n");
    write(&p.path().join("inv/hosts.ini"), "[web]\nweb1 ansible_connection=local\n");
    write(&p.path().join("myroles/greet/tasks/main.yml"), "- debug: msg=role-greet-{{ inventory_hostname }}\n");
    write(&p.path().join("site/site.yml"), "- hosts: web\n  gather_facts: false\n  roles: [greet]\n");
    let cfg = p.path().join("conf/ansible.cfg");
    let out =
        prov_in(p.path(), p.path(), &[("ANSIBLE_CONFIG", cfg.to_str().expect("utf-8"))], &["apply", "site/site.yml"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("role-greet-web1"), "{stdout}");
    // The environment wins over the file, as in Ansible.
    write(&p.path().join("other.ini"), "[web]\nweb9 ansible_connection=local\n");
    let out = prov_in(
        p.path(),
        p.path(),
        &[("ANSIBLE_CONFIG", cfg.to_str().expect("utf-8")), ("ANSIBLE_INVENTORY", "other.ini")],
        &["apply", "site/site.yml"],
    );
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("role-greet-web9"), "{stdout}");
}

/// ansible-playbook's connection flags: `-c local` reaches hosts that set no
/// `ansible_connection` without SSH, `-b` makes tasks escalate (through sudo) unless they say
/// otherwise (a task's `become: false` wins, as in Ansible), and the flags prov cannot honour
/// are refused before anything runs.
#[test]
fn connection_flags_of_ansible_playbook_are_read_or_refused() {
    let p = project();
    write(&p.path().join("hosts.ini"), "[web]\nw1\nw2\n");
    write(
        &p.path().join("b.yml"),
        "- hosts: web\n  gather_facts: false\n  tasks:\n    - command: printenv SUDO_USER\n      register: with_b\n    - command: printenv SUDO_USER\n      become: false\n      register: without\n      failed_when: false\n    - assert: {that: [with_b.rc == 0, without.rc == 1]}\n",
    );
    let out = prov_in(p.path(), p.path(), &[], &["apply", "play.yml", "-i", "hosts.ini", "-c", "local", "-b"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("ran-on-w1") && stdout.contains("ran-on-w2"), "{stdout}");
    let out = prov_in(p.path(), p.path(), &[], &["apply", "b.yml", "-i", "hosts.ini", "--connection", "local", "-b"]);
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
    for bad in [&["-k"][..], &["-K"], &["--become-method", "doas"], &["-c", "winrm"]] {
        let mut args = vec!["apply", "play.yml", "-i", "hosts.ini"];
        args.extend_from_slice(bad);
        let out = prov_in(p.path(), p.path(), &[], &args);
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(4), "{bad:?}: {stdout}\n{stderr}");
        assert!(stderr.contains("nothing was run") && !stdout.contains("ran-on"), "{bad:?}: {stdout}\n{stderr}");
    }
}

#[test]
fn ansible_cfg_in_the_working_directory_is_read() {
    let p = project();
    write(&p.path().join("ansible.cfg"), "[defaults]\ninventory = hosts.ini\n");
    write(&p.path().join("hosts.ini"), "h1 ansible_connection=local\n");
    let out = prov_in(p.path(), p.path(), &[], &["apply", "play.yml"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("ran-on-h1"), "{stdout}");
    assert!(!stderr.contains("implicit localhost"), "{stderr}");
}

#[test]
fn ansible_cfg_of_a_world_writable_working_directory_is_ignored_with_a_warning() {
    use std::os::unix::fs::PermissionsExt;
    let p = project();
    // This file would be refused if it were read.
    write(&p.path().join("ansible.cfg"), "[defaults]\nhash_behaviour = merge\n");
    std::fs::set_permissions(p.path(), std::fs::Permissions::from_mode(0o777)).expect("chmod");
    let state = tempfile::tempdir().expect("tempdir");
    let out = prov_in(p.path(), state.path(), &[], &["apply", "play.yml"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stderr.contains("is world-writable: its ansible.cfg is ignored"), "{stderr}");
}

#[test]
fn ansible_cfg_setting_prov_does_not_implement_is_refused_with_its_line() {
    let p = project();
    write(&p.path().join("ansible.cfg"), "[defaults]\nforks = 3\n\n[privilege_escalation]\nbecome_method = doas\n");
    let out = prov_in(p.path(), p.path(), &[], &["apply", "play.yml"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(4), "{stdout}\n{stderr}");
    assert!(stderr.contains("ansible.cfg:5:1"), "{stderr}");
    assert!(stderr.contains("`become_method = doas` changes what Ansible does"), "{stderr}");
    assert!(!stdout.contains("ran-on"), "{stdout}");
}

#[test]
fn ansible_cfg_duplicate_key_is_refused_like_ansible() {
    let p = project();
    write(&p.path().join("ansible.cfg"), "[defaults]\nforks = 3\nforks = 4\n");
    let out = prov_in(p.path(), p.path(), &[], &["apply", "play.yml"]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    assert!(stderr.contains("ansible.cfg:3:1") && stderr.contains("appears twice"), "{stderr}");
}

#[test]
fn ansible_cfg_setting_prov_does_not_read_gets_a_warning() {
    let p = project();
    write(&p.path().join("ansible.cfg"), "[defaults]\nlibrary = ./library\nnocows = 1\n");
    let out = prov_in(p.path(), p.path(), &[], &["apply", "play.yml"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stderr.contains("prov does not use `[defaults] library`"), "{stderr}");
    assert!(!stderr.contains("nocows"), "output-only settings are ignored quietly: {stderr}");
}

#[test]
fn ansible_cfg_gathering_explicit_and_strategy_reach_the_plays() {
    let p = project();
    write(&p.path().join("ansible.cfg"), "[defaults]\nstrategy = linear\ngathering = explicit\n");
    write(
        &p.path().join("facts.yml"),
        "- hosts: localhost\n  tasks:\n    - debug: msg={{ ansible_facts.hostname | default('no-facts') }}\n",
    );
    let out = prov_in(p.path(), p.path(), &[], &["apply", "facts.yml"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("no-facts"), "gathering = explicit gathers nothing unasked: {stdout}");
}

#[test]
fn ansible_facts_is_an_empty_mapping_when_facts_are_not_gathered() {
    let p = project();
    write(
        &p.path().join("facts.yml"),
        "- hosts: localhost\n  gather_facts: false\n  tasks:\n    - debug: msg=facts-{{ ansible_facts | length }}-{{ ansible_facts.hostname | default('none') }}\n",
    );
    let out = prov_in(p.path(), p.path(), &[], &["apply", "facts.yml"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("facts-0-none"), "{stdout}");
}

#[test]
fn version_names_the_providers_and_the_ansible_release_followed() {
    let p = project();
    let out = prov_in(p.path(), p.path(), &[], &["--version"]);
    let (stdout, _) = text(&out);
    assert_eq!(out.status.code(), Some(0));
    assert!(stdout.starts_with(&format!("prov {}\nproviders: docker", env!("CARGO_PKG_VERSION"))), "{stdout}");
    assert!(stdout.contains("ansible-core 2.19"), "{stdout}");
    if cfg!(all(feature = "gcp", feature = "aws")) {
        assert!(stdout.contains("providers: docker, gcp, aws"), "{stdout}");
    }
}

#[test]
fn completions_and_the_manual_page_come_from_the_cli_definition() {
    let p = project();
    let out = prov_in(p.path(), p.path(), &[], &["completions", "bash"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stdout.contains("_prov()") && stdout.contains("--lock-timeout"), "{stdout}");
    let out = prov_in(p.path(), p.path(), &[], &["man"]);
    let (stdout, _) = text(&out);
    assert_eq!(out.status.code(), Some(0));
    assert!(stdout.contains(".TH prov") && stdout.contains("apply"), "{stdout}");
    // Even a broken ansible.cfg does not stop them.
    write(&p.path().join("ansible.cfg"), "[defaults]\nforks = many\n");
    assert_eq!(prov_in(p.path(), p.path(), &[], &["completions", "zsh"]).status.code(), Some(0));
}

/// A project whose play holds its run for a while: `slow.yml` sleeps on a local host.
fn slow_project(secs: &str) -> tempfile::TempDir {
    let p = project();
    write(&p.path().join("hosts.ini"), "a ansible_connection=local\n");
    write(
        &p.path().join("slow.yml"),
        &format!("- hosts: a\n  gather_facts: false\n  tasks:\n    - command: sleep {secs}\n"),
    );
    p
}

/// Waits until the run lock under `state` names its holder.
fn wait_for_holder(state: &Path) -> String {
    let start = Instant::now();
    loop {
        let found = walk(state).into_iter().find_map(|f| {
            let t = std::fs::read_to_string(&f).ok()?;
            t.starts_with("pid=").then_some(t)
        });
        if let Some(t) = found {
            return t;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "no run lock appeared under {}", state.display());
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else if p.extension().is_some_and(|x| x == "lock") {
            out.push(p);
        }
    }
    out
}

#[test]
fn concurrent_apply_of_one_project_is_refused_and_the_lock_is_released_on_success() {
    let p = slow_project("2");
    let state = tempfile::tempdir().expect("tempdir");
    let mut first = command(p.path(), state.path(), &[], &["apply", "slow.yml", "-i", "hosts.ini"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let holder = wait_for_holder(state.path());
    assert!(holder.starts_with(&format!("pid={} ", first.id())), "{holder}");
    let second = prov_in(p.path(), state.path(), &[], &["apply", "play.yml", "-i", "hosts.ini"]);
    let (stdout, stderr) = text(&second);
    assert_eq!(second.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(stderr.contains("is locked by another run: pid "), "{stderr}");
    assert!(stderr.contains(&format!("pid {} (", first.id())) && stderr.contains("`"), "{stderr}");
    assert!(!stdout.contains("ran-on"), "the refused run ran something: {stdout}");
    // Check mode changes nothing and takes no lock.
    let plan = prov_in(p.path(), state.path(), &[], &["apply", "--check", "play.yml", "-i", "hosts.ini"]);
    assert_eq!(plan.status.code(), Some(0), "{:?}", text(&plan));
    assert_eq!(first.wait().expect("wait").code(), Some(0));
    let third = prov_in(p.path(), state.path(), &[], &["apply", "play.yml", "-i", "hosts.ini"]);
    let (stdout, stderr) = text(&third);
    assert_eq!(third.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(!stderr.contains("taking over"), "a released lock is not a dead holder's: {stderr}");
}

#[test]
fn lock_timeout_waits_for_the_other_run_to_end() {
    let p = slow_project("1");
    let state = tempfile::tempdir().expect("tempdir");
    let mut first = command(p.path(), state.path(), &[], &["apply", "slow.yml", "-i", "hosts.ini"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    wait_for_holder(state.path());
    let second =
        prov_in(p.path(), state.path(), &[], &["apply", "play.yml", "-i", "hosts.ini", "--lock-timeout", "60"]);
    let (stdout, stderr) = text(&second);
    assert_eq!(second.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("ran-on-a"), "{stdout}");
    assert_eq!(first.wait().expect("wait").code(), Some(0));
}

#[test]
fn the_lock_is_released_on_failure_and_on_ctrl_c_and_a_dead_holders_lock_is_taken_over() {
    let p = slow_project("30");
    let state = tempfile::tempdir().expect("tempdir");
    write(&p.path().join("fail.yml"), "- hosts: a\n  gather_facts: false\n  tasks:\n    - command: 'false'\n");
    let out = prov_in(p.path(), state.path(), &[], &["apply", "fail.yml", "-i", "hosts.ini"]);
    assert_eq!(out.status.code(), Some(2), "{:?}", text(&out));
    let out = prov_in(p.path(), state.path(), &[], &["apply", "play.yml", "-i", "hosts.ini"]);
    assert_eq!(out.status.code(), Some(0), "released after a failed run: {:?}", text(&out));

    // Ctrl-C twice: the run stops (99) and lets go of the lock.
    let mut first = command(p.path(), state.path(), &[], &["apply", "slow.yml", "-i", "hosts.ini"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    wait_for_holder(state.path());
    for _ in 0..2 {
        let st = Command::new("kill").args(["-INT", &first.id().to_string()]).status().expect("kill");
        assert!(st.success());
        std::thread::sleep(Duration::from_millis(300));
    }
    assert_eq!(first.wait().expect("wait").code(), Some(99));
    let out = prov_in(p.path(), state.path(), &[], &["apply", "play.yml", "-i", "hosts.ini"]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "released after Ctrl-C: {stderr}");
    assert!(!stderr.contains("taking over"), "{stderr}");

    // kill -9: the kernel drops the lock; the next run says whose it takes over.
    let mut first = command(p.path(), state.path(), &[], &["apply", "slow.yml", "-i", "hosts.ini"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    wait_for_holder(state.path());
    let dead = first.id();
    first.kill().expect("kill -9");
    first.wait().expect("wait");
    let out = prov_in(p.path(), state.path(), &[], &["apply", "play.yml", "-i", "hosts.ini"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(
        stderr.contains(&format!("taking over the lock of a run that ended without releasing it (pid {dead} (")),
        "{stderr}"
    );
    // The sleep the killed run started is its own business (kill -9 leaves no chance to stop it).
    let _ = Command::new("pkill").args(["-f", "^sleep 30$"]).status();
}

/// `-v`: a task running past 10 s is named on a line of its own (with its host and how long
/// it has run); nothing of it in JSON output.
#[test]
fn verbose_names_tasks_that_run_long() {
    let p = slow_project("11");
    let out = prov_in(p.path(), p.path(), &[], &["apply", "slow.yml", "-i", "hosts.ini", "-v"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("  still running: command on a [1"), "{stdout}");
    let out = prov_in(p.path(), p.path(), &[], &["apply", "slow.yml", "-i", "hosts.ini", "-v", "--output", "json"]);
    let (stdout, _) = text(&out);
    assert!(!stdout.contains("still running"), "{stdout}");
}

/// `become_method: su` from ansible.cfg, `--become-method` and the inventory's
/// `ansible_become_method`, as ansible-core 2.19 (checked with ansible-playbook, connection
/// local, as root): su runs the command through the user's login shell, so becoming
/// `nobody` (shell nologin) fails with nologin's "This account is currently not available."
/// where sudo gives `nobody`; su to root gives `root`.
#[test]
fn become_method_su_from_ansible_cfg_flag_and_inventory_uses_the_users_login_shell() {
    let p = project();
    write(&p.path().join("hosts.ini"), "h1 ansible_connection=local\n");
    write(&p.path().join("inv_su.ini"), "h1 ansible_connection=local ansible_become_method=su\n");
    write(
        &p.path().join("who.yml"),
        "- hosts: h1\n  gather_facts: false\n  become: true\n  tasks:\n    - command: id -un\n      register: as_root\n    - assert: {that: [as_root.stdout == 'root']}\n    - command: id -un\n      become_user: nobody\n      register: as_nobody\n      ignore_errors: true\n    - debug: msg=\"who={{ as_nobody.stdout | default('') }} failed={{ as_nobody is failed }}\"\n",
    );
    let nologin = "who=This account is currently not available. failed=True";
    type Case<'a> = (&'a [(&'a str, &'a str)], &'a [&'a str], &'a str);
    let cases: [Case; 5] = [
        (&[], &["-i", "hosts.ini"], "who=nobody failed=False"),
        (&[("ANSIBLE_BECOME_METHOD", "su")], &["-i", "hosts.ini"], nologin),
        (&[], &["-i", "hosts.ini", "--become-method", "su"], nologin),
        (&[], &["-i", "inv_su.ini"], nologin),
        // The inventory's variable beats the command line's method, as in Ansible.
        (&[], &["-i", "inv_su.ini", "--become-method", "sudo"], nologin),
    ];
    for (env, args, want) in cases {
        let mut a = vec!["apply", "who.yml"];
        a.extend_from_slice(args);
        let out = prov_in(p.path(), p.path(), env, &a);
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(0), "{env:?} {args:?}: {stdout}\n{stderr}");
        assert!(stdout.contains(want), "{env:?} {args:?}: want {want}\n{stdout}\n{stderr}");
    }
    // The same from ansible.cfg's `[privilege_escalation] become_method`.
    write(&p.path().join("ansible.cfg"), "[privilege_escalation]\nbecome_method = su\n");
    let out = prov_in(p.path(), p.path(), &[], &["apply", "who.yml", "-i", "hosts.ini"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains(nologin), "{stdout}\n{stderr}");
}

/// su reads a password from a terminal, which prov cannot give it safely: a host with a
/// become password where a task escalates with su is refused before anything connects,
/// at the task, without showing the password. Other methods are refused naming the
/// supported ones.
#[test]
fn become_method_su_with_a_become_password_is_refused_before_connecting() {
    let p = project();
    write(
        &p.path().join("hosts.ini"),
        "h1 ansible_connection=local ansible_become_password=s3cret-pw\nh2 ansible_connection=local ansible_become_method=doas\n",
    );
    write(
        &p.path().join("su.yml"),
        "- hosts: h1\n  gather_facts: false\n  tasks:\n    - command: touch ran-before\n    - command: id -un\n      become: true\n      become_method: su\n",
    );
    let out = prov_in(p.path(), p.path(), &[], &["apply", "su.yml", "-i", "hosts.ini"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(4), "{stdout}\n{stderr}");
    assert!(stderr.contains("su.yml:5:7"), "{stderr}");
    assert!(stderr.contains("h1: become_method su with a become password (`ansible_become_password`)"), "{stderr}");
    assert!(!stdout.contains("s3cret-pw") && !stderr.contains("s3cret-pw"), "{stdout}\n{stderr}");
    assert!(!p.path().join("ran-before").exists(), "nothing ran");
    // sudo runs with -n: the password is not used, and nothing is refused.
    let sudo = std::fs::read_to_string(p.path().join("su.yml"))
        .expect("read")
        .replace("become_method: su", "become_method: sudo");
    write(&p.path().join("sudo.yml"), &sudo);
    let out = prov_in(p.path(), p.path(), &[], &["apply", "sudo.yml", "-i", "hosts.ini"]);
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
    // An unsupported method from the inventory.
    write(&p.path().join("sudo_h2.yml"), &sudo.replace("hosts: h1", "hosts: h2"));
    let out = prov_in(p.path(), p.path(), &[], &["apply", "sudo_h2.yml", "-i", "hosts.ini"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(4), "{stdout}\n{stderr}");
    assert!(stderr.contains("h2: ansible_become_method `doas` is not supported (prov supports sudo, su)"), "{stderr}");
}

/// ansible.cfg's `max_diff_size` (and `ANSIBLE_MAX_DIFF_SIZE`) is the size above which a diff
/// side is left out, as in ansible-core 2.19.14 (the registered diffs are its, on the same
/// play with `max_diff_size = 10`). prov warned that it does not use it and kept 104448.
#[test]
fn ansible_cfg_max_diff_size_bounds_the_diff() {
    let p = tempfile::tempdir().expect("tempdir");
    let out_file = p.path().join("out");
    let out = out_file.display().to_string();
    write(
        &p.path().join("site.yml"),
        &format!(
            "- hosts: localhost\n  gather_facts: false\n  tasks:\n    - copy: {{content: \"0123456789abcdef\\n\", dest: {out}}}\n      register: r1\n    - copy: {{content: \"short\\n\", dest: {out}}}\n      register: r2\n    - copy: {{content: \"tiny\\n\", dest: {out}}}\n      register: r3\n    - debug: {{msg: \"{{{{ [r1.diff, r2.diff, r3.diff] | to_json }}}}\"}}\n"
        ),
    );
    let want = format!(
        r#"[[{{"before": "", "src_larger": 10}}], [{{"dst_larger": 10, "after_header": "{out}", "after": "short\n"}}], [{{"before_header": "{out}", "before": "short\n", "after_header": "{out}", "after": "tiny\n"}}]]"#
    );
    let want: serde_json::Value = serde_json::from_str(&want).expect("JSON");
    for (cfg, env) in [("[defaults]\nmax_diff_size = 10\n", vec![]), ("", vec![("ANSIBLE_MAX_DIFF_SIZE", "10")])] {
        let _ = std::fs::remove_file(&out_file);
        write(&p.path().join("ansible.cfg"), cfg);
        let o = prov_in(p.path(), p.path(), &env, &["apply", "site.yml", "--diff", "--output", "json"]);
        let (stdout, stderr) = text(&o);
        assert_eq!(o.status.code(), Some(0), "{stdout}\n{stderr}");
        assert!(!stderr.contains("max_diff_size"), "{stderr}");
        let msg = stdout
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|e| e["event"] == "host_result" && e["module"] == "debug")
            .find_map(|e| e["msg"].as_str().map(str::to_string))
            .expect("debug");
        let got: serde_json::Value = serde_json::from_str(&msg).expect("JSON");
        assert_eq!(got, want, "{cfg:?} {env:?}");
    }
}
