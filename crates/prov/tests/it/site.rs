//! A throwaway copy of the reference content (playbooks, roles, scripts) with its own
//! docker project, subnet and state directory, removed with everything it created.

use crate::util::{copy_tree, json_events, repo};
use serde_json::Value as Json;
use std::path::PathBuf;
use std::process::{Command, Output};

/// A copy of the reference content with its own project, subnet and state directory.
pub struct Site {
    pub dir: tempfile::TempDir,
    pub state: tempfile::TempDir,
    pub project: String,
    pub subnet_prefix: String,
}

impl Site {
    /// The reference content on 10.214.N.0/24.
    pub fn new(tag: &str, vms: &[(&str, &str, &str)]) -> Site {
        Site::on_net("10.214", tag, vms)
    }

    /// The reference content on `net`.N.0/24 (`net`: the first two octets), for tests that
    /// run at the same time as those on 10.214 and must not collide with them. The VMs are
    /// `vms` (name, group, last octet); the shared disk is the reference's.
    pub fn on_net(net: &str, tag: &str, vms: &[(&str, &str, &str)]) -> Site {
        let dir = tempfile::tempdir().expect("tempdir");
        let state = tempfile::tempdir().expect("state dir");
        copy_tree(&repo().join("playbooks"), &dir.path().join("playbooks"));
        copy_tree(&repo().join("roles"), &dir.path().join("roles"));
        copy_tree(&repo().join("scripts"), &dir.path().join("scripts"));
        let n = std::process::id() % 200 + 20 + tag.len() as u32;
        let subnet_prefix = format!("{net}.{n}");
        let project = format!("provtest-{tag}-{}", std::process::id());
        std::fs::create_dir_all(dir.path().join("inventories")).expect("mkdir");
        std::fs::write(dir.path().join("inventories/local.yml"), docker_inventory(&project, &subnet_prefix))
            .expect("inventory");
        let list: String = vms
            .iter()
            .map(|(name, group, host)| {
                format!("  - {{ name: {name}, group: {group}, machine_type: e2-small, ip: {subnet_prefix}.{host} }}\n")
            })
            .collect();
        // The VMs given, with the reference's shared disk (every VM mounts it at /srv/nfs).
        let reference = std::fs::read_to_string(repo().join("playbooks/vars/vms.yml")).expect("vms.yml");
        let disks = &reference[reference.find("\ndisks:").expect("the reference vms.yml has disks") + 1..];
        std::fs::write(dir.path().join("playbooks/vars/vms.yml"), format!("vms:\n{list}{disks}")).expect("vms");
        Site { dir, state, project, subnet_prefix }
    }

    /// A copy of an example directory (its playbooks at the top), with `inventory.yml`
    /// rewritten to this test's project and subnet.
    pub fn example(tag: &str, example: &str) -> Site {
        let dir = tempfile::tempdir().expect("tempdir");
        copy_tree(&repo().join(example), dir.path());
        Site::in_dir(dir, "10.216", tag)
    }

    /// A project of the given files (path, text) on `net`.N.0/24, with `inventory.yml` of this
    /// test's docker project: for tests whose playbook creates its own VMs (the `vm` module,
    /// `project: "{{ prov_project }}"`, `subnet: "{{ prov_subnet }}"`, given by [`Site::vars`]).
    pub fn with_files(net: &str, tag: &str, files: &[(&str, &str)]) -> Site {
        let dir = tempfile::tempdir().expect("tempdir");
        for (path, text) in files {
            let p = dir.path().join(path);
            std::fs::create_dir_all(p.parent().expect("a parent")).expect("mkdir");
            std::fs::write(p, text).expect("write");
        }
        Site::in_dir(dir, net, tag)
    }

    /// `dir` as a site on `net`.N.0/24 with this test's project, and its `inventory.yml`.
    fn in_dir(dir: tempfile::TempDir, net: &str, tag: &str) -> Site {
        let state = tempfile::tempdir().expect("state dir");
        let n = std::process::id() % 200 + 20 + tag.len() as u32;
        let subnet_prefix = format!("{net}.{n}");
        let project = format!("provtest-{tag}-{}", std::process::id());
        std::fs::write(dir.path().join("inventory.yml"), docker_inventory(&project, &subnet_prefix))
            .expect("inventory");
        Site { dir, state, project, subnet_prefix }
    }

    /// `prov apply PLAYBOOK -i inventory.yml --output json` with [`Site::vars`] and `extra`.
    pub fn apply_with_vars(&self, playbook: &str, extra: &[&str]) -> (i32, Vec<Json>, String) {
        let vars = self.vars();
        let mut args = vec!["apply", playbook, "-i", "inventory.yml", "--output", "json", "-e", &vars];
        args.extend_from_slice(extra);
        json_events(&self.prov(&args))
    }

    /// A shell script's output on one of this site's VMs (`docker exec`); it must succeed.
    pub fn on_vm(&self, vm: &str, script: &str) -> String {
        let out = Command::new("docker")
            .args(["exec", &format!("{}-{vm}", self.project), "sh", "-c", script])
            .output()
            .expect("docker exec");
        assert!(out.status.success(), "{script} on {vm}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `-e` values naming this site's project and subnet.
    pub fn vars(&self) -> String {
        format!("prov_project={} prov_subnet={}.0/24", self.project, self.subnet_prefix)
    }

    pub fn prov(&self, args: &[&str]) -> Output {
        self.prov_env(args, &[])
    }

    pub fn prov_env(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut c = Command::new(env!("CARGO_BIN_EXE_prov"));
        c.args(args).current_dir(self.dir.path()).env("NO_COLOR", "1").env("PROV_STATE_DIR", self.state.path());
        c.env_remove("PROV_INVENTORY").env_remove("PROV_KNOWN_HOSTS");
        for (k, v) in env {
            c.env(k, v);
        }
        c.output().expect("prov runs")
    }

    pub fn apply(&self, tags: &str, extra: &[&str]) -> (i32, Vec<Json>, String) {
        let mut args = vec!["apply", "playbooks/site.yml", "-i", "inventories/local.yml", "--output", "json"];
        if !tags.is_empty() {
            args.extend(["--tags", tags]);
        }
        args.extend_from_slice(extra);
        let out = self.prov(&args);
        json_events(&out)
    }

    pub fn containers(&self) -> Vec<String> {
        let out = Command::new("docker")
            .args(["ps", "-a", "--filter", &format!("label=prov-project={}", self.project), "--format", "{{.Names}}"])
            .output()
            .expect("docker ps");
        String::from_utf8_lossy(&out.stdout).lines().map(str::to_string).collect()
    }

    pub fn network_exists(&self) -> bool {
        Command::new("docker")
            .args(["network", "inspect", &format!("prov-{}", self.project)])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
    }

    /// `docker service ls`'s REPLICAS (`running/desired`) of a swarm service, asked on the VM
    /// `manager1`.
    pub fn replicas(&self, service: &str) -> String {
        let out = Command::new("docker")
            .args([
                "exec",
                &format!("{}-manager1", self.project),
                "docker",
                "service",
                "ls",
                "--filter",
                &format!("name={service}"),
                "--format",
                "{{.Replicas}}",
            ])
            .output()
            .expect("docker exec");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    pub fn known_hosts(&self) -> PathBuf {
        self.state.path().join(&self.project).join("known_hosts")
    }
}

/// The docker inventory of a test's project and subnet (`A.B.C`), grouped by the VMs' labels.
fn docker_inventory(project: &str, subnet_prefix: &str) -> String {
    format!(
        "plugin: docker\nproject: {project}\nsubnet: {subnet_prefix}.0/24\nkeyed_groups:\n  - key: labels['prov-group']\n    prefix: \"\"\n    separator: \"\"\n"
    )
}

impl Drop for Site {
    fn drop(&mut self) {
        // Leave nothing behind, whatever the test did.
        for c in self.containers() {
            let _ = Command::new("docker").args(["rm", "-f", "-v", &c]).output();
        }
        let _ = Command::new("docker").args(["network", "rm", &format!("prov-{}", self.project)]).output();
        let vols = Command::new("docker")
            .args(["volume", "ls", "-q", "--filter", &format!("label=prov-project={}", self.project)])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        for v in vols.split_whitespace() {
            let _ = Command::new("docker").args(["volume", "rm", "-f", v]).output();
        }
    }
}
