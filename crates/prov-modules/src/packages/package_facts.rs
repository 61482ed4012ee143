//! `package_facts`: sets the fact `packages` (also `ansible_facts.packages`): each installed
//! package's name mapped to the list of its installed versions, as ansible-core's module does.
//!
//! Arguments (as in Ansible): `manager` (a list, default `auto`), `strategy` (`first`, the
//! default, or `all`). prov reads dpkg's database (`apt`, with `name`, `version`, `arch`,
//! `category`, `origin` and `source: apt`) with `dpkg-query` and apt's lists, so the target
//! needs no python-apt, and the RPM database (`rpm`, also as `dnf`, `dnf5`, `yum`, `zypper`:
//! `name`, `version`, `release`, `epoch` (`"None"` without one, as ansible-core writes it),
//! `arch`, `source: rpm`) with `rpm -qa`. `auto` tries them in ansible-core's order. The other
//! managers (`apk`, `pacman`, `portage`, `pkg`, `pkg_info`) are refused before the run when
//! asked for by name, and not looked for by `auto`.
//! Reads only: runs in check mode too.
//!
//! ```yaml
//! - package_facts:
//! - debug: msg="docker {{ ansible_facts.packages['docker-ce'][0].version }}"
//!   when: "'docker-ce' in ansible_facts.packages"
//! ```

use crate::util::with_fact;
use async_trait::async_trait;
use indexmap::IndexMap;
use minijinja::Value;
use prov_core::args::StringList;
use prov_core::cmd::Sh;
use prov_core::module::{Module, ModuleCtx, ModuleError, Outcome, Plan};
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};

fn auto() -> StringList {
    StringList(vec!["auto".into()])
}

/// `strategy`.
#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum Strategy {
    /// The first manager that finds packages.
    #[default]
    First,
    /// Every manager.
    All,
}

/// Arguments of `package_facts`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    /// Package managers to ask.
    #[serde(default = "auto")]
    pub manager: StringList,
    /// First or all.
    #[serde(default)]
    pub strategy: Strategy,
}

/// The `package_facts` module.
#[derive(Debug, Default)]
pub struct PackageFacts;

/// The managers ansible-core knows (with their aliases); prov reads `apt`.
const KNOWN: &[&str] = &[
    "apk",
    "apt",
    "pacman",
    "pkg",
    "pkg_info",
    "portage",
    "rpm",
    "dnf",
    "dnf5",
    "yum",
    "zypper",
    "pkg5",
    "pkgng",
    "openbsd_pkg",
];

/// dpkg's installed packages and, after a `--lists--` line, each apt list's packages with the
/// origin of its Release file: `origin<TAB>package<TAB>version` (one pass of awk per list;
/// compressed lists are read with apt's own `apt-helper cat-file`).
const SCRIPT: &str = r#"LC_ALL=C dpkg-query -W -f='${db:Status-Status}\t${Package}\t${Architecture}\t${Version}\t${Section}\n' || exit 3
printf '%s\n' '--arch--'
dpkg --print-architecture
printf '%s\n' '--lists--'
installed=$(LC_ALL=C dpkg-query -W -f='${Package}\t${Version}\n')
for f in /var/lib/apt/lists/*_Packages /var/lib/apt/lists/*_Packages.*; do
  [ -f "$f" ] || continue
  origin=''
  for r in /var/lib/apt/lists/*_InRelease /var/lib/apt/lists/*_Release; do
    [ -f "$r" ] || continue
    p=${r%InRelease}; p=${p%Release}
    case $f in "$p"*) origin=$(sed -n 's/^Origin: //p' "$r" | head -n 1); break ;; esac
  done
  {
    printf '%s\n--\n' "$installed"
    case $f in
      *_Packages) cat -- "$f" ;;
      *) /usr/lib/apt/apt-helper cat-file "$f" 2>/dev/null ;;
    esac
  } | awk -v o="$origin" '!l && $0 == "--" {l = 1; next}
    !l {want[$0] = 1; next}
    /^Package: / {p = substr($0, 10)}
    /^Version: / {v = substr($0, 10)}
    /^Section: / {s = substr($0, 10)}
    /^$/ {if ((p "\t" v) in want) print o "\t" p "\t" v "\t" s; p = ""; v = ""; s = ""}
    END {if ((p "\t" v) in want) print o "\t" p "\t" v "\t" s}'
done"#;

/// The packages of dpkg's database as python-apt shows them: installed ones (not removed, not
/// only configuration files), keyed by name (`name:arch` for another architecture), with the
/// origin of the first apt list that has the installed version ("" when none has it).
fn apt_packages(out: &str) -> BTreeMap<String, Vec<Value>> {
    let (status, rest) = out.split_once("--arch--\n").unwrap_or((out, ""));
    let (arch, lists) = rest.split_once("--lists--\n").unwrap_or((rest, ""));
    let native = arch.trim();
    // (package, version) → (origin, section) of the first list that has it.
    let mut origins: HashMap<(&str, &str), (&str, &str)> = HashMap::new();
    for line in lists.lines() {
        let mut f = line.split('\t');
        if let (Some(o), Some(p), Some(v), s) = (f.next(), f.next(), f.next(), f.next()) {
            origins.entry((p, v)).or_insert((o, s.unwrap_or_default()));
        }
    }
    let mut packages: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for line in status.lines() {
        let f: Vec<&str> = line.split('\t').collect();
        let [state, name, arch, version, section] = f[..] else { continue };
        if matches!(state, "not-installed" | "config-files") || version.is_empty() {
            continue;
        }
        let key = if arch == native || arch == "all" { name.to_string() } else { format!("{name}:{arch}") };
        // python-apt reads the version's record in the first list that has it (its section is
        // the archive's, which may differ from the package's own), else dpkg's.
        let (origin, section) = match origins.get(&(name, version)) {
            Some((o, s)) if !s.is_empty() => (*o, *s),
            Some((o, _)) => (*o, section),
            None => ("", section),
        };
        let details = Value::from_pairs(vec![
            ("name".to_string(), Value::from(key.as_str())),
            ("version".to_string(), Value::from(version)),
            ("arch".to_string(), Value::from(arch)),
            ("category".to_string(), Value::from(section)),
            ("origin".to_string(), Value::from(origin)),
            ("source".to_string(), Value::from("apt")),
        ]);
        packages.entry(key).or_default().push(details);
    }
    packages
}

/// The RPM database as the rpm Python binding shows it (`epoch` is `"None"` without one), in
/// the database's order.
fn rpm_packages(out: &str) -> IndexMap<String, Vec<Value>> {
    let mut packages: IndexMap<String, Vec<Value>> = IndexMap::new();
    for line in out.lines() {
        let f: Vec<&str> = line.split('\t').collect();
        let [name, version, release, epoch, arch] = f[..] else { continue };
        let epoch = if epoch == "(none)" { "None" } else { epoch };
        let details = Value::from_pairs(vec![
            ("name".to_string(), Value::from(name)),
            ("version".to_string(), Value::from(version)),
            ("release".to_string(), Value::from(release)),
            ("epoch".to_string(), Value::from(epoch)),
            ("arch".to_string(), Value::from(arch)),
            ("source".to_string(), Value::from("rpm")),
        ]);
        packages.entry(name.to_string()).or_default().push(details);
    }
    packages
}

/// A manager's name with ansible-core's aliases resolved (`dnf` is `rpm`).
fn canonical_manager(m: &str) -> &str {
    match m {
        "dnf" | "dnf5" | "yum" | "zypper" => "rpm",
        "pkg5" | "pkgng" => "pkg",
        "openbsd_pkg" => "pkg_info",
        other => other,
    }
}

#[async_trait]
impl Module for PackageFacts {
    const NAME: &'static str = "package_facts";
    type Args = Args;
    type Plan = ();

    fn check_args(a: &Args) -> Result<(), String> {
        let unknown: Vec<&str> = a
            .manager
            .0
            .iter()
            .map(String::as_str)
            .filter(|m| m.to_lowercase() != "auto" && !KNOWN.contains(&m.to_lowercase().as_str()))
            .collect();
        if !unknown.is_empty() {
            return Err(format!("Unsupported package managers requested: {}", unknown.join(", ")));
        }
        let unread = a
            .manager
            .0
            .iter()
            .find(|m| m.to_lowercase() != "auto" && !matches!(canonical_manager(&m.to_lowercase()), "apt" | "rpm"));
        if let Some(m) = unread {
            return Err(format!("manager `{m}`: prov reads apt's (dpkg's) and rpm's packages, not this one's yet"));
        }
        Ok(())
    }

    async fn plan(&self, a: &Args, cx: &ModuleCtx<'_>) -> Result<Plan<()>, ModuleError> {
        // ansible-core's order: the managers asked for, `auto` replaced by all it knows.
        let mut managers: Vec<String> = a.manager.0.iter().map(|m| m.to_lowercase()).collect();
        if managers.iter().any(|m| m == "auto") {
            managers.extend(KNOWN.iter().map(|m| m.to_string()));
            managers.retain(|m| m != "auto");
        }
        let mut packages: IndexMap<String, Vec<Value>> = IndexMap::new();
        let mut warnings = Vec::new();
        let mut seen = Vec::new();
        let mut found = 0;
        for m in &managers {
            if a.strategy == Strategy::First && found > 0 {
                break;
            }
            let m = canonical_manager(m);
            if seen.contains(&m) {
                continue;
            }
            seen.push(m);
            let got: Option<Vec<(String, Vec<Value>)>> = match m {
                "apt" => {
                    let out = cx
                        .exec(Sh::lit("command -v dpkg-query >/dev/null 2>&1 || exit 3\n").glued(Sh::lit(SCRIPT)))
                        .await?;
                    (out.rc == 0).then(|| apt_packages(&out.stdout_str()).into_iter().collect())
                }
                "rpm" => {
                    let out = cx
                        .exec(Sh::lit(
                            "command -v rpm >/dev/null 2>&1 || exit 3\nrpm -qa --qf '%{NAME}\\t%{VERSION}\\t%{RELEASE}\\t%{EPOCH}\\t%{ARCH}\\n'",
                        ))
                        .await?;
                    (out.rc == 0).then(|| rpm_packages(&out.stdout_str()).into_iter().collect())
                }
                // The others are not read by prov (refused when asked for by name).
                _ => None,
            };
            let Some(got) = got else { continue };
            if got.is_empty() {
                warnings.push(format!("Found \"{m}\" but no associated packages"));
                continue;
            }
            found += 1;
            for (k, v) in got {
                packages.entry(k).or_default().extend(v);
            }
        }
        if found == 0 {
            let list = managers.iter().map(|m| format!("'{m}'")).collect::<Vec<_>>().join(", ");
            let mut o = Outcome::failed(format!(
                "Could not detect a supported package manager from the following list: [{list}], or the required Python library is not installed. Check warnings for details."
            ));
            for w in warnings {
                o = o.warn(w);
            }
            return Ok(Plan::Ok(o));
        }
        let facts = Value::from_pairs(packages.into_iter().map(|(k, v)| (k, Value::from(v))).collect::<Vec<_>>());
        let mut o = with_fact(Outcome::ok(), "packages", facts);
        for w in warnings {
            o = o.warn(w);
        }
        Ok(Plan::Ok(o))
    }

    async fn apply(&self, _: &Args, _: (), _: &ModuleCtx<'_>) -> Result<Outcome, ModuleError> {
        Ok(Outcome::ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn installed_packages_are_keyed_and_described_as_python_apt_shows_them() {
        let out = "installed\tbash\tamd64\t5.2-1\tshells\n\
config-files\told\tamd64\t1.0\tmisc\n\
installed\tlibc6\ti386\t2.36-9\tlibs\n\
installed\tlibc6\tamd64\t2.36-9\tlibs\n\
installed\ttzdata\tall\t2024a\tlocalization\n\
--arch--\namd64\n--lists--\nDebian\tlibc6\t2.36-9\tlibs\nOther\tlibc6\t2.36-9\tother\n";
        let p = apt_packages(out);
        assert_eq!(p.keys().collect::<Vec<_>>(), ["bash", "libc6", "libc6:i386", "tzdata"]);
        assert_eq!(
            p["libc6"][0].to_string(),
            "{'name': 'libc6', 'version': '2.36-9', 'arch': 'amd64', 'category': 'libs', 'origin': 'Debian', 'source': 'apt'}"
        );
        assert_eq!(p["tzdata"][0].get_attr("origin").map(|v| v.to_string()).ok().as_deref(), Some(""));
    }

    #[test]
    fn rpm_packages_are_described_as_the_rpm_binding_shows_them() {
        let p = rpm_packages("provdep\t0.5\t1\t(none)\tnoarch\nprovep\t3.1\t1\t2\tnoarch\n");
        let json: Vec<String> = p.iter().map(|(k, v)| format!("{k} {}", Value::from(v.clone()))).collect();
        assert_eq!(
            json,
            [
                "provdep [{'name': 'provdep', 'version': '0.5', 'release': '1', 'epoch': 'None', 'arch': 'noarch', 'source': 'rpm'}]",
                "provep [{'name': 'provep', 'version': '3.1', 'release': '1', 'epoch': '2', 'arch': 'noarch', 'source': 'rpm'}]",
            ]
        );
    }
}
