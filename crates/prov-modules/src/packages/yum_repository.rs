//! `yum_repository`: adds or removes a repository section of a `.repo` file in
//! `/etc/yum.repos.d`, as ansible-core's module writes it (Python's RawConfigParser format).
//!
//! Arguments (as in Ansible): `name` (the section), `description` (its `name =`; required with
//! `state: present`, with one of `baseurl`, `mirrorlist`, `metalink`), `file` (default: `name`),
//! `reposdir` (default `/etc/yum.repos.d`, must exist), `state` (`present`, `absent`), `mode`,
//! `owner`, `group`, and the repository options it writes as they are named: `async`,
//! `bandwidth`, `baseurl` (a list: one per line), `cost`, `countme`,
//! `deltarpm_metadata_percentage`, `deltarpm_percentage`, `enabled`, `enablegroups`, `exclude`
//! (alias `excludepkgs`; a list, space-separated), `failovermethod`, `gpgcakey`, `gpgcheck`,
//! `gpgkey` (a list), `http_caching`, `include`, `includepkgs`, `ip_resolve`, `keepalive`,
//! `keepcache`, `metadata_expire`, `metadata_expire_filter`, `metalink`, `mirrorlist`,
//! `mirrorlist_expire`, `module_hotfixes`, `password`, `priority`, `protect`, `proxy`,
//! `proxy_password`, `proxy_username`, `repo_gpgcheck`, `retries`, `s3_enabled`,
//! `skip_if_unavailable`, `sslcacert` (alias `ca_cert`), `ssl_check_cert_permissions`,
//! `sslclientcert` (`client_cert`), `sslclientkey` (`client_key`), `sslverify`
//! (`validate_certs`), `throttle`, `timeout`, `ui_repoid_vars`, `username`. Booleans are
//! written `1`/`0`.
//!
//! The section is replaced whole (its options sorted), other sections are kept, and a file
//! left without sections is deleted. Whether it changed compares the file's sections and
//! options sorted, as ansible-core does. Registers `repo`, `state` and `diff` (`before` and
//! `after` of the file, sorted).
//!
//! ```yaml
//! - yum_repository:
//!     name: epel
//!     description: EPEL YUM repo
//!     baseurl: https://download.fedoraproject.org/pub/epel/$releasever/$basearch/
//!     gpgcheck: true
//! ```

use crate::files::{edit, Attrs};
use async_trait::async_trait;
use minijinja::Value;
use prov_core::args::Mode;
use prov_core::args::{lenient_opt_bool, StringList};
use prov_core::cmd::Cmd;
use prov_core::module::{Action, Change, Module, ModuleCtx, ModuleError, Outcome, Plan};
use serde::Deserialize;

fn reposdir() -> String {
    "/etc/yum.repos.d".into()
}

macro_rules! repo_args {
    (strings: [$($s:ident),*], bools: [$($b:ident),*]) => {
        /// Arguments of `yum_repository`.
        #[derive(Debug, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct Args {
            /// The repository id (the section).
            pub name: String,
            /// Its description (`name =` in the file).
            #[serde(default, deserialize_with = "crate::util::stringish")]
            pub description: Option<String>,
            /// The file's name without `.repo`.
            #[serde(default, deserialize_with = "crate::util::stringish")]
            pub file: Option<String>,
            /// The directory of the file.
            #[serde(default = "reposdir")]
            pub reposdir: String,
            /// `present` or `absent`.
            #[serde(default)]
            pub state: Option<String>,
            /// Mode of the file.
            #[serde(default)]
            pub mode: Option<Mode>,
            /// Owner of the file.
            #[serde(default, deserialize_with = "crate::util::stringish")]
            pub owner: Option<String>,
            /// Group of the file.
            #[serde(default, deserialize_with = "crate::util::stringish")]
            pub group: Option<String>,
            /// URLs, one per line in the file.
            #[serde(default)]
            pub baseurl: Option<StringList>,
            /// Keys, one per line in the file.
            #[serde(default)]
            pub gpgkey: Option<StringList>,
            /// Packages left out, space-separated in the file.
            #[serde(default, alias = "excludepkgs")]
            pub exclude: Option<StringList>,
            /// Packages only, space-separated in the file.
            #[serde(default)]
            pub includepkgs: Option<StringList>,
            /// CA certificate.
            #[serde(default, alias = "ca_cert", deserialize_with = "crate::util::stringish")]
            pub sslcacert: Option<String>,
            /// Client certificate.
            #[serde(default, alias = "client_cert", deserialize_with = "crate::util::stringish")]
            pub sslclientcert: Option<String>,
            /// Client key.
            #[serde(default, alias = "client_key", deserialize_with = "crate::util::stringish")]
            pub sslclientkey: Option<String>,
            /// TLS verification.
            #[serde(default, alias = "validate_certs", deserialize_with = "lenient_opt_bool")]
            pub sslverify: Option<bool>,
            /// `async` (a Python keyword in ansible-core's spec).
            #[serde(default, rename = "async", deserialize_with = "lenient_opt_bool")]
            pub async_: Option<bool>,
            $(
                /// A repository option written as given.
                #[serde(default, deserialize_with = "crate::util::stringish")]
                pub $s: Option<String>,
            )*
            $(
                /// A repository option written `1` or `0`.
                #[serde(default, deserialize_with = "lenient_opt_bool")]
                pub $b: Option<bool>,
            )*
        }

        impl Args {
            /// The options of the section, as ansible-core sets them (sorted by name).
            fn options(&self) -> Vec<(String, String)> {
                let b = |v: bool| if v { "1".to_string() } else { "0".to_string() };
                let mut v: Vec<(String, String)> = Vec::new();
                let mut put = |k: &str, x: Option<String>| {
                    if let Some(x) = x {
                        v.push((k.to_string(), x));
                    }
                };
                put("name", self.description.clone());
                put("baseurl", self.baseurl.as_ref().map(|l| l.0.join("\n")));
                put("gpgkey", self.gpgkey.as_ref().map(|l| l.0.join("\n")));
                put("exclude", self.exclude.as_ref().map(|l| l.0.join(" ")));
                put("includepkgs", self.includepkgs.as_ref().map(|l| l.0.join(" ")));
                put("sslcacert", self.sslcacert.clone());
                put("sslclientcert", self.sslclientcert.clone());
                put("sslclientkey", self.sslclientkey.clone());
                put("sslverify", self.sslverify.map(b));
                put("async", self.async_.map(b));
                $( put(stringify!($s), self.$s.clone().map(|x| chosen(stringify!($s), x))); )*
                $( put(stringify!($b), self.$b.map(b)); )*
                v.sort();
                v
            }
        }
    };
}

/// The options ansible-core limits to choices.
const CHOICES: &[(&str, &[&str])] = &[
    ("failovermethod", &["roundrobin", "priority"]),
    ("http_caching", &["all", "packages", "none"]),
    ("ip_resolve", &["4", "6", "IPv4", "IPv6", "whatever"]),
    ("keepcache", &["0", "1"]),
    ("metadata_expire_filter", &["never", "read-only:past", "read-only:present", "read-only:future"]),
];

/// An option's value as ansible-core reads a choice: a boolean given for it (YAML's `yes`) is
/// the one choice that reads as it (`keepcache: yes` is `1`).
fn chosen(name: &str, v: String) -> String {
    match CHOICES.iter().find(|(n, _)| *n == name) {
        Some((_, c)) => prov_core::args::chosen(&v, c).to_string(),
        None => v,
    }
}

repo_args!(
    strings: [bandwidth, cost, deltarpm_metadata_percentage, deltarpm_percentage, failovermethod, gpgcakey,
        http_caching, include, ip_resolve, keepcache, metadata_expire, metadata_expire_filter, metalink, mirrorlist,
        mirrorlist_expire, password, priority, proxy, proxy_password, proxy_username, retries, throttle, timeout,
        ui_repoid_vars, username],
    bools: [countme, enabled, enablegroups, gpgcheck, keepalive, module_hotfixes, protect, repo_gpgcheck, s3_enabled,
        skip_if_unavailable, ssl_check_cert_permissions]
);

/// The `yum_repository` module.
#[derive(Debug, Default)]
pub struct YumRepository;

/// A `.repo` file as Python's RawConfigParser reads it: sections in order, each with its
/// options in order (names lowercased; a continued value joined with `\n`).
type Sections = Vec<(String, Vec<(String, String)>)>;

fn parse(text: &str) -> Sections {
    let mut out: Sections = Vec::new();
    let mut last_key: Option<usize> = None;
    for raw in text.lines() {
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with(';') {
            continue;
        }
        let indented = raw.starts_with([' ', '\t']);
        if indented {
            if let (Some(i), Some((_, opts))) = (last_key, out.last_mut()) {
                opts[i].1.push('\n');
                opts[i].1.push_str(trimmed);
                continue;
            }
        }
        if let Some(h) = trimmed.strip_prefix('[').and_then(|h| h.rfind(']').map(|e| &h[..e])) {
            out.push((h.to_string(), Vec::new()));
            last_key = None;
            continue;
        }
        let Some((_, opts)) = out.last_mut() else { continue };
        let split = trimmed.find(['=', ':']);
        let (k, v) = match split {
            Some(i) => (trimmed[..i].trim(), trimmed[i + 1..].trim()),
            None => (trimmed, ""),
        };
        let k = k.to_lowercase();
        match opts.iter().position(|(n, _)| *n == k) {
            Some(i) => {
                opts[i].1 = v.to_string();
                last_key = Some(i);
            }
            None => {
                opts.push((k, v.to_string()));
                last_key = Some(opts.len() - 1);
            }
        }
    }
    out
}

/// RawConfigParser's `write`: sections in order, `key = value` (continued lines indented
/// with a tab), a blank line after each.
fn write(s: &Sections) -> String {
    let mut out = String::new();
    for (name, opts) in s {
        out.push_str(&format!("[{name}]\n"));
        for (k, v) in opts {
            out.push_str(&format!("{k} = {}\n", v.replace('\n', "\n\t")));
        }
        out.push('\n');
    }
    out
}

/// ansible-core's `dump`: sections and options sorted.
fn dump(s: &Sections) -> String {
    let mut sorted: Vec<&(String, Vec<(String, String)>)> = s.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    let mut out = String::new();
    for (name, opts) in sorted {
        out.push_str(&format!("[{name}]\n"));
        let mut o: Vec<&(String, String)> = opts.iter().collect();
        o.sort();
        for (k, v) in o {
            out.push_str(&format!("{k} = {v}\n"));
        }
        out.push('\n');
    }
    out
}

/// What `yum_repository` does to the file, and the `diff` it registers.
pub struct RepoPlan {
    action: RepoAction,
    diff: Value,
    dest: String,
}

enum RepoAction {
    /// Write the text.
    Write(edit::EditPlan),
    /// Remove the file (no section left).
    Remove,
}

#[async_trait]
impl Module for YumRepository {
    const NAME: &'static str = "yum_repository";
    type Args = Args;
    type Plan = RepoPlan;

    fn check_args(a: &Args) -> Result<(), String> {
        match a.state.as_deref() {
            None | Some("present") => {
                if a.baseurl.is_none() && a.mirrorlist.is_none() && a.metalink.is_none() {
                    return Err(
                        "state is present but any of the following are missing: baseurl, mirrorlist, metalink".into()
                    );
                }
                if a.description.is_none() {
                    return Err("state is present but all of the following are missing: description".into());
                }
            }
            Some("absent") => {}
            Some(s) => return Err(format!("value of state must be one of: present, absent, got: {s}")),
        }
        for (k, v) in a.options() {
            if let Some((_, c)) = CHOICES.iter().find(|(n, _)| *n == k) {
                if !c.contains(&v.as_str()) {
                    return Err(format!("value of {k} must be one of: {}, got: {v}", c.join(", ")));
                }
            }
        }
        let file = a.file.as_deref().unwrap_or(&a.name);
        if file.contains('/') || file.is_empty() || a.name.contains(['[', ']', '\n']) {
            return Err(format!("file `{file}` and name `{}`: a file name and a section name", a.name));
        }
        Ok(())
    }

    async fn plan(&self, a: &Args, cx: &ModuleCtx<'_>) -> Result<Plan<RepoPlan>, ModuleError> {
        let dir = cx.expand_path(&a.reposdir).await?;
        if !crate::util::path_test(cx, "-d", &dir).await? {
            return Ok(Plan::Ok(Outcome::failed(format!("Repo directory '{dir}' does not exist."))));
        }
        let dest = format!("{}/{}.repo", dir.trim_end_matches('/'), a.file.as_deref().unwrap_or(&a.name));
        let r = edit::read(cx, &dest).await?;
        let old = match &r.data {
            Some(d) => String::from_utf8_lossy(d).into_owned(),
            None => String::new(),
        };
        let mut sections = parse(&old);
        let before = dump(&sections);
        sections.retain(|(n, _)| *n != a.name);
        let state = a.state.as_deref().unwrap_or("present");
        if state == "present" {
            sections.push((a.name.clone(), a.options()));
        }
        let after = dump(&sections);
        let diff = Value::from_pairs(vec![
            ("before_header".to_string(), Value::from(dest.as_str())),
            ("before".to_string(), Value::from(before.as_str())),
            ("after_header".to_string(), Value::from(dest.as_str())),
            ("after".to_string(), Value::from(after.as_str())),
        ]);
        let result = |o: Outcome| o.with("repo", a.name.as_str()).with("state", state).with("diff", diff.clone());
        let changed = before != after;
        let attrs = Attrs::new(&a.mode, &a.owner, &a.group);
        if sections.is_empty() {
            if !changed || r.st.is_none() {
                return Ok(Plan::Ok(result(Outcome::ok())));
            }
            let plan = RepoPlan { action: RepoAction::Remove, diff: diff.clone(), dest: dest.clone() };
            let ch = Change::new(plan, Action::Delete, "file", dest.as_str()).with_diff(dest.as_str(), old, "");
            let data = result(Outcome::ok()).data;
            return Ok(Plan::Change(Change { data, ..ch }));
        }
        let text = if changed { write(&sections) } else { old.clone() };
        if r.st.is_none() && !changed {
            return Ok(Plan::Ok(result(Outcome::ok())));
        }
        match edit::plan(cx, &r, text.into_bytes(), "", &attrs, edit::Registers::Nothing) {
            Plan::Ok(_) => Ok(Plan::Ok(result(Outcome::ok()))),
            Plan::Change(ch) => {
                let data = result(Outcome::ok()).data;
                Ok(Plan::Change(Change {
                    plan: RepoPlan { action: RepoAction::Write(ch.plan), diff: diff.clone(), dest: dest.clone() },
                    diffs: ch.diffs,
                    planned: ch.planned,
                    in_check: ch.in_check,
                    msg: None,
                    data,
                }))
            }
        }
    }

    async fn apply(&self, a: &Args, p: RepoPlan, cx: &ModuleCtx<'_>) -> Result<Outcome, ModuleError> {
        let state = a.state.as_deref().unwrap_or("present");
        let o = match p.action {
            RepoAction::Write(w) => {
                let attrs = Attrs::new(&a.mode, &a.owner, &a.group);
                let o = edit::apply(cx, w, &attrs, false, None).await?;
                if o.failed {
                    return Ok(o);
                }
                Outcome { msg: None, ..o }
            }
            RepoAction::Remove => {
                let out = cx.exec(Cmd::new("rm").flag("-f").operand(&p.dest).build()).await?;
                if out.rc != 0 {
                    let msg = format!("Cannot remove empty repo file {}.", p.dest);
                    return Ok(Outcome::failed(msg).with("details", out.stderr_str().trim()));
                }
                Outcome { changed: true, ..Outcome::ok() }
            }
        };
        Ok(o.with("repo", a.name.as_str()).with("state", state).with("diff", p.diff))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// ansible-core's choices: `keepcache: yes` (YAML's true) is written `1`; `keepcache: 2`
    /// and `ip_resolve: ipv4` are refused with its words.
    #[test]
    fn choices_are_read_as_ansible_core_reads_them() {
        let a = |v: serde_json::Value| serde_json::from_value::<Args>(v).expect("args");
        let base = |k: &str, v: serde_json::Value| {
            a(serde_json::json!({"name": "r", "description": "R", "baseurl": "http://x", k: v}))
        };
        let opts = base("keepcache", serde_json::json!(true)).options();
        assert!(opts.contains(&("keepcache".to_string(), "1".to_string())), "{opts:?}");
        assert_eq!(
            YumRepository::check_args(&base("keepcache", serde_json::json!(2))),
            Err("value of keepcache must be one of: 0, 1, got: 2".into())
        );
        assert!(YumRepository::check_args(&base("ip_resolve", serde_json::json!("ipv4"))).is_err());
        assert!(YumRepository::check_args(&base("ip_resolve", serde_json::json!(4))).is_ok());
    }

    #[test]
    fn repo_files_read_and_write_as_raw_config_parser_does() {
        let text = "# c\n[epel]\nbaseurl = https://a\n\thttps://b\nName=EPEL\n\n[other]\nenabled: 0\n";
        let s = parse(text);
        assert_eq!(
            s[0].1,
            [("baseurl".to_string(), "https://a\nhttps://b".to_string()), ("name".to_string(), "EPEL".to_string())]
        );
        assert_eq!(write(&s), "[epel]\nbaseurl = https://a\n\thttps://b\nname = EPEL\n\n[other]\nenabled = 0\n\n");
        assert_eq!(dump(&s), "[epel]\nbaseurl = https://a\nhttps://b\nname = EPEL\n\n[other]\nenabled = 0\n\n");
    }
}
