//! ansible.builtin's `cron` through the real binary on this machine (`ansible_connection=local`),
//! against the crontab of a throwaway user (created for the test and removed after it, never
//! root's) and cron files in a temporary directory. Needs root and `crontab` (the `cron`
//! package; `scripts/install-prereqs tests`). Differential: every expected crontab, file,
//! counter and registered value below is what ansible-core 2.19 gave for the same playbook on
//! the same crontab (recorded here: CI has no Ansible).

use crate::util::Work;
use std::io::Write;
use std::process::{Command, Stdio};

/// A user of its own for one test, removed with its crontab when dropped.
struct ScratchUser(String);

impl ScratchUser {
    fn new() -> ScratchUser {
        let name = format!("provcron{}", std::process::id());
        let out =
            Command::new("useradd").args(["-M", "-s", "/usr/sbin/nologin", &name]).output().expect("useradd runs");
        assert!(out.status.success(), "useradd {name}: {}", String::from_utf8_lossy(&out.stderr));
        ScratchUser(name)
    }

    fn set_crontab(&self, text: &str) {
        let mut c = Command::new("crontab").args(["-u", &self.0, "-"]).stdin(Stdio::piped()).spawn().expect("crontab");
        c.stdin.take().expect("stdin").write_all(text.as_bytes()).expect("write");
        assert!(c.wait().expect("crontab ends").success());
    }

    fn crontab(&self) -> String {
        let out = Command::new("crontab").args(["-u", &self.0, "-l"]).output().expect("crontab -l");
        String::from_utf8(out.stdout).expect("text")
    }
}

impl Drop for ScratchUser {
    fn drop(&mut self) {
        let _ = Command::new("crontab").args(["-u", &self.0, "-r"]).output();
        let _ = Command::new("userdel").arg(&self.0).output();
    }
}

const SITE: &str = r#"- hosts: all
  gather_facts: false
  vars:
    d: "{{ root }}/cron.d"
  tasks:
    - name: new job
      cron: {name: check dirs, minute: "0", hour: "5,2", job: "ls -alh > /dev/null", user: "{{ u }}"}
      register: r1
    - name: reboot job
      ansible.builtin.cron: {name: boot, special_time: reboot, job: /some/job.sh, user: "{{ u }}"}
      register: r2
    - name: env on top
      cron: {name: PATH, env: true, job: /opt/bin, user: "{{ u }}"}
      register: r3
    - name: env after
      cron: {name: APP_HOME, env: yes, value: /srv/app, insertafter: PATH, user: "{{ u }}"}
      register: r4
    - name: env before
      cron: {name: FIRST, env: yes, value: "1", insertbefore: SHELL, user: "{{ u }}"}
      register: r5
    - name: disabled job
      cron: {name: off, job: /bin/off, disabled: true, weekday: 1, dom: 2, user: "{{ u }}"}
      register: r6
    - name: adopted job
      cron: {name: adopt, minute: 5, hour: 4, job: /bin/adopt, user: "{{ u }}"}
      register: r7
    - name: updated job
      cron: {name: old, minute: 30, job: /bin/old, user: "{{ u }}", backup: true}
      register: r8
    - name: removed job
      cron: {name: gone, state: absent, user: "{{ u }}"}
      register: r9
    - name: removed env
      cron: {name: OLDVAR, env: true, state: absent, user: "{{ u }}"}
      register: r10
    - name: missing job absent
      cron: {name: never, state: absent, user: "{{ u }}"}
      register: r11
    - name: cron file new
      cron: {name: yum autoupdate, weekday: "2", minute: "0", hour: "12", user: root, job: "YUMINTERACTIVE=0 /usr/sbin/yum-autoupdate", cron_file: "{{ d }}/ansible_yum-autoupdate"}
      register: r12
    - name: cron file second job
      cron: {name: daily, special_time: daily, user: nobody, job: /bin/daily, cron_file: "{{ d }}/ansible_yum-autoupdate"}
      register: r13
    - name: cron file emptied
      cron: {name: only, cron_file: "{{ d }}/single", state: absent}
      register: r14
    - name: cron file without final newline
      cron: {name: keep, cron_file: "{{ d }}/nonl", user: root, minute: 1, hour: 2, day: 3, month: 4, weekday: 5, job: /bin/keep}
      register: r15
    - name: env var not found
      cron: {name: NEWV, env: true, job: x, insertafter: NOPE, user: "{{ u }}"}
      register: r16
      ignore_errors: true
    - name: as ansible.builtin.cron registered them
      assert:
        that:
          - r1.jobs == ['old', 'gone', 'check dirs'] and r1.envs == ['SHELL', 'OLDVAR']
          - r5.envs == ['PATH', 'APP_HOME', 'FIRST', 'SHELL', 'OLDVAR']
          - r7.jobs == ['old', 'gone', 'adopt', 'check dirs', 'boot', 'False']
          - r8.backup_file is search('^/tmp/crontab.{8}$') and r9.jobs == ['old', 'adopt', 'check dirs', 'boot', 'False']
          - r10.envs == ['PATH', 'APP_HOME', 'FIRST', 'SHELL'] and not r11.changed
          - r12.cron_file == d ~ '/ansible_yum-autoupdate' and r12.envs == [] and r13.jobs == ['yum autoupdate', 'daily']
          - r14.changed and r14.state == 'absent' and r14.cron_file == d ~ '/single' and r14.jobs is not defined
          - r15.changed and r15.envs == ['X'] and r15.jobs == ['keep']
          - r16.failed and r16.msg == "Variable named 'NOPE' not found."
      when: first | default(false) | bool
    - name: backup file
      debug: {msg: "{{ r8.backup_file }}"}
      when: first | default(false) | bool
"#;

/// The scratch user's crontab before [`SITE`] (no final newline).
const START: &str = "SHELL=/bin/sh\nOLDVAR=1\n#Ansible: old\n0 1 * * * /bin/old\n#Ansible: gone\n* * * * * /bin/gone\n5 4 * * * /bin/adopt\n# plain comment";

/// The crontab ansible.builtin.cron left after [`SITE`].
const AFTER: &str = "PATH=\"/opt/bin\"\nAPP_HOME=\"/srv/app\"\nFIRST=\"1\"\nSHELL=/bin/sh\n#Ansible: old\n30 * * * * /bin/old\n#Ansible: adopt\n5 4 * * * /bin/adopt\n# plain comment\n#Ansible: check dirs\n0 5,2 * * * ls -alh > /dev/null\n#Ansible: boot\n@reboot /some/job.sh\n#Ansible: False\n#* * 2 * 1 /bin/off\n";

/// What the backup of task `updated job` held: the crontab before it.
const BEFORE_OLD: &str = "PATH=\"/opt/bin\"\nAPP_HOME=\"/srv/app\"\nFIRST=\"1\"\nSHELL=/bin/sh\nOLDVAR=1\n#Ansible: old\n0 1 * * * /bin/old\n#Ansible: gone\n* * * * * /bin/gone\n#Ansible: adopt\n5 4 * * * /bin/adopt\n# plain comment\n#Ansible: check dirs\n0 5,2 * * * ls -alh > /dev/null\n#Ansible: boot\n@reboot /some/job.sh\n#Ansible: False\n#* * 2 * 1 /bin/off\n";

#[test]
fn cron_edits_a_user_crontab_and_cron_files_as_ansible_does() {
    let user = ScratchUser::new();
    let w = Work::new(&[("site.yml", SITE)]);
    let d = w.root().join("cron.d");
    std::fs::create_dir_all(&d).expect("mkdir");
    std::fs::write(d.join("single"), "#Ansible: only\n0 0 * * * root /bin/only\n").expect("single");
    std::fs::write(d.join("nonl"), "X=1\n#Ansible: keep\n1 2 3 4 5 root /bin/keep").expect("nonl");
    user.set_crontab(START);
    let u = format!("u={}", user.0);

    let r = w.run("site.yml", &["-e", &u, "--check", "--diff"]);
    let recap = r.events.iter().rev().find(|e| e["event"] == "recap").expect("recap");
    let failed = recap["hosts"][0]["failed"].as_u64();
    assert_eq!((r.code, r.counts(), failed), (2, (3, 3), Some(1)), "ansible: ok=3 changed=3 failed=1\n{}", r.text);
    let env_after =
        r.events.iter().find(|e| e["event"] == "host_result" && e["name"] == "env after").expect("env after");
    assert_eq!(env_after["msg"], "Variable named 'PATH' not found.", "PATH was not written in check mode");
    let first = r.events.iter().find(|e| e["event"] == "host_result").expect("a result");
    let after = format!("{START}\n#Ansible: check dirs\n0 5,2 * * * ls -alh > /dev/null\n");
    assert_eq!((first["diff"][0]["before"].as_str(), first["diff"][0]["after"].as_str()), (Some(START), Some(&*after)));
    assert_eq!(user.crontab(), START, "check mode wrote the crontab");
    assert!(d.join("single").exists());

    let r = w.run("site.yml", &["-e", &u, "-e", "first=true"]);
    let backup = r
        .events
        .iter()
        .find(|e| e["event"] == "host_result" && e["name"] == "backup file")
        .and_then(|e| e["msg"].as_str())
        .expect("backup");
    let kept = std::fs::read_to_string(backup);
    let _ = std::fs::remove_file(backup);
    assert_eq!(kept.expect("the backup file"), BEFORE_OLD, "the bytes ansible.builtin.cron backed up");
    assert_eq!(
        (r.code, r.counts()),
        (0, (18, 14)),
        "ansible, for the 16 cron tasks: ok=16 changed=14 ignored=1; here also assert and debug\n{}",
        r.text
    );
    assert_eq!(user.crontab(), AFTER, "the crontab ansible.builtin.cron wrote");
    let read = |f: &str| std::fs::read_to_string(d.join(f)).unwrap_or_default();
    assert_eq!(
        read("ansible_yum-autoupdate"),
        "#Ansible: yum autoupdate\n0 12 * * 2 root YUMINTERACTIVE=0 /usr/sbin/yum-autoupdate\n#Ansible: daily\n@daily nobody /bin/daily\n"
    );
    assert_eq!(read("nonl"), "X=1\n#Ansible: keep\n1 2 3 4 5 root /bin/keep\n");
    assert!(!d.join("single").exists(), "a cron file left without jobs is removed");
    let r = w.run("site.yml", &["-e", &u]);
    assert_eq!((r.code, r.counts()), (0, (16, 0)), "second run changes nothing\n{}", r.text);
    let r = w.run("site.yml", &["-e", &u, "--check"]);
    assert_eq!((r.code, r.counts()), (0, (16, 0)), "nor does check mode\n{}", r.text);
    assert_eq!(user.crontab(), AFTER);
}
