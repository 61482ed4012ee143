//! `amazon.aws.ec2_vol` against moto's EC2: the results prov registers, compared with those
//! ansible-playbook registered for the same playbook ([`crate::moto::differential`]). moto
//! describes volumes without `MultiAttachEnabled`, which the module reads when asked to attach
//! a volume that is already attached (it fails there on moto, not on EC2), so that step is not
//! in the playbook.

use crate::moto::{differential, refused_before_connecting};

const RECORDED: &str = "tests/it/results/ec2_vol.json";

/// An instance; a volume (check mode, real, again), attached (check mode, real), another
/// volume asked on the same device (the module answers without change), grown and re-tagged,
/// detached twice, deleted (check mode, real, again).
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
        name: nfs-1
        image_id: ami-12345678
        instance_type: t3.micro
      register: vm
    - name: create_check
      amazon.aws.ec2_vol:
        <<: *aws
        name: data
        zone: us-east-1a
        volume_size: 5
        volume_type: gp3
        tags: {role: nfs}
      check_mode: true
      register: create_check
    - name: create
      amazon.aws.ec2_vol:
        <<: *aws
        name: data
        zone: us-east-1a
        volume_size: 5
        volume_type: gp3
        tags: {role: nfs}
      register: create
    - name: again
      amazon.aws.ec2_vol:
        <<: *aws
        name: data
        zone: us-east-1a
        volume_size: 5
        volume_type: gp3
        tags: {role: nfs}
      register: again
    - name: attach_check
      amazon.aws.ec2_vol:
        <<: *aws
        name: data
        instance: "{{ vm.instance_ids[0] }}"
        device_name: /dev/sdf
        volume_type: gp3
        delete_on_termination: true
      check_mode: true
      register: attach_check
    - name: attach
      amazon.aws.ec2_vol:
        <<: *aws
        name: data
        instance: "{{ vm.instance_ids[0] }}"
        device_name: /dev/sdf
        volume_type: gp3
        delete_on_termination: true
      register: attach
    - name: other_on_same_device
      amazon.aws.ec2_vol:
        <<: *aws
        name: other
        instance: "{{ vm.instance_ids[0] }}"
        device_name: /dev/sdf
        volume_size: 1
      register: other_on_same_device
    - name: grow
      amazon.aws.ec2_vol:
        <<: *aws
        name: data
        zone: us-east-1a
        volume_size: 8
        volume_type: gp3
        modify_volume: true
        tags: {role: nfs, env: prod}
      register: grow
    - name: detach
      amazon.aws.ec2_vol:
        <<: *aws
        name: data
        instance: None
        volume_type: gp3
      register: detach
    - name: detach_again
      amazon.aws.ec2_vol:
        <<: *aws
        name: data
        instance: None
        volume_type: gp3
      register: detach_again
    - name: absent_check
      amazon.aws.ec2_vol:
        <<: *aws
        name: data
        state: absent
      check_mode: true
      register: absent_check
    - name: absent
      amazon.aws.ec2_vol:
        <<: *aws
        name: data
        state: absent
      register: absent
    - name: absent_again
      amazon.aws.ec2_vol:
        <<: *aws
        name: data
        state: absent
      register: absent_again
    - name: dump
      copy:
        dest: "{{ out }}"
        content: "{{ {'create_check': create_check, 'create': create, 'again': again, 'attach_check': attach_check, 'attach': attach, 'other_on_same_device': other_on_same_device, 'grow': grow, 'detach': detach, 'detach_again': detach_again, 'absent_check': absent_check, 'absent': absent, 'absent_again': absent_again} | to_nice_json }}"
"##;

#[test]
fn ec2_vol_registers_what_amazon_aws_registers() {
    let got = differential(RECORDED, PLAYBOOK, &["ok=14", "changed=10", "failed=0"], &[]);
    for task in ["again", "detach_again", "absent_again", "other_on_same_device"] {
        assert_eq!(got[task]["changed"], false, "{task}");
    }
}

#[test]
fn ec2_vol_arguments_the_module_refuses_are_refused_before_connecting() {
    let stderr = refused_before_connecting("- hosts: localhost\n  connection: local\n  gather_facts: false\n  tasks:\n    - amazon.aws.ec2_vol:\n        name: d\n        zone: us-east-1a\n        volume_size: 5\n        iops: 3000\n");
    assert!(stderr.contains("IOPS is not supported for gp2, st1, sc1, or standard volumes."), "{stderr}");
}
