//! `amazon.aws.ec2_eip` against moto's EC2: the results prov registers, compared with those
//! ansible-playbook registered for the same playbook ([`crate::moto::differential`]). moto
//! files an Elastic IP's tags under the resource type `vpc-elastic-ip`, so `describe_tags`
//! filtered by `elastic-ip` (as the module asks) finds none, and both tools set the tags
//! again on each run (`alloc_again` is changed under both).

use crate::moto::{differential, refused_before_connecting};

const RECORDED: &str = "tests/it/results/ec2_eip.json";

/// An instance; an address for it (check mode, real, again), tags added, a spare address,
/// the spare reused by its tag, disassociated (check mode, real, again), both released.
const PLAYBOOK: &str = r##"- hosts: localhost
  connection: local
  gather_facts: false
  vars:
    aws: &aws
      endpoint_url: "{{ endpoint }}"
      region: us-east-1
  tasks:
    - name: vm
      amazon.aws.ec2_instance:
        <<: *aws
        name: mgr-1
        image_id: ami-12345678
        instance_type: t3.micro
      register: vm
    - name: alloc_check
      amazon.aws.ec2_eip:
        <<: *aws
        device_id: "{{ vm.instance_ids[0] }}"
        in_vpc: true
        tags: {role: manager}
      check_mode: true
      register: alloc_check
    - name: alloc
      amazon.aws.ec2_eip:
        <<: *aws
        device_id: "{{ vm.instance_ids[0] }}"
        in_vpc: true
        tags: {role: manager}
      register: alloc
    - name: alloc_again
      amazon.aws.ec2_eip:
        <<: *aws
        device_id: "{{ vm.instance_ids[0] }}"
        in_vpc: true
        tags: {role: manager}
      register: alloc_again
    - name: retag
      amazon.aws.ec2_eip:
        <<: *aws
        public_ip: "{{ alloc.public_ip }}"
        in_vpc: true
        tags: {env: prod}
        purge_tags: false
      register: retag
    - name: spare
      amazon.aws.ec2_eip:
        <<: *aws
        in_vpc: true
        tags: {spare: "yes"}
      register: spare
    - name: reuse
      amazon.aws.ec2_eip:
        <<: *aws
        in_vpc: true
        reuse_existing_ip_allowed: true
        tag_name: spare
        tag_value: "yes"
      register: reuse
    - name: detach_check
      amazon.aws.ec2_eip:
        <<: *aws
        device_id: "{{ vm.instance_ids[0] }}"
        public_ip: "{{ alloc.public_ip }}"
        state: absent
      check_mode: true
      register: detach_check
    - name: detach
      amazon.aws.ec2_eip:
        <<: *aws
        device_id: "{{ vm.instance_ids[0] }}"
        public_ip: "{{ alloc.public_ip }}"
        state: absent
      register: detach
    - name: detach_again
      amazon.aws.ec2_eip:
        <<: *aws
        device_id: "{{ vm.instance_ids[0] }}"
        public_ip: "{{ alloc.public_ip }}"
        state: absent
      register: detach_again
    - name: release
      amazon.aws.ec2_eip:
        <<: *aws
        public_ip: "{{ alloc.public_ip }}"
        state: absent
      register: release
    - name: release_spare
      amazon.aws.ec2_eip:
        <<: *aws
        public_ip: "{{ spare.public_ip }}"
        state: absent
      register: release_spare
    - name: dump
      copy:
        dest: "{{ out }}"
        content: "{{ {'alloc_check': alloc_check, 'alloc': alloc, 'alloc_again': alloc_again, 'retag': retag, 'spare': spare, 'reuse': reuse, 'detach_check': detach_check, 'detach': detach, 'detach_again': detach_again, 'release': release, 'release_spare': release_spare} | to_nice_json }}"
"##;

#[test]
fn ec2_eip_registers_what_amazon_aws_registers() {
    let got = differential(RECORDED, PLAYBOOK, &["ok=13", "changed=11", "failed=0"], &[]);
    assert_eq!(got["reuse"]["changed"], false);
    assert_eq!(got["detach_again"]["changed"], false);
    assert_eq!(got["reuse"]["allocation_id"], got["spare"]["allocation_id"]);
}

#[test]
fn ec2_eip_arguments_prov_lacks_are_refused_before_connecting() {
    let stderr = refused_before_connecting("- hosts: localhost\n  connection: local\n  gather_facts: false\n  tasks:\n    - amazon.aws.ec2_eip:\n        device_id: i-1\n        domain_name: example.org\n");
    assert!(stderr.contains("prov does not support domain_name of amazon.aws.ec2_eip"), "{stderr}");
}
