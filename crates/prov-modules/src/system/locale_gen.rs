//! `locale_gen` (community.general): makes locales available or not on Debian and Ubuntu, as
//! community.general's module does with glibc's mechanism: the locale's line of
//! `/etc/locale.gen` is uncommented (or commented out), then `locale-gen` runs.
//!
//! Arguments (as in Ansible): `name` (required; one locale such as `en_GB.UTF-8`, or a list),
//! `state` (`present`, `absent`).
//!
//! As community.general: each locale must be listed in `/usr/share/i18n/SUPPORTED` or already
//! be in `locale -a` (compared with `.utf8` read as `.UTF-8`, and the like); the locales are
//! "present" when all of them are in `locale -a`, and nothing is done when that is already what
//! `state` asks (so `absent` of a list with one locale missing changes nothing); `changed` says
//! whether that answer differs after the change. In check mode nothing is done and `changed`
//! is false, as community.general reports it. Registers `name`, `mechanism` (`glibc`) and
//! `ubuntu_mode` (false). Hosts with only `/var/lib/locales/supported.d` (the Ubuntu mechanism
//! community.general deprecates) fail the task.
//!
//! ```yaml
//! - community.general.locale_gen:
//!     name: en_GB.UTF-8
//! ```

use crate::util::{or_fail, rewrite_file, section};
use async_trait::async_trait;
use minijinja::Value;
use prov_core::args::StringList;
use prov_core::cmd::{Cmd, Sh};
use prov_core::module::{Action, Change, Module, ModuleCtx, ModuleError, Outcome, Plan};
use serde::Deserialize;

fn present() -> String {
    "present".into()
}

/// Arguments of `locale_gen`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    /// Locales, with their encoding.
    pub name: StringList,
    /// `present` or `absent`.
    #[serde(default = "present")]
    pub state: String,
}

/// The `locale_gen` module.
#[derive(Debug, Default)]
pub struct LocaleGen;

const GEN: &str = "/etc/locale.gen";

/// The mechanism, the supported locales and `locale -a`, in one command.
const PROBE: &str = r#"if [ -e /etc/locale.gen ]; then echo glibc; elif [ -e /var/lib/locales/supported.d ]; then echo ubuntu_legacy; else echo none; fi
printf '%s\n' '--supported--'; cat /usr/share/i18n/SUPPORTED 2>/dev/null
printf '%s\n' '--locales--'; LC_ALL=C locale -a
printf '%s\n' '--end--'"#;

/// community.general's `LOCALE_NORMALIZATION`: `locale -a` may spell an encoding in lower case.
fn fix_case(name: &str) -> String {
    const PAIRS: &[(&str, &str)] = &[
        (".utf8", ".UTF-8"),
        (".eucjp", ".EUC-JP"),
        (".iso885915", ".ISO-8859-15"),
        (".cp1251", ".CP1251"),
        (".koi8r", ".KOI8-R"),
        (".armscii8", ".ARMSCII-8"),
        (".euckr", ".EUC-KR"),
        (".gbk", ".GBK"),
        (".gb18030", ".GB18030"),
        (".euctw", ".EUC-TW"),
    ];
    PAIRS.iter().fold(name.to_string(), |n, (s, r)| n.replace(s, r))
}

/// The locales of `names` that `locale -a` does not list.
fn not_present<'a>(names: &'a [String], listed: &str) -> Vec<&'a String> {
    names.iter().filter(|n| !listed.lines().any(|l| fix_case(n) == fix_case(l))).collect()
}

/// The locale of a SUPPORTED line: `^\s*#?\s*(\S+[\._\S]+) (\S+)\s*$`.
fn supported_locale(line: &str) -> Option<&str> {
    let rest = line.trim_start().strip_prefix('#').unwrap_or(line.trim_start()).trim_start();
    let (locale, charset) = rest.split_once(' ')?;
    let charset = charset.trim_end();
    let ok = locale.chars().count() >= 2
        && !locale.contains(char::is_whitespace)
        && !charset.is_empty()
        && !charset.contains(char::is_whitespace);
    ok.then_some(locale)
}

/// `set_locale_glibc`: each line `#? NAME CHARSET` becomes `NAME CHARSET` (or `# NAME CHARSET`).
fn set_lines(text: &str, names: &[String], enabled: bool) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    for line in text.split_inclusive('\n') {
        let (body, end) = match line.strip_suffix('\n') {
            Some(b) => (b, "\n"),
            None => (line, ""),
        };
        let mut body = body.to_string();
        for name in names {
            let rest = body.strip_prefix('#').unwrap_or(&body);
            let rest = rest.trim_start();
            if let Some(charset) = rest.strip_prefix(name.as_str()).and_then(|r| r.strip_prefix(' ')) {
                if !charset.is_empty() {
                    body = if enabled { format!("{name} {charset}") } else { format!("# {name} {charset}") };
                }
            }
        }
        out.push_str(&body);
        out.push_str(end);
    }
    out
}

struct Probe {
    mechanism: String,
    supported: String,
    locales: String,
}

fn parse(out: &str) -> Probe {
    Probe {
        mechanism: out.lines().next().unwrap_or_default().to_string(),
        supported: section(out, "supported").unwrap_or_default().to_string(),
        locales: section(out, "locales").unwrap_or_default().to_string(),
    }
}

fn outcome(a: &Args, changed: bool) -> Outcome {
    Outcome { changed, ..Outcome::ok() }
        .with("name", a.name.0.clone())
        .with("ubuntu_mode", false)
        .with("mechanism", "glibc")
}

/// ModuleHelper's failure: the message, the module's variables so far (`output` and `vars`
/// hold them again).
fn raised(msg: String, vars: Vec<(&str, Value)>) -> Outcome {
    let map = Value::from_pairs(vars.iter().map(|(k, v)| (k.to_string(), v.clone())).collect::<Vec<_>>());
    let mut o = Outcome::failed(msg).with("output", map.clone()).with("vars", map);
    for (k, v) in vars {
        o = o.with(k, v);
    }
    o
}

impl LocaleGen {
    async fn probe(a: &Args, cx: &ModuleCtx<'_>) -> Result<Result<Probe, Outcome>, ModuleError> {
        let out = cx.exec(Sh::lit(PROBE)).await?;
        let p = parse(&out.stdout_str());
        let name = ("name", Value::from(a.name.0.clone()));
        match p.mechanism.as_str() {
            "glibc" => {}
            "ubuntu_legacy" => {
                return Ok(Err(Outcome::failed(
                    "locale_gen: this host has only /var/lib/locales/supported.d (the Ubuntu mechanism community.general deprecates), which prov does not handle",
                )))
            }
            _ => {
                return Ok(Err(raised(
                    format!(
                        "/var/lib/locales/supported.d and {GEN} are missing. Is the package \"locales\" installed?"
                    ),
                    vec![name],
                )))
            }
        }
        if out.rc != 0 {
            return Ok(Err(Outcome::failed(out.stderr_str().trim().to_string()).with_exec(&out)));
        }
        Ok(Ok(p))
    }
}

#[async_trait]
impl Module for LocaleGen {
    const NAME: &'static str = "locale_gen";
    const COLLECTIONS: &'static [&'static str] = &["community.general", "ansible.builtin"];
    type Args = Args;
    /// Whether the locales were present when planned.
    type Plan = bool;

    fn check_args(a: &Args) -> Result<(), String> {
        if a.state != "present" && a.state != "absent" {
            return Err(format!("value of state must be one of: absent, present, got: {}", a.state));
        }
        Ok(())
    }

    async fn plan(&self, a: &Args, cx: &ModuleCtx<'_>) -> Result<Plan<bool>, ModuleError> {
        let p = or_fail!(Self::probe(a, cx).await, Plan::Ok);
        let unsupported: Vec<String> = a
            .name
            .0
            .iter()
            .filter(|n| !p.supported.lines().any(|l| supported_locale(l) == Some(n.as_str())))
            .cloned()
            .collect();
        let missing = not_present(&unsupported, &p.locales);
        if !missing.is_empty() {
            let names: Vec<&str> = missing.iter().map(|s| s.as_str()).collect();
            return Ok(Plan::Ok(raised(
                format!(
                    "The following locales you have entered are not available on your system: {}",
                    names.join(", ")
                ),
                vec![
                    ("name", Value::from(a.name.0.clone())),
                    ("ubuntu_mode", Value::from(false)),
                    ("mechanism", Value::from("glibc")),
                ],
            )));
        }
        let is_present = not_present(&a.name.0, &p.locales).is_empty();
        if is_present == (a.state == "present") || cx.is_check() {
            // community.general skips the change in check mode and then finds nothing changed.
            return Ok(Plan::Ok(outcome(a, false)));
        }
        let action = if a.state == "present" { Action::Create } else { Action::Delete };
        Ok(Plan::Change(Change::new(is_present, action, "locale", a.name.0.join(", "))))
    }

    async fn apply(&self, a: &Args, was: bool, cx: &ModuleCtx<'_>) -> Result<Outcome, ModuleError> {
        let enabled = a.state == "present";
        or_fail!(rewrite_file(cx, GEN, |old| set_lines(old, &a.name.0, enabled)).await);
        let out = cx.exec(Cmd::new("locale-gen").build()).await?;
        if out.rc != 0 {
            return Ok(Outcome::failed(out.stderr_str().trim().to_string()).with_exec(&out));
        }
        let after = or_fail!(Self::probe(a, cx).await);
        let now = not_present(&a.name.0, &after.locales).is_empty();
        Ok(outcome(a, was != now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locale_gen_lines_are_switched_as_community_general_does() {
        let text = "# fr_FR ISO-8859-1\n# fr_FR.UTF-8 UTF-8\nde_DE.UTF-8 UTF-8\n#  fr_FR.UTF-8@euro UTF-8";
        let names = vec!["fr_FR.UTF-8".to_string(), "de_DE.UTF-8".to_string()];
        assert_eq!(
            set_lines(text, &names, true),
            "# fr_FR ISO-8859-1\nfr_FR.UTF-8 UTF-8\nde_DE.UTF-8 UTF-8\n#  fr_FR.UTF-8@euro UTF-8"
        );
        assert_eq!(
            set_lines(text, &names, false),
            "# fr_FR ISO-8859-1\n# fr_FR.UTF-8 UTF-8\n# de_DE.UTF-8 UTF-8\n#  fr_FR.UTF-8@euro UTF-8"
        );
        assert_eq!(fix_case("de_DE.utf8"), "de_DE.UTF-8");
        assert_eq!(supported_locale("fr_FR.UTF-8 UTF-8"), Some("fr_FR.UTF-8"));
        assert_eq!(supported_locale("# a b c"), None);
    }
}
