//! `amazon.aws.ec2_instance` against moto's EC2: the results prov registers, compared with
//! those ansible-playbook registered for the same playbook ([`crate::moto::differential`]).

use crate::moto::{amazon_env as env, differential, refused_before_connecting};
use crate::util::text;
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

#[test]
fn ec2_instance_registers_what_amazon_aws_registers() {
    let got = differential(RECORDED, PLAYBOOK, &["ok=19", "changed=14", "ignored=1"], &[]);
    // The second runs of the same task change nothing; check mode changed nothing either
    // (the real create then creates the one instance).
    for task in ["again", "stop_again", "two_again", "absent_again"] {
        assert_eq!(got[task]["changed"], false, "{task}");
    }
    assert_eq!(got["create"]["instance_ids"].as_array().map(Vec::len), Some(1));
}

#[test]
fn ec2_instance_arguments_prov_lacks_are_refused_before_connecting() {
    let stderr = refused_before_connecting("- hosts: localhost\n  connection: local\n  gather_facts: false\n  tasks:\n    - amazon.aws.ec2_instance:\n        name: a\n        tenancy: dedicated\n");
    assert!(
        stderr.contains("site.yml:5:7") && stderr.contains("prov does not support tenancy of amazon.aws.ec2_instance"),
        "{stderr}"
    );
    let stderr = refused_before_connecting("- hosts: localhost\n  connection: local\n  gather_facts: false\n  tasks:\n    - amazon.aws.ec2_instance:\n        name: a\n        volumes: [{device_name: /dev/sdb, ebs: {size: 8}}]\n");
    assert!(stderr.contains("site.yml:5:7") && stderr.contains("got `size` in volumes"), "{stderr}");
}

#[test]
fn ec2_instance_on_a_host_other_than_the_controller_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let site = "- hosts: box\n  gather_facts: false\n  tasks:\n    - amazon.aws.ec2_instance:\n        name: a\n        state: absent\n";
    std::fs::write(dir.path().join("site.yml"), site).expect("playbook");
    std::fs::write(dir.path().join("hosts"), "box ansible_host=127.0.0.9 ansible_connection=ssh\n").expect("inventory");
    let mut c = Command::new(env!("CARGO_BIN_EXE_prov"));
    c.args(["apply", "site.yml", "-i", "hosts"]).current_dir(dir.path());
    env(&mut c, dir.path());
    c.env("AWS_ENDPOINT_URL", "http://127.0.0.1:9");
    let o = c.output().expect("prov runs");
    let (stdout, stderr) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{stdout}\n{stderr}");
    assert!(format!("{stdout}{stderr}").contains("`box` is not the controller"), "{stdout}\n{stderr}");
}

#[test]
fn ec2_instance_delegated_to_localhost_runs_on_the_controller() {
    let moto = crate::moto::Moto::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let site = format!(
        "- hosts: box\n  gather_facts: false\n  tasks:\n    - amazon.aws.ec2_instance:\n        name: a\n        state: absent\n        endpoint_url: {}\n        region: us-east-1\n      delegate_to: localhost\n      register: r\n    - assert:\n        that: r.msg == 'No matching instances found'\n      delegate_to: localhost\n",
        moto.endpoint()
    );
    std::fs::write(dir.path().join("site.yml"), site).expect("playbook");
    std::fs::write(dir.path().join("hosts"), "box ansible_host=127.0.0.9 ansible_connection=ssh\n").expect("inventory");
    let mut c = Command::new(env!("CARGO_BIN_EXE_prov"));
    c.args(["apply", "site.yml", "-i", "hosts"]).current_dir(dir.path());
    env(&mut c, dir.path());
    let o = c.output().expect("prov runs");
    let (stdout, stderr) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("ok=2"), "{stdout}");
}

const RECORDED_VOLUMES: &str = "tests/it/results/ec2_instance_volumes.json";

/// An instance with extra EBS volumes (a gp3 one, whose IOPS and throughput defaults the
/// module fills in, and a size given as text), in check mode, made, again.
const VOLUMES: &str = r##"- hosts: localhost
  connection: local
  gather_facts: false
  vars:
    vm: &vm
      endpoint_url: "{{ endpoint }}"
      region: us-east-1
      name: data-1
      image_id: ami-12345678
      instance_type: t3.micro
      volumes:
        - device_name: /dev/sdb
          ebs: {volume_size: 20, volume_type: gp3, delete_on_termination: true}
        - device_name: /dev/sdc
          ebs: {volume_size: "8", volume_type: standard}
  tasks:
    - name: check
      amazon.aws.ec2_instance: *vm
      check_mode: true
      register: check
    - name: create
      amazon.aws.ec2_instance: *vm
      register: create
    - name: again
      amazon.aws.ec2_instance: *vm
      register: again
    - name: dump
      copy:
        dest: "{{ out }}"
        content: "{{ {'check': check, 'create': create, 'again': again} | to_nice_json }}"
"##;

#[test]
fn ec2_instance_volumes_are_made_as_amazon_aws_makes_them() {
    let got = differential(RECORDED_VOLUMES, VOLUMES, &["changed=3", "failed=0"], &[]);
    let spec = &got["check"]["spec"]["BlockDeviceMappings"];
    assert_eq!(spec[0]["Ebs"]["Iops"], 3000, "{spec}");
    assert_eq!(spec[1]["Ebs"]["VolumeSize"], 8, "{spec}");
    assert_eq!(got["again"]["changed"], false);
}

/// Network interfaces (`network_interfaces`, the deprecated `network`, `source_dest_check`):
/// create in check mode and for real with a public address, a description and a group by
/// name, again, change the groups, ask for no public address (a warning: it cannot change),
/// turn source/destination checking off twice, the deprecated `network` form, two interfaces
/// (then groups asked of them: skipped), an empty `network` (no network), and the arguments
/// the module refuses (a public address with two interfaces, two primary addresses,
/// an address for two instances).
const NETWORK: &str = r##"- hosts: localhost
  connection: local
  gather_facts: false
  vars:
    aws: &aws
      endpoint_url: "{{ endpoint }}"
      region: us-east-1
  tasks:
    - name: sg
      amazon.aws.ec2_security_group:
        <<: *aws
        name: web
        description: web servers
      register: sg
    - name: n_check
      amazon.aws.ec2_instance:
        <<: *aws
        name: web-n
        image_id: ami-12345678
        instance_type: t3.micro
        network_interfaces:
          - {assign_public_ip: true, description: primary, groups: [web]}
      check_mode: true
      register: n_check
    - name: n_create
      amazon.aws.ec2_instance:
        <<: *aws
        name: web-n
        image_id: ami-12345678
        instance_type: t3.micro
        network_interfaces:
          - {assign_public_ip: true, description: primary, groups: [web]}
      register: n_create
    - name: n_again
      amazon.aws.ec2_instance:
        <<: *aws
        name: web-n
        image_id: ami-12345678
        instance_type: t3.micro
        network_interfaces:
          - {assign_public_ip: true, description: primary, groups: [web]}
      register: n_again
    - name: n_groups
      amazon.aws.ec2_instance:
        <<: *aws
        name: web-n
        network_interfaces:
          - {groups: [default, web]}
      register: n_groups
    - name: n_public
      amazon.aws.ec2_instance:
        <<: *aws
        name: web-n
        network_interfaces:
          - {assign_public_ip: false, groups: [default, web]}
      register: n_public
    - name: n_sdc
      amazon.aws.ec2_instance:
        <<: *aws
        name: web-n
        source_dest_check: false
      register: n_sdc
    - name: n_sdc_again
      amazon.aws.ec2_instance:
        <<: *aws
        name: web-n
        source_dest_check: false
      register: n_sdc_again
    - name: legacy
      amazon.aws.ec2_instance:
        <<: *aws
        name: web-l
        image_id: ami-12345678
        instance_type: t3.micro
        network: {assign_public_ip: true, source_dest_check: false}
      ignore_errors: true
      register: legacy
    - name: legacy_full
      amazon.aws.ec2_instance:
        <<: *aws
        name: web-f
        image_id: ami-12345678
        instance_type: t3.micro
        security_group: web
        network: {assign_public_ip: true, delete_on_termination: true, device_index: 0}
      ignore_errors: true
      register: legacy_full
    - name: multi
      amazon.aws.ec2_instance:
        <<: *aws
        name: web-2
        image_id: ami-12345678
        instance_type: t3.micro
        network_interfaces:
          - {delete_on_termination: false, groups: [web]}
          - {device_index: 1, description: second}
      register: multi
    - name: multi_again
      amazon.aws.ec2_instance:
        <<: *aws
        name: web-2
        security_group: default
      register: multi_again
    - name: empty_network
      amazon.aws.ec2_instance:
        <<: *aws
        name: web-n
        network: {}
        security_group: web
      register: empty_network
    - name: multi_public
      amazon.aws.ec2_instance:
        <<: *aws
        name: web-m
        image_id: ami-12345678
        instance_type: t3.micro
        network_interfaces:
          - {assign_public_ip: true}
          - {device_index: 1}
      ignore_errors: true
      register: multi_public
    - name: two_primary
      amazon.aws.ec2_instance:
        <<: *aws
        name: web-p
        image_id: ami-12345678
        instance_type: t3.micro
        network_interfaces:
          - private_ip_addresses:
              - {private_ip_address: 172.31.0.10, primary: true}
              - {private_ip_address: 172.31.0.11, primary: true}
      ignore_errors: true
      register: two_primary
    - name: count_ip
      amazon.aws.ec2_instance:
        <<: *aws
        name: web-c
        image_id: ami-12345678
        instance_type: t3.micro
        count: 2
        network_interfaces:
          - {private_ip_address: 172.31.0.12}
      ignore_errors: true
      register: count_ip
    - name: dump
      copy:
        dest: "{{ out }}"
        content: "{{ {'sg': sg, 'n_check': n_check, 'n_create': n_create, 'n_again': n_again, 'n_groups': n_groups, 'n_public': n_public, 'n_sdc': n_sdc, 'n_sdc_again': n_sdc_again, 'legacy': legacy, 'legacy_full': legacy_full, 'multi': multi, 'multi_again': multi_again, 'empty_network': empty_network, 'multi_public': multi_public, 'two_primary': two_primary, 'count_ip': count_ip} | to_nice_json }}"
"##;

#[test]
fn ec2_instance_network_interfaces_register_what_amazon_aws_registers() {
    let got = differential("tests/it/results/ec2_instance_network.json", NETWORK, &[], &[]);
    for task in ["n_again", "n_sdc_again", "multi_again"] {
        assert_eq!(got[task]["changed"], false, "{task}");
    }
}
