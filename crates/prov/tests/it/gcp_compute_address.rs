//! `google.cloud.gcp_compute_address` against prov-gcp-fake: the results prov registers,
//! compared with those ansible-playbook registered for the same playbook
//! ([`crate::gcp_oracle::differential`]).

use crate::gcp_oracle::{differential, refused_before_connecting};

const RECORDED: &str = "tests/it/results/gcp_compute_address.json";

/// An address in check mode (skipped), reserved, again (unchanged), with a description
/// (released and reserved again, as the module does), a name the API refuses (the module's
/// failure, ignored), released, released again.
const PLAYBOOK: &str = r##"- hosts: localhost
  connection: local
  gather_facts: false
  vars:
    gcp: &gcp
      project: proj1
      auth_kind: accesstoken
      access_token: test-token
      region: us-central1
  tasks:
    - name: check
      google.cloud.gcp_compute_address: {<<: *gcp, name: mgr-ip}
      check_mode: true
      register: check
    - name: reserve
      google.cloud.gcp_compute_address: {<<: *gcp, name: mgr-ip}
      register: reserve
    - name: again
      google.cloud.gcp_compute_address: {<<: *gcp, name: mgr-ip}
      register: again
    - name: described
      google.cloud.gcp_compute_address: {<<: *gcp, name: mgr-ip, description: managers}
      register: described
    - name: bad_name
      google.cloud.gcp_compute_address: {<<: *gcp, name: Bad_Name}
      register: bad_name
      ignore_errors: true
    - name: release
      google.cloud.gcp_compute_address: {<<: *gcp, name: mgr-ip, state: absent}
      register: release
    - name: release_again
      google.cloud.gcp_compute_address: {<<: *gcp, name: mgr-ip, state: absent}
      register: release_again
    - name: dump
      copy:
        dest: "{{ out }}"
        content: "{{ {'check': check, 'reserve': reserve, 'again': again, 'described': described, 'bad_name': bad_name, 'release': release, 'release_again': release_again} | to_nice_json }}"
"##;

#[test]
fn gcp_compute_address_registers_what_google_cloud_registers() {
    let got = differential(RECORDED, PLAYBOOK, &["ok=7", "changed=4", "failed=0", "skipped=1", "ignored=1"]);
    assert_eq!(got["again"]["changed"], false);
    assert_eq!(got["reserve"]["status"], "RESERVED");
    assert_eq!(got["release_again"]["changed"], false);
}

#[test]
fn gcp_compute_address_without_region_is_refused_before_connecting() {
    let stderr = refused_before_connecting(
        "- hosts: localhost\n  gather_facts: false\n  tasks:\n    - google.cloud.gcp_compute_address:\n        name: a\n        auth_kind: application\n",
    );
    assert!(stderr.contains("missing required arguments: region"), "{stderr}");
    assert!(stderr.contains("site.yml:4:"), "{stderr}");
}

/// The module does not support check mode (the task is skipped, as ansible-core skips it),
/// and `prov plan` still lists what it would change, from the module's own reads.
#[test]
fn gcp_compute_address_in_prov_plan_lists_what_it_would_change() {
    let (_, fake) = prov_gcp_fake::start().expect("the fake starts");
    let dir = tempfile::tempdir().expect("tempdir");
    let site = "- hosts: localhost\n  connection: local\n  gather_facts: false\n  tasks:\n    - google.cloud.gcp_compute_address: {name: a1, region: us-central1, project: p, auth_kind: accesstoken, access_token: t}\n";
    std::fs::write(dir.path().join("site.yml"), site).expect("playbook");
    let run = |args: &[&str]| {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_prov"));
        crate::gcp_oracle::clean_env(&mut c);
        c.args(args)
            .args(["site.yml", "-i", "localhost,"])
            .current_dir(dir.path())
            .env("PROV_GCP_ENDPOINT", fake.endpoint())
            .env("PROV_STATE_DIR", dir.path().join("state"));
        let o = c.output().expect("prov runs");
        assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let plan = run(&["plan"]);
    assert!(plan.contains("skipped=1") && plan.contains("+1 gcp_compute_address"), "{plan}");
    assert!(run(&["apply"]).contains("changed=1"));
    let again = run(&["plan"]);
    assert!(again.contains("no changes"), "{again}");
    assert!(run(&["apply"]).contains("changed=0"));
}
