//! `sysctl`: a kernel parameter in a sysctl file, and optionally in the running kernel
//! (ansible.posix.sysctl, Linux procps `sysctl`).
//!
//! Arguments (as in Ansible):
//! - `name` (alias `key`, required): the parameter, `net.ipv4.ip_forward`.
//! - `value` (alias `val`): required with `state: present`; a boolean spelling (`yes`, `true`,
//!   `on`...) is written `1` (`no`, `false`, `off`... `0`).
//! - `state`: `present` (default) or `absent`.
//! - `sysctl_file` (default `/etc/sysctl.conf`), `reload` (default true: `sysctl -p FILE` after a
//!   change), `sysctl_set` (set the running value with `sysctl -w` when it differs),
//!   `ignoreerrors` (`-e`: unknown keys are no error).
//!
//! The file is handled as ansible.posix.sysctl 12.3 handles it (observed on the same files): the
//! value of `name` is its last `name = value` line; when it is not the wanted one, the file is
//! rewritten with every line trimmed, `key = value` lines written `key=value`, the first line of
//! `name` replaced by `name=value`, its other lines dropped (a new one goes at the end); when it
//! is, the file is not touched. The running value (`sysctl -e -n`, white space ignored) counts
//! too: when it differs, the task changes with `sysctl_set` (set) or `reload` (reloaded). A
//! missing file is created (with its directory; Ansible fails there). Registers nothing but
//! `changed`, as Ansible.
//!
//! ```yaml
//! - sysctl: { name: net.ipv4.ip_forward, value: "1", sysctl_set: true }
//! - ansible.posix.sysctl:
//!     name: vm.swappiness
//!     value: 10
//!     sysctl_file: /etc/sysctl.d/60-swap.conf
//! ```

use crate::files::edit::{self, split_lines, EditPlan};
use crate::files::Attrs;
use async_trait::async_trait;
use prov_core::args::{lenient_bool, parse_bool};
use prov_core::cmd::Cmd;
use prov_core::module::{Action, Change, Diff, DiffMode, Module, ModuleCtx, ModuleError, Outcome, Plan};
use serde::Deserialize;

fn yes() -> bool {
    true
}
fn etc_sysctl() -> String {
    "/etc/sysctl.conf".into()
}

/// Arguments of `sysctl`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    /// The parameter.
    #[serde(alias = "key")]
    pub name: String,
    /// Its value.
    #[serde(default, alias = "val", deserialize_with = "crate::util::stringish")]
    pub value: Option<String>,
    /// `present` or `absent`.
    #[serde(default)]
    pub state: State,
    /// Unknown keys are no error (`sysctl -e`).
    #[serde(default, deserialize_with = "lenient_bool")]
    pub ignoreerrors: bool,
    /// `sysctl -p FILE` after a change.
    #[serde(default = "yes", deserialize_with = "lenient_bool")]
    pub reload: bool,
    /// The file.
    #[serde(default = "etc_sysctl")]
    pub sysctl_file: String,
    /// Set the running value when it differs.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub sysctl_set: bool,
}

/// `state` of `sysctl`.
#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// In the file with its value.
    #[default]
    Present,
    /// Not in the file.
    Absent,
}

/// The `sysctl` module.
#[derive(Debug, Default)]
pub struct Sysctl;

/// What `apply` does, in order.
pub struct SysctlPlan {
    /// `sysctl -w NAME=VALUE` first.
    set: bool,
    write: Option<EditPlan>,
    reload: bool,
}

/// The value as Ansible writes it: trimmed, booleans as `1`/`0`.
fn wanted(value: &str) -> String {
    match parse_bool(value) {
        Some(true) => "1".into(),
        Some(false) => "0".into(),
        None => value.trim().to_string(),
    }
}

/// A line's key and value, when it is a `key = value` line (not blank, not a comment).
fn key_value(line: &str) -> Option<(&str, &str)> {
    let t = line.trim();
    if t.is_empty() || t.starts_with('#') || t.starts_with(';') {
        return None;
    }
    t.split_once('=').map(|(k, v)| (k.trim(), v.trim()))
}

/// The value the file gives `name`: its last line.
fn file_value(text: &str, name: &str) -> Option<String> {
    text.lines().filter_map(key_value).rfind(|(k, _)| *k == name).map(|(_, v)| v.to_string())
}

/// The file rewritten with `name` set to `value` (`None`: removed).
fn rewrite(data: &[u8], name: &str, value: Option<&str>) -> Vec<u8> {
    let text = String::from_utf8_lossy(data);
    let mut out = String::new();
    let mut done = false;
    for line in split_lines(text.as_bytes()) {
        let line = String::from_utf8_lossy(&line);
        match key_value(&line) {
            Some((k, _)) if k == name => {
                if let (Some(v), false) = (value, done) {
                    out.push_str(&format!("{name}={v}\n"));
                    done = true;
                }
            }
            Some((k, v)) => out.push_str(&format!("{k}={v}\n")),
            None => {
                out.push_str(line.trim());
                out.push('\n');
            }
        }
    }
    if let (Some(v), false) = (value, done) {
        out.push_str(&format!("{name}={v}\n"));
    }
    out.into_bytes()
}

/// `sysctl` with `-e` when errors are ignored.
fn sysctl(args: &Args) -> Cmd {
    let c = Cmd::new("sysctl");
    if args.ignoreerrors {
        c.flag("-e")
    } else {
        c
    }
}

#[async_trait]
impl Module for Sysctl {
    const NAME: &'static str = "sysctl";
    const COLLECTIONS: &'static [&'static str] = &["ansible.posix", "ansible.builtin"];
    const PATH_ARGS: &'static [&'static str] = &["sysctl_file"];
    type Args = Args;
    type Plan = SysctlPlan;

    fn check_args(args: &Args) -> Result<(), String> {
        if args.state == State::Present && args.value.is_none() {
            return Err("state is present but all of the following are missing: value".into());
        }
        let n = args.name.as_str();
        if n.is_empty() || n.starts_with('-') || n.contains('=') || n.chars().any(char::is_whitespace) {
            return Err(format!("{n:?} is not a sysctl key (empty, `-` first, `=` or white space)"));
        }
        if args.value.as_deref().is_some_and(|v| v.contains(['\n', '\r'])) {
            return Err("`value` contains a line break".into());
        }
        if args.sysctl_file.is_empty() {
            return Err("`sysctl_file` is empty".into());
        }
        Ok(())
    }

    async fn plan(&self, args: &Args, cx: &ModuleCtx<'_>) -> Result<Plan<SysctlPlan>, ModuleError> {
        let name = args.name.as_str();
        let live = cx.exec(Cmd::new("sysctl").flag("-e").flag("-n").operand(name).build()).await?;
        let token = live.stdout_str().trim().to_string();
        let r = edit::read(cx, &args.sysctl_file).await?;
        if r.is_dir() || (r.st.is_some() && r.data.is_none()) {
            return Ok(Plan::Ok(Outcome::failed(format!("{} is not a regular file", args.sysctl_file))));
        }
        let old = r.data.clone().unwrap_or_default();
        let current = file_value(&String::from_utf8_lossy(&old), name);
        let want = args.value.as_deref().map(wanted);
        let present = args.state == State::Present;
        let file_change = match &want {
            Some(w) if present => current.as_deref() != Some(w.as_str()),
            _ => current.is_some(),
        };
        let live_differs =
            present && want.as_deref().is_some_and(|w| !w.split_whitespace().eq(token.split_whitespace()));
        let set = args.sysctl_set && live_differs;
        let changed = file_change || set || (args.reload && live_differs);
        if !changed {
            return Ok(Plan::Ok(Outcome::ok()));
        }
        let mut plan = SysctlPlan { set, write: None, reload: args.reload };
        let mut diffs = Vec::new();
        if file_change {
            let new = rewrite(&old, name, if present { want.as_deref() } else { None });
            if let Plan::Change(ch) = edit::plan(cx, &r, new, "", &Attrs::default(), edit::Registers::Nothing) {
                diffs = ch.diffs;
                plan.write = Some(ch.plan);
            }
        }
        if live_differs && (set || args.reload) && cx.mode.diff == DiffMode::On {
            diffs.push(Diff {
                header: format!("sysctl {name} (running kernel)"),
                before: format!("{token}\n"),
                after: format!("{}\n", want.unwrap_or_default()),
                skipped: Vec::new(),
            });
        }
        let action = if present { Action::Modify } else { Action::Delete };
        let mut ch = Change::new(plan, action, "sysctl", name);
        ch.diffs = diffs;
        Ok(Plan::Change(ch))
    }

    async fn apply(&self, args: &Args, plan: SysctlPlan, cx: &ModuleCtx<'_>) -> Result<Outcome, ModuleError> {
        let name = args.name.as_str();
        if plan.set {
            let want = wanted(args.value.as_deref().unwrap_or_default());
            let out = cx.exec(sysctl(args).flag("-w").operand(format!("{name}={want}")).build()).await?;
            if out.rc != 0 {
                return Ok(Outcome::failed(format!("setting {name} failed: {}", out.stderr_str())));
            }
        }
        if let Some(w) = plan.write {
            let done = edit::apply(cx, w, &Attrs::default(), false, None).await?;
            if done.failed {
                return Ok(done);
            }
        }
        if plan.reload {
            let out = cx.exec(sysctl(args).flag("-p").operand(&args.sysctl_file).build()).await?;
            if out.rc != 0 {
                let msg = format!("Failed to reload sysctl: {}{}", out.stdout_str(), out.stderr_str());
                return Ok(Outcome::failed(msg));
            }
        }
        Ok(Outcome { changed: true, ..Outcome::ok() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;
    use prov_core::module::args_from_value;
    use prov_core::testutil::{FakeConnection, TestHost};
    use serde_json::json;

    const FILE: &str = "/t/sysctl.conf";

    fn file(data: &str) -> String {
        format!("real {FILE}\0stat 81a4 644 0 0 {} 10 11 12 1 root root\naccess rw\ncontent\n{data}", data.len())
    }

    fn host(live: &str, data: &str) -> TestHost {
        fake(FakeConnection::new().on("sysctl -e -n", 0, live).on("R=$(readlink", 0, &file(data)))
    }

    fn written(h: &TestHost) -> Option<String> {
        let files = h.conn.files.lock().unwrap();
        files.get(FILE).map(|f| String::from_utf8(f.0.clone()).unwrap())
    }

    fn writes(h: &TestHost) -> Vec<String> {
        h.conn.calls().into_iter().filter(|c| !c.starts_with("R=") && !c.starts_with("chown")).skip(1).collect()
    }

    // The expected texts are what ansible.posix.sysctl (ansible 12.3) wrote for the same files.
    #[test]
    fn a_change_rewrites_every_line_trimmed_and_keeps_the_first_line_of_the_key() {
        let before = "# c\nkernel.domainname = prov1\na.b = c   d\tq\n garbage line\n-x.y = 1\nk.v=1 # trailing\nkernel/hostname = h\nkernel.domainname=dup\n\t\n";
        let after = rewrite(before.as_bytes(), "kernel.domainname", Some("prov2"));
        assert_eq!(
            String::from_utf8(after).unwrap(),
            "# c\nkernel.domainname=prov2\na.b=c   d\tq\ngarbage line\n-x.y=1\nk.v=1 # trailing\nkernel/hostname=h\n\n"
        );
        let before = "  c.d=2  \nx.y=1\n #c\nx.y =3";
        assert_eq!(String::from_utf8(rewrite(before.as_bytes(), "x.y", None)).unwrap(), "c.d=2\n#c\n");
        assert_eq!(String::from_utf8(rewrite(b"=noval\nnoeq", "a", Some("1"))).unwrap(), "=noval\nnoeq\na=1\n");
    }

    #[test]
    fn the_file_value_is_the_last_line_of_the_key_and_booleans_are_written_as_numbers() {
        assert_eq!(file_value("a.b=1\na.b = 2\n; a.b=3\n", "a.b").as_deref(), Some("2"));
        assert_eq!(file_value("kernel/a = 1\n", "kernel.a"), None, "no normalisation of `/`");
        for (v, w) in [("yes", "1"), ("On", "1"), ("True", "1"), ("t", "1"), ("no", "0"), ("off", "0"), ("1.0", "1.0")]
        {
            assert_eq!(wanted(v), w, "{v}");
        }
        assert_eq!(wanted("  sp  "), "sp");
    }

    #[tokio::test]
    async fn a_new_value_is_written_and_reloaded() {
        let h = host("old\n", "# c\nkernel.domainname = old\n");
        let a = json!({"name": "kernel.domainname", "value": "new", "sysctl_file": FILE});
        let o = run::<Sysctl>(a, &h.ctx()).await;
        assert!(o.changed && !o.failed, "{o:?}");
        assert_eq!(written(&h).as_deref(), Some("# c\nkernel.domainname=new\n"));
        assert_eq!(writes(&h), ["put /t/sysctl.conf", "sysctl -p -- /t/sysctl.conf"]);
        assert!(o.data.is_empty(), "Ansible registers nothing else: {:?}", o.data);
    }

    #[tokio::test]
    async fn the_right_value_in_the_file_and_the_kernel_changes_nothing() {
        let h = host("4096\t87380\t6291456\n", "  net.ipv4.tcp_rmem = 4096  87380 6291456  \nx = 1");
        let a = json!({"name": "net.ipv4.tcp_rmem", "value": "4096  87380 6291456", "sysctl_file": FILE, "sysctl_set": true});
        let o = run::<Sysctl>(a, &h.ctx()).await;
        assert!(!o.changed && !o.failed, "{o:?}");
        assert!(writes(&h).is_empty() && written(&h).is_none(), "{:?}", h.conn.calls());
    }

    #[tokio::test]
    async fn a_differing_running_value_is_reloaded_or_set_but_not_with_reload_off() {
        let h = host("other\n", "k.d=zz\n");
        let a = json!({"name": "k.d", "value": "zz", "sysctl_file": FILE});
        assert!(run::<Sysctl>(a, &h.ctx()).await.changed);
        assert_eq!(writes(&h), ["sysctl -p -- /t/sysctl.conf"]);
        let h = host("other\n", "k.d=zz\n");
        let a = json!({"name": "k.d", "value": "zz", "sysctl_file": FILE, "reload": false});
        assert!(!run::<Sysctl>(a, &h.ctx()).await.changed);
        let h = host("other\n", "k.d=zz\n");
        let a = json!({"name": "k.d", "value": "zz", "sysctl_file": FILE, "reload": "no", "sysctl_set": true, "ignoreerrors": true});
        assert!(run::<Sysctl>(a, &h.ctx()).await.changed);
        assert_eq!(writes(&h), ["sysctl -e -w -- k.d=zz"]);
    }

    #[tokio::test]
    async fn failures_report_what_sysctl_said() {
        let h = fake(
            FakeConnection::new()
                .on("sysctl -e -n", 0, "")
                .on("R=$(readlink", 0, &file(""))
                .on("sysctl -w", 255, "")
                .on("sysctl -p", 255, "a = 1\n"),
        );
        let a = json!({"name": "no.such", "value": "1", "sysctl_file": FILE, "sysctl_set": true});
        let o = run::<Sysctl>(a, &h.ctx()).await;
        assert!(o.failed && !o.changed && o.msg.as_deref() == Some("setting no.such failed: "), "{o:?}");
        assert!(written(&h).is_none(), "nothing written after a failed set");
        let a = json!({"name": "no.such", "value": "1", "sysctl_file": FILE});
        let o = run::<Sysctl>(a, &h.ctx()).await;
        assert_eq!(o.msg.as_deref(), Some("Failed to reload sysctl: a = 1\n"));
        assert_eq!(written(&h).as_deref(), Some("no.such=1\n"), "the file stays written");
    }

    #[tokio::test]
    async fn absent_removes_every_line_of_the_key_and_check_mode_only_reads() {
        let h = host("1\n", "a=1\nk.d = 2\nk.d=3\n");
        let o = run::<Sysctl>(json!({"name": "k.d", "state": "absent", "sysctl_file": FILE}), &h.ctx()).await;
        assert!(o.changed);
        assert_eq!(written(&h).as_deref(), Some("a=1\n"));
        let h = host("1\n", "a=1\n");
        let o = run::<Sysctl>(json!({"name": "k.d", "state": "absent", "sysctl_file": FILE}), &h.ctx()).await;
        assert!(!o.changed);
        let h = fake_check(FakeConnection::new().on("sysctl -e -n", 0, "0\n").on("R=$(readlink", 0, &file("")));
        let a = json!({"name": "k.d", "value": "1", "sysctl_file": FILE, "sysctl_set": true});
        let o = run::<Sysctl>(a, &h.ctx()).await;
        assert!(o.changed);
        assert!(writes(&h).is_empty(), "{:?}", h.conn.calls());
        assert!(o.diffs.iter().any(|d| d.after == "k.d=1\n"), "{:?}", o.diffs);
    }

    #[test]
    fn arguments_ansible_refuses_are_refused_before_connecting() {
        let check = |v: serde_json::Value| args_from_value::<Args>(&j(v)).and_then(|a| Sysctl::check_args(&a));
        assert_eq!(
            check(json!({"name": "a.b"})).unwrap_err(),
            "state is present but all of the following are missing: value"
        );
        assert!(check(json!({"key": "a.b", "val": 1})).is_ok());
        assert!(check(json!({"name": "a.b", "state": "absent"})).is_ok());
        assert!(check(json!({"name": "a.b", "value": 1, "state": "gone"})).unwrap_err().contains("unknown variant"));
        assert!(check(json!({"name": "a.b", "value": 1, "nope": 1})).unwrap_err().contains("unknown field"));
        for bad in ["-w", "a b", "a=b", ""] {
            assert!(check(json!({"name": bad, "value": 1})).is_err(), "{bad:?}");
        }
    }
}
