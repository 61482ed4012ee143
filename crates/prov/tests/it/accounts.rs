//! ansible.builtin's `user` and `group` through the real binary on this machine
//! (`ansible_connection=local`), with throwaway accounts (`provu*`, `provug*`, `provgg*`, fixed
//! ids in 39xx, removed before and after) and homes in a temporary directory. Needs root and
//! the shadow utilities (`useradd`, `groupadd`). Differential: every registered result below
//! is what ansible-core 2.19 registered for the same playbook on this machine (recorded here:
//! CI has no Ansible), `{root}` standing for the temporary directory.

use crate::util::Work;
use std::process::Command;

/// Removes the accounts a test uses, before it (a run that died) and after it.
struct Accounts {
    users: &'static [&'static str],
    groups: &'static [&'static str],
}

impl Accounts {
    fn clear(&self) {
        for u in self.users {
            let _ = Command::new("userdel").args(["-r", "--", u]).output();
        }
        for g in self.groups {
            let _ = Command::new("groupdel").args(["--", g]).output();
        }
    }
}

impl Drop for Accounts {
    fn drop(&mut self) {
        self.clear();
    }
}

/// Runs `playbook` (each task registering `r`, then `debug: msg="{{ r | to_json }}"`) and
/// compares every registered result with ansible-core's, as JSON values (key order aside).
fn registered_as_ansible(file: &str, playbook: &str, want: &[(&str, &str)]) {
    let w = Work::new(&[(file, playbook)]);
    let root = w.root().display().to_string();
    let r = w.run(file, &[]);
    assert_eq!(r.code, 0, "{}", r.text);
    let got: Vec<serde_json::Value> = r
        .events
        .iter()
        .filter(|e| e["event"] == "host_result" && e["module"] == "debug")
        .map(|e| serde_json::from_str(e["msg"].as_str().expect("msg")).expect("json"))
        .collect();
    assert_eq!(got.len(), want.len(), "{}", r.text);
    let mut wrong = Vec::new();
    for (g, (task, w)) in got.iter().zip(want) {
        let w: serde_json::Value = serde_json::from_str(&w.replace("{root}", &root)).expect("literal");
        if g != &w {
            wrong.push(format!("task {task:?}:\n  prov:    {g}\n  ansible: {w}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

const USERS: &str = r#"- hosts: all
  gather_facts: false
  vars:
    h1: "$6$provsalt$1Xg8hQdV2k5lFqkI0Lhc9s0o5J3vYpQ8cV3wR2yT1uZ0aB4cD6eF8gH0iJ2kL4mN6oP8qR0sT2uV4wX6yZ8aB0"
    h2: "$6$provsalt$1Xg8hQdV2k5lFqkI0Lhc9s0o5J3vYpQ8cV3wR2yT1uZ0aB4cD6eF8gH0iJ2kL4mN6oP8qR0sT2uV4wX6yZ8aB1"
  tasks:
    - {group: {name: provug1, gid: 3931}}
    - {group: {name: provug2, gid: 3932}}
    - {group: {name: provug3, gid: 3933}}
    - {name: new user in check mode, user: {name: provu1, uid: 3941, group: provug1, groups: [provug2], shell: /bin/sh, home: "{{ root }}/provu1", comment: Prov One, password: "{{ h1 }}"}, check_mode: true, register: r}
    - {debug: {msg: "{{ r | to_json }}"}}
    - {name: new user, user: {name: provu1, uid: 3941, group: provug1, groups: [provug2], shell: /bin/sh, home: "{{ root }}/provu1", comment: Prov One, password: "{{ h1 }}"}, register: r}
    - {debug: {msg: "{{ r | to_json }}"}}
    - {name: unchanged user, user: {name: provu1, uid: 3941, group: provug1, groups: [provug2], shell: /bin/sh, home: "{{ root }}/provu1", comment: Prov One, password: "{{ h1 }}"}, register: r}
    - {debug: {msg: "{{ r | to_json }}"}}
    - {name: modified in check mode, user: {name: provu1, shell: /bin/bash, uid: 3942}, check_mode: true, register: r}
    - {debug: {msg: "{{ r | to_json }}"}}
    - {name: modified, user: {name: provu1, shell: /bin/bash, uid: 3942, comment: Prov 1}, register: r}
    - {debug: {msg: "{{ r | to_json }}"}}
    - {name: groups appended, user: {name: provu1, groups: "provug3", append: true}, register: r}
    - {debug: {msg: "{{ r | to_json }}"}}
    - {name: groups replaced, user: {name: provu1, groups: [provug3, provug2]}, register: r}
    - {debug: {msg: "{{ r | to_json }}"}}
    - {name: password in check mode, user: {name: provu1, password: "{{ h2 }}"}, check_mode: true, register: r}
    - {debug: {msg: "{{ r | to_json }}"}}
    - {name: password changed, user: {name: provu1, password: "{{ h2 }}"}, register: r}
    - {debug: {msg: "{{ r | to_json }}"}}
    - {name: password on_create, user: {name: provu1, password: "{{ h1 }}", update_password: on_create}, register: r}
    - {debug: {msg: "{{ r | to_json }}"}}
    - {name: home moved, user: {name: provu1, home: "{{ root }}/provu1m", move_home: true}, register: r}
    - {debug: {msg: "{{ r | to_json }}"}}
    - {name: home changed without its directory, user: {name: provu1, home: "{{ root }}/provu1n", create_home: false}, register: r}
    - {debug: {msg: "{{ r | to_json }}"}}
    - {name: missing home in check mode, user: {name: provu1}, check_mode: true, register: r}
    - {debug: {msg: "{{ r | to_json }}"}}
    - {name: missing home created, user: {name: provu1}, register: r}
    - {debug: {msg: "{{ r | to_json }}"}}
    - {name: system user, user: {name: provu2, uid: 3943, system: true, group: provug3, create_home: false, home: "{{ root }}/provu2"}, register: r}
    - {debug: {msg: "{{ r | to_json }}"}}
    - {name: removed in check mode, user: {name: provu2, state: absent}, check_mode: true, register: r}
    - {debug: {msg: "{{ r | to_json }}"}}
    - {name: removed, user: {name: provu2, state: absent}, register: r}
    - {debug: {msg: "{{ r | to_json }}"}}
    - {name: already absent, user: {name: provu2, state: absent}, register: r}
    - {debug: {msg: "{{ r | to_json }}"}}
    - {name: removed with home and force, user: {name: provu1, state: absent, remove: true, force: true}, register: r}
    - {debug: {msg: "{{ r | to_json }}"}}
    - {name: already absent in check mode, user: {name: provu1, state: absent}, check_mode: true, register: r}
    - {debug: {msg: "{{ r | to_json }}"}}
    - {group: {name: provug1, state: absent}}
    - {group: {name: provug2, state: absent}}
    - {group: {name: provug3, state: absent}}
"#;

/// What ansible.builtin.user registered for each task of [`USERS`].
const USERS_ANSIBLE: &[(&str, &str)] = &[
    ("new user in check mode", r#"{"changed": true, "failed": false}"#),
    (
        "new user",
        r#"{"name": "provu1", "state": "present", "system": false, "create_home": true, "password": "NOT_LOGGING_PASSWORD", "changed": true, "uid": 3941, "group": 3931, "comment": "Prov One", "home": "{root}/provu1", "shell": "/bin/sh", "groups": "provug2", "failed": false}"#,
    ),
    (
        "unchanged user",
        r#"{"name": "provu1", "state": "present", "append": false, "move_home": false, "password": "NOT_LOGGING_PASSWORD", "changed": false, "uid": 3941, "group": 3931, "comment": "Prov One", "home": "{root}/provu1", "shell": "/bin/sh", "groups": "provug2", "failed": false}"#,
    ),
    (
        "modified in check mode",
        r#"{"name": "provu1", "state": "present", "append": false, "move_home": false, "changed": true, "uid": 3941, "group": 3931, "comment": "Prov One", "home": "{root}/provu1", "shell": "/bin/sh", "failed": false}"#,
    ),
    (
        "modified",
        r#"{"name": "provu1", "state": "present", "append": false, "move_home": false, "changed": true, "uid": 3942, "group": 3931, "comment": "Prov 1", "home": "{root}/provu1", "shell": "/bin/bash", "failed": false}"#,
    ),
    (
        "groups appended",
        r#"{"name": "provu1", "state": "present", "append": true, "move_home": false, "changed": true, "uid": 3942, "group": 3931, "comment": "Prov 1", "home": "{root}/provu1", "shell": "/bin/bash", "groups": "provug3", "failed": false}"#,
    ),
    (
        "groups replaced",
        r#"{"name": "provu1", "state": "present", "append": false, "move_home": false, "changed": false, "uid": 3942, "group": 3931, "comment": "Prov 1", "home": "{root}/provu1", "shell": "/bin/bash", "groups": "provug3,provug2", "failed": false}"#,
    ),
    (
        "password in check mode",
        r#"{"name": "provu1", "state": "present", "append": false, "move_home": false, "password": "NOT_LOGGING_PASSWORD", "changed": true, "uid": 3942, "group": 3931, "comment": "Prov 1", "home": "{root}/provu1", "shell": "/bin/bash", "failed": false}"#,
    ),
    (
        "password changed",
        r#"{"name": "provu1", "state": "present", "append": false, "move_home": false, "password": "NOT_LOGGING_PASSWORD", "changed": true, "uid": 3942, "group": 3931, "comment": "Prov 1", "home": "{root}/provu1", "shell": "/bin/bash", "failed": false}"#,
    ),
    (
        "password on_create",
        r#"{"name": "provu1", "state": "present", "append": false, "move_home": false, "password": "NOT_LOGGING_PASSWORD", "changed": false, "uid": 3942, "group": 3931, "comment": "Prov 1", "home": "{root}/provu1", "shell": "/bin/bash", "failed": false}"#,
    ),
    (
        "home moved",
        r#"{"name": "provu1", "state": "present", "append": false, "move_home": true, "changed": true, "uid": 3942, "group": 3931, "comment": "Prov 1", "home": "{root}/provu1m", "shell": "/bin/bash", "failed": false}"#,
    ),
    (
        "home changed without its directory",
        r#"{"name": "provu1", "state": "present", "append": false, "move_home": false, "changed": true, "uid": 3942, "group": 3931, "comment": "Prov 1", "home": "{root}/provu1n", "shell": "/bin/bash", "failed": false}"#,
    ),
    (
        "missing home in check mode",
        r#"{"name": "provu1", "state": "present", "append": false, "move_home": false, "changed": true, "uid": 3942, "group": 3931, "comment": "Prov 1", "home": "{root}/provu1n", "shell": "/bin/bash", "failed": false}"#,
    ),
    (
        "missing home created",
        r#"{"name": "provu1", "state": "present", "append": false, "move_home": false, "changed": true, "uid": 3942, "group": 3931, "comment": "Prov 1", "home": "{root}/provu1n", "shell": "/bin/bash", "failed": false}"#,
    ),
    (
        "system user",
        r#"{"name": "provu2", "state": "present", "system": true, "create_home": false, "changed": true, "stderr": "useradd warning: provu2's uid 3943 is greater than SYS_UID_MAX 999\n", "uid": 3943, "group": 3933, "comment": "", "home": "{root}/provu2", "shell": "/bin/sh", "stderr_lines": ["useradd warning: provu2's uid 3943 is greater than SYS_UID_MAX 999"], "failed": false}"#,
    ),
    ("removed in check mode", r#"{"changed": true, "failed": false}"#),
    (
        "removed",
        r#"{"name": "provu2", "state": "absent", "force": false, "remove": false, "changed": true, "failed": false}"#,
    ),
    ("already absent", r#"{"name": "provu2", "state": "absent", "changed": false, "failed": false}"#),
    (
        "removed with home and force",
        r#"{"name": "provu1", "state": "absent", "force": true, "remove": true, "changed": true, "stderr": "userdel: provu1 mail spool (/var/mail/provu1) not found\n", "stderr_lines": ["userdel: provu1 mail spool (/var/mail/provu1) not found"], "failed": false}"#,
    ),
    ("already absent in check mode", r#"{"name": "provu1", "state": "absent", "changed": false, "failed": false}"#),
];

#[test]
fn user_registers_what_ansible_user_registers_when_creating_changing_and_removing() {
    let acc = Accounts { users: &["provu1", "provu2"], groups: &["provug1", "provug2", "provug3"] };
    acc.clear();
    registered_as_ansible("users.yml", USERS, USERS_ANSIBLE);
}

const GROUPS: &str = r#"- hosts: all
  gather_facts: false
  tasks:
    - {name: new group in check mode, group: {name: provgg1, gid: 3951}, check_mode: true, register: r}
    - {debug: {msg: "{{ r | to_json }}"}}
    - {name: new group, group: {name: provgg1, gid: 3951}, register: r}
    - {debug: {msg: "{{ r | to_json }}"}}
    - {name: unchanged group, group: {name: provgg1, gid: 3951}, register: r}
    - {debug: {msg: "{{ r | to_json }}"}}
    - {name: unchanged without gid, group: {name: provgg1}, register: r}
    - {debug: {msg: "{{ r | to_json }}"}}
    - {name: gid changed in check mode, group: {name: provgg1, gid: 3952}, check_mode: true, register: r}
    - {debug: {msg: "{{ r | to_json }}"}}
    - {name: gid changed, group: {name: provgg1, gid: 3952}, register: r}
    - {debug: {msg: "{{ r | to_json }}"}}
    - {name: new system group, group: {name: provgg2, gid: 3953, system: true}, register: r}
    - {debug: {msg: "{{ r | to_json }}"}}
    - {name: system group unchanged, group: {name: provgg2, system: true}, register: r}
    - {debug: {msg: "{{ r | to_json }}"}}
    - {name: removed in check mode, group: {name: provgg2, state: absent}, check_mode: true, register: r}
    - {debug: {msg: "{{ r | to_json }}"}}
    - {name: removed, group: {name: provgg2, state: absent}, register: r}
    - {debug: {msg: "{{ r | to_json }}"}}
    - {name: already absent, group: {name: provgg2, state: absent}, register: r}
    - {debug: {msg: "{{ r | to_json }}"}}
    - {name: removed too, group: {name: provgg1, state: absent}, register: r}
    - {debug: {msg: "{{ r | to_json }}"}}
    - {name: already absent in check mode, group: {name: provgg1, state: absent}, check_mode: true, register: r}
    - {debug: {msg: "{{ r | to_json }}"}}
"#;

/// What ansible.builtin.group registered for each task of [`GROUPS`].
const GROUPS_ANSIBLE: &[(&str, &str)] = &[
    ("new group in check mode", r#"{"changed": true, "failed": false}"#),
    (
        "new group",
        r#"{"name": "provgg1", "state": "present", "changed": true, "system": false, "gid": 3951, "failed": false}"#,
    ),
    (
        "unchanged group",
        r#"{"name": "provgg1", "state": "present", "changed": false, "system": false, "gid": 3951, "failed": false}"#,
    ),
    (
        "unchanged without gid",
        r#"{"name": "provgg1", "state": "present", "changed": false, "system": false, "gid": 3951, "failed": false}"#,
    ),
    (
        "gid changed in check mode",
        r#"{"name": "provgg1", "state": "present", "changed": true, "system": false, "gid": 3951, "failed": false}"#,
    ),
    (
        "gid changed",
        r#"{"name": "provgg1", "state": "present", "changed": true, "system": false, "gid": 3952, "failed": false}"#,
    ),
    (
        "new system group",
        r#"{"name": "provgg2", "state": "present", "changed": true, "system": true, "gid": 3953, "failed": false}"#,
    ),
    (
        "system group unchanged",
        r#"{"name": "provgg2", "state": "present", "changed": false, "system": true, "gid": 3953, "failed": false}"#,
    ),
    ("removed in check mode", r#"{"changed": true, "failed": false}"#),
    ("removed", r#"{"name": "provgg2", "state": "absent", "changed": true, "failed": false}"#),
    ("already absent", r#"{"name": "provgg2", "state": "absent", "changed": false, "failed": false}"#),
    ("removed too", r#"{"name": "provgg1", "state": "absent", "changed": true, "failed": false}"#),
    ("already absent in check mode", r#"{"name": "provgg1", "state": "absent", "changed": false, "failed": false}"#),
];

#[test]
fn group_registers_what_ansible_group_registers_when_creating_changing_and_removing() {
    let acc = Accounts { users: &[], groups: &["provgg1", "provgg2"] };
    acc.clear();
    registered_as_ansible("groups.yml", GROUPS, GROUPS_ANSIBLE);
}

/// `user` with `generate_ssh_key` (weareinteractive.users and others make keys this way): the
/// key pair is made once in `~/.ssh` (0700, both owned by the account), then left alone with
/// ansible-core's warning; another type and file makes another. The registered fields are
/// ansible-core 2.19.14's: `ssh_fingerprint` (`ssh-keygen -l`), `ssh_key_file`,
/// `ssh_public_key`, with the comment `ansible-generated on HOST` unless given.
#[test]
fn user_generates_an_ssh_key_once_as_ansible_user() {
    let accounts = Accounts { users: &["provukey"], groups: &[] };
    accounts.clear();
    let w = Work::new(&[]);
    let home = w.root().join("provukey");
    let play = format!(
        r#"- hosts: all
  gather_facts: false
  tasks:
    - user: {{name: provukey, home: "{home}", generate_ssh_key: true, ssh_key_bits: 2048}}
      register: u1
    - user: {{name: provukey, home: "{home}", generate_ssh_key: true, ssh_key_bits: 2048}}
      register: u2
    - user: {{name: provukey, home: "{home}", generate_ssh_key: true, ssh_key_type: ed25519, ssh_key_file: .ssh/id_ed25519, ssh_key_comment: "me@x"}}
      register: u3
    - debug: msg="{{{{ [u1, u2, u3] | to_json }}}}"
"#,
        home = home.display()
    );
    std::fs::write(w.root().join("../key.yml"), play).expect("playbook");
    let r = w.run("key.yml", &[]);
    assert_eq!(r.code, 0, "{}", r.text);
    let shown = r.events.iter().find(|e| e["event"] == "host_result" && e["module"] == "debug").expect("debug");
    let got: Vec<serde_json::Value> = serde_json::from_str(shown["msg"].as_str().expect("msg")).expect("JSON");
    let host = String::from_utf8_lossy(&Command::new("hostname").output().expect("hostname").stdout).trim().to_string();
    let key = format!("{}/.ssh/id_rsa", home.display());
    assert_eq!(
        (&got[0]["changed"], &got[1]["changed"], &got[2]["changed"]),
        (&serde_json::json!(true), &serde_json::json!(false), &serde_json::json!(true))
    );
    assert_eq!(got[0]["ssh_key_file"], key.as_str());
    let fp = got[0]["ssh_fingerprint"].as_str().unwrap_or_default();
    assert!(fp.starts_with("2048 SHA256:") && fp.ends_with(&format!(" ansible-generated on {host} (RSA)")), "{fp}");
    let public = std::fs::read_to_string(format!("{key}.pub")).expect("public key");
    assert_eq!(got[0]["ssh_public_key"], public.trim());
    assert_eq!(got[1]["ssh_public_key"], public.trim(), "the key is kept");
    assert_eq!(
        got[1]["warnings"][0],
        format!("Found existing ssh key private file \"{key}\", no force, so skipping ssh-keygen generation")
    );
    assert!(got[2]["ssh_fingerprint"].as_str().unwrap_or_default().ends_with(" me@x (ED25519)"), "{}", got[2]);
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let ssh = std::fs::metadata(home.join(".ssh")).expect(".ssh");
    let private = std::fs::metadata(&key).expect("key");
    let uid = std::fs::metadata(&home).expect("home").uid();
    assert_eq!((ssh.permissions().mode() & 0o777, ssh.uid(), private.uid()), (0o700, uid, uid));
}

/// `password_expire_min`, `_max` and `_warn` set the password's ageing with `chage`, only for
/// the values that differ from the shadow entry (in check mode too), as ansible-core 2.19.14
/// did for the same play: changed, unchanged, changed for one value given as a string, and
/// chage's error output as the failure. prov refused the arguments (dev-sec's os_hardening sets
/// them).
#[test]
fn user_sets_password_ageing_as_ansible_user() {
    let accounts = Accounts { users: &["provuexp"], groups: &["provuexp"] };
    accounts.clear();
    let w = Work::new(&[]);
    let play = r#"- hosts: all
  gather_facts: false
  tasks:
    - user: {name: provuexp, uid: 3977, password_expire_min: 5, password_expire_max: 90, password_expire_warn: 7, create_home: false}
      register: u1
      check_mode: true
    - user: {name: provuexp, uid: 3977, password_expire_min: 5, password_expire_max: 90, password_expire_warn: 7, create_home: false}
      register: u2
    - user: {name: provuexp, password_expire_min: 5, password_expire_max: 90, password_expire_warn: 7, create_home: false}
      register: u3
    - user: {name: provuexp, password_expire_max: "60", create_home: false}
      register: u4
      check_mode: true
    - user: {name: provuexp, password_expire_max: "60", create_home: false}
      register: u5
    - command: getent shadow provuexp
      register: s1
    - user: {name: provuexp, password_expire_warn: -5, create_home: false}
      register: u6
      ignore_errors: true
    - debug: msg="{{ [u1, u2, u3, u4, u5, s1.stdout.split(':')[3:6], u6] | to_json }}"
"#;
    std::fs::write(w.root().join("../expire.yml"), play).expect("playbook");
    let r = w.run("expire.yml", &[]);
    assert_eq!(r.code, 0, "{}", r.text);
    let shown = r.events.iter().find(|e| e["event"] == "host_result" && e["module"] == "debug").expect("debug");
    let mut got: Vec<serde_json::Value> = serde_json::from_str(shown["msg"].as_str().expect("msg")).expect("JSON");
    let gid = got[1]["group"].clone();
    let account = |changed: bool, created: bool| {
        let mut v = serde_json::json!({"name": "provuexp", "state": "present", "changed": changed, "uid": 3977, "group": gid,
            "comment": "", "home": "/home/provuexp", "shell": "/bin/sh", "failed": false});
        if created {
            v["system"] = false.into();
            v["create_home"] = false.into();
        } else {
            v["append"] = false.into();
            v["move_home"] = false.into();
        }
        v
    };
    assert_eq!(got[0], serde_json::json!({"changed": true, "failed": false}));
    assert_eq!(got[1], account(true, true));
    assert_eq!(got[2], account(false, false));
    assert_eq!(got[3], account(true, false));
    assert_eq!(got[4], account(true, false));
    assert_eq!(got[5], serde_json::json!(["5", "60", "7"]));
    got[6].as_object_mut().expect("result").remove("exception");
    let msg = got[6]["msg"].as_str().unwrap_or_default().to_string();
    assert!(msg.starts_with("chage: invalid numeric argument '-5'\nUsage: chage [options] LOGIN\n"), "{msg}");
    assert_eq!(got[6], serde_json::json!({"name": "provuexp", "rc": 2, "failed": true, "changed": false, "msg": msg}));
}
