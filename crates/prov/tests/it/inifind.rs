//! community.general's `ini_file` through the real binary on this machine
//! (`ansible_connection=local`), against temporary files. Differential: every expected file,
//! counter and registered value below is what ansible-core 2.19 with the collections of
//! ansible 12.3 gave for the same playbooks on the same files (recorded here: CI has no
//! Ansible). The playbooks' `assert` tasks hold the values Ansible registered.

use crate::util::Work;
use serde_json::Value as Json;

const INI_SITE: &str = r#"- hosts: all
  gather_facts: false
  vars:
    f: "{{ root }}/conf.ini"
  tasks:
    - name: changed value
      community.general.ini_file: {path: "{{ f }}", section: drinks, option: fav, value: water}
      register: r1
    - name: inactive rewritten
      ini_file: {dest: "{{ f }}", section: drinks, option: b, value: "3"}
      register: r2
    - name: new option after last option
      community.general.ini_file: {path: "{{ f }}", section: drinks, option: new, value: v}
      register: r3
    - name: values exclusive
      ini_file: {path: "{{ f }}", section: drinks, option: beverage, values: [pepsi, sprite]}
      register: r4
    - name: before first section
      ini_file: {path: "{{ f }}", option: top, value: 2}
      register: r5
    - name: new section
      ini_file: {path: "{{ f }}", section: newsec, option: k, value: "v w"}
      register: r6
    - name: no extra spaces kept
      ini_file: {path: "{{ f }}", section: other, option: x, value: 1, no_extra_spaces: true}
      register: r7
    - name: ignore spaces
      ini_file: {path: "{{ f }}", section: other, option: y, value: 2, ignore_spaces: true}
      register: r8
    - name: section removed
      ini_file: {path: "{{ f }}", section: empty, state: absent}
      register: r9
    - name: option removed
      ini_file: {path: "{{ f }}", section: drinks, option: gone, state: absent}
      register: r10
    - name: no value
      ini_file: {path: "{{ f }}", section: other, option: flag, allow_no_value: true}
      register: r11
    - name: inactive kept
      ini_file: {path: "{{ f }}", section: other, option: c, value: 5, modify_inactive_option: false}
      register: r12
    - name: added not exclusive
      ini_file: {path: "{{ f }}", section: multi, option: m, value: three, exclusive: false}
      register: r13
    - name: removed not exclusive
      ini_file: {path: "{{ f }}", section: multi, option: m, value: one, exclusive: false, state: absent}
      register: r14
    - name: bool value
      ini_file: {path: "{{ f }}", section: multi, option: b, value: yes}
      register: r15
    - name: mode
      ini_file: {path: "{{ f }}", section: multi, option: b, value: "True", mode: "0600"}
      register: r16
    - name: as community.general registered them
      assert:
        that:
          - r1.msg == 'option changed' and r1.path == f and r1.size == 203 and r1.mode == '0644' and r1.state == 'file'
          - r2.msg == 'option changed' and r3.msg == 'option added' and r4.msg == 'option changed'
          - r6.msg == 'section and option added' and r6.size == 228
          - r7.msg == 'OK' and not r7.changed and r8.msg == 'OK' and not r8.changed
          - r9.msg == 'section removed' and r10.msg == 'option changed' and r11.msg == 'option added'
          - r16.msg == 'OK' and r16.mode == '0600' and r16.size == 229
          - r1.backup_file is not defined
      when: first | default(false) | bool
"#;

/// The file the tasks of [`INI_SITE`] edit, before.
const CONF_INI: &str = "# top comment\ntop = 1\n\n[drinks]\nfav = lemonade\n; b = 2\nbeverage = coke\nbeverage = pepsi\ngone=x\n\n# trailing comment\n[empty]\nk = 1\n[other] ; comment\nx=1\ny =2\n# c = 1\n[multi]\nm = one\nm = two\nlast = no newline";

/// The bytes community.general.ini_file left after [`INI_SITE`].
const CONF_INI_AFTER: &str = "# top comment\ntop = 2\n\n[drinks]\nfav = water\nb = 3\nbeverage = sprite\nbeverage = pepsi\nnew = v\n\n# trailing comment\n[other] ; comment\nx=1\ny =2\nflag\nc = 5\n# c = 1\n[multi]\nm = two\nlast = no newline\nm = three\nb = True\n[newsec]\nk = v w\n";

fn ignored(r: &crate::util::Run) -> Json {
    let recap = r.events.iter().rev().find(|e| e["event"] == "recap").expect("recap");
    recap["hosts"][0]["ignored"].clone()
}

#[test]
fn ini_file_sets_adds_and_removes_options_and_sections_as_ansible_does() {
    let w = Work::new(&[("site.yml", INI_SITE)]);
    std::fs::write(w.root().join("conf.ini"), CONF_INI).expect("conf.ini");
    let r = w.run("site.yml", &["--check", "--diff"]);
    assert_eq!((r.code, r.counts()), (0, (16, 16)), "ansible: ok=16 changed=16 skipped=1 in check mode\n{}", r.text);
    assert_eq!(w.read("conf.ini"), CONF_INI, "check mode wrote the file");
    let first = r.events.iter().find(|e| e["event"] == "host_result").expect("a result");
    let after = CONF_INI.replace("lemonade", "water") + "\n";
    assert_eq!(first["diff"][0]["before"], CONF_INI, "ansible's diff.before");
    assert_eq!(first["diff"][0]["after"], after.as_str(), "ansible's diff.after");
    let r = w.run("site.yml", &["-e", "first=true"]);
    assert_eq!((r.code, r.counts()), (0, (17, 14)), "ansible: ok=17 changed=14\n{}", r.text);
    assert_eq!(w.read("conf.ini"), CONF_INI_AFTER, "the bytes community.general.ini_file wrote");
    let r = w.run("site.yml", &[]);
    assert_eq!((r.code, r.counts()), (0, (16, 0)), "second run changes nothing\n{}", r.text);
    let mode = std::fs::metadata(w.root().join("conf.ini")).expect("conf.ini").permissions();
    assert_eq!(std::os::unix::fs::PermissionsExt::mode(&mode) & 0o7777, 0o600);
}

const INI_FILES: &str = r#"- hosts: all
  gather_facts: false
  tasks:
    - name: created with its directory
      ini_file: {path: "{{ root }}/new/dir/a.ini", section: s, option: o, value: v, mode: "0640"}
      register: n1
    - name: created without section
      ini_file: {path: "{{ root }}/b.ini", option: o, value: v}
      register: n2
    - name: missing not created
      ini_file: {path: "{{ root }}/c.ini", section: s, option: o, value: v, create: false}
      register: n3
      ignore_errors: true
    - name: absent on a missing file
      ini_file: {path: "{{ root }}/d.ini", section: s, option: o, state: absent}
      register: n4
    - name: only a section
      ini_file: {path: "{{ root }}/e.ini", section: only, allow_no_value: true}
      register: n5
    - name: empty file absent
      ini_file: {path: "{{ root }}/empty.ini", section: s, option: o, state: absent}
      register: n6
    - name: crlf untouched
      ini_file: {path: "{{ root }}/crlf.ini", section: s, option: o, value: v}
      register: n7
    - name: crlf changed
      ini_file: {path: "{{ root }}/crlf.ini", section: s, option: p, value: q, backup: true}
      register: n8
    - name: through a link not followed
      ini_file: {path: "{{ root }}/link.ini", section: s, option: o, value: w}
      register: n9
    - name: through a link followed
      ini_file: {path: "{{ root }}/link2.ini", section: s, option: o, value: w, follow: true}
      register: n10
    - name: has values
      ini_file:
        path: "{{ root }}/wg.ini"
        section: Peer
        section_has_values: [{option: AllowedIps, value: 10.0.0.2/32}]
        option: PublicKey
        value: NEW
      register: n11
    - name: has values new section
      ini_file:
        path: "{{ root }}/wg.ini"
        section: Peer
        section_has_values: [{option: AllowedIps, value: 10.0.0.3/32}]
        option: PublicKey
        value: THREE
      register: n12
    - name: values no value
      ini_file: {path: "{{ root }}/nv.ini", section: s, option: a, allow_no_value: true}
      register: n13
    - name: exclusive removes inactive
      ini_file: {path: "{{ root }}/ex.ini", section: s, option: a, value: "1"}
      register: n14
    - name: no section in file without sections
      ini_file: {path: "{{ root }}/flat.ini", option: z, value: "9"}
      register: n15
    - name: as community.general registered them
      assert:
        that:
          - n1.msg == 'section and option added' and n1.mode == '0640' and n1.size == 11
          - n2.msg == 'option added' and n2.size == 7
          - n3.failed and n3.rc == 257 and n3.msg == 'Destination ' ~ root ~ '/c.ini does not exist!'
          - n4.msg == 'OK' and not n4.changed and n4.path == root ~ '/d.ini' and n4.state is not defined
          - n5.msg == 'only section added'
          - n6.msg == 'OK' and not n6.changed and n6.size == 0
          - not n7.changed and n7.size == 12
          - n8.backup_file is search('/crlf\\.ini\\.[0-9]+\\.[0-9]{4}-[0-9]{2}-[0-9]{2}@[0-9]{2}:[0-9]{2}:[0-9]{2}~$') and lookup('file', n8.backup_file) == '[s]\r\no = v'
          - n9.state == 'file' and n9.size == 10
          - n10.state == 'link' and n10.mode == '0777' and n10.size == 11
          - n12.msg == 'section and option added' and n12.size == 170
          - n13.msg == 'option changed' and n14.msg == 'option changed' and n15.msg == 'option added'
      when: first | default(false) | bool
"#;

#[test]
fn ini_file_creates_follows_links_keeps_line_ends_and_backs_up_as_ansible_does() {
    let w = Work::new(&[("files.yml", INI_FILES)]);
    let root = w.root();
    let wg = "[Interface]\nAddress = 1\n\n[Peer]\nPublicKey = A\nAllowedIps = 10.0.0.1/32\n\n[Peer]\nPublicKey = B\nAllowedIps = 10.0.0.2/32\n";
    for (name, body) in [
        ("empty.ini", ""),
        ("crlf.ini", "[s]\r\no = v\r\n"),
        ("target.ini", "[s]\no = v\n"),
        ("target2.ini", "[s]\no = v\n"),
        ("wg.ini", wg),
        ("nv.ini", "[s]\na = 1\nb = 2\na = 3\n"),
        ("ex.ini", "[s]\na = 1\n# a = 5\n;a=6\n"),
        ("flat.ini", "x = 1\n\n# end\n"),
    ] {
        std::fs::write(root.join(name), body).expect("write");
    }
    std::os::unix::fs::symlink("target.ini", root.join("link.ini")).expect("link");
    std::os::unix::fs::symlink("target2.ini", root.join("link2.ini")).expect("link");
    let r = w.run("files.yml", &["--check"]);
    let got = (r.code, r.counts(), ignored(&r));
    assert_eq!(got, (0, (15, 11), Json::from(1)), "ansible: ok=15 changed=11 ignored=1 skipped=1\n{}", r.text);
    assert!(!root.join("new").exists() && !root.join("b.ini").exists(), "check mode created files");
    let r = w.run("files.yml", &["-e", "first=true"]);
    let got = (r.code, r.counts(), ignored(&r));
    assert_eq!(got, (0, (16, 11), Json::from(1)), "ansible: ok=16 changed=11 ignored=1\n{}", r.text);
    let expected = [
        ("new/dir/a.ini", "\n[s]\no = v\n".to_string()),
        ("b.ini", "o = v\n\n".into()),
        ("e.ini", "\n[only]\n".into()),
        ("empty.ini", "".into()),
        ("crlf.ini", "[s]\no = v\np = q\n".into()),
        ("link.ini", "[s]\no = w\n".into()),
        ("target.ini", "[s]\no = v\n".into()),
        ("target2.ini", "[s]\no = w\n".into()),
        ("wg.ini", format!("{}[Peer]\nAllowedIps = 10.0.0.3/32\nPublicKey = THREE\n", wg.replace("= B", "= NEW"))),
        ("nv.ini", "[s]\na\nb = 2\na = 3\n".into()),
        ("ex.ini", "[s]\na = 1\n".into()),
        ("flat.ini", "x = 1\nz = 9\n\n# end\n".into()),
    ];
    for (name, body) in &expected {
        assert_eq!(&w.read(name), body, "{name}: the bytes community.general.ini_file wrote");
    }
    assert!(!root.join("c.ini").exists() && !root.join("d.ini").exists());
    assert!(
        !std::fs::symlink_metadata(root.join("link.ini")).expect("link.ini").file_type().is_symlink(),
        "not followed: replaced"
    );
    assert!(
        std::fs::symlink_metadata(root.join("link2.ini")).expect("link2.ini").file_type().is_symlink(),
        "followed: kept"
    );
    let mode = std::fs::metadata(root.join("new/dir/a.ini")).expect("a.ini").permissions();
    assert_eq!(std::os::unix::fs::PermissionsExt::mode(&mode) & 0o7777, 0o640);
    let r = w.run("files.yml", &[]);
    let got = (r.code, r.counts(), ignored(&r));
    assert_eq!(got, (0, (15, 0), Json::from(1)), "second run changes nothing\n{}", r.text);
    let backups = std::fs::read_dir(&root)
        .expect("ls")
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("crlf.ini."))
        .count();
    assert_eq!(backups, 1, "as Ansible: one backup, of the one run that wrote the file");
}
