//! `ansible.utils.ipaddr`: validation and the `address`, `network`, `netmask` and `prefix`
//! queries on IPv4 and IPv6 strings and lists of them, as ansible.utils does it with netaddr.
//!
//! Only the collection name is registered: ansible-core 2.19 has no short `ipaddr` (nor
//! `ansible.netcommon.ipaddr` without that collection), so prov does not accept one either.
//! Inputs netaddr reads in ways of its own are refused instead of guessed: integers and strings
//! of digits (netaddr takes `'10'` as `0.0.0.10`), and every other query.

use super::add_filter;
use super::{a_type, fail, is_list, split_args};
use minijinja::value::{Rest, Value, ValueKind, ValueOrKwargs};
use minijinja::{Environment, Error};
use std::net::{Ipv4Addr, Ipv6Addr};

pub fn register(env: &mut Environment<'static>) {
    add_filter(env, "ansible.utils.ipaddr", ipaddr);
    add_filter(env, "ansible.utils.ipv4", |v: &Value, q: Option<Value>| filter(v, q, Some(4)));
    add_filter(env, "ansible.utils.ipv6", |v: &Value, q: Option<Value>| filter(v, q, Some(6)));
}

const QUERIES: &str = "'' (validation), address, network, netmask, prefix";

/// An address with its prefix length; `bits` is 32 or 128.
#[derive(Clone, Copy)]
struct Net {
    addr: u128,
    prefix: u32,
    bits: u32,
    /// Whether the input had a `/prefix`.
    has_prefix: bool,
}

impl Net {
    fn mask(&self) -> u128 {
        let all = if self.bits == 32 { u128::from(u32::MAX) } else { u128::MAX };
        if self.prefix == 0 {
            0
        } else {
            (all << (self.bits - self.prefix)) & all
        }
    }

    fn show(&self, v: u128) -> String {
        if self.bits == 32 {
            Ipv4Addr::from(v as u32).to_string()
        } else {
            show_v6(v)
        }
    }
}

/// `ipaddr(query='', version=False)`.
fn ipaddr(value: &Value, args: Rest<ValueOrKwargs>) -> Result<Value, Error> {
    let (pos, kw) = split_args(args)?;
    let mut pos = pos.into_iter();
    let query = pos.next().or(kw.get::<Option<Value>>("query")?);
    let version = pos.next().or(kw.get::<Option<Value>>("version")?);
    kw.assert_all_used()?;
    let version = match version.filter(Value::is_true) {
        None => None,
        Some(v) if v.is_integer() && matches!(i64::try_from(v.clone()), Ok(4 | 6)) => i64::try_from(v).ok(),
        Some(v) => return Err(fail(format!("ansible.utils.ipaddr: version must be 4 or 6, got {v}"))),
    };
    filter(value, query, version)
}

/// `ipaddr`, and `ipv4`/`ipv6` (`ipaddr` of that version).
fn filter(value: &Value, query: Option<Value>, version: Option<i64>) -> Result<Value, Error> {
    let query = match &query {
        None => String::new(),
        Some(q) if q.kind() == ValueKind::String => q.as_str().unwrap_or_default().to_string(),
        Some(q) => {
            return Err(fail(format!(
                "ansible.utils.ipaddr: query {q} is not supported by prov (supported: {QUERIES})"
            )))
        }
    };
    if !matches!(query.as_str(), "" | "address" | "network" | "netmask" | "prefix") {
        return Err(fail(format!(
            "ansible.utils.ipaddr: query {query:?} is not supported by prov (supported: {QUERIES})"
        )));
    }
    if is_list(value) {
        let mut out = Vec::new();
        for item in value.try_iter()? {
            let r = one(&item, &query, version)?;
            if r.is_true() {
                out.push(r);
            }
        }
        return Ok(Value::from(out));
    }
    one(value, &query, version)
}

fn one(value: &Value, query: &str, version: Option<i64>) -> Result<Value, Error> {
    let s =
        match value.kind() {
            ValueKind::Bool => return Ok(Value::from(false)),
            ValueKind::String => value.as_str().unwrap_or_default(),
            ValueKind::Number => return Err(fail(
                "ansible.utils.ipaddr: integers as addresses are not supported by prov (write the address as a string)",
            )),
            _ => return Err(fail(format!("ansible.utils.ipaddr: cannot read {} as an address", a_type(value)))),
        };
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(fail(format!(
            "ansible.utils.ipaddr: {s:?} is a number, which netaddr reads as an integer address; prov does not support it"
        )));
    }
    let Some(net) = parse(s) else { return Ok(Value::from(false)) };
    if version.is_some_and(|v| (v == 4) != (net.bits == 32)) {
        return Ok(Value::from(false));
    }
    let network = net.addr & net.mask();
    Ok(match query {
        "" if net.has_prefix => Value::from(format!("{}/{}", net.show(net.addr), net.prefix)),
        "" => Value::from(net.show(net.addr)),
        // netaddr: an IPv4 network address (of a network of more than two addresses) is not a
        // host address.
        "address" if net.bits == 32 && net.prefix < 31 && net.addr == network => Value::from(()),
        "address" => Value::from(net.show(net.addr)),
        "network" => Value::from(net.show(network)),
        "netmask" => Value::from(net.show(net.mask())),
        _ => Value::from(net.prefix),
    })
}

/// `ADDR` or `ADDR/PREFIX` (IPv4 also `ADDR/NETMASK` or `ADDR/HOSTMASK`); `None` when invalid.
fn parse(s: &str) -> Option<Net> {
    let (addr, prefix) = match s.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (s, None),
    };
    let (addr, bits) = if let Ok(v4) = addr.parse::<Ipv4Addr>() {
        (u128::from(u32::from(v4)), 32)
    } else if let Ok(v6) = addr.parse::<Ipv6Addr>() {
        (u128::from(v6), 128)
    } else {
        return None;
    };
    let prefix = match prefix {
        None => bits,
        Some(p) => prefix_len(p, bits)?,
    };
    Some(Net { addr, prefix, bits, has_prefix: s.contains('/') })
}

/// A prefix length as Python's `int()` reads it, or an IPv4 netmask / hostmask.
fn prefix_len(p: &str, bits: u32) -> Option<u32> {
    let t = p.trim();
    let digits = t.strip_prefix('+').unwrap_or(t);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        return digits.parse::<u32>().ok().filter(|n| *n <= bits);
    }
    if bits != 32 {
        return None;
    }
    let m = u32::from(p.parse::<Ipv4Addr>().ok()?);
    let ones = m.leading_ones();
    if m.checked_shl(ones).unwrap_or(0) == 0 {
        return Some(ones);
    }
    let host_ones = m.trailing_ones();
    if m.checked_shr(host_ones).unwrap_or(0) == 0 {
        return Some(32 - host_ones);
    }
    None
}

/// IPv6 text as netaddr prints it (the C library's `inet_ntop`): lower case, the first longest
/// run of two or more zero groups as `::`, and the last 32 bits dotted after `::` alone
/// (`::1.2.3.4`) or after `::ffff:`.
fn show_v6(v: u128) -> String {
    let words: Vec<u16> = (0..8).map(|i| (v >> (112 - 16 * i)) as u16).collect();
    let (mut best, mut best_len) = (usize::MAX, 0);
    let mut i = 0;
    while i < 8 {
        if words[i] == 0 {
            let start = i;
            while i < 8 && words[i] == 0 {
                i += 1;
            }
            if i - start > best_len {
                best = start;
                best_len = i - start;
            }
        } else {
            i += 1;
        }
    }
    if best_len < 2 {
        best = usize::MAX;
    }
    let mut out = String::new();
    let mut i = 0;
    while i < 8 {
        if i == best {
            out.push_str(if i == 0 { "::" } else { ":" });
            i += best_len;
            continue;
        }
        if i == 6 && best == 0 && (best_len == 6 || (best_len == 5 && words[5] == 0xffff)) {
            out.push_str(&Ipv4Addr::from((v & 0xffff_ffff) as u32).to_string());
            break;
        }
        out.push_str(&format!("{:x}", words[i]));
        if i < 7 {
            out.push(':');
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use crate::template::filters::testenv::{err, ok};

    #[test]
    fn ipv4_and_ipv6_are_ipaddr_of_one_version() {
        // ansible-core 2.19.14 with ansible.utils (ansible 12.3.0) and netaddr.
        assert_eq!(
            ok("{{ ['192.168.1.1', 'fe80::1', 'x', '10.0.0.0/8'] | ansible.utils.ipv4 | join(',') }}"),
            "192.168.1.1,10.0.0.0/8"
        );
        assert_eq!(
            ok("{{ ['192.168.1.1', 'fe80::1', 'x', '10.0.0.0/8'] | ansible.utils.ipv6 | join(',') }}"),
            "fe80::1"
        );
        assert_eq!(
            ok("{{ ['192.168.1.1', '10.0.0.0/8'] | ansible.utils.ipv4('address') | join(',') }}"),
            "192.168.1.1"
        );
        assert_eq!(ok("{{ 'fe80::1' | ansible.utils.ipv4 }}"), "False");
        assert_eq!(ok("{{ '192.168.1.1' | ansible.utils.ipv6 }}"), "False");
        assert_eq!(ok("{{ '::ffff:192.168.1.1' | ansible.utils.ipv4 }}"), "False");
        assert_eq!(ok("{{ '192.168.1.5/24' | ansible.utils.ipv4('network') }}"), "192.168.1.0");
        assert_eq!(ok("{{ '2001:db8::5/64' | ansible.utils.ipv6('network') }}"), "2001:db8::");
    }

    #[test]
    fn ipaddr_queries_give_what_ansible_utils_gives() {
        // (expression, ansible-core 2.19 + ansible.utils output through `| to_json`).
        let cases = [
            ("'192.168.1.10' | ansible.utils.ipaddr", "\"192.168.1.10\""),
            ("'192.168.1.10/24' | ansible.utils.ipaddr", "\"192.168.1.10/24\""),
            ("'192.168.1.300' | ansible.utils.ipaddr", "false"),
            ("'foo' | ansible.utils.ipaddr", "false"),
            ("'' | ansible.utils.ipaddr", "false"),
            ("true | ansible.utils.ipaddr", "false"),
            ("'10.1.1.1/33' | ansible.utils.ipaddr", "false"),
            ("' 10.1.1.1' | ansible.utils.ipaddr", "false"),
            ("'1.2.3.4 ' | ansible.utils.ipaddr", "false"),
            ("'10.1.1' | ansible.utils.ipaddr", "false"),
            ("'010.1.1.1' | ansible.utils.ipaddr", "false"),
            ("'0x0a.1.1.1' | ansible.utils.ipaddr", "false"),
            ("'1.2.3.4/' | ansible.utils.ipaddr", "false"),
            ("'fe80::1%eth0' | ansible.utils.ipaddr", "false"),
            ("'2001:db8::1/129' | ansible.utils.ipaddr", "false"),
            ("'10.1.1.1/255.255.0.255' | ansible.utils.ipaddr", "false"),
            ("'10.1.1.1/255.255.0.0' | ansible.utils.ipaddr", "\"10.1.1.1/16\""),
            ("'10.1.1.1/0.0.255.255' | ansible.utils.ipaddr", "\"10.1.1.1/16\""),
            ("'192.168.1.10/24 ' | ansible.utils.ipaddr", "\"192.168.1.10/24\""),
            ("'192.168.1.10/024' | ansible.utils.ipaddr", "\"192.168.1.10/24\""),
            ("'192.168.1.10/+24' | ansible.utils.ipaddr", "\"192.168.1.10/24\""),
            ("'192.168.1.10/24' | ansible.utils.ipaddr('')", "\"192.168.1.10/24\""),
            ("'192.168.1.10/24' | ansible.utils.ipaddr('address')", "\"192.168.1.10\""),
            ("'192.168.1.10' | ansible.utils.ipaddr('address')", "\"192.168.1.10\""),
            ("'192.168.1.10/24' | ansible.utils.ipaddr('network')", "\"192.168.1.0\""),
            ("'192.168.1.10/24' | ansible.utils.ipaddr('netmask')", "\"255.255.255.0\""),
            ("'192.168.1.10/24' | ansible.utils.ipaddr('prefix')", "24"),
            ("'192.168.1.10' | ansible.utils.ipaddr('prefix')", "32"),
            ("'192.168.1.10' | ansible.utils.ipaddr('network')", "\"192.168.1.10\""),
            ("'192.168.1.10' | ansible.utils.ipaddr('netmask')", "\"255.255.255.255\""),
            ("'10.0.0.0/8' | ansible.utils.ipaddr('address')", "null"),
            ("'10.0.0.0/8' | ansible.utils.ipaddr('network')", "\"10.0.0.0\""),
            ("'192.168.1.0/24' | ansible.utils.ipaddr('address')", "null"),
            ("'192.168.1.255/24' | ansible.utils.ipaddr('address')", "\"192.168.1.255\""),
            ("'192.168.1.10/32' | ansible.utils.ipaddr('network')", "\"192.168.1.10\""),
            ("'192.168.1.0/31' | ansible.utils.ipaddr('address')", "\"192.168.1.0\""),
            ("'192.168.1.0/30' | ansible.utils.ipaddr('address')", "null"),
            ("'0.0.0.0/0' | ansible.utils.ipaddr('address')", "null"),
            ("'0.0.0.0/0' | ansible.utils.ipaddr('network')", "\"0.0.0.0\""),
            ("'2001:db8::1/64' | ansible.utils.ipaddr", "\"2001:db8::1/64\""),
            ("'2001:db8::1/64' | ansible.utils.ipaddr('address')", "\"2001:db8::1\""),
            ("'2001:db8::1/64' | ansible.utils.ipaddr('network')", "\"2001:db8::\""),
            ("'2001:db8::1/64' | ansible.utils.ipaddr('netmask')", "\"ffff:ffff:ffff:ffff::\""),
            ("'2001:db8::1/64' | ansible.utils.ipaddr('prefix')", "64"),
            ("'2001:db8::1' | ansible.utils.ipaddr('netmask')", "\"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff\""),
            ("'2001:db8::1' | ansible.utils.ipaddr('prefix')", "128"),
            ("'2001:db8::/127' | ansible.utils.ipaddr('address')", "\"2001:db8::\""),
            ("'::/0' | ansible.utils.ipaddr('address')", "\"::\""),
            ("'2001:DB8:0::1' | ansible.utils.ipaddr", "\"2001:db8::1\""),
            ("'2001:0db8:0000:0000:0000:0000:0000:0001' | ansible.utils.ipaddr", "\"2001:db8::1\""),
            ("'2001:db8:0:0:1:0:0:1' | ansible.utils.ipaddr", "\"2001:db8::1:0:0:1\""),
            ("'1:0:0:2:0:0:3:4' | ansible.utils.ipaddr", "\"1::2:0:0:3:4\""),
            ("'1:0:0:2:0:0:0:3' | ansible.utils.ipaddr", "\"1:0:0:2::3\""),
            ("'0:0:0:0:0:1:0:0' | ansible.utils.ipaddr", "\"::1:0:0\""),
            ("'1:2:3:4:5:6:7:0' | ansible.utils.ipaddr", "\"1:2:3:4:5:6:7:0\""),
            ("'::' | ansible.utils.ipaddr", "\"::\""),
            ("'::1' | ansible.utils.ipaddr", "\"::1\""),
            ("'::2' | ansible.utils.ipaddr", "\"::2\""),
            ("'::ffff' | ansible.utils.ipaddr", "\"::ffff\""),
            ("'::1:2' | ansible.utils.ipaddr", "\"::0.1.0.2\""),
            ("'::1.2.3.4' | ansible.utils.ipaddr", "\"::1.2.3.4\""),
            ("'::ffff:1.2.3.4' | ansible.utils.ipaddr('address')", "\"::ffff:1.2.3.4\""),
            ("'::ffff:0:0/96' | ansible.utils.ipaddr('network')", "\"::ffff:0.0.0.0\""),
            ("['192.168.1.1', 'x', '10.1.1.1/8'] | ansible.utils.ipaddr('address')", "[\"192.168.1.1\", \"10.1.1.1\"]"),
            ("['192.168.1.1', 'x', '10.1.1.1/8'] | ansible.utils.ipaddr('network')", "[\"192.168.1.1\", \"10.0.0.0\"]"),
            ("['10.0.0.0/8', '1.1.1.1'] | ansible.utils.ipaddr('address')", "[\"1.1.1.1\"]"),
            ("['1.2.3.4/8', 'y'] | ansible.utils.ipaddr('prefix')", "[8]"),
            ("[] | ansible.utils.ipaddr", "[]"),
            ("['x'] | ansible.utils.ipaddr", "[]"),
            ("'1.2.3.4/24' | ansible.utils.ipaddr(query='address')", "\"1.2.3.4\""),
            ("'1.2.3.4/24' | ansible.utils.ipaddr('address', version=6)", "false"),
            ("'1.2.3.4/24' | ansible.utils.ipaddr('address', version=4)", "\"1.2.3.4\""),
        ];
        for (src, want) in cases {
            assert_eq!(ok(&format!("{{{{ {src} | to_json }}}}")), want, "{src}");
        }
    }

    #[test]
    fn ipaddr_refuses_what_netaddr_reads_its_own_way() {
        err("{{ '192.168.1.10/24' | ansible.utils.ipaddr('host') }}", "query \"host\" is not supported by prov");
        err("{{ 3232235777 | ansible.utils.ipaddr }}", "integers as addresses are not supported");
        err("{{ '10' | ansible.utils.ipaddr }}", "is a number");
        err("{{ none | ansible.utils.ipaddr }}", "cannot read none as an address");
        err("{{ '1.2.3.4' | ipaddr }}", "ipaddr");
    }
}
