//! `postgresql_ext` (community.postgresql): creates, updates and drops an extension in a
//! database, through `psql` on the target.
//!
//! Arguments (as in Ansible): `name` (alias `ext`), `login_db` (alias `db`; required),
//! `schema`, `version` (a version or `latest`), `cascade`, `comment`, `session_role`, `state`
//! (`present`, `absent`). It decides as community.postgresql does: an extension that is there
//! is left alone unless another `version` is asked (then updated along a path the server
//! knows). Registers `db`, `ext`, `prev_version`, `version` and `queries` (also in check mode).
//!
//! Connection arguments, as community.postgresql's: `login_user` (default `$PGUSER`, else
//! `postgres`), `login_password` (given to `psql` on its standard input), `login_host`,
//! `login_unix_socket` (for an empty host or `localhost`), `login_port`, `ssl_mode`, `ca_cert`,
//! `ssl_cert`, `ssl_key`, `connect_params`.
//!
//! ```yaml
//! - community.postgresql.postgresql_ext:
//!     name: hstore
//!     login_db: acme
//! ```

use super::{ident, literal, pg_args, rows};
use crate::util::or_fail;
use async_trait::async_trait;
use prov_core::module::{Action, Module, ModuleCtx, ModuleError, Outcome, Plan};
use serde_json::Value as Json;

pg_args! {
    /// Arguments of `postgresql_ext`.
    pub struct Args {
        /// The extension.
        #[serde(alias = "ext")]
        pub name: String,
        /// The database.
        #[serde(alias = "db")]
        pub login_db: String,
        /// The schema of its objects.
        #[serde(default)]
        pub schema: Option<String>,
        /// A version, or `latest`.
        #[serde(default, deserialize_with = "crate::util::stringish")]
        pub version: Option<String>,
        /// `CASCADE` on create and drop.
        #[serde(default, deserialize_with = "prov_core::args::lenient_bool")]
        pub cascade: bool,
        /// Its comment (`""` removes it).
        #[serde(default)]
        pub comment: Option<String>,
        /// `present` or `absent`.
        #[serde(default = "crate::db::present")]
        pub state: String,
    }
}

/// The `postgresql_ext` module.
#[derive(Debug, Default)]
pub struct PostgresqlExt;

/// `ext_get_versions`: the version made in the database, the default one, those available.
struct Versions {
    current: Option<String>,
    default: Option<String>,
    available: Vec<String>,
    comment: String,
}

impl PostgresqlExt {
    async fn versions(a: &Args, cx: &ModuleCtx<'_>) -> Result<Result<Versions, Outcome>, ModuleError> {
        let n = literal(&a.name);
        let sql = format!(
            "SELECT json_build_object(\
             'current', (SELECT extversion FROM pg_catalog.pg_extension WHERE extname = {n}), \
             'default', (SELECT default_version FROM pg_catalog.pg_available_extensions WHERE name = {n}), \
             'available', (SELECT coalesce(json_agg(version), '[]'::json) FROM pg_catalog.pg_available_extension_versions WHERE name = {n}), \
             'comment', (SELECT pg_catalog.obj_description(e.oid, 'pg_extension') FROM pg_catalog.pg_extension e WHERE e.extname = {n}))"
        );
        let v =
            or_fail!(rows(cx, &a.conn(Some(&a.login_db)), &sql).await, Err).into_iter().next().unwrap_or(Json::Null);
        let s = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_string);
        Ok(Ok(Versions {
            current: s("current"),
            default: s("default"),
            available: v
                .get("available")
                .and_then(|x| x.as_array())
                .map(|l| l.iter().filter_map(|x| x.as_str().map(str::to_string)).collect())
                .unwrap_or_default(),
            comment: s("comment").unwrap_or_default(),
        }))
    }

    async fn run(&self, a: &Args, cx: &ModuleCtx<'_>, check: bool) -> Result<Outcome, ModuleError> {
        let conn = a.conn(Some(&a.login_db));
        let v = or_fail!(Self::versions(a, cx).await);
        let mut o = Outcome::ok();
        if a.version.is_some() && a.state == "absent" {
            o = o.warn("Parameter version is ignored when state=absent");
        }
        let version = a.version.clone().filter(|x| !x.is_empty());
        let real = match version.as_deref() {
            None | Some("latest") => {
                if v.available.is_empty() {
                    return Ok(Outcome::failed(format!("Extension {} is not available", a.name)));
                }
                match &v.default {
                    Some(d) => d.clone(),
                    None => {
                        return Ok(Outcome::failed(
                            "Passed version 'latest' but no default_version available in extension control file",
                        ))
                    }
                }
            }
            Some(x) => x.to_string(),
        };
        let ext = ident(&a.name);
        let mut queries: Vec<String> = Vec::new();
        let mut run: Vec<String> = Vec::new();
        let create = |version: &str| {
            let mut q = format!("CREATE EXTENSION {ext}");
            if let Some(s) = a.schema.as_ref().filter(|s| !s.is_empty()) {
                q.push_str(&format!(" WITH SCHEMA {}", ident(s)));
            }
            if version != "latest" {
                q.push_str(&format!(" VERSION {}", literal(version)));
            }
            if a.cascade {
                q.push_str(" CASCADE");
            }
            q
        };
        let mut changed = false;
        if a.state == "present" {
            match (&version, &v.current) {
                (Some(want), Some(cur)) => {
                    if *cur != real {
                        let sql = format!(
                            "SELECT json_build_object('ok', EXISTS (SELECT path FROM pg_extension_update_paths({}) WHERE source = {} AND target = {}))",
                            literal(&a.name),
                            literal(cur),
                            literal(&real)
                        );
                        let ok = or_fail!(rows(cx, &conn, &sql).await)
                            .first()
                            .and_then(|r| r.get("ok"))
                            .and_then(|x| x.as_bool())
                            .unwrap_or(false);
                        if !ok {
                            return Ok(Outcome::failed(if want == "latest" {
                                format!("Latest version '{real}' has no valid update path from the currently installed version '{cur}'")
                            } else {
                                format!("Passed version '{want}' has no valid update path from the currently installed version '{cur}' or the passed version is not available")
                            }));
                        }
                        let q = if want == "latest" {
                            format!("ALTER EXTENSION {ext} UPDATE")
                        } else {
                            format!("ALTER EXTENSION {ext} UPDATE TO {}", literal(want))
                        };
                        queries.push(q.clone());
                        run.push(q);
                        changed = true;
                    }
                }
                (Some(want), None) => {
                    if !v.available.contains(&real) {
                        return Ok(Outcome::failed(if want == "latest" {
                            format!("Latest version '{real}' is not available")
                        } else {
                            format!("Passed version '{real}' is not available")
                        }));
                    }
                    let q = create(want);
                    queries.push(q.clone());
                    run.push(q);
                    changed = true;
                }
                (None, Some(_)) => {}
                (None, None) => {
                    let q = create("latest");
                    queries.push(q.clone());
                    run.push(q);
                    changed = true;
                }
            }
            let current_comment = if v.current.is_some() { v.comment.clone() } else { String::new() };
            if let Some(c) = a.comment.as_ref().filter(|c| **c != current_comment) {
                let q = format!("COMMENT ON EXTENSION {ext} IS {}", literal(c));
                queries.push(q.clone());
                run.push(q);
                changed = true;
            }
        } else if v.current.is_some() {
            let q = format!("DROP EXTENSION {ext}{}", if a.cascade { " CASCADE" } else { "" });
            queries.push(q.clone());
            run.push(q);
            changed = true;
        }
        if !check {
            for q in &run {
                let failure = "Management of PostgreSQL extension failed: ";
                or_fail!(super::execute(cx, &conn, &format!("{q};"), failure).await);
            }
        }
        let prev = v.current.clone().unwrap_or_default();
        let now = if check && changed {
            if a.state == "present" {
                real
            } else {
                String::new()
            }
        } else if check {
            prev.clone()
        } else {
            or_fail!(Self::versions(a, cx).await).current.unwrap_or_default()
        };
        o.changed = changed;
        Ok(o.with("db", a.login_db.clone())
            .with("ext", a.name.clone())
            .with("prev_version", prev)
            .with("version", now)
            .with("queries", crate::containers::json_value(Json::from(queries))))
    }
}

#[async_trait]
impl Module for PostgresqlExt {
    const NAME: &'static str = "postgresql_ext";
    const COLLECTIONS: &'static [&'static str] = &["community.postgresql"];
    type Args = Args;
    type Plan = ();

    fn check_args(a: &Args) -> Result<(), String> {
        super::check_common(
            &a.state,
            &["absent", "present"],
            &a.ssl_mode,
            a.login_password.as_deref(),
            &a.connect_params,
        )?;
        Ok(())
    }

    async fn plan(&self, a: &Args, cx: &ModuleCtx<'_>) -> Result<Plan<()>, ModuleError> {
        let action = if a.state == "absent" { Action::Delete } else { Action::Create };
        crate::util::decide_while_acting(cx, action, "postgresql extension", a.name.clone(), self.run(a, cx, true))
            .await
    }

    async fn apply(&self, a: &Args, _: (), cx: &ModuleCtx<'_>) -> Result<Outcome, ModuleError> {
        self.run(a, cx, false).await
    }
}
