//! `stat`: reads a path's attributes (one command; never changes anything).
//!
//! Arguments (as in Ansible): `path` (aliases `dest`, `name`, required), `follow` (default
//! false), `get_checksum` (default true), `checksum_algorithm` (aliases `checksum`,
//! `checksum_algo`; `sha1` default, also md5, sha224, sha256, sha384, sha512). `get_mime`,
//! `get_attributes` are accepted and ignored.
//!
//! Registers `stat` with `exists`, `path`, `isdir`, `isreg`, `islnk`, `lnk_target`/`lnk_source`
//! (links), `mode` (`"0644"`), `size`, `uid`, `gid`, `owner` and `pw_name`, `group` and
//! `gr_name`, `mtime`, `atime`, `inode`, `nlink`, `readable`, `writeable`, `executable`,
//! `checksum` (regular files).
//!
//! ```yaml
//! - stat: { path: /etc/app.conf, checksum_algorithm: sha256 }
//!   register: conf
//! - debug: msg="missing"
//!   when: not conf.stat.exists
//! ```

use super::{checksum_tool, probe, Kind, ALGORITHMS};
use crate::util::octal;
use async_trait::async_trait;
use indexmap::IndexMap;
use minijinja::Value;
use prov_core::args::lenient_bool;
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
    /// Accepted, ignored.
    #[serde(default)]
    pub get_mime: Option<Value>,
    /// Accepted, ignored.
    #[serde(default)]
    pub get_attributes: Option<Value>,
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
        let st = probe(cx, &args.path, tool, args.follow).await?;
        let mut m: IndexMap<String, Value> = IndexMap::new();
        m.insert("exists".into(), Value::from(st.is_some()));
        if let Some(s) = st {
            let mut put = |k: &str, v: Value| {
                m.insert(k.to_string(), v);
            };
            put("path", Value::from(args.path.as_str()));
            put("isdir", Value::from(s.kind == Kind::Dir));
            put("isreg", Value::from(s.kind == Kind::File));
            put("islnk", Value::from(s.kind == Kind::Link));
            if let Some(l) = &s.link {
                put("lnk_target", Value::from(l.as_str()));
                put("lnk_source", Value::from(l.as_str()));
            }
            put("mode", Value::from(octal(s.mode)));
            put("size", Value::from(s.size));
            put("uid", Value::from(s.uid));
            put("gid", Value::from(s.gid));
            put("owner", Value::from(s.owner.as_str()));
            put("pw_name", Value::from(s.owner.as_str()));
            put("group", Value::from(s.group.as_str()));
            put("gr_name", Value::from(s.group.as_str()));
            put("mtime", Value::from(s.mtime));
            put("atime", Value::from(s.atime));
            put("inode", Value::from(s.inode));
            put("nlink", Value::from(s.nlink));
            put("readable", Value::from(s.readable));
            put("writeable", Value::from(s.writeable));
            put("executable", Value::from(s.executable));
            if let Some(c) = &s.checksum {
                put("checksum", Value::from(c.as_str()));
            }
        }
        Ok(Plan::Ok(Outcome::ok().with("stat", Value::from_pairs(m))))
    }

    async fn apply(&self, _: &Args, _: (), _: &ModuleCtx<'_>) -> Result<Outcome, ModuleError> {
        Ok(Outcome::ok())
    }
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
        let h = fake(FakeConnection::new().on("P=", 0, "stat 81a4 640 0 4 6 1 1 1 1 root adm\naccess rw\nsum abc\n"));
        let o = run::<Stat>(json!({"path": "/f"}), &h.ctx()).await;
        assert!(!o.changed);
        assert_eq!(field(&o, "exists"), Value::from(true));
        assert_eq!(field(&o, "mode"), Value::from("0640"));
        assert_eq!(field(&o, "gr_name"), Value::from("adm"));
        assert_eq!(field(&o, "checksum"), Value::from("abc"));
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
}
