//! Hardware facts: processors from `/proc/cpuinfo`, memory from `/proc/meminfo`, mounts from
//! `/proc/mounts` with `stat -f` of each, uptime from `/proc/uptime`.

use super::{int, Facts, Sections};
use minijinja::Value;
use std::collections::{BTreeMap, BTreeSet};

/// Mounts are the entries ansible-core keeps: a device that is a path (or `host:/path`), a
/// file system type other than `none`. Each is measured with `stat -f` (octal escapes of
/// `/proc/mounts` undone by `printf %b`), each call bounded by `gather_timeout` (`$gt`) as
/// ansible-core bounds each mount's, so that a hung network mount costs its sizes, not the
/// whole gathering.
pub(super) const COMMAND: &str = r#"s cpuinfo; cat /proc/cpuinfo 2>/dev/null
s nproc; nproc 2>/dev/null
s meminfo; cat /proc/meminfo 2>/dev/null
s uptime; cat /proc/uptime 2>/dev/null
s mounts; cat /proc/mounts 2>/dev/null
s mountinfo; cat /proc/self/mountinfo 2>/dev/null
s statfs; while read -r dev mnt fs rest; do case "$dev" in /*|*:/*) ;; *) continue ;; esac; [ "$fs" = none ] && continue
m=$(printf '%b' "$mnt"); u=$(bounded lsblk -ln -o UUID "$dev" 2>/dev/null | head -n 1)
printf '%s\t%s\t%s\n' "$mnt" "$(bounded stat -f -c '%s %S %b %f %a %c %d' "$m" 2>/dev/null)" "$u"; done < /proc/mounts
"#;

fn s(v: &str) -> Value {
    Value::from(v.to_string())
}

/// Python's `round` of a non-negative ratio (halves to even).
fn round_half_even(num: i64, den: i64) -> i64 {
    if den == 0 {
        return 0;
    }
    // In i128: the counts come from the target and may be anything.
    let (num, den) = (i128::from(num), i128::from(den));
    let (q, r) = (num / den, num % den);
    let rounded = match (2 * r).cmp(&den) {
        std::cmp::Ordering::Less => q,
        std::cmp::Ordering::Greater => q + 1,
        std::cmp::Ordering::Equal => q + (q % 2),
    };
    i64::try_from(rounded).unwrap_or(i64::MAX)
}

/// The processor facts as ansible-core counts them from `/proc/cpuinfo` on x86 and arm.
fn cpu(text: &str, arch: &str, nproc: Option<i64>, f: &mut Facts) {
    let mut processor = Vec::new();
    let (mut i, mut vendor, mut model, mut procs) = (0i64, 0, 0, 0i64);
    let mut sockets: Vec<(String, i64)> = Vec::new();
    let mut cores: Vec<(String, i64)> = Vec::new();
    let (mut physid, mut coreid) = (String::from("0"), String::from("0"));
    let set = |v: &mut Vec<(String, i64)>, k: &str, n: i64, only_new: bool| match v.iter_mut().find(|(x, _)| x == k) {
        Some(e) if !only_new => e.1 = n,
        Some(_) => {}
        None => v.push((k.to_string(), n)),
    };
    for line in text.lines() {
        let (k, v) = line.split_once(':').map_or((line.trim(), ""), |(k, v)| (k.trim(), v.trim()));
        match k {
            "model name" | "Processor" | "vendor_id" | "cpu" | "Vendor" | "processor" => {
                processor.push(Value::from(v.to_string()));
                match k {
                    "vendor_id" => vendor += 1,
                    "model name" => model += 1,
                    "processor" => procs += 1,
                    _ => {}
                }
                i += 1;
            }
            "physical id" => {
                physid = v.to_string();
                set(&mut sockets, &physid, 1, true);
            }
            "core id" => {
                coreid = v.to_string();
                if !sockets.iter().any(|(x, _)| *x == coreid) {
                    set(&mut cores, &coreid, 1, true);
                }
            }
            "cpu cores" => set(&mut sockets, &physid, int(v).unwrap_or(0), false),
            "siblings" => set(&mut cores, &coreid, int(v).unwrap_or(0), false),
            _ => {}
        }
    }
    if vendor > 0 && vendor == model {
        i = vendor;
    }
    if arch.starts_with("armv") || arch.starts_with("aarch") || arch.starts_with("ppc") {
        i = procs;
    }
    let count = if sockets.is_empty() { i } else { sockets.len() as i64 };
    let cores_n = sockets.first().map(|s| s.1).filter(|&n| n != 0).unwrap_or(1);
    let threads = match cores.first() {
        Some(c) => round_half_even(c.1, cores_n),
        None => round_half_even(1, cores_n),
    };
    f.insert("processor".into(), Value::from(processor));
    f.insert("processor_count".into(), Value::from(count));
    f.insert("processor_cores".into(), Value::from(cores_n));
    f.insert("processor_threads_per_core".into(), Value::from(threads));
    f.insert("processor_vcpus".into(), Value::from(threads.saturating_mul(count).saturating_mul(cores_n)));
    f.insert("processor_nproc".into(), Value::from(nproc.unwrap_or(procs)));
}

fn memory(text: &str, f: &mut Facts) {
    let kb: BTreeMap<&str, i64> = text
        .lines()
        .filter_map(|l| l.split_once(':'))
        .filter_map(|(k, v)| Some((k.trim(), v.split_whitespace().next()?.parse().ok()?)))
        .collect();
    let mb = |k: &str| kb.get(k).map(|v| v / 1024);
    let (Some(total), Some(free)) = (mb("MemTotal"), mb("MemFree")) else { return };
    f.insert("memtotal_mb".into(), Value::from(total));
    f.insert("memfree_mb".into(), Value::from(free));
    let (swap_total, swap_free) = (mb("SwapTotal").unwrap_or(0), mb("SwapFree").unwrap_or(0));
    f.insert("swaptotal_mb".into(), Value::from(swap_total));
    f.insert("swapfree_mb".into(), Value::from(swap_free));
    let buffers = mb("Buffers").unwrap_or(0);
    let cached = mb("Cached").unwrap_or(0);
    let nocache_free = free + buffers + cached;
    let obj =
        |pairs: Vec<(&str, i64)>| Value::from_pairs(pairs.into_iter().map(|(k, v)| (k.to_string(), Value::from(v))));
    f.insert(
        "memory_mb".into(),
        Value::from_pairs([
            ("real".to_string(), obj(vec![("total", total), ("used", total - free), ("free", free)])),
            ("nocache".to_string(), obj(vec![("free", nocache_free), ("used", total - nocache_free)])),
            (
                "swap".to_string(),
                obj(vec![
                    ("total", swap_total),
                    ("free", swap_free),
                    ("used", swap_total - swap_free),
                    ("cached", mb("SwapCached").unwrap_or(0)),
                ]),
            ),
        ]),
    );
}

/// `/proc/mounts`' octal escapes (`\040` for a space) undone.
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 3 < b.len() && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c)) {
            let n = (b[i + 1] - b'0') as u32 * 64 + (b[i + 2] - b'0') as u32 * 8 + (b[i + 3] - b'0') as u32;
            out.push(n as u8);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn mounts(sec: &Sections<'_>, f: &mut Facts) {
    // Bind mounts: a mount whose root inside its file system is not `/` (findmnt's `dev[/dir]`).
    let binds: BTreeSet<String> = sec
        .get("mountinfo")
        .lines()
        .filter_map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            (w.len() > 4 && w[3] != "/").then(|| unescape(w[4]))
        })
        .collect();
    let stats: BTreeMap<&str, (&str, &str)> = sec
        .get("statfs")
        .lines()
        .filter_map(|l| {
            let mut p = l.split('\t');
            Some((p.next()?, (p.next()?, p.next().unwrap_or(""))))
        })
        .collect();
    let mut list = Vec::new();
    for line in sec.get("mounts").lines() {
        let w: Vec<&str> = line.split_whitespace().collect();
        if w.len() < 6 {
            continue;
        }
        let (device, mount, fstype) = (unescape(w[0]), unescape(w[1]), w[2]);
        if (!device.starts_with('/') && !device.starts_with('\\') && !device.contains(":/")) || fstype == "none" {
            continue;
        }
        let mut options = w[3].to_string();
        if binds.contains(&mount) && !options.split(',').any(|o| o == "bind") {
            options.push_str(",bind");
        }
        let mut m: Vec<(String, Value)> = vec![
            ("device".into(), s(&device)),
            ("mount".into(), s(&mount)),
            ("fstype".into(), s(fstype)),
            ("options".into(), s(&options)),
            ("dump".into(), Value::from(int(w[4]).unwrap_or(0))),
            ("passno".into(), Value::from(int(w[5]).unwrap_or(0))),
        ];
        let (st, uuid) = stats.get(w[1]).copied().unwrap_or(("", ""));
        let n: Vec<i64> = st.split_whitespace().filter_map(int).collect();
        if let [bsize, frsize, blocks, bfree, bavail, files, ffree] = n[..] {
            for (k, v) in [
                // Numbers from the target: saturating, never an overflow panic.
                ("size_total", frsize.saturating_mul(blocks)),
                ("size_available", frsize.saturating_mul(bavail)),
                ("block_size", bsize),
                ("block_total", blocks),
                ("block_available", bavail),
                ("block_used", blocks.saturating_sub(bfree)),
                ("inode_total", files),
                ("inode_available", ffree),
                ("inode_used", files.saturating_sub(ffree)),
            ] {
                m.push((k.into(), Value::from(v)));
            }
        }
        m.push(("uuid".into(), s(if uuid.trim().is_empty() { "N/A" } else { uuid.trim() })));
        m.sort_by(|a, b| a.0.cmp(&b.0));
        list.push(Value::from_pairs(m));
    }
    f.insert("mounts".into(), Value::from(list));
}

pub(super) fn parse(sec: &Sections<'_>, f: &mut Facts) {
    let arch = f.get("architecture").and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
    cpu(sec.get("cpuinfo"), &arch, int(sec.line("nproc")), f);
    memory(sec.get("meminfo"), f);
    if let Some(up) = sec.line("uptime").split_whitespace().next().and_then(|u| u.parse::<f64>().ok()) {
        f.insert("uptime_seconds".into(), Value::from(up as i64));
    }
    mounts(sec, f);
}

#[cfg(test)]
pub(super) fn cpu_for_test(text: &str, arch: &str, nproc: Option<i64>) -> Facts {
    let mut f = Facts::new();
    cpu(text, arch, nproc, &mut f);
    f
}
