//! `pip` on a local host, with wheels the test makes and a virtualenv made with `python3 -m
//! venv`: installed once, upgraded, removed once, and check mode changes nothing. ansible-core
//! 2.19.14 ran the same tasks on the same files; its registered fields are the literals here.

use crate::language::apply;

/// Writes `NAME-VERSION-py3-none-any.whl` files into `dir` (a minimal pure-Python wheel).
fn wheels(dir: &std::path::Path, specs: &[(&str, &str)]) {
    let script = [
        "import sys, zipfile, os",
        "d = sys.argv[1]",
        "for spec in sys.argv[2:]:",
        "    n, v = spec.split('==')",
        "    info = n + '-' + v + '.dist-info'",
        "    with zipfile.ZipFile(os.path.join(d, n + '-' + v + '-py3-none-any.whl'), 'w') as z:",
        "        z.writestr(n + '/__init__.py', 'VERSION = %r\\n' % v)",
        "        z.writestr(info + '/METADATA', 'Metadata-Version: 2.1\\nName: %s\\nVersion: %s\\n' % (n, v))",
        "        z.writestr(info + '/WHEEL', 'Wheel-Version: 1.0\\nGenerator: prov-test\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n')",
        "        z.writestr(info + '/RECORD', '')",
    ]
    .join("\n");
    let mut cmd = std::process::Command::new("python3");
    cmd.arg("-c").arg(script).arg(dir);
    for (n, v) in specs {
        cmd.arg(format!("{n}=={v}"));
    }
    let out = cmd.output().expect("python3 runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn pip_installs_upgrades_and_removes_in_a_new_virtualenv_once() {
    let w = tempfile::tempdir().expect("tempdir");
    wheels(w.path(), &[("provdemo", "1.0"), ("provdemo", "2.0"), ("prov_other", "0.5")]);
    let venv = w.path().join("venv");
    let (venv, wheels) = (venv.display().to_string(), w.path().display().to_string());
    let task = |args: &str| {
        format!(
            "- hosts: a\n  gather_facts: false\n  tasks:\n    - pip: {{virtualenv: \"{venv}\", virtualenv_command: \"python3 -m venv\", extra_args: \"--no-index --find-links {wheels}\", {args}}}\n      register: r\n    - debug: msg=\"{{{{ r | to_json }}}}\"\n"
        )
    };
    let shown = |r: &crate::language::Run| -> serde_json::Value {
        serde_json::from_str(r.of("debug")[0]["msg"].as_str().expect("msg")).expect("JSON")
    };
    let installed = || std::fs::read_dir(format!("{venv}/lib")).map(|_| ()).is_ok();
    // Check mode: the virtualenv is missing, so a change without creating it.
    let (_d, r) = apply(&[("site.yml", &task("name: provdemo==1.0"))], &["--check"]);
    assert_eq!((r.code, r.recap("a", "changed")), (0, 1), "{}", r.dump());
    assert!(!installed(), "check mode made the virtualenv");
    for round in 0..2 {
        let (_d, r) = apply(&[("site.yml", &task("name: provdemo==1.0"))], &[]);
        assert_eq!((r.code, r.recap("a", "changed")), (0, 1 - round), "round {round}: {}", r.dump());
        let v = shown(&r);
        assert_eq!(
            v["cmd"],
            serde_json::json!([
                format!("{venv}/bin/pip3"),
                "install",
                "--no-index",
                "--find-links",
                wheels,
                "provdemo==1.0"
            ])
        );
        assert_eq!(
            (&v["name"], &v["state"], &v["version"], &v["requirements"], &v["virtualenv"]),
            (
                &serde_json::json!(["provdemo==1.0"]),
                &serde_json::json!("present"),
                &serde_json::Value::Null,
                &serde_json::Value::Null,
                &serde_json::json!(venv)
            ),
        );
        let last = if round == 0 {
            "Successfully installed provdemo-1.0"
        } else {
            "Requirement already satisfied: provdemo==1.0"
        };
        assert!(v["stdout"].as_str().unwrap_or_default().contains(last), "{v}");
    }
    // Check mode compares `pip list` with the specifiers (no extra_args: those force a change).
    let check = |name: &str, state: &str| {
        format!(
            "- hosts: a\n  gather_facts: false\n  tasks:\n    - pip: {{virtualenv: \"{venv}\", name: \"{name}\", state: {state}}}\n      register: r\n    - debug: msg=\"{{{{ r | to_json }}}}\"\n"
        )
    };
    let (_d, r) = apply(&[("site.yml", &check("Provdemo>0.5,<2", "present"))], &["--check"]);
    assert_eq!((r.code, r.recap("a", "changed")), (0, 0), "{}", r.dump());
    assert_eq!(shown(&r)["cmd"], format!("{venv}/bin/pip3 list --format=freeze"));
    let (_d, r) = apply(&[("site.yml", &check("provdemo>=2", "present"))], &["--check"]);
    assert_eq!((r.code, r.recap("a", "changed")), (0, 1), "{}", r.dump());
    let (_d, r) = apply(&[("site.yml", &task("name: [provdemo, Prov-Other>0.1], state: latest"))], &[]);
    assert_eq!((r.code, r.recap("a", "changed")), (0, 1), "{}", r.dump());
    let v = shown(&r);
    assert_eq!(v["cmd"][2], "-U");
    assert!(
        v["stdout"].as_str().unwrap_or_default().ends_with("Successfully installed Prov-Other-0.5 provdemo-2.0\n"),
        "{v}"
    );
    for round in 0..2 {
        let (_d, r) = apply(&[("site.yml", &check("provdemo", "absent"))], &[]);
        assert_eq!((r.code, r.recap("a", "changed")), (0, 1 - round), "round {round}: {}", r.dump());
        let v = shown(&r);
        assert_eq!(v["cmd"], serde_json::json!([format!("{venv}/bin/pip3"), "uninstall", "-y", "provdemo"]));
        if round == 1 {
            assert_eq!(v["stderr"], "WARNING: Skipping provdemo as it is not installed.\n");
        }
    }
}

#[test]
fn pip_refuses_a_name_that_pip_would_read_as_an_option() {
    let site =
        "- hosts: a\n  gather_facts: false\n  tasks:\n    - pip: {name: [\"--index-url=http://127.0.0.1:9/\", x]}\n";
    let (_d, r) = apply(&[("site.yml", site)], &[]);
    assert_eq!(r.code, 4, "{}", r.dump());
    assert!(r.stderr.contains("starts with `-`: pip would read it as an option"), "{}", r.dump());
}
