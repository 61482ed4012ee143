//! Zip archives: their members as `zipinfo` and `unzip -v` list them, the members' state under
//! `dest` on the target, and ansible-core's comparison of the two.

use super::matches_id;
use prov_core::args::Mode;
use prov_core::cmd::Sh;

/// A zip member as `zipinfo -T -s` lists it.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct ZipMember {
    pub(super) kind: char,
    pub(super) perms: String,
    pub(super) size: u64,
    /// `YYYYmmdd.HHMMSS`, local time of the target.
    pub(super) time: String,
    pub(super) name: String,
}

pub(super) fn parse_zipinfo(text: &str) -> Vec<ZipMember> {
    let mut out = Vec::new();
    for line in text.lines() {
        let f: Vec<&str> = line.splitn(8, char::is_whitespace).collect();
        let f: Vec<&str> = if f.len() == 8 && f.iter().any(|x| x.is_empty()) {
            // Collapse runs of blanks as Python's split(None, 7) does.
            let mut words = Vec::new();
            let mut rest = line.trim_start();
            while words.len() < 7 {
                let Some(i) = rest.find(char::is_whitespace) else { break };
                words.push(&rest[..i]);
                rest = rest[i..].trim_start();
            }
            words.push(rest);
            words
        } else {
            f
        };
        if f.len() != 8 || !matches!(f[0].len(), 7 | 8 | 10) || f[6].len() != 15 {
            continue;
        }
        let kind = f[0].chars().next().unwrap_or(' ');
        if !"dl-?".contains(kind) || !f[0][1..].chars().all(|c| "rwxstah-".contains(c)) {
            continue;
        }
        let Ok(size) = f[3].parse() else { continue };
        out.push(ZipMember {
            kind,
            perms: f[0][1..].to_string(),
            size,
            time: f[6].to_string(),
            name: f[7].to_string(),
        });
    }
    out
}

/// CRC-32 by member name from `unzip -v`.
pub(super) fn parse_unzip_v(text: &str) -> std::collections::HashMap<String, u32> {
    let mut out = std::collections::HashMap::new();
    for line in text.lines() {
        let mut rest = line.trim_start();
        let mut words = Vec::new();
        while words.len() < 7 {
            let Some(i) = rest.find(char::is_whitespace) else { break };
            words.push(&rest[..i]);
            rest = rest[i..].trim_start();
        }
        if words.len() == 7 && words[6].len() == 8 {
            if let Ok(crc) = u32::from_str_radix(words[6], 16) {
                out.insert(rest.to_string(), crc);
            }
        }
    }
    out
}

/// Unix permissions of a zip member (umask 0 for Unix ones, as on Linux; FAT ones as Ansible
/// maps them, with `umask`).
pub(super) fn zip_mode(m: &ZipMember, umask: u32) -> u32 {
    let (perms, mask) = match m.perms.len() {
        6 if m.name.ends_with('/') || m.perms == "rwx---" => ("rwxrwxrwx".to_string(), umask),
        6 => ("rw-rw-rw-".to_string(), umask),
        7 if m.perms == "rwxa---" => ("rwxrwxrwx".to_string(), umask),
        7 => ("rw-rw-rw-".to_string(), umask),
        _ => (m.perms.clone(), 0),
    };
    let mut mode = 0;
    for (i, c) in perms.chars().rev().enumerate().take(9) {
        if "rwxst".contains(c) {
            mode |= 1 << i;
        }
    }
    mode & !mask
}

/// `YYYYmmdd.HHMMSS` (target local time) to seconds, with the target's UTC offset in seconds.
pub(super) fn zip_time(t: &str, offset: i64) -> Option<i64> {
    let n = |a: usize, b: usize| t.get(a..b)?.parse::<i64>().ok();
    let (y, mo, d, h, mi, s) = (n(0, 4)?, n(4, 6)?, n(6, 8)?, n(9, 11)?, n(11, 13)?, n(13, 15)?);
    let y = y.clamp(1980, 2107);
    // Days from the civil date (Howard Hinnant's algorithm).
    let (yy, m) = if mo <= 2 { (y - 1, mo + 9) } else { (y, mo - 3) };
    let era = yy.div_euclid(400);
    let yoe = yy - era * 400;
    let doy = (153 * m + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146097 + doe - 719468;
    Some(days * 86400 + h * 3600 + mi * 60 + s - offset)
}

/// One line per member of the zip: its state under dest (`stat` fields and a CRC-32 from the
/// gzip trailer), or `missing`. Member names come on stdin, one per line.
pub(super) fn zip_state_command(dest: &str) -> Sh {
    Sh::lit("D=").glued(Sh::quoted(dest)).then(Sh::lit(concat!(
        "printf 'tz %s\\n' \"$(date +%z)\"; printf 'umask %s\\n' \"$(umask)\"; ",
        "while IFS= read -r n; do p=\"$D/$n\"; ",
        "if [ ! -e \"$p\" ] && [ ! -L \"$p\" ]; then printf 'missing\\t%s\\n' \"$n\"; continue; fi; ",
        "printf 'st\\t%s\\t%s\\n' \"$n\" \"$(stat -c '%f %s %Y %U %G %u %g' -- \"$p\")\"; ",
        "if [ -f \"$p\" ] && [ ! -L \"$p\" ]; then ",
        "printf 'crc\\t%s\\t%s\\n' \"$n\" \"$(gzip -c < \"$p\" | tail -c 8 | od -An -tu1 | tr -s ' \\n' '  ')\"; fi; ",
        "done",
    )))
}

#[derive(Debug, Default)]
pub(super) struct TargetState {
    pub(super) raw_mode: u32,
    pub(super) size: u64,
    pub(super) mtime: i64,
    pub(super) owner: String,
    pub(super) group: String,
    pub(super) uid: u32,
    pub(super) gid: u32,
    pub(super) crc: Option<u32>,
}

pub(super) fn parse_zip_state(text: &str) -> (i64, u32, std::collections::HashMap<String, Option<TargetState>>) {
    let mut offset = 0;
    let mut umask = 0o022;
    let mut map = std::collections::HashMap::new();
    for line in text.lines() {
        if let Some(z) = line.strip_prefix("tz ") {
            let sign = if z.starts_with('-') { -1 } else { 1 };
            let d = z.trim_start_matches(['+', '-']);
            let h: i64 = d.get(0..2).and_then(|x| x.parse().ok()).unwrap_or(0);
            let m: i64 = d.get(2..4).and_then(|x| x.parse().ok()).unwrap_or(0);
            offset = sign * (h * 3600 + m * 60);
            continue;
        }
        if let Some(u) = line.strip_prefix("umask ") {
            umask = u32::from_str_radix(u.trim(), 8).unwrap_or(0o022);
            continue;
        }
        let f: Vec<&str> = line.splitn(3, '\t').collect();
        match f.as_slice() {
            ["missing", n] => {
                map.insert(n.to_string(), None);
            }
            ["st", n, s] => {
                let w: Vec<&str> = s.split(' ').collect();
                if w.len() == 7 {
                    let st = TargetState {
                        raw_mode: u32::from_str_radix(w[0], 16).unwrap_or(0),
                        size: w[1].parse().unwrap_or(0),
                        mtime: w[2].parse().unwrap_or(0),
                        owner: w[3].to_string(),
                        group: w[4].to_string(),
                        uid: w[5].parse().unwrap_or(0),
                        gid: w[6].parse().unwrap_or(0),
                        crc: None,
                    };
                    map.insert(n.to_string(), Some(st));
                }
            }
            ["crc", n, bytes] => {
                let b: Vec<u32> = bytes.split_whitespace().filter_map(|x| x.parse().ok()).collect();
                if b.len() >= 4 {
                    let crc = b[0] | b[1] << 8 | b[2] << 16 | b[3] << 24;
                    if let Some(Some(st)) = map.get_mut(*n) {
                        st.crc = Some(crc);
                    }
                }
            }
            _ => {}
        }
    }
    (offset, umask, map)
}

/// Whether a zip member is not as the archive has it under dest (ansible-core's checks).
pub(super) fn zip_member_differs(
    m: &ZipMember,
    st: &TargetState,
    crcs: &std::collections::HashMap<String, u32>,
    cx: &ZipCx,
) -> bool {
    let ftype = st.raw_mode & 0o170000;
    let (is_dir, is_reg, is_lnk) = (ftype == 0o040000, ftype == 0o100000, ftype == 0o120000);
    let want = if m.name.ends_with('/') {
        'd'
    } else if m.kind == 'l' {
        'L'
    } else {
        'f'
    };
    match want {
        'd' if !is_dir => return true,
        'f' if !is_reg => return true,
        'L' if !is_lnk => return true,
        _ => {}
    }
    if is_reg {
        let t = zip_time(&m.time, cx.offset).unwrap_or(0);
        if cx.keep_newer {
            if t > st.mtime {
                return true;
            }
        } else if t != st.mtime {
            return true;
        }
        if m.size != st.size {
            return true;
        }
        if crcs.get(&m.name).is_some_and(|c| Some(*c) != st.crc) {
            return true;
        }
    }
    if want != 'L' {
        let mode = match &cx.mode {
            Some(md) => md.resolve(st.raw_mode & 0o7777, is_dir, cx.umask),
            None if m.kind == '?' => zip_mode(m, 0),
            None => zip_mode(m, cx.umask),
        };
        if mode != st.raw_mode & 0o7777 {
            return true;
        }
    }
    !matches_id(&cx.owner, st.uid, &st.owner) || !matches_id(&cx.group, st.gid, &st.group)
}

pub(super) struct ZipCx {
    pub(super) offset: i64,
    pub(super) umask: u32,
    pub(super) keep_newer: bool,
    pub(super) mode: Option<Mode>,
    pub(super) owner: String,
    pub(super) group: String,
}
