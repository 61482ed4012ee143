//! The text of `/etc/fstab` as `ansible.posix.mount` reads and writes it, and the kernel's table
//! of mounts (`/proc/self/mountinfo`). Pure functions: no I/O.
//!
//! What ansible.posix 12.3's `mount` does, observed on the same files (the tests below hold it):
//! - an entry is a line with 4 to 6 white-space separated fields before its first `#` (the rest
//!   is a comment); other lines are never touched;
//! - the entry for a mount point is every such line whose second field is the path, written with
//!   `\` as `\134` and a space as `\040` (nothing else is escaped, and fields are compared as
//!   they are written);
//! - a line whose fields differ from the wanted ones is replaced whole by
//!   `src path fstype opts dump passno` (a missing dump or passno differs; a trailing comment is
//!   lost), every other byte of the file stays as it was;
//! - a new entry is appended, after a newline when the file does not end with one.

use crate::files::edit::split_lines;

/// `\` as `\134` and a space as `\040`, in that order, as the module writes a field.
pub(crate) fn escape(field: &str) -> String {
    field.replace('\\', "\\134").replace(' ', "\\040")
}

/// `\NNN` octal escapes decoded (the kernel writes `\040`, `\011`, `\012`, `\134` in mountinfo).
pub(crate) fn unescape(field: &str) -> String {
    let b = field.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let oct = b.get(i + 1..i + 4).filter(|d| b[i] == b'\\' && d.iter().all(|c| (b'0'..=b'7').contains(c)));
        match oct {
            Some(d) => {
                let v = d.iter().fold(0u32, |acc, c| acc * 8 + u32::from(c - b'0'));
                out.push(u8::try_from(v).unwrap_or(b'?'));
                i += 4;
            }
            None => {
                out.push(b[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// One wanted entry, its fields as they are written in the file (escaped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    /// `src path fstype opts dump passno`.
    pub fields: [String; 6],
}

impl Entry {
    /// The entry of these (unescaped) values.
    pub(crate) fn new(src: &str, path: &str, fstype: &str, opts: &str, dump: &str, passno: &str) -> Entry {
        Entry {
            fields: [escape(src), escape(path), escape(fstype), escape(opts), dump.to_string(), passno.to_string()],
        }
    }

    /// The line the module writes.
    pub(crate) fn line(&self) -> Vec<u8> {
        format!("{}\n", self.fields.join(" ")).into_bytes()
    }
}

/// The fields of an entry line (what comes before the first `#`), or `None` for a comment, a
/// blank or a malformed line.
fn fields(line: &[u8]) -> Option<Vec<&str>> {
    let text = std::str::from_utf8(line).ok()?;
    let t = text.split('#').next().unwrap_or_default();
    let f: Vec<&str> = t.split_whitespace().collect();
    (4..=6).contains(&f.len()).then_some(f)
}

/// Whether a line is an entry for the (escaped) mount point.
fn is_for(line: &[u8], path: &str) -> bool {
    fields(line).is_some_and(|f| f[1] == path)
}

/// Whether the file has an entry for the mount point (`path` unescaped).
pub(crate) fn has_entry(data: &[u8], path: &str) -> bool {
    let p = escape(path);
    split_lines(data).iter().any(|l| is_for(l, &p))
}

/// The file with `want` as the entry of its mount point.
pub(crate) fn set_entry(data: &[u8], want: &Entry) -> Vec<u8> {
    let mut found = false;
    let mut lines: Vec<Vec<u8>> = split_lines(data)
        .into_iter()
        .map(|l| match fields(&l) {
            Some(f) if f[1] == want.fields[1] => {
                found = true;
                if f.iter().copied().eq(want.fields.iter().map(String::as_str)) {
                    l
                } else {
                    want.line()
                }
            }
            _ => l,
        })
        .collect();
    if !found {
        if let Some(last) = lines.last_mut().filter(|l| !l.ends_with(b"\n")) {
            last.push(b'\n');
        }
        lines.push(want.line());
    }
    lines.concat()
}

/// The file without the entries of the mount point (`path` unescaped).
pub(crate) fn remove_entry(data: &[u8], path: &str) -> Vec<u8> {
    let p = escape(path);
    split_lines(data).into_iter().filter(|l| !is_for(l, &p)).collect::<Vec<_>>().concat()
}

/// One mount of `/proc/self/mountinfo`: where, and what is mounted there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Mounted {
    /// The mount point.
    pub target: String,
    /// The mount source (`tmpfs`, `/dev/sdb1`, `server:/export`).
    pub source: String,
}

/// The mounts listed in mountinfo text (malformed lines are skipped).
pub(crate) fn parse_mountinfo(text: &str) -> Vec<Mounted> {
    text.lines()
        .filter_map(|l| {
            let (head, tail) = l.split_once(" - ")?;
            let target = head.split(' ').nth(4)?;
            let source = tail.split(' ').nth(1)?;
            Some(Mounted { target: unescape(target), source: unescape(source) })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(src: &str, path: &str) -> Entry {
        Entry::new(src, path, "ext4", "defaults", "0", "0")
    }

    fn set(before: &str, want: &Entry) -> String {
        String::from_utf8(set_entry(before.as_bytes(), want)).expect("utf-8")
    }

    // The expected texts are what ansible.posix.mount (ansible 12.3) wrote for the same files.
    #[test]
    fn fields_are_written_with_backslash_then_space_escaped() {
        let w = Entry::new("a\\b", "/srv/x\\ y", "ext 4", "user=a b", "1", "2");
        assert_eq!(set("", &w), "a\\134b /srv/x\\134\\040y ext\\0404 user=a\\040b 1 2\n");
    }

    #[test]
    fn an_entry_with_the_same_fields_is_kept_byte_for_byte() {
        let before = "/dev/sdb1\t/srv/tabs   ext4 defaults\t0 0\n   /dev/x   /srv/lead ext4 defaults 0 0\n";
        assert_eq!(set(before, &e("/dev/sdb1", "/srv/tabs")), before);
        assert_eq!(set(before, &e("/dev/x", "/srv/lead")), before);
    }

    #[test]
    fn a_differing_entry_is_replaced_in_place_and_other_lines_stay() {
        let before = "# head\n/dev/sdc1 /srv/data ext4 defaults 0 2 # trailing comment\nshort line\n   \nlast";
        let want = Entry::new("/dev/sdc1", "/srv/data", "ext4", "noatime,ro", "0", "0");
        assert_eq!(set(before, &want), "# head\n/dev/sdc1 /srv/data ext4 noatime,ro 0 0\nshort line\n   \nlast");
    }

    #[test]
    fn every_entry_of_the_mount_point_is_replaced() {
        let before = "/dev/sde1 /srv/dup xfs defaults 0 0\n/dev/sde9 /srv/dup xfs ro 0 0\n";
        let want = Entry::new("/dev/sde1", "/srv/dup", "xfs", "defaults", "0", "0");
        assert_eq!(set(before, &want), "/dev/sde1 /srv/dup xfs defaults 0 0\n/dev/sde1 /srv/dup xfs defaults 0 0\n");
    }

    #[test]
    fn entries_without_dump_or_passno_differ_and_malformed_lines_are_not_entries() {
        let before = "/dev/x /srv/four ext4 defaults\n/dev/x /srv/seven ext4 defaults 0 0 extra\n  # /dev/x /srv/cm ext4 defaults 0 0\n/dev/x /srv/three ext4\n";
        assert_eq!(
            set(before, &e("/dev/x", "/srv/four")),
            before.replace("/srv/four ext4 defaults\n", "/srv/four ext4 defaults 0 0\n")
        );
        for p in ["/srv/seven", "/srv/cm", "/srv/three"] {
            assert_eq!(set(before, &e("/dev/x", p)), format!("{before}/dev/x {p} ext4 defaults 0 0\n"), "{p}");
        }
    }

    #[test]
    fn what_follows_a_hash_is_a_comment_wherever_it_is() {
        let before = "x /srv/nc ext4 defaults 0 0#c\n";
        assert_eq!(set(before, &e("x", "/srv/nc")), before);
        let with_hash = set("", &e("x", "/srv/a#b"));
        assert_eq!(with_hash, "x /srv/a#b ext4 defaults 0 0\n");
        assert!(!has_entry(with_hash.as_bytes(), "/srv/a#b"), "Ansible cannot read back what it wrote");
    }

    #[test]
    fn a_new_entry_goes_after_a_newline_at_the_end() {
        assert_eq!(set("last-no-newline", &e("x", "/m")), "last-no-newline\nx /m ext4 defaults 0 0\n");
        assert_eq!(set("", &e("x", "/m")), "x /m ext4 defaults 0 0\n");
    }

    #[test]
    fn a_path_is_matched_as_written_escaped() {
        let before = "x /srv/s\\040p ext4 defaults 0 0\nx /srv/slash ext4 defaults 0 0\n";
        assert!(has_entry(before.as_bytes(), "/srv/s p"));
        assert!(!has_entry(before.as_bytes(), "/srv/slash/"), "no normalisation of the path");
        assert_eq!(
            String::from_utf8(remove_entry(before.as_bytes(), "/srv/s p")).unwrap(),
            "x /srv/slash ext4 defaults 0 0\n"
        );
    }

    #[test]
    fn mountinfo_targets_and_sources_are_unescaped() {
        let text = "22 27 0:21 / /proc rw,relatime - proc proc rw\n\
                    99 27 0:50 / /tmp/a\\040b rw,relatime shared:1 - tmpfs my\\040tmp rw,size=1024k\n";
        let m = parse_mountinfo(text);
        assert_eq!(m[1], Mounted { target: "/tmp/a b".into(), source: "my tmp".into() });
        assert_eq!(m[0].target, "/proc");
        assert_eq!(unescape("a\\134b\\011c\\9"), "a\\b\tc\\9");
    }
}
