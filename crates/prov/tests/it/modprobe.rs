//! community.general's `modprobe` through the real binary on this machine
//! (`ansible_connection=local`). Loading a kernel module is not faked: on a kernel without
//! loadable modules (no `/proc/modules`, as in the sandbox these tests were written in) the
//! task fails with the message ansible 12.3 gave on that machine; on a kernel that has them, a
//! module it already lists is loaded (no change, twice). The boot files' handling is checked
//! byte for byte against Ansible's in the module's unit tests. Needs `modprobe` (the `kmod`
//! package; `scripts/install-prereqs tests`).

use crate::util::Work;
use serde_json::Value as Json;

const NO_MODULES: &str = r#"- hosts: all
  gather_facts: false
  tasks:
    - name: load
      community.general.modprobe: {name: dummy, params: "numdummies=2", persistent: present}
      register: m
      ignore_errors: true
    - name: unload
      modprobe: {name: dummy, state: absent}
      register: n
      ignore_errors: true
    - name: as community.general.modprobe registered them
      assert:
        that:
          - >-
            m.failed and not m.changed and m.msg == "[Errno 2] No such file or directory: '/proc/modules'"
          - m.name == 'dummy' and m.params == 'numdummies=2' and m.state == 'present'
          - n.failed and n.msg == m.msg and n.params == '' and n.state == 'absent'
"#;

const LOADED: &str = r#"- hosts: all
  gather_facts: false
  tasks:
    - name: load
      modprobe: {name: "{{ module }}"}
      register: m
    - assert:
        that: not m.changed and m.name == module and m.state == 'present' and m.params == ''
"#;

#[test]
fn modprobe_loads_only_what_the_kernel_has_and_fails_as_ansible_does_without_modules() {
    let Ok(listed) = std::fs::read_to_string("/proc/modules") else {
        let w = Work::new(&[("site.yml", NO_MODULES)]);
        for extra in [&["--check"][..], &[]] {
            let r = w.run("site.yml", extra);
            let recap = r.events.iter().rev().find(|e| e["event"] == "recap").expect("recap");
            let got = (r.code, r.counts(), recap["hosts"][0]["ignored"].clone());
            assert_eq!(got, (0, (3, 0), Json::from(2)), "ansible: ok=3 changed=0 ignored=2\n{}", r.text);
        }
        assert!(!std::path::Path::new("/etc/modprobe.d/dummy.conf").exists());
        return;
    };
    let module = listed.split_whitespace().next().expect("a kernel that lists modules lists one");
    let w = Work::new(&[("site.yml", LOADED)]);
    let m = format!("module={module}");
    for extra in [&["-e", &m, "--check"][..], &["-e", &m], &["-e", &m]] {
        let r = w.run("site.yml", extra);
        assert_eq!((r.code, r.counts()), (0, (2, 0)), "{module} is loaded: nothing to do\n{}", r.text);
    }
}
