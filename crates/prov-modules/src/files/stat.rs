//! `stat`: reads a path's attributes (one command; never changes anything).
//!
//! Arguments (as in Ansible): `path` (aliases `dest`, `name`, required), `follow` (default
//! false), `get_checksum` (default true), `checksum_algorithm` (aliases `checksum`,
//! `checksum_algo`; `sha1` default, also md5, sha224, sha256, sha384, sha512), `get_mime`
//! (aliases `mime`, `mime_type`, `mime-type`, default true), `get_attributes` (aliases `attr`,
//! `attributes`, default true).
//!
//! Registers `stat` with ansible-core's keys: `exists`, `path`, `mode` (`"0644"`), `isdir`,
//! `ischr`, `isblk`, `isreg`, `isfifo`, `islnk`, `issock`, `uid`, `gid`, `size`, `inode`, `dev`,
//! `nlink`, `atime`/`mtime`/`ctime` (floats), the permission bits `rusr` ... `xoth`, `isuid`,
//! `isgid`, `blocks`, `block_size`, `device_type`, `readable`, `writeable`, `executable`,
//! `lnk_target` and `lnk_source` (the real path) for links, `pw_name`, `gr_name`, `checksum`
//! (regular files); `mimetype` and `charset` (`get_mime`, from the target's `file` command;
//! `unknown` without it); `version`, `attributes` and `attr_flags` (`get_attributes`, from
//! `lsattr`; none, `[]` and `""` where it has nothing).
//!
//! ```yaml
//! - stat: { path: /etc/app.conf, checksum_algorithm: sha256 }
//!   register: conf
//! - debug: msg="missing"
//!   when: not conf.stat.exists
//! ```

use super::{checksum_tool, parse_probe, probe_command, Kind, ALGORITHMS};
use crate::util::{octal, probe_failed};
use async_trait::async_trait;
use indexmap::IndexMap;
use minijinja::Value;
use prov_core::args::lenient_bool;
use prov_core::cmd::Sh;
use prov_core::module::{Module, ModuleCtx, ModuleError, Outcome, Plan};
use serde::Deserialize;

fn yes() -> bool {
    true
}

fn sha1() -> String {
    "sha1".into()
}

/// Arguments of `stat`.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Args {
    /// The path.
    #[serde(alias = "dest", alias = "name")]
    pub path: String,
    /// Follow symbolic links.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub follow: bool,
    /// Compute a checksum of regular files.
    #[serde(default = "yes", deserialize_with = "lenient_bool")]
    pub get_checksum: bool,
    /// Checksum algorithm.
    #[serde(default = "sha1", alias = "checksum", alias = "checksum_algo")]
    pub checksum_algorithm: String,
    /// Report `mimetype` and `charset` (from the target's `file` command; `unknown` without it).
    #[serde(
        default = "yes",
        alias = "mime",
        alias = "mime_type",
        alias = "mime-type",
        deserialize_with = "lenient_bool"
    )]
    pub get_mime: bool,
    /// Report `version`, `attributes` and `attr_flags` (from the target's `lsattr`).
    #[serde(default = "yes", alias = "attr", alias = "attributes", deserialize_with = "lenient_bool")]
    pub get_attributes: bool,
    /// Accepted, ignored.
    #[serde(default)]
    pub get_md5: Option<Value>,
}

/// The `stat` module.
#[derive(Debug, Default)]
pub struct Stat;

#[async_trait]
impl Module for Stat {
    const NAME: &'static str = "stat";
    const PATH_ARGS: &'static [&'static str] = &["path", "dest", "name"];
    type Args = Args;
    type Plan = ();

    fn check_args(args: &Args) -> Result<(), String> {
        if !ALGORITHMS.contains(&args.checksum_algorithm.as_str()) {
            return Err(format!("checksum_algorithm must be one of {}", ALGORITHMS.join(", ")));
        }
        Ok(())
    }

    async fn plan(&self, args: &Args, cx: &ModuleCtx<'_>) -> Result<Plan<()>, ModuleError> {
        let tool = if args.get_checksum { checksum_tool(&args.checksum_algorithm) } else { None };
        let cmd = probe_command(&args.path, tool, args.follow).then(extra_command(args));
        let out = cx.exec(cmd).await?;
        if out.rc != 0 {
            return Err(probe_failed(&format!("reading the state of {}", args.path), &out));
        }
        let text = out.stdout_str();
        let st = parse_probe(&text).map_err(|e| ModuleError::Failed(format!("{}: {e}", args.path)))?;
        let mut m: IndexMap<String, Value> = IndexMap::new();
        m.insert("exists".into(), Value::from(st.is_some()));
        if let Some(s) = st {
            let x = Extra::parse(&text).map_err(|e| ModuleError::Failed(format!("{}: {e}", args.path)))?;
            let mut put = |k: &str, v: Value| {
                m.insert(k.to_string(), v);
            };
            let bit = |b: u32| Value::from(s.mode & b != 0);
            put("path", Value::from(args.path.as_str()));
            put("mode", Value::from(octal(s.mode & 0o7777)));
            put("isdir", Value::from(s.kind == Kind::Dir));
            put("ischr", Value::from(x.file_type == 0o020000));
            put("isblk", Value::from(x.file_type == 0o060000));
            put("isreg", Value::from(s.kind == Kind::File));
            put("isfifo", Value::from(x.file_type == 0o010000));
            put("islnk", Value::from(s.kind == Kind::Link));
            put("issock", Value::from(x.file_type == 0o140000));
            put("uid", Value::from(s.uid));
            put("gid", Value::from(s.gid));
            put("size", Value::from(s.size));
            put("inode", Value::from(s.inode));
            put("dev", Value::from(x.dev));
            put("nlink", Value::from(s.nlink));
            put("atime", Value::from(x.atime));
            put("mtime", Value::from(x.mtime));
            put("ctime", Value::from(x.ctime));
            for &(k, b) in super::MODE_BITS {
                put(k, bit(b));
            }
            put("blocks", Value::from(x.blocks));
            put("block_size", Value::from(x.block_size));
            put("device_type", Value::from(x.rdev));
            put("readable", Value::from(s.readable));
            put("writeable", Value::from(s.writeable));
            put("executable", Value::from(s.executable));
            if let Some(l) = &s.link {
                put("lnk_source", Value::from(x.real.as_deref().unwrap_or(l.as_str())));
                put("lnk_target", Value::from(l.as_str()));
            }
            put("pw_name", Value::from(s.owner.as_str()));
            put("gr_name", Value::from(s.group.as_str()));
            if let Some(c) = s.checksum.as_ref().filter(|_| s.readable) {
                put("checksum", Value::from(c.as_str()));
            }
            if args.get_mime {
                let (mimetype, charset) = x.mime.unwrap_or(("unknown".into(), "unknown".into()));
                put("mimetype", Value::from(mimetype));
                put("charset", Value::from(charset));
            }
            if args.get_attributes {
                let (version, flags) = x.attr.map_or((None, String::new()), |(v, f)| (Some(v), f));
                put("version", version.map_or(Value::from(()), Value::from));
                let names: Vec<Value> = flags.chars().filter_map(attribute_name).map(Value::from).collect();
                put("attributes", Value::from(names));
                put("attr_flags", Value::from(flags));
            }
        }
        Ok(Plan::Ok(Outcome::ok().with("stat", Value::from_pairs(m))))
    }

    async fn apply(&self, _: &Args, _: (), _: &ModuleCtx<'_>) -> Result<Outcome, ModuleError> {
        Ok(Outcome::ok())
    }
}

/// What `stat` reads beyond the shared probe: exact times, device numbers, blocks, the real
/// path of a link, and (when asked, where the target has the tools) `file`'s MIME type and
/// `lsattr`'s attributes. Runs after the probe, which has set `P` and stopped for a missing path.
fn extra_command(args: &Args) -> Sh {
    let mut c = if args.follow {
        Sh::lit("stat -L -c 'xstat %f %.9X %.9Y %.9Z %d %r %b %o' -- \"$P\" || exit 1")
    } else {
        Sh::lit("stat -c 'xstat %f %.9X %.9Y %.9Z %d %r %b %o' -- \"$P\" || exit 1")
    };
    if !args.follow {
        c = c.then(Sh::lit("if [ -L \"$P\" ]; then printf 'real %s\\n' \"$(readlink -f -- \"$P\")\"; fi"));
    }
    if args.get_mime {
        c = c.then(Sh::lit(
            "if command -v file >/dev/null 2>&1 && m=$(file --mime-type --mime-encoding -- \"$P\" 2>/dev/null); then printf 'mime %s\\n' \"$m\"; fi",
        ));
    }
    if args.get_attributes {
        c = c.then(Sh::lit(
            "if command -v lsattr >/dev/null 2>&1 && a=$(lsattr -vd -- \"$P\" 2>/dev/null); then printf 'attr %s\\n' \"$a\"; fi",
        ));
    }
    c
}

/// The lines of [`extra_command`].
#[derive(Debug, Default)]
struct Extra {
    file_type: u32,
    atime: f64,
    mtime: f64,
    ctime: f64,
    dev: u64,
    rdev: u64,
    blocks: u64,
    block_size: u64,
    real: Option<String>,
    mime: Option<(String, String)>,
    attr: Option<(String, String)>,
}

impl Extra {
    fn parse(text: &str) -> Result<Extra, String> {
        let mut x = Extra::default();
        let mut seen = false;
        for line in text.lines() {
            let (key, rest) = line.split_once(' ').unwrap_or((line, ""));
            match key {
                "xstat" => {
                    let f: Vec<&str> = rest.split(' ').collect();
                    let bad = || format!("unexpected stat output: {line}");
                    if f.len() != 8 {
                        return Err(bad());
                    }
                    x.file_type = u32::from_str_radix(f[0], 16).map_err(|_| bad())? & 0o170000;
                    x.atime = py_time(f[1]).ok_or_else(bad)?;
                    x.mtime = py_time(f[2]).ok_or_else(bad)?;
                    x.ctime = py_time(f[3]).ok_or_else(bad)?;
                    x.dev = f[4].parse().map_err(|_| bad())?;
                    x.rdev = f[5].parse().map_err(|_| bad())?;
                    x.blocks = f[6].parse().map_err(|_| bad())?;
                    x.block_size = f[7].parse().map_err(|_| bad())?;
                    seen = true;
                }
                "real" => x.real = Some(rest.to_string()),
                // ansible-core's reading of `PATH: TYPE; charset=CHARSET`; anything else is unknown.
                "mime" => {
                    let tail = rest.rsplit_once(':').map_or(rest, |(_, t)| t);
                    if let [mimetype, charset] = tail.split(';').collect::<Vec<_>>()[..] {
                        if let Some(cs) = charset.split('=').nth(1) {
                            x.mime = Some((mimetype.trim().to_string(), cs.trim().to_string()));
                        }
                    }
                }
                "attr" => {
                    let mut w = rest.split_whitespace();
                    if let (Some(v), Some(f)) = (w.next(), w.next()) {
                        x.attr = Some((v.to_string(), f.replace('-', "")));
                    }
                }
                _ => {}
            }
        }
        if !seen {
            return Err(format!("unexpected output from stat: {}", text.trim()));
        }
        Ok(x)
    }
}

/// `SECONDS.NANOSECONDS` as Python's `st_mtime` float: `sec + nsec * 1e-9` in doubles.
fn py_time(s: &str) -> Option<f64> {
    let (sec, nsec) = s.split_once('.').unwrap_or((s, "0"));
    let negative = sec.starts_with('-');
    let sec: i64 = sec.parse().ok()?;
    let nsec: u64 = format!("{nsec:0<9}").get(..9)?.parse().ok()?;
    // `-1.5` is -1 second and half a second more before it.
    let frac = nsec as f64 * 1e-9;
    Some(if negative { sec as f64 - frac } else { sec as f64 + frac })
}

/// ansible-core's names of `lsattr`'s flags (module_utils' FILE_ATTRIBUTES); flags without a
/// name are left out, as there.
fn attribute_name(flag: char) -> Option<&'static str> {
    Some(match flag {
        'A' => "noatime",
        'a' => "append",
        'c' => "compressed",
        'C' => "nocow",
        'd' => "nodump",
        'D' => "dirsync",
        'e' => "extents",
        'E' => "encrypted",
        'h' => "blocksize",
        'i' => "immutable",
        'I' => "indexed",
        'j' => "journalled",
        'N' => "inline",
        's' => "zero",
        'S' => "synchronous",
        't' => "notail",
        'T' => "blockroot",
        'u' => "undelete",
        'X' => "compressedraw",
        'Z' => "compresseddirty",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;
    use prov_core::testutil::FakeConnection;
    use serde_json::json;

    fn field(o: &Outcome, k: &str) -> Value {
        o.data["stat"].get_attr(k).unwrap()
    }

    #[tokio::test]
    async fn existing_file() {
        let h = fake(FakeConnection::new().on("P=", 0, "stat 81a4 640 0 4 6 1 1 1 1 root adm\naccess rw\nsum abc\nxstat 81a4 1.5 2.000000001 3 64768 0 8 4096\nmime /f: text/plain; charset=us-ascii\nattr 42 --------------e------- /f\n"));
        let o = run::<Stat>(json!({"path": "/f"}), &h.ctx()).await;
        assert!(!o.changed);
        assert_eq!(field(&o, "exists"), Value::from(true));
        assert_eq!(field(&o, "mode"), Value::from("0640"));
        assert_eq!(field(&o, "gr_name"), Value::from("adm"));
        assert_eq!(field(&o, "checksum"), Value::from("abc"));
        assert_eq!(field(&o, "mtime"), Value::from(2.000000001));
        assert_eq!(field(&o, "dev"), Value::from(64768));
        assert_eq!(field(&o, "mimetype"), Value::from("text/plain"));
        assert_eq!(field(&o, "charset"), Value::from("us-ascii"));
        assert_eq!(field(&o, "version"), Value::from("42"));
        assert_eq!(field(&o, "attributes").to_string(), "['extents']");
        assert_eq!(field(&o, "attr_flags"), Value::from("e"));
        assert!(h.conn.calls()[0].contains("sha1sum"));
    }

    #[tokio::test]
    async fn absent_and_check_mode() {
        let h = fake_check(FakeConnection::new().on("P=", 0, "absent\n"));
        let o = run::<Stat>(json!({"path": "/f", "get_checksum": false}), &h.ctx()).await;
        assert!(!o.changed && !o.skipped);
        assert_eq!(field(&o, "exists"), Value::from(false));
        assert!(!h.conn.calls()[0].contains("sum"));
    }

    #[tokio::test]
    async fn bad_algorithm_and_probe_failure() {
        let h = fake(FakeConnection::new().on("P=", 1, ""));
        assert!(run_err::<Stat>(json!({"path": "/f", "checksum_algorithm": "crc"}), &h.ctx()).await.contains("one of"));
        assert!(run_err::<Stat>(json!({"path": "/f"}), &h.ctx()).await.contains("failed"));
    }

    #[tokio::test]
    async fn local_stat() {
        let h = LocalHost::new();
        let p = h.path("f");
        std::fs::write(&p, "hello\n").unwrap();
        std::os::unix::fs::symlink(&p, h.path("l")).unwrap();
        let o = run::<Stat>(json!({"path": p, "checksum": "sha256"}), &h.ctx()).await;
        assert_eq!(field(&o, "isreg"), Value::from(true));
        assert_eq!(field(&o, "size"), Value::from(6));
        assert_eq!(field(&o, "checksum"), Value::from(crate::files::sha256_hex(b"hello\n")));
        let o = run::<Stat>(json!({"path": h.path("l")}), &h.ctx()).await;
        assert_eq!(field(&o, "islnk"), Value::from(true));
        assert_eq!(field(&o, "lnk_target"), Value::from(p.as_str()));
        let o = run::<Stat>(json!({"path": h.path("l"), "follow": true}), &h.ctx()).await;
        assert_eq!(field(&o, "isreg"), Value::from(true));
        let o = run::<Stat>(json!({"path": h.dir.path()}), &h.ctx()).await;
        assert_eq!(field(&o, "isdir"), Value::from(true));
        let o = run::<Stat>(json!({"path": h.path("nope")}), &h.ctx()).await;
        assert_eq!(field(&o, "exists"), Value::from(false));
    }

    /// The keys ansible-core 2.19's stat returns for a regular file on this machine (Debian 12,
    /// `file` and `lsattr` installed), and its values for /dev/null.
    #[tokio::test]
    async fn local_stat_has_ansible_cores_keys() {
        let h = LocalHost::new();
        let p = h.path("f");
        std::fs::write(&p, "hello world").unwrap();
        let o = run::<Stat>(json!({"path": p}), &h.ctx()).await;
        let mut keys: Vec<String> =
            o.data["stat"].try_iter().unwrap().map(|k| k.as_str().unwrap().to_string()).collect();
        keys.sort();
        let ansible = "atime attr_flags attributes block_size blocks charset checksum ctime dev device_type \
            executable exists gid gr_name inode isblk ischr isdir isfifo isgid islnk isreg issock isuid \
            mimetype mode mtime nlink path pw_name readable rgrp roth rusr size uid version wgrp woth \
            writeable wusr xgrp xoth xusr";
        assert_eq!(keys.join(" "), ansible.split_whitespace().collect::<Vec<_>>().join(" "));
        assert_eq!(field(&o, "checksum"), Value::from("2aae6c35c94fcfb415dbe95f408b9ce91ee846ed"));
        assert_eq!(field(&o, "mimetype"), Value::from("text/plain"));
        assert_eq!(field(&o, "charset"), Value::from("us-ascii"));
        assert!(field(&o, "mtime").as_i64().is_none(), "a float, as Python's st_mtime");
        let o = run::<Stat>(json!({"path": "/dev/null"}), &h.ctx()).await;
        assert_eq!(field(&o, "ischr"), Value::from(true));
        assert_eq!(field(&o, "device_type"), Value::from(259));
        assert_eq!(field(&o, "mode"), Value::from("0666"));
        assert_eq!(field(&o, "mimetype"), Value::from("inode/chardevice"));
        assert_eq!(field(&o, "charset"), Value::from("binary"));
        assert_eq!(field(&o, "version"), Value::from(()));
        assert_eq!(field(&o, "attr_flags"), Value::from(""));
        // A link's source is the real path it resolves to.
        std::os::unix::fs::symlink("f", h.path("rel")).unwrap();
        let o = run::<Stat>(json!({"path": h.path("rel"), "get_mime": false, "get_attributes": false}), &h.ctx()).await;
        assert_eq!(field(&o, "lnk_target"), Value::from("f"));
        assert_eq!(field(&o, "lnk_source"), Value::from(std::fs::canonicalize(&p).unwrap().display().to_string()));
        assert!(o.data["stat"].get_attr("mimetype").unwrap().is_undefined());
    }

    #[test]
    fn times_read_as_python_floats() {
        // Python: 1796320886 + 253166700 * 1e-9 == 1796320886.2531667
        assert_eq!(py_time("1796320886.253166700"), Some(1796320886.2531667));
        assert_eq!(py_time("5"), Some(5.0));
        assert_eq!(py_time("x"), None);
        assert_eq!(py_time("-1.500000000"), Some(-1.5));
    }
}
