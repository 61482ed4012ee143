//! `deb822_repository`: an APT source in deb822 format, `/etc/apt/sources.list.d/SLUG.sources`,
//! written as ansible-core's module writes it (it does not update the APT cache: an `apt` task
//! with `update_cache` does).
//!
//! Arguments (as in Ansible): `name` (required; the file is named from it: lower case, runs of
//! `_` and white space as `-`, other characters left out), `types` (default `[deb]`), `uris`,
//! `suites`, `components`, `architectures`, `languages`, `targets` (lists), `signed_by` (a key
//! file on the host, a URL whose key is saved as `/etc/apt/keyrings/SLUG.asc` (armored) or
//! `.gpg`, or the key itself, written into the file), `enabled`, `trusted`, `allow_insecure`,
//! `allow_weak`, `allow_downgrade_to_insecure`, `by_hash`, `check_date`, `check_valid_until`,
//! `pdiffs` (yes/no fields), `date_max_future`, `inrelease_path`, `mode` (default `0644`),
//! `state` (`present`, `absent`: removes the file and the saved key).
//!
//! Fields come in the order of the arguments' names, as ansible-core writes them. Registers
//! `repo` (the file's text), `dest`, `key_filename`, and the file's attributes.
//!
//! ```yaml
//! - deb822_repository:
//!     name: docker
//!     types: [deb]
//!     uris: https://download.docker.com/linux/debian
//!     suites: ["{{ ansible_distribution_release }}"]
//!     components: [stable]
//!     signed_by: https://download.docker.com/linux/debian/gpg
//! ```

use crate::files::{plan_write, probe, with_path_info, Attrs, Kind, Write, WritePlan};
use async_trait::async_trait;
use minijinja::Value;
use prov_core::args::{lenient_opt_bool, Mode, StringList};
use prov_core::cmd::{Cmd, Sh};
use prov_core::module::{Action, Change, Module, ModuleCtx, ModuleError, Outcome, Plan};
use serde::Deserialize;

fn present() -> String {
    "present".into()
}

/// Arguments of `deb822_repository`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    /// The source's name (`X-Repolib-Name`), and the file's.
    name: String,
    #[serde(default)]
    types: Option<StringList>,
    #[serde(default)]
    uris: Option<StringList>,
    #[serde(default)]
    suites: Option<StringList>,
    #[serde(default)]
    components: Option<StringList>,
    #[serde(default)]
    architectures: Option<StringList>,
    #[serde(default)]
    languages: Option<StringList>,
    #[serde(default)]
    targets: Option<StringList>,
    /// A key file, a URL, or the key.
    #[serde(default)]
    signed_by: Option<String>,
    #[serde(default, deserialize_with = "lenient_opt_bool")]
    enabled: Option<bool>,
    #[serde(default, deserialize_with = "lenient_opt_bool")]
    trusted: Option<bool>,
    #[serde(default, deserialize_with = "lenient_opt_bool")]
    allow_insecure: Option<bool>,
    #[serde(default, deserialize_with = "lenient_opt_bool")]
    allow_weak: Option<bool>,
    #[serde(default, deserialize_with = "lenient_opt_bool")]
    allow_downgrade_to_insecure: Option<bool>,
    #[serde(default, deserialize_with = "lenient_opt_bool")]
    by_hash: Option<bool>,
    #[serde(default, deserialize_with = "lenient_opt_bool")]
    check_date: Option<bool>,
    #[serde(default, deserialize_with = "lenient_opt_bool")]
    check_valid_until: Option<bool>,
    #[serde(default, deserialize_with = "lenient_opt_bool")]
    pdiffs: Option<bool>,
    #[serde(default)]
    date_max_future: Option<i64>,
    #[serde(default)]
    inrelease_path: Option<String>,
    /// The file's mode.
    #[serde(default)]
    mode: Option<Mode>,
    /// `present` or `absent`.
    #[serde(default = "present")]
    state: String,
}

/// ansible-core's file name stem for a source's name.
fn slug(name: &str) -> String {
    let lower = name.to_lowercase();
    let mut dashed = String::new();
    let mut run = false;
    for c in lower.chars() {
        if c == '_' || c.is_whitespace() {
            if !run {
                dashed.push('-');
            }
            run = true;
        } else {
            dashed.push(c);
            run = false;
        }
    }
    dashed.chars().filter(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-').collect()
}

fn sources_file(slug: &str) -> String {
    format!("/etc/apt/sources.list.d/{slug}.sources")
}

fn key_file(slug: &str, ext: &str) -> String {
    format!("/etc/apt/keyrings/{slug}.{ext}")
}

/// A field value over several lines, as ansible-core indents it (an empty line as `.`).
fn multiline(v: &str) -> String {
    let lines: Vec<String> =
        v.trim().lines().map(|l| if l.trim().is_empty() { ".".to_string() } else { l.trim().to_string() }).collect();
    format!("\n{}", lines.iter().map(|l| format!("    {l}")).collect::<Vec<_>>().join("\n"))
}

/// Whether Python's `urlparse` finds a scheme (`http:`, `file:`): the value is a URL.
fn has_scheme(v: &str) -> bool {
    match v.split_once(':') {
        Some((s, _)) => {
            let mut c = s.chars();
            c.next().is_some_and(|f| f.is_ascii_alphabetic())
                && c.all(|x| x.is_ascii_alphanumeric() || matches!(x, '+' | '-' | '.'))
        }
        None => false,
    }
}

/// The file's text; `signed_by` is what the field says (a path, or the key itself).
fn render(a: &Args, signed_by: Option<&str>) -> String {
    let list = |l: &Option<StringList>| l.as_ref().map(|l| l.0.join(" "));
    let yn = |b: &Option<bool>| b.map(|b| if b { "yes".to_string() } else { "no".to_string() });
    let types = a.types.as_ref().map_or_else(|| "deb".to_string(), |l| l.0.join(" "));
    // In the order of the arguments' names, as ansible-core sorts them.
    let fields: Vec<(&str, Option<String>)> = vec![
        ("Allow-Downgrade-To-Insecure", yn(&a.allow_downgrade_to_insecure)),
        ("Allow-Insecure", yn(&a.allow_insecure)),
        ("Allow-Weak", yn(&a.allow_weak)),
        ("Architectures", list(&a.architectures)),
        ("By-Hash", yn(&a.by_hash)),
        ("Check-Date", yn(&a.check_date)),
        ("Check-Valid-Until", yn(&a.check_valid_until)),
        ("Components", list(&a.components)),
        ("Date-Max-Future", a.date_max_future.map(|d| d.to_string())),
        ("Enabled", yn(&a.enabled)),
        ("Inrelease-Path", a.inrelease_path.clone()),
        ("Languages", list(&a.languages)),
        ("X-Repolib-Name", Some(a.name.clone())),
        ("Pdiffs", yn(&a.pdiffs)),
        ("Signed-By", signed_by.map(str::to_string)),
        ("Suites", list(&a.suites)),
        ("Targets", list(&a.targets)),
        ("Trusted", yn(&a.trusted)),
        ("Types", Some(types)),
        ("URIs", list(&a.uris)),
    ];
    let mut out = String::new();
    for (k, v) in fields {
        let Some(v) = v else { continue };
        if v.contains('\n') {
            out.push_str(&format!("{k}:{}\n", multiline(&v)));
        } else {
            out.push_str(&format!("{k}: {v}\n"));
        }
    }
    out
}

/// The `deb822_repository` module.
#[derive(Debug, Default)]
pub struct Deb822Repository;

/// What `apply` does.
pub struct RepoPlan {
    /// Files to remove (`absent`).
    remove: Vec<String>,
    /// Create `/etc/apt/keyrings` first.
    mkdir: bool,
    /// The key, then the source: the writes to make.
    writes: Vec<WritePlan>,
    /// The result once done.
    result: Outcome,
}

fn absent_result(slug: &str) -> Outcome {
    // ansible-core names the `.gpg` key in its result whichever it removed.
    Outcome::ok().with("repo", ()).with("dest", sources_file(slug)).with("key_filename", key_file(slug, "gpg"))
}

#[async_trait]
impl Module for Deb822Repository {
    const NAME: &'static str = "deb822_repository";
    type Args = Args;
    type Plan = RepoPlan;

    fn check_args(a: &Args) -> Result<(), String> {
        if !["present", "absent"].contains(&a.state.as_str()) {
            return Err(format!("value of state must be one of: present, absent, got: {}", a.state));
        }
        for t in a.types.iter().flat_map(|l| l.0.iter()) {
            if t != "deb" && t != "deb-src" {
                return Err(format!("value of types must be one or more of: deb, deb-src. Got no match for: {t}"));
            }
        }
        if slug(&a.name).is_empty() {
            return Err(format!("name `{}` leaves no file name", a.name));
        }
        Ok(())
    }

    async fn plan(&self, a: &Args, cx: &ModuleCtx<'_>) -> Result<Plan<RepoPlan>, ModuleError> {
        let slug = slug(&a.name);
        let dest = sources_file(&slug);
        if a.state == "absent" {
            let mut remove = Vec::new();
            for f in [dest.clone(), key_file(&slug, "asc"), key_file(&slug, "gpg")] {
                if probe(cx, &f, None, false).await?.is_some() {
                    remove.push(f);
                }
            }
            if remove.is_empty() {
                return Ok(Plan::Ok(absent_result(&slug)));
            }
            let mut ch = Change::new(
                RepoPlan { remove: remove.clone(), mkdir: false, writes: Vec::new(), result: absent_result(&slug) },
                Action::Delete,
                "file",
                dest.clone(),
            );
            ch.planned = remove
                .iter()
                .map(|f| prov_core::module::Planned { action: Action::Delete, resource: "file", name: f.clone() })
                .collect();
            ch.data = absent_result(&slug).data;
            return Ok(Plan::Change(ch));
        }
        let mut writes = Vec::new();
        let mut mkdir = false;
        let mut key_filename = None;
        let signed_by = match a.signed_by.as_deref() {
            None => None,
            Some(v) if probe(cx, v, None, true).await?.is_some_and(|s| s.kind == Kind::File) => Some(v.to_string()),
            Some(v) if has_scheme(v) => {
                let get = Sh::lit("if command -v curl >/dev/null 2>&1; then")
                    .word(Cmd::new("curl").flag("-fsSL").operand(v).build())
                    .suffix("; elif command -v wget >/dev/null 2>&1; then")
                    .word(Cmd::new("wget").flag("-q").flag("-O").flag("-").operand(v).build())
                    .suffix("; else echo 'deb822_repository needs curl or wget on the target for a signed_by URL' >&2; exit 127; fi");
                let out = cx.exec(get).await?;
                if out.rc != 0 {
                    return Ok(Plan::Ok(Outcome::failed(format!(
                        "Could not fetch signed_by key: {}",
                        out.stderr_str().trim()
                    ))));
                }
                if out.stdout.is_empty() {
                    Some(v.to_string())
                } else {
                    let armored = String::from_utf8_lossy(&out.stdout).contains("-----BEGIN PGP PUBLIC KEY BLOCK-----");
                    let kf = key_file(&slug, if armored { "asc" } else { "gpg" });
                    let w = Write {
                        dest: &kf,
                        data: crate::files::Content::Bytes(out.stdout.clone()),
                        attrs: Attrs::new(&Some(Mode::Octal(0o644)), &None, &None),
                        force: true,
                        src_name: None,
                        source: None,
                        check_parent: false,
                        follow: false,
                    };
                    if let Plan::Change(ch) = plan_write(cx, w).await? {
                        mkdir = probe(cx, "/etc/apt/keyrings", None, true).await?.is_none();
                        writes.push(ch.plan);
                    }
                    key_filename = Some(kf.clone());
                    Some(kf)
                }
            }
            Some(v) => Some(v.to_string()),
        };
        let repo = render(a, signed_by.as_deref());
        let mode = a.mode.clone().unwrap_or(Mode::Octal(0o644));
        let w = Write {
            dest: &dest,
            data: crate::files::Content::Bytes(repo.clone().into_bytes()),
            attrs: Attrs::new(&Some(mode), &None, &None),
            force: true,
            src_name: None,
            source: None,
            check_parent: false,
            follow: false,
        };
        let st = probe(cx, &dest, None, true).await?;
        let result = Outcome::ok()
            .with("repo", repo.as_str())
            .with("dest", dest.as_str())
            .with("key_filename", key_filename.clone().map_or(Value::from(()), Value::from));
        match plan_write(cx, w).await? {
            Plan::Change(ch) => writes.push(ch.plan),
            Plan::Ok(_) if writes.is_empty() => return Ok(Plan::Ok(with_path_info(result, st.as_ref()))),
            Plan::Ok(_) => {}
        }
        let action = if st.is_some() { Action::Modify } else { Action::Create };
        let mut ch = Change::new(
            RepoPlan { remove: Vec::new(), mkdir, writes, result: result.clone() },
            action,
            "file",
            dest.clone(),
        );
        ch.data = with_path_info(result, st.as_ref()).data;
        Ok(Plan::Change(ch))
    }

    async fn apply(&self, a: &Args, p: RepoPlan, cx: &ModuleCtx<'_>) -> Result<Outcome, ModuleError> {
        if !p.remove.is_empty() {
            let out = cx.exec(Cmd::new("rm").flag("-f").operands(&p.remove).build()).await?;
            if out.rc != 0 {
                return Ok(Outcome::failed(format!(
                    "removing {} failed: {}",
                    p.remove.join(", "),
                    out.stderr_str().trim()
                )));
            }
            return Ok(Outcome { changed: true, ..p.result });
        }
        if p.mkdir {
            let out =
                cx.exec(Cmd::new("mkdir").flag("-p").opt("-m", "0755").operand("/etc/apt/keyrings").build()).await?;
            if out.rc != 0 {
                return Ok(Outcome::failed(format!("Error creating /etc/apt/keyrings: {}", out.stderr_str().trim())));
            }
        }
        for (i, w) in p.writes.iter().enumerate() {
            let key = i + 1 < p.writes.len() || w.dest.starts_with("/etc/apt/keyrings/");
            let mode = if key { Mode::Octal(0o644) } else { a.mode.clone().unwrap_or(Mode::Octal(0o644)) };
            let o = crate::files::apply_write(cx, w, &Attrs::new(&Some(mode), &None, &None), false, None).await?;
            if o.failed {
                return Ok(o);
            }
        }
        let dest = sources_file(&slug(&a.name));
        let st = probe(cx, &dest, None, true).await?;
        Ok(with_path_info(Outcome { changed: true, ..p.result }, st.as_ref()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prov_core::module::args_from_value;
    use serde_json::json;

    #[test]
    fn the_file_is_named_and_written_as_ansible_core_writes_it() {
        assert_eq!(slug("Prov Test_Repo"), "prov-test-repo");
        assert_eq!(slug("a  __ b.c"), "a-bc");
        let a: Args = args_from_value(&Value::from(minijinja::value::Serde(json!({
            "name": "Prov Test_Repo", "types": ["deb"], "uris": ["file:/srv/prov-none"], "suites": ["./"],
            "architectures": "amd64", "enabled": false, "trusted": true, "date_max_future": 10,
        }))))
        .expect("arguments");
        let key = "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmQENBFake\n-----END PGP PUBLIC KEY BLOCK-----\n";
        // ansible-core 2.19.14's `repo` for the same arguments.
        assert_eq!(
            render(&a, Some(key)),
            "Architectures: amd64\nDate-Max-Future: 10\nEnabled: no\nX-Repolib-Name: Prov Test_Repo\nSigned-By:\n    -----BEGIN PGP PUBLIC KEY BLOCK-----\n    .\n    mQENBFake\n    -----END PGP PUBLIC KEY BLOCK-----\nSuites: ./\nTrusted: yes\nTypes: deb\nURIs: file:/srv/prov-none\n"
        );
        assert!(
            has_scheme("https://x/k.asc") && has_scheme("file:/k") && !has_scheme(key) && !has_scheme("/etc/k.gpg")
        );
    }
}
