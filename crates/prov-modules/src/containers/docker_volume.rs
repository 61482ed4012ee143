//! `docker_volume` (community.docker): creates, recreates and removes a volume of the target's
//! Docker Engine, through the engine's API as community.docker does (see `containers::api`).
//!
//! Arguments (as in Ansible): `volume_name` (alias `name`), `driver` (default `local`),
//! `driver_options`, `labels`, `recreate` (`never`, `always`, `options-changed`), `state`
//! (`present`, `absent`), `debug`.
//!
//! It decides as community.docker does: an existing volume is kept unless `recreate` is
//! `always`, or `options-changed` and its driver, one of the given driver options or one of the
//! given labels differs (a difference alone changes nothing). Registers `volume` (the engine's
//! listing of it, `null` in check mode before it exists), `actions` (in check mode and for
//! `absent`), and `diff` in check mode or with `--diff` (`differences`, and `before`/`after`
//! with `--diff`). An engine error fails the task with community.docker's text for it
//! (`404 Client Error for http+docker://localhost/v1.41/...: Not Found ("...")`).
//!
//! ```yaml
//! - community.docker.docker_volume:
//!     name: pgdata
//!     labels: {app: db}
//! ```

use super::api::{quote, Engine, Tracker};
use crate::util::or_fail;
use async_trait::async_trait;
use prov_core::args::lenient_bool;
use prov_core::module::{Action, DiffMode, Module, ModuleCtx, ModuleError, Outcome, Plan};
use serde::Deserialize;
use serde_json::{json, Map, Value as Json};

fn local() -> String {
    "local".into()
}

fn never() -> String {
    "never".into()
}

fn present() -> String {
    "present".into()
}

/// Arguments of `docker_volume`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    /// The volume.
    #[serde(alias = "name")]
    pub volume_name: String,
    /// Its driver.
    #[serde(default = "local")]
    pub driver: String,
    /// The driver's options.
    #[serde(default)]
    pub driver_options: Map<String, Json>,
    /// Labels.
    #[serde(default)]
    pub labels: Option<Map<String, Json>>,
    /// When to remove and create it again.
    #[serde(default = "never")]
    pub recreate: String,
    /// `present` or `absent`.
    #[serde(default = "present")]
    pub state: String,
    /// Registers `actions` and `diff` in every mode.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub debug: bool,
}

/// The `docker_volume` module.
#[derive(Debug, Default)]
pub struct DockerVolume;

/// What differs between the arguments and the volume, in community.docker's order.
fn differences(a: &Args, labels: &Option<Map<String, Json>>, v: &Json) -> Tracker {
    let mut d = Tracker::default();
    let driver = v.get("Driver").cloned().unwrap_or(Json::Null);
    if !a.driver.is_empty() && driver.as_str() != Some(a.driver.as_str()) {
        d.add("driver", Json::from(a.driver.as_str()), driver);
    }
    if !a.driver_options.is_empty() {
        let opts = v.get("Options").and_then(|o| o.as_object()).filter(|o| !o.is_empty());
        match opts {
            None => d.add(
                "driver_options",
                Json::Object(a.driver_options.clone()),
                v.get("Options").cloned().unwrap_or(Json::Null),
            ),
            Some(o) => {
                for (k, want) in &a.driver_options {
                    let have = o.get(k).cloned().unwrap_or(Json::Null);
                    if !crate::util::py_truthy(&have) || *want != have {
                        d.add(format!("driver_options.{k}"), want.clone(), have);
                    }
                }
            }
        }
    }
    if let Some(l) = labels.as_ref().filter(|l| !l.is_empty()) {
        let have = v.get("Labels").and_then(|x| x.as_object()).cloned().unwrap_or_default();
        for (k, want) in l {
            let cur = have.get(k).cloned().unwrap_or(Json::Null);
            if cur != *want {
                d.add(format!("labels.{k}"), want.clone(), cur);
            }
        }
    }
    d
}

/// The volume as the engine lists it (`GET /volumes`), if it exists.
async fn existing(e: &Engine<'_, '_>, name: &str) -> Result<Result<Option<Json>, Outcome>, ModuleError> {
    let list = or_fail!(e.get_json("/volumes").await, Err);
    let found = list
        .get("Volumes")
        .and_then(|v| v.as_array())
        .and_then(|vs| vs.iter().find(|v| v.get("Name").and_then(|n| n.as_str()) == Some(name)).cloned());
    Ok(Ok(found))
}

impl DockerVolume {
    /// The module as community.docker runs it; `check` changes nothing.
    async fn run(&self, a: &Args, cx: &ModuleCtx<'_>, check: bool) -> Result<Outcome, ModuleError> {
        let labels = match a.labels.as_ref().map(super::sanitize_labels).transpose() {
            Ok(l) => l,
            Err(m) => return Ok(Outcome::failed(m)),
        };
        let e = or_fail!(Engine::connect(cx).await);
        let name = a.volume_name.as_str();
        let mut current = or_fail!(existing(&e, name).await);
        let diff_on = cx.mode.diff == DiffMode::On;
        let mut actions: Vec<String> = Vec::new();
        let mut tracker = Tracker::default();
        let mut diff = Map::new();
        let mut o = Outcome::ok();
        let path = format!("/volumes/{}", quote(name, "/:"));
        let present = a.state == "present";
        tracker.add("exists", Json::from(present), Json::from(current.is_some()));
        let d = match &current {
            Some(v) if present => differences(a, &labels, v),
            _ => Tracker::default(),
        };
        let recreate = (!d.0.is_empty() && a.recreate == "options-changed") || a.recreate == "always";
        if current.is_some() && (!present || recreate) {
            if !check {
                or_fail!(e.send("DELETE", &path, None, "").await);
            }
            actions.push(format!("Removed volume {name}"));
            current = None;
        }
        if present {
            if current.is_none() {
                if !check {
                    let mut body = json!({"Name": name, "Driver": a.driver, "DriverOpts": a.driver_options});
                    if let Some(l) = &labels {
                        body["Labels"] = Json::Object(l.clone());
                    }
                    or_fail!(e.send("POST", "/volumes/create", Some(&body), "").await);
                }
                actions.push(format!("Created volume {name} with driver {}", a.driver));
            }
            if diff_on || check || a.debug {
                diff.insert("differences".into(), d.names());
                tracker.0.extend(d.0);
            }
            let volume = or_fail!(existing(&e, name).await).unwrap_or(Json::Null);
            o = o.with("volume", super::json_value(volume));
        }
        o.changed = !actions.is_empty();
        // community.docker drops `actions` from a real run of `present` (not of `absent`).
        if !present || check || a.debug {
            o = o.with("actions", super::json_value(json!(actions)));
        }
        if diff_on || check || a.debug {
            if diff_on {
                let (before, after) = tracker.before_after();
                diff.insert("before".into(), before);
                diff.insert("after".into(), after);
            }
            o = o.with("diff", super::json_value(Json::Object(diff)));
        }
        Ok(o)
    }
}

#[async_trait]
impl Module for DockerVolume {
    const NAME: &'static str = "docker_volume";
    const COLLECTIONS: &'static [&'static str] = &["community.docker", "ansible.builtin"];
    type Args = Args;
    type Plan = ();

    fn check_args(a: &Args) -> Result<(), String> {
        if !matches!(a.state.as_str(), "present" | "absent") {
            return Err(format!("value of state must be one of: present, absent, got: {}", a.state));
        }
        if !matches!(a.recreate.as_str(), "always" | "never" | "options-changed") {
            return Err(format!(
                "value of recreate must be one of: always, never, options-changed, got: {}",
                a.recreate
            ));
        }
        Ok(())
    }

    async fn plan(&self, a: &Args, cx: &ModuleCtx<'_>) -> Result<Plan<()>, ModuleError> {
        let action = if a.state == "absent" { Action::Delete } else { Action::Create };
        crate::util::decide_while_acting(cx, action, "docker volume", a.volume_name.clone(), self.run(a, cx, true))
            .await
    }

    async fn apply(&self, a: &Args, _: (), cx: &ModuleCtx<'_>) -> Result<Outcome, ModuleError> {
        self.run(a, cx, false).await
    }
}
