//! Fact gathering: one command on the target, parsed on the controller.

use minijinja::Value;
use prov_core::vars::VarMap;

/// The one command that reads every fact prov offers.
pub const GATHER: &str = r#"printf 'hostname=%s\n' "$(hostname 2>/dev/null || cat /etc/hostname)"
printf 'fqdn=%s\n' "$(hostname -f 2>/dev/null)"
if [ -r /etc/os-release ]; then . /etc/os-release; fi
printf 'distribution=%s\ndistribution_version=%s\ndistribution_release=%s\n' "${ID:-unknown}" "${VERSION_ID:-}" "${VERSION_CODENAME:-}"
printf 'kernel=%s\narchitecture=%s\nsystem=%s\n' "$(uname -r)" "$(uname -m)" "$(uname -s)"
printf 'user_id=%s\n' "$(id -un)"
printf 'ipv4=%s\n' "$(hostname -I 2>/dev/null)"
printf 'vcpus=%s\n' "$(nproc 2>/dev/null || echo 1)"
printf 'memtotal_kb=%s\n' "$(awk '/^MemTotal:/ {print $2}' /proc/meminfo 2>/dev/null)"
printf 'service_mgr=%s\n' "$([ -d /run/systemd/system ] && echo systemd || echo sysvinit)"
"#;

/// Parses [`GATHER`]'s output into `ansible_facts` (keys without the `ansible_` prefix).
pub fn parse(stdout: &str) -> VarMap {
    let mut raw = std::collections::HashMap::new();
    for line in stdout.lines() {
        if let Some((k, v)) = line.split_once('=') {
            raw.insert(k.to_string(), v.trim().to_string());
        }
    }
    let get = |k: &str| raw.get(k).cloned().unwrap_or_default();
    let mut f = VarMap::new();
    f.insert("hostname".into(), Value::from(get("hostname")));
    f.insert("fqdn".into(), Value::from(get("fqdn")));
    let dist = get("distribution");
    let mut chars = dist.chars();
    let pretty = match chars.next() {
        Some(c) => c.to_uppercase().collect::<String>() + chars.as_str(),
        None => String::new(),
    };
    let family = match dist.as_str() {
        "debian" | "ubuntu" | "raspbian" => "Debian",
        "centos" | "rhel" | "fedora" | "rocky" | "almalinux" => "RedHat",
        "alpine" => "Alpine",
        _ => pretty.as_str(),
    }
    .to_string();
    f.insert("distribution".into(), Value::from(pretty));
    f.insert("os_family".into(), Value::from(family));
    f.insert("distribution_version".into(), Value::from(get("distribution_version")));
    f.insert(
        "distribution_major_version".into(),
        Value::from(get("distribution_version").split('.').next().unwrap_or("").to_string()),
    );
    f.insert("distribution_release".into(), Value::from(get("distribution_release")));
    f.insert("kernel".into(), Value::from(get("kernel")));
    f.insert("architecture".into(), Value::from(get("architecture")));
    f.insert("system".into(), Value::from(get("system")));
    f.insert("user_id".into(), Value::from(get("user_id")));
    f.insert("service_mgr".into(), Value::from(get("service_mgr")));
    let ips: Vec<String> = get("ipv4").split_whitespace().filter(|a| !a.contains(':')).map(str::to_string).collect();
    let first = ips.first().cloned().unwrap_or_default();
    f.insert("default_ipv4".into(), Value::from_pairs([("address".to_string(), Value::from(first))]));
    f.insert("all_ipv4_addresses".into(), Value::from(ips));
    f.insert("processor_vcpus".into(), Value::from(get("vcpus").parse::<i64>().unwrap_or(1)));
    f.insert("memtotal_mb".into(), Value::from(get("memtotal_kb").parse::<i64>().unwrap_or(0) / 1024));
    f
}

/// The facts layer: `ansible_facts` plus every fact as `ansible_<name>`.
pub fn layer(facts: &VarMap) -> VarMap {
    let mut out = VarMap::new();
    out.insert("ansible_facts".into(), Value::from_pairs(facts.iter().map(|(k, v)| (k.clone(), v.clone()))));
    for (k, v) in facts {
        out.insert(format!("ansible_{k}"), v.clone());
    }
    out
}

/// Variables that look like facts but are connection settings or magic.
const NOT_FACTS: &[&str] = &[
    "ansible_host",
    "ansible_port",
    "ansible_user",
    "ansible_connection",
    "ansible_become",
    "ansible_become_user",
    "ansible_ssh_private_key_file",
    "ansible_loop",
    "ansible_check_mode",
    "ansible_diff_mode",
    "ansible_play_hosts",
    "ansible_play_batch",
    "ansible_play_hosts_all",
    "ansible_run_tags",
    "ansible_skip_tags",
    "ansible_python_interpreter",
    "ansible_ssh_common_args",
    "ansible_host_key_checking",
];

/// Whether a template text reads a fact variable.
pub fn reads_facts(text: &str) -> bool {
    let mut rest = text;
    while let Some(i) = rest.find("ansible_") {
        let tail = &rest[i..];
        let end = tail.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(tail.len());
        let word = &tail[..end];
        let boundary = i == 0 || !rest.as_bytes()[i - 1].is_ascii_alphanumeric() && rest.as_bytes()[i - 1] != b'_';
        if boundary
            && !NOT_FACTS.contains(&word)
            && !word.starts_with("ansible_ssh_")
            && !word.starts_with("ansible_become")
        {
            return true;
        }
        rest = &tail[end.max(1)..];
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_debian() {
        let out = "hostname=h1\nfqdn=h1.lan\ndistribution=debian\ndistribution_version=12\ndistribution_release=bookworm\nkernel=6.1\narchitecture=x86_64\nsystem=Linux\nuser_id=root\nipv4=172.18.0.2 fe80::1\nvcpus=2\nmemtotal_kb=2048000\nservice_mgr=sysvinit\n";
        let f = parse(out);
        assert_eq!(f["distribution"].as_str(), Some("Debian"));
        assert_eq!(f["os_family"].as_str(), Some("Debian"));
        assert_eq!(
            f["default_ipv4"].get_attr("address").ok().and_then(|v| v.as_str().map(str::to_string)).as_deref(),
            Some("172.18.0.2")
        );
        assert_eq!(f["memtotal_mb"].as_i64(), Some(2000));
    }

    #[test]
    fn detects_fact_reads() {
        assert!(reads_facts("{{ ansible_hostname }}"));
        assert!(reads_facts("{{ ansible_facts.distribution }}"));
        assert!(!reads_facts("{{ ansible_host }}:{{ ansible_port }}"));
        assert!(!reads_facts("{{ myansible_x }}"));
    }
}
