//! community.general's `pam_limits` on a local host: the file it writes (compared with what
//! community.general 11, in the `ansible` 12.3.0 package, wrote for the same task and file),
//! a second run that changes nothing, and check mode.

use crate::language::apply;

#[test]
fn pam_limits_sets_a_limit_once_as_community_general() {
    let task = "community.general.pam_limits: {domain: mongod, limit_type: \"-\", limit_item: nofile, value: 64000, dest: \"{{ root }}/limits.conf\"}";
    let site = format!(
        "- hosts: a\n  gather_facts: false\n  tasks:\n    - {task}\n      register: r\n    - debug: var=r.msg\n"
    );
    let files =
        [("site.yml", site.as_str()), ("limits.conf", "# limits\n*\tsoft\tcore\t0\nmongod  -  nofile  1024 # old\n")];
    let (d, r) = apply(&files, &["--check"]);
    assert_eq!((r.code, r.recap("a", "changed")), (0, 1), "{}", r.dump());
    let conf = d.path().join("limits.conf");
    assert_eq!(std::fs::read_to_string(&conf).expect("file"), files[1].1, "check mode wrote");
    let (d, r) = apply(&files, &[]);
    assert_eq!((r.code, r.recap("a", "changed")), (0, 1), "{}", r.dump());
    let conf = d.path().join("limits.conf");
    let written = std::fs::read_to_string(&conf).expect("file");
    assert_eq!(written, "# limits\n*\tsoft\tcore\t0\nmongod\t-\tnofile\t64000\t# old\n\n");
    // Again, on the file as written: nothing changes.
    let (_d2, r) = apply(&[("site.yml", site.as_str()), ("limits.conf", written.as_str())], &[]);
    assert_eq!((r.code, r.recap("a", "changed")), (0, 0), "{}", r.dump());
}
