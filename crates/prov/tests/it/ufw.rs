//! community.general's `ufw` over SSH on two docker VMs (the firewall lives in each VM's own
//! network namespace; nothing of this machine's is touched). On `fw1`, the 51 tasks of
//! `results/ufw.yml` register exactly what ansible-core 2.19.14 registered for them on a fresh
//! container (`results/ufw.json`: commands, messages, changes, failures). On `fw2`, the rules a
//! swarm node's role sets: check mode changes nothing, the first run changes, the second run
//! and check mode again change nothing, and the VM still answers over SSH behind the enabled
//! firewall. Needs the Docker Engine (`scripts/docker-up`) and the node image's apt sources.

use crate::site::Site;
use crate::util::{assert_registered_as_recorded, recap_changed};

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

/// `ufw status verbose` and the rule files on a VM.
fn firewall(site: &Site, vm: &str) -> String {
    site.on_vm(vm, "ufw status verbose; cat /etc/ufw/user.rules")
}

#[test]
fn ufw_registers_what_ansible_core_registers_and_a_second_run_changes_nothing() {
    let site = Site::with_files(
        "10.221",
        "ufw",
        &[("vms.yml", VMS), ("node.yml", NODE), ("cases.yml", include_str!("results/ufw.yml"))],
    );
    let (code, _, all) = site.apply_with_vars("vms.yml", &[]);
    assert_eq!(code, 0, "{all}");

    // The recorded cases, on fw1.
    let out = site.dir.path().join("registered.json");
    let out_var = format!("out={}", out.display());
    let (code, _, all) = site.apply_with_vars("cases.yml", &["-e", "ufw_host=fw1", "-e", &out_var]);
    assert_eq!(code, 0, "{all}");
    assert_registered_as_recorded(&out, include_str!("results/ufw.json"), |v| v);

    // A node's rules on fw2: check mode changes nothing.
    let before = firewall(&site, "fw2");
    assert!(before.starts_with("Status: inactive"), "{before}");
    let (code, ev, all) = site.apply_with_vars("node.yml", &["--check"]);
    assert_eq!((code, recap_changed(&ev)), (0, 7), "{all}");
    assert_eq!(firewall(&site, "fw2"), before, "check mode changed the firewall");

    let (code, ev, all) = site.apply_with_vars("node.yml", &[]);
    // Not the default policy: with ufw inactive, its status and rules do not show it.
    assert_eq!((code, recap_changed(&ev)), (0, 6), "{all}");
    let after = firewall(&site, "fw2");
    for want in ["Status: active", "OpenSSH", "80/tcp", "# web", "7946/udp", "2377/tcp", "Logging: on (low)"] {
        assert!(after.contains(want), "{want} missing:\n{after}");
    }
    for extra in [&[][..], &["--check"]] {
        let (code, ev, all) = site.apply_with_vars("node.yml", extra);
        assert_eq!((code, recap_changed(&ev)), (0, 0), "{extra:?}: changed again:\n{all}");
    }
    assert_eq!(firewall(&site, "fw2"), after);
}
