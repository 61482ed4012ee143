//! `plugin: amazon.aws.aws_ec2` inventory files against moto's EC2: prov's `inventory --list`
//! compared with ansible-inventory's (ansible-core 2.19.14, amazon.aws of `ansible` 12.3.0,
//! boto3), recorded in `results/aws_ec2_inventory.json` after normalization (ids, addresses
//! and times moto makes up are numbered in a fixed order). To record again:
//! `PROV_ORACLE_ANSIBLE_INVENTORY=/path/to/venv/bin/ansible-inventory ANSIBLE_COLLECTIONS_PATH=...`
//! (a venv with ansible-core and boto3).

use crate::moto::{Moto, Normalizer};
use crate::util::text;
use serde_json::{Map, Value as Json};
use std::path::Path;
use std::process::Command;

const RECORDED: &str = "tests/it/results/aws_ec2_inventory.json";

/// Instances of several shapes: tags, one stopped, one terminated (never listed).
const SETUP: &str = r#"
def run(name, tags):
    t = [{'Key': 'Name', 'Value': name}] + [{'Key': k, 'Value': v} for k, v in tags.items()]
    r = ec2.run_instances(ImageId='ami-12345678', MinCount=1, MaxCount=1, InstanceType='t3.micro',
                          TagSpecifications=[{'ResourceType': 'instance', 'Tags': t}])
    return r['Instances'][0]['InstanceId']
run('web-1', {'role': 'workers', 'env': 'prod'})
run('web-2', {'role': 'workers', 'env': 'dev'})
run('mgr-1', {'role': 'managers', 'env': 'prod', 'empty': ''})
old = run('old-1', {'role': 'workers'})
gone = run('gone-1', {'role': 'workers'})
ec2.stop_instances(InstanceIds=[old])
ec2.terminate_instances(InstanceIds=[gone])
"#;

/// Host names from a tag, filters, exclusions, and every kind of constructed entry.
const RICH: &str = r#"plugin: amazon.aws.aws_ec2
regions: [us-east-1]
endpoint_url: ENDPOINT
aws_access_key: not-used
hostnames:
  - tag:Name
filters:
  tag:role: [workers, managers]
exclude_filters:
  - tag:env: dev
leading_separator: false
keyed_groups:
  - key: tags
    prefix: tag
  - key: tags.role
    prefix: role
    parent_group: "{{ placement.region }}"
  - key: tags.missing | default('')
    prefix: nokey
    default_value: none
  - key: "[instance_type, state.name]"
    separator: ""
  - key: tags.Name
groups:
  prod: tags.env == 'prod'
  stopped: state.name == 'stopped'
  broken: tags.env
compose:
  ansible_host: private_ip_address
  short: tags.Name.split('-')[0]
  chained: short | default('unset')
"#;

/// The default host names (public DNS name, else the private one), include sets, prefixed
/// variables and the old tag variables, strict.
const DEFAULTS: &str = r#"plugin: aws_ec2
regions: [us-east-1]
endpoint_url: ENDPOINT
include_filters:
  - tag:Name: web-1
  - instance-state-name: stopped
hostvars_prefix: ec2_
use_contrib_script_compatible_ec2_tag_keys: true
strict: true
keyed_groups:
  - key: ec2_tags.role
    prefix: role
"#;

fn env(c: &mut Command) {
    crate::moto::test_credentials(c);
    c.env("NO_COLOR", "1");
}

fn prov_list(dir: &Path, file: &str) -> (Json, String) {
    let mut c = Command::new(env!("CARGO_BIN_EXE_prov"));
    c.args(["inventory", "-i", file, "--list"]).current_dir(dir);
    env(&mut c);
    let out = c.output().expect("prov runs");
    let (o, e) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{o}\n{e}");
    (serde_json::from_str(&o).expect("JSON"), e)
}

/// ansible-inventory's listing of the same file, when a venv to run it is given.
fn oracle_list(dir: &Path, file: &str) -> Option<Json> {
    let bin = std::env::var_os("PROV_ORACLE_ANSIBLE_INVENTORY")?;
    let mut c = Command::new(bin);
    c.args(["-i", file, "--list"]).current_dir(dir);
    env(&mut c);
    let out = c.output().expect("ansible-inventory runs");
    let (o, e) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{o}\n{e}");
    Some(serde_json::from_str(&o).expect("JSON"))
}

/// A listing with what moto makes up numbered and groups' hosts sorted.
fn normalize(list: Json) -> Json {
    let list = crate::util::unwrap_unsafe(list);
    let mut n = Normalizer::new();
    let hostvars = list["_meta"]["hostvars"].as_object().cloned().unwrap_or_default();
    let name_tag = |v: &Json| {
        v.as_object()
            .and_then(|m| m.iter().find(|(k, _)| k.ends_with("tags")))
            .and_then(|(_, t)| t["Name"].as_str())
            .unwrap_or_default()
            .to_string()
    };
    let mut hosts: Vec<(&String, &Json)> = hostvars.iter().collect();
    hosts.sort_by_key(|(h, v)| (name_tag(v), (*h).clone()));
    let mut out_vars = Map::new();
    for (h, v) in hosts {
        let v = n.value(v);
        out_vars.insert(n.text(h), v);
    }
    let mut out = Map::new();
    for (g, body) in list.as_object().into_iter().flatten() {
        if g == "_meta" {
            continue;
        }
        let mut b = Map::new();
        if let Some(hs) = body["hosts"].as_array() {
            let mut hs: Vec<Json> = hs.iter().map(|h| n.value(h)).collect();
            hs.sort_by_key(|h| h.to_string());
            b.insert("hosts".into(), Json::Array(hs));
        }
        if let Some(cs) = body["children"].as_array() {
            let mut cs: Vec<String> = cs.iter().filter_map(|c| c.as_str()).map(str::to_string).collect();
            cs.sort();
            b.insert("children".into(), Json::from(cs));
        }
        out.insert(g.clone(), Json::Object(b));
    }
    out.insert("_meta".into(), serde_json::json!({ "hostvars": out_vars }));
    Json::Object(out)
}

#[test]
fn aws_ec2_inventory_files_list_what_amazon_aws_lists() {
    let moto = Moto::start();
    moto.boto(SETUP);
    let dir = tempfile::tempdir().expect("tempdir");
    let mut got = Map::new();
    let mut oracle = Map::new();
    for (what, file, body) in [("rich", "demo.aws_ec2.yml", RICH), ("defaults", "other.aws_ec2.yaml", DEFAULTS)] {
        std::fs::write(dir.path().join(file), body.replace("ENDPOINT", &moto.endpoint())).expect("file");
        let (list, stderr) = prov_list(dir.path(), file);
        if what == "rich" {
            assert!(stderr.contains("`aws_access_key` is ignored"), "{stderr}");
        }
        got.insert(what.into(), normalize(list));
        if let Some(o) = oracle_list(dir.path(), file) {
            oracle.insert(what.into(), normalize(o));
        }
    }
    let recorded = Path::new(env!("CARGO_MANIFEST_DIR")).join(RECORDED);
    if !oracle.is_empty() {
        std::fs::write(&recorded, serde_json::to_string_pretty(&Json::Object(oracle)).expect("json") + "\n")
            .expect("record");
    }
    let want: Json = serde_json::from_str(&std::fs::read_to_string(&recorded).expect("recorded")).expect("JSON");
    for what in ["rich", "defaults"] {
        assert_eq!(
            got[what],
            want[what],
            "{what}: prov\n{}\nansible-core\n{}",
            serde_json::to_string_pretty(&got[what]).unwrap_or_default(),
            serde_json::to_string_pretty(&want[what]).unwrap_or_default()
        );
    }
}

/// A file ansible-core would not read with the plugin (its name), or with keys prov does
/// not implement, is refused before anything is listed.
#[test]
fn aws_ec2_inventory_files_prov_cannot_read_as_ansible_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (file, body, want) in [
        ("prod.yml", "plugin: amazon.aws.aws_ec2\nregions: [us-east-1]\n", "ends in aws_ec2.yml or aws_ec2.yaml"),
        ("a.aws_ec2.yml", "plugin: amazon.aws.aws_ec2\nuse_ssm_inventory: true\n", "`use_ssm_inventory` of amazon.aws.aws_ec2 is not supported"),
        ("b.aws_ec2.yml", "plugin: amazon.aws.aws_ec2\nproject: demo\n", "unknown key `project`"),
        ("c.aws_ec2.yml", "plugin: amazon.aws.aws_ec2\nfilters: [a]\n", "filters are a mapping"),
        ("d.aws_ec2.yml", "plugin: amazon.aws.aws_ec2\nkeyed_groups:\n  - key: tags\n    default_value: x\n    trailing_separator: false\n", "not both"),
    ] {
        std::fs::write(dir.path().join(file), body).expect("file");
        let mut c = Command::new(env!("CARGO_BIN_EXE_prov"));
        c.args(["inventory", "-i", file, "--list"]).current_dir(dir.path());
        env(&mut c);
        let out = c.output().expect("prov runs");
        let (o, e) = text(&out);
        assert_eq!(out.status.code(), Some(4), "{file}: {o}\n{e}");
        assert!(e.contains(want) && e.contains(&format!("{file}:")), "{file}: {e}");
    }
}
