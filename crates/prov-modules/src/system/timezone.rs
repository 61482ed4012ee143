//! `timezone` (community.general): sets the system time zone and whether the hardware clock
//! keeps local time or UTC, as community.general's module does on Linux.
//!
//! Arguments (as in Ansible): `name` (a zone of /usr/share/zoneinfo, such as `Europe/Paris`),
//! `hwclock` (alias `rtc`: `local` or `UTC`); one of them is required. Where `timedatectl`
//! answers (systemd), it reads `timedatectl status` and runs `timedatectl set-timezone` and
//! `set-local-rtc`. Elsewhere it edits the zone file (`/etc/timezone` where `dpkg-reconfigure`
//! exists, then links /etc/localtime and runs `dpkg-reconfigure tzdata`; `/etc/sysconfig/clock`
//! otherwise, then copies the zone file over /etc/localtime) and, for `hwclock`,
//! `/etc/default/rcS` or `/etc/sysconfig/clock` and `hwclock --systohc`. Registers `diff`
//! (`before` and `after` of each argument given) and `msg` (the lines edited and the commands
//! logged), as community.general does. Alpine, Gentoo and the BSDs are not handled yet (the task
//! fails). A zone name with a `..` component is refused.
//!
//! ```yaml
//! - community.general.timezone: { name: Europe/Paris }
//! ```

use crate::util::{or_fail, path_test, section, which, write_file};
use async_trait::async_trait;
use minijinja::Value;
use prov_core::cmd::{Cmd, Sh};
use prov_core::module::{Action, Change, Module, ModuleCtx, ModuleError, Outcome, Plan};
use serde::Deserialize;

/// Arguments of `timezone`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    /// The time zone.
    #[serde(default)]
    pub name: Option<String>,
    /// `local` or `UTC`.
    #[serde(default, alias = "rtc")]
    pub hwclock: Option<String>,
}

impl Args {
    /// The arguments given, in the module's order (`hwclock`, then `name`).
    fn planned(&self) -> Vec<(&'static str, String)> {
        let mut v = Vec::new();
        if let Some(h) = &self.hwclock {
            v.push(("hwclock", h.clone()));
        }
        if let Some(n) = &self.name {
            v.push(("name", n.clone()));
        }
        v
    }
}

/// The `timezone` module.
#[derive(Debug, Default)]
pub struct Timezone;

/// How the host keeps its zone.
#[derive(Debug, Clone, PartialEq)]
enum Backend {
    /// `timedatectl` answers.
    Systemd,
    /// Debian without systemd: /etc/timezone, /etc/default/rcS.
    Debian,
    /// /etc/sysconfig/clock (`ZONE=` or SuSE's `TIMEZONE=`).
    Sysconfig { suse: bool },
}

/// What one command reads of the host: which backend, and the files and status it needs.
const PROBE: &str = r#"export LC_ALL=C
if command -v timedatectl >/dev/null 2>&1 && timedatectl >/dev/null 2>&1; then echo backend=systemd; timedatectl status; exit 0; fi
if command -v dpkg-reconfigure >/dev/null 2>&1; then echo backend=debian; f=/etc/timezone; h=/etc/default/rcS
elif [ -f /etc/alpine-release ] || [ -f /etc/gentoo-release ]; then echo backend=other; exit 0
else echo backend=sysconfig; f=/etc/sysconfig/clock; h=/etc/sysconfig/clock; fi
printf '%s\n' '--zone--'; cat "$f" 2>/dev/null
printf '%s\n' '--rcs--'; cat "$h" 2>/dev/null
printf '%s\n' '--adjtime--'; cat /etc/adjtime 2>/dev/null
printf '%s\n' '--link--'; if [ -L /etc/localtime ]; then if [ -e /etc/localtime ]; then readlink /etc/localtime; else echo dangling; fi; else echo notlink; fi
printf '%s\n' '--end--'"#;

struct Probe {
    backend: Backend,
    status: String,
    zone: Option<String>,
    rcs: Option<String>,
    adjtime: Option<String>,
    link: String,
}

fn parse_probe(out: &str) -> Result<Probe, String> {
    let first = out.lines().next().unwrap_or_default();
    let text = |n: &str| section(out, n).map(str::to_string).filter(|s| !s.is_empty());
    let backend = match first {
        "backend=systemd" => Backend::Systemd,
        "backend=debian" => Backend::Debian,
        "backend=sysconfig" => {
            let suse =
                text("zone").is_some_and(|z| z.lines().any(|l| l.trim_start_matches(' ').starts_with("TIMEZONE")));
            Backend::Sysconfig { suse }
        }
        _ => return Err("timezone: prov does not set the time zone of this system yet (Alpine, Gentoo)".into()),
    };
    Ok(Probe {
        backend,
        status: out.lines().skip(1).collect::<Vec<_>>().join("\n"),
        zone: text("zone"),
        rcs: text("rcs"),
        adjtime: text("adjtime"),
        link: section(out, "link").unwrap_or_default().trim().to_string(),
    })
}

/// Python's `bool()` reading of a config value, as AnsibleModule.boolean does.
fn truthy(v: &str) -> bool {
    prov_core::args::parse_bool(v).unwrap_or(false)
}

/// The zone line regex of a backend: `^([^\s]+)`, `^ZONE\s*=\s*"?([^"\s]+)"?`, `^TIMEZONE...`.
fn zone_value(b: &Backend, line: &str) -> Option<String> {
    match b {
        Backend::Debian => {
            let v: String = line.chars().take_while(|c| !c.is_whitespace()).collect();
            (!v.is_empty()).then_some(v)
        }
        Backend::Sysconfig { suse } => {
            let key = if *suse { "TIMEZONE" } else { "ZONE" };
            let rest = line.strip_prefix(key)?.trim_start();
            let rest = rest.strip_prefix('=')?.trim_start();
            let rest = rest.strip_prefix('"').unwrap_or(rest);
            let v: String = rest.chars().take_while(|c| *c != '"' && !c.is_whitespace()).collect();
            (!v.is_empty()).then_some(v)
        }
        Backend::Systemd => None,
    }
}

fn hwclock_value(line: &str) -> Option<String> {
    let rest = line.strip_prefix("UTC")?.trim_start().strip_prefix('=')?.trim_start();
    let v: String = rest.chars().take_while(|c| !c.is_whitespace()).collect();
    (!v.is_empty()).then_some(v)
}

/// The current value of `key` as community.general reads it (see its `get`).
fn current(p: &Probe, key: &str, planned: &str) -> String {
    match (&p.backend, key) {
        (Backend::Systemd, "name") => {
            status_field(&p.status, &["Time zone", "Timezone"]).unwrap_or_else(|| "n/a".into())
        }
        (Backend::Systemd, _) => match status_field(&p.status, &["RTC in local TZ"]) {
            Some(v) if truthy(&v) => "local".into(),
            _ => "UTC".into(),
        },
        (b, "name") => {
            let value = p
                .zone
                .as_deref()
                .and_then(|z| z.lines().find_map(|l| zone_value(b, l)))
                .unwrap_or_else(|| "n/a".into());
            if value != planned {
                return value;
            }
            match p.link.as_str() {
                "dangling" => "n/a".into(),
                "notlink" => value,
                target => match ["/usr/share/zoneinfo/", "/etc/zoneinfo/"]
                    .iter()
                    .find_map(|m| target.find(m).map(|i| &target[i + m.len()..]))
                {
                    Some(linked) if linked != planned => linked.to_string(),
                    Some(_) => value,
                    None => "n/a".into(),
                },
            }
        }
        (_, _) => {
            let value = match p.rcs.as_deref().and_then(|r| r.lines().find_map(hwclock_value)) {
                Some(v) if truthy(&v) => "UTC".to_string(),
                Some(_) => "local".to_string(),
                None => "n/a".to_string(),
            };
            if value != planned {
                return value;
            }
            match p.adjtime.as_deref().and_then(|a| a.lines().find(|l| *l == "UTC" || *l == "LOCAL")) {
                Some("LOCAL") => "local".into(),
                _ => "UTC".into(),
            }
        }
    }
}

/// A field of `timedatectl status` (`Time zone: Europe/Paris (CET, +0100)` → `Europe/Paris`).
fn status_field(status: &str, names: &[&str]) -> Option<String> {
    status.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        names.contains(&k.trim()).then(|| v.split_whitespace().next().unwrap_or_default().to_string())
    })
}

/// community.general's `_edit_file`: the lines matching are removed and `value` goes where the
/// first was (or first). The new text and how many lines were deleted.
fn edit_lines(old: &str, matches: impl Fn(&str) -> bool, value: &str) -> (String, usize) {
    let mut lines: Vec<&str> = old.split_inclusive('\n').collect();
    let hits: Vec<usize> = lines.iter().enumerate().filter(|(_, l)| matches(l)).map(|(i, _)| i).collect();
    let at = hits.first().copied().unwrap_or(0);
    for i in hits.iter().rev() {
        lines.remove(*i);
    }
    lines.insert(at, value);
    (lines.concat(), hits.len())
}

fn diff_of(planned: &[(&'static str, String)], before: &[String], after: &[String]) -> Value {
    let side = |vals: &[String]| {
        Value::from_pairs(
            planned
                .iter()
                .zip(vals)
                .map(|((k, _), v)| (k.to_string(), Value::from(v.as_str())))
                .collect::<Vec<(String, Value)>>(),
        )
    };
    Value::from_pairs(vec![("before".to_string(), side(before)), ("after".to_string(), side(after))])
}

impl Timezone {
    async fn probe(cx: &ModuleCtx<'_>) -> Result<Result<Probe, String>, ModuleError> {
        let out = cx.exec(Sh::lit(PROBE)).await?;
        Ok(parse_probe(&out.stdout_str()))
    }

    /// The zone file's path, failing as community.general does when it is missing.
    async fn zone_file(cx: &ModuleCtx<'_>, tz: &str) -> Result<Result<String, Outcome>, ModuleError> {
        let file = format!("/usr/share/zoneinfo/{tz}");
        if !path_test(cx, "-f", &file).await? {
            return Ok(Err(Outcome::failed(format!("Error message:\ngiven timezone \"{tz}\" is not available"))));
        }
        Ok(Ok(file))
    }

    /// Runs a command as community.general's `execute` does (a failure ends the task).
    async fn run(cx: &ModuleCtx<'_>, cmd: Sh) -> Result<Result<(), Outcome>, ModuleError> {
        let out = cx.exec(cmd).await?;
        if out.rc != 0 {
            let msg = out.stderr_str().trim().to_string();
            return Ok(Err(
                Outcome::failed(if msg.is_empty() { out.stdout_str().trim().to_string() } else { msg }).with_exec(&out)
            ));
        }
        Ok(Ok(()))
    }
}

#[async_trait]
impl Module for Timezone {
    const NAME: &'static str = "timezone";
    const COLLECTIONS: &'static [&'static str] = &["community.general", "ansible.builtin"];
    type Args = Args;
    type Plan = ();

    fn check_args(a: &Args) -> Result<(), String> {
        if a.name.is_none() && a.hwclock.is_none() {
            return Err("one of the following is required: hwclock, name".into());
        }
        if let Some(h) = &a.hwclock {
            if h != "local" && h != "UTC" {
                return Err(format!("value of hwclock must be one of: local, UTC, got: {h}"));
            }
        }
        if let Some(n) = &a.name {
            if n.split('/').any(|p| p == "..") || n.starts_with('/') || n.starts_with('-') || n.contains('\0') {
                return Err(format!("name `{n}`: a zone is a path under /usr/share/zoneinfo"));
            }
        }
        Ok(())
    }

    async fn plan(&self, a: &Args, cx: &ModuleCtx<'_>) -> Result<Plan<()>, ModuleError> {
        let p = match Self::probe(cx).await? {
            Ok(p) => p,
            Err(e) => return Ok(Plan::Ok(Outcome::failed(e))),
        };
        if let Some(tz) = &a.name {
            if let Err(o) = Self::zone_file(cx, tz).await? {
                return Ok(Plan::Ok(o));
            }
        }
        let planned = a.planned();
        let before: Vec<String> = planned.iter().map(|(k, v)| current(&p, k, v)).collect();
        let wanted: Vec<String> = planned.iter().map(|(_, v)| v.clone()).collect();
        let diff = diff_of(&planned, &before, &wanted);
        if before == wanted {
            return Ok(Plan::Ok(Outcome::ok().with("diff", diff)));
        }
        let ch = Change::new((), Action::Modify, "timezone", a.name.clone().or(a.hwclock.clone()).unwrap_or_default());
        Ok(Plan::Change(ch.with_data("diff", diff)))
    }

    async fn apply(&self, a: &Args, _: (), cx: &ModuleCtx<'_>) -> Result<Outcome, ModuleError> {
        let p = match Self::probe(cx).await? {
            Ok(p) => p,
            Err(e) => return Ok(Outcome::failed(e)),
        };
        let planned = a.planned();
        let before: Vec<String> = planned.iter().map(|(k, v)| current(&p, k, v)).collect();
        let mut msgs: Vec<String> = Vec::new();
        for ((key, value), was) in planned.iter().zip(&before) {
            if was == value {
                continue;
            }
            match (&p.backend, *key) {
                (Backend::Systemd, _) => {
                    let (sub, arg) = if *key == "name" {
                        ("set-timezone", value.clone())
                    } else {
                        ("set-local-rtc", if value == "local" { "yes".into() } else { "no".into() })
                    };
                    let c = match sub {
                        "set-timezone" => Cmd::new("timedatectl").flag("set-timezone").operand(&arg).build(),
                        _ => Cmd::new("timedatectl").flag("set-local-rtc").operand(&arg).build(),
                    };
                    or_fail!(Self::run(cx, c).await);
                    let path = which(cx, "timedatectl").await?.unwrap_or_default();
                    msgs.push(format!("executed `{path} {sub} {arg}`"));
                }
                (b, "name") => {
                    let file = or_fail!(Self::zone_file(cx, value).await);
                    let (conf, line) = match b {
                        Backend::Debian => ("/etc/timezone", format!("{value}\n")),
                        Backend::Sysconfig { suse: true } => {
                            ("/etc/sysconfig/clock", format!("TIMEZONE=\"{value}\"\n"))
                        }
                        _ => ("/etc/sysconfig/clock", format!("ZONE=\"{value}\"\n")),
                    };
                    let old = p.zone.clone().unwrap_or_default();
                    let (text, deleted) =
                        edit_lines(&old, |l| zone_value(b, l.trim_end_matches('\n')).is_some(), &line);
                    or_fail!(write_file(cx, conf, &text).await);
                    msgs.push(format!("Added 1 line and deleted {deleted} line(s) on {conf}"));
                    if *b == Backend::Debian {
                        or_fail!(
                            Self::run(
                                cx,
                                Cmd::new("ln").flag("-sf").operands([file.as_str(), "/etc/localtime"]).build()
                            )
                            .await
                        );
                        let reconf =
                            Cmd::new("dpkg-reconfigure").opt("--frontend", "noninteractive").operand("tzdata").build();
                        or_fail!(Self::run(cx, reconf).await);
                    } else {
                        let cp = Cmd::new("cp")
                            .flag("--remove-destination")
                            .operands([file.as_str(), "/etc/localtime"])
                            .build();
                        or_fail!(Self::run(cx, cp).await);
                    }
                }
                (b, _) => {
                    let utc = if value == "local" { "no" } else { "yes" };
                    let conf = if *b == Backend::Debian { "/etc/default/rcS" } else { "/etc/sysconfig/clock" };
                    let (text, deleted) = edit_lines(
                        p.rcs.as_deref().unwrap_or_default(),
                        |l| hwclock_value(l.trim_end_matches('\n')).is_some(),
                        &format!("UTC={utc}\n"),
                    );
                    or_fail!(write_file(cx, conf, &text).await);
                    msgs.push(format!("Added 1 line and deleted {deleted} line(s) on {conf}"));
                    let option = if value == "local" { "--localtime" } else { "--utc" };
                    let c = match option {
                        "--localtime" => Cmd::new("hwclock").flag("--systohc").flag("--localtime").build(),
                        _ => Cmd::new("hwclock").flag("--systohc").flag("--utc").build(),
                    };
                    or_fail!(Self::run(cx, c).await);
                    let path = which(cx, "hwclock").await?.unwrap_or_default();
                    msgs.push(format!("executed `{path} --systohc {option}`"));
                }
            }
        }
        let p2 = match Self::probe(cx).await? {
            Ok(p) => p,
            Err(e) => return Ok(Outcome::failed(e)),
        };
        let after: Vec<String> = planned.iter().map(|(k, v)| current(&p2, k, v)).collect();
        let wanted: Vec<String> = planned.iter().map(|(_, v)| v.clone()).collect();
        if after != wanted {
            let show = |vals: &[String]| {
                let items: Vec<String> = planned.iter().zip(vals).map(|((k, _), v)| format!("'{k}': '{v}'")).collect();
                format!("{{{}}}", items.join(", "))
            };
            let mut text = vec![
                "Error message:".to_string(),
                format!(
                    "still not desired state, though changes have made - planned: {}, after: {}",
                    show(&wanted),
                    show(&after)
                ),
            ];
            if !msgs.is_empty() {
                text.push("Other message(s):".into());
                text.extend(msgs);
            }
            return Ok(Outcome::failed(text.join("\n")));
        }
        let mut o = Outcome::ok().with("diff", diff_of(&planned, &before, &after));
        o.changed = before != after;
        if !msgs.is_empty() {
            let m = msgs.join("\n");
            o = o.with("msg", m.as_str());
            o.msg = Some(m);
        }
        Ok(o)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zone_lines_are_replaced_where_the_first_was() {
        let (t, n) =
            edit_lines("Etc/UTC\n", |l| zone_value(&Backend::Debian, l.trim_end()).is_some(), "Europe/Paris\n");
        assert_eq!((t.as_str(), n), ("Europe/Paris\n", 1));
        let b = Backend::Sysconfig { suse: false };
        let (t, n) = edit_lines(
            "# c\nZONE=\"UTC\"\nUTC=true\nZONE=x\n",
            |l| zone_value(&b, l.trim_end()).is_some(),
            "ZONE=\"Asia/Tokyo\"\n",
        );
        assert_eq!((t.as_str(), n), ("# c\nZONE=\"Asia/Tokyo\"\nUTC=true\n", 2));
    }

    #[test]
    fn current_values_are_read_as_community_general_reads_them() {
        let out = "backend=debian\n--zone--\nEurope/Paris\n--rcs--\n--adjtime--\n--link--\n/usr/share/zoneinfo/Etc/UTC\n--end--\n";
        let p = parse_probe(out).expect("probe");
        assert_eq!(current(&p, "name", "Europe/Paris"), "Etc/UTC", "the link wins when the file agrees");
        assert_eq!(current(&p, "name", "Asia/Tokyo"), "Europe/Paris");
        assert_eq!(current(&p, "hwclock", "UTC"), "n/a");
        let s = parse_probe("backend=systemd\n               Local time: Fri\n                Time zone: Europe/Paris (CET, +0100)\n          RTC in local TZ: no\n").expect("probe");
        assert_eq!(current(&s, "name", "x"), "Europe/Paris");
        assert_eq!(current(&s, "hwclock", "x"), "UTC");
    }
}
