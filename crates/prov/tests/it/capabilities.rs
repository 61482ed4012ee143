//! `capabilities` (community.general) and `acl` (ansible.posix) on a local host, against what
//! ansible-core 2.19.14 with the `ansible` 12.3.0 package's collections registered for the
//! same plays (`results/capabilities.yml`, `results/acl.yml`; its results are the `.json`
//! files beside them, the temporary directory written `@ROOT@`).

use crate::util::{assert_recorded, shown_results};

/// Check mode, `+ep` that changes the file on every run (as community.general compares it),
/// `=ep` that does not, several capabilities, `absent`, a missing file, the aliases; and the
/// capabilities the file ends with.
#[test]
fn capabilities_adds_and_removes_as_community_general() {
    let got = shown_results(include_str!("results/capabilities.yml"), &[]);
    assert_recorded(&got, include_str!("results/capabilities.json"), "c");
}

/// Query, check mode, present twice, a changed permission, absent twice, recursive with `X`,
/// the `entry` form with a default ACL and its removal, a missing path, an unknown user
/// (setfacl's error and ansible.posix's `cmd`), the mask without recalculation, `other`.
#[test]
fn acl_sets_and_removes_entries_as_ansible_posix() {
    let got = shown_results(include_str!("results/acl.yml"), &[]);
    assert_recorded(&got, include_str!("results/acl.json"), "a");
}
