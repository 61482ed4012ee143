//! Parser tests on outputs captured on Debian 12; expected values are what ansible-core 2.19's
//! `setup` reported on the same machine (`ansible -m setup`), unless said otherwise.

use super::*;

fn sel(s: &[&str]) -> BTreeSet<Collector> {
    select(&s.iter().map(|x| x.to_string()).collect::<Vec<_>>()).expect("valid subsets")
}

fn st(v: &Value) -> String {
    v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string())
}

fn attr(v: &Value, k: &str) -> String {
    st(&v.get_attr(k).expect("attribute"))
}

#[test]
fn subsets_follow_ansible_min_all_and_exclusions() {
    use Collector::*;
    let min: BTreeSet<Collector> = MIN.iter().copied().collect();
    assert_eq!(sel(&["all"]).len(), ALL.len());
    assert_eq!(sel(&["min"]), min);
    // ansible-core 2.19: `!all` and `!hardware` alone both give the minimal facts.
    assert_eq!(sel(&["!all"]), min);
    assert_eq!(sel(&["!hardware"]), min);
    assert_eq!(sel(&["!all", "network"]), min.iter().copied().chain([Network]).collect());
    assert_eq!(sel(&["network", "!all"]), min.iter().copied().chain([Network]).collect());
    assert!(sel(&["all", "!hardware"]).contains(&Network));
    assert!(!sel(&["all", "!hardware"]).contains(&Hardware));
    // `!all,!min` gives nothing but gather_subset and module_setup; `!min,network` brings the
    // platform and distribution facts network needs.
    assert!(sel(&["!all", "!min"]).is_empty());
    assert_eq!(sel(&["!min", "network"]), [Platform, Distribution, Network].into_iter().collect());
    assert_eq!(sel(&["!all", "default_ipv4"]), min.iter().copied().chain([Network]).collect());
    // `all,!all`: everything added, then all but the minimal set taken out again.
    assert_eq!(sel(&["all", "!all"]), min);
    // Excluding what prov does not read is fine.
    assert_eq!(sel(&["all", "!facter", "!ohai"]).len(), ALL.len());
}

#[test]
fn unknown_subset_is_refused_with_ansibles_message() {
    let e = select(&["bogus".to_string()]).unwrap_err();
    assert!(
        e.starts_with("Bad subset 'bogus' given to Ansible. gather_subset options allowed: all, all_ipv4_addresses"),
        "{e}"
    );
    let e = select(&["virtual".to_string()]).unwrap_err();
    assert!(e.contains("prov does not gather") && e.contains("!virtual"), "{e}");
}

#[test]
fn filter_matches_prefixed_names_like_fnmatch() {
    let mut f = Facts::new();
    for k in ["distribution", "distribution_version", "hostname", "eth0", "eth1", "gather_subset"] {
        f.insert(k.into(), Value::from(1));
    }
    let keep = |p: &[&str]| {
        filter(f.clone(), &p.iter().map(|s| s.to_string()).collect::<Vec<_>>()).into_keys().collect::<Vec<_>>()
    };
    assert_eq!(keep(&["ansible_distribution*"]), ["distribution", "distribution_version"]);
    assert_eq!(keep(&["ansible_eth[!1]", "ansible_host*"]), ["eth0", "hostname"]);
    assert_eq!(keep(&["ansible_?ostname"]), ["hostname"]);
    assert_eq!(keep(&[]).len(), 6);
    assert!(fnmatch("a[0-9]b", "a5b") && !fnmatch("a[0-9]b", "axb") && fnmatch("*", ""));
}

/// ansible-core's filter also tries a pattern with `ansible_` put in front (unless it starts with
/// `ansible_`, `facter` or `ohai`), and an empty pattern keeps every fact.
#[test]
fn filter_tries_the_ansible_prefix_and_an_empty_pattern_keeps_all() {
    let mut f = Facts::new();
    for k in ["distribution", "distribution_version", "hostname", "eth0", "gather_subset"] {
        f.insert(k.into(), Value::from(1));
    }
    let keep = |p: &[&str]| {
        filter(f.clone(), &p.iter().map(|s| s.to_string()).collect::<Vec<_>>()).into_keys().collect::<Vec<_>>()
    };
    assert_eq!(keep(&["distribution*"]), ["distribution", "distribution_version"]);
    assert_eq!(keep(&["eth0", "gather_subset"]), ["eth0", "gather_subset"]);
    assert_eq!(keep(&[""]).len(), 5);
    assert_eq!(keep(&[" eth0"]), Vec::<String>::new());
    assert_eq!(keep(&["ohaieth0"]), Vec::<String>::new());
}

/// What the command printed on the Debian 12 machine (shortened: two mounts, three interfaces).
const DEBIAN12: &str = "
@@prov:nodename
vm
@@prov:system
Linux
@@prov:kernel
6.18.44-fc-v1045
@@prov:kernel_version
#1 SMP PREEMPT_DYNAMIC @0
@@prov:machine
x86_64
@@prov:userspace_bits
64
@@prov:fqdn
127.0.0.1       localhost
@@prov:os_release
PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"
NAME=\"Debian GNU/Linux\"
VERSION_ID=\"12\"
VERSION=\"12 (bookworm)\"
VERSION_CODENAME=bookworm
ID=debian
@@prov:debian_version
12.11
@@prov:date_time
1796226081|955014123|2026|12|02|15|41|21|UTC|+0000|Wednesday|3|48
UTC|+0000
UTC|+0000
@@prov:env
HOME=/root\0LANG=C.UTF-8\0MULTI=a
b\0
@@prov:user
root
0
0
0
0
root:x:0:0:root:/root:/bin/bash
@@prov:service_mgr
comm:process_api
path:/etc/init.d/
@@prov:pkg_mgr
/usr/bin/apt-get
@@prov:route4
8.8.8.8 via 192.0.2.1 dev eth0 src 192.0.2.2 uid 0 
    cache 
@@prov:route6
2404:6800:400a:800::1012 from :: via fd00::1 dev eth0 src fd00::2 metric 1024 pref medium
@@prov:proc_route
@@prov:addr
IPADDR
@@prov:sysnet
if docker0
address 02:42:2d:54:3d:15
mtu 1500
operstate down
type 1
speed -1
flags 0x1003
bridge
id 8000.02422d543d15
stp 0
brif 
if eth0
address 02:fc:00:00:00:01
mtu 1400
operstate up
type 1
speed -1
flags 0x1003
pciid virtio2
if lo
address 00:00:00:00:00:00
mtu 65536
operstate unknown
type 772
flags 0x9
@@prov:cpuinfo
processor\t: 0
vendor_id\t: AuthenticAMD
model name\t: AMD EPYC
physical id\t: 0
siblings\t: 2
core id\t\t: 0
cpu cores\t: 2

processor\t: 1
vendor_id\t: AuthenticAMD
model name\t: AMD EPYC
physical id\t: 0
siblings\t: 2
core id\t\t: 1
cpu cores\t: 2
@@prov:nproc
2
@@prov:meminfo
MemTotal:       24683520 kB
MemFree:          258048 kB
Buffers:           10240 kB
Cached:         21800000 kB
SwapTotal:             0 kB
SwapFree:              0 kB
@@prov:uptime
14447.12 20000.00
@@prov:mounts
/dev/vda / ext4 rw,relatime,discard 0 0
proc /proc proc rw,nosuid 0 0
/dev/vda /var/lib/docker ext4 rw,relatime,discard 0 0
@@prov:mountinfo
20 1 254:0 / / rw,relatime - ext4 /dev/vda rw
21 20 254:0 /var/lib/docker /var/lib/docker rw,relatime - ext4 /dev/vda rw
@@prov:statfs
/\t4096 4096 66053021 7098384 7098384 16777216 16131136\t
/var/lib/docker\t4096 4096 66053021 7098384 7098384 16777216 16131136\t
";

#[test]
fn sections_split_on_markers_even_when_empty() {
    let sec = Sections::new("\n@@prov:a\nx\n\n@@prov:b\n@@prov:c\ny\n");
    assert_eq!((sec.get("a"), sec.get("b"), sec.get("c")), ("x\n", "", "y\n"));
}

fn debian12() -> Facts {
    let out = DEBIAN12.replace("IPADDR\n", network::testdata::IP_ADDR);
    parse(&sel(&["all"]), &out)
}

#[test]
fn platform_and_distribution_of_debian_12() {
    let f = debian12();
    for (k, v) in [
        ("hostname", "vm"),
        ("nodename", "vm"),
        ("fqdn", "localhost"),
        ("domain", ""),
        ("system", "Linux"),
        ("kernel", "6.18.44-fc-v1045"),
        ("architecture", "x86_64"),
        ("os_family", "Debian"),
        ("distribution", "Debian"),
        ("distribution_version", "12.11"),
        ("distribution_major_version", "12"),
        ("distribution_minor_version", "11"),
        ("distribution_release", "bookworm"),
        ("service_mgr", "process_api"),
        ("pkg_mgr", "apt"),
        ("user_id", "root"),
        ("user_dir", "/root"),
        ("user_shell", "/bin/bash"),
        ("user_gecos", "root"),
    ] {
        assert_eq!(f.get(k).map(st).as_deref(), Some(v), "{k}");
    }
    assert_eq!(f["user_uid"].as_i64(), Some(0));
    assert_eq!(f["env"].get_attr("MULTI").map(|v| st(&v)).ok().as_deref(), Some("a\nb"));
}

#[test]
fn date_time_fields_are_strings_like_ansibles() {
    let d = debian12()["date_time"].clone();
    for (k, v) in [
        ("date", "2026-12-02"),
        ("time", "15:41:21"),
        ("epoch", "1796226081"),
        ("epoch_int", "1796226081"),
        ("iso8601", "2026-12-02T15:41:21Z"),
        ("iso8601_micro", "2026-12-02T15:41:21.955014Z"),
        ("iso8601_basic", "20261202T154121955014"),
        ("iso8601_basic_short", "20261202T154121"),
        ("tz", "UTC"),
        ("tz_dst", "UTC"),
        ("tz_offset", "+0000"),
        ("weekday", "Wednesday"),
        ("weekday_number", "3"),
        ("weeknumber", "48"),
        ("year", "2026"),
    ] {
        assert_eq!(attr(&d, k), v, "{k}");
    }
}

#[test]
fn default_ipv4_comes_from_the_default_route_with_its_interface() {
    let f = debian12();
    let d = &f["default_ipv4"];
    for (k, v) in [
        ("address", "192.0.2.2"),
        ("alias", "eth0"),
        ("broadcast", "192.0.2.255"),
        ("gateway", "192.0.2.1"),
        ("interface", "eth0"),
        ("macaddress", "02:fc:00:00:00:01"),
        ("netmask", "255.255.255.0"),
        ("network", "192.0.2.0"),
        ("prefix", "24"),
        ("type", "ether"),
    ] {
        assert_eq!(attr(d, k), v, "{k}");
    }
    assert_eq!(d.get_attr("mtu").ok().and_then(|v| v.as_i64()), Some(1400));
    let d6 = &f["default_ipv6"];
    assert_eq!(
        (attr(d6, "address"), attr(d6, "gateway"), attr(d6, "scope")),
        ("fd00::2".into(), "fd00::1".into(), "global".into())
    );
    // Not the first address `hostname -I` lists (docker0's here).
    let all: Vec<String> = f["all_ipv4_addresses"].try_iter().expect("list").map(|v| st(&v)).collect();
    assert_eq!(all, ["172.17.0.1", "192.0.2.2"]);
    let ifs: Vec<String> = f["interfaces"].try_iter().expect("list").map(|v| st(&v)).collect();
    assert_eq!(ifs, ["docker0", "eth0", "lo"]);
}

#[test]
fn interface_facts_have_ansibles_shape() {
    let f = debian12();
    let eth0 = &f["eth0"];
    assert_eq!(attr(eth0, "device"), "eth0");
    assert_eq!(attr(eth0, "pciid"), "virtio2");
    assert_eq!(eth0.get_attr("active").ok().map(|v| v.is_true()), Some(true));
    assert_eq!(eth0.get_attr("speed").ok().and_then(|v| v.as_i64()), Some(-1));
    assert_eq!(attr(&eth0.get_attr("ipv4").expect("ipv4"), "network"), "192.0.2.0");
    let v6: Vec<Value> = eth0.get_attr("ipv6").expect("ipv6").try_iter().expect("list").collect();
    assert_eq!(v6.len(), 2);
    assert_eq!((attr(&v6[1], "address"), attr(&v6[1], "scope")), ("fe80::fc:ff:fe00:1".into(), "link".into()));
    let lo = &f["lo"];
    assert_eq!(attr(lo, "type"), "loopback");
    assert!(lo.get_attr("macaddress").expect("attr").is_undefined(), "no all-zero MAC, as in Ansible");
    assert_eq!(attr(&lo.get_attr("ipv4").expect("ipv4"), "broadcast"), "");
    let d0 = &f["docker0"];
    assert_eq!(attr(d0, "type"), "bridge");
    assert_eq!(d0.get_attr("active").ok().map(|v| v.is_true()), Some(false));
    assert_eq!(d0.get_attr("stp").ok().map(|v| v.is_true()), Some(false));
}

#[test]
fn hardware_counts_processors_memory_and_mounts_as_ansible() {
    let f = debian12();
    for (k, v) in [
        ("processor_count", 1),
        ("processor_cores", 2),
        ("processor_threads_per_core", 1),
        ("processor_vcpus", 2),
        ("processor_nproc", 2),
        ("memtotal_mb", 24105),
        ("swaptotal_mb", 0),
        ("uptime_seconds", 14447),
    ] {
        assert_eq!(f[k].as_i64(), Some(v), "{k}");
    }
    let procs: Vec<String> = f["processor"].try_iter().expect("list").map(|v| st(&v)).collect();
    assert_eq!(procs, ["0", "AuthenticAMD", "AMD EPYC", "1", "AuthenticAMD", "AMD EPYC"]);
    let mounts: Vec<Value> = f["mounts"].try_iter().expect("list").collect();
    assert_eq!(mounts.len(), 2, "proc is not a mount Ansible lists");
    let root = &mounts[0];
    assert_eq!(attr(root, "mount"), "/");
    assert_eq!(root.get_attr("size_total").ok().and_then(|v| v.as_i64()), Some(270_553_174_016));
    assert_eq!(root.get_attr("block_used").ok().and_then(|v| v.as_i64()), Some(58_954_637));
    assert_eq!(attr(root, "uuid"), "N/A");
    assert_eq!(attr(&mounts[1], "options"), "rw,relatime,discard,bind");
}

#[test]
fn hyperthreaded_two_socket_cpuinfo_counts_like_ansible() {
    // Two sockets of 4 cores with 2 threads each (siblings 8): Ansible's formula gives 16.
    let mut text = String::new();
    for p in 0..16 {
        text.push_str(&format!(
            "processor\t: {p}\nvendor_id\t: GenuineIntel\nmodel name\t: Xeon\nphysical id\t: {}\nsiblings\t: 8\ncore id\t\t: {}\ncpu cores\t: 4\n\n",
            p / 8,
            p % 4
        ));
    }
    let f = hardware::cpu_for_test(&text, "x86_64", Some(16));
    assert_eq!((f["processor_count"].as_i64(), f["processor_cores"].as_i64()), (Some(2), Some(4)));
    assert_eq!((f["processor_threads_per_core"].as_i64(), f["processor_vcpus"].as_i64()), (Some(2), Some(16)));
}

#[test]
fn service_mgr_sees_through_a_shell_as_pid_1() {
    let run = |sec: &str| {
        let mut f = Facts::new();
        f.insert("system".into(), Value::from("Linux"));
        system::service_mgr(&Sections::new(&format!("@@prov:service_mgr\n{sec}")), &mut f);
        st(&f["service_mgr"])
    };
    assert_eq!(run("comm:systemd\nbin:systemctl\npath:/run/systemd/system/\n"), "systemd");
    // A container whose pid 1 is `sh` (prov's docker VMs): Ansible falls back to the init dirs.
    assert_eq!(run("comm:sh\npath:/etc/init.d/\n"), "sysvinit");
    assert_eq!(run("comm:bash\nbin:systemctl\npath:/run/systemd/system/\n"), "systemd");
    assert_eq!(run("comm:runit-init\n"), "runit");
    assert_eq!(run("comm:init\ninit:../lib/systemd/systemd\nbin:systemctl\n"), "systemd");
    assert_eq!(run("comm:sh\n"), "service");
}

#[test]
fn without_ip_the_default_route_comes_from_proc() {
    let out = "@@prov:proc_route\nIface\tDestination\tGateway \tFlags\nens4\t00000000\t0100000A\t0003\n@@prov:sysnet\nif ens4\naddress 42:01:0a:00:00:05\nmtu 1460\ntype 1\n";
    let mut f = Facts::new();
    network::parse(&Sections::new(out), &mut f);
    let d = &f["default_ipv4"];
    assert_eq!(
        (attr(d, "interface"), attr(d, "gateway"), attr(d, "macaddress")),
        ("ens4".into(), "10.0.0.1".into(), "42:01:0a:00:00:05".into())
    );
}

#[test]
fn ubuntu_and_rocky_names_and_families() {
    let run = |osr: &str| {
        let mut f = Facts::new();
        system::distribution(&Sections::new(&format!("@@prov:os_release\n{osr}")), &mut f);
        (
            st(&f["distribution"]),
            st(&f["os_family"]),
            st(&f["distribution_major_version"]),
            st(&f["distribution_release"]),
        )
    };
    assert_eq!(
        run("ID=ubuntu\nVERSION_ID=\"22.04\"\nVERSION_CODENAME=jammy\n"),
        ("Ubuntu".into(), "Debian".into(), "22".into(), "jammy".into())
    );
    assert_eq!(run("ID=\"rocky\"\nVERSION_ID=\"9.3\"\n"), ("Rocky".into(), "RedHat".into(), "9".into(), "NA".into()));
    assert_eq!(run("ID=alpine\nVERSION_ID=3.19.1\n"), ("Alpine".into(), "Alpine".into(), "3".into(), "NA".into()));
}

// A hostile or broken target may print any number: every count at i64's limits parses without
// an overflow (a panic in debug builds), and the facts stay numbers.
#[test]
fn numbers_at_the_limits_do_not_overflow() {
    let re = regex::Regex::new(r"\b\d{1,18}\b").expect("regex");
    for big in ["9223372036854775807", "-9223372036854775808"] {
        let hostile = re.replace_all(DEBIAN12, big);
        let f = parse(&sel(&["all"]), &hostile);
        assert!(f.contains_key("mounts") || f.contains_key("memtotal_mb") || !f.is_empty());
    }
}

/// ansible-core reads each subset as written (no trimming: `" network"` is not a subset, nor is
/// `""`), and ignores a request to exclude a subset it does not know.
#[test]
fn subsets_are_read_as_written_and_unknown_exclusions_are_ignored() {
    let e = select(&[" network".to_string()]).unwrap_err();
    assert!(e.starts_with("Bad subset ' network' given to Ansible."), "{e}");
    let e = select(&[String::new()]).unwrap_err();
    assert!(e.starts_with("Bad subset '' given to Ansible."), "{e}");
    assert!(e.contains("machine_id, mounts,"), "ansible-core's list has no `min`: {e}");
    let e = select(&[" !hardware".to_string()]).unwrap_err();
    assert!(e.starts_with("Bad subset ' !hardware' given to Ansible."), "{e}");
    assert_eq!(sel(&["all", "!bogus", "! network"]).len(), ALL.len());
}
