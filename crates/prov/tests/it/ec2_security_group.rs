//! `amazon.aws.ec2_security_group` against moto's EC2: the results prov registers (with
//! `--diff`, and without), compared with those ansible-playbook registered for the same
//! playbook ([`crate::moto::differential`]). moto answers the call that updates rule
//! descriptions without the `Return` member amazon.aws reads, so that path has its own test.

use crate::moto::{amazon_env as env, differential, refused_before_connecting, Moto};
use crate::util::text;
use std::process::Command;

const RECORDED: &str = "tests/it/results/ec2_security_group.json";
const RECORDED_WITHOUT_DIFF: &str = "tests/it/results/ec2_security_group_without_diff.json";

/// Create (check mode, then for real), again, add swarm rules between members and from a
/// group made on the way, again, purge to an `all` rule (a range with host bits) and an ICMP
/// rule with an egress rule and other tags, again, delete (check mode, real, again) both.
const PLAYBOOK: &str = r##"- hosts: localhost
  connection: local
  gather_facts: false
  vars:
    aws: &aws
      endpoint_url: "{{ endpoint }}"
      region: us-east-1
    web_rules: &web_rules
      - proto: tcp
        ports: [22]
        cidr_ip: 0.0.0.0/0
      - proto: tcp
        ports: ["80", "443", "8000-8010"]
        cidr_ip: [10.0.0.0/8, 192.168.0.0/16]
  tasks:
    - name: create_check
      amazon.aws.ec2_security_group:
        <<: *aws
        name: web
        description: web servers
        rules: *web_rules
      check_mode: true
      register: create_check
    - name: create
      amazon.aws.ec2_security_group:
        <<: *aws
        name: web
        description: web servers
        rules: *web_rules
        tags: {role: web}
      register: create
    - name: again
      amazon.aws.ec2_security_group:
        <<: *aws
        name: web
        description: web servers
        rules: *web_rules
        tags: {role: web}
      register: again
    - name: swarm
      amazon.aws.ec2_security_group:
        <<: *aws
        name: web
        description: web servers
        purge_rules: false
        rules:
          - proto: tcp
            ports: [2377, 7946]
            group_name: web
          - proto: udp
            ports: [7946, 4789]
            group_name: web
          - proto: tcp
            from_port: 9000
            to_port: 9100
            group_name: other
            group_desc: other group
            rule_desc: from other
      register: swarm
    - name: swarm_again
      amazon.aws.ec2_security_group:
        <<: *aws
        name: web
        description: web servers
        purge_rules: false
        rules:
          - proto: tcp
            ports: [2377, 7946]
            group_name: web
          - proto: udp
            ports: [7946, 4789]
            group_name: web
      register: swarm_again
    - name: purge
      amazon.aws.ec2_security_group:
        <<: *aws
        name: web
        description: web servers changed
        rules:
          - proto: all
            cidr_ip: 10.1.2.3/16
          - proto: icmp
            icmp_type: 8
            icmp_code: -1
            cidr_ip: 0.0.0.0/0
        rules_egress:
          - proto: tcp
            from_port: 443
            to_port: 443
            cidr_ip: 0.0.0.0/0
        tags: {env: prod}
      register: purge
    - name: purge_again
      amazon.aws.ec2_security_group:
        <<: *aws
        name: web
        description: web servers
        rules:
          - proto: all
            cidr_ip: 10.1.0.0/16
          - proto: icmp
            icmp_type: 8
            icmp_code: -1
            cidr_ip: 0.0.0.0/0
        rules_egress:
          - proto: tcp
            from_port: 443
            to_port: 443
            cidr_ip: 0.0.0.0/0
        tags: {env: prod}
      register: purge_again
    - name: absent_check
      amazon.aws.ec2_security_group:
        <<: *aws
        name: web
        state: absent
      check_mode: true
      register: absent_check
    - name: absent
      amazon.aws.ec2_security_group:
        <<: *aws
        name: web
        state: absent
      register: absent
    - name: absent_again
      amazon.aws.ec2_security_group:
        <<: *aws
        name: web
        state: absent
      register: absent_again
    - name: other_absent
      amazon.aws.ec2_security_group:
        <<: *aws
        name: other
        state: absent
      register: other_absent
    - name: dump
      copy:
        dest: "{{ out }}"
        content: "{{ {'create_check': create_check, 'create': create, 'again': again, 'swarm': swarm, 'swarm_again': swarm_again, 'purge': purge, 'purge_again': purge_again, 'absent_check': absent_check, 'absent': absent, 'absent_again': absent_again, 'other_absent': other_absent} | to_nice_json }}"
"##;

#[test]
fn ec2_security_group_registers_what_amazon_aws_registers() {
    let recap = ["ok=12", "changed=8", "failed=0"];
    let with_diff = differential(RECORDED, PLAYBOOK, &recap, &["--diff"]);
    for task in ["again", "swarm_again", "purge_again", "absent_again"] {
        assert_eq!(with_diff[task]["changed"], false, "{task}");
    }
    assert!(with_diff["create"]["diff"].is_array(), "--diff returns the module's diff");
    let plain = differential(RECORDED_WITHOUT_DIFF, PLAYBOOK, &recap, &[]);
    assert!(plain["create"].get("diff").is_none());
}

#[test]
fn ec2_security_group_updates_rule_descriptions() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let rule =
        |desc: &str| format!("        rules:\n          - {{ proto: tcp, ports: [22], cidr_ip: 0.0.0.0/0{desc} }}\n");
    let task = |desc: &str| {
        format!(
            "    - amazon.aws.ec2_security_group:\n        name: web\n        description: web\n        endpoint_url: {}\n        region: us-east-1\n{}      register: r\n    - debug: var=r.changed\n",
            moto.endpoint(),
            rule(desc)
        )
    };
    let site = format!(
        "- hosts: localhost\n  connection: local\n  gather_facts: false\n  tasks:\n{}{}{}",
        task(""),
        task(", rule_desc: ssh"),
        task(", rule_desc: ssh")
    );
    std::fs::write(dir.path().join("site.yml"), site).expect("playbook");
    let mut c = Command::new(env!("CARGO_BIN_EXE_prov"));
    c.args(["apply", "site.yml", "-i", "localhost,"]).current_dir(dir.path());
    env(&mut c, dir.path());
    let o = c.output().expect("prov runs");
    let (stdout, stderr) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("changed=2"), "create, then the description: {stdout}");
    let described = moto.boto(
        "g = ec2.describe_security_groups(Filters=[{'Name': 'group-name', 'Values': ['web']}])['SecurityGroups'][0]\n\
         print(json.dumps([r.get('Description') for p in g['IpPermissions'] for r in p['IpRanges']]))",
    );
    assert_eq!(described.trim(), r#"["ssh"]"#);
}

#[test]
fn ec2_security_group_rules_amazon_aws_fails_on_are_refused_before_connecting() {
    let stderr = refused_before_connecting("- hosts: localhost\n  connection: local\n  gather_facts: false\n  tasks:\n    - amazon.aws.ec2_security_group:\n        name: a\n        description: a\n        rules:\n          - cidr_ip: 0.0.0.0/0\n");
    assert!(stderr.contains("site.yml:5:7") && stderr.contains("KeyError 'from_port'"), "{stderr}");
}
