//! Facts: `gather_facts`, the `setup` module, `gather_subset`, `filter`, `delegate_facts`, on
//! hosts reached with the local connection. Values that depend on the machine are compared
//! with what the machine itself says (`/proc`, `/sys`, `/etc/os-release`, `ip route`); the
//! shapes are those ansible-core 2.19's `setup` gave on Debian 12.

use crate::util::{json_events, prov};
use serde_json::Value as Json;
use std::path::Path;

fn project(play: &str) -> tempfile::TempDir {
    let d = tempfile::tempdir().expect("tempdir");
    std::fs::write(d.path().join("hosts.ini"), "here ansible_connection=local\nthere ansible_connection=local\n")
        .expect("inventory");
    std::fs::write(d.path().join("play.yml"), play).expect("playbook");
    d
}

/// Runs `play.yml` with `--output json`: the exit code, the `msg` of each `debug` named
/// `dump` (by host), and all output.
fn run(d: &Path) -> (i32, Vec<(String, String)>, String) {
    let out = prov(d, &["apply", "play.yml", "-i", "hosts.ini", "--output", "json"]);
    let (code, events, all) = json_events(&out);
    let dumps = events
        .iter()
        .filter(|e| e["event"] == "host_result" && e["name"] == "dump")
        .map(|e| (e["host"].as_str().unwrap_or("").to_string(), e["msg"].as_str().unwrap_or("").to_string()))
        .collect();
    (code, dumps, all)
}

fn sh(cmd: &str) -> String {
    let out = std::process::Command::new("sh").arg("-c").arg(cmd).output().expect("sh runs");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn dump_facts(gather_subset: &str) -> Json {
    let d = project(&format!(
        "- hosts: here\n  gather_facts: true\n{gather_subset}  tasks:\n    - name: dump\n      debug: msg={{{{ ansible_facts | to_json }}}}\n"
    ));
    let (code, dumps, all) = run(d.path());
    assert_eq!(code, 0, "{all}");
    serde_json::from_str(&dumps[0].1).expect("facts as JSON")
}

#[test]
fn gathered_facts_agree_with_the_machine() {
    let f = dump_facts("");
    let s = |k: &str| f[k].as_str().unwrap_or_else(|| panic!("{k} is a string: {}", f[k])).to_string();
    let n = |k: &str| f[k].as_i64().unwrap_or_else(|| panic!("{k} is an integer: {}", f[k]));
    // Platform.
    let node = sh("uname -n");
    assert_eq!(s("nodename"), node);
    assert_eq!(s("hostname"), node.split('.').next().unwrap_or(""));
    assert_eq!(s("architecture"), sh("uname -m"));
    assert_eq!(s("kernel"), sh("uname -r"));
    assert_eq!(s("system"), "Linux");
    // ansible-core takes the fqdn from Python's socket.getfqdn().
    assert_eq!(s("fqdn"), sh("python3 -c 'import socket; print(socket.getfqdn())'"));
    // Distribution, from /etc/os-release.
    let osr = |k: &str| sh(&format!(". /etc/os-release; printf %s \"${k}\""));
    if osr("ID") == "debian" {
        assert_eq!((s("distribution"), s("os_family")), ("Debian".into(), "Debian".into()));
        // ansible-core gives Debian's point release ("12.11") from /etc/debian_version.
        assert_eq!(s("distribution_version"), sh("cat /etc/debian_version"));
    }
    assert_eq!(s("distribution_major_version"), osr("VERSION_ID").split('.').next().unwrap_or(""));
    assert_eq!(s("distribution_release"), osr("VERSION_CODENAME"));
    // Hardware.
    assert_eq!(n("memtotal_mb"), sh("awk '/^MemTotal:/ {print $2}' /proc/meminfo").parse::<i64>().expect("kB") / 1024);
    assert_eq!(n("processor_nproc"), sh("nproc").parse::<i64>().expect("nproc"));
    assert!(n("processor_vcpus") >= 1 && n("processor_count") >= 1 && n("processor_cores") >= 1);
    let root = f["mounts"].as_array().expect("mounts").iter().find(|m| m["mount"] == "/");
    assert_eq!(root.is_some(), !sh("awk '$2 == \"/\"' /proc/mounts").is_empty(), "{}", f["mounts"]);
    if let Some(root) = root {
        assert!(root["size_total"].as_i64().unwrap_or(0) > 0 && root["block_size"].as_i64().unwrap_or(0) > 0, "{root}");
        assert!(root["uuid"].is_string() && root["options"].is_string());
    }
    // Network: the default route as `ip route get` gives it, the interfaces of /sys/class/net.
    let mut ifs: Vec<String> = sh("ls /sys/class/net").split_whitespace().map(str::to_string).collect();
    ifs.sort();
    let mut got: Vec<String> =
        f["interfaces"].as_array().expect("list").iter().map(|v| v.as_str().unwrap_or("").into()).collect();
    got.sort();
    assert_eq!(got, ifs);
    let route: Vec<String> = sh("ip -4 route get 8.8.8.8 2>/dev/null").split_whitespace().map(str::to_string).collect();
    let after = |k: &str| route.iter().position(|w| w == k).and_then(|i| route.get(i + 1)).cloned();
    let d4 = &f["default_ipv4"];
    if let Some(dev) = after("dev") {
        assert_eq!(d4["interface"].as_str(), Some(dev.as_str()), "{d4}");
        assert_eq!(d4["address"].as_str().map(str::to_string), after("src"), "{d4}");
        assert_eq!(d4["gateway"].as_str().map(str::to_string), after("via"), "{d4}");
        assert_eq!(
            d4["macaddress"].as_str().map(str::to_string),
            Some(sh(&format!("cat /sys/class/net/{dev}/address")))
        );
        assert_eq!(d4["mtu"].as_i64().map(|m| m.to_string()), Some(sh(&format!("cat /sys/class/net/{dev}/mtu"))));
        for k in ["netmask", "network", "broadcast", "prefix", "type", "alias"] {
            assert!(d4[k].is_string(), "default_ipv4.{k}: {d4}");
        }
        let iface = &f[dev.replace('-', "_").as_str()];
        assert_eq!(iface["device"].as_str(), Some(dev.as_str()));
        assert_eq!(iface["ipv4"]["address"], d4["address"]);
        assert!(f["all_ipv4_addresses"].as_array().expect("list").contains(&d4["address"]));
    } else {
        // No default route: Ansible gives an empty default_ipv4.
        assert!(d4.as_object().is_some_and(|o| o.is_empty()), "{d4}");
    }
    // date_time: strings, as in Ansible, and now.
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("time").as_secs() as i64;
    let epoch: i64 = f["date_time"]["epoch"].as_str().expect("string").parse().expect("number");
    assert!((now - epoch).abs() < 300, "{}", f["date_time"]);
    for k in ["date", "time", "iso8601", "iso8601_micro", "tz", "tz_offset", "weekday", "year", "hour"] {
        assert!(f["date_time"][k].is_string(), "date_time.{k}");
    }
    // The user and the environment.
    assert_eq!(n("user_uid").to_string(), sh("id -u"));
    assert_eq!(f["user_dir"].as_str().map(str::to_string), Some(sh("getent passwd \"$(id -un)\" | cut -d: -f6")));
    assert!(f["env"]["PATH"].is_string());
    // Service and package managers, by Ansible's rules.
    let comm = sh("cat /proc/1/comm");
    if comm != "init" && !comm.ends_with("sh") {
        assert_eq!(s("service_mgr"), comm);
    }
    if Path::new("/usr/bin/apt-get").exists() {
        assert_eq!(s("pkg_mgr"), "apt");
    }
    assert_eq!(f["gather_subset"], serde_json::json!(["all"]));
    assert_eq!(f["module_setup"], true);
}

#[test]
fn facts_are_variables_with_the_ansible_prefix_too() {
    let d = project(
        "- hosts: here\n  gather_facts: true\n  tasks:\n    - name: dump\n      debug: msg=\"{{ ansible_hostname == ansible_facts.hostname and ansible_default_ipv4 == ansible_facts['default_ipv4'] and ansible_memtotal_mb is number and ansible_processor_vcpus is number }}\"\n",
    );
    let (code, dumps, all) = run(d.path());
    assert_eq!(code, 0, "{all}");
    // A template that is one boolean gives a boolean (ansible-core 2.19 prints `true`).
    assert_eq!(dumps[0].1, "true", "{all}");
}

#[test]
fn gather_subset_min_leaves_out_network_and_hardware() {
    // ansible-core 2.19 with gather_subset=min: no interfaces, no mounts, but the distribution.
    let f = dump_facts("  gather_subset: [min]\n");
    assert!(f.get("default_ipv4").is_none() && f.get("interfaces").is_none() && f.get("mounts").is_none(), "{f}");
    assert!(f["distribution"].is_string() && f["service_mgr"].is_string() && f["date_time"].is_object());
    let f = dump_facts("  gather_subset: ['!all', network]\n");
    assert!(f["default_ipv4"].is_object() && f.get("mounts").is_none(), "{f}");
    let f = dump_facts("  gather_subset: hardware\n");
    assert!(f["mounts"].is_array() && f.get("interfaces").is_none(), "{f}");
}

#[test]
fn setup_module_filters_and_registers_prefixed_names() {
    // ansible-core 2.19: `r.ansible_facts` holds `ansible_`-prefixed names; the host's
    // `ansible_facts` the same facts without the prefix, and nothing else when facts were not
    // gathered before.
    let d = project(
        "- hosts: here\n  gather_facts: false\n  tasks:\n    - ansible.builtin.setup:\n        gather_subset: ['!all']\n        filter: ['ansible_host*', 'ansible_distribution']\n      register: r\n    - name: dump\n      debug: msg=\"{{ r.ansible_facts.keys() | sort | join(',') }} {{ ansible_facts.keys() | sort | join(',') }} {{ ansible_hostname == ansible_facts.hostname }} {{ r.changed }}\"\n",
    );
    let (code, dumps, all) = run(d.path());
    assert_eq!(code, 0, "{all}");
    assert_eq!(dumps[0].1, "ansible_distribution,ansible_hostname distribution,hostname True False", "{all}");
}

#[test]
fn setup_network_subset_gives_the_interfaces() {
    let d = project(
        "- hosts: here\n  gather_facts: false\n  tasks:\n    - setup: gather_subset=!all,!min,network\n    - name: dump\n      debug: msg=\"{{ ansible_interfaces | sort | join(',') }} {{ ansible_facts.date_time is defined }}\"\n",
    );
    let (code, dumps, all) = run(d.path());
    assert_eq!(code, 0, "{all}");
    let mut ifs: Vec<String> = sh("ls /sys/class/net").split_whitespace().map(str::to_string).collect();
    ifs.sort();
    assert_eq!(dumps[0].1, format!("{} False", ifs.join(",")), "{all}");
}

#[test]
fn unknown_gather_subset_is_refused_before_connecting() {
    for play in [
        "- hosts: here\n  gather_facts: true\n  gather_subset: [network, bogus]\n  tasks:\n    - debug: msg=hi\n",
        "- hosts: here\n  gather_facts: false\n  tasks:\n    - setup:\n        gather_subset: bogus\n",
    ] {
        let d = project(play);
        let out = prov(d.path(), &["apply", "play.yml", "-i", "hosts.ini"]);
        let (o, e) = crate::util::text(&out);
        assert_eq!(out.status.code(), Some(4), "{o}\n{e}");
        assert!(e.contains("Bad subset 'bogus' given to Ansible") && e.contains("play.yml:"), "{e}");
    }
    let d = project("- hosts: here\n  gather_facts: false\n  tasks:\n    - setup: {fact_path: /etc/ansible/facts.d}\n");
    let out = prov(d.path(), &["apply", "play.yml", "-i", "hosts.ini"]);
    let (o, e) = crate::util::text(&out);
    assert_eq!(out.status.code(), Some(4), "{o}\n{e}");
    assert!(e.contains("fact_path"), "{e}");
}

/// ansible-core 2.19 (same plays): the play keyword makes a string one subset
/// ("Bad subset 'network,!hardware'"), the module splits it at commas and keeps the parts as
/// written ("Bad subset ' !hardware'"); both fail, so prov refuses them before connecting.
#[test]
fn gather_subset_strings_are_read_as_ansible_reads_them() {
    for (play, bad) in [
        ("- hosts: here\n  gather_facts: true\n  gather_subset: \"network,!hardware\"\n  tasks:\n    - debug: msg=hi\n", "'network,!hardware'"),
        ("- hosts: here\n  gather_facts: false\n  tasks:\n    - setup:\n        gather_subset: \"network, !hardware\"\n", "' !hardware'"),
        ("- hosts: here\n  gather_facts: false\n  tasks:\n    - setup:\n        gather_subset: \"\"\n", "''"),
    ] {
        let d = project(play);
        let out = prov(d.path(), &["apply", "play.yml", "-i", "hosts.ini"]);
        let (o, e) = crate::util::text(&out);
        assert_eq!(out.status.code(), Some(4), "{o}\n{e}");
        assert!(e.contains(&format!("Bad subset {bad} given to Ansible")) && e.contains("play.yml:"), "{e}");
    }
}

/// ansible-core 2.19 (same play): `filter` patterns are also tried with `ansible_` in front, so
/// `hostname` keeps `ansible_hostname`; excluding an unknown subset is ignored.
#[test]
fn setup_filter_tries_the_ansible_prefix() {
    let d = project(
        "- hosts: here\n  gather_facts: false\n  tasks:\n    - ansible.builtin.setup:\n        gather_subset: ['!all', '!bogus']\n        filter: hostname,distribution\n      register: r\n    - name: dump\n      debug: msg=\"{{ r.ansible_facts.keys() | sort | join(',') }}\"\n",
    );
    let (code, dumps, all) = run(d.path());
    assert_eq!(code, 0, "{all}");
    assert_eq!(dumps[0].1, "ansible_distribution,ansible_hostname", "{all}");
}

#[test]
fn delegate_facts_puts_the_facts_on_the_delegated_host() {
    // As ansible-core 2.19 did with the same play: "<address> none-here", then "1 nox-here",
    // then, in the next play on `there`, "1 <hostname> True".
    let d = project(
        "- hosts: here\n  gather_facts: false\n  tasks:\n    - setup: {gather_subset: [network]}\n      delegate_to: there\n      delegate_facts: true\n    - name: dump\n      debug: msg=\"{{ hostvars['there'].ansible_default_ipv4.address | default('none') }} {{ ansible_default_ipv4 | default('none-here') }}\"\n    - set_fact: {x: 1}\n      delegate_to: there\n      delegate_facts: true\n    - name: dump\n      debug: msg=\"{{ hostvars['there'].x | default('nox') }} {{ x | default('nox-here') }}\"\n- hosts: there\n  gather_facts: false\n  tasks:\n    - name: dump\n      debug: msg=\"{{ x | default('nox') }} {{ ansible_hostname | default('noname') }} {{ ansible_facts.default_ipv4 is defined }}\"\n",
    );
    let (code, dumps, all) = run(d.path());
    assert_eq!(code, 0, "{all}");
    let route: Vec<String> = sh("ip -4 route get 8.8.8.8 2>/dev/null").split_whitespace().map(str::to_string).collect();
    let src = route.iter().position(|w| w == "src").and_then(|i| route.get(i + 1)).cloned().unwrap_or("none".into());
    let host = sh("uname -n");
    let msgs: Vec<&str> = dumps.iter().map(|(_, m)| m.as_str()).collect();
    assert_eq!(
        msgs,
        [
            format!("{src} none-here"),
            "1 nox-here".to_string(),
            format!("1 {} True", host.split('.').next().unwrap_or(""))
        ],
        "{all}"
    );
}

#[test]
fn facts_gathered_in_one_play_are_kept_for_the_next() {
    // Play 1 gathers everything on both hosts; play 2 (min) gathers nothing new and still has
    // the network facts; play 3, on `there` only, reads `here`'s facts through hostvars.
    let d = project(
        "- hosts: all\n  gather_facts: true\n  tasks: []\n- hosts: here\n  gather_facts: true\n  gather_subset: [min]\n  tasks:\n    - name: dump\n      debug: msg=\"{{ ansible_default_ipv4 is defined }}\"\n- hosts: there\n  gather_facts: false\n  tasks:\n    - name: dump\n      debug: msg=\"{{ hostvars['here'].ansible_facts.mounts is defined }}\"\n",
    );
    let (code, dumps, all) = run(d.path());
    assert_eq!(code, 0, "{all}");
    let msgs: Vec<&str> = dumps.iter().map(|(_, m)| m.as_str()).collect();
    assert_eq!(msgs, ["true", "true"], "{all}");
}

#[test]
fn setup_reads_facts_in_check_mode_too() {
    // ansible-core runs setup in check mode (it changes nothing); the facts are there.
    let d = project(
        "- hosts: here\n  gather_facts: false\n  tasks:\n    - setup: {gather_subset: min}\n    - name: dump\n      debug: msg=\"{{ ansible_facts.distribution | default('none') }} {{ ansible_check_mode }}\"\n",
    );
    let out = prov(d.path(), &["apply", "play.yml", "-i", "hosts.ini", "--check", "--output", "json"]);
    let (code, events, all) = json_events(&out);
    assert_eq!(code, 0, "{all}");
    let msg = events
        .iter()
        .find(|e| e["event"] == "host_result" && e["name"] == "dump")
        .map(|e| e["msg"].as_str().unwrap_or("").to_string());
    assert!(msg.as_deref().is_some_and(|m| m.ends_with(" True") && !m.starts_with("none")), "{all}");
    assert_eq!(crate::util::recap_changed(&events), 0, "{all}");
}

#[test]
fn gathering_uses_the_plays_become() {
    // Ansible gathers with the play's escalation: the user facts are the become user's.
    let d = project(
        "- hosts: here\n  gather_facts: true\n  gather_subset: min\n  become: true\n  become_user: nobody\n  tasks:\n    - name: dump\n      debug: msg=\"{{ ansible_user_id }} {{ ansible_user_uid }} {{ ansible_effective_user_id }}\"\n",
    );
    let (code, dumps, all) = run(d.path());
    assert_eq!(code, 0, "{all}");
    let uid = sh("id -u nobody");
    assert_eq!(dumps[0].1, format!("nobody {uid} {uid}"), "{all}");
}

/// A play without `gather_facts` gathers on every host, as ansible-core's default
/// (`gathering = implicit`) does, and the gathering is a task of the recap: facts read only
/// in a template, a play variable or a `default()` are there (prov used to gather only when
/// a task's arguments named a fact, and rendered `NONE` here). The gathering task is tagged
/// `always`, or with the play's tags; `gathering = smart` gathers once per host, `explicit`
/// only where a play asks. Recaps and messages as ansible-core 2.19.14 gave them for the same
/// playbook and options.
#[test]
fn plays_gather_facts_by_default_as_ansible_core_decides_it() {
    let site = r#"- hosts: here
  vars:
    h: "{{ ansible_system | default('NONE') }}"
  tasks:
    - name: tpl
      template: {src: t.j2, dest: "{{ playbook_dir }}/out.txt"}
    - name: dump
      debug: {msg: "{{ h }} {{ lookup('file', playbook_dir ~ '/out.txt') }}"}
- hosts: here
  tags: [p2]
  tasks:
    - name: second
      debug: {msg: "x"}
      tags: [t2]
"#;
    let d = project(site);
    std::fs::write(d.path().join("t.j2"), "{{ ansible_system | default('NONE') }}\n").expect("template");
    let cases: [(&str, &[&str], &str, u64, usize); 6] = [
        ("", &[], "Linux Linux", 5, 2),
        ("", &["--tags", "t2"], "", 2, 1),
        ("", &["--skip-tags", "always"], "NONE NONE", 4, 1),
        ("", &["--tags", "p2"], "", 3, 2),
        ("smart", &[], "Linux Linux", 4, 1),
        ("explicit", &[], "NONE NONE", 3, 0),
    ];
    for (gathering, args, dump, ok, gathered) in cases {
        let cfg = d.path().join("ansible.cfg");
        match gathering {
            "" => std::fs::remove_file(&cfg).unwrap_or(()),
            g => std::fs::write(&cfg, format!("[defaults]\ngathering = {g}\n")).expect("ansible.cfg"),
        }
        let _ = std::fs::remove_file(d.path().join("out.txt"));
        let out = prov(d.path(), &[&["apply", "play.yml", "-i", "hosts.ini", "--output", "json"][..], args].concat());
        let (code, events, all) = json_events(&out);
        assert_eq!(code, 0, "{gathering} {args:?}: {all}");
        let results = |name: &str| events.iter().filter(|e| e["event"] == "host_result" && e["name"] == name).count();
        let msg = events.iter().find(|e| e["event"] == "host_result" && e["name"] == "dump").map(|e| e["msg"].clone());
        assert_eq!(msg.unwrap_or_default().as_str().unwrap_or(""), dump, "{gathering} {args:?}: {all}");
        assert_eq!(results("Gathering Facts"), gathered, "{gathering} {args:?}: {all}");
        let recap = events.iter().find(|e| e["event"] == "recap").expect("recap");
        let here = recap["hosts"].as_array().and_then(|h| h.iter().find(|h| h["host"] == "here")).expect("here");
        assert_eq!(here["ok"].as_u64(), Some(ok), "{gathering} {args:?}: {all}");
    }
}

/// The gathering of a later play connects as the play's templated `remote_user` says, with
/// what earlier plays set on the host (ansible-core's `playbook/user.yml` integration case:
/// prov rendered it without them, "'me' is undefined").
#[test]
fn gathering_renders_the_remote_user_with_what_earlier_plays_set() {
    let d = project(
        "- hosts: here\n  tasks:\n    - command: whoami\n      register: whoami\n    - set_fact: {me: \"{{ whoami.stdout }}\"}\n- hosts: here\n  remote_user: \"{{ me }}\"\n  tasks:\n    - name: dump\n      debug: {msg: \"{{ me }}\"}\n",
    );
    let (code, dumps, all) = run(d.path());
    assert_eq!(code, 0, "{all}");
    assert_eq!(dumps, [("here".to_string(), sh("whoami"))], "{all}");
}

/// `set_fact` with `cacheable: true` also puts the facts into the host's facts: under
/// `ansible_facts` (a name with the `ansible_` prefix without it), and as a variable under the
/// name given, which `hostvars` shows in later plays (ansible-core 2.19.14: `1 2 U 1 2 U`, then
/// `U`, then `1 1 1 3`).
#[test]
fn set_fact_cacheable_puts_the_facts_in_ansible_facts() {
    let d = project(
        "- hosts: here\n  gather_facts: false\n  tasks:\n    - set_fact: {foo: 1, ansible_bar: 2, cacheable: true}\n    - name: dump\n      debug: msg=\"{{ ansible_facts.foo | default('U') }} {{ ansible_facts.bar | default('U') }} {{ ansible_facts.ansible_bar | default('U') }} {{ foo }} {{ ansible_bar }} {{ bar | default('U') }}\"\n    - set_fact: {baz: 3}\n    - name: dump\n      debug: msg=\"{{ ansible_facts.baz | default('U') }} {{ ansible_foo | default('U') }}\"\n- hosts: here\n  gather_facts: false\n  tasks:\n    - name: dump\n      debug: msg=\"{{ foo }} {{ ansible_facts.foo | default('U') }} {{ hostvars.here.ansible_facts.foo | default('U') }} {{ baz }}\"\n    - meta: clear_facts\n    - name: dump\n      debug: msg=\"{{ foo }} {{ ansible_facts.foo | default('U') }}\"\n",
    );
    let (code, dumps, all) = run(d.path());
    assert_eq!(code, 0, "{all}");
    let msgs: Vec<&str> = dumps.iter().map(|(_, m)| m.as_str()).collect();
    assert_eq!(msgs, ["1 2 U 1 2 U", "U U", "1 1 1 3", "1 U"], "{all}");
}
