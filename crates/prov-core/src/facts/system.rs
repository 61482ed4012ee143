//! Platform, distribution, date/time, environment, user, service and package manager facts.

use super::{int, Facts, Sections};
use minijinja::Value;

/// `uname`, and the name `getfqdn` would give: the node name resolved to an address and that
/// address back to its names.
pub(super) const PLATFORM: &str = r#"s nodename; uname -n
s system; uname -s
s kernel; uname -r
s kernel_version; uname -v
s machine; uname -m
s userspace_bits; getconf LONG_BIT 2>/dev/null
s fqdn; a=$(getent hosts "$(uname -n)" 2>/dev/null | awk '{print $1; exit}'); [ -n "$a" ] && getent hosts "$a" 2>/dev/null | head -n 1
"#;

pub(super) const DISTRIBUTION: &str = r#"s os_release; cat /etc/os-release 2>/dev/null || cat /usr/lib/os-release 2>/dev/null
s debian_version; cat /etc/debian_version 2>/dev/null
"#;

/// One `date` call for every field (busybox's has no `%N`: the parse then uses 0).
pub(super) const DATE_TIME: &str = r#"s date_time; date +'%s|%N|%Y|%m|%d|%H|%M|%S|%Z|%z|%A|%w|%W'
y=$(date +%Y); date -d "$y-01-01 12:00" +'%Z|%z' 2>/dev/null; date -d "$y-07-01 12:00" +'%Z|%z' 2>/dev/null
"#;

/// The environment of the command, NUL-separated so that values may hold line breaks.
pub(super) const ENV: &str = r#"s env; cat /proc/self/environ 2>/dev/null || env
"#;

pub(super) const USER: &str = r#"s user; u=${LOGNAME:-${USER:-$(id -un)}}; printf '%s\n' "$u"; id -ru; id -u; id -rg; id -g
getent passwd "$u" 2>/dev/null || grep "^$u:" /etc/passwd 2>/dev/null
"#;

/// What Ansible's service manager detection looks at: pid 1's name, `/sbin/init`, and the
/// tools and directories of each init system.
pub(super) const SERVICE_MGR: &str = r#"s service_mgr; c=$(cat /proc/1/comm 2>/dev/null) || c=$(ps -p 1 -o comm 2>/dev/null | tail -n 1); printf 'comm:%s\n' "$c"
[ -L /sbin/init ] && printf 'init:%s\n' "$(readlink /sbin/init)"
for b in systemctl initctl; do command -v "$b" >/dev/null 2>&1 && printf 'bin:%s\n' "$b"; done
for p in /run/systemd/system/ /dev/.run/systemd/ /dev/.systemd/ /etc/init/ /sbin/openrc /etc/init.d/ /etc/dinit.d/; do [ -e "$p" ] && printf 'path:%s\n' "$p"; done
"#;

/// The package manager binaries Ansible looks for, in its order (the last one present wins).
const PKG_MGRS: &[(&str, &str)] = &[
    ("/usr/bin/rpm-ostree", "atomic_container"),
    ("/usr/bin/yum", "dnf"),
    ("/usr/bin/dnf-3", "dnf"),
    ("/usr/bin/dnf5", "dnf5"),
    ("/usr/bin/apt-get", "apt"),
    ("/usr/bin/zypper", "zypper"),
    ("/usr/sbin/urpmi", "urpmi"),
    ("/usr/bin/pacman", "pacman"),
    ("/bin/opkg", "opkg"),
    ("/usr/pkg/bin/pkgin", "pkgin"),
    ("/opt/local/bin/pkgin", "pkgin"),
    ("/opt/tools/bin/pkgin", "pkgin"),
    ("/opt/local/bin/port", "macports"),
    ("/usr/local/bin/brew", "homebrew"),
    ("/opt/homebrew/bin/brew", "homebrew"),
    ("/sbin/apk", "apk"),
    ("/usr/sbin/pkg", "pkgng"),
    ("/usr/sbin/swlist", "swdepot"),
    ("/usr/bin/emerge", "portage"),
    ("/usr/sbin/pkgadd", "svr4pkg"),
    ("/usr/bin/pkg", "pkg5"),
    ("/usr/bin/xbps-install", "xbps"),
    ("/usr/local/sbin/pkg", "pkgng"),
    ("/usr/bin/swupd", "swupd"),
    ("/usr/sbin/sorcery", "sorcery"),
    ("/usr/bin/installp", "installp"),
];

pub(super) const PKG_MGR: &str = r#"s pkg_mgr; for p in /usr/bin/rpm-ostree /usr/bin/yum /usr/bin/dnf-3 /usr/bin/dnf5 /usr/bin/apt-get /usr/bin/zypper /usr/sbin/urpmi /usr/bin/pacman /bin/opkg /usr/pkg/bin/pkgin /opt/local/bin/pkgin /opt/tools/bin/pkgin /opt/local/bin/port /usr/local/bin/brew /opt/homebrew/bin/brew /sbin/apk /usr/sbin/pkg /usr/sbin/swlist /usr/bin/emerge /usr/sbin/pkgadd /usr/bin/pkg /usr/bin/xbps-install /usr/local/sbin/pkg /usr/bin/swupd /usr/sbin/sorcery /usr/bin/installp; do [ -e "$p" ] && printf '%s\n' "$p"; done
[ -e /run/ostree-booted ] && echo ostree-booted
for p in /usr/bin/dnf /usr/bin/microdnf; do [ -e "$p" ] && printf 'rh:%s\n' "$(readlink -f "$p")"; done
[ -e /usr/bin/rpm ] && /usr/bin/rpm -q --whatprovides /usr/bin/apt-get >/dev/null 2>&1 && echo apt_rpm
"#;

fn s(v: &str) -> Value {
    Value::from(v.to_string())
}

pub(super) fn platform(sec: &Sections<'_>, f: &mut Facts) {
    let node = sec.line("nodename").trim().to_string();
    let machine = sec.line("machine").trim();
    // Ansible's architecture is the machine, with the 32-bit x86 names as `i386`.
    let arch = match machine {
        "i386" | "i486" | "i586" | "i686" => "i386",
        m => m,
    };
    // `socket.getfqdn`: the first of the address's names with a dot, else its first name.
    let names: Vec<&str> = sec.line("fqdn").split_whitespace().skip(1).collect();
    let fqdn = names.iter().find(|n| n.contains('.')).or(names.first()).map_or(node.clone(), |n| n.to_string());
    f.insert("nodename".into(), s(&node));
    f.insert("hostname".into(), s(node.split('.').next().unwrap_or("")));
    f.insert("domain".into(), s(fqdn.split_once('.').map_or("", |(_, d)| d)));
    f.insert("fqdn".into(), s(&fqdn));
    f.insert("system".into(), s(sec.line("system").trim()));
    f.insert("kernel".into(), s(sec.line("kernel").trim()));
    f.insert("kernel_version".into(), s(sec.line("kernel_version").trim()));
    f.insert("machine".into(), s(machine));
    f.insert("architecture".into(), s(arch));
    f.insert("userspace_architecture".into(), s(arch));
    let bits = sec.line("userspace_bits").trim();
    if !bits.is_empty() {
        f.insert("userspace_bits".into(), s(bits));
    }
}

/// `/etc/os-release` as key → value (quotes removed).
fn os_release(text: &str) -> std::collections::HashMap<String, String> {
    text.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| {
            let v = v.trim();
            let v = v.strip_prefix('"').and_then(|x| x.strip_suffix('"')).unwrap_or(v);
            let v = v.strip_prefix('\'').and_then(|x| x.strip_suffix('\'')).unwrap_or(v);
            (k.trim().to_string(), v.to_string())
        })
        .collect()
}

/// The distribution name Ansible gives for an os-release `ID`.
fn distribution_name(id: &str) -> String {
    match id {
        "debian" => "Debian".into(),
        "ubuntu" => "Ubuntu".into(),
        "raspbian" => "Debian".into(),
        "linuxmint" => "Linux Mint".into(),
        "pop" => "Pop!_OS".into(),
        "kali" => "Kali".into(),
        "devuan" => "Devuan".into(),
        "centos" => "CentOS".into(),
        "rhel" => "RedHat".into(),
        "fedora" => "Fedora".into(),
        "rocky" => "Rocky".into(),
        "almalinux" => "AlmaLinux".into(),
        "ol" => "OracleLinux".into(),
        "amzn" => "Amazon".into(),
        "alpine" => "Alpine".into(),
        "arch" => "Archlinux".into(),
        "opensuse-leap" => "openSUSE Leap".into(),
        "opensuse-tumbleweed" => "openSUSE Tumbleweed".into(),
        "sles" => "SLES".into(),
        "gentoo" => "Gentoo".into(),
        "" => "OtherLinux".into(),
        other => {
            let mut c = other.chars();
            c.next().map(|h| h.to_uppercase().collect::<String>() + c.as_str()).unwrap_or_default()
        }
    }
}

/// Ansible's family of a distribution name (its `OS_FAMILY_MAP`, for the names above).
fn os_family(name: &str) -> String {
    match name {
        "RedHat" | "Fedora" | "CentOS" | "OracleLinux" | "Amazon" | "AlmaLinux" | "Rocky" => "RedHat",
        "Debian" | "Ubuntu" | "Linux Mint" | "Pop!_OS" | "Kali" | "Devuan" => "Debian",
        "SLES" | "openSUSE Leap" | "openSUSE Tumbleweed" => "Suse",
        "Archlinux" => "Archlinux",
        "Gentoo" => "Gentoo",
        "Alpine" => "Alpine",
        other => other,
    }
    .to_string()
}

pub(super) fn distribution(sec: &Sections<'_>, f: &mut Facts) {
    let rel = os_release(sec.get("os_release"));
    let get = |k: &str| rel.get(k).cloned().unwrap_or_default();
    let id = get("ID");
    let name = distribution_name(&id);
    let mut version = get("VERSION_ID");
    // Debian's point release is in /etc/debian_version ("12.11"), as ansible-core reports it.
    let deb = sec.line("debian_version").trim();
    if id == "debian" && !deb.is_empty() && deb.chars().all(|c| c.is_ascii_digit() || c == '.') {
        version = deb.to_string();
    }
    let mut release = get("VERSION_CODENAME");
    if release.is_empty() {
        release = get("UBUNTU_CODENAME");
    }
    if release.is_empty() {
        release = "NA".into();
    }
    let major = version.split('.').next().unwrap_or("").to_string();
    if let Some((_, minor)) = version.split_once('.') {
        f.insert("distribution_minor_version".into(), s(minor.split('.').next().unwrap_or(minor)));
    }
    f.insert("os_family".into(), s(&os_family(&name)));
    f.insert("distribution".into(), s(&name));
    f.insert("distribution_version".into(), s(if version.is_empty() { "NA" } else { &version }));
    f.insert("distribution_major_version".into(), s(if major.is_empty() { "NA" } else { &major }));
    f.insert("distribution_release".into(), s(&release));
}

pub(super) fn date_time(sec: &Sections<'_>, f: &mut Facts) {
    let mut lines = sec.get("date_time").lines();
    let now: Vec<&str> = lines.next().unwrap_or("").split('|').collect();
    if now.len() < 13 {
        return;
    }
    let field = |i: usize| now[i].trim().to_string();
    let epoch = field(0);
    let micros = {
        let n = field(1);
        if n.len() >= 6 && n.chars().all(|c| c.is_ascii_digit()) {
            n[..6].to_string()
        } else {
            "000000".to_string()
        }
    };
    let (y, mo, d, h, mi, se) = (field(2), field(3), field(4), field(5), field(6), field(7));
    let utc = epoch.parse::<i64>().ok().and_then(|e| chrono::DateTime::from_timestamp(e, 0));
    let iso = utc.map(|t| t.format("%Y-%m-%dT%H:%M:%S").to_string()).unwrap_or_default();
    // `time.tzname[1]`: the zone's summer name; for a zone without one, its only name.
    let tz = field(8);
    let names: Vec<(String, i64)> = lines
        .filter_map(|l| l.split_once('|'))
        .map(|(n, o)| (n.trim().to_string(), o.trim().parse::<i64>().unwrap_or(0)))
        .collect();
    let tz_dst = match names.as_slice() {
        [a, b] if a.1 != b.1 => (if a.1 > b.1 { a } else { b }).0.clone(),
        [a, ..] => a.0.clone(),
        [] => tz.clone(),
    };
    let pairs: Vec<(&str, String)> = vec![
        ("year", y.clone()),
        ("month", mo.clone()),
        ("weekday", field(10)),
        ("weekday_number", field(11)),
        ("weeknumber", field(12)),
        ("day", d.clone()),
        ("hour", h.clone()),
        ("minute", mi.clone()),
        ("second", se.clone()),
        ("epoch", epoch.clone()),
        ("epoch_int", epoch.clone()),
        ("date", format!("{y}-{mo}-{d}")),
        ("time", format!("{h}:{mi}:{se}")),
        ("iso8601_micro", format!("{iso}.{micros}Z")),
        ("iso8601", format!("{iso}Z")),
        ("iso8601_basic", format!("{y}{mo}{d}T{h}{mi}{se}{micros}")),
        ("iso8601_basic_short", format!("{y}{mo}{d}T{h}{mi}{se}")),
        ("tz", tz.clone()),
        ("tz_dst", tz_dst),
        ("tz_offset", field(9)),
    ];
    f.insert("date_time".into(), Value::from_pairs(pairs.into_iter().map(|(k, v)| (k.to_string(), Value::from(v)))));
}

pub(super) fn env(sec: &Sections<'_>, f: &mut Facts) {
    let text = sec.get("env");
    let entries: Vec<&str> = if text.contains('\0') { text.split('\0').collect() } else { text.lines().collect() };
    let mut m = std::collections::BTreeMap::new();
    for e in entries {
        if let Some((k, v)) = e.split_once('=') {
            if !k.is_empty() && !k.contains('\n') {
                m.insert(k.to_string(), Value::from(v.to_string()));
            }
        }
    }
    f.insert("env".into(), Value::from_pairs(m));
}

pub(super) fn user(sec: &Sections<'_>, f: &mut Facts) {
    let lines: Vec<&str> = sec.get("user").lines().collect();
    let at = |i: usize| lines.get(i).map(|l| l.trim()).unwrap_or("");
    let name = at(0);
    f.insert("user_id".into(), s(name));
    for (i, k) in [(1, "real_user_id"), (2, "effective_user_id"), (3, "real_group_id"), (4, "effective_group_id")] {
        if let Some(n) = int(at(i)) {
            f.insert(k.into(), Value::from(n));
        }
    }
    let pw: Vec<&str> = at(5).split(':').collect();
    if pw.len() >= 7 {
        if let Some(n) = int(pw[2]) {
            f.insert("user_uid".into(), Value::from(n));
        }
        if let Some(n) = int(pw[3]) {
            f.insert("user_gid".into(), Value::from(n));
        }
        f.insert("user_gecos".into(), s(pw[4]));
        f.insert("user_dir".into(), s(pw[5]));
        f.insert("user_shell".into(), s(pw[6]));
    }
}

/// Ansible's choice: pid 1's name (a few renamed) unless it is `init` or a shell; else, on
/// Linux, systemd when `systemctl` and a systemd runtime directory exist, then upstart, openrc,
/// systemd from `/sbin/init`, sysvinit, dinit; else `service`.
pub(super) fn service_mgr(sec: &Sections<'_>, f: &mut Facts) {
    let mut comm = None;
    let (mut bins, mut paths, mut init) = (Vec::new(), Vec::new(), None);
    for l in sec.get("service_mgr").lines() {
        if let Some(v) = l.strip_prefix("comm:") {
            let v = v.trim();
            if !v.is_empty() && v != "COMMAND" {
                comm = Some(v.to_string());
            }
        } else if let Some(v) = l.strip_prefix("init:") {
            init = Some(v.trim().to_string());
        } else if let Some(v) = l.strip_prefix("bin:") {
            bins.push(v.trim().to_string());
        } else if let Some(v) = l.strip_prefix("path:") {
            paths.push(v.trim().to_string());
        }
    }
    let base = |p: &str| p.rsplit('/').next().unwrap_or(p).to_string();
    let proc1 = comm.or_else(|| init.clone()).map(|p| base(&p)).filter(|p| p != "init" && !p.ends_with("sh"));
    let has = |p: &str| paths.iter().any(|x| x == p);
    let bin = |b: &str| bins.iter().any(|x| x == b);
    let linux = f.get("system").and_then(|v| v.as_str().map(str::to_string)).is_none_or(|s| s == "Linux");
    let name = match proc1 {
        Some(p) => match p.as_str() {
            "procd" => "openwrt_init".to_string(),
            "runit-init" => "runit".to_string(),
            "svscan" => "svc".to_string(),
            "openrc-init" => "openrc".to_string(),
            _ => p,
        },
        None if !linux => "service".to_string(),
        None => {
            if bin("systemctl") && (has("/run/systemd/system/") || has("/dev/.run/systemd/") || has("/dev/.systemd/")) {
                "systemd"
            } else if bin("initctl") && has("/etc/init/") {
                "upstart"
            } else if has("/sbin/openrc") {
                "openrc"
            } else if bin("systemctl") && init.as_deref().is_some_and(|i| base(i) == "systemd") {
                "systemd"
            } else if has("/etc/init.d/") {
                "sysvinit"
            } else if has("/etc/dinit.d/") {
                "dinit"
            } else {
                "service"
            }
            .to_string()
        }
    };
    f.insert("service_mgr".into(), Value::from(name));
}

/// Ansible's choice: the last of its known binaries present, then by family (RedHat: dnf or
/// dnf5 from `/usr/bin/dnf`; Debian: always apt, `apt_rpm` when rpm owns apt-get).
pub(super) fn pkg_mgr(sec: &Sections<'_>, f: &mut Facts) {
    let lines: Vec<&str> = sec.get("pkg_mgr").lines().map(str::trim).collect();
    let mut name = "unknown".to_string();
    for (path, n) in PKG_MGRS {
        if lines.contains(path) {
            name = (*n).to_string();
        }
    }
    let family = f.get("os_family").and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
    if family == "RedHat" {
        name = if lines.contains(&"ostree-booted") {
            "atomic_container".into()
        } else {
            match lines.iter().find_map(|l| l.strip_prefix("rh:")) {
                Some("/usr/bin/dnf5") => "dnf5".into(),
                Some(_) => "dnf".into(),
                None => "unknown".into(),
            }
        };
    } else if family == "Debian" {
        name = "apt".into();
    } else if family == "Altlinux" && name == "apt" {
        name = "apt_rpm".into();
    }
    if name == "apt" && lines.contains(&"apt_rpm") {
        name = "apt_rpm".into();
    }
    f.insert("pkg_mgr".into(), Value::from(name));
}
