//! `package_facts` and `service_facts` on this machine (a local host): the facts are variables
//! under their own names (`packages`, `services`, not `ansible_packages`) and under
//! `ansible_facts`. On this Debian machine ansible-core 2.19.14 (with python-apt) gave the same
//! JSON, byte for byte, for all 752 packages and the 12 SysV services; here the test checks
//! them against dpkg-query and `service --status-all` directly.

use crate::language::apply;

fn sh(cmd: &str) -> String {
    let out = std::process::Command::new("sh").arg("-c").arg(cmd).output().expect("sh");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn package_facts_lists_dpkg_packages_as_python_apt_does() {
    let site = "- hosts: a\n  gather_facts: false\n  tasks:\n    - package_facts:\n      register: pf\n    - debug: msg=\"{{ [packages.bash, ansible_packages is defined, pf.keys() | sort, packages | length] | to_json }}\"\n";
    for args in [&[][..], &["--check"][..]] {
        let (_d, r) = apply(&[("site.yml", site)], args);
        assert_eq!((r.code, r.recap("a", "changed")), (0, 0), "{}", r.dump());
        let v: serde_json::Value = serde_json::from_str(r.of("debug")[0]["msg"].as_str().expect("msg")).expect("JSON");
        let version = sh("dpkg-query -W -f='${Version}' bash");
        assert_eq!(v[0][0]["version"], version.as_str(), "{v}");
        assert_eq!((&v[0][0]["name"], &v[0][0]["source"]), (&serde_json::json!("bash"), &serde_json::json!("apt")));
        assert_eq!(v[1], false, "ansible_packages is not set");
        assert_eq!(v[2], serde_json::json!(["ansible_facts", "changed", "failed"]));
        let installed = sh("dpkg-query -W -f='${db:Status-Status}\\n' | grep -cvx -e not-installed -e config-files");
        assert_eq!(v[3].as_u64(), installed.trim().parse::<u64>().ok(), "{v}");
    }
}

#[test]
fn service_facts_reads_sysv_services_as_ansible_core() {
    let site = "- hosts: a\n  gather_facts: false\n  tasks:\n    - service_facts:\n    - debug: msg=\"{{ services | to_json }}\"\n";
    let (_d, r) = apply(&[("site.yml", site)], &[]);
    assert_eq!(r.code, 0, "{}", r.dump());
    let v: serde_json::Value = serde_json::from_str(r.of("debug")[0]["msg"].as_str().expect("msg")).expect("JSON");
    let listing = sh("LC_ALL=C service --status-all 2>/dev/null");
    let mut want = serde_json::Map::new();
    for line in listing.lines() {
        let t = line.trim_start();
        let state = match t.get(..5) {
            Some("[ + ]") => "running",
            Some("[ - ]") => "stopped",
            _ => continue,
        };
        let name = t[5..].trim_start();
        want.insert(name.to_string(), serde_json::json!({"name": name, "state": state, "source": "sysv"}));
    }
    assert!(!want.is_empty(), "this machine lists no SysV services");
    assert_eq!(v, serde_json::Value::Object(want));
}

/// `manager: rpm` (and `strategy: all`) read the RPM database: two packages the test builds
/// are recorded in rpm's database of this machine (`--justdb`: no files) and taken out after.
/// ansible-core 2.19.14 (python3-rpm) gave the same JSON for the same database, `epoch` of a
/// package without one included ("None").
#[test]
fn package_facts_reads_the_rpm_database_as_the_rpm_binding_does() {
    let _turn = crate::ssh::DPKG.lock().unwrap_or_else(|e| e.into_inner());
    let work = tempfile::tempdir().expect("tempdir");
    let top = work.path().join("build");
    std::fs::create_dir_all(top.join("SPECS")).expect("mkdir");
    let mut rpms = Vec::new();
    for (name, version, epoch) in [("provfactdep", "0.5", ""), ("provfactep", "3.1", "Epoch: 2\n")] {
        let spec = format!("Name: {name}\nVersion: {version}\nRelease: 1\n{epoch}Summary: t\nLicense: MIT\nBuildArch: noarch\n%description\nt\n%files\n");
        let file = top.join("SPECS").join(format!("{name}.spec"));
        std::fs::write(&file, spec).expect("spec");
        let out = std::process::Command::new("rpmbuild")
            .args(["--quiet", "--define"])
            .arg(format!("_topdir {}", top.display()))
            .arg("--define")
            .arg(format!("_rpmdir {}", work.path().display()))
            .arg("-bb")
            .arg(&file)
            .output()
            .expect("rpmbuild");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        rpms.push(work.path().join("noarch").join(format!("{name}-{version}-1.noarch.rpm")));
    }
    let out = std::process::Command::new("rpm").args(["-i", "--justdb", "--nodeps"]).args(&rpms).output().expect("rpm");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    struct Forget;
    impl Drop for Forget {
        fn drop(&mut self) {
            let _ = std::process::Command::new("rpm")
                .args(["-e", "--justdb", "--nodeps", "provfactdep", "provfactep"])
                .output();
        }
    }
    let _forget = Forget;
    let site = "- hosts: a\n  gather_facts: false\n  tasks:\n    - package_facts: {manager: rpm}\n      register: pf\n    - debug: msg=\"{{ [pf.ansible_facts.packages.provfactdep, pf.ansible_facts.packages.provfactep] | to_json }}\"\n    - package_facts: {strategy: all}\n    - debug: msg=\"{{ [packages.provfactep[0].source, packages.bash[0].source] | to_json }}\"\n";
    let (_d, r) = apply(&[("site.yml", site)], &[]);
    assert_eq!(r.code, 0, "{}", r.dump());
    let shown: Vec<serde_json::Value> =
        r.of("debug").iter().map(|x| serde_json::from_str(x["msg"].as_str().expect("msg")).expect("JSON")).collect();
    assert_eq!(
        shown[0],
        serde_json::json!([
            [{"name": "provfactdep", "version": "0.5", "release": "1", "epoch": "None", "arch": "noarch", "source": "rpm"}],
            [{"name": "provfactep", "version": "3.1", "release": "1", "epoch": "2", "arch": "noarch", "source": "rpm"}]
        ])
    );
    assert_eq!(shown[1], serde_json::json!(["rpm", "apt"]));
}
