//! Network facts: interfaces from `/sys/class/net`, addresses from `ip addr`, the default
//! route from `ip route get` (the way ansible-core finds it); without `ip`, the default
//! interface and gateway from `/proc/net/route`.

use super::{int, Facts, Sections};
use minijinja::Value;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;

pub(super) const COMMAND: &str = r#"s route4; ip -4 route get 8.8.8.8 2>/dev/null
s route6; ip -6 route get 2404:6800:400a:800::1012 2>/dev/null
s proc_route; cat /proc/net/route 2>/dev/null
s addr; ip addr show 2>/dev/null
s sysnet; for d in /sys/class/net/*; do [ -d "$d" ] || continue; printf 'if %s\n' "${d##*/}"
for k in address mtu operstate type speed flags; do v=$(cat "$d/$k" 2>/dev/null) && printf '%s %s\n' "$k" "$v"; done
[ -e "$d/device/driver/module" ] && printf 'module %s\n' "$(basename "$(readlink -f "$d/device/driver/module")")"
[ -e "$d/device" ] && printf 'pciid %s\n' "$(basename "$(readlink "$d/device")")"
if [ -d "$d/bridge" ]; then printf 'bridge\nid %s\nstp %s\nbrif %s\n' "$(cat "$d/bridge/bridge_id" 2>/dev/null)" "$(cat "$d/bridge/stp_state" 2>/dev/null)" "$(ls "$d/brif" 2>/dev/null | tr '\n' ' ')"; fi
if [ -d "$d/bonding" ]; then printf 'bonding\nslaves %s\nmode %s\nmiimon %s\nlacp_rate %s\nprimary %s\n' "$(cat "$d/bonding/slaves" 2>/dev/null)" "$(cat "$d/bonding/mode" 2>/dev/null)" "$(cat "$d/bonding/miimon" 2>/dev/null)" "$(cat "$d/bonding/lacp_rate" 2>/dev/null)" "$(cat "$d/bonding/primary" 2>/dev/null)"; fi
done
"#;

fn s(v: &str) -> Value {
    Value::from(v.to_string())
}

/// One address of an interface, from `ip addr`.
#[derive(Debug, Clone)]
struct Addr {
    address: String,
    prefix: u8,
    broadcast: String,
    scope: String,
    secondary: bool,
}

/// `ip addr show`: addresses per interface (v4 and v6), in order.
fn ip_addrs(text: &str) -> BTreeMap<String, (Vec<Addr>, Vec<Addr>)> {
    let mut out: BTreeMap<String, (Vec<Addr>, Vec<Addr>)> = BTreeMap::new();
    let mut dev = String::new();
    for line in text.lines() {
        if !line.starts_with(' ') {
            // `4: eth0@if5: <...>`
            if let Some(name) = line.split(": ").nth(1) {
                dev = name.split('@').next().unwrap_or(name).to_string();
                out.entry(dev.clone()).or_default();
            }
            continue;
        }
        let w: Vec<&str> = line.split_whitespace().collect();
        let (Some(&kind), Some(cidr)) = (w.first(), w.get(1)) else { continue };
        if kind != "inet" && kind != "inet6" {
            continue;
        }
        let (address, prefix) = cidr.split_once('/').unwrap_or((cidr, if kind == "inet" { "32" } else { "128" }));
        let after = |k: &str| w.iter().position(|x| *x == k).and_then(|i| w.get(i + 1)).map(|x| x.to_string());
        let a = Addr {
            address: address.to_string(),
            prefix: prefix.parse().unwrap_or(0),
            broadcast: after("brd").unwrap_or_default(),
            scope: after("scope").unwrap_or_default(),
            secondary: w.contains(&"secondary"),
        };
        // An address line may name an alias label (`eth0:1`) as its last word: Ansible files
        // it under the interface all the same.
        let e = out.entry(dev.clone()).or_default();
        if kind == "inet" {
            e.0.push(a);
        } else {
            e.1.push(a);
        }
    }
    out
}

fn netmask(prefix: u8) -> Ipv4Addr {
    let bits: u32 = if prefix == 0 { 0 } else { u32::MAX << (32 - prefix.min(32)) };
    Ipv4Addr::from(bits)
}

/// An `ipv4` mapping as Ansible gives it: address, broadcast, netmask, network, prefix.
fn ipv4_value(a: &Addr) -> Vec<(String, Value)> {
    let mask = netmask(a.prefix);
    let network = a.address.parse::<Ipv4Addr>().map(|ip| Ipv4Addr::from(u32::from(ip) & u32::from(mask)));
    vec![
        ("address".into(), s(&a.address)),
        ("broadcast".into(), s(&a.broadcast)),
        ("netmask".into(), s(&mask.to_string())),
        ("network".into(), s(&network.map(|n| n.to_string()).unwrap_or_default())),
        ("prefix".into(), s(&a.prefix.to_string())),
    ]
}

fn ipv6_value(a: &Addr) -> Vec<(String, Value)> {
    vec![("address".into(), s(&a.address)), ("prefix".into(), s(&a.prefix.to_string())), ("scope".into(), s(&a.scope))]
}

/// `ip route get`: (interface, source address, gateway).
fn route_get(text: &str, dest: &str) -> Option<(String, String, String)> {
    let w: Vec<&str> = text.split_whitespace().collect();
    let after = |k: &str| w.iter().position(|x| *x == k).and_then(|i| w.get(i + 1)).map(|x| x.to_string());
    let dev = after("dev")?;
    let gw = after("via").filter(|g| g != dest).unwrap_or_default();
    Some((dev, after("src").unwrap_or_default(), gw))
}

/// `/proc/net/route`'s default route: (interface, gateway).
fn proc_default_route(text: &str) -> Option<(String, String)> {
    for line in text.lines().skip(1) {
        let w: Vec<&str> = line.split_whitespace().collect();
        if w.len() > 2 && w[1] == "00000000" {
            let gw = u32::from_str_radix(w[2], 16).ok()?;
            return Some((w[0].to_string(), Ipv4Addr::from(gw.swap_bytes()).to_string()));
        }
    }
    None
}

/// The fact name of an interface: `ansible_<name>` with `-` and `:` as `_`.
fn fact_name(dev: &str) -> String {
    dev.replace(['-', ':'], "_")
}

pub(super) fn parse(sec: &Sections<'_>, f: &mut Facts) {
    // /sys/class/net, interface by interface.
    let mut ifaces: BTreeMap<String, BTreeMap<String, Value>> = BTreeMap::new();
    let mut cur: Option<String> = None;
    for line in sec.get("sysnet").lines() {
        let (k, v) = line.split_once(' ').unwrap_or((line, ""));
        if k == "if" {
            let mut m = BTreeMap::new();
            m.insert("device".to_string(), s(v));
            ifaces.insert(v.to_string(), m);
            cur = Some(v.to_string());
            continue;
        }
        let Some(m) = cur.as_ref().and_then(|c| ifaces.get_mut(c)) else { continue };
        match k {
            "address" if !v.is_empty() && v != "00:00:00:00:00:00" => {
                m.insert("macaddress".into(), s(v));
            }
            "mtu" => {
                if let Some(n) = int(v) {
                    m.insert("mtu".into(), Value::from(n));
                }
            }
            "operstate" => {
                m.insert("active".into(), Value::from(v != "down"));
            }
            "module" => {
                m.insert("module".into(), s(v));
            }
            "type" => {
                let t = match v {
                    "1" => "ether",
                    "32" => "infiniband",
                    "512" => "ppp",
                    "772" => "loopback",
                    "65534" => "tunnel",
                    _ => "unknown",
                };
                m.entry("type".into()).or_insert(s(t));
            }
            "bridge" => {
                m.insert("type".into(), s("bridge"));
            }
            "id" => {
                m.insert("id".into(), s(v));
            }
            "stp" => {
                m.insert("stp".into(), Value::from(v == "1"));
            }
            "brif" => {
                m.insert(
                    "interfaces".into(),
                    Value::from(v.split_whitespace().map(str::to_string).collect::<Vec<_>>()),
                );
            }
            "bonding" => {
                m.insert("type".into(), s("bonding"));
            }
            "slaves" => {
                m.insert("slaves".into(), Value::from(v.split_whitespace().map(str::to_string).collect::<Vec<_>>()));
            }
            "mode" | "miimon" | "lacp_rate" => {
                m.insert(k.into(), s(v.split_whitespace().next().unwrap_or("")));
            }
            "primary" if !v.is_empty() => {
                m.insert("primary".into(), s(v));
            }
            "pciid" => {
                m.insert("pciid".into(), s(v));
            }
            "speed" => {
                if let Some(n) = int(v) {
                    m.insert("speed".into(), Value::from(n));
                }
            }
            "flags" => {
                let n = i64::from_str_radix(v.trim_start_matches("0x"), 16).unwrap_or(0);
                m.insert("promisc".into(), Value::from(n & 0x100 != 0));
            }
            _ => {}
        }
    }
    // Addresses.
    let addrs = ip_addrs(sec.get("addr"));
    let (mut all4, mut all6) = (Vec::new(), Vec::new());
    for (dev, m) in ifaces.iter_mut() {
        let Some((v4, v6)) = addrs.get(dev) else { continue };
        let mut primary = true;
        let mut secondaries = Vec::new();
        for a in v4 {
            if !a.address.starts_with("127.") {
                all4.push(Value::from(a.address.clone()));
            }
            if primary && !a.secondary {
                m.insert("ipv4".into(), Value::from_pairs(ipv4_value(a)));
                primary = false;
            } else {
                secondaries.push(Value::from_pairs(ipv4_value(a)));
            }
        }
        if !secondaries.is_empty() {
            m.insert("ipv4_secondaries".into(), Value::from(secondaries));
        }
        if !v6.is_empty() {
            for a in v6 {
                if a.address != "::1" {
                    all6.push(Value::from(a.address.clone()));
                }
            }
            m.insert(
                "ipv6".into(),
                Value::from(v6.iter().map(|a| Value::from_pairs(ipv6_value(a))).collect::<Vec<_>>()),
            );
        }
    }
    // Default routes.
    let default = |route: Option<(String, String, String)>, v6: bool| -> Value {
        let Some((dev, src, gw)) = route else { return Value::from_pairs(Vec::<(String, Value)>::new()) };
        let mut d: Vec<(String, Value)> = Vec::new();
        let list = addrs.get(&dev).map(|(a4, a6)| if v6 { a6.clone() } else { a4.clone() }).unwrap_or_default();
        let found = list.iter().find(|a| a.address == src).or(if src.is_empty() { list.first() } else { None });
        match found {
            Some(a) if v6 => d.extend(ipv6_value(a)),
            Some(a) => d.extend(ipv4_value(a)),
            None if !src.is_empty() => d.push(("address".into(), s(&src))),
            None => {}
        }
        if !gw.is_empty() {
            d.push(("gateway".into(), s(&gw)));
        }
        d.push(("interface".into(), s(&dev)));
        if !v6 {
            d.push(("alias".into(), s(&dev)));
        }
        if let Some(m) = ifaces.get(&dev) {
            for k in ["macaddress", "mtu", "type"] {
                if let Some(v) = m.get(k) {
                    d.push((k.into(), v.clone()));
                }
            }
        }
        d.sort_by(|a, b| a.0.cmp(&b.0));
        Value::from_pairs(d)
    };
    let r4 = route_get(sec.get("route4"), "8.8.8.8")
        .or_else(|| proc_default_route(sec.get("proc_route")).map(|(dev, gw)| (dev, String::new(), gw)));
    let r6 = route_get(sec.get("route6"), "2404:6800:400a:800::1012");
    f.insert("default_ipv4".into(), default(r4, false));
    f.insert("default_ipv6".into(), default(r6, true));
    f.insert("all_ipv4_addresses".into(), Value::from(all4));
    f.insert("all_ipv6_addresses".into(), Value::from(all6));
    f.insert("interfaces".into(), Value::from(ifaces.keys().cloned().collect::<Vec<_>>()));
    for (dev, m) in ifaces {
        f.insert(fact_name(&dev), Value::from_pairs(m));
    }
}

#[cfg(test)]
pub(super) mod testdata {
    /// `ip addr show` on the Debian 12 machine the oracle ran on.
    pub const IP_ADDR: &str =
        "1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN group default qlen 1000
    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00
    inet 127.0.0.1/8 scope host lo
       valid_lft forever preferred_lft forever
    inet6 ::1/128 scope host 
       valid_lft forever preferred_lft forever
4: eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1400 qdisc pfifo_fast state UP group default qlen 1000
    link/ether 02:fc:00:00:00:01 brd ff:ff:ff:ff:ff:ff
    inet 192.0.2.2/24 brd 192.0.2.255 scope global eth0
       valid_lft forever preferred_lft forever
    inet6 fd00::2/64 scope global nodad 
       valid_lft forever preferred_lft forever
    inet6 fe80::fc:ff:fe00:1/64 scope link 
       valid_lft forever preferred_lft forever
5: docker0: <NO-CARRIER,BROADCAST,MULTICAST,UP> mtu 1500 qdisc noqueue state DOWN group default 
    link/ether 02:42:2d:54:3d:15 brd ff:ff:ff:ff:ff:ff
    inet 172.17.0.1/16 brd 172.17.255.255 scope global docker0
       valid_lft forever preferred_lft forever
    inet6 fe80::42:2dff:fe54:3d15/64 scope link 
       valid_lft forever preferred_lft forever
";
}
