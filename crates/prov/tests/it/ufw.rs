//! community.general's `ufw` over SSH on two docker VMs (the firewall lives in each VM's own
//! network namespace; nothing of this machine's is touched). On `fw1`, the 51 tasks of
//! `results/ufw.yml` register exactly what ansible-core 2.19.14 registered for them on a fresh
//! container (`results/ufw.json`: commands, messages, changes, failures). On `fw2`, the rules a
//! swarm node's role sets: check mode changes nothing, the first run changes, the second run
//! and check mode again change nothing, and the VM still answers over SSH behind the enabled
//! firewall. Needs the Docker Engine (`scripts/docker-up`) and the node image's apt sources.

use crate::site::Site;
use crate::util::{json_events, recap_changed};
use serde_json::Value as Json;

const VMS: &str = r#"- hosts: localhost
  gather_facts: false
  tasks:
    - name: the VMs
      vm:
        provider: docker
        project: "{{ prov_project }}"
        subnet: "{{ prov_subnet }}"
        name: "{{ item }}"
        group: fw
        state: started
      loop: [fw1, fw2]
      tags: [vms]

- hosts: fw
  gather_facts: false
  tasks:
    - name: ufw installed
      apt: {name: ufw, update_cache: true, cache_valid_time: 3600}
      tags: [vms]
"#;

const NODE: &str = r#"- hosts: fw2
  gather_facts: false
  tasks:
    - name: ssh
      community.general.ufw: {rule: allow, name: OpenSSH}
    - name: web
      ufw: {rule: allow, port: "80", proto: tcp, comment: web}
    - name: swarm gossip
      ufw: {rule: allow, port: "7946", proto: "{{ item }}", src: 10.0.0.0/8}
      loop: [tcp, udp]
    - name: swarm manager
      ufw: {rule: allow, port: "2377", proto: tcp, src: "{{ prov_subnet }}"}
    - name: deny the rest
      ufw: {default: deny, direction: incoming}
    - name: logging
      ufw: {logging: "on"}
    - name: enabled
      ufw: {state: enabled}
"#;

fn run(site: &Site, playbook: &str, extra: &[&str]) -> (i32, Vec<Json>, String) {
    let vars = site.vars();
    let mut args = vec!["apply", playbook, "-i", "inventory.yml", "--output", "json", "-e", &vars];
    args.extend_from_slice(extra);
    json_events(&site.prov(&args))
}

/// `ufw status verbose` and the rule files on a VM, read with `docker exec`.
fn firewall(site: &Site, vm: &str) -> String {
    let out = std::process::Command::new("docker")
        .args(["exec", &format!("{}-{vm}", site.project), "sh", "-c", "ufw status verbose; cat /etc/ufw/user.rules"])
        .output()
        .expect("docker exec");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn without_exception(mut v: Json) -> Json {
    if let Some(m) = v.as_object_mut() {
        m.values_mut().for_each(|r| {
            r.as_object_mut().map(|r| r.remove("exception"));
        });
    }
    v
}

#[test]
fn ufw_registers_what_ansible_core_registers_and_a_second_run_changes_nothing() {
    let site = Site::with_files(
        "10.221",
        "ufw",
        &[("vms.yml", VMS), ("node.yml", NODE), ("cases.yml", include_str!("results/ufw.yml"))],
    );
    let (code, _, all) = run(&site, "vms.yml", &[]);
    assert_eq!(code, 0, "{all}");

    // The recorded cases, on fw1.
    let out = site.dir.path().join("registered.json");
    let out_var = format!("out={}", out.display());
    let (code, _, all) = run(&site, "cases.yml", &["-e", "ufw_host=fw1", "-e", &out_var]);
    assert_eq!(code, 0, "{all}");
    let got: Json = serde_json::from_str(&std::fs::read_to_string(&out).expect("the dump")).expect("JSON");
    let want: Json = serde_json::from_str(include_str!("results/ufw.json")).expect("recorded JSON");
    let (got, want) = (without_exception(got), without_exception(want));
    for (task, w) in want.as_object().expect("an object") {
        assert_eq!(&got[task], w, "registered `{task}` differs from ansible-core's");
    }
    assert_eq!(got.as_object().map(|m| m.len()), want.as_object().map(|m| m.len()));

    // A node's rules on fw2: check mode changes nothing.
    let before = firewall(&site, "fw2");
    assert!(before.starts_with("Status: inactive"), "{before}");
    let (code, ev, all) = run(&site, "node.yml", &["--check"]);
    assert_eq!((code, recap_changed(&ev)), (0, 7), "{all}");
    assert_eq!(firewall(&site, "fw2"), before, "check mode changed the firewall");

    let (code, ev, all) = run(&site, "node.yml", &[]);
    // Not the default policy: with ufw inactive, its status and rules do not show it.
    assert_eq!((code, recap_changed(&ev)), (0, 6), "{all}");
    let after = firewall(&site, "fw2");
    for want in ["Status: active", "OpenSSH", "80/tcp", "# web", "7946/udp", "2377/tcp", "Logging: on (low)"] {
        assert!(after.contains(want), "{want} missing:\n{after}");
    }
    for extra in [&[][..], &["--check"]] {
        let (code, ev, all) = run(&site, "node.yml", extra);
        assert_eq!((code, recap_changed(&ev)), (0, 0), "{extra:?}: changed again:\n{all}");
    }
    assert_eq!(firewall(&site, "fw2"), after);
}
