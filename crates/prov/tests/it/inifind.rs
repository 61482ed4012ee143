//! community.general's `ini_file` and ansible.builtin's `find` through the real binary on this machine
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

const INI_LITERAL: &str = r#"- hosts: all
  gather_facts: false
  vars:
    f: "{{ root }}/c3.ini"
  tasks:
    - name: spaced header
      ini_file: {path: "{{ f }}", section: " drinks ", option: a.b, value: "2"}
      register: r1
    - name: dup values
      ini_file: {path: "{{ f }}", section: drinks, option: d, values: [x, x, y]}
      register: r2
    - name: absent not exclusive without values
      ini_file: {path: "{{ f }}", section: drinks, option: d, state: absent, exclusive: false}
      register: r3
    - name: no extra spaces rewrites
      ini_file: {path: "{{ f }}", section: s2, option: x, value: "1", no_extra_spaces: true}
      register: r4
    - name: ignore spaces commented
      ini_file: {path: "{{ f }}", section: s2, option: z, value: "3", ignore_spaces: true}
      register: r5
    - name: no value over value
      ini_file: {path: "{{ f }}", section: s2, option: flag, allow_no_value: true}
      register: r6
    - name: no section absent option
      ini_file: {path: "{{ f }}", option: top, state: absent}
      register: r7
    - name: second of same section
      ini_file: {path: "{{ f }}", section: dup, option: k, value: "9"}
      register: r8
    - name: empty value
      ini_file: {path: "{{ f }}", section: s2, option: e, value: ""}
      register: r9
    - name: as community.general registered them
      assert:
        that:
          - r1.msg == 'option changed' and r2.msg == 'option added' and r3.msg == 'OK' and not r3.changed
          - r4.msg == 'option changed' and r5.msg == 'option changed' and r6.msg == 'option changed'
          - r7.msg == 'option changed' and r8.msg == 'option changed' and r9.msg == 'option added'
      when: first | default(false) | bool
"#;

#[test]
fn ini_file_matches_headers_names_and_values_literally_as_ansible_does() {
    let w = Work::new(&[("lit.yml", INI_LITERAL)]);
    let before = "top = 1\n[ drinks ]\na.b = 1\naxb = 5\n\n[s2]\nx = 1\n# z=3\nflag = 1\n[dup]\nk = 1\n[dup]\nk = 2\n";
    std::fs::write(w.root().join("c3.ini"), before).expect("c3.ini");
    let r = w.run("lit.yml", &["--check"]);
    assert_eq!((r.code, r.counts()), (0, (9, 8)), "ansible: ok=9 changed=8 skipped=1 in check mode\n{}", r.text);
    assert_eq!(w.read("c3.ini"), before, "check mode wrote the file");
    let r = w.run("lit.yml", &["-e", "first=true"]);
    assert_eq!((r.code, r.counts()), (0, (10, 8)), "ansible: ok=10 changed=8\n{}", r.text);
    assert_eq!(
        w.read("c3.ini"),
        "[ drinks ]\na.b = 2\naxb = 5\nd = x\nd = y\n\n[s2]\nx=1\nz = 3\nflag\ne = \n[dup]\nk = 9\n[dup]\nk = 2\n",
        "the bytes community.general.ini_file wrote"
    );
    let r = w.run("lit.yml", &[]);
    assert_eq!((r.code, r.counts()), (0, (9, 0)), "second run changes nothing\n{}", r.text);
}

const FIND_SITE: &str = r#"- hosts: all
  gather_facts: false
  tasks:
    - name: default
      find: {paths: "{{ root }}/t"}
      register: r1
    - name: recurse glob
      ansible.builtin.find: {paths: "{{ root }}/t", patterns: "*.txt", recurse: true}
      register: r2
    - name: any hidden
      find: {path: "{{ root }}/t", file_type: any, hidden: true}
      register: r3
    - name: directories depth
      find: {paths: ["{{ root }}/t"], file_type: directory, recurse: true, depth: 2}
      register: r4
    - name: links
      find: {paths: "{{ root }}/t", file_type: link}
      register: r5
    - name: regex excludes
      find: {paths: "{{ root }}/t", patterns: ['.*\.(txt|log)'], excludes: ['b.*'], use_regex: true, recurse: true}
      register: r6
    - name: contains
      find: {paths: "{{ root }}/t", contains: "sec.*", recurse: true}
      register: r7
    - name: contains whole
      find: {paths: "{{ root }}/t", contains: "needle", read_whole_file: true, recurse: true, hidden: true}
      register: r8
    - name: size and age
      find: {paths: "{{ root }}/t", size: "10", recurse: true, age: "-1d"}
      register: r9
    - name: old
      find: {paths: "{{ root }}/t", age: 1w}
      register: r10
    - name: checksum
      find: {paths: "{{ root }}/t", patterns: "a.txt,b.log", get_checksum: true, checksum_algorithm: sha256}
      register: r11
    - name: missing and not dir
      find: {paths: ["{{ root }}/nope", "{{ root }}/notdir", "{{ root }}/t/sub"]}
      register: r12
    - name: mode
      find: {paths: "{{ root }}/t", mode: "0600", recurse: true}
      register: r13
    - name: follow
      find: {paths: "{{ root }}/t", recurse: true, follow: true, patterns: "c.txt"}
      register: r14
    - name: limit
      find: {paths: "{{ root }}/t", recurse: true, limit: 2, file_type: any}
      register: r15
    - name: limit over two paths
      find: {paths: ["{{ root }}/t", "{{ root }}/t/sub"], limit: 1}
      register: r16
    - name: b.log as stat sees it
      stat: {path: "{{ root }}/t/b.log"}
      register: st
    - name: as ansible-core registered them
      vars:
        names: "{{ item.files | map(attribute='path') | map('regex_replace', '^' ~ root ~ '/t/', '') | list }}"
      assert:
        that:
          - item.matched == item.want | length and (names | sort) == item.want
          - item.examined == item.examined_want
          - item.msg == item.msg_want | default('All paths examined')
          - not item.changed
          - item.skipped_paths == item.skipped_want | default({})
      loop:
        - {matched: "{{ r1.matched }}", files: "{{ r1.files }}", examined: "{{ r1.examined }}", msg: "{{ r1.msg }}", changed: "{{ r1.changed }}", skipped_paths: "{{ r1.skipped_paths }}", want: [a.txt, b.log], examined_want: 9}
        - {matched: "{{ r2.matched }}", files: "{{ r2.files }}", examined: "{{ r2.examined }}", msg: "{{ r2.msg }}", changed: "{{ r2.changed }}", skipped_paths: "{{ r2.skipped_paths }}", want: [.hid/in_hidden.txt, a.txt, sub/c.txt, sub/deep/d.txt, sub/deep/deeper/e.txt], examined_want: 15}
        - {matched: "{{ r3.matched }}", files: "{{ r3.files }}", examined: "{{ r3.examined }}", msg: "{{ r3.msg }}", changed: "{{ r3.changed }}", skipped_paths: "{{ r3.skipped_paths }}", want: [.hid, .hidden.txt, a.txt, b.log, broken, dir.d, link.txt, sub, sublink], examined_want: 9}
        - {matched: "{{ r4.matched }}", files: "{{ r4.files }}", examined: "{{ r4.examined }}", msg: "{{ r4.msg }}", changed: "{{ r4.changed }}", skipped_paths: "{{ r4.skipped_paths }}", want: [dir.d, sub, sub/deep], examined_want: 14}
        - {matched: "{{ r5.matched }}", files: "{{ r5.files }}", examined: "{{ r5.examined }}", msg: "{{ r5.msg }}", changed: "{{ r5.changed }}", skipped_paths: "{{ r5.skipped_paths }}", want: [broken, link.txt, sublink], examined_want: 9}
        - {matched: "{{ r6.matched }}", files: "{{ r6.files }}", examined: "{{ r6.examined }}", msg: "{{ r6.msg }}", changed: "{{ r6.changed }}", skipped_paths: "{{ r6.skipped_paths }}", want: [.hid/in_hidden.txt, a.txt, sub/c.txt, sub/deep/d.txt, sub/deep/deeper/e.txt], examined_want: 15}
        - {matched: "{{ r7.matched }}", files: "{{ r7.files }}", examined: "{{ r7.examined }}", msg: "{{ r7.msg }}", changed: "{{ r7.changed }}", skipped_paths: "{{ r7.skipped_paths }}", want: [a.txt], examined_want: 15}
        - {matched: "{{ r8.matched }}", files: "{{ r8.files }}", examined: "{{ r8.examined }}", msg: "{{ r8.msg }}", changed: "{{ r8.changed }}", skipped_paths: "{{ r8.skipped_paths }}", want: [.hid/in_hidden.txt, sub/c.txt], examined_want: 15}
        - {matched: "{{ r9.matched }}", files: "{{ r9.files }}", examined: "{{ r9.examined }}", msg: "{{ r9.msg }}", changed: "{{ r9.changed }}", skipped_paths: "{{ r9.skipped_paths }}", want: [.hid/in_hidden.txt, a.txt, sub/deep/deeper/e.txt], examined_want: 15}
        - {matched: "{{ r10.matched }}", files: "{{ r10.files }}", examined: "{{ r10.examined }}", msg: "{{ r10.msg }}", changed: "{{ r10.changed }}", skipped_paths: "{{ r10.skipped_paths }}", want: [b.log], examined_want: 9}
        - {matched: "{{ r11.matched }}", files: "{{ r11.files }}", examined: "{{ r11.examined }}", msg: "{{ r11.msg }}", changed: "{{ r11.changed }}", skipped_paths: "{{ r11.skipped_paths }}", want: [a.txt, b.log], examined_want: 9}
        - {matched: "{{ r12.matched }}", files: "{{ r12.files }}", examined: "{{ r12.examined }}", msg: "{{ r12.msg }}", changed: "{{ r12.changed }}", skipped_paths: "{{ r12.skipped_paths }}", want: [sub/c.txt], examined_want: 2, msg_want: "Not all paths examined, check warnings for details", skipped_want: "{{ {root ~ '/nope': \"'\" ~ root ~ \"/nope' is not a directory\", root ~ '/notdir': \"'\" ~ root ~ \"/notdir' is not a directory\"} }}"}
        - {matched: "{{ r13.matched }}", files: "{{ r13.files }}", examined: "{{ r13.examined }}", msg: "{{ r13.msg }}", changed: "{{ r13.changed }}", skipped_paths: "{{ r13.skipped_paths }}", want: [b.log], examined_want: 15}
        - {matched: "{{ r14.matched }}", files: "{{ r14.files }}", examined: "{{ r14.examined }}", msg: "{{ r14.msg }}", changed: "{{ r14.changed }}", skipped_paths: "{{ r14.skipped_paths }}", want: [sub/c.txt, sublink/c.txt], examined_want: 20}
        - {matched: "{{ r15.matched }}", files: "{{ r15.files }}", examined: "{{ r15.examined }}", msg: "{{ r15.msg }}", changed: "{{ r15.changed }}", skipped_paths: "{{ r15.skipped_paths }}", want: "{{ r15.files | map(attribute='path') | map('regex_replace', '^' ~ root ~ '/t/', '') | sort }}", examined_want: 9, msg_want: Limit of matches reached}
    - name: the fields of a file, a link and a directory as ansible-core registered them
      vars:
        b: "{{ r11.files | selectattr('path', 'search', 'b.log$') | first }}"
        a: "{{ r11.files | selectattr('path', 'search', 'a.txt$') | first }}"
        l: "{{ r5.files | selectattr('path', 'search', 'link.txt$') | first }}"
        d: "{{ r4.files | selectattr('path', 'search', 'dir.d$') | first }}"
      assert:
        that:
          - r15.matched == 2
          - r16.matched == 2 and r16.examined == 11 and r16.files[1].path == root ~ '/t/sub/c.txt' and r16.msg == 'Limit of matches reached'
          - r2.files[0].path == root ~ '/t/a.txt'
          - (r3.files[5:] | map(attribute='path') | map('basename') | sort) == ['.hid', 'dir.d', 'sub', 'sublink']
          - b.checksum == '73cb3858a687a8494ca3323053016282f3dad39d42cf62ca4e79dda2aac7d9ac'
          - a.checksum == '1cf34cbeaca6f2ce821c4b6369c37c583b1cc10846122a8c77a4df77d0d5b7b8'
          - b.mode == '0600' and b.isreg and not b.isdir and not b.islnk and b.size == 2 and b.mtime == 1577836800.0
          - b.rusr and b.wusr and not b.xusr and not b.rgrp and not b.roth and not b.isuid and not b.isgid
          - not b.ischr and not b.isblk and not b.isfifo and not b.issock and b.nlink == 1
          - b.uid == st.stat.uid and b.gid == st.stat.gid and b.pw_name == st.stat.pw_name and b.gr_name == st.stat.gr_name and b.inode == st.stat.inode
          - a.mode == '0644' and a.rgrp and a.roth and a.size == 24
          - l.islnk and not l.isreg and l.mode == '0777' and l.size == 5 and l.checksum is not defined
          - d.isdir and d.mode is match('^0[0-7]{3}$') and d.xusr
          - (b.keys() | sort) == ['atime', 'checksum', 'ctime', 'dev', 'gid', 'gr_name', 'inode', 'isblk', 'ischr', 'isdir', 'isfifo', 'isgid', 'islnk', 'isreg', 'issock', 'isuid', 'mode', 'mtime', 'nlink', 'path', 'pw_name', 'rgrp', 'roth', 'rusr', 'size', 'uid', 'wgrp', 'woth', 'wusr', 'xgrp', 'xoth', 'xusr']
"#;

/// In check mode community.general's ini_file compares no mode, owner or group: a task that
/// would change only the mode is ok there (ansible-core 2.19.14 with ansible 12.3: ok,
/// `msg: OK`), and changed when it runs. prov reported the check-mode run changed.
#[test]
fn ini_file_in_check_mode_leaves_attributes_out() {
    use std::os::unix::fs::PermissionsExt;
    let site = "- hosts: all\n  gather_facts: false\n  tasks:\n    - ini_file: {path: \"{{ root }}/i.ini\", section: s, option: k, value: v, mode: \"0600\"}\n      register: r\n    - assert: {that: [\"r.msg == 'OK'\"]}\n";
    let w = Work::new(&[("site.yml", site)]);
    let f = w.root().join("i.ini");
    std::fs::write(&f, "[s]\nk = v\n").expect("write");
    std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let mode = || std::fs::metadata(&f).map(|m| m.permissions().mode() & 0o777).unwrap_or(0);
    let check = w.run("site.yml", &["--check"]);
    assert_eq!((check.code, check.counts().1, mode()), (0, 0, 0o644), "{}", check.text);
    let run = w.run("site.yml", &[]);
    assert_eq!((run.code, run.counts().1, mode()), (0, 1, 0o600), "{}", run.text);
}

/// The tree [`FIND_SITE`] searches: files, a hidden file and directory, links (to a file, to a
/// directory, dangling), modes and an old mtime.
fn find_tree(root: &std::path::Path) {
    use std::os::unix::fs::{symlink, PermissionsExt};
    let t = root.join("t");
    for d in ["sub/deep/deeper", ".hid", "dir.d"] {
        std::fs::create_dir_all(t.join(d)).expect("mkdir");
    }
    for (name, body) in [
        ("a.txt", "hello world\nsecond line\n"),
        ("b.log", "x\n"),
        (".hidden.txt", ""),
        (".hid/in_hidden.txt", "needle here\n"),
        ("sub/c.txt", "a needle\n"),
        ("sub/deep/d.txt", "abc"),
        ("sub/deep/deeper/e.txt", "12345678901234567890"),
    ] {
        std::fs::write(t.join(name), body).expect("write");
    }
    symlink("a.txt", t.join("link.txt")).expect("link");
    symlink("sub", t.join("sublink")).expect("link");
    symlink("nowhere", t.join("broken")).expect("link");
    std::fs::set_permissions(t.join("b.log"), std::fs::Permissions::from_mode(0o600)).expect("chmod");
    std::fs::set_permissions(t.join("sub/c.txt"), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    std::fs::write(root.join("notdir"), "not a dir").expect("write");
    let touched = std::process::Command::new("touch").arg("-d").arg("@1577836800").arg(t.join("b.log")).status();
    assert!(touched.expect("touch runs").success());
}

#[test]
fn find_selects_orders_and_describes_entries_as_ansible_does() {
    let w = Work::new(&[("find.yml", FIND_SITE)]);
    find_tree(&w.root());
    for extra in [&[][..], &["--check"][..]] {
        let r = w.run("find.yml", extra);
        assert_eq!((r.code, r.counts()), (0, (19, 0)), "ansible: ok=19 changed=0 {extra:?}\n{}", r.text);
    }
}
