//! community.general's `zypper` over SSH on a docker VM with Debian's zypper and a local
//! repository of RPMs this test builds (rpmbuild, createrepo_c). The 21 tasks of
//! `results/zypper.yml` register exactly what ansible-core 2.19.14 registered for them on a
//! fresh container (`results/zypper.json`: commands, zypper's XML output, changes, diffs,
//! failures; only the download size in that output, which depends on the RPMs' build, is left
//! out). Then a role's packages and repository: check mode changes nothing, the first run
//! changes, the second run and check mode again change nothing. On a second VM, the 23 tasks of
//! `results/zypper_repository.yml` register what ansible-core registered for them. Needs the
//! Docker Engine (`scripts/docker-up`), the node image's apt sources, rpmbuild and createrepo_c
//! (`scripts/install-prereqs tests`). zypper is installed without apt's recommended packages,
//! as in the recording (with them, Debian's zypper refuses every install: "nothing provides
//! requested glibc").

use crate::dnf::rpm;
use crate::site::Site;
use crate::util::{assert_registered_as_recorded, recap_changed};
use serde_json::Value as Json;

const VM: &str = r#"- hosts: localhost
  gather_facts: false
  tasks:
    - name: the VM
      vm: {provider: docker, project: "{{ prov_project }}", subnet: "{{ prov_subnet }}", name: "{{ item }}", group: zyp, state: started}
      loop: [zyp1, zyp2]

- hosts: zyp
  gather_facts: false
  tasks:
    - name: zypper installed
      apt: {name: zypper, install_recommends: false, update_cache: true, cache_valid_time: 3600}
"#;

const ROLE: &str = r#"- hosts: zyp1
  gather_facts: false
  tasks:
    - name: packages
      community.general.zypper: {name: [hello, world], state: present}
    - name: not extra
      zypper: {name: extra, state: absent}
    - name: hello at its newest
      zypper: {name: hello, state: latest}
    - name: a second repository
      community.general.zypper_repository: {name: second, repo: "file:/srv/rpmrepo/", disable_gpg_check: true, autorefresh: false}
    - name: a .repo file
      copy:
        dest: /srv/third.repo
        content: "[third]\nname = Third\nbaseurl = dir:/srv/rpmrepo\ngpgcheck = 0\npriority = 7\n"
    - name: the repository of a .repo file
      zypper_repository: {repo: /srv/third.repo}
"#;

/// The installed RPMs on the VM (`name-version`), as zypper lists them.
fn rpms(site: &Site) -> String {
    let xml = site
        .on_vm("zyp1", "zypper --non-interactive --xmlout --quiet search --installed-only --details --type package");
    let re = regex::Regex::new(r#"name="([^"]+)" kind="package" edition="([^"-]+)-"#).expect("re");
    // With two repositories holding a package, it is listed once for each.
    let l: std::collections::BTreeSet<String> =
        re.captures_iter(&xml).map(|c| format!("{}-{}", &c[1], &c[2])).collect();
    l.into_iter().collect::<Vec<_>>().join(" ")
}

/// Results without what cannot be the same: the download size in zypper's XML (the test's RPMs
/// are built here, their size depends on the build host).
fn normalized(mut v: Json) -> Json {
    let re = regex::Regex::new(r#"download-size="[0-9]+""#).expect("re");
    fn walk(v: &mut Json, re: &regex::Regex) {
        match v {
            Json::Object(m) => m.values_mut().for_each(|x| walk(x, re)),
            Json::Array(a) => a.iter_mut().for_each(|x| walk(x, re)),
            Json::String(s) => *s = re.replace_all(s, r#"download-size="N""#).into_owned(),
            _ => {}
        }
    }
    walk(&mut v, &re);
    v
}

#[test]
fn zypper_and_zypper_repository_register_what_ansible_core_registers_and_a_second_run_changes_nothing() {
    let site = Site::with_files(
        "10.222",
        "zypper",
        &[
            ("vm.yml", VM),
            ("role.yml", ROLE),
            ("cases.yml", include_str!("results/zypper.yml")),
            ("repos.yml", include_str!("results/zypper_repository.yml")),
        ],
    );
    let repo = site.dir.path().join("repo");
    for (n, v, r) in [
        ("base", "1.0", None),
        ("hello", "1.0", None),
        ("hello", "2.0", None),
        ("world", "1.0", Some("hello")),
        ("extra", "1.0", None),
    ] {
        rpm(site.dir.path(), &repo, n, v, r);
    }
    let out = std::process::Command::new("createrepo_c").arg("-q").arg(&repo).output().expect("createrepo_c");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let (code, _, all) = site.apply_with_vars("vm.yml", &[]);
    assert_eq!(code, 0, "{all}");

    let dump = site.dir.path().join("registered.json");
    let (out_var, repo_var) = (format!("out={}", dump.display()), format!("repo_dir={}", repo.display()));
    let (code, _, all) =
        site.apply_with_vars("cases.yml", &["-e", "zypper_host=zyp1", "-e", &out_var, "-e", &repo_var]);
    assert_eq!(code, 0, "{all}");
    assert_registered_as_recorded(&dump, include_str!("results/zypper.json"), normalized);
    assert_eq!(rpms(&site), "base-1.0", "what the cases leave");

    // A role's packages: check mode changes nothing; then once, and never again.
    let (code, ev, all) = site.apply_with_vars("role.yml", &["--check"]);
    // zypper_repository does not support check mode: skipped, as by ansible-core.
    assert_eq!(
        (code, recap_changed(&ev)),
        (0, 3),
        "hello and world are missing (then latest installs hello), the .repo file:\n{all}"
    );
    assert_eq!(rpms(&site), "base-1.0", "check mode installed something");
    let (code, ev, all) = site.apply_with_vars("role.yml", &[]);
    assert_eq!((code, recap_changed(&ev)), (0, 4), "the packages (hello is then the newest), the repositories:\n{all}");
    // Added from the file's baseurl and section, as Ansible adds it: the file's own settings
    // (its priority) are not zypper's to read.
    let repos = site.on_vm("zyp1", "zypper --xmlout repos");
    assert!(repos.contains(r#"<repo alias="third" name="Third" priority="99""#), "{repos}");
    assert_eq!(rpms(&site), "base-1.0 hello-2.0 world-1.0");
    for extra in [&[][..], &["--check"]] {
        let (code, ev, all) = site.apply_with_vars("role.yml", extra);
        assert_eq!((code, recap_changed(&ev)), (0, 0), "{extra:?}: changed again:\n{all}");
    }

    // zypper_repository's recorded cases, on zyp2 (they leave a repository zypper cannot read).
    let dump = site.dir.path().join("repos.json");
    let out_var = format!("out={}", dump.display());
    let (code, _, all) =
        site.apply_with_vars("repos.yml", &["-e", "zypper_host=zyp2", "-e", &out_var, "-e", &repo_var]);
    assert_eq!(code, 0, "{all}");
    assert_registered_as_recorded(&dump, include_str!("results/zypper_repository.json"), normalized);
}
