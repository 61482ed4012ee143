//! `package`: installs or removes packages with the host's own package manager, as Ansible's
//! generic `package` module does: it picks the backend module from `use`, else the host
//! variable `ansible_package_use`, else the `pkg_mgr` fact (read from the host, with the same
//! rules as `setup`, when facts were not gathered), and hands it the arguments.
//!
//! Arguments: `name` (required; a package, a list or `"a,b"`), `state` (`present`,
//! `absent`, `latest`, or another state the backend knows; ansible-core documents it as
//! required but runs the backend without it, which then installs), `use` (default `auto`). The
//! backend's own arguments pass through; prov's one backend is `apt`, so these are
//! `update_cache`, `cache_valid_time`, `purge`, `autoremove`, `install_recommends`,
//! `default_release`, `force`, `dpkg_options`, `allow_downgrade`, `allow_unauthenticated`,
//! `allow_change_held_packages`, `fail_on_autoremove`, `only_upgrade`, `lock_timeout` (see
//! [apt](apt.md)). The arguments of dnf (`disablerepo`, `enablerepo`, `disable_gpg_check`,
//! `exclude`, `releasever`, ...) are known too, as roles pass them under a `when` on the
//! family: on an apt host they fail the task, as ansible-core's apt fails it ("Unsupported
//! parameters for (ansible.legacy.apt) module: ..."). A host whose package manager is not apt
//! fails the task with the manager's name: prov has no `dnf`, `apk`, ... module.
//!
//! ```yaml
//! - package:
//!     name: [curl, rsync]
//!     state: present
//! ```

use super::apt::{Apt, AptPlan};
use async_trait::async_trait;
use minijinja::Value;
use prov_core::connection::ExecOutput;
use prov_core::facts;
use prov_core::module::{args_from_value, Fact, Module, ModuleCtx, ModuleError, Outcome, Plan};
use serde::Deserialize;

/// Arguments of `package`: its own, and those it passes to `apt`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    /// Packages.
    name: Value,
    /// Desired state; without it the backend's default (apt: `present`), as ansible-core's
    /// action runs the backend with the arguments given (its documentation says required).
    #[serde(default)]
    state: Option<String>,
    /// Backend module (`auto`: the host's package manager).
    #[serde(default, rename = "use")]
    use_: Option<String>,
    /// Passed to apt.
    #[serde(default)]
    update_cache: Option<Value>,
    /// Passed to apt.
    #[serde(default)]
    cache_valid_time: Option<Value>,
    /// Passed to apt.
    #[serde(default)]
    purge: Option<Value>,
    /// Passed to apt.
    #[serde(default)]
    autoremove: Option<Value>,
    /// Passed to apt.
    #[serde(default)]
    install_recommends: Option<Value>,
    /// Passed to apt.
    #[serde(default)]
    default_release: Option<Value>,
    /// Passed to apt.
    #[serde(default)]
    force: Option<Value>,
    /// Passed to apt.
    #[serde(default)]
    dpkg_options: Option<Value>,
    /// Passed to apt.
    #[serde(default)]
    allow_downgrade: Option<Value>,
    /// Passed to apt.
    #[serde(default)]
    allow_unauthenticated: Option<Value>,
    /// Passed to apt.
    #[serde(default)]
    allow_change_held_packages: Option<Value>,
    /// Passed to apt.
    #[serde(default)]
    fail_on_autoremove: Option<Value>,
    /// Passed to apt.
    #[serde(default)]
    only_upgrade: Option<Value>,
    /// Passed to apt.
    #[serde(default)]
    lock_timeout: Option<Value>,
    /// Arguments of other backends (dnf, dnf5): ansible-core's package passes them on, and its
    /// apt module fails the task on them ("Unsupported parameters").
    #[serde(default)]
    allowerasing: Option<Value>,
    #[serde(default)]
    best: Option<Value>,
    #[serde(default)]
    bugfix: Option<Value>,
    #[serde(default)]
    cacheonly: Option<Value>,
    #[serde(default)]
    conf_file: Option<Value>,
    #[serde(default)]
    disable_excludes: Option<Value>,
    #[serde(default)]
    disable_gpg_check: Option<Value>,
    #[serde(default)]
    disable_plugin: Option<Value>,
    #[serde(default)]
    disablerepo: Option<Value>,
    #[serde(default)]
    download_dir: Option<Value>,
    #[serde(default)]
    download_only: Option<Value>,
    #[serde(default)]
    enable_plugin: Option<Value>,
    #[serde(default)]
    enablerepo: Option<Value>,
    #[serde(default)]
    exclude: Option<Value>,
    #[serde(default)]
    install_repoquery: Option<Value>,
    #[serde(default)]
    install_weak_deps: Option<Value>,
    #[serde(default)]
    installroot: Option<Value>,
    #[serde(default)]
    list: Option<Value>,
    #[serde(default)]
    nobest: Option<Value>,
    #[serde(default)]
    releasever: Option<Value>,
    #[serde(default)]
    security: Option<Value>,
    #[serde(default)]
    skip_broken: Option<Value>,
    #[serde(default)]
    sslverify: Option<Value>,
    #[serde(default)]
    update_only: Option<Value>,
    #[serde(default)]
    use_backend: Option<Value>,
    #[serde(default)]
    validate_certs: Option<Value>,
}

impl Args {
    /// The arguments the apt module gets.
    fn for_apt(&self) -> Result<super::apt::Args, String> {
        let mut m: Vec<(&str, Value)> = vec![("name", self.name.clone())];
        if let Some(st) = &self.state {
            m.push(("state", Value::from(st.as_str())));
        }
        for (k, v) in [
            ("update_cache", &self.update_cache),
            ("cache_valid_time", &self.cache_valid_time),
            ("purge", &self.purge),
            ("autoremove", &self.autoremove),
            ("install_recommends", &self.install_recommends),
            ("default_release", &self.default_release),
            ("force", &self.force),
            ("dpkg_options", &self.dpkg_options),
            ("allow_downgrade", &self.allow_downgrade),
            ("allow_unauthenticated", &self.allow_unauthenticated),
            ("allow_change_held_packages", &self.allow_change_held_packages),
            ("fail_on_autoremove", &self.fail_on_autoremove),
            ("only_upgrade", &self.only_upgrade),
            ("lock_timeout", &self.lock_timeout),
        ] {
            if let Some(v) = v {
                m.push((k, v.clone()));
            }
        }
        let map: std::collections::BTreeMap<String, Value> = m.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        let a: super::apt::Args = args_from_value(&Value::from(map))?;
        Apt::check_args(&a)?;
        Ok(a)
    }
}

impl Args {
    /// The arguments given that only other backends take, sorted: apt fails on them.
    fn not_for_apt(&self) -> Vec<&'static str> {
        let mut given: Vec<&'static str> = [
            ("allowerasing", &self.allowerasing),
            ("best", &self.best),
            ("bugfix", &self.bugfix),
            ("cacheonly", &self.cacheonly),
            ("conf_file", &self.conf_file),
            ("disable_excludes", &self.disable_excludes),
            ("disable_gpg_check", &self.disable_gpg_check),
            ("disable_plugin", &self.disable_plugin),
            ("disablerepo", &self.disablerepo),
            ("download_dir", &self.download_dir),
            ("download_only", &self.download_only),
            ("enable_plugin", &self.enable_plugin),
            ("enablerepo", &self.enablerepo),
            ("exclude", &self.exclude),
            ("install_repoquery", &self.install_repoquery),
            ("install_weak_deps", &self.install_weak_deps),
            ("installroot", &self.installroot),
            ("list", &self.list),
            ("nobest", &self.nobest),
            ("releasever", &self.releasever),
            ("security", &self.security),
            ("skip_broken", &self.skip_broken),
            ("sslverify", &self.sslverify),
            ("update_only", &self.update_only),
            ("use_backend", &self.use_backend),
            ("validate_certs", &self.validate_certs),
        ]
        .into_iter()
        .filter(|(_, v)| v.is_some())
        .map(|(k, _)| k)
        .collect();
        given.sort_unstable();
        given
    }
}

/// The `package` module.
#[derive(Default)]
pub struct Package;

/// The host's package manager, as the `pkg_mgr` fact names it.
struct PkgMgr;

impl PkgMgr {
    fn collectors() -> std::collections::BTreeSet<facts::Collector> {
        // What ansible-core's package action gathers when it lacks the fact: `!all` (the
        // minimal subsets, which include pkg_mgr and the distribution it depends on).
        facts::select(&["!all".to_string()]).unwrap_or_default()
    }
}

impl Fact for PkgMgr {
    type Output = String;
    fn command(&self) -> String {
        facts::command(&Self::collectors())
    }
    fn parse(&self, out: &ExecOutput) -> Result<String, String> {
        let f = facts::parse(&Self::collectors(), &out.stdout_str());
        Ok(f.get("pkg_mgr").and_then(|v| v.as_str().map(str::to_string)).unwrap_or_else(|| "unknown".into()))
    }
}

/// Which backend module runs: `use`, then `ansible_package_use`, then the `pkg_mgr` fact.
async fn backend(args: &Args, cx: &ModuleCtx<'_>) -> Result<String, ModuleError> {
    if let Some(u) = args.use_.as_deref().filter(|u| *u != "auto") {
        return Ok(u.to_string());
    }
    let known = |expr: &str| {
        cx.vars.eval(expr).ok().and_then(|v| v.as_str().map(str::to_string)).filter(|s| !s.is_empty() && s != "auto")
    };
    if let Some(u) = known("ansible_package_use | default('')") {
        return Ok(u);
    }
    if let Some(m) = known("ansible_facts.pkg_mgr | default('')") {
        return Ok(m);
    }
    cx.fact(&PkgMgr).await
}

#[async_trait]
impl Module for Package {
    const NAME: &'static str = "package";
    type Args = Args;
    type Plan = AptPlan;

    fn check_args(args: &Args) -> Result<(), String> {
        args.for_apt().map(|_| ())
    }

    async fn plan(&self, args: &Args, cx: &ModuleCtx<'_>) -> Result<Plan<AptPlan>, ModuleError> {
        match backend(args, cx).await?.as_str() {
            "apt" | "ansible.builtin.apt" => {
                let unsupported = args.not_for_apt();
                if !unsupported.is_empty() {
                    // As ansible-core's apt answers the arguments package hands it.
                    let mut supported: Vec<&str> =
                        prov_core::serde_fields::struct_fields::<super::apt::Args>().to_vec();
                    supported.sort_unstable();
                    return Ok(Plan::Ok(Outcome::failed(format!(
                        "Unsupported parameters for (ansible.legacy.apt) module: {}. Supported parameters include: {}.",
                        unsupported.join(", "),
                        supported.join(", ")
                    ))));
                }
                Apt.plan(&args.for_apt().map_err(ModuleError::Args)?, cx).await
            }
            "unknown" => {
                Err(ModuleError::Failed("Could not detect a package manager. Try using the \"use\" option.".into()))
            }
            other => Err(ModuleError::Failed(format!(
                "this host's package manager is `{other}`; prov's package module has only the apt backend"
            ))),
        }
    }

    async fn apply(&self, args: &Args, plan: AptPlan, cx: &ModuleCtx<'_>) -> Result<Outcome, ModuleError> {
        Apt.apply(&args.for_apt().map_err(ModuleError::Args)?, plan, cx).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn args(v: serde_json::Value) -> Result<Args, String> {
        args_from_value(&Value::from(minijinja::value::Serde(v)))
    }

    #[tokio::test]
    async fn arguments_of_other_backends_fail_the_task_on_apt_as_ansible_core() {
        use crate::testing::*;
        use prov_core::testutil::FakeConnection;
        // ansible-core 2.19.14, the same task on a Debian host: its apt module's answer.
        let h = fake(FakeConnection::new());
        let o = run::<Package>(
            json!({"name": "curl", "use": "apt", "disablerepo": "x", "disable_gpg_check": true}),
            &h.ctx(),
        )
        .await;
        assert!(o.failed && !o.changed, "{o:?}");
        let msg = o.msg.unwrap_or_default();
        assert!(
            msg.starts_with(
                "Unsupported parameters for (ansible.legacy.apt) module: disable_gpg_check, disablerepo. Supported parameters include: "
            ),
            "{msg}"
        );
        assert!(h.conn.calls().is_empty(), "nothing ran: {:?}", h.conn.calls());
    }

    #[test]
    fn name_and_state_are_required_and_the_rest_goes_to_apt() {
        assert!(args(json!({"name": "curl"})).is_ok(), "ansible-core runs it with the backend's default state");
        assert!(args(json!({"state": "present"})).is_err(), "name is required");
        assert!(args(json!({"name": "curl", "state": "present", "nosuch": "x"})).is_err());
        let dnf = args(json!({"name": "curl", "enablerepo": "x"})).expect("a dnf argument is known");
        assert!(Package::check_args(&dnf).is_ok(), "the backend decides, when the task runs");
        let a = args(json!({"name": "curl,rsync", "state": "present", "update_cache": "yes"})).expect("args");
        assert!(Package::check_args(&a).is_ok());
        let apt = a.for_apt().expect("apt args");
        assert_eq!(apt.name.map(|l| l.0), Some(vec!["curl".to_string(), "rsync".to_string()]));
        assert!(apt.update_cache);
        assert_eq!(apt.dpkg_options, "force-confdef,force-confold", "apt's own default stays");
        let bad = args(json!({"name": "-oDir::Bin::dpkg=/x", "state": "present"})).expect("args");
        assert!(Package::check_args(&bad).is_err(), "apt's name checks apply");
        let bad_state = args(json!({"name": "curl", "state": "maybe"})).expect("args");
        assert!(Package::check_args(&bad_state).is_err());
    }
}
