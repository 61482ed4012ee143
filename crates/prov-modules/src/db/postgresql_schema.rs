//! `postgresql_schema` (community.postgresql): creates, changes and drops a schema of a
//! database, through `psql` on the target.
//!
//! Arguments (as in Ansible): `name` (alias `schema`), `owner`, `comment`, `cascade_drop`,
//! `login_db` (aliases `db`, `database`; default `postgres`), `session_role`, `state`
//! (`present`, `absent`). A schema that exists gets its owner and comment changed when they
//! differ. Registers `schema` and, outside check mode, `queries`.
//!
//! Connection arguments, as community.postgresql's: `login_user` (default `$PGUSER`, else
//! `postgres`), `login_password` (given to `psql` on its standard input), `login_host`,
//! `login_unix_socket` (for an empty host or `localhost`), `login_port`, `ssl_mode`, `ca_cert`,
//! `ssl_cert`, `ssl_key`, `connect_params`.
//!
//! ```yaml
//! - community.postgresql.postgresql_schema:
//!     name: app
//!     owner: app
//!     login_db: acme
//! ```

use super::{ident, literal, pg_args, rows};
use crate::util::or_fail;
use async_trait::async_trait;
use prov_core::module::{Action, Module, ModuleCtx, ModuleError, Outcome, Plan};
use serde_json::Value as Json;

pg_args! {
    /// Arguments of `postgresql_schema`.
    pub struct Args {
        /// The schema.
        #[serde(alias = "schema")]
        pub name: String,
        /// Its owner.
        #[serde(default)]
        pub owner: String,
        /// Its comment (`""` removes it).
        #[serde(default)]
        pub comment: Option<String>,
        /// Drop what is in it too.
        #[serde(default, deserialize_with = "prov_core::args::lenient_bool")]
        pub cascade_drop: bool,
        /// The database.
        #[serde(default = "crate::db::postgres", alias = "db", alias = "database")]
        pub login_db: String,
        /// `present` or `absent`.
        #[serde(default = "crate::db::present")]
        pub state: String,
    }
}

/// The `postgresql_schema` module.
#[derive(Debug, Default)]
pub struct PostgresqlSchema;

impl PostgresqlSchema {
    async fn run(&self, a: &Args, cx: &ModuleCtx<'_>, check: bool) -> Result<Outcome, ModuleError> {
        let conn = a.conn(Some(&a.login_db));
        let sql = format!(
            "SELECT json_build_object('owner', schema_owner, 'comment', \
             obj_description((SELECT oid FROM pg_namespace WHERE nspname = {n}), 'pg_namespace')) \
             FROM information_schema.schemata WHERE schema_name = {n}",
            n = literal(&a.name)
        );
        let info = or_fail!(rows(cx, &conn, &sql).await).into_iter().next();
        let schema = ident(&a.name);
        let mut queries: Vec<String> = Vec::new();
        match (a.state.as_str(), &info) {
            ("absent", Some(_)) => {
                queries.push(format!("DROP SCHEMA {schema}{}", if a.cascade_drop { " CASCADE" } else { "" }))
            }
            ("absent", None) => {}
            (_, None) => {
                let mut q = format!("CREATE SCHEMA {schema}");
                if !a.owner.is_empty() {
                    q.push_str(&format!(" AUTHORIZATION {}", ident(&a.owner)));
                }
                queries.push(q);
                if let Some(c) = &a.comment {
                    queries.push(format!("COMMENT ON SCHEMA {schema} IS {}", literal(c)));
                }
            }
            (_, Some(i)) => {
                if !a.owner.is_empty() && Some(a.owner.as_str()) != i.get("owner").and_then(|o| o.as_str()) {
                    queries.push(format!("ALTER SCHEMA {schema} OWNER TO {}", ident(&a.owner)));
                }
                let current = i.get("comment").and_then(|c| c.as_str()).unwrap_or_default();
                if let Some(c) = a.comment.as_ref().filter(|c| c.as_str() != current) {
                    queries.push(format!("COMMENT ON SCHEMA {schema} IS {}", literal(c)));
                }
            }
        }
        let mut o = Outcome::ok().with("schema", a.name.clone());
        o.changed = !queries.is_empty();
        if check {
            return Ok(o);
        }
        for q in &queries {
            or_fail!(super::execute(cx, &conn, &format!("{q};"), "Database query failed: ").await);
        }
        Ok(o.with("queries", crate::containers::json_value(Json::from(queries))))
    }
}

#[async_trait]
impl Module for PostgresqlSchema {
    const NAME: &'static str = "postgresql_schema";
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
        if a.name.contains('.') && !a.name.starts_with('"') {
            return Err("PostgreSQL does not support schema with more than 1 dots".into());
        }
        Ok(())
    }

    async fn plan(&self, a: &Args, cx: &ModuleCtx<'_>) -> Result<Plan<()>, ModuleError> {
        let action = if a.state == "absent" { Action::Delete } else { Action::Create };
        crate::util::decide_while_acting(cx, action, "postgresql schema", a.name.clone(), self.run(a, cx, true)).await
    }

    async fn apply(&self, a: &Args, _: (), cx: &ModuleCtx<'_>) -> Result<Outcome, ModuleError> {
        self.run(a, cx, false).await
    }
}
