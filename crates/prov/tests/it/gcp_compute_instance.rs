//! `google.cloud.gcp_compute_instance` against prov-gcp-fake: the results prov registers,
//! compared with those ansible-playbook registered for the same playbook
//! ([`crate::gcp_oracle::differential`]). The module's quirks, kept by both tools: right
//! after an instance is made, started or stopped, it returns `metadata: {}` (it decodes the
//! metadata twice); a label added to the arguments is no difference (the comparison skips
//! what the instance lacks), so `relabel` changes nothing, and the label is set by the next
//! update (`stop`); a disk attached by an update is not in that task's result (the
//! `attachDisk` operation is not awaited).

use crate::gcp_oracle::{differential, refused_before_connecting};

const RECORDED: &str = "tests/it/results/gcp_compute_instance.json";

/// An instance in check mode (skipped), made, again (unchanged), relabelled, stopped (and
/// again), started, given a second disk, deleted (and again).
const PLAYBOOK: &str = r##"- hosts: localhost
  connection: local
  gather_facts: false
  vars:
    gcp: &gcp
      project: proj1
      auth_kind: accesstoken
      access_token: test-token
      zone: us-central1-a
    vm: &vm
      name: web-1
      machine_type: e2-small
      disks:
        - boot: true
          auto_delete: true
          initialize_params:
            source_image: projects/debian-cloud/global/images/family/debian-12
            disk_size_gb: 10
      network_interfaces:
        - access_configs:
            - name: External NAT
              type: ONE_TO_ONE_NAT
      metadata: {owner: ops}
      tags: {items: [http]}
  tasks:
    - name: check
      google.cloud.gcp_compute_instance: {<<: [*gcp, *vm], labels: {role: web}}
      check_mode: true
      register: check
    - name: create
      google.cloud.gcp_compute_instance: {<<: [*gcp, *vm], labels: {role: web}}
      register: create
    - name: again
      google.cloud.gcp_compute_instance: {<<: [*gcp, *vm], labels: {role: web}}
      register: again
    - name: relabel
      google.cloud.gcp_compute_instance: {<<: [*gcp, *vm], labels: {role: web, env: prod}}
      register: relabel
    - name: stop
      google.cloud.gcp_compute_instance: {<<: [*gcp, *vm], labels: {role: web, env: prod}, status: TERMINATED}
      register: stop
    - name: stop_again
      google.cloud.gcp_compute_instance: {<<: [*gcp, *vm], labels: {role: web, env: prod}, status: TERMINATED}
      register: stop_again
    - name: start
      google.cloud.gcp_compute_instance: {<<: [*gcp, *vm], labels: {role: web, env: prod}, status: RUNNING}
      register: start
    - name: disk
      google.cloud.gcp_compute_disk: {<<: *gcp, name: data-1, size_gb: 10}
      register: disk
    - name: attach
      google.cloud.gcp_compute_instance:
        <<: [*gcp, *vm]
        labels: {role: web, env: prod}
        disks:
          - boot: true
            auto_delete: true
            initialize_params:
              source_image: projects/debian-cloud/global/images/family/debian-12
          - source: "{{ disk }}"
            auto_delete: false
      register: attach
    - name: delete
      google.cloud.gcp_compute_instance: {<<: *gcp, name: web-1, state: absent}
      register: delete
    - name: delete_again
      google.cloud.gcp_compute_instance: {<<: *gcp, name: web-1, state: absent}
      register: delete_again
    - name: dump
      copy:
        dest: "{{ out }}"
        content: "{{ {'check': check, 'create': create, 'again': again, 'relabel': relabel, 'stop': stop, 'stop_again': stop_again, 'start': start, 'attach': attach, 'delete': delete, 'delete_again': delete_again} | to_nice_json }}"
"##;

#[test]
fn gcp_compute_instance_registers_what_google_cloud_registers() {
    let got = differential(RECORDED, PLAYBOOK, &["failed=0", "skipped=1"]);
    assert_eq!(got["again"]["changed"], false);
    assert_eq!(got["again"]["metadata"]["owner"], "ops");
    assert_eq!(got["create"]["metadata"], serde_json::json!({}));
    assert_eq!(got["relabel"]["changed"], false);
    assert_eq!(got["stop"]["labels"]["env"], "prod");
    assert_eq!(got["stop"]["status"], "TERMINATED");
    assert_eq!(got["stop_again"]["changed"], false);
    assert_eq!(got["delete_again"]["changed"], false);
}

#[test]
fn gcp_compute_instance_unknown_disk_options_are_refused_before_connecting() {
    let stderr = refused_before_connecting(
        "- hosts: localhost\n  gather_facts: false\n  tasks:\n    - google.cloud.gcp_compute_instance:\n        name: d\n        zone: z\n        auth_kind: application\n        disks: [{boot: true, size: 10}]\n",
    );
    assert!(stderr.contains("disks.size"), "{stderr}");
}
