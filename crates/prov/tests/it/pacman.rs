//! community.general's `pacman` over SSH on a docker VM with Debian's pacman 6.0.2 and a local
//! repository of packages this test builds (bsdtar, repo-add). The 37 tasks of
//! `results/pacman.yml` register exactly what ansible-core 2.19.14 registered for them on a
//! fresh container (`results/pacman.json`: groups, files, `repo/name`, reasons, refreshes,
//! upgrades, removals, failures (one after a refresh), `~` and `$HOME` in a file name, the messages
//! and pacman's output). Then a role's packages:
//! check mode changes nothing, the first run changes, the second run and check mode again change
//! nothing. Needs the Docker Engine (`scripts/docker-up`), the node image's apt sources, and
//! bsdtar and repo-add on the controller (`scripts/install-prereqs tests`).

use crate::site::Site;
use crate::util::{assert_registered_as_recorded, recap_changed};
use std::path::Path;
use std::process::Command;

const VM: &str = r#"- hosts: localhost
  gather_facts: false
  tasks:
    - name: the VM
      vm: {provider: docker, project: "{{ prov_project }}", subnet: "{{ prov_subnet }}", name: pac1, group: pac, state: started}

- hosts: pac
  gather_facts: false
  tasks:
    - name: pacman installed
      apt: {name: pacman-package-manager, install_recommends: false, update_cache: true, cache_valid_time: 3600}
"#;

/// After the cases: base, lib, hello 2.0, world (as a dependency) and extra are installed.
const ROLE: &str = r#"- hosts: pac1
  gather_facts: false
  tasks:
    - name: not extra
      community.general.pacman: {name: extra, state: absent}
    - name: world explicitly installed
      pacman: {name: world, reason: explicit, reason_for: all}
    - name: the group at its newest
      pacman: {name: tools, state: latest}
    - name: the system upgraded
      pacman: {upgrade: true}
"#;

/// Builds the package `name-version-1-any.pkg.tar.zst` into `repo` as makepkg would lay it
/// out: a `.PKGINFO` and one file, `/usr/share/NAME/version`.
pub(crate) fn package(work: &Path, repo: &Path, name: &str, version: &str, depend: &str, group: &str) {
    let root = work.join(format!("pkg-{name}-{version}"));
    std::fs::create_dir_all(root.join("usr/share").join(name)).expect("package tree");
    std::fs::write(root.join("usr/share").join(name).join("version"), format!("{version}\n")).expect("file");
    let mut info = format!(
        "pkgname = {name}\npkgbase = {name}\npkgver = {version}-1\npkgdesc = test {name}\nbuilddate = 1700000000\n\
         packager = prov tests\nsize = 4\narch = any\n"
    );
    for (key, v) in [("group", group), ("depend", depend)] {
        if !v.is_empty() {
            info.push_str(&format!("{key} = {v}\n"));
        }
    }
    std::fs::write(root.join(".PKGINFO"), info).expect(".PKGINFO");
    std::fs::create_dir_all(repo).expect("repo");
    let out = repo.join(format!("{name}-{version}-1-any.pkg.tar.zst"));
    let st = Command::new("bsdtar")
        .current_dir(&root)
        .args(["--zstd", "-cf"])
        .arg(&out)
        .args([".PKGINFO", "usr"])
        .status()
        .expect("bsdtar (libarchive-tools is installed by scripts/install-prereqs tests)");
    assert!(st.success(), "bsdtar failed for {name}");
}

/// The repository `test` in `repo` (repo-add's database of the packages there).
fn repository(repo: &Path) {
    let mut pkgs: Vec<_> = std::fs::read_dir(repo)
        .expect("repo")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.to_string_lossy().ends_with(".pkg.tar.zst"))
        .collect();
    pkgs.sort();
    let out = Command::new("repo-add")
        .arg("-q")
        .arg(repo.join("test.db.tar.gz"))
        .args(&pkgs)
        .output()
        .expect("repo-add (pacman-package-manager is installed by scripts/install-prereqs tests)");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

/// The packages on the VM: `name version reason` lines.
fn installed(site: &Site) -> String {
    site.on_vm("pac1", "pacman -Qe | sed 's/$/ explicit/'; pacman -Qd | sed 's/$/ dependency/'")
}

#[test]
fn pacman_registers_what_ansible_core_registers_and_a_second_run_changes_nothing() {
    let site = Site::with_files(
        "10.224",
        "pacman",
        &[("vm.yml", VM), ("role.yml", ROLE), ("cases.yml", include_str!("results/pacman.yml"))],
    );
    let work = site.dir.path();
    let (repo, repo2) = (work.join("repo"), work.join("repo2"));
    for r in [&repo, &repo2] {
        package(work, r, "base", "1.0", "lib", "core");
        package(work, r, "lib", "1.0", "", "core");
        package(work, r, "world", "1.0", "hello", "tools");
        package(work, r, "extra", "1.0", "", "");
    }
    package(work, &repo, "hello", "1.0", "", "tools");
    package(work, &repo2, "hello", "2.0", "", "tools");
    repository(&repo);
    repository(&repo2);
    let (code, _, all) = site.apply_with_vars("vm.yml", &[]);
    assert_eq!(code, 0, "{all}");

    let dump = work.join("registered.json");
    let vars = [
        format!("out={}", dump.display()),
        format!("repo_dir={}", repo.display()),
        format!("repo2_dir={}", repo2.display()),
    ];
    let mut args = vec!["-e", "pacman_host=pac1"];
    for v in &vars {
        args.extend(["-e", v.as_str()]);
    }
    let (code, _, all) = site.apply_with_vars("cases.yml", &args);
    assert_eq!(code, 0, "{all}");
    assert_registered_as_recorded(&dump, include_str!("results/pacman.json"), |v| v);
    let after_cases = installed(&site);
    assert_eq!(
        after_cases,
        "base 1.0-1 explicit\nextra 1.0-1 explicit\nhello 2.0-1 explicit\nlib 1.0-1 dependency\nworld 1.0-1 dependency\n",
        "what the cases leave"
    );

    // A role's packages: check mode changes nothing; then once, and never again.
    let (code, ev, all) = site.apply_with_vars("role.yml", &["--check"]);
    assert_eq!((code, recap_changed(&ev)), (0, 2), "extra removed, world's reason:\n{all}");
    assert_eq!(installed(&site), after_cases, "check mode changed something");
    let (code, ev, all) = site.apply_with_vars("role.yml", &[]);
    assert_eq!((code, recap_changed(&ev)), (0, 2), "extra removed, world's reason:\n{all}");
    assert_eq!(
        installed(&site),
        "base 1.0-1 explicit\nhello 2.0-1 explicit\nworld 1.0-1 explicit\nlib 1.0-1 dependency\n"
    );
    for extra in [&[][..], &["--check"]] {
        let (code, ev, all) = site.apply_with_vars("role.yml", extra);
        assert_eq!((code, recap_changed(&ev)), (0, 0), "{extra:?}: changed again:\n{all}");
    }
}
