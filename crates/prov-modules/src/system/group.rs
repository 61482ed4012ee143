//! `group`: makes sure a local group exists (with a gid) or does not.
//!
//! Arguments (as in Ansible): `name` (required), `gid`, `system` (create with `-r`), `state`
//! (`present` default, `absent`), `non_unique` (allow a duplicate gid). One `getent group`
//! reads the state; `groupadd`/`groupmod`/`groupdel` change it.
//!
//! Registers what ansible-core's `group` registers: `name` and `state`; when the group exists
//! afterwards, `system` (the argument, not what the group is) and `gid` (read back, an integer);
//! `stdout`/`stderr` (with `_lines`) only when the command printed something. In check mode a
//! group to create or remove registers only `changed`, and a gid to change registers the group
//! as it is (the old gid), as Ansible's does. A failed command registers its error output as
//! `msg`, and `name`.
//!
//! ```yaml
//! - group: { name: deploy, gid: 2000 }
//! - group: { name: oldteam, state: absent }
//! ```

use crate::util::{in_check, probe_failed, with_command_text};
use async_trait::async_trait;
use prov_core::args::lenient_bool;
use prov_core::cmd::{Cmd, Sh, Word, WordKind};
use prov_core::module::{Action, Change, Module, ModuleCtx, ModuleError, Outcome, Plan};
use serde::Deserialize;

/// Arguments of `group`.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Args {
    /// Group name.
    pub name: String,
    /// Group id.
    #[serde(default)]
    pub gid: Option<u32>,
    /// A system group.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub system: bool,
    /// `present` or `absent`.
    #[serde(default)]
    pub state: Option<String>,
    /// Allow a gid that another group has.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub non_unique: bool,
}

/// The `group` module.
#[derive(Debug, Default)]
pub struct Group;

/// The command to run.
pub struct GroupPlan(Sh);

/// Reads `getent group NAME`: `Some(gid)` when the group exists.
pub(crate) async fn lookup_group(cx: &ModuleCtx<'_>, name: &str) -> Result<Option<u32>, ModuleError> {
    let out = cx.exec(Cmd::new("getent").flag("group").operand(name).build()).await?;
    match out.rc {
        0 => {
            let text = out.stdout_str();
            let gid = text.lines().next().and_then(|l| l.split(':').nth(2)).and_then(|g| g.trim().parse().ok());
            match gid {
                Some(g) => Ok(Some(g)),
                None => Err(ModuleError::Failed(format!("unexpected getent output for group {name}: {}", text.trim()))),
            }
        }
        2 => Ok(None),
        _ => Err(probe_failed(&format!("looking up group {name}"), &out)),
    }
}

#[async_trait]
impl Module for Group {
    const NAME: &'static str = "group";
    type Args = Args;
    type Plan = GroupPlan;

    fn check_args(args: &Args) -> Result<(), String> {
        match args.state.as_deref() {
            None | Some("present" | "absent") => {}
            Some(s) => return Err(format!("state must be present or absent, not {s}")),
        }
        Word::new(WordKind::Account, &args.name).map_err(|e| e.to_string())?;
        Ok(())
    }

    async fn plan(&self, args: &Args, cx: &ModuleCtx<'_>) -> Result<Plan<GroupPlan>, ModuleError> {
        let name = args.name.as_str();
        let cur = lookup_group(cx, name).await?;
        let absent = args.state.as_deref() == Some("absent");
        let gid_opt = |c: Cmd, gid: u32| {
            let c = c.opt("-g", gid.to_string());
            if args.non_unique {
                c.flag("-o")
            } else {
                c
            }
        };
        match (cur, absent) {
            (None, true) => Ok(Plan::Ok(Outcome::ok().with("name", name).with("state", "absent"))),
            (Some(_), true) => Ok(Plan::Change(
                Change::new(GroupPlan(Cmd::new("groupdel").operand(name).build()), Action::Delete, "group", name)
                    .with_diff(format!("group {name}"), "state: present\n", "state: absent\n"),
            )),
            (None, false) => {
                let mut cmd = Cmd::new("groupadd");
                if let Some(g) = args.gid {
                    cmd = gid_opt(cmd, g);
                }
                if args.system {
                    cmd = cmd.flag("-r");
                }
                let cmd = cmd.operand(name).build();
                let after = match args.gid {
                    Some(g) => format!("state: present\ngid: {g}\n"),
                    None => "state: present\n".into(),
                };
                Ok(Plan::Change(Change::new(GroupPlan(cmd), Action::Create, "group", name).with_diff(
                    format!("group {name}"),
                    "state: absent\n",
                    after,
                )))
            }
            (Some(gid), false) => match args.gid {
                Some(want) if want != gid => {
                    let ch = Change::new(
                        GroupPlan(gid_opt(Cmd::new("groupmod"), want).operand(name).build()),
                        Action::Modify,
                        "group",
                        name,
                    )
                    .with_diff(
                        format!("group {name}"),
                        format!("gid: {gid}\n"),
                        format!("gid: {want}\n"),
                    );
                    if cx.is_check() {
                        // Ansible's group reports the group as it is: the gid still the old one.
                        return Ok(Plan::Ok(in_check(ch, present(args, gid))));
                    }
                    Ok(Plan::Change(ch))
                }
                _ => Ok(Plan::Ok(present(args, gid))),
            },
        }
    }

    async fn apply(&self, args: &Args, plan: GroupPlan, cx: &ModuleCtx<'_>) -> Result<Outcome, ModuleError> {
        let name = args.name.as_str();
        let out = cx.exec(plan.0).await?;
        if out.rc != 0 {
            // As Ansible's group: the command's error output is the message.
            return Ok(Outcome::failed(out.stderr_str()).with("name", name));
        }
        if args.state.as_deref() == Some("absent") {
            let o = Outcome { changed: true, ..Outcome::ok() }.with("name", name).with("state", "absent");
            return Ok(with_command_text(o, &out));
        }
        let o = Outcome { changed: true, ..Outcome::ok() }.with("name", name).with("state", "present");
        let mut o = with_command_text(o, &out).with("system", args.system);
        // groupadd/groupmod -g set exactly that gid; without one, it is read back.
        let gid = match args.gid {
            Some(g) => Some(g),
            None => lookup_group(cx, name).await?,
        };
        if let Some(gid) = gid {
            o = o.with("gid", gid);
        }
        Ok(o)
    }
}

/// What Ansible's group registers for a group that exists: `name`, `state`, `system` (the
/// argument) and the group's `gid`.
fn present(args: &Args, gid: u32) -> Outcome {
    Outcome::ok().with("name", args.name.as_str()).with("state", "present").with("system", args.system).with("gid", gid)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;
    use prov_core::testutil::FakeConnection;
    use serde_json::json;

    #[tokio::test]
    async fn existing_is_ok() {
        let h = fake(FakeConnection::new().on("getent group -- deploy", 0, "deploy:x:2000:bob\n"));
        let o = run::<Group>(json!({"name": "deploy", "gid": 2000}), &h.ctx()).await;
        assert!(!o.changed && !o.failed, "{o:?}");
        assert_eq!(o.data["gid"], minijinja::Value::from(2000));
    }

    #[tokio::test]
    async fn creates_modifies_removes() {
        let h = fake(FakeConnection::new().on("getent", 2, ""));
        let o = run::<Group>(json!({"name": "deploy", "gid": 2000, "system": true}), &h.ctx()).await;
        assert!(o.changed);
        assert_eq!(h.conn.calls()[1], "groupadd -g 2000 -r -- deploy");
        assert_eq!(o.diffs[0].after, "state: present\ngid: 2000\n");
        let o = run::<Group>(json!({"name": "deploy", "state": "absent"}), &h.ctx()).await;
        assert!(!o.changed);
        let h = fake(FakeConnection::new().on("getent", 0, "deploy:x:1999:\n"));
        let o = run::<Group>(json!({"name": "deploy", "gid": 2000}), &h.ctx()).await;
        assert!(o.changed);
        assert_eq!(h.conn.calls()[1], "groupmod -g 2000 -- deploy");
        let o = run::<Group>(json!({"name": "deploy", "state": "absent"}), &h.ctx()).await;
        assert!(o.changed);
        assert_eq!(h.conn.calls()[3], "groupdel -- deploy");
    }

    #[tokio::test]
    async fn check_mode_and_failures() {
        let h = fake_check(FakeConnection::new().on("getent", 2, ""));
        let o = run::<Group>(json!({"name": "deploy"}), &h.ctx()).await;
        assert!(o.changed);
        assert_eq!(h.conn.calls().len(), 1);
        let h = fake(FakeConnection::new().on("getent", 1, ""));
        assert!(run_err::<Group>(json!({"name": "x"}), &h.ctx()).await.contains("looking up group x"));
        let h = fake(FakeConnection::new().on("getent", 2, "").on("groupadd", 9, ""));
        assert!(run::<Group>(json!({"name": "x"}), &h.ctx()).await.failed);
    }

    #[tokio::test]
    async fn registers_system_and_the_gid_as_ansible_group_does() {
        let h = fake_check(FakeConnection::new().on("getent", 0, "deploy:x:1999:\n"));
        let o = run::<Group>(json!({"name": "deploy", "gid": 2000}), &h.ctx()).await;
        assert!(o.changed && o.diffs.len() == 1, "{o:?}");
        assert_eq!(o.data["gid"], minijinja::Value::from(1999), "check mode: the gid as it is");
        assert_eq!(o.data["system"], minijinja::Value::from(false));
        let h = fake(FakeConnection::new().on("getent", 0, "web:x:998:\n").on("groupdel", 0, ""));
        let o = run::<Group>(json!({"name": "web", "gid": 998, "state": "absent"}), &h.ctx()).await;
        assert_eq!(o.data.keys().collect::<Vec<_>>(), ["name", "state"]);
    }

    #[tokio::test]
    async fn local_lookup() {
        let h = LocalHost::new();
        assert_eq!(lookup_group(&h.ctx(), "root").await.unwrap(), Some(0));
        assert_eq!(lookup_group(&h.ctx(), "surely-no-such-group").await.unwrap(), None);
    }

    #[tokio::test]
    async fn group_name_that_is_an_option_a_path_or_shell_is_refused_before_anything_runs() {
        let h = fake(FakeConnection::new().on("", 0, ""));
        let mut bad = hostile_values(&pwned_marker("group"));
        bad.extend(["../../x".into(), "a:b".into(), "..".into()]);
        for name in bad {
            let e = run_err::<Group>(json!({ "name": name, "gid": 5 }), &h.ctx()).await;
            assert!(e.contains("not a valid user or group name"), "{name:?}: {e}");
        }
        assert!(h.conn.calls().is_empty(), "{:?}", h.conn.calls());
        let h = fake(FakeConnection::new().on("getent", 0, "www-data:x:33:\n"));
        run::<Group>(json!({"name": "www-data", "gid": 34, "non_unique": true}), &h.ctx()).await;
        assert_eq!(h.conn.calls(), ["getent group -- www-data", "groupmod -g 34 -o -- www-data"]);
    }
}
