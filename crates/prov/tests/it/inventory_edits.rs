//! `add_host` and `group_by` change the inventory for the plays that follow, and the
//! `group_vars/`/`host_vars/` next to a playbook apply over the inventory's: values recorded
//! from ansible-core 2.19.14 on the same plays.

use crate::language::apply;
use crate::util::{prov, text};
use serde_json::Value as Json;

const SITE: &str = r#"- hosts: g1
  gather_facts: false
  tasks:
    - add_host:
        name: new1
        groups: [fresh, other]
        ansible_connection: local
        color: blue
      register: ah
    - add_host: {name: new1, groups: fresh}
      register: ah2
    - add_host: {hostname: "new2", groups: "fresh, third", ansible_connection: local}
      register: ah3
    - group_by: {key: "by {{ inventory_hostname }}", parents: [parent]}
      register: gb
    - group_by: {key: "by {{ inventory_hostname }}", parents: [parent]}
      register: gb2
    - name: show
      debug: {msg: "{{ {'ah': ah | default('undef'), 'ah2': ah2 | default('undef'), 'ah3': ah3 | default('undef'), 'gb': gb, 'gb2': gb2} | to_json }}"}
- hosts: fresh
  gather_facts: false
  tasks:
    - name: fresh
      debug: {msg: "{{ [inventory_hostname, color | default('none'), group_names, groups['by-a'] | default('nop')] | to_json }}"}
"#;

fn msg(r: &crate::language::Run, task: &str, host: &str) -> Json {
    let e =
        r.of(task).into_iter().find(|e| e["host"] == host).unwrap_or_else(|| panic!("{task} on {host}\n{}", r.dump()));
    serde_json::from_str(e["msg"].as_str().expect("msg")).expect("JSON")
}

#[test]
fn add_host_and_group_by_change_the_inventory_for_later_plays() {
    let (_d, r) = apply(&[("site.yml", SITE)], &[]);
    assert_eq!(r.code, 0, "{}", r.dump());
    let a = msg(&r, "show", "a");
    let strip = |mut v: Json| {
        v.as_object_mut().map(|m| m.remove("failed"));
        v
    };
    assert_eq!(
        strip(a["ah"].clone()),
        serde_json::json!({"changed": true, "add_host": {"host_name": "new1", "groups": ["fresh", "other"],
            "host_vars": {"ansible_connection": "local", "color": "blue"}}})
    );
    assert_eq!(
        strip(a["ah2"].clone()),
        serde_json::json!({"changed": false, "add_host": {"host_name": "new1", "groups": ["fresh"], "host_vars": {}}})
    );
    assert_eq!(strip(a["ah3"].clone())["changed"], true);
    assert_eq!(strip(a["ah3"].clone())["add_host"]["groups"], serde_json::json!(["fresh", "third"]));
    assert_eq!(
        strip(a["gb"].clone()),
        serde_json::json!({"changed": true, "add_group": "by-a", "parent_groups": ["parent"]})
    );
    assert_eq!(strip(a["gb2"].clone())["changed"], false);
    // add_host ran once, on the first host: the others register nothing.
    let b = msg(&r, "show", "b");
    assert_eq!((b["ah"].clone(), b["gb"]["add_group"].clone()), (Json::from("undef"), Json::from("by-b")));
    assert_eq!(r.of("add_host").iter().filter(|e| e["host"] == "b").count(), 0, "{}", r.dump());
    assert_eq!(msg(&r, "fresh", "new1"), serde_json::json!(["new1", "blue", ["fresh", "other"], ["a"]]));
    assert_eq!(msg(&r, "fresh", "new2"), serde_json::json!(["new2", "none", ["fresh", "third"], ["a"]]));
    let recap: Vec<(u64, u64)> =
        ["a", "b", "new1", "new2"].iter().map(|h| (r.recap(h, "ok"), r.recap(h, "changed"))).collect();
    assert_eq!(recap, [(6, 3), (3, 1), (1, 0), (1, 0)]);
}

#[test]
fn reading_groups_after_add_host_in_the_same_play_is_refused() {
    let site = "- hosts: a\n  gather_facts: false\n  tasks:\n    - add_host: {name: n, groups: g}\n    - debug: {msg: \"{{ groups['g'] }}\"}\n";
    let (_d, r) = apply(&[("site.yml", site)], &[]);
    assert_eq!(r.code, 4, "{}", r.dump());
    assert!(
        r.stderr.contains("site.yml:5:7") && r.stderr.contains("reads `groups` after `add_host` (site.yml:4:7)"),
        "{}",
        r.stderr
    );
    assert!(r.results().is_empty(), "nothing ran");
}

#[test]
fn playbook_group_vars_and_host_vars_apply_over_the_inventorys() {
    let dir = tempfile::tempdir().expect("tempdir");
    let files = [
        ("inv/hosts", "[web]\nw1 ansible_connection=local\n"),
        ("inv/group_vars/all.yml", "x: inv_all\ny: inv_all\nz: inv_all\nh: inv_all\n"),
        ("inv/group_vars/web.yml", "y: inv_web\n"),
        ("inv/host_vars/w1.yml", "h: inv_host\n"),
        ("pb/group_vars/all.yml", "x: pb_all\ny: pb_all\nz: pb_all\n"),
        ("pb/group_vars/web.yml", "z: pb_web\n"),
        ("pb/host_vars/w1.yml", "h: pb_host\n"),
        ("pb/site.yml", "- hosts: all\n  gather_facts: no\n  tasks:\n    - debug: {msg: \"x={{ x }} y={{ y }} z={{ z }} h={{ h }}\"}\n"),
    ];
    let (code, stdout, stderr) = apply_in(dir.path(), &files, &["pb/site.yml", "-i", "inv/hosts"]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    // ansible-playbook 2.19: playbook group_vars over the inventory's for the same group, a
    // more specific group over both, playbook host_vars over the inventory's.
    assert!(stdout.contains("ok: [w1] => x=pb_all y=inv_web z=pb_web h=pb_host"), "{stdout}");
}

fn write_tree(dir: &std::path::Path, files: &[(&str, &str)]) {
    for (name, body) in files {
        let p = dir.join(name);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, body).expect("write");
    }
}

/// Writes `files` into `dir`, then runs `prov apply ARGS` there: its exit code and output.
fn apply_in(dir: &std::path::Path, files: &[(&str, &str)], args: &[&str]) -> (Option<i32>, String, String) {
    write_tree(dir, files);
    let out = prov(dir, &[&["apply"][..], args].concat());
    let (stdout, stderr) = text(&out);
    (out.status.code(), stdout, stderr)
}

/// ansible-core ranks every `group_vars/` file above every inventory file's group variables,
/// `group_vars/all` included, and the playbook's `group_vars/<group>` above all of the
/// inventory's, whatever the groups' depths.
#[test]
fn group_vars_files_beat_the_inventory_files_group_variables_whatever_the_depth() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ini = "[servers:children]\nweb\n[web]\na ansible_connection=local h1=ini_host h2=ini_host\n\
               [web:vars]\nx=ini_web\ny=ini_web\nz=ini_web\n[servers:vars]\nw=ini_servers\n[all:vars]\nv=ini_all\n";
    let show = "v={{v}} w={{w}} x={{x}} y={{y}} z={{z}} q={{q}} h1={{h1}} h2={{h2}} h3={{h3}}";
    let site = format!("- hosts: all\n  gather_facts: false\n  tasks:\n    - debug: msg=\"{show}\"\n");
    let (code, stdout, stderr) = apply_in(
        dir.path(),
        &[
            ("inv/hosts.ini", ini),
            ("inv/group_vars/all.yml", "x: inv_all\nv: inv_all_dir\n"),
            ("inv/group_vars/servers.yml", "y: inv_servers\nw: inv_servers_dir\n"),
            ("inv/group_vars/web.yml", "q: inv_web\n"),
            ("pb/group_vars/all.yml", "z: play_all\n"),
            ("pb/group_vars/servers.yml", "q: play_servers\n"),
            ("inv/host_vars/a.yml", "h1: inv_host_dir\nh3: inv_host_dir\n"),
            ("pb/host_vars/a.yml", "h3: play_host_dir\n"),
            ("pb/p.yml", &site),
        ],
        &["pb/p.yml", "-i", "inv"],
    );
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    // ansible-playbook 2.19.14 on the same files.
    let ansible = "v=inv_all_dir w=inv_servers_dir x=inv_all y=inv_servers z=play_all q=play_servers \
                   h1=inv_host_dir h2=ini_host h3=play_host_dir";
    assert!(stdout.contains(&format!("ok: [a] => {ansible}")), "{stdout}");
}

/// A `group_vars/` file of a group the inventory does not have makes no group, and its
/// variables (and a `host_vars/` file's) reach the group and host `add_host` makes later.
#[test]
fn vars_files_of_groups_and_hosts_not_in_the_inventory_wait_for_add_host() {
    let dir = tempfile::tempdir().expect("tempdir");
    let site = r#"- hosts: all
  gather_facts: false
  tasks:
    - debug: {msg: "{{ groups.keys() | sort }}"}
    - add_host: {name: newhost, groups: nosuch, ansible_connection: local}
- hosts: newhost
  gather_facts: false
  tasks:
    - debug: {msg: "{{ hx }} {{ gx }}"}
"#;
    let (code, stdout, stderr) = apply_in(
        dir.path(),
        &[
            ("inv/hosts", "a ansible_connection=local\n"),
            ("inv/group_vars/nosuch.yml", "gx: g\n"),
            ("inv/host_vars/newhost.yml", "hx: h\n"),
            ("site.yml", site),
        ],
        &["site.yml", "-i", "inv/hosts"],
    );
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    // ansible-playbook 2.19.14: no group `nosuch` before add_host; then both files apply.
    assert!(stdout.contains(r#"ok: [a] => ["all","ungrouped"]"#), "{stdout}");
    assert!(stdout.contains("ok: [newhost] => h g"), "{stdout}");
}

/// In ansible-core a host that joins a group gets the group's variables in the same play;
/// prov changes the inventory when the play ends, so every later read that could differ is
/// refused before the run: group variables (directly or through play vars), `group_names` in
/// an assert's bare condition, a template file.
#[test]
fn reads_a_group_by_could_change_in_the_same_play_are_refused() {
    let site = r#"- hosts: g1
  gather_facts: false
  vars:
    via: "{{ tres }}"
  tasks:
    - group_by: {key: "k_{{ inventory_hostname }}", parents: g2}
    - debug: {msg: "{{ root }}"}
    - debug: {msg: "{{ tres }}"}
    - debug: {msg: "{{ via }}"}
    - assert: {that: "'g2' in group_names"}
    - template: {src: t.j2, dest: "{{ root }}/t"}
"#;
    let files = [("site.yml", site), ("group_vars/g2.yml", "tres: three\n"), ("templates/t.j2", "x\n")];
    let (_d, r) = apply(&files, &[]);
    assert_eq!(r.code, 4, "{}", r.dump());
    for (line, what) in
        [(8, "reads `tres`"), (9, "reads `via`"), (10, "reads `group_names`"), (11, "renders a template")]
    {
        assert!(r.stderr.contains(&format!("site.yml:{line}:7: error: task")), "line {line}: {}", r.stderr);
        assert!(r.stderr.contains(what), "{what}: {}", r.stderr);
    }
    assert!(!r.stderr.contains("site.yml:7:7"), "reading `root` (group all) is fine: {}", r.stderr);
    assert!(r.results().is_empty(), "nothing ran");
}

/// Found in review, each checked against ansible-core 2.19.14: `group_by` into a group the host
/// is already in, under `all`, changes nothing (prov said changed); a variable `add_host` sets
/// on a host of the play is read stale, and a connection variable a new group could bring
/// changes how later tasks run, so both are refused before the run.
#[test]
fn group_by_into_its_own_group_is_no_change_and_stale_reads_are_refused() {
    let site = "- hosts: a\n  gather_facts: false\n  tasks:\n    - group_by: {key: g1}\n      register: r1\n    - group_by: {key: g1}\n      register: r2\n- hosts: a\n  gather_facts: false\n  tasks:\n    - name: show\n      debug: {msg: \"{{ [r1.changed, r2.changed] }}\"}\n";
    let (_d, r) = apply(&[("site.yml", site)], &[]);
    assert_eq!(r.code, 0, "{}", r.dump());
    assert_eq!(r.of("show")[0]["msg"], "[false,false]");
    let stale = "- hosts: a\n  gather_facts: false\n  tasks:\n    - add_host: {name: a, color: blue}\n    - debug: {msg: \"{{ color }}\"}\n";
    let (_d, r) = apply(&[("site.yml", stale)], &[]);
    assert_eq!(r.code, 4, "{}", r.dump());
    assert!(r.stderr.contains("site.yml:5:7") && r.stderr.contains("reads `color` after `add_host`"), "{}", r.stderr);
    let conn = "- hosts: a\n  gather_facts: false\n  tasks:\n    - group_by: {key: g9}\n    - command: id -un\n";
    let (_d, r) = apply(&[("site.yml", conn), ("group_vars/g9.yml", "ansible_become: true\n")], &[]);
    assert_eq!(r.code, 4, "{}", r.dump());
    assert!(
        r.stderr.contains("site.yml:5:7") && r.stderr.contains("may run with another `ansible_become`"),
        "{}",
        r.stderr
    );
}

/// Group members and play hosts come in ansible-core's order, not the order hosts first
/// appear: a group's own hosts, then its children's in order (so `groups.managers[0]` is
/// `m1` below, listed second), `all` by its top-level groups in the order they were made;
/// patterns add their terms in order and apply intersections and exclusions last.
#[test]
fn group_members_and_play_hosts_come_in_ansibles_order() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ini = "[mgr_b]\nm2\n[mgr_a]\nm1\n[db]\nd1\n[managers:children]\nmgr_a\nmgr_b\n[web]\nw1\nw0\n[web]\nm1\n\
               [all:vars]\nansible_connection=local\n";
    let mut site = String::from(
        "- hosts: localhost\n  gather_facts: false\n  tasks:\n    - debug: {msg: \"all={{ groups.all }} managers={{ groups.managers }} web={{ groups.web }}\"}\n",
    );
    for pattern in ["all", "web:managers", "!web:managers", "web:!mgr_a:db", "&web:managers:db"] {
        site.push_str(&format!(
            "- hosts: \"{pattern}\"\n  gather_facts: false\n  tasks:\n    - debug: {{msg: \"{pattern} {{{{ ansible_play_hosts_all }}}}\"}}\n      run_once: true\n"
        ));
    }
    let (code, stdout, stderr) =
        apply_in(dir.path(), &[("inv.ini", ini), ("site.yml", &site)], &["site.yml", "-i", "inv.ini"]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    // ansible-playbook 2.19.14 on the same files (the same in three runs).
    for line in [
        "ok: [localhost] => all=['d1', 'w1', 'w0', 'm1', 'm2'] managers=['m1', 'm2'] web=['w1', 'w0', 'm1']",
        "ok: [d1] => all ['d1', 'w1', 'w0', 'm1', 'm2']",
        "ok: [w1] => web:managers ['w1', 'w0', 'm1', 'm2']",
        "ok: [m2] => !web:managers ['m2']",
        "ok: [w1] => web:!mgr_a:db ['w1', 'w0', 'd1']",
        "ok: [m1] => &web:managers:db ['m1']",
    ] {
        assert!(stdout.contains(line), "{line}\n{stdout}");
    }
}

/// A host `add_host` makes is made in `all` itself and comes first among its hosts; a host
/// that joins a group comes last in it.
#[test]
fn hosts_add_host_makes_come_first_in_all_and_last_in_their_groups() {
    let dir = tempfile::tempdir().expect("tempdir");
    let site = r#"- hosts: a
  gather_facts: false
  tasks:
    - add_host: {name: n1, groups: g, ansible_connection: local}
    - add_host: {name: n2, ansible_connection: local}
    - add_host: {name: b, groups: g}
- hosts: all
  gather_facts: false
  tasks:
    - debug: {msg: "{{ groups.all }} {{ groups.g }} {{ groups.ungrouped }} {{ ansible_play_hosts_all }}"}
      run_once: true
"#;
    let inv = "a\nb\n[g]\nc\n[all:vars]\nansible_connection=local\n";
    let (code, stdout, stderr) =
        apply_in(dir.path(), &[("inv.ini", inv), ("site.yml", site)], &["site.yml", "-i", "inv.ini"]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    // ansible-playbook 2.19.14: the same lists, and the play's first host is n1.
    let ansible = "ok: [n1] => ['n1', 'n2', 'a', 'c', 'b'] ['c', 'n1', 'b'] ['a', 'n2'] ['n1', 'n2', 'a', 'c', 'b']";
    assert!(stdout.contains(ansible), "{stdout}");
}

/// The play keyword `order` orders the hosts for running (batches, `run_once`'s host,
/// `ansible_play_batch`) while `ansible_play_hosts_all` keeps the pattern's order; an
/// unknown value is refused before the run. Batches as ansible-core 2.19.14 gave them.
#[test]
fn play_order_orders_the_batches_and_not_the_play_hosts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ini = "[mgr_b]\nm2\n[mgr_a]\nm1\n[db]\nd1\n[managers:children]\nmgr_a\nmgr_b\n[web]\nw1\nw0\n[web]\nm1\n\
               [all:vars]\nansible_connection=local\n";
    let mut site = String::new();
    for order in ["sorted", "reverse_sorted", "reverse_inventory", "inventory"] {
        site.push_str(&format!(
            "- hosts: all\n  gather_facts: false\n  order: {order}\n  serial: 2\n  tasks:\n    - debug: {{msg: \"{order} {{{{ ansible_play_batch }}}} {{{{ ansible_play_hosts_all }}}}\"}}\n      run_once: true\n"
        ));
    }
    let (code, stdout, stderr) =
        apply_in(dir.path(), &[("inv.ini", ini), ("site.yml", &site)], &["site.yml", "-i", "inv.ini"]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    let all = "['d1', 'w1', 'w0', 'm1', 'm2']";
    for (order, batches) in [
        ("sorted", ["['d1', 'm1']", "['m2', 'w0']", "['w1']"]),
        ("reverse_sorted", ["['w1', 'w0']", "['m2', 'm1']", "['d1']"]),
        ("reverse_inventory", ["['m2', 'm1']", "['w0', 'w1']", "['d1']"]),
        ("inventory", ["['d1', 'w1']", "['w0', 'm1']", "['m2']"]),
    ] {
        for b in batches {
            assert!(stdout.contains(&format!("{order} {b} {all}")), "{order} {b}\n{stdout}");
        }
    }
    let (code, stdout, stderr) = apply_in(
        dir.path(),
        &[("bad.yml", "- hosts: all\n  order: backwards\n  tasks: []\n")],
        &["bad.yml", "-i", "inv.ini"],
    );
    assert_eq!(code, Some(4), "{stdout}{stderr}");
    assert!(stderr.contains("bad.yml:2:10") && stderr.contains("invalid `order` `backwards`"), "{stderr}");
}

/// `group_names` leaves out `all` only: a host in no other group has `['ungrouped']`, the
/// implicit localhost none (ansible-core 2.19.14 on the same inventory).
#[test]
fn group_names_of_an_ungrouped_host_is_ungrouped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let site = "- hosts: all:localhost\n  gather_facts: false\n  tasks:\n    - debug: {msg: \"{{ inventory_hostname }} {{ group_names }}\"}\n";
    let (code, stdout, stderr) = apply_in(
        dir.path(),
        &[("inv.ini", "solo ansible_connection=local\n[web]\nw1 ansible_connection=local\n"), ("site.yml", site)],
        &["site.yml", "-i", "inv.ini"],
    );
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    for line in ["ok: [solo] => solo ['ungrouped']", "ok: [w1] => w1 ['web']", "ok: [localhost] => localhost []"] {
        assert!(stdout.contains(line), "{line}\n{stdout}");
    }
}
