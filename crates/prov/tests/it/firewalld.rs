//! ansible.posix's `firewalld` over SSH on a docker VM with Debian's firewalld, its daemon
//! started by hand (the VM has no systemd); the firewall lives in the VM's own network
//! namespace. The 38 tasks of `results/firewalld.yml` register exactly what ansible-core 2.19.14
//! registered for them on a fresh container (`results/firewalld.json`). Then a swarm node's
//! rules: check mode changes nothing, the first run changes, the second run and check mode
//! again change nothing. Then, the daemon stopped: ansible's checks and unchanged results, a
//! new zone, and the refusal to rewrite a zone (see the module's page). Needs the Docker Engine
//! (`scripts/docker-up`) and the node image's apt sources.

use crate::site::Site;
use crate::util::{assert_registered_as_recorded, recap_changed};

const VM: &str = r#"- hosts: localhost
  gather_facts: false
  tasks:
    - name: the VM
      vm: {provider: docker, project: "{{ prov_project }}", subnet: "{{ prov_subnet }}", name: fw1, group: fw, state: started}

- hosts: fw
  gather_facts: false
  tasks:
    - name: firewalld installed
      apt: {name: [firewalld, netbase], install_recommends: false, update_cache: true, cache_valid_time: 3600}
    - name: its daemon running
      shell: |
        mkdir -p /run/dbus
        [ -S /run/dbus/system_bus_socket ] || dbus-daemon --system --fork
        firewall-cmd --state >/dev/null 2>&1 || setsid firewalld </dev/null >/dev/null 2>&1
        for i in $(seq 1 40); do firewall-cmd --state >/dev/null 2>&1 && exit 0; sleep 0.5; done; exit 1
      changed_when: false
"#;

const NODE: &str = r#"- hosts: fw1
  gather_facts: false
  tasks:
    - name: web
      ansible.posix.firewalld: {service: "{{ item }}", permanent: true, immediate: true, state: enabled}
      loop: [http, https]
    - name: swarm manager
      firewalld: {port: 2377/tcp, permanent: true, immediate: true, state: enabled}
    - name: swarm gossip, permanent only
      firewalld: {port: 7946/udp, zone: internal, permanent: true, state: enabled}
    - name: overlay from the cluster
      firewalld:
        rich_rule: rule family=ipv4 source address=10.1.0.0/16 port port=4789 protocol=udp accept
        permanent: true
        immediate: true
        state: enabled
    - name: masquerade outside
      firewalld: {masquerade: true, zone: external, permanent: true, immediate: true, state: enabled}
"#;

const OFFLINE: &str = r#"- hosts: fw1
  gather_facts: false
  tasks:
    - name: run time
      firewalld: {service: http, state: enabled}
      register: o1
      ignore_errors: true
    - name: unchanged
      firewalld: {service: http, permanent: true, state: enabled, offline: true}
      register: o2
    - name: a zone
      firewalld: {zone: offzone, permanent: true, state: present}
      register: o3
    - name: a write
      firewalld: {service: ftp, permanent: true, state: enabled}
      register: o4
      ignore_errors: true
    - name: results
      assert:
        that:
          - 'o1.failed and o1.msg == "firewall is not currently running, unable to perform immediate actions without a running firewall daemon"'
          - 'not o2.changed and o2.msg == "Permanent operation, (offline operation: only on-disk configs were altered)"'
          - 'o3.changed and o3.msg == "Permanent operation, Added zone offzone, Changed zone offzone to present, (offline operation: only on-disk configs were altered)"'
          - 'o4.failed and o4.msg is search("offline operation rewrites the zone without its `forward`")'
"#;

/// The firewall at run time and on disk.
fn firewall(site: &Site) -> String {
    site.on_vm(
        "fw1",
        "for z in public internal external; do firewall-cmd --zone=$z --list-all; firewall-cmd --permanent --zone=$z --list-all; done",
    )
}

#[test]
fn firewalld_registers_what_ansible_core_registers_and_a_second_run_changes_nothing() {
    let site = Site::with_files(
        "10.223",
        "firewalld",
        &[
            ("vm.yml", VM),
            ("node.yml", NODE),
            ("offline.yml", OFFLINE),
            ("cases.yml", include_str!("results/firewalld.yml")),
        ],
    );
    let (code, _, all) = site.apply_with_vars("vm.yml", &[]);
    assert_eq!(code, 0, "{all}");

    let dump = site.dir.path().join("registered.json");
    let out_var = format!("out={}", dump.display());
    let (code, _, all) = site.apply_with_vars("cases.yml", &["-e", "firewalld_host=fw1", "-e", &out_var]);
    assert_eq!(code, 0, "{all}");
    assert_registered_as_recorded(&dump, include_str!("results/firewalld.json"), |v| v);

    // A node's rules: check mode changes nothing; then once, and never again.
    let before = firewall(&site);
    let (code, ev, all) = site.apply_with_vars("node.yml", &["--check"]);
    // https is already on (the cases enabled it, permanently and at run time), and the
    // external zone masquerades as shipped.
    assert_eq!((code, recap_changed(&ev)), (0, 4), "{all}");
    assert_eq!(firewall(&site), before, "check mode changed the firewall");
    let (code, ev, all) = site.apply_with_vars("node.yml", &[]);
    assert_eq!((code, recap_changed(&ev)), (0, 4), "{all}");
    let after = firewall(&site);
    for want in ["2377/tcp", "7946/udp", "port=\"4789\"", "masquerade: yes", "http https"] {
        assert!(after.contains(want), "{want} missing:\n{after}");
    }
    for extra in [&[][..], &["--check"]] {
        let (code, ev, all) = site.apply_with_vars("node.yml", extra);
        assert_eq!((code, recap_changed(&ev)), (0, 0), "{extra:?}: changed again:\n{all}");
    }
    assert_eq!(firewall(&site), after);

    // The daemon stopped.
    site.on_vm(
        "fw1",
        "pkill -x firewalld; for i in $(seq 1 40); do pgrep -x firewalld >/dev/null || exit 0; sleep 0.5; done",
    );
    // The zones' files (firewall-offline-cmd may write one back unchanged, keeping a `.old`).
    let zones = site.on_vm("fw1", "cd /etc/firewalld/zones && sha1sum *.xml");
    let (code, _, all) = site.apply_with_vars("offline.yml", &[]);
    assert_eq!(code, 0, "{all}");
    let after = site.on_vm("fw1", "cd /etc/firewalld/zones && sha1sum *.xml | grep -v offzone");
    assert_eq!(after, zones, "a zone file was written");
}
