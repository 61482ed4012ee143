//! `postgresql_db` (community.postgresql): creates, changes and drops a PostgreSQL database,
//! through `psql` on the target.
//!
//! Arguments (as in Ansible): `name` (alias `db`), `owner`, `template`, `encoding`,
//! `lc_collate`, `lc_ctype`, `icu_locale`, `locale_provider`, `conn_limit`, `tablespace`,
//! `comment`, `session_role`, `maintenance_db` (default `postgres`, where it connects),
//! `force` (drop even with sessions open), `state` (`present`, `absent`). `state: dump`,
//! `restore` and `rename` (deprecated there) are refused before connecting.
//!
//! It decides as community.postgresql does: a database that exists keeps its encoding and
//! locales (asking for others fails, as the server cannot change them); its owner,
//! connection limit, tablespace and comment are changed when they differ. Registers `db` and
//! `executed_commands` (none in check mode).
//!
//! Connection arguments, as community.postgresql's: `login_user` (default `$PGUSER`, else
//! `postgres`), `login_password` (given to `psql` on its standard input), `login_host`,
//! `login_unix_socket` (for an empty host or `localhost`), `login_port`, `ssl_mode`, `ca_cert`,
//! `ssl_cert`, `ssl_key`, `connect_params`.
//!
//! ```yaml
//! - community.postgresql.postgresql_db:
//!     name: acme
//!     owner: app
//!     encoding: UTF-8
//!     template: template0
//!   become: true
//!   become_user: postgres
//! ```

use super::{ident, literal, pg_args, rows};
use crate::util::or_fail;
use async_trait::async_trait;
use prov_core::module::{Action, Module, ModuleCtx, ModuleError, Outcome, Plan};
use serde_json::Value as Json;

pg_args! {
    /// Arguments of `postgresql_db`.
    pub struct Args {
        /// The database.
        #[serde(alias = "db")]
        pub name: String,
        /// Its owner.
        #[serde(default)]
        pub owner: String,
        /// The template to copy.
        #[serde(default)]
        pub template: String,
        /// Its encoding.
        #[serde(default)]
        pub encoding: String,
        /// Its collation.
        #[serde(default)]
        pub lc_collate: String,
        /// Its character classification.
        #[serde(default)]
        pub lc_ctype: String,
        /// Its ICU locale.
        #[serde(default)]
        pub icu_locale: String,
        /// `libc` or `icu`.
        #[serde(default)]
        pub locale_provider: String,
        /// The connection limit (`-1`: none).
        #[serde(default, deserialize_with = "crate::util::stringish")]
        pub conn_limit: Option<String>,
        /// Its tablespace.
        #[serde(default)]
        pub tablespace: String,
        /// Its comment (`""` removes it).
        #[serde(default)]
        pub comment: Option<String>,
        /// The database to connect to.
        #[serde(default = "crate::db::postgres")]
        pub maintenance_db: String,
        /// Drop even with sessions open.
        #[serde(default, deserialize_with = "prov_core::args::lenient_bool")]
        pub force: bool,
        /// `present` or `absent`.
        #[serde(default = "crate::db::present")]
        pub state: String,
    }
}

/// The `postgresql_db` module.
#[derive(Debug, Default)]
pub struct PostgresqlDb;

/// What the catalog says of the database (`get_db_info`), plus the id of the encoding asked.
struct Info {
    owner: String,
    encoding: String,
    encoding_id: i64,
    wanted_encoding_id: Option<i64>,
    lc_collate: String,
    lc_ctype: String,
    icu_locale: Option<String>,
    locale_provider: Option<String>,
    conn_limit: i64,
    tablespace: String,
    comment: String,
}

fn text(v: &Json, k: &str) -> String {
    v.get(k).and_then(|x| x.as_str()).unwrap_or_default().to_string()
}

impl PostgresqlDb {
    /// The database's settings, `None` when it does not exist.
    async fn info(a: &Args, cx: &ModuleCtx<'_>) -> Result<Result<Option<Info>, Outcome>, ModuleError> {
        let conn = a.conn(Some(&a.maintenance_db));
        let wanted = if a.encoding.is_empty() {
            "NULL".to_string()
        } else {
            format!("pg_char_to_encoding({})", literal(&a.encoding))
        };
        let sql = format!(
            "SELECT to_jsonb(d) || jsonb_build_object('owner', r.rolname, 'encoding_name', pg_encoding_to_char(d.encoding), \
             'spcname', t.spcname, 'comment', pg_catalog.shobj_description(d.oid, 'pg_database'), 'wanted_encoding', {wanted}) \
             FROM pg_database d JOIN pg_roles r ON r.oid = d.datdba JOIN pg_tablespace t ON t.oid = d.dattablespace \
             WHERE d.datname = {}",
            literal(&a.name)
        );
        let found = or_fail!(rows(cx, &conn, &sql).await, Err);
        let Some(d) = found.into_iter().next() else { return Ok(Ok(None)) };
        let provider = match d.get("datlocprovider").and_then(|p| p.as_str()) {
            Some("c") => Some("libc".to_string()),
            Some("i") => Some("icu".to_string()),
            _ => None,
        };
        let icu = d.get("datlocale").or_else(|| d.get("daticulocale")).and_then(|x| x.as_str()).map(str::to_string);
        Ok(Ok(Some(Info {
            owner: text(&d, "owner"),
            encoding: text(&d, "encoding_name"),
            encoding_id: d.get("encoding").and_then(|e| e.as_i64()).unwrap_or(-1),
            wanted_encoding_id: d.get("wanted_encoding").and_then(|e| e.as_i64()),
            lc_collate: text(&d, "datcollate"),
            lc_ctype: text(&d, "datctype"),
            icu_locale: icu,
            locale_provider: provider,
            conn_limit: d.get("datconnlimit").and_then(|e| e.as_i64()).unwrap_or(-1),
            tablespace: text(&d, "spcname"),
            comment: text(&d, "comment"),
        })))
    }

    /// `db_matches`.
    fn matches(a: &Args, i: &Info) -> bool {
        let conn_limit = a.conn_limit.clone().unwrap_or_default();
        !((!a.encoding.is_empty() && i.wanted_encoding_id != Some(i.encoding_id))
            || (!a.lc_collate.is_empty() && a.lc_collate != i.lc_collate)
            || (!a.lc_ctype.is_empty() && a.lc_ctype != i.lc_ctype)
            || (!a.icu_locale.is_empty() && Some(&a.icu_locale) != i.icu_locale.as_ref())
            || (!a.locale_provider.is_empty() && Some(&a.locale_provider) != i.locale_provider.as_ref())
            || (!a.owner.is_empty() && a.owner != i.owner)
            || (!conn_limit.is_empty() && conn_limit != i.conn_limit.to_string())
            || (!a.tablespace.is_empty() && a.tablespace != i.tablespace)
            || a.comment.as_ref().is_some_and(|c| *c != i.comment))
    }

    /// `db_update`'s statements, or its refusal of a setting the server cannot change.
    fn update(a: &Args, i: &Info) -> Result<Vec<String>, String> {
        if !a.encoding.is_empty() && i.wanted_encoding_id != Some(i.encoding_id) {
            return Err(format!("Changing database encoding is not supported. Current encoding: {}", i.encoding));
        } else if !a.lc_collate.is_empty() && a.lc_collate != i.lc_collate {
            return Err(format!("Changing LC_COLLATE is not supported. Current LC_COLLATE: {}", i.lc_collate));
        } else if !a.lc_ctype.is_empty() && a.lc_ctype != i.lc_ctype {
            return Err(format!("Changing LC_CTYPE is not supported.Current LC_CTYPE: {}", i.lc_ctype));
        } else if !a.icu_locale.is_empty() && Some(&a.icu_locale) != i.icu_locale.as_ref() {
            return Err(format!(
                "Changing ICU_LOCALE is not supported.Current ICU_LOCALE: {}",
                i.icu_locale.clone().unwrap_or_else(|| "None".into())
            ));
        } else if !a.locale_provider.is_empty() && Some(&a.locale_provider) != i.locale_provider.as_ref() {
            return Err(format!(
                "Changing LOCALE_PROVIDER is not supported.Current LOCALE_PROVIDER: {}",
                i.locale_provider.clone().unwrap_or_else(|| "None".into())
            ));
        }
        let mut sql = Vec::new();
        let db = ident(&a.name);
        if !a.owner.is_empty() && a.owner != i.owner {
            sql.push(format!("ALTER DATABASE {db} OWNER TO {}", ident(&a.owner)));
        }
        let conn_limit = a.conn_limit.clone().unwrap_or_default();
        if !conn_limit.is_empty() && conn_limit != i.conn_limit.to_string() {
            sql.push(format!("ALTER DATABASE {db} CONNECTION LIMIT {conn_limit}"));
        }
        if !a.tablespace.is_empty() && a.tablespace != i.tablespace {
            sql.push(format!("ALTER DATABASE {db} SET TABLESPACE {}", ident(&a.tablespace)));
        }
        if let Some(c) = a.comment.as_ref().filter(|c| **c != i.comment) {
            sql.push(format!("COMMENT ON DATABASE {db} IS {}", literal(c)));
        }
        Ok(sql)
    }

    /// `db_create`'s statements.
    fn create(a: &Args, server_version: i64) -> Vec<String> {
        let mut q = vec![format!("CREATE DATABASE {}", ident(&a.name))];
        if !a.owner.is_empty() {
            q.push(format!("OWNER {}", ident(&a.owner)));
        }
        if !a.template.is_empty() {
            q.push(format!("TEMPLATE {}", ident(&a.template)));
        }
        if !a.encoding.is_empty() {
            q.push(format!("ENCODING {}", literal(&a.encoding)));
        }
        if !a.lc_collate.is_empty() {
            q.push(format!("LC_COLLATE {}", literal(&a.lc_collate)));
        }
        if !a.lc_ctype.is_empty() {
            q.push(format!("LC_CTYPE {}", literal(&a.lc_ctype)));
        }
        let icu = server_version >= 150000;
        if !a.icu_locale.is_empty() && icu {
            q.push(format!("ICU_LOCALE {}", literal(&a.icu_locale)));
        }
        if !a.locale_provider.is_empty() && icu {
            q.push(format!("LOCALE_PROVIDER {}", literal(&a.locale_provider)));
        }
        if !a.tablespace.is_empty() {
            q.push(format!("TABLESPACE {}", ident(&a.tablespace)));
        }
        if let Some(c) = a.conn_limit.as_ref().filter(|c| !c.is_empty()) {
            q.push(format!("CONNECTION LIMIT {c}"));
        }
        let mut sql = vec![q.join(" ")];
        if let Some(c) = a.comment.as_ref().filter(|c| !c.is_empty()) {
            sql.push(format!("COMMENT ON DATABASE {} IS {}", ident(&a.name), literal(c)));
        }
        sql
    }

    async fn run(&self, a: &Args, cx: &ModuleCtx<'_>, check: bool) -> Result<Outcome, ModuleError> {
        let info = or_fail!(Self::info(a, cx).await);
        let mut executed: Vec<String> = Vec::new();
        let changed;
        if check {
            changed = match a.state.as_str() {
                "absent" => info.is_some(),
                _ => !info.as_ref().is_some_and(|i| Self::matches(a, i)),
            };
        } else {
            let statements = match (a.state.as_str(), &info) {
                ("absent", None) => Vec::new(),
                ("absent", Some(_)) => {
                    let force = a.force
                        && or_fail!(super::server_version(cx, &a.conn(Some(&a.maintenance_db))).await) >= 130000;
                    if a.force && !force {
                        return Ok(Outcome::failed(
                            "force: true needs PostgreSQL 13 or later here (prov drops with WITH (FORCE))",
                        ));
                    }
                    vec![format!("DROP DATABASE {}{}", ident(&a.name), if force { " WITH (FORCE)" } else { "" })]
                }
                (_, None) => {
                    Self::create(a, or_fail!(super::server_version(cx, &a.conn(Some(&a.maintenance_db))).await))
                }
                (_, Some(i)) => match Self::update(a, i) {
                    Ok(s) => s,
                    Err(m) => return Ok(Outcome::failed(m)),
                },
            };
            changed = !statements.is_empty();
            // Each statement on its own (CREATE and DROP DATABASE cannot run in a transaction).
            for s in statements {
                executed.push(s.clone());
                let sql = format!("{s};");
                or_fail!(super::execute(cx, &a.conn(Some(&a.maintenance_db)), &sql, "Database query failed: ").await);
            }
        }
        let mut o = Outcome::ok();
        o.changed = changed;
        Ok(o.with("db", a.name.clone()).with("executed_commands", crate::containers::json_value(Json::from(executed))))
    }
}

#[async_trait]
impl Module for PostgresqlDb {
    const NAME: &'static str = "postgresql_db";
    const COLLECTIONS: &'static [&'static str] = &["community.postgresql"];
    type Args = Args;
    type Plan = ();

    fn check_args(a: &Args) -> Result<(), String> {
        match a.state.as_str() {
            "present" | "absent" => {}
            "dump" | "restore" | "rename" => {
                return Err(format!(
                "state: {} is not supported by prov yet (it runs pg_dump/pg_restore or renames); use a command task",
                a.state
            ))
            }
            other => {
                return Err(format!(
                    "value of state must be one of: absent, dump, present, rename, restore, got: {other}"
                ))
            }
        }
        if let Some(c) = a.conn_limit.as_ref().filter(|c| !c.is_empty()) {
            if c.trim().parse::<i64>().is_err() {
                return Err(format!("conn_limit must be a whole number (-1 for no limit), got: {c}"));
            }
        }
        super::check_common(
            &a.state,
            &["absent", "present"],
            &a.ssl_mode,
            a.login_password.as_deref(),
            &a.connect_params,
        )
    }

    async fn plan(&self, a: &Args, cx: &ModuleCtx<'_>) -> Result<Plan<()>, ModuleError> {
        let action = if a.state == "absent" { Action::Delete } else { Action::Create };
        crate::util::decide_while_acting(cx, action, "postgresql database", a.name.clone(), self.run(a, cx, true)).await
    }

    async fn apply(&self, a: &Args, _: (), cx: &ModuleCtx<'_>) -> Result<Outcome, ModuleError> {
        self.run(a, cx, false).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// community.postgresql writes `conn_limit` into the statement as given; prov takes only a
    /// number, and no password with a line break.
    #[test]
    fn a_connection_limit_is_a_number() {
        let args = |v: serde_json::Value| serde_json::from_value::<Args>(v).expect("args");
        assert!(PostgresqlDb::check_args(&args(serde_json::json!({"name": "d", "conn_limit": "5; DROP DATABASE x"})))
            .is_err());
        assert!(PostgresqlDb::check_args(&args(serde_json::json!({"name": "d", "conn_limit": 5}))).is_ok());
        assert!(PostgresqlDb::check_args(&args(serde_json::json!({"name": "d", "login_password": "a\nb"}))).is_err());
    }
}
