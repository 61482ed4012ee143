//! `google.cloud.gcp_compute_firewall` against prov-gcp-fake: the results prov registers,
//! compared with those ansible-playbook registered for the same playbook
//! ([`crate::gcp_oracle::differential`]).

use crate::gcp_oracle::{differential, refused_before_connecting};

const RECORDED: &str = "tests/it/results/gcp_compute_firewall.json";

/// A rule in check mode (skipped), made, again (unchanged), widened (patched), a second rule
/// by network tags, a rule the API refuses (the module's failure, ignored), deleted, again.
const PLAYBOOK: &str = r##"- hosts: localhost
  connection: local
  gather_facts: false
  vars:
    gcp: &gcp
      project: proj1
      auth_kind: accesstoken
      access_token: test-token
  tasks:
    - name: check
      google.cloud.gcp_compute_firewall:
        <<: *gcp
        name: allow-ssh
        allowed: [{ip_protocol: tcp, ports: ["22"]}]
      check_mode: true
      register: check
    - name: create
      google.cloud.gcp_compute_firewall:
        <<: *gcp
        name: allow-ssh
        allowed: [{ip_protocol: tcp, ports: ["22"]}]
        source_ranges: [10.0.0.0/8]
        target_tags: [ssh]
      register: create
    - name: again
      google.cloud.gcp_compute_firewall:
        <<: *gcp
        name: allow-ssh
        allowed: [{ip_protocol: tcp, ports: [22]}]
        source_ranges: [10.0.0.0/8]
        target_tags: [ssh]
      register: again
    - name: widen
      google.cloud.gcp_compute_firewall:
        <<: *gcp
        name: allow-ssh
        allowed: [{ip_protocol: tcp, ports: ["22", "2222"]}]
        source_ranges: [10.0.0.0/8]
        target_tags: [ssh]
        description: ssh and its spare port
      register: widen
    - name: swarm
      google.cloud.gcp_compute_firewall:
        <<: *gcp
        name: allow-swarm
        allowed:
          - {ip_protocol: tcp, ports: ["2377", "7946"]}
          - {ip_protocol: udp, ports: ["7946", "4789"]}
        source_tags: [swarm]
        target_tags: [swarm]
        network: {selfLink: global/networks/default}
      register: swarm
    - name: bad
      google.cloud.gcp_compute_firewall:
        <<: *gcp
        name: both
        allowed: [{ip_protocol: tcp}]
        denied: [{ip_protocol: udp}]
      register: bad
      ignore_errors: true
    - name: delete
      google.cloud.gcp_compute_firewall: {<<: *gcp, name: allow-ssh, state: absent}
      register: delete
    - name: delete_swarm
      google.cloud.gcp_compute_firewall: {<<: *gcp, name: allow-swarm, state: absent}
      register: delete_swarm
    - name: delete_again
      google.cloud.gcp_compute_firewall: {<<: *gcp, name: allow-ssh, state: absent}
      register: delete_again
    - name: dump
      copy:
        dest: "{{ out }}"
        content: "{{ {'check': check, 'create': create, 'again': again, 'widen': widen, 'swarm': swarm, 'bad': bad, 'delete': delete, 'delete_swarm': delete_swarm, 'delete_again': delete_again} | to_nice_json }}"
"##;

#[test]
fn gcp_compute_firewall_registers_what_google_cloud_registers() {
    let got = differential(RECORDED, PLAYBOOK, &["failed=0", "skipped=1", "ignored=1"]);
    assert_eq!(got["again"]["changed"], false);
    assert_eq!(got["widen"]["allowed"][0]["ports"], serde_json::json!(["22", "2222"]));
    assert_eq!(got["bad"]["failed"], true);
    assert_eq!(got["delete_again"]["changed"], false);
}

#[test]
fn gcp_compute_firewall_rules_without_protocol_are_refused_before_connecting() {
    let stderr = refused_before_connecting(
        "- hosts: localhost\n  gather_facts: false\n  tasks:\n    - google.cloud.gcp_compute_firewall:\n        name: fw\n        auth_kind: application\n        allowed: [{ports: ['22']}]\n",
    );
    assert!(stderr.contains("missing required arguments: ip_protocol found in allowed"), "{stderr}");
}
