//! `prov plan` for review: Markdown and JSON plans, and `--detailed-exitcode` for drift.

use crate::util::text;
use std::path::Path;
use std::process::Output;

fn prov_at(dir: &Path, args: &[&str]) -> Output {
    crate::util::prov(dir, args)
}

/// A project on one local host whose playbook writes under `tgt/`: a file with a secret that
/// already exists with another value, a directory to create, and a command.
fn project() -> tempfile::TempDir {
    let d = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(d.path().join("tgt")).expect("mkdir");
    std::fs::write(d.path().join("tgt/app.conf"), "db_password = old-secret\nport = 80\n").expect("write");
    std::fs::write(d.path().join("hosts.ini"), "web1 ansible_connection=local\n").expect("write");
    std::fs::write(
        d.path().join("site.yml"),
        "- hosts: web1\n  gather_facts: false\n  tasks:\n    - name: app config\n      copy:\n        dest: \"{{ playbook_dir }}/tgt/app.conf\"\n        content: \"db_password = new-secret\\nport = 8080\\n\"\n    - name: data dir\n      file:\n        path: \"{{ playbook_dir }}/tgt/data\"\n        state: directory\n    - name: migrate\n      command: echo migrate\n",
    )
    .expect("write");
    d
}

/// A Markdown plan without what mentions the `apt cache` (rows, `<details>` blocks) and with
/// its summary line (the line in bold after the title) replaced by `<summary>`.
fn without_apt_cache(md: &str) -> String {
    let mut out = Vec::new();
    let mut block: Vec<&str> = Vec::new();
    let mut summary_done = false;
    for line in md.lines() {
        if !block.is_empty() || line.starts_with("<details>") {
            block.push(line);
            if line == "</details>" {
                if !block.iter().any(|l| l.contains("apt cache")) {
                    out.append(&mut block);
                }
                block.clear();
            }
            continue;
        }
        if line.contains("apt cache") {
            continue;
        }
        if !summary_done && line.starts_with("**") {
            summary_done = true;
            out.push("<summary>");
            continue;
        }
        out.push(line);
    }
    out.extend(block);
    out.join("\n")
}

/// stdout with the project directory (as given and canonical) written `<dir>`.
pub(crate) fn normalized(out: &Output, dir: &Path) -> String {
    let (stdout, _) = text(out);
    let real = dir.canonicalize().expect("canonical");
    stdout.replace(&real.display().to_string(), "<dir>").replace(&dir.display().to_string(), "<dir>")
}

#[test]
fn plan_markdown_lists_every_change_with_masked_diffs() {
    let p = project();
    let out = prov_at(p.path(), &["plan", "site.yml", "-i", "hosts.ini", "--output", "markdown"]);
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
    let md = normalized(&out, p.path());
    assert!(!md.contains("new-secret") && !md.contains("old-secret"), "a secret leaked:\n{md}");
    insta::assert_snapshot!("plan_markdown_local", md);
    // Nothing was changed.
    let conf = std::fs::read_to_string(p.path().join("tgt/app.conf")).expect("read");
    assert!(conf.contains("old-secret"));
    assert!(!p.path().join("tgt/data").exists());
}

#[test]
fn plan_json_ends_with_the_whole_plan() {
    let p = project();
    let out = prov_at(p.path(), &["plan", "site.yml", "-i", "hosts.ini", "--output", "json"]);
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
    let (stdout, _) = text(&out);
    let last: serde_json::Value = serde_json::from_str(stdout.lines().last().expect("a line")).expect("json");
    assert_eq!(last["event"], "plan");
    assert_eq!(last["summary"], "+1 file, ~1 file, !1 command");
    let actions: Vec<&str> =
        last["changes"].as_array().expect("changes").iter().filter_map(|c| c["action"].as_str()).collect();
    assert_eq!(actions, ["modify", "create", "run"]);
    assert!(!stdout.contains("new-secret"), "{stdout}");
}

#[test]
fn plan_detailed_exitcode_says_changes_pending_none_or_failure() {
    let p = project();
    let plan = |extra: &[&str]| {
        let mut args = vec!["plan", "site.yml", "-i", "hosts.ini", "--detailed-exitcode"];
        args.extend_from_slice(extra);
        prov_at(p.path(), &args)
    };
    assert_eq!(plan(&[]).status.code(), Some(2), "changes pending");
    let applied = prov_at(p.path(), &["apply", "site.yml", "-i", "hosts.ini"]);
    assert_eq!(applied.status.code(), Some(0), "{:?}", text(&applied));
    // Only the command would run: no drift.
    let out = plan(&["--output", "markdown"]);
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
    assert!(text(&out).0.contains("**No changes**, but commands would run: **!1 command**"), "{:?}", text(&out));
    // Drift: someone edits the file by hand.
    std::fs::write(p.path().join("tgt/app.conf"), "port = 1\n").expect("write");
    assert_eq!(plan(&[]).status.code(), Some(2), "drift is a change pending");
    // A task that fails while planning: 1, and the Markdown says the plan is incomplete.
    std::fs::write(
        p.path().join("bad.yml"),
        "- hosts: web1\n  gather_facts: false\n  tasks:\n    - name: broken\n      fail: msg=no\n",
    )
    .expect("write");
    let out = prov_at(p.path(), &["plan", "bad.yml", "-i", "hosts.ini", "--detailed-exitcode", "--output", "markdown"]);
    assert_eq!(out.status.code(), Some(1), "{:?}", text(&out));
    assert!(text(&out).0.contains("The plan is incomplete"), "{:?}", text(&out));
    // Bad input stays 4.
    let out = prov_at(p.path(), &["plan", "missing.yml", "-i", "hosts.ini", "--detailed-exitcode"]);
    assert_eq!(out.status.code(), Some(4), "{:?}", text(&out));
}

#[test]
fn markdown_output_and_detailed_exitcode_are_refused_outside_plan() {
    let p = project();
    for extra in [&["--output", "markdown"][..], &["--detailed-exitcode"]] {
        let mut args = vec!["apply", "site.yml", "-i", "hosts.ini"];
        args.extend_from_slice(extra);
        let out = prov_at(p.path(), &args);
        let (_, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(4), "{stderr}");
        assert!(stderr.contains("is for `prov plan` only"), "{stderr}");
    }
    assert!(!p.path().join("tgt/data").exists(), "the refused apply ran");
}

/// `examples/ci/prov-ci STAGE` as the example pipelines run it, on `project`.
fn pipeline(project: &Path, stage: &str) -> Output {
    std::process::Command::new(crate::util::repo().join("examples/ci/prov-ci"))
        .arg(stage)
        .current_dir(project)
        .env("PROV", env!("CARGO_BIN_EXE_prov"))
        .env("PLAYBOOK", "site.yml")
        .env("INVENTORY", "hosts.ini")
        .env("OUT", project.join("artifacts"))
        .env("NO_COLOR", "1")
        .output()
        .expect("prov-ci runs")
}

#[test]
fn example_pipelines_plan_apply_and_detect_drift() {
    let repo = crate::util::repo();
    // Both pipelines run their stages through prov-ci and serialise runs of the project.
    let gh = std::fs::read_to_string(repo.join("examples/ci/github-actions.yml")).expect("read");
    let gl = std::fs::read_to_string(repo.join("examples/ci/gitlab-ci.yml")).expect("read");
    for stage in ["plan", "apply", "drift"] {
        let cmd = format!("examples/ci/prov-ci {stage}");
        assert!(gh.contains(&cmd) && gl.contains(&cmd), "{cmd} missing from a pipeline");
    }
    assert!(gh.contains("concurrency:") && gh.contains("cancel-in-progress: false"));
    assert!(gl.matches("resource_group: prov").count() == 3);

    let p = project();
    let out = pipeline(p.path(), "plan");
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
    let md = std::fs::read_to_string(p.path().join("artifacts/plan.md")).expect("plan.md");
    assert!(md.contains("**+1 file, ~1 file, !1 command**"), "{md}");
    assert_eq!(std::fs::read_to_string(p.path().join("artifacts/changes")).expect("changes").trim(), "true");
    assert!(!p.path().join("tgt/data").exists(), "plan changed something");

    let out = pipeline(p.path(), "apply");
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
    let events = std::fs::read_to_string(p.path().join("artifacts/apply.jsonl")).expect("events");
    assert!(events.lines().any(|l| l.contains("\"event\":\"recap\"")), "{events}");
    let junit = std::fs::read_to_string(p.path().join("artifacts/junit.xml")).expect("junit");
    assert!(junit.contains("<testsuites") && junit.contains("app config"), "{junit}");
    assert!(p.path().join("tgt/data").is_dir());

    let out = pipeline(p.path(), "plan");
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
    assert_eq!(std::fs::read_to_string(p.path().join("artifacts/changes")).expect("changes").trim(), "false");
    assert_eq!(pipeline(p.path(), "drift").status.code(), Some(0), "no drift right after apply");
    std::fs::write(p.path().join("tgt/app.conf"), "edited by hand\n").expect("write");
    let out = pipeline(p.path(), "drift");
    assert_eq!(out.status.code(), Some(2), "{:?}", text(&out));
    assert!(text(&out).1.contains("drifted"), "{:?}", text(&out));
}

/// Regression: a command that check mode skips was judged by its `changed_when` and
/// `failed_when`, which read the `stdout` it never had, so `prov plan` of the reference job
/// failed on `image tarballs` ("undefined value"). ansible-core does not judge a skipped result.
#[test]
fn plan_does_not_judge_a_skipped_command_by_changed_when() {
    let p = project();
    std::fs::write(
        p.path().join("build.yml"),
        "- hosts: web1\n  gather_facts: false\n  tasks:\n    - name: build\n      command: echo built\n      register: out\n      changed_when: \"'built' in out.stdout\"\n      failed_when: out.rc != 0\n",
    )
    .expect("write");
    let out = prov_at(p.path(), &["plan", "build.yml", "-i", "hosts.ini", "--output", "json"]);
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
    let (stdout, _) = text(&out);
    let last: serde_json::Value = serde_json::from_str(stdout.lines().last().expect("a line")).expect("json");
    assert_eq!(last["summary"], "!1 command", "{stdout}");
    assert_eq!(last["errors"], serde_json::json!([]), "{stdout}");
    // Applied, the conditions still decide.
    let (code, events, all) =
        crate::util::json_events(&prov_at(p.path(), &["apply", "build.yml", "-i", "hosts.ini", "--output", "json"]));
    assert_eq!(code, 0, "{all}");
    assert_eq!(crate::util::recap_changed(&events), 1, "{all}");
}

/// The reference cluster of `playbooks/vars/vms.yml`: name, group, last octet.
const REFERENCE_VMS: &[(&str, &str, &str)] = &[
    ("monitor", "monitor", "10"),
    ("manager1", "managers", "11"),
    ("manager2", "managers", "12"),
    ("manager3", "managers", "13"),
    ("worker1", "workers", "21"),
    ("worker2", "workers", "22"),
    ("worker3", "workers", "23"),
    ("worker4", "workers", "24"),
];

/// `prov plan` of the whole reference job (`--tags all,create-vms`: the VMs, then everything
/// else) on the docker provider, from a project with no VM: the VMs and the disk to create,
/// the controller's command, and the plays that cannot be planned before their hosts exist,
/// named as such rather than left out. Needs the Docker Engine (the inventory lists it).
#[test]
fn plan_of_the_reference_job_from_nothing_names_what_is_not_known_until_the_vms_exist() {
    let site = crate::site::Site::new("plan", REFERENCE_VMS);
    // The reference vars as they are (the disk too), on this test's subnet.
    let vms = std::fs::read_to_string(crate::util::repo().join("playbooks/vars/vms.yml")).expect("vms.yml");
    assert!(vms.contains("10.213.0."), "vms.yml moved off 10.213.0.0/24");
    let vms = vms.replace("10.213.0.", &format!("{}.", site.subnet_prefix));
    std::fs::write(site.dir.path().join("playbooks/vars/vms.yml"), vms).expect("write vms.yml");
    let args = ["plan", "playbooks/site.yml", "-i", "inventories/local.yml", "--tags", "all,create-vms"];
    let out = site.prov(&[&args[..], &["--output", "markdown"]].concat());
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
    let md = normalized(&out, site.dir.path()).replace(&site.project, "<project>");
    insta::assert_snapshot!("plan_markdown_reference_job", md);

    let out = site.prov(&[&args[..], &["--output", "json", "--detailed-exitcode"]].concat());
    assert_eq!(out.status.code(), Some(2), "changes pending: {:?}", text(&out));
    let (stdout, _) = text(&out);
    let last: serde_json::Value = serde_json::from_str(stdout.lines().last().expect("a line")).expect("json");
    assert_eq!(last["event"], "plan");
    assert_eq!(last["summary"], "+1 disk, +8 vm, !1 command", "{stdout}");
    assert_eq!(last["errors"], serde_json::json!([]), "{stdout}");
    let names: Vec<&str> = REFERENCE_VMS.iter().map(|v| v.0).collect();
    assert_eq!(last["vms_created"], serde_json::json!(names));
    let not_known: Vec<(&str, &str)> = last["not_known_until_created"]
        .as_array()
        .expect("not_known_until_created")
        .iter()
        .map(|p| (p["name"].as_str().unwrap_or(""), p["hosts"].as_str().unwrap_or("")))
        .collect();
    assert_eq!(
        not_known,
        [
            ("common", "all"),
            ("shared storage (NFS)", "all"),
            ("the shared storage is shared", "all"),
            ("install docker", "managers:workers"),
            ("swarm", "managers:workers"),
            ("install the stack", "managers:workers"),
            ("deploy the stack", "managers[0]"),
            ("monitoring", "all"),
            ("every monitoring target is up", "monitor"),
        ]
    );
    // The VMs alone: the other plays have no task selected, so nothing is unknown.
    let out = site.prov(&[&args[..4], &["--tags", "create-vms", "--output", "json"]].concat());
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
    let (stdout, _) = text(&out);
    let last: serde_json::Value = serde_json::from_str(stdout.lines().last().expect("a line")).expect("json");
    assert_eq!(last["summary"], "+1 disk, +8 vm", "{stdout}");
    assert_eq!(last["not_known_until_created"], serde_json::json!([]), "{stdout}");
    assert!(site.containers().is_empty(), "plan created something: {:?}", site.containers());
    assert!(!site.network_exists(), "plan created the project network");
}

/// Once the VMs exist, the plan shows their configuration, host by host in inventory order,
/// and reads the same twice. It stops where check mode cannot go on: a service that a package
/// of the same plan installs does not exist yet (ansible-core's check mode fails there too), so
/// the swarm and its services are not planned before Docker is installed, and the plan says
/// it is incomplete (exit 1 with `--detailed-exitcode`). Needs the Docker Engine.
#[test]
fn plan_once_the_vms_exist_shows_their_configuration_in_a_stable_order() {
    let site = crate::site::Site::new(
        "plan-vms",
        &[("monitor", "monitor", "10"), ("manager1", "managers", "11"), ("worker1", "workers", "21")],
    );
    let (code, _, all) = site.apply("create-vms", &[]);
    assert_eq!(code, 0, "{all}");
    let plan = || {
        let out = site.prov(&[
            "plan",
            "playbooks/site.yml",
            "-i",
            "inventories/local.yml",
            "--output",
            "json",
            "--detailed-exitcode",
        ]);
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
        let last: serde_json::Value = serde_json::from_str(stdout.lines().last().expect("a line")).expect("json");
        assert_eq!(last["event"], "plan", "{stdout}");
        last
    };
    let first = plan();
    assert_eq!(first, plan(), "two plans of the same state differ");
    // The same plan for a pull request. Whether `apt cache` is to be updated depends on the
    // age of the node image's package lists: those rows, their diffs and the summary line
    // (which counts them) are left out of the snapshot; the JSON checks below cover the rest.
    let out = site.prov(&["plan", "playbooks/site.yml", "-i", "inventories/local.yml", "--output", "markdown"]);
    let md = normalized(&out, site.dir.path()).replace(&site.project, "<project>");
    insta::assert_snapshot!("plan_markdown_configuration", without_apt_cache(&md));
    assert_eq!(first["vms_created"], serde_json::json!([]));
    assert_eq!(first["not_known_until_created"], serde_json::json!([]));
    let rows = |action: &str, name: &str| -> Vec<String> {
        first["changes"]
            .as_array()
            .expect("changes")
            .iter()
            .filter(|c| c["action"] == action && c["name"] == name)
            .filter_map(|c| c["host"].as_str().map(str::to_string))
            .collect()
    };
    assert_eq!(rows("create", "less"), ["manager1", "monitor", "worker1"], "{first}");
    assert_eq!(rows("create", "docker.io"), ["manager1", "worker1"], "{first}");
    let errors: Vec<(&str, &str)> = first["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| (e["host"].as_str().unwrap_or(""), e["message"].as_str().unwrap_or("")))
        .collect();
    assert_eq!(
        errors,
        [
            ("manager1", "Could not find the requested service docker: host"),
            ("worker1", "Could not find the requested service docker: host"),
        ],
        "{first}"
    );
    // Every host of that play failed: as ansible-core, the run (here the plan) ends there, so
    // the later plays (monitoring) are not planned.
    assert_eq!(rows("create", "prometheus-node-exporter"), Vec::<String>::new(), "{first}");
}
