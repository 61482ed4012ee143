//! `amazon.aws.ec2_instance` against moto's EC2: the results prov registers, compared with
//! those ansible-playbook registers for the same playbook (ansible-core 2.19.14, amazon.aws of
//! `ansible` 12.3.0, boto3), recorded in `results/ec2_instance.json` after normalization
//! (what moto makes up is numbered in the order met, the orders Python's sets give are
//! sorted). Each tool runs on a fresh moto. To record again:
//! `PROV_ORACLE_ANSIBLE_PLAYBOOK=/path/to/venv/bin/ansible-playbook ANSIBLE_COLLECTIONS_PATH=...`
//! (a venv with ansible-core and boto3).

use crate::moto::{Moto, Normalizer};
use crate::util::text;
use serde_json::{Map, Value as Json};
use std::path::Path;
use std::process::Command;

const RECORDED: &str = "tests/it/results/ec2_instance.json";

/// Create (in check mode, then for real), again, re-tag, purge tags, stop twice, start in
/// check mode, change the type, protect, restart, count up to two, a launch without an image
/// (fails), stop by `filters` without waiting, terminate twice; every result dumped.
const PLAYBOOK: &str = r##"- hosts: localhost
  connection: local
  gather_facts: false
  vars:
    aws: &aws
      endpoint_url: "{{ endpoint }}"
      region: us-east-1
  tasks:
    - name: create_check
      amazon.aws.ec2_instance:
        <<: *aws
        name: web-1
        image_id: ami-12345678
        instance_type: t3.micro
        security_group: default
        tags: {role: web}
      check_mode: true
      register: create_check
    - name: create
      amazon.aws.ec2_instance:
        <<: *aws
        name: web-1
        image_id: ami-12345678
        instance_type: t3.micro
        security_group: default
        tags: {role: web}
        user_data: "#!/bin/sh\necho hi\n"
      register: create
    - name: again
      amazon.aws.ec2_instance:
        <<: *aws
        name: web-1
        image_id: ami-12345678
        instance_type: t3.micro
        security_group: default
        tags: {role: web}
      register: again
    - name: retag
      amazon.aws.ec2_instance:
        <<: *aws
        name: web-1
        tags: {role: db, tier: 2}
        purge_tags: false
      register: retag
    - name: purge
      amazon.aws.ec2_instance:
        <<: *aws
        name: web-1
        tags: {env: prod}
      register: purge
    - name: stop
      amazon.aws.ec2_instance:
        <<: *aws
        name: web-1
        state: stopped
      register: stop
    - name: stop_again
      amazon.aws.ec2_instance:
        <<: *aws
        name: web-1
        state: stopped
      register: stop_again
    - name: start_check
      amazon.aws.ec2_instance:
        <<: *aws
        name: web-1
        state: running
      check_mode: true
      register: start_check
    - name: retype
      amazon.aws.ec2_instance:
        <<: *aws
        name: web-1
        instance_type: t3.small
      register: retype
    - name: protect
      amazon.aws.ec2_instance:
        <<: *aws
        name: web-1
        termination_protection: true
      register: protect
    - name: restart
      amazon.aws.ec2_instance:
        <<: *aws
        name: web-1
        state: restarted
      register: restart
    - name: unprotect
      amazon.aws.ec2_instance:
        <<: *aws
        name: web-1
        termination_protection: false
        state: started
      register: unprotect
    - name: two
      amazon.aws.ec2_instance:
        <<: *aws
        name: web-1
        image_id: ami-12345678
        instance_type: t3.small
        exact_count: 2
      register: two
    - name: two_again
      amazon.aws.ec2_instance:
        <<: *aws
        name: web-1
        image_id: ami-12345678
        instance_type: t3.small
        exact_count: 2
      register: two_again
    - name: no_image
      amazon.aws.ec2_instance:
        <<: *aws
        name: db-1
        instance_type: t3.small
      ignore_errors: true
      register: no_image
    - name: by_filter
      amazon.aws.ec2_instance:
        <<: *aws
        filters:
          "tag:Name": web-1
          instance_state_name: running
        state: stopped
        wait: false
      register: by_filter
    - name: absent
      amazon.aws.ec2_instance:
        <<: *aws
        name: web-1
        state: absent
      register: absent
    - name: absent_again
      amazon.aws.ec2_instance:
        <<: *aws
        name: web-1
        state: absent
      register: absent_again
    - name: dump
      copy:
        dest: "{{ out }}"
        content: "{{ {'create_check': create_check, 'create': create, 'again': again, 'retag': retag, 'purge': purge, 'stop': stop, 'stop_again': stop_again, 'start_check': start_check, 'retype': retype, 'protect': protect, 'restart': restart, 'unprotect': unprotect, 'two': two, 'two_again': two_again, 'no_image': no_image, 'by_filter': by_filter, 'absent': absent, 'absent_again': absent_again} | to_nice_json }}"
"##;

fn env(c: &mut Command) {
    crate::moto::test_credentials(c);
    c.env_remove("AWS_REGION").env("NO_COLOR", "1");
}

/// Runs the playbook with `tool` (prov, or ansible-playbook) on a fresh moto; the dumped
/// results.
fn results(tool: &Path, oracle: bool) -> Json {
    let moto = Moto::start();
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("site.yml"), PLAYBOOK).expect("playbook");
    let out = dir.path().join("results.json");
    let endpoint = format!("endpoint={}", moto.endpoint());
    let dest = format!("out={}", out.display());
    let mut c = Command::new(tool);
    if !oracle {
        c.arg("apply");
    }
    c.args(["site.yml", "-i", "localhost,", "-e", &endpoint, "-e", &dest]).current_dir(dir.path());
    if oracle {
        let python = tool.with_file_name("python");
        c.args(["-e", &format!("ansible_python_interpreter={}", python.display())]);
    }
    env(&mut c);
    let o = c.output().expect("the tool runs");
    let (stdout, stderr) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("ok=19") && stdout.contains("changed=14") && stdout.contains("ignored=1"), "{stdout}");
    serde_json::from_str(&std::fs::read_to_string(&out).expect("results dumped")).expect("JSON")
}

/// Drops what only ansible-playbook registers (`invocation`, `_ansible_*`) and the warnings.
fn strip(v: &Json) -> Json {
    match v {
        Json::Object(m) => Json::Object(
            m.iter()
                .filter(|(k, _)| {
                    !matches!(k.as_str(), "invocation" | "warnings" | "deprecations") && !k.starts_with("_ansible")
                })
                .map(|(k, x)| (k.clone(), strip(x)))
                .collect(),
        ),
        Json::Array(a) => Json::Array(a.iter().map(strip).collect()),
        other => other.clone(),
    }
}

/// Each task's result normalized on its own; lists the module builds from a Python set sorted.
fn normalize(all: &Json) -> Json {
    let mut out = Map::new();
    for (task, r) in all.as_object().expect("results by task") {
        let mut v = Normalizer::new().value(&strip(r));
        if let Some(m) = v.as_object_mut() {
            for (k, x) in m.iter_mut() {
                if k.ends_with("_success") || k.ends_with("_failed") {
                    if let Some(items) = x.as_array_mut() {
                        items.sort_by_key(|i| i.to_string());
                    }
                }
            }
        }
        out.insert(task.clone(), v);
    }
    Json::Object(out)
}

#[test]
fn ec2_instance_registers_what_amazon_aws_registers() {
    let got = normalize(&results(Path::new(env!("CARGO_BIN_EXE_prov")), false));
    let recorded = Path::new(env!("CARGO_MANIFEST_DIR")).join(RECORDED);
    if let Some(bin) = std::env::var_os("PROV_ORACLE_ANSIBLE_PLAYBOOK") {
        let oracle = normalize(&results(Path::new(&bin), true));
        std::fs::write(&recorded, serde_json::to_string_pretty(&oracle).expect("json") + "\n").expect("record");
    }
    let want: Json =
        serde_json::from_str(&std::fs::read_to_string(&recorded).expect("recorded results")).expect("JSON");
    for (task, w) in want.as_object().expect("tasks") {
        assert_eq!(
            &got[task],
            w,
            "{task}: prov registers\n{}\nansible-playbook registers\n{}",
            serde_json::to_string_pretty(&got[task]).unwrap_or_default(),
            serde_json::to_string_pretty(w).unwrap_or_default()
        );
    }
    assert_eq!(got.as_object().map(Map::len), want.as_object().map(Map::len));
    // The second runs of the same task change nothing; check mode changed nothing either
    // (the real create then creates the one instance).
    for task in ["again", "stop_again", "two_again", "absent_again"] {
        assert_eq!(got[task]["changed"], false, "{task}");
    }
    assert_eq!(got["create"]["instance_ids"].as_array().map(Vec::len), Some(1));
}

#[test]
fn ec2_instance_arguments_prov_lacks_are_refused_before_connecting() {
    let dir = tempfile::tempdir().expect("tempdir");
    let site = "- hosts: localhost\n  connection: local\n  gather_facts: false\n  tasks:\n    - amazon.aws.ec2_instance:\n        name: a\n        volumes: []\n";
    std::fs::write(dir.path().join("site.yml"), site).expect("playbook");
    let mut c = Command::new(env!("CARGO_BIN_EXE_prov"));
    c.args(["apply", "site.yml", "-i", "localhost,"]).current_dir(dir.path());
    env(&mut c);
    // No endpoint at all: a call would fail differently (and slowly).
    c.env("AWS_ENDPOINT_URL", "http://127.0.0.1:9");
    let o = c.output().expect("prov runs");
    let (stdout, stderr) = text(&o);
    assert_eq!(o.status.code(), Some(4), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("site.yml:5:7") && stderr.contains("prov does not support volumes of amazon.aws.ec2_instance"),
        "{stderr}"
    );
}

#[test]
fn ec2_instance_on_a_host_other_than_the_controller_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let site = "- hosts: box\n  gather_facts: false\n  tasks:\n    - amazon.aws.ec2_instance:\n        name: a\n        state: absent\n";
    std::fs::write(dir.path().join("site.yml"), site).expect("playbook");
    std::fs::write(dir.path().join("hosts"), "box ansible_host=127.0.0.9 ansible_connection=ssh\n").expect("inventory");
    let mut c = Command::new(env!("CARGO_BIN_EXE_prov"));
    c.args(["apply", "site.yml", "-i", "hosts"]).current_dir(dir.path());
    env(&mut c);
    c.env("AWS_ENDPOINT_URL", "http://127.0.0.1:9");
    let o = c.output().expect("prov runs");
    let (stdout, stderr) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{stdout}\n{stderr}");
    assert!(format!("{stdout}{stderr}").contains("`box` is not the controller"), "{stdout}\n{stderr}");
}
