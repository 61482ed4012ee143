//! `google.cloud.gcp_compute_disk` against prov-gcp-fake: the results prov registers,
//! compared with those ansible-playbook registered for the same playbook
//! ([`crate::gcp_oracle::differential`]). A disk whose `type` is given by name differs on
//! every run (the module compares its link on compute.googleapis.com with the API's on
//! www.googleapis.com): `typed_again` is changed under both tools.

use crate::gcp_oracle::{differential, refused_before_connecting};

const RECORDED: &str = "tests/it/results/gcp_compute_disk.json";

/// A disk in check mode (skipped), made, again (unchanged), grown and relabelled; a disk
/// of a named type, twice; both deleted, and again.
const PLAYBOOK: &str = r##"- hosts: localhost
  connection: local
  gather_facts: false
  vars:
    gcp: &gcp
      project: proj1
      auth_kind: accesstoken
      access_token: test-token
      zone: us-central1-a
  tasks:
    - name: check
      google.cloud.gcp_compute_disk: {<<: *gcp, name: data-1, size_gb: 10}
      check_mode: true
      register: check
    - name: create
      google.cloud.gcp_compute_disk: {<<: *gcp, name: data-1, size_gb: 10, labels: {role: db}}
      register: create
    - name: again
      google.cloud.gcp_compute_disk: {<<: *gcp, name: data-1, size_gb: "10", labels: {role: db}}
      register: again
    - name: grow
      google.cloud.gcp_compute_disk: {<<: *gcp, name: data-1, size_gb: 20, labels: {role: db, env: prod}}
      register: grow
    - name: typed
      google.cloud.gcp_compute_disk: {<<: *gcp, name: data-2, type: pd-ssd, description: fast}
      register: typed
    - name: typed_again
      google.cloud.gcp_compute_disk: {<<: *gcp, name: data-2, type: pd-ssd, description: fast}
      register: typed_again
    - name: delete
      google.cloud.gcp_compute_disk: {<<: *gcp, name: data-1, state: absent}
      register: delete
    - name: delete_typed
      google.cloud.gcp_compute_disk: {<<: *gcp, name: data-2, state: absent}
      register: delete_typed
    - name: delete_again
      google.cloud.gcp_compute_disk: {<<: *gcp, name: data-1, state: absent}
      register: delete_again
    - name: dump
      copy:
        dest: "{{ out }}"
        content: "{{ {'check': check, 'create': create, 'again': again, 'grow': grow, 'typed': typed, 'typed_again': typed_again, 'delete': delete, 'delete_typed': delete_typed, 'delete_again': delete_again} | to_nice_json }}"
"##;

#[test]
fn gcp_compute_disk_registers_what_google_cloud_registers() {
    let got = differential(RECORDED, PLAYBOOK, &["ok=9", "changed=7", "failed=0", "skipped=1"]);
    assert_eq!(got["again"]["changed"], false);
    assert_eq!(got["grow"]["sizeGb"], "20");
    assert_eq!(got["grow"]["labels"]["env"], "prod");
    assert_eq!(got["typed_again"]["changed"], true);
    assert_eq!(got["delete_again"]["changed"], false);
}

#[test]
fn gcp_compute_disk_unknown_key_options_are_refused_before_connecting() {
    let stderr = refused_before_connecting(
        "- hosts: localhost\n  gather_facts: false\n  tasks:\n    - google.cloud.gcp_compute_disk:\n        name: d\n        zone: z\n        auth_kind: application\n        disk_encryption_key: {raw: x}\n",
    );
    assert!(stderr.contains("disk_encryption_key.raw"), "{stderr}");
}
