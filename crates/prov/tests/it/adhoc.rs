//! `prov run PATTERN -- CMD`: one shell command on many hosts.

use crate::util::{prov, text};

fn local_hosts() -> tempfile::TempDir {
    let d = tempfile::tempdir().expect("tempdir");
    std::fs::write(d.path().join("hosts.ini"), "a ansible_connection=local\nb ansible_connection=local\n")
        .expect("inventory");
    d
}

#[test]
fn the_command_of_prov_run_is_not_templated() {
    let d = local_hosts();
    let out = prov(d.path(), &["run", "all", "-i", "hosts.ini", "--", "printf", "'<%s>'", "'{{.Name}} {% x %}'"]);
    let (o, e) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{o}\n{e}");
    assert_eq!(o.matches("<{{.Name}} {% x %}>").count(), 2, "{o}");
}
